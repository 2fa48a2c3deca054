/* The typed loops of the window and index kernels (window.c), written once: window.c
 * instantiates it per element type (instantiate.h: T float or double, F(name)
 * name_f32 or name_f64), so a sanitizer or debugger points at the line here. */

/* One channel plane. im2col: x (element strides sh, sw) -> kH*kW rows of Ho*Wo, pad
 * value outside the image. col2im: the rows (row stride rs, element stride ls) summed
 * into a contiguous H x W image. */
static void F(im2col_plane)(const T *x, int64_t sh, int64_t sw, int64_t H,
                            int64_t W, T *cols, const tg__win2d *w, int64_t Ho,
                            int64_t Wo, T padv)
{
    int64_t L = Ho * Wo;
    for (int64_t i = 0; i < w->k[0]; i++)
        for (int64_t j = 0; j < w->k[1]; j++) {
            T *row = cols + (i * w->k[1] + j) * L;
            int64_t offh = i * w->d[0] - w->p[0], offw = j * w->d[1] - w->p[1];
            int64_t hlo, hhi, wlo, whi;
            valid_range(offh, w->s[0], H, Ho, &hlo, &hhi);
            valid_range(offw, w->s[1], W, Wo, &wlo, &whi);
            for (int64_t oh = 0; oh < Ho; oh++) {
                T *r = row + oh * Wo;
                if (oh < hlo || oh >= hhi) {
                    for (int64_t ow = 0; ow < Wo; ow++)
                        r[ow] = padv;
                    continue;
                }
                int64_t base = (oh * w->s[0] + offh) * sh + offw * sw, step = w->s[1] * sw;
                for (int64_t ow = 0; ow < wlo; ow++)
                    r[ow] = padv;
                if (step == 1) /* stride 1 along a contiguous row: a plain copy */
                    for (int64_t ow = wlo; ow < whi; ow++)
                        r[ow] = x[base + ow];
                else
                    for (int64_t ow = wlo; ow < whi; ow++)
                        r[ow] = x[base + ow * step];
                for (int64_t ow = whi; ow < Wo; ow++)
                    r[ow] = padv;
            }
        }
}
/* im2col of a plane with stride 1, no padding, no dilation and contiguous rows:
 * every row of cols is Ho plain copies of Wo elements */
static void F(im2col_plane_s1)(const T *x, int64_t sh, T *restrict cols,
                               const tg__win2d *w, int64_t Ho, int64_t Wo)
{
    for (int64_t i = 0; i < w->k[0]; i++)
        for (int64_t j = 0; j < w->k[1]; j++) {
            T *restrict row = cols + (i * w->k[1] + j) * Ho * Wo;
            const T *src = x + i * sh + j;
            for (int64_t oh = 0; oh < Ho; oh++)
                for (int64_t ow = 0; ow < Wo; ow++)
                    row[oh * Wo + ow] = src[oh * sh + ow];
        }
}
/* col2im of contiguous rows (element stride 1, row stride rs) with stride 1, no
 * padding, no dilation: plain row additions */
static void F(col2im_plane_s1)(const T *cols, int64_t rs, T *restrict img,
                               int64_t H, int64_t W, const tg__win2d *w, int64_t Ho,
                               int64_t Wo)
{
    for (int64_t e = 0; e < H * W; e++)
        img[e] = 0;
    for (int64_t i = 0; i < w->k[0]; i++)
        for (int64_t j = 0; j < w->k[1]; j++) {
            const T *cr = cols + (i * w->k[1] + j) * rs;
            for (int64_t oh = 0; oh < Ho; oh++) {
                T *restrict ir = img + (oh + i) * W + j;
                for (int64_t ow = 0; ow < Wo; ow++)
                    ir[ow] += cr[oh * Wo + ow];
            }
        }
}
static void F(col2im_plane)(const T *cols, int64_t rs, int64_t ls, T *img, int64_t H,
                            int64_t W, const tg__win2d *w, int64_t Ho, int64_t Wo)
{
    for (int64_t e = 0; e < H * W; e++)
        img[e] = 0;
    for (int64_t i = 0; i < w->k[0]; i++)
        for (int64_t j = 0; j < w->k[1]; j++) {
            int64_t row = (i * w->k[1] + j) * rs;
            int64_t offh = i * w->d[0] - w->p[0], offw = j * w->d[1] - w->p[1];
            int64_t hlo, hhi, wlo, whi;
            valid_range(offh, w->s[0], H, Ho, &hlo, &hhi);
            valid_range(offw, w->s[1], W, Wo, &wlo, &whi);
            for (int64_t oh = hlo; oh < hhi; oh++) {
                T *ir = img + (oh * w->s[0] + offh) * W;
                const T *cr = cols + row + oh * Wo * ls;
                if (w->s[1] == 1 && ls == 1) /* contiguous on both sides */
                    for (int64_t ow = wlo; ow < whi; ow++)
                        ir[ow + offw] += cr[ow];
                else
                    for (int64_t ow = wlo; ow < whi; ow++)
                        ir[ow * w->s[1] + offw] += cr[ow * ls];
            }
        }
}

