/* Window and index kernels: im2col / col2im, the convolution's per-sample products,
 * max pooling with its argmax, gather / scatter-add along the last axis. They know
 * nothing about tapes; the op files (src/autograd/conv_ops.c, pool_ops.c, index_ops.c)
 * check shapes and dtypes, allocate and record. The typed loops are in window_impl.h. */
#include <string.h>

#include "gemm.h"
#include "kernels.h"

/* window positions o in [0, out) with 0 <= o*s + off < n: [*lo, *hi) */
static int64_t ceil_div(int64_t a, int64_t s) /* a >= 0, s >= 1, without overflow */
{
    return a / s + (a % s != 0);
}

static void valid_range(int64_t off, int64_t s, int64_t n, int64_t out, int64_t *lo, int64_t *hi)
{
    /* off > INT64_MIN and n >= 0; n - off may not fit when off < 0: then every
     * position up to out is below n */
    int64_t l = off >= 0 ? 0 : ceil_div(-off, s);
    int64_t h = off >= n ? 0 : (off < 0 && n > INT64_MAX + off) ? out : ceil_div(n - off, s);
    l = l < out ? l : out;
    h = h < out ? h : out;
    *lo = l;
    *hi = h < l ? l : h;
}

#define TG__TEMPLATE "window_impl.h"
#include "instantiate.h"

/* plane q (sample n0 + q / C, channel q % C) of x unfolded into cols + q * plane */
static void im2col_plane(const tg_tensor *x, void *cols, int64_t n0, int64_t q,
                         const tg__win2d *w, int64_t Ho, int64_t Wo, double padv, bool s1)
{
    int64_t C = x->shape[1], H = x->shape[2], W = x->shape[3];
    int64_t plane = w->k[0] * w->k[1] * Ho * Wo;
    const int64_t *xs = x->stride;
    int64_t xo = x->offset + (n0 + q / C) * xs[0] + (q % C) * xs[1];
    if (s1 && x->dtype == TG_F32)
        im2col_plane_s1_f32((const float *)x->data + xo, xs[2], (float *)cols + q * plane, w, Ho,
                            Wo);
    else if (s1)
        im2col_plane_s1_f64((const double *)x->data + xo, xs[2], (double *)cols + q * plane, w,
                            Ho, Wo);
    else if (x->dtype == TG_F32)
        im2col_plane_f32((const float *)x->data + xo, xs[2], xs[3], H, W,
                         (float *)cols + q * plane, w, Ho, Wo, (float)padv);
    else
        im2col_plane_f64((const double *)x->data + xo, xs[2], xs[3], H, W,
                         (double *)cols + q * plane, w, Ho, Wo, padv);
}

void tg__k_im2col(const tg_tensor *x, void *cols, int64_t n0, int64_t nn, const tg__win2d *w,
                  int64_t Ho, int64_t Wo, double padv, bool par)
{
    int64_t planes = nn * x->shape[1], plane = w->k[0] * w->k[1] * Ho * Wo;
    const int64_t *xs = x->stride;
    int nt = par ? tg__par_threads(planes * plane) : 1;
    bool s1 = xs[3] == 1 && w->s[0] == 1 && w->s[1] == 1 && w->p[0] == 0 && w->p[1] == 0 &&
              w->d[0] == 1 && w->d[1] == 1;
#ifdef TG_HAVE_OPENMP
    if (nt > 1) {
#pragma omp parallel for num_threads(nt)
        for (int64_t q = 0; q < planes; q++)
            im2col_plane(x, cols, n0, q, w, Ho, Wo, padv, s1);
        return;
    }
#endif
    (void)nt;
    for (int64_t q = 0; q < planes; q++)
        im2col_plane(x, cols, n0, q, w, Ho, Wo, padv, s1);
}

void tg__k_col2im(const tg_tensor *cols, tg_tensor *img, const tg__win2d *w, int64_t Ho,
                  int64_t Wo)
{
    int64_t C = img->shape[1], H = img->shape[2], W = img->shape[3];
    int64_t planes = img->shape[0] * C, kk = w->k[0] * w->k[1];
    const int64_t *cs = cols->stride;
    int nt = tg__par_threads(planes * kk * Ho * Wo);
    bool s1 = cs[2] == 1 && w->s[0] == 1 && w->s[1] == 1 && w->p[0] == 0 && w->p[1] == 0 &&
              w->d[0] == 1 && w->d[1] == 1;
#ifdef TG_HAVE_OPENMP
#pragma omp parallel for num_threads(nt) if (nt > 1)
#endif
    for (int64_t q = 0; q < planes; q++) {
        int64_t co = cols->offset + (q / C) * cs[0] + (q % C) * kk * cs[1];
        if (s1 && img->dtype == TG_F32)
            col2im_plane_s1_f32((const float *)cols->data + co, cs[1],
                                (float *)img->data + q * H * W, H, W, w, Ho, Wo);
        else if (s1)
            col2im_plane_s1_f64((const double *)cols->data + co, cs[1],
                                (double *)img->data + q * H * W, H, W, w, Ho, Wo);
        else if (img->dtype == TG_F32)
            col2im_plane_f32((const float *)cols->data + co, cs[1], cs[2],
                             (float *)img->data + q * H * W, H, W, w, Ho, Wo);
        else
            col2im_plane_f64((const double *)cols->data + co, cs[1], cs[2],
                             (double *)img->data + q * H * W, H, W, w, Ho, Wo);
    }
    (void)nt;
}

