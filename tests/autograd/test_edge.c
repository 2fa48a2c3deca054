/* Ops on edge inputs from issue 11: empty axes, shapes whose element count overflows,
 * unknown enum values. Each case crashed, read out of bounds or returned garbage with
 * no error before its fix. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tapegrad.h"
#include "check.h"

static tg_tensor *softmax_sum(tg_tape *t, tg_tensor *const *in, void *ctx)
{
    int axis = *(const int *)ctx;
    return tg_sum(t, tg_softmax(t, in[0], axis), 0, NULL, false);
}

static tg_tensor *log_softmax_sum(tg_tape *t, tg_tensor *const *in, void *ctx)
{
    int axis = *(const int *)ctx;
    return tg_sum(t, tg_log_softmax(t, in[0], axis), 0, NULL, false);
}

/* softmax / log-softmax over an empty axis: an empty output of x's shape (as PyTorch),
 * no read of the missing elements, and an empty gradient */
static void test_softmax_empty_axis(void)
{
    int64_t shapes[][2] = {{3, 0}, {0, 4}};
    for (int s = 0; s < 2; s++)
        for (int lg = 0; lg < 2; lg++)
            for (int axis = -1; axis <= 0; axis++) {
                tg_tensor *x = tg_zeros(TG_F64, 2, shapes[s]);
                tg_tensor_set_requires_grad(x, true);
                tg_tape *t = tg_tape_new();
                tg_tensor *y = lg ? tg_log_softmax(t, x, axis) : tg_softmax(t, x, axis);
                CHECK(y && tg_tensor_same_shape(y, x), "%s of [%lld,%lld] over axis %d: %s",
                      lg ? "log_softmax" : "softmax", (long long)shapes[s][0],
                      (long long)shapes[s][1], axis, y ? "wrong shape" : tg_tape_error(t));
                tg_tensor *l = tg_sum(t, y, 0, NULL, false);
                CHECK(tg_backward(t, l) == TG_OK, "backward: %s", tg_tape_error(t));
                CHECK(x->grad && tg_tensor_same_shape(x->grad, x), "empty gradient of x's shape");
                tg_tape_free(&t);
                tg_gradcheck_result r =
                    tg_gradcheck(lg ? log_softmax_sum : softmax_sum, &axis, 1, &x, NULL);
                CHECK(r.passed && r.status == TG_OK, "gradcheck: %s", r.message);
                tg_tensor_free(&x);
            }
    /* one empty row among others is still fine in F32 (the fused kernel path) */
    tg_tensor *x = tg_zeros(TG_F32, 3, (int64_t[]){2, 0, 5});
    tg_tape *t = tg_tape_new();
    CHECK(tg_softmax(t, x, 1) && tg_log_softmax(t, x, 1) && !tg_tape_failed(t),
          "[2,0,5] over the empty middle axis: %s", tg_tape_error(t));
    tg_tape_free(&t);
    tg_tensor_free(&x);
}

/* the value of a 1-element tape tensor, or NaN */
static double value(const tg_tensor *y, int64_t i)
{
    return y ? tg_tensor_get_flat(y, i) : NAN;
}

/* softmax / log-softmax shift by the row maximum: logits of +-1000 (exp overflows
 * without the shift) give exact, finite results, over the last axis (contiguous rows)
 * and over axis 0 (strided columns), in F64 and F32 */
static void test_softmax_large_logits(void)
{
    static const double v[3] = {1000.0, 0.0, -1000.0};
    static const double want_sm[3] = {1.0, 0.0, 0.0}, want_lsm[3] = {0.0, -1000.0, -2000.0};
    for (int dt = 0; dt < 2; dt++)
        for (int axis = 0; axis < 2; axis++)
            for (int lg = 0; lg < 2; lg++) {
                /* [1, 3] over axis 1, or [3, 1] over axis 0 */
                int64_t shape[2] = {axis ? 1 : 3, axis ? 3 : 1};
                tg_tensor *x = tg_zeros(dt ? TG_F32 : TG_F64, 2, shape);
                for (int64_t i = 0; x && i < 3; i++)
                    tg_tensor_set_flat(x, i, v[i]);
                tg_tape *t = tg_tape_new();
                tg_tensor *y = lg ? tg_log_softmax(t, x, axis) : tg_softmax(t, x, axis);
                const double *want = lg ? want_lsm : want_sm;
                for (int64_t i = 0; i < 3; i++)
                    CHECK(value(y, i) == want[i], "%s %s over axis %d of {1000, 0, -1000}: "
                          "element %lld is %g, want %g", dt ? "F32" : "F64",
                          lg ? "log_softmax" : "softmax", axis, (long long)i, value(y, i),
                          want[i]);
                tg_tape_free(&t);
                tg_tensor_free(&x);
            }
}

