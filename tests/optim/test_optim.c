/* optim: the first three steps of every optimizer on a tiny quadratic against values
 * computed by hand from the published update rules (F64 tight, F32 loose), clipping,
 * schedules, reduce-on-plateau, early stopping, state for checkpoints, option
 * validation, zero heap allocations per step and clean out-of-memory failures.
 *
 * The quadratic: f(x) = sum_i (x_i - c_i)^2 with x0 = [1, -2, 0.5], c = [0.25, 0.5, -1],
 * so g = 2 (x - c) and g0 = [1.5, -5, 3]. Reference numbers were computed with python3
 * (plain double arithmetic) from the formula written beside each table. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optim/internal.h"
#include "optim/optim.h"
#include "tapegrad.h"
#include "check.h"


/* ---- counting allocator (set before any other call) ---- */
static long n_allocs, n_live, fail_at; /* fail_at > 0: the fail_at-th allocation fails */

static void *count_alloc(size_t size, void *ctx)
{
    (void)ctx;
    n_allocs++;
    if (fail_at > 0 && n_allocs == fail_at)
        return NULL;
    void *p = malloc(size);
    if (p)
        n_live++;
    return p;
}

static void count_free(void *p, void *ctx)
{
    (void)ctx;
    if (p)
        n_live--;
    free(p);
}

/* ---- the quadratic ---- */
static const double X0[3] = {1.0, -2.0, 0.5};
static const double C[3] = {0.25, 0.5, -1.0};

static tg_tensor *vec(tg_dtype dt, const double *v, int64_t n)
{
    tg_tensor *t = tg_zeros(dt, 1, &n);
    for (int64_t i = 0; t && i < n; i++)
        tg_tensor_set_flat(t, i, v[i]);
    return t;
}

/* x->grad += 2 (x - c) through the tape */
static bool quad_backward(tg_tape *tp, tg_tensor *x, const tg_tensor *c)
{
    tg_tape_reset(tp);
    tg_tensor *d = tg_sub(tp, x, (tg_tensor *)c);
    tg_tensor *loss = tg_sum(tp, tg_mul(tp, d, d), 0, NULL, false);
    return tg_backward(tp, loss) == TG_OK;
}

static bool near(double got, double want, double tol)
{
    return fabs(got - want) <= tol * fmax(1.0, fabs(want));
}

/* ---- reference steps ---- */
enum {
    C_SGD, C_MOMENTUM, C_NESTEROV, C_SGD_DECAY, C_ADAGRAD, C_ADAGRAD_DECAY, C_RMSPROP,
    C_ADAM, C_ADAM_L2, C_ADAMW, C_ADAM_DECAY, NCASES
};

static const struct {
    const char *name;
    double x[3][3]; /* x after steps 1, 2, 3 */
} REF[NCASES] = {
    /* SGD lr=0.1: x -= 0.1 g */
    [C_SGD] = {"sgd",
               {{0.85, -1.5, 0.19999999999999996},
                {0.73, -1.1, -0.040000000000000036},
                {0.634, -0.78, -0.23200000000000004}}},
    /* SGD lr=0.1 mu=0.9: v = 0.9 v + g; x -= 0.1 v */
    [C_MOMENTUM] = {"sgd momentum",
                    {{0.85, -1.5, 0.19999999999999996},
                     {0.595, -0.6499999999999999, -0.31000000000000005},
                     {0.2965, 0.3450000000000001, -0.907}}},
    /* SGD lr=0.1 mu=0.9 nesterov: v = 0.9 v + g; x -= 0.1 (g + 0.9 v) */
    [C_NESTEROV] = {"sgd nesterov",
                    {{0.715, -1.0499999999999998, -0.07000000000000006},
                     {0.41679999999999995, -0.05599999999999983, -0.6664000000000001},
                     {0.1687359999999999, 0.7708800000000002, -1.1625280000000002}}},
    /* SGD lr=0.1 decay=0.5: x -= 0.1 / (1 + 0.5 t) g, t = 0, 1, 2 */
    [C_SGD_DECAY] = {"sgd decay",
                     {{0.85, -1.5, 0.19999999999999996},
                      {0.77, -1.2333333333333334, 0.03999999999999995},
                      {0.718, -1.06, -0.06400000000000006}}},
    /* AdaGrad lr=0.1 eps=1e-10: s += g^2; x -= 0.1 g / (sqrt(s) + 1e-10) */
    [C_ADAGRAD] = {"adagrad",
                   {{0.9000000000066667, -1.900000000002, 0.4000000000033333},
                    {0.8345069461677984, -1.8307468171839978, 0.3317681749689081},
                    {0.7837597838130461, -1.774939362036448, 0.2773245390840855}}},
    /* AdaGrad lr=0.1 eps=1e-10 decay=0.5: as above with lr 0.1 / (1 + 0.5 t) */
    [C_ADAGRAD_DECAY] = {"adagrad decay",
                         {{0.9000000000066667, -1.900000000002, 0.4000000000033333},
                          {0.8563379641140878, -1.8538312114566653, 0.35451211664704985},
                          {0.8302708632089714, -1.8257380697216976, 0.32696568094618744}}},
    /* RMSProp lr=0.01 rho=0.9 eps=1e-8: v = 0.9 v + 0.1 g^2; x -= 0.01 g / (sqrt(v) + eps) */
    [C_RMSPROP] = {"rmsprop",
                   {{0.9683772240649828, -1.9683772235983161, 0.46837722373164953},
                    {0.9459094522858403, -1.9455744911309047, 0.4456686052546131},
                    {0.9273394778615858, -1.9265512386189851, 0.4267721489690482}}},
    /* Adam lr=0.1 b1=0.9 b2=0.999 eps=1e-8: m = .9 m + .1 g; v = .999 v + .001 g^2;
     * x -= 0.1 (m / (1 - .9^k)) / (sqrt(v / (1 - .999^k)) + 1e-8), k = 1, 2, 3 */
    [C_ADAM] = {"adam",
                {{0.9000000006666666, -1.9000000002, 0.4000000003333333},
                 {0.800625582959073, -1.800127188380826, 0.30023906229228026},
                 {0.7024566584913073, -1.700473933862959, 0.20090287051809985}}},
    /* Adam as above with weight_decay=0.1 (L2): g' = g + 0.1 x feeds m and v */
    [C_ADAM_L2] = {"adam l2",
                   {{0.900000000625, -1.9000000001923076, 0.4000000003278688},
                    {0.8006110040289612, -1.8001286422821492, 0.3002492540211899},
                    {0.7023962720957674, -1.700479439113384, 0.20094246189266865}}},
    /* AdamW lr=0.1 wd=0.1: x -= 0.1 * 0.1 x, then the Adam update with g */
    [C_ADAMW] = {"adamw",
                 {{0.8900000006666666, -1.8800000002, 0.3950000003333333},
                  {0.7818229739911888, -1.7613583758696036, 0.29130466833734203},
                  {0.6761290343528678, -1.644176218495963, 0.18909580203847248}}},
    /* Adam as C_ADAM with decay=1: lr_t = 0.1 / (1 + t) */
    [C_ADAM_DECAY] = {"adam decay",
                      {{0.9000000006666666, -1.9000000002, 0.4000000003333333},
                       {0.8503127918128699, -1.850063594290413, 0.3501195313128068},
                       {0.8173809582404805, -1.8168127035397892, 0.31694000421804774}}},
};

