/* The fixed model + optimizer of the checkpoint fuzz target, shared with gen_seeds.c
 * (which writes the valid seed files): a 3-4-2 MLP with tanh, F32, and Adam after one
 * step (so its state is not all zero). */
#ifndef TG_FUZZ_MODEL_H
#define TG_FUZZ_MODEL_H

#include "tapegrad.h"

/* NULL on failure; *opt receives the optimizer (NULL on failure) */
tg_model *fuzz_model(tg_optim **opt);

#endif
