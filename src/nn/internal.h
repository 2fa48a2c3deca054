/* Private to src/nn: the sequential model's layout, shared by model.c and summary.c. */
#ifndef TG_NN_INTERNAL_H
#define TG_NN_INTERNAL_H

#include "nn.h"

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

/* checks that an input of shape (nd, sh) fits layer i and replaces it by the layer's
 * output shape; records a TG_ESHAPE naming the layer on t and returns false if not */
bool tg__model_fits(tg_tape *t, const layer *l, int i, int *nd, int64_t *sh, bool training);

#endif