/* Max pooling of one plane: out[o] = the first maximum (row-major over the window, NaN
 * wins) of the window's in-image elements, arg[o] its position h*W + w in the plane.
 * x has element strides (sh, sw). The selection is branch-free (a data-dependent branch
 * mispredicts on every other element of real activations). */
static void F(maxpool_plane)(const T *x, int64_t sh, int64_t sw, int64_t H, int64_t W,
                             T *out, int32_t *arg, const tg__win2d *w, int64_t Ho,
                             int64_t Wo)
{
    for (int64_t oh = 0; oh < Ho; oh++) {
        int64_t h0 = oh * w->s[0] - w->p[0], h1 = h0 + w->k[0];
        h0 = h0 < 0 ? 0 : h0;
        h1 = h1 > H ? H : h1;
        for (int64_t ow = 0; ow < Wo; ow++) {
            int64_t w0 = ow * w->s[1] - w->p[1], w1 = w0 + w->k[1];
            w0 = w0 < 0 ? 0 : w0;
            w1 = w1 > W ? W : w1;
            int32_t best = (int32_t)(h0 * W + w0);
            T bv = x[h0 * sh + w0 * sw];
            for (int64_t h = h0; h < h1; h++) {
                const T *xr = x + h * sh;
                for (int64_t c = w0; c < w1; c++) {
                    T v = xr[c * sw];
                    int take = (v > bv) | ((v != v) & (bv == bv));
                    bv = take ? v : bv;
                    best = take ? (int32_t)(h * W + c) : best;
                }
            }
            out[oh * Wo + ow] = bv;
            arg[oh * Wo + ow] = best;
        }
    }
}

/* The same without padding and with contiguous rows (sw == 1), every window inside the
 * image: the window positions are the outer loops and the output column the inner one,
 * so the selection vectorizes. Visits positions in the same row-major order. */
static void F(maxpool_plane_fast)(const T *x, int64_t sh, int64_t W, T *restrict out,
                                  int32_t *restrict arg, const tg__win2d *w, int64_t Ho,
                                  int64_t Wo)
{
    int64_t s1 = w->s[1];
    for (int64_t oh = 0; oh < Ho; oh++) {
        T *restrict o = out + oh * Wo;
        int32_t *restrict a = arg + oh * Wo;
        int64_t h0 = oh * w->s[0];
        const T *x0 = x + h0 * sh;
        for (int64_t ow = 0; ow < Wo; ow++) {
            o[ow] = x0[ow * s1];
            a[ow] = (int32_t)(h0 * W + ow * s1);
        }
        for (int64_t i = 0; i < w->k[0]; i++)
            for (int64_t j = i == 0; j < w->k[1]; j++) {
                const T *xr = x + (h0 + i) * sh + j;
                int32_t base = (int32_t)((h0 + i) * W + j);
                for (int64_t ow = 0; ow < Wo; ow++) {
                    T v = xr[ow * s1], bv = o[ow];
                    int take = (v > bv) | ((v != v) & (bv == bv));
                    o[ow] = take ? v : bv;
                    a[ow] = take ? base + (int32_t)(ow * s1) : a[ow];
                }
            }
    }
}

/* rows of the gather / scatter: out row r, src row r, idx row r (all contiguous) */
static void F(gather)(T *out, const T *x, const int32_t *idx, int64_t rows,
                      int64_t P, int64_t Q)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t q = 0; q < Q; q++)
            out[r * Q + q] = x[r * P + idx[r * Q + q]];
}
static void F(scatter)(T *out, const T *src, const int32_t *idx, int64_t rows,
                       int64_t P, int64_t Q)
{
    for (int64_t e = 0; e < rows * P; e++)
        out[e] = 0;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t q = 0; q < Q; q++)
            out[r * P + idx[r * Q + q]] += src[r * Q + q];
}

/* out[g*Cog + co, k] = sum over n in order of part[n, g, k, co]: the shares are added
 * into part[0] sample by sample (contiguous passes), then transposed into out */
static void F(wgrad_sum)(T *out, T *part, int64_t N, int64_t G, int64_t K,
                         int64_t Cog)
{
    int64_t per = G * K * Cog;
    for (int64_t n = 1; n < N; n++) {
        const T *restrict p = part + n * per;
        T *restrict acc = part;
        for (int64_t e = 0; e < per; e++)
            acc[e] += p[e];
    }
    for (int64_t g = 0; g < G; g++)
        for (int64_t co = 0; co < Cog; co++)
            for (int64_t k = 0; k < K; k++)
                out[(g * Cog + co) * K + k] = N ? part[(g * K + k) * Cog + co] : 0;
}
