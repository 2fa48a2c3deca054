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
    CHECK(ok && all_near(grad, want_grad, n, tol, &bad),
          "%s: gradient element %lld: %.12g, reference %.12g", what, (long long)bad,
          bad >= 0 ? grad[bad] : NAN, bad >= 0 ? want_grad[bad] : NAN);
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

/* ------------------------------------------------------- elementwise losses */

typedef struct {
    const tg_tensor *y;
    int kind;
    double delta;
} ew_ctx;

enum { K_BCE_LOGITS, K_BCE, K_MSE, K_MAE, K_HUBER, K_KL, K_CCE };

static tg_tensor *f_ew(tg_tape *t, tg_tensor *x, void *ctx)
{
    ew_ctx *c = ctx;
    switch (c->kind) {
    case K_BCE_LOGITS: return tg_bce_with_logits(t, x, c->y);
    case K_BCE: return tg_binary_cross_entropy(t, x, c->y);
    case K_MSE: return tg_mse(t, x, c->y);
    case K_MAE: return tg_mae(t, x, c->y);
    case K_HUBER: return tg_huber(t, x, c->y, c->delta);
    case K_KL: return tg_kl_div(t, x, c->y);
    case K_CCE: return tg_categorical_cross_entropy(t, x, c->y);
    }
    return NULL;
}

static double sgn(double v) { return v > 0 ? 1.0 : v < 0 ? -1.0 : 0.0; }

/* reference value and gradient of an elementwise loss (mean over the n elements),
 * each written from its textbook formula */
static double ew_ref(int kind, const double *x, const double *y, int64_t n, double delta,
                     double *grad)
{
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = 0, d = 0, xi = x[i], yi = y[i];
        switch (kind) {
        case K_BCE_LOGITS: { /* -(y log s + (1-y) log(1-s)), s = sigmoid(x); d = s - y */
            double s = 1 / (1 + exp(-xi));
            v = -(yi * log(s) + (1 - yi) * log(1 - s));
            d = s - yi;
            break;
        }
        case K_BCE: { /* p clipped to [1e-7, 1-1e-7]; d = (p - y) / (p (1-p)) inside */
            double p = fmin(fmax(xi, 1e-7), 1 - 1e-7);
            v = -(yi * log(p) + (1 - yi) * log(1 - p));
            d = xi >= 1e-7 && xi <= 1 - 1e-7 ? -yi / p + (1 - yi) / (1 - p) : 0;
            break;
        }
        case K_MSE: v = (xi - yi) * (xi - yi); d = 2 * (xi - yi); break;
        case K_MAE: v = fabs(xi - yi); d = sgn(xi - yi); break;
        case K_HUBER: { /* PyTorch: 0.5 r^2 if |r| < delta else delta (|r| - delta/2) */
            double r = xi - yi;
            v = fabs(r) < delta ? 0.5 * r * r : delta * (fabs(r) - 0.5 * delta);
            d = fabs(r) < delta ? r : delta * sgn(r);
            break;
        }
        case K_KL: /* y (log y - x), 0 where y = 0 */
            v = yi > 0 ? yi * (log(yi) - xi) : 0;
            d = -yi;
            break;
        }
        sum += v;
        grad[i] = d / (double)n;
    }
    return sum / (double)n;
}

static const double X[6] = {-1.7, 0.4, 2.3, -0.2, 1.1, -3.0};
static const double YT[6] = {0.3, 1.0, 0.0, 0.8, 0.5, 0.25}; /* soft, in [0, 1] */
/* regression targets: nonzero, one equal to its prediction (the kink of MAE), one near
 * |p - y| = delta = 0.75 (the Huber switch), both Huber regions */
static const double R[6] = {-2.1, 0.4, 1.55, 0.5, -0.6, -2.5};
/* log-probabilities and a target with a 0 */
static const double LQ[6] = {-1.2, -0.4, -2.3, -0.9, -1.6, -0.05};
static const double KT[6] = {0.2, 0.5, 0.3, 0.0, 0.6, 0.4};

