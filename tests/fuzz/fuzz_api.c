/* Fuzz target: the public API as a program. The input bytes are read as a sequence of
 * calls (an opcode byte, then its arguments drawn from the following bytes) on one tape
 * and up to NSLOT live tensors: creation with random dtypes and shapes (0, negative and
 * huge dimensions included), persistent and tape views, every registered op and the
 * composite ops with valid and invalid arguments (NULL, wrong dtype, out-of-range axes,
 * mismatched shapes), backward / tg_grad, tg_tape_reset, frees, optimizers, a model,
 * metrics and data preparation. Contract checked on every call (abort otherwise):
 *  - a tape op returns a tensor only on a tape that had not failed and is not failed
 *    after it; the tensor is well formed (rank 0..8, sizes >= 0, owned by the tape or
 *    one of the inputs) and every element is readable (hashed: ASan sees each access);
 *  - a tape op given a NULL tensor returns NULL without a new error; one given bad
 *    arguments returns NULL and fails the tape with a status and a message naming a
 *    function ("tg_...");
 *  - a call outside a tape that fails says so with a status or NULL and a message
 *    naming the function in tg_last_error();
 *  - a shape whose element count overflows int64 is rejected as such (never TG_ENOMEM,
 *    never allocated);
 *  - everything allocated is freed once the program's tensors, tape, model are freed.
 * Memory stays bounded: every library allocation goes through a counting allocator that
 * refuses to hold more than ALLOC_CAP bytes (so legitimate but huge requests end in a
 * clean TG_ENOMEM), and the program only keeps tensors of at most SLOT_CAP elements.
 * ASan and UBSan (built with -fno-sanitize-recover) report the rest; libFuzzer's
 * -timeout reports hangs. See README.md. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "tapegrad.h"

#define NSLOT 16
#define SLOT_CAP 4096                  /* elements of a tensor the program keeps */
#define ALLOC_CAP ((size_t)48 << 20)   /* bytes the library may hold at once */
#define FLOP_CAP 20000000.0            /* matmul / conv work the program asks for */
#define MAX_STEPS 400

/* ---- the input ---- */
typedef struct rd {
    const uint8_t *p;
    size_t n;
} rd;

static unsigned u8(rd *r)
{
    if (!r->n)
        return 0;
    r->n--;
    return *r->p++;
}

static const int64_t special_dims[] = {
    -1, -7, INT64_MIN, (int64_t)1 << 20, (int64_t)1 << 31, (int64_t)1 << 32,
    (int64_t)1 << 40, (int64_t)1 << 62, INT64_MAX, 100000, 65537,
};
#define NSPECIAL ((int)(sizeof special_dims / sizeof special_dims[0]))

/* a size: mostly 0..6, sometimes negative or huge */
static int64_t dim(rd *r)
{
    unsigned b = u8(r);
    if (b < 224)
        return b % 7;
    return special_dims[b % NSPECIAL];
}

static int64_t small(rd *r) /* a window parameter: mostly 0..4, sometimes invalid */
{
    unsigned b = u8(r);
    if (b < 232)
        return b % 5;
    return special_dims[b % NSPECIAL];
}

static int axis(rd *r)
{
    static const int special[] = {-1, -2, -3, 8, 9, -9, INT_MAX, INT_MIN};
    unsigned b = u8(r);
    if (b < 200)
        return (int)(b % 5);
    return special[b % 8];
}

static double value(rd *r)
{
    static const double vals[] = {0, 1, -1, 0.5, 2, -2.5, 1e-5, 0.1, 0.9, 0.999, 3, 1e-8,
                                  100, -1e30, 1e300, NAN, INFINITY, -INFINITY, -0.0, 7};
    return vals[u8(r) % (sizeof vals / sizeof vals[0])];
}

/* a value that fits an I32 when the known double -> I32 UB is avoided */
static double int_value(rd *r, tg_dtype dt)
{
    double v = value(r);
    (void)dt;
    return v;
}

static tg_dtype dtype(rd *r)
{
    unsigned b = u8(r) % 16;
    if (b < 6)
        return TG_F32;
    if (b < 11)
        return TG_F64;
    if (b < 15)
        return TG_I32;
    return (tg_dtype)7; /* not a dtype */
}

/* element count of a shape: -1 if a size is negative, -2 if it (or the product of its
 * nonzero sizes, the largest stride: [0, 2^62, 4]) overflows int64 */
static int64_t count(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    bool zero = false, over = false;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return -1;
        if (shape[i] == 0)
            zero = true;
        else if (n > INT64_MAX / shape[i])
            over = true;
        else
            n *= shape[i];
    }
    return over ? -2 : zero ? 0 : n;
}

/* ndim (sometimes outside 0..8) and up to 9 sizes */
static int shape_of(rd *r, int64_t *shape)
{
    unsigned b = u8(r);
    int ndim = b < 240 ? (int)(b % 5) : (int)(b % 10) - 1; /* -1 .. 8 */
    for (int i = 0; i < TG_MAX_DIMS; i++)
        shape[i] = i < ndim ? dim(r) : 1;
    return ndim;
}

/* ---- the allocator: counts, and refuses past ALLOC_CAP ---- */
static size_t live_bytes;
static long live_blocks;

static void *cap_alloc(size_t n, void *ctx)
{
    (void)ctx;
    if (n > ALLOC_CAP || live_bytes + n > ALLOC_CAP)
        return NULL;
    size_t *p = malloc(n + 16);
    if (!p)
        return NULL;
    p[0] = n;
    live_bytes += n;
    live_blocks++;
    return (char *)p + 16;
}

static void cap_free(void *q, void *ctx)
{
    (void)ctx;
    if (!q)
        return;
    size_t *p = (size_t *)(void *)((char *)q - 16);
    live_bytes -= p[0];
    live_blocks--;
    free(p);
}

/* ---- the program's state ---- */
enum { EMPTY, OWNED, BORROWED, TAPE };
static struct slot {
    tg_tensor *t;
    int kind;
    int owner;         /* TAPE: which of tapes[] made it, and that tape's generation */
    unsigned gen;
} slot[NSLOT];
static unsigned gens[2];  /* resets of tapes[0] and tapes[1] so far */
static tg_tensor *deferred[MAX_STEPS * 4]; /* freed at the next reset: the tape may use them */
static int ndeferred;
static tg_tape *tape;      /* the tape the calls use: tapes[0], or tapes[1] when stale */
static tg_tape *tapes[2];  /* tensors of the second tape and from before a reset are used too */
static tg_model *model;
static const char *fn; /* the call being made, for messages */

static tg_tensor *pick(rd *r)
{
    unsigned b = u8(r);
    if (b % 19 == 18)
        return NULL;
    return slot[b % NSLOT].t;
}

/* A tensor for calls outside a tape (inspection, metrics, data preparation, optimizers,
 * persistent views): a tape tensor from before its tape's last reset is never passed,
 * since its header may have been reused (undefined, as the header documents); ops and
 * backward get those (pick) and must refuse them. */
static tg_tensor *pick_data(rd *r)
{
    unsigned b = u8(r);
    if (b % 19 == 18)
        return NULL;
    struct slot *s = &slot[b % NSLOT];
    return s->kind == TAPE && s->gen != gens[s->owner] ? NULL : s->t;
}

