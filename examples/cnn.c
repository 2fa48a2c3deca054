/* LeNet on MNIST-format IDX files, the PyTorch reference's `lenet_workload`
 * (shared/bench/torch_ref.py): conv 5x5 1->6 (no padding), ReLU, max-pool 2, conv 5x5
 * 6->16, ReLU, max-pool 2, flatten (16*4*4 = 256), dense 120, ReLU, dense 84, ReLU,
 * dense 10; softmax cross-entropy, mini-batches of 64 (as the reference) reshuffled
 * every epoch, 5 epochs, Adam with lr 5e-3 and inverse-time decay 2e-3 per step
 * (lr / (1 + 2e-3 step): 5e-3 down to 5e-4 over the 5 epochs; --lr, --decay; chosen on
 * the validation accuracy among lr 1e-3..5e-3, decay 0..2e-3, batch 32/64). Inputs are
 * standardised with the training split's mean and standard deviation. The last 1/12 of
 * the training images (5000 of 60000) are held out for validation; the t10k files are
 * the test set.
 *   --batch-norm  BatchNorm after each convolution and each hidden dense layer (before
 *                 the ReLU; the layers it follows then have no bias)
 *   --data DIR    a directory with train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],
 *                 t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]
 * Without --data it reads Debian's Fashion-MNIST (package dataset-fashion-mnist).
 *   --limit N     use only the first N training and test images (smoke tests) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "tapegrad.h"

#define DEFAULT_DIR "/usr/share/datasets/fashion-mnist"
#define SIDE 28
#define EVAL_CHUNK 500
#define DEFAULT_DECAY 2e-3

/* (x - mean) / sd in place, for every element of a contiguous F32 tensor */
static void standardise(tg_tensor *x, double mean, double sd)
{
    float *d = x->data;
    for (int64_t i = 0; i < tg_tensor_numel(x); i++)
        d[i] = (float)(((double)d[i] - mean) / sd);
}

static bool build(tg_model *m, bool bn)
{
    tg_conv2d_layer_opts c = tg_conv2d_layer_defaults();
    c.bias = !bn;
    tg_dense_opts d = tg_dense_defaults();
    d.init = TG_INIT_HE_UNIFORM;
    d.bias = !bn;
    const int64_t k5[2] = {5, 5}, k2[2] = {2, 2};
    bool ok = tg_model_add_conv2d(m, 1, 6, k5, &c) == TG_OK &&
              (!bn || tg_model_add_batch_norm(m, 6, NULL) == TG_OK) &&
              tg_model_add_activation(m, TG_ACT_RELU, 0) == TG_OK &&
              tg_model_add_max_pool2d(m, k2, NULL) == TG_OK &&
              tg_model_add_conv2d(m, 6, 16, k5, &c) == TG_OK &&
              (!bn || tg_model_add_batch_norm(m, 16, NULL) == TG_OK) &&
              tg_model_add_activation(m, TG_ACT_RELU, 0) == TG_OK &&
              tg_model_add_max_pool2d(m, k2, NULL) == TG_OK && tg_model_add_flatten(m) == TG_OK &&
              tg_model_add_dense(m, 16 * 4 * 4, 120, &d) == TG_OK &&
              (!bn || tg_model_add_batch_norm(m, 120, NULL) == TG_OK) &&
              tg_model_add_activation(m, TG_ACT_RELU, 0) == TG_OK &&
              tg_model_add_dense(m, 120, 84, &d) == TG_OK &&
              (!bn || tg_model_add_batch_norm(m, 84, NULL) == TG_OK) &&
              tg_model_add_activation(m, TG_ACT_RELU, 0) == TG_OK &&
              tg_model_add_dense(m, 84, 10, NULL) == TG_OK;
    return ok;
}

