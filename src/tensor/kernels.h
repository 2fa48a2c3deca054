/* Private to libtapegrad: the tensor layer's private interface (storage, view
 * arithmetic, the kernels), used by src/tensor and by src/autograd only; every other
 * module uses src/util.h and the public headers. Kernels know nothing about tapes: they take headers
 * whose data is allocated (or pointers, sizes and strides), and their callers have
 * checked shapes and dtypes. Every element is computed by the same code whatever the
 * thread split, so results never depend on the thread count. */
#ifndef TG_TENSOR_KERNELS_H
#define TG_TENSOR_KERNELS_H

#include <math.h>
#include <stdatomic.h>

#include "../util.h"

/* refcounted storage of persistent tensors */
struct tg__storage {
    void *data;
    int64_t refcount;
    bool owns;          /* false for tg_tensor_wrap */
    atomic_int grad_holders; /* headers on this storage that require grad */
    atomic_int grad_lock;    /* 1 while a backward adds into a .grad of a header here */
};

/* tg_tensor.gen of every persistent header (tape tensors hold their tape's generation,
 * counted from 1): with tape == NULL it tells a persistent tensor from arena memory that
 * a reset handed to newer tensors, so a stale tape tensor is never taken for one */
#define TG__PERSISTENT_GEN 0x7A9E5C3Bu

/* sets x->requires_grad, keeping its storage's count of headers that require grad
 * (persistent views of such a storage are refused by recording ops) */
void tg__set_requires_grad(tg_tensor *x, bool on);

/* a new persistent header for view (a view of x's data), sharing x's storage (one more
 * reference); NULL with TG_ENOMEM */
tg_tensor *tg__tensor_share(const tg_tensor *x, const tg_tensor *view);
/* fills dtype/ndim/shape and contiguous strides; offset 0; everything else zeroed */
void tg__init_header(tg_tensor *t, tg_dtype dt, int ndim, const int64_t *shape);

/* View arithmetic shared by persistent views and tape ops. Each fills `out` (a header
 * whose data/storage fields are copied from x) or returns a status with a message in
 * err (prefixed by the caller's op name). */
tg_status tg__view_reshape(tg_tensor *out, const tg_tensor *x, int ndim, const int64_t *shape,
                           char *err, size_t errsz);
tg_status tg__view_permute(tg_tensor *out, const tg_tensor *x, const int *perm, char *err,
                           size_t errsz);
tg_status tg__view_slice(tg_tensor *out, const tg_tensor *x, const int64_t *start,
                         const int64_t *stop, const int64_t *step, char *err, size_t errsz);
tg_status tg__view_expand(tg_tensor *out, const tg_tensor *x, int ndim, const int64_t *shape,
                          char *err, size_t errsz);
/* NumPy broadcast of two shapes into out_shape (returns ndim, or -1 if incompatible) */
int tg__broadcast_shape(const tg_tensor *a, const tg_tensor *b, int64_t *out_shape);


/* threads for a call over `work` elements: tg_num_threads() above the threshold, else 1 */
int tg__par_threads(int64_t work);

/* strided N-d iteration over up to 3 operands sharing one iteration shape; the last
 * dimension is handled by the caller's inner loop */
typedef struct tg__iter {
    int nd;                       /* outer dims (iteration shape minus the inner one) */
    int nops;
    int64_t shape[TG_MAX_DIMS];
    int64_t st[3][TG_MAX_DIMS];
    int64_t idx[TG_MAX_DIMS];
    int64_t off[3];
    int64_t inner;                /* length of the inner loop */
    int64_t ist[3];               /* inner strides */
    int64_t count;                /* inner rows left */
    bool first;
} tg__iter;
/* Sets up iteration over `shape` (ndim dims) for nops operands with the given strides
 * (already broadcast: 0 on broadcast axes) and base offsets. Adjacent dimensions that
 * are contiguous for every operand are merged. */
void tg__iter_init(tg__iter *it, int ndim, const int64_t *shape, int nops,
                   const int64_t *const *strides, const int64_t *offsets);
