/* tg_fit, tg_model_predict and the progress/CSV-log helper (see train.h). Built only
 * from the public API of the other modules. */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../util.h"
#include "train.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ------------------------------------------------------------------ progress */

struct tg_progress {
    FILE *out, *log;
    bool tty, line_open;
    double t0;
};

tg_progress *tg_progress_new(FILE *out, const char *log_csv)
{
    tg_progress *p = tg__calloc(sizeof *p);
    if (!p)
        return tg__error(TG_ENOMEM, "tg_progress_new: out of memory");
    p->out = out;
    p->tty = out && isatty(fileno(out));
    p->t0 = now();
    if (log_csv) {
        p->log = fopen(log_csv, "a");
        if (!p->log) {
            int e = errno;
            tg__mfree(p);
            return tg__error(TG_EIO, "tg_progress_new: cannot open the log %s: %s", log_csv,
                             strerror(e));
        }
        if (ftell(p->log) == 0) /* a new or empty file gets the header */
            fprintf(p->log, "epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds\n");
        fflush(p->log);
    }
    return p;
}

void tg_progress_batch(tg_progress *p, int epoch, int epochs, int64_t i, int64_t n, double loss)
{
    if (!p || !p->tty)
        return;
    int width = 24, done = n > 0 ? (int)((double)width * (double)i / (double)n) : 0;
    char bar[32];
    for (int k = 0; k < width; k++)
        bar[k] = k < done ? '#' : '.';
    bar[width] = 0;
    fprintf(p->out, "\repoch %d/%d [%s] %lld/%lld  loss %.4f ", epoch, epochs, bar, (long long)i,
            (long long)n, loss);
    fflush(p->out);
    p->line_open = true;
}

/* "0.1234" or "-" for NaN */
static const char *num(char *buf, size_t n, const char *fmt, double v)
{
    if (isnan(v))
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, fmt, v);
    return buf;
}

tg_status tg_progress_epoch(tg_progress *p, const tg_epoch_stats *s)
{
    if (!p || !s)
        return tg__error_status(TG_EINVAL, "tg_progress_epoch: NULL argument");
    if (p->out) {
        char a[4][32];
        if (p->line_open)
            fputc('\r', p->out);
        fprintf(p->out,
                "epoch %d/%d  train loss %s acc %s  val loss %s acc %s  lr %.3g  %.1f s, ~%.1f s "
                "left%s\n",
                s->epoch, s->epochs, num(a[0], 32, "%.4f", s->train_loss),
                num(a[1], 32, "%.4f", s->train_acc), num(a[2], 32, "%.4f", s->val_loss),
                num(a[3], 32, "%.4f", s->val_acc), s->lr, s->seconds, s->remaining,
                p->line_open ? "          " : "");
        fflush(p->out);
        p->line_open = false;
    }
    if (p->log) {
        double v[6] = {s->train_loss, s->train_acc, s->val_loss, s->val_acc, s->lr, s->seconds};
        fprintf(p->log, "%d", s->epoch);
        for (int i = 0; i < 6; i++)
            isnan(v[i]) ? fputs(",", p->log) : fprintf(p->log, ",%.9g", v[i]);
        fputc('\n', p->log);
        if (fflush(p->log) != 0 || ferror(p->log))
            return tg__error_status(TG_EIO, "tg_progress_epoch: writing the log failed: %s",
                                    strerror(errno));
    }
    return TG_OK;
}

void tg_progress_free(tg_progress **pp)
{
    if (!pp || !*pp)
        return;
    if ((*pp)->log)
        fclose((*pp)->log);
    tg__mfree(*pp);
    *pp = NULL;
}

/* ------------------------------------------------------------------ predict */

