/* Normalisation. Batch norm with the batch's statistics is one fused op (batch_norm: two
 * passes for the statistics, one for the output; its backward two passes), which
 * records its backward with ops when that backward is itself recorded (create_graph), so
 * second derivatives still come from registered ops; with running statistics it is a
 * per-channel scale and shift (ops). Layer norm is a composition of ops. Batch norm's
 * running estimates are updated outside the tape. */
#include "cnn.h"
#include "internal.h"

/* p (named what) is NULL or a tensor of x's dtype and the given shape */
static bool check_param(tg_tape *t, const tg_tensor *x, const tg_tensor *p, int ndim,
                        const int64_t *shape, const char *what, const char *fn)
{
    if (!p)
        return true;
    if (!tg__same_dtype(t, fn, x, "x", p, what))
        return false;
    bool ok = p->ndim == ndim;
    for (int d = 0; ok && d < ndim; d++)
        ok = p->shape[d] == shape[d];
    if (!ok)
        tg__fail(t, TG_ESHAPE, "%s: %s %s does not fit x %s (want %s)", fn, what,
                 tg__shape_str(p).s, tg__shape_str(x).s, tg__dims_str(ndim, shape).s);
    return ok;
}

/* (x - mean) / sqrt(var + eps) over the axes, mean and var from x (two passes) */
static tg_tensor *normalise(tg_tape *t, tg_tensor *x, int naxes, const int *axes, double eps,
                            tg_tensor **mean, tg_tensor **var)
{
    *mean = tg_mean(t, x, naxes, axes, true);
    tg_tensor *xc = tg_sub(t, x, *mean);
    *var = tg_mean(t, tg_mul(t, xc, xc), naxes, axes, true);
    return tg_div(t, xc, tg_sqrt(t, tg_add_scalar(t, *var, eps)));
}

/* the start of a contiguous tensor's elements */
static const void *first_of(const tg_tensor *x)
{
    return (const char *)x->data + (size_t)x->offset * tg_dtype_size(x->dtype);
}

/* x [N, C, ...] as N, C and the product S of the other axes */
static void ncs_of(const tg_tensor *x, int64_t *N, int64_t *C, int64_t *S)
{
    *N = x->shape[0];
    *C = x->shape[1];
    *S = 1;
    for (int d = 2; d < x->ndim; d++)
        *S *= x->shape[d];
}

/* the fused op with the batch's statistics; their mean and biased variance ([C], in the
 * arena) into *mean and *var */
static tg_tensor *batch_norm_op(tg_tape *t, tg_tensor *x, tg_tensor *gamma, tg_tensor *beta,
                                double eps, const double **mean, const double **var)
{
    int64_t N, C, S;
    ncs_of(x, &N, &C, &S);
    tg_tensor *g = gamma ? gamma : tg_tape_full(t, x->dtype, 1, &C, 1.0);
    tg_tensor *b = beta ? beta : tg_tape_zeros(t, x->dtype, 1, &C);
    const tg_tensor *xd = tg__dense_of(t, x), *gd = g ? tg__dense_of(t, g) : NULL,
                    *bd = b ? tg__dense_of(t, b) : NULL;
    double *st = tg__arena_alloc(t, sizeof(double) * (size_t)(2 * C + 1));
    tg_tensor *y = tg__new(t, x->dtype, x->ndim, x->shape);
    if (!xd || !gd || !bd || !st || !y)
        return NULL;
    tg__k_batch_norm(x->dtype, y->data, first_of(xd), N, C, S, first_of(gd), first_of(bd), eps,
                     st, st + C);
    *mean = st;
    *var = st + C;
    tg__args a = {.bn = {.eps = eps, .mean = st, .var = st + C}};
    tg_tensor *in[3] = {x, g, b};
    return tg__record(t, TG_OP_BATCH_NORM, 3, in, y, &a);
}

void tg__bwd_batch_norm(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    tg_tensor *x = n->in[0], *gamma = n->in[1], *beta = n->in[2];
    int axes[TG_MAX_DIMS], naxes = 0;
    int64_t kshape[TG_MAX_DIMS], N, C, S;
    ncs_of(x, &N, &C, &S);
    for (int d = 0; d < x->ndim; d++) {
        kshape[d] = d == 1 ? C : 1;
        if (d != 1)
            axes[naxes++] = d;
    }
    if (t->record) {
        /* create_graph: the same formulas with ops, the statistics recomputed from x so
         * that they are differentiated too (second derivatives) */
        tg_tensor *mean, *var, *xh = normalise(t, x, naxes, axes, n->a.bn.eps, &mean, &var);
        tg_tensor *rstd = tg_pow_scalar(t, tg_add_scalar(t, var, n->a.bn.eps), -0.5);
        tg_tensor *gxh = tg_mul(t, g, xh);
        if (x->requires_grad) {
            tg_tensor *centred = tg_sub(t, g, tg_mean(t, g, naxes, axes, true));
            tg_tensor *proj = tg_mul(t, xh, tg_mean(t, gxh, naxes, axes, true));
            tg_tensor *scale = tg_mul(t, tg_reshape(t, gamma, x->ndim, kshape), rstd);
            gi[0] = tg_mul(t, tg_sub(t, centred, proj), scale);
        }
        if (gamma->requires_grad)
            gi[1] = tg_sum(t, gxh, naxes, axes, false);
        if (beta->requires_grad)
            gi[2] = tg_sum(t, g, naxes, axes, false);
        return;
    }
    const tg_tensor *gd = tg__dense_of(t, g), *xd = tg__dense_of(t, x),
                    *gmd = tg__dense_of(t, gamma);
    tg_tensor *dx = x->requires_grad ? tg__new(t, x->dtype, x->ndim, x->shape) : NULL;
    tg_tensor *dg = gamma->requires_grad ? tg__new(t, x->dtype, 1, &C) : NULL;
    tg_tensor *db = beta->requires_grad ? tg__new(t, x->dtype, 1, &C) : NULL;
    if (!gd || !xd || !gmd || (x->requires_grad && !dx) || (gamma->requires_grad && !dg) ||
        (beta->requires_grad && !db))
        return; /* out of memory: the tape's sticky error says so */
    tg__k_batch_norm_backward(x->dtype, dx ? dx->data : NULL, dg ? dg->data : NULL,
                              db ? db->data : NULL, first_of(gd), first_of(xd), N, C, S,
                              first_of(gmd), n->a.bn.eps, n->a.bn.mean, n->a.bn.var);
    gi[0] = dx;
    gi[1] = dg;
    gi[2] = db;
}

