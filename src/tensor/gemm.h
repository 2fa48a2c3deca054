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
void tg__gemm_f32(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                  int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
void tg__gemm_f64(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha,
                  const double *A, int64_t lda, const double *B, int64_t ldb, double beta,
                  double *C, int64_t ldc);

#endif
