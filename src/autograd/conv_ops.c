/* Convolution, pooling and normalisation.
 * Registered ops: im2col and col2im (each the other's adjoint; kernels in this file),
 * conv2d (forward: each sample unfolded into cache-sized scratch and multiplied by one
 * GEMM per group, the bias written first; backward with matmul, col2im, conv2d_weight
 * and sum), conv2d_weight (the weight gradient, sample by sample the same way; its own
 * backward is conv2d and the input-gradient ops), max_pool2d (max and argmax in one
 * pass; backward a scatter-add) and gather_last / scatter_add_last (each the other's
 * adjoint). conv1d, the other pools, batch and layer normalisation and flatten are
 * compositions of registered ops, so their gradients (and second derivatives) come
 * from those ops. */
#include <math.h>
#include <string.h>

#include "cnn.h"
#include "internal.h"
#include "../tensor/gemm.h"

/* a 2-D sliding window: kernel, stride, padding, dilation as (h, w) pairs */
typedef struct win2d {
    int64_t k[2], s[2], p[2], d[2];
} win2d;

/* window kernels run on several threads only above this many elements per call */
#define PAR_MIN_ELEMS ((int64_t)1 << 15)

static int par_threads(int64_t work)
{
#ifdef TG_HAVE_OPENMP
    if (work >= PAR_MIN_ELEMS && tg_num_threads() > 1)
        return tg_num_threads();
#endif
    (void)work;
    return 1;
}

/* ------------------------------------------------------------------ checks */

/* p (named what) is NULL or has x's dtype */
static bool same_dtype(tg_tape *t, const tg_tensor *x, const tg_tensor *p, const char *what,
                       const char *fn)
{
    if (p && p->dtype != x->dtype) {
        tg__fail(t, TG_EDTYPE, "%s: dtypes differ: x %s %s, %s %s %s", fn, tg__shape_str(x).s,
                 tg_dtype_name(x->dtype), what, tg__shape_str(p).s, tg_dtype_name(p->dtype));
        return false;
    }
    return true;
}

int64_t tg_conv_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dilation)
{
    if (in < 0 || k < 1 || stride < 1 || pad < 0 || dilation < 1)
        return -1;
    if (k - 1 > (INT64_MAX - 1) / dilation || pad > (INT64_MAX - in) / 2)
        return -1;
    int64_t eff = dilation * (k - 1) + 1, padded = in + 2 * pad;
    if (eff > padded)
        return -1;
    return (padded - eff) / stride + 1;
}

static const int64_t ONES[2] = {1, 1}, ZEROS[2] = {0, 0};

/* fills w from the user's pairs (NULL stride/dilation: 1, NULL padding: 0) and checks
 * their ranges */
static bool make_window(tg_tape *t, win2d *w, const int64_t *kernel, const int64_t *stride,
                        const int64_t *padding, const int64_t *dilation, const char *fn)
{
    if (!kernel) {
        tg__fail(t, TG_EINVAL, "%s: kernel size is NULL", fn);
        return false;
    }
    stride = stride ? stride : ONES;
    padding = padding ? padding : ZEROS;
    dilation = dilation ? dilation : ONES;
    for (int a = 0; a < 2; a++) {
        w->k[a] = kernel[a];
        w->s[a] = stride[a];
        w->p[a] = padding[a];
        w->d[a] = dilation[a];
    }
    if (w->k[0] < 1 || w->k[1] < 1 || w->s[0] < 1 || w->s[1] < 1 || w->p[0] < 0 || w->p[1] < 0 ||
        w->d[0] < 1 || w->d[1] < 1) {
        tg__fail(t, TG_EINVAL,
                 "%s: invalid window: kernel (%lld,%lld) stride (%lld,%lld) padding (%lld,%lld) "
                 "dilation (%lld,%lld) (kernel, stride, dilation >= 1; padding >= 0)",
                 fn, (long long)w->k[0], (long long)w->k[1], (long long)w->s[0],
                 (long long)w->s[1], (long long)w->p[0], (long long)w->p[1], (long long)w->d[0],
                 (long long)w->d[1]);
        return false;
    }
    return true;
}

/* output size of the window over an H x W image (x names the input in messages) */
static bool window_fit(tg_tape *t, const win2d *w, int64_t H, int64_t W, const tg_tensor *x,
                       int64_t *Ho, int64_t *Wo, const char *fn)
{
    *Ho = tg_conv_out_size(H, w->k[0], w->s[0], w->p[0], w->d[0]);
    *Wo = tg_conv_out_size(W, w->k[1], w->s[1], w->p[1], w->d[1]);
    if (*Ho < 1 || *Wo < 1) {
        tg__fail(t, TG_ESHAPE,
                 "%s: kernel (%lld,%lld) with dilation (%lld,%lld) larger than the padded input: "
                 "x %s, padding (%lld,%lld)",
                 fn, (long long)w->k[0], (long long)w->k[1], (long long)w->d[0],
                 (long long)w->d[1], tg__shape_str(x).s, (long long)w->p[0], (long long)w->p[1]);
        return false;
    }
    return true;
}

static bool check_image(tg_tape *t, const tg_tensor *x, const char *fn)
{
    if (!tg__check_float(t, x, fn))
        return false;
    if (x->ndim != 4) {
        tg__fail(t, TG_ESHAPE, "%s: x must be [N, C, H, W], got %s", fn, tg__shape_str(x).s);
        return false;
    }
    return true;
}

static void window_to_args(const win2d *w, tg__args *a)
{
    for (int i = 0; i < 2; i++) {
        a->v[i] = w->k[i];
        a->v[2 + i] = w->s[i];
        a->v[4 + i] = w->p[i];
        a->v[6 + i] = w->d[i];
    }
}

static win2d window_of(const tg__node *n)
{
    win2d w;
    for (int i = 0; i < 2; i++) {
        w.k[i] = n->a.v[i];
        w.s[i] = n->a.v[2 + i];
        w.p[i] = n->a.v[4 + i];
        w.d[i] = n->a.v[6 + i];
    }
    return w;
}

/* ----------------------------------------------------------------- kernels */

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

/* One channel plane. im2col: x (element strides sh, sw) -> kH*kW rows of Ho*Wo, pad
 * value outside the image. col2im: the rows (row stride rs, element stride ls) summed
 * into a contiguous H x W image. */
