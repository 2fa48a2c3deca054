/* Exact gradients where the rule is a convention, not a limit: at kinks (relu, leaky
 * relu, abs, l1_penalty, mae at 0; clamp at its bounds), at ties (max, max_pool2d: the
 * first maximum) and at the edge of pow_scalar (x = 0). Gradcheck cannot check these:
 * finite differences straddle the kink, so its inputs stay away from them. Each rule is
 * the one the header documents, checked on the kernels' fast path (small contiguous
 * tensors), their general path (transposed and broadcast views) and, for elementwise
 * ops, the long-row path of large tensors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tapegrad.h"
#include "check.h"

static tg_tensor *mk(int ndim, const int64_t *shape, const double *v)
{
    tg_tensor *x = tg_zeros(TG_F64, ndim, shape);
    for (int64_t i = 0; x && i < tg_tensor_numel(x); i++)
        tg_tensor_set_flat(x, i, v[i]);
    return x;
}

/* a [r, c] tensor holding v (row-major) as a transposed view of a [c, r] base */
static tg_tensor *mk_transposed(int64_t r, int64_t c, const double *v)
{
    tg_tensor *base = tg_zeros(TG_F64, 2, (int64_t[]){c, r});
    for (int64_t i = 0; base && i < r; i++)
        for (int64_t j = 0; j < c; j++)
            tg_tensor_set(base, (int64_t[]){j, i}, v[i * c + j]);
    tg_tensor *x = base ? tg_view_transpose(base, 0, 1) : NULL;
    tg_tensor_free(&base);
    return x;
}

/* the three layouts of a [2, 3] input */
enum { L_CONTIG, L_TRANSPOSED, L_STRIDED, L_COUNT };
static const char *layout_name[L_COUNT] = {"contiguous", "transposed view", "strided view"};

static tg_tensor *mk_layout(int layout, const double *v6)
{
    if (layout == L_CONTIG)
        return mk(2, (int64_t[]){2, 3}, v6);
    if (layout == L_TRANSPOSED)
        return mk_transposed(2, 3, v6);
    /* every other column of a [2, 6] base */
    tg_tensor *base = tg_zeros(TG_F64, 2, (int64_t[]){2, 6});
    for (int64_t i = 0; base && i < 6; i++)
        tg_tensor_set_flat(base, (i / 3) * 6 + (i % 3) * 2, v6[i]);
    tg_tensor *x = base ? tg_view_slice(base, (int64_t[]){0, 0}, (int64_t[]){2, 6},
                                        (int64_t[]){1, 2})
                        : NULL;
    tg_tensor_free(&base);
    return x;
}

typedef tg_tensor *(*unary_fn)(tg_tape *t, tg_tensor *x);

/* gradient of sum(w * f(x)) w.r.t. x with w = 1, 2, 3, ... (so a gradient routed to
 * the wrong element shows), row-major into g; false on failure */
static bool grad_of(unary_fn f, tg_tensor *x, double *g)
{
    tg_tape *t = tg_tape_new();
    tg_tensor_set_requires_grad(x, true);
    tg_tensor *y = f(t, x), *gx = NULL;
    tg_tensor *w = y ? tg_tape_zeros(t, TG_F64, y->ndim, y->shape) : NULL;
    for (int64_t i = 0; w && i < tg_tensor_numel(w); i++)
        tg_tensor_set_flat(w, i, (double)(i + 1));
    tg_tensor *l = w ? tg_sum(t, tg_mul(t, y, w), 0, NULL, false) : NULL;
    bool ok = l && tg_grad(t, l, NULL, 1, &x, &gx, NULL) == TG_OK;
    for (int64_t i = 0; ok && i < tg_tensor_numel(x); i++)
        g[i] = tg_tensor_get_flat(gx, i);
    if (!ok)
        fprintf(stderr, "grad_of: %s\n", tg_tape_error(t));
    tg_tape_free(&t);
    return ok;
}

static bool same(const double *a, const double *b, int64_t n, int64_t *bad)
{
    for (int64_t i = 0; i < n; i++)
        if (!(a[i] == b[i] || (isnan(a[i]) && isnan(b[i])))) {
            *bad = i;
            return false;
        }
    return true;
}

/* f's gradient at v (six values) equals want (the weights w_i = i + 1 folded in), in
 * every layout */
