/* Gradcheck cases of the convolution, pooling and normalisation ops: im2col, col2im
 * and conv2d (registered), and the compositions built on them (conv1d, the pools,
 * batch and layer normalisation, flatten), each named after the registered op it
 * records. Inputs stay small: gradcheck is one forward pass per element per side. */
#include "gradcheck_cases.h"

#define UNUSED(x) (void)(x)

/* input specs (as in gradcheck_cases.c) */
#define P(nd, lo_, hi_, ...) {.ndim = nd, .shape = {__VA_ARGS__}, .lo = lo_, .hi = hi_}
#define AWAY(nd, lo_, hi_, ...) {.ndim = nd, .shape = {__VA_ARGS__}, .lo = lo_, .hi = hi_, .away = true}
#define T(nd, lo_, hi_, ...) {.ndim = nd, .shape = {__VA_ARGS__}, .lo = lo_, .hi = hi_, .kind = IN_TRANSPOSED}
#define ST(nd, lo_, hi_, ...) {.ndim = nd, .shape = {__VA_ARGS__}, .lo = lo_, .hi = hi_, .kind = IN_STRIDED}
/* constants (require no grad), plain and transposed */
#define K(nd, lo_, hi_, ...) \
    {.ndim = nd, .shape = {__VA_ARGS__}, .lo = lo_, .hi = hi_, .konst = true}
#define KT(nd, lo_, hi_, ...) \
    {.ndim = nd, .shape = {__VA_ARGS__}, .lo = lo_, .hi = hi_, .kind = IN_TRANSPOSED, .konst = true}

#define FN(name, body)                                                             \
    static tg_tensor *name(tg_tape *t, tg_tensor *const *in, void *ctx)           \
    {                                                                              \
        UNUSED(ctx);                                                               \
        body                                                                       \
    }

/* ---- im2col / col2im: kernel (2,3), stride (1,2), padding (1,1), dilation (2,1) on a
 * [4,5] image: Ho = 4, Wo = 3 */
#define WIN (int64_t[]){2, 3}, (int64_t[]){1, 2}, (int64_t[]){1, 1}, (int64_t[]){2, 1}
FN(f_im2col, return tg_im2col(t, in[0], WIN, 0.5);)
FN(f_im2col_overlap, return tg_im2col(t, in[0], (int64_t[]){3, 3}, NULL, (int64_t[]){1, 1}, NULL, 0.0);)
FN(f_col2im, return tg_col2im(t, in[0], (int64_t[]){4, 5}, WIN);)
/* stride 1, kernel 2x2 on [3,3]: every interior pixel gets 4 contributions */
FN(f_col2im_overlap,
   return tg_col2im(t, in[0], (int64_t[]){3, 3}, (int64_t[]){2, 2}, NULL, NULL, NULL);)

/* ---- conv2d */
static tg_tensor *conv(tg_tape *t, tg_tensor *const *in, bool bias, int64_t sh, int64_t sw,
                       int64_t ph, int64_t pw, int64_t dh, int64_t dw, int64_t groups)
{
    tg_conv2d_opts o = tg_conv2d_defaults();
    o.stride[0] = sh;
    o.stride[1] = sw;
    o.padding[0] = ph;
    o.padding[1] = pw;
    o.dilation[0] = dh;
    o.dilation[1] = dw;
    o.groups = groups;
    return tg_conv2d(t, in[0], in[1], bias ? in[2] : NULL, &o);
}
FN(f_conv_plain, return conv(t, in, true, 1, 1, 0, 0, 1, 1, 1);)
FN(f_conv_stride_pad, return conv(t, in, true, 2, 1, 1, 1, 1, 1, 1);)
FN(f_conv_dil_groups, return conv(t, in, false, 1, 1, 1, 2, 2, 2, 2);)
FN(f_conv_all, return conv(t, in, true, 2, 2, 1, 1, 2, 2, 2);)
FN(f_conv_depthwise, return conv(t, in, true, 1, 2, 1, 0, 1, 1, 4);)
/* two stacked convolutions with a nonlinearity: second-order terms between them */
FN(f_conv_stack, {
    tg_tensor *h = tg_tanh(t, conv(t, in, false, 1, 1, 1, 1, 1, 1, 1));
    tg_conv2d_opts o = tg_conv2d_defaults();
    o.stride[0] = o.stride[1] = 2;
    return tg_conv2d(t, h, in[2], NULL, &o);
})