tg_tensor *tg_model_predict(tg_model *m, const tg_tensor *x, int64_t batch)
{
    const char *fn = "tg_model_predict";
    if (!m || !x || batch < 1)
        return tg__error(TG_EINVAL, "%s: NULL model or data, or batch < 1", fn);
    if (x->tape || x->ndim < 1 || !tg_tensor_is_contiguous(x))
        return tg__error(TG_EINVAL, "%s: x %s must be a persistent contiguous [N, ...] tensor", fn,
                         tg__shape_str(x).s);
    int64_t n = x->shape[0];
    tg_tape *t = tg_tape_new();
    if (!t)
        return NULL;
    tg_tape_set_grad_mode(t, false);
    tg_tensor *out = NULL;
    for (int64_t lo = 0; lo < n || (n == 0 && !out); lo += batch) {
        int64_t hi = lo + batch < n ? lo + batch : n;
        int64_t start[TG_MAX_DIMS] = {lo}, stop[TG_MAX_DIMS] = {hi}, step[TG_MAX_DIMS];
        for (int d = 0; d < x->ndim; d++) {
            if (d)
                stop[d] = x->shape[d];
            step[d] = 1;
        }
        tg_tensor *rows = tg_view_slice(x, start, stop, step);
        tg_tape_reset(t);
        tg_tensor *y = rows ? tg_model_forward(m, t, rows, false) : NULL;
        tg_status st = rows ? tg_tape_status(t) : TG_ENOMEM;
        if (y && !out) { /* the output's shape is known after the first chunk */
            int64_t shape[TG_MAX_DIMS];
            memcpy(shape, y->shape, sizeof shape);
            shape[0] = n;
            out = tg_zeros(y->dtype, y->ndim, shape);
            st = out ? TG_OK : TG_ENOMEM;
        }
        if (y && out) {
            int64_t per = hi > lo ? tg_tensor_numel(y) / (hi - lo) : 0;
            memcpy((char *)out->data + (size_t)(lo * per) * tg_dtype_size(out->dtype), y->data,
                   (size_t)tg_tensor_numel(y) * tg_dtype_size(y->dtype));
        }
        bool sliced = rows != NULL;
        tg_tensor_free(&rows);
        if (!y || !out) {
            if (st == TG_OK)
                st = TG_ENOMEM;
            tg__error_status(st, "%s: rows %lld..%lld: %s", fn, (long long)lo, (long long)hi,
                             sliced && !y ? tg_tape_error(t) : "out of memory");
            tg_tensor_free(&out);
            tg_tape_free(&t);
            return NULL;
        }
        if (n == 0)
            break;
    }
    tg_tape_free(&t);
    return out;
}

/* ---------------------------------------------------------------------- fit */

tg_fit_opts tg_fit_defaults(void)
{
    tg_fit_opts o = {.epochs = 10, .first_epoch = 1, .batch = 32, .shuffle = true,
                     .loss = TG_FIT_SOFTMAX_CE, .penalty = true, .eval_batch = 1024};
    return o;
}

static tg_tensor *loss_of(tg_tape *t, tg_fit_loss k, tg_tensor *out, const tg_tensor *y)
{
    switch (k) {
    case TG_FIT_SOFTMAX_CE: return tg_softmax_cross_entropy(t, out, y, NULL);
    case TG_FIT_BCE_LOGITS: return tg_bce_with_logits(t, out, y);
    case TG_FIT_MSE: return tg_mse(t, out, y);
    }
    return NULL;
}

/* rows of out right: argmax for classes, logit >= 0 vs y >= 0.5 for binary; NaN for MSE */
static double hits(tg_fit_loss k, const tg_tensor *out, const tg_tensor *y)
{
    int64_t rows = out->ndim ? out->shape[0] : 1;
    if (k == TG_FIT_SOFTMAX_CE)
        return tg_accuracy(out, y) * (double)rows;
    if (k == TG_FIT_MSE)
        return NAN;
    int64_t n = tg_tensor_numel(out), right = 0;
    for (int64_t i = 0; i < n; i++)
        right += (tg_tensor_get_flat(out, i) >= 0) == (tg_tensor_get_flat(y, i) >= 0.5);
    return n ? (double)right * (double)rows / (double)n : 0;
}

