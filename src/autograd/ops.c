/* Differentiable ops: elementwise, matmul, reductions and softmax, forward (argument
 * checks, kernel call, recording) and backward side by side (the views are in
 * shape_ops.c, losses in loss_ops.c, convolution, pooling, normalisation and indexing
 * in their own files). Every backward is written with ops, so with create_graph the gradient
 * is itself on the tape. */
#include <math.h>
#include <string.h>

#include "internal.h"

/* ------------------------------------------------------------------ checks */

/* a and b are F32 or F64 and of one dtype */
static bool check_pair(tg_tape *t, const tg_tensor *a, const tg_tensor *b, const char *fn)
{
    return tg__check_float(t, a, fn) && tg__check_float(t, b, fn) &&
           tg__same_dtype(t, fn, a, "a", b, "b");
}

/* ------------------------------------------------------------- elementwise */

static tg_tensor *unary(tg_tape *t, tg_tensor *x, int op, tg__uop k, double p, const char *fn)
{
    TG__GUARD(t, fn, x);
    if (!tg__check_float(t, x, fn))
        return NULL;
    tg_tensor *out = tg__new(t, x->dtype, x->ndim, x->shape);
    if (!out)
        return NULL;
    tg__k_unary(out, x, k, p);
    tg__args a = {.s = p};
    return tg__record(t, op, 1, &x, out, &a);
}

static tg_tensor *binary(tg_tape *t, tg_tensor *a, tg_tensor *b, int op, tg__bop k, double p,
                         const char *fn)
{
    TG__GUARD(t, fn, a, b);
    if (!check_pair(t, a, b, fn))
        return NULL;
    int64_t shape[TG_MAX_DIMS];
    int nd = tg__broadcast_shape(a, b, shape);
    if (nd < 0)
        return tg__fail(t, TG_ESHAPE, "%s: shapes do not broadcast: %s and %s", fn,
                        tg__shape_str(a).s, tg__shape_str(b).s);
    tg_tensor *out = tg__new(t, a->dtype, nd, shape);
    if (!out)
        return NULL;
    tg__k_binary(out, a, b, k, p);
    tg_tensor *in[2] = {a, b};
    tg__args args = {.s = p};
    return tg__record(t, op, 2, in, out, &args);
}

tg_tensor *tg_add(tg_tape *t, tg_tensor *a, tg_tensor *b)
{
    return binary(t, a, b, TG_OP_ADD, TG_B_ADD, 0, "tg_add");
}
tg_tensor *tg_sub(tg_tape *t, tg_tensor *a, tg_tensor *b)
{
    return binary(t, a, b, TG_OP_SUB, TG_B_SUB, 0, "tg_sub");
}
tg_tensor *tg_mul(tg_tape *t, tg_tensor *a, tg_tensor *b)
{
    return binary(t, a, b, TG_OP_MUL, TG_B_MUL, 0, "tg_mul");
}
tg_tensor *tg_div(tg_tape *t, tg_tensor *a, tg_tensor *b)
{
    return binary(t, a, b, TG_OP_DIV, TG_B_DIV, 0, "tg_div");
}
tg_tensor *tg_relu_backward(tg_tape *t, tg_tensor *g, tg_tensor *x)
{
    return binary(t, g, x, TG_OP_RELU_BWD, TG_B_RELU_BWD, 0, "tg_relu_backward");
}
tg_tensor *tg_leaky_relu_backward(tg_tape *t, tg_tensor *g, tg_tensor *x, double alpha)
{
    return binary(t, g, x, TG_OP_LEAKY_RELU_BWD, TG_B_LEAKY_RELU_BWD, alpha,
                  "tg_leaky_relu_backward");
}
tg_tensor *tg_sigmoid_backward(tg_tape *t, tg_tensor *g, tg_tensor *y)
{
    return binary(t, g, y, TG_OP_SIGMOID_BWD, TG_B_SIGMOID_BWD, 0, "tg_sigmoid_backward");
}
tg_tensor *tg_tanh_backward(tg_tape *t, tg_tensor *g, tg_tensor *y)
{
    return binary(t, g, y, TG_OP_TANH_BWD, TG_B_TANH_BWD, 0, "tg_tanh_backward");
}
tg_tensor *tg_gelu_backward(tg_tape *t, tg_tensor *g, tg_tensor *x)
{
    return binary(t, g, x, TG_OP_GELU_BWD, TG_B_GELU_BWD, 0, "tg_gelu_backward");
}