static tg_optim *make_case(int id, int n, tg_tensor *const *p)
{
    switch (id) {
    case C_SGD:
    case C_MOMENTUM:
    case C_NESTEROV:
    case C_SGD_DECAY: {
        tg_sgd_opts o = tg_sgd_defaults();
        o.lr = 0.1;
        o.momentum = id == C_MOMENTUM || id == C_NESTEROV ? 0.9 : 0;
        o.nesterov = id == C_NESTEROV;
        o.decay = id == C_SGD_DECAY ? 0.5 : 0;
        return tg_sgd_new(n, p, &o);
    }
    case C_ADAGRAD:
    case C_ADAGRAD_DECAY: {
        tg_adagrad_opts o = tg_adagrad_defaults();
        o.lr = 0.1;
        o.eps = 1e-10;
        o.decay = id == C_ADAGRAD_DECAY ? 0.5 : 0;
        return tg_adagrad_new(n, p, &o);
    }
    case C_RMSPROP: {
        tg_rmsprop_opts o = tg_rmsprop_defaults();
        o.lr = 0.01;
        o.rho = 0.9;
        o.eps = 1e-8;
        return tg_rmsprop_new(n, p, &o);
    }
    case C_ADAMW: {
        tg_adam_opts o = tg_adamw_defaults();
        o.lr = 0.1;
        o.weight_decay = 0.1;
        return tg_adamw_new(n, p, &o);
    }
    default: {
        tg_adam_opts o = tg_adam_defaults();
        o.lr = 0.1;
        o.weight_decay = id == C_ADAM_L2 ? 0.1 : 0;
        o.decay = id == C_ADAM_DECAY ? 1.0 : 0;
        return tg_adam_new(n, p, &o);
    }
    }
}

/* Runs a case on x (dtype dt) plus a parameter z that no loss reaches (grad stays NULL,
 * so it must be skipped), counting heap allocations inside step and zero_grad. */
static void run_case(int id, tg_dtype dt, double tol)
{
    const char *dn = tg_dtype_name(dt);
    tg_tape *tp = tg_tape_new();
    tg_tensor *x = vec(dt, X0, 3), *c = vec(dt, C, 3), *z = vec(dt, C, 3);
    tg_tensor_set_requires_grad(x, true);
    tg_tensor_set_requires_grad(z, true);
    tg_tensor *ps[2] = {x, z};
    tg_optim *o = make_case(id, 2, ps);
    CHECK(o != NULL, "%s %s: creation failed: %s", REF[id].name, dn, tg_last_error());
    if (!o)
        goto out;
    for (int s = 0; s < 3; s++) {
        long before = n_allocs;
        tg_optim_zero_grad(o);
        CHECK(n_allocs == before, "%s %s: zero_grad allocated", REF[id].name, dn);
        CHECK(quad_backward(tp, x, c), "%s %s: backward failed: %s", REF[id].name, dn,
              tg_tape_error(tp));
        before = n_allocs;
        tg_status st = tg_optim_step(o);
        CHECK(n_allocs == before, "%s %s: step %d made %ld heap allocations", REF[id].name,
              dn, s + 1, n_allocs - before);
        CHECK(st == TG_OK, "%s %s: step %d: %s", REF[id].name, dn, s + 1, tg_last_error());
        for (int i = 0; i < 3; i++) {
            double got = tg_tensor_get_flat(x, i), want = REF[id].x[s][i];
            CHECK(near(got, want, tol), "%s %s: step %d x[%d] = %.17g, want %.17g",
                  REF[id].name, dn, s + 1, i, got, want);
        }
    }
    CHECK(tg_optim_steps(o) == 3, "%s %s: steps = %lld", REF[id].name, dn,
          (long long)tg_optim_steps(o));
    CHECK(z->grad == NULL, "%s %s: z got a gradient", REF[id].name, dn);
    for (int i = 0; i < 3; i++)
        CHECK(tg_tensor_get_flat(z, i) == C[i], "%s %s: parameter without grad changed",
              REF[id].name, dn);
    for (int i = 0; i < tg_optim_state_count(o); i++)
        CHECK(tg_optim_state_tensor(o, i, NULL)->dtype == dt, "%s %s: state %d dtype",
              REF[id].name, dn, i);
out:
    tg_optim_free(&o);
    CHECK(o == NULL, "tg_optim_free sets NULL");
    tg_tensor_free(&x);
    tg_tensor_free(&c);
    tg_tensor_free(&z);
    tg_tape_free(&tp);
}

