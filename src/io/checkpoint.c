/* Checkpoints and generic safetensors files. Little-endian hosts only: tensors are
 * written and read as the host's bytes (meson.build rejects other hosts, this guard
 * builds without it). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "../util.h"
#include "checkpoint.h"
#include "internal.h"

#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && \
    __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "tapegrad supports little-endian hosts only: checkpoints are written without byte swapping"
#endif

#define FORMAT "tapegrad-checkpoint-2"
#define MAX_ENTRIES 1024
#define MAX_NAME 128
#define MAX_HEADER ((uint64_t)100 << 20)
/* bytes jansson may allocate (in total, frees not subtracted) while parsing one header:
 * MAX_ENTRIES tensors of rank 8 with 127-byte names need about 2 MiB */
#define JSON_BUDGET ((size_t)4 << 20)
#define HKEY "\"header_xxh3\":\""
#define HKEY_LEN (sizeof HKEY - 1)
#define PLACEHOLDER "0000000000000000"

/* The fuzz targets' copy of the library only (tests/fuzz, -Dfuzz=true; never a normal
 * build): a checksum that does not match is not fatal, so the fuzzer, which cannot forge
 * XXH3, reaches the validation behind the checksums. Anyone writing a file by hand can
 * compute them, so that code faces hostile input and must be fuzzed. Every other check,
 * the checksums' own syntax included, stays. */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define CHECKSUM_MISMATCH_FATAL false
#else
#define CHECKSUM_MISMATCH_FATAL true
#endif

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

/* ------------------------------------------- jansson through tg's allocator */

/* jansson's allocator is process-global (json_set_alloc_funcs): it is set once to
 * tapegrad's hook. While a header is parsed, this thread's budget caps what the parse
 * may allocate, so a small header cannot expand into a huge tree. */
static _Thread_local struct {
    bool on, over, oom;
    size_t left;
} tl_json;

static void *json_alloc(size_t n)
{
    if (tl_json.on) {
        if (n > tl_json.left) {
            tl_json.over = true;
            return NULL;
        }
        tl_json.left -= n;
    }
    void *p = tg__malloc(n);
    if (!p)
        tl_json.oom = true;
    return p;
}

static void json_release(void *p) { tg__mfree(p); }

static pthread_once_t json_once = PTHREAD_ONCE_INIT;
static void json_setup(void) { json_set_alloc_funcs(json_alloc, json_release); }
static void use_tg_allocator(void) { pthread_once(&json_once, json_setup); }

/* ------------------------------------------------------------------ dtypes */

enum { D_F64, D_F32, D_I32, D_F16, D_BF16, D_I64, D_I16, D_I8, D_U64, D_U32, D_U16, D_U8,
       D_BOOL, D_F8_E5M2, D_F8_E4M3, D_COUNT };
static const struct {
    const char *name;
    size_t size;
} dtypes[D_COUNT] = {
    {"F64", 8}, {"F32", 4}, {"I32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I16", 2},
    {"I8", 1}, {"U64", 8}, {"U32", 4}, {"U16", 2}, {"U8", 1}, {"BOOL", 1}, {"F8_E5M2", 1},
    {"F8_E4M3", 1},
};

static int code_of(tg_dtype d) { return d == TG_F32 ? D_F32 : d == TG_F64 ? D_F64 : D_I32; }

static size_t nbytes(const tg_tensor *t) { return (size_t)tg_tensor_numel(t) * tg_dtype_size(t->dtype); }

static void *bytes_of(const tg_tensor *t)
{
    return (char *)t->data + (size_t)t->offset * tg_dtype_size(t->dtype);
}

static void hex16(char *out, uint64_t h)
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++)
        out[i] = digits[(h >> (60 - 4 * i)) & 15];
}

/* 16 lowercase hex digits, nothing else */
static bool parse_hex16(const char *s, size_t len, uint64_t *v)
{
    if (len != 16)
        return false;
    uint64_t x = 0;
    for (int i = 0; i < 16; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return false;
        x = x << 4 | (uint64_t)d;
    }
    *v = x;
    return true;
}

/* the header checksum: XXH3-64 of the 8-byte length and the header bytes (padding
 * included) with the checksum's 16 digits at `at` replaced by PLACEHOLDER */
static uint64_t header_hash(char *file, uint64_t hl, size_t at)
{
    char saved[16];
    memcpy(saved, file + at, 16);
    memcpy(file + at, PLACEHOLDER, 16);
    uint64_t h = XXH3_64bits(file, 8 + (size_t)hl);
    memcpy(file + at, saved, 16);
    return h;
}