tg_tensor *tg_neg(tg_tape *t, tg_tensor *x) { return unary(t, x, TG_OP_NEG, TG_U_NEG, 0, "tg_neg"); }
tg_tensor *tg_add_scalar(tg_tape *t, tg_tensor *x, double s)
{
    return unary(t, x, TG_OP_ADD_SCALAR, TG_U_ADD_SCALAR, s, "tg_add_scalar");
}
tg_tensor *tg_mul_scalar(tg_tape *t, tg_tensor *x, double s)
{
    return unary(t, x, TG_OP_MUL_SCALAR, TG_U_MUL_SCALAR, s, "tg_mul_scalar");
}
tg_tensor *tg_pow_scalar(tg_tape *t, tg_tensor *x, double p)
{
    return unary(t, x, TG_OP_POW_SCALAR, TG_U_POW_SCALAR, p, "tg_pow_scalar");
}
tg_tensor *tg_exp(tg_tape *t, tg_tensor *x) { return unary(t, x, TG_OP_EXP, TG_U_EXP, 0, "tg_exp"); }
tg_tensor *tg_log(tg_tape *t, tg_tensor *x) { return unary(t, x, TG_OP_LOG, TG_U_LOG, 0, "tg_log"); }
tg_tensor *tg_sqrt(tg_tape *t, tg_tensor *x)
{
    return unary(t, x, TG_OP_SQRT, TG_U_SQRT, 0, "tg_sqrt");
}
tg_tensor *tg_abs(tg_tape *t, tg_tensor *x) { return unary(t, x, TG_OP_ABS, TG_U_ABS, 0, "tg_abs"); }
tg_tensor *tg_relu(tg_tape *t, tg_tensor *x)
{
    return unary(t, x, TG_OP_RELU, TG_U_RELU, 0, "tg_relu");
}
tg_tensor *tg_leaky_relu(tg_tape *t, tg_tensor *x, double alpha)
{
    return unary(t, x, TG_OP_LEAKY_RELU, TG_U_LEAKY_RELU, alpha, "tg_leaky_relu");
}
tg_tensor *tg_sigmoid(tg_tape *t, tg_tensor *x)
{
    return unary(t, x, TG_OP_SIGMOID, TG_U_SIGMOID, 0, "tg_sigmoid");
}
tg_tensor *tg_tanh(tg_tape *t, tg_tensor *x)
{
    return unary(t, x, TG_OP_TANH, TG_U_TANH, 0, "tg_tanh");
}
tg_tensor *tg_gelu(tg_tape *t, tg_tensor *x)
{
    return unary(t, x, TG_OP_GELU, TG_U_GELU, 0, "tg_gelu");
}
tg_tensor *tg_softplus(tg_tape *t, tg_tensor *x)
{
    return unary(t, x, TG_OP_SOFTPLUS, TG_U_SOFTPLUS, 0, "tg_softplus");
}

/* constants computed from x: never recorded, require no grad */
static tg_tensor *constant_unary(tg_tape *t, tg_tensor *x, tg__uop k, const char *fn)
{
    TG__GUARD(t, fn, x);
    if (!tg__check_float(t, x, fn))
        return NULL;
    tg_tensor *out = tg__new(t, x->dtype, x->ndim, x->shape);
    if (out)
        tg__k_unary(out, x, k, 0);
    return out;
}

tg_tensor *tg_sign(tg_tape *t, tg_tensor *x) { return constant_unary(t, x, TG_U_SIGN, "tg_sign"); }

tg_tensor *tg_tape_full(tg_tape *t, tg_dtype dt, int ndim, const int64_t *shape, double v)
{
    if (TG__FAILED(t))
        return NULL;
    if ((unsigned)dt > TG_I32 || ndim < 0 || ndim > TG_MAX_DIMS || (ndim && !shape))
        return tg__fail(t, TG_EINVAL, "tg_tape_full: invalid dtype or rank");
    int64_t n;
    if (!tg__numel(ndim, shape, &n) || n > INT64_MAX / 8)
        return tg__fail(t, TG_EINVAL, "tg_tape_full: invalid or too large shape %s",
                        tg__dims_str(ndim, shape).s);
    tg_tensor *out = tg__new(t, dt, ndim, shape);
    if (out)
        tg__k_fill(out, v);
    return out;
}

