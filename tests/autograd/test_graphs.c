/* Whole-graph gradient verification. A seeded generator builds random DAGs (3-40 ops)
 * over the registered ops with the structures per-op gradcheck never sees: nodes
 * consumed by 2-4 ops, tied weights (one parameter in several places), `a + b` results
 * used more than once, diamonds, views consumed twice, several outputs combined into the
 * loss, leaves that do not reach the loss, constants mixed with parameters. Every graph
 * is checked in F64:
 *  - first order: tg_grad's returned tensors and tg_backward's ->grad agree with each
 *    other and with central differences; a second tg_backward doubles ->grad; a
 *    parameter that does not reach the loss gets exactly zero from tg_grad and keeps
 *    ->grad NULL through tg_backward; constants keep ->grad NULL;
 *  - second order (every --second-every'th graph): the Hessian-vector product
 *    d(v . grad)/dx through tg_grad(create_graph) then tg_grad and tg_backward, against
 *    central differences of v . grad.
 * Leaf values are drawn away from the kinks of relu/abs/max/clamp/...; an element whose
 * one-sided differences disagree (a step crossed a kink) and whose analytic value fits
 * neither marks the graph skipped, never passed; too many skips fail the run.
 * A failure prints the seed and a shrunk graph (nodes bypassed or replaced by leaves
 * while it still fails), one line per node.
 *
 *   test_graphs [--graphs N] [--seed S] [--only K] [--second-every M] [--verbose]
 *   test_graphs --self-test   wrong backwards installed in the dispatch table are caught
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd/internal.h"
#include "tapegrad.h"

#define MAXN 120      /* nodes of a graph, leaves included */
#define MAXOUT 4      /* outputs combined into the loss */
#define MAXEL 96      /* elements of one node */
#define MAXLEAFEL 48  /* elements of one leaf */
#define MARGIN 1e-3   /* minimum distance of a kink input from its kink */
#define FD_EPS 1e-6
#define ATOL 1e-5
#define RTOL 1e-3

/* ------------------------------------------------------------------ rng */

typedef struct {
    uint64_t s;
} rng;

static uint64_t rnext(rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}
static int rint_(rng *r, int n) { return n <= 1 ? 0 : (int)(rnext(r) % (uint64_t)n); }
static double runif(rng *r, double lo, double hi)
{
    return lo + (hi - lo) * ((double)(rnext(r) >> 11) * 0x1.0p-53);
}
static bool rchance(rng *r, double p) { return runif(r, 0, 1) < p; }

/* ---------------------------------------------------------------- graph */

#define KINDS(X)                                                                               \
    X(PARAM, "param") X(CONST, "const")                                                       \
    X(ADD, "add") X(SUB, "sub") X(MUL, "mul") X(DIV, "div")                                   \
    X(RELU_BWD, "relu_backward") X(LEAKY_BWD, "leaky_relu_backward")                          \
    X(SIGMOID_BWD, "sigmoid_backward") X(TANH_BWD, "tanh_backward")                           \
    X(GELU_BWD, "gelu_backward")                                                              \
    X(NEG, "neg") X(ADD_SCALAR, "add_scalar") X(MUL_SCALAR, "mul_scalar") X(POW, "pow_scalar") \
    X(EXP, "exp") X(LOG, "log") X(SQRT, "sqrt") X(ABS, "abs") X(RELU, "relu")                 \
    X(LEAKY, "leaky_relu") X(SIGMOID, "sigmoid") X(TANH, "tanh") X(GELU, "gelu")              \
    X(SOFTPLUS, "softplus") X(CLAMP, "clamp") X(DROPOUT, "dropout")                           \
    X(MATMUL, "matmul") X(DENSE, "dense")                                                     \
    X(PERMUTE, "permute") X(RESHAPE, "reshape") X(SLICE, "slice") X(EXPAND, "expand")         \
    X(CONTIGUOUS, "contiguous") X(CONCAT, "concat") X(SLICE_BWD, "slice_backward")            \
    X(SUM, "sum") X(MEAN, "mean") X(MAX, "max") X(SOFTMAX, "softmax")                         \
    X(LOG_SOFTMAX, "log_softmax")                                                             \
    X(SCE, "softmax_cross_entropy") X(SCE_BWD, "softmax_cross_entropy_backward")              \
    X(BCE_LOGITS, "bce_with_logits") X(BCE, "binary_cross_entropy")                          \
    X(CCE, "categorical_cross_entropy") X(MSE, "mse") X(MAE, "mae") X(HUBER, "huber")         \
    X(KL, "kl_div") X(L1, "l1_penalty") X(L2, "l2_penalty")                                   \
    X(CONV2D, "conv2d") X(CONV2D_WEIGHT, "conv2d_weight") X(MAX_POOL, "max_pool2d")           \
    X(AVG_POOL, "avg_pool2d") X(IM2COL, "im2col") X(COL2IM, "col2im")                         \
    X(GATHER, "gather_last") X(SCATTER, "scatter_add_last") X(LAYER_NORM, "layer_norm")       \
    X(BATCH_NORM, "batch_norm")

enum {
#define X(E, s) K_##E,
    KINDS(X)
#undef X
        K_COUNT
};
static const char *const kname[K_COUNT] = {
#define X(E, s) s,
    KINDS(X)
#undef X
};

/* op kinds the generator draws, with weights (leaves are made on demand) */
static const struct {
    int kind, weight;
} kind_weights[] = {
    {K_ADD, 10}, {K_SUB, 3}, {K_MUL, 6}, {K_DIV, 2}, {K_RELU_BWD, 1}, {K_LEAKY_BWD, 1},
    {K_SIGMOID_BWD, 1}, {K_TANH_BWD, 1}, {K_GELU_BWD, 1}, {K_NEG, 1}, {K_ADD_SCALAR, 1},
    {K_MUL_SCALAR, 1}, {K_POW, 2}, {K_EXP, 1}, {K_LOG, 1}, {K_SQRT, 1}, {K_ABS, 1},
    {K_RELU, 2}, {K_LEAKY, 1}, {K_SIGMOID, 1}, {K_TANH, 2}, {K_GELU, 1}, {K_SOFTPLUS, 1},
    {K_CLAMP, 1}, {K_DROPOUT, 1}, {K_MATMUL, 3}, {K_DENSE, 2}, {K_PERMUTE, 3},
    {K_RESHAPE, 2}, {K_SLICE, 3}, {K_EXPAND, 2}, {K_CONTIGUOUS, 1}, {K_CONCAT, 2},
    {K_SLICE_BWD, 1}, {K_SUM, 2}, {K_MEAN, 2}, {K_MAX, 1}, {K_SOFTMAX, 1},
    {K_LOG_SOFTMAX, 1}, {K_SCE, 1}, {K_SCE_BWD, 1}, {K_BCE_LOGITS, 1}, {K_BCE, 1},
    {K_CCE, 1}, {K_MSE, 1}, {K_MAE, 1}, {K_HUBER, 1}, {K_KL, 1}, {K_L1, 1}, {K_L2, 1},
    {K_CONV2D, 1}, {K_CONV2D_WEIGHT, 1}, {K_MAX_POOL, 1}, {K_AVG_POOL, 1}, {K_IM2COL, 1},
    {K_COL2IM, 1}, {K_GATHER, 1}, {K_SCATTER, 1}, {K_LAYER_NORM, 1}, {K_BATCH_NORM, 1},
};

typedef struct {
    int kind;
    int nin;
    int in[4];           /* earlier nodes; -1 = absent (no bias, no gamma, ...) */
    int ndim;
    int64_t shape[4];    /* output shape */
    double s[2];         /* scalar arguments */
    int64_t p[12];       /* integer arguments (axes, slices, conv options) */
    tg_tensor *val;      /* leaves: the persistent tensor */
    tg_tensor *aux[2];   /* constant side inputs: targets, class weights, indices */
} gnode;

typedef struct {
    int n, nout;
    gnode nd[MAXN];
    int out[MAXOUT];
    tg_tensor *outw[MAXOUT]; /* loss = sum_k sum(outw[k] * out[k]) */
} graph;

/* every persistent tensor made for the current graph (leaves, targets, weights) */
static tg_tensor **pool;
static int npool, cappool;

static tg_tensor *keep(tg_tensor *x)
{
    if (!x) {
        fprintf(stderr, "FAIL: tensor allocation failed: %s\n", tg_last_error());
        exit(1);
    }
    if (npool == cappool) {
        cappool = cappool ? 2 * cappool : 256;
        pool = realloc(pool, sizeof *pool * (size_t)cappool);
        if (!pool) {
            fprintf(stderr, "FAIL: out of memory\n");
            exit(1);
        }
    }
    return pool[npool++] = x;
}

static void pool_free(void)
{
    for (int i = 0; i < npool; i++)
        tg_tensor_free(&pool[i]);
    npool = 0;
}

static int64_t numel_of(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int d = 0; d < ndim; d++)
        n *= shape[d];
    return n;
}

static const double *values_of(const tg_tensor *x, double *buf)
{
    tg_tensor_copy_out(x, TG_F64, buf);
    return buf;
}

/* -------------------------------------------------------------- building */

