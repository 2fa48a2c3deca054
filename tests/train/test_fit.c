/* tg_fit, tg_model_predict and the CSV log: tg_fit does exactly what the hand-written
 * loop does (same bits), converges, resumes to the same bits, stops early on the best
 * parameters, checks its checkpoint path before training, and writes one log row per
 * epoch. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "tapegrad.h"

static tg_tensor *x, *y, *xv, *yv;

static tg_model *model(void)
{
    tg_model *m = tg_model_new(TG_F32, 3);
    tg_model_add_dense(m, 2, 32, NULL);
    tg_model_add_activation(m, TG_ACT_TANH, 0);
    tg_model_add_dense(m, 32, 3, NULL);
    return m;
}

static tg_optim *adam(tg_model *m, double lr)
{
    tg_adam_opts o = tg_adam_defaults();
    o.lr = lr;
    return tg_adam_new(tg_model_param_count(m), tg_model_params(m), &o);
}

static void predict(void)
{
    tg_model *m = model();
    tg_tensor *all = tg_model_predict(m, xv, 1000), *one = tg_model_predict(m, xv, 1),
              *seven = tg_model_predict(m, xv, 7);
    CHECK(all && one && seven && all->shape[0] == xv->shape[0] && all->shape[1] == 3,
          "predict: %s", tg_last_error());
    double worst = 0;
    for (int64_t i = 0; all && one && seven && i < tg_tensor_numel(all); i++) {
        double v = tg_tensor_get_flat(all, i);
        worst = fmax(worst, fmax(fabs(v - tg_tensor_get_flat(one, i)),
                                 fabs(v - tg_tensor_get_flat(seven, i))));
    }
    CHECK(all && one && seven && worst < 1e-5, "batch size changes at most the last bits (%g)",
          worst);
    tg_tape *t = tg_tape_new();
    tg_tape_set_grad_mode(t, false);
    tg_tensor *direct = tg_model_forward(m, t, xv, false);
    CHECK(direct && all && tg_tensor_hash(direct) == tg_tensor_hash(all),
          "one batch of all rows equals one forward, bit for bit");
    CHECK(tg_model_predict(m, xv, 0) == NULL && tg_last_status() == TG_EINVAL, "batch 0 refused");
    CHECK(tg_model_predict(m, y, 4) == NULL && tg_last_status() != TG_OK, "wrong input refused: %s",
          tg_last_error());
    tg_tape_free(&t);
    tg_tensor *ts[] = {all, one, seven};
    for (int i = 0; i < 3; i++)
        tg_tensor_free(&ts[i]);
    tg_model_free(&m);
}

/* tg_fit without shuffling and penalty == the README's loop over the same batcher */
static void same_as_hand_loop(void)
{
    tg_model *a = model(), *b = model();
    tg_optim *oa = adam(a, 0.01), *ob = adam(b, 0.01);
    tg_fit_opts o = tg_fit_defaults();
    o.epochs = 3;
    o.batch = 50;
    o.seed = 9;
    CHECK(tg_fit(a, oa, x, y, &o, NULL) == TG_OK, "fit: %s", tg_last_error());
    tg_batcher *bt = tg_batcher_new(x, y, 50, true, false, 9);
    tg_tape *t = tg_tape_new();
    for (int e = 0; e < 3; e++) {
        tg_tensor *xb, *yb;
        while (tg_batcher_next(bt, &xb, &yb)) {
            tg_tape_reset(t);
            tg_tensor *l = tg_softmax_cross_entropy(t, tg_model_forward(b, t, xb, true), yb, NULL);
            tg_backward(t, tg_add(t, l, tg_model_penalty(b, t)));
            tg_optim_step_zero(ob);
        }
    }
    CHECK(tg_model_hash(a) == tg_model_hash(b), "tg_fit == the hand-written loop, bit for bit");
    tg_tape_free(&t);
    tg_batcher_free(&bt);
    tg_optim_free(&oa);
    tg_optim_free(&ob);
    tg_model_free(&a);
    tg_model_free(&b);
}

