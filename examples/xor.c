/* XOR: 2-4-1 network, tanh hidden layer, sigmoid output, binary cross-entropy, Adam. */
#include <stdio.h>

#include "common.h"
#include "tapegrad.h"

int main(int argc, char **argv)
{
    ex_args a = {.epochs = 2000, .seed = 1, .threads = 1, .lr = 0.05};
    ex_parse(argc, argv, &a, EX_LR, NULL, "xor: a 2-4-1 network learning XOR with binary cross-entropy");
    ex_task task = {.name = "xor", .loss = TG_FIT_BCE, .penalty = false};
    if (tg_data_xor(TG_F32, &task.x, &task.y) != TG_OK) {
        fprintf(stderr, "xor: %s\n", tg_last_error());
        return 1;
    }
    /* no separate validation set: the four points are the whole problem, so the
     * validation figures repeat the training ones (in evaluation mode) */
    task.xv = task.x;
    task.yv = task.y;
    tg_model *m = tg_model_new(TG_F32, a.seed);
    tg_model_add_dense(m, 2, 4, NULL);
    tg_model_add_activation(m, TG_ACT_TANH, 0);
    tg_model_add_dense(m, 4, 1, NULL);
    tg_model_add_activation(m, TG_ACT_SIGMOID, 0);
    return ex_run_full_batch(&a, &task, m, ex_adam("xor", m, a.lr, 0, 0));
}
