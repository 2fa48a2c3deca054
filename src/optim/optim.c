/* Optimizers (SGD with momentum/Nesterov, AdaGrad, RMSProp, Adam, AdamW; gradient
 * clipping and early stopping are in clip.c). Every state tensor is allocated at creation; a step is one
 * plain loop per parameter over restrict pointers, written for the vectorizer (the loops
 * with a square root vectorize only under -fno-math-errno). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../util.h"
#include "internal.h"
#include "optim.h"

enum { K_SGD, K_ADAGRAD, K_RMSPROP, K_ADAM, K_ADAMW };
enum { NAME_LEN = 32 };

struct tg_optim {
    int kind;
    int n;
    int nstate;              /* state tensors per parameter */
    tg_tensor **params;      /* n, borrowed */
    tg_tensor **state;       /* n * nstate, owned; state of param j at j * nstate + k */
    char (*names)[NAME_LEN]; /* n * nstate */
    double lr, decay;        /* base lr and inverse-time decay */
    double momentum, rho, beta1, beta2, eps, weight_decay;
    bool nesterov;
    int64_t t;               /* completed steps */
};

/* ------------------------------------------------------------------ kernels */



/* ------------------------------------------------------------------ helpers */

void *tg__optim_elems(const tg_tensor *t)
{
    return (char *)t->data + t->offset * (int64_t)tg_dtype_size(t->dtype);
}

static bool in01(double x) /* [0, 1), false for NaN */
{
    return x >= 0 && x < 1;
}


tg_status tg__optim_check_params(const char *fn, int n, tg_tensor *const *params,
                                 bool allow_int)
{
    if (n <= 0)
        return tg__error_status(TG_EINVAL, "%s: n = %d parameters, need at least 1", fn, n);
    if (!params)
        return tg__error_status(TG_EINVAL, "%s: params is NULL", fn);
    for (int i = 0; i < n; i++) {
        const tg_tensor *p = params[i];
        if (!p)
            return tg__error_status(TG_EINVAL, "%s: params[%d] is NULL", fn, i);
        if (p->tape)
            return tg__error_status(TG_EINVAL,
                                    "%s: params[%d] is a tape tensor; parameters must be "
                                    "persistent",
                                    fn, i);
        if ((unsigned)p->dtype > TG_I32 || (!allow_int && !tg__is_float(p->dtype)))
            return tg__error_status(TG_EDTYPE, "%s: params[%d] has dtype %s, need f32 or f64",
                                    fn, i, tg_dtype_name(p->dtype));
        if (!tg_tensor_is_contiguous(p))
            return tg__error_status(TG_EINVAL, "%s: params[%d] %s is not contiguous", fn, i,
                                    tg__shape_str(p).s);
        if (!p->data && tg_tensor_numel(p) > 0)
            return tg__error_status(TG_EINVAL, "%s: params[%d] has no data", fn, i);
    }
    /* distinct memory: a parameter updated twice in one step is a bug */
    for (int i = 0; i < n; i++) {
        const char *a = tg__optim_elems(params[i]);
        size_t na = (size_t)tg_tensor_numel(params[i]) * tg_dtype_size(params[i]->dtype);
        for (int j = i + 1; j < n && na > 0; j++) {
            const char *b = tg__optim_elems(params[j]);
            size_t nb = (size_t)tg_tensor_numel(params[j]) * tg_dtype_size(params[j]->dtype);
            if (nb > 0 && a < b + nb && b < a + na)
                return tg__error_status(TG_EINVAL, "%s: params[%d] and params[%d] share memory",
                                        fn, i, j);
        }
    }
    return TG_OK;
}

tg_status tg_optim_check_params(int n, tg_tensor *const *params)
{
    return tg__optim_check_params("tg_optim_check_params", n, params, false);
}

/* ------------------------------------------------------------------ defaults */

tg_sgd_opts tg_sgd_defaults(void)
{
    return (tg_sgd_opts){.lr = 0.01, .momentum = 0, .nesterov = false, .decay = 0};
}

tg_adagrad_opts tg_adagrad_defaults(void)
{
    return (tg_adagrad_opts){.lr = 0.01, .eps = 1e-10, .initial_accumulator = 0, .decay = 0};
}

