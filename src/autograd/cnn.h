/* tapegrad — convolution, pooling and normalisation ops.
 *
 * Layout is NCHW: images are [N, C, H, W], sequences [N, C, L]. Every function takes
 * the tape first and returns a tape tensor owned by the tape's arena, valid until
 * tg_tape_reset / tg_tape_free. F32 and F64; the inputs of one call share a dtype.
 *
 * Errors: bad shapes (wrong rank, channels not divisible by groups, a window larger
 * than the padded input, a parameter of the wrong shape), bad options (stride or
 * dilation < 1, negative padding) and dtype mismatches return NULL and record a sticky
 * error on the tape whose message names the function and the shapes, e.g.
 * "tg_conv2d: input channels 3 of x [2,3,5,5] not divisible by groups 2". A NULL
 * input, or a call on a failed tape, returns NULL without a new error.
 *
 * Registered ops: im2col, col2im, conv2d (forward: im2col + GEMM with the bias fused;
 * backward written with matmul, col2im, conv2d_weight and sum), conv2d_weight, max_pool2d (one pass saving
 * each window's argmax; backward a scatter-add), gather_last and scatter_add_last (each
 * the other's adjoint), batch_norm (training with the batch's statistics: two passes for
 * the statistics, one for the output; backward a fused loop, or the same formulas as ops
 * when the backward is recorded). conv1d, the other pools, batch norm with running
 * statistics, layer norm and flatten are compositions of registered ops. */
#ifndef TG_CNN_H
#define TG_CNN_H

#include "autograd.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Output size of a sliding window along one axis:
 * floor((in + 2 pad - dilation (k - 1) - 1) / stride) + 1, or -1 if the (dilated)
 * window does not fit the padded input or an argument is out of range. */
TG_API int64_t tg_conv_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad,
                                int64_t dilation);

/* ---- unfold / fold (registered ops, each the other's adjoint) ---- */

/* Windows of x [N, C, H, W] as columns: cols [N, C*kH*kW, Ho*Wo], row c*kH*kW + i*kW + j
 * holding x[n, c, oh*sH - pH + i*dH, ow*sW - pW + j*dW] (pad_value outside the image).
 * kernel, stride, padding, dilation are (h, w) pairs; stride and dilation NULL mean
 * (1, 1), padding NULL means (0, 0). The gradient w.r.t. x is tg_col2im of the
 * output gradient. */
TG_API tg_tensor *tg_im2col(tg_tape *t, tg_tensor *x, const int64_t kernel[2],
                            const int64_t stride[2], const int64_t padding[2],
                            const int64_t dilation[2], double pad_value);
/* The adjoint of tg_im2col: cols [N, C*kH*kW, Ho*Wo] summed back into an image
 * [N, C, size[0], size[1]] (overlapping windows add; padding positions are dropped).
 * C is cols->shape[1] / (kH*kW); Ho*Wo must match the window arithmetic. */
TG_API tg_tensor *tg_col2im(tg_tape *t, tg_tensor *cols, const int64_t size[2],
                            const int64_t kernel[2], const int64_t stride[2],
                            const int64_t padding[2], const int64_t dilation[2]);

/* ---- convolution ---- */

typedef struct tg_conv2d_opts {
    int64_t stride[2];   /* (h, w), >= 1 */
    int64_t padding[2];  /* zero padding on both sides, >= 0 */
    int64_t dilation[2]; /* >= 1 */
    int64_t groups;      /* C_in and C_out divisible by it */
} tg_conv2d_opts;
/* stride (1,1), padding (0,0), dilation (1,1), groups 1 */
TG_API tg_conv2d_opts tg_conv2d_defaults(void);

/* 2-D convolution (cross-correlation, like PyTorch): x [N, C_in, H, W], w [C_out,
 * C_in/groups, kH, kW], b [C_out] or NULL; opts NULL means the defaults. Returns
 * [N, C_out, Ho, Wo]. Computed as im2col + GEMM (the bias added inside the GEMM);
 * gradients flow to x, w and b. */
TG_API tg_tensor *tg_conv2d(tg_tape *t, tg_tensor *x, tg_tensor *w, tg_tensor *b,
                            const tg_conv2d_opts *opts);

/* The gradient of tg_conv2d w.r.t. its weight (PyTorch's torch.nn.grad.conv2d_weight):
 * x [N, C_in, H, W], g [N, C_out, Ho, Wo] (a gradient of the convolution's output),
 * w_shape the weight's shape [C_out, C_in/groups, kH, kW]; opts NULL means the defaults.
 * Returns [C_out, C_in/groups, kH, kW]: per group, g times the windows of x summed over
 * samples and positions. Computed one sample at a time (its windows unfolded in cache,
 * one GEMM), the samples' shares summed in sample order. Registered op, differentiable
 * in x and g (conv2d's backward uses it). */
TG_API tg_tensor *tg_conv2d_weight(tg_tape *t, tg_tensor *x, tg_tensor *g,
                                   const int64_t w_shape[4], const tg_conv2d_opts *opts);

typedef struct tg_conv1d_opts {
    int64_t stride, padding, dilation, groups;
} tg_conv1d_opts;
/* stride 1, padding 0, dilation 1, groups 1 */
TG_API tg_conv1d_opts tg_conv1d_defaults(void);
/* 1-D convolution: x [N, C_in, L], w [C_out, C_in/groups, k], b [C_out] or NULL;
 * returns [N, C_out, Lo]. tg_conv2d on views with H = 1. */