#define WINDOW_KERNELS(T, SUF)                                                              \
    static void im2col_plane_##SUF(const T *x, int64_t sh, int64_t sw, int64_t H,           \
                                   int64_t W, T *cols, const win2d *w, int64_t Ho,          \
                                   int64_t Wo, T padv)                                      \
    {                                                                                       \
        int64_t L = Ho * Wo;                                                                \
        for (int64_t i = 0; i < w->k[0]; i++)                                               \
            for (int64_t j = 0; j < w->k[1]; j++) {                                         \
                T *row = cols + (i * w->k[1] + j) * L;                                      \
                int64_t offh = i * w->d[0] - w->p[0], offw = j * w->d[1] - w->p[1];         \
                int64_t hlo, hhi, wlo, whi;                                                 \
                valid_range(offh, w->s[0], H, Ho, &hlo, &hhi);                              \
                valid_range(offw, w->s[1], W, Wo, &wlo, &whi);                              \
                for (int64_t oh = 0; oh < Ho; oh++) {                                       \
                    T *r = row + oh * Wo;                                                   \
                    if (oh < hlo || oh >= hhi) {                                            \
                        for (int64_t ow = 0; ow < Wo; ow++)                                 \
                            r[ow] = padv;                                                   \
                        continue;                                                           \
                    }                                                                       \
                    int64_t base = (oh * w->s[0] + offh) * sh + offw * sw, step = w->s[1] * sw; \
                    for (int64_t ow = 0; ow < wlo; ow++)                                    \
                        r[ow] = padv;                                                       \
                    if (step == 1) /* stride 1 along a contiguous row: a plain copy */     \
                        for (int64_t ow = wlo; ow < whi; ow++)                              \
                            r[ow] = x[base + ow];                                           \
                    else                                                                    \
                        for (int64_t ow = wlo; ow < whi; ow++)                              \
                            r[ow] = x[base + ow * step];                                    \
                    for (int64_t ow = whi; ow < Wo; ow++)                                   \
                        r[ow] = padv;                                                       \
                }                                                                           \
            }                                                                               \
    }                                                                                       \
    /* im2col of a plane with stride 1, no padding, no dilation and contiguous rows:    \
     * every row of cols is Ho plain copies of Wo elements */                               \
    static void im2col_plane_s1_##SUF(const T *x, int64_t sh, T *restrict cols,            \
                                      const win2d *w, int64_t Ho, int64_t Wo)              \
    {                                                                                       \
        for (int64_t i = 0; i < w->k[0]; i++)                                               \
            for (int64_t j = 0; j < w->k[1]; j++) {                                         \
                T *restrict row = cols + (i * w->k[1] + j) * Ho * Wo;                       \
                const T *src = x + i * sh + j;                                              \
                for (int64_t oh = 0; oh < Ho; oh++)                                         \
                    for (int64_t ow = 0; ow < Wo; ow++)                                     \
                        row[oh * Wo + ow] = src[oh * sh + ow];                              \
            }                                                                               \
    }                                                                                       \
    /* col2im of contiguous rows (element stride 1, row stride rs) with stride 1, no     \
     * padding, no dilation: plain row additions */                                         \
    static void col2im_plane_s1_##SUF(const T *cols, int64_t rs, T *restrict img,          \
                                      int64_t H, int64_t W, const win2d *w, int64_t Ho,    \
                                      int64_t Wo)                                          \
    {                                                                                       \
        for (int64_t e = 0; e < H * W; e++)                                                 \
            img[e] = 0;                                                                     \
        for (int64_t i = 0; i < w->k[0]; i++)                                               \
            for (int64_t j = 0; j < w->k[1]; j++) {                                         \
                const T *cr = cols + (i * w->k[1] + j) * rs;                                \
                for (int64_t oh = 0; oh < Ho; oh++) {                                       \
                    T *restrict ir = img + (oh + i) * W + j;                                \
                    for (int64_t ow = 0; ow < Wo; ow++)                                     \
                        ir[ow] += cr[oh * Wo + ow];                                         \
                }                                                                           \
            }                                                                               \
    }                                                                                       \
    static void col2im_plane_##SUF(const T *cols, int64_t rs, int64_t ls, T *img, int64_t H, \
                                   int64_t W, const win2d *w, int64_t Ho, int64_t Wo)      \
    {                                                                                       \
        for (int64_t e = 0; e < H * W; e++)                                                 \
            img[e] = 0;                                                                     \
        for (int64_t i = 0; i < w->k[0]; i++)                                               \
            for (int64_t j = 0; j < w->k[1]; j++) {                                         \
                int64_t row = (i * w->k[1] + j) * rs;                                       \
                int64_t offh = i * w->d[0] - w->p[0], offw = j * w->d[1] - w->p[1];         \
                int64_t hlo, hhi, wlo, whi;                                                 \
                valid_range(offh, w->s[0], H, Ho, &hlo, &hhi);                              \
                valid_range(offw, w->s[1], W, Wo, &wlo, &whi);                              \
                for (int64_t oh = hlo; oh < hhi; oh++) {                                    \
                    T *ir = img + (oh * w->s[0] + offh) * W;                                \
                    const T *cr = cols + row + oh * Wo * ls;                                \
                    if (w->s[1] == 1 && ls == 1) /* contiguous on both sides */            \
                        for (int64_t ow = wlo; ow < whi; ow++)                              \
                            ir[ow + offw] += cr[ow];                                        \
                    else                                                                    \
                        for (int64_t ow = wlo; ow < whi; ow++)                              \
                            ir[ow * w->s[1] + offw] += cr[ow * ls];                         \
                }                                                                           \
            }                                                                               \
    }
WINDOW_KERNELS(float, f32)
WINDOW_KERNELS(double, f64)

/* plane q (sample n0 + q / C, channel q % C) of x unfolded into cols + q * plane */
static void im2col_plane(const tg_tensor *x, void *cols, int64_t n0, int64_t q, const win2d *w,
                         int64_t Ho, int64_t Wo, double padv, bool s1)
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

/* samples n0 .. n0+nn-1 of x [N, C, H, W] (any strides) unfolded into contiguous cols
 * [nn, C*kH*kW, Ho*Wo]; on several threads (by planes) if par and the work is large.
 * Called once per sample by the convolutions: a one-thread call enters no OpenMP
 * region (an inactive region still costs about 0.4 us). */
