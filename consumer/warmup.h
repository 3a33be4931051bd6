/*
 * warmup.h - run every loaded model once before the worker joins its group.
 *
 * A worker that joins a busy group is handed partitions at once; if its
 * first batch then pays for the lazy work (BLAS thread start, first-touch
 * of the intermediate buffers, a symbolic model's first plan), the requests
 * of those partitions wait for it: a latency spike at every scale-up.  So
 * the worker runs each model on zero inputs (1 row, then WARMUP_ROWS rows
 * when the batch is free) before it subscribes.  Zeros are valid for every
 * dtype a model takes (an embedding id 0 is in range); a model that still
 * refuses them is only logged: requests get their own error later.
 *
 * Threads: the owner's, before the exec thread starts (a model is run by one
 * thread at a time).
 */
#ifndef SWARM_CONSUMER_WARMUP_H
#define SWARM_CONSUMER_WARMUP_H

#include <stdint.h>

#include "models.h"
#include "swarm/log.h"

/* Rows of the second warm-up run (at most the worker's max batch rows). */
#define WARMUP_ROWS 16
/* Models warmed at most (more are served cold). */
#define WARMUP_MAX_MODELS 64
/* Input bytes one warm-up run may allocate. */
#define WARMUP_MAX_INPUT_BYTES ((size_t)256 << 20)

typedef struct warmup_result {
        int models;             /* models run */
        int failed;             /* of which a run failed (logged) */
        int64_t rows;           /* rows of the runs that succeeded */
        int64_t us;             /* wall time of the whole warm-up */
} warmup_result_t;

/* Run each model models_refs() returns on zero inputs, 1 row and then
 * min(max_rows, WARMUP_ROWS) rows, and log "warm-up done models=N failed=F
 * us=T".  Never fails the worker: a run that fails is logged with its
 * error and counted in res->failed. */
void warmup_run(models_t *mm, int64_t max_rows, const swarm_log_t *log,
                warmup_result_t *res);

#endif
