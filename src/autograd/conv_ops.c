/* Convolution. Registered ops: im2col and col2im (each the other's adjoint), conv2d
 * (forward: each sample unfolded into cache-sized scratch and multiplied by one GEMM
 * per group, the bias written first; backward with matmul, col2im, conv2d_weight and
 * sum) and conv2d_weight (the weight gradient, sample by sample the same way; its own
 * backward is conv2d and the input-gradient ops). conv1d is a conv2d over [N, C, 1, L].
 * The loops are kernels in src/tensor/window.c; the window checks here are shared with
 * the pooling ops (pool_ops.c). */
#include <string.h>

#include "cnn.h"
#include "internal.h"

int64_t tg_conv_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dilation)
{
    if (in < 0 || k < 1 || stride < 1 || pad < 0 || dilation < 1)
        return -1;
    if (k - 1 > (INT64_MAX - 1) / dilation || pad > (INT64_MAX - in) / 2)
        return -1;
    int64_t eff = dilation * (k - 1) + 1, padded = in + 2 * pad;
    if (eff > padded)
        return -1;
    return (padded - eff) / stride + 1;
}

static const int64_t ONES[2] = {1, 1}, ZEROS[2] = {0, 0};

bool tg__make_window(tg_tape *t, tg__win2d *w, const int64_t *kernel, const int64_t *stride,
                        const int64_t *padding, const int64_t *dilation, const char *fn)
{
    if (!kernel) {
        tg__fail(t, TG_EINVAL, "%s: kernel size is NULL", fn);
        return false;
    }
    stride = stride ? stride : ONES;
    padding = padding ? padding : ZEROS;
    dilation = dilation ? dilation : ONES;
    for (int a = 0; a < 2; a++) {
        w->k[a] = kernel[a];
        w->s[a] = stride[a];
        w->p[a] = padding[a];
        w->d[a] = dilation[a];
    }
    if (w->k[0] < 1 || w->k[1] < 1 || w->s[0] < 1 || w->s[1] < 1 || w->p[0] < 0 || w->p[1] < 0 ||
        w->d[0] < 1 || w->d[1] < 1) {
        tg__fail(t, TG_EINVAL,
                 "%s: invalid window: kernel (%lld,%lld) stride (%lld,%lld) padding (%lld,%lld) "
                 "dilation (%lld,%lld) (kernel, stride, dilation >= 1; padding >= 0)",
                 fn, (long long)w->k[0], (long long)w->k[1], (long long)w->s[0],
                 (long long)w->s[1], (long long)w->p[0], (long long)w->p[1], (long long)w->d[0],
                 (long long)w->d[1]);
        return false;
    }
    return true;
}

bool tg__window_fit(tg_tape *t, const tg__win2d *w, int64_t H, int64_t W, const tg_tensor *x,
                       int64_t *Ho, int64_t *Wo, const char *fn)
{
    *Ho = tg_conv_out_size(H, w->k[0], w->s[0], w->p[0], w->d[0]);
    *Wo = tg_conv_out_size(W, w->k[1], w->s[1], w->p[1], w->d[1]);
    if (*Ho < 1 || *Wo < 1) {
        tg__fail(t, TG_ESHAPE,
                 "%s: kernel (%lld,%lld) with dilation (%lld,%lld) larger than the padded input: "
                 "x %s, padding (%lld,%lld)",
                 fn, (long long)w->k[0], (long long)w->k[1], (long long)w->d[0],
                 (long long)w->d[1], tg__shape_str(x).s, (long long)w->p[0], (long long)w->p[1]);
        return false;
    }
    return true;
}

bool tg__check_image(tg_tape *t, const tg_tensor *x, const char *fn)
{
    if (!tg__check_float(t, x, fn))
        return false;
    if (x->ndim != 4) {
        tg__fail(t, TG_ESHAPE, "%s: x must be [N, C, H, W], got %s", fn, tg__shape_str(x).s);
        return false;
    }
    return true;
}

/* ---------------------------------------------------------- im2col, col2im */