static tg_tensor *apply(tg_tape *t, const graph *g, int i, tg_tensor *const *v)
{
    const gnode *n = &g->nd[i];
    tg_tensor *a = n->nin > 0 && n->in[0] >= 0 ? v[n->in[0]] : NULL;
    tg_tensor *b = n->nin > 1 && n->in[1] >= 0 ? v[n->in[1]] : NULL;
    tg_tensor *c = n->nin > 2 && n->in[2] >= 0 ? v[n->in[2]] : NULL;
    const int64_t *p = n->p;
    switch (n->kind) {
    case K_PARAM:
    case K_CONST: return n->val;
    case K_ADD: return tg_add(t, a, b);
    case K_SUB: return tg_sub(t, a, b);
    case K_MUL: return tg_mul(t, a, b);
    case K_DIV: return tg_div(t, a, b);
    case K_RELU_BWD: return tg_relu_backward(t, a, b);
    case K_LEAKY_BWD: return tg_leaky_relu_backward(t, a, b, n->s[0]);
    case K_SIGMOID_BWD: return tg_sigmoid_backward(t, a, b);
    case K_TANH_BWD: return tg_tanh_backward(t, a, b);
    case K_GELU_BWD: return tg_gelu_backward(t, a, b);
    case K_NEG: return tg_neg(t, a);
    case K_ADD_SCALAR: return tg_add_scalar(t, a, n->s[0]);
    case K_MUL_SCALAR: return tg_mul_scalar(t, a, n->s[0]);
    case K_POW: return tg_pow_scalar(t, a, n->s[0]);
    case K_EXP: return tg_exp(t, a);
    case K_LOG: return tg_log(t, a);
    case K_SQRT: return tg_sqrt(t, a);
    case K_ABS: return tg_abs(t, a);
    case K_RELU: return tg_relu(t, a);
    case K_LEAKY: return tg_leaky_relu(t, a, n->s[0]);
    case K_SIGMOID: return tg_sigmoid(t, a);
    case K_TANH: return tg_tanh(t, a);
    case K_GELU: return tg_gelu(t, a);
    case K_SOFTPLUS: return tg_softplus(t, a);
    case K_CLAMP: return tg_clamp(t, a, n->s[0], n->s[1]);
    case K_DROPOUT: return tg_dropout(t, a, n->s[0], (uint64_t)p[0], (uint64_t)p[1], true);
    case K_MATMUL: return tg_matmul(t, a, b);
    case K_DENSE: return tg_dense(t, a, b, c);
    case K_PERMUTE: {
        int perm[4];
        for (int d = 0; d < n->ndim; d++)
            perm[d] = (int)p[d];
        return tg_permute(t, a, perm);
    }
    case K_RESHAPE: return tg_reshape(t, a, n->ndim, n->shape);
    case K_SLICE: return tg_slice(t, a, p, p + 4, p + 8);
    case K_EXPAND: return tg_expand(t, a, n->ndim, n->shape);
    case K_CONTIGUOUS: return tg_contiguous(t, a);
    case K_CONCAT: {
        tg_tensor *xs[4];
        for (int k = 0; k < n->nin; k++)
            xs[k] = v[n->in[k]];
        return tg_concat(t, n->nin, xs, (int)p[0]);
    }
    case K_SLICE_BWD: {
        tg_tensor *like = tg_tape_zeros(t, TG_F64, n->ndim, n->shape);
        return tg_slice_backward(t, a, like, p, p + 4, p + 8);
    }
    case K_SUM:
    case K_MEAN: {
        int axes[4];
        for (int k = 0; k < p[0]; k++)
            axes[k] = (int)p[1 + k];
        return (n->kind == K_SUM ? tg_sum : tg_mean)(t, a, (int)p[0], axes, p[5] != 0);
    }
    case K_MAX: return tg_max(t, a, (int)p[0], p[5] != 0);
    case K_SOFTMAX: return tg_softmax(t, a, (int)p[0]);
    case K_LOG_SOFTMAX: return tg_log_softmax(t, a, (int)p[0]);
    case K_SCE:
    case K_SCE_BWD: {
        tg_ce_opts o = tg_ce_defaults();
        o.label_smoothing = n->s[0];
        o.weights = n->aux[1];
        if (n->kind == K_SCE)
            return tg_softmax_cross_entropy(t, a, n->aux[0], &o);
        return tg_softmax_cross_entropy_backward(t, a, n->aux[0], b, &o);
    }
    case K_BCE_LOGITS: return tg_bce_with_logits(t, a, n->aux[0]);
    case K_BCE: return tg_binary_cross_entropy(t, a, n->aux[0]);
    case K_CCE: return tg_categorical_cross_entropy(t, a, n->aux[0]);
    case K_MSE: return tg_mse(t, a, n->aux[0]);
    case K_MAE: return tg_mae(t, a, n->aux[0]);
    case K_HUBER: return tg_huber(t, a, n->aux[0], n->s[0]);
    case K_KL: return tg_kl_div(t, a, n->aux[0]);
    case K_L1: return tg_l1_penalty(t, a, n->s[0]);
    case K_L2: return tg_l2_penalty(t, a, n->s[0]);
    case K_CONV2D:
    case K_CONV2D_WEIGHT: {
        tg_conv2d_opts o = {.stride = {p[0], p[1]}, .padding = {p[2], p[3]},
                            .dilation = {p[4], p[5]}, .groups = p[6]};
        if (n->kind == K_CONV2D)
            return tg_conv2d(t, a, b, c, &o);
        return tg_conv2d_weight(t, a, b, n->shape, &o);
    }
    case K_MAX_POOL: return tg_max_pool2d(t, a, p, p + 2, p + 4);
    case K_AVG_POOL: return tg_avg_pool2d(t, a, p, p + 2, p + 4);
    case K_IM2COL: return tg_im2col(t, a, p, p + 2, p + 4, p + 6, n->s[0]);
    case K_COL2IM: return tg_col2im(t, a, p + 8, p, p + 2, p + 4, p + 6);
    case K_GATHER: return tg_gather_last(t, a, n->aux[0]);
    case K_SCATTER: return tg_scatter_add_last(t, a, n->aux[0], p[0]);
    case K_LAYER_NORM: return tg_layer_norm(t, a, (int)p[0], b, c, n->s[0]);
    case K_BATCH_NORM: return tg_batch_norm(t, a, b, c, NULL, NULL, 0.1, n->s[0], true);
    }
    return NULL;
}

/* builds every node (dead ones too) and the loss; v receives the node tensors */
static tg_tensor *build(tg_tape *t, const graph *g, tg_tensor **v)
{
    for (int i = 0; i < g->n; i++)
        if (!(v[i] = apply(t, g, i, v)))
            return NULL;
    tg_tensor *loss = NULL;
    for (int k = 0; k < g->nout; k++) {
        tg_tensor *term = tg_sum(t, tg_mul(t, v[g->out[k]], g->outw[k]), 0, NULL, false);
        loss = loss ? tg_add(t, loss, term) : term;
    }
    return loss;
}

/* ------------------------------------------------------------- printing */

static void print_shape(FILE *f, int ndim, const int64_t *shape)
{
    fputc('[', f);
    for (int d = 0; d < ndim; d++)
        fprintf(f, "%s%lld", d ? "," : "", (long long)shape[d]);
    fputc(']', f);
}

static void print_ints(FILE *f, const char *name, const int64_t *p, int n)
{
    fprintf(f, " %s=", name);
    for (int k = 0; k < n; k++)
        fprintf(f, "%s%lld", k ? "," : "", (long long)p[k]);
}

static void print_graph(FILE *f, const graph *g)
{
    for (int i = 0; i < g->n; i++) {
        const gnode *n = &g->nd[i];
        if (n->kind <= K_CONST) {
            fprintf(f, "  n%d = %s ", i, kname[n->kind]);
            print_shape(f, n->ndim, n->shape);
            fputc('\n', f);
            continue;
        }
        fprintf(f, "  n%d = %s(", i, kname[n->kind]);
        for (int k = 0; k < n->nin; k++) {
            if (n->in[k] >= 0)
                fprintf(f, "%sn%d", k ? ", " : "", n->in[k]);
            else
                fprintf(f, "%s-", k ? ", " : "");
        }
        int ind = n->nin ? g->nd[n->in[0]].ndim : 0;
        const int64_t *p = n->p;
        switch (n->kind) {
        case K_LEAKY_BWD: case K_ADD_SCALAR: case K_MUL_SCALAR: case K_POW: case K_LEAKY:
        case K_HUBER: case K_L1: case K_L2: case K_LAYER_NORM: case K_BATCH_NORM:
            fprintf(f, "; %g", n->s[0]);
            if (n->kind == K_LAYER_NORM)
                fprintf(f, " last=%lld", (long long)p[0]);
            break;
        case K_CLAMP: fprintf(f, "; %g..%g", n->s[0], n->s[1]); break;
        case K_DROPOUT: fprintf(f, "; rate %g seed %lld", n->s[0], (long long)p[0]); break;
        case K_PERMUTE: fputc(';', f); print_ints(f, "perm", p, n->ndim); break;
        case K_SLICE: case K_SLICE_BWD: {
            int nd = n->kind == K_SLICE ? ind : n->ndim;
            fputc(';', f);
            print_ints(f, "start", p, nd);
            print_ints(f, "stop", p + 4, nd);
            print_ints(f, "step", p + 8, nd);
            break;
        }
        case K_CONCAT: case K_SOFTMAX: case K_LOG_SOFTMAX:
            fprintf(f, "; axis %lld", (long long)p[0]);
            break;
        case K_SUM: case K_MEAN:
            fputc(';', f);
            print_ints(f, "axes", p + 1, (int)p[0]);
            fprintf(f, " keep=%d", (int)p[5]);
            break;
        case K_MAX: fprintf(f, "; axis %lld keep=%d", (long long)p[0], (int)p[5]); break;
        case K_SCE: case K_SCE_BWD:
            fprintf(f, "; %s target, smoothing %g%s",
                    n->aux[0]->dtype == TG_I32 ? "sparse" : "dense", n->s[0],
                    n->aux[1] ? ", class weights" : "");
            break;
        case K_CONV2D: case K_CONV2D_WEIGHT:
            fputc(';', f);
            print_ints(f, "stride", p, 2);
            print_ints(f, "pad", p + 2, 2);
            print_ints(f, "dil", p + 4, 2);
            print_ints(f, "groups", p + 6, 1);
            break;
        case K_MAX_POOL: case K_AVG_POOL: case K_IM2COL: case K_COL2IM:
            fputc(';', f);
            print_ints(f, "k", p, 2);
            print_ints(f, "stride", p + 2, 2);
            print_ints(f, "pad", p + 4, 2);
            if (n->kind == K_IM2COL || n->kind == K_COL2IM)
                print_ints(f, "dil", p + 6, 2);
            break;
        case K_SCATTER: fprintf(f, "; size %lld", (long long)p[0]); break;
        default: break;
        }
        fputs(") ", f);
        print_shape(f, n->ndim, n->shape);
        fputc('\n', f);
    }
    fputs("  loss =", f);
    for (int k = 0; k < g->nout; k++)
        fprintf(f, "%s sum(w%d * n%d)", k ? " +" : "", k, g->out[k]);
    fputc('\n', f);
}

static uint64_t graph_seed(uint64_t seed, int k);
static void reachable(const graph *g, bool *reach);

/* ------------------------------------------------------------ generator */

enum { P_ANY, P_AWAY, P_NZ, P_POS, P_PROB, P_SMALL };

typedef struct {
    graph *g;
    rng r;
    tg_tape *t;
    tg_tensor *v[MAXN];
    double mn[MAXN], mx[MAXN], mabs[MAXN];
    int hot[8], nhot;
    char err[512];
} gen;

static bool pred_ok(const gen *G, int i, int pred)
{
    switch (pred) {
    case P_AWAY: return G->mabs[i] >= MARGIN;
    case P_NZ: return G->mabs[i] >= 0.25;
    case P_POS: return G->mn[i] >= 0.1;
    case P_PROB: return G->mn[i] >= 0.02 && G->mx[i] <= 0.98;
    case P_SMALL: return G->mx[i] <= 2.5 && G->mn[i] >= -8;
    default: return true;
    }
}

static void stats(gen *G, int i)
{
    double buf[MAXEL];
    int64_t cnt = tg_tensor_numel(G->v[i]);
    const double *x = values_of(G->v[i], buf);
    G->mn[i] = INFINITY;
    G->mx[i] = -INFINITY;
    G->mabs[i] = INFINITY;
    for (int64_t k = 0; k < cnt; k++) {
        double a = isfinite(x[k]) ? x[k] : NAN;
        G->mn[i] = fmin(G->mn[i], a);
        G->mx[i] = fmax(G->mx[i], a);
        G->mabs[i] = fmin(G->mabs[i], fabs(a));
        if (isnan(a))
            G->mn[i] = G->mx[i] = NAN;
    }
}

static void random_shape(rng *r, int *ndim, int64_t *shape, int ndlo, int ndhi)
{
    do {
        *ndim = ndlo + rint_(r, ndhi - ndlo + 1);
        for (int d = 0; d < *ndim; d++)
            shape[d] = 1 + rint_(r, 4);
    } while (numel_of(*ndim, shape) > MAXLEAFEL);
}

