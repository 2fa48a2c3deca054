/* CSV loading (round trip, and every rejected class), mini-batches, splits, k-fold,
 * scalers; a clean TG_ENOMEM without leaks when any allocation fails, and no allocation
 * per batch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "tapegrad.h"
#include "check.h"


static char dir[] = "/tmp/tg-csv-XXXXXX";

/* allocator hook: counts allocations and live blocks; fails allocation number fail_at
 * (1-based; 0 = never) */
static long live_blocks, n_allocs, fail_at;
static void *hook_alloc(size_t n, void *ctx)
{
    (void)ctx;
    if (fail_at && n_allocs + 1 == fail_at) {
        n_allocs++;
        return NULL;
    }
    void *p = malloc(n);
    n_allocs += p != NULL;
    live_blocks += p != NULL;
    return p;
}
static void hook_free(void *p, void *ctx)
{
    (void)ctx;
    live_blocks -= p != NULL;
    free(p);
}
static void hook_on(long fail)
{
    n_allocs = 0;
    fail_at = fail;
    tg_set_allocator(&(tg_allocator){hook_alloc, hook_free, NULL});
}

/* Runs `call` with allocation k failing for k = 1, 2, ... until it succeeds: each
 * failure must be TG_ENOMEM with everything freed; `undo` frees a success's results
 * (under the same hook). */
typedef struct oom_case {
    const char *what;
    void *ctx;
    tg_status (*call)(void *ctx);
    void (*undo)(void *ctx);
} oom_case;
static void out_of_memory(const oom_case *c)
{
    tg_status s = TG_ENOMEM;
    long k;
    for (k = 1; k < 1000 && s == TG_ENOMEM; k++) {
        hook_on(k);
        s = c->call(c->ctx);
        bool failed = s == TG_ENOMEM;
        if (!failed)
            c->undo(c->ctx);
        tg_set_allocator(NULL);
        CHECK(live_blocks == 0, "%s, allocation %ld failing: %ld blocks leaked", c->what, k,
              live_blocks);
        CHECK(failed || s == TG_OK, "%s, allocation %ld failing: %s", c->what, k, tg_status_name(s));
    }
    CHECK(s == TG_OK && k > 2, "%s: %ld failure points, then success", c->what, k - 2);
}

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
        {"empty file", "", "empty file"},
        {"blank lines only", "\n \n", "no data rows"},
        {"nan cell", "a,b,label\n1,nan,0\n", ":2:2: not a finite number"},
        {"overflowing cell", "a,b,label\n1,2,0\n1e999,2,1\n", ":3:1: not a finite number"},
        {"label beyond int32", "a,b,label\n1,2,3e9\n", "not an integer"},
        {"trailing garbage", "a,b,label\n1,2.5kg,0\n", ":2:2: not a number: '2.5kg'"},
        {"ragged row names the first row", "a,b,label\n\n1,2,0\n3,4,5,6\n",
         ":4: ragged row: 4 columns, expected 3 as on line 3"},
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
              strstr(tg_last_error(), "cannot open") && strstr(tg_last_error(), "/nonexistent.csv"),
          "missing file: %s", tg_last_error());
    CHECK(tg_csv_load(dir, &o, &x, &y) == TG_EIO && !x && strstr(tg_last_error(), "directory"),
          "a directory: %s", tg_last_error());
    char path[300];
    snprintf(path, sizeof path, "%s/nul.csv", dir);
    FILE *f = fopen(path, "wb");
    fwrite("a,b,label\n1,2,0\n\0\n", 1, 18, f);
    fclose(f);
    CHECK(tg_csv_load(path, &o, &x, &y) == TG_EFORMAT && !x &&
              strstr(tg_last_error(), "byte offset 16: NUL byte"),
          "NUL byte: %s", tg_last_error());
    o = tg_csv_defaults();
    CHECK(tg_csv_load(csv("nolabel.csv", "1;2\n3;4\n"), &(tg_csv_opts){.label_column = -1, .delimiter = ';', .dtype = TG_F64}, &x, NULL) == TG_OK &&
              x->dtype == TG_F64 && tg_tensor_get_flat(x, 3) == 4,
          "no label column, other delimiter: %s", tg_last_error());
    tg_tensor_free(&x);
}

