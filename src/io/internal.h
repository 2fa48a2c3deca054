/* Private to libtapegrad's io module and its tests (tg__ names). */
#ifndef TG_IO_INTERNAL_H
#define TG_IO_INTERNAL_H

#include <sys/types.h>

/* Test-only hooks for the system calls of a checkpoint save, so tests can inject short
 * writes, EINTR, ENOSPC, EIO and failing fsync/close/rename. Per thread: tg__io_set_hooks
 * sets the calling thread's table (NULL restores the system calls); an entry left NULL
 * uses the system call. */
typedef struct tg__io_hooks {
    ssize_t (*write)(int fd, const void *buf, size_t n);
    int (*fsync)(int fd);   /* the temporary file's, then the directory's */
    int (*close)(int fd);   /* the temporary file's, after its fsync */
    int (*rename)(const char *from, const char *to);
} tg__io_hooks;
void tg__io_set_hooks(const tg__io_hooks *h);

#endif
