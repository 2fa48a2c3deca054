/* The backward engine: one reverse walk over the tape's nodes, which are already in
 * topological order (execution order). Its working state (each tensor's partial
 * gradient) lives in the tape, never in the tensors: see docs/architecture.md. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* ------------------------------------------------------------------ engine */

tg_backward_opts tg_backward_defaults(void)
{
    tg_backward_opts o = {.create_graph = false};
    return o;
}

/* The walk's state lives in the tape: t->gnode[i] is the slot of node i's output, and
 * persistent tensors (leaves) get slots in t->leaves, found through the open-addressing
 * index t->lmap. Gradient ownership: a slot may add into its g in place only if it
 * created g itself (slot.owned) and the walk is not recording; every other g is shared
 * (a backward may hand one g to several inputs, views share data, the seed is the
 * caller's) and is only read. A node's slot is complete when the walk reaches the node
 * (its consumers were all recorded after it), so handing its g on is safe. */

static size_t lmap_hash(const tg_tensor *x, int64_t cap)
{
    uint64_t h = (uint64_t)(uintptr_t)x * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 32) & (size_t)(cap - 1);
}

/* clears the leaf index for a new walk; false on out of memory */
static bool leaves_begin(tg_tape *t)
{
    t->nleaves = 0;
    t->lastleaf = NULL;
    if (!t->lmap) {
        t->lmap = tg__malloc(sizeof(int32_t) * 64);
        if (!t->lmap)
            return false;
        t->caplmap = 64;
    }
    memset(t->lmap, 0xff, sizeof(int32_t) * (size_t)t->caplmap);
    return true;
}

static bool lmap_rebuild(tg_tape *t, int64_t cap)
{
    int32_t *m = tg__malloc(sizeof(int32_t) * (size_t)cap);
    if (!m)
        return false;
    memset(m, 0xff, sizeof(int32_t) * (size_t)cap);
    for (int64_t i = 0; i < t->nleaves; i++) {
        size_t h = lmap_hash(t->leaves[i].x, cap);
        while (m[h] >= 0)
            h = (h + 1) & (size_t)(cap - 1);
        m[h] = (int32_t)i;
    }
    tg__mfree(t->lmap);
    t->lmap = m;
    t->caplmap = cap;
    return true;
}

/* the slot of leaf x, created empty if x was not reached yet; NULL on out of memory */
static tg__gslot *leaf_slot(tg_tape *t, tg_tensor *x, bool create)
{
    if (x == t->lastleaf)
        return &t->leaves[t->lastleaf_i].s;
    size_t h = lmap_hash(x, t->caplmap);
    for (; t->lmap[h] >= 0; h = (h + 1) & (size_t)(t->caplmap - 1))
        if (t->leaves[t->lmap[h]].x == x) {
            t->lastleaf = x;
            t->lastleaf_i = t->lmap[h];
            return &t->leaves[t->lmap[h]].s;
        }
    if (!create)
        return NULL;
    if (!tg__grow((void **)&t->leaves, &t->capleaves, t->nleaves + 1, sizeof(tg__leaf)) ||
        t->nleaves >= INT32_MAX)
        return NULL;
    int64_t i = t->nleaves++;
    t->leaves[i].x = x;
    t->leaves[i].s.g = NULL;
    t->leaves[i].s.owned = false;
    t->lastleaf = x;
    t->lastleaf_i = i;
    if (2 * t->nleaves > t->caplmap) /* keep the load at most 1/2 */
        return lmap_rebuild(t, 2 * t->caplmap) ? &t->leaves[i].s : NULL;
    t->lmap[h] = (int32_t)i;
    return &t->leaves[i].s;
}

/* x's slot in the current walk (NULL: x has none, or out of memory when create) */
static inline tg__gslot *slot_of(tg_tape *t, tg_tensor *x, bool create)
{
    if (x->tape == t && x->node >= 0)
        return x->node < t->ngnode ? &t->gnode[x->node] : NULL;
    if (x->tape)
        return NULL;
    return x == t->lastleaf ? &t->leaves[t->lastleaf_i].s : leaf_slot(t, x, create);
}

static void accumulate(tg_tape *t, tg_tensor *x, tg_tensor *g)
{
    if (!tg_tensor_same_shape(x, g) || x->dtype != g->dtype) {
        tg__fail(t, TG_ESTATE, "backward: gradient %s %s does not match input %s %s",
                 tg__shape_str(g).s, tg_dtype_name(g->dtype), tg__shape_str(x).s,
                 tg_dtype_name(x->dtype));
        return;
    }
    tg__gslot *s = slot_of(t, x, true);
    if (!s) {
        if (x->tape)
            tg__fail(t, TG_ESTATE, "backward: tape tensor %s requires grad but has no node",
                     tg__shape_str(x).s);
        else
            tg__fail(t, TG_ENOMEM, "backward: out of memory");
        return;
    }
    if (!s->g) {
        s->g = g; /* shared: read-only to this slot */
        s->owned = false;
    } else if (s->owned && !t->record) {
        tg__k_accumulate(s->g, g); /* created by this slot below; nobody else holds it */
    } else {
        s->g = tg_add(t, s->g, g);
        s->owned = true;
    }
}