/* --------------------------------------------------------------------- save */

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

static tg_status oom(const char *fn) { return tg__error_status(TG_ENOMEM, "%s: out of memory", fn); }

/* the safetensors header of n tensors plus metadata (kv: nmeta key/value pairs), with
 * PLACEHOLDER as header_xxh3; NULL with tl_json.oom on allocation failure */
static json_t *build_header(int n, const char *const *names, const tg_tensor *const *ts,
                            int nmeta, const char *const *kv)
{
    json_t *hdr = json_object(), *meta = json_object();
    bool ok = hdr && meta && json_object_set(hdr, "__metadata__", meta) == 0 &&
              json_object_set_new(meta, "header_xxh3", json_string(PLACEHOLDER)) == 0;
    for (int i = 0; ok && i < nmeta; i++)
        ok = json_object_set_new(meta, kv[2 * i], json_string(kv[2 * i + 1])) == 0;
    size_t off = 0;
    for (int i = 0; ok && i < n; i++) {
        /* each *_set_new / *_append_new takes its value's reference, even when it fails */
        const tg_tensor *t = ts[i];
        json_t *ent = json_object(), *shape = NULL;
        ok = json_object_set_new(hdr, names[i], ent) == 0;
        if (ok) {
            shape = json_array();
            ok = json_object_set_new(ent, "shape", shape) == 0;
        }
        for (int d = 0; ok && d < t->ndim; d++)
            ok = json_array_append_new(shape, json_integer(t->shape[d])) == 0;
        char key[MAX_NAME + 8], hex[17] = {0};
        snprintf(key, sizeof key, "xxh3.%s", names[i]);
        hex16(hex, XXH3_64bits(bytes_of(t), nbytes(t)));
        ok = ok && json_object_set_new(ent, "dtype", json_string(dtypes[code_of(t->dtype)].name)) == 0 &&
             json_object_set_new(ent, "data_offsets",
                                 json_pack("[II]", (json_int_t)off, (json_int_t)(off + nbytes(t)))) == 0 &&
             json_object_set_new(meta, key, json_string(hex)) == 0;
        off += nbytes(t);
    }
    json_decref(meta);
    if (!ok) {
        json_decref(hdr);
        return NULL;
    }
    return hdr;
}