static bool is_slot(const tg_tensor *x)
{
    for (int i = 0; i < NSLOT; i++)
        if (x && slot[i].t == x)
            return true;
    return false;
}

static void drop(int i)
{
    if (slot[i].kind == OWNED && slot[i].t)
        deferred[ndeferred++] = slot[i].t;
    slot[i].t = NULL;
    slot[i].kind = EMPTY;
}

static void free_deferred(void)
{
    for (int i = 0; i < ndeferred; i++)
        tg_tensor_free(&deferred[i]);
    ndeferred = 0;
}

/* reads every element (ASan checks each access) and checks the header */
static void check_tensor(const tg_tensor *x)
{
    if (x->ndim < 0 || x->ndim > TG_MAX_DIMS)
        fuzz_fail("%s: result of rank %d", fn, x->ndim);
    if (x->dtype != TG_F32 && x->dtype != TG_F64 && x->dtype != TG_I32)
        fuzz_fail("%s: result of dtype %d", fn, (int)x->dtype);
    if (count(x->ndim, x->shape) < 0)
        fuzz_fail("%s: result with a bad shape", fn);
    (void)tg_tensor_hash(x);
}

static void keep(tg_tensor *x, int kind, unsigned where)
{
    if (!x || is_slot(x))
        return;
    if (tg_tensor_numel(x) > SLOT_CAP) { /* too big to work with: let it go */
        if (kind == OWNED)
            deferred[ndeferred++] = x;
        return;
    }
    int i = (int)(where % NSLOT);
    drop(i);
    slot[i].t = x;
    slot[i].kind = kind;
    slot[i].owner = tape == tapes[1];
    slot[i].gen = gens[slot[i].owner];
}

/* the contract of a tape op; inputs[] are its tensor arguments (NULL-terminated list
 * of the required ones is not needed: null_in says whether one of them was NULL) */
static tg_tensor *tape_op(tg_tensor *res, bool failed_before, bool null_in, unsigned where)
{
    if (res) {
        if (failed_before)
            fuzz_fail("%s: returned a tensor on a failed tape", fn);
        if (tg_tape_failed(tape))
            fuzz_fail("%s: returned a tensor and failed the tape: %s", fn, tg_tape_error(tape));
        check_tensor(res);
        if (res->tape == tape)
            keep(res, TAPE, where);
        else if (!is_slot(res) && !(model && res->tape == NULL))
            fuzz_fail("%s: returned a tensor that is neither the tape's nor an input", fn);
        return res;
    }
    if (failed_before)
        return NULL;
    if (null_in) {
        if (tg_tape_failed(tape))
            fuzz_fail("%s: a NULL input recorded an error: %s", fn, tg_tape_error(tape));
        return NULL;
    }
    if (!tg_tape_failed(tape) || tg_tape_status(tape) == TG_OK)
        fuzz_fail("%s: returned NULL without failing the tape", fn);
    /* out of memory in the arena is reported by the arena ("tape arena: ..."), and an
     * output too large to exist by the tape's allocator ("tape tensor: invalid shape
     * [2147483648,2147483648,1,1]"), which do not know the op (reported: the message
     * should name it); anomaly mode names the op ("anomaly: op 'div' ...") */
    const char *m = tg_tape_error(tape);
    if (!m[0] || (strncmp(m, "tg_", 3) != 0 && strncmp(m, "anomaly: ", 9) != 0 &&
                  strncmp(m, "tape tensor: ", 13) != 0 && tg_tape_status(tape) != TG_ENOMEM))
        fuzz_fail("%s: %s without a message naming a function: '%s'", fn,
                  tg_status_name(tg_tape_status(tape)), tg_tape_error(tape));
    return NULL;
}

/* the contract of a call outside a tape that reported failure */
static void failed_call(tg_status s)
{
    if (s == TG_OK)
        fuzz_fail("%s: failed with TG_OK", fn);
    const char *m = tg_last_error();
    if (!strstr(m, fn))
        fuzz_fail("%s: %s with a message not naming it: '%s'", fn, tg_status_name(s), m);
}

/* persistent creation: NULL must come with a message; an overflowing count must be
 * rejected without an allocation attempt */
static void created(tg_tensor *x, int64_t n, unsigned where)
{
    if (x) {
        if (n == -1 || n == -2)
            fuzz_fail("%s: accepted a shape with a negative or overflowing size", fn);
        check_tensor(x);
        keep(x, OWNED, where);
        return;
    }
    if (!strstr(tg_last_error(), fn))
        fuzz_fail("%s: NULL with a message not naming it: '%s'", fn, tg_last_error());
}

/* "[2,3]" (a static buffer: one use per statement) */
static const char *shape_text(const tg_tensor *x)
{
    static char b[200];
    int n = snprintf(b, sizeof b, "[");
    for (int i = 0; i < x->ndim && n < 180; i++)
        n += snprintf(b + n, sizeof b - (size_t)n, "%s%lld", i ? "," : "", (long long)x->shape[i]);
    snprintf(b + n, sizeof b - (size_t)n, "]");
    return b;
}

/* whether x is a kept tape tensor from before its tape's last reset (its header may hold
 * newer data: the harness never reads it; the library must refuse it) */
static bool stale(const tg_tensor *x)
{
    for (int i = 0; x && i < NSLOT; i++)
        if (slot[i].t == x && slot[i].kind == TAPE && slot[i].gen != gens[slot[i].owner])
            return true;
    return false;
}

static double numel_d(const tg_tensor *x)
{
    return x && !stale(x) ? (double)tg_tensor_numel(x) : 0;
}

static int64_t pair_a[2], pair_b[2], pair_c[2], pair_d[2];

/* a (h, w) pair or NULL */
static const int64_t *pair(rd *r, int64_t *p)
{
    if (u8(r) % 8 == 0)
        return NULL;
    p[0] = small(r);
    p[1] = small(r);
    return p;
}

static double conv_flops(const tg_tensor *x, const int64_t *k, const int64_t *s,
                         const int64_t *p, const int64_t *d, double per)
{
    if (!x || stale(x) || x->ndim != 4 || !k)
        return 0;
    double out = (double)x->shape[0] * (double)x->shape[1];
    for (int i = 0; i < 2; i++) {
        int64_t o = tg_conv_out_size(x->shape[2 + i], k[i], s ? s[i] : 1, p ? p[i] : 0,
                                     d ? d[i] : 1);
        if (o > 0)
            out *= (double)o;
        if (k[i] > 0)
            out *= (double)k[i];
    }
    return out * per;
}

/* ---- the calls ---- */

