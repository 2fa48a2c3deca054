/* Metrics: accuracy, confusion matrix, precision/recall/F1, ROC AUC. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../util.h"
#include "nn.h"

/* class of row i: argmax of a [N, C] tensor, or the I32 value of a [N] tensor */
static int64_t class_of(const tg_tensor *x, int64_t i)
{
    if (x->dtype == TG_I32 || x->ndim == 1) {
        /* a float label that is no class index (negative, NaN, inf, beyond int64) is
         * class -1: never converted, out of range for every caller */
        double v = tg_tensor_get_flat(x, i);
        return v >= 0 && v < 0x1p62 ? (int64_t)v : -1;
    }
    int64_t C = x->shape[1], best = 0;
    if (C == 0)
        return -1; /* no class to predict: out of range (never read an element) */
    double bv = tg_tensor_get(x, (int64_t[]){i, 0});
    for (int64_t k = 1; k < C; k++) {
        double v = tg_tensor_get(x, (int64_t[]){i, k});
        if (v > bv) {
            bv = v;
            best = k;
        }
    }
    return best;
}

static bool rows_ok(const tg_tensor *a, const tg_tensor *b, const char *fn)
{
    if (!a || !b || a->ndim < 1 || b->ndim < 1 || a->shape[0] != b->shape[0] || a->ndim > 2 ||
        b->ndim > 2) {
        tg__error(TG_ESHAPE, "%s: inputs must be [N] or [N, C] with the same N", fn);
        return false;
    }
    return true;
}

/* whether x is one column of values ([N] floats or [N, 1]) rather than classes */
static bool one_column(const tg_tensor *x)
{
    return (x->ndim == 1 && x->dtype != TG_I32) || (x->ndim == 2 && x->shape[1] == 1);
}

double tg_accuracy(const tg_tensor *scores, const tg_tensor *target)
{
    if (!rows_ok(scores, target, "tg_accuracy"))
        return NAN;
    if (one_column(scores)) {
        tg__error(TG_ESHAPE, "tg_accuracy: scores %s are one column, not [N, C >= 2] class "
                             "scores or I32 [N] classes (for one sigmoid output use "
                             "tg_binary_accuracy)", tg__shape_str(scores).s);
        return NAN;
    }
    if (target->ndim == 2 && target->shape[1] == 1) {
        tg__error(TG_ESHAPE, "tg_accuracy: targets %s are one column, not [N] labels or "
                             "[N, C >= 2] rows (for 0/1 targets use tg_binary_accuracy)",
                  tg__shape_str(target).s);
        return NAN;
    }
    /* the number of classes, where known: the columns of either operand */
    int64_t C = scores->ndim == 2 ? scores->shape[1] : target->ndim == 2 ? target->shape[1] : -1;
    if (scores->ndim == 2 && target->ndim == 2 && target->shape[1] != C) {
        tg__error(TG_ESHAPE, "tg_accuracy: scores %s and targets %s have different classes",
                  tg__shape_str(scores).s, tg__shape_str(target).s);
        return NAN;
    }
    if (C == 0) { /* no classes: nothing to score (and no walk over empty rows) */
        tg__error(TG_ESHAPE, "tg_accuracy: %s has no classes",
                  tg__shape_str(scores->ndim == 2 ? scores : target).s);
        return NAN;
    }
    int64_t n = scores->shape[0], hit = 0;
    for (int64_t i = 0; i < n; i++) {
        for (int k = 0; k < 2; k++) { /* class indices given as values must be valid */
            const tg_tensor *x = k ? target : scores;
            if (x->ndim != 1)
                continue;
            double v = tg_tensor_get_flat(x, i);
            if (!(v >= 0 && (C < 0 || v < (double)C) && v == floor(v))) {
                tg__error(TG_ERANGE, "tg_accuracy: %s %g at row %lld is not a class index in "
                          "[0, %lld)", k ? "label" : "predicted class", v, (long long)i,
                          (long long)(C < 0 ? INT32_MAX : C));
                return NAN;
            }
        }
        hit += class_of(scores, i) == class_of(target, i);
    }
    return n ? (double)hit / (double)n : NAN;
}

double tg_binary_accuracy(const tg_tensor *p, const tg_tensor *y)
{
    int64_t n = tg_tensor_numel(p);
    if (!p || !y || n != tg_tensor_numel(y) || n == 0) {
        tg__error(TG_ESHAPE, "tg_binary_accuracy: inputs must have the same, non-zero size");
        return NAN;
    }
    int64_t hit = 0;
    for (int64_t i = 0; i < n; i++)
        hit += (tg_tensor_get_flat(p, i) >= 0.5) == (tg_tensor_get_flat(y, i) >= 0.5);
    return (double)hit / (double)n;
}