static bool reserved_meta_key(const char *k)
{
    return !strcmp(k, "header_xxh3") || !strncmp(k, "xxh3.", 5);
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

static tg_status st_write(const char *fn, const char *path, int n, const char *const *names,
                          const tg_tensor *const *ts, int nmeta, const char *const *kv)
{
    if (!path || n < 0 || n > MAX_ENTRIES || (n && (!names || !ts)) || nmeta < 0 || (nmeta && !kv))
        return tg__error_status(TG_EINVAL, "%s: NULL argument or bad count", fn);
    for (int i = 0; i < n; i++) {
        if (!names[i] || !ts[i] || !*names[i] || strlen(names[i]) >= MAX_NAME ||
            !strcmp(names[i], "__metadata__"))
            return tg__error_status(TG_EINVAL, "%s: tensor %d: NULL, or name empty, too long or "
                                    "reserved", fn, i);
        if (!tg_tensor_is_contiguous(ts[i]))
            return tg__error_status(TG_EINVAL, "%s: %s is not contiguous", fn, names[i]);
        for (int j = 0; j < i; j++)
            if (!strcmp(names[i], names[j]))
                return tg__error_status(TG_EINVAL, "%s: name %s given twice", fn, names[i]);
    }
    for (int i = 0; i < nmeta; i++)
        if (!kv[2 * i] || !kv[2 * i + 1] || reserved_meta_key(kv[2 * i]))
            return tg__error_status(TG_EINVAL, "%s: metadata key %d NULL or reserved", fn, i);
    use_tg_allocator();
    tl_json.oom = false;
    json_t *hdr = build_header(n, names, ts, nmeta, kv);
    if (!hdr)
        return tl_json.oom ? oom(fn)
                           : tg__error_status(TG_EINVAL, "%s: a name or value is not valid UTF-8", fn);
    size_t hl = json_dumpb(hdr, NULL, 0, JSON_COMPACT | JSON_SORT_KEYS);
    size_t padded = (hl + 7) / 8 * 8;
    char *head = hl ? tg__malloc(8 + padded) : NULL;
    tg_status st = TG_OK;
    char tmp[4096] = "";
    int fd = -1, lockfd = -1;
    if (!head || json_dumpb(hdr, head + 8, hl, JSON_COMPACT | JSON_SORT_KEYS) != hl || tl_json.oom) {
        st = oom(fn);
        goto done;
    }
    memset(head + 8 + hl, ' ', padded - hl);
    for (int i = 0; i < 8; i++)
        head[i] = (char)(unsigned char)((uint64_t)padded >> (8 * i));
    /* the placeholder occurs exactly once: names and values are quoted JSON strings */
    char *at = NULL;
    for (size_t i = 8; i + HKEY_LEN + 16 <= 8 + padded; i++)
        if (!memcmp(head + i, HKEY PLACEHOLDER "\"", HKEY_LEN + 17)) {
            at = head + i + HKEY_LEN;
            break;
        }
    if (!at) {
        st = tg__error_status(TG_EINVAL, "%s: header checksum placeholder not found", fn);
        goto done;
    }
    hex16(at, header_hash(head, padded, (size_t)(at - head)));

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
    bool ok = write_all(fd, head, 8 + padded);
    if (ok)
        io_stage(TG__IO_MID_WRITE);
    for (int i = 0; ok && i < n; i++)
        ok = write_all(fd, bytes_of(ts[i]), nbytes(ts[i]));
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
    char dirbuf[4096];
    snprintf(dirbuf, sizeof dirbuf, "%s", path);
    int dfd = open(dirname(dirbuf), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) { /* make the rename durable */
        if (io_fsync(dfd) != 0)
            st = tg__error_status(TG_EIO, "%s: %s replaced, but the fsync of its directory failed "
                                  "(the rename may not survive a crash): %s", fn, path,
                                  strerror(errno));
        close(dfd);
    }
done:
    if (fd >= 0)
        close(fd);
    if (tmp[0])
        unlink(tmp);
    if (lockfd >= 0) /* after the rename or the unlink */
        close(lockfd);
    tg__mfree(head);
    json_decref(hdr);
    return st;
}

tg_status tg_safetensors_write(const char *path, int n, const char *const *names,
                               const tg_tensor *const *tensors, int nmeta, const char *const *kv)
{
    return st_write("tg_safetensors_write", path, n, names, tensors, nmeta, kv);
}

/* ------------------------------------------------ what a checkpoint holds */

typedef struct {
    char name[MAX_NAME];
    tg_tensor *t;
} entry;

/* The tensors of a model (+ optimizer), in a fixed order: the one place listing them.
 * Returns the count and *out (free with tg__mfree), or minus a status with the error set. */
static int collect(const tg_model *m, const tg_optim *opt, entry **out, const char *fn)
{
    int np = tg_model_param_count(m), nb = tg_model_buffer_count(m);
    int ns = opt ? tg_optim_state_count(opt) : 0;
    if (np < 0 || nb < 0 || ns < 0 || np + nb + ns > MAX_ENTRIES) {
        tg__error(TG_EINVAL, "%s: more than %d tensors", fn, MAX_ENTRIES);
        return -(int)TG_EINVAL;
    }
    entry *e = tg__malloc(sizeof(entry) * (size_t)(np + nb + ns));
    if (!e) {
        tg__error(TG_ENOMEM, "%s: out of memory", fn);
        return -(int)TG_ENOMEM;
    }
    int n = 0;
    bool ok = true;
    for (int i = 0; ok && i < np; i++) {
        ok = (size_t)snprintf(e[n].name, MAX_NAME, "model.%s", tg_model_param_name(m, i)) < MAX_NAME;
        e[n++].t = tg_model_params(m)[i];
    }
    /* buffers (batch norm's running statistics) follow the parameters */
    for (int i = 0; ok && i < nb; i++) {
        ok = (size_t)snprintf(e[n].name, MAX_NAME, "model.%s", tg_model_buffer_name(m, i)) < MAX_NAME;
        e[n++].t = tg_model_buffers(m)[i];
    }
    for (int i = 0; ok && i < ns; i++) {
        const char *nm = NULL;
        tg_tensor *s = tg_optim_state_tensor((tg_optim *)opt, i, &nm);
        ok = s && nm && (size_t)snprintf(e[n].name, MAX_NAME, "optim.%s", nm) < MAX_NAME;
        e[n++].t = s;
    }
    if (!ok) {
        tg__mfree(e);
        tg__error(TG_EINVAL, "%s: tensor %d unavailable or its name too long", fn, n - 1);
        return -(int)TG_EINVAL;
    }
    *out = e;
    return n;
}

tg_status tg_checkpoint_save(const char *path, const tg_model *m, const tg_optim *opt, int64_t epoch)
{
    const char *fn = "tg_checkpoint_save";
    if (!path || !m)
        return tg__error_status(TG_EINVAL, "%s: NULL argument", fn);
    if (epoch < 0) /* the loader reads it back as an unsigned count */
        return tg__error_status(TG_EINVAL, "%s: epoch %" PRId64 " is negative", fn, epoch);
    entry *e = NULL;
    int n = collect(m, opt, &e, fn);
    if (n < 0)
        return (tg_status)-n;
    const char **names = tg__malloc(sizeof(char *) * (size_t)n);
    const tg_tensor **ts = tg__malloc(sizeof(tg_tensor *) * (size_t)n);
    tg_status st;
    if (!names || !ts) {
        st = oom(fn);
    } else {
        for (int i = 0; i < n; i++) {
            names[i] = e[i].name;
            ts[i] = e[i].t;
        }
        char ep[24], rng[24], steps[24];
        snprintf(ep, sizeof ep, "%" PRId64, epoch);
        snprintf(rng, sizeof rng, "%" PRIu64, tg_model_rng_counter(m));
        snprintf(steps, sizeof steps, "%" PRId64, opt ? tg_optim_steps(opt) : 0);
        const char *kv[] = {"format", FORMAT, "epoch", ep, "rng_counter", rng,
                            "optim_steps", steps, "optim", opt ? tg_optim_name(opt) : ""};
        st = st_write(fn, path, n, names, ts, opt ? 5 : 3, kv);
    }
    tg__mfree(names);
    tg__mfree(ts);
    tg__mfree(e);
    return st;
}

/* --------------------------------------------------------------------- load */

typedef struct {
    const char *name;   /* key in the parsed header */
    int code;           /* index in dtypes */
    int ndim;
    int64_t shape[TG_MAX_DIMS];
    uint64_t b, e;      /* data_offsets */
} st_entry;

typedef struct {
    const char *fn, *path;
    char *buf;          /* the whole file */
    size_t size;
    uint64_t hl;        /* header length; the data starts at buf + 8 + hl */
    json_t *hdr, *meta; /* meta NULL when the file has no __metadata__ */
    st_entry *ent;      /* in data order */
    int n;
} st_file;

static tg_status bad(const st_file *f, const char *what, const char *name)
{
    return tg__error_status(TG_EFORMAT, "%s: %s: %s%s%s", f->fn, f->path, what, name ? ": " : "",
                            name ? name : "");
}

static void st_close(st_file *f)
{
    json_decref(f->hdr);
    tg__mfree(f->buf);
    tg__mfree(f->ent);
    f->hdr = NULL;
    f->buf = NULL;
    f->ent = NULL;
}

static int by_offsets(const void *a, const void *b)
{
    const st_entry *x = a, *y = b;
    if (x->b != y->b)
        return (x->b > y->b) - (x->b < y->b);
    return (x->e > y->e) - (x->e < y->e);
}

static const st_entry *find(const st_file *f, const char *name)
{
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->ent[i].name, name))
            return &f->ent[i];
    return NULL;
}

