/* One or more gradcheck cases per registered op: broadcasting, views (transposed,
 * strided) as inputs, size-1 and empty dims, inputs away from kinks. */
#include <math.h>
#include <string.h>

#include "gradcheck_cases.h"

#define S(...) ((int64_t[]){__VA_ARGS__})
#define UNUSED(x) (void)(x)

/* input specs */
#define P(nd, lo_, hi_, ...) {.ndim = nd, .shape = {__VA_ARGS__}, .lo = lo_, .hi = hi_}
#define AWAY(nd, lo_, hi_, ...) {.ndim = nd, .shape = {__VA_ARGS__}, .lo = lo_, .hi = hi_, .away = true}
#define T(nd, lo_, hi_, ...) {.ndim = nd, .shape = {__VA_ARGS__}, .lo = lo_, .hi = hi_, .kind = IN_TRANSPOSED}
#define ST(nd, lo_, hi_, ...) {.ndim = nd, .shape = {__VA_ARGS__}, .lo = lo_, .hi = hi_, .kind = IN_STRIDED}
/* constants (require no grad): plain, away from 0, transposed */
#define K(nd, lo_, hi_, ...) \
    {.ndim = nd, .shape = {__VA_ARGS__}, .lo = lo_, .hi = hi_, .konst = true}
#define KAWAY(nd, lo_, hi_, ...) \
    {.ndim = nd, .shape = {__VA_ARGS__}, .lo = lo_, .hi = hi_, .away = true, .konst = true}
#define KT(nd, lo_, hi_, ...) \
    {.ndim = nd, .shape = {__VA_ARGS__}, .lo = lo_, .hi = hi_, .kind = IN_TRANSPOSED, .konst = true}

#define FN1(name, expr)                                                            \
    static tg_tensor *name(tg_tape *t, tg_tensor *const *in, void *ctx)           \
    {                                                                              \
        UNUSED(ctx);                                                               \
        tg_tensor *a = in[0];                                                      \
        return (expr);                                                             \
    }
#define FN2(name, expr)                                                            \
    static tg_tensor *name(tg_tape *t, tg_tensor *const *in, void *ctx)           \
    {                                                                              \
        UNUSED(ctx);                                                               \
        tg_tensor *a = in[0], *b = in[1];                                          \
        return (expr);                                                             \
    }

FN2(f_add, tg_add(t, a, b))
FN2(f_sub, tg_sub(t, a, b))
FN2(f_mul, tg_mul(t, a, b))
FN2(f_div, tg_div(t, a, b))
FN2(f_mul_self, tg_mul(t, a, tg_add(t, a, b))) /* a used twice: accumulation */
FN1(f_neg, tg_neg(t, a))
FN1(f_add_scalar, tg_add_scalar(t, a, 0.75))
FN1(f_mul_scalar, tg_mul_scalar(t, a, -1.5))
FN1(f_pow_25, tg_pow_scalar(t, a, 2.5))
FN1(f_pow_3, tg_pow_scalar(t, a, 3.0))
FN1(f_exp, tg_exp(t, a))
FN1(f_log, tg_log(t, a))
FN1(f_sqrt, tg_sqrt(t, a))
FN1(f_abs, tg_abs(t, a))
FN1(f_relu, tg_relu(t, a))
FN1(f_leaky, tg_leaky_relu(t, a, 0.1))
FN1(f_sigmoid, tg_sigmoid(t, a))
FN1(f_tanh, tg_tanh(t, a))
FN1(f_gelu, tg_gelu(t, a))
FN1(f_softplus, tg_softplus(t, a))
FN2(f_matmul, tg_matmul(t, a, b))
FN1(f_permute, tg_mul(t, tg_permute(t, a, (int[]){2, 0, 1}), tg_permute(t, a, (int[]){2, 0, 1})))
FN1(f_transpose, tg_matmul(t, tg_transpose(t, a, 0, 1), a))
FN1(f_reshape, tg_reshape(t, a, 2, S(2, -1)))
FN1(f_reshape_view, tg_reshape(t, tg_transpose(t, a, 0, 1), 1, S(-1)))
FN1(f_slice, tg_slice(t, a, S(1, -3), S(3, 5), S(1, 2)))
/* stepped axes that pick more than one element: x[4,6][0:4, 1:6:2] and
 * x[5,7][0:5:2, 1:7:3] */
