/* Atomic saves under SIGKILL, with no assumption about timing or machine load: a child
 * process saves states 1, 2, 3, ... (state k: every parameter equal to k, epoch k) over a
 * checkpoint that holds state 0, and is killed with SIGKILL.
 *  - Stopped kills: through the io module's test-only stage hook, the child stops inside
 *    save k at a chosen stage, says so on a pipe and waits forever; the parent, blocked
 *    on the pipe, kills it there. For every stage of several save numbers the checkpoint
 *    must then hold exactly state k - 1 (killed before the rename) or k (after it),
 *    intact, and a temporary file is left exactly when the kill fell between its
 *    creation and the rename; the partial ones do not load.
 *  - Random kills: the child reports every completed save on the pipe; the parent reads
 *    r of them (r random), then kills the child wherever it is. The checkpoint must hold
 *    a state >= r, intact.
 * Before each round the parent saves state 0; that save must remove the temporary file a
 * kill left. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "io/internal.h"
#include "tapegrad.h"

static char dir[] = "/tmp/tg-kill-XXXXXX", path[256];

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

/* the temporary files beside the checkpoint; the name of one of them in *one */
static int temps(char *one, size_t cap)
{
    DIR *d = opendir(dir);
    int k = 0;
    for (struct dirent *de; (de = readdir(d));)
        if (!strncmp(de->d_name, "ck.safetensors.tmp.", 19)) {
            k++;
            if (one)
                snprintf(one, cap, "%s/%s", dir, de->d_name);
        }
    closedir(d);
    return k;
}

/* the state the checkpoint at p holds: k when it loads (checksums verified) as exactly
 * state k with epoch k; -1 (with the reason printed) otherwise */
static int64_t loaded_state(const char *p, bool quiet)
{
    tg_model *r = make(), *want = make();
    int64_t epoch = -1;
    tg_status s = tg_checkpoint_load(p, r, NULL, &epoch);
    if (s == TG_OK && epoch >= 0 && epoch < 1000000)
        set_state(want, (int)epoch);
    bool ok = s == TG_OK && epoch >= 0 && tg_model_hash(r) == tg_model_hash(want);
    if (!ok && !quiet)
        fprintf(stderr, "%s: %s, epoch %lld (%s)\n", p, tg_status_name(s), (long long)epoch,
                s == TG_OK ? "parameters are not the saved epoch's" : tg_last_error());
    tg_model_free(&r);
    tg_model_free(&want);
    return ok ? epoch : -1;
}

/* ---------------------------------------------------------------- the child */

static int report_fd, stop_save, stop_stage, saves_begun;

static void report(void)
{
    char c = 'k';
    if (write(report_fd, &c, 1) != 1)
        _exit(4);
}

static void on_stage(tg__io_stage s)
{
    if (s == TG__IO_BEFORE_CREATE)
        saves_begun++;
    if (saves_begun == stop_save && (int)s == stop_stage) {
        report();
        for (;;) /* until killed */
            pause();
    }
}
static const tg__io_hooks stopper = {.stage = on_stage};

/* saves states 1, 2, ...: `last` of them (0: until killed), reporting each completed one
 * when `each` */
static void child(tg_model *m, int last, bool each)
{
    for (int k = 1; !last || k <= last; k++) {
        set_state(m, k);
        if (tg_checkpoint_save(path, m, NULL, k) != TG_OK)
            _exit(3);
        if (each)
            report();
    }
    _exit(5); /* the chosen stop never came: the parent reads end-of-file */
}

/* forks a child running child(m, last, each) with the stage hook armed for (save, stage)
 * when save > 0; returns its pid and the pipe's read end in *rd */
static pid_t spawn(tg_model *m, int save, int stage, int last, bool each, int *rd)
{
    int fds[2];
    if (pipe(fds) != 0)
        exit(1);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        exit(1);
    if (pid == 0) {
        close(fds[0]);
        report_fd = fds[1];
        stop_save = save;
        stop_stage = stage;
        if (save > 0)
            tg__io_set_hooks(&stopper);
        child(m, last, each);
    }
    close(fds[1]);
    *rd = fds[0];
    return pid;
}

/* blocks until the child reports once; false at end-of-file (the child ended) */
static bool await_report(int rd)
{
    char c;
    ssize_t r;
    do
        r = read(rd, &c, 1);
    while (r < 0 && errno == EINTR);
    return r == 1;
}

static bool kill_child(pid_t pid, int rd)
{
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    close(rd);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

/* the parent's save of state 0 before each round, which must remove the temporary the
 * last kill left (the killed save's lock died with it) */
static void reset(tg_model *m)
{
    set_state(m, 0);
    CHECK(tg_checkpoint_save(path, m, NULL, 0) == TG_OK, "save of state 0: %s", tg_last_error());
    int nt = temps(NULL, 0);
    CHECK(nt == 0, "the next save removed the temporaries killed saves left (%d left)", nt);
}

static const char *const stage_names[] = {"before the temporary file", "temporary file created",
                                          "mid-write", "fsynced, before the rename",
                                          "after the rename"};

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/ck.safetensors", dir);
    tg_model *m = make();

    /* stopped kills: every stage of saves 1, 2, 3 and 7 */
    static const int saves[] = {1, 2, 3, 7};
    for (size_t i = 0; i < sizeof saves / sizeof saves[0]; i++)
        for (int stage = 0; stage < TG__IO_STAGE_COUNT; stage++) {
            int k = saves[i];
            const char *sn = stage_names[stage];
            reset(m);
            int rd;
            pid_t pid = spawn(m, k, stage, k, false, &rd);
            bool reached = await_report(rd);
            CHECK(reached, "save %d, %s: the child stopped there", k, sn);
            CHECK(kill_child(pid, rd), "save %d, %s: the child was killed by SIGKILL", k, sn);
            if (!reached)
                continue;
            int64_t want = stage < TG__IO_RENAMED ? k - 1 : k, got = loaded_state(path, false);
            CHECK(got == want, "save %d killed %s: the checkpoint holds state %lld, want %lld",
                  k, sn, (long long)got, (long long)want);
            /* the temporary exists from its creation to the rename; the partial ones are
             * rejected, the complete one (fsynced) holds state k */
            char t[512];
            int nt = temps(t, sizeof t);
            bool has = stage >= TG__IO_CREATED && stage <= TG__IO_SYNCED;
            CHECK(nt == has, "save %d killed %s: %d temporary files left, want %d", k, sn, nt, has);
            if (nt == 1 && has) {
                int64_t tk = loaded_state(t, true);
                CHECK(tk == (stage == TG__IO_SYNCED ? k : -1),
                      "save %d killed %s: the temporary file loads as state %lld", k, sn,
                      (long long)tk);
            }
        }

    /* random kills: after r completed saves, wherever the child is */
    srand(12345);
    for (int round = 0; round < 100; round++) {
        reset(m);
        int r = rand() % 6, spin = rand() % 200000, rd;
        pid_t pid = spawn(m, 0, 0, 0, true, &rd);
        int got = 0;
        while (got < r && await_report(rd))
            got++;
        for (volatile int s = 0; s < spin; s++) /* varies where the kill lands */
            ;
        CHECK(got == r, "round %d: the child reported %d of %d saves", round, got, r);
        CHECK(kill_child(pid, rd), "round %d: the child was killed by SIGKILL", round);
        int64_t st = loaded_state(path, false);
        CHECK(st >= r, "round %d: killed after %d completed saves, the checkpoint holds state "
              "%lld", round, r, (long long)st);
    }

    reset(m);
    tg_model_free(&m);
    unlink(path);
    rmdir(dir);
    return check_summary();
}
