#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tapegrad.h"

static bool shown;

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
    if (mask & EX_LR)
        fprintf(f, "  --lr X            learning rate, > 0 and <= 10 (default %g)\n", a->lr);
    if (mask & EX_DROPOUT)
        fprintf(f, "  --dropout R       dropout rate after the hidden layer, 0 <= R < 1 (default %g)\n",
                a->dropout);
    if (mask & EX_BATCH)
        fprintf(f, "  --batch B         mini-batch size, 1..1000000 (default %lld)\n",
                (long long)a->batch);
    if (mask & EX_LOG)
        fprintf(f, "  --log FILE        append one CSV row per epoch (plot: scripts/plot_log.sh)\n");
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
        } else if ((mask & EX_LOG) && !strcmp(o, "--log")) {
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
        ex_check_writable(prog, a->save);
    if (tg_set_num_threads(a->threads) != TG_OK) {
        fprintf(stderr, "%s: --threads %d: %s\n", prog, a->threads, tg_last_error());
        exit(2);
    }
}

void ex_check_writable(const char *prog, const char *path)
{
    /* a save fails only after training otherwise: check the directory now */
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
        fprintf(stderr, "%s: --save %s: cannot write into %s: %s\n", prog, path, dir,
                strerror(errno ? errno : ENOTDIR));
        exit(2);
    }
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        fprintf(stderr, "%s: --save %s: is a directory\n", prog, path);
        exit(2);
    }
}

int ex_resume(const ex_args *a, tg_model *m, tg_optim *opt)
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

void ex_maybe_save(const ex_args *a, const tg_model *m, const tg_optim *opt, int epoch)
{
    if (!a->save || !(epoch == a->epochs || (a->save_every > 0 && epoch % a->save_every == 0)))
        return;
    if (tg_checkpoint_save(a->save, m, opt, epoch) != TG_OK) {
        fprintf(stderr, "%s\n", tg_last_error());
        exit(1);
    }
}

tg_fit_opts ex_fit_opts(const ex_args *a, tg_model *m, tg_optim *opt)
{
    tg_fit_opts o = tg_fit_defaults();
    o.epochs = a->epochs;
    o.first_epoch = ex_resume(a, m, opt);
    o.seed = a->seed;
    o.checkpoint = a->save;
    o.checkpoint_every = a->save_every;
    o.log_csv = a->log;
    o.progress = stderr;
    return o;
}

void ex_print_hash(const ex_args *a, const tg_model *m)
{
    if (a->print_hash)
        printf("%016llx\n", (unsigned long long)tg_model_hash(m));
}

void ex_report(const ex_args *a, const char *name, double secs, double train_loss,
               double train_acc, double val_loss, double val_acc)
{
    if (a->json)
        printf("{\"train_loss\":%.6f,\"train_acc\":%.4f,\"val_loss\":%.6f,\"val_acc\":%.4f,"
               "\"epochs\":%d,\"seconds\":%.3f}\n",
               train_loss, train_acc, val_loss, val_acc, a->epochs, secs);
    else
        printf("%s: %d epochs in %.2f s: train loss %.4f acc %.4f, validation loss %.4f acc %.4f\n",
               name, a->epochs, secs, train_loss, train_acc, val_loss, val_acc);
}

double ex_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void ex_progress(int epoch, int epochs, double loss, const char *metric, double value,
                 double samples_per_s)
{
    if (!isatty(STDERR_FILENO))
        return;
    fprintf(stderr, "\repoch %d/%d  loss %.4f  %s %.4f  %.0f samples/s   ", epoch, epochs, loss,
            metric, value, samples_per_s);
    shown = true;
}

void ex_progress_done(void)
{
    if (shown)
        fputc('\n', stderr);
    shown = false;
}

/* ------------------------------------------- classifiers on MNIST-format data */

tg_tensor *ex_idx_load(const char *name, const char *dir, const char *stem)
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

