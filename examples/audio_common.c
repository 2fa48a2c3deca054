/* The sound classifiers' shared pieces (audio_common.h). */
#include "audio_common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool ex_features(const ex_frontend *fe, const float *src, uint64_t index, float *dst,
                 int64_t nfeat)
{
    tg_tensor *row = tg_tensor_wrap(TG_F32, 1, (int64_t[]){fe->clip}, (void *)src);
    tg_tensor *w = NULL, *lm = NULL;
    bool ok = row != NULL;
    ex_wave_fn make = fe->augment ? fe->augment_wave : fe->wave;
    if (ok && make)
        ok = (w = make(fe, row, index)) != NULL;
    if (ok)
        lm = tg_melspec_log(fe->ms, w ? w : row);
    ok = lm && tg_tensor_numel(lm) == nfeat &&
         (!fe->augment ||
          tg_spec_augment(lm, fe->mask_bands, fe->mask_mels, fe->mask_times, fe->mask_frames,
                          fe->seed, index) == TG_OK);
    if (ok) {
        const float *l = lm->data;
        double mean = fe->mean, sd = fe->sd > 0 ? fe->sd : 1;
        if (fe->per_clip) {
            double sum = 0, sum2 = 0;
            for (int64_t k = 0; k < nfeat; k++) {
                sum += l[k];
                sum2 += (double)l[k] * l[k];
            }
            mean = sum / (double)nfeat;
            sd = sqrt(fmax(sum2 / (double)nfeat - mean * mean, 1e-12));
        }
        for (int64_t k = 0; k < nfeat; k++)
            dst[k] = (float)(((double)l[k] - mean) / sd);
    }
    tg_tensor_free(&lm);
    tg_tensor_free(&w);
    tg_tensor_free(&row);
    return ok;
}

void ex_all_features(const ex_frontend *fe, const tg_tensor *waves, int64_t n, tg_tensor *x,
                     uint64_t base, int threads)
{
    int64_t nfeat = x->shape[1];
    int failed = 0;
    (void)threads;
#ifdef TG_HAVE_OPENMP
#pragma omp parallel for num_threads(threads) schedule(dynamic, 8) reduction(+ : failed)
#endif
    for (int64_t i = 0; i < n; i++)
        failed += !ex_features(fe, (const float *)waves->data + i * fe->clip, base + (uint64_t)i,
                               (float *)x->data + i * nfeat, nfeat);
    if (failed) {
        fprintf(stderr, "%s: features of %d clips failed: %s\n", fe->name, failed,
                tg_last_error());
        exit(1);
    }
}

void ex_sound_sample(ex_sound_arch arch, int64_t mels, int64_t frames, int64_t sample[3])
{
    bool one_d = arch == EX_ARCH_1D;
    sample[0] = one_d ? mels : 1;
    sample[1] = one_d ? 1 : mels;
    sample[2] = frames;
}

bool ex_sound_cnn(tg_model *m, ex_sound_arch arch, int64_t mels, int64_t frames, int64_t width,
                  int64_t classes)
{
    tg_conv2d_layer_opts c = tg_conv2d_layer_defaults();
    c.bias = false; /* batch norm follows */
    tg_dense_opts d = tg_dense_defaults();
    d.init = TG_INIT_HE_UNIFORM;
    bool one_d = arch == EX_ARCH_1D;
    int64_t w = frames, h = one_d ? 1 : mels;
    const int64_t k3[2] = {3, 3}, p22[2] = {2, 2}, k5[2] = {1, 5}, p12[2] = {1, 2};
    const int64_t ch1[5] = {mels, width, width, width}, ch2[5] = {1, 8, 16, 32},
                  ch2g[5] = {1, 16, 32, 64, 128};
    const int64_t *ch = one_d ? ch1 : arch == EX_ARCH_2D ? ch2 : ch2g;
    int layers = arch == EX_ARCH_2D_GLOBAL ? 4 : 3;
    c.padding[0] = one_d ? 0 : 1;
    c.padding[1] = one_d ? 2 : 1;
    bool ok = true;
    for (int l = 0; l < layers && ok; l++) {
        ok = tg_model_add_conv2d(m, ch[l], ch[l + 1], one_d ? k5 : k3, &c) == TG_OK &&
             tg_model_add_batch_norm(m, ch[l + 1], NULL) == TG_OK &&
             tg_model_add_activation(m, TG_ACT_RELU, 0) == TG_OK &&
             tg_model_add_max_pool2d(m, one_d ? p12 : p22, NULL) == TG_OK;
        w /= 2;
        h = one_d ? 1 : h / 2;
    }
    if (ok && arch == EX_ARCH_2D_GLOBAL) {
        ok = tg_model_add_max_pool2d(m, (const int64_t[2]){h, w}, NULL) == TG_OK;
        h = w = 1;
    }
    return ok && tg_model_add_flatten(m) == TG_OK &&
           tg_model_add_dense(m, ch[layers] * h * w, 64, &d) == TG_OK &&
           tg_model_add_activation(m, TG_ACT_RELU, 0) == TG_OK &&
           tg_model_add_dense(m, 64, classes, NULL) == TG_OK;
}

