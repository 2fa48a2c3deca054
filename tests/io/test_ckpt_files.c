/* The files a save leaves on disk.
 *  - Mode: a new checkpoint (tg_checkpoint_save and tg_safetensors_write) gets 0666 minus
 *    the umask, as open(path, O_CREAT, 0666) would give it, for several umasks; a replaced
 *    one keeps its permission bits, as open would.
 *  - Stale temporaries (what a killed save leaves, <name>.tmp.XXXXXX) of the target are
 *    removed by its next save; files with other names, symbolic links, directories and
 *    the temporaries of other targets are not, nor is a temporary whose flock is held.
 *  - A live save's temporary survives a concurrent save of the same path, from another
 *    process and from another thread: the concurrent save stops (stage hook) between its
 *    fsync and its rename, the main thread saves the same path, then the stopped save
 *    completes and its state is the checkpoint. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "io/internal.h"
#include "tapegrad.h"

static char dir[] = "/tmp/tg-files-XXXXXX", path[256], path2[256];

static int mode_of(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 ? (int)(sb.st_mode & 07777) : -1;
}

static void test_modes(tg_model *m)
{
    const tg_tensor *t = tg_model_params(m)[0];
    static const mode_t masks[] = {022, 077, 0, 027, 002};
    for (size_t i = 0; i < sizeof masks / sizeof masks[0]; i++) {
        int want = 0666 & ~(int)masks[i];
        unlink(path);
        unlink(path2);
        mode_t old = umask(masks[i]);
        tg_status s1 = tg_checkpoint_save(path, m, NULL, 1);
        tg_status s2 = tg_safetensors_write(path2, 1, (const char *[]){"w"}, &t, 0, NULL);
        umask(old);
        CHECK(s1 == TG_OK && s2 == TG_OK, "umask %03o: saves: %s", (unsigned)masks[i], tg_last_error());
        CHECK(mode_of(path) == want, "umask %03o: new checkpoint has mode %03o, want %03o",
              (unsigned)masks[i], (unsigned)mode_of(path), (unsigned)want);
        CHECK(mode_of(path2) == want, "umask %03o: new safetensors file has mode %03o, want %03o",
              (unsigned)masks[i], (unsigned)mode_of(path2), (unsigned)want);
    }
    /* replacing a file keeps its bits, narrower or wider than the umask's */
    static const mode_t kept[] = {0600, 0640, 0664, 0444};
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
        CHECK(chmod(path, kept[i]) == 0, "chmod");
        mode_t old = umask(022);
        tg_status s = tg_checkpoint_save(path, m, NULL, 2);
        umask(old);
        CHECK(s == TG_OK && mode_of(path) == (int)kept[i],
              "replacing a %03o checkpoint: %s, mode now %03o", (unsigned)kept[i], tg_status_name(s),
              (unsigned)mode_of(path));
    }
}

static bool exists(const char *name)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat sb;
    return lstat(p, &sb) == 0;
}

static void touch(const char *name)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs("partial", f);
        fclose(f);
    }
}

static int temps_of_ck(void)
{
    DIR *d = opendir(dir);
    int k = 0;
    for (struct dirent *de; (de = readdir(d));)
        k += !strncmp(de->d_name, "ck.safetensors.tmp.", 19);
    closedir(d);
    return k;
}

static void test_stale(tg_model *m)
{
    static const char *const stale[] = {"ck.safetensors.tmp.AbC123", "ck.safetensors.tmp.zzzzzz",
                                        "ck.safetensors.tmp.000000"};
    static const char *const kept[] = {
        "ck.safetensors.tmp.AbC12",      /* 5 characters */
        "ck.safetensors.tmp.AbC1234",    /* 7 */
        "ck.safetensors.tmp.Ab-123",     /* not a letter or digit */
        "ck.safetensors.tmpXAbC123",     /* not ".tmp." */
        "xck.safetensors.tmp.AbC123",    /* another target */
        "other.safetensors.tmp.AbC123",  /* another target */
        "ck.safetensors.TMP.AbC123",
    };
    for (size_t i = 0; i < sizeof stale / sizeof stale[0]; i++)
        touch(stale[i]);
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
        touch(kept[i]);
    char p[512], q[512];
    snprintf(p, sizeof p, "%s/ck.safetensors.tmp.Dir123", dir); /* a directory */
    CHECK(mkdir(p, 0700) == 0, "mkdir");
    snprintf(p, sizeof p, "%s/ck.safetensors.tmp.Lnk123", dir); /* a link to another target's file */
    snprintf(q, sizeof q, "%s/other.safetensors.tmp.AbC123", dir);
    CHECK(symlink(q, p) == 0, "symlink");
    /* a temporary whose lock is held, as a live save holds its own */
    touch("ck.safetensors.tmp.Live01");
    snprintf(p, sizeof p, "%s/ck.safetensors.tmp.Live01", dir);
    int lfd = open(p, O_RDONLY);
    CHECK(lfd >= 0 && flock(lfd, LOCK_EX | LOCK_NB) == 0, "lock of the live temporary");

    CHECK(tg_checkpoint_save(path, m, NULL, 3) == TG_OK, "save: %s", tg_last_error());
    for (size_t i = 0; i < sizeof stale / sizeof stale[0]; i++)
        CHECK(!exists(stale[i]), "the stale temporary %s was removed by the next save", stale[i]);
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
        CHECK(exists(kept[i]), "%s was left alone", kept[i]);
    CHECK(exists("ck.safetensors.tmp.Dir123") && exists("ck.safetensors.tmp.Lnk123"),
          "a directory and a symbolic link with a temporary's name were left alone");
    CHECK(exists("ck.safetensors.tmp.Live01"), "a locked temporary was left alone");
    CHECK(temps_of_ck() == 6, "the save left no temporary of its own (%d beside)", temps_of_ck());
    close(lfd); /* the lock is gone: the next save removes it */
    CHECK(tg_checkpoint_save(path, m, NULL, 4) == TG_OK, "save: %s", tg_last_error());
    CHECK(!exists("ck.safetensors.tmp.Live01"), "a temporary whose lock was released is removed");

    /* the same in the current directory, with a path without a directory part */
    touch("ck.safetensors.tmp.Cwd123");
    char cwd[4096];
    CHECK(getcwd(cwd, sizeof cwd) && chdir(dir) == 0, "chdir");
    CHECK(tg_checkpoint_save("ck.safetensors", m, NULL, 5) == TG_OK, "save: %s", tg_last_error());
    CHECK(chdir(cwd) == 0, "chdir back");
    CHECK(!exists("ck.safetensors.tmp.Cwd123"), "a relative path's stale temporary was removed");

    DIR *d = opendir(dir);
    for (struct dirent *de; (de = readdir(d));) {
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && unlink(p) != 0)
            rmdir(p);
    }
    closedir(d);
}