tg_rmsprop_opts tg_rmsprop_defaults(void)
{
    return (tg_rmsprop_opts){.lr = 0.01, .rho = 0.99, .eps = 1e-8, .decay = 0};
}

tg_adam_opts tg_adam_defaults(void)
{
    return (tg_adam_opts){.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .decay = 0,
                          .weight_decay = 0};
}

tg_adam_opts tg_adamw_defaults(void)
{
    tg_adam_opts o = tg_adam_defaults();
    o.weight_decay = 1e-2;
    return o;
}

/* ------------------------------------------------------------------ creation */

static const char *const kind_names[] = {"sgd", "adagrad", "rmsprop", "adam", "adamw"};

void tg_optim_free(tg_optim **po)
{
    if (!po || !*po)
        return;
    tg_optim *o = *po;
    if (o->state)
        for (int i = 0; i < o->n * o->nstate; i++)
            tg_tensor_free(&o->state[i]);
    tg__mfree(o->state);
    tg__mfree(o->names);
    tg__mfree(o->params);
    tg__mfree(o);
    *po = NULL;
}

/* Checks the common options, allocates the optimizer, its parameter list and nstate
 * state tensors per parameter (filled with init), named "<stname[k]>.<j>". */
static tg_optim *optim_new(const char *fn, int kind, int n, tg_tensor *const *params,
                           double lr, double decay, int nstate, const char *const *stname,
                           double init)
{
    if (tg__optim_check_params(fn, n, params, false) != TG_OK)
        return NULL;
    if (!tg__nonneg(lr))
        return tg__error(TG_EINVAL, "%s: lr = %g, need a finite value >= 0", fn, lr);
    if (!tg__nonneg(decay))
        return tg__error(TG_EINVAL, "%s: decay = %g, need a finite value >= 0", fn, decay);
    tg_optim *o = tg__calloc(sizeof *o);
    if (!o)
        return tg__error(TG_ENOMEM, "%s: out of memory", fn);
    o->kind = kind;
    o->n = n;
    o->nstate = nstate;
    o->lr = lr;
    o->decay = decay;
    size_t ns = (size_t)n * (size_t)nstate;
    o->params = tg__malloc((size_t)n * sizeof *o->params);
    o->state = tg__calloc((ns ? ns : 1) * sizeof *o->state);
    o->names = tg__calloc((ns ? ns : 1) * sizeof *o->names);
    if (!o->params || !o->state || !o->names) {
        tg_optim_free(&o);
        return tg__error(TG_ENOMEM, "%s: out of memory", fn);
    }
    memcpy(o->params, params, (size_t)n * sizeof *o->params);
    for (int j = 0; j < n; j++) {
        const tg_tensor *p = params[j];
        for (int k = 0; k < nstate; k++) {
            size_t i = (size_t)j * (size_t)nstate + (size_t)k;
            o->state[i] = init == 0 ? tg_zeros(p->dtype, p->ndim, p->shape)
                                    : tg_full(p->dtype, p->ndim, p->shape, init);
            if (!o->state[i]) {
                tg_optim_free(&o);
                return tg__error(TG_ENOMEM, "%s: out of memory for the state of params[%d] %s",
                                 fn, j, tg__shape_str(p).s);
            }
            snprintf(o->names[i], NAME_LEN, "%s.%d", stname[k], j);
        }
    }
    return o;
}

tg_optim *tg_sgd_new(int n, tg_tensor *const *params, const tg_sgd_opts *opts)
{
    static const char *const fn = "tg_sgd_new";
    tg_sgd_opts d = tg_sgd_defaults();
    const tg_sgd_opts *op = opts ? opts : &d;
    if (!in01(op->momentum))
        return tg__error(TG_EINVAL, "%s: momentum = %g outside [0, 1)", fn, op->momentum);
    if (op->nesterov && op->momentum == 0)
        return tg__error(TG_EINVAL, "%s: nesterov needs momentum > 0", fn);
    static const char *const names[] = {"momentum"};
    tg_optim *o = optim_new(fn, K_SGD, n, params, op->lr, op->decay,
                            op->momentum > 0 ? 1 : 0, names, 0);
    if (o) {
        o->momentum = op->momentum;
        o->nesterov = op->nesterov;
    }
    return o;
}