/* random values written with %.17g come back exactly (F64) or rounded once (F32) */
static void csv_round_trip(void)
{
    enum { R = 200, C = 5, LAB = 3 };
    double v[R][C];
    char path[300];
    snprintf(path, sizeof path, "%s/rt.csv", dir);
    FILE *f = fopen(path, "w");
    fputs("f0,f1,f2,label,f3\n", f);
    for (int r = 0; r < R; r++) {
        for (int c = 0; c < C; c++) {
            v[r][c] = c == LAB ? (double)(r % 7) - 3 : tg_rng_normal(11, 0, (uint64_t)(r * C + c)) * 1e3;
            fprintf(f, c ? ",%.17g" : "%.17g", v[r][c]);
        }
        fputc('\n', f);
    }
    fclose(f);
    for (int dt = 0; dt < 2; dt++) {
        tg_csv_opts o = tg_csv_defaults();
        o.header = true;
        o.label_column = LAB;
        o.dtype = dt ? TG_F64 : TG_F32;
        tg_tensor *x = NULL, *y = NULL;
        CHECK(tg_csv_load(path, &o, &x, &y) == TG_OK && x->shape[0] == R && x->shape[1] == C - 1 &&
                  y->shape[0] == R,
              "round trip load (%s): %s", tg_dtype_name(o.dtype), tg_last_error());
        bool same = x && y;
        for (int r = 0; same && r < R; r++)
            for (int c = 0, fc = 0; c < C; c++) {
                if (c == LAB) {
                    same &= tg_tensor_get_flat(y, r) == v[r][c];
                    continue;
                }
                double want = dt ? v[r][c] : (double)(float)v[r][c];
                same &= tg_tensor_get_flat(x, (int64_t)r * (C - 1) + fc++) == want;
            }
        CHECK(same, "round trip values (%s)", tg_dtype_name(o.dtype));
        tg_tensor_free(&x);
        tg_tensor_free(&y);
    }
}

/* text written gzip-compressed as dir/name */
static const char *csv_gz(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    gzFile f = gzopen(path, "wb");
    gzwrite(f, text, (unsigned)strlen(text));
    gzclose(f);
    return path;
}

/* true when t's values are exactly want[0..n) */
static bool values_are(const tg_tensor *t, int64_t n, const double *want)
{
    if (!t || tg_tensor_numel(t) != n)
        return false;
    for (int64_t i = 0; i < n; i++)
        if (tg_tensor_get_flat(t, i) != want[i])
            return false;
    return true;
}

