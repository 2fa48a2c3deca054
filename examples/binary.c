/* Binary logistic regression on a 2-class spiral: Dense(2,64)-ReLU-Dense(64,1)-sigmoid,
 * binary cross-entropy, L2 5e-4 on the hidden layer, Adam (decay 5e-7), full batch;
 * validated on a separately generated spiral. */
#include <stdio.h>

#include "common.h"
#include "tapegrad.h"

/* labels [N] I32 -> targets [N, 1] float; frees the labels */
static tg_tensor *as_column(tg_tensor *labels)
{
    int64_t n = labels ? labels->shape[0] : 0;
    tg_tensor *y = labels ? tg_zeros(TG_F32, 2, (int64_t[]){n, 1}) : NULL;
    for (int64_t i = 0; y && i < n; i++)
        tg_tensor_set_flat(y, i, tg_tensor_get_flat(labels, i));
    tg_tensor_free(&labels);
    return y;
}

int main(int argc, char **argv)
{
    ex_args a = {.epochs = 3000, .seed = 1, .threads = 1, .lr = 0.02};
    ex_parse(argc, argv, &a, EX_LR, NULL,
             "binary: a 2-class spiral classifier with a sigmoid output and binary cross-entropy");
    ex_task task = {.name = "binary", .loss = TG_FIT_BCE, .penalty = true};
    tg_tensor *labels = NULL, *val_labels = NULL;
    if (tg_data_spiral(100, 2, TG_F32, a.seed, &task.x, &labels) != TG_OK ||
        tg_data_spiral(100, 2, TG_F32, a.seed + 1000003, &task.xv, &val_labels) != TG_OK ||
        !(task.y = as_column(labels)) || !(task.yv = as_column(val_labels))) {
        fprintf(stderr, "binary: %s\n", tg_last_error());
        return 1;
    }
    tg_model *m = tg_model_new(TG_F32, a.seed);
    ex_add_l2_hidden(m, 2, 64);
    tg_model_add_dense(m, 64, 1, NULL);
    tg_model_add_activation(m, TG_ACT_SIGMOID, 0);
    return ex_run_full_batch(&a, &task, m, ex_adam("binary", m, a.lr, 5e-7, 0));
}
