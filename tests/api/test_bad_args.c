/* Bad arguments for every public function: a row per function (many rows for most)
 * calls it with NULL for each pointer, a wrong dtype, a wrong rank, negative sizes,
 * out-of-range axes or values, as applicable, and asserts the documented failure:
 *  - tape ops: NULL, the tape failed with the status, the message naming the function
 *    (a NULL tensor input: NULL and no new error, as DESIGN.md says);
 *  - calls outside a tape: the status (or NULL / NaN) and tg_last_error() naming the
 *    function;
 *  - functions with no bad-argument space say why in a NO_BAD_ARGS row.
 * Completeness: api_names.h is generated at build time from every TG_API declaration
 * in src (tests/api/list_api.py); every name needs a row, so a new public function
 * without one fails this test (naming it). --pretend-missing NAME drops NAME's rows:
 * the suite runs it expecting failure, which proves the completeness check works. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "tapegrad.h"

static const char *const api_names[] = {
#include "api_names.h"
};
#define NAPI ((int)(sizeof api_names / sizeof api_names[0]))

static bool covered[NAPI];
static const char *pretend_missing;

/* marks name as having a row; false (the row is skipped) for --pretend-missing */
static bool row(const char *name)
{
    if (pretend_missing && !strcmp(name, pretend_missing))
        return false;
    for (int i = 0; i < NAPI; i++)
        if (!strcmp(api_names[i], name)) {
            covered[i] = true;
            return true;
        }
    CHECK(0, "row for '%s', which is not a TG_API function", name);
    return false;
}
#define ROW(name) if (row(name))
/* a function whose every argument is valid (or that has none) */
#define NO_BAD_ARGS(name, why) ((void)(why), (void)row(name))

static tg_tape *T;

/* tg_last_error() set to a message naming none of the functions under test */
static void clear_error(void)
{
    (void)tg_take_rows(NULL, 0, NULL);
    CHECK(strstr(tg_last_error(), "tg_take_rows"), "sentinel message: '%s'", tg_last_error());
}

static bool names(const char *msg, const char *fn)
{
    return msg && strstr(msg, fn) != NULL;
}

/* a tape op that must fail the tape with status st and a message naming fn */
#define TAPE_FAILS(st, fn, expr)                                                          \
    do {                                                                                  \
        tg_tape_reset(T);                                                                 \
        tg_tensor *r_ = (expr);                                                           \
        CHECK(!r_ && tg_tape_status(T) == (st) && names(tg_tape_error(T), fn),            \
              "%s: want NULL, %s, a message naming it; got %s, %s '%s'", #expr,           \
              tg_status_name(st), r_ ? "a tensor" : "NULL",                               \
              tg_status_name(tg_tape_status(T)), tg_tape_error(T));                       \
        tg_tape_reset(T);                                                                 \
    } while (0)
