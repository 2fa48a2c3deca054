/* Short-time Fourier transform through FFTW (single precision, real-to-complex). */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include <fftw3.h>

#include "../util.h"
#include "audio.h"
#include "internal.h"

struct tg_stft {
    int n_fft, hop;
    float *window;     /* [n_fft], periodic Hann */
    fftwf_plan plan;   /* made for fftwf_malloc'd arrays: any such pair can be used with
                          fftwf_execute_dft_r2c (FFTW's new-array execute) */
};

/* FFTW's planner (plan creation and destruction) is not thread-safe; execution is */
static pthread_mutex_t planner_lock = PTHREAD_MUTEX_INITIALIZER;

tg_stft *tg_stft_new(int n_fft, int hop)
{
    if (n_fft < 16 || n_fft > 65536 || n_fft % 2)
        return tg__error(TG_EINVAL, "tg_stft_new: n_fft %d is not an even number in 16..65536",
                         n_fft);
    if (hop < 1 || hop > n_fft)
        return tg__error(TG_EINVAL, "tg_stft_new: hop %d outside 1..n_fft (%d)", hop, n_fft);
    tg_stft *s = tg__calloc(sizeof *s);
    if (!s)
        return tg__error(TG_ENOMEM, "tg_stft_new: out of memory");
    s->n_fft = n_fft;
    s->hop = hop;
    s->window = tg__malloc(sizeof(float) * (size_t)n_fft);
    float *in = fftwf_malloc(sizeof(float) * (size_t)n_fft);
    fftwf_complex *out = fftwf_malloc(sizeof(fftwf_complex) * (size_t)(n_fft / 2 + 1));
    if (s->window && in && out) {
        pthread_mutex_lock(&planner_lock);
        /* FFTW_ESTIMATE: no timing measurements, so the algorithm (and the rounding of
         * every result) is the same on every run */
        s->plan = fftwf_plan_dft_r2c_1d(n_fft, in, out, FFTW_ESTIMATE);
        pthread_mutex_unlock(&planner_lock);
    }
    fftwf_free(in);
    fftwf_free(out);
    if (!s->plan) {
        tg__mfree(s->window);
        tg__mfree(s);
        return tg__error(TG_ENOMEM, "tg_stft_new: out of memory making the n_fft %d plan", n_fft);
    }
    for (int i = 0; i < n_fft; i++)
        s->window[i] = (float)(0.5 - 0.5 * cos(2.0 * TG__PI * i / n_fft));
    return s;
}

void tg_stft_free(tg_stft **ps)
{
    if (!ps || !*ps)
        return;
    tg_stft *s = *ps;
    pthread_mutex_lock(&planner_lock);
    fftwf_destroy_plan(s->plan);
    pthread_mutex_unlock(&planner_lock);
    tg__mfree(s->window);
    tg__mfree(s);
    *ps = NULL;
}

int64_t tg_stft_frames(const tg_stft *s, int64_t n)
{
    if (!s || n < 1)
        return 0;
    if (n <= s->n_fft)
        return 1;
    return 1 + (n - s->n_fft + s->hop - 1) / s->hop;
}

tg_tensor *tg_stft_power(const tg_stft *s, const tg_tensor *x)
{
    if (!s)
        return tg__error(TG_EINVAL, "tg_stft_power: stft is NULL");
    if (!tg__audio_check_wave("tg_stft_power", x))
        return NULL;
    int64_t n = x->shape[0], frames = tg_stft_frames(s, n);
    int nb = s->n_fft / 2 + 1;
    tg_tensor *p = tg_zeros(TG_F32, 2, (int64_t[]){frames, nb});
    if (!p)
        return NULL;
    /* per-call buffers, so one plan serves several threads */
    float *in = fftwf_malloc(sizeof(float) * (size_t)s->n_fft);
    fftwf_complex *out = fftwf_malloc(sizeof(fftwf_complex) * (size_t)nb);
    if (!in || !out) {
        fftwf_free(in);
        fftwf_free(out);
        tg_tensor_free(&p);
        return tg__error(TG_ENOMEM, "tg_stft_power: out of memory");
    }
    const float *xd = x->data;
    float *pd = p->data;
    for (int64_t t = 0; t < frames; t++) {
        int64_t at = t * s->hop;
        for (int i = 0; i < s->n_fft; i++)
            in[i] = at + i < n ? xd[at + i] * s->window[i] : 0.0f;
        fftwf_execute_dft_r2c(s->plan, in, out);
        for (int k = 0; k < nb; k++)
            pd[t * nb + k] = out[k][0] * out[k][0] + out[k][1] * out[k][1];
    }
    fftwf_free(in);
    fftwf_free(out);
    return p;
}
