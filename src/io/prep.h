/* tapegrad — data preparation: CSV loading, mini-batches, splits, k-fold, scalers.
 * All results are persistent tensors owned by the caller (free with tg_tensor_free). */
#ifndef TG_PREP_H
#define TG_PREP_H

#include "../tensor/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- CSV ---- */
/* Options for tg_csv_load: start from tg_csv_defaults() and change what differs (the
 * fields after dtype were added later; a struct not made by tg_csv_defaults() must set
 * label_dtype, whose zero is TG_F32, not the default TG_I32). */
typedef struct tg_csv_opts {
    bool header;       /* a header row (the first line after skip_lines) precedes the data;
                        * it holds the column names that label_name and feature_names select */
    int label_column;  /* column (0-based) split off as the labels; -1: none (or label_name) */
    char delimiter;    /* ',' by default */
    tg_dtype dtype;    /* of the features: F32 (default) or F64 */
    int skip_lines;    /* lines skipped before the header or the data, whatever they hold
                        * (a title, comments); 0 by default. Line numbers in messages still
                        * count them: they are the file's line numbers. */
    const char *label_name; /* the label column by its header name (needs header and
                             * label_column -1); NULL by default */
    const char *const *feature_names; /* the feature columns by header name, in this order
                                       * (needs header); the columns not named are neither
                                       * parsed nor loaded, so they may hold text. NULL
                                       * (default): every column but the label's */
    int feature_count; /* entries of feature_names (>= 1 when it is not NULL); 0 by default */
    tg_dtype label_dtype; /* TG_I32 (default): integer class labels, *labels [rows];
                           * TG_F32 or TG_F64: real targets for regression, [rows, 1] */
} tg_csv_opts;
TG_API tg_csv_opts tg_csv_defaults(void);
/* Reads a numeric CSV file, plain or gzip-compressed (recognised by its content, e.g. a
 * .csv.gz, through zlib as tg_idx_load): *x [rows, features] of dtype; *labels (see
 * label_dtype; NULL when there is no label column, and labels may then be NULL too).
 * Features are every column but the label's, in file order, or the feature_names columns
 * in their order. Cells are parsed with strtod (so the C locale's '.' is the decimal
 * point), surrounding blanks and CRLF line ends are accepted, blank lines are skipped; no
 * quoting, except that a header name may be enclosed in double quotes ("a" names a).
 * Header names are compared exactly after trimming blanks. Returns TG_OK, or with *x and
 * *labels NULL: TG_EINVAL (bad arguments or options: a name without header, both
 * label_name and label_column, a name listed twice or both as label and feature), TG_EIO
 * (missing or unreadable file, a directory), TG_ENOMEM, or TG_EFORMAT with a message in
 * tg_last_error() that gives the file's line number (path:line:column, columns 1-based,
 * with the column's header name when there is a header) and the offending text for: a
 * non-numeric, empty or blank cell, nan/inf or an out-of-range number (beyond the double
 * range, or for F32 beyond the float range), a non-integer or out-of-int32 class label,
 * ragged rows (rows of different column counts; with names, a row whose count differs
 * from the header's), a label column beyond the last, a name that no header column has
 * or that several have, a missing header row, a NUL byte, corrupt or truncated gzip data
 * (with the line reached), an empty file, or no data rows. Memory: the decompressed text
 * (while reading, up to three times its size for a gzip file or a pipe), then the result
 * tensors. */
TG_API tg_status tg_csv_load(const char *path, const tg_csv_opts *o, tg_tensor **x,
                             tg_tensor **labels);

/* ---- row selection ---- */
/* A new tensor made of rows idx[0..n-1] of t (contiguous, rank >= 1, any dtype): shape
 * [n, t's other extents]. NULL (tg_last_error set) for bad arguments (TG_EINVAL), an
 * index outside [0, rows) (TG_ERANGE) or out of memory. Caller frees. */
TG_API tg_tensor *tg_take_rows(const tg_tensor *t, int64_t n, const int64_t *idx);
/* A permutation of 0..n-1 into perm (n entries; Fisher-Yates where step i swaps i with
 * tg_rng_u64(seed, stream, i) mod (i + 1)): reproducible, independent of threads.
 * TG_EINVAL for n < 0 or a NULL perm with n > 0 (n == 0 writes nothing). */
TG_API tg_status tg_permutation(int64_t n, uint64_t seed, uint64_t stream, int64_t *perm);

/* ---- mini-batches ---- */
typedef struct tg_batcher tg_batcher;
/* Iterates over the rows (first axis) of x and y in mini-batches of `batch` rows; with
 * shuffle, the order of epoch e is tg_permutation(rows, seed, e), so every epoch is
 * reshuffled and any run with the same seed sees the same batches. The last batch of an
 * epoch may be smaller unless drop_last. x and y (y may be NULL) must be contiguous with
 * the same number of rows; they are borrowed, not copied: keep them alive and unchanged
 * in shape while the batcher exists. All memory (a permutation and two batch tensors)
 * is allocated here. Returns NULL on error (tg_last_error set); free with
 * tg_batcher_free. */
