/* Losses and fused ops: clamp, softmax-cross-entropy (and its one-loop backward),
 * BCE with logits, BCE and categorical CE on probabilities, MSE, MAE, Huber, KL
 * divergence, dropout, L1/L2 penalties, dense. Forwards are single loops; backwards are
 * written with registered ops. */
#include <math.h>
#include <string.h>

#include "internal.h"

#define PROB_LO TG__PROB_LO
#define PROB_HI TG__PROB_HI

/* the first element of a contiguous tensor's data */
static void *at0(const tg_tensor *x)
{
    return (char *)x->data + (size_t)x->offset * tg_dtype_size(x->dtype);
}

/* element 0 of a one-element float tensor, as double */
static double first(const tg_tensor *x)
{
    const void *p = at0(x);
    return x->dtype == TG_F32 ? *(const float *)p : *(const double *)p;
}

/* a new 0-d tape tensor holding v (F32 or F64) */
static tg_tensor *scalar_out(tg_tape *t, tg_dtype dt, double v)
{
    tg_tensor *out = tg__new(t, dt, 0, NULL);
    if (out && dt == TG_F32)
        *(float *)out->data = (float)v;
    else if (out)
        *(double *)out->data = v;
    return out;
}

/* a float target of exactly p's shape and dtype */
static bool same_target(tg_tape *t, const tg_tensor *p, const tg_tensor *y, const char *fn)
{
    if (!tg__check_float(t, p, fn))
        return false;
    if (!tg__same_dtype(t, fn, p, "input", y, "target"))
        return false;
    if (!tg_tensor_same_shape(p, y)) {
        tg__fail(t, TG_ESHAPE, "%s: target %s does not match input %s", fn, tg__shape_str(y).s,
                 tg__shape_str(p).s);
        return false;
    }
    return true;
}

/* a target (or class weights) as backwards see it: a constant at every order. A target
 * that requires grad is detached, so that with create_graph the recorded gradient of
 * the input does not depend on it either (d/dy dL/dx = 0 = d/dx dL/dy). */
static tg_tensor *target_const(tg_tape *t, tg_tensor *y)
{
    return y->requires_grad ? tg_detach(t, y) : y;
}

static tg_tensor *record2(tg_tape *t, int op, tg_tensor *x, const tg_tensor *y, tg_tensor *out,
                          const tg__args *a)
{
    tg_tensor *in[2] = {x, (tg_tensor *)y};
    return out ? tg__record(t, op, 2, in, out, a) : NULL;
}

/* ------------------------------------------------------------------- clamp */

static tg_tensor *clamp_like(tg_tape *t, tg_tensor *x, double lo, double hi, bool mask,
                             const char *fn)
{
    TG__GUARD(t, fn, x);
    if (!tg__check_float(t, x, fn))
        return NULL;
    if (!(lo <= hi))
        return tg__fail(t, TG_EINVAL, "%s: lo %g > hi %g", fn, lo, hi);
    tg_tensor *out = tg__new(t, x->dtype, x->ndim, x->shape);
    if (!out)
        return NULL;
    tg__k_unary(out, x, TG_U_COPY, 0);
    tg__k_clamp(out->dtype, out->data, tg_tensor_numel(out), lo, hi, mask);
    if (mask)
        return out;
    tg__args a = {.s = lo, .clamp_hi = hi};
    return tg__record(t, TG_OP_CLAMP, 1, &x, out, &a);
}

tg_tensor *tg_clamp(tg_tape *t, tg_tensor *x, double lo, double hi)
{
    return clamp_like(t, x, lo, hi, false, "tg_clamp");
}

tg_tensor *tg_in_range_mask(tg_tape *t, tg_tensor *x, double lo, double hi)
{
    return clamp_like(t, x, lo, hi, true, "tg_in_range_mask");
}

void tg__bwd_clamp(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    gi[0] = tg_mul(t, g, tg_in_range_mask(t, n->in[0], n->a.s, n->a.clamp_hi));
}

