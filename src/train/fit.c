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

static void print_epoch(tg_progress *p, const tg_epoch_stats *s)
{
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

/* the epoch's log row (when there is a log), and its line when `line` */
static tg_status progress_epoch(tg_progress *p, const tg_epoch_stats *s, bool line)
{
    if (!p || !s)
        return tg__error_status(TG_EINVAL, "tg_progress_epoch: NULL argument");
    if (p->out && line)
        print_epoch(p, s);
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

tg_status tg_progress_epoch(tg_progress *p, const tg_epoch_stats *s)
{
    return progress_epoch(p, s, true);
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

/* rows [lo, hi) of x (persistent, rank >= 1) as a persistent view the caller frees */
static tg_tensor *row_view(const tg_tensor *x, int64_t lo, int64_t hi)
{
    int64_t start[TG_MAX_DIMS] = {lo}, stop[TG_MAX_DIMS] = {hi}, step[TG_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) {
        if (d)
            stop[d] = x->shape[d];
        step[d] = 1;
    }
    return tg_view_slice(x, start, stop, step);
}

static bool persistent_rows(const tg_tensor *x)
{
    return x && !x->tape && x->ndim >= 1 && tg_tensor_is_contiguous(x);
}

tg_tensor *tg_model_predict(tg_model *m, const tg_tensor *x, int64_t batch)
{
    const char *fn = "tg_model_predict";
    if (!m || !x || batch < 1)
        return tg__error(TG_EINVAL, "%s: NULL model or data, or batch < 1", fn);
    if (!persistent_rows(x))
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
        tg_tensor *rows = row_view(x, lo, hi);
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

/* ----------------------------------------------------------------- evaluate */

static tg_tensor *loss_of(tg_tape *t, tg_fit_loss k, tg_tensor *out, const tg_tensor *y)
{
    switch (k) {
    case TG_FIT_SOFTMAX_CE: return tg_softmax_cross_entropy(t, out, y, NULL);
    case TG_FIT_BCE_LOGITS: return tg_bce_with_logits(t, out, y);
    case TG_FIT_MSE: return tg_mse(t, out, y);
    case TG_FIT_BCE: return tg_binary_cross_entropy(t, out, y);
    }
    return NULL;
}

/* what the accuracy counts in out: rows for classes, elements for the BCE losses */
static double units(tg_fit_loss k, const tg_tensor *out)
{
    return k == TG_FIT_SOFTMAX_CE ? (double)out->shape[0] : (double)tg_tensor_numel(out);
}

/* how many of those units are right: argmax for classes, logit >= 0 or p >= 0.5 against
 * y >= 0.5 for binary (a whole count: the metrics' fractions times the units, rounded);
 * NaN for MSE */
static double hits(tg_fit_loss k, const tg_tensor *out, const tg_tensor *y)
{
    if (k == TG_FIT_MSE)
        return NAN;
    if (k == TG_FIT_SOFTMAX_CE || k == TG_FIT_BCE)
        return round((k == TG_FIT_BCE ? tg_binary_accuracy(out, y) : tg_accuracy(out, y)) *
                     units(k, out));
    int64_t n = tg_tensor_numel(out), right = 0;
    for (int64_t i = 0; i < n; i++)
        right += (tg_tensor_get_flat(out, i) >= 0) == (tg_tensor_get_flat(y, i) >= 0.5);
    return (double)right;
}

/* x and y: persistent, contiguous, the same number (>= 1) of rows */
static tg_status check_rows(const char *fn, const tg_tensor *x, const tg_tensor *y)
{
    if (!x || !y)
        return tg__error_status(TG_EINVAL, "%s: NULL x or y", fn);
    if (persistent_rows(x) && persistent_rows(y) && x->shape[0] == y->shape[0] && x->shape[0] >= 1)
        return TG_OK;
    return tg__error_status(TG_EINVAL,
                            "%s: x %s and y %s must be persistent contiguous tensors with the "
                            "same number (>= 1) of rows",
                            fn, tg__shape_str(x).s, tg__shape_str(y).s);
}

static bool known_loss(tg_fit_loss k) { return (unsigned)k <= TG_FIT_BCE; }

/* tg_evaluate's loop on the tape t (grad mode off while it runs, then as it was) */
static tg_status evaluate_on(tg_tape *t, tg_model *m, const tg_tensor *x, const tg_tensor *y,
                             tg_fit_loss k, int64_t batch, double *loss, double *acc)
{
    const char *fn = "tg_evaluate";
    bool mode = tg_tape_set_grad_mode(t, false);
    int64_t n = x->shape[0];
    double sum = 0, right = 0, seen = 0;
    tg_status st = TG_OK;
    for (int64_t lo = 0; lo < n && st == TG_OK; lo += batch) {
        int64_t hi = lo + batch < n ? lo + batch : n;
        tg_tensor *xs = row_view(x, lo, hi), *ys = row_view(y, lo, hi);
        tg_tape_reset(t);
        tg_tensor *out = xs && ys ? tg_model_forward(m, t, xs, false) : NULL;
        tg_tensor *l = out ? loss_of(t, k, out, ys) : NULL;
        if (l) {
            sum += tg_tensor_get_flat(l, 0) * (double)(hi - lo);
            right += hits(k, out, ys);
            seen += units(k, out);
        } else {
            st = xs && ys ? tg_tape_status(t) : TG_ENOMEM;
            tg__error_status(st, "%s: rows %lld..%lld: %s", fn, (long long)lo, (long long)hi,
                             xs && ys ? tg_tape_error(t) : "out of memory");
        }
        tg_tensor_free(&xs);
        tg_tensor_free(&ys);
    }
    tg_tape_set_grad_mode(t, mode);
    if (st == TG_OK && loss)
        *loss = sum / (double)n;
    if (st == TG_OK && acc)
        *acc = right / seen;
    return st;
}

tg_status tg_evaluate(tg_model *m, const tg_tensor *x, const tg_tensor *y, tg_fit_loss k,
                      int64_t batch, double *loss, double *acc)
{
    const char *fn = "tg_evaluate";
    if (!m || batch < 1 || !known_loss(k))
        return tg__error_status(TG_EINVAL, "%s: NULL model, batch %lld < 1 or unknown loss %d", fn,
                                (long long)batch, (int)k);
    if (check_rows(fn, x, y) != TG_OK)
        return TG_EINVAL;
    tg_tape *t = tg_tape_new();
    if (!t)
        return tg_last_status();
    tg_status st = evaluate_on(t, m, x, y, k, batch, loss, acc);
    tg_tape_free(&t);
    return st;
}

/* ------------------------------------------------------------------ batches */

/* One epoch's mini-batches: rows of x and y copied in the order of a permutation into
 * buffers allocated once (full batches, and the smaller last one). */
typedef struct {
    const tg_tensor *x, *y;
    tg_tensor *xb[2], *yb[2]; /* [batch, ...] and [n % batch, ...] (NULL when none) */
    int64_t *perm, n, batch, pos;
} batches;

static tg_tensor *buffer(const tg_tensor *like, int64_t rows)
{
    int64_t shape[TG_MAX_DIMS];
    memcpy(shape, like->shape, sizeof shape);
    shape[0] = rows;
    return tg_zeros(like->dtype, like->ndim, shape);
}

static tg_status batches_init(batches *b, const tg_tensor *x, const tg_tensor *y, int64_t batch)
{
    memset(b, 0, sizeof *b);
    b->x = x;
    b->y = y;
    b->n = x->shape[0];
    b->batch = batch < b->n ? batch : b->n;
    int64_t rest = b->n % b->batch;
    b->perm = tg__malloc(sizeof(int64_t) * (size_t)b->n);
    b->xb[0] = buffer(x, b->batch);
    b->yb[0] = buffer(y, b->batch);
    if (rest) {
        b->xb[1] = buffer(x, rest);
        b->yb[1] = buffer(y, rest);
    }
    if (!b->perm || !b->xb[0] || !b->yb[0] || (rest && (!b->xb[1] || !b->yb[1])))
        return tg__error_status(TG_ENOMEM, "tg_fit: out of memory for %lld-row batches",
                                (long long)b->batch);
    return TG_OK;
}

static void batches_free(batches *b)
{
    tg__mfree(b->perm);
    for (int i = 0; i < 2; i++) {
        tg_tensor_free(&b->xb[i]);
        tg_tensor_free(&b->yb[i]);
    }
}

static void batches_start(batches *b, const tg_fit_opts *o, int epoch)
{
    if (o->shuffle)
        tg_permutation(b->n, o->seed, o->shuffle_stream + (uint64_t)(epoch - 1), b->perm);
    else
        for (int64_t i = 0; i < b->n; i++)
            b->perm[i] = i;
    b->pos = 0;
}

static void gather(tg_tensor *dst, const tg_tensor *src, const int64_t *idx)
{
    size_t es = tg_dtype_size(src->dtype);
    size_t row = (size_t)(tg_tensor_numel(src) / src->shape[0]) * es;
    const char *base = (const char *)src->data + (size_t)src->offset * es;
    for (int64_t i = 0; i < dst->shape[0]; i++)
        memcpy((char *)dst->data + (size_t)i * row, base + (size_t)idx[i] * row, row);
}

/* the next batch of the epoch, or false at its end */
static bool batches_next(batches *b, bool drop_last, tg_tensor **xb, tg_tensor **yb)
{
    int64_t left = b->n - b->pos;
    if (left <= 0 || (drop_last && left < b->batch))
        return false;
    int i = left < b->batch;
    *xb = b->xb[i];
    *yb = b->yb[i];
    gather(*xb, b->x, b->perm + b->pos);
    gather(*yb, b->y, b->perm + b->pos);
    b->pos += (*xb)->shape[0];
    return true;
}

/* ---------------------------------------------------------------------- fit */

tg_fit_opts tg_fit_defaults(void)
{
    tg_fit_opts o = {.epochs = 10, .first_epoch = 1, .batch = 32, .shuffle = true,
                     .loss = TG_FIT_SOFTMAX_CE, .penalty = true, .eval_batch = 1024,
                     .progress_every = 1};
    return o;
}

static tg_status check_opts(const tg_model *m, const tg_optim *opt, const tg_tensor *x,
                            const tg_tensor *y, const tg_fit_opts *o)
{
    const char *fn = "tg_fit";
    if (!m || !opt || !x || !y || !o)
        return tg__error_status(TG_EINVAL, "%s: NULL model, optimizer, data or options", fn);
    if (o->epochs < 1 || o->first_epoch < 1 || o->batch < 1 || o->eval_batch < 1 ||
        o->early_stop_patience < 0 || o->checkpoint_every < 0 || o->progress_every < 1 ||
        !(o->early_stop_min_delta >= 0) || !(o->base_lr >= 0))
        return tg__error_status(TG_EINVAL,
                                "%s: epochs %d, first_epoch %d, batch %lld, eval_batch %lld, "
                                "progress_every %d, patience %d, checkpoint_every %d: want "
                                "epochs, first_epoch, batches, progress_every >= 1, the rest >= 0",
                                fn, o->epochs, o->first_epoch, (long long)o->batch,
                                (long long)o->eval_batch, o->progress_every,
                                o->early_stop_patience, o->checkpoint_every);
    if (!known_loss(o->loss))
        return tg__error_status(TG_EINVAL, "%s: unknown loss %d", fn, (int)o->loss);
    if ((unsigned)o->monitor > TG_FIT_VAL_ERROR ||
        (o->monitor == TG_FIT_VAL_ERROR && o->loss == TG_FIT_MSE))
        return tg__error_status(TG_EINVAL, "%s: monitor %d: want the validation loss, or the "
                                "error rate of a classifier", fn, (int)o->monitor);
    if (!o->x_val != !o->y_val)
        return tg__error_status(TG_EINVAL, "%s: give both x_val and y_val, or neither", fn);
    if ((o->early_stop_patience || o->plateau) && !o->x_val)
        return tg__error_status(TG_EINVAL,
                                "%s: early stopping and reduce-on-plateau need validation data", fn);
    if (check_rows(fn, x, y) != TG_OK || (o->x_val && check_rows(fn, o->x_val, o->y_val) != TG_OK))
        return TG_EINVAL;
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

/* early stopping over the parameters and then the buffers (batch norm's statistics) */
static tg_early_stop *early_stop_new(tg_model *m, const tg_fit_opts *o)
{
    int np = tg_model_param_count(m), nb = tg_model_buffer_count(m);
    tg_tensor **state = tg__malloc(sizeof *state * (size_t)(np + nb));
    if (!state)
        return tg__error(TG_ENOMEM, "tg_fit: out of memory");
    memcpy(state, tg_model_params(m), sizeof *state * (size_t)np);
    if (nb)
        memcpy(state + np, tg_model_buffers(m), sizeof *state * (size_t)nb);
    tg_early_stop *es = tg_early_stop_new(np + nb, state, o->early_stop_patience,
                                          o->early_stop_min_delta);
    tg__mfree(state);
    return es;
}

/* whether epoch gets a progress line: every progress_every-th epoch, and the last */
static bool shown(const tg_fit_opts *o, int epoch)
{
    return epoch % o->progress_every == 0 || epoch == o->epochs;
}

/* one epoch of steps; the epoch's mean loss and accuracy into s */
static tg_status train_epoch(tg_model *m, tg_optim *opt, tg_tape *t, batches *b,
                             const tg_fit_opts *o, tg_progress *pr, int epoch, tg_epoch_stats *s)
{
    bool line = shown(o, epoch);
    int64_t nb = o->drop_last ? b->n / b->batch : (b->n + b->batch - 1) / b->batch;
    double sum_loss = 0, right = 0, seen = 0;
    int64_t rows = 0, i = 0;
    tg_tensor *xb, *yb;
    batches_start(b, o, epoch);
    while (batches_next(b, o->drop_last, &xb, &yb)) {
        tg_tape_reset(t);
        tg_tensor *out = tg_model_forward(m, t, xb, true);
        tg_tensor *l = loss_of(t, o->loss, out, yb);
        tg_tensor *total = o->penalty && l ? tg_add(t, l, tg_model_penalty(m, t)) : l;
        if (tg_backward(t, total) != TG_OK)
            return tg__error_status(tg_tape_status(t), "tg_fit: epoch %d, batch %lld: %s", epoch,
                                    (long long)i, tg_tape_error(t));
        if (tg_optim_step_zero(opt) != TG_OK)
            return tg_last_status();
        int64_t r = xb->shape[0];
        sum_loss += tg_tensor_get_flat(l, 0) * (double)r;
        right += hits(o->loss, out, yb);
        seen += units(o->loss, out);
        rows += r;
        if (line)
            tg_progress_batch(pr, epoch, o->epochs, ++i, nb, sum_loss / (double)rows);
    }
    s->epoch = epoch;
    s->train_loss = rows ? sum_loss / (double)rows : NAN;
    s->train_acc = seen > 0 ? right / seen : NAN;
    s->lr = tg_optim_lr(opt);
    return TG_OK;
}

/* the validation figures, on the epochs that use them (every epoch with a callback that
 * watches them, else those with a progress line) */
static tg_status validate(tg_model *m, tg_tape *t, const tg_fit_opts *o, int epoch,
                          tg_epoch_stats *s, double *watch)
{
    s->val_loss = s->val_acc = *watch = NAN;
    bool used = o->early_stop_patience || o->plateau || o->log_csv || o->on_epoch ||
                shown(o, epoch);
    if (!o->x_val || !used)
        return TG_OK;
    /* on the training tape: its arena, already as large as a step needs, is reused (a
     * tape of its own would map and zero fresh pages every epoch) */
    tg_status st = evaluate_on(t, m, o->x_val, o->y_val, o->loss, o->eval_batch, &s->val_loss,
                               &s->val_acc);
    *watch = o->monitor == TG_FIT_VAL_ERROR ? 1 - s->val_acc : s->val_loss;
    return st;
}

tg_status tg_fit(tg_model *m, tg_optim *opt, const tg_tensor *x, const tg_tensor *y,
                 const tg_fit_opts *o, tg_epoch_stats *last)
{
    tg_status st = check_opts(m, opt, x, y, o);
    if (st != TG_OK)
        return st;
    int epoch = o->first_epoch;
    batches b;
    tg_tape *t = tg_tape_new();
    st = t ? batches_init(&b, x, y, o->batch) : tg_last_status();
    tg_progress *pr = st == TG_OK ? tg_progress_new(o->progress, o->log_csv) : NULL;
    tg_early_stop *es = pr && o->early_stop_patience ? early_stop_new(m, o) : NULL;
    if (st != TG_OK || !pr || (o->early_stop_patience && !es)) {
        st = st != TG_OK ? st : tg_last_status();
        goto done;
    }
    double plr = o->base_lr > 0 ? o->base_lr : tg_optim_base_lr(opt), t0 = now();
    bool set_lr = o->schedule || o->plateau;
    tg_epoch_stats s = {.epochs = o->epochs};
    for (; epoch <= o->epochs; epoch++) {
        double lr = o->schedule ? tg_lr_schedule_at(o->schedule, epoch - 1, plr) : plr, watch;
        if (set_lr && tg_optim_set_lr(opt, lr) != TG_OK) {
            st = tg_last_status();
            goto done;
        }
        if (o->before_epoch && !o->before_epoch(epoch, o->ctx))
            break;
        if ((st = train_epoch(m, opt, t, &b, o, pr, epoch, &s)) != TG_OK ||
            (st = validate(m, t, o, epoch, &s, &watch)) != TG_OK)
            goto done;
        s.seconds = now() - t0;
        s.remaining = s.seconds / (double)(epoch - o->first_epoch + 1) * (double)(o->epochs - epoch);
        if (o->plateau) {
            double nl = tg_plateau_update(o->plateau, watch, plr);
            if (isnan(nl)) {
                st = tg_last_status();
                goto done;
            }
            plr = nl;
        }
        bool stop = es && tg_early_stop_update(es, watch);
        if (es && tg_early_stop_best_epoch(es) >= 0)
            s.best_epoch = o->first_epoch + (int)tg_early_stop_best_epoch(es);
        if (o->checkpoint && (stop || epoch == o->epochs ||
                              (o->checkpoint_every && epoch % o->checkpoint_every == 0)) &&
            (st = tg_checkpoint_save(o->checkpoint, m, opt, epoch)) != TG_OK)
            goto done;
        if ((st = progress_epoch(pr, &s, shown(o, epoch))) != TG_OK)
            goto done;
        if (last)
            *last = s;
        bool go_on = !o->on_epoch || o->on_epoch(&s, o->ctx);
        if (stop || !go_on)
            break;
    }
    /* early stopping: the best epoch's parameters and statistics */
    if (es && tg_early_stop_best_epoch(es) >= 0 && tg_early_stop_restore(es) != TG_OK)
        st = tg_last_status();
done:
    /* an error of a call made here (the batches, the log, the lr, the validation data,
     * ...) gets the documented context */
    if (st != TG_OK && strncmp(tg_last_error(), "tg_fit:", 7) != 0)
        tg__error_status(st, "tg_fit: epoch %d: %s", epoch, tg_last_error());
    tg_early_stop_free(&es);
    tg_progress_free(&pr);
    if (t)
        batches_free(&b);
    tg_tape_free(&t);
    return st;
}