static void test_reference_steps(void)
{
    for (int id = 0; id < NCASES; id++) {
        run_case(id, TG_F64, 1e-12);
        run_case(id, TG_F32, 2e-5);
    }
}

/* The widest instruction-set clone of every update (what tg_optim_step runs on this
 * CPU) gives the same bits as the portable kernels, and tg_optim_step_zero equals
 * tg_optim_step + tg_optim_zero_grad, for sizes that exercise the thread split and the
 * blocks, with 1 and 2 threads. */
static void test_clones_and_fused_zero(void)
{
    int64_t n = 70001; /* > the split threshold, not a multiple of any block or width */
    for (int id = 0; id < NCASES; id++)
        for (int d = 0; d < 2; d++)
            for (int th = 1; th <= 2; th++) {
                tg_dtype dt = d ? TG_F64 : TG_F32;
                tg_set_num_threads(th);
                tg_tape *tp = tg_tape_new();
                tg_tensor *xa = tg_rand_normal(dt, 1, &n, 0, 1, 7, 0);
                tg_tensor *xb = tg_rand_normal(dt, 1, &n, 0, 1, 7, 0);
                tg_tensor *c = tg_rand_normal(dt, 1, &n, 0, 1, 7, 1);
                tg_tensor_set_requires_grad(xa, true);
                tg_tensor_set_requires_grad(xb, true);
                tg_optim *oa = make_case(id, 1, &xa), *ob = make_case(id, 1, &xb);
                bool zeroed = true;
                for (int s = 0; s < 3 && oa && ob; s++) {
                    tg__optim_portable_only = 1;
                    tg_optim_zero_grad(oa);
                    CHECK(quad_backward(tp, xa, c) && tg_optim_step(oa) == TG_OK,
                          "clones %s: portable step", REF[id].name);
                    tg__optim_portable_only = 0;
                    CHECK(quad_backward(tp, xb, c) && tg_optim_step_zero(ob) == TG_OK,
                          "clones %s: fused step", REF[id].name);
                    for (int64_t i = 0; i < n; i++)
                        zeroed = zeroed && tg_tensor_get_flat(xb->grad, i) == 0.0;
                }
                size_t bytes = (size_t)n * tg_dtype_size(dt);
                CHECK(oa && ob && memcmp(xa->data, xb->data, bytes) == 0,
                      "clones %s %s %d threads: parameters differ from the portable kernels",
                      REF[id].name, tg_dtype_name(dt), th);
                CHECK(zeroed, "clones %s %s: tg_optim_step_zero left a gradient nonzero",
                      REF[id].name, tg_dtype_name(dt));
                tg_optim_free(&oa);
                tg_optim_free(&ob);
                tg_tensor_free(&xa);
                tg_tensor_free(&xb);
                tg_tensor_free(&c);
                tg_tape_free(&tp);
            }
    tg_set_num_threads(1);
}

/* Mixed dtypes in one optimizer, names and values of the state after one step, and a
 * checkpoint round trip through the state tensors and step counter. */
