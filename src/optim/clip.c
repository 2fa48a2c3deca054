/* Gradient clipping (by value, by global norm) and early stopping: plain loops over the
 * parameters' gradients and snapshots of their values. */
#include <math.h>
#include <string.h>

#include "../util.h"
#include "internal.h"
#include "optim.h"

#define TG__GRAD_KERNELS(T, S)                                                         \
    static void clip_value_##S(int64_t n, T *restrict g, T c)                          \
    {                                                                                  \
        for (int64_t i = 0; i < n; i++) {                                              \
            T gi = g[i];                                                               \
            g[i] = gi > c ? c : (gi < -c ? -c : gi);                                   \
        }                                                                              \
    }                                                                                  \
    static void scale_##S(int64_t n, T *restrict g, T s)                               \
    {                                                                                  \
        for (int64_t i = 0; i < n; i++)                                                \
            g[i] *= s;                                                                 \
    }

TG__GRAD_KERNELS(float, f32)
TG__GRAD_KERNELS(double, f64)

/* sum of squares, accumulated in double in a fixed order */
static double sumsq(const tg_tensor *g, int64_t n, const void *data)
{
    double s = 0;
    if (g->dtype == TG_F32) {
        const float *x = data;
        for (int64_t i = 0; i < n; i++)
            s += (double)x[i] * (double)x[i];
    } else {
        const double *x = data;
        for (int64_t i = 0; i < n; i++)
            s += x[i] * x[i];
    }
    return s;
}

/* ------------------------------------------------------------------ clipping */

static tg_status check_clip_args(const char *fn, int n, tg_tensor *const *params)
{
    if (n < 0)
        return tg__error_status(TG_EINVAL, "%s: n = %d, need >= 0", fn, n);
    if (n > 0 && !params)
        return tg__error_status(TG_EINVAL, "%s: params is NULL", fn);
    for (int i = 0; i < n; i++) {
        if (!params[i])
            return tg__error_status(TG_EINVAL, "%s: params[%d] is NULL", fn, i);
        const tg_tensor *g = params[i]->grad;
        if (g && (!tg__is_float(g->dtype) || !tg_tensor_is_contiguous(g)))
            return tg__error_status(TG_ESTATE,
                                    "%s: gradient of params[%d] (%s %s) is not a contiguous "
                                    "f32/f64 tensor",
                                    fn, i, tg_dtype_name(g->dtype), tg__shape_str(g).s);
    }
    return TG_OK;
}

tg_status tg_clip_grad_value(int n, tg_tensor *const *params, double clip)
{
    static const char *const fn = "tg_clip_grad_value";
    if (!tg__nonneg(clip))
        return tg__error_status(TG_EINVAL, "%s: clip = %g, need a finite value >= 0", fn, clip);
    tg_status s = check_clip_args(fn, n, params);
    if (s != TG_OK)
        return s;
    for (int i = 0; i < n; i++) {
        tg_tensor *g = params[i]->grad;
        if (!g)
            continue;
        if (g->dtype == TG_F32)
            clip_value_f32(tg_tensor_numel(g), tg__optim_elems(g), (float)clip);
        else
            clip_value_f64(tg_tensor_numel(g), tg__optim_elems(g), clip);
    }
    return TG_OK;
}

tg_status tg_clip_grad_norm(int n, tg_tensor *const *params, double max_norm,
                            double *total_norm_out)
{
    static const char *const fn = "tg_clip_grad_norm";
    if (!tg__nonneg(max_norm))
        return tg__error_status(TG_EINVAL, "%s: max_norm = %g, need a finite value >= 0", fn,
                                max_norm);
    tg_status s = check_clip_args(fn, n, params);
    if (s != TG_OK)
        return s;
    double ss = 0;
    for (int i = 0; i < n; i++) {
        const tg_tensor *g = params[i]->grad;
        if (g)
            ss += sumsq(g, tg_tensor_numel(g), tg__optim_elems(g));
    }
    double norm = sqrt(ss);
    if (total_norm_out)
        *total_norm_out = norm;
    if (!isfinite(norm))
        return tg__error_status(TG_ENUMERIC, "%s: the gradient norm is %g", fn, norm);
    if (norm <= max_norm)
        return TG_OK;
    double scale = max_norm / (norm + 1e-6);
    for (int i = 0; i < n; i++) {
        tg_tensor *g = params[i]->grad;
        if (!g)
            continue;
        if (g->dtype == TG_F32)
            scale_f32(tg_tensor_numel(g), tg__optim_elems(g), (float)scale);
        else
            scale_f64(tg_tensor_numel(g), tg__optim_elems(g), scale);
    }
    return TG_OK;
}

