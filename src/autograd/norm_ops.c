/* Normalisation: batch and layer normalisation, compositions of registered ops (their
 * gradients, and second derivatives, come from those ops). Batch norm's running
 * estimates are updated outside the tape. */
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
    int axes[TG_MAX_DIMS], naxes = 0;
    int64_t kshape[TG_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) {
        kshape[d] = d == 1 ? C : 1;
        if (d != 1)
            axes[naxes++] = d;
    }
    int64_t count = C ? tg_tensor_numel(x) / C : 0;
    tg_tensor *y, *mean = NULL, *var = NULL;
    if (training || !running_mean) {
        if (training && count < 2)
            return tg__fail(t, TG_ESHAPE,
                            "%s: training needs more than one value per channel, got x %s", fn,
                            tg__shape_str(x).s);
        y = normalise(t, x, naxes, axes, eps, &mean, &var);
    } else {
        tg_tensor *m = tg_reshape(t, running_mean, x->ndim, kshape);
        tg_tensor *v = tg_reshape(t, running_var, x->ndim, kshape);
        y = tg_div(t, tg_sub(t, x, m), tg_sqrt(t, tg_add_scalar(t, v, eps)));
    }
    if (gamma)
        y = tg_mul(t, y, tg_reshape(t, gamma, x->ndim, kshape));
    if (beta)
        y = tg_add(t, y, tg_reshape(t, beta, x->ndim, kshape));
    if (!y)
        return NULL;
    if (training && running_mean) {
        /* outside the tape, no gradient; unbiased variance for the running estimate */
        double unbias = (double)count / (double)(count - 1);
        for (int64_t c = 0; c < C; c++) {
            double rm = tg_tensor_get_flat(running_mean, c);
            double rv = tg_tensor_get_flat(running_var, c);
            double bm = tg_tensor_get_flat(mean, c), bv = tg_tensor_get_flat(var, c) * unbias;
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

