/* Tensor-module edge cases from issue 11: overlapping copies, float accumulation,
 * overflowing shapes and strides, unchecked dtypes and conversions, zero-size tensors.
 * Each case gave wrong values, UB or a crash before its fix. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tapegrad.h"
#include "check.h"

/* tg_tensor_copy between views of one storage behaves as if through a temporary */
static void test_copy_overlap(void)
{
    double v[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
    tg_tensor *a = tg_tensor_from(TG_F64, 2, (int64_t[]){3, 3}, v);
    tg_tensor *at = tg_view_transpose(a, 0, 1);
    CHECK(tg_tensor_copy(a, at) == TG_OK, "copy from own transpose: %s", tg_last_error());
    bool ok = true;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            ok &= tg_tensor_get(a, (int64_t[]){i, j}) == v[j * 3 + i];
    CHECK(ok, "a = a^T gives the transpose");

    /* shifted slices of one row: b[1:10] = b[0:9] moves every element up by one */
    tg_tensor *b = tg_arange(TG_F32, 0, 10, 1);
    tg_tensor *hi = tg_view_slice(b, (int64_t[]){1}, (int64_t[]){10}, (int64_t[]){1});
    tg_tensor *lo = tg_view_slice(b, (int64_t[]){0}, (int64_t[]){9}, (int64_t[]){1});
    CHECK(tg_tensor_copy(hi, lo) == TG_OK, "shifted copy");
    ok = tg_tensor_get_flat(b, 0) == 0;
    for (int i = 1; i < 10; i++)
        ok &= tg_tensor_get_flat(b, i) == i - 1;
    CHECK(ok, "b[1:10] = b[0:9] shifts (b[9] = %g, want 8)", tg_tensor_get_flat(b, 9));
    /* and back the other way */
    CHECK(tg_tensor_copy(lo, hi) == TG_OK && tg_tensor_get_flat(b, 0) == 0 &&
              tg_tensor_get_flat(b, 8) == 8,
          "b[0:9] = b[1:10]");
    /* copy_out of a transposed view into the tensor's own memory: a (now v^T) back to v */
    tg_tensor *rt = tg_view_permute(a, (int[]){1, 0});
    CHECK(tg_tensor_copy_out(rt, TG_F64, a->data) == TG_OK && !memcmp(a->data, v, sizeof v),
          "copy_out over its own storage");
    tg_tensor *all[] = {a, at, b, hi, lo, rt};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        tg_tensor_free(&all[i]);
}

/* tg_set_num_threads refuses counts outside [1, tg_max_threads()] (100000 crashed the
 * thread runtime) and keeps the previous setting */
static void test_thread_count_limits(void)
{
    int max = tg_max_threads();
    CHECK(max >= 4 && max % 4 == 0, "tg_max_threads %d: 4 per processor", max);
    CHECK(tg_set_num_threads(2) == TG_OK && tg_num_threads() == 2, "2 threads accepted");
    int bad[] = {0, -1, max + 1, 100000, INT32_MIN};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tg_status s = tg_set_num_threads(bad[i]);
        CHECK(s == TG_EINVAL && tg_num_threads() == 2 && strstr(tg_last_error(), "tg_set_num_threads"),
              "%d threads: %s, now %d, '%s'", bad[i], tg_status_name(s), tg_num_threads(),
              tg_last_error());
    }
    CHECK(tg_set_num_threads(max) == TG_OK && tg_num_threads() == max, "the maximum is accepted");
    /* work still runs at the maximum (a large elementwise op splits over the threads) */
    tg_tensor *x = tg_ones(TG_F32, 1, (int64_t[]){1 << 16});
    tg_tape *t = tg_tape_new();
    tg_tensor *y = tg_exp(t, x);
    CHECK(y && fabs(tg_tensor_get_flat(y, 65535) - exp(1.0)) < 1e-6, "exp at %d threads", max);
    tg_tape_free(&t);
    tg_tensor_free(&x);
    CHECK(tg_set_num_threads(1) == TG_OK && tg_num_threads() == 1, "back to 1");
}

/* shapes and strides whose arithmetic overflows int64 are refused; a huge slice step
 * takes one element */
static void test_view_overflow(void)
{
    tg_tensor *one = tg_ones(TG_F32, 2, (int64_t[]){1, 1});
    int64_t big = (int64_t)1 << 40;
    tg_tensor *e = tg_view_expand(one, 2, (int64_t[]){big, big});
    CHECK(!e && tg_last_status() == TG_ESHAPE && strstr(tg_last_error(), "overflow"),
          "expand [1,1] to [2^40,2^40]: '%s'", tg_last_error());
    tg_tensor_free(&e);
    e = tg_view_expand(one, 3, (int64_t[]){(int64_t)1 << 31, (int64_t)1 << 31, 2});
    CHECK(!e && tg_last_status() == TG_ESHAPE, "expand to 2^63 elements refused");
    tg_tensor_free(&e);
    e = tg_view_expand(one, 2, (int64_t[]){(int64_t)1 << 31, (int64_t)1 << 31});
    CHECK(e && tg_tensor_numel(e) == (int64_t)1 << 62, "expand to 2^62 elements still fits");
    tg_tensor_free(&e);

    float v[24];
    for (int i = 0; i < 24; i++)
        v[i] = (float)i;
    tg_tensor *x = tg_tensor_from(TG_F32, 2, (int64_t[]){4, 6}, v);
    tg_tensor *s = tg_view_slice(x, (int64_t[]){1, 1}, (int64_t[]){4, 6},
                                 (int64_t[]){INT64_MAX, 2});
    CHECK(s && s->shape[0] == 1 && s->shape[1] == 3 && tg_tensor_get_flat(s, 0) == 7 &&
              tg_tensor_get_flat(s, 2) == 11,
          "slice step (2^63-1, 2) of [4,6] from (1,1): %s", s ? "wrong values" : tg_last_error());
    tg_tensor_free(&s);
    s = tg_view_slice(x, (int64_t[]){INT64_MIN, 0}, (int64_t[]){INT64_MAX, 6},
                      (int64_t[]){1, INT64_MAX});
    CHECK(!s && tg_last_status() == TG_ERANGE, "start -2^63: refused, '%s'", tg_last_error());
    s = tg_view_slice(x, (int64_t[]){-4, 0}, (int64_t[]){INT64_MAX, INT64_MAX},
                      (int64_t[]){INT64_MAX - 1, INT64_MAX});
    CHECK(s && s->shape[0] == 1 && s->shape[1] == 1 && tg_tensor_get_flat(s, 0) == 0,
          "huge stop and step: one element");
    tg_tensor_free(&s);
    tg_tensor_free(&x);
    tg_tensor_free(&one);
}

int main(void)
{
    test_copy_overlap();
    test_thread_count_limits();
    test_view_overflow();
    return check_summary();
}
