/* Shared by the sound classifiers (audio, music): log-mel features of fixed-length clips
 * (augmented or not, standardised, in parallel), the small CNNs over them, their tg_fit
 * options with a new augmented copy of the training clips every epoch, and the accuracy
 * with its confusion matrix. */
#ifndef TG_EXAMPLES_AUDIO_COMMON_H
#define TG_EXAMPLES_AUDIO_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "common.h"
#include "tapegrad.h"

typedef struct ex_frontend ex_frontend;
/* A clip's waveform transform (augmentation, noise): a new F32 tensor made from `row`
 * (F32 [clip]) with the draws of `index`, or NULL with the message in tg_last_error(). */
typedef tg_tensor *(*ex_wave_fn)(const ex_frontend *fe, const tg_tensor *row, uint64_t index);

struct ex_frontend {
    const char *name;        /* the program, for messages */
    const tg_melspec *ms;
    int64_t clip;            /* samples per clip */
    uint64_t seed;           /* of the augmentation draws */
    /* augment: each clip made again by augment_wave, then SpecAugment masks
     * (tg_spec_augment with the draws of the clip's index: mask_bands bands of up to
     * mask_mels mels, mask_times times of up to mask_frames frames); else the clip made
     * by wave (NULL: as it is) */
    bool augment;
    ex_wave_fn augment_wave, wave;
    int mask_bands, mask_mels, mask_times, mask_frames;
    /* standardisation: each clip by its own mean and standard deviation (per_clip), else
     * (v - mean) / sd for all (sd 0: unchanged) */
    bool per_clip;
    double mean, sd;
};

/* the clip of fe->clip samples at src -> its log-mel [mels * frames] at dst (nfeat
 * values), transformed and masked with the draws of `index`, standardised. false (message
 * in tg_last_error()) on failure. */
bool ex_features(const ex_frontend *fe, const float *src, uint64_t index, float *dst,
                 int64_t nfeat);
/* ex_features of the first n rows of waves (F32 [>= n, clip]) into the rows of x (F32
 * [>= n, nfeat]) with index base + row, on `threads` threads; exits 1 on failure */
void ex_all_features(const ex_frontend *fe, const tg_tensor *waves, int64_t n, tg_tensor *x,
                     uint64_t base, int threads);

/* The CNNs over log-mel spectrograms [mels, frames] (--arch):
 *   EX_ARCH_1D         "1d": the mels as channels of a 1-D convolution over time (conv2d
 *                      with kernel 1x5 over [mels, 1, frames]): mels -> width -> width ->
 *                      width, pooling by 2 in time; flatten, dense -> 64
 *   EX_ARCH_2D         "2d": conv 3x3 over [1, mels, frames]: 1 -> 8 -> 16 -> 32 channels,
 *                      2x2 pooling; flatten, dense -> 64
 *   EX_ARCH_2D_GLOBAL  "2d-global": conv 3x3 over [1, mels, frames]: 1 -> 16 -> 32 -> 64
 *                      -> 128 channels, 2x2 pooling, then the maximum of each channel over
 *                      all of frequency and time (global max pooling); dense 128 -> 64
 * each conv without bias, then batch norm, ReLU and max pooling; the dense layer -> 64 is
 * He uniform, then ReLU and dense -> classes. */
typedef enum { EX_ARCH_1D, EX_ARCH_2D, EX_ARCH_2D_GLOBAL } ex_sound_arch;
/* adds the model to m; false on failure */
bool ex_sound_cnn(tg_model *m, ex_sound_arch arch, int64_t mels, int64_t frames, int64_t width,
                  int64_t classes);
/* the shape of one sample for arch: [mels, 1, frames] (1d) or [1, mels, frames] */
void ex_sound_sample(ex_sound_arch arch, int64_t mels, int64_t frames, int64_t sample[3]);

/* tg_fit's before_epoch for augmented training: the first n rows of x made again from
 * waves by fe with the indices epoch * n + row */
typedef struct {
    const ex_frontend *fe;
    const tg_tensor *waves;
    int64_t n;
    tg_tensor *x;
    int threads;
} ex_augmenter;

#define EX_SOUND_EVAL_BATCH 256

/* ex_fit_opts for a clip classifier trained on ntrain rows: softmax cross-entropy without
 * penalty, batches of min(--batch, ntrain) dropping the last smaller one, each epoch in
 * the order tg_permutation(ntrain, seed, 1000 + epoch), validation on (xv, yv) (may be
 * NULL) in chunks of EX_SOUND_EVAL_BATCH watched by its error rate; with g, a new
 * augmented copy of the training rows before every epoch */
tg_fit_opts ex_sound_fit_opts(const ex_args *a, tg_model *m, tg_optim *opt, int64_t ntrain,
                              const tg_tensor *xv, const tg_tensor *yv, ex_augmenter *g);

/* the accuracy of m (evaluation mode) on x [n, sample...] against the labels y (I32 [n]),
 * and the confusion matrix conf[true * classes + predicted] when conf is not NULL; exits 1
 * on failure */
double ex_sound_accuracy(const char *name, tg_model *m, const tg_tensor *x, const tg_tensor *y,
                         int classes, int64_t *conf);

/* precision and recall of each of the classes from the confusion matrix conf[true *
 * classes + predicted] (tg_precision_recall_f1) */
void ex_sound_per_class(const int64_t *conf, int classes, double *prec, double *rec);
/* prints ,"confusion":[[...],...],"precision":[...],"recall":[...] (JSON members) */
void ex_sound_json_figures(const int64_t *conf, int classes, const double *prec,
                           const double *rec);

/* $HOME/.cache/tapegrad/SUB (a static buffer), the default --data of a sound example */
const char *ex_sound_cache_dir(const char *sub);
/* the --arch flag of ex_parse's extra list (p: a const char ** with the default) */
#define EX_SOUND_ARCH_FLAG(p)                                                                  \
    {"--arch", EX_FLAG_STRING, (p), 0, 0, "--arch 1d|2d|2d-global", "1d, 2d or 2d-global",    \
     "the CNN: 1d (conv over frames, mels as channels), 2d (conv over [1, mels, frames]), "   \
     "2d-global (wider 2d with global max pooling)"}
/* --arch's value as an ex_sound_arch; anything else exits 2 naming prog */
ex_sound_arch ex_sound_arch_of(const char *prog, const char *arch);
/* the name of arch ("1d", "2d", "2d-global") */
const char *ex_sound_arch_name(ex_sound_arch arch);

#endif
