/* Autograd behaviour: second derivatives and Hessian-vector products against finite
 * differences, zero heap allocations per training step, gradient accumulation, grad
 * mode, detach, seeds for non-scalar roots. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tapegrad.h"
#include "check.h"


/* ---------------------------------------------------- second derivatives */

typedef tg_tensor *(*scalar_fn)(tg_tape *t, tg_tensor *x, void *ctx);

/* gradient of f at x (persistent copy) */
static tg_tensor *grad_at(scalar_fn f, tg_tensor *x, void *ctx)
{
    tg_tape *t = tg_tape_new();
    tg_tensor *g = NULL;
    tg_tensor *y = f(t, x, ctx);
    if (y && tg_grad(t, y, NULL, 1, &x, &g, NULL) == TG_OK)
        g = tg_tensor_clone(g);
    else
        g = NULL;
    tg_tape_free(&t);
    return g;
}

/* max |Hv - (grad(x + eps v) - grad(x - eps v)) / 2eps| relative to |Hv|; Hv from
 * differentiating <grad f, v> with create_graph */
static double hvp_error(scalar_fn f, tg_tensor *x, tg_tensor *v, void *ctx)
{
    tg_tape *t = tg_tape_new();
    tg_backward_opts o = tg_backward_defaults();
    o.create_graph = true;
    tg_tensor *g = NULL, *hv = NULL;
    tg_tensor *y = f(t, x, ctx);
    if (!y || tg_grad(t, y, NULL, 1, &x, &g, &o) != TG_OK) {
        fprintf(stderr, "hvp: first gradient failed: %s\n", tg_tape_error(t));
        tg_tape_free(&t);
        return INFINITY;
    }
    tg_tensor *gv = tg_sum(t, tg_mul(t, g, v), 0, NULL, false);
    if (tg_grad(t, gv, NULL, 1, &x, &hv, NULL) != TG_OK) {
        fprintf(stderr, "hvp: second gradient failed: %s\n", tg_tape_error(t));
        tg_tape_free(&t);
        return INFINITY;
    }
    int64_t n = tg_tensor_numel(x);
    double eps = 1e-5, worst = 0, scale = 1e-8;
    tg_tensor *x0 = tg_tensor_clone(x);
    for (int64_t i = 0; i < n; i++)
        tg_tensor_set_flat(x, i, tg_tensor_get_flat(x0, i) + eps * tg_tensor_get_flat(v, i));
    tg_tensor *gp = grad_at(f, x, ctx);
    for (int64_t i = 0; i < n; i++)
        tg_tensor_set_flat(x, i, tg_tensor_get_flat(x0, i) - eps * tg_tensor_get_flat(v, i));
    tg_tensor *gm = grad_at(f, x, ctx);
    tg_tensor_copy(x, x0);
    for (int64_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(tg_tensor_get_flat(hv, i)));
    for (int64_t i = 0; gp && gm && i < n; i++) {
        double fd = (tg_tensor_get_flat(gp, i) - tg_tensor_get_flat(gm, i)) / (2 * eps);
        worst = fmax(worst, fabs(fd - tg_tensor_get_flat(hv, i)) / scale);
    }
    if (!gp || !gm)
        worst = INFINITY;
    tg_tensor_free(&gp);
    tg_tensor_free(&gm);
    tg_tensor_free(&x0);
    tg_tape_free(&t);
    return worst;
}

static tg_tensor *sum_tanh_cubed(tg_tape *t, tg_tensor *x, void *ctx)
{
    (void)ctx;
    return tg_sum(t, tg_pow_scalar(t, tg_tanh(t, x), 3.0), 0, NULL, false);
}

typedef struct {
    tg_tensor *in, *w2, *b1, *target;
} mlp_ctx;

/* mean squared error of a 1-hidden-layer MLP as a function of the first weight */
static tg_tensor *mlp_loss(tg_tape *t, tg_tensor *w1, void *vctx)
{
    mlp_ctx *c = vctx;
    tg_tensor *h = tg_sigmoid(t, tg_add(t, tg_matmul(t, c->in, w1), c->b1));
    tg_tensor *out = tg_matmul(t, tg_softplus(t, h), c->w2);
    tg_tensor *d = tg_sub(t, out, c->target);
    return tg_mean(t, tg_mul(t, d, d), 0, NULL, false);
}