/* ------------------------------------- a live save beside a concurrent one */

static int go_fd[2], stopped_fd[2];

/* stops the save, once fsynced and before its rename, until the main thread writes go_fd */
static void hold(tg__io_stage s)
{
    char c = 's';
    if (s != TG__IO_SYNCED || write(stopped_fd[1], &c, 1) != 1)
        return;
    while (read(go_fd[0], &c, 1) < 0 && errno == EINTR)
        ;
}
static const tg__io_hooks holder = {.stage = hold};

static tg_model *held_model;

static tg_status held_save(void)
{
    tg__io_set_hooks(&holder);
    tg_status s = tg_checkpoint_save(path, held_model, NULL, 7);
    tg__io_set_hooks(NULL);
    return s;
}

static void *held_thread(void *arg)
{
    *(tg_status *)arg = held_save();
    return NULL;
}

static void test_live(tg_model *m, bool process)
{
    const char *how = process ? "another process" : "another thread";
    CHECK(pipe(go_fd) == 0 && pipe(stopped_fd) == 0, "pipes");
    held_model = tg_model_new(TG_F32, 1);
    tg_model_add_dense(held_model, 6, 3, NULL);
    tg_tensor_fill(tg_model_params(held_model)[0], 7.0);
    tg_status held = TG_EINVAL;
    pid_t pid = -1;
    pthread_t th;
    if (process) {
        fflush(NULL);
        pid = fork();
        if (pid == 0)
            _exit(held_save() == TG_OK ? 0 : 1);
    } else {
        CHECK(pthread_create(&th, NULL, held_thread, &held) == 0, "pthread_create");
    }
    char c;
    CHECK(read(stopped_fd[0], &c, 1) == 1, "%s: the save stopped before its rename", how);
    CHECK(temps_of_ck() == 1, "%s: its temporary exists (%d)", how, temps_of_ck());
    CHECK(tg_checkpoint_save(path, m, NULL, 8) == TG_OK, "%s: concurrent save: %s", how,
          tg_last_error());
    CHECK(temps_of_ck() == 1, "%s: the live temporary survived the concurrent save", how);
    CHECK(write(go_fd[1], "g", 1) == 1, "go");
    if (process) {
        int status = 0;
        waitpid(pid, &status, 0);
        held = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? TG_OK : TG_EIO;
    } else {
        pthread_join(th, NULL);
    }
    CHECK(held == TG_OK, "%s: the stopped save completed", how);
    tg_model *r = tg_model_new(TG_F32, 1);
    tg_model_add_dense(r, 6, 3, NULL);
    int64_t epoch = 0;
    CHECK(tg_checkpoint_load(path, r, NULL, &epoch) == TG_OK && epoch == 7 &&
              tg_model_hash(r) == tg_model_hash(held_model),
          "%s: the checkpoint is the stopped save's (epoch %lld)", how, (long long)epoch);
    CHECK(temps_of_ck() == 0, "%s: no temporary left", how);
    tg_model_free(&r);
    tg_model_free(&held_model);
    close(go_fd[0]);
    close(go_fd[1]);
    close(stopped_fd[0]);
    close(stopped_fd[1]);
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/ck.safetensors", dir);
    snprintf(path2, sizeof path2, "%s/plain.safetensors", dir);
    tg_model *m = tg_model_new(TG_F32, 1);
    tg_model_add_dense(m, 6, 3, NULL);
    test_modes(m);
    test_stale(m);
    test_live(m, true);
    test_live(m, false);
    tg_model_free(&m);
    unlink(path);
    unlink(path2);
    rmdir(dir);
    return check_summary();
}
