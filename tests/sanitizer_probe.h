/* Runs this program again with the argument "plant" (which plants a bug for a
 * sanitizer) and passes when the child fails with a report containing `want` on
 * stderr: proof that the sanitizer is active in the environment meson test gives the
 * build's tests. */
#ifndef TG_TEST_SANITIZER_PROBE_H
#define TG_TEST_SANITIZER_PROBE_H

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

static int probe_sanitizer(const char *self, const char *want)
{
    char cmd[4096], line[1024];
    snprintf(cmd, sizeof cmd, "'%s' plant 2>&1", self);
    FILE *p = popen(cmd, "r");
    if (!p) {
        perror("popen");
        return 1;
    }
    int seen = 0;
    while (fgets(line, sizeof line, p))
        seen |= strstr(line, want) != NULL;
    int st = pclose(p);
    int failed = st != 0; /* exit status or signal */
    printf("child %s, report '%s' %s\n", failed ? "failed" : "exited 0", want,
           seen ? "seen" : "missing");
    return failed && seen ? 0 : 1;
}

#endif