/* ---- conv2d_weight: x and the output gradient g are both inputs */
static tg_tensor *convw(tg_tape *t, tg_tensor *const *in, const int64_t *ws, int64_t s, int64_t p,
                        int64_t d, int64_t groups)
{
    tg_conv2d_opts o = tg_conv2d_defaults();
    o.stride[0] = o.stride[1] = s;
    o.padding[0] = p;
    o.dilation[1] = d;
    o.groups = groups;
    return tg_conv2d_weight(t, in[0], in[1], ws, &o);
}
/* x [2,3,5,4], w [2,3,3,2]: g [2,2,3,3] */
FN(f_convw_plain, return convw(t, in, (int64_t[]){2, 3, 3, 2}, 1, 0, 1, 1);)
/* x [1,4,5,7], w [4,2,2,3], stride 2, padding (1,0), dilation (1,2), groups 2: g [1,4,3,2] */
FN(f_convw_all, return convw(t, in, (int64_t[]){4, 2, 2, 3}, 2, 1, 2, 2);)

/* ---- conv1d (conv2d on [N, C, 1, L] views) */
FN(f_conv1d, {
    tg_conv1d_opts o = tg_conv1d_defaults();
    o.stride = 2;
    o.padding = 1;
    o.groups = 2;
    return tg_conv1d(t, in[0], in[1], in[2], &o);
})
FN(f_conv1d_dil, {
    tg_conv1d_opts o = tg_conv1d_defaults();
    o.dilation = 2;
    o.padding = 2;
    return tg_conv1d(t, in[0], in[1], NULL, &o);
})

/* ---- pooling */
FN(f_maxpool_overlap, return tg_max_pool2d(t, in[0], (int64_t[]){3, 2}, (int64_t[]){2, 1}, (int64_t[]){1, 1});)
FN(f_maxpool_plain, return tg_max_pool2d(t, in[0], (int64_t[]){2, 2}, NULL, NULL);)
FN(f_maxpool_odd, return tg_max_pool2d(t, in[0], (int64_t[]){2, 2}, NULL, NULL);)
FN(f_maxpool_pad, return tg_max_pool2d(t, in[0], (int64_t[]){3, 3}, (int64_t[]){2, 2}, (int64_t[]){1, 1});)
/* an upstream op whose gradient reaches the pool's input through a sum of two paths */
FN(f_maxpool_relu, {
    tg_tensor *h = tg_relu(t, in[0]);
    return tg_add(t, tg_max_pool2d(t, h, (int64_t[]){2, 3}, (int64_t[]){1, 2}, NULL),
                  tg_max_pool2d(t, in[0], (int64_t[]){2, 3}, (int64_t[]){1, 2}, NULL));
})
FN(f_avgpool_overlap, return tg_avg_pool2d(t, in[0], (int64_t[]){3, 3}, (int64_t[]){1, 2}, (int64_t[]){1, 1});)
FN(f_avgpool_plain, return tg_avg_pool2d(t, in[0], (int64_t[]){2, 3}, NULL, NULL);)
FN(f_l2pool, return tg_l2_pool2d(t, in[0], (int64_t[]){2, 3}, (int64_t[]){1, 2}, (int64_t[]){1, 1});)
FN(f_gap, return tg_global_avg_pool2d(t, in[0]);)

/* ---- gather / scatter-add along the last axis; the indices repeat (so the adjoint
 * adds) and leave some positions out */
