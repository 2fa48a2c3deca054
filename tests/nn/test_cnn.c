/* Convolution, pooling and normalisation against direct nested loops computed here:
 * conv2d (strides, padding, dilation, groups, bias, views, several scratch chunks) and
 * its gradients, conv1d, max/avg/L2/global pooling (and max pooling's gradient), batch
 * normalisation (batch statistics, running-statistic updates, evaluation mode, a model
 * giving identical outputs for a batch and for its samples one at a time), layer
 * normalisation, flatten, and the error messages for bad shapes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tapegrad.h"
#include "check.h"

#define S(...) ((int64_t[]){__VA_ARGS__})

static double get4(const tg_tensor *x, int64_t a, int64_t b, int64_t c, int64_t d)
{
    return tg_tensor_get(x, S(a, b, c, d));
}

static const char *dt_name(tg_dtype dt) { return tg_dtype_name(dt); }

/* max |a - ref| <= tol * (1 + max |ref|) over n values of a tensor */
static bool matches(const tg_tensor *y, const double *ref, int64_t n, double tol, double *err)
{
    double scale = 1, worst = 0;
    if (!y || tg_tensor_numel(y) != n)
        return false;
    for (int64_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(ref[i]));
    for (int64_t i = 0; i < n; i++)
        worst = fmax(worst, fabs(tg_tensor_get_flat(y, i) - ref[i]));
    *err = worst / scale;
    return worst <= tol * scale;
}

static double tol_of(tg_dtype dt) { return dt == TG_F32 ? 2e-5 : 1e-12; }

/* a random persistent tensor; with transposed, a view with the last two axes swapped
 * (non-contiguous) of the same logical shape */
static tg_tensor *rnd(tg_dtype dt, int ndim, const int64_t *shape, uint64_t stream,
                      bool transposed)
{
    int64_t sh[8];
    memcpy(sh, shape, sizeof(int64_t) * (size_t)ndim);
    if (!transposed)
        return tg_rand_normal(dt, ndim, sh, 0, 1, 11, stream);
    sh[ndim - 1] = shape[ndim - 2];
    sh[ndim - 2] = shape[ndim - 1];
    tg_tensor *base = tg_rand_normal(dt, ndim, sh, 0, 1, 11, stream);
    tg_tensor *v = tg_view_transpose(base, ndim - 2, ndim - 1);
    tg_tensor_free(&base);
    return v;
}

/* ------------------------------------------------------------------ conv2d */

typedef struct {
    int64_t N, C, H, W, Co, G, kH, kW, sh, sw, ph, pw, dh, dw;
    bool bias, transposed;
} conv_cfg;

static void ref_conv2d(const conv_cfg *c, const tg_tensor *x, const tg_tensor *w,
                       const tg_tensor *b, int64_t Ho, int64_t Wo, double *out)
{
    int64_t Cg = c->C / c->G, Cog = c->Co / c->G;
    for (int64_t n = 0; n < c->N; n++)
        for (int64_t co = 0; co < c->Co; co++)
            for (int64_t oh = 0; oh < Ho; oh++)
                for (int64_t ow = 0; ow < Wo; ow++) {
                    double s = b ? tg_tensor_get_flat(b, co) : 0;
                    int64_t g = co / Cog;
                    for (int64_t ci = 0; ci < Cg; ci++)
                        for (int64_t i = 0; i < c->kH; i++)
                            for (int64_t j = 0; j < c->kW; j++) {
                                int64_t ih = oh * c->sh - c->ph + i * c->dh;
                                int64_t iw = ow * c->sw - c->pw + j * c->dw;
                                if (ih >= 0 && ih < c->H && iw >= 0 && iw < c->W)
                                    s += get4(x, n, g * Cg + ci, ih, iw) * get4(w, co, ci, i, j);
                            }
                    out[((n * c->Co + co) * Ho + oh) * Wo + ow] = s;
                }
}

static tg_conv2d_opts opts_of(const conv_cfg *c)
{
    tg_conv2d_opts o = tg_conv2d_defaults();
    o.stride[0] = c->sh;
    o.stride[1] = c->sw;
    o.padding[0] = c->ph;
    o.padding[1] = c->pw;
    o.dilation[0] = c->dh;
    o.dilation[1] = c->dw;
    o.groups = c->G;
    return o;
}

