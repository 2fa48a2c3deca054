/* Kernels: strided N-d iteration, elementwise maps, reductions, softmax (the matmul
 * dispatch is in matmul.c, window kernels in window.c, loss loops in loss.c). They
 * know nothing about tapes; callers have checked shapes and dtypes. */
#include <string.h>
#include <tgmath.h>
#include <unistd.h>

#include "gemm.h"
#include "kernels.h"

/* ----------------------------------------------------------------- threads */

#ifdef TG_HAVE_OPENMP
#include <omp.h>
#endif

static int g_threads = 1; /* process-wide configuration, see tg_set_num_threads */

int tg_max_threads(void)
{
    long procs = sysconf(_SC_NPROCESSORS_ONLN);
    if (procs < 1)
        procs = 1;
    if (procs > 1024)
        procs = 1024;
    return 4 * (int)procs;
}

tg_status tg_set_num_threads(int n)
{
    int max = tg_max_threads();
    if (n < 1 || n > max)
        return tg__error_status(TG_EINVAL, "tg_set_num_threads: %d threads outside [1, %d] "
                                           "(4 per processor); the setting is unchanged", n, max);
    g_threads = n;
#ifdef TG_HAVE_OPENMP
    omp_set_num_threads(g_threads);
#endif
#ifdef TG_HAVE_BLAS
    tg__blas_single_thread(); /* products are split across our threads (gemm.c) */
#endif
    return TG_OK;
}

int tg_num_threads(void) { return g_threads; }

int tg__par_threads(int64_t work)
{
#ifdef TG_HAVE_OPENMP
    if (work >= TG__PAR_MIN_ELEMS && g_threads > 1)
        return g_threads;
#endif
    (void)work;
    return 1;
}

/* The one parallel split of a long row: [0, n) cut into `chunks` consecutive ranges
 * whose starts are multiples of `align`, fn(ctx, lo, hi) called for each non-empty one,
 * on `chunks` threads. The cut depends only on n, chunks and align. */
typedef void (*range_fn)(void *ctx, int64_t lo, int64_t hi);

static void par_ranges(int64_t n, int chunks, int64_t align, range_fn fn, void *ctx)
{
    int64_t per = ((n + chunks - 1) / chunks + align - 1) / align * align;
#ifdef TG_HAVE_OPENMP
#pragma omp parallel for num_threads(chunks) if (chunks > 1)
#endif
    for (int c = 0; c < chunks; c++) {
        int64_t lo = c * per, hi = lo + per < n ? lo + per : n;
        if (lo < hi)
            fn(ctx, lo, hi);
    }
}

/* ---------------------------------------------------------------- iterator */

void tg__iter_init(tg__iter *it, int ndim, const int64_t *shape, int nops,
                   const int64_t *const *strides, const int64_t *offsets)
{
    int64_t sh[TG_MAX_DIMS], st[3][TG_MAX_DIMS];
    int nd = 0;
    int64_t rows = 1;
    bool empty = false;
    memset(it, 0, sizeof *it);
    it->nops = nops;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] == 0)
            empty = true;
        if (shape[d] == 1)
            continue; /* size-1 axes never move */
        bool merge = nd > 0;
        for (int k = 0; k < nops && merge; k++)
            merge = st[k][nd - 1] == strides[k][d] * shape[d];
        if (merge) {
            sh[nd - 1] *= shape[d];
            for (int k = 0; k < nops; k++)
                st[k][nd - 1] = strides[k][d];
        } else {
            sh[nd] = shape[d];
            for (int k = 0; k < nops; k++)
                st[k][nd] = strides[k][d];
            nd++;
        }
    }
    for (int k = 0; k < nops; k++)
        it->off[k] = offsets[k];
    if (nd == 0) {
        it->inner = 1;
    } else {
        it->inner = sh[nd - 1];
        for (int k = 0; k < nops; k++)
            it->ist[k] = st[k][nd - 1];
        nd--;
    }
    it->nd = nd;
    for (int d = 0; d < nd; d++) {
        it->shape[d] = sh[d];
        rows *= sh[d];
        for (int k = 0; k < nops; k++)
            it->st[k][d] = st[k][d];
    }
    it->count = empty ? 0 : rows;
    it->first = true;
}

