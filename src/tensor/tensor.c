/* Persistent tensors: creation, RNG, element access, copies, hashing (views in view.c,
 * the allocation hook and errors in src/util.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "kernels.h"

void tg__init_header(tg_tensor *t, tg_dtype dt, int ndim, const int64_t *shape)
{
    memset(t, 0, sizeof *t);
    t->dtype = dt;
    t->ndim = ndim;
    t->node = -1;
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        t->shape[i] = shape[i];
        t->stride[i] = s;
        s *= shape[i] ? shape[i] : 1;
    }
}

int64_t tg_tensor_numel(const tg_tensor *t)
{
    if (!t)
        return 0;
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= t->shape[i];
    return n;
}

bool tg_tensor_is_contiguous(const tg_tensor *t)
{
    if (!t)
        return false;
    for (int i = 0; i < t->ndim; i++)
        if (t->shape[i] == 0)
            return true; /* no elements: any strides describe the one (empty) layout */
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->stride[i] != s)
            return false;
        s *= t->shape[i];
    }
    return true;
}

bool tg_tensor_same_shape(const tg_tensor *a, const tg_tensor *b)
{
    if (!a || !b || a->ndim != b->ndim)
        return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i])
            return false;
    return true;
}

int tg__broadcast_shape(const tg_tensor *a, const tg_tensor *b, int64_t *out)
{
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int i = 0; i < nd; i++) {
        int ia = i - (nd - a->ndim), ib = i - (nd - b->ndim);
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return -1;
        out[i] = da == 1 ? db : da;
    }
    return nd;
}

void tg__bstrides(const tg_tensor *t, int ndim, const int64_t *shape, int64_t *st)
{
    for (int i = 0; i < ndim; i++) {
        int k = i - (ndim - t->ndim);
        st[i] = (k >= 0 && t->shape[k] == shape[i]) ? t->stride[k] : 0;
    }
}

/* ---------------------------------------------------------------- creation */

static bool check_shape(int ndim, const int64_t *shape, int64_t *n, const char *fn)
{
    if (ndim < 0 || ndim > TG_MAX_DIMS) {
        tg__error(TG_EINVAL, "%s: rank %d outside 0..%d", fn, ndim, TG_MAX_DIMS);
        return false;
    }
    if (ndim > 0 && !shape) {
        tg__error(TG_EINVAL, "%s: shape is NULL", fn);
        return false;
    }
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0) {
            tg__error(TG_EINVAL, "%s: negative extent in shape %s", fn,
                      tg__dims_str(ndim, shape).s);
            return false;
        }
    if (!tg__numel(ndim, shape, n) || *n > INT64_MAX / 8) {
        tg__error(TG_EINVAL, "%s: shape %s is too large (its byte count overflows)", fn,
                  tg__dims_str(ndim, shape).s);
        return false;
    }
    return true;
}

/* new persistent tensor with (uninitialised unless zero) owned storage */
static tg_tensor *new_tensor(tg_dtype dt, int ndim, const int64_t *shape, void *mem, bool zero,
                             const char *fn)
{
    int64_t n;
    if ((unsigned)dt > TG_I32)
        return tg__error(TG_EDTYPE, "%s: unknown dtype %d", fn, (int)dt);
    if (!check_shape(ndim, shape, &n, fn))
        return NULL;
    tg_tensor *t = tg__malloc(sizeof *t);
    tg__storage *s = tg__malloc(sizeof *s);
    size_t bytes = (size_t)n * tg_dtype_size(dt);
    void *data = mem ? mem : (zero ? tg__calloc(bytes) : tg__malloc(bytes));
    if (!t || !s || !data) {
        tg__mfree(t);
        tg__mfree(s);
        if (!mem)
            tg__mfree(data);
        return tg__error(TG_ENOMEM, "%s: out of memory (%zu bytes)", fn, bytes);
    }
    tg__init_header(t, dt, ndim, shape);
    s->data = data;
    s->refcount = 1;
    s->owns = mem == NULL;
    atomic_init(&s->grad_holders, 0);
    atomic_init(&s->grad_lock, 0);
    t->storage = s;
    t->data = data;
    t->gen = TG__PERSISTENT_GEN;
    return t;
}

