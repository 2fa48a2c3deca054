/* Interop with the golden files of golden/make_golden.py (built in Python from the
 * published safetensors format, not from our code): tg_safetensors_write must produce
 * tapegrad.safetensors byte for byte, and the generic reader must read it and
 * foreign.safetensors (another tool's file: no tapegrad metadata, unsorted keys, F16,
 * BF16, I64, U8, I8 and BOOL tensors) to the values the script wrote; likewise
 * tg_checkpoint_save must produce checkpoint.safetensors, which tg_checkpoint_load loads.
 * Usage: test_golden GOLDEN_DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "tapegrad.h"

static unsigned char *slurp(const char *p, size_t *n)
{
    FILE *f = fopen(p, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n + 1);
    if (fread(b, 1, *n, f) != *n)
        *n = 0;
    fclose(f);
    return b;
}

/* tensor i of s has this name, dtype, shape and values */
static void expect(const tg_safetensors *s, int i, const char *name, tg_dtype dt, int ndim,
                   const int64_t *shape, int64_t n, const double *v)
{
    CHECK(i < s->count && !strcmp(s->names[i], name), "tensor %d is %s (%s)", i, name,
          i < s->count ? s->names[i] : "-");
    if (i >= s->count)
        return;
    const tg_tensor *t = s->tensors[i];
    bool ok = t->dtype == dt && t->ndim == ndim && tg_tensor_numel(t) == n;
    for (int d = 0; ok && d < ndim; d++)
        ok = t->shape[d] == shape[d];
    for (int64_t k = 0; ok && k < n; k++)
        ok = tg_tensor_get_flat(t, k) == v[k];
    CHECK(ok, "%s: dtype, shape and values as written by make_golden.py", name);
}

