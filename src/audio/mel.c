/* Mel filterbank (HTK formula), log-mel spectrogram and MFCC (DCT-II). */
#include <math.h>
#include <string.h>

#include "../util.h"
#include "audio.h"
#include "internal.h"

double tg_hz_to_mel(double hz)
{
    if (!(hz > -700.0)) { /* the logarithm of 1 + hz/700 <= 0, or NaN */
        tg__error(TG_EINVAL, "tg_hz_to_mel: %g Hz is not above -700", hz);
        return NAN;
    }
    return 2595.0 * log10(1.0 + hz / 700.0);
}

double tg_mel_to_hz(double mel)
{
    if (isnan(mel)) {
        tg__error(TG_EINVAL, "tg_mel_to_hz: mel is NaN");
        return NAN;
    }
    return 700.0 * (pow(10.0, mel / 2595.0) - 1.0);
}

tg_tensor *tg_mel_filterbank(int n_mels, int n_fft, int rate, double fmin, double fmax)
{
    if (n_mels < 1 || n_mels > 4096 || n_fft < 2 || n_fft > 65536 || n_fft % 2 || rate < 1)
        return tg__error(TG_EINVAL, "tg_mel_filterbank: n_mels %d (1..4096), n_fft %d (even, "
                         "2..65536), rate %d (>= 1)", n_mels, n_fft, rate);
    if (!(fmin >= 0 && fmin < fmax && fmax <= rate / 2.0))
        return tg__error(TG_EINVAL, "tg_mel_filterbank: want 0 <= fmin < fmax <= rate/2, got "
                         "fmin %g, fmax %g, rate %d", fmin, fmax, rate);
    int nb = n_fft / 2 + 1;
    tg_tensor *fb = tg_zeros(TG_F32, 2, (int64_t[]){n_mels, nb});
    double *c = tg__malloc(sizeof(double) * (size_t)(n_mels + 2));
    if (!fb || !c) {
        tg_tensor_free(&fb);
        tg__mfree(c);
        return tg__error(TG_ENOMEM, "tg_mel_filterbank: out of memory");
    }
    double m0 = tg_hz_to_mel(fmin), m1 = tg_hz_to_mel(fmax);
    for (int i = 0; i < n_mels + 2; i++)
        c[i] = tg_mel_to_hz(m0 + (m1 - m0) * i / (n_mels + 1));
    float *d = fb->data;
    for (int m = 1; m <= n_mels; m++)
        for (int k = 0; k < nb; k++) {
            double f = (double)k * rate / n_fft;
            double up = (f - c[m - 1]) / (c[m] - c[m - 1]);
            double down = (c[m + 1] - f) / (c[m + 1] - c[m]);
            double w = up < down ? up : down;
            d[(int64_t)(m - 1) * nb + k] = w > 0 ? (float)w : 0.0f;
        }
    tg__mfree(c);
    return fb;
}

tg_melspec_opts tg_melspec_defaults(void)
{
    tg_melspec_opts o = {.rate = 16000, .n_fft = 512, .hop = 160, .n_mels = 40, .fmin = 20,
                         .fmax = 0, .floor = 1e-6};
    return o;
}

struct tg_melspec {
    tg_melspec_opts o;
    tg_stft *stft;
    tg_tensor *fb; /* [n_mels, n_fft/2 + 1] */
};

tg_melspec *tg_melspec_new(const tg_melspec_opts *opts)
{
    tg_melspec_opts o = opts ? *opts : tg_melspec_defaults();
    if (o.fmax == 0)
        o.fmax = o.rate / 2.0;
    if (!(o.floor > 0) || !isfinite(o.floor))
        return tg__error(TG_EINVAL, "tg_melspec_new: floor %g is not > 0", o.floor);
    /* the options are checked by the filterbank and the STFT: their messages are given
     * this function's name */
    tg_tensor *fb = tg_mel_filterbank(o.n_mels, o.n_fft, o.rate, o.fmin, o.fmax);
    if (!fb)
        return tg__error(tg_last_status(), "tg_melspec_new: %s", tg_last_error());
    tg_stft *s = tg_stft_new(o.n_fft, o.hop);
    tg_melspec *m = s ? tg__calloc(sizeof *m) : NULL;
    if (!m) {
        if (s)
            tg__error(TG_ENOMEM, "tg_melspec_new: out of memory");
        else
            tg__error(tg_last_status(), "tg_melspec_new: %s", tg_last_error());
        tg_stft_free(&s);
        tg_tensor_free(&fb);
        return NULL;
    }
    m->o = o;
    m->stft = s;
    m->fb = fb;
    return m;
}

