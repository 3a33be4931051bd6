/*
 * worker.c - the worker's threads, Kafka, rebalance and drain.
 *
 * The stages' work lives in their own files: match.c (does a request fit
 * its model), batcher.c (which rows run together), execute.c (gather, run,
 * split on out-of-memory) and output.c (responses, dead letters, delivery
 * reports, offset store).  This file moves jobs (job.h) between them:
 * consumer thread -> exec queue -> exec thread -> output queue -> output
 * thread.
 *
 * Lock order: the exec queue's lock is taken before the model manager's
 * (next_batch() asks models_deployment() under it); the model manager never
 * calls back into the worker, so the reverse order never happens.
 */
#include "worker.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "batcher.h"
#include "execute.h"
#include "job.h"
#include "match.h"
#include "models.h"
#include "offsets.h"
#include "output.h"
#include "rebalance.h"
#include "reply.h"
#include "stopguard.h"
#include "swarm/backend.h"
#include "swarm/clock.h"
#include "swarm/codec.h"
#include "swarm/device.h"
#include "swarm/kafka.h"
#include "swarm/metrics.h"
#include "swarm/model.h"
#include "swarm/schemareg.h"
#include "warmup.h"

/* Batches between the exec and output stages: one being encoded, a few
 * waiting, so exec never stalls on a slow produce but memory stays bounded. */
#define OUTQ_DEPTH 8
/* The exec queue holds at least this many rows when --max-queue-rows is 0
 * (else 4 x max batch rows): room for the batch being filled, one waiting
 * and one in compute, and for registry deployments with bigger batches. */
#define EXECQ_MIN_ROWS 4096
/* How long a request with a version that is not loaded yet is held (only
 * it: see dispatch()) while the model manager loads it in the background. */
#define RESOLVE_WAIT_MS 10000
/* The output thread wakes at least this often to serve delivery reports. */
#define OUTPUT_TICK_US 2000
/* Consumer poll timeout: how fast the loop notices a stop. */
#define POLL_MS 100
/* Drain polls its counters this often. */
#define DRAIN_POLL_US 1000
#define DRAIN_ROUND_POLL_US 200
/* In-flight bounds when not configured: messages (0: --max-queue-rows, so
 * the exec queue cannot fill before fetching pauses) and bytes. */
#define INFLIGHT_DEFAULT_MB 256
/* Fetching resumes below this share of the bounds (no flapping). */
#define RESUME_PCT 75
/* The drain on revoke stops waiting this long before max.poll.interval.ms,
 * and at most after half of it. */
#define DRAIN_MARGIN_MS 10000
/* How long a stop waits for the first assignment (wait_first_assignment). */
#define FIRST_ASSIGN_WAIT_MS 15000
/* Retry after a failed allocation of a batch (the queue keeps its rows). */
#define BATCH_ALLOC_RETRY_US 1000

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
        atomic_llong inflight_bytes;
        int64_t max_inflight_msgs, max_inflight_bytes;
        int paused;
        int64_t pauses;
        int64_t drain_deadline_ms;      /* below max.poll.interval.ms */

        /* jobs whose pinned version is loading (consumer thread only),
         * linked through it.next */
        job_t *parked, *parked_tail;
};

static void cond_init_mono(pthread_cond_t *c) {
        pthread_condattr_t ca;
        /* deadlines are computed on the monotonic clock, so wait on it */
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(c, &ca);
        pthread_condattr_destroy(&ca);
}

/* Wait on `c` until signalled or until the monotonic time `until_us`. */
static void cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m,
                            int64_t until_us) {
        struct timespec ts = swarm_clock_timespec(until_us);
        pthread_cond_timedwait(c, m, &ts);
}

/* ------------------------------------------------------------- setup */

static int start_metrics(worker_t *w, swarm_err_t *err) {
        swarm_metric_t *f;
        int r;

        if ((r = swarm_metrics_new(&w->metrics, err)) ||
            (r = swarm_metrics_counter(w->metrics, "swarm_worker_messages_total",
                                       "Request messages consumed", NULL, &f, err)))
                return r;
        w->s_messages = swarm_metrics_with(f, NULL);
        if ((r = swarm_metrics_gauge(w->metrics, "swarm_worker_inflight_messages",
                                     "Consumed messages not yet answered and acknowledged",
                                     NULL, &f, err)))
                return r;
        w->s_inflight = swarm_metrics_with(f, NULL);
        if ((r = swarm_metrics_gauge(w->metrics, "swarm_worker_assigned_partitions",
                                     "Request topic partitions this worker owns",
                                     NULL, &f, err)))
                return r;
        w->s_assigned = swarm_metrics_with(f, NULL);
        return execute_new(w->metrics, w->log, &w->exec, err);
}

