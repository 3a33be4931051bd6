/*
 * worker.c - consumer, exec and output stages of the batching worker.
 *
 * Ownership of a consumed message: a job_t owns the rd_kafka_message_t (its
 * tensors and strings are views into it) from poll until the delivery report
 * of the last record it caused; only then is its offset marked done and the
 * message destroyed.  Jobs move consumer -> exec queue -> output queue ->
 * librdkafka (as the msg_opaque) -> delivery report.
 */
#include "worker.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "models.h"
#include "offsets.h"
#include "swarm/backend.h"
#include "swarm/codec.h"
#include "swarm/device.h"
#include "swarm/kafka.h"
#include "swarm/metrics.h"
#include "swarm/model.h"
#include "swarm/schemareg.h"

typedef enum job_kind {
        JOB_INFER = 0,          /* goes through the exec stage */
        JOB_ERROR,              /* answered with an error status at once */
        JOB_DLQ,                /* undecodable: dead-lettered */
} job_kind_t;

typedef struct job {
        struct job *next;
        rd_kafka_message_t *msg;
        swarm_request_t req;
        job_kind_t kind;
        models_ref_t *model;            /* owned reference, NULL until resolved */
        int64_t rows;
        int64_t recv_us;
        offtrack_ref_t ref;
        int in_map[SWARM_MAX_INPUTS];   /* model input -> request tensor */
        swarm_status_t status;
        char error[384];                /* error text or DLQ reason */
        int to_reply_topic;             /* last record went to reply_topic */
} job_t;

/* A unit of work for the output stage: an executed batch, or one job that is
 * answered without execution. */
typedef struct batch {
        struct batch *next;
        job_t *jobs;
        models_ref_t *model;            /* borrowed from the first job */
        int64_t rows;
        int64_t start_us, compute_us;
        int n_out;
        void *out[SWARM_MAX_INPUTS];    /* owned copies of the model outputs */
        swarm_status_t status;          /* INTERNAL_ERROR if the run failed */
        char error[384];
} batch_t;

typedef struct queue {
        pthread_mutex_t lock;
        pthread_cond_t cond;            /* something was added / closed */
        pthread_cond_t space;           /* something was removed */
        void *head, *tail;              /* job_t or batch_t lists */
        int64_t n;                      /* rows (exec) or batches (output) */
        int closed;
} queue_t;

struct worker {
        swarm_kafka_opaque_t kop;       /* first: librdkafka log callback */
        const swarm_conf_t *conf;
        const swarm_log_t *log;
        char name[128];
        const char *topic, *results, *dlq;
        int64_t max_batch_rows, max_delay_us, max_queue_rows;
        int64_t batch_budget;           /* bytes of working memory, 0: none */
        int blas_threads;

        swarm_codec_t *codec;
        swarm_backend_t *backend;
        models_t *mm;

        rd_kafka_t *consumer, *producer;
        offtrack_t *track;

        queue_t execq, outq;
        atomic_int flush;               /* exec: do not wait for max delay */
        atomic_int fatal;
        char fatal_msg[512];

        /* output rounds completed (each ends with flush_store): drain()
         * waits for one more round so the last acknowledged offsets are
         * stored before it commits */
        atomic_uint_fast64_t store_rounds;
        atomic_int out_done;            /* the output thread has returned */

        /* output thread only: partitions whose stored offset advanced */
        int32_t *store_part;
        int64_t *store_off;
        int nstore, capstore;

        pthread_mutex_t stats_lock;
        worker_stats_t st;

        /* Prometheus metrics (/metrics, /healthz, /readyz) */
        swarm_metrics_t *metrics;
        swarm_metrics_http_t *http;
        swarm_metric_t *m_requests, *m_batch_rows, *m_compute;
        swarm_series_t *s_dlq, *s_queue, *s_e2e, *s_inflight, *s_assigned;
        atomic_int assigned;            /* partitions owned now */

        /* exec thread only: gather buffers */
        void *gather[SWARM_MAX_INPUTS];
        size_t gather_cap[SWARM_MAX_INPUTS];
};

static int64_t now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t wall_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void queue_init(queue_t *q) {
        pthread_condattr_t ca;

        memset(q, 0, sizeof(*q));
        pthread_mutex_init(&q->lock, NULL);
        /* deadlines are computed on the monotonic clock, so wait on it */
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&q->cond, &ca);
        pthread_cond_init(&q->space, &ca);
        pthread_condattr_destroy(&ca);
}

/* Wait on `c` until signalled or until the monotonic time `until_us`. */
static void cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m,
                            int64_t until_us) {
        struct timespec ts;
        ts.tv_sec = until_us / 1000000;
        ts.tv_nsec = (until_us % 1000000) * 1000;
        pthread_cond_timedwait(c, m, &ts);
}

static void queue_fini(queue_t *q) {
        pthread_mutex_destroy(&q->lock);
        pthread_cond_destroy(&q->cond);
        pthread_cond_destroy(&q->space);
}

/* Record the first fatal error (any thread); the consumer loop then stops
 * without committing past what was answered. */
