/* Row selection, mini-batches, splits, k-fold and scalers (the CSV loader is csv.c). */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../util.h"
#include "prep.h"

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
