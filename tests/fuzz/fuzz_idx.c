/* Fuzz target: tg_idx_load (raw or gzip IDX). Contract checked on every input:
 *  - success gives F32 [N, rows*cols] images with values k/255 or I32 [N] labels in
 *    0..255; failure gives *out NULL, TG_EFORMAT/TG_EIO/TG_ENOMEM and a message naming
 *    the loader;
 *  - nothing allocated stays allocated, and for a raw (not gzip) file the library's
 *    allocations peak at the tensor the file can fill: 4 bytes per input byte plus a
 *    small constant, whatever the header claims. */
#include <math.h>
#include <string.h>

#include "fuzz.h"
#include "tapegrad.h"

static void check_result(const tg_tensor *t)
{
    int64_t n = tg_tensor_numel(t);
    if (t->dtype == TG_F32) {
        if (t->ndim != 2 || t->shape[0] < 1 || t->shape[1] < 1)
            fuzz_fail("images of rank %d", t->ndim);
        const float *v = t->data;
        for (int64_t i = 0; i < n; i++) {
            float k = v[i] * 255.0f;
            if (!(v[i] >= 0 && v[i] <= 1) || fabsf(k - roundf(k)) > 1e-3f)
                fuzz_fail("pixel %lld is %g, not k/255", (long long)i, (double)v[i]);
        }
    } else if (t->dtype == TG_I32) {
        if (t->ndim != 1 || t->shape[0] < 1)
            fuzz_fail("labels of rank %d", t->ndim);
        const int32_t *v = t->data;
        for (int64_t i = 0; i < n; i++)
            if (v[i] < 0 || v[i] > 255)
                fuzz_fail("label %lld is %d", (long long)i, (int)v[i]);
    } else {
        fuzz_fail("dtype %s", tg_dtype_name(t->dtype));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    tg_tensor *t = (tg_tensor *)&t; /* must become NULL on failure */
    fuzz_count_begin();
    tg_status s = tg_idx_load(path, &t);
    fuzz_count c = fuzz_count_end();
    bool gz = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
    if (!gz && c.peak > 4 * size + 4096)
        fuzz_fail("%zu bytes allocated at the peak for a %zu-byte raw file", c.peak, size);
    if (s == TG_OK) {
        if (!t)
            fuzz_fail("TG_OK without a tensor");
        check_result(t);
        /* the tensor was allocated through the counting allocator: free it there */
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
    if (!strstr(tg_last_error(), "tg_idx_load"))
        fuzz_fail("%s without a message naming the loader: '%s'", tg_status_name(s),
                  tg_last_error());
    return 0;
}
