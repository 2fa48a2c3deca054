/* The backward engine on whole graphs (issue 10, points 1-5): gradient buffers shared
 * between tensors are never added to in place; tensors of another tape or of an older
 * generation are refused; tg_grad's results alias nothing; persistent views of a
 * parameter do not silently cut its gradient; two tapes on two threads sharing
 * parameters get the single-threaded gradients. Every expected value here is worked
 * out by hand in the comment beside it. */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "check.h"
#include "tapegrad.h"

static tg_tensor *param(int n, const double *v)
{
    tg_tensor *x = tg_tensor_from(TG_F64, 1, (int64_t[]){n}, v);
    tg_tensor_set_requires_grad(x, true);
    return x;
}

static double grad0(const tg_tensor *x) { return x->grad ? tg_tensor_get_flat(x->grad, 0) : NAN; }

/* y = a + b; c = 3a (an earlier op using a); L = sum(c) + sum(y) + sum(y * 1).
 * dL/db = 2 (y used twice), dL/da = 3 + 2 = 5. The old engine let a borrow y's gradient
 * sum buffer and then added c's gradient into it in place, which b also held: dL/db = 5. */
static void shared_add_buffer(void)
{
    tg_tensor *a = param(1, (double[]){2}), *b = param(1, (double[]){-1});
    tg_tape *t = tg_tape_new();
    tg_tensor *c = tg_mul_scalar(t, a, 3);
    tg_tensor *y = tg_add(t, a, b);
    tg_tensor *l = tg_add(t, tg_add(t, tg_sum(t, c, 0, NULL, false), tg_sum(t, y, 0, NULL, false)),
                          tg_sum(t, tg_mul_scalar(t, y, 1), 0, NULL, false));
    CHECK(tg_backward(t, l) == TG_OK, "backward: %s", tg_tape_error(t));
    CHECK(grad0(b) == 2, "dL/db = %g, want 2", grad0(b));
    CHECK(grad0(a) == 5, "dL/da = %g, want 5", grad0(a));
    /* the same through tg_grad, with create_graph off and on */
    for (int cg = 0; cg < 2; cg++) {
        tg_tensor *g[2];
        tg_backward_opts o = tg_backward_defaults();
        o.create_graph = cg;
        CHECK(tg_grad(t, l, NULL, 2, (tg_tensor *[]){a, b}, g, &o) == TG_OK, "tg_grad: %s",
              tg_tape_error(t));
        CHECK(tg_tensor_get_flat(g[0], 0) == 5 && tg_tensor_get_flat(g[1], 0) == 2,
              "tg_grad (create_graph %d): %g %g, want 5 2", cg, tg_tensor_get_flat(g[0], 0),
              tg_tensor_get_flat(g[1], 0));
    }
    tg_tape_free(&t);
    tg_tensor_free(&a);
    tg_tensor_free(&b);
}

/* tied weights: an L2 penalty on W1, then W = W1 + W2 used by two matmuls */
static tg_tensor *tied(tg_tape *t, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    tg_tensor *x = in[0], *w1 = in[1], *w2 = in[2];
    tg_tensor *pen = tg_l2_penalty(t, w1, 0.5);
    tg_tensor *w = tg_add(t, w1, w2);
    tg_tensor *h = tg_tanh(t, tg_matmul(t, x, w));
    tg_tensor *o = tg_matmul(t, h, w);
    return tg_add(t, tg_sum(t, tg_mul(t, o, o), 0, NULL, false), pen);
}

static void tied_weights_gradcheck(void)
{
    tg_tensor *in[3] = {
        tg_rand_normal(TG_F64, 2, (int64_t[]){3, 4}, 0, 1, 7, 0),
        tg_rand_normal(TG_F64, 2, (int64_t[]){4, 4}, 0, 0.5, 7, 1),
        tg_rand_normal(TG_F64, 2, (int64_t[]){4, 4}, 0, 0.5, 7, 2),
    };
    tg_gradcheck_result r = tg_gradcheck(tied, NULL, 3, in, NULL);
    CHECK(r.status == TG_OK && r.passed, "tied weights: %s", r.message);
    for (int i = 0; i < 3; i++)
        tg_tensor_free(&in[i]);
}

