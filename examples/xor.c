/* XOR: 2-4-1 network, tanh hidden layer, sigmoid output, binary cross-entropy, Adam. */
#include <stdio.h>

#include "common.h"
#include "tapegrad.h"

int main(int argc, char **argv)
{
    ex_args a = {.epochs = 2000, .seed = 1, .threads = 1, .lr = 0.05};
    ex_parse(argc, argv, &a, EX_LR, NULL, "xor: a 2-4-1 network learning XOR with binary cross-entropy");
    tg_tensor *d[2] = {NULL};
    if (tg_data_xor(TG_F32, &d[0], &d[1]) != TG_OK) {
        fprintf(stderr, "xor: %s\n", tg_last_error());
        return 1;
    }
    tg_model *m = tg_model_new(TG_F32, a.seed);
    tg_model_add_dense(m, 2, 4, NULL);
    tg_model_add_activation(m, TG_ACT_TANH, 0);
    tg_model_add_dense(m, 4, 1, NULL);
    tg_model_add_activation(m, TG_ACT_SIGMOID, 0);
    tg_adam_opts ao = tg_adam_defaults();
    ao.lr = a.lr;
    tg_optim *opt = ex_adam("xor", m, &ao);
    /* XOR has no separate validation set: the four points are the whole problem, so the
     * validation figures repeat the training ones (in evaluation mode) */
    tg_fit_opts fo = ex_full_batch_opts(&a, m, opt, d[0]);
    fo.loss = TG_FIT_BCE;
    fo.penalty = false;
    fo.x_val = d[0];
    fo.y_val = d[1];
    double secs = ex_fit("xor", m, opt, d[0], d[1], &fo, NULL);
    ex_report(&a, "xor", secs, m, TG_FIT_BCE, d[0], d[1], d[0], d[1]);
    ex_finish(&a, &opt, &m, d, 2);
    return 0;
}