/* sum of squared deviations of y's n values from their mean (two passes, in double) */
static double sum_sq_dev(const tg_tensor *y, int64_t n)
{
    double mean = 0, ss = 0;
    for (int64_t i = 0; i < n; i++)
        mean += tg_tensor_get_flat(y, i);
    mean /= (double)n;
    for (int64_t i = 0; i < n; i++) {
        double d = tg_tensor_get_flat(y, i) - mean;
        ss += d * d;
    }
    return ss;
}

double tg_regression_accuracy(const tg_tensor *pred, const tg_tensor *y, double k)
{
    int64_t n = tg_tensor_numel(y);
    if (!pred || !y || n != tg_tensor_numel(pred) || n == 0 || !(k > 0)) {
        tg__error(TG_EINVAL, "tg_regression_accuracy: need same-size inputs and k > 0");
        return NAN;
    }
    double precision = sqrt(sum_sq_dev(y, n) / (double)n) / k;
    int64_t hit = 0;
    for (int64_t i = 0; i < n; i++)
        hit += fabs(tg_tensor_get_flat(pred, i) - tg_tensor_get_flat(y, i)) < precision;
    return (double)hit / (double)n;
}

tg_status tg_confusion_matrix(const tg_tensor *pred, const tg_tensor *target, int64_t C,
                              int64_t *counts)
{
    if (!rows_ok(pred, target, "tg_confusion_matrix"))
        return TG_ESHAPE;
    if (C < 1 || C > ((int64_t)1 << 28) || !counts) /* C*C counts must be addressable */
        return tg__error_status(TG_EINVAL,
                                "tg_confusion_matrix: need 1 <= C <= 2^28 (C = %lld) and a "
                                "counts array", (long long)C);
    memset(counts, 0, sizeof(int64_t) * (size_t)(C * C));
    for (int64_t i = 0; i < pred->shape[0]; i++) {
        int64_t p = class_of(pred, i), y = class_of(target, i);
        if (p < 0 || p >= C || y < 0 || y >= C)
            return tg__error_status(TG_ERANGE,
                                    "tg_confusion_matrix: class %lld or %lld at row %lld outside [0, %lld)",
                                    (long long)y, (long long)p, (long long)i, (long long)C);
        counts[y * C + p]++;
    }
    return TG_OK;
}

void tg_precision_recall_f1(const int64_t *counts, int64_t C, int64_t c, double *precision,
                            double *recall, double *f1)
{
    double tp = 0, fp = 0, fn = 0;
    if (counts && c >= 0 && c < C) {
        tp = (double)counts[c * C + c];
        for (int64_t k = 0; k < C; k++) {
            if (k == c)
                continue;
            fp += (double)counts[k * C + c]; /* predicted c, truly k */
            fn += (double)counts[c * C + k]; /* truly c, predicted k */
        }
    }
    double p = tp + fp > 0 ? tp / (tp + fp) : 0, r = tp + fn > 0 ? tp / (tp + fn) : 0;
    if (precision)
        *precision = p;
    if (recall)
        *recall = r;
    if (f1)
        *f1 = p + r > 0 ? 2 * p * r / (p + r) : 0;
}

typedef struct {
    double s;
    int pos;
} scored;

/* ascending scores; a total order even for NaN (placed last), which tg_roc_auc rejects
 * before sorting anyway: qsort with an inconsistent comparator is undefined */
static int by_score(const void *a, const void *b)
{
    double x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    if (isnan(x) || isnan(y))
        return isnan(x) - isnan(y);
    return (x > y) - (x < y);
}

