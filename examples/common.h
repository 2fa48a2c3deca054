/* Shared by the example programs: command line, progress line, JSON summary. */
#ifndef TG_EXAMPLES_COMMON_H
#define TG_EXAMPLES_COMMON_H

#include <stdbool.h>
#include <stdint.h>

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
    int64_t batch;
    double lr;
} ex_args;

/* Parses --epochs N --seed S --threads T --json [--dropout R] [--data DIR]
 * [--batch B] [--lr X] into a (pre-filled with the example's defaults). Prints usage
 * and exits 2 on a bad option. */
void ex_parse(int argc, char **argv, ex_args *a, const char *usage_extra);
/* with --print-hash, prints the model's fingerprint as the last line of stdout */
struct tg_model;
void ex_print_hash(const ex_args *a, const struct tg_model *m);
/* --resume: loads the checkpoint into m and opt and returns the first epoch to run
 * (saved epoch + 1); 1 without --resume. Exits 1 with the error on failure. */
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

#endif