static void test_elementwise(void)
{
    int64_t s[2] = {2, 3};
    /* probabilities; the 0 and 1 are outside the clip range */
    static const double P[6] = {0.2, 0.9, 0.0, 0.55, 1.0, 0.35};
    struct {
        const char *name;
        int kind;
        const double *x, *y;
        double delta;
    } cases[] = {
        {"bce_with_logits", K_BCE_LOGITS, X, YT, 0},
        {"binary_cross_entropy (clipped at 0 and 1)", K_BCE, P, YT, 0},
        {"mse", K_MSE, X, R, 0},
        {"mae (nonzero targets, one tie)", K_MAE, X, R, 0},
        {"huber delta 0.75 (nonzero targets, both regions)", K_HUBER, X, R, 0.75},
        {"huber delta 2", K_HUBER, X, R, 2.0},
        {"kl_div (a zero target)", K_KL, LQ, KT, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        tg_tensor *x = mk(TG_F64, 2, s, cases[k].x), *y = mk(TG_F64, 2, s, cases[k].y);
        ew_ctx c = {y, cases[k].kind, cases[k].delta};
        double ref[6];
        double want = ew_ref(cases[k].kind, cases[k].x, cases[k].y, 6, cases[k].delta, ref);
        expect(cases[k].name, f_ew, x, &c, want, ref, 1e-12);
        /* the same through a transposed view of the input (the general kernel path) */
        tg_tensor *xt0 = tg_zeros(TG_F64, 2, (int64_t[]){3, 2}), *xt = NULL;
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++)
                tg_tensor_set(xt0, (int64_t[]){j, i}, cases[k].x[i * 3 + j]);
        xt = tg_view_transpose(xt0, 0, 1);
        char what[96];
        snprintf(what, sizeof what, "%s, transposed input", cases[k].name);
        expect(what, f_ew, xt, &c, want, ref, 1e-12);
        tg_tensor_free(&xt);
        tg_tensor_free(&xt0);
        tg_tensor_free(&x);
        tg_tensor_free(&y);
    }
}

/* The loss values of test_elementwise's inputs in PyTorch 1.13 (float64), computed once,
 * a check of the references above: F.binary_cross_entropy_with_logits(X, YT),
 * F.mse_loss(X, R), F.l1_loss(X, R), F.huber_loss(X, R, delta=0.75 and 2) and
 * F.kl_div(LQ, KT) (reduction 'mean' everywhere) */
static void test_elementwise_pytorch(void)
{
    int64_t s[2] = {2, 3};
    tg_tensor *x = mk(TG_F64, 2, s, X), *yt = mk(TG_F64, 2, s, YT), *r = mk(TG_F64, 2, s, R);
    tg_tensor *lq = mk(TG_F64, 2, s, LQ), *kt = mk(TG_F64, 2, s, KT);
    struct {
        const char *name;
        tg_tensor *in;
        ew_ctx c;
        double torch;
    } cases[] = {
        {"bce_with_logits", x, {yt, K_BCE_LOGITS, 0}, 0.9967347154091577},
        {"mse", x, {r, K_MSE, 0}, 0.7254166666666667},
        {"mae", x, {r, K_MAE, 0}, 0.6750000000000002},
        {"huber 0.75", x, {r, K_HUBER, 0.75}, 0.2875},
        {"huber 2", x, {r, K_HUBER, 2.0}, 0.36270833333333335},
        {"kl_div", lq, {kt, K_KL, 0}, 0.06788921982102833},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        tg_tape *t = tg_tape_new();
        tg_tensor *l = f_ew(t, cases[k].in, &cases[k].c);
        double v = l ? tg_tensor_get_flat(l, 0) : NAN;
        CHECK(near(v, cases[k].torch, 1e-14), "%s: %.17g, PyTorch %.17g", cases[k].name, v,
              cases[k].torch);
        tg_tape_free(&t);
    }
    tg_tensor_free(&x);
    tg_tensor_free(&yt);
    tg_tensor_free(&r);
    tg_tensor_free(&lq);
    tg_tensor_free(&kt);
}