static void test_state(void)
{
    tg_tape *tp = tg_tape_new();
    tg_tensor *x = vec(TG_F64, X0, 3), *y = vec(TG_F32, X0, 3);
    tg_tensor *c64 = vec(TG_F64, C, 3), *c32 = vec(TG_F32, C, 3);
    tg_tensor_set_requires_grad(x, true);
    tg_tensor_set_requires_grad(y, true);
    tg_tensor *ps[2] = {x, y};
    tg_adam_opts ao = tg_adam_defaults();
    ao.lr = 0.1;
    tg_optim *a = tg_adam_new(2, ps, &ao);
    CHECK(a && strcmp(tg_optim_name(a), "adam") == 0, "adam name");
    CHECK(tg_optim_state_count(a) == 4, "adam state count %d", tg_optim_state_count(a));
    const char *want_names[4] = {"m.0", "v.0", "m.1", "v.1"};
    for (int i = 0; i < 4; i++) {
        const char *nm = NULL;
        tg_tensor *s = tg_optim_state_tensor(a, i, &nm);
        CHECK(s && nm && strcmp(nm, want_names[i]) == 0, "state %d name %s", i,
              nm ? nm : "(null)");
        CHECK(s && s->dtype == (i < 2 ? TG_F64 : TG_F32) && tg_tensor_same_shape(s, x),
              "state %d dtype/shape follows its parameter", i);
    }
    CHECK(tg_optim_state_tensor(a, 4, NULL) == NULL && strstr(tg_last_error(), "index"),
          "state index out of range rejected");
    quad_backward(tp, x, c64);
    quad_backward(tp, y, c32);
    CHECK(tg_optim_step(a) == TG_OK, "adam mixed step");
    /* m = 0.1 g0, v = 0.001 g0^2 with g0 = [1.5, -5, 3] */
    const double m1[3] = {0.15, -0.5, 0.3}, v1[3] = {0.00225, 0.025, 0.009};
    for (int i = 0; i < 3; i++) {
        CHECK(near(tg_tensor_get_flat(tg_optim_state_tensor(a, 0, NULL), i), m1[i], 1e-15),
              "m.0[%d]", i);
        CHECK(near(tg_tensor_get_flat(tg_optim_state_tensor(a, 1, NULL), i), v1[i], 1e-15),
              "v.0[%d]", i);
        CHECK(near(tg_tensor_get_flat(tg_optim_state_tensor(a, 2, NULL), i), m1[i], 1e-6),
              "m.1[%d]", i);
        CHECK(near(tg_tensor_get_flat(y, i), REF[C_ADAM].x[0][i], 2e-5), "f32 param in a "
              "mixed optimizer, x[%d]", i);
    }
    /* second step on a, and on a fresh optimizer b over copies restored from a's state */
    tg_tensor *x2 = tg_tensor_clone(x), *y2 = tg_tensor_clone(y);
    tg_tensor_set_requires_grad(x2, true);
    tg_tensor_set_requires_grad(y2, true);
    tg_tensor *ps2[2] = {x2, y2};
    tg_optim *b = tg_adam_new(2, ps2, &ao);
    for (int i = 0; b && i < 4; i++)
        tg_tensor_copy(tg_optim_state_tensor(b, i, NULL), tg_optim_state_tensor(a, i, NULL));
    CHECK(tg_optim_set_steps(b, tg_optim_steps(a)) == TG_OK && tg_optim_steps(b) == 1,
          "set_steps");
    CHECK(tg_optim_set_steps(b, -1) == TG_EINVAL, "negative steps rejected");
    tg_optim_zero_grad(a);
    CHECK(tg_tensor_get_flat(x->grad, 0) == 0 && tg_tensor_get_flat(y->grad, 2) == 0,
          "zero_grad zeroes F64 and F32 grads");
    quad_backward(tp, x, c64);
    quad_backward(tp, y, c32);
    quad_backward(tp, x2, c64);
    quad_backward(tp, y2, c32);
    tg_optim_step(a);
    tg_optim_step(b);
    CHECK(tg_tensor_hash(x) == tg_tensor_hash(x2) && tg_tensor_hash(y) == tg_tensor_hash(y2),
          "resumed optimizer matches the original bit for bit");
    CHECK(near(tg_tensor_get_flat(x, 1), REF[C_ADAM].x[1][1], 1e-12), "adam step 2 after "
          "zero_grad");
    tg_optim_free(&a);
    tg_optim_free(&b);
    tg_tensor_free(&x);
    tg_tensor_free(&y);
    tg_tensor_free(&x2);
    tg_tensor_free(&y2);
    tg_tensor_free(&c64);
    tg_tensor_free(&c32);
    tg_tape_free(&tp);
}

/* Learning-rate getters/setters, the decay formula, and a gradient that does not match
 * its parameter. */
static void test_lr_and_errors(void)
{
    tg_tensor *x = vec(TG_F64, X0, 3);
    tg_sgd_opts so = tg_sgd_defaults();
    so.lr = 0.1;
    so.decay = 0.5;
    tg_optim *o = tg_sgd_new(1, &x, &so);
    CHECK(tg_optim_param_count(o) == 1 && tg_optim_param(o, 0) == x, "param list");
    CHECK(tg_optim_lr(o) == 0.1, "lr at t=0");
    tg_optim_set_steps(o, 2);
    CHECK(near(tg_optim_lr(o), 0.05, 1e-15), "lr at t=2: 0.1/(1+0.5*2) = 0.05, got %g",
          tg_optim_lr(o));
    CHECK(tg_optim_set_lr(o, 0.2) == TG_OK && tg_optim_base_lr(o) == 0.2 &&
              near(tg_optim_lr(o), 0.1, 1e-15),
          "set_lr sets the base lr");
    CHECK(tg_optim_set_lr(o, -1) == TG_EINVAL && strstr(tg_last_error(), "lr"),
          "negative lr rejected");
    CHECK(tg_optim_set_lr(o, NAN) == TG_EINVAL, "NaN lr rejected");
    CHECK(tg_optim_base_lr(o) == 0.2, "lr unchanged after rejected set_lr");
    /* step with no gradient anywhere: nothing changes, counter advances */
    CHECK(tg_optim_step(o) == TG_OK && tg_optim_steps(o) == 3 &&
              tg_tensor_get_flat(x, 0) == 1.0,
          "step without gradients");
    /* a gradient of the wrong dtype: TG_ESTATE, nothing updated, counter unchanged */
    x->grad = tg_zeros(TG_F32, 1, (int64_t[]){3});
    tg_tensor_fill(x->grad, 1);
    CHECK(tg_optim_step(o) == TG_ESTATE && strstr(tg_last_error(), "params[0]"),
          "mismatched gradient rejected: %s", tg_last_error());
    CHECK(tg_optim_steps(o) == 3 && tg_tensor_get_flat(x, 0) == 1.0,
          "failed step changed nothing");
    CHECK(tg_optim_step(NULL) == TG_EINVAL, "step(NULL)");
    tg_optim_free(&o);
    tg_optim_free(&o); /* NULL is fine */
    tg_tensor_free(&x);
}