static void test_second_derivative(void)
{
    tg_tensor *x = tg_rand_uniform(TG_F64, 1, (int64_t[]){6}, -1.5, 1.5, 3, 0);
    tg_tensor *v = tg_ones(TG_F64, 1, (int64_t[]){6});
    tg_tensor_set_requires_grad(x, true);
    /* f = sum tanh^3 is separable: H is diagonal and H·1 is the vector of d²f/dx² */
    double err = hvp_error(sum_tanh_cubed, x, v, NULL);
    CHECK(err < 1e-6, "d2/dx2 sum(tanh(x)^3): relative error %g", err);
    /* and against the closed form: d/dx 3 t^2 (1-t^2) = (6t - 12 t^3)(1 - t^2) */
    tg_tape *t = tg_tape_new();
    tg_backward_opts o = {.create_graph = true};
    tg_tensor *g = NULL, *h = NULL;
    tg_grad(t, sum_tanh_cubed(t, x, NULL), NULL, 1, &x, &g, &o);
    tg_grad(t, tg_sum(t, g, 0, NULL, false), NULL, 1, &x, &h, NULL);
    double worst = 0;
    for (int64_t i = 0; h && i < 6; i++) {
        double th = tanh(tg_tensor_get_flat(x, i));
        double want = (6 * th - 12 * th * th * th) * (1 - th * th);
        worst = fmax(worst, fabs(tg_tensor_get_flat(h, i) - want));
    }
    CHECK(h && worst < 1e-12, "closed-form second derivative: error %g", worst);
    tg_tape_free(&t);
    tg_tensor_free(&x);
    tg_tensor_free(&v);
}

static void test_mlp_hvp(void)
{
    mlp_ctx c = {
        .in = tg_rand_normal(TG_F64, 2, (int64_t[]){5, 3}, 0, 1, 11, 0),
        .w2 = tg_rand_normal(TG_F64, 2, (int64_t[]){4, 2}, 0, 0.5, 11, 1),
        .b1 = tg_rand_normal(TG_F64, 1, (int64_t[]){4}, 0, 0.1, 11, 2),
        .target = tg_rand_normal(TG_F64, 2, (int64_t[]){5, 2}, 0, 1, 11, 3),
    };
    tg_tensor *w1 = tg_rand_normal(TG_F64, 2, (int64_t[]){3, 4}, 0, 0.5, 11, 4);
    tg_tensor *v = tg_rand_normal(TG_F64, 2, (int64_t[]){3, 4}, 0, 1, 11, 5);
    tg_tensor_set_requires_grad(w1, true);
    double err = hvp_error(mlp_loss, w1, v, &c);
    CHECK(err < 1e-5, "MLP Hessian-vector product: relative error %g", err);
    tg_tensor_free(&c.in);
    tg_tensor_free(&c.w2);
    tg_tensor_free(&c.b1);
    tg_tensor_free(&c.target);
    tg_tensor_free(&w1);
    tg_tensor_free(&v);
}

/* ------------------------------------------------ zero allocations per step */

static long n_allocs;
static void *count_alloc(size_t n, void *ctx)
{
    (void)ctx;
    n_allocs++;
    return malloc(n);
}
static void count_free(void *p, void *ctx)
{
    (void)ctx;
    free(p);
}

static void sgd(tg_tensor *p, double lr)
{
    float *w = p->data;
    const float *g = p->grad->data;
    for (int64_t i = 0; i < tg_tensor_numel(p); i++)
        w[i] -= (float)lr * g[i];
    tg_tensor_zero_grad(p);
}

