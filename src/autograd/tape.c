/* The tape: arena, nodes, sticky errors, recording and the op registry tables. The
 * backward engine that walks the nodes is in backward.c. */
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"

/* ------------------------------------------------------------------ registry */

static const char *const op_names[TG_OP_COUNT] = {
#define X(E, name, arity, bwd, doc) name,
#include "ops.def"
#undef X
};
static const int op_arity[TG_OP_COUNT] = {
#define X(E, name, arity, bwd, doc) arity,
#include "ops.def"
#undef X
};
tg__bwd_fn tg__op_backward[TG_OP_COUNT] = {
#define X(E, name, arity, bwd, doc) bwd,
#include "ops.def"
#undef X
};

int tg_op_count(void) { return TG_OP_COUNT; }
const char *tg_op_name(int op) { return op >= 0 && op < TG_OP_COUNT ? op_names[op] : NULL; }
int tg_op_arity(int op) { return op >= 0 && op < TG_OP_COUNT ? op_arity[op] : 0; }

int tg_op_lookup(const char *name)
{
    for (int i = 0; name && i < TG_OP_COUNT; i++)
        if (!strcmp(op_names[i], name))
            return i;
    return -1;
}

int64_t tg_tape_count_op(const tg_tape *t, int op)
{
    int64_t c = 0;
    for (int64_t i = 0; t && i < t->nnodes; i++)
        c += t->nodes[i].op == op;
    return c;
}

/* ------------------------------------------------------------------- arena */

#define ARENA_ALIGN 64
#define ARENA_MIN_CHUNK ((size_t)1 << 20)

static tg__chunk *chunk_new(size_t size)
{
    char *raw = tg__malloc(sizeof(tg__chunk) + size + ARENA_ALIGN);
    if (!raw)
        return NULL;
    tg__chunk *c = (tg__chunk *)(void *)raw;
    uintptr_t p = (uintptr_t)(raw + sizeof(tg__chunk));
    c->base = (char *)((p + ARENA_ALIGN - 1) & ~(uintptr_t)(ARENA_ALIGN - 1));
    c->next = NULL;
    c->size = size;
    c->used = 0;
    return c;
}

static void chunks_free(tg__chunk *c)
{
    while (c) {
        tg__chunk *n = c->next;
        tg__mfree(c);
        c = n;
    }
}