static void op_create(rd *r)
{
    int64_t shape[TG_MAX_DIMS];
    tg_dtype dt = dtype(r);
    int ndim = shape_of(r, shape);
    int64_t n = ndim < 0 || ndim > TG_MAX_DIMS ? -3 : count(ndim, shape);
    unsigned which = u8(r) % 9, where = u8(r);
    /* a valid size beyond what the program works with: skip (the allocator would refuse
     * it only beyond ALLOC_CAP) unless it cannot be allocated at all */
    if (n > SLOT_CAP && (double)n * 8 <= (double)ALLOC_CAP)
        return;
    const int64_t *sp = u8(r) % 16 == 0 ? NULL : shape;
    tg_tensor *x = NULL;
    switch (which) {
    case 0: fn = "tg_zeros"; x = tg_zeros(dt, ndim, sp); break;
    case 1: fn = "tg_ones"; x = tg_ones(dt, ndim, sp); break;
    case 2: fn = "tg_full"; x = tg_full(dt, ndim, sp, int_value(r, dt)); break;
    case 3:
        fn = "tg_rand_uniform";
        {
            double lo = value(r), hi = value(r);
            unsigned seed = u8(r), stream = u8(r);
            x = tg_rand_uniform(dt, ndim, sp, lo, hi, seed, stream);
        }
        break;
    case 4:
        fn = "tg_rand_normal";
        {
            double mean = value(r), std = value(r);
            unsigned seed = u8(r), stream = u8(r);
            x = tg_rand_normal(dt, ndim, sp, mean, std, seed, stream);
        }
        break;
    case 5: {
        fn = "tg_arange";
        double a = int_value(r, dt), b = int_value(r, dt), s = value(r);
        /* the count is |b - a| / s: keep it small unless it must be rejected */
        double cnt = fabs((b - a) / s);
        if (cnt > SLOT_CAP && cnt * 8 <= (double)ALLOC_CAP)
            return;
        x = tg_arange(dt, a, b, s);
        created(x, x ? tg_tensor_numel(x) : 0, where);
        return;
    }
    case 6:
    case 7: { /* from / wrap: bytes from a static buffer (any bit pattern) */
        static double buf[SLOT_CAP + 8];
        if (n > SLOT_CAP)
            return;
        for (int i = 0; i < 8 && n > 0; i++) {
            unsigned at = u8(r) % (SLOT_CAP + 8);
            buf[at] = value(r);
        }
        if (which == 6) {
            fn = "tg_tensor_from";
            x = tg_tensor_from(dt, ndim, sp, u8(r) % 16 ? (void *)buf : NULL);
        } else {
            /* every wrap shares buf, which outlives them all */
            char *mem = (char *)buf;
            mem += u8(r) % 4;
            fn = "tg_tensor_wrap";
            x = tg_tensor_wrap(dt, ndim, sp, u8(r) % 16 ? (void *)mem : NULL);
        }
        break;
    }
    default: {
        fn = "tg_tape_full";
        bool failed = tg_tape_failed(tape);
        x = tg_tape_full(tape, dt, ndim, sp, int_value(r, dt));
        if (!x && !failed && n == -2 && tg_tape_status(tape) == TG_ENOMEM)
            fuzz_fail("%s: an overflowing shape reported as TG_ENOMEM", fn);
        tape_op(x, failed, false, where);
        return;
    }
    }
    if (!x && n == -2 && strstr(tg_last_error(), "out of memory"))
        fuzz_fail("%s: an overflowing shape reported as out of memory: %s", fn, tg_last_error());
    created(x, n, where);
}

static void op_unary(rd *r)
{
    tg_tensor *x = pick(r);
    unsigned which = u8(r) % 17, where = u8(r);
    bool f = tg_tape_failed(tape);
    tg_tensor *y = NULL;
    switch (which) {
    case 0: fn = "tg_neg"; y = tg_neg(tape, x); break;
    case 1: fn = "tg_exp"; y = tg_exp(tape, x); break;
    case 2: fn = "tg_log"; y = tg_log(tape, x); break;
    case 3: fn = "tg_sqrt"; y = tg_sqrt(tape, x); break;
    case 4: fn = "tg_abs"; y = tg_abs(tape, x); break;
    case 5: fn = "tg_relu"; y = tg_relu(tape, x); break;
    case 6: fn = "tg_sigmoid"; y = tg_sigmoid(tape, x); break;
    case 7: fn = "tg_tanh"; y = tg_tanh(tape, x); break;
    case 8: fn = "tg_gelu"; y = tg_gelu(tape, x); break;
    case 9: fn = "tg_softplus"; y = tg_softplus(tape, x); break;
    case 10: fn = "tg_sign"; y = tg_sign(tape, x); break;
    case 11: fn = "tg_contiguous"; y = tg_contiguous(tape, x); break;
    case 12: fn = "tg_detach"; y = tg_detach(tape, x); break;
    case 13: fn = "tg_global_avg_pool2d"; y = tg_global_avg_pool2d(tape, x); break;
    case 14: fn = "tg_flatten"; y = tg_flatten(tape, x, axis(r)); break;
    case 15: fn = "tg_l1_penalty"; y = tg_l1_penalty(tape, x, value(r)); break;
    default: fn = "tg_l2_penalty"; y = tg_l2_penalty(tape, x, value(r)); break;
    }
    tape_op(y, f, !x, where);
}

static void op_scalar(rd *r)
{
    tg_tensor *x = pick(r);
    unsigned which = u8(r) % 7, where = u8(r);
    double a = value(r), b = value(r);
    bool f = tg_tape_failed(tape);
    tg_tensor *y = NULL;
    switch (which) {
    case 0: fn = "tg_add_scalar"; y = tg_add_scalar(tape, x, a); break;
    case 1: fn = "tg_mul_scalar"; y = tg_mul_scalar(tape, x, a); break;
    case 2: fn = "tg_pow_scalar"; y = tg_pow_scalar(tape, x, a); break;
    case 3: fn = "tg_leaky_relu"; y = tg_leaky_relu(tape, x, a); break;
    case 4: fn = "tg_clamp"; y = tg_clamp(tape, x, a, b); break;
    case 5: fn = "tg_in_range_mask"; y = tg_in_range_mask(tape, x, a, b); break;
    default:
        fn = "tg_dropout";
        {
            unsigned seed = u8(r), stream = u8(r);
            bool training = u8(r) & 1;
            y = tg_dropout(tape, x, a, seed, stream, training);
        }
        break;
    }
    tape_op(y, f, !x, where);
}

static void op_binary(rd *r)
{
    tg_tensor *a = pick(r), *b = pick(r);
    unsigned which = u8(r) % 12, where = u8(r);
    bool f = tg_tape_failed(tape);
    tg_tensor *y = NULL;
    switch (which) {
    case 0: fn = "tg_add"; y = tg_add(tape, a, b); break;
    case 1: fn = "tg_sub"; y = tg_sub(tape, a, b); break;
    case 2: fn = "tg_mul"; y = tg_mul(tape, a, b); break;
    case 3: fn = "tg_div"; y = tg_div(tape, a, b); break;
    case 4:
        fn = "tg_matmul";
        if (numel_d(a) * numel_d(b) > FLOP_CAP)
            return;
        y = tg_matmul(tape, a, b);
        break;
    case 5: fn = "tg_relu_backward"; y = tg_relu_backward(tape, a, b); break;
    case 6: fn = "tg_sigmoid_backward"; y = tg_sigmoid_backward(tape, a, b); break;
    case 7: fn = "tg_tanh_backward"; y = tg_tanh_backward(tape, a, b); break;
    case 8: fn = "tg_gelu_backward"; y = tg_gelu_backward(tape, a, b); break;
    case 9:
        fn = "tg_leaky_relu_backward";
        y = tg_leaky_relu_backward(tape, a, b, value(r));
        break;
    case 10: fn = "tg_sum_to"; y = tg_sum_to(tape, a, b); break;
    default:
        fn = "tg_dense";
        {
            tg_tensor *bias = pick(r);
            if (numel_d(a) * numel_d(b) > FLOP_CAP)
                return;
            y = tg_dense(tape, a, b, bias);
        }
        break;
    }
    tape_op(y, f, !a || !b, where);
}

