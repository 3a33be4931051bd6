/*
 * policy.h - the scaler's decision rule, with no Kafka and no clock of its
 * own: feed it one sample per poll (time, per-partition watermarks and
 * committed offsets, workers running) and it returns the desired worker
 * count with a reason.  Pure and deterministic, so tests and the simulator
 * (bench/scaler) drive it with synthetic traces.  See docs/scaler.md for the
 * rule in prose.
 *
 * Threads: a policy_t is used by one thread at a time.
 */
#ifndef SWARM_SCALER_POLICY_H
#define SWARM_SCALER_POLICY_H

#include <stdint.h>

#include "swarm/err.h"

/* The defaults, written once: policy_conf_default() and swarm-scaler's
 * option table (which shows them in --help and -X list) both use these. */
#define POLICY_MIN_WORKERS 1
#define POLICY_MAX_WORKERS 8
#define POLICY_MAX_WORKERS_LIMIT 256
#define POLICY_DRAIN_TARGET_S 30
#define POLICY_WORKER_CAPACITY 1000
#define POLICY_RATE_WINDOW_S 10
#define POLICY_SCALE_DOWN_WINDOW_S 60
#define POLICY_IDLE_WINDOW_S 300
#define POLICY_STALL_WINDOW_S 60
#define POLICY_HYSTERESIS 0.2
#define POLICY_SETTLE_S 5

/* Settings: from flags, with the registry deployment's settings winning.
 * policy_conf_default() gives every field its default. */
typedef struct policy_conf {
        int min_workers;             /* 0 allows scale to zero */
        int max_workers;
        double drain_target_s;       /* backlog should drain within this */
        double worker_capacity;      /* requests/s one worker handles, used
                                        until a saturated worker is measured */
        double rate_window_s;        /* rates: difference over this window */
        double scale_down_window_s;  /* stabilization before shrinking */
        double idle_window_s;        /* no traffic this long: go to min
                                        (zero when min_workers == 0) */
        double stall_window_s;       /* committed offset frozen this long with
                                        lag while others move: stuck */
        double hysteresis;           /* shrink only if the fleet would still
                                        cover (1 + hysteresis) x the need */
        double settle_s;             /* after a fleet change, wait this long
                                        before measuring worker capacity
                                        (joins and rebalances) */
} policy_conf_t;

void policy_conf_default(policy_conf_t *c);

/* One partition in one sample. */
typedef struct policy_part_in {
        int64_t low, high;           /* watermarks */
        int64_t committed;           /* the group's offset; < 0: none */
} policy_part_in_t;

/* What the policy knows about a partition after the latest sample. */
typedef struct policy_part {
        int64_t low, high, committed;
        int64_t lag;                 /* high - committed (or - low if none) */
        double last_move_s;          /* when committed last changed */
        int stuck;
} policy_part_t;

typedef enum policy_dir { POLICY_DOWN = -1, POLICY_HOLD = 0, POLICY_UP = 1 } policy_dir_t;

typedef struct policy_decision {
        int desired;                 /* workers wanted now */
        int current;                 /* workers given in the sample */
        policy_dir_t dir;
        const char *reason;          /* static, snake_case: metric label */
        char detail[256];            /* human-readable numbers for the log */
        int64_t lag;                 /* total */
        int64_t lag_effective;       /* total without stuck partitions */
        double lag_s;                /* lag / consumption (or capacity) */
        double arrival_rate;         /* requests/s into the topic */
        double consume_rate;         /* requests/s committed by the group */
        double capacity;             /* requests/s per worker (estimate) */
        int capacity_measured;       /* 1 once measured from a busy fleet */
        int stuck;                   /* stuck partitions */
        int need;                    /* raw need before bounds/stabilization */
} policy_decision_t;

typedef struct policy policy_t;

/* `partitions` > 0.  The conf is copied; bad bounds are SWARM_ERR_CONFIG. */
int policy_new(const policy_conf_t *c, int partitions, policy_t **out,
               swarm_err_t *err);
void policy_destroy(policy_t *p);

/* Feed one sample taken at `now_s` (seconds, monotonic, increasing):
 * `parts` has `partitions` entries, `workers` is how many run now.  Fills
 * *d.  Never fails. */
void policy_update(policy_t *p, double now_s, const policy_part_in_t *parts,
                   int workers, policy_decision_t *d);

/* Per-partition state after the latest update; borrowed. */
const policy_part_t *policy_parts(const policy_t *p);
int policy_partitions(const policy_t *p);

/* Smallest worker count n with which `partitions` partitions spread evenly
 * enough to give `need` workers' worth of throughput: the busiest worker
 * holds ceil(P/n) partitions, so n workers drain like P/ceil(P/n) workers.
 * Never more than `partitions`.  Exposed for tests and docs. */
int policy_even_step(int need, int partitions);

#endif
