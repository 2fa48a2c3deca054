#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tapegrad.h"

static bool shown;

static void usage(const char *prog, const char *extra)
{
    fprintf(stderr,
            "usage: %s [--epochs N] [--seed S] [--threads T] [--json] [--print-hash]\n"
            "       [--save PATH [--save-every N]] [--resume PATH]%s%s\n", prog,
            extra ? " " : "", extra ? extra : "");
    exit(2);
}

static double number(const char *prog, const char *opt, const char *v, const char *extra)
{
    char *end;
    double d = v ? strtod(v, &end) : 0;
    if (!v || *end || end == v) {
        fprintf(stderr, "%s: %s needs a number\n", prog, opt);
        usage(prog, extra);
    }
    return d;
}

void ex_parse(int argc, char **argv, ex_args *a, const char *extra)
{
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "--json")) {
            a->json = true;
            continue;
        }
        if (!strcmp(o, "--print-hash")) {
            a->print_hash = true;
            continue;
        }
        if (!strcmp(o, "--help") || !strcmp(o, "-h"))
            usage(argv[0], extra);
        if (!strcmp(o, "--epochs"))
            a->epochs = (int)number(argv[0], o, v, extra);
        else if (!strcmp(o, "--seed"))
            a->seed = (uint64_t)number(argv[0], o, v, extra);
        else if (!strcmp(o, "--threads")) {
            double n = number(argv[0], o, v, extra);
            if (!(n >= 1 && n <= tg_max_threads() && n == (int)n)) {
                fprintf(stderr, "%s: --threads %s: need a whole number in [1, %d] (4 per "
                                "processor)\n", argv[0], v, tg_max_threads());
                exit(2);
            }
            a->threads = (int)n;
        }
        else if (!strcmp(o, "--dropout"))
            a->dropout = number(argv[0], o, v, extra);
        else if (!strcmp(o, "--batch"))
            a->batch = (int64_t)number(argv[0], o, v, extra);
        else if (!strcmp(o, "--lr"))
            a->lr = number(argv[0], o, v, extra);
        else if (!strcmp(o, "--data") && v)
            a->data = v;
        else if (!strcmp(o, "--save") && v)
            a->save = v;
        else if (!strcmp(o, "--resume") && v)
            a->resume = v;
        else if (!strcmp(o, "--save-every"))
            a->save_every = (int)number(argv[0], o, v, extra);
        else {
            fprintf(stderr, "%s: unknown option %s\n", argv[0], o);
            usage(argv[0], extra);
        }
        i++;
    }
    if (a->epochs < 1 || a->threads < 1 || a->batch < 0 || a->save_every < 0 || !(a->dropout >= 0 && a->dropout < 1)) {
        fprintf(stderr, "%s: invalid option value\n", argv[0]);
        usage(argv[0], extra);
    }
    if (tg_set_num_threads(a->threads) != TG_OK) {
        fprintf(stderr, "%s: %s\n", argv[0], tg_last_error());
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