static void test_zero_alloc_loop(void)
{
    tg_allocator a = {count_alloc, count_free, NULL};
    tg_set_allocator(&a);
    tg_tensor *x = tg_rand_normal(TG_F32, 2, (int64_t[]){64, 2}, 0, 1, 5, 0);
    tg_tensor *y = tg_rand_normal(TG_F32, 2, (int64_t[]){64, 3}, 0, 1, 5, 1);
    tg_tensor *w1 = tg_rand_normal(TG_F32, 2, (int64_t[]){2, 32}, 0, 0.5, 5, 2);
    tg_tensor *b1 = tg_zeros(TG_F32, 1, (int64_t[]){32});
    tg_tensor *w2 = tg_rand_normal(TG_F32, 2, (int64_t[]){32, 3}, 0, 0.5, 5, 3);
    tg_tensor *params[] = {w1, b1, w2};
    for (int i = 0; i < 3; i++)
        tg_tensor_set_requires_grad(params[i], true);
    tg_tape *t = tg_tape_new();
    long before = 0;
    double first_loss = 0, last_loss = 0;
    for (int step = 0; step < 30; step++) {
        if (step == 5)
            before = n_allocs;
        tg_tape_reset(t);
        tg_tensor *h = tg_relu(t, tg_add(t, tg_matmul(t, x, w1), b1));
        tg_tensor *d = tg_sub(t, tg_matmul(t, h, w2), y);
        tg_tensor *loss = tg_mean(t, tg_mul(t, d, d), 0, NULL, false);
        if (tg_backward(t, loss) != TG_OK) {
            CHECK(false, "backward failed: %s", tg_tape_error(t));
            break;
        }
        last_loss = tg_tensor_get_flat(loss, 0);
        if (step == 0)
            first_loss = last_loss;
        for (int i = 0; i < 3; i++)
            sgd(params[i], 0.05);
    }
    long steady = n_allocs - before;
    tg_set_allocator(NULL);
    CHECK(steady == 0, "steady-state steps made %ld heap allocations (want 0)", steady);
    CHECK(last_loss < first_loss, "loss did not decrease: %g -> %g", first_loss, last_loss);
    tg_tape_free(&t);
    for (int i = 0; i < 3; i++)
        tg_tensor_free(&params[i]);
    tg_tensor_free(&x);
    tg_tensor_free(&y);
}

/* the benchmark workloads' step (model with dropout, fused loss, optimizer) allocates
 * nothing in steady state either */
static void test_zero_alloc_workloads(void)
{
    tg_allocator a = {count_alloc, count_free, NULL};
    tg_set_allocator(&a);
    for (int variant = 0; variant < 3; variant++) {
        tg_model *m = tg_model_new(TG_F32, 1);
        tg_model_add_dense(m, 20, 64, NULL);
        tg_model_add_activation(m, TG_ACT_RELU, 0);
        if (variant == 1)
            tg_model_add_dropout(m, 0.2);
        tg_model_add_dense(m, 64, 5, NULL);
        tg_tensor *x = tg_rand_normal(TG_F32, 2, (int64_t[]){32, 20}, 0, 1, 2, 0);
        tg_tensor *y = tg_zeros(TG_I32, 1, (int64_t[]){32});
        for (int64_t i = 0; i < 32; i++)
            tg_tensor_set_flat(y, i, (double)(i % 5));
        tg_optim *opt = NULL;
        if (variant == 2) {
            tg_sgd_opts o = tg_sgd_defaults();
            o.momentum = 0.9;
            opt = tg_sgd_new(tg_model_param_count(m), tg_model_params(m), &o);
        } else {
            opt = tg_adam_new(tg_model_param_count(m), tg_model_params(m), NULL);
        }
        tg_tape *t = tg_tape_new();
        long before = 0;
        for (int step = 0; step < 20; step++) {
            if (step == 5)
                before = n_allocs;
            tg_optim_zero_grad(opt);
            tg_tape_reset(t);
            tg_tensor *loss = tg_softmax_cross_entropy(t, tg_model_forward(m, t, x, true), y, NULL);
            if (tg_backward(t, loss) != TG_OK || tg_optim_step(opt) != TG_OK) {
                CHECK(false, "variant %d: %s", variant, tg_tape_error(t));
                break;
            }
        }
        CHECK(n_allocs == before, "variant %d: %ld allocations in 15 steady-state steps", variant,
              n_allocs - before);
        tg_tape_free(&t);
        tg_optim_free(&opt);
        tg_model_free(&m);
        tg_tensor_free(&x);
        tg_tensor_free(&y);
    }
    tg_set_allocator(NULL);
}

