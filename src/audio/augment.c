/* Waveform and spectrogram augmentation, deterministic from (seed, sample index): every
 * draw is tg_rng_*(seed, stream = index, counter), with each augmentation's counters in
 * its own range (the top bits name the augmentation), so they never share a draw. */
#include <math.h>
#include <string.h>

#include "../util.h"
#include "audio.h"
#include "internal.h"

#define CTR_SHIFT (1ull << 56)
#define CTR_NOISE (2ull << 56)
#define CTR_SPEED (3ull << 56)
#define CTR_SPEC (4ull << 56)

bool tg__audio_check_wave(const char *fn, const tg_tensor *x)
{
    if (!x) {
        tg__error(TG_EINVAL, "%s: waveform is NULL", fn);
        return false;
    }
    if (x->dtype != TG_F32 || x->ndim != 1 || !tg_tensor_is_contiguous(x) || x->shape[0] < 1) {
        tg__error(TG_EINVAL, "%s: waveform must be a contiguous F32 [n] with n >= 1, got %s %s",
                  fn, tg_dtype_name(x->dtype), tg__shape_str(x).s);
        return false;
    }
    return true;
}

/* uniform integer in [lo, hi] */
static int64_t uniform_int(uint64_t seed, uint64_t index, uint64_t ctr, int64_t lo, int64_t hi)
{
    uint64_t span = (uint64_t)(hi - lo) + 1;
    return lo + (int64_t)(tg_rng_u64(seed, index, ctr) % span);
}

tg_tensor *tg_audio_fit(const tg_tensor *x, int64_t length)
{
    if (!tg__audio_check_wave("tg_audio_fit", x))
        return NULL;
    if (length < 1)
        return tg__error(TG_EINVAL, "tg_audio_fit: length %lld < 1", (long long)length);
    tg_tensor *y = tg_zeros(TG_F32, 1, &length);
    if (!y)
        return tg__error(tg_last_status(), "tg_audio_fit: %s", tg_last_error());
    int64_t n = x->shape[0];
    const float *xd = x->data;
    float *yd = y->data;
    if (n >= length)
        memcpy(yd, xd + (n - length) / 2, sizeof(float) * (size_t)length);
    else
        memcpy(yd + (length - n) / 2, xd, sizeof(float) * (size_t)n);
    return y;
}

tg_status tg_audio_shift(tg_tensor *x, int64_t max_shift, uint64_t seed, uint64_t index)
{
    if (!tg__audio_check_wave("tg_audio_shift", x))
        return TG_EINVAL;
    if (max_shift < 0 || max_shift > INT64_MAX / 4)
        return tg__error_status(TG_EINVAL, "tg_audio_shift: max_shift %lld is negative or too "
                                "large", (long long)max_shift);
    int64_t n = x->shape[0], s = uniform_int(seed, index, CTR_SHIFT, -max_shift, max_shift);
    float *d = x->data;
    if (s >= n || s <= -n) {
        memset(d, 0, sizeof(float) * (size_t)n);
    } else if (s > 0) {
        memmove(d + s, d, sizeof(float) * (size_t)(n - s));
        memset(d, 0, sizeof(float) * (size_t)s);
    } else if (s < 0) {
        memmove(d, d - s, sizeof(float) * (size_t)(n + s));
        memset(d + n + s, 0, sizeof(float) * (size_t)(-s));
    }
    return TG_OK;
}

tg_status tg_audio_add_noise(tg_tensor *x, double snr_min_db, double snr_max_db, uint64_t seed,
                             uint64_t index)
{
    if (!tg__audio_check_wave("tg_audio_add_noise", x))
        return TG_EINVAL;
    if (!(isfinite(snr_min_db) && isfinite(snr_max_db) && snr_min_db <= snr_max_db))
        return tg__error_status(TG_EINVAL, "tg_audio_add_noise: SNR range [%g, %g] dB is not "
                                "finite and ordered", snr_min_db, snr_max_db);
    int64_t n = x->shape[0];
    float *d = x->data;
    double power = 0;
    for (int64_t i = 0; i < n; i++)
        power += (double)d[i] * d[i];
    power /= (double)n;
    if (power == 0)
        return TG_OK;
    double snr = snr_min_db + (snr_max_db - snr_min_db) * tg_rng_uniform01(seed, index, CTR_NOISE);
    double sd = sqrt(power / pow(10.0, snr / 10.0));
    for (int64_t i = 0; i < n; i++)
        d[i] += (float)(sd * tg_rng_normal(seed, index, CTR_NOISE + 1 + (uint64_t)i));
    return TG_OK;
}

tg_tensor *tg_audio_speed(const tg_tensor *x, double min_factor, double max_factor,
                          uint64_t seed, uint64_t index)
{
    if (!(min_factor >= 0.25 && min_factor <= max_factor && max_factor <= 4))
        return tg__error(TG_EINVAL, "tg_audio_speed: want 0.25 <= min <= max <= 4, got [%g, %g]",
                         min_factor, max_factor);
    double f = min_factor + (max_factor - min_factor) * tg_rng_uniform01(seed, index, CTR_SPEED);
    tg_tensor *y = tg__audio_resample(x, 1.0 / f, true);
    if (!y) /* the resampler's message names tg_audio_resample */
        tg__error(tg_last_status(), "tg_audio_speed: %s", tg_last_error());
    return y;
}

tg_status tg_spec_augment(tg_tensor *spec, int freq_masks, int max_freq, int time_masks,
                          int max_time, uint64_t seed, uint64_t index)
{
    if (!spec)
        return tg__error_status(TG_EINVAL, "tg_spec_augment: spec is NULL");
    if (spec->dtype != TG_F32 || spec->ndim != 2 || !tg_tensor_is_contiguous(spec) ||
        spec->shape[0] < 1 || spec->shape[1] < 1)
        return tg__error_status(TG_EINVAL, "tg_spec_augment: want a contiguous F32 [n_mels, "
                                "frames], got %s %s", tg_dtype_name(spec->dtype),
                                tg__shape_str(spec).s);
    if (freq_masks < 0 || max_freq < 0 || time_masks < 0 || max_time < 0)
        return tg__error_status(TG_EINVAL, "tg_spec_augment: negative count or width (%d, %d, "
                                "%d, %d)", freq_masks, max_freq, time_masks, max_time);
    int64_t nm = spec->shape[0], frames = spec->shape[1];
    float *d = spec->data;
    double mean = 0;
    for (int64_t i = 0; i < nm * frames; i++)
        mean += d[i];
    float fill = (float)(mean / (double)(nm * frames));
    uint64_t ctr = CTR_SPEC;
    for (int k = 0; k < freq_masks; k++) {
        int64_t w = uniform_int(seed, index, ctr++, 0, max_freq < nm ? max_freq : nm);
        int64_t at = uniform_int(seed, index, ctr++, 0, nm - w);
        for (int64_t m = at; m < at + w; m++)
            for (int64_t t = 0; t < frames; t++)
                d[m * frames + t] = fill;
    }
    for (int k = 0; k < time_masks; k++) {
        int64_t w = uniform_int(seed, index, ctr++, 0, max_time < frames ? max_time : frames);
        int64_t at = uniform_int(seed, index, ctr++, 0, frames - w);
        for (int64_t m = 0; m < nm; m++)
            for (int64_t t = at; t < at + w; t++)
                d[m * frames + t] = fill;
    }
    return TG_OK;
}