static tg_status read_file(st_file *f)
{
    int fd = open(f->path, O_RDONLY);
    if (fd < 0)
        return tg__error_status(TG_EIO, "%s: cannot open %s: %s", f->fn, f->path, strerror(errno));
    struct stat sb;
    tg_status st = TG_OK;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = tg__error_status(TG_EIO, "%s: %s is not a regular file", f->fn, f->path);
        goto done;
    }
    f->size = (size_t)sb.st_size;
    if (f->size < 8) {
        st = bad(f, "file shorter than the 8-byte header length", NULL);
        goto done;
    }
    f->buf = tg__malloc(f->size);
    if (!f->buf) {
        st = oom(f->fn);
        goto done;
    }
    for (size_t got = 0; got < f->size;) {
        ssize_t r = read(fd, f->buf + got, f->size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            st = tg__error_status(TG_EIO, "%s: cannot read %s: %s", f->fn, f->path,
                                  r < 0 ? strerror(errno) : "file shrank while read");
            goto done;
        }
        got += (size_t)r;
    }
done:
    close(fd);
    return st;
}

/* Reads and verifies a safetensors file: the header checksum (before anything else is
 * trusted), the JSON, every entry's dtype, shape and offsets, that the tensors tile the
 * data exactly, and every tensor checksum. `ours`: a tapegrad checkpoint, whose
 * __metadata__, header checksum and tensor checksums are required. */
