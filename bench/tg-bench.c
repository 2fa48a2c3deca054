/* tg-bench: the workloads of ../shared/bench/torch_ref.py in tapegrad, with the same
 * shapes, batch sizes, optimizers and JSON output (one object per line).
 *   tg-bench --list
 *   tg-bench NAME [--threads T] [--seconds S]
 * Build in release: meson setup build-release --buildtype=release */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "tapegrad.h"

typedef struct workload workload;
struct workload {
    const char *name;
    bool (*setup)(workload *w);
    bool (*step)(workload *w);
    void (*teardown)(workload *w);
    double samples, flops; /* per step */
    /* state */
    tg_model *model;
    tg_optim *opt;
    tg_tape *tape;
    tg_tensor *x, *y, *mats[12];
    int64_t dims[4];
    int nlayers;
    double dropout;
    bool adam;
    int64_t batch;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ------------------------------------------------------ MLP training step */

static bool mlp_setup(workload *w)
{
    w->model = tg_model_new(TG_F32, 0);
    for (int i = 0; i < w->nlayers; i++) {
        tg_dense_opts d = tg_dense_defaults();
        d.init = TG_INIT_HE_UNIFORM;
        if (tg_model_add_dense(w->model, w->dims[i], w->dims[i + 1], &d) != TG_OK)
            return false;
        if (i < w->nlayers - 1) {
            tg_model_add_activation(w->model, TG_ACT_RELU, 0);
            if (w->dropout > 0)
                tg_model_add_dropout(w->model, w->dropout);
        }
    }
    int64_t in = w->dims[0], classes = w->dims[w->nlayers];
    w->x = tg_rand_normal(TG_F32, 2, (int64_t[]){w->batch, in}, 0, 1, 1, 0);
    w->y = tg_zeros(TG_I32, 1, &w->batch);
    for (int64_t i = 0; i < w->batch; i++)
        tg_tensor_set_flat(w->y, i, (double)(tg_rng_u64(1, 1, (uint64_t)i) % (uint64_t)classes));
    int n = tg_model_param_count(w->model);
    if (w->adam) {
        tg_adam_opts o = tg_adam_defaults();
        o.lr = 1e-3;
        w->opt = tg_adam_new(n, tg_model_params(w->model), &o);
    } else {
        tg_sgd_opts o = tg_sgd_defaults();
        o.lr = 1e-2;
        o.momentum = 0.9;
        w->opt = tg_sgd_new(n, tg_model_params(w->model), &o);
    }
    w->tape = tg_tape_new();
    w->samples = (double)w->batch;
    w->flops = 6.0 * (double)tg_model_num_elements(w->model) * (double)w->batch;
    return w->x && w->y && w->opt && w->tape;
}

static bool mlp_step(workload *w)
{
    tg_tape_reset(w->tape);
    tg_tensor *out = tg_model_forward(w->model, w->tape, w->x, true);
    tg_tensor *loss = tg_softmax_cross_entropy(w->tape, out, w->y, NULL);
    if (tg_backward(w->tape, loss) != TG_OK) {
        fprintf(stderr, "tg-bench %s: %s\n", w->name, tg_tape_error(w->tape));
        return false;
    }
    /* the gradients are cleared by the update, ready for the next step */
    return tg_optim_step_zero(w->opt) == TG_OK;
}

static void common_teardown(workload *w)
{
    tg_model_free(&w->model);
    tg_optim_free(&w->opt);
    tg_tape_free(&w->tape);
    tg_tensor_free(&w->x);
    tg_tensor_free(&w->y);
    for (int i = 0; i < 12; i++)
        tg_tensor_free(&w->mats[i]);
}

/* ------------------------------------------------------------- tiny ops */

static bool tiny_setup(workload *w)
{
    w->x = tg_ones(TG_F32, 1, (int64_t[]){1});
    w->tape = tg_tape_new();
    w->samples = 10000;
    return w->x && w->tape && tg_tensor_set_requires_grad(w->x, true) == TG_OK;
}

static bool tiny_step(workload *w)
{
    tg_tape_reset(w->tape);
    tg_tensor *y = w->x;
    for (int i = 0; i < 10000; i++)
        y = tg_add(w->tape, y, w->x);
    bool ok = tg_backward(w->tape, y) == TG_OK;
    tg_tensor_zero_grad(w->x);
    return ok;
}

/* ------------------------------------------------------------------ gemm */

static bool gemm_setup(workload *w)
{
    int64_t B = 256, d[4] = {784, 2048, 2048, 10};
    w->flops = 0;
    for (int i = 0; i < 3; i++) {
        w->mats[4 * i + 0] = tg_rand_normal(TG_F32, 2, (int64_t[]){B, d[i]}, 0, 1, 2, (uint64_t)i);
        w->mats[4 * i + 1] = tg_rand_normal(TG_F32, 2, (int64_t[]){d[i], d[i + 1]}, 0, 1, 3, (uint64_t)i);
        w->mats[4 * i + 2] = tg_rand_normal(TG_F32, 2, (int64_t[]){B, d[i + 1]}, 0, 1, 4, (uint64_t)i);
        w->mats[4 * i + 3] = tg_zeros(TG_F32, 2, (int64_t[]){d[i], d[i + 1]});
        w->flops += 6.0 * (double)(B * d[i] * d[i + 1]);
    }
    w->samples = (double)B;
    w->tape = tg_tape_new();
    return w->tape != NULL;
}

static bool gemm_step(workload *w)
{
    /* the 9 products of one `wide` step through the library's ops (grad mode off) */
    tg_tape_reset(w->tape);
    tg_tape_set_grad_mode(w->tape, false);
    for (int i = 0; i < 3; i++) {
        tg_tensor *x = w->mats[4 * i], *W = w->mats[4 * i + 1], *g = w->mats[4 * i + 2];
        tg_matmul(w->tape, x, W);
        tg_matmul(w->tape, g, tg_transpose(w->tape, W, 0, 1));
        tg_matmul(w->tape, tg_transpose(w->tape, x, 0, 1), g);
    }
    return !tg_tape_failed(w->tape);
}

/* ------------------------------------------------------------------ lenet */

/* LeNet-5 as in torch_ref.py, built from the ops: conv5x5x6-ReLU-maxpool2-
 * conv5x5x16-ReLU-maxpool2-flatten-120-ReLU-84-ReLU-10, batch 64 of 1x28x28, Adam lr
 * 1e-3. Parameters: mats[0..9] = (w, b) of conv1, conv2, fc1, fc2, fc3; weights
 * uniform in +-1/sqrt(fan_in) like PyTorch's default init. */
static bool lenet_setup(workload *w)
{
    static const int64_t shapes[10][4] = {{6, 1, 5, 5}, {6},  {16, 6, 5, 5}, {16}, {256, 120},
                                          {120},        {120, 84}, {84},   {84, 10},   {10}};
    static const int nd[10] = {4, 1, 4, 1, 2, 1, 2, 1, 2, 1};
    static const double fan_in[10] = {25, 25, 150, 150, 256, 256, 120, 120, 84, 84};
    for (int i = 0; i < 10; i++) {
        double bound = 1.0 / sqrt(fan_in[i]);
        w->mats[i] = tg_rand_uniform(TG_F32, nd[i], shapes[i], -bound, bound, 7, (uint64_t)i);
        if (!w->mats[i] || tg_tensor_set_requires_grad(w->mats[i], true) != TG_OK)
            return false;
    }
    w->x = tg_rand_normal(TG_F32, 4, (int64_t[]){w->batch, 1, 28, 28}, 0, 1, 1, 0);
    w->y = tg_zeros(TG_I32, 1, &w->batch);
    for (int64_t i = 0; w->y && i < w->batch; i++)
        tg_tensor_set_flat(w->y, i, (double)(tg_rng_u64(1, 1, (uint64_t)i) % 10));
    tg_adam_opts o = tg_adam_defaults();
    o.lr = 1e-3;
    w->opt = tg_adam_new(10, w->mats, &o);
    w->tape = tg_tape_new();
    w->samples = (double)w->batch;
    double conv = 2.0 * (25 * 1 * 6 * 24 * 24 + 25 * 6 * 16 * 8 * 8);
    double fc = 2.0 * (256 * 120 + 120 * 84 + 84 * 10);
    w->flops = 3.0 * (conv + fc) * (double)w->batch;
    return w->x && w->y && w->opt && w->tape;
}

static bool lenet_step(workload *w)
{
    tg_tape *t = w->tape;
    tg_tensor **p = w->mats;
    const int64_t k2[2] = {2, 2};
    tg_optim_zero_grad(w->opt);
    tg_tape_reset(t);
    tg_tensor *h = tg_relu(t, tg_conv2d(t, w->x, p[0], p[1], NULL));
    h = tg_max_pool2d(t, h, k2, NULL, NULL);
    h = tg_relu(t, tg_conv2d(t, h, p[2], p[3], NULL));
    h = tg_flatten(t, tg_max_pool2d(t, h, k2, NULL, NULL), 1);
    h = tg_relu(t, tg_dense(t, h, p[4], p[5]));
    h = tg_relu(t, tg_dense(t, h, p[6], p[7]));
    tg_tensor *loss = tg_softmax_cross_entropy(t, tg_dense(t, h, p[8], p[9]), w->y, NULL);
    if (tg_backward(t, loss) != TG_OK) {
        fprintf(stderr, "tg-bench %s: %s\n", w->name, tg_tape_error(t));
        return false;
    }
    return tg_optim_step(w->opt) == TG_OK;
}

/* ------------------------------------------------------------- registry */

static workload workloads[] = {
    {.name = "spiral", .setup = mlp_setup, .step = mlp_step, .teardown = common_teardown,
     .dims = {2, 64, 3}, .nlayers = 2, .adam = true, .batch = 300},
    {.name = "mlp", .setup = mlp_setup, .step = mlp_step, .teardown = common_teardown,
     .dims = {784, 512, 256, 10}, .nlayers = 3, .adam = true, .batch = 128},
    {.name = "mlp-dropout", .setup = mlp_setup, .step = mlp_step, .teardown = common_teardown,
     .dims = {784, 512, 256, 10}, .nlayers = 3, .adam = true, .batch = 128, .dropout = 0.2},
    {.name = "wide", .setup = mlp_setup, .step = mlp_step, .teardown = common_teardown,
     .dims = {784, 2048, 2048, 10}, .nlayers = 3, .adam = false, .batch = 256},
    {.name = "tiny-ops", .setup = tiny_setup, .step = tiny_step, .teardown = common_teardown},
    {.name = "gemm", .setup = gemm_setup, .step = gemm_step, .teardown = common_teardown},
    {.name = "lenet", .setup = lenet_setup, .step = lenet_step, .teardown = common_teardown,
     .batch = 64},
};
#define NWORK ((int)(sizeof workloads / sizeof workloads[0]))

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    const char *name = NULL;
    int threads = 1;
    double seconds = 5.0;
    bool smoke = false;
    long fixed_steps = 0; /* --steps N: exactly N timed steps, for instruction counts */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--list")) {
            for (int k = 0; k < NWORK; k++)
                printf("%s\n", workloads[k].name);
            return 0;
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            threads = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
            seconds = atof(argv[++i]);
        } else if (!strcmp(argv[i], "--steps") && i + 1 < argc) {
            fixed_steps = atol(argv[++i]);
            if (fixed_steps < 1) {
                fprintf(stderr, "tg-bench: --steps wants a count of at least 1\n");
                return 2;
            }
        } else if (!strcmp(argv[i], "--smoke")) {
            smoke = true; /* a few steps only: for the test suite */
        } else if (argv[i][0] != '-' && !name) {
            name = argv[i];
        } else {
            fprintf(stderr, "usage: tg-bench --list | tg-bench NAME [--threads T] [--seconds S | --steps N] [--smoke]\n");
            return 2;
        }
    }
    workload *w = NULL;
    for (int k = 0; name && k < NWORK; k++)
        if (!strcmp(workloads[k].name, name))
            w = &workloads[k];
    if (!w || threads < 1) {
        fprintf(stderr, "tg-bench: unknown workload %s (--list names them)\n", name ? name : "(none)");
        return 2;
    }
    if (tg_set_num_threads(threads) != TG_OK) {
        fprintf(stderr, "tg-bench: %s\n", tg_last_error());
        return 2;
    }
    if (!w->setup(w)) {
        fprintf(stderr, "tg-bench %s: setup failed: %s\n", w->name, tg_last_error());
        return 1;
    }
    for (int i = 0; i < (smoke ? 1 : 3); i++)
        if (!w->step(w))
            return 1;
    if (smoke) { /* one step ran: the workload builds and trains; no timing */
        printf("{\"name\":\"%s\",\"smoke\":true}\n", w->name);
        w->teardown(w);
        return 0;
    }
    double t0 = now();
    if (!w->step(w))
        return 1;
    double one = now() - t0;
    if (one < 1e-6)
        one = 1e-6;
    long reps = fixed_steps ? fixed_steps : (long)(seconds / 5 / one);
    if (reps < 1)
        reps = 1;
    int nrep = fixed_steps ? 1 : 5;
    double per[5];
    for (int r = 0; r < nrep; r++) {
        t0 = now();
        for (long s = 0; s < reps; s++)
            if (!w->step(w))
                return 1;
        per[r] = (now() - t0) / (double)reps;
    }
    qsort(per, (size_t)nrep, sizeof per[0], cmp_double);
    double med = per[nrep / 2];
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"name\":\"%s\",\"threads\":%d,\"steps\":%ld,\"ms_per_step_median\":%.4f,"
           "\"samples_per_s\":%.1f,\"gflops\":%.3f,\"peak_rss_mb\":%.1f,\"impl\":\"tapegrad\"}\n",
           w->name, threads, reps * nrep, med * 1e3, w->samples / med, w->flops / med / 1e9,
           (double)ru.ru_maxrss / 1024.0);
    w->teardown(w);
    return 0;
}
