/* Loss values and gradients against references computed here, independently of the
 * library: every loss's forward and its gradient w.r.t. the input are recomputed with
 * plain double loops written from the documented (PyTorch) formula, and the cases where
 * tapegrad once differed from PyTorch hold PyTorch's value as a literal constant (the
 * formula beside it). Forward and backward share code in the library, so gradcheck
 * alone cannot see a wrong formula; these can. Also: targets (and class weights) are
 * constants at every order of differentiation. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tapegrad.h"
#include "check.h"

#define MAXN 64

static tg_tensor *mk(tg_dtype dt, int ndim, const int64_t *shape, const double *v)
{
    tg_tensor *x = tg_zeros(dt, ndim, shape);
    for (int64_t i = 0; x && i < tg_tensor_numel(x); i++)
        tg_tensor_set_flat(x, i, v[i]);
    return x;
}

static tg_tensor *labels_of(int64_t n, const int *y)
{
    tg_tensor *t = tg_zeros(TG_I32, 1, &n);
    for (int64_t i = 0; t && i < n; i++)
        tg_tensor_set_flat(t, i, y[i]);
    return t;
}

/* relative-or-absolute closeness */
static bool near(double a, double b, double tol)
{
    return fabs(a - b) <= tol * fmax(1.0, fabs(b));
}

static bool all_near(const double *a, const double *b, int64_t n, double tol, int64_t *bad)
{
    for (int64_t i = 0; i < n; i++)
        if (!near(a[i], b[i], tol)) {
            *bad = i;
            return false;
        }
    return true;
}

/* a loss of x (the other arguments in ctx) */
typedef tg_tensor *(*loss_fn)(tg_tape *t, tg_tensor *x, void *ctx);

/* value and gradient of f at x; false if anything failed */
static bool value_grad(loss_fn f, tg_tensor *x, void *ctx, double *val, double *grad)
{
    tg_tape *t = tg_tape_new();
    tg_tensor_set_requires_grad(x, true);
    tg_tensor *l = f(t, x, ctx), *g = NULL;
    bool ok = l && tg_tensor_numel(l) == 1 && tg_grad(t, l, NULL, 1, &x, &g, NULL) == TG_OK;
    if (ok) {
        *val = tg_tensor_get_flat(l, 0);
        for (int64_t i = 0; i < tg_tensor_numel(x); i++)
            grad[i] = tg_tensor_get_flat(g, i);
    } else {
        fprintf(stderr, "loss failed: %s\n", tg_tape_error(t));
    }
    tg_tape_free(&t);
    return ok;
}

/* checks f at x against the reference value and gradient */
static void expect(const char *what, loss_fn f, tg_tensor *x, void *ctx, double want,
                   const double *want_grad, double tol)
{
    double val = NAN, grad[MAXN];
    int64_t n = tg_tensor_numel(x), bad = -1;
    bool ok = value_grad(f, x, ctx, &val, grad);
    CHECK(ok && near(val, want, tol), "%s: loss %.12g, reference %.12g", what, val, want);
    CHECK(ok && all_near(grad, want_grad, n, tol, &bad), "%s: gradient element %lld: %.12g, reference %.12g",
          what, (long long)bad, bad >= 0 ? grad[bad] : NAN, bad >= 0 ? want_grad[bad] : NAN);
}

/* ------------------------------------------------------ softmax cross-entropy */

/* PyTorch's F.cross_entropy(z, target, weight=w, label_smoothing=eps), reduction 'mean':
 * with logp = log_softmax(z) and the per-row class coefficients
 *   class indices y:  a_ic = (1-eps) w[y_i] [c == y_i] + (eps/C) w[c],  D = sum_i w[y_i]
 *   probabilities y:  a_ic = w[c] ((1-eps) y_ic + eps/C),               D = N
 * (w = 1 when absent), loss = sum_ic a_ic (-logp_ic) / D and, since
 * d(-logp_ic)/dz_ik = p_ik - [k == c], dloss/dz_ik = sum_c a_ic (p_ik - [k == c]) / D. */
