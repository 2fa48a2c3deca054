/* Failed checkpoint writes, injected through the io module's test-only system-call hooks:
 * ENOSPC and EIO from write (first call and a later one), a write that makes no
 * progress, failing fsync, close and rename. Each save must return TG_EIO with the
 * system's reason, leave the previous checkpoint byte-identical, remove its temporary
 * file, and never retry the failed call. Short writes and EINTR are continued: the file
 * is then byte-identical to an undisturbed save. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "io/internal.h"
#include "tapegrad.h"

enum { W_WRITE, W_FSYNC, W_CLOSE, W_RENAME };

static struct {
    int what;        /* which call fails */
    int fail_at;     /* its 1-based call number */
    int err;         /* errno it fails with (0: write returns 0) */
    int calls[4];
    bool failed;
    int after;       /* calls of any hooked function after the failure */
    bool chop;       /* short writes (at most 3 bytes) and an EINTR every third call */
} inj;

static bool fail_now(int what)
{
    if (inj.failed)
        inj.after++;
    inj.calls[what]++;
    if (what == inj.what && inj.calls[what] == inj.fail_at) {
        inj.failed = true;
        errno = inj.err;
        return true;
    }
    return false;
}

static ssize_t h_write(int fd, const void *p, size_t n)
{
    if (fail_now(W_WRITE))
        return inj.err ? -1 : 0;
    if (inj.chop) {
        if (inj.calls[W_WRITE] % 3 == 0) {
            errno = EINTR;
            return -1;
        }
        if (n > 3)
            n = 3;
    }
    return write(fd, p, n);
}
static int h_fsync(int fd) { return fail_now(W_FSYNC) ? -1 : fsync(fd); }
static int h_close(int fd)
{
    int r = close(fd); /* closed either way, as on Linux */
    return fail_now(W_CLOSE) ? -1 : r;
}
static int h_rename(const char *a, const char *b) { return fail_now(W_RENAME) ? -1 : rename(a, b); }
static const tg__io_hooks hooks = {.write = h_write, .fsync = h_fsync, .close = h_close,
                                      .rename = h_rename};

static char dir[] = "/tmp/tg-wfail-XXXXXX", path[256], path2[256];

static unsigned char *slurp(const char *p, size_t *n)
{
    FILE *f = fopen(p, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n + 1);
    if (fread(b, 1, *n, f) != *n)
        *n = 0;
    fclose(f);
    return b;
}

static int files_in_dir(void)
{
    DIR *d = opendir(dir);
    int k = 0;
    for (struct dirent *de; (de = readdir(d));)
        k += de->d_name[0] != '.';
    closedir(d);
    return k;
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/ck.safetensors", dir);
    snprintf(path2, sizeof path2, "%s/plain.safetensors", dir);
    tg_model *m = tg_model_new(TG_F32, 1);
    tg_model_add_dense(m, 40, 30, NULL);
    tg_model_add_dense(m, 30, 2, NULL);
    tg_optim *o = tg_adam_new(tg_model_param_count(m), tg_model_params(m), NULL);
    CHECK(tg_checkpoint_save(path, m, o, 1) == TG_OK, "first save: %s", tg_last_error());
    size_t n0;
    unsigned char *prev = slurp(path, &n0);
    for (int i = 0; i < tg_model_param_count(m); i++) /* the next save differs */
        tg_tensor_fill(tg_model_params(m)[i], 0.25);

    struct {
        const char *what;
        int call, at, err;
        const char *msg;
    } cases[] = {
        {"ENOSPC on the first write", W_WRITE, 1, ENOSPC, NULL},
        {"ENOSPC on a data write", W_WRITE, 3, ENOSPC, NULL},
        {"EIO on a data write", W_WRITE, 2, EIO, NULL},
        {"a write that makes no progress", W_WRITE, 2, 0, "Input/output error"},
        {"fsync fails with EIO", W_FSYNC, 1, EIO, NULL},
        {"fsync fails with ENOSPC", W_FSYNC, 1, ENOSPC, NULL},
        {"close fails with EIO", W_CLOSE, 1, EIO, NULL},
        {"rename fails with EXDEV", W_RENAME, 1, EXDEV, NULL},
        {"rename fails with EACCES", W_RENAME, 1, EACCES, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(&inj, 0, sizeof inj);
        inj.what = cases[i].call;
        inj.fail_at = cases[i].at;
        inj.err = cases[i].err;
        tg__io_set_hooks(&hooks);
        tg_status s = tg_checkpoint_save(path, m, o, 2);
        tg__io_set_hooks(NULL);
        const char *reason = cases[i].msg ? cases[i].msg : strerror(cases[i].err);
        CHECK(s == TG_EIO && strstr(tg_last_error(), reason), "%s: %s '%s' (want '%s')",
              cases[i].what, tg_status_name(s), tg_last_error(), reason);
        CHECK(inj.failed && inj.after == 0, "%s: the failure happened and nothing was retried "
              "(%d calls after it)", cases[i].what, inj.after);
        size_t n;
        unsigned char *now = slurp(path, &n);
        CHECK(now && n == n0 && !memcmp(now, prev, n0), "%s: previous checkpoint byte-identical",
              cases[i].what);
        free(now);
        CHECK(files_in_dir() == 1, "%s: temporary file removed (%d files)", cases[i].what,
              files_in_dir());
    }

    /* short writes and EINTR: continued until complete, same bytes as an undisturbed save */
    CHECK(tg_checkpoint_save(path2, m, o, 2) == TG_OK, "plain save: %s", tg_last_error());
    memset(&inj, 0, sizeof inj);
    inj.what = -1;
    inj.chop = true;
    tg__io_set_hooks(&hooks);
    tg_status s = tg_checkpoint_save(path, m, o, 2);
    tg__io_set_hooks(NULL);
    size_t na, nb;
    unsigned char *a = slurp(path, &na), *b = slurp(path2, &nb);
    CHECK(s == TG_OK && a && b && na == nb && !memcmp(a, b, na),
          "short writes and EINTR: %s, %zu vs %zu bytes, %d write calls", tg_status_name(s), na, nb,
          inj.calls[W_WRITE]);
    CHECK(inj.calls[W_WRITE] > (int)(na / 3), "the writes really were short (%d calls for %zu bytes)",
          inj.calls[W_WRITE], na);
    free(a);
    free(b);

    /* the directory's fsync failing after the rename: the new file is in place, TG_EIO says
     * it may not be durable */
    memset(&inj, 0, sizeof inj);
    inj.what = W_FSYNC;
    inj.fail_at = 2;
    inj.err = EIO;
    tg__io_set_hooks(&hooks);
    s = tg_checkpoint_save(path, m, o, 5);
    tg__io_set_hooks(NULL);
    int64_t epoch = 0;
    tg_model *r = tg_model_new(TG_F32, 2);
    tg_model_add_dense(r, 40, 30, NULL);
    tg_model_add_dense(r, 30, 2, NULL);
    CHECK(s == TG_EIO && strstr(tg_last_error(), "directory") &&
              strstr(tg_last_error(), strerror(EIO)),
          "directory fsync failure reported: %s '%s'", tg_status_name(s), tg_last_error());
    CHECK(tg_checkpoint_load(path, r, NULL, &epoch) == TG_OK && epoch == 5 &&
              tg_model_hash(r) == tg_model_hash(m), "the renamed file is the new checkpoint");

    free(prev);
    tg_model_free(&r);
    tg_optim_free(&o);
    tg_model_free(&m);
    unlink(path);
    unlink(path2);
    rmdir(dir);
    return check_summary();
}
