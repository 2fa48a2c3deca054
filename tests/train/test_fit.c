/* tg_fit, tg_model_predict, tg_evaluate and the CSV log: tg_fit does exactly what the
 * hand-written loop does (same bits: mini-batches, full batch, BCE on probabilities,
 * MSE, another shuffle stream), converges, resumes to the same bits, stops early on the
 * best parameters and statistics, checks its checkpoint path before training, calls
 * before_epoch, and writes one log row per epoch and progress lines every N. */
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

/* one column per row: 1 when the class is 0 (BCE targets), or a smooth function of x
 * (regression targets) */
static tg_tensor *column(bool regression)
{
    int64_t n = x->shape[0];
    tg_tensor *c = tg_zeros(TG_F32, 2, (int64_t[]){n, 1});
    for (int64_t i = 0; c && i < n; i++)
        tg_tensor_set_flat(c, i, regression ? 0.5 * tg_tensor_get_flat(x, 2 * i) -
                                                  tg_tensor_get_flat(x, 2 * i + 1)
                                            : tg_tensor_get_flat(y, i) == 0);
    return c;
}

static tg_model *one_output(bool sigmoid)
{
    tg_model *m = tg_model_new(TG_F32, 5);
    tg_model_add_dense(m, 2, 16, NULL);
    tg_model_add_activation(m, TG_ACT_RELU, 0);
    tg_model_add_dense(m, 16, 1, NULL);
    if (sigmoid)
        tg_model_add_activation(m, TG_ACT_SIGMOID, 0);
    return m;
}

/* full-batch training (one batch of all rows in order) with a sigmoid output and BCE, and
 * a regression with MSE, are the plain loops over x, bit for bit */
static void full_batch_same_as_hand_loop(void)
{
    for (int reg = 0; reg < 2; reg++) {
        tg_tensor *c = column(reg);
        tg_model *a = one_output(!reg), *b = one_output(!reg);
        tg_optim *oa = adam(a, 0.01), *ob = adam(b, 0.01);
        tg_fit_opts o = tg_fit_defaults();
        o.epochs = 25;
        o.batch = x->shape[0];
        o.shuffle = false;
        o.penalty = false;
        o.loss = reg ? TG_FIT_MSE : TG_FIT_BCE;
        tg_epoch_stats last;
        CHECK(tg_fit(a, oa, x, c, &o, &last) == TG_OK, "fit: %s", tg_last_error());
        tg_tape *t = tg_tape_new();
        double loss = 0, acc = 0;
        for (int e = 0; e < 25; e++) {
            tg_tape_reset(t);
            tg_tensor *out = tg_model_forward(b, t, x, true);
            tg_tensor *l = reg ? tg_mse(t, out, c) : tg_binary_cross_entropy(t, out, c);
            tg_backward(t, l);
            loss = tg_tensor_get_flat(l, 0);
            acc = reg ? NAN : tg_binary_accuracy(out, c);
            tg_optim_step(ob);
            tg_optim_zero_grad(ob);
        }
        CHECK(tg_model_hash(a) == tg_model_hash(b), "%s: tg_fit == the full-batch loop",
              reg ? "mse" : "bce");
        CHECK(last.train_loss == loss, "%s: the epoch's loss is the step's (%g, %g)",
              reg ? "mse" : "bce", last.train_loss, loss);
        CHECK(reg ? isnan(last.train_acc) : last.train_acc == acc, "accuracy %g (%g)",
              last.train_acc, acc);
        double el, ea;
        CHECK(tg_evaluate(a, x, c, o.loss, 7, &el, &ea) == TG_OK && fabs(el - loss) < 0.05 &&
                  (reg ? isnan(ea) : ea > 0.5),
              "%s: evaluate %g %g", reg ? "mse" : "bce", el, ea);
        tg_tape_free(&t);
        tg_optim_free(&oa);
        tg_optim_free(&ob);
        tg_model_free(&a);
        tg_model_free(&b);
        tg_tensor_free(&c);
    }
}

/* shuffle_stream s: epoch e is ordered by tg_permutation(N, seed, s + e - 1); with
 * drop_last only full batches step */
