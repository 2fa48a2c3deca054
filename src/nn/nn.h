/* tapegrad — layers, a sequential model, initialisers and metrics.
 * Layers are built from ops on the tape: no layer has a hand-written backward. */
#ifndef TG_NN_H
#define TG_NN_H

#include "../autograd/autograd.h"

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
/* Fills a persistent [fan_in, fan_out] (or any) tensor; fan_in = shape[0] and
 * fan_out = shape[1] for 2-D tensors, numel for 1-D. Draws from (seed, stream). */
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
/* The activation as an op on the tape. */
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

/* Runs the layers on x (2-D [N, features]); training switches dropout on. Each training
 * forward advances the model's dropout counter, so masks differ between steps and are
 * reproducible from (seed, counter). Returns a tape tensor (NULL on error: see the
 * tape). */
TG_API tg_tensor *tg_model_forward(tg_model *m, tg_tape *t, tg_tensor *x, bool training);
/* The sum of every layer's L1/L2 penalties as a scalar on the tape (0 if none). */
TG_API tg_tensor *tg_model_penalty(tg_model *m, tg_tape *t);

/* Parameters, in layer order (owned by the model; all require grad). */
TG_API int tg_model_param_count(const tg_model *m);
TG_API tg_tensor *const *tg_model_params(const tg_model *m);
TG_API const char *tg_model_param_name(const tg_model *m, int i);
TG_API int64_t tg_model_num_elements(const tg_model *m);
TG_API int tg_model_layer_count(const tg_model *m);
/* The dropout counter (advanced by each training forward); saved with checkpoints. */
TG_API uint64_t tg_model_rng_counter(const tg_model *m);
TG_API void tg_model_set_rng_counter(tg_model *m, uint64_t counter);
/* XXH3 fingerprint of every parameter (names, shapes and values) in order. */
TG_API uint64_t tg_model_hash(const tg_model *m);

/* ---- metrics (read tensors; no tape, no gradients) ----
 * scores [N, C]; targets I32 [N] or one-hot/probability rows [N, C]. */
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
/* Area under the ROC curve of scores for binary labels (>= 0.5 is positive); ties get
 * half credit. NaN if one class is absent. */
TG_API double tg_roc_auc(const tg_tensor *scores, const tg_tensor *labels);

#ifdef __cplusplus
}
#endif
#endif