static double ce_ref(const double *z, int64_t N, int64_t C, const int *y, const double *ydense,
                     const double *w, double eps, double *grad)
{
    double loss = 0, D = 0, a[MAXN];
    for (int64_t i = 0; i < N; i++) {
        const double *zi = z + i * C;
        double m = zi[0], s = 0, p[MAXN];
        for (int64_t k = 1; k < C; k++)
            m = fmax(m, zi[k]);
        for (int64_t k = 0; k < C; k++)
            s += exp(zi[k] - m);
        for (int64_t k = 0; k < C; k++)
            p[k] = exp(zi[k] - m) / s;
        for (int64_t c = 0; c < C; c++) {
            double wc = w ? w[c] : 1.0;
            if (y)
                a[c] = (c == y[i] ? (1 - eps) * (w ? w[y[i]] : 1.0) : 0.0) + eps / (double)C * wc;
            else
                a[c] = wc * ((1 - eps) * ydense[i * C + c] + eps / (double)C);
            loss += a[c] * -log(p[c]);
        }
        for (int64_t k = 0; k < C; k++) {
            double gk = 0;
            for (int64_t c = 0; c < C; c++)
                gk += a[c] * (p[k] - (k == c ? 1.0 : 0.0));
            grad[i * C + k] = gk;
        }
        D += y ? (w ? w[y[i]] : 1.0) : 1.0;
    }
    for (int64_t i = 0; i < N * C; i++)
        grad[i] /= D;
    return loss / D;
}

typedef struct {
    const tg_tensor *y;
    tg_ce_opts o;
} ce_ctx;

static tg_tensor *f_ce(tg_tape *t, tg_tensor *x, void *ctx)
{
    ce_ctx *c = ctx;
    return tg_softmax_cross_entropy(t, x, c->y, &c->o);
}

static const double Z[12] = {0.2, -1.3, 0.7, 2.1, 1.5, 0.3, -0.4, 0.0, -0.8, 0.9, 0.1, -2.0};
static const int Y[3] = {2, 0, 3};
static const double W[4] = {0.5, 1.0, 2.0, 1.5};
/* probability rows that do not sum to 1 (1.2, 0.7, 1.0) */
static const double YD[12] = {0.1, 0.2, 0.6, 0.3, 0.5, 0.0, 0.1, 0.1, 0.25, 0.25, 0.25, 0.25};

