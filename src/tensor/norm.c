/* The batch-normalisation kernels: one channel of x [N, C, S] at a time (every channel's
 * sums run in the same order whatever the thread split), statistics in double. */
#include "kernels.h"

#define BN_KERNELS(T, SUF)                                                                     \
    static void bn_forward_##SUF(T *y, const T *x, int64_t N, int64_t C, int64_t S, int64_t c, \
                                 const T *gamma, const T *beta, double eps, double *mean,      \
                                 double *var)                                                  \
    {                                                                                          \
        double sum = 0, dev = 0;                                                               \
        for (int64_t n = 0; n < N; n++) {                                                      \
            const T *r = x + (n * C + c) * S;                                                  \
            for (int64_t s = 0; s < S; s++)                                                    \
                sum += r[s];                                                                   \
        }                                                                                      \
        double mu = sum / (double)(N * S);                                                     \
        for (int64_t n = 0; n < N; n++) {                                                      \
            const T *r = x + (n * C + c) * S;                                                  \
            for (int64_t s = 0; s < S; s++)                                                    \
                dev += ((double)r[s] - mu) * ((double)r[s] - mu);                              \
        }                                                                                      \
        double rs = 1 / sqrt(dev / (double)(N * S) + eps);                                     \
        mean[c] = mu;                                                                          \
        var[c] = dev / (double)(N * S);                                                        \
        T scale = (T)(rs * (double)gamma[c]), shift = beta[c], tmu = (T)mu;                    \
        for (int64_t n = 0; n < N; n++) {                                                      \
            const T *r = x + (n * C + c) * S;                                                  \
            T *o = y + (n * C + c) * S;                                                        \
            for (int64_t s = 0; s < S; s++)                                                    \
                o[s] = (r[s] - tmu) * scale + shift;                                           \
        }                                                                                      \
    }                                                                                          \
    static void bn_backward_##SUF(T *dx, T *dgamma, T *dbeta, const T *g, const T *x,          \
                                  int64_t N, int64_t C, int64_t S, int64_t c, const T *gamma,  \
                                  double eps, const double *mean, const double *var)           \
    {                                                                                          \
        double sg = 0, sgx = 0, mu = mean[c], rs = 1 / sqrt(var[c] + eps);                     \
        for (int64_t n = 0; n < N; n++) {                                                      \
            const T *gr = g + (n * C + c) * S, *r = x + (n * C + c) * S;                       \
            for (int64_t s = 0; s < S; s++) {                                                  \
                sg += gr[s];                                                                   \
                sgx += (double)gr[s] * ((double)r[s] - mu);                                    \
            }                                                                                  \
        }                                                                                      \
        if (dbeta)                                                                             \
            dbeta[c] = (T)sg;                                                                  \
        if (dgamma)                                                                            \
            dgamma[c] = (T)(sgx * rs);                                                         \
        if (!dx)                                                                               \
            return;                                                                            \
        /* dx = gamma rstd (g - mean(g) - xhat mean(g xhat)) = a g + b (x - mean) + k */       \
        double m = (double)(N * S), gm = (double)gamma[c];                                     \
        double a = gm * rs, b = -gm * rs * rs * rs * sgx / m, k = -a * sg / m;                 \
        T ta = (T)a, tb = (T)b, tk = (T)k, tmu = (T)mu;                                        \
        for (int64_t n = 0; n < N; n++) {                                                      \
            const T *gr = g + (n * C + c) * S, *r = x + (n * C + c) * S;                       \
            T *o = dx + (n * C + c) * S;                                                       \
            for (int64_t s = 0; s < S; s++)                                                    \
                o[s] = ta * gr[s] + tb * (r[s] - tmu) + tk;                                    \
        }                                                                                      \
    }

BN_KERNELS(float, f32)
BN_KERNELS(double, f64)

void tg__k_batch_norm(tg_dtype dt, void *y, const void *x, int64_t N, int64_t C, int64_t S,
                      const void *gamma, const void *beta, double eps, double *mean,
                      double *var)
{
    int nt = tg__par_threads(N * C * S);
    (void)nt;
#ifdef TG_HAVE_OPENMP
#pragma omp parallel for num_threads(nt) if (nt > 1)
#endif
    for (int64_t c = 0; c < C; c++) {
        if (dt == TG_F32)
            bn_forward_f32(y, x, N, C, S, c, gamma, beta, eps, mean, var);
        else
            bn_forward_f64(y, x, N, C, S, c, gamma, beta, eps, mean, var);
    }
}

void tg__k_batch_norm_backward(tg_dtype dt, void *dx, void *dgamma, void *dbeta, const void *g,
                               const void *x, int64_t N, int64_t C, int64_t S, const void *gamma,
                               double eps, const double *mean, const double *var)
{
    int nt = tg__par_threads(N * C * S);
    (void)nt;
#ifdef TG_HAVE_OPENMP
#pragma omp parallel for num_threads(nt) if (nt > 1)
#endif
    for (int64_t c = 0; c < C; c++) {
        if (dt == TG_F32)
            bn_backward_f32(dx, dgamma, dbeta, g, x, N, C, S, c, gamma, eps, mean, var);
        else
            bn_backward_f64(dx, dgamma, dbeta, g, x, N, C, S, c, gamma, eps, mean, var);
    }
}
