/* Musical instruments: which of the 12 General MIDI families (piano, organ, brass, ...)
 * plays a single note, learned from two sample libraries and tested on a third, whose
 * recordings of the same instruments the model never heard.
 *
 * Data: the corpus of examples/music_render (notes of GM programs 0..95 rendered by
 * fluidsynth from FluidR3_GM, TimGM6mb and MuseScore General; manifest.csv). The clips of
 * --test-library are the test set; of the others' notes, every fifth (the 3rd, 8th, ...
 * of each program) is held out as the same-library test (new notes of recordings that
 * were trained on), the rest is the training set. Nothing is tuned on either test set:
 * the epochs, learning rate and model are fixed.
 *
 * Features: each clip from its onset (the first sample above 1/1000 of its peak), 1 s,
 * a 64-band log-mel spectrogram (HTK mel, 512-sample frames every 10 ms: [64, 98]),
 * standardised per clip (its own mean and standard deviation: the loudness of a library
 * is not a cue).
 * Augmentation (--augment; off by default, see below): every epoch, every training clip is made again
 * from its waveform with draws reproducible from (seed, epoch * N + clip): pitch shift by
 * resampling (0.94..1.06, about a semitone either way; tg_audio_speed), gain -12..+6 dB
 * (clipped to [-1, 1]), an onset delay of up to 50 ms, white noise at 40..60 dB SNR, and
 * SpecAugment masks (one band of up to 6 mels, one of up to 10 frames).
 *
 * Models (--arch; audio_common.h):
 *   2d-global (default)  conv 3x3 over [1, 64, 98]: 1->16->32->64->128 channels, each with
 *                 batch norm, ReLU and 2x2 max pooling, then each channel's maximum over
 *                 all of frequency and time; dense 128 -> 64 -> 12
 *   1d            the mel bands as 64 channels of a 1-D convolution over time (conv2d with
 *                 kernel 1x5 over [64, 1, 98]): 64->64->64->64, each with batch norm, ReLU
 *                 and max pooling by 2 in time; dense 64*12 -> 64 -> 12
 *   2d            conv 3x3 over [1, 64, 98]: 1->8->16->32 channels, each with batch norm,
 *                 ReLU and 2x2 max pooling; dense 32*8*12 -> 64 -> 12
 * (chosen by training on one of the two training libraries and validating on the other;
 * the README's music section has the figures). Adam (--lr, default 2e-3), batches of
 * --batch (32), --epochs (15) epochs.
 *
 * Trains through tg_fit: one line per epoch on stderr (--log FILE appends the CSV rows that
 * scripts/plot_log.sh draws; "validation" there is the same-library held-out notes), then
 * the held-out library's accuracy, the confusion matrix and per-family precision and
 * recall, and the same-library accuracy; --json: one JSON object, the last line of stdout.
 *   --confusion FILE   also writes the confusion matrix as CSV (scripts/plot_confusion.sh
 *                      draws it as a heatmap)
 *   --dump-features F  writes the clean features, labels and library indices of the three
 *                      sets to the safetensors file F (bench/music_torch.py trains on
 *                      them) and exits
 * --save/--resume checkpoint the model and optimizer after each epoch.
 *
 *   music --resume MODEL [--arch A] --predict FILE [FILE...]
 * prints the three most likely families of each sound file (WAV, FLAC, ...: any rate or
 * number of channels; resampled to 16 kHz and mixed down) with their probabilities. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audio_common.h"
#include "common.h"
#include "music.h"
#include "tapegrad.h"

#define MELS 64
#define CLASSES MUSIC_FAMILIES
#define CLIP MUSIC_CLIP
#define RATE MUSIC_RATE
#define EVAL_BATCH 256
#define ONSET 1e-3 /* the onset: the first sample above this fraction of the peak */

typedef struct {
    int n;
    char **file;
    int32_t *label;
    int32_t *library; /* index in music_library_names */
} clipset;

enum { SET_TRAIN, SET_SAME, SET_TEST, SETS };
static const char *const set_names[SETS] = {"train", "same", "test"};

static void die_oom(void)
{
    fprintf(stderr, "music: out of memory\n");
    exit(1);
}

