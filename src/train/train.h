/* tapegrad — the training loop for the common case: tg_fit runs epochs of mini-batches
 * (or full batches) over a model with an optimizer, evaluates on validation data, and
 * drives the usual callbacks (learning-rate schedule, reduce-on-plateau, early stopping,
 * checkpoints, a per-epoch CSV log, progress, hooks before and after each epoch). The
 * hand-written loop of the README stays the way to get full control; tg_fit is built
 * only from public calls, and every example program trains with it.
 *
 * Also here: tg_evaluate (loss and accuracy of a data set in evaluation mode),
 * tg_model_predict (a model over a dataset in evaluation mode, in batches) and
 * tg_progress (progress lines and the CSV log on their own). */
#ifndef TG_TRAIN_H
#define TG_TRAIN_H

#include "../io/checkpoint.h"
#include "../io/prep.h"
#include "../nn/nn.h"
#include "../optim/optim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What one epoch measured. Fields that were not measured are NaN (accuracy of a
 * regression, anything of the validation set without validation data). */
typedef struct tg_epoch_stats {
    int epoch, epochs;          /* 1-based epoch, and the total */
    double train_loss;          /* mean over the epoch's batches (training mode) */
    double train_acc;           /* fraction of the epoch's training rows right */
    double val_loss, val_acc;   /* the whole validation set in evaluation mode */
    double lr;                  /* the optimizer's effective lr at the end of the epoch */
    double seconds;             /* since tg_fit (or the progress object) started */
    double remaining;           /* estimated seconds left for the remaining epochs */
    int best_epoch;             /* with early stopping, the epoch whose parameters it keeps
                                   (the best so far; 0 before any improvement); else 0 */
} tg_epoch_stats;

/* ---- progress and the CSV log ---- */
typedef struct tg_progress tg_progress;
/* Progress lines go to `out` (NULL: none): one line per epoch; when out is a terminal
 * the current epoch's batch progress is a line redrawn in place. With a `log_csv` path
 * every epoch appends a row "epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds"
 * (the header is written when the file is new or empty; rows are flushed at once, so a
 * killed run keeps its epochs; NaN is written as an empty cell). NULL with
 * tg_last_error() when the log cannot be opened. */
TG_API tg_progress *tg_progress_new(FILE *out, const char *log_csv);
/* The in-place batch line (terminals only): batch i of n, running mean loss. */
TG_API void tg_progress_batch(tg_progress *p, int epoch, int epochs, int64_t i, int64_t n,
                              double loss);
/* The epoch's line and log row. TG_EIO if the log row cannot be written. */
TG_API tg_status tg_progress_epoch(tg_progress *p, const tg_epoch_stats *s);
TG_API void tg_progress_free(tg_progress **p);

/* ---- prediction ---- */
/* Runs m in evaluation mode (no dropout, batch norm on running statistics, nothing
 * recorded) over the rows of x (persistent, contiguous, [N, ...] of the model's dtype)
 * in chunks of `batch` rows, and returns the outputs [N, ...] as a new persistent tensor
 * the caller frees. Each row's output depends only on that row in evaluation mode, so
 * the batch size changes at most the last bits (BLAS rounds products of different
 * sizes differently). NULL with tg_last_error() on failure. */
TG_API tg_tensor *tg_model_predict(tg_model *m, const tg_tensor *x, int64_t batch);

/* ---- fit ---- */
typedef enum tg_fit_loss {
    TG_FIT_SOFTMAX_CE,  /* logits [N, C], y I32 class labels [N]; accuracy = argmax right */
    TG_FIT_BCE_LOGITS,  /* logits, y in {0, 1} of the same shape; accuracy: logit >= 0 */
    TG_FIT_MSE,         /* regression: y of the output's shape; accuracy NaN */
    TG_FIT_BCE          /* probabilities (a sigmoid output layer), y in {0, 1} of the same
                           shape: tg_binary_cross_entropy; accuracy: p >= 0.5 */
} tg_fit_loss;

/* what early stopping and reduce-on-plateau watch (lower is better) */
typedef enum tg_fit_monitor {
    TG_FIT_VAL_LOSS,    /* the validation loss */
    TG_FIT_VAL_ERROR    /* 1 - the validation accuracy (not for TG_FIT_MSE) */
} tg_fit_monitor;

/* Mean loss (the loss of tg_fit_loss k, without penalties) and accuracy of m in
 * evaluation mode over the rows of x and y (persistent, contiguous, the same number >= 1
 * of rows), in chunks of `batch` rows: the loss is the row-weighted mean of the chunks'
 * losses, the accuracy the fraction of rows (TG_FIT_SOFTMAX_CE) or elements (the BCE
 * losses) right, NaN for TG_FIT_MSE. Either output pointer may be NULL. Returns TG_OK,
 * or TG_EINVAL / a tape error with tg_last_error() naming the rows. Nothing is
 * recorded for gradients; batch norm uses its running statistics. */
