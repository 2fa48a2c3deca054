#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tapegrad.h"

/* ------------------------------------------------------------ command line */

/* the flags every example has, then the optional ones it opts into (ex_parse's mask) */
static void describe_flags(const ex_args *a, unsigned mask, const ex_flag *extra, FILE *f)
{
    fprintf(f, "  --epochs N        epochs to train in total, 1..%d (default %d)\n", EX_MAX_EPOCHS,
            a->epochs);
    fprintf(f, "  --seed S          seed of the data, initialisation and dropout, 0..2^53 (default %llu)\n",
            (unsigned long long)a->seed);
    fprintf(f, "  --threads T       threads, 1..%d (4 per processor; default %d)\n", tg_max_threads(),
            a->threads);
    fprintf(f, "  --json            print the final results as one JSON object on stdout\n");
    fprintf(f, "  --print-hash      print the model's XXH3 fingerprint as the last line\n");
    fprintf(f, "  --save PATH       save a checkpoint at the end (and every --save-every epochs)\n");
    fprintf(f, "  --save-every N    with --save: also every N epochs, 1..%d (default: at the end only)\n",
            EX_MAX_EPOCHS);
    fprintf(f, "  --resume PATH     continue from a checkpoint up to --epochs in total\n");
    fprintf(f, "  --log FILE        append one CSV row per epoch (plot: scripts/plot_log.sh)\n");
    if (mask & EX_LR)
        fprintf(f, "  --lr X            learning rate, > 0 and <= 10 (default %g)\n", a->lr);
    if (mask & EX_DROPOUT)
        fprintf(f, "  --dropout R       dropout rate after the hidden layer, 0 <= R < 1 (default %g)\n",
                a->dropout);
    if (mask & EX_BATCH)
        fprintf(f, "  --batch B         mini-batch size, 1..1000000 (default %lld)\n",
                (long long)a->batch);
    if (mask & EX_DATA)
        fprintf(f, "  --data DIR        directory of MNIST-format IDX files (default %s)\n",
                a->data ? a->data : "none");
    for (const ex_flag *e = extra; e && e->name; e++)
        fprintf(f, "  %-17s %s\n", e->kind == EX_FLAG_BOOL ? e->name : e->synopsis, e->help);
    fprintf(f, "  --help            this text\n");
}

static void bad(const char *prog, const char *fmt, const char *flag, const char *value,
                const char *range)
{
    fprintf(stderr, "%s: ", prog);
    fprintf(stderr, fmt, flag, value, range);
    fprintf(stderr, " (see %s --help)\n", prog);
    exit(2);
}

/* v parsed as a number in [lo, hi] (integral when integer) or exit 2 naming the flag */
static double number(const char *prog, const char *flag, const char *v, double lo, double hi,
                     bool integer, const char *range)
{
    if (!v)
        bad(prog, "%s needs a value%s%s", flag, "", "");
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end || d != d || (integer && d != (double)(int64_t)d) || d < lo || d > hi)
        bad(prog, "%s: '%s' is not %s", flag, v, range);
    return d;
}

/* exits 2 unless the file of `flag` can be created at path (its directory is writable):
 * a save or the log would fail only after loading data or training otherwise */
static void check_writable(const char *prog, const char *flag, const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = 0;
    else
        *slash = 0;
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || access(dir, W_OK | X_OK) != 0) {
        fprintf(stderr, "%s: %s %s: cannot write into %s: %s\n", prog, flag, path, dir,
                strerror(errno ? errno : ENOTDIR));
        exit(2);
    }
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        fprintf(stderr, "%s: %s %s: is a directory\n", prog, flag, path);
        exit(2);
    }
}

