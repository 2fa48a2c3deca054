/* The error model: sticky first error on the tape with a message naming the op and the
 * shapes; NULL propagation without a new error; tg_status + tg_last_error outside a
 * tape; backward returns the forward's first error. */
#include <stdio.h>
#include <string.h>

#include "tapegrad.h"
#include "check.h"


static bool has(const tg_tape *t, const char *a, const char *b, const char *c)
{
    const char *m = tg_tape_error(t);
    return strstr(m, a) && (!b || strstr(m, b)) && (!c || strstr(m, c));
}

int main(void)
{
    tg_tensor *x = tg_zeros(TG_F32, 2, (int64_t[]){32, 784});
    tg_tensor *w = tg_zeros(TG_F32, 2, (int64_t[]){100, 10});
    tg_tensor *v = tg_zeros(TG_F32, 1, (int64_t[]){5});
    tg_tensor *d = tg_zeros(TG_F64, 2, (int64_t[]){32, 784});
    tg_tensor_set_requires_grad(x, true);
    tg_tape *t = tg_tape_new();

    /* matmul shape mismatch: the message of DESIGN.md */
    CHECK(!tg_matmul(t, x, w) && tg_tape_status(t) == TG_ESHAPE, "matmul mismatch fails");
    CHECK(!strcmp(tg_tape_error(t), "tg_matmul: inner dimensions differ: [32,784] x [100,10]"),
          "message: %s", tg_tape_error(t));
    /* first error wins; later ops return NULL without replacing it */
    CHECK(!tg_add(t, x, x), "an op after an error returns NULL");
    CHECK(has(t, "tg_matmul", NULL, NULL), "first message kept: %s", tg_tape_error(t));
    CHECK(tg_backward(t, NULL) == TG_ESHAPE, "backward returns the first error");
    tg_tape_reset(t);
    CHECK(!tg_tape_failed(t) && !tg_tape_error(t)[0], "reset clears the error");

    CHECK(!tg_add(t, x, v) && tg_tape_status(t) == TG_ESHAPE && has(t, "tg_add", "[32,784]", "[5]"),
          "add broadcast mismatch: %s", tg_tape_error(t));
    tg_tape_reset(t);
    CHECK(!tg_mul(t, x, d) && tg_tape_status(t) == TG_EDTYPE && has(t, "tg_mul", "f32", "f64"),
          "dtype mismatch: %s", tg_tape_error(t));
    tg_tape_reset(t);
    CHECK(!tg_sum(t, x, 1, (int[]){2}, false) && tg_tape_status(t) == TG_ERANGE &&
              has(t, "tg_sum", "axis 2", "[32,784]"),
          "sum axis out of range: %s", tg_tape_error(t));
    tg_tape_reset(t);
    CHECK(!tg_softmax(t, x, -3) && tg_tape_status(t) == TG_ERANGE && has(t, "tg_softmax", NULL, NULL),
          "softmax axis out of range: %s", tg_tape_error(t));
    tg_tape_reset(t);
    CHECK(!tg_reshape(t, x, 2, (int64_t[]){10, 10}) && tg_tape_status(t) == TG_ESHAPE &&
              has(t, "tg_reshape", "[32,784]", "[10,10]"),
          "reshape count: %s", tg_tape_error(t));
    tg_tape_reset(t);
    tg_tensor *short_labels = tg_zeros(TG_I32, 1, (int64_t[]){7});
    CHECK(!tg_softmax_cross_entropy(t, x, short_labels, NULL) && tg_tape_status(t) == TG_ESHAPE &&
              has(t, "tg_softmax_cross_entropy", "[7]", "[32,784]"),
          "loss with a target of the wrong length: %s", tg_tape_error(t));
    tg_tensor_free(&short_labels);
    tg_tape_reset(t);

    /* NULL input: NULL out, no new error, so an expression is checked once */
    CHECK(!tg_relu(t, NULL) && !tg_tape_failed(t), "NULL input propagates quietly");
    tg_tensor *y = tg_sum(t, tg_exp(t, tg_matmul(t, x, w)), 0, NULL, false);
    CHECK(!y && tg_tape_status(t) == TG_ESHAPE && has(t, "tg_matmul", NULL, NULL),
          "a nested expression reports the innermost failure: %s", tg_tape_error(t));
    tg_tape_reset(t);

    /* backward on a non-scalar without a seed */
    CHECK(tg_backward(t, tg_relu(t, x)) == TG_ESHAPE && has(t, "seed", "[32,784]", NULL),
          "non-scalar root: %s", tg_tape_error(t));
    tg_tape_reset(t);
    /* seed of the wrong shape */
    tg_tensor *seed = tg_tape_full(t, TG_F32, 1, (int64_t[]){3}, 1);
    CHECK(tg_backward_ex(t, tg_relu(t, x), seed, NULL) == TG_ESHAPE, "seed shape mismatch");
    tg_tape_reset(t);
    /* integer tensors cannot require grad or enter float ops */
    tg_tensor *lab = tg_zeros(TG_I32, 1, (int64_t[]){4});
    CHECK(tg_tensor_set_requires_grad(lab, true) == TG_EDTYPE && strstr(tg_last_error(), "i32"),
          "i32 requires_grad: %s", tg_last_error());
    CHECK(!tg_exp(t, lab) && tg_tape_status(t) == TG_EDTYPE, "exp of i32");
    tg_tape_reset(t);

    /* outside a tape: status + thread-local message */
    CHECK(!tg_zeros(TG_F32, 9, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 1, 1}) &&
              strstr(tg_last_error(), "tg_zeros") && strstr(tg_last_error(), "rank 9"),
          "rank 9: %s", tg_last_error());
    CHECK(!tg_zeros(TG_F32, 2, (int64_t[]){-1, 3}) && strstr(tg_last_error(), "tg_zeros"),
          "negative dim: %s", tg_last_error());
    CHECK(!tg_zeros(TG_F32, 2, (int64_t[]){(int64_t)1 << 40, (int64_t)1 << 40}),
          "overflowing shape rejected");
    CHECK(!tg_view_reshape(x, 1, (int64_t[]){7}) && strstr(tg_last_error(), "tg_view_reshape"),
          "persistent view reshape: %s", tg_last_error());
    CHECK(tg_tensor_set(x, (int64_t[]){32, 0}, 1.0) == TG_ERANGE && strstr(tg_last_error(), "axis 0"),
          "index out of range: %s", tg_last_error());

    /* gather / scatter-add along the last axis: index dtype, shapes, range, size */
    tg_tensor *g3 = tg_zeros(TG_F32, 2, (int64_t[]){2, 3});
    tg_tensor *i4 = tg_zeros(TG_I32, 2, (int64_t[]){2, 4}), *i3 = tg_zeros(TG_I32, 2, (int64_t[]){3, 4});
    tg_tensor *f4 = tg_zeros(TG_F32, 2, (int64_t[]){2, 4});
    tg_tensor_set_flat(i4, 5, 3.0);
    tg_tape_reset(t);
    CHECK(!tg_gather_last(t, g3, i4) && tg_tape_status(t) == TG_ERANGE &&
              has(t, "tg_gather_last", "index 3", "[0, 3)"),
          "gather index out of range: %s", tg_tape_error(t));
    tg_tape_reset(t);
    CHECK(!tg_gather_last(t, g3, i3) && tg_tape_status(t) == TG_ESHAPE &&
              has(t, "tg_gather_last", "[3,4]", "[2,3]"),
          "gather leading dims differ: %s", tg_tape_error(t));
    tg_tape_reset(t);
    CHECK(!tg_gather_last(t, g3, f4) && tg_tape_status(t) == TG_ESHAPE &&
              has(t, "tg_gather_last", "f32", "i32"),
          "gather with float indices: %s", tg_tape_error(t));
    tg_tape_reset(t);
    CHECK(!tg_scatter_add_last(t, f4, i4, 3) && tg_tape_status(t) == TG_ERANGE &&
              has(t, "tg_scatter_add_last", "index 3", "[0, 3)"),
          "scatter index out of range: %s", tg_tape_error(t));
    tg_tape_reset(t);
    CHECK(!tg_scatter_add_last(t, g3, i4, 5) && tg_tape_status(t) == TG_ESHAPE &&
              has(t, "tg_scatter_add_last", "[2,4]", "[2,3]"),
          "scatter idx of another shape: %s", tg_tape_error(t));
    tg_tape_reset(t);
    CHECK(!tg_scatter_add_last(t, f4, i4, -1) && tg_tape_status(t) == TG_EINVAL &&
              has(t, "tg_scatter_add_last", "size -1", NULL),
          "scatter negative size: %s", tg_tape_error(t));
    tg_tape_reset(t);
    CHECK(!tg_gather_last(t, NULL, i4) && !tg_tape_failed(t), "gather of NULL: no new error");
    /* conv2d_weight: the output gradient must fit x and the weight's shape */
    tg_tensor *img = tg_zeros(TG_F32, 4, (int64_t[]){2, 3, 6, 6});
    tg_tensor *gout = tg_zeros(TG_F32, 4, (int64_t[]){2, 4, 4, 3});
    tg_tape_reset(t);
    CHECK(!tg_conv2d_weight(t, img, gout, (int64_t[]){4, 3, 3, 3}, NULL) &&
              tg_tape_status(t) == TG_ESHAPE &&
              has(t, "tg_conv2d_weight", "[2,4,4,3]", "want [2,4,4,4]"),
          "conv2d_weight with a misfit g: %s", tg_tape_error(t));
    tg_tape_reset(t);
    CHECK(!tg_conv2d_weight(t, img, gout, (int64_t[]){4, 2, 3, 3}, NULL) &&
              tg_tape_status(t) == TG_ESHAPE && has(t, "tg_conv2d_weight", "[2,3,6,6]", NULL),
          "conv2d_weight with a misfit weight shape: %s", tg_tape_error(t));
    tg_tape_reset(t);
    CHECK(!tg_conv2d_weight(t, img, d, (int64_t[]){4, 3, 3, 3}, NULL) &&
              tg_tape_status(t) == TG_EDTYPE && has(t, "tg_conv2d_weight", "f64", NULL),
          "conv2d_weight dtypes: %s", tg_tape_error(t));
    tg_tensor_free(&img);
    tg_tensor_free(&gout);
    tg_tensor *more[] = {g3, i4, i3, f4};
    for (int i = 0; i < 4; i++)
        tg_tensor_free(&more[i]);

    tg_tape_free(&t);
    tg_tensor *all[] = {x, w, v, d, lab};
    for (int i = 0; i < 5; i++)
        tg_tensor_free(&all[i]);
    return check_summary();
}
