/* The GEMM kernels on a thread with a small (256 KiB) stack: the blocked kernel's
 * packing buffers (400 KiB for f64) used to live on the stack and overflowed it
 * (SIGSEGV). Every blocked build is run directly (the library's path in a
 * -Dblas=disabled build) and tg_matmul through the public API, against the reference
 * loop; then two threads at once, each with its own workspace. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tensor/gemm.h"
#include "tapegrad.h"

/* big enough for several KC x NC blocks of the packed path */
enum { M = 100, N = 200, K = 300 };

typedef struct {
    int seed;
    int failures;
    char what[160];
} job;

static double frand(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) * 0x1.0p-53 * 2 - 1;
}

static void fail(job *j, const char *what)
{
    if (!j->failures++)
        snprintf(j->what, sizeof j->what, "%s", what);
}

static void *run(void *arg)
{
    job *j = arg;
    uint64_t s = (uint64_t)j->seed;
    double *A = malloc(sizeof(double) * M * K), *B = malloc(sizeof(double) * K * N);
    double *want = malloc(sizeof(double) * M * N), *got = malloc(sizeof(double) * M * N);
    float *fa = malloc(sizeof(float) * M * K), *fb = malloc(sizeof(float) * K * N);
    float *fw = malloc(sizeof(float) * M * N), *fg = malloc(sizeof(float) * M * N);
    for (int i = 0; i < M * K; i++)
        fa[i] = (float)(A[i] = frand(&s));
    for (int i = 0; i < K * N; i++)
        fb[i] = (float)(B[i] = frand(&s));
    tg__gemm_f64_ref(false, false, M, N, K, 1.0, A, K, B, N, 0.0, want, N);
    tg__gemm_f32_ref(false, false, M, N, K, 1.0f, fa, K, fb, N, 0.0f, fw, N);
    for (const tg__gemm_variant *v = tg__gemm_variants; v->name; v++) {
        if (strncmp(v->name, "blocked", 7))
            continue;
        v->f64(false, false, M, N, K, 1.0, A, K, B, N, 0.0, got, N);
        for (int i = 0; i < M * N; i++)
            if (!(fabs(got[i] - want[i]) < 1e-10)) {
                fail(j, v->name);
                break;
            }
        v->f32(false, false, M, N, K, 1.0f, fa, K, fb, N, 0.0f, fg, N);
        for (int i = 0; i < M * N; i++)
            if (!(fabs(fg[i] - fw[i]) < 1e-3)) {
                fail(j, v->name);
                break;
            }
    }
    /* the library's own product (BLAS or the blocked kernel) */
    tg_tensor *a = tg_tensor_from(TG_F64, 2, (int64_t[]){M, K}, A);
    tg_tensor *b = tg_tensor_from(TG_F64, 2, (int64_t[]){K, N}, B);
    tg_tape *t = tg_tape_new();
    tg_tensor *c = tg_matmul(t, a, b);
    if (!c)
        fail(j, "tg_matmul failed");
    for (int i = 0; c && i < M * N; i++)
        if (!(fabs(tg_tensor_get_flat(c, i) - want[i]) < 1e-10)) {
            fail(j, "tg_matmul");
            break;
        }
    tg_tape_free(&t);
    tg_tensor_free(&a);
    tg_tensor_free(&b);
    free(A);
    free(B);
    free(want);
    free(got);
    free(fa);
    free(fb);
    free(fw);
    free(fg);
    return NULL;
}

/* starts n threads with 256 KiB stacks running run() and joins them */
static void on_small_stacks(int n)
{
    pthread_attr_t attr;
    pthread_t th[2];
    job jobs[2] = {{.seed = 1}, {.seed = 2}};
    CHECK(pthread_attr_init(&attr) == 0 && pthread_attr_setstacksize(&attr, 256 << 10) == 0,
          "thread attributes");
    for (int i = 0; i < n; i++)
        CHECK(pthread_create(&th[i], &attr, run, &jobs[i]) == 0, "pthread_create");
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        CHECK(jobs[i].failures == 0, "%d thread(s), thread %d: %d wrong products (first: %s)", n,
              i, jobs[i].failures, jobs[i].what);
    }
    pthread_attr_destroy(&attr);
}

int main(void)
{
    on_small_stacks(1);
    on_small_stacks(2);
    return check_summary();
}
