/* CSV loading, row selection, mini-batches, splits, k-fold and scalers. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../tensor/internal.h"
#include "prep.h"

/* ------------------------------------------------------------------- CSV */

tg_csv_opts tg_csv_defaults(void)
{
    tg_csv_opts o = {.header = false, .label_column = -1, .delimiter = ',', .dtype = TG_F32};
    return o;
}

/* the whole file, NUL-terminated; NULL with *st set (TG_EIO or TG_ENOMEM) */
static char *slurp(const char *path, size_t *len, tg_status *st)
{
    FILE *f = fopen(path, "rb");
    *st = TG_EIO;
    if (!f) {
        tg__error(TG_EIO, "tg_csv_load: cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = tg__malloc(cap + 1);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap)
            break;
        char *bigger = tg__malloc(2 * cap + 1);
        if (bigger)
            memcpy(bigger, buf, n);
        tg__mfree(buf);
        buf = bigger;
        cap *= 2;
    }
    bool err = ferror(f);
    fclose(f);
    if (!buf || err) {
        *st = buf ? TG_EIO : TG_ENOMEM;
        tg__mfree(buf);
        tg__error(*st, "tg_csv_load: cannot read %s", path);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

/* one pass counts rows/columns and validates; a second fills (fill == true) */
static tg_status csv_pass(const char *path, char *text, const tg_csv_opts *o, bool fill,
                          int64_t *rows, int64_t *cols, tg_tensor *x, tg_tensor *y)
{
    int64_t line = 0, r = 0, ncols = -1;
    char *p = text;
    while (*p) {
        char *end = strchr(p, '\n');
        if (end)
            *end = 0;
        line++;
        size_t L = strlen(p);
        if (L && p[L - 1] == '\r')
            p[L - 1] = ' '; /* CRLF: a trailing blank (not NUL: the text is read twice) */
        bool blank = strspn(p, " \t") == L;
        bool skip = (o->header && line == 1) || blank;
        if (!skip) {
            int64_t c = 0, feat = 0;
            char *cell = p;
            for (;;) {
                char *sep = strchr(cell, o->delimiter);
                if (sep)
                    *sep = 0;
                char *num_end;
                errno = 0;
                double v = strtod(cell, &num_end);
                while (*num_end == ' ' || *num_end == '\t')
                    num_end++;
                if (num_end == cell || *num_end || errno == ERANGE)
                    return tg__error_status(TG_EFORMAT, "tg_csv_load: %s:%lld:%lld: not a number: '%s'",
                                            path, (long long)line, (long long)c + 1, cell);
                if (c == o->label_column) {
                    if (v != floor(v) || fabs(v) > 2147483647.0)
                        return tg__error_status(TG_EFORMAT,
                                                "tg_csv_load: %s:%lld:%lld: label '%s' is not an integer",
                                                path, (long long)line, (long long)c + 1, cell);
                    if (fill)
                        ((int32_t *)y->data)[r] = (int32_t)v;
                } else {
                    if (fill)
                        tg_tensor_set_flat(x, r * *cols + feat, v);
                    feat++;
                }
                c++;
                if (sep)
                    *sep = o->delimiter; /* the text stays intact for the second pass */
                if (!sep)
                    break;
                cell = sep + 1;
            }
            if (ncols < 0)
                ncols = c;
            else if (c != ncols)
                return tg__error_status(TG_EFORMAT,
                                        "tg_csv_load: %s:%lld: ragged row: %lld columns, expected %lld",
                                        path, (long long)line, (long long)c, (long long)ncols);
            r++;
        }
        if (!end)
            break;
        *end = '\n';
        p = end + 1;
    }
    if (r == 0)
        return tg__error_status(TG_EFORMAT, "tg_csv_load: %s: no data rows", path);
    if (o->label_column >= ncols)
        return tg__error_status(TG_EFORMAT, "tg_csv_load: %s: label column %d but only %lld columns",
                                path, o->label_column, (long long)ncols);
    *rows = r;
    *cols = ncols - (o->label_column >= 0 ? 1 : 0);
    return TG_OK;
}

tg_status tg_csv_load(const char *path, const tg_csv_opts *opts, tg_tensor **x,
                      tg_tensor **labels)
{
    tg_csv_opts o = opts ? *opts : tg_csv_defaults();
    if (!path || !x || (o.label_column >= 0 && !labels))
        return tg__error_status(TG_EINVAL, "tg_csv_load: NULL argument");
    if (!tg__is_float(o.dtype) || o.delimiter == 0 || o.delimiter == '\n' || o.label_column < -1)
        return tg__error_status(TG_EINVAL, "tg_csv_load: invalid options");
    *x = NULL;
    if (labels)
        *labels = NULL;
    size_t len;
    tg_status s;
    char *text = slurp(path, &len, &s);
    if (!text)
        return s;
    int64_t rows = 0, cols = 0;
    s = csv_pass(path, text, &o, false, &rows, &cols, NULL, NULL);
    if (s == TG_OK) {
        *x = tg_zeros(o.dtype, 2, (int64_t[]){rows, cols});
        if (o.label_column >= 0)
            *labels = tg_zeros(TG_I32, 1, &rows);
        if (!*x || (o.label_column >= 0 && !*labels))
            s = TG_ENOMEM;
        else
            s = csv_pass(path, text, &o, true, &rows, &cols, *x, labels ? *labels : NULL);
    }
    tg__mfree(text);
    if (s != TG_OK) {
        tg_tensor_free(x);
        if (labels)
            tg_tensor_free(labels);
    }
    return s;
}

/* ------------------------------------------------------------ row selection */

void tg_permutation(int64_t n, uint64_t seed, uint64_t stream, int64_t *perm)
{
    for (int64_t i = 0; i < n; i++)
        perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(tg_rng_u64(seed, stream, (uint64_t)i) % (uint64_t)(i + 1));
        int64_t tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
    }
}

static int64_t row_elems(const tg_tensor *t) { return t->ndim > 1 ? tg_tensor_numel(t) / t->shape[0] : 1; }

/* copies rows idx[0..n-1] of src into the first n rows of dst (same row size) */
static void copy_rows(tg_tensor *dst, const tg_tensor *src, int64_t n, const int64_t *idx)
{
    size_t es = tg_dtype_size(src->dtype), row = (size_t)row_elems(src) * es;
    const tg_tensor *s = src;
    for (int64_t i = 0; i < n; i++)
        memcpy((char *)dst->data + (size_t)i * row,
               (const char *)s->data + ((size_t)s->offset * es) + (size_t)idx[i] * row, row);
}

tg_tensor *tg_take_rows(const tg_tensor *t, int64_t n, const int64_t *idx)
{
    if (!t || t->ndim < 1 || t->ndim > 2 || n < 0 || (n && !idx))
        return tg__error(TG_EINVAL, "tg_take_rows: need a 1-D or 2-D tensor and indices");
    if (!tg_tensor_is_contiguous(t))
        return tg__error(TG_EINVAL, "tg_take_rows: tensor must be contiguous");
    for (int64_t i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= t->shape[0])
            return tg__error(TG_ERANGE, "tg_take_rows: row %lld outside [0, %lld)",
                             (long long)idx[i], (long long)t->shape[0]);
    int64_t shape[2] = {n, t->ndim > 1 ? t->shape[1] : 0};
    tg_tensor *out = tg_zeros(t->dtype, t->ndim, shape);
    if (out)
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
    if (!x || x->ndim < 1 || x->ndim > 2 || batch < 1 || !tg_tensor_is_contiguous(x) ||
        (y && (y->ndim < 1 || y->ndim > 2 || y->shape[0] != x->shape[0] ||
               !tg_tensor_is_contiguous(y))))
        return tg__error(TG_EINVAL,
                         "tg_batcher_new: need contiguous 1-D/2-D x (and y with as many rows) "
                         "and batch >= 1");
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
    int64_t xs[2] = {b->batch, x->ndim > 1 ? x->shape[1] : 0};
    int64_t ys[2] = {b->batch, y && y->ndim > 1 ? y->shape[1] : 0};
    b->xb = tg_zeros(x->dtype, x->ndim, xs);
    b->yb = y ? tg_zeros(y->dtype, y->ndim, ys) : NULL;
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

/* rows perm[lo..hi) of x and y into new tensors */
static tg_status take_part(const tg_tensor *x, const tg_tensor *y, const int64_t *perm, int64_t lo,
                           int64_t hi, tg_tensor **xo, tg_tensor **yo)
{
    *xo = tg_take_rows(x, hi - lo, perm + lo);
    if (yo)
        *yo = y ? tg_take_rows(y, hi - lo, perm + lo) : NULL;
    if (!*xo || (y && yo && !*yo)) {
        tg_tensor_free(xo);
        if (yo)
            tg_tensor_free(yo);
        return TG_ENOMEM;
    }
    return TG_OK;
}

static bool rows_match(const tg_tensor *x, const tg_tensor *y)
{
    return x && x->ndim >= 1 && x->ndim <= 2 && (!y || (y->ndim >= 1 && y->shape[0] == x->shape[0]));
}

tg_status tg_split(const tg_tensor *x, const tg_tensor *y, double val_frac, double test_frac,
                   uint64_t seed, tg_tensor **x_train, tg_tensor **y_train, tg_tensor **x_val,
                   tg_tensor **y_val, tg_tensor **x_test, tg_tensor **y_test)
{
    if (!rows_match(x, y) || !x_train || !x_val || !x_test)
        return tg__error_status(TG_EINVAL, "tg_split: need x (and y with as many rows) and outputs");
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
        tg_tensor **all[] = {x_train, y_train, x_val, y_val, x_test, y_test};
        for (int i = 0; i < 6; i++)
            if (all[i])
                tg_tensor_free(all[i]);
        return tg__error_status(s, "tg_split: out of memory");
    }
    return TG_OK;
}

tg_status tg_kfold(const tg_tensor *x, const tg_tensor *y, int k, int fold, uint64_t seed,
                   tg_tensor **x_train, tg_tensor **y_train, tg_tensor **x_val, tg_tensor **y_val)
{
    if (!rows_match(x, y) || !x_train || !x_val)
        return tg__error_status(TG_EINVAL, "tg_kfold: need x (and y with as many rows) and outputs");
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
        tg_tensor_free(x_val);
        if (y_val)
            tg_tensor_free(y_val);
        return tg__error_status(s, "tg_kfold: out of memory");
    }
    return TG_OK;
}

/* --------------------------------------------------------------- scalers */

struct tg_scaler {
    tg_scale_kind kind;
    int64_t cols;
    double *shift, *scale; /* x' = (x - shift) / scale */
};

tg_scaler *tg_scaler_fit(tg_scale_kind kind, const tg_tensor *x)
{
    if (!x || x->ndim != 2 || x->shape[0] < 1 || !tg__is_float(x->dtype) ||
        (kind != TG_SCALE_STANDARD && kind != TG_SCALE_MINMAX))
        return tg__error(TG_EINVAL, "tg_scaler_fit: need a float [rows >= 1, cols] tensor and a kind");
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
    for (int64_t c = 0; c < cols; c++) {
        double a = 0, b = 0;
        if (kind == TG_SCALE_STANDARD) {
            for (int64_t r = 0; r < rows; r++)
                a += tg_tensor_get(x, (int64_t[]){r, c});
            a /= (double)rows;
            for (int64_t r = 0; r < rows; r++) {
                double d = tg_tensor_get(x, (int64_t[]){r, c}) - a;
                b += d * d;
            }
            b = sqrt(b / (double)rows);
        } else {
            double lo = INFINITY, hi = -INFINITY;
            for (int64_t r = 0; r < rows; r++) {
                double v = tg_tensor_get(x, (int64_t[]){r, c});
                lo = fmin(lo, v);
                hi = fmax(hi, v);
            }
            a = lo;
            b = hi - lo;
        }
        s->shift[c] = a;
        s->scale[c] = b > 0 ? b : 1.0; /* constant column: shift only */
    }
    return s;
}

tg_status tg_scaler_apply(const tg_scaler *s, tg_tensor *x)
{
    if (!s || !x || x->ndim != 2 || x->shape[1] != s->cols || !tg__is_float(x->dtype))
        return tg__error_status(TG_EINVAL, "tg_scaler_apply: need a float [rows, %lld] tensor",
                                s ? (long long)s->cols : 0LL);
    for (int64_t r = 0; r < x->shape[0]; r++)
        for (int64_t c = 0; c < s->cols; c++) {
            int64_t idx[2] = {r, c};
            tg_tensor_set(x, idx, (tg_tensor_get(x, idx) - s->shift[c]) / s->scale[c]);
        }
    return TG_OK;
}

void tg_scaler_free(tg_scaler **ps)
{
    if (!ps || !*ps)
        return;
    tg__mfree((*ps)->shift);
    tg__mfree(*ps);
    *ps = NULL;
}