static void k_im2col(const tg_tensor *x, void *cols, int64_t n0, int64_t nn, const win2d *w,
                     int64_t Ho, int64_t Wo, double padv, bool par)
{
    int64_t planes = nn * x->shape[1], plane = w->k[0] * w->k[1] * Ho * Wo;
    const int64_t *xs = x->stride;
    int nt = par ? par_threads(planes * plane) : 1;
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

/* cols [N, C*kH*kW, Ho*Wo] (any strides) folded into the contiguous img [N, C, H, W] */
static void k_col2im(const tg_tensor *cols, tg_tensor *img, const win2d *w, int64_t Ho,
                     int64_t Wo)
{
    int64_t C = img->shape[1], H = img->shape[2], W = img->shape[3];
    int64_t planes = img->shape[0] * C, kk = w->k[0] * w->k[1];
    const int64_t *cs = cols->stride;
    int nt = par_threads(planes * kk * Ho * Wo);
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

/* ---------------------------------------------------------- im2col, col2im */

tg_tensor *tg_im2col(tg_tape *t, tg_tensor *x, const int64_t kernel[2], const int64_t stride[2],
                     const int64_t padding[2], const int64_t dilation[2], double pad_value)
{
    const char *fn = "tg_im2col";
    TG__GUARD(t, fn, x);
    win2d w;
    int64_t Ho, Wo;
    if (!check_image(t, x, fn) || !make_window(t, &w, kernel, stride, padding, dilation, fn) ||
        !window_fit(t, &w, x->shape[2], x->shape[3], x, &Ho, &Wo, fn))
        return NULL;
    int64_t rows, L;
    if (!tg__numel(3, (int64_t[]){x->shape[1], w.k[0], w.k[1]}, &rows) ||
        !tg__numel(2, (int64_t[]){Ho, Wo}, &L))
        return tg__fail(t, TG_EINVAL, "%s: window too large for x %s", fn, tg__shape_str(x).s);
    int64_t shape[3] = {x->shape[0], rows, L};
    tg_tensor *out = tg__new(t, x->dtype, 3, shape);
    if (!out)
        return NULL;
    k_im2col(x, out->data, 0, x->shape[0], &w, Ho, Wo, pad_value, true);
    tg__args a = {.s = pad_value};
    window_to_args(&w, &a);
    return tg__record(t, TG_OP_IM2COL, 1, &x, out, &a);
}

void tg__bwd_im2col(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    /* linear in x; the padding constant gets no gradient */
    win2d w = window_of(n);
    const tg_tensor *x = n->in[0];
    gi[0] = tg_col2im(t, g, x->shape + 2, w.k, w.s, w.p, w.d);
}

tg_tensor *tg_col2im(tg_tape *t, tg_tensor *cols, const int64_t size[2], const int64_t kernel[2],
                     const int64_t stride[2], const int64_t padding[2], const int64_t dilation[2])
{
    const char *fn = "tg_col2im";
    TG__GUARD(t, fn, cols);
    win2d w;
    if (!tg__check_float(t, cols, fn) || !make_window(t, &w, kernel, stride, padding, dilation, fn))
        return NULL;
    if (!size || size[0] < 0 || size[1] < 0)
        return tg__fail(t, TG_EINVAL, "%s: invalid image size", fn);
    if (cols->ndim != 3)
        return tg__fail(t, TG_ESHAPE, "%s: cols must be [N, C*kH*kW, Ho*Wo], got %s", fn,
                        tg__shape_str(cols).s);
    int64_t kk, Ho, Wo, L;
    int64_t img[4] = {cols->shape[0], 0, size[0], size[1]};
    if (!window_fit(t, &w, size[0], size[1], cols, &Ho, &Wo, fn))
        return NULL;
    if (!tg__numel(2, w.k, &kk) || !tg__numel(2, (int64_t[]){Ho, Wo}, &L) ||
        cols->shape[1] % kk != 0 || cols->shape[2] != L)
        return tg__fail(t, TG_ESHAPE,
                        "%s: cols %s do not fit a [%lld,%lld] image with kernel (%lld,%lld) "
                        "(want [N, C*kH*kW, Ho*Wo] with Ho %lld, Wo %lld)",
                        fn, tg__shape_str(cols).s, (long long)size[0], (long long)size[1],
                        (long long)w.k[0], (long long)w.k[1], (long long)Ho, (long long)Wo);
    img[1] = cols->shape[1] / kk;
    tg_tensor *out = tg__new(t, cols->dtype, 4, img);
    if (!out)
        return NULL;
    k_col2im(cols, out, &w, Ho, Wo);
    tg__args a = {0};
    window_to_args(&w, &a);
    return tg__record(t, TG_OP_COL2IM, 1, &cols, out, &a);
}

void tg__bwd_col2im(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    win2d w = window_of(n);
    gi[0] = tg_im2col(t, g, w.k, w.s, w.p, w.d, 0.0);
}

/* ------------------------------------------------------------------ conv2d */

tg_conv2d_opts tg_conv2d_defaults(void)
{
    tg_conv2d_opts o = {.stride = {1, 1}, .padding = {0, 0}, .dilation = {1, 1}, .groups = 1};
    return o;
}

/* checks x, w, b against each other for a convolution of spatial rank 1 or 2 */
static bool check_conv(tg_tape *t, const tg_tensor *x, const tg_tensor *w, const tg_tensor *b,
                       int64_t groups, int rank, const char *fn)
{
    if (!tg__check_float(t, x, fn) || !same_dtype(t, x, w, "w", fn) || !same_dtype(t, x, b, "b", fn))
        return false;
    const char *want = rank == 2 ? "x [N, C_in, H, W] and w [C_out, C_in/groups, kH, kW]"
                                 : "x [N, C_in, L] and w [C_out, C_in/groups, k]";
    if (x->ndim != rank + 2 || w->ndim != rank + 2) {
        tg__fail(t, TG_ESHAPE, "%s: need %s, got x %s, w %s", fn, want, tg__shape_str(x).s,
                 tg__shape_str(w).s);
        return false;
    }
    int64_t C = x->shape[1], Co = w->shape[0];
    if (groups < 1) {
        tg__fail(t, TG_EINVAL, "%s: groups %lld must be >= 1", fn, (long long)groups);
        return false;
    }
    if (C % groups || Co % groups) {
        tg__fail(t, TG_ESHAPE,
                 "%s: channels not divisible by groups %lld: x %s (C_in %lld), w %s (C_out %lld)",
                 fn, (long long)groups, tg__shape_str(x).s, (long long)C, tg__shape_str(w).s,
                 (long long)Co);
        return false;
    }
    if (w->shape[1] != C / groups) {
        tg__fail(t, TG_ESHAPE, "%s: w %s has %lld input channels, want C_in/groups = %lld (x %s)",
                 fn, tg__shape_str(w).s, (long long)w->shape[1], (long long)(C / groups),
                 tg__shape_str(x).s);
        return false;
    }
    if (b && (b->ndim != 1 || b->shape[0] != Co)) {
        tg__fail(t, TG_ESHAPE, "%s: bias %s must be [%lld] (w %s)", fn, tg__shape_str(b).s,
                 (long long)Co, tg__shape_str(w).s);
        return false;
    }
    return true;
}

/* sample n of the convolution: its unfolded input into buf [C*kH*kW, L], then per group
 * out[n, g] = W_g buf_g (+ the bias, written first and added by the GEMM's beta) */
static void conv_sample(tg_tensor *out, const tg_tensor *x, const tg_tensor *wc,
                        const tg_tensor *b, const win2d *win, int64_t G, int64_t n, void *buf,
                        bool par)
{
    int64_t C = x->shape[1], Co = out->shape[1], L = out->shape[2] * out->shape[3];
    int64_t Cog = Co / G, K = (C / G) * win->k[0] * win->k[1];
    k_im2col(x, buf, n, 1, win, out->shape[2], out->shape[3], 0.0, par);
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

/* threads for a per-sample loop over N samples of `per` unfolded elements each whose
 * products (M x L x K) are too small to split: 1 if not worth it */
static int sample_threads(int64_t N, int64_t per, int64_t M, int64_t L, int64_t K)
{
#ifdef TG_HAVE_OPENMP
    if (tg_num_threads() > 1 && N > 1 && !tg__gemm_splits(M, L, K) &&
        (N * per >= PAR_MIN_ELEMS || N * M * L * K >= TG__PAR_MIN_FLOPS))
        return (int)(N < tg_num_threads() ? N : tg_num_threads());
#endif
    (void)N, (void)per, (void)M, (void)L, (void)K;
    return 1;
}

/* out [N, C_out, Ho, Wo] = conv(x, w) + b, one sample at a time (its unfolded input is
 * still in cache for its GEMMs). Samples are shared out across threads when each
 * sample's products are too small to split; every sample is computed by the same code
 * either way. Each thread reuses one sample's scratch. */
static bool conv_forward(tg_tape *t, tg_tensor *out, const tg_tensor *x, const tg_tensor *w,
                         const tg_tensor *b, const win2d *win, int64_t G)
{
    int64_t N = x->shape[0], C = x->shape[1], Co = w->shape[0];
    int64_t L = out->shape[2] * out->shape[3], per = C * win->k[0] * win->k[1] * L;
    if (N == 0 || Co == 0)
        return true;
    const tg_tensor *wc = tg__dense_of(t, w);
    if (!wc)
        return false;
    int nt = sample_threads(N, per, Co / G, L, (C / G) * win->k[0] * win->k[1]);
    size_t es = tg_dtype_size(x->dtype);
    char *scratch = tg__arena_alloc(t, (size_t)(nt * per) * es + 1);
    if (!scratch)
        return false;
    /* no inactive region around the samples on one thread: a GEMM inside would then
     * open a nested region, whose threads libgomp creates afresh every time */
#ifdef TG_HAVE_OPENMP
    if (nt > 1) {
        int64_t chunk = (N + nt - 1) / nt;
#pragma omp parallel for num_threads(nt)
        for (int p = 0; p < nt; p++)
            for (int64_t n = p * chunk; n < N && n < (p + 1) * chunk; n++)
                conv_sample(out, x, wc, b, win, G, n, scratch + (size_t)(p * per) * es, false);
        return true;
    }
#endif
    for (int64_t n = 0; n < N; n++)
        conv_sample(out, x, wc, b, win, G, n, scratch, true);
    return true;
}

static void conv_opts_to_args(const win2d *win, int64_t groups, tg__args *a)
{
    window_to_args(win, a);
    a->v[8] = groups;
}

static tg_conv2d_opts opts_of(const tg__node *n)
{
    win2d w = window_of(n);
    tg_conv2d_opts o = {.groups = n->a.v[8]};
    for (int i = 0; i < 2; i++) {
        o.stride[i] = w.s[i];
        o.padding[i] = w.p[i];
        o.dilation[i] = w.d[i];
    }
    return o;
}

tg_tensor *tg_conv2d(tg_tape *t, tg_tensor *x, tg_tensor *w, tg_tensor *b,
                     const tg_conv2d_opts *opts)
{
    const char *fn = "tg_conv2d";
    TG__GUARD(t, fn, x, w);
    if (!tg__opt_input_ok(t, fn, b))
        return NULL;
    tg_conv2d_opts o = opts ? *opts : tg_conv2d_defaults();
    if (!check_conv(t, x, w, b, o.groups, 2, fn))
        return NULL;
    win2d win;
    int64_t Ho, Wo;
    if (!make_window(t, &win, w->shape + 2, o.stride, o.padding, o.dilation, fn) ||
        !window_fit(t, &win, x->shape[2], x->shape[3], x, &Ho, &Wo, fn))
        return NULL;
    int64_t shape[4] = {x->shape[0], w->shape[0], Ho, Wo}, cols;
    if (!tg__numel(4, (int64_t[]){x->shape[1], w->shape[2] * w->shape[3], Ho, Wo}, &cols))
        return tg__fail(t, TG_EINVAL, "%s: window too large: x %s, w %s", fn, tg__shape_str(x).s,
                        tg__shape_str(w).s);
    tg_tensor *out = tg__new(t, x->dtype, 4, shape);
    if (!out || !conv_forward(t, out, x, w, b, &win, o.groups))
        return NULL;
    tg__args a = {0};
    conv_opts_to_args(&win, o.groups, &a);
    tg_tensor *in[3] = {x, w, b};
    return tg__record(t, TG_OP_CONV2D, b ? 3 : 2, in, out, &a);
}

/* the gradient w.r.t. the input x of a convolution with weight w, from the output
 * gradient g: per group W_g^T g, folded back into the image (ops) */
static tg_tensor *conv_input_grad(tg_tape *t, tg_tensor *w, tg_tensor *g, const tg_tensor *x,
                                  const win2d *win, int64_t G)
{
    int64_t N = x->shape[0], C = x->shape[1], Co = w->shape[0];
    int64_t L = g->shape[2] * g->shape[3], K = w->shape[1] * w->shape[2] * w->shape[3];
    tg_tensor *gr = tg_reshape(t, g, 4, (int64_t[]){N, G, Co / G, L});
    tg_tensor *wr = tg_reshape(t, w, 3, (int64_t[]){G, Co / G, K});
    tg_tensor *gc = tg_matmul(t, tg_transpose(t, wr, -1, -2), gr); /* [N, G, K, L] */
    gc = tg_reshape(t, gc, 3, (int64_t[]){N, C * win->k[0] * win->k[1], L});
    return tg_col2im(t, gc, x->shape + 2, win->k, win->s, win->p, win->d);
}

void tg__bwd_conv2d(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    tg_tensor *x = n->in[0], *w = n->in[1];
    win2d win = window_of(n);
    if (x->requires_grad)
        gi[0] = conv_input_grad(t, w, g, x, &win, n->a.v[8]);
    if (w->requires_grad) {
        tg_conv2d_opts o = opts_of(n);
        gi[1] = tg_conv2d_weight(t, x, g, w->shape, &o);
    }
    if (n->n_in == 3 && n->in[2]->requires_grad)
        gi[2] = tg_sum(t, g, 3, (int[]){0, 2, 3}, false);
}

/* ----------------------------------------------------------- conv2d_weight */

/* sample n's share of the weight gradient, per group: part[n, g] [K, Cog] =
 * cols_g [K, L] g_g^T [L, Cog], with x's windows unfolded into buf (in cache) */
static void wgrad_sample(const tg_tensor *x, const tg_tensor *gd, const win2d *win, int64_t G,
                         int64_t n, void *buf, void *part, bool par)
{
    int64_t C = x->shape[1], Co = gd->shape[1], Ho = gd->shape[2], Wo = gd->shape[3];
    int64_t L = Ho * Wo, Cog = Co / G, K = (C / G) * win->k[0] * win->k[1];
    k_im2col(x, buf, n, 1, win, Ho, Wo, 0.0, par);
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

/* out[g*Cog + co, k] = sum over n in order of part[n, g, k, co]: the shares are added
 * into part[0] sample by sample (contiguous passes), then transposed into out */
#define WGRAD_SUM(T, SUF)                                                                   \
    static void wgrad_sum_##SUF(T *out, T *part, int64_t N, int64_t G, int64_t K,           \
                                int64_t Cog)                                                \
    {                                                                                       \
        int64_t per = G * K * Cog;                                                          \
        for (int64_t n = 1; n < N; n++) {                                                   \
            const T *restrict p = part + n * per;                                           \
            T *restrict acc = part;                                                         \
            for (int64_t e = 0; e < per; e++)                                               \
                acc[e] += p[e];                                                             \
        }                                                                                   \
        for (int64_t g = 0; g < G; g++)                                                     \
            for (int64_t co = 0; co < Cog; co++)                                            \
                for (int64_t k = 0; k < K; k++)                                             \
                    out[(g * Cog + co) * K + k] = N ? part[(g * K + k) * Cog + co] : 0;     \
    }
WGRAD_SUM(float, f32)
WGRAD_SUM(double, f64)

tg_tensor *tg_conv2d_weight(tg_tape *t, tg_tensor *x, tg_tensor *g, const int64_t w_shape[4],
                            const tg_conv2d_opts *opts)
{
    const char *fn = "tg_conv2d_weight";
    TG__GUARD(t, fn, x, g);
    if (!w_shape)
        return tg__fail(t, TG_EINVAL, "%s: w_shape is NULL", fn);
    tg_conv2d_opts o = opts ? *opts : tg_conv2d_defaults();
    /* a header with the weight's shape stands in for w in the convolution's checks */
    tg_tensor wh;
    int64_t wn;
    if (!tg__numel(4, w_shape, &wn))
        return tg__fail(t, TG_EINVAL, "%s: invalid w_shape %s", fn, tg__dims_str(4, w_shape).s);
    tg__init_header(&wh, x->dtype, 4, w_shape);
    if (!check_conv(t, x, &wh, NULL, o.groups, 2, fn) || !same_dtype(t, x, g, "g", fn))
        return NULL;
    win2d win;
    int64_t Ho, Wo;
    if (!make_window(t, &win, w_shape + 2, o.stride, o.padding, o.dilation, fn) ||
        !window_fit(t, &win, x->shape[2], x->shape[3], x, &Ho, &Wo, fn))
        return NULL;
    int64_t N = x->shape[0], Co = w_shape[0], G = o.groups;
    if (g->ndim != 4 || g->shape[0] != N || g->shape[1] != Co || g->shape[2] != Ho ||
        g->shape[3] != Wo)
        return tg__fail(t, TG_ESHAPE, "%s: g %s does not fit x %s and w_shape %s (want %s)", fn,
                        tg__shape_str(g).s, tg__shape_str(x).s, tg__dims_str(4, w_shape).s,
                        tg__dims_str(4, (int64_t[]){N, Co, Ho, Wo}).s);
    int64_t C = x->shape[1], Cog = Co / G, L, K, per, parts;
    if (!tg__numel(2, (int64_t[]){Ho, Wo}, &L) ||
        !tg__numel(3, (int64_t[]){C / G, win.k[0], win.k[1]}, &K) ||
        !tg__numel(4, (int64_t[]){C, win.k[0] * win.k[1], Ho, Wo}, &per) ||
        !tg__numel(3, (int64_t[]){N, K, Co}, &parts))
        return tg__fail(t, TG_EINVAL, "%s: window too large: x %s", fn, tg__shape_str(x).s);
    tg_tensor *out = tg__new(t, x->dtype, 4, w_shape);
    const tg_tensor *gd = out ? tg__dense_of(t, g) : NULL;
    if (!gd)
        return NULL;
    tg__args a = {0};
    conv_opts_to_args(&win, G, &a);
    tg_tensor *in[2] = {x, g};
    if (K == 0 || Cog == 0) /* an empty weight */
        return tg__record(t, TG_OP_CONV2D_WEIGHT, 2, in, out, &a);
    size_t es = tg_dtype_size(x->dtype);
    int nt = sample_threads(N, per, K, Cog, L);
    char *scratch = tg__arena_alloc(t, (size_t)(nt * per) * es + 1);
    char *part = scratch ? tg__arena_alloc(t, (size_t)parts * es + 1) : NULL;
    if (!part)
        return NULL;
    int64_t chunk = (N + nt - 1) / nt;
#ifdef TG_HAVE_OPENMP
    if (nt > 1) { /* (one thread: no region, as in conv_forward) */
#pragma omp parallel for num_threads(nt)
        for (int p = 0; p < nt; p++)
            for (int64_t n = p * chunk; n < N && n < (p + 1) * chunk; n++)
                wgrad_sample(x, gd, &win, G, n, scratch + (size_t)(p * per) * es, part, false);
    } else
#endif
    {
        for (int64_t n = 0; n < N; n++)
            wgrad_sample(x, gd, &win, G, n, scratch, part, true);
    }
    (void)chunk;
    if (x->dtype == TG_F32)
        wgrad_sum_f32(out->data, (float *)(void *)part, N, G, K, Cog);
    else
        wgrad_sum_f64(out->data, (double *)(void *)part, N, G, K, Cog);
    return tg__record(t, TG_OP_CONV2D_WEIGHT, 2, in, out, &a);
}

void tg__bwd_conv2d_weight(tg_tape *t, const tg__node *n, tg_tensor *gw, tg_tensor **gi)
{
    /* out = sum_n g_n cols(x_n)^T is bilinear: its gradient w.r.t. g is the convolution
     * of x with gw, w.r.t. x the input gradient of a convolution with gw */
    tg_tensor *x = n->in[0], *g = n->in[1];
    win2d win = window_of(n);
    if (x->requires_grad)
        gi[0] = conv_input_grad(t, gw, g, x, &win, n->a.v[8]);
    if (g->requires_grad) {
        tg_conv2d_opts o = opts_of(n);
        gi[1] = tg_conv2d(t, x, gw, NULL, &o);
    }
}

/* ------------------------------------------------------------------ conv1d */

tg_conv1d_opts tg_conv1d_defaults(void)
{
    tg_conv1d_opts o = {.stride = 1, .padding = 0, .dilation = 1, .groups = 1};
    return o;
}

tg_tensor *tg_conv1d(tg_tape *t, tg_tensor *x, tg_tensor *w, tg_tensor *b,
                     const tg_conv1d_opts *opts)
{
    const char *fn = "tg_conv1d";
    TG__GUARD(t, fn, x, w);
    if (!tg__opt_input_ok(t, fn, b))
        return NULL;
    tg_conv1d_opts o = opts ? *opts : tg_conv1d_defaults();
    if (!check_conv(t, x, w, b, o.groups, 1, fn))
        return NULL;
    if (o.stride < 1 || o.padding < 0 || o.dilation < 1)
        return tg__fail(t, TG_EINVAL,
                        "%s: invalid stride %lld, padding %lld or dilation %lld (stride, "
                        "dilation >= 1; padding >= 0)",
                        fn, (long long)o.stride, (long long)o.padding, (long long)o.dilation);
    int64_t k = w->shape[2];
    int64_t Lo = tg_conv_out_size(x->shape[2], k, o.stride, o.padding, o.dilation);
    if (Lo < 1)
        return tg__fail(t, TG_ESHAPE,
                        "%s: kernel %lld with dilation %lld larger than the padded input: x %s, "
                        "padding %lld",
                        fn, (long long)k, (long long)o.dilation, tg__shape_str(x).s,
                        (long long)o.padding);
    tg_conv2d_opts o2 = {.stride = {1, o.stride}, .padding = {0, o.padding},
                         .dilation = {1, o.dilation}, .groups = o.groups};
    tg_tensor *x4 = tg_reshape(t, x, 4, (int64_t[]){x->shape[0], x->shape[1], 1, x->shape[2]});
    tg_tensor *w4 = tg_reshape(t, w, 4, (int64_t[]){w->shape[0], w->shape[1], 1, k});
    tg_tensor *y = tg_conv2d(t, x4, w4, b, &o2);
    return tg_reshape(t, y, 3, (int64_t[]){x->shape[0], w->shape[0], Lo});
}

/* ----------------------------------------------------------------- pooling */

/* checks of a pooling call: x an image, the window (stride NULL = kernel), padding at
 * most half the kernel so every window holds an image element */
static bool pool_window(tg_tape *t, const tg_tensor *x, const int64_t *kernel,
                        const int64_t *stride, const int64_t *padding, win2d *w, int64_t *Ho,
                        int64_t *Wo, const char *fn)
{
    if (!tg__inputs_ok(t, fn, 1, &x))
        return false;
    if (!check_image(t, x, fn) ||
        !make_window(t, w, kernel, stride ? stride : kernel, padding, NULL, fn) ||
        !window_fit(t, w, x->shape[2], x->shape[3], x, Ho, Wo, fn))
        return false;
    if (2 * w->p[0] > w->k[0] || 2 * w->p[1] > w->k[1]) {
        tg__fail(t, TG_EINVAL,
                 "%s: padding (%lld,%lld) larger than half the kernel (%lld,%lld) (x %s)", fn,
                 (long long)w->p[0], (long long)w->p[1], (long long)w->k[0], (long long)w->k[1],
                 tg__shape_str(x).s);
        return false;
    }
    return true;
}

/* ------------------------------------------------- gather / scatter-add */

/* idx is I32 with `like`'s leading dims (all but the last); false with an error if not */
static bool check_index(tg_tape *t, const tg_tensor *like, const tg_tensor *idx, const char *fn)
{
    bool ok = idx->dtype == TG_I32 && idx->ndim == like->ndim && like->ndim >= 1;
    for (int d = 0; ok && d < like->ndim - 1; d++)
        ok = idx->shape[d] == like->shape[d];
    if (!ok)
        tg__fail(t, TG_ESHAPE, "%s: idx %s %s does not fit %s (want i32 with the same leading dims)",
                 fn, tg__shape_str(idx).s, tg_dtype_name(idx->dtype), tg__shape_str(like).s);
    return ok;
}

/* every index of the contiguous I32 tensor in [0, size); else an error */
static bool check_range(tg_tape *t, const tg_tensor *idx, int64_t size, const char *fn)
{
    const int32_t *ip = (const int32_t *)idx->data + idx->offset;
    int64_t n = tg_tensor_numel(idx);
    for (int64_t i = 0; i < n; i++)
        if (ip[i] < 0 || ip[i] >= size) {
            tg__fail(t, TG_ERANGE, "%s: index %d at %lld out of range [0, %lld)", fn, (int)ip[i],
                     (long long)i, (long long)size);
            return false;
        }
    return true;
}

/* rows of the gather / scatter: out row r, src row r, idx row r (all contiguous) */
#define INDEX_KERNELS(T, SUF)                                                               \
    static void gather_##SUF(T *out, const T *x, const int32_t *idx, int64_t rows,          \
                             int64_t P, int64_t Q)                                          \
    {                                                                                       \
        for (int64_t r = 0; r < rows; r++)                                                  \
            for (int64_t q = 0; q < Q; q++)                                                 \
                out[r * Q + q] = x[r * P + idx[r * Q + q]];                                 \
    }                                                                                       \
    static void scatter_##SUF(T *out, const T *src, const int32_t *idx, int64_t rows,       \
                              int64_t P, int64_t Q)                                         \
    {                                                                                       \
        for (int64_t e = 0; e < rows * P; e++)                                              \
            out[e] = 0;                                                                     \
        for (int64_t r = 0; r < rows; r++)                                                  \
            for (int64_t q = 0; q < Q; q++)                                                 \
                out[r * P + idx[r * Q + q]] += src[r * Q + q];                              \
    }
INDEX_KERNELS(float, f32)
INDEX_KERNELS(double, f64)

tg_tensor *tg_gather_last(tg_tape *t, tg_tensor *x, tg_tensor *idx)
{
    const char *fn = "tg_gather_last";
    TG__GUARD(t, fn, x, idx);
    if (!tg__check_float(t, x, fn) || !check_index(t, x, idx, fn))
        return NULL;
    int64_t P = x->shape[x->ndim - 1], Q = idx->shape[idx->ndim - 1];
    const tg_tensor *xd = tg__dense_of(t, x), *id = tg__dense_of(t, idx);
    if (!xd || !id || !check_range(t, id, P, fn))
        return NULL;
    tg_tensor *out = tg__new(t, x->dtype, idx->ndim, idx->shape);
    if (!out)
        return NULL;
    int64_t rows = Q ? tg_tensor_numel(idx) / Q : 0;
    const int32_t *ip = (const int32_t *)id->data + id->offset;
    if (x->dtype == TG_F32)
        gather_f32(out->data, (const float *)xd->data + xd->offset, ip, rows, P, Q);
    else
        gather_f64(out->data, (const double *)xd->data + xd->offset, ip, rows, P, Q);
    tg_tensor *in[2] = {x, idx};
    return tg__record(t, TG_OP_GATHER_LAST, 2, in, out, NULL);
}

void tg__bwd_gather_last(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    const tg_tensor *x = n->in[0];
    gi[0] = tg_scatter_add_last(t, g, n->in[1], x->shape[x->ndim - 1]);
}

tg_tensor *tg_scatter_add_last(tg_tape *t, tg_tensor *src, tg_tensor *idx, int64_t size)
{
    const char *fn = "tg_scatter_add_last";
    TG__GUARD(t, fn, src, idx);
    if (!tg__check_float(t, src, fn) || !check_index(t, src, idx, fn))
        return NULL;
    if (idx->shape[idx->ndim - 1] != src->shape[src->ndim - 1])
        return tg__fail(t, TG_ESHAPE, "%s: idx %s must have the shape of src %s", fn,
                        tg__shape_str(idx).s, tg__shape_str(src).s);
    if (size < 0 || size > INT32_MAX)
        return tg__fail(t, TG_EINVAL, "%s: size %lld out of range [0, 2^31)", fn, (long long)size);
    int64_t shape[TG_MAX_DIMS], Q = src->shape[src->ndim - 1];
    memcpy(shape, src->shape, sizeof shape);
    shape[src->ndim - 1] = size;
    const tg_tensor *sd = tg__dense_of(t, src), *id = tg__dense_of(t, idx);
    if (!sd || !id || !check_range(t, id, size, fn))
        return NULL;
    tg_tensor *out = tg__new(t, src->dtype, src->ndim, shape);
    if (!out)
        return NULL;
    int64_t rows = 1;
    for (int d = 0; d < src->ndim - 1; d++)
        rows *= src->shape[d];
    const int32_t *ip = (const int32_t *)id->data + id->offset;
    if (src->dtype == TG_F32)
        scatter_f32(out->data, (const float *)sd->data + sd->offset, ip, rows, size, Q);
    else
        scatter_f64(out->data, (const double *)sd->data + sd->offset, ip, rows, size, Q);
    tg_tensor *in[2] = {src, idx};
    tg__args a = {.v = {size}};
    return tg__record(t, TG_OP_SCATTER_ADD_LAST, 2, in, out, &a);
}

void tg__bwd_scatter_add_last(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    gi[0] = tg_gather_last(t, g, n->in[1]);
}

/* ----------------------------------------------------------------- pooling */

/* Max pooling of one plane: out[o] = the first maximum (row-major over the window, NaN
 * wins) of the window's in-image elements, arg[o] its position h*W + w in the plane.
 * x has element strides (sh, sw). The selection is branch-free (a data-dependent branch
 * mispredicts on every other element of real activations). */
#define POOL_KERNELS(T, SUF)                                                                \
    static void maxpool_plane_##SUF(const T *x, int64_t sh, int64_t sw, int64_t H, int64_t W, \
                                    T *out, int32_t *arg, const win2d *w, int64_t Ho,       \
                                    int64_t Wo)                                             \
    {                                                                                       \
        for (int64_t oh = 0; oh < Ho; oh++) {                                               \
            int64_t h0 = oh * w->s[0] - w->p[0], h1 = h0 + w->k[0];                         \
            h0 = h0 < 0 ? 0 : h0;                                                           \
            h1 = h1 > H ? H : h1;                                                           \
            for (int64_t ow = 0; ow < Wo; ow++) {                                           \
                int64_t w0 = ow * w->s[1] - w->p[1], w1 = w0 + w->k[1];                     \
                w0 = w0 < 0 ? 0 : w0;                                                       \
                w1 = w1 > W ? W : w1;                                                       \
                int32_t best = (int32_t)(h0 * W + w0);                                      \
                T bv = x[h0 * sh + w0 * sw];                                                \
                for (int64_t h = h0; h < h1; h++) {                                         \
                    const T *xr = x + h * sh;                                               \
                    for (int64_t c = w0; c < w1; c++) {                                     \
                        T v = xr[c * sw];                                                   \
                        int take = (v > bv) | ((v != v) & (bv == bv));                      \
                        bv = take ? v : bv;                                                 \
                        best = take ? (int32_t)(h * W + c) : best;                          \
                    }                                                                       \
                }                                                                           \
                out[oh * Wo + ow] = bv;                                                     \
                arg[oh * Wo + ow] = best;                                                   \
            }                                                                               \
        }                                                                                   \
    }