/* a new leaf: a parameter (requires grad) or a persistent constant */
static int add_leaf(gen *G, int ndim, const int64_t *shape, int pred, bool param)
{
    graph *g = G->g;
    if (g->n >= MAXN - 1 || numel_of(ndim, shape) > MAXLEAFEL)
        return -1;
    tg_tensor *x = keep(tg_zeros(TG_F64, ndim, shape));
    int64_t cnt = tg_tensor_numel(x);
    for (int64_t k = 0; k < cnt; k++) {
        double m;
        switch (pred) {
        case P_POS: m = runif(&G->r, 0.2, 2.0); break;
        case P_PROB: m = runif(&G->r, 0.05, 0.95); break;
        default: m = runif(&G->r, 0.25, 1.5) * (rchance(&G->r, 0.5) ? -1 : 1); break;
        }
        tg_tensor_set_flat(x, k, m);
    }
    if (param)
        tg_tensor_set_requires_grad(x, true);
    gnode *n = &g->nd[g->n];
    memset(n, 0, sizeof *n);
    n->kind = param ? K_PARAM : K_CONST;
    n->ndim = ndim;
    memcpy(n->shape, shape, sizeof(int64_t) * (size_t)ndim);
    n->val = x;
    G->v[g->n] = x;
    stats(G, g->n);
    return g->n++;
}

static bool shape_matches(const gnode *n, int ndim, const int64_t *dims)
{
    if (n->ndim != ndim)
        return false;
    for (int d = 0; d < ndim; d++)
        if (dims[d] >= 0 && dims[d] != n->shape[d])
            return false;
    return true;
}

/* a random existing node: ndim in [ndlo, ndhi], dims (-1 = any; only when ndlo ==
 * ndhi) and pred; prefers hot nodes (results meant to be shared) and recent ones */
static int pick(gen *G, int ndlo, int ndhi, const int64_t *dims, int pred)
{
    int cand[MAXN], nc = 0, hotc[8], nh = 0;
    for (int i = 0; i < G->g->n; i++) {
        const gnode *n = &G->g->nd[i];
        if (n->ndim < ndlo || n->ndim > ndhi || !pred_ok(G, i, pred))
            continue;
        if (dims && !shape_matches(n, n->ndim, dims))
            continue;
        cand[nc++] = i;
    }
    if (!nc)
        return -1;
    for (int h = 0; h < G->nhot; h++)
        for (int k = 0; k < nc; k++)
            if (cand[k] == G->hot[h])
                hotc[nh++] = cand[k];
    double u = runif(&G->r, 0, 1);
    if (nh && u < 0.45)
        return hotc[rint_(&G->r, nh)];
    if (u < 0.75)
        return cand[nc - 1 - rint_(&G->r, nc < 4 ? nc : 4)];
    return cand[rint_(&G->r, nc)];
}

/* an input of exactly this shape (wildcards filled at random for a new leaf): an
 * existing node with probability p_reuse if one fits, else a new leaf */
static int get_input(gen *G, int ndim, const int64_t *dims, int pred, double p_reuse)
{
    if (rchance(&G->r, p_reuse)) {
        int i = pick(G, ndim, ndim, dims, pred);
        if (i >= 0)
            return i;
    }
    int64_t shape[4];
    for (int d = 0; d < ndim; d++)
        shape[d] = dims[d] >= 0 ? dims[d] : 1 + rint_(&G->r, 3);
    return add_leaf(G, ndim, shape, pred, rchance(&G->r, 0.7));
}

/* any node satisfying pred with ndim in range, or a new leaf of a random shape */
static int get_any(gen *G, int ndlo, int ndhi, int pred)
{
    int i = rchance(&G->r, 0.9) ? pick(G, ndlo, ndhi, NULL, pred) : -1;
    if (i >= 0)
        return i;
    int ndim;
    int64_t shape[4];
    random_shape(&G->r, &ndim, shape, ndlo, ndhi);
    return add_leaf(G, ndim, shape, pred, rchance(&G->r, 0.75));
}

static gnode *new_op(gen *G, int kind, int nin, int a, int b, int c)
{
    gnode *n = &G->g->nd[G->g->n];
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->nin = nin;
    n->in[0] = a;
    n->in[1] = b;
    n->in[2] = c;
    n->in[3] = -1;
    return n;
}

/* evaluates the op just filled in at g->nd[g->n] and keeps it if its values are
 * finite and moderate; on a tape error the generator itself is wrong (G->err) */
static bool commit(gen *G)
{
    graph *g = G->g;
    int i = g->n;
    for (int k = 0; k < g->nd[i].nin; k++)
        if (g->nd[i].in[k] >= i)
            return false;
    tg_tensor *y = apply(G->t, g, i, G->v);
    if (!y) {
        snprintf(G->err, sizeof G->err, "generator: op %s failed: %s", kname[g->nd[i].kind],
                 tg_tape_error(G->t));
        return false;
    }
    if (tg_tensor_numel(y) > MAXEL || tg_tensor_numel(y) < 1)
        return false;
    g->nd[i].ndim = y->ndim;
    memcpy(g->nd[i].shape, y->shape, sizeof(int64_t) * (size_t)y->ndim);
    G->v[i] = y;
    stats(G, i);
    if (!(G->mn[i] >= -40 && G->mx[i] <= 40))
        return false;
    g->n++;
    int k = g->nd[i].kind;
    bool shareable = k == K_ADD || k == K_SUB || k == K_PERMUTE || k == K_SLICE ||
                     k == K_EXPAND || k == K_RESHAPE || k == K_CONCAT || k == K_CONTIGUOUS;
    if (rchance(&G->r, shareable ? 0.8 : 0.25)) {
        if (G->nhot == 8)
            memmove(G->hot, G->hot + 1, sizeof(int) * 7), G->nhot--;
        G->hot[G->nhot++] = i;
    }
    return true;
}

static tg_tensor *i32_const(rng *r, int ndim, const int64_t *shape, int hi)
{
    tg_tensor *x = keep(tg_zeros(TG_I32, ndim, shape));
    int64_t cnt = tg_tensor_numel(x);
    for (int64_t k = 0; k < cnt; k++)
        tg_tensor_set_flat(x, k, rint_(r, hi));
    return x;
}

static tg_tensor *f64_const(rng *r, int ndim, const int64_t *shape, double lo, double hi)
{
    tg_tensor *x = keep(tg_zeros(TG_F64, ndim, shape));
    int64_t cnt = tg_tensor_numel(x);
    for (int64_t k = 0; k < cnt; k++)
        tg_tensor_set_flat(x, k, runif(r, lo, hi));
    return x;
}

/* probability rows [N, C] summing to 1 */
static tg_tensor *prob_rows(rng *r, int64_t N, int64_t C)
{
    tg_tensor *y = f64_const(r, 2, (int64_t[]){N, C}, 0.1, 1.0);
    for (int64_t i = 0; i < N; i++) {
        double s = 0;
        for (int64_t k = 0; k < C; k++)
            s += tg_tensor_get_flat(y, i * C + k);
        for (int64_t k = 0; k < C; k++)
            tg_tensor_set_flat(y, i * C + k, tg_tensor_get_flat(y, i * C + k) / s);
    }
    return y;
}

/* true when every row along `axis` of node i has a unique maximum by MARGIN */
static bool max_unique(gen *G, int i, int axis)
{
    const gnode *n = &G->g->nd[i];
    double buf[MAXEL];
    const double *x = values_of(G->v[i], buf);
    int64_t outer = 1, len = n->shape[axis], inner = 1;
    for (int d = 0; d < axis; d++)
        outer *= n->shape[d];
    for (int d = axis + 1; d < n->ndim; d++)
        inner *= n->shape[d];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t in = 0; in < inner; in++) {
            double m1 = -INFINITY, m2 = -INFINITY;
            for (int64_t k = 0; k < len; k++) {
                double e = x[(o * len + k) * inner + in];
                if (e > m1)
                    m2 = m1, m1 = e;
                else if (e > m2)
                    m2 = e;
            }
            if (len > 1 && m1 - m2 < MARGIN)
                return false;
        }
    return true;
}

/* true when every pooling window of node i (4-D) has a unique maximum by MARGIN */
static bool pool_unique(gen *G, int i, const int64_t *p, int64_t Ho, int64_t Wo)
{
    const gnode *n = &G->g->nd[i];
    double buf[MAXEL];
    const double *x = values_of(G->v[i], buf);
    int64_t H = n->shape[2], W = n->shape[3];
    for (int64_t nc = 0; nc < n->shape[0] * n->shape[1]; nc++)
        for (int64_t oh = 0; oh < Ho; oh++)
            for (int64_t ow = 0; ow < Wo; ow++) {
                double m1 = -INFINITY, m2 = -INFINITY;
                for (int64_t a = 0; a < p[0]; a++)
                    for (int64_t b = 0; b < p[1]; b++) {
                        int64_t h = oh * p[2] - p[4] + a, w = ow * p[3] - p[5] + b;
                        if (h < 0 || h >= H || w < 0 || w >= W)
                            continue;
                        double e = x[(nc * H + h) * W + w];
                        if (e > m1)
                            m2 = m1, m1 = e;
                        else if (e > m2)
                            m2 = e;
                    }
                if (m2 > -INFINITY && m1 - m2 < MARGIN)
                    return false;
            }
    return true;
}

/* |x - c| >= MARGIN for every element of node i, for each of the cuts */
static bool away_from(gen *G, int i, const double *cuts, int ncuts)
{
    double buf[MAXEL];
    int64_t cnt = tg_tensor_numel(G->v[i]);
    const double *x = values_of(G->v[i], buf);
    for (int64_t k = 0; k < cnt; k++)
        for (int c = 0; c < ncuts; c++)
            if (fabs(x[k] - cuts[c]) < MARGIN)
                return false;
    return true;
}

/* |a - b| away from each cut, for the elementwise losses (b a constant of a's shape) */
static bool diff_away(gen *G, int i, const tg_tensor *y, const double *cuts, int ncuts)
{
    double bx[MAXEL], by[MAXEL];
    int64_t cnt = tg_tensor_numel(G->v[i]);
    const double *x = values_of(G->v[i], bx), *yy = values_of(y, by);
    for (int64_t k = 0; k < cnt; k++)
        for (int c = 0; c < ncuts; c++)
            if (fabs(fabs(x[k] - yy[k]) - cuts[c]) < MARGIN)
                return false;
    return true;
}

static void slice_args(rng *r, int ndim, const int64_t *shape, int64_t *p, int64_t *out)
{
    for (int d = 0; d < ndim; d++) {
        int64_t step = 1 + rint_(r, 3), start = rint_(r, (int)shape[d]);
        int64_t most = (shape[d] - 1 - start) / step + 1;
        int64_t cnt = 1 + rint_(r, (int)most);
        p[d] = start;
        p[4 + d] = start + (cnt - 1) * step + 1;
        p[8 + d] = step;
        if (rchance(r, 0.25))
            p[d] -= shape[d]; /* the same start counted from the end */
        out[d] = cnt;
    }
}