tg_tensor *tg_im2col(tg_tape *t, tg_tensor *x, const int64_t kernel[2], const int64_t stride[2],
                     const int64_t padding[2], const int64_t dilation[2], double pad_value)
{
    const char *fn = "tg_im2col";
    TG__GUARD(t, fn, x);
    tg__win2d w;
    int64_t Ho, Wo;
    if (!tg__check_image(t, x, fn) || !tg__make_window(t, &w, kernel, stride, padding, dilation, fn) ||
        !tg__window_fit(t, &w, x->shape[2], x->shape[3], x, &Ho, &Wo, fn))
        return NULL;
    int64_t rows, L;
    if (!tg__numel(3, (int64_t[]){x->shape[1], w.k[0], w.k[1]}, &rows) ||
        !tg__numel(2, (int64_t[]){Ho, Wo}, &L))
        return tg__fail(t, TG_EINVAL, "%s: window too large for x %s", fn, tg__shape_str(x).s);
    int64_t shape[3] = {x->shape[0], rows, L};
    tg_tensor *out = tg__new(t, x->dtype, 3, shape);
    if (!out)
        return NULL;
    tg__k_im2col(x, out->data, 0, x->shape[0], &w, Ho, Wo, pad_value, true);
    tg__args a = {.s = pad_value, .conv = {.win = w, .groups = 1}};
    return tg__record(t, TG_OP_IM2COL, 1, &x, out, &a);
}

void tg__bwd_im2col(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    /* linear in x; the padding constant gets no gradient */
    const tg__win2d w = n->a.conv.win;
    const tg_tensor *x = n->in[0];
    gi[0] = tg_col2im(t, g, x->shape + 2, w.k, w.s, w.p, w.d);
}

tg_tensor *tg_col2im(tg_tape *t, tg_tensor *cols, const int64_t size[2], const int64_t kernel[2],
                     const int64_t stride[2], const int64_t padding[2], const int64_t dilation[2])
{
    const char *fn = "tg_col2im";
    TG__GUARD(t, fn, cols);
    tg__win2d w;
    if (!tg__check_float(t, cols, fn) || !tg__make_window(t, &w, kernel, stride, padding, dilation, fn))
        return NULL;
    if (!size || size[0] < 0 || size[1] < 0)
        return tg__fail(t, TG_EINVAL, "%s: invalid image size", fn);
    if (cols->ndim != 3)
        return tg__fail(t, TG_ESHAPE, "%s: cols must be [N, C*kH*kW, Ho*Wo], got %s", fn,
                        tg__shape_str(cols).s);
    int64_t kk, Ho, Wo, L;
    int64_t img[4] = {cols->shape[0], 0, size[0], size[1]};
    if (!tg__window_fit(t, &w, size[0], size[1], cols, &Ho, &Wo, fn))
        return NULL;
    if (!tg__numel(2, w.k, &kk) || !tg__numel(2, (int64_t[]){Ho, Wo}, &L) ||
        cols->shape[1] % kk != 0 || cols->shape[2] != L)
        return tg__fail(t, TG_ESHAPE,
                        "%s: cols %s do not fit a [%lld,%lld] image with kernel (%lld,%lld) "
                        "(want [N, C*kH*kW, Ho*Wo] with Ho %lld, Wo %lld)",
                        fn, tg__shape_str(cols).s, (long long)size[0], (long long)size[1],
                        (long long)w.k[0], (long long)w.k[1], (long long)Ho, (long long)Wo);
    img[1] = cols->shape[1] / kk;
    tg_tensor *out = tg__new(t, cols->dtype, 4, img);
    if (!out)
        return NULL;
    tg__k_col2im(cols, out, &w, Ho, Wo);
    tg__args a = {.conv = {.win = w, .groups = 1}};
    return tg__record(t, TG_OP_COL2IM, 1, &cols, out, &a);
}

void tg__bwd_col2im(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    const tg__win2d w = n->a.conv.win;
    gi[0] = tg_im2col(t, g, w.k, w.s, w.p, w.d, 0.0);
}

/* ------------------------------------------------------------------ conv2d */

tg_conv2d_opts tg_conv2d_defaults(void)
{
    tg_conv2d_opts o = {.stride = {1, 1}, .padding = {0, 0}, .dilation = {1, 1}, .groups = 1};
    return o;
}