/* The model manager: static --model-file files and/or the registry. */
static int start_models(worker_t *w, swarm_err_t *err) {
        models_opts_t mo;

        memset(&mo, 0, sizeof(mo));
        mo.files = w->o.model_files.v;
        mo.n_files = w->o.model_files.n;
        mo.names = w->o.serve.v;
        mo.n_names = w->o.serve.n;
        mo.use_registry = w->o.registry != NULL;
        mo.conninfo = w->o.registry;
        mo.request_topic = w->o.topic;
        mo.alias = w->o.alias;
        mo.cache_bytes = w->o.cache_mb > 0 ? (size_t)w->o.cache_mb << 20 : 0;
        mo.state_dir = w->o.state_dir;
        mo.start_from_state = w->o.start_from_state;
        mo.backend = w->backend;
        if (!mo.n_files && !mo.use_registry)
                return swarm_err_set(err, SWARM_ERR_CONFIG,
                                     "no model to serve: give --model-file NAME=FILE.onnx "
                                     "or --registry CONNINFO");
        return models_new(&mo, w->log, &w->mm, err);
}

static int ready_cb(void *opaque) {
        worker_t *w = opaque;
        return atomic_load(&w->assigned) > 0;
}

int worker_new(const worker_opts_t *o, const swarm_conf_t *conf,
               const swarm_log_t *log, worker_t **out, swarm_err_t *err) {
        worker_t *w = calloc(1, sizeof(*w));
        char host[64] = "host";
        swarm_precision_t prec;
        int64_t threads = o->blas_threads;
        int r;

        if (!w)
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        w->o = *o;
        w->conf = conf;
        w->log = log;
        w->kop.log = log;
        job_fatal_init(&w->fatal);
        pthread_mutex_init(&w->execq.lock, NULL);
        cond_init_mono(&w->execq.cond);
        cond_init_mono(&w->execq.space);
        batcher_init(&w->execq.b);
        pthread_mutex_init(&w->outq.lock, NULL);
        cond_init_mono(&w->outq.cond);
        cond_init_mono(&w->outq.space);

        gethostname(host, sizeof(host) - 1);
        if (o->name && *o->name)
                snprintf(w->name, sizeof(w->name), "%s", o->name);
        else
                snprintf(w->name, sizeof(w->name), "%s-%d", host, (int)getpid());

        if (o->max_batch_rows < 1 || o->max_delay_us < 0) {
                r = swarm_err_set(err, SWARM_ERR_CONFIG,
                                  "max batch rows must be >= 1 and max delay >= 0");
                goto fail;
        }
        w->bconf.max_rows = o->max_batch_rows;
        w->bconf.max_delay_us = o->max_delay_us;
        w->bconf.budget_bytes = o->batch_memory_mb > 0 ? o->batch_memory_mb << 20 : 0;
        w->max_queue_rows = o->max_queue_rows;
        if (w->max_queue_rows <= 0)
                w->max_queue_rows = 4 * o->max_batch_rows > EXECQ_MIN_ROWS
                                            ? 4 * o->max_batch_rows
                                            : EXECQ_MIN_ROWS;
        if (threads <= 0) {
                /* The consumer and output stages and librdkafka's threads
                 * need a core between them; BLAS gets the rest, at least 1. */
                long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
                threads = ncpu > 2 ? ncpu - 1 : 1;
        }
        w->blas_threads = (int)threads;

        {
                int64_t mb = 0, msgs = 0, mpi = 300000;
                if ((r = swarm_conf_get_i64(conf, "swarm.max.inflight.messages", 0, &msgs,
                                            err)) ||
                    (r = swarm_conf_get_i64(conf, "swarm.max.inflight.mb",
                                            INFLIGHT_DEFAULT_MB, &mb, err)) ||
                    (r = swarm_conf_get_i64(conf, "max.poll.interval.ms", 300000, &mpi,
                                            err)))
                        goto fail;
                w->max_inflight_msgs = msgs > 0 ? msgs : w->max_queue_rows;
                w->max_inflight_bytes = (mb > 0 ? mb : INFLIGHT_DEFAULT_MB) << 20;
                w->drain_deadline_ms = mpi - DRAIN_MARGIN_MS < mpi / 2
                                               ? mpi / 2
                                               : mpi - DRAIN_MARGIN_MS;
        }
        if ((r = reply_new(o->results, swarm_conf_get(conf, "swarm.reply.topics"),
                           &w->reply, err)) ||
            (r = swarm_codec_new(&w->codec, err)) ||
            (r = swarm_schemareg_setup(conf, log, w->codec, o->topic,
                                       o->results, err)) ||
            (r = offtrack_new(&w->track, err)) ||
            (r = swarm_precision_parse(o->precision, &prec, err)) ||
            (r = swarm_backend_select_prec(o->device, prec, w->blas_threads, log,
                                           &w->backend, err)))
                goto fail;
        if ((r = start_models(w, err)) ||
            (r = start_metrics(w, err)))
                goto fail;
        *out = w;
        return SWARM_OK;
fail:
        worker_destroy(w);
        return r;
}