/* gzip input, skipped lines, columns by name, float targets */
static void csv_options_tests(void)
{
    /* the defaults keep the old behaviour: no names, I32 labels, nothing skipped */
    tg_csv_opts d = tg_csv_defaults();
    CHECK(!d.header && d.label_column == -1 && d.delimiter == ',' && d.dtype == TG_F32 &&
              d.skip_lines == 0 && !d.label_name && !d.feature_names && d.feature_count == 0 &&
              d.label_dtype == TG_I32,
          "tg_csv_defaults");

    const char *text = "1.5,2,0\n-3,4,1\n\n5,6.25,2\n";
    const double feats[] = {1.5, 2, -3, 4, 5, 6.25}, labs[] = {0, 1, 2};
    tg_tensor *x = NULL, *y = NULL;
    d.label_column = 2;
    CHECK(tg_csv_load(csv_gz("plain.csv.gz", text), &d, &x, &y) == TG_OK &&
              values_are(x, 6, feats) && y && y->dtype == TG_I32 && values_are(y, 3, labs),
          ".csv.gz loads as the text: %s", tg_last_error());
    tg_tensor_free(&x);
    tg_tensor_free(&y);
    /* gzip is recognised by content, not by name */
    CHECK(tg_csv_load(csv_gz("gzip-named.csv", text), &d, &x, &y) == TG_OK &&
              values_are(x, 6, feats),
          "gzip data in a .csv file: %s", tg_last_error());
    tg_tensor_free(&x);
    tg_tensor_free(&y);

    /* two stamp lines, a header with a text column, columns selected by name (in the
     * order asked), a float regression target; CRLF and quotes in the header */
    const char *iris = "# made by hand\n"
                       "# units: cm\n"
                       "\"sepal\", petal ,species,width\r\n"
                       "5.1,1.4,setosa,0.2\r\n"
                       "7.0,4.7,versicolor,1.4\r\n"
                       "6.3,6.0,virginica,2.5\r\n";
    static const char *const names[] = {"width", "sepal"};
    for (int gz = 0; gz < 2; gz++)
        for (int dt = 0; dt < 2; dt++) {
            tg_csv_opts o = tg_csv_defaults();
            o.skip_lines = 2;
            o.header = true;
            o.label_name = "petal";
            o.feature_names = names;
            o.feature_count = 2;
            o.dtype = dt ? TG_F64 : TG_F32;
            o.label_dtype = dt ? TG_F32 : TG_F64;
            const char *path = gz ? csv_gz("iris.csv.gz", iris) : csv("iris.csv", iris);
            tg_status s = tg_csv_load(path, &o, &x, &y);
            const double want_x[] = {0.2, 5.1, 1.4, 7.0, 2.5, 6.3};
            const double want_y[] = {1.4, 4.7, 6.0};
            bool xs = x && x->dtype == o.dtype && x->ndim == 2 && x->shape[0] == 3 &&
                      x->shape[1] == 2;
            for (int i = 0; xs && i < 6; i++)
                xs = tg_tensor_get_flat(x, i) == (dt ? want_x[i] : (double)(float)want_x[i]);
            bool ys = y && y->dtype == o.label_dtype && y->ndim == 2 && y->shape[0] == 3 &&
                      y->shape[1] == 1;
            for (int i = 0; ys && i < 3; i++)
                ys = tg_tensor_get_flat(y, i) == (dt ? (double)(float)want_y[i] : want_y[i]);
            CHECK(s == TG_OK && xs && ys, "by name (gz %d, %s features, %s target): %s", gz,
                  tg_dtype_name(o.dtype), tg_dtype_name(o.label_dtype), tg_last_error());
            tg_tensor_free(&x);
            tg_tensor_free(&y);
        }

    /* a class label by name; every other column a feature (file order) */
    tg_csv_opts o = tg_csv_defaults();
    o.header = true;
    o.label_name = "class";
    CHECK(tg_csv_load(csv("named.csv", "a,class,b\n1,2,3\n4,5,6\n"), &o, &x, &y) == TG_OK &&
              values_are(x, 4, (const double[]){1, 3, 4, 6}) && y->dtype == TG_I32 &&
              y->ndim == 1 && values_are(y, 2, (const double[]){2, 5}),
          "class label by name: %s", tg_last_error());
    tg_tensor_free(&x);
    tg_tensor_free(&y);
    /* the label by index with features by name */
    static const char *const just_b[] = {"b"};
    o.label_name = NULL;
    o.label_column = 0;
    o.feature_names = just_b;
    o.feature_count = 1;
    o.label_dtype = TG_F64;
    CHECK(tg_csv_load(csv("named.csv", "a,class,b\n1,x,3\n4,y,6\n"), &o, &x, &y) == TG_OK &&
              values_are(x, 2, (const double[]){3, 6}) && values_are(y, 2, (const double[]){1, 4}),
          "label by index, features by name: %s", tg_last_error());
    tg_tensor_free(&x);
    tg_tensor_free(&y);
    /* skip_lines without a header: the line numbers in errors still count them */
    o = tg_csv_defaults();
    o.skip_lines = 1;
    CHECK(tg_csv_load(csv("skip.csv", "title, not numbers\n1,2\n3,4\n"), &o, &x, NULL) == TG_OK &&
              values_are(x, 4, (const double[]){1, 2, 3, 4}),
          "skip_lines: %s", tg_last_error());
    tg_tensor_free(&x);
}

