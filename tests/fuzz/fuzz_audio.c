/* Fuzz target: tg_audio_load (libsndfile: WAV, FLAC, AIFF, ...), at the file's own rate.
 * Contract checked on every input:
 *  - success gives F32 [n], n >= 1, every sample finite, and a rate in 1..768000;
 *  - failure gives *out NULL, TG_EFORMAT/TG_EIO/TG_ENOMEM and a message naming the
 *    loader and the file;
 *  - nothing tapegrad allocated stays allocated, and its allocations peak at no more
 *    than the read buffer (1024 frames of up to 1024 channels) plus 12 bytes per sample
 *    returned (the growing mono buffer, doubled, and the tensor) plus 64 KiB, whatever
 *    the header claims. libsndfile's own allocations are not counted (ASan and
 *    LeakSanitizer watch them). */
#include <math.h>
#include <string.h>

#include "fuzz.h"
#include "tapegrad.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    tg_tensor *t = (tg_tensor *)&t; /* must become NULL on failure */
    int rate = -1;
    fuzz_count_begin();
    tg_status s = tg_audio_load(path, 0, &t, &rate);
    fuzz_count c = fuzz_count_end();
    if (s == TG_OK) {
        if (!t)
            fuzz_fail("TG_OK without a tensor");
        if (t->dtype != TG_F32 || t->ndim != 1 || t->shape[0] < 1)
            fuzz_fail("result %s of rank %d", tg_dtype_name(t->dtype), t->ndim);
        if (rate < 1 || rate > 768000)
            fuzz_fail("rate %d", rate);
        const float *v = t->data;
        for (int64_t i = 0; i < t->shape[0]; i++)
            if (!isfinite(v[i]))
                fuzz_fail("sample %lld is %g", (long long)i, (double)v[i]);
        size_t bound = 1024u * 1024u * sizeof(float) + 12u * (size_t)t->shape[0] + 65536u;
        if (c.peak > bound)
            fuzz_fail("%zu bytes allocated at the peak for %lld samples", c.peak,
                      (long long)t->shape[0]);
        fuzz_count_begin();
        tg_tensor_free(&t);
        fuzz_count_end();
        return 0;
    }
    if (c.blocks != 0)
        fuzz_fail("%ld blocks not freed after %s", c.blocks, tg_status_name(s));
    if (t)
        fuzz_fail("%s but the output is not NULL", tg_status_name(s));
    if (s != TG_EFORMAT && s != TG_EIO && s != TG_ENOMEM)
        fuzz_fail("unexpected status %s", tg_status_name(s));
    if (!strstr(tg_last_error(), "tg_audio_load") || !strstr(tg_last_error(), path))
        fuzz_fail("%s without a message naming the loader and the file: '%s'",
                  tg_status_name(s), tg_last_error());
    return 0;
}
