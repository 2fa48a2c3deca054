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

/* arguments that were taken on trust: an unknown dtype, misaligned memory, doubles that
 * do not fit an i32 element (a plain cast is undefined), zero-size tensors' layout */
static void test_unchecked_args(void)
{
    double src[5] = {1e10, -1e10, NAN, 2.7, -2.7};
    tg_tensor *d = tg_tensor_from(TG_F64, 1, (int64_t[]){5}, src);
    int32_t out[5] = {7, 7, 7, 7, 7};
    tg_status s = tg_tensor_copy_out(d, (tg_dtype)7, out);
    CHECK(s == TG_EDTYPE && strstr(tg_last_error(), "dtype 7") && out[0] == 7,
          "copy_out with dtype 7: %s '%s'", tg_status_name(s), tg_last_error());
    /* bulk conversions to i32 saturate (NaN -> 0) and truncate toward zero */
    int32_t want[5] = {INT32_MAX, INT32_MIN, 0, 2, -2};
    CHECK(tg_tensor_copy_out(d, TG_I32, out) == TG_OK && !memcmp(out, want, sizeof want),
          "f64 -> i32 copy_out: %d %d %d %d %d", out[0], out[1], out[2], out[3], out[4]);
    tg_tensor *i = tg_zeros(TG_I32, 1, (int64_t[]){5});
    CHECK(tg_tensor_copy(i, d) == TG_OK && !memcmp(i->data, want, sizeof want),
          "f64 -> i32 tg_tensor_copy saturates");
    tg_tensor *c = tg_zeros(TG_I32, 1, (int64_t[]){5});
    float fsrc[5] = {3e9f, -3e9f, NAN, INFINITY, -0.5f};
    tg_tensor *f = tg_tensor_from(TG_F32, 1, (int64_t[]){5}, fsrc);
    int32_t fwant[5] = {INT32_MAX, INT32_MIN, 0, INT32_MAX, 0};
    CHECK(tg_tensor_copy(c, f) == TG_OK && !memcmp(c->data, fwant, sizeof fwant),
          "f32 -> i32 saturates: %d %d %d %d %d", ((int32_t *)c->data)[0],
          ((int32_t *)c->data)[1], ((int32_t *)c->data)[2], ((int32_t *)c->data)[3],
          ((int32_t *)c->data)[4]);
    /* single values must fit */
    double bad[] = {1e10, -3e9, NAN, INFINITY, 2.5};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        CHECK(tg_tensor_set_flat(i, 0, bad[k]) == TG_ERANGE && strstr(tg_last_error(), "i32"),
              "set_flat %g into i32: '%s'", bad[k], tg_last_error());
        CHECK(tg_tensor_set(i, (int64_t[]){1}, bad[k]) == TG_ERANGE, "set %g into i32", bad[k]);
        CHECK(tg_tensor_fill(i, bad[k]) == TG_ERANGE, "fill i32 with %g", bad[k]);
        CHECK(!tg_full(TG_I32, 1, (int64_t[]){2}, bad[k]), "tg_full i32 with %g", bad[k]);
    }
    CHECK(((int32_t *)i->data)[0] == INT32_MAX, "refused writes change nothing");
    CHECK(tg_tensor_set_flat(i, 0, -2147483648.0) == TG_OK && tg_tensor_get_flat(i, 0) == INT32_MIN,
          "INT32_MIN itself is fine");
    CHECK(!tg_arange(TG_I32, 0, 4e9, 1e9) && tg_last_status() == TG_ERANGE, "i32 arange past 2^31");
    CHECK(!tg_arange(TG_I32, 0, 2, 0.5), "i32 arange with a fractional step");
    tg_tensor *r = tg_arange(TG_I32, 5, 0, -2);
    CHECK(r && tg_tensor_numel(r) == 3 && tg_tensor_get_flat(r, 2) == 1, "i32 arange 5, 3, 1");
    tg_tensor_free(&r);

    /* tg_tensor_wrap and copy_out refuse memory misaligned for the dtype */
    double mem[8] = {0};
    char *base = (char *)mem;
    tg_tensor *w = tg_tensor_wrap(TG_F32, 1, (int64_t[]){2}, base + 2);
    CHECK(!w && tg_last_status() == TG_EINVAL && strstr(tg_last_error(), "aligned"),
          "wrap f32 at +2 bytes: '%s'", tg_last_error());
    w = tg_tensor_wrap(TG_F64, 1, (int64_t[]){2}, base + 4);
    CHECK(!w, "wrap f64 at +4 bytes refused");
    w = tg_tensor_wrap(TG_F32, 1, (int64_t[]){2}, base + 4);
    CHECK(w != NULL, "wrap f32 at +4 bytes is fine");
    tg_tensor_free(&w);
    CHECK(tg_tensor_copy_out(d, TG_F64, base + 4) == TG_EINVAL, "copy_out f64 to +4 bytes");

    /* a tensor without elements is contiguous, whatever its shape */
    int64_t shapes[][3] = {{2, 0, 3}, {0, 5, 1}, {4, 3, 0}};
    for (int k = 0; k < 3; k++) {
        tg_tensor *z = tg_zeros(TG_F32, 3, shapes[k]);
        CHECK(tg_tensor_is_contiguous(z), "fresh [%lld,%lld,%lld] is contiguous",
              (long long)shapes[k][0], (long long)shapes[k][1], (long long)shapes[k][2]);
        tg_tensor_free(&z);
    }
    tg_tensor *z = tg_zeros(TG_F32, 2, (int64_t[]){2, 0});
    tg_tensor_set_requires_grad(z, true);
    tg_optim *o = tg_adam_new(1, &z, NULL);
    CHECK(o != NULL, "adam accepts a [2,0] parameter: %s", tg_last_error());
    tg_optim_free(&o);
    tg_tensor_free(&z);
    tg_tensor *all[] = {d, i, c, f};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        tg_tensor_free(&all[k]);
}

int main(void)
{
    test_copy_overlap();
    test_thread_count_limits();
    test_view_overflow();
    test_unchecked_args();
    return check_summary();
}
