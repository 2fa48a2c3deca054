/* tapegrad — audio front end: sound files in, log-mel spectrograms out, and the
 * augmentations used to train on them.
 *
 * Waveforms are persistent F32 tensors [n] (mono, samples in [-1, 1] for PCM files);
 * spectrograms are F32 [n_mels, frames] (frequency first, so [1, mels, frames] is an
 * image for a 2-D convolution). Every function returning a tensor returns a new one
 * owned by the caller (tg_tensor_free), or NULL with tg_last_error() set; functions
 * returning tg_status leave the message there too. Nothing here prints.
 *
 * Reading files, resampling and the STFT use libsndfile, libsamplerate and FFTW
 * (single precision). tapegrad can be built without them (Meson -Daudio=disabled, or
 * auto when one is missing): tg_audio_available() is then false and those functions,
 * and everything built on them (tg_melspec_*, tg_audio_speed), fail with TG_ESTATE.
 * The mel filterbank, MFCC and the other augmentations are always built.
 *
 * Augmentations are deterministic: the draws of sample `index` under `seed` come from
 * the counter-based RNG (tg_rng_*) with stream = index, so an epoch's augmented data
 * can be regenerated exactly, in any order, on any thread. */
#ifndef TG_AUDIO_H
#define TG_AUDIO_H

#include "../tensor/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* true when tapegrad was built with libsndfile, libsamplerate and FFTW */
TG_API bool tg_audio_available(void);

/* ---- files and sample rates ---- */

/* Reads a sound file in any format libsndfile reads (WAV, FLAC, AIFF, Ogg, ...), mixes
 * its channels down to mono (mean of the channels) and, when target_rate > 0 and
 * differs from the file's rate, resamples to target_rate (tg_audio_resample). *out:
 * F32 [n], n >= 1; *rate (if not NULL): the rate of *out. On failure *out is NULL and
 * the status is TG_EIO (cannot open), TG_EFORMAT (not a sound file, no samples, a rate
 * outside 1..768000 Hz, a non-finite sample, a read error), TG_EINVAL (bad argument)
 * or TG_ENOMEM; the message names the file. */
TG_API tg_status tg_audio_load(const char *path, int target_rate, tg_tensor **out, int *rate);
/* Writes x (F32 or F64 [n], n >= 1) as a mono 16-bit PCM WAV at `rate` Hz: sample v
 * becomes round(32768 v) clipped to -32768..32767 (so tg_audio_load returns v within
 * 1/65536 for v in [-1, 1)); NaN becomes 0. TG_EIO with the path when the file cannot
 * be written. */
TG_API tg_status tg_audio_save_wav(const char *path, const tg_tensor *x, int rate);
/* Band-limited resampling by `ratio` = output rate / input rate, in [1/64, 64], with
 * libsamplerate's medium-quality windowed-sinc converter (SRC_SINC_MEDIUM_QUALITY).
 * x: F32 [n]; returns F32 [round(n * ratio)] (at least 1). */
TG_API tg_tensor *tg_audio_resample(const tg_tensor *x, double ratio);
/* x (F32 [n]) cut or zero-padded to exactly `length` samples, centred: a longer clip
 * loses (n - length) / 2 samples at the start, a shorter one gets (length - n) / 2
 * zeros before it (integer division), the rest after. */
TG_API tg_tensor *tg_audio_fit(const tg_tensor *x, int64_t length);

/* ---- short-time Fourier transform ---- */

/* A reusable STFT of frame length n_fft (even, 16..65536) and hop (1..n_fft), with a
 * periodic Hann window w[i] = 0.5 - 0.5 cos(2 pi i / n_fft). The FFTW plan is made once
 * here (FFTW_ESTIMATE, so results do not depend on timing; planning is serialised by a
 * lock because FFTW's planner is not thread-safe); tg_stft_power may then be called
 * from several threads at once on the same object. Free with tg_stft_free. */
typedef struct tg_stft tg_stft;
TG_API tg_stft *tg_stft_new(int n_fft, int hop);
TG_API void tg_stft_free(tg_stft **s);
/* frames for n samples: 1 + ceil((n - n_fft) / hop) when n > n_fft, else 1 (the end is
 * zero-padded to a whole frame; no centring) */
TG_API int64_t tg_stft_frames(const tg_stft *s, int64_t n);
/* Power spectrum |X_t[k]|^2 of each frame t of x (F32 [n], n >= 1), with
 * X_t[k] = sum_i w[i] x[t hop + i] e^(-2 pi i k j / n_fft): F32 [frames, n_fft/2 + 1].
 * A sine of amplitude A at bin k (0 < k < n_fft/2) gives |X_t[k]| = A n_fft / 4. */
TG_API tg_tensor *tg_stft_power(const tg_stft *s, const tg_tensor *x);

