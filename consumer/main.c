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
#include "swarm/device.h"
#include "swarm/log.h"
#include "txn.h" /* TXN_DEFAULT_*: the defaults of --txn-ms, --txn-max-records */
#include "worker.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig) {
        (void)sig;
        stop_flag = 1;
}

/* The port a worker's /metrics is scraped on unless told otherwise (the
 * scaler's local actuator gives its workers a free port each). */
#define CONSUMER_METRICS_PORT "9464"

static int check_device(const char *value, swarm_err_t *err) {
        swarm_device_spec_t spec;
        return swarm_device_parse(value, &spec, err);
}

#define F(m) SWARM_FIELD(worker_opts_t, m)
static const swarm_opt_t opts[] = {
        {"model", 'm', "swarm.model", "NAME",
         "registry model to serve (default: every model whose deployment names "
         "this worker's topic)", NULL, 1, SWARM_OPT_LIST, .field = F(serve)},
        {"model-file", 'M', "swarm.model.file", "NAME[:VERSION]=FILE.onnx",
         "serve an ONNX model file (version defaults to 1)", NULL, 1,
         SWARM_OPT_LIST, .field = F(model_files)},
        {"results", 'r', "swarm.results", "TOPIC",
         "result topic (a request's reply_topic overrides it)", "results", 0,
         .field = F(results)},
        {"reply-topics", 0, "swarm.reply.topics", "REGEX",
         "topics a request's reply_topic may name besides --results (POSIX "
         "extended regex, whole name; default: none)", NULL, 0,
         .field = F(reply_topics)},
        {"dlq", 0, "swarm.dlq", "TOPIC",
         "dead-letter topic for undecodable requests", "requests.dlq", 0,
         .field = F(dlq)},
        {"max-batch-rows", 0, "swarm.max.batch.rows", "N",
         "most rows in one micro-batch", "256", 0, SWARM_OPT_INT, 1, 1 << 20,
         .field = F(max_batch_rows)},
        {"max-delay-us", 0, "swarm.max.delay.us", "US",
         "longest a row waits for its batch to fill", "2000", 0, SWARM_OPT_INT, 0,
         60e6, .field = F(max_delay_us)},
        {"max-queue-rows", 0, "swarm.max.queue.rows", "N",
         "rows decoded ahead of execution (0: 4 x max batch rows, at least 4096)",
         "0", 0, SWARM_OPT_INT, 0, 1 << 30, .field = F(max_queue_rows)},
        {"max-inflight-messages", 0, "swarm.max.inflight.messages", "N",
         "consumed messages not yet answered before fetching pauses (0: "
         "--max-queue-rows as resolved)", "0", 0, SWARM_OPT_INT, 0, 1 << 30,
         .field = F(max_inflight_messages)},
        {"max-inflight-mb", 0, "swarm.max.inflight.mb", "MB",
         "bytes of consumed messages not yet answered before fetching pauses",
         "256", 0, SWARM_OPT_INT, 1, 1 << 20, .field = F(max_inflight_mb)},
        {"batch-memory-mb", 0, "swarm.batch.memory.mb", "MB",
         "cap a batch's rows so the model's working memory stays under MB "
         "(0: no cap)", "0", 0, SWARM_OPT_INT, 0, 1 << 24, .field = F(batch_memory_mb)},
        {"blas-threads", 0, "swarm.blas.threads", "N",
         "BLAS threads (0: cores - 1, at least 1)", "0", 0, SWARM_OPT_INT, 0, 1024,
         .field = F(blas_threads)},
        {"worker-name", 0, "swarm.worker.name", "NAME",
         "name reported in responses (default host-pid)", NULL, 0, .field = F(name)},
        {"metrics-port", 0, "swarm.metrics.port", "PORT",
         "serve /metrics, /healthz, /readyz (0: a free port, logged; -1: off)",
         CONSUMER_METRICS_PORT, 0, SWARM_OPT_INT, -1, 65535, .field = F(metrics_port)},
        {"metrics-bind", 0, "swarm.metrics.bind", "ADDR",
         "numeric address the metrics server listens on (default: all IPv4 "
         "interfaces; 127.0.0.1 keeps it local)", NULL, 0, .field = F(metrics_bind)},
        {"device", 0, "swarm.device", "auto|cpu|cuda[:N]",
         "where models run (auto: a GPU when present, else the CPU)", "auto", 0,
         .check = check_device, .field = F(device)},
        {"precision", 0, "swarm.precision", "fp32|tf32|fp16|bf16",
         "GEMM precision on a GPU (weights converted once; fp32 accumulation; "
         "the CPU always computes fp32)", "fp32", 0, .choices = "fp32|tf32|fp16|bf16",
         .field = F(precision)},
        {"registry", 'R', "swarm.registry", "CONNINFO",
         "serve models from the PostgreSQL registry (libpq conninfo; \"\" = PG* "
         "environment)", NULL, 0, .field = F(registry)},
        {"alias", 'a', "swarm.alias", "ALIAS",
         "alias a request without a version gets", "production", 0, .field = F(alias)},
        {"cache-mb", 0, "swarm.cache.mb", "MB",
         "memory bound of the loaded-version cache (0: none)", "1024", 0,
         SWARM_OPT_INT, 0, 1 << 24, .field = F(cache_mb)},
        {"state-dir", 0, "swarm.state.dir", "DIR",
         "keep the last known registry state (artifacts, aliases) here", NULL, 0,
         .field = F(state_dir)},
        {"exactly-once", 0, "swarm.exactly.once", NULL,
         "transactional output: responses, dead letters and offsets commit together "
         "(read_committed readers see each answer once; needs --worker-name or "
         "-X group.instance.id, stable across restarts)", "false", 0, SWARM_OPT_BOOL,
         .field = F(exactly_once)},
        {"txn-ms", 0, "swarm.txn.ms", "MS",
         "exactly-once: commit the open transaction at least this often",
         SWARM_STRINGIFY(TXN_DEFAULT_MS), 0,
         SWARM_OPT_INT, 1, 600000, .field = F(txn_ms)},
        {"txn-max-records", 0, "swarm.txn.max.records", "N",
         "exactly-once: or once it holds this many records",
         SWARM_STRINGIFY(TXN_DEFAULT_MAX_RECORDS), 0, SWARM_OPT_INT,
         1, 1 << 24, .field = F(txn_max_records)},
        {"start-from-state", 0, "swarm.start.from.state", NULL,
         "start from --state-dir when the registry is unreachable", "false", 0,
         SWARM_OPT_BOOL, .field = F(start_from_state)},
        {"warmup", 0, "swarm.warmup", NULL,
         "run every model once on zeros before joining the group, so a worker "
         "added under load has no cold first batch (-X swarm.warmup=false: off)",
         "true", 0, SWARM_OPT_BOOL, .field = F(warmup)},
        {"winograd", 0, "swarm.winograd", NULL,
         "CPU: Winograd for the 3x3 convolutions where it measured faster "
         "(filters held transformed, about 4x their memory; "
         "-X swarm.winograd=false: the packed direct path)", "true", 0,
         SWARM_OPT_BOOL, .field = F(winograd)},
        {"stop-timeout-ms", 0, "swarm.stop.timeout.ms", "MS",
         "longest a stop (drain, flush, commit, leave) may take before the "
         "worker exits anyway (status 3), as when the broker is gone", "30000", 0,
         SWARM_OPT_INT, 100, 3600000, .field = F(stop_timeout_ms)},
        {"revoke-defer-ms", 0, "swarm.revoke.defer.ms", "MS",
         "hold a cooperative revocation back this long before handing the "
         "partitions over (librdkafka 2.0.2 then delivers no message of any "
         "partition: measured worse, see bench/scaling; 0: at once)", "0", 0,
         SWARM_OPT_INT, 0,
         60000, .field = F(revoke_defer_ms)},
        {"fast-rejoin", 0, "swarm.fast.rejoin", NULL,
         "after a rebalance that gives this worker nothing new, rejoin at once, so "
         "the cooperative protocol's second round (a joiner's partitions) starts "
         "without librdkafka's 1 s join interval (consumer/rejoin.h)", "true", 0,
         SWARM_OPT_BOOL, .field = F(fast_rejoin)},
        {"fetch-wake", 0, "swarm.fetch.wake", NULL,
         "after a rebalance, seek the partitions kept to their position, so their "
         "fetch resumes at once instead of within a second (consumer/rejoin.h)",
         "true", 0, SWARM_OPT_BOOL, .field = F(fetch_wake)},
        {"heartbeat-pace-ms", 0, "swarm.heartbeat.pace.ms", "MS",
         "wake librdkafka's main thread this often, so heartbeats keep "
         "heartbeat.interval.ms and a departure is noticed in time (0: off; "
         "consumer/rejoin.h)", "25", 0, SWARM_OPT_INT, 0, 10000,
         .field = F(heartbeat_pace_ms)},
        SWARM_OPT_END,
};
#undef F

