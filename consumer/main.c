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
         "rows decoded ahead of execution (0: 4 x max batch rows)", "0", 0},
        {"blas-threads", 0, "swarm.blas.threads", "N",
         "BLAS threads (0: cores - 1, at least 1)", "0", 0},
        {"worker-name", 0, "swarm.worker.name", "NAME",
         "name reported in responses (default host-pid)", NULL, 0},
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

static int add_models(const swarm_conf_t *conf, worker_t *w, swarm_err_t *err) {
        size_t n = swarm_conf_count(conf, "swarm.model");
        for (size_t i = 0; i < n; i++) {
                const char *spec = swarm_conf_get_nth(conf, "swarm.model", i);
                const char *eq = strchr(spec, '=');
                char name[256];
                long version = 1;
                char *colon, *end;
                int r;

                if (!eq || eq == spec || (size_t)(eq - spec) >= sizeof(name))
                        return swarm_err_set(err, SWARM_ERR_CONFIG,
                                             "--model expects NAME[:VERSION]=FILE, got \"%s\"",
                                             spec);
                memcpy(name, spec, (size_t)(eq - spec));
                name[eq - spec] = '\0';
                if ((colon = strchr(name, ':'))) {
                        *colon = '\0';
                        version = strtol(colon + 1, &end, 10);
                        if (*end || version < 1 || version > 0x7fffffff)
                                return swarm_err_set(err, SWARM_ERR_CONFIG,
                                                     "--model %s: bad version", spec);
                }
                if ((r = worker_add_model(w, name, (int32_t)version, eq + 1, err)))
                        return r;
        }
        return SWARM_OK;
}

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
        if (!swarm_conf_count(conf, "swarm.model")) {
                fprintf(stderr, "swarm-consumer: no model: give --model NAME=FILE.onnx\n");
                rc = 2;
                goto out;
        }
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);

        if (worker_new(conf, &log, &w, &err) || add_models(conf, w, &err) ||
            worker_run(w, &stop_flag, &err))
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