TG_API tg_status tg_evaluate(tg_model *m, const tg_tensor *x, const tg_tensor *y, tg_fit_loss k,
                             int64_t batch, double *loss, double *acc);

typedef struct tg_fit_opts {
    int epochs;               /* the total, >= 1 (default 10) */
    int first_epoch;          /* 1, or a checkpoint's epoch + 1 to resume (default 1) */
    int64_t batch;            /* rows per step, >= 1 (default 32) */
    bool shuffle;             /* reshuffle every epoch (default true) */
    bool drop_last;           /* skip a smaller last batch (default false) */
    /* batch order: epoch e sees the rows in the order tg_permutation(N, seed,
     * shuffle_stream + e - 1) (default stream 0: the order of tg_batcher), in order
     * without shuffle */
    uint64_t seed, shuffle_stream;
    tg_fit_loss loss;         /* default TG_FIT_SOFTMAX_CE */
    bool penalty;             /* add tg_model_penalty to the loss (default true) */
    /* validation data, or NULL (see tg_evaluate); evaluated after every epoch when early
     * stopping, a plateau, the log or on_epoch watch it, else after the epochs that get a
     * progress line (the others' figures are NaN) */
    const tg_tensor *x_val, *y_val;
    int64_t eval_batch;       /* rows per evaluation forward (default 1024) */
    tg_fit_monitor monitor;   /* for the plateau and early stopping (default val loss) */
    /* learning rate: without a schedule or plateau tg_fit never touches the optimizer's
     * lr. With them, each epoch e sets the optimizer's base lr to schedule(e - 1, b),
     * where b starts at base_lr (0: the optimizer's base lr when tg_fit starts; give the
     * original one when resuming, since the checkpoint holds the last scheduled lr) and
     * is lowered by the plateau's reductions. The optimizer's own inverse-time decay
     * still applies per step. */
    double base_lr;
    const tg_lr_schedule *schedule;
    /* reduce the lr when the validation loss stops improving (needs validation data;
     * its state lives in the struct, which the caller keeps across a resume) */
    tg_plateau *plateau;
    /* early stopping on the monitored value: stop after this many epochs without
     * improvement (0: off; needs validation data). The parameters and buffers (batch
     * norm's running statistics) of the best epoch are snapshot, and tg_fit returns with
     * them, whether it stopped early or ran all its epochs. A resumed run starts this
     * bookkeeping afresh. */
    int early_stop_patience;
    double early_stop_min_delta;
    /* checkpoint path (NULL: none), saved every `checkpoint_every` epochs (0: only at
     * the end), at the last epoch and when early stopping ends the run; the directory is
     * checked before training. A checkpoint holds the training state to resume from
     * (the epoch's last step, before early stopping restores the best parameters). */
    const char *checkpoint;
    int checkpoint_every;
    const char *log_csv;      /* per-epoch CSV log (see tg_progress_new), or NULL */
    FILE *progress;           /* progress lines, e.g. stderr; NULL: silent (default) */
    int progress_every;       /* a progress line every N epochs and at the last (default 1);
                                 the log still gets every epoch */
    /* called before every epoch's first batch, e.g. to rewrite x's rows in place with a
     * new augmented copy (x's contents may change between epochs, not its shape);
     * return false to stop training there (NULL: none) */
    bool (*before_epoch)(int epoch, void *ctx);
    /* called after every epoch; return false to stop training (NULL: none) */
    bool (*on_epoch)(const tg_epoch_stats *s, void *ctx);
    void *ctx;
} tg_fit_opts;
TG_API tg_fit_opts tg_fit_defaults(void);

/* Trains m with opt (over m's parameters) on the rows of x and y (persistent,
 * contiguous, same number of rows; x of the model's dtype) for epochs first_epoch ..
 * epochs, each a pass of mini-batches whose rows are copied in the order above (one
 * batch of all rows without shuffle is full-batch training). Each step: forward in
 * training mode, the loss (+ tg_model_penalty when `penalty`), tg_backward,
 * tg_optim_step_zero. After every epoch it evaluates the validation data (if any),
 * applies the callbacks in the order lr schedule/plateau, early stopping, checkpoint,
 * log and progress, on_epoch. `last` (may be NULL) gets the last epoch's statistics
 * (untouched when first_epoch > epochs: nothing to train). Returns TG_OK, or the first
 * error (a failed step's tape error, a failed save) with tg_last_error() naming tg_fit
 * and the epoch; the model keeps the parameters of the last completed step. Allocates
 * one tape and the batch buffers per call, nothing per step. */
TG_API tg_status tg_fit(tg_model *m, tg_optim *opt, const tg_tensor *x, const tg_tensor *y,
                        const tg_fit_opts *o, tg_epoch_stats *last);

#ifdef __cplusplus
}
#endif
#endif
