/* The optimizers' update kernels, written once: optim.c includes this file once per
 * element type and instruction set, with T the element type, SQRT its square root, A the
 * target attribute (empty, or an x86 target) and F(name) the suffixed name, so that a
 * sanitizer or debugger points at the line here (a multi-line macro would point at its
 * instantiation). The float versions compute in float, as the tensors do. No include
 * guard: it is meant to be included once per instantiation, and it undefines T, SQRT, A
 * and TG__SUFFIX at its end. */

A static void F(sgd)(int64_t n, T *restrict p, const T *restrict g, T lr)
{
    for (int64_t i = 0; i < n; i++)
        p[i] -= lr * g[i];
}
A static void F(sgd_momentum)(int64_t n, T *restrict p, const T *restrict g,
                              T *restrict v, T lr, T mu)
{
    for (int64_t i = 0; i < n; i++) {
        T vi = mu * v[i] + g[i];
        v[i] = vi;
        p[i] -= lr * vi;
    }
}
A static void F(sgd_nesterov)(int64_t n, T *restrict p, const T *restrict g,
                              T *restrict v, T lr, T mu)
{
    for (int64_t i = 0; i < n; i++) {
        T gi = g[i];
        T vi = mu * v[i] + gi;
        v[i] = vi;
        p[i] -= lr * (gi + mu * vi);
    }
}
A static void F(adagrad)(int64_t n, T *restrict p, const T *restrict g,
                         T *restrict s, T lr, T eps)
{
    for (int64_t i = 0; i < n; i++) {
        T gi = g[i];
        T si = s[i] + gi * gi;
        s[i] = si;
        p[i] -= lr * gi / (SQRT(si) + eps);
    }
}
A static void F(rmsprop)(int64_t n, T *restrict p, const T *restrict g,
                         T *restrict v, T lr, T rho, T eps)
{
    for (int64_t i = 0; i < n; i++) {
        T gi = g[i];
        T vi = rho * v[i] + (1 - rho) * gi * gi;
        v[i] = vi;
        p[i] -= lr * gi / (SQRT(vi) + eps);
    }
}
/* g' = g + wd p; m, v moments of g'; p = p * pscale - step m / (sqrt(v) / bc2 +
 * eps) with step = lr / (1 - b1^k) and bc2 = sqrt(1 - b2^k) (PyTorch's form of
 * m^ / (sqrt(v^) + eps)). Adam: pscale 1; AdamW: wd 0, pscale 1 - lr wd. */
A static void F(adam)(int64_t n, T *restrict p, const T *restrict g, T *restrict m,
                      T *restrict v, T b1, T b2, T step, T bc2, T eps, T wd,
                     T pscale)
{
    for (int64_t i = 0; i < n; i++) {
        T pi = p[i];
        T gi = g[i] + wd * pi;
        T mi = b1 * m[i] + (1 - b1) * gi;
        T vi = b2 * v[i] + (1 - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = pi * pscale - step * mi / (SQRT(vi) / bc2 + eps);
    }
}

/* One parameter's update, for each element type and instruction set. The x86 clones
 * differ from the portable build only in vector width: no FMA is enabled (and C11 mode
 * does not contract a * b + c), and sqrt and division are correctly rounded at every
 * width, so every clone gives the same bits. */
A static void F(update)(const tg_optim *o, int64_t n, void *pv, const void *gv,
                        void *const *sv, double lr, double step, double bc2)
{
    T *p = pv, *const *st = (T *const *)sv;
    const T *g = gv;
    switch (o->kind) {
    case K_SGD:
        if (o->nstate == 0)
            F(sgd)(n, p, g, (T)lr);
        else if (o->nesterov)
            F(sgd_nesterov)(n, p, g, st[0], (T)lr, (T)o->momentum);
        else
            F(sgd_momentum)(n, p, g, st[0], (T)lr, (T)o->momentum);
        break;
    case K_ADAGRAD:
        F(adagrad)(n, p, g, st[0], (T)lr, (T)o->eps);
        break;
    case K_RMSPROP:
        F(rmsprop)(n, p, g, st[0], (T)lr, (T)o->rho, (T)o->eps);
        break;
    default: {
        bool w = o->kind == K_ADAMW;
        F(adam)(n, p, g, st[0], st[1], (T)o->beta1, (T)o->beta2, (T)step, (T)bc2,
                (T)o->eps, w ? (T)0 : (T)o->weight_decay,
                w ? (T)(1 - lr * o->weight_decay) : (T)1);
        break;
    }
    }
}

#undef T
#undef SQRT
#undef A
#undef TG__SUFFIX