/* checks x, w, b against each other for a convolution of spatial rank 1 or 2 */
static bool check_conv(tg_tape *t, const tg_tensor *x, const tg_tensor *w, const tg_tensor *b,
                       int64_t groups, int rank, const char *fn)
{
    if (!tg__check_float(t, x, fn) || !tg__same_dtype(t, fn, x, "x", w, "w") ||
        !tg__same_dtype(t, fn, x, "x", b, "b"))
        return false;
    const char *want = rank == 2 ? "x [N, C_in, H, W] and w [C_out, C_in/groups, kH, kW]"
                                 : "x [N, C_in, L] and w [C_out, C_in/groups, k]";
    if (x->ndim != rank + 2 || w->ndim != rank + 2) {
        tg__fail(t, TG_ESHAPE, "%s: need %s, got x %s, w %s", fn, want, tg__shape_str(x).s,
                 tg__shape_str(w).s);
        return false;
    }
    int64_t C = x->shape[1], Co = w->shape[0];
    if (groups < 1) {
        tg__fail(t, TG_EINVAL, "%s: groups %lld must be >= 1", fn, (long long)groups);
        return false;
    }
    if (C % groups || Co % groups) {
        tg__fail(t, TG_ESHAPE,
                 "%s: channels not divisible by groups %lld: x %s (C_in %lld), w %s (C_out %lld)",
                 fn, (long long)groups, tg__shape_str(x).s, (long long)C, tg__shape_str(w).s,
                 (long long)Co);
        return false;
    }
    if (w->shape[1] != C / groups) {
        tg__fail(t, TG_ESHAPE, "%s: w %s has %lld input channels, want C_in/groups = %lld (x %s)",
                 fn, tg__shape_str(w).s, (long long)w->shape[1], (long long)(C / groups),
                 tg__shape_str(x).s);
        return false;
    }
    if (b && (b->ndim != 1 || b->shape[0] != Co)) {
        tg__fail(t, TG_ESHAPE, "%s: bias %s must be [%lld] (w %s)", fn, tg__shape_str(b).s,
                 (long long)Co, tg__shape_str(w).s);
        return false;
    }
    return true;
}

/* the options a recorded convolution ran with */
static tg_conv2d_opts opts_of(const tg__node *n)
{
    const tg__win2d *w = &n->a.conv.win;
    tg_conv2d_opts o = {.groups = n->a.conv.groups};
    for (int i = 0; i < 2; i++) {
        o.stride[i] = w->s[i];
        o.padding[i] = w->p[i];
        o.dilation[i] = w->d[i];
    }
    return o;
}

/* out = conv(x, w) + b through the kernel, with its scratch on the tape */
static bool conv_forward(tg_tape *t, tg_tensor *out, const tg_tensor *x, const tg_tensor *w,
                         const tg_tensor *b, const tg__win2d *win, int64_t G)
{
    int64_t N = x->shape[0], C = x->shape[1], Co = w->shape[0];
    int64_t L = out->shape[2] * out->shape[3], per = C * win->k[0] * win->k[1] * L;
    if (N == 0 || Co == 0)
        return true;
    const tg_tensor *wc = tg__dense_of(t, w);
    if (!wc)
        return false;
    int nt = tg__conv_sample_threads(N, per, Co / G, L, (C / G) * win->k[0] * win->k[1]);
    char *scratch = tg__arena_alloc(t, (size_t)(nt * per) * tg_dtype_size(x->dtype) + 1);
    if (!scratch)
        return false;
    tg__k_conv2d(out, x, wc, b, win, G, scratch, nt);
    return true;
}

tg_tensor *tg_conv2d(tg_tape *t, tg_tensor *x, tg_tensor *w, tg_tensor *b,
                     const tg_conv2d_opts *opts)
{
    const char *fn = "tg_conv2d";
    TG__GUARD(t, fn, x, w);
    if (!tg__opt_input_ok(t, fn, b))
        return NULL;
    tg_conv2d_opts o = opts ? *opts : tg_conv2d_defaults();
    if (!check_conv(t, x, w, b, o.groups, 2, fn))
        return NULL;
    tg__win2d win;
    int64_t Ho, Wo;
    if (!tg__make_window(t, &win, w->shape + 2, o.stride, o.padding, o.dilation, fn) ||
        !tg__window_fit(t, &win, x->shape[2], x->shape[3], x, &Ho, &Wo, fn))
        return NULL;
    int64_t shape[4] = {x->shape[0], w->shape[0], Ho, Wo}, cols;
    if (!tg__numel(4, (int64_t[]){x->shape[1], w->shape[2] * w->shape[3], Ho, Wo}, &cols))
        return tg__fail(t, TG_EINVAL, "%s: window too large: x %s, w %s", fn, tg__shape_str(x).s,
                        tg__shape_str(w).s);
    tg_tensor *out = tg__new(t, x->dtype, 4, shape);
    if (!out || !conv_forward(t, out, x, w, b, &win, o.groups))
        return NULL;
    tg__args a = {.conv = {.win = win, .groups = o.groups}};
    tg_tensor *in[3] = {x, w, b};
    return tg__record(t, TG_OP_CONV2D, b ? 3 : 2, in, out, &a);
}

