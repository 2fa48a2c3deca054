/* Generated data sets and the IDX loader. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "../util.h"
#include "datasets.h"
#include "internal.h"

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
static tg_status alloc_labelled(int64_t n, int classes, tg_dtype dt, tg_tensor **x,
                                tg_tensor **labels, const char *fn)
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

/* the 2-D point of row `row` (class k, i-th of n in its class) */
typedef void (*point_fn)(int64_t n, int k, int64_t i, int64_t row, uint64_t seed, double p[2]);

/* n points of each class, class by class: x [n * classes, 2], labels the class */
static tg_status labelled(int64_t n, int classes, tg_dtype dt, uint64_t seed, point_fn point,
                          tg_tensor **x, tg_tensor **labels, const char *fn)
{
    tg_status s = alloc_labelled(n, classes, dt, x, labels, fn);
    for (int k = 0; s == TG_OK && k < classes; k++)
        for (int64_t i = 0; i < n; i++) {
            int64_t row = (int64_t)k * n + i;
            double p[2];
            point(n, k, i, row, seed, p);
            tg_tensor_set_flat(*x, 2 * row, p[0]);
            tg_tensor_set_flat(*x, 2 * row + 1, p[1]);
            tg_tensor_set_flat(*labels, row, k);
        }
    return s;
}

/* arms of a spiral: radius along the arm, angle by class, noisy */
static void spiral_point(int64_t n, int k, int64_t i, int64_t row, uint64_t seed, double p[2])
{
    double f = n > 1 ? (double)i / (double)(n - 1) : 0.0;
    double r = f, t = 4.0 * k + 4.0 * f + 0.2 * tg_rng_normal(seed, 0, (uint64_t)row);
    p[0] = r * sin(2.5 * t);
    p[1] = r * cos(2.5 * t);
}

tg_status tg_data_spiral(int64_t n, int classes, tg_dtype dt, uint64_t seed, tg_tensor **x,
                         tg_tensor **labels)
{
    return labelled(n, classes, dt, seed, spiral_point, x, labels, "tg_data_spiral");
}

/* vertical bands: x by class, y around 0.5 */
static void vertical_point(int64_t n, int k, int64_t i, int64_t row, uint64_t seed, double p[2])
{
    (void)n;
    (void)i;
    p[0] = 0.1 * tg_rng_normal(seed, 1, (uint64_t)(2 * row)) + k / 3.0;
    p[1] = 0.1 * tg_rng_normal(seed, 1, (uint64_t)(2 * row + 1)) + 0.5;
}

