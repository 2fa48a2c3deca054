/* The sequential model: layers, forward, penalty, parameters and fingerprint (names and
 * the summary in summary.c; initialisers and activations in init.c). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "../util.h"
#include "internal.h"
#include "nn.h"

/* ------------------------------------------------------------------ model */

tg_model *tg_model_new(tg_dtype dt, uint64_t seed)
{
    if (!tg__is_float(dt))
        return tg__error(TG_EDTYPE, "tg_model_new: dtype must be f32 or f64");
    tg_model *m = tg__calloc(sizeof *m);
    if (!m)
        return tg__error(TG_ENOMEM, "tg_model_new: out of memory");
    m->dtype = dt;
    m->seed = seed;
    return m;
}

void tg_model_free(tg_model **pm)
{
    if (!pm || !*pm)
        return;
    for (int i = 0; i < (*pm)->nparams; i++)
        tg_tensor_free(&(*pm)->params[i]);
    for (int i = 0; i < (*pm)->nbuffers; i++)
        tg_tensor_free(&(*pm)->buffers[i]);
    tg__mfree(*pm);
    *pm = NULL;
}

tg_dense_opts tg_dense_defaults(void)
{
    tg_dense_opts o = {.init = TG_INIT_GLOROT_UNIFORM, .bias = true};
    return o;
}

tg_conv2d_layer_opts tg_conv2d_layer_defaults(void)
{
    tg_conv2d_layer_opts o = {.stride = {1, 1}, .dilation = {1, 1}, .groups = 1, .bias = true,
                              .init = TG_INIT_HE_UNIFORM};
    return o;
}

tg_pool2d_opts tg_pool2d_defaults(void)
{
    tg_pool2d_opts o = {{0, 0}, {0, 0}};
    return o;
}

tg_batch_norm_opts tg_batch_norm_defaults(void)
{
    tg_batch_norm_opts o = {.momentum = 0.1, .eps = 1e-5, .affine = true};
    return o;
}

tg_layer_norm_opts tg_layer_norm_defaults(void)
{
    tg_layer_norm_opts o = {.eps = 1e-5, .affine = true};
    return o;
}

static layer *new_layer(tg_model *m, layer_kind k, const char *fn)
{
    if (!m) {
        tg__error(TG_EINVAL, "%s: NULL model", fn);
        return NULL;
    }
    if (m->nlayers == MAX_LAYERS) {
        tg__error(TG_EINVAL, "%s: more than %d layers", fn, MAX_LAYERS);
        return NULL;
    }
    layer *l = &m->layers[m->nlayers];
    memset(l, 0, sizeof *l);
    l->kind = k;
    l->w = l->b = l->rm = l->rv = -1;
    return l;
}

static int add_param(tg_model *m, tg_tensor *p, const char *suffix)
{
    int i = m->nparams++;
    m->params[i] = p;
    snprintf(m->names[i], sizeof m->names[i], "%d.%s", m->nlayers, suffix);
    tg_tensor_set_requires_grad(p, true);
    return i;
}

static int add_buffer(tg_model *m, tg_tensor *p, const char *suffix)
{
    int i = m->nbuffers++;
    m->buffers[i] = p;
    snprintf(m->buffer_names[i], sizeof m->buffer_names[i], "%d.%s", m->nlayers, suffix);
    return i;
}

/* frees n tensors after one of their creations failed; keeps that failure's status
 * and message (an oversized shape is TG_EINVAL, not out of memory), prefixed with fn
 * and the layer */
static tg_status free_all(const char *fn, int li, int n, tg_tensor **ts)
{
    tg_status s = tg_last_status();
    for (int i = 0; i < n; i++)
        tg_tensor_free(&ts[i]);
    return tg__error_status(s != TG_OK ? s : TG_ENOMEM, "%s: layer %d: %s", fn, li,
                            tg_last_error());
}

