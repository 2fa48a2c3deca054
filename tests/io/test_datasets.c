/* Generators (shapes, labels, determinism) and the IDX loader: round trip raw and gzip,
 * every rejected input class (missing file, directory, short magic, wrong magic,
 * truncated header, zero or huge dimension, truncated data, trailing bytes, corrupt
 * gzip), memory bounded by the data rather than by a lying header, and a clean
 * TG_ENOMEM without leaks when any allocation fails. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "tapegrad.h"
#include "check.h"


static char dir[] = "/tmp/tg-idx-XXXXXX";

/* allocator hook: counts live blocks and bytes, keeps the peak, fails allocation number
 * fail_at (1-based; 0 = never) */
static long live_blocks, n_allocs, fail_at;
static size_t live_bytes, peak_bytes;
static void *hook_alloc(size_t n, void *ctx)
{
    (void)ctx;
    if (fail_at && ++n_allocs == fail_at)
        return NULL;
    size_t *p = malloc(n + 16);
    if (!p)
        return NULL;
    p[0] = n;
    live_blocks++;
    live_bytes += n;
    if (live_bytes > peak_bytes)
        peak_bytes = live_bytes;
    return (char *)p + 16;
}
static void hook_free(void *q, void *ctx)
{
    (void)ctx;
    if (!q)
        return;
    size_t *p = (size_t *)(void *)((char *)q - 16);
    live_blocks--;
    live_bytes -= p[0];
    free(p);
}
static void hook_on(long fail)
{
    n_allocs = 0;
    fail_at = fail;
    peak_bytes = live_bytes;
    tg_set_allocator(&(tg_allocator){hook_alloc, hook_free, NULL});
}

static void generators(void)
{
    tg_tensor *x = NULL, *y = NULL, *x2 = NULL, *y2 = NULL;
    CHECK(tg_data_spiral(100, 3, TG_F32, 7, &x, &y) == TG_OK, "spiral");
    CHECK(x->shape[0] == 300 && x->shape[1] == 2 && y->dtype == TG_I32 && y->shape[0] == 300,
          "spiral shapes");
    int per_class[3] = {0};
    bool ordered = true;
    for (int64_t i = 0; i < 300; i++) {
        int k = (int)tg_tensor_get_flat(y, i);
        ordered &= k == i / 100;
        per_class[k < 0 || k > 2 ? 0 : k]++;
    }
    CHECK(ordered && per_class[0] == 100 && per_class[2] == 100, "labels: 100 per class, in order");
    CHECK(tg_tensor_get_flat(x, 0) == 0 && tg_tensor_get_flat(x, 1) == 0,
          "first point of a class at radius 0");
    double rmax = 0;
    for (int64_t i = 0; i < 300; i++)
        rmax = fmax(rmax, hypot(tg_tensor_get_flat(x, 2 * i), tg_tensor_get_flat(x, 2 * i + 1)));
    CHECK(rmax <= 1.0 + 1e-6 && rmax > 0.99, "radius in [0, 1], reaching 1: %g", rmax);
    CHECK(tg_data_spiral(100, 3, TG_F32, 7, &x2, &y2) == TG_OK &&
              tg_tensor_hash(x) == tg_tensor_hash(x2),
          "same seed, same data");
    tg_tensor_free(&x2);
    tg_tensor_free(&y2);
    CHECK(tg_data_spiral(100, 3, TG_F32, 8, &x2, &y2) == TG_OK &&
              tg_tensor_hash(x) != tg_tensor_hash(x2),
          "another seed, other data");
    tg_tensor *all[] = {x, y, x2, y2};
    for (int i = 0; i < 4; i++)
        tg_tensor_free(&all[i]);
    CHECK(tg_data_spiral(0, 3, TG_F32, 1, &x, &y) == TG_EINVAL && !x, "n = 0 rejected");
    CHECK(tg_data_spiral(10, 2, TG_I32, 1, &x, &y) == TG_EINVAL && !x && !y, "I32 features rejected");
    CHECK(tg_data_spiral(50, 2, TG_F64, 3, &x, &y) == TG_OK && x->dtype == TG_F64, "F64 spiral");
    tg_tensor *x32 = NULL, *y32 = NULL;
    tg_data_spiral(50, 2, TG_F32, 3, &x32, &y32);
    double maxdiff = 0;
    for (int64_t i = 0; x32 && i < 200; i++)
        maxdiff = fmax(maxdiff, fabs(tg_tensor_get_flat(x, i) - tg_tensor_get_flat(x32, i)));
    CHECK(x32 && maxdiff < 1e-6, "F32 and F64 spirals hold the same points: %g", maxdiff);
    tg_tensor *more[] = {x, y, x32, y32};
    for (int i = 0; i < 4; i++)
        tg_tensor_free(&more[i]);
    CHECK(tg_data_vertical(500, 3, TG_F64, 4, &x, &y) == TG_OK && x->shape[0] == 1500 &&
              x->shape[1] == 2 && y->dtype == TG_I32 && y->shape[0] == 1500,
          "vertical shapes");
    double mean2 = 0, mean_x_class2 = 0;
    for (int64_t i = 0; i < 1500; i++)
        mean2 += tg_tensor_get_flat(x, 2 * i + 1) / 1500;
    for (int64_t i = 1000; i < 1500; i++)
        mean_x_class2 += tg_tensor_get_flat(x, 2 * i) / 500;
    CHECK(fabs(mean2 - 0.5) < 0.02 && fabs(mean_x_class2 - 2.0 / 3) < 0.02 &&
              tg_tensor_get_flat(y, 1499) == 2,
          "vertical: centres (k/3, 0.5): %g %g", mean_x_class2, mean2);
    tg_tensor_free(&x);
    tg_tensor_free(&y);
    CHECK(tg_data_xor(TG_F64, &x, &y) == TG_OK && tg_tensor_get_flat(y, 1) == 1 &&
              tg_tensor_get_flat(y, 3) == 0 && tg_tensor_get_flat(x, 7) == 1,
          "xor table");
    tg_tensor_free(&x);
    tg_tensor_free(&y);
    CHECK(tg_data_sine(4, TG_F64, 0, &x, &y) == TG_OK && x->ndim == 2 && x->shape[0] == 4 &&
              x->shape[1] == 1 && y->shape[0] == 4 && y->shape[1] == 1 &&
              fabs(tg_tensor_get_flat(y, 1) - 1.0) < 1e-12 && tg_tensor_get_flat(x, 2) == 0.5,
          "sine shapes and values");
    tg_tensor_free(&x);
    tg_tensor_free(&y);
}

