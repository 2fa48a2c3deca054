/* Dropout: kept fraction, scaling, determinism across thread counts, and the backward's
 * regenerated mask equal to the forward's bit for bit. */
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
    return check_summary();
}
