/* nn: the convolutional layers of the sequential model (Conv2d, pools, BatchNorm,
 * LayerNorm, Flatten): forward equal to the hand-written composition of the ops, the
 * rank-4 initialiser fans, batch norm's train/eval switch and running-statistic buffers
 * (outside the parameters, in the hash), errors naming the layer, and zero heap
 * allocations per training step. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tapegrad.h"
#include "check.h"

static double max_diff(const tg_tensor *a, const tg_tensor *b)
{
    if (!a || !b || tg_tensor_numel(a) != tg_tensor_numel(b))
        return INFINITY;
    double d = 0;
    for (int64_t i = 0; i < tg_tensor_numel(a); i++)
        d = fmax(d, fabs(tg_tensor_get_flat(a, i) - tg_tensor_get_flat(b, i)));
    return d;
}

static bool same_dims(const tg_tensor *t, int ndim, const int64_t *shape)
{
    return t && t->ndim == ndim && !memcmp(t->shape, shape, sizeof(int64_t) * (size_t)ndim);
}

/* conv (stride 2, padding 1, groups 2, dilation 1) -> relu -> max pool -> conv ->
 * avg pool (padded) -> layer norm -> flatten -> dense, against the same ops by hand */
static void test_conv_model_equals_ops(void)
{
    tg_model *m = tg_model_new(TG_F64, 7);
    tg_conv2d_layer_opts c = tg_conv2d_layer_defaults();
    c.stride[0] = c.stride[1] = 2;
    c.padding[0] = c.padding[1] = 1;
    c.groups = 2;
    tg_pool2d_opts ap = tg_pool2d_defaults();
    ap.stride[0] = ap.stride[1] = 1;
    ap.padding[0] = ap.padding[1] = 1;
    tg_conv2d_layer_opts c2 = tg_conv2d_layer_defaults();
    c2.dilation[1] = 2;
    tg_layer_norm_opts lo = tg_layer_norm_defaults();
    CHECK(tg_model_add_conv2d(m, 4, 6, (int64_t[]){3, 3}, &c) == TG_OK, "conv: %s",
          tg_last_error());
    CHECK(tg_model_add_activation(m, TG_ACT_RELU, 0) == TG_OK, "relu");
    CHECK(tg_model_add_max_pool2d(m, (int64_t[]){2, 2}, NULL) == TG_OK, "max pool");
    CHECK(tg_model_add_conv2d(m, 6, 5, (int64_t[]){2, 2}, &c2) == TG_OK, "conv 2: %s",
          tg_last_error());
    CHECK(tg_model_add_avg_pool2d(m, (int64_t[]){2, 2}, &ap) == TG_OK, "avg pool: %s",
          tg_last_error());
    CHECK(tg_model_add_layer_norm(m, 2, (int64_t[]){3, 2}, &lo) == TG_OK, "layer norm");
    CHECK(tg_model_add_flatten(m) == TG_OK, "flatten");
    CHECK(tg_model_add_dense(m, 5 * 3 * 2, 3, NULL) == TG_OK, "dense");
    CHECK(tg_model_layer_count(m) == 8, "8 layers");
    CHECK(tg_model_param_count(m) == 8, "8 parameters, got %d", tg_model_param_count(m));
    CHECK(tg_model_buffer_count(m) == 0, "no buffers without batch norm");
    tg_tensor *const *p = tg_model_params(m);
    CHECK(!strcmp(tg_model_param_name(m, 0), "0.weight") &&
              !strcmp(tg_model_param_name(m, 1), "0.bias") &&
              !strcmp(tg_model_param_name(m, 4), "5.weight"),
          "names %s %s %s", tg_model_param_name(m, 0), tg_model_param_name(m, 1),
          tg_model_param_name(m, 4));
    CHECK(same_dims(p[0], 4, (int64_t[]){6, 2, 3, 3}), "conv weight [6, 4/2, 3, 3]");
    CHECK(same_dims(p[1], 1, (int64_t[]){6}), "conv bias [6]");
    CHECK(same_dims(p[4], 2, (int64_t[]){3, 2}), "layer norm weight [3, 2]");
    /* the biases and layer norm's parameters start at 0 / 1; make them generic */
    for (int i = 0; i < tg_model_param_count(m); i++)
        for (int64_t j = 0; j < tg_tensor_numel(p[i]); j++)
            if (i == 1 || i == 3 || i == 4 || i == 5)
                tg_tensor_set_flat(p[i], j, 0.5 + 0.1 * (double)(j % 7) - 0.05 * i);

    /* [3,4,11,12] -> conv [3,6,6,6] -> pool [3,6,3,3] -> conv [3,5,2,1] -> avg pool
     * [3,5,3,2] -> layer norm -> flatten [3,30] -> dense [3,3] */
    tg_tensor *x = tg_rand_normal(TG_F64, 4, (int64_t[]){3, 4, 11, 12}, 0, 1, 3, 0);
    tg_tape *t = tg_tape_new();
    tg_tensor *y = tg_model_forward(m, t, x, true);
    CHECK(y && same_dims(y, 2, (int64_t[]){3, 3}), "output [3, 3]: %s", tg_tape_error(t));

    tg_conv2d_opts o1 = tg_conv2d_defaults();
    o1.stride[0] = o1.stride[1] = 2;
    o1.padding[0] = o1.padding[1] = 1;
    o1.groups = 2;
    tg_conv2d_opts o2 = tg_conv2d_defaults();
    o2.dilation[1] = 2;
    tg_tensor *h = tg_conv2d(t, x, p[0], p[1], &o1);
    h = tg_relu(t, h);
    h = tg_max_pool2d(t, h, (int64_t[]){2, 2}, NULL, NULL);
    h = tg_conv2d(t, h, p[2], p[3], &o2);
    h = tg_avg_pool2d(t, h, (int64_t[]){2, 2}, (int64_t[]){1, 1}, (int64_t[]){1, 1});
    h = tg_layer_norm(t, h, 2, p[4], p[5], 1e-5);
    h = tg_flatten(t, h, 1);
    h = tg_dense(t, h, p[6], p[7]);
    CHECK(h && y && tg_tensor_hash(h) == tg_tensor_hash(y), "model forward == ops by hand "
          "(max diff %g)", max_diff(h, y));

    /* gradients reach every parameter through the model */
    tg_tensor *loss = tg_mean(t, tg_mul(t, y, y), 0, NULL, false);
    CHECK(tg_backward(t, loss) == TG_OK, "backward: %s", tg_tape_error(t));
    for (int i = 0; i < tg_model_param_count(m); i++) {
        double g = 0;
        for (int64_t j = 0; p[i]->grad && j < tg_tensor_numel(p[i]); j++)
            g += fabs(tg_tensor_get_flat(p[i]->grad, j));
        CHECK(g > 0, "parameter %s got a gradient", tg_model_param_name(m, i));
    }
    tg_tape_free(&t);
    tg_tensor_free(&x);
    tg_model_free(&m);
}