void worker_destroy(worker_t *w) {
        stopguard_t *guard;

        if (!w)
                return;
        /* the guard bounds this too (rd_kafka_destroy, the final flush) */
        guard = w->guard;
        swarm_metrics_http_stop(w->http);
        if (w->consumer)
                rd_kafka_destroy(w->consumer);
        while (w->parked) {
                job_t *j = w->parked;
                w->parked = job_of(j->it.next);
                job_destroy(w->mm, j);
        }
        /* jobs still queued in the producer hold model references */
        output_destroy(w->out);
        execute_destroy(w->exec);
        models_destroy(w->mm);
        swarm_backend_destroy(w->backend);
        swarm_codec_destroy(w->codec);
        reply_destroy(w->reply);
        offtrack_destroy(w->track);
        pthread_mutex_destroy(&w->execq.lock);
        pthread_cond_destroy(&w->execq.cond);
        pthread_cond_destroy(&w->execq.space);
        pthread_mutex_destroy(&w->outq.lock);
        pthread_cond_destroy(&w->outq.cond);
        pthread_cond_destroy(&w->outq.space);
        job_fatal_fini(&w->fatal);
        swarm_metrics_destroy(w->metrics);
        rebalance_destroy(w->rb);
        free(w);
        stopguard_destroy(guard);
}

void worker_log_summary(worker_t *w) {
        int64_t batches, rows;

        if (!w || !w->out)
                return;
        execute_totals(w->exec, &batches, &rows);
        SWARM_INFO(w->log,
                   "summary messages=%lld ok=%lld invalid_request=%lld "
                   "model_not_found=%lld deadline_exceeded=%lld "
                   "internal_error=%lld dead_lettered=%lld batches=%lld "
                   "mean_batch_rows=%.1f",
                   (long long)swarm_metrics_value(w->s_messages),
                   (long long)output_answered(w->out, "OK"),
                   (long long)output_answered(w->out, "INVALID_REQUEST"),
                   (long long)output_answered(w->out, "MODEL_NOT_FOUND"),
                   (long long)output_answered(w->out, "DEADLINE_EXCEEDED"),
                   (long long)output_answered(w->out, "INTERNAL_ERROR"),
                   (long long)output_dead_lettered(w->out), (long long)batches,
                   batches ? (double)rows / (double)batches : 0.0);
}

/* ------------------------------------------------------------ queues */

/* Push one job to the exec queue (blocks while it holds max_queue_rows). */
static void exec_push(worker_t *w, job_t *j) {
        execq_t *q = &w->execq;
        /* a batch never mixes resolved shapes (sequence lengths) */
        j->it.n_dims = match_batch_dims(j->model, &j->req, j->in_map, j->dims);
        j->it.dims = j->dims;
        pthread_mutex_lock(&q->lock);
        while (batcher_must_wait(&q->b, j->it.rows, w->max_queue_rows) && !q->closed)
                pthread_cond_wait(&q->space, &q->lock);
        batcher_push(&q->b, &j->it);
        pthread_cond_signal(&q->cond);
        pthread_mutex_unlock(&q->lock);
}

/* Push a batch to the output queue (bounded to OUTQ_DEPTH batches). */
static void out_push(worker_t *w, batch_t *b) {
        outq_t *q = &w->outq;
        pthread_mutex_lock(&q->lock);
        while (q->n >= OUTQ_DEPTH && !q->closed)
                pthread_cond_wait(&q->space, &q->lock);
        b->next = NULL;
        if (q->tail)
                q->tail->next = b;
        else
                q->head = b;
        q->tail = b;
        q->n++;
        pthread_cond_signal(&q->cond);
        pthread_mutex_unlock(&q->lock);
}

/* Answer one job without executing it. */
static void answer_now(worker_t *w, job_t *j) {
        batch_t *b = calloc(1, sizeof(*b));
        if (!b) {
                /* Without memory we cannot answer; failing loudly and not
                 * committing beats a silent drop: the message is redelivered
                 * after restart. */
                job_fatal_setf(&w->fatal, SWARM_ERR_NOMEM,
                               "out of memory answering a request");
                job_destroy(w->mm, j);
                return;
        }
        j->it.next = NULL;
        b->jobs = j;
        b->model = j->model;
        b->start_us = swarm_clock_us();
        out_push(w, b);
}

/* ---------------------------------------------------- consumer stage */

static int dispatch(worker_t *w, job_t *j, int final);
static void park(worker_t *w, job_t *j);
static void retry_parked(worker_t *w);

