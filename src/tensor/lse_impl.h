/* The one log-sum-exp of tapegrad, written once and instantiated by kernels.h per element
 * type (T float or double, F(name) name_f32 or name_f64, EXP expf or exp): softmax,
 * log-softmax and every cross-entropy use it. For the row x[0], x[st], ...,
 * x[(n-1) st] (n >= 1), F(tg__row_max) gives the row's maximum m (softmax replaces an
 * infinite m by 0, so that an all -inf row gives an honest NaN; in a cross-entropy
 * such a row gives NaN either way) and F(tg__expsum) returns
 * s = sum_k exp(x_k - m): each exp in the element type, the sum in double, in order;
 * F(tg__expsum_store) also stores e[k es] = exp(x_k - m). log-sum-exp = m + log(s); a
 * caller that needs the logs of many rows may take the log of a product of their s
 * instead (tg__k_sce_labels_f32). */
static inline T F(tg__row_max)(const T *x, int64_t n, int64_t st)
{
    T m = x[0];
    for (int64_t k = 1; k < n; k++)
        m = x[k * st] > m ? x[k * st] : m;
    return m;
}

static inline double F(tg__expsum)(const T *x, int64_t n, int64_t st, T m)
{
    double s = 0;
    for (int64_t k = 0; k < n; k++)
        s += EXP(x[k * st] - m);
    return s;
}

static inline double F(tg__expsum_store)(const T *x, int64_t n, int64_t st, T m, T *e,
                                         int64_t es)
{
    double s = 0;
    for (int64_t k = 0; k < n; k++) {
        T v = EXP(x[k * st] - m);
        e[k * es] = v;
        s += v;
    }
    return s;
}