/* a new persistent header sharing x's storage (x must be persistent) */
tg_tensor *tg__tensor_share(const tg_tensor *x, const tg_tensor *view)
{
    tg_tensor *t = tg__malloc(sizeof *t);
    if (!t)
        return tg__error(TG_ENOMEM, "out of memory");
    *t = *view;
    t->grad = NULL;
    t->tape = NULL;
    t->gen = TG__PERSISTENT_GEN;
    t->node = -1;
    t->requires_grad = 0;
    t->label = NULL;
    t->storage = x->storage;
    t->data = x->data;
    x->storage->refcount++;
    return t;
}

tg_tensor *tg_zeros(tg_dtype dt, int ndim, const int64_t *shape)
{
    return new_tensor(dt, ndim, shape, NULL, true, "tg_zeros");
}

tg_tensor *tg_full(tg_dtype dt, int ndim, const int64_t *shape, double value)
{
    if (dt == TG_I32 && !tg__is_i32(value))
        return tg__error(TG_ERANGE, "tg_full: %g is not a whole number in the i32 range", value);
    tg_tensor *t = new_tensor(dt, ndim, shape, NULL, false, "tg_full");
    if (t)
        tg__k_fill(t, value);
    return t;
}

tg_tensor *tg_ones(tg_dtype dt, int ndim, const int64_t *shape)
{
    tg_tensor *t = new_tensor(dt, ndim, shape, NULL, false, "tg_ones");
    if (t)
        tg__k_fill(t, 1.0);
    return t;
}

tg_tensor *tg_tensor_from(tg_dtype dt, int ndim, const int64_t *shape, const void *src)
{
    if (!src)
        return tg__error(TG_EINVAL, "tg_tensor_from: src is NULL");
    tg_tensor *t = new_tensor(dt, ndim, shape, NULL, false, "tg_tensor_from");
    if (t)
        memcpy(t->data, src, (size_t)tg_tensor_numel(t) * tg_dtype_size(dt));
    return t;
}

tg_tensor *tg_tensor_wrap(tg_dtype dt, int ndim, const int64_t *shape, void *mem)
{
    if (!mem)
        return tg__error(TG_EINVAL, "tg_tensor_wrap: memory is NULL");
    if ((unsigned)dt <= TG_I32 && (uintptr_t)mem % tg_dtype_size(dt))
        return tg__error(TG_EINVAL, "tg_tensor_wrap: memory %p is not aligned to %zu bytes for %s",
                         mem, tg_dtype_size(dt), tg_dtype_name(dt));
    return new_tensor(dt, ndim, shape, mem, false, "tg_tensor_wrap");
}

tg_tensor *tg_arange(tg_dtype dt, double start, double stop, double step)
{
    if (step == 0 || !isfinite(step) || !isfinite(start) || !isfinite(stop))
        return tg__error(TG_EINVAL, "tg_arange: invalid range (%g, %g, %g)", start, stop, step);
    double cnt = ceil((stop - start) / step);
    if (cnt < 0)
        cnt = 0;
    if (cnt > 1e15)
        return tg__error(TG_EINVAL, "tg_arange: too many elements");
    if (dt == TG_I32 && cnt > 0 &&
        !(tg__is_i32(start) && tg__is_i32(step) && tg__is_i32(start + (cnt - 1) * step)))
        return tg__error(TG_ERANGE, "tg_arange: i32 range (%g, %g, %g) needs whole numbers in "
                                    "the i32 range", start, stop, step);
    int64_t n = (int64_t)cnt;
    tg_tensor *t = new_tensor(dt, 1, &n, NULL, false, "tg_arange");
    for (int64_t i = 0; t && i < n; i++)
        tg_tensor_set_flat(t, i, start + (double)i * step);
    return t;
}

void tg_tensor_free(tg_tensor **pt)
{
    if (!pt || !*pt)
        return;
    tg_tensor *t = *pt;
    *pt = NULL;
    if (t->tape)
        return; /* tape tensors belong to their tape */
    tg__set_requires_grad(t, false);
    tg_tensor_free(&t->grad);
    if (t->storage && --t->storage->refcount == 0) {
        if (t->storage->owns)
            tg__mfree(t->storage->data);
        tg__mfree(t->storage);
    }
    tg__mfree(t);
}

