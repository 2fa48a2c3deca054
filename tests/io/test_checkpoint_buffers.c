/* Checkpoints of a model with buffers (batch norm's running statistics): a round trip
 * restores parameters, buffers and counters (equal model hash); a checkpoint missing a
 * buffer, or with a corrupt one, is rejected and leaves the model untouched. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "tapegrad.h"
#include "check.h"

static char dir[] = "/tmp/tg-ckbuf-XXXXXX";
static char path[256];

/* conv 1->2 3x3 (no bias) -> batch norm -> relu -> flatten -> dense 2*4*4 -> 3 */
static tg_model *make(uint64_t seed)
{
    tg_model *m = tg_model_new(TG_F32, seed);
    tg_conv2d_layer_opts c = tg_conv2d_layer_defaults();
    c.bias = false;
    bool ok = tg_model_add_conv2d(m, 1, 2, (int64_t[]){3, 3}, &c) == TG_OK &&
              tg_model_add_batch_norm(m, 2, NULL) == TG_OK &&
              tg_model_add_activation(m, TG_ACT_RELU, 0) == TG_OK &&
              tg_model_add_flatten(m) == TG_OK &&
              tg_model_add_dense(m, 2 * 4 * 4, 3, NULL) == TG_OK;
    CHECK(ok, "build: %s", tg_last_error());
    return m;
}

static void train(tg_model *m, tg_optim *opt, int steps)
{
    tg_tensor *x = tg_rand_normal(TG_F32, 4, (int64_t[]){8, 1, 6, 6}, 1, 2, 4, 0);
    tg_tensor *y = tg_zeros(TG_I32, 1, (int64_t[]){8});
    for (int64_t i = 0; i < 8; i++)
        tg_tensor_set_flat(y, i, (double)(i % 3));
    tg_tape *t = tg_tape_new();
    for (int s = 0; s < steps; s++) {
        tg_tape_reset(t);
        tg_tensor *l = tg_softmax_cross_entropy(t, tg_model_forward(m, t, x, true), y, NULL);
        CHECK(tg_backward(t, l) == TG_OK && tg_optim_step(opt) == TG_OK, "step: %s",
              tg_tape_error(t));
        tg_optim_zero_grad(opt);
    }
    tg_tape_free(&t);
    tg_tensor_free(&x);
    tg_tensor_free(&y);
}

/* writes a checkpoint of m's parameters and buffers by hand (no optimizer), leaving out
 * the tensor named `drop` and giving `corrupt` a wrong checksum (either may be NULL) */