/* ------------------------------------------ categorical CE on probabilities */

static void test_cce(void)
{
    int64_t s[2] = {3, 4};
    static const double P[12] = {0.1, 0.2, 0.3, 0.4, 0.7, 0.1, 0.1, 0.1, 0.0, 0.5, 0.25, 0.25};
    static const int Yc[3] = {3, 0, 0}; /* the last row's class has p = 0: clipped */
    tg_tensor *p = mk(TG_F64, 2, s, P), *ys = labels_of(3, Yc), *yd = mk(TG_F64, 2, s, YD);
    /* -sum_c y_ic log(clip(p_ic)) / N; d/dp_ic = -y_ic / p_ic / N inside the clip range */
    double ref_s[12] = {0}, ref_d[12] = {0}, want_s = 0, want_d = 0;
    for (int i = 0; i < 3; i++)
        for (int c = 0; c < 4; c++) {
            double pc = fmin(fmax(P[i * 4 + c], 1e-7), 1 - 1e-7);
            bool inside = P[i * 4 + c] >= 1e-7 && P[i * 4 + c] <= 1 - 1e-7;
            double ysp = c == Yc[i] ? 1.0 : 0.0, yde = YD[i * 4 + c];
            want_s += -ysp * log(pc) / 3;
            want_d += -yde * log(pc) / 3;
            ref_s[i * 4 + c] = inside ? -ysp / pc / 3 : 0;
            ref_d[i * 4 + c] = inside ? -yde / pc / 3 : 0;
        }
    ew_ctx cs = {ys, K_CCE, 0}, cd = {yd, K_CCE, 0};
    expect("categorical_cross_entropy sparse", f_ew, p, &cs, want_s, ref_s, 1e-12);
    expect("categorical_cross_entropy dense", f_ew, p, &cd, want_d, ref_d, 1e-12);
    tg_tensor_free(&p);
    tg_tensor_free(&ys);
    tg_tensor_free(&yd);
}

/* -------------------------------------------------------------- penalties */

typedef struct {
    bool l1;
    double lambda;
} pen_ctx;

static tg_tensor *f_pen(tg_tape *t, tg_tensor *x, void *ctx)
{
    pen_ctx *c = ctx;
    return c->l1 ? tg_l1_penalty(t, x, c->lambda) : tg_l2_penalty(t, x, c->lambda);
}

static void test_penalties(void)
{
    static const double V[6] = {-1.5, 0.0, 0.25, 2.0, -0.75, 0.0};
    tg_tensor *x = mk(TG_F64, 2, (int64_t[]){2, 3}, V);
    double r1[6], r2[6], l1 = 0, l2 = 0, lam = 0.3;
    for (int i = 0; i < 6; i++) {
        l1 += lam * fabs(V[i]);
        l2 += lam * V[i] * V[i];
        r1[i] = lam * sgn(V[i]); /* 0 at 0 */
        r2[i] = 2 * lam * V[i];
    }
    pen_ctx c1 = {true, lam}, c2 = {false, lam};
    expect("l1_penalty (zeros included)", f_pen, x, &c1, l1, r1, 1e-12);
    expect("l2_penalty", f_pen, x, &c2, l2, r2, 1e-12);
    tg_tensor_free(&x);
}

/* ------------------------------------------------- targets are constants */

typedef tg_tensor *(*loss2_fn)(tg_tape *t, tg_tensor *x, tg_tensor *y);