static void test_conv2d_forward(void)
{
    static const conv_cfg cfgs[] = {
        /* N C  H  W Co G kH kW sh sw ph pw dh dw bias transposed */
        {2, 3, 5, 6, 4, 1, 3, 3, 1, 1, 0, 0, 1, 1, true, false},
        {2, 3, 7, 6, 5, 1, 3, 2, 2, 1, 1, 1, 1, 1, true, false},   /* stride, padding, 3x2 */
        {1, 4, 8, 7, 6, 2, 2, 3, 1, 2, 1, 2, 2, 2, false, false},  /* groups 2, dilation 2 */
        {3, 4, 6, 6, 4, 4, 3, 3, 2, 2, 1, 1, 1, 1, true, true},    /* depthwise, view input */
        {2, 6, 9, 8, 6, 3, 3, 3, 2, 3, 2, 1, 2, 1, true, true},    /* everything at once */
        {2, 2, 4, 4, 3, 1, 1, 1, 1, 1, 0, 0, 1, 1, false, false},  /* 1x1 */
        {1, 1, 3, 3, 1, 1, 3, 3, 1, 1, 0, 0, 1, 1, true, false},   /* kernel = input */
        {30, 8, 32, 32, 4, 1, 3, 3, 1, 1, 1, 1, 1, 1, true, false}, /* several scratch chunks */
    };
    for (size_t k = 0; k < sizeof cfgs / sizeof cfgs[0]; k++)
        for (int d = 0; d < 2; d++) {
            const conv_cfg *c = &cfgs[k];
            tg_dtype dt = d ? TG_F64 : TG_F32;
            tg_tensor *x = rnd(dt, 4, S(c->N, c->C, c->H, c->W), 1, c->transposed);
            tg_tensor *w = rnd(dt, 4, S(c->Co, c->C / c->G, c->kH, c->kW), 2, false);
            tg_tensor *b = c->bias ? rnd(dt, 1, S(c->Co), 3, false) : NULL;
            int64_t Ho = tg_conv_out_size(c->H, c->kH, c->sh, c->ph, c->dh);
            int64_t Wo = tg_conv_out_size(c->W, c->kW, c->sw, c->pw, c->dw);
            tg_conv2d_opts o = opts_of(c);
            tg_tape *t = tg_tape_new();
            tg_tensor *y = tg_conv2d(t, x, w, b, &o);
            CHECK(y && y->ndim == 4 && y->shape[0] == c->N && y->shape[1] == c->Co &&
                      y->shape[2] == Ho && y->shape[3] == Wo,
                  "config %zu %s: output shape (%s)", k, dt_name(dt), tg_tape_error(t));
            int64_t n = c->N * c->Co * Ho * Wo;
            double *ref = malloc(sizeof(double) * (size_t)n), err = 0;
            ref_conv2d(c, x, w, b, Ho, Wo, ref);
            CHECK(matches(y, ref, n, tol_of(dt), &err), "config %zu %s: conv2d vs loops, error %g",
                  k, dt_name(dt), err);
            free(ref);
            tg_tape_free(&t);
            tg_tensor_free(&x);
            tg_tensor_free(&w);
            tg_tensor_free(&b);
        }
}

/* gradients of L = sum(conv2d(x, w, b) * R) against loops */
static void test_conv2d_backward(void)
{
    static const conv_cfg cfgs[] = {
        {2, 4, 7, 6, 6, 2, 3, 2, 2, 1, 1, 1, 2, 1, true, true},
        {3, 3, 5, 5, 2, 1, 2, 2, 1, 1, 0, 1, 1, 2, true, false},
    };
    for (size_t k = 0; k < sizeof cfgs / sizeof cfgs[0]; k++)
        for (int d = 0; d < 2; d++) {
            const conv_cfg *c = &cfgs[k];
            tg_dtype dt = d ? TG_F64 : TG_F32;
            tg_tensor *x = rnd(dt, 4, S(c->N, c->C, c->H, c->W), 4, c->transposed);
            tg_tensor *w = rnd(dt, 4, S(c->Co, c->C / c->G, c->kH, c->kW), 5, false);
            tg_tensor *b = rnd(dt, 1, S(c->Co), 6, false);
            int64_t Ho = tg_conv_out_size(c->H, c->kH, c->sh, c->ph, c->dh);
            int64_t Wo = tg_conv_out_size(c->W, c->kW, c->sw, c->pw, c->dw);
            tg_tensor *R = tg_rand_normal(dt, 4, S(c->N, c->Co, Ho, Wo), 0, 1, 12, 7);
            tg_tensor_set_requires_grad(x, true);
            tg_tensor_set_requires_grad(w, true);
            tg_tensor_set_requires_grad(b, true);
            tg_conv2d_opts o = opts_of(c);
            tg_tape *t = tg_tape_new();
            tg_tensor *L = tg_sum(t, tg_mul(t, tg_conv2d(t, x, w, b, &o), R), 0, NULL, false);
            CHECK(tg_backward(t, L) == TG_OK, "backward: %s", tg_tape_error(t));
            int64_t nx = tg_tensor_numel(x), nw = tg_tensor_numel(w);
            double *gx = calloc((size_t)nx, sizeof(double)), *gw = calloc((size_t)nw, sizeof(double));
            double *gb = calloc((size_t)c->Co, sizeof(double));
            int64_t Cg = c->C / c->G, Cog = c->Co / c->G;
            for (int64_t n = 0; n < c->N; n++)
                for (int64_t co = 0; co < c->Co; co++)
                    for (int64_t oh = 0; oh < Ho; oh++)
                        for (int64_t ow = 0; ow < Wo; ow++) {
                            double r = get4(R, n, co, oh, ow);
                            int64_t g = co / Cog;
                            gb[co] += r;
                            for (int64_t ci = 0; ci < Cg; ci++)
                                for (int64_t i = 0; i < c->kH; i++)
                                    for (int64_t j = 0; j < c->kW; j++) {
                                        int64_t ih = oh * c->sh - c->ph + i * c->dh;
                                        int64_t iw = ow * c->sw - c->pw + j * c->dw;
                                        if (ih < 0 || ih >= c->H || iw < 0 || iw >= c->W)
                                            continue;
                                        int64_t cx = g * Cg + ci;
                                        gx[((n * c->C + cx) * c->H + ih) * c->W + iw] +=
                                            r * get4(w, co, ci, i, j);
                                        gw[((co * Cg + ci) * c->kH + i) * c->kW + j] +=
                                            r * get4(x, n, cx, ih, iw);
                                    }
                        }
            double err = 0;
            CHECK(matches(x->grad, gx, nx, tol_of(dt) * 10, &err), "config %zu %s: dL/dx, error %g",
                  k, dt_name(dt), err);
            CHECK(matches(w->grad, gw, nw, tol_of(dt) * 10, &err), "config %zu %s: dL/dw, error %g",
                  k, dt_name(dt), err);
            CHECK(matches(b->grad, gb, c->Co, tol_of(dt) * 10, &err),
                  "config %zu %s: dL/db, error %g", k, dt_name(dt), err);
            free(gx);
            free(gw);
            free(gb);
            tg_tape_free(&t);
            tg_tensor_free(&x);
            tg_tensor_free(&w);
            tg_tensor_free(&b);
            tg_tensor_free(&R);
        }
}

