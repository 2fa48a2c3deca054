/* Memory of checkpoint loading and out-of-memory behaviour, through a counting
 * allocator (tg_set_allocator; jansson's allocations go through it too):
 *  - a load's peak allocation (and the sum of its allocations) stays within the file's size + TG_CHECKPOINT_LOAD_SLACK for
 *    valid files (up to the most tensors a file may hold), corrupt ones, and a small
 *    header whose JSON would expand to tens of megabytes;
 *  - failing the k-th allocation for k = 1, 2, ... until a run completes without an
 *    injected failure, through one training step (forward, softmax-CE, backward, Adam
 *    step, with the tape's arena growing), a checkpoint save, a checkpoint load and a
 *    generic read: each ends in TG_ENOMEM or success, frees everything, leaves the model
 *    unchanged on a failed load and the previous file unchanged on a failed save. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "check.h"
#include "tapegrad.h"

/* counting allocator: live blocks and bytes, the peak, failure of allocation fail_at */
static long live_blocks, n_allocs, fail_at;
static size_t live_bytes, peak_bytes, total_bytes;
static bool injected;
static void *hook_alloc(size_t n, void *ctx)
{
    (void)ctx;
    n_allocs++;
    if (fail_at && n_allocs == fail_at) {
        injected = true;
        return NULL;
    }
    size_t *p = malloc(n + 16);
    if (!p)
        return NULL;
    p[0] = n;
    total_bytes += n;
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
static const tg_allocator counting = {hook_alloc, hook_free, NULL};

/* from now on, fail allocation number k (0: none) */
static void arm(long k)
{
    n_allocs = 0;
    fail_at = k;
    injected = false;
    peak_bytes = live_bytes;
    total_bytes = 0;
}

static char dir[] = "/tmp/tg-mem-XXXXXX", path[256], path2[256];

static size_t file_size(const char *p)
{
    FILE *f = fopen(p, "rb");
    fseek(f, 0, SEEK_END);
    size_t n = (size_t)ftell(f);
    fclose(f);
    return n;
}

static tg_model *mlp(uint64_t seed)
{
    tg_model *m = tg_model_new(TG_F32, seed);
    tg_model_add_dense(m, 6, 16, NULL);
    tg_model_add_activation(m, TG_ACT_RELU, 0);
    tg_model_add_dense(m, 16, 3, NULL);
    return m;
}

/* peak extra bytes of loading path into m (TG status in *st); the bound holds for the
 * sum of all the load's allocations too, which is checked here */
static size_t load_peak(const char *p, tg_model *m, tg_status *st)
{
    size_t base = live_bytes;
    arm(0);
    *st = tg_checkpoint_load(p, m, NULL, NULL);
    CHECK(total_bytes <= file_size(p) + TG_CHECKPOINT_LOAD_SLACK,
          "%s: %zu bytes allocated in all for a %zu-byte file", p, total_bytes, file_size(p));
    return peak_bytes - base;
}

static void memory_bound(void)
{
    /* the largest legal file: 1024 tensors of rank 8 with names near the 127-byte limit */
    enum { NT = 1024 };
    tg_tensor *ts[NT];
    char *names[NT];
    for (int i = 0; i < NT; i++) {
        ts[i] = tg_full(TG_F32, 8, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 2}, i);
        names[i] = malloc(128);
        snprintf(names[i], 128, "model.a_rather_long_parameter_name_of_a_deep_network_%04d.%0*d.weight",
                 i, 62, 0);
    }
    const char *kv[] = {"format", "tapegrad-checkpoint-2", "epoch", "0", "rng_counter", "0"};
    CHECK(tg_safetensors_write(path, NT, (const char *const *)names, (const tg_tensor *const *)ts,
                               3, kv) == TG_OK, "1024-tensor write: %s", tg_last_error());
    tg_model *m = mlp(1);
    tg_status st;
    size_t size = file_size(path), peak = load_peak(path, m, &st);
    /* parsed completely: rejected for not being this model's, not for its size */
    CHECK(st == TG_EFORMAT && strstr(tg_last_error(), "1024 unexpected") &&
              peak <= size + TG_CHECKPOINT_LOAD_SLACK,
          "1024 tensors: %s '%s', peak %zu for a %zu-byte file", tg_status_name(st), tg_last_error(),
          peak, size);
    printf("1024-tensor file: %zu bytes, checkpoint load peak %zu bytes\n", size, peak);
    tg_safetensors *r = NULL;
    CHECK(tg_safetensors_read(path, &r) == TG_OK && r->count == NT &&
              tg_tensor_get_flat(r->tensors[NT - 1], 1) == NT - 1,
          "1024 tensors read back: %s", tg_last_error());
    tg_safetensors_free(&r);
    for (int i = 0; i < NT; i++) {
        tg_tensor_free(&ts[i]);
        free(names[i]);
    }

    /* a small model; its file corrupted at every 7th byte */
    CHECK(tg_checkpoint_save(path, m, NULL, 0) == TG_OK, "save: %s", tg_last_error());
    size = file_size(path);
    FILE *f = fopen(path, "rb");
    unsigned char *file = malloc(size);
    CHECK(fread(file, 1, size, f) == size, "read");
    fclose(f);
    size_t worst = load_peak(path, m, &st);
    CHECK(st == TG_OK, "small model loads");
    for (size_t at = 0; at < size; at += 7) {
        file[at] ^= 0x10;
        f = fopen(path2, "wb");
        fwrite(file, 1, size, f);
        fclose(f);
        file[at] ^= 0x10;
        peak = load_peak(path2, m, &st);
        if (peak > worst)
            worst = peak;
    }
    CHECK(worst <= size + TG_CHECKPOINT_LOAD_SLACK, "corrupt files: worst peak %zu for %zu bytes",
          worst, size);

    /* 1.2 MB of header that jansson would turn into ~40 MB of values */
    size_t hn = 1200000;
    char *h = malloc(hn + 8);
    size_t k = (size_t)snprintf(h + 8, hn, "{\"__metadata__\":{\"header_xxh3\":\"0000000000000000\"},"
                                "\"t\":{\"dtype\":\"F32\",\"data_offsets\":[0,0],\"shape\":[0");
    while (k + 4 < hn) {
        memcpy(h + 8 + k, ",0", 2);
        k += 2;
    }
    memcpy(h + 8 + k, "]}}", 3);
    k += 3;
    for (int i = 0; i < 8; i++)
        h[i] = (char)(unsigned char)((uint64_t)k >> (8 * i));
    char hex[17]; /* a valid header checksum, so the parser is reached */
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)XXH3_64bits(h, 8 + k));
    memcpy(strstr(h + 8, "0000000000000000"), hex, 16);
    f = fopen(path2, "wb");
    fwrite(h, 1, 8 + k, f);
    fclose(f);
    peak = load_peak(path2, m, &st);
    CHECK(st == TG_EFORMAT && strstr(tg_last_error(), "too complex") &&
              peak <= 8 + k + TG_CHECKPOINT_LOAD_SLACK,
          "expanding header: %s '%s', peak %zu for %zu bytes", tg_status_name(st), tg_last_error(),
          peak, 8 + k);
    free(h);
    free(file);
    tg_model_free(&m);
}