tg_status tg_model_add_dense(tg_model *m, int64_t in, int64_t out, const tg_dense_opts *o)
{
    layer *l = new_layer(m, L_DENSE, "tg_model_add_dense");
    if (!l)
        return TG_EINVAL;
    tg_dense_opts d = o ? *o : tg_dense_defaults();
    if (in < 1 || out < 1)
        return tg__error_status(TG_EINVAL, "tg_model_add_dense: sizes %lld -> %lld must be >= 1",
                                (long long)in, (long long)out);
    if (!(d.l1_weight >= 0 && d.l2_weight >= 0 && d.l1_bias >= 0 && d.l2_bias >= 0))
        return tg__error_status(TG_EINVAL, "tg_model_add_dense: penalties must be >= 0");
    tg_tensor *ts[2] = {tg_zeros(m->dtype, 2, (int64_t[]){in, out}), NULL};
    if (ts[0] && d.bias)
        ts[1] = tg_zeros(m->dtype, 1, &out);
    if (!ts[0] || (d.bias && !ts[1]))
        return free_all("tg_model_add_dense", m->nlayers, 2, ts);
    tg_tensor *w = ts[0], *b = ts[1];
    tg_status s = tg_init_fill(w, d.init, m->seed, (uint64_t)m->nlayers);
    if (s != TG_OK) {
        tg_tensor_free(&w);
        tg_tensor_free(&b);
        return s;
    }
    l->dense = d;
    l->in = in;
    l->out = out;
    l->w = add_param(m, w, "weight");
    if (b)
        l->b = add_param(m, b, "bias");
    m->nlayers++;
    return TG_OK;
}

tg_status tg_model_add_conv2d(tg_model *m, int64_t in_channels, int64_t out_channels,
                              const int64_t kernel[2], const tg_conv2d_layer_opts *o)
{
    const char *fn = "tg_model_add_conv2d";
    layer *l = new_layer(m, L_CONV2D, fn);
    if (!l)
        return TG_EINVAL;
    tg_conv2d_layer_opts c = o ? *o : tg_conv2d_layer_defaults();
    int li = m->nlayers;
    if (!kernel)
        return tg__error_status(TG_EINVAL, "%s: layer %d: NULL kernel", fn, li);
    if (in_channels < 1 || out_channels < 1 || kernel[0] < 1 || kernel[1] < 1)
        return tg__error_status(TG_EINVAL,
                                "%s: layer %d: channels %lld -> %lld and kernel %lldx%lld must "
                                "be >= 1", fn, li, (long long)in_channels,
                                (long long)out_channels, (long long)kernel[0],
                                (long long)kernel[1]);
    if (c.groups < 1 || in_channels % c.groups || out_channels % c.groups)
        return tg__error_status(TG_EINVAL,
                                "%s: layer %d: groups %lld must be >= 1 and divide in_channels "
                                "%lld and out_channels %lld", fn, li, (long long)c.groups,
                                (long long)in_channels, (long long)out_channels);
    for (int a = 0; a < 2; a++)
        if (c.stride[a] < 1 || c.dilation[a] < 1 || c.padding[a] < 0)
            return tg__error_status(TG_EINVAL,
                                    "%s: layer %d: stride (%lld,%lld) and dilation (%lld,%lld) "
                                    "must be >= 1, padding (%lld,%lld) >= 0", fn, li,
                                    (long long)c.stride[0], (long long)c.stride[1],
                                    (long long)c.dilation[0], (long long)c.dilation[1],
                                    (long long)c.padding[0], (long long)c.padding[1]);
    /* created in turn, stopping at the first failure (whose message is the one kept) */
    tg_tensor *ts[2] = {
        tg_zeros(m->dtype, 4,
                 (int64_t[]){out_channels, in_channels / c.groups, kernel[0], kernel[1]}),
        NULL};
    if (ts[0] && c.bias)
        ts[1] = tg_zeros(m->dtype, 1, &out_channels);
    if (!ts[0] || (c.bias && !ts[1]))
        return free_all(fn, li, 2, ts);
    tg_status s = tg_init_fill(ts[0], c.init, m->seed, (uint64_t)li);
    if (s != TG_OK) {
        tg_tensor_free(&ts[0]);
        tg_tensor_free(&ts[1]);
        return s;
    }
    l->in = in_channels;
    l->out = out_channels;
    l->kernel[0] = kernel[0];
    l->kernel[1] = kernel[1];
    for (int a = 0; a < 2; a++) {
        l->conv.stride[a] = c.stride[a];
        l->conv.padding[a] = c.padding[a];
        l->conv.dilation[a] = c.dilation[a];
    }
    l->conv.groups = c.groups;
    l->w = add_param(m, ts[0], "weight");
    if (ts[1])
        l->b = add_param(m, ts[1], "bias");
    m->nlayers++;
    return TG_OK;
}