/* n bytes at an `align`-byte boundary (a power of two <= ARENA_ALIGN) */
static void *arena_alloc(tg_tape *t, size_t n, size_t align)
{
    tg__chunk *c = t->cur;
    size_t start = c ? (c->used + align - 1) & ~(align - 1) : 0;
    if (c && start + n <= c->size) { /* the common case: room in the current chunk */
        c->used = start + n;
        t->used += n;
        if (t->used > t->high_water)
            t->high_water = t->used;
        return c->base + start;
    }
    n = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    while (c && ((c->used + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1)) + n > c->size)
        c = c->next;
    if (!c) {
        tg__chunk *last = t->chunks;
        while (last && last->next)
            last = last->next;
        size_t sz = last ? 2 * last->size : ARENA_MIN_CHUNK;
        if (sz < n)
            sz = n;
        c = chunk_new(sz);
        if (!c)
            return tg__fail(t, TG_ENOMEM, "tape arena: out of memory (%zu bytes)", sz);
        if (last)
            last->next = c;
        else
            t->chunks = c;
    }
    t->cur = c;
    start = (c->used + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    c->used = start + n;
    t->used += n;
    if (t->used > t->high_water)
        t->high_water = t->used;
    return c->base + start;
}

void *tg__arena_alloc(tg_tape *t, size_t n) { return arena_alloc(t, n, ARENA_ALIGN); }

/* bookkeeping (input lists, headers of views): pointer alignment is enough */
void *tg__arena_alloc_small(tg_tape *t, size_t n) { return arena_alloc(t, n, 16); }

/* -------------------------------------------------------------------- tape */

tg_tape *tg_tape_new(void)
{
    tg_tape *t = tg__calloc(sizeof *t);
    if (!t)
        return tg__error(TG_ENOMEM, "tg_tape_new: out of memory");
    t->record = true;
    t->gen = 1;
    return t;
}

void tg_tape_free(tg_tape **pt)
{
    if (!pt || !*pt)
        return;
    tg_tape *t = *pt;
    chunks_free(t->chunks);
    tg__mfree(t->nodes);
    tg__mfree(t->leaves);
    tg__mfree(t->lmap);
    tg__mfree(t);
    *pt = NULL;
}

void tg_tape_reset(tg_tape *t)
{
    if (!t)
        return;
    /* every chunk is kept, in order: the next step makes the same allocations into the
     * same chunks, so a steady-state step never allocates; and no chunk is freed before
     * tg_tape_free, so a tensor from before the reset is still readable memory, which
     * ops use to refuse it (its generation is older) */
    for (tg__chunk *c = t->chunks; c; c = c->next)
        c->used = 0;
    t->cur = t->chunks;
    t->used = 0;
    t->nnodes = 0;
    t->nleaves = 0;
    t->gnode = NULL;
    t->ngnode = 0;
    t->gen++; /* every tensor of the old generation is now refused by ops and backward */
    if (t->gen == 0)
        t->gen = 1;
    t->status = TG_OK;
    t->err[0] = 0;
}

bool tg_tape_failed(const tg_tape *t) { return TG__FAILED(t); }
tg_status tg_tape_status(const tg_tape *t) { return t ? t->status : TG_EINVAL; }
const char *tg_tape_error(const tg_tape *t) { return t ? t->err : "NULL tape"; }

bool tg_tape_set_grad_mode(tg_tape *t, bool record)
{
    if (!t)
        return false;
    bool old = t->record;
    t->record = record;
    return old;
}

bool tg_tape_grad_mode(const tg_tape *t) { return t && t->record; }
int64_t tg_tape_nodes(const tg_tape *t) { return t ? t->nnodes : 0; }
size_t tg_tape_arena_used(const tg_tape *t) { return t ? t->used : 0; }
size_t tg_tape_arena_high_water(const tg_tape *t) { return t ? t->high_water : 0; }

void *tg__fail(tg_tape *t, tg_status s, const char *fmt, ...)
{
    if (!TG__FAILED(t)) {
        t->status = s;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(t->err, sizeof t->err, fmt, ap);
        va_end(ap);
    }
    return NULL;
}

static const char *nth(int i, char *buf, size_t n)
{
    if (i < 0)
        snprintf(buf, n, "an input");
    else
        snprintf(buf, n, "input %d", i);
    return buf;
}

bool tg__tape_inputs_ok(tg_tape *t, const char *fn, int n, const tg_tensor *const *xs)
{
    return tg__inputs_ok(t, fn, n, xs);
}

bool tg__check_input(tg_tape *t, const tg_tensor *x, int i, const char *fn)
{
    /* reads only x's own fields until x is known to be persistent: the header of a stale
     * tape tensor may hold a newer tensor's data */
    char which[32];
    if (x->tape == t) /* an older generation of this tape */
        return tg__fail(t, TG_EINVAL,
                        "%s: %s was recorded before tg_tape_reset (generation %u, the tape is "
                        "at %u); tape tensors are valid only until the next reset",
                        fn, nth(i, which, sizeof which), x->gen, t->gen),
               false;
    if (x->tape || x->gen != TG__PERSISTENT_GEN)
        return tg__fail(t, TG_EINVAL,
                        "%s: %s belongs to another tape, or is a tape tensor from before a "
                        "reset; an op's inputs must be persistent tensors or current tensors "
                        "of the op's own tape",
                        fn, nth(i, which, sizeof which)),
               false;
    if (t->record && !x->requires_grad && x->storage &&
        atomic_load_explicit(&x->storage->grad_holders, memory_order_relaxed) > 0)
        return tg__fail(t, TG_EINVAL,
                        "%s: %s %s is a persistent view (tg_view_*) of a tensor that requires "
                        "grad; gradients do not flow through persistent views: use the tape's "
                        "view ops (tg_transpose, tg_permute, tg_reshape, tg_slice, tg_expand) "
                        "on the parameter itself",
                        fn, nth(i, which, sizeof which), tg__shape_str(x).s),
               false;
    return true;
}

bool tg__check_float(tg_tape *t, const tg_tensor *x, const char *fn)
{
    if (tg__is_float(x->dtype))
        return true;
    tg__fail(t, TG_EDTYPE, "%s: dtype %s not supported (f32 or f64)", fn, tg_dtype_name(x->dtype));
    return false;
}

/* records the TG_EDTYPE of tg__same_dtype; returns false */
bool tg__dtype_mismatch(tg_tape *t, const char *fn, const tg_tensor *x, const char *xname,
                        const tg_tensor *p, const char *pname)
{
    tg__fail(t, TG_EDTYPE, "%s: dtypes differ: %s %s %s, %s %s %s", fn, xname,
             tg__shape_str(x).s, tg_dtype_name(x->dtype), pname, tg__shape_str(p).s,
             tg_dtype_name(p->dtype));
    return false;
}

bool tg__norm_axis(tg_tape *t, const tg_tensor *x, int *axis, const char *fn)
{
    int a = *axis < 0 ? *axis + x->ndim : *axis;
    if (a < 0 || a >= x->ndim) {
        tg__fail(t, TG_ERANGE, "%s: axis %d out of range for %s", fn, *axis, tg__shape_str(x).s);
        return false;
    }
    *axis = a;
    return true;
}

const tg_tensor *tg__dense_of(tg_tape *t, const tg_tensor *x)
{
    if (tg_tensor_is_contiguous(x))
        return x;
    tg_tensor *c = tg__new(t, x->dtype, x->ndim, x->shape);
    if (c)
        tg__k_unary(c, x, TG_U_COPY, 0);
    return c;
}

tg_tensor *tg__new(tg_tape *t, tg_dtype dt, int ndim, const int64_t *shape)
{
    int64_t n;
    if (!tg__numel(ndim, shape, &n) || n > (int64_t)(SIZE_MAX / 16))
        return tg__fail(t, TG_EINVAL, "tape tensor: invalid shape %s", tg__dims_str(ndim, shape).s);
    size_t bytes = (size_t)n * tg_dtype_size(dt);
    size_t align = bytes >= 64 ? ARENA_ALIGN : 16; /* vector alignment where it matters */
    size_t hdr = (sizeof(tg_tensor) + align - 1) & ~(align - 1);
    char *p = arena_alloc(t, hdr + bytes, align);
    if (!p)
        return NULL;
    tg_tensor *x = (tg_tensor *)(void *)p;
    tg__init_header(x, dt, ndim, shape);
    x->data = p + hdr;
    x->tape = t;
    x->gen = t->gen;
    return x;
}

tg_tensor *tg__new_view(tg_tape *t, const tg_tensor *v)
{
    tg_tensor *x = tg__arena_alloc_small(t, sizeof *x);
    if (!x)
        return NULL;
    *x = *v;
    x->grad = NULL;
    x->storage = NULL;
    x->tape = t;
    x->gen = t->gen;
    x->node = -1;
    x->requires_grad = 0;
    x->flags = 0;
    x->label = NULL;
    return x;
}

bool tg__grow(void **arr, int64_t *cap, int64_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    int64_t nc = *cap ? *cap * 2 : 256;
    while (nc < need)
        nc *= 2;
    void *p = tg__malloc((size_t)nc * elem);
    if (!p)
        return false;
    if (*arr) {
        memcpy(p, *arr, (size_t)*cap * elem);
        tg__mfree(*arr);
    }
    *arr = p;
    *cap = nc;
    return true;
}

bool tg_tape_set_anomaly_mode(tg_tape *t, bool on)
{
    if (!t)
        return false;
    bool old = t->anomaly;
    t->anomaly = on;
    return old;
}

bool tg__all_finite(const tg_tensor *x)
{
    int64_t n = tg_tensor_numel(x);
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(tg_tensor_get_flat(x, i)))
            return false;
    return true;
}