void tg__set_requires_grad(tg_tensor *x, bool on)
{
    if (!x->tape && x->storage && (bool)x->requires_grad != on)
        atomic_fetch_add(&x->storage->grad_holders, on ? 1 : -1);
    x->requires_grad = on;
}

tg_tensor *tg_tensor_clone(const tg_tensor *t)
{
    if (!t)
        return tg__error(TG_EINVAL, "tg_tensor_clone: NULL tensor");
    tg_tensor *c = new_tensor(t->dtype, t->ndim, t->shape, NULL, false, "tg_tensor_clone");
    if (c)
        tg__k_unary(c, t, TG_U_COPY, 0);
    return c;
}

/* --------------------------------------------------------------------- RNG */

uint64_t tg_rng_u64(uint64_t seed, uint64_t stream, uint64_t counter)
{
    uint64_t in[2] = {stream, counter};
    return XXH3_64bits_withSeed(in, sizeof in, seed);
}

double tg_rng_uniform01(uint64_t seed, uint64_t stream, uint64_t counter)
{
    return (double)(tg_rng_u64(seed, stream, counter) >> 11) * 0x1.0p-53;
}

double tg_rng_normal(uint64_t seed, uint64_t stream, uint64_t counter)
{
    /* Box-Muller on two uniforms drawn from disjoint counters 2c and 2c+1 */
    double u1 = 1.0 - tg_rng_uniform01(seed, stream, 2 * counter); /* (0,1] */
    double u2 = tg_rng_uniform01(seed, stream, 2 * counter + 1);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}

static tg_tensor *rand_fill(tg_dtype dt, int ndim, const int64_t *shape, double a, double b,
                            uint64_t seed, uint64_t stream, bool normal, const char *fn)
{
    if (!tg__is_float(dt))
        return tg__error(TG_EDTYPE, "%s: dtype must be f32 or f64, not %s", fn, tg_dtype_name(dt));
    if (!isfinite(a) || !isfinite(b) || (normal ? b < 0 : b < a))
        return tg__error(TG_EINVAL, "%s: invalid parameters (%g, %g)", fn, a, b);
    tg_tensor *t = new_tensor(dt, ndim, shape, NULL, false, fn);
    if (!t)
        return NULL;
    int64_t n = tg_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) {
        double v = normal ? a + b * tg_rng_normal(seed, stream, (uint64_t)i)
                          : a + (b - a) * tg_rng_uniform01(seed, stream, (uint64_t)i);
        if (dt == TG_F32) {
            float f = (float)v;
            if (!normal && f >= (float)b) /* rounding must not reach hi */
                f = nextafterf((float)b, -INFINITY);
            ((float *)t->data)[i] = f;
        } else {
            ((double *)t->data)[i] = v;
        }
    }
    return t;
}

tg_tensor *tg_rand_uniform(tg_dtype dt, int ndim, const int64_t *shape, double lo, double hi,
                           uint64_t seed, uint64_t stream)
{
    return rand_fill(dt, ndim, shape, lo, hi, seed, stream, false, "tg_rand_uniform");
}

tg_tensor *tg_rand_normal(tg_dtype dt, int ndim, const int64_t *shape, double mean, double std,
                          uint64_t seed, uint64_t stream)
{
    return rand_fill(dt, ndim, shape, mean, std, seed, stream, true, "tg_rand_normal");
}

/* ---------------------------------------------------------- element access */

static int64_t offset_of_flat(const tg_tensor *t, int64_t i)
{
    int64_t off = t->offset;
    for (int k = t->ndim - 1; k >= 0; k--) {
        int64_t sz = t->shape[k];
        off += (i % sz) * t->stride[k];
        i /= sz;
    }
    return off;
}

static double load(const tg_tensor *t, int64_t off)
{
    switch (t->dtype) {
    case TG_F32: return ((const float *)t->data)[off];
    case TG_F64: return ((const double *)t->data)[off];
    case TG_I32: return ((const int32_t *)t->data)[off];
    }
    return NAN;
}

