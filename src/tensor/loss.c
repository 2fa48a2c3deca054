/* Loss kernels: the loops of the losses, cross-entropies and penalties (the op files in
 * src/autograd check, allocate and record). Inputs are contiguous; values are read as
 * double and results accumulated in double, in order, so they do not depend on threads.
 * The softmax-based ones use the one log-sum-exp of lse_impl.h (tg__row_max_*, tg__expsum_*). */
#include <math.h>

#include "kernels.h"

static inline double ld(tg_dtype dt, const void *p, int64_t i)
{
    switch (dt) {
    case TG_F32: return ((const float *)p)[i];
    case TG_F64: return ((const double *)p)[i];
    case TG_I32: return ((const int32_t *)p)[i];
    }
    return 0;
}

static inline void st(tg_dtype dt, void *p, int64_t i, double v)
{
    if (dt == TG_F32)
        ((float *)p)[i] = (float)v;
    else
        ((double *)p)[i] = v;
}

static double loss_term(tg__loss_kind k, double x, double y, double delta)
{
    switch (k) {
    case TG_L_BCE_LOGITS: return fmax(x, 0) - x * y + log1p(exp(-fabs(x)));
    case TG_L_BCE: {
        double p = fmin(fmax(x, TG__PROB_LO), TG__PROB_HI);
        return -(y * log(p) + (1 - y) * log(1 - p));
    }
    case TG_L_MSE: return (x - y) * (x - y);
    case TG_L_MAE: return fabs(x - y);
    case TG_L_HUBER: {
        double d = fabs(x - y);
        return d <= delta ? 0.5 * d * d : delta * (d - 0.5 * delta);
    }
    case TG_L_KL: return y > 0 ? y * (log(y) - x) : 0;
    }
    return NAN;
}

double tg__k_loss_sum(tg__loss_kind k, tg_dtype dt, const void *x, const void *y, int64_t n,
                      double delta)
{
    double acc = 0;
    for (int64_t i = 0; i < n; i++)
        acc += loss_term(k, ld(dt, x, i), ld(dt, y, i), delta);
    return acc;
}

double tg__k_cce_sum(tg_dtype dt, const void *p, const void *y, int64_t n)
{
    double acc = 0;
    for (int64_t i = 0; i < n; i++) {
        double yi = ld(dt, y, i);
        if (yi != 0)
            acc -= yi * log(fmin(fmax(ld(dt, p, i), TG__PROB_LO), TG__PROB_HI));
    }
    return acc;
}

double tg__k_penalty_sum(tg_dtype dt, const void *x, int64_t n, bool l1)
{
    double acc = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = ld(dt, x, i);
        acc += l1 ? fabs(v) : v * v;
    }
    return acc;
}

void tg__k_clamp(tg_dtype dt, void *x, int64_t n, double lo, double hi, bool mask)
{
    for (int64_t i = 0; i < n; i++) {
        double v = ld(dt, x, i);
        if (mask)
            st(dt, x, i, v >= lo && v <= hi);
        else
            st(dt, x, i, v < lo ? lo : v > hi ? hi : v);
    }
}

int64_t tg__k_onehot(tg_dtype dt, void *out, const int32_t *y, int64_t N, int64_t C)
{
    for (int64_t i = 0; i < N; i++) {
        if (y[i] < 0 || y[i] >= C)
            return i;
        st(dt, out, i * C + y[i], 1);
    }
    return -1;
}

int64_t tg__k_ce_targets(tg_dtype dt, void *r, const void *y, bool sparse, const void *w,
                         int64_t N, int64_t C, double eps, double *D)
{
    double total = 0;
    for (int64_t i = 0; i < N; i++) {
        if (sparse) {
            int64_t c = ((const int32_t *)y)[i];
            if (c < 0 || c >= C)
                return i;
            double wi = w ? ld(dt, w, c) : 1;
            /* PyTorch: the smoothing term of class k is weighted by w[k], the target
             * term by w[c]; the mean divides by the sum of w[c] */
            for (int64_t k = 0; k < C; k++)
                st(dt, r, i * C + k,
                   (k == c ? (1 - eps) * wi : 0) + eps / (double)C * (w ? ld(dt, w, k) : 1));
            total += wi;
        } else {
            /* (1 - eps) y + eps / C, whatever the row sums to (PyTorch) */
            for (int64_t k = 0; k < C; k++)
                st(dt, r, i * C + k,
                   (w ? ld(dt, w, k) : 1) * ((1 - eps) * ld(dt, y, i * C + k) + eps / (double)C));
        }
    }
    *D = sparse && w ? total : (double)N;
    return -1;
}

#define TG__TEMPLATE "loss_impl.h"
#include "instantiate.h"

double tg__k_ce_loss_sum(tg_dtype dt, const void *z, const void *r, int64_t N, int64_t C)
{
    return dt == TG_F32 ? ce_loss_sum_f32(z, r, N, C) : ce_loss_sum_f64(z, r, N, C);
}

void tg__k_ce_grad(tg_dtype dt, void *out, const void *z, const void *r, int64_t N, int64_t C,
                   double scale)
{
    if (dt == TG_F32)
        ce_grad_f32(out, z, r, N, C, scale);
    else
        ce_grad_f64(out, z, r, N, C, scale);
}

int64_t tg__k_sce_labels_f32(const float *z, const int32_t *y, int64_t N, int64_t C,
                             double *loss, float *grad, float scale)
{
    double total = 0;
    int64_t per_block = 960 / (ilogb((double)C) + 1), in_block = 0;
    double prod = 1;
    for (int64_t i = 0; i < N; i++) {
        const float *row = z + i * C;
        int32_t c = y[i];
        if (c < 0 || c >= C)
            return i;
        float m = tg__row_max_f32(row, C, 1);
        if (grad) {
            float *g = grad + i * C;
            double sum = tg__expsum_store_f32(row, C, 1, m, g, 1);
            float r = (float)(scale / sum);
            for (int64_t k = 0; k < C; k++)
                g[k] *= r;
            g[c] -= scale;
        } else {
            double sum = tg__expsum_f32(row, C, 1, m);
            total += (double)m - (double)row[c];
            prod *= sum; /* each sum is in [1, C] */
            if (++in_block == per_block) {
                total += log(prod);
                prod = 1;
                in_block = 0;
            }
        }
    }
    if (!grad)
        total += log(prod);
    *loss = N ? total / (double)N : NAN;
    return -1;
}
