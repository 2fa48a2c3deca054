/* Private to libtapegrad: the tape, nodes and the op registry. */
#ifndef TG_AUTOGRAD_INTERNAL_H
#define TG_AUTOGRAD_INTERNAL_H

#include "../tensor/internal.h"
#include "autograd.h"

typedef enum tg__op {
#define X(E, name, arity, bwd) TG_OP_##E,
#include "ops.def"
#undef X
    TG_OP_COUNT
} tg__op;

/* per-node op arguments */
typedef struct tg__args {
    double s;                        /* scalar parameter (alpha, exponent, ...) */
    int64_t v[3 * TG_MAX_DIMS];      /* shapes, slice start/stop/step, permutations */
    int axis;
    uint32_t mask;                   /* reduced axes */
    bool keep;
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
#define X(E, name, arity, bwd) void bwd(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi);
#include "ops.def"
#undef X
/* the dispatch table (writable only so the self-test can install a wrong backward) */
extern tg__bwd_fn tg__op_backward[TG_OP_COUNT];

typedef struct tg__chunk {
    struct tg__chunk *next;
    size_t size, used;
    char *base;                      /* 64-byte aligned start of the usable area */
} tg__chunk;

struct tg_tape {
    tg__chunk *chunks, *cur;
    size_t used, high_water;
    tg__node *nodes;
    int64_t nnodes, cap;
    tg_tensor **leaves;              /* leaves reached by the current backward */
    int64_t nleaves, capleaves;
    bool record;
    bool anomaly;                    /* NaN/Inf and saved-tensor checks (debug mode) */
    uint32_t epoch;
    tg_status status;
    char err[TG_ERRMSG];
};

/* tg_tensor.flags: a gradient sum buffer private to the backward engine */
#define TG__GRAD_OWNED 1u

/* records the first error; returns NULL */
void *tg__fail(tg_tape *t, tg_status s, const char *fmt, ...) TG_PRINTF(3, 4);
/* x is F32 or F64; else records TG_EDTYPE naming fn and returns false */
bool tg__check_float(tg_tape *t, const tg_tensor *x, const char *fn);
/* x itself if contiguous, else an unrecorded contiguous copy on the tape (NULL and
 * TG_ENOMEM on failure) */
const tg_tensor *tg__dense_of(tg_tape *t, const tg_tensor *x);
/* arena allocation (64-byte aligned); NULL and TG_ENOMEM on failure */
void *tg__arena_alloc(tg_tape *t, size_t n);
/* a new contiguous tape tensor with uninitialised data */
tg_tensor *tg__new(tg_tape *t, tg_dtype dt, int ndim, const int64_t *shape);
/* a new tape header viewing x's data (fields copied from v, a view of x) */
tg_tensor *tg__new_view(tg_tape *t, const tg_tensor *v);
/* records a node for op if recording and an input requires grad; returns out */
tg_tensor *tg__record(tg_tape *t, int op, int n, tg_tensor *const *in, tg_tensor *out,
                      const tg__args *a);

#endif
