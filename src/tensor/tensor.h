/* tapegrad — n-dimensional tensors: dtypes, shapes, strides, storage, views,
 * creation, the counter-based RNG, hashing and printing. No autograd here.
 *
 * Two kinds of tensors exist:
 *  - persistent tensors, created by the functions in this header; the caller owns them
 *    and frees them with tg_tensor_free;
 *  - tape tensors, created by ops (autograd.h); they live in the tape's arena and are
 *    valid until tg_tape_reset or tg_tape_free.
 * Functions here return NULL (or a tg_status) on failure and leave a message readable
 * with tg_last_error() (thread-local). Nothing here prints unless asked to. */
#ifndef TG_TENSOR_H
#define TG_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define TG_API __attribute__((visibility("default")))
#else
#define TG_API
#endif

#define TG_MAX_DIMS 8

typedef enum tg_dtype { TG_F32 = 0, TG_F64 = 1, TG_I32 = 2 } tg_dtype;

typedef enum tg_status {
    TG_OK = 0,
    TG_EINVAL,   /* bad argument: NULL, out-of-range value, bad option */
    TG_ESHAPE,   /* shapes incompatible */
    TG_EDTYPE,   /* dtypes incompatible or unsupported by the op */
    TG_ERANGE,   /* axis or index out of range */
    TG_ENOMEM,   /* an allocation failed */
    TG_ESTATE,   /* call not valid in the current state (e.g. backward without grad) */
    TG_EIO,      /* a file could not be read or written */
    TG_EFORMAT,  /* malformed input data */
    TG_ENUMERIC  /* anomaly mode: a NaN/Inf appeared, or a saved tensor was modified */
} tg_status;

typedef struct tg_tape tg_tape;
typedef struct tg__storage tg__storage;

/* A tensor. The fields up to `grad` may be read by users; treat all as read-only and
 * change them only through the API. Element (i0, ..., i{n-1}) lives at
 * data + (offset + sum_k i_k * stride[k]) elements. */
typedef struct tg_tensor {
    tg_dtype dtype;
    int ndim;                     /* 0 .. TG_MAX_DIMS; 0 is a scalar with one element */
    int64_t shape[TG_MAX_DIMS];
    int64_t stride[TG_MAX_DIMS];  /* in elements; 0 on broadcast (expanded) axes */
    int64_t offset;               /* in elements, from data */
    void *data;                   /* base of the storage */
    struct tg_tensor *grad;       /* accumulated gradient of a persistent tensor that
                                     requires grad (allocated on first backward), else NULL */
    /* ---- private ---- */
    tg__storage *storage;         /* persistent tensors: refcounted storage; NULL on tapes */
    tg_tape *tape;                /* owning tape, NULL when persistent */
    int32_t node;                 /* index of the producing node on `tape`, -1 if none */
    uint8_t requires_grad;
    uint8_t flags;
    uint32_t gen;                 /* tape tensors: the tape's generation when created */
    const char *label;
} tg_tensor;

/* ---- errors outside tapes ---- */

/* Message of the last failed call made by this thread outside a tape ("" if none).
 * Valid until the thread's next failing call. */
TG_API const char *tg_last_error(void);
/* Status of that same call (the one tg_last_error describes; TG_OK if none failed yet).
 * Thread-local, set together with the message. */
TG_API tg_status tg_last_status(void);
/* Short name of a status ("TG_ESHAPE"). Static string. */
TG_API const char *tg_status_name(tg_status s);
/* Name of a dtype ("f32", "f64", "i32"); size of one element in bytes (0 for a value
 * that is no dtype). */
TG_API const char *tg_dtype_name(tg_dtype d);
TG_API size_t tg_dtype_size(tg_dtype d);

/* ---- allocation hook ----
 * Every heap allocation the library makes goes through this allocator, except the
 * built-in GEMM's per-thread packing workspace (400 KiB per thread that runs a product
 * in a build without BLAS, freed at thread exit), which, like a BLAS library's own
 * buffers, comes from malloc. Set it before
 * any other call (it is process-wide configuration, not per-thread state); NULL
 * restores malloc/free. Used by tests to count allocations and to inject failures.
 * jansson (the checkpoint header's JSON) allocates through it too: see checkpoint.h. */
typedef struct tg_allocator {
    void *(*alloc)(size_t size, void *ctx);  /* like malloc; NULL on failure */
    void (*free)(void *p, void *ctx);
    void *ctx;
} tg_allocator;
TG_API void tg_set_allocator(const tg_allocator *a);

/* Threads used by large kernels (OpenMP) and by BLAS; process-wide configuration like
 * the allocator; 1 until set. Results never depend on it: every reduction that is split
 * across threads combines partial results in a fixed order. n must be in
 * [1, tg_max_threads()], else TG_EINVAL (tg_last_error says the range) and the setting
 * is unchanged: a huge count would make the thread runtime fail to start its threads. */
TG_API tg_status tg_set_num_threads(int n);
TG_API int tg_num_threads(void);
/* The largest count tg_set_num_threads accepts: 4 x the online processors. */
TG_API int tg_max_threads(void);

/* ---- creation (persistent; caller frees with tg_tensor_free) ----
 * shape has ndim entries (ndim 0..8, each >= 0); element counts are overflow-checked.
 * Returns NULL on failure with tg_last_error() set. */