static void handle_message(worker_t *w, rd_kafka_message_t *msg) {
        job_t *j;
        swarm_err_t err;

        j = calloc(1, sizeof(*j));
        if (!j) {
                job_fatal_setf(&w->fatal, SWARM_ERR_NOMEM, "out of memory");
                rd_kafka_message_destroy(msg);
                return;
        }
        j->msg = msg;
        j->bytes = &w->inflight_bytes;
        atomic_fetch_add(&w->inflight_bytes, (long long)msg->len);
        j->it.recv_us = swarm_clock_us();
        swarm_err_clear(&err);
        if (offtrack_add(w->track, msg->partition, msg->offset, &j->ref, &err)) {
                job_fatal_set(&w->fatal, &err);
                job_destroy(w->mm, j);
                return;
        }
        swarm_metrics_add(w->s_messages, 1);

        if (!msg->payload ||
            swarm_codec_decode_request(w->codec, msg->payload, msg->len,
                                       &j->req, &err)) {
                j->kind = JOB_DLQ;
                snprintf(j->error, sizeof(j->error), "undecodable request: %s",
                         msg->payload ? err.msg : "empty message");
                memset(&j->req, 0, sizeof(j->req));
                SWARM_WARN(w->log,
                           "dead-lettering topic=%s partition=%d offset=%" PRId64
                           " reason=\"%s\"",
                           rd_kafka_topic_name(msg->rkt), (int)msg->partition,
                           msg->offset, j->error);
                answer_now(w, j);
                return;
        }
        /* A reply_topic outside the allowlist is answered on the result
         * topic, before any work is spent on it. */
        if (j->req.has_reply_topic && j->req.reply_topic.len > 0 &&
            reply_check(w->reply, j->req.reply_topic.ptr, j->req.reply_topic.len,
                        j->error, sizeof(j->error))) {
                j->req.has_reply_topic = 0;
                j->kind = JOB_ERROR;
                j->status = SWARM_STATUS_INVALID_REQUEST;
                answer_now(w, j);
                return;
        }
        if (dispatch(w, j, 0))
                park(w, j);
}

/* Resolve the job's model and send it on: to the exec queue, or answered at
 * once (model not served, input that does not match).  A pinned version
 * that is not loaded yet is loaded by the manager's thread; then, unless
 * `final`, this returns 1 and the caller parks the job: only the requests
 * that need that version wait, the partition's stream goes on. */
static int dispatch(worker_t *w, job_t *j, int final) {
        swarm_err_t err;

        swarm_err_clear(&err);
        if (models_resolve(w->mm, j->req.model.ptr, j->req.model.len,
                           j->req.has_version, j->req.version, 0, &j->model, &err)) {
                char ver[32] = "";
                if (err.code == SWARM_ERR_TIMEOUT && err.retriable && !final)
                        return 1;
                j->model = NULL;
                j->kind = JOB_ERROR;
                j->status = err.code == SWARM_ERR_NOT_FOUND
                                    ? SWARM_STATUS_MODEL_NOT_FOUND
                                    : SWARM_STATUS_INTERNAL_ERROR;
                if (j->req.has_version)
                        snprintf(ver, sizeof(ver), " version %d",
                                 (int)j->req.version);
                snprintf(j->error, sizeof(j->error),
                         "model \"%.*s\"%s is not served by worker %s: %s",
                         (int)(j->req.model.len > MODELS_NAME_QUOTED ? MODELS_NAME_QUOTED : j->req.model.len),
                         j->req.model.ptr, ver, w->name, err.msg);
                answer_now(w, j);
                return 0;
        }
        swarm_err_clear(&err);
        if (match_request(j->model, &j->req, j->in_map, &j->it.rows, &err)) {
                j->kind = JOB_ERROR;
                j->status = SWARM_STATUS_INVALID_REQUEST;
                snprintf(j->error, sizeof(j->error), "%s", err.msg);
                answer_now(w, j);
                return 0;
        }
        j->kind = JOB_INFER;
        j->it.key = j->model;
        j->it.has_deadline = j->req.has_deadline;
        j->it.deadline_ms = j->req.deadline_ms;
        exec_push(w, j);
        return 0;
}

/* Hold a job whose pinned version is loading (consumer thread only). */
static void park(worker_t *w, job_t *j) {
        j->it.next = NULL;
        if (w->parked_tail)
                w->parked_tail->it.next = &j->it;
        else
                w->parked = j;
        w->parked_tail = j;
}

/* Try the parked jobs again; one still loading after RESOLVE_WAIT_MS is
 * answered (INTERNAL_ERROR "still loading").  Consumer thread only (the
 * loop, and drain(), which the rebalance callback runs on that thread). */
static void retry_parked(worker_t *w) {
        job_t *j = w->parked, *keep = NULL, *keep_tail = NULL;
        int64_t now = swarm_clock_us();

        w->parked = w->parked_tail = NULL;
        while (j) {
                job_t *next = job_of(j->it.next);
                int final = now - j->it.recv_us > (int64_t)RESOLVE_WAIT_MS * 1000;
                j->it.next = NULL;
                if (dispatch(w, j, final)) {
                        if (keep_tail)
                                keep_tail->it.next = &j->it;
                        else
                                keep = j;
                        keep_tail = j;
                }
                j = next;
        }
        /* dispatch() never parks, so nothing was added meanwhile */
        w->parked = keep;
        w->parked_tail = keep_tail;
}

/* ------------------------------------------------------- exec stage */

/* The limits of the head's model version.  Called under the exec queue's
 * lock; takes the model manager's lock inside (see the lock order above). */