static void moments(const tg_tensor *w, double *mean, double *sd)
{
    int64_t n = tg_tensor_numel(w);
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = tg_tensor_get_flat(w, i);
        s += v;
        s2 += v * v;
    }
    *mean = s / (double)n;
    *sd = sqrt(s2 / (double)n - *mean * *mean);
}

/* rank-4 weights [C_out, C_in/groups, kH, kW]: fan_in = C_in/groups*kH*kW, fan_out =
 * C_out*kH*kW (PyTorch's convention), for tg_init_fill and for the layer */
static void test_conv_init_fans(void)
{
    tg_tensor *w = tg_zeros(TG_F64, 4, (int64_t[]){96, 8, 5, 5}); /* fan_in 200, fan_out 2400 */
    double mean, sd;
    CHECK(tg_init_fill(w, TG_INIT_HE_NORMAL, 1, 0) == TG_OK, "he normal");
    moments(w, &mean, &sd);
    CHECK(fabs(sd / sqrt(2.0 / 200) - 1) < 0.02, "He normal sd %g want %g", sd, sqrt(2.0 / 200));
    CHECK(tg_init_fill(w, TG_INIT_GLOROT_NORMAL, 1, 1) == TG_OK, "glorot normal");
    moments(w, &mean, &sd);
    CHECK(fabs(sd / sqrt(2.0 / 2600) - 1) < 0.02, "Glorot normal sd %g want %g", sd,
          sqrt(2.0 / 2600));
    tg_tensor_free(&w);

    /* the layer: groups 4 -> weight [64, 32/4, 3, 3], fan_in 72 */
    tg_model *m = tg_model_new(TG_F64, 2);
    tg_conv2d_layer_opts c = tg_conv2d_layer_defaults();
    c.groups = 4;
    c.init = TG_INIT_HE_UNIFORM;
    CHECK(tg_model_add_conv2d(m, 32, 64, (int64_t[]){3, 3}, &c) == TG_OK, "grouped conv");
    tg_tensor *cw = tg_model_params(m)[0];
    CHECK(same_dims(cw, 4, (int64_t[]){64, 8, 3, 3}), "grouped weight [64, 8, 3, 3]");
    moments(cw, &mean, &sd);
    double want = sqrt(6.0 / 72) / sqrt(3.0); /* uniform(+-sqrt(6/fan_in)) */
    CHECK(fabs(sd / want - 1) < 0.03, "He uniform sd %g want %g (fan_in 72)", sd, want);
    tg_model_free(&m);
}