/* --------------------------------------------------- softmax cross-entropy */

tg_ce_opts tg_ce_defaults(void)
{
    tg_ce_opts o = {.label_smoothing = 0, .weights = NULL};
    return o;
}

/* validates logits/target/opts; fills the per-row target weights r (as a tape tensor,
 * no grad) so that loss = sum_ik r_ik (lse_i - z_ik) / D and dloss/dz = (s_i p - r)/D
 * with s_i = sum_k r_ik */
static tg_tensor *ce_rows(tg_tape *t, const tg_tensor *z, const tg_tensor *y,
                          const tg_ce_opts *o, double *D, const char *fn)
{
    if (!tg__check_float(t, z, fn))
        return NULL;
    if (z->ndim != 2)
        return tg__fail(t, TG_ESHAPE, "%s: logits must be [N, C], got %s", fn, tg__shape_str(z).s);
    int64_t N = z->shape[0], C = z->shape[1];
    if (C < 1) /* also keeps an empty [N, 0] from walking N rows of nothing */
        return tg__fail(t, TG_ESHAPE, "%s: logits %s have no classes", fn, tg__shape_str(z).s);
    double eps = o ? o->label_smoothing : 0;
    const tg_tensor *w = o ? o->weights : NULL;
    if (!(eps >= 0 && eps < 1))
        return tg__fail(t, TG_EINVAL, "%s: label_smoothing %g outside [0, 1)", fn, eps);
    if (w && (w->ndim != 1 || w->shape[0] != C || w->dtype != z->dtype))
        return tg__fail(t, TG_ESHAPE, "%s: weights %s %s must be [%lld] %s", fn, tg__shape_str(w).s,
                        tg_dtype_name(w->dtype), (long long)C, tg_dtype_name(z->dtype));
    bool sparse = y->dtype == TG_I32;
    if (sparse ? (y->ndim != 1 || y->shape[0] != N) : !tg_tensor_same_shape(y, z))
        return tg__fail(t, TG_ESHAPE, "%s: target %s %s does not fit logits %s", fn,
                        tg__shape_str(y).s, tg_dtype_name(y->dtype), tg__shape_str(z).s);
    if (!sparse && y->dtype != z->dtype)
        return tg__fail(t, TG_EDTYPE, "%s: target dtype %s differs from logits dtype %s", fn,
                        tg_dtype_name(y->dtype), tg_dtype_name(z->dtype));
    const tg_tensor *yd = tg__dense_of(t, y), *wd = w ? tg__dense_of(t, w) : NULL;
    tg_tensor *r = tg__new(t, z->dtype, 2, z->shape);
    if (!r || !yd || (w && !wd))
        return NULL;
    int64_t bad = tg__k_ce_targets(z->dtype, r->data, at0(yd), sparse, wd ? at0(wd) : NULL, N, C,
                                   eps, D);
    if (bad >= 0)
        return tg__fail(t, TG_ERANGE, "%s: target %lld at row %lld outside [0, %lld)", fn,
                        (long long)((const int32_t *)at0(yd))[bad], (long long)bad, (long long)C);
    return r;
}

static tg_tensor *ce_inputs(tg_tensor **in, tg_tensor *z, const tg_tensor *y,
                            const tg_ce_opts *o, int *n)
{
    in[0] = z;
    in[1] = (tg_tensor *)y;
    *n = 2;
    if (o && o->weights)
        in[(*n)++] = (tg_tensor *)o->weights;
    return z;
}

/* The common case in one typed pass: F32 logits, I32 class labels, no weights, no
 * smoothing. Returns false (doing nothing) when the case does not apply. With grad
 * NULL it computes the mean loss into *loss; else it writes (softmax - onehot) * scale
 * into grad. A label out of range fails the tape. */
