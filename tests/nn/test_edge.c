/* nn edge cases from issue 11: metrics given NaN scores, one-column predictions,
 * out-of-range labels; model building with sizes that overflow. Each case failed
 * (hung, crashed or returned a wrong value with no error) before its fix. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tapegrad.h"
#include "check.h"

/* failing allocator for the out-of-memory paths */
static void *no_alloc(size_t n, void *ctx)
{
    (void)n;
    (void)ctx;
    return NULL;
}

static void no_free(void *p, void *ctx)
{
    (void)p;
    (void)ctx;
}

/* tg_last_status carries the status of the failure tg_last_error describes; model
 * building keeps the real cause (an overflowing size is not out of memory) */
static void test_status_kept(void)
{
    tg_tensor *bad = tg_zeros(TG_F32, 2, (int64_t[]){2, -1});
    CHECK(!bad && tg_last_status() == TG_EINVAL, "negative extent: status %s",
          tg_status_name(tg_last_status()));
    tg_tensor *x = tg_zeros(TG_F32, 2, (int64_t[]){2, 3});
    tg_tensor *v = tg_view_transpose(x, 0, 5);
    CHECK(!v && tg_last_status() == TG_ERANGE, "axis out of range: status %s",
          tg_status_name(tg_last_status()));
    tg_tensor_free(&x);

    tg_model *m = tg_model_new(TG_F32, 1);
    int64_t big = (int64_t)1 << 40;
    tg_status s = tg_model_add_dense(m, big, big, NULL);
    CHECK(s == TG_EINVAL && tg_last_status() == TG_EINVAL,
          "dense 2^40 x 2^40: status %s (last %s), want TG_EINVAL", tg_status_name(s),
          tg_status_name(tg_last_status()));
    CHECK(strstr(tg_last_error(), "tg_model_add_dense") && strstr(tg_last_error(), "too large"),
          "dense 2^40 x 2^40: message '%s'", tg_last_error());

    s = tg_model_add_conv2d(m, 1 << 20, 1 << 20, (int64_t[]){1 << 30, 1 << 30}, NULL);
    CHECK(s == TG_EINVAL && tg_last_status() == TG_EINVAL,
          "conv2d of 2^100 weights: status %s, want TG_EINVAL", tg_status_name(s));
    CHECK(strstr(tg_last_error(), "tg_model_add_conv2d") && strstr(tg_last_error(), "too large") &&
              !strstr(tg_last_error(), "out of memory"),
          "conv2d of 2^100 weights: message '%s'", tg_last_error());

    /* a real allocation failure still says so, with the function and the byte count */
    tg_set_allocator(&(tg_allocator){no_alloc, no_free, NULL});
    s = tg_model_add_conv2d(m, 2, 4, (int64_t[]){3, 3}, NULL);
    tg_set_allocator(NULL);
    CHECK(s == TG_ENOMEM && tg_last_status() == TG_ENOMEM, "conv2d without memory: %s",
          tg_status_name(s));
    CHECK(strstr(tg_last_error(), "tg_model_add_conv2d") &&
              strstr(tg_last_error(), "out of memory (288 bytes)"),
          "conv2d without memory: message '%s'", tg_last_error());
    CHECK(tg_model_layer_count(m) == 0 && tg_model_param_count(m) == 0,
          "failed adds leave the model empty");
    CHECK(tg_model_add_dense(m, 3, 2, NULL) == TG_OK, "a sane layer still adds");
    tg_model_free(&m);
}

int main(void)
{
    test_status_kept();
    return check_summary();
}
