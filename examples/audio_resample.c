/* Converts sound files to mono 16-bit WAV at a given rate with tapegrad's audio loader
 * (libsndfile in, libsamplerate's windowed-sinc resampler, 16-bit PCM out):
 *     audio_resample RATE IN OUT [IN OUT ...]
 * scripts/make_digits.py uses it to bring espeak-ng's 22050 Hz output to 16 kHz. Exits
 * 1 with the error on the first file that fails, 2 on bad usage. */
#include <stdio.h>
#include <stdlib.h>

#include "tapegrad.h"

int main(int argc, char **argv)
{
    if (argc < 4 || argc % 2) {
        fprintf(stderr, "usage: %s RATE IN OUT [IN OUT ...]\n", argv[0]);
        return 2;
    }
    int rate = atoi(argv[1]);
    if (rate < 1) {
        fprintf(stderr, "%s: bad rate %s\n", argv[0], argv[1]);
        return 2;
    }
    for (int i = 2; i + 1 < argc; i += 2) {
        tg_tensor *x = NULL;
        if (tg_audio_load(argv[i], rate, &x, NULL) != TG_OK ||
            tg_audio_save_wav(argv[i + 1], x, rate) != TG_OK) {
            fprintf(stderr, "%s: %s\n", argv[0], tg_last_error());
            tg_tensor_free(&x);
            return 1;
        }
        tg_tensor_free(&x);
    }
    return 0;
}