FN1(f_slice_step, tg_slice(t, a, S(0, 1), S(4, 6), S(1, 2)))
FN1(f_slice_step2, tg_slice(t, a, S(0, 1), S(5, 7), S(2, 3)))
FN1(f_slice_empty, tg_slice(t, a, S(0, 1), S(3, 1), S(1, 1)))
FN1(f_expand, tg_mul(t, tg_expand(t, a, 3, S(2, 3, 4)), tg_expand(t, a, 3, S(2, 3, 4))))
FN1(f_contiguous, tg_contiguous(t, tg_transpose(t, a, 0, 1)))
FN1(f_sum_all, tg_sum(t, a, 0, NULL, false))
FN1(f_sum_axes, tg_sum(t, a, 2, (int[]){0, -1}, false))
FN1(f_sum_keep, tg_mul(t, tg_sum(t, a, 1, (int[]){1}, true), a))
FN1(f_mean_all, tg_mean(t, a, 0, NULL, false))
FN1(f_mean_keep, tg_mul(t, tg_mean(t, a, 1, (int[]){0}, true), a))
FN1(f_max0, tg_max(t, a, 0, false))
FN1(f_max1, tg_mul(t, tg_max(t, a, -1, true), a))
FN1(f_softmax0, tg_softmax(t, a, 0))
FN1(f_softmax1, tg_softmax(t, a, -1))
FN1(f_log_softmax, tg_log_softmax(t, a, 1))
FN2(f_relu_bwd, tg_relu_backward(t, a, b))
FN2(f_leaky_bwd, tg_leaky_relu_backward(t, a, b, 0.2))
FN2(f_sigmoid_bwd, tg_sigmoid_backward(t, a, b))
FN2(f_tanh_bwd, tg_tanh_backward(t, a, b))
FN2(f_gelu_bwd, tg_gelu_backward(t, a, b))
FN1(f_slice_bwd, tg_slice_backward(t, a, tg_tape_zeros(t, a->dtype, 2, S(5, 7)), S(1, 0), S(5, 7),
                                   S(2, 3)))

/* constant targets built on the tape */
static tg_tensor *labels(tg_tape *t, int64_t n, int64_t classes)
{
    tg_tensor *y = tg_tape_full(t, TG_I32, 1, &n, 0);
    for (int64_t i = 0; y && i < n; i++)
        tg_tensor_set_flat(y, i, (double)((i * 2 + 1) % classes));
    return y;
}

/* rows of positive values summing to 1 (or any pattern in (0,1) when !normalise) */
static tg_tensor *soft_rows(tg_tape *t, tg_dtype dt, int64_t n, int64_t c, bool normalise)
{
    tg_tensor *y = tg_tape_full(t, dt, 2, (int64_t[]){n, c}, 0);
    for (int64_t i = 0; y && i < n; i++) {
        double s = 0;
        for (int64_t k = 0; k < c; k++)
            s += 0.1 + (double)((i + 2 * k) % 5) / 5.0;
        for (int64_t k = 0; k < c; k++)
            tg_tensor_set_flat(y, i * c + k, (0.1 + (double)((i + 2 * k) % 5) / 5.0) / (normalise ? s : 1.3));
    }
    return y;
}

static tg_tensor *class_weights(tg_tape *t, tg_dtype dt)
{
    tg_tensor *w = tg_tape_full(t, dt, 1, (int64_t[]){3}, 1.0);
    if (w) {
        tg_tensor_set_flat(w, 0, 0.5);
        tg_tensor_set_flat(w, 2, 2.0);
    }
    return w;
}