/* ---- invalid options and parameters ---- */
static void expect_fail(tg_optim *o, const char *what, const char *needle)
{
    CHECK(o == NULL, "%s: accepted", what);
    CHECK(strstr(tg_last_error(), needle) != NULL, "%s: message \"%s\" lacks \"%s\"", what,
          tg_last_error(), needle);
    tg_optim_free(&o);
}

static void test_invalid(void)
{
    tg_tensor *x = vec(TG_F64, X0, 3);
    tg_tensor *ps[1] = {x};
    tg_sgd_opts s = tg_sgd_defaults();
    s.lr = -1;
    expect_fail(tg_sgd_new(1, ps, &s), "sgd lr < 0", "lr");
    s = tg_sgd_defaults();
    s.momentum = 1.0;
    expect_fail(tg_sgd_new(1, ps, &s), "sgd momentum 1", "momentum");
    s = tg_sgd_defaults();
    s.nesterov = true;
    expect_fail(tg_sgd_new(1, ps, &s), "nesterov without momentum", "nesterov");
    s = tg_sgd_defaults();
    s.decay = -0.1;
    expect_fail(tg_sgd_new(1, ps, &s), "sgd decay < 0", "decay");
    tg_adam_opts a = tg_adam_defaults();
    a.beta1 = 1.0;
    expect_fail(tg_adam_new(1, ps, &a), "adam beta1 = 1", "beta1");
    a = tg_adam_defaults();
    a.beta2 = -0.1;
    expect_fail(tg_adam_new(1, ps, &a), "adam beta2 < 0", "beta2");
    a = tg_adam_defaults();
    a.eps = 0;
    expect_fail(tg_adamw_new(1, ps, &a), "adamw eps = 0", "eps");
    a = tg_adamw_defaults();
    a.weight_decay = -1;
    expect_fail(tg_adamw_new(1, ps, &a), "adamw weight_decay < 0", "weight_decay");
    a = tg_adam_defaults();
    a.lr = NAN;
    expect_fail(tg_adam_new(1, ps, &a), "adam lr NaN", "lr");
    tg_rmsprop_opts r = tg_rmsprop_defaults();
    r.rho = 1.0;
    expect_fail(tg_rmsprop_new(1, ps, &r), "rmsprop rho = 1", "rho");
    r = tg_rmsprop_defaults();
    r.eps = -1e-8;
    expect_fail(tg_rmsprop_new(1, ps, &r), "rmsprop eps < 0", "eps");
    tg_adagrad_opts g = tg_adagrad_defaults();
    g.eps = 0;
    expect_fail(tg_adagrad_new(1, ps, &g), "adagrad eps = 0", "eps");
    g = tg_adagrad_defaults();
    g.initial_accumulator = -1;
    expect_fail(tg_adagrad_new(1, ps, &g), "adagrad initial_accumulator < 0",
                "initial_accumulator");

    expect_fail(tg_sgd_new(0, ps, NULL), "n = 0", "n = 0");
    expect_fail(tg_adam_new(1, NULL, NULL), "NULL params", "params is NULL");
    tg_tensor *withnull[2] = {x, NULL};
    expect_fail(tg_rmsprop_new(2, withnull, NULL), "NULL entry", "params[1] is NULL");
    tg_tensor *lab = tg_zeros(TG_I32, 1, (int64_t[]){4});
    tg_tensor *withint[2] = {x, lab};
    expect_fail(tg_adagrad_new(2, withint, NULL), "I32 parameter", "i32");
    CHECK(tg_optim_check_params(2, withint) == TG_EDTYPE, "I32 parameter status");
    tg_tensor *m = tg_zeros(TG_F32, 2, (int64_t[]){3, 4});
    tg_tensor *mt = tg_view_transpose(m, 0, 1);
    expect_fail(tg_sgd_new(1, &mt, NULL), "non-contiguous parameter", "not contiguous");
    CHECK(tg_optim_check_params(1, &mt) == TG_EINVAL, "non-contiguous status");
    tg_tensor *dup[2] = {x, x};
    expect_fail(tg_adam_new(2, dup, NULL), "duplicate parameter", "share memory");
    tg_tensor *mr = tg_view_reshape(m, 1, (int64_t[]){12});
    tg_tensor *alias[2] = {m, mr};
    expect_fail(tg_adam_new(2, alias, NULL), "aliased parameters", "share memory");
    tg_tape *tp = tg_tape_new();
    tg_tensor *tt = tg_tape_zeros(tp, TG_F32, 1, (int64_t[]){3});
    expect_fail(tg_sgd_new(1, &tt, NULL), "tape tensor", "tape tensor");
    CHECK(tg_optim_check_params(1, ps) == TG_OK, "valid params accepted");

    tg_tape_free(&tp);
    tg_tensor_free(&mr);
    tg_tensor_free(&mt);
    tg_tensor_free(&m);
    tg_tensor_free(&lab);
    tg_tensor_free(&x);
}