tg_optim *tg_adagrad_new(int n, tg_tensor *const *params, const tg_adagrad_opts *opts)
{
    static const char *const fn = "tg_adagrad_new";
    tg_adagrad_opts d = tg_adagrad_defaults();
    const tg_adagrad_opts *op = opts ? opts : &d;
    if (!(isfinite(op->eps) && op->eps > 0))
        return tg__error(TG_EINVAL, "%s: eps = %g, need a finite value > 0", fn, op->eps);
    if (!tg__nonneg(op->initial_accumulator))
        return tg__error(TG_EINVAL, "%s: initial_accumulator = %g, need a finite value >= 0",
                         fn, op->initial_accumulator);
    static const char *const names[] = {"sum"};
    tg_optim *o = optim_new(fn, K_ADAGRAD, n, params, op->lr, op->decay, 1, names,
                            op->initial_accumulator);
    if (o)
        o->eps = op->eps;
    return o;
}

tg_optim *tg_rmsprop_new(int n, tg_tensor *const *params, const tg_rmsprop_opts *opts)
{
    static const char *const fn = "tg_rmsprop_new";
    tg_rmsprop_opts d = tg_rmsprop_defaults();
    const tg_rmsprop_opts *op = opts ? opts : &d;
    if (!in01(op->rho))
        return tg__error(TG_EINVAL, "%s: rho = %g outside [0, 1)", fn, op->rho);
    if (!(isfinite(op->eps) && op->eps > 0))
        return tg__error(TG_EINVAL, "%s: eps = %g, need a finite value > 0", fn, op->eps);
    static const char *const names[] = {"v"};
    tg_optim *o = optim_new(fn, K_RMSPROP, n, params, op->lr, op->decay, 1, names, 0);
    if (o) {
        o->rho = op->rho;
        o->eps = op->eps;
    }
    return o;
}

static tg_optim *adam_new(const char *fn, int kind, int n, tg_tensor *const *params,
                          const tg_adam_opts *op)
{
    if (!in01(op->beta1))
        return tg__error(TG_EINVAL, "%s: beta1 = %g outside [0, 1)", fn, op->beta1);
    if (!in01(op->beta2))
        return tg__error(TG_EINVAL, "%s: beta2 = %g outside [0, 1)", fn, op->beta2);
    if (!(isfinite(op->eps) && op->eps > 0))
        return tg__error(TG_EINVAL, "%s: eps = %g, need a finite value > 0", fn, op->eps);
    if (!tg__nonneg(op->weight_decay))
        return tg__error(TG_EINVAL, "%s: weight_decay = %g, need a finite value >= 0", fn,
                         op->weight_decay);
    static const char *const names[] = {"m", "v"};
    tg_optim *o = optim_new(fn, kind, n, params, op->lr, op->decay, 2, names, 0);
    if (o) {
        o->beta1 = op->beta1;
        o->beta2 = op->beta2;
        o->eps = op->eps;
        o->weight_decay = op->weight_decay;
    }
    return o;
}

tg_optim *tg_adam_new(int n, tg_tensor *const *params, const tg_adam_opts *opts)
{
    tg_adam_opts d = tg_adam_defaults();
    return adam_new("tg_adam_new", K_ADAM, n, params, opts ? opts : &d);
}

tg_optim *tg_adamw_new(int n, tg_tensor *const *params, const tg_adam_opts *opts)
{
    tg_adam_opts d = tg_adamw_defaults();
    return adam_new("tg_adamw_new", K_ADAMW, n, params, opts ? opts : &d);
}

/* ------------------------------------------------------------------ step */