static bool sce_plain_ok(const tg_tensor *z, const tg_tensor *y, const tg_ce_opts *o)
{
    return z->dtype == TG_F32 && z->ndim == 2 && z->shape[1] >= 1 && y->dtype == TG_I32 && y->ndim == 1 &&
           y->shape[0] == z->shape[0] && tg_tensor_is_contiguous(z) &&
           tg_tensor_is_contiguous(y) && !(o && (o->weights || o->label_smoothing != 0));
}

static bool sce_plain_f32(tg_tape *t, const tg_tensor *z, const tg_tensor *y,
                          const tg_ce_opts *o, double *loss, tg_tensor *grad, double scale,
                          const char *fn)
{
    if (!sce_plain_ok(z, y, o))
        return false;
    int64_t C = z->shape[1];
    const int32_t *yp = (const int32_t *)y->data + y->offset;
    int64_t bad = tg__k_sce_labels_f32((const float *)z->data + z->offset, yp, z->shape[0], C,
                                       loss, grad ? grad->data : NULL, (float)scale);
    if (bad >= 0)
        tg__fail(t, TG_ERANGE, "%s: target %d at row %lld outside [0, %lld)", fn, (int)yp[bad],
                 (long long)bad, (long long)C);
    return true;
}

tg_tensor *tg_softmax_cross_entropy(tg_tape *t, tg_tensor *z, const tg_tensor *y,
                                    const tg_ce_opts *o)
{
    TG__GUARD(t, "tg_softmax_cross_entropy", z, y);
    if (o && !tg__opt_input_ok(t, "tg_softmax_cross_entropy", o->weights))
        return NULL;
    double D, loss = 0;
    if (sce_plain_f32(t, z, y, o, &loss, NULL, 0, "tg_softmax_cross_entropy")) {
        tg_tensor *out = !TG__FAILED(t) ? scalar_out(t, z->dtype, loss) : NULL;
        if (!out)
            return NULL;
        tg_tensor *in[3];
        int n;
        ce_inputs(in, z, y, o, &n);
        tg__args a = {.s = 0};
        return tg__record(t, TG_OP_SOFTMAX_CE, n, in, out, &a);
    }
    tg_tensor *r = ce_rows(t, z, y, o, &D, "tg_softmax_cross_entropy");
    const tg_tensor *zd = r ? tg__dense_of(t, z) : NULL;
    if (!zd)
        return NULL;
    int64_t N = z->shape[0], C = z->shape[1];
    loss = tg__k_ce_loss_sum(z->dtype, at0(zd), r->data, N, C);
    tg_tensor *out = scalar_out(t, z->dtype, N ? loss / D : NAN);
    if (!out)
        return NULL;
    tg_tensor *in[3];
    int n;
    ce_inputs(in, z, y, o, &n);
    tg__args a = {.s = o ? o->label_smoothing : 0};
    return tg__record(t, TG_OP_SOFTMAX_CE, n, in, out, &a);
}

static tg_ce_opts ce_opts_of(const tg__node *n, int weights_at)
{
    tg_ce_opts o = {.label_smoothing = n->a.s,
                    .weights = n->n_in > weights_at ? n->in[weights_at] : NULL};
    return o;
}

void tg__bwd_softmax_ce(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    tg_ce_opts o = ce_opts_of(n, 2);
    gi[0] = tg_softmax_cross_entropy_backward(t, n->in[0], n->in[1], g, &o);
}