/* ---- clipping ---- */
static void test_clip(void)
{
    for (int k = 0; k < 2; k++) {
        tg_dtype dt = k ? TG_F32 : TG_F64;
        double tol = k ? 1e-6 : 1e-15;
        tg_tape *tp = tg_tape_new();
        tg_tensor *x = vec(dt, X0, 3), *c = vec(dt, C, 3);
        tg_tensor *y = vec(dt, (const double[]){2, -1}, 2);
        tg_tensor *y0 = vec(dt, (const double[]){0, 0}, 2);
        tg_tensor *z = vec(dt, C, 3); /* no grad: skipped */
        tg_tensor_set_requires_grad(x, true);
        tg_tensor_set_requires_grad(y, true);
        tg_tensor *ps[3] = {x, z, y};

        /* by value, clip 2: g = [1.5, -5, 3] -> [1.5, -2, 2]; g_y = [4, -2] -> [2, -2] */
        quad_backward(tp, x, c);
        quad_backward(tp, y, y0);
        CHECK(tg_clip_grad_value(3, ps, 2.0) == TG_OK, "clip value");
        const double gv[5] = {1.5, -2, 2, 2, -2};
        for (int i = 0; i < 5; i++) {
            double got = i < 3 ? tg_tensor_get_flat(x->grad, i)
                                 : tg_tensor_get_flat(y->grad, i - 3);
            CHECK(got == gv[i], "%s clip value g[%d] = %g, want %g", tg_dtype_name(dt), i, got,
                  gv[i]);
        }

        /* by norm: ||[1.5, -5, 3, 4, -2]|| = sqrt(56.25) = 7.5; max_norm 10: untouched */
        tg_tensor_fill(x->grad, 0);
        tg_tensor_fill(y->grad, 0);
        quad_backward(tp, x, c);
        quad_backward(tp, y, y0);
        double norm = 0;
        CHECK(tg_clip_grad_norm(3, ps, 10.0, &norm) == TG_OK && norm == 7.5,
              "%s norm %g, want 7.5", tg_dtype_name(dt), norm);
        CHECK(tg_tensor_get_flat(x->grad, 1) == -5, "norm below max leaves grads alone");
        /* max_norm 3: scale = 3 / (7.5 + 1e-6) = 0.39999994666667377 */
        const double gn[5] = {0.5999999200000107, -1.9999997333333688, 1.1999998400000214,
                              1.599999786666695, -0.7999998933333475};
        CHECK(tg_clip_grad_norm(3, ps, 3.0, &norm) == TG_OK && norm == 7.5, "clip norm");
        for (int i = 0; i < 5; i++) {
            double got = i < 3 ? tg_tensor_get_flat(x->grad, i)
                                 : tg_tensor_get_flat(y->grad, i - 3);
            CHECK(near(got, gn[i], tol), "%s clip norm g[%d] = %.17g, want %.17g",
                  tg_dtype_name(dt), i, got, gn[i]);
        }
        CHECK(tg_clip_grad_norm(3, ps, 3.0, NULL) == TG_OK, "norm out may be NULL");
        CHECK(tg_clip_grad_value(3, ps, -1) == TG_EINVAL && strstr(tg_last_error(), "clip"),
              "negative clip rejected");
        CHECK(tg_clip_grad_norm(3, ps, NAN, NULL) == TG_EINVAL &&
                  strstr(tg_last_error(), "max_norm"),
              "NaN max_norm rejected");
        tg_tensor_set_flat(y->grad, 0, INFINITY);
        CHECK(tg_clip_grad_norm(3, ps, 3.0, &norm) == TG_ENUMERIC && isinf(norm),
              "infinite norm reported");
        CHECK(near(tg_tensor_get_flat(x->grad, 0), gn[0], tol), "grads untouched on TG_ENUMERIC");
        CHECK(tg_clip_grad_norm(0, NULL, 1.0, &norm) == TG_OK && norm == 0, "empty list");
        tg_tensor_free(&x);
        tg_tensor_free(&c);
        tg_tensor_free(&y);
        tg_tensor_free(&y0);
        tg_tensor_free(&z);
        tg_tape_free(&tp);
    }
}

