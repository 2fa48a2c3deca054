/* Shape ops: permute/transpose, contiguous, reshape/flatten, slice, expand and concat.
 * Every one but contiguous and concat returns a view of its input (no copy); each
 * backward is written with ops (the inverse permutation, a reshape, slice_backward,
 * sum_to, slices of the gradient). */
#include <string.h>

#include "cnn.h"
#include "internal.h"

/* ------------------------------------------------------------------- views */

static tg_tensor *view_out(tg_tape *t, tg_tensor *x, const tg_tensor *v, int op,
                           const tg__args *a)
{
    tg_tensor *out = tg__new_view(t, v);
    return out ? tg__record(t, op, 1, &x, out, a) : NULL;
}

tg_tensor *tg_permute(tg_tape *t, tg_tensor *x, const int *perm)
{
    TG__GUARD(t, "tg_permute", x);
    tg_tensor v;
    char err[TG_ERRMSG];
    tg_status s = tg__view_permute(&v, x, perm, err, sizeof err);
    if (s != TG_OK)
        return tg__fail(t, s, "tg_permute: %s", err);
    tg__args a = {0};
    for (int i = 0; i < x->ndim; i++)
        a.perm[i] = perm[i];
    return view_out(t, x, &v, TG_OP_PERMUTE, &a);
}

tg_tensor *tg_transpose(tg_tape *t, tg_tensor *x, int d0, int d1)
{
    TG__GUARD(t, "tg_transpose", x);
    if (!tg__norm_axis(t, x, &d0, "tg_transpose") || !tg__norm_axis(t, x, &d1, "tg_transpose"))
        return NULL;
    int perm[TG_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++)
        perm[i] = i;
    perm[d0] = d1;
    perm[d1] = d0;
    return tg_permute(t, x, perm);
}

void tg__bwd_permute(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    int inv[TG_MAX_DIMS];
    for (int i = 0; i < n->in[0]->ndim; i++)
        inv[n->a.perm[i]] = i;
    gi[0] = tg_permute(t, g, inv);
}

tg_tensor *tg_contiguous(tg_tape *t, tg_tensor *x)
{
    TG__GUARD(t, "tg_contiguous", x);
    tg_tensor *out = tg__new(t, x->dtype, x->ndim, x->shape);
    if (!out)
        return NULL;
    tg__k_unary(out, x, TG_U_COPY, 0);
    return tg__record(t, TG_OP_CONTIGUOUS, 1, &x, out, NULL);
}

void tg__bwd_contiguous(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    (void)t;
    (void)n;
    gi[0] = g;
}

tg_tensor *tg_reshape(tg_tape *t, tg_tensor *x, int ndim, const int64_t *shape)
{
    TG__GUARD(t, "tg_reshape", x);
    tg_tensor v;
    char err[TG_ERRMSG];
    /* validate against a contiguous stand-in first, so a bad shape is reported as such */
    tg_tensor probe;
    tg__init_header(&probe, x->dtype, x->ndim, x->shape);
    tg_status s = tg__view_reshape(&v, &probe, ndim, shape, err, sizeof err);
    if (s != TG_OK)
        return tg__fail(t, s, "tg_reshape: %s", err);
    const tg_tensor *src = x;
    tg_tensor *copy = NULL;
    if (!tg_tensor_is_contiguous(x)) {
        copy = tg__new(t, x->dtype, x->ndim, x->shape);
        if (!copy)
            return NULL;
        tg__k_unary(copy, x, TG_U_COPY, 0);
        src = copy;
    }
    tg__view_reshape(&v, src, ndim, shape, err, sizeof err);
    return view_out(t, x, &v, TG_OP_RESHAPE, NULL);
}

void tg__bwd_reshape(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    gi[0] = tg_reshape(t, g, n->in[0]->ndim, n->in[0]->shape);
}

/* all axes from start_axis on merged into one: a reshape */
tg_tensor *tg_flatten(tg_tape *t, tg_tensor *x, int start_axis)
{
    TG__GUARD(t, "tg_flatten", x);
    if (x->ndim == 0)
        return tg_reshape(t, x, 1, (int64_t[]){1});
    int s = start_axis < 0 ? start_axis + x->ndim : start_axis;
    if (s < 0 || s >= x->ndim)
        return tg__fail(t, TG_ERANGE, "tg_flatten: start_axis %d out of range for x %s",
                        start_axis, tg__shape_str(x).s);
    int64_t shape[TG_MAX_DIMS];
    for (int d = 0; d < s; d++)
        shape[d] = x->shape[d];
    if (!tg__numel(x->ndim - s, x->shape + s, &shape[s]))
        return tg__fail(t, TG_ESHAPE, "tg_flatten: axes %d.. of x %s overflow", s,
                        tg__shape_str(x).s);
    return tg_reshape(t, x, s + 1, shape);
}

tg_tensor *tg_slice(tg_tape *t, tg_tensor *x, const int64_t *start, const int64_t *stop,
                    const int64_t *step)
{
    TG__GUARD(t, "tg_slice", x);
    tg_tensor v;
    char err[TG_ERRMSG];
    tg_status s = tg__view_slice(&v, x, start, stop, step, err, sizeof err);
    if (s != TG_OK)
        return tg__fail(t, s, "tg_slice: %s", err);
    tg__args a = {0};
    for (int i = 0; i < x->ndim; i++) {
        int64_t b = start[i] < 0 ? start[i] + x->shape[i] : start[i];
        a.slice.start[i] = b;
        /* normalised stop: one past the last element taken (b + len * step overflows
         * for a huge step) */
        a.slice.stop[i] = v.shape[i] ? b + (v.shape[i] - 1) * step[i] + 1 : b;
        a.slice.step[i] = step[i];
    }
    return view_out(t, x, &v, TG_OP_SLICE, &a);
}