tg_tensor *tg_tape_zeros(tg_tape *t, tg_dtype dt, int ndim, const int64_t *shape)
{
    return tg_tape_full(t, dt, ndim, shape, 0.0);
}

tg_tensor *tg_detach(tg_tape *t, tg_tensor *x)
{
    TG__GUARD(t, "tg_detach", x);
    return tg__new_view(t, x);
}

/* gradient reductions for broadcasting: sum g down to like's shape */
tg_tensor *tg_sum_to(tg_tape *t, tg_tensor *g, const tg_tensor *like)
{
    if (!like) /* only like's shape is read */
        return NULL;
    TG__GUARD(t, "tg_sum_to", g);
    if (tg_tensor_same_shape(g, like))
        return g;
    int axes[TG_MAX_DIMS], n = 0, lead = g->ndim - like->ndim;
    if (lead < 0)
        return tg__fail(t, TG_ESHAPE, "tg_sum_to: cannot reduce %s to %s", tg__shape_str(g).s,
                        tg__shape_str(like).s);
    for (int d = 0; d < g->ndim; d++) {
        int k = d - lead;
        if (k < 0 || (like->shape[k] == 1 && g->shape[d] != 1))
            axes[n++] = d;
        else if (like->shape[k] != g->shape[d])
            return tg__fail(t, TG_ESHAPE, "tg_sum_to: cannot reduce %s to %s",
                            tg__shape_str(g).s, tg__shape_str(like).s);
    }
    tg_tensor *s = n ? tg_sum(t, g, n, axes, true) : g;
    return tg_reshape(t, s, like->ndim, like->shape);
}

void tg__bwd_add(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    gi[0] = tg_sum_to(t, g, n->in[0]);
    gi[1] = tg_sum_to(t, g, n->in[1]);
}

void tg__bwd_sub(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    gi[0] = tg_sum_to(t, g, n->in[0]);
    if (n->in[1]->requires_grad)
        gi[1] = tg_sum_to(t, tg_neg(t, g), n->in[1]);
}

void tg__bwd_mul(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    if (n->in[0]->requires_grad)
        gi[0] = tg_sum_to(t, tg_mul(t, g, n->in[1]), n->in[0]);
    if (n->in[1]->requires_grad)
        gi[1] = tg_sum_to(t, tg_mul(t, g, n->in[0]), n->in[1]);
}

void tg__bwd_div(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    /* d(a/b)/da = 1/b; d(a/b)/db = -a/b^2 = -(a/b)/b */
    if (n->in[0]->requires_grad)
        gi[0] = tg_sum_to(t, tg_div(t, g, n->in[1]), n->in[0]);
    if (n->in[1]->requires_grad)
        gi[1] = tg_sum_to(t, tg_neg(t, tg_div(t, tg_mul(t, g, n->out), n->in[1])), n->in[1]);
}

void tg__bwd_neg(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    (void)n;
    gi[0] = tg_neg(t, g);
}

void tg__bwd_add_scalar(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    (void)t;
    (void)n;
    gi[0] = g;
}

void tg__bwd_mul_scalar(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    gi[0] = tg_mul_scalar(t, g, n->a.s);
}

void tg__bwd_pow_scalar(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    /* d x^p = p x^(p-1), and 0 for p = 0 (x^0 is the constant 1; p x^-1 would give
     * 0 * inf = NaN at x = 0). PyTorch likewise. */
    double p = n->a.s;
    if (p == 0)
        return;
    gi[0] = tg_mul(t, g, tg_mul_scalar(t, tg_pow_scalar(t, n->in[0], p - 1), p));
}

void tg__bwd_exp(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    gi[0] = tg_mul(t, g, n->out);
}

void tg__bwd_log(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    gi[0] = tg_div(t, g, n->in[0]);
}

void tg__bwd_sqrt(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    gi[0] = tg_div(t, g, tg_mul_scalar(t, n->out, 2.0));
}

void tg__bwd_abs(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    gi[0] = tg_mul(t, g, tg_sign(t, n->in[0]));
}

void tg__bwd_relu(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    gi[0] = tg_relu_backward(t, g, n->in[0]);
}

void tg__bwd_leaky_relu(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    gi[0] = tg_leaky_relu_backward(t, g, n->in[0], n->a.s);
}