static tg_status add_pool(tg_model *m, layer_kind k, const int64_t kernel[2],
                          const tg_pool2d_opts *o, const char *fn)
{
    layer *l = new_layer(m, k, fn);
    if (!l)
        return TG_EINVAL;
    tg_pool2d_opts p = o ? *o : tg_pool2d_defaults();
    int li = m->nlayers;
    if (!kernel || kernel[0] < 1 || kernel[1] < 1)
        return tg__error_status(TG_EINVAL, "%s: layer %d: kernel must be >= 1 on both axes", fn,
                                li);
    for (int a = 0; a < 2; a++) {
        if (p.stride[a] == 0)
            p.stride[a] = kernel[a];
        if (p.stride[a] < 1 || p.padding[a] < 0 || p.padding[a] > kernel[a] / 2)
            return tg__error_status(TG_EINVAL,
                                    "%s: layer %d: stride (%lld,%lld) must be >= 1 (0: the "
                                    "kernel) and padding (%lld,%lld) in [0, kernel/2] for "
                                    "kernel %lldx%lld", fn, li, (long long)p.stride[0],
                                    (long long)p.stride[1], (long long)p.padding[0],
                                    (long long)p.padding[1], (long long)kernel[0],
                                    (long long)kernel[1]);
    }
    l->kernel[0] = kernel[0];
    l->kernel[1] = kernel[1];
    l->pool = p;
    m->nlayers++;
    return TG_OK;
}

tg_status tg_model_add_max_pool2d(tg_model *m, const int64_t kernel[2], const tg_pool2d_opts *o)
{
    return add_pool(m, L_MAX_POOL, kernel, o, "tg_model_add_max_pool2d");
}

tg_status tg_model_add_avg_pool2d(tg_model *m, const int64_t kernel[2], const tg_pool2d_opts *o)
{
    return add_pool(m, L_AVG_POOL, kernel, o, "tg_model_add_avg_pool2d");
}

tg_status tg_model_add_batch_norm(tg_model *m, int64_t channels, const tg_batch_norm_opts *o)
{
    const char *fn = "tg_model_add_batch_norm";
    layer *l = new_layer(m, L_BATCH_NORM, fn);
    if (!l)
        return TG_EINVAL;
    tg_batch_norm_opts b = o ? *o : tg_batch_norm_defaults();
    int li = m->nlayers;
    if (channels < 1 || !(b.eps > 0) || !(b.momentum >= 0 && b.momentum <= 1))
        return tg__error_status(TG_EINVAL,
                                "%s: layer %d: channels %lld must be >= 1, eps %g > 0 and "
                                "momentum %g in [0, 1]", fn, li, (long long)channels, b.eps,
                                b.momentum);
    tg_tensor *ts[4] = {tg_zeros(m->dtype, 1, &channels), NULL, NULL, NULL};
    if (ts[0])
        ts[1] = tg_ones(m->dtype, 1, &channels);
    if (ts[1] && b.affine)
        ts[2] = tg_ones(m->dtype, 1, &channels);
    if (ts[2])
        ts[3] = tg_zeros(m->dtype, 1, &channels);
    if (!ts[0] || !ts[1] || (b.affine && (!ts[2] || !ts[3])))
        return free_all(fn, li, 4, ts);
    l->in = channels;
    l->bn = b;
    if (b.affine) {
        l->w = add_param(m, ts[2], "weight");
        l->b = add_param(m, ts[3], "bias");
    }
    l->rm = add_buffer(m, ts[0], "running_mean");
    l->rv = add_buffer(m, ts[1], "running_var");
    m->nlayers++;
    return TG_OK;
}

tg_status tg_model_add_layer_norm(tg_model *m, int ndim, const int64_t *shape,
                                  const tg_layer_norm_opts *o)
{
    const char *fn = "tg_model_add_layer_norm";
    layer *l = new_layer(m, L_LAYER_NORM, fn);
    if (!l)
        return TG_EINVAL;
    tg_layer_norm_opts n = o ? *o : tg_layer_norm_defaults();
    int li = m->nlayers;
    if (ndim < 1 || ndim >= TG_MAX_DIMS || !shape)
        return tg__error_status(TG_EINVAL, "%s: layer %d: ndim %d outside [1, %d)", fn, li, ndim,
                                TG_MAX_DIMS);
    for (int d = 0; d < ndim; d++)
        if (shape[d] < 1)
            return tg__error_status(TG_EINVAL, "%s: layer %d: shape %s must be >= 1", fn, li,
                                    tg__dims_str(ndim, shape).s);
    if (!(n.eps > 0))
        return tg__error_status(TG_EINVAL, "%s: layer %d: eps %g must be > 0", fn, li, n.eps);
    tg_tensor *ts[2] = {n.affine ? tg_ones(m->dtype, ndim, shape) : NULL, NULL};
    if (ts[0])
        ts[1] = tg_zeros(m->dtype, ndim, shape);
    if (n.affine && (!ts[0] || !ts[1]))
        return free_all(fn, li, 2, ts);
    l->nd = ndim;
    memcpy(l->shape, shape, sizeof(int64_t) * (size_t)ndim);
    l->eps = n.eps;
    if (n.affine) {
        l->w = add_param(m, ts[0], "weight");
        l->b = add_param(m, ts[1], "bias");
    }
    m->nlayers++;
    return TG_OK;
}

