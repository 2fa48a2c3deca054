/* Regression of sin(2 pi x) on [0, 1]: Dense(1,64)-ReLU-Dense(64,64)-ReLU-Dense(64,1)
 * linear output, mean squared error, Adam; validated on points between the training
 * ones. Reports val_mse. */
#include <stdio.h>

#include "common.h"
#include "tapegrad.h"

static double mse_of(tg_model *m, tg_tape *t, tg_tensor *x, tg_tensor *y)
{
    tg_tape_reset(t);
    bool rec = tg_tape_set_grad_mode(t, false);
    tg_tensor *l = tg_mse(t, tg_model_forward(m, t, x, false), y);
    double v = l ? tg_tensor_get_flat(l, 0) : -1;
    tg_tape_set_grad_mode(t, rec);
    return v;
}

int main(int argc, char **argv)
{
    ex_args a = {.epochs = 3000, .seed = 1, .threads = 1, .lr = 0.005};
    ex_parse(argc, argv, &a, EX_LR, NULL, "sine: a 1-64-64-1 regression of sin(x) with mean squared error");
    tg_tensor *x = NULL, *y = NULL, *xv = NULL, *yv = NULL;
    if (tg_data_sine(1000, TG_F32, 0.0, &x, &y) != TG_OK ||
        tg_data_sine(250, TG_F32, 0.5 / 250, &xv, &yv) != TG_OK) {
        fprintf(stderr, "sine: %s\n", tg_last_error());
        return 1;
    }
    tg_model *m = tg_model_new(TG_F32, a.seed);
    tg_model_add_dense(m, 1, 64, NULL);
    tg_model_add_activation(m, TG_ACT_RELU, 0);
    tg_model_add_dense(m, 64, 64, NULL);
    tg_model_add_activation(m, TG_ACT_RELU, 0);
    tg_model_add_dense(m, 64, 1, NULL);
    tg_adam_opts ao = tg_adam_defaults();
    ao.lr = a.lr;
    ao.decay = 1e-3;
    tg_optim *opt = tg_adam_new(tg_model_param_count(m), tg_model_params(m), &ao);
    tg_tape *t = tg_tape_new();
    if (!opt || !t) {
        fprintf(stderr, "sine: %s\n", tg_last_error());
        return 1;
    }
    double t0 = ex_now(), loss = 0;
    for (int epoch = ex_resume(&a, m, opt); epoch <= a.epochs; epoch++) {
        tg_tape_reset(t);
        tg_tensor *out = tg_model_forward(m, t, x, true);
        tg_tensor *l = tg_mse(t, out, y);
        if (tg_backward(t, l) != TG_OK) {
            fprintf(stderr, "sine: %s\n", tg_tape_error(t));
            return 1;
        }
        loss = tg_tensor_get_flat(l, 0);
        tg_optim_step(opt);
        tg_optim_zero_grad(opt);
        ex_maybe_save(&a, m, opt, epoch);
        if (epoch % 100 == 0 || epoch == a.epochs)
            ex_progress(epoch, a.epochs, loss, "acc", tg_regression_accuracy(out, y, 250),
                        (double)epoch * 1000 / (ex_now() - t0));
    }
    ex_progress_done();
    double secs = ex_now() - t0;
    double tr = mse_of(m, t, x, y), va = mse_of(m, t, xv, yv);
    if (a.json)
        printf("{\"train_loss\":%.8f,\"train_mse\":%.8f,\"val_loss\":%.8f,\"val_mse\":%.8f,"
               "\"epochs\":%d,\"seconds\":%.3f}\n",
               tr, tr, va, va, a.epochs, secs);
    else
        printf("sine: %d epochs in %.2f s: train mse %.6f, validation mse %.6f\n", a.epochs, secs,
               tr, va);
    tg_tape_free(&t);
    tg_optim_free(&opt);
    ex_print_hash(&a, m);
    tg_model_free(&m);
    tg_tensor *all[] = {x, y, xv, yv};
    for (int i = 0; i < 4; i++)
        tg_tensor_free(&all[i]);
    return 0;
}