/* conv -> batch norm -> relu -> flatten -> dense -> batch norm -> dense */
static tg_model *bn_model(tg_dtype dt, uint64_t seed)
{
    tg_model *m = tg_model_new(dt, seed);
    tg_conv2d_layer_opts c = tg_conv2d_layer_defaults();
    c.bias = false;
    c.padding[0] = c.padding[1] = 1;
    bool ok = tg_model_add_conv2d(m, 2, 3, (int64_t[]){3, 3}, &c) == TG_OK &&
              tg_model_add_batch_norm(m, 3, NULL) == TG_OK &&
              tg_model_add_activation(m, TG_ACT_RELU, 0) == TG_OK &&
              tg_model_add_max_pool2d(m, (int64_t[]){2, 2}, NULL) == TG_OK &&
              tg_model_add_flatten(m) == TG_OK &&
              tg_model_add_dense(m, 3 * 3 * 3, 8, NULL) == TG_OK &&
              tg_model_add_batch_norm(m, 8, NULL) == TG_OK &&
              tg_model_add_activation(m, TG_ACT_TANH, 0) == TG_OK &&
              tg_model_add_dense(m, 8, 4, NULL) == TG_OK;
    CHECK(ok, "build the batch norm model: %s", tg_last_error());
    return m;
}

static uint64_t buffers_hash(const tg_model *m)
{
    uint64_t h = 0;
    for (int i = 0; i < tg_model_buffer_count(m); i++)
        h = h * 1000003u ^ tg_tensor_hash(tg_model_buffers(m)[i]);
    return h;
}

/* trains a few Adam steps on random data so parameters and running stats move */
static void train(tg_model *m, int steps, uint64_t stream)
{
    tg_tensor *x = tg_rand_normal(tg_model_params(m)[0]->dtype, 4, (int64_t[]){16, 2, 6, 6}, 0.5,
                                  2, 9, stream);
    tg_tensor *y = tg_zeros(TG_I32, 1, (int64_t[]){16});
    for (int64_t i = 0; i < 16; i++)
        tg_tensor_set_flat(y, i, (double)(i % 4));
    tg_optim *opt = tg_adam_new(tg_model_param_count(m), tg_model_params(m), NULL);
    tg_tape *t = tg_tape_new();
    for (int s = 0; s < steps; s++) {
        tg_tape_reset(t);
        tg_tensor *l = tg_softmax_cross_entropy(t, tg_model_forward(m, t, x, true), y, NULL);
        CHECK(tg_backward(t, l) == TG_OK && tg_optim_step(opt) == TG_OK, "train step: %s",
              tg_tape_error(t));
        tg_optim_zero_grad(opt);
    }
    tg_tape_free(&t);
    tg_optim_free(&opt);
    tg_tensor_free(&x);
    tg_tensor_free(&y);
}