static tg_status st_open(st_file *f, bool ours)
{
    tg_status st = read_file(f);
    if (st != TG_OK)
        return st;
    char *buf = f->buf;
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++)
        hl |= (uint64_t)(unsigned char)buf[i] << (8 * i);
    if (hl > MAX_HEADER || hl > f->size - 8)
        return bad(f, "header length past the end of the file or over 100 MB", NULL);
    f->hl = hl;
    /* the header checksum, located in the raw bytes */
    size_t hat = 0;
    int found = 0;
    for (size_t i = 8; i + HKEY_LEN <= 8 + hl; i++)
        if (buf[i] == '"' && !memcmp(buf + i, HKEY, HKEY_LEN)) {
            found++;
            hat = i + HKEY_LEN;
        }
    uint64_t want = 0;
    if (found > 1)
        return bad(f, "header checksum (header_xxh3) appears more than once", NULL);
    if (found == 0 && ours)
        return bad(f, "header checksum (header_xxh3) missing: not a " FORMAT " file", NULL);
    if (found && (hat + 17 > 8 + hl || buf[hat + 16] != '"' || !parse_hex16(buf + hat, 16, &want)))
        return bad(f, "header checksum (header_xxh3) is not 16 lowercase hex digits", NULL);
    if (found && header_hash(buf, hl, hat) != want && CHECKSUM_MISMATCH_FATAL)
        return bad(f, "header checksum mismatch (the length or header bytes are corrupt)", NULL);

    use_tg_allocator();
    json_error_t jerr;
    tl_json.on = true;
    tl_json.left = JSON_BUDGET;
    tl_json.over = tl_json.oom = false;
    f->hdr = json_loadb(buf + 8, (size_t)hl, JSON_REJECT_DUPLICATES, &jerr);
    tl_json.on = false;
    /* jansson's lexer ignores some failed allocations and returns a damaged tree (a
     * string cut short): any failed allocation fails the parse */
    if (tl_json.oom)
        return oom(f->fn);
    if (tl_json.over)
        return bad(f, "header too complex (its JSON would need over 4 MiB)", NULL);
    if (!f->hdr) {
        return tg__error_status(TG_EFORMAT, "%s: %s: header is not valid JSON: %s", f->fn, f->path,
                                jerr.text);
    }
    if (!json_is_object(f->hdr))
        return bad(f, "header is not a JSON object", NULL);
    json_t *meta = json_object_get(f->hdr, "__metadata__");
    if (meta && !json_is_object(meta))
        return bad(f, "__metadata__ is not an object", NULL);
    const char *key;
    json_t *val;
    if (ours && (!meta || !json_is_string(json_object_get(meta, "format")) ||
                 strcmp(json_string_value(json_object_get(meta, "format")), FORMAT)))
        return bad(f, "__metadata__ missing or not a " FORMAT " checkpoint", NULL);
    json_object_foreach(meta, key, val)
    {
        if (!json_is_string(val))
            return bad(f, "__metadata__ value is not a string", key);
    }
    json_t *hj = json_object_get(meta, "header_xxh3");
    if ((hj || found) && (!hj || strlen(json_string_value(hj)) != 16 ||
                          memcmp(json_string_value(hj), buf + hat, 16)))
        return bad(f, "header checksum is not __metadata__'s header_xxh3", NULL);
    f->meta = meta;

    size_t count = json_object_size(f->hdr) - (meta != NULL);
    if (count > MAX_ENTRIES)
        return bad(f, "more than 1024 tensors", NULL);
    f->ent = tg__malloc(sizeof(st_entry) * (count ? count : 1));
    if (!f->ent)
        return oom(f->fn);
    uint64_t data = f->size - 8 - hl;
    json_object_foreach(f->hdr, key, val)
    {
        if (val == meta)
            continue;
        st_entry *e = &f->ent[f->n++];
        e->name = key;
        json_t *dt = json_object_get(val, "dtype"), *shape = json_object_get(val, "shape"),
               *offs = json_object_get(val, "data_offsets");
        if (!json_is_object(val) || json_object_size(val) != 3 || !dt || !shape || !offs)
            return bad(f, "tensor entry malformed or with unknown fields", key);
        e->code = -1;
        for (int d = 0; json_is_string(dt) && d < D_COUNT; d++)
            if (!strcmp(json_string_value(dt), dtypes[d].name))
                e->code = d;
        if (e->code < 0)
            return bad(f, "unknown dtype", key);
        bool ok = json_is_array(shape) && json_array_size(shape) <= TG_MAX_DIMS;
        e->ndim = ok ? (int)json_array_size(shape) : 0;
        for (int d = 0; ok && d < e->ndim; d++) {
            json_t *x = json_array_get(shape, (size_t)d);
            ok = json_is_integer(x) && json_integer_value(x) >= 0;
            e->shape[d] = ok ? json_integer_value(x) : 0;
        }
        int64_t numel = 0;
        if (!ok || !tg__numel(e->ndim, e->shape, &numel) ||
            (uint64_t)numel > UINT64_MAX / dtypes[e->code].size)
            return bad(f, "shape invalid (negative, non-integer, rank over 8 or too many elements)", key);
        json_t *b = json_array_get(offs, 0), *en = json_array_get(offs, 1);
        if (!json_is_array(offs) || json_array_size(offs) != 2 || !json_is_integer(b) ||
            !json_is_integer(en) || json_integer_value(b) < 0 ||
            json_integer_value(en) < json_integer_value(b) || (uint64_t)json_integer_value(en) > data ||
            (uint64_t)(json_integer_value(en) - json_integer_value(b)) !=
                (uint64_t)numel * dtypes[e->code].size)
            return bad(f, "data_offsets invalid for the tensor's size", key);
        e->b = (uint64_t)json_integer_value(b);
        e->e = (uint64_t)json_integer_value(en);
    }
    /* the tensors must tile the data section exactly: no gaps, overlaps or trailing bytes */
    qsort(f->ent, (size_t)f->n, sizeof(st_entry), by_offsets);
    uint64_t at = 0;
    for (int i = 0; i < f->n; i++) {
        if (f->ent[i].b != at)
            return bad(f, "data_offsets leave a gap or overlap", f->ent[i].name);
        at = f->ent[i].e;
    }
    if (at != data)
        return bad(f, "bytes after the last tensor", NULL);
    /* tensor checksums: required in our files, verified whenever present */
    json_object_foreach(meta, key, val)
    {
        if (!strncmp(key, "xxh3.", 5) && !find(f, key + 5))
            return bad(f, "checksum of a tensor the file lacks", key + 5);
    }
    for (int i = 0; i < f->n; i++) {
        char mkey[MAX_NAME + 8];
        const st_entry *e = &f->ent[i];
        if ((size_t)snprintf(mkey, sizeof mkey, "xxh3.%s", e->name) >= sizeof mkey) {
            if (ours)
                return bad(f, "tensor name too long", e->name);
            continue; /* a foreign file's long name: no key of ours can name it */
        }
        json_t *h = json_object_get(meta, mkey);
        if (!h && !ours)
            continue;
        if (!h)
            return bad(f, "checksum missing", e->name);
        if (!parse_hex16(json_string_value(h), strlen(json_string_value(h)), &want))
            return bad(f, "checksum is not 16 lowercase hex digits", e->name);
        if (XXH3_64bits(buf + 8 + hl + e->b, (size_t)(e->e - e->b)) != want && CHECKSUM_MISMATCH_FATAL)
            return bad(f, "checksum mismatch", e->name);
    }
    return TG_OK;
}

