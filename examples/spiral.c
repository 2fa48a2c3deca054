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
    /* every epoch is one step on all 900 points: the loss plus the L2 penalty */
    ex_task task = {.name = "spiral", .loss = TG_FIT_SOFTMAX_CE, .penalty = true};
    if (tg_data_spiral(300, 3, TG_F32, a.seed, &task.x, &task.y) != TG_OK ||
        tg_data_spiral(100, 3, TG_F32, a.seed + 1000003, &task.xv, &task.yv) != TG_OK) {
        fprintf(stderr, "spiral: %s\n", tg_last_error());
        return 1;
    }
    tg_model *m = tg_model_new(TG_F32, a.seed);
    ex_add_l2_hidden(m, 2, 512);
    if (a.dropout > 0)
        tg_model_add_dropout(m, a.dropout);
    tg_model_add_dense(m, 512, 3, NULL);
    return ex_run_full_batch(&a, &task, m, ex_adam("spiral", m, a.lr, 5e-5, 1e-7));
}