void ex_parse(int argc, char **argv, ex_args *a, unsigned mask, const ex_flag *extra,
              const char *about)
{
    const char *prog = argv[0] ? strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0] : "example";
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            printf("%s\n\nusage: %s [options]\n", about, prog);
            describe_flags(a, mask, extra, stdout);
            exit(0);
        }
        if (!strcmp(o, "--json") || !strcmp(o, "--print-hash")) {
            *(o[2] == 'j' ? &a->json : &a->print_hash) = true;
            continue;
        }
        const ex_flag *e = extra;
        while (e && e->name && strcmp(e->name, o))
            e++;
        if (e && e->name && e->kind == EX_FLAG_BOOL) {
            *(bool *)e->p = true;
            continue;
        }
        i++; /* every other flag takes a value */
        if (!strcmp(o, "--epochs"))
            a->epochs = (int)number(prog, o, v, 1, EX_MAX_EPOCHS, true, "an integer in 1..1000000");
        else if (!strcmp(o, "--seed"))
            a->seed = (uint64_t)number(prog, o, v, 0, 9007199254740992.0, true,
                                       "an integer in 0..2^53");
        else if (!strcmp(o, "--threads"))
            a->threads = (int)number(prog, o, v, 1, tg_max_threads(), true,
                                     "an integer from 1 to 4 per processor (see --help)");
        else if (!strcmp(o, "--save-every"))
            a->save_every = (int)number(prog, o, v, 1, EX_MAX_EPOCHS, true,
                                        "an integer in 1..1000000");
        else if (!strcmp(o, "--save") || !strcmp(o, "--resume")) {
            if (!v || !*v)
                bad(prog, "%s needs a path%s%s", o, "", "");
            *(o[2] == 's' ? &a->save : &a->resume) = v;
        } else if ((mask & EX_LR) && !strcmp(o, "--lr"))
            a->lr = number(prog, o, v, 1e-300, 10, false, "a number > 0 and <= 10");
        else if ((mask & EX_DROPOUT) && !strcmp(o, "--dropout")) {
            a->dropout = number(prog, o, v, 0, 1, false, "a number in [0, 1)");
            if (a->dropout == 1)
                bad(prog, "%s: '%s' is not %s", o, v, "a number in [0, 1)");
        } else if ((mask & EX_BATCH) && !strcmp(o, "--batch"))
            a->batch = (int64_t)number(prog, o, v, 1, 1000000, true, "an integer in 1..1000000");
        else if ((mask & EX_DATA) && !strcmp(o, "--data")) {
            if (!v || !*v)
                bad(prog, "%s needs a directory%s%s", o, "", "");
            a->data = v;
        } else if (!strcmp(o, "--log")) {
            if (!v || !*v)
                bad(prog, "%s needs a file%s%s", o, "", "");
            a->log = v;
        } else if (e && e->name && e->kind == EX_FLAG_INT)
            *(int64_t *)e->p = (int64_t)number(prog, o, v, e->lo, e->hi, true, e->range);
        else if (e && e->name && e->kind == EX_FLAG_STRING) {
            if (!v || !*v)
                bad(prog, "%s needs a value%s%s", o, "", "");
            *(const char **)e->p = v;
        } else if (e && e->name && e->kind == EX_FLAG_DOUBLE)
            *(double *)e->p = number(prog, o, v, e->lo, e->hi, false, e->range);
        else
            bad(prog, "unknown option %s%s%s", o, "", "");
    }
    if (a->save_every > 0 && !a->save)
        bad(prog, "%s needs --save PATH%s%s", "--save-every", "", "");
    if (a->save)
        check_writable(prog, "--save", a->save);
    if (a->log)
        check_writable(prog, "--log", a->log);
    if (tg_set_num_threads(a->threads) != TG_OK) {
        fprintf(stderr, "%s: --threads %d: %s\n", prog, a->threads, tg_last_error());
        exit(2);
    }
}


/* ---------------------------------------------------------------- training */

/* --resume: loads the checkpoint into m and opt and returns the first epoch to run
 * (saved epoch + 1); 1 without --resume */
static int resume(const ex_args *a, tg_model *m, tg_optim *opt)
{
    if (!a->resume)
        return 1;
    int64_t epoch = 0;
    if (tg_checkpoint_load(a->resume, m, opt, &epoch) != TG_OK) {
        fprintf(stderr, "%s\n", tg_last_error());
        exit(1);
    }
    if (epoch >= a->epochs)
        fprintf(stderr,
                "--resume %s: the checkpoint is at epoch %lld and --epochs is %d (the total), "
                "so there is nothing left to train; reporting the saved model\n",
                a->resume, (long long)epoch, a->epochs);
    return (int)epoch + 1;
}

tg_fit_opts ex_fit_opts(const ex_args *a, tg_model *m, tg_optim *opt)
{
    tg_fit_opts o = tg_fit_defaults();
    o.epochs = a->epochs;
    o.first_epoch = resume(a, m, opt);
    o.seed = a->seed;
    o.checkpoint = a->save;
    o.checkpoint_every = a->save_every;
    o.log_csv = a->log;
    o.progress = stderr;
    return o;
}

void ex_add_l2_hidden(tg_model *m, int64_t in, int64_t out)
{
    tg_dense_opts hidden = tg_dense_defaults();
    hidden.l2_weight = 5e-4;
    hidden.l2_bias = 5e-4;
    tg_model_add_dense(m, in, out, &hidden);
    tg_model_add_activation(m, TG_ACT_RELU, 0);
}

