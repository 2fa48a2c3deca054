/* Initialisers, activations and the sequential model. */
#include <math.h>
#include <string.h>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "../autograd/internal.h"
#include "nn.h"

tg_status tg_init_fill(tg_tensor *w, tg_init init, uint64_t seed, uint64_t stream)
{
    if (!w || !tg__is_float(w->dtype))
        return tg__error_status(TG_EINVAL, "tg_init_fill: need an f32/f64 tensor");
    int64_t n = tg_tensor_numel(w);
    double fan_in = w->ndim >= 1 ? (double)w->shape[0] : 1;
    double fan_out = w->ndim >= 2 ? (double)w->shape[1] : fan_in;
    if (w->ndim == 1)
        fan_in = fan_out = (double)n;
    if (w->ndim >= 3) { /* [C_out, C_in/groups, k...]: each output sees C_in/groups * k */
        double field = 1;
        for (int d = 2; d < w->ndim; d++)
            field *= (double)w->shape[d];
        fan_in = (double)w->shape[1] * field;
        fan_out = (double)w->shape[0] * field;
    }
    double limit;
    bool uniform;
    switch (init) {
    case TG_INIT_GLOROT_UNIFORM: uniform = true; limit = sqrt(6.0 / (fan_in + fan_out)); break;
    case TG_INIT_GLOROT_NORMAL: uniform = false; limit = sqrt(2.0 / (fan_in + fan_out)); break;
    case TG_INIT_HE_UNIFORM: uniform = true; limit = sqrt(6.0 / fan_in); break;
    case TG_INIT_HE_NORMAL: uniform = false; limit = sqrt(2.0 / fan_in); break;
    case TG_INIT_SCALED_NORMAL: uniform = false; limit = 0.01; break;
    default: return tg__error_status(TG_EINVAL, "tg_init_fill: unknown initialiser %d", (int)init);
    }
    for (int64_t i = 0; i < n; i++) {
        double v = uniform ? limit * (2 * tg_rng_uniform01(seed, stream, (uint64_t)i) - 1)
                           : limit * tg_rng_normal(seed, stream, (uint64_t)i);
        tg_tensor_set_flat(w, i, v);
    }
    return TG_OK;
}

tg_tensor *tg_activate(tg_tape *t, tg_tensor *x, tg_activation act, double param)
{
    /* like every op (the linear case included, which returns x itself): NULL on a
     * failed tape or for a NULL input, an error for a foreign or stale input */
    TG__GUARD(t, "tg_activate", x);
    switch (act) {
    case TG_ACT_LINEAR: return x;
    case TG_ACT_RELU: return tg_relu(t, x);
    case TG_ACT_LEAKY_RELU: return tg_leaky_relu(t, x, param);
    case TG_ACT_SIGMOID: return tg_sigmoid(t, x);
    case TG_ACT_TANH: return tg_tanh(t, x);
    case TG_ACT_GELU: return tg_gelu(t, x);
    case TG_ACT_SOFTPLUS: return tg_softplus(t, x);
    case TG_ACT_SOFTMAX: return tg_softmax(t, x, -1);
    }
    return tg__fail(t, TG_EINVAL, "tg_activate: unknown activation %d", (int)act);
}

/* ------------------------------------------------------------------ model */

typedef enum {
    L_DENSE, L_ACT, L_DROPOUT, L_CONV2D, L_MAX_POOL, L_AVG_POOL, L_BATCH_NORM, L_LAYER_NORM,
    L_FLATTEN
} layer_kind;

typedef struct {
    layer_kind kind;
    tg_activation act;
    double param;        /* activation parameter or dropout rate */
    tg_dense_opts dense;
    int64_t in, out;     /* dense features; conv channels; batch norm channels (in) */
    int64_t kernel[2];   /* conv and pools */
    tg_conv2d_opts conv;
    tg_pool2d_opts pool;
    tg_batch_norm_opts bn;
    double eps;          /* layer norm */
    int nd;              /* layer norm: normalised trailing axes */
    int64_t shape[TG_MAX_DIMS];
    int w, b;            /* parameter indices (-1: none) */
    int rm, rv;          /* buffer indices (-1: none) */
    char name[TG_LAYER_NAME_MAX + 1]; /* "" = positional (the layer's index) */
} layer;