/* forward and gradients of a conv + max pool are bitwise equal on 1 and 3 threads */
static void test_threads(void)
{
    uint64_t h[2][4];
    for (int r = 0; r < 2; r++) {
        tg_set_num_threads(r ? 3 : 1);
        tg_tensor *x = rnd(TG_F32, 4, S(16, 8, 24, 24), 1, true);
        tg_tensor *w = rnd(TG_F32, 4, S(6, 4, 3, 3), 2, false);
        tg_tensor *b = rnd(TG_F32, 1, S(6), 3, false);
        tg_tensor *xs[3] = {x, w, b}, *g[3] = {0};
        for (int i = 0; i < 3; i++)
            tg_tensor_set_requires_grad(xs[i], true);
        tg_conv2d_opts o = tg_conv2d_defaults();
        o.padding[0] = o.padding[1] = 1;
        o.groups = 2;
        tg_tape *t = tg_tape_new();
        tg_tensor *y = tg_max_pool2d(t, tg_conv2d(t, x, w, b, &o), S(3, 3), S(2, 2), S(1, 1));
        tg_tensor *L = tg_sum(t, tg_mul(t, y, y), 0, NULL, false);
        CHECK(tg_grad(t, L, NULL, 3, xs, g, NULL) == TG_OK, "threads %d: %s", r ? 3 : 1,
              tg_tape_error(t));
        h[r][0] = tg_tensor_hash(y);
        for (int i = 0; i < 3; i++)
            h[r][1 + i] = tg_tensor_hash(g[i]);
        tg_tape_free(&t);
        for (int i = 0; i < 3; i++)
            tg_tensor_free(&xs[i]);
    }
    tg_set_num_threads(1);
    CHECK(!memcmp(h[0], h[1], sizeof h[0]), "1 and 3 threads give bitwise-equal results");
}

static void test_conv1d(void)
{
    for (int d = 0; d < 2; d++) {
        tg_dtype dt = d ? TG_F64 : TG_F32;
        int64_t N = 2, C = 4, L = 11, Co = 6, G = 2, k = 3, s = 2, p = 2, dil = 2;
        tg_tensor *x = rnd(dt, 3, S(N, C, L), 1, false);
        tg_tensor *w = rnd(dt, 3, S(Co, C / G, k), 2, false);
        tg_tensor *b = rnd(dt, 1, S(Co), 3, false);
        tg_conv1d_opts o = {.stride = s, .padding = p, .dilation = dil, .groups = G};
        tg_tape *t = tg_tape_new();
        tg_tensor *y = tg_conv1d(t, x, w, b, &o);
        int64_t Lo = tg_conv_out_size(L, k, s, p, dil);
        CHECK(y && y->ndim == 3 && y->shape[0] == N && y->shape[1] == Co && y->shape[2] == Lo,
              "conv1d %s shape (%s)", dt_name(dt), tg_tape_error(t));
        double ref[2 * 6 * 16];
        for (int64_t n = 0; n < N; n++)
            for (int64_t co = 0; co < Co; co++)
                for (int64_t ol = 0; ol < Lo; ol++) {
                    double acc = tg_tensor_get_flat(b, co);
                    int64_t g = co / (Co / G);
                    for (int64_t ci = 0; ci < C / G; ci++)
                        for (int64_t j = 0; j < k; j++) {
                            int64_t il = ol * s - p + j * dil;
                            if (il >= 0 && il < L)
                                acc += tg_tensor_get(x, S(n, g * (C / G) + ci, il)) *
                                       tg_tensor_get(w, S(co, ci, j));
                        }
                    ref[(n * Co + co) * Lo + ol] = acc;
                }
        double err = 0;
        CHECK(matches(y, ref, N * Co * Lo, tol_of(dt), &err), "conv1d %s vs loops, error %g",
              dt_name(dt), err);
        tg_tape_free(&t);
        tg_tensor_free(&x);
        tg_tensor_free(&w);
        tg_tensor_free(&b);
    }
}

/* ----------------------------------------------------------------- pooling */

typedef enum { MAXP, AVGP, L2P } pkind;