static void set_fatal(worker_t *w, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static void set_fatal(worker_t *w, const char *fmt, ...) {
        va_list ap;
        pthread_mutex_lock(&w->stats_lock);
        if (!atomic_load(&w->fatal)) {
                va_start(ap, fmt);
                vsnprintf(w->fatal_msg, sizeof(w->fatal_msg), fmt, ap);
                va_end(ap);
                atomic_store(&w->fatal, 1);
        }
        pthread_mutex_unlock(&w->stats_lock);
}

static void stat_add(worker_t *w, int64_t *field, int64_t v) {
        pthread_mutex_lock(&w->stats_lock);
        *field += v;
        pthread_mutex_unlock(&w->stats_lock);
}

void worker_stats(worker_t *w, worker_stats_t *st) {
        pthread_mutex_lock(&w->stats_lock);
        *st = w->st;
        pthread_mutex_unlock(&w->stats_lock);
}

static void job_free(worker_t *w, job_t *j) {
        if (!j)
                return;
        models_release(w->mm, j->model);
        swarm_request_release(&j->req);
        if (j->msg)
                rd_kafka_message_destroy(j->msg);
        free(j);
}

static void batch_free(batch_t *b) {
        if (!b)
                return;
        for (int i = 0; i < b->n_out; i++)
                free(b->out[i]);
        free(b);
}

/* ------------------------------------------------------------- setup */

static const char *conf_str(const swarm_conf_t *c, const char *key,
                            const char *def) {
        const char *v = swarm_conf_get(c, key);
        return v && *v ? v : def;
}

/* Families the worker exports; names follow Prometheus conventions. */
static int start_metrics(worker_t *w, swarm_err_t *err) {
        static const char *const by_status[] = {"model", "version", "status", NULL};
        static const char *const by_model[] = {"model", NULL};
        static const double rows_buckets[] = {1, 2, 4, 8, 16, 32, 64, 128,
                                              256, 512, 1024, 4096};
        swarm_metric_t *f;
        int r;

        if ((r = swarm_metrics_new(&w->metrics, err)) ||
            (r = swarm_metrics_counter(w->metrics, "swarm_worker_requests_total",
                                       "Requests answered, by model, version served and status",
                                       by_status, &w->m_requests, err)) ||
            (r = swarm_metrics_histogram(w->metrics, "swarm_worker_batch_rows",
                                         "Rows per executed micro-batch", by_model,
                                         rows_buckets,
                                         sizeof(rows_buckets) / sizeof(rows_buckets[0]),
                                         &w->m_batch_rows, err)) ||
            (r = swarm_metrics_histogram(w->metrics, "swarm_worker_compute_seconds",
                                         "Model execution time per batch", by_model,
                                         swarm_metrics_latency_buckets,
                                         swarm_metrics_latency_bucket_count,
                                         &w->m_compute, err)))
                return r;
        if ((r = swarm_metrics_counter(w->metrics, "swarm_worker_dead_letters_total",
                                       "Requests written to the dead-letter topic",
                                       NULL, &f, err)))
                return r;
        w->s_dlq = swarm_metrics_with(f, NULL);
        if ((r = swarm_metrics_histogram(w->metrics, "swarm_worker_queue_seconds",
                                         "Time from consumption to the start of the batch",
                                         NULL, swarm_metrics_latency_buckets,
                                         swarm_metrics_latency_bucket_count, &f, err)))
                return r;
        w->s_queue = swarm_metrics_with(f, NULL);
        if ((r = swarm_metrics_histogram(w->metrics, "swarm_worker_end_to_end_seconds",
                                         "Time from the request's Kafka timestamp to its "
                                         "response being produced",
                                         NULL, swarm_metrics_latency_buckets,
                                         swarm_metrics_latency_bucket_count, &f, err)))
                return r;
        w->s_e2e = swarm_metrics_with(f, NULL);
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
        return SWARM_OK;
}

static int ready_cb(void *opaque) {
        worker_t *w = opaque;
        return atomic_load(&w->assigned) > 0;
}

/* Collect a repeatable option's values (borrowed from the conf). */
static const char **conf_list(const swarm_conf_t *c, const char *key,
                              size_t *n) {
        const char **v;
        *n = swarm_conf_count(c, key);
        v = calloc(*n ? *n : 1, sizeof(*v));
        for (size_t i = 0; v && i < *n; i++)
                v[i] = swarm_conf_get_nth(c, key, i);
        return v;
}

/* The model manager: static --model files and/or the registry. */
static int start_models(worker_t *w, swarm_err_t *err) {
        const swarm_conf_t *c = w->conf;
        models_opts_t o;
        int64_t cache_mb;
        int r;

        memset(&o, 0, sizeof(o));
        o.files = conf_list(c, "swarm.model", &o.n_files);
        o.names = conf_list(c, "swarm.serve", &o.n_names);
        o.conninfo = swarm_conf_get(c, "swarm.registry");
        o.use_registry = o.conninfo != NULL;
        o.request_topic = w->topic;
        o.alias = swarm_conf_get(c, "swarm.alias");
        o.state_dir = swarm_conf_get(c, "swarm.state.dir");
        o.backend = w->backend;
        if (!o.files || !o.names) {
                r = swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                goto out;
        }
        if ((r = swarm_conf_get_i64(c, "swarm.cache.mb", 1024, &cache_mb, err)) ||
            (r = swarm_conf_get_bool(c, "swarm.start.from.state", 0,
                                     &o.start_from_state, err)))
                goto out;
        o.cache_bytes = cache_mb > 0 ? (size_t)cache_mb << 20 : 0;
        if (!o.n_files && !o.use_registry) {
                r = swarm_err_set(err, SWARM_ERR_CONFIG,
                                  "no model to serve: give --model NAME=FILE.onnx "
                                  "or --registry CONNINFO");
                goto out;
        }
        r = models_new(&o, w->log, &w->mm, err);
out:
        free((void *)o.files);
        free((void *)o.names);
        return r;
}

int worker_new(const swarm_conf_t *conf, const swarm_log_t *log,
               worker_t **out, swarm_err_t *err) {
        worker_t *w = calloc(1, sizeof(*w));
        char host[64] = "host";
        const char *name;
        int64_t threads;
        swarm_precision_t prec;
        int r;

        if (!w)
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        w->conf = conf;
        w->log = log;
        w->kop.log = log;
        pthread_mutex_init(&w->stats_lock, NULL);
        queue_init(&w->execq);
        queue_init(&w->outq);

        w->topic = conf_str(conf, "swarm.topic", "requests");
        w->results = conf_str(conf, "swarm.results", "results");
        w->dlq = conf_str(conf, "swarm.dlq", "requests.dlq");
        gethostname(host, sizeof(host) - 1);
        name = swarm_conf_get(conf, "swarm.worker.name");
        if (name && *name)
                snprintf(w->name, sizeof(w->name), "%s", name);
        else
                snprintf(w->name, sizeof(w->name), "%s-%d", host, (int)getpid());

        if ((r = swarm_conf_get_i64(conf, "swarm.max.batch.rows", 256,
                                    &w->max_batch_rows, err)) ||
            (r = swarm_conf_get_i64(conf, "swarm.max.delay.us", 2000,
                                    &w->max_delay_us, err)) ||
            (r = swarm_conf_get_i64(conf, "swarm.max.queue.rows", 0,
                                    &w->max_queue_rows, err)) ||
            (r = swarm_conf_get_i64(conf, "swarm.blas.threads", 0, &threads,
                                    err)) ||
            (r = swarm_conf_get_i64(conf, "swarm.batch.memory.mb", 0,
                                    &w->batch_budget, err)))
                goto fail;
        w->batch_budget *= 1 << 20;
        if (w->max_batch_rows < 1 || w->max_delay_us < 0) {
                r = swarm_err_set(err, SWARM_ERR_CONFIG,
                                  "max batch rows must be >= 1 and max delay >= 0");
                goto fail;
        }
        /* Room for the batch being filled, one waiting and one in compute:
         * enough to keep exec busy, small enough to bound memory (and room
         * for registry deployments that ask for bigger batches). */
        if (w->max_queue_rows <= 0)
                w->max_queue_rows = 4 * w->max_batch_rows > 4096
                                            ? 4 * w->max_batch_rows
                                            : 4096;
        if (threads <= 0) {
                /* The consumer and output stages and librdkafka's threads
                 * need a core between them; BLAS gets the rest, at least 1. */
                long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
                threads = ncpu > 2 ? ncpu - 1 : 1;
        }
        w->blas_threads = (int)threads;

        if ((r = swarm_codec_new(&w->codec, err)) ||
            (r = swarm_schemareg_setup(conf, log, w->codec, w->topic,
                                       w->results, err)) ||
            (r = offtrack_new(&w->track, err)))
                goto fail;
        if ((r = swarm_precision_parse(conf_str(conf, "swarm.precision", "fp32"),
                                       &prec, err)) ||
            (r = swarm_backend_select_prec(swarm_conf_get(conf, "swarm.device"),
                                           prec, w->blas_threads, log,
                                           &w->backend, err)) ||
            (r = start_models(w, err)) || (r = start_metrics(w, err)))
                goto fail;
        *out = w;
        return SWARM_OK;
fail:
        worker_destroy(w);
        return r;
}

void worker_destroy(worker_t *w) {
        if (!w)
                return;
        swarm_metrics_http_stop(w->http);
        models_destroy(w->mm);
        for (int i = 0; i < SWARM_MAX_INPUTS; i++)
                free(w->gather[i]);
        if (w->consumer)
                rd_kafka_destroy(w->consumer);
        if (w->producer)
                rd_kafka_destroy(w->producer);
        swarm_backend_destroy(w->backend);
        swarm_codec_destroy(w->codec);
        offtrack_destroy(w->track);
        free(w->store_part);
        free(w->store_off);
        queue_fini(&w->execq);
        queue_fini(&w->outq);
        pthread_mutex_destroy(&w->stats_lock);
        swarm_metrics_destroy(w->metrics);
        free(w);
}

/* ---------------------------------------------------- consumer stage */

static void describe_tensor(const swarm_tensor_t *t, char *buf, size_t size) {
        size_t n = (size_t)snprintf(buf, size, "%.*s:%s[", (int)t->name.len,
                                    t->name.ptr, swarm_dtype_name(t->dtype));
        for (int d = 0; d < t->ndim && n < size; d++)
                n += (size_t)snprintf(buf + n, size - n, "%s%" PRId64,
                                      d ? "," : "", t->shape[d]);
        if (n < size)
                snprintf(buf + n, size - n, "]");
}

/* Match request tensors to model inputs; on mismatch fill j->error. */
static int validate(worker_t *w, job_t *j) {
        const swarm_model_t *m = j->model->m;
        int nin = swarm_model_n_inputs(m);
        int64_t rows = -1;
        char got[160];

        if (j->req.n_inputs != nin)
                goto bad;
        for (int i = 0; i < nin; i++) {
                const swarm_model_io_t *io = swarm_model_input(m, i);
                const swarm_tensor_t *t = NULL;
                int idx = -1;
                for (int k = 0; k < j->req.n_inputs; k++)
                        if (j->req.inputs[k].name.len == strlen(io->name) &&
                            !memcmp(j->req.inputs[k].name.ptr, io->name,
                                    j->req.inputs[k].name.len))
                                idx = k;
                /* a single-input model accepts its one tensor by position */
                if (idx < 0 && nin == 1)
                        idx = 0;
                if (idx < 0)
                        goto bad;
                t = &j->req.inputs[idx];
                if (t->dtype != io->dtype || t->ndim != io->ndim ||
                    t->shape[0] < 1)
                        goto bad;
                for (int d = 1; d < io->ndim; d++)
                        if (t->shape[d] != io->shape[d])
                                goto bad;
                if (rows >= 0 && t->shape[0] != rows)
                        goto bad;
                rows = t->shape[0];
                j->in_map[i] = idx;
        }
        /* a model exported with a fixed batch size runs exactly that many
         * rows: such requests must carry them, and each runs alone */
        if (swarm_model_fixed_rows(m) > 0 && rows != swarm_model_fixed_rows(m))
                goto bad;
        j->rows = rows;
        return 1;
bad:
        got[0] = '\0';
        for (int k = 0; k < j->req.n_inputs; k++) {
                size_t n = strlen(got);
                if (n + 4 >= sizeof(got))
                        break;
                if (k)
                        strcat(got, ", ");
                n = strlen(got);
                describe_tensor(&j->req.inputs[k], got + n, sizeof(got) - n);
        }
        snprintf(j->error, sizeof(j->error),
                 "inputs do not match model %s version %d: expected %s; got %s",
                 j->model->name, (int)j->model->version, j->model->sig,
                 j->req.n_inputs ? got : "no inputs");
        (void)w;
        return 0;
}

/* Push one job to the exec queue (blocks while it holds max_queue_rows). */
static void exec_push(worker_t *w, job_t *j) {
        queue_t *q = &w->execq;
        pthread_mutex_lock(&q->lock);
        while (q->n > 0 && q->n + j->rows > w->max_queue_rows && !q->closed)
                pthread_cond_wait(&q->space, &q->lock);
        if (q->tail)
                ((job_t *)q->tail)->next = j;
        else
                q->head = j;
        q->tail = j;
        q->n += j->rows;
        pthread_cond_signal(&q->cond);
        pthread_mutex_unlock(&q->lock);
}

/* Push a batch to the output queue (bounded to a few batches). */
static void out_push(worker_t *w, batch_t *b) {
        queue_t *q = &w->outq;
        pthread_mutex_lock(&q->lock);
        while (q->n >= 8 && !q->closed)
                pthread_cond_wait(&q->space, &q->lock);
        if (q->tail)
                ((batch_t *)q->tail)->next = b;
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
                set_fatal(w, "out of memory answering a request");
                job_free(w, j);
                return;
        }
        b->jobs = j;
        b->model = j->model;
        b->start_us = now_us();
        out_push(w, b);
}