/* validation loss and accuracy in evaluation mode */
static tg_status evaluate(tg_model *m, tg_tape *t, const tg_fit_opts *o, double *loss, double *acc)
{
    *loss = *acc = NAN;
    if (!o->x_val)
        return TG_OK;
    tg_tensor *pred = tg_model_predict(m, o->x_val, o->eval_batch);
    if (!pred)
        return tg_last_status();
    tg_tape_reset(t);
    bool rec = tg_tape_set_grad_mode(t, false);
    tg_tensor *l = loss_of(t, o->loss, pred, o->y_val);
    tg_status st = tg_tape_status(t);
    if (l) {
        *loss = tg_tensor_get_flat(l, 0);
        int64_t rows = pred->ndim ? pred->shape[0] : 1;
        *acc = rows ? hits(o->loss, pred, o->y_val) / (double)rows : NAN;
    } else {
        tg__error_status(st, "tg_fit: validation: %s", tg_tape_error(t));
    }
    tg_tape_set_grad_mode(t, rec);
    tg_tensor_free(&pred);
    return l ? TG_OK : st;
}

static tg_status check_opts(const tg_model *m, const tg_optim *opt, const tg_tensor *x,
                            const tg_tensor *y, const tg_fit_opts *o)
{
    const char *fn = "tg_fit";
    if (!m || !opt || !x || !y || !o)
        return tg__error_status(TG_EINVAL, "%s: NULL model, optimizer, data or options", fn);
    if (o->epochs < 1 || o->first_epoch < 1 || o->batch < 1 || o->eval_batch < 1 ||
        o->early_stop_patience < 0 || o->checkpoint_every < 0 || !(o->early_stop_min_delta >= 0) ||
        !(o->base_lr >= 0))
        return tg__error_status(TG_EINVAL,
                                "%s: epochs %d, first_epoch %d, batch %lld, eval_batch %lld, "
                                "patience %d, checkpoint_every %d: want epochs, first_epoch, "
                                "batches >= 1, the rest >= 0",
                                fn, o->epochs, o->first_epoch, (long long)o->batch,
                                (long long)o->eval_batch, o->early_stop_patience,
                                o->checkpoint_every);
    if ((unsigned)o->loss > TG_FIT_MSE)
        return tg__error_status(TG_EINVAL, "%s: unknown loss %d", fn, (int)o->loss);
    if (!o->x_val != !o->y_val)
        return tg__error_status(TG_EINVAL, "%s: give both x_val and y_val, or neither", fn);
    if ((o->early_stop_patience || o->plateau) && !o->x_val)
        return tg__error_status(TG_EINVAL,
                                "%s: early stopping and reduce-on-plateau need validation data", fn);
    if (x->ndim < 1 || y->ndim < 1 || x->shape[0] != y->shape[0] || x->shape[0] < 1)
        return tg__error_status(TG_EINVAL, "%s: x %s and y %s need the same number (>= 1) of rows",
                                fn, tg__shape_str(x).s, tg__shape_str(y).s);
    if (o->checkpoint) { /* fail now, not after the training */
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", o->checkpoint);
        char *slash = strrchr(dir, '/');
        if (!slash)
            snprintf(dir, sizeof dir, ".");
        else
            slash == dir ? (void)(dir[1] = 0) : (void)(*slash = 0);
        struct stat st;
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || access(dir, W_OK | X_OK) != 0)
            return tg__error_status(TG_EIO, "%s: cannot write the checkpoint %s into %s", fn,
                                    o->checkpoint, dir);
    }
    return TG_OK;
}

