/* Shared by the example programs: the command line, training through tg_fit, the final
 * figures and the MNIST-format data of mnist and cnn. */
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
    const char *log;   /* --log FILE: per-epoch CSV (tg_fit's log) */
    double dropout;
    const char *data;
    int64_t batch;
    double lr;
} ex_args;

#define EX_MAX_EPOCHS 1000000

/* optional flags an example opts into (ex_parse's mask) */
enum { EX_LR = 1, EX_DROPOUT = 2, EX_BATCH = 4, EX_DATA = 8 };

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

/* ---- models and training ---- */
/* a hidden layer: Dense(in, out) with L2 5e-4 on its weights and biases, then ReLU */
void ex_add_l2_hidden(tg_model *m, int64_t in, int64_t out);
/* Adam over m's parameters with lr, inverse-time decay and eps (0: Adam's default);
 * exits 1 with the error after "name: " */
tg_optim *ex_adam(const char *name, tg_model *m, double lr, double decay, double eps);
/* tg_fit's options from the common flags: epochs, seed, --resume (loads m and opt and
 * starts after the saved epoch; says so on stderr when nothing is left to train; exits
 * 1 when the checkpoint does not load), --save/--save-every, --log, progress on
 * stderr. The example adds its loss, batches and validation data. */
tg_fit_opts ex_fit_opts(const ex_args *a, tg_model *m, tg_optim *opt);
/* tg_fit(m, opt, x, y, fo, last); exits 1 with the error after "name: ". Returns the
 * seconds it took. */
double ex_fit(const char *name, tg_model *m, tg_optim *opt, const tg_tensor *x,
              const tg_tensor *y, const tg_fit_opts *fo, tg_epoch_stats *last);

/* What a small example trains: the data, the validation data (the training data again
 * where there is none) and the loss (+ the model's penalty when `penalty`). */
typedef struct {
    const char *name;
    tg_fit_loss loss;
    bool penalty;
    tg_tensor *x, *y, *xv, *yv;
} ex_task;
/* Full-batch training of m with opt through tg_fit (every epoch one step on all rows,
 * a progress line every 100 epochs), then the final summary: the train and validation
 * figures (tg_evaluate, all rows at once) as one JSON object with --json, else a
 * sentence; for TG_FIT_MSE mean squared errors (train_mse, val_mse). Then ex_finish
 * and frees the task's tensors. Returns the exit status: 0 (exits 1 on failure). */
int ex_run_full_batch(const ex_args *a, ex_task *task, tg_model *m, tg_optim *opt);
/* with --print-hash, prints the model's fingerprint as the last line of stdout; then
 * frees the optimizer, the model and the n tensors */
void ex_finish(const ex_args *a, tg_optim **opt, tg_model **m, tg_tensor **tensors, int n);
/* seconds since an arbitrary start */
double ex_now(void);

/* ---- classifiers on MNIST-format data (mnist, cnn) ---- */
typedef struct {
    tg_tensor *x, *y, *xv, *yv, *xt, *yt; /* train, validation, test: F32 images, I32 [N] */
} ex_idx_data;
/* The four files of the MNIST-format directory a->data (DIR/NAME.gz if readable, else
 * DIR/NAME): the first `limit` training images (0: all) split into training and
 * validation (the last 1/12: 5000 of 60000), the first `limit` test images; with
 * `image` (e.g. {1, 28, 28}; NULL: flat rows) the images are [N, image...]. Exits 2
 * with how to get data when the directory is missing, 1 on another failure (images of
 * another size too). */
void ex_idx_data_load(const char *name, const ex_args *a, int64_t limit, const int64_t image[3],
                      ex_idx_data *d);
/* Softmax cross-entropy figures of m (tg_evaluate in chunks of `chunk` rows) on the
 * three splits, as JSON (with `json_extra`, e.g. ",\"batch_norm\":1", before "epochs")
 * or a sentence starting with `title`; exits 1 on failure */
void ex_report_test(const ex_args *a, const char *title, const char *json_extra, double secs,
                    tg_model *m, int64_t chunk, const ex_idx_data *d);
void ex_idx_data_free(ex_idx_data *d);

#endif
