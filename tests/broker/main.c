/*
 * swarm-broker - a local Kafka broker in one command.
 *
 *   swarm-broker [--topic NAME:PARTITIONS]... [--bootstrap-file PATH]
 *                [--cache DIR] [--mock] [--kafka-version V] ...
 *
 * Prints "bootstrap.servers=HOST:PORT" as the first stdout line once the
 * topics have leaders and runs until SIGTERM/SIGINT.  Exit: 0 ok, 1 runtime
 * error, 2 usage error.  Logs go to stderr.
 */
#include "broker.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarm/metrics.h"

#define DEFAULT_KAFKA_VERSION "3.9.2"

volatile sig_atomic_t swarm_broker_stop = 0;
volatile sig_atomic_t swarm_broker_ready = 0;

static void on_signal(int sig) {
        (void)sig;
        swarm_broker_stop = 1;
}

static void usage(FILE *f) {
        fprintf(f,
"usage: swarm-broker [options]\n"
"\n"
"Runs a local Kafka broker until SIGTERM/SIGINT.  Once the topics have\n"
"leaders, prints 'bootstrap.servers=HOST:PORT' as the first stdout line.\n"
"\n"
"  --topic NAME:PARTITIONS   create a topic (repeatable)\n"
"  --bootstrap-file PATH     also write the bootstrap line there (atomically)\n"
"  --cache DIR               broker jar cache (default $SWARM_CACHE,\n"
"                            $XDG_CACHE_HOME/swarm or ~/.cache/swarm)\n"
"  --kafka-version V         Apache Kafka broker version (default " DEFAULT_KAFKA_VERSION ")\n"
"  --start-timeout S         seconds to wait for the broker (default 120)\n"
"  --mock                    librdkafka's mock cluster instead (no JVM;\n"
"                            NOT a real broker, see docs/kafka.md)\n"
"  --mock-brokers N          brokers in the mock cluster (default 1)\n"
"  --watch-group G           mock: warn when group G's committed offset falls\n"
"                            below a partition's low watermark (repeatable)\n"
"  --log-level L             error|warn|info|debug (default info)\n"
"  --metrics-port P          serve /metrics /healthz /readyz (0: any free\n"
"                            port, logged; default off)\n"
"  --help                    this text\n"
"\n"
"Environment: SWARM_CACHE, SWARM_BROKER_POM (pom.xml used to fetch the jars)\n"
"Exit status: 0 ok, 1 runtime error, 2 usage error.\n");
}

/* Parse a decimal int in [min, max]. */
static int parse_int(const char *s, int min, int max, int *out) {
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < min || v > max)
                return -1;
        *out = (int)v;
        return 0;
}

static int parse_topic(swarm_broker_opts_t *o, char *arg, swarm_err_t *err) {
        char *colon = strrchr(arg, ':');
        int n = 1;

        if (o->topic_cnt >= SWARM_BROKER_MAX_TOPICS)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "at most %d topics",
                                     SWARM_BROKER_MAX_TOPICS);
        if (colon) {
                *colon = '\0';
                if (parse_int(colon + 1, 1, 10000, &n))
                        return swarm_err_set(err, SWARM_ERR_INVALID,
                                             "--topic %s: bad partition "
                                             "count '%s'", arg, colon + 1);
        }
        if (!*arg || strlen(arg) > 249)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "--topic: bad topic name");
        o->topics[o->topic_cnt].name = arg;
        o->topics[o->topic_cnt].partitions = n;
        o->topic_cnt++;
        return SWARM_OK;
}

static int takes_value(const char *opt) {
        static const char *const names[] = {
                "--topic",         "--bootstrap-file", "--cache",
                "--kafka-version", "--start-timeout",  "--mock-brokers",
                "--watch-group",   "--log-level",      "--metrics-port"};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                if (!strcmp(opt, names[i]))
                        return 1;
        return 0;
}

