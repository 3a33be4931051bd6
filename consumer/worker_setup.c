/*
 * worker_setup.c - building and tearing down a worker (worker.h,
 * worker_int.h): settings derived from the options, the codec, backend,
 * model manager and metrics series; the summary line at exit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "swarm/clock.h"
#include "swarm/device.h"
#include "swarm/schemareg.h"
#include "worker_int.h"

/* The exec queue holds at least this many rows when --max-queue-rows is 0
 * (else 4 x max batch rows): room for the batch being filled, one waiting
 * and one in compute, and for registry deployments with bigger batches. */
#define EXECQ_MIN_ROWS 4096
/* The drain on revoke stops waiting this long before max.poll.interval.ms,
 * and at most after half of it. */
#define DRAIN_MARGIN_MS 10000

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
        swarm_clock_cond_init(&w->execq.cond);
        swarm_clock_cond_init(&w->execq.space);
        batcher_init(&w->execq.b);
        pthread_mutex_init(&w->outq.lock, NULL);
        swarm_clock_cond_init(&w->outq.cond);
        swarm_clock_cond_init(&w->outq.space);

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
                int64_t mpi = 300000;
                if (o->max_inflight_mb < 1) {
                        r = swarm_err_set(err, SWARM_ERR_CONFIG, "max inflight MB must be >= 1");
                        goto fail;
                }
                if ((r = swarm_conf_get_i64(conf, "max.poll.interval.ms", 300000, &mpi,
                                            err)))
                        goto fail;
                /* 0 messages: --max-queue-rows, so the exec queue cannot
                 * fill before fetching pauses */
                w->max_inflight_msgs = o->max_inflight_messages > 0 ? o->max_inflight_messages
                                                                    : w->max_queue_rows;
                w->max_inflight_bytes = o->max_inflight_mb << 20;
                w->drain_deadline_ms = mpi - DRAIN_MARGIN_MS < mpi / 2
                                               ? mpi / 2
                                               : mpi - DRAIN_MARGIN_MS;
        }
        if ((r = reply_new(o->results, o->reply_topics,
                           &w->reply, err)) ||
            (r = swarm_codec_new(&w->codec, err)) ||
            (r = swarm_schemareg_setup(conf, log, w->codec, o->topic,
                                       o->results, err)) ||
            (r = offtrack_new(&w->track, err)) ||
            (r = swarm_precision_parse(o->precision, &prec, err)) ||
            (r = swarm_backend_select_prec(o->device, prec, w->blas_threads, log,
                                           &w->backend, err)))
                goto fail;
        if (!o->winograd)
                swarm_backend_no_winograd(w->backend);
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
        swarm_metrics_http_destroy(w->http);
        if (w->consumer)
                rd_kafka_destroy(w->consumer);
        while (w->parked) {
                job_t *j = w->parked;
                w->parked = job_of(j->it.next);
                job_destroy(w->mm, j);
        }
        /* jobs still queued in the producer hold model references */
        output_destroy(w->out);
        job_pool_drain(&w->jobs);
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
