/* The audio functions built on libsndfile, libsamplerate and FFTW: the STFT of a pure
 * sine (peak bin and magnitude) and of noise against a direct DFT, log-mel of a sine,
 * WAV round trips (mono, stereo mixed down, resampled on load), resampling and speed
 * change, and bad files rejected with messages. Skipped (77) when tapegrad was built
 * without audio support, after checking that the functions then say so. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "tapegrad.h"

#ifdef TG_TEST_SNDFILE
#include <sndfile.h> /* to write a FLAC file for the loader */
#endif

#define PI 3.14159265358979323846

static char dir[] = "/tmp/tg-audio-XXXXXX";

static const char *path_of(const char *name)
{
    static char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

static const char *put(const char *name, const void *data, size_t n)
{
    const char *p = path_of(name);
    FILE *f = fopen(p, "wb");
    if (n)
        fwrite(data, 1, n, f);
    fclose(f);
    return p;
}

static void le16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void le32(unsigned char *p, uint32_t v)
{
    le16(p, v & 0xffff);
    le16(p + 2, v >> 16);
}

/* a canonical 44-byte-header WAV written by hand: format 1 (PCM) or 3 (float), data
 * bytes as given; returns the total size in buf */
static size_t wav_bytes(unsigned char *buf, int format, int channels, uint32_t rate, int bits,
                        const void *data, uint32_t nbytes)
{
    memcpy(buf, "RIFF", 4);
    le32(buf + 4, 36 + nbytes);
    memcpy(buf + 8, "WAVEfmt ", 8);
    le32(buf + 16, 16);
    le16(buf + 20, (unsigned)format);
    le16(buf + 22, (unsigned)channels);
    le32(buf + 24, rate);
    le32(buf + 28, rate * (uint32_t)channels * (uint32_t)bits / 8);
    le16(buf + 32, (unsigned)(channels * bits / 8));
    le16(buf + 34, (unsigned)bits);
    memcpy(buf + 36, "data", 4);
    le32(buf + 40, nbytes);
    if (nbytes)
        memcpy(buf + 44, data, nbytes);
    return 44 + nbytes;
}

static tg_tensor *sine(int64_t n, double freq, int rate, double amp)
{
    tg_tensor *x = tg_zeros(TG_F32, 1, &n);
    for (int64_t i = 0; i < n; i++)
        ((float *)x->data)[i] = (float)(amp * sin(2 * PI * freq * (double)i / rate));
    return x;
}

/* index of the largest value of row t of a [frames, bins] tensor */
static int argmax_row(const tg_tensor *p, int64_t t)
{
    int64_t nb = p->shape[1];
    const float *d = (const float *)p->data + t * nb;
    int best = 0;
    for (int k = 1; k < nb; k++)
        if (d[k] > d[best])
            best = k;
    return best;
}

static void test_stft_sine(void)
{
    /* 1000 Hz at 16 kHz with n_fft 512 is bin 32 exactly; with a periodic Hann window a
     * sine of amplitude A gives |X[32]| = A N / 4 and |X[31]| = |X[33]| = A N / 8 */
    tg_stft *s = tg_stft_new(512, 160);
    CHECK(s != NULL, "stft_new: %s", tg_last_error());
    tg_tensor *x = sine(4000, 1000, 16000, 0.5);
    CHECK(tg_stft_frames(s, 4000) == 23, "frames(4000) = %lld", (long long)tg_stft_frames(s, 4000));
    CHECK(tg_stft_frames(s, 100) == 1 && tg_stft_frames(s, 512) == 1 &&
              tg_stft_frames(s, 513) == 2, "frame counts at the edges");
    tg_tensor *p = tg_stft_power(s, x);
    CHECK(p && p->shape[0] == 23 && p->shape[1] == 257, "power shape");
    if (p) {
        const float *d = p->data;
        for (int64_t t = 0; t * 160 + 512 <= 4000; t++) { /* whole frames */
            const float *r = d + t * 257;
            CHECK(argmax_row(p, t) == 32, "frame %lld peak at bin %d", (long long)t,
                  argmax_row(p, t));
            CHECK(fabs(sqrt(r[32]) - 64) < 0.01, "frame %lld |X[32]| = %g, want 64",
                  (long long)t, sqrt(r[32]));
            CHECK(fabs(sqrt(r[31]) - 32) < 0.01 && fabs(sqrt(r[33]) - 32) < 0.01,
                  "side bins %g %g, want 32", sqrt(r[31]), sqrt(r[33]));
            CHECK(sqrt(r[40]) < 1e-2 && sqrt(r[0]) < 1e-2, "far bins %g %g", sqrt(r[40]),
                  sqrt(r[0]));
        }
    }
    tg_tensor_free(&p);
    tg_tensor_free(&x);

    /* noise against a direct DFT in double (hop, offset and window all matter) */
    x = tg_rand_uniform(TG_F32, 1, (int64_t[]){1000}, -1, 1, 5, 0);
    tg_stft *s2 = tg_stft_new(64, 48);
    p = tg_stft_power(s2, x);
    CHECK(p && p->shape[0] == 1 + (1000 - 64 + 47) / 48 && p->shape[1] == 33, "noise shape");
    double worst = 0;
    const float *xd = x->data;
    for (int64_t t = 0; p && t < p->shape[0]; t++)
        for (int k = 0; k < 33; k++) {
            double re = 0, im = 0;
            for (int i = 0; i < 64; i++) {
                int64_t at = t * 48 + i;
                double v = at < 1000 ? xd[at] * (0.5 - 0.5 * cos(2 * PI * i / 64)) : 0;
                re += v * cos(2 * PI * k * i / 64);
                im -= v * sin(2 * PI * k * i / 64);
            }
            double want = re * re + im * im, got = ((float *)p->data)[t * 33 + k];
            worst = fmax(worst, fabs(got - want) / (1 + want));
        }
    CHECK(worst < 1e-4, "STFT vs direct DFT: worst relative difference %g", worst);
    tg_tensor_free(&p);
    tg_tensor_free(&x);
    tg_stft_free(&s2);
    tg_stft_free(&s);
    CHECK(s == NULL, "free sets NULL");
    CHECK(!tg_stft_new(511, 160) && strstr(tg_last_error(), "tg_stft_new"), "odd n_fft");
    CHECK(!tg_stft_new(512, 0), "hop 0");
}

static void test_melspec(void)
{
    tg_melspec_opts o = tg_melspec_defaults();
    tg_melspec *m = tg_melspec_new(&o);
    CHECK(m != NULL, "melspec_new: %s", tg_last_error());
    tg_tensor *x = sine(16000, 1000, 16000, 0.5);
    tg_tensor *lm = tg_melspec_log(m, x);
    CHECK(lm && lm->shape[0] == 40 && lm->shape[1] == 1 + (16000 - 512 + 159) / 160,
          "log-mel shape");
    /* the loudest band is the one whose filter weighs bin 32 (1000 Hz) most */
    tg_tensor *fb = tg_mel_filterbank(40, 512, 16000, 20, 8000);
    int want = 0;
    for (int b = 1; b < 40; b++)
        if (((float *)fb->data)[b * 257 + 32] > ((float *)fb->data)[want * 257 + 32])
            want = b;
    if (lm) {
        int64_t fr = lm->shape[1];
        int best = 0;
        for (int b = 1; b < 40; b++)
            if (((float *)lm->data)[b * fr + 10] > ((float *)lm->data)[best * fr + 10])
                best = b;
        CHECK(best == want, "loudest band %d, filter peak at band %d", best, want);
        /* value: ln(sum_k fb[want][k] |X[k]|^2) with |X| = 64, 32, 32 at bins 32, 31, 33 */
        const float *f = (const float *)fb->data + want * 257;
        double e = log((double)f[32] * 4096 + (double)f[31] * 1024 + (double)f[33] * 1024);
        CHECK(fabs(((float *)lm->data)[want * fr + 10] - e) < 1e-3, "band value %g, want %g",
              (double)((float *)lm->data)[want * fr + 10], e);
        /* a band far from 1000 Hz sits at the floor: ln(1e-6) */
        CHECK(fabs(((float *)lm->data)[39 * fr + 10] - log(1e-6)) < 0.5, "top band %g",
              (double)((float *)lm->data)[39 * fr + 10]);
    }
    tg_tensor_free(&fb);
    tg_tensor_free(&lm);
    tg_tensor_free(&x);
    tg_melspec_free(&m);
    o.floor = 0;
    CHECK(!tg_melspec_new(&o) && strstr(tg_last_error(), "floor"), "floor 0 refused");
}

static void test_files(void)
{
    /* mono round trip: 16-bit PCM, so within half a step of 1/32768 */
    tg_tensor *x = sine(8000, 440, 16000, 0.8);
    const char *p = path_of("sine.wav");
    CHECK(tg_audio_save_wav(p, x, 16000) == TG_OK, "save: %s", tg_last_error());
    tg_tensor *y = NULL;
    int rate = 0;
    CHECK(tg_audio_load(p, 0, &y, &rate) == TG_OK, "load: %s", tg_last_error());
    CHECK(y && rate == 16000 && y->shape[0] == 8000, "loaded %lld samples at %d Hz",
          y ? (long long)y->shape[0] : -1LL, rate);
    double worst = 0;
    for (int64_t i = 0; y && i < 8000; i++)
        worst = fmax(worst, fabs(((float *)y->data)[i] - ((float *)x->data)[i]));
    CHECK(worst <= 0.5 / 32768, "round trip differs by %g", worst);
    tg_tensor_free(&y);

    /* resampled on load to 8 kHz: half the samples, still 440 Hz (bin 440*512/8000 =
     * 28.16 -> the peak in bin 28) */
    CHECK(tg_audio_load(p, 8000, &y, &rate) == TG_OK && rate == 8000, "load at 8 kHz");
    CHECK(y && y->shape[0] == 4000, "4000 samples, got %lld", y ? (long long)y->shape[0] : -1LL);
    tg_stft *s = tg_stft_new(512, 256);
    tg_tensor *pw = y ? tg_stft_power(s, y) : NULL;
    CHECK(pw && argmax_row(pw, 3) == 28, "resampled peak bin %d", pw ? argmax_row(pw, 3) : -1);
    tg_tensor_free(&pw);
    tg_tensor_free(&y);

    /* stereo 16-bit written by hand: L = 16384 (0.5), R = -8192 (-0.25) -> mono 0.125 */
    unsigned char buf[44 + 4 * 100];
    short frames[200];
    for (int i = 0; i < 100; i++) {
        frames[2 * i] = 16384;
        frames[2 * i + 1] = -8192;
    }
    size_t n = wav_bytes(buf, 1, 2, 22050, 16, frames, sizeof frames);
    p = put("stereo.wav", buf, n);
    CHECK(tg_audio_load(p, 0, &y, &rate) == TG_OK && rate == 22050, "stereo: %s", tg_last_error());
    CHECK(y && y->shape[0] == 100 && fabs(((float *)y->data)[50] - 0.125) < 1e-6,
          "stereo mixed down to %g", y ? (double)((float *)y->data)[50] : -1.0);
    tg_tensor_free(&y);
    tg_stft_free(&s);
    tg_tensor_free(&x);
}

#ifdef TG_TEST_SNDFILE
/* FLAC, stereo, 44.1 kHz, written with libsndfile: loaded, mixed down and resampled to
 * 16 kHz, a 1000 Hz tone stays at bin 32 of a 512-point STFT */
static void test_flac(void)
{
    const char *p = path_of("tone.flac");
    SF_INFO info = {.samplerate = 44100, .channels = 2,
                    .format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16};
    SNDFILE *f = sf_open(p, SFM_WRITE, &info);
    CHECK(f != NULL, "writing FLAC: %s", sf_strerror(NULL));
    if (!f)
        return;
    static float fr[44100 * 2];
    for (int i = 0; i < 44100; i++) /* left 0.6 sine, right 0.2 sine: mono 0.4 */
        fr[2 * i] = 3 * (fr[2 * i + 1] = (float)(0.2 * sin(2 * PI * 1000 * i / 44100.0)));
    sf_writef_float(f, fr, 44100);
    sf_close(f);
    tg_tensor *y = NULL;
    int rate = 0;
    CHECK(tg_audio_load(p, 16000, &y, &rate) == TG_OK && rate == 16000, "FLAC: %s",
          tg_last_error());
    CHECK(y && y->shape[0] == 16000, "FLAC resampled to %lld samples",
          y ? (long long)y->shape[0] : -1LL);
    tg_stft *s = tg_stft_new(512, 160);
    tg_tensor *pw = y ? tg_stft_power(s, y) : NULL;
    CHECK(pw && argmax_row(pw, 20) == 32 &&
              fabs(sqrt(((float *)pw->data)[20 * 257 + 32]) - 0.4 * 128) < 0.5,
          "FLAC tone: bin %d, |X| %g (want 32, 51.2)", pw ? argmax_row(pw, 20) : -1,
          pw ? sqrt(((float *)pw->data)[20 * 257 + 32]) : -1.0);
    tg_tensor_free(&pw);
    tg_stft_free(&s);
    tg_tensor_free(&y);
    unlink(p);
}
#endif

/* every rejection: status, NULL output, a message naming the loader, the file and why */
static void bad(const char *name, const void *data, size_t n, tg_status want, const char *why)
{
    const char *p = put(name, data, n);
    tg_tensor *y = (tg_tensor *)&y;
    tg_status st = tg_audio_load(p, 16000, &y, NULL);
    CHECK(st == want, "%s: status %s, want %s (%s)", name, tg_status_name(st),
          tg_status_name(want), tg_last_error());
    CHECK(y == NULL, "%s: output not NULL", name);
    CHECK(strstr(tg_last_error(), "tg_audio_load") && strstr(tg_last_error(), name) &&
              (!why || strstr(tg_last_error(), why)),
          "%s: message \"%s\" (want \"%s\")", name, tg_last_error(), why ? why : "");
}

static void test_bad_files(void)
{
    unsigned char buf[44 + 64];
    short pcm[16] = {0};
    size_t n = wav_bytes(buf, 1, 1, 16000, 16, pcm, sizeof pcm);
    bad("empty.wav", "", 0, TG_EFORMAT, NULL);
    bad("truncated-header.wav", buf, 20, TG_EFORMAT, NULL);
    bad("text.wav", "hello, this is not a sound file\n", 32, TG_EFORMAT, NULL);
    unsigned char zero[44];
    wav_bytes(zero, 1, 1, 16000, 16, NULL, 0);
    bad("no-samples.wav", zero, 44, TG_EFORMAT, "no samples");
    float nanv[4] = {0.1f, NAN, 0.2f, 0.3f};
    unsigned char fbuf[44 + sizeof nanv];
    wav_bytes(fbuf, 3, 1, 16000, 32, nanv, sizeof nanv);
    bad("nan.wav", fbuf, sizeof fbuf, TG_EFORMAT, "not finite");
    /* a header that claims far more data than the file holds reads what is there */
    le32(buf + 40, 0x7ffffff0u);
    const char *p = put("long-claim.wav", buf, n);
    tg_tensor *y = NULL;
    CHECK(tg_audio_load(p, 0, &y, NULL) == TG_OK && y && y->shape[0] == 16,
          "over-long data chunk: %s", tg_last_error());
    tg_tensor_free(&y);
    /* a missing file is an I/O error */
    y = (tg_tensor *)&y;
    CHECK(tg_audio_load(path_of("missing.wav"), 0, &y, NULL) == TG_EIO && y == NULL &&
              strstr(tg_last_error(), "missing.wav"), "missing: %s", tg_last_error());
    CHECK(tg_audio_load(NULL, 0, &y, NULL) == TG_EINVAL, "NULL path");
    CHECK(tg_audio_load(p, -5, &y, NULL) == TG_EINVAL, "negative rate");
    tg_tensor *x = sine(10, 1, 10, 0.1);
    CHECK(tg_audio_save_wav(path_of("no/such/dir.wav"), x, 16000) == TG_EIO &&
              strstr(tg_last_error(), "no/such/dir.wav"), "unwritable: %s", tg_last_error());
    tg_tensor_free(&x);
}

static void test_resample(void)
{
    tg_tensor *x = sine(16000, 1000, 16000, 0.5);
    tg_tensor *y = tg_audio_resample(x, 22050.0 / 16000);
    CHECK(y && y->shape[0] == 22050, "resampled length %lld", y ? (long long)y->shape[0] : -1LL);
    /* 1000 Hz at 22050 Hz with n_fft 1024: bin 46.44 -> peak 46; amplitude kept */
    tg_stft *s = tg_stft_new(1024, 512);
    tg_tensor *p = y ? tg_stft_power(s, y) : NULL;
    CHECK(p && argmax_row(p, 10) == 46, "peak bin %d", p ? argmax_row(p, 10) : -1);
    double peak = 0;
    for (int64_t i = 5000; y && i < 15000; i++)
        peak = fmax(peak, fabs(((float *)y->data)[i]));
    CHECK(fabs(peak - 0.5) < 0.01, "amplitude %g after resampling", peak);
    tg_tensor_free(&p);
    tg_tensor_free(&y);
    CHECK(!tg_audio_resample(x, 100) && strstr(tg_last_error(), "ratio"), "ratio 100 refused");

    /* speed: deterministic from (seed, index), length n / f with f in the range */
    tg_tensor *a = tg_audio_speed(x, 0.8, 1.25, 3, 9), *b = tg_audio_speed(x, 0.8, 1.25, 3, 9);
    CHECK(a && b && tg_tensor_hash(a) == tg_tensor_hash(b), "speed deterministic");
    CHECK(a && a->shape[0] >= 12800 && a->shape[0] <= 20000, "speed length %lld",
          a ? (long long)a->shape[0] : -1LL);
    int differ = 0;
    for (uint64_t idx = 0; idx < 5; idx++) {
        tg_tensor *c = tg_audio_speed(x, 0.8, 1.25, 3, idx);
        differ += c && c->shape[0] != a->shape[0];
        tg_tensor_free(&c);
    }
    CHECK(differ >= 3, "speed factors vary with the index (%d of 5 differ)", differ);
    /* speed 2 exactly: half as long, an octave up (bin 32 -> 64) */
    tg_tensor *d = tg_audio_speed(x, 2, 2, 1, 1);
    tg_stft *s512 = tg_stft_new(512, 160);
    p = d ? tg_stft_power(s512, d) : NULL;
    CHECK(d && d->shape[0] == 8000 && p && argmax_row(p, 10) == 64, "speed 2: %lld samples, "
          "peak %d", d ? (long long)d->shape[0] : -1LL, p ? argmax_row(p, 10) : -1);
    tg_tensor_free(&p);
    tg_stft_free(&s512);
    tg_tensor_free(&d);
    tg_tensor_free(&a);
    tg_tensor_free(&b);
    tg_stft_free(&s);
    tg_tensor_free(&x);
}

int main(void)
{
    if (!tg_audio_available()) {
        tg_tensor *y = NULL;
        int ok = tg_audio_load("x.wav", 0, &y, NULL) == TG_ESTATE && !y &&
                 strstr(tg_last_error(), "without audio support") && !tg_stft_new(512, 160);
        printf("audio support not built: %s\n", ok ? "functions say so (skip)" : "WRONG ERRORS");
        return ok ? 77 : 1;
    }
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_stft_sine();
    test_melspec();
    test_files();
#ifdef TG_TEST_SNDFILE
    test_flac();
#endif
    test_bad_files();
    test_resample();
    /* clean up the temporary directory */
    const char *names[] = {"sine.wav", "stereo.wav", "empty.wav", "truncated-header.wav",
                           "text.wav", "no-samples.wav", "nan.wav", "long-claim.wav"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unlink(path_of(names[i]));
    rmdir(dir);
    return check_summary();
}
