/* Generated data sets and the IDX loader. */
#include <math.h>
#include <string.h>

#include <zlib.h>

#include "../tensor/internal.h"
#include "datasets.h"

static bool out_ok(tg_tensor **a, tg_tensor **b, const char *fn)
{
    if (!a || !b) {
        tg__error(TG_EINVAL, "%s: output pointers are NULL", fn);
        return false;
    }
    *a = *b = NULL;
    return true;
}

static tg_status fail_free(tg_tensor **a, tg_tensor **b)
{
    tg_tensor_free(a);
    tg_tensor_free(b);
    return TG_ENOMEM;
}

/* the two-feature, labelled sets: checks arguments and allocates the outputs */
static tg_status labelled(int64_t n, int classes, tg_dtype dt, tg_tensor **x, tg_tensor **labels,
                          const char *fn)
{
    if (!out_ok(x, labels, fn))
        return TG_EINVAL;
    if (n < 1 || classes < 1 || n > (int64_t)1 << 24 || classes > 1 << 16 || !tg__is_float(dt))
        return tg__error_status(TG_EINVAL, "%s: need n >= 1, classes >= 1 and a float dtype", fn);
    int64_t total = n * classes;
    *x = tg_zeros(dt, 2, (int64_t[]){total, 2});
    *labels = tg_zeros(TG_I32, 1, &total);
    if (!*x || !*labels)
        return fail_free(x, labels);
    return TG_OK;
}

tg_status tg_data_spiral(int64_t n, int classes, tg_dtype dt, uint64_t seed, tg_tensor **x,
                         tg_tensor **labels)
{
    tg_status s = labelled(n, classes, dt, x, labels, "tg_data_spiral");
    for (int k = 0; s == TG_OK && k < classes; k++)
        for (int64_t i = 0; i < n; i++) {
            int64_t row = (int64_t)k * n + i;
            double f = n > 1 ? (double)i / (double)(n - 1) : 0.0;
            double r = f, t = 4.0 * k + 4.0 * f + 0.2 * tg_rng_normal(seed, 0, (uint64_t)row);
            tg_tensor_set_flat(*x, 2 * row, r * sin(2.5 * t));
            tg_tensor_set_flat(*x, 2 * row + 1, r * cos(2.5 * t));
            tg_tensor_set_flat(*labels, row, k);
        }
    return s;
}

tg_status tg_data_vertical(int64_t n, int classes, tg_dtype dt, uint64_t seed, tg_tensor **x,
                           tg_tensor **labels)
{
    tg_status s = labelled(n, classes, dt, x, labels, "tg_data_vertical");
    for (int k = 0; s == TG_OK && k < classes; k++)
        for (int64_t i = 0; i < n; i++) {
            int64_t row = (int64_t)k * n + i;
            tg_tensor_set_flat(*x, 2 * row,
                               0.1 * tg_rng_normal(seed, 1, (uint64_t)(2 * row)) + k / 3.0);
            tg_tensor_set_flat(*x, 2 * row + 1,
                               0.1 * tg_rng_normal(seed, 1, (uint64_t)(2 * row + 1)) + 0.5);
            tg_tensor_set_flat(*labels, row, k);
        }
    return s;
}

tg_status tg_data_xor(tg_dtype dt, tg_tensor **x, tg_tensor **y)
{
    if (!out_ok(x, y, "tg_data_xor"))
        return TG_EINVAL;
    if (!tg__is_float(dt))
        return tg__error_status(TG_EINVAL, "tg_data_xor: need a float dtype");
    const double xs[8] = {0, 0, 0, 1, 1, 0, 1, 1}, ys[4] = {0, 1, 1, 0};
    *x = tg_zeros(dt, 2, (int64_t[]){4, 2});
    *y = tg_zeros(dt, 2, (int64_t[]){4, 1});
    if (!*x || !*y)
        return fail_free(x, y);
    for (int i = 0; i < 8; i++)
        tg_tensor_set_flat(*x, i, xs[i]);
    for (int i = 0; i < 4; i++)
        tg_tensor_set_flat(*y, i, ys[i]);
    return TG_OK;
}

