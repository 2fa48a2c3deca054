/* Initialisers and activations. */
#include <math.h>
#include <stdio.h>

#include "../util.h"
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
    if (!tg__tape_inputs_ok(t, "tg_activate", 1, (const tg_tensor *const[]){x}))
        return NULL;
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
