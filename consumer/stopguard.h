/*
 * stopguard.h - a bound on how long a stopping worker takes to exit.
 *
 * A clean stop (drain, produce and flush the responses, commit, leave the
 * group) needs the broker.  When the broker is gone, librdkafka's calls on
 * that path wait for it: delivery reports until message.timeout.ms, the
 * synchronous commit and the group leave with no deadline of their own, so
 * a SIGTERMed worker would hang.  The guard, started when the stop begins,
 * ends the process after `timeout_ms` with exit status STOPGUARD_EXIT and a
 * log line naming what was left: nothing is lost, what was not committed is
 * answered again by the partition's next owner.
 *
 * Threads: one of its own, which only waits (a condition variable on the
 * monotonic clock) unless the deadline passes.
 */
#ifndef SWARM_CONSUMER_STOPGUARD_H
#define SWARM_CONSUMER_STOPGUARD_H

#include <stdint.h>

#include "swarm/err.h"
#include "swarm/log.h"

/* Exit status of a stop that ran out of time (not 0: the fleet sees an
 * unclean exit; not 1: a fatal error of the worker). */
#define STOPGUARD_EXIT 3

typedef struct stopguard stopguard_t;

/* Start the clock: unless stopguard_destroy() comes first, the process
 * exits timeout_ms (> 0) from now.  `log` is borrowed. */
int stopguard_start(int64_t timeout_ms, const swarm_log_t *log,
                    stopguard_t **out, swarm_err_t *err);

/* Stop the clock and free.  NULL is accepted. */
void stopguard_destroy(stopguard_t *g);

#endif