double tg_roc_auc(const tg_tensor *scores, const tg_tensor *labels)
{
    int64_t n = tg_tensor_numel(scores);
    if (!scores || !labels || n != tg_tensor_numel(labels) || n == 0) {
        tg__error(TG_ESHAPE, "tg_roc_auc: inputs must have the same, non-zero size");
        return NAN;
    }
    scored *v = tg__malloc(sizeof *v * (size_t)n);
    if (!v) {
        tg__error(TG_ENOMEM, "tg_roc_auc: out of memory");
        return NAN;
    }
    for (int64_t i = 0; i < n; i++) {
        double s = tg_tensor_get_flat(scores, i), y = tg_tensor_get_flat(labels, i);
        if (isnan(s) || isnan(y)) {
            tg__mfree(v);
            tg__error(TG_EINVAL, "tg_roc_auc: %s %lld is NaN", isnan(s) ? "score" : "label",
                      (long long)i);
            return NAN;
        }
        v[i].s = s;
        v[i].pos = y >= 0.5;
    }
    qsort(v, (size_t)n, sizeof *v, by_score);
    /* Mann-Whitney: sum of positive ranks (ties get their average rank) */
    double rank_sum = 0, npos = 0;
    for (int64_t i = 0; i < n;) {
        int64_t j = i;
        while (j < n && v[j].s == v[i].s)
            j++;
        double avg = (double)(i + j + 1) / 2.0; /* ranks i+1 .. j */
        for (int64_t k = i; k < j; k++)
            if (v[k].pos) {
                rank_sum += avg;
                npos++;
            }
        i = j;
    }
    tg__mfree(v);
    double nneg = (double)n - npos;
    if (npos == 0 || nneg == 0)
        return NAN;
    return (rank_sum - npos * (npos + 1) / 2.0) / (npos * nneg);
}

/* ------------------------------------------------------------- regression */

/* n > 0 float values in each, the same count; else NaN with an error naming fn */
static int64_t regression_pair(const tg_tensor *pred, const tg_tensor *y, const char *fn)
{
    if (!pred || !y) {
        tg__error(TG_EINVAL, "%s: NULL tensor", fn);
        return -1;
    }
    int64_t n = tg_tensor_numel(y);
    if (pred->dtype == TG_I32 || y->dtype == TG_I32 || n != tg_tensor_numel(pred) || n == 0) {
        tg__error(TG_EINVAL, "%s: need float tensors with the same number (>= 1) of values: "
                             "%s %s and %s %s",
                  fn, tg__shape_str(pred).s, tg_dtype_name(pred->dtype), tg__shape_str(y).s,
                  tg_dtype_name(y->dtype));
        return -1;
    }
    return n;
}

/* sum of squared and of absolute errors, in double, row-major order */
static void errors(const tg_tensor *pred, const tg_tensor *y, int64_t n, double *sq, double *ab)
{
    *sq = *ab = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = tg_tensor_get_flat(pred, i) - tg_tensor_get_flat(y, i);
        *sq += d * d;
        *ab += fabs(d);
    }
}

/* RMSE (squared) or MAE over the values of pred and y; NaN with an error naming fn */
static double mean_error(const tg_tensor *pred, const tg_tensor *y, bool squared, const char *fn)
{
    int64_t n = regression_pair(pred, y, fn);
    double sq, ab;
    if (n < 0)
        return NAN;
    errors(pred, y, n, &sq, &ab);
    return squared ? sqrt(sq / (double)n) : ab / (double)n;
}

double tg_rmse(const tg_tensor *pred, const tg_tensor *y)
{
    return mean_error(pred, y, true, "tg_rmse");
}

double tg_mae_metric(const tg_tensor *pred, const tg_tensor *y)
{
    return mean_error(pred, y, false, "tg_mae_metric");
}

double tg_r2_score(const tg_tensor *pred, const tg_tensor *y)
{
    int64_t n = regression_pair(pred, y, "tg_r2_score");
    if (n < 0)
        return NAN;
    double tot = sum_sq_dev(y, n), sq, ab;
    errors(pred, y, n, &sq, &ab);
    if (tot == 0) /* constant targets: R^2 is undefined unless the fit is exact */
        return sq == 0 ? 1.0 : (tg__error(TG_EINVAL, "tg_r2_score: the targets are constant, "
                                                     "so R^2 is undefined"),
                                NAN);
    return 1 - sq / tot;
}

tg_tensor *tg_argmax(const tg_tensor *x)
{
    if (!x || x->ndim != 2 || x->dtype == TG_I32 || x->shape[1] < 1)
        return tg__error(TG_EINVAL, "tg_argmax: need float scores [N, C >= 1], got %s",
                         x ? tg__shape_str(x).s : "NULL");
    int64_t n = x->shape[0];
    tg_tensor *out = tg_zeros(TG_I32, 1, &n);
    if (!out)
        return NULL;
    int32_t *o = out->data;
    for (int64_t i = 0; i < n; i++) {
        int64_t best = 0;
        double bv = tg_tensor_get(x, (int64_t[]){i, 0});
        for (int64_t k = 1; k < x->shape[1]; k++) { /* NaN never wins; ties go to the first */
            double v = tg_tensor_get(x, (int64_t[]){i, k});
            if (v > bv || (isnan(bv) && !isnan(v))) {
                bv = v;
                best = k;
            }
        }
        o[i] = (int32_t)(best > INT32_MAX ? INT32_MAX : best);
    }
    return out;
}