static void handle_message(worker_t *w, rd_kafka_message_t *msg) {
        job_t *j;
        swarm_err_t err;

        j = calloc(1, sizeof(*j));
        if (!j) {
                set_fatal(w, "out of memory");
                rd_kafka_message_destroy(msg);
                return;
        }
        j->msg = msg;
        j->recv_us = now_us();
        swarm_err_clear(&err);
        if (offtrack_add(w->track, msg->partition, msg->offset, &j->ref, &err)) {
                set_fatal(w, "%s", err.msg);
                job_free(w, j);
                return;
        }
        stat_add(w, &w->st.messages, 1);

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
        /* A pinned version that is not loaded yet is loaded by the manager;
         * waiting here holds back this partition's stream only briefly and
         * only for that rare request. */
        swarm_err_clear(&err);
        if (models_resolve(w->mm, j->req.model.ptr, j->req.model.len,
                           j->req.has_version, j->req.version, 10000,
                           &j->model, &err)) {
                char ver[32] = "";
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
                         (int)(j->req.model.len > 200 ? 200 : j->req.model.len),
                         j->req.model.ptr, ver, w->name, err.msg);
                answer_now(w, j);
                return;
        }
        if (!validate(w, j)) {
                j->kind = JOB_ERROR;
                j->status = SWARM_STATUS_INVALID_REQUEST;
                answer_now(w, j);
                return;
        }
        j->kind = JOB_INFER;
        exec_push(w, j);
}