static bool gen_op(gen *G, int kind)
{
    rng *r = &G->r;
    graph *g = G->g;
    gnode *n;
    int a, b, c;
    int64_t dims[4];
    switch (kind) {
    case K_ADD: case K_SUB: case K_MUL: case K_DIV: case K_RELU_BWD: case K_LEAKY_BWD:
    case K_SIGMOID_BWD: case K_TANH_BWD: case K_GELU_BWD: {
        int predb = kind == K_DIV ? P_NZ : kind == K_RELU_BWD || kind == K_LEAKY_BWD ? P_AWAY
                                                                                   : P_ANY;
        a = get_any(G, 0, 4, P_ANY);
        if (a < 0)
            return false;
        const gnode *na = &g->nd[a];
        int bnd = na->ndim, choice = rint_(r, 10);
        memcpy(dims, na->shape, sizeof dims);
        if (choice < 2 && pred_ok(G, a, predb)) {
            b = a; /* x op x */
        } else {
            if (choice < 6) {
                /* same shape */
            } else if (choice < 9) { /* b broadcasts into a */
                int drop = rint_(r, bnd + 1);
                bnd -= drop;
                memmove(dims, dims + drop, sizeof(int64_t) * (size_t)bnd);
                for (int d = 0; d < bnd; d++)
                    if (rchance(r, 0.3))
                        dims[d] = 1;
            } else { /* a broadcasts into b */
                if (bnd < 4 && rchance(r, 0.5)) {
                    memmove(dims + 1, dims, sizeof(int64_t) * (size_t)bnd);
                    dims[0] = 2;
                    bnd++;
                }
                for (int d = 0; d < bnd; d++)
                    if (dims[d] == 1 && rchance(r, 0.7))
                        dims[d] = 2 + rint_(r, 2);
                if (numel_of(bnd, dims) > MAXLEAFEL)
                    return false;
            }
            b = get_input(G, bnd, dims, predb, 0.6);
        }
        if (b < 0)
            return false;
        if ((kind == K_ADD || kind == K_SUB || kind == K_MUL) && rchance(r, 0.3))
            c = a, a = b, b = c;
        n = new_op(G, kind, 2, a, b, -1);
        n->s[0] = 0.1 + 0.2 * rint_(r, 2);
        return commit(G);
    }
    case K_NEG: case K_ADD_SCALAR: case K_MUL_SCALAR: case K_POW: case K_EXP: case K_LOG:
    case K_SQRT: case K_ABS: case K_RELU: case K_LEAKY: case K_SIGMOID: case K_TANH:
    case K_GELU: case K_SOFTPLUS: case K_DROPOUT: {
        static const double pows[] = {2, 3, 0.5, -1, 1.5};
        double pw = pows[rint_(r, 5)];
        int pred = kind == K_EXP ? P_SMALL : kind == K_LOG || kind == K_SQRT ? P_POS
                   : kind == K_ABS || kind == K_RELU || kind == K_LEAKY ? P_AWAY
                   : kind == K_POW ? (pw == -1 ? P_NZ : pw == 2 || pw == 3 ? P_ANY : P_POS)
                                   : P_ANY;
        if ((a = get_any(G, 0, 4, pred)) < 0)
            return false;
        n = new_op(G, kind, 1, a, -1, -1);
        n->s[0] = kind == K_POW ? pw : kind == K_ADD_SCALAR ? runif(r, -1, 1)
                  : kind == K_MUL_SCALAR ? runif(r, -2, 2) : kind == K_LEAKY ? 0.1
                  : kind == K_DROPOUT ? 0.3 : 0;
        n->p[0] = (int64_t)(rnext(r) >> 40);
        n->p[1] = rint_(r, 5);
        return commit(G);
    }
    case K_CLAMP: {
        if ((a = get_any(G, 0, 4, P_ANY)) < 0)
            return false;
        double lo = 0, hi = 0;
        bool found = false;
        for (int tries = 0; tries < 8 && !found; tries++) {
            lo = runif(r, G->mn[a] - 0.2, (G->mn[a] + G->mx[a]) / 2);
            hi = runif(r, lo + 0.05, G->mx[a] + 0.2);
            found = away_from(G, a, (double[]){lo, hi}, 2);
        }
        if (!found)
            return false;
        n = new_op(G, kind, 1, a, -1, -1);
        n->s[0] = lo;
        n->s[1] = hi;
        return commit(G);
    }
    case K_MATMUL: {
        if ((a = get_any(G, 2, 3, P_ANY)) < 0)
            return false;
        const gnode *na = &g->nd[a];
        int64_t K = na->shape[na->ndim - 1];
        if (na->ndim == 3 && rchance(r, 0.3))
            b = get_input(G, 3, (int64_t[]){na->shape[0], K, -1}, P_ANY, 0.5);
        else
            b = get_input(G, 2, (int64_t[]){K, -1}, P_ANY, 0.5);
        if (b < 0)
            return false;
        new_op(G, kind, 2, a, b, -1);
        return commit(G);
    }
    case K_DENSE: {
        if ((a = get_any(G, 2, 2, P_ANY)) < 0)
            return false;
        if ((b = get_input(G, 2, (int64_t[]){g->nd[a].shape[1], -1}, P_ANY, 0.5)) < 0)
            return false;
        c = rchance(r, 0.7) ? get_input(G, 1, (int64_t[]){g->nd[b].shape[1]}, P_ANY, 0.5) : -1;
        new_op(G, kind, 3, a, b, c);
        return commit(G);
    }
    case K_PERMUTE: {
        if ((a = get_any(G, 2, 4, P_ANY)) < 0)
            return false;
        int nd = g->nd[a].ndim;
        n = new_op(G, kind, 1, a, -1, -1);
        for (int d = 0; d < nd; d++)
            n->p[d] = d;
        while (true) {
            for (int d = nd - 1; d > 0; d--) {
                int e = rint_(r, d + 1);
                int64_t tmp = n->p[d];
                n->p[d] = n->p[e];
                n->p[e] = tmp;
            }
            bool ident = true;
            for (int d = 0; d < nd; d++)
                ident &= n->p[d] == d;
            if (!ident)
                break;
        }
        n->ndim = nd;
        return commit(G);
    }
    case K_RESHAPE: {
        if ((a = get_any(G, 1, 4, P_ANY)) < 0)
            return false;
        int64_t m = numel_of(g->nd[a].ndim, g->nd[a].shape);
        n = new_op(G, kind, 1, a, -1, -1);
        n->ndim = 1 + rint_(r, 4);
        for (int d = 0; d < n->ndim - 1; d++) {
            int64_t divs[64], nd = 0;
            for (int64_t q = 1; q <= m; q++)
                if (m % q == 0 && nd < 64)
                    divs[nd++] = q;
            n->shape[d] = divs[rint_(r, (int)nd)];
            m /= n->shape[d];
        }
        n->shape[n->ndim - 1] = m;
        return commit(G);
    }
    case K_SLICE: {
        if ((a = get_any(G, 1, 4, P_ANY)) < 0)
            return false;
        n = new_op(G, kind, 1, a, -1, -1);
        slice_args(r, g->nd[a].ndim, g->nd[a].shape, n->p, dims);
        return commit(G);
    }
    case K_SLICE_BWD: {
        if ((a = get_any(G, 1, 3, P_ANY)) < 0)
            return false;
        const gnode *na = &g->nd[a];
        n = new_op(G, kind, 1, a, -1, -1);
        n->ndim = na->ndim;
        for (int d = 0; d < na->ndim; d++) {
            int64_t step = 1 + rint_(r, 2), start = rint_(r, 2);
            n->p[d] = start;
            n->p[4 + d] = start + (na->shape[d] - 1) * step + 1;
            n->p[8 + d] = step;
            n->shape[d] = n->p[4 + d] + rint_(r, 2);
        }
        if (numel_of(n->ndim, n->shape) > MAXEL)
            return false;
        return commit(G);
    }
    case K_EXPAND: {
        if ((a = get_any(G, 0, 3, P_ANY)) < 0)
            return false;
        const gnode *na = &g->nd[a];
        n = new_op(G, kind, 1, a, -1, -1);
        int nd = na->ndim, lead = nd < 3 && (nd == 0 || rchance(r, 0.5)) ? 1 : 0;
        n->ndim = nd + lead;
        if (lead)
            n->shape[0] = 2 + rint_(r, 2);
        bool changed = lead;
        for (int d = 0; d < nd; d++) {
            n->shape[lead + d] = na->shape[d];
            if (na->shape[d] == 1 && rchance(r, 0.7))
                n->shape[lead + d] = 2 + rint_(r, 2), changed = true;
        }
        if (!changed || numel_of(n->ndim, n->shape) > MAXEL)
            return false;
        return commit(G);
    }
    case K_CONTIGUOUS:
        if ((a = get_any(G, 1, 4, P_ANY)) < 0)
            return false;
        new_op(G, kind, 1, a, -1, -1);
        return commit(G);
    case K_CONCAT: {
        if ((a = get_any(G, 1, 3, P_ANY)) < 0)
            return false;
        int nd = g->nd[a].ndim, axis = rint_(r, nd), parts = 2 + rint_(r, 2);
        int ins[3] = {a, -1, -1};
        for (int k = 1; k < parts; k++) {
            memcpy(dims, g->nd[a].shape, sizeof dims);
            dims[axis] = -1;
            if ((ins[k] = get_input(G, nd, dims, P_ANY, 0.6)) < 0)
                return false;
        }
        int pos = rint_(r, parts); /* a need not come first */
        c = ins[0], ins[0] = ins[pos], ins[pos] = c;
        n = new_op(G, kind, parts, ins[0], ins[1], ins[2]);
        n->p[0] = rchance(r, 0.3) ? axis - nd : axis;
        return commit(G);
    }
    case K_SUM: case K_MEAN: {
        if ((a = get_any(G, 0, 4, P_ANY)) < 0)
            return false;
        int nd = g->nd[a].ndim;
        n = new_op(G, kind, 1, a, -1, -1);
        n->p[0] = 0;
        for (int d = 0; d < nd; d++)
            if (rchance(r, 0.5))
                n->p[1 + n->p[0]++] = rchance(r, 0.3) ? d - nd : d;
        n->p[5] = rint_(r, 2);
        return commit(G);
    }
    case K_MAX: case K_SOFTMAX: case K_LOG_SOFTMAX: {
        if ((a = get_any(G, 1, 4, P_ANY)) < 0)
            return false;
        int nd = g->nd[a].ndim, axis = rint_(r, nd);
        if (kind == K_MAX && !max_unique(G, a, axis))
            return false;
        n = new_op(G, kind, 1, a, -1, -1);
        n->p[0] = rchance(r, 0.3) ? axis - nd : axis;
        n->p[5] = rint_(r, 2);
        return commit(G);
    }
    case K_SCE: case K_SCE_BWD: case K_CCE: case K_KL: {
        int pred = kind == K_CCE ? P_PROB : P_ANY;
        if ((a = get_any(G, 2, 2, pred)) < 0)
            return false;
        int64_t N = g->nd[a].shape[0], C = g->nd[a].shape[1];
        b = -1;
        if (kind == K_SCE_BWD && (b = get_input(G, 0, dims, P_ANY, 0.7)) < 0)
            return false;
        n = new_op(G, kind, kind == K_SCE_BWD ? 2 : 1, a, b, -1);
        bool sparse = kind != K_KL && rchance(r, 0.5);
        n->aux[0] = sparse ? i32_const(r, 1, &N, (int)C) : prob_rows(r, N, C);
        if (kind == K_SCE || kind == K_SCE_BWD) {
            n->s[0] = rchance(r, 0.4) ? 0.1 : 0;
            n->aux[1] = rchance(r, 0.4) ? f64_const(r, 1, &C, 0.5, 2.0) : NULL;
        }
        return commit(G);
    }
    case K_BCE_LOGITS: case K_BCE: case K_MSE: case K_MAE: case K_HUBER: case K_L1:
    case K_L2: {
        int pred = kind == K_BCE ? P_PROB : kind == K_L1 ? P_AWAY : P_ANY;
        if ((a = get_any(G, 0, 4, pred)) < 0)
            return false;
        n = new_op(G, kind, 1, a, -1, -1);
        if (kind == K_L1 || kind == K_L2) {
            n->s[0] = runif(r, 0.01, 0.5);
            return commit(G);
        }
        bool probs = kind == K_BCE_LOGITS || kind == K_BCE;
        n->aux[0] = f64_const(r, g->nd[a].ndim, g->nd[a].shape, probs ? 0.05 : -1,
                              probs ? 0.95 : 1);
        n->s[0] = kind == K_HUBER ? 0.5 : 0;
        if (kind == K_MAE && !diff_away(G, a, n->aux[0], (double[]){0}, 1))
            return false;
        if (kind == K_HUBER && !diff_away(G, a, n->aux[0], (double[]){0.5}, 1))
            return false;
        return commit(G);
    }
    case K_CONV2D: case K_CONV2D_WEIGHT: case K_MAX_POOL: case K_AVG_POOL: case K_IM2COL: {
        if ((a = get_any(G, 4, 4, P_ANY)) < 0)
            return false;
        const gnode *na = &g->nd[a];
        int64_t C = na->shape[1], H = na->shape[2], W = na->shape[3], p[12] = {0};
        bool pool2 = kind == K_MAX_POOL || kind == K_AVG_POOL;
        for (int k = 0; k < 2; k++) {
            int64_t kk = 1 + rint_(r, 3);
            p[k] = kk; /* kernel (pools, im2col) */
            if (pool2) {
                p[2 + k] = rchance(r, 0.5) ? kk : 1 + rint_(r, 2);
                p[4 + k] = rint_(r, (int)(kk / 2) + 1);
            }
        }
        int64_t Ho, Wo, kh = 1 + rint_(r, 3), kw = 1 + rint_(r, 3);
        int64_t Cout = 1 + rint_(r, 3), groups = 1;
        if (pool2) {
            Ho = tg_conv_out_size(H, p[0], p[2], p[4], 1);
            Wo = tg_conv_out_size(W, p[1], p[3], p[5], 1);
            if (Ho < 1 || Wo < 1 || (kind == K_MAX_POOL && !pool_unique(G, a, p, Ho, Wo)))
                return false;
            n = new_op(G, kind, 1, a, -1, -1);
            memcpy(n->p, p, sizeof p);
            return commit(G);
        }
        int64_t q[8] = {1 + rint_(r, 2), 1 + rint_(r, 2), rint_(r, 2), rint_(r, 2),
                        1 + rint_(r, 2), 1 + rint_(r, 2), 1, 0};
        if (kind == K_IM2COL) {
            kh = p[0];
            kw = p[1];
        }
        Ho = tg_conv_out_size(H, kh, q[0], q[2], q[4]);
        Wo = tg_conv_out_size(W, kw, q[1], q[3], q[5]);
        if (Ho < 1 || Wo < 1)
            return false;
        if (kind == K_IM2COL) {
            n = new_op(G, kind, 1, a, -1, -1);
            n->p[0] = kh, n->p[1] = kw;
            memcpy(n->p + 2, q, sizeof(int64_t) * 6);
            n->s[0] = rchance(r, 0.5) ? 0 : 0.5;
            return commit(G);
        }
        if (C % 2 == 0 && rchance(r, 0.4)) {
            groups = 2;
            Cout = 2 * (1 + rint_(r, 2));
        }
        q[6] = groups;
        int64_t wshape[4] = {Cout, C / groups, kh, kw};
        if (kind == K_CONV2D) {
            if ((b = get_input(G, 4, wshape, P_ANY, 0.5)) < 0)
                return false;
            c = rchance(r, 0.6) ? get_input(G, 1, &Cout, P_ANY, 0.5) : -1;
            n = new_op(G, kind, 3, a, b, c);
        } else {
            int64_t gs[4] = {na->shape[0], Cout, Ho, Wo};
            if ((b = get_input(G, 4, gs, P_ANY, 0.6)) < 0)
                return false;
            n = new_op(G, kind, 2, a, b, -1);
            n->ndim = 4;
            memcpy(n->shape, wshape, sizeof wshape);
        }
        memcpy(n->p, q, sizeof(int64_t) * 7);
        return commit(G);
    }
    case K_COL2IM: {
        int64_t N = 1 + rint_(r, 2), C = 1 + rint_(r, 2), kh = 1 + rint_(r, 2),
                kw = 1 + rint_(r, 3), size[2] = {2 + rint_(r, 3), 2 + rint_(r, 3)};
        int64_t q[10] = {kh, kw, 1 + rint_(r, 2), 1 + rint_(r, 2), rint_(r, 2), rint_(r, 2),
                         1, 1, size[0], size[1]};
        int64_t Ho = tg_conv_out_size(size[0], kh, q[2], q[4], 1);
        int64_t Wo = tg_conv_out_size(size[1], kw, q[3], q[5], 1);
        if (Ho < 1 || Wo < 1)
            return false;
        int64_t cs[3] = {N, C * kh * kw, Ho * Wo};
        if (numel_of(3, cs) > MAXLEAFEL || (a = get_input(G, 3, cs, P_ANY, 0.6)) < 0)
            return false;
        n = new_op(G, kind, 1, a, -1, -1);
        memcpy(n->p, q, sizeof q);
        return commit(G);
    }
    case K_GATHER: case K_SCATTER: {
        if ((a = get_any(G, 1, 3, P_ANY)) < 0)
            return false;
        const gnode *na = &g->nd[a];
        int nd = na->ndim;
        int64_t P = na->shape[nd - 1], size = 1 + rint_(r, 4);
        memcpy(dims, na->shape, sizeof dims);
        if (kind == K_GATHER)
            dims[nd - 1] = 1 + rint_(r, 4);
        if (numel_of(nd, dims) > MAXEL)
            return false;
        n = new_op(G, kind, 1, a, -1, -1);
        n->aux[0] = i32_const(r, nd, dims, (int)(kind == K_GATHER ? P : size));
        n->p[0] = size;
        return commit(G);
    }
    case K_LAYER_NORM: case K_BATCH_NORM: {
        if ((a = get_any(G, kind == K_BATCH_NORM ? 2 : 1, 4, P_ANY)) < 0)
            return false;
        const gnode *na = &g->nd[a];
        int last = 1 + rint_(r, na->ndim);
        if (kind == K_BATCH_NORM && numel_of(na->ndim, na->shape) / na->shape[1] < 2)
            return false;
        int pnd = kind == K_LAYER_NORM ? last : 1;
        const int64_t *pshape = kind == K_LAYER_NORM ? na->shape + na->ndim - last : na->shape + 1;
        b = rchance(r, 0.6) ? get_input(G, pnd, pshape, P_ANY, 0.4) : -1;
        c = rchance(r, 0.6) ? get_input(G, pnd, pshape, P_ANY, 0.4) : -1;
        n = new_op(G, kind, 3, a, b, c);
        n->p[0] = last;
        n->s[0] = 0.05;
        return commit(G);
    }
    }
    return false;
}

