/* Matrix-multiply kernels (row-major): C = alpha op(A) op(B) + beta C. */
#ifndef TG_GEMM_H
#define TG_GEMM_H

#include <stdbool.h>
#include <stdint.h>

typedef void (*tg__gemm_f32_fn)(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                                const float *A, int64_t lda, const float *B, int64_t ldb,
                                float beta, float *C, int64_t ldc);
typedef void (*tg__gemm_f64_fn)(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha,
                                const double *A, int64_t lda, const double *B, int64_t ldb,
                                double beta, double *C, int64_t ldc);

void tg__gemm_f32_ref(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                      const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                      float *C, int64_t ldc);
void tg__gemm_f64_ref(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha,
                      const double *A, int64_t lda, const double *B, int64_t ldb, double beta,
                      double *C, int64_t ldc);
/* the built-in packed, register-blocked kernel (AVX2+FMA clone chosen at run time on
 * x86-64: AVX-512 or AVX2+FMA when the CPU has them) */
void tg__gemm_f32_blocked(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                          const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                          float *C, int64_t ldc);
void tg__gemm_f64_blocked(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha,
                          const double *A, int64_t lda, const double *B, int64_t ldb,
                          double beta, double *C, int64_t ldc);
#define TG__BLOCKED_BUILD(ISA)                                                         \
    void tg__gemm_f32_blocked_##ISA(bool ta, bool tb, int64_t M, int64_t N, int64_t K,   \
                                    float alpha, const float *A, int64_t lda,           \
                                    const float *B, int64_t ldb, float beta, float *C,  \
                                    int64_t ldc);                                       \
    void tg__gemm_f64_blocked_##ISA(bool ta, bool tb, int64_t M, int64_t N, int64_t K,   \
                                    double alpha, const double *A, int64_t lda,         \
                                    const double *B, int64_t ldb, double beta, double *C, \
                                    int64_t ldc);
/* one build of the blocked kernel each (an ISA the CPU lacks falls back to portable) */
TG__BLOCKED_BUILD(portable)
TG__BLOCKED_BUILD(avx2)
TG__BLOCKED_BUILD(avx512)

/* every built variant, for the tests; the list ends with a NULL name */
typedef struct {
    const char *name;
    tg__gemm_f32_fn f32;
    tg__gemm_f64_fn f64;
} tg__gemm_variant;
extern const tg__gemm_variant tg__gemm_variants[];

/* The library's products: BLAS when built with it, else the blocked kernel; large
 * products are split across tg_num_threads() threads by rows or columns. */
void tg__gemm_f32(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                  int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
void tg__gemm_f64(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha,
                  const double *A, int64_t lda, const double *B, int64_t ldb, double beta,
                  double *C, int64_t ldc);
/* BLAS builds: pins OpenBLAS to one thread, once per process (every BLAS call goes
 * through it first); tapegrad splits products across its own threads instead */
void tg__blas_single_thread(void);
/* whether tg__gemm_* cuts an M x N x K product into parts (by its shape alone; the parts
 * are shared out over the threads, or run in turn on one) */
bool tg__gemm_splits(int64_t M, int64_t N, int64_t K);
/* minimum flops of a product (or of a batch of products) worth splitting across threads */
#define TG__PAR_MIN_FLOPS ((int64_t)1 << 21)

#endif
