/* Initialisers, activations and the sequential model. */
#include <math.h>
#include <string.h>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "../tensor/internal.h"
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
    return NULL;
}

/* ------------------------------------------------------------------ model */

typedef enum { L_DENSE, L_ACT, L_DROPOUT } layer_kind;

typedef struct {
    layer_kind kind;
    tg_activation act;
    double param;        /* activation parameter or dropout rate */
    tg_dense_opts dense;
    int w, b;            /* parameter indices (-1: none) */
} layer;

#define MAX_LAYERS 64
#define MAX_PARAMS (2 * MAX_LAYERS)

struct tg_model {
    tg_dtype dtype;
    uint64_t seed, counter;
    int nlayers, nparams;
    layer layers[MAX_LAYERS];
    tg_tensor *params[MAX_PARAMS];
    char names[MAX_PARAMS][24];
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
    tg__mfree(*pm);
    *pm = NULL;
}

tg_dense_opts tg_dense_defaults(void)
{
    tg_dense_opts o = {.init = TG_INIT_GLOROT_UNIFORM, .bias = true};
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
    l->w = l->b = -1;
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
    tg_tensor *w = tg_zeros(m->dtype, 2, (int64_t[]){in, out});
    tg_tensor *b = d.bias ? tg_zeros(m->dtype, 1, &out) : NULL;
    if (!w || (d.bias && !b)) {
        tg_tensor_free(&w);
        tg_tensor_free(&b);
        return TG_ENOMEM;
    }
    tg_status s = tg_init_fill(w, d.init, m->seed, (uint64_t)m->nlayers);
    if (s != TG_OK) {
        tg_tensor_free(&w);
        tg_tensor_free(&b);
        return s;
    }
    l->dense = d;
    l->w = add_param(m, w, "weight");
    if (b)
        l->b = add_param(m, b, "bias");
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

tg_tensor *tg_model_forward(tg_model *m, tg_tape *t, tg_tensor *x, bool training)
{
    if (!m || !t || !x)
        return NULL;
    uint64_t step = training ? m->counter++ : 0;
    for (int i = 0; i < m->nlayers && x; i++) {
        const layer *l = &m->layers[i];
        switch (l->kind) {
        case L_DENSE:
            x = tg_dense(t, x, m->params[l->w], l->b >= 0 ? m->params[l->b] : NULL);
            break;
        case L_ACT: x = tg_activate(t, x, l->act, l->param); break;
        case L_DROPOUT:
            /* stream: layer index in the high bits, the training step in the low ones */
            x = tg_dropout(t, x, l->param, m->seed, ((uint64_t)i << 48) ^ step, training);
            break;
        }
    }
    return x;
}

tg_tensor *tg_model_penalty(tg_model *m, tg_tape *t)
{
    if (!m || !t)
        return NULL;
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

uint64_t tg_model_rng_counter(const tg_model *m) { return m ? m->counter : 0; }
void tg_model_set_rng_counter(tg_model *m, uint64_t c)
{
    if (m)
        m->counter = c;
}

uint64_t tg_model_hash(const tg_model *m)
{
    XXH3_state_t st;
    XXH3_64bits_reset(&st);
    for (int i = 0; m && i < m->nparams; i++) {
        uint64_t h = tg_tensor_hash(m->params[i]);
        XXH3_64bits_update(&st, m->names[i], strlen(m->names[i]) + 1);
        XXH3_64bits_update(&st, &h, sizeof h);
    }
    return XXH3_64bits_digest(&st);
}
