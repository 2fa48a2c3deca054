/* Pooling. Registered op: max_pool2d (max and argmax in one pass, kernel in
 * src/tensor/window.c; backward a scatter-add of the gradient to each window's
 * argmax). Average and L2 pooling are im2col + mean (+ square and sqrt), global average
 * pooling a mean: their gradients come from those ops. */
#include "cnn.h"
#include "internal.h"

/* checks of a pooling call: x an image, the window (stride NULL = kernel), padding at
 * most half the kernel so every window holds an image element */
static bool pool_window(tg_tape *t, const tg_tensor *x, const int64_t *kernel,
                        const int64_t *stride, const int64_t *padding, tg__win2d *w, int64_t *Ho,
                        int64_t *Wo, const char *fn)
{
    if (!tg__check_image(t, x, fn) ||
        !tg__make_window(t, w, kernel, stride ? stride : kernel, padding, NULL, fn) ||
        !tg__window_fit(t, w, x->shape[2], x->shape[3], x, Ho, Wo, fn))
        return false;
    if (2 * w->p[0] > w->k[0] || 2 * w->p[1] > w->k[1]) {
        tg__fail(t, TG_EINVAL,
                 "%s: padding (%lld,%lld) larger than half the kernel (%lld,%lld) (x %s)", fn,
                 (long long)w->p[0], (long long)w->p[1], (long long)w->k[0], (long long)w->k[1],
                 tg__shape_str(x).s);
        return false;
    }
    return true;
}


tg_tensor *tg_max_pool2d(tg_tape *t, tg_tensor *x, const int64_t kernel[2],
                         const int64_t stride[2], const int64_t padding[2])
{
    const char *fn = "tg_max_pool2d";
    tg__win2d w;
    int64_t Ho, Wo;
    TG__GUARD(t, fn, x);
    if (!pool_window(t, x, kernel, stride, padding, &w, &Ho, &Wo, fn))
        return NULL;
    int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    if (H * W > INT32_MAX)
        return tg__fail(t, TG_EINVAL, "%s: planes of x %s too large", fn, tg__shape_str(x).s);
    /* padding lets an empty plane have windows, and they would hold no element to pick */
    if ((H == 0 || W == 0) && N * C > 0 && Ho * Wo > 0)
        return tg__fail(t, TG_ESHAPE, "%s: x %s has empty planes but padded windows (%lld,%lld)",
                        fn, tg__shape_str(x).s, (long long)w.p[0], (long long)w.p[1]);
    tg_tensor *out = tg__new(t, x->dtype, 4, (int64_t[]){N, C, Ho, Wo});
    tg_tensor *arg = out ? tg__new(t, TG_I32, 3, (int64_t[]){N, C, Ho * Wo}) : NULL;
    if (!arg)
        return NULL;
    tg__k_max_pool2d(out, arg, x, &w);
    tg_tensor *in[2] = {x, arg};
    return tg__record(t, TG_OP_MAX_POOL2D, 2, in, out, NULL);
}

void tg__bwd_max_pool2d(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    /* the gradient goes to each window's argmax: a scatter-add over the planes */
    const tg_tensor *x = n->in[0], *arg = n->in[1];
    tg_tensor *gf = tg_reshape(t, g, 3, arg->shape);
    tg_tensor *s = tg_scatter_add_last(t, gf, n->in[1], x->shape[2] * x->shape[3]);
    gi[0] = tg_reshape(t, s, 4, x->shape);
}

typedef enum { POOL_AVG, POOL_L2 } pool_kind;

static tg_tensor *pool2d(tg_tape *t, tg_tensor *x, const int64_t *kernel, const int64_t *stride,
                         const int64_t *padding, pool_kind kind, const char *fn)
{
    tg__win2d w;
    int64_t Ho, Wo;
    TG__GUARD(t, fn, x);
    if (!pool_window(t, x, kernel, stride, padding, &w, &Ho, &Wo, fn))
        return NULL;
    int64_t N = x->shape[0], C = x->shape[1];
    tg_tensor *src = kind == POOL_L2 ? tg_mul(t, x, x) : x;
    tg_tensor *cols = tg_im2col(t, src, w.k, w.s, w.p, w.d, 0.0);
    cols = tg_reshape(t, cols, 4, (int64_t[]){N, C, w.k[0] * w.k[1], Ho * Wo});
    int axis = 2;
    tg_tensor *r = tg_mean(t, cols, 1, &axis, false);
    if (kind == POOL_L2)
        r = tg_sqrt(t, r);
    return tg_reshape(t, r, 4, (int64_t[]){N, C, Ho, Wo});
}

tg_tensor *tg_avg_pool2d(tg_tape *t, tg_tensor *x, const int64_t kernel[2],
                         const int64_t stride[2], const int64_t padding[2])
{
    return pool2d(t, x, kernel, stride, padding, POOL_AVG, "tg_avg_pool2d");
}

tg_tensor *tg_l2_pool2d(tg_tape *t, tg_tensor *x, const int64_t kernel[2],
                        const int64_t stride[2], const int64_t padding[2])
{
    return pool2d(t, x, kernel, stride, padding, POOL_L2, "tg_l2_pool2d");
}

tg_tensor *tg_global_avg_pool2d(tg_tape *t, tg_tensor *x)
{
    TG__GUARD(t, "tg_global_avg_pool2d", x);
    if (!tg__check_image(t, x, "tg_global_avg_pool2d"))
        return NULL;
    return tg_mean(t, x, 2, (int[]){2, 3}, false);
}