int main(int argc, char **argv)
{
    int64_t limit = 0;
    bool bn = false;
    double decay = DEFAULT_DECAY;
    const ex_flag extra[] = {
        {"--limit", EX_FLAG_INT, &limit, 0, 1e9, "--limit N", "an integer in 0..1000000000",
         "use only the first N training and test images (default 0: all)"},
        {"--decay", EX_FLAG_DOUBLE, &decay, 0, 1e6, "--decay D", "a number in 0..1000000",
         "Adam's inverse-time learning-rate decay (default 2e-3)"},
        {"--batch-norm", EX_FLAG_BOOL, &bn, 0, 0, NULL, NULL,
         "add BatchNorm after each convolution and hidden dense layer"},
        {0}};
    ex_args a = {.epochs = 5, .seed = 1, .threads = 1, .lr = 5e-3, .batch = 64,
                 .data = DEFAULT_DIR};
    ex_parse(argc, argv, &a, EX_LR | EX_BATCH | EX_DATA, extra,
             "cnn: LeNet on MNIST-format images (default Fashion-MNIST)");
    if (access(a.data, R_OK) != 0) {
        fprintf(stderr,
                "cnn: no data in %s. Install Debian's Fashion-MNIST (apt-get install "
                "dataset-fashion-mnist) or pass --data DIR with MNIST-format IDX files.\n",
                a.data);
        return 2;
    }
    tg_tensor *xall, *yall, *xtest_all, *ytest_all;
    if (!ex_idx_load_all("cnn", a.data, &xall, &yall, &xtest_all, &ytest_all))
        return 1;
    if (xall->shape[1] != SIDE * SIDE || xtest_all->shape[1] != SIDE * SIDE) {
        fprintf(stderr, "cnn: images must be %dx%d\n", SIDE, SIDE);
        return 1;
    }
    int64_t ntrain_all = xall->shape[0], ntest = xtest_all->shape[0];
    if (limit > 0 && limit < ntrain_all)
        ntrain_all = limit;
    if (limit > 0 && limit < ntest)
        ntest = limit;
    int64_t nval = ntrain_all / 12, ntrain = ntrain_all - nval; /* 5000 of 60000 */
    tg_tensor *x = ex_rows(xall, 0, ntrain), *y = ex_rows(yall, 0, ntrain);
    tg_tensor *xv = ex_rows(xall, ntrain, ntrain_all), *yv = ex_rows(yall, ntrain, ntrain_all);
    tg_tensor *xt = ex_rows(xtest_all, 0, ntest), *yt = ex_rows(ytest_all, 0, ntest);
    if (!x || !y || !xv || !yv || !xt || !yt) {
        fprintf(stderr, "cnn: %s\n", tg_last_error());
        return 1;
    }
    /* the training split's pixel statistics standardise every split */
    double sum = 0, sum2 = 0;
    for (int64_t i = 0; i < tg_tensor_numel(x); i++) {
        double v = ((const float *)x->data)[i];
        sum += v;
        sum2 += v * v;
    }
    double mean = sum / (double)tg_tensor_numel(x);
    double sd = sqrt(fmax(sum2 / (double)tg_tensor_numel(x) - mean * mean, 1e-12));
    standardise(x, mean, sd);
    standardise(xv, mean, sd);
    standardise(xt, mean, sd);

    tg_model *m = tg_model_new(TG_F32, a.seed);
    if (!m || !build(m, bn)) {
        fprintf(stderr, "cnn: %s\n", tg_last_error());
        return 1;
    }
    tg_adam_opts ao = tg_adam_defaults();
    ao.lr = a.lr;
    ao.decay = decay;
    tg_optim *opt = tg_adam_new(tg_model_param_count(m), tg_model_params(m), &ao);
    tg_tape *t = tg_tape_new();
    int64_t B = a.batch > 0 ? a.batch : 64;
    tg_tensor *xb = tg_zeros(TG_F32, 4, (int64_t[]){B, 1, SIDE, SIDE});
    tg_tensor *yb = tg_zeros(TG_I32, 1, &B);
    if (!opt || !t || !xb || !yb) {
        fprintf(stderr, "cnn: %s\n", tg_last_error());
        return 1;
    }
    double t0 = ex_now();
    if (ex_train_classifier(&a, "cnn", m, opt, t, x, y, xb, yb) != 0)
        return 1;
    double secs = ex_now() - t0;
    /* evaluation mode: batch norm uses its running statistics */
    const int64_t img[3] = {1, SIDE, SIDE};
    ex_eval_result tr = ex_evaluate("cnn", m, t, x, y, EVAL_CHUNK, 3, img);
    ex_eval_result va = ex_evaluate("cnn", m, t, xv, yv, EVAL_CHUNK, 3, img);
    ex_eval_result te = ex_evaluate("cnn", m, t, xt, yt, EVAL_CHUNK, 3, img);
    if (a.json)
        printf("{\"train_loss\":%.6f,\"train_acc\":%.4f,\"val_loss\":%.6f,\"val_acc\":%.4f,"
               "\"test_loss\":%.6f,\"test_acc\":%.4f,\"batch_norm\":%d,\"epochs\":%d,"
               "\"seconds\":%.3f}\n",
               tr.loss, tr.acc, va.loss, va.acc, te.loss, te.acc, bn ? 1 : 0, a.epochs, secs);
    else
        printf("cnn%s: %d epochs in %.1f s: train acc %.4f, validation acc %.4f, test loss %.4f "
               "acc %.4f\n",
               bn ? " (batch norm)" : "", a.epochs, secs, tr.acc, va.acc, te.loss, te.acc);
    tg_tape_free(&t);
    tg_optim_free(&opt);
    ex_print_hash(&a, m);
    tg_model_free(&m);
    tg_tensor *all[] = {xall, yall, xtest_all, ytest_all, x, y, xv, yv, xt, yt, xb, yb};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        tg_tensor_free(&all[i]);
    return 0;
}