bool ex_idx_load_all(const char *name, const char *dir, tg_tensor **x, tg_tensor **y,
                     tg_tensor **xt, tg_tensor **yt)
{
    static const char *const stems[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
    tg_tensor **out[4] = {x, y, xt, yt};
    for (int i = 0; i < 4; i++)
        *out[i] = NULL;
    for (int i = 0; i < 4; i++)
        if (!(*out[i] = ex_idx_load(name, dir, stems[i]))) { /* one message, then stop */
            for (int k = 0; k < i; k++)
                tg_tensor_free(out[k]);
            return false;
        }
    return true;
}

tg_tensor *ex_rows(const tg_tensor *t, int64_t lo, int64_t hi)
{
    int64_t start[2] = {lo, 0}, stop[2] = {hi, t->ndim > 1 ? t->shape[1] : 1}, step[2] = {1, 1};
    tg_tensor *v = tg_view_slice(t, start, stop, step);
    tg_tensor *c = v ? tg_tensor_clone(v) : NULL;
    tg_tensor_free(&v);
    return c;
}

int ex_train_classifier(const ex_args *a, const char *name, tg_model *m, tg_optim *opt,
                        tg_tape *t, const tg_tensor *x, const tg_tensor *y, tg_tensor *xb,
                        tg_tensor *yb)
{
    int64_t ntrain = x->shape[0], B = xb->shape[0];
    int64_t features = ntrain ? tg_tensor_numel(x) / ntrain : 0;
    int64_t *perm = malloc(sizeof *perm * (size_t)(ntrain > 0 ? ntrain : 1));
    if (!perm) {
        fprintf(stderr, "%s: out of memory\n", name);
        return 1;
    }
    double t0 = ex_now();
    int64_t seen = 0;
    for (int epoch = ex_resume(a, m, opt); epoch <= a->epochs; epoch++) {
        /* a permutation from the counter-based RNG: reproducible for (seed, epoch) */
        tg_permutation(ntrain, a->seed, 1000 + (uint64_t)epoch, perm);
        double epoch_loss = 0;
        int64_t batches = 0;
        for (int64_t lo = 0; lo + B <= ntrain; lo += B) { /* full batches only */
            float *xd = xb->data;
            int32_t *yd = yb->data;
            for (int64_t r = 0; r < B; r++) {
                memcpy(xd + r * features, (const float *)x->data + perm[lo + r] * features,
                       sizeof(float) * (size_t)features);
                yd[r] = ((const int32_t *)y->data)[perm[lo + r]];
            }
            tg_tape_reset(t);
            tg_tensor *out = tg_model_forward(m, t, xb, true);
            tg_tensor *l = tg_softmax_cross_entropy(t, out, yb, NULL);
            if (tg_backward(t, l) != TG_OK) {
                fprintf(stderr, "%s: %s\n", name, tg_tape_error(t));
                free(perm);
                return 1;
            }
            tg_optim_step(opt);
            tg_optim_zero_grad(opt);
            epoch_loss += tg_tensor_get_flat(l, 0);
            batches++;
            seen += B;
            if (batches % 50 == 0)
                ex_progress(epoch, a->epochs, epoch_loss / (double)batches, "batch acc",
                            tg_accuracy(out, yb), (double)seen / (ex_now() - t0));
        }
        ex_maybe_save(a, m, opt, epoch);
    }
    ex_progress_done();
    free(perm);
    return 0;
}

ex_eval_result ex_evaluate(const char *name, tg_model *m, tg_tape *t, const tg_tensor *x,
                           const tg_tensor *y, int64_t chunk, int sample_ndim,
                           const int64_t *sample)
{
    double loss = 0;
    int64_t hit = 0, n = x->shape[0];
    for (int64_t lo = 0; lo < n; lo += chunk) {
        int64_t hi = lo + chunk < n ? lo + chunk : n;
        tg_tensor *flat = ex_rows(x, lo, hi), *yb = ex_rows(y, lo, hi), *xb = NULL;
        if (flat && sample_ndim > 0) {
            int64_t shape[8] = {hi - lo};
            for (int d = 0; d < sample_ndim && d < 7; d++)
                shape[d + 1] = sample[d];
            xb = tg_view_reshape(flat, sample_ndim + 1, shape);
        }
        tg_tape_reset(t);
        bool rec = tg_tape_set_grad_mode(t, false);
        tg_tensor *out = tg_model_forward(m, t, xb ? xb : flat, false);
        tg_tensor *l = tg_softmax_cross_entropy(t, out, yb, NULL);
        if (!l) {
            fprintf(stderr, "%s: evaluation failed: %s\n", name,
                    flat && yb ? tg_tape_error(t) : tg_last_error());
            exit(1);
        }
        loss += tg_tensor_get_flat(l, 0) * (double)(hi - lo);
        hit += (int64_t)(tg_accuracy(out, yb) * (double)(hi - lo) + 0.5);
        tg_tape_set_grad_mode(t, rec);
        tg_tensor_free(&xb);
        tg_tensor_free(&flat);
        tg_tensor_free(&yb);
    }
    ex_eval_result r = {loss / (double)n, (double)hit / (double)n};
    return r;
}
