/* Checkpoints: round trip of model + optimizer, safetensors layout, rejected inputs
 * leaving the model untouched, corruption detected, no temporary files left. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tapegrad.h"
#include "check.h"


static char dir[] = "/tmp/tg-ck-XXXXXX";
static char path[256];

static tg_model *make(uint64_t seed, int64_t hidden)
{
    tg_model *m = tg_model_new(TG_F32, seed);
    tg_model_add_dense(m, 3, hidden, NULL);
    tg_model_add_activation(m, TG_ACT_TANH, 0);
    tg_model_add_dense(m, hidden, 2, NULL);
    return m;
}

static unsigned char *read_file(size_t *n)
{
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n);
    if (fread(b, 1, *n, f) != *n)
        *n = 0;
    fclose(f);
    return b;
}

static void write_file(const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
}

/* a mismatch says what differs: optimizer, missing and unexpected names, shapes */
static void mismatch_messages(const char *where)
{
    char mm[512];
    snprintf(mm, sizeof mm, "%s/mm.safetensors", where);
    tg_model *a = make(1, 4);
    tg_optim *adam = tg_adam_new(tg_model_param_count(a), tg_model_params(a), NULL);
    CHECK(tg_checkpoint_save(mm, a, adam, 1) == TG_OK, "save: %s", tg_last_error());
    tg_model *b = make(1, 4);
    tg_optim *sgd = tg_sgd_new(tg_model_param_count(b), tg_model_params(b), NULL);
    CHECK(tg_checkpoint_load(mm, b, sgd, NULL) == TG_EFORMAT &&
              strstr(tg_last_error(), "holds adam optimizer state, not sgd"),
          "optimizer named: %s", tg_last_error());
    tg_model *wider = make(1, 5);
    CHECK(tg_checkpoint_load(mm, wider, NULL, NULL) == TG_EFORMAT &&
              strstr(tg_last_error(), "model.0.weight: F32 [3,4] in the file, f32 [3,5] in the model") &&
              strstr(tg_last_error(), "(0 missing, 0 unexpected, 3 different)"),
          "shapes named: %s", tg_last_error());
    tg_model *named = make(1, 4); /* the same layers, the last one named */
    tg_model_set_name(named, "head");
    CHECK(tg_checkpoint_load(mm, named, NULL, NULL) == TG_EFORMAT &&
              strstr(tg_last_error(), "missing tensors: model.head.weight, model.head.bias") &&
              strstr(tg_last_error(), "unexpected tensors: model.2.weight, model.2.bias") &&
              strstr(tg_last_error(), "(2 missing, 2 unexpected, 0 different)"),
          "names listed: %s", tg_last_error());
    unlink(mm);
    tg_optim_free(&adam);
    tg_optim_free(&sgd);
    tg_model *ms[] = {a, b, wider, named};
    for (int i = 0; i < 4; i++)
        tg_model_free(&ms[i]);
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    mismatch_messages(dir);
    tg_model *a = make(1, 4), *b = make(2, 4);
    tg_optim *oa = tg_adam_new(tg_model_param_count(a), tg_model_params(a), NULL);
    tg_optim *ob = tg_adam_new(tg_model_param_count(b), tg_model_params(b), NULL);
    /* one training step so the optimizer has state */
    tg_tape *t = tg_tape_new();
    tg_tensor *x = tg_rand_normal(TG_F32, 2, (int64_t[]){5, 3}, 0, 1, 3, 0);
    tg_backward(t, tg_sum(t, tg_model_forward(a, t, x, true), 0, NULL, false));
    tg_optim_step(oa);
    CHECK(tg_checkpoint_save(path, a, oa, 7) == TG_OK, "save: %s", tg_last_error());

    /* safetensors layout: 8-byte LE length, JSON object, data to the end */
    size_t n;
    unsigned char *file = read_file(&n);
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++)
        hl |= (uint64_t)file[i] << (8 * i);
    CHECK(hl % 8 == 0 && 8 + hl < n && file[8] == '{', "header length %llu of %zu bytes",
          (unsigned long long)hl, n);
    CHECK(memmem(file + 8, hl, "\"model.0.weight\":{\"data_offsets\"", 32) != NULL &&
              memmem(file + 8, hl, "\"dtype\":\"F32\"", 13) != NULL,
          "tensor entries in the header");

    int64_t epoch = 0;
    CHECK(tg_checkpoint_load(path, b, ob, &epoch) == TG_OK, "load: %s", tg_last_error());
    CHECK(epoch == 7 && tg_model_hash(a) == tg_model_hash(b) && tg_optim_steps(ob) == 1,
          "round trip: epoch, parameters, optimizer steps");
    const char *nm;
    CHECK(tg_tensor_hash(tg_optim_state_tensor(oa, 1, &nm)) ==
              tg_tensor_hash(tg_optim_state_tensor(ob, 1, &nm)),
          "optimizer state restored");

    /* every rejection leaves the model as it was */
    tg_model *c = make(3, 4);
    uint64_t hc = tg_model_hash(c);
    struct {
        const char *what;
        size_t at;
        int delta;
        size_t len;
        const char *msg;
    } bad[] = {
        {"data bit flip", 0, 1, 0, "checksum mismatch"},
        {"header bit flip in a name", 12, 2, 0, ""},
        {"truncated", 0, 0, 5, "header length"},
        {"trailing byte", 0, 0, 1, "after the last tensor"},
        {"shorter than 8 bytes", 0, 0, 2, "shorter"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        unsigned char *copy = malloc(n + 1);
        memcpy(copy, file, n);
        size_t len = n;
        if (i == 0)
            copy[8 + hl + 1] ^= 1; /* inside model.0.weight */
        else if (i == 1)
            copy[8 + 3] ^= 2;
        else if (i == 2)
            len = 8 + (size_t)hl / 2;
        else if (i == 3)
            copy[len++] = 0;
        else
            len = 4;
        write_file(copy, len);
        tg_status s = tg_checkpoint_load(path, c, NULL, NULL);
        CHECK(s == TG_EFORMAT && strstr(tg_last_error(), bad[i].msg) && tg_model_hash(c) == hc,
              "%s: %s '%s'", bad[i].what, tg_status_name(s), tg_last_error());
        free(copy);
    }
    write_file(file, n);
    tg_model *other = make(3, 5);
    uint64_t ho = tg_model_hash(other);
    CHECK(tg_checkpoint_load(path, other, NULL, NULL) == TG_EFORMAT &&
              strstr(tg_last_error(), "in the file, f32 [3,5] in the model") &&
              tg_model_hash(other) == ho,
          "another architecture rejected, unchanged: %s", tg_last_error());
    CHECK(tg_checkpoint_load("/nonexistent/x", c, NULL, NULL) == TG_EIO, "missing file");
    CHECK(tg_checkpoint_save("/nonexistent/dir/x", a, NULL, 0) == TG_EIO, "unwritable directory");
    CHECK(tg_checkpoint_save(path, a, NULL, -1) == TG_EINVAL && strstr(tg_last_error(), "negative"),
          "a negative epoch (which could not be loaded back) is refused");

    DIR *d = opendir(dir);
    int files = 0;
    for (struct dirent *de; (de = readdir(d));)
        files += de->d_name[0] != '.';
    closedir(d);
    CHECK(files == 1, "no temporary files left (%d files)", files);

    free(file);
    tg_tape_free(&t);
    tg_tensor_free(&x);
    tg_optim_free(&oa);
    tg_optim_free(&ob);
    tg_model *all[] = {a, b, c, other};
    for (int i = 0; i < 4; i++)
        tg_model_free(&all[i]);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return check_summary();
}
