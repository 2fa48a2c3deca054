/* Private to libtapegrad: the tape, nodes and the op registry. */
#ifndef TG_AUTOGRAD_INTERNAL_H
#define TG_AUTOGRAD_INTERNAL_H

#include "../tensor/kernels.h"
#include "autograd.h"

typedef enum tg__op {
#define X(E, name, arity, bwd, doc) TG_OP_##E,
#include "ops.def"
#undef X
    TG_OP_COUNT
} tg__op;

/* per-node op arguments: the fields an op's backward reads, by name */
typedef struct tg__args {
    double s;                        /* scalar parameter (alpha, exponent, rate, ...) */
    int axis;                        /* max, softmax, log_softmax */
    uint32_t mask;                   /* reduced axes of sum, mean, max */
    bool keep;                       /* keepdim of the reductions */
    union {                          /* per op family */
        int64_t perm[TG_MAX_DIMS];   /* permute */
        struct {                     /* slice, slice_backward (normalised) */
            int64_t start[TG_MAX_DIMS], stop[TG_MAX_DIMS], step[TG_MAX_DIMS];
        } slice;
        double clamp_hi;             /* clamp: [s, clamp_hi] */
        struct {                     /* dropout: the counters that regenerate the mask */
            uint64_t seed, stream;
        } dropout;
        struct {                     /* im2col, col2im, conv2d, conv2d_weight */
            tg__win2d win;
            int64_t groups;
        } conv;
        int64_t scatter_size;        /* scatter_add_last: length of the output's last axis */
        struct {                     /* batch_norm: the forward's per-channel statistics */
            double eps;
            const double *mean, *var; /* [C] (biased variance), in the arena */
        } bn;
    };
} tg__args;

typedef struct tg__node {
    int op;
    int n_in;
    tg_tensor **in;                  /* n_in inputs, in the arena */
    tg_tensor *out;
    uint64_t *hashes;                /* anomaly mode: XXH3 of each input at record time */
    tg__args a;
} tg__node;

/* computes the gradients of the node's inputs from g (the output's gradient) with ops
 * on t; gi[k] is left NULL for inputs that need none or get a zero gradient */
typedef void (*tg__bwd_fn)(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi);
#define X(E, name, arity, bwd, doc) void bwd(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi);
#include "ops.def"
#undef X
/* the dispatch table (writable only so the self-test can install a wrong backward) */
extern tg__bwd_fn tg__op_backward[TG_OP_COUNT];

typedef struct tg__chunk {
    struct tg__chunk *next;
    size_t size, used;
    char *base;                      /* 64-byte aligned start of the usable area */
} tg__chunk;

/* A gradient slot of the backward walk: the partial gradient of one tensor so far.
 * `owned` is true only when the walk itself created g (a sum of two partials) for this
 * slot: only then may g be added to in place. A g received from a backward function
 * (possibly handed to several inputs, or the caller's seed) is read-only. */
typedef struct tg__gslot {
    tg_tensor *g;
    bool owned;
} tg__gslot;

/* a persistent tensor reached by the current walk, with its slot */
typedef struct tg__leaf {
    tg_tensor *x;
    tg__gslot s;
} tg__leaf;

struct tg_tape {
    tg__chunk *chunks, *cur;
    size_t used, high_water;
    tg__node *nodes;
    int64_t nnodes, cap;
    uint32_t gen;                    /* generation: bumped by each tg_tape_reset */
    /* the backward walk's state: all of it lives here, none in the tensors */
    tg__gslot *gnode;                /* slot of each node's output (arena, per walk) */
    int64_t ngnode;                  /* nodes 0 .. ngnode-1 have a slot */
    tg__leaf *leaves;                /* leaves reached by the current walk */
    int64_t nleaves, capleaves;
    int32_t *lmap;                   /* open-addressing index into leaves, -1 = empty */
    const tg_tensor *lastleaf;       /* the leaf found last and its index: a leaf used by */
    int64_t lastleaf_i;              /* many ops in a row is found without hashing */
    int64_t caplmap;
    bool record;
    bool anomaly;                    /* NaN/Inf and saved-tensor checks (debug mode) */
    tg_status status;
    char err[TG_ERRMSG];
};

/* x is F32 or F64; else records TG_EDTYPE naming fn and returns false */
bool tg__check_float(tg_tape *t, const tg_tensor *x, const char *fn);
/* The one dtype check between two inputs: p is NULL or has x's dtype; else records
 * TG_EDTYPE naming fn and both inputs (xname, pname) with their shapes and dtypes */
bool tg__dtype_mismatch(tg_tape *t, const char *fn, const tg_tensor *x, const char *xname,
                        const tg_tensor *p, const char *pname);
static inline bool tg__same_dtype(tg_tape *t, const char *fn, const tg_tensor *x,
                                  const char *xname, const tg_tensor *p, const char *pname)
{
    return !p || p->dtype == x->dtype || tg__dtype_mismatch(t, fn, x, xname, p, pname);
}
/* normalises a possibly negative axis of x; false (with TG_ERANGE naming fn) if out of
 * range */
