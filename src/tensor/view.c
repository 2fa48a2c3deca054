/* Persistent views: the view arithmetic shared with the tape's view ops (reshape,
 * permute, slice, expand into a header) and the public tg_view_* functions, which share
 * their input's storage (no copy). */
#include <string.h>

#include "kernels.h"

/* ------------------------------------------------------------------- views */

tg_status tg__view_reshape(tg_tensor *out, const tg_tensor *x, int ndim, const int64_t *shape,
                           char *err, size_t errsz)
{
    int64_t n, want[TG_MAX_DIMS];
    if (ndim < 0 || ndim > TG_MAX_DIMS || (ndim && !shape)) {
        snprintf(err, errsz, "invalid rank %d", ndim);
        return TG_EINVAL;
    }
    int infer = -1;
    int64_t known = 1;
    for (int i = 0; i < ndim; i++) {
        want[i] = shape[i];
        if (shape[i] == -1 && infer < 0) {
            infer = i;
            continue;
        }
        if (shape[i] < 0 || (shape[i] && known > INT64_MAX / shape[i])) {
            snprintf(err, errsz, "invalid shape %s", tg__dims_str(ndim, shape).s);
            return TG_ESHAPE;
        }
        known *= shape[i];
    }
    int64_t have = tg_tensor_numel(x);
    if (infer >= 0) {
        if (known == 0 || have % known) {
            snprintf(err, errsz, "cannot reshape %s to %s", tg__shape_str(x).s,
                     tg__dims_str(ndim, shape).s);
            return TG_ESHAPE;
        }
        want[infer] = have / known;
    }
    if (!tg__numel(ndim, want, &n) || n != have) {
        snprintf(err, errsz, "cannot reshape %s (%lld elements) to %s", tg__shape_str(x).s,
                 (long long)have, tg__dims_str(ndim, shape).s);
        return TG_ESHAPE;
    }
    if (!tg_tensor_is_contiguous(x)) {
        snprintf(err, errsz, "cannot view non-contiguous %s as %s (make it contiguous first)",
                 tg__shape_str(x).s, tg__dims_str(ndim, want).s);
        return TG_ESHAPE;
    }
    tg_tensor v = *x;
    tg__init_header(out, x->dtype, ndim, want);
    out->offset = v.offset;
    out->data = v.data;
    out->storage = v.storage;
    return TG_OK;
}

tg_status tg__view_permute(tg_tensor *out, const tg_tensor *x, const int *perm, char *err,
                           size_t errsz)
{
    bool seen[TG_MAX_DIMS] = {0};
    if (x->ndim && !perm) {
        snprintf(err, errsz, "perm is NULL");
        return TG_EINVAL;
    }
    for (int i = 0; i < x->ndim; i++) {
        if (perm[i] < 0 || perm[i] >= x->ndim || seen[perm[i]]) {
            snprintf(err, errsz, "invalid permutation of %d axes (entry %d is %d)", x->ndim, i,
                     perm[i]);
            return TG_ERANGE;
        }
        seen[perm[i]] = true;
    }
    tg_tensor v = *x;
    *out = v;
    for (int i = 0; i < x->ndim; i++) {
        out->shape[i] = v.shape[perm[i]];
        out->stride[i] = v.stride[perm[i]];
    }
    return TG_OK;
}

tg_status tg__view_slice(tg_tensor *out, const tg_tensor *x, const int64_t *start,
                         const int64_t *stop, const int64_t *step, char *err, size_t errsz)
{
    if (x->ndim && (!start || !stop || !step)) {
        snprintf(err, errsz, "start/stop/step is NULL");
        return TG_EINVAL;
    }
    tg_tensor v = *x;
    *out = v;
    for (int i = 0; i < x->ndim; i++) {
        int64_t n = v.shape[i], b = start[i], e = stop[i];
        if (step[i] < 1) {
            snprintf(err, errsz, "step %lld on axis %d must be >= 1", (long long)step[i], i);
            return TG_EINVAL;
        }
        if (b < 0)
            b += n;
        if (e < 0)
            e += n;
        if (e > n)
            e = n;
        if (b < 0 || b > n || e < 0) {
            snprintf(err, errsz, "start %lld / stop %lld out of range for axis %d of %s",
                     (long long)start[i], (long long)stop[i], i, tg__shape_str(x).s);
            return TG_ERANGE;
        }
        /* ceil((e - b) / step) without forming e - b + step - 1 (step may be huge) */
        int64_t len = e > b ? 1 + (e - b - 1) / step[i] : 0;
        int64_t off, st = v.stride[i];
        if (len > 1 && !tg__mul_ok(st, step[i], &st)) {
            snprintf(err, errsz, "step %lld on axis %d of %s overflows the stride",
                     (long long)step[i], i, tg__shape_str(x).s);
            return TG_ERANGE;
        }
        /* b <= n and b * stride stays inside the storage for a valid x; checked anyway */
        if (!tg__mul_ok(b, v.stride[i], &off) || !tg__add_ok(out->offset, off, &off)) {
            snprintf(err, errsz, "start %lld on axis %d of %s overflows the offset",
                     (long long)start[i], i, tg__shape_str(x).s);
            return TG_ERANGE;
        }
        out->offset = off;
        out->shape[i] = len;
        out->stride[i] = st; /* one element or none: any stride, keep the axis's own */
    }
    return TG_OK;
}