static bool meta_u64(json_t *meta, const char *key, uint64_t *v)
{
    const char *txt = json_string_value(json_object_get(meta, key));
    if (!txt || !*txt || txt[0] == '-' || strlen(txt) > 20)
        return false;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(txt, &end, 10);
    if (*end || errno)
        return false;
    *v = x;
    return true;
}

/* appends to a message buffer, keeping it NUL-terminated when full */
static void add(char *buf, size_t size, size_t *used, const char *fmt, ...) TG_PRINTF(4, 5);
static void add(char *buf, size_t size, size_t *used, const char *fmt, ...)
{
    if (*used >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *used, size - *used, fmt, ap);
    va_end(ap);
    *used += k > 0 ? (size_t)k : 0;
}

/* Whether the file holds exactly the model's (and optimizer's) tensors with their dtypes
 * and shapes; if not, TG_EFORMAT with one message saying everything that differs: the
 * optimizer, the first missing and unexpected names, dtype and shape differences. */
static tg_status mismatch(const st_file *f, const entry *e, int n, const tg_optim *opt)
{
    enum { SHOW = 3 };
    char msg[768];
    size_t used = 0;
    int missing = 0, unexpected = 0, differ = 0;
    const char *oname = json_string_value(json_object_get(f->meta, "optim"));
    if (opt && (!oname || strcmp(oname, tg_optim_name(opt))))
        add(msg, sizeof msg, &used, "; the file holds %s%s optimizer state, not %s",
            oname && *oname ? oname : "no", oname && *oname ? "" : "", tg_optim_name(opt));
    for (int i = 0; i < n; i++) {
        const st_entry *s = find(f, e[i].name);
        if (!s) {
            if (missing++ < SHOW)
                add(msg, sizeof msg, &used, "%s%s", missing == 1 ? "; missing tensors: " : ", ",
                    e[i].name);
            continue;
        }
        const tg_tensor *t = e[i].t;
        bool same = s->ndim == t->ndim && s->code == code_of(t->dtype);
        for (int d = 0; same && d < t->ndim; d++)
            same = s->shape[d] == t->shape[d];
        if (!same && differ++ < SHOW)
            add(msg, sizeof msg, &used, "; %s: %s %s in the file, %s %s in the model",
                e[i].name, dtypes[s->code].name, tg__dims_str(s->ndim, s->shape).s,
                tg_dtype_name(t->dtype), tg__shape_str(t).s);
    }
    int extra_shown = 0;
    for (int i = 0; i < f->n; i++) {
        const char *nm = f->ent[i].name;
        if (!opt && !strncmp(nm, "optim.", 6))
            continue; /* saved optimizer state is not loaded without an optimizer */
        bool known = false;
        for (int k = 0; !known && k < n; k++)
            known = !strcmp(e[k].name, nm);
        if (!known && unexpected++ < SHOW)
            add(msg, sizeof msg, &used, "%s%s", ++extra_shown == 1 ? "; unexpected tensors: " : ", ",
                nm);
    }
    if (unexpected > SHOW)
        add(msg, sizeof msg, &used, " and %d more", unexpected - SHOW);
    if (!used)
        return TG_OK;
    return tg__error_status(TG_EFORMAT, "%s: %s: does not match the model (%d missing, %d "
                                        "unexpected, %d different)%s",
                            f->fn, f->path, missing, unexpected, differ, msg);
}