const char *tg__label_of(const tg_tensor *x) { return x && x->label ? x->label : "-"; }

/* " (inputs: 'a', '-')" */
static void input_labels(char *buf, size_t size, int n, tg_tensor *const *in)
{
    size_t used = (size_t)snprintf(buf, size, " (input labels:");
    for (int i = 0; i < n && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s '%s'", i ? "," : "", tg__label_of(in[i]));
    if (used < size)
        snprintf(buf + used, size - used, ")");
}

static void anomaly_forward(tg_tape *t, int op, int n, tg_tensor *const *in, tg_tensor *out)
{
    if (tg__all_finite(out))
        return;
    char labels[128];
    input_labels(labels, sizeof labels, n, in);
    tg__fail(t, TG_ENUMERIC, "anomaly: op '%s' at tape position %lld produced NaN/Inf in its output %s%s",
             tg_op_name(op), (long long)t->nnodes, tg__shape_str(out).s, labels);
}

tg_tensor *tg__record(tg_tape *t, int op, int n, tg_tensor *const *in, tg_tensor *out,
                      const tg__args *a)
{
    if (t->anomaly) {
        anomaly_forward(t, op, n, in, out);
        if (TG__FAILED(t))
            return NULL;
    }
    bool need = false;
    for (int i = 0; t->record && i < n && !need; i++)
        need = in[i]->requires_grad;
    if (!need)
        return out;
    if (!tg__grow((void **)&t->nodes, &t->cap, t->nnodes + 1, sizeof(tg__node)))
        return tg__fail(t, TG_ENOMEM, "tape: out of memory for nodes");
    tg_tensor **ins = tg__arena_alloc_small(t, sizeof(tg_tensor *) * (size_t)n);
    if (!ins)
        return NULL;
    memcpy(ins, in, sizeof(tg_tensor *) * (size_t)n);
    tg__node *nd = &t->nodes[t->nnodes];
    nd->op = op;
    nd->n_in = n;
    nd->in = ins;
    nd->out = out;
    if (a)
        nd->a = *a;
    else
        memset(&nd->a, 0, sizeof nd->a);
    nd->hashes = NULL;
    if (t->anomaly) {
        nd->hashes = tg__arena_alloc_small(t, sizeof(uint64_t) * (size_t)n);
        if (!nd->hashes)
            return NULL;
        for (int i = 0; i < n; i++)
            nd->hashes[i] = tg_tensor_hash(in[i]);
    }
    out->requires_grad = 1;
    out->node = (int32_t)t->nnodes++;
    return out;
}

/* ------------------------------------------------------------- grad flags */

tg_status tg_tensor_set_requires_grad(tg_tensor *x, bool requires)
{
    if (!x)
        return tg__error_status(TG_EINVAL, "tg_tensor_set_requires_grad: NULL tensor");
    if (x->tape)
        return tg__error_status(TG_EINVAL, "tg_tensor_set_requires_grad: %s is a tape tensor",
                                tg__shape_str(x).s);
    if (requires && !tg__is_float(x->dtype))
        return tg__error_status(TG_EDTYPE, "tg_tensor_set_requires_grad: dtype %s cannot require grad",
                                tg_dtype_name(x->dtype));
    tg__set_requires_grad(x, requires);
    return TG_OK;
}

bool tg_tensor_requires_grad(const tg_tensor *x) { return x && x->requires_grad; }

tg_status tg_tensor_zero_grad(tg_tensor *x)
{
    if (!x)
        return tg__error_status(TG_EINVAL, "tg_tensor_zero_grad: NULL tensor");
    if (x->grad)
        tg__k_fill(x->grad, 0);
    return TG_OK;
}

void tg_tensor_set_label(tg_tensor *x, const char *label)
{
    if (x)
        x->label = label;
}
