/* nn edge cases from issue 11: metrics given NaN scores, one-column predictions,
 * out-of-range labels; model building with sizes that overflow. Each case failed
 * (hung, crashed or returned a wrong value with no error) before its fix. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tapegrad.h"
#include "check.h"

/* failing allocator for the out-of-memory paths */
static void *no_alloc(size_t n, void *ctx)
{
    (void)n;
    (void)ctx;
    return NULL;
}

static void no_free(void *p, void *ctx)
{
    (void)p;
    (void)ctx;
}

/* tg_last_status carries the status of the failure tg_last_error describes; model
 * building keeps the real cause (an overflowing size is not out of memory) */
static void test_status_kept(void)
{
    tg_tensor *bad = tg_zeros(TG_F32, 2, (int64_t[]){2, -1});
    CHECK(!bad && tg_last_status() == TG_EINVAL, "negative extent: status %s",
          tg_status_name(tg_last_status()));
    tg_tensor *x = tg_zeros(TG_F32, 2, (int64_t[]){2, 3});
    tg_tensor *v = tg_view_transpose(x, 0, 5);
    CHECK(!v && tg_last_status() == TG_ERANGE, "axis out of range: status %s",
          tg_status_name(tg_last_status()));
    tg_tensor_free(&x);

    tg_model *m = tg_model_new(TG_F32, 1);
    int64_t big = (int64_t)1 << 40;
    tg_status s = tg_model_add_dense(m, big, big, NULL);
    CHECK(s == TG_EINVAL && tg_last_status() == TG_EINVAL,
          "dense 2^40 x 2^40: status %s (last %s), want TG_EINVAL", tg_status_name(s),
          tg_status_name(tg_last_status()));
    CHECK(strstr(tg_last_error(), "tg_model_add_dense") && strstr(tg_last_error(), "too large"),
          "dense 2^40 x 2^40: message '%s'", tg_last_error());

    s = tg_model_add_conv2d(m, 1 << 20, 1 << 20, (int64_t[]){1 << 30, 1 << 30}, NULL);
    CHECK(s == TG_EINVAL && tg_last_status() == TG_EINVAL,
          "conv2d of 2^100 weights: status %s, want TG_EINVAL", tg_status_name(s));
    CHECK(strstr(tg_last_error(), "tg_model_add_conv2d") && strstr(tg_last_error(), "too large") &&
              !strstr(tg_last_error(), "out of memory"),
          "conv2d of 2^100 weights: message '%s'", tg_last_error());

    /* a real allocation failure still says so, with the function and the byte count */
    tg_set_allocator(&(tg_allocator){no_alloc, no_free, NULL});
    s = tg_model_add_conv2d(m, 2, 4, (int64_t[]){3, 3}, NULL);
    tg_set_allocator(NULL);
    CHECK(s == TG_ENOMEM && tg_last_status() == TG_ENOMEM, "conv2d without memory: %s",
          tg_status_name(s));
    CHECK(strstr(tg_last_error(), "tg_model_add_conv2d") &&
              strstr(tg_last_error(), "out of memory (288 bytes)"),
          "conv2d without memory: message '%s'", tg_last_error());
    CHECK(tg_model_layer_count(m) == 0 && tg_model_param_count(m) == 0,
          "failed adds leave the model empty");
    CHECK(tg_model_add_dense(m, 3, 2, NULL) == TG_OK, "a sane layer still adds");
    tg_model_free(&m);
}

/* tg_roc_auc: a NaN score (or label) is rejected with a message instead of hanging in
 * the tie loop; infinities are ordinary extreme scores. */