static void store(tg_tensor *t, int64_t off, double v)
{
    switch (t->dtype) {
    case TG_F32: ((float *)t->data)[off] = (float)v; break;
    case TG_F64: ((double *)t->data)[off] = v; break;
    case TG_I32: ((int32_t *)t->data)[off] = tg__to_i32(v); break;
    }
}

/* an i32 element takes whole numbers in the int32 range only (values given one by one:
 * refused; bulk conversions saturate instead, see tg__to_i32) */
static bool value_fits(const tg_tensor *t, double v, const char *fn)
{
    if (t->dtype != TG_I32 || tg__is_i32(v))
        return true;
    tg__error(TG_ERANGE, "%s: %g is not a whole number in the i32 range", fn, v);
    return false;
}

static bool index_offset(const tg_tensor *t, const int64_t *idx, int64_t *off, const char *fn)
{
    if (!t) {
        tg__error(TG_EINVAL, "%s: NULL tensor", fn);
        return false;
    }
    if (t->ndim && !idx) {
        tg__error(TG_EINVAL, "%s: index is NULL", fn);
        return false;
    }
    int64_t o = t->offset;
    for (int k = 0; k < t->ndim; k++) {
        if (idx[k] < 0 || idx[k] >= t->shape[k]) {
            tg__error(TG_ERANGE, "%s: index %lld out of range for axis %d of %s", fn,
                      (long long)idx[k], k, tg__shape_str(t).s);
            return false;
        }
        o += idx[k] * t->stride[k];
    }
    *off = o;
    return true;
}

double tg_tensor_get(const tg_tensor *t, const int64_t *index)
{
    int64_t off;
    return index_offset(t, index, &off, "tg_tensor_get") ? load(t, off) : NAN;
}

tg_status tg_tensor_set(tg_tensor *t, const int64_t *index, double value)
{
    int64_t off;
    if (!index_offset(t, index, &off, "tg_tensor_set"))
        return t && index ? TG_ERANGE : TG_EINVAL;
    if (!value_fits(t, value, "tg_tensor_set"))
        return TG_ERANGE;
    store(t, off, value);
    return TG_OK;
}

double tg_tensor_get_flat(const tg_tensor *t, int64_t i)
{
    if (!t) {
        tg__error(TG_EINVAL, "tg_tensor_get_flat: NULL tensor");
        return NAN;
    }
    if (i < 0 || i >= tg_tensor_numel(t)) {
        tg__error(TG_ERANGE, "tg_tensor_get_flat: index %lld out of range", (long long)i);
        return NAN;
    }
    return load(t, offset_of_flat(t, i));
}

tg_status tg_tensor_set_flat(tg_tensor *t, int64_t i, double value)
{
    if (!t)
        return tg__error_status(TG_EINVAL, "tg_tensor_set_flat: NULL tensor");
    if (i < 0 || i >= tg_tensor_numel(t))
        return tg__error_status(TG_ERANGE, "tg_tensor_set_flat: index %lld out of range",
                                (long long)i);
    if (!value_fits(t, value, "tg_tensor_set_flat"))
        return TG_ERANGE;
    store(t, offset_of_flat(t, i), value);
    return TG_OK;
}

/* the bytes [*lo, *hi) that t's elements occupy (lo == hi for an empty tensor) */
static void byte_span(const tg_tensor *t, uintptr_t *lo, uintptr_t *hi)
{
    int64_t first = t->offset, last = t->offset;
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] == 0) {
            *lo = *hi = (uintptr_t)t->data;
            return;
        }
        int64_t reach = (t->shape[d] - 1) * t->stride[d];
        if (reach < 0)
            first += reach;
        else
            last += reach;
    }
    size_t es = tg_dtype_size(t->dtype);
    *lo = (uintptr_t)t->data + (uintptr_t)first * es;
    *hi = (uintptr_t)t->data + (uintptr_t)(last + 1) * es;
}

/* whether writing a's elements may change b's (their bytes overlap) */
static bool overlap(const tg_tensor *a, const tg_tensor *b)
{
    uintptr_t alo, ahi, blo, bhi;
    byte_span(a, &alo, &ahi);
    byte_span(b, &blo, &bhi);
    return alo < ahi && blo < bhi && alo < bhi && blo < ahi;
}