/* ------------------------------------------------------- exec stage */

static int ensure_gather(worker_t *w, int i, size_t bytes, swarm_err_t *err) {
        void *p;
        if (w->gather_cap[i] >= bytes)
                return SWARM_OK;
        p = realloc(w->gather[i], bytes);
        if (!p)
                return swarm_err_set(err, SWARM_ERR_NOMEM,
                                     "cannot allocate %zu bytes for a batch", bytes);
        w->gather[i] = p;
        w->gather_cap[i] = bytes;
        return SWARM_OK;
}

/* Run rows [row0, row0 + rows) of the gathered batch and copy the outputs
 * into b->out at that offset.  A retriable out-of-memory (a GPU with too
 * little room for this batch) splits the range in two and tries again,
 * down to one row, so one big batch never fails requests that fit alone. */
static int run_rows(worker_t *w, batch_t *b, int64_t row0, int64_t rows,
                    swarm_err_t *err) {
        const swarm_model_t *m = b->model->m;
        int nin = swarm_model_n_inputs(m), nout = swarm_model_n_outputs(m);
        const void *in[SWARM_MAX_INPUTS], *outp[SWARM_MAX_INPUTS];
        int r;

        for (int i = 0; i < nin; i++)
                in[i] = (const char *)w->gather[i] +
                        (size_t)row0 * swarm_model_input(m, i)->row_bytes;
        r = swarm_model_run(b->model->m, rows, in, outp, err);
        if (r == SWARM_ERR_NOMEM && err->retriable && rows > 1 &&
            swarm_model_fixed_rows(m) < 0) {
                int64_t half = rows / 2;
                SWARM_WARN(w->log, "out of memory for %" PRId64 " rows of model=%s; "
                                   "splitting the batch",
                           rows, b->model->name);
                swarm_err_clear(err);
                if ((r = run_rows(w, b, row0, half, err)))
                        return r;
                return run_rows(w, b, row0 + half, rows - half, err);
        }
        if (r)
                return r;
        for (int i = 0; i < nout; i++) {
                size_t rb = swarm_model_output(m, i)->row_bytes;
                memcpy((char *)b->out[i] + (size_t)row0 * rb, outp[i], (size_t)rows * rb);
        }
        return SWARM_OK;
}

