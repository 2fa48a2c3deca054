/* Atomic file replacement for saves: a temporary file beside the target, written,
 * fsynced, closed, renamed over the target, and the directory fsynced, with the
 * test-only system-call hooks (internal.h) that let tests inject failures and stop a
 * save at each stage. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "../util.h"
#include "internal.h"

/* ------------------------------------------------------- system-call hooks */

static _Thread_local const tg__io_hooks *tl_hooks;

void tg__io_set_hooks(const tg__io_hooks *h) { tl_hooks = h; }

static ssize_t io_write(int fd, const void *p, size_t n)
{
    return tl_hooks && tl_hooks->write ? tl_hooks->write(fd, p, n) : write(fd, p, n);
}
static int io_fsync(int fd) { return tl_hooks && tl_hooks->fsync ? tl_hooks->fsync(fd) : fsync(fd); }
static int io_close(int fd) { return tl_hooks && tl_hooks->close ? tl_hooks->close(fd) : close(fd); }
static int io_rename(const char *a, const char *b)
{
    return tl_hooks && tl_hooks->rename ? tl_hooks->rename(a, b) : rename(a, b);
}
static void io_stage(tg__io_stage s)
{
    if (tl_hooks && tl_hooks->stage)
        tl_hooks->stage(s);
}


/* Writes all n bytes: short writes are continued, EINTR retried; any other failure
 * (or a write that makes no progress) is final, with errno set. */
static bool write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = io_write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return false;
        if (w == 0) {
            errno = EIO;
            return false;
        }
        c += w;
        n -= (size_t)w;
    }
    return true;
}

/* 6 characters from [A-Za-z0-9] for a temporary file's name: unpredictable enough that
 * O_EXCL rarely finds the name taken (the pid, the time, this thread's call count and an
 * address of this thread, hashed) */
static void temp_suffix(char *six)
{
    static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    static _Thread_local uint64_t calls;
    struct timespec now = {0, 0};
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t in[5] = {(uint64_t)getpid(), ++calls, (uint64_t)now.tv_sec, (uint64_t)now.tv_nsec,
                      (uint64_t)(uintptr_t)&calls};
    uint64_t h = XXH3_64bits(in, sizeof in);
    for (int i = 0; i < 6; i++, h /= 62)
        six[i] = alnum[h % 62];
}

/* Removes the temporaries that killed saves of path left (see checkpoint.h): files in
 * path's directory named exactly <basename>.tmp.<6 letters or digits>, regular files (a
 * symbolic link is not followed), whose flock can be taken (a live save holds its
 * temporary's lock until after its rename) and whose name still refers to the file
 * locked. Best effort: a file that cannot be opened, locked or removed is left. */
static void remove_stale_temps(const char *path)
{
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    size_t bl = strlen(base);
    char dirp[4096], full[4096];
    if (!bl || (size_t)snprintf(dirp, sizeof dirp, "%.*s", slash ? (int)(slash - path) : 1,
                                slash ? path : ".") >= sizeof dirp)
        return;
    DIR *d = opendir(slash == path ? "/" : dirp);
    if (!d)
        return;
    for (struct dirent *de; (de = readdir(d));) {
        const char *nm = de->d_name;
        bool match = strlen(nm) == bl + 11 && !memcmp(nm, base, bl) && !memcmp(nm + bl, ".tmp.", 5);
        for (size_t i = bl + 5; match && i < bl + 11; i++)
            match = (nm[i] >= 'A' && nm[i] <= 'Z') || (nm[i] >= 'a' && nm[i] <= 'z') ||
                    (nm[i] >= '0' && nm[i] <= '9');
        if (!match || (size_t)snprintf(full, sizeof full, "%s%s", path, nm + bl) >= sizeof full)
            continue;
        int fd = open(full, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
            continue;
        struct stat held, now;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &held) == 0 && S_ISREG(held.st_mode) &&
            held.st_nlink > 0 && lstat(full, &now) == 0 && now.st_ino == held.st_ino &&
            now.st_dev == held.st_dev)
            unlink(full);
        close(fd);
    }
    closedir(d);
}

/* Creates the temporary file tmp (its last 6 characters replaced by temp_suffix) with
 * O_EXCL and mode 0666, so the kernel applies the umask (or the directory's default ACL)
 * exactly as open(path, O_CREAT, 0666) would; when path is an existing regular file, its
 * permission bits are copied instead, as open would keep them. The file is flocked, the
 * lock held by *lockfd (a duplicate, to be closed after the rename) so that
 * remove_stale_temps of a concurrent save leaves it alone; where flock is not supported
 * it is unlocked (and no save can lock, hence remove, it). Returns the descriptor, or -1
 * with errno set and no file left. */
