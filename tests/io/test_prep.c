/* CSV loading (good files and every rejected class), mini-batches, splits, k-fold,
 * scalers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tapegrad.h"
#include "check.h"


static char dir[] = "/tmp/tg-csv-XXXXXX";

static const char *csv(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static void csv_tests(void)
{
    tg_csv_opts o = tg_csv_defaults();
    o.header = true;
    o.label_column = 2;
    tg_tensor *x = NULL, *y = NULL;
    CHECK(tg_csv_load(csv("ok.csv", "a,b,label\n1.5,2,0\r\n-3e2, 4 ,1\n\n5,6,2\n"), &o, &x, &y) ==
              TG_OK,
          "good file: %s", tg_last_error());
    CHECK(x && x->shape[0] == 3 && x->shape[1] == 2 && tg_tensor_get_flat(x, 2) == -300 &&
              tg_tensor_get_flat(x, 3) == 4,
          "features parsed (CRLF, spaces, exponent, blank line)");
    CHECK(y && y->dtype == TG_I32 && tg_tensor_get_flat(y, 2) == 2, "labels split off");
    tg_tensor_free(&x);
    tg_tensor_free(&y);

    struct {
        const char *what, *text;
        const char *msg;
    } bad[] = {
        {"non-numeric cell", "a,b,label\n1,2,0\n3,x4,1\n", ":3:2: not a number"},
        {"ragged row", "a,b,label\n1,2,0\n3,4\n", ":3: ragged row"},
        {"fractional label", "a,b,label\n1,2,0.5\n", "not an integer"},
        {"empty file", "", "no data rows"},
        {"header only", "a,b,label\n", "no data rows"},
        {"empty cell", "a,b,label\n1,,0\n", "not a number"},
        {"label column missing", "a,b\n1,2\n", "label column 2"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tg_status s = tg_csv_load(csv("bad.csv", bad[i].text), &o, &x, &y);
        CHECK(s == TG_EFORMAT && !x && !y && strstr(tg_last_error(), bad[i].msg) &&
                  strstr(tg_last_error(), "bad.csv"),
              "%s: %s '%s'", bad[i].what, tg_status_name(s), tg_last_error());
    }
    CHECK(tg_csv_load("/nonexistent.csv", &o, &x, &y) == TG_EIO &&
              strstr(tg_last_error(), "cannot open"),
          "missing file: %s", tg_last_error());
    o = tg_csv_defaults();
    CHECK(tg_csv_load(csv("nolabel.csv", "1;2\n3;4\n"), &(tg_csv_opts){.label_column = -1, .delimiter = ';', .dtype = TG_F64}, &x, NULL) == TG_OK &&
              x->dtype == TG_F64 && tg_tensor_get_flat(x, 3) == 4,
          "no label column, other delimiter: %s", tg_last_error());
    tg_tensor_free(&x);
}

static void batch_tests(void)
{
    const int64_t n = 10;
    tg_tensor *x = tg_arange(TG_F32, 0, 20, 1), *xv = tg_view_reshape(x, 2, (int64_t[]){n, 2});
    tg_tensor *y = tg_arange(TG_F64, 0, (double)n, 1);
    tg_batcher *b = tg_batcher_new(xv, y, 4, true, false, 3);
    int64_t order[2][10];
    for (int epoch = 0; epoch < 2; epoch++) {
        int seen[10] = {0}, k = 0, batches = 0;
        tg_tensor *xb, *yb;
        while (tg_batcher_next(b, &xb, &yb)) {
            batches++;
            for (int64_t r = 0; r < xb->shape[0]; r++) {
                int64_t row = (int64_t)tg_tensor_get_flat(yb, r);
                seen[row]++;
                order[epoch][k++] = row;
                CHECK(tg_tensor_get_flat(xb, 2 * r) == 2.0 * (double)row, "x and y rows stay paired");
            }
        }
        bool once = k == 10;
        for (int i = 0; i < 10; i++)
            once &= seen[i] == 1;
        CHECK(once && batches == 3, "epoch %d: every sample exactly once in 3 batches", epoch);
    }
    CHECK(memcmp(order[0], order[1], sizeof order[0]) != 0, "reshuffled between epochs");
    CHECK(tg_batcher_epoch(b) == 2, "two epochs counted");
    tg_batcher_free(&b);
    /* same seed: same first epoch */
    tg_batcher *b2 = tg_batcher_new(xv, y, 4, true, true, 3);
    tg_tensor *xb, *yb;
    int64_t first[8], k = 0, batches = 0;
    while (tg_batcher_next(b2, &xb, &yb)) {
        batches++;
        for (int64_t r = 0; r < yb->shape[0]; r++)
            first[k++] = (int64_t)tg_tensor_get_flat(yb, r);
    }
    CHECK(batches == 2 && !memcmp(first, order[0], sizeof first), "reproducible; drop_last");
    tg_batcher_free(&b2);

    /* split and k-fold partition the rows */
    tg_tensor *a, *ay, *bv, *by, *c, *cy;
    CHECK(tg_split(xv, y, 0.2, 0.3, 5, &a, &ay, &bv, &by, &c, &cy) == TG_OK, "split");
    CHECK(a->shape[0] == 5 && bv->shape[0] == 2 && c->shape[0] == 3, "split sizes 5/2/3");
    int seen[10] = {0};
    tg_tensor *parts[] = {ay, by, cy};
    for (int p = 0; p < 3; p++)
        for (int64_t i = 0; i < parts[p]->shape[0]; i++)
            seen[(int)tg_tensor_get_flat(parts[p], i)]++;
    bool once = true;
    for (int i = 0; i < 10; i++)
        once &= seen[i] == 1;
    CHECK(once, "split parts are disjoint and complete");
    tg_tensor *all[] = {a, ay, bv, by, c, cy};
    for (int i = 0; i < 6; i++)
        tg_tensor_free(&all[i]);
    int val_seen[10] = {0};
    for (int f = 0; f < 3; f++) {
        tg_tensor *tx, *ty, *vx, *vy;
        CHECK(tg_kfold(xv, y, 3, f, 9, &tx, &ty, &vx, &vy) == TG_OK, "fold %d", f);
        CHECK(tx->shape[0] + vx->shape[0] == 10, "fold %d covers all rows", f);
        int here[10] = {0};
        for (int64_t i = 0; i < vy->shape[0]; i++) {
            val_seen[(int)tg_tensor_get_flat(vy, i)]++;
            here[(int)tg_tensor_get_flat(vy, i)]++;
        }
        bool disjoint = true;
        for (int64_t i = 0; i < ty->shape[0]; i++)
            disjoint &= here[(int)tg_tensor_get_flat(ty, i)] == 0;
        CHECK(disjoint, "fold %d: train and validation disjoint", f);
        tg_tensor *fs[] = {tx, ty, vx, vy};
        for (int i = 0; i < 4; i++)
            tg_tensor_free(&fs[i]);
    }
    once = true;
    for (int i = 0; i < 10; i++)
        once &= val_seen[i] == 1;
    CHECK(once, "each row is validated in exactly one fold");
    CHECK(tg_kfold(xv, y, 1, 0, 9, &a, &ay, &bv, &by) == TG_EINVAL, "k = 1 rejected");
    tg_tensor_free(&x);
    tg_tensor_free(&xv);
    tg_tensor_free(&y);
}

