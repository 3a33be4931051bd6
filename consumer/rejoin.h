/*
 * rejoin.h - keeping a cooperative rebalance's two rounds back to back.
 *
 * A worker joining under load takes its partitions in the cooperative
 * protocol's second round: round 1 tells the old owner what to give up,
 * the old owner revokes and rejoins at once, and round 2 hands the
 * partitions over.  Three rules of librdkafka's classic group protocol
 * (read in 2.0.2, Debian 12's, and unchanged in 2.15.0) stretched that
 * hand-over to 0.5-1.4 s (bench/scaling/README.md has the lines):
 *
 * 1. A member that rejoins because a heartbeat answered "rebalance in
 *    progress" sends its JoinGroup no sooner than 1 s after its previous
 *    one (rd_kafka_cgrp_group_is_rebalancing() rejoins without resetting
 *    rkcg_join_intvl; rd_kafka_cgrp_join_state_serve() waits for it).  In
 *    round 2 that member is the joiner (and any member that revoked
 *    nothing in round 1): it had sent its JoinGroup well under 1 s before.
 *    A subscribe() made inside the rebalance callback is postponed and
 *    applied when the assignment is done, by a path that does reset the
 *    interval (rd_kafka_trigger_waiting_subscribe_maybe()).  So after an
 *    assignment that adds nothing the worker subscribes again to the same
 *    topics (rejoin_after_assign() says when): its JoinGroup goes out at
 *    once and round 2 starts as soon as the old owner has revoked.
 *    Not again within REJOIN_QUIET_MS of its previous rebalance event: the
 *    round that rejoin triggers ends in an empty assignment too, and it
 *    must not trigger another.
 * 2. While a rebalance callback is pending every assigned partition is
 *    paused (rd_kafka_rebalance_op_incr(): rd_kafka_assignment_pause()),
 *    and the resume does not wake the broker thread
 *    (rd_kafka_toppar_pause_resume()), which, with nothing fetchable,
 *    sleeps up to rd_kafka_max_block_ms (1000 ms): the partitions a worker
 *    kept stalled half a second.  A seek to the position (the next
 *    message the worker has not been given) wakes it ("seek done");
 *    rejoin_wake_targets() picks the partitions that have one.
 * 3. Heartbeats are sent from rd_kafka_cgrp_serve(), which the main thread
 *    runs only when an op or a timer wakes it ("FIXME: move to
 *    timer-triggered"): heartbeat.interval.ms=250 gave heartbeats 300-700
 *    ms apart, and a member learnt that a worker had left that late.  Any
 *    request to the group's queue wakes it: rejoin_pace_due() says when
 *    the worker's loop asks for one (rd_kafka_assignment()).
 *
 * Everything here is pure (no librdkafka call but list handling): the
 * calls are in rebalance.c.
 */
#ifndef SWARM_CONSUMER_REJOIN_H
#define SWARM_CONSUMER_REJOIN_H

#include <stdint.h>

#include <librdkafka/rdkafka.h>

/* Longer than one rebalance round (its members rejoin within librdkafka's
 * 1 s join interval), shorter than the time between two scale events. */
#define REJOIN_QUIET_MS 3000

typedef struct rejoin {
        int64_t last_event_us;  /* previous rebalance event */
        int seen;               /* any event since the start */
        int64_t pace_ms;        /* 0: no pacing */
        int64_t last_pace_us;
} rejoin_t;

/* pace_ms: how often rejoin_pace_due() says yes (0: never). */
void rejoin_init(rejoin_t *rj, int64_t pace_ms);

/* Records a revocation (or any event that is not an assignment). */
void rejoin_note(rejoin_t *rj, int64_t now_us);

/* Records an assignment of `added` partitions; 1 when the worker should
 * subscribe again before the assign call: cooperative, nothing added, and
 * the first event or the previous one at least REJOIN_QUIET_MS ago. */
int rejoin_after_assign(rejoin_t *rj, int coop, int added, int64_t now_us);

/* What to seek so the fetcher wakes: the partitions of `positions`
 * (rd_kafka_position()'s answer) with their offset.  A seek forgets the
 * position until the next message, so a partition without one takes the
 * offset `woken` (the previous call's answer, may be NULL) sought it to:
 * nothing was delivered since.  The caller drops from `woken` what it was
 * assigned or revoked since (a new ownership starts from the committed
 * offset).  A partition in neither is left out (not consumed yet: its
 * resume starts a fetch).  NULL when none qualifies, or out of memory
 * (then nothing is woken: the fetcher wakes on its own within a second). */
rd_kafka_topic_partition_list_t *
rejoin_wake_targets(const rd_kafka_topic_partition_list_t *positions,
                    const rd_kafka_topic_partition_list_t *woken);

/* Drops `parts` from `woken` (NULL accepted). */
void rejoin_forget(rd_kafka_topic_partition_list_t *woken,
                   const rd_kafka_topic_partition_list_t *parts);

/* A seek made elsewhere (the exactly-once rewind, output.h) forgot the
 * positions of `sought` too: from now on their offsets, not an earlier
 * wake's, stand in for the missing positions.  An earlier wake's offset
 * left in place would seek such a partition forward past the messages the
 * rewind is to replay, and their offsets would be committed unanswered.
 * Elements whose seek failed (err set) or that carry no offset are only
 * forgotten.  *woken may be NULL (a list is made); out of memory forgets
 * them all (a partition in neither list is not woken: nothing is skipped). */
void rejoin_sought(rd_kafka_topic_partition_list_t **woken,
                   const rd_kafka_topic_partition_list_t *sought);

/* 1 at most once per pace_ms. */
int rejoin_pace_due(rejoin_t *rj, int64_t now_us);

#endif
