/* Private to libtapegrad: helpers shared between the library's files (tg__ names). */
#ifndef TG_TENSOR_INTERNAL_H
#define TG_TENSOR_INTERNAL_H

#include <stdarg.h>
#include <stdatomic.h>

#include "tensor.h"

#if defined(__GNUC__)
#define TG_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define TG_PRINTF(a, b)
#endif

#define TG_ERRMSG 256

/* Work (elementwise kernels, optimizer updates) is split across threads only above this
 * many elements per call: below it the fork/join costs more than it saves. */
#define TG__PAR_MIN_ELEMS ((int64_t)1 << 15)

/* refcounted storage of persistent tensors */
struct tg__storage {
    void *data;
    int64_t refcount;
    bool owns;          /* false for tg_tensor_wrap */
    atomic_int grad_holders; /* headers on this storage that require grad */
    atomic_int grad_lock;    /* 1 while a backward adds into a .grad of a header here */
};

/* tg_tensor.gen of every persistent header (tape tensors hold their tape's generation,
 * counted from 1): with tape == NULL it tells a persistent tensor from arena memory that
 * a reset handed to newer tensors, so a stale tape tensor is never taken for one */
#define TG__PERSISTENT_GEN 0x7A9E5C3Bu

/* sets x->requires_grad, keeping its storage's count of headers that require grad
 * (persistent views of such a storage are refused by recording ops) */
void tg__set_requires_grad(tg_tensor *x, bool on);

/* allocation through the hook (tg_set_allocator) */
void *tg__malloc(size_t n);
void *tg__calloc(size_t n);
void tg__mfree(void *p);

/* thread-local error for calls outside a tape; returns NULL for convenience */
void *tg__error(tg_status s, const char *fmt, ...) TG_PRINTF(2, 3);
tg_status tg__error_status(tg_status s, const char *fmt, ...) TG_PRINTF(2, 3);

/* "[32,784]" rendering of a shape, valid for the full expression it is used in */
typedef struct { char s[112]; } tg__shapebuf;
tg__shapebuf tg__shape_str(const tg_tensor *t);
tg__shapebuf tg__dims_str(int ndim, const int64_t *shape);

/* checked int64 arithmetic: *r = a * b (or a + b); false, *r untouched, on overflow */
static inline bool tg__mul_ok(int64_t a, int64_t b, int64_t *r)
{
    if (a && b) {
        if (a > 0 ? (b > 0 ? a > INT64_MAX / b : b < INT64_MIN / a)
                  : (b > 0 ? a < INT64_MIN / b : a < INT64_MAX / b))
            return false;
    }
    *r = a * b;
    return true;
}
static inline bool tg__add_ok(int64_t a, int64_t b, int64_t *r)
{
    if (b > 0 ? a > INT64_MAX - b : a < INT64_MIN - b)
        return false;
    *r = a + b;
    return true;
}
/* a * b for a, b >= 0, saturating at INT64_MAX (for size thresholds) */
static inline int64_t tg__mul_sat(int64_t a, int64_t b)
{
    int64_t r;
    return tg__mul_ok(a, b, &r) ? r : INT64_MAX;
}

/* double -> i32 as every bulk conversion does it: toward zero, saturating at the int32
 * bounds, NaN -> 0 (a plain cast is undefined for those) */
static inline int32_t tg__to_i32(double v)
{
    if (!(v == v))
        return 0;
    if (v >= 2147483647.0)
        return INT32_MAX;
    if (v <= -2147483648.0)
        return INT32_MIN;
    return (int32_t)v;
}
/* whether v is stored exactly in an i32 tensor's element (whole, in range) */
static inline bool tg__is_i32(double v)
{
    return v >= -2147483648.0 && v <= 2147483647.0 && v == (double)(int64_t)v;
}

/* element count of a shape with overflow check; false (and *n untouched) on a negative
 * extent or when the product of the nonzero extents (the largest contiguous stride)
 * overflows, also for an empty shape */
bool tg__numel(int ndim, const int64_t *shape, int64_t *n);
/* fills dtype/ndim/shape and contiguous strides; offset 0; everything else zeroed */
void tg__init_header(tg_tensor *t, tg_dtype dt, int ndim, const int64_t *shape);
bool tg__is_float(tg_dtype d);

/* View arithmetic shared by persistent views and tape ops. Each fills `out` (a header
 * whose data/storage fields are copied from x) or returns a status with a message in
 * err (prefixed by the caller's op name). */
tg_status tg__view_reshape(tg_tensor *out, const tg_tensor *x, int ndim, const int64_t *shape,
                           char *err, size_t errsz);
tg_status tg__view_permute(tg_tensor *out, const tg_tensor *x, const int *perm, char *err,
                           size_t errsz);
tg_status tg__view_slice(tg_tensor *out, const tg_tensor *x, const int64_t *start,
                         const int64_t *stop, const int64_t *step, char *err, size_t errsz);
tg_status tg__view_expand(tg_tensor *out, const tg_tensor *x, int ndim, const int64_t *shape,
                          char *err, size_t errsz);
/* NumPy broadcast of two shapes into out_shape (returns ndim, or -1 if incompatible) */
int tg__broadcast_shape(const tg_tensor *a, const tg_tensor *b, int64_t *out_shape);

#include "kernels.h"

#endif