/* ------------------------------------------------------------------ early stopping */

struct tg_early_stop {
    int n;
    int patience;
    int wait;
    double min_delta;
    double best;
    int64_t best_epoch;
    int64_t epoch;        /* updates so far */
    tg_tensor **params;   /* n, borrowed */
    void **snap;          /* n snapshots of the parameters' bytes, owned */
};

void tg_early_stop_free(tg_early_stop **pe)
{
    if (!pe || !*pe)
        return;
    tg_early_stop *e = *pe;
    if (e->snap)
        for (int i = 0; i < e->n; i++)
            tg__mfree(e->snap[i]);
    tg__mfree(e->snap);
    tg__mfree(e->params);
    tg__mfree(e);
    *pe = NULL;
}

static size_t param_bytes(const tg_tensor *p)
{
    return (size_t)tg_tensor_numel(p) * tg_dtype_size(p->dtype);
}

static void snapshot(tg_early_stop *e)
{
    for (int i = 0; i < e->n; i++)
        if (param_bytes(e->params[i]) > 0)
            memcpy(e->snap[i], tg__optim_elems(e->params[i]), param_bytes(e->params[i]));
}

tg_early_stop *tg_early_stop_new(int n, tg_tensor *const *params, int patience,
                                 double min_delta)
{
    static const char *const fn = "tg_early_stop_new";
    if (tg__optim_check_params(fn, n, params, true) != TG_OK)
        return NULL;
    if (patience < 1)
        return tg__error(TG_EINVAL, "%s: patience = %d, need >= 1", fn, patience);
    if (!tg__nonneg(min_delta))
        return tg__error(TG_EINVAL, "%s: min_delta = %g, need a finite value >= 0", fn,
                         min_delta);
    tg_early_stop *e = tg__calloc(sizeof *e);
    if (!e)
        return tg__error(TG_ENOMEM, "%s: out of memory", fn);
    e->n = n;
    e->patience = patience;
    e->min_delta = min_delta;
    e->best = INFINITY;
    e->best_epoch = -1;
    e->params = tg__malloc((size_t)n * sizeof *e->params);
    e->snap = tg__calloc((size_t)n * sizeof *e->snap);
    if (!e->params || !e->snap) {
        tg_early_stop_free(&e);
        return tg__error(TG_ENOMEM, "%s: out of memory", fn);
    }
    memcpy(e->params, params, (size_t)n * sizeof *e->params);
    for (int i = 0; i < n; i++) {
        e->snap[i] = tg__malloc(param_bytes(params[i]));
        if (!e->snap[i]) {
            tg_early_stop_free(&e);
            return tg__error(TG_ENOMEM, "%s: out of memory for a snapshot of params[%d]", fn,
                             i);
        }
    }
    snapshot(e);
    return e;
}

bool tg_early_stop_update(tg_early_stop *e, double val_loss)
{
    if (!e)
        return false;
    if (val_loss < e->best - e->min_delta) {
        e->best = val_loss;
        e->best_epoch = e->epoch;
        e->wait = 0;
        snapshot(e);
    } else {
        e->wait++;
    }
    e->epoch++;
    return e->wait >= e->patience;
}

tg_status tg_early_stop_restore(tg_early_stop *e)
{
    if (!e)
        return tg__error_status(TG_EINVAL, "tg_early_stop_restore: NULL object");
    for (int i = 0; i < e->n; i++)
        if (param_bytes(e->params[i]) > 0)
            memcpy(tg__optim_elems(e->params[i]), e->snap[i], param_bytes(e->params[i]));
    return TG_OK;
}

double tg_early_stop_best(const tg_early_stop *e)
{
    return e ? e->best : NAN;
}

int64_t tg_early_stop_best_epoch(const tg_early_stop *e)
{
    return e ? e->best_epoch : -1;
}

int tg_early_stop_wait(const tg_early_stop *e)
{
    return e ? e->wait : 0;
}

