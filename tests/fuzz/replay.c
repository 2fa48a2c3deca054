/* Replays files through a fuzz target without libFuzzer: each argument is a file or a
 * directory of files (the committed corpus). A contract violation aborts (the test
 * fails); the run fails too when no input was found, so a missing corpus is noticed. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static long replayed;

static int replay_file(const char *p)
{
    FILE *f = fopen(p, "rb");
    if (!f) {
        perror(p);
        return 1;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) {
            uint8_t *bigger = realloc(buf, cap *= 2);
            if (!bigger)
                free(buf);
            buf = bigger;
        }
    }
    fclose(f);
    if (!buf) {
        fprintf(stderr, "%s: out of memory\n", p);
        return 1;
    }
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    replayed++;
    return 0;
}

static int replay(const char *p)
{
    struct stat sb;
    if (stat(p, &sb) != 0) {
        perror(p);
        return 1;
    }
    if (!S_ISDIR(sb.st_mode))
        return replay_file(p);
    DIR *d = opendir(p);
    if (!d) {
        perror(p);
        return 1;
    }
    int rc = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", p, e->d_name);
        rc |= replay(sub);
    }
    closedir(d);
    return rc;
}

int main(int argc, char **argv)
{
    int rc = 0;
    for (int i = 1; i < argc; i++)
        rc |= replay(argv[i]);
    printf("%ld inputs replayed\n", replayed);
    return rc || replayed == 0;
}