/* ---- schedules ---- */
static void test_schedules(void)
{
    const struct {
        tg_lr_schedule s;
        int64_t epoch;
        double want;
    } cases[] = {
        {{TG_SCHED_CONSTANT, 0, 0, 0, 0, 0}, 7, 0.1},
        {tg_lr_inverse_time(0.5), 0, 0.1},                   /* 0.1 / (1 + 0.5*0) */
        {tg_lr_inverse_time(0.5), 1, 0.06666666666666667},   /* 0.1 / 1.5 */
        {tg_lr_inverse_time(0.5), 4, 0.03333333333333333},   /* 0.1 / 3 */
        {tg_lr_step(3, 0.5), 0, 0.1},                        /* 0.1 * 0.5^0 */
        {tg_lr_step(3, 0.5), 2, 0.1},                        /* floor(2/3) = 0 */
        {tg_lr_step(3, 0.5), 3, 0.05},                       /* floor(3/3) = 1 */
        {tg_lr_step(3, 0.5), 5, 0.05},
        {tg_lr_step(3, 0.5), 7, 0.025},                      /* floor(7/3) = 2 */
        {tg_lr_exponential(0.9), 0, 0.1},
        {tg_lr_exponential(0.9), 3, 0.0729},                 /* 0.1 * 0.9^3 */
        {tg_lr_cosine(10, 0.01), 0, 0.1},
        {tg_lr_cosine(10, 0.01), 2, 0.09140576474687263},    /* .01 + .09 (1 + cos(.2 pi)) / 2 */
        {tg_lr_cosine(10, 0.01), 5, 0.055},                  /* .01 + .09 (1 + cos(.5 pi)) / 2 */
        {tg_lr_cosine(10, 0.01), 10, 0.01},                  /* eta_min at T_max */
        {tg_lr_cosine(10, 0.01), 15, 0.01},                  /* stays there */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double got = tg_lr_schedule_at(&cases[i].s, cases[i].epoch, 0.1);
        CHECK(near(got, cases[i].want, 1e-14), "schedule case %zu (kind %d, epoch %lld): %.17g, "
              "want %.17g", i, (int)cases[i].s.kind, (long long)cases[i].epoch, got,
              cases[i].want);
    }
    tg_lr_schedule bad = tg_lr_step(0, 0.5);
    CHECK(isnan(tg_lr_schedule_at(&bad, 1, 0.1)) && strstr(tg_last_error(), "step_size"),
          "step_size 0 rejected");
    bad = tg_lr_cosine(0, 0);
    CHECK(isnan(tg_lr_schedule_at(&bad, 1, 0.1)) && strstr(tg_last_error(), "t_max"),
          "t_max 0 rejected");
    tg_lr_schedule ok = tg_lr_exponential(0.9);
    CHECK(isnan(tg_lr_schedule_at(&ok, -1, 0.1)) && strstr(tg_last_error(), "epoch"),
          "negative epoch rejected");

    /* a schedule drives an optimizer between epochs */
    tg_tensor *x = vec(TG_F64, X0, 3);
    tg_optim *o = tg_sgd_new(1, &x, NULL);
    tg_lr_schedule st = tg_lr_step(2, 0.1);
    for (int64_t e = 0; e < 5; e++)
        tg_optim_set_lr(o, tg_lr_schedule_at(&st, e, 1.0));
    CHECK(near(tg_optim_lr(o), 0.01, 1e-15), "optimizer lr after step schedule epoch 4: %g",
          tg_optim_lr(o));
    tg_optim_free(&o);
    tg_tensor_free(&x);
}

static void test_plateau(void)
{
    tg_plateau p = tg_plateau_defaults();
    p.factor = 0.5;
    p.patience = 2;
    p.threshold = 0.1; /* relative: better means metric < best * 0.9 */
    p.min_lr = 0.02;
    p.cooldown = 1;
    /* hand trace (PyTorch ReduceLROnPlateau, mode min):
     *  1.0 best | .95 .93 bad 1,2 (not below 0.9) | .99 bad 3 > 2: lr .05, cooldown 1 |
     *  .99 cooldown (bad reset) | .99 .99 bad 1,2 | .99 bad 3: lr .025 | 0.5 best, cooldown |
     *  .5 .5 bad 1,2 | .5 bad 3: lr max(.0125, .02) = .02 | cooldown, bad 1, 2, 3: .02 stays */
    const double metric[16] = {1.0, 0.95, 0.93, 0.99, 0.99, 0.99, 0.99, 0.99,
                               0.5, 0.5,  0.5,  0.5,  0.5,  0.5,  0.5,  0.5};
    const double want[16] = {0.1,   0.1,   0.1,   0.05,  0.05, 0.05, 0.05, 0.025,
                             0.025, 0.025, 0.025, 0.02, 0.02, 0.02, 0.02, 0.02};
    double lr = 0.1;
    for (int i = 0; i < 16; i++) {
        lr = tg_plateau_update(&p, metric[i], lr);
        CHECK(near(lr, want[i], 1e-15), "plateau epoch %d: lr %g, want %g", i, lr, want[i]);
    }
    CHECK(p.reductions == 3 && p.best == 0.5, "plateau reductions %lld best %g",
          (long long)p.reductions, p.best);
    tg_plateau q = tg_plateau_defaults();
    q.factor = 1.0;
    CHECK(isnan(tg_plateau_update(&q, 1.0, 0.1)) && strstr(tg_last_error(), "factor"),
          "factor 1 rejected");
    /* absolute threshold */
    tg_plateau a = tg_plateau_defaults();
    a.patience = 0;
    a.threshold = 0.1;
    a.threshold_abs = true;
    lr = tg_plateau_update(&a, 1.0, 1.0);
    lr = tg_plateau_update(&a, 0.95, lr); /* not below 1.0 - 0.1: bad 1 > 0 -> 0.1 */
    CHECK(near(lr, 0.1, 1e-15), "absolute threshold: lr %g", lr);
}