static void add_clip(clipset *s, int *cap, const char *path, int label, int library)
{
    if (s->n == *cap) {
        *cap = *cap ? 2 * *cap : 256;
        s->file = realloc(s->file, sizeof *s->file * (size_t)*cap);
        s->label = realloc(s->label, sizeof *s->label * (size_t)*cap);
        s->library = realloc(s->library, sizeof *s->library * (size_t)*cap);
        if (!s->file || !s->label || !s->library)
            die_oom();
    }
    if (!(s->file[s->n] = strdup(path)))
        die_oom();
    s->library[s->n] = library;
    s->label[s->n++] = label;
}

/* DIR/manifest.csv into the three sets; exits on error */
static void read_manifest(const char *dir, int test_lib, clipset out[SETS])
{
    char path[4096], line[1024], clip[4600];
    snprintf(path, sizeof path, "%s/manifest.csv", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr,
                "music: no data in %s (no manifest.csv). Render the corpus first:\n"
                "  BUILD/examples/music_render --out %s\n", dir, dir);
        exit(2);
    }
    memset(out, 0, SETS * sizeof *out);
    int cap[SETS] = {0}, seen[MUSIC_LIBRARIES][MUSIC_PROGRAMS] = {{0}}, lineno = 0;
    bool have[MUSIC_LIBRARIES] = {false};
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (line[0] == '#' || !strncmp(line, "file,", 5))
            continue;
        char file[512], family[64], lib[64];
        int program, pitch, velocity, lidx = -1;
        if (sscanf(line, "%511[^,],%63[^,],%d,%63[^,],%d,%d", file, family, &program, lib,
                   &pitch, &velocity) == 6)
            for (int l = 0; l < MUSIC_LIBRARIES; l++)
                if (!strcmp(lib, music_library_names[l]))
                    lidx = l;
        int fam = music_family_of(program);
        if (lidx < 0 || fam < 0 || strcmp(family, music_family_names[fam])) {
            fprintf(stderr, "music: %s:%d: bad row (want file,family,program,library,...; the "
                    "family of program 0..95 is program / 8): %s", path, lineno, line);
            exit(1);
        }
        have[lidx] = true;
        int k = seen[lidx][program]++;
        int s = lidx == test_lib ? SET_TEST : k % 5 == 2 ? SET_SAME : SET_TRAIN;
        snprintf(clip, sizeof clip, "%s/%s", dir, file);
        add_clip(&out[s], &cap[s], clip, fam, lidx);
    }
    fclose(f);
    if (!have[test_lib]) {
        fprintf(stderr, "music: %s has no clips of the test library %s (render it with "
                "music_render --libraries ...)\n", path, music_library_names[test_lib]);
        exit(2);
    }
    if (!out[SET_TRAIN].n) {
        fprintf(stderr, "music: %s has no library to train on besides the test library %s\n",
                path, music_library_names[test_lib]);
        exit(2);
    }
}

static void free_clipset(clipset *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->file[i]);
    free(s->file);
    free(s->label);
    free(s->library);
}

static void free_data(tg_tensor *wave[SETS], tg_tensor *x[SETS], clipset cs[SETS])
{
    for (int k = 0; k < SETS; k++) {
        tg_tensor_free(&wave[k]);
        tg_tensor_free(&x[k]);
        free_clipset(&cs[k]);
    }
}

/* x (F32 [n]) from its onset, cut or zero-padded to CLIP samples, into dst */
static void from_onset(const tg_tensor *x, float *dst)
{
    const float *v = x->data;
    int64_t n = tg_tensor_numel(x), start = 0;
    float peak = 0;
    for (int64_t i = 0; i < n; i++)
        peak = fabsf(v[i]) > peak ? fabsf(v[i]) : peak;
    while (start < n && !(fabsf(v[start]) > (float)ONSET * peak))
        start++;
    if (start == n)
        start = 0;
    int64_t k = n - start < CLIP ? n - start : CLIP;
    memcpy(dst, v + start, sizeof(float) * (size_t)k);
    memset(dst + k, 0, sizeof(float) * (size_t)(CLIP - k));
}

/* a sound file as CLIP samples at RATE from its onset into dst; false with the message
 * (naming the file) in tg_last_error() */
static bool load_clip(const char *path, float *dst)
{
    tg_tensor *x = NULL;
    if (tg_audio_load(path, RATE, &x, NULL) != TG_OK)
        return false;
    from_onset(x, dst);
    tg_tensor_free(&x);
    return true;
}