static void run_batch(worker_t *w, batch_t *b) {
        const swarm_model_t *m = b->model->m;
        int nin = swarm_model_n_inputs(m), nout = swarm_model_n_outputs(m);
        swarm_err_t err;
        int64_t t0;

        swarm_err_clear(&err);
        /* Gather rows of every request into one contiguous buffer per input:
         * the one copy of the tensor bytes that batching needs. */
        for (int i = 0; i < nin; i++) {
                const swarm_model_io_t *io = swarm_model_input(m, i);
                size_t off = 0;
                if (ensure_gather(w, i, (size_t)b->rows * io->row_bytes, &err))
                        goto fail;
                for (job_t *j = b->jobs; j; j = j->next) {
                        const swarm_tensor_t *t = &j->req.inputs[j->in_map[i]];
                        memcpy((char *)w->gather[i] + off, t->data, t->size);
                        off += t->size;
                }
        }
        /* Outputs are copied out of the model's buffers so the next batch
         * can run while this one is encoded. */
        for (int i = 0; i < nout; i++) {
                size_t bytes = (size_t)b->rows * swarm_model_output(m, i)->row_bytes;
                b->out[i] = malloc(bytes ? bytes : 1);
                if (!b->out[i]) {
                        swarm_err_set(&err, SWARM_ERR_NOMEM,
                                      "cannot allocate %zu bytes of outputs", bytes);
                        goto fail;
                }
                b->n_out = i + 1;
        }
        t0 = now_us();
        b->start_us = t0;
        if (run_rows(w, b, 0, b->rows, &err))
                goto fail;
        b->compute_us = now_us() - t0;
        stat_add(w, &w->st.batches, 1);
        stat_add(w, &w->st.batch_rows, b->rows);
        {
                const char *lv[] = {b->model->name, NULL};
                swarm_metrics_observe(swarm_metrics_with(w->m_batch_rows, lv),
                                      (double)b->rows);
                swarm_metrics_observe(swarm_metrics_with(w->m_compute, lv),
                                      (double)b->compute_us / 1e6);
        }
        return;
fail:
        b->status = SWARM_STATUS_INTERNAL_ERROR;
        snprintf(b->error, sizeof(b->error), "batch of %" PRId64 " rows failed: %s",
                 b->rows, err.msg);
        SWARM_ERROR(w->log, "batch failed model=%s version=%d rows=%" PRId64 " error=\"%s\"",
                    b->model->name, (int)b->model->version, b->rows, err.msg);
        /* a lost device: exit non-zero so the fleet replaces this worker */
        if (err.fatal)
                set_fatal(w, "%s", err.msg);
}

/* Fewer rows when the model's working memory for max_rows would pass the
 * batch memory budget (--batch-memory-mb): a big model gets smaller batches
 * instead of an allocation failure. */
static int64_t cap_rows_to_budget(const worker_t *w, const swarm_model_t *m,
                                  int64_t max_rows) {
        size_t per_row = swarm_model_work_row_bytes(m);
        size_t fixed = swarm_model_work_fixed_bytes(m);
        int64_t cap;

        if (w->batch_budget <= 0 || per_row == 0)
                return max_rows;
        if ((size_t)w->batch_budget <= fixed)
                return 1;
        cap = (int64_t)(((size_t)w->batch_budget - fixed) / per_row);
        return cap < 1 ? 1 : (cap < max_rows ? cap : max_rows);
}

/* Take the next batch from the exec queue: the rows of the oldest request's
 * (model, version), up to max batch rows, once full or once the oldest has
 * waited max delay.  Expired requests are answered instead.  Returns NULL when
 * the queue is closed and empty. */
static batch_t *next_batch(worker_t *w) {
        queue_t *q = &w->execq;
        batch_t *b = NULL;
        job_t *expired = NULL, **exp_tail = &expired;

        pthread_mutex_lock(&q->lock);
        while (!b) {
                job_t *head = q->head, *j, *prev, *next, **tailp;
                int64_t rows = 0, wall, max_rows = 0, max_delay = 0;

                if (!head) {
                        if (q->closed)
                                break;
                        pthread_cond_wait(&q->cond, &q->lock);
                        continue;
                }
                /* the model's deployment settings win over the worker's */
                models_deployment(w->mm, head->model->name,
                                  strlen(head->model->name), &max_rows,
                                  &max_delay);
                if (max_rows <= 0)
                        max_rows = w->max_batch_rows;
                if (max_delay <= 0)
                        max_delay = w->max_delay_us;
                max_rows = cap_rows_to_budget(w, head->model->m, max_rows);
                if (swarm_model_fixed_rows(head->model->m) > 0)
                        max_rows = swarm_model_fixed_rows(head->model->m);
                for (j = head; j && rows < max_rows; j = j->next)
                        if (j->model == head->model)
                                rows += j->rows;
                if (rows < max_rows && !q->closed && !atomic_load(&w->flush) &&
                    now_us() < head->recv_us + max_delay) {
                        cond_wait_until(&q->cond, &q->lock,
                                        head->recv_us + max_delay);
                        continue;
                }
                b = calloc(1, sizeof(*b));
                if (!b) {
                        pthread_mutex_unlock(&q->lock);
                        usleep(1000);
                        pthread_mutex_lock(&q->lock);
                        continue;
                }
                /* Unlink the rows of head's (model, version), oldest first,
                 * up to max batch rows (a request bigger than that runs
                 * alone); requests of other models keep their order. */
                b->model = head->model;
                tailp = &b->jobs;
                wall = wall_ms();
                for (prev = NULL, j = q->head; j; j = next) {
                        next = j->next;
                        if (j->model != b->model ||
                            (b->rows > 0 && b->rows + j->rows > max_rows)) {
                                prev = j;
                                continue;
                        }
                        if (prev)
                                prev->next = next;
                        else
                                q->head = next;
                        if (q->tail == j)
                                q->tail = prev;
                        q->n -= j->rows;
                        j->next = NULL;
                        if (j->req.has_deadline && j->req.deadline_ms < wall) {
                                j->kind = JOB_ERROR;
                                j->status = SWARM_STATUS_DEADLINE_EXCEEDED;
                                snprintf(j->error, sizeof(j->error),
                                         "deadline %" PRId64 " passed %" PRId64
                                         " ms before execution",
                                         j->req.deadline_ms, wall - j->req.deadline_ms);
                                *exp_tail = j;
                                exp_tail = &j->next;
                                continue;
                        }
                        *tailp = j;
                        tailp = &j->next;
                        b->rows += j->rows;
                        if (b->rows >= max_rows)
                                break;
                }
                pthread_cond_broadcast(&q->space);
                if (!b->jobs) { /* every candidate had expired */
                        free(b);
                        b = NULL;
                        if (expired)
                                break;
                }
        }
        pthread_mutex_unlock(&q->lock);
        /* answered outside the lock: out_push may wait for room */
        while (expired) {
                job_t *j = expired;
                expired = j->next;
                j->next = NULL;
                answer_now(w, j);
        }
        if (!b && !q->closed)
                return next_batch(w);
        return b;
}

static void *exec_main(void *arg) {
        worker_t *w = arg;
        batch_t *b;

        while ((b = next_batch(w))) {
                run_batch(w, b);
                out_push(w, b);
        }
        /* tell the output stage nothing more will come */
        pthread_mutex_lock(&w->outq.lock);
        w->outq.closed = 1;
        pthread_cond_broadcast(&w->outq.cond);
        pthread_mutex_unlock(&w->outq.lock);
        return NULL;
}

