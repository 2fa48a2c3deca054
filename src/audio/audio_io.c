/* Sound files through libsndfile and resampling through libsamplerate. */
#include <math.h>
#include <string.h>

#include <samplerate.h>
#include <sndfile.h>

#include "../util.h"
#include "audio.h"
#include "internal.h"

#define MAX_RATE 768000
#define CHUNK_FRAMES 1024

bool tg_audio_available(void)
{
    return true;
}

tg_status tg_audio_load(const char *path, int target_rate, tg_tensor **out, int *rate)
{
    if (out)
        *out = NULL;
    if (!path || !out)
        return tg__error_status(TG_EINVAL, "tg_audio_load: %s is NULL", path ? "out" : "path");
    if (target_rate < 0 || target_rate > MAX_RATE)
        return tg__error_status(TG_EINVAL, "tg_audio_load: target rate %d outside 0..%d",
                                target_rate, MAX_RATE);
    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *f = sf_open(path, SFM_READ, &info);
    if (!f) {
        /* sf_open tells a missing file from an unknown format only through its text */
        const char *why = sf_strerror(NULL);
        tg_status s = strstr(why, "No such file") || strstr(why, "ermission") ? TG_EIO
                                                                            : TG_EFORMAT;
        return tg__error_status(s, "tg_audio_load: %s: %s", path, why);
    }
    tg_status st = TG_OK;
    float *buf = NULL, *mono = NULL;
    int64_t n = 0, cap = 0;
    if (info.channels < 1 || info.samplerate < 1 || info.samplerate > MAX_RATE) {
        st = tg__error_status(TG_EFORMAT, "tg_audio_load: %s: %d channels at %d Hz", path,
                              info.channels, info.samplerate);
        goto done;
    }
    /* the header's frame count is not trusted: read in chunks until the data ends */
    buf = tg__malloc(sizeof(float) * CHUNK_FRAMES * (size_t)info.channels);
    if (!buf) {
        st = tg__error_status(TG_ENOMEM, "tg_audio_load: %s: out of memory", path);
        goto done;
    }
    for (;;) {
        sf_count_t got = sf_readf_float(f, buf, CHUNK_FRAMES);
        if (got <= 0)
            break;
        if (n + got > cap) {
            int64_t ncap = cap ? cap * 2 : 16384;
            while (ncap < n + got)
                ncap *= 2;
            float *p = tg__malloc(sizeof(float) * (size_t)ncap);
            if (!p) {
                st = tg__error_status(TG_ENOMEM, "tg_audio_load: %s: out of memory after %lld "
                                      "samples", path, (long long)n);
                goto done;
            }
            if (n)
                memcpy(p, mono, sizeof(float) * (size_t)n);
            tg__mfree(mono);
            mono = p;
            cap = ncap;
        }
        for (sf_count_t i = 0; i < got; i++) {
            double s = 0;
            for (int c = 0; c < info.channels; c++)
                s += buf[i * info.channels + c];
            s /= info.channels;
            if (!isfinite(s)) {
                st = tg__error_status(TG_EFORMAT, "tg_audio_load: %s: sample %lld is not finite",
                                      path, (long long)(n + i));
                goto done;
            }
            mono[n + i] = (float)s;
        }
        n += got;
    }
    if (sf_error(f) != SF_ERR_NO_ERROR) {
        st = tg__error_status(TG_EFORMAT, "tg_audio_load: %s: read error after %lld frames: %s",
                              path, (long long)n, sf_strerror(f));
        goto done;
    }
    if (n == 0) {
        st = tg__error_status(TG_EFORMAT, "tg_audio_load: %s: no samples", path);
        goto done;
    }
    tg_tensor *w = tg_tensor_from(TG_F32, 1, &n, mono);
    if (!w) {
        st = TG_ENOMEM;
        goto done;
    }
    int r = info.samplerate;
    if (target_rate > 0 && target_rate != r) {
        tg_tensor *rs = tg_audio_resample(w, (double)target_rate / r);
        tg_tensor_free(&w);
        if (!rs) {
            /* the resampler's status: TG_EINVAL for a ratio beyond 64 */
            st = tg__error_status(tg_last_status(), "tg_audio_load: %s: resampling %d -> %d Hz: %s",
                                  path, r, target_rate, tg_last_error());
            goto done;
        }
        w = rs;
        r = target_rate;
    }
    *out = w;
    if (rate)
        *rate = r;
done:
    tg__mfree(buf);
    tg__mfree(mono);
    sf_close(f);
    return st;
}

