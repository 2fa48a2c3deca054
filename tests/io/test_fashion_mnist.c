/* The real thing: Fashion-MNIST's test set (t10k, gzip) from the system's data set
 * package. Exits 77 (skipped) when /usr/share/datasets/fashion-mnist is absent. */
#include <stdio.h>
#include <unistd.h>

#include "check.h"
#include "io/datasets.h"

#define DIR "/usr/share/datasets/fashion-mnist"

int main(void)
{
    if (access(DIR, R_OK) != 0) {
        printf("skip: %s absent\n", DIR);
        return 77;
    }
    tg_tensor *x = NULL, *y = NULL;
    CHECK(tg_idx_load(DIR "/t10k-images-idx3-ubyte.gz", &x) == TG_OK, "images: %s", tg_last_error());
    CHECK(tg_idx_load(DIR "/t10k-labels-idx1-ubyte.gz", &y) == TG_OK, "labels: %s", tg_last_error());
    if (!x || !y)
        return check_summary();
    CHECK(x->dtype == TG_F32 && x->ndim == 2 && x->shape[0] == 10000 && x->shape[1] == 784,
          "10000 images of 784 pixels, F32");
    CHECK(y->dtype == TG_I32 && y->ndim == 1 && y->shape[0] == 10000, "10000 I32 labels");
    const float *px = x->data;
    float lo = 1, hi = 0;
    for (int64_t i = 0; i < 10000 * 784; i++) {
        lo = px[i] < lo ? px[i] : lo;
        hi = px[i] > hi ? px[i] : hi;
    }
    CHECK(lo == 0.0f && hi == 1.0f, "pixels span [0, 1]: [%g, %g]", lo, hi);
    int64_t counts[10] = {0};
    bool in_range = true;
    for (int64_t i = 0; i < 10000; i++) {
        int32_t c = ((const int32_t *)y->data)[i];
        in_range &= c >= 0 && c < 10;
        if (c >= 0 && c < 10)
            counts[c]++;
    }
    bool balanced = true;
    for (int c = 0; c < 10; c++)
        balanced &= counts[c] == 1000;
    CHECK(in_range && balanced, "labels in 0..9, 1000 per class");
    tg_tensor_free(&x);
    tg_tensor_free(&y);
    return check_summary();
}