static int create_temp(char *tmp, const char *path, int *lockfd)
{
    size_t len = strlen(tmp);
    for (int attempt = 0; attempt < 100; attempt++) {
        temp_suffix(tmp + len - 6);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno == EEXIST)
            continue;
        if (fd < 0)
            return -1;
        /* between the open and the flock another save's remove_stale_temps may have locked
         * the file: it removes it, and this save takes another name */
        struct stat sb;
        if (flock(fd, LOCK_EX | LOCK_NB) != 0 ? errno == EWOULDBLOCK
                                              : fstat(fd, &sb) == 0 && sb.st_nlink == 0) {
            close(fd);
            continue;
        }
        struct stat old;
        if ((stat(path, &old) == 0 && S_ISREG(old.st_mode) && fchmod(fd, old.st_mode & 0777) != 0) ||
            (*lockfd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            errno = e;
            return -1;
        }
        return fd;
    }
    errno = EEXIST;
    return -1;
}

/* fsyncs the directory holding path, so that a rename there survives a crash */
static tg_status sync_dir(const char *fn, const char *path)
{
    char dirbuf[4096];
    snprintf(dirbuf, sizeof dirbuf, "%s", path);
    int dfd = open(dirname(dirbuf), O_RDONLY | O_DIRECTORY);
    tg_status st = TG_OK;
    if (dfd >= 0) {
        if (io_fsync(dfd) != 0)
            st = tg__error_status(TG_EIO, "%s: %s replaced, but the fsync of its directory failed "
                                  "(the rename may not survive a crash): %s", fn, path,
                                  strerror(errno));
        close(dfd);
    }
    return st;
}

/* Replaces path atomically by head (len bytes) followed by the n tensors' bytes: a
 * temporary file beside it, written, fsynced, closed, renamed over path, and the
 * directory fsynced. On failure the temporary file is removed and path is untouched. */
tg_status tg__write_atomically(const char *fn, const char *path, const char *head, size_t len,
                               int n, const tg_tensor *const *ts)
{
    char tmp[4096] = "";
    int fd = -1, lockfd = -1;
    tg_status st = TG_OK;
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= sizeof tmp) {
        tmp[0] = 0;
        st = tg__error_status(TG_EINVAL, "%s: path too long", fn);
        goto done;
    }
    remove_stale_temps(path);
    io_stage(TG__IO_BEFORE_CREATE);
    fd = create_temp(tmp, path, &lockfd);
    if (fd < 0) {
        st = tg__error_status(TG_EIO, "%s: cannot create a temporary file beside %s: %s", fn, path,
                              strerror(errno));
        tmp[0] = 0;
        goto done;
    }
    io_stage(TG__IO_CREATED);
    bool ok = write_all(fd, head, len);
    if (ok)
        io_stage(TG__IO_MID_WRITE);
    for (int i = 0; ok && i < n; i++)
        ok = write_all(fd, tg__st_bytes(ts[i]), tg__st_nbytes(ts[i]));
    if (!ok) {
        st = tg__error_status(TG_EIO, "%s: writing %s failed: %s", fn, tmp, strerror(errno));
        goto done;
    }
    if (io_fsync(fd) != 0) { /* never retried: a failed fsync may have dropped the data */
        st = tg__error_status(TG_EIO, "%s: fsync of %s failed: %s", fn, tmp, strerror(errno));
        goto done;
    }
    int c = io_close(fd);
    fd = -1; /* closed even when close reports an error */
    if (c != 0) {
        st = tg__error_status(TG_EIO, "%s: closing %s failed: %s", fn, tmp, strerror(errno));
        goto done;
    }
    io_stage(TG__IO_SYNCED);
    if (io_rename(tmp, path) != 0) {
        st = tg__error_status(TG_EIO, "%s: renaming to %s failed: %s", fn, path, strerror(errno));
        goto done;
    }
    tmp[0] = 0;
    io_stage(TG__IO_RENAMED);
    st = sync_dir(fn, path);
done:
    if (fd >= 0)
        close(fd);
    if (tmp[0])
        unlink(tmp);
    if (lockfd >= 0) /* after the rename or the unlink */
        close(lockfd);
    return st;
}