typedef struct load_ctx {
    const char *path;
    tg_tensor *x, *y;
    bool names;
} load_ctx;
static tg_status load_call(void *p)
{
    load_ctx *c = p;
    static const char *const names[] = {"c", "a"};
    tg_csv_opts o = tg_csv_defaults();
    o.header = true;
    o.label_column = 3;
    if (c->names) { /* the name lookup allocates too */
        o.label_column = -1;
        o.label_name = "label";
        o.feature_names = names;
        o.feature_count = 2;
        o.label_dtype = TG_F64;
    }
    tg_status s = tg_csv_load(c->path, &o, &c->x, &c->y);
    if (s != TG_OK && (c->x || c->y))
        return TG_EINVAL; /* outputs must be NULL on failure */
    return s;
}
static void load_undo(void *p)
{
    load_ctx *c = p;
    tg_tensor_free(&c->x);
    tg_tensor_free(&c->y);
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
    /* another seed, another order; no shuffle, row order */
    b2 = tg_batcher_new(xv, y, 10, true, false, 4);
    tg_batcher_next(b2, &xb, &yb);
    bool differs = false;
    for (int64_t r = 0; r < 10; r++)
        differs |= (int64_t)tg_tensor_get_flat(yb, r) != order[0][r];
    CHECK(differs, "another seed shuffles differently");
    tg_batcher_free(&b2);
    b2 = tg_batcher_new(xv, NULL, 3, false, false, 4);
    bool in_order = true;
    k = 0;
    while (tg_batcher_next(b2, &xb, &yb)) {
        in_order &= yb == NULL;
        for (int64_t r = 0; r < xb->shape[0]; r++, k++)
            in_order &= tg_tensor_get_flat(xb, 2 * r) == 2.0 * (double)k;
    }
    CHECK(in_order && k == 10, "no shuffle: rows in order, y NULL");
    tg_batcher_free(&b2);

    /* rank-3 samples (images), and not one allocation per step */
    tg_tensor *img = tg_arange(TG_F32, 0, 60, 1), *imv = tg_view_reshape(img, 3, (int64_t[]){10, 2, 3});
    b2 = tg_batcher_new(imv, y, 4, true, false, 6);
    hook_on(0);
    bool paired = true;
    int64_t rows = 0;
    for (int epoch = 0; epoch < 3; epoch++)
        while (tg_batcher_next(b2, &xb, &yb)) {
            paired &= xb->ndim == 3 && xb->shape[1] == 2 && xb->shape[2] == 3;
            for (int64_t r = 0; r < xb->shape[0]; r++, rows++)
                paired &= tg_tensor_get(xb, (int64_t[]){r, 1, 2}) ==
                          6.0 * tg_tensor_get_flat(yb, r) + 5;
        }
    long steps_allocs = n_allocs;
    tg_set_allocator(NULL);
    CHECK(paired && rows == 30, "rank-3 batches [m, 2, 3] keep rows whole and paired");
    CHECK(steps_allocs == 0, "tg_batcher_next allocated %ld times", steps_allocs);
    tg_batcher_free(&b2);
    CHECK(!tg_batcher_new(xv, y, 0, true, false, 1), "batch 0 rejected");
    tg_tensor *yshort = tg_zeros(TG_I32, 1, (int64_t[]){9});
    CHECK(!tg_batcher_new(xv, yshort, 2, true, false, 1), "row counts must match");
    tg_tensor_free(&yshort);
    tg_tensor_free(&img);
    tg_tensor_free(&imv);

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
    CHECK(tg_kfold(xv, y, 1, 0, 9, &a, &ay, &bv, &by) == TG_EINVAL && !a && !ay && !bv && !by,
          "k = 1 rejected, outputs NULL");
    CHECK(tg_kfold(xv, y, 11, 0, 9, &a, &ay, &bv, &by) == TG_EINVAL, "k > rows rejected");
    tg_tensor *xt = tg_view_transpose(xv, 0, 1);
    CHECK(tg_split(xt, NULL, 0.2, 0.2, 1, &a, &ay, &bv, &by, &c, &cy) == TG_EINVAL && !a && !c &&
              strstr(tg_last_error(), "contiguous"),
          "non-contiguous x rejected: %s", tg_last_error());
    tg_tensor_free(&xt);
    CHECK(tg_split(xv, y, 0.6, 0.4, 1, &a, &ay, &bv, &by, &c, &cy) == TG_EINVAL, "fractions sum to 1");
    /* no rows: empty parts, no crash */
    tg_tensor *empty = tg_zeros(TG_F32, 2, (int64_t[]){0, 3});
    CHECK(tg_split(empty, NULL, 0.2, 0.2, 1, &a, &ay, &bv, &by, &c, &cy) == TG_OK && a &&
              a->shape[0] == 0 && a->shape[1] == 3 && c->shape[0] == 0 && !ay,
          "empty data set splits into empty parts: %s", tg_last_error());
    tg_tensor_free(&a);
    tg_tensor_free(&bv);
    tg_tensor_free(&c);
    tg_tensor_free(&empty);
    tg_tensor_free(&x);
    tg_tensor_free(&xv);
    tg_tensor_free(&y);
}