/* The same without padding and with contiguous rows (sw == 1), every window inside the
 * image: the window positions are the outer loops and the output column the inner one,
 * so the selection vectorizes. Visits positions in the same row-major order. */
#define POOL_FAST_KERNELS(T, SUF)                                                           \
    static void maxpool_plane_fast_##SUF(const T *x, int64_t sh, int64_t W, T *restrict out, \
                                         int32_t *restrict arg, const win2d *w, int64_t Ho, \
                                         int64_t Wo)                                        \
    {                                                                                       \
        int64_t s1 = w->s[1];                                                               \
        for (int64_t oh = 0; oh < Ho; oh++) {                                               \
            T *restrict o = out + oh * Wo;                                                  \
            int32_t *restrict a = arg + oh * Wo;                                            \
            int64_t h0 = oh * w->s[0];                                                      \
            const T *x0 = x + h0 * sh;                                                      \
            for (int64_t ow = 0; ow < Wo; ow++) {                                           \
                o[ow] = x0[ow * s1];                                                        \
                a[ow] = (int32_t)(h0 * W + ow * s1);                                        \
            }                                                                               \
            for (int64_t i = 0; i < w->k[0]; i++)                                           \
                for (int64_t j = i == 0; j < w->k[1]; j++) {                                \
                    const T *xr = x + (h0 + i) * sh + j;                                    \
                    int32_t base = (int32_t)((h0 + i) * W + j);                             \
                    for (int64_t ow = 0; ow < Wo; ow++) {                                   \
                        T v = xr[ow * s1], bv = o[ow];                                      \
                        int take = (v > bv) | ((v != v) & (bv == bv));                      \
                        o[ow] = take ? v : bv;                                              \
                        a[ow] = take ? base + (int32_t)(ow * s1) : a[ow];                   \
                    }                                                                       \
                }                                                                           \
        }                                                                                   \
    }
