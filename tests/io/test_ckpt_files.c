/* The files a save leaves on disk. Mode: a new checkpoint (tg_checkpoint_save and
 * tg_safetensors_write) gets 0666 minus the umask, as open(path, O_CREAT, 0666) would give
 * it, for several umasks; a replaced one keeps its permission bits, as open would. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "tapegrad.h"

static char dir[] = "/tmp/tg-files-XXXXXX", path[256], path2[256];

static int mode_of(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 ? (int)(sb.st_mode & 07777) : -1;
}

static void test_modes(tg_model *m)
{
    const tg_tensor *t = tg_model_params(m)[0];
    static const mode_t masks[] = {022, 077, 0, 027, 002};
    for (size_t i = 0; i < sizeof masks / sizeof masks[0]; i++) {
        int want = 0666 & ~(int)masks[i];
        unlink(path);
        unlink(path2);
        mode_t old = umask(masks[i]);
        tg_status s1 = tg_checkpoint_save(path, m, NULL, 1);
        tg_status s2 = tg_safetensors_write(path2, 1, (const char *[]){"w"}, &t, 0, NULL);
        umask(old);
        CHECK(s1 == TG_OK && s2 == TG_OK, "umask %03o: saves: %s", (unsigned)masks[i], tg_last_error());
        CHECK(mode_of(path) == want, "umask %03o: new checkpoint has mode %03o, want %03o",
              (unsigned)masks[i], (unsigned)mode_of(path), (unsigned)want);
        CHECK(mode_of(path2) == want, "umask %03o: new safetensors file has mode %03o, want %03o",
              (unsigned)masks[i], (unsigned)mode_of(path2), (unsigned)want);
    }
    /* replacing a file keeps its bits, narrower or wider than the umask's */
    static const mode_t kept[] = {0600, 0640, 0664, 0444};
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
        CHECK(chmod(path, kept[i]) == 0, "chmod");
        mode_t old = umask(022);
        tg_status s = tg_checkpoint_save(path, m, NULL, 2);
        umask(old);
        CHECK(s == TG_OK && mode_of(path) == (int)kept[i],
              "replacing a %03o checkpoint: %s, mode now %03o", (unsigned)kept[i], tg_status_name(s),
              (unsigned)mode_of(path));
    }
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/ck.safetensors", dir);
    snprintf(path2, sizeof path2, "%s/plain.safetensors", dir);
    tg_model *m = tg_model_new(TG_F32, 1);
    tg_model_add_dense(m, 6, 3, NULL);
    test_modes(m);
    tg_model_free(&m);
    unlink(path);
    unlink(path2);
    rmdir(dir);
    return check_summary();
}