TG_API tg_batcher *tg_batcher_new(const tg_tensor *x, const tg_tensor *y, int64_t batch,
                                  bool shuffle, bool drop_last, uint64_t seed);
/* Gathers the next batch's rows into the batcher's buffers: *xb [m, ...] and *yb (NULL
 * when y is NULL) are owned by the batcher (never free them) and valid until the next
 * call. Returns false at the end of an epoch (the following call starts the next
 * epoch). No heap allocation. */
TG_API bool tg_batcher_next(tg_batcher *b, tg_tensor **xb, tg_tensor **yb);
/* Number of epochs completed (0 during the first). */
TG_API int64_t tg_batcher_epoch(const tg_batcher *b);
/* Frees the batcher and its buffers; sets *b to NULL. NULL is fine. */
TG_API void tg_batcher_free(tg_batcher **b);

/* ---- splits ---- */
/* Shuffled split of the rows of (x, y) (contiguous, rank >= 1) into train / validation
 * / test: with p = tg_permutation(rows, seed, 0), n_val = floor(val_frac rows) and
 * n_test = floor(test_frac rows) (val_frac, test_frac >= 0, sum < 1), train gets the
 * first rows of p, then validation, then test: disjoint and complete. Outputs are new
 * tensors the caller frees. Any output pointer may be NULL: that part is discarded (not
 * built), and the others are the same as if it had been asked for (e.g. x_val = y_val =
 * NULL with val_frac 0.2 leaves those rows out). y may be NULL: the y outputs are then
 * set to NULL. Returns TG_OK, TG_EINVAL (x NULL, not contiguous or of rank 0; y not
 * matching x's rows; fractions) or TG_ENOMEM; on failure every output is NULL. */
TG_API tg_status tg_split(const tg_tensor *x, const tg_tensor *y, double val_frac,
                          double test_frac, uint64_t seed, tg_tensor **x_train,
                          tg_tensor **y_train, tg_tensor **x_val, tg_tensor **y_val,
                          tg_tensor **x_test, tg_tensor **y_test);
/* Fold `fold` of k (2 <= k <= rows, 0 <= fold < k): tg_permutation(rows, seed, 0) cut
 * into k parts of floor/ceil(rows / k) rows; part `fold` is the validation set, the
 * rest (in permutation order) the training set. Over fold = 0..k-1 with one seed every
 * row is validated exactly once. Outputs, y and failures as in tg_split. */
TG_API tg_status tg_kfold(const tg_tensor *x, const tg_tensor *y, int k, int fold, uint64_t seed,
                          tg_tensor **x_train, tg_tensor **y_train, tg_tensor **x_val,
                          tg_tensor **y_val);

/* ---- scalers (per column of a 2-D tensor) ---- */
typedef enum { TG_SCALE_STANDARD, TG_SCALE_MINMAX } tg_scale_kind;
typedef struct tg_scaler tg_scaler;
/* Fits on x (the training set, float [rows >= 1, cols >= 1], any layout) and keeps per
 * column a shift and a scale, x' = (x - shift) / scale: standard uses the mean and the
 * population std (so the training columns get mean 0 and std 1); min-max uses min and
 * max - min (training columns map onto [0, 1]). A constant column (zero variance or
 * range) gets scale 1, i.e. it is only shifted (to 0 on the training set): never a
 * division by zero, never a NaN. Returns NULL on error; free with tg_scaler_free. */
TG_API tg_scaler *tg_scaler_fit(tg_scale_kind kind, const tg_tensor *x);
/* Applies the fitted transform in place to x (float [rows, cols] with the fitted number
 * of columns; views fine, expanded views rejected). TG_OK or TG_EINVAL. */
TG_API tg_status tg_scaler_apply(const tg_scaler *s, tg_tensor *x);
/* The fitted transform of x as a new contiguous tensor (x unchanged); caller frees.
 * NULL on error. */
TG_API tg_tensor *tg_scaler_transform(const tg_scaler *s, const tg_tensor *x);
/* Undoes the transform in place: x = x * scale + shift (e.g. predictions of a scaled
 * regression target back in the original units). TG_OK or TG_EINVAL. */
TG_API tg_status tg_scaler_inverse(const tg_scaler *s, tg_tensor *x);
/* Frees the scaler; sets *s to NULL. NULL is fine. */
TG_API void tg_scaler_free(tg_scaler **s);

#ifdef __cplusplus
}
#endif
#endif