static const char *write_file(const char *name, const unsigned char *data, size_t n, bool gz)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (gz) {
        gzFile f = gzopen(path, "wb");
        gzwrite(f, data, (unsigned)n);
        gzclose(f);
    } else {
        FILE *f = fopen(path, "wb");
        fwrite(data, 1, n, f);
        fclose(f);
    }
    return path;
}

static void idx_round_trip(void)
{
    /* 2 images of 2x3 and 2 labels */
    unsigned char img[16 + 12] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3};
    for (int i = 0; i < 12; i++)
        img[16 + i] = (unsigned char)(i * 20);
    unsigned char lab[8 + 2] = {0, 0, 8, 1, 0, 0, 0, 2, 7, 3};
    for (int gz = 0; gz < 2; gz++) {
        tg_tensor *t = NULL;
        CHECK(tg_idx_load(write_file("img", img, sizeof img, gz), &t) == TG_OK, "images (gz %d): %s",
              gz, tg_last_error());
        CHECK(t && t->dtype == TG_F32 && t->shape[0] == 2 && t->shape[1] == 6 &&
                  fabs(tg_tensor_get_flat(t, 11) - 220.0 / 255.0) < 1e-6,
              "image values scaled to [0,1]");
        tg_tensor_free(&t);
        CHECK(tg_idx_load(write_file("lab", lab, sizeof lab, gz), &t) == TG_OK, "labels");
        CHECK(t && t->dtype == TG_I32 && t->shape[0] == 2 && tg_tensor_get_flat(t, 0) == 7,
              "label values");
        tg_tensor_free(&t);
    }
}

