/* tapegrad — the tape, differentiable ops, the backward engine and gradcheck.
 *
 * Every op takes the tape first. Its output is a tape tensor owned by the tape's arena,
 * valid until tg_tape_reset / tg_tape_free. When recording is on and an input requires
 * grad, the op records a node; tg_backward walks the nodes in reverse.
 *
 * Errors: an op given bad arguments returns NULL and records a sticky error on the tape
 * (the first error wins; its message names the op and the shapes). An op given a NULL
 * input, or called on a failed tape, returns NULL without a new error, so an expression
 * can be written naturally and checked once: tg_backward returns the status and
 * tg_tape_error the message. tg_tape_reset clears the error.
 *
 * Tape identity: every tape tensor remembers its tape and the tape's generation (each
 * tg_tape_reset starts a new one). Ops, tg_backward and tg_grad refuse (TG_EINVAL, the
 * message naming the op and the input) a tensor of another tape or one made before the
 * last reset; their inputs are persistent tensors or current tensors of their own tape.
 * Outside ops (tg_tensor_get, metrics, copies), a tape tensor must not be read after its
 * tape's reset: its memory already holds newer tensors.
 * A persistent view (tg_view_*) of a tensor that requires grad is refused by ops that
 * record (gradients do not flow through persistent views): use the tape's view ops
 * (tg_transpose, tg_reshape, tg_slice, ...) on the parameter itself.
 *
 * Threads: a tape is used by one thread at a time; different tapes on different threads
 * may run at the same time, also over shared persistent tensors (parameters): the
 * backward walk keeps all its state in its tape. tg_grad touches no persistent tensor.
 * tg_backward adds into the shared ->grad under a per-tensor lock, so concurrent
 * backwards lose nothing, but the order of the additions (and so the last bits of a
 * sum of 3 or more terms) follows the threads' timing: for bit-reproducible
 * data-parallel steps, take tg_grad on each thread and add the results in a fixed order.
 *
 * Accumulation: every reduction (sum, mean, the losses, penalties and norms)
 * accumulates in double for F32 as for F64, whatever the layout, and rounds once to
 * the output (an F32 sum of 2^24 + 1 ones is 2^24 + 1). Matrix products and
 * convolutions accumulate in the tensor's dtype, as BLAS does. */
#ifndef TG_AUTOGRAD_H
#define TG_AUTOGRAD_H

#include "../tensor/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- tape ---- */

/* A new empty tape, recording on; NULL on out-of-memory (tg_last_error). Free with
 * tg_tape_free. The tape's arena grows as needed and keeps its memory across resets. */
TG_API tg_tape *tg_tape_new(void);
TG_API void tg_tape_free(tg_tape **t);
/* Releases every tape tensor at once (O(1)), clears the error and keeps the memory. */
TG_API void tg_tape_reset(tg_tape *t);
TG_API bool tg_tape_failed(const tg_tape *t);
TG_API tg_status tg_tape_status(const tg_tape *t);
/* Message of the first error ("" if none); owned by the tape. */
TG_API const char *tg_tape_error(const tg_tape *t);
/* Grad mode: when off, ops compute but record nothing. Returns the previous mode. */
TG_API bool tg_tape_set_grad_mode(tg_tape *t, bool record);
TG_API bool tg_tape_grad_mode(const tg_tape *t);
/* Anomaly mode (off by default; a single branch per op when off). When on:
 *  - the first op whose output contains NaN or Inf fails the tape with TG_ENUMERIC and
 *    a message naming the op, its tape position and its inputs' labels;
 *  - in backward, the first op whose computed input gradient contains NaN or Inf is
 *    reported the same way;
 *  - every recorded op remembers the XXH3 hash of each input, and backward verifies
 *    them: an input overwritten in place between forward and backward is reported by
 *    op, position and label instead of giving silently wrong gradients.
 * Returns the previous mode. */
TG_API bool tg_tape_set_anomaly_mode(tg_tape *t, bool on);

