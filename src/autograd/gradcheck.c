/* tg_gradcheck: the tape's gradients against central finite differences. */
#include <math.h>
#include <string.h>

#include "internal.h"

tg_gradcheck_opts tg_gradcheck_defaults(void)
{
    tg_gradcheck_opts o = {.eps = 1e-6, .atol = 1e-5, .rtol = 1e-3, .fast = false,
                           .projections = 4, .seed = 0x7467u};
    return o;
}

typedef struct {
    tg_gradcheck_fn f;
    void *ctx;
    int n;
    tg_tensor *const *in;
    tg_tape *tape;
    tg_tensor *w;  /* output weights (NULL: scalar output, weight 1) */
    uint64_t seed;
} gc_ctx;

static double weighted_sum(const tg_tensor *y, const tg_tensor *w)
{
    double s = 0;
    int64_t n = tg_tensor_numel(y);
    for (int64_t i = 0; i < n; i++)
        s += tg_tensor_get_flat(y, i) * (w ? tg_tensor_get_flat(w, i) : 1.0);
    return s;
}

/* evaluates sum(w * f(inputs)) (recording stays on: f may itself differentiate) */
static bool eval(gc_ctx *c, double *out, tg_gradcheck_result *r)
{
    tg_tape_reset(c->tape);
    tg_tensor *y = c->f(c->tape, c->in, c->ctx);
    if (!y) {
        r->status = TG__FAILED(c->tape) ? tg_tape_status(c->tape) : TG_EINVAL;
        snprintf(r->message, sizeof r->message, "function failed: %s",
                 tg_tape_error(c->tape)[0] ? tg_tape_error(c->tape) : "returned NULL");
        return false;
    }
    *out = weighted_sum(y, c->w);
    return true;
}

/* the analytic gradients of sum(w * f) into persistent copies; also checks that a
 * second backward over the same tape gives bitwise-identical gradients */
static bool analytic(gc_ctx *c, tg_tensor **grads, tg_gradcheck_result *r)
{
    tg_tape_reset(c->tape);
    tg_tensor *y = c->f(c->tape, c->in, c->ctx);
    if (!y || TG__FAILED(c->tape)) {
        r->status = TG__FAILED(c->tape) ? tg_tape_status(c->tape) : TG_EINVAL;
        snprintf(r->message, sizeof r->message, "function failed: %s",
                 tg_tape_error(c->tape)[0] ? tg_tape_error(c->tape) : "returned NULL");
        return false;
    }
    if (y->dtype != TG_F64) {
        r->status = TG_EDTYPE;
        snprintf(r->message, sizeof r->message, "function output must be f64, not %s",
                 tg_dtype_name(y->dtype));
        return false;
    }
    if (!c->w && tg_tensor_numel(y) != 1) {
        c->w = tg_rand_uniform(TG_F64, y->ndim, y->shape, 0.5, 1.5, c->seed, 1);
        if (!c->w) {
            r->status = TG_ENOMEM;
            snprintf(r->message, sizeof r->message, "out of memory");
            return false;
        }
    }
    tg_tensor *seed = NULL;
    if (c->w) {
        seed = tg__new(c->tape, TG_F64, y->ndim, y->shape);
        if (seed)
            tg__k_unary(seed, c->w, TG_U_COPY, 0);
    } else {
        seed = tg_tape_full(c->tape, TG_F64, y->ndim, y->shape, 1.0);
    }
    if (!y->requires_grad) { /* f does not depend on its inputs: all gradients are zero */
        for (int i = 0; i < c->n; i++) {
            grads[i] = tg_zeros(TG_F64, c->in[i]->ndim, c->in[i]->shape);
            if (!grads[i]) {
                r->status = TG_ENOMEM;
                snprintf(r->message, sizeof r->message, "out of memory");
                return false;
            }
        }
        return true;
    }
    tg_tensor *g1[64], *g2[64];
    tg_status s = tg_grad(c->tape, y, seed, c->n, c->in, g1, NULL);
    if (s == TG_OK)
        s = tg_grad(c->tape, y, seed, c->n, c->in, g2, NULL);
    if (s != TG_OK) {
        r->status = s;
        snprintf(r->message, sizeof r->message, "backward failed: %s", tg_tape_error(c->tape));
        return false;
    }
    for (int i = 0; i < c->n; i++) {
        grads[i] = tg_tensor_clone(g1[i]);
        tg_tensor *again = tg_tensor_clone(g2[i]);
        bool same = grads[i] && again &&
                    !memcmp(grads[i]->data, again->data,
                            (size_t)tg_tensor_numel(again) * sizeof(double));
        tg_tensor_free(&again);
        if (!grads[i]) {
            r->status = TG_ENOMEM;
            snprintf(r->message, sizeof r->message, "out of memory");
            return false;
        }
        if (!same) {
            snprintf(r->message, sizeof r->message,
                     "input %d: a second backward gave different gradient bits", i);
            return false;
        }
    }
    return true;
}

static void consider(tg_gradcheck_result *r, const tg_gradcheck_opts *o, int input, int64_t idx,
                     double a, double num)
{
    double ratio = fabs(a - num) / (o->atol + o->rtol * fabs(num));
    if (isnan(ratio))
        ratio = INFINITY;
    r->compared++;
    if (r->compared == 1 || ratio > r->worst_ratio) {
        r->worst_ratio = ratio;
        r->worst_input = input;
        r->worst_index = idx;
        r->analytic = a;
        r->numeric = num;
    }
}

