/* tg_activate: every activation kind gives the same values and gradients, bit for bit,
 * as the op it stands for (with its parameter), records that op, and softmax works over
 * the last axis of an [N, C] input (checked against a hand-computed softmax on data
 * where the wrong axis gives different values). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tapegrad.h"
#include "check.h"

enum { N = 3, C = 4 };

/* 0 and ties included (relu's kink), rows and columns of different spreads */
static const double X[N * C] = {0.0, 1.5, -2.0, 0.25, -0.75, 3.0, 0.5, -1.0, 2.0, 2.0, -0.5, 0.0};

typedef tg_tensor *(*direct_fn)(tg_tape *t, tg_tensor *x);

static tg_tensor *d_linear(tg_tape *t, tg_tensor *x)
{
    (void)t;
    return x;
}
static tg_tensor *d_relu(tg_tape *t, tg_tensor *x) { return tg_relu(t, x); }
static tg_tensor *d_leaky(tg_tape *t, tg_tensor *x) { return tg_leaky_relu(t, x, 0.2); }
static tg_tensor *d_sigmoid(tg_tape *t, tg_tensor *x) { return tg_sigmoid(t, x); }
static tg_tensor *d_tanh(tg_tape *t, tg_tensor *x) { return tg_tanh(t, x); }
static tg_tensor *d_gelu(tg_tape *t, tg_tensor *x) { return tg_gelu(t, x); }
static tg_tensor *d_softplus(tg_tape *t, tg_tensor *x) { return tg_softplus(t, x); }
static tg_tensor *d_softmax(tg_tape *t, tg_tensor *x) { return tg_softmax(t, x, 1); }

/* output and gradient of sum(w * f(x)), w = 1, 2, 3, ... (so the gradient of softmax,
 * whose plain sum is constant, is not zero) */
static bool run(tg_tensor *x, tg_activation act, double param, direct_fn direct, double *y,
                double *g, const char *opname, int64_t *count)
{
    tg_tape *t = tg_tape_new();
    tg_tensor *out = direct ? direct(t, x) : tg_activate(t, x, act, param), *gx = NULL;
    tg_tensor *w = tg_tape_zeros(t, TG_F64, 2, (int64_t[]){N, C});
    for (int i = 0; w && i < N * C; i++)
        tg_tensor_set_flat(w, i, (double)(i + 1));
    tg_tensor *l = out ? tg_sum(t, tg_mul(t, out, w), 0, NULL, false) : NULL;
    bool ok = l && out->ndim == 2 && out->shape[0] == N && out->shape[1] == C &&
              tg_grad(t, l, NULL, 1, &x, &gx, NULL) == TG_OK;
    for (int i = 0; ok && i < N * C; i++) {
        y[i] = tg_tensor_get_flat(out, i);
        g[i] = tg_tensor_get_flat(gx, i);
    }
    if (count)
        *count = opname ? tg_tape_count_op(t, tg_op_lookup(opname)) : 0;
    if (!ok)
        fprintf(stderr, "run: %s\n", tg_tape_error(t));
    tg_tape_free(&t);
    return ok;
}

static void test_every_kind(void)
{
    struct {
        tg_activation act;
        double param;
        direct_fn direct;
        const char *op; /* the op it must record (NULL: none) */
    } kinds[] = {
        {TG_ACT_LINEAR, 0, d_linear, NULL},
        {TG_ACT_RELU, 0, d_relu, "relu"},
        {TG_ACT_LEAKY_RELU, 0.2, d_leaky, "leaky_relu"},
        {TG_ACT_SIGMOID, 0, d_sigmoid, "sigmoid"},
        {TG_ACT_TANH, 0, d_tanh, "tanh"},
        {TG_ACT_GELU, 0, d_gelu, "gelu"},
        {TG_ACT_SOFTPLUS, 0, d_softplus, "softplus"},
        {TG_ACT_SOFTMAX, 0, d_softmax, "softmax"},
    };
    tg_tensor *x = tg_tensor_from(TG_F64, 2, (int64_t[]){N, C}, X);
    tg_tensor_set_requires_grad(x, true);
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        double ya[N * C], ga[N * C], yd[N * C], gd[N * C];
        int64_t recorded = 0;
        bool ok = run(x, kinds[k].act, kinds[k].param, NULL, ya, ga, kinds[k].op, &recorded) &&
                  run(x, TG_ACT_LINEAR, 0, kinds[k].direct, yd, gd, NULL, NULL);
        CHECK(ok, "activation %d: a run failed", (int)kinds[k].act);
        CHECK(ok && !memcmp(ya, yd, sizeof ya), "activation %d (%s): values differ from the op",
              (int)kinds[k].act, kinds[k].op ? kinds[k].op : "linear");
        CHECK(ok && !memcmp(ga, gd, sizeof ga), "activation %d (%s): gradients differ from the op",
              (int)kinds[k].act, kinds[k].op ? kinds[k].op : "linear");
        CHECK(!kinds[k].op || recorded == 1, "activation %d: recorded %lld '%s' nodes, want 1",
              (int)kinds[k].act, (long long)recorded, kinds[k].op);
    }
    /* linear is the identity: the input itself, no node */
    tg_tape *t = tg_tape_new();
    CHECK(tg_activate(t, x, TG_ACT_LINEAR, 0) == x && tg_tape_nodes(t) == 0,
          "linear returns its input and records nothing");
    tg_tape_free(&t);
    tg_tensor_free(&x);
}

/* softmax over the last axis, against a hand-computed one: each row sums to 1, and the
 * values are not those of a softmax over axis 0 */
static void test_softmax_last_axis(void)
{
    tg_tensor *x = tg_tensor_from(TG_F64, 2, (int64_t[]){N, C}, X);
    tg_tape *t = tg_tape_new();
    tg_tensor *y = tg_activate(t, x, TG_ACT_SOFTMAX, 0);
    double worst = 0, worst_axis0 = 0;
    for (int i = 0; y && i < N; i++) {
        double s = 0;
        for (int j = 0; j < C; j++)
            s += exp(X[i * C + j]);
        for (int j = 0; j < C; j++) {
            double got = tg_tensor_get_flat(y, i * C + j), want = exp(X[i * C + j]) / s;
            double s0 = 0;
            for (int r = 0; r < N; r++)
                s0 += exp(X[r * C + j]);
            worst = fmax(worst, fabs(got - want));
            worst_axis0 = fmax(worst_axis0, fabs(exp(X[i * C + j]) / s0 - want));
        }
    }
    CHECK(y && worst < 1e-15, "softmax over the last axis: off by %g", worst);
    CHECK(worst_axis0 > 0.1, "the data tells the axes apart (%g)", worst_axis0);

    /* a 3-D input: still the last axis */
    tg_tensor *x3 = tg_tensor_from(TG_F64, 3, (int64_t[]){1, N, C}, X);
    tg_tensor *y3 = tg_activate(t, x3, TG_ACT_SOFTMAX, 0);
    bool rows_one = y3 != NULL;
    for (int i = 0; y3 && i < N; i++) {
        double s = 0;
        for (int j = 0; j < C; j++)
            s += tg_tensor_get_flat(y3, i * C + j);
        rows_one = rows_one && fabs(s - 1) < 1e-15;
    }
    CHECK(rows_one, "softmax of a [1, N, C] input: rows over the last axis sum to 1");
    tg_tape_free(&t);
    tg_tensor_free(&x);
    tg_tensor_free(&x3);
}

int main(void)
{
    test_every_kind();
    test_softmax_last_axis();
    return check_summary();
}
