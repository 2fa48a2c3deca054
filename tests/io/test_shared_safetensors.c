/* Reads every *.safetensors file of a folder (the shared data set,
 * ../shared/data/safetensors beside the source tree) with the generic reader, and
 * writes each back and reads it again to the same tensors. Skipped (77) while the
 * folder is absent. Usage: test_shared_safetensors DIR */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "tapegrad.h"

static bool same(const tg_safetensors *a, const tg_safetensors *b)
{
    if (a->count != b->count)
        return false;
    for (int i = 0; i < a->count; i++)
        if (strcmp(a->names[i], b->names[i]) ||
            tg_tensor_hash(a->tensors[i]) != tg_tensor_hash(b->tensors[i]))
            return false;
    return true;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_shared_safetensors DIR\n");
        return 1;
    }
    DIR *d = opendir(argv[1]);
    if (!d) {
        printf("skipped: %s is absent (the shared safetensors files)\n", argv[1]);
        return 77;
    }
    char tmpdir[] = "/tmp/tg-shared-XXXXXX", out[256];
    if (!mkdtemp(tmpdir))
        return 1;
    snprintf(out, sizeof out, "%s/copy.safetensors", tmpdir);
    int files = 0;
    for (struct dirent *de; (de = readdir(d));) {
        size_t len = strlen(de->d_name);
        if (len < 12 || strcmp(de->d_name + len - 12, ".safetensors"))
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], de->d_name);
        files++;
        tg_safetensors *s = NULL, *back = NULL;
        tg_status st = tg_safetensors_read(path, &s);
        CHECK(st == TG_OK, "%s: %s %s", de->d_name, tg_status_name(st), tg_last_error());
        if (!s)
            continue;
        bool names_ok = true;
        for (int i = 0; i < s->count; i++)
            names_ok = names_ok && s->names[i] && strlen(s->names[i]) < 128 && *s->names[i];
        if (names_ok) { /* names our writer accepts: a round trip */
            st = tg_safetensors_write(out, s->count, (const char *const *)s->names,
                                      (const tg_tensor *const *)s->tensors, 0, NULL);
            CHECK(st == TG_OK && tg_safetensors_read(out, &back) == TG_OK && same(s, back),
                  "%s: written back and read to the same tensors: %s", de->d_name, tg_last_error());
        }
        printf("%s: %d tensors, %d metadata entries\n", de->d_name, s->count, s->meta_count);
        tg_safetensors_free(&s);
        tg_safetensors_free(&back);
    }
    closedir(d);
    unlink(out);
    rmdir(tmpdir);
    printf("%d files\n", files);
    return check_summary();
}
