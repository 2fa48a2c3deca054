/* Fuzz target: tg_csv_load with five option sets (defaults; a header line, labels in
 * column 0 and F64; ';' as the delimiter with labels in column 1; a skipped line, then a
 * header whose "y" column is an F64 target and whose "b" and "a" columns are the
 * features; two skipped lines, no header, an F32 target in column 0). Inputs may be
 * gzip data (the loader recognises it by content). Contract checked on every input:
 *  - success gives x [rows >= 1, cols] of finite values of the asked dtype and, with a
 *    label column, I32 labels [rows] or float targets [rows, 1] of the asked dtype, all
 *    finite; failure gives NULL outputs, TG_EFORMAT/TG_EIO/TG_ENOMEM and a message
 *    naming the loader;
 *  - nothing allocated stays allocated, and the library's allocations peak at no more
 *    than the text plus its tensors: every cell takes at least two bytes of the text
 *    (value and separator), so at most 8 bytes per byte of the input or of its
 *    decompressed text, whichever is larger, plus a small constant. */
#include <math.h>
#include <string.h>

#include <zlib.h>

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
    if (o->label_column < 0 && !o->label_name) {
        if (y)
            fuzz_fail("labels without a label column");
        return;
    }
    bool classes = o->label_dtype == TG_I32;
    if (!y || y->dtype != o->label_dtype || y->ndim != (classes ? 1 : 2) ||
        y->shape[0] != x->shape[0] || (!classes && y->shape[1] != 1))
        fuzz_fail("labels missing or of the wrong type or shape");
    for (int64_t i = 0; i < y->shape[0]; i++)
        if (!isfinite(tg_tensor_get_flat(y, i)))
            fuzz_fail("label %lld is not finite", (long long)i);
}

/* the bytes zlib decompresses from the file (its size when it is not gzip data), read in
 * the loader's 4 KiB pieces so a corrupt stream stops at the same point */
static size_t text_size(const char *path, size_t size)
{
    gzFile f = gzopen(path, "rb");
    if (!f)
        fuzz_fail("zlib cannot open %s", path);
    static char buf[4096];
    size_t total = 0;
    int got;
    while ((got = gzread(f, buf, sizeof buf)) > 0)
        total += (size_t)got;
    gzclose(f);
    return total > size ? total : size;
}

static void load(const char *path, size_t size, const tg_csv_opts *o)
{
    size = text_size(path, size);
    tg_tensor *x = (tg_tensor *)&x, *y = (tg_tensor *)&y; /* must become NULL on failure */
    fuzz_count_begin();
    tg_status s = tg_csv_load(path, o, &x, &y);
    fuzz_count c = fuzz_count_end();
    if (c.peak > 8 * size + 8192)
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
    static const char *const names[] = {"b", "a"};
    o = tg_csv_defaults();
    o.skip_lines = 1;
    o.header = true;
    o.label_name = "y";
    o.feature_names = names;
    o.feature_count = 2;
    o.label_dtype = TG_F64;
    load(path, size, &o);
    o = tg_csv_defaults();
    o.skip_lines = 2;
    o.label_column = 0;
    o.label_dtype = TG_F32;
    load(path, size, &o);
    return 0;
}