bool tg__iter_next(tg__iter *it)
{
    if (it->count <= 0)
        return false;
    it->count--;
    if (it->first) {
        it->first = false;
        return true;
    }
    for (int d = it->nd - 1; d >= 0; d--) {
        for (int k = 0; k < it->nops; k++)
            it->off[k] += it->st[k][d];
        if (++it->idx[d] < it->shape[d])
            return true;
        for (int k = 0; k < it->nops; k++)
            it->off[k] -= it->st[k][d] * it->shape[d];
        it->idx[d] = 0;
    }
    return true;
}

/* ------------------------------------------------------------- elementwise */

/* one loop body, with a unit-stride version the compiler can vectorize */
/* The row kernels are compiled for AVX-512, AVX2 and the baseline, the widest the CPU
 * runs picked at load time (GCC's target_clones). The clones give the same bits: C11
 * mode contracts no a * b + c into an FMA, and the math functions are the same calls. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define TG__ROW_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define TG__ROW_CLONES
#endif

/* one loop over the n elements of a row: a unit-stride one the compiler vectorizes when
 * UNIT holds, else a strided one; LOAD_UNIT / LOAD_STRIDED declare element i's operands */
#define ROW_LOOPS(T, UNIT, LOAD_UNIT, LOAD_STRIDED, EXPR)                              \
    do {                                                                               \
        if (UNIT) {                                                                    \
            for (int64_t i = 0; i < n; i++) {                                          \
                LOAD_UNIT;                                                             \
                op[i] = (T)(EXPR);                                                     \
            }                                                                          \
        } else {                                                                       \
            for (int64_t i = 0; i < n; i++) {                                          \
                LOAD_STRIDED;                                                          \
                op[i * so] = (T)(EXPR);                                                \
            }                                                                          \
        }                                                                              \
    } while (0)

#define ROW2(T, EXPR) ROW_LOOPS(T, so == 1 && sx == 1, T x = xp[i], T x = xp[i * sx], EXPR)

/* a scalar b (stride 0) broadcast over a unit-stride row gets a loop of its own */
#define ROW3(T, EXPR)                                                                  \
    do {                                                                               \
        if (so == 1 && sa == 1 && sb == 0) {                                           \
            const T b = bp[0];                                                         \
            for (int64_t i = 0; i < n; i++) {                                          \
                T a = ap[i];                                                           \
                op[i] = (T)(EXPR);                                                     \
            }                                                                          \
        } else {                                                                       \
            ROW_LOOPS(T, so == 1 && sa == 1 && sb == 1, T a = ap[i]; T b = bp[i],      \
                      T a = ap[i * sa]; T b = bp[i * sb], EXPR);                       \
        }                                                                              \
    } while (0)

#define TG__TEMPLATE "kernels_impl.h"
#include "instantiate.h"

/* iteration over out's positions: operand 0 out, 1 x broadcast to out's shape */
static void out_x_iter(tg__iter *it, const tg_tensor *out, const tg_tensor *x)
{
    int64_t bst[TG_MAX_DIMS];
    tg__bstrides(x, out->ndim, out->shape, bst);
    const int64_t *sts[2] = {out->stride, bst};
    int64_t offs[2] = {out->offset, x->offset};
    tg__iter_init(it, out->ndim, out->shape, 2, sts, offs);
}

/* dtype-converting strided copy */
static void copy_convert(tg_tensor *out, const tg_tensor *x)
{
    tg__iter it;
    out_x_iter(&it, out, x);
    size_t eo = tg_dtype_size(out->dtype), ex = tg_dtype_size(x->dtype);
    while (tg__iter_next(&it)) {
        char *o = (char *)out->data + (size_t)it.off[0] * eo;
        const char *s = (const char *)x->data + (size_t)it.off[1] * ex;
        for (int64_t i = 0; i < it.inner; i++) {
            const char *src = s + (size_t)(i * it.ist[1]) * ex;
            char *dst = o + (size_t)(i * it.ist[0]) * eo;
            double v = x->dtype == TG_F32   ? *(const float *)src
                       : x->dtype == TG_F64 ? *(const double *)src
                                            : *(const int32_t *)src;
            if (out->dtype == TG_F32)
                *(float *)dst = (float)v;
            else if (out->dtype == TG_F64)
                *(double *)dst = v;
            else
                *(int32_t *)dst = tg__to_i32(v);
        }
    }
}