static void write_by_hand(const tg_model *m, const char *drop, const char *corrupt)
{
    const tg_tensor *ts[64];
    char names[64][64];
    int n = 0;
    for (int i = 0; i < tg_model_param_count(m); i++, n++) {
        ts[n] = tg_model_params(m)[i];
        snprintf(names[n], sizeof names[n], "model.%s", tg_model_param_name(m, i));
    }
    for (int i = 0; i < tg_model_buffer_count(m); i++, n++) {
        ts[n] = tg_model_buffers(m)[i];
        snprintf(names[n], sizeof names[n], "model.%s", tg_model_buffer_name(m, i));
    }
    char hdr[8192], meta[4096];
    size_t h = (size_t)snprintf(hdr, sizeof hdr, "{");
    size_t mt = (size_t)snprintf(meta, sizeof meta,
                                 "\"__metadata__\":{\"format\":\"tapegrad-checkpoint-2\","
                                 "\"header_xxh3\":\"0000000000000000\","
                                 "\"epoch\":\"3\",\"rng_counter\":\"%" PRIu64 "\"",
                                 tg_model_rng_counter(m));
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        if (drop && !strcmp(names[i], drop))
            continue;
        size_t bytes = (size_t)tg_tensor_numel(ts[i]) * sizeof(float);
        h += (size_t)snprintf(hdr + h, sizeof hdr - h, "\"%s\":{\"dtype\":\"F32\",\"shape\":[",
                              names[i]);
        for (int d = 0; d < ts[i]->ndim; d++)
            h += (size_t)snprintf(hdr + h, sizeof hdr - h, "%s%lld", d ? "," : "",
                                  (long long)ts[i]->shape[d]);
        h += (size_t)snprintf(hdr + h, sizeof hdr - h, "],\"data_offsets\":[%zu,%zu]},", off,
                              off + bytes);
        uint64_t sum = XXH3_64bits(ts[i]->data, bytes);
        if (corrupt && !strcmp(names[i], corrupt))
            sum ^= 1;
        mt += (size_t)snprintf(meta + mt, sizeof meta - mt, ",\"xxh3.%s\":\"%016" PRIx64 "\"",
                               names[i], sum);
        off += bytes;
    }
    h += (size_t)snprintf(hdr + h, sizeof hdr - h, "%s}}", meta);
    /* the header checksum (format 2): XXH3 of the length prefix and the header with
     * the checksum's own digits as zeros, then written in place of the zeros */
    char file[8 + sizeof hdr];
    for (int i = 0; i < 8; i++)
        file[i] = (char)(unsigned char)((uint64_t)h >> (8 * i));
    memcpy(file + 8, hdr, h);
    char *digits = strstr(file + 8, "\"header_xxh3\":\"") + strlen("\"header_xxh3\":\"");
    char hex[17];
    snprintf(hex, sizeof hex, "%016" PRIx64, XXH3_64bits(file, 8 + h));
    memcpy(digits, hex, 16);
    FILE *f = fopen(path, "wb");
    fwrite(file, 1, 8 + h, f);
    for (int i = 0; i < n; i++)
        if (!drop || strcmp(names[i], drop))
            fwrite(ts[i]->data, sizeof(float), (size_t)tg_tensor_numel(ts[i]), f);
    fclose(f);
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/bn.safetensors", dir);
    tg_model *a = make(1), *b = make(2);
    tg_optim *oa = tg_adam_new(tg_model_param_count(a), tg_model_params(a), NULL);
    tg_optim *ob = tg_adam_new(tg_model_param_count(b), tg_model_params(b), NULL);
    train(a, oa, 3);
    CHECK(tg_tensor_get_flat(tg_model_buffers(a)[0], 0) != 0 &&
              tg_tensor_get_flat(tg_model_buffers(a)[1], 1) != 1,
          "training moved the running stats");

    /* round trip: parameters, buffers, dropout counter and optimizer state */
    CHECK(tg_checkpoint_save(path, a, oa, 3) == TG_OK, "save: %s", tg_last_error());
    FILE *f = fopen(path, "rb");
    char head[4096] = "";
    size_t got = f ? fread(head, 1, sizeof head - 1, f) : 0;
    if (f)
        fclose(f);
    head[got] = 0;
    CHECK(strstr(head + 8, "\"model.1.running_mean\"") &&
              strstr(head + 8, "\"model.1.running_var\"") &&
              strstr(head + 8, "\"xxh3.model.1.running_var\""),
          "buffers and their checksums are in the file");
    CHECK(tg_model_hash(a) != tg_model_hash(b), "different models before loading");
    int64_t epoch = 0;
    CHECK(tg_checkpoint_load(path, b, ob, &epoch) == TG_OK, "load: %s", tg_last_error());
    CHECK(tg_model_hash(a) == tg_model_hash(b) && epoch == 3, "loaded model equals the saved one");
    for (int i = 0; i < tg_model_buffer_count(a); i++)
        CHECK(tg_tensor_hash(tg_model_buffers(a)[i]) == tg_tensor_hash(tg_model_buffers(b)[i]),
              "buffer %s restored", tg_model_buffer_name(a, i));
    CHECK(tg_model_rng_counter(b) == 3, "counter restored");
    /* and training on continues identically */
    train(a, oa, 2);
    train(b, ob, 2);
    CHECK(tg_model_hash(a) == tg_model_hash(b), "resumed training equals straight training");

    /* the hand-written file with every tensor loads (so the rejections below are the
     * missing or corrupt buffer's doing) */
    tg_model *c = make(3);
    write_by_hand(a, NULL, NULL);
    CHECK(tg_checkpoint_load(path, c, NULL, NULL) == TG_OK, "hand-written checkpoint loads: %s",
          tg_last_error());
    CHECK(tg_model_hash(c) == tg_model_hash(a), "hand-written checkpoint restores the model");

    tg_model *d = make(4);
    uint64_t before = tg_model_hash(d);
    write_by_hand(a, "model.1.running_var", NULL);
    CHECK(tg_checkpoint_load(path, d, NULL, NULL) == TG_EFORMAT, "missing buffer rejected");
    CHECK(strstr(tg_last_error(), "tg_checkpoint_load"), "message: %s", tg_last_error());
    CHECK(tg_model_hash(d) == before, "a rejected checkpoint leaves the model untouched");
    write_by_hand(a, NULL, "model.1.running_mean");
    CHECK(tg_checkpoint_load(path, d, NULL, NULL) == TG_EFORMAT &&
              strstr(tg_last_error(), "model.1.running_mean"),
          "corrupt buffer rejected: %s", tg_last_error());
    CHECK(tg_model_hash(d) == before, "still untouched");
    /* a model without batch norm cannot load a file with buffers, and vice versa */
    tg_model *plain = tg_model_new(TG_F32, 1);
    tg_model_add_conv2d(plain, 1, 2, (int64_t[]){3, 3}, &(tg_conv2d_layer_opts){
                            .stride = {1, 1}, .dilation = {1, 1}, .groups = 1});
    CHECK(tg_checkpoint_load(path, plain, NULL, NULL) == TG_EFORMAT, "extra tensors rejected");

    tg_optim_free(&oa);
    tg_optim_free(&ob);
    tg_model_free(&a);
    tg_model_free(&b);
    tg_model_free(&c);
    tg_model_free(&d);
    tg_model_free(&plain);
    unlink(path);
    rmdir(dir);
    return check_summary();
}
