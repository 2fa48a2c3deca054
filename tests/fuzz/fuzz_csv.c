/* Fuzz target: tg_csv_load with three option sets (defaults; a header line, labels in
 * column 0 and F64; ';' as the delimiter with labels in column 1). Contract checked on
 * every input:
 *  - success gives x [rows >= 1, cols] of finite values of the asked dtype and, with a
 *    label column, I32 labels [rows]; failure gives NULL outputs,
 *    TG_EFORMAT/TG_EIO/TG_ENOMEM and a message naming the loader;
 *  - nothing allocated stays allocated, and the library's allocations peak at no more
 *    than the text plus its tensors: every cell takes at least two bytes of the file
 *    (value and separator), so at most 8 bytes per input byte plus a small constant. */
#include <math.h>
#include <string.h>

#include "fuzz.h"
#include "tapegrad.h"

static void check_result(const tg_csv_opts *o, const tg_tensor *x, const tg_tensor *y)
{
    if (!x || x->dtype != o->dtype || x->ndim != 2 || x->shape[0] < 1 || x->shape[1] < 0)
        fuzz_fail("features missing or of the wrong type or rank");
    int64_t n = tg_tensor_numel(x);
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(tg_tensor_get_flat(x, i)))
            fuzz_fail("feature %lld is not finite", (long long)i);
    if (o->label_column < 0) {
        if (y)
            fuzz_fail("labels without a label column");
        return;
    }
    if (!y || y->dtype != TG_I32 || y->ndim != 1 || y->shape[0] != x->shape[0])
        fuzz_fail("labels missing or of the wrong type or shape");
}

static void load(const char *path, size_t size, const tg_csv_opts *o)
{
    tg_tensor *x = (tg_tensor *)&x, *y = (tg_tensor *)&y; /* must become NULL on failure */
    fuzz_count_begin();
    tg_status s = tg_csv_load(path, o, &x, &y);
    fuzz_count c = fuzz_count_end();
    if (c.peak > 8 * size + 4096)
        fuzz_fail("%zu bytes allocated at the peak for a %zu-byte file", c.peak, size);
    if (s == TG_OK) {
        check_result(o, x, y);
        fuzz_count_begin(); /* free through the allocator that made them */
        tg_tensor_free(&x);
        tg_tensor_free(&y);
        fuzz_count_end();
        return;
    }
    if (c.blocks != 0)
        fuzz_fail("%ld blocks not freed after %s", c.blocks, tg_status_name(s));
    if (x || y)
        fuzz_fail("%s but an output is not NULL", tg_status_name(s));
    if (s != TG_EFORMAT && s != TG_EIO && s != TG_ENOMEM)
        fuzz_fail("unexpected status %s", tg_status_name(s));
    if (!strstr(tg_last_error(), "tg_csv_load"))
        fuzz_fail("%s without a message naming the loader: '%s'", tg_status_name(s),
                  tg_last_error());
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    tg_csv_opts o = tg_csv_defaults();
    load(path, size, &o);
    o.header = true;
    o.label_column = 0;
    o.dtype = TG_F64;
    load(path, size, &o);
    o.header = false;
    o.label_column = 1;
    o.delimiter = ';';
    o.dtype = TG_F32;
    load(path, size, &o);
    return 0;
}