tg_status tg_audio_save_wav(const char *path, const tg_tensor *x, int rate)
{
    if (!path || !x)
        return tg__error_status(TG_EINVAL, "tg_audio_save_wav: %s is NULL", path ? "x" : "path");
    if ((x->dtype != TG_F32 && x->dtype != TG_F64) || x->ndim != 1 || x->shape[0] < 1)
        return tg__error_status(TG_EINVAL, "tg_audio_save_wav: want F32/F64 [n], n >= 1, got %s %s",
                                tg_dtype_name(x->dtype), tg__shape_str(x).s);
    if (rate < 1 || rate > MAX_RATE)
        return tg__error_status(TG_EINVAL, "tg_audio_save_wav: rate %d outside 1..%d", rate,
                                MAX_RATE);
    int64_t n = x->shape[0];
    short *pcm = tg__malloc(sizeof(short) * (size_t)n);
    if (!pcm)
        return tg__error_status(TG_ENOMEM, "tg_audio_save_wav: out of memory for %lld samples",
                                (long long)n);
    for (int64_t i = 0; i < n; i++) {
        double v = tg_tensor_get_flat(x, i);
        /* libsndfile reads 16-bit PCM as k / 32768, so k = round(32768 v), clipped */
        double k = v == v ? nearbyint(v * 32768.0) : 0;
        pcm[i] = (short)(k > 32767 ? 32767 : k < -32768 ? -32768 : k);
    }
    SF_INFO info = {.samplerate = rate, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *f = sf_open(path, SFM_WRITE, &info);
    if (!f) {
        tg__mfree(pcm);
        return tg__error_status(TG_EIO, "tg_audio_save_wav: %s: %s", path, sf_strerror(NULL));
    }
    sf_count_t wrote = sf_write_short(f, pcm, n);
    tg__mfree(pcm);
    tg_status st = TG_OK;
    if (wrote != n)
        st = tg__error_status(TG_EIO, "tg_audio_save_wav: %s: wrote %lld of %lld samples: %s",
                              path, (long long)wrote, (long long)n, sf_strerror(f));
    if (sf_close(f) != 0 && st == TG_OK)
        st = tg__error_status(TG_EIO, "tg_audio_save_wav: %s: close failed", path);
    return st;
}

tg_tensor *tg_audio_resample(const tg_tensor *x, double ratio)
{
    return tg__audio_resample(x, ratio, false);
}

tg_tensor *tg__audio_resample(const tg_tensor *x, double ratio, bool fast)
{
    if (!tg__audio_check_wave("tg_audio_resample", x))
        return NULL;
    if (!(ratio >= 1.0 / 64 && ratio <= 64))
        return tg__error(TG_EINVAL, "tg_audio_resample: ratio %g outside [1/64, 64]", ratio);
    int64_t n = x->shape[0];
    int64_t want = (int64_t)llround((double)n * ratio);
    if (want < 1)
        want = 1;
    if (want > INT32_MAX / 2 || n > INT32_MAX / 2)
        return tg__error(TG_EINVAL, "tg_audio_resample: %lld samples at ratio %g is too long",
                         (long long)n, ratio);
    tg_tensor *y = tg_zeros(TG_F32, 1, &want);
    if (!y)
        return NULL;
    if (ratio == 1.0) {
        memcpy(y->data, x->data, sizeof(float) * (size_t)n);
        return y;
    }
    /* libsamplerate may produce a few samples fewer or more than n * ratio (its filter
     * delay); the output is cut or zero-padded at the end to exactly `want` */
    SRC_DATA d;
    memset(&d, 0, sizeof d);
    d.data_in = x->data;
    d.input_frames = (long)n;
    d.data_out = y->data;
    d.output_frames = (long)want;
    d.src_ratio = ratio;
    d.end_of_input = 1;
    int err = src_simple(&d, fast ? SRC_SINC_FASTEST : SRC_SINC_MEDIUM_QUALITY, 1);
    if (err) {
        tg_tensor_free(&y);
        return tg__error(TG_EINVAL, "tg_audio_resample: libsamplerate: %s", src_strerror(err));
    }
    return y;
}
