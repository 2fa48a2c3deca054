/* Indexing along the last axis. Registered ops: gather_last and scatter_add_last, each
 * the other's adjoint (kernels in src/tensor/window.c). */
#include <string.h>

#include "cnn.h"
#include "internal.h"

/* idx is I32 with `like`'s leading dims (all but the last); false with an error if not */
static bool check_index(tg_tape *t, const tg_tensor *like, const tg_tensor *idx, const char *fn)
{
    bool ok = idx->dtype == TG_I32 && idx->ndim == like->ndim && like->ndim >= 1;
    for (int d = 0; ok && d < like->ndim - 1; d++)
        ok = idx->shape[d] == like->shape[d];
    if (!ok)
        tg__fail(t, TG_ESHAPE, "%s: idx %s %s does not fit %s (want i32 with the same leading dims)",
                 fn, tg__shape_str(idx).s, tg_dtype_name(idx->dtype), tg__shape_str(like).s);
    return ok;
}

/* every index of the contiguous I32 tensor in [0, size); else an error */
static bool check_range(tg_tape *t, const tg_tensor *idx, int64_t size, const char *fn)
{
    const int32_t *ip = (const int32_t *)idx->data + idx->offset;
    int64_t n = tg_tensor_numel(idx);
    for (int64_t i = 0; i < n; i++)
        if (ip[i] < 0 || ip[i] >= size) {
            tg__fail(t, TG_ERANGE, "%s: index %d at %lld out of range [0, %lld)", fn, (int)ip[i],
                     (long long)i, (long long)size);
            return false;
        }
    return true;
}


tg_tensor *tg_gather_last(tg_tape *t, tg_tensor *x, tg_tensor *idx)
{
    const char *fn = "tg_gather_last";
    TG__GUARD(t, fn, x, idx);
    if (!tg__check_float(t, x, fn) || !check_index(t, x, idx, fn))
        return NULL;
    int64_t P = x->shape[x->ndim - 1], Q = idx->shape[idx->ndim - 1];
    const tg_tensor *xd = tg__dense_of(t, x), *id = tg__dense_of(t, idx);
    if (!xd || !id || !check_range(t, id, P, fn))
        return NULL;
    tg_tensor *out = tg__new(t, x->dtype, idx->ndim, idx->shape);
    if (!out)
        return NULL;
    int64_t rows = Q ? tg_tensor_numel(idx) / Q : 0;
    const int32_t *ip = (const int32_t *)id->data + id->offset;
    size_t es = tg_dtype_size(x->dtype);
    tg__k_gather_last(x->dtype, out->data, (const char *)xd->data + (size_t)xd->offset * es, ip,
                      rows, P, Q);
    tg_tensor *in[2] = {x, idx};
    return tg__record(t, TG_OP_GATHER_LAST, 2, in, out, NULL);
}

void tg__bwd_gather_last(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    const tg_tensor *x = n->in[0];
    gi[0] = tg_scatter_add_last(t, g, n->in[1], x->shape[x->ndim - 1]);
}

tg_tensor *tg_scatter_add_last(tg_tape *t, tg_tensor *src, tg_tensor *idx, int64_t size)
{
    const char *fn = "tg_scatter_add_last";
    TG__GUARD(t, fn, src, idx);
    if (!tg__check_float(t, src, fn) || !check_index(t, src, idx, fn))
        return NULL;
    if (idx->shape[idx->ndim - 1] != src->shape[src->ndim - 1])
        return tg__fail(t, TG_ESHAPE, "%s: idx %s must have the shape of src %s", fn,
                        tg__shape_str(idx).s, tg__shape_str(src).s);
    if (size < 0 || size > INT32_MAX)
        return tg__fail(t, TG_EINVAL, "%s: size %lld out of range [0, 2^31)", fn, (long long)size);
    int64_t shape[TG_MAX_DIMS], Q = src->shape[src->ndim - 1];
    memcpy(shape, src->shape, sizeof shape);
    shape[src->ndim - 1] = size;
    const tg_tensor *sd = tg__dense_of(t, src), *id = tg__dense_of(t, idx);
    if (!sd || !id || !check_range(t, id, size, fn))
        return NULL;
    tg_tensor *out = tg__new(t, src->dtype, src->ndim, shape);
    if (!out)
        return NULL;
    int64_t rows = 1;
    for (int d = 0; d < src->ndim - 1; d++)
        rows *= src->shape[d];
    const int32_t *ip = (const int32_t *)id->data + id->offset;
    size_t es = tg_dtype_size(src->dtype);
    tg__k_scatter_add_last(src->dtype, out->data, (const char *)sd->data + (size_t)sd->offset * es,
                           ip, rows, size, Q);
    tg_tensor *in[2] = {src, idx};
    tg__args a = {.scatter_size = size};
    return tg__record(t, TG_OP_SCATTER_ADD_LAST, 2, in, out, &a);
}

void tg__bwd_scatter_add_last(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    gi[0] = tg_gather_last(t, g, n->in[1]);
}