/* a tape op given a NULL tensor (or a NULL tape): NULL, no new error */
#define TAPE_QUIET(expr)                                                                  \
    do {                                                                                  \
        tg_tape_reset(T);                                                                 \
        tg_tensor *r_ = (expr);                                                           \
        CHECK(!r_ && !tg_tape_failed(T), "%s: want NULL and no error; got %s, '%s'",      \
              #expr, r_ ? "a tensor" : "NULL", tg_tape_error(T));                         \
    } while (0)
/* a tape op that must fail the tape naming fn, whatever the status (a status not
 * pinned here: see the row) */
#define TAPE_FAILS_ANY(fn, expr)                                                          \
    do {                                                                                  \
        tg_tape_reset(T);                                                                 \
        tg_tensor *r_ = (expr);                                                           \
        CHECK(!r_ && tg_tape_failed(T) && names(tg_tape_error(T), fn),                    \
              "%s: want NULL, a failed tape, a message naming it; got %s, %s '%s'", #expr, \
              r_ ? "a tensor" : "NULL", tg_status_name(tg_tape_status(T)), tg_tape_error(T)); \
        tg_tape_reset(T);                                                                 \
    } while (0)
/* a call outside a tape returning a status */
#define STATUS_FAILS(st, fn, expr)                                                        \
    do {                                                                                  \
        clear_error();                                                                    \
        tg_status s_ = (expr);                                                            \
        CHECK(s_ == (st) && names(tg_last_error(), fn), "%s: want %s naming %s; got %s '%s'", \
              #expr, tg_status_name(st), fn, tg_status_name(s_), tg_last_error());        \
    } while (0)
/* a call outside a tape returning NULL on failure (the status is not readable yet:
 * tg__error drops it, issue 11 item 8) */
#define NULL_FAILS(fn, expr)                                                              \
    do {                                                                                  \
        clear_error();                                                                    \
        const void *p_ = (expr);                                                          \
        CHECK(!p_ && names(tg_last_error(), fn), "%s: want NULL naming %s; got %p '%s'",   \
              #expr, fn, p_, tg_last_error());                                            \
    } while (0)
/* a call outside a tape returning NaN on failure */
#define NAN_FAILS(fn, expr)                                                               \
    do {                                                                                  \
        clear_error();                                                                    \
        double d_ = (expr);                                                               \
        CHECK(isnan(d_) && names(tg_last_error(), fn), "%s: want NaN naming %s; got %g '%s'", \
              #expr, fn, d_, tg_last_error());                                            \
    } while (0)

/* a call outside a tape returning NULL, with tg_last_status() st and a message naming fn */
#define NULL_FAILS_ST(st, fn, expr)                                                       \
    do {                                                                                  \
        clear_error();                                                                    \
        const void *p_ = (expr);                                                          \
        CHECK(!p_ && tg_last_status() == (st) && names(tg_last_error(), fn),              \
              "%s: want NULL, %s naming %s; got %p, %s '%s'", #expr, tg_status_name(st),  \
              fn, p_, tg_status_name(tg_last_status()), tg_last_error());                 \
    } while (0)
/* a call outside a tape returning NaN, with tg_last_status() st and a message naming fn */
#define NAN_FAILS_ST(st, fn, expr)                                                        \
    do {                                                                                  \
        clear_error();                                                                    \
        double d_ = (expr);                                                               \
        CHECK(isnan(d_) && tg_last_status() == (st) && names(tg_last_error(), fn),        \
              "%s: want NaN, %s naming %s; got %g, %s '%s'", #expr, tg_status_name(st),   \
              fn, d_, tg_status_name(tg_last_status()), tg_last_error());                 \
    } while (0)

typedef tg_tensor *(*unary_fn)(tg_tape *, tg_tensor *);
typedef tg_tensor *(*binary_fn)(tg_tape *, tg_tensor *, tg_tensor *);
typedef tg_tensor *(*loss_fn)(tg_tape *, tg_tensor *, const tg_tensor *);
typedef tg_tensor *(*scalar_fn)(tg_tape *, tg_tensor *, double);
typedef tg_tensor *(*pool_fn)(tg_tape *, tg_tensor *, const int64_t *, const int64_t *,
                              const int64_t *);
#define F(f) {#f, (void (*)(void))f}
typedef struct {
    const char *name;
    void (*f)(void);
} named;

static tg_tensor *f23, *d23, *i23, *f32v, *i6, *img, *f3, *f0;

static void tensor_rows(void)
{
    int64_t s2[2] = {2, 3}, neg[2] = {2, -3}, huge[2] = {(int64_t)1 << 40, (int64_t)1 << 40};
    int64_t empty_huge[3] = {0, (int64_t)1 << 62, 4}, idx[2] = {0, 5};
    float buf[16] = {0};
    ROW("tg_zeros") {
        NULL_FAILS("tg_zeros", tg_zeros(TG_F32, 2, NULL));
        NULL_FAILS("tg_zeros", tg_zeros(TG_F32, 9, s2));
        NULL_FAILS("tg_zeros", tg_zeros(TG_F32, -1, s2));
        NULL_FAILS("tg_zeros", tg_zeros(TG_F32, 2, neg));
        NULL_FAILS("tg_zeros", tg_zeros(TG_F32, 2, huge));
        NULL_FAILS("tg_zeros", tg_zeros((tg_dtype)7, 2, s2));
        /* an empty shape whose contiguous strides overflow (was UB in the stride loop) */
        NULL_FAILS("tg_zeros", tg_zeros(TG_F32, 3, empty_huge));
    }
    ROW("tg_ones") {
        NULL_FAILS("tg_ones", tg_ones(TG_F64, 2, neg));
        NULL_FAILS("tg_ones", tg_ones(TG_F64, 2, NULL));
    }
    ROW("tg_full") {
        NULL_FAILS("tg_full", tg_full(TG_F32, 2, huge, 1));
        NULL_FAILS("tg_full", tg_full((tg_dtype)-1, 2, s2, 1));
    }
    ROW("tg_tensor_from") {
        NULL_FAILS("tg_tensor_from", tg_tensor_from(TG_F32, 2, s2, NULL));
        NULL_FAILS("tg_tensor_from", tg_tensor_from(TG_F32, 2, neg, buf));
    }
    ROW("tg_tensor_wrap") {
        NULL_FAILS("tg_tensor_wrap", tg_tensor_wrap(TG_F32, 2, s2, NULL));
        NULL_FAILS("tg_tensor_wrap", tg_tensor_wrap(TG_F32, 9, s2, buf));
    }
    ROW("tg_arange") {
        NULL_FAILS("tg_arange", tg_arange(TG_F32, 0, 10, 0));
        NULL_FAILS("tg_arange", tg_arange(TG_F32, 0, NAN, 1));
        NULL_FAILS("tg_arange", tg_arange((tg_dtype)9, 0, 10, 1));
    }
    ROW("tg_rand_uniform") {
        NULL_FAILS("tg_rand_uniform", tg_rand_uniform(TG_I32, 2, s2, 0, 1, 1, 0));
        NULL_FAILS("tg_rand_uniform", tg_rand_uniform(TG_F32, 2, NULL, 0, 1, 1, 0));
        NULL_FAILS("tg_rand_uniform", tg_rand_uniform(TG_F32, 2, s2, 1, 0, 1, 0));
    }
    ROW("tg_rand_normal") {
        NULL_FAILS("tg_rand_normal", tg_rand_normal(TG_I32, 2, s2, 0, 1, 1, 0));
        NULL_FAILS("tg_rand_normal", tg_rand_normal(TG_F64, 2, s2, 0, -1, 1, 0));
    }
    ROW("tg_tensor_clone") NULL_FAILS("tg_tensor_clone", tg_tensor_clone(NULL));
    ROW("tg_tensor_free") {
        tg_tensor_free(NULL); /* documented as fine: must not crash */
        tg_tensor *n = NULL;
        tg_tensor_free(&n);
        tg_tensor *c = tg_tensor_clone(f23);
        tg_tensor_free(&c);
        CHECK(!c, "tg_tensor_free sets the pointer to NULL");
    }
    NO_BAD_ARGS("tg_rng_u64", "every (seed, stream, counter) is valid");
    NO_BAD_ARGS("tg_rng_uniform01", "every (seed, stream, counter) is valid");
    NO_BAD_ARGS("tg_rng_normal", "every (seed, stream, counter) is valid");
    ROW("tg_tensor_numel") CHECK(tg_tensor_numel(NULL) == 0, "numel(NULL) is 0");
    ROW("tg_tensor_is_contiguous") CHECK(!tg_tensor_is_contiguous(NULL), "NULL not contiguous");
    ROW("tg_tensor_same_shape") {
        CHECK(!tg_tensor_same_shape(NULL, f23) && !tg_tensor_same_shape(f23, NULL) &&
                  !tg_tensor_same_shape(f23, f32v),
              "same_shape with NULL or another shape is false");
    }
    ROW("tg_tensor_get") {
        NAN_FAILS("tg_tensor_get", tg_tensor_get(NULL, idx));
        NAN_FAILS("tg_tensor_get", tg_tensor_get(f23, NULL));
        NAN_FAILS("tg_tensor_get", tg_tensor_get(f23, idx)); /* 5 >= 3 */
    }
    ROW("tg_tensor_set") {
        STATUS_FAILS(TG_EINVAL, "tg_tensor_set", tg_tensor_set(NULL, idx, 1));
        STATUS_FAILS(TG_EINVAL, "tg_tensor_set", tg_tensor_set(f23, NULL, 1));
        STATUS_FAILS(TG_ERANGE, "tg_tensor_set", tg_tensor_set(f23, idx, 1));
    }
    ROW("tg_tensor_get_flat") {
        NAN_FAILS("tg_tensor_get_flat", tg_tensor_get_flat(NULL, 0));
        NAN_FAILS("tg_tensor_get_flat", tg_tensor_get_flat(f23, -1));
        NAN_FAILS("tg_tensor_get_flat", tg_tensor_get_flat(f23, 6));
    }
    ROW("tg_tensor_set_flat") {
        STATUS_FAILS(TG_EINVAL, "tg_tensor_set_flat", tg_tensor_set_flat(NULL, 0, 1));
        STATUS_FAILS(TG_ERANGE, "tg_tensor_set_flat", tg_tensor_set_flat(f23, 6, 1));
    }
    ROW("tg_tensor_copy_out") {
        double out[6];
        STATUS_FAILS(TG_EINVAL, "tg_tensor_copy_out", tg_tensor_copy_out(NULL, TG_F64, out));
        STATUS_FAILS(TG_EINVAL, "tg_tensor_copy_out", tg_tensor_copy_out(f23, TG_F64, NULL));
    }
    ROW("tg_tensor_copy") {
        STATUS_FAILS(TG_EINVAL, "tg_tensor_copy", tg_tensor_copy(NULL, f23));
        STATUS_FAILS(TG_EINVAL, "tg_tensor_copy", tg_tensor_copy(f23, NULL));
        STATUS_FAILS(TG_ESHAPE, "tg_tensor_copy", tg_tensor_copy(f23, f32v));
    }
    ROW("tg_tensor_fill") STATUS_FAILS(TG_EINVAL, "tg_tensor_fill", tg_tensor_fill(NULL, 1));
    ROW("tg_tensor_hash") CHECK(tg_tensor_hash(NULL) == 0, "hash(NULL) is 0");
    ROW("tg_tensor_print") {
        STATUS_FAILS(TG_EINVAL, "tg_tensor_print", tg_tensor_print(f23, NULL));
    }
    ROW("tg_tensor_format") {
        char b[4] = "xyz";
        size_t need = tg_tensor_format(NULL, b, sizeof b);
        CHECK(need == 6 && !strcmp(b, "(nu"), "format(NULL): %zu '%s'", need, b);
        CHECK(tg_tensor_format(f23, NULL, 0) > 10, "format into no buffer returns the size");
        /* an empty tensor with a huge axis is summarised (it printed 2^40 rows: a hang) */
        tg_tensor *e = tg_zeros(TG_F32, 2, (int64_t[]){(int64_t)1 << 40, 0});
        char big[256];
        size_t n = tg_tensor_format(e, big, sizeof big);
        CHECK(e && n < 200, "format of [2^40, 0] takes %zu characters", n);
        tg_tensor_free(&e);
    }
    ROW("tg_view_reshape") {
        NULL_FAILS("tg_view_reshape", tg_view_reshape(NULL, 2, s2));
        NULL_FAILS("tg_view_reshape", tg_view_reshape(f23, 2, NULL));
        NULL_FAILS("tg_view_reshape", tg_view_reshape(f23, 2, (int64_t[]){4, 4}));
        NULL_FAILS("tg_view_reshape", tg_view_reshape(f23, 9, s2));
    }
    ROW("tg_view_permute") {
        NULL_FAILS("tg_view_permute", tg_view_permute(NULL, (int[]){1, 0}));
        NULL_FAILS("tg_view_permute", tg_view_permute(f23, NULL));
        NULL_FAILS("tg_view_permute", tg_view_permute(f23, (int[]){0, 0}));
        NULL_FAILS("tg_view_permute", tg_view_permute(f23, (int[]){0, 2}));
    }
    ROW("tg_view_transpose") {
        NULL_FAILS("tg_view_transpose", tg_view_transpose(NULL, 0, 1));
        NULL_FAILS("tg_view_transpose", tg_view_transpose(f23, 0, 2));
        NULL_FAILS("tg_view_transpose", tg_view_transpose(f23, -1, 0));
        /* a tape tensor: the message named tg_view_permute */
        tg_tape_reset(T);
        NULL_FAILS("tg_view_transpose", tg_view_transpose(tg_relu(T, f23), 0, 1));
    }
    ROW("tg_view_slice") {
        int64_t st[2] = {0, 0}, sp[2] = {2, 3}, step0[2] = {1, 0};
        NULL_FAILS("tg_view_slice", tg_view_slice(NULL, st, sp, NULL));
        NULL_FAILS("tg_view_slice", tg_view_slice(f23, st, sp, step0));
    }
    ROW("tg_view_expand") {
        NULL_FAILS("tg_view_expand", tg_view_expand(NULL, 2, s2));
        NULL_FAILS("tg_view_expand", tg_view_expand(f23, 2, (int64_t[]){4, 3}));
        NULL_FAILS("tg_view_expand", tg_view_expand(f23, 1, s2));
    }
    ROW("tg_tensor_contiguous") NULL_FAILS("tg_tensor_contiguous", tg_tensor_contiguous(NULL));
    ROW("tg_last_error") CHECK(tg_last_error() != NULL, "tg_last_error is never NULL");
    ROW("tg_status_name") {
        CHECK(!strcmp(tg_status_name(TG_ESHAPE), "TG_ESHAPE") &&
                  tg_status_name((tg_status)99) != NULL && tg_status_name((tg_status)-1),
              "status names, unknown ones included");
    }
    ROW("tg_dtype_name") {
        CHECK(tg_dtype_name((tg_dtype)7) != NULL && tg_dtype_name((tg_dtype)-1) != NULL,
              "unknown dtype has a name");
    }
    ROW("tg_dtype_size") CHECK(tg_dtype_size((tg_dtype)7) == 0, "unknown dtype has size 0");
    NO_BAD_ARGS("tg_set_allocator", "NULL restores malloc (done at exit); a hook is trusted");
    ROW("tg_set_num_threads") {
        /* documented: outside [1, tg_max_threads()] is TG_EINVAL, the setting unchanged */
        int was = tg_num_threads();
        STATUS_FAILS(TG_EINVAL, "tg_set_num_threads", tg_set_num_threads(0));
        STATUS_FAILS(TG_EINVAL, "tg_set_num_threads", tg_set_num_threads(-5));
        STATUS_FAILS(TG_EINVAL, "tg_set_num_threads", tg_set_num_threads(tg_max_threads() + 1));
        STATUS_FAILS(TG_EINVAL, "tg_set_num_threads", tg_set_num_threads(INT32_MAX));
        CHECK(tg_num_threads() == was, "a refused count leaves the setting");
    }
    NO_BAD_ARGS("tg_num_threads", "no arguments");
    NO_BAD_ARGS("tg_max_threads", "no arguments");
    NO_BAD_ARGS("tg_last_status", "no arguments");
}

static void tape_rows(void)
{
    ROW("tg_tape_new") {
        tg_tape *t = tg_tape_new();
        CHECK(t != NULL, "tg_tape_new");
        tg_tape_free(&t);
    }
    ROW("tg_tape_free") {
        tg_tape_free(NULL); /* NULL and *t == NULL are fine */
        tg_tape *n = NULL;
        tg_tape_free(&n);
    }
    ROW("tg_tape_reset") tg_tape_reset(NULL);
    ROW("tg_tape_failed") CHECK(tg_tape_failed(NULL), "a NULL tape is failed");
    ROW("tg_tape_status") CHECK(tg_tape_status(NULL) == TG_EINVAL, "status of NULL");
    ROW("tg_tape_error") CHECK(strlen(tg_tape_error(NULL)) > 0, "message of NULL");
    ROW("tg_tape_set_grad_mode") CHECK(!tg_tape_set_grad_mode(NULL, true), "NULL tape");
    ROW("tg_tape_grad_mode") CHECK(!tg_tape_grad_mode(NULL), "NULL tape records nothing");
    ROW("tg_tape_set_anomaly_mode") CHECK(!tg_tape_set_anomaly_mode(NULL, true), "NULL tape");
    ROW("tg_tape_nodes") CHECK(tg_tape_nodes(NULL) == 0, "NULL tape");
    ROW("tg_tape_arena_used") CHECK(tg_tape_arena_used(NULL) == 0, "NULL tape");
    ROW("tg_tape_arena_high_water") CHECK(tg_tape_arena_high_water(NULL) == 0, "NULL tape");
    ROW("tg_tape_count_op") {
        CHECK(tg_tape_count_op(NULL, 0) == 0 && tg_tape_count_op(T, -1) == 0 &&
                  tg_tape_count_op(T, 1 << 20) == 0,
              "NULL tape or unknown op count 0");
    }
    ROW("tg_tensor_set_requires_grad") {
        STATUS_FAILS(TG_EINVAL, "tg_tensor_set_requires_grad",
                     tg_tensor_set_requires_grad(NULL, true));
        STATUS_FAILS(TG_EDTYPE, "tg_tensor_set_requires_grad",
                     tg_tensor_set_requires_grad(i23, true));
    }
    ROW("tg_tensor_requires_grad") CHECK(!tg_tensor_requires_grad(NULL), "NULL");
    ROW("tg_tensor_zero_grad") {
        STATUS_FAILS(TG_EINVAL, "tg_tensor_zero_grad", tg_tensor_zero_grad(NULL));
    }
    ROW("tg_tensor_set_label") tg_tensor_set_label(NULL, "x"); /* no crash */
    NO_BAD_ARGS("tg_backward_defaults", "no arguments");
    NO_BAD_ARGS("tg_gradcheck_defaults", "no arguments");
    NO_BAD_ARGS("tg_ce_defaults", "no arguments");
    NO_BAD_ARGS("tg_conv2d_defaults", "no arguments");
    NO_BAD_ARGS("tg_conv1d_defaults", "no arguments");
    ROW("tg_backward") {
        CHECK(tg_backward(NULL, f3) == TG_EINVAL, "NULL tape");
        tg_tape_reset(T);
        CHECK(tg_backward(T, NULL) == TG_EINVAL && names(tg_tape_error(T), "tg_backward"),
              "NULL root: %s", tg_tape_error(T));
        tg_tape_reset(T);
        CHECK(tg_backward(T, tg_relu(T, f23)) != TG_OK && names(tg_tape_error(T), "tg_backward"),
              "a root that requires no grad: %s", tg_tape_error(T));
        tg_tape_reset(T);
    }
    ROW("tg_backward_ex") {
        tg_tape_reset(T);
        tg_tensor *y = tg_mul(T, f3, f3); /* f3 requires grad: [3] */
        CHECK(tg_backward_ex(T, y, f23, NULL) == TG_ESHAPE &&
                  names(tg_tape_error(T), "tg_backward_ex"),
              "seed of the wrong shape: %s", tg_tape_error(T));
        tg_tape_reset(T);
    }
    ROW("tg_grad") {
        tg_tensor *g[1];
        tg_tape_reset(T);
        tg_tensor *y = tg_sum(T, f3, 0, NULL, false);
        CHECK(tg_grad(T, y, NULL, 1, NULL, g, NULL) == TG_EINVAL &&
                  names(tg_tape_error(T), "tg_grad"),
              "NULL xs: %s", tg_tape_error(T));
        tg_tape_reset(T);
        y = tg_sum(T, f3, 0, NULL, false);
        CHECK(tg_grad(T, y, NULL, -1, (tg_tensor *[]){f3}, g, NULL) == TG_EINVAL,
              "n < 0");
        /* on a failed tape the first error is returned (was TG_EINVAL) */
        tg_tape_reset(T);
        (void)tg_matmul(T, f23, f23);
        CHECK(tg_grad(T, f3, NULL, -1, NULL, NULL, NULL) == TG_ESHAPE,
              "tg_grad on a failed tape returns its status");
        tg_tape_reset(T);
    }
    ROW("tg_tape_zeros") {
        TAPE_FAILS(TG_EINVAL, "tg_tape_full", tg_tape_zeros(T, TG_F32, 2, NULL));
        TAPE_QUIET(tg_tape_zeros(NULL, TG_F32, 0, NULL));
    }
    ROW("tg_tape_full") {
        /* the messages named no function ("tape tensor: invalid shape [-1]") */
        TAPE_FAILS(TG_EINVAL, "tg_tape_full", tg_tape_full(T, TG_F32, 1, (int64_t[]){-1}, 0));
        TAPE_FAILS(TG_EINVAL, "tg_tape_full",
                   tg_tape_full(T, TG_F32, 1, (int64_t[]){INT64_MAX}, 0));
        TAPE_FAILS(TG_EINVAL, "tg_tape_full", tg_tape_full(T, (tg_dtype)5, 0, NULL, 0));
    }
    ROW("tg_detach") TAPE_QUIET(tg_detach(T, NULL));
}

static void op_rows(void)
{
    static const named unary[] = {
        F(tg_neg), F(tg_exp), F(tg_log), F(tg_sqrt), F(tg_abs), F(tg_relu), F(tg_sigmoid),
        F(tg_tanh), F(tg_gelu), F(tg_softplus), F(tg_contiguous), F(tg_sign),
        F(tg_global_avg_pool2d),
    };
    for (size_t i = 0; i < sizeof unary / sizeof unary[0]; i++)
        ROW(unary[i].name) {
            unary_fn f = (unary_fn)unary[i].f;
            TAPE_QUIET(f(T, NULL));
            TAPE_QUIET(f(NULL, f23));
            /* I32 is no float (tg_contiguous copies any dtype: a rank beyond the image's
             * for it and for global_avg_pool2d, which wants an image) */
            if (!strcmp(unary[i].name, "tg_global_avg_pool2d"))
                TAPE_FAILS(TG_ESHAPE, unary[i].name, f(T, f23));
            else if (strcmp(unary[i].name, "tg_contiguous"))
                TAPE_FAILS(TG_EDTYPE, unary[i].name, f(T, i23));
        }
    static const named binary[] = {
        F(tg_add), F(tg_sub), F(tg_mul), F(tg_div), F(tg_matmul), F(tg_relu_backward),
        F(tg_sigmoid_backward), F(tg_tanh_backward), F(tg_gelu_backward),
    };
    for (size_t i = 0; i < sizeof binary / sizeof binary[0]; i++)
        ROW(binary[i].name) {
            binary_fn f = (binary_fn)binary[i].f;
            TAPE_QUIET(f(T, NULL, f23));
            TAPE_QUIET(f(T, f23, NULL));
            TAPE_FAILS(TG_EDTYPE, binary[i].name, f(T, f23, d23));
            TAPE_FAILS(TG_ESHAPE, binary[i].name, f(T, f23, f32v));
        }
    ROW("tg_matmul") {
        /* an empty product with a batch of 2^40 entries: nothing to compute (each entry
         * ran an empty GEMM: a hang) */
        tg_tensor *a = tg_zeros(TG_F32, 3, (int64_t[]){(int64_t)1 << 40, 0, 2});
        tg_tensor *b = tg_zeros(TG_F32, 2, (int64_t[]){2, 3});
        tg_tape_reset(T);
        tg_tensor *y = tg_matmul(T, a, b);
        CHECK(y && tg_tensor_numel(y) == 0 && y->shape[0] == (int64_t)1 << 40,
              "empty batched matmul: %s", tg_tape_error(T));
        tg_tensor_free(&a);
        tg_tensor_free(&b);
        tg_tape_reset(T);
    }
    static const named losses[] = {
        F(tg_bce_with_logits), F(tg_binary_cross_entropy), F(tg_mse), F(tg_mae),
        F(tg_kl_div), F(tg_categorical_cross_entropy),
    };
    for (size_t i = 0; i < sizeof losses / sizeof losses[0]; i++)
        ROW(losses[i].name) {
            loss_fn f = (loss_fn)losses[i].f;
            TAPE_QUIET(f(T, NULL, f23));
            TAPE_QUIET(f(T, f23, NULL));
            TAPE_FAILS(TG_EDTYPE, losses[i].name, f(T, f23, d23));
            TAPE_FAILS(TG_ESHAPE, losses[i].name, f(T, f23, f32v));
        }
    static const named scalar[] = {
        F(tg_add_scalar), F(tg_mul_scalar), F(tg_pow_scalar), F(tg_leaky_relu),
        F(tg_l1_penalty), F(tg_l2_penalty),
    };
    for (size_t i = 0; i < sizeof scalar / sizeof scalar[0]; i++)
        ROW(scalar[i].name) {
            scalar_fn f = (scalar_fn)scalar[i].f;
            TAPE_QUIET(f(T, NULL, 1));
            TAPE_FAILS(TG_EDTYPE, scalar[i].name, f(T, i23, 1));
        }
    static const named pools[] = {F(tg_max_pool2d), F(tg_avg_pool2d), F(tg_l2_pool2d)};
    for (size_t i = 0; i < sizeof pools / sizeof pools[0]; i++)
        ROW(pools[i].name) {
            pool_fn f = (pool_fn)pools[i].f;
            int64_t k[2] = {2, 2}, bad[2] = {0, 2}, pad[2] = {2, 0};
            TAPE_QUIET(f(T, NULL, k, NULL, NULL));
            TAPE_FAILS(TG_EINVAL, pools[i].name, f(T, img, NULL, NULL, NULL));
            TAPE_FAILS(TG_EINVAL, pools[i].name, f(T, img, bad, NULL, NULL));
            TAPE_FAILS(TG_EINVAL, pools[i].name, f(T, img, k, NULL, pad));
            TAPE_FAILS(TG_ESHAPE, pools[i].name, f(T, f23, k, NULL, NULL));
        }
    ROW("tg_max_pool2d") {
        /* an empty image with padding has windows holding no element (read out of bounds) */
        tg_tensor *e = tg_zeros(TG_F32, 4, (int64_t[]){1, 3, 0, 0});
        TAPE_FAILS(TG_ESHAPE, "tg_max_pool2d",
                   tg_max_pool2d(T, e, (int64_t[]){2, 2}, NULL, (int64_t[]){1, 1}));
        tg_tensor_free(&e);
    }
    ROW("tg_clamp") {
        TAPE_QUIET(tg_clamp(T, NULL, 0, 1));
        TAPE_FAILS(TG_EDTYPE, "tg_clamp", tg_clamp(T, i23, 0, 1));
    }
    ROW("tg_in_range_mask") TAPE_FAILS(TG_EDTYPE, "tg_in_range_mask", tg_in_range_mask(T, i23, 0, 1));
    ROW("tg_huber") {
        TAPE_QUIET(tg_huber(T, NULL, f23, 1));
        TAPE_FAILS(TG_ESHAPE, "tg_huber", tg_huber(T, f23, f32v, 1));
    }
    ROW("tg_leaky_relu_backward") {
        TAPE_QUIET(tg_leaky_relu_backward(T, NULL, f23, 0.1));
        TAPE_FAILS(TG_EDTYPE, "tg_leaky_relu_backward", tg_leaky_relu_backward(T, f23, d23, 0.1));
    }
    ROW("tg_permute") {
        TAPE_QUIET(tg_permute(T, NULL, (int[]){1, 0}));
        TAPE_FAILS(TG_EINVAL, "tg_permute", tg_permute(T, f23, NULL));
        TAPE_FAILS(TG_ERANGE, "tg_permute", tg_permute(T, f23, (int[]){1, 1}));
    }
    ROW("tg_transpose") {
        TAPE_QUIET(tg_transpose(T, NULL, 0, 1));
        TAPE_FAILS(TG_ERANGE, "tg_transpose", tg_transpose(T, f23, 0, 2));
    }
    ROW("tg_reshape") {
        TAPE_QUIET(tg_reshape(T, NULL, 1, (int64_t[]){6}));
        TAPE_FAILS(TG_ESHAPE, "tg_reshape", tg_reshape(T, f23, 1, (int64_t[]){7}));
        TAPE_FAILS(TG_EINVAL, "tg_reshape", tg_reshape(T, f23, 1, NULL));
        TAPE_FAILS(TG_EINVAL, "tg_reshape", tg_reshape(T, f23, 9, (int64_t[]){6}));
    }
    ROW("tg_slice") {
        int64_t st[2] = {0, 0}, sp[2] = {1, 1};
        TAPE_QUIET(tg_slice(T, NULL, st, sp, NULL));
        TAPE_FAILS(TG_EINVAL, "tg_slice", tg_slice(T, f23, NULL, sp, NULL));
        TAPE_FAILS(TG_EINVAL, "tg_slice", tg_slice(T, f23, st, sp, (int64_t[]){0, 1}));
    }
    ROW("tg_slice_backward") {
        int64_t st[2] = {0, 0}, sp[2] = {1, 1};
        TAPE_QUIET(tg_slice_backward(T, NULL, f23, st, sp, NULL));
        /* step NULL is rejected here but means 1 for tg_slice (reported) */
        TAPE_FAILS(TG_EINVAL, "tg_slice_backward", tg_slice_backward(T, f23, f23, st, sp, NULL));
        TAPE_FAILS(TG_ESHAPE, "tg_slice_backward",
                   tg_slice_backward(T, f23, f23, st, sp, (int64_t[]){1, 1}));
    }
    ROW("tg_expand") {
        TAPE_QUIET(tg_expand(T, NULL, 2, (int64_t[]){2, 3}));
        TAPE_FAILS(TG_ESHAPE, "tg_expand", tg_expand(T, f23, 2, (int64_t[]){4, 3}));
        /* a NULL shape: TG_ESHAPE "cannot expand [2,3] to rank 2" (reported) */
        TAPE_FAILS_ANY("tg_expand", tg_expand(T, f23, 2, NULL));
    }
    ROW("tg_sum_to") {
        TAPE_QUIET(tg_sum_to(T, NULL, f23));
        TAPE_FAILS(TG_ESHAPE, "tg_sum_to", tg_sum_to(T, f23, f32v));
    }
    ROW("tg_concat") {
        TAPE_QUIET(tg_concat(T, 2, (tg_tensor *[]){f23, NULL}, 0));
        TAPE_FAILS(TG_EINVAL, "tg_concat", tg_concat(T, 2, NULL, 0));
        TAPE_FAILS(TG_EINVAL, "tg_concat", tg_concat(T, 0, (tg_tensor *[]){f23}, 0));
        TAPE_FAILS(TG_ERANGE, "tg_concat", tg_concat(T, 2, (tg_tensor *[]){f23, f23}, 2));
        TAPE_FAILS(TG_ESHAPE, "tg_concat", tg_concat(T, 2, (tg_tensor *[]){f23, f32v}, 0));
        /* two empty [2^62 + 2^62, 0]: the joined size overflowed (UB) */
        tg_tensor *e = tg_zeros(TG_F32, 2, (int64_t[]){INT64_MAX, 0});
        TAPE_FAILS(TG_ESHAPE, "tg_concat", tg_concat(T, 2, (tg_tensor *[]){e, e}, 0));
        tg_tensor_free(&e);
        /* dtypes differ: TG_ESHAPE naming both dtypes (reported: TG_EDTYPE expected) */
        TAPE_FAILS_ANY("tg_concat", tg_concat(T, 2, (tg_tensor *[]){f23, d23}, 0));
    }
    ROW("tg_sum") {
        TAPE_QUIET(tg_sum(T, NULL, 0, NULL, false));
        TAPE_FAILS(TG_ERANGE, "tg_sum", tg_sum(T, f23, 1, (int[]){2}, false));
        TAPE_FAILS(TG_ERANGE, "tg_sum", tg_sum(T, f23, 1, (int[]){-3}, false));
        TAPE_FAILS(TG_EINVAL, "tg_sum", tg_sum(T, f23, 1, NULL, false));
        TAPE_FAILS(TG_EINVAL, "tg_sum", tg_sum(T, f23, -1, (int[]){0}, false));
    }
    ROW("tg_mean") {
        TAPE_QUIET(tg_mean(T, NULL, 0, NULL, false));
        TAPE_FAILS(TG_ERANGE, "tg_mean", tg_mean(T, f23, 1, (int[]){5}, true));
    }
    ROW("tg_max") {
        TAPE_QUIET(tg_max(T, NULL, 0, false));
        TAPE_FAILS(TG_ERANGE, "tg_max", tg_max(T, f23, 2, false));
    }
    ROW("tg_softmax") {
        TAPE_QUIET(tg_softmax(T, NULL, 0));
        TAPE_FAILS(TG_ERANGE, "tg_softmax", tg_softmax(T, f23, -3));
        TAPE_FAILS(TG_EDTYPE, "tg_softmax", tg_softmax(T, i23, 0));
    }
    ROW("tg_log_softmax") {
        TAPE_QUIET(tg_log_softmax(T, NULL, 0));
        TAPE_FAILS(TG_ERANGE, "tg_log_softmax", tg_log_softmax(T, f23, 2));
    }
    ROW("tg_argmax_mask") {
        TAPE_QUIET(tg_argmax_mask(T, NULL, 0));
        TAPE_FAILS(TG_ERANGE, "tg_argmax_mask", tg_argmax_mask(T, f23, 7));
    }
    ROW("tg_softmax_cross_entropy") {
        TAPE_QUIET(tg_softmax_cross_entropy(T, NULL, i6, NULL));
        TAPE_FAILS(TG_ESHAPE, "tg_softmax_cross_entropy",
                   tg_softmax_cross_entropy(T, f23, i6, NULL)); /* 6 labels for 2 rows */
        tg_ce_opts o = tg_ce_defaults();
        o.label_smoothing = 1.5;
        TAPE_FAILS(TG_EINVAL, "tg_softmax_cross_entropy",
                   tg_softmax_cross_entropy(T, f23, f23, &o));
    }
    ROW("tg_softmax_cross_entropy_backward") {
        TAPE_QUIET(tg_softmax_cross_entropy_backward(T, NULL, f23, f3, NULL));
        TAPE_FAILS(TG_ESHAPE, "tg_softmax_cross_entropy",
                   tg_softmax_cross_entropy_backward(T, f23, f32v, f3, NULL));
    }
    ROW("tg_dropout") {
        TAPE_QUIET(tg_dropout(T, NULL, 0.5, 1, 0, true));
        TAPE_FAILS(TG_EINVAL, "tg_dropout", tg_dropout(T, f23, 1.0, 1, 0, true));
        TAPE_FAILS(TG_EINVAL, "tg_dropout", tg_dropout(T, f23, -0.1, 1, 0, true));
        TAPE_FAILS(TG_EINVAL, "tg_dropout", tg_dropout(T, f23, NAN, 1, 0, true));
    }
    ROW("tg_dense") {
        TAPE_QUIET(tg_dense(T, NULL, f23, NULL));
        TAPE_FAILS(TG_ESHAPE, "tg_dense", tg_dense(T, f23, f23, NULL));
        TAPE_FAILS(TG_EDTYPE, "tg_dense", tg_dense(T, f23, tg_transpose(T, d23, 0, 1), NULL));
    }
    ROW("tg_activate") {
        TAPE_QUIET(tg_activate(T, NULL, TG_ACT_RELU, 0));
        TAPE_FAILS(TG_EDTYPE, "tg_relu", tg_activate(T, i23, TG_ACT_RELU, 0));
        /* the linear activation returned x itself on a failed tape */
        tg_tape_reset(T);
        (void)tg_matmul(T, f23, f23);
        CHECK(!tg_activate(T, f23, TG_ACT_LINEAR, 0), "linear on a failed tape is NULL");
        CHECK(!tg_activate(NULL, f23, TG_ACT_LINEAR, 0), "linear on a NULL tape is NULL");
        tg_tape_reset(T);
    }
    ROW("tg_flatten") {
        TAPE_QUIET(tg_flatten(T, NULL, 1));
        TAPE_FAILS(TG_ERANGE, "tg_flatten", tg_flatten(T, f23, 3));
    }
}

static void cnn_rows(void)
{
    int64_t k[2] = {2, 2}, zero[2] = {0, 0}, negp[2] = {-1, 0};
    tg_tensor *w = tg_zeros(TG_F32, 4, (int64_t[]){2, 2, 2, 2});
    ROW("tg_conv_out_size") {
        CHECK(tg_conv_out_size(-1, 1, 1, 0, 1) == -1 && tg_conv_out_size(5, 0, 1, 0, 1) == -1 &&
                  tg_conv_out_size(5, 3, 0, 0, 1) == -1 && tg_conv_out_size(5, 3, 1, -1, 1) == -1 &&
                  tg_conv_out_size(5, 3, 1, INT64_MAX, 1) == -1 &&
                  tg_conv_out_size(5, 9, 1, 0, 1) == -1,
              "bad window arguments give -1");
    }
    ROW("tg_im2col") {
        TAPE_QUIET(tg_im2col(T, NULL, k, NULL, NULL, NULL, 0));
        TAPE_FAILS(TG_EINVAL, "tg_im2col", tg_im2col(T, img, NULL, NULL, NULL, NULL, 0));
        TAPE_FAILS(TG_EINVAL, "tg_im2col", tg_im2col(T, img, k, zero, NULL, NULL, 0));
        TAPE_FAILS(TG_EINVAL, "tg_im2col", tg_im2col(T, img, k, NULL, negp, NULL, 0));
        TAPE_FAILS(TG_ESHAPE, "tg_im2col", tg_im2col(T, f23, k, NULL, NULL, NULL, 0));
    }
    ROW("tg_col2im") {
        TAPE_QUIET(tg_col2im(T, NULL, (int64_t[]){4, 4}, k, NULL, NULL, NULL));
        TAPE_FAILS(TG_EINVAL, "tg_col2im", tg_col2im(T, img, NULL, k, NULL, NULL, NULL));
        TAPE_FAILS(TG_ESHAPE, "tg_col2im", tg_col2im(T, f23, (int64_t[]){4, 4}, k, NULL, NULL, NULL));
    }
    ROW("tg_conv2d") {
        tg_conv2d_opts o = tg_conv2d_defaults();
        TAPE_QUIET(tg_conv2d(T, NULL, w, NULL, NULL));
        TAPE_QUIET(tg_conv2d(T, img, NULL, NULL, NULL));
        TAPE_FAILS(TG_ESHAPE, "tg_conv2d", tg_conv2d(T, f23, w, NULL, NULL));
        o.groups = 0;
        TAPE_FAILS(TG_EINVAL, "tg_conv2d", tg_conv2d(T, img, w, NULL, &o));
        o = tg_conv2d_defaults();
        o.stride[0] = 0;
        TAPE_FAILS(TG_EINVAL, "tg_conv2d", tg_conv2d(T, img, w, NULL, &o));
        TAPE_FAILS(TG_ESHAPE, "tg_conv2d", tg_conv2d(T, img, w, f23, NULL));
    }
    ROW("tg_conv2d_weight") {
        int64_t ws[4] = {2, 2, 2, 2};
        TAPE_QUIET(tg_conv2d_weight(T, NULL, img, ws, NULL));
        TAPE_FAILS(TG_EINVAL, "tg_conv2d_weight", tg_conv2d_weight(T, img, img, NULL, NULL));
        TAPE_FAILS(TG_EINVAL, "tg_conv2d_weight",
                   tg_conv2d_weight(T, img, img, (int64_t[]){2, -2, 2, 2}, NULL));
        /* a w_shape whose count overflows (was UB building its header) */
        TAPE_FAILS(TG_EINVAL, "tg_conv2d_weight",
                   tg_conv2d_weight(T, img, img,
                                    (int64_t[]){(int64_t)1 << 60, (int64_t)1 << 20, 1, 1}, NULL));
        TAPE_FAILS(TG_ESHAPE, "tg_conv2d_weight", tg_conv2d_weight(T, img, f23, ws, NULL));
    }
    ROW("tg_conv1d") {
        tg_tensor *x3 = tg_zeros(TG_F32, 3, (int64_t[]){1, 2, 5});
        tg_tensor *w3 = tg_zeros(TG_F32, 3, (int64_t[]){2, 2, 2});
        tg_conv1d_opts o = tg_conv1d_defaults();
        TAPE_QUIET(tg_conv1d(T, NULL, w3, NULL, NULL));
        TAPE_FAILS(TG_ESHAPE, "tg_conv1d", tg_conv1d(T, f23, w3, NULL, NULL));
        o.dilation = 0;
        TAPE_FAILS(TG_EINVAL, "tg_conv", tg_conv1d(T, x3, w3, NULL, &o));
        tg_tensor_free(&x3);
        tg_tensor_free(&w3);
    }
    ROW("tg_gather_last") {
        TAPE_QUIET(tg_gather_last(T, NULL, i23));
        /* a float idx: TG_ESHAPE "want i32" (reported: TG_EDTYPE expected) */
        TAPE_FAILS_ANY("tg_gather_last", tg_gather_last(T, f23, f23));
        tg_tensor *big = tg_full(TG_I32, 2, (int64_t[]){2, 3}, 3);
        TAPE_FAILS(TG_ERANGE, "tg_gather_last", tg_gather_last(T, f23, big));
        tg_tensor_free(&big);
    }
    ROW("tg_scatter_add_last") {
        TAPE_QUIET(tg_scatter_add_last(T, NULL, i23, 3));
        TAPE_FAILS_ANY("tg_scatter_add_last", tg_scatter_add_last(T, f23, f23, 3));
        TAPE_FAILS(TG_EINVAL, "tg_scatter_add_last", tg_scatter_add_last(T, f23, i23, -1));
    }
    ROW("tg_batch_norm") {
        TAPE_QUIET(tg_batch_norm(T, NULL, NULL, NULL, NULL, NULL, 0.1, 1e-5, true));
        TAPE_FAILS(TG_ESHAPE, "tg_batch_norm",
                   tg_batch_norm(T, f32v, NULL, NULL, NULL, NULL, 0.1, 1e-5, true));
        TAPE_FAILS(TG_EINVAL, "tg_batch_norm",
                   tg_batch_norm(T, f23, NULL, NULL, NULL, NULL, 0.1, -1, true));
        TAPE_FAILS(TG_EINVAL, "tg_batch_norm",
                   tg_batch_norm(T, f23, NULL, NULL, NULL, NULL, 2, 1e-5, true));
        TAPE_FAILS(TG_ESHAPE, "tg_batch_norm",
                   tg_batch_norm(T, f23, f23, NULL, NULL, NULL, 0.1, 1e-5, true));
    }
    ROW("tg_layer_norm") {
        TAPE_QUIET(tg_layer_norm(T, NULL, 1, NULL, NULL, 1e-5));
        TAPE_FAILS(TG_ERANGE, "tg_layer_norm", tg_layer_norm(T, f23, 3, NULL, NULL, 1e-5));
        TAPE_FAILS(TG_ERANGE, "tg_layer_norm", tg_layer_norm(T, f23, 0, NULL, NULL, 1e-5));
        TAPE_FAILS(TG_EINVAL, "tg_layer_norm", tg_layer_norm(T, f23, 1, NULL, NULL, 0));
        TAPE_FAILS(TG_ESHAPE, "tg_layer_norm", tg_layer_norm(T, f23, 1, f23, NULL, 1e-5));
    }
    tg_tensor_free(&w);
}

/* the registry and gradcheck */
static tg_tensor *gc_fail(tg_tape *t, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    return tg_matmul(t, in[0], in[0]); /* [2,3] x [2,3]: TG_ESHAPE */
}

static void registry_rows(void)
{
    NO_BAD_ARGS("tg_op_count", "no arguments");
    ROW("tg_op_name") CHECK(!tg_op_name(-1) && !tg_op_name(tg_op_count()), "out of range: NULL");
    ROW("tg_op_arity") CHECK(tg_op_arity(-1) == 0 || tg_op_arity(-1) == -2, "unknown op arity %d", tg_op_arity(-1));
    ROW("tg_op_lookup") CHECK(tg_op_lookup(NULL) == -1 && tg_op_lookup("nope") == -1, "unknown: -1");
    ROW("tg_gradcheck") {
        tg_tensor *d = tg_zeros(TG_F64, 2, (int64_t[]){2, 3});
        tg_gradcheck_result r = tg_gradcheck(gc_fail, NULL, 1, &d, NULL);
        CHECK(!r.passed && r.status == TG_ESHAPE && strstr(r.message, "tg_matmul"),
              "a failing function: %s", r.message);
        r = tg_gradcheck(NULL, NULL, 1, &d, NULL);
        CHECK(!r.passed && r.status == TG_EINVAL && strstr(r.message, "tg_gradcheck"),
              "NULL function: %s %s", tg_status_name(r.status), r.message);
        r = tg_gradcheck(gc_fail, NULL, 1, NULL, NULL);
        CHECK(!r.passed && r.status == TG_EINVAL, "NULL inputs: %s", r.message);
        r = tg_gradcheck(gc_fail, NULL, 1, &f23, NULL); /* f32 input */
        CHECK(!r.passed && r.status != TG_OK, "an F32 input: %s", r.message);
        tg_tensor_free(&d);
    }
}

static void nn_rows(void)
{
    tg_model *m = tg_model_new(TG_F32, 1);
    int64_t k[2] = {2, 2}, huge = (int64_t)1 << 62;
    ROW("tg_init_fill") {
        STATUS_FAILS(TG_EINVAL, "tg_init_fill", tg_init_fill(NULL, TG_INIT_HE_NORMAL, 1, 0));
        STATUS_FAILS(TG_EINVAL, "tg_init_fill", tg_init_fill(i23, TG_INIT_HE_NORMAL, 1, 0));
        STATUS_FAILS(TG_EINVAL, "tg_init_fill", tg_init_fill(f23, (tg_init)99, 1, 0));
    }
    ROW("tg_model_new") NULL_FAILS("tg_model_new", tg_model_new(TG_I32, 1));
    ROW("tg_model_free") {
        tg_model_free(NULL);
        tg_model *n = NULL;
        tg_model_free(&n);
    }
    NO_BAD_ARGS("tg_dense_defaults", "no arguments");
    NO_BAD_ARGS("tg_conv2d_layer_defaults", "no arguments");
    NO_BAD_ARGS("tg_pool2d_defaults", "no arguments");
    NO_BAD_ARGS("tg_batch_norm_defaults", "no arguments");
    NO_BAD_ARGS("tg_layer_norm_defaults", "no arguments");
    ROW("tg_model_add_dense") {
        STATUS_FAILS(TG_EINVAL, "tg_model_add_dense", tg_model_add_dense(NULL, 2, 2, NULL));
        STATUS_FAILS(TG_EINVAL, "tg_model_add_dense", tg_model_add_dense(m, 0, 2, NULL));
        STATUS_FAILS(TG_EINVAL, "tg_model_add_dense", tg_model_add_dense(m, 2, -1, NULL));
    }
    ROW("tg_model_add_activation") {
        STATUS_FAILS(TG_EINVAL, "tg_model_add_activation",
                     tg_model_add_activation(NULL, TG_ACT_RELU, 0));
        STATUS_FAILS(TG_EINVAL, "tg_model_add_activation",
                     tg_model_add_activation(m, (tg_activation)42, 0));
    }
    ROW("tg_model_add_dropout") {
        STATUS_FAILS(TG_EINVAL, "tg_model_add_dropout", tg_model_add_dropout(NULL, 0.5));
        STATUS_FAILS(TG_EINVAL, "tg_model_add_dropout", tg_model_add_dropout(m, 1.0));
        STATUS_FAILS(TG_EINVAL, "tg_model_add_dropout", tg_model_add_dropout(m, NAN));
    }
    ROW("tg_model_add_conv2d") {
        tg_conv2d_layer_opts o = tg_conv2d_layer_defaults();
        STATUS_FAILS(TG_EINVAL, "tg_model_add_conv2d", tg_model_add_conv2d(NULL, 1, 1, k, NULL));
        STATUS_FAILS(TG_EINVAL, "tg_model_add_conv2d", tg_model_add_conv2d(m, 1, 1, NULL, NULL));
        STATUS_FAILS(TG_EINVAL, "tg_model_add_conv2d", tg_model_add_conv2d(m, 0, 1, k, NULL));
        o.groups = 2;
        STATUS_FAILS(TG_EINVAL, "tg_model_add_conv2d", tg_model_add_conv2d(m, 3, 4, k, &o));
        o = tg_conv2d_layer_defaults();
        o.padding[1] = -1;
        STATUS_FAILS(TG_EINVAL, "tg_model_add_conv2d", tg_model_add_conv2d(m, 2, 4, k, &o));
    }
    static const char *const pools[2] = {"tg_model_add_max_pool2d", "tg_model_add_avg_pool2d"};
    for (int i = 0; i < 2; i++)
        ROW(pools[i]) {
            tg_status (*add)(tg_model *, const int64_t *, const tg_pool2d_opts *) =
                i ? tg_model_add_avg_pool2d : tg_model_add_max_pool2d;
            tg_pool2d_opts o = tg_pool2d_defaults();
            STATUS_FAILS(TG_EINVAL, pools[i], add(NULL, k, NULL));
            STATUS_FAILS(TG_EINVAL, pools[i], add(m, NULL, NULL));
            STATUS_FAILS(TG_EINVAL, pools[i], add(m, (int64_t[]){0, 2}, NULL));
            o.stride[0] = -1;
            STATUS_FAILS(TG_EINVAL, pools[i], add(m, k, &o));
            /* padding 2^62: 2 * padding overflowed (UB) and passed the check */
            o = tg_pool2d_defaults();
            o.padding[0] = huge;
            STATUS_FAILS(TG_EINVAL, pools[i], add(m, k, &o));
        }
    ROW("tg_model_add_batch_norm") {
        tg_batch_norm_opts o = tg_batch_norm_defaults();
        STATUS_FAILS(TG_EINVAL, "tg_model_add_batch_norm", tg_model_add_batch_norm(NULL, 2, NULL));
        STATUS_FAILS(TG_EINVAL, "tg_model_add_batch_norm", tg_model_add_batch_norm(m, 0, NULL));
        o.eps = 0;
        STATUS_FAILS(TG_EINVAL, "tg_model_add_batch_norm", tg_model_add_batch_norm(m, 2, &o));
    }
    ROW("tg_model_add_layer_norm") {
        STATUS_FAILS(TG_EINVAL, "tg_model_add_layer_norm",
                     tg_model_add_layer_norm(NULL, 1, (int64_t[]){3}, NULL));
        STATUS_FAILS(TG_EINVAL, "tg_model_add_layer_norm",
                     tg_model_add_layer_norm(m, 1, NULL, NULL));
        STATUS_FAILS(TG_EINVAL, "tg_model_add_layer_norm",
                     tg_model_add_layer_norm(m, 0, (int64_t[]){3}, NULL));
        STATUS_FAILS(TG_EINVAL, "tg_model_add_layer_norm",
                     tg_model_add_layer_norm(m, 1, (int64_t[]){-3}, NULL));
    }
    ROW("tg_model_add_flatten") {
        STATUS_FAILS(TG_EINVAL, "tg_model_add_flatten", tg_model_add_flatten(NULL));
    }
    ROW("tg_model_forward") {
        tg_model *d = tg_model_new(TG_F32, 1);
        tg_model_add_dense(d, 4, 2, NULL);
        TAPE_QUIET(tg_model_forward(d, T, NULL, false));
        TAPE_FAILS(TG_EINVAL, "tg_model_forward", tg_model_forward(NULL, T, f23, false));
        TAPE_FAILS(TG_ESHAPE, "tg_model_forward", tg_model_forward(d, T, f23, false));
        TAPE_FAILS(TG_EDTYPE, "tg_model_forward", tg_model_forward(d, T, d23, false));
        tg_model_free(&d);
    }
    ROW("tg_model_penalty") {
        TAPE_FAILS(TG_EINVAL, "tg_model_penalty", tg_model_penalty(NULL, T));
        TAPE_QUIET(tg_model_penalty(m, NULL));
    }
    ROW("tg_model_param_count") CHECK(tg_model_param_count(NULL) == 0, "NULL model");
    ROW("tg_model_params") CHECK(!tg_model_params(NULL), "NULL model");
    ROW("tg_model_param_name") {
        CHECK(!tg_model_param_name(NULL, 0) && !tg_model_param_name(m, -1) &&
                  !tg_model_param_name(m, 1000),
              "out of range: NULL");
    }
    ROW("tg_model_num_elements") CHECK(tg_model_num_elements(NULL) == 0, "NULL model");
    ROW("tg_model_layer_count") CHECK(tg_model_layer_count(NULL) == 0, "NULL model");
    ROW("tg_model_rng_counter") CHECK(tg_model_rng_counter(NULL) == 0, "NULL model");
    ROW("tg_model_set_rng_counter") tg_model_set_rng_counter(NULL, 5); /* no crash */
    ROW("tg_model_buffer_count") CHECK(tg_model_buffer_count(NULL) == 0, "NULL model");
    ROW("tg_model_buffers") CHECK(!tg_model_buffers(NULL), "NULL model");
    ROW("tg_model_buffer_name") {
        CHECK(!tg_model_buffer_name(NULL, 0) && !tg_model_buffer_name(m, 7), "out of range");
    }
    ROW("tg_model_hash") CHECK(tg_model_hash(NULL) == 0, "NULL model");
    ROW("tg_accuracy") {
        NAN_FAILS("tg_accuracy", tg_accuracy(NULL, i6));
        NAN_FAILS("tg_accuracy", tg_accuracy(f23, NULL));
        NAN_FAILS("tg_accuracy", tg_accuracy(f23, i6)); /* 2 rows vs 6 labels */
    }
    ROW("tg_binary_accuracy") {
        NAN_FAILS("tg_binary_accuracy", tg_binary_accuracy(NULL, f23));
        NAN_FAILS("tg_binary_accuracy", tg_binary_accuracy(f23, f32v));
    }
    ROW("tg_regression_accuracy") {
        NAN_FAILS("tg_regression_accuracy", tg_regression_accuracy(NULL, f23, 250));
        NAN_FAILS("tg_regression_accuracy", tg_regression_accuracy(f23, f23, 0));
        NAN_FAILS("tg_regression_accuracy", tg_regression_accuracy(f23, f32v, 250));
    }
    ROW("tg_confusion_matrix") {
        int64_t c[9];
        STATUS_FAILS(TG_ESHAPE, "tg_confusion_matrix", tg_confusion_matrix(NULL, i6, 3, c));
        STATUS_FAILS(TG_EINVAL, "tg_confusion_matrix", tg_confusion_matrix(i6, i6, 0, c));
        STATUS_FAILS(TG_EINVAL, "tg_confusion_matrix", tg_confusion_matrix(i6, i6, 3, NULL));
        /* C*C counts cannot exist (C*C overflowed before memset) */
        STATUS_FAILS(TG_EINVAL, "tg_confusion_matrix",
                     tg_confusion_matrix(i6, i6, (int64_t)1 << 40, c));
        /* a float class of inf, NaN or 1e30 is out of range (its conversion was UB) */
        tg_tensor *bad = tg_full(TG_F32, 1, (int64_t[]){6}, INFINITY);
        STATUS_FAILS(TG_ERANGE, "tg_confusion_matrix", tg_confusion_matrix(i6, bad, 3, c));
        tg_tensor_fill(bad, 1e30);
        STATUS_FAILS(TG_ERANGE, "tg_confusion_matrix", tg_confusion_matrix(bad, i6, 3, c));
        tg_tensor_free(&bad);
        /* scores of no class: rejected at the first row (it walked 2^40 rows: a hang) */
        tg_tensor *none = tg_zeros(TG_F32, 2, (int64_t[]){(int64_t)1 << 40, 0});
        STATUS_FAILS(TG_ERANGE, "tg_confusion_matrix", tg_confusion_matrix(none, none, 3, c));
        tg_tensor_free(&none);
    }
    ROW("tg_precision_recall_f1") {
        double p = 7, r = 7, f = 7;
        tg_precision_recall_f1(NULL, 3, 0, &p, &r, &f);
        CHECK(p == 0 && r == 0 && f == 0, "NULL counts: zeros");
        int64_t c[4] = {1, 0, 0, 1};
        p = r = f = 7;
        tg_precision_recall_f1(c, 2, 5, &p, &r, &f);
        CHECK(p == 0 && r == 0 && f == 0, "class out of range: zeros");
        tg_precision_recall_f1(c, 2, 0, NULL, NULL, NULL); /* NULL outputs are fine */
    }
    ROW("tg_roc_auc") {
        NAN_FAILS("tg_roc_auc", tg_roc_auc(NULL, f23));
        NAN_FAILS("tg_roc_auc", tg_roc_auc(f23, f32v));
    }
    static const named regression[] = {F(tg_rmse), F(tg_mae_metric), F(tg_r2_score)};
    for (size_t i = 0; i < sizeof regression / sizeof regression[0]; i++)
        ROW(regression[i].name) {
            double (*f)(const tg_tensor *, const tg_tensor *) =
                (double (*)(const tg_tensor *, const tg_tensor *))regression[i].f;
            const char *fn = regression[i].name;
            tg_tensor *i23f = tg_zeros(TG_I32, 2, (int64_t[]){2, 3});
            NAN_FAILS_ST(TG_EINVAL, fn, f(NULL, f23));
            NAN_FAILS_ST(TG_EINVAL, fn, f(f23, NULL));
            NAN_FAILS_ST(TG_EINVAL, fn, f(f23, f32v)); /* 6 values vs 5 */
            NAN_FAILS_ST(TG_EINVAL, fn, f(i23f, f23)); /* integer predictions */
            NAN_FAILS_ST(TG_EINVAL, fn, f(f23, i23f));
            NAN_FAILS_ST(TG_EINVAL, fn, f(f0, f0));    /* no values */
            tg_tensor_free(&i23f);
        }
    ROW("tg_r2_score") {
        /* constant targets and an inexact fit: R^2 is undefined */
        NAN_FAILS_ST(TG_EINVAL, "tg_r2_score", tg_r2_score(f23, d23));
    }
    ROW("tg_argmax") {
        NULL_FAILS_ST(TG_EINVAL, "tg_argmax", tg_argmax(NULL));
        NULL_FAILS_ST(TG_EINVAL, "tg_argmax", tg_argmax(f32v)); /* [N] */
        NULL_FAILS_ST(TG_EINVAL, "tg_argmax", tg_argmax(i23));  /* integer scores */
        NULL_FAILS_ST(TG_EINVAL, "tg_argmax", tg_argmax(f0));   /* no classes */
        NULL_FAILS_ST(TG_EINVAL, "tg_argmax", tg_argmax(img));  /* rank 4 */
    }
    ROW("tg_model_set_name") {
        tg_model *e = tg_model_new(TG_F32, 1), *two = tg_model_new(TG_F32, 1);
        STATUS_FAILS(TG_EINVAL, "tg_model_set_name", tg_model_set_name(NULL, "a"));
        STATUS_FAILS(TG_ESTATE, "tg_model_set_name", tg_model_set_name(e, "a"));
        tg_model_add_dense(two, 3, 2, NULL);
        STATUS_FAILS(TG_EINVAL, "tg_model_set_name", tg_model_set_name(two, NULL));
        STATUS_FAILS(TG_EINVAL, "tg_model_set_name", tg_model_set_name(two, ""));
        STATUS_FAILS(TG_EINVAL, "tg_model_set_name", tg_model_set_name(two, "123"));
        STATUS_FAILS(TG_EINVAL, "tg_model_set_name", tg_model_set_name(two, "fc.1"));
        STATUS_FAILS(TG_EINVAL, "tg_model_set_name", tg_model_set_name(two, "a b"));
        STATUS_FAILS(TG_EINVAL, "tg_model_set_name",
                     tg_model_set_name(two, "abcdefghijklmnopqrstuvwxyz012345")); /* 32 */
        CHECK(tg_model_set_name(two, "fc") == TG_OK, "a valid name: %s", tg_last_error());
        tg_model_add_activation(two, TG_ACT_RELU, 0);
        STATUS_FAILS(TG_EINVAL, "tg_model_set_name", tg_model_set_name(two, "fc"));
        CHECK(!strcmp(tg_model_param_name(two, 0), "fc.weight"), "names kept: %s",
              tg_model_param_name(two, 0));
        tg_model_free(&e);
        tg_model_free(&two);
    }
    ROW("tg_model_layer_name") {
        tg_model *d = tg_model_new(TG_F32, 1);
        tg_model_add_dense(d, 3, 2, NULL);
        CHECK(!tg_model_layer_name(NULL, 0) && !tg_model_layer_name(d, -1) &&
                  !tg_model_layer_name(d, 1) && !tg_model_layer_name(d, INT32_MIN),
              "NULL model or index out of range: NULL");
        CHECK(tg_model_layer_name(d, 0) && !strcmp(tg_model_layer_name(d, 0), ""),
              "an unnamed layer: \"\"");
        tg_model_free(&d);
    }
    ROW("tg_model_summary") {
        FILE *devnull = fopen("/dev/null", "w");
        tg_model *d = tg_model_new(TG_F32, 1);
        tg_model_add_dense(d, 4, 2, NULL);
        int64_t s2[2] = {2, 4};
        const char *fn = "tg_model_summary";
        STATUS_FAILS(TG_EINVAL, fn, tg_model_summary(NULL, 2, s2, devnull));
        STATUS_FAILS(TG_EINVAL, fn, tg_model_summary(d, 2, s2, NULL));
        STATUS_FAILS(TG_EINVAL, fn, tg_model_summary(d, 2, NULL, devnull));
        STATUS_FAILS(TG_EINVAL, fn, tg_model_summary(d, 0, s2, devnull));
        STATUS_FAILS(TG_EINVAL, fn, tg_model_summary(d, -1, s2, devnull));
        STATUS_FAILS(TG_EINVAL, fn, tg_model_summary(d, TG_MAX_DIMS + 1, s2, devnull));
        STATUS_FAILS(TG_EINVAL, fn, tg_model_summary(d, 2, (int64_t[]){2, -4}, devnull));
        STATUS_FAILS(TG_EINVAL, fn, tg_model_summary(d, 2, (int64_t[]){INT64_MAX, 4}, devnull));
        /* an input that does not fit: the forward pass's TG_ESHAPE, in a message naming
         * tg_model_summary (it named only tg_model_forward) */
        STATUS_FAILS(TG_ESHAPE, fn, tg_model_summary(d, 2, (int64_t[]){2, 3}, devnull));
        CHECK(strstr(tg_last_error(), "has 3 features, want 4"), "the layer's reason: %s",
              tg_last_error());
        tg_model_free(&d);
        fclose(devnull);
    }
    tg_model_free(&m);
}

static void optim_rows(void)
{
    tg_tensor *p = tg_zeros(TG_F32, 1, (int64_t[]){3});
    tg_tensor *ps[2] = {p, p};
    tg_optim *o = tg_sgd_new(1, &p, NULL);
    CHECK(o != NULL, "an optimizer for the rows");
    NO_BAD_ARGS("tg_sgd_defaults", "no arguments");
    NO_BAD_ARGS("tg_adagrad_defaults", "no arguments");
    NO_BAD_ARGS("tg_rmsprop_defaults", "no arguments");
    NO_BAD_ARGS("tg_adam_defaults", "no arguments");
    NO_BAD_ARGS("tg_adamw_defaults", "no arguments");
    ROW("tg_sgd_new") {
        tg_sgd_opts so = tg_sgd_defaults();
        NULL_FAILS("tg_sgd_new", tg_sgd_new(0, &p, NULL));
        NULL_FAILS("tg_sgd_new", tg_sgd_new(1, NULL, NULL));
        NULL_FAILS("tg_sgd_new", tg_sgd_new(2, ps, NULL)); /* the same tensor twice */
        NULL_FAILS("tg_sgd_new", tg_sgd_new(1, &i23, NULL));
        so.lr = -1;
        NULL_FAILS("tg_sgd_new", tg_sgd_new(1, &p, &so));
        so = tg_sgd_defaults();
        so.nesterov = true;
        NULL_FAILS("tg_sgd_new", tg_sgd_new(1, &p, &so));
    }
    ROW("tg_adagrad_new") {
        tg_adagrad_opts ao = tg_adagrad_defaults();
        ao.eps = 0;
        NULL_FAILS("tg_adagrad_new", tg_adagrad_new(1, &p, &ao));
        NULL_FAILS("tg_adagrad_new", tg_adagrad_new(-1, &p, NULL));
    }
    ROW("tg_rmsprop_new") {
        tg_rmsprop_opts ro = tg_rmsprop_defaults();
        ro.rho = 1;
        NULL_FAILS("tg_rmsprop_new", tg_rmsprop_new(1, &p, &ro));
        NULL_FAILS("tg_rmsprop_new", tg_rmsprop_new(1, (tg_tensor *[]){NULL}, NULL));
    }
    ROW("tg_adam_new") {
        tg_adam_opts ao = tg_adam_defaults();
        ao.beta2 = 1;
        NULL_FAILS("tg_adam_new", tg_adam_new(1, &p, &ao));
    }
    ROW("tg_adamw_new") {
        tg_adam_opts ao = tg_adamw_defaults();
        ao.weight_decay = -1;
        NULL_FAILS("tg_adamw_new", tg_adamw_new(1, &p, &ao));
    }
    ROW("tg_optim_check_params") {
        STATUS_FAILS(TG_EINVAL, "tg_optim_check_params", tg_optim_check_params(0, &p));
        STATUS_FAILS(TG_EINVAL, "tg_optim_check_params", tg_optim_check_params(1, NULL));
        STATUS_FAILS(TG_EDTYPE, "tg_optim_check_params", tg_optim_check_params(1, &i23));
        tg_tensor *tv = tg_view_transpose(f23, 0, 1);
        STATUS_FAILS(TG_EINVAL, "tg_optim_check_params", tg_optim_check_params(1, &tv));
        tg_tensor_free(&tv);
    }
    ROW("tg_optim_free") {
        tg_optim_free(NULL);
        tg_optim *n = NULL;
        tg_optim_free(&n);
    }
    ROW("tg_optim_step") STATUS_FAILS(TG_EINVAL, "tg_optim_step", tg_optim_step(NULL));
    ROW("tg_optim_step_zero") {
        STATUS_FAILS(TG_EINVAL, "tg_optim_step", tg_optim_step_zero(NULL));
    }
    ROW("tg_optim_zero_grad") tg_optim_zero_grad(NULL); /* documented no-op */
    ROW("tg_optim_name") CHECK(!strcmp(tg_optim_name(NULL), ""), "NULL: empty name");
    ROW("tg_optim_param_count") CHECK(tg_optim_param_count(NULL) == 0, "NULL");
    ROW("tg_optim_param") {
        CHECK(!tg_optim_param(NULL, 0) && !tg_optim_param(o, -1) && !tg_optim_param(o, 1),
              "out of range: NULL");
    }
    ROW("tg_optim_steps") CHECK(tg_optim_steps(NULL) == -1, "NULL: -1");
    ROW("tg_optim_set_steps") {
        STATUS_FAILS(TG_EINVAL, "tg_optim_set_steps", tg_optim_set_steps(NULL, 1));
        STATUS_FAILS(TG_EINVAL, "tg_optim_set_steps", tg_optim_set_steps(o, -1));
    }
    ROW("tg_optim_lr") CHECK(isnan(tg_optim_lr(NULL)), "NULL: NaN");
    ROW("tg_optim_base_lr") CHECK(isnan(tg_optim_base_lr(NULL)), "NULL: NaN");
    ROW("tg_optim_set_lr") {
        STATUS_FAILS(TG_EINVAL, "tg_optim_set_lr", tg_optim_set_lr(NULL, 0.1));
        STATUS_FAILS(TG_EINVAL, "tg_optim_set_lr", tg_optim_set_lr(o, -0.1));
        STATUS_FAILS(TG_EINVAL, "tg_optim_set_lr", tg_optim_set_lr(o, INFINITY));
    }
    ROW("tg_optim_state_count") CHECK(tg_optim_state_count(NULL) == 0, "NULL");
    ROW("tg_optim_state_tensor") {
        NULL_FAILS("tg_optim_state_tensor", tg_optim_state_tensor(NULL, 0, NULL));
        NULL_FAILS("tg_optim_state_tensor", tg_optim_state_tensor(o, 3, NULL));
    }
    ROW("tg_clip_grad_value") {
        STATUS_FAILS(TG_EINVAL, "tg_clip_grad_value", tg_clip_grad_value(1, NULL, 1));
        STATUS_FAILS(TG_EINVAL, "tg_clip_grad_value", tg_clip_grad_value(-1, &p, 1));
        STATUS_FAILS(TG_EINVAL, "tg_clip_grad_value", tg_clip_grad_value(1, &p, -1));
        STATUS_FAILS(TG_EINVAL, "tg_clip_grad_value", tg_clip_grad_value(1, &p, NAN));
    }
    ROW("tg_clip_grad_norm") {
        STATUS_FAILS(TG_EINVAL, "tg_clip_grad_norm", tg_clip_grad_norm(1, NULL, 1, NULL));
        STATUS_FAILS(TG_EINVAL, "tg_clip_grad_norm", tg_clip_grad_norm(1, &p, -1, NULL));
        STATUS_FAILS(TG_EINVAL, "tg_clip_grad_norm",
                     tg_clip_grad_norm(1, (tg_tensor *[]){NULL}, 1, NULL));
    }
    ROW("tg_lr_inverse_time") {
        tg_lr_schedule s = tg_lr_inverse_time(-1);
        NAN_FAILS("tg_lr_schedule_at", tg_lr_schedule_at(&s, 1, 0.1));
    }
    ROW("tg_lr_step") {
        tg_lr_schedule s = tg_lr_step(0, 0.5);
        NAN_FAILS("tg_lr_schedule_at", tg_lr_schedule_at(&s, 1, 0.1));
    }
    ROW("tg_lr_exponential") {
        tg_lr_schedule s = tg_lr_exponential(-1);
        NAN_FAILS("tg_lr_schedule_at", tg_lr_schedule_at(&s, 1, 0.1));
    }
    ROW("tg_lr_cosine") {
        tg_lr_schedule s = tg_lr_cosine(0, 0);
        NAN_FAILS("tg_lr_schedule_at", tg_lr_schedule_at(&s, 1, 0.1));
    }
    ROW("tg_lr_schedule_at") {
        tg_lr_schedule s = {0};
        (void)tg_take_rows(NULL, 0, NULL);
        CHECK(isnan(tg_lr_schedule_at(NULL, 0, 0.1)) &&
                  names(tg_last_error(), "tg_lr_schedule_at"), "NULL schedule");
        NAN_FAILS("tg_lr_schedule_at", tg_lr_schedule_at(&s, -1, 0.1));
        s.kind = (tg_sched_kind)42;
        NAN_FAILS("tg_lr_schedule_at", tg_lr_schedule_at(&s, 1, 0.1));
    }
    NO_BAD_ARGS("tg_plateau_defaults", "no arguments");
    ROW("tg_plateau_update") {
        tg_plateau pl = tg_plateau_defaults();
        NAN_FAILS("tg_plateau_update", tg_plateau_update(NULL, 1, 0.1));
        pl.factor = 1.5;
        NAN_FAILS("tg_plateau_update", tg_plateau_update(&pl, 1, 0.1));
        pl = tg_plateau_defaults();
        pl.patience = -1;
        NAN_FAILS("tg_plateau_update", tg_plateau_update(&pl, 1, 0.1));
    }
    ROW("tg_early_stop_new") {
        NULL_FAILS("tg_early_stop_new", tg_early_stop_new(0, &p, 1, 0));
        NULL_FAILS("tg_early_stop_new", tg_early_stop_new(1, NULL, 1, 0));
        NULL_FAILS("tg_early_stop_new", tg_early_stop_new(1, &p, 0, 0));
        NULL_FAILS("tg_early_stop_new", tg_early_stop_new(1, &p, 1, -1));
    }
    ROW("tg_early_stop_update") CHECK(!tg_early_stop_update(NULL, 1), "NULL: false");
    ROW("tg_early_stop_restore") {
        STATUS_FAILS(TG_EINVAL, "tg_early_stop_restore", tg_early_stop_restore(NULL));
    }
    ROW("tg_early_stop_best") CHECK(isnan(tg_early_stop_best(NULL)) || isinf(tg_early_stop_best(NULL)), "NULL");
    ROW("tg_early_stop_best_epoch") CHECK(tg_early_stop_best_epoch(NULL) == -1, "NULL: -1");
    ROW("tg_early_stop_wait") CHECK(tg_early_stop_wait(NULL) == 0, "NULL: 0");
    ROW("tg_early_stop_free") {
        tg_early_stop_free(NULL);
        tg_early_stop *n = NULL;
        tg_early_stop_free(&n);
    }
    tg_optim_free(&o);
    tg_tensor_free(&p);
}

static void io_rows(void)
{
    tg_tensor *x = NULL, *y = NULL, *outs[6];
    const char *missing = "/nonexistent/tg-bad-args";
    tg_model *m = tg_model_new(TG_F32, 1);
    ROW("tg_checkpoint_save") {
        STATUS_FAILS(TG_EINVAL, "tg_checkpoint_save", tg_checkpoint_save(NULL, m, NULL, 0));
        STATUS_FAILS(TG_EINVAL, "tg_checkpoint_save", tg_checkpoint_save("/tmp/x", NULL, NULL, 0));
        STATUS_FAILS(TG_EINVAL, "tg_checkpoint_save", tg_checkpoint_save("/tmp/x", m, NULL, -1));
        STATUS_FAILS(TG_EIO, "tg_checkpoint_save", tg_checkpoint_save(missing, m, NULL, 0));
    }
    ROW("tg_checkpoint_load") {
        STATUS_FAILS(TG_EINVAL, "tg_checkpoint_load", tg_checkpoint_load(NULL, m, NULL, NULL));
        STATUS_FAILS(TG_EINVAL, "tg_checkpoint_load", tg_checkpoint_load(missing, NULL, NULL, NULL));
        STATUS_FAILS(TG_EIO, "tg_checkpoint_load", tg_checkpoint_load(missing, m, NULL, NULL));
    }
    ROW("tg_safetensors_read") {
        tg_safetensors *s = (tg_safetensors *)&s;
        STATUS_FAILS(TG_EINVAL, "tg_safetensors_read", tg_safetensors_read(NULL, &s));
        STATUS_FAILS(TG_EINVAL, "tg_safetensors_read", tg_safetensors_read(missing, NULL));
        STATUS_FAILS(TG_EIO, "tg_safetensors_read", tg_safetensors_read(missing, &s));
        CHECK(!s, "output NULL on failure");
    }
    ROW("tg_safetensors_free") {
        tg_safetensors_free(NULL);
        tg_safetensors *n = NULL;
        tg_safetensors_free(&n);
    }
    ROW("tg_safetensors_write") {
        const char *nm[1] = {"a"}, *dup[2] = {"a", "a"};
        const tg_tensor *ts[2] = {f23, f23};
        STATUS_FAILS(TG_EINVAL, "tg_safetensors_write", tg_safetensors_write(NULL, 1, nm, ts, 0, NULL));
        STATUS_FAILS(TG_EINVAL, "tg_safetensors_write", tg_safetensors_write("/tmp/x", 1, NULL, ts, 0, NULL));
        STATUS_FAILS(TG_EINVAL, "tg_safetensors_write", tg_safetensors_write("/tmp/x", 1, nm, NULL, 0, NULL));
        STATUS_FAILS(TG_EINVAL, "tg_safetensors_write", tg_safetensors_write("/tmp/x", -1, nm, ts, 0, NULL));
        STATUS_FAILS(TG_EINVAL, "tg_safetensors_write", tg_safetensors_write("/tmp/x", 2, dup, ts, 0, NULL));
        STATUS_FAILS(TG_EINVAL, "tg_safetensors_write", tg_safetensors_write("/tmp/x", 1, nm, ts, 1, NULL));
    }
    ROW("tg_data_spiral") {
        STATUS_FAILS(TG_EINVAL, "tg_data_spiral", tg_data_spiral(0, 3, TG_F32, 1, &x, &y));
        STATUS_FAILS(TG_EINVAL, "tg_data_spiral", tg_data_spiral(10, 0, TG_F32, 1, &x, &y));
        STATUS_FAILS(TG_EINVAL, "tg_data_spiral", tg_data_spiral(10, 3, TG_I32, 1, &x, &y));
        STATUS_FAILS(TG_EINVAL, "tg_data_spiral", tg_data_spiral(10, 3, TG_F32, 1, NULL, &y));
    }
    ROW("tg_data_vertical") {
        STATUS_FAILS(TG_EINVAL, "tg_data_vertical", tg_data_vertical(-1, 3, TG_F32, 1, &x, &y));
        STATUS_FAILS(TG_EINVAL, "tg_data_vertical", tg_data_vertical(10, 3, TG_F32, 1, &x, NULL));
    }
    ROW("tg_data_xor") {
        STATUS_FAILS(TG_EINVAL, "tg_data_xor", tg_data_xor(TG_I32, &x, &y));
        STATUS_FAILS(TG_EINVAL, "tg_data_xor", tg_data_xor(TG_F32, NULL, &y));
    }
    ROW("tg_data_sine") {
        STATUS_FAILS(TG_EINVAL, "tg_data_sine", tg_data_sine(0, TG_F32, 0, &x, &y));
        STATUS_FAILS(TG_EINVAL, "tg_data_sine", tg_data_sine(10, TG_F32, 0, NULL, &y));
    }
    ROW("tg_idx_load") {
        STATUS_FAILS(TG_EINVAL, "tg_idx_load", tg_idx_load(NULL, &x));
        STATUS_FAILS(TG_EINVAL, "tg_idx_load", tg_idx_load(missing, NULL));
        STATUS_FAILS(TG_EIO, "tg_idx_load", tg_idx_load(missing, &x));
    }
    NO_BAD_ARGS("tg_csv_defaults", "no arguments");
    ROW("tg_csv_load") {
        tg_csv_opts o = tg_csv_defaults();
        STATUS_FAILS(TG_EINVAL, "tg_csv_load", tg_csv_load(NULL, NULL, &x, &y));
        STATUS_FAILS(TG_EINVAL, "tg_csv_load", tg_csv_load(missing, NULL, NULL, &y));
        o.dtype = TG_I32;
        STATUS_FAILS(TG_EINVAL, "tg_csv_load", tg_csv_load(missing, &o, &x, &y));
        STATUS_FAILS(TG_EIO, "tg_csv_load", tg_csv_load(missing, NULL, &x, &y));
    }
    ROW("tg_take_rows") {
        /* the sentinel message is tg_take_rows's own: check the row's own messages */
        CHECK(!tg_take_rows(f23, 1, (int64_t[]){2}) && strstr(tg_last_error(), "row 2"),
              "row out of range: %s", tg_last_error());
        CHECK(!tg_take_rows(f23, -1, NULL) && strstr(tg_last_error(), "tg_take_rows"),
              "negative count: %s", tg_last_error());
    }
    ROW("tg_permutation") {
        int64_t perm[1] = {7};
        tg_permutation(0, 1, 0, perm); /* n = 0 touches nothing */
        tg_permutation(-5, 1, 0, perm);
        CHECK(perm[0] == 7, "n <= 0 writes nothing");
    }
    ROW("tg_batcher_new") {
        NULL_FAILS("tg_batcher_new", tg_batcher_new(NULL, NULL, 2, false, false, 1));
        NULL_FAILS("tg_batcher_new", tg_batcher_new(f23, NULL, 0, false, false, 1));
        NULL_FAILS("tg_batcher_new", tg_batcher_new(f23, i6, 1, false, false, 1));
        tg_tensor *tv = tg_view_transpose(f23, 0, 1);
        NULL_FAILS("tg_batcher_new", tg_batcher_new(tv, NULL, 1, false, false, 1));
        tg_tensor_free(&tv);
    }
    ROW("tg_batcher_next") {
        tg_tensor *xb = f23, *yb = f23;
        CHECK(!tg_batcher_next(NULL, &xb, &yb), "NULL batcher: false");
    }
    ROW("tg_batcher_epoch") CHECK(tg_batcher_epoch(NULL) <= 0, "NULL batcher");
    ROW("tg_batcher_free") {
        tg_batcher_free(NULL);
        tg_batcher *n = NULL;
        tg_batcher_free(&n);
    }
    ROW("tg_split") {
        STATUS_FAILS(TG_EINVAL, "tg_split", tg_split(NULL, NULL, 0.2, 0.2, 1, &outs[0], &outs[1],
                                                     &outs[2], &outs[3], &outs[4], &outs[5]));
        STATUS_FAILS(TG_EINVAL, "tg_split", tg_split(f23, NULL, 0.6, 0.6, 1, &outs[0], &outs[1],
                                                     &outs[2], &outs[3], &outs[4], &outs[5]));
        STATUS_FAILS(TG_EINVAL, "tg_split", tg_split(f23, i6, 0.2, 0.2, 1, &outs[0], &outs[1],
                                                     &outs[2], &outs[3], &outs[4], &outs[5]));
        STATUS_FAILS(TG_EINVAL, "tg_split", tg_split(f23, NULL, -0.2, 0.2, 1, &outs[0], &outs[1],
                                                     &outs[2], &outs[3], &outs[4], &outs[5]));
    }
    ROW("tg_kfold") {
        STATUS_FAILS(TG_EINVAL, "tg_kfold",
                     tg_kfold(NULL, NULL, 2, 0, 1, &outs[0], &outs[1], &outs[2], &outs[3]));
        STATUS_FAILS(TG_EINVAL, "tg_kfold",
                     tg_kfold(f23, NULL, 1, 0, 1, &outs[0], &outs[1], &outs[2], &outs[3]));
        STATUS_FAILS(TG_EINVAL, "tg_kfold",
                     tg_kfold(f23, NULL, 2, 2, 1, &outs[0], &outs[1], &outs[2], &outs[3]));
        STATUS_FAILS(TG_EINVAL, "tg_kfold",
                     tg_kfold(f23, NULL, 3, 0, 1, &outs[0], &outs[1], &outs[2], &outs[3]));
    }
    ROW("tg_scaler_fit") {
        NULL_FAILS("tg_scaler_fit", tg_scaler_fit(TG_SCALE_STANDARD, NULL));
        NULL_FAILS("tg_scaler_fit", tg_scaler_fit(TG_SCALE_STANDARD, i23));
        NULL_FAILS("tg_scaler_fit", tg_scaler_fit(TG_SCALE_STANDARD, f32v));
        NULL_FAILS("tg_scaler_fit", tg_scaler_fit((tg_scale_kind)9, f23));
        /* no columns: rejected (it walked 2^40 empty rows: a hang) */
        tg_tensor *none = tg_zeros(TG_F32, 2, (int64_t[]){(int64_t)1 << 40, 0});
        NULL_FAILS("tg_scaler_fit", tg_scaler_fit(TG_SCALE_MINMAX, none));
        tg_tensor_free(&none);
    }
    tg_scaler *sc = tg_scaler_fit(TG_SCALE_MINMAX, f23);
    ROW("tg_scaler_apply") {
        STATUS_FAILS(TG_EINVAL, "tg_scaler_apply", tg_scaler_apply(NULL, f23));
        STATUS_FAILS(TG_EINVAL, "tg_scaler_apply", tg_scaler_apply(sc, NULL));
        STATUS_FAILS(TG_EINVAL, "tg_scaler_apply", tg_scaler_apply(sc, i23));
        STATUS_FAILS(TG_EINVAL, "tg_scaler_apply", tg_scaler_apply(sc, f32v));
    }
    ROW("tg_scaler_transform") {
        NULL_FAILS("tg_scaler_transform", tg_scaler_transform(NULL, f23));
        NULL_FAILS("tg_scaler_transform", tg_scaler_transform(sc, f32v));
    }
    ROW("tg_scaler_inverse") {
        STATUS_FAILS(TG_EINVAL, "tg_scaler_inverse", tg_scaler_inverse(NULL, f23));
        STATUS_FAILS(TG_EINVAL, "tg_scaler_inverse", tg_scaler_inverse(sc, f32v));
    }
    ROW("tg_scaler_free") {
        tg_scaler_free(NULL);
        tg_scaler *n = NULL;
        tg_scaler_free(&n);
    }
    tg_scaler_free(&sc);
    tg_model_free(&m);
}

static void train_rows(void)
{
    char dir[] = "/tmp/tg-bad-args-XXXXXX", log[64];
    CHECK(mkdtemp(dir) != NULL, "temp dir");
    snprintf(log, sizeof log, "%s/log.csv", dir);
    const char *missing = "/nonexistent/tg-bad-args/log.csv";
    tg_model *m = tg_model_new(TG_F32, 1);
    tg_model_add_dense(m, 3, 2, NULL);
    tg_optim *opt = tg_sgd_new(tg_model_param_count(m), tg_model_params(m), NULL);
    tg_tensor *y2 = tg_zeros(TG_I32, 1, (int64_t[]){2});
    CHECK(opt && y2, "a model and an optimizer for the rows");

    NO_BAD_ARGS("tg_fit_defaults", "no arguments");
    ROW("tg_progress_new") {
        NULL_FAILS_ST(TG_EIO, "tg_progress_new", tg_progress_new(NULL, missing));
        NULL_FAILS_ST(TG_EIO, "tg_progress_new", tg_progress_new(NULL, dir)); /* a directory */
    }
    tg_progress *pr = tg_progress_new(NULL, log);
    CHECK(pr != NULL, "a progress object: %s", tg_last_error());
    ROW("tg_progress_batch") {
        /* NULL, or numbers that make no sense: nothing drawn (not a terminal), no crash */
        tg_progress_batch(NULL, 1, 1, 1, 1, 0.5);
        tg_progress_batch(pr, -1, 0, 5, -2, NAN);
        tg_progress_batch(pr, 1, 1, INT64_MAX, 1, INFINITY);
    }
    ROW("tg_progress_epoch") {
        tg_epoch_stats st = {.epoch = 1, .epochs = 1, .lr = 0.1};
        STATUS_FAILS(TG_EINVAL, "tg_progress_epoch", tg_progress_epoch(NULL, &st));
        STATUS_FAILS(TG_EINVAL, "tg_progress_epoch", tg_progress_epoch(pr, NULL));
    }
    ROW("tg_progress_free") {
        tg_progress_free(NULL);
        tg_progress *n = NULL;
        tg_progress_free(&n);
    }
    tg_progress_free(&pr);

    ROW("tg_model_predict") {
        const char *fn = "tg_model_predict";
        tg_tensor *tv = tg_view_transpose(f23, 0, 1); /* [3, 2], not contiguous */
        tg_tensor *s0 = tg_zeros(TG_F32, 0, NULL);
        NULL_FAILS_ST(TG_EINVAL, fn, tg_model_predict(NULL, f23, 2));
        NULL_FAILS_ST(TG_EINVAL, fn, tg_model_predict(m, NULL, 2));
        NULL_FAILS_ST(TG_EINVAL, fn, tg_model_predict(m, f23, 0));
        NULL_FAILS_ST(TG_EINVAL, fn, tg_model_predict(m, f23, -1));
        NULL_FAILS_ST(TG_EINVAL, fn, tg_model_predict(m, tv, 2));
        NULL_FAILS_ST(TG_EINVAL, fn, tg_model_predict(m, s0, 2)); /* rank 0 */
        tg_tape_reset(T);
        NULL_FAILS_ST(TG_EINVAL, fn, tg_model_predict(m, tg_relu(T, f23), 2)); /* tape tensor */
        tg_tape_reset(T);
        NULL_FAILS_ST(TG_EDTYPE, fn, tg_model_predict(m, d23, 2));
        NULL_FAILS_ST(TG_ESHAPE, fn, tg_model_predict(m, f32v, 2));
        /* the forward pass's reason (it said "out of memory" for every failed forward) */
        CHECK(strstr(tg_last_error(), "is not 2-D") && !strstr(tg_last_error(), "memory"),
              "the forward error: %s", tg_last_error());
        NULL_FAILS_ST(TG_ESHAPE, fn, tg_model_predict(m, img, 1));
        tg_tensor_free(&tv);
        tg_tensor_free(&s0);
    }

    ROW("tg_evaluate") {
        const char *fn = "tg_evaluate";
        double l, a;
        tg_tensor *tv = tg_view_transpose(f23, 0, 1); /* [3, 2], not contiguous */
        STATUS_FAILS(TG_EINVAL, fn, tg_evaluate(NULL, f23, y2, TG_FIT_SOFTMAX_CE, 2, &l, &a));
        STATUS_FAILS(TG_EINVAL, fn, tg_evaluate(m, NULL, y2, TG_FIT_SOFTMAX_CE, 2, &l, &a));
        STATUS_FAILS(TG_EINVAL, fn, tg_evaluate(m, f23, NULL, TG_FIT_SOFTMAX_CE, 2, &l, &a));
        STATUS_FAILS(TG_EINVAL, fn, tg_evaluate(m, f23, y2, TG_FIT_SOFTMAX_CE, 0, &l, &a));
        STATUS_FAILS(TG_EINVAL, fn, tg_evaluate(m, f23, y2, (tg_fit_loss)7, 2, &l, &a));
        STATUS_FAILS(TG_EINVAL, fn, tg_evaluate(m, tv, y2, TG_FIT_SOFTMAX_CE, 2, &l, &a));
        STATUS_FAILS(TG_EINVAL, fn, tg_evaluate(m, f23, i6, TG_FIT_SOFTMAX_CE, 2, &l, &a));
        STATUS_FAILS(TG_EDTYPE, fn, tg_evaluate(m, d23, y2, TG_FIT_SOFTMAX_CE, 2, &l, &a));
        STATUS_FAILS(TG_ESHAPE, fn, tg_evaluate(m, f23, f23, TG_FIT_MSE, 2, &l, &a));
        tg_tensor_free(&tv);
    }

    ROW("tg_fit") {
        const char *fn = "tg_fit";
        tg_fit_opts o = tg_fit_defaults(), b;
        o.epochs = 1;
        uint64_t h = tg_model_hash(m);
        STATUS_FAILS(TG_EINVAL, fn, tg_fit(NULL, opt, f23, y2, &o, NULL));
        STATUS_FAILS(TG_EINVAL, fn, tg_fit(m, NULL, f23, y2, &o, NULL));
        STATUS_FAILS(TG_EINVAL, fn, tg_fit(m, opt, NULL, y2, &o, NULL));
        STATUS_FAILS(TG_EINVAL, fn, tg_fit(m, opt, f23, NULL, &o, NULL));
        STATUS_FAILS(TG_EINVAL, fn, tg_fit(m, opt, f23, y2, NULL, NULL));
#define FIT_OPT_FAILS(st, field, value)                                                   \
    do {                                                                                  \
        b = o;                                                                            \
        b.field = (value);                                                                \
        STATUS_FAILS(st, fn, tg_fit(m, opt, f23, y2, &b, NULL));                          \
    } while (0)
        FIT_OPT_FAILS(TG_EINVAL, epochs, 0);
        FIT_OPT_FAILS(TG_EINVAL, first_epoch, 0);
        FIT_OPT_FAILS(TG_EINVAL, batch, 0);
        FIT_OPT_FAILS(TG_EINVAL, batch, -5);
        FIT_OPT_FAILS(TG_EINVAL, eval_batch, 0);
        FIT_OPT_FAILS(TG_EINVAL, early_stop_patience, -1);
        FIT_OPT_FAILS(TG_EINVAL, checkpoint_every, -1);
        FIT_OPT_FAILS(TG_EINVAL, early_stop_min_delta, NAN);
        FIT_OPT_FAILS(TG_EINVAL, early_stop_min_delta, -1);
        FIT_OPT_FAILS(TG_EINVAL, base_lr, -0.1);
        FIT_OPT_FAILS(TG_EINVAL, base_lr, NAN);
        FIT_OPT_FAILS(TG_EINVAL, loss, (tg_fit_loss)7);
        FIT_OPT_FAILS(TG_EINVAL, loss, (tg_fit_loss)-1);
        FIT_OPT_FAILS(TG_EINVAL, progress_every, 0);
        FIT_OPT_FAILS(TG_EINVAL, monitor, (tg_fit_monitor)5);
        b = o;
        b.loss = TG_FIT_MSE;
        b.monitor = TG_FIT_VAL_ERROR; /* a regression has no error rate */
        STATUS_FAILS(TG_EINVAL, fn, tg_fit(m, opt, f23, f23, &b, NULL));
        FIT_OPT_FAILS(TG_EINVAL, x_val, f23);            /* x_val without y_val */
        FIT_OPT_FAILS(TG_EINVAL, y_val, y2);             /* y_val without x_val */
        FIT_OPT_FAILS(TG_EINVAL, early_stop_patience, 2); /* needs validation data */
        tg_plateau pl = tg_plateau_defaults();
        FIT_OPT_FAILS(TG_EINVAL, plateau, &pl);          /* needs validation data */
        FIT_OPT_FAILS(TG_EIO, checkpoint, "/nonexistent/tg-bad-args/ck.tgc");
        /* rows that differ, or none */
        STATUS_FAILS(TG_EINVAL, fn, tg_fit(m, opt, f23, i6, &o, NULL));
        tg_tensor *x0 = tg_zeros(TG_F32, 2, (int64_t[]){0, 3});
        tg_tensor *y0 = tg_zeros(TG_I32, 1, (int64_t[]){0});
        STATUS_FAILS(TG_EINVAL, fn, tg_fit(m, opt, x0, y0, &o, NULL));
        tg_tensor_free(&x0);
        tg_tensor_free(&y0);
        CHECK(tg_model_hash(m) == h, "a refused tg_fit trains nothing");
        /* the rest fail after the checks: still tg_fit's message and the right status */
        FIT_OPT_FAILS(TG_EIO, log_csv, missing);
        tg_tensor *x32 = tg_zeros(TG_F32, 2, (int64_t[]){3, 2});
        tg_tensor *tv = tg_view_transpose(x32, 0, 1);
        /* x not contiguous: TG_ENOMEM naming only tg_batcher_new (the status was guessed) */
        STATUS_FAILS(TG_EINVAL, fn, tg_fit(m, opt, tv, y2, &o, NULL));
        tg_tensor_free(&tv);
        tg_tensor_free(&x32);
        STATUS_FAILS(TG_EDTYPE, fn, tg_fit(m, opt, d23, y2, &o, NULL)); /* not the model's */
        tg_tensor *x4 = tg_zeros(TG_F32, 2, (int64_t[]){2, 4});
        STATUS_FAILS(TG_ESHAPE, fn, tg_fit(m, opt, x4, y2, &o, NULL));
        /* validation data that does not fit the model (the message named only
         * tg_model_predict) */
        b = o;
        b.x_val = x4;
        b.y_val = y2;
        STATUS_FAILS(TG_ESHAPE, fn, tg_fit(m, opt, f23, y2, &b, NULL));
        CHECK(strstr(tg_last_error(), "has 4 features, want 3"), "the validation error: %s",
              tg_last_error());
        tg_tensor_free(&x4);
        /* an invalid schedule (its NaN lr was refused by tg_optim_set_lr, named alone) */
        tg_lr_schedule sch = tg_lr_step(0, 0.5);
        FIT_OPT_FAILS(TG_EINVAL, schedule, &sch);
        /* an invalid plateau (the message named only tg_plateau_update) */
        pl.factor = 2;
        b = o;
        b.x_val = f23;
        b.y_val = y2;
        b.plateau = &pl;
        STATUS_FAILS(TG_EINVAL, fn, tg_fit(m, opt, f23, y2, &b, NULL));
#undef FIT_OPT_FAILS
    }
    tg_tensor_free(&y2);
    tg_optim_free(&opt);
    tg_model_free(&m);
    remove(log);
    rmdir(dir);
}

static void audio_rows(void)
{
    /* without libsndfile/libsamplerate/FFTW these fail with TG_ESTATE, whatever the
     * arguments (audio.h); the rest check their arguments either way */
    bool av = tg_audio_available();
    tg_status io_st = av ? TG_EINVAL : TG_ESTATE;
    char dir[] = "/tmp/tg-bad-args-XXXXXX", wav[64], txt[64];
    CHECK(mkdtemp(dir) != NULL, "temp dir");
    snprintf(wav, sizeof wav, "%s/a.wav", dir);
    snprintf(txt, sizeof txt, "%s/a.txt", dir);
    const char *missing = "/nonexistent/tg-bad-args.wav";
    tg_tensor *w = tg_rand_uniform(TG_F32, 1, (int64_t[]){800}, -0.5, 0.5, 3, 0);
    tg_tensor *empty = tg_zeros(TG_F32, 1, (int64_t[]){0});
    tg_tensor *w64 = tg_zeros(TG_F64, 1, (int64_t[]){8});
    tg_tensor *strided = tg_view_slice(w, (int64_t[]){0}, (int64_t[]){800}, (int64_t[]){2});
    tg_tensor *spec_t = tg_view_transpose(f23, 0, 1); /* [3, 2], not contiguous */
    /* waveforms every wave function refuses: NULL, I32, 2-D, empty, F64, strided */
    tg_tensor *bad_waves[] = {NULL, i6, f23, empty, w64, strided};
    const int nbad = (int)(sizeof bad_waves / sizeof bad_waves[0]);
    CHECK(w && empty && w64 && strided && !tg_tensor_is_contiguous(strided), "audio inputs");

    NO_BAD_ARGS("tg_audio_available", "no arguments");
    NO_BAD_ARGS("tg_melspec_defaults", "no arguments");
    ROW("tg_audio_save_wav") {
        const char *fn = "tg_audio_save_wav";
        STATUS_FAILS(io_st, fn, tg_audio_save_wav(NULL, w, 16000));
        for (int i = 0; i < nbad - 2; i++) /* F64 is fine, and strided is read by index */
            STATUS_FAILS(io_st, fn, tg_audio_save_wav(wav, bad_waves[i], 16000));
        STATUS_FAILS(io_st, fn, tg_audio_save_wav(wav, w, 0));
        STATUS_FAILS(io_st, fn, tg_audio_save_wav(wav, w, -16000));
        STATUS_FAILS(io_st, fn, tg_audio_save_wav(wav, w, 768001));
        STATUS_FAILS(av ? TG_EIO : TG_ESTATE, fn, tg_audio_save_wav(missing, w, 16000));
    }
    ROW("tg_audio_load") {
        const char *fn = "tg_audio_load";
        tg_tensor *out = f23;
        int rate = 7;
        STATUS_FAILS(io_st, fn, tg_audio_load(NULL, 0, &out, &rate));
        CHECK(out == NULL, "*out NULL on failure");
        STATUS_FAILS(io_st, fn, tg_audio_load(wav, 0, NULL, &rate));
        STATUS_FAILS(io_st, fn, tg_audio_load(wav, -1, &out, &rate));
        STATUS_FAILS(io_st, fn, tg_audio_load(wav, 768001, &out, &rate));
        STATUS_FAILS(av ? TG_EIO : TG_ESTATE, fn, tg_audio_load(missing, 0, &out, &rate));
        FILE *f = fopen(txt, "w");
        CHECK(f && fputs("not a sound file\n", f) >= 0 && fclose(f) == 0, "text file");
        STATUS_FAILS(av ? TG_EFORMAT : TG_ESTATE, fn, tg_audio_load(txt, 0, &out, &rate));
        if (av) {
            /* a target rate beyond 64 x the file's: the resampler's TG_EINVAL (was reported
             * as TG_ENOMEM) */
            CHECK(tg_audio_save_wav(wav, w, 100) == TG_OK, "a 100 Hz file: %s", tg_last_error());
            STATUS_FAILS(TG_EINVAL, fn, tg_audio_load(wav, 768000, &out, &rate));
            CHECK(out == NULL && rate == 7, "outputs untouched on failure but *out = NULL");
        }
    }
    ROW("tg_audio_resample") {
        const char *fn = "tg_audio_resample";
        for (int i = 0; i < nbad; i++)
            NULL_FAILS_ST(io_st, fn, tg_audio_resample(bad_waves[i], 2));
        double ratios[] = {0, -1, 1.0 / 65, 65, NAN, INFINITY};
        for (size_t i = 0; i < sizeof ratios / sizeof ratios[0]; i++)
            NULL_FAILS_ST(io_st, fn, tg_audio_resample(w, ratios[i]));
    }
    ROW("tg_audio_fit") {
        const char *fn = "tg_audio_fit";
        for (int i = 0; i < nbad; i++)
            NULL_FAILS_ST(TG_EINVAL, fn, tg_audio_fit(bad_waves[i], 100));
        NULL_FAILS_ST(TG_EINVAL, fn, tg_audio_fit(w, 0));
        NULL_FAILS_ST(TG_EINVAL, fn, tg_audio_fit(w, -1));
        /* a length no tensor can have (the message named only tg_zeros) */
        NULL_FAILS_ST(TG_EINVAL, fn, tg_audio_fit(w, INT64_MAX));
    }
    ROW("tg_stft_new") {
        const char *fn = "tg_stft_new";
        int nffts[] = {0, -2, 14, 15, 17, 65538, INT32_MAX};
        for (size_t i = 0; i < sizeof nffts / sizeof nffts[0]; i++)
            NULL_FAILS_ST(io_st, fn, tg_stft_new(nffts[i], 8));
        NULL_FAILS_ST(io_st, fn, tg_stft_new(64, 0));
        NULL_FAILS_ST(io_st, fn, tg_stft_new(64, -1));
        NULL_FAILS_ST(io_st, fn, tg_stft_new(64, 65));
    }
    ROW("tg_stft_free") {
        tg_stft_free(NULL);
        tg_stft *n = NULL;
        tg_stft_free(&n);
    }
    tg_stft *st = av ? tg_stft_new(64, 16) : NULL;
    CHECK(!av || st, "an STFT: %s", tg_last_error());
    ROW("tg_stft_frames") {
        CHECK(tg_stft_frames(NULL, 100) == 0 && tg_stft_frames(st, 0) == 0 &&
                  tg_stft_frames(st, -5) == 0 && tg_stft_frames(st, INT64_MIN) == 0,
              "NULL or no samples: 0 frames");
        CHECK(!av || tg_stft_frames(st, INT64_MAX) == 1 + (INT64_MAX - 64 + 15) / 16,
              "the largest count does not overflow");
    }
    ROW("tg_stft_power") {
        const char *fn = "tg_stft_power";
        NULL_FAILS_ST(io_st, fn, tg_stft_power(NULL, w));
        if (av)
            for (int i = 0; i < nbad; i++)
                NULL_FAILS_ST(TG_EINVAL, fn, tg_stft_power(st, bad_waves[i]));
    }
    tg_stft_free(&st);
    ROW("tg_hz_to_mel") {
        /* below -700 Hz the logarithm has no value (it returned NaN silently) */
        NAN_FAILS_ST(TG_EINVAL, "tg_hz_to_mel", tg_hz_to_mel(-700));
        NAN_FAILS_ST(TG_EINVAL, "tg_hz_to_mel", tg_hz_to_mel(-1000));
        NAN_FAILS_ST(TG_EINVAL, "tg_hz_to_mel", tg_hz_to_mel(NAN));
        NAN_FAILS_ST(TG_EINVAL, "tg_hz_to_mel", tg_hz_to_mel(-INFINITY));
    }
    ROW("tg_mel_to_hz") {
        NAN_FAILS_ST(TG_EINVAL, "tg_mel_to_hz", tg_mel_to_hz(NAN));
    }
    ROW("tg_mel_filterbank") {
        const char *fn = "tg_mel_filterbank";
        NULL_FAILS_ST(TG_EINVAL, fn, tg_mel_filterbank(0, 512, 16000, 0, 8000));
        NULL_FAILS_ST(TG_EINVAL, fn, tg_mel_filterbank(4097, 512, 16000, 0, 8000));
        NULL_FAILS_ST(TG_EINVAL, fn, tg_mel_filterbank(40, 0, 16000, 0, 8000));
        NULL_FAILS_ST(TG_EINVAL, fn, tg_mel_filterbank(40, 511, 16000, 0, 8000));
        NULL_FAILS_ST(TG_EINVAL, fn, tg_mel_filterbank(40, 65538, 16000, 0, 8000));
        NULL_FAILS_ST(TG_EINVAL, fn, tg_mel_filterbank(40, 512, 0, 0, 8000));
        NULL_FAILS_ST(TG_EINVAL, fn, tg_mel_filterbank(40, 512, 16000, -1, 8000));
        NULL_FAILS_ST(TG_EINVAL, fn, tg_mel_filterbank(40, 512, 16000, 8000, 8000));
        NULL_FAILS_ST(TG_EINVAL, fn, tg_mel_filterbank(40, 512, 16000, 0, 8001));
        NULL_FAILS_ST(TG_EINVAL, fn, tg_mel_filterbank(40, 512, 16000, NAN, 8000));
        NULL_FAILS_ST(TG_EINVAL, fn, tg_mel_filterbank(40, 512, 16000, 0, NAN));
    }
    ROW("tg_melspec_new") {
        /* option errors found by the filterbank or the STFT named only those */
        const char *fn = "tg_melspec_new";
        tg_melspec_opts o;
#define MELSPEC_FAILS(st_, field, value)                                                  \
    do {                                                                                  \
        o = tg_melspec_defaults();                                                        \
        o.field = (value);                                                                \
        NULL_FAILS_ST(st_, fn, tg_melspec_new(&o));                                       \
    } while (0)
        MELSPEC_FAILS(TG_EINVAL, floor, 0);
        MELSPEC_FAILS(TG_EINVAL, floor, NAN);
        MELSPEC_FAILS(TG_EINVAL, floor, INFINITY);
        MELSPEC_FAILS(TG_EINVAL, rate, 0);
        MELSPEC_FAILS(TG_EINVAL, rate, -16000);
        MELSPEC_FAILS(TG_EINVAL, n_mels, 0);
        MELSPEC_FAILS(TG_EINVAL, n_fft, 511);
        MELSPEC_FAILS(TG_EINVAL, fmin, -20);
        MELSPEC_FAILS(TG_EINVAL, fmax, 9000);
        MELSPEC_FAILS(TG_EINVAL, fmin, 9000); /* above the default fmax (rate / 2) */
        MELSPEC_FAILS(io_st, hop, 0);
        MELSPEC_FAILS(io_st, hop, 513);
        MELSPEC_FAILS(io_st, n_fft, 8); /* a filterbank, but no STFT that short */
#undef MELSPEC_FAILS
    }
    ROW("tg_melspec_free") {
        tg_melspec_free(NULL);
        tg_melspec *n = NULL;
        tg_melspec_free(&n);
    }
    tg_melspec *ms = av ? tg_melspec_new(NULL) : NULL;
    CHECK(!av || ms, "a melspec: %s", tg_last_error());
    ROW("tg_melspec_log") {
        const char *fn = "tg_melspec_log";
        NULL_FAILS_ST(TG_EINVAL, fn, tg_melspec_log(NULL, w));
        /* bad waveforms: the message named only tg_stft_power */
        if (av)
            for (int i = 0; i < nbad; i++)
                NULL_FAILS_ST(TG_EINVAL, fn, tg_melspec_log(ms, bad_waves[i]));
    }
    tg_melspec_free(&ms);
    ROW("tg_mfcc") {
        const char *fn = "tg_mfcc";
        NULL_FAILS_ST(TG_EINVAL, fn, tg_mfcc(NULL, 1));
        NULL_FAILS_ST(TG_EINVAL, fn, tg_mfcc(f32v, 1));   /* 1-D */
        NULL_FAILS_ST(TG_EINVAL, fn, tg_mfcc(i23, 1));    /* I32 */
        NULL_FAILS_ST(TG_EINVAL, fn, tg_mfcc(d23, 1));    /* F64 */
        NULL_FAILS_ST(TG_EINVAL, fn, tg_mfcc(f0, 1));     /* no frames */
        NULL_FAILS_ST(TG_EINVAL, fn, tg_mfcc(spec_t, 1)); /* not contiguous */
        NULL_FAILS_ST(TG_EINVAL, fn, tg_mfcc(img, 1));    /* rank 4 */
        NULL_FAILS_ST(TG_EINVAL, fn, tg_mfcc(f23, 0));
        NULL_FAILS_ST(TG_EINVAL, fn, tg_mfcc(f23, -1));
        NULL_FAILS_ST(TG_EINVAL, fn, tg_mfcc(f23, 3)); /* 2 mels */
    }
    ROW("tg_audio_shift") {
        const char *fn = "tg_audio_shift";
        for (int i = 0; i < nbad; i++)
            STATUS_FAILS(TG_EINVAL, fn, tg_audio_shift(bad_waves[i], 4, 1, 0));
        STATUS_FAILS(TG_EINVAL, fn, tg_audio_shift(w, -1, 1, 0));
        STATUS_FAILS(TG_EINVAL, fn, tg_audio_shift(w, INT64_MAX, 1, 0));
        STATUS_FAILS(TG_EINVAL, fn, tg_audio_shift(w, INT64_MIN, 1, 0));
    }
    ROW("tg_audio_add_noise") {
        const char *fn = "tg_audio_add_noise";
        for (int i = 0; i < nbad; i++)
            STATUS_FAILS(TG_EINVAL, fn, tg_audio_add_noise(bad_waves[i], 10, 20, 1, 0));
        STATUS_FAILS(TG_EINVAL, fn, tg_audio_add_noise(w, 20, 10, 1, 0));
        STATUS_FAILS(TG_EINVAL, fn, tg_audio_add_noise(w, NAN, 10, 1, 0));
        STATUS_FAILS(TG_EINVAL, fn, tg_audio_add_noise(w, 10, NAN, 1, 0));
        STATUS_FAILS(TG_EINVAL, fn, tg_audio_add_noise(w, -INFINITY, 10, 1, 0));
        STATUS_FAILS(TG_EINVAL, fn, tg_audio_add_noise(w, 10, INFINITY, 1, 0));
    }
    ROW("tg_audio_speed") {
        const char *fn = "tg_audio_speed";
        /* bad waveforms: the message named only tg_audio_resample */
        for (int i = 0; i < nbad; i++)
            NULL_FAILS_ST(io_st, fn, tg_audio_speed(bad_waves[i], 0.9, 1.1, 1, 0));
        NULL_FAILS_ST(TG_EINVAL, fn, tg_audio_speed(w, 0.2, 1.1, 1, 0));
        NULL_FAILS_ST(TG_EINVAL, fn, tg_audio_speed(w, 0.9, 4.5, 1, 0));
        NULL_FAILS_ST(TG_EINVAL, fn, tg_audio_speed(w, 1.1, 0.9, 1, 0));
        NULL_FAILS_ST(TG_EINVAL, fn, tg_audio_speed(w, NAN, 1.1, 1, 0));
        NULL_FAILS_ST(TG_EINVAL, fn, tg_audio_speed(w, 0.9, NAN, 1, 0));
    }
    ROW("tg_spec_augment") {
        const char *fn = "tg_spec_augment";
        tg_tensor *sp = tg_zeros(TG_F32, 2, (int64_t[]){4, 5});
        tg_tensor *bad[] = {NULL, f32v, i23, d23, f0, spec_t, img};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
            STATUS_FAILS(TG_EINVAL, fn, tg_spec_augment(bad[i], 1, 1, 1, 1, 1, 0));
        STATUS_FAILS(TG_EINVAL, fn, tg_spec_augment(sp, -1, 1, 1, 1, 1, 0));
        STATUS_FAILS(TG_EINVAL, fn, tg_spec_augment(sp, 1, -1, 1, 1, 1, 0));
        STATUS_FAILS(TG_EINVAL, fn, tg_spec_augment(sp, 1, 1, -1, 1, 1, 0));
        STATUS_FAILS(TG_EINVAL, fn, tg_spec_augment(sp, 1, 1, 1, -1, 1, 0));
        tg_tensor_free(&sp);
    }
    tg_tensor *all[] = {strided, w, empty, w64, spec_t};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        tg_tensor_free(&all[i]);
    remove(wav);
    remove(txt);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--pretend-missing"))
        pretend_missing = argv[2];
    T = tg_tape_new();
    f23 = tg_rand_uniform(TG_F32, 2, (int64_t[]){2, 3}, -1, 1, 1, 0);
    d23 = tg_zeros(TG_F64, 2, (int64_t[]){2, 3});
    i23 = tg_zeros(TG_I32, 2, (int64_t[]){2, 3});
    f32v = tg_zeros(TG_F32, 1, (int64_t[]){5});
    i6 = tg_zeros(TG_I32, 1, (int64_t[]){6});
    img = tg_zeros(TG_F32, 4, (int64_t[]){1, 2, 4, 4});
    f3 = tg_ones(TG_F32, 1, (int64_t[]){3});
    f0 = tg_zeros(TG_F32, 2, (int64_t[]){2, 0});
    tg_tensor_set_requires_grad(f3, true);

    tensor_rows();
    tape_rows();
    op_rows();
    cnn_rows();
    registry_rows();
    nn_rows();
    optim_rows();
    io_rows();
    train_rows();
    audio_rows();

    int missing = 0;
    for (int i = 0; i < NAPI; i++)
        if (!covered[i]) {
            fprintf(stderr, "no bad-argument row for %s (add one, or a NO_BAD_ARGS row)\n",
                    api_names[i]);
            missing++;
        }
    CHECK(missing == 0, "%d of %d public functions without a row", missing, NAPI);
    printf("%d of %d public functions have a row\n", NAPI - missing, NAPI);

    tg_tensor *all[] = {f23, d23, i23, f32v, i6, img, f3, f0};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        tg_tensor_free(&all[i]);
    tg_tape_free(&T);
    return check_summary();
}