tg_status tg_fit(tg_model *m, tg_optim *opt, const tg_tensor *x, const tg_tensor *y,
                 const tg_fit_opts *o, tg_epoch_stats *last)
{
    tg_status st = check_opts(m, opt, x, y, o);
    if (st != TG_OK)
        return st;
    int epoch = o->first_epoch;
    tg_tape *t = tg_tape_new();
    tg_batcher *b = tg_batcher_new(x, y, o->batch, o->shuffle, o->drop_last, o->seed);
    tg_progress *pr = t && b ? tg_progress_new(o->progress, o->log_csv) : NULL;
    tg_early_stop *es = NULL;
    if (pr && o->early_stop_patience)
        es = tg_early_stop_new(tg_model_param_count(m), tg_model_params(m), o->early_stop_patience,
                               o->early_stop_min_delta);
    if (!t || !b || !pr || (o->early_stop_patience && !es)) {
        st = t ? tg_last_status() : TG_ENOMEM;
        goto done;
    }
    /* resuming: the batcher replays the finished epochs' orders */
    for (int e = 1; e < o->first_epoch; e++) {
        tg_tensor *xb, *yb;
        while (tg_batcher_next(b, &xb, &yb))
            ;
    }
    double plr = o->base_lr > 0 ? o->base_lr : tg_optim_base_lr(opt), t0 = now();
    bool set_lr = o->schedule || o->plateau;
    int64_t rows = x->shape[0];
    int64_t nb = o->drop_last ? rows / o->batch : (rows + o->batch - 1) / o->batch;
    tg_epoch_stats s = {.epochs = o->epochs};
    for (; epoch <= o->epochs; epoch++) {
        double lr = o->schedule ? tg_lr_schedule_at(o->schedule, epoch - 1, plr) : plr;
        if (set_lr && tg_optim_set_lr(opt, lr) != TG_OK) {
            st = tg_last_status();
            goto done;
        }
        double sum_loss = 0, right = 0;
        int64_t seen = 0, i = 0;
        tg_tensor *xb, *yb;
        while (tg_batcher_next(b, &xb, &yb)) {
            tg_tape_reset(t);
            tg_tensor *out = tg_model_forward(m, t, xb, true);
            tg_tensor *l = loss_of(t, o->loss, out, yb);
            tg_tensor *total = o->penalty && l ? tg_add(t, l, tg_model_penalty(m, t)) : l;
            if (tg_backward(t, total) != TG_OK) {
                st = tg__error_status(tg_tape_status(t), "tg_fit: epoch %d, batch %lld: %s",
                                      epoch, (long long)i, tg_tape_error(t));
                goto done;
            }
            if (tg_optim_step_zero(opt) != TG_OK) {
                st = tg_last_status();
                goto done;
            }
            int64_t r = xb->shape[0];
            sum_loss += tg_tensor_get_flat(l, 0) * (double)r;
            right += hits(o->loss, out, yb);
            seen += r;
            tg_progress_batch(pr, epoch, o->epochs, ++i, nb, sum_loss / (double)seen);
        }
        s.epoch = epoch;
        s.train_loss = seen ? sum_loss / (double)seen : NAN;
        s.train_acc = seen ? right / (double)seen : NAN;
        s.lr = tg_optim_lr(opt);
        if ((st = evaluate(m, t, o, &s.val_loss, &s.val_acc)) != TG_OK)
            goto done;
        s.seconds = now() - t0;
        s.remaining = s.seconds / (double)(epoch - o->first_epoch + 1) * (double)(o->epochs - epoch);
        if (o->plateau) {
            double nl = tg_plateau_update(o->plateau, s.val_loss, plr);
            if (isnan(nl)) {
                st = tg_last_status();
                goto done;
            }
            plr = nl;
        }
        bool stop = es && tg_early_stop_update(es, s.val_loss);
        if (stop && tg_early_stop_restore(es) != TG_OK) {
            st = tg_last_status();
            goto done;
        }
        if (o->checkpoint && (stop || epoch == o->epochs ||
                              (o->checkpoint_every && epoch % o->checkpoint_every == 0)) &&
            (st = tg_checkpoint_save(o->checkpoint, m, opt, epoch)) != TG_OK)
            goto done;
        if ((st = tg_progress_epoch(pr, &s)) != TG_OK)
            goto done;
        if (last)
            *last = s;
        bool go_on = !o->on_epoch || o->on_epoch(&s, o->ctx);
        if (stop || !go_on)
            break;
    }
done:
    /* an error of a call made here (the batcher, the log, the lr, the validation data,
     * ...) gets the documented context */
    if (st != TG_OK && strncmp(tg_last_error(), "tg_fit:", 7) != 0)
        tg__error_status(st, "tg_fit: epoch %d: %s", epoch, tg_last_error());
    tg_early_stop_free(&es);
    tg_progress_free(&pr);
    tg_batcher_free(&b);
    tg_tape_free(&t);
    return st;
}
