/*
 * worker.h - the batching inference worker behind swarm-consumer.
 *
 * A worker joins a consumer group on the request topic and runs three
 * threads that overlap:
 *   consumer  poll, decode (zero copy), match against the model signature
 *             (match.h), queue rows; bad input is answered or dead-lettered
 *             at once
 *   exec      micro-batches rows per (model, version) (batcher.h), bounded by
 *             max batch rows and max delay (Triton's dynamic batcher), and
 *             runs them on the backend (execute.h)
 *   output    encodes one response per request, produces it, serves delivery
 *             reports and stores offsets (output.h)
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

/* The worker's settings, filled from swarm-consumer's option table
 * (consumer/main.c), which holds every default and bound; nothing here is
 * defaulted again.  Strings are borrowed and must outlive the worker. */
/* The consumer group when -g is not given (librdkafka's group.id). */
#define WORKER_GROUP_DEFAULT "swarm-workers"

typedef struct worker_opts {
        const char *topic, *results, *dlq;
        const char *name;               /* NULL or "": host-pid */
        int64_t max_batch_rows;         /* >= 1 */
        int64_t max_delay_us;           /* >= 0 */
        int64_t max_queue_rows;         /* 0: 4 x max batch rows, >= 4096 */
        int64_t batch_memory_mb;        /* 0: no cap */
        int64_t blas_threads;           /* 0: cores - 1, at least 1 */
        int64_t metrics_port;           /* 0: a free port; -1: off */
        const char *device;             /* swarm_backend_select() spec */
        const char *precision;          /* fp32|tf32|fp16|bf16 */
        swarm_opt_list_t model_files;   /* NAME[:VERSION]=FILE.onnx */
        swarm_opt_list_t serve;         /* registry models to serve */
        const char *registry;           /* conninfo; NULL: no registry */
        const char *alias;
        int64_t cache_mb;               /* 0: no bound */
        const char *state_dir;
        int start_from_state;
        int warmup;                     /* run each model before joining */
        int winograd;                   /* 0: swarm_backend_no_winograd */
        int64_t stop_timeout_ms;        /* > 0: a stop exits within it; 0: unbounded */
        int64_t revoke_defer_ms;        /* rebalance.h; 0: at once */
        int fast_rejoin, fetch_wake;    /* rebalance.h, rejoin.h */
        int64_t heartbeat_pace_ms;      /* rejoin.h; 0: off */
        const char *reply_topics;       /* reply.h allowlist regex; NULL: none */
        int64_t max_inflight_messages;  /* 0: max_queue_rows as resolved */
        int64_t max_inflight_mb;        /* >= 1 */
        const char *metrics_bind;       /* NULL: every IPv4 interface */
        int exactly_once;               /* txn.h */
        int64_t txn_ms, txn_max_records;
} worker_opts_t;

/* Loads the models (consumer/models.h) before it returns.  librdkafka
 * settings come from the non-swarm.* keys of `conf`, which, like `o` and
 * `log`, must outlive the worker. */
int worker_new(const worker_opts_t *o, const swarm_conf_t *conf,
               const swarm_log_t *log, worker_t **out, swarm_err_t *err);
void worker_destroy(worker_t *w);

/* Serve until *stop becomes non-zero (SIGTERM/SIGINT), then drain, commit
 * and leave the group.  Returns the cause of a fatal error (a response that
 * could not be delivered, a lost backend) with its own code. */
int worker_run(worker_t *w, volatile sig_atomic_t *stop, swarm_err_t *err);

/* Log the totals since start (from the worker's Prometheus metrics): the
 * "summary messages=... ok=..." line.  NULL is accepted. */
void worker_log_summary(worker_t *w);

#endif
