/* Private to libtapegrad's audio module (tg__ names). */
#ifndef TG_AUDIO_INTERNAL_H
#define TG_AUDIO_INTERNAL_H

#include "audio.h"

#define TG__PI 3.14159265358979323846

/* true when x is a contiguous F32 [n] with n >= 1; otherwise false with a message
 * naming fn */
bool tg__audio_check_wave(const char *fn, const tg_tensor *x);

#endif