void tg__bwd_slice(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    const tg__args *a = &n->a;
    gi[0] = tg_slice_backward(t, g, n->in[0], a->slice.start, a->slice.stop, a->slice.step);
}

tg_tensor *tg_slice_backward(tg_tape *t, tg_tensor *g, const tg_tensor *like,
                             const int64_t *start, const int64_t *stop, const int64_t *step)
{
    if (!like) /* only like's shape is read */
        return NULL;
    TG__GUARD(t, "tg_slice_backward", g);
    if (!tg__check_float(t, g, "tg_slice_backward"))
        return NULL;
    tg_tensor region;
    char err[TG_ERRMSG];
    tg_status s = tg__view_slice(&region, like, start, stop, step, err, sizeof err);
    if (s != TG_OK)
        return tg__fail(t, s, "tg_slice_backward: %s", err);
    if (!tg_tensor_same_shape(&region, g))
        return tg__fail(t, TG_ESHAPE, "tg_slice_backward: gradient %s does not fit region %s",
                        tg__shape_str(g).s, tg__shape_str(&region).s);
    tg_tensor *out = tg__new(t, g->dtype, like->ndim, like->shape);
    if (!out)
        return NULL;
    tg__k_fill(out, 0);
    tg__view_slice(&region, out, start, stop, step, err, sizeof err);
    tg__k_unary(&region, g, TG_U_COPY, 0);
    tg__args a = {0};
    for (int i = 0; i < like->ndim; i++) {
        int64_t b = start[i] < 0 ? start[i] + like->shape[i] : start[i];
        a.slice.start[i] = b;
        a.slice.stop[i] = g->shape[i] ? b + (g->shape[i] - 1) * step[i] + 1 : b;
        a.slice.step[i] = step[i];
    }
    return tg__record(t, TG_OP_SLICE_BWD, 1, &g, out, &a);
}

void tg__bwd_slice_bwd(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    gi[0] = tg_slice(t, g, n->a.slice.start, n->a.slice.stop, n->a.slice.step);
}

tg_tensor *tg_expand(tg_tape *t, tg_tensor *x, int ndim, const int64_t *shape)
{
    TG__GUARD(t, "tg_expand", x);
    tg_tensor v;
    char err[TG_ERRMSG];
    tg_status s = tg__view_expand(&v, x, ndim, shape, err, sizeof err);
    if (s != TG_OK)
        return tg__fail(t, s, "tg_expand: %s", err);
    return view_out(t, x, &v, TG_OP_EXPAND, NULL);
}

void tg__bwd_expand(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    gi[0] = tg_sum_to(t, g, n->in[0]);
}

tg_tensor *tg_concat(tg_tape *t, int n, tg_tensor *const *xs, int axis)
{
    if (TG__FAILED(t))
        return NULL;
    if (n < 1 || !xs)
        return tg__fail(t, TG_EINVAL, "tg_concat: need at least one tensor");
    if (!tg__inputs_ok(t, "tg_concat", n, (const tg_tensor *const *)xs))
        return NULL;
    tg_tensor *x0 = xs[0];
    if (!tg__check_float(t, x0, "tg_concat") || !tg__norm_axis(t, x0, &axis, "tg_concat"))
        return NULL;
    int64_t shape[TG_MAX_DIMS];
    memcpy(shape, x0->shape, sizeof shape);
    shape[axis] = 0;
    for (int i = 0; i < n; i++) {
        const tg_tensor *x = xs[i];
        bool ok = x->ndim == x0->ndim && x->dtype == x0->dtype;
        for (int d = 0; ok && d < x->ndim; d++)
            ok = d == axis || x->shape[d] == x0->shape[d];
        if (!ok)
            return tg__fail(t, TG_ESHAPE, "tg_concat: tensor %d %s %s does not match %s %s on axis %d",
                            i, tg__shape_str(x).s, tg_dtype_name(x->dtype), tg__shape_str(x0).s,
                            tg_dtype_name(x0->dtype), axis);
        if (!tg__add_ok(shape[axis], x->shape[axis], &shape[axis]))
            return tg__fail(t, TG_ESHAPE, "tg_concat: the sizes on axis %d overflow at tensor %d "
                            "%s", axis, i, tg__shape_str(x).s);
    }
    tg_tensor *out = tg__new(t, x0->dtype, x0->ndim, shape);
    if (!out)
        return NULL;
    int64_t off = 0;
    for (int i = 0; i < n; i++) {
        tg_tensor part = *out;
        part.offset += off * out->stride[axis];
        part.shape[axis] = xs[i]->shape[axis];
        tg__k_unary(&part, xs[i], TG_U_COPY, 0);
        off += xs[i]->shape[axis];
    }
    tg__args a = {.axis = axis};
    return tg__record(t, TG_OP_CONCAT, n, xs, out, &a);
}

void tg__bwd_concat(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    int64_t start[TG_MAX_DIMS] = {0}, stop[TG_MAX_DIMS], step[TG_MAX_DIMS];
    for (int d = 0; d < g->ndim; d++) {
        stop[d] = g->shape[d];
        step[d] = 1;
    }
    int ax = n->a.axis;
    int64_t off = 0;
    for (int i = 0; i < n->n_in; i++) {
        start[ax] = off;
        stop[ax] = off + n->in[i]->shape[ax];
        if (n->in[i]->requires_grad)
            gi[i] = tg_slice(t, g, start, stop, step);
        off = stop[ax];
    }
}

