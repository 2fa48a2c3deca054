/* Ops on edge inputs from issue 11: empty axes, shapes whose element count overflows,
 * unknown enum values. Each case crashed, read out of bounds or returned garbage with
 * no error before its fix. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tapegrad.h"
#include "check.h"

static tg_tensor *softmax_sum(tg_tape *t, tg_tensor *const *in, void *ctx)
{
    int axis = *(const int *)ctx;
    return tg_sum(t, tg_softmax(t, in[0], axis), 0, NULL, false);
}

static tg_tensor *log_softmax_sum(tg_tape *t, tg_tensor *const *in, void *ctx)
{
    int axis = *(const int *)ctx;
    return tg_sum(t, tg_log_softmax(t, in[0], axis), 0, NULL, false);
}

/* softmax / log-softmax over an empty axis: an empty output of x's shape (as PyTorch),
 * no read of the missing elements, and an empty gradient */
static void test_softmax_empty_axis(void)
{
    int64_t shapes[][2] = {{3, 0}, {0, 4}};
    for (int s = 0; s < 2; s++)
        for (int lg = 0; lg < 2; lg++)
            for (int axis = -1; axis <= 0; axis++) {
                tg_tensor *x = tg_zeros(TG_F64, 2, shapes[s]);
                tg_tensor_set_requires_grad(x, true);
                tg_tape *t = tg_tape_new();
                tg_tensor *y = lg ? tg_log_softmax(t, x, axis) : tg_softmax(t, x, axis);
                CHECK(y && tg_tensor_same_shape(y, x), "%s of [%lld,%lld] over axis %d: %s",
                      lg ? "log_softmax" : "softmax", (long long)shapes[s][0],
                      (long long)shapes[s][1], axis, y ? "wrong shape" : tg_tape_error(t));
                tg_tensor *l = tg_sum(t, y, 0, NULL, false);
                CHECK(tg_backward(t, l) == TG_OK, "backward: %s", tg_tape_error(t));
                CHECK(x->grad && tg_tensor_same_shape(x->grad, x), "empty gradient of x's shape");
                tg_tape_free(&t);
                tg_gradcheck_result r =
                    tg_gradcheck(lg ? log_softmax_sum : softmax_sum, &axis, 1, &x, NULL);
                CHECK(r.passed && r.status == TG_OK, "gradcheck: %s", r.message);
                tg_tensor_free(&x);
            }
    /* one empty row among others is still fine in F32 (the fused kernel path) */
    tg_tensor *x = tg_zeros(TG_F32, 3, (int64_t[]){2, 0, 5});
    tg_tape *t = tg_tape_new();
    CHECK(tg_softmax(t, x, 1) && tg_log_softmax(t, x, 1) && !tg_tape_failed(t),
          "[2,0,5] over the empty middle axis: %s", tg_tape_error(t));
    tg_tape_free(&t);
    tg_tensor_free(&x);
}

int main(void)
{
    test_softmax_empty_axis();
    return check_summary();
}
