/* The tapegrad side of the PyTorch export test (test_torch_export.py): builds small
 * models (dense with batch norm and a named layer, the same in F64, a CNN, a 2-D layer
 * norm), trains each a few steps (training mode: batch norm's running statistics and the
 * weights move away from their initial values, dropout is active), saves DIR/NAME.ckpt,
 * then runs an evaluation forward pass over a fixed input and writes DIR/NAME.io
 * (safetensors: "input" and "output"). The Python side exports the checkpoint, loads it
 * into the matching torch.nn.Sequential and compares the outputs.
 *
 * usage: torch_models DIR */
#include <stdio.h>
#include <string.h>

#include "tapegrad.h"

static int fail(const char *what, const char *msg)
{
    fprintf(stderr, "torch_models: %s: %s\n", what, msg);
    return 1;
}

/* dense layers, batch norm, every activation torch has a module for, a named layer */
static tg_model *mlp(tg_dtype dt, int64_t in_shape[2])
{
    tg_model *m = tg_model_new(dt, 3);
    tg_dense_opts nobias = tg_dense_defaults();
    nobias.bias = false;
    tg_model_add_dense(m, 5, 8, NULL);                     /* 0 */
    tg_model_add_batch_norm(m, 8, NULL);                   /* 1 */
    tg_model_add_activation(m, TG_ACT_LEAKY_RELU, 0.1);    /* 2 */
    tg_model_add_dropout(m, 0.3);                          /* 3 */
    tg_model_add_dense(m, 8, 8, NULL);                     /* 4: square, so a missing */
    tg_model_add_activation(m, TG_ACT_GELU, 0);            /* 5  transpose still loads */
    tg_model_add_dense(m, 8, 6, &nobias);                  /* 6 */
    tg_model_add_activation(m, TG_ACT_SOFTPLUS, 0);        /* 7 */
    tg_model_add_dense(m, 6, 3, NULL);                     /* 8 */
    tg_model_set_name(m, "head");
    tg_model_add_activation(m, TG_ACT_SIGMOID, 0);         /* 9 */
    in_shape[0] = 16;
    in_shape[1] = 5;
    return m;
}

/* convolutions (a non-square kernel, groups), batch norm, pools, flatten, dense */
static tg_model *cnn(int64_t in_shape[4])
{
    tg_model *m = tg_model_new(TG_F32, 5);
    tg_conv2d_layer_opts c1 = tg_conv2d_layer_defaults();
    c1.padding[0] = c1.padding[1] = 1;
    tg_model_add_conv2d(m, 2, 4, (const int64_t[]){3, 3}, &c1);       /* 0: [N,4,8,10] */
    tg_model_add_batch_norm(m, 4, NULL);                             /* 1 */
    tg_model_add_activation(m, TG_ACT_RELU, 0);                      /* 2 */
    tg_model_add_max_pool2d(m, (const int64_t[]){2, 2}, NULL);        /* 3: [N,4,4,5] */
    tg_conv2d_layer_opts c2 = tg_conv2d_layer_defaults();
    c2.groups = 2;
    tg_model_add_conv2d(m, 4, 6, (const int64_t[]){3, 2}, &c2);       /* 4: [N,6,2,4] */
    tg_model_add_activation(m, TG_ACT_TANH, 0);                      /* 5 */
    tg_model_add_avg_pool2d(m, (const int64_t[]){2, 2}, NULL);        /* 6: [N,6,1,2] */
    tg_model_add_flatten(m);                                         /* 7: [N,12] */
    tg_model_add_dense(m, 12, 5, NULL);                              /* 8 */
    in_shape[0] = 6;
    in_shape[1] = 2;
    in_shape[2] = 8;
    in_shape[3] = 10;
    return m;
}

/* a layer norm over two axes: its 2-D weight must not be transposed */
static tg_model *layer_norm(int64_t in_shape[3])
{
    tg_model *m = tg_model_new(TG_F32, 7);
    tg_model_add_layer_norm(m, 2, (const int64_t[]){3, 4}, NULL); /* 0 */
    tg_model_add_flatten(m);                                      /* 1 */
    tg_model_add_dense(m, 12, 4, NULL);                           /* 2 */
    tg_model_add_activation(m, TG_ACT_TANH, 0);                   /* 3 */
    tg_model_add_dense(m, 4, 2, NULL);                            /* 4 */
    in_shape[0] = 7;
    in_shape[1] = 3;
    in_shape[2] = 4;
    return m;
}

/* a few Adam steps on random targets, save, then the evaluation output of a new input */
static int run(const char *dir, const char *name, tg_model *m, tg_dtype dt, int ndim,
               const int64_t *in_shape)
{
    if (!m || tg_model_layer_count(m) < 2)
        return fail(name, tg_last_error());
    tg_adam_opts ao = tg_adam_defaults();
    ao.lr = 0.05;
    tg_optim *opt = tg_adam_new(tg_model_param_count(m), tg_model_params(m), &ao);
    tg_tape *t = tg_tape_new();
    tg_tensor *x = tg_rand_normal(dt, ndim, in_shape, 0.5, 1.5, 11, 0);
    tg_tensor *probe = tg_rand_normal(dt, ndim, in_shape, -0.3, 2, 11, 1);
    tg_tensor *out = NULL, *target = NULL;
    int rc = 0;
    for (int step = 0; step < 5 && rc == 0; step++) {
        tg_tape_reset(t);
        tg_tensor *y = tg_model_forward(m, t, x, true);
        if (!target && y) /* the target has the output's shape */
            target = tg_rand_normal(dt, y->ndim, y->shape, 0, 1, 11, 2);
        if (tg_backward(t, tg_mse(t, y, target)) != TG_OK || tg_optim_step_zero(opt) != TG_OK)
            rc = fail(name, tg_tape_error(t));
    }
    char path[512];
    snprintf(path, sizeof path, "%s/%s.ckpt", dir, name);
    if (rc == 0 && tg_checkpoint_save(path, m, NULL, 5) != TG_OK)
        rc = fail(path, tg_last_error());
    if (rc == 0) {
        tg_tape_reset(t);
        tg_tape_set_grad_mode(t, false);
        out = tg_model_forward(m, t, probe, false);
        snprintf(path, sizeof path, "%s/%s.io", dir, name);
        const char *names[] = {"input", "output"};
        const tg_tensor *ts[] = {probe, out};
        if (!out || tg_safetensors_write(path, 2, names, ts, 0, NULL) != TG_OK)
            rc = fail(path, out ? tg_last_error() : tg_tape_error(t));
    }
    tg_tensor_free(&x);
    tg_tensor_free(&probe);
    tg_tensor_free(&target);
    tg_tape_free(&t);
    tg_optim_free(&opt);
    tg_model_free(&m);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    int64_t s2[2], s2d[2], s3[3], s4[4];
    tg_model *a = mlp(TG_F32, s2), *b = mlp(TG_F64, s2d), *c = cnn(s4), *d = layer_norm(s3);
    int rc = run(argv[1], "mlp", a, TG_F32, 2, s2);
    rc |= run(argv[1], "mlp64", b, TG_F64, 2, s2d);
    rc |= run(argv[1], "cnn", c, TG_F32, 4, s4);
    rc |= run(argv[1], "layer_norm", d, TG_F32, 3, s3);
    return rc;
}