/* Advances to the next inner row; false when done. Call once before the first row. */
bool tg__iter_next(tg__iter *it);
/* strides of t broadcast to an ndim-dim shape (0 on new or size-1-expanded axes) */
void tg__bstrides(const tg_tensor *t, int ndim, const int64_t *shape, int64_t *st);

/* elementwise op codes shared by kernels and autograd */
typedef enum tg__uop {
    TG_U_NEG, TG_U_EXP, TG_U_LOG, TG_U_SQRT, TG_U_ABS, TG_U_RELU, TG_U_LEAKY_RELU,
    TG_U_SIGMOID, TG_U_TANH, TG_U_GELU, TG_U_SOFTPLUS, TG_U_ADD_SCALAR, TG_U_MUL_SCALAR,
    TG_U_POW_SCALAR, TG_U_SIGN, TG_U_COPY
} tg__uop;
typedef enum tg__bop {
    TG_B_ADD, TG_B_SUB, TG_B_MUL, TG_B_DIV,
    TG_B_RELU_BWD,        /* g * (x > 0) */
    TG_B_LEAKY_RELU_BWD,  /* g * (x > 0 ? 1 : alpha) */
    TG_B_SIGMOID_BWD,     /* g * y * (1 - y), y = sigmoid output */
    TG_B_TANH_BWD,        /* g * (1 - y^2), y = tanh output */
    TG_B_GELU_BWD         /* g * (Phi(x) + x phi(x)) */
} tg__bop;

/* out = f(x) elementwise; out contiguous with x's shape; same dtype (F32/F64) except
 * TG_U_COPY, which converts between any dtypes and accepts any layout for out. */
void tg__k_unary(tg_tensor *out, const tg_tensor *x, tg__uop op, double p0);
/* out = f(a, b) with broadcasting; out contiguous with the broadcast shape */
void tg__k_binary(tg_tensor *out, const tg_tensor *a, const tg_tensor *b, tg__bop op, double p0);
/* out += x (same shape, same float dtype; out may be any layout without overlap) */
void tg__k_accumulate(tg_tensor *out, const tg_tensor *x);
/* sum of x over the axes in `mask` (bit k = axis k), times scale, into out, which has
 * x's rank with size 1 on reduced axes (keepdim layout, any strides); out is
 * overwritten. Accumulated in double for every dtype and layout, rounded once. */
void tg__k_sum(tg_tensor *out, const tg_tensor *x, uint32_t mask, double scale);
/* max over one axis: out (keepdim layout) gets the maxima; if mask != NULL it gets a
 * 0/1 tensor of x's shape marking the first maximum of each row */
void tg__k_max(tg_tensor *out, tg_tensor *mask, const tg_tensor *x, int axis);
/* softmax / log-softmax over one axis (row max subtracted); out contiguous, x's shape;
 * an empty axis gives an empty output (nothing is read or written) */
void tg__k_softmax(tg_tensor *out, const tg_tensor *x, int axis, bool log);
/* Inverted dropout in place on a contiguous float tensor: element i is kept (and
 * scaled by 1/(1-rate)) iff its 16-bit draw u_i satisfies u_i >= rate * 65536, where
 * u_i is bits 16(i mod 4) .. 16(i mod 4)+15 of tg_rng_u64(seed, stream, i / 4). The
 * mask depends only on (seed, stream, i): regenerated, never stored; any thread split
 * gives the same bits. */
void tg__k_dropout_mask(tg_tensor *t, double rate, uint64_t seed, uint64_t stream);
/* fill every element */
void tg__k_fill(tg_tensor *t, double v);
/* matrix product of the last two dims, batch dims broadcast; out contiguous with the
 * broadcast shape [..., M, N]; bias (NULL or broadcastable to out) is added in the same
 * GEMM pass (beta = 1); returns false on allocation failure of a scratch copy */
bool tg__k_matmul(tg_tensor *out, const tg_tensor *a, const tg_tensor *b, const tg_tensor *bias);

