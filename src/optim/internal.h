/* tapegrad — optimizer internals shared with the tests (not installed). */
#ifndef TG_OPTIM_INTERNAL_H
#define TG_OPTIM_INTERNAL_H

/* Nonzero: tg_optim_step uses the portable update kernels instead of the widest
 * instruction-set clone, so a test can check that both give the same bits. */
extern int tg__optim_portable_only;

#include <math.h>

#include "../tensor/tensor.h"

/* the first element of t's data */
void *tg__optim_elems(const tg_tensor *t);
/* x is finite and >= 0 */
static inline bool tg__nonneg(double x) { return isfinite(x) && x >= 0; }
/* The parameter check shared by the optimizers, clipping and early stopping: n >= 1
 * distinct persistent float tensors (allow_int: I32 accepted); the status with
 * tg_last_error naming fn */
tg_status tg__optim_check_params(const char *fn, int n, tg_tensor *const *params,
                                 bool allow_int);

#endif
