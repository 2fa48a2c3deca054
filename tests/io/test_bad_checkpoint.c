/* Checkpoint loader bad inputs: each class of malformed file is rejected with
 * TG_EFORMAT, a message naming the problem, and the model left unchanged. The files
 * are built here byte by byte around a one-tensor model (model.0.weight, F32 [2,1]). */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "check.h"
#include "tapegrad.h"

static char path[256];
static const float data[2] = {1.5f, -2.0f};

#define HKEY "\"header_xxh3\":\""
#define PH "0000000000000000"

/* writes: 8-byte LE length (len_override if nonzero), header, data (n bytes). The first
 * "header_xxh3":"0000000000000000" in the header gets the header checksum (XXH3-64 of
 * the length and header with those digits as written), unless keep_ph. */
static void write_st(const char *header, uint64_t len_override, const void *bytes, size_t n,
                     bool keep_ph)
{
    size_t hn = strlen(header);
    unsigned char *b = malloc(8 + hn);
    uint64_t hl = len_override ? len_override : hn;
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(hl >> (8 * i));
    memcpy(b + 8, header, hn);
    unsigned char *at = memmem(b + 8, hn, HKEY PH, strlen(HKEY PH));
    if (at && !keep_ph) {
        char hex[17];
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)XXH3_64bits(b, 8 + hn));
        memcpy(at + strlen(HKEY), hex, 16);
    }
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, 8 + hn, f);
    fwrite(bytes, 1, n, f);
    fclose(f);
    free(b);
}

/* a header with the given entry text and metadata extras (each call its own buffer:
 * the table below holds many at once) */
static const char *header_full(const char *format, const char *epoch, const char *entry,
                               const char *meta_extra)
{
    static char pool[80][1024];
    static int next;
    char *h = pool[next++ % 80];
    snprintf(h, sizeof pool[0],
             "{\"__metadata__\":{\"format\":\"%s\",\"epoch\":\"%s\",\"header_xxh3\":\"" PH "\","
             "\"rng_counter\":\"0\",\"xxh3.model.0.weight\":\"%016llx\"%s},%s}",
             format, epoch, (unsigned long long)XXH3_64bits(data, sizeof data), meta_extra, entry);
    return h;
}
static const char *header(const char *entry, const char *meta_extra)
{
    return header_full("tapegrad-checkpoint-2", "1", entry, meta_extra);
}
static const char *header_fmt(const char *format, const char *entry, const char *meta_extra)
{
    return header_full(format, "1", entry, meta_extra);
}
static const char *header_ep(const char *epoch, const char *entry)
{
    return header_full("tapegrad-checkpoint-2", epoch, entry, "");
}

#define GOOD_ENTRY "\"model.0.weight\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8]}"

#define E(dims, offs) "\"model.0.weight\":{\"dtype\":\"F32\",\"shape\":" dims ",\"data_offsets\":" offs "}"
#define HSUM "\"header_xxh3\":\"" PH "\""

/* flags: which loaders must reject the case (each with the status and message given) */
enum { CK = 1, RD = 2, BOTH = 3, KEEP_PH = 4 };

