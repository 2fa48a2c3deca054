/* GEMM dispatch: the reference loop (always built, the tests' oracle), BLAS or the
 * blocked kernel, and the split of large products across threads. */
#include "gemm.h"
#include "kernels.h"

#ifdef TG_HAVE_BLAS
#include <cblas.h>
#include <pthread.h>
#endif

#define REF_GEMM(T, NAME)                                                              \
    void NAME(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T *A,   \
              int64_t lda, const T *B, int64_t ldb, T beta, T *C, int64_t ldc)          \
    {                                                                                  \
        for (int64_t i = 0; i < M; i++)                                                \
            for (int64_t j = 0; j < N; j++) {                                          \
                T s = 0;                                                               \
                for (int64_t k = 0; k < K; k++)                                        \
                    s += (ta ? A[k * lda + i] : A[i * lda + k]) *                      \
                         (tb ? B[j * ldb + k] : B[k * ldb + j]);                       \
                C[i * ldc + j] = alpha * s + (beta == 0 ? 0 : beta * C[i * ldc + j]);  \
            }                                                                          \
    }
REF_GEMM(float, tg__gemm_f32_ref)
REF_GEMM(double, tg__gemm_f64_ref)

#ifdef TG_HAVE_BLAS
void openblas_set_num_threads(int n); /* OpenBLAS's own pool (not in every cblas.h) */

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

static void blas_pin(void) { openblas_set_num_threads(1); }

void tg__blas_single_thread(void) { pthread_once(&blas_once, blas_pin); }

static void blas_f32(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                     int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    tg__blas_single_thread();
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (int)M, (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}
static void blas_f64(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha,
                     const double *A, int64_t lda, const double *B, int64_t ldb, double beta,
                     double *C, int64_t ldc)
{
    tg__blas_single_thread();
    cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (int)M, (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}
#define KERNEL_F32 blas_f32
#define KERNEL_F64 blas_f64
#else
#define KERNEL_F32 tg__gemm_f32_blocked
#define KERNEL_F64 tg__gemm_f64_blocked
#endif

const tg__gemm_variant tg__gemm_variants[] = {
    {"reference", tg__gemm_f32_ref, tg__gemm_f64_ref},
    {"blocked", tg__gemm_f32_blocked, tg__gemm_f64_blocked},
    {"blocked-portable", tg__gemm_f32_blocked_portable, tg__gemm_f64_blocked_portable},
    {"blocked-avx2", tg__gemm_f32_blocked_avx2, tg__gemm_f64_blocked_avx2},
    {"blocked-avx512", tg__gemm_f32_blocked_avx512, tg__gemm_f64_blocked_avx512},
#ifdef TG_HAVE_BLAS
    {"blas", blas_f32, blas_f64},
#endif
    {NULL, NULL, NULL},
};

/* Threading: one pool for everything. BLAS runs single-threaded (pinned before its
 * first call, whether or not tg_set_num_threads is ever called: OpenBLAS's default of
 * one thread per core would make results depend on the machine) and a large product is split here into GEMM_PARTS blocks of rows (or
 * columns, whichever is longer), shared out over tapegrad's OpenMP threads, so BLAS and
 * the elementwise kernels never run two thread pools that spin against each other.
 *
 * The partition depends on the shape only, never on the thread count: OpenBLAS picks
 * its kernels (and so its summation order) by the size of each call, so a block of C
 * computed in a call of another size can differ in the last bits. With the same calls
 * at every thread count, 1 and 2 threads give the same bits (tests/tensor/
 * test_threads.c). With one thread the parts run one after the other (one more
 * packing of the shared operand, a few percent on a large product); more than
 * GEMM_PARTS threads do not speed up a single product. */
#define GEMM_PARTS 2

bool tg__gemm_splits(int64_t M, int64_t N, int64_t K)
{
    return tg__mul_sat(tg__mul_sat(M, N), K) >= TG__PAR_MIN_FLOPS && (M >= 32 || N >= 32);
}

#ifdef TG_HAVE_OPENMP
#define OMP_SPLIT _Pragma("omp parallel for num_threads(nt) schedule(static)")
#else
#define OMP_SPLIT
#endif

#define SPLIT_GEMM(T, KERNEL)                                                          \
    do {                                                                               \
        if (M <= 0 || N <= 0)                                                          \
            return;                                                                    \
        if (!tg__gemm_splits(M, N, K)) {                                               \
            KERNEL(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);              \
            return;                                                                    \
        }                                                                              \
        int nt = tg_num_threads() < GEMM_PARTS ? tg_num_threads() : GEMM_PARTS;        \
        (void)nt; /* unused without OpenMP */                                          \
        bool by_rows = M >= N;                                                         \
        int64_t len = by_rows ? M : N;                                                 \
        int64_t per = ((len + GEMM_PARTS - 1) / GEMM_PARTS + 15) / 16 * 16;            \
        OMP_SPLIT                                                                      \
        for (int p = 0; p < GEMM_PARTS; p++) {                                         \
            int64_t lo = p * per, n = len - lo < per ? len - lo : per;                 \
            if (n <= 0)                                                                \
                continue;                                                              \
            if (by_rows)                                                               \
                KERNEL(ta, tb, n, N, K, alpha, ta ? A + lo : A + lo * lda, lda, B, ldb, beta, \
                       C + lo * ldc, ldc);                                             \
            else                                                                       \
                KERNEL(ta, tb, M, n, K, alpha, A, lda, tb ? B + lo * ldb : B + lo, ldb, beta, \
                       C + lo, ldc);                                                   \
        }                                                                              \
    } while (0)

void tg__gemm_f32(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                  int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    SPLIT_GEMM(float, KERNEL_F32);
}

void tg__gemm_f64(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha,
                  const double *A, int64_t lda, const double *B, int64_t ldb, double beta,
                  double *C, int64_t ldc)
{
    SPLIT_GEMM(double, KERNEL_F64);
}
