/* tapegrad — data preparation: CSV loading, mini-batches, splits, k-fold, scalers.
 * All results are persistent tensors owned by the caller (free with tg_tensor_free). */
#ifndef TG_PREP_H
#define TG_PREP_H

#include "../tensor/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- CSV ---- */
typedef struct tg_csv_opts {
    bool header;       /* skip the first line */
    int label_column;  /* column split off as I32 labels (integers); -1: none */
    char delimiter;    /* ',' by default */
    tg_dtype dtype;    /* of the features: F32 (default) or F64 */
} tg_csv_opts;
TG_API tg_csv_opts tg_csv_defaults(void);
/* Reads a numeric CSV file: *x [rows, columns (minus the label column)], *labels I32
 * [rows] (NULL when label_column < 0; labels may then be NULL too). Empty lines are
 * skipped. TG_EIO for an unreadable file; TG_EFORMAT with file:line:column in the
 * message for a non-numeric cell, a non-integer label, ragged rows, or no data rows. */
TG_API tg_status tg_csv_load(const char *path, const tg_csv_opts *o, tg_tensor **x,
                             tg_tensor **labels);

/* ---- row selection ---- */
/* A new tensor made of rows idx[0..n-1] of t (1-D or 2-D, any dtype). */
TG_API tg_tensor *tg_take_rows(const tg_tensor *t, int64_t n, const int64_t *idx);
/* A permutation of 0..n-1 into perm (Fisher-Yates driven by the counter-based RNG with
 * (seed, stream)): reproducible, independent of threads. */
TG_API void tg_permutation(int64_t n, uint64_t seed, uint64_t stream, int64_t *perm);

/* ---- mini-batches ---- */
typedef struct tg_batcher tg_batcher;
/* Iterates over (x, y) in mini-batches of `batch` rows; with shuffle, the order of each
 * epoch is a permutation drawn from (seed, epoch). The last batch of an epoch may be
 * smaller unless drop_last. y may be NULL. Batch tensors are allocated once here. */
TG_API tg_batcher *tg_batcher_new(const tg_tensor *x, const tg_tensor *y, int64_t batch,
                                  bool shuffle, bool drop_last, uint64_t seed);
/* The next batch as views valid until the next call (*xb, *yb: owned by the batcher);
 * false at the end of an epoch (the following call starts the next epoch). No heap
 * allocation. */
TG_API bool tg_batcher_next(tg_batcher *b, tg_tensor **xb, tg_tensor **yb);
TG_API int64_t tg_batcher_epoch(const tg_batcher *b);
TG_API void tg_batcher_free(tg_batcher **b);

/* ---- splits ---- */
/* Shuffled split of the rows of (x, y) into train / validation / test with the given
 * fractions of the rows (val_frac + test_frac < 1; counts are rounded down). y may be
 * NULL (then the y outputs are left NULL). */
TG_API tg_status tg_split(const tg_tensor *x, const tg_tensor *y, double val_frac,
                          double test_frac, uint64_t seed, tg_tensor **x_train,
                          tg_tensor **y_train, tg_tensor **x_val, tg_tensor **y_val,
                          tg_tensor **x_test, tg_tensor **y_test);
/* Fold `fold` of k: the rows of a seeded permutation cut into k nearly equal parts;
 * part `fold` is the validation set, the rest the training set. */
TG_API tg_status tg_kfold(const tg_tensor *x, const tg_tensor *y, int k, int fold, uint64_t seed,
                          tg_tensor **x_train, tg_tensor **y_train, tg_tensor **x_val,
                          tg_tensor **y_val);

/* ---- scalers (per column of a 2-D tensor) ---- */
typedef enum { TG_SCALE_STANDARD, TG_SCALE_MINMAX } tg_scale_kind;
typedef struct tg_scaler tg_scaler;
/* Fits on x (the training set): standard keeps mean and population std; min-max keeps
 * min and max. A constant column gets scale 1 (standard: x - mean; min-max: x - min),
 * never a division by zero. */
TG_API tg_scaler *tg_scaler_fit(tg_scale_kind kind, const tg_tensor *x);
/* Applies the fitted transform to x in place (same number of columns). */
TG_API tg_status tg_scaler_apply(const tg_scaler *s, tg_tensor *x);
TG_API void tg_scaler_free(tg_scaler **s);

#ifdef __cplusplus
}
#endif
#endif