/* the common case: every operand contiguous with out's shape (one flat row) */
static bool flat(const tg_tensor *out, const tg_tensor *a, const tg_tensor *b)
{
    return tg_tensor_is_contiguous(out) && tg_tensor_same_shape(out, a) &&
           tg_tensor_is_contiguous(a) &&
           (!b || (tg_tensor_same_shape(out, b) && tg_tensor_is_contiguous(b)));
}

/* one row of an elementwise kernel, split by par_ranges: elements [lo, hi) of the
 * iterator's current row */
typedef struct row_job {
    tg_tensor *out;
    const tg_tensor *a, *b;
    const tg__iter *it;
    tg__uop uop;
    tg__bop bop;
    double p0;
} row_job;

static void unary_range(void *ctx, int64_t lo, int64_t hi)
{
    const row_job *j = ctx;
    const tg__iter *it = j->it;
    int64_t o0 = it->off[0] + lo * it->ist[0], o1 = it->off[1] + lo * it->ist[1];
    if (j->a->dtype == TG_F32)
        unary_row_f32(j->uop, hi - lo, (float *)j->out->data + o0, it->ist[0],
                        (const float *)j->a->data + o1, it->ist[1], (float)j->p0);
    else
        unary_row_f64(j->uop, hi - lo, (double *)j->out->data + o0, it->ist[0],
                         (const double *)j->a->data + o1, it->ist[1], j->p0);
}

void tg__k_unary(tg_tensor *out, const tg_tensor *x, tg__uop uop, double p0)
{
    if (uop == TG_U_COPY && (out->dtype != x->dtype || x->dtype == TG_I32)) {
        copy_convert(out, x);
        return;
    }
    if (uop == TG_U_COPY && out->ndim == 2 && x->ndim == 1 && x->shape[0] == out->shape[1] &&
        tg_tensor_is_contiguous(out) && tg_tensor_is_contiguous(x)) {
        /* a row broadcast down a matrix (the bias of a dense layer) */
        size_t row = (size_t)x->shape[0] * tg_dtype_size(x->dtype);
        const char *src = (const char *)x->data + (size_t)x->offset * tg_dtype_size(x->dtype);
        char *dst = (char *)out->data + (size_t)out->offset * tg_dtype_size(out->dtype);
        for (int64_t i = 0; i < out->shape[0]; i++)
            memcpy(dst + (size_t)i * row, src, row);
        return;
    }
    int64_t total = tg_tensor_numel(out);
    if (total < TG__PAR_MIN_ELEMS && flat(out, x, NULL)) {
        if (x->dtype == TG_F32)
            unary_row_f32(uop, total, (float *)out->data + out->offset, 1,
                            (const float *)x->data + x->offset, 1, (float)p0);
        else
            unary_row_f64(uop, total, (double *)out->data + out->offset, 1,
                             (const double *)x->data + x->offset, 1, p0);
        return;
    }
    tg__iter it;
    out_x_iter(&it, out, x);
    int chunks = it.count == 1 ? tg__par_threads(it.inner) : 1;
    if (chunks > 1) { /* one long row (the contiguous case): split it */
        tg__iter_next(&it);
        row_job job = {.out = out, .a = x, .it = &it, .uop = uop, .p0 = p0};
        par_ranges(it.inner, chunks, 1, unary_range, &job);
        return;
    }
    while (tg__iter_next(&it)) {
        if (x->dtype == TG_F32)
            unary_row_f32(uop, it.inner, (float *)out->data + it.off[0], it.ist[0],
                            (const float *)x->data + it.off[1], it.ist[1], (float)p0);
        else
            unary_row_f64(uop, it.inner, (double *)out->data + it.off[0], it.ist[0],
                             (const double *)x->data + it.off[1], it.ist[1], p0);
    }
}