static void op_view(rd *r)
{
    tg_tensor *x = pick(r);
    unsigned which = u8(r) % 6, where = u8(r);
    int64_t shape[TG_MAX_DIMS], st[TG_MAX_DIMS], sp[TG_MAX_DIMS], ss[TG_MAX_DIMS];
    int perm[TG_MAX_DIMS];
    bool f = tg_tape_failed(tape);
    tg_tensor *y = NULL;
    switch (which) {
    case 0:
        for (int i = 0; i < TG_MAX_DIMS; i++)
            if (u8(r) % 16) {
                perm[i] = (int)(u8(r) % 9);
                perm[i] -= u8(r) % 8 == 0 ? 9 : 0;
            } else {
                perm[i] = i;
            }
        fn = "tg_permute";
        y = tg_permute(tape, x, u8(r) % 16 ? perm : NULL);
        break;
    case 1: {
        int d0 = axis(r), d1 = axis(r);
        fn = "tg_transpose";
        y = tg_transpose(tape, x, d0, d1);
        break;
    }
    case 2:
    case 3: {
        int nd = shape_of(r, shape);
        if (u8(r) % 4 == 0 && nd > 0)
            shape[u8(r) % nd] = -1; /* inferred */
        int64_t n = nd < 0 || nd > TG_MAX_DIMS ? -3 : count(nd, shape);
        if (n > SLOT_CAP)
            return; /* a view of a tensor the program would not keep */
        if (which == 2) {
            fn = "tg_reshape";
            y = tg_reshape(tape, x, nd, shape);
        } else {
            fn = "tg_expand";
            y = tg_expand(tape, x, nd, shape);
        }
        break;
    }
    case 4:
    case 5:
        for (int i = 0; i < TG_MAX_DIMS; i++) {
            st[i] = (int64_t)(u8(r) % 9) - 4;
            sp[i] = u8(r) % 4 == 0 ? INT64_MAX : (int64_t)(u8(r) % 9) - 2;
            ss[i] = u8(r) < 240 ? 1 + u8(r) % 3 : special_dims[u8(r) % NSPECIAL];
        }
        if (which == 4) {
            fn = "tg_slice";
            y = tg_slice(tape, x, st, sp, u8(r) % 8 ? ss : NULL);
        } else {
            tg_tensor *like = pick(r);
            fn = "tg_slice_backward";
            y = tg_slice_backward(tape, x, like, st, sp, ss);
            tape_op(y, f, !x || !like, where);
            return;
        }
        break;
    }
    tape_op(y, f, !x, where);
}

static void op_reduce(rd *r)
{
    tg_tensor *x = pick(r);
    unsigned which = u8(r) % 6, where = u8(r);
    int axes[TG_MAX_DIMS + 2];
    int na = (int)(u8(r) % 4);
    if (u8(r) % 16 == 0)
        na = u8(r) % 2 ? -1 : 10;
    for (int i = 0; i < TG_MAX_DIMS + 2; i++)
        axes[i] = axis(r);
    bool keep_dim = u8(r) & 1;
    int ax = axis(r);
    bool f = tg_tape_failed(tape);
    tg_tensor *y = NULL;
    switch (which) {
    case 0: fn = "tg_sum"; y = tg_sum(tape, x, na, u8(r) % 16 ? axes : NULL, keep_dim); break;
    case 1: fn = "tg_mean"; y = tg_mean(tape, x, na, u8(r) % 16 ? axes : NULL, keep_dim); break;
    case 2: fn = "tg_max"; y = tg_max(tape, x, ax, keep_dim); break;
    case 3:
    case 4:
        fn = which == 3 ? "tg_softmax" : "tg_log_softmax";
        y = which == 3 ? tg_softmax(tape, x, ax) : tg_log_softmax(tape, x, ax);
        break;
    default: fn = "tg_argmax_mask"; y = tg_argmax_mask(tape, x, ax); break;
    }
    tape_op(y, f, !x, where);
}

static void op_concat(rd *r)
{
    tg_tensor *xs[5];
    int n = (int)(u8(r) % 6);
    n -= u8(r) % 16 == 0 ? 6 : 0;
    bool null_in = false;
    for (int i = 0; i < 5; i++) {
        xs[i] = pick(r);
        if (i < n && !xs[i])
            null_in = true;
    }
    int ax = axis(r);
    unsigned where = u8(r);
    bool nullarr = u8(r) % 16 == 0;
    bool f = tg_tape_failed(tape);
    fn = "tg_concat";
    tape_op(tg_concat(tape, n, nullarr ? NULL : xs, ax), f, null_in && !nullarr, where);
}

static void op_loss(rd *r)
{
    tg_tensor *p = pick(r), *y = pick(r), *g = pick(r);
    unsigned which = u8(r) % 11, where = u8(r);
    tg_ce_opts o = tg_ce_defaults();
    o.label_smoothing = u8(r) % 4 ? 0 : value(r);
    o.weights = u8(r) % 4 ? NULL : pick(r);
    const tg_ce_opts *op = u8(r) % 4 ? &o : NULL;
    bool f = tg_tape_failed(tape);
    tg_tensor *l = NULL;
    bool null_in = !p || !y;
    switch (which) {
    case 0: fn = "tg_softmax_cross_entropy"; l = tg_softmax_cross_entropy(tape, p, y, op); break;
    case 1:
        fn = "tg_softmax_cross_entropy_backward";
        l = tg_softmax_cross_entropy_backward(tape, p, y, g, op);
        null_in = null_in || !g;
        break;
    case 2: fn = "tg_bce_with_logits"; l = tg_bce_with_logits(tape, p, y); break;
    case 3: fn = "tg_binary_cross_entropy"; l = tg_binary_cross_entropy(tape, p, y); break;
    case 4: fn = "tg_categorical_cross_entropy"; l = tg_categorical_cross_entropy(tape, p, y); break;
    case 5: fn = "tg_mse"; l = tg_mse(tape, p, y); break;
    case 6: fn = "tg_mae"; l = tg_mae(tape, p, y); break;
    case 7: fn = "tg_huber"; l = tg_huber(tape, p, y, value(r)); break;
    case 8: fn = "tg_kl_div"; l = tg_kl_div(tape, p, y); break;
    case 9:
        fn = "tg_gather_last";
        l = tg_gather_last(tape, p, y);
        break;
    default:
        fn = "tg_scatter_add_last";
        l = tg_scatter_add_last(tape, p, y, dim(r));
        break;
    }
    tape_op(l, f, null_in, where);
}