/* ---- early stopping ---- */
static void test_early_stop(void)
{
    tg_tensor *x = tg_zeros(TG_F64, 1, (int64_t[]){2});
    tg_tensor *w = tg_zeros(TG_F32, 2, (int64_t[]){2, 2});
    tg_tensor *ps[2] = {x, w};
    tg_early_stop *e = tg_early_stop_new(2, ps, 2, 0.01);
    CHECK(e != NULL, "early stop creation: %s", tg_last_error());
    /* epoch i sets the parameters to i + 1 and reports loss[i]; improvement means
     * loss < best - 0.01: 1.0 yes, 0.8 yes, 0.795 no (wait 1), 0.85 no (wait 2 = patience:
     * stop at epoch 3); best is epoch 1 (values 2) */
    const double loss[4] = {1.0, 0.8, 0.795, 0.85};
    const bool stop[4] = {false, false, false, true};
    for (int i = 0; e && i < 4; i++) {
        tg_tensor_fill(x, i + 1);
        tg_tensor_fill(w, i + 1);
        long before = n_allocs;
        bool s = tg_early_stop_update(e, loss[i]);
        CHECK(n_allocs == before, "early stop update allocated");
        CHECK(s == stop[i], "early stop epoch %d: %d, want %d", i, s, stop[i]);
    }
    CHECK(tg_early_stop_best(e) == 0.8 && tg_early_stop_best_epoch(e) == 1 &&
              tg_early_stop_wait(e) == 2,
          "best %g at %lld", tg_early_stop_best(e), (long long)tg_early_stop_best_epoch(e));
    CHECK(tg_early_stop_restore(e) == TG_OK, "restore");
    for (int i = 0; i < 4; i++) {
        CHECK(i >= 2 || tg_tensor_get_flat(x, i) == 2.0, "restored x[%d] = %g", i,
              tg_tensor_get_flat(x, i));
        CHECK(tg_tensor_get_flat(w, i) == 2.0, "restored w[%d] = %g", i,
              tg_tensor_get_flat(w, i));
    }
    tg_early_stop_free(&e);
    CHECK(e == NULL, "early stop free sets NULL");

    /* an improvement resets the wait: 1.0 | 1.0 wait 1 | 0.5 best | 0.6 wait 1 | 0.7 stop */
    e = tg_early_stop_new(1, ps, 2, 0.0);
    const double l2[5] = {1.0, 1.0, 0.5, 0.6, 0.7};
    const bool s2[5] = {false, false, false, false, true};
    for (int i = 0; e && i < 5; i++) {
        tg_tensor_fill(x, 10 * i);
        CHECK(tg_early_stop_update(e, l2[i]) == s2[i], "early stop (reset) epoch %d", i);
    }
    tg_early_stop_restore(e);
    CHECK(tg_tensor_get_flat(x, 0) == 20.0, "restored the epoch-2 values, got %g",
          tg_tensor_get_flat(x, 0));
    tg_early_stop_free(&e);

    /* restore before any improvement gives the values at creation */
    tg_tensor_fill(x, 7);
    e = tg_early_stop_new(1, ps, 1, 0.0);
    tg_tensor_fill(x, 8);
    tg_early_stop_restore(e);
    CHECK(tg_tensor_get_flat(x, 1) == 7.0 && tg_early_stop_best_epoch(e) == -1,
          "restore without improvement");
    tg_early_stop_free(&e);

    CHECK(tg_early_stop_new(2, ps, 0, 0.0) == NULL && strstr(tg_last_error(), "patience"),
          "patience 0 rejected");
    CHECK(tg_early_stop_new(2, ps, 1, -1.0) == NULL && strstr(tg_last_error(), "min_delta"),
          "negative min_delta rejected");
    tg_tensor_free(&x);
    tg_tensor_free(&w);
}

/* Every k-th allocation fails in turn: creation returns NULL with TG_ENOMEM's message
 * and leaks nothing, until it succeeds. */
static void test_oom(void)
{
    tg_tensor *x = vec(TG_F64, X0, 3), *y = vec(TG_F32, X0, 3);
    tg_tensor *ps[2] = {x, y};
    for (int kind = 0; kind < 6; kind++) {
        bool made = false;
        for (long k = 1; k < 64 && !made; k++) {
            long live = n_live;
            n_allocs = 0;
            fail_at = k;
            tg_optim *o = NULL;
            tg_early_stop *e = NULL;
            switch (kind) {
            case 0: o = tg_sgd_new(2, ps, &(tg_sgd_opts){.lr = 0.1, .momentum = 0.9}); break;
            case 1: o = tg_adagrad_new(2, ps, NULL); break;
            case 2: o = tg_rmsprop_new(2, ps, NULL); break;
            case 3: o = tg_adam_new(2, ps, NULL); break;
            case 4: o = tg_adamw_new(2, ps, NULL); break;
            default: e = tg_early_stop_new(2, ps, 3, 0.0); break;
            }
            fail_at = 0;
            made = o || e;
            if (!made) {
                CHECK(strstr(tg_last_error(), "out of memory") != NULL,
                      "kind %d, failing allocation %ld: message \"%s\"", kind, k,
                      tg_last_error());
                CHECK(n_live == live, "kind %d, failing allocation %ld: %ld blocks leaked",
                      kind, k, n_live - live);
            }
            tg_optim_free(&o);
            tg_early_stop_free(&e);
            CHECK(n_live == live, "kind %d: free leaves %ld blocks", kind, n_live - live);
        }
        CHECK(made, "kind %d never succeeded", kind);
    }
    tg_tensor_free(&x);
    tg_tensor_free(&y);
}

int main(void)
{
    tg_set_allocator(&(tg_allocator){count_alloc, count_free, NULL});
    test_reference_steps();
    test_clones_and_fused_zero();
    test_state();
    test_lr_and_errors();
    test_invalid();
    test_clip();
    test_schedules();
    test_plateau();
    test_early_stop();
    test_oom();
    return check_summary();
}
