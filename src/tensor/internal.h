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

/* ---- kernels (no tapes): operate on headers whose data is allocated ---- */

/* strided N-d iteration over up to 3 operands sharing one iteration shape; the last
 * dimension is handled by the caller's inner loop */
typedef struct tg__iter {
    int nd;                       /* outer dims (iteration shape minus the inner one) */
    int nops;
    int64_t shape[TG_MAX_DIMS];
    int64_t st[3][TG_MAX_DIMS];
    int64_t idx[TG_MAX_DIMS];
    int64_t off[3];
    int64_t inner;                /* length of the inner loop */
    int64_t ist[3];               /* inner strides */
    int64_t count;                /* inner rows left */
    bool first;
} tg__iter;
/* Sets up iteration over `shape` (ndim dims) for nops operands with the given strides
 * (already broadcast: 0 on broadcast axes) and base offsets. Adjacent dimensions that
 * are contiguous for every operand are merged. */
void tg__iter_init(tg__iter *it, int ndim, const int64_t *shape, int nops,
                   const int64_t *const *strides, const int64_t *offsets);
/* Advances to the next inner row; false when done. Call once before the first row. */
bool tg__iter_next(tg__iter *it);
/* strides of t broadcast to an ndim-dim shape (0 on new or size-1-expanded axes) */
void tg__bstrides(const tg_tensor *t, int ndim, const int64_t *shape, int64_t *st);

/* elementwise op codes shared by kernels and autograd */
typedef enum tg__uop {
    TG_U_NEG, TG_U_EXP, TG_U_LOG, TG_U_SQRT, TG_U_ABS, TG_U_RELU, TG_U_LEAKY_RELU,
    TG_U_SIGMOID, TG_U_TANH, TG_U_GELU, TG_U_SOFTPLUS, TG_U_ADD_SCALAR, TG_U_MUL_SCALAR,
    TG_U_POW_SCALAR, TG_U_SIGN, TG_U_COPY
} tg__uop;
typedef enum tg__bop {
    TG_B_ADD, TG_B_SUB, TG_B_MUL, TG_B_DIV,
    TG_B_RELU_BWD,        /* g * (x > 0) */
    TG_B_LEAKY_RELU_BWD,  /* g * (x > 0 ? 1 : alpha) */
    TG_B_SIGMOID_BWD,     /* g * y * (1 - y), y = sigmoid output */
    TG_B_TANH_BWD,        /* g * (1 - y^2), y = tanh output */
    TG_B_GELU_BWD         /* g * (Phi(x) + x phi(x)) */
} tg__bop;

/* out = f(x) elementwise; out contiguous with x's shape; same dtype (F32/F64) except
 * TG_U_COPY, which converts between any dtypes and accepts any layout for out. */
void tg__k_unary(tg_tensor *out, const tg_tensor *x, tg__uop op, double p0);
/* out = f(a, b) with broadcasting; out contiguous with the broadcast shape */
void tg__k_binary(tg_tensor *out, const tg_tensor *a, const tg_tensor *b, tg__bop op, double p0);
/* out += x (same shape, same float dtype; out may be any layout without overlap) */
void tg__k_accumulate(tg_tensor *out, const tg_tensor *x);
/* sum of x over the axes in `mask` (bit k = axis k), times scale, into out, which has
 * x's rank with size 1 on reduced axes (keepdim layout, any strides); out is
 * overwritten. Accumulated in double for every dtype and layout, rounded once. */
void tg__k_sum(tg_tensor *out, const tg_tensor *x, uint32_t mask, double scale);
/* max over one axis: out (keepdim layout) gets the maxima; if mask != NULL it gets a
 * 0/1 tensor of x's shape marking the first maximum of each row */
void tg__k_max(tg_tensor *out, tg_tensor *mask, const tg_tensor *x, int axis);
/* softmax / log-softmax over one axis (row max subtracted); out contiguous, x's shape;
 * an empty axis gives an empty output (nothing is read or written) */
void tg__k_softmax(tg_tensor *out, const tg_tensor *x, int axis, bool log);
/* Inverted dropout in place on a contiguous float tensor: element i is kept (and
 * scaled by 1/(1-rate)) iff its 16-bit draw u_i satisfies u_i >= rate * 65536, where
 * u_i is bits 16(i mod 4) .. 16(i mod 4)+15 of tg_rng_u64(seed, stream, i / 4). The
 * mask depends only on (seed, stream, i): regenerated, never stored; any thread split
 * gives the same bits. */
void tg__k_dropout_mask(tg_tensor *t, double rate, uint64_t seed, uint64_t stream);
/* fill every element */
void tg__k_fill(tg_tensor *t, double v);
/* matrix product of the last two dims, batch dims broadcast; out contiguous with the
 * broadcast shape [..., M, N]; bias (NULL or broadcastable to out) is added in the same
 * GEMM pass (beta = 1); returns false on allocation failure of a scratch copy */
bool tg__k_matmul(tg_tensor *out, const tg_tensor *a, const tg_tensor *b, const tg_tensor *bias);

#endif