static void op_conv(rd *r)
{
    tg_tensor *x = pick(r), *w = pick(r), *b = u8(r) % 2 ? pick(r) : NULL;
    unsigned which = u8(r) % 9, where = u8(r);
    const int64_t *k = pair(r, pair_a), *s = pair(r, pair_b), *p = pair(r, pair_c),
                  *d = pair(r, pair_d);
    bool f = tg_tape_failed(tape);
    tg_tensor *y = NULL;
    bool null_in = !x;
    switch (which) {
    case 0:
    case 1: {
        tg_conv2d_opts o = tg_conv2d_defaults();
        if (s)
            memcpy(o.stride, s, sizeof o.stride);
        if (p)
            memcpy(o.padding, p, sizeof o.padding);
        if (d)
            memcpy(o.dilation, d, sizeof o.dilation);
        o.groups = u8(r) % 4 ? 1 : small(r);
        null_in = !x || !w;
        if (w && !stale(w) && w->ndim == 4 &&
            conv_flops(x, w->shape + 2, s, p, d, (double)w->shape[0]) > FLOP_CAP)
            return;
        if (which == 0) {
            fn = "tg_conv2d";
            y = tg_conv2d(tape, x, w, b, u8(r) % 8 ? &o : NULL);
        } else {
            int64_t ws[4];
            ws[0] = dim(r);
            ws[1] = dim(r);
            ws[2] = small(r);
            ws[3] = small(r);
            if (conv_flops(x, ws + 2, s, p, d, (double)ws[0]) > FLOP_CAP ||
                numel_d(x) * numel_d(w) > FLOP_CAP)
                return;
            fn = "tg_conv2d_weight";
            const int64_t *wsp = u8(r) % 16 ? ws : NULL;
            y = tg_conv2d_weight(tape, x, w, wsp, u8(r) % 8 ? &o : NULL);
        }
        break;
    }
    case 2: {
        tg_conv1d_opts o = tg_conv1d_defaults();
        o.stride = s ? s[0] : 1;
        o.padding = p ? p[0] : 0;
        o.dilation = d ? d[0] : 1;
        o.groups = u8(r) % 4 ? 1 : small(r);
        null_in = !x || !w;
        if (numel_d(x) * numel_d(w) * (1 + (double)o.padding) > FLOP_CAP)
            return;
        fn = "tg_conv1d";
        y = tg_conv1d(tape, x, w, b, u8(r) % 8 ? &o : NULL);
        break;
    }
    case 3:
        if (conv_flops(x, k, s, p, d, 1) > FLOP_CAP)
            return;
        fn = "tg_im2col";
        y = tg_im2col(tape, x, k, s, p, d, value(r));
        break;
    case 4: {
        int64_t size[2];
        size[0] = small(r);
        size[1] = small(r);
        fn = "tg_col2im";
        y = tg_col2im(tape, x, u8(r) % 16 ? size : NULL, k, s, p, d);
        break;
    }
    case 5:
    case 6:
    case 7:
        if (conv_flops(x, k, s, p, NULL, 1) > FLOP_CAP)
            return;
        fn = which == 5 ? "tg_max_pool2d" : which == 6 ? "tg_avg_pool2d" : "tg_l2_pool2d";
        y = which == 5   ? tg_max_pool2d(tape, x, k, s, p)
            : which == 6 ? tg_avg_pool2d(tape, x, k, s, p)
                         : tg_l2_pool2d(tape, x, k, s, p);
        break;
    default: {
        tg_tensor *rm = u8(r) % 2 ? pick(r) : NULL, *rv = u8(r) % 2 ? pick(r) : NULL;
        if (u8(r) % 2) {
            fn = "tg_batch_norm";
            double momentum = value(r), eps = value(r);
            bool training = u8(r) & 1;
            y = tg_batch_norm(tape, x, w, b, rm, rv, momentum, eps, training);
        } else {
            fn = "tg_layer_norm";
            int nl = axis(r);
            y = tg_layer_norm(tape, x, nl, w, b, value(r));
        }
        break;
    }
    }
    tape_op(y, f, null_in, where);
}

static void op_activate(rd *r)
{
    tg_tensor *x = pick(r);
    unsigned a = u8(r) % 10, where = u8(r);
    bool f = tg_tape_failed(tape);
    fn = "tg_activate";
    tape_op(tg_activate(tape, x, (tg_activation)a, value(r)), f, !x, where);
}

/* tg_backward, tg_backward_ex, tg_grad: the status is the tape's */
static void op_backward(rd *r)
{
    tg_tensor *root = pick(r), *seed = u8(r) % 2 ? pick(r) : NULL;
    unsigned which = u8(r) % 3;
    tg_backward_opts o = tg_backward_defaults();
    o.create_graph = u8(r) & 1;
    tg_status before = tg_tape_status(tape);
    tg_status s;
    if (which == 0) {
        fn = "tg_backward";
        s = tg_backward(tape, root);
    } else if (which == 1) {
        fn = "tg_backward_ex";
        s = tg_backward_ex(tape, root, seed, u8(r) % 4 ? &o : NULL);
    } else {
        fn = "tg_grad";
        tg_tensor *xs[4], *grads[4];
        int n = (int)(u8(r) % 5);
        n -= u8(r) % 16 == 0 ? 5 : 0;
        for (int i = 0; i < 4; i++) {
            xs[i] = pick(r);
            grads[i] = (tg_tensor *)&grads; /* must be overwritten or left alone */
        }
        tg_tensor *const *xsp = u8(r) % 16 ? xs : NULL;
        tg_tensor **gp = u8(r) % 16 ? grads : NULL;
        s = tg_grad(tape, root, seed, n, xsp, gp, u8(r) % 4 ? &o : NULL);
        if (s == TG_OK)
            for (int i = 0; i < n; i++) {
                if (!grads[i] || grads[i] == (tg_tensor *)&grads)
                    fuzz_fail("tg_grad: TG_OK without gradient %d", i);
                check_tensor(grads[i]);
                if (grads[i]->tape == tape)
                    keep(grads[i], TAPE, u8(r));
            }
    }
    if (before != TG_OK && s != before)
        fuzz_fail("%s: returned %s on a tape failed with %s", fn, tg_status_name(s),
                  tg_status_name(before));
    if (s != TG_OK && tg_tape_status(tape) != s)
        fuzz_fail("%s: returned %s but the tape says %s", fn, tg_status_name(s),
                  tg_status_name(tg_tape_status(tape)));
    if (s != TG_OK && !tg_tape_error(tape)[0])
        fuzz_fail("%s: %s with the message '%s'", fn, tg_status_name(s), tg_tape_error(tape));
    /* the gradients that backward allocated are readable (persistent tensors only: a
     * kept tape tensor may be from an older generation, whose header may be reused) */
    for (int i = 0; i < NSLOT; i++)
        if (slot[i].t && slot[i].kind != TAPE && slot[i].t->grad)
            check_tensor(slot[i].t->grad);
}

static void reset_tape(void)
{
    fn = "tg_tape_reset";
    tg_tape_reset(tape);
    gens[tape == tapes[1]]++;
    if (tg_tape_failed(tape) || tg_tape_error(tape)[0] || tg_tape_nodes(tape) != 0)
        fuzz_fail("tg_tape_reset: the tape is not clean");
}