POOL_FAST_KERNELS(float, f32)
POOL_FAST_KERNELS(double, f64)
POOL_KERNELS(float, f32)
POOL_KERNELS(double, f64)

tg_tensor *tg_max_pool2d(tg_tape *t, tg_tensor *x, const int64_t kernel[2],
                         const int64_t stride[2], const int64_t padding[2])
{
    const char *fn = "tg_max_pool2d";
    win2d w;
    int64_t Ho, Wo;
    if (!pool_window(t, x, kernel, stride, padding, &w, &Ho, &Wo, fn))
        return NULL;
    int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    if (H * W > INT32_MAX)
        return tg__fail(t, TG_EINVAL, "%s: planes of x %s too large", fn, tg__shape_str(x).s);
    /* padding lets an empty plane have windows, and they would hold no element to pick */
    if ((H == 0 || W == 0) && N * C > 0 && Ho * Wo > 0)
        return tg__fail(t, TG_ESHAPE, "%s: x %s has empty planes but padded windows (%lld,%lld)",
                        fn, tg__shape_str(x).s, (long long)w.p[0], (long long)w.p[1]);
    tg_tensor *out = tg__new(t, x->dtype, 4, (int64_t[]){N, C, Ho, Wo});
    tg_tensor *arg = out ? tg__new(t, TG_I32, 3, (int64_t[]){N, C, Ho * Wo}) : NULL;
    if (!arg)
        return NULL;
    int64_t planes = N * C, L = Ho * Wo;
    const int64_t *xs = x->stride;
    int nt = par_threads(planes * w.k[0] * w.k[1] * L);
    bool fast = w.p[0] == 0 && w.p[1] == 0 && xs[3] == 1;
#ifdef TG_HAVE_OPENMP
#pragma omp parallel for num_threads(nt) if (nt > 1)
#endif
    for (int64_t q = 0; q < planes; q++) {
        int64_t xo = x->offset + (q / C) * xs[0] + (q % C) * xs[1];
        if (fast && x->dtype == TG_F32)
            maxpool_plane_fast_f32((const float *)x->data + xo, xs[2], W,
                                   (float *)out->data + q * L, (int32_t *)arg->data + q * L, &w,
                                   Ho, Wo);
        else if (fast)
            maxpool_plane_fast_f64((const double *)x->data + xo, xs[2], W,
                                   (double *)out->data + q * L, (int32_t *)arg->data + q * L,
                                   &w, Ho, Wo);
        else if (x->dtype == TG_F32)
            maxpool_plane_f32((const float *)x->data + xo, xs[2], xs[3], H, W,
                              (float *)out->data + q * L, (int32_t *)arg->data + q * L, &w, Ho,
                              Wo);
        else
            maxpool_plane_f64((const double *)x->data + xo, xs[2], xs[3], H, W,
                              (double *)out->data + q * L, (int32_t *)arg->data + q * L, &w, Ho,
                              Wo);
    }
    (void)nt;
    tg_tensor *in[2] = {x, arg};
    return tg__record(t, TG_OP_MAX_POOL2D, 2, in, out, NULL);
}