tg_status tg_checkpoint_load(const char *path, tg_model *m, tg_optim *opt, int64_t *epoch)
{
    const char *fn = "tg_checkpoint_load";
    if (!path || !m)
        return tg__error_status(TG_EINVAL, "%s: NULL argument", fn);
    st_file f = {.fn = fn, .path = path};
    entry *e = NULL;
    tg_status st = st_open(&f, true);
    int n = st == TG_OK ? collect(m, opt, &e, fn) : 0;
    if (n < 0)
        st = (tg_status)-n;
    if (st != TG_OK)
        goto done;
    if ((st = mismatch(&f, e, n, opt)) != TG_OK)
        goto done;
    uint64_t ep = 0, rng = 0, steps = 0;
    if (!meta_u64(f.meta, "epoch", &ep) || !meta_u64(f.meta, "rng_counter", &rng) ||
        (opt && !meta_u64(f.meta, "optim_steps", &steps)) || ep > INT64_MAX || steps > INT64_MAX) {
        st = bad(&f, "__metadata__ epoch, rng_counter or optim_steps missing or invalid", NULL);
        goto done;
    }
    /* everything verified: now change the model */
    for (int i = 0; i < n; i++)
        memcpy(bytes_of(e[i].t), f.buf + 8 + f.hl + find(&f, e[i].name)->b, nbytes(e[i].t));
    tg_model_set_rng_counter(m, rng);
    if (opt)
        tg_optim_set_steps(opt, (int64_t)steps);
    if (epoch)
        *epoch = (int64_t)ep;
done:
    st_close(&f);
    tg__mfree(e);
    return st;
}

/* ---------------------------------------------------------- generic reader */

static float f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, ex = (h >> 10) & 31, man = h & 1023, bits;
    if (ex == 31) {
        bits = sign | 0x7f800000u | man << 13;
    } else if (ex) {
        bits = sign | (ex + 112) << 23 | man << 13;
    } else if (man) { /* subnormal: normalize */
        int shift = 0;
        while (!(man & 1024)) {
            man <<= 1;
            shift++;
        }
        bits = sign | (uint32_t)(113 - shift) << 23 | (man & 1023) << 13;
    } else {
        bits = sign;
    }
    float x;
    memcpy(&x, &bits, 4);
    return x;
}

/* converts n elements of dtype code from src into t (F32, F64 or I32); false if an
 * integer does not fit in I32 */