/* ----------------------------------------------------- output stage */

static void remember_store(worker_t *w, int32_t partition, int64_t offset) {
        for (int i = 0; i < w->nstore; i++)
                if (w->store_part[i] == partition) {
                        if (offset > w->store_off[i])
                                w->store_off[i] = offset;
                        return;
                }
        if (w->nstore == w->capstore) {
                int cap = w->capstore ? w->capstore * 2 : 64;
                int32_t *p = realloc(w->store_part, (size_t)cap * sizeof(*p));
                int64_t *o;
                if (!p)
                        return;
                w->store_part = p;
                o = realloc(w->store_off, (size_t)cap * sizeof(*o));
                if (!o)
                        return;
                w->store_off = o;
                w->capstore = cap;
        }
        w->store_part[w->nstore] = partition;
        w->store_off[w->nstore] = offset;
        w->nstore++;
}

/* Store the advanced offsets of this poll round in one call. */
static void flush_store(worker_t *w) {
        rd_kafka_topic_partition_list_t *l;
        rd_kafka_resp_err_t e;

        if (!w->nstore)
                return;
        l = rd_kafka_topic_partition_list_new(w->nstore);
        for (int i = 0; i < w->nstore; i++)
                rd_kafka_topic_partition_list_add(l, w->topic, w->store_part[i])
                        ->offset = w->store_off[i];
        e = rd_kafka_offsets_store(w->consumer, l);
        if (e)
                SWARM_DEBUG(w->log, "offsets_store: %s (partition revoked?)",
                            rd_kafka_err2str(e));
        rd_kafka_topic_partition_list_destroy(l);
        w->nstore = 0;
}

static int produce_dlq(worker_t *w, job_t *j);

static void finish_job(worker_t *w, job_t *j) {
        int64_t off;
        if (offtrack_done(w->track, j->ref, &off))
                remember_store(w, j->ref.partition, off);
        job_free(w, j);
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
        worker_t *w = opaque;
        job_t *j = m->_private;

        (void)rk;
        if (!j)
                return;
        if (!m->err) {
                finish_job(w, j);
                return;
        }
        if (j->to_reply_topic) {
                /* The requested reply topic refused the record (missing, not
                 * authorized): the request is dead-lettered with the reason. */
                snprintf(j->error, sizeof(j->error),
                         "response could not be delivered to reply_topic \"%.*s\": %s",
                         (int)j->req.reply_topic.len, j->req.reply_topic.ptr,
                         rd_kafka_err2str(m->err));
                SWARM_WARN(w->log, "%s; dead-lettering partition=%d offset=%" PRId64,
                           j->error, (int)j->msg->partition, j->msg->offset);
                j->kind = JOB_DLQ;
                if (!produce_dlq(w, j))
                        return;
        }
        /* The result or dead-letter topic itself failed after librdkafka's
         * retries.  Not storing the offset keeps the request for the next
         * worker; exiting lets the fleet replace this one. */
        set_fatal(w, "delivery to %s failed: %s", rd_kafka_topic_name(m->rkt),
                 rd_kafka_err2str(m->err));
        SWARM_ERROR(w->log, "delivery to %s failed: %s partition=%d offset=%" PRId64,
                    rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err),
                    (int)j->msg->partition, j->msg->offset);
        job_free(w, j);
}

/* Produce with backpressure: on a full local queue serve delivery reports
 * and retry. */
static int produce(worker_t *w, const char *topic, size_t topic_len, void *key,
                   size_t key_len, void *val, size_t val_len,
                   rd_kafka_headers_t *hdrs, job_t *j) {
        char tbuf[256];
        rd_kafka_resp_err_t e;

        if (topic_len >= sizeof(tbuf))
                topic_len = sizeof(tbuf) - 1;
        memcpy(tbuf, topic, topic_len);
        tbuf[topic_len] = '\0';
        for (;;) {
                e = rd_kafka_producev(
                        w->producer, RD_KAFKA_V_TOPIC(tbuf),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
                        RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE(val, val_len),
                        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(j),
                        RD_KAFKA_V_END);
                if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        break;
                rd_kafka_poll(w->producer, 10);
        }
        if (e) {
                if (hdrs)
                        rd_kafka_headers_destroy(hdrs);
                free(val);
                SWARM_ERROR(w->log, "produce to %s failed: %s", tbuf,
                            rd_kafka_err2str(e));
                return -1;
        }
        return 0;
}

static int produce_dlq(worker_t *w, job_t *j) {
        rd_kafka_headers_t *h = rd_kafka_headers_new(4);
        const rd_kafka_message_t *m = j->msg;
        char num[32];
        void *copy = malloc(m->len ? m->len : 1);

        if (!copy) {
                rd_kafka_headers_destroy(h);
                return -1;
        }
        if (m->len)
                memcpy(copy, m->payload, m->len);
        rd_kafka_header_add(h, "swarm.dlq.reason", -1, j->error, -1);
        rd_kafka_header_add(h, "swarm.dlq.topic", -1, rd_kafka_topic_name(m->rkt), -1);
        snprintf(num, sizeof(num), "%d", (int)m->partition);
        rd_kafka_header_add(h, "swarm.dlq.partition", -1, num, -1);
        snprintf(num, sizeof(num), "%" PRId64, m->offset);
        rd_kafka_header_add(h, "swarm.dlq.offset", -1, num, -1);
        rd_kafka_header_add(h, "swarm.dlq.worker", -1, w->name, -1);
        j->to_reply_topic = 0;
        stat_add(w, &w->st.dlq, 1);
        swarm_metrics_add(w->s_dlq, 1);
        return produce(w, w->dlq, strlen(w->dlq), m->key, m->key_len, copy,
                       m->len, h, j);
}