tg_status tg_model_add_flatten(tg_model *m)
{
    layer *l = new_layer(m, L_FLATTEN, "tg_model_add_flatten");
    if (!l)
        return TG_EINVAL;
    m->nlayers++;
    return TG_OK;
}

tg_status tg_model_add_activation(tg_model *m, tg_activation act, double param)
{
    layer *l = new_layer(m, L_ACT, "tg_model_add_activation");
    if (!l)
        return TG_EINVAL;
    if ((unsigned)act > TG_ACT_SOFTMAX)
        return tg__error_status(TG_EINVAL, "tg_model_add_activation: unknown activation %d",
                                (int)act);
    l->act = act;
    l->param = param;
    m->nlayers++;
    return TG_OK;
}

tg_status tg_model_add_dropout(tg_model *m, double rate)
{
    layer *l = new_layer(m, L_DROPOUT, "tg_model_add_dropout");
    if (!l)
        return TG_EINVAL;
    if (!(rate >= 0 && rate < 1))
        return tg__error_status(TG_EINVAL, "tg_model_add_dropout: rate %g outside [0, 1)", rate);
    l->param = rate;
    m->nlayers++;
    return TG_OK;
}

/* "layer 3 (conv2d 6->16 5x5)", or "layer 3 'conv2' (conv2d 6->16 5x5)" when named */
static const char *describe(const layer *l, int i, char *buf, size_t n)
{
    char id[TG_LAYER_NAME_MAX + 16];
    if (l->name[0])
        snprintf(id, sizeof id, "%d '%s'", i, l->name);
    else
        snprintf(id, sizeof id, "%d", i);
    switch (l->kind) {
    case L_DENSE:
        snprintf(buf, n, "layer %s (dense %lld->%lld)", id, (long long)l->in, (long long)l->out);
        break;
    case L_CONV2D:
        snprintf(buf, n, "layer %s (conv2d %lld->%lld %lldx%lld)", id, (long long)l->in,
                 (long long)l->out, (long long)l->kernel[0], (long long)l->kernel[1]);
        break;
    case L_MAX_POOL:
    case L_AVG_POOL:
        snprintf(buf, n, "layer %s (%s_pool2d %lldx%lld)", id, l->kind == L_MAX_POOL ? "max" : "avg",
                 (long long)l->kernel[0], (long long)l->kernel[1]);
        break;
    case L_BATCH_NORM: snprintf(buf, n, "layer %s (batch_norm %lld)", id, (long long)l->in); break;
    case L_LAYER_NORM:
        snprintf(buf, n, "layer %s (layer_norm %s)", id, tg__dims_str(l->nd, l->shape).s);
        break;
    default: snprintf(buf, n, "layer %s", id); break;
    }
    return buf;
}

/* records TG_ESHAPE "tg_model_forward: <layer>: input <shape> <what>" and returns false */
static bool fwd_fail(tg_tape *t, const char *fmt, ...) TG_PRINTF(2, 3);
static bool fwd_fail(tg_tape *t, const char *fmt, ...)
{
    char msg[TG_ERRMSG];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    tg__fail(t, TG_ESHAPE, "tg_model_forward: %s", msg);
    return false;
}
#define FWD_FAIL(...) fwd_fail(t, "%s: input %s " __VA_ARGS__)

/* checks that an input of shape (nd, sh) fits layer i and replaces it by the layer's
 * output shape; records a TG_ESHAPE naming the layer and returns false if not */