/* a tensor of another tape, or of an older generation, is refused everywhere */
static void tape_identity(void)
{
    tg_tensor *w = param(2, (double[]){1, 2});
    tg_tape *ta = tg_tape_new(), *tb = tg_tape_new();
    tg_tensor *ya = tg_mul_scalar(ta, w, 2);
    tg_tensor *la = tg_sum(ta, ya, 0, NULL, false);

    /* a root recorded on another tape (used to read past the node array) */
    CHECK(tg_backward(tb, la) == TG_EINVAL, "backward of a foreign root: %s",
          tg_status_name(tg_tape_status(tb)));
    CHECK(strstr(tg_tape_error(tb), "tg_backward") && strstr(tg_tape_error(tb), "another tape"),
          "message: %s", tg_tape_error(tb));
    tg_tape_reset(tb);

    /* an op on tape B given a tensor of tape A (used to lose A's gradient silently) */
    CHECK(tg_exp(tb, ya) == NULL && tg_tape_status(tb) == TG_EINVAL, "op with a foreign input");
    CHECK(strstr(tg_tape_error(tb), "tg_exp") && strstr(tg_tape_error(tb), "another tape"),
          "message: %s", tg_tape_error(tb));
    tg_tape_reset(tb);
    CHECK(tg_add(tb, w, ya) == NULL && strstr(tg_tape_error(tb), "input 1"),
          "binary op names the foreign input: %s", tg_tape_error(tb));
    tg_tape_reset(tb);
    tg_tensor *g[1];
    tg_tensor *lb = tg_sum(tb, tg_mul(tb, w, w), 0, NULL, false);
    CHECK(tg_grad(tb, lb, NULL, 1, (tg_tensor *[]){ya}, g, NULL) == TG_EINVAL,
          "tg_grad with a foreign input: %s", tg_tape_error(tb));
    tg_tape_reset(tb);
    lb = tg_sum(tb, tg_mul(tb, w, w), 0, NULL, false);
    CHECK(tg_backward_ex(tb, lb, ya, NULL) == TG_EINVAL, "foreign seed: %s", tg_tape_error(tb));

    /* a root kept across a reset (used to walk stale nodes) */
    tg_tape_reset(ta);
    CHECK(tg_backward(ta, la) == TG_EINVAL, "stale root: %s", tg_status_name(tg_tape_status(ta)));
    CHECK(strstr(tg_tape_error(ta), "before tg_tape_reset"), "message: %s", tg_tape_error(ta));
    tg_tape_reset(ta);
    CHECK(tg_relu(ta, ya) == NULL && strstr(tg_tape_error(ta), "tg_relu") &&
              strstr(tg_tape_error(ta), "before tg_tape_reset"),
          "stale input: %s", tg_tape_error(ta));
    tg_tape_reset(ta);
    /* current tensors and persistent tensors are still accepted */
    tg_tensor *ok = tg_sum(ta, tg_mul_scalar(ta, w, 2), 0, NULL, false);
    CHECK(ok && tg_backward(ta, ok) == TG_OK, "fresh graph after reset: %s", tg_tape_error(ta));
    CHECK(grad0(w) == 2, "w.grad = %g, want 2", grad0(w));
    tg_tape_free(&ta);
    tg_tape_free(&tb);
    tg_tensor_free(&w);
}

/* tg_grad's results alias neither each other nor the seed */
static void grad_results_are_distinct(void)
{
    tg_tensor *a = param(3, (double[]){1, 2, 3}), *b = param(3, (double[]){4, 5, 6});
    tg_tape *t = tg_tape_new();
    tg_tensor *y = tg_add(t, a, b); /* add's backward hands one g to both inputs */
    tg_tensor *seed = tg_tape_full(t, TG_F64, 1, (int64_t[]){3}, 1.5);
    tg_tensor *g[3];
    CHECK(tg_grad(t, y, seed, 3, (tg_tensor *[]){a, b, y}, g, NULL) == TG_OK, "tg_grad: %s",
          tg_tape_error(t));
    CHECK(g[0] != g[1] && g[0] != seed && g[1] != seed && g[2] != seed && g[0]->data != g[1]->data &&
              g[0]->data != seed->data && g[1]->data != seed->data && g[2]->data != seed->data,
          "results and seed are distinct buffers");
    tg_tensor_set_flat(g[0], 0, 100);
    CHECK(tg_tensor_get_flat(g[1], 0) == 1.5 && tg_tensor_get_flat(seed, 0) == 1.5 &&
              tg_tensor_get_flat(g[2], 0) == 1.5,
          "writing one result changes nothing else");
    /* the same tensor asked for twice: two buffers */
    CHECK(tg_grad(t, y, seed, 2, (tg_tensor *[]){a, a}, g, NULL) == TG_OK && g[0]->data != g[1]->data,
          "a tensor listed twice gets two buffers");
    /* ... also when its gradient is a sum the walk made for it (a used twice: the
     * buffer tg_grad may hand out without a copy, but only once) */
    tg_tape_reset(t);
    y = tg_add(t, a, a);
    seed = tg_tape_full(t, TG_F64, 1, (int64_t[]){3}, 1.5);
    CHECK(tg_grad(t, y, seed, 2, (tg_tensor *[]){a, a}, g, NULL) == TG_OK, "tg_grad of a + a: %s",
          tg_tape_error(t));
    CHECK(g[0] != g[1] && g[0]->data != g[1]->data, "a + a: a listed twice gets two buffers");
    tg_tensor_set_flat(g[0], 0, 100);
    CHECK(tg_tensor_get_flat(g[0], 0) == 100 && tg_tensor_get_flat(g[1], 0) == 3 &&
              tg_tensor_get_flat(g[1], 1) == 3,
          "a + a: writing the first result leaves the second at 3 (got %g)",
          tg_tensor_get_flat(g[1], 0));
    tg_tape_free(&t);
    tg_tensor_free(&a);
    tg_tensor_free(&b);
}

