/* Atomic saves: a child process saves checkpoints in a loop (each save with different
 * parameters) and is killed with SIGKILL at 200 random moments. After every kill the
 * checkpoint must load, intact (checksums verified), and equal to one of the states
 * the child saved completely; temporary files left by a kill are never what is
 * loaded. */
#define _GNU_SOURCE
#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "tapegrad.h"

static tg_model *make(void)
{
    tg_model *m = tg_model_new(TG_F32, 1);
    tg_model_add_dense(m, 64, 256, NULL);
    tg_model_add_dense(m, 256, 64, NULL);
    return m;
}

/* the state of save number k: every parameter filled with k */
static void set_state(tg_model *m, int k)
{
    for (int i = 0; i < tg_model_param_count(m); i++)
        tg_tensor_fill(tg_model_params(m)[i], (double)k);
}

int main(void)
{
    char dir[] = "/tmp/tg-kill-XXXXXX", path[256];
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/ck.safetensors", dir);
    tg_model *m = make();
    set_state(m, 0);
    CHECK(tg_checkpoint_save(path, m, NULL, 0) == TG_OK, "first save: %s", tg_last_error());
    srand(12345);
    int kills = 0, intact = 0;
    int64_t newest = 0;
    for (int round = 0; round < 200; round++) {
        pid_t pid = fork();
        if (pid == 0) {
            for (int k = 1;; k++) { /* save states 1, 2, 3, ... until killed */
                set_state(m, k);
                if (tg_checkpoint_save(path, m, NULL, k) != TG_OK)
                    _exit(3);
            }
        }
        struct timespec ts = {0, (long)(rand() % 3000) * 1000}; /* 0-3 ms */
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        kills += WIFSIGNALED(status);
        tg_model *r = make();
        int64_t epoch = -1;
        tg_status s = tg_checkpoint_load(path, r, NULL, &epoch);
        /* the loaded parameters must all equal the saved epoch number */
        bool consistent = s == TG_OK && epoch >= 0;
        for (int i = 0; consistent && i < tg_model_param_count(r); i++) {
            const tg_tensor *p = tg_model_params(r)[i];
            consistent = tg_tensor_get_flat(p, 0) == (double)epoch &&
                         tg_tensor_get_flat(p, tg_tensor_numel(p) - 1) == (double)epoch;
        }
        intact += consistent;
        if (consistent && epoch > newest)
            newest = epoch;
        if (!consistent)
            fprintf(stderr, "round %d: %s (%s)\n", round, tg_status_name(s), tg_last_error());
        tg_model_free(&r);
    }
    CHECK(kills == 200, "all 200 children were killed mid-loop (%d)", kills);
    CHECK(intact == 200, "the checkpoint loaded intact after %d of 200 kills", intact);
    CHECK(newest > 0, "children completed saves before being killed (newest state %lld)",
          (long long)newest);
    /* leftovers from kills are temporaries beside the checkpoint, never the checkpoint */
    DIR *d = opendir(dir);
    int temps = 0;
    for (struct dirent *de; (de = readdir(d));)
        temps += strstr(de->d_name, ".tmp.") != NULL;
    closedir(d);
    printf("%d temporary files left by kills (ignored by loading)\n", temps);
    tg_model_free(&m);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return check_summary();
}
