/*
 * worker.h - the batching inference worker behind swarm-consumer.
 *
 * A worker joins a consumer group on the request topic and runs three
 * threads that overlap:
 *   consumer  poll, decode (zero copy), validate against the model signature,
 *             queue rows; bad input is answered or dead-lettered at once
 *   exec      micro-batches rows per (model, version), bounded by max batch
 *             rows and max delay (Triton's dynamic batcher), gathers them and
 *             runs the model on the backend
 *   output    encodes one response per request, produces it, serves delivery
 *             reports, and stores a source offset only once every response of
 *             that message and of every earlier message is acknowledged
 *             (enable.auto.offset.store=false)
 * On stop it finishes the batches in hand, commits and leaves the group.
 */
#ifndef SWARM_CONSUMER_WORKER_H
#define SWARM_CONSUMER_WORKER_H

#include <signal.h>
#include <stdint.h>

#include "swarm/conf.h"
#include "swarm/err.h"
#include "swarm/log.h"

typedef struct worker worker_t;

/* Reads swarm.* settings (topics, batching, threads, device, models: static
 * files and/or the registry) and librdkafka settings from `conf`, which must
 * outlive the worker.  Loads the models (consumer/models.h) before it
 * returns. */
int worker_new(const swarm_conf_t *conf, const swarm_log_t *log,
               worker_t **out, swarm_err_t *err);
void worker_destroy(worker_t *w);

/* Serve until *stop becomes non-zero (SIGTERM/SIGINT), then drain, commit
 * and leave the group.  Returns non-zero on a fatal error (a response that
 * could not be delivered, a lost backend). */
int worker_run(worker_t *w, volatile sig_atomic_t *stop, swarm_err_t *err);

/* Totals since start, for the summary line. */
typedef struct worker_stats {
        int64_t messages, ok, invalid, not_found, deadline, internal, dlq;
        int64_t batches, batch_rows;
} worker_stats_t;

void worker_stats(worker_t *w, worker_stats_t *st);

#endif
