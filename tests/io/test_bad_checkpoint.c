/* Checkpoint loader bad inputs: each class of malformed file is rejected with
 * TG_EFORMAT, a message naming the problem, and the model left unchanged. The files
 * are built here byte by byte around a one-tensor model (model.0.weight, F32 [2,1]). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "check.h"
#include "tapegrad.h"

static char path[256];
static const float data[2] = {1.5f, -2.0f};

/* writes: 8-byte LE length (len_override if nonzero), header, data (n bytes) */
static void write_st(const char *header, uint64_t len_override, const void *bytes, size_t n)
{
    FILE *f = fopen(path, "wb");
    uint64_t hl = len_override ? len_override : strlen(header);
    unsigned char len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (unsigned char)(hl >> (8 * i));
    fwrite(len8, 1, 8, f);
    fwrite(header, 1, strlen(header), f);
    fwrite(bytes, 1, n, f);
    fclose(f);
}

/* a header with the given entry text and metadata extras (each call its own buffer:
 * the table below holds many at once) */
static const char *header(const char *entry, const char *meta_extra)
{
    static char pool[40][1024];
    static int next;
    char *h = pool[next++ % 40];
    snprintf(h, sizeof pool[0],
             "{\"__metadata__\":{\"format\":\"tapegrad-checkpoint-1\",\"epoch\":\"1\","
             "\"rng_counter\":\"0\",\"xxh3.model.0.weight\":\"%016llx\"%s},%s}",
             (unsigned long long)XXH3_64bits(data, sizeof data), meta_extra, entry);
    return h;
}

#define GOOD_ENTRY "\"model.0.weight\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8]}"

int main(void)
{
    char dir[] = "/tmp/tg-bad-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/x.safetensors", dir);
    tg_dense_opts d = tg_dense_defaults();
    d.bias = false;
    tg_model *m = tg_model_new(TG_F32, 1);
    tg_model_add_dense(m, 2, 1, &d);

    /* the well-formed file loads (so each case below fails for its own reason) */
    write_st(header(GOOD_ENTRY, ""), 0, data, sizeof data);
    CHECK(tg_checkpoint_load(path, m, NULL, NULL) == TG_OK, "good file: %s", tg_last_error());
    CHECK(tg_tensor_get_flat(tg_model_params(m)[0], 1) == -2.0f, "good file's values loaded");
    tg_tensor_fill(tg_model_params(m)[0], 7.0);
    uint64_t before = tg_model_hash(m);

    struct {
        const char *what, *header;
        uint64_t len;
        size_t ndata;
        const char *msg;
    } bad[] = {
        {"header length past the end", header(GOOD_ENTRY, ""), 100000, 8, "past the end"},
        {"header length overflowing 8+N", header(GOOD_ENTRY, ""), UINT64_MAX - 4, 8, "past the end"},
        {"header length over 100 MB", header(GOOD_ENTRY, ""), (uint64_t)200 << 20, 8, "100 MB"},
        {"invalid JSON", "{\"a\":", 0, 8, "not valid JSON"},
        {"bad UTF-8", "{\"\xff\xfe\":1}", 0, 8, "not valid JSON"},
        {"header not an object", "[1,2,3]", 0, 8, "not a JSON object"},
        {"duplicate keys", header(GOOD_ENTRY "," GOOD_ENTRY, ""), 0, 8, "not valid JSON"},
        {"no __metadata__", "{" GOOD_ENTRY "}", 0, 8, "__metadata__"},
        {"nested __metadata__ value", header(GOOD_ENTRY, ",\"x\":{\"y\":\"z\"}"), 0, 8, "not a string"},
        {"non-string __metadata__ value", header(GOOD_ENTRY, ",\"x\":3"), 0, 8, "not a string"},
        {"unknown dtype",
         header("\"model.0.weight\":{\"dtype\":\"Q8\",\"shape\":[2,1],\"data_offsets\":[0,8]}", ""),
         0, 8, "dtype"},
        {"dtype case variant",
         header("\"model.0.weight\":{\"dtype\":\"f32\",\"shape\":[2,1],\"data_offsets\":[0,8]}", ""),
         0, 8, "dtype"},
        {"negative shape entry",
         header("\"model.0.weight\":{\"dtype\":\"F32\",\"shape\":[-2,-1],\"data_offsets\":[0,8]}", ""),
         0, 8, "shape"},
        {"non-integer shape entry",
         header("\"model.0.weight\":{\"dtype\":\"F32\",\"shape\":[2.0,1],\"data_offsets\":[0,8]}", ""),
         0, 8, "shape"},
        {"rank over 8",
         header("\"model.0.weight\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,2],"
                "\"data_offsets\":[0,8]}", ""),
         0, 8, "shape"},
        {"huge shape", header("\"model.0.weight\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],"
                              "\"data_offsets\":[0,8]}", ""),
         0, 8, "shape"},
        {"data_offsets of wrong arity",
         header("\"model.0.weight\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0]}", ""),
         0, 8, "data_offsets"},
        {"begin > end",
         header("\"model.0.weight\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[8,0]}", ""),
         0, 8, "data_offsets"},
        {"buffer too short", header(GOOD_ENTRY, ""), 0, 4, "data_offsets"},
        {"gap before the tensor",
         header("\"model.0.weight\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[4,12]}", ""),
         0, 12, "checksum"},
        {"trailing bytes", header(GOOD_ENTRY, ""), 0, 8 + 4, "after the last tensor"},
        {"unknown field",
         header("\"model.0.weight\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8],"
                "\"extra\":1}", ""),
         0, 8, "unknown fields"},
        {"tensor the model lacks",
         header(GOOD_ENTRY ",\"model.9.weight\":{\"dtype\":\"F32\",\"shape\":[1],"
                "\"data_offsets\":[8,12]}", ""),
         0, 12, "tensor count"},
        {"name the model lacks instead",
         header("\"model.1.weight\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8]}", ""),
         0, 8, "model.0.weight"},
        {"empty name",
         header("\"\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8]}", ""), 0, 8,
         "model.0.weight"},
        {"checksum mismatch",
         "{\"__metadata__\":{\"format\":\"tapegrad-checkpoint-1\",\"epoch\":\"1\",\"rng_counter\":\"0\","
         "\"xxh3.model.0.weight\":\"0123456789abcdef\"}," GOOD_ENTRY "}",
         0, 8, "checksum mismatch"},
    };
    unsigned char bytes[16] = {0};
    memcpy(bytes, data, sizeof data);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_st(bad[i].header, bad[i].len, bytes, bad[i].ndata);
        tg_status s = tg_checkpoint_load(path, m, NULL, NULL);
        CHECK(s == TG_EFORMAT && strstr(tg_last_error(), bad[i].msg) && tg_model_hash(m) == before,
              "%s: %s '%s'", bad[i].what, tg_status_name(s), tg_last_error());
    }
    tg_model_free(&m);
    unlink(path);
    rmdir(dir);
    return check_summary();
}