void tg__bwd_max_pool2d(tg_tape *t, const tg__node *n, tg_tensor *g, tg_tensor **gi)
{
    /* the gradient goes to each window's argmax: a scatter-add over the planes */
    const tg_tensor *x = n->in[0], *arg = n->in[1];
    tg_tensor *gf = tg_reshape(t, g, 3, arg->shape);
    tg_tensor *s = tg_scatter_add_last(t, gf, n->in[1], x->shape[2] * x->shape[3]);
    gi[0] = tg_reshape(t, s, 4, x->shape);
}

typedef enum { POOL_AVG, POOL_L2 } pool_kind;

static tg_tensor *pool2d(tg_tape *t, tg_tensor *x, const int64_t *kernel, const int64_t *stride,
                         const int64_t *padding, pool_kind kind, const char *fn)
{
    win2d w;
    int64_t Ho, Wo;
    if (!pool_window(t, x, kernel, stride, padding, &w, &Ho, &Wo, fn))
        return NULL;
    int64_t N = x->shape[0], C = x->shape[1];
    tg_tensor *src = kind == POOL_L2 ? tg_mul(t, x, x) : x;
    tg_tensor *cols = tg_im2col(t, src, w.k, w.s, w.p, w.d, 0.0);
    cols = tg_reshape(t, cols, 4, (int64_t[]){N, C, w.k[0] * w.k[1], Ho * Wo});
    int axis = 2;
    tg_tensor *r = tg_mean(t, cols, 1, &axis, false);
    if (kind == POOL_L2)
        r = tg_sqrt(t, r);
    return tg_reshape(t, r, 4, (int64_t[]){N, C, Ho, Wo});
}

