/* tapegrad — optimizer internals shared with the tests (not installed). */
#ifndef TG_OPTIM_INTERNAL_H
#define TG_OPTIM_INTERNAL_H

/* Nonzero: tg_optim_step uses the portable update kernels instead of the widest
 * instruction-set clone, so a test can check that both give the same bits. */
extern int tg__optim_portable_only;

#endif
