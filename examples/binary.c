/* Binary logistic regression on a 2-class spiral: Dense(2,64)-ReLU-Dense(64,1)-sigmoid,
 * binary cross-entropy, L2 5e-4 on the hidden layer, Adam (decay 5e-7); validated on
 * a separately generated spiral. */
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
    tg_tensor *p = tg_model_forward(m, t, x, false);
    tg_tensor *l = tg_binary_cross_entropy(t, p, y);
    eval_result r = {l ? tg_tensor_get_flat(l, 0) : -1, p ? tg_binary_accuracy(p, y) : 0};
    tg_tape_set_grad_mode(t, rec);
    return r;
}

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
    tg_tensor *x = NULL, *lab = NULL, *xv = NULL, *labv = NULL;
    if (tg_data_spiral(100, 2, TG_F32, a.seed, &x, &lab) != TG_OK ||
        tg_data_spiral(100, 2, TG_F32, a.seed + 1000003, &xv, &labv) != TG_OK) {
        fprintf(stderr, "binary: %s\n", tg_last_error());
        return 1;
    }
    tg_tensor *y = as_column(lab), *yv = as_column(labv);
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
    tg_optim *opt = tg_adam_new(tg_model_param_count(m), tg_model_params(m), &ao);
    tg_tape *t = tg_tape_new();
    if (!opt || !t || !y || !yv) {
        fprintf(stderr, "binary: %s\n", tg_last_error());
        return 1;
    }
    double t0 = ex_now();
    for (int epoch = ex_resume(&a, m, opt); epoch <= a.epochs; epoch++) {
        tg_tape_reset(t);
        tg_tensor *p = tg_model_forward(m, t, x, true);
        tg_tensor *l = tg_binary_cross_entropy(t, p, y);
        if (tg_backward(t, tg_add(t, l, tg_model_penalty(m, t))) != TG_OK) {
            fprintf(stderr, "binary: %s\n", tg_tape_error(t));
            return 1;
        }
        if (epoch % 100 == 0 || epoch == a.epochs)
            ex_progress(epoch, a.epochs, tg_tensor_get_flat(l, 0), "acc", tg_binary_accuracy(p, y),
                        (double)epoch * 200 / (ex_now() - t0));
        tg_optim_step(opt);
        tg_optim_zero_grad(opt);
        ex_maybe_save(&a, m, opt, epoch);
    }
    ex_progress_done();
    double secs = ex_now() - t0;
    eval_result tr = evaluate(m, t, x, y), va = evaluate(m, t, xv, yv);
    ex_report(&a, "binary", secs, tr.loss, tr.acc, va.loss, va.acc);
    tg_tape_free(&t);
    tg_optim_free(&opt);
    ex_print_hash(&a, m);
    tg_model_free(&m);
    tg_tensor *all[] = {x, lab, xv, labv, y, yv};
    for (int i = 0; i < 6; i++)
        tg_tensor_free(&all[i]);
    return 0;
}