typedef struct split_ctx {
    const tg_tensor *x, *y;
    tg_tensor *out[6];
    bool kfold;
} split_ctx;
static tg_status split_call(void *p)
{
    split_ctx *c = p;
    tg_tensor **o = c->out;
    tg_status s = c->kfold ? tg_kfold(c->x, c->y, 3, 1, 2, &o[0], &o[1], &o[2], &o[3])
                           : tg_split(c->x, c->y, 0.3, 0.3, 2, &o[0], &o[1], &o[2], &o[3], &o[4], &o[5]);
    for (int i = 0; s != TG_OK && i < 6; i++)
        if (o[i])
            return TG_EINVAL; /* outputs must be NULL on failure */
    return s;
}
static void split_undo(void *p)
{
    split_ctx *c = p;
    for (int i = 0; i < 6; i++)
        tg_tensor_free(&c->out[i]);
}

typedef struct obj_ctx {
    const tg_tensor *x;
    tg_batcher *b;
    tg_scaler *s;
    tg_tensor *t;
} obj_ctx;
static tg_status batcher_call(void *p)
{
    obj_ctx *c = p;
    c->b = tg_batcher_new(c->x, c->x, 4, true, false, 1);
    return c->b ? TG_OK : TG_ENOMEM;
}
static void batcher_undo(void *p) { tg_batcher_free(&((obj_ctx *)p)->b); }
static tg_status scaler_call(void *p)
{
    obj_ctx *c = p;
    c->s = tg_scaler_fit(TG_SCALE_STANDARD, c->x);
    if (!c->s)
        return TG_ENOMEM;
    c->t = tg_scaler_transform(c->s, c->x);
    if (!c->t)
        tg_scaler_free(&c->s);
    return c->t ? TG_OK : TG_ENOMEM;
}
static void scaler_undo(void *p)
{
    obj_ctx *c = p;
    tg_scaler_free(&c->s);
    tg_tensor_free(&c->t);
}