FN1(f_sce_sparse, tg_softmax_cross_entropy(t, a, labels(t, a->shape[0], a->shape[1]), NULL))
FN1(f_sce_dense, tg_softmax_cross_entropy(t, a, soft_rows(t, a->dtype, a->shape[0], a->shape[1], true), NULL))
static tg_tensor *f_sce_smooth_weighted(tg_tape *t, tg_tensor *const *in, void *ctx)
{
    UNUSED(ctx);
    tg_ce_opts o = tg_ce_defaults();
    o.label_smoothing = 0.1;
    o.weights = class_weights(t, in[0]->dtype);
    return tg_softmax_cross_entropy(t, in[0], labels(t, in[0]->shape[0], 3), &o);
}
static tg_tensor *f_sce_bwd(tg_tape *t, tg_tensor *const *in, void *ctx)
{
    UNUSED(ctx);
    tg_ce_opts o = tg_ce_defaults();
    o.label_smoothing = 0.05;
    o.weights = class_weights(t, in[0]->dtype);
    return tg_softmax_cross_entropy_backward(t, in[0], labels(t, in[0]->shape[0], 3), in[1], &o);
}
FN2(f_sce_bwd_dense, tg_softmax_cross_entropy_backward(t, a, soft_rows(t, a->dtype, a->shape[0], a->shape[1], true), b, NULL))
FN1(f_bce_logits, tg_bce_with_logits(t, a, soft_rows(t, a->dtype, a->shape[0], a->shape[1], false)))
FN1(f_bce, tg_binary_cross_entropy(t, a, soft_rows(t, a->dtype, a->shape[0], a->shape[1], false)))
FN1(f_cce_sparse, tg_categorical_cross_entropy(t, a, labels(t, a->shape[0], a->shape[1])))
FN1(f_cce_dense, tg_categorical_cross_entropy(t, a, soft_rows(t, a->dtype, a->shape[0], a->shape[1], true)))
FN1(f_mse, tg_mse(t, a, soft_rows(t, a->dtype, a->shape[0], a->shape[1], false)))
/* a constant of x's shape with values spread over [-1.5, 1.5] (none 0) */
static tg_tensor *spread_target(tg_tape *t, const tg_tensor *x)
{
    tg_tensor *y = tg_tape_zeros(t, x->dtype, x->ndim, x->shape);
    int64_t n = y ? tg_tensor_numel(y) : 0;
    for (int64_t i = 0; i < n; i++)
        tg_tensor_set_flat(y, i, -1.5 + 3.0 * (double)((i * 5 + 2) % 11) / 10.0 + 0.05);
    return y;
}
/* nonzero targets (a zero target cannot tell sign(p - y) from sign(p), nor p - y from p) */
FN1(f_mae, tg_mae(t, a, spread_target(t, a)))
FN1(f_huber, tg_huber(t, a, spread_target(t, a), 0.5))
FN1(f_kl, tg_kl_div(t, a, soft_rows(t, a->dtype, a->shape[0], a->shape[1], true)))
FN1(f_dropout, tg_dropout(t, a, 0.3, 1234, 7, true))
FN1(f_l1, tg_l1_penalty(t, a, 0.01))
FN1(f_l2, tg_l2_penalty(t, a, 0.02))
FN1(f_clamp, tg_clamp(t, a, -0.5, 0.5))
static tg_tensor *f_dense(tg_tape *t, tg_tensor *const *in, void *ctx)
{
    UNUSED(ctx);
    return tg_dense(t, in[0], in[1], in[2]);
}
FN2(f_dense_nobias, tg_dense(t, a, b, NULL))

static tg_tensor *f_concat(tg_tape *t, tg_tensor *const *in, void *ctx)
{
    UNUSED(ctx);
    return tg_concat(t, 3, in, 1);
}

static tg_tensor *f_concat0(tg_tape *t, tg_tensor *const *in, void *ctx)
{
    UNUSED(ctx);
    return tg_concat(t, 2, in, 0);
}

static tg_tensor *f_matmul_chain(tg_tape *t, tg_tensor *const *in, void *ctx)
{
    UNUSED(ctx); /* a small MLP: tanh(x W1) W2, scalar loss */
    tg_tensor *h = tg_tanh(t, tg_matmul(t, in[0], in[1]));
    return tg_mean(t, tg_pow_scalar(t, tg_matmul(t, h, in[2]), 2.0), 0, NULL, false);
}