static void ref_pool(pkind kind, const tg_tensor *x, const int64_t *k, const int64_t *s,
                     const int64_t *p, int64_t Ho, int64_t Wo, double *out, int64_t *argmax)
{
    int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t oh = 0; oh < Ho; oh++)
                for (int64_t ow = 0; ow < Wo; ow++) {
                    double acc = kind == MAXP ? -INFINITY : 0;
                    int64_t best = -1;
                    for (int64_t i = 0; i < k[0]; i++)
                        for (int64_t j = 0; j < k[1]; j++) {
                            int64_t ih = oh * s[0] - p[0] + i, iw = ow * s[1] - p[1] + j;
                            if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                                continue; /* -inf for max, 0 for the means */
                            double v = get4(x, n, c, ih, iw);
                            if (kind == MAXP && v > acc) {
                                acc = v;
                                best = ((n * C + c) * H + ih) * W + iw;
                            } else if (kind != MAXP) {
                                acc += kind == L2P ? v * v : v;
                            }
                        }
                    int64_t o = ((n * C + c) * Ho + oh) * Wo + ow;
                    if (kind == MAXP)
                        argmax[o] = best;
                    out[o] = kind == MAXP  ? acc
                             : kind == AVGP ? acc / (double)(k[0] * k[1])
                                            : sqrt(acc / (double)(k[0] * k[1]));
                }
}

static void test_pools(void)
{
    struct {
        int64_t k[2], s[2], p[2];
        bool transposed;
    } cfgs[] = {
        {{2, 2}, {2, 2}, {0, 0}, false},
        {{3, 3}, {1, 1}, {1, 1}, false}, /* overlapping, padded */
        {{3, 2}, {2, 1}, {1, 1}, true},
        {{2, 3}, {1, 2}, {1, 0}, false},
    };
    for (size_t k = 0; k < sizeof cfgs / sizeof cfgs[0]; k++)
        for (int d = 0; d < 2; d++)
            for (int kind = MAXP; kind <= L2P; kind++) {
                tg_dtype dt = d ? TG_F64 : TG_F32;
                int64_t N = 2, C = 3, H = 6, W = 7;
                tg_tensor *x = rnd(dt, 4, S(N, C, H, W), 8, cfgs[k].transposed);
                tg_tensor_set_requires_grad(x, true);
                int64_t Ho = tg_conv_out_size(H, cfgs[k].k[0], cfgs[k].s[0], cfgs[k].p[0], 1);
                int64_t Wo = tg_conv_out_size(W, cfgs[k].k[1], cfgs[k].s[1], cfgs[k].p[1], 1);
                int64_t n = N * C * Ho * Wo;
                double *ref = malloc(sizeof(double) * (size_t)n), err = 0;
                int64_t *am = malloc(sizeof(int64_t) * (size_t)n);
                ref_pool((pkind)kind, x, cfgs[k].k, cfgs[k].s, cfgs[k].p, Ho, Wo, ref, am);
                tg_tape *t = tg_tape_new();
                tg_tape_set_anomaly_mode(t, true); /* max pooling's padding is finite */
                tg_tensor *y = kind == MAXP ? tg_max_pool2d(t, x, cfgs[k].k, cfgs[k].s, cfgs[k].p)
                               : kind == AVGP ? tg_avg_pool2d(t, x, cfgs[k].k, cfgs[k].s, cfgs[k].p)
                                              : tg_l2_pool2d(t, x, cfgs[k].k, cfgs[k].s, cfgs[k].p);
                CHECK(y && y->shape[2] == Ho && y->shape[3] == Wo, "pool %d config %zu shape (%s)",
                      kind, k, tg_tape_error(t));
                CHECK(matches(y, ref, n, tol_of(dt), &err), "pool %d config %zu %s vs loops, error %g",
                      kind, k, dt_name(dt), err);
                if (kind == MAXP && y) {
                    /* d sum(y * R) / dx: R scattered onto each window's maximum */
                    tg_tensor *R = tg_rand_normal(dt, 4, y->shape, 0, 1, 13, 1);
                    tg_tensor *L = tg_sum(t, tg_mul(t, y, R), 0, NULL, false);
                    CHECK(tg_backward(t, L) == TG_OK, "max pool backward: %s", tg_tape_error(t));
                    int64_t nx = N * C * H * W;
                    double *gx = calloc((size_t)nx, sizeof(double));
                    for (int64_t o = 0; o < n; o++)
                        gx[am[o]] += tg_tensor_get_flat(R, o);
                    CHECK(matches(x->grad, gx, nx, tol_of(dt), &err),
                          "max pool config %zu %s: gradient to the argmax, error %g", k,
                          dt_name(dt), err);
                    free(gx);
                    tg_tensor_free(&R);
                }
                free(ref);
                free(am);
                tg_tape_free(&t);
                tg_tensor_free(&x);
            }

    /* stride NULL = kernel, padding NULL = 0; global average pooling */
    tg_tensor *x = rnd(TG_F64, 4, S(2, 3, 4, 6), 9, false);
    tg_tape *t = tg_tape_new();
    tg_tensor *a = tg_avg_pool2d(t, x, S(2, 3), NULL, NULL);
    tg_tensor *b = tg_avg_pool2d(t, x, S(2, 3), S(2, 3), S(0, 0));
    CHECK(a && b && a->shape[2] == 2 && a->shape[3] == 2 && tg_tensor_hash(a) == tg_tensor_hash(b),
          "default stride is the kernel");
    tg_tensor *g = tg_global_avg_pool2d(t, x);
    CHECK(g && g->ndim == 2 && g->shape[0] == 2 && g->shape[1] == 3, "global pool shape [N, C]");
    for (int64_t n = 0; g && n < 2; n++)
        for (int64_t c = 0; c < 3; c++) {
            double s = 0;
            for (int64_t i = 0; i < 24; i++)
                s += get4(x, n, c, i / 6, i % 6);
            CHECK(fabs(tg_tensor_get(g, S(n, c)) - s / 24) < 1e-12, "global pool (%lld, %lld)",
                  (long long)n, (long long)c);
        }
    tg_tensor *f = tg_flatten(t, x, 1);
    CHECK(f && f->ndim == 2 && f->shape[0] == 2 && f->shape[1] == 72 &&
              tg_tensor_get_flat(f, 30) == tg_tensor_get_flat(x, 30),
          "flatten from axis 1");
    f = tg_flatten(t, x, -2);
    CHECK(f && f->ndim == 3 && f->shape[2] == 24, "flatten from axis -2");
    tg_tape_free(&t);
    tg_tensor_free(&x);
}