static tg_status check_grad(const char *fn, int j, const tg_tensor *p)
{
    const tg_tensor *g = p->grad;
    if (g->dtype != p->dtype || tg_tensor_numel(g) != tg_tensor_numel(p) ||
        !tg_tensor_is_contiguous(g))
        return tg__error_status(TG_ESTATE,
                                "%s: gradient of params[%d] (%s %s) does not match the "
                                "parameter (%s %s) or is not contiguous",
                                fn, j, tg_dtype_name(g->dtype), tg__shape_str(g).s,
                                tg_dtype_name(p->dtype), tg__shape_str(p).s);
    return TG_OK;
}

/* update_impl.h's names: F(adam) is adam_f32, adam_f64_avx2, ... after TG__SUFFIX */
#define TG__PASTE(a, b) a##_##b
#define TG__NAME(a, b) TG__PASTE(a, b)
#define F(name) TG__NAME(name, TG__SUFFIX)

#define T float
#define TG__SUFFIX f32
#define SQRT sqrtf
#define A
#include "update_impl.h"

#define T double
#define TG__SUFFIX f64
#define SQRT sqrt
#define A
#include "update_impl.h"

typedef void (*update_fn)(const tg_optim *, int64_t, void *, const void *, void *const *,
                          double, double, double);

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define T float
#define TG__SUFFIX f32_avx2
#define SQRT sqrtf
#define A __attribute__((target("avx2")))
#include "update_impl.h"

#define T double
#define TG__SUFFIX f64_avx2
#define SQRT sqrt
#define A __attribute__((target("avx2")))
#include "update_impl.h"

#define T float
#define TG__SUFFIX f32_avx512
#define SQRT sqrtf
#define A __attribute__((target("avx512f")))
#include "update_impl.h"

#define T double
#define TG__SUFFIX f64_avx512
#define SQRT sqrt
#define A __attribute__((target("avx512f")))
#include "update_impl.h"

/* the widest clone this CPU runs (index 0 F32, 1 F64); chosen once, race-free since
 * every thread computes the same answer */
static void pick_updates(update_fn fns[2])
{
    if (__builtin_cpu_supports("avx512f")) {
        fns[0] = update_f32_avx512;
        fns[1] = update_f64_avx512;
    } else if (__builtin_cpu_supports("avx2")) {
        fns[0] = update_f32_avx2;
        fns[1] = update_f64_avx2;
    } else {
        fns[0] = update_f32;
        fns[1] = update_f64;
    }
}
#else
static void pick_updates(update_fn fns[2])
{
    fns[0] = update_f32;
    fns[1] = update_f64;
}
#endif

/* Test hook (src/optim/internal.h): nonzero forces the portable kernels, so a test can
 * compare them with the clones bit for bit. */
int tg__optim_portable_only = 0;

static update_fn update_for(tg_dtype dt)
{
    update_fn fns[2];
    if (tg__optim_portable_only) {
        fns[0] = update_f32;
        fns[1] = update_f64;
    } else {
        pick_updates(fns);
    }
    return dt == TG_F32 ? fns[0] : fns[1];
}

/* gradients are cleared in blocks right after their update, while still in cache */
#define ZERO_BLOCK ((int64_t)4096)

static tg_status optim_step(tg_optim *o, bool zero, const char *fn)
{
    if (!o)
        return tg__error_status(TG_EINVAL, "%s: NULL optimizer", fn);
    for (int j = 0; j < o->n; j++)
        if (o->params[j]->grad && check_grad(fn, j, o->params[j]) != TG_OK)
            return TG_ESTATE;
    double lr = o->lr / (1.0 + o->decay * (double)o->t);
    double step = 0, bc2 = 0;
    if (o->kind == K_ADAM || o->kind == K_ADAMW) {
        double k = (double)o->t + 1;
        step = lr / (1 - pow(o->beta1, k));
        bc2 = sqrt(1 - pow(o->beta2, k));
    }
    for (int j = 0; j < o->n; j++) {
        tg_tensor *p = o->params[j];
        if (!p->grad)
            continue;
        int64_t n = tg_tensor_numel(p);
        size_t es = tg_dtype_size(p->dtype);
        update_fn update = update_for(p->dtype);
        tg_tensor *const *st = o->state + (size_t)j * (size_t)o->nstate;
        /* large parameters are split into one chunk per thread: every element's update
         * is independent, so the result does not depend on the split */
        int chunks = n >= TG__PAR_MIN_ELEMS ? tg_num_threads() : 1;
        int64_t per = (n + chunks - 1) / chunks;
#ifdef TG_HAVE_OPENMP
#pragma omp parallel for num_threads(chunks) if (chunks > 1)
#endif
        for (int c = 0; c < chunks; c++) {
            int64_t lo = c * per, len = n - lo < per ? n - lo : per;
            int64_t blk = zero ? ZERO_BLOCK : len;
            for (int64_t b = lo; b < lo + len; b += blk) {
                int64_t m = lo + len - b < blk ? lo + len - b : blk;
                char *g = (char *)tg__optim_elems(p->grad) + (size_t)b * es;
                void *s[2] = {NULL, NULL};
                for (int k = 0; k < o->nstate; k++)
                    s[k] = (char *)tg__optim_elems(st[k]) + (size_t)b * es;
                update(o, m, (char *)tg__optim_elems(p) + (size_t)b * es, g, s, lr, step, bc2);
                if (zero)
                    memset(g, 0, (size_t)m * es);
            }
        }
    }
    o->t++;
    return TG_OK;
}