static void expect6(const char *what, unary_fn f, const double *v, const double *want)
{
    for (int l = 0; l < L_COUNT; l++) {
        tg_tensor *x = mk_layout(l, v);
        double g[6];
        int64_t bad = -1;
        bool ok = x && grad_of(f, x, g);
        CHECK(ok && same(g, want, 6, &bad), "%s (%s): gradient element %lld is %g, want %g", what,
              layout_name[l], (long long)bad, bad >= 0 ? g[bad] : NAN, bad >= 0 ? want[bad] : NAN);
        tg_tensor_free(&x);
    }
}

/* ---------------------------------------------------------- elementwise kinks */

static tg_tensor *f_relu(tg_tape *t, tg_tensor *x) { return tg_relu(t, x); }
static tg_tensor *f_leaky(tg_tape *t, tg_tensor *x) { return tg_leaky_relu(t, x, 0.25); }
static tg_tensor *f_leaky_neg(tg_tape *t, tg_tensor *x) { return tg_leaky_relu(t, x, -0.5); }
static tg_tensor *f_abs(tg_tape *t, tg_tensor *x) { return tg_abs(t, x); }
static tg_tensor *f_l1(tg_tape *t, tg_tensor *x) { return tg_l1_penalty(t, x, 3.0); }
static tg_tensor *f_clamp(tg_tape *t, tg_tensor *x) { return tg_clamp(t, x, -0.5, 1.5); }
static tg_tensor *f_mae(tg_tape *t, tg_tensor *x)
{
    /* for vm in test_elementwise_kinks, p - y = {0, 1, -1, 0, 0.5, -2} */
    static const double y[6] = {-1.0, 1.0, 0.0, 0.5, 0.0, 0.0};
    tg_tensor *yt = tg_tape_zeros(t, TG_F64, 2, (int64_t[]){2, 3});
    for (int i = 0; yt && i < 6; i++)
        tg_tensor_set_flat(yt, i, y[i]);
    return tg_mae(t, x, yt);
}

static void test_elementwise_kinks(void)
{
    static const double v[6] = {0.0, 2.0, -1.0, -0.0, 0.5, -2.0};
    /* relu: 1 where x > 0, 0 at 0 (header: "gradient 0 at 0"); weights 1..6 */
    expect6("relu at 0", f_relu, v, (double[]){0, 2, 0, 0, 5, 0});
    /* leaky relu: x > 0 ? 1 : alpha, so alpha at 0 (PyTorch likewise) */
    expect6("leaky_relu at 0", f_leaky, v, (double[]){0.25, 2, 0.75, 1.0, 5, 1.5});
    /* a negative alpha (accepted): the slope follows the sign of x, not of the output
     * (alpha x > 0 for x < 0) */
    expect6("leaky_relu with alpha -0.5", f_leaky_neg, v, (double[]){-0.5, 2, -1.5, -2, 5, -3});
    /* abs: sign(x), 0 at 0 */
    expect6("abs at 0", f_abs, v, (double[]){0, 2, -3, 0, 5, -6});
    /* l1_penalty: lambda sign(x), 0 at 0 (a scalar output: weight 1) */
    expect6("l1_penalty at 0", f_l1, v, (double[]){0, 3, -3, 0, 3, -3});
    /* mae: sign(p - y) / n, 0 where p == y (twice here) */
    static const double vm[6] = {-1.0, 2.0, -1.0, 0.5, 0.5, -2.0};
    const double s = 1.0 / 6;
    expect6("mae where p == y", f_mae, vm, (double[]){0, s, -s, 0, s, -s});
    /* clamp to [-0.5, 1.5]: gradient 1 where lo <= x <= hi, bounds included */
    static const double vc[6] = {-0.5, 1.5, -0.50000001, 1.50000001, 0.0, 3.0};
    expect6("clamp at its bounds", f_clamp, vc, (double[]){1, 2, 0, 0, 5, 0});
}