static void test_softmax_ce(void)
{
    int64_t zs[2] = {3, 4};
    tg_tensor *z = mk(TG_F64, 2, zs, Z), *y = labels_of(3, Y), *yd = mk(TG_F64, 2, zs, YD);
    tg_tensor *w = mk(TG_F64, 1, (int64_t[]){4}, W);
    double ref[12], want;
    struct {
        const char *name;
        bool dense, weighted;
        double eps;
    } cases[] = {
        {"sparse", false, false, 0},          {"sparse, weights", false, true, 0},
        {"sparse, smoothing", false, false, 0.2}, {"sparse, weights + smoothing", false, true, 0.2},
        {"dense", true, false, 0},            {"dense, weights", true, true, 0},
        {"dense, smoothing", true, false, 0.2}, {"dense, weights + smoothing", true, true, 0.2},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        ce_ctx c = {.y = cases[k].dense ? yd : y, .o = tg_ce_defaults()};
        c.o.label_smoothing = cases[k].eps;
        c.o.weights = cases[k].weighted ? w : NULL;
        want = ce_ref(Z, 3, 4, cases[k].dense ? NULL : Y, YD, cases[k].weighted ? W : NULL,
                      cases[k].eps, ref);
        char what[96];
        snprintf(what, sizeof what, "softmax_cross_entropy %s", cases[k].name);
        expect(what, f_ce, z, &c, want, ref, 1e-12);
    }

    /* PyTorch 1.13 (float64), the same z, y, w, computed once:
     * F.cross_entropy(z, y, weight=w, label_smoothing=0.2) = 2.133565168393106, i.e.
     * with logp = log_softmax(z): sum_i [0.8 w[y_i] (-logp[i,y_i]) + (0.2/4) sum_c w[c]
     * (-logp[i,c])] / sum_i w[y_i] (= 4.5). Weighting the smoothing term by w[y_i]
     * instead of w[c] (the old tapegrad) gives 2.1666848254888262. Row 0 of z.grad
     * from the same call is pt_g0. */
    static const double pt_g0[4] = {0.04214007085345786, -0.0017027157408740848,
                                    -0.3452182608932178, 0.304780905780634};
    ce_ctx c = {.y = y, .o = tg_ce_defaults()};
    c.o.weights = w;
    c.o.label_smoothing = 0.2;
    double g[12], v = NAN;
    int64_t bad = -1;
    bool ok = value_grad(f_ce, z, &c, &v, g);
    CHECK(ok && near(v, 2.133565168393106, 1e-14),
          "cross_entropy(weights, smoothing 0.2): %.17g, PyTorch 2.133565168393106", v);
    CHECK(ok && all_near(g, pt_g0, 4, 1e-14, &bad), "its gradient, row 0 element %lld: %.17g",
          (long long)bad, bad >= 0 ? g[bad] : NAN);
    /* F.cross_entropy(z, yd, label_smoothing=0.2) with target rows summing to 1.2, 0.7
     * and 1: the smoothed target is 0.8 yd + 0.2/4, whatever the row sums (the old
     * 0.8 yd + 0.2 rowsum/4 gives 1.6218005655337189): the mean over rows of
     * -sum_c (0.8 yd[i,c] + 0.05) logp[i,c] = 1.6280055809624896; z.grad row 0 is
     * pt_gd0. With weight=w as well: 2.176763363431432. */
    static const double pt_gd0[4] = {-0.0028774903135054953, -0.060973081268046084,
                                     -0.10996625775577121, 0.17381682933732287};
    ce_ctx cd = {.y = yd, .o = tg_ce_defaults()};
    cd.o.label_smoothing = 0.2;
    ok = value_grad(f_ce, z, &cd, &v, g);
    CHECK(ok && near(v, 1.6280055809624896, 1e-14),
          "cross_entropy(dense rows not summing to 1, smoothing 0.2): %.17g, PyTorch "
          "1.6280055809624896", v);
    CHECK(ok && all_near(g, pt_gd0, 4, 1e-14, &bad), "its gradient, row 0 element %lld: %.17g",
          (long long)bad, bad >= 0 ? g[bad] : NAN);
    cd.o.weights = w;
    ok = value_grad(f_ce, z, &cd, &v, g);
    CHECK(ok && near(v, 2.176763363431432, 1e-14),
          "cross_entropy(dense, weights, smoothing 0.2): %.17g, PyTorch 2.176763363431432", v);

    /* the F32 fast path (I32 labels, no options) against the same reference */
    tg_tensor *z32 = mk(TG_F32, 2, zs, Z);
    double zr[12];
    for (int i = 0; i < 12; i++)
        zr[i] = (double)(float)Z[i];
    ce_ctx c32 = {.y = y, .o = tg_ce_defaults()};
    want = ce_ref(zr, 3, 4, Y, NULL, NULL, 0, ref);
    expect("softmax_cross_entropy f32 fast path", f_ce, z32, &c32, want, ref, 2e-6);

    tg_tensor_free(&z32);
    tg_tensor_free(&z);
    tg_tensor_free(&y);
    tg_tensor_free(&yd);
    tg_tensor_free(&w);
}

int main(void)
{
    test_softmax_ce();
    return check_summary();
}