/* ----------------------------------------------------------- normalisation */

/* per-channel (axis 1) mean and biased variance of a [N, C, ...] tensor */
static void channel_stats(const tg_tensor *x, int64_t c, double *mean, double *var,
                          int64_t *count)
{
    int64_t n = tg_tensor_numel(x), C = x->shape[1], inner = n / (x->shape[0] * C);
    double s = 0, s2 = 0;
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++)
        if ((i / inner) % C == c) {
            s += tg_tensor_get_flat(x, i);
            k++;
        }
    double m = s / (double)k;
    for (int64_t i = 0; i < n; i++)
        if ((i / inner) % C == c) {
            double dv = tg_tensor_get_flat(x, i) - m;
            s2 += dv * dv;
        }
    *mean = m;
    *var = s2 / (double)k;
    *count = k;
}

static void test_batch_norm_training(void)
{
    for (int d = 0; d < 2; d++)
        for (int shape = 0; shape < 2; shape++) {
            tg_dtype dt = d ? TG_F64 : TG_F32;
            double tol = dt == TG_F32 ? 1e-4 : 1e-9;
            int64_t C = 3;
            tg_tensor *x = shape ? tg_rand_normal(dt, 2, S(16, C), 2, 3, 5, 1)
                                 : tg_rand_normal(dt, 4, S(6, C, 4, 5), 2, 3, 5, 1);
            tg_tensor *rm = tg_zeros(dt, 1, S(C)), *rv = tg_ones(dt, 1, S(C));
            tg_tensor *gamma = tg_tensor_from(TG_F64, 1, S(C), (double[]){0.5, 2, -1});
            tg_tensor *beta = tg_tensor_from(TG_F64, 1, S(C), (double[]){1, -2, 0.25});
            tg_tensor *g2 = tg_zeros(dt, 1, S(C)), *b2 = tg_zeros(dt, 1, S(C));
            tg_tensor_copy(g2, gamma);
            tg_tensor_copy(b2, beta);
            tg_tape *t = tg_tape_new();
            tg_tensor *y = tg_batch_norm(t, x, NULL, NULL, rm, rv, 0.1, 1e-5, true);
            CHECK(y != NULL, "batch_norm: %s", tg_tape_error(t));
            for (int64_t c = 0; y && c < C; c++) {
                double m, v, xm, xv;
                int64_t k;
                channel_stats(y, c, &m, &v, &k);
                CHECK(fabs(m) < tol && fabs(v - 1) < 1e-4,
                      "%s channel %lld: normalised mean %g var %g", dt_name(dt), (long long)c, m, v);
                channel_stats(x, c, &xm, &xv, &k);
                double want_rm = 0.1 * xm, want_rv = 0.9 + 0.1 * xv * (double)k / (double)(k - 1);
                CHECK(fabs(tg_tensor_get_flat(rm, c) - want_rm) < tol * 10 &&
                          fabs(tg_tensor_get_flat(rv, c) - want_rv) < tol * 10 * want_rv,
                      "%s channel %lld: running mean %g (want %g), var %g (want %g)", dt_name(dt),
                      (long long)c, tg_tensor_get_flat(rm, c), want_rm, tg_tensor_get_flat(rv, c),
                      want_rv);
            }
            /* with scale and shift: gamma * y + beta, channel by channel */
            tg_tensor *ya = tg_batch_norm(t, x, g2, b2, NULL, NULL, 0.1, 1e-5, true);
            int64_t n = tg_tensor_numel(x), inner = n / (x->shape[0] * C);
            bool ok = ya != NULL;
            for (int64_t i = 0; ok && i < n; i++) {
                int64_t c = (i / inner) % C;
                double want = tg_tensor_get_flat(gamma, c) * tg_tensor_get_flat(y, i) +
                              tg_tensor_get_flat(beta, c);
                ok = fabs(tg_tensor_get_flat(ya, i) - want) < tol * 10;
            }
            CHECK(ok, "%s: gamma and beta applied per channel", dt_name(dt));
            /* eval: (x - running_mean) / sqrt(running_var + eps) * gamma + beta */
            tg_tensor *ye = tg_batch_norm(t, x, g2, b2, rm, rv, 0.1, 1e-5, false);
            ok = ye != NULL;
            for (int64_t i = 0; ok && i < n; i++) {
                int64_t c = (i / inner) % C;
                double want = (tg_tensor_get_flat(x, i) - tg_tensor_get_flat(rm, c)) /
                                  sqrt(tg_tensor_get_flat(rv, c) + 1e-5) * tg_tensor_get_flat(gamma, c) +
                              tg_tensor_get_flat(beta, c);
                ok = fabs(tg_tensor_get_flat(ye, i) - want) < tol * 10 * (1 + fabs(want));
            }
            CHECK(ok, "%s: evaluation uses the running statistics", dt_name(dt));
            /* momentum 0 keeps the statistics; evaluation never changes them */
            uint64_t hm = tg_tensor_hash(rm), hv = tg_tensor_hash(rv);
            tg_batch_norm(t, x, NULL, NULL, rm, rv, 0.0, 1e-5, true);
            tg_batch_norm(t, x, NULL, NULL, rm, rv, 0.5, 1e-5, false);
            CHECK(tg_tensor_hash(rm) == hm && tg_tensor_hash(rv) == hv,
                  "momentum 0 and evaluation leave the running statistics unchanged");
            /* momentum 1: the running statistics become the batch's */
            tg_batch_norm(t, x, NULL, NULL, rm, rv, 1.0, 1e-5, true);
            double m0, v0;
            int64_t k0;
            channel_stats(x, 0, &m0, &v0, &k0);
            CHECK(fabs(tg_tensor_get_flat(rm, 0) - m0) < tol * 10 &&
                      fabs(tg_tensor_get_flat(rv, 0) - v0 * (double)k0 / (double)(k0 - 1)) < tol * 10 * v0,
                  "momentum 1 copies the batch statistics (unbiased variance)");
            CHECK(!tg_tape_failed(t), "no error: %s", tg_tape_error(t));
            tg_tape_free(&t);
            tg_tensor *ps[] = {x, rm, rv, gamma, beta, g2, b2};
            for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
                tg_tensor_free(&ps[i]);
        }

    /* numerically stable: a large offset does not destroy the variance (two passes) */
    tg_tensor *x = tg_rand_normal(TG_F32, 2, S(64, 2), 1e4, 1, 3, 3);
    tg_tape *t = tg_tape_new();
    tg_tensor *y = tg_batch_norm(t, x, NULL, NULL, NULL, NULL, 0.1, 1e-5, true);
    double m, v;
    int64_t k;
    channel_stats(y, 0, &m, &v, &k);
    CHECK(y && fabs(v - 1) < 1e-2, "f32 batch with mean 1e4: normalised variance %g", v);
    tg_tape_free(&t);
    tg_tensor_free(&x);
}

