/* Private to libtapegrad's io module and its tests (tg__ names). */
#ifndef TG_IO_INTERNAL_H
#define TG_IO_INTERNAL_H

#include <stddef.h>
#include <sys/types.h>

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

#endif
