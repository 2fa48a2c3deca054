/* The tensor module: creation (copy vs wrap), arange, RNG known answers and statistics,
 * persistent views sharing storage, element access, hashing independent of layout,
 * printing. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <xxhash.h>

#include "tapegrad.h"
#include "check.h"


static void creation(void)
{
    float src[6] = {1, 2, 3, 4, 5, 6};
    tg_tensor *c = tg_tensor_from(TG_F32, 2, (int64_t[]){2, 3}, src);
    tg_tensor *w = tg_tensor_wrap(TG_F32, 2, (int64_t[]){2, 3}, src);
    src[0] = 100;
    CHECK(tg_tensor_get_flat(c, 0) == 1, "from copies");
    CHECK(tg_tensor_get_flat(w, 0) == 100, "wrap shares the user's memory");
    tg_tensor_set_flat(w, 5, -1);
    CHECK(src[5] == -1, "writes through a wrapped tensor reach the user's memory");
    tg_tensor_free(&w); /* must not free src (ASan would report a bad free) */
    CHECK(w == NULL, "free sets NULL");
    tg_tensor *f = tg_full(TG_F64, 1, (int64_t[]){3}, 2.5), *o = tg_ones(TG_I32, 0, NULL);
    CHECK(tg_tensor_get_flat(f, 2) == 2.5 && tg_tensor_numel(o) == 1 && tg_tensor_get_flat(o, 0) == 1,
          "full, ones, 0-d");
    tg_tensor *a = tg_arange(TG_F64, 5, 0, -2), *e = tg_arange(TG_F32, 0, 0, 1);
    CHECK(a && a->shape[0] == 3 && tg_tensor_get_flat(a, 2) == 1 && e && e->shape[0] == 0,
          "arange: negative step, empty");
    CHECK(!tg_rand_uniform(TG_I32, 1, (int64_t[]){3}, 0, 1, 1, 1) && strstr(tg_last_error(), "tg_rand_uniform"),
          "i32 draws rejected: %s", tg_last_error());
    tg_tensor *all[] = {c, f, o, a, e};
    for (int i = 0; i < 5; i++)
        tg_tensor_free(&all[i]);
}

static void rng(void)
{
    /* known answer: XXH3-64 of the 16 bytes {stream, counter} with the seed */
    uint64_t in[2] = {2, 3};
    CHECK(tg_rng_u64(1, 2, 3) == XXH3_64bits_withSeed(in, sizeof in, 1), "definition of the draw");
    CHECK(tg_rng_u64(1, 2, 3) != tg_rng_u64(1, 3, 3) && tg_rng_u64(1, 2, 3) != tg_rng_u64(2, 2, 3),
          "stream and seed matter");
    tg_tensor *u = tg_rand_uniform(TG_F64, 1, (int64_t[]){100000}, -1, 3, 7, 0);
    tg_tensor *n = tg_rand_normal(TG_F64, 1, (int64_t[]){100000}, 0, 1, 7, 0);
    double su = 0, lo = 1e9, hi = -1e9, sn = 0, sn2 = 0;
    for (int64_t i = 0; i < 100000; i++) {
        double v = tg_tensor_get_flat(u, i), z = tg_tensor_get_flat(n, i);
        su += v;
        lo = fmin(lo, v);
        hi = fmax(hi, v);
        sn += z;
        sn2 += z * z;
    }
    /* standard errors: uniform mean 1, sd 4/sqrt(12)/sqrt(1e5) ~ 0.0037; normal 0.0032 */
    CHECK(fabs(su / 1e5 - 1) < 0.02 && lo >= -1 && hi < 3, "uniform: mean %g range [%g, %g)", su / 1e5, lo, hi);
    CHECK(fabs(sn / 1e5) < 0.02 && fabs(sn2 / 1e5 - 1) < 0.02, "normal: mean %g var %g", sn / 1e5,
          sn2 / 1e5);
    tg_tensor *u10 = tg_rand_uniform(TG_F64, 1, (int64_t[]){10}, -1, 3, 7, 0);
    bool prefix = true;
    for (int64_t i = 0; i < 10; i++)
        prefix &= tg_tensor_get_flat(u10, i) == tg_tensor_get_flat(u, i);
    CHECK(prefix, "element i depends only on (seed, stream, i)");
    tg_tensor_free(&u);
    tg_tensor_free(&n);
    tg_tensor_free(&u10);
}

