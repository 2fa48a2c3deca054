/* tapegrad — optimizers, gradient clipping, learning-rate schedules, early stopping.
 *
 * An optimizer is an opaque handle over n parameters: contiguous persistent F32 or F64
 * tensors (each may have its own dtype; its state tensors have the same dtype). The
 * optimizer keeps pointers to the parameters — they must outlive it — and reads each
 * parameter's gradient from param->grad at step time; a parameter whose grad is still
 * NULL (no backward reached it yet) is skipped. All state is allocated once, at
 * creation: tg_optim_step and tg_optim_zero_grad make no heap allocation.
 *
 * Learning rate: every optimizer has a base lr and an inverse-time `decay`; step number
 * t (0 for the first step, i.e. the number of steps completed before it) uses
 *     lr_t = lr / (1 + decay * t)
 * (decay = 0, the default, keeps lr constant). tg_optim_set_lr changes the base lr, so
 * a schedule or tg_plateau can drive it between steps.
 *
 * Update rules (PyTorch semantics; g = gradient, p = parameter, all elementwise):
 *   SGD       v = mu v + g;  d = nesterov ? g + mu v : v  (d = g when mu = 0);  p -= lr_t d
 *   AdaGrad   s += g^2;  p -= lr_t g / (sqrt(s) + eps)
 *   RMSProp   v = rho v + (1 - rho) g^2;  p -= lr_t g / (sqrt(v) + eps)
 *   Adam      g += wd p (L2, coupled — only if weight_decay > 0);
 *             m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  k = t + 1;
 *             p -= lr_t * m^ / (sqrt(v^) + eps),  m^ = m / (1 - b1^k), v^ = v / (1 - b2^k)
 *   AdamW     p -= lr_t wd p (decoupled, before and independent of the Adam update),
 *             then the Adam update with the unmodified gradient.
 * The step counter is one per optimizer (not per parameter): a parameter skipped for a
 * NULL grad still sees the global k in its bias correction.
 *
 * Errors: creation returns NULL and other calls a tg_status; the message is readable
 * with tg_last_error() (thread-local) and names the function and the bad option. */
#ifndef TG_OPTIM_H
#define TG_OPTIM_H

#include "../tensor/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tg_optim tg_optim;

/* ---- options (fill from the defaults function, then change fields) ---- */

typedef struct tg_sgd_opts {
    double lr;        /* >= 0; default 0.01 */
    double momentum;  /* mu in [0, 1); default 0 (plain SGD) */
    bool nesterov;    /* Nesterov momentum; needs momentum > 0; default false */
    double decay;     /* inverse-time lr decay, >= 0; default 0 */
} tg_sgd_opts;

typedef struct tg_adagrad_opts {
    double lr;                  /* >= 0; default 0.01 */
    double eps;                 /* > 0; default 1e-10 (PyTorch) */
    double initial_accumulator; /* starting value of the sum of squares, >= 0; default 0 */
    double decay;               /* inverse-time lr decay, >= 0 (PyTorch's lr_decay); 0 */
} tg_adagrad_opts;

typedef struct tg_rmsprop_opts {
    double lr;     /* >= 0; default 0.01 */
    double rho;    /* decay of the squared-gradient average, in [0, 1); default 0.99 */
    double eps;    /* > 0; default 1e-8 */
    double decay;  /* inverse-time lr decay, >= 0; default 0 */
} tg_rmsprop_opts;

/* Shared by Adam and AdamW. weight_decay means L2 added to the gradient for
 * tg_adam_new (PyTorch Adam) and decoupled decay for tg_adamw_new (PyTorch AdamW). */
typedef struct tg_adam_opts {
    double lr;            /* >= 0; default 1e-3 */
    double beta1, beta2;  /* each in [0, 1); defaults 0.9, 0.999 */
    double eps;           /* > 0; default 1e-8 */
    double decay;         /* inverse-time lr decay, >= 0; default 0 */
    double weight_decay;  /* >= 0; default 0 (tg_adam_defaults), 0.01 (tg_adamw_defaults) */
} tg_adam_opts;

/* Default options (values above), returned by value. */
TG_API tg_sgd_opts tg_sgd_defaults(void);
TG_API tg_adagrad_opts tg_adagrad_defaults(void);
TG_API tg_rmsprop_opts tg_rmsprop_defaults(void);
TG_API tg_adam_opts tg_adam_defaults(void);
TG_API tg_adam_opts tg_adamw_defaults(void);

/* ---- creation ----
 * params: n >= 1 distinct, non-overlapping, contiguous persistent F32/F64 tensors (the
 * array is copied; the tensors are not). opts NULL means the defaults. Returns a new
 * optimizer owned by the caller (free with tg_optim_free), or NULL with tg_last_error()
 * naming the bad option or parameter. */