static void shuffle_stream_order(void)
{
    tg_model *a = model(), *b = model();
    tg_optim *oa = adam(a, 0.01), *ob = adam(b, 0.01);
    tg_fit_opts o = tg_fit_defaults();
    o.epochs = 3;
    o.batch = 48; /* 600 rows: 12 full batches and 24 rows dropped */
    o.drop_last = true;
    o.seed = 4;
    o.shuffle_stream = 1001;
    o.penalty = false;
    CHECK(tg_fit(a, oa, x, y, &o, NULL) == TG_OK, "fit: %s", tg_last_error());
    int64_t n = x->shape[0], *perm = malloc(sizeof *perm * (size_t)n);
    tg_tape *t = tg_tape_new();
    for (int e = 1; e <= 3; e++) {
        tg_permutation(n, 4, 1000 + (uint64_t)e, perm);
        for (int64_t lo = 0; lo + 48 <= n; lo += 48) {
            tg_tensor *xb = tg_take_rows(x, 48, perm + lo), *yb = tg_take_rows(y, 48, perm + lo);
            tg_tape_reset(t);
            tg_backward(t, tg_softmax_cross_entropy(t, tg_model_forward(b, t, xb, true), yb, NULL));
            tg_optim_step_zero(ob);
            tg_tensor_free(&xb);
            tg_tensor_free(&yb);
        }
    }
    CHECK(tg_model_hash(a) == tg_model_hash(b), "stream 1001 == permutations 1000 + epoch");
    free(perm);
    tg_tape_free(&t);
    tg_optim_free(&oa);
    tg_optim_free(&ob);
    tg_model_free(&a);
    tg_model_free(&b);
}

typedef struct {
    int calls, stop_at;
    uint64_t hash[64];
    double err[64];
    tg_model *m;
} watch;

static bool hash_epoch(const tg_epoch_stats *s, void *ctx)
{
    watch *w = ctx;
    if (s->epoch <= 64) {
        w->hash[s->epoch - 1] = tg_model_hash(w->m);
        w->err[s->epoch - 1] = 1 - s->val_acc;
    }
    return true;
}

/* early stopping on the validation error over parameters and batch-norm statistics: the
 * model ends as it was after the best epoch (its fingerprint covers both), also when
 * all epochs ran; best_epoch names that epoch */
static void early_stop_error_and_buffers(void)
{
    for (int run = 0; run < 2; run++) {
        tg_model *m = tg_model_new(TG_F32, 3);
        tg_model_add_dense(m, 2, 32, &(tg_dense_opts){.bias = false, .init = TG_INIT_HE_UNIFORM});
        tg_model_add_batch_norm(m, 32, NULL);
        tg_model_add_activation(m, TG_ACT_RELU, 0);
        tg_model_add_dense(m, 32, 3, NULL);
        tg_optim *opt = adam(m, 0.3); /* too large: the error rate goes up and down */
        watch w = {.m = m};
        tg_fit_opts o = tg_fit_defaults();
        o.epochs = 30;
        o.x_val = xv;
        o.y_val = yv;
        o.monitor = TG_FIT_VAL_ERROR;
        o.early_stop_patience = run ? 3 : 1000; /* run 0 never stops */
        o.on_epoch = hash_epoch;
        o.ctx = &w;
        tg_epoch_stats last;
        CHECK(tg_fit(m, opt, x, y, &o, &last) == TG_OK, "fit: %s", tg_last_error());
        int best = 0;
        for (int e = 1; e < last.epoch; e++)
            best = w.err[e] < w.err[best] ? e : best;
        CHECK(run ? last.epoch < 30 : last.epoch == 30, "run %d: %d epochs", run, last.epoch);
        CHECK(last.best_epoch == best + 1, "run %d: best epoch %d, want %d", run, last.best_epoch,
              best + 1);
        CHECK(best + 1 < last.epoch && tg_model_hash(m) == w.hash[best],
              "run %d: the model is epoch %d's (parameters and statistics), not epoch %d's", run,
              best + 1, last.epoch);
        tg_optim_free(&opt);
        tg_model_free(&m);
    }
}

static bool count_and_stop(int epoch, void *ctx)
{
    watch *w = ctx;
    w->calls++;
    return epoch < w->stop_at;
}

/* before_epoch runs before each epoch and stops training when it says so; progress
 * lines come every progress_every epochs and at the last, the log gets every epoch */
