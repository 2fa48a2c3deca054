/* The typed cross-entropy loops of loss.c, written once: loss.c instantiates them per
 * element type (instantiate.h: T float or double, F(name) name_f32 or name_f64). */

/* sum_ik r_ik (lse_i - z_ik), in double */
static double F(ce_loss_sum)(const T *z, const T *r, int64_t N, int64_t C)
{
    double loss = 0;
    for (int64_t i = 0; i < N; i++) {
        T m = F(tg__row_max)(z + i * C, C, 1);
        double s = F(tg__expsum)(z + i * C, C, 1, m), row = 0;
        double l = (double)m + log(s);
        for (int64_t k = 0; k < C; k++) {
            double rik = r[i * C + k];
            if (rik != 0)
                row += rik * (l - (double)z[i * C + k]);
        }
        loss += row;
    }
    return loss;
}

/* out = (s_i p_i - r_i) scale, p_i = softmax(z_i), s_i = sum_k r_ik; one pass per row */
static void F(ce_grad)(T *out, const T *z, const T *r, int64_t N, int64_t C, double scale)
{
    for (int64_t i = 0; i < N; i++) {
        T m = F(tg__row_max)(z + i * C, C, 1), *o = out + i * C;
        const T *ri = r + i * C;
        double s = F(tg__expsum_store)(z + i * C, C, 1, m, o, 1), si = 0;
        for (int64_t k = 0; k < C; k++)
            si += ri[k];
        for (int64_t k = 0; k < C; k++)
            o[k] = (T)((si * (double)o[k] / s - (double)ri[k]) * scale);
    }
}
