/* Determinism by default: OpenBLAS is pinned to one thread before tapegrad's first
 * product even when the program never calls tg_set_num_threads (OpenBLAS's own default,
 * one thread per core or OPENBLAS_NUM_THREADS, would make results depend on the
 * machine). Run with OPENBLAS_NUM_THREADS=4 (meson.build) so that the default is
 * visibly not 1 on any machine with 2 cores or more. Skipped (77) without BLAS or on
 * one core. */
#include <stdio.h>

#include "check.h"
#include "tapegrad.h"

#ifdef TG_HAVE_BLAS
#include <cblas.h>

int main(void)
{
    int before = openblas_get_num_threads();
    if (before < 2) { /* OpenBLAS caps its default at the cores: nothing to tell apart */
        printf("OpenBLAS starts with %d thread on this machine: skipped\n", before);
        return 77;
    }
    tg_tensor *a = tg_ones(TG_F32, 2, (int64_t[]){64, 64});
    tg_tape *t = tg_tape_new();
    tg_tensor *c = tg_matmul(t, a, a);
    CHECK(c && tg_tensor_get_flat(c, 0) == 64, "the product itself");
    CHECK(openblas_get_num_threads() == 1,
          "after the first product without tg_set_num_threads: OpenBLAS has %d threads, want 1",
          openblas_get_num_threads());
    CHECK(tg_num_threads() == 1, "tapegrad's own default stays 1 thread");
    tg_tape_free(&t);
    tg_tensor_free(&a);
    return check_summary();
}
#else
int main(void)
{
    puts("built without BLAS: skipped");
    return 77;
}
#endif
