/*
 * score_output.h - the scored file: Avro object container (default) or CSV,
 * one row per scored input row, in input order, written as a stream.
 *
 * Row layout: "row" (long, the 0-based input record number) or "id" (string,
 * the id column), then every model output as a field named after it
 * (non-identifier characters become '_'): a scalar when a row of it has one
 * element, else an array (outputs of more than two dimensions are flattened
 * row-major); float32/float16/bfloat16 are Avro "float", int64 "long",
 * int32/uint8 "int".  Optionally "label" (int, the arg-max of the first
 * output) and "top_k" (array of {index: int, score: float}, best first).
 * In CSV an array output becomes columns NAME_0..NAME_{n-1} and top-k
 * becomes top1_index, top1_score, ...
 *
 * Determinism: the bytes depend only on the rows, the schema, the block
 * boundaries (one block per score_writer_block() call) and the sync marker
 * the caller gives, so a resumed run that truncates the file to a
 * checkpointed offset and goes on writes what an uninterrupted run writes.
 * The container framing is written here rather than by Avro C's file writer
 * because that one draws its sync marker from rand() seeded by time() and
 * flushes blocks when its buffer fills, neither of which a caller can set.
 */
#ifndef SWARM_SCORE_OUTPUT_H
#define SWARM_SCORE_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "swarm/codec.h"
#include "swarm/err.h"

typedef enum score_out_format {
        SCORE_OUT_AVRO = 0,
        SCORE_OUT_CSV,
} score_out_format_t;

typedef struct score_out_col {
        char tensor[128];       /* the model's output name */
        char field[140];        /* its field name in the file */
        swarm_dtype_t dtype;
        int64_t elems;          /* per row */
        size_t row_bytes;
} score_out_col_t;

typedef struct score_out_desc {
        int has_id;             /* "id" string instead of "row" long */
        int n;
        score_out_col_t col[SWARM_MAX_INPUTS];
        int label;              /* add "label" */
        int top_k;              /* > 0: add "top_k" */
} score_out_desc_t;

/* Fill desc->col from the first response's outputs (names sanitised and
 * made unique).  Arg-max and top-k need a float first output. */
int score_out_desc_from(score_out_desc_t *desc, const swarm_tensor_t *outs,
                        int n, int64_t rows, swarm_err_t *err);

/* The Avro schema of rows in desc (NUL-terminated JSON, caller frees). */
char *score_out_schema_json(const score_out_desc_t *desc);

/* One row handed to score_writer_block(). */
typedef struct score_out_row {
        uint64_t record;
        const char *id;                         /* has_id */
        const uint8_t *out[SWARM_MAX_INPUTS];   /* one row of each output */
} score_out_row_t;

typedef struct score_writer score_writer_t;

/* Open `path` for writing at byte `resume_at` (0: a new file, truncated;
 * otherwise the file is cut to that length and the header is taken as
 * written).  sync: the 16-byte Avro sync marker.  Caller destroys. */
int score_writer_open(const char *path, score_out_format_t fmt,
                      const uint8_t sync[16], uint64_t resume_at,
                      score_writer_t **out, swarm_err_t *err);

/* Write the header for desc (a no-op on a resumed file, but desc must be
 * set before the first block either way). */
int score_writer_begin(score_writer_t *w, const score_out_desc_t *desc,
                       swarm_err_t *err);
int score_writer_started(const score_writer_t *w);

/* Append rows as one Avro block (or CSV lines). */
int score_writer_block(score_writer_t *w, const score_out_row_t *rows,
                       size_t n, swarm_err_t *err);

/* Bytes in the file so far. */
uint64_t score_writer_offset(const score_writer_t *w);

/* fdatasync, for a checkpoint that must survive a crash of the machine. */
int score_writer_sync(score_writer_t *w, swarm_err_t *err);

/* Close; the file stays.  NULL is accepted. */
int score_writer_close(score_writer_t *w, swarm_err_t *err);

#endif
