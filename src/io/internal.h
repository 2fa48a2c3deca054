/* Private to libtapegrad's io module and its tests (tg__ names). */
#ifndef TG_IO_INTERNAL_H
#define TG_IO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "../tensor/tensor.h"

/* zlib's stream type (gzFile), without including zlib.h here */
struct gzFile_s;

/* The gzip reading shared by the IDX and CSV loaders (src/io/datasets.c). A stream
 * opened with gzdopen reads gzip data and, transparently, plain files.
 * tg__gz_read reads up to n bytes and returns the count read (< n at the end of the
 * data or on an error: tg__gz_failure tells which). tg__gz_failure, after a short read:
 * TG_OK for the plain end of the data, else the status of a corrupt or truncated stream
 * (TG_EFORMAT, TG_EIO or TG_ENOMEM) with zlib's message in *msg (without zlib's stream
 * name prefix). */
size_t tg__gz_read(struct gzFile_s *f, void *buf, size_t n);
tg_status tg__gz_failure(struct gzFile_s *f, const char **msg);

/* The points of a save that tg__io_hooks.stage reports, in the order they are reached. */
typedef enum tg__io_stage {
    TG__IO_BEFORE_CREATE, /* arguments checked, header built; no temporary file yet */
    TG__IO_CREATED,       /* the temporary file exists, nothing written to it */
    TG__IO_MID_WRITE,     /* the header is written, the tensor data not yet */
    TG__IO_SYNCED,        /* the temporary file is complete, fsynced and closed; not renamed */
    TG__IO_RENAMED,       /* renamed over the target; the directory not yet fsynced */
    TG__IO_STAGE_COUNT
} tg__io_stage;

/* Test-only hooks for the system calls of a checkpoint save, so tests can inject short
 * writes, EINTR, ENOSPC, EIO and failing fsync/close/rename, and stop a save at a known
 * point (stage: called at each point above, so a test can kill the process there). Per
 * thread: tg__io_set_hooks sets the calling thread's table (NULL restores the system
 * calls); an entry left NULL uses the system call (or, for stage, does nothing). */
typedef struct tg__io_hooks {
    ssize_t (*write)(int fd, const void *buf, size_t n);
    int (*fsync)(int fd);   /* the temporary file's, then the directory's */
    int (*close)(int fd);   /* the temporary file's, after its fsync */
    int (*rename)(const char *from, const char *to);
    void (*stage)(tg__io_stage s);
} tg__io_hooks;
void tg__io_set_hooks(const tg__io_hooks *h);

/* Replaces path atomically by head (len bytes) followed by the n contiguous tensors'
 * bytes (atomic.c): a temporary file beside it, written, fsynced, closed, renamed over
 * path, and the directory fsynced. On failure the temporary file is removed and path is
 * untouched (unless only the directory's fsync failed); the status with tg_last_error. */
tg_status tg__write_atomically(const char *fn, const char *path, const char *head, size_t len,
                               int n, const tg_tensor *const *ts);

/* ---- the safetensors format (safetensors.c), shared with checkpoint.c ---- */

#define TG__CKPT_FORMAT "tapegrad-checkpoint-2" /* __metadata__ "format" of checkpoints */
#define TG__ST_MAX_ENTRIES 1024                 /* tensors per file */
#define TG__ST_MAX_NAME 128                     /* bytes of a tensor name, NUL included */

/* one tensor of an opened file */
typedef struct {
    const char *name;   /* key in the parsed header */
    int code;           /* safetensors dtype code (tg__st_dtype_name) */
    int ndim;
    int64_t shape[TG_MAX_DIMS];
    uint64_t b, e;      /* data_offsets */
} st_entry;

/* an opened, verified file: set fn and path, then tg__st_open; tg__st_close frees */
typedef struct {
    const char *fn, *path;
    char *buf;          /* the whole file */
    size_t size;
    uint64_t hl;        /* header length; the data starts at buf + 8 + hl */
    json_t *hdr, *meta; /* meta NULL when the file has no __metadata__ */
    st_entry *ent;      /* in data order */
    int n;
} st_file;

/* Writes n contiguous tensors (unique names) and nmeta key/value pairs atomically, with
 * tapegrad's header and tensor checksums; the status with tg_last_error set on failure */
tg_status tg__st_write(const char *fn, const char *path, int n, const char *const *names,
                       const tg_tensor *const *ts, int nmeta, const char *const *kv);
/* Reads and verifies f->path: the header checksum (before anything else is trusted), the
 * JSON, every entry's dtype, shape and offsets, that the tensors tile the data exactly,
 * and every tensor checksum. `ours`: a tapegrad checkpoint, whose __metadata__, header
 * checksum and tensor checksums are required. */
tg_status tg__st_open(st_file *f, bool ours);
void tg__st_close(st_file *f);
const st_entry *tg__st_find(const st_file *f, const char *name);
/* TG_EFORMAT "fn: path: what[: name]" */
tg_status tg__st_bad(const st_file *f, const char *what, const char *name);
tg_status tg__st_oom(const char *fn);
/* safetensors dtype codes, their names ("F32", ...) and element sizes */
enum { D_F64, D_F32, D_I32, D_F16, D_BF16, D_I64, D_I16, D_I8, D_U64, D_U32, D_U16, D_U8,
       D_BOOL, D_F8_E5M2, D_F8_E4M3, D_COUNT };
int tg__st_code_of(tg_dtype d);
const char *tg__st_dtype_name(int code);
size_t tg__st_dtype_size(int code);
/* a contiguous tensor's bytes and their count */
void *tg__st_bytes(const tg_tensor *t);
size_t tg__st_nbytes(const tg_tensor *t);

#endif