#define MAX_LAYERS 64
#define MAX_PARAMS (2 * MAX_LAYERS)
#define MAX_BUFFERS (2 * MAX_LAYERS)

struct tg_model {
    tg_dtype dtype;
    uint64_t seed, counter;
    int nlayers, nparams, nbuffers;
    layer layers[MAX_LAYERS];
    tg_tensor *params[MAX_PARAMS];
    char names[MAX_PARAMS][TG_LAYER_NAME_MAX + 16];
    tg_tensor *buffers[MAX_BUFFERS];
    char buffer_names[MAX_BUFFERS][TG_LAYER_NAME_MAX + 16];
};

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

#define FWD_FAIL(...)                                                                          \
    (tg__fail(t, TG_ESHAPE, "tg_model_forward: %s: input %s " __VA_ARGS__), false)

/* checks that an input of shape (nd, sh) fits layer i and replaces it by the layer's
 * output shape; records a TG_ESHAPE naming the layer and returns false if not */
static bool fits(tg_tape *t, const layer *l, int i, int *nd, int64_t *sh, bool training)
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
    if (!t || !x || tg_tape_failed(t))
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
        if (!fits(t, &m->layers[i], i, &nd, sh, training))
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
    if (!t || tg_tape_failed(t))
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

/* ------------------------------------------------------------ names, summary */

static bool name_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

tg_status tg_model_set_name(tg_model *m, const char *name)
{
    const char *fn = "tg_model_set_name";
    if (!m || !name)
        return tg__error_status(TG_EINVAL, "%s: NULL argument", fn);
    if (m->nlayers == 0)
        return tg__error_status(TG_ESTATE, "%s: the model has no layer to name yet", fn);
    size_t len = strlen(name);
    bool digits = true, chars = true;
    for (size_t i = 0; i < len; i++) {
        digits &= name[i] >= '0' && name[i] <= '9';
        chars &= name_char_ok(name[i]);
    }
    if (len == 0 || len > TG_LAYER_NAME_MAX || !chars || digits)
        return tg__error_status(TG_EINVAL,
                                "%s: name \"%.*s\" must be 1..%d characters of [A-Za-z0-9_-], not "
                                "all digits (those are the positional names)",
                                fn, 64, name, TG_LAYER_NAME_MAX);
    int last = m->nlayers - 1;
    for (int i = 0; i < last; i++)
        if (!strcmp(m->layers[i].name, name))
            return tg__error_status(TG_EINVAL, "%s: layer %d is already named \"%s\"", fn, i, name);
    layer *l = &m->layers[last];
    memcpy(l->name, name, len + 1);
    /* the layer's parameters and buffers take the name: "<name>.<suffix>" */
    char *own[4] = {l->w >= 0 ? m->names[l->w] : NULL, l->b >= 0 ? m->names[l->b] : NULL,
                    l->rm >= 0 ? m->buffer_names[l->rm] : NULL,
                    l->rv >= 0 ? m->buffer_names[l->rv] : NULL};
    for (int k = 0; k < 4; k++) {
        if (!own[k])
            continue;
        char suffix[32];
        snprintf(suffix, sizeof suffix, "%s", strchr(own[k], '.') + 1);
        snprintf(own[k], sizeof m->names[0], "%s.%s", name, suffix);
    }
    return TG_OK;
}

const char *tg_model_layer_name(const tg_model *m, int i)
{
    return m && i >= 0 && i < m->nlayers ? m->layers[i].name : NULL;
}

static const char *const act_names[] = {"linear", "relu",     "leaky_relu", "sigmoid",
                                        "tanh",   "gelu",     "softplus",   "softmax"};