/* the gradient w.r.t. the input x of a convolution with weight w, from the output
 * gradient g: per group W_g^T g, folded back into the image (ops) */
static tg_tensor *conv_input_grad(tg_tape *t, tg_tensor *w, tg_tensor *g, const tg_tensor *x,
                                  const tg__win2d *win, int64_t G)
{
    int64_t N = x->shape[0], C = x->shape[1], Co = w->shape[0];
    int64_t L = g->shape[2] * g->shape[3], K = w->shape[1] * w->shape[2] * w->shape[3];
    tg_tensor *gr = tg_reshape(t, g, 4, (int64_t[]){N, G, Co / G, L});
    tg_tensor *wr = tg_reshape(t, w, 3, (int64_t[]){G, Co / G, K});
    tg_tensor *gc = tg_matmul(t, tg_transpose(t, wr, -1, -2), gr); /* [N, G, K, L] */
    gc = tg_reshape(t, gc, 3, (int64_t[]){N, C * win->k[0] * win->k[1], L});
    return tg_col2im(t, gc, x->shape + 2, win->k, win->s, win->p, win->d);
}

void tg__bwd_conv2d(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    tg_tensor *x = n->in[0], *w = n->in[1];
    if (x->requires_grad)
        gi[0] = conv_input_grad(t, w, g, x, &n->a.conv.win, n->a.conv.groups);
    if (w->requires_grad) {
        tg_conv2d_opts o = opts_of(n);
        gi[1] = tg_conv2d_weight(t, x, g, w->shape, &o);
    }
    if (n->n_in == 3 && n->in[2]->requires_grad)
        gi[2] = tg_sum(t, g, 3, (int[]){0, 2, 3}, false);
}

/* ----------------------------------------------------------- conv2d_weight */

tg_tensor *tg_conv2d_weight(tg_tape *t, tg_tensor *x, tg_tensor *g, const int64_t w_shape[4],
                            const tg_conv2d_opts *opts)
{
    const char *fn = "tg_conv2d_weight";
    TG__GUARD(t, fn, x, g);
    if (!w_shape)
        return tg__fail(t, TG_EINVAL, "%s: w_shape is NULL", fn);
    tg_conv2d_opts o = opts ? *opts : tg_conv2d_defaults();
    /* a header with the weight's shape stands in for w in the convolution's checks */
    tg_tensor wh;
    int64_t wn;
    if (!tg__numel(4, w_shape, &wn))
        return tg__fail(t, TG_EINVAL, "%s: invalid w_shape %s", fn, tg__dims_str(4, w_shape).s);
    tg__init_header(&wh, x->dtype, 4, w_shape);
    if (!check_conv(t, x, &wh, NULL, o.groups, 2, fn) || !tg__same_dtype(t, fn, x, "x", g, "g"))
        return NULL;
    tg__win2d win;
    int64_t Ho, Wo;
    if (!tg__make_window(t, &win, w_shape + 2, o.stride, o.padding, o.dilation, fn) ||
        !tg__window_fit(t, &win, x->shape[2], x->shape[3], x, &Ho, &Wo, fn))
        return NULL;
    int64_t N = x->shape[0], Co = w_shape[0], G = o.groups;
    if (g->ndim != 4 || g->shape[0] != N || g->shape[1] != Co || g->shape[2] != Ho ||
        g->shape[3] != Wo)
        return tg__fail(t, TG_ESHAPE, "%s: g %s does not fit x %s and w_shape %s (want %s)", fn,
                        tg__shape_str(g).s, tg__shape_str(x).s, tg__dims_str(4, w_shape).s,
                        tg__dims_str(4, (int64_t[]){N, Co, Ho, Wo}).s);
    int64_t C = x->shape[1], Cog = Co / G, L, K, per, parts;
    if (!tg__numel(2, (int64_t[]){Ho, Wo}, &L) ||
        !tg__numel(3, (int64_t[]){C / G, win.k[0], win.k[1]}, &K) ||
        !tg__numel(4, (int64_t[]){C, win.k[0] * win.k[1], Ho, Wo}, &per) ||
        !tg__numel(3, (int64_t[]){N, K, Co}, &parts))
        return tg__fail(t, TG_EINVAL, "%s: window too large: x %s", fn, tg__shape_str(x).s);
    tg_tensor *out = tg__new(t, x->dtype, 4, w_shape);
    const tg_tensor *gd = out ? tg__dense_of(t, g) : NULL;
    if (!gd)
        return NULL;
    tg__args a = {.conv = {.win = win, .groups = G}};
    tg_tensor *in[2] = {x, g};
    if (K == 0 || Cog == 0) /* an empty weight */
        return tg__record(t, TG_OP_CONV2D_WEIGHT, 2, in, out, &a);
    size_t es = tg_dtype_size(x->dtype);
    int nt = tg__conv_sample_threads(N, per, K, Cog, L);
    char *scratch = tg__arena_alloc(t, (size_t)(nt * per) * es + 1);
    char *part = scratch ? tg__arena_alloc(t, (size_t)parts * es + 1) : NULL;
    if (!part)
        return NULL;
    tg__k_conv2d_weight(out, x, gd, &win, G, scratch, part, nt);
    return tg__record(t, TG_OP_CONV2D_WEIGHT, 2, in, out, &a);
}