tg_tensor *tg_softmax_cross_entropy_backward(tg_tape *t, tg_tensor *z, const tg_tensor *y,
                                             tg_tensor *g, const tg_ce_opts *o)
{
    const char *fn = "tg_softmax_cross_entropy_backward";
    TG__GUARD(t, fn, z, y, g);
    if (o && !tg__opt_input_ok(t, fn, o->weights))
        return NULL;
    if (tg_tensor_numel(g) != 1 || g->dtype != z->dtype)
        return tg__fail(t, TG_ESHAPE, "%s: g must be a one-element %s tensor, got %s %s", fn,
                        tg_dtype_name(z->dtype), tg__shape_str(g).s, tg_dtype_name(g->dtype));
    double D, unused;
    if (sce_plain_ok(z, y, o)) {
        tg_tensor *fast = tg__new(t, z->dtype, 2, z->shape);
        if (!fast)
            return NULL;
        sce_plain_f32(t, z, y, o, &unused, fast, first(g) / (double)z->shape[0], fn);
        if (TG__FAILED(t))
            return NULL;
        tg_tensor *in[3] = {z, (tg_tensor *)y, g};
        tg__args a = {.s = 0};
        return tg__record(t, TG_OP_SOFTMAX_CE_BWD, 3, in, fast, &a);
    }
    tg_tensor *r = ce_rows(t, z, y, o, &D, fn);
    const tg_tensor *zd = r ? tg__dense_of(t, z) : NULL;
    tg_tensor *out = zd ? tg__new(t, z->dtype, 2, z->shape) : NULL;
    if (!out)
        return NULL;
    /* one pass per row: softmax, then (s_i p - r_i) g / D */
    tg__k_ce_grad(z->dtype, out->data, at0(zd), r->data, z->shape[0], z->shape[1],
                  first(g) / D);
    tg_tensor *in[4] = {z, (tg_tensor *)y, g, NULL};
    int nin = 3;
    if (o && o->weights)
        in[nin++] = (tg_tensor *)o->weights;
    tg__args a = {.s = o ? o->label_smoothing : 0};
    return tg__record(t, TG_OP_SOFTMAX_CE_BWD, nin, in, out, &a);
}

void tg__bwd_softmax_ce_bwd(tg_tape *t, const tg__node *n, tg_tensor *G, tg_tensor **gi)
{
    /* out = (s p - r) g / D with p = softmax(z): d/dz = (g/D) s p (G - sum(G p));
     * d/dg = sum(G (s p - r)) / D */
    tg_tensor *z = n->in[0], *g = n->in[2];
    tg_ce_opts o = ce_opts_of(n, 3);
    double D;
    tg_tensor *r = ce_rows(t, z, n->in[1], &o, &D, "softmax_cross_entropy_backward");
    if (!r)
        return;
    int last = -1;
    tg_tensor *s = tg_sum(t, r, 1, &last, true);
    tg_tensor *p = tg_softmax(t, z, -1);
    if (z->requires_grad) {
        tg_tensor *v = tg_mul(t, p, tg_sub(t, G, tg_sum(t, tg_mul(t, G, p), 1, &last, true)));
        gi[0] = tg_mul(t, tg_mul(t, v, s), tg_mul_scalar(t, g, 1.0 / D));
    }
    if (g->requires_grad) {
        tg_tensor *dg = tg_mul_scalar(
            t, tg_sum(t, tg_mul(t, G, tg_sub(t, tg_mul(t, s, p), r)), 0, NULL, false), 1.0 / D);
        gi[2] = tg_reshape(t, dg, g->ndim, g->shape);
    }
}

/* ------------------------------------------------------ elementwise losses */

typedef tg__loss_kind loss_kind;

static tg_tensor *elementwise_loss(tg_tape *t, tg_tensor *x, const tg_tensor *y, loss_kind k,
                                   int op, double delta, const char *fn)
{
    TG__GUARD(t, fn, x, y);
    if (!same_target(t, x, y, fn))
        return NULL;
    if (k == TG_L_HUBER && !(delta > 0))
        return tg__fail(t, TG_EINVAL, "%s: delta %g must be > 0", fn, delta);
    const tg_tensor *xd = tg__dense_of(t, x), *yd = tg__dense_of(t, y);
    if (!xd || !yd)
        return NULL;
    int64_t n = tg_tensor_numel(x);
    double acc = tg__k_loss_sum(k, x->dtype, at0(xd), at0(yd), n, delta);
    tg__args a = {.s = delta};
    return record2(t, op, x, y, scalar_out(t, x->dtype, n ? acc / (double)n : NAN), &a);
}

