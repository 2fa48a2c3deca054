/* tapegrad — layers, a sequential model, initialisers and metrics.
 * Layers are built from ops on the tape: no layer has a hand-written backward. */
#ifndef TG_NN_H
#define TG_NN_H

#include "../autograd/autograd.h"
#include "../autograd/cnn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- initialisers ----
 * Glorot (Xavier): uniform(+-sqrt(6/(in+out))) or normal(0, sqrt(2/(in+out)));
 * He (Kaiming): uniform(+-sqrt(6/in)) or normal(0, sqrt(2/in));
 * TG_INIT_SCALED_NORMAL: 0.01 * N(0,1), the classic "from scratch" course's choice. */
typedef enum tg_init {
    TG_INIT_GLOROT_UNIFORM,
    TG_INIT_GLOROT_NORMAL,
    TG_INIT_HE_UNIFORM,
    TG_INIT_HE_NORMAL,
    TG_INIT_SCALED_NORMAL
} tg_init;
/* Fills a persistent float tensor in place. The fans depend on the rank:
 *   1-D [n]:                         fan_in = fan_out = n;
 *   2-D [in, out] (a dense weight):  fan_in = shape[0], fan_out = shape[1];
 *   3-D and more [C_out, C_in/groups, k...] (a convolution weight, PyTorch's layout):
 *                                    fan_in = shape[1] * prod(k), fan_out = shape[0] * prod(k).
 * Draws from (seed, stream). TG_EINVAL for a non-float tensor or an unknown init. */
TG_API tg_status tg_init_fill(tg_tensor *w, tg_init init, uint64_t seed, uint64_t stream);

typedef enum tg_activation {
    TG_ACT_LINEAR,
    TG_ACT_RELU,
    TG_ACT_LEAKY_RELU,  /* param: negative slope */
    TG_ACT_SIGMOID,
    TG_ACT_TANH,
    TG_ACT_GELU,
    TG_ACT_SOFTPLUS,
    TG_ACT_SOFTMAX      /* over the last axis */
} tg_activation;
/* The activation as an op on the tape (TG_ACT_LINEAR returns x itself). An unknown
 * activation fails the tape (TG_EINVAL naming it) and returns NULL. */
TG_API tg_tensor *tg_activate(tg_tape *t, tg_tensor *x, tg_activation act, double param);

/* ---- sequential model ---- */
typedef struct tg_model tg_model;

/* An empty model whose parameters have dtype dt (F32 or F64); seed drives parameter
 * initialisation and dropout masks. NULL on failure (tg_last_error). */
TG_API tg_model *tg_model_new(tg_dtype dt, uint64_t seed);
TG_API void tg_model_free(tg_model **m);

typedef struct tg_dense_opts {
    tg_init init;               /* weight initialiser (bias starts at zero) */
    bool bias;
    double l1_weight, l2_weight; /* penalties added by tg_model_penalty */
    double l1_bias, l2_bias;
} tg_dense_opts;
/* Glorot uniform, with bias, no penalties */
TG_API tg_dense_opts tg_dense_defaults(void);
/* Appends Dense(in -> out): y = x W + b with W [in, out]. Parameters are named
 * "<layer>.weight" and "<layer>.bias" (layer = index in the model). */
TG_API tg_status tg_model_add_dense(tg_model *m, int64_t in, int64_t out, const tg_dense_opts *o);
TG_API tg_status tg_model_add_activation(tg_model *m, tg_activation act, double param);
/* Inverted dropout with the given rate, active only in training mode. */
TG_API tg_status tg_model_add_dropout(tg_model *m, double rate);

/* ---- convolutional layers (NCHW; see autograd/cnn.h for the ops) ---- */

typedef struct tg_conv2d_layer_opts {
    int64_t stride[2];   /* (h, w), >= 1 */
    int64_t padding[2];  /* zero padding on both sides, >= 0 */
    int64_t dilation[2]; /* >= 1 */
    int64_t groups;      /* divides in_channels and out_channels */
    bool bias;
    tg_init init;        /* weight initialiser (bias starts at zero) */
} tg_conv2d_layer_opts;
/* stride (1,1), padding (0,0), dilation (1,1), groups 1, with bias, He uniform */
TG_API tg_conv2d_layer_opts tg_conv2d_layer_defaults(void);
/* Appends Conv2d: x [N, in_channels, H, W] -> [N, out_channels, Ho, Wo]; kernel is
 * (kH, kW). Parameters "<layer>.weight" [out, in/groups, kH, kW] (fan_in =
 * in/groups*kH*kW) and "<layer>.bias" [out]. TG_EINVAL naming the layer on a bad
 * configuration (sizes < 1, groups not dividing the channels, stride/dilation < 1,
 * negative padding). */
TG_API tg_status tg_model_add_conv2d(tg_model *m, int64_t in_channels, int64_t out_channels,
                                     const int64_t kernel[2], const tg_conv2d_layer_opts *o);