static tg_tensor *load_waves(const clipset *s)
{
    tg_tensor *w = tg_zeros(TG_F32, 2, (int64_t[]){s->n > 0 ? s->n : 1, CLIP});
    if (!w)
        die_oom();
    for (int i = 0; i < s->n; i++)
        if (!load_clip(s->file[i], (float *)w->data + (int64_t)i * CLIP)) {
            fprintf(stderr, "music: %s\n", tg_last_error());
            exit(1);
        }
    return w;
}

/* a training clip made again: pitch-shifted by resampling, delayed by up to 50 ms, gain
 * -12..+6 dB (clipped to [-1, 1]), white noise at 40..60 dB SNR */
static tg_tensor *augment_wave(const ex_frontend *fe, const tg_tensor *row, uint64_t index)
{
    tg_tensor *sp = tg_audio_speed(row, 0.94, 1.06, fe->seed, index);
    tg_tensor *w = sp ? tg_zeros(TG_F32, 1, (int64_t[]){CLIP}) : NULL;
    if (w) {
        const uint64_t stream = 0x6d75736963ull; /* draws apart from tg_audio_*'s */
        int64_t delay = (int64_t)(tg_rng_uniform01(fe->seed ^ stream, index, 0) * RATE / 20);
        double gain = pow(10, (-12 + 18 * tg_rng_uniform01(fe->seed ^ stream, index, 1)) / 20);
        const float *s = sp->data;
        float *d = w->data;
        int64_t n = tg_tensor_numel(sp);
        for (int64_t i = delay; i < CLIP && i - delay < n; i++)
            d[i] = fmaxf(-1.0f, fminf(1.0f, (float)(gain * s[i - delay])));
        if (tg_audio_add_noise(w, 40, 60, fe->seed, index) != TG_OK)
            tg_tensor_free(&w);
    }
    tg_tensor_free(&sp);
    return w;
}

/* the n rows of x (F32 [>= n, nfeat]) seen as [n, sample...], or NULL for n = 0 */
static tg_tensor *as_samples(const tg_tensor *x, int64_t n, const int64_t sample[3])
{
    if (n == 0)
        return NULL;
    tg_tensor *v = tg_tensor_wrap(TG_F32, 4, (int64_t[]){n, sample[0], sample[1], sample[2]},
                                  x->data);
    if (!v) {
        fprintf(stderr, "music: %s\n", tg_last_error());
        exit(1);
    }
    return v;
}

/* a set's labels as I32 [n] (sharing the set's array), or NULL for an empty set */
static tg_tensor *labels_of(const clipset *s)
{
    int64_t n = s->n;
    tg_tensor *y = n ? tg_tensor_wrap(TG_I32, 1, &n, s->label) : NULL;
    if (n && !y) {
        fprintf(stderr, "music: %s\n", tg_last_error());
        exit(1);
    }
    return y;
}

/* accuracy on the samples xs with labels ys (ex_sound_accuracy); NaN for an empty set */
static double accuracy(tg_model *m, const tg_tensor *xs, const tg_tensor *ys, int64_t *conf)
{
    if (!xs) {
        if (conf)
            memset(conf, 0, sizeof(int64_t) * CLASSES * CLASSES);
        return NAN;
    }
    return ex_sound_accuracy("music", m, xs, ys, CLASSES, conf);
}

