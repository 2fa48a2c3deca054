/* Layer names and the model summary. */
#include <stdio.h>
#include <string.h>

#include "../util.h"
#include "internal.h"
#include "nn.h"

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
        if (!tg__model_fits(t, l, i, &nd, sh, false)) {
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