/* a persistent view of a parameter used in a recording op is refused, not cut */
static void persistent_view_of_parameter(void)
{
    tg_tensor *w = tg_rand_normal(TG_F64, 2, (int64_t[]){3, 2}, 0, 1, 3, 0);
    tg_tensor *x = tg_rand_normal(TG_F64, 2, (int64_t[]){4, 3}, 0, 1, 3, 1);
    tg_tensor *wt = tg_view_transpose(w, 0, 1); /* taken before w requires grad */
    tg_tensor_set_requires_grad(w, true);
    tg_tape *t = tg_tape_new();
    tg_tensor *xt = tg_view_transpose(x, 0, 1); /* a view of data: fine */
    CHECK(tg_matmul(t, xt, x) != NULL, "a view of a tensor without grad is accepted: %s",
          tg_tape_error(t));
    tg_tensor_free(&xt);
    tg_tape_reset(t);
    tg_tensor *y = tg_dense(t, tg_tape_full(t, TG_F64, 2, (int64_t[]){5, 2}, 1), wt, NULL);
    CHECK(!y && tg_tape_status(t) == TG_EINVAL, "view of a parameter refused");
    CHECK(strstr(tg_tape_error(t), "tg_dense") && strstr(tg_tape_error(t), "persistent view") &&
              strstr(tg_tape_error(t), "tg_transpose"),
          "message points to the tape's view ops: %s", tg_tape_error(t));
    CHECK(w->grad == NULL, "no gradient was half-made");
    /* with recording off (evaluation) the view is harmless and allowed */
    tg_tape_reset(t);
    tg_tape_set_grad_mode(t, false);
    CHECK(tg_dense(t, tg_tape_full(t, TG_F64, 2, (int64_t[]){5, 2}, 1), wt, NULL) != NULL,
          "grad mode off: %s", tg_tape_error(t));
    tg_tape_set_grad_mode(t, true);
    /* the tape's own transpose carries the gradient */
    tg_tape_reset(t);
    y = tg_dense(t, tg_tape_full(t, TG_F64, 2, (int64_t[]){5, 2}, 1), tg_transpose(t, w, 0, 1), NULL);
    CHECK(y && tg_backward(t, tg_sum(t, y, 0, NULL, false)) == TG_OK && w->grad &&
              tg_tensor_get_flat(w->grad, 0) == 5,
          "tg_transpose: dL/dw[0] = %g, want 5", w->grad ? tg_tensor_get_flat(w->grad, 0) : NAN);
    /* once w stops requiring grad the view is plain data again */
    tg_tensor_set_requires_grad(w, false);
    tg_tape_reset(t);
    CHECK(tg_dense(t, tg_tape_full(t, TG_F64, 2, (int64_t[]){5, 2}, 1), wt, NULL) != NULL,
          "after requires_grad off: %s", tg_tape_error(t));
    tg_tape_free(&t);
    tg_tensor_free(&wt);
    tg_tensor_free(&w);
    tg_tensor_free(&x);
}

/* ---- two tapes on two threads sharing parameters ---- */

enum { NTHREADS = 2 };

typedef struct {
    tg_tensor *w1, *w2, *x;
    int iters, bad;
    double want1[2][8], want2[2][8]; /* single-threaded gradients of w1, w2 per variant */
    int id;
} shared_job;

/* a small graph with shared structure: w = w1 + w2 used twice, w1 also used alone */
static tg_tensor *shared_loss(tg_tape *t, tg_tensor *x, tg_tensor *w1, tg_tensor *w2, int k)
{
    tg_tensor *w = tg_add(t, w1, w2);
    tg_tensor *h = tg_mul(t, tg_tanh(t, tg_mul(t, x, w)), w);
    tg_tensor *p = tg_mul_scalar(t, tg_mul(t, w1, w1), 0.25 * (k + 1));
    return tg_sum(t, tg_add(t, h, p), 0, NULL, false);
}