tg_status tg_data_vertical(int64_t n, int classes, tg_dtype dt, uint64_t seed, tg_tensor **x,
                           tg_tensor **labels)
{
    return labelled(n, classes, dt, seed, vertical_point, x, labels, "tg_data_vertical");
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

/* The decompressed data of a .gz file is read in chunks of this size, each allocated
 * only once the previous one is full, so a header's count is never trusted before the
 * data proves to be there. */
#define IDX_CHUNK ((size_t)1 << 20)
/* Largest accepted element count (4 GiB of data; 16 GiB as F32). */
#define IDX_MAX_COUNT ((int64_t)1 << 32)

size_t tg__gz_read(gzFile f, void *buf, size_t n)
{
    char *p = buf;
    size_t total = 0;
    while (total < n) {
        size_t left = n - total;
        unsigned chunk = left > (1u << 30) ? 1u << 30 : (unsigned)left;
        int got = gzread(f, p + total, chunk);
        if (got <= 0)
            break;
        total += (size_t)got;
    }
    return total;
}

tg_status tg__gz_failure(gzFile f, const char **msg)
{
    int err = Z_OK;
    *msg = gzerror(f, &err);
    if (err == Z_OK || err == Z_STREAM_END)
        return TG_OK;
    /* zlib prefixes the stream's name, "<fd:N>: " for gzdopen; we name the file */
    const char *sep = strncmp(*msg, "<fd:", 4) == 0 ? strstr(*msg, ": ") : NULL;
    if (sep)
        *msg = sep + 2;
    return err == Z_MEM_ERROR ? TG_ENOMEM : err == Z_ERRNO ? TG_EIO : TG_EFORMAT;
}

/* stores the bytes src[0..n) as elements pos.. of t (F32 scaled to [0, 1], or I32) */
static void idx_store(tg_tensor *t, int64_t pos, const unsigned char *src, size_t n)
{
    if (t->dtype == TG_F32) {
        float *d = (float *)t->data + pos;
        for (size_t i = 0; i < n; i++)
            d[i] = (float)src[i] / 255.0f;
    } else {
        int32_t *d = (int32_t *)t->data + pos;
        for (size_t i = 0; i < n; i++)
            d[i] = src[i];
    }
}

typedef struct idx_file {
    const char *path;
    gzFile f;
    int ndim;
    int64_t dims[3], count, header; /* count: data bytes; header: bytes before them */
} idx_file;

static tg_status idx_short(const idx_file *x, int64_t got)
{
    const char *zmsg;
    tg_status s = tg__gz_failure(x->f, &zmsg);
    if (s != TG_OK)
        return tg__error_status(s, "tg_idx_load: %s: corrupt gzip data near uncompressed "
                                   "offset %lld: %s",
                                x->path, (long long)(x->header + got), zmsg);
    return tg__error_status(TG_EFORMAT,
                            "tg_idx_load: %s: truncated data: the header promises %lld data "
                            "bytes from offset %lld, the file holds %lld",
                            x->path, (long long)x->count, (long long)x->header, (long long)got);
}

/* a short read inside the header: corrupt compressed data, else what `what` says */
static tg_status idx_header_short(const idx_file *x, int offset, const char *what)
{
    const char *zmsg;
    tg_status s = tg__gz_failure(x->f, &zmsg);
    if (s != TG_OK)
        return tg__error_status(s, "tg_idx_load: %s: corrupt gzip data near uncompressed "
                                   "offset %d: %s",
                                x->path, offset, zmsg);
    return tg__error_status(TG_EFORMAT, "tg_idx_load: %s: offset %d: %s", x->path, offset, what);
}

/* magic and dimensions */
static tg_status idx_header(idx_file *x)
{
    unsigned char head[4];
    if (tg__gz_read(x->f, head, 4) != 4)
        return idx_header_short(x, 0, "file shorter than the 4-byte magic");
    x->ndim = head[3];
    if (head[0] || head[1] || head[2] != 0x08 || (x->ndim != 1 && x->ndim != 3))
        return tg__error_status(TG_EFORMAT,
                                "tg_idx_load: %s: offset 0: bad magic %02x%02x%02x%02x (want "
                                "00000801 labels or 00000803 images of unsigned bytes)",
                                x->path, head[0], head[1], head[2], head[3]);
    x->count = 1;
    for (int d = 0; d < x->ndim; d++) {
        unsigned char b[4];
        if (tg__gz_read(x->f, b, 4) != 4)
            return idx_header_short(x, 4 + 4 * d, "truncated header (a dimension is missing)");
        int64_t v = (int64_t)b[0] << 24 | (int64_t)b[1] << 16 | (int64_t)b[2] << 8 | b[3];
        if (v < 1 || x->count > IDX_MAX_COUNT / v)
            return tg__error_status(TG_EFORMAT,
                                    "tg_idx_load: %s: offset %d: dimension %d of size %lld is "
                                    "invalid (zero, or more than %lld elements in all)",
                                    x->path, 4 + 4 * d, d, (long long)v,
                                    (long long)IDX_MAX_COUNT);
        x->dims[d] = v;
        x->count *= v;
    }
    x->header = 4 + 4 * (int64_t)x->ndim;
    return TG_OK;
}

static tg_tensor *idx_alloc(const idx_file *x)
{
    int64_t shape[2] = {x->dims[0], x->ndim == 3 ? x->dims[1] * x->dims[2] : 1};
    tg_tensor *t = tg_zeros(x->ndim == 3 ? TG_F32 : TG_I32, x->ndim == 3 ? 2 : 1, shape);
    if (!t)
        tg__error(TG_ENOMEM, "tg_idx_load: %s: out of memory for %lld elements", x->path,
                  (long long)x->count);
    return t;
}

/* An uncompressed regular file of the right size: straight into the tensor. */
static tg_status idx_read_direct(idx_file *x, tg_tensor *t)
{
    unsigned char buf[65536];
    for (int64_t pos = 0; pos < x->count;) {
        size_t want = x->count - pos < (int64_t)sizeof buf ? (size_t)(x->count - pos) : sizeof buf;
        size_t got = tg__gz_read(x->f, buf, want);
        idx_store(t, pos, buf, got);
        pos += (int64_t)got;
        if (got < want) /* the file shrank since fstat */
            return idx_short(x, pos);
    }
    return TG_OK;
}

/* Compressed (or not a regular file): the data into chunks first, then the tensor. */
static tg_status idx_read_chunked(idx_file *x, tg_tensor **out)
{
    size_t nchunks = (size_t)((x->count + (int64_t)IDX_CHUNK - 1) / (int64_t)IDX_CHUNK);
    unsigned char **chunks = tg__calloc(nchunks * sizeof *chunks); /* <= 32 KiB */
    if (!chunks)
        return tg__error_status(TG_ENOMEM, "tg_idx_load: %s: out of memory", x->path);
    tg_status s = TG_OK;
    int64_t got = 0;
    for (size_t c = 0; c < nchunks && s == TG_OK; c++) {
        size_t want = x->count - got < (int64_t)IDX_CHUNK ? (size_t)(x->count - got) : IDX_CHUNK;
        chunks[c] = tg__malloc(want);
        if (!chunks[c]) {
            s = tg__error_status(TG_ENOMEM, "tg_idx_load: %s: out of memory after %lld bytes",
                                 x->path, (long long)got);
            break;
        }
        size_t n = tg__gz_read(x->f, chunks[c], want);
        got += (int64_t)n;
        if (n < want)
            s = idx_short(x, got);
    }
    if (s == TG_OK) {
        *out = idx_alloc(x);
        if (!*out)
            s = TG_ENOMEM;
        for (size_t c = 0; s == TG_OK && c < nchunks; c++) {
            int64_t pos = (int64_t)c * (int64_t)IDX_CHUNK;
            int64_t n = x->count - pos < (int64_t)IDX_CHUNK ? x->count - pos : (int64_t)IDX_CHUNK;
            idx_store(*out, pos, chunks[c], (size_t)n);
        }
    }
    for (size_t c = 0; c < nchunks; c++)
        tg__mfree(chunks[c]);
    tg__mfree(chunks);
    return s;
}

tg_status tg_idx_load(const char *path, tg_tensor **out)
{
    if (!path || !out)
        return tg__error_status(TG_EINVAL, "tg_idx_load: NULL argument");
    *out = NULL;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return tg__error_status(TG_EIO, "tg_idx_load: cannot open %s: %s", path, strerror(errno));
    struct stat sb;
    int e = fstat(fd, &sb) != 0 ? errno : S_ISDIR(sb.st_mode) ? EISDIR : 0;
    if (e) {
        close(fd);
        return tg__error_status(TG_EIO, "tg_idx_load: cannot read %s: %s", path, strerror(e));
    }
    idx_file x = {.path = path, .f = gzdopen(fd, "rb")};
    if (!x.f) {
        close(fd);
        return tg__error_status(TG_ENOMEM, "tg_idx_load: %s: zlib could not set up the stream",
                                path);
    }
    tg_status s = idx_header(&x);
    tg_tensor *t = NULL;
    if (s == TG_OK && gzdirect(x.f) && S_ISREG(sb.st_mode)) {
        /* raw file: its size must match the header before anything is allocated */
        int64_t data = (int64_t)sb.st_size - x.header;
        data = data < 0 ? 0 : data;
        if (data < x.count)
            s = idx_short(&x, data);
        else if (data > x.count)
            s = tg__error_status(TG_EFORMAT,
                                 "tg_idx_load: %s: %lld trailing bytes after the data, which "
                                 "ends at offset %lld",
                                 path, (long long)(data - x.count), (long long)(x.header + x.count));
        else if (!(t = idx_alloc(&x)))
            s = TG_ENOMEM;
        else
            s = idx_read_direct(&x, t);
    } else if (s == TG_OK) {
        s = idx_read_chunked(&x, &t);
    }
    if (s == TG_OK) {
        /* nothing may follow the data; reading past the end also makes zlib verify the
         * gzip trailer (CRC and length) */
        unsigned char extra;
        const char *zmsg;
        if (gzread(x.f, &extra, 1) > 0)
            s = tg__error_status(TG_EFORMAT,
                                 "tg_idx_load: %s: trailing bytes after the data, which ends at "
                                 "offset %lld",
                                 path, (long long)(x.header + x.count));
        else if ((s = tg__gz_failure(x.f, &zmsg)) != TG_OK)
            tg__error_status(s, "tg_idx_load: %s: corrupt gzip data at the end: %s", path,
                             zmsg);
    }
    gzclose(x.f);
    if (s != TG_OK)
        tg_tensor_free(&t);
    *out = t;
    return s;
}
