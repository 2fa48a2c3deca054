/* One tg_melspec (one FFTW plan) used by several threads at once gives each thread the
 * same log-mel spectrograms as a single thread; STFT objects made and freed by several
 * threads at once (FFTW's planner is serialised by the library's lock) work. Run under
 * ThreadSanitizer in CI (suite threads). Skipped (77) without audio support. */
#include <pthread.h>
#include <string.h>

#include "check.h"
#include "tapegrad.h"

#define THREADS 4
#define CLIPS 6

static tg_melspec *ms;
static tg_tensor *clips[CLIPS];
static uint64_t want[CLIPS];

typedef struct {
    int id;
    int bad;
} job;

static void *work(void *arg)
{
    job *j = arg;
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < CLIPS; c++) {
            int k = (c + j->id) % CLIPS;
            tg_tensor *lm = tg_melspec_log(ms, clips[k]);
            j->bad += !lm || tg_tensor_hash(lm) != want[k];
            tg_tensor_free(&lm);
            /* a plan of its own, made and destroyed while others compute */
            tg_stft *s = tg_stft_new(256 + 64 * j->id, 100);
            tg_tensor *p = s ? tg_stft_power(s, clips[k]) : NULL;
            j->bad += !p;
            tg_tensor_free(&p);
            tg_stft_free(&s);
        }
    return NULL;
}

int main(void)
{
    if (!tg_audio_available()) {
        printf("audio support not built (skip)\n");
        return 77;
    }
    tg_melspec_opts o = tg_melspec_defaults();
    ms = tg_melspec_new(&o);
    CHECK(ms != NULL, "melspec: %s", tg_last_error());
    for (int c = 0; c < CLIPS; c++) {
        clips[c] = tg_rand_uniform(TG_F32, 1, (int64_t[]){4000 + 500 * c}, -0.5, 0.5, 3,
                                   (uint64_t)c);
        tg_tensor *lm = tg_melspec_log(ms, clips[c]);
        want[c] = lm ? tg_tensor_hash(lm) : 0;
        tg_tensor_free(&lm);
    }
    pthread_t th[THREADS];
    job jobs[THREADS];
    for (int i = 0; i < THREADS; i++) {
        jobs[i] = (job){.id = i};
        pthread_create(&th[i], NULL, work, &jobs[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        CHECK(jobs[i].bad == 0, "thread %d: %d results differ or failed", i, jobs[i].bad);
    }
    for (int c = 0; c < CLIPS; c++)
        tg_tensor_free(&clips[c]);
    tg_melspec_free(&ms);
    return check_summary();
}