/* the acceptance point: a conv + batch-norm model in evaluation mode gives the same
 * outputs for a batch and for each of its samples alone */
static tg_tensor *bn_model(tg_tape *t, tg_tensor *x, tg_tensor *const *p, bool training)
{
    tg_conv2d_opts o = tg_conv2d_defaults();
    o.padding[0] = o.padding[1] = 1;
    tg_tensor *h = tg_conv2d(t, x, p[0], p[1], &o);
    h = tg_relu(t, tg_batch_norm(t, h, p[2], p[3], p[4], p[5], 0.1, 1e-5, training));
    h = tg_max_pool2d(t, h, S(2, 2), NULL, NULL);
    h = tg_conv2d(t, h, p[6], NULL, NULL);
    h = tg_batch_norm(t, h, NULL, NULL, p[7], p[8], 0.1, 1e-5, training);
    return tg_flatten(t, tg_avg_pool2d(t, h, S(2, 2), S(1, 1), S(1, 1)), 1);
}

static void test_batch_norm_eval_batch_vs_single(void)
{
    for (int d = 0; d < 2; d++) {
        tg_dtype dt = d ? TG_F64 : TG_F32;
        int64_t N = 5;
        tg_tensor *x = tg_rand_normal(dt, 4, S(N, 2, 8, 8), 0, 1, 21, 1);
        tg_tensor *p[9] = {
            tg_rand_normal(dt, 4, S(4, 2, 3, 3), 0, 0.5, 21, 2), tg_rand_normal(dt, 1, S(4), 0, 0.1, 21, 3),
            tg_rand_uniform(dt, 1, S(4), 0.5, 1.5, 21, 4),       tg_rand_normal(dt, 1, S(4), 0, 0.1, 21, 5),
            tg_zeros(dt, 1, S(4)),                                tg_ones(dt, 1, S(4)),
            tg_rand_normal(dt, 4, S(3, 4, 2, 2), 0, 0.5, 21, 6), tg_zeros(dt, 1, S(3)),
            tg_ones(dt, 1, S(3))};
        tg_tape *t = tg_tape_new();
        /* a few training steps give non-trivial running statistics */
        for (int step = 0; step < 3; step++) {
            tg_tensor *xs = tg_rand_normal(dt, 4, S(N, 2, 8, 8), 0.3, 2, 22, (uint64_t)step);
            CHECK(bn_model(t, xs, p, true) != NULL, "training forward: %s", tg_tape_error(t));
            tg_tape_reset(t);
            tg_tensor_free(&xs);
        }
        tg_tensor *yb = bn_model(t, x, p, false);
        CHECK(yb != NULL, "eval forward: %s", tg_tape_error(t));
        int64_t F = yb ? yb->shape[1] : 0;
        bool same = yb != NULL, differs = false;
        for (int64_t n = 0; same && n < N; n++) {
            tg_tensor *xn = tg_view_slice(x, S(n, 0, 0, 0), S(n + 1, 2, 8, 8), S(1, 1, 1, 1));
            tg_tensor *y1 = bn_model(t, xn, p, false);
            same = y1 && y1->shape[0] == 1 && y1->shape[1] == F;
            for (int64_t f = 0; same && f < F; f++)
                same = tg_tensor_get_flat(y1, f) == tg_tensor_get_flat(yb, n * F + f);
            tg_tensor_free(&xn);
        }
        /* contrast: in training mode the batch statistics mix the samples */
        tg_tensor *ybt = bn_model(t, x, p, true);
        tg_tensor *x0 = tg_view_slice(x, S(0, 0, 0, 0), S(1, 2, 8, 8), S(1, 1, 1, 1));
        tg_tensor *y0t = bn_model(t, x0, p, true);
        for (int64_t f = 0; ybt && y0t && f < F; f++)
            differs |= fabs(tg_tensor_get_flat(y0t, f) - tg_tensor_get_flat(ybt, f)) > 1e-3;
        tg_tensor_free(&x0);
        CHECK(same, "%s: evaluation outputs of the batch equal those of its samples alone",
              dt_name(dt));
        CHECK(differs, "%s: training mode (batch statistics) does depend on the batch", dt_name(dt));
        tg_tape_free(&t);
        tg_tensor_free(&x);
        for (int i = 0; i < 9; i++)
            tg_tensor_free(&p[i]);
    }
}

