/* nn: initialiser statistics, the sequential model (shapes, parameter names, penalties,
 * dropout only in training), and metrics against hand-computed values. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tapegrad.h"
#include "check.h"


static void moments(const tg_tensor *w, double *mean, double *sd, double *maxabs)
{
    int64_t n = tg_tensor_numel(w);
    double s = 0, s2 = 0, m = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = tg_tensor_get_flat(w, i);
        s += v;
        s2 += v * v;
        m = fmax(m, fabs(v));
    }
    *mean = s / (double)n;
    *sd = sqrt(s2 / (double)n - *mean * *mean);
    *maxabs = m;
}

static void test_init(void)
{
    tg_tensor *w = tg_zeros(TG_F64, 2, (int64_t[]){400, 600});
    double mean, sd, mx;
    struct {
        tg_init init;
        double sd;
        bool uniform;
    } cases[] = {
        {TG_INIT_GLOROT_UNIFORM, sqrt(6.0 / 1000) / sqrt(3.0), true},
        {TG_INIT_GLOROT_NORMAL, sqrt(2.0 / 1000), false},
        {TG_INIT_HE_UNIFORM, sqrt(6.0 / 400) / sqrt(3.0), true},
        {TG_INIT_HE_NORMAL, sqrt(2.0 / 400), false},
        {TG_INIT_SCALED_NORMAL, 0.01, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK(tg_init_fill(w, cases[i].init, 9, i) == TG_OK, "init %zu", i);
        moments(w, &mean, &sd, &mx);
        CHECK(fabs(mean) < 0.01 * cases[i].sd * 10 && fabs(sd / cases[i].sd - 1) < 0.01,
              "init %zu: mean %g sd %g want sd %g", i, mean, sd, cases[i].sd);
        if (cases[i].uniform)
            CHECK(mx <= cases[i].sd * sqrt(3.0), "uniform init %zu within its limit", i);
    }
    tg_tensor_free(&w);
}

static void test_model(void)
{
    tg_model *m = tg_model_new(TG_F32, 3);
    tg_dense_opts d = tg_dense_defaults();
    d.l2_weight = 0.5;
    d.l1_bias = 0.25;
    CHECK(tg_model_add_dense(m, 2, 4, &d) == TG_OK, "add dense");
    CHECK(tg_model_add_activation(m, TG_ACT_RELU, 0) == TG_OK, "add relu");
    CHECK(tg_model_add_dropout(m, 0.5) == TG_OK, "add dropout");
    CHECK(tg_model_add_dense(m, 4, 3, NULL) == TG_OK, "add dense 2");
    CHECK(tg_model_add_dropout(m, 1.0) != TG_OK && strstr(tg_last_error(), "rate"),
          "dropout rate 1 rejected: %s", tg_last_error());
    CHECK(tg_model_param_count(m) == 4, "4 parameters");
    CHECK(!strcmp(tg_model_param_name(m, 0), "0.weight") &&
              !strcmp(tg_model_param_name(m, 3), "3.bias"),
          "names %s %s", tg_model_param_name(m, 0), tg_model_param_name(m, 3));
    CHECK(tg_model_num_elements(m) == 2 * 4 + 4 + 4 * 3 + 3, "element count");

    tg_tape *t = tg_tape_new();
    tg_tensor *x = tg_rand_normal(TG_F32, 2, (int64_t[]){5, 2}, 0, 1, 1, 1);
    tg_tensor *y = tg_model_forward(m, t, x, false);
    CHECK(y && y->ndim == 2 && y->shape[0] == 5 && y->shape[1] == 3, "output [5,3]");
    tg_tensor *y2 = tg_model_forward(m, t, x, false);
    CHECK(y && y2 && tg_tensor_hash(y) == tg_tensor_hash(y2), "eval forward is deterministic");
    tg_tensor *yt = tg_model_forward(m, t, x, true);
    CHECK(yt && tg_tensor_hash(yt) != tg_tensor_hash(y), "training forward applies dropout");
    CHECK(tg_model_rng_counter(m) == 1, "training forward advanced the counter");

    /* penalty: 0.5 * sum W0^2 + 0.25 * sum |b0| (b0 is zero at init, so set it) */
    tg_tensor *const *p = tg_model_params(m);
    tg_tensor_fill(p[1], -2.0);
    double want = 0;
    for (int64_t i = 0; i < 8; i++)
        want += 0.5 * pow(tg_tensor_get_flat(p[0], i), 2);
    want += 0.25 * 4 * 2.0;
    tg_tensor *pen = tg_model_penalty(m, t);
    CHECK(pen && fabs(tg_tensor_get_flat(pen, 0) - want) < 1e-5, "penalty %g want %g",
          pen ? tg_tensor_get_flat(pen, 0) : NAN, want);
    CHECK(tg_backward(t, pen) == TG_OK, "penalty backward");
    CHECK(p[1]->grad && fabs(tg_tensor_get_flat(p[1]->grad, 0) + 0.25) < 1e-6,
          "d(0.25 |b|)/db at -2 is -0.25");
    uint64_t h = tg_model_hash(m);
    tg_tensor_set_flat(p[2], 0, 1.5);
    CHECK(tg_model_hash(m) != h, "model hash sees a changed parameter");
    tg_tape_free(&t);
    tg_tensor_free(&x);
    tg_model_free(&m);
    CHECK(m == NULL, "free sets NULL");
}