static tg_tensor *indices(tg_tape *t, int ndim, const int64_t *shape, int64_t range)
{
    tg_tensor *idx = tg_tape_zeros(t, TG_I32, ndim, shape);
    int64_t n = idx ? tg_tensor_numel(idx) : 0;
    for (int64_t i = 0; i < n; i++)
        tg_tensor_set_flat(idx, i, (double)((i * 5 + i / 3) % range));
    return idx;
}
static tg_tensor *f_gather(tg_tape *t, tg_tensor *const *in, void *ctx)
{
    UNUSED(ctx);
    tg_tensor *x = in[0];
    int64_t shape[3] = {x->shape[0], x->shape[1], 7};
    return tg_gather_last(t, x, indices(t, 3, shape, x->shape[2]));
}
FN(f_gather_2d, return tg_gather_last(t, in[0], indices(t, 2, (int64_t[]){in[0]->shape[0], 3}, in[0]->shape[1]));)
FN(f_scatter, {
    tg_tensor *s = in[0];
    return tg_scatter_add_last(t, s, indices(t, s->ndim, s->shape, 4), 5);
})

/* ---- normalisation; running statistics are tape constants here, so the updates
 * made by training-mode calls cannot leak from one evaluation to the next. A normalised
 * output sums to a constant, so the outputs are weighted by a fixed pattern: the F32 vs
 * F64 comparison (which seeds with ones) then compares nonzero gradients. */
static tg_tensor *weighted(tg_tape *t, tg_tensor *y)
{
    if (!y)
        return NULL;
    tg_tensor *w = tg_tape_zeros(t, y->dtype, y->ndim, y->shape);
    int64_t n = tg_tensor_numel(y);
    for (int64_t i = 0; w && i < n; i++)
        tg_tensor_set_flat(w, i, 0.5 + (double)((i * 7) % 11) / 11.0);
    return tg_mul(t, y, w);
}
static tg_tensor *stats(tg_tape *t, tg_dtype dt, int64_t c, double base)
{
    tg_tensor *s = tg_tape_full(t, dt, 1, &c, base);
    for (int64_t i = 0; s && i < c; i++)
        tg_tensor_set_flat(s, i, base + 0.25 * (double)i);
    return s;
}
FN(f_bn_train, {
    int64_t C = in[0]->shape[1];
    return weighted(t, tg_batch_norm(t, in[0], in[1], in[2], stats(t, in[0]->dtype, C, 0.0),
                                     stats(t, in[0]->dtype, C, 1.0), 0.1, 1e-5, true));
})
FN(f_bn_train_plain, return weighted(t, tg_batch_norm(t, in[0], NULL, NULL, NULL, NULL, 0.1, 1e-5, true));)
FN(f_bn_eval, {
    int64_t C = in[0]->shape[1];
    return tg_batch_norm(t, in[0], in[1], in[2], stats(t, in[0]->dtype, C, -0.2),
                         stats(t, in[0]->dtype, C, 0.5), 0.1, 1e-5, false);
})
FN(f_ln2, return weighted(t, tg_layer_norm(t, in[0], 2, in[1], in[2], 1e-5));)
FN(f_ln1, return weighted(t, tg_layer_norm(t, in[0], 1, NULL, NULL, 1e-5));)
FN(f_flatten, return tg_mul(t, tg_flatten(t, in[0], 1), tg_flatten(t, in[0], 1));)