void tg_melspec_free(tg_melspec **pm)
{
    if (!pm || !*pm)
        return;
    tg_stft_free(&(*pm)->stft);
    tg_tensor_free(&(*pm)->fb);
    tg__mfree(*pm);
    *pm = NULL;
}

tg_tensor *tg_melspec_log(const tg_melspec *m, const tg_tensor *x)
{
    if (!m)
        return tg__error(TG_EINVAL, "tg_melspec_log: melspec is NULL");
    tg_tensor *p = tg_stft_power(m->stft, x);
    if (!p) /* its message names tg_stft_power */
        return tg__error(tg_last_status(), "tg_melspec_log: %s", tg_last_error());
    int64_t frames = p->shape[0], nb = p->shape[1], nm = m->o.n_mels;
    tg_tensor *out = tg_zeros(TG_F32, 2, (int64_t[]){nm, frames});
    if (!out) {
        tg_tensor_free(&p);
        return NULL;
    }
    const float *pd = p->data, *fb = m->fb->data;
    float *od = out->data;
    for (int64_t b = 0; b < nm; b++) {
        /* the filter's nonzero range, so each row costs its width, not n_fft/2 */
        int64_t lo = 0, hi = nb;
        while (lo < nb && fb[b * nb + lo] == 0)
            lo++;
        while (hi > lo && fb[b * nb + hi - 1] == 0)
            hi--;
        for (int64_t t = 0; t < frames; t++) {
            double s = 0;
            for (int64_t k = lo; k < hi; k++)
                s += (double)fb[b * nb + k] * pd[t * nb + k];
            od[b * frames + t] = (float)log(s > m->o.floor ? s : m->o.floor);
        }
    }
    tg_tensor_free(&p);
    return out;
}

tg_tensor *tg_mfcc(const tg_tensor *logmel, int n_mfcc)
{
    if (!logmel)
        return tg__error(TG_EINVAL, "tg_mfcc: logmel is NULL");
    if (logmel->dtype != TG_F32 || logmel->ndim != 2 || !tg_tensor_is_contiguous(logmel) ||
        logmel->shape[0] < 1 || logmel->shape[1] < 1)
        return tg__error(TG_EINVAL, "tg_mfcc: want a contiguous F32 [n_mels, frames], got %s %s",
                         tg_dtype_name(logmel->dtype), tg__shape_str(logmel).s);
    int64_t nm = logmel->shape[0], frames = logmel->shape[1];
    if (n_mfcc < 1 || n_mfcc > nm)
        return tg__error(TG_EINVAL, "tg_mfcc: n_mfcc %d outside 1..n_mels (%lld)", n_mfcc,
                         (long long)nm);
    tg_tensor *c = tg_zeros(TG_F32, 2, (int64_t[]){n_mfcc, frames});
    if (!c)
        return NULL;
    const float *ld = logmel->data;
    float *cd = c->data;
    for (int q = 0; q < n_mfcc; q++) {
        double scale = sqrt((q == 0 ? 1.0 : 2.0) / (double)nm);
        for (int64_t t = 0; t < frames; t++) {
            double s = 0;
            for (int64_t m = 0; m < nm; m++)
                s += ld[m * frames + t] * cos(TG__PI * q * ((double)m + 0.5) / (double)nm);
            cd[q * frames + t] = (float)(scale * s);
        }
    }
    return c;
}