/* a random graph of 3..40 ops (plus its leaves); false if the generator failed
 * (G->err says how) */
static bool generate(graph *g, uint64_t seed, char *err, size_t errsize)
{
    static gen G;
    memset(&G, 0, sizeof G);
    memset(g, 0, sizeof *g);
    G.g = g;
    G.r.s = seed;
    G.t = tg_tape_new();
    tg_tape_set_grad_mode(G.t, false);
    int target = 3 + rint_(&G.r, 38), total = 0, ops = 0;
    for (size_t k = 0; k < sizeof kind_weights / sizeof kind_weights[0]; k++)
        total += kind_weights[k].weight;
    /* a few leaves first: parameters and constants, some of them tied later */
    int nleaves = 1 + rint_(&G.r, 3);
    for (int k = 0; k < nleaves; k++) {
        int ndim;
        int64_t shape[4];
        if (rchance(&G.r, 0.15))
            random_shape(&G.r, &ndim, shape, 4, 4);
        else
            random_shape(&G.r, &ndim, shape, 1, 3);
        add_leaf(&G, ndim, shape, P_ANY, k == 0 || rchance(&G.r, 0.7));
    }
    for (int attempts = 0; ops < target && attempts < 20 * target && g->n < MAXN - 8;
         attempts++) {
        int u = rint_(&G.r, total), kind = K_ADD;
        for (size_t k = 0; k < sizeof kind_weights / sizeof kind_weights[0]; k++) {
            if (u < kind_weights[k].weight) {
                kind = kind_weights[k].kind;
                break;
            }
            u -= kind_weights[k].weight;
        }
        int before = g->n, nhot = G.nhot;
        if (gen_op(&G, kind)) {
            ops++;
        } else {
            if (G.err[0])
                break;
            g->n = before; /* drop leaves made for a rejected op */
            G.nhot = nhot;
            for (int h = 0; h < G.nhot; h++)
                if (G.hot[h] >= before)
                    G.hot[h--] = G.hot[--G.nhot];
        }
    }
    /* a parameter that reaches nothing, sometimes behind a dead op */
    if (!G.err[0] && rchance(&G.r, 0.3)) {
        int ndim;
        int64_t shape[4];
        random_shape(&G.r, &ndim, shape, 1, 2);
        int d = add_leaf(&G, ndim, shape, P_ANY, true);
        if (d >= 0 && rchance(&G.r, 0.5)) {
            new_op(&G, K_TANH, 1, d, -1, -1);
            commit(&G);
        }
    }
    /* outputs: the last op, other sinks, sometimes an inner node */
    bool used[MAXN] = {0}, isout[MAXN] = {0};
    for (int i = 0; i < g->n; i++)
        for (int k = 0; k < g->nd[i].nin; k++)
            if (g->nd[i].in[k] >= 0)
                used[g->nd[i].in[k]] = true;
    int last = g->n - 1;
    while (last >= 0 && g->nd[last].kind <= K_CONST)
        last--;
    if (last >= 0) {
        g->out[g->nout++] = last;
        isout[last] = true;
    }
    for (int i = g->n - 1; i >= 0 && g->nout < MAXOUT; i--)
        if (!isout[i] && g->nd[i].kind > K_CONST &&
            ((!used[i] && rchance(&G.r, 0.5)) || rchance(&G.r, 0.04))) {
            g->out[g->nout++] = i;
            isout[i] = true;
        }
    for (int k = 0; k < g->nout; k++) {
        const gnode *o = &g->nd[g->out[k]];
        g->outw[k] = f64_const(&G.r, o->ndim, o->shape, 0.5, 1.5);
    }
    tg_tape_free(&G.t);
    if (G.err[0]) {
        snprintf(err, errsize, "%s", G.err);
        return false;
    }
    return g->nout > 0;
}