tg_tensor *tg_bce_with_logits(tg_tape *t, tg_tensor *x, const tg_tensor *y)
{
    return elementwise_loss(t, x, y, TG_L_BCE_LOGITS, TG_OP_BCE_LOGITS, 0, "tg_bce_with_logits");
}
tg_tensor *tg_binary_cross_entropy(tg_tape *t, tg_tensor *p, const tg_tensor *y)
{
    return elementwise_loss(t, p, y, TG_L_BCE, TG_OP_BCE, 0, "tg_binary_cross_entropy");
}
tg_tensor *tg_mse(tg_tape *t, tg_tensor *p, const tg_tensor *y)
{
    return elementwise_loss(t, p, y, TG_L_MSE, TG_OP_MSE, 0, "tg_mse");
}
tg_tensor *tg_mae(tg_tape *t, tg_tensor *p, const tg_tensor *y)
{
    return elementwise_loss(t, p, y, TG_L_MAE, TG_OP_MAE, 0, "tg_mae");
}
tg_tensor *tg_huber(tg_tape *t, tg_tensor *p, const tg_tensor *y, double delta)
{
    return elementwise_loss(t, p, y, TG_L_HUBER, TG_OP_HUBER, delta, "tg_huber");
}
tg_tensor *tg_kl_div(tg_tape *t, tg_tensor *log_q, const tg_tensor *p)
{
    return elementwise_loss(t, log_q, p, TG_L_KL, TG_OP_KL_DIV, 0, "tg_kl_div");
}

/* g (a scalar tensor) times c / numel(x), as a tensor that broadcasts */
static tg_tensor *scaled(tg_tape *t, tg_tensor *g, const tg_tensor *x, double c)
{
    return tg_mul_scalar(t, g, c / (double)tg_tensor_numel(x));
}

void tg__bwd_bce_logits(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    tg_tensor *x = n->in[0], *y = target_const(t, n->in[1]);
    gi[0] = tg_mul(t, tg_sub(t, tg_sigmoid(t, x), y), scaled(t, g, x, 1.0));
}

void tg__bwd_bce(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    /* d/dp = (pc - y) / (pc (1 - pc)) inside the clip range, 0 outside */
    tg_tensor *p = n->in[0], *y = target_const(t, n->in[1]);
    tg_tensor *pc = tg_clamp(t, p, PROB_LO, PROB_HI);
    tg_tensor *d = tg_div(t, tg_sub(t, pc, y), tg_mul(t, pc, tg_add_scalar(t, tg_neg(t, pc), 1.0)));
    gi[0] = tg_mul(t, tg_mul(t, d, tg_in_range_mask(t, p, PROB_LO, PROB_HI)), scaled(t, g, p, 1.0));
}

void tg__bwd_mse(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    tg_tensor *p = n->in[0];
    gi[0] = tg_mul(t, tg_sub(t, p, target_const(t, n->in[1])), scaled(t, g, p, 2.0));
}

void tg__bwd_mae(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    tg_tensor *p = n->in[0];
    gi[0] = tg_mul(t, tg_sign(t, tg_sub(t, p, target_const(t, n->in[1]))), scaled(t, g, p, 1.0));
}

void tg__bwd_huber(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    tg_tensor *p = n->in[0];
    double d = n->a.s;
    gi[0] = tg_mul(t, tg_clamp(t, tg_sub(t, p, target_const(t, n->in[1])), -d, d),
                   scaled(t, g, p, 1.0));
}

void tg__bwd_kl_div(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    tg_tensor *lq = n->in[0];
    gi[0] = tg_mul(t, target_const(t, n->in[1]), scaled(t, g, lq, -1.0));
}

/* ------------------------------------------- categorical CE on probabilities */