TG_API tg_optim *tg_sgd_new(int n, tg_tensor *const *params, const tg_sgd_opts *opts);
TG_API tg_optim *tg_adagrad_new(int n, tg_tensor *const *params, const tg_adagrad_opts *opts);
TG_API tg_optim *tg_rmsprop_new(int n, tg_tensor *const *params, const tg_rmsprop_opts *opts);
TG_API tg_optim *tg_adam_new(int n, tg_tensor *const *params, const tg_adam_opts *opts);
TG_API tg_optim *tg_adamw_new(int n, tg_tensor *const *params, const tg_adam_opts *opts);

/* The check the constructors apply to params: TG_OK, TG_EINVAL (n <= 0, NULL array or
 * entry, tape tensor, non-contiguous tensor, two parameters sharing memory) or
 * TG_EDTYPE (not F32/F64), with tg_last_error() saying which parameter and why. */
TG_API tg_status tg_optim_check_params(int n, tg_tensor *const *params);

/* Frees the optimizer and its state tensors (not the parameters); sets *o to NULL.
 * NULL and *o == NULL are fine. */
TG_API void tg_optim_free(tg_optim **o);

/* ---- training ---- */

/* One update of every parameter that has a gradient, in one pass per parameter, then
 * the step counter advances. Makes no heap allocation. Returns TG_OK; TG_EINVAL for a
 * NULL optimizer; TG_ESTATE (nothing updated, counter unchanged) if a gradient's dtype,
 * size or layout does not match its parameter. */
TG_API tg_status tg_optim_step(tg_optim *o);
/* tg_optim_step followed by tg_optim_zero_grad, with each block of a gradient cleared
 * right after it is used, while still in cache: the same result for one pass less over
 * the gradients. The usual training loop is backward, tg_optim_step_zero, and the next
 * backward; read or clip the gradients before this call. Same errors as tg_optim_step
 * (on error nothing is updated or cleared). */
TG_API tg_status tg_optim_step_zero(tg_optim *o);
/* Sets every parameter's gradient to zero (gradients that are NULL stay NULL). No heap
 * allocation. NULL o is a no-op. */
TG_API void tg_optim_zero_grad(tg_optim *o);

/* ---- inspection and control ---- */

/* "sgd", "adagrad", "rmsprop", "adam" or "adamw" (static string); "" for NULL. */
TG_API const char *tg_optim_name(const tg_optim *o);
/* Number of parameters; the i-th parameter (borrowed, NULL if out of range). */
TG_API int tg_optim_param_count(const tg_optim *o);
TG_API tg_tensor *tg_optim_param(const tg_optim *o, int i);
/* Completed steps (the t of the next step); -1 for NULL. */
TG_API int64_t tg_optim_steps(const tg_optim *o);
/* Sets the step counter (>= 0), e.g. when resuming from a checkpoint. */
TG_API tg_status tg_optim_set_steps(tg_optim *o, int64_t steps);
/* Effective learning rate of the next step: base / (1 + decay * steps). NaN for NULL. */
TG_API double tg_optim_lr(const tg_optim *o);
/* The base learning rate (before inverse-time decay). NaN for NULL. */
TG_API double tg_optim_base_lr(const tg_optim *o);
/* Sets the base learning rate (finite, >= 0); TG_EINVAL otherwise, lr unchanged. */
TG_API tg_status tg_optim_set_lr(tg_optim *o, double lr);

/* Optimizer state for checkpoints: persistent tensors owned by the optimizer (valid
 * until tg_optim_free; the caller may read and overwrite their values, not free them),
 * each with its parameter's shape and dtype. Per parameter j, in order:
 *   SGD with momentum "momentum.j"; AdaGrad "sum.j"; RMSProp "v.j"; Adam/AdamW "m.j",
 *   "v.j" (plain SGD has none).
 * tg_optim_state_tensor returns state i (0 <= i < count) and, if name is not NULL, sets
 * *name to its name (owned by the optimizer); NULL with tg_last_error() if out of
 * range. */
TG_API int tg_optim_state_count(const tg_optim *o);
TG_API tg_tensor *tg_optim_state_tensor(tg_optim *o, int i, const char **name);

/* ---- gradient clipping (parameters whose grad is NULL are skipped) ---- */

/* Clamps every gradient element into [-clip, clip] (clip finite, >= 0; NaN elements
 * stay NaN). Returns TG_OK or TG_EINVAL (bad clip, n < 0, NULL array or entry);
 * TG_ESTATE if a gradient is not a contiguous F32/F64 tensor. */
TG_API tg_status tg_clip_grad_value(int n, tg_tensor *const *params, double clip);
/* Computes the global L2 norm over all gradients (in double) and, if it exceeds
 * max_norm (finite, >= 0), multiplies every gradient by max_norm / (norm + 1e-6) as
 * PyTorch's clip_grad_norm_ does. *total_norm_out (may be NULL) receives the norm
 * before clipping. Errors as tg_clip_grad_value; TG_ENUMERIC (gradients untouched) if
 * the norm is NaN or infinite. */
TG_API tg_status tg_clip_grad_norm(int n, tg_tensor *const *params, double max_norm,
                                   double *total_norm_out);

/* ---- learning-rate schedules (stateless: lr as a function of the epoch) ---- */

