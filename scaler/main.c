/*
 * swarm-scaler - lag-driven autoscaling of the worker fleet.
 *
 *   swarm-scaler -b B -t T -g G [options] [-- WORKER COMMAND...]
 *   swarm-scaler status -b B -t T -g G [--registry CONNINFO]
 *
 * Thin program: every poll reads the group's committed offsets and the
 * topic's watermarks (watch.c), asks the policy (policy.c) for a worker
 * count, logs and exports the decision, and hands it to the actuator
 * (actuator.c).  docs/scaler.md explains the rule and the settings.
 */
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy.h"
#include "scaler.h"
#include "status_page.h"
#include "swarm/conf.h"
#include "swarm/log.h"
#include "swarm/metrics.h"
#include "swarm/registry.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig) {
        (void)sig;
        stop_flag = 1;
}

/* The scaler's /metrics port unless told otherwise (a fixed one, for
 * Prometheus scrape configs; the worker's is 9464). */
#define SCALER_METRICS_PORT "9465"

/* Settings from the option table below, which holds every default (the
 * policy's come from policy.h). */
typedef struct scaler_opts {
        const char *topic, *actuator, *exec, *registry, *model;
        int64_t min_workers, max_workers, metrics_port;
        double poll_s, drain_target_s, worker_capacity, rate_window_s,
                scale_down_window_s, idle_window_s, stall_window_s, hysteresis,
                settle_s, stop_timeout_s;
        int no_group_api;
} scaler_opts_t;

#define F(m) SWARM_FIELD(scaler_opts_t, m)
#define S(x) SWARM_STRINGIFY(x)
static const swarm_opt_t opts[] = {
        {"min", 0, "swarm.min.workers", "N", "fewest workers (0: scale to zero when idle)",
         S(POLICY_MIN_WORKERS), 0, SWARM_OPT_INT, 0, POLICY_MAX_WORKERS_LIMIT,
         .field = F(min_workers)},
        {"max", 0, "swarm.max.workers", "N", "most workers (also capped by the partition count)",
         S(POLICY_MAX_WORKERS), 0, SWARM_OPT_INT, 1, POLICY_MAX_WORKERS_LIMIT,
         .field = F(max_workers)},
        {"poll-interval", 0, "swarm.poll.interval.s", "S", "seconds between polls", "2", 0,
         SWARM_OPT_DOUBLE, 0.01, 3600, .field = F(poll_s)},
        {"drain-target", 0, "swarm.drain.target.s", "S", "drain a backlog within this many seconds",
         S(POLICY_DRAIN_TARGET_S), 0, SWARM_OPT_DOUBLE, 0.001, 1e6,
         .field = F(drain_target_s)},
        {"worker-capacity", 0, "swarm.worker.capacity", "R",
         "requests/s one worker handles, until measured", S(POLICY_WORKER_CAPACITY), 0,
         SWARM_OPT_DOUBLE, 1e-6, 1e12, .field = F(worker_capacity)},
        {"rate-window", 0, "swarm.rate.window.s", "S", "rates are measured over this window",
         S(POLICY_RATE_WINDOW_S), 0, SWARM_OPT_DOUBLE, 0.001, 1e6, .field = F(rate_window_s)},
        {"scale-down-window", 0, "swarm.scale.down.window.s", "S",
         "stabilization window before removing workers", S(POLICY_SCALE_DOWN_WINDOW_S), 0,
         SWARM_OPT_DOUBLE, 0, 1e6, .field = F(scale_down_window_s)},
        {"idle-window", 0, "swarm.idle.window.s", "S",
         "no traffic this long: go to --min (0 included)", S(POLICY_IDLE_WINDOW_S), 0,
         SWARM_OPT_DOUBLE, 0, 1e7, .field = F(idle_window_s)},
        {"stall-window", 0, "swarm.stall.window.s", "S",
         "a partition with lag whose offset is frozen this long is stuck",
         S(POLICY_STALL_WINDOW_S), 0, SWARM_OPT_DOUBLE, 0.001, 1e6,
         .field = F(stall_window_s)},
        {"hysteresis", 0, "swarm.hysteresis", "F",
         "shrink only if the smaller fleet covers (1+F) x the need", S(POLICY_HYSTERESIS), 0,
         SWARM_OPT_DOUBLE, 0, 100, .field = F(hysteresis)},
        {"settle", 0, "swarm.settle.s", "S",
         "after a fleet change, wait before measuring worker capacity", S(POLICY_SETTLE_S), 0,
         SWARM_OPT_DOUBLE, 0, 1e6, .field = F(settle_s)},
        {"actuator", 0, "swarm.actuator", "none|local|exec",
         "who starts and stops workers", "none", 0, .choices = "none|local|exec",
         .field = F(actuator)},
        {"exec", 0, "swarm.exec", "CMD", "--actuator exec: command with {n}", NULL, 0,
         .field = F(exec)},
        {"stop-timeout", 0, "swarm.stop.timeout.s", "S",
         "SIGKILL a stopping worker after this many seconds", "60", 0,
         SWARM_OPT_DOUBLE, 0, 1e6, .field = F(stop_timeout_s)},
        {"metrics-port", 0, "swarm.metrics.port", "PORT",
         "serve /metrics /healthz /readyz (0: any free port, logged; -1: off)",
         SCALER_METRICS_PORT, 0, SWARM_OPT_INT, -1, 65535, .field = F(metrics_port)},
        {"registry", 'R', "swarm.registry", "CONNINFO",
         "take min/max workers, drain target and topic from this registry's "
         "deployment settings of --model (they win over flags)", NULL, 0,
         .field = F(registry)},
        {"model", 'm', "swarm.model", "NAME",
         "the registry model whose deployment this scaler runs", NULL, 0,
         .field = F(model)},
        {"no-group-api", 0, "swarm.no.group.api", NULL,
         "do not ask the broker for group membership (mock cluster)", "false", 0,
         SWARM_OPT_BOOL, .field = F(no_group_api)},
        SWARM_OPT_END,
};
#undef S
#undef F

