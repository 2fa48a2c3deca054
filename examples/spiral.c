/* The default example: a 3-class spiral, 300 points per class,
 * Dense(2,512) + ReLU [+ Dropout] + Dense(512,3), L2 5e-4 on the hidden layer's weights
 * and biases, softmax cross-entropy, Adam (lr 0.05, inverse-time decay 5e-5), full
 * batch, 3000 epochs; validated on a separately generated spiral of 100 per class. */
#include <stdio.h>

#include "common.h"
#include "tapegrad.h"

int main(int argc, char **argv)
{
    ex_args a = {.epochs = 3000, .seed = 1, .threads = 1, .lr = 0.05};
    ex_parse(argc, argv, &a, EX_LR | EX_DROPOUT, NULL,
             "spiral: the default example, a 3-class spiral classifier (Dense 2-512-3, Adam)");
    tg_tensor *d[4] = {NULL}; /* x, y, and the validation spiral */
    if (tg_data_spiral(300, 3, TG_F32, a.seed, &d[0], &d[1]) != TG_OK ||
        tg_data_spiral(100, 3, TG_F32, a.seed + 1000003, &d[2], &d[3]) != TG_OK) {
        fprintf(stderr, "spiral: %s\n", tg_last_error());
        return 1;
    }
    tg_model *m = tg_model_new(TG_F32, a.seed);
    tg_dense_opts hidden = tg_dense_defaults();
    hidden.l2_weight = 5e-4;
    hidden.l2_bias = 5e-4;
    tg_model_add_dense(m, 2, 512, &hidden);
    tg_model_add_activation(m, TG_ACT_RELU, 0);
    if (a.dropout > 0)
        tg_model_add_dropout(m, a.dropout);
    tg_model_add_dense(m, 512, 3, NULL);
    tg_adam_opts ao = tg_adam_defaults();
    ao.lr = a.lr;
    ao.decay = 5e-5;
    ao.eps = 1e-7;
    tg_optim *opt = ex_adam("spiral", m, &ao);
    /* full batch: every epoch is one step on all 900 points (loss + the L2 penalty) */
    tg_fit_opts fo = ex_full_batch_opts(&a, m, opt, d[0]);
    fo.x_val = d[2];
    fo.y_val = d[3];
    double secs = ex_fit("spiral", m, opt, d[0], d[1], &fo, NULL);
    ex_report(&a, "spiral", secs, m, TG_FIT_SOFTMAX_CE, d[0], d[1], d[2], d[3]);
    ex_finish(&a, &opt, &m, d, 4);
    return 0;
}