/* the layer's kind and configuration: "conv2d 1->6 5x5 pad 2", "activation relu" */
static void kind_str(const layer *l, char *buf, size_t n)
{
    switch (l->kind) {
    case L_DENSE:
        snprintf(buf, n, "dense %lld->%lld%s", (long long)l->in, (long long)l->out,
                 l->b >= 0 ? "" : " no bias");
        break;
    case L_ACT:
        if (l->act == TG_ACT_LEAKY_RELU)
            snprintf(buf, n, "activation leaky_relu %g", l->param);
        else
            snprintf(buf, n, "activation %s", act_names[l->act]);
        break;
    case L_DROPOUT: snprintf(buf, n, "dropout %g", l->param); break;
    case L_CONV2D:
        snprintf(buf, n, "conv2d %lld->%lld %lldx%lld s%lld,%lld p%lld,%lld d%lld,%lld g%lld",
                 (long long)l->in, (long long)l->out, (long long)l->kernel[0],
                 (long long)l->kernel[1], (long long)l->conv.stride[0],
                 (long long)l->conv.stride[1], (long long)l->conv.padding[0],
                 (long long)l->conv.padding[1], (long long)l->conv.dilation[0],
                 (long long)l->conv.dilation[1], (long long)l->conv.groups);
        break;
    case L_MAX_POOL:
    case L_AVG_POOL:
        snprintf(buf, n, "%s_pool2d %lldx%lld s%lld,%lld", l->kind == L_MAX_POOL ? "max" : "avg",
                 (long long)l->kernel[0], (long long)l->kernel[1], (long long)l->pool.stride[0],
                 (long long)l->pool.stride[1]);
        break;
    case L_BATCH_NORM: snprintf(buf, n, "batch_norm %lld", (long long)l->in); break;
    case L_LAYER_NORM: snprintf(buf, n, "layer_norm %s", tg__dims_str(l->nd, l->shape).s); break;
    case L_FLATTEN: snprintf(buf, n, "flatten"); break;
    }
}

tg_status tg_model_summary(const tg_model *m, int ndim, const int64_t *input_shape, FILE *out)
{
    const char *fn = "tg_model_summary";
    if (!m || !out || (ndim > 0 && !input_shape))
        return tg__error_status(TG_EINVAL, "%s: NULL argument", fn);
    if (ndim < 1 || ndim > TG_MAX_DIMS)
        return tg__error_status(TG_EINVAL, "%s: input rank %d outside 1..%d", fn, ndim,
                                TG_MAX_DIMS);
    int64_t numel;
    if (!tg__numel(ndim, input_shape, &numel))
        return tg__error_status(TG_EINVAL, "%s: invalid input shape %s", fn,
                                tg__dims_str(ndim, input_shape).s);
    /* the shapes come from the same check the forward pass makes (evaluation mode) */
    tg_tape *t = tg_tape_new();
    if (!t)
        return tg__error_status(TG_ENOMEM, "%s: out of memory", fn);
    int nd = ndim;
    int64_t sh[TG_MAX_DIMS];
    memcpy(sh, input_shape, sizeof(int64_t) * (size_t)ndim);
    int64_t total = 0, nbuf = 0;
    fprintf(out, "%-5s %-14s %-42s %-18s %10s\n", "layer", "name", "type", "output shape",
            "params");
    fprintf(out, "%-5s %-14s %-42s %-18s %10s\n", "", "", "(input)", tg__dims_str(nd, sh).s, "");
    for (int i = 0; i < m->nlayers; i++) {
        const layer *l = &m->layers[i];
        if (!fits(t, l, i, &nd, sh, false)) {
            tg_status st = tg__error_status(tg_tape_status(t), "%s: %s", fn, tg_tape_error(t));
            tg_tape_free(&t);
            return st;
        }
        int64_t np = 0;
        if (l->w >= 0)
            np += tg_tensor_numel(m->params[l->w]);
        if (l->b >= 0)
            np += tg_tensor_numel(m->params[l->b]);
        for (int k = 0; k < 2; k++) {
            int bi = k ? l->rv : l->rm;
            if (bi >= 0)
                nbuf += tg_tensor_numel(m->buffers[bi]);
        }
        total += np;
        char kind[160];
        kind_str(l, kind, sizeof kind);
        fprintf(out, "%-5d %-14s %-42s %-18s %10lld\n", i, l->name[0] ? l->name : "-", kind,
                tg__dims_str(nd, sh).s, (long long)np);
    }
    tg_tape_free(&t);
    fprintf(out, "parameters: %lld in %d tensors (all trainable); buffers: %lld values in %d "
                 "tensors; %s\n",
            (long long)total, m->nparams, (long long)nbuf, m->nbuffers, tg_dtype_name(m->dtype));
    return TG_OK;
}