const gc_case gc_cases_cnn[] = {
    {"im2col", "kernel 2x3, stride, padding, dilation, pad 0.5", f_im2col, 1, {P(4, -1, 1, 2, 2, 4, 5)}},
    {"im2col", "overlapping 3x3 windows, transposed x", f_im2col_overlap, 1, {T(4, -1, 1, 1, 2, 4, 3)}},
    {"col2im", "kernel 2x3, stride, padding, dilation", f_col2im, 1, {P(3, -1, 1, 2, 12, 12)}},
    {"col2im", "overlapping 2x2 windows, strided cols", f_col2im_overlap, 1, {ST(3, -1, 1, 1, 8, 4)}},
    {"conv2d", "1x1 stride, no padding, bias", f_conv_plain, 3,
     {P(4, -1, 1, 2, 3, 4, 4), P(4, -1, 1, 2, 3, 2, 2), P(1, -1, 1, 2)}},
    {"conv2d", "stride (2,1), padding 1, kernel 3x2, bias", f_conv_stride_pad, 3,
     {P(4, -1, 1, 2, 3, 5, 6), P(4, -1, 1, 4, 3, 3, 2), P(1, -1, 1, 4)}},
    {"conv2d", "dilation 2, padding (1,2), groups 2, kernel 2x3, no bias", f_conv_dil_groups, 2,
     {P(4, -1, 1, 2, 4, 5, 6), P(4, -1, 1, 6, 2, 2, 3)}},
    {"conv2d", "stride 2, padding 1, dilation 2, groups 2, views", f_conv_all, 3,
     {T(4, -1, 1, 1, 4, 6, 5), ST(4, -1, 1, 4, 2, 3, 2), P(1, -1, 1, 4)}},
    {"conv2d", "depthwise (groups = C), stride (1,2)", f_conv_depthwise, 3,
     {P(4, -1, 1, 2, 4, 4, 5), P(4, -1, 1, 4, 1, 3, 3), P(1, -1, 1, 4)}},
    {"conv2d", "two stacked convs with tanh", f_conv_stack, 3,
     {P(4, -1, 1, 1, 2, 5, 5), P(4, -1, 1, 3, 2, 3, 3), P(4, -1, 1, 2, 3, 2, 2)}},
    {"conv2d_weight", "x [2,3,5,4], g [2,2,3,3], kernel 3x2", f_convw_plain, 2,
     {P(4, -1, 1, 2, 3, 5, 4), P(4, -1, 1, 2, 2, 3, 3)}},
    {"conv2d_weight", "stride 2, padding (1,0), dilation (1,2), groups 2, views", f_convw_all, 2,
     {T(4, -1, 1, 1, 4, 5, 7), ST(4, -1, 1, 1, 4, 3, 2)}},
    {"conv2d", "conv1d: stride 2, padding 1, groups 2, bias", f_conv1d, 3,
     {P(3, -1, 1, 2, 4, 7), P(3, -1, 1, 6, 2, 3), P(1, -1, 1, 6)}},
    {"conv2d", "conv1d: dilation 2, padding 2, strided x", f_conv1d_dil, 2,
     {ST(3, -1, 1, 2, 3, 6), P(3, -1, 1, 2, 3, 2)}},
    {"max_pool2d", "3x2 stride (2,1) padding 1 (overlapping)", f_maxpool_overlap, 1,
     {P(4, -1, 1, 2, 3, 5, 6)}},
    {"max_pool2d", "2x2, transposed x", f_maxpool_plain, 1, {T(4, -1, 1, 1, 2, 4, 6)}},
    {"max_pool2d", "2x2 on odd 5x7 planes (last row and column dropped)", f_maxpool_odd, 1,
     {P(4, -1, 1, 3, 2, 5, 7)}},
    {"max_pool2d", "3x3 stride 2 padding 1 on 7x5, strided x", f_maxpool_pad, 1,
     {ST(4, -1, 1, 2, 3, 7, 5)}},
    {"max_pool2d", "2x3 stride (1,2) after relu and on x, summed", f_maxpool_relu, 1,
     {AWAY(4, 0.1, 1, 1, 3, 5, 7)}},
    {"gather_last", "[2,3,5] -> [2,3,7], repeated indices", f_gather, 1, {P(3, -1, 1, 2, 3, 5)}},
    {"gather_last", "[5,4] transposed -> [5,3]", f_gather_2d, 1, {T(2, -1, 1, 5, 4)}},
    {"scatter_add_last", "[3,7] into [3,5], colliding indices", f_scatter, 1, {P(2, -1, 1, 3, 7)}},
    {"scatter_add_last", "[2,3,5] strided into [2,3,5]", f_scatter, 1, {ST(3, -1, 1, 2, 3, 5)}},
    {"im2col", "avg_pool2d 3x3 stride (1,2) padding 1 (overlapping)", f_avgpool_overlap, 1,
     {P(4, -1, 1, 2, 2, 5, 6)}},
    {"im2col", "avg_pool2d 2x3, strided x", f_avgpool_plain, 1, {ST(4, -1, 1, 1, 3, 4, 6)}},
    {"sqrt", "l2_pool2d 2x3 stride (1,2) padding 1", f_l2pool, 1, {AWAY(4, 0.2, 1, 2, 2, 4, 5)}},
    {"mean", "global_avg_pool2d", f_gap, 1, {T(4, -1, 1, 2, 3, 4, 5)}},
    {"batch_norm", "training [N,C,H,W], gamma, beta", f_bn_train, 3,
     {P(4, -1, 1, 3, 3, 2, 3), P(1, 0.5, 1.5, 3), P(1, -1, 1, 3)}},
    {"batch_norm", "training [N,C], no affine", f_bn_train_plain, 1, {T(2, -1, 1, 5, 3)}},
    {"batch_norm", "training [N,C,L], strided x", f_bn_train_plain, 1, {ST(3, -1, 1, 3, 2, 4)}},
    {"mul", "batch_norm evaluation (running statistics)", f_bn_eval, 3,
     {P(4, -1, 1, 2, 3, 2, 3), P(1, 0.5, 1.5, 3), P(1, -1, 1, 3)}},
    {"mean", "layer_norm over the last 2 dims", f_ln2, 3,
     {P(3, -1, 1, 3, 2, 4), P(2, 0.5, 1.5, 2, 4), P(2, -1, 1, 2, 4)}},
    {"mean", "layer_norm over the last dim, no affine", f_ln1, 1, {ST(2, -1, 1, 3, 5)}},
    {"reshape", "flatten from axis 1", f_flatten, 1, {T(4, -1, 1, 2, 2, 3, 2)}},

    /* ---- constants mixed with parameters */
    {"conv2d", "constant x, weight and bias", f_conv_stride_pad, 3,
     {K(4, -1, 1, 2, 3, 5, 6), P(4, -1, 1, 4, 3, 3, 2), P(1, -1, 1, 4)}},
    {"conv2d", "x, constant weight and bias", f_conv_stride_pad, 3,
     {P(4, -1, 1, 2, 3, 5, 6), K(4, -1, 1, 4, 3, 3, 2), K(1, -1, 1, 4)}},
    {"conv2d", "constant x and weight, bias (groups 2, views)", f_conv_all, 3,
     {KT(4, -1, 1, 1, 4, 6, 5), K(4, -1, 1, 4, 2, 3, 2), P(1, -1, 1, 4)}},
    {"conv2d", "stacked convs, constant first weight", f_conv_stack, 3,
     {P(4, -1, 1, 1, 2, 5, 5), K(4, -1, 1, 3, 2, 3, 3), P(4, -1, 1, 2, 3, 2, 2)}},
    {"conv2d_weight", "constant x, g", f_convw_plain, 2,
     {K(4, -1, 1, 2, 3, 5, 4), P(4, -1, 1, 2, 2, 3, 3)}},
    {"conv2d_weight", "x, constant g (groups 2, views)", f_convw_all, 2,
     {T(4, -1, 1, 1, 4, 5, 7), K(4, -1, 1, 1, 4, 3, 2)}},
    {"batch_norm", "training, constant x (affine only)", f_bn_train, 3,
     {K(4, -1, 1, 3, 3, 2, 3), P(1, 0.5, 1.5, 3), P(1, -1, 1, 3)}},
    {"mul", "layer_norm, constant x (affine only)", f_ln2, 3,
     {K(3, -1, 1, 3, 2, 4), P(2, 0.5, 1.5, 2, 4), P(2, -1, 1, 2, 4)}},
    {"mean", "layer_norm, x, constant gamma", f_ln2, 3,
     {P(3, -1, 1, 3, 2, 4), K(2, 0.5, 1.5, 2, 4), P(2, -1, 1, 2, 4)}},
};
const int gc_ncases_cnn = (int)(sizeof gc_cases_cnn / sizeof gc_cases_cnn[0]);