static void op_modes(rd *r)
{
    unsigned which = u8(r) % 4;
    bool on = u8(r) & 1;
    if (which == 0) {
        bool prev = tg_tape_grad_mode(tape);
        if (tg_tape_set_grad_mode(tape, on) != prev || tg_tape_grad_mode(tape) != on)
            fuzz_fail("tg_tape_set_grad_mode: modes disagree");
    } else if (which == 1) {
        tg_tape_set_anomaly_mode(tape, on);
    } else if (which == 2) {
        (void)tg_tape_arena_used(tape);
        (void)tg_tape_arena_high_water(tape);
        fn = "tg_tape_count_op";
        int op = (int)(u8(r) % 70) - 5;
        int64_t c = tg_tape_count_op(tape, op);
        if (c < 0 && op >= 0 && op < tg_op_count())
            fuzz_fail("tg_tape_count_op(%d) = %lld", op, (long long)c);
    } else if (which == 3 && u8(r) % 2) {
        tape = tape == tapes[0] ? tapes[1] : tapes[0]; /* slots keep the other's tensors */
    } else {
        tg_set_num_threads((int)(u8(r) % 8) - 2);
    }
}

static void op_free(rd *r)
{
    int i = (int)(u8(r) % NSLOT);
    drop(i); /* persistent ones are freed at the next reset: the tape may use them */
}

static void op_pview(rd *r)
{
    tg_tensor *x = pick_data(r);
    unsigned which = u8(r) % 8, where = u8(r);
    int64_t shape[TG_MAX_DIMS], st[TG_MAX_DIMS], sp[TG_MAX_DIMS], ss[TG_MAX_DIMS];
    int perm[TG_MAX_DIMS];
    tg_tensor *y = NULL;
    switch (which) {
    case 0:
    case 1: {
        int nd = shape_of(r, shape);
        int64_t n = nd < 0 || nd > TG_MAX_DIMS ? -3 : count(nd, shape);
        if (n > SLOT_CAP)
            return;
        if (which == 0) {
            fn = "tg_view_reshape";
            y = tg_view_reshape(x, nd, u8(r) % 16 ? shape : NULL);
        } else {
            fn = "tg_view_expand";
            y = tg_view_expand(x, nd, u8(r) % 16 ? shape : NULL);
        }
        break;
    }
    case 2:
        for (int i = 0; i < TG_MAX_DIMS; i++)
            if (u8(r) % 16) {
                perm[i] = (int)(u8(r) % 9);
                perm[i] -= u8(r) % 8 == 0 ? 9 : 0;
            } else {
                perm[i] = i;
            }
        fn = "tg_view_permute";
        y = tg_view_permute(x, u8(r) % 16 ? perm : NULL);
        break;
    case 3: {
        int d0 = axis(r), d1 = axis(r);
        fn = "tg_view_transpose";
        y = tg_view_transpose(x, d0, d1);
        break;
    }
    case 4:
        for (int i = 0; i < TG_MAX_DIMS; i++) {
            st[i] = (int64_t)(u8(r) % 9) - 4;
            sp[i] = u8(r) % 4 == 0 ? INT64_MAX : (int64_t)(u8(r) % 9) - 2;
            ss[i] = u8(r) < 240 ? 1 + u8(r) % 3 : special_dims[u8(r) % NSPECIAL];
        }
        fn = "tg_view_slice";
        y = tg_view_slice(x, u8(r) % 16 ? st : NULL, sp, ss);
        break;
    case 5: fn = "tg_tensor_contiguous"; y = tg_tensor_contiguous(x); break;
    case 6: fn = "tg_tensor_clone"; y = tg_tensor_clone(x); break;
    default: {
        fn = "tg_take_rows";
        int64_t idx[6];
        int64_t n = (int64_t)(u8(r) % 7);
        n -= u8(r) % 16 == 0 ? 7 : 0;
        for (int i = 0; i < 6; i++)
            idx[i] = (int64_t)(u8(r) % 8) - 1;
        y = tg_take_rows(x, n, u8(r) % 16 ? idx : NULL);
        break;
    }
    }
    created(y, 0, where);
}

static void op_inspect(rd *r)
{
    tg_tensor *x = pick_data(r), *z = pick_data(r);
    unsigned which = u8(r) % 12;
    int64_t idx[TG_MAX_DIMS];
    for (int i = 0; i < TG_MAX_DIMS; i++)
        idx[i] = (int64_t)(u8(r) % 6) - 1;
    int64_t flat = (int64_t)(u8(r) % 20) - 2;
    tg_dtype xdt = x ? x->dtype : TG_F32;
    double v = int_value(r, xdt);
    tg_status s = TG_OK;
    switch (which) {
    case 0: {
        fn = "tg_tensor_get";
        double g = tg_tensor_get(x, u8(r) % 16 ? idx : NULL);
        if (isnan(g) && !tg_last_error()[0])
            fuzz_fail("tg_tensor_get: NaN without a message");
        return;
    }
    case 1: fn = "tg_tensor_set"; s = tg_tensor_set(x, u8(r) % 16 ? idx : NULL, v); break;
    case 2: fn = "tg_tensor_get_flat"; (void)tg_tensor_get_flat(x, flat); return;
    case 3: fn = "tg_tensor_set_flat"; s = tg_tensor_set_flat(x, flat, v); break;
    case 4: fn = "tg_tensor_fill"; s = tg_tensor_fill(x, v); break;
    case 5: {
        tg_dtype dt = dtype(r);
        static double out[SLOT_CAP + 1];
        if (x && tg_tensor_numel(x) > SLOT_CAP)
            return;
        fn = "tg_tensor_copy_out";
        s = tg_tensor_copy_out(x, dt, u8(r) % 16 ? out : NULL);
        break;
    }
    case 6:
        fn = "tg_tensor_copy";
        s = tg_tensor_copy(x, z);
        break;
    case 7: {
        fn = "tg_tensor_format";
        char buf[64];
        memset(buf, 'x', sizeof buf);
        size_t size = u8(r) % 2 ? sizeof buf : (size_t)(u8(r) % 3);
        (void)tg_tensor_format(x, buf, size);
        if (size == 0 ? buf[0] != 'x' : strnlen(buf, size) >= size)
            fuzz_fail("tg_tensor_format: wrote outside size %zu or no NUL", size);
        return;
    }
    case 8:
        (void)tg_tensor_is_contiguous(x);
        (void)tg_tensor_same_shape(x, z);
        (void)tg_tensor_numel(x);
        (void)tg_tensor_hash(x);
        return;
    case 9:
        fn = "tg_tensor_set_requires_grad";
        s = tg_tensor_set_requires_grad(x, u8(r) & 1);
        if (x && x->tape && s == TG_OK && tg_tensor_requires_grad(x) && x->dtype == TG_I32)
            fuzz_fail("an I32 tensor requires grad");
        break;
    case 10:
        fn = "tg_tensor_zero_grad";
        s = tg_tensor_zero_grad(x);
        tg_tensor_set_label(x, "fuzz");
        break;
    default: {
        fn = "tg_tensor_print";
        FILE *f = fopen("/dev/null", "w");
        if (!f)
            return;
        s = tg_tensor_print(x, u8(r) % 16 ? f : NULL);
        fclose(f);
        break;
    }
    }
    if (s != TG_OK)
        failed_call(s);
}