static int produce_response(worker_t *w, batch_t *b, job_t *j, int64_t row0) {
        swarm_response_t resp;
        swarm_buf_t buf = {0};
        swarm_err_t err;
        size_t len;
        uint8_t *bytes;
        const char *topic = w->results;
        size_t topic_len = strlen(w->results);
        swarm_status_t st = j->kind == JOB_ERROR ? j->status : b->status;

        memset(&resp, 0, sizeof(resp));
        swarm_err_clear(&err);
        resp.request_id = j->req.request_id;
        resp.model = j->req.model;
        resp.version = j->model ? j->model->version : (j->req.has_version ? j->req.version : 0);
        resp.status = st;
        if (st != SWARM_STATUS_OK) {
                resp.has_error = 1;
                resp.error = swarm_str(j->kind == JOB_ERROR ? j->error : b->error);
        } else {
                /* the job's own reference: the batch's first job may already
                 * be delivered and released */
                const swarm_model_t *m = j->model->m;
                resp.n_outputs = swarm_model_n_outputs(m);
                for (int i = 0; i < resp.n_outputs; i++) {
                        const swarm_model_io_t *io = swarm_model_output(m, i);
                        swarm_tensor_t *t = &resp.outputs[i];
                        t->name = swarm_str(io->name);
                        t->dtype = io->dtype;
                        t->ndim = io->ndim;
                        memcpy(t->shape, io->shape, sizeof(t->shape));
                        t->shape[0] = j->rows;
                        t->data = (const char *)b->out[i] + (size_t)row0 * io->row_bytes;
                        t->size = (size_t)j->rows * io->row_bytes;
                }
        }
        resp.queue_us = (b->start_us > j->recv_us ? b->start_us - j->recv_us : 0);
        resp.compute_us = j->kind == JOB_INFER ? b->compute_us : 0;
        resp.batch_rows = j->kind == JOB_INFER ? (int32_t)b->rows : 0;
        resp.worker = swarm_str(w->name);
        resp.source_partition = j->msg->partition;
        resp.source_offset = j->msg->offset;

        if (swarm_codec_encode_response(w->codec, &resp, &buf, &err)) {
                /* Cannot encode (out of memory): dead-letter with the reason
                 * rather than drop the request. */
                snprintf(j->error, sizeof(j->error), "encoding the response failed: %s",
                         err.msg);
                swarm_buf_free(&buf);
                return produce_dlq(w, j);
        }
        bytes = swarm_buf_steal(&buf, &len);
        if (j->req.has_reply_topic && j->req.reply_topic.len > 0) {
                topic = j->req.reply_topic.ptr;
                topic_len = j->req.reply_topic.len;
                j->to_reply_topic = 1;
        }
        {
                char ver[16];
                const char *lv[4];
                int64_t ts_type_ms;
                rd_kafka_timestamp_type_t tt;
                snprintf(ver, sizeof(ver), "%d", (int)resp.version);
                lv[0] = j->model ? j->model->name : "";
                lv[1] = j->model ? ver : "";
                lv[2] = swarm_status_name(st);
                lv[3] = NULL;
                /* an unknown model's name is user input: one label value for
                 * all of them keeps the series count bounded */
                if (!j->model)
                        lv[0] = "unknown";
                swarm_metrics_add(swarm_metrics_with(w->m_requests, lv), 1);
                if (j->kind == JOB_INFER)
                        swarm_metrics_observe(w->s_queue, (double)resp.queue_us / 1e6);
                ts_type_ms = rd_kafka_message_timestamp(j->msg, &tt);
                if (ts_type_ms > 0 && tt != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE)
                        swarm_metrics_observe(w->s_e2e,
                                              (double)(wall_ms() - ts_type_ms) / 1e3);
        }
        switch (st) {
        case SWARM_STATUS_OK: stat_add(w, &w->st.ok, 1); break;
        case SWARM_STATUS_INVALID_REQUEST: stat_add(w, &w->st.invalid, 1); break;
        case SWARM_STATUS_MODEL_NOT_FOUND: stat_add(w, &w->st.not_found, 1); break;
        case SWARM_STATUS_DEADLINE_EXCEEDED: stat_add(w, &w->st.deadline, 1); break;
        default: stat_add(w, &w->st.internal, 1); break;
        }
        return produce(w, topic, topic_len, (void *)j->req.request_id.ptr,
                       j->req.request_id.len, bytes, len, NULL, j);
}

static void emit_batch(worker_t *w, batch_t *b) {
        int64_t row = 0;
        job_t *j, *next;

        for (j = b->jobs; j; j = next) {
                int r;
                next = j->next;
                j->next = NULL;
                if (j->kind == JOB_DLQ)
                        r = produce_dlq(w, j);
                else
                        r = produce_response(w, b, j, row);
                if (j->kind == JOB_INFER)
                        row += j->rows;
                if (r) {
                        set_fatal(w, "could not produce a response");
                        job_free(w, j);
                }
        }
        batch_free(b);
}

static void *out_main(void *arg) {
        worker_t *w = arg;
        queue_t *q = &w->outq;

        for (;;) {
                batch_t *b;
                pthread_mutex_lock(&q->lock);
                /* wake at least every 2 ms to serve delivery reports */
                if (!q->head && !q->closed)
                        cond_wait_until(&q->cond, &q->lock, now_us() + 2000);
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
                        emit_batch(w, b);
                rd_kafka_poll(w->producer, 0);
                flush_store(w);
                atomic_fetch_add(&w->store_rounds, 1);
                swarm_metrics_set(w->s_inflight, (double)offtrack_inflight(w->track));
        }
        /* every delivery report must be in before offsets are final */
        while (rd_kafka_outq_len(w->producer) > 0) {
                rd_kafka_poll(w->producer, 50);
                flush_store(w);
        }
        rd_kafka_poll(w->producer, 0);
        flush_store(w);
        atomic_store(&w->out_done, 1);
        return NULL;
}

/* ----------------------------------------------------- group & run */

