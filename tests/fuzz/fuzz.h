/* Shared by the fuzz targets (libFuzzer entry point LLVMFuzzerTestOneInput) and by
 * replay.c, the standalone main that feeds the committed corpus through the same code
 * in every build. A target aborts when a loader breaks its contract, so libFuzzer (and
 * the replay test) report it. */
#ifndef TG_FUZZ_H
#define TG_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a file: a path valid until the next call (one file per process,
 * rewritten each time). Aborts when the file cannot be written. */
const char *fuzz_file(const uint8_t *data, size_t size);

/* Prints the reason to stderr and aborts: a contract violation. */
_Noreturn void fuzz_fail(const char *fmt, ...);

/* A counting allocator for tg_set_allocator: live bytes, their peak and live blocks
 * since fuzz_count_begin. */
typedef struct fuzz_count {
    size_t live, peak;
    long blocks;
} fuzz_count;
void fuzz_count_begin(void); /* zeroes the counters and installs the allocator */
fuzz_count fuzz_count_end(void); /* restores malloc/free; returns the counters */

#endif
