/* Built instead of audio_io.c and stft.c when tapegrad is configured without libsndfile,
 * libsamplerate or FFTW (-Daudio=disabled, or auto with one missing): the same
 * functions, failing with TG_ESTATE and a message saying why. */
#include "../util.h"
#include "audio.h"
#include "internal.h"

#define WHY "tapegrad was built without audio support (libsndfile, libsamplerate, fftw3f)"

bool tg_audio_available(void)
{
    return false;
}

tg_status tg_audio_load(const char *path, int target_rate, tg_tensor **out, int *rate)
{
    (void)path, (void)target_rate, (void)rate;
    if (out)
        *out = NULL;
    return tg__error_status(TG_ESTATE, "tg_audio_load: " WHY);
}

tg_status tg_audio_save_wav(const char *path, const tg_tensor *x, int rate)
{
    (void)path, (void)x, (void)rate;
    return tg__error_status(TG_ESTATE, "tg_audio_save_wav: " WHY);
}

tg_tensor *tg_audio_resample(const tg_tensor *x, double ratio)
{
    return tg__audio_resample(x, ratio, false);
}

tg_tensor *tg__audio_resample(const tg_tensor *x, double ratio, bool fast)
{
    (void)x, (void)ratio, (void)fast;
    return tg__error(TG_ESTATE, "tg_audio_resample: " WHY);
}

tg_stft *tg_stft_new(int n_fft, int hop)
{
    (void)n_fft, (void)hop;
    return tg__error(TG_ESTATE, "tg_stft_new: " WHY);
}

void tg_stft_free(tg_stft **s)
{
    if (s)
        *s = NULL;
}

int64_t tg_stft_frames(const tg_stft *s, int64_t n)
{
    (void)s, (void)n;
    return 0;
}

tg_tensor *tg_stft_power(const tg_stft *s, const tg_tensor *x)
{
    (void)s, (void)x;
    return tg__error(TG_ESTATE, "tg_stft_power: " WHY);
}