/* Every sum and mean accumulates in double: F32 results are the exact sums rounded
 * once, on every layout (contiguous axis 0, strided, several axes) */
static void test_sum_accumulates_in_double(void)
{
    /* 2^24 + 8 ones: a float accumulator stops at 2^24 */
    int64_t n = ((int64_t)1 << 24) + 8;
    tg_tensor *ones = tg_ones(TG_F32, 2, (int64_t[]){n, 1});
    tg_tape *t = tg_tape_new();
    double s0 = value(tg_sum(t, ones, 1, (int[]){0}, false), 0);
    double sall = value(tg_sum(t, ones, 0, NULL, false), 0);
    double m0 = value(tg_mean(t, ones, 1, (int[]){0}, false), 0);
    CHECK(s0 == (double)n, "sum over axis 0 of %lld ones: %.1f", (long long)n, s0);
    CHECK(sall == (double)n, "sum of all %lld ones: %.1f", (long long)n, sall);
    CHECK(m0 == 1.0, "mean over axis 0 of ones: %.9g", m0);
    tg_tensor *wide = tg_view_reshape(ones, 2, (int64_t[]){8, n / 8});
    tg_tensor *wt = tg_view_transpose(wide, 0, 1); /* [n/8, 8], strides (1, n/8) */
    double swt = value(tg_sum(t, wt, 0, NULL, false), 0);
    CHECK(swt == (double)n, "sum of a transposed view of ones: %.1f", swt);
    tg_tape_reset(t);

    /* 1 followed by 2^16 values of 2^-25: each is below half an ulp of 1 in float, so a
     * float running sum stays 1; the true sum is 1 + 2^-9 */
    int64_t M = (int64_t)1 << 16;
    tg_tensor *x = tg_full(TG_F32, 2, (int64_t[]){M + 1, 4}, 0x1p-25);
    for (int j = 0; j < 4; j++)
        tg_tensor_set(x, (int64_t[]){0, j}, 1.0);
    tg_tensor *y = tg_sum(t, x, 1, (int[]){0}, false); /* contiguous [N, C] over axis 0 */
    bool ok = y != NULL;
    for (int j = 0; ok && j < 4; j++)
        ok = value(y, j) == 1 + 0x1p-9;
    CHECK(ok, "sum over axis 0 of [1 + 2^16 tiny, 4]: %.9g, want %.9g", value(y, 0), 1 + 0x1p-9);
    double mean0 = value(tg_mean(t, x, 1, (int[]){0}, false), 0);
    CHECK(fabs(mean0 - (1 + 0x1p-9) / (double)(M + 1)) < 1e-6 * mean0, "mean over axis 0: %.9g",
          mean0);
    tg_tensor *x3 = tg_view_reshape(x, 3, (int64_t[]){M + 1, 2, 2});
    tg_tensor *y3 = tg_sum(t, x3, 2, (int[]){0, 2}, false); /* two reduced axes around a kept one */
    CHECK(value(y3, 0) == 2 + 0x1p-8 && value(y3, 1) == 2 + 0x1p-8,
          "sum over axes (0, 2): %.9g %.9g, want %.9g", value(y3, 0), value(y3, 1), 2 + 0x1p-8);
    tg_tensor *xt = tg_view_transpose(x, 0, 1); /* [4, M + 1] */
    tg_tensor *yt = tg_sum(t, xt, 1, (int[]){1}, false);
    CHECK(value(yt, 3) == 1 + 0x1p-9, "sum over a strided axis: %.9g", value(yt, 3));
    tg_tensor *yt0 = tg_sum(t, xt, 1, (int[]){0}, true); /* [1, M + 1], strided outputs */
    CHECK(yt0 && yt0->ndim == 2 && value(yt0, 0) == 4 && value(yt0, M) == 4 * 0x1p-25,
          "sum over the short axis of the transpose: %g %g", value(yt0, 0), value(yt0, M));
    tg_tape_free(&t);
    tg_tensor *all[] = {ones, wide, wt, x, x3, xt};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        tg_tensor_free(&all[i]);
}

/* the fused F32 cross-entropy (class labels, no weights) sums exp in double too: same
 * loss and gradient as the F64 path where a float sum would lose the small terms */
