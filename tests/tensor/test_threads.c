/* The threaded code paths with 1 and 2 threads: the GEMM split (by rows and by
 * columns, every transpose combination, f32 and f64) against the reference loop,
 * the split elementwise kernels (unary and binary, with their backward) and the
 * optimizer's split update, each bitwise equal across thread counts. Also run under
 * ThreadSanitizer in CI (suite 'threads'), where a race between the chunks fails. */
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

/* C = A B through the dispatcher (split across nt threads when large) vs the reference */
static void gemm_split(bool f64, bool ta, bool tb, int64_t M, int64_t N, int64_t K)
{
    size_t na = (size_t)(M * K), nb = (size_t)(K * N), nc = (size_t)(M * N);
    double *A = malloc(na * sizeof *A), *B = malloc(nb * sizeof *B);
    double *want = calloc(nc, sizeof *want), *got[2] = {calloc(nc, sizeof(double)),
                                                        calloc(nc, sizeof(double))};
    float *fa = malloc(na * sizeof *fa), *fb = malloc(nb * sizeof *fb);
    float *fw = calloc(nc, sizeof *fw), *fg[2] = {calloc(nc, sizeof(float)),
                                                   calloc(nc, sizeof(float))};
    uint64_t seed = 7;
    for (size_t i = 0; i < na; i++)
        fa[i] = (float)(A[i] = frand(&seed));
    for (size_t i = 0; i < nb; i++)
        fb[i] = (float)(B[i] = frand(&seed));
    int64_t lda = ta ? M : K, ldb = tb ? K : N;
    if (f64)
        tg__gemm_f64_ref(ta, tb, M, N, K, 1.0, A, lda, B, ldb, 0.0, want, N);
    else
        tg__gemm_f32_ref(ta, tb, M, N, K, 1.0f, fa, lda, fb, ldb, 0.0f, fw, N);
    for (int k = 0; k < 2; k++) {
        tg_set_num_threads(k + 1);
        if (f64)
            tg__gemm_f64(ta, tb, M, N, K, 1.0, A, lda, B, ldb, 0.0, got[k], N);
        else
            tg__gemm_f32(ta, tb, M, N, K, 1.0f, fa, lda, fb, ldb, 0.0f, fg[k], N);
    }
    tg_set_num_threads(1);
    double worst = 0;
    bool same = true;
    for (size_t i = 0; i < nc; i++) {
        double w = f64 ? want[i] : fw[i], g = f64 ? got[1][i] : fg[1][i];
        worst = fmax(worst, fabs(g - w) / sqrt((double)K));
        same &= f64 ? got[0][i] == got[1][i] : fg[0][i] == fg[1][i];
    }
    CHECK(worst < (f64 ? 1e-13 : 1e-5) && same,
          "gemm %s ta=%d tb=%d %lldx%lldx%lld: 2 threads off the reference by %g, %s",
          f64 ? "f64" : "f32", ta, tb, (long long)M, (long long)N, (long long)K, worst,
          same ? "equal to 1 thread" : "differs from 1 thread");
    free(A);
    free(B);
    free(want);
    free(got[0]);
    free(got[1]);
    free(fa);
    free(fb);
    free(fw);
    free(fg[0]);
    free(fg[1]);
}

/* y = exp(x) * x + x / 3 on [2^17] and its gradient, split into chunks */
static void elementwise(tg_dtype dt, uint64_t h[2][2])
{
    for (int k = 0; k < 2; k++) {
        tg_set_num_threads(k + 1);
        tg_tensor *x = tg_rand_normal(dt, 1, (int64_t[]){1 << 17}, 0, 1, 3, 0);
        tg_tensor_set_requires_grad(x, true);
        tg_tape *t = tg_tape_new();
        tg_tensor *y = tg_add(t, tg_mul(t, tg_exp(t, x), x), tg_mul_scalar(t, x, 1.0 / 3));
        CHECK(tg_backward(t, tg_sum(t, y, 0, NULL, false)) == TG_OK, "backward: %s",
              tg_tape_error(t));
        h[k][0] = tg_tensor_hash(y);
        h[k][1] = tg_tensor_hash(x->grad);
        /* one element against the formula, so a chunk left unwritten is caught */
        double x5 = tg_tensor_get_flat(x, 99999), y5 = tg_tensor_get_flat(y, 99999);
        CHECK(fabs(y5 - (exp(x5) * x5 + x5 / 3)) < 1e-5 * (1 + fabs(y5)), "y[99999] = %g", y5);
        tg_tape_free(&t);
        tg_tensor_free(&x);
    }
    tg_set_num_threads(1);
}