/* gather / scatter-add along the last axis against loops, with repeated indices */
static void test_gather_scatter(void)
{
    tg_tensor *x = tg_rand_normal(TG_F64, 3, (int64_t[]){2, 3, 5}, 0, 1, 4, 0);
    tg_tensor *idx = tg_zeros(TG_I32, 3, (int64_t[]){2, 3, 4});
    for (int64_t i = 0; i < 24; i++)
        tg_tensor_set_flat(idx, i, (double)((i * 3 + i / 5) % 5));
    tg_tensor_set_requires_grad(x, true);
    tg_tape *t = tg_tape_new();
    tg_tensor *g = tg_gather_last(t, x, idx);
    tg_tensor *s = tg_scatter_add_last(t, g, idx, 5);
    bool ok = g && s && g->shape[2] == 4 && s->shape[2] == 5;
    double want[30] = {0};
    for (int64_t r = 0; ok && r < 6; r++)
        for (int64_t q = 0; q < 4; q++) {
            int64_t k = (int64_t)tg_tensor_get_flat(idx, r * 4 + q);
            double v = tg_tensor_get_flat(x, r * 5 + k);
            ok = ok && tg_tensor_get_flat(g, r * 4 + q) == v;
            want[r * 5 + k] += v;
        }
    for (int64_t i = 0; ok && i < 30; i++)
        ok = fabs(tg_tensor_get_flat(s, i) - want[i]) < 1e-12;
    CHECK(ok, "gather_last / scatter_add_last values: %s", tg_tape_error(t));
    /* d sum(gather(x)) / dx counts how often each element is picked */
    CHECK(tg_backward(t, tg_sum(t, g, 0, NULL, false)) == TG_OK, "backward: %s", tg_tape_error(t));
    double cnt[30] = {0};
    for (int64_t i = 0; i < 24; i++)
        cnt[(i / 4) * 5 + (int64_t)tg_tensor_get_flat(idx, i)] += 1;
    ok = x->grad != NULL;
    for (int64_t i = 0; ok && i < 30; i++)
        ok = tg_tensor_get_flat(x->grad, i) == cnt[i];
    CHECK(ok, "gather_last gradient counts the picks");
    tg_tape_free(&t);
    tg_tensor_free(&x);
    tg_tensor_free(&idx);
}

/* convolutions without input channels give the bias (or zero) and an empty weight
 * gradient; without output channels an empty output */
static void test_conv_empty_channels(void)
{
    tg_tensor *x = tg_ones(TG_F32, 4, (int64_t[]){2, 0, 5, 5});
    tg_tensor *w = tg_ones(TG_F32, 4, (int64_t[]){3, 0, 3, 3});
    tg_tensor *b = tg_full(TG_F32, 1, (int64_t[]){3}, 0.5);
    tg_tensor *x2 = tg_ones(TG_F32, 4, (int64_t[]){2, 2, 5, 5});
    tg_tensor *w0 = tg_ones(TG_F32, 4, (int64_t[]){0, 2, 3, 3});
    tg_tensor_set_requires_grad(w, true);
    tg_tensor_set_requires_grad(b, true);
    tg_tape *t = tg_tape_new();
    tg_tensor *y = tg_conv2d(t, x, w, b, NULL), *z = tg_conv2d(t, x, w, NULL, NULL);
    bool ok = y && z && y->shape[1] == 3 && y->shape[2] == 3;
    for (int64_t i = 0; ok && i < tg_tensor_numel(y); i++)
        ok = tg_tensor_get_flat(y, i) == 0.5 && tg_tensor_get_flat(z, i) == 0;
    CHECK(ok, "no input channels: the bias / zero (%s)", tg_tape_error(t));
    CHECK(tg_backward(t, tg_sum(t, y, 0, NULL, false)) == TG_OK && b->grad &&
              tg_tensor_get_flat(b->grad, 0) == 18 && w->grad && tg_tensor_numel(w->grad) == 0,
          "no input channels: bias gradient 2*3*3 each, empty weight gradient");
    tg_tape_reset(t);
    tg_tensor *e = tg_conv2d(t, x2, w0, NULL, NULL);
    CHECK(e && e->shape[1] == 0 && tg_tensor_numel(e) == 0, "no output channels: empty output");
    tg_tape_free(&t);
    tg_tensor *all[] = {x, w, b, x2, w0};
    for (int i = 0; i < 5; i++)
        tg_tensor_free(&all[i]);
}