static void oom_tests(void)
{
    load_ctx lc = {csv("oom.csv", "a,b,c,label\n1,2,3,0\n4,5,6,1\n7,8,9,2\n"), NULL, NULL, false};
    out_of_memory(&(oom_case){"tg_csv_load", &lc, load_call, load_undo});
    load_ctx named = {csv_gz("oom.csv.gz", "a,b,c,label\n1,2,3,0.5\n4,5,6,1\n"), NULL, NULL, true};
    out_of_memory(&(oom_case){"tg_csv_load (gzip, names)", &named, load_call, load_undo});
    tg_tensor *x = tg_rand_normal(TG_F64, 2, (int64_t[]){12, 3}, 0, 1, 1, 0);
    tg_tensor *y = tg_zeros(TG_I32, 1, (int64_t[]){12});
    split_ctx sc = {.x = x, .y = y};
    out_of_memory(&(oom_case){"tg_split", &sc, split_call, split_undo});
    sc.kfold = true;
    out_of_memory(&(oom_case){"tg_kfold", &sc, split_call, split_undo});
    obj_ctx oc = {.x = x};
    out_of_memory(&(oom_case){"tg_batcher_new", &oc, batcher_call, batcher_undo});
    out_of_memory(&(oom_case){"tg_scaler_fit + transform", &oc, scaler_call, scaler_undo});
    tg_tensor_free(&x);
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
    CHECK(tg_tensor_get_flat(x, 1) == 0 && tg_tensor_get_flat(x, 7) == 0,
          "min-max: constant column maps to 0, no NaN");
    tg_tensor *t2 = tg_tensor_from(TG_F64, 2, (int64_t[]){1, 2}, te);
    CHECK(tg_scaler_apply(s, t2) == TG_OK && fabs(tg_tensor_get_flat(t2, 0) - 4.0 / 3) < 1e-12 &&
              tg_tensor_get_flat(t2, 1) == 2,
          "min-max: training min/range applied to another set (may leave [0, 1])");
    tg_tensor_free(&t2);
    tg_tensor *wrong = tg_zeros(TG_F64, 2, (int64_t[]){1, 3});
    CHECK(tg_scaler_apply(s, wrong) == TG_EINVAL, "column count checked");
    tg_tensor_free(&wrong);
    tg_scaler_free(&s);
    tg_tensor_free(&x);
    tg_tensor_free(&t);

    /* F32, a transposed view, transform into a new tensor, inverse */
    tg_tensor *raw = tg_rand_normal(TG_F32, 2, (int64_t[]){3, 500}, 4, 3, 9, 0);
    tg_tensor *xt = tg_view_transpose(raw, 0, 1); /* [500, 3], not contiguous */
    s = tg_scaler_fit(TG_SCALE_STANDARD, xt);
    tg_tensor *z = tg_scaler_transform(s, xt);
    CHECK(z && tg_tensor_is_contiguous(z) && z->dtype == TG_F32 && z->shape[0] == 500 &&
              z->shape[1] == 3,
          "transform: a new contiguous [500, 3] F32 tensor");
    bool unit = z != NULL;
    for (int64_t c = 0; unit && c < 3; c++) {
        double m = 0, v2 = 0;
        for (int64_t r = 0; r < 500; r++)
            m += tg_tensor_get(z, (int64_t[]){r, c}) / 500;
        for (int64_t r = 0; r < 500; r++)
            v2 += pow(tg_tensor_get(z, (int64_t[]){r, c}) - m, 2) / 500;
        unit &= fabs(m) < 1e-5 && fabs(v2 - 1) < 1e-5;
    }
    CHECK(unit, "F32 view: every column mean 0, std 1");
    CHECK(tg_tensor_get(xt, (int64_t[]){7, 2}) == tg_tensor_get(raw, (int64_t[]){2, 7}) &&
              tg_tensor_get(xt, (int64_t[]){7, 2}) != tg_tensor_get(z, (int64_t[]){7, 2}),
          "transform leaves its input unchanged");
    tg_scaler_inverse(s, z);
    double err = 0;
    for (int64_t r = 0; z && r < 500; r++)
        for (int64_t c = 0; c < 3; c++)
            err = fmax(err, fabs(tg_tensor_get(z, (int64_t[]){r, c}) -
                                 tg_tensor_get(xt, (int64_t[]){r, c})));
    CHECK(err < 1e-5, "inverse restores the data: %g", err);
    tg_tensor *row = tg_zeros(TG_F32, 2, (int64_t[]){1, 3});
    tg_tensor *wide = tg_view_expand(row, 2, (int64_t[]){4, 3});
    CHECK(tg_scaler_apply(s, wide) == TG_EINVAL && strstr(tg_last_error(), "expanded"),
          "in place on an expanded view rejected: %s", tg_last_error());
    tg_tensor *none = tg_zeros(TG_F32, 2, (int64_t[]){0, 3});
    CHECK(!tg_scaler_fit(TG_SCALE_STANDARD, none), "fit on zero rows rejected");
    tg_tensor_free(&none);
    tg_tensor_free(&wide);
    tg_tensor_free(&row);
    tg_tensor_free(&z);
    tg_tensor_free(&xt);
    tg_tensor_free(&raw);
    tg_scaler_free(&s);
}