/* ---- the one log-sum-exp (lse_impl.h): tg__row_max_*, tg__expsum_*, tg__expsum_store_* ---- */
#define TG__TEMPLATE "lse_impl.h"
#include "instantiate.h"

/* ---- losses (loss.c): contiguous rows, accumulated in double ---- */

typedef enum tg__loss_kind {
    TG_L_BCE_LOGITS, TG_L_BCE, TG_L_MSE, TG_L_MAE, TG_L_HUBER, TG_L_KL
} tg__loss_kind;
/* probabilities are clipped to [TG__PROB_LO, TG__PROB_HI] by the losses on them */
#define TG__PROB_LO 1e-7
#define TG__PROB_HI (1.0 - 1e-7)

/* sum over i < n of the loss term of (x_i, y_i) (contiguous, dtype dt), in double */
double tg__k_loss_sum(tg__loss_kind k, tg_dtype dt, const void *x, const void *y, int64_t n,
                      double delta);
/* -sum y_i log(clip(p_i)) over the nonzero y_i (contiguous, dtype dt), in double */
double tg__k_cce_sum(tg_dtype dt, const void *p, const void *y, int64_t n);
/* sum |x_i| (l1) or sum x_i^2, in double */
double tg__k_penalty_sum(tg_dtype dt, const void *x, int64_t n, bool l1);
/* x_i clipped to [lo, hi] in place, or (mask) replaced by 1 inside [lo, hi], 0 outside */
void tg__k_clamp(tg_dtype dt, void *x, int64_t n, double lo, double hi, bool mask);
/* the one-hot [N, C] of the labels y into the zeroed out; -1, or the first row whose
 * label is outside [0, C) */
int64_t tg__k_onehot(tg_dtype dt, void *out, const int32_t *y, int64_t N, int64_t C);
/* The cross-entropy's per-element target weights r [N, C] (dtype dt) so that loss =
 * sum_ik r_ik (lse_i - z_ik) / D: from class labels (y I32 [N], sparse) or a dense target
 * (y [N, C] of dtype dt), class weights w (NULL or [C]) and label smoothing eps, as
 * PyTorch defines them. *D gets the divisor. Returns -1, or the first row whose label is
 * outside [0, C). */
int64_t tg__k_ce_targets(tg_dtype dt, void *r, const void *y, bool sparse, const void *w,
                         int64_t N, int64_t C, double eps, double *D);
/* sum_ik r_ik (lse_i - z_ik) over contiguous z, r [N, C] (N >= 0, C >= 1), in double */
double tg__k_ce_loss_sum(tg_dtype dt, const void *z, const void *r, int64_t N, int64_t C);
/* out [N, C] = (s_i softmax(z_i) - r_i) scale with s_i = sum_k r_ik: the cross-entropy's
 * gradient in one pass per row */
void tg__k_ce_grad(tg_dtype dt, void *out, const void *z, const void *r, int64_t N, int64_t C,
                   double scale);
/* The common case in one typed pass: F32 logits z [N, C], I32 labels y [N], contiguous.
 * With grad NULL: *loss = the mean of lse_i - z_i,y_i (the logs taken once per block of
 * rows, of the product of the rows' sums in double, small enough that the product stays
 * below 2^960: the same value to rounding as one log per row, and a log per row was a
 * tenth of a small model's step). Else grad = (softmax - onehot) * scale. Returns -1, or
 * the first row whose label is outside [0, C) (nothing more is computed). */
int64_t tg__k_sce_labels_f32(const float *z, const int32_t *y, int64_t N, int64_t C,
                             double *loss, float *grad, float scale);

/* ---- window and index kernels (window.c) ---- */

/* a 2-D sliding window: kernel, stride, padding, dilation as (h, w) pairs */
typedef struct tg__win2d {
    int64_t k[2], s[2], p[2], d[2];
} tg__win2d;

/* samples n0 .. n0+nn-1 of x [N, C, H, W] (any strides) unfolded into contiguous cols
 * [nn, C*kH*kW, Ho*Wo], padv outside the image; on several threads (by planes) if par
 * and the work is large. Called once per sample by the convolutions: a one-thread call
 * enters no OpenMP region (an inactive region still costs about 0.4 us). */