/* a gradient the caller may keep and write: g itself if the walk created it for this
 * slot and no earlier result is the same buffer, else a copy (differentiable when
 * recording) */
static tg_tensor *own_copy(tg_tape *t, tg__gslot *s, tg_tensor *const *prev, int nprev)
{
    bool fresh = s->owned;
    for (int j = 0; fresh && j < nprev; j++)
        fresh = prev[j] != s->g;
    if (fresh)
        return s->g;
    if (t->record)
        return tg_mul_scalar(t, s->g, 1.0);
    tg_tensor *c = tg__new(t, s->g->dtype, s->g->ndim, s->g->shape);
    if (c)
        tg__k_unary(c, s->g, TG_U_COPY, 0);
    return c;
}

/* adds the walk's leaf gradients into the leaves' persistent .grad; the storage's
 * grad_lock serialises tapes on other threads adding into the same .grad */
static tg_status add_into_grads(tg_tape *t, const char *fn)
{
    for (int64_t i = 0; i < t->nleaves; i++) {
        tg_tensor *x = t->leaves[i].x, *g = t->leaves[i].s.g;
        atomic_int *lock = x->storage ? &x->storage->grad_lock : NULL;
        while (lock && atomic_exchange_explicit(lock, 1, memory_order_acquire))
            ;
        if (!x->grad)
            x->grad = tg_zeros(x->dtype, x->ndim, x->shape);
        if (x->grad)
            tg__k_accumulate(x->grad, g);
        if (lock)
            atomic_store_explicit(lock, 0, memory_order_release);
        if (!x->grad) {
            tg__fail(t, TG_ENOMEM, "%s: out of memory for a gradient %s", fn, tg__shape_str(x).s);
            return TG_ENOMEM;
        }
    }
    return TG_OK;
}

static tg_status check_arg(tg_tape *t, const tg_tensor *x, const char *what, const char *fn)
{
    if (!x) {
        tg__fail(t, TG_EINVAL, "%s: %s is NULL", fn, what);
        return TG_EINVAL;
    }
    if ((x->tape != t || x->gen != t->gen) && !tg__check_input(t, x, -1, fn))
        return t->status;
    return TG_OK;
}

/* the walk's arguments: root recorded and requiring grad; *seed the caller's (of root's
 * shape and dtype) or, for a one-element root, a tape tensor of ones; every xs[i] usable */
static tg_status check_walk(tg_tape *t, tg_tensor *root, tg_tensor **seed, int n,
                            tg_tensor *const *xs, const char *fn)
{
    if (check_arg(t, root, "root", fn) != TG_OK)
        return t->status;
    if (!root->requires_grad) {
        tg__fail(t, TG_ESTATE,
                 "%s: root %s does not require grad (no input requires grad, or grad mode was off)",
                 fn, tg__shape_str(root).s);
        return TG_ESTATE;
    }
    if (!*seed) {
        if (tg_tensor_numel(root) != 1) {
            tg__fail(t, TG_ESHAPE, "%s: root has shape %s; a non-scalar root needs a seed gradient",
                     fn, tg__shape_str(root).s);
            return TG_ESHAPE;
        }
        *seed = tg_tape_full(t, root->dtype, root->ndim, root->shape, 1.0);
        if (!*seed)
            return t->status;
    } else if (check_arg(t, *seed, "seed", fn) != TG_OK) {
        return t->status;
    } else if (!tg_tensor_same_shape(*seed, root) || (*seed)->dtype != root->dtype) {
        tg__fail(t, TG_ESHAPE, "%s: seed %s %s does not match root %s %s", fn,
                 tg__shape_str(*seed).s, tg_dtype_name((*seed)->dtype), tg__shape_str(root).s,
                 tg_dtype_name(root->dtype));
        return TG_ESHAPE;
    }
    for (int i = 0; i < n; i++) {
        char what[32];
        snprintf(what, sizeof what, "input %d", i);
        if (check_arg(t, xs[i], what, fn) != TG_OK)
            return t->status;
    }
    return TG_OK;
}

/* fresh slots for a walk from root: one per node up to the root, and the leaf index */
static tg_status begin_walk(tg_tape *t, const tg_tensor *root, const char *fn)
{
    t->gnode = tg__arena_alloc_small(t, sizeof(tg__gslot) * (size_t)(root->node + 1));
    if (!t->gnode)
        return t->status;
    memset(t->gnode, 0, sizeof(tg__gslot) * (size_t)(root->node + 1));
    t->ngnode = root->node + 1;
    if (!leaves_begin(t)) {
        tg__fail(t, TG_ENOMEM, "%s: out of memory", fn);
        return TG_ENOMEM;
    }
    return TG_OK;
}

/* Node i's step of the walk: its inputs' hashes checked (anomaly mode recorded them),
 * its backward run with g, its inputs' gradients checked for NaN/Inf (anomaly) and
 * accumulated into their slots. Errors go to the tape. */