/* ---- mel scale, log-mel spectrogram, MFCC ---- */

/* The HTK mel scale: mel = 2595 log10(1 + hz / 700), and its inverse. NaN with
 * tg_last_error() for hz <= -700 (no logarithm) or NaN, and for a NaN mel. */
TG_API double tg_hz_to_mel(double hz);
TG_API double tg_mel_to_hz(double mel);
/* HTK-style triangular filters (librosa's mel(htk=True, norm=None)): n_mels + 2 points
 * equally spaced on the mel scale from fmin to fmax give centres c_1..c_n_mels with
 * neighbours c_0 and c_{n+1} (in Hz); filter m at FFT bin k (frequency f = k rate /
 * n_fft) is max(0, min((f - c_{m-1}) / (c_m - c_{m-1}), (c_{m+1} - f) / (c_{m+1} - c_m))),
 * peak 1, no area normalisation. Requires n_mels >= 1, n_fft even >= 2, rate >= 1,
 * 0 <= fmin < fmax <= rate / 2. Returns F32 [n_mels, n_fft/2 + 1]. */
TG_API tg_tensor *tg_mel_filterbank(int n_mels, int n_fft, int rate, double fmin, double fmax);

typedef struct tg_melspec_opts {
    int rate;        /* sample rate of the waveforms, Hz; default 16000 */
    int n_fft;       /* frame length; default 512 (32 ms) */
    int hop;         /* default 160 (10 ms) */
    int n_mels;      /* default 40 */
    double fmin;     /* default 20 Hz */
    double fmax;     /* default 0: rate / 2 */
    double floor;    /* power floor before the log, > 0; default 1e-6 */
} tg_melspec_opts;
TG_API tg_melspec_opts tg_melspec_defaults(void);
/* An STFT plus a mel filterbank, made once; free with tg_melspec_free. Thread-safe to
 * use from several threads at once. NULL with tg_last_error() on bad options. */
typedef struct tg_melspec tg_melspec;
TG_API tg_melspec *tg_melspec_new(const tg_melspec_opts *o);
TG_API void tg_melspec_free(tg_melspec **m);
/* log-mel spectrogram of x (F32 [n] at the options' rate): F32 [n_mels, frames] with
 * value ln(max(sum_k fb[m][k] |X_t[k]|^2, floor)). */
TG_API tg_tensor *tg_melspec_log(const tg_melspec *m, const tg_tensor *x);
/* MFCCs: the orthonormal DCT-II over the mel axis of a log-mel spectrogram (F32
 * [n_mels, frames]), c[q][t] = s_q sum_m logmel[m][t] cos(pi q (m + 1/2) / n_mels),
 * s_0 = sqrt(1/n_mels), s_q = sqrt(2/n_mels); the first n_mfcc (1..n_mels)
 * coefficients: F32 [n_mfcc, frames]. */
TG_API tg_tensor *tg_mfcc(const tg_tensor *logmel, int n_mfcc);

/* ---- augmentation (training only; deterministic from seed and sample index) ---- */

/* Shifts x (F32 [n], in place) by s samples, s uniform in [-max_shift, max_shift]:
 * x'[i] = x[i - s], zeros where i - s falls outside. max_shift >= 0. */
TG_API tg_status tg_audio_shift(tg_tensor *x, int64_t max_shift, uint64_t seed, uint64_t index);
/* Adds white Gaussian noise to x (F32 [n], in place) at an SNR drawn uniformly in
 * [snr_min_db, snr_max_db] (dB; min <= max): noise power = mean(x^2) / 10^(snr/10).
 * A silent x is left unchanged. */
TG_API tg_status tg_audio_add_noise(tg_tensor *x, double snr_min_db, double snr_max_db,
                                    uint64_t seed, uint64_t index);
/* Speed change by resampling (tempo and pitch together, like a tape played faster): a
 * factor f uniform in [min_factor, max_factor] (0.25 <= min <= max <= 4), and x resampled
 * by 1 / f (as tg_audio_resample, but with libsamplerate's fastest windowed-sinc
 * converter, SRC_SINC_FASTEST), length round(n / f). New tensor. */
TG_API tg_tensor *tg_audio_speed(const tg_tensor *x, double min_factor, double max_factor,
                                 uint64_t seed, uint64_t index);
/* SpecAugment's masks on spec (F32 [n_mels, frames], in place): freq_masks bands of
 * f rows and time_masks bands of t columns, f uniform in [0, max_freq], t in
 * [0, max_time], each at a uniform start, set to the spectrogram's mean (taken before
 * masking). All counts and widths >= 0. */
TG_API tg_status tg_spec_augment(tg_tensor *spec, int freq_masks, int max_freq, int time_masks,
                                 int max_time, uint64_t seed, uint64_t index);

#ifdef __cplusplus
}
#endif
#endif