static void test_roc_auc_nan(void)
{
    double labels[] = {0, 1, 0, 1, 1, 0};
    tg_tensor *lv = tg_tensor_from(TG_F64, 1, (int64_t[]){6}, labels);
    double with_nan[] = {0.1, NAN, 0.3, 0.9, NAN, 0.2};
    tg_tensor *sv = tg_tensor_from(TG_F64, 1, (int64_t[]){6}, with_nan);
    double auc = tg_roc_auc(sv, lv);
    CHECK(isnan(auc), "NaN score: AUC %g, want NaN", auc);
    CHECK(strstr(tg_last_error(), "tg_roc_auc") && strstr(tg_last_error(), "NaN"),
          "NaN score: message names the function and NaN: '%s'", tg_last_error());
    CHECK(tg_last_status() == TG_EINVAL, "NaN score: status %s",
          tg_status_name(tg_last_status()));

    double fine[] = {0.1, 0.8, 0.3, 0.9, 0.7, 0.2};
    tg_tensor *fv = tg_tensor_from(TG_F64, 1, (int64_t[]){6}, fine);
    double nan_label[] = {0, 1, 0, NAN, 1, 0};
    tg_tensor *nl = tg_tensor_from(TG_F64, 1, (int64_t[]){6}, nan_label);
    CHECK(isnan(tg_roc_auc(fv, nl)) && strstr(tg_last_error(), "label"),
          "NaN label rejected: '%s'", tg_last_error());

    /* infinities order like any score: +inf on positives, -inf on negatives -> 1 */
    double inf[] = {-INFINITY, INFINITY, 0.3, INFINITY, 0.7, -INFINITY};
    tg_tensor *iv = tg_tensor_from(TG_F64, 1, (int64_t[]){6}, inf);
    auc = tg_roc_auc(iv, lv);
    CHECK(auc == 1.0, "infinite scores: AUC %g, want 1", auc);
    CHECK(tg_roc_auc(fv, lv) == 1.0, "separable scores: AUC 1");
    tg_tensor *all[] = {lv, sv, fv, nl, iv};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        tg_tensor_free(&all[i]);
}

/* tg_accuracy: one column of scores (a sigmoid output) is refused with a pointer to
 * tg_binary_accuracy instead of scoring 1.0 on all-wrong predictions; labels outside
 * [0, C) are refused instead of being counted as misses */
static void test_accuracy_checks(void)
{
    float p1[] = {0.9f, 0.8f, 0.1f, 0.2f}, y1[] = {0, 0, 1, 1}; /* every prediction wrong */
    tg_tensor *p = tg_tensor_from(TG_F32, 2, (int64_t[]){4, 1}, p1);
    tg_tensor *yf = tg_tensor_from(TG_F32, 1, (int64_t[]){4}, y1);
    tg_tensor *yc = tg_tensor_from(TG_F32, 2, (int64_t[]){4, 1}, y1);
    double a = tg_accuracy(p, yf);
    CHECK(isnan(a) && tg_last_status() == TG_ESHAPE &&
              strstr(tg_last_error(), "tg_binary_accuracy"),
          "one column of scores: accuracy %g, '%s'", a, tg_last_error());
    a = tg_accuracy(p, yc);
    CHECK(isnan(a) && strstr(tg_last_error(), "tg_binary_accuracy"),
          "[N,1] scores and targets: accuracy %g, '%s'", a, tg_last_error());
    tg_tensor *pv = tg_tensor_from(TG_F32, 1, (int64_t[]){4}, p1);
    CHECK(isnan(tg_accuracy(pv, yf)), "[N] float scores refused");
    CHECK(tg_binary_accuracy(p, yf) == 0.0, "binary accuracy of the same: 0");

    float sc[] = {0.1f, 0.7f, 0.2f, 0.8f, 0.1f, 0.1f, 0.3f, 0.3f, 0.4f, 0.2f, 0.5f, 0.3f};
    tg_tensor *s = tg_tensor_from(TG_F32, 2, (int64_t[]){4, 3}, sc); /* argmax 1, 0, 2, 1 */
    int32_t good[] = {1, 0, 1, 2}, big[] = {1, 0, 3, 2}, neg[] = {1, -1, 1, 2};
    tg_tensor *yg = tg_tensor_from(TG_I32, 1, (int64_t[]){4}, good);
    tg_tensor *yb = tg_tensor_from(TG_I32, 1, (int64_t[]){4}, big);
    tg_tensor *yn = tg_tensor_from(TG_I32, 1, (int64_t[]){4}, neg);
    CHECK(tg_accuracy(s, yg) == 0.5, "valid labels: 0.5");
    a = tg_accuracy(s, yb);
    CHECK(isnan(a) && tg_last_status() == TG_ERANGE && strstr(tg_last_error(), "label 3") &&
              strstr(tg_last_error(), "row 2"),
          "label 3 of 3 classes: accuracy %g, '%s'", a, tg_last_error());
    CHECK(isnan(tg_accuracy(s, yn)) && tg_last_status() == TG_ERANGE, "label -1 refused");
    float fl[] = {1, 0, 1, 2}, frac[] = {1, 0, 1.5f, 2};
    tg_tensor *yfl = tg_tensor_from(TG_F32, 1, (int64_t[]){4}, fl);
    tg_tensor *yfr = tg_tensor_from(TG_F32, 1, (int64_t[]){4}, frac);
    CHECK(tg_accuracy(s, yfl) == 0.5, "whole float labels: 0.5");
    CHECK(isnan(tg_accuracy(s, yfr)), "label 1.5 refused");
    float oh[] = {0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1}; /* one-hot 1, 0, 1, 2 */
    tg_tensor *yoh = tg_tensor_from(TG_F32, 2, (int64_t[]){4, 3}, oh);
    tg_tensor *y2 = tg_tensor_from(TG_F32, 2, (int64_t[]){3, 4}, oh);
    CHECK(tg_accuracy(s, yoh) == 0.5, "one-hot rows: 0.5");
    tg_tensor *s2 = tg_tensor_from(TG_F32, 2, (int64_t[]){3, 4}, sc);
    CHECK(isnan(tg_accuracy(s, y2)), "different row counts refused");
    tg_tensor *yoh2 = tg_tensor_from(TG_F32, 2, (int64_t[]){4, 2}, oh);
    CHECK(isnan(tg_accuracy(s, yoh2)) && tg_last_status() == TG_ESHAPE, "3 vs 2 classes refused");
    tg_tensor *all[] = {p, yf, yc, pv, s, yg, yb, yn, yfl, yfr, yoh, y2, s2, yoh2};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        tg_tensor_free(&all[i]);
}

