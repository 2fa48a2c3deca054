/* Binary logistic regression on a 2-class spiral: Dense(2,64)-ReLU-Dense(64,1)-sigmoid,
 * binary cross-entropy, L2 5e-4 on the hidden layer, Adam (decay 5e-7), full batch;
 * validated on a separately generated spiral. */
#include <stdio.h>

#include "common.h"
#include "tapegrad.h"

/* labels [N] I32 -> targets [N, 1] float */
static tg_tensor *as_column(const tg_tensor *labels)
{
    int64_t n = labels->shape[0];
    tg_tensor *y = tg_zeros(TG_F32, 2, (int64_t[]){n, 1});
    for (int64_t i = 0; y && i < n; i++)
        tg_tensor_set_flat(y, i, tg_tensor_get_flat(labels, i));
    return y;
}

int main(int argc, char **argv)
{
    ex_args a = {.epochs = 3000, .seed = 1, .threads = 1, .lr = 0.02};
    ex_parse(argc, argv, &a, EX_LR, NULL,
             "binary: a 2-class spiral classifier with a sigmoid output and binary cross-entropy");
    tg_tensor *d[6] = {NULL}; /* x, y as a column, validation x and y, the I32 labels */
    if (tg_data_spiral(100, 2, TG_F32, a.seed, &d[0], &d[4]) != TG_OK ||
        tg_data_spiral(100, 2, TG_F32, a.seed + 1000003, &d[2], &d[5]) != TG_OK ||
        !(d[1] = as_column(d[4])) || !(d[3] = as_column(d[5]))) {
        fprintf(stderr, "binary: %s\n", tg_last_error());
        return 1;
    }
    tg_model *m = tg_model_new(TG_F32, a.seed);
    tg_dense_opts hidden = tg_dense_defaults();
    hidden.l2_weight = 5e-4;
    hidden.l2_bias = 5e-4;
    tg_model_add_dense(m, 2, 64, &hidden);
    tg_model_add_activation(m, TG_ACT_RELU, 0);
    tg_model_add_dense(m, 64, 1, NULL);
    tg_model_add_activation(m, TG_ACT_SIGMOID, 0);
    tg_adam_opts ao = tg_adam_defaults();
    ao.lr = a.lr;
    ao.decay = 5e-7;
    tg_optim *opt = ex_adam("binary", m, &ao);
    tg_fit_opts fo = ex_full_batch_opts(&a, m, opt, d[0]);
    fo.loss = TG_FIT_BCE;
    fo.x_val = d[2];
    fo.y_val = d[3];
    double secs = ex_fit("binary", m, opt, d[0], d[1], &fo, NULL);
    ex_report(&a, "binary", secs, m, TG_FIT_BCE, d[0], d[1], d[2], d[3]);
    ex_finish(&a, &opt, &m, d, 6);
    return 0;
}