/* --predict: the top three families of each file; exit status 1 if a file failed */
static int predict(tg_model *m, const tg_melspec *ms, const int64_t sample[3], int64_t nfeat,
                   char **files, int nfiles, bool json)
{
    ex_frontend fe = {.name = "music", .ms = ms, .clip = CLIP, .per_clip = true};
    float *clip = malloc(sizeof(float) * CLIP);
    tg_tensor *x = tg_zeros(TG_F32, 2, (int64_t[]){1, nfeat}), *xs = x ? as_samples(x, 1, sample) : NULL;
    if (!clip || !xs)
        die_oom();
    int status = 0;
    for (int i = 0; i < nfiles; i++) {
        if (!load_clip(files[i], clip) || !ex_features(&fe, clip, 0, x->data, nfeat)) {
            fprintf(stderr, "music: %s\n", tg_last_error());
            status = 1;
            continue;
        }
        tg_tensor *s = tg_model_predict(m, xs, 1);
        if (!s) {
            fprintf(stderr, "music: %s\n", tg_last_error());
            exit(1);
        }
        const float *z = s->data;
        double p[CLASSES], zmax = z[0], sum = 0;
        for (int k = 1; k < CLASSES; k++)
            zmax = fmax(zmax, z[k]);
        for (int k = 0; k < CLASSES; k++)
            sum += p[k] = exp(z[k] - zmax);
        int top[3] = {-1, -1, -1};
        for (int r = 0; r < 3; r++)
            for (int k = 0; k < CLASSES; k++)
                if (k != top[0] && k != top[1] && (top[r] < 0 || p[k] > p[top[r]]))
                    top[r] = k;
        if (json) {
            printf("{\"file\":\"");
            for (const char *c = files[i]; *c; c++)
                printf(*c == '"' || *c == '\\' ? "\\%c" : (unsigned char)*c < 0x20 ? "?" : "%c", *c);
            printf("\",\"top\":[");
            for (int r = 0; r < 3; r++)
                printf("%s{\"family\":\"%s\",\"p\":%.4f}", r ? "," : "",
                       music_family_names[top[r]], p[top[r]] / sum);
            printf("]}\n");
        } else {
            printf("%s:", files[i]);
            for (int r = 0; r < 3; r++)
                printf("%s %s %.3f", r ? "," : "", music_family_names[top[r]], p[top[r]] / sum);
            printf("\n");
        }
        tg_tensor_free(&s);
    }
    free(clip);
    tg_tensor_free(&xs);
    tg_tensor_free(&x);
    return status;
}