typedef struct tg_pool2d_opts {
    int64_t stride[2];  /* (h, w); 0 means the kernel size (PyTorch's default) */
    int64_t padding[2]; /* >= 0, at most half the kernel */
} tg_pool2d_opts;
/* stride = kernel, padding (0, 0) */
TG_API tg_pool2d_opts tg_pool2d_defaults(void);
/* Appends MaxPool2d / AvgPool2d (padded zeros count in the average) over (kH, kW)
 * windows of x [N, C, H, W]. No parameters. */
TG_API tg_status tg_model_add_max_pool2d(tg_model *m, const int64_t kernel[2],
                                         const tg_pool2d_opts *o);
TG_API tg_status tg_model_add_avg_pool2d(tg_model *m, const int64_t kernel[2],
                                         const tg_pool2d_opts *o);

typedef struct tg_batch_norm_opts {
    double momentum; /* running-statistics update rate in [0, 1]; default 0.1 */
    double eps;      /* > 0; default 1e-5 */
    bool affine;     /* learnable per-channel scale and shift; default true */
} tg_batch_norm_opts;
TG_API tg_batch_norm_opts tg_batch_norm_defaults(void);
/* Appends BatchNorm over the channels (axis 1) of x [N, C] or [N, C, H, W] (any rank
 * >= 2). Parameters "<layer>.weight" (gamma, starts at 1) and "<layer>.bias" (beta,
 * starts at 0), both [C], when affine. Buffers (not parameters: no gradient, never seen
 * by optimizers) "<layer>.running_mean" (starts at 0) and "<layer>.running_var" (starts
 * at 1). A training forward normalises with the batch statistics and updates the
 * running ones; an evaluation forward uses the running statistics, so each sample's
 * output does not depend on the rest of the batch. */
TG_API tg_status tg_model_add_batch_norm(tg_model *m, int64_t channels,
                                         const tg_batch_norm_opts *o);

typedef struct tg_layer_norm_opts {
    double eps;  /* > 0; default 1e-5 */
    bool affine; /* learnable element-wise scale and shift; default true */
} tg_layer_norm_opts;
TG_API tg_layer_norm_opts tg_layer_norm_defaults(void);
/* Appends LayerNorm over the last ndim axes of x, which must be shape[0..ndim) (1 <=
 * ndim < 8). Parameters "<layer>.weight" (starts at 1) and "<layer>.bias" (0) of that
 * shape when affine. Same in training and evaluation. */
TG_API tg_status tg_model_add_layer_norm(tg_model *m, int ndim, const int64_t *shape,
                                         const tg_layer_norm_opts *o);
/* Appends Flatten: [N, d1, d2, ...] -> [N, d1*d2*...] (a view when contiguous). */
TG_API tg_status tg_model_add_flatten(tg_model *m);

/* Layer names. Every layer is known by its index; tg_model_set_name gives the most
 * recently added layer a name (1..TG_LAYER_NAME_MAX characters of [A-Za-z0-9_-], not
 * all digits, unique in the model), and its parameters and buffers become
 * "<name>.weight", "<name>.running_mean", ... instead of "<index>.weight". Checkpoints
 * store tensors by these names, so inserting an unnamed layer (say a dropout) before
 * named ones leaves their checkpoint names unchanged. TG_ESTATE before the first layer,
 * TG_EINVAL for an invalid or duplicate name. */
#define TG_LAYER_NAME_MAX 31
TG_API tg_status tg_model_set_name(tg_model *m, const char *name);
/* The name of layer i ("" when it has none), or NULL for an invalid i. Owned by m. */
TG_API const char *tg_model_layer_name(const tg_model *m, int i);
/* Prints one line per layer to out: index, name, type and configuration, its output
 * shape for an input of shape input_shape (batch axis first; the shapes the evaluation
 * forward pass would produce) and its parameter count; then the total parameter count
 * and the buffers (values not trained by gradients: batch norm's running statistics).
 * The same shape check as tg_model_forward: an input that does not fit fails with its
 * TG_ESHAPE and message (tg_last_error), after the lines of the layers that fit. */
TG_API tg_status tg_model_summary(const tg_model *m, int ndim, const int64_t *input_shape,
                                  FILE *out);

/* Runs the layers on x ([N, ...]: 2-D for dense layers, [N, C, H, W] for convolutions
 * and pools; a Flatten in between). training switches dropout and batch normalisation
 * together: dropout masks are drawn and batch norm uses (and updates) batch statistics;
 * otherwise dropout is the identity and batch norm uses its running statistics. Each
 * training forward advances the model's dropout counter, so masks differ between steps
 * and are reproducible from (seed, counter). Returns a tape tensor, or NULL with the
 * tape's sticky error: TG_EDTYPE if x's dtype is not the model's; TG_ESHAPE with a
 * message naming the layer and the shapes if x does not fit a layer, e.g.
 * "tg_model_forward: layer 3 (conv2d 6->16 5x5): input [64,3,12,12] has 3 channels,
 * want 6". Shapes are checked for every layer before any runs, so such a failure
 * changes neither the running statistics nor the counter. A NULL model is TG_EINVAL
 * (a NULL x returns NULL without an error, like every op). */