/* relu_backward(g, x) itself, with g or x broadcast: the mask is x > 0 (0 at 0) */
static void test_relu_backward_broadcast(void)
{
    tg_tape *t = tg_tape_new();
    tg_tensor *x = mk(2, (int64_t[]){2, 3}, (double[]){0.0, 1.0, -1.0, 2.0, 0.0, -0.0});
    tg_tensor *g_row = mk(2, (int64_t[]){1, 3}, (double[]){10, 20, 30});
    tg_tensor *g_col = mk(2, (int64_t[]){2, 1}, (double[]){10, 20});
    tg_tensor *x_col = mk(2, (int64_t[]){2, 1}, (double[]){0.0, 3.0});
    tg_tensor *g_full = mk(2, (int64_t[]){2, 3}, (double[]){1, 2, 3, 4, 5, 6});
    struct {
        const char *name;
        tg_tensor *g, *x;
        double want[6];
    } cases[] = {
        {"g [1,3] broadcast over rows", g_row, x, {0, 20, 0, 10, 0, 0}},
        {"g [2,1] broadcast over columns", g_col, x, {0, 10, 0, 20, 0, 0}},
        {"x [2,1] broadcast (x = 0 in row 0)", g_full, x_col, {0, 0, 0, 4, 5, 6}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        tg_tensor *y = tg_relu_backward(t, cases[k].g, cases[k].x);
        double got[6] = {0};
        int64_t bad = -1;
        bool ok = y && tg_tensor_numel(y) == 6;
        for (int i = 0; ok && i < 6; i++)
            got[i] = tg_tensor_get_flat(y, i);
        CHECK(ok && same(got, cases[k].want, 6, &bad), "relu_backward %s: element %lld is %g",
              cases[k].name, (long long)bad, bad >= 0 ? got[bad] : NAN);
    }
    tg_tape_free(&t);
    tg_tensor_free(&x);
    tg_tensor_free(&g_row);
    tg_tensor_free(&g_col);
    tg_tensor_free(&x_col);
    tg_tensor_free(&g_full);
}

/* tensors long enough for the kernels' long-row (split) path: zeros every 7th element */
static void test_large_kinks(void)
{
    int64_t n = 3 * 16384 + 5;
    tg_tensor *x = tg_zeros(TG_F64, 1, &n);
    for (int64_t i = 0; i < n; i++)
        tg_tensor_set_flat(x, i, i % 7 == 0 ? 0.0 : (i % 2 ? 1.0 : -1.0) * (double)(i % 5 + 1));
    unary_fn fs[3] = {f_relu, f_abs, f_l1};
    const char *names[3] = {"relu", "abs", "l1_penalty"};
    double *g = malloc(sizeof(double) * (size_t)n);
    for (int k = 0; k < 3 && g; k++) {
        bool ok = grad_of(fs[k], x, g);
        int64_t bad = -1;
        for (int64_t i = 0; ok && i < n && bad < 0; i++) {
            double v = tg_tensor_get_flat(x, i), w = k == 2 ? 3.0 : (double)(i + 1);
            double want = k == 0 ? (v > 0 ? w : 0) : (v > 0 ? w : v < 0 ? -w : 0);
            if (g[i] != want)
                bad = i;
        }
        CHECK(ok && bad < 0, "%s over %lld elements: gradient at %lld is %g", names[k],
              (long long)n, (long long)bad, bad >= 0 ? g[bad] : NAN);
    }
    free(g);
    tg_tensor_free(&x);
}

/* ------------------------------------------------------------------ ties */

static tg_tensor *f_max_last(tg_tape *t, tg_tensor *x) { return tg_max(t, x, -1, false); }
static tg_tensor *f_max_first(tg_tape *t, tg_tensor *x) { return tg_max(t, x, 0, true); }

static void test_max_ties(void)
{
    /* rows {3, 1, 3} and {-2, -2, -5}: ties; the gradient goes to the first maximum */
    static const double v[6] = {3, 1, 3, -2, -2, -5};
    expect6("max over the last axis, ties", f_max_last, v, (double[]){1, 0, 0, 2, 0, 0});
    /* columns {3,-2} {1,-2} {3,-5} have no ties; use a tied pair of rows instead */
    static const double v2[6] = {4, 1, -1, 4, 1, -1};
    expect6("max over axis 0, tied rows", f_max_first, v2, (double[]){1, 2, 3, 0, 0, 0});

    /* tg_argmax_mask itself on a transposed view: 1 at the first maximum only */
    tg_tape *t = tg_tape_new();
    tg_tensor *x = mk_transposed(2, 3, v);
    tg_tensor *m = tg_argmax_mask(t, x, 1);
    double got[6] = {0}, want[6] = {1, 0, 0, 1, 0, 0};
    int64_t bad = -1;
    for (int i = 0; m && i < 6; i++)
        got[i] = tg_tensor_get_flat(m, i);
    CHECK(m && same(got, want, 6, &bad), "argmax_mask with ties: element %lld", (long long)bad);
    tg_tape_free(&t);
    tg_tensor_free(&x);
}

/* max_pool2d over planes with tied maxima; the gradient goes to the first maximum of
 * each window in row-major order */
typedef struct {
    int64_t k[2], s[2], p[2];
} pool_args;
static pool_args pa;
static tg_tensor *f_pool(tg_tape *t, tg_tensor *x) { return tg_max_pool2d(t, x, pa.k, pa.s, pa.p); }

static void pool_case(const char *what, bool transposed, const double *plane, int64_t H,
                      int64_t W, const double *want)
{
    tg_tensor *x;
    if (transposed) { /* a [1,1,H,W] view whose last two axes are swapped */
        tg_tensor *base = tg_zeros(TG_F64, 4, (int64_t[]){1, 1, W, H});
        for (int64_t i = 0; i < H; i++)
            for (int64_t j = 0; j < W; j++)
                tg_tensor_set(base, (int64_t[]){0, 0, j, i}, plane[i * W + j]);
        x = tg_view_transpose(base, 2, 3);
        tg_tensor_free(&base);
    } else {
        x = mk(4, (int64_t[]){1, 1, H, W}, plane);
    }
    double g[64];
    int64_t bad = -1;
    bool ok = x && grad_of(f_pool, x, g);
    CHECK(ok && same(g, want, H * W, &bad), "%s: gradient element %lld is %g, want %g", what,
          (long long)bad, bad >= 0 ? g[bad] : NAN, bad >= 0 ? want[bad] : NAN);
    tg_tensor_free(&x);
}

static void test_max_pool_ties(void)
{
    /* a 4x4 plane, 2x2 windows: window 0 all 5s, window 1 {2,7,7,1} ties on its second
     * and third, window 2 {-1,-1,-1,-3}, window 3 {0,4,4,4}; weights 1..4 per window */
    static const double plane[16] = {5, 5, 2, 7, 5, 5, 7, 1, -1, -1, 0, 4, -1, -3, 4, 4};
    static const double want[16] = {1, 0, 0, 2, 0, 0, 0, 0, 3, 0, 0, 4, 0, 0, 0, 0};
    pa = (pool_args){{2, 2}, {2, 2}, {0, 0}};
    pool_case("max_pool2d 2x2 ties (fast path)", false, plane, 4, 4, want);
    pool_case("max_pool2d 2x2 ties, transposed x (general path)", true, plane, 4, 4, want);
    /* padding 1, kernel 3, stride 3 on 4x4: windows rows {-1..1, 2..4} x cols the same;
     * padding never wins, so the same first maxima over the clipped windows:
     * window (0,0) = rows 0-1 x cols 0-1 -> 5 at (0,0); (0,1) = rows 0-1 x cols 2-3 ->
     * 7 at (0,3); (1,0) = rows 2-3 x cols 0-1 -> -1 at (2,0); (1,1) -> 4 at (2,3) */
    pa = (pool_args){{3, 3}, {3, 3}, {1, 1}};
    pool_case("max_pool2d 3x3 padding 1 ties (general path)", false, plane, 4, 4, want);
    /* overlapping windows (2x2, stride 1) over a constant plane: each window's first
     * element gets its weight */
    static const double flat[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    static const double wflat[9] = {1, 2, 0, 3, 4, 0, 0, 0, 0};
    pa = (pool_args){{2, 2}, {1, 1}, {0, 0}};
    pool_case("max_pool2d overlapping windows on a constant plane", false, flat, 3, 3, wflat);
    pool_case("max_pool2d overlapping windows, transposed", true, flat, 3, 3, wflat);
}

/* ------------------------------------------------------------ pow at 0 */

/* d/dx x^p = p x^(p-1), and 0 for p = 0 (the derivative of the constant 1, PyTorch
 * likewise); d2/dx2 the same rule applied again. Values from PyTorch 1.13 (float64):
 * torch.autograd.grad of x.pow(p).sum() at x = (0, -0, 2), then of that gradient's sum:
 *   p = 0:   grad (0, 0, 0)              (second: none, the gradient is constant)
 *   p = 1:   grad (1, 1, 1)              second (0, 0, 0)
 *   p = 2:   grad (0, -0, 4)             second (2, 2, 2)
 *   p = 3:   grad (0, 0, 12)             second (0, -0, 12)
 *   p = -1:  grad (-inf, -inf, -0.25)    second (inf, -inf, 0.25)
 * and at x = (0, 2, 4):
 *   p = 0.5: grad (inf, 0.35355339059327373, 0.25)
 *            second (-inf, -0.08838834764831845, -0.03125) */
typedef struct {
    double p;
    double g[3], h[3];
    double x[3];
} pow_case;

/* equal (infinities and zeros exactly), or finite and within 1e-15 relative: pow's last
 * bit is the C library's */
static bool pow_same(const double *a, const double *b, int64_t *bad)
{
    for (int64_t i = 0; i < 3; i++)
        if (!(a[i] == b[i] ||
              (isfinite(b[i]) && b[i] != 0 && fabs(a[i] - b[i]) <= 1e-15 * fabs(b[i])))) {
            *bad = i;
            return false;
        }
    return true;
}

static void test_pow_at_zero(void)
{
    static const pow_case cases[] = {
        {0, {0, 0, 0}, {0, 0, 0}, {0.0, -0.0, 2.0}},
        {1, {1, 1, 1}, {0, 0, 0}, {0.0, -0.0, 2.0}},
        {2, {0, -0.0, 4}, {2, 2, 2}, {0.0, -0.0, 2.0}},
        {3, {0, 0, 12}, {0, -0.0, 12}, {0.0, -0.0, 2.0}},
        {-1, {-INFINITY, -INFINITY, -0.25}, {INFINITY, -INFINITY, 0.25}, {0.0, -0.0, 2.0}},
        {0.5, {INFINITY, 0.35355339059327373, 0.25}, {-INFINITY, -0.08838834764831845, -0.03125},
         {0, 2, 4}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const pow_case *c = &cases[k];
        tg_tensor *x = mk(1, (int64_t[]){3}, c->x);
        tg_tensor_set_requires_grad(x, true);
        tg_tape *t = tg_tape_new();
        tg_backward_opts o = tg_backward_defaults();
        o.create_graph = true;
        tg_tensor *y = tg_sum(t, tg_pow_scalar(t, x, c->p), 0, NULL, false), *g = NULL, *h = NULL;
        bool ok = y && tg_grad(t, y, NULL, 1, &x, &g, &o) == TG_OK;
        double gv[3] = {NAN, NAN, NAN}, hv[3] = {0, 0, 0};
        for (int i = 0; ok && i < 3; i++)
            gv[i] = tg_tensor_get_flat(g, i);
        tg_tensor *gs = ok ? tg_sum(t, g, 0, NULL, false) : NULL;
        if (gs && tg_tensor_requires_grad(gs)) {
            ok = tg_grad(t, gs, NULL, 1, &x, &h, NULL) == TG_OK;
            for (int i = 0; ok && i < 3; i++)
                hv[i] = tg_tensor_get_flat(h, i);
        }
        int64_t bad = -1;
        CHECK(ok && pow_same(gv, c->g, &bad),
              "pow(x, %g): gradient element %lld is %.17g, want %.17g", c->p,
              (long long)bad, bad >= 0 ? gv[bad] : NAN, bad >= 0 ? c->g[bad] : NAN);
        bad = -1;
        CHECK(ok && pow_same(hv, c->h, &bad),
              "pow(x, %g): second derivative element %lld is %.17g, want %.17g", c->p,
              (long long)bad, bad >= 0 ? hv[bad] : NAN, bad >= 0 ? c->h[bad] : NAN);
        tg_tape_free(&t);
        tg_tensor_free(&x);
    }
}

int main(void)
{
    test_elementwise_kinks();
    test_relu_backward_broadcast();
    test_large_kinks();
    test_max_ties();
    test_max_pool_ties();
    test_pow_at_zero();
    return check_summary();
}