/* Number of recorded nodes; bytes in use in the arena; the largest use seen. */
TG_API int64_t tg_tape_nodes(const tg_tape *t);
TG_API size_t tg_tape_arena_used(const tg_tape *t);
TG_API size_t tg_tape_arena_high_water(const tg_tape *t);

/* ---- gradients of persistent tensors ---- */

/* Marks a persistent F32/F64 tensor as a leaf whose gradient accumulates in t->grad
 * (allocated, zeroed, on the first backward that reaches it). */
TG_API tg_status tg_tensor_set_requires_grad(tg_tensor *t, bool requires);
TG_API bool tg_tensor_requires_grad(const tg_tensor *t);
/* Sets t->grad to zero (no-op if it has none yet). */
TG_API tg_status tg_tensor_zero_grad(tg_tensor *t);
/* Attaches a label used in error and anomaly messages (not copied: keep it alive). */
TG_API void tg_tensor_set_label(tg_tensor *t, const char *label);

typedef struct tg_backward_opts {
    bool create_graph; /* record the backward's own ops so gradients can be differentiated */
} tg_backward_opts;
TG_API tg_backward_opts tg_backward_defaults(void);

/* Back-propagates from a scalar (one-element) `root`: every persistent tensor that
 * requires grad and that root depends on gets d root / d t added to t->grad.
 * Returns the tape's status (the first error of the forward pass, if any). */
TG_API tg_status tg_backward(tg_tape *t, tg_tensor *root);
/* Same with an explicit seed gradient (root's shape and dtype; NULL means ones for a
 * scalar root) and options. */
TG_API tg_status tg_backward_ex(tg_tape *t, tg_tensor *root, tg_tensor *seed,
                                const tg_backward_opts *opts);
/* Gradients of root w.r.t. each of xs[0..n-1], returned in grads[] as tape tensors
 * (NULL-free: zeros when root does not depend on xs[i]); t->grad fields are untouched.
 * With opts->create_graph the returned gradients are on the tape and can be
 * differentiated again (second derivatives, Hessian-vector products). */
TG_API tg_status tg_grad(tg_tape *t, tg_tensor *root, tg_tensor *seed, int n,
                         tg_tensor *const *xs, tg_tensor **grads, const tg_backward_opts *opts);

/* ---- tape constants ---- */
/* Tape tensors that require no grad (owned by the tape). */
TG_API tg_tensor *tg_tape_zeros(tg_tape *t, tg_dtype dt, int ndim, const int64_t *shape);
TG_API tg_tensor *tg_tape_full(tg_tape *t, tg_dtype dt, int ndim, const int64_t *shape,
                               double value);
/* A view of x that is cut from the graph: same data, no grad. */
TG_API tg_tensor *tg_detach(tg_tape *t, tg_tensor *x);

/* ---- differentiable ops (F32 and F64; inputs of one op share a dtype) ----
 * Elementwise binary ops broadcast with NumPy rules. */