static batcher_limits_t head_limits(worker_t *w, const job_t *head) {
        const swarm_model_t *m = head->model->m;
        batcher_model_t bm;

        memset(&bm, 0, sizeof(bm));
        models_deployment(w->mm, head->model->name, strlen(head->model->name),
                          &bm.deploy_rows, &bm.deploy_delay_us);
        bm.fixed_rows = swarm_model_fixed_rows(m);
        bm.work_fixed = swarm_model_work_fixed_bytes(m);
        bm.work_per_row = swarm_model_work_row_bytes(m);
        /* A model with symbolic dims has no per-row size until its shape
         * resolves (work_row_bytes is 0): cap by this batch key's gathered
         * input bytes per row, from the head's actual shapes. */
        if (bm.work_per_row == 0 && swarm_model_is_shaped(m))
                for (int i = 0; i < swarm_model_n_inputs(m); i++) {
                        const swarm_tensor_t *t = &head->req.inputs[head->in_map[i]];
                        bm.work_per_row += t->size / (size_t)head->it.rows;
                }
        return batcher_limits(&w->bconf, &bm);
}

/* batcher_next()'s limits of a batch key, from its oldest job. */
static batcher_limits_t item_limits(void *ctx, const batcher_item_t *first) {
        return head_limits(ctx, job_of((batcher_item_t *)first));
}

static void answer_expired(worker_t *w, batcher_item_t *expired, int64_t wall) {
        while (expired) {
                job_t *j = job_of(expired);
                expired = expired->next;
                j->kind = JOB_ERROR;
                j->status = SWARM_STATUS_DEADLINE_EXCEEDED;
                snprintf(j->error, sizeof(j->error),
                         "deadline %" PRId64 " passed %" PRId64 " ms before execution",
                         j->req.deadline_ms, wall - j->req.deadline_ms);
                answer_now(w, j);
        }
}

/* Take the next batch from the exec queue (batcher_next()), waiting for it
 * to fill or for its delay; expired requests are answered outside the lock
 * (out_push may wait for room).  Returns NULL when the queue is closed and
 * empty. */
static batch_t *next_batch(worker_t *w) {
        execq_t *q = &w->execq;

        for (;;) {
                batcher_batch_t bb;
                batcher_state_t st;
                batch_t *b;
                int64_t wall = 0;

                pthread_mutex_lock(&q->lock);
                for (;;) {
                        const batcher_item_t *head = batcher_head(&q->b);
                        if (!head) {
                                if (q->closed) {
                                        pthread_mutex_unlock(&q->lock);
                                        return NULL;
                                }
                                pthread_cond_wait(&q->cond, &q->lock);
                                continue;
                        }
                        wall = swarm_clock_wall_ms();
                        st = batcher_next(&q->b, item_limits, w, swarm_clock_us(), wall,
                                          q->closed || atomic_load(&w->flush), &bb);
                        if (st == BATCHER_WAIT) {
                                cond_wait_until(&q->cond, &q->lock, bb.wake_us);
                                continue;
                        }
                        break;
                }
                pthread_cond_broadcast(&q->space);
                pthread_mutex_unlock(&q->lock);
                answer_expired(w, bb.expired, wall);
                if (!bb.items)
                        continue;       /* every candidate had expired */
                while (!(b = calloc(1, sizeof(*b))))
                        usleep(BATCH_ALLOC_RETRY_US);
                b->jobs = job_of(bb.items);
                b->rows = bb.rows;
                b->model = b->jobs->model;
                return b;
        }
}

static void *exec_main(void *arg) {
        worker_t *w = arg;
        batch_t *b;

        while ((b = next_batch(w))) {
                swarm_err_t err;
                swarm_err_clear(&err);
                if (execute_batch(w->exec, b, &err)) {
                        /* a lost device: exit non-zero so the fleet replaces
                         * this worker (the cause is logged once, at exit);
                         * otherwise only this batch's requests fail */
                        if (err.fatal) {
                                swarm_err_prefix(&err, "batch model=%s version=%d rows=%" PRId64
                                                       ": ",
                                                 b->model->name, (int)b->model->version,
                                                 b->rows);
                                job_fatal_set(&w->fatal, &err);
                        } else {
                                SWARM_ERROR(w->log, "batch failed model=%s version=%d rows=%" PRId64
                                                    " error=\"%s\"",
                                            b->model->name, (int)b->model->version, b->rows,
                                            err.msg);
                        }
                }
                out_push(w, b);
        }
        /* tell the output stage nothing more will come */
        pthread_mutex_lock(&w->outq.lock);
        w->outq.closed = 1;
        pthread_cond_broadcast(&w->outq.cond);
        pthread_mutex_unlock(&w->outq.lock);
        return NULL;
}

/* ----------------------------------------------------- output thread */

