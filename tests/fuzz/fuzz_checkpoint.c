/* Fuzz target: tg_checkpoint_load into a small fixed model (3-4-2 MLP) with an Adam
 * optimizer, and again into the model alone (the path that verifies but skips saved
 * optimizer state). Contract checked on every input:
 *  - a failed load returns TG_EFORMAT, TG_EIO or TG_ENOMEM with a message, and leaves
 *    the parameters, the optimizer state and step counter and the model's RNG counter
 *    exactly as they were;
 *  - the library's allocations (counted through tg_set_allocator) peak at no more than
 *    the input's size plus LOAD_OVERHEAD and are all freed.
 * After a successful load the model is restored, so every input starts from the same
 * state. */
#include <string.h>

#include "fuzz.h"
#include "fuzz_model.h"
#include "tapegrad.h"

/* what checkpoint.h promises beyond the file's size: jansson's tree (its parse is
 * capped at 4 MiB, and jansson allocates through tg_set_allocator's hook, so it is
 * counted) plus the loader's tables of up to 1024 entries (about 100 KiB). The
 * public bound, not a figure of this implementation, so a change that breaks the
 * promise fails here. */
#define LOAD_OVERHEAD TG_CHECKPOINT_LOAD_SLACK

typedef struct state {
    uint64_t params, optim, rng;
    int64_t steps;
} state;

static tg_model *model;
static tg_optim *opt;
static tg_tensor *saved[64]; /* parameters and optimizer state as initialized */
static int nsaved;
static uint64_t saved_rng;
static int64_t saved_steps;

static uint64_t optim_hash(void)
{
    uint64_t h = 0;
    for (int i = 0; i < tg_optim_state_count(opt); i++)
        h = h * 31 + tg_tensor_hash(tg_optim_state_tensor(opt, i, NULL));
    return h;
}

static state snapshot(void)
{
    return (state){tg_model_hash(model), optim_hash(), tg_model_rng_counter(model),
                   tg_optim_steps(opt)};
}

/* every tensor the checkpoint covers, in a fixed order */
static int tensors(tg_tensor **out)
{
    int n = 0;
    for (int i = 0; i < tg_model_param_count(model); i++)
        out[n++] = tg_model_params(model)[i];
    for (int i = 0; i < tg_optim_state_count(opt); i++)
        out[n++] = tg_optim_state_tensor(opt, i, NULL);
    return n;
}

static void setup(void)
{
    model = fuzz_model(&opt);
    if (!model || !opt)
        fuzz_fail("cannot build the model: %s", tg_last_error());
    tg_tensor *t[64];
    nsaved = tensors(t);
    for (int i = 0; i < nsaved; i++)
        if (!(saved[i] = tg_tensor_clone(t[i])))
            fuzz_fail("out of memory");
    saved_rng = tg_model_rng_counter(model);
    saved_steps = tg_optim_steps(opt);
}

static void restore(void)
{
    tg_tensor *t[64];
    tensors(t);
    for (int i = 0; i < nsaved; i++)
        tg_tensor_copy(t[i], saved[i]);
    tg_model_set_rng_counter(model, saved_rng);
    tg_optim_set_steps(opt, saved_steps);
}

static void load(const char *path, size_t size, bool with_optim)
{
    state before = snapshot();
    int64_t epoch = -1;
    fuzz_count_begin();
    tg_status s = tg_checkpoint_load(path, model, with_optim ? opt : NULL, &epoch);
    fuzz_count c = fuzz_count_end();
    const char *how = with_optim ? "with the optimizer" : "model only";
    if (c.peak > size + LOAD_OVERHEAD)
        fuzz_fail("%s: %zu bytes allocated at the peak for a %zu-byte file", how, c.peak, size);
    if (c.blocks != 0 || c.live != 0)
        fuzz_fail("%s: %ld blocks (%zu bytes) not freed", how, c.blocks, c.live);
    if (s == TG_OK) {
        if (epoch < 0)
            fuzz_fail("%s: loaded but no epoch", how);
        restore();
        return;
    }
    if (s != TG_EFORMAT && s != TG_EIO && s != TG_ENOMEM)
        fuzz_fail("%s: unexpected status %s", how, tg_status_name(s));
    if (!strstr(tg_last_error(), "tg_checkpoint_load"))
        fuzz_fail("%s: %s without a message naming the loader: '%s'", how, tg_status_name(s),
                  tg_last_error());
    state after = snapshot();
    if (memcmp(&before, &after, sizeof before) != 0)
        fuzz_fail("%s: the failed load (%s) changed the model or optimizer", how,
                  tg_last_error());
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!model)
        setup();
    const char *path = fuzz_file(data, size);
    load(path, size, true);
    load(path, size, false);
    return 0;
}