TG_API tg_tensor *tg_model_forward(tg_model *m, tg_tape *t, tg_tensor *x, bool training);
/* The sum of every layer's L1/L2 penalties as a scalar on the tape (0 if none); NULL
 * and TG_EINVAL on the tape for a NULL model. */
TG_API tg_tensor *tg_model_penalty(tg_model *m, tg_tape *t);

/* Parameters, in layer order (owned by the model; all require grad); num_elements
 * counts their elements (not the buffers'). */
TG_API int tg_model_param_count(const tg_model *m);
TG_API tg_tensor *const *tg_model_params(const tg_model *m);
TG_API const char *tg_model_param_name(const tg_model *m, int i);
TG_API int64_t tg_model_num_elements(const tg_model *m);
TG_API int tg_model_layer_count(const tg_model *m);
/* The dropout counter (advanced by each training forward); saved with checkpoints. */
TG_API uint64_t tg_model_rng_counter(const tg_model *m);
TG_API void tg_model_set_rng_counter(tg_model *m, uint64_t counter);
/* Buffers: state that is not trained by gradients (batch norm's running statistics), in
 * layer order, owned by the model, never requiring grad. Saved in checkpoints. */
TG_API int tg_model_buffer_count(const tg_model *m);
TG_API tg_tensor *const *tg_model_buffers(const tg_model *m);
TG_API const char *tg_model_buffer_name(const tg_model *m, int i);
/* XXH3 fingerprint of the full state: every parameter, then every buffer (names, shapes
 * and values), in order; 0 for NULL. */
TG_API uint64_t tg_model_hash(const tg_model *m);

/* ---- metrics (read tensors; no tape, no gradients) ----
 * Fraction of rows whose predicted class equals the target class. scores: [N, C >= 2]
 * (argmax) or I32 [N] classes; targets: [N] class indices (I32, or whole floats) in
 * [0, C) or one-hot/probability rows [N, C] (argmax). NaN with tg_last_error() set for
 * one column of scores or targets ([N] floats, [N, 1]: a sigmoid output; use
 * tg_binary_accuracy), TG_ESHAPE, or a label outside [0, C), TG_ERANGE. */
TG_API double tg_accuracy(const tg_tensor *scores, const tg_tensor *target);
/* fraction of (p >= 0.5) == (y >= 0.5) over all elements; p and y same numel */
TG_API double tg_binary_accuracy(const tg_tensor *p, const tg_tensor *y);
/* fraction of |pred - y| < std(y) / k (the course's regression "accuracy") */
TG_API double tg_regression_accuracy(const tg_tensor *pred, const tg_tensor *y, double k);
/* counts[true_class * C + predicted_class] from scores [N, C] (argmax) or I32 predicted
 * classes [N]; C*C entries. TG_ERANGE for a class outside [0, C). */
TG_API tg_status tg_confusion_matrix(const tg_tensor *pred, const tg_tensor *target, int64_t C,
                                     int64_t *counts);
/* Precision, recall and F1 of class c from a confusion matrix (0 where undefined). */
TG_API void tg_precision_recall_f1(const int64_t *counts, int64_t C, int64_t c, double *precision,
                                   double *recall, double *f1);
/* Regression metrics over all values of pred and y (float, the same number of values,
 * any shapes, summed in double in row-major order): root mean squared error, mean
 * absolute error, and R^2 = 1 - SSE / SST (SST about y's mean; 1.0 for an exact fit of
 * constant targets, NaN with an error for an inexact one). NaN with tg_last_error() on
 * bad arguments. */
TG_API double tg_rmse(const tg_tensor *pred, const tg_tensor *y);
TG_API double tg_mae_metric(const tg_tensor *pred, const tg_tensor *y);
TG_API double tg_r2_score(const tg_tensor *pred, const tg_tensor *y);
/* The index of each row's largest score of x (float [N, C]) as a new I32 [N] tensor the
 * caller frees: ties go to the first maximum, NaN never wins over a number. NULL with
 * tg_last_error() for another shape. */
TG_API tg_tensor *tg_argmax(const tg_tensor *x);
/* Area under the ROC curve of scores for binary labels (>= 0.5 is positive); ties get
 * half credit; +-inf are ordinary (extreme) scores. NaN if one class is absent; NaN with
 * tg_last_error() set (TG_EINVAL) if a score or a label is NaN, (TG_ESHAPE) if the
 * sizes differ or are zero. */
TG_API double tg_roc_auc(const tg_tensor *scores, const tg_tensor *labels);

#ifdef __cplusplus
}
#endif
#endif