/* acceptance: in evaluation mode a batch gives the same outputs as its samples one at
 * a time (batch norm uses its running statistics, not the batch's) */
static void test_bn_eval_batch_vs_single(void)
{
    tg_dtype dts[2] = {TG_F64, TG_F32};
    for (int k = 0; k < 2; k++) {
        tg_model *m = bn_model(dts[k], 3);
        train(m, 5, 1);
        tg_tensor *x = tg_rand_normal(dts[k], 4, (int64_t[]){6, 2, 6, 6}, 0, 1.5, 4, 0);
        tg_tape *t = tg_tape_new();
        tg_tensor *yb = tg_model_forward(m, t, x, false);
        CHECK(yb && same_dims(yb, 2, (int64_t[]){6, 4}), "%s: eval output [6, 4]: %s",
              tg_dtype_name(dts[k]), tg_tape_error(t));
        double worst = 0;
        for (int64_t n = 0; n < 6 && yb; n++) {
            tg_tensor *xs = tg_view_slice(x, (int64_t[]){n, 0, 0, 0}, (int64_t[]){n + 1, 2, 6, 6},
                                          (int64_t[]){1, 1, 1, 1});
            tg_tensor *xc = tg_tensor_clone(xs);
            tg_tensor *ys = tg_model_forward(m, t, xc, false);
            CHECK(ys && same_dims(ys, 2, (int64_t[]){1, 4}), "single-sample output [1, 4]: %s",
                  tg_tape_error(t));
            for (int64_t j = 0; ys && j < 4; j++)
                worst = fmax(worst, fabs(tg_tensor_get_flat(ys, j) -
                                         tg_tensor_get_flat(yb, n * 4 + j)));
            tg_tensor_free(&xs);
            tg_tensor_free(&xc);
        }
        /* a batch-statistics normalisation would differ by O(1) */
        double tol = dts[k] == TG_F64 ? 1e-12 : 1e-5;
        CHECK(worst <= tol, "%s: batch vs one at a time differ by %g", tg_dtype_name(dts[k]),
              worst);

        /* training mode normalises with the batch's statistics: a sample's output then
         * depends on the rest of the batch */
        tg_tensor *yt = tg_model_forward(m, t, x, true);
        CHECK(yt && max_diff(yt, yb) > 1e-3, "train and eval outputs differ (by %g)",
              max_diff(yt, yb));
        tg_tape_free(&t);
        tg_tensor_free(&x);
        tg_model_free(&m);
    }
}

/* running statistics are buffers: not parameters, updated by training forwards only,
 * with PyTorch's update rule; they are part of the model's hash */
