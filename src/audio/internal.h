/* Private to libtapegrad's audio module (tg__ names). */
#ifndef TG_AUDIO_INTERNAL_H
#define TG_AUDIO_INTERNAL_H

#include "audio.h"

#define TG__PI 3.14159265358979323846

/* true when x is a contiguous F32 [n] with n >= 1; otherwise false with a message
 * naming fn */
bool tg__audio_check_wave(const char *fn, const tg_tensor *x);

/* tg_audio_resample with libsamplerate's fastest windowed-sinc converter when fast
 * (SRC_SINC_FASTEST: 80% of the band kept, about 97 dB SNR; a shorter filter than
 * SRC_SINC_MEDIUM_QUALITY), for augmentation, where it runs on every clip every epoch */
tg_tensor *tg__audio_resample(const tg_tensor *x, double ratio, bool fast);

#endif
