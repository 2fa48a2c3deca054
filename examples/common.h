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

/* ---- training ---- */
/* tg_fit's options from the common flags: epochs, seed, --resume (loads m and opt and
 * starts after the saved epoch; says so on stderr when nothing is left to train; exits
 * 1 when the checkpoint does not load), --save/--save-every, --log, progress on
 * stderr. The example adds its loss, batches and validation data. */
tg_fit_opts ex_fit_opts(const ex_args *a, tg_model *m, tg_optim *opt);
/* ex_fit_opts for full-batch training on x: one batch of every row in order, a
 * progress line every 100 epochs */
tg_fit_opts ex_full_batch_opts(const ex_args *a, tg_model *m, tg_optim *opt,
                               const tg_tensor *x);
/* Adam over m's parameters with o; exits 1 with the error after "name: " */
tg_optim *ex_adam(const char *name, tg_model *m, const tg_adam_opts *o);
/* tg_fit(m, opt, x, y, fo, last); exits 1 with the error after "name: ". Returns the
 * seconds it took. */
double ex_fit(const char *name, tg_model *m, tg_optim *opt, const tg_tensor *x,
              const tg_tensor *y, const tg_fit_opts *fo, tg_epoch_stats *last);

/* ---- results ---- */
/* The final summary: train and validation figures of m (tg_evaluate with loss k, all
 * rows at once) as one JSON object with --json, else a sentence; for TG_FIT_MSE the
 * figures are mean squared errors (train_mse, val_mse). Exits 1 on failure. */
void ex_report(const ex_args *a, const char *name, double secs, tg_model *m, tg_fit_loss k,
               const tg_tensor *x, const tg_tensor *y, const tg_tensor *xv,
               const tg_tensor *yv);
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