static void op_metrics(rd *r)
{
    tg_tensor *a = pick_data(r), *b = pick_data(r);
    unsigned which = u8(r) % 6;
    switch (which) {
    case 0:
        (void)tg_accuracy(a, b); /* values unchecked */
        break;
    case 1: (void)tg_binary_accuracy(a, b); break;
    case 2: (void)tg_regression_accuracy(a, b, value(r)); break;
    case 3: {
        int64_t counts[64];
        /* counts holds 8 x 8; a larger C only where it must be rejected (C*C beyond
         * any array) */
        int64_t C = u8(r) % 16 ? (int64_t)(u8(r) % 10) - 1 : special_dims[u8(r) % NSPECIAL];
        if (C > 8 && C <= ((int64_t)1 << 28))
            C = 8;
        fn = "tg_confusion_matrix";
        tg_status s = tg_confusion_matrix(a, b, C, u8(r) % 16 ? counts : NULL);
        if (s != TG_OK)
            failed_call(s);
        else if (C > 8)
            fuzz_fail("tg_confusion_matrix: TG_OK for C = %lld", (long long)C);
        else {
            double pr, rc, f1;
            tg_precision_recall_f1(counts, C, (int64_t)(u8(r) % 10) - 1, &pr, &rc, &f1);
        }
        break;
    }
    case 4:
        (void)tg_roc_auc(a, b);
        break;
    default: {
        fn = "tg_scaler_fit";
        tg_scaler *sc = tg_scaler_fit(u8(r) % 3 == 2 ? (tg_scale_kind)5
                                                      : (tg_scale_kind)(u8(r) % 2), a);
        if (!sc) {
            if (!strstr(tg_last_error(), fn))
                fuzz_fail("tg_scaler_fit: NULL with '%s'", tg_last_error());
            return;
        }
        tg_status s;
        fn = "tg_scaler_apply";
        if ((s = tg_scaler_apply(sc, b)) != TG_OK)
            failed_call(s);
        fn = "tg_scaler_inverse";
        if ((s = tg_scaler_inverse(sc, b)) != TG_OK)
            failed_call(s);
        fn = "tg_scaler_transform";
        created(tg_scaler_transform(sc, b), 0, u8(r));
        tg_scaler_free(&sc);
        break;
    }
    }
}

/* an optimizer over up to three slot tensors: created, stepped, freed in one call */
static void op_optim(rd *r)
{
    tg_tensor *ps[3];
    int n = (int)(u8(r) % 4);
    for (int i = 0; i < 3; i++) {
        ps[i] = pick_data(r);
    }
    unsigned which = u8(r) % 6;
    tg_optim *o = NULL;
    switch (which) {
    case 0: {
        tg_sgd_opts so = tg_sgd_defaults();
        so.momentum = u8(r) % 2 ? 0.9 : value(r);
        so.nesterov = u8(r) & 1;
        so.lr = value(r);
        fn = "tg_sgd_new";
        o = tg_sgd_new(n, ps, u8(r) % 4 ? &so : NULL);
        break;
    }
    case 1: {
        tg_adagrad_opts ao = tg_adagrad_defaults();
        ao.eps = value(r);
        fn = "tg_adagrad_new";
        o = tg_adagrad_new(n, ps, &ao);
        break;
    }
    case 2: {
        tg_rmsprop_opts ro = tg_rmsprop_defaults();
        ro.rho = value(r);
        fn = "tg_rmsprop_new";
        o = tg_rmsprop_new(n, ps, &ro);
        break;
    }
    case 3:
    case 4: {
        tg_adam_opts ao = which == 3 ? tg_adam_defaults() : tg_adamw_defaults();
        ao.beta1 = u8(r) % 2 ? 0.9 : value(r);
        ao.weight_decay = u8(r) % 2 ? 0 : value(r);
        fn = which == 3 ? "tg_adam_new" : "tg_adamw_new";
        o = which == 3 ? tg_adam_new(n, ps, &ao) : tg_adamw_new(n, ps, &ao);
        break;
    }
    default: {
        fn = "tg_clip_grad_norm";
        double norm;
        double max_norm = value(r);
        tg_status s = tg_clip_grad_norm(n, ps, max_norm, u8(r) % 2 ? &norm : NULL);
        if (s != TG_OK)
            failed_call(s);
        fn = "tg_clip_grad_value";
        s = tg_clip_grad_value(n, ps, value(r));
        if (s != TG_OK)
            failed_call(s);
        fn = "tg_early_stop_new";
        int patience = (int)(u8(r) % 3);
        tg_early_stop *e = tg_early_stop_new(n, ps, patience, value(r));
        if (!e) {
            failed_call(TG_EINVAL);
            return;
        }
        for (int i = 0; i < 3; i++)
            (void)tg_early_stop_update(e, value(r));
        if (tg_early_stop_restore(e) != TG_OK)
            fuzz_fail("tg_early_stop_restore failed");
        tg_early_stop_free(&e);
        return;
    }
    }
    if (!o) {
        failed_call(TG_EINVAL);
        return;
    }
    for (int k = 0; k < 2; k++) {
        tg_status s = u8(r) % 2 ? tg_optim_step(o) : tg_optim_step_zero(o);
        fn = "tg_optim_step";
        if (s != TG_OK && !strstr(tg_last_error(), "tg_optim_step"))
            fuzz_fail("tg_optim_step: %s with '%s'", tg_status_name(s), tg_last_error());
    }
    tg_optim_zero_grad(o);
    for (int i = 0; i < tg_optim_state_count(o); i++)
        check_tensor(tg_optim_state_tensor(o, i, NULL));
    tg_optim_free(&o);
}

