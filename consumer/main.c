/*
 * swarm-consumer - the batching inference worker.
 *
 * Thin program: parse the command line into a conf, load the models, run the
 * worker until SIGTERM/SIGINT.  Everything else lives in worker.c.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarm/conf.h"
#include "swarm/log.h"
#include "worker.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig) {
        (void)sig;
        stop_flag = 1;
}

static const swarm_opt_t opts[] = {
        {"model", 'm', "swarm.model", "NAME[:VERSION]=FILE.onnx",
         "serve an ONNX model (version defaults to 1)", NULL, 1},
        {"results", 'r', "swarm.results", "TOPIC",
         "result topic (a request's reply_topic overrides it)", "results", 0},
        {"reply-topics", 0, "swarm.reply.topics", "REGEX",
         "topics a request's reply_topic may name besides --results (POSIX "
         "extended regex, whole name; default: none)", NULL, 0},
        {"dlq", 0, "swarm.dlq", "TOPIC",
         "dead-letter topic for undecodable requests", "requests.dlq", 0},
        {"max-batch-rows", 0, "swarm.max.batch.rows", "N",
         "most rows in one micro-batch", "256", 0},
        {"max-delay-us", 0, "swarm.max.delay.us", "US",
         "longest a row waits for its batch to fill", "2000", 0},
        {"max-queue-rows", 0, "swarm.max.queue.rows", "N",
         "rows decoded ahead of execution (0: 4 x max batch rows, at least 4096)",
         "0", 0},
        {"max-inflight-messages", 0, "swarm.max.inflight.messages", "N",
         "consumed messages not yet answered before fetching pauses (0: "
         "--max-queue-rows as resolved)", "0", 0},
        {"max-inflight-mb", 0, "swarm.max.inflight.mb", "MB",
         "bytes of consumed messages not yet answered before fetching pauses",
         "256", 0},
        {"batch-memory-mb", 0, "swarm.batch.memory.mb", "MB",
         "cap a batch's rows so the model's working memory stays under MB "
         "(0: no cap)", "0", 0},
        {"blas-threads", 0, "swarm.blas.threads", "N",
         "BLAS threads (0: cores - 1, at least 1)", "0", 0},
        {"worker-name", 0, "swarm.worker.name", "NAME",
         "name reported in responses (default host-pid)", NULL, 0},
        {"metrics-port", 0, "swarm.metrics.port", "PORT",
         "serve /metrics, /healthz, /readyz (0: a free port, logged; -1: off)",
         "0", 0},
        {"metrics-bind", 0, "swarm.metrics.bind", "ADDR",
         "numeric address the metrics server listens on (default: all IPv4 "
         "interfaces; 127.0.0.1 keeps it local)", NULL, 0},
        {"device", 0, "swarm.device", "auto|cpu|cuda[:N]",
         "where models run (auto: a GPU when present, else the CPU)", "auto", 0},
        {"precision", 0, "swarm.precision", "fp32|tf32|fp16|bf16",
         "GEMM precision on a GPU (weights converted once; fp32 accumulation; "
         "the CPU always computes fp32)", "fp32", 0},
        {"registry", 0, "swarm.registry", "CONNINFO",
         "serve models from the PostgreSQL registry (libpq conninfo; \"\" = PG* "
         "environment)", NULL, 0},
        {"serve", 0, "swarm.serve", "NAME",
         "registry model to serve (default: every model whose deployment names "
         "this worker's topic)", NULL, 1},
        {"alias", 0, "swarm.alias", "ALIAS",
         "alias a request without a version gets", "production", 0},
        {"cache-mb", 0, "swarm.cache.mb", "MB",
         "memory bound of the loaded-version cache (0: none)", "1024", 0},
        {"state-dir", 0, "swarm.state.dir", "DIR",
         "keep the last known registry state (artifacts, aliases) here", NULL, 0},
        {"start-from-state", 0, "swarm.start.from.state", NULL,
         "start from --state-dir when the registry is unreachable", NULL, 0},
        SWARM_OPT_END,
};

static const swarm_cli_t cli = {
        "swarm-consumer",
        "-b BROKERS [-t TOPIC] [-g GROUP] -m NAME=FILE.onnx [options]",
        "Joins consumer group GROUP (default swarm-workers) on TOPIC (default\n"
        "requests), micro-batches rows per model and version, runs them and\n"
        "writes one response per request.  Offsets are committed only after\n"
        "every response of a message is acknowledged by the broker.",
        opts,
        SWARM_CLI_ALL,
};

/* Collect a repeatable option's values (borrowed from the conf). */
static int conf_list(const swarm_conf_t *c, const char *key, const char ***v,
                     size_t *n, swarm_err_t *err) {
        *n = swarm_conf_count(c, key);
        *v = calloc(*n ? *n : 1, sizeof(**v));
        if (!*v)
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < *n; i++)
                (*v)[i] = swarm_conf_get_nth(c, key, i);
        return SWARM_OK;
}