void tg__bwd_sigmoid(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    gi[0] = tg_sigmoid_backward(t, g, n->out);
}

void tg__bwd_tanh(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    gi[0] = tg_tanh_backward(t, g, n->out);
}

void tg__bwd_gelu(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    gi[0] = tg_gelu_backward(t, g, n->in[0]);
}

void tg__bwd_softplus(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    gi[0] = tg_mul(t, g, tg_sigmoid(t, n->in[0]));
}

/* helper ops' own backwards; out = f(g, x) */
void tg__bwd_relu_bwd(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    /* linear in g with a piecewise-constant mask: the x-gradient is zero */
    gi[0] = tg_sum_to(t, tg_relu_backward(t, g, n->in[1]), n->in[0]);
}

void tg__bwd_leaky_relu_bwd(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    gi[0] = tg_sum_to(t, tg_leaky_relu_backward(t, g, n->in[1], n->a.s), n->in[0]);
}

void tg__bwd_sigmoid_bwd(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    /* out = a y (1 - y): d/da = y (1 - y); d/dy = a (1 - 2y) */
    tg_tensor *a = n->in[0], *y = n->in[1];
    if (a->requires_grad)
        gi[0] = tg_sum_to(t, tg_sigmoid_backward(t, g, y), a);
    if (y->requires_grad)
        gi[1] = tg_sum_to(
            t, tg_mul(t, tg_mul(t, g, a), tg_add_scalar(t, tg_mul_scalar(t, y, -2.0), 1.0)), y);
}

void tg__bwd_tanh_bwd(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    /* out = a (1 - y^2): d/da = 1 - y^2; d/dy = -2 a y */
    tg_tensor *a = n->in[0], *y = n->in[1];
    if (a->requires_grad)
        gi[0] = tg_sum_to(t, tg_tanh_backward(t, g, y), a);
    if (y->requires_grad)
        gi[1] = tg_sum_to(t, tg_mul(t, tg_mul(t, g, a), tg_mul_scalar(t, y, -2.0)), y);
}

void tg__bwd_gelu_bwd(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    /* out = a (Phi(x) + x phi(x)): d/da = Phi + x phi; d/dx = a phi(x) (2 - x^2) */
    tg_tensor *a = n->in[0], *x = n->in[1];
    if (a->requires_grad)
        gi[0] = tg_sum_to(t, tg_gelu_backward(t, g, x), a);
    if (x->requires_grad) {
        tg_tensor *x2 = tg_mul(t, x, x);
        tg_tensor *phi = tg_mul_scalar(t, tg_exp(t, tg_mul_scalar(t, x2, -0.5)),
                                       0.39894228040143267794);
        tg_tensor *d = tg_mul(t, phi, tg_add_scalar(t, tg_neg(t, x2), 2.0));
        gi[1] = tg_sum_to(t, tg_mul(t, tg_mul(t, g, a), d), x);
    }
}

/* ------------------------------------------------------------------ matmul */

tg_tensor *tg_matmul(tg_tape *t, tg_tensor *a, tg_tensor *b)
{
    TG__GUARD(t, "tg_matmul", a, b);
    if (!check_pair(t, a, b, "tg_matmul"))
        return NULL;
    if (a->ndim < 2 || b->ndim < 2)
        return tg__fail(t, TG_ESHAPE, "tg_matmul: operands must be at least 2-D: %s x %s",
                        tg__shape_str(a).s, tg__shape_str(b).s);
    int an = a->ndim, bn = b->ndim;
    if (a->shape[an - 1] != b->shape[bn - 2])
        return tg__fail(t, TG_ESHAPE, "tg_matmul: inner dimensions differ: %s x %s",
                        tg__shape_str(a).s, tg__shape_str(b).s);
    int nb = (an > bn ? an : bn) - 2;
    int64_t shape[TG_MAX_DIMS];
    for (int d = 0; d < nb; d++) {
        int ka = d - (nb - (an - 2)), kb = d - (nb - (bn - 2));
        int64_t da = ka >= 0 ? a->shape[ka] : 1, db = kb >= 0 ? b->shape[kb] : 1;
        if (da != db && da != 1 && db != 1)
            return tg__fail(t, TG_ESHAPE, "tg_matmul: batch dimensions do not broadcast: %s x %s",
                            tg__shape_str(a).s, tg__shape_str(b).s);
        shape[d] = da == 1 ? db : da;
    }
    shape[nb] = a->shape[an - 2];
    shape[nb + 1] = b->shape[bn - 1];
    tg_tensor *out = tg__new(t, a->dtype, nb + 2, shape);
    if (!out)
        return NULL;
    if (!tg__k_matmul(out, a, b, NULL))
        return tg__fail(t, TG_ENOMEM, "tg_matmul: out of memory");
    tg_tensor *in[2] = {a, b};
    return tg__record(t, TG_OP_MATMUL, 2, in, out, NULL);
}