static void op_model(rd *r)
{
    unsigned which = u8(r) % 9;
    tg_status s = TG_OK;
    if (!model) {
        fn = "tg_model_new";
        tg_dtype mdt = u8(r) % 2 ? TG_F32 : TG_F64;
        model = tg_model_new(mdt, u8(r));
        if (!model)
            fuzz_fail("tg_model_new: %s", tg_last_error());
    }
    if (tg_model_layer_count(model) > 12 && which < 7)
        which = 7;
    switch (which) {
    case 0: {
        tg_dense_opts o = tg_dense_defaults();
        o.l2_weight = value(r);
        int64_t in = dim(r), out = dim(r);
        if ((double)in * (double)out > SLOT_CAP && (double)in * (double)out * 8 < ALLOC_CAP)
            return;
        fn = "tg_model_add_dense";
        s = tg_model_add_dense(model, in, out, u8(r) % 4 ? &o : NULL);
        break;
    }
    case 1:
        fn = "tg_model_add_activation";
        {
            tg_activation act = (tg_activation)(u8(r) % 10);
            s = tg_model_add_activation(model, act, value(r));
        }
        break;
    case 2: fn = "tg_model_add_dropout"; s = tg_model_add_dropout(model, value(r)); break;
    case 3: {
        tg_conv2d_layer_opts o = tg_conv2d_layer_defaults();
        o.padding[0] = small(r);
        o.groups = u8(r) % 4 ? 1 : small(r);
        int64_t k[2];
        k[0] = small(r);
        k[1] = small(r);
        int64_t ci = dim(r), co = dim(r);
        fn = "tg_model_add_conv2d";
        s = tg_model_add_conv2d(model, ci, co, k, u8(r) % 4 ? &o : NULL);
        break;
    }
    case 4: {
        tg_pool2d_opts o = tg_pool2d_defaults();
        o.padding[1] = small(r);
        int64_t k[2];
        k[0] = small(r);
        k[1] = small(r);
        fn = u8(r) % 2 ? "tg_model_add_max_pool2d" : "tg_model_add_avg_pool2d";
        s = fn[13] == 'm' ? tg_model_add_max_pool2d(model, u8(r) % 16 ? k : NULL, &o)
                          : tg_model_add_avg_pool2d(model, k, u8(r) % 4 ? &o : NULL);
        break;
    }
    case 5: {
        tg_batch_norm_opts o = tg_batch_norm_defaults();
        o.momentum = value(r);
        int64_t c = dim(r);
        if (c > SLOT_CAP)
            return;
        fn = "tg_model_add_batch_norm";
        s = tg_model_add_batch_norm(model, c, u8(r) % 4 ? &o : NULL);
        break;
    }
    case 6:
        if (u8(r) % 2) {
            fn = "tg_model_add_flatten";
            s = tg_model_add_flatten(model);
        } else {
            int64_t shape[TG_MAX_DIMS];
            int nd = shape_of(r, shape);
            int64_t n = nd < 0 || nd > TG_MAX_DIMS ? -3 : count(nd, shape);
            if (n > SLOT_CAP || n == -2)
                return;
            tg_layer_norm_opts o = tg_layer_norm_defaults();
            fn = "tg_model_add_layer_norm";
            s = tg_model_add_layer_norm(model, nd, u8(r) % 16 ? shape : NULL, &o);
        }
        break;
    case 7: {
        tg_tensor *x = pick(r);
        unsigned where = u8(r);
        bool f = tg_tape_failed(tape);
        if (numel_d(x) * (double)tg_model_num_elements(model) > FLOP_CAP)
            return;
        fn = "tg_model_forward";
        tape_op(tg_model_forward(model, tape, x, u8(r) & 1), f, !x, where);
        return;
    }
    default: {
        bool f = tg_tape_failed(tape);
        fn = "tg_model_penalty";
        tape_op(tg_model_penalty(model, tape), f, false, u8(r));
        /* lend a parameter to the program (the model owns it) */
        int np = tg_model_param_count(model);
        if (np > 0) {
            int i = (int)(u8(r) % (unsigned)np);
            tg_tensor *p = tg_model_params(model)[i];
            (void)tg_model_param_name(model, i);
            if (!is_slot(p)) {
                int k = (int)(u8(r) % NSLOT);
                drop(k);
                slot[k].t = p;
                slot[k].kind = BORROWED;
            }
        }
        (void)tg_model_hash(model);
        return;
    }
    }
    if (s != TG_OK)
        failed_call(s);
}

static void op_prep(rd *r)
{
    tg_tensor *x = pick_data(r), *y = u8(r) % 2 ? pick_data(r) : NULL;
    unsigned which = u8(r) % 3;
    tg_tensor *o[6] = {0};
    tg_status s;
    if (which == 0) {
        fn = "tg_split";
        double vf = value(r), tf = value(r);
        s = tg_split(x, y, vf, tf, u8(r), &o[0], &o[1], &o[2], &o[3], &o[4], &o[5]);
    } else if (which == 1) {
        fn = "tg_kfold";
        int k = (int)(u8(r) % 6) - 1, fold = (int)(u8(r) % 6) - 1;
        s = tg_kfold(x, y, k, fold, u8(r), &o[0], &o[1], &o[2], &o[3]);
    } else {
        fn = "tg_batcher_new";
        int64_t bs = (int64_t)(u8(r) % 6) - 1;
        bool shuffle = u8(r) & 1, drop_last = u8(r) & 1;
        tg_batcher *b = tg_batcher_new(x, y, bs, shuffle, drop_last, u8(r));
        if (!b) {
            failed_call(TG_EINVAL);
            return;
        }
        tg_tensor *xb, *yb;
        for (int i = 0; i < 8; i++)
            if (tg_batcher_next(b, &xb, &yb)) {
                check_tensor(xb);
                if (yb)
                    check_tensor(yb);
            }
        (void)tg_batcher_epoch(b);
        tg_batcher_free(&b);
        return;
    }
    if (s != TG_OK) {
        failed_call(s);
        for (int i = 0; i < 6; i++)
            if (o[i])
                fuzz_fail("%s: output %d set on failure", fn, i);
    }
    for (int i = 0; i < 6; i++) {
        if (o[i])
            check_tensor(o[i]);
        tg_tensor_free(&o[i]);
    }
}

typedef void (*op_fn)(rd *r);
static const op_fn ops[] = {
    op_create, op_create, op_create, op_unary, op_unary, op_scalar, op_binary, op_binary,
    op_view,   op_view,   op_reduce, op_concat, op_loss, op_conv, op_activate, op_backward,
    op_modes,  op_free,   op_pview,  op_inspect, op_metrics, op_optim, op_model, op_prep,
};
#define NOPS ((unsigned)(sizeof ops / sizeof ops[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init, trace;
    if (!init) {
        trace = getenv("FUZZ_API_TRACE") != NULL; /* prints each call: seeds, reproducers */
        tg_set_allocator(&(tg_allocator){cap_alloc, cap_free, NULL});
        tg_set_num_threads(1);
        init = true;
    }
    rd r = {data, size};
    tapes[0] = tg_tape_new();
    tapes[1] = tg_tape_new();
    tape = tapes[0];
    if (!tape || !tapes[1])
        fuzz_fail("tg_tape_new: %s", tg_last_error());
    for (int step = 0; step < MAX_STEPS && r.n; step++) {
        unsigned op = u8(&r);
        fn = "(skipped)";
        if (op >= 250) /* reset: frequent enough that a failed tape does not end the run */
            reset_tape();
        else
            ops[op % NOPS](&r);
        if (trace) {
            fprintf(stderr, "%3d %-32s tape %s '%s' last error '%s'\n    slots", step, fn,
                    tg_status_name(tg_tape_status(tape)), tg_tape_error(tape), tg_last_error());
            for (int i = 0; i < NSLOT; i++)
                if (slot[i].t)
                    fprintf(stderr, " %d:%c%s%s", i, "-OBT"[slot[i].kind],
                            tg_dtype_name(slot[i].t->dtype), shape_text(slot[i].t));
            fputc('\n', stderr);
        }
    }
    for (int i = 0; i < NSLOT; i++)
        drop(i);
    tg_tape_free(&tapes[0]);
    tg_tape_free(&tapes[1]);
    tape = NULL;
    free_deferred();
    tg_model_free(&model);
    if (live_blocks != 0 || live_bytes != 0)
        fuzz_fail("%ld blocks (%zu bytes) still allocated at the end", live_blocks, live_bytes);
    return 0;
}
