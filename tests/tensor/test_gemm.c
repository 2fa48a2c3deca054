/* Every GEMM variant against the reference loop: f32 and f64, all transpose
 * combinations, empty/odd/block-crossing sizes, strided submatrices (ld larger than
 * needed), alpha != 1, beta in {0, 0.5, 1} with beta = 0 never reading C (NaN in C). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tensor/gemm.h"
#include "tapegrad.h"

static double frand(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) * 0x1.0p-53 * 2 - 1;
}

/* max |got - want| relative to sum_k |a||b| + |beta c| (the size of the terms) */
static bool close_enough(const double *got, const double *want, const double *scale, int64_t n,
                         double tol)
{
    for (int64_t i = 0; i < n; i++)
        if (!(fabs(got[i] - want[i]) <= tol * (scale[i] + 1e-30)))
            return false;
    return true;
}

static int64_t sizes[][3] = {{0, 5, 3}, {4, 0, 3}, {3, 4, 0}, {1, 1, 1},   {37, 53, 29},
                             {65, 1, 130}, {1, 300, 7}, {6, 16, 256}, {73, 129, 257}, {150, 40, 513}};

static void run(const tg__gemm_variant *v, bool f64, bool ta, bool tb, const int64_t *s, double alpha,
                double beta)
{
    int64_t M = s[0], N = s[1], K = s[2], pad = 3;
    int64_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    int64_t na = (ta ? K : M) * lda + 1, nb = (tb ? N : K) * ldb + 1, nc = M * ldc + 1;
    uint64_t seed = 42;
    double *A = malloc(sizeof(double) * (size_t)na), *B = malloc(sizeof(double) * (size_t)nb);
    double *C0 = malloc(sizeof(double) * (size_t)nc), *want = malloc(sizeof(double) * (size_t)nc);
    double *got = malloc(sizeof(double) * (size_t)nc), *scale = malloc(sizeof(double) * (size_t)nc);
    for (int64_t i = 0; i < na; i++)
        A[i] = frand(&seed);
    for (int64_t i = 0; i < nb; i++)
        B[i] = frand(&seed);
    for (int64_t i = 0; i < nc; i++)
        C0[i] = beta == 0 ? NAN : frand(&seed);
    for (int64_t i = 0; !f64 && i < nc; i++) /* f32 runs see these values rounded */
        C0[i] = (float)C0[i];
    for (int64_t i = 0; i < nc; i++) {
        int64_t r = i / ldc, c = i % ldc;
        double sc = beta == 0 ? 0 : fabs(beta * C0[i]);
        for (int64_t k = 0; r < M && c < N && k < K; k++)
            sc += fabs(alpha * (ta ? A[k * lda + r] : A[r * lda + k]) * (tb ? B[c * ldb + k] : B[k * ldb + c]));
        scale[i] = sc;
    }
    if (f64) {
        memcpy(want, C0, sizeof(double) * (size_t)nc);
        memcpy(got, C0, sizeof(double) * (size_t)nc);
        tg__gemm_f64_ref(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, want, ldc);
        v->f64(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, got, ldc);
    } else {
        float *fa = malloc(sizeof(float) * (size_t)na), *fb = malloc(sizeof(float) * (size_t)nb);
        float *fw = malloc(sizeof(float) * (size_t)nc), *fg = malloc(sizeof(float) * (size_t)nc);
        for (int64_t i = 0; i < na; i++)
            fa[i] = (float)A[i];
        for (int64_t i = 0; i < nb; i++)
            fb[i] = (float)B[i];
        for (int64_t i = 0; i < nc; i++)
            fw[i] = fg[i] = (float)C0[i];
        tg__gemm_f32_ref(ta, tb, M, N, K, (float)alpha, fa, lda, fb, ldb, (float)beta, fw, ldc);
        v->f32(ta, tb, M, N, K, (float)alpha, fa, lda, fb, ldb, (float)beta, fg, ldc);
        for (int64_t i = 0; i < nc; i++) {
            want[i] = fw[i];
            got[i] = fg[i];
        }
        free(fa);
        free(fb);
        free(fw);
        free(fg);
    }
    /* only C's M x N block is compared; the padding must stay as it was */
    bool ok = true, pad_ok = true;
    for (int64_t r = 0; r < M; r++) {
        ok &= close_enough(got + r * ldc, want + r * ldc, scale + r * ldc, N, f64 ? 1e-12 : 1e-5);
        for (int64_t c = N; c < ldc && r * ldc + c < nc; c++)
            pad_ok &= memcmp(&got[r * ldc + c], &C0[r * ldc + c], sizeof(double)) == 0 ||
                      (isnan(got[r * ldc + c]) && isnan(C0[r * ldc + c]));
    }
    CHECK(ok && pad_ok, "%s %s ta=%d tb=%d %lldx%lldx%lld alpha %g beta %g: %s", v->name,
          f64 ? "f64" : "f32", ta, tb, (long long)M, (long long)N, (long long)K, alpha, beta,
          ok ? "padding changed" : "wrong values");
    free(A);
    free(B);
    free(C0);
    free(want);
    free(got);
    free(scale);
}

int main(void)
{
    /* the comparison itself must be able to fail */
    double w[2] = {1, 2}, g[2] = {1, 2.001}, s[2] = {1, 1};
    CHECK(!close_enough(g, w, s, 2, 1e-5), "a perturbed result is rejected");
    for (const tg__gemm_variant *v = tg__gemm_variants; v->name; v++)
        for (int f64 = 0; f64 < 2; f64++)
            for (int t = 0; t < 4; t++)
                for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
                    double beta = (double)(i % 3) * 0.5; /* 0, 0.5, 1 */
                    run(v, f64, t & 1, t >> 1, sizes[i], i % 2 ? 1.0 : -0.75, beta);
                }
    return check_summary();
}
