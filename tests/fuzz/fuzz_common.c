/* Input file, failure report and counting allocator of the fuzz targets. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "tapegrad.h"

_Noreturn void fuzz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fuzz: contract violated: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

static char path[4096];
static int fd = -1;

static void remove_file(void)
{
    if (path[0])
        unlink(path);
}

const char *fuzz_file(const uint8_t *data, size_t size)
{
    if (fd < 0) {
        const char *tmp = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/tg-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        fd = mkstemp(path);
        if (fd < 0)
            fuzz_fail("cannot create a temporary file in %s", path);
        atexit(remove_file);
    }
    if (ftruncate(fd, 0) != 0)
        fuzz_fail("cannot truncate %s", path);
    for (size_t done = 0; done < size;) {
        ssize_t w = pwrite(fd, data + done, size - done, (off_t)done);
        if (w <= 0)
            fuzz_fail("cannot write %s", path);
        done += (size_t)w;
    }
    return path;
}

/* each block carries its size in a 16-byte prefix (keeps malloc's alignment) */
static fuzz_count counts;

static void *count_alloc(size_t n, void *ctx)
{
    (void)ctx;
    size_t *p = malloc(n + 16);
    if (!p)
        return NULL;
    p[0] = n;
    counts.live += n;
    counts.blocks++;
    if (counts.live > counts.peak)
        counts.peak = counts.live;
    return (char *)p + 16;
}

static void count_free(void *q, void *ctx)
{
    (void)ctx;
    if (!q)
        return;
    size_t *p = (size_t *)(void *)((char *)q - 16);
    counts.live -= p[0];
    counts.blocks--;
    free(p);
}

void fuzz_count_begin(void)
{
    memset(&counts, 0, sizeof counts);
    tg_set_allocator(&(tg_allocator){count_alloc, count_free, NULL});
}

fuzz_count fuzz_count_end(void)
{
    tg_set_allocator(NULL);
    return counts;
}