static void before_epoch_and_progress_every(void)
{
    char dir[] = "/tmp/tg-fitp-XXXXXX", log[128], out[128];
    CHECK(mkdtemp(dir) != NULL, "temp dir");
    snprintf(log, sizeof log, "%s/log.csv", dir);
    snprintf(out, sizeof out, "%s/progress.txt", dir);
    tg_model *m = model();
    tg_optim *opt = adam(m, 0.01);
    watch w = {.stop_at = 1000};
    tg_fit_opts o = tg_fit_defaults();
    o.epochs = 10;
    o.progress_every = 4;
    o.progress = fopen(out, "w");
    o.log_csv = log;
    o.before_epoch = count_and_stop;
    o.ctx = &w;
    CHECK(o.progress && tg_fit(m, opt, x, y, &o, NULL) == TG_OK, "fit: %s", tg_last_error());
    fclose(o.progress);
    int lines = 0, rows = 0;
    char line[512], epochs[64] = "";
    FILE *f = fopen(out, "r");
    while (f && fgets(line, sizeof line, f)) {
        int e;
        if (sscanf(line, "epoch %d/10", &e) == 1 && strlen(epochs) < 50)
            snprintf(epochs + strlen(epochs), sizeof epochs - strlen(epochs), "%d ", e);
        lines++;
    }
    if (f)
        fclose(f);
    f = fopen(log, "r");
    while (f && fgets(line, sizeof line, f))
        rows++;
    if (f)
        fclose(f);
    CHECK(w.calls == 10 && lines == 3 && !strcmp(epochs, "4 8 10 ") && rows == 11,
          "before_epoch %d calls, progress lines for epochs %s(%d lines), %d log lines", w.calls,
          epochs, lines, rows);
    w = (watch){.stop_at = 3};
    o.progress = NULL;
    o.log_csv = NULL;
    tg_epoch_stats last = {0};
    CHECK(tg_fit(m, opt, x, y, &o, &last) == TG_OK && w.calls == 3 && last.epoch == 2,
          "before_epoch stopped the run before epoch 3: %d calls, last epoch %d", w.calls,
          last.epoch);
    o.progress_every = 0;
    CHECK(tg_fit(m, opt, x, y, &o, NULL) == TG_EINVAL && strstr(tg_last_error(), "progress_every"),
          "progress_every 0 refused: %s", tg_last_error());
    unlink(log);
    unlink(out);
    rmdir(dir);
    tg_optim_free(&opt);
    tg_model_free(&m);
}

/* tg_evaluate: chunks change at most the last bits; accuracy is tg_accuracy's */
static void evaluate_in_chunks(void)
{
    tg_model *m = model();
    double l1, a1, l7, a7;
    CHECK(tg_evaluate(m, xv, yv, TG_FIT_SOFTMAX_CE, 1000, &l1, &a1) == TG_OK &&
              tg_evaluate(m, xv, yv, TG_FIT_SOFTMAX_CE, 7, &l7, &a7) == TG_OK,
          "evaluate: %s", tg_last_error());
    tg_tensor *p = tg_model_predict(m, xv, 1000);
    tg_tape *t = tg_tape_new();
    tg_tensor *l = tg_softmax_cross_entropy(t, p, yv, NULL);
    CHECK(l && l1 == tg_tensor_get_flat(l, 0) && fabs(l7 - l1) < 1e-6,
          "one chunk is the loss of all rows (%.9g %.9g), 7-row chunks its weighted mean (%.9g)",
          l1, l ? tg_tensor_get_flat(l, 0) : NAN, l7);
    CHECK(a1 == tg_accuracy(p, yv) && a7 == a1, "accuracy %g %g", a1, a7);
    CHECK(tg_evaluate(m, xv, y, TG_FIT_SOFTMAX_CE, 7, &l1, &a1) == TG_EINVAL &&
              tg_evaluate(m, xv, yv, TG_FIT_SOFTMAX_CE, 0, &l1, &a1) == TG_EINVAL &&
              tg_evaluate(m, xv, yv, (tg_fit_loss)9, 7, &l1, &a1) == TG_EINVAL &&
              tg_evaluate(m, NULL, yv, TG_FIT_SOFTMAX_CE, 7, &l1, &a1) == TG_EINVAL &&
              tg_evaluate(m, xv, NULL, TG_FIT_SOFTMAX_CE, 7, &l1, &a1) == TG_EINVAL,
          "rows differ, batch 0, unknown loss, NULL data refused");
    tg_tensor *c = column(false);
    CHECK(tg_evaluate(m, x, c, TG_FIT_SOFTMAX_CE, 7, &l1, &a1) != TG_OK &&
              strstr(tg_last_error(), "tg_evaluate: rows 0..7"),
          "a loss that fails names the rows: %s", tg_last_error());
    tg_tensor_free(&c);
    tg_tape_free(&t);
    tg_tensor_free(&p);
    tg_model_free(&m);
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
    o.loss = TG_FIT_MSE;
    o.monitor = TG_FIT_VAL_ERROR;
    CHECK(tg_fit(m, opt, x, y, &o, NULL) == TG_EINVAL && strstr(tg_last_error(), "monitor"),
          "no error rate of a regression: %s", tg_last_error());
    o.loss = TG_FIT_SOFTMAX_CE;
    o.monitor = TG_FIT_VAL_LOSS;
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
    full_batch_same_as_hand_loop();
    shuffle_stream_order();
    early_stop_error_and_buffers();
    before_epoch_and_progress_every();
    evaluate_in_chunks();
    tg_tensor *all[] = {x, y, xv, yv};
    for (int i = 0; i < 4; i++)
        tg_tensor_free(&all[i]);
    return check_summary();
}
