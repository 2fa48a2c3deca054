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
    ex_idx_data d;
    ex_idx_data_load("cnn", &a, limit, (const int64_t[3]){1, SIDE, SIDE}, &d);
    /* the training split's pixel statistics standardise every split */
    double sum = 0, sum2 = 0;
    for (int64_t i = 0; i < tg_tensor_numel(d.x); i++) {
        double v = ((const float *)d.x->data)[i];
        sum += v;
        sum2 += v * v;
    }
    double mean = sum / (double)tg_tensor_numel(d.x);
    double sd = sqrt(fmax(sum2 / (double)tg_tensor_numel(d.x) - mean * mean, 1e-12));
    standardise(d.x, mean, sd);
    standardise(d.xv, mean, sd);
    standardise(d.xt, mean, sd);

    tg_model *m = tg_model_new(TG_F32, a.seed);
    if (!m || !build(m, bn)) {
        fprintf(stderr, "cnn: %s\n", tg_last_error());
        return 1;
    }
    tg_optim *opt = ex_adam("cnn", m, a.lr, decay, 0);
    /* full batches only, each epoch in the order tg_permutation(N, seed, 1000 + epoch) */
    tg_fit_opts fo = ex_fit_opts(&a, m, opt);
    fo.batch = a.batch;
    fo.drop_last = true;
    fo.shuffle_stream = 1001;
    fo.penalty = false;
    fo.x_val = d.xv;
    fo.y_val = d.yv;
    fo.eval_batch = EVAL_CHUNK;
    double secs = ex_fit("cnn", m, opt, d.x, d.y, &fo, NULL);
    /* evaluation mode: batch norm uses its running statistics */
    ex_report_test(&a, bn ? "cnn (batch norm)" : "cnn",
                   bn ? ",\"batch_norm\":1" : ",\"batch_norm\":0", secs, m, EVAL_CHUNK, &d);
    ex_idx_data_free(&d);
    ex_finish(&a, &opt, &m, NULL, 0);
    return 0;
}
