/*
 * clock.h - the two clocks Swarm reads, in the units it uses.
 *
 * Monotonic microseconds for waits, delays and durations (never jumps);
 * wall-clock milliseconds for what crosses processes: Kafka timestamps and a
 * request's deadline_ms.  Inline so tests and benchmarks share them without
 * linking anything.
 */
#ifndef SWARM_CLOCK_H
#define SWARM_CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Monotonic time in microseconds (CLOCK_MONOTONIC). */
static inline int64_t swarm_clock_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Monotonic time in milliseconds. */
static inline int64_t swarm_clock_ms(void) {
        return swarm_clock_us() / 1000;
}

/* Monotonic time in seconds, for rates and the waits of tests and tools. */
static inline double swarm_clock_s(void) {
        return (double)swarm_clock_us() / 1e6;
}

/* Wall-clock time in milliseconds since the epoch (CLOCK_REALTIME). */
static inline int64_t swarm_clock_wall_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A monotonic time in microseconds as an absolute timespec, for
 * pthread_cond_timedwait on a condition variable using CLOCK_MONOTONIC. */
static inline struct timespec swarm_clock_timespec(int64_t mono_us) {
        struct timespec ts;
        ts.tv_sec = (time_t)(mono_us / 1000000);
        ts.tv_nsec = (long)(mono_us % 1000000) * 1000;
        return ts;
}

/* Initialize `c` so that pthread_cond_timedwait() on it reads
 * CLOCK_MONOTONIC, the clock of swarm_clock_timespec(): deadlines are
 * computed on the monotonic clock, and a wall-clock jump must not cut a wait
 * short or stretch it.  Returns pthread_cond_init()'s code. */
static inline int swarm_clock_cond_init(pthread_cond_t *c) {
        pthread_condattr_t ca;
        int r;

        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        r = pthread_cond_init(c, &ca);
        pthread_condattr_destroy(&ca);
        return r;
}

#ifdef __cplusplus
}
#endif
#endif
