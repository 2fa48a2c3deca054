/* Generators (shapes, labels, determinism) and the IDX loader (round trip raw and gzip,
 * and every rejected input class: missing file, short magic, wrong magic, truncated
 * header, zero dimension, truncated data, trailing bytes). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "tapegrad.h"
#include "check.h"


static char dir[] = "/tmp/tg-idx-XXXXXX";

static void generators(void)
{
    tg_tensor *x = NULL, *y = NULL, *x2 = NULL, *y2 = NULL;
    CHECK(tg_data_spiral(100, 3, TG_F32, 7, &x, &y) == TG_OK, "spiral");
    CHECK(x->shape[0] == 300 && x->shape[1] == 2 && y->dtype == TG_I32 && y->shape[0] == 300,
          "spiral shapes");
    CHECK(tg_tensor_get_flat(y, 0) == 0 && tg_tensor_get_flat(y, 299) == 2, "labels by class");
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
    CHECK(tg_data_vertical(500, 3, TG_F64, 4, &x, &y) == TG_OK && x->shape[0] == 1500, "vertical");
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
    CHECK(tg_data_sine(4, TG_F64, 0, &x, &y) == TG_OK &&
              fabs(tg_tensor_get_flat(y, 1) - 1.0) < 1e-12 && tg_tensor_get_flat(x, 2) == 0.5,
          "sine values");
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
}

static void fashion_mnist(void)
{
    const char *d = "/usr/share/datasets/fashion-mnist";
    if (access(d, R_OK) != 0) {
        printf("skip: %s absent\n", d);
        return;
    }
    tg_tensor *x = NULL, *y = NULL;
    CHECK(tg_idx_load("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", &x) == TG_OK &&
              x->shape[0] == 10000 && x->shape[1] == 784,
          "Fashion-MNIST test images: %s", tg_last_error());
    CHECK(tg_idx_load("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz", &y) == TG_OK &&
              y->shape[0] == 10000,
          "Fashion-MNIST test labels");
    int64_t counts[10] = {0};
    bool in_range = true;
    for (int64_t i = 0; y && i < 10000; i++) {
        int c = (int)tg_tensor_get_flat(y, i);
        in_range &= c >= 0 && c < 10;
        if (c >= 0 && c < 10)
            counts[c]++;
    }
    CHECK(in_range && counts[0] == 1000 && counts[9] == 1000, "labels in 0..9, 1000 per class");
    tg_tensor_free(&x);
    tg_tensor_free(&y);
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
    fashion_mnist();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_summary();
}