static void test_metrics(void)
{
    float sc[] = {0.1f, 0.7f, 0.2f, 0.8f, 0.1f, 0.1f, 0.3f, 0.3f, 0.4f, 0.2f, 0.5f, 0.3f};
    int32_t lab[] = {1, 0, 1, 2};
    tg_tensor *s = tg_tensor_from(TG_F32, 2, (int64_t[]){4, 3}, sc);
    tg_tensor *y = tg_tensor_from(TG_I32, 1, (int64_t[]){4}, lab);
    /* argmax: 1, 0, 2, 1 -> correct: rows 0 and 1 */
    CHECK(tg_accuracy(s, y) == 0.5, "accuracy %g", tg_accuracy(s, y));
    int64_t cm[9];
    CHECK(tg_confusion_matrix(s, y, 3, cm) == TG_OK, "confusion matrix");
    /* true 0 -> pred 0; true 1 -> pred 1 and 2; true 2 -> pred 1 */
    int64_t want[9] = {1, 0, 0, 0, 1, 1, 0, 1, 0};
    CHECK(!memcmp(cm, want, sizeof want), "confusion counts");
    double p, r, f;
    tg_precision_recall_f1(cm, 3, 1, &p, &r, &f);
    CHECK(p == 0.5 && r == 0.5 && f == 0.5, "class 1: p %g r %g f1 %g", p, r, f);
    tg_precision_recall_f1(cm, 3, 2, &p, &r, &f);
    CHECK(p == 0 && r == 0 && f == 0, "class 2 never right");
    int32_t bad[] = {1, 0, 7, 2};
    tg_tensor *yb = tg_tensor_from(TG_I32, 1, (int64_t[]){4}, bad);
    CHECK(tg_confusion_matrix(s, yb, 3, cm) == TG_ERANGE, "class out of range");

    double scores[] = {0.1, 0.4, 0.35, 0.8}, labels[] = {0, 0, 1, 1};
    tg_tensor *sv = tg_tensor_from(TG_F64, 1, (int64_t[]){4}, scores);
    tg_tensor *lv = tg_tensor_from(TG_F64, 1, (int64_t[]){4}, labels);
    CHECK(fabs(tg_roc_auc(sv, lv) - 0.75) < 1e-12, "AUC 0.75 (sklearn's example)");
    double tied[] = {0.5, 0.5, 0.5, 0.5};
    tg_tensor *tv = tg_tensor_from(TG_F64, 1, (int64_t[]){4}, tied);
    CHECK(fabs(tg_roc_auc(tv, lv) - 0.5) < 1e-12, "all tied: AUC 0.5");
    CHECK(tg_binary_accuracy(sv, lv) == 0.75, "binary accuracy at 0.5: %g",
          tg_binary_accuracy(sv, lv));
    double pr[] = {1.0, 2.1, 2.9, 10}, gt[] = {1.0, 2.0, 3.0, 4.0};
    tg_tensor *pv = tg_tensor_from(TG_F64, 1, (int64_t[]){4}, pr);
    tg_tensor *gv = tg_tensor_from(TG_F64, 1, (int64_t[]){4}, gt);
    /* std(gt) = sqrt(1.25) ~ 1.118; /k=5 -> 0.2236: rows 0,1,2 within */
    CHECK(tg_regression_accuracy(pv, gv, 5) == 0.75, "regression accuracy %g",
          tg_regression_accuracy(pv, gv, 5));
    tg_tensor *all[] = {s, y, yb, sv, lv, tv, pv, gv};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        tg_tensor_free(&all[i]);
}

int main(void)
{
    test_init();
    test_model();
    test_metrics();
    return check_summary();
}