/* three Adam steps on a [256, 512] parameter (split into one chunk per thread) */
static uint64_t adam(int threads)
{
    tg_set_num_threads(threads);
    tg_tensor *p = tg_rand_normal(TG_F32, 2, (int64_t[]){256, 512}, 0, 1, 5, 0);
    tg_tensor *q = tg_rand_normal(TG_F32, 2, (int64_t[]){256, 512}, 0, 1, 5, 1);
    tg_tensor_set_requires_grad(p, true);
    tg_optim *o = tg_adam_new(1, &p, NULL);
    tg_tape *t = tg_tape_new();
    CHECK(tg_backward(t, tg_sum(t, tg_mul(t, p, q), 0, NULL, false)) == TG_OK, "backward");
    double p0 = tg_tensor_get_flat(p, 131071);
    for (int i = 0; i < 3; i++)
        CHECK(tg_optim_step(o) == TG_OK, "step");
    /* Adam's first steps move each weight by about lr against its gradient's sign */
    double moved = tg_tensor_get_flat(p, 131071) - p0, g = tg_tensor_get_flat(q, 131071);
    CHECK(fabs(fabs(moved) - 3e-3) < 1e-4 && moved * g < 0, "last element moved by %g", moved);
    uint64_t h = tg_tensor_hash(p);
    tg_tape_free(&t);
    tg_optim_free(&o);
    tg_tensor_free(&p);
    tg_tensor_free(&q);
    tg_set_num_threads(1);
    return h;
}

int main(void)
{
    /* [M, N, K]: rows split (M >= N), columns split (N > M) */
    const int64_t sizes[][3] = {{300, 70, 130}, {66, 257, 190}};
    for (int f64 = 0; f64 < 2; f64++)
        for (int t = 0; t < 4; t++)
            for (int s = 0; s < 2; s++)
                gemm_split(f64, t & 1, t >> 1, sizes[s][0], sizes[s][1], sizes[s][2]);
    /* products of many shapes above the split threshold, including odd sizes whose
     * parts end in BLAS's edge kernels: the partition must not depend on the thread
     * count (OpenBLAS rounds a block differently when it is part of a call of another
     * size, which made 1 and 2 threads differ for about 1 shape in 3 in f64) */
    uint64_t rs = 11;
    for (int i = 0, done = 0; done < 24 && i < 1000; i++) {
        int64_t M = 16 + (int64_t)((frand(&rs) + 1) * 150), N = 16 + (int64_t)((frand(&rs) + 1) * 150);
        int64_t K = 16 + (int64_t)((frand(&rs) + 1) * 150);
        if (M * N * K < ((int64_t)1 << 21))
            continue;
        gemm_split(done & 1, (done >> 1) & 1, (done >> 2) & 1, M, N, K);
        done++;
    }
    for (int d = 0; d < 2; d++) {
        uint64_t h[2][2];
        elementwise(d ? TG_F64 : TG_F32, h);
        CHECK(h[0][0] == h[1][0] && h[0][1] == h[1][1],
              "%s elementwise forward and backward: 1 and 2 threads give the same bits",
              d ? "f64" : "f32");
    }
    CHECK(adam(1) == adam(2), "Adam's split update: 1 and 2 threads give the same bits");
    return check_summary();
}