static void test_bn_running_stats(void)
{
    tg_model *m = tg_model_new(TG_F64, 1);
    tg_batch_norm_opts bo = tg_batch_norm_defaults();
    bo.momentum = 0.25;
    CHECK(tg_model_add_batch_norm(m, 3, &bo) == TG_OK, "batch norm [N, 3]");
    CHECK(tg_model_param_count(m) == 2 && tg_model_buffer_count(m) == 2, "2 params, 2 buffers");
    CHECK(!strcmp(tg_model_param_name(m, 0), "0.weight") &&
              !strcmp(tg_model_param_name(m, 1), "0.bias"),
          "gamma and beta are 0.weight, 0.bias");
    CHECK(tg_model_buffer_name(m, 0) && !strcmp(tg_model_buffer_name(m, 0), "0.running_mean") &&
              tg_model_buffer_name(m, 1) && !strcmp(tg_model_buffer_name(m, 1), "0.running_var") &&
              !tg_model_buffer_name(m, 2) && !tg_model_buffer_name(m, -1),
          "buffer names");
    tg_tensor *rm = tg_model_buffers(m)[0], *rv = tg_model_buffers(m)[1];
    CHECK(!tg_tensor_requires_grad(rm) && !tg_tensor_requires_grad(rv), "buffers need no grad");
    CHECK(tg_model_num_elements(m) == 6, "buffers are not counted as parameters");
    CHECK(tg_tensor_get_flat(rm, 1) == 0 && tg_tensor_get_flat(rv, 1) == 1, "start at 0 and 1");

    double xv[4 * 3] = {1, 10, -2, 3, 14, -2, 5, 12, -2, 7, 16, -2};
    tg_tensor *x = tg_tensor_from(TG_F64, 2, (int64_t[]){4, 3}, xv);
    tg_tape *t = tg_tape_new();
    uint64_t h0 = tg_model_hash(m), b0 = buffers_hash(m);
    tg_tensor *ye = tg_model_forward(m, t, x, false);
    CHECK(ye && buffers_hash(m) == b0 && tg_model_hash(m) == h0, "eval leaves running stats");
    /* fresh running stats (0, 1): eval output = x / sqrt(1 + eps) */
    CHECK(ye && fabs(tg_tensor_get_flat(ye, 1) - 10 / sqrt(1 + 1e-5)) < 1e-12, "eval uses running");
    tg_tensor *yt = tg_model_forward(m, t, x, true);
    CHECK(yt && buffers_hash(m) != b0, "training moves running stats");
    CHECK(tg_model_hash(m) != h0, "the model hash covers the buffers");
    /* column 0: mean 4, unbiased var 20/3; column 2 constant: var 0 */
    CHECK(fabs(tg_tensor_get_flat(rm, 0) - 0.25 * 4) < 1e-12, "running_mean %g want 1",
          tg_tensor_get_flat(rm, 0));
    CHECK(fabs(tg_tensor_get_flat(rv, 0) - (0.75 + 0.25 * 20.0 / 3)) < 1e-12, "running_var %g",
          tg_tensor_get_flat(rv, 0));
    CHECK(fabs(tg_tensor_get_flat(rv, 2) - 0.75) < 1e-12, "constant channel var %g",
          tg_tensor_get_flat(rv, 2));
    /* training output: standardised columns (mean 0) */
    double s = 0;
    for (int64_t n = 0; yt && n < 4; n++)
        s += tg_tensor_get_flat(yt, n * 3 + 1);
    CHECK(fabs(s) < 1e-9, "training output uses batch statistics (column mean %g)", s / 4);

    /* an optimizer over the parameters never sees the buffers */
    tg_optim *opt = tg_sgd_new(tg_model_param_count(m), tg_model_params(m), NULL);
    tg_tape_reset(t);
    uint64_t b1 = buffers_hash(m);
    tg_tensor *y2 = tg_model_forward(m, t, x, false);
    CHECK(tg_backward(t, tg_sum(t, tg_mul(t, y2, y2), 0, NULL, false)) == TG_OK, "backward");
    CHECK(tg_optim_step(opt) == TG_OK && buffers_hash(m) == b1, "an optimizer step leaves buffers");
    tg_optim_free(&opt);

    /* [N, C, H, W]: per-channel statistics over N, H, W */
    tg_model *m4 = tg_model_new(TG_F64, 1);
    CHECK(tg_model_add_batch_norm(m4, 2, &bo) == TG_OK, "batch norm [N, 2, H, W]");
    tg_tensor *x4 = tg_rand_normal(TG_F64, 4, (int64_t[]){3, 2, 4, 5}, 2, 3, 8, 0);
    tg_tape_reset(t);
    CHECK(tg_model_forward(m4, t, x4, true), "4-D forward: %s", tg_tape_error(t));
    double mean1 = 0;
    for (int64_t n = 0; n < 3; n++)
        for (int64_t i = 0; i < 20; i++)
            mean1 += tg_tensor_get_flat(x4, n * 40 + 20 + i) / 60;
    CHECK(fabs(tg_tensor_get_flat(tg_model_buffers(m4)[0], 1) - 0.25 * mean1) < 1e-12,
          "channel 1 running mean %g want %g", tg_tensor_get_flat(tg_model_buffers(m4)[0], 1),
          0.25 * mean1);
    tg_model_free(&m4);
    tg_tensor_free(&x4);
    tg_tape_free(&t);
    tg_tensor_free(&x);
    tg_model_free(&m);
}