static void binary_range(void *ctx, int64_t lo, int64_t hi)
{
    const row_job *j = ctx;
    const tg__iter *it = j->it;
    int64_t o0 = it->off[0] + lo * it->ist[0], o1 = it->off[1] + lo * it->ist[1];
    int64_t o2 = it->off[2] + lo * it->ist[2];
    if (j->a->dtype == TG_F32)
        binary_row_f32(j->bop, hi - lo, (float *)j->out->data + o0, it->ist[0],
                         (const float *)j->a->data + o1, it->ist[1],
                         (const float *)j->b->data + o2, it->ist[2], (float)j->p0);
    else
        binary_row_f64(j->bop, hi - lo, (double *)j->out->data + o0, it->ist[0],
                          (const double *)j->a->data + o1, it->ist[1],
                          (const double *)j->b->data + o2, it->ist[2], j->p0);
}

void tg__k_binary(tg_tensor *out, const tg_tensor *a, const tg_tensor *b, tg__bop bop, double p0)
{
    int64_t total = tg_tensor_numel(out);
    if (total < TG__PAR_MIN_ELEMS && flat(out, a, b)) {
        if (a->dtype == TG_F32)
            binary_row_f32(bop, total, (float *)out->data + out->offset, 1,
                             (const float *)a->data + a->offset, 1,
                             (const float *)b->data + b->offset, 1, (float)p0);
        else
            binary_row_f64(bop, total, (double *)out->data + out->offset, 1,
                              (const double *)a->data + a->offset, 1,
                              (const double *)b->data + b->offset, 1, p0);
        return;
    }
    int64_t sa[TG_MAX_DIMS], sb[TG_MAX_DIMS];
    tg__bstrides(a, out->ndim, out->shape, sa);
    tg__bstrides(b, out->ndim, out->shape, sb);
    const int64_t *sts[3] = {out->stride, sa, sb};
    int64_t offs[3] = {out->offset, a->offset, b->offset};
    tg__iter it;
    tg__iter_init(&it, out->ndim, out->shape, 3, sts, offs);
    int chunks = it.count == 1 ? tg__par_threads(it.inner) : 1;
    if (chunks > 1) { /* one long row (the contiguous case): split it */
        tg__iter_next(&it);
        row_job job = {.out = out, .a = a, .b = b, .it = &it, .bop = bop, .p0 = p0};
        par_ranges(it.inner, chunks, 1, binary_range, &job);
        return;
    }
    while (tg__iter_next(&it)) {
        if (a->dtype == TG_F32)
            binary_row_f32(bop, it.inner, (float *)out->data + it.off[0], it.ist[0],
                             (const float *)a->data + it.off[1], it.ist[1],
                             (const float *)b->data + it.off[2], it.ist[2], (float)p0);
        else
            binary_row_f64(bop, it.inner, (double *)out->data + it.off[0], it.ist[0],
                              (const double *)a->data + it.off[1], it.ist[1],
                              (const double *)b->data + it.off[2], it.ist[2], p0);
    }
}

void tg__k_accumulate(tg_tensor *out, const tg_tensor *x)
{
    /* out = out + x through the binary kernel with out as both destination and input:
     * every element is read before it is written, so aliasing is safe */
    tg__k_binary(out, out, x, TG_B_ADD, 0);
}

void tg__k_fill(tg_tensor *t, double v)
{
    const int64_t *sts[1] = {t->stride};
    int64_t offs[1] = {t->offset};
    tg__iter it;
    tg__iter_init(&it, t->ndim, t->shape, 1, sts, offs);
    while (tg__iter_next(&it)) {
        for (int64_t i = 0; i < it.inner; i++) {
            int64_t o = it.off[0] + i * it.ist[0];
            if (t->dtype == TG_F32)
                ((float *)t->data)[o] = (float)v;
            else if (t->dtype == TG_F64)
                ((double *)t->data)[o] = v;
            else
                ((int32_t *)t->data)[o] = tg__to_i32(v);
        }
    }
}

/* ---------------------------------------------------------------- dropout */


typedef struct dropout_job {
    tg_tensor *t;
    uint32_t thresh;
    double keep;
    uint64_t seed, stream;
} dropout_job;