/* input i must be a persistent, non-expanded F64 tensor; else a message in r */
static bool check_inputs(int n, tg_tensor *const *inputs, tg_gradcheck_result *r)
{
    for (int i = 0; i < n; i++) {
        const tg_tensor *x = inputs[i];
        bool expanded = false;
        for (int d = 0; x && d < x->ndim; d++)
            expanded |= x->stride[d] == 0 && x->shape[d] > 1;
        if (!x || x->tape || x->dtype != TG_F64 || expanded) {
            r->status = TG_EINVAL;
            snprintf(r->message, sizeof r->message,
                     "tg_gradcheck: input %d must be a persistent, non-expanded f64 tensor", i);
            return false;
        }
    }
    return true;
}

/* every element of every input against its central difference */
static bool compare_elementwise(gc_ctx *c, const tg_gradcheck_opts *o, tg_tensor **grads,
                                tg_gradcheck_result *r)
{
    for (int i = 0; i < c->n; i++) {
        tg_tensor *x = c->in[i];
        int64_t cnt = tg_tensor_numel(x);
        for (int64_t j = 0; j < cnt; j++) {
            double x0 = tg_tensor_get_flat(x, j), fp, fm;
            tg_tensor_set_flat(x, j, x0 + o->eps);
            bool ok = eval(c, &fp, r);
            tg_tensor_set_flat(x, j, x0 - o->eps);
            ok = ok && eval(c, &fm, r);
            tg_tensor_set_flat(x, j, x0);
            if (!ok)
                return false;
            consider(r, o, i, j, tg_tensor_get_flat(grads[i], j), (fp - fm) / (2 * o->eps));
        }
    }
    return true;
}

/* the fast mode: o->projections random directions u over all inputs, each comparing
 * sum_i <grad_i, u_i> with the central difference along u; orig[i] receives a copy of
 * input i, restored bit for bit after each evaluation */
static bool compare_projections(gc_ctx *c, const tg_gradcheck_opts *o, tg_tensor **grads,
                                tg_tensor **orig, tg_gradcheck_result *r)
{
    int n = c->n;
    tg_tensor *const *inputs = c->in;
    for (int i = 0; i < n; i++)
        if (!(orig[i] = tg_tensor_clone(inputs[i]))) {
            r->status = TG_ENOMEM;
            snprintf(r->message, sizeof r->message, "out of memory");
            return false;
        }
    for (int p = 0; p < o->projections; p++) {
        double a = 0;
        uint64_t stream = 100 + (uint64_t)p;
        int64_t base = 0;
        for (int i = 0; i < n; i++) {
            int64_t cnt = tg_tensor_numel(inputs[i]);
            for (int64_t j = 0; j < cnt; j++)
                a += tg_tensor_get_flat(grads[i], j) *
                     tg_rng_normal(o->seed, stream, (uint64_t)(base + j));
            base += cnt;
        }
        double fv[2];
        for (int side = 0; side < 2; side++) {
            double sgn = side ? -1.0 : 1.0;
            base = 0;
            for (int i = 0; i < n; i++) {
                int64_t cnt = tg_tensor_numel(inputs[i]);
                for (int64_t j = 0; j < cnt; j++) {
                    double u = tg_rng_normal(o->seed, stream, (uint64_t)(base + j));
                    double x0 = tg_tensor_get_flat(inputs[i], j);
                    tg_tensor_set_flat(inputs[i], j, x0 + sgn * o->eps * u);
                }
                base += cnt;
            }
            bool ok = eval(c, &fv[side], r);
            for (int i = 0; i < n; i++) /* restore the exact original bits */
                tg_tensor_copy(inputs[i], orig[i]);
            if (!ok)
                return false;
        }
        consider(r, o, -1, p, a, (fv[0] - fv[1]) / (2 * o->eps));
    }
    r->worst_input = -1;
    return true;
}

tg_gradcheck_result tg_gradcheck(tg_gradcheck_fn f, void *ctx, int n, tg_tensor *const *inputs,
                                 const tg_gradcheck_opts *opts)
{
    tg_gradcheck_result r;
    memset(&r, 0, sizeof r);
    r.worst_input = -1;
    tg_gradcheck_opts o = opts ? *opts : tg_gradcheck_defaults();
    if (!f || n < 1 || n > 64 || !inputs) {
        r.status = TG_EINVAL;
        snprintf(r.message, sizeof r.message, "tg_gradcheck: need a function and 1..64 inputs");
        return r;
    }
    if (!check_inputs(n, inputs, &r))
        return r;
    bool saved_rg[64];
    for (int i = 0; i < n; i++) {
        saved_rg[i] = inputs[i]->requires_grad;
        tg__set_requires_grad(inputs[i], true);
    }
    gc_ctx c = {.f = f, .ctx = ctx, .n = n, .in = inputs, .tape = tg_tape_new(), .seed = o.seed};
    tg_tensor *grads[64] = {0}, *orig[64] = {0};
    if (!c.tape) {
        r.status = TG_ENOMEM;
        snprintf(r.message, sizeof r.message, "out of memory");
        goto done;
    }
    if (!analytic(&c, grads, &r) ||
        !(o.fast ? compare_projections(&c, &o, grads, orig, &r)
                 : compare_elementwise(&c, &o, grads, &r)))
        goto done;
    r.passed = r.compared > 0 ? r.worst_ratio <= 1.0 : true;
    if (!r.passed)
        snprintf(r.message, sizeof r.message,
                 "gradient mismatch: input %d element %lld: analytic %.10g vs numeric %.10g "
                 "(%.3g x tolerance)",
                 r.worst_input, (long long)r.worst_index, r.analytic, r.numeric, r.worst_ratio);
done:
    for (int i = 0; i < n; i++) {
        tg__set_requires_grad(inputs[i], saved_rg[i]);
        tg_tensor_free(&grads[i]);
        tg_tensor_free(&orig[i]);
    }
    tg_tensor_free(&c.w);
    tg_tape_free(&c.tape);
    return r;
}
