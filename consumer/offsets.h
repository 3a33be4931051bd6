/*
 * offsets.h - which source offsets may be stored for commit.
 *
 * A message's offset may be committed only after every response it caused is
 * acknowledged by the broker, and only once every earlier message of the same
 * partition is done too (delivery reports arrive out of order).  The tracker
 * keeps, per partition, a FIFO of in-flight offsets with a done flag; marking
 * the head done advances the partition's committable offset.
 *
 * Threads: add() from the consumer thread, done() from the delivery-report
 * thread; both take the tracker's mutex (the in-flight count is read
 * without it).
 */
#ifndef SWARM_CONSUMER_OFFSETS_H
#define SWARM_CONSUMER_OFFSETS_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "swarm/err.h"

typedef struct offtrack offtrack_t;

/* Identifies one tracked message: partition and its sequence number. */
typedef struct offtrack_ref {
        int32_t partition;
        uint64_t seq;
        uint64_t epoch;         /* the tracker's rewind count at add */
} offtrack_ref_t;

int offtrack_new(offtrack_t **out, swarm_err_t *err);
void offtrack_destroy(offtrack_t *t);

/* Start tracking `offset` of `partition` (offsets of one partition arrive in
 * increasing order). */
int offtrack_add(offtrack_t *t, int32_t partition, int64_t offset,
                 offtrack_ref_t *ref, swarm_err_t *err);

/* Mark a message done.  Returns 1 and sets *commit_offset (the next offset to
 * consume, i.e. last contiguous done offset + 1) when the partition's
 * committable position advanced, else 0. */
int offtrack_done(offtrack_t *t, offtrack_ref_t ref, int64_t *commit_offset);

/* offtrack_done() for `n` refs under one lock (the output thread marks a
 * round's delivery reports at once); advanced() gets each partition and
 * its new commit offset, in ref order, whenever one advanced. */
void offtrack_done_many(offtrack_t *t, const offtrack_ref_t *refs, size_t n,
                        void (*advanced)(void *ctx, int32_t partition, int64_t offset),
                        void *ctx);

/* Messages still in flight, over all partitions. */
int64_t offtrack_inflight(offtrack_t *t);

/* Messages of one partition still in flight (not yet done, or done after
 * one that is not). */
int64_t offtrack_inflight_part(offtrack_t *t, int32_t partition);

/* Forget a partition (after it was revoked and drained). */
void offtrack_reset(offtrack_t *t, int32_t partition);

/* ---- exactly-once mode (txn.h) ----
 * Each partition remembers its base: the first offset not yet committed in
 * a transaction (the first offset consumed after its assignment, until a
 * commit moves it).  A rewind drops everything in flight at once (every
 * ref taken before is stale from then on, and so is every ref taken until
 * the consumer thread has sought back to the bases), so jobs still in the
 * pipeline are never answered in the transaction after an abort. */

/* 1 when no partition has a done message after one not done: the
 * committable offsets then cover every answered message exactly. */
int offtrack_settled(offtrack_t *t);

/* After a transaction committed `offset` (the next to consume). */
void offtrack_set_base(offtrack_t *t, int32_t partition, int64_t offset);

/* 1 when ref was taken before the last rewind (or during one): its job
 * must not be answered. */
int offtrack_stale(offtrack_t *t, offtrack_ref_t ref);

/* Any thread (the output thread, after an abort): start a rewind. */
void offtrack_rewind_begin(offtrack_t *t);

/* The consumer thread: when a rewind is pending, return the partitions and
 * their bases (caller destroys; NULL when none is pending); once sought,
 * offtrack_rewind_end() lets refs be live again. */
rd_kafka_topic_partition_list_t *offtrack_rewind_targets(offtrack_t *t, const char *topic);
void offtrack_rewind_end(offtrack_t *t);

#endif
