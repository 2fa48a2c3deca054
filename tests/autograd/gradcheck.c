/* The gradcheck suite: every registered op has at least one case; every case must
 *  - record the op it names on the tape,
 *  (inputs marked constant require no grad: they are not checked, the others are)
 *  - pass tg_gradcheck in full mode and in fast (projection) mode,
 *  - pass a second-order check (the gradient, built with create_graph, gradchecked),
 *  - give the same outputs and gradients in F32 as in F64 (to F32 precision).
 * tg_gradcheck itself checks that two backward passes give bitwise-equal gradients.
 *   gradcheck            all cases; fails if a registered op has no case
 *   gradcheck --list     the registered ops, one per line
 *   gradcheck OPNAME     that op's cases
 *   gradcheck --pretend-missing OPNAME   all cases, but OPNAME's are ignored: must fail
 *                        (proves the suite rejects an op without a case) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck_cases.h"

static int failures, passes;

static void fail(const gc_case *c, const char *what, const char *detail)
{
    failures++;
    fprintf(stderr, "FAIL %s [%s]: %s: %s\n", c->op, c->name, what, detail);
}

/* second order: h(x) = sum_i <grad_i f(x), u_i>, whose gradient is a Hessian-vector
 * product; gradchecking h checks every backward's own backward */
typedef struct {
    gc_bound *b;
} second_ctx;

static void fill_pattern(tg_tensor *x, int salt)
{
    int64_t n = tg_tensor_numel(x);
    for (int64_t i = 0; i < n; i++)
        tg_tensor_set_flat(x, i, 0.5 + (double)((i * 7 + salt * 3) % 11) / 11.0);
}

static tg_tensor *second_order(tg_tape *t, tg_tensor *const *in, void *vctx)
{
    gc_bound *b = ((second_ctx *)vctx)->b;
    tg_tensor *y = gc_call(t, in, b);
    if (!y)
        return NULL;
    tg_tensor *seed = tg_tape_full(t, y->dtype, y->ndim, y->shape, 1.0);
    if (!seed)
        return NULL;
    fill_pattern(seed, 1);
    tg_tensor *g[4];
    tg_backward_opts o = tg_backward_defaults();
    o.create_graph = true;
    if (tg_grad(t, y, seed, b->np, in, g, &o) != TG_OK)
        return NULL;
    tg_tensor *total = NULL;
    for (int i = 0; i < b->np; i++) {
        tg_tensor *u = tg_tape_full(t, in[i]->dtype, in[i]->ndim, in[i]->shape, 1.0);
        if (!u)
            return NULL;
        fill_pattern(u, 2 + i);
        tg_tensor *s = tg_sum(t, tg_mul(t, g[i], u), 0, NULL, false);
        total = total ? tg_add(t, total, s) : s;
    }
    return total;
}

/* The gradients with create_graph must be the gradients without it: an op whose backward
 * takes another path when it is recorded (batch_norm's fused loop is not recorded, its
 * ops are) would otherwise have its recorded path checked only for self-consistency by
 * the second-order check. Compared in F64 to a relative 1e-9 of the largest value. */
static void check_recorded_backward(const gc_case *c, gc_bound *b, tg_tensor *const *params)
{
    tg_tape *t = tg_tape_new();
    tg_tensor *y = t ? gc_call(t, params, b) : NULL;
    tg_tensor *seed = y ? tg_tape_full(t, y->dtype, y->ndim, y->shape, 1.0) : NULL;
    tg_tensor *plain[4] = {0}, *rec[4] = {0};
    tg_backward_opts o = tg_backward_defaults();
    bool ok = seed != NULL;
    if (ok) {
        fill_pattern(seed, 1);
        ok = tg_grad(t, y, seed, b->np, params, plain, NULL) == TG_OK;
        o.create_graph = true;
        ok = ok && tg_grad(t, y, seed, b->np, params, rec, &o) == TG_OK;
    }
    if (!ok) {
        fail(c, "recorded backward", t ? tg_tape_error(t) : "out of memory");
        tg_tape_free(&t);
        return;
    }
    for (int i = 0; i < b->np; i++) {
        int64_t n = tg_tensor_numel(plain[i]);
        double scale = 0, worst = 0;
        for (int64_t k = 0; k < n; k++) {
            double v = tg_tensor_get_flat(plain[i], k);
            scale = fmax(scale, fabs(v));
            worst = fmax(worst, fabs(v - tg_tensor_get_flat(rec[i], k)));
        }
        if (worst > 1e-9 * fmax(scale, 1e-300)) {
            char msg[160];
            snprintf(msg, sizeof msg, "input %d: gradient with create_graph differs by %.3g "
                     "(largest value %.3g)", i, worst, scale);
            fail(c, "recorded backward", msg);
        }
    }
    tg_tape_free(&t);
}

/* forward + gradients (of the parameters) of sum(w * f) in a given dtype, copied out as
 * doubles */
