/*
 * score_input.h - streaming row readers for `swarm-producer score`: CSV with
 * a header (libcsv), Avro object container files (Avro C's file reader) and
 * .npy.  A reader hands out one input row at a time, already converted into
 * the request tensors' dtypes, or a rejected row with its number and reason;
 * it never holds more than one row (plus the format's own buffering).
 *
 * Columns: every model input is a tensor spec NAME[:DTYPE]=COLUMNS, where
 * COLUMNS is a comma-separated list of items, each a column name, a range
 * FIRST..LAST of names (inclusive, in file order), a 1-based column number
 * #N or a range #N..#M, or "*" (every column but the id column).  CSV and
 * Avro take columns by name; a .npy file is one tensor (its columns spec is
 * ignored).  In Avro, one column may be a numeric array field, a bytes or
 * fixed field (little-endian elements of the tensor's dtype) or a numeric
 * field, and nullable unions of those.
 *
 * Threads: one reader belongs to one thread.
 */
#ifndef SWARM_SCORE_INPUT_H
#define SWARM_SCORE_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "swarm/codec.h"
#include "swarm/err.h"
#include "swarm/tensor.h"

typedef enum score_format {
        SCORE_FMT_AUTO = 0,
        SCORE_FMT_CSV,
        SCORE_FMT_AVRO,
        SCORE_FMT_NPY,
} score_format_t;

/* "csv", "avro", "npy" -> format; -1 otherwise. */
int score_format_parse(const char *s);
/* From the extension (.csv, .avro, .npy); SCORE_FMT_AUTO when unknown. */
score_format_t score_format_of(const char *path);

typedef struct score_tensor_spec {
        const char *name;       /* borrowed */
        swarm_dtype_t dtype;
        int dtype_given;        /* 0: float32 (CSV, Avro) or the file's (.npy) */
        const char *columns;    /* borrowed; NULL or "" means "*" */
        /* --shape: the row's shape in the request (a request adds N), in
         * place of the reader's ([elements] for CSV and Avro, the file's
         * for .npy); ndim 0 is a scalar row (a request of shape [N]). */
        int shape_given;
        int ndim;
        int64_t shape[SWARM_MAX_DIMS - 1];
} score_tensor_spec_t;

/* Parse "NAME[:DTYPE]=COLUMNS" (NAME alone means COLUMNS "*").  The spec
 * borrows from `buf`, which the call modifies. */
int score_tensor_spec_parse(char *buf, score_tensor_spec_t *out,
                            swarm_err_t *err);

/* Parse --shape's "D1,D2,..." (each >= 1, at most SWARM_MAX_DIMS - 1 of
 * them; "" is a scalar row) into spec->ndim / shape. */
int score_shape_parse(const char *dims, score_tensor_spec_t *spec,
                      swarm_err_t *err);

typedef struct score_input_opts {
        const char *path;
        score_format_t format;
        const score_tensor_spec_t *tensors;
        int n_tensors;          /* 1..SWARM_MAX_INPUTS */
        const char *id_column;  /* NULL: rows are numbered */
        char delimiter;         /* CSV; 0 means ',' */
        size_t max_row_bytes;   /* CSV: longest row (0: 16 MiB); a longer
                                   one (an unterminated quote) is rejected */
} score_input_opts_t;

/* One resolved request tensor: its row is `elems` elements of `dtype`. */
typedef struct score_tensor {
        char name[128];
        swarm_dtype_t dtype;
        int64_t elems;
        size_t row_bytes;
        int ndim;               /* the row's shape (a request adds N) */
        int64_t shape[SWARM_MAX_DIMS - 1];
} score_tensor_t;

/* Where a reader stands: just after the last row it handed out.  Saved in a
 * checkpoint and given back to score_reader_seek(). */
typedef struct score_pos {
        uint64_t offset;        /* CSV, .npy: byte offset of the next row */
        uint64_t record;        /* data records handed out (rows + rejects) */
        uint64_t line;          /* CSV: lines consumed (header included) */
} score_pos_t;

typedef enum score_row_kind {
        SCORE_ROW_EOF = 0,
        SCORE_ROW_OK,
        SCORE_ROW_REJECT,
} score_row_kind_t;