/* Known answers: fixed (seed, stream, counter) give fixed values, so any change to the
 * generator (hash, bits kept, Box-Muller, scaling, rounding to f32) is caught, not only
 * an inconsistency between calls. Uniforms are exact; normals go through libm's log
 * and cos, so they are held to 1e-15 relative. */
static void rng_known_answers(void)
{
    const uint64_t u64[4] = {0xd863fb5a1afa880bull, 0xd83c39875bc3ff27ull,
                             0x3fcf6ac93664687full, 0x66da5593f045eea0ull};
    const double uni[4] = {0x1.b0c7f6b435f51p-1, 0x1.b078730eb787fp-1, 0x1.fe7b5649b3234p-3,
                           0x1.9b69564fc117ap-2};
    const double nrm[4] = {0x1.1522add67d1c5p+0, -0x1.3c2b1a01682f2p-1, -0x1.9a1dee93efdc5p+1,
                           0x1.486d6e13d9e92p-3};
    const float uf32[4] = {0x1.30c7f6p+1f, 0x1.307874p+1f, -0x1.84a9b6p-9f, 0x1.36d2acp-1f};
    const double nf64[4] = {0x1.4548ab759f471p+1, 0x1.b0f5397fa5f44p+0, 0x1.978845b0408ecp-2,
                            0x1.0a436b709ecf5p+1};
    tg_tensor *u = tg_rand_uniform(TG_F32, 1, (int64_t[]){4}, -1, 3, 42, 7);
    tg_tensor *n = tg_rand_normal(TG_F64, 1, (int64_t[]){4}, 2, 0.5, 42, 7);
    for (uint64_t c = 0; c < 4; c++) {
        CHECK(tg_rng_u64(42, 7, c) == u64[c], "u64(42, 7, %d) = %016llx", (int)c,
              (unsigned long long)tg_rng_u64(42, 7, c));
        CHECK(tg_rng_uniform01(42, 7, c) == uni[c] &&
                  uni[c] == (double)(u64[c] >> 11) * 0x1.0p-53,
              "uniform01(42, 7, %d) = %a: the top 53 bits of the draw", (int)c,
              tg_rng_uniform01(42, 7, c));
        double z = tg_rng_normal(42, 7, c);
        CHECK(fabs(z - nrm[c]) <= 1e-15 * fabs(nrm[c]), "normal(42, 7, %d) = %a", (int)c, z);
        CHECK(u && (float)tg_tensor_get_flat(u, (int64_t)c) == uf32[c],
              "rand_uniform f32 [-1, 3) element %d = %a", (int)c, tg_tensor_get_flat(u, (int64_t)c));
        CHECK(n && fabs(tg_tensor_get_flat(n, (int64_t)c) - nf64[c]) <= 1e-15 * fabs(nf64[c]) &&
                  fabs(nf64[c] - (2 + 0.5 * nrm[c])) <= 1e-15 * fabs(nf64[c]),
              "rand_normal f64 (2, 0.5) element %d = %a", (int)c, tg_tensor_get_flat(n, (int64_t)c));
    }
    tg_tensor_free(&u);
    tg_tensor_free(&n);
}