const gc_case gc_cases[] = {
    {"add", "broadcast [3,4]+[4]", f_add, 2, {P(2, -1, 1, 3, 4), P(1, -1, 1, 4)}},
    {"add", "broadcast [2,1,3]+[4,1]", f_add, 2, {P(3, -1, 1, 2, 1, 3), P(2, -1, 1, 4, 1)}},
    {"add", "transposed + strided views", f_add, 2, {T(2, -1, 1, 3, 4), ST(2, -1, 1, 3, 4)}},
    {"add", "empty [0,3]+[3]", f_add, 2, {P(2, -1, 1, 0, 3), P(1, -1, 1, 3)}},
    {"add", "a*(a+b): gradient accumulation", f_mul_self, 2, {P(2, -1, 1, 2, 3), P(2, -1, 1, 2, 3)}},
    {"sub", "broadcast [2,3]-[2,1]", f_sub, 2, {P(2, -1, 1, 2, 3), P(2, -1, 1, 2, 1)}},
    {"mul", "broadcast [2,3,4]*[3,1]", f_mul, 2, {P(3, -1, 1, 2, 3, 4), P(2, -1, 1, 3, 1)}},
    {"mul", "scalar (0-d) * [3]", f_mul, 2, {P(0, -1, 1, 0), ST(1, -1, 1, 3)}},
    {"div", "broadcast [3,4]/[4]", f_div, 2, {P(2, -1, 1, 3, 4), AWAY(1, 0.5, 2, 4)}},
    {"neg", "transposed", f_neg, 1, {T(2, -1, 1, 3, 2)}},
    {"add_scalar", "plain", f_add_scalar, 1, {P(2, -1, 1, 2, 3)}},
    {"mul_scalar", "strided", f_mul_scalar, 1, {ST(2, -1, 1, 2, 3)}},
    {"pow_scalar", "x^2.5, x>0", f_pow_25, 1, {P(2, 0.5, 2, 2, 3)}},
    {"pow_scalar", "x^3 signed", f_pow_3, 1, {AWAY(1, 0.2, 2, 5)}},
    {"exp", "plain", f_exp, 1, {P(2, -2, 2, 3, 3)}},
    {"log", "positive", f_log, 1, {P(2, 0.3, 3, 3, 2)}},
    {"sqrt", "positive", f_sqrt, 1, {T(2, 0.3, 3, 2, 3)}},
    {"abs", "away from 0", f_abs, 1, {AWAY(2, 0.1, 2, 3, 4)}},
    {"relu", "away from 0", f_relu, 1, {AWAY(2, 0.1, 2, 4, 5)}},
    {"leaky_relu", "away from 0", f_leaky, 1, {AWAY(2, 0.1, 2, 4, 3)}},
    {"sigmoid", "wide range", f_sigmoid, 1, {P(2, -6, 6, 3, 4)}},
    {"tanh", "plain", f_tanh, 1, {ST(2, -2, 2, 3, 4)}},
    {"gelu", "plain", f_gelu, 1, {P(2, -3, 3, 3, 4)}},
    {"softplus", "wide range", f_softplus, 1, {P(2, -8, 8, 3, 4)}},
    {"matmul", "[3,4]x[4,5]", f_matmul, 2, {P(2, -1, 1, 3, 4), P(2, -1, 1, 4, 5)}},
    {"matmul", "transposed operands", f_matmul, 2, {T(2, -1, 1, 3, 4), T(2, -1, 1, 4, 2)}},
    {"matmul", "strided operand (copied)", f_matmul, 2, {ST(2, -1, 1, 3, 4), P(2, -1, 1, 4, 2)}},
    {"matmul", "batched [2,3,4]x[4,5]", f_matmul, 2, {P(3, -1, 1, 2, 3, 4), P(2, -1, 1, 4, 5)}},
    {"matmul", "broadcast batch [2,1,3,4]x[3,4,2]", f_matmul, 2,
     {P(4, -1, 1, 2, 1, 3, 4), P(3, -1, 1, 3, 4, 2)}},
    {"matmul", "size-1 dims [1,4]x[4,1]", f_matmul, 2, {P(2, -1, 1, 1, 4), P(2, -1, 1, 4, 1)}},
    {"matmul", "empty inner dim [2,0]x[0,3]", f_matmul, 2, {P(2, -1, 1, 2, 0), P(2, -1, 1, 0, 3)}},
    {"matmul", "small MLP tanh(xW1)W2", f_matmul_chain, 3,
     {P(2, -1, 1, 5, 3), P(2, -1, 1, 3, 4), P(2, -1, 1, 4, 2)}},
    {"permute", "3-D permutation", f_permute, 1, {P(3, -1, 1, 2, 3, 4)}},
    {"permute", "transpose then matmul", f_transpose, 1, {P(2, -1, 1, 3, 4)}},
    {"reshape", "infer -1", f_reshape, 1, {P(3, -1, 1, 2, 3, 2)}},
    {"reshape", "of a non-contiguous view", f_reshape_view, 1, {P(2, -1, 1, 3, 4)}},
    {"slice", "step 2, negative start", f_slice, 1, {P(2, -1, 1, 4, 6)}},
    {"slice", "empty slice", f_slice_empty, 1, {P(2, -1, 1, 3, 4)}},
    {"expand", "[3,1] -> [2,3,4]", f_expand, 1, {P(2, -1, 1, 3, 1)}},
    {"contiguous", "of a transposed view", f_contiguous, 1, {ST(2, -1, 1, 3, 4)}},
    {"concat", "3 inputs on axis 1", f_concat, 3, {P(2, -1, 1, 2, 3), T(2, -1, 1, 2, 1), P(2, -1, 1, 2, 2)}},
    {"concat", "axis 0 with an empty part", f_concat0, 2, {P(2, -1, 1, 0, 3), P(2, -1, 1, 2, 3)}},
    {"sum", "all", f_sum_all, 1, {T(2, -1, 1, 3, 4)}},
    {"sum", "axes 0 and -1", f_sum_axes, 1, {P(3, -1, 1, 2, 3, 4)}},
    {"sum", "keepdim", f_sum_keep, 1, {P(2, -1, 1, 3, 4)}},
    {"sum", "empty tensor", f_sum_all, 1, {P(2, -1, 1, 0, 4)}},
    {"mean", "all", f_mean_all, 1, {ST(2, -1, 1, 3, 4)}},
    {"mean", "keepdim axis 0", f_mean_keep, 1, {P(2, -1, 1, 3, 4)}},
    {"max", "axis 0", f_max0, 1, {P(2, -1, 1, 4, 3)}},
    {"max", "last axis keepdim", f_max1, 1, {T(2, -1, 1, 3, 5)}},
    {"softmax", "axis 0", f_softmax0, 1, {P(2, -3, 3, 4, 3)}},
    {"softmax", "last axis, strided", f_softmax1, 1, {ST(2, -3, 3, 3, 4)}},
    {"log_softmax", "axis 1", f_log_softmax, 1, {T(2, -3, 3, 3, 4)}},
    {"relu_backward", "g, x away from 0", f_relu_bwd, 2, {P(2, -1, 1, 3, 4), AWAY(2, 0.1, 1, 3, 4)}},
    {"leaky_relu_backward", "g, x away from 0", f_leaky_bwd, 2,
     {P(2, -1, 1, 3, 4), AWAY(2, 0.1, 1, 3, 4)}},
    {"sigmoid_backward", "g, y in (0,1)", f_sigmoid_bwd, 2, {P(2, -1, 1, 3, 4), P(2, 0.05, 0.95, 3, 4)}},
    {"tanh_backward", "g, y in (-1,1)", f_tanh_bwd, 2, {P(2, -1, 1, 3, 4), P(2, -0.9, 0.9, 3, 4)}},
    {"gelu_backward", "g, x", f_gelu_bwd, 2, {P(2, -1, 1, 3, 4), P(2, -3, 3, 3, 4)}},
    {"slice_backward", "scatter into [5,7]", f_slice_bwd, 1, {P(2, -1, 1, 2, 3)}},
    {"clamp", "both bounds active", f_clamp, 1, {P(2, -1, 1, 3, 4)}},
    {"softmax_cross_entropy", "sparse targets", f_sce_sparse, 1, {P(2, -3, 3, 5, 3)}},
    {"softmax_cross_entropy", "dense targets, strided logits", f_sce_dense, 1, {ST(2, -3, 3, 4, 3)}},
    {"softmax_cross_entropy", "label smoothing + class weights", f_sce_smooth_weighted, 1, {T(2, -3, 3, 5, 3)}},
    {"softmax_cross_entropy_backward", "sparse, smoothing, weights", f_sce_bwd, 2,
     {P(2, -3, 3, 4, 3), P(0, 0.5, 1.5, 0)}},
    {"softmax_cross_entropy_backward", "dense targets", f_sce_bwd_dense, 2, {P(2, -3, 3, 4, 3), P(0, 0.5, 1.5, 0)}},
    {"bce_with_logits", "wide range", f_bce_logits, 1, {P(2, -6, 6, 3, 4)}},
    {"binary_cross_entropy", "p in (0.05, 0.95)", f_bce, 1, {P(2, 0.05, 0.95, 3, 4)}},
    {"categorical_cross_entropy", "sparse targets", f_cce_sparse, 1, {P(2, 0.05, 0.95, 4, 3)}},
    {"categorical_cross_entropy", "dense targets", f_cce_dense, 1, {T(2, 0.05, 0.95, 4, 3)}},
    {"mse", "plain", f_mse, 1, {P(2, -1, 1, 3, 4)}},
    {"mae", "away from 0", f_mae, 1, {AWAY(2, 0.1, 1, 3, 4)}},
    {"huber", "both regions", f_huber, 1, {P(2, -2, 2, 4, 5)}},
    {"kl_div", "log-probabilities", f_kl, 1, {P(2, -3, -0.1, 4, 3)}},
    {"dropout", "rate 0.3, fixed mask", f_dropout, 1, {P(2, -1, 1, 6, 5)}},
    {"l1_penalty", "away from 0", f_l1, 1, {AWAY(2, 0.1, 1, 3, 4)}},
    {"l2_penalty", "strided", f_l2, 1, {ST(2, -1, 1, 3, 4)}},
    {"dense", "x W + b", f_dense, 3, {P(2, -1, 1, 3, 4), P(2, -1, 1, 4, 5), P(1, -1, 1, 5)}},
    {"dense", "transposed x, no bias", f_dense_nobias, 2, {T(2, -1, 1, 3, 4), P(2, -1, 1, 4, 2)}},

    /* ---- stepped slices */
    {"slice", "x[4,6][0:4, 1:6:2]", f_slice_step, 1, {P(2, -1, 1, 4, 6)}},
    {"slice", "x[5,7][0:5:2, 1:7:3], transposed x", f_slice_step2, 1, {T(2, -1, 1, 5, 7)}},

    /* ---- constants mixed with parameters, for every multi-input op: the gradients of
     * the parameters must not depend on which inputs require grad */
    {"add", "constant a [3,4] + b [4]", f_add, 2, {K(2, -1, 1, 3, 4), P(1, -1, 1, 4)}},
    {"add", "a [2,3] + constant b [2,3]", f_add, 2, {P(2, -1, 1, 2, 3), K(2, -1, 1, 2, 3)}},
    {"add", "a*(a+b), b constant", f_mul_self, 2, {P(2, -1, 1, 2, 3), K(2, -1, 1, 2, 3)}},
    {"sub", "constant a [2,3] - b [2,1]", f_sub, 2, {K(2, -1, 1, 2, 3), P(2, -1, 1, 2, 1)}},
    {"sub", "a [2,3] - constant b [3]", f_sub, 2, {P(2, -1, 1, 2, 3), K(1, -1, 1, 3)}},
    {"mul", "constant a [2,3,4] * b [3,1]", f_mul, 2, {K(3, -1, 1, 2, 3, 4), P(2, -1, 1, 3, 1)}},
    {"mul", "a [3,4] * constant transposed b", f_mul, 2, {P(2, -1, 1, 3, 4), KT(2, -1, 1, 3, 4)}},
    {"div", "constant a [3,4] / b [4]", f_div, 2, {K(2, -1, 1, 3, 4), AWAY(1, 0.5, 2, 4)}},
    {"div", "a [3,4] / constant b [3,1]", f_div, 2, {P(2, -1, 1, 3, 4), KAWAY(2, 0.5, 2, 3, 1)}},
    {"matmul", "constant A [3,4] x B [4,5]", f_matmul, 2, {K(2, -1, 1, 3, 4), P(2, -1, 1, 4, 5)}},
    {"matmul", "A [2,3,4] x constant B [4,5]", f_matmul, 2,
     {P(3, -1, 1, 2, 3, 4), K(2, -1, 1, 4, 5)}},
    {"matmul", "small MLP, constant x", f_matmul_chain, 3,
     {K(2, -1, 1, 5, 3), P(2, -1, 1, 3, 4), P(2, -1, 1, 4, 2)}},
    {"matmul", "small MLP, constant W1", f_matmul_chain, 3,
     {P(2, -1, 1, 5, 3), K(2, -1, 1, 3, 4), P(2, -1, 1, 4, 2)}},
    {"concat", "constant first of 3 on axis 1", f_concat, 3,
     {K(2, -1, 1, 2, 3), T(2, -1, 1, 2, 1), P(2, -1, 1, 2, 2)}},
    {"concat", "constant middle of 3 on axis 1", f_concat, 3,
     {P(2, -1, 1, 2, 3), KT(2, -1, 1, 2, 1), P(2, -1, 1, 2, 2)}},
    {"concat", "axis 0, constant first", f_concat0, 2, {K(2, -1, 1, 2, 3), P(2, -1, 1, 3, 3)}},
    {"dense", "constant x, W and b", f_dense, 3,
     {K(2, -1, 1, 3, 4), P(2, -1, 1, 4, 5), P(1, -1, 1, 5)}},
    {"dense", "x, constant W and b", f_dense, 3,
     {P(2, -1, 1, 3, 4), K(2, -1, 1, 4, 5), K(1, -1, 1, 5)}},
    {"dense", "constant x and W, b", f_dense, 3,
     {K(2, -1, 1, 3, 4), KT(2, -1, 1, 4, 5), P(1, -1, 1, 5)}},
    {"dense", "constant x, W, no bias", f_dense_nobias, 2, {KT(2, -1, 1, 3, 4), P(2, -1, 1, 4, 2)}},
    {"relu_backward", "constant g, x", f_relu_bwd, 2, {K(2, -1, 1, 3, 4), AWAY(2, 0.1, 1, 3, 4)}},
    {"relu_backward", "g, constant x", f_relu_bwd, 2, {P(2, -1, 1, 3, 4), KAWAY(2, 0.1, 1, 3, 4)}},
    {"leaky_relu_backward", "g, constant x", f_leaky_bwd, 2,
     {P(2, -1, 1, 3, 4), KAWAY(2, 0.1, 1, 3, 4)}},
    {"sigmoid_backward", "constant g, y", f_sigmoid_bwd, 2,
     {K(2, -1, 1, 3, 4), P(2, 0.05, 0.95, 3, 4)}},
    {"sigmoid_backward", "g, constant y", f_sigmoid_bwd, 2,
     {P(2, -1, 1, 3, 4), K(2, 0.05, 0.95, 3, 4)}},
    {"tanh_backward", "constant g, y", f_tanh_bwd, 2, {K(2, -1, 1, 3, 4), P(2, -0.9, 0.9, 3, 4)}},
    {"tanh_backward", "g, constant y", f_tanh_bwd, 2, {P(2, -1, 1, 3, 4), K(2, -0.9, 0.9, 3, 4)}},
    {"gelu_backward", "constant g, x", f_gelu_bwd, 2, {K(2, -1, 1, 3, 4), P(2, -3, 3, 3, 4)}},
    {"gelu_backward", "g, constant x", f_gelu_bwd, 2, {P(2, -1, 1, 3, 4), K(2, -3, 3, 3, 4)}},
    {"softmax_cross_entropy_backward", "constant logits, g", f_sce_bwd, 2,
     {K(2, -3, 3, 4, 3), P(0, 0.5, 1.5, 0)}},
    {"softmax_cross_entropy_backward", "logits, constant g", f_sce_bwd, 2,
     {P(2, -3, 3, 4, 3), K(0, 0.5, 1.5, 0)}},

    /* ---- the *_backward helper ops with a broadcast g (or x) */
    {"relu_backward", "g [4] broadcast over x [3,4]", f_relu_bwd, 2,
     {P(1, -1, 1, 4), AWAY(2, 0.1, 1, 3, 4)}},
    {"relu_backward", "g [3,1] broadcast, x transposed", f_relu_bwd, 2,
     {P(2, -1, 1, 3, 1), T(2, -1, 1, 3, 4)}},
    {"leaky_relu_backward", "g [1,4] broadcast over x [3,4]", f_leaky_bwd, 2,
     {P(2, -1, 1, 1, 4), AWAY(2, 0.1, 1, 3, 4)}},
    {"sigmoid_backward", "g [3,1] broadcast over y [3,4]", f_sigmoid_bwd, 2,
     {P(2, -1, 1, 3, 1), P(2, 0.05, 0.95, 3, 4)}},
    {"sigmoid_backward", "g [3,4], y [4] broadcast", f_sigmoid_bwd, 2,
     {P(2, -1, 1, 3, 4), P(1, 0.05, 0.95, 4)}},
    {"tanh_backward", "scalar g broadcast over y [3,4]", f_tanh_bwd, 2,
     {P(0, -1, 1, 0), P(2, -0.9, 0.9, 3, 4)}},
    {"gelu_backward", "g [4] broadcast over x [2,3,4]", f_gelu_bwd, 2,
     {P(1, -1, 1, 4), P(3, -3, 3, 2, 3, 4)}},
};
const int gc_ncases = (int)(sizeof gc_cases / sizeof gc_cases[0]);

