/* tapegrad — small data sets for examples and tests, and the IDX (MNIST-family) loader. */
#ifndef TG_DATASETS_H
#define TG_DATASETS_H

#include "../tensor/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The spiral of the "neural networks from scratch" course: for class k of K, n points
 * with radius r = linspace(0, 1, n) and angle t = linspace(4k, 4(k+1), n) + 0.2 N(0,1),
 * x = (r sin 2.5t, r cos 2.5t). *x: [n K, 2] of dtype dt; *labels: I32 [n K]. Draws
 * come from the counter-based RNG with `seed`. Caller frees both. */
TG_API tg_status tg_data_spiral(int64_t n, int classes, tg_dtype dt, uint64_t seed, tg_tensor **x,
                                tg_tensor **labels);
/* The course's "vertical" data: class k of K has n points around x = (k / 3, 0.5) with
 * N(0, 0.1^2) noise on each coordinate. *x: [n K, 2]; *labels: I32 [n K]. */
TG_API tg_status tg_data_vertical(int64_t n, int classes, tg_dtype dt, uint64_t seed,
                                  tg_tensor **x, tg_tensor **labels);
/* The four XOR points {0,1}^2 as *x [4, 2] and targets *y [4, 1] (dtype dt). */
TG_API tg_status tg_data_xor(tg_dtype dt, tg_tensor **x, tg_tensor **y);
/* n points x_i = i/n + offset (i = 0..n-1) as [n, 1] and y = sin(2 pi x) as [n, 1]. */
TG_API tg_status tg_data_sine(int64_t n, tg_dtype dt, double offset, tg_tensor **x, tg_tensor **y);

/* Reads an IDX file (raw or gzip-compressed; MNIST's format): magic 0x0000080?
 * with element type unsigned byte, then big-endian dimension sizes, then the data.
 * Images (3 dims [N, rows, cols]) load as F32 [N, rows*cols] scaled to [0, 1]; labels
 * (1 dim) load as I32 [N]. The size given by the header must match the data exactly.
 * TG_EIO (missing/unreadable file) or TG_EFORMAT (wrong magic, truncated data, trailing
 * bytes, bad dimensions) with tg_last_error naming the file and the problem. */
TG_API tg_status tg_idx_load(const char *path, tg_tensor **out);

#ifdef __cplusplus
}
#endif
#endif