/* ------------------------------------------------------------ out of memory */

/* training steps on a fresh tape (its arena grows in the first, and is merged into one
 * chunk by the reset before the second); returns the first failure's status */
static tg_status train_steps(tg_model *m, tg_optim *o, const tg_tensor *x, const tg_tensor *y,
                             int steps)
{
    tg_tape *t = tg_tape_new();
    if (!t)
        return TG_ENOMEM;
    tg_status s = TG_OK;
    for (int i = 0; i < steps && s == TG_OK; i++) {
        tg_tape_reset(t);
        tg_optim_zero_grad(o);
        tg_tensor *loss =
            tg_softmax_cross_entropy(t, tg_model_forward(m, t, (tg_tensor *)x, true), y, NULL);
        s = tg_backward(t, loss);
        if (s == TG_OK)
            s = tg_optim_step(o);
    }
    tg_tape_free(&t);
    return s;
}
static tg_status train_step(tg_model *m, tg_optim *o, const tg_tensor *x, const tg_tensor *y)
{
    return train_steps(m, o, x, y, 1);
}

static tg_model *wide(void)
{
    tg_model *m = tg_model_new(TG_F32, 2);
    tg_model_add_dense(m, 6, 256, NULL);
    tg_model_add_activation(m, TG_ACT_RELU, 0);
    tg_model_add_dropout(m, 0.1);
    tg_model_add_dense(m, 256, 3, NULL);
    return m;
}

static void oom_training_step(void)
{
    enum { B = 1024 }; /* a hidden activation of 1 MiB: the arena grows past its first chunk */
    tg_tensor *x = tg_rand_normal(TG_F32, 2, (int64_t[]){B, 6}, 0, 1, 4, 0);
    static int32_t labels[B];
    for (int i = 0; i < B; i++)
        labels[i] = i % 3;
    tg_tensor *y = tg_tensor_from(TG_I32, 1, (int64_t[]){B}, labels);
    /* the result of two undisturbed steps */
    tg_model *ref = wide();
    tg_optim *oref = tg_adam_new(tg_model_param_count(ref), tg_model_params(ref), NULL);
    CHECK(train_steps(ref, oref, x, y, 2) == TG_OK, "reference steps: %s", tg_last_error());
    uint64_t want = tg_model_hash(ref);
    tg_optim_free(&oref);
    tg_model_free(&ref);
    long k, bad = 0, absorbed = 0;
    for (k = 1;; k++) {
        long blocks = live_blocks;
        tg_model *m = wide();
        tg_optim *o = tg_adam_new(tg_model_param_count(m), tg_model_params(m), NULL);
        arm(k);
        tg_status s = train_steps(m, o, x, y, 2);
        fail_at = 0;
        bool done = !injected;
        /* TG_ENOMEM, or success with the undisturbed result when the failed allocation
         * was optional (the reset's merge of the arena's chunks) */
        bool ok = s == TG_ENOMEM ? !done : s == TG_OK && tg_model_hash(m) == want;
        absorbed += !done && s == TG_OK;
        /* a failed step leaves everything usable: the same steps then succeed */
        if (ok && s == TG_ENOMEM)
            ok = train_steps(m, o, x, y, 2) == TG_OK;
        tg_optim_free(&o);
        tg_model_free(&m);
        ok = ok && live_blocks == blocks;
        if (!ok && bad++ < 5)
            fprintf(stderr, "training step, allocation %ld failed: %s (%s)\n", k, tg_status_name(s),
                    tg_last_error());
        if (done)
            break;
    }
    CHECK(bad == 0, "training step: %ld of %ld injected failures mishandled", bad, k - 1);
    CHECK(k > 5, "the step allocates (%ld allocations)", k - 1);
    printf("two training steps: failed each of their %ld allocations in turn (%ld absorbed)\n",
           k - 1, absorbed);
    tg_tensor_free(&x);
    tg_tensor_free(&y);
}