static tg_tensor *l_mse(tg_tape *t, tg_tensor *x, tg_tensor *y) { return tg_mse(t, x, y); }
static tg_tensor *l_mae(tg_tape *t, tg_tensor *x, tg_tensor *y) { return tg_mae(t, x, y); }
static tg_tensor *l_huber(tg_tape *t, tg_tensor *x, tg_tensor *y) { return tg_huber(t, x, y, 0.5); }
static tg_tensor *l_bcel(tg_tape *t, tg_tensor *x, tg_tensor *y)
{
    return tg_bce_with_logits(t, x, y);
}
static tg_tensor *l_bce(tg_tape *t, tg_tensor *x, tg_tensor *y)
{
    return tg_binary_cross_entropy(t, tg_sigmoid(t, x), y);
}
static tg_tensor *l_kl(tg_tape *t, tg_tensor *x, tg_tensor *y) { return tg_kl_div(t, x, y); }
static tg_tensor *l_cce(tg_tape *t, tg_tensor *x, tg_tensor *y)
{
    return tg_categorical_cross_entropy(t, tg_softmax(t, x, -1), y);
}
static tg_tensor *l_sce(tg_tape *t, tg_tensor *x, tg_tensor *y)
{
    return tg_softmax_cross_entropy(t, x, y, NULL);
}
static tg_tensor *l_sce_opts(tg_tape *t, tg_tensor *x, tg_tensor *y)
{
    /* y doubles as the class weights: [3,4] target rows, weights its first row */
    tg_ce_opts o = tg_ce_defaults();
    o.label_smoothing = 0.1;
    o.weights = tg_reshape(t, tg_slice(t, y, (int64_t[]){0, 0}, (int64_t[]){1, 4},
                                       (int64_t[]){1, 1}), 1, (int64_t[]){4});
    return tg_softmax_cross_entropy(t, x, y, &o);
}

static bool all_zero(const tg_tensor *g)
{
    for (int64_t i = 0; g && i < tg_tensor_numel(g); i++)
        if (tg_tensor_get_flat(g, i) != 0)
            return false;
    return g != NULL;
}

/* The header says targets are constants: no gradient flows into them. That must hold
 * at every order: dL/dy = 0, and d/dy of the recorded dL/dx (create_graph) = 0 too;
 * else the Hessian is asymmetric (d2L/dy dx != d2L/dx dy). */
static void targets_constant(const char *name, loss2_fn f, const double *xv, const double *yv)
{
    int64_t s[2] = {3, 4};
    tg_tensor *x = mk(TG_F64, 2, s, xv), *y = mk(TG_F64, 2, s, yv);
    tg_tensor_set_requires_grad(x, true);
    tg_tensor_set_requires_grad(y, true);
    tg_tape *t = tg_tape_new();
    tg_backward_opts o = tg_backward_defaults();
    o.create_graph = true;
    tg_tensor *xs[2] = {x, y}, *g[2] = {0}, *h[2] = {0};
    tg_tensor *l = f(t, x, y);
    bool ok = l && tg_grad(t, l, NULL, 2, xs, g, &o) == TG_OK;
    CHECK(ok, "%s: first gradient: %s", name, tg_tape_error(t));
    CHECK(ok && all_zero(g[1]), "%s: first order: the target got a gradient", name);
    CHECK(ok && !all_zero(g[0]), "%s: first order: the input got no gradient", name);
    /* second order: d/d(x, y) of <dL/dx, u> */
    tg_tensor *u = ok ? tg_tape_zeros(t, TG_F64, 2, s) : NULL;
    for (int64_t i = 0; u && i < 12; i++)
        tg_tensor_set_flat(u, i, 0.5 + 0.125 * (double)i);
    tg_tensor *gu = u ? tg_sum(t, tg_mul(t, g[0], u), 0, NULL, false) : NULL;
    if (gu && tg_tensor_requires_grad(gu)) {
        ok = tg_grad(t, gu, NULL, 2, xs, h, NULL) == TG_OK;
        CHECK(ok, "%s: second gradient: %s", name, tg_tape_error(t));
        CHECK(ok && all_zero(h[1]), "%s: second order: d/dy (dL/dx) is not 0 (asymmetric Hessian)",
              name);
    } else {
        CHECK(gu != NULL, "%s: <dL/dx, u>: %s", name, tg_tape_error(t));
    }
    tg_tape_free(&t);
    tg_tensor_free(&x);
    tg_tensor_free(&y);
}

