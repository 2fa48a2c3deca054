/* Gradcheck cases shared by the gradcheck suite and its self-test. */
#ifndef TG_GRADCHECK_CASES_H
#define TG_GRADCHECK_CASES_H

#include "tapegrad.h"

/* how an input is built */
typedef enum {
    IN_PLAIN,      /* contiguous */
    IN_TRANSPOSED, /* a transposed view of a contiguous tensor (last two axes) */
    IN_STRIDED     /* every other element of the last axis of a twice-as-wide tensor */
} in_kind;

typedef struct {
    int ndim;
    int64_t shape[4];
    double lo, hi;   /* uniform range */
    bool away;       /* random sign, magnitude in [lo, hi]: keeps off kinks at 0 */
    in_kind kind;
    bool konst;      /* a constant: requires no grad, so it is not checked, but the op
                        must still handle it (its gradient skipped, the others right) */
} in_spec;

typedef struct gc_case {
    const char *op;    /* registry name the case must exercise */
    const char *name;
    tg_gradcheck_fn fn;
    int n;
    in_spec in[4];
} gc_case;

/* the core ops' table (gradcheck_cases.c) and the CNN ops' (gradcheck_cases_cnn.c) */
extern const gc_case gc_cases[], gc_cases_cnn[];
extern const int gc_ncases, gc_ncases_cnn;
/* the i-th case over all tables (0 <= i < gc_count()) */
int gc_count(void);
const gc_case *gc_get(int i);

/* builds the inputs of a case in dtype dt (persistent; free each with tg_tensor_free) */
bool gc_make_inputs(const gc_case *c, tg_dtype dt, uint64_t seed, tg_tensor **in);
void gc_free_inputs(const gc_case *c, tg_tensor **in);

/* A case bound to its inputs for tg_gradcheck and tg_grad, which see only the inputs
 * that require grad (the parameters); gc_call, a tg_gradcheck_fn, puts them back among
 * the constants and calls the case. */
typedef struct gc_bound {
    const gc_case *c;
    tg_tensor *all[4];
    int np;          /* number of parameters */
    int pos[4];      /* position of parameter k among the case's inputs */
} gc_bound;
/* fills b and params[0..b->np) from in[] (gc_make_inputs); marks the parameters as
 * requiring grad and the constants as not; returns b->np */
int gc_bind(gc_bound *b, const gc_case *c, tg_tensor **in, tg_tensor **params);
tg_tensor *gc_call(tg_tape *t, tg_tensor *const *params, void *bound);

#endif
