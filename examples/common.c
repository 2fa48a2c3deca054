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
        else if (!strcmp(o, "--threads"))
            a->threads = (int)number(argv[0], o, v, extra);
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
    tg_set_num_threads(a->threads);
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