static bool augment_epoch(int epoch, void *ctx)
{
    ex_augmenter *g = ctx;
    ex_all_features(g->fe, g->waves, g->n, g->x, (uint64_t)epoch * (uint64_t)g->n, g->threads);
    return true;
}

tg_fit_opts ex_sound_fit_opts(const ex_args *a, tg_model *m, tg_optim *opt, int64_t ntrain,
                              const tg_tensor *xv, const tg_tensor *yv, ex_augmenter *g)
{
    tg_fit_opts fo = ex_fit_opts(a, m, opt);
    fo.batch = a->batch < ntrain ? a->batch : ntrain;
    fo.drop_last = true;
    fo.shuffle_stream = 1001;
    fo.penalty = false;
    fo.x_val = xv;
    fo.y_val = yv;
    fo.eval_batch = EX_SOUND_EVAL_BATCH;
    fo.monitor = TG_FIT_VAL_ERROR;
    if (g) {
        fo.before_epoch = augment_epoch;
        fo.ctx = g;
    }
    return fo;
}

double ex_sound_accuracy(const char *name, tg_model *m, const tg_tensor *x, const tg_tensor *y,
                         int classes, int64_t *conf)
{
    int64_t *counts = calloc((size_t)classes * (size_t)classes, sizeof *counts), hit = 0;
    tg_tensor *p = counts ? tg_model_predict(m, x, EX_SOUND_EVAL_BATCH) : NULL;
    if (!p || tg_confusion_matrix(p, y, classes, counts) != TG_OK) {
        fprintf(stderr, "%s: evaluation failed: %s\n", name,
                counts ? tg_last_error() : "out of memory");
        exit(1);
    }
    for (int k = 0; k < classes; k++)
        hit += counts[k * classes + k];
    if (conf)
        for (int k = 0; k < classes * classes; k++)
            conf[k] = counts[k];
    free(counts);
    tg_tensor_free(&p);
    return (double)hit / (double)x->shape[0];
}

void ex_sound_per_class(const int64_t *conf, int classes, double *prec, double *rec)
{
    for (int k = 0; k < classes; k++)
        tg_precision_recall_f1(conf, classes, k, &prec[k], &rec[k], NULL);
}

static void json_row(const char *name, const double *v, int n)
{
    printf(",\"%s\":[", name);
    for (int k = 0; k < n; k++)
        printf("%s%.4f", k ? "," : "", v[k]);
    printf("]");
}

void ex_sound_json_figures(const int64_t *conf, int classes, const double *prec,
                           const double *rec)
{
    printf(",\"confusion\":[");
    for (int k = 0; k < classes; k++) {
        printf("%s[", k ? "," : "");
        for (int j = 0; j < classes; j++)
            printf("%s%lld", j ? "," : "", (long long)conf[k * classes + j]);
        printf("]");
    }
    printf("]");
    json_row("precision", prec, classes);
    json_row("recall", rec, classes);
}

const char *ex_sound_cache_dir(const char *sub)
{
    static char dir[4096];
    const char *home = getenv("HOME");
    snprintf(dir, sizeof dir, "%s/.cache/tapegrad/%s", home ? home : ".", sub);
    return dir;
}

static const char *const arch_names[] = {"1d", "2d", "2d-global"};

ex_sound_arch ex_sound_arch_of(const char *prog, const char *arch)
{
    for (int k = 0; k < (int)(sizeof arch_names / sizeof *arch_names); k++)
        if (!strcmp(arch, arch_names[k]))
            return (ex_sound_arch)k;
    fprintf(stderr, "%s: --arch: '%s' is not 1d, 2d or 2d-global (see %s --help)\n", prog, arch,
            prog);
    exit(2);
}

const char *ex_sound_arch_name(ex_sound_arch arch)
{
    return arch_names[arch];
}