tg_tensor *tg_avg_pool2d(tg_tape *t, tg_tensor *x, const int64_t kernel[2],
                         const int64_t stride[2], const int64_t padding[2])
{
    return pool2d(t, x, kernel, stride, padding, POOL_AVG, "tg_avg_pool2d");
}

tg_tensor *tg_l2_pool2d(tg_tape *t, tg_tensor *x, const int64_t kernel[2],
                        const int64_t stride[2], const int64_t padding[2])
{
    return pool2d(t, x, kernel, stride, padding, POOL_L2, "tg_l2_pool2d");
}

tg_tensor *tg_global_avg_pool2d(tg_tape *t, tg_tensor *x)
{
    TG__GUARD(t, "tg_global_avg_pool2d", x);
    if (!check_image(t, x, "tg_global_avg_pool2d"))
        return NULL;
    return tg_mean(t, x, 2, (int[]){2, 3}, false);
}

/* ----------------------------------------------------------- normalisation */

/* p (named what) is NULL or a tensor of x's dtype and the given shape */
static bool check_param(tg_tape *t, const tg_tensor *x, const tg_tensor *p, int ndim,
                        const int64_t *shape, const char *what, const char *fn)
{
    if (!p)
        return true;
    if (!same_dtype(t, x, p, what, fn))
        return false;
    bool ok = p->ndim == ndim;
    for (int d = 0; ok && d < ndim; d++)
        ok = p->shape[d] == shape[d];
    if (!ok)
        tg__fail(t, TG_ESHAPE, "%s: %s %s does not fit x %s (want %s)", fn, what,
                 tg__shape_str(p).s, tg__shape_str(x).s, tg__dims_str(ndim, shape).s);
    return ok;
}