static void test_layer_norm(void)
{
    for (int d = 0; d < 2; d++) {
        tg_dtype dt = d ? TG_F64 : TG_F32;
        double tol = dt == TG_F32 ? 1e-5 : 1e-12;
        tg_tensor *x = tg_rand_normal(dt, 3, S(4, 3, 5), 3, 2, 31, 1);
        tg_tensor *g = tg_rand_uniform(dt, 2, S(3, 5), 0.5, 1.5, 31, 2);
        tg_tensor *b = tg_rand_normal(dt, 2, S(3, 5), 0, 1, 31, 3);
        tg_tape *t = tg_tape_new();
        tg_tensor *y = tg_layer_norm(t, x, 2, g, b, 1e-5);
        bool ok = y != NULL;
        for (int64_t r = 0; ok && r < 4; r++) {
            double m = 0, v = 0;
            for (int64_t i = 0; i < 15; i++)
                m += tg_tensor_get_flat(x, r * 15 + i) / 15;
            for (int64_t i = 0; i < 15; i++) {
                double dv = tg_tensor_get_flat(x, r * 15 + i) - m;
                v += dv * dv / 15;
            }
            for (int64_t i = 0; ok && i < 15; i++) {
                double want = (tg_tensor_get_flat(x, r * 15 + i) - m) / sqrt(v + 1e-5) *
                                  tg_tensor_get_flat(g, i) + tg_tensor_get_flat(b, i);
                ok = fabs(tg_tensor_get_flat(y, r * 15 + i) - want) < tol * 10 * (1 + fabs(want));
            }
        }
        CHECK(ok, "%s: layer_norm over the last 2 dims vs loops", dt_name(dt));
        tg_tape_free(&t);
        tg_tensor_free(&x);
        tg_tensor_free(&g);
        tg_tensor_free(&b);
    }
}

/* ------------------------------------------------------------------ errors */

/* runs one failing call on a fresh tape: NULL result, the status, and every expected
 * fragment in the message */
#define EXPECT_ERR(call, status, ...)                                                      \
    do {                                                                                   \
        tg_tape *t_ = tg_tape_new();                                                       \
        tg_tape *t = t_;                                                                   \
        tg_tensor *r_ = (call);                                                            \
        const char *frag_[] = {__VA_ARGS__};                                               \
        bool ok_ = !r_ && tg_tape_status(t_) == (status);                                  \
        for (size_t i_ = 0; ok_ && i_ < sizeof frag_ / sizeof frag_[0]; i_++)              \
            ok_ = strstr(tg_tape_error(t_), frag_[i_]) != NULL;                            \
        CHECK(ok_, "%s -> %s '%s'", #call, tg_status_name(tg_tape_status(t_)),             \
              tg_tape_error(t_));                                                          \
        (void)t;                                                                           \
        tg_tape_free(&t_);                                                                 \
    } while (0)