tg_status tg__view_expand(tg_tensor *out, const tg_tensor *x, int ndim, const int64_t *shape,
                          char *err, size_t errsz)
{
    if (ndim < x->ndim || ndim > TG_MAX_DIMS || (ndim && !shape)) {
        snprintf(err, errsz, "cannot expand %s to rank %d", tg__shape_str(x).s, ndim);
        return TG_ESHAPE;
    }
    tg_tensor v = *x;
    *out = v;
    out->ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        int k = i - (ndim - v.ndim);
        int64_t have = k >= 0 ? v.shape[k] : 1;
        if (shape[i] < 0 || (have != shape[i] && have != 1)) {
            snprintf(err, errsz, "cannot expand %s to %s", tg__shape_str(x).s,
                     tg__dims_str(ndim, shape).s);
            return TG_ESHAPE;
        }
        out->shape[i] = shape[i];
        out->stride[i] = (k >= 0 && have == shape[i]) ? v.stride[k] : 0;
    }
    int64_t n;
    if (!tg__numel(ndim, out->shape, &n)) {
        snprintf(err, errsz, "cannot expand %s to %s: the element count overflows",
                 tg__shape_str(x).s, tg__dims_str(ndim, shape).s);
        return TG_ESHAPE;
    }
    return TG_OK;
}

#define PERSISTENT_VIEW(fn, call)                                                       \
    do {                                                                                \
        if (!t)                                                                         \
            return tg__error(TG_EINVAL, fn ": NULL tensor");                            \
        if (!t->storage)                                                                \
            return tg__error(TG_EINVAL, fn ": not a persistent tensor (use the tape op)"); \
        tg_tensor v;                                                                    \
        char err[TG_ERRMSG];                                                            \
        tg_status s = call;                                                             \
        if (s != TG_OK)                                                                 \
            return tg__error(s, fn ": %s", err);                                        \
        return tg__tensor_share(t, &v);                                                            \
    } while (0)

tg_tensor *tg_view_reshape(const tg_tensor *t, int ndim, const int64_t *shape)
{
    PERSISTENT_VIEW("tg_view_reshape", tg__view_reshape(&v, t, ndim, shape, err, sizeof err));
}

tg_tensor *tg_view_permute(const tg_tensor *t, const int *perm)
{
    PERSISTENT_VIEW("tg_view_permute", tg__view_permute(&v, t, perm, err, sizeof err));
}

tg_tensor *tg_view_transpose(const tg_tensor *t, int d0, int d1)
{
    int perm[TG_MAX_DIMS];
    if (!t)
        return tg__error(TG_EINVAL, "tg_view_transpose: NULL tensor");
    if (!t->storage)
        return tg__error(TG_EINVAL, "tg_view_transpose: not a persistent tensor (use the tape op)");
    if (d0 < 0 || d0 >= t->ndim || d1 < 0 || d1 >= t->ndim)
        return tg__error(TG_ERANGE, "tg_view_transpose: axes (%d, %d) out of range for %s", d0,
                         d1, tg__shape_str(t).s);
    for (int i = 0; i < t->ndim; i++)
        perm[i] = i;
    perm[d0] = d1;
    perm[d1] = d0;
    return tg_view_permute(t, perm);
}

tg_tensor *tg_view_slice(const tg_tensor *t, const int64_t *start, const int64_t *stop,
                         const int64_t *step)
{
    PERSISTENT_VIEW("tg_view_slice", tg__view_slice(&v, t, start, stop, step, err, sizeof err));
}

tg_tensor *tg_view_expand(const tg_tensor *t, int ndim, const int64_t *shape)
{
    PERSISTENT_VIEW("tg_view_expand", tg__view_expand(&v, t, ndim, shape, err, sizeof err));
}

tg_tensor *tg_tensor_contiguous(const tg_tensor *t)
{
    if (!t)
        return tg__error(TG_EINVAL, "tg_tensor_contiguous: NULL tensor");
    if (tg_tensor_is_contiguous(t) && t->storage)
        return tg__tensor_share(t, t);
    return tg_tensor_clone(t);
}

