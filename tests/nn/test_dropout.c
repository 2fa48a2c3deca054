/* Dropout: kept fraction, scaling, determinism across thread counts, the mask's known
 * answers and definition, and the backward's regenerated mask equal to the forward's
 * bit for bit. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tapegrad.h"
#include "check.h"


static void test_statistics(void)
{
    const int64_t n = 1000000;
    double rates[] = {0.1, 0.2, 0.5};
    tg_tensor *x = tg_ones(TG_F32, 1, &n);
    tg_tape *t = tg_tape_new();
    for (int r = 0; r < 3; r++) {
        tg_tape_reset(t);
        tg_tensor *y = tg_dropout(t, x, rates[r], 42, 0, true);
        int64_t kept = 0;
        bool scaled = true;
        const float *v = y->data;
        for (int64_t i = 0; i < n; i++) {
            if (v[i] != 0) {
                kept++;
                scaled &= fabsf(v[i] - (float)(1.0 / (1.0 - rates[r]))) < 1e-6f;
            }
        }
        double frac = (double)kept / (double)n;
        CHECK(fabs(frac - (1 - rates[r])) < 0.005 * (1 - rates[r]),
              "rate %g: kept fraction %g not within 0.5%% of %g", rates[r], frac, 1 - rates[r]);
        CHECK(scaled, "rate %g: kept values scaled by 1/(1-rate)", rates[r]);
    }
    tg_tape_reset(t);
    CHECK(tg_dropout(t, x, 0.5, 42, 0, false) == x, "identity when not training");
    CHECK(!tg_dropout(t, x, 1.0, 42, 0, true) && tg_tape_status(t) == TG_EINVAL,
          "rate 1 rejected: %s", tg_tape_error(t));
    tg_tape_free(&t);
    tg_tensor_free(&x);
}

/* mask of a [256, 512] dropout (and the gradient through it) for a thread count */
static void run(int threads, uint64_t seed, uint64_t stream, uint64_t *hy, uint64_t *hg,
                bool *same_mask)
{
    tg_set_num_threads(threads);
    tg_tensor *x = tg_rand_normal(TG_F32, 2, (int64_t[]){256, 512}, 0, 1, 5, 0);
    tg_tensor_set_requires_grad(x, true);
    tg_tape *t = tg_tape_new();
    tg_tensor *y = tg_dropout(t, x, 0.3, seed, stream, true);
    tg_backward(t, tg_sum(t, y, 0, NULL, false));
    *hy = tg_tensor_hash(y);
    *hg = tg_tensor_hash(x->grad);
    /* d sum(y)/dx is the mask scaled by 1/(1-p): zero exactly where y was dropped */
    const float *yv = y->data, *g = x->grad->data, *xv = x->data;
    *same_mask = true;
    for (int64_t i = 0; i < 256 * 512; i++)
        *same_mask &= (g[i] != 0) == (yv[i] != 0 || xv[i] == 0);
    tg_tape_free(&t);
    tg_tensor_free(&x);
    tg_set_num_threads(1);
}

/* Known answer and definition of the mask: element i is kept when 16-bit field i mod 4
 * of tg_rng_u64(seed, stream, i / 4) is >= ceil(rate * 65536). Pinned as literals (the
 * kept bits of 64 elements; the hash of 2^16) and checked element by element against
 * the definition, f32 and f64, with 1 and 2 threads (2^16 elements are split). */
static void test_known_mask(void)
{
    tg_tape *t = tg_tape_new();
    for (int d = 0; d < 2; d++) {
        tg_dtype dt = d ? TG_F64 : TG_F32;
        tg_tensor *x = tg_ones(dt, 1, (int64_t[]){64});
        tg_tensor *y = tg_dropout(t, x, 0.5, 42, 7, true);
        uint64_t kept = 0;
        for (int i = 0; y && i < 64; i++)
            kept |= (uint64_t)(tg_tensor_get_flat(y, i) != 0) << i;
        CHECK(kept == 0x6a05341177cf309dull, "%s: 64-element mask %016llx", tg_dtype_name(dt),
              (unsigned long long)kept);
        tg_tensor_free(&x);
        tg_tape_reset(t);
    }
    const int64_t n = 1 << 16;
    const uint32_t thresh = 16384; /* ceil(0.25 * 65536) */
    for (int threads = 1; threads <= 2; threads++) {
        tg_set_num_threads(threads);
        for (int d = 0; d < 2; d++) {
            tg_dtype dt = d ? TG_F64 : TG_F32;
            tg_tensor *x = tg_ones(dt, 1, &n);
            tg_tensor *y = tg_dropout(t, x, 0.25, 42, 7, true);
            bool defined = y != NULL;
            for (int64_t i = 0; defined && i < n; i++) {
                uint32_t field = (uint32_t)(tg_rng_u64(42, 7, (uint64_t)i >> 2) >> (16 * (i & 3))) &
                                 0xffff;
                double want = field >= thresh ? 1 / 0.75 : 0;
                defined &= fabs(tg_tensor_get_flat(y, i) - want) < 1e-6;
            }
            CHECK(defined, "%s, %d threads: mask follows its definition", tg_dtype_name(dt),
                  threads);
            if (dt == TG_F32)
                CHECK(tg_tensor_hash(y) == 0x32c03677ff26578bull,
                      "f32, %d threads: hash of the 2^16 mask %016llx", threads,
                      (unsigned long long)tg_tensor_hash(y));
            tg_tensor_free(&x);
            tg_tape_reset(t);
        }
    }
    tg_set_num_threads(1);
    tg_tape_free(&t);
}

/* Backward regenerates the mask from its counters: with x = 1, y = mask / (1 - p) and
 * d sum(y) / dx is the regenerated mask / (1 - p), so the two must be equal bit for
 * bit (f32 and f64, 1 and 2 threads, 2^17 elements so the kernels split) */
static void test_backward_bitwise(void)
{
    const int64_t n = 1 << 17;
    for (int threads = 1; threads <= 2; threads++) {
        tg_set_num_threads(threads);
        for (int d = 0; d < 2; d++) {
            tg_dtype dt = d ? TG_F64 : TG_F32;
            tg_tensor *x = tg_ones(dt, 1, &n);
            tg_tensor_set_requires_grad(x, true);
            tg_tape *t = tg_tape_new();
            tg_tensor *y = tg_dropout(t, x, 0.3, 11, 2, true);
            tg_status s = tg_backward(t, tg_sum(t, y, 0, NULL, false));
            CHECK(s == TG_OK && x->grad &&
                      !memcmp(y->data, x->grad->data, (size_t)n * tg_dtype_size(dt)),
                  "%s, %d threads: regenerated mask equals the forward's bit for bit",
                  tg_dtype_name(dt), threads);
            tg_tape_free(&t);
            tg_tensor_free(&x);
        }
    }
    tg_set_num_threads(1);
}

static void test_determinism(void)
{
    uint64_t y1, g1, y2, g2, y3, g3;
    bool m1, m2, m3;
    run(1, 9, 3, &y1, &g1, &m1);
    run(2, 9, 3, &y2, &g2, &m2);
    run(1, 9, 4, &y3, &g3, &m3);
    CHECK(y1 == y2 && g1 == g2, "same seed and step: same mask and gradient with 1 and 2 threads");
    CHECK(m1 && m2 && m3, "backward's regenerated mask equals the forward mask");
    CHECK(y1 != y3, "another step gives another mask");
}

int main(void)
{
    test_statistics();
    test_determinism();
    test_known_mask();
    test_backward_bitwise();
    return check_summary();
}