/* bad configurations fail at construction with TG_EINVAL naming the function and layer;
 * inputs that do not fit fail the forward with TG_ESHAPE naming the layer and shapes */
static void test_errors(void)
{
    tg_model *m = tg_model_new(TG_F32, 1);
    tg_conv2d_layer_opts c = tg_conv2d_layer_defaults();
    c.groups = 4;
    CHECK(tg_model_add_conv2d(m, 6, 8, (int64_t[]){3, 3}, &c) == TG_EINVAL &&
              strstr(tg_last_error(), "tg_model_add_conv2d: layer 0") &&
              strstr(tg_last_error(), "groups 4"),
          "groups not dividing: %s", tg_last_error());
    c = tg_conv2d_layer_defaults();
    CHECK(tg_model_add_conv2d(m, 1, 4, (int64_t[]){0, 3}, &c) == TG_EINVAL &&
              strstr(tg_last_error(), "kernel 0x3"),
          "kernel 0: %s", tg_last_error());
    CHECK(tg_model_add_conv2d(m, 1, 4, NULL, &c) == TG_EINVAL, "NULL kernel");
    c.stride[1] = 0;
    CHECK(tg_model_add_conv2d(m, 1, 4, (int64_t[]){3, 3}, &c) == TG_EINVAL &&
              strstr(tg_last_error(), "stride (1,0)"),
          "stride 0: %s", tg_last_error());
    c = tg_conv2d_layer_defaults();
    c.padding[0] = -1;
    CHECK(tg_model_add_conv2d(m, 1, 4, (int64_t[]){3, 3}, &c) == TG_EINVAL, "negative padding");
    c = tg_conv2d_layer_defaults();
    c.dilation[0] = 0;
    CHECK(tg_model_add_conv2d(m, 1, 4, (int64_t[]){3, 3}, &c) == TG_EINVAL, "dilation 0");
    tg_pool2d_opts po = tg_pool2d_defaults();
    po.padding[0] = 2;
    CHECK(tg_model_add_max_pool2d(m, (int64_t[]){3, 3}, &po) == TG_EINVAL &&
              strstr(tg_last_error(), "tg_model_add_max_pool2d: layer 0"),
          "pool padding over half the kernel: %s", tg_last_error());
    po = tg_pool2d_defaults();
    po.stride[0] = -1;
    CHECK(tg_model_add_avg_pool2d(m, (int64_t[]){2, 2}, &po) == TG_EINVAL, "negative stride");
    CHECK(tg_model_add_avg_pool2d(m, (int64_t[]){2, 0}, NULL) == TG_EINVAL, "pool kernel 0");
    tg_batch_norm_opts bo = tg_batch_norm_defaults();
    bo.momentum = 1.5;
    CHECK(tg_model_add_batch_norm(m, 4, &bo) == TG_EINVAL &&
              strstr(tg_last_error(), "momentum 1.5"),
          "momentum 1.5: %s", tg_last_error());
    bo = tg_batch_norm_defaults();
    bo.eps = 0;
    CHECK(tg_model_add_batch_norm(m, 4, &bo) == TG_EINVAL, "eps 0");
    CHECK(tg_model_add_batch_norm(m, 0, NULL) == TG_EINVAL, "0 channels");
    CHECK(tg_model_add_layer_norm(m, 0, (int64_t[]){4}, NULL) == TG_EINVAL, "layer norm ndim 0");
    CHECK(tg_model_add_layer_norm(m, 1, (int64_t[]){0}, NULL) == TG_EINVAL, "layer norm size 0");
    CHECK(tg_model_add_conv2d(NULL, 1, 1, (int64_t[]){1, 1}, NULL) == TG_EINVAL, "NULL model");
    CHECK(tg_model_layer_count(m) == 0 && tg_model_param_count(m) == 0 &&
              tg_model_buffer_count(m) == 0,
          "failed adds leave the model empty");

    /* conv 3->4 5x5, pool 2, flatten, dense 4*2*2 -> 2 */
    CHECK(tg_model_add_conv2d(m, 3, 4, (int64_t[]){5, 5}, NULL) == TG_OK &&
              tg_model_add_batch_norm(m, 4, NULL) == TG_OK &&
              tg_model_add_max_pool2d(m, (int64_t[]){2, 2}, NULL) == TG_OK &&
              tg_model_add_flatten(m) == TG_OK && tg_model_add_dense(m, 16, 2, NULL) == TG_OK,
          "valid model");
    struct {
        int64_t shape[4];
        int ndim;
        bool training;
        const char *want[2];
    } bad[] = {
        {{2, 1, 8, 8}, 4, true, {"layer 0 (conv2d 3->4 5x5)", "[2,1,8,8] has 1 channels, want 3"}},
        {{2, 3, 4, 8}, 4, true, {"layer 0 (conv2d", "[2,3,4,8] is too small"}},
        {{2, 3, 8}, 3, true, {"layer 0 (conv2d", "not 4-D"}},
        /* [2,3,6,6] -> conv [2,4,2,2] -> pool [2,4,1,1] -> flatten [2,4] */
        {{2, 3, 6, 6}, 4, true, {"layer 4 (dense 16->2)", "[2,4] has 4 features, want 16"}},
        {{2, 3, 11, 11}, 4, true, {"layer 4 (dense 16->2)", "[2,36] has 36 features, want 16"}},
        {{1, 3, 5, 5}, 4, true, {"layer 1 (batch_norm 4)", "[1,4,1,1] has one value per channel"}},
    };
    tg_tape *t = tg_tape_new();
    uint64_t b0 = buffers_hash(m);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tg_tape_reset(t);
        tg_tensor *x = tg_zeros(TG_F32, bad[i].ndim, bad[i].shape);
        tg_tensor *y = tg_model_forward(m, t, x, bad[i].training);
        const char *e = tg_tape_error(t);
        CHECK(!y && tg_tape_status(t) == TG_ESHAPE && strstr(e, "tg_model_forward: ") &&
                  strstr(e, bad[i].want[0]) && strstr(e, bad[i].want[1]),
              "case %zu: %s", i, tg_tape_error(t));
        tg_tensor_free(&x);
    }
    /* shapes are checked before any layer runs: the batch norm before the failing dense
     * layer did not update its running statistics */
    CHECK(buffers_hash(m) == b0, "failed forwards leave the running statistics");
    /* one sample is fine in evaluation mode; a failed tape stays failed (first error) */
    tg_tape_reset(t);
    tg_tensor *x1 = tg_zeros(TG_F32, 4, (int64_t[]){1, 3, 11, 11});
    tg_tensor *x2 = tg_zeros(TG_F32, 2, (int64_t[]){1, 3});
    CHECK(tg_model_forward(m, t, x1, false) == NULL && strstr(tg_tape_error(t), "36 features"),
          "eval of one sample reaches the dense layer: %s", tg_tape_error(t));
    CHECK(tg_model_forward(m, t, x2, false) == NULL && strstr(tg_tape_error(t), "36 features"),
          "first error wins: %s", tg_tape_error(t));
    tg_tape_reset(t);
    CHECK(tg_model_forward(m, t, x2, false) == NULL && strstr(tg_tape_error(t), "not 4-D"),
          "2-D input to a conv: %s", tg_tape_error(t));
    tg_tape_reset(t);
    tg_tensor *x64 = tg_zeros(TG_F64, 4, (int64_t[]){2, 3, 11, 11});
    CHECK(!tg_model_forward(m, t, x64, true) && tg_tape_status(t) == TG_EDTYPE &&
              strstr(tg_tape_error(t), "[2,3,11,11] is f64, the model is f32"),
          "dtype mismatch: %s", tg_tape_error(t));
    CHECK(tg_model_rng_counter(m) == 0, "failed forwards do not advance the counter");
    tg_tensor_free(&x64);
    tg_tensor_free(&x1);
    tg_tensor_free(&x2);
    /* layer norm: the trailing axes must match */
    tg_model *ln = tg_model_new(TG_F32, 1);
    CHECK(tg_model_add_layer_norm(ln, 2, (int64_t[]){3, 4}, NULL) == TG_OK, "layer norm");
    tg_tape_reset(t);
    tg_tensor *x3 = tg_zeros(TG_F32, 3, (int64_t[]){2, 4, 3});
    CHECK(!tg_model_forward(ln, t, x3, true) &&
              strstr(tg_tape_error(t), "layer 0 (layer_norm [3,4])") &&
              strstr(tg_tape_error(t), "[2,4,3] does not end in [3,4]"),
          "layer norm shape: %s", tg_tape_error(t));
    tg_tensor_free(&x3);
    tg_model_free(&ln);
    tg_tape_free(&t);
    tg_model_free(&m);
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