/* A LeNet-like training step (conv-ReLU-maxpool twice, dense layers, softmax-CE, Adam)
 * built from the ops, batch 32 of 1x28x28: large enough that the convolution's batched
 * GEMMs, im2col and pooling run on several threads when 2 are set. Runs `steps` steps
 * with `threads` threads; returns the hash of the parameters after them (0 on failure)
 * and the allocations made by the steps after the 5th in *steady. */
static uint64_t lenet_steps(int threads, int steps, long *steady)
{
    static const int64_t shapes[8][4] = {{6, 1, 5, 5}, {6}, {16, 6, 5, 5}, {16}, {256, 32},
                                         {32},         {32, 10}, {10}};
    static const int nd[8] = {4, 1, 4, 1, 2, 1, 2, 1};
    tg_set_num_threads(threads);
    tg_allocator a = {count_alloc, count_free, NULL};
    tg_set_allocator(&a);
    tg_tensor *p[8];
    for (int i = 0; i < 8; i++) {
        p[i] = tg_rand_uniform(TG_F32, nd[i], shapes[i], -0.2, 0.2, 9, (uint64_t)i);
        tg_tensor_set_requires_grad(p[i], true);
    }
    tg_tensor *x = tg_rand_normal(TG_F32, 4, (int64_t[]){32, 1, 28, 28}, 0, 1, 9, 10);
    tg_tensor *y = tg_zeros(TG_I32, 1, (int64_t[]){32});
    for (int64_t i = 0; i < 32; i++)
        tg_tensor_set_flat(y, i, (double)(i % 10));
    tg_optim *opt = tg_adam_new(8, p, NULL);
    tg_tape *t = tg_tape_new();
    const int64_t k2[2] = {2, 2};
    long before = 0;
    double first = 0, last = 0;
    bool ok = opt && t;
    for (int step = 0; ok && step < steps; step++) {
        if (step == 5)
            before = n_allocs;
        tg_optim_zero_grad(opt);
        tg_tape_reset(t);
        tg_tensor *h = tg_max_pool2d(t, tg_relu(t, tg_conv2d(t, x, p[0], p[1], NULL)), k2, NULL, NULL);
        h = tg_max_pool2d(t, tg_relu(t, tg_conv2d(t, h, p[2], p[3], NULL)), k2, NULL, NULL);
        h = tg_relu(t, tg_dense(t, tg_flatten(t, h, 1), p[4], p[5]));
        tg_tensor *loss = tg_softmax_cross_entropy(t, tg_dense(t, h, p[6], p[7]), y, NULL);
        ok = tg_backward(t, loss) == TG_OK && tg_optim_step(opt) == TG_OK;
        CHECK(ok, "conv step %d: %s", step, tg_tape_error(t));
        last = ok ? tg_tensor_get_flat(loss, 0) : 0;
        first = step == 0 ? last : first;
    }
    *steady = n_allocs - before;
    tg_set_allocator(NULL);
    CHECK(ok && last < first, "conv steps: loss did not decrease: %g -> %g", first, last);
    uint64_t hash = 0;
    for (int i = 0; ok && i < 8; i++)
        hash = hash * 31 + tg_tensor_hash(p[i]);
    tg_tape_free(&t);
    tg_optim_free(&opt);
    for (int i = 0; i < 8; i++)
        tg_tensor_free(&p[i]);
    tg_tensor_free(&x);
    tg_tensor_free(&y);
    tg_set_num_threads(1);
    return hash;
}

/* the conv step allocates nothing in steady state, and gives the same bits on 1 and 2
 * threads */
