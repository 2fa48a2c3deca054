/* The typed sum kernels of kernels.c (tg__k_sum), written once: kernels.c instantiates
 * them per element type (instantiate.h: T float or double, F(name) name_f32 or
 * name_f64). Every sum accumulates in double whatever T is (see kernels.c). */

/* sum of n elements at stride sx */
static double F(sum_run)(const T *xp, int64_t n, int64_t sx)
{
    if (sx != 1) {
        double acc = 0;
        for (int64_t i = 0; i < n; i++)
            acc += xp[i * sx];
        return acc;
    }
    /* four independent chains (one would wait on the add latency per element),
     * combined in a fixed order */
    double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        a0 += xp[i];
        a1 += xp[i + 1];
        a2 += xp[i + 2];
        a3 += xp[i + 3];
    }
    for (; i < n; i++)
        a0 += xp[i];
    return (a0 + a1) + (a2 + a3);
}

/* oit walks the outputs (operand 0: out, 1: x at the first reduced position);
 * rtpl walks the reduced positions relative to that (x's strides, offset 0) */
static void F(sum)(T *o, const T *x, tg__iter *oit, const tg__iter *rtpl, double scale)
{
    bool one_run = rtpl->count == 1 && rtpl->nd == 0;
    while (tg__iter_next(oit)) {
        int64_t n = oit->inner, so = oit->ist[0], sx = oit->ist[1];
        T *op = o + oit->off[0];
        const T *xp = x + oit->off[1];
        if (rtpl->ist[0] == 1 || n == 1) {
            /* the reduced run is contiguous: one output at a time */
            for (int64_t i = 0; i < n; i++) {
                double acc = 0;
                if (one_run) {
                    acc = F(sum_run)(xp + i * sx, rtpl->inner, rtpl->ist[0]);
                } else {
                    tg__iter r = *rtpl;
                    while (tg__iter_next(&r))
                        acc += F(sum_run)(xp + i * sx + r.off[0], r.inner, r.ist[0]);
                }
                op[i * so] = (T)(acc * scale);
            }
            continue;
        }
        /* the outputs are innermost (a sum over leading axes, like a bias
         * gradient): SUM_BLOCK of them at once, walking the reduced positions
         * with contiguous reads */
        for (int64_t j0 = 0; j0 < n; j0 += SUM_BLOCK) {
            int64_t m = n - j0 < SUM_BLOCK ? n - j0 : SUM_BLOCK;
            double acc[SUM_BLOCK];
            for (int64_t i = 0; i < m; i++)
                acc[i] = 0;
            const T *xb = xp + j0 * sx;
            tg__iter r = *rtpl;
            while (tg__iter_next(&r)) {
                int64_t k = 0, rs = r.ist[0];
                if (sx == 1) /* four rows per pass over acc, added pairwise */
                    for (; k + 4 <= r.inner; k += 4) {
                        const T *x0 = xb + r.off[0] + k * rs, *x1 = x0 + rs;
                        const T *x2 = x1 + rs, *x3 = x2 + rs;
                        for (int64_t i = 0; i < m; i++)
                            acc[i] += ((double)x0[i] + (double)x1[i]) +
                                      ((double)x2[i] + (double)x3[i]);
                    }
                for (; k < r.inner; k++) {
                    const T *xk = xb + r.off[0] + k * rs;
                    for (int64_t i = 0; i < m; i++)
                        acc[i] += xk[i * sx];
                }
            }
            for (int64_t i = 0; i < m; i++)
                op[(j0 + i) * so] = (T)(acc[i] * scale);
        }
    }
}
