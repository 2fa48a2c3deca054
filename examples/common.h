/* Shared by the example programs: command line, progress line, JSON summary. */
#ifndef TG_EXAMPLES_COMMON_H
#define TG_EXAMPLES_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "tapegrad.h"

typedef struct {
    int epochs;
    uint64_t seed;
    int threads;
    bool json;
    bool print_hash;   /* --print-hash: tg_model_hash (parameters and buffers), last line */
    const char *save, *resume; /* --save PATH, --resume PATH */
    int save_every;            /* --save-every N epochs (with --save) */
    double dropout;
    const char *data;
    const char *log;   /* --log FILE: per-epoch CSV (examples that train with tg_fit) */
    int64_t batch;
    double lr;
} ex_args;

#define EX_MAX_EPOCHS 1000000

/* optional flags an example opts into (ex_parse's mask) */
enum { EX_LR = 1, EX_DROPOUT = 2, EX_BATCH = 4, EX_DATA = 8, EX_LOG = 16 };

/* an example's own flag: a bool switch, or an int64_t / double value in [lo, hi] */
typedef enum { EX_FLAG_BOOL, EX_FLAG_INT, EX_FLAG_DOUBLE, EX_FLAG_STRING } ex_flag_kind;
typedef struct {
    const char *name;     /* "--limit" */
    ex_flag_kind kind;
    void *p;              /* bool *, int64_t *, double * or const char ** */
    double lo, hi;
    const char *synopsis; /* "--limit N" */
    const char *range;    /* "an integer in 0..1000000" (for the error message) */
    const char *help;     /* one line: meaning and default */
} ex_flag;

/* Parses the command line into a (pre-filled with the example's defaults): the common
 * flags, the optional ones in mask and the example's own (extra, ended by a {0}
 * entry). --help prints `about` and one line per flag with its default on stdout and
 * exits 0; a bad value or flag prints which flag and the accepted range on stderr and
 * exits 2 before anything is trained (also --save into a directory that cannot be
 * written, and --save-every without --save). */
void ex_parse(int argc, char **argv, ex_args *a, unsigned mask, const ex_flag *extra,
              const char *about);
/* exits 2 unless a checkpoint can be created at path (its directory is writable) */
void ex_check_writable(const char *prog, const char *path);
/* tg_fit's options from the common flags: epochs, seed, --resume (loads m and opt and
 * starts after the saved epoch), --save/--save-every, --log, progress on stderr */
tg_fit_opts ex_fit_opts(const ex_args *a, tg_model *m, tg_optim *opt);
/* with --print-hash, prints the model's fingerprint as the last line of stdout */
struct tg_model;
void ex_print_hash(const ex_args *a, const struct tg_model *m);
/* --resume: loads the checkpoint into m and opt and returns the first epoch to run
 * (saved epoch + 1); 1 without --resume. Exits 1 with the error on failure. Says so on
 * stderr when the checkpoint already reached --epochs (nothing left to train). */
struct tg_optim;
int ex_resume(const ex_args *a, struct tg_model *m, struct tg_optim *opt);
/* --save: checkpoint after `epoch` when it is a multiple of --save-every or the last */
void ex_maybe_save(const ex_args *a, const struct tg_model *m, const struct tg_optim *opt,
                   int epoch);
/* the final summary of a classification example: one JSON object with --json, else a
 * sentence */
void ex_report(const ex_args *a, const char *name, double secs, double train_loss,
               double train_acc, double val_loss, double val_acc);
/* seconds since an arbitrary start */
double ex_now(void);
/* progress line on stderr, only when stderr is a terminal */
void ex_progress(int epoch, int epochs, double loss, const char *metric, double value,
                 double samples_per_s);
/* ends the progress line (if one was shown) */
void ex_progress_done(void);

/* ---- classifiers on MNIST-format data (mnist, cnn) ---- */
struct tg_tensor;
struct tg_tape;
/* DIR/STEM.gz if readable, else DIR/STEM, through tg_idx_load; NULL (error printed
 * after "name: ") on failure */
struct tg_tensor *ex_idx_load(const char *name, const char *dir, const char *stem);
/* the four files of an MNIST-format directory (train and t10k images and labels);
 * false after the first failure's message (nothing left allocated) */
bool ex_idx_load_all(const char *name, const char *dir, struct tg_tensor **x,
                     struct tg_tensor **y, struct tg_tensor **xt, struct tg_tensor **yt);
/* rows [lo, hi) of a 1-D or 2-D tensor as a new contiguous tensor (NULL on failure) */
struct tg_tensor *ex_rows(const struct tg_tensor *t, int64_t lo, int64_t hi);
/* Epochs ex_resume(a) .. a->epochs of softmax cross-entropy training on x (F32 [N, ...])
 * and y (I32 [N]): each epoch visits the rows in a permutation reproducible from
 * (seed, epoch), in full batches copied into xb (F32, any shape of B rows with x's
 * per-row size) and yb (I32 [B]); opt steps after each batch; ex_maybe_save after
 * each epoch; a progress line every 50 batches. Returns 0, or 1 with the error
 * printed after "name: ". */
int ex_train_classifier(const ex_args *a, const char *name, struct tg_model *m,
                        struct tg_optim *opt, struct tg_tape *t, const struct tg_tensor *x,
                        const struct tg_tensor *y, struct tg_tensor *xb,
                        struct tg_tensor *yb);
typedef struct {
    double loss, acc;
} ex_eval_result;
/* Mean softmax cross-entropy and accuracy of m in evaluation mode (no gradients) over x
 * (F32 [N, features]) and y (I32 [N]), in chunks of `chunk` rows, each reshaped to
 * [rows, sample...] when sample_ndim > 0 (e.g. {1, 28, 28} for images). Exits 1 with
 * the error printed after "name: " on failure. */
ex_eval_result ex_evaluate(const char *name, struct tg_model *m, struct tg_tape *t,
                           const struct tg_tensor *x, const struct tg_tensor *y, int64_t chunk,
                           int sample_ndim, const int64_t *sample);

#endif
