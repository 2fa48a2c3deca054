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
/* The four XOR points {0,1}^2 (no noise, no copies) as *x [4, 2] in the order (0,0),
 * (0,1), (1,0), (1,1), and the targets *y [4, 1] = 0, 1, 1, 0 as floats of dtype dt
 * (ready for a sigmoid/BCE output). */
TG_API tg_status tg_data_xor(tg_dtype dt, tg_tensor **x, tg_tensor **y);
/* The course's sine data: n points x_i = i/n + offset (i = 0..n-1; the course's
 * arange(n)/n, so x covers [0, 1) for offset 0) as [n, 1] and y = sin(2 pi x) as
 * [n, 1], both of dtype dt. An offset of 0.5/n gives points between the training
 * ones. */
TG_API tg_status tg_data_sine(int64_t n, tg_dtype dt, double offset, tg_tensor **x, tg_tensor **y);

/* Reads an IDX file (MNIST's format, raw or gzip-compressed: zlib reads both): magic
 * 0x00000803 (images, unsigned bytes, dims N, rows, cols) or 0x00000801 (labels,
 * unsigned bytes, dim N), big-endian 32-bit dimensions, then the data. Images load as
 * F32 [N, rows*cols] scaled to [0, 1] (flattened: ready for a dense layer; reshape with
 * tg_view_reshape for [N, rows, cols]); labels as I32 [N]. *out is a new tensor the
 * caller frees.
 * Returns TG_OK, or with *out NULL: TG_EINVAL (NULL argument), TG_EIO (missing or
 * unreadable file, a directory), TG_ENOMEM, or TG_EFORMAT with tg_last_error() naming
 * the file, the byte offset and the problem: wrong magic, truncated header, a zero
 * dimension or more than 2^32 elements, data shorter or longer than the header says,
 * corrupt gzip data (bad CRC included).
 * Memory: the header's count is never trusted. A raw file's size is checked against it
 * before the tensor is allocated; a compressed file is inflated into 1 MiB chunks
 * allocated as data arrives, then converted. So at most the tensor plus (for .gz) the
 * decompressed bytes are allocated, plus zlib's own buffers (made by zlib with malloc,
 * not through tg_set_allocator). */
TG_API tg_status tg_idx_load(const char *path, tg_tensor **out);

#ifdef __cplusplus
}
#endif
#endif