/* one-hot (or the dense target itself) as a no-grad tape tensor of p's dtype */
static tg_tensor *dense_target(tg_tape *t, const tg_tensor *p, const tg_tensor *y,
                               const char *fn)
{
    if (y->dtype != TG_I32) {
        if (!same_target(t, p, y, fn))
            return NULL;
        return (tg_tensor *)y;
    }
    int64_t N = p->shape[0], C = p->shape[1];
    if (y->ndim != 1 || y->shape[0] != N)
        return tg__fail(t, TG_ESHAPE, "%s: target %s does not fit %s", fn, tg__shape_str(y).s,
                        tg__shape_str(p).s);
    const tg_tensor *yd = tg__dense_of(t, y);
    tg_tensor *oh = yd ? tg__new(t, p->dtype, 2, p->shape) : NULL;
    if (!oh)
        return NULL;
    tg__k_fill(oh, 0);
    const int32_t *yp = at0(yd);
    int64_t bad = tg__k_onehot(oh->dtype, oh->data, yp, N, C);
    if (bad >= 0)
        return tg__fail(t, TG_ERANGE, "%s: target %lld at row %lld outside [0, %lld)", fn,
                        (long long)yp[bad], (long long)bad, (long long)C);
    return oh;
}

tg_tensor *tg_categorical_cross_entropy(tg_tape *t, tg_tensor *p, const tg_tensor *y)
{
    const char *fn = "tg_categorical_cross_entropy";
    TG__GUARD(t, fn, p, y);
    if (!tg__check_float(t, p, fn))
        return NULL;
    if (p->ndim != 2)
        return tg__fail(t, TG_ESHAPE, "%s: probabilities must be [N, C], got %s", fn,
                        tg__shape_str(p).s);
    tg_tensor *oh = dense_target(t, p, y, fn);
    const tg_tensor *pd = oh ? tg__dense_of(t, p) : NULL, *od = oh ? tg__dense_of(t, oh) : NULL;
    if (!pd || !od)
        return NULL;
    int64_t n = tg_tensor_numel(p), N = p->shape[0];
    double acc = tg__k_cce_sum(p->dtype, at0(pd), at0(od), n);
    return record2(t, TG_OP_CCE, p, y, scalar_out(t, p->dtype, N ? acc / (double)N : NAN), NULL);
}

void tg__bwd_cce(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    /* d/dp = -y / pc / N inside the clip range */
    tg_tensor *p = n->in[0];
    tg_tensor *y = dense_target(t, p, target_const(t, n->in[1]), "categorical_cross_entropy");
    tg_tensor *d = tg_div(t, y, tg_clamp(t, p, PROB_LO, PROB_HI));
    tg_tensor *scale = tg_mul_scalar(t, g, -1.0 / (double)p->shape[0]);
    gi[0] = tg_mul(t, tg_mul(t, d, tg_in_range_mask(t, p, PROB_LO, PROB_HI)), scale);
}

/* ---------------------------------------------------------------- dropout */

tg_tensor *tg_dropout(tg_tape *t, tg_tensor *x, double rate, uint64_t seed, uint64_t stream,
                      bool training)
{
    TG__GUARD(t, "tg_dropout", x);
    if (!tg__check_float(t, x, "tg_dropout"))
        return NULL;
    if (!(rate >= 0 && rate < 1))
        return tg__fail(t, TG_EINVAL, "tg_dropout: rate %g outside [0, 1)", rate);
    if (!training || rate == 0)
        return x;
    tg_tensor *out = tg__new(t, x->dtype, x->ndim, x->shape);
    if (!out)
        return NULL;
    tg__k_unary(out, x, TG_U_COPY, 0);
    tg__k_dropout_mask(out, rate, seed, stream);
    tg__args a = {.s = rate, .dropout = {.seed = seed, .stream = stream}};
    return tg__record(t, TG_OP_DROPOUT, 1, &x, out, &a);
}