/* The worker's settings from the conf; every default is in `opts`. */
static int fill_opts(const swarm_conf_t *c, worker_opts_t *o, swarm_err_t *err) {
        int64_t cache_mb;
        int r;

        memset(o, 0, sizeof(*o));
        o->topic = swarm_conf_get(c, "swarm.topic");
        o->results = swarm_conf_get(c, "swarm.results");
        o->dlq = swarm_conf_get(c, "swarm.dlq");
        o->name = swarm_conf_get(c, "swarm.worker.name");
        o->device = swarm_conf_get(c, "swarm.device");
        o->precision = swarm_conf_get(c, "swarm.precision");
        o->models.conninfo = swarm_conf_get(c, "swarm.registry");
        o->models.use_registry = o->models.conninfo != NULL;
        o->models.alias = swarm_conf_get(c, "swarm.alias");
        o->models.state_dir = swarm_conf_get(c, "swarm.state.dir");
        if ((r = swarm_conf_get_i64(c, "swarm.max.batch.rows", 0, &o->max_batch_rows, err)) ||
            (r = swarm_conf_get_i64(c, "swarm.max.delay.us", 0, &o->max_delay_us, err)) ||
            (r = swarm_conf_get_i64(c, "swarm.max.queue.rows", 0, &o->max_queue_rows, err)) ||
            (r = swarm_conf_get_i64(c, "swarm.batch.memory.mb", 0, &o->batch_memory_mb, err)) ||
            (r = swarm_conf_get_i64(c, "swarm.blas.threads", 0, &o->blas_threads, err)) ||
            (r = swarm_conf_get_i64(c, "swarm.metrics.port", 0, &o->metrics_port, err)) ||
            (r = swarm_conf_get_i64(c, "swarm.cache.mb", 0, &cache_mb, err)) ||
            (r = swarm_conf_get_bool(c, "swarm.start.from.state", 0,
                                     &o->models.start_from_state, err)) ||
            (r = conf_list(c, "swarm.model", (const char ***)&o->models.files,
                           &o->models.n_files, err)) ||
            (r = conf_list(c, "swarm.serve", (const char ***)&o->models.names,
                           &o->models.n_names, err)))
                return r;
        o->models.cache_bytes = cache_mb > 0 ? (size_t)cache_mb << 20 : 0;
        return SWARM_OK;
}

int main(int argc, char **argv) {
        swarm_conf_t *conf = NULL;
        swarm_log_t log = {SWARM_LOG_INFO, "swarm-consumer", NULL};
        worker_t *w = NULL;
        worker_opts_t o;
        swarm_err_t err;
        struct sigaction sa;
        int argi, code, rc = 1;

        memset(&o, 0, sizeof(o));
        swarm_err_clear(&err);
        /* the worker's request topic when -t is not given (the shared -t
         * option has no default: the producer requires one) */
        if (swarm_conf_new(&conf, &err) ||
            swarm_conf_add(conf, SWARM_CONF_DEFAULT, "swarm.topic", "requests",
                           "default", &err))
                goto out;
        swarm_cli_parse(&cli, argc, argv, conf, &argi, &code);
        if (code >= 0) {
                rc = code;
                goto out;
        }
        if (argi < argc) {
                fprintf(stderr, "swarm-consumer: unexpected argument \"%s\"\n", argv[argi]);
                rc = 2;
                goto out;
        }
        log.level = (swarm_level_t)swarm_log_level_parse(
                swarm_conf_get(conf, "swarm.log.level"));
        if (!swarm_conf_count(conf, "swarm.model") &&
            !swarm_conf_get(conf, "swarm.registry")) {
                fprintf(stderr, "swarm-consumer: no model: give --model NAME=FILE.onnx "
                                "or --registry CONNINFO\n");
                rc = 2;
                goto out;
        }
        if (fill_opts(conf, &o, &err))
                goto out;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);

        if (worker_new(&o, conf, &log, &w, &err) || worker_run(w, &stop_flag, &err))
                goto out;
        rc = 0;
out:
        if (err.code)
                SWARM_ERROR(&log, "%s", err.msg);
        worker_log_summary(w);
        worker_destroy(w);
        free((void *)o.models.files);
        free((void *)o.models.names);
        swarm_conf_destroy(conf);
        return rc;
}