static void *grad_worker(void *arg)
{
    shared_job *j = arg;
    tg_tape *t = tg_tape_new();
    for (int it = 0; it < j->iters; it++) {
        tg_tape_reset(t);
        int k = (it + j->id) & 1;
        tg_tensor *l = shared_loss(t, j->x, j->w1, j->w2, k), *g[2];
        if (tg_grad(t, l, NULL, 2, (tg_tensor *[]){j->w1, j->w2}, g, NULL) != TG_OK) {
            j->bad++;
            continue;
        }
        for (int i = 0; i < 8; i++)
            if (tg_tensor_get_flat(g[0], i) != j->want1[k][i] ||
                tg_tensor_get_flat(g[1], i) != j->want2[k][i]) {
                j->bad++;
                break;
            }
    }
    tg_tape_free(&t);
    return NULL;
}

static void *backward_worker(void *arg)
{
    shared_job *j = arg;
    tg_tape *t = tg_tape_new();
    for (int it = 0; it < j->iters; it++) {
        tg_tape_reset(t);
        /* L = sum(w1 * x): dL/dw1 = x, exactly representable, so any order sums exactly */
        tg_tensor *l = tg_sum(t, tg_mul(t, j->w1, j->x), 0, NULL, false);
        j->bad += tg_backward(t, l) != TG_OK;
    }
    tg_tape_free(&t);
    return NULL;
}

static void concurrent_tapes(void)
{
    double v1[8], v2[8], xv[8];
    for (int i = 0; i < 8; i++) {
        v1[i] = 0.1 * (i + 1);
        v2[i] = -0.05 * (i + 2);
        xv[i] = 0.5 + 0.25 * i;
    }
    shared_job base = {.w1 = param(8, v1), .w2 = param(8, v2), .x = tg_tensor_from(TG_F64, 1, (int64_t[]){8}, xv),
                       .iters = 20000};
    /* single-threaded reference gradients for both loss variants */
    tg_tape *t = tg_tape_new();
    for (int k = 0; k < 2; k++) {
        tg_tape_reset(t);
        tg_tensor *g[2];
        tg_grad(t, shared_loss(t, base.x, base.w1, base.w2, k), NULL, 2,
                (tg_tensor *[]){base.w1, base.w2}, g, NULL);
        for (int i = 0; i < 8; i++) {
            base.want1[k][i] = tg_tensor_get_flat(g[0], i);
            base.want2[k][i] = tg_tensor_get_flat(g[1], i);
        }
        /* by hand: dL/dw1 - dL/dw2 = d(0.25 (k+1) w1^2)/dw1 = 0.5 (k+1) w1 */
        for (int i = 0; i < 8; i++)
            CHECK(fabs(base.want1[k][i] - base.want2[k][i] - 0.5 * (k + 1) * v1[i]) < 1e-12,
                  "reference gradient %d/%d", k, i);
    }
    tg_tape_free(&t);
    shared_job jobs[NTHREADS];
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        jobs[i] = base;
        jobs[i].id = i;
        pthread_create(&th[i], NULL, grad_worker, &jobs[i]);
    }
    int bad = 0;
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        bad += jobs[i].bad;
    }
    CHECK(bad == 0, "tg_grad on %d threads x %d iterations: %d wrong gradients", NTHREADS,
          base.iters, bad);
    CHECK(base.w1->grad == NULL && base.w2->grad == NULL, "tg_grad leaves .grad alone");

    /* tg_backward from two tapes into the same .grad: every contribution lands */
    for (int i = 0; i < NTHREADS; i++) {
        jobs[i] = base;
        jobs[i].iters = 2000;
        pthread_create(&th[i], NULL, backward_worker, &jobs[i]);
    }
    bad = 0;
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        bad += jobs[i].bad;
    }
    int wrong = 0;
    for (int i = 0; i < 8; i++) /* 4000 * x[i]: every partial sum is exact in f64 */
        wrong += !base.w1->grad || tg_tensor_get_flat(base.w1->grad, i) != 4000 * xv[i];
    CHECK(bad == 0 && wrong == 0, "tg_backward on %d threads: %d failed, %d wrong sums",
          NTHREADS, bad, wrong);
    tg_tensor_free(&base.w1);
    tg_tensor_free(&base.w2);
    tg_tensor_free(&base.x);
}

int main(void)
{
    shared_add_buffer();
    tied_weights_gradcheck();
    tape_identity();
    grad_results_are_distinct();
    persistent_view_of_parameter();
    concurrent_tapes();
    return check_summary();
}