void tg__bwd_matmul(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    /* dA = g B^T, dB = A^T g; the transposes are views (GEMM transpose flags) */
    tg_tensor *a = n->in[0], *b = n->in[1];
    if (a->requires_grad)
        gi[0] = tg_sum_to(t, tg_matmul(t, g, tg_transpose(t, b, -1, -2)), a);
    if (b->requires_grad)
        gi[1] = tg_sum_to(t, tg_matmul(t, tg_transpose(t, a, -1, -2), g), b);
}

/* -------------------------------------------------------------- reductions */

static bool axes_mask(tg_tape *t, const tg_tensor *x, int naxes, const int *axes, uint32_t *mask,
                      const char *fn)
{
    *mask = 0;
    if (naxes == 0) {
        *mask = (1u << x->ndim) - 1;
        return true;
    }
    if (naxes < 0 || !axes) {
        tg__fail(t, TG_EINVAL, "%s: invalid axes list", fn);
        return false;
    }
    for (int i = 0; i < naxes; i++) {
        int a = axes[i];
        if (!tg__norm_axis(t, x, &a, fn))
            return false;
        if (*mask & (1u << a)) {
            tg__fail(t, TG_EINVAL, "%s: axis %d repeated", fn, axes[i]);
            return false;
        }
        *mask |= 1u << a;
    }
    return true;
}

/* output of a reduction: allocated with the final shape; *kd is a keepdim header over
 * the same data */
static tg_tensor *reduce_out(tg_tape *t, const tg_tensor *x, uint32_t mask, bool keep,
                             tg_tensor *kd)
{
    int64_t ks[TG_MAX_DIMS], fs[TG_MAX_DIMS];
    int fn = 0;
    for (int d = 0; d < x->ndim; d++) {
        bool r = (mask >> d) & 1;
        ks[d] = r ? 1 : x->shape[d];
        if (!r || keep)
            fs[fn++] = ks[d];
    }
    tg_tensor *out = tg__new(t, x->dtype, fn, fs);
    if (!out)
        return NULL;
    tg__init_header(kd, x->dtype, x->ndim, ks);
    kd->data = out->data;
    return out;
}

static tg_tensor *sum_mean(tg_tape *t, tg_tensor *x, int naxes, const int *axes, bool keep,
                           bool mean, const char *fn)
{
    TG__GUARD(t, fn, x);
    uint32_t mask;
    if (!tg__check_float(t, x, fn) || !axes_mask(t, x, naxes, axes, &mask, fn))
        return NULL;
    tg_tensor kd;
    tg_tensor *out = reduce_out(t, x, mask, keep, &kd);
    if (!out)
        return NULL;
    tg__args a = {.mask = mask, .keep = keep};
    if (mean) {
        int64_t cnt = 1;
        for (int d = 0; d < x->ndim; d++)
            if ((mask >> d) & 1)
                cnt *= x->shape[d];
        a.s = 1.0 / (double)cnt; /* inf for an empty reduction: mean of nothing is NaN */
    }
    /* the mean's division is applied to the double sum, before rounding to the dtype */
    tg__k_sum(&kd, x, mask, !mean ? 1.0 : a.s != INFINITY ? a.s : NAN);
    return tg__record(t, mean ? TG_OP_MEAN : TG_OP_SUM, 1, &x, out, &a);
}

tg_tensor *tg_sum(tg_tape *t, tg_tensor *x, int naxes, const int *axes, bool keepdim)
{
    return sum_mean(t, x, naxes, axes, keepdim, false, "tg_sum");
}

tg_tensor *tg_mean(tg_tape *t, tg_tensor *x, int naxes, const int *axes, bool keepdim)
{
    return sum_mean(t, x, naxes, axes, keepdim, true, "tg_mean");
}