tg_tensor *tg_batch_norm(tg_tape *t, tg_tensor *x, tg_tensor *gamma, tg_tensor *beta,
                         tg_tensor *running_mean, tg_tensor *running_var, double momentum,
                         double eps, bool training)
{
    const char *fn = "tg_batch_norm";
    TG__GUARD(t, fn, x);
    if (!tg__opt_input_ok(t, fn, gamma) || !tg__opt_input_ok(t, fn, beta) ||
        !tg__opt_input_ok(t, fn, running_mean) || !tg__opt_input_ok(t, fn, running_var))
        return NULL;
    if (!tg__check_float(t, x, fn))
        return NULL;
    if (x->ndim < 2)
        return tg__fail(t, TG_ESHAPE, "%s: x must be [N, C] or [N, C, ...], got %s", fn,
                        tg__shape_str(x).s);
    int64_t C = x->shape[1];
    if (!check_param(t, x, gamma, 1, &C, "gamma", fn) ||
        !check_param(t, x, beta, 1, &C, "beta", fn) ||
        !check_param(t, x, running_mean, 1, &C, "running_mean", fn) ||
        !check_param(t, x, running_var, 1, &C, "running_var", fn))
        return NULL;
    if (!running_mean != !running_var)
        return tg__fail(t, TG_EINVAL, "%s: give both running_mean and running_var, or neither", fn);
    if (!(eps > 0) || !(momentum >= 0 && momentum <= 1))
        return tg__fail(t, TG_EINVAL, "%s: eps %g must be > 0 and momentum %g in [0, 1]", fn, eps,
                        momentum);
    int64_t kshape[TG_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++)
        kshape[d] = d == 1 ? C : 1;
    int64_t count = C ? tg_tensor_numel(x) / C : 0;
    tg_tensor *y;
    const double *mean = NULL, *var = NULL;
    if (training || !running_mean) {
        if (training && count < 2)
            return tg__fail(t, TG_ESHAPE,
                            "%s: training needs more than one value per channel, got x %s", fn,
                            tg__shape_str(x).s);
        y = batch_norm_op(t, x, gamma, beta, eps, &mean, &var);
    } else {
        /* y = x a + b per channel: a = gamma / sqrt(var + eps), b = beta - mean a ([C]) */
        tg_tensor *a = tg_pow_scalar(t, tg_add_scalar(t, running_var, eps), -0.5);
        if (gamma)
            a = tg_mul(t, a, gamma);
        tg_tensor *b = tg_neg(t, tg_mul(t, running_mean, a));
        if (beta)
            b = tg_add(t, b, beta);
        y = tg_add(t, tg_mul(t, x, tg_reshape(t, a, x->ndim, kshape)),
                   tg_reshape(t, b, x->ndim, kshape));
    }
    if (!y)
        return NULL;
    if (training && running_mean) {
        /* outside the tape, no gradient; unbiased variance for the running estimate */
        double unbias = (double)count / (double)(count - 1);
        for (int64_t c = 0; c < C; c++) {
            double rm = tg_tensor_get_flat(running_mean, c);
            double rv = tg_tensor_get_flat(running_var, c);
            double bm = mean[c], bv = var[c] * unbias;
            tg_tensor_set_flat(running_mean, c, (1 - momentum) * rm + momentum * bm);
            tg_tensor_set_flat(running_var, c, (1 - momentum) * rv + momentum * bv);
        }
    }
    return y;
}

tg_tensor *tg_layer_norm(tg_tape *t, tg_tensor *x, int n_last_dims, tg_tensor *gamma,
                         tg_tensor *beta, double eps)
{
    const char *fn = "tg_layer_norm";
    TG__GUARD(t, fn, x);
    if (!tg__opt_input_ok(t, fn, gamma) || !tg__opt_input_ok(t, fn, beta))
        return NULL;
    if (!tg__check_float(t, x, fn))
        return NULL;
    if (n_last_dims < 1 || n_last_dims > x->ndim)
        return tg__fail(t, TG_ERANGE, "%s: n_last_dims %d out of range for x %s", fn, n_last_dims,
                        tg__shape_str(x).s);
    const int64_t *nshape = x->shape + x->ndim - n_last_dims;
    if (!check_param(t, x, gamma, n_last_dims, nshape, "gamma", fn) ||
        !check_param(t, x, beta, n_last_dims, nshape, "beta", fn))
        return NULL;
    if (!(eps > 0))
        return tg__fail(t, TG_EINVAL, "%s: eps %g must be > 0", fn, eps);
    int axes[TG_MAX_DIMS];
    for (int i = 0; i < n_last_dims; i++)
        axes[i] = x->ndim - n_last_dims + i;
    tg_tensor *mean, *var;
    tg_tensor *y = normalise(t, x, n_last_dims, axes, eps, &mean, &var);
    if (gamma)
        y = tg_mul(t, y, gamma);
    if (beta)
        y = tg_add(t, y, beta);
    return y;
}