static void views(void)
{
    tg_tensor *base = tg_arange(TG_F32, 0, 24, 1);
    tg_tensor *m = tg_view_reshape(base, 3, (int64_t[]){2, 3, 4});
    tg_tensor *inf = tg_view_reshape(base, 2, (int64_t[]){-1, 6});
    CHECK(m && inf && inf->shape[0] == 4 && tg_tensor_get(m, (int64_t[]){1, 2, 3}) == 23,
          "reshape views, -1 inferred");
    CHECK(!tg_view_reshape(base, 1, (int64_t[]){25}) && strstr(tg_last_error(), "cannot reshape"),
          "wrong count: %s", tg_last_error());
    tg_tensor *p = tg_view_permute(m, (int[]){2, 0, 1});
    CHECK(p && p->shape[0] == 4 && tg_tensor_get(p, (int64_t[]){3, 1, 2}) == 23 &&
              !tg_tensor_is_contiguous(p),
          "permute");
    CHECK(!tg_view_reshape(p, 1, (int64_t[]){24}) && strstr(tg_last_error(), "non-contiguous"),
          "reshape of a non-contiguous view refused: %s", tg_last_error());
    tg_tensor *s = tg_view_slice(m, (int64_t[]){1, -2, 0}, (int64_t[]){2, 99, 4}, (int64_t[]){1, 1, 2});
    CHECK(s && s->shape[0] == 1 && s->shape[1] == 2 && s->shape[2] == 2 &&
              tg_tensor_get(s, (int64_t[]){0, 1, 1}) == 22,
          "slice: negative start, clamped stop, step 2");
    tg_tensor *empty = tg_view_slice(m, (int64_t[]){0, 2, 0}, (int64_t[]){2, 1, 4}, (int64_t[]){1, 1, 1});
    CHECK(empty && tg_tensor_numel(empty) == 0, "empty slice");
    tg_tensor *col = tg_view_reshape(base, 2, (int64_t[]){24, 1});
    tg_tensor *ex = tg_view_expand(col, 2, (int64_t[]){24, 5});
    CHECK(ex && ex->stride[1] == 0 && tg_tensor_get(ex, (int64_t[]){7, 4}) == 7, "expand");
    tg_tensor_set(s, (int64_t[]){0, 0, 0}, -5);
    CHECK(tg_tensor_get_flat(base, 16) == -5, "a write through a view reaches the base (m[1,1,0])");
    tg_tensor *cp = tg_tensor_contiguous(p);
    CHECK(cp && tg_tensor_is_contiguous(cp) && tg_tensor_hash(cp) == tg_tensor_hash(p),
          "contiguous copy of a permuted view");
    tg_tensor_free(&base); /* views keep the storage alive */
    CHECK(tg_tensor_get_flat(m, 23) == 23, "view valid after the base is freed");
    uint64_t hs = tg_tensor_hash(s);
    tg_tensor *sc = tg_tensor_clone(s);
    CHECK(tg_tensor_hash(sc) == hs, "hash ignores layout (slice vs its clone)");
    tg_tensor_set_flat(sc, 1, 1000);
    CHECK(tg_tensor_hash(sc) != hs, "hash sees a changed element");
    tg_tensor *flat = tg_view_reshape(m, 1, (int64_t[]){24});
    CHECK(tg_tensor_hash(flat) != tg_tensor_hash(m), "hash sees the shape");
    tg_tensor *dbl = tg_zeros(TG_F64, 3, (int64_t[]){2, 3, 4});
    tg_tensor_copy(dbl, m);
    CHECK(tg_tensor_hash(dbl) != tg_tensor_hash(m), "hash sees the dtype");
    double out[24];
    CHECK(tg_tensor_copy_out(p, TG_F64, out) == TG_OK && out[23] == 23 && out[1] == 4,
          "copy_out in row-major order of the view");
    CHECK(isnan(tg_tensor_get(m, (int64_t[]){2, 0, 0})) && strstr(tg_last_error(), "out of range"),
          "get out of range");
    tg_tensor *all[] = {m, inf, p, s, empty, col, ex, cp, sc, flat, dbl};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        tg_tensor_free(&all[i]);
}

static void printing(void)
{
    tg_tensor *t = tg_tensor_from(TG_F32, 2, (int64_t[]){2, 2}, (float[]){1, 2.5f, -3, 4});
    char buf[256];
    size_t n = tg_tensor_format(t, buf, sizeof buf);
    CHECK(!strcmp(buf, "tensor([[1, 2.5],\n        [-3, 4]], dtype=f32)"), "2x2 layout: %s", buf);
    CHECK(n == strlen(buf), "length returned");
    char small[8];
    size_t need = tg_tensor_format(t, small, sizeof small);
    CHECK(need == n && strlen(small) == 7, "truncated but NUL-terminated, full length returned");
    tg_tensor *big = tg_arange(TG_I32, 0, 5000, 1);
    tg_tensor_format(big, buf, sizeof buf);
    CHECK(strstr(buf, "[0, 1, 2, ..., 4997, 4998, 4999]") != NULL, "summarised: %s", buf);
    tg_tensor_free(&t);
    tg_tensor_free(&big);
}

int main(void)
{
    creation();
    rng();
    rng_known_answers();
    views();
    printing();
    return check_summary();
}
