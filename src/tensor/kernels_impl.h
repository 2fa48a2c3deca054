/* The typed row and axis kernels of kernels.c, written once: kernels.c instantiates
 * them per element type (instantiate.h: T float or double, F(name) name_f32 or
 * name_f64), so a sanitizer or debugger points at the line here. ROW2 and ROW3
 * (kernels.c) expand one loop body into a unit-stride loop the compiler vectorizes
 * and a strided one. */

TG__ROW_CLONES static void F(unary_row)(tg__uop uop, int64_t n, T *op, int64_t so, const T *xp,
                                        int64_t sx, T p)
{
    const T one = 1, half = (T)0.5, zero = 0;
    const T rsqrt2 = (T)0.70710678118654752440;
    switch (uop) {
    case TG_U_NEG: ROW2(T, -x); break;
    case TG_U_EXP: ROW2(T, exp(x)); break;
    case TG_U_LOG: ROW2(T, log(x)); break;
    case TG_U_SQRT: ROW2(T, sqrt(x)); break;
    case TG_U_ABS: ROW2(T, fabs(x)); break;
    case TG_U_RELU: ROW2(T, x > zero ? x : zero); break;
    case TG_U_LEAKY_RELU: ROW2(T, x > zero ? x : p * x); break;
    case TG_U_SIGMOID:
        ROW2(T, x >= zero ? one / (one + exp(-x)) : exp(x) / (one + exp(x)));
        break;
    case TG_U_TANH: ROW2(T, tanh(x)); break;
    case TG_U_GELU: ROW2(T, half * x * (one + erf(x * rsqrt2))); break;
    case TG_U_SOFTPLUS: ROW2(T, (x > zero ? x : zero) + log1p(exp(-fabs(x)))); break;
    case TG_U_ADD_SCALAR: ROW2(T, x + p); break;
    case TG_U_MUL_SCALAR: ROW2(T, x * p); break;
    case TG_U_POW_SCALAR: ROW2(T, pow(x, p)); break;
    case TG_U_SIGN: ROW2(T, (x > zero) - (x < zero)); break;
    case TG_U_COPY: ROW2(T, x); break;
    }
}

TG__ROW_CLONES static void F(binary_row)(tg__bop bop, int64_t n, T *op, int64_t so, const T *ap,
                                         int64_t sa, const T *bp, int64_t sb, T p)
{
    const T one = 1, zero = 0, half = (T)0.5;
    const T rsqrt2 = (T)0.70710678118654752440;
    const T rsqrt2pi = (T)0.39894228040143267794;
    switch (bop) {
    case TG_B_ADD: ROW3(T, a + b); break;
    case TG_B_SUB: ROW3(T, a - b); break;
    case TG_B_MUL: ROW3(T, a * b); break;
    case TG_B_DIV: ROW3(T, a / b); break;
    case TG_B_RELU_BWD: ROW3(T, b > zero ? a : zero); break;
    case TG_B_LEAKY_RELU_BWD: ROW3(T, b > zero ? a : a * p); break;
    case TG_B_SIGMOID_BWD: ROW3(T, a * b * (one - b)); break;
    case TG_B_TANH_BWD: ROW3(T, a * (one - b * b)); break;
    case TG_B_GELU_BWD:
        ROW3(T, a * (half * (one + erf(b * rsqrt2)) +
                     b * rsqrt2pi * exp(-half * b * b)));
        break;
    }
}

static void F(dropout_row)(T *x, int64_t lo, int64_t hi, uint32_t thresh, T keep,
                           uint64_t seed, uint64_t stream)
{
    uint64_t bits = 0;
    for (int64_t i = lo; i < hi; i++) {
        if (i == lo || (i & 3) == 0)
            bits = tg_rng_u64(seed, stream, (uint64_t)i >> 2) >> (16 * (i & 3));
        x[i] = (uint32_t)(bits & 0xffff) >= thresh ? x[i] * keep : (T)0;
        bits >>= 16;
    }
}

static void F(max)(tg__iter *it, T *o, T *m, const T *x, int64_t len, int64_t sa,
                   int64_t msa)
{
    while (tg__iter_next(it)) {
        for (int64_t j = 0; j < it->inner; j++) {
            const T *xp = x + it->off[0] + j * it->ist[0];
            int64_t best = 0;
            for (int64_t k = 1; k < len; k++)
                if (xp[k * sa] > xp[best * sa] || (isnan(xp[k * sa]) &&
                                                   !isnan(xp[best * sa])))
                    best = k;
            o[it->off[1] + j * it->ist[1]] = xp[best * sa];
            if (m) {
                T *mp = m + it->off[2] + j * it->ist[2];
                for (int64_t k = 0; k < len; k++)
                    mp[k * msa] = k == best;
            }
        }
    }
}
static void F(softmax)(tg__iter *it, T *o, const T *x, int64_t len, int64_t sa,
                       int64_t osa, bool lg)
{
    while (tg__iter_next(it)) {
        for (int64_t j = 0; j < it->inner; j++) {
            const T *xp = x + it->off[0] + j * it->ist[0];
            T *op = o + it->off[2] + j * it->ist[2];
            T mx = F(tg__row_max)(xp, len, sa);
            if (isinf(mx))
                mx = 0; /* all -inf row: let exp give 0/0 = NaN honestly */
            double s = lg ? F(tg__expsum)(xp, len, sa, mx)
                          : F(tg__expsum_store)(xp, len, sa, mx, op, osa);
            if (lg) {
                T ls = (T)log(s);
                for (int64_t k = 0; k < len; k++)
                    op[k * osa] = xp[k * sa] - mx - ls;
            } else {
                T r = (T)(1.0 / s);
                for (int64_t k = 0; k < len; k++)
                    op[k * osa] *= r;
            }
        }
    }
}
