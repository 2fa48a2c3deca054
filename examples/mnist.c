/* MLP on MNIST-format IDX files: 784-256-10 (ReLU; optional --dropout), softmax
 * cross-entropy, Adam (lr 1e-3, inverse-time decay 1e-4 per step), mini-batches of 128
 * reshuffled every epoch. The last 5000 training images
 * are held out for validation; the t10k files are the test set.
 *   --data DIR  a directory with train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],
 *               t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]
 * Without --data it reads Debian's Fashion-MNIST (package dataset-fashion-mnist).
 *   --limit N   use only the first N training and test images (smoke tests) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "tapegrad.h"

#define DEFAULT_DIR "/usr/share/datasets/fashion-mnist"

int main(int argc, char **argv)
{
    int64_t limit = 0;
    const ex_flag extra[] = {
        {"--limit", EX_FLAG_INT, &limit, 0, 1e9, "--limit N", "an integer in 0..1000000000",
         "use only the first N training and test images (default 0: all)"},
        {0}};
    ex_args a = {.epochs = 10, .seed = 1, .threads = 1, .lr = 1e-3, .batch = 128,
                 .data = DEFAULT_DIR};
    ex_parse(argc, argv, &a, EX_LR | EX_DROPOUT | EX_BATCH | EX_DATA | EX_LOG, extra,
             "mnist: a 784-256-10 classifier of MNIST-format images (default Fashion-MNIST)");
    if (access(a.data, R_OK) != 0) {
        fprintf(stderr,
                "mnist: no data in %s. Install Debian's Fashion-MNIST (apt-get install "
                "dataset-fashion-mnist) or pass --data DIR with MNIST-format IDX files.\n",
                a.data);
        return 2;
    }
    tg_tensor *xall, *yall, *xtest_all, *ytest_all;
    if (!ex_idx_load_all("mnist", a.data, &xall, &yall, &xtest_all, &ytest_all))
        return 1;
    int64_t ntrain_all = xall->shape[0], ntest = xtest_all->shape[0];
    if (limit > 0 && limit < ntrain_all)
        ntrain_all = limit;
    if (limit > 0 && limit < ntest)
        ntest = limit;
    int64_t nval = ntrain_all / 12, ntrain = ntrain_all - nval; /* 5000 of 60000 */
    tg_tensor *x = ex_rows(xall, 0, ntrain), *y = ex_rows(yall, 0, ntrain);
    tg_tensor *xv = ex_rows(xall, ntrain, ntrain_all), *yv = ex_rows(yall, ntrain, ntrain_all);
    tg_tensor *xt = ex_rows(xtest_all, 0, ntest), *yt = ex_rows(ytest_all, 0, ntest);
    int64_t features = x->shape[1];

    tg_model *m = tg_model_new(TG_F32, a.seed);
    tg_dense_opts d = tg_dense_defaults();
    d.init = TG_INIT_HE_UNIFORM;
    tg_model_add_dense(m, features, 256, &d);
    tg_model_add_activation(m, TG_ACT_RELU, 0);
    if (a.dropout > 0)
        tg_model_add_dropout(m, a.dropout);
    tg_model_add_dense(m, 256, 10, NULL);
    tg_adam_opts ao = tg_adam_defaults();
    ao.lr = a.lr;
    ao.decay = 1e-4;
    tg_optim *opt = tg_adam_new(tg_model_param_count(m), tg_model_params(m), &ao);
    tg_tape *t = tg_tape_new();
    if (!opt || !t) {
        fprintf(stderr, "mnist: %s\n", tg_last_error());
        return 1;
    }
    /* the training loop: mini-batches reshuffled every epoch, validation after each,
     * checkpoints, the CSV log and progress lines on stderr */
    tg_fit_opts fo = ex_fit_opts(&a, m, opt);
    fo.batch = a.batch;
    fo.x_val = xv;
    fo.y_val = yv;
    double t0 = ex_now();
    if (tg_fit(m, opt, x, y, &fo, NULL) != TG_OK) {
        fprintf(stderr, "mnist: %s\n", tg_last_error());
        return 1;
    }
    double secs = ex_now() - t0;
    ex_eval_result tr = ex_evaluate("mnist", m, t, x, y, 1000, 0, NULL);
    ex_eval_result va = ex_evaluate("mnist", m, t, xv, yv, 1000, 0, NULL);
    ex_eval_result te = ex_evaluate("mnist", m, t, xt, yt, 1000, 0, NULL);
    if (a.json)
        printf("{\"train_loss\":%.6f,\"train_acc\":%.4f,\"val_loss\":%.6f,\"val_acc\":%.4f,"
               "\"test_loss\":%.6f,\"test_acc\":%.4f,\"epochs\":%d,\"seconds\":%.3f}\n",
               tr.loss, tr.acc, va.loss, va.acc, te.loss, te.acc, a.epochs, secs);
    else
        printf("mnist: %d epochs in %.1f s: train acc %.4f, validation acc %.4f, test loss %.4f "
               "acc %.4f\n",
               a.epochs, secs, tr.acc, va.acc, te.loss, te.acc);
    tg_tape_free(&t);
    tg_optim_free(&opt);
    ex_print_hash(&a, m);
    tg_model_free(&m);
    tg_tensor *all[] = {xall, yall, xtest_all, ytest_all, x, y, xv, yv, xt, yt};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        tg_tensor_free(&all[i]);
    return 0;
}
