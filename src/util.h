/* Private to libtapegrad: the small utilities every module may use (src/tensor,
 * autograd, nn, optim, io, train, audio): errors with a message, allocation through the
 * user's hook, shape strings, checked integer arithmetic, the threading threshold.
 * Nothing here knows a tensor's storage or a tape's layout: the tensor layer's private
 * interface is src/tensor/kernels.h (for src/tensor and the op files of src/autograd
 * only), the tape's is src/autograd/internal.h (src/autograd only). */
#ifndef TG_UTIL_H
#define TG_UTIL_H

#include <stdarg.h>

#include "tensor/tensor.h"

#if defined(__GNUC__)
#define TG_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define TG_PRINTF(a, b)
#endif

/* a small hot helper split out of a loop for readability, inlined back (GCC, clang) */
#if defined(__GNUC__)
#define TG_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define TG_ALWAYS_INLINE inline
#endif

#define TG_ERRMSG 256

/* Work (elementwise kernels, optimizer updates) is split across threads only above this
 * many elements per call: below it the fork/join costs more than it saves. */
#define TG__PAR_MIN_ELEMS ((int64_t)1 << 15)

/* allocation through the hook (tg_set_allocator) */
void *tg__malloc(size_t n);
void *tg__calloc(size_t n);
void tg__mfree(void *p);

/* Errors. Outside a tape: the thread-local error read by tg_last_error (tg__error
 * returns NULL for convenience). On a tape: tg__fail records the first error (sticky)
 * and returns NULL; it is defined with the tape (src/autograd/tape.c). */
void *tg__error(tg_status s, const char *fmt, ...) TG_PRINTF(2, 3);
tg_status tg__error_status(tg_status s, const char *fmt, ...) TG_PRINTF(2, 3);
void *tg__fail(tg_tape *t, tg_status s, const char *fmt, ...) TG_PRINTF(3, 4);
/* The op guard (TG__GUARD in src/autograd/internal.h) for code outside src/autograd
 * that builds on the tape, such as a layer returning its input: false when t is NULL or
 * failed or an input is NULL (quietly), or an input is foreign or stale (an error). */
bool tg__tape_inputs_ok(tg_tape *t, const char *fn, int n, const tg_tensor *const *xs);

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
bool tg__is_float(tg_dtype d);

#endif
