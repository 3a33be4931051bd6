/*
 * output.h - the worker's output stage: encode one response per request,
 * produce it (to the result topic or the request's reply_topic), dead-letter
 * what cannot be answered, serve delivery reports, and store a source offset
 * once every response of that message and of every earlier message of its
 * partition is acknowledged (consumer/offsets.h; enable.auto.offset.store is
 * false on the consumer).
 *
 * Answers are counted at delivery, not at produce time:
 * swarm_worker_requests_total{model,version,status} and
 * swarm_worker_dead_letters_total move when the broker acknowledged the
 * record.  A response the reply_topic refused is dead-lettered with the
 * reason and counts as a dead letter only.  One record never ends the
 * worker: a response larger than message.max.bytes (the producer's, or the
 * result topic's when the broker refuses it) becomes an INVALID_REQUEST
 * response naming the limit; a dead-letter record too large is stored
 * truncated with headers swarm.dlq.original.size, swarm.dlq.original.sha256
 * and swarm.dlq.truncated.to; a record refused as invalid is dead-lettered.
 * A failure of the result or dead-letter topic itself (after librdkafka's
 * retries) is fatal: its offset is never stored (the next owner answers it)
 * and the worker exits.  In exactly-once mode (txn.h) nothing is stored:
 * the offsets go into the transaction with the records, and such a failure
 * aborts the transaction and replays its requests instead.
 *
 * Threads: output_new/destroy from the owner; everything else from the one
 * output thread (delivery reports run inside output_serve()).
 */
#ifndef SWARM_CONSUMER_OUTPUT_H
#define SWARM_CONSUMER_OUTPUT_H

#include <librdkafka/rdkafka.h>

#include "job.h"
#include "txn.h"
#include "swarm/log.h"
#include "swarm/metrics.h"

typedef struct output output_t;

typedef struct output_conf {
        const char *worker;     /* name in responses and DLQ headers */
        const char *topic;      /* the request topic (offsets are stored on it) */
        const char *results;    /* default result topic */
        const char *dlq;        /* dead-letter topic */
        const txn_opts_t *txn;  /* exactly-once mode (copied); NULL or not
                                   enabled: at least once, offsets stored */
        job_pool_t *pool;       /* delivered jobs go back here (NULL: freed) */
        /* exactly once: told of each rewind's seeks (output_rewind(), on
         * the consumer thread), so the rebalance's fetch wake-up seeks
         * those partitions to where the rewind put them
         * (rebalance_sought()); NULL: nobody is told */
        void (*sought)(void *ctx, const rd_kafka_topic_partition_list_t *l);
        void *sought_ctx;
} output_conf_t;

/* Create the producer from `kc` (taken on success and on failure) with the
 * delivery report callback set, and register the output metrics on
 * `metrics`.  Strings in `c` are borrowed and, like codec, track, mm,
 * metrics, fatal and log, must outlive the output. */
int output_new(const output_conf_t *c, rd_kafka_conf_t *kc,
               swarm_codec_t *codec, offtrack_t *track, models_t *mm,
               swarm_metrics_t *metrics, job_fatal_t *fatal,
               const swarm_log_t *log, output_t **out, swarm_err_t *err);

/* Flush what is still queued (up to OUTPUT_CLOSE_FLUSH_MS) and free.  NULL
 * is accepted. */
void output_destroy(output_t *o);

/* The consumer whose offsets are stored (set before the first emit). */
void output_set_consumer(output_t *o, rd_kafka_t *consumer);

/* Produce one record per job of `b` and free the batch; the jobs travel
 * with their records until their delivery reports.  A job that cannot be
 * produced is fatal (job_fatal_set with the cause) and freed. */
void output_emit(output_t *o, batch_t *b);

/* Write a dead-letter record (no payload; headers: reason, topic,
 * partition, offset, worker, swarm.dlq.event=consumer-error) for a
 * partition-level consumer error event, such as a batch that does not
 * decompress, so what was skipped is on record.  Any thread. */
void output_dead_letter_event(output_t *o, const rd_kafka_message_t *ev);

/* Serve delivery reports without waiting and store the offsets they
 * advanced, in one call to rd_kafka_offsets_store(). */
void output_serve(output_t *o);

/* Wait until every produced record has its delivery report, storing
 * offsets as they advance. */
void output_finish(output_t *o);

/* Responses counted with `status` so far (swarm_status_name()), and dead
 * letters: for the worker's summary line. */
int64_t output_answered(const output_t *o, const char *status);
int64_t output_dead_lettered(const output_t *o);

/* ---- exactly-once mode (txn.h); each is a no-op in at-least-once mode */

/* The consumer thread, before each poll (and while draining): when an
 * abort asked for a rewind, seek every tracked partition back to its last
 * committed offset and let the tracker take new messages. */
void output_rewind(output_t *o);

/* The consumer thread's loop, before each poll: output_rewind(), then,
 * while a due transaction waits for a hole to fill (a message answered
 * before an earlier one of its partition), hold off taking new messages so
 * the pipeline empties and the transaction can commit (at most
 * OUTPUT_GATE_MAX_MS per call; the group does not notice, heartbeats run on
 * librdkafka's thread).  Without this, steady traffic to two models on one
 * partition could keep a hole open forever. */
void output_before_poll(output_t *o);
#define OUTPUT_GATE_MAX_MS 500

/* The consumer thread, on revoke after the drain: commit the open
 * transaction now (abort and rewind if anything is left in flight), so the
 * next owner starts where this one stopped. */
void output_txn_settle(output_t *o);


#endif