static const char *meta(const tg_safetensors *s, const char *key)
{
    for (int i = 0; i < s->meta_count; i++)
        if (!strcmp(s->meta_keys[i], key))
            return s->meta_values[i];
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_golden GOLDEN_DIR\n");
        return 1;
    }
    char golden[4096], foreign[4096], ckpt[4096], out[256];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", argv[1]);
    snprintf(golden, sizeof golden, "%s/tapegrad.safetensors", argv[1]);
    snprintf(foreign, sizeof foreign, "%s/foreign.safetensors", argv[1]);
    char dir[] = "/tmp/tg-golden-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    snprintf(out, sizeof out, "%s/out.safetensors", dir);

    /* the tensors of make_golden.py, in the same order */
    tg_tensor *w = tg_tensor_from(TG_F32, 2, (int64_t[]){2, 3},
                                  (float[]){0.5f, -1.0f, 2.25f, 3.0f, -0.125f, 1024.0f});
    tg_tensor *b = tg_tensor_from(TG_F64, 1, (int64_t[]){3}, (double[]){1.5, -2.0, 1e-300});
    tg_tensor *l = tg_tensor_from(TG_I32, 1, (int64_t[]){4}, (int32_t[]){0, 1, -7, 2147483647});
    tg_tensor *sc = tg_full(TG_F32, 0, NULL, 42.0);
    tg_tensor *em = tg_zeros(TG_F32, 1, (int64_t[]){0});
    const char *names[] = {"weight", "bias", "labels", "scalar", "empty"};
    const tg_tensor *ts[] = {w, b, l, sc, em};
    const char *kv[] = {"source", "tapegrad golden test"};
    CHECK(tg_safetensors_write(out, 5, names, ts, 1, kv) == TG_OK, "write: %s", tg_last_error());
    size_t na, nb;
    unsigned char *mine = slurp(out, &na), *gold = slurp(golden, &nb);
    CHECK(gold != NULL, "golden file %s present", golden);
    size_t diff = 0;
    while (mine && gold && diff < na && diff < nb && mine[diff] == gold[diff])
        diff++;
    CHECK(mine && gold && na == nb && diff == na,
          "our writer's output equals the golden file (%zu vs %zu bytes, first difference at %zu)",
          na, nb, diff);
    free(mine);
    free(gold);

    tg_safetensors *s = NULL;
    CHECK(tg_safetensors_read(golden, &s) == TG_OK, "golden file read: %s", tg_last_error());
    if (s) {
        CHECK(s->count == 5, "5 tensors (%d)", s->count);
        expect(s, 0, "weight", TG_F32, 2, (int64_t[]){2, 3}, 6,
               (double[]){0.5, -1.0, 2.25, 3.0, -0.125, 1024.0});
        expect(s, 1, "bias", TG_F64, 1, (int64_t[]){3}, 3, (double[]){1.5, -2.0, 1e-300});
        expect(s, 2, "labels", TG_I32, 1, (int64_t[]){4}, 4, (double[]){0, 1, -7, 2147483647});
        expect(s, 3, "scalar", TG_F32, 0, NULL, 1, (double[]){42.0});
        expect(s, 4, "empty", TG_F32, 1, (int64_t[]){0}, 0, NULL);
        CHECK(meta(s, "source") && !strcmp(meta(s, "source"), "tapegrad golden test"),
              "metadata read");
    }
    tg_safetensors_free(&s);

    CHECK(tg_safetensors_read(foreign, &s) == TG_OK, "foreign file read: %s", tg_last_error());
    if (s) { /* in data order */
        CHECK(s->count == 7, "7 tensors (%d)", s->count);
        expect(s, 0, "bytes", TG_I32, 1, (int64_t[]){3}, 3, (double[]){0, 200, 255});
        expect(s, 1, "matrix", TG_F32, 2, (int64_t[]){2, 2}, 4, (double[]){1, 2, 3, 4});
        expect(s, 2, "half", TG_F32, 1, (int64_t[]){4}, 4,
               (double[]){1.0, -2.5, 65504.0, 5.9604644775390625e-08});
        expect(s, 3, "small", TG_I32, 1, (int64_t[]){2}, 2, (double[]){-128, 127});
        expect(s, 4, "long", TG_I32, 1, (int64_t[]){2}, 2, (double[]){-5, 2147483647});
        expect(s, 5, "flags", TG_I32, 1, (int64_t[]){2}, 2, (double[]){1, 0});
        expect(s, 6, "brain", TG_F32, 1, (int64_t[]){2}, 2, (double[]){1.0, -3.0});
        CHECK(s->meta_count == 1 && meta(s, "format") && !strcmp(meta(s, "format"), "pt"),
              "foreign metadata");
    }
    tg_safetensors_free(&s);

    /* the writer's argument checks: nothing is written */
    struct {
        const char *what;
        int n, nmeta;
        const char *names[2], *kv[2];
        const char *msg;
    } wbad[] = {
        {"name given twice", 2, 0, {"a", "a"}, {NULL, NULL}, "twice"},
        {"empty name", 1, 0, {"", NULL}, {NULL, NULL}, "empty"},
        {"reserved name", 1, 0, {"__metadata__", NULL}, {NULL, NULL}, "reserved"},
        {"name not UTF-8", 1, 0, {"\xff", NULL}, {NULL, NULL}, "UTF-8"},
        {"reserved metadata key", 1, 1, {"a", NULL}, {"header_xxh3", "x"}, "reserved"},
        {"tensor checksum key", 1, 1, {"a", NULL}, {"xxh3.a", "x"}, "reserved"},
    };
    for (size_t i = 0; i < sizeof wbad / sizeof wbad[0]; i++) {
        const tg_tensor *two[] = {w, b};
        unlink(out);
        tg_status s0 = tg_safetensors_write(out, wbad[i].n, wbad[i].names, two, wbad[i].nmeta,
                                            wbad[i].kv);
        CHECK(s0 == TG_EINVAL && strstr(tg_last_error(), wbad[i].msg) && access(out, F_OK) != 0,
              "writer: %s: %s '%s'", wbad[i].what, tg_status_name(s0), tg_last_error());
    }

    /* a checkpoint: Dense(2, 3) at epoch 7 */
    tg_model *m = tg_model_new(TG_F32, 1);
    tg_model_add_dense(m, 2, 3, NULL);
    const float wv[] = {0.5f, -1.0f, 2.0f, 0.25f, 4.0f, -8.0f}, bv[] = {1, 2, 3};
    for (int i = 0; i < 6; i++)
        tg_tensor_set_flat(tg_model_params(m)[0], i, wv[i]);
    for (int i = 0; i < 3; i++)
        tg_tensor_set_flat(tg_model_params(m)[1], i, bv[i]);
    CHECK(tg_checkpoint_save(out, m, NULL, 7) == TG_OK, "checkpoint save: %s", tg_last_error());
    mine = slurp(out, &na);
    gold = slurp(ckpt, &nb);
    CHECK(mine && gold && na == nb && !memcmp(mine, gold, na),
          "tg_checkpoint_save's output equals checkpoint.safetensors (%zu vs %zu bytes)", na, nb);
    free(mine);
    free(gold);
    tg_model *m2 = tg_model_new(TG_F32, 2);
    tg_model_add_dense(m2, 2, 3, NULL);
    int64_t epoch = 0;
    CHECK(tg_checkpoint_load(ckpt, m2, NULL, &epoch) == TG_OK && epoch == 7 &&
              tg_model_hash(m2) == tg_model_hash(m),
          "the golden checkpoint loads: %s", tg_last_error());
    tg_model_free(&m);
    tg_model_free(&m2);

    tg_tensor *all[] = {w, b, l, sc, em};
    for (int i = 0; i < 5; i++)
        tg_tensor_free(&all[i]);
    unlink(out);
    rmdir(dir);
    return check_summary();
}