static void test_targets_constant(void)
{
    static const double XV[12] = {0.3, -1.2, 0.8, 1.9, -0.4, 0.1, -2.2, 0.6, 1.1, -0.7, 0.2, -0.3};
    /* probability rows (also usable as regression and BCE targets) */
    static const double YV[12] = {0.1, 0.2, 0.3, 0.4, 0.25, 0.25, 0.4, 0.1, 0.7, 0.1, 0.1, 0.1};
    /* log-probabilities for kl_div */
    static const double LV[12] = {-1.3, -0.9, -2.0, -0.4, -1.1, -1.6,
                                  -0.2, -3.0, -0.5, -0.8, -1.9, -1.2};
    targets_constant("mse", l_mse, XV, YV);
    targets_constant("mae", l_mae, XV, YV);
    targets_constant("huber", l_huber, XV, YV);
    targets_constant("bce_with_logits", l_bcel, XV, YV);
    targets_constant("binary_cross_entropy", l_bce, XV, YV);
    targets_constant("kl_div", l_kl, LV, YV);
    targets_constant("categorical_cross_entropy", l_cce, XV, YV);
    targets_constant("softmax_cross_entropy", l_sce, XV, YV);
    targets_constant("softmax_cross_entropy, weights from the target", l_sce_opts, XV, YV);
}

/* The F32 softmax-CE fast path (I32 labels, no options) takes one log per block of rows
 * (a product of the rows' sums of exp): many rows, so that several blocks and a partial
 * last block occur, and a wide class count, whose blocks are short. Reference: one log
 * per row, in double, from the same F32 inputs. */
static void test_softmax_ce_f32_blocks(void)
{
    const int64_t shapes[][2] = {{1001, 3}, {300, 70000}, {1, 1}, {961, 1}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t N = shapes[s][0], C = shapes[s][1];
        tg_tensor *z = tg_rand_normal(TG_F32, 2, (int64_t[]){N, C}, 0, 3, 11, (uint64_t)s);
        tg_tensor *y = tg_zeros(TG_I32, 1, &N);
        for (int64_t i = 0; y && i < N; i++)
            tg_tensor_set_flat(y, i, (double)(tg_rng_u64(5, 1, (uint64_t)i) % (uint64_t)C));
        tg_tape *t = tg_tape_new();
        tg_tensor *l = z && y && t ? tg_softmax_cross_entropy(t, z, y, NULL) : NULL;
        CHECK(l != NULL, "softmax-CE F32 [%lld, %lld] failed: %s", (long long)N, (long long)C,
              t ? tg_tape_error(t) : "no tape");
        if (l) {
            const float *zp = (const float *)z->data + z->offset;
            double want = 0;
            for (int64_t i = 0; i < N; i++) {
                const float *row = zp + i * C;
                double m = row[0], sum = 0;
                for (int64_t k = 1; k < C; k++)
                    m = fmax(m, row[k]);
                for (int64_t k = 0; k < C; k++)
                    sum += exp((double)row[k] - m);
                want += m + log(sum) - row[(int64_t)tg_tensor_get_flat(y, i)];
            }
            want /= (double)N;
            double got = tg_tensor_get_flat(l, 0);
            CHECK(near(got, want, 2e-6), "softmax-CE F32 [%lld, %lld]: %.9g, want %.9g",
                  (long long)N, (long long)C, got, want);
        }
        tg_tape_free(&t);
        tg_tensor_free(&z);
        tg_tensor_free(&y);
    }
}

int main(void)
{
    test_softmax_ce();
    test_softmax_ce_f32_blocks();
    test_elementwise();
    test_elementwise_pytorch();
    test_cce();
    test_penalties();
    test_targets_constant();
    return check_summary();
}