/* a big header built at run time: 1025 empty tensors, or one shape of 200,000 zeros */
static char *big_header(bool many)
{
    size_t cap = 4 << 20, n = 0;
    char *h = malloc(cap);
    n += (size_t)snprintf(h + n, cap - n, "{\"__metadata__\":{\"format\":\"tapegrad-checkpoint-2\","
                          "\"epoch\":\"1\",\"rng_counter\":\"0\"," HSUM "}");
    if (many) {
        for (int i = 0; i < 1025; i++)
            n += (size_t)snprintf(h + n, cap - n, ",\"t%d\":{\"dtype\":\"F32\",\"shape\":[0],"
                                  "\"data_offsets\":[0,0]}", i);
    } else {
        n += (size_t)snprintf(h + n, cap - n, ",\"t\":{\"dtype\":\"F32\",\"data_offsets\":[0,0],"
                              "\"shape\":[0");
        for (int i = 0; i < 200000; i++)
            n += (size_t)snprintf(h + n, cap - n, ",0");
        n += (size_t)snprintf(h + n, cap - n, "]}");
    }
    snprintf(h + n, cap - n, "}");
    return h;
}

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
    write_st(header(GOOD_ENTRY, ""), 0, data, sizeof data, false);
    CHECK(tg_checkpoint_load(path, m, NULL, NULL) == TG_OK, "good file: %s", tg_last_error());
    CHECK(tg_tensor_get_flat(tg_model_params(m)[0], 1) == -2.0f, "good file's values loaded");
    tg_safetensors *rd = NULL;
    CHECK(tg_safetensors_read(path, &rd) == TG_OK && rd->count == 1 &&
              tg_tensor_get_flat(rd->tensors[0], 0) == 1.5, "good file read: %s", tg_last_error());
    tg_safetensors_free(&rd);
    tg_tensor_fill(tg_model_params(m)[0], 7.0);
    uint64_t before = tg_model_hash(m);
    char *many = big_header(true), *deep = big_header(false);
    static const unsigned char zero4[4];
    char sum9[64]; /* the checksum of the extra tensor below (4 zero bytes) */
    snprintf(sum9, sizeof sum9, ",\"xxh3.model.9.weight\":\"%016llx\"",
             (unsigned long long)XXH3_64bits(zero4, 4));

    struct {
        const char *what, *header;
        uint64_t len;
        size_t ndata;
        int flags;
        tg_status status;
        const char *msg;
    } bad[] = {
        {"header length past the end", header(GOOD_ENTRY, ""), 100000, 8, BOTH, TG_EFORMAT, "past the end"},
        {"header length overflowing 8+N", header(GOOD_ENTRY, ""), UINT64_MAX - 4, 8, BOTH, TG_EFORMAT,
         "past the end"},
        {"header length over 100 MB", header(GOOD_ENTRY, ""), (uint64_t)200 << 20, 8, BOTH, TG_EFORMAT,
         "100 MB"},
        {"invalid JSON", "{\"__metadata__\":{" HSUM "},\"a\":", 0, 8, BOTH, TG_EFORMAT, "not valid JSON"},
        {"bad UTF-8", "{\"__metadata__\":{" HSUM "},\"\xff\xfe\":1}", 0, 8, BOTH, TG_EFORMAT,
         "not valid JSON"},
        {"header not an object", "[{" HSUM "}]", 0, 8, BOTH, TG_EFORMAT, "not a JSON object"},
        {"duplicate keys", header(GOOD_ENTRY "," GOOD_ENTRY, ""), 0, 8, BOTH, TG_EFORMAT, "not valid JSON"},
        {"no __metadata__", "{\"x\":{" HSUM "}," GOOD_ENTRY "}", 0, 8, CK, TG_EFORMAT, "__metadata__"},
        {"__metadata__ not an object", "{\"__metadata__\":\"m\",\"x\":{" HSUM "}}", 0, 8, BOTH, TG_EFORMAT,
         "__metadata__ is not an object"},
        {"older format", header_fmt("tapegrad-checkpoint-1", GOOD_ENTRY, ""), 0, 8, CK, TG_EFORMAT,
         "not a tapegrad-checkpoint-2"},
        {"nested __metadata__ value", header(GOOD_ENTRY, ",\"x\":{\"y\":\"z\"}"), 0, 8, BOTH, TG_EFORMAT,
         "not a string"},
        {"non-string __metadata__ value", header(GOOD_ENTRY, ",\"x\":3"), 0, 8, BOTH, TG_EFORMAT,
         "not a string"},
        {"header checksum missing",
         "{\"__metadata__\":{\"format\":\"tapegrad-checkpoint-2\",\"epoch\":\"1\",\"rng_counter\":\"0\"},"
         GOOD_ENTRY "}", 0, 8, CK, TG_EFORMAT, "header checksum (header_xxh3) missing"},
        {"header checksum wrong", header(GOOD_ENTRY, ""), 0, 8, BOTH | KEEP_PH, TG_EFORMAT,
         "header checksum mismatch"},
        {"header checksum not hex",
         "{\"__metadata__\":{\"header_xxh3\":\"00000000000000G0\"}," GOOD_ENTRY "}", 0, 8, BOTH,
         TG_EFORMAT, "16 lowercase hex"},
        {"header checksum too short", "{\"__metadata__\":{\"header_xxh3\":\"0123\"}," GOOD_ENTRY "}", 0, 8,
         BOTH, TG_EFORMAT, "16 lowercase hex"},
        {"header checksum twice", header(GOOD_ENTRY, ",\"y\":{" HSUM "}"), 0, 8, BOTH, TG_EFORMAT,
         "more than once"},
        {"header checksum outside __metadata__",
         "{\"__metadata__\":{\"format\":\"tapegrad-checkpoint-2\"},\"x\":{" HSUM "}}", 0, 0, BOTH,
         TG_EFORMAT, "not __metadata__'s"},
        {"header checksum key escaped", "{\"__metadata__\":{\"header\\u005fxxh3\":\"" PH "\"}}", 0, 0, RD,
         TG_EFORMAT, "not __metadata__'s"},
        {"unknown dtype",
         header("\"model.0.weight\":{\"dtype\":\"Q8\",\"shape\":[2,1],\"data_offsets\":[0,8]}", ""),
         0, 8, BOTH, TG_EFORMAT, "dtype"},
        {"dtype case variant",
         header("\"model.0.weight\":{\"dtype\":\"f32\",\"shape\":[2,1],\"data_offsets\":[0,8]}", ""),
         0, 8, BOTH, TG_EFORMAT, "dtype"},
        {"dtype tapegrad does not represent",
         header("\"model.0.weight\":{\"dtype\":\"F8_E4M3\",\"shape\":[8],\"data_offsets\":[0,8]}", ""),
         0, 8, RD, TG_EDTYPE, "F8_E4M3"},
        {"I64 outside the I32 range",
         header("\"model.0.weight\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}", ""),
         0, 8, RD, TG_ERANGE, "outside the I32 range"},
        {"negative shape entry", header(E("[-2,-1]", "[0,8]"), ""), 0, 8, BOTH, TG_EFORMAT, "shape"},
        {"non-integer shape entry", header(E("[2.0,1]", "[0,8]"), ""), 0, 8, BOTH, TG_EFORMAT, "shape"},
        {"rank over 8", header(E("[1,1,1,1,1,1,1,1,2]", "[0,8]"), ""), 0, 8, BOTH, TG_EFORMAT, "shape"},
        {"huge shape", header(E("[4611686018427387904,4]", "[0,8]"), ""), 0, 8, BOTH, TG_EFORMAT, "shape"},
        {"data_offsets of wrong arity", header(E("[2,1]", "[0]"), ""), 0, 8, BOTH, TG_EFORMAT,
         "data_offsets"},
        {"begin > end", header(E("[2,1]", "[8,0]"), ""), 0, 8, BOTH, TG_EFORMAT, "data_offsets"},
        {"buffer too short", header(GOOD_ENTRY, ""), 0, 4, BOTH, TG_EFORMAT, "data_offsets"},
        {"gap before the tensor", header(E("[2,1]", "[4,12]"), ""), 0, 12, BOTH, TG_EFORMAT, "gap"},
        {"overlapping tensors",
         header(GOOD_ENTRY ",\"e\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}", ""), 0, 8,
         BOTH, TG_EFORMAT, "overlap"},
        {"empty tensor inside another",
         header(GOOD_ENTRY ",\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}", ""), 0, 8,
         BOTH, TG_EFORMAT, "overlap"},
        {"trailing bytes", header(GOOD_ENTRY, ""), 0, 8 + 4, BOTH, TG_EFORMAT, "after the last tensor"},
        {"unknown field", header(E("[2,1]", "[0,8],\"extra\":1"), ""), 0, 8, BOTH, TG_EFORMAT,
         "unknown fields"},
        {"tensor entry not an object", header("\"model.0.weight\":[1]", ""), 0, 0, BOTH, TG_EFORMAT,
         "tensor entry malformed"},
        {"more than 1024 tensors", many, 0, 0, BOTH, TG_EFORMAT, "more than 1024"},
        {"header expanding past the JSON budget", deep, 0, 0, BOTH, TG_EFORMAT, "too complex"},
        {"tensor the model lacks",
         header(GOOD_ENTRY ",\"model.9.weight\":{\"dtype\":\"F32\",\"shape\":[1],"
                "\"data_offsets\":[8,12]}", sum9),
         0, 12, CK, TG_EFORMAT, "unexpected tensors: model.9.weight"},
        {"name the model lacks instead",
         header("\"model.1.weight\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8]}", ""),
         0, 8, CK, TG_EFORMAT, "model.0.weight"},
        {"empty name",
         header("\"\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8]}", ""), 0, 8, CK,
         TG_EFORMAT, "model.0.weight"},
        {"checksum mismatch",
         "{\"__metadata__\":{\"format\":\"tapegrad-checkpoint-2\",\"epoch\":\"1\",\"rng_counter\":\"0\","
         HSUM ",\"xxh3.model.0.weight\":\"0123456789abcdef\"}," GOOD_ENTRY "}",
         0, 8, BOTH, TG_EFORMAT, "checksum mismatch"},
        {"checksum not hex",
         "{\"__metadata__\":{\"format\":\"tapegrad-checkpoint-2\",\"epoch\":\"1\",\"rng_counter\":\"0\","
         HSUM ",\"xxh3.model.0.weight\":\"0123456789ABCDEF\"}," GOOD_ENTRY "}",
         0, 8, BOTH, TG_EFORMAT, "checksum is not 16 lowercase hex"},
        {"checksum missing",
         "{\"__metadata__\":{\"format\":\"tapegrad-checkpoint-2\",\"epoch\":\"1\",\"rng_counter\":\"0\","
         HSUM "}," GOOD_ENTRY "}", 0, 8, CK, TG_EFORMAT, "checksum missing"},
        {"checksum of a tensor the file lacks", header(GOOD_ENTRY, ",\"xxh3.model.9.weight\":\"" PH "\""),
         0, 8, BOTH, TG_EFORMAT, "checksum of a tensor the file lacks"},
        {"epoch not a number", header_ep("1x", GOOD_ENTRY), 0, 8, CK, TG_EFORMAT, "epoch"},
        {"negative epoch", header_ep("-1", GOOD_ENTRY), 0, 8, CK, TG_EFORMAT, "epoch"},
        {"epoch over 2^63", header_ep("9223372036854775808", GOOD_ENTRY), 0, 8, CK, TG_EFORMAT, "epoch"},
    };
    unsigned char bytes[16] = {0};
    memcpy(bytes, data, sizeof data);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (!(bad[i].flags & BOTH))
            continue;
        write_st(bad[i].header, bad[i].len, bytes, bad[i].ndata, bad[i].flags & KEEP_PH);
        if (bad[i].flags & CK) {
            tg_status s = tg_checkpoint_load(path, m, NULL, NULL);
            CHECK(s == bad[i].status && strstr(tg_last_error(), bad[i].msg) && tg_model_hash(m) == before,
                  "%s: %s '%s'", bad[i].what, tg_status_name(s), tg_last_error());
        }
        if (bad[i].flags & RD) {
            static tg_safetensors dummy;
            tg_safetensors *r = &dummy; /* must come back NULL */
            tg_status s = tg_safetensors_read(path, &r);
            CHECK(s == bad[i].status && strstr(tg_last_error(), bad[i].msg) && !r,
                  "reader: %s: %s '%s'", bad[i].what, tg_status_name(s), tg_last_error());
        }
    }
    /* inputs that are not a file's contents: an empty or 7-byte file, a directory, no file */
    struct {
        const char *what, *path;
        size_t len;
        tg_status status;
        const char *msg;
    } files[] = {
        {"empty file", path, 0, TG_EFORMAT, "shorter than the 8-byte header length"},
        {"7-byte file", path, 7, TG_EFORMAT, "shorter than the 8-byte header length"},
        {"a directory", dir, 0, TG_EIO, "not a regular file"},
        {"no such file", "/nonexistent/x.safetensors", 0, TG_EIO, "No such file"},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        FILE *f = fopen(path, "wb");
        fwrite("\x08\0\0\0\0\0\0", 1, files[i].len, f);
        fclose(f);
        tg_status s = tg_checkpoint_load(files[i].path, m, NULL, NULL);
        CHECK(s == files[i].status && strstr(tg_last_error(), files[i].msg) && tg_model_hash(m) == before,
              "%s: %s '%s'", files[i].what, tg_status_name(s), tg_last_error());
        static tg_safetensors dummy;
        tg_safetensors *r = &dummy;
        s = tg_safetensors_read(files[i].path, &r);
        CHECK(s == files[i].status && strstr(tg_last_error(), files[i].msg) && !r,
              "reader: %s: %s '%s'", files[i].what, tg_status_name(s), tg_last_error());
    }
    tg_model_free(&m);
    free(many);
    free(deep);
    unlink(path);
    rmdir(dir);
    return check_summary();
}
