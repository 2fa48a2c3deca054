/* CSV loading, row selection, mini-batches, splits, k-fold and scalers. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "../util.h"
#include "internal.h"
#include "prep.h"

/* ------------------------------------------------------------------- CSV */

tg_csv_opts tg_csv_defaults(void)
{
    tg_csv_opts o = {.header = false, .label_column = -1, .delimiter = ',', .dtype = TG_F32,
                     .skip_lines = 0, .label_name = NULL, .feature_names = NULL,
                     .feature_count = 0, .label_dtype = TG_I32};
    return o;
}

/* the 1-based line of byte offset `at` of text */
static int64_t line_of(const char *text, size_t at)
{
    int64_t line = 1;
    for (size_t i = 0; i < at; i++)
        line += text[i] == '\n';
    return line;
}

/* The whole file, decompressed when it is gzip data, NUL-terminated; NULL with *st set
 * (TG_EIO, TG_ENOMEM or TG_EFORMAT). A plain regular file is read into one buffer of its
 * size (+2 bytes); anything else (gzip data, a pipe) into a buffer that doubles as data
 * arrives. */
static char *slurp(const char *path, size_t *len, tg_status *st)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        *st = tg__error_status(TG_EIO, "tg_csv_load: cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat sb;
    int e = fstat(fd, &sb) != 0 ? errno : S_ISDIR(sb.st_mode) ? EISDIR : 0;
    if (e) {
        close(fd);
        *st = tg__error_status(TG_EIO, "tg_csv_load: cannot read %s: %s", path, strerror(e));
        return NULL;
    }
    gzFile f = gzdopen(fd, "rb");
    if (!f) {
        close(fd);
        *st = tg__error_status(TG_ENOMEM, "tg_csv_load: %s: zlib could not set up the stream",
                               path);
        return NULL;
    }
    size_t cap = 4096, n = 0;
    if (S_ISREG(sb.st_mode) && gzdirect(f)) {
        if ((uint64_t)sb.st_size > (uint64_t)(SIZE_MAX / 2 - 2)) {
            gzclose(f);
            *st = tg__error_status(TG_ENOMEM, "tg_csv_load: %s is too large", path);
            return NULL;
        }
        cap = (size_t)sb.st_size + 1; /* one more byte shows whether the file grew */
    }
    char *buf = tg__malloc(cap + 1);
    while (buf) {
        /* gzip data in pieces: zlib drops a piece that ends in an error, so a small piece
         * lets the message name a line close to the corruption */
        size_t piece = gzdirect(f) || cap - n < 4096 ? cap - n : 4096, got;
        n += got = tg__gz_read(f, buf + n, piece);
        if (got < piece)
            break;
        if (n < cap)
            continue;
        if (cap > SIZE_MAX / 4)
            break;
        char *bigger = tg__malloc(2 * cap + 1);
        if (bigger)
            memcpy(bigger, buf, n);
        tg__mfree(buf);
        buf = bigger;
        cap *= 2;
    }
    const char *zmsg = "read error";
    tg_status zs = buf ? tg__gz_failure(f, &zmsg) : TG_ENOMEM;
    if (!buf || (zs == TG_OK && n == cap)) /* out of memory, or beyond SIZE_MAX / 4 */
        *st = zs = tg__error_status(TG_ENOMEM, "tg_csv_load: cannot read %s: out of memory",
                                    path);
    else if (zs != TG_OK && gzdirect(f))
        *st = tg__error_status(zs, "tg_csv_load: cannot read %s: %s", path, zmsg);
    else if (zs != TG_OK) /* the line reached: the last complete line's number */
        *st = tg__error_status(zs, "tg_csv_load: %s: corrupt or truncated gzip data after "
                                   "line %lld (uncompressed offset %zu): %s",
                               path, (long long)line_of(buf, n) - 1, n, zmsg);
    gzclose(f);
    if (!buf || zs != TG_OK) {
        tg__mfree(buf);
        return NULL;
    }
    const char *nul = memchr(buf, 0, n);
    if (nul) {
        size_t at = (size_t)(nul - buf);
        *st = tg__error_status(TG_EFORMAT, "tg_csv_load: %s:%lld: byte offset %zu: NUL byte "
                                           "(not a text file)",
                               path, (long long)line_of(buf, at), at);
        tg__mfree(buf);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

/* What the passes need to know about the columns. */
typedef struct csv_cols {
    const char *path;
    const tg_csv_opts *o;
    const char *header;     /* the header line (NUL-terminated, intact), or NULL */
    int64_t header_line;    /* its line number */
    int64_t header_cols;    /* its column count when names select columns, else -1 */
    int64_t label;          /* the label column, or -1 */
    int32_t *feature_of;    /* [header_cols]: feature index of each column, or -1; NULL:
                             * every column but the label's, in order */
    int64_t features;       /* feature count with feature_of (else known after a pass) */
} csv_cols;

/* cell c (0-based) of a line, trimmed of blanks (and of a pair of double quotes when
 * unquote): *len bytes at the returned pointer; NULL when the line has fewer cells */
static const char *field(const char *line, char delim, int64_t c, bool unquote, size_t *len)
{
    const char *p = line;
    for (int64_t i = 0; i < c; i++) {
        p = strchr(p, delim);
        if (!p)
            return NULL;
        p++;
    }
    const char *end = strchr(p, delim);
    end = end ? end : p + strlen(p);
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        end--;
    if (unquote && end - p >= 2 && *p == '"' && end[-1] == '"') {
        p++;
        end--;
    }
    *len = (size_t)(end - p);
    return p;
}

/* " (column 'name')" for messages about column c, or "" without a header */
static const char *col_name(const csv_cols *k, int64_t c, char *buf, size_t cap)
{
    size_t len;
    const char *f = k->header ? field(k->header, k->o->delimiter, c, true, &len) : NULL;
    if (!f)
        return "";
    snprintf(buf, cap, " (column '%.*s')", (int)(len > 32 ? 32 : len), f);
    return buf;
}

/* the column whose header name is `name`: TG_OK with *col, else TG_EFORMAT */
static tg_status find_column(const csv_cols *k, const char *name, const char *role,
                             int64_t *col)
{
    *col = -1;
    size_t nl = strlen(name), len;
    for (int64_t c = 0; c < k->header_cols; c++) {
        const char *f = field(k->header, k->o->delimiter, c, true, &len);
        if (len != nl || memcmp(f, name, nl) != 0)
            continue;
        if (*col >= 0)
            return tg__error_status(TG_EFORMAT,
                                    "tg_csv_load: %s:%lld: %s name '%.32s' is ambiguous: "
                                    "columns %lld and %lld of the header have it",
                                    k->path, (long long)k->header_line, role, name,
                                    (long long)*col + 1, (long long)c + 1);
        *col = c;
    }
    if (*col < 0)
        return tg__error_status(TG_EFORMAT,
                                "tg_csv_load: %s:%lld: no column named '%.32s' (the %s) in "
                                "the header of %lld columns",
                                k->path, (long long)k->header_line, name, role,
                                (long long)k->header_cols);
    return TG_OK;
}

/* the header line's column count */
static int64_t count_cells(const char *line, char delim)
{
    int64_t n = 1;
    for (const char *p = strchr(line, delim); p; p = strchr(p + 1, delim))
        n++;
    return n;
}

/* Resolves label_name and feature_names against the header (k->header set). */
static tg_status resolve_names(csv_cols *k)
{
    const tg_csv_opts *o = k->o;
    k->header_cols = count_cells(k->header, o->delimiter);
    if (o->label_name) {
        tg_status s = find_column(k, o->label_name, "label", &k->label);
        if (s != TG_OK)
            return s;
    }
    if (!o->feature_names)
        return TG_OK;
    if ((uint64_t)k->header_cols > SIZE_MAX / sizeof *k->feature_of)
        return tg__error_status(TG_ENOMEM, "tg_csv_load: %s: out of memory", k->path);
    k->feature_of = tg__malloc((size_t)k->header_cols * sizeof *k->feature_of);
    if (!k->feature_of)
        return tg__error_status(TG_ENOMEM, "tg_csv_load: %s: out of memory for %lld columns",
                                k->path, (long long)k->header_cols);
    for (int64_t c = 0; c < k->header_cols; c++)
        k->feature_of[c] = -1;
    for (int i = 0; i < o->feature_count; i++) {
        int64_t c;
        tg_status s = find_column(k, o->feature_names[i], "feature", &c);
        if (s != TG_OK)
            return s;
        k->feature_of[c] = i; /* distinct names (checked with the options): distinct columns */
    }
    if (k->label >= 0 && k->label < k->header_cols && k->feature_of[k->label] >= 0)
        return tg__error_status(TG_EFORMAT,
                                "tg_csv_load: %s:%lld: label column %lld is also feature '%.32s'",
                                k->path, (long long)k->header_line, (long long)k->label,
                                o->feature_names[k->feature_of[k->label]]);
    k->features = o->feature_count;
    return TG_OK;
}

/* one pass counts rows/columns and validates; a second fills (fill == true). text starts
 * at line first_line + 1 of the file. */
static tg_status csv_pass(const csv_cols *k, char *text, int64_t first_line, bool fill,
                          int64_t *rows, int64_t *cols, tg_tensor *x, tg_tensor *y)
{
    const tg_csv_opts *o = k->o;
    const char *path = k->path;
    int64_t line = first_line, r = 0, ncols = k->header_cols, ref_line = k->header_line;
    bool int_labels = o->label_dtype == TG_I32;
    char name[48];
    char *p = text;
    while (*p) {
        char *end = strchr(p, '\n');
        if (end)
            *end = 0;
        line++;
        size_t L = strlen(p);
        if (L && p[L - 1] == '\r')
            p[L - 1] = ' '; /* CRLF: a trailing blank (not NUL: the text is read twice) */
        if (strspn(p, " \t") != L) {
            int64_t c = 0, feat = 0;
            char *cell = p;
            for (;;) {
                char *sep = strchr(cell, o->delimiter);
                bool is_label = c == k->label;
                int64_t fi = -1;
                if (k->feature_of)
                    fi = c < k->header_cols ? k->feature_of[c] : -1;
                else if (!is_label)
                    fi = feat++;
                if (is_label || fi >= 0) {
                    if (sep)
                        *sep = 0;
                    char *num_end;
                    double v = strtod(cell, &num_end);
                    bool none = num_end == cell; /* before skipping: a blank cell is empty */
                    while (*num_end == ' ' || *num_end == '\t')
                        num_end++;
                    const char *why = none || *num_end ? "not a number"
                                      : !isfinite(v) ? "not a finite number" /* nan, inf, huge */
                                      /* a double beyond the float range would load as inf */
                                      : (is_label ? o->label_dtype : o->dtype) == TG_F32 &&
                                                fabs(v) > FLT_MAX
                                          ? "out of the f32 range"
                                      : is_label && int_labels &&
                                                (v != floor(v) || v < -2147483648.0 ||
                                                 v > 2147483647.0)
                                          ? "class label is not an integer in the int32 range"
                                          : NULL;
                    if (why)
                        return tg__error_status(TG_EFORMAT,
                                                "tg_csv_load: %s:%lld:%lld: %s: '%.40s'%s", path,
                                                (long long)line, (long long)c + 1, why, cell,
                                                col_name(k, c, name, sizeof name));
                    if (fill && is_label && int_labels)
                        ((int32_t *)y->data)[r] = (int32_t)v;
                    else if (fill && is_label)
                        tg_tensor_set_flat(y, r, v);
                    else if (fill)
                        tg_tensor_set_flat(x, r * *cols + fi, v);
                    if (sep)
                        *sep = o->delimiter; /* the text stays intact for the second pass */
                }
                c++;
                if (!sep)
                    break;
                cell = sep + 1;
            }
            if (ncols < 0) {
                ncols = c;
                ref_line = line;
            } else if (c != ncols) {
                return tg__error_status(TG_EFORMAT,
                                        "tg_csv_load: %s:%lld: ragged row: %lld columns, expected "
                                        "%lld as on line %lld%s",
                                        path, (long long)line, (long long)c, (long long)ncols,
                                        (long long)ref_line,
                                        ref_line == k->header_line ? " (the header)" : "");
            }
            if (k->label >= ncols)
                return tg__error_status(TG_EFORMAT,
                                        "tg_csv_load: %s:%lld: label column %lld but only %lld "
                                        "columns",
                                        path, (long long)line, (long long)k->label,
                                        (long long)ncols);
            r++;
        }
        if (!end)
            break;
        *end = '\n';
        p = end + 1;
    }
    if (r == 0 && line == 0)
        return tg__error_status(TG_EFORMAT, "tg_csv_load: %s: empty file", path);
    if (r == 0)
        return tg__error_status(TG_EFORMAT, "tg_csv_load: %s: no data rows in its %lld line%s",
                                path, (long long)line, line == 1 ? "" : "s");
    *rows = r;
    *cols = k->feature_of ? k->features : ncols - (k->label >= 0 ? 1 : 0);
    return TG_OK;
}

/* TG_OK when the options are usable, else TG_EINVAL with the reason */
static tg_status check_opts(const tg_csv_opts *o)
{
    if (!tg__is_float(o->dtype) || o->delimiter == 0 || o->delimiter == '\n' ||
        o->delimiter == '\r' || o->label_column < -1 || o->skip_lines < 0 ||
        (o->label_dtype != TG_I32 && !tg__is_float(o->label_dtype)) || o->feature_count < 0 ||
        (o->feature_names && o->feature_count < 1) || (!o->feature_names && o->feature_count))
        return tg__error_status(TG_EINVAL, "tg_csv_load: invalid options");
    if ((o->label_name || o->feature_names) && !o->header)
        return tg__error_status(TG_EINVAL, "tg_csv_load: invalid options: columns selected by "
                                           "name need header = true");
    if (o->label_name && o->label_column >= 0)
        return tg__error_status(TG_EINVAL, "tg_csv_load: invalid options: both label_name '%.32s' "
                                           "and label_column %d",
                                o->label_name, o->label_column);
    for (int i = 0; o->feature_names && i < o->feature_count; i++) {
        const char *n = o->feature_names[i];
        if (!n)
            return tg__error_status(TG_EINVAL, "tg_csv_load: invalid options: feature_names[%d] "
                                               "is NULL", i);
        if (o->label_name && strcmp(n, o->label_name) == 0)
            return tg__error_status(TG_EINVAL, "tg_csv_load: invalid options: '%.32s' is both "
                                               "the label and feature %d",
                                    n, i);
        for (int j = 0; j < i; j++)
            if (strcmp(n, o->feature_names[j]) == 0)
                return tg__error_status(TG_EINVAL, "tg_csv_load: invalid options: feature name "
                                                   "'%.32s' is listed twice (%d and %d)",
                                        n, j, i);
    }
    return TG_OK;
}

tg_status tg_csv_load(const char *path, const tg_csv_opts *opts, tg_tensor **x,
                      tg_tensor **labels)
{
    tg_csv_opts o = opts ? *opts : tg_csv_defaults();
    bool has_label = o.label_column >= 0 || o.label_name;
    if (!path || !x || (has_label && !labels))
        return tg__error_status(TG_EINVAL, "tg_csv_load: NULL argument");
    *x = NULL;
    if (labels)
        *labels = NULL;
    tg_status s = check_opts(&o);
    if (s != TG_OK)
        return s;
    size_t len;
    char *text = slurp(path, &len, &s);
    if (!text)
        return s;
    csv_cols k = {.path = path, .o = &o, .header_cols = -1, .label = o.label_column};
    /* the lines before the data: skip_lines, then the header */
    int64_t line = 0;
    char *body = text;
    for (int64_t i = 0; *body && i < (int64_t)o.skip_lines + o.header; i++) {
        char *end = strchr(body, '\n');
        line++;
        if (o.header && i == o.skip_lines) {
            k.header = body;
            k.header_line = line;
            if (end)
                *end = 0; /* the header line stays a string of its own */
        }
        body = end ? end + 1 : body + strlen(body);
    }
    if ((o.label_name || o.feature_names) && !k.header)
        s = tg__error_status(TG_EFORMAT, "tg_csv_load: %s: %s", path,
                             line == 0 ? "empty file" : "no header row after the skipped lines");
    else if (o.label_name || o.feature_names)
        s = resolve_names(&k);
    int64_t rows = 0, cols = 0;
    if (s == TG_OK)
        s = csv_pass(&k, body, line, false, &rows, &cols, NULL, NULL);
    if (s == TG_OK) {
        *x = tg_zeros(o.dtype, 2, (int64_t[]){rows, cols});
        if (k.label >= 0)
            *labels = o.label_dtype == TG_I32 ? tg_zeros(TG_I32, 1, &rows)
                                              : tg_zeros(o.label_dtype, 2, (int64_t[]){rows, 1});
        if (!*x || (k.label >= 0 && !*labels))
            s = tg__error_status(TG_ENOMEM, "tg_csv_load: %s: out of memory for [%lld, %lld]",
                                 path, (long long)rows, (long long)cols);
        else
            s = csv_pass(&k, body, line, true, &rows, &cols, *x, labels ? *labels : NULL);
    }
    tg__mfree(k.feature_of);
    tg__mfree(text);
    if (s != TG_OK) {
        tg_tensor_free(x);
        if (labels)
            tg_tensor_free(labels);
    }
    return s;
}

/* ------------------------------------------------------------ row selection */

tg_status tg_permutation(int64_t n, uint64_t seed, uint64_t stream, int64_t *perm)
{
    if (n < 0 || (n > 0 && !perm))
        return tg__error_status(TG_EINVAL, "tg_permutation: need n >= 0 (got %lld) and a perm "
                                           "array of n entries", (long long)n);
    for (int64_t i = 0; i < n; i++)
        perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(tg_rng_u64(seed, stream, (uint64_t)i) % (uint64_t)(i + 1));
        int64_t tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
    }
    return TG_OK;
}

/* elements per row (the product of the extents after the first) */
static int64_t row_elems(const tg_tensor *t)
{
    int64_t n = 1;
    for (int d = 1; d < t->ndim; d++)
        n *= t->shape[d];
    return n;
}

/* copies rows idx[0..n-1] of src into the first n rows of dst (same row size) */
static void copy_rows(tg_tensor *dst, const tg_tensor *src, int64_t n, const int64_t *idx)
{
    size_t es = tg_dtype_size(src->dtype), row = (size_t)row_elems(src) * es;
    const char *base = (const char *)src->data + (size_t)src->offset * es;
    for (int64_t i = 0; i < n; i++)
        memcpy((char *)dst->data + (size_t)i * row, base + (size_t)idx[i] * row, row);
}

tg_tensor *tg_take_rows(const tg_tensor *t, int64_t n, const int64_t *idx)
{
    if (!t || t->ndim < 1 || n < 0 || (n && !idx))
        return tg__error(TG_EINVAL, "tg_take_rows: need a tensor of rank >= 1 and indices");
    if (!tg_tensor_is_contiguous(t))
        return tg__error(TG_EINVAL, "tg_take_rows: tensor must be contiguous");
    for (int64_t i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= t->shape[0])
            return tg__error(TG_ERANGE, "tg_take_rows: row %lld outside [0, %lld)",
                             (long long)idx[i], (long long)t->shape[0]);
    int64_t shape[TG_MAX_DIMS];
    memcpy(shape, t->shape, sizeof shape);
    shape[0] = n;
    tg_tensor *out = tg_zeros(t->dtype, t->ndim, shape);
    if (!out)
        return tg__error(TG_ENOMEM, "tg_take_rows: out of memory for %s",
                         tg__dims_str(t->ndim, shape).s);
    copy_rows(out, t, n, idx);
    return out;
}

/* -------------------------------------------------------------- batches */

struct tg_batcher {
    const tg_tensor *x, *y;
    int64_t n, batch, pos, epoch;
    bool shuffle, drop_last;
    uint64_t seed;
    int64_t *perm;
    tg_tensor *xb, *yb;       /* full-size batch buffers */
    tg_tensor xv, yv;         /* views of their first rows handed out */
};

tg_batcher *tg_batcher_new(const tg_tensor *x, const tg_tensor *y, int64_t batch, bool shuffle,
                           bool drop_last, uint64_t seed)
{
    if (!x || x->ndim < 1 || batch < 1 || !tg_tensor_is_contiguous(x) ||
        (y && (y->ndim < 1 || y->shape[0] != x->shape[0] || !tg_tensor_is_contiguous(y))))
        return tg__error(TG_EINVAL,
                         "tg_batcher_new: need a contiguous x of rank >= 1 (and a contiguous y "
                         "with as many rows) and batch >= 1");
    if ((uint64_t)x->shape[0] > SIZE_MAX / sizeof(int64_t) / 2) /* the row permutation */
        return tg__error(TG_EINVAL, "tg_batcher_new: %lld rows are too many to permute",
                         (long long)x->shape[0]);
    tg_batcher *b = tg__calloc(sizeof *b);
    if (!b)
        return tg__error(TG_ENOMEM, "tg_batcher_new: out of memory");
    b->x = x;
    b->y = y;
    b->n = x->shape[0];
    b->batch = batch < b->n ? batch : (b->n ? b->n : 1);
    b->shuffle = shuffle;
    b->drop_last = drop_last;
    b->seed = seed;
    b->perm = tg__malloc(sizeof(int64_t) * (size_t)(b->n ? b->n : 1));
    int64_t xs[TG_MAX_DIMS], ys[TG_MAX_DIMS];
    memcpy(xs, x->shape, sizeof xs);
    xs[0] = b->batch;
    b->xb = tg_zeros(x->dtype, x->ndim, xs);
    if (y) {
        memcpy(ys, y->shape, sizeof ys);
        ys[0] = b->batch;
        b->yb = tg_zeros(y->dtype, y->ndim, ys);
    }
    if (!b->perm || !b->xb || (y && !b->yb)) {
        tg_batcher_free(&b);
        return tg__error(TG_ENOMEM, "tg_batcher_new: out of memory");
    }
    b->pos = -1; /* the first call starts epoch 0 */
    return b;
}

bool tg_batcher_next(tg_batcher *b, tg_tensor **xb, tg_tensor **yb)
{
    if (!b)
        return false;
    if (b->pos < 0) {
        if (b->shuffle)
            tg_permutation(b->n, b->seed, (uint64_t)b->epoch, b->perm);
        else
            for (int64_t i = 0; i < b->n; i++)
                b->perm[i] = i;
        b->pos = 0;
    }
    int64_t left = b->n - b->pos;
    if (left <= 0 || (b->drop_last && left < b->batch)) {
        b->pos = -1;
        b->epoch++;
        return false;
    }
    int64_t m = left < b->batch ? left : b->batch;
    copy_rows(b->xb, b->x, m, b->perm + b->pos);
    b->xv = *b->xb;
    b->xv.shape[0] = m;
    if (xb)
        *xb = &b->xv;
    if (b->y) {
        copy_rows(b->yb, b->y, m, b->perm + b->pos);
        b->yv = *b->yb;
        b->yv.shape[0] = m;
    }
    if (yb)
        *yb = b->y ? &b->yv : NULL;
    b->pos += m;
    return true;
}

int64_t tg_batcher_epoch(const tg_batcher *b) { return b ? b->epoch : 0; }

void tg_batcher_free(tg_batcher **pb)
{
    if (!pb || !*pb)
        return;
    tg_batcher *b = *pb;
    tg__mfree(b->perm);
    tg_tensor_free(&b->xb);
    tg_tensor_free(&b->yb);
    tg__mfree(b);
    *pb = NULL;
}

/* --------------------------------------------------------------- splits */

/* rows perm[lo..hi) of x and y into new tensors, for each output pointer that is not
 * NULL (a NULL one discards its part); the arguments are valid, so the only failure is
 * TG_ENOMEM (status and message set by tg_take_rows) */
static tg_status take_part(const tg_tensor *x, const tg_tensor *y, const int64_t *perm, int64_t lo,
                           int64_t hi, tg_tensor **xo, tg_tensor **yo)
{
    if (xo && !(*xo = tg_take_rows(x, hi - lo, perm + lo)))
        return tg_last_status();
    if (yo && y && !(*yo = tg_take_rows(y, hi - lo, perm + lo))) {
        if (xo)
            tg_tensor_free(xo);
        return tg_last_status();
    }
    return TG_OK;
}

/* x: contiguous, rank >= 1; y: NULL or contiguous, rank >= 1, as many rows */
static tg_status check_rows(const tg_tensor *x, const tg_tensor *y, const char *fn)
{
    if (!x)
        return tg__error_status(TG_EINVAL, "%s: x is NULL", fn);
    if (x->ndim < 1 || !tg_tensor_is_contiguous(x))
        return tg__error_status(TG_EINVAL, "%s: x %s must be contiguous with rank >= 1", fn,
                                tg__shape_str(x).s);
    if (y && (y->ndim < 1 || y->shape[0] != x->shape[0] || !tg_tensor_is_contiguous(y)))
        return tg__error_status(TG_EINVAL, "%s: y %s must be contiguous with rank >= 1 and "
                                           "as many rows as x %s", fn, tg__shape_str(y).s,
                                tg__shape_str(x).s);
    if ((uint64_t)x->shape[0] > SIZE_MAX / sizeof(int64_t) / 2) /* the row permutation */
        return tg__error_status(TG_EINVAL, "%s: %lld rows are too many to permute", fn,
                                (long long)x->shape[0]);
    return TG_OK;
}

/* sets every non-NULL output to NULL, so a failure never leaves garbage behind */
static void clear_outputs(tg_tensor **const *outs, int n)
{
    for (int i = 0; i < n; i++)
        if (outs[i])
            *outs[i] = NULL;
}

tg_status tg_split(const tg_tensor *x, const tg_tensor *y, double val_frac, double test_frac,
                   uint64_t seed, tg_tensor **x_train, tg_tensor **y_train, tg_tensor **x_val,
                   tg_tensor **y_val, tg_tensor **x_test, tg_tensor **y_test)
{
    tg_tensor **all[] = {x_train, y_train, x_val, y_val, x_test, y_test};
    clear_outputs(all, 6);
    tg_status bad = check_rows(x, y, "tg_split");
    if (bad != TG_OK)
        return bad;
    if (!(val_frac >= 0 && test_frac >= 0 && val_frac + test_frac < 1))
        return tg__error_status(TG_EINVAL, "tg_split: fractions %g + %g must be in [0, 1)",
                                val_frac, test_frac);
    int64_t n = x->shape[0], nv = (int64_t)(val_frac * (double)n),
            nt = (int64_t)(test_frac * (double)n);
    int64_t *perm = tg__malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
    if (!perm)
        return tg__error_status(TG_ENOMEM, "tg_split: out of memory");
    tg_permutation(n, seed, 0, perm);
    tg_status s = take_part(x, y, perm, 0, n - nv - nt, x_train, y_train);
    if (s == TG_OK)
        s = take_part(x, y, perm, n - nv - nt, n - nt, x_val, y_val);
    if (s == TG_OK)
        s = take_part(x, y, perm, n - nt, n, x_test, y_test);
    tg__mfree(perm);
    if (s != TG_OK) {
        for (int i = 0; i < 6; i++)
            if (all[i])
                tg_tensor_free(all[i]);
        return s;
    }
    return TG_OK;
}

tg_status tg_kfold(const tg_tensor *x, const tg_tensor *y, int k, int fold, uint64_t seed,
                   tg_tensor **x_train, tg_tensor **y_train, tg_tensor **x_val, tg_tensor **y_val)
{
    tg_tensor **all[] = {x_train, y_train, x_val, y_val};
    clear_outputs(all, 4);
    tg_status bad = check_rows(x, y, "tg_kfold");
    if (bad != TG_OK)
        return bad;
    int64_t n = x->shape[0];
    if (k < 2 || k > n || fold < 0 || fold >= k)
        return tg__error_status(TG_EINVAL, "tg_kfold: need 2 <= k <= rows (%lld) and 0 <= fold < k",
                                (long long)n);
    int64_t *perm = tg__malloc(sizeof(int64_t) * (size_t)n * 2);
    if (!perm)
        return tg__error_status(TG_ENOMEM, "tg_kfold: out of memory");
    tg_permutation(n, seed, 0, perm);
    int64_t lo = n * fold / k, hi = n * (fold + 1) / k;
    /* training rows: everything outside [lo, hi), in permutation order */
    int64_t *train = perm + n, m = 0;
    for (int64_t i = 0; i < n; i++)
        if (i < lo || i >= hi)
            train[m++] = perm[i];
    tg_status s = take_part(x, y, perm, lo, hi, x_val, y_val);
    if (s == TG_OK)
        s = take_part(x, y, train, 0, m, x_train, y_train);
    tg__mfree(perm);
    if (s != TG_OK) {
        for (int i = 0; i < 4; i++)
            if (all[i])
                tg_tensor_free(all[i]);
        return s;
    }
    return TG_OK;
}

/* --------------------------------------------------------------- scalers */

struct tg_scaler {
    tg_scale_kind kind;
    int64_t cols;
    double *shift, *scale; /* x' = (x - shift) / scale */
};

/* element (r, c) of a float 2-D tensor, any strides */
static double *f64_at(const tg_tensor *x, int64_t r, int64_t c)
{
    return (double *)x->data + x->offset + r * x->stride[0] + c * x->stride[1];
}
static float *f32_at(const tg_tensor *x, int64_t r, int64_t c)
{
    return (float *)x->data + x->offset + r * x->stride[0] + c * x->stride[1];
}
static double get2(const tg_tensor *x, int64_t r, int64_t c)
{
    return x->dtype == TG_F64 ? *f64_at(x, r, c) : (double)*f32_at(x, r, c);
}

tg_scaler *tg_scaler_fit(tg_scale_kind kind, const tg_tensor *x)
{
    /* cols >= 1 too: [2^40, 0] would walk 2^40 empty rows */
    if (!x || x->ndim != 2 || x->shape[0] < 1 || x->shape[1] < 1 || !tg__is_float(x->dtype) ||
        (kind != TG_SCALE_STANDARD && kind != TG_SCALE_MINMAX))
        return tg__error(TG_EINVAL,
                         "tg_scaler_fit: need a float [rows >= 1, cols >= 1] tensor and a kind");
    int64_t rows = x->shape[0], cols = x->shape[1];
    tg_scaler *s = tg__calloc(sizeof *s);
    double *mem = tg__malloc(sizeof(double) * (size_t)(2 * cols + 1));
    if (!s || !mem) {
        tg__mfree(s);
        tg__mfree(mem);
        return tg__error(TG_ENOMEM, "tg_scaler_fit: out of memory");
    }
    s->kind = kind;
    s->cols = cols;
    s->shift = mem;
    s->scale = mem + cols;
    double *a = s->shift, *b = s->scale;
    /* row by row (the memory order of a row-major tensor), one accumulator per column */
    if (kind == TG_SCALE_STANDARD) {
        /* two passes: the mean, then the mean squared deviation (population std) */
        for (int64_t c = 0; c < cols; c++)
            a[c] = b[c] = 0;
        for (int64_t r = 0; r < rows; r++)
            for (int64_t c = 0; c < cols; c++)
                a[c] += get2(x, r, c);
        for (int64_t c = 0; c < cols; c++)
            a[c] /= (double)rows;
        for (int64_t r = 0; r < rows; r++)
            for (int64_t c = 0; c < cols; c++) {
                double d = get2(x, r, c) - a[c];
                b[c] += d * d;
            }
        for (int64_t c = 0; c < cols; c++)
            b[c] = sqrt(b[c] / (double)rows);
    } else {
        for (int64_t c = 0; c < cols; c++) {
            a[c] = INFINITY;
            b[c] = -INFINITY;
        }
        for (int64_t r = 0; r < rows; r++)
            for (int64_t c = 0; c < cols; c++) {
                double v = get2(x, r, c);
                a[c] = fmin(a[c], v);
                b[c] = fmax(b[c], v);
            }
        for (int64_t c = 0; c < cols; c++)
            b[c] -= a[c];
    }
    for (int64_t c = 0; c < cols; c++)
        if (!(b[c] > 0))
            b[c] = 1.0; /* constant column: shift only, never a division by zero */
    return s;
}

/* x = (x - shift) / scale, or its inverse x = x * scale + shift, in place */
static tg_status scaler_run(const tg_scaler *s, tg_tensor *x, bool inverse, const char *fn)
{
    if (!s || !x || x->ndim != 2 || x->shape[1] != s->cols || !tg__is_float(x->dtype))
        return tg__error_status(TG_EINVAL, "%s: need a float [rows, %lld] tensor, got %s", fn,
                                s ? (long long)s->cols : 0LL,
                                x ? tg__shape_str(x).s : "NULL");
    for (int d = 0; d < 2; d++)
        if (x->shape[d] > 1 && x->stride[d] == 0)
            return tg__error_status(TG_EINVAL, "%s: x is an expanded view (its elements overlap)",
                                    fn);
    const double *a = s->shift, *b = s->scale;
    for (int64_t r = 0; r < x->shape[0]; r++)
        for (int64_t c = 0; c < s->cols; c++) {
            double v = get2(x, r, c);
            v = inverse ? v * b[c] + a[c] : (v - a[c]) / b[c];
            if (x->dtype == TG_F64)
                *f64_at(x, r, c) = v;
            else
                *f32_at(x, r, c) = (float)v;
        }
    return TG_OK;
}

tg_status tg_scaler_apply(const tg_scaler *s, tg_tensor *x)
{
    return scaler_run(s, x, false, "tg_scaler_apply");
}

tg_status tg_scaler_inverse(const tg_scaler *s, tg_tensor *x)
{
    return scaler_run(s, x, true, "tg_scaler_inverse");
}

tg_tensor *tg_scaler_transform(const tg_scaler *s, const tg_tensor *x)
{
    if (!s || !x || x->ndim != 2 || x->shape[1] != s->cols || !tg__is_float(x->dtype))
        return tg__error(TG_EINVAL, "tg_scaler_transform: need a float [rows, %lld] tensor, got %s",
                         s ? (long long)s->cols : 0LL, x ? tg__shape_str(x).s : "NULL");
    tg_tensor *out = tg_tensor_clone(x);
    if (!out)
        return tg__error(TG_ENOMEM, "tg_scaler_transform: out of memory");
    scaler_run(s, out, false, "tg_scaler_transform");
    return out;
}

void tg_scaler_free(tg_scaler **ps)
{
    if (!ps || !*ps)
        return;
    tg__mfree((*ps)->shift);
    tg__mfree(*ps);
    *ps = NULL;
}