static void oom_checkpoint(void)
{
    tg_model *a = mlp(3);
    tg_optim *oa = tg_adam_new(tg_model_param_count(a), tg_model_params(a), NULL);
    tg_tensor *x = tg_rand_normal(TG_F32, 2, (int64_t[]){8, 6}, 0, 1, 4, 0);
    int32_t labels[8] = {0, 1, 2, 0, 1, 2, 0, 1};
    tg_tensor *y = tg_tensor_from(TG_I32, 1, (int64_t[]){8}, labels);
    CHECK(train_step(a, oa, x, y) == TG_OK, "step");
    CHECK(tg_checkpoint_save(path, a, oa, 4) == TG_OK, "save");

    /* load */
    tg_model *b = mlp(4);
    tg_optim *ob = tg_adam_new(tg_model_param_count(b), tg_model_params(b), NULL);
    uint64_t before = tg_model_hash(b);
    long k, bad = 0;
    for (k = 1;; k++) {
        long blocks = live_blocks;
        arm(k);
        tg_status s = tg_checkpoint_load(path, b, ob, NULL);
        fail_at = 0;
        bool done = !injected;
        bool ok = live_blocks == blocks &&
                  (done ? s == TG_OK && tg_model_hash(b) == tg_model_hash(a)
                        : s == TG_ENOMEM && tg_model_hash(b) == before && tg_optim_steps(ob) == 0);
        if (!ok && bad++ < 5)
            fprintf(stderr, "load, allocation %ld failed: %s (%s), %ld blocks leaked\n", k,
                    tg_status_name(s), tg_last_error(), live_blocks - blocks);
        if (done)
            break;
    }
    CHECK(bad == 0 && k > 3, "checkpoint load: %ld of %ld injected failures mishandled", bad, k - 1);

    /* save: the previous file stays when it fails */
    tg_model *c = mlp(5);
    for (k = 1;; k++) {
        long blocks = live_blocks;
        arm(k);
        tg_status s = tg_checkpoint_save(path, c, NULL, 9);
        fail_at = 0;
        bool done = !injected;
        int64_t epoch = -1;
        tg_status l = tg_checkpoint_load(path, b, NULL, &epoch);
        bool ok = live_blocks == blocks && l == TG_OK &&
                  (done ? s == TG_OK && epoch == 9 : s == TG_ENOMEM && epoch == 4);
        if (!ok && bad++ < 5)
            fprintf(stderr, "save, allocation %ld failed: %s (%s), epoch %lld\n", k,
                    tg_status_name(s), tg_last_error(), (long long)epoch);
        if (done)
            break;
    }
    CHECK(bad == 0 && k > 3, "checkpoint save: %ld of %ld injected failures mishandled", bad, k - 1);

    /* generic read */
    for (k = 1;; k++) {
        long blocks = live_blocks;
        arm(k);
        tg_safetensors *r = NULL;
        tg_status s = tg_safetensors_read(path, &r);
        fail_at = 0;
        bool done = !injected;
        bool ok = done ? s == TG_OK && r && r->count == 4 : s == TG_ENOMEM && !r;
        tg_safetensors_free(&r);
        ok = ok && live_blocks == blocks;
        if (!ok && bad++ < 5)
            fprintf(stderr, "read, allocation %ld failed: %s (%s)\n", k, tg_status_name(s),
                    tg_last_error());
        if (done)
            break;
    }
    CHECK(bad == 0 && k > 3, "generic read: %ld of %ld injected failures mishandled", bad, k - 1);

    tg_tensor_free(&x);
    tg_tensor_free(&y);
    tg_optim_free(&oa);
    tg_optim_free(&ob);
    tg_model_free(&a);
    tg_model_free(&b);
    tg_model_free(&c);
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/ck.safetensors", dir);
    snprintf(path2, sizeof path2, "%s/bad.safetensors", dir);
    tg_set_allocator(&counting);
    memory_bound();
    oom_training_step();
    oom_checkpoint();
    tg_set_allocator(NULL);
    CHECK(live_blocks == 0, "every block freed (%ld live)", live_blocks);
    unlink(path);
    unlink(path2);
    rmdir(dir);
    return check_summary();
}
