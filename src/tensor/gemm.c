/* Reference GEMM (placeholder until the blocked and BLAS variants land). */
#include "gemm.h"

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

void tg__gemm_f32(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                  int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    tg__gemm_f32_ref(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void tg__gemm_f64(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha,
                  const double *A, int64_t lda, const double *B, int64_t ldb, double beta,
                  double *C, int64_t ldc)
{
    tg__gemm_f64_ref(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
