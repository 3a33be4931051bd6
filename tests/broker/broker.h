/*
 * broker.h - internals of swarm-broker (tests/broker only).
 *
 * swarm-broker runs one Kafka broker for tests, benchmarks and the demo:
 * either a real single-node KRaft broker (kraft.c) fetched from Maven
 * Central into a cache, or librdkafka's in-process mock cluster (mock.c).
 * Both print "bootstrap.servers=HOST:PORT" as the first stdout line once the
 * requested topics have leaders, then run until SIGTERM/SIGINT.
 *
 * Threads: everything runs on the main thread except the mock's offset
 * watcher (mock.c), which only reads its own context.
 */
#ifndef SWARM_BROKER_H
#define SWARM_BROKER_H

#include <signal.h>
#include <sys/types.h>

#include <librdkafka/rdkafka.h>

#include "swarm/clock.h" /* swarm_clock_ms() for the waits */
#include "swarm/err.h"
#include "swarm/log.h"

#define SWARM_BROKER_MAX_TOPICS 64
#define SWARM_BROKER_MAX_GROUPS 16

typedef struct swarm_broker_topic {
        const char *name;       /* borrowed from argv */
        int partitions;
} swarm_broker_topic_t;

typedef struct swarm_broker_opts {
        swarm_broker_topic_t topics[SWARM_BROKER_MAX_TOPICS];
        int topic_cnt;
        const char *groups[SWARM_BROKER_MAX_GROUPS]; /* --watch-group */
        int group_cnt;
        const char *bootstrap_file; /* NULL: stdout only */
        const char *cache_dir;      /* NULL: default (see cache_dir_default) */
        const char *kafka_version;
        int mock;
        int mock_brokers;
        int start_timeout_s;
        int metrics_port;           /* -1: off, 0: any free port */
        swarm_log_t log;
} swarm_broker_opts_t;

/* Set by the SIGTERM/SIGINT handler; the only mutable globals with
 * swarm_broker_ready (set once the bootstrap line is published, read by the
 * metrics server's /readyz). */
extern volatile sig_atomic_t swarm_broker_stop;
extern volatile sig_atomic_t swarm_broker_ready;

/* Run the real KRaft broker until stopped.  Returns SWARM_OK after a clean
 * stop, an error code otherwise (the JVM died, start timed out, ...). */
int swarm_broker_kraft_run(const swarm_broker_opts_t *o, swarm_err_t *err);

/* Run librdkafka's mock cluster until stopped. */
int swarm_broker_mock_run(const swarm_broker_opts_t *o, swarm_err_t *err);

/* --- helpers shared by both modes (util.c) --- */

/* Print the bootstrap line on stdout (flushed) and, if o->bootstrap_file is
 * set, write the same line there atomically (tmp file + rename). */
int swarm_broker_publish(const swarm_broker_opts_t *o, const char *bootstrap,
                         swarm_err_t *err);

/* librdkafka log callback that forwards to the swarm_log_t set as the
 * handle's opaque. */
void swarm_broker_rdlog(const rd_kafka_t *rk, int level, const char *fac,
                        const char *buf);

/* Common client conf: bootstrap.servers, log routing, quiet defaults.
 * Returns NULL and sets err on failure; caller owns the conf. */
rd_kafka_conf_t *swarm_broker_conf_new(const swarm_broker_opts_t *o,
                                       const char *bootstrap,
                                       swarm_err_t *err);

/* A producer handle on swarm_broker_conf_new()'s conf (the cheapest
 * handle: no group machinery).  Returns SWARM_OK with *rk the caller's to
 * rd_kafka_destroy(), or the code with err set. */
int swarm_broker_producer_new(const swarm_broker_opts_t *o,
                              const char *bootstrap, rd_kafka_t **rk,
                              swarm_err_t *err);

/* Wait until metadata shows every requested topic with its partition count
 * and a leader for each partition, or timeout_ms passes.  `alive` (may be
 * NULL) is called between tries and stops the wait when it returns 0. */
int swarm_broker_wait_topics(rd_kafka_t *rk, const swarm_broker_opts_t *o,
                             int timeout_ms, int (*alive)(void *),
                             void *opaque, swarm_err_t *err);

/* Spawn argv[0] (PATH lookup) with stdout and stderr appended to out_path
 * (or inherited stderr for both when NULL), in its own process group and
 * with PR_SET_PDEATHSIG so it dies with us. */
int swarm_broker_spawn(char *const argv[], const char *out_path, pid_t *pid,
                       swarm_err_t *err);

/* Wait for pid to exit within timeout_ms; on stop request or timeout returns
 * SWARM_ERR_TIMEOUT (the child keeps running).  *status gets the wait
 * status. */
int swarm_broker_wait_child(pid_t pid, int timeout_ms, int honor_stop,
                            int *status, swarm_err_t *err);

/* SIGTERM, wait up to grace_ms, then SIGKILL; always reaps. */
void swarm_broker_kill_child(pid_t pid, int grace_ms);

/* Remove a directory tree (no symlink following).  Best effort. */
int swarm_broker_rmtree(const char *path, swarm_err_t *err);

/* Write the last `lines` lines of path to stderr, framed. */
void swarm_broker_tail(const swarm_log_t *lg, const char *path, int lines);

/* Sleep ms, returning early on a signal. */
void swarm_broker_sleep_ms(int ms);

#endif