/* tg_activate with an unknown activation fails the tape naming it (it returned NULL with
 * no error, so tg_backward reported success); tg_permutation checks its array */
static void test_unknown_activation_and_permutation(void)
{
    tg_tensor *x = tg_ones(TG_F32, 2, (int64_t[]){2, 3});
    tg_tape *t = tg_tape_new();
    tg_tensor *y = tg_activate(t, x, (tg_activation)99, 0);
    CHECK(!y && tg_tape_status(t) == TG_EINVAL && strstr(tg_tape_error(t), "tg_activate") &&
              strstr(tg_tape_error(t), "99"),
          "unknown activation: '%s'", tg_tape_error(t));
    CHECK(tg_backward(t, y) == TG_EINVAL, "backward reports it");
    tg_tape_reset(t);
    CHECK(tg_activate(t, x, TG_ACT_RELU, 0) && !tg_tape_failed(t), "a known one works");
    CHECK(!tg_activate(t, NULL, (tg_activation)99, 0) && !tg_tape_failed(t),
          "NULL input: NULL without a new error");
    tg_tape_free(&t);
    tg_tensor_free(&x);

    int64_t perm[4] = {9, 9, 9, 9};
    CHECK(tg_permutation(4, 1, 0, NULL) == TG_EINVAL && strstr(tg_last_error(), "tg_permutation"),
          "NULL perm: '%s'", tg_last_error());
    CHECK(tg_permutation(-1, 1, 0, perm) == TG_EINVAL && perm[0] == 9, "n = -1");
    CHECK(tg_permutation(0, 1, 0, NULL) == TG_OK, "n = 0 with NULL: nothing to write");
    CHECK(tg_permutation(4, 1, 0, perm) == TG_OK && perm[0] + perm[1] + perm[2] + perm[3] == 6,
          "a permutation of 0..3");
}

int main(void)
{
    test_status_kept();
    test_roc_auc_nan();
    test_accuracy_checks();
    test_unknown_activation_and_permutation();
    return check_summary();
}