/* graph k of a run: the first of its candidate seeds whose loss depends on a parameter
 * (a graph of constants only has nothing to check); *gs receives that seed */
static bool make_graph(graph *g, uint64_t seed, int k, uint64_t *gs, char *err, size_t errsize)
{
    for (uint64_t a = 0;; a++) {
        *gs = graph_seed(seed, k) + a * 0x9e3779b97f4a7c15u;
        err[0] = 0;
        if (!generate(g, *gs, err, errsize)) {
            if (err[0])
                return false;
            pool_free();
            continue;
        }
        bool reach[MAXN];
        reachable(g, reach);
        for (int i = 0; i < g->n; i++)
            if (reach[i] && g->nd[i].kind == K_PARAM)
                return true;
        pool_free();
    }
}

/* ---------------------------------------------------------------- checks */

enum { V_PASS, V_SKIP, V_FAIL };

typedef struct {
    int verdict;
    char msg[512];
} verdict;

static void fail(verdict *v, const char *fmt, ...) TG_PRINTF(2, 3);
static void fail(verdict *v, const char *fmt, ...)
{
    if (v->verdict == V_FAIL)
        return;
    v->verdict = V_FAIL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->msg, sizeof v->msg, fmt, ap);
    va_end(ap);
}

static void reachable(const graph *g, bool *reach)
{
    memset(reach, 0, sizeof(bool) * MAXN);
    for (int k = 0; k < g->nout; k++)
        reach[g->out[k]] = true;
    for (int i = g->n - 1; i >= 0; i--)
        for (int k = 0; reach[i] && k < g->nd[i].nin; k++)
            if (g->nd[i].in[k] >= 0)
                reach[g->nd[i].in[k]] = true;
}

typedef struct {
    int np;
    int idx[MAXN];          /* node of each parameter */
    tg_tensor *x[MAXN];
    bool live[MAXN];        /* reaches the loss */
    int64_t off[MAXN + 1];  /* offsets into flat gradient arrays */
} params;

static void collect(const graph *g, params *P)
{
    bool reach[MAXN];
    reachable(g, reach);
    P->np = 0;
    P->off[0] = 0;
    for (int i = 0; i < g->n; i++)
        if (g->nd[i].kind == K_PARAM) {
            P->idx[P->np] = i;
            P->x[P->np] = g->nd[i].val;
            P->live[P->np] = reach[i];
            P->off[P->np + 1] = P->off[P->np] + tg_tensor_numel(g->nd[i].val);
            P->np++;
        }
}

static bool grads_out(tg_tensor *const *gr, const params *P, double *flat)
{
    for (int k = 0; k < P->np; k++) {
        if (!gr[k] || !tg_tensor_same_shape(gr[k], P->x[k]))
            return false;
        tg_tensor_copy_out(gr[k], TG_F64, flat + P->off[k]);
    }
    return true;
}

/* the loss at the current leaf values (nothing recorded) */
static double loss_value(tg_tape *t, const graph *g)
{
    static tg_tensor *v[MAXN];
    tg_tape_reset(t);
    bool old = tg_tape_set_grad_mode(t, false);
    tg_tensor *y = build(t, g, v);
    tg_tape_set_grad_mode(t, old);
    return y ? tg_tensor_get_flat(y, 0) : NAN;
}

/* first-order gradients by tg_grad into flat; false (and the tape's error in v) on failure */
static bool first_order(tg_tape *t, const graph *g, const params *P, double *flat, verdict *v)
{
    static tg_tensor *vals[MAXN];
    tg_tensor *gr[MAXN];
    tg_tape_reset(t);
    tg_tensor *y = build(t, g, vals);
    if (!y || tg_grad(t, y, NULL, P->np, P->x, gr, NULL) != TG_OK) {
        fail(v, "tg_grad failed: %s", tg_tape_error(t));
        return false;
    }
    if (!grads_out(gr, P, flat)) {
        fail(v, "tg_grad returned a gradient of the wrong shape");
        return false;
    }
    return true;
}

/* v . grad at the current leaf values (vec: one random direction per parameter) */
static double vgrad(tg_tape *t, const graph *g, const params *P, const double *vec,
                    double *scratch, verdict *v)
{
    if (!first_order(t, g, P, scratch, v))
        return NAN;
    double s = 0;
    for (int64_t j = 0; j < P->off[P->np]; j++)
        s += vec[j] * scratch[j];
    return s;
}

static bool close_enough(double a, double b, double tol_rel)
{
    return fabs(a - b) <= tol_rel * (1 + fabs(a) + fabs(b));
}

typedef double (*scalar_fn)(tg_tape *t, const graph *g, const params *P, const double *vec,
                            double *scratch, verdict *v);

static double loss_fn(tg_tape *t, const graph *g, const params *P, const double *vec,
                      double *scratch, verdict *v)
{
    (void)P, (void)vec, (void)scratch, (void)v;
    return loss_value(t, g);
}

/* analytic[j] against central differences of f for every live parameter element;
 * an element whose one-sided differences disagree and whose analytic value fits
 * neither marks the graph skipped (a step crossed a kink) */
static void against_fd(tg_tape *t, const graph *g, const params *P, const double *analytic,
                       scalar_fn f, const double *vec, double *scratch, const char *what,
                       verdict *v)
{
    double f0 = f(t, g, P, vec, scratch, v);
    for (int k = 0; k < P->np && v->verdict != V_FAIL; k++) {
        if (!P->live[k])
            continue;
        tg_tensor *x = P->x[k];
        int64_t cnt = tg_tensor_numel(x);
        for (int64_t j = 0; j < cnt && v->verdict != V_FAIL; j++) {
            double x0 = tg_tensor_get_flat(x, j);
            tg_tensor_set_flat(x, j, x0 + FD_EPS);
            double fp = f(t, g, P, vec, scratch, v);
            tg_tensor_set_flat(x, j, x0 - FD_EPS);
            double fm = f(t, g, P, vec, scratch, v);
            tg_tensor_set_flat(x, j, x0);
            if (v->verdict == V_FAIL)
                return;
            double num = (fp - fm) / (2 * FD_EPS), a = analytic[P->off[k] + j];
            double tol = ATOL + RTOL * fabs(num);
            if (fabs(a - num) <= tol)
                continue;
            double dp = (fp - f0) / FD_EPS, dm = (f0 - fm) / FD_EPS;
            double tol1 = 10 * (ATOL + RTOL * fabs(num));
            if (fabs(dp - dm) > tol1) { /* a kink within the step */
                if (fabs(a - dp) > tol1 && fabs(a - dm) > tol1 && v->verdict == V_PASS) {
                    v->verdict = V_SKIP;
                    snprintf(v->msg, sizeof v->msg,
                             "%s: n%d element %lld: one-sided differences %.6g / %.6g "
                             "(kink), analytic %.6g",
                             what, P->idx[k], (long long)j, dm, dp, a);
                }
                continue;
            }
            fail(v, "%s: d loss / d n%d element %lld: analytic %.10g vs numeric %.10g", what,
                 P->idx[k], (long long)j, a, num);
        }
    }
}

/* dead parameters: exactly zero from tg_grad; the rest of the analytic checks */
static void check_dead_zero(const params *P, const double *flat, const char *what, verdict *v)
{
    for (int k = 0; k < P->np; k++)
        for (int64_t j = P->off[k]; !P->live[k] && j < P->off[k + 1]; j++)
            if (flat[j] != 0) {
                fail(v, "%s: n%d does not reach the loss but its gradient element %lld is %g",
                     what, P->idx[k], (long long)(j - P->off[k]), flat[j]);
                return;
            }
}

static void free_grads(const graph *g)
{
    for (int i = 0; i < g->n; i++)
        if (g->nd[i].val)
            tg_tensor_free(&g->nd[i].val->grad);
}

/* ->grad after tg_backward: live ones equal to `want` times `times`, dead ones and
 * constants NULL */
static void check_dot_grad(const graph *g, const params *P, const double *want, double times,
                           const char *what, verdict *v)
{
    double buf[MAXLEAFEL];
    for (int i = 0; i < g->n; i++)
        if (g->nd[i].kind == K_CONST && g->nd[i].val->grad) {
            fail(v, "%s: constant n%d got a ->grad", what, i);
            return;
        }
    for (int k = 0; k < P->np && v->verdict != V_FAIL; k++) {
        const tg_tensor *gr = P->x[k]->grad;
        if (!P->live[k]) {
            if (gr)
                fail(v, "%s: n%d does not reach the loss but its ->grad was set", what, P->idx[k]);
            continue;
        }
        if (!gr) { /* allowed where the gradient is structurally zero (relu_backward's x) */
            for (int64_t j = P->off[k]; j < P->off[k + 1]; j++)
                if (want[j] != 0) {
                    fail(v, "%s: n%d has no ->grad but tg_grad gave element %lld = %g", what,
                         P->idx[k], (long long)(j - P->off[k]), want[j]);
                    break;
                }
            continue;
        }
        if (!tg_tensor_same_shape(gr, P->x[k])) {
            fail(v, "%s: n%d has a ->grad of the wrong shape", what, P->idx[k]);
            continue;
        }
        const double *x = values_of(gr, buf);
        for (int64_t j = 0; j < P->off[k + 1] - P->off[k]; j++)
            if (!close_enough(x[j], times * want[P->off[k] + j], 1e-10)) {
                fail(v, "%s: n%d element %lld: ->grad %.10g, tg_grad gave %.10g (x%g)", what,
                     P->idx[k], (long long)j, x[j], want[P->off[k] + j], times);
                break;
            }
    }
}

typedef struct {
    double *a, *b, *vec, *scratch;
    int64_t cap;
} workspace;

static void ws_need(workspace *w, int64_t n)
{
    if (n <= w->cap)
        return;
    free(w->a), free(w->b), free(w->vec), free(w->scratch);
    w->cap = n;
    w->a = calloc((size_t)n, sizeof(double));
    w->b = calloc((size_t)n, sizeof(double));
    w->vec = calloc((size_t)n, sizeof(double));
    w->scratch = calloc((size_t)n, sizeof(double));
    if (!w->a || !w->b || !w->vec || !w->scratch) {
        fprintf(stderr, "FAIL: out of memory\n");
        exit(1);
    }
}

static workspace ws;

