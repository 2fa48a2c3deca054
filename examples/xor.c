/* XOR: 2-4-1 network, tanh hidden layer, sigmoid output, binary cross-entropy, Adam. */
#include <stdio.h>

#include "common.h"
#include "tapegrad.h"

int main(int argc, char **argv)
{
    ex_args a = {.epochs = 2000, .seed = 1, .threads = 1, .lr = 0.05};
    ex_parse(argc, argv, &a, EX_LR, NULL, "xor: a 2-4-1 network learning XOR with binary cross-entropy");
    tg_tensor *x = NULL, *y = NULL;
    if (tg_data_xor(TG_F32, &x, &y) != TG_OK) {
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
    tg_optim *opt = tg_adam_new(tg_model_param_count(m), tg_model_params(m), &ao);
    tg_tape *t = tg_tape_new();
    if (!opt || !t) {
        fprintf(stderr, "xor: %s\n", tg_last_error());
        return 1;
    }
    double t0 = ex_now(), loss = 0, acc = 0;
    for (int epoch = ex_resume(&a, m, opt); epoch <= a.epochs; epoch++) {
        tg_tape_reset(t);
        tg_tensor *p = tg_model_forward(m, t, x, true);
        tg_tensor *l = tg_binary_cross_entropy(t, p, y);
        if (tg_backward(t, l) != TG_OK) {
            fprintf(stderr, "xor: %s\n", tg_tape_error(t));
            return 1;
        }
        loss = tg_tensor_get_flat(l, 0);
        acc = tg_binary_accuracy(p, y);
        tg_optim_step(opt);
        tg_optim_zero_grad(opt);
        ex_maybe_save(&a, m, opt, epoch);
        if (epoch % 100 == 0 || epoch == a.epochs)
            ex_progress(epoch, a.epochs, loss, "acc", acc, (double)epoch * 4 / (ex_now() - t0));
    }
    ex_progress_done();
    /* final evaluation in eval mode; XOR has no separate validation set: the four
     * points are the whole problem, so val_* repeats the train figures */
    tg_tape_reset(t);
    tg_tensor *p = tg_model_forward(m, t, x, false);
    tg_tensor *l = tg_binary_cross_entropy(t, p, y);
    loss = tg_tensor_get_flat(l, 0);
    acc = tg_binary_accuracy(p, y);
    double secs = ex_now() - t0;
    ex_report(&a, "xor", secs, loss, acc, loss, acc);
    tg_tape_free(&t);
    tg_optim_free(&opt);
    ex_print_hash(&a, m);
    tg_model_free(&m);
    tg_tensor_free(&x);
    tg_tensor_free(&y);
    return 0;
}
