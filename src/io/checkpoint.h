/* tapegrad — checkpoints as safetensors files: an 8-byte little-endian header length, a
 * JSON header ({"name": {"dtype", "shape", "data_offsets"}, ..., "__metadata__": {...}}),
 * then the raw little-endian data. __metadata__ holds the format version and the XXH3-64
 * of every tensor's bytes, verified on load, so PyTorch and the safetensors tools read
 * the files and corruption is detected. */
#ifndef TG_CHECKPOINT_H
#define TG_CHECKPOINT_H

#include "../nn/nn.h"
#include "../optim/optim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Saves the model's parameters and buffers ("model.<name>", e.g. "model.0.weight",
 * "model.1.running_mean"), and when opt is not NULL the
 * optimizer's state tensors ("optim.<name>") and step counter, plus `epoch` and the
 * model's dropout counter in __metadata__. Atomic: written to a temporary file in the
 * same directory, fsynced, renamed over path, and the directory fsynced; on any error
 * the previous file is left untouched and the temporary removed. TG_EIO with the
 * system's reason. */
TG_API tg_status tg_checkpoint_save(const char *path, const tg_model *m, const tg_optim *opt,
                                    int64_t epoch);

/* Loads a checkpoint written by tg_checkpoint_save into a model (and optimizer) of the
 * same architecture. Everything is verified before anything is copied: the header
 * (size, JSON, dtypes, shapes, offsets that tile the data exactly), every checksum, and
 * that the names, dtypes and shapes are exactly the model's parameters and buffers (and
 * the optimizer's). On failure the model and optimizer are unchanged and tg_last_error
 * names the field.
 * *epoch (may be NULL) receives the saved epoch. */
TG_API tg_status tg_checkpoint_load(const char *path, tg_model *m, tg_optim *opt, int64_t *epoch);

#ifdef __cplusplus
}
#endif
#endif
