/* Regression of sin(2 pi x) on [0, 1]: Dense(1,64)-ReLU-Dense(64,64)-ReLU-Dense(64,1)
 * linear output, mean squared error, Adam, full batch; validated on points between the
 * training ones. Reports val_mse. */
#include <stdio.h>

#include "common.h"
#include "tapegrad.h"

int main(int argc, char **argv)
{
    ex_args a = {.epochs = 3000, .seed = 1, .threads = 1, .lr = 0.005};
    ex_parse(argc, argv, &a, EX_LR, NULL, "sine: a 1-64-64-1 regression of sin(x) with mean squared error");
    ex_task task = {.name = "sine", .loss = TG_FIT_MSE, .penalty = false};
    if (tg_data_sine(1000, TG_F32, 0.0, &task.x, &task.y) != TG_OK ||
        tg_data_sine(250, TG_F32, 0.5 / 250, &task.xv, &task.yv) != TG_OK) {
        fprintf(stderr, "sine: %s\n", tg_last_error());
        return 1;
    }
    tg_model *m = tg_model_new(TG_F32, a.seed);
    for (int i = 0; i < 2; i++) {
        tg_model_add_dense(m, i ? 64 : 1, 64, NULL);
        tg_model_add_activation(m, TG_ACT_RELU, 0);
    }
    tg_model_add_dense(m, 64, 1, NULL);
    return ex_run_full_batch(&a, &task, m, ex_adam("sine", m, a.lr, 1e-3, 0));
}