tg_optim *ex_adam(const char *name, tg_model *m, double lr, double decay, double eps)
{
    tg_adam_opts o = tg_adam_defaults();
    o.lr = lr;
    o.decay = decay;
    if (eps > 0)
        o.eps = eps;
    tg_optim *opt = m ? tg_adam_new(tg_model_param_count(m), tg_model_params(m), &o) : NULL;
    if (!opt) {
        fprintf(stderr, "%s: %s\n", name, tg_last_error());
        exit(1);
    }
    return opt;
}

double ex_fit(const char *name, tg_model *m, tg_optim *opt, const tg_tensor *x,
              const tg_tensor *y, const tg_fit_opts *fo, tg_epoch_stats *last)
{
    double t0 = ex_now();
    if (tg_fit(m, opt, x, y, fo, last) != TG_OK) {
        fprintf(stderr, "%s: %s\n", name, tg_last_error());
        exit(1);
    }
    return ex_now() - t0;
}

/* ----------------------------------------------------------------- results */

/* loss and accuracy of m on (x, y) in chunks of `chunk` rows; exits 1 on failure */
static void evaluate(const char *name, tg_model *m, tg_fit_loss k, const tg_tensor *x,
                     const tg_tensor *y, int64_t chunk, double *loss, double *acc)
{
    if (tg_evaluate(m, x, y, k, chunk, loss, acc) != TG_OK) {
        fprintf(stderr, "%s: %s\n", name, tg_last_error());
        exit(1);
    }
}

int ex_run_full_batch(const ex_args *a, ex_task *task, tg_model *m, tg_optim *opt)
{
    tg_fit_opts fo = ex_fit_opts(a, m, opt);
    fo.batch = task->x->shape[0];
    fo.shuffle = false;
    fo.progress_every = 100;
    fo.loss = task->loss;
    fo.penalty = task->penalty;
    fo.x_val = task->xv;
    fo.y_val = task->yv;
    double secs = ex_fit(task->name, m, opt, task->x, task->y, &fo, NULL), tl, ta, vl, va;
    evaluate(task->name, m, task->loss, task->x, task->y, task->x->shape[0], &tl, &ta);
    evaluate(task->name, m, task->loss, task->xv, task->yv, task->xv->shape[0], &vl, &va);
    if (task->loss == TG_FIT_MSE && a->json)
        printf("{\"train_loss\":%.8f,\"train_mse\":%.8f,\"val_loss\":%.8f,\"val_mse\":%.8f,"
               "\"epochs\":%d,\"seconds\":%.3f}\n",
               tl, tl, vl, vl, a->epochs, secs);
    else if (task->loss == TG_FIT_MSE)
        printf("%s: %d epochs in %.2f s: train mse %.6f, validation mse %.6f\n", task->name,
               a->epochs, secs, tl, vl);
    else if (a->json)
        printf("{\"train_loss\":%.6f,\"train_acc\":%.4f,\"val_loss\":%.6f,\"val_acc\":%.4f,"
               "\"epochs\":%d,\"seconds\":%.3f}\n",
               tl, ta, vl, va, a->epochs, secs);
    else
        printf("%s: %d epochs in %.2f s: train loss %.4f acc %.4f, validation loss %.4f acc %.4f\n",
               task->name, a->epochs, secs, tl, ta, vl, va);
    /* the validation data may be the training data (xor) */
    tg_tensor *own[4] = {task->x, task->y, task->xv != task->x ? task->xv : NULL,
                         task->yv != task->y ? task->yv : NULL};
    ex_finish(a, &opt, &m, own, 4);
    return 0;
}

void ex_finish(const ex_args *a, tg_optim **opt, tg_model **m, tg_tensor **tensors, int n)
{
    if (a->print_hash)
        printf("%016llx\n", (unsigned long long)tg_model_hash(*m));
    tg_optim_free(opt);
    tg_model_free(m);
    for (int i = 0; i < n; i++)
        tg_tensor_free(&tensors[i]);
}

double ex_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ------------------------------------------- classifiers on MNIST-format data */

/* DIR/STEM.gz if readable, else DIR/STEM; NULL (error printed after "name: ") */
static tg_tensor *idx_load(const char *name, const char *dir, const char *stem)
{
    char path[4096];
    tg_tensor *t = NULL;
    snprintf(path, sizeof path, "%s/%s.gz", dir, stem);
    if (access(path, R_OK) != 0)
        snprintf(path, sizeof path, "%s/%s", dir, stem);
    if (tg_idx_load(path, &t) != TG_OK)
        fprintf(stderr, "%s: %s\n", name, tg_last_error());
    return t;
}