bool tg__model_fits(tg_tape *t, const layer *l, int i, int *nd, int64_t *sh, bool training)
{
    char d[192];
    /* the input shape, formatted only when a check fails (a forward that fits formats
     * nothing: this runs for every layer of every step) */
    int nd_in = *nd;
    int64_t sh_in[TG_MAX_DIMS];
    memcpy(sh_in, sh, sizeof(int64_t) * (size_t)nd_in);
    switch (l->kind) {
    case L_DENSE:
        if (*nd != 2)
            return FWD_FAIL("is not 2-D [N, %lld] (put a flatten layer before it)",
                            describe(l, i, d, sizeof d), tg__dims_str(nd_in, sh_in).s, (long long)l->in);
        if (sh[1] != l->in)
            return FWD_FAIL("has %lld features, want %lld", describe(l, i, d, sizeof d), tg__dims_str(nd_in, sh_in).s,
                            (long long)sh[1], (long long)l->in);
        sh[1] = l->out;
        return true;
    case L_CONV2D:
    case L_MAX_POOL:
    case L_AVG_POOL:
        if (*nd != 4)
            return FWD_FAIL("is not 4-D [N, C, H, W]", describe(l, i, d, sizeof d), tg__dims_str(nd_in, sh_in).s);
        if (l->kind == L_CONV2D && sh[1] != l->in)
            return FWD_FAIL("has %lld channels, want %lld", describe(l, i, d, sizeof d), tg__dims_str(nd_in, sh_in).s,
                            (long long)sh[1], (long long)l->in);
        for (int a = 0; a < 2; a++) {
            bool conv = l->kind == L_CONV2D;
            int64_t o = tg_conv_out_size(sh[2 + a], l->kernel[a],
                                         conv ? l->conv.stride[a] : l->pool.stride[a],
                                         conv ? l->conv.padding[a] : l->pool.padding[a],
                                         conv ? l->conv.dilation[a] : 1);
            if (o < 1)
                return FWD_FAIL("is too small for the window on axis %d",
                                describe(l, i, d, sizeof d), tg__dims_str(nd_in, sh_in).s, 2 + a);
            sh[2 + a] = o;
        }
        if (l->kind == L_CONV2D)
            sh[1] = l->out;
        return true;
    case L_BATCH_NORM: {
        if (*nd < 2 || sh[1] != l->in)
            return FWD_FAIL("is not [N, %lld] or [N, %lld, ...]", describe(l, i, d, sizeof d),
                            tg__dims_str(nd_in, sh_in).s, (long long)l->in, (long long)l->in);
        int64_t per_channel = sh[0];
        for (int a = 2; a < *nd; a++)
            per_channel *= sh[a];
        if (training && per_channel < 2)
            return FWD_FAIL("has one value per channel: training needs more",
                            describe(l, i, d, sizeof d), tg__dims_str(nd_in, sh_in).s);
        return true;
    }
    case L_LAYER_NORM:
        if (*nd < l->nd || memcmp(sh + *nd - l->nd, l->shape, sizeof(int64_t) * (size_t)l->nd))
            return FWD_FAIL("does not end in %s", describe(l, i, d, sizeof d), tg__dims_str(nd_in, sh_in).s,
                            tg__dims_str(l->nd, l->shape).s);
        return true;
    case L_FLATTEN:
        if (*nd < 2)
            return FWD_FAIL("has no axis after the batch axis", describe(l, i, d, sizeof d), tg__dims_str(nd_in, sh_in).s);
        for (int a = 2; a < *nd; a++)
            sh[1] *= sh[a];
        *nd = 2;
        return true;
    case L_ACT:
    case L_DROPOUT: return true;
    }
    return true;
}

tg_tensor *tg_model_forward(tg_model *m, tg_tape *t, tg_tensor *x, bool training)
{
    if (!x || tg_tape_failed(t))
        return NULL;
    if (!m) /* not an input tensor: an error, not a quiet NULL */
        return tg__fail(t, TG_EINVAL, "tg_model_forward: NULL model");
    if (x->dtype != m->dtype)
        return tg__fail(t, TG_EDTYPE, "tg_model_forward: input %s is %s, the model is %s",
                        tg__shape_str(x).s, tg_dtype_name(x->dtype), tg_dtype_name(m->dtype));
    /* every layer's input shape is checked before anything runs, so a forward that
     * fails on a shape changes neither the running statistics nor the counter */
    int nd = x->ndim;
    int64_t sh[TG_MAX_DIMS];
    memcpy(sh, x->shape, sizeof(int64_t) * (size_t)nd);
    for (int i = 0; i < m->nlayers; i++)
        if (!tg__model_fits(t, &m->layers[i], i, &nd, sh, training))
            return NULL;
    uint64_t step = training ? m->counter++ : 0;
    for (int i = 0; i < m->nlayers && x; i++) {
        const layer *l = &m->layers[i];
        tg_tensor *w = l->w >= 0 ? m->params[l->w] : NULL, *b = l->b >= 0 ? m->params[l->b] : NULL;
        switch (l->kind) {
        case L_DENSE: x = tg_dense(t, x, w, b); break;
        case L_ACT: x = tg_activate(t, x, l->act, l->param); break;
        case L_DROPOUT:
            /* stream: layer index in the high bits, the training step in the low ones */
            x = tg_dropout(t, x, l->param, m->seed, ((uint64_t)i << 48) ^ step, training);
            break;
        case L_CONV2D: x = tg_conv2d(t, x, w, b, &l->conv); break;
        case L_MAX_POOL: x = tg_max_pool2d(t, x, l->kernel, l->pool.stride, l->pool.padding); break;
        case L_AVG_POOL: x = tg_avg_pool2d(t, x, l->kernel, l->pool.stride, l->pool.padding); break;
        case L_BATCH_NORM:
            x = tg_batch_norm(t, x, w, b, m->buffers[l->rm], m->buffers[l->rv], l->bn.momentum,
                              l->bn.eps, training);
            break;
        case L_LAYER_NORM: x = tg_layer_norm(t, x, l->nd, w, b, l->eps); break;
        case L_FLATTEN: x = tg_flatten(t, x, 1); break;
        }
    }
    return x;
}