static const swarm_cli_t cli = {
        "swarm-scaler",
        "-b BROKERS -t TOPIC -g GROUP [options] [-- WORKER COMMAND...]\n"
        "       swarm-scaler status -b BROKERS -t TOPIC -g GROUP [--registry CONNINFO]",
        "Watches GROUP's lag on TOPIC and sizes the worker fleet so the backlog\n"
        "drains within --drain-target while keeping up with arrivals.  With\n"
        "--actuator local it runs the worker command itself; with --actuator exec\n"
        "it runs a command such as 'kubectl scale deployment/swarm-consumer\n"
        "--replicas={n}'.  'status' prints one screen and exits: partitions, lag,\n"
        "rates, members, and with --registry the models deployed on TOPIC with\n"
        "their production/staging versions and deployment settings.",
        opts,
        SWARM_CLI_ALL,
        NULL,
        SWARM_FIELD(scaler_opts_t, topic),
};

/* What the scaler exports: one handle per series, made once. */
typedef struct mset {
        swarm_metrics_t *reg;
        swarm_metric_t *lag, *high, *committed, *stuck_p, *decisions;
        swarm_series_t *lag_total, *lag_s, *arrival, *consume, *capacity,
                *desired, *workers, *members, *stuck, *restarts, *polls,
                *poll_errors;
        swarm_series_t *poll_seconds;
        atomic_int polled;    /* readiness: one good poll; read by the HTTP thread */
} mset_t;

static int ready(void *opaque) {
        return atomic_load(&((mset_t *)opaque)->polled);
}