tg_status tg_data_sine(int64_t n, tg_dtype dt, double offset, tg_tensor **x, tg_tensor **y)
{
    if (!out_ok(x, y, "tg_data_sine"))
        return TG_EINVAL;
    if (n < 1 || !tg__is_float(dt) || !isfinite(offset))
        return tg__error_status(TG_EINVAL, "tg_data_sine: need n >= 1 and a float dtype");
    *x = tg_zeros(dt, 2, (int64_t[]){n, 1});
    *y = tg_zeros(dt, 2, (int64_t[]){n, 1});
    if (!*x || !*y)
        return fail_free(x, y);
    for (int64_t i = 0; i < n; i++) {
        double v = (double)i / (double)n + offset;
        tg_tensor_set_flat(*x, i, v);
        tg_tensor_set_flat(*y, i, sin(2 * 3.14159265358979323846 * v));
    }
    return TG_OK;
}

/* ------------------------------------------------------------------ IDX */

/* reads exactly n bytes; false at a short read */
static bool read_exact(gzFile f, void *buf, size_t n)
{
    char *p = buf;
    while (n > 0) {
        unsigned chunk = n > (1u << 30) ? 1u << 30 : (unsigned)n;
        int got = gzread(f, p, chunk);
        if (got <= 0)
            return false;
        p += got;
        n -= (size_t)got;
    }
    return true;
}

tg_status tg_idx_load(const char *path, tg_tensor **out)
{
    const char *fn = "tg_idx_load";
    if (!path || !out)
        return tg__error_status(TG_EINVAL, "%s: NULL argument", fn);
    *out = NULL;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return tg__error_status(TG_EIO, "%s: cannot open %s", fn, path);
    unsigned char head[4];
    tg_status st = TG_OK;
    if (!read_exact(f, head, 4)) {
        st = tg__error_status(TG_EFORMAT, "%s: %s: file shorter than the 4-byte magic", fn, path);
        goto done;
    }
    int ndim = head[3];
    if (head[0] || head[1] || head[2] != 0x08 || (ndim != 1 && ndim != 3)) {
        st = tg__error_status(TG_EFORMAT,
                              "%s: %s: bad magic %02x%02x%02x%02x (want 00000801 labels or "
                              "00000803 images of unsigned bytes)",
                              fn, path, head[0], head[1], head[2], head[3]);
        goto done;
    }
    int64_t dims[3], count = 1;
    for (int d = 0; d < ndim; d++) {
        unsigned char b[4];
        if (!read_exact(f, b, 4)) {
            st = tg__error_status(TG_EFORMAT, "%s: %s: truncated header (dimension %d)", fn, path, d);
            goto done;
        }
        dims[d] = (int64_t)b[0] << 24 | (int64_t)b[1] << 16 | (int64_t)b[2] << 8 | b[3];
        if (dims[d] < 1 || dims[d] > (int64_t)1 << 28 || count > ((int64_t)1 << 32) / dims[d]) {
            st = tg__error_status(TG_EFORMAT, "%s: %s: dimension %d of size %lld is invalid", fn,
                                  path, d, (long long)dims[d]);
            goto done;
        }
        count *= dims[d];
    }
    /* read in bounded chunks so a lying header cannot make us allocate before the data
     * proves to be there */
    int64_t shape[2] = {dims[0], ndim == 3 ? dims[1] * dims[2] : 1};
    tg_tensor *t = tg_zeros(ndim == 3 ? TG_F32 : TG_I32, ndim == 3 ? 2 : 1, shape);
    if (!t) {
        st = TG_ENOMEM;
        goto done;
    }
    unsigned char buf[65536];
    for (int64_t done_n = 0; done_n < count;) {
        size_t want = (size_t)(count - done_n < (int64_t)sizeof buf ? count - done_n : (int64_t)sizeof buf);
        if (!read_exact(f, buf, want)) {
            tg_tensor_free(&t);
            st = tg__error_status(TG_EFORMAT, "%s: %s: truncated data: header promises %lld bytes",
                                  fn, path, (long long)count);
            goto done;
        }
        for (size_t i = 0; i < want; i++) {
            if (ndim == 3)
                ((float *)t->data)[done_n + (int64_t)i] = (float)buf[i] / 255.0f;
            else
                ((int32_t *)t->data)[done_n + (int64_t)i] = buf[i];
        }
        done_n += (int64_t)want;
    }
    if (gzread(f, buf, 1) > 0) {
        tg_tensor_free(&t);
        st = tg__error_status(TG_EFORMAT, "%s: %s: trailing bytes after %lld elements", fn, path,
                              (long long)count);
        goto done;
    }
    *out = t;
done:
    gzclose(f);
    return st;
}
