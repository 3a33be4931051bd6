/*
 * swarm-broker - a local Kafka broker in one command.
 *
 *   swarm-broker [--topic NAME:PARTITIONS]... [--bootstrap-file PATH]
 *                [--cache DIR] [--mock] [--kafka-version V] ...
 *
 * The command line is the one every program shares (swarm/conf.h): each
 * option is a swarm.broker.* key, also settable with -c FILE or
 * SWARM_<OPTION>.
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

#include "swarm/conf.h"
#include "swarm/metrics.h"

#define DEFAULT_KAFKA_VERSION "3.9.2"

volatile sig_atomic_t swarm_broker_stop = 0;
volatile sig_atomic_t swarm_broker_ready = 0;

static void on_signal(int sig) {
        (void)sig;
        swarm_broker_stop = 1;
}

/* What the option table fills (swarm_opts_fill()); read_conf() moves it
 * into swarm_broker_opts_t. */
typedef struct cli_opts {
        const char *bootstrap_file, *cache_dir, *kafka_version;
        int mock;
        int64_t start_timeout_s, mock_brokers, metrics_port;
} cli_opts_t;

#define F(m) SWARM_FIELD(cli_opts_t, m)
static const swarm_opt_t opts[] = {
        {"topic", 0, "swarm.broker.topic", "NAME:PARTITIONS",
         "create a topic (partitions default 1)", NULL, 1},
        {"bootstrap-file", 0, "swarm.broker.bootstrap.file", "PATH",
         "also write the bootstrap line there (atomically)", NULL, 0,
         .field = F(bootstrap_file)},
        {"cache", 0, "swarm.broker.cache", "DIR",
         "broker jar cache (default $SWARM_CACHE, $XDG_CACHE_HOME/swarm or "
         "~/.cache/swarm)", NULL, 0, .field = F(cache_dir)},
        {"kafka-version", 0, "swarm.broker.kafka.version", "V",
         "Apache Kafka broker version (see docs/kafka.md)", DEFAULT_KAFKA_VERSION, 0,
         .field = F(kafka_version)},
        {"start-timeout", 0, "swarm.broker.start.timeout.s", "S",
         "seconds to wait for the broker", "120", 0, SWARM_OPT_INT, 1, 3600,
         .field = F(start_timeout_s)},
        {"mock", 0, "swarm.broker.mock", NULL,
         "librdkafka's mock cluster instead (no JVM; NOT a real broker, see "
         "docs/kafka.md)", "false", 0, SWARM_OPT_BOOL, .field = F(mock)},
        {"mock-brokers", 0, "swarm.broker.mock.brokers", "N",
         "brokers in the mock cluster", "1", 0, SWARM_OPT_INT, 1, 16,
         .field = F(mock_brokers)},
        {"watch-group", 0, "swarm.broker.watch.group", "GROUP",
         "mock: warn when GROUP's committed offset falls below a partition's "
         "low watermark", NULL, 1},
        {"metrics-port", 0, "swarm.metrics.port", "PORT",
         "serve /metrics /healthz /readyz (0: any free port, logged; -1: off)",
         "-1", 0, SWARM_OPT_INT, -1, 65535, .field = F(metrics_port)},
        SWARM_OPT_END,
};
#undef F

static const swarm_cli_t cli = {
        "swarm-broker",
        "[--topic NAME:PARTITIONS]... [--bootstrap-file PATH] [--mock] [options]",
        "Runs a local Kafka broker until SIGTERM/SIGINT.  Once the topics have\n"
        "leaders, prints 'bootstrap.servers=HOST:PORT' as the first stdout line.\n"
        "Environment also read: SWARM_CACHE, SWARM_BROKER_POM (the pom.xml used\n"
        "to fetch the jars).  Exit status: 0 ok, 1 runtime error, 2 usage error.",
        opts,
        0,
};

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