static int metrics_init(mset_t *ms, swarm_err_t *err) {
        static const char *const part[] = {"topic", "partition", NULL};
        static const char *const dec[] = {"direction", "reason", NULL};
        swarm_metric_t *f;
        int r;

#define GAUGE(field, name, help)                                               \
        if ((r = swarm_metrics_gauge(ms->reg, name, help, NULL, &f, err)))     \
                return r;                                                      \
        ms->field = swarm_metrics_with(f, NULL);
#define COUNTER(field, name, help)                                             \
        if ((r = swarm_metrics_counter(ms->reg, name, help, NULL, &f, err)))   \
                return r;                                                      \
        ms->field = swarm_metrics_with(f, NULL);

        if ((r = swarm_metrics_new(&ms->reg, err)) ||
            (r = swarm_metrics_gauge(ms->reg, "swarm_scaler_partition_lag",
                                     "Requests not yet committed by the group, per partition.",
                                     part, &ms->lag, err)) ||
            (r = swarm_metrics_gauge(ms->reg, "swarm_scaler_partition_high_watermark",
                                     "High watermark per partition.", part, &ms->high, err)) ||
            (r = swarm_metrics_gauge(ms->reg, "swarm_scaler_partition_committed_offset",
                                     "Group's committed offset per partition (-1: none).",
                                     part, &ms->committed, err)) ||
            (r = swarm_metrics_gauge(ms->reg, "swarm_scaler_partition_stuck",
                                     "1 when the partition has lag and its offset is frozen "
                                     "while others move.", part, &ms->stuck_p, err)) ||
            (r = swarm_metrics_counter(ms->reg, "swarm_scaler_decisions_total",
                                       "Policy decisions (one per poll) by direction and reason.",
                                       dec, &ms->decisions, err)))
                return r;
        GAUGE(lag_total, "swarm_scaler_lag", "Total lag of the group (requests).");
        GAUGE(lag_s, "swarm_scaler_lag_seconds", "Lag divided by the consumption rate.");
        GAUGE(arrival, "swarm_scaler_arrival_rate", "Requests per second arriving (high watermarks).");
        GAUGE(consume, "swarm_scaler_consumption_rate", "Requests per second committed by the group.");
        GAUGE(capacity, "swarm_scaler_worker_capacity", "Requests per second one worker handles (estimate).");
        GAUGE(desired, "swarm_scaler_desired_workers", "Workers the policy wants.");
        GAUGE(workers, "swarm_scaler_workers", "Workers running (as the actuator counts them).");
        GAUGE(members, "swarm_scaler_group_members", "Members of the consumer group (-1: unknown).");
        GAUGE(stuck, "swarm_scaler_stuck_partitions", "Partitions reported stuck.");
        COUNTER(restarts, "swarm_scaler_worker_restarts_total", "Local workers that died and were replaced.");
        COUNTER(polls, "swarm_scaler_polls_total", "Polls of Kafka.");
        COUNTER(poll_errors, "swarm_scaler_poll_errors_total", "Polls that failed.");
        {
                static const double b[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
                if ((r = swarm_metrics_histogram(ms->reg, "swarm_scaler_poll_duration_seconds",
                                                 "Time to read offsets, watermarks and membership.",
                                                 NULL, b, sizeof(b) / sizeof(b[0]), &f, err)))
                        return r;
                ms->poll_seconds = swarm_metrics_with(f, NULL);
        }
#undef GAUGE
#undef COUNTER
        return SWARM_OK;
}

/* Registry deployment settings of --model, layered over the flags (the
 * last value of the command-line layer wins, and these come last).  A
 * deployment value of 0 / empty means "not set" and leaves the flag.
 * lag_target is read as the drain target in seconds: how much backlog, in
 * time, the deployment tolerates. */
static int apply_registry(swarm_conf_t *c, const scaler_opts_t *o, int status,
                          const swarm_log_t *log, swarm_err_t *err) {
        const char *conninfo = o->registry;
        const char *model = o->model;
        swarm_registry_t *reg = NULL;
        swarm_registry_deployment_t d;
        char v[32], origin[300];
        int r;

        if (!conninfo)
                return SWARM_OK;
        /* status lists every model on the topic; it needs no --model */
        if (!model && status)
                return SWARM_OK;
        if (!model)
                return swarm_err_set(err, SWARM_ERR_CONFIG,
                                     "--registry needs --model NAME");
        memset(&d, 0, sizeof(d));
        if ((r = swarm_registry_connect(conninfo, log, &reg, err)) ||
            (r = swarm_registry_deployment(reg, model, &d, err)))
                goto out;
        snprintf(origin, sizeof(origin), "registry deployment of %s", model);
#define SET_INT(field, key)                                                    \
        if (!r && d.field > 0) {                                               \
                snprintf(v, sizeof(v), "%lld", (long long)d.field);            \
                r = swarm_conf_add(c, SWARM_CONF_CLI, key, v, origin, err);    \
        }
        SET_INT(min_workers, "swarm.min.workers")
        SET_INT(max_workers, "swarm.max.workers")
        SET_INT(lag_target, "swarm.drain.target.s")
#undef SET_INT
        if (!r && d.request_topic && *d.request_topic)
                r = swarm_conf_add(c, SWARM_CONF_CLI, "swarm.topic", d.request_topic,
                                   origin, err);
        if (!r)
                SWARM_INFO(log, "deployment settings model=%s min=%lld max=%lld "
                                "drain_target_s=%lld topic=%s",
                           model, (long long)d.min_workers, (long long)d.max_workers,
                           (long long)d.lag_target,
                           d.request_topic ? d.request_topic : "(flag)");
out:
        swarm_registry_deployment_destroy(&d);
        swarm_registry_destroy(reg);
        return r;
}

static int conf_policy(const scaler_opts_t *o, policy_conf_t *p, swarm_err_t *err) {
        policy_conf_default(p);
        if (o->min_workers > o->max_workers)
                return swarm_err_set(err, SWARM_ERR_CONFIG,
                                     "need 0 <= --min <= --max <= %d",
                                     POLICY_MAX_WORKERS_LIMIT);
        p->min_workers = (int)o->min_workers;
        p->max_workers = (int)o->max_workers;
        p->drain_target_s = o->drain_target_s;
        p->worker_capacity = o->worker_capacity;
        p->rate_window_s = o->rate_window_s;
        p->scale_down_window_s = o->scale_down_window_s;
        p->idle_window_s = o->idle_window_s;
        p->stall_window_s = o->stall_window_s;
        p->hysteresis = o->hysteresis;
        p->settle_s = o->settle_s;
        return SWARM_OK;
}

static const char *dir_name(policy_dir_t d) {
        return d == POLICY_UP ? "up" : d == POLICY_DOWN ? "down" : "hold";
}

static void export(mset_t *ms, const char *topic, const policy_t *p,
                   const policy_decision_t *d, int members, long restarts) {
        const policy_part_t *pp = policy_parts(p);
        char num[16];
        for (int i = 0; i < policy_partitions(p); i++) {
                const char *const v[] = {topic, num};
                snprintf(num, sizeof(num), "%d", i);
                /* a scan per partition and poll: partitions are few and
                 * polls seconds apart, so no handle cache is needed here */
                swarm_metrics_set(swarm_metrics_with(ms->lag, v), (double)pp[i].lag);
                swarm_metrics_set(swarm_metrics_with(ms->high, v), (double)pp[i].high);
                swarm_metrics_set(swarm_metrics_with(ms->committed, v), (double)pp[i].committed);
                swarm_metrics_set(swarm_metrics_with(ms->stuck_p, v), pp[i].stuck);
        }
        swarm_metrics_set(ms->lag_total, (double)d->lag);
        swarm_metrics_set(ms->lag_s, d->lag_s);
        swarm_metrics_set(ms->arrival, d->arrival_rate);
        swarm_metrics_set(ms->consume, d->consume_rate);
        swarm_metrics_set(ms->capacity, d->capacity);
        swarm_metrics_set(ms->desired, d->desired);
        swarm_metrics_set(ms->workers, d->current);
        swarm_metrics_set(ms->members, members);
        swarm_metrics_set(ms->stuck, d->stuck);
        swarm_metrics_set(ms->restarts, (double)restarts);
        swarm_metrics_add(swarm_metrics_with(ms->decisions,
                                             (const char *const[]){dir_name(d->dir), d->reason}),
                          1);
}

static void sleep_s(double s) {
        if (s > 0)
                usleep((useconds_t)(s * 1e6));
}

/* Most models listed by status, so the screen stays one screen. */
#define STATUS_MAX_MODELS 8

/* status: the models the registry deploys on `topic` (deployment
 * request_topic), each with the versions its production and staging aliases
 * point at (what workers load) and its deployment settings.  What the
 * workers actually run is not visible from Kafka; the registry's aliases are
 * what they follow (they LISTEN for alias moves). */
static int print_models(const char *conninfo, const char *topic,
                        const swarm_log_t *log, swarm_err_t *err) {
        static const char *const aliases[] = {"production", "staging"};
        swarm_registry_t *reg = NULL;
        char **names = NULL;
        int r, n = 0;

        if (!conninfo) {
                printf("models: unknown (give --registry)\n");
                return SWARM_OK;
        }
        if ((r = swarm_registry_connect(conninfo, log, &reg, err)) ||
            (r = swarm_registry_models_for_topic(reg, topic, &names, err))) {
                printf("models: unknown (registry: %s)\n", err->msg);
                goto out;
        }
        while (names[n])
                n++;
        printf("models on %s (registry): %d\n", topic, n);
        for (int i = 0; i < n && i < STATUS_MAX_MODELS; i++) {
                swarm_registry_deployment_t d;
                char vers[96] = "", set[160];
                size_t len = 0;

                for (size_t k = 0; k < sizeof(aliases) / sizeof(aliases[0]); k++) {
                        swarm_registry_version_t v;
                        memset(&v, 0, sizeof(v));
                        r = swarm_registry_resolve(reg, names[i], aliases[k], 0, &v, err);
                        if (r == SWARM_OK)
                                len += (size_t)snprintf(vers + len, sizeof(vers) - len,
                                                        "%s%s v%d", len ? "  " : "",
                                                        aliases[k], (int)v.version);
                        else if (r == SWARM_ERR_NOT_FOUND && k == 0)
                                /* no production alias: say so, staging is optional */
                                len += (size_t)snprintf(vers + len, sizeof(vers) - len,
                                                        "production -");
                        swarm_registry_version_destroy(&v);
                        if (r && r != SWARM_ERR_NOT_FOUND)
                                goto out;
                        swarm_err_clear(err);
                        r = SWARM_OK;
                        if (len >= sizeof(vers))
                                len = sizeof(vers) - 1;
                }
                memset(&d, 0, sizeof(d));
                if ((r = swarm_registry_deployment(reg, names[i], &d, err)))
                        goto out;
                /* 0 is "not set" (a flag or the worker's default
                 * applies): shown as "-" */
                {
                        char a[5][24];
                        const int64_t v[5] = {d.min_workers, d.max_workers,
                                              d.max_batch_rows, d.max_delay_us,
                                              d.lag_target};
                        for (int k = 0; k < 5; k++)
                                snprintf(a[k], sizeof(a[k]), v[k] > 0 ? "%lld" : "-",
                                         (long long)v[k]);
                        snprintf(set, sizeof(set),
                                 "workers %s..%s  batch %s rows/%s us  drain %s s%s%s",
                                 a[0], a[1], a[2], a[3], a[4],
                                 d.device && *d.device ? "  " : "",
                                 d.device && *d.device ? d.device : "");
                }
                swarm_registry_deployment_destroy(&d);
                printf("  %-16s %-28s %s\n", names[i], vers, set);
        }
        if (n > STATUS_MAX_MODELS)
                printf("  ... %d more (swarm-registry list)\n", n - STATUS_MAX_MODELS);
        if (n)
                printf("(-: not set in the deployment; flags or defaults apply)\n");
out:
        swarm_registry_names_destroy(names);
        swarm_registry_destroy(reg);
        return r;
}

/* status: two polls a second apart (rates need two samples), one screen. */
static int run_status(const swarm_conf_t *conf, const scaler_opts_t *o,
                      const char *topic, const char *group, int group_api,
                      const swarm_log_t *log, swarm_err_t *err) {
        watch_t *w = NULL;
        policy_t *p = NULL;
        policy_conf_t pc;
        policy_decision_t d;
        policy_part_in_t *in = NULL;
        watch_group_t g;
        int r;

        if ((r = conf_policy(o, &pc, err)) ||
            (r = watch_new(conf, topic, group, group_api, log, &w, err)) ||
            (r = policy_new(&pc, watch_partitions(w), &p, err)))
                goto out;
        if (!(in = calloc((size_t)watch_partitions(w), sizeof(*in)))) {
                r = swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                goto out;
        }
        for (int k = 0; k < 2; k++) {
                if (k)
                        sleep_s(1.0);
                if ((r = watch_poll(w, in, &g, err)))
                        goto out;
                policy_update(p, scaler_now(), in, g.members > 0 ? g.members : 0, &d);
        }
        {
                char mem[48];
                if (g.members >= 0)
                        snprintf(mem, sizeof(mem), "%d", g.members);
                else
                        snprintf(mem, sizeof(mem), "unknown (no group API)");
                printf("group %s  topic %s  partitions %d  state %s  members %s\n",
                       group, topic, watch_partitions(w), g.state, mem);
        }
        printf("\n%9s %14s %14s %12s %s\n", "partition", "high", "committed", "lag", "");
        for (int i = 0; i < watch_partitions(w); i++) {
                const policy_part_t *q = &policy_parts(p)[i];
                char comm[24];
                if (q->committed >= 0)
                        snprintf(comm, sizeof(comm), "%lld", (long long)q->committed);
                else
                        snprintf(comm, sizeof(comm), "-");
                printf("%9d %14lld %14s %12lld %s\n", i, (long long)q->high, comm,
                       (long long)q->lag, q->stuck ? "STUCK" : "");
        }
        printf("\nlag %lld  lag_seconds %.1f  consumption %.0f/s  arrival %.0f/s\n",
               (long long)d.lag, d.lag_s, d.consume_rate, d.arrival_rate);
        printf("(rates over 1 s; stuck partitions need the running scaler's "
               "--stall-window history)\n");
        r = print_models(o->registry, topic, log, err);
out:
        free(in);
        policy_destroy(p);
        watch_destroy(w);
        return r;
}

int main(int argc, char **argv) {
        swarm_conf_t *conf = NULL;
        swarm_log_t log = {SWARM_LOG_INFO, "swarm-scaler", NULL};
        mset_t ms = {0};
        swarm_metrics_http_t *http = NULL;
        watch_t *w = NULL;
        policy_t *p = NULL;
        status_page_t *sp = NULL;
        actuator_t *act = NULL;
        policy_part_in_t *in = NULL;
        policy_conf_t pc;
        swarm_err_t err;
        struct sigaction sa;
        const char *topic, *group, *akind;
        const char *last_reason = "";
        int argi, rc = 1, status = 0, group_api, last_desired = -1;
        scaler_opts_t so;
        int64_t port;
        double poll_s, stop_timeout, next_poll;
        actuator_kind_t kind;

        swarm_err_clear(&err);
        memset(&so, 0, sizeof(so));
        if (argc > 1 && !strcmp(argv[1], "status")) {
                status = 1;
                argv++;
                argc--;
        }
        /* usage errors first: nothing below may connect before they are
         * ruled out (the topic may still come from the registry) */
        if ((rc = swarm_cli_main(&cli, argc, argv, &log, &so, &conf, &argi)) >= 0)
                goto out;
        rc = 1;
        group = swarm_conf_get(conf, "group.id");
        if (!swarm_conf_get(conf, "bootstrap.servers") || !group ||
            (!so.topic && !(so.registry && so.model))) {
                swarm_err_set(&err, SWARM_ERR_CONFIG, "-b, -t and -g are required");
        } else if (so.registry && !so.model && !status) {
                swarm_err_set(&err, SWARM_ERR_CONFIG, "--registry needs --model NAME");
        } else if (!status && (!strcmp(so.actuator, "local")) != (argi < argc)) {
                swarm_err_set(&err, SWARM_ERR_CONFIG, "%s",
                              !strcmp(so.actuator, "local")
                                      ? "--actuator local needs the worker command after --"
                                      : "a worker command is only used with --actuator local");
        } else if (!status && !strcmp(so.actuator, "exec") && !so.exec) {
                swarm_err_set(&err, SWARM_ERR_CONFIG, "--actuator exec needs --exec CMD");
        } else if (so.min_workers > so.max_workers) {
                swarm_err_set(&err, SWARM_ERR_CONFIG, "need --min <= --max");
        }
        if (err.code) {
                rc = swarm_cli_error(&cli, &err);
                swarm_err_clear(&err);
                goto out;
        }
        /* the registry's deployment settings win over flags: fill again */
        if (apply_registry(conf, &so, status, &log, &err) ||
            swarm_opts_fill(&cli, conf, &so, &err) || conf_policy(&so, &pc, &err))
                goto out;
        topic = so.topic;
        akind = so.actuator;
        group_api = !so.no_group_api;
        poll_s = so.poll_s;
        stop_timeout = so.stop_timeout_s;
        port = so.metrics_port;
        if (status) {
                rc = run_status(conf, &so, topic, group, group_api, &log, &err) ? 1 : 0;
                goto out;
        }
        kind = !strcmp(akind, "local") ? ACTUATOR_LOCAL
               : !strcmp(akind, "exec") ? ACTUATOR_EXEC
                                        : ACTUATOR_NONE;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);

        if (metrics_init(&ms, &err) ||
            (port >= 0 && swarm_metrics_http_start(ms.reg, (int)port, ready, &ms,
                                                   &log, &http, &err)) ||
            actuator_new(kind, argv + argi, so.exec,
                         stop_timeout, &log, &act, &err) ||
            watch_new(conf, topic, group, group_api, &log, &w, &err) ||
            policy_new(&pc, watch_partitions(w), &p, &err) ||
            status_page_new(topic, group, so.registry,
                            fmax(5, poll_s), &log, &sp, &err))
                goto out;
        swarm_metrics_http_page(http, "/", status_page_render, sp);
        if (!(in = calloc((size_t)watch_partitions(w), sizeof(*in)))) {
                swarm_err_set(&err, SWARM_ERR_NOMEM, "out of memory");
                goto out;
        }
        SWARM_INFO(&log, "watching topic=%s group=%s partitions=%d actuator=%s "
                   "min=%d max=%d drain_target_s=%.0f poll_s=%.1f "
                   "scale_down_window_s=%.0f", topic, group, watch_partitions(w),
                   akind, pc.min_workers, pc.max_workers, pc.drain_target_s,
                   poll_s, pc.scale_down_window_s);
        /* local: start at min at once instead of waiting for a poll */
        if (kind == ACTUATOR_LOCAL &&
            actuator_tick(act, pc.min_workers, scaler_now(), &err))
                goto out;

        next_poll = scaler_now();
        while (!stop_flag) {
                double now = scaler_now(), t0;
                watch_group_t g;
                policy_decision_t d;
                int workers;

                if (now < next_poll) {
                        if (actuator_tick(act, last_desired, now, &err))
                                goto out;
                        sleep_s(fmin(0.2, next_poll - now));
                        continue;
                }
                next_poll = now + poll_s;
                t0 = now;
                swarm_metrics_add(ms.polls, 1);
                if (watch_poll(w, in, &g, &err)) {
                        /* Kafka hiccups are retried at the next poll; the
                         * fleet stays as it is meanwhile. */
                        SWARM_WARN(&log, "poll failed: %s", err.msg);
                        swarm_metrics_add(ms.poll_errors, 1);
                        swarm_err_clear(&err);
                        continue;
                }
                swarm_metrics_observe(ms.poll_seconds, scaler_now() - t0);
                /* who counts as a worker: the processes we run (local), else
                 * the group's members when known, else what we last applied */
                workers = kind == ACTUATOR_LOCAL ? actuator_workers(act)
                          : g.members >= 0       ? g.members
                          : actuator_workers(act) >= 0 ? actuator_workers(act)
                                                       : pc.min_workers;
                policy_update(p, now, in, workers, &d);
                export(&ms, topic, p, &d, g.members, actuator_restarts(act));
                status_page_record(sp, now, p, &d, &g);
                atomic_store(&ms.polled, 1);
                if (d.dir != POLICY_HOLD || strcmp(last_reason, d.reason))
                        SWARM_INFO(&log, "decision %s workers=%d desired=%d reason=%s %s",
                                   dir_name(d.dir), d.current, d.desired, d.reason,
                                   d.detail);
                else
                        SWARM_DEBUG(&log, "decision hold workers=%d desired=%d reason=%s %s",
                                    d.current, d.desired, d.reason, d.detail);
                last_reason = d.reason;
                last_desired = d.desired;
                if (actuator_tick(act, d.desired, now, &err)) {
                        SWARM_WARN(&log, "actuator: %s", err.msg);
                        swarm_err_clear(&err);
                }
        }
        rc = 0;
out:
        if (err.code)
                SWARM_ERROR(&log, "%s", err.msg);
        actuator_destroy(act);
        swarm_metrics_http_destroy(http);
        status_page_destroy(sp);
        free(in);
        policy_destroy(p);
        watch_destroy(w);
        swarm_metrics_destroy(ms.reg);
        swarm_conf_destroy(conf);
        return rc;
}