TG_API tg_tensor *tg_conv1d(tg_tape *t, tg_tensor *x, tg_tensor *w, tg_tensor *b,
                            const tg_conv1d_opts *opts);

/* ---- pooling ----
 * x [N, C, H, W] -> [N, C, Ho, Wo]. kernel is an (h, w) pair; stride NULL means the
 * kernel (PyTorch's default), padding NULL means (0, 0). Padding may be at most half
 * the kernel on each axis (as in PyTorch), so every window holds an input element. */

/* Maximum over each window; padding acts as -inf (never chosen). The gradient goes to
 * the first maximum of each window (row-major; a NaN counts as the maximum): the
 * forward saves its position and the backward is tg_scatter_add_last over the planes. */
TG_API tg_tensor *tg_max_pool2d(tg_tape *t, tg_tensor *x, const int64_t kernel[2],
                                const int64_t stride[2], const int64_t padding[2]);
/* Mean over each window; padded zeros count in the divisor (PyTorch's default
 * count_include_pad = true): every window is divided by kH*kW. */
TG_API tg_tensor *tg_avg_pool2d(tg_tape *t, tg_tensor *x, const int64_t kernel[2],
                                const int64_t stride[2], const int64_t padding[2]);
/* sqrt of the mean of squares over each window (padded zeros count, like average
 * pooling): sqrt(avg_pool2d(x^2)). Its gradient is undefined where a window is all 0. */
TG_API tg_tensor *tg_l2_pool2d(tg_tape *t, tg_tensor *x, const int64_t kernel[2],
                               const int64_t stride[2], const int64_t padding[2]);
/* Mean over H and W: x [N, C, H, W] -> [N, C]. */
TG_API tg_tensor *tg_global_avg_pool2d(tg_tape *t, tg_tensor *x);

/* ---- indexing along the last axis (registered ops, each the other's adjoint) ---- */

/* out[..., q] = x[..., idx[..., q]]: x [..., P] (F32/F64), idx I32 [..., Q] with x's
 * leading dims and every index in [0, P) (else TG_ERANGE). Returns [..., Q]. The
 * gradient w.r.t. x is tg_scatter_add_last of the output gradient. */
TG_API tg_tensor *tg_gather_last(tg_tape *t, tg_tensor *x, tg_tensor *idx);
/* The adjoint of tg_gather_last: a zero tensor [..., size] (src's leading dims) with
 * out[..., idx[..., q]] += src[..., q], added in q order (deterministic). src [..., Q]
 * (F32/F64), idx I32 of src's shape with every index in [0, size). The gradient
 * w.r.t. src is tg_gather_last of the output gradient. */
TG_API tg_tensor *tg_scatter_add_last(tg_tape *t, tg_tensor *src, tg_tensor *idx, int64_t size);

/* ---- normalisation ---- */

/* Batch normalisation over every axis but axis 1 (the channels): x [N, C] or
 * [N, C, ...] (e.g. [N, C, H, W]); y = (x - mean) / sqrt(var + eps) * gamma + beta,
 * gamma and beta [C] (each may be NULL: scale 1, shift 0).
 * training: mean and var are the batch statistics (biased variance), computed in two
 *   passes in double (mean first, then the mean of squared deviations), one op
 *   (batch_norm) with inputs x, gamma and beta; if running_mean and
 *   running_var ([C], x's dtype) are given they are updated in place, outside the tape
 *   and without gradient: running = (1 - momentum) running + momentum batch, with the
 *   unbiased batch variance for running_var (PyTorch's convention). Needs more than
 *   one value per channel.
 * evaluation (!training): mean and var are running_mean and running_var; each sample
 *   is normalised on its own (a batch gives the same outputs as its samples one at a
 *   time), as x * a + b with a = gamma / sqrt(var + eps), b = beta - mean * a.
 *   Without running statistics (both NULL) the batch statistics are used in
 *   both modes and nothing is updated.
 * momentum in [0, 1] (PyTorch's default 0.1), eps > 0 (default 1e-5). */
TG_API tg_tensor *tg_batch_norm(tg_tape *t, tg_tensor *x, tg_tensor *gamma, tg_tensor *beta,
                                tg_tensor *running_mean, tg_tensor *running_var,
                                double momentum, double eps, bool training);
/* Layer normalisation over the last n_last_dims axes of x (1 <= n_last_dims <= ndim):
 * y = (x - mean) / sqrt(var + eps) * gamma + beta, biased variance computed in two
 * passes; gamma and beta have the shape of those axes (each may be NULL). eps > 0. */
TG_API tg_tensor *tg_layer_norm(tg_tape *t, tg_tensor *x, int n_last_dims, tg_tensor *gamma,
                                tg_tensor *beta, double eps);

/* ---- reshaping ---- */

/* x [d0, ..., d{n-1}] -> [d0, ..., d{s-1}, d_s * ... * d{n-1}] with s = start_axis
 * (negative counts from the end; 0 flattens everything into one axis). A view when x is
 * contiguous (tg_reshape). */
TG_API tg_tensor *tg_flatten(tg_tape *t, tg_tensor *x, int start_axis);

#ifdef __cplusplus
}
#endif
#endif