static void dropout_range(void *ctx, int64_t lo, int64_t hi)
{
    const dropout_job *j = ctx;
    if (j->t->dtype == TG_F32)
        dropout_row_f32((float *)j->t->data + j->t->offset, lo, hi, j->thresh, (float)j->keep,
                          j->seed, j->stream);
    else
        dropout_row_f64((double *)j->t->data + j->t->offset, lo, hi, j->thresh, j->keep,
                           j->seed, j->stream);
}

void tg__k_dropout_mask(tg_tensor *t, double rate, uint64_t seed, uint64_t stream)
{
    int64_t n = tg_tensor_numel(t);
    uint32_t thresh = (uint32_t)ceil(rate * 65536.0);
    dropout_job job = {t, thresh, 1.0 / (1.0 - rate), seed, stream};
    /* ranges start at multiples of 4: one 64-bit draw never straddles two threads */
    par_ranges(n, tg__par_threads(n), 4, dropout_range, &job);
}

/* -------------------------------------------------------------- reductions */

/* Every sum accumulates in double, whatever the dtype and the layout (one rule: an F32
 * sum of 2^24 + 1 ones is 2^24 + 1, not 2^24), and rounds once to the output. The
 * order of the additions depends on the shapes and strides only. */

/* number of outputs summed side by side when the reduction is not innermost */
#define SUM_BLOCK 256

#define TG__TEMPLATE "sum_impl.h"
#include "instantiate.h"

void tg__k_sum(tg_tensor *out, const tg_tensor *x, uint32_t mask, double scale)
{
    /* the outputs: x's shape with the reduced axes cut to 1; the reduced positions:
     * x's shape with the kept axes cut to 1 */
    int64_t oshape[TG_MAX_DIMS], rshape[TG_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) {
        bool red = (mask >> d) & 1;
        oshape[d] = red ? 1 : x->shape[d];
        rshape[d] = red ? x->shape[d] : 1;
    }
    const int64_t *osts[2] = {out->stride, x->stride}, *rsts[1] = {x->stride};
    int64_t ooffs[2] = {out->offset, x->offset}, roffs[1] = {0};
    tg__iter oit, rtpl;
    tg__iter_init(&oit, x->ndim, oshape, 2, osts, ooffs);
    tg__iter_init(&rtpl, x->ndim, rshape, 1, rsts, roffs);
    if (x->dtype == TG_F32)
        sum_f32(out->data, x->data, &oit, &rtpl, scale);
    else
        sum_f64(out->data, x->data, &oit, &rtpl, scale);
}

/* iteration over every position of x except along `axis`; operand 0 is x, 1 is out
 * (keepdim layout), 2 is an optional third tensor of x's layout */
static void axis_iter(tg__iter *it, const tg_tensor *x, const tg_tensor *out,
                      const tg_tensor *third, int axis)
{
    int64_t shape[TG_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[axis] = 1;
    const int64_t *sts[3] = {x->stride, out->stride, third ? third->stride : x->stride};
    int64_t offs[3] = {x->offset, out->offset, third ? third->offset : 0};
    tg__iter_init(it, x->ndim, shape, third ? 3 : 2, sts, offs);
}


void tg__k_max(tg_tensor *out, tg_tensor *mask, const tg_tensor *x, int axis)
{
    tg__iter it;
    axis_iter(&it, x, out, mask, axis);
    int64_t len = x->shape[axis], sa = x->stride[axis], msa = mask ? mask->stride[axis] : 0;
    if (x->dtype == TG_F32)
        max_f32(&it, (float *)out->data, mask ? (float *)mask->data : NULL, x->data, len, sa,
                  msa);
    else
        max_f64(&it, (double *)out->data, mask ? (double *)mask->data : NULL, x->data, len,
                   sa, msa);
}

void tg__k_softmax(tg_tensor *out, const tg_tensor *x, int axis, bool lg)
{
    if (x->shape[axis] == 0)
        return; /* rows of no elements: the output is empty too (and xp[0] absent) */
    tg__iter it;
    axis_iter(&it, x, x, out, axis);
    int64_t len = x->shape[axis], sa = x->stride[axis], osa = out->stride[axis];
    if (x->dtype == TG_F32)
        softmax_f32(&it, out->data, x->data, len, sa, osa, lg);
    else
        softmax_f64(&it, out->data, x->data, len, sa, osa, lg);
}
