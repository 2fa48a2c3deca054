/* LeakSanitizer is on in the ASan build: run with "plant", this program leaks a
 * library tensor; run plainly, it runs itself with "plant" and passes only when the
 * child fails with LeakSanitizer's report. The child inherits the environment meson
 * test gives every test of the build (CI sets ASAN_OPTIONS=detect_leaks=1
 * explicitly), so a clean suite means no test leaks. Built only with
 * -Db_sanitize=address. */
#include <stdio.h>
#include <string.h>

#include "sanitizer_probe.h"
#include "tapegrad.h"

static __attribute__((noinline)) void leak(void)
{
    tg_tensor *t = tg_zeros(TG_F32, 1, (int64_t[]){1000});
    printf("allocated %lld elements, never freed\n", (long long)tg_tensor_numel(t));
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "plant")) {
        leak();
        return 0;
    }
    return probe_sanitizer(argv[0], "LeakSanitizer: detected memory leaks");
}