/* g (reduced shape) spread back over x's shape: reshape to keepdim, then expand */
static tg_tensor *spread(tg_tape *t, tg_tensor *g, const tg_tensor *x, uint32_t mask)
{
    int64_t ks[TG_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++)
        ks[d] = (mask >> d) & 1 ? 1 : x->shape[d];
    return tg_expand(t, tg_reshape(t, g, x->ndim, ks), x->ndim, x->shape);
}

void tg__bwd_sum(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    gi[0] = spread(t, g, n->in[0], n->a.mask);
}

void tg__bwd_mean(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    gi[0] = spread(t, tg_mul_scalar(t, g, n->a.s), n->in[0], n->a.mask);
}

tg_tensor *tg_max(tg_tape *t, tg_tensor *x, int axis, bool keepdim)
{
    TG__GUARD(t, "tg_max", x);
    if (!tg__check_float(t, x, "tg_max") || !tg__norm_axis(t, x, &axis, "tg_max"))
        return NULL;
    if (x->shape[axis] == 0)
        return tg__fail(t, TG_ESHAPE, "tg_max: axis %d of %s is empty", axis, tg__shape_str(x).s);
    tg_tensor kd;
    tg_tensor *out = reduce_out(t, x, 1u << axis, keepdim, &kd);
    if (!out)
        return NULL;
    tg__k_max(&kd, NULL, x, axis);
    tg__args a = {.axis = axis, .mask = 1u << axis, .keep = keepdim};
    return tg__record(t, TG_OP_MAX, 1, &x, out, &a);
}

tg_tensor *tg_argmax_mask(tg_tape *t, tg_tensor *x, int axis)
{
    TG__GUARD(t, "tg_argmax_mask", x);
    if (!tg__check_float(t, x, "tg_argmax_mask") || !tg__norm_axis(t, x, &axis, "tg_argmax_mask"))
        return NULL;
    if (x->shape[axis] == 0)
        return tg__fail(t, TG_ESHAPE, "tg_argmax_mask: axis %d of %s is empty", axis,
                        tg__shape_str(x).s);
    tg_tensor kd;
    tg_tensor *vals = reduce_out(t, x, 1u << axis, true, &kd);
    tg_tensor *mask = vals ? tg__new(t, x->dtype, x->ndim, x->shape) : NULL;
    if (mask)
        tg__k_max(&kd, mask, x, axis);
    return mask;
}

void tg__bwd_max(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    tg_tensor *x = n->in[0];
    gi[0] = tg_mul(t, spread(t, g, x, n->a.mask), tg_argmax_mask(t, x, n->a.axis));
}

tg_tensor *tg_softmax(tg_tape *t, tg_tensor *x, int axis)
{
    TG__GUARD(t, "tg_softmax", x);
    if (!tg__check_float(t, x, "tg_softmax") || !tg__norm_axis(t, x, &axis, "tg_softmax"))
        return NULL;
    tg_tensor *out = tg__new(t, x->dtype, x->ndim, x->shape);
    if (!out)
        return NULL;
    tg__k_softmax(out, x, axis, false);
    tg__args a = {.axis = axis};
    return tg__record(t, TG_OP_SOFTMAX, 1, &x, out, &a);
}

tg_tensor *tg_log_softmax(tg_tape *t, tg_tensor *x, int axis)
{
    TG__GUARD(t, "tg_log_softmax", x);
    if (!tg__check_float(t, x, "tg_log_softmax") || !tg__norm_axis(t, x, &axis, "tg_log_softmax"))
        return NULL;
    tg_tensor *out = tg__new(t, x->dtype, x->ndim, x->shape);
    if (!out)
        return NULL;
    tg__k_softmax(out, x, axis, true);
    tg__args a = {.axis = axis};
    return tg__record(t, TG_OP_LOG_SOFTMAX, 1, &x, out, &a);
}

void tg__bwd_softmax(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    /* y (g - sum(g y)) along the axis */
    tg_tensor *y = n->out;
    int ax = n->a.axis;
    gi[0] = tg_mul(t, y, tg_sub(t, g, tg_sum(t, tg_mul(t, g, y), 1, &ax, true)));
}

void tg__bwd_log_softmax(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    /* g - softmax(x) sum(g) along the axis; softmax(x) = exp(out) */
    int ax = n->a.axis;
    gi[0] = tg_sub(t, g, tg_mul(t, tg_exp(t, n->out), tg_sum(t, g, 1, &ax, true)));
}