void tg__k_im2col(const tg_tensor *x, void *cols, int64_t n0, int64_t nn, const tg__win2d *w,
                  int64_t Ho, int64_t Wo, double padv, bool par);
/* cols [N, C*kH*kW, Ho*Wo] (any strides) folded (summed) into the contiguous img
 * [N, C, H, W] */
void tg__k_col2im(const tg_tensor *cols, tg_tensor *img, const tg__win2d *w, int64_t Ho,
                  int64_t Wo);
/* threads for a per-sample loop over N samples of `per` unfolded elements each whose
 * products (M x L x K) are too small to split: 1 if not worth it */
int tg__conv_sample_threads(int64_t N, int64_t per, int64_t M, int64_t L, int64_t K);
/* out [N, C_out, Ho, Wo] (contiguous) = conv(x, wc) + b with G groups, one sample at a
 * time (its unfolded input still in cache for its GEMMs); wc is contiguous, b NULL or
 * [C_out]. scratch holds nt * C*kH*kW*Ho*Wo elements; nt from tg__conv_sample_threads
 * (samples shared out across threads, each computed by the same code either way). */
void tg__k_conv2d(tg_tensor *out, const tg_tensor *x, const tg_tensor *wc, const tg_tensor *b,
                  const tg__win2d *win, int64_t G, char *scratch, int nt);
/* the weight gradient out [C_out, C_in/G, kH, kW] (contiguous) of a convolution of x
 * from the contiguous output gradient gd: per sample cols(x_n) gd_n^T into part
 * (N*K*C_out elements), summed over the samples in order. scratch and nt as above. */
void tg__k_conv2d_weight(tg_tensor *out, const tg_tensor *x, const tg_tensor *gd,
                         const tg__win2d *win, int64_t G, char *scratch, char *part, int nt);
/* max pooling of x [N, C, H, W] (any strides) into the contiguous out [N, C, Ho, Wo]:
 * the first maximum of each window's in-image elements (row-major, NaN wins), and its
 * position h*W + w in the plane into the contiguous I32 arg [N, C, Ho*Wo] */
void tg__k_max_pool2d(tg_tensor *out, tg_tensor *arg, const tg_tensor *x, const tg__win2d *w);
/* batch normalisation of the contiguous x [N, C, S] over N and S per channel c (sums in
 * double): mean[c] and the biased var[c] (two passes), and y = (x - mean) rstd gamma +
 * beta with rstd = 1 / sqrt(var + eps) into the contiguous y; gamma, beta [C] */
void tg__k_batch_norm(tg_dtype dt, void *y, const void *x, int64_t N, int64_t C, int64_t S,
                      const void *gamma, const void *beta, double eps, double *mean,
                      double *var);
/* its gradients from the contiguous output gradient g and x, with the forward's mean and
 * var: dbeta[c] = sum g, dgamma[c] = sum g xhat, dx = gamma rstd (g - mean(g) - xhat
 * mean(g xhat)) with xhat = (x - mean) rstd; each output may be NULL (not computed) */
void tg__k_batch_norm_backward(tg_dtype dt, void *dx, void *dgamma, void *dbeta, const void *g,
                               const void *x, int64_t N, int64_t C, int64_t S, const void *gamma,
                               double eps, const double *mean, const double *var);
/* rows of P (x) -> rows of Q (out): out[r, q] = x[r, idx[r, q]]; everything contiguous,
 * indices in [0, P) */
void tg__k_gather_last(tg_dtype dt, void *out, const void *x, const int32_t *idx, int64_t rows,
                       int64_t P, int64_t Q);
/* the adjoint: out [rows, P] zeroed, then out[r, idx[r, q]] += src[r, q] in order */
void tg__k_scatter_add_last(tg_dtype dt, void *out, const void *src, const int32_t *idx,
                            int64_t rows, int64_t P, int64_t Q);

#endif
