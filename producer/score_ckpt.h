/*
 * score_ckpt.h - the checkpoint of a `swarm-producer score` run: how far
 * the output is committed, so that an interrupted run (Ctrl-C, SIGKILL, a
 * lost broker) goes on from there and writes the same bytes an
 * uninterrupted run writes.
 *
 * The output and rejects files are written in input order; a checkpoint
 * records the input position after the last committed row, the byte length
 * of both files at that point, the model version the run is pinned to and
 * the counters.  It is saved atomically (a temporary file, fsync, rename)
 * after the files it describes are fdatasync'ed, so it never claims bytes
 * that are not on disk.  A resumed run truncates both files to the recorded
 * lengths and re-reads the input from the recorded position.
 *
 * The fingerprint ties a checkpoint to its input file and settings: a
 * checkpoint of another file or other options is refused, not resumed.
 */
#ifndef SWARM_SCORE_CKPT_H
#define SWARM_SCORE_CKPT_H

#include <stdint.h>

#include "swarm/codec.h"
#include "swarm/err.h"
#include "score_input.h"

typedef struct score_ckpt {
        uint8_t fingerprint[16];
        uint8_t sync[16];       /* the Avro sync marker in use */
        int32_t version;        /* pinned model version, -1: none yet */
        score_pos_t pos;        /* input position after the committed rows */
        uint64_t out_bytes;     /* output length at that point */
        uint64_t rej_bytes;     /* rejects file length (0: none written) */
        uint64_t scored;        /* rows in the output */
        uint64_t rejected;      /* rows in the rejects file */
        uint64_t rejected_input;        /* ... of them malformed input */
        uint64_t by_status[SWARM_STATUS__COUNT];        /* rows per status */
        double elapsed_s;       /* time spent in earlier runs */
} score_ckpt_t;

/* A 16-byte fingerprint of the input file (its size and its first and last
 * 64 KiB) and `settings` (every option that changes the output). */
int score_ckpt_fingerprint(const char *input, const char *settings,
                           uint8_t out[16], swarm_err_t *err);

/* Load `path` into *ck; *found = 0 (and SWARM_OK) when there is none.  A
 * malformed file is SWARM_ERR_PARSE, citing path:line. */
int score_ckpt_load(const char *path, score_ckpt_t *ck, int *found,
                    swarm_err_t *err);

/* Replace `path` atomically with *ck. */
int score_ckpt_save(const char *path, const score_ckpt_t *ck,
                    swarm_err_t *err);

#endif