static void *out_main(void *arg) {
        worker_t *w = arg;
        outq_t *q = &w->outq;

        for (;;) {
                batch_t *b;
                pthread_mutex_lock(&q->lock);
                if (!q->head && !q->closed)
                        cond_wait_until(&q->cond, &q->lock,
                                        swarm_clock_us() + OUTPUT_TICK_US);
                b = q->head;
                if (b) {
                        q->head = b->next;
                        if (!q->head)
                                q->tail = NULL;
                        q->n--;
                        pthread_cond_broadcast(&q->space);
                }
                if (!b && q->closed) {
                        pthread_mutex_unlock(&q->lock);
                        break;
                }
                pthread_mutex_unlock(&q->lock);
                if (b)
                        output_emit(w->out, b);
                output_serve(w->out);
                atomic_fetch_add(&w->store_rounds, 1);
                swarm_metrics_set(w->s_inflight, (double)offtrack_inflight(w->track));
        }
        /* every delivery report must be in before offsets are final */
        output_finish(w->out);
        swarm_metrics_set(w->s_inflight, (double)offtrack_inflight(w->track));
        atomic_store(&w->out_done, 1);
        return NULL;
}

/* ----------------------------------------------------- group & run */

/* Wait until every consumed message is answered and acknowledged.  This
 * waits for all work in flight, not only the revoked partitions': the
 * tracker does not know which batch holds which partition's rows. */
static void drain(worker_t *w) {
        int64_t t0 = swarm_clock_us();
        uint_fast64_t round;

        atomic_store(&w->flush, 1);
        pthread_mutex_lock(&w->execq.lock);
        pthread_cond_broadcast(&w->execq.cond);
        pthread_mutex_unlock(&w->execq.lock);
        while (offtrack_inflight(w->track) > 0 && !job_fatal_is_set(&w->fatal)) {
                if (w->parked)
                        retry_parked(w);
                /* a drain longer than max.poll.interval.ms would get this
                 * worker thrown out of the group in the middle of the
                 * rebalance; what is still in flight is not committed, so
                 * the next owner answers it again (a duplicate, not a loss) */
                if (swarm_clock_us() - t0 > w->drain_deadline_ms * 1000) {
                        SWARM_WARN(w->log, "drain deadline of %" PRId64 " ms passed with "
                                   "%" PRId64 " messages in flight: not committing them",
                                   w->drain_deadline_ms,
                                   (int64_t)offtrack_inflight(w->track));
                        break;
                }
                usleep(DRAIN_POLL_US);
        }
        /* the delivery report that emptied the tracker ran inside an output
         * round; that round stores the offsets at its end */
        round = atomic_load(&w->store_rounds);
        while (atomic_load(&w->store_rounds) <= round &&
               !job_fatal_is_set(&w->fatal) && !atomic_load(&w->out_done))
                usleep(DRAIN_ROUND_POLL_US);
        atomic_store(&w->flush, 0);
        SWARM_DEBUG(w->log, "drained in %" PRId64 " us", swarm_clock_us() - t0);
}

static void commit_sync(worker_t *w) {
        rd_kafka_resp_err_t e = rd_kafka_commit(w->consumer, NULL, 0);
        if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
                SWARM_WARN(w->log, "commit failed: %s", rd_kafka_err2str(e));
}

/* rebalance.h's hooks: the drain and commit above, the offset tracker and
 * the assigned-partitions gauge that /readyz reads. */
static void rb_drain(void *ctx) {
        drain(ctx);
}

static void rb_commit(void *ctx) {
        commit_sync(ctx);
}

static void rb_forget(void *ctx, int32_t partition) {
        offtrack_reset(((worker_t *)ctx)->track, partition);
}

static int64_t rb_inflight(void *ctx, int32_t partition) {
        return offtrack_inflight_part(((worker_t *)ctx)->track, partition);
}

static uint64_t rb_store_round(void *ctx) {
        return (uint64_t)atomic_load(&((worker_t *)ctx)->store_rounds);
}

static void rb_owned(void *ctx, int n) {
        worker_t *w = ctx;
        atomic_store(&w->assigned_once, 1);
        atomic_store(&w->assigned, n);
        swarm_metrics_set(w->s_assigned, n);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t e,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
        worker_t *w = opaque;
        rebalance_handle(w->rb, rk, e, parts);
}