/* sample n of the convolution: its unfolded input into buf [C*kH*kW, L], then per group
 * out[n, g] = W_g buf_g (+ the bias, written first and added by the GEMM's beta) */
static void conv_sample(tg_tensor *out, const tg_tensor *x, const tg_tensor *wc,
                        const tg_tensor *b, const tg__win2d *win, int64_t G, int64_t n, void *buf,
                        bool par)
{
    int64_t C = x->shape[1], Co = out->shape[1], L = out->shape[2] * out->shape[3];
    int64_t Cog = Co / G, K = (C / G) * win->k[0] * win->k[1];
    tg__k_im2col(x, buf, n, 1, win, out->shape[2], out->shape[3], 0.0, par);
    size_t es = tg_dtype_size(x->dtype);
    char *o = (char *)out->data + (size_t)(out->offset + n * Co * L) * es;
    if (K == 0 && !b) /* no input channels: the output is the bias, or zero */
        memset(o, 0, (size_t)(Co * L) * es);
    if (b)
        for (int64_t co = 0; co < Co; co++) {
            int64_t bo = b->offset + co * b->stride[0];
            if (x->dtype == TG_F32) {
                float v = ((const float *)b->data)[bo], *r = (float *)(void *)o + co * L;
                for (int64_t l = 0; l < L; l++)
                    r[l] = v;
            } else {
                double v = ((const double *)b->data)[bo], *r = (double *)(void *)o + co * L;
                for (int64_t l = 0; l < L; l++)
                    r[l] = v;
            }
        }
    for (int64_t g = 0; K > 0 && g < G; g++) {
        int64_t wo = wc->offset + g * Cog * K, bo = g * K * L, oo = g * Cog * L;
        if (x->dtype == TG_F32)
            tg__gemm_f32(false, false, Cog, L, K, 1.0f, (const float *)wc->data + wo, K,
                         (const float *)buf + bo, L, b ? 1.0f : 0.0f, (float *)(void *)o + oo, L);
        else
            tg__gemm_f64(false, false, Cog, L, K, 1.0, (const double *)wc->data + wo, K,
                         (const double *)buf + bo, L, b ? 1.0 : 0.0, (double *)(void *)o + oo, L);
    }
}

int tg__conv_sample_threads(int64_t N, int64_t per, int64_t M, int64_t L, int64_t K)
{
#ifdef TG_HAVE_OPENMP
    if (tg_num_threads() > 1 && N > 1 && !tg__gemm_splits(M, L, K) &&
        (N * per >= TG__PAR_MIN_ELEMS || N * M * L * K >= TG__PAR_MIN_FLOPS))
        return (int)(N < tg_num_threads() ? N : tg_num_threads());
#endif
    (void)N, (void)per, (void)M, (void)L, (void)K;
    return 1;
}

/* sample n's share of the weight gradient, per group: part[n, g] [K, Cog] =
 * cols_g [K, L] g_g^T [L, Cog], with x's windows unfolded into buf (in cache) */
static void wgrad_sample(const tg_tensor *x, const tg_tensor *gd, const tg__win2d *win, int64_t G,
                         int64_t n, void *buf, void *part, bool par)
{
    int64_t C = x->shape[1], Co = gd->shape[1], Ho = gd->shape[2], Wo = gd->shape[3];
    int64_t L = Ho * Wo, Cog = Co / G, K = (C / G) * win->k[0] * win->k[1];
    tg__k_im2col(x, buf, n, 1, win, Ho, Wo, 0.0, par);
    for (int64_t g = 0; g < G; g++) {
        int64_t go = gd->offset + n * Co * L + g * Cog * L, po = (n * G + g) * K * Cog;
        if (x->dtype == TG_F32)
            tg__gemm_f32(false, true, K, Cog, L, 1.0f, (const float *)buf + g * K * L, L,
                         (const float *)gd->data + go, L, 0.0f, (float *)part + po, Cog);
        else
            tg__gemm_f64(false, true, K, Cog, L, 1.0, (const double *)buf + g * K * L, L,
                         (const double *)gd->data + go, L, 0.0, (double *)part + po, Cog);
    }
}

