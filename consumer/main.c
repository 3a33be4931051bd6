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
        {"dlq", 0, "swarm.dlq", "TOPIC",
         "dead-letter topic for undecodable requests", "requests.dlq", 0},
        {"max-batch-rows", 0, "swarm.max.batch.rows", "N",
         "most rows in one micro-batch", "256", 0},
        {"max-delay-us", 0, "swarm.max.delay.us", "US",
         "longest a row waits for its batch to fill", "2000", 0},
        {"max-queue-rows", 0, "swarm.max.queue.rows", "N",
         "rows decoded ahead of execution (0: 4 x max batch rows, at least 4096)",
         "0", 0},
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

int main(int argc, char **argv) {
        swarm_conf_t *conf = NULL;
        swarm_log_t log = {SWARM_LOG_INFO, "swarm-consumer", NULL};
        worker_t *w = NULL;
        worker_stats_t st;
        swarm_err_t err;
        struct sigaction sa;
        int argi, code, rc = 1;

        swarm_err_clear(&err);
        if (swarm_conf_new(&conf, &err))
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
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);

        if (worker_new(conf, &log, &w, &err) || worker_run(w, &stop_flag, &err))
                goto out;
        rc = 0;
out:
        if (err.code)
                SWARM_ERROR(&log, "%s", err.msg);
        if (w) {
                worker_stats(w, &st);
                SWARM_INFO(&log,
                           "summary messages=%lld ok=%lld invalid_request=%lld "
                           "model_not_found=%lld deadline_exceeded=%lld "
                           "internal_error=%lld dead_lettered=%lld batches=%lld "
                           "mean_batch_rows=%.1f",
                           (long long)st.messages, (long long)st.ok,
                           (long long)st.invalid, (long long)st.not_found,
                           (long long)st.deadline, (long long)st.internal,
                           (long long)st.dlq, (long long)st.batches,
                           st.batches ? (double)st.batch_rows / (double)st.batches : 0.0);
        }
        worker_destroy(w);
        swarm_conf_destroy(conf);
        return rc;
}
