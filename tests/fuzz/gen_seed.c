/* Writes the valid checkpoint seeds of the checkpoint fuzz target into a directory:
 * the fuzz model saved with its optimizer (valid-adam.safetensors) and without
 * (valid-model.safetensors). make_corpus.py derives the corrupt seeds from them. */
#include <stdio.h>

#include "fuzz_model.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    tg_optim *opt;
    tg_model *m = fuzz_model(&opt);
    char path[4096];
    int rc = !m;
    if (m) {
        snprintf(path, sizeof path, "%s/valid-adam.safetensors", argv[1]);
        rc |= tg_checkpoint_save(path, m, opt, 3) != TG_OK;
        snprintf(path, sizeof path, "%s/valid-model.safetensors", argv[1]);
        rc |= tg_checkpoint_save(path, m, NULL, 0) != TG_OK;
    }
    if (rc)
        fprintf(stderr, "gen_seed: %s\n", tg_last_error());
    tg_optim_free(&opt);
    tg_model_free(&m);
    return rc;
}