static void test_zero_alloc_conv_bn(void)
{
    tg_allocator a = {count_alloc, count_free, NULL};
    tg_set_allocator(&a);
    tg_model *m = bn_model(TG_F32, 5);
    tg_tensor *x = tg_rand_normal(TG_F32, 4, (int64_t[]){16, 2, 6, 6}, 0, 1, 2, 0);
    tg_tensor *y = tg_zeros(TG_I32, 1, (int64_t[]){16});
    for (int64_t i = 0; i < 16; i++)
        tg_tensor_set_flat(y, i, (double)(i % 4));
    tg_optim *opt = tg_adam_new(tg_model_param_count(m), tg_model_params(m), NULL);
    tg_tape *t = tg_tape_new();
    long before = 0;
    double first = 0, last = 0;
    for (int step = 0; step < 25; step++) {
        if (step == 5)
            before = n_allocs;
        tg_optim_zero_grad(opt);
        tg_tape_reset(t);
        tg_tensor *loss = tg_softmax_cross_entropy(t, tg_model_forward(m, t, x, true), y, NULL);
        if (tg_backward(t, loss) != TG_OK || tg_optim_step(opt) != TG_OK) {
            CHECK(false, "step %d: %s", step, tg_tape_error(t));
            break;
        }
        last = tg_tensor_get_flat(loss, 0);
        if (step == 0)
            first = last;
    }
    long steady = n_allocs - before;
    tg_set_allocator(NULL);
    CHECK(steady == 0, "conv + batch norm training: %ld allocations in 20 steady-state steps",
          steady);
    CHECK(last < first, "loss decreased: %g -> %g", first, last);
    tg_tape_free(&t);
    tg_optim_free(&opt);
    tg_model_free(&m);
    tg_tensor_free(&x);
    tg_tensor_free(&y);
}

int main(void)
{
    test_conv_model_equals_ops();
    test_conv_init_fans();
    test_bn_eval_batch_vs_single();
    test_bn_running_stats();
    test_errors();
    test_zero_alloc_conv_bn();
    return check_summary();
}
