/* MLP on MNIST-format IDX files: 784-256-10 (ReLU; optional --dropout), softmax
 * cross-entropy, Adam (lr 1e-3, inverse-time decay 1e-4 per step), mini-batches of 128
 * reshuffled every epoch. The last 5000 training images
 * are held out for validation; the t10k files are the test set.
 *   --data DIR  a directory with train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],
 *               t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]
 * Without --data it reads Debian's Fashion-MNIST (package dataset-fashion-mnist).
 *   --limit N   use only the first N training and test images (smoke tests) */

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
    ex_parse(argc, argv, &a, EX_LR | EX_DROPOUT | EX_BATCH | EX_DATA, extra,
             "mnist: a 784-256-10 classifier of MNIST-format images (default Fashion-MNIST)");
    ex_idx_data d;
    ex_idx_data_load("mnist", &a, limit, NULL, &d);

    tg_model *m = tg_model_new(TG_F32, a.seed);
    tg_dense_opts dense = tg_dense_defaults();
    dense.init = TG_INIT_HE_UNIFORM;
    tg_model_add_dense(m, d.x->shape[1], 256, &dense);
    tg_model_add_activation(m, TG_ACT_RELU, 0);
    if (a.dropout > 0)
        tg_model_add_dropout(m, a.dropout);
    tg_model_add_dense(m, 256, 10, NULL);
    tg_optim *opt = ex_adam("mnist", m, a.lr, 1e-4, 0);
    /* the training loop: mini-batches reshuffled every epoch, validation after each,
     * checkpoints, the CSV log and progress lines on stderr */
    tg_fit_opts fo = ex_fit_opts(&a, m, opt);
    fo.batch = a.batch;
    fo.x_val = d.xv;
    fo.y_val = d.yv;
    double secs = ex_fit("mnist", m, opt, d.x, d.y, &fo, NULL);
    ex_report_test(&a, "mnist", "", secs, m, 1000, &d);
    ex_idx_data_free(&d);
    ex_finish(&a, &opt, &m, NULL, 0);
    return 0;
}