static verdict check_graph(const graph *g, bool second, uint64_t seed)
{
    verdict v = {.verdict = V_PASS, .msg = ""};
    static params P;
    static tg_tensor *vals[MAXN];
    collect(g, &P);
    bool any_live = false;
    for (int k = 0; k < P.np; k++)
        any_live |= P.live[k];
    if (!any_live) { /* nothing to differentiate: a degenerate graph */
        v.verdict = V_SKIP;
        snprintf(v.msg, sizeof v.msg, "no parameter reaches the loss");
        return v;
    }
    int64_t total = P.off[P.np];
    ws_need(&ws, total > 0 ? total : 1);
    tg_tape *t = tg_tape_new();
    free_grads(g);

    /* first order: tg_grad, tg_backward (twice), finite differences */
    if (first_order(t, g, &P, ws.a, &v)) {
        check_dead_zero(&P, ws.a, "tg_grad", &v);
        tg_tape_reset(t);
        tg_tensor *y = build(t, g, vals);
        if (!y || tg_backward(t, y) != TG_OK)
            fail(&v, "tg_backward failed: %s", tg_tape_error(t));
        check_dot_grad(g, &P, ws.a, 1, "tg_backward", &v);
        tg_tape_reset(t);
        y = build(t, g, vals);
        if (!y || tg_backward(t, y) != TG_OK)
            fail(&v, "second tg_backward failed: %s", tg_tape_error(t));
        check_dot_grad(g, &P, ws.a, 2, "second tg_backward (accumulates)", &v);
        free_grads(g);
        if (v.verdict != V_FAIL)
            against_fd(t, g, &P, ws.a, loss_fn, NULL, ws.scratch, "first order", &v);
    }

    /* second order: H vec = d(vec . grad)/dx by tg_grad(create_graph) + tg_grad and
     * + tg_backward, against central differences of vec . grad */
    if (second && v.verdict != V_FAIL) {
        rng r = {seed ^ 0x5eed};
        for (int64_t j = 0; j < total; j++)
            ws.vec[j] = runif(&r, -1, 1);
        tg_backward_opts cg = {.create_graph = true};
        for (int pass = 0; pass < 2 && v.verdict != V_FAIL; pass++) {
            tg_tape_reset(t);
            tg_tensor *gr[MAXN], *hv[MAXN];
            tg_tensor *y = build(t, g, vals);
            if (!y || tg_grad(t, y, NULL, P.np, P.x, gr, &cg) != TG_OK) {
                fail(&v, "tg_grad(create_graph) failed: %s", tg_tape_error(t));
                break;
            }
            tg_tensor *s = NULL;
            for (int k = 0; k < P.np; k++) {
                tg_tensor *vk = tg_tape_zeros(t, TG_F64, P.x[k]->ndim, P.x[k]->shape);
                for (int64_t j = 0; vk && j < P.off[k + 1] - P.off[k]; j++)
                    tg_tensor_set_flat(vk, j, ws.vec[P.off[k] + j]);
                tg_tensor *term = tg_sum(t, tg_mul(t, gr[k], vk), 0, NULL, false);
                s = s ? tg_add(t, s, term) : term;
            }
            if (!s) {
                fail(&v, "v . grad failed: %s", tg_tape_error(t));
                break;
            }
            double *dst = pass == 0 ? ws.b : ws.scratch;
            if (!tg_tensor_requires_grad(s)) { /* the gradient does not depend on x */
                memset(dst, 0, sizeof(double) * (size_t)total);
                continue;
            }
            if (pass == 0) {
                if (tg_grad(t, s, NULL, P.np, P.x, hv, NULL) != TG_OK) {
                    fail(&v, "second-order tg_grad failed: %s", tg_tape_error(t));
                    break;
                }
                if (!grads_out(hv, &P, ws.b))
                    fail(&v, "second-order tg_grad returned a gradient of the wrong shape");
                check_dead_zero(&P, ws.b, "second-order tg_grad", &v);
            } else {
                if (tg_backward(t, s) != TG_OK) {
                    fail(&v, "second-order tg_backward failed: %s", tg_tape_error(t));
                    break;
                }
                /* a live parameter may still get no ->grad when the Hessian row is
                 * structurally zero (e.g. a linear path): treat NULL as zero there */
                for (int k = 0; k < P.np; k++)
                    if (P.live[k] && !P.x[k]->grad)
                        for (int64_t j = P.off[k]; j < P.off[k + 1]; j++)
                            if (ws.b[j] != 0)
                                fail(&v, "second-order tg_backward: n%d has no ->grad but "
                                     "H v element %lld is %g", P.idx[k],
                                     (long long)(j - P.off[k]), ws.b[j]);
                for (int k = 0; k < P.np && v.verdict != V_FAIL; k++) {
                    const tg_tensor *gk = P.x[k]->grad;
                    if (!P.live[k] && gk)
                        fail(&v, "second-order tg_backward: dead n%d got a ->grad", P.idx[k]);
                    for (int64_t j = 0; gk && j < P.off[k + 1] - P.off[k]; j++)
                        if (!close_enough(tg_tensor_get_flat(gk, j), ws.b[P.off[k] + j], 1e-10)) {
                            fail(&v, "second order: n%d element %lld: tg_backward %.10g, "
                                 "tg_grad %.10g", P.idx[k], (long long)j,
                                 tg_tensor_get_flat(gk, j), ws.b[P.off[k] + j]);
                            break;
                        }
                }
                free_grads(g);
            }
        }
        free_grads(g);
        if (v.verdict != V_FAIL)
            against_fd(t, g, &P, ws.b, vgrad, ws.vec, ws.scratch, "second order (H v)", &v);
    }
    free_grads(g);
    tg_tape_free(&t);
    return v;
}

/* -------------------------------------------------------------- shrinking */

/* keeps the nodes with keep[i], renumbering inputs and outputs; false if a kept node
 * needs a dropped one */
static bool compact(const graph *src, const bool *keepn, graph *dst)
{
    int map[MAXN];
    memset(dst, 0, sizeof *dst);
    for (int i = 0; i < src->n; i++) {
        map[i] = -1;
        if (!keepn[i])
            continue;
        gnode n = src->nd[i];
        for (int k = 0; k < n.nin; k++)
            if (n.in[k] >= 0 && (n.in[k] = map[n.in[k]]) < 0)
                return false;
        map[i] = dst->n;
        dst->nd[dst->n++] = n;
    }
    for (int k = 0; k < src->nout; k++) {
        if (map[src->out[k]] < 0)
            return false;
        dst->out[dst->nout] = map[src->out[k]];
        dst->outw[dst->nout++] = src->outw[k];
    }
    return true;
}

static bool still_fails(const graph *g, bool second, uint64_t seed)
{
    return check_graph(g, second, seed).verdict == V_FAIL;
}

/* node values at the current leaves (for turning an op into a leaf) */
static tg_tensor *node_value(const graph *g, int i)
{
    static tg_tensor *v[MAXN];
    tg_tape *t = tg_tape_new();
    tg_tape_set_grad_mode(t, false);
    tg_tensor *x = NULL;
    for (int k = 0; k <= i; k++)
        if (!(v[k] = apply(t, g, k, v)))
            break;
    if (v[i])
        x = keep(tg_tensor_clone(v[i]));
    tg_tape_free(&t);
    return x;
}

/* greedy delta debugging: drop outputs, bypass ops with an input of the same shape,
 * turn ops into parameters or constants, drop unreachable nodes; keep any change after
 * which the graph still fails, until none helps */
static void shrink(graph *g, bool second, uint64_t seed)
{
    static graph cand, tmp;
    bool progress = true;
    while (progress) {
        progress = false;
        /* drop everything unreachable at once, then one output at a time */
        bool reach[MAXN];
        reachable(g, reach);
        if (compact(g, reach, &cand) && cand.n < g->n && still_fails(&cand, second, seed)) {
            *g = cand;
            progress = true;
            continue;
        }
        for (int k = 0; k < g->nout && g->nout > 1 && !progress; k++) {
            cand = *g;
            cand.out[k] = cand.out[--cand.nout];
            cand.outw[k] = cand.outw[cand.nout];
            if (still_fails(&cand, second, seed)) {
                *g = cand;
                progress = true;
            }
        }
        for (int i = g->n - 1; i >= 0 && !progress; i--) {
            const gnode *n = &g->nd[i];
            if (n->kind <= K_CONST)
                continue;
            /* bypass: consumers of i read one of its same-shaped inputs instead */
            for (int k = 0; k < n->nin && !progress; k++) {
                int j = n->in[k];
                if (j < 0 || g->nd[j].ndim != n->ndim ||
                    memcmp(g->nd[j].shape, n->shape, sizeof(int64_t) * (size_t)n->ndim))
                    continue;
                tmp = *g;
                for (int m = i + 1; m < tmp.n; m++)
                    for (int q = 0; q < tmp.nd[m].nin; q++)
                        if (tmp.nd[m].in[q] == i)
                            tmp.nd[m].in[q] = j;
                for (int q = 0; q < tmp.nout; q++)
                    if (tmp.out[q] == i)
                        tmp.out[q] = j;
                bool keepn[MAXN];
                for (int m = 0; m < tmp.n; m++)
                    keepn[m] = m != i;
                if (compact(&tmp, keepn, &cand) && still_fails(&cand, second, seed)) {
                    *g = cand;
                    progress = true;
                }
            }
            /* the op's value as a new leaf, a parameter or a constant */
            for (int asparam = 1; asparam >= 0 && !progress; asparam--) {
                tg_tensor *x = node_value(g, i);
                if (!x || tg_tensor_numel(x) > MAXLEAFEL)
                    break;
                if (asparam)
                    tg_tensor_set_requires_grad(x, true);
                cand = *g;
                gnode *c = &cand.nd[i];
                memset(c->in, 0, sizeof c->in);
                c->nin = 0;
                c->kind = asparam ? K_PARAM : K_CONST;
                c->val = x;
                c->aux[0] = c->aux[1] = NULL;
                if (still_fails(&cand, second, seed)) {
                    *g = cand;
                    progress = true;
                }
            }
        }
        for (int i = g->n - 1; i >= 0 && !progress; i--) { /* drop one dead leaf */
            bool usedi = false;
            for (int m = i + 1; m < g->n; m++)
                for (int q = 0; q < g->nd[m].nin; q++)
                    usedi |= g->nd[m].in[q] == i;
            for (int q = 0; q < g->nout; q++)
                usedi |= g->out[q] == i;
            if (usedi)
                continue;
            bool keepn[MAXN];
            for (int m = 0; m < g->n; m++)
                keepn[m] = m != i;
            if (compact(g, keepn, &cand) && still_fails(&cand, second, seed)) {
                *g = cand;
                progress = true;
            }
        }
    }
}

/* ------------------------------------------------------------------ runs */

/* the structures a graph contains (counted over the run, and required of it) */
enum { S_SHARED, S_TIED, S_ADD_TWICE, S_VIEW_TWICE, S_DIAMOND, S_OUTPUTS, S_DEAD, S_CONST,
       S_COUNT };
static const char *const sname[S_COUNT] = {
    "a node consumed twice or more", "a parameter used in several places (tied)",
    "an add/sub result used twice", "a view consumed twice", "a diamond",
    "several outputs", "a parameter that does not reach the loss",
    "a constant input on the path to the loss"};