typedef struct {
    int calls;
    double val[64];
} seen;

static bool record(const tg_epoch_stats *s, void *ctx)
{
    seen *k = ctx;
    if (k->calls < 64)
        k->val[k->calls] = s->val_loss;
    k->calls++;
    return true;
}

static void converges_and_logs(void)
{
    char dir[] = "/tmp/tg-fit-XXXXXX", log[128];
    CHECK(mkdtemp(dir) != NULL, "temp dir");
    snprintf(log, sizeof log, "%s/log.csv", dir);
    tg_model *m = model();
    tg_optim *opt = adam(m, 0.02);
    tg_fit_opts o = tg_fit_defaults();
    seen k = {0};
    o.epochs = 40;
    o.x_val = xv;
    o.y_val = yv;
    o.log_csv = log;
    o.on_epoch = record;
    o.ctx = &k;
    tg_epoch_stats last;
    CHECK(tg_fit(m, opt, x, y, &o, &last) == TG_OK, "fit: %s", tg_last_error());
    CHECK(k.calls == 40 && last.epoch == 40 && last.epochs == 40, "40 epochs (%d)", k.calls);
    CHECK(last.val_acc > 0.8 && last.train_acc > 0.8, "learned: val acc %.3f train acc %.3f",
          last.val_acc, last.train_acc);
    CHECK(last.val_loss < k.val[0], "validation loss fell: %.4f -> %.4f", k.val[0], last.val_loss);
    FILE *f = fopen(log, "r");
    char line[256];
    int rows = 0;
    bool header = f && fgets(line, sizeof line, f) &&
                  !strcmp(line, "epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds\n");
    double lastval = NAN;
    while (f && fgets(line, sizeof line, f)) {
        int e;
        double tl, ta, vl, va, lr, sec;
        if (sscanf(line, "%d,%lf,%lf,%lf,%lf,%lf,%lf", &e, &tl, &ta, &vl, &va, &lr, &sec) == 7 &&
            e == rows + 1 && fabs(lr - 0.02) < 1e-9)
            rows++;
        lastval = vl;
    }
    if (f)
        fclose(f);
    CHECK(header && rows == 40, "log: header %d, %d well-formed rows", header, rows);
    CHECK(fabs(lastval - last.val_loss) < 1e-6, "log's last val_loss is the returned one");
    unlink(log);
    rmdir(dir);
    tg_optim_free(&opt);
    tg_model_free(&m);
}

static void early_stop_restores_best(void)
{
    tg_model *m = model();
    tg_optim *opt = adam(m, 0.5); /* far too large: the validation loss soon rises */
    tg_fit_opts o = tg_fit_defaults();
    seen k = {0};
    o.epochs = 60;
    o.x_val = xv;
    o.y_val = yv;
    o.early_stop_patience = 3;
    o.on_epoch = record;
    o.ctx = &k;
    tg_epoch_stats last;
    CHECK(tg_fit(m, opt, x, y, &o, &last) == TG_OK, "fit: %s", tg_last_error());
    CHECK(k.calls < 60 && last.epoch == k.calls, "stopped early, after %d epochs", k.calls);
    double best = INFINITY;
    for (int i = 0; i < k.calls && i < 64; i++)
        best = k.val[i] < best ? k.val[i] : best;
    tg_tensor *p = tg_model_predict(m, xv, 128);
    tg_tape *t = tg_tape_new();
    tg_tensor *l = p ? tg_softmax_cross_entropy(t, p, yv, NULL) : NULL;
    CHECK(l && tg_tensor_get_flat(l, 0) == best, "restored parameters give the best loss %.6f (%.6f)",
          best, l ? tg_tensor_get_flat(l, 0) : NAN);
    tg_tape_free(&t);
    tg_tensor_free(&p);
    tg_optim_free(&opt);
    tg_model_free(&m);
}