static void idx_bad_inputs(void)
{
    struct {
        const char *what;
        unsigned char data[24];
        size_t n;
        tg_status want;
        const char *msg;
    } bad[] = {
        {"short magic", {0, 0}, 2, TG_EFORMAT, "magic"},
        {"wrong magic", {0, 0, 9, 1, 0, 0, 0, 1, 5}, 9, TG_EFORMAT, "bad magic"},
        {"float element type", {0, 0, 0x0d, 1, 0, 0, 0, 1, 5}, 9, TG_EFORMAT, "bad magic"},
        {"truncated header", {0, 0, 8, 3, 0, 0, 0, 2, 0, 0}, 10, TG_EFORMAT, "truncated header"},
        {"zero dimension", {0, 0, 8, 1, 0, 0, 0, 0}, 8, TG_EFORMAT, "invalid"},
        {"huge dimension", {0, 0, 8, 3, 0x7f, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff}, 16, TG_EFORMAT, "invalid"},
        {"truncated data", {0, 0, 8, 1, 0, 0, 0, 5, 1, 2}, 10, TG_EFORMAT, "truncated data"},
        {"trailing bytes", {0, 0, 8, 1, 0, 0, 0, 2, 1, 2, 3}, 11, TG_EFORMAT, "trailing"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tg_tensor *t = NULL;
        tg_status s = tg_idx_load(write_file("bad", bad[i].data, bad[i].n, i % 2), &t);
        CHECK(s == bad[i].want && !t && strstr(tg_last_error(), bad[i].msg) &&
                  strstr(tg_last_error(), dir),
              "%s: status %s, message '%s'", bad[i].what, tg_status_name(s), tg_last_error());
    }
    tg_tensor *t = NULL;
    CHECK(tg_idx_load("/nonexistent/file", &t) == TG_EIO && strstr(tg_last_error(), "cannot open"),
          "missing file: %s", tg_last_error());
    CHECK(tg_idx_load(dir, &t) == TG_EIO && !t && strstr(tg_last_error(), "directory"),
          "a directory: %s", tg_last_error());
    CHECK(tg_idx_load(NULL, &t) == TG_EINVAL, "NULL path");

    /* corrupt gzip: a valid stream whose CRC (the trailer's first 4 bytes) is wrong, and
     * a stream cut in the middle */
    unsigned char lab[8 + 300] = {0, 0, 8, 1, 0, 0, 1, 44};
    for (int i = 0; i < 300; i++)
        lab[8 + i] = (unsigned char)(i * 7);
    write_file("lab.gz", lab, sizeof lab, true);
    char path[300];
    snprintf(path, sizeof path, "%s/lab.gz", dir);
    FILE *f = fopen(path, "rb");
    unsigned char gz[2048];
    size_t n = fread(gz, 1, sizeof gz, f);
    fclose(f);
    CHECK(tg_idx_load(path, &t) == TG_OK && t && t->shape[0] == 300 &&
              tg_tensor_get_flat(t, 299) == (299 * 7) % 256,
          "300 labels through gzip: %s", tg_last_error());
    tg_tensor_free(&t);
    gz[n - 8] ^= 0xff;
    tg_status s = tg_idx_load(write_file("crc.gz", gz, n, false), &t);
    CHECK(s == TG_EFORMAT && !t && strstr(tg_last_error(), "corrupt"), "bad gzip CRC: %s %s",
          tg_status_name(s), tg_last_error());
    s = tg_idx_load(write_file("cut.gz", gz, n / 2, false), &t);
    CHECK(s == TG_EFORMAT && !t && (strstr(tg_last_error(), "corrupt") ||
                                    strstr(tg_last_error(), "truncated")),
          "gzip cut in half: %s %s", tg_status_name(s), tg_last_error());
}

/* A header claiming 2^31 bytes of pixels over a handful of real ones must be rejected
 * without allocating for the claim: raw files by their size, gzip by running out of
 * data while filling 1 MiB chunks. */
static void idx_lying_header(void)
{
    unsigned char lie[16 + 100] = {0, 0, 8, 3, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0x80};
    for (int gz = 0; gz < 2; gz++) {
        tg_tensor *t = NULL;
        const char *path = write_file(gz ? "lie.gz" : "lie", lie, sizeof lie, gz);
        hook_on(0);
        tg_status s = tg_idx_load(path, &t);
        tg_set_allocator(NULL);
        CHECK(s == TG_EFORMAT && !t && strstr(tg_last_error(), "truncated data") &&
                  strstr(tg_last_error(), "2147483648"),
              "lying header (gz %d): %s", gz, tg_last_error());
        CHECK(peak_bytes <= ((size_t)1 << 20) + 65536,
              "lying header (gz %d): peak %zu bytes allocated", gz, peak_bytes);
        CHECK(live_blocks == 0, "lying header (gz %d): %ld blocks leaked", gz, live_blocks);
    }
}

/* every allocation of a load failing in turn: TG_ENOMEM, no output, no leak */
static void idx_out_of_memory(void)
{
    enum { N = 3000, R = 28, C = 28 };
    static unsigned char img[16 + (size_t)N * R * C];
    const unsigned char head[16] = {0, 0, 8, 3, 0, 0, N >> 8, N & 0xff, 0, 0, 0, R, 0, 0, 0, C};
    memcpy(img, head, 16);
    for (size_t i = 16; i < sizeof img; i++)
        img[i] = (unsigned char)(i * 31);
    for (int gz = 0; gz < 2; gz++) {
        const char *path = write_file(gz ? "oom.gz" : "oom", img, sizeof img, gz);
        tg_status s = TG_ENOMEM;
        long k;
        for (k = 1; k < 100 && s == TG_ENOMEM; k++) {
            tg_tensor *t = NULL;
            hook_on(k);
            s = tg_idx_load(path, &t);
            if (s == TG_ENOMEM)
                CHECK(!t && live_blocks == 0, "gz %d, allocation %ld failing: output %p, %ld leaked",
                      gz, k, (void *)t, live_blocks);
            else
                CHECK(s == TG_OK && t && t->shape[0] == N && t->shape[1] == R * C &&
                          tg_tensor_get_flat(t, (int64_t)N * R * C - 1) ==
                              (float)img[sizeof img - 1] / 255.0f,
                      "gz %d: loads once allocations succeed: %s", gz, tg_last_error());
            tg_tensor_free(&t); /* through the hook that allocated it */
            tg_set_allocator(NULL);
        }
        CHECK(s == TG_OK && k > 2, "gz %d: %ld failure points, then success", gz, k - 2);
        CHECK(live_blocks == 0, "gz %d: nothing leaked", gz);
    }
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    generators();
    idx_round_trip();
    idx_bad_inputs();
    idx_lying_header();
    idx_out_of_memory();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_summary();
}