static void structures(const graph *g, bool *has)
{
    static bool anc[MAXN][MAXN]; /* anc[i][j]: j is i or an ancestor of i */
    int uses[MAXN] = {0};
    bool reach[MAXN];
    reachable(g, reach);
    memset(has, 0, sizeof(bool) * S_COUNT);
    for (int i = 0; i < g->n; i++) {
        const gnode *n = &g->nd[i];
        memset(anc[i], 0, sizeof anc[i]);
        anc[i][i] = true;
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] >= 0) {
                uses[n->in[k]]++;
                for (int j = 0; j < i; j++)
                    anc[i][j] |= anc[n->in[k]][j];
            }
        for (int k = 0; k < n->nin; k++)
            for (int q = k + 1; q < n->nin; q++) {
                int a = n->in[k], b = n->in[q];
                for (int j = 0; a >= 0 && b >= 0 && a != b && j < i; j++)
                    if (anc[a][j] && anc[b][j] && g->nd[j].kind > K_CONST)
                        has[S_DIAMOND] = true;
            }
    }
    for (int k = 0; k < g->nout; k++)
        uses[g->out[k]]++;
    for (int i = 0; i < g->n; i++) {
        int kd = g->nd[i].kind;
        bool view = kd == K_PERMUTE || kd == K_SLICE || kd == K_EXPAND || kd == K_RESHAPE;
        if (!reach[i])
            has[S_DEAD] |= kd == K_PARAM;
        else if (uses[i] >= 2) {
            has[S_SHARED] |= kd > K_CONST;
            has[S_TIED] |= kd == K_PARAM;
            has[S_ADD_TWICE] |= kd == K_ADD || kd == K_SUB;
            has[S_VIEW_TWICE] |= view;
        }
        has[S_CONST] |= reach[i] && kd == K_CONST;
    }
    has[S_OUTPUTS] = g->nout >= 2;
}

typedef struct {
    int graphs, passed, skipped, failed, second, genfail;
    int nodes_total;
    int with[S_COUNT];
    int64_t op_seen[TG_OP_COUNT];
} summary;

static uint64_t graph_seed(uint64_t seed, int k)
{
    rng r = {seed * 0x100000001b3u + (uint64_t)k};
    return rnext(&r);
}

static bool verbose;

/* generates and checks graph k of the run; prints a failure with its shrunk graph */
static int run_one(uint64_t seed, int k, int second_every, bool do_shrink, summary *sum)
{
    static graph g;
    char err[512] = "";
    uint64_t gs;
    bool second = second_every > 0 && k % second_every == 0;
    sum->graphs++;
    if (!make_graph(&g, seed, k, &gs, err, sizeof err)) {
        sum->failed++;
        sum->genfail++;
        fprintf(stderr, "FAIL: seed %llu graph %d: %s\n", (unsigned long long)seed, k,
                err[0] ? err : "no output");
        pool_free();
        return V_FAIL;
    }
    /* which registered ops this graph exercises, forward and (second order) backward */
    {
        tg_tape *t = tg_tape_new();
        static tg_tensor *vals[MAXN];
        tg_tensor *y = build(t, &g, vals);
        static params P;
        collect(&g, &P);
        tg_tensor *gr[MAXN];
        tg_backward_opts cg = {.create_graph = true};
        if (y && tg_tensor_requires_grad(y))
            tg_grad(t, y, NULL, P.np, P.x, gr, &cg);
        for (int op = 0; op < TG_OP_COUNT; op++)
            sum->op_seen[op] += tg_tape_count_op(t, op);
        tg_tape_free(&t);
    }
    sum->nodes_total += g.n;
    bool has[S_COUNT];
    structures(&g, has);
    for (int q = 0; q < S_COUNT; q++)
        sum->with[q] += has[q];
    verdict v = check_graph(&g, second, gs);
    if (verbose)
        printf("graph %d: %d nodes, %d outputs%s: %s%s%s\n", k, g.n, g.nout,
               second ? ", second order" : "",
               v.verdict == V_PASS ? "pass" : v.verdict == V_SKIP ? "skipped" : "FAIL",
               v.msg[0] ? ": " : "", v.msg);
    if (v.verdict == V_PASS)
        sum->passed++;
    else if (v.verdict == V_SKIP)
        sum->skipped++;
    else {
        sum->failed++;
        fprintf(stderr, "FAIL: seed %llu graph %d%s (rerun: --seed %llu --only %d): %s\n",
                (unsigned long long)seed, k, second ? " (with second order)" : "",
                (unsigned long long)seed, k, v.msg);
        if (sum->failed > 3) { /* the first three in full */
            sum->second += second;
            pool_free();
            return v.verdict;
        }
        fprintf(stderr, "  graph (%d nodes):\n", g.n);
        print_graph(stderr, &g);
        if (do_shrink) {
            shrink(&g, second, gs);
            verdict s = check_graph(&g, second, gs);
            fprintf(stderr, "  shrunk to %d nodes, still failing: %s\n", g.n, s.msg);
            print_graph(stderr, &g);
        }
    }
    sum->second += second;
    pool_free();
    return v.verdict;
}

/* ------------------------------------------------------------- self-test */

/* deliberately wrong backwards: each must make some graph fail that passes with the
 * right backward restored */
static void wrong_mul(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    tg__bwd_mul(t, n, g, gi);
    if (gi[0])
        gi[0] = tg_mul_scalar(t, gi[0], 1.01);
}

static void wrong_add(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    tg__bwd_add(t, n, g, gi);
    if (gi[1])
        gi[1] = tg_mul_scalar(t, gi[1], 0.99);
}

/* forgets the step: scatters g into a contiguous block at the start */
static void wrong_slice(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    const int64_t *v = n->a.slice.start;
    int64_t stop[TG_MAX_DIMS], one[TG_MAX_DIMS];
    for (int d = 0; d < g->ndim; d++) {
        stop[d] = v[d] + g->shape[d];
        one[d] = 1;
    }
    gi[0] = tg_slice_backward(t, g, n->in[0], v, stop, one);
}

static void wrong_conv2d(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    tg__bwd_conv2d(t, n, g, gi);
    if (gi[1])
        gi[1] = tg_mul_scalar(t, gi[1], 1.02);
}

static void wrong_tanh_bwd(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    tg__bwd_tanh_bwd(t, n, g, gi);
    if (gi[1])
        gi[1] = tg_neg(t, gi[1]);
}

static int self_test(uint64_t seed)
{
    struct {
        int op;
        tg__bwd_fn wrong;
        const char *name;
    } trials[] = {
        {TG_OP_MUL, wrong_mul, "mul (input 0 1% too large)"},
        {TG_OP_ADD, wrong_add, "add (input 1 1% too small)"},
        {TG_OP_SLICE, wrong_slice, "slice (backward forgets the step)"},
        {TG_OP_CONV2D, wrong_conv2d, "conv2d (weight gradient 2% too large)"},
        {TG_OP_TANH_BWD, wrong_tanh_bwd, "tanh_backward (y-gradient sign flipped)"},
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof trials / sizeof trials[0]; i++) {
        int caught = 0, tried = 0;
        bool shrunk_ok = false;
        for (int k = 0; k < 3000 && caught < 3; k++) {
            static graph g;
            char err[512];
            uint64_t gs;
            if (!make_graph(&g, seed, k, &gs, err, sizeof err)) {
                pool_free();
                continue;
            }
            bool has = false;
            for (int m = 0; m < g.n; m++)
                has |= tg_op_lookup(kname[g.nd[m].kind]) == trials[i].op ||
                       (trials[i].op == TG_OP_TANH_BWD && g.nd[m].kind == K_TANH);
            if (!has) {
                pool_free();
                continue;
            }
            tried++;
            bool second = trials[i].op == TG_OP_TANH_BWD || k % 10 == 0;
            tg__bwd_fn right = tg__op_backward[trials[i].op];
            tg__op_backward[trials[i].op] = trials[i].wrong;
            int wrongv = check_graph(&g, second, gs).verdict;
            tg__op_backward[trials[i].op] = right;
            int rightv = check_graph(&g, second, gs).verdict;
            if (wrongv == V_FAIL && rightv == V_PASS) {
                caught++;
                if (!shrunk_ok) { /* the shrinker keeps the failure and makes it smaller */
                    int before = g.n;
                    tg__op_backward[trials[i].op] = trials[i].wrong;
                    shrink(&g, second, gs);
                    shrunk_ok = still_fails(&g, second, gs) && g.n <= before;
                    tg__op_backward[trials[i].op] = right;
                    if (verbose) {
                        printf("  shrunk %d -> %d nodes:\n", before, g.n);
                        print_graph(stdout, &g);
                    }
                }
            }
            pool_free();
        }
        bool ok = caught > 0 && shrunk_ok;
        printf("%s wrong %s: caught in %d of %d graphs using it%s\n", ok ? "ok  " : "FAIL",
               trials[i].name, caught, tried, shrunk_ok ? ", shrunk" : "");
        bad += !ok;
    }
    printf("%d wrong backwards not caught\n", bad);
    return bad ? 1 : 0;
}

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv)
{
    int graphs = 3000, only = -1, second_every = 5;
    uint64_t seed = 1;
    bool selftest = false, do_shrink = true;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--graphs") && i + 1 < argc)
            graphs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc)
            only = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--second-every") && i + 1 < argc)
            second_every = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--verbose"))
            verbose = true;
        else if (!strcmp(argv[i], "--no-shrink"))
            do_shrink = false;
        else if (!strcmp(argv[i], "--self-test"))
            selftest = true;
        else {
            fprintf(stderr,
                    "usage: %s [--graphs N] [--seed S] [--only K] [--second-every M] "
                    "[--no-shrink] [--verbose] | --self-test\n",
                    argv[0]);
            return 2;
        }
    }
    if (selftest)
        return self_test(seed);

    static summary sum;
    int first = only >= 0 ? only : 0, last = only >= 0 ? only + 1 : graphs;
    for (int k = first; k < last; k++)
        run_one(seed, k, second_every, do_shrink, &sum);
    free(ws.a), free(ws.b), free(ws.vec), free(ws.scratch);
    free(pool);

    printf("seed %llu: %d graphs (%.1f nodes on average, %d with second order): %d passed, "
           "%d skipped (a finite-difference step crossed a kink), %d failed\n",
           (unsigned long long)seed, sum.graphs,
           sum.graphs ? (double)sum.nodes_total / sum.graphs : 0, sum.second, sum.passed, sum.skipped, sum.failed);
    int status = sum.failed ? 1 : 0;
    /* a generator that skips too often, or never reaches an op, proves little */
    if (sum.graphs >= 100 && sum.skipped * 50 > sum.graphs) {
        printf("FAIL: more than 2%% of the graphs were skipped\n");
        status = 1;
    }
    for (int q = 0; q < S_COUNT; q++) {
        printf("  %5d graphs with %s\n", sum.with[q], sname[q]);
        if (sum.graphs >= 500 && sum.with[q] * 10 < sum.graphs) {
            printf("FAIL: fewer than 10%% of the graphs have %s\n", sname[q]);
            status = 1;
        }
    }
    if (only < 0 && graphs >= 500) {
        for (int op = 0; op < TG_OP_COUNT; op++)
            if (!sum.op_seen[op]) {
                printf("FAIL: no graph exercised the registered op '%s'\n", tg_op_name(op));
                status = 1;
            }
    }
    return status;
}