static void test_conv_step(void)
{
    long steady[2];
    uint64_t h1 = lenet_steps(1, 12, &steady[0]), h2 = lenet_steps(2, 12, &steady[1]);
    CHECK(steady[0] == 0 && steady[1] == 0,
          "conv step: %ld / %ld heap allocations in 7 steady-state steps (1 / 2 threads)",
          steady[0], steady[1]);
    CHECK(h1 != 0 && h1 == h2, "conv step: parameters differ between 1 and 2 threads");
}

/* ------------------------------------------------------------- semantics */

static void test_accumulation_and_modes(void)
{
    tg_tensor *x = tg_tensor_from(TG_F64, 1, (int64_t[]){3}, (double[]){1, 2, 3});
    tg_tensor_set_requires_grad(x, true);
    tg_tape *t = tg_tape_new();
    tg_tensor *y = tg_sum(t, tg_mul(t, x, x), 0, NULL, false); /* dy/dx = 2x */
    CHECK(tg_backward(t, y) == TG_OK, "backward: %s", tg_tape_error(t));
    CHECK(x->grad && tg_tensor_get_flat(x->grad, 2) == 6.0, "grad of x^2 at 3 is 6");
    CHECK(tg_backward(t, y) == TG_OK, "second backward on the same tape");
    CHECK(x->grad && tg_tensor_get_flat(x->grad, 2) == 12.0, "gradients accumulate: 12");
    tg_tensor_zero_grad(x);
    CHECK(tg_tensor_get_flat(x->grad, 0) == 0.0, "zero_grad");

    /* grad mode off: nothing recorded, result requires no grad */
    tg_tape_reset(t);
    tg_tape_set_grad_mode(t, false);
    tg_tensor *z = tg_mul(t, x, x);
    CHECK(tg_tape_nodes(t) == 0 && !tg_tensor_requires_grad(z), "grad mode off records nothing");
    CHECK(tg_backward(t, tg_sum(t, z, 0, NULL, false)) == TG_ESTATE,
          "backward of an unrecorded result is an error");
    tg_tape_reset(t);
    tg_tape_set_grad_mode(t, true);

    /* detach cuts the graph: d/dx [x * detach(x)] = detach(x) */
    tg_tensor *w = tg_sum(t, tg_mul(t, x, tg_detach(t, x)), 0, NULL, false);
    CHECK(tg_backward(t, w) == TG_OK, "backward through detach");
    CHECK(tg_tensor_get_flat(x->grad, 1) == 2.0, "detach: gradient is x, not 2x (got %g)",
          tg_tensor_get_flat(x->grad, 1));

    /* explicit seed for a non-scalar root */
    tg_tensor_zero_grad(x);
    tg_tape_reset(t);
    tg_tensor *v = tg_mul_scalar(t, x, 3.0);
    tg_tensor *seed = tg_tape_full(t, TG_F64, 1, (int64_t[]){3}, 0.5);
    CHECK(tg_backward_ex(t, v, seed, NULL) == TG_OK, "seeded backward");
    CHECK(tg_tensor_get_flat(x->grad, 0) == 1.5, "seeded gradient 3 * 0.5");
    tg_tape_reset(t);
    CHECK(tg_backward(t, tg_mul_scalar(t, x, 3.0)) == TG_ESHAPE,
          "non-scalar root without a seed is TG_ESHAPE");
    CHECK(strstr(tg_tape_error(t), "seed") != NULL, "message mentions the seed: %s",
          tg_tape_error(t));

    /* reset keeps memory: the same step again does not raise the high-water mark */
    tg_tape_reset(t);
    tg_sum(t, tg_exp(t, x), 0, NULL, false);
    size_t hw = tg_tape_arena_high_water(t);
    tg_tape_reset(t);
    CHECK(tg_tape_arena_used(t) == 0 && tg_tape_nodes(t) == 0, "reset empties the tape");
    tg_sum(t, tg_exp(t, x), 0, NULL, false);
    CHECK(tg_tape_arena_high_water(t) == hw, "high-water mark stable across resets");
    tg_tape_free(&t);
    tg_tensor_free(&x);
}

/* results never depend on the thread count: a dense layer (products split across
 * threads), a large elementwise chain and the gradients hash the same with 1 and 2
 * threads */