static bool convert(tg_tensor *t, int code, const unsigned char *src, int64_t n)
{
    void *dst = t->data;
    for (int64_t i = 0; i < n; i++) {
        const unsigned char *p = src + (size_t)i * dtypes[code].size;
        uint64_t u = 0;
        for (size_t k = 0; k < dtypes[code].size; k++)
            u |= (uint64_t)p[k] << (8 * k);
        int64_t v = 0;
        switch (code) {
        case D_F16: ((float *)dst)[i] = f16_to_f32((uint16_t)u); continue;
        case D_BF16: {
            uint32_t b = (uint32_t)u << 16;
            memcpy((float *)dst + i, &b, 4);
            continue;
        }
        case D_BOOL: v = u != 0; break;
        case D_U8: case D_U16: case D_U32: v = (int64_t)u; break;
        case D_U64: if (u > INT32_MAX) return false; v = (int64_t)u; break;
        case D_I8: v = (int8_t)u; break;
        case D_I16: v = (int16_t)u; break;
        case D_I64: v = (int64_t)u; break;
        default: break;
        }
        if (v < INT32_MIN || v > INT32_MAX)
            return false;
        ((int32_t *)dst)[i] = (int32_t)v;
    }
    return true;
}

void tg_safetensors_free(tg_safetensors **sp)
{
    if (!sp || !*sp)
        return;
    tg_safetensors *s = *sp;
    for (int i = 0; i < s->count; i++) {
        tg__mfree(s->names[i]);
        tg_tensor_free(&s->tensors[i]);
    }
    for (int i = 0; i < s->meta_count; i++) {
        tg__mfree(s->meta_keys[i]);
        tg__mfree(s->meta_values[i]);
    }
    tg__mfree(s->names);
    tg__mfree(s->tensors);
    tg__mfree(s->meta_keys);
    tg__mfree(s->meta_values);
    tg__mfree(s);
    *sp = NULL;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = tg__malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

tg_status tg_safetensors_read(const char *path, tg_safetensors **out)
{
    const char *fn = "tg_safetensors_read";
    if (!path || !out)
        return tg__error_status(TG_EINVAL, "%s: NULL argument", fn);
    *out = NULL;
    st_file f = {.fn = fn, .path = path};
    tg_status st = st_open(&f, false);
    tg_safetensors *s = NULL;
    if (st != TG_OK)
        goto done;
    int nm = f.meta ? (int)json_object_size(f.meta) : 0;
    s = tg__calloc(sizeof *s);
    if (!s || !(s->names = tg__calloc(sizeof(char *) * (size_t)(f.n + 1))) ||
        !(s->tensors = tg__calloc(sizeof(tg_tensor *) * (size_t)(f.n + 1))) ||
        !(s->meta_keys = tg__calloc(sizeof(char *) * (size_t)(nm + 1))) ||
        !(s->meta_values = tg__calloc(sizeof(char *) * (size_t)(nm + 1)))) {
        st = oom(fn);
        goto done;
    }
    const char *key;
    json_t *val;
    json_object_foreach(f.meta, key, val)
    {
        s->meta_keys[s->meta_count] = dup_str(key);
        s->meta_values[s->meta_count] = dup_str(json_string_value(val));
        s->meta_count++;
        if (!s->meta_keys[s->meta_count - 1] || !s->meta_values[s->meta_count - 1]) {
            st = oom(fn);
            goto done;
        }
    }
    for (int i = 0; i < f.n; i++) {
        const st_entry *e = &f.ent[i];
        if (e->code == D_F8_E5M2 || e->code == D_F8_E4M3) {
            st = tg__error_status(TG_EDTYPE, "%s: %s: %s has dtype %s, which tapegrad does not "
                                  "represent", fn, path, e->name, dtypes[e->code].name);
            goto done;
        }
        tg_dtype dt = e->code == D_F64 ? TG_F64
                      : e->code == D_F32 || e->code == D_F16 || e->code == D_BF16 ? TG_F32
                                                                                   : TG_I32;
        s->names[i] = dup_str(e->name);
        s->tensors[i] = tg_zeros(dt, e->ndim, e->shape);
        s->count++;
        if (!s->names[i] || !s->tensors[i]) {
            st = oom(fn);
            goto done;
        }
        const unsigned char *src = (const unsigned char *)f.buf + 8 + f.hl + e->b;
        if (e->code == code_of(dt)) {
            memcpy(s->tensors[i]->data, src, (size_t)(e->e - e->b));
        } else if (!convert(s->tensors[i], e->code, src, tg_tensor_numel(s->tensors[i]))) {
            st = tg__error_status(TG_ERANGE, "%s: %s: %s (%s) holds values outside the I32 range",
                                  fn, path, e->name, dtypes[e->code].name);
            goto done;
        }
    }
done:
    st_close(&f);
    if (st == TG_OK)
        *out = s;
    else
        tg_safetensors_free(&s);
    return st;
}
