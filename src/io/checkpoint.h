/* tapegrad — checkpoints as safetensors files: an 8-byte little-endian header length, a
 * JSON header ({"name": {"dtype", "shape", "data_offsets"}, ..., "__metadata__": {...}}),
 * then the raw little-endian data. PyTorch and the safetensors tools read the files.
 * Little-endian hosts only: tensors are written and read as the host's bytes, without
 * byte swapping, and the build refuses a big-endian host (meson.build, and a guard in
 * safetensors.c for other builds).
 *
 * Integrity. Every single-bit flip anywhere in a file we write is detected on load, and
 * the file stays plain safetensors (nothing after the data, no extra fields):
 *  - __metadata__ "xxh3.<name>": XXH3-64 (seed 0) of each tensor's data bytes, as 16
 *    lowercase hex digits;
 *  - __metadata__ "header_xxh3": XXH3-64 (seed 0) of the file's first 8 + N bytes (the
 *    length prefix and the whole header, padding included) computed with the checksum's
 *    own 16 digits replaced by "0000000000000000". The header is JSON written compactly
 *    with sorted keys and padded with spaces to a multiple of 8 bytes, so the text
 *    "header_xxh3":" occurs exactly once in it.
 * A reader finds the checksum in the raw bytes (exactly one occurrence of
 * "header_xxh3":" followed by 16 lowercase hex digits and a quote), verifies it before
 * trusting the length or parsing anything, then parses the JSON and requires the same
 * digits as __metadata__'s header_xxh3. The header checksum covers the length prefix,
 * the JSON (hence every tensor checksum, offset, shape and dtype) and the padding; the
 * tensor checksums plus "the tensors tile the data exactly" cover every data byte.
 *
 * Temporary files. A save writes <path>.tmp.XXXXXX (6 random letters or digits) beside
 * path and renames it over path; a save killed before the rename leaves that file. Each
 * save of path first removes such leftovers: files in path's directory named exactly
 * <basename of path>.tmp. plus 6 letters or digits, regular files (symbolic links and
 * directories are left), that are not a live save's. A save holds an exclusive flock(2)
 * on its temporary from its creation until after the rename (a killed process's locks
 * die with it), and a leftover is removed only if its lock can be taken at once, so a
 * concurrent save of the same path, by another thread or process, keeps its temporary.
 * A save that created its temporary just before another save locked it for removal sees
 * that (the lock taken, or the file unlinked) and takes another name. Where flock is not
 * supported nothing is locked and nothing is removed. On NFS, Linux emulates flock with
 * per-process fcntl locks: two threads of one process saving the same path at once may
 * then remove each other's temporary, and that save fails with TG_EIO (the checkpoint
 * stays one of the two, intact). The removal is best effort and never fails a save; it
 * reads the directory, so a save costs one scan of it.
 *
 * Memory. jansson's allocator is set, process-wide and once (json_set_alloc_funcs on the
 * first call of a function below), to the allocator of tg_set_allocator; a program using
 * jansson itself shares it. A load allocates at most the file's size plus
 * TG_CHECKPOINT_LOAD_SLACK bytes (peak, through that allocator), whatever the input:
 * parsing one header may allocate at most 4 MiB, enough for 1024 tensors (the most a
 * file may hold) with 127-byte names (the longest); a header needing more is rejected as
 * malformed. */
#ifndef TG_CHECKPOINT_H
#define TG_CHECKPOINT_H

#include "../nn/nn.h"
#include "../optim/optim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bound on what a load allocates beyond the file's size (see Memory above). */
#define TG_CHECKPOINT_LOAD_SLACK ((size_t)5 << 20)

/* Saves the model's parameters and buffers ("model.<name>", e.g. "model.0.weight",
 * "model.1.running_mean"), and when opt is not NULL the
 * optimizer's state tensors ("optim.<name>") and step counter, plus `epoch` and the
 * model's dropout counter in __metadata__ (format "tapegrad-checkpoint-2"). Atomic:
 * written to a temporary file in the same directory, fsynced, renamed over path, and the
 * directory fsynced; on any error the previous file is left untouched and the temporary
 * removed. TG_EIO with the
 * system's reason (short writes are continued and EINTR retried; a failed write,
 * fsync, close or rename is never retried). If only the final fsync of the directory
 * fails, the new file is in place but TG_EIO says the rename may not survive a crash.
 * TG_EINVAL for a negative epoch.
 * Mode: a new file gets what open(path, O_CREAT, 0666) would give it (0666 minus the
 * umask, or the directory's default ACL); a file replaced keeps its permission bits (the
 * owner becomes the saving user, as with any replace by rename). Temporaries that killed
 * saves of path left are removed first (see Temporary files above). */
TG_API tg_status tg_checkpoint_save(const char *path, const tg_model *m, const tg_optim *opt,
                                    int64_t epoch);

/* Loads a checkpoint written by tg_checkpoint_save into a model (and optimizer) of the
 * same architecture. Everything is verified before anything is copied: the header
 * checksum, the header (size, JSON, dtypes, shapes, offsets that tile the data exactly),
 * every tensor checksum, and
 * that the names, dtypes and shapes are exactly the model's parameters and buffers (and the optimizer's). On
 * failure the model and optimizer are unchanged and tg_last_error names the field.
 * Files of format 1 (before the header checksum) are rejected; tg_safetensors_read
 * still reads their tensors (their tensor checksums verified).
 * *epoch (may be NULL) receives the saved epoch. */
TG_API tg_status tg_checkpoint_load(const char *path, tg_model *m, tg_optim *opt, int64_t *epoch);

/* ---- any safetensors file ---- */

/* The named tensors and metadata of a safetensors file; everything owned by the struct
 * (free with tg_safetensors_free). Tensors are persistent, contiguous, in data order. */
typedef struct tg_safetensors {
    int count;
    char **names;
    tg_tensor **tensors;
    int meta_count;           /* __metadata__ entries (0 when the file has none) */
    char **meta_keys, **meta_values;
} tg_safetensors;

/* Reads a safetensors file written by any tool. The header is validated as for a
 * checkpoint (JSON without duplicate keys, known dtypes, shapes, offsets tiling the data
 * exactly, at most 1024 tensors); header_xxh3 and xxh3.<name> checksums are verified when
 * present and not required. F32, F64 and I32 are read as such; F16 and BF16 become F32
 * (exactly); BOOL, U8, I8, U16, I16 become I32, and U32, I64, U64 too when every value
 * fits (else TG_ERANGE); F8 dtypes give TG_EDTYPE. Returns TG_OK and *out, or a status
 * (TG_EIO, TG_EFORMAT, TG_ENOMEM, ...) with *out NULL and tg_last_error() set. The file
 * is read whole: memory is its size plus the converted tensors. */
TG_API tg_status tg_safetensors_read(const char *path, tg_safetensors **out);
TG_API void tg_safetensors_free(tg_safetensors **s);

/* Writes n contiguous F32/F64/I32 tensors under unique non-empty names (under 128
 * bytes, not "__metadata__") with nmeta metadata pairs kv[2i] = kv[2i+1] (keys
 * "header_xxh3" and "xxh3.*" are reserved), plus the checksums above; atomically like
 * tg_checkpoint_save, which writes through it. TG_EINVAL on bad arguments. */
TG_API tg_status tg_safetensors_write(const char *path, int n, const char *const *names,
                                      const tg_tensor *const *tensors, int nmeta,
                                      const char *const *kv);

#ifdef __cplusplus
}
#endif
#endif