static int start_kafka(worker_t *w, swarm_err_t *err) {
        static const char *const cons_defaults[] = {
                "group.id", "swarm-workers",
                "enable.auto.offset.store", "false",
                "enable.auto.commit", "true",
                "auto.commit.interval.ms", "1000",
                "auto.offset.reset", "earliest",
                "fetch.wait.max.ms", "10",
                "partition.assignment.strategy", "cooperative-sticky",
                /* A member learns of a rebalance (a worker joining or
                 * leaving) at its next heartbeat, and the moved partitions
                 * are served by nobody until every member has rejoined:
                 * librdkafka's 3 s default was most of a scale event's
                 * latency spike (bench/scaling). */
                "heartbeat.interval.ms", "250",
                /* Bound the prefetch (librdkafka's default is 64 MB and
                 * 100k messages per worker): the exec queue already holds
                 * the next batches, and memory must stay flat on backlog. */
                "queued.max.messages.kbytes", "16384",
                "queued.min.messages", "20000",
                NULL};
        static const char *const prod_defaults[] = {
                "linger.ms", "5",
                "acks", "all",
                "compression.codec", "lz4",
                "queue.buffering.max.messages", "200000",
                /* librdkafka's 1 GiB default would let a slow or absent
                 * result topic grow the worker that far: a full queue
                 * blocks the output stage instead, and the in-flight bound
                 * then pauses fetching */
                "queue.buffering.max.kbytes", "262144",
                NULL};
        output_conf_t oc = {w->name, w->o.topic, w->o.results, w->o.dlq};
        rebalance_ops_t ops = {w, rb_drain, rb_commit, rb_forget, rb_owned,
                               rb_inflight, rb_store_round, w->drain_deadline_ms};
        rd_kafka_conf_t *kc;
        rd_kafka_topic_partition_list_t *topics;
        rd_kafka_resp_err_t e;
        int r;

        if ((r = swarm_kafka_conf(w->conf, prod_defaults, &w->kop, &kc, err)) ||
            (r = output_new(&oc, kc, w->codec, w->track, w->mm, w->metrics,
                            &w->fatal, w->log, &w->out, err)))
                return r;

        if ((r = rebalance_new(&ops, w->o.revoke_defer_ms, w->metrics, w->log, &w->rb,
                               err)) ||
            (r = swarm_kafka_conf(w->conf, cons_defaults, &w->kop, &kc, err)))
                return r;
        /* the offsets we store are the truth: never store on poll */
        rd_kafka_conf_set(kc, "enable.auto.offset.store", "false", NULL, 0);
        rd_kafka_conf_set_rebalance_cb(kc, rebalance_cb);
        rd_kafka_conf_set_opaque(kc, w);
        if ((r = swarm_kafka_new(RD_KAFKA_CONSUMER, kc, &w->consumer, err)))
                return r;
        output_set_consumer(w->out, w->consumer);
        rd_kafka_poll_set_consumer(w->consumer);
        topics = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(topics, w->o.topic, RD_KAFKA_PARTITION_UA);
        e = rd_kafka_subscribe(w->consumer, topics);
        rd_kafka_topic_partition_list_destroy(topics);
        if (e)
                return swarm_err_set(err, SWARM_ERR_KAFKA, "subscribe to %s: %s",
                                     w->o.topic, rd_kafka_err2str(e));
        SWARM_INFO(w->log, "subscribed topic=%s", w->o.topic);
        return SWARM_OK;
}

/* librdkafka 2.0.2 asserts in the sticky assignor (assignor_state NULL,
 * fixed in 2.2.1) when a consumer that has joined the group is destroyed
 * before its first assignment arrived.  So a worker stopped in that window
 * first polls until the assignment comes (bounded), dropping what it is
 * given: nothing of it is stored, the next owner consumes it.  Not joined
 * yet (no member id): nothing to wait for. */
static void wait_first_assignment(worker_t *w) {
        int64_t until = swarm_clock_us() + (int64_t)FIRST_ASSIGN_WAIT_MS * 1000;
        char *member = rd_kafka_memberid(w->consumer);
        int joined = member && *member;

        rd_kafka_mem_free(w->consumer, member);
        if (!joined || atomic_load(&w->assigned_once))
                return;
        SWARM_INFO(w->log, "stopping before the first assignment: waiting for it "
                   "(librdkafka 2.0.2 sticky assignor)");
        while (!atomic_load(&w->assigned_once) && swarm_clock_us() < until) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(w->consumer, POLL_MS);
                if (m)
                        rd_kafka_message_destroy(m);
        }
}

/* /metrics, /healthz, /readyz on --metrics-bind (default all IPv4
 * interfaces) with the server's connection limits and timeout. */
static int start_http(worker_t *w, swarm_err_t *err) {
        swarm_metrics_http_opts_t ho;

        memset(&ho, 0, sizeof(ho));
        ho.bind = swarm_conf_get(w->conf, "swarm.metrics.bind");
        ho.port = (int)w->o.metrics_port;
        return swarm_metrics_http_listen(w->metrics, &ho, ready_cb, w, w->log, &w->http,
                                         err);
}

/* Pause (or resume) fetching on every partition owned now.  Pausing drops
 * what librdkafka prefetched for them, so memory stops growing at once. */
static void set_paused(worker_t *w, int pause) {
        rd_kafka_topic_partition_list_t *parts = NULL;

        if (rd_kafka_assignment(w->consumer, &parts) || !parts)
                return;
        if (parts->cnt)
                (void)(pause ? rd_kafka_pause_partitions(w->consumer, parts)
                             : rd_kafka_resume_partitions(w->consumer, parts));
        rd_kafka_topic_partition_list_destroy(parts);
}

/* The memory bound: pause fetching while the consumed-but-unanswered
 * messages or their bytes are over the bound, resume below RESUME_PCT of
 * both.  While paused the loop still polls, so the group sees it alive. */