/* (x - mean) / sqrt(var + eps) over the axes, mean and var from x (two passes) */
static tg_tensor *normalise(tg_tape *t, tg_tensor *x, int naxes, const int *axes, double eps,
                            tg_tensor **mean, tg_tensor **var)
{
    *mean = tg_mean(t, x, naxes, axes, true);
    tg_tensor *xc = tg_sub(t, x, *mean);
    *var = tg_mean(t, tg_mul(t, xc, xc), naxes, axes, true);
    return tg_div(t, xc, tg_sqrt(t, tg_add_scalar(t, *var, eps)));
}

tg_tensor *tg_batch_norm(tg_tape *t, tg_tensor *x, tg_tensor *gamma, tg_tensor *beta,
                         tg_tensor *running_mean, tg_tensor *running_var, double momentum,
                         double eps, bool training)
{
    const char *fn = "tg_batch_norm";
    TG__GUARD(t, fn, x);
    if (!tg__opt_input_ok(t, fn, gamma) || !tg__opt_input_ok(t, fn, beta) ||
        !tg__opt_input_ok(t, fn, running_mean) || !tg__opt_input_ok(t, fn, running_var))
        return NULL;
    if (!tg__check_float(t, x, fn))
        return NULL;
    if (x->ndim < 2)
        return tg__fail(t, TG_ESHAPE, "%s: x must be [N, C] or [N, C, ...], got %s", fn,
                        tg__shape_str(x).s);
    int64_t C = x->shape[1];
    if (!check_param(t, x, gamma, 1, &C, "gamma", fn) ||
        !check_param(t, x, beta, 1, &C, "beta", fn) ||
        !check_param(t, x, running_mean, 1, &C, "running_mean", fn) ||
        !check_param(t, x, running_var, 1, &C, "running_var", fn))
        return NULL;
    if (!running_mean != !running_var)
        return tg__fail(t, TG_EINVAL, "%s: give both running_mean and running_var, or neither", fn);
    if (!(eps > 0) || !(momentum >= 0 && momentum <= 1))
        return tg__fail(t, TG_EINVAL, "%s: eps %g must be > 0 and momentum %g in [0, 1]", fn, eps,
                        momentum);
    int axes[TG_MAX_DIMS], naxes = 0;
    int64_t kshape[TG_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) {
        kshape[d] = d == 1 ? C : 1;
        if (d != 1)
            axes[naxes++] = d;
    }
    int64_t count = C ? tg_tensor_numel(x) / C : 0;
    tg_tensor *y, *mean = NULL, *var = NULL;
    if (training || !running_mean) {
        if (training && count < 2)
            return tg__fail(t, TG_ESHAPE,
                            "%s: training needs more than one value per channel, got x %s", fn,
                            tg__shape_str(x).s);
        y = normalise(t, x, naxes, axes, eps, &mean, &var);
    } else {
        tg_tensor *m = tg_reshape(t, running_mean, x->ndim, kshape);
        tg_tensor *v = tg_reshape(t, running_var, x->ndim, kshape);
        y = tg_div(t, tg_sub(t, x, m), tg_sqrt(t, tg_add_scalar(t, v, eps)));
    }
    if (gamma)
        y = tg_mul(t, y, tg_reshape(t, gamma, x->ndim, kshape));
    if (beta)
        y = tg_add(t, y, tg_reshape(t, beta, x->ndim, kshape));
    if (!y)
        return NULL;
    if (training && running_mean) {
        /* outside the tape, no gradient; unbiased variance for the running estimate */
        double unbias = (double)count / (double)(count - 1);
        for (int64_t c = 0; c < C; c++) {
            double rm = tg_tensor_get_flat(running_mean, c);
            double rv = tg_tensor_get_flat(running_var, c);
            double bm = tg_tensor_get_flat(mean, c), bv = tg_tensor_get_flat(var, c) * unbias;
            tg_tensor_set_flat(running_mean, c, (1 - momentum) * rm + momentum * bm);
            tg_tensor_set_flat(running_var, c, (1 - momentum) * rv + momentum * bv);
        }
    }
    return y;
}

tg_tensor *tg_layer_norm(tg_tape *t, tg_tensor *x, int n_last_dims, tg_tensor *gamma,
                         tg_tensor *beta, double eps)
{
    const char *fn = "tg_layer_norm";
    TG__GUARD(t, fn, x);
    if (!tg__opt_input_ok(t, fn, gamma) || !tg__opt_input_ok(t, fn, beta))
        return NULL;
    if (!tg__check_float(t, x, fn))
        return NULL;
    if (n_last_dims < 1 || n_last_dims > x->ndim)
        return tg__fail(t, TG_ERANGE, "%s: n_last_dims %d out of range for x %s", fn, n_last_dims,
                        tg__shape_str(x).s);
    const int64_t *nshape = x->shape + x->ndim - n_last_dims;
    if (!check_param(t, x, gamma, n_last_dims, nshape, "gamma", fn) ||
        !check_param(t, x, beta, n_last_dims, nshape, "beta", fn))
        return NULL;
    if (!(eps > 0))
        return tg__fail(t, TG_EINVAL, "%s: eps %g must be > 0", fn, eps);
    int axes[TG_MAX_DIMS];
    for (int i = 0; i < n_last_dims; i++)
        axes[i] = x->ndim - n_last_dims + i;
    tg_tensor *mean, *var;
    tg_tensor *y = normalise(t, x, n_last_dims, axes, eps, &mean, &var);
    if (gamma)
        y = tg_mul(t, y, gamma);
    if (beta)
        y = tg_add(t, y, beta);
    return y;
}

/* ----------------------------------------------------------------- flatten */

tg_tensor *tg_flatten(tg_tape *t, tg_tensor *x, int start_axis)
{
    TG__GUARD(t, "tg_flatten", x);
    if (x->ndim == 0)
        return tg_reshape(t, x, 1, (int64_t[]){1});
    int s = start_axis < 0 ? start_axis + x->ndim : start_axis;
    if (s < 0 || s >= x->ndim)
        return tg__fail(t, TG_ERANGE, "tg_flatten: start_axis %d out of range for x %s",
                        start_axis, tg__shape_str(x).s);
    int64_t shape[TG_MAX_DIMS];
    for (int d = 0; d < s; d++)
        shape[d] = x->shape[d];
    if (!tg__numel(x->ndim - s, x->shape + s, &shape[s]))
        return tg__fail(t, TG_ESHAPE, "tg_flatten: axes %d.. of x %s overflow", s,
                        tg__shape_str(x).s);
    return tg_reshape(t, x, s + 1, shape);
}