static void scaler_tests(void)
{
    double tr[] = {1, 5, 2, 5, 3, 5, 4, 5}, te[] = {5, 7};
    tg_tensor *x = tg_tensor_from(TG_F64, 2, (int64_t[]){4, 2}, tr);
    tg_tensor *t = tg_tensor_from(TG_F64, 2, (int64_t[]){1, 2}, te);
    tg_scaler *s = tg_scaler_fit(TG_SCALE_STANDARD, x);
    tg_scaler_apply(s, x);
    tg_scaler_apply(s, t);
    double mean = 0, var = 0;
    for (int r = 0; r < 4; r++)
        mean += tg_tensor_get_flat(x, 2 * r) / 4;
    for (int r = 0; r < 4; r++)
        var += pow(tg_tensor_get_flat(x, 2 * r) - mean, 2) / 4;
    CHECK(fabs(mean) < 1e-12 && fabs(var - 1) < 1e-12, "standardised column: mean 0, var 1");
    CHECK(tg_tensor_get_flat(x, 1) == 0 && isfinite(tg_tensor_get_flat(t, 1)),
          "constant column: shifted, no NaN");
    CHECK(fabs(tg_tensor_get_flat(t, 0) - (5 - 2.5) / sqrt(1.25)) < 1e-12,
          "test set uses the training statistics");
    tg_scaler_free(&s);
    tg_tensor_free(&x);
    x = tg_tensor_from(TG_F64, 2, (int64_t[]){4, 2}, tr);
    s = tg_scaler_fit(TG_SCALE_MINMAX, x);
    tg_scaler_apply(s, x);
    CHECK(tg_tensor_get_flat(x, 0) == 0 && tg_tensor_get_flat(x, 6) == 1, "min-max to [0, 1]");
    tg_tensor *wrong = tg_zeros(TG_F64, 2, (int64_t[]){1, 3});
    CHECK(tg_scaler_apply(s, wrong) == TG_EINVAL, "column count checked");
    tg_tensor_free(&wrong);
    tg_scaler_free(&s);
    tg_tensor_free(&x);
    tg_tensor_free(&t);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    csv_tests();
    batch_tests();
    scaler_tests();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_summary();
}
