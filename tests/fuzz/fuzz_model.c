/* The checkpoint target's model (see fuzz_model.h). */
#include "fuzz_model.h"

tg_model *fuzz_model(tg_optim **opt)
{
    *opt = NULL;
    tg_model *m = tg_model_new(TG_F32, 1);
    if (!m || tg_model_add_dense(m, 3, 4, NULL) != TG_OK ||
        tg_model_add_activation(m, TG_ACT_TANH, 0) != TG_OK ||
        tg_model_add_dense(m, 4, 2, NULL) != TG_OK) {
        tg_model_free(&m);
        return NULL;
    }
    *opt = tg_adam_new(tg_model_param_count(m), tg_model_params(m), NULL);
    tg_tape *t = tg_tape_new();
    tg_tensor *x = tg_rand_normal(TG_F32, 2, (int64_t[]){5, 3}, 0, 1, 3, 0);
    bool ok = *opt && t && x &&
              tg_backward(t, tg_sum(t, tg_model_forward(m, t, x, true), 0, NULL, false)) == TG_OK &&
              tg_optim_step(*opt) == TG_OK;
    tg_tape_free(&t);
    tg_tensor_free(&x);
    if (!ok) {
        tg_optim_free(opt);
        tg_model_free(&m);
    }
    return m;
}