static bool run_dtype(const gc_case *c, tg_dtype dt, double **out, int64_t *nout, double **g,
                      int64_t *ng)
{
    tg_tensor *in[4], *params[4];
    gc_bound b = {.np = 0};
    bool ok = gc_make_inputs(c, dt, 42, in);
    tg_tape *t = tg_tape_new();
    ok = ok && t;
    if (ok)
        gc_bind(&b, c, in, params);
    tg_tensor *y = ok ? gc_call(t, params, &b) : NULL;
    tg_tensor *seed = y ? tg_tape_full(t, y->dtype, y->ndim, y->shape, 1.0) : NULL;
    tg_tensor *grads[4];
    ok = seed && tg_grad(t, y, seed, b.np, params, grads, NULL) == TG_OK;
    if (ok) {
        *nout = tg_tensor_numel(y);
        *out = malloc(sizeof(double) * (size_t)(*nout + 1));
        tg_tensor_copy_out(y, TG_F64, *out);
        for (int i = 0; i < b.np; i++) {
            ng[i] = tg_tensor_numel(grads[i]);
            g[i] = malloc(sizeof(double) * (size_t)(ng[i] + 1));
            tg_tensor_copy_out(grads[i], TG_F64, g[i]);
        }
    }
    tg_tape_free(&t);
    gc_free_inputs(c, in);
    return ok;
}

static bool close32(const double *a, const double *b, int64_t n)
{
    double scale = 1e-3;
    for (int64_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(a[i]));
    for (int64_t i = 0; i < n; i++)
        if (!(fabs(a[i] - b[i]) <= 2e-4 * scale))
            return false;
    return true;
}

static void check_f32(const gc_case *c)
{
    double *o64 = NULL, *o32 = NULL, *g64[4] = {0}, *g32[4] = {0};
    int64_t n64 = 0, n32 = 0, gn64[4] = {0}, gn32[4] = {0};
    bool ok64 = run_dtype(c, TG_F64, &o64, &n64, g64, gn64);
    bool ok32 = run_dtype(c, TG_F32, &o32, &n32, g32, gn32);
    if (!ok64 || !ok32) {
        fail(c, "f32 vs f64", "a run failed");
    } else if (n64 != n32 || !close32(o64, o32, n64)) {
        fail(c, "f32 vs f64", "outputs differ beyond f32 precision");
    } else {
        for (int i = 0; i < c->n; i++)
            if (gn64[i] != gn32[i] || !close32(g64[i], g32[i], gn64[i])) {
                char msg[64];
                snprintf(msg, sizeof msg, "gradient of input %d differs", i);
                fail(c, "f32 vs f64", msg);
                break;
            }
    }
    free(o64);
    free(o32);
    for (int i = 0; i < 4; i++) {
        free(g64[i]);
        free(g32[i]);
    }
}

static void run_case(const gc_case *c)
{
    int before = failures;
    tg_tensor *in[4], *params[4];
    if (!gc_make_inputs(c, TG_F64, 42, in)) {
        fail(c, "inputs", tg_last_error());
        return;
    }
    gc_bound b;
    if (gc_bind(&b, c, in, params) == 0) {
        fail(c, "inputs", "every input is a constant: nothing to check");
        gc_free_inputs(c, in);
        return;
    }
    /* the case must record the op it claims to check */
    tg_tape *t = tg_tape_new();
    tg_tensor *y = gc_call(t, params, &b);
    int op = tg_op_lookup(c->op);
    if (!y)
        fail(c, "forward", tg_tape_error(t));
    else if (op < 0 || tg_tape_count_op(t, op) == 0)
        fail(c, "coverage", "the case does not record this op");
    tg_tape_free(&t);

    tg_gradcheck_opts o = tg_gradcheck_defaults();
    tg_gradcheck_result r = tg_gradcheck(gc_call, &b, b.np, params, &o);
    if (!r.passed || r.status != TG_OK)
        fail(c, "gradcheck", r.message);
    double worst = r.worst_ratio;

    o.fast = true;
    r = tg_gradcheck(gc_call, &b, b.np, params, &o);
    if (!r.passed || r.status != TG_OK)
        fail(c, "gradcheck (fast)", r.message);

    check_recorded_backward(c, &b, params);
    second_ctx sc = {&b};
    o.fast = false;
    r = tg_gradcheck(second_order, &sc, b.np, params, &o);
    if (!r.passed || r.status != TG_OK)
        fail(c, "second-order gradcheck", r.message);

    gc_free_inputs(c, in);
    check_f32(c);
    if (failures == before) {
        passes++;
        printf("ok   %-20s %-36s worst %.3g x tolerance\n", c->op, c->name, worst);
    }
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--list")) {
        for (int i = 0; i < tg_op_count(); i++)
            printf("%s\n", tg_op_name(i));
        return 0;
    }
    const char *missing = NULL;
    if (argc > 2 && !strcmp(argv[1], "--pretend-missing")) {
        missing = argv[2];
        argc = 1;
    }
    const char *only = argc > 1 ? argv[1] : NULL;
    if (only && tg_op_lookup(only) < 0) {
        fprintf(stderr, "gradcheck: unknown op '%s' (--list names them)\n", only);
        return 1;
    }
    for (int op = 0; op < tg_op_count(); op++) {
        const char *name = tg_op_name(op);
        if (only && strcmp(only, name))
            continue;
        int cases = 0;
        for (int i = 0; i < gc_count() && !(missing && !strcmp(missing, name)); i++)
            if (!strcmp(gc_get(i)->op, name)) {
                cases++;
                run_case(gc_get(i));
            }
        if (!cases) {
            failures++;
            fprintf(stderr, "FAIL %s: registered op has no gradcheck case\n", name);
        }
    }
    for (int i = 0; i < gc_count(); i++)
        if (tg_op_lookup(gc_get(i)->op) < 0) {
            failures++;
            fprintf(stderr, "FAIL case [%s] names unknown op '%s'\n", gc_get(i)->name,
                    gc_get(i)->op);
        }
    printf("%d passed, %d failed\n", passes, failures);
    return failures ? 1 : 0;
}
