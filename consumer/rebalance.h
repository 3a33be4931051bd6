/*
 * rebalance.h - the worker's side of a consumer-group rebalance.
 *
 * With the cooperative protocol (partition.assignment.strategy=
 * cooperative-sticky, the worker's default) a rebalance only names the
 * partitions that change hands: an assignment adds partitions
 * (rd_kafka_incremental_assign), a revocation takes some away
 * (rd_kafka_incremental_unassign) and the rest keep flowing.  With an eager
 * strategy (range, roundrobin) every rebalance revokes everything and
 * assigns the new set whole.
 *
 * Before partitions are given up, what was consumed is finished and
 * committed (ops->drain, ops->commit), so the next owner starts right after
 * the last answered message; a revocation of no partition drains nothing.
 * Partitions the group already gave away (rd_kafka_assignment_lost: a
 * session timeout) are drained but not committed: the commit would be
 * refused, and their next owner answers from the last commit (duplicates,
 * never a loss).
 *
 * Each event logs one line that tests read, e.g.
 *   assigned partitions=3 [0,1,2] owned=3 protocol=COOPERATIVE
 *   revoked partitions=1 [2] owned=2 lost=0 drain_us=812 deferred_us=0 ...
 * and counts partitions in swarm_worker_partitions_assigned_total,
 * swarm_worker_partitions_revoked_total (label lost="0"|"1").
 *
 * Threads: librdkafka serves the rebalance callback inside the consumer
 * thread's poll; everything here runs there.
 */
#ifndef SWARM_CONSUMER_REBALANCE_H
#define SWARM_CONSUMER_REBALANCE_H

#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "swarm/err.h"
#include "swarm/log.h"
#include "swarm/metrics.h"

typedef struct rebalance rebalance_t;

/* What the worker does around a rebalance; ctx is passed back. */
typedef struct rebalance_ops {
        void *ctx;
        void (*drain)(void *ctx);       /* answer everything consumed */
        void (*commit)(void *ctx);      /* synchronous commit of stored offsets */
        void (*forget)(void *ctx, int32_t partition); /* drop its tracking */
        void (*owned)(void *ctx, int n); /* partitions owned after the event */
        /* for a revocation completed between polls: messages of a
         * partition not yet answered, and a counter that moves each time
         * the output stage stored the offsets it acknowledged */
        int64_t (*inflight)(void *ctx, int32_t partition);
        uint64_t (*store_round)(void *ctx);
        int64_t drain_deadline_ms;      /* as for ops->drain */
} rebalance_ops_t;

/* How the worker takes part in a rebalance (worker options). */
typedef struct rebalance_opts {
        /* 0: the callback drains, commits and gives the partitions up at
         * once.  > 0: a cooperative revocation is completed by
         * rebalance_tick(), between polls, defer_ms later: then the
         * revoked partitions are paused, and once their own messages are
         * answered and stored (ops->inflight, ops->store_round; at most
         * drain_deadline_ms) the offsets are committed and the partitions
         * given up, without the blocking drain of everything in flight.
         * Why it is 0 by default: librdkafka delivers no message of any
         * partition while a rebalance callback is outstanding, so every
         * partition stalled instead (bench/scaling, defer900). */
        int64_t defer_ms;
        /* rejoin.h 1: subscribe again after an assignment that adds
         * nothing, so the cooperative protocol's second round starts at
         * once instead of up to 1 s later */
        int fast_rejoin;
        /* rejoin.h 2: after a cooperative rebalance event, seek the
         * partitions kept to their position so their fetch resumes now */
        int wake_fetch;
        /* rejoin.h 3: from rebalance_tick(), ask the group's queue for
         * the assignment this often, so heartbeats keep their interval
         * (0: never) */
        int64_t pace_ms;
} rebalance_opts_t;

/* Registers the counters on `metrics`; ops and opts are copied, log
 * borrowed. */
int rebalance_new(const rebalance_ops_t *ops, const rebalance_opts_t *opts,
                  swarm_metrics_t *metrics, const swarm_log_t *log,
                  rebalance_t **out, swarm_err_t *err);
void rebalance_destroy(rebalance_t *rb);

/* Complete a held-back revocation once its time has come (and pace the
 * group's heartbeats: opts->pace_ms); with `stopping`
 * (the worker stops: before its final drain and the group leave) at once,
 * and defer none after it.  Call it from the consumer loop between polls.
 * NULL is accepted. */
void rebalance_tick(rebalance_t *rb, rd_kafka_t *rk, int stopping);

/* The body of the rebalance callback (rd_kafka_conf_set_rebalance_cb). */
void rebalance_handle(rebalance_t *rb, rd_kafka_t *rk, rd_kafka_resp_err_t e,
                      rd_kafka_topic_partition_list_t *parts);

/* A seek made outside this module (the exactly-once rewind) on the
 * consumer thread: the next wake seeks those partitions to these offsets
 * until a message gives them a position again (rejoin_sought()).  NULL rb
 * accepted. */
void rebalance_sought(rebalance_t *rb, const rd_kafka_topic_partition_list_t *sought);

/* Partitions owned now (consumer thread). */
int rebalance_owned(const rebalance_t *rb);

#endif