/* the confusion matrix as CSV: a header of predicted families, one row per true family */
static void write_confusion(const char *path, const int64_t *conf)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(1);
    }
    fprintf(f, "true\\predicted");
    for (int j = 0; j < CLASSES; j++)
        fprintf(f, ",%s", music_family_names[j]);
    fprintf(f, "\n");
    for (int k = 0; k < CLASSES; k++) {
        fprintf(f, "%s", music_family_names[k]);
        for (int j = 0; j < CLASSES; j++)
            fprintf(f, ",%lld", (long long)conf[k * CLASSES + j]);
        fprintf(f, "\n");
    }
    if (fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

/* the three sets' features (x_<set>), family labels (y_<set>) and library indices
 * (l_<set>, into music_library_names) as a safetensors file */
static void dump_features(const char *path, tg_tensor *const x[SETS], const clipset s[SETS],
                          const int64_t sample[3], int test_lib)
{
    enum { PER_SET = 3 };
    const char *names[PER_SET * SETS];
    char nbuf[PER_SET * SETS][16];
    tg_tensor *own[PER_SET * SETS];
    for (int k = 0; k < SETS; k++) {
        int64_t n = s[k].n;
        int j = PER_SET * k;
        snprintf(nbuf[j], sizeof nbuf[0], "x_%s", set_names[k]);
        snprintf(nbuf[j + 1], sizeof nbuf[0], "y_%s", set_names[k]);
        snprintf(nbuf[j + 2], sizeof nbuf[0], "l_%s", set_names[k]);
        own[j] = tg_tensor_wrap(TG_F32, 4, (int64_t[]){n, sample[0], sample[1], sample[2]},
                                x[k]->data);
        own[j + 1] = tg_tensor_wrap(TG_I32, 1, &n, s[k].label);
        own[j + 2] = tg_tensor_wrap(TG_I32, 1, &n, s[k].library);
        for (int i = 0; i < PER_SET; i++)
            names[j + i] = nbuf[j + i];
    }
    const char *kv[2] = {"test_library", music_library_names[test_lib]};
    if (tg_safetensors_write(path, PER_SET * SETS, names, (const tg_tensor *const *)own, 1, kv) !=
        TG_OK) {
        fprintf(stderr, "music: %s\n", tg_last_error());
        exit(1);
    }
    for (int k = 0; k < PER_SET * SETS; k++)
        tg_tensor_free(&own[k]);
    fprintf(stderr, "music: features written to %s\n", path);
}

int main(int argc, char **argv)
{
    /* --predict FILE...: everything after it is a file */
    int nfiles = 0;
    char **files = NULL;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--predict")) {
            files = argv + i + 1;
            nfiles = argc - i - 1;
            argc = i;
            if (!nfiles) {
                fprintf(stderr, "music: --predict needs at least one sound file\n");
                return 2;
            }
            break;
        }
    bool augment = false, predict_listed = false; /* --predict is taken out above */
    const char *arch = "2d-global", *test_name = "musescore", *confusion = NULL, *dump = NULL;
    const ex_flag extra[] = {
        {"--test-library", EX_FLAG_STRING, &test_name, 0, 0, "--test-library L",
         "fluidr3, timgm6mb or musescore", "the library held out for testing (default musescore)"},
        {"--augment", EX_FLAG_BOOL, &augment, 0, 0, NULL, NULL,
         "train on augmented copies (pitch, gain, delay, noise, masks); default off"},
        EX_SOUND_ARCH_FLAG(&arch),
        {"--confusion", EX_FLAG_STRING, &confusion, 0, 0, "--confusion FILE", "a path",
         "write the test confusion matrix as CSV (scripts/plot_confusion.sh)"},
        {"--dump-features", EX_FLAG_STRING, &dump, 0, 0, "--dump-features F", "a path",
         "write the clean features of the three sets (safetensors) and exit"},
        {"--predict", EX_FLAG_BOOL, &predict_listed, 0, 0, NULL, NULL,
         "FILE... (last): top-3 families of sound files with the model of --resume"},
        {0}};
    ex_args a = {.epochs = 15, .seed = 1, .threads = 1, .lr = 2e-3, .batch = 32,
                 .data = ex_sound_cache_dir("music")};
    ex_parse(argc, argv, &a, EX_LR | EX_BATCH | EX_DATA, extra,
             "music: a CNN that names the instrument family of a note (log-mel spectrograms of "
             "notes rendered by examples/music_render), tested on a sample library it never heard");
    int test_lib = -1;
    for (int l = 0; l < MUSIC_LIBRARIES; l++)
        if (!strcmp(test_name, music_library_names[l]))
            test_lib = l;
    if (test_lib < 0) {
        fprintf(stderr, "music: --test-library: '%s' is not fluidr3, timgm6mb or musescore "
                "(see music --help)\n", test_name);
        return 2;
    }
    if (files && !a.resume) {
        fprintf(stderr, "music: --predict needs the model: --resume MODEL.safetensors\n");
        return 2;
    }
    ex_sound_arch arch_k = ex_sound_arch_of("music", arch);
    if (!tg_audio_available()) {
        fprintf(stderr, "music: tapegrad was built without audio support\n");
        return 2;
    }
    tg_melspec_opts mo = tg_melspec_defaults();
    mo.n_mels = MELS;
    tg_melspec *ms = tg_melspec_new(&mo);
    tg_model *m = tg_model_new(TG_F32, a.seed);
    int64_t frames = 1 + (CLIP - mo.n_fft + mo.hop - 1) / mo.hop, nfeat = MELS * frames;
    int64_t sample[3];
    ex_sound_sample(arch_k, MELS, frames, sample);
    if (!ms || !m || !ex_sound_cnn(m, arch_k, MELS, frames, 64, CLASSES)) {
        fprintf(stderr, "music: %s\n", tg_last_error());
        return 1;
    }
    if (files) {
        if (tg_checkpoint_load(a.resume, m, NULL, NULL) != TG_OK) {
            fprintf(stderr, "music: %s\n", tg_last_error());
            return 1;
        }
        int rc = predict(m, ms, sample, nfeat, files, nfiles, a.json);
        tg_model_free(&m);
        tg_melspec_free(&ms);
        return rc;
    }

    double t0 = ex_now();
    clipset cs[SETS];
    read_manifest(a.data, test_lib, cs);
    tg_tensor *wave[SETS], *x[SETS];
    /* augmented: SpecAugment with one band of up to 6 mels, one of up to 10 frames */
    ex_frontend fe = {.name = "music", .ms = ms, .clip = CLIP, .seed = a.seed, .per_clip = true,
                      .augment_wave = augment_wave, .mask_bands = 1, .mask_mels = 6,
                      .mask_times = 1, .mask_frames = 10};
    for (int k = 0; k < SETS; k++) {
        wave[k] = load_waves(&cs[k]);
        x[k] = tg_zeros(TG_F32, 2, (int64_t[]){cs[k].n > 0 ? cs[k].n : 1, nfeat});
        if (!x[k])
            die_oom();
        ex_all_features(&fe, wave[k], cs[k].n, x[k], 0, a.threads);
    }
    int64_t ntrain = cs[SET_TRAIN].n;
    fprintf(stderr, "music: %lld train, %lld same-library held-out, %lld test clips (%s); "
            "features [%d, %lld] in %.1f s\n", (long long)ntrain, (long long)cs[SET_SAME].n,
            (long long)cs[SET_TEST].n, music_library_names[test_lib], MELS, (long long)frames,
            ex_now() - t0);
    if (dump) {
        dump_features(dump, x, cs, sample, test_lib);
        free_data(wave, x, cs);
        tg_model_free(&m);
        tg_melspec_free(&ms);
        return 0;
    }

    tg_optim *opt = ex_adam("music", m, a.lr, 0, 0);
    tg_tensor *xs[SETS], *ys[SETS];
    for (int k = 0; k < SETS; k++) {
        xs[k] = as_samples(x[k], cs[k].n, sample);
        ys[k] = labels_of(&cs[k]);
    }
    /* "validation" in the progress lines and the log: the same-library held-out notes */
    fe.augment = augment;
    ex_augmenter g = {&fe, wave[SET_TRAIN], ntrain, x[SET_TRAIN], a.threads};
    tg_fit_opts fo = ex_sound_fit_opts(&a, m, opt, ntrain, xs[SET_SAME], ys[SET_SAME],
                                       augment ? &g : NULL);
    tg_epoch_stats last = {0};
    double train_secs = ex_fit("music", m, opt, xs[SET_TRAIN], ys[SET_TRAIN], &fo, &last);
    int epochs_run = last.epoch ? last.epoch - fo.first_epoch + 1 : 0;
    fe.augment = false;
    if (augment)
        ex_all_features(&fe, wave[SET_TRAIN], ntrain, x[SET_TRAIN], 0, a.threads);
    double train_acc = accuracy(m, xs[SET_TRAIN], ys[SET_TRAIN], NULL);
    double same_acc = accuracy(m, xs[SET_SAME], ys[SET_SAME], NULL);
    int64_t conf[CLASSES * CLASSES];
    double test_acc = accuracy(m, xs[SET_TEST], ys[SET_TEST], conf);
    double prec[CLASSES], rec[CLASSES];
    ex_sound_per_class(conf, CLASSES, prec, rec);
    if (confusion)
        write_confusion(confusion, conf);
    double epoch_secs = epochs_run ? train_secs / epochs_run : NAN;
    if (a.json) {
        printf("{\"test_library\":\"%s\",\"test_acc\":%.4f,\"same_library_acc\":", test_name,
               test_acc);
        printf(isnan(same_acc) ? "null" : "%.4f", same_acc);
        printf(",\"train_acc\":%.4f,\"arch\":\"%s\",\"augment\":%d,\"seed\":%llu,\"epochs\":%d,"
               "\"epochs_run\":%d,\"epoch_seconds\":", train_acc, arch, augment,
               (unsigned long long)a.seed, a.epochs, epochs_run);
        printf(isnan(epoch_secs) ? "null" : "%.3f", epoch_secs);
        printf(",\"seconds\":%.2f,\"n_train\":%d,\"n_same\":%d,\"n_test\":%d,\"families\":[",
               ex_now() - t0, cs[SET_TRAIN].n, cs[SET_SAME].n, cs[SET_TEST].n);
        for (int k = 0; k < CLASSES; k++)
            printf("%s\"%s\"", k ? "," : "", music_family_names[k]);
        printf("]");
        ex_sound_json_figures(conf, CLASSES, prec, rec);
        printf("}\n");
    } else {
        printf("music (%s, %s): %d epochs, %.1f s each: test acc %.4f on %d notes of %s (held "
               "out), same-library acc %.4f on %d held-out notes, train acc %.4f\n",
               arch, augment ? "augmented" : "no augmentation", epochs_run, epoch_secs, test_acc,
               cs[SET_TEST].n, test_name, same_acc, cs[SET_SAME].n, train_acc);
        printf("confusion on %s (rows: true family, columns: predicted, in the order of the "
               "rows)\n", test_name);
        for (int k = 0; k < CLASSES; k++) {
            printf("%-21s", music_family_names[k]);
            for (int j = 0; j < CLASSES; j++)
                printf("%4lld", (long long)conf[k * CLASSES + j]);
            printf("   precision %.3f recall %.3f\n", prec[k], rec[k]);
        }
    }
    tg_melspec_free(&ms);
    tg_tensor *views[2 * SETS] = {xs[0], xs[1], xs[2], ys[0], ys[1], ys[2]};
    ex_finish(&a, &opt, &m, views, 2 * SETS);
    free_data(wave, x, cs);
    return 0;
}