void tg__k_conv2d(tg_tensor *out, const tg_tensor *x, const tg_tensor *wc, const tg_tensor *b,
                  const tg__win2d *win, int64_t G, char *scratch, int nt)
{
    int64_t N = x->shape[0], C = x->shape[1];
    int64_t per = C * win->k[0] * win->k[1] * out->shape[2] * out->shape[3];
    size_t es = tg_dtype_size(x->dtype);
    /* no inactive region around the samples on one thread: a GEMM inside would then
     * open a nested region, whose threads libgomp creates afresh every time */
#ifdef TG_HAVE_OPENMP
    if (nt > 1) {
        int64_t chunk = (N + nt - 1) / nt;
#pragma omp parallel for num_threads(nt)
        for (int p = 0; p < nt; p++)
            for (int64_t n = p * chunk; n < N && n < (p + 1) * chunk; n++)
                conv_sample(out, x, wc, b, win, G, n, scratch + (size_t)(p * per) * es, false);
        return;
    }
#endif
    (void)nt; /* unused without OpenMP */
    (void)es;
    (void)per;
    for (int64_t n = 0; n < N; n++)
        conv_sample(out, x, wc, b, win, G, n, scratch, true);
}

void tg__k_conv2d_weight(tg_tensor *out, const tg_tensor *x, const tg_tensor *gd,
                         const tg__win2d *win, int64_t G, char *scratch, char *part, int nt)
{
    int64_t N = x->shape[0], C = x->shape[1], Co = gd->shape[1];
    int64_t Cog = Co / G, K = (C / G) * win->k[0] * win->k[1];
    int64_t per = C * win->k[0] * win->k[1] * gd->shape[2] * gd->shape[3];
    size_t es = tg_dtype_size(x->dtype);
#ifdef TG_HAVE_OPENMP
    if (nt > 1) { /* (one thread: no region, as in tg__k_conv2d) */
        int64_t chunk = (N + nt - 1) / nt;
#pragma omp parallel for num_threads(nt)
        for (int p = 0; p < nt; p++)
            for (int64_t n = p * chunk; n < N && n < (p + 1) * chunk; n++)
                wgrad_sample(x, gd, win, G, n, scratch + (size_t)(p * per) * es, part, false);
    } else
#endif
    {
        for (int64_t n = 0; n < N; n++)
            wgrad_sample(x, gd, win, G, n, scratch, part, true);
    }
    (void)nt; /* unused without OpenMP */
    (void)es;
    (void)per;
    if (x->dtype == TG_F32)
        wgrad_sum_f32(out->data, (float *)(void *)part, N, G, K, Cog);
    else
        wgrad_sum_f64(out->data, (double *)(void *)part, N, G, K, Cog);
}

void tg__k_max_pool2d(tg_tensor *out, tg_tensor *arg, const tg_tensor *x, const tg__win2d *w)
{
    int64_t C = x->shape[1], H = x->shape[2], W = x->shape[3];
    int64_t Ho = out->shape[2], Wo = out->shape[3];
    int64_t planes = x->shape[0] * C, L = Ho * Wo;
    const int64_t *xs = x->stride;
    int nt = tg__par_threads(planes * w->k[0] * w->k[1] * L);
    bool fast = w->p[0] == 0 && w->p[1] == 0 && xs[3] == 1;
#ifdef TG_HAVE_OPENMP
#pragma omp parallel for num_threads(nt) if (nt > 1)
#endif
    for (int64_t q = 0; q < planes; q++) {
        int64_t xo = x->offset + (q / C) * xs[0] + (q % C) * xs[1];
        int32_t *a = (int32_t *)arg->data + q * L;
        if (fast && x->dtype == TG_F32)
            maxpool_plane_fast_f32((const float *)x->data + xo, xs[2], W,
                                   (float *)out->data + q * L, a, w, Ho, Wo);
        else if (fast)
            maxpool_plane_fast_f64((const double *)x->data + xo, xs[2], W,
                                   (double *)out->data + q * L, a, w, Ho, Wo);
        else if (x->dtype == TG_F32)
            maxpool_plane_f32((const float *)x->data + xo, xs[2], xs[3], H, W,
                              (float *)out->data + q * L, a, w, Ho, Wo);
        else
            maxpool_plane_f64((const double *)x->data + xo, xs[2], xs[3], H, W,
                              (double *)out->data + q * L, a, w, Ho, Wo);
    }
    (void)nt;
}

void tg__k_gather_last(tg_dtype dt, void *out, const void *x, const int32_t *idx, int64_t rows,
                       int64_t P, int64_t Q)
{
    if (dt == TG_F32)
        gather_f32(out, x, idx, rows, P, Q);
    else
        gather_f64(out, x, idx, rows, P, Q);
}

void tg__k_scatter_add_last(tg_dtype dt, void *out, const void *src, const int32_t *idx,
                            int64_t rows, int64_t P, int64_t Q)
{
    if (dt == TG_F32)
        scatter_f32(out, src, idx, rows, P, Q);
    else
        scatter_f64(out, src, idx, rows, P, Q);
}
