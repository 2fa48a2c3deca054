/* ThreadSanitizer sees races inside OpenMP regions: run with "plant", two OpenMP
 * threads add to one unprotected counter; run plainly, the program runs itself with
 * "plant" and passes only when the child fails with TSan's data-race report. Built
 * only with -Db_sanitize=thread and OpenMP; proves the clean 'threads' suite (LLVM's
 * libomp with its Archer tool, see .ci/run) means something. */
#include <stdio.h>
#include <string.h>

#include "sanitizer_probe.h"

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "plant")) {
        long sum = 0;
#pragma omp parallel for num_threads(2)
        for (int i = 0; i < 100000; i++)
            sum += i; /* the race */
        printf("%ld\n", sum);
        return 0;
    }
    return probe_sanitizer(argv[0], "ThreadSanitizer: data race");
}