/* Returns 0 to run, 1 for --help, -1 on a usage error (err set). */
static int parse_args(swarm_broker_opts_t *o, int argc, char **argv,
                      swarm_err_t *err) {
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                char *v = NULL;

                if (!strcmp(a, "--help") || !strcmp(a, "-h"))
                        return 1;
                if (!strcmp(a, "--mock")) {
                        o->mock = 1;
                        continue;
                }
                if (strncmp(a, "--", 2) != 0) {
                        swarm_err_set(err, SWARM_ERR_INVALID,
                                      "unexpected argument '%s'", a);
                        return -1;
                }
                /* Every remaining option takes a value. */
                if (!takes_value(a)) {
                        swarm_err_set(err, SWARM_ERR_INVALID,
                                      "unknown option '%s'", a);
                        return -1;
                }
                if (i + 1 >= argc) {
                        swarm_err_set(err, SWARM_ERR_INVALID,
                                      "%s needs a value", a);
                        return -1;
                }
                v = argv[++i];
                if (!strcmp(a, "--topic")) {
                        if (parse_topic(o, v, err))
                                return -1;
                } else if (!strcmp(a, "--bootstrap-file")) {
                        o->bootstrap_file = v;
                } else if (!strcmp(a, "--cache")) {
                        o->cache_dir = v;
                } else if (!strcmp(a, "--kafka-version")) {
                        if (!*v || strchr(v, '/')) {
                                swarm_err_set(err, SWARM_ERR_INVALID,
                                              "bad --kafka-version '%s'", v);
                                return -1;
                        }
                        o->kafka_version = v;
                } else if (!strcmp(a, "--start-timeout")) {
                        if (parse_int(v, 1, 3600, &o->start_timeout_s)) {
                                swarm_err_set(err, SWARM_ERR_INVALID,
                                              "bad --start-timeout '%s'", v);
                                return -1;
                        }
                } else if (!strcmp(a, "--mock-brokers")) {
                        if (parse_int(v, 1, 16, &o->mock_brokers)) {
                                swarm_err_set(err, SWARM_ERR_INVALID,
                                              "bad --mock-brokers '%s'", v);
                                return -1;
                        }
                } else if (!strcmp(a, "--watch-group")) {
                        if (o->group_cnt >= SWARM_BROKER_MAX_GROUPS) {
                                swarm_err_set(err, SWARM_ERR_INVALID,
                                              "at most %d --watch-group",
                                              SWARM_BROKER_MAX_GROUPS);
                                return -1;
                        }
                        o->groups[o->group_cnt++] = v;
                } else if (!strcmp(a, "--metrics-port")) {
                        if (parse_int(v, 0, 65535, &o->metrics_port)) {
                                swarm_err_set(err, SWARM_ERR_INVALID,
                                              "bad --metrics-port '%s'", v);
                                return -1;
                        }
                } else if (!strcmp(a, "--log-level")) {
                        int l = swarm_log_level_parse(v);
                        if (l < 0) {
                                swarm_err_set(err, SWARM_ERR_INVALID,
                                              "bad --log-level '%s'", v);
                                return -1;
                        }
                        o->log.level = (swarm_level_t)l;
                } else {
                        swarm_err_set(err, SWARM_ERR_INVALID,
                                      "unknown option '%s'", a);
                        return -1;
                }
        }
        if (o->group_cnt && !o->mock) {
                swarm_err_set(err, SWARM_ERR_INVALID,
                              "--watch-group needs --mock (a real broker "
                              "keeps what it acknowledged until retention)");
                return -1;
        }
        return 0;
}

/* Broker metrics: what tests and dashboards need to see that the broker is
 * there and what it serves.  Readiness is "the bootstrap line is out". */
typedef struct broker_metrics {
        swarm_metrics_t *reg;
        swarm_metrics_http_t *http;
} broker_metrics_t;

static int broker_ready(void *opaque) {
        (void)opaque;
        return swarm_broker_ready;
}

static int start_metrics(const swarm_broker_opts_t *o, broker_metrics_t *bm,
                         swarm_err_t *err) {
        static const char *const tl[] = {"topic", NULL};
        swarm_metric_t *f;
        int r;

        if ((r = swarm_metrics_new(&bm->reg, err)) ||
            (r = swarm_metrics_gauge(bm->reg, "swarm_broker_up",
                                     "1 while swarm-broker runs.", NULL, &f, err)))
                return r;
        swarm_metrics_set(swarm_metrics_with(f, NULL), 1);
        if ((r = swarm_metrics_gauge(bm->reg, "swarm_broker_mock",
                                     "1: librdkafka mock cluster, 0: real KRaft broker.",
                                     NULL, &f, err)))
                return r;
        swarm_metrics_set(swarm_metrics_with(f, NULL), o->mock);
        if ((r = swarm_metrics_gauge(bm->reg, "swarm_broker_topic_partitions",
                                     "Partitions of each topic created at start.",
                                     tl, &f, err)))
                return r;
        for (int i = 0; i < o->topic_cnt; i++)
                swarm_metrics_set(swarm_metrics_with(f, (const char *const[]){o->topics[i].name}),
                                  o->topics[i].partitions);
        return swarm_metrics_http_start(bm->reg, o->metrics_port, broker_ready,
                                        NULL, &o->log, &bm->http, err);
}

int main(int argc, char **argv) {
        swarm_broker_opts_t o = {
                .kafka_version = DEFAULT_KAFKA_VERSION,
                .mock_brokers = 1,
                .start_timeout_s = 120,
                .metrics_port = -1,
                .log = {.level = SWARM_LOG_INFO, .prog = "swarm-broker"},
        };
        struct sigaction sa = {0};
        broker_metrics_t bm = {0};
        swarm_err_t err;
        int r;

        swarm_err_clear(&err);
        r = parse_args(&o, argc, argv, &err);
        if (r == 1) {
                usage(stdout);
                return 0;
        }
        if (r < 0) {
                fprintf(stderr, "swarm-broker: %s\n", err.msg);
                usage(stderr);
                return 2;
        }

        /* No SA_RESTART: a signal must interrupt sleeps and waits so the
         * stop flag is seen at once. */
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);

        if (o.metrics_port >= 0 && start_metrics(&o, &bm, &err)) {
                SWARM_ERROR(&o.log, "%s", err.msg);
                return 1;
        }
        r = o.mock ? swarm_broker_mock_run(&o, &err)
                   : swarm_broker_kraft_run(&o, &err);
        swarm_metrics_http_stop(bm.http);
        swarm_metrics_destroy(bm.reg);
        if (r != SWARM_OK && swarm_broker_stop) {
                /* Asked to stop before the broker was ready: not a failure
                 * of ours, and cleanup has run. */
                SWARM_INFO(&o.log, "stopped during startup (%s)", err.msg);
                return 0;
        }
        if (r != SWARM_OK) {
                SWARM_ERROR(&o.log, "%s code=%s", err.msg,
                            swarm_code_name(err.code));
                return 1;
        }
        return 0;
}