static void bound_inflight(worker_t *w) {
        int64_t msgs = (int64_t)offtrack_inflight(w->track);
        int64_t bytes = (int64_t)atomic_load(&w->inflight_bytes);

        if (!w->paused) {
                if (msgs < w->max_inflight_msgs && bytes < w->max_inflight_bytes)
                        return;
                w->paused = 1;
                w->pauses++;
                SWARM_INFO(w->log, "fetch paused inflight_messages=%" PRId64
                           " inflight_bytes=%" PRId64 " max_messages=%" PRId64
                           " max_bytes=%" PRId64, msgs, bytes, w->max_inflight_msgs,
                           w->max_inflight_bytes);
                set_paused(w, 1);
                return;
        }
        if (msgs * 100 <= w->max_inflight_msgs * RESUME_PCT &&
            bytes * 100 <= w->max_inflight_bytes * RESUME_PCT) {
                w->paused = 0;
                SWARM_INFO(w->log, "fetch resumed inflight_messages=%" PRId64
                           " inflight_bytes=%" PRId64, msgs, bytes);
                set_paused(w, 0);
                return;
        }
        /* partitions assigned since the pause start unpaused */
        set_paused(w, 1);
}

int worker_run(worker_t *w, volatile sig_atomic_t *stop, swarm_err_t *err) {
        pthread_t exec_t, out_t;
        int r;

        /* warm before joining: the group hands partitions over at once */
        if (w->o.warmup) {
                warmup_result_t wr;
                warmup_run(w->mm, w->bconf.max_rows, w->log, &wr);
        }
        if ((r = start_kafka(w, err)))
                return r;
        if (w->o.metrics_port >= 0 &&
            (r = start_http(w, err)))
                return r;
        SWARM_INFO(w->log,
                   "worker started name=%s topic=%s results=%s dlq=%s models=%d "
                   "max_batch_rows=%" PRId64 " max_delay_us=%" PRId64
                   " blas_threads=%d backend=%s",
                   w->name, w->o.topic, w->o.results, w->o.dlq, models_count(w->mm),
                   w->bconf.max_rows, w->bconf.max_delay_us, w->blas_threads,
                   w->backend->name);
        pthread_create(&exec_t, NULL, exec_main, w);
        pthread_create(&out_t, NULL, out_main, w);

        while (!*stop && !job_fatal_is_set(&w->fatal)) {
                rd_kafka_message_t *msg;
                if (w->parked)
                        retry_parked(w);
                rebalance_tick(w->rb, w->consumer, 0);
                bound_inflight(w);
                msg = rd_kafka_consumer_poll(w->consumer, POLL_MS);
                if (!msg)
                        continue;
                if (msg->err) {
                        /* a partition's error (a batch that does not
                         * decompress ...) means records were skipped: on
                         * record in the dead-letter topic; client-wide
                         * errors (brokers down) are only logged */
                        if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF &&
                            msg->rkt && msg->partition >= 0)
                                output_dead_letter_event(w->out, msg);
                        else if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                                SWARM_WARN(w->log, "consumer: %s",
                                           rd_kafka_message_errstr(msg));
                        rd_kafka_message_destroy(msg);
                        continue;
                }
                handle_message(w, msg);
        }

        SWARM_INFO(w->log, "stopping: finishing batches in hand");
        rebalance_tick(w->rb, w->consumer, 1);
        {
                /* the whole stop is bounded (stopguard.h); the drain gets
                 * half of it, so a slow one still commits what it did */
                swarm_err_t gerr;
                swarm_err_clear(&gerr);
                if (w->o.stop_timeout_ms > 0 &&
                    stopguard_start(w->o.stop_timeout_ms, w->log, &w->guard, &gerr))
                        SWARM_WARN(w->log, "stop is unbounded: %s", gerr.msg);
                if (w->o.stop_timeout_ms > 0 &&
                    w->drain_deadline_ms > w->o.stop_timeout_ms / 2)
                        w->drain_deadline_ms = w->o.stop_timeout_ms / 2;
        }
        wait_first_assignment(w);
        if (!job_fatal_is_set(&w->fatal)) {
                drain(w);
                commit_sync(w);
        }
        /* close the exec stage; it closes the output stage */
        pthread_mutex_lock(&w->execq.lock);
        w->execq.closed = 1;
        pthread_cond_broadcast(&w->execq.cond);
        pthread_cond_broadcast(&w->execq.space);
        pthread_mutex_unlock(&w->execq.lock);
        pthread_join(exec_t, NULL);
        pthread_join(out_t, NULL);
        if (!job_fatal_is_set(&w->fatal))
                commit_sync(w);
        rd_kafka_consumer_close(w->consumer);
        if (job_fatal_is_set(&w->fatal)) {
                /* the first cause, with its own code */
                pthread_mutex_lock(&w->fatal.lock);
                r = swarm_err_set(err, w->fatal.err.code, "%s", w->fatal.err.msg);
                if (err)
                        err->fatal = 1;
                pthread_mutex_unlock(&w->fatal.lock);
                return r;
        }
        SWARM_INFO(w->log, "stopped cleanly, left the group");
        return SWARM_OK;
}