static void resume_same_bits(void)
{
    char dir[] = "/tmp/tg-fitr-XXXXXX", ck[128];
    CHECK(mkdtemp(dir) != NULL, "temp dir");
    snprintf(ck, sizeof ck, "%s/ck.safetensors", dir);
    tg_model *a = model(), *b = model(), *c = model();
    tg_optim *oa = adam(a, 0.01), *ob = adam(b, 0.01), *oc = adam(c, 0.01);
    tg_fit_opts o = tg_fit_defaults();
    o.epochs = 4;
    CHECK(tg_fit(a, oa, x, y, &o, NULL) == TG_OK, "straight");
    o.epochs = 2;
    o.checkpoint = ck;
    CHECK(tg_fit(b, ob, x, y, &o, NULL) == TG_OK, "first half: %s", tg_last_error());
    int64_t epoch = 0;
    CHECK(tg_checkpoint_load(ck, c, oc, &epoch) == TG_OK && epoch == 2, "load: %s", tg_last_error());
    o.epochs = 4;
    o.first_epoch = (int)epoch + 1;
    o.checkpoint = NULL;
    CHECK(tg_fit(c, oc, x, y, &o, NULL) == TG_OK, "second half");
    CHECK(tg_model_hash(a) == tg_model_hash(c), "2 + resumed 2 epochs == 4 straight");
    unlink(ck);
    rmdir(dir);
    tg_optim *os[] = {oa, ob, oc};
    tg_model *ms[] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        tg_optim_free(&os[i]);
        tg_model_free(&ms[i]);
    }
}

static void bad_arguments(void)
{
    tg_model *m = model();
    tg_optim *opt = adam(m, 0.01);
    tg_fit_opts o = tg_fit_defaults();
    seen k = {0};
    o.on_epoch = record;
    o.ctx = &k;
    o.checkpoint = "/nonexistent-dir/ck.safetensors";
    CHECK(tg_fit(m, opt, x, y, &o, NULL) == TG_EIO && k.calls == 0 &&
              strstr(tg_last_error(), "/nonexistent-dir"),
          "unwritable checkpoint refused before training: %s", tg_last_error());
    o.checkpoint = NULL;
    o.epochs = 0;
    CHECK(tg_fit(m, opt, x, y, &o, NULL) == TG_EINVAL, "epochs 0");
    o.epochs = 2;
    o.x_val = xv;
    CHECK(tg_fit(m, opt, x, y, &o, NULL) == TG_EINVAL && strstr(tg_last_error(), "x_val"),
          "x_val without y_val");
    o.x_val = NULL;
    o.early_stop_patience = 2;
    CHECK(tg_fit(m, opt, x, y, &o, NULL) == TG_EINVAL, "early stopping without validation data");
    o.early_stop_patience = 0;
    CHECK(tg_fit(m, opt, x, yv, &o, NULL) == TG_EINVAL, "rows differ");
    CHECK(tg_fit(NULL, opt, x, y, &o, NULL) == TG_EINVAL, "NULL model");
    o.log_csv = "/nonexistent-dir/log.csv";
    CHECK(tg_fit(m, opt, x, y, &o, NULL) == TG_EIO && k.calls == 0, "unwritable log: %s",
          tg_last_error());
    tg_optim_free(&opt);
    tg_model_free(&m);
}

int main(void)
{
    if (tg_data_vertical(200, 3, TG_F32, 1, &x, &y) != TG_OK ||
        tg_data_vertical(60, 3, TG_F32, 2, &xv, &yv) != TG_OK) {
        fprintf(stderr, "data: %s\n", tg_last_error());
        return 1;
    }
    predict();
    same_as_hand_loop();
    converges_and_logs();
    early_stop_restores_best();
    resume_same_bits();
    bad_arguments();
    tg_tensor *all[] = {x, y, xv, yv};
    for (int i = 0; i < 4; i++)
        tg_tensor_free(&all[i]);
    return check_summary();
}