static const swarm_cli_t cli = {
        "swarm-consumer",
        "-b BROKERS [-t TOPIC] [-g GROUP] (-M NAME=FILE.onnx | -R CONNINFO) [options]",
        "Joins consumer group GROUP (default " WORKER_GROUP_DEFAULT ") on TOPIC (default\n"
        "requests), micro-batches rows per model and version, runs them and\n"
        "writes one response per request.  Offsets are committed only after\n"
        "every response of a message is acknowledged by the broker.",
        opts,
        SWARM_CLI_ALL,
        "requests",
        SWARM_FIELD(worker_opts_t, topic),
};

int main(int argc, char **argv) {
        swarm_conf_t *conf = NULL;
        swarm_log_t log = {SWARM_LOG_INFO, "swarm-consumer", NULL};
        worker_t *w = NULL;
        worker_opts_t o;
        swarm_err_t err;
        struct sigaction sa;
        int argi, done, rc = 1;

        memset(&o, 0, sizeof(o));
        swarm_err_clear(&err);
        if (swarm_cli_start(&cli, argc, argv, &log, &o, &conf, &argi, &done, &err)) {
                rc = swarm_cli_fail(&cli, &err);
                swarm_err_clear(&err);
                goto out;
        }
        if (done) {
                rc = 0;
                goto out;
        }
        if (argi < argc) {
                swarm_err_set(&err, SWARM_ERR_CONFIG, "unexpected argument \"%s\"",
                              argv[argi]);
                rc = swarm_cli_error(&cli, &err);
                swarm_err_clear(&err);
                goto out;
        }
        if (!o.model_files.n && !o.registry) {
                swarm_err_set(&err, SWARM_ERR_CONFIG,
                              "no model: give --model-file NAME=FILE.onnx or "
                              "--registry CONNINFO");
                rc = swarm_cli_error(&cli, &err);
                swarm_err_clear(&err);
                goto out;
        }
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
        swarm_opts_destroy(&cli, &o);
        swarm_conf_destroy(conf);
        return rc;
}