typedef enum tg_sched_kind {
    TG_SCHED_CONSTANT = 0,  /* base_lr */
    TG_SCHED_INVERSE_TIME,  /* base_lr / (1 + decay * epoch) */
    TG_SCHED_STEP,          /* base_lr * gamma^floor(epoch / step_size) */
    TG_SCHED_EXPONENTIAL,   /* base_lr * gamma^epoch */
    TG_SCHED_COSINE         /* eta_min + (base_lr - eta_min) (1 + cos(pi e / t_max)) / 2,
                               e = min(epoch, t_max): stays at eta_min after t_max */
} tg_sched_kind;

typedef struct tg_lr_schedule {
    tg_sched_kind kind;
    double decay;       /* INVERSE_TIME: >= 0 */
    int64_t step_size;  /* STEP: >= 1 */
    double gamma;       /* STEP, EXPONENTIAL: >= 0 */
    int64_t t_max;      /* COSINE: >= 1 */
    double eta_min;     /* COSINE: >= 0 */
} tg_lr_schedule;

/* Ready-made schedules, returned by value (a zeroed struct is TG_SCHED_CONSTANT). */
TG_API tg_lr_schedule tg_lr_inverse_time(double decay);
TG_API tg_lr_schedule tg_lr_step(int64_t step_size, double gamma);
TG_API tg_lr_schedule tg_lr_exponential(double gamma);
TG_API tg_lr_schedule tg_lr_cosine(int64_t t_max, double eta_min);
/* The learning rate for `epoch` (>= 0, counting from 0, where the result is base_lr).
 * NaN with tg_last_error() for a NULL or invalid schedule or a negative epoch. */
TG_API double tg_lr_schedule_at(const tg_lr_schedule *s, int64_t epoch, double base_lr);

/* ---- reduce learning rate on plateau (mode "min", like PyTorch ReduceLROnPlateau) ----
 * A plain struct: options first, then state. Get one from tg_plateau_defaults, change
 * the options, then call tg_plateau_update once per epoch with the monitored metric. */
typedef struct tg_plateau {
    double factor;       /* new lr = max(lr * factor, min_lr); in (0, 1); default 0.1 */
    int patience;        /* bad epochs tolerated (>= 0): the lr drops on bad epoch
                            patience + 1 in a row; default 10 */
    double threshold;    /* >= 0; improvement: metric < best * (1 - threshold), or
                            metric < best - threshold when threshold_abs; default 1e-4 */
    bool threshold_abs;  /* default false (relative, PyTorch's "rel") */
    double min_lr;       /* >= 0; default 0 */
    int cooldown;        /* epochs after a reduction during which bad epochs are not
                            counted (>= 0); default 0 */
    /* state, managed by tg_plateau_update */
    double best;         /* best metric so far (+inf initially) */
    int num_bad;         /* bad epochs in a row */
    int cooldown_left;
    int64_t reductions;  /* number of reductions so far */
} tg_plateau;

TG_API tg_plateau tg_plateau_defaults(void);
/* Feeds one epoch's metric; returns the lr to use from now on (current_lr or the
 * reduced one; a reduction smaller than 1e-8 is ignored, as in PyTorch). NaN with
 * tg_last_error() if p is NULL or its options are invalid. */
TG_API double tg_plateau_update(tg_plateau *p, double metric, double current_lr);

/* ---- early stopping ----
 * Watches a validation loss (lower is better). An epoch improves when
 * loss < best - min_delta; then the parameters are copied into snapshots (allocated
 * once, at creation, where they first receive the initial values). */
typedef struct tg_early_stop tg_early_stop;

/* params: n >= 1 contiguous persistent tensors (any dtype; borrowed: they must outlive
 * the object); patience >= 1, min_delta >= 0. Returns a new object owned by the caller
 * (free with tg_early_stop_free), or NULL with tg_last_error(). */
TG_API tg_early_stop *tg_early_stop_new(int n, tg_tensor *const *params, int patience,
                                        double min_delta);
/* Records one epoch's validation loss; returns true when training should stop: patience
 * epochs in a row without improvement (it keeps returning true until an improvement).
 * Makes no heap allocation. false for NULL. */
TG_API bool tg_early_stop_update(tg_early_stop *e, double val_loss);
/* Copies the best snapshot back into the parameters (the initial values if no epoch
 * improved yet). TG_EINVAL for NULL. */
TG_API tg_status tg_early_stop_restore(tg_early_stop *e);
/* Best loss so far (+inf before any), the 0-based update index where it was seen (-1
 * before any), and the number of updates since then without improvement. */
TG_API double tg_early_stop_best(const tg_early_stop *e);
TG_API int64_t tg_early_stop_best_epoch(const tg_early_stop *e);
TG_API int tg_early_stop_wait(const tg_early_stop *e);
/* Frees the object and its snapshots (not the parameters); sets *e to NULL. */
TG_API void tg_early_stop_free(tg_early_stop **e);

#ifdef __cplusplus
}
#endif
#endif