void tg__bwd_dropout(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    /* the same mask, regenerated from its counters: dropout is its own adjoint */
    gi[0] = tg_dropout(t, g, n->a.s, n->a.dropout.seed, n->a.dropout.stream, true);
}

/* -------------------------------------------------------------- penalties */

static tg_tensor *penalty(tg_tape *t, tg_tensor *x, double lambda, bool l1, const char *fn)
{
    TG__GUARD(t, fn, x);
    if (!tg__check_float(t, x, fn))
        return NULL;
    if (!(lambda >= 0))
        return tg__fail(t, TG_EINVAL, "%s: lambda %g must be >= 0", fn, lambda);
    const tg_tensor *xd = tg__dense_of(t, x);
    if (!xd)
        return NULL;
    double acc = tg__k_penalty_sum(x->dtype, at0(xd), tg_tensor_numel(x), l1);
    tg_tensor *out = scalar_out(t, x->dtype, lambda * acc);
    tg__args a = {.s = lambda};
    return out ? tg__record(t, l1 ? TG_OP_L1_PENALTY : TG_OP_L2_PENALTY, 1, &x, out, &a) : NULL;
}

tg_tensor *tg_l1_penalty(tg_tape *t, tg_tensor *theta, double lambda)
{
    return penalty(t, theta, lambda, true, "tg_l1_penalty");
}

tg_tensor *tg_l2_penalty(tg_tape *t, tg_tensor *theta, double lambda)
{
    return penalty(t, theta, lambda, false, "tg_l2_penalty");
}

void tg__bwd_l1_penalty(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    gi[0] = tg_mul(t, tg_sign(t, n->in[0]), tg_mul_scalar(t, g, n->a.s));
}

void tg__bwd_l2_penalty(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    gi[0] = tg_mul(t, n->in[0], tg_mul_scalar(t, g, 2.0 * n->a.s));
}

/* ------------------------------------------------------------------ dense */

tg_tensor *tg_dense(tg_tape *t, tg_tensor *x, tg_tensor *w, tg_tensor *b)
{
    const char *fn = "tg_dense";
    TG__GUARD(t, fn, x, w);
    if (!tg__opt_input_ok(t, fn, b))
        return NULL;
    if (!tg__check_float(t, x, fn))
        return NULL;
    if (w->dtype != x->dtype || (b && b->dtype != x->dtype))
        return tg__fail(t, TG_EDTYPE, "tg_dense: dtypes differ: x %s, W %s, b %s",
                        tg_dtype_name(x->dtype), tg_dtype_name(w->dtype),
                        b ? tg_dtype_name(b->dtype) : "none");
    if (x->ndim != 2 || w->ndim != 2 || x->shape[1] != w->shape[0] ||
        (b && (b->ndim != 1 || b->shape[0] != w->shape[1])))
        return tg__fail(t, TG_ESHAPE, "tg_dense: shapes do not fit: x %s, W %s, b %s",
                        tg__shape_str(x).s, tg__shape_str(w).s,
                        b ? tg__shape_str(b).s : "none");
    int64_t shape[2] = {x->shape[0], w->shape[1]};
    tg_tensor *out = tg__new(t, x->dtype, 2, shape);
    if (!out)
        return NULL;
    if (!tg__k_matmul(out, x, w, b))
        return tg__fail(t, TG_ENOMEM, "tg_dense: out of memory");
    tg_tensor *in[3] = {x, w, b};
    return tg__record(t, TG_OP_DENSE, b ? 3 : 2, in, out, NULL);
}

void tg__bwd_dense(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    tg_tensor *x = n->in[0], *w = n->in[1];
    if (x->requires_grad)
        gi[0] = tg_matmul(t, g, tg_transpose(t, w, 0, 1));
    if (w->requires_grad)
        gi[1] = tg_matmul(t, tg_transpose(t, x, 0, 1), g);
    if (n->n_in == 3 && n->in[2]->requires_grad) {
        int zero = 0;
        gi[2] = tg_sum(t, g, 1, &zero, false);
    }
}