static TG_ALWAYS_INLINE void backward_node(tg_tape *t, int64_t i, tg_tensor *g, bool anomaly,
                                           const char *fn)
{
    tg__node nd = t->nodes[i]; /* a copy: backward ops may grow the node array */
    tg_tensor **gi = tg__arena_alloc_small(t, sizeof(tg_tensor *) * (size_t)nd.n_in);
    if (!gi)
        return;
    memset(gi, 0, sizeof(tg_tensor *) * (size_t)nd.n_in);
    for (int k = 0; nd.hashes && k < nd.n_in; k++)
        if (tg_tensor_hash(nd.in[k]) != nd.hashes[k]) {
            tg__fail(t, TG_ENUMERIC,
                     "%s: input %d ('%s', %s) of op '%s' at tape position %lld was modified "
                     "after the forward pass (saved-tensor check)",
                     fn, k, tg__label_of(nd.in[k]), tg__shape_str(nd.in[k]).s, tg_op_name(nd.op),
                     (long long)i);
            return;
        }
    tg__op_backward[nd.op](t, &nd, g, gi);
    for (int k = 0; anomaly && k < nd.n_in && !TG__FAILED(t); k++)
        if (gi[k] && !tg__all_finite(gi[k]))
            tg__fail(t, TG_ENUMERIC,
                     "anomaly: backward of op '%s' at tape position %lld produced NaN/Inf in "
                     "the gradient of input %d ('%s')",
                     tg_op_name(nd.op), (long long)i, k, tg__label_of(nd.in[k]));
    for (int k = 0; k < nd.n_in && !TG__FAILED(t); k++)
        if (gi[k] && nd.in[k]->requires_grad)
            accumulate(t, nd.in[k], gi[k]);
}

/* tg_grad's results: grads[i] = the gradient of xs[i] (owned by the caller's tape, a
 * copy where a slot's g is shared), zeros for an input the walk did not reach */
static tg_status deliver(tg_tape *t, int n, tg_tensor *const *xs, tg_tensor **grads)
{
    for (int i = 0; i < n; i++) {
        tg__gslot *s = slot_of(t, xs[i], false);
        if (s && s->g)
            grads[i] = own_copy(t, s, grads, i);
        else
            grads[i] = tg_tape_zeros(t, xs[i]->dtype, xs[i]->ndim, xs[i]->shape);
        if (!grads[i])
            break;
    }
    return t->status;
}

/* The engine: one reverse walk from root's node, recording only with create_graph;
 * then the leaves' gradients go into their .grad (grads NULL) or to grads[0..n). */
static tg_status run_backward(tg_tape *t, tg_tensor *root, tg_tensor *seed, int n,
                              tg_tensor *const *xs, tg_tensor **grads,
                              const tg_backward_opts *opts, const char *fn)
{
    if (!t)
        return tg__error_status(TG_EINVAL, "%s: NULL tape", fn);
    if (TG__FAILED(t))
        return t->status;
    if (check_walk(t, root, &seed, n, xs, fn) != TG_OK || begin_walk(t, root, fn) != TG_OK)
        return t->status;
    tg__gslot *gnode = t->gnode; /* this walk's; a nested walk cannot start meanwhile */
    bool saved = t->record, anomaly = t->anomaly;
    t->record = opts && opts->create_graph;
    t->anomaly = false; /* the backward reports its own anomalies, per op */
    accumulate(t, root, seed);
    for (int64_t i = root->node; i >= 0 && !TG__FAILED(t); i--)
        if (gnode[i].g)
            backward_node(t, i, gnode[i].g, anomaly, fn);
    t->record = saved;
    t->anomaly = anomaly;
    if (TG__FAILED(t))
        return t->status;
    return grads ? deliver(t, n, xs, grads) : add_into_grads(t, fn);
}

tg_status tg_backward(tg_tape *t, tg_tensor *root)
{
    return run_backward(t, root, NULL, 0, NULL, NULL, NULL, "tg_backward");
}

tg_status tg_backward_ex(tg_tape *t, tg_tensor *root, tg_tensor *seed,
                         const tg_backward_opts *opts)
{
    return run_backward(t, root, seed, 0, NULL, NULL, opts, "tg_backward_ex");
}

tg_status tg_grad(tg_tape *t, tg_tensor *root, tg_tensor *seed, int n, tg_tensor *const *xs,
                  tg_tensor **grads, const tg_backward_opts *opts)
{
    if (n < 0 || (n > 0 && (!xs || !grads))) {
        if (!t)
            return tg__error_status(TG_EINVAL, "tg_grad: NULL tape");
        tg__fail(t, TG_EINVAL, "tg_grad: invalid inputs (n %d, xs %s, grads %s)", n,
                 xs ? "set" : "NULL", grads ? "set" : "NULL");
        return t->status; /* the tape's first error, like every backward */
    }
    return run_backward(t, root, seed, n, xs, grads, opts, "tg_grad");
}