static void test_threads_deterministic(void)
{
    uint64_t h[2][2];
    for (int k = 0; k < 2; k++) {
        tg_set_num_threads(k + 1);
        tg_tensor *x = tg_rand_normal(TG_F32, 2, (int64_t[]){256, 512}, 0, 1, 77, 0);
        tg_tensor_set_requires_grad(x, true);
        tg_tape *t = tg_tape_new();
        /* [256,512] x [512,192] is large enough to be split across threads */
        tg_tensor *w = tg_rand_normal(TG_F32, 2, (int64_t[]){512, 192}, 0, 0.05, 77, 1);
        tg_tensor *d = tg_dense(t, x, w, NULL);
        tg_tensor *y = tg_mul(t, tg_gelu(t, d), tg_sigmoid(t, tg_add_scalar(t, d, 0.5)));
        CHECK(tg_backward(t, tg_sum(t, y, 0, NULL, false)) == TG_OK, "backward");
        h[k][0] = tg_tensor_hash(y);
        h[k][1] = tg_tensor_hash(x->grad);
        tg_tape_free(&t);
        tg_tensor_free(&x);
        tg_tensor_free(&w);
    }
    tg_set_num_threads(1);
    CHECK(h[0][0] == h[1][0] && h[0][1] == h[1][1], "1 and 2 threads give the same bits");
}

static void test_anomaly_mode(void)
{
    tg_tensor *x = tg_tensor_from(TG_F64, 1, (int64_t[]){3}, (double[]){1, -2, 3});
    tg_tensor *w = tg_tensor_from(TG_F64, 1, (int64_t[]){3}, (double[]){0.5, 0, 2});
    tg_tensor_set_requires_grad(x, true);
    tg_tensor_set_requires_grad(w, true);
    tg_tensor_set_label(x, "x");
    tg_tensor_set_label(w, "W");
    tg_tape *t = tg_tape_new();

    /* off by default: NaN flows silently */
    tg_tensor *y = tg_log(t, x);
    CHECK(y && !tg_tape_failed(t), "anomaly mode is off by default");

    tg_tape_reset(t);
    CHECK(!tg_tape_set_anomaly_mode(t, true), "previous mode was off");
    tg_tensor *h = tg_mul(t, x, w);
    y = tg_log(t, h);
    CHECK(!y && tg_tape_status(t) == TG_ENUMERIC, "log of a negative caught in forward");
    CHECK(strstr(tg_tape_error(t), "'log'") && strstr(tg_tape_error(t), "position 1"),
          "message names op and position: %s", tg_tape_error(t));

    /* backward anomaly: d sqrt(u)/du at u = 0 is infinite */
    tg_tape_reset(t);
    y = tg_sum(t, tg_sqrt(t, tg_mul(t, w, w)), 0, NULL, false);
    CHECK(y && tg_backward(t, y) == TG_ENUMERIC, "infinite gradient caught in backward");
    CHECK(strstr(tg_tape_error(t), "backward of op 'sqrt'"), "names the backward op: %s",
          tg_tape_error(t));

    /* saved-tensor check: W overwritten between forward and backward */
    tg_tape_reset(t);
    y = tg_sum(t, tg_mul(t, x, w), 0, NULL, false);
    tg_tensor_set_flat(w, 0, 7.0);
    CHECK(tg_backward(t, y) == TG_ENUMERIC, "in-place change detected");
    CHECK(strstr(tg_tape_error(t), "'W'") && strstr(tg_tape_error(t), "modified") &&
              strstr(tg_tape_error(t), "'mul'"),
          "message names the tensor and op: %s", tg_tape_error(t));
    tg_tape_free(&t);
    tg_tensor_free(&x);
    tg_tensor_free(&w);
}

int main(void)
{
    test_anomaly_mode();
    test_threads_deterministic();
    test_second_derivative();
    test_mlp_hvp();
    test_zero_alloc_loop();
    test_zero_alloc_workloads();
    test_gather_scatter();
    test_conv_empty_channels();
    test_conv_step();
    test_accumulation_and_modes();
    return check_summary();
}
