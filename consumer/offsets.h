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
 * thread; both take the tracker's mutex.
 */
#ifndef SWARM_CONSUMER_OFFSETS_H
#define SWARM_CONSUMER_OFFSETS_H

#include <stdint.h>

#include "swarm/err.h"

typedef struct offtrack offtrack_t;

/* Identifies one tracked message: partition and its sequence number. */
typedef struct offtrack_ref {
        int32_t partition;
        uint64_t seq;
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

/* Messages still in flight, over all partitions. */
int64_t offtrack_inflight(offtrack_t *t);

/* Messages of one partition still in flight (not yet done, or done after
 * one that is not). */
int64_t offtrack_inflight_part(offtrack_t *t, int32_t partition);

/* Forget a partition (after it was revoked and drained). */
void offtrack_reset(offtrack_t *t, int32_t partition);

#endif