int gc_count(void) { return gc_ncases + gc_ncases_cnn; }

const gc_case *gc_get(int i)
{
    if (i < gc_ncases)
        return &gc_cases[i];
    return &gc_cases_cnn[i - gc_ncases];
}

static tg_tensor *draw(const in_spec *s, int ndim, const int64_t *shape, tg_dtype dt,
                       uint64_t seed, uint64_t stream)
{
    tg_tensor *x = tg_rand_uniform(dt, ndim, shape, s->lo, s->hi, seed, stream);
    if (x && s->away) {
        int64_t n = tg_tensor_numel(x);
        for (int64_t i = 0; i < n; i++)
            if (tg_rng_uniform01(seed, stream + 1000, (uint64_t)i) < 0.5)
                tg_tensor_set_flat(x, i, -tg_tensor_get_flat(x, i));
    }
    return x;
}

bool gc_make_inputs(const gc_case *c, tg_dtype dt, uint64_t seed, tg_tensor **in)
{
    for (int i = 0; i < c->n; i++) {
        const in_spec *s = &c->in[i];
        int64_t shape[4];
        memcpy(shape, s->shape, sizeof shape);
        in[i] = NULL;
        tg_tensor *base = NULL;
        if (s->kind == IN_TRANSPOSED && s->ndim >= 2) {
            int a = s->ndim - 2, b = s->ndim - 1;
            shape[a] = s->shape[b];
            shape[b] = s->shape[a];
            base = draw(s, s->ndim, shape, dt, seed, (uint64_t)i);
            in[i] = tg_view_transpose(base, a, b);
        } else if (s->kind == IN_STRIDED && s->ndim >= 1) {
            int64_t start[4] = {0}, stop[4], step[4] = {1, 1, 1, 1};
            shape[s->ndim - 1] *= 2;
            for (int d = 0; d < s->ndim; d++)
                stop[d] = shape[d];
            step[s->ndim - 1] = 2;
            base = draw(s, s->ndim, shape, dt, seed, (uint64_t)i);
            in[i] = tg_view_slice(base, start, stop, step);
        } else {
            in[i] = draw(s, s->ndim, shape, dt, seed, (uint64_t)i);
        }
        tg_tensor_free(&base); /* the view keeps the storage alive */
        if (!in[i])
            return false;
    }
    return true;
}

void gc_free_inputs(const gc_case *c, tg_tensor **in)
{
    for (int i = 0; i < c->n; i++)
        tg_tensor_free(&in[i]);
}

int gc_bind(gc_bound *b, const gc_case *c, tg_tensor **in, tg_tensor **params)
{
    b->c = c;
    b->np = 0;
    for (int i = 0; i < c->n; i++) {
        b->all[i] = in[i];
        tg_tensor_set_requires_grad(in[i], !c->in[i].konst);
        if (!c->in[i].konst) {
            b->pos[b->np] = i;
            params[b->np++] = in[i];
        }
    }
    return b->np;
}

tg_tensor *gc_call(tg_tape *t, tg_tensor *const *params, void *bound)
{
    gc_bound *b = bound;
    tg_tensor *in[4];
    for (int i = 0; i < b->c->n; i++)
        in[i] = b->all[i];
    for (int k = 0; k < b->np; k++)
        in[b->pos[k]] = params[k];
    return b->c->fn(t, in, NULL);
}
