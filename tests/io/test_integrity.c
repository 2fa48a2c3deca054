/* Checkpoint integrity: every single-bit flip of the length prefix and header, and
 * 10,000 seeded flips of data bits, must each be rejected by tg_checkpoint_load with
 * the model and optimizer left unchanged; the file itself is plain safetensors (no
 * trailing bytes, readable by the generic reader). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "tapegrad.h"

static char path[256];

/* flips one bit of the file in place (the same call again restores it) */
static void flip(size_t byte, int bit)
{
    FILE *f = fopen(path, "r+b");
    fseek(f, (long)byte, SEEK_SET);
    int c = fgetc(f);
    fseek(f, (long)byte, SEEK_SET);
    fputc(c ^ (1 << bit), f);
    fclose(f);
}

static uint64_t state_hash(tg_model *m, tg_optim *o)
{
    uint64_t h = tg_model_hash(m) ^ (uint64_t)tg_optim_steps(o) ^ tg_model_rng_counter(m) << 32;
    for (int i = 0; i < tg_optim_state_count(o); i++)
        h = h * 31 + tg_tensor_hash(tg_optim_state_tensor(o, i, NULL));
    return h;
}

int main(void)
{
    char dir[] = "/tmp/tg-flip-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/ck.safetensors", dir);
    tg_model *a = tg_model_new(TG_F32, 1);
    tg_model_add_dense(a, 6, 5, NULL);
    tg_model_add_activation(a, TG_ACT_RELU, 0);
    tg_model_add_dense(a, 5, 3, NULL);
    tg_optim *oa = tg_adam_new(tg_model_param_count(a), tg_model_params(a), NULL);
    tg_tape *t = tg_tape_new();
    tg_tensor *x = tg_rand_normal(TG_F32, 2, (int64_t[]){4, 6}, 0, 1, 9, 0);
    tg_backward(t, tg_sum(t, tg_model_forward(a, t, x, true), 0, NULL, false));
    tg_optim_step(oa);
    CHECK(tg_checkpoint_save(path, a, oa, 3) == TG_OK, "save: %s", tg_last_error());

    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    size_t n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *file = malloc(n);
    CHECK(fread(file, 1, n, f) == n, "read back");
    fclose(f);
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++)
        hl |= (uint64_t)file[i] << (8 * i);

    /* plain safetensors: the tensors end exactly at the end of the file */
    tg_safetensors *st = NULL;
    CHECK(tg_safetensors_read(path, &st) == TG_OK, "generic reader: %s", tg_last_error());
    size_t data = 0;
    for (int i = 0; st && i < st->count; i++)
        data += (size_t)tg_tensor_numel(st->tensors[i]) * 4;
    CHECK(st && 8 + hl + data == n, "no trailing bytes: 8 + %llu + %zu vs %zu",
          (unsigned long long)hl, data, n);
    CHECK(st && st->count == tg_model_param_count(a) + tg_optim_state_count(oa),
          "every parameter and state tensor present (%d)", st ? st->count : -1);
    tg_safetensors_free(&st);

    tg_model *b = tg_model_new(TG_F32, 2);
    tg_model_add_dense(b, 6, 5, NULL);
    tg_model_add_activation(b, TG_ACT_RELU, 0);
    tg_model_add_dense(b, 5, 3, NULL);
    tg_optim *ob = tg_adam_new(tg_model_param_count(b), tg_model_params(b), NULL);
    uint64_t before = state_hash(b, ob);

    /* every bit of the prefix and header */
    long header_bits = 0, header_caught = 0;
    for (size_t byte = 0; byte < 8 + hl; byte++)
        for (int bit = 0; bit < 8; bit++) {
            flip(byte, bit);
            tg_status s = tg_checkpoint_load(path, b, ob, NULL);
            flip(byte, bit);
            header_bits++;
            bool ok = s != TG_OK && state_hash(b, ob) == before;
            header_caught += ok;
            if (!ok)
                fprintf(stderr, "header byte %zu bit %d: %s %s\n", byte, bit, tg_status_name(s),
                        tg_last_error());
        }
    CHECK(header_caught == header_bits, "header flips caught: %ld of %ld", header_caught, header_bits);

    /* 10,000 data bits drawn with a fixed seed */
    long data_caught = 0, draws = 10000;
    size_t dbits = (n - 8 - (size_t)hl) * 8;
    for (long k = 0; k < draws; k++) {
        size_t bitno = (size_t)(tg_rng_u64(2024, 5, (uint64_t)k) % dbits);
        size_t byte = 8 + (size_t)hl + bitno / 8;
        flip(byte, (int)(bitno % 8));
        tg_status s = tg_checkpoint_load(path, b, ob, NULL);
        flip(byte, (int)(bitno % 8));
        bool ok = s == TG_EFORMAT && strstr(tg_last_error(), "checksum mismatch") &&
                  state_hash(b, ob) == before;
        data_caught += ok;
        if (!ok)
            fprintf(stderr, "data bit %zu: %s %s\n", bitno, tg_status_name(s), tg_last_error());
    }
    CHECK(data_caught == draws, "data flips caught: %ld of %ld", data_caught, draws);

    /* and the file, flipped back, still loads (so the rejections above were the flips) */
    CHECK(tg_checkpoint_load(path, b, ob, NULL) == TG_OK && tg_model_hash(b) == tg_model_hash(a),
          "the intact file loads: %s", tg_last_error());
    printf("%ld header bits and %ld data bits flipped\n", header_bits, draws);

    free(file);
    tg_tensor_free(&x);
    tg_tape_free(&t);
    tg_optim_free(&oa);
    tg_optim_free(&ob);
    tg_model_free(&a);
    tg_model_free(&b);
    unlink(path);
    rmdir(dir);
    return check_summary();
}