TG_API tg_tensor *tg_add(tg_tape *t, tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_sub(tg_tape *t, tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_mul(tg_tape *t, tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_div(tg_tape *t, tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_neg(tg_tape *t, tg_tensor *x);
TG_API tg_tensor *tg_add_scalar(tg_tape *t, tg_tensor *x, double s);
TG_API tg_tensor *tg_mul_scalar(tg_tape *t, tg_tensor *x, double s);
/* x^p; gradient p x^(p-1), 0 for p = 0 */
TG_API tg_tensor *tg_pow_scalar(tg_tape *t, tg_tensor *x, double p);
TG_API tg_tensor *tg_exp(tg_tape *t, tg_tensor *x);
TG_API tg_tensor *tg_log(tg_tape *t, tg_tensor *x);
TG_API tg_tensor *tg_sqrt(tg_tape *t, tg_tensor *x);
TG_API tg_tensor *tg_abs(tg_tape *t, tg_tensor *x);     /* gradient sign(x), 0 at 0 */
TG_API tg_tensor *tg_relu(tg_tape *t, tg_tensor *x);    /* gradient 0 at 0 */
TG_API tg_tensor *tg_leaky_relu(tg_tape *t, tg_tensor *x, double alpha);
TG_API tg_tensor *tg_sigmoid(tg_tape *t, tg_tensor *x);
TG_API tg_tensor *tg_tanh(tg_tape *t, tg_tensor *x);
TG_API tg_tensor *tg_gelu(tg_tape *t, tg_tensor *x);    /* exact: x * Phi(x) */
TG_API tg_tensor *tg_softplus(tg_tape *t, tg_tensor *x);
/* [..., M, K] x [..., K, N] -> [..., M, N]; batch dims broadcast; both at least 2-D */
TG_API tg_tensor *tg_matmul(tg_tape *t, tg_tensor *a, tg_tensor *b);
/* Views (no copy) */
TG_API tg_tensor *tg_permute(tg_tape *t, tg_tensor *x, const int *perm);
TG_API tg_tensor *tg_transpose(tg_tape *t, tg_tensor *x, int d0, int d1);
/* one -1 entry is inferred; a non-contiguous x is copied first */
TG_API tg_tensor *tg_reshape(tg_tape *t, tg_tensor *x, int ndim, const int64_t *shape);
TG_API tg_tensor *tg_slice(tg_tape *t, tg_tensor *x, const int64_t *start, const int64_t *stop,
                           const int64_t *step);
TG_API tg_tensor *tg_expand(tg_tape *t, tg_tensor *x, int ndim, const int64_t *shape);
/* A contiguous copy of x (differentiable). */
TG_API tg_tensor *tg_contiguous(tg_tape *t, tg_tensor *x);
/* n tensors joined along axis (other dims equal). */
TG_API tg_tensor *tg_concat(tg_tape *t, int n, tg_tensor *const *xs, int axis);
/* Reductions over the axes listed (naxes == 0: all axes); negative axes count from the
 * end; keepdim keeps reduced axes with size 1. Accumulated in double (see the top);
 * the mean of an empty axis is NaN, the sum 0. */
TG_API tg_tensor *tg_sum(tg_tape *t, tg_tensor *x, int naxes, const int *axes, bool keepdim);
TG_API tg_tensor *tg_mean(tg_tape *t, tg_tensor *x, int naxes, const int *axes, bool keepdim);
/* max over one axis; the gradient goes to the first maximum of each row */
TG_API tg_tensor *tg_max(tg_tape *t, tg_tensor *x, int axis, bool keepdim);
/* softmax / log-softmax along one axis (row max subtracted), x's shape; over an empty
 * axis the output is empty too (as in PyTorch), and so is the gradient */
TG_API tg_tensor *tg_softmax(tg_tape *t, tg_tensor *x, int axis);
TG_API tg_tensor *tg_log_softmax(tg_tape *t, tg_tensor *x, int axis);

/* Helper ops used by backward passes (registered, differentiable, gradchecked):
 * g * (x > 0); g * (x > 0 ? 1 : alpha); g * y * (1 - y); g * (1 - y^2);
 * g * (Phi(x) + x phi(x)). */
TG_API tg_tensor *tg_relu_backward(tg_tape *t, tg_tensor *g, tg_tensor *x);
TG_API tg_tensor *tg_leaky_relu_backward(tg_tape *t, tg_tensor *g, tg_tensor *x, double alpha);
TG_API tg_tensor *tg_sigmoid_backward(tg_tape *t, tg_tensor *g, tg_tensor *y);
TG_API tg_tensor *tg_tanh_backward(tg_tape *t, tg_tensor *g, tg_tensor *y);
TG_API tg_tensor *tg_gelu_backward(tg_tape *t, tg_tensor *g, tg_tensor *x);
/* g placed into zeros of `like`'s shape at the region tg_slice(like, start, stop, step)
 * selects (the adjoint of slice). */
TG_API tg_tensor *tg_slice_backward(tg_tape *t, tg_tensor *g, const tg_tensor *like,
                                    const int64_t *start, const int64_t *stop,
                                    const int64_t *step);
/* sum of g over broadcast axes so that the result has `like`'s shape (adjoint of
 * expand); an op built on tg_sum and tg_reshape */
TG_API tg_tensor *tg_sum_to(tg_tape *t, tg_tensor *g, const tg_tensor *like);

/* Non-differentiable functions: results require no grad. */
TG_API tg_tensor *tg_sign(tg_tape *t, tg_tensor *x);
/* 1 at the first maximum along axis, 0 elsewhere (x's shape) */
TG_API tg_tensor *tg_argmax_mask(tg_tape *t, tg_tensor *x, int axis);

/* ---- losses and fused ops ----
 * Every loss returns a scalar (0-d) tensor averaged the way PyTorch's default
 * reduction ('mean') does: over every element for elementwise losses, over the batch
 * for the cross-entropies. Targets (and class weights) are constants at every order:
 * no gradient flows into them, and a target that requires grad is detached inside the
 * backward too, so a gradient recorded with create_graph does not depend on it
 * (d/dy dL/dx = 0 = d/dx dL/dy).
 * Target dtype: I32 class indices [N] ("sparse") or the input's float dtype and shape
 * ("dense": one-hot or probability rows). */

/* clamp(x, lo, hi); gradient 1 where lo <= x <= hi, else 0 */
TG_API tg_tensor *tg_clamp(tg_tape *t, tg_tensor *x, double lo, double hi);
/* 1 where lo <= x <= hi, else 0 (no gradient) */
TG_API tg_tensor *tg_in_range_mask(tg_tape *t, tg_tensor *x, double lo, double hi);

typedef struct tg_ce_opts {
    double label_smoothing;     /* eps in [0,1): target (1-eps) y + eps/C */
    const tg_tensor *weights;   /* per-class weights [C] (same dtype as logits) or NULL;
                                   constants like the targets */
} tg_ce_opts;
TG_API tg_ce_opts tg_ce_defaults(void);
/* Fused softmax + cross-entropy on logits [N, C] (log-sum-exp, row max subtracted),
 * PyTorch's F.cross_entropy(logits, target, weight=w, label_smoothing=eps) with
 * reduction 'mean'. With logp = log_softmax(logits) and w = 1 when absent:
 *   sparse y:  sum_i [(1-eps) w[y_i] (-logp[i,y_i]) + eps/C sum_c w[c] (-logp[i,c])]
 *              / sum_i w[y_i]
 *   dense y:   sum_i sum_c w[c] ((1-eps) y[i,c] + eps/C) (-logp[i,c]) / N
 *              (eps/C whatever a row of y sums to).
 * opts may be NULL. Backward is (s_i softmax(z) - a) g / D in one loop, a being the
 * coefficients above and s_i their row sums (op softmax_cross_entropy_backward). */
TG_API tg_tensor *tg_softmax_cross_entropy(tg_tape *t, tg_tensor *logits,
                                           const tg_tensor *target, const tg_ce_opts *opts);
/* the gradient of tg_softmax_cross_entropy w.r.t. the logits, times the scalar g */
TG_API tg_tensor *tg_softmax_cross_entropy_backward(tg_tape *t, tg_tensor *logits,
                                                    const tg_tensor *target, tg_tensor *g,
                                                    const tg_ce_opts *opts);
/* mean over elements of max(x,0) - x y + log(1 + exp(-|x|)); y same shape as x */
TG_API tg_tensor *tg_bce_with_logits(tg_tape *t, tg_tensor *x, const tg_tensor *y);
/* mean over elements of -(y log p + (1-y) log(1-p)), p clipped to [1e-7, 1-1e-7] */
TG_API tg_tensor *tg_binary_cross_entropy(tg_tape *t, tg_tensor *p, const tg_tensor *y);
/* mean over the batch of -sum_c y_c log p_c on probabilities [N, C], clipped to
 * [1e-7, 1-1e-7]; sparse or dense targets */
TG_API tg_tensor *tg_categorical_cross_entropy(tg_tape *t, tg_tensor *p, const tg_tensor *y);
/* mean over elements of (p-y)^2, |p-y| (gradient 0 at 0), and Huber with delta */
TG_API tg_tensor *tg_mse(tg_tape *t, tg_tensor *p, const tg_tensor *y);
TG_API tg_tensor *tg_mae(tg_tape *t, tg_tensor *p, const tg_tensor *y);
TG_API tg_tensor *tg_huber(tg_tape *t, tg_tensor *p, const tg_tensor *y, double delta);
/* PyTorch's kl_div(input, target) with reduction 'mean': mean over elements of
 * target (log target - input), input being log-probabilities; 0 where target is 0 */
TG_API tg_tensor *tg_kl_div(tg_tape *t, tg_tensor *log_q, const tg_tensor *p);

/* Inverted dropout: each element is kept with probability 1 - rate and scaled by
 * 1/(1-rate). The mask of element i (row-major) is a function of (seed, stream, i)
 * only: regenerated in backward, never stored, independent of threads. Identity (the
 * input itself) when !training or rate == 0. rate in [0, 1). */
TG_API tg_tensor *tg_dropout(tg_tape *t, tg_tensor *x, double rate, uint64_t seed,
                             uint64_t stream, bool training);
/* lambda * sum |theta| (gradient lambda sign(theta), 0 at 0) and lambda * sum theta^2 */
TG_API tg_tensor *tg_l1_penalty(tg_tape *t, tg_tensor *theta, double lambda);
TG_API tg_tensor *tg_l2_penalty(tg_tape *t, tg_tensor *theta, double lambda);
/* x W + b in one pass (bias added inside the GEMM); x [N, in], W [in, out], b [out]
 * or NULL */
TG_API tg_tensor *tg_dense(tg_tape *t, tg_tensor *x, tg_tensor *w, tg_tensor *b);

/* ---- op registry (read-only view) ---- */
TG_API int tg_op_count(void);
TG_API const char *tg_op_name(int op);  /* NULL if out of range */
TG_API int tg_op_arity(int op);
/* Number of nodes of op `op` recorded on the tape so far. */
TG_API int64_t tg_tape_count_op(const tg_tape *t, int op);
TG_API int tg_op_lookup(const char *name);  /* -1 if unknown */

/* ---- gradcheck ---- */

/* A function of n inputs built from ops on tape t; returns any F64 tensor. */
typedef tg_tensor *(*tg_gradcheck_fn)(tg_tape *t, tg_tensor *const *inputs, void *ctx);

typedef struct tg_gradcheck_opts {
    double eps, atol, rtol;  /* central differences step; tolerances */
    bool fast;               /* compare random projections v^T J u instead of all elements */
    int projections;         /* number of (u, v) pairs in fast mode */
    uint64_t seed;           /* for the output weighting and projections */
} tg_gradcheck_opts;
/* eps 1e-6, atol 1e-5, rtol 1e-3 (PyTorch's defaults), full mode, 4 projections */
TG_API tg_gradcheck_opts tg_gradcheck_defaults(void);

typedef struct tg_gradcheck_result {
    bool passed;
    tg_status status;      /* TG_OK unless the function itself failed */
    int worst_input;       /* input with the worst element (-1 in fast mode) */
    int64_t worst_index;   /* row-major element index in that input (projection in fast) */
    double analytic, numeric;
    double worst_ratio;    /* |analytic - numeric| / (atol + rtol |numeric|); pass iff <= 1 */
    int64_t compared;      /* number of comparisons made */
    char message[256];     /* what failed, or the function's error */
} tg_gradcheck_result;

/* Checks the tape's gradients of f against central finite differences. Inputs are
 * persistent F64 tensors (views allowed, not expanded ones); their values are perturbed
 * in place during the check and restored. A non-scalar output y is reduced as
 * sum(w * y) with fixed random weights w, so every output element takes part. */
TG_API tg_gradcheck_result tg_gradcheck(tg_gradcheck_fn f, void *ctx, int n,
                                        tg_tensor *const *inputs,
                                        const tg_gradcheck_opts *opts);

#ifdef __cplusplus
}
#endif
#endif
