/* The default example: a 3-class spiral, 300 points per class,
 * Dense(2,512) + ReLU [+ Dropout] + Dense(512,3), L2 5e-4 on the hidden layer's weights
 * and biases, softmax cross-entropy, Adam (lr 0.05, inverse-time decay 5e-5), full
 * batch, 3000 epochs; validated on a separately generated spiral of 100 per class. */
#include <stdio.h>

#include "common.h"
#include "tapegrad.h"

typedef struct {
    double loss, acc;
} eval_result;

static eval_result evaluate(tg_model *m, tg_tape *t, tg_tensor *x, tg_tensor *y)
{
    tg_tape_reset(t);
    bool rec = tg_tape_set_grad_mode(t, false);
    tg_tensor *out = tg_model_forward(m, t, x, false);
    tg_tensor *loss = tg_softmax_cross_entropy(t, out, y, NULL);
    eval_result r = {loss ? tg_tensor_get_flat(loss, 0) : -1, out ? tg_accuracy(out, y) : 0};
    tg_tape_set_grad_mode(t, rec);
    return r;
}

int main(int argc, char **argv)
{
    ex_args a = {.epochs = 3000, .seed = 1, .threads = 1, .lr = 0.05};
    ex_parse(argc, argv, &a, EX_LR | EX_DROPOUT, NULL,
             "spiral: the default example, a 3-class spiral classifier (Dense 2-512-3, Adam)");
    tg_tensor *x = NULL, *y = NULL, *xv = NULL, *yv = NULL;
    if (tg_data_spiral(300, 3, TG_F32, a.seed, &x, &y) != TG_OK ||
        tg_data_spiral(100, 3, TG_F32, a.seed + 1000003, &xv, &yv) != TG_OK) {
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
    if (tg_model_add_dense(m, 512, 3, NULL) != TG_OK) {
        fprintf(stderr, "spiral: %s\n", tg_last_error());
        return 1;
    }
    tg_adam_opts ao = tg_adam_defaults();
    ao.lr = a.lr;
    ao.decay = 5e-5;
    ao.eps = 1e-7;
    tg_optim *opt = tg_adam_new(tg_model_param_count(m), tg_model_params(m), &ao);
    tg_tape *t = tg_tape_new();
    if (!opt || !t) {
        fprintf(stderr, "spiral: %s\n", tg_last_error());
        return 1;
    }
    double t0 = ex_now(), loss = 0;
    for (int epoch = ex_resume(&a, m, opt); epoch <= a.epochs; epoch++) {
        tg_tape_reset(t);
        tg_tensor *out = tg_model_forward(m, t, x, true);
        tg_tensor *data_loss = tg_softmax_cross_entropy(t, out, y, NULL);
        tg_tensor *total = tg_add(t, data_loss, tg_model_penalty(m, t));
        if (tg_backward(t, total) != TG_OK) {
            fprintf(stderr, "spiral: %s\n", tg_tape_error(t));
            return 1;
        }
        loss = tg_tensor_get_flat(data_loss, 0);
        tg_optim_step(opt);
        tg_optim_zero_grad(opt);
        ex_maybe_save(&a, m, opt, epoch);
        if (epoch % 100 == 0 || epoch == a.epochs)
            ex_progress(epoch, a.epochs, loss, "acc", tg_accuracy(out, y),
                        (double)epoch * 900.0 / (ex_now() - t0));
    }
    ex_progress_done();
    double secs = ex_now() - t0;
    eval_result tr = evaluate(m, t, x, y), va = evaluate(m, t, xv, yv);
    ex_report(&a, "spiral", secs, tr.loss, tr.acc, va.loss, va.acc);
    tg_tape_free(&t);
    tg_optim_free(&opt);
    ex_print_hash(&a, m);
    tg_model_free(&m);
    tg_tensor *all[] = {x, y, xv, yv};
    for (int i = 0; i < 4; i++)
        tg_tensor_free(&all[i]);
    return 0;
}
