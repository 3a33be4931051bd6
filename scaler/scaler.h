/*
 * scaler.h - internals of swarm-scaler (scaler/ only): the Kafka watcher
 * (watch.c) and the actuators that start and stop workers (actuator.c).
 * The decision rule is policy.h.  Everything runs on the main thread.
 */
#ifndef SWARM_SCALER_H
#define SWARM_SCALER_H

#include "policy.h"
#include "swarm/conf.h"
#include "swarm/err.h"
#include "swarm/log.h"

/* ---- watch.c: what the group has done, read from Kafka ---- */

typedef struct watch watch_t;

/* A consumer handle with the group's group.id that never subscribes: it
 * reads committed offsets (OffsetFetch) and watermarks (ListOffsets), and
 * when `group_api` is set the membership (DescribeGroups through
 * rd_kafka_list_groups; never DescribeConsumerGroups, which crashes the
 * client on librdkafka's mock cluster).  If the broker rejects the group
 * API, membership is switched off with one warning.  Fails when the topic
 * has no partitions within the timeout. */
int watch_new(const swarm_conf_t *conf, const char *topic, const char *group,
              int group_api, const swarm_log_t *log, watch_t **out,
              swarm_err_t *err);
void watch_destroy(watch_t *w);
int watch_partitions(const watch_t *w);

#define WATCH_MAX_MEMBERS 32    /* members listed by name (the count is exact) */

typedef struct watch_member {
        char client_id[64];
        char host[64];          /* as the broker saw it, "/10.0.0.7" */
} watch_member_t;

typedef struct watch_group {
        int members;            /* -1: unknown (no group API) */
        char state[32];         /* "Stable", "PreparingRebalance", ... */
        int n_listed;           /* entries of member[] (<= WATCH_MAX_MEMBERS) */
        watch_member_t member[WATCH_MAX_MEMBERS];
} watch_group_t;

/* One sample: parts[] gets watch_partitions() entries. */
int watch_poll(watch_t *w, policy_part_in_t *parts, watch_group_t *g,
               swarm_err_t *err);

/* ---- actuator.c: make the fleet the desired size ---- */

typedef struct actuator actuator_t;

typedef enum actuator_kind {
        ACTUATOR_NONE = 0,      /* advise only: log and metrics */
        ACTUATOR_LOCAL,         /* child processes of the scaler */
        ACTUATOR_EXEC,          /* a user command with {n} */
} actuator_kind_t;

/* local: `argv` (NULL-terminated, borrowed) is the worker command line.
 * exec: `cmd` (borrowed) runs under /bin/sh -c with every "{n}" replaced.
 * stop_timeout_s: a worker that has not exited this long after SIGTERM is
 * killed. */
int actuator_new(actuator_kind_t kind, char **argv, const char *cmd,
                 double stop_timeout_s, const swarm_log_t *log,
                 actuator_t **out, swarm_err_t *err);

/* Reap exited workers, replace crashed ones (with backoff), and move one
 * step toward `desired`: start all missing workers at once, stop one
 * surplus worker at a time (SIGTERM, then wait for it to finish its batch,
 * commit and leave before the next, so the group sees one rebalance per
 * step).  Call often (every ~200 ms); cheap when nothing changes.
 * `desired` < 0: only reap. */
int actuator_tick(actuator_t *a, int desired, double now_s, swarm_err_t *err);

/* Workers counted by the policy: local, running and not stopping; exec, the
 * last count applied (-1 before the first). */
int actuator_workers(const actuator_t *a);
/* Local workers that died and were replaced. */
long actuator_restarts(const actuator_t *a);
/* Stop every local worker, one at a time; blocks (bounded by the stop
 * timeout per worker).  Then free.  NULL is accepted. */
void actuator_destroy(actuator_t *a);

double scaler_now(void);

#endif
