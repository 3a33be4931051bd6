/*
 * worker_int.h - what the worker's files share (see worker.h):
 *   worker.c         the threads, Kafka, rebalance and drain
 *   worker_setup.c   construction and teardown, the metrics series, the
 *                    model manager's options, the summary line
 *   worker_intake.c  the consumer stage: a message becomes a job (decode,
 *                    reply-topic check, model resolve, match, park)
 *   worker_queues.c  the exec and output queues, batch formation under the
 *                    exec queue's lock, answers without execution
 *
 * Lock order: the exec queue's lock is taken before the model manager's
 * (next_batch() asks models_deployment() under it); the model manager never
 * calls back into the worker, so the reverse order never happens.
 */
#ifndef SWARM_CONSUMER_WORKER_INT_H
#define SWARM_CONSUMER_WORKER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "batcher.h"
#include "execute.h"
#include "job.h"
#include "models.h"
#include "offsets.h"
#include "output.h"
#include "rebalance.h"
#include "reply.h"
#include "stopguard.h"
#include "swarm/backend.h"
#include "swarm/codec.h"
#include "swarm/kafka.h"
#include "swarm/metrics.h"
#include "worker.h"

typedef struct execq {
        pthread_mutex_t lock;
        pthread_cond_t cond;            /* something was added / closed / flush */
        pthread_cond_t space;           /* something was removed */
        batcher_t b;
        int closed;
} execq_t;

typedef struct outq {
        pthread_mutex_t lock;
        pthread_cond_t cond;            /* something was added / closed */
        pthread_cond_t space;           /* something was removed */
        batch_t *head, *tail;
        int n;
        int closed;
} outq_t;

struct worker {
        swarm_kafka_opaque_t kop;       /* first: librdkafka log callback */
        worker_opts_t o;
        const swarm_conf_t *conf;
        const swarm_log_t *log;
        char name[128];
        batcher_conf_t bconf;
        int64_t max_queue_rows;
        int blas_threads;

        swarm_codec_t *codec;
        swarm_backend_t *backend;
        models_t *mm;
        execute_t *exec;
        output_t *out;
        reply_policy_t *reply;          /* allowed reply_topics */

        rd_kafka_t *consumer;
        offtrack_t *track;
        rebalance_t *rb;                /* consumer/rebalance.h */
        stopguard_t *guard;             /* set once a stop began */

        execq_t execq;
        outq_t outq;
        job_pool_t jobs;                /* delivered jobs, used again */
        atomic_int flush;               /* exec: do not wait for max delay */
        job_fatal_t fatal;

        /* output rounds completed (each ends with output_serve): drain()
         * waits for one more round so the last acknowledged offsets are
         * stored before it commits */
        atomic_uint_fast64_t store_rounds;
        atomic_int out_done;            /* the output thread has returned */

        /* Prometheus metrics (/metrics, /healthz, /readyz) */
        swarm_metrics_t *metrics;
        swarm_metrics_http_t *http;
        swarm_series_t *s_messages, *s_inflight, *s_assigned;
        atomic_int assigned;            /* partitions owned now */
        atomic_int assigned_once;       /* an assignment callback has run */

        /* memory bound: consumed messages not yet answered (their bytes),
         * fetching paused while over either bound */
        /* alone on its cache line: the consumer thread adds to it per
         * message, the output thread subtracts once per round */
        char pad_before_bytes[64];
        atomic_llong inflight_bytes;
        char pad_after_bytes[64];
        int64_t max_inflight_msgs, max_inflight_bytes;
        int paused;
        int64_t pauses;
        int64_t drain_deadline_ms;      /* below max.poll.interval.ms */

        /* jobs whose pinned version is loading (consumer thread only),
         * linked through it.next */
        job_t *parked, *parked_tail;
};

/* ------------------------------------------- worker_queues.c */

/* Wait on `c` (made with swarm_clock_cond_init(): deadlines are computed
 * on the monotonic clock) until signalled or the monotonic time `until_us`. */
void cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m, int64_t until_us);
/* Push one job to the exec queue (blocks while it holds max_queue_rows). */
void exec_push(worker_t *w, job_t *j);
/* Push a batch to the output queue (bounded to OUTQ_DEPTH batches). */
void out_push(worker_t *w, batch_t *b);
/* Answer one job without executing it (through the output queue). */
void answer_now(worker_t *w, job_t *j);
/* The next batch from the exec queue; NULL once it is closed and empty.
 * Exec thread only. */
batch_t *next_batch(worker_t *w);

/* ------------------------------------------- worker_intake.c */

/* Turn one consumed message into a job and send it on (exec queue, an
 * answer at once, or parked).  Consumer thread only; takes the message. */
void handle_message(worker_t *w, rd_kafka_message_t *msg);
/* Try the jobs parked on a loading version again.  Consumer thread only. */
void retry_parked(worker_t *w);

#endif