void tg__bwd_conv2d_weight(tg_tape *t, const tg__node *n, tg_tensor *gw, tg_tensor **gi)
{
    /* out = sum_n g_n cols(x_n)^T is bilinear: its gradient w.r.t. g is the convolution
     * of x with gw, w.r.t. x the input gradient of a convolution with gw */
    tg_tensor *x = n->in[0], *g = n->in[1];
    if (x->requires_grad)
        gi[0] = conv_input_grad(t, gw, g, x, &n->a.conv.win, n->a.conv.groups);
    if (g->requires_grad) {
        tg_conv2d_opts o = opts_of(n);
        gi[1] = tg_conv2d(t, x, gw, NULL, &o);
    }
}

/* ------------------------------------------------------------------ conv1d */

tg_conv1d_opts tg_conv1d_defaults(void)
{
    tg_conv1d_opts o = {.stride = 1, .padding = 0, .dilation = 1, .groups = 1};
    return o;
}

tg_tensor *tg_conv1d(tg_tape *t, tg_tensor *x, tg_tensor *w, tg_tensor *b,
                     const tg_conv1d_opts *opts)
{
    const char *fn = "tg_conv1d";
    TG__GUARD(t, fn, x, w);
    if (!tg__opt_input_ok(t, fn, b))
        return NULL;
    tg_conv1d_opts o = opts ? *opts : tg_conv1d_defaults();
    if (!check_conv(t, x, w, b, o.groups, 1, fn))
        return NULL;
    if (o.stride < 1 || o.padding < 0 || o.dilation < 1)
        return tg__fail(t, TG_EINVAL,
                        "%s: invalid stride %lld, padding %lld or dilation %lld (stride, "
                        "dilation >= 1; padding >= 0)",
                        fn, (long long)o.stride, (long long)o.padding, (long long)o.dilation);
    int64_t k = w->shape[2];
    int64_t Lo = tg_conv_out_size(x->shape[2], k, o.stride, o.padding, o.dilation);
    if (Lo < 1)
        return tg__fail(t, TG_ESHAPE,
                        "%s: kernel %lld with dilation %lld larger than the padded input: x %s, "
                        "padding %lld",
                        fn, (long long)k, (long long)o.dilation, tg__shape_str(x).s,
                        (long long)o.padding);
    tg_conv2d_opts o2 = {.stride = {1, o.stride}, .padding = {0, o.padding},
                         .dilation = {1, o.dilation}, .groups = o.groups};
    tg_tensor *x4 = tg_reshape(t, x, 4, (int64_t[]){x->shape[0], x->shape[1], 1, x->shape[2]});
    tg_tensor *w4 = tg_reshape(t, w, 4, (int64_t[]){w->shape[0], w->shape[1], 1, k});
    tg_tensor *y = tg_conv2d(t, x4, w4, b, &o2);
    return tg_reshape(t, y, 3, (int64_t[]){x->shape[0], w->shape[0], Lo});
}