static void test_cross_entropy_accumulates_in_double(void)
{
    int64_t C = 100001;
    tg_tensor *z32 = tg_full(TG_F32, 2, (int64_t[]){1, C}, -17.4);
    tg_tensor_set(z32, (int64_t[]){0, 0}, 0.0);
    tg_tensor_set_requires_grad(z32, true);
    tg_tensor *z64 = tg_zeros(TG_F64, 2, (int64_t[]){1, C});
    tg_tensor_copy(z64, z32);
    tg_tensor_set_requires_grad(z64, true);
    tg_tensor *lab = tg_zeros(TG_I32, 1, (int64_t[]){1});
    tg_tape *t = tg_tape_new(), *t64 = tg_tape_new();
    tg_tensor *l32 = tg_softmax_cross_entropy(t, z32, lab, NULL);
    tg_tensor *l64 = tg_softmax_cross_entropy(t64, z64, lab, NULL);
    double want = value(l64, 0);
    CHECK(want > 0.0027 && fabs(value(l32, 0) - want) < 1e-6 * want, "f32 loss %.9g, f64 %.9g",
          value(l32, 0), want);
    CHECK(tg_backward(t, l32) == TG_OK && tg_backward(t64, l64) == TG_OK, "backward: %s",
          tg_tape_error(t));
    double g32 = tg_tensor_get_flat(z32->grad, 0), g64 = tg_tensor_get_flat(z64->grad, 0);
    CHECK(g64 < -0.0027 && fabs(g32 - g64) < 1e-5 * fabs(g64), "f32 gradient %.9g, f64 %.9g",
          g32, g64);
    tg_tape_free(&t);
    tg_tape_free(&t64);
    tg_tensor *all[] = {z32, z64, lab};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        tg_tensor_free(&all[i]);
}

/* tape views: expand / concat whose element counts overflow fail the tape (a sum of
 * [1,1] expanded to [2^40,2^40] returned 0 with TG_OK); a slice with a huge step takes
 * one element and its gradient lands there */
static void test_view_overflow(void)
{
    int64_t big = (int64_t)1 << 40;
    tg_tensor *one = tg_ones(TG_F64, 2, (int64_t[]){1, 1});
    tg_tensor_set_requires_grad(one, true);
    tg_tape *t = tg_tape_new();
    tg_tensor *s = tg_sum(t, tg_expand(t, one, 2, (int64_t[]){big, big}), 0, NULL, false);
    CHECK(!s && tg_tape_status(t) == TG_ESHAPE && strstr(tg_tape_error(t), "tg_expand") &&
              strstr(tg_tape_error(t), "overflow"),
          "sum of [1,1] expanded to [2^40,2^40]: %s", s ? "a value" : tg_tape_error(t));
    CHECK(tg_backward(t, s) == TG_ESHAPE, "backward reports it");
    tg_tape_reset(t);

    tg_tensor *v = tg_ones(TG_F64, 1, (int64_t[]){1});
    tg_tensor *half = tg_expand(t, v, 1, (int64_t[]){(int64_t)1 << 62});
    tg_tensor *parts[] = {half, half};
    CHECK(half && !tg_concat(t, 2, parts, 0) && tg_tape_status(t) == TG_ESHAPE &&
              strstr(tg_tape_error(t), "tg_concat"),
          "concat to 2^63 rows: %s", tg_tape_error(t));
    tg_tape_reset(t);

    tg_tensor *x = tg_arange(TG_F64, 0, 10, 1);
    tg_tensor_set_requires_grad(x, true);
    tg_tensor *y = tg_slice(t, x, (int64_t[]){3}, (int64_t[]){10}, (int64_t[]){INT64_MAX});
    CHECK(y && y->shape[0] == 1 && tg_tensor_get_flat(y, 0) == 3, "slice step 2^63-1: %s",
          y ? "wrong" : tg_tape_error(t));
    CHECK(tg_backward(t, tg_sum(t, y, 0, NULL, false)) == TG_OK, "backward: %s",
          tg_tape_error(t));
    bool ok = x->grad != NULL;
    for (int i = 0; ok && i < 10; i++)
        ok = tg_tensor_get_flat(x->grad, i) == (i == 3);
    CHECK(ok, "the gradient is one-hot at 3");
    tg_tape_free(&t);
    tg_tensor_free(&x);
    tg_tensor_free(&v);
    tg_tensor_free(&one);
}

int main(void)
{
    test_softmax_empty_axis();
    test_softmax_large_logits();
    test_sum_accumulates_in_double();
    test_cross_entropy_accumulates_in_double();
    test_view_overflow();
    return check_summary();
}