/* Read the parsed command line into `o` (swarm_cli_parse() checked the
 * bounds of the typed options already).  Topic strings are copied into
 * `names` (the caller frees them).  Returns -1 on a usage error (err set). */
static int read_conf(swarm_broker_opts_t *o, const cli_opts_t *co, const swarm_conf_t *c,
                     char **names, swarm_err_t *err) {

        for (size_t i = 0; i < swarm_conf_count(c, "swarm.broker.topic"); i++) {
                if (i >= SWARM_BROKER_MAX_TOPICS) {
                        swarm_err_set(err, SWARM_ERR_INVALID, "at most %d topics",
                                      SWARM_BROKER_MAX_TOPICS);
                        return -1;
                }
                names[i] = strdup(swarm_conf_get_nth(c, "swarm.broker.topic", i));
                if (!names[i] || parse_topic(o, names[i], err))
                        return -1;
        }
        for (size_t i = 0; i < swarm_conf_count(c, "swarm.broker.watch.group"); i++) {
                if (o->group_cnt >= SWARM_BROKER_MAX_GROUPS) {
                        swarm_err_set(err, SWARM_ERR_INVALID, "at most %d --watch-group",
                                      SWARM_BROKER_MAX_GROUPS);
                        return -1;
                }
                o->groups[o->group_cnt++] = swarm_conf_get_nth(c, "swarm.broker.watch.group", i);
        }
        o->bootstrap_file = co->bootstrap_file;
        o->cache_dir = co->cache_dir;
        o->kafka_version = co->kafka_version;
        if (!*o->kafka_version || strchr(o->kafka_version, '/')) {
                swarm_err_set(err, SWARM_ERR_INVALID, "bad --kafka-version '%s'",
                              o->kafka_version);
                return -1;
        }
        o->mock = co->mock;
        o->start_timeout_s = (int)co->start_timeout_s;
        o->mock_brokers = (int)co->mock_brokers;
        o->metrics_port = (int)co->metrics_port;
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
        /* the rest comes from the option table (read_conf()) */
        swarm_broker_opts_t o = {
                .log = {.level = SWARM_LOG_INFO, .prog = "swarm-broker"},
        };
        struct sigaction sa = {0};
        broker_metrics_t bm = {0};
        swarm_conf_t *conf = NULL;
        cli_opts_t co = {0};
        char *names[SWARM_BROKER_MAX_TOPICS] = {0};
        swarm_err_t err;
        int r, argi, code;

        swarm_err_clear(&err);
        code = swarm_cli_main(&cli, argc, argv, &o.log, &co, &conf, &argi);
        if (code < 0 && argi < argc) {
                fprintf(stderr, "swarm-broker: unexpected argument '%s'\n", argv[argi]);
                code = 2;
        }
        if (code < 0 && read_conf(&o, &co, conf, names, &err)) {
                fprintf(stderr, "swarm-broker: %s\nTry 'swarm-broker --help'.\n", err.msg);
                code = 2;
        }
        if (code >= 0) {
                r = code;
                goto done;
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
                r = 1;
                goto done;
        }
        r = o.mock ? swarm_broker_mock_run(&o, &err)
                   : swarm_broker_kraft_run(&o, &err);
        swarm_metrics_http_destroy(bm.http);
        swarm_metrics_destroy(bm.reg);
        if (r != SWARM_OK && swarm_broker_stop) {
                /* Asked to stop before the broker was ready: not a failure
                 * of ours, and cleanup has run. */
                SWARM_INFO(&o.log, "stopped during startup (%s)", err.msg);
                r = 0;
        } else if (r != SWARM_OK) {
                SWARM_ERROR(&o.log, "%s code=%s", err.msg,
                            swarm_code_name(err.code));
                r = 1;
        }
done:
        for (int i = 0; i < SWARM_BROKER_MAX_TOPICS; i++)
                free(names[i]);
        swarm_conf_destroy(conf);
        return r;
}
