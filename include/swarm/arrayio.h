/*
 * arrayio.h - read and write N-dimensional arrays in the file formats that
 * applications feed to swarm-producer: NumPy .npy, CSV and raw float32.
 *
 * The leading dimension is always "rows": a CSV line, a raw record of the
 * given row shape, or the first axis of an .npy array.  Programs slice
 * requests along it.
 *
 * Threads: no shared state; an array may be read from many threads.
 */
#ifndef SWARM_ARRAYIO_H
#define SWARM_ARRAYIO_H

#include <stddef.h>
#include <stdint.h>

#include "swarm/err.h"
#include "swarm/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum swarm_array_format {
        SWARM_ARRAY_AUTO = 0,   /* from the file name: .npy, .csv, else raw */
        SWARM_ARRAY_NPY,
        SWARM_ARRAY_CSV,
        SWARM_ARRAY_RAW,        /* little-endian float32, row shape given */
} swarm_array_format_t;

/* An owned array.  data is little-endian, row-major (C order), `size` bytes,
 * and may be a private mapping of the file (see map_len); release it only
 * with swarm_array_destroy(). */
typedef struct swarm_array {
        swarm_dtype_t dtype;
        int ndim;
        int64_t shape[SWARM_MAX_DIMS];
        void *data;
        size_t size;
        /* private: the mapping data points into, or NULL when data is
         * malloc'd */
        void *map;
        size_t map_len;
} swarm_array_t;

typedef struct swarm_array_load_opts {
        swarm_array_format_t format;
        /* RAW only: shape of one row (e.g. {28, 28}); rows = size / row bytes */
        int row_ndim;
        int64_t row_shape[SWARM_MAX_DIMS - 1];
        /* Convert any numeric dtype to FLOAT32.  <f8 is always converted
         * (swarm has no float64 dtype). */
        int to_float32;
} swarm_array_load_opts_t;

/* "npy" / "csv" / "raw" -> format; -1 when unknown. */
int swarm_array_format_parse(const char *name);
/* The format `path` implies: .npy, .csv (case-insensitive), else RAW. */
swarm_array_format_t swarm_array_format_of(const char *path);

/* Parse "28,28" into shape; returns the number of dims or sets err
 * (SWARM_ERR_INVALID) on a malformed or non-positive dimension. */
int swarm_array_shape_parse(const char *s, int64_t *shape, int max_dims,
                            int *ndim, swarm_err_t *err);

/* Allocate a zero-filled array.  Caller destroys. */
int swarm_array_new(swarm_dtype_t dtype, int ndim, const int64_t *shape,
                    swarm_array_t **out, swarm_err_t *err);
void swarm_array_destroy(swarm_array_t *a);

/* Read `path` (opts may be NULL: AUTO, no conversion).  Caller destroys
 * *out.  Errors:
 *  - .npy: SWARM_ERR_PARSE for a malformed magic/header (the message names
 *    the field), SWARM_ERR_UNSUPPORTED for fortran_order True, big-endian or
 *    unknown dtypes, SWARM_ERR_TRUNCATED when the file is shorter than the
 *    shape implies (SWARM_ERR_INVALID when longer).
 *  - CSV (float32 [rows, cols]): SWARM_ERR_PARSE citing path:line:column for
 *    a bad number or a row with a different column count.  Blank lines and
 *    lines starting with '#' are skipped.
 *  - RAW: SWARM_ERR_INVALID without a row shape or when the file size is not
 *    a multiple of the row size.
 *  - SWARM_ERR_IO when the file cannot be opened or read. */
int swarm_array_load(const char *path, const swarm_array_load_opts_t *opts,
                     swarm_array_t **out, swarm_err_t *err);

/* Parse an in-memory .npy image (the same checks as swarm_array_load; `name`
 * prefixes messages).  The result owns a copy of the data. */
int swarm_array_parse_npy(const void *buf, size_t len, const char *name,
                          int to_float32, swarm_array_t **out,
                          swarm_err_t *err);

/* Write an .npy file (format version 1.0, C order, any swarm dtype but
 * BFLOAT16).  The file is written to path.tmp and renamed, so readers never
 * see a partial file. */
int swarm_array_write_npy(const char *path, const swarm_array_t *a,
                          swarm_err_t *err);
/* Write CSV: one line per row (first dimension), the remaining dimensions
 * flattened; floats with 9 significant digits so float32 round-trips. */
int swarm_array_write_csv(const char *path, const swarm_array_t *a,
                          swarm_err_t *err);

/* Rows (first dimension; 1 for a 0-d array) and bytes per row. */
int64_t swarm_array_rows(const swarm_array_t *a);
size_t swarm_array_row_bytes(const swarm_array_t *a);

/* The header of a .npy file, for readers that stream its rows instead of
 * loading it (swarm-producer score).  `buf` holds the first `len` bytes of
 * the file (at least the whole header); the same checks as
 * swarm_array_load().  float64 files report is_float64 = 1 and dtype
 * FLOAT32 (the dtype they convert to); elem_size is the file's element
 * size. */
typedef struct swarm_npy_header {
        swarm_dtype_t dtype;
        int is_float64;
        size_t elem_size;
        int ndim;
        int64_t shape[SWARM_MAX_DIMS];
        size_t data_off;        /* bytes before the first element */
} swarm_npy_header_t;

int swarm_array_npy_header(const void *buf, size_t len, const char *name,
                           swarm_npy_header_t *out, swarm_err_t *err);

#ifdef __cplusplus
}
#endif
#endif