static void test_errors(void)
{
    tg_tensor *x = tg_zeros(TG_F32, 4, S(2, 3, 5, 5));
    tg_tensor *x64 = tg_zeros(TG_F64, 4, S(2, 3, 5, 5));
    tg_tensor *w = tg_zeros(TG_F32, 4, S(4, 3, 3, 3));
    tg_tensor *wg = tg_zeros(TG_F32, 4, S(4, 1, 3, 3));
    tg_tensor *w3 = tg_zeros(TG_F32, 3, S(4, 3, 3));
    tg_tensor *wbig = tg_zeros(TG_F32, 4, S(4, 3, 7, 2));
    tg_tensor *b3 = tg_zeros(TG_F32, 1, S(3));
    tg_tensor *xi = tg_zeros(TG_I32, 4, S(2, 3, 5, 5));
    tg_tensor *x1 = tg_zeros(TG_F32, 3, S(2, 3, 9));
    tg_tensor *c3 = tg_zeros(TG_F32, 1, S(3)), *c4 = tg_zeros(TG_F32, 1, S(4));
    tg_tensor *row = tg_zeros(TG_F32, 2, S(1, 3));
    tg_conv2d_opts g2 = tg_conv2d_defaults(), bad = tg_conv2d_defaults();
    g2.groups = 2;
    bad.stride[1] = 0;

    EXPECT_ERR(tg_conv2d(t, x, wg, NULL, &g2), TG_ESHAPE, "tg_conv2d", "groups 2", "[2,3,5,5]");
    EXPECT_ERR(tg_conv2d(t, x, wbig, NULL, NULL), TG_ESHAPE, "tg_conv2d", "larger than the padded input",
               "[2,3,5,5]");
    EXPECT_ERR(tg_conv2d(t, x, w3, NULL, NULL), TG_ESHAPE, "tg_conv2d", "[4,3,3]", "[2,3,5,5]");
    EXPECT_ERR(tg_conv2d(t, x64, w, NULL, NULL), TG_EDTYPE, "tg_conv2d", "dtypes differ", "f64", "f32");
    EXPECT_ERR(tg_conv2d(t, x, w, b3, NULL), TG_ESHAPE, "tg_conv2d", "bias [3]", "[4]");
    EXPECT_ERR(tg_conv2d(t, x, wg, NULL, NULL), TG_ESHAPE, "tg_conv2d", "[4,1,3,3]", "want C_in/groups = 3");
    EXPECT_ERR(tg_conv2d(t, x, w, NULL, &bad), TG_EINVAL, "tg_conv2d", "stride (1,0)");
    EXPECT_ERR(tg_conv2d(t, xi, w, NULL, NULL), TG_EDTYPE, "tg_conv2d", "i32");
    EXPECT_ERR(tg_conv1d(t, x, w, NULL, NULL), TG_ESHAPE, "tg_conv1d", "[2,3,5,5]");
    EXPECT_ERR(tg_conv1d(t, x1, w3, NULL, &(tg_conv1d_opts){.stride = 1, .dilation = 5, .groups = 1}),
               TG_ESHAPE, "tg_conv1d", "larger than the padded input", "[2,3,9]");
    EXPECT_ERR(tg_max_pool2d(t, x, S(2, 2), NULL, S(2, 0)), TG_EINVAL, "tg_max_pool2d", "half the kernel");
    EXPECT_ERR(tg_avg_pool2d(t, x1, S(2, 2), NULL, NULL), TG_ESHAPE, "tg_avg_pool2d", "[2,3,9]");
    EXPECT_ERR(tg_l2_pool2d(t, x, S(6, 1), NULL, NULL), TG_ESHAPE, "tg_l2_pool2d", "[2,3,5,5]");
    EXPECT_ERR(tg_max_pool2d(t, x, NULL, NULL, NULL), TG_EINVAL, "tg_max_pool2d", "kernel");
    EXPECT_ERR(tg_im2col(t, x, S(2, 2), S(0, 1), NULL, NULL, 0), TG_EINVAL, "tg_im2col", "stride (0,1)");
    EXPECT_ERR(tg_col2im(t, x1, S(5, 5), S(2, 2), NULL, NULL, NULL), TG_ESHAPE, "tg_col2im", "[2,3,9]",
               "Ho 4, Wo 4");
    EXPECT_ERR(tg_batch_norm(t, x, c4, NULL, NULL, NULL, 0.1, 1e-5, true), TG_ESHAPE, "tg_batch_norm",
               "gamma [4]", "[2,3,5,5]");
    EXPECT_ERR(tg_batch_norm(t, x, NULL, NULL, c3, NULL, 0.1, 1e-5, true), TG_EINVAL, "tg_batch_norm",
               "running_var");
    EXPECT_ERR(tg_batch_norm(t, row, NULL, NULL, c3, c3, 0.1, 1e-5, true), TG_ESHAPE, "tg_batch_norm",
               "more than one value", "[1,3]");
    EXPECT_ERR(tg_batch_norm(t, x, NULL, NULL, NULL, NULL, 1.5, 1e-5, true), TG_EINVAL, "momentum");
    EXPECT_ERR(tg_layer_norm(t, x1, 4, NULL, NULL, 1e-5), TG_ERANGE, "tg_layer_norm", "[2,3,9]");
    EXPECT_ERR(tg_layer_norm(t, x1, 1, c3, NULL, 1e-5), TG_ESHAPE, "tg_layer_norm", "gamma [3]", "[9]");
    EXPECT_ERR(tg_flatten(t, x, 4), TG_ERANGE, "tg_flatten", "[2,3,5,5]");

    /* sticky: the first error wins; NULL inputs propagate quietly */
    tg_tape *t = tg_tape_new();
    tg_tensor *y = tg_conv2d(t, x, w3, NULL, NULL);
    y = tg_max_pool2d(t, y, S(2, 2), NULL, NULL);
    CHECK(!y && strstr(tg_tape_error(t), "tg_conv2d"), "first error kept: %s", tg_tape_error(t));
    tg_tape_reset(t);
    CHECK(!tg_conv2d(t, NULL, w, NULL, NULL) && !tg_tape_failed(t), "NULL input: no new error");
    CHECK(tg_conv_out_size(5, 3, 2, 1, 1) == 3 && tg_conv_out_size(5, 7, 1, 0, 1) == -1 &&
              tg_conv_out_size(5, 3, 1, 0, 2) == 1 && tg_conv_out_size(5, 3, 0, 0, 1) == -1,
          "tg_conv_out_size");
    tg_tape_free(&t);
    tg_tensor *all[] = {x, x64, w, wg, w3, wbig, b3, xi, x1, c3, c4, row};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        tg_tensor_free(&all[i]);
}

int main(void)
{
    test_conv2d_forward();
    test_conv2d_backward();
    test_threads();
    test_conv1d();
    test_pools();
    test_batch_norm_training();
    test_batch_norm_eval_batch_vs_single();
    test_layer_norm();
    test_errors();
    return check_summary();
}
