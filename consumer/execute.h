/*
 * execute.h - run one batch of the exec stage: gather the rows of its
 * requests into one buffer per input, run the model, copy the outputs out.
 *
 * A retriable out-of-memory (a GPU with too little room for this batch)
 * splits the rows in two and tries again, down to one row, so one big batch
 * never fails requests that fit alone.  A batch refused as invalid input
 * (SWARM_ERR_INVALID: an embedding id out of range) is bisected over its
 * requests: only those that fail alone are answered INVALID_REQUEST (their
 * job's rows_failed), the others normally.  A failed batch is answered
 * INTERNAL_ERROR; a fatal error (a lost device) is also returned so the
 * worker exits and the fleet replaces it.
 *
 * Threads: one exec thread per execute_t (the gather buffers are its own).
 */
#ifndef SWARM_CONSUMER_EXECUTE_H
#define SWARM_CONSUMER_EXECUTE_H

#include "job.h"
#include "swarm/log.h"
#include "swarm/metrics.h"

typedef struct execute execute_t;

/* Registers swarm_worker_batch_rows and swarm_worker_compute_seconds on
 * `metrics`; metrics and log are borrowed. */
int execute_new(swarm_metrics_t *metrics, const swarm_log_t *log,
                execute_t **out, swarm_err_t *err);
void execute_destroy(execute_t *x);

/* Run `b` (b->jobs, b->rows, b->model set).  On success fills b->out,
 * b->start_us and b->compute_us.  On failure sets b->status and b->error and
 * returns the cause; err->fatal tells whether the worker must stop. */
int execute_batch(execute_t *x, batch_t *b, swarm_err_t *err);

/* Batches executed and their rows, from the metrics: the summary line. */
void execute_totals(const execute_t *x, int64_t *batches, int64_t *rows);

#endif