tg_status tg_optim_step(tg_optim *o)
{
    return optim_step(o, false, "tg_optim_step");
}

tg_status tg_optim_step_zero(tg_optim *o)
{
    return optim_step(o, true, "tg_optim_step_zero");
}

void tg_optim_zero_grad(tg_optim *o)
{
    if (!o)
        return;
    for (int j = 0; j < o->n; j++) {
        tg_tensor *g = o->params[j]->grad;
        if (!g)
            continue;
        if (tg_tensor_is_contiguous(g))
            memset(tg__optim_elems(g), 0, (size_t)tg_tensor_numel(g) * tg_dtype_size(g->dtype));
        else
            tg_tensor_fill(g, 0);
    }
}

/* ------------------------------------------------------------------ inspection */

const char *tg_optim_name(const tg_optim *o)
{
    return o ? kind_names[o->kind] : "";
}

int tg_optim_param_count(const tg_optim *o)
{
    return o ? o->n : 0;
}

tg_tensor *tg_optim_param(const tg_optim *o, int i)
{
    if (!o || i < 0 || i >= o->n)
        return tg__error(TG_ERANGE, "tg_optim_param: index %d out of range", i);
    return o->params[i];
}

int64_t tg_optim_steps(const tg_optim *o)
{
    return o ? o->t : -1;
}

tg_status tg_optim_set_steps(tg_optim *o, int64_t steps)
{
    if (!o)
        return tg__error_status(TG_EINVAL, "tg_optim_set_steps: NULL optimizer");
    if (steps < 0)
        return tg__error_status(TG_EINVAL, "tg_optim_set_steps: steps = %lld, need >= 0",
                                (long long)steps);
    o->t = steps;
    return TG_OK;
}

double tg_optim_lr(const tg_optim *o)
{
    return o ? o->lr / (1.0 + o->decay * (double)o->t) : NAN;
}

double tg_optim_base_lr(const tg_optim *o)
{
    return o ? o->lr : NAN;
}

tg_status tg_optim_set_lr(tg_optim *o, double lr)
{
    if (!o)
        return tg__error_status(TG_EINVAL, "tg_optim_set_lr: NULL optimizer");
    if (!tg__nonneg(lr))
        return tg__error_status(TG_EINVAL, "tg_optim_set_lr: lr = %g, need a finite value >= 0",
                                lr);
    o->lr = lr;
    return TG_OK;
}

int tg_optim_state_count(const tg_optim *o)
{
    return o ? o->n * o->nstate : 0;
}

tg_tensor *tg_optim_state_tensor(tg_optim *o, int i, const char **name)
{
    if (!o)
        return tg__error(TG_EINVAL, "tg_optim_state_tensor: NULL optimizer");
    if (i < 0 || i >= o->n * o->nstate)
        return tg__error(TG_ERANGE, "tg_optim_state_tensor: index %d outside 0..%d", i,
                         o->n * o->nstate - 1);
    if (name)
        *name = o->names[i];
    return o->state[i];
}