TG_API tg_tensor *tg_zeros(tg_dtype dt, int ndim, const int64_t *shape);
TG_API tg_tensor *tg_ones(tg_dtype dt, int ndim, const int64_t *shape);
TG_API tg_tensor *tg_full(tg_dtype dt, int ndim, const int64_t *shape, double value);
/* Copy of `src`, which holds numel elements of type dt in row-major order. */
TG_API tg_tensor *tg_tensor_from(tg_dtype dt, int ndim, const int64_t *shape, const void *src);
/* Wraps user memory without copying; the memory must outlive the tensor and is not
 * freed by tg_tensor_free. */
TG_API tg_tensor *tg_tensor_wrap(tg_dtype dt, int ndim, const int64_t *shape, void *mem);
/* 1-D tensor start, start+step, ... (< stop for step > 0, > stop for step < 0). */
TG_API tg_tensor *tg_arange(tg_dtype dt, double start, double stop, double step);
/* Random draws from the counter-based RNG: element i (row-major) is a function of
 * (seed, stream, i) only, so results are reproducible and independent of threads.
 * uniform: [lo, hi); normal: mean + std * N(0,1). F32 or F64 only. */
TG_API tg_tensor *tg_rand_uniform(tg_dtype dt, int ndim, const int64_t *shape, double lo,
                                  double hi, uint64_t seed, uint64_t stream);
TG_API tg_tensor *tg_rand_normal(tg_dtype dt, int ndim, const int64_t *shape, double mean,
                                 double std, uint64_t seed, uint64_t stream);
/* A contiguous copy (always a new storage). */
TG_API tg_tensor *tg_tensor_clone(const tg_tensor *t);
/* Frees a persistent tensor header (and its storage when no other view shares it),
 * and its grad; sets *t to NULL. NULL and *t == NULL are fine. */
TG_API void tg_tensor_free(tg_tensor **t);

/* ---- the RNG itself (for layers that draw their own numbers) ----
 * Counter-based: the value depends only on (seed, stream, counter). */
TG_API uint64_t tg_rng_u64(uint64_t seed, uint64_t stream, uint64_t counter);
TG_API double tg_rng_uniform01(uint64_t seed, uint64_t stream, uint64_t counter); /* [0,1) */
TG_API double tg_rng_normal(uint64_t seed, uint64_t stream, uint64_t counter);    /* N(0,1) */

/* ---- inspection ---- */
TG_API int64_t tg_tensor_numel(const tg_tensor *t);
TG_API bool tg_tensor_is_contiguous(const tg_tensor *t);
TG_API bool tg_tensor_same_shape(const tg_tensor *a, const tg_tensor *b);
/* Element at a multi-index (ndim entries), converted to double; NaN if t is NULL or the
 * index is out of range (tg_last_error says which). */
TG_API double tg_tensor_get(const tg_tensor *t, const int64_t *index);
TG_API tg_status tg_tensor_set(tg_tensor *t, const int64_t *index, double value);
/* Element number i in row-major logical order. */
TG_API double tg_tensor_get_flat(const tg_tensor *t, int64_t i);
TG_API tg_status tg_tensor_set_flat(tg_tensor *t, int64_t i, double value);
/* Copies all elements (row-major, converted to dt) into dst, which holds numel. */
TG_API tg_status tg_tensor_copy_out(const tg_tensor *t, tg_dtype dt, void *dst);
/* Copies src's elements into dst (same shape; dtype converted; dst may be a view). src
 * and dst may share memory (a from its own transpose, shifted slices of one storage):
 * the result is as if src were copied to a temporary first (it is, when they overlap;
 * TG_ENOMEM if that fails). */
TG_API tg_status tg_tensor_copy(tg_tensor *dst, const tg_tensor *src);
/* Fills every element of t with value. */
TG_API tg_status tg_tensor_fill(tg_tensor *t, double value);
/* XXH3-64 of the logical contents: dtype, shape and values in row-major order
 * (independent of strides/offset). 0 for NULL. */
TG_API uint64_t tg_tensor_hash(const tg_tensor *t);
/* Writes a NumPy-like rendering ("tensor([[1, 2],\n        [3, 4]], dtype=f32)")
 * to f. Large tensors are summarised with "...". */
TG_API tg_status tg_tensor_print(const tg_tensor *t, FILE *f);
/* Same text into buf (always NUL-terminated); returns the length the full text needs. */
TG_API size_t tg_tensor_format(const tg_tensor *t, char *buf, size_t size);

/* ---- persistent views (no copy; share storage, freed independently) ----
 * Each returns a new persistent header over the same storage, or NULL on error. */
TG_API tg_tensor *tg_view_reshape(const tg_tensor *t, int ndim, const int64_t *shape);
TG_API tg_tensor *tg_view_permute(const tg_tensor *t, const int *perm);
TG_API tg_tensor *tg_view_transpose(const tg_tensor *t, int d0, int d1);
/* start/stop/step per axis (ndim entries each; step >= 1; stop clamped to the size;
 * negative start/stop count from the end). */
TG_API tg_tensor *tg_view_slice(const tg_tensor *t, const int64_t *start, const int64_t *stop,
                                const int64_t *step);
TG_API tg_tensor *tg_view_expand(const tg_tensor *t, int ndim, const int64_t *shape);
/* A view if t is contiguous, else a contiguous copy. */
TG_API tg_tensor *tg_tensor_contiguous(const tg_tensor *t);

#ifdef __cplusplus
}
#endif
#endif