bool tg__norm_axis(tg_tape *t, const tg_tensor *x, int *axis, const char *fn);
/* x itself if contiguous, else an unrecorded contiguous copy on the tape (NULL and
 * TG_ENOMEM on failure) */
const tg_tensor *tg__dense_of(tg_tape *t, const tg_tensor *x);
/* arena allocation (64-byte aligned; _small: 16-byte aligned, for the engine's arrays);
 * NULL and TG_ENOMEM on failure */
void *tg__arena_alloc(tg_tape *t, size_t n);
void *tg__arena_alloc_small(tg_tape *t, size_t n);
/* grows *arr (elements of elem bytes, capacity *cap) to hold need; false on overflow or
 * out of memory (*arr unchanged) */
bool tg__grow(void **arr, int64_t *cap, int64_t need, size_t elem);
/* every element of a float tensor is finite (anomaly mode) */
bool tg__all_finite(const tg_tensor *x);
/* x's label, or "-" (messages) */
const char *tg__label_of(const tg_tensor *x);
/* a new contiguous tape tensor with uninitialised data */
tg_tensor *tg__new(tg_tape *t, tg_dtype dt, int ndim, const int64_t *shape);
/* a new tape header viewing x's data (fields copied from v, a view of x) */
tg_tensor *tg__new_view(tg_tape *t, const tg_tensor *v);
/* records a node for op if recording and an input requires grad; returns out */
tg_tensor *tg__record(tg_tape *t, int op, int n, tg_tensor *const *in, tg_tensor *out,
                      const tg__args *a);

/* Slow path of tg__inputs_ok for an input that is not a current tensor of t: accepts
 * persistent tensors (unless recording would silently cut the gradient of a persistent
 * view of a tensor that requires grad); records TG_EINVAL naming fn for a tensor of
 * another tape or from before a reset. Returns whether x may be used. */
bool tg__check_input(tg_tape *t, const tg_tensor *x, int i, const char *fn);

/* x may be used by an op on t: a current tensor of t, or a persistent tensor whose
 * gradient cannot be cut (it requires grad itself, nothing records, or no header on its
 * storage requires grad). Inline for the common cases; the rest go to tg__check_input,
 * which records the error. */
static inline bool tg__input_ok(tg_tape *t, const tg_tensor *x, int i, const char *fn)
{
    if (x->tape == t && x->gen == t->gen)
        return true;
    if (!x->tape && x->gen == TG__PERSISTENT_GEN &&
        (x->requires_grad || !t->record || !x->storage ||
         !atomic_load_explicit(&x->storage->grad_holders, memory_order_relaxed)))
        return true;
    return tg__check_input(t, x, i, fn);
}

/* The one check for a failed tape: NULL, or an error recorded (sticky until reset) */
#define TG__FAILED(t) (!(t) || (t)->status != TG_OK)

/* The guard every op starts with. False when the tape is NULL or failed or an input is
 * NULL (quietly: the error, if any, is already recorded), or when an input is foreign
 * (with an error). */
static inline bool tg__inputs_ok(tg_tape *t, const char *fn, int n, const tg_tensor *const *xs)
{
    if (TG__FAILED(t))
        return false;
    for (int i = 0; i < n; i++) /* a NULL input fails quietly, whatever the others are */
        if (!xs[i])
            return false;
    for (int i = 0; i < n; i++)
        if (!tg__input_ok(t, xs[i], i, fn))
            return false;
    return true;
}
/* the same for an optional input (NULL allowed) */
static inline bool tg__opt_input_ok(tg_tape *t, const char *fn, const tg_tensor *x)
{
    return !x || tg__input_ok(t, x, -1, fn);
}
/* Window checks shared by the convolution and pooling ops (conv_ops.c). tg__make_window
 * fills w from the user's pairs (NULL stride/dilation: 1, NULL padding: 0) and checks
 * their ranges; tg__window_fit gives the window's output size over an H x W image (x
 * names the input in messages); tg__check_image wants a float [N, C, H, W]. Each records
 * the error naming fn and returns false on failure. */
bool tg__make_window(tg_tape *t, tg__win2d *w, const int64_t *kernel, const int64_t *stride,
                     const int64_t *padding, const int64_t *dilation, const char *fn);
bool tg__window_fit(tg_tape *t, const tg__win2d *w, int64_t H, int64_t W, const tg_tensor *x,
                    int64_t *Ho, int64_t *Wo, const char *fn);
bool tg__check_image(tg_tape *t, const tg_tensor *x, const char *fn);

#define TG__NARGS(...) ((int)(sizeof((const tg_tensor *[]){__VA_ARGS__}) / sizeof(void *)))
/* return NULL from an op unless tg__inputs_ok(t, fn, inputs...) */
#define TG__GUARD(t, fn, ...)                                                           \
    do {                                                                                \
        if (!tg__inputs_ok((t), (fn), TG__NARGS(__VA_ARGS__), (const tg_tensor *[]){__VA_ARGS__})) \
            return NULL;                                                                \
    } while (0)

#endif