/* Wait until every consumed message is answered and acknowledged. */
static void drain(worker_t *w) {
        int64_t t0 = now_us();
        uint_fast64_t round;

        atomic_store(&w->flush, 1);
        pthread_mutex_lock(&w->execq.lock);
        pthread_cond_broadcast(&w->execq.cond);
        pthread_mutex_unlock(&w->execq.lock);
        while (offtrack_inflight(w->track) > 0 && !w->fatal)
                usleep(1000);
        /* the delivery report that emptied the tracker ran inside an output
         * round; that round stores the offsets at its end */
        round = atomic_load(&w->store_rounds);
        while (atomic_load(&w->store_rounds) <= round && !w->fatal &&
               !atomic_load(&w->out_done))
                usleep(200);
        atomic_store(&w->flush, 0);
        SWARM_DEBUG(w->log, "drained in %" PRId64 " us", now_us() - t0);
}

static void commit_sync(worker_t *w) {
        rd_kafka_resp_err_t e = rd_kafka_commit(w->consumer, NULL, 0);
        if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
                SWARM_WARN(w->log, "commit failed: %s", rd_kafka_err2str(e));
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t e,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
        worker_t *w = opaque;
        int coop = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
        rd_kafka_error_t *error = NULL;

        if (e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
                for (int i = 0; i < parts->cnt; i++)
                        offtrack_reset(w->track, parts->elems[i].partition);
                SWARM_INFO(w->log, "assigned partitions=%d protocol=%s", parts->cnt,
                           rd_kafka_rebalance_protocol(rk));
                if (coop) {
                        error = rd_kafka_incremental_assign(rk, parts);
                        atomic_fetch_add(&w->assigned, parts->cnt);
                } else {
                        rd_kafka_assign(rk, parts);
                        atomic_store(&w->assigned, parts->cnt);
                }
                swarm_metrics_set(w->s_assigned, atomic_load(&w->assigned));
        } else {
                /* Finish what was consumed from these partitions and commit
                 * it, so the next owner starts exactly where we stopped. */
                SWARM_INFO(w->log, "revoking partitions=%d, draining", parts->cnt);
                drain(w);
                commit_sync(w);
                if (coop) {
                        error = rd_kafka_incremental_unassign(rk, parts);
                        atomic_fetch_sub(&w->assigned, parts->cnt);
                } else {
                        rd_kafka_assign(rk, NULL);
                        atomic_store(&w->assigned, 0);
                }
                swarm_metrics_set(w->s_assigned, atomic_load(&w->assigned));
        }
        if (error) {
                SWARM_ERROR(w->log, "rebalance: %s", rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
        }
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
                NULL};
        rd_kafka_conf_t *kc;
        rd_kafka_topic_partition_list_t *topics;
        rd_kafka_resp_err_t e;
        int r;

        if ((r = swarm_kafka_conf(w->conf, prod_defaults, &w->kop, &kc, err)))
                return r;
        /* consumer-only keys would make the producer warn; drop them */
        rd_kafka_conf_set_dr_msg_cb(kc, dr_cb);
        rd_kafka_conf_set_opaque(kc, w);
        if ((r = swarm_kafka_new(RD_KAFKA_PRODUCER, kc, &w->producer, err)))
                return r;

        if ((r = swarm_kafka_conf(w->conf, cons_defaults, &w->kop, &kc, err)))
                return r;
        /* the offsets we store are the truth: never store on poll */
        rd_kafka_conf_set(kc, "enable.auto.offset.store", "false", NULL, 0);
        rd_kafka_conf_set_rebalance_cb(kc, rebalance_cb);
        rd_kafka_conf_set_opaque(kc, w);
        if ((r = swarm_kafka_new(RD_KAFKA_CONSUMER, kc, &w->consumer, err)))
                return r;
        rd_kafka_poll_set_consumer(w->consumer);
        topics = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(topics, w->topic, RD_KAFKA_PARTITION_UA);
        e = rd_kafka_subscribe(w->consumer, topics);
        rd_kafka_topic_partition_list_destroy(topics);
        if (e)
                return swarm_err_set(err, SWARM_ERR_KAFKA, "subscribe to %s: %s",
                                     w->topic, rd_kafka_err2str(e));
        return SWARM_OK;
}

int worker_run(worker_t *w, volatile sig_atomic_t *stop, swarm_err_t *err) {
        pthread_t exec_t, out_t;
        int r;

        if ((r = start_kafka(w, err)))
                return r;
        {
                int64_t port;
                if ((r = swarm_conf_get_i64(w->conf, "swarm.metrics.port", 0, &port, err)))
                        return r;
                if (port >= 0 &&
                    (r = swarm_metrics_http_start(w->metrics, (int)port, ready_cb, w,
                                                  w->log, &w->http, err)))
                        return r;
        }
        SWARM_INFO(w->log,
                   "worker started name=%s topic=%s results=%s dlq=%s models=%d "
                   "max_batch_rows=%" PRId64 " max_delay_us=%" PRId64
                   " blas_threads=%d backend=%s",
                   w->name, w->topic, w->results, w->dlq, models_count(w->mm),
                   w->max_batch_rows, w->max_delay_us, w->blas_threads,
                   w->backend->name);
        pthread_create(&exec_t, NULL, exec_main, w);
        pthread_create(&out_t, NULL, out_main, w);

        while (!*stop && !w->fatal) {
                rd_kafka_message_t *msg = rd_kafka_consumer_poll(w->consumer, 100);
                if (!msg)
                        continue;
                if (msg->err) {
                        if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                                SWARM_WARN(w->log, "consumer: %s",
                                           rd_kafka_message_errstr(msg));
                        rd_kafka_message_destroy(msg);
                        continue;
                }
                handle_message(w, msg);
        }

        SWARM_INFO(w->log, "stopping: finishing batches in hand");
        if (!w->fatal) {
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
        if (!w->fatal)
                commit_sync(w);
        rd_kafka_consumer_close(w->consumer);
        rd_kafka_flush(w->producer, 10000);
        if (w->fatal)
                return swarm_err_set(err, SWARM_ERR_KAFKA, "%s", w->fatal_msg);
        SWARM_INFO(w->log, "stopped cleanly, left the group");
        return SWARM_OK;
}