/* tg_split / tg_kfold: any output pointer may be NULL (that part is discarded, the
 * others unchanged); bad inputs get a message that names the real problem (x_val = NULL
 * was refused as "need a contiguous x" while y_val = NULL was accepted) */
static void split_null_outputs(void)
{
    tg_tensor *x = tg_arange(TG_F32, 0, 20, 1), *y = tg_arange(TG_I32, 0, 20, 1);
    tg_tensor *xm = tg_view_reshape(x, 2, (int64_t[]){10, 2});
    tg_tensor *ym = tg_view_reshape(y, 1, (int64_t[]){20});
    tg_tensor *yv = tg_arange(TG_I32, 0, 10, 1);
    tg_tensor *o[6], *p[6];
    CHECK(tg_split(xm, yv, 0.2, 0.3, 7, &o[0], &o[1], &o[2], &o[3], &o[4], &o[5]) == TG_OK,
          "full split");
    tg_status s = tg_split(xm, yv, 0.2, 0.3, 7, &p[0], &p[1], NULL, NULL, &p[4], &p[5]);
    CHECK(s == TG_OK && p[0] && p[4], "x_val = y_val = NULL: %s '%s'", tg_status_name(s),
          tg_last_error());
    CHECK(s == TG_OK && tg_tensor_hash(p[0]) == tg_tensor_hash(o[0]) &&
              tg_tensor_hash(p[5]) == tg_tensor_hash(o[5]),
          "the parts asked for are those of the full split");
    for (int i = 0; i < 6; i++)
        if (i != 2 && i != 3)
            tg_tensor_free(&p[i]);
    s = tg_split(xm, yv, 0.2, 0.3, 7, NULL, NULL, NULL, &p[3], NULL, NULL);
    CHECK(s == TG_OK && tg_tensor_hash(p[3]) == tg_tensor_hash(o[3]), "only y_val: %s",
          tg_status_name(s));
    tg_tensor_free(&p[3]);
    s = tg_split(xm, NULL, 0.0, 0.0, 7, &p[0], &p[1], NULL, NULL, NULL, NULL);
    CHECK(s == TG_OK && p[0] && p[0]->shape[0] == 10 && !p[1], "everything in train, no y");
    tg_tensor_free(&p[0]);
    CHECK(tg_split(xm, yv, 0.2, 0.3, 7, NULL, NULL, NULL, NULL, NULL, NULL) == TG_OK,
          "no outputs at all");
    for (int i = 0; i < 6; i++)
        tg_tensor_free(&o[i]);

    s = tg_split(NULL, yv, 0.2, 0.3, 7, &p[0], &p[1], &p[2], &p[3], &p[4], &p[5]);
    CHECK(s == TG_EINVAL && strstr(tg_last_error(), "x is NULL") && !p[0] && !p[5],
          "x NULL: '%s'", tg_last_error());
    s = tg_split(xm, ym, 0.2, 0.3, 7, &p[0], &p[1], &p[2], &p[3], &p[4], &p[5]);
    CHECK(s == TG_EINVAL && strstr(tg_last_error(), "y [20]") && strstr(tg_last_error(), "rows"),
          "y rows differ: '%s'", tg_last_error());
    s = tg_kfold(xm, yv, 5, 1, 3, NULL, NULL, &p[2], &p[3]);
    CHECK(s == TG_OK && p[2] && p[3] && p[2]->shape[0] == 2, "k-fold, validation only: %s",
          tg_status_name(s));
    tg_tensor_free(&p[2]);
    tg_tensor_free(&p[3]);
    s = tg_kfold(xm, yv, 5, 1, 3, &p[0], NULL, NULL, NULL);
    CHECK(s == TG_OK && p[0] && p[0]->shape[0] == 8, "k-fold, x_train only");
    tg_tensor_free(&p[0]);
    tg_tensor *all[] = {x, y, xm, ym, yv};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        tg_tensor_free(&all[i]);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    csv_tests();
    csv_round_trip();
    csv_options_tests();
    batch_tests();
    scaler_tests();
    oom_tests();
    split_null_outputs();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_summary();
}