tg_tensor *tg_model_penalty(tg_model *m, tg_tape *t)
{
    if (tg_tape_failed(t))
        return NULL;
    if (!m)
        return tg__fail(t, TG_EINVAL, "tg_model_penalty: NULL model");
    tg_tensor *total = tg_tape_zeros(t, m->dtype, 0, NULL);
    for (int i = 0; i < m->nlayers && total; i++) {
        const layer *l = &m->layers[i];
        if (l->kind != L_DENSE)
            continue;
        const tg_dense_opts *d = &l->dense;
        tg_tensor *w = m->params[l->w], *b = l->b >= 0 ? m->params[l->b] : NULL;
        if (d->l1_weight > 0)
            total = tg_add(t, total, tg_l1_penalty(t, w, d->l1_weight));
        if (d->l2_weight > 0)
            total = tg_add(t, total, tg_l2_penalty(t, w, d->l2_weight));
        if (b && d->l1_bias > 0)
            total = tg_add(t, total, tg_l1_penalty(t, b, d->l1_bias));
        if (b && d->l2_bias > 0)
            total = tg_add(t, total, tg_l2_penalty(t, b, d->l2_bias));
    }
    return total;
}

int tg_model_param_count(const tg_model *m) { return m ? m->nparams : 0; }
tg_tensor *const *tg_model_params(const tg_model *m) { return m ? m->params : NULL; }
int tg_model_layer_count(const tg_model *m) { return m ? m->nlayers : 0; }

const char *tg_model_param_name(const tg_model *m, int i)
{
    return m && i >= 0 && i < m->nparams ? m->names[i] : NULL;
}

int64_t tg_model_num_elements(const tg_model *m)
{
    int64_t n = 0;
    for (int i = 0; m && i < m->nparams; i++)
        n += tg_tensor_numel(m->params[i]);
    return n;
}

int tg_model_buffer_count(const tg_model *m) { return m ? m->nbuffers : 0; }
tg_tensor *const *tg_model_buffers(const tg_model *m) { return m ? m->buffers : NULL; }

const char *tg_model_buffer_name(const tg_model *m, int i)
{
    return m && i >= 0 && i < m->nbuffers ? m->buffer_names[i] : NULL;
}

uint64_t tg_model_rng_counter(const tg_model *m) { return m ? m->counter : 0; }
void tg_model_set_rng_counter(tg_model *m, uint64_t c)
{
    if (m)
        m->counter = c;
}

uint64_t tg_model_hash(const tg_model *m)
{
    if (!m)
        return 0; /* like tg_tensor_hash(NULL) */
    XXH3_state_t st;
    XXH3_64bits_reset(&st);
    for (int i = 0; m && i < m->nparams; i++) {
        uint64_t h = tg_tensor_hash(m->params[i]);
        XXH3_64bits_update(&st, m->names[i], strlen(m->names[i]) + 1);
        XXH3_64bits_update(&st, &h, sizeof h);
    }
    for (int i = 0; m && i < m->nbuffers; i++) {
        uint64_t h = tg_tensor_hash(m->buffers[i]);
        XXH3_64bits_update(&st, m->buffer_names[i], strlen(m->buffer_names[i]) + 1);
        XXH3_64bits_update(&st, &h, sizeof h);
    }
    return XXH3_64bits_digest(&st);
}