/* rows [lo, hi) of t as a new contiguous tensor, [hi - lo, image...] with an image
 * shape; NULL on failure */
static tg_tensor *rows_of(const tg_tensor *t, int64_t lo, int64_t hi, const int64_t image[3])
{
    int64_t start[2] = {lo, 0}, stop[2] = {hi, t->ndim > 1 ? t->shape[1] : 1}, step[2] = {1, 1};
    tg_tensor *v = tg_view_slice(t, start, stop, step);
    tg_tensor *c = v ? tg_tensor_clone(v) : NULL;
    tg_tensor *r = c && image ? tg_view_reshape(c, 4, (int64_t[]){hi - lo, image[0], image[1],
                                                                    image[2]})
                              : NULL;
    tg_tensor_free(&v);
    if (!image)
        return c;
    tg_tensor_free(&c);
    return r;
}

void ex_idx_data_load(const char *name, const ex_args *a, int64_t limit, const int64_t image[3],
                      ex_idx_data *d)
{
    if (access(a->data, R_OK) != 0) {
        fprintf(stderr,
                "%s: no data in %s. Install Debian's Fashion-MNIST (apt-get install "
                "dataset-fashion-mnist) or pass --data DIR with MNIST-format IDX files.\n",
                name, a->data);
        exit(2);
    }
    static const char *const stems[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
    tg_tensor *all[4];
    for (int i = 0; i < 4; i++)
        if (!(all[i] = idx_load(name, a->data, stems[i]))) /* one message, then stop */
            exit(1);
    int64_t pixels = image ? image[0] * image[1] * image[2] : all[0]->shape[1];
    if (all[0]->shape[1] != pixels || all[2]->shape[1] != pixels) {
        fprintf(stderr, "%s: images must have %lld pixels\n", name, (long long)pixels);
        exit(1);
    }
    int64_t ntrain_all = all[0]->shape[0], ntest = all[2]->shape[0];
    if (limit > 0 && limit < ntrain_all)
        ntrain_all = limit;
    if (limit > 0 && limit < ntest)
        ntest = limit;
    int64_t nval = ntrain_all / 12, ntrain = ntrain_all - nval; /* 5000 of 60000 */
    *d = (ex_idx_data){rows_of(all[0], 0, ntrain, image), rows_of(all[1], 0, ntrain, NULL),
                       rows_of(all[0], ntrain, ntrain_all, image),
                       rows_of(all[1], ntrain, ntrain_all, NULL), rows_of(all[2], 0, ntest, image),
                       rows_of(all[3], 0, ntest, NULL)};
    for (int i = 0; i < 4; i++)
        tg_tensor_free(&all[i]);
    if (!d->x || !d->y || !d->xv || !d->yv || !d->xt || !d->yt) {
        fprintf(stderr, "%s: %s\n", name, tg_last_error());
        exit(1);
    }
}

void ex_report_test(const ex_args *a, const char *title, const char *json_extra, double secs,
                    tg_model *m, int64_t chunk, const ex_idx_data *d)
{
    double r[6];
    evaluate(title, m, TG_FIT_SOFTMAX_CE, d->x, d->y, chunk, &r[0], &r[1]);
    evaluate(title, m, TG_FIT_SOFTMAX_CE, d->xv, d->yv, chunk, &r[2], &r[3]);
    evaluate(title, m, TG_FIT_SOFTMAX_CE, d->xt, d->yt, chunk, &r[4], &r[5]);
    if (a->json)
        printf("{\"train_loss\":%.6f,\"train_acc\":%.4f,\"val_loss\":%.6f,\"val_acc\":%.4f,"
               "\"test_loss\":%.6f,\"test_acc\":%.4f%s,\"epochs\":%d,\"seconds\":%.3f}\n",
               r[0], r[1], r[2], r[3], r[4], r[5], json_extra, a->epochs, secs);
    else
        printf("%s: %d epochs in %.1f s: train acc %.4f, validation acc %.4f, test loss %.4f "
               "acc %.4f\n",
               title, a->epochs, secs, r[1], r[3], r[4], r[5]);
}

void ex_idx_data_free(ex_idx_data *d)
{
    tg_tensor **all[6] = {&d->x, &d->y, &d->xv, &d->yv, &d->xt, &d->yt};
    for (int i = 0; i < 6; i++)
        tg_tensor_free(all[i]);
}