typedef struct score_row {
        uint8_t *dst[SWARM_MAX_INPUTS]; /* in: where tensor i's row goes */
        score_row_kind_t kind;
        uint64_t record;        /* 0-based data record number */
        uint64_t line;          /* CSV: 1-based first line; 0 otherwise */
        char id[256];           /* the id column's text ("" without one) */
        char reason[256];       /* SCORE_ROW_REJECT: why */
        const char *raw;        /* CSV: the row's text (valid until next()) */
        size_t raw_len;
} score_row_t;

typedef struct score_reader score_reader_t;

/* Open the input, read its header or schema and resolve the tensor specs
 * (a spec naming a missing column is SWARM_ERR_INVALID).  Caller destroys. */
int score_reader_open(const score_input_opts_t *o, score_reader_t **out,
                      swarm_err_t *err);
void score_reader_destroy(score_reader_t *r);

/* The resolved tensors, in spec order; borrowed from the reader. */
const score_tensor_t *score_reader_tensors(const score_reader_t *r, int *n);

/* Fill `row`: a converted row (kind OK), a rejected one (kind REJECT,
 * reason set) or the end (kind EOF).  An error (I/O, a corrupt Avro block)
 * ends the input: the caller stops. */
int score_reader_next(score_reader_t *r, score_row_t *row, swarm_err_t *err);

/* Up to max_rows whole rows of the single tensor, read straight into dst
 * (rows after one another, as score_reader_next() would have converted
 * them): *got rows, record numbers following the position's, 0 at the end.
 * Only for a reader whose rows need no conversion and have no id (a .npy
 * file of the tensor's dtype); elsewhere *got is 0 and nothing is read, so
 * the caller goes on with score_reader_next().  It skips the per-row call
 * and a copy: the .npy path's bytes go from the page cache to the request
 * buffer once. */
int score_reader_next_raw(score_reader_t *r, uint8_t *dst, uint64_t max_rows,
                          uint64_t *got, swarm_err_t *err);

void score_reader_tell(const score_reader_t *r, score_pos_t *pos);
/* Continue from a position score_reader_tell() returned on the same file
 * (CSV, .npy: a seek; Avro: the records before it are skipped). */
int score_reader_seek(score_reader_t *r, const score_pos_t *pos,
                      swarm_err_t *err);

/* Progress: bytes of the input consumed so far and its size. */
void score_reader_progress(const score_reader_t *r, uint64_t *done,
                           uint64_t *total);

/* ---- for the format modules (score_csv.c, score_avro_in.c, score_npy.c) */

typedef struct score_reader_ops {
        int (*next)(score_reader_t *r, score_row_t *row, swarm_err_t *err);
        int (*seek)(score_reader_t *r, const score_pos_t *pos,
                    swarm_err_t *err);
        void (*progress)(const score_reader_t *r, uint64_t *done);
        void (*destroy)(score_reader_t *r);
        /* optional (NULL: rows one by one) */
        int (*next_raw)(score_reader_t *r, uint8_t *dst, uint64_t max_rows,
                        uint64_t *got, swarm_err_t *err);
} score_reader_ops_t;

/* Column selection shared by CSV and Avro: resolve `spec` against `names`
 * (n columns, file order), skipping `id_col` (-1: none) for "*".  *cols is
 * malloc'ed (caller frees), *n_cols its length. */
int score_columns_resolve(const char *spec, const char *const *names, int n,
                          int id_col, int **cols, int *n_cols,
                          swarm_err_t *err);

/* Store one parsed number as element i of a row of `dtype`.  Returns 0, or
 * -1 when the value does not fit the dtype (reason written). */
int score_store_double(swarm_dtype_t dtype, uint8_t *row, int64_t i, double v,
                       char *reason, size_t reason_size);
int score_store_i64(swarm_dtype_t dtype, uint8_t *row, int64_t i, int64_t v,
                    char *reason, size_t reason_size);

struct score_reader {
        const score_reader_ops_t *ops;
        score_tensor_t t[SWARM_MAX_INPUTS];
        int n_t;
        score_pos_t pos;
        uint64_t size;          /* file bytes */
};

int score_csv_open(const score_input_opts_t *o, score_reader_t **out,
                   swarm_err_t *err);
int score_avro_open(const score_input_opts_t *o, score_reader_t **out,
                    swarm_err_t *err);
int score_npy_open(const score_input_opts_t *o, score_reader_t **out,
                   swarm_err_t *err);

#endif