/* dst = src elementwise (converted); through a contiguous copy of src when their
 * memory overlaps, so every element is read before any is overwritten */
static tg_status copy_elements(tg_tensor *dst, const tg_tensor *src, const char *fn)
{
    if (!overlap(dst, src)) {
        tg__k_unary(dst, src, TG_U_COPY, 0);
        return TG_OK;
    }
    tg_tensor tmp;
    tg__init_header(&tmp, src->dtype, src->ndim, src->shape);
    size_t bytes = (size_t)tg_tensor_numel(src) * tg_dtype_size(src->dtype);
    tmp.data = tg__malloc(bytes);
    if (!tmp.data)
        return tg__error_status(TG_ENOMEM, "%s: out of memory (%zu bytes for an overlapping "
                                           "source)", fn, bytes);
    tg__k_unary(&tmp, src, TG_U_COPY, 0);
    tg__k_unary(dst, &tmp, TG_U_COPY, 0);
    tg__mfree(tmp.data);
    return TG_OK;
}

tg_status tg_tensor_copy_out(const tg_tensor *t, tg_dtype dt, void *dst)
{
    if (!t || !dst)
        return tg__error_status(TG_EINVAL, "tg_tensor_copy_out: NULL argument");
    if ((unsigned)dt > TG_I32)
        return tg__error_status(TG_EDTYPE, "tg_tensor_copy_out: unknown dtype %d", (int)dt);
    if ((uintptr_t)dst % tg_dtype_size(dt))
        return tg__error_status(TG_EINVAL, "tg_tensor_copy_out: dst %p is not aligned to %zu "
                                           "bytes for %s", dst, tg_dtype_size(dt),
                                tg_dtype_name(dt));
    tg_tensor d;
    tg__init_header(&d, dt, t->ndim, t->shape);
    d.data = dst;
    return copy_elements(&d, t, "tg_tensor_copy_out");
}

tg_status tg_tensor_copy(tg_tensor *dst, const tg_tensor *src)
{
    if (!dst || !src)
        return tg__error_status(TG_EINVAL, "tg_tensor_copy: NULL argument");
    if (!tg_tensor_same_shape(dst, src))
        return tg__error_status(TG_ESHAPE, "tg_tensor_copy: shapes differ: %s vs %s",
                                tg__shape_str(dst).s, tg__shape_str(src).s);
    return copy_elements(dst, src, "tg_tensor_copy");
}

tg_status tg_tensor_fill(tg_tensor *t, double value)
{
    if (!t)
        return tg__error_status(TG_EINVAL, "tg_tensor_fill: NULL tensor");
    if (!value_fits(t, value, "tg_tensor_fill"))
        return TG_ERANGE;
    tg__k_fill(t, value);
    return TG_OK;
}

uint64_t tg_tensor_hash(const tg_tensor *t)
{
    if (!t)
        return 0;
    XXH3_state_t st;
    XXH3_64bits_reset(&st);
    int32_t head[2] = {(int32_t)t->dtype, (int32_t)t->ndim};
    XXH3_64bits_update(&st, head, sizeof head);
    XXH3_64bits_update(&st, t->shape, sizeof(int64_t) * (size_t)t->ndim);
    size_t es = tg_dtype_size(t->dtype);
    if (tg_tensor_is_contiguous(t)) {
        XXH3_64bits_update(&st, (const char *)t->data + (size_t)t->offset * es,
                           (size_t)tg_tensor_numel(t) * es);
    } else {
        /* walk the view in row-major order, one contiguous chunk buffer at a time */
        char buf[4096];
        size_t used = 0;
        int64_t n = tg_tensor_numel(t);
        for (int64_t i = 0; i < n; i++) {
            memcpy(buf + used, (const char *)t->data + (size_t)offset_of_flat(t, i) * es, es);
            used += es;
            if (used == sizeof buf) {
                XXH3_64bits_update(&st, buf, used);
                used = 0;
            }
        }
        XXH3_64bits_update(&st, buf, used);
    }
    return XXH3_64bits_digest(&st);
}

