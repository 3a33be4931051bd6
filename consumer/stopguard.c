/*
 * stopguard.c - exit a stop that the broker keeps from finishing
 * (stopguard.h).
 */
#include "stopguard.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "swarm/clock.h"

struct stopguard {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        pthread_t thr;
        int64_t timeout_ms, until_us;
        int cancelled;
        const swarm_log_t *log;
};

static void *guard_main(void *arg) {
        stopguard_t *g = arg;

        pthread_mutex_lock(&g->lock);
        while (!g->cancelled && swarm_clock_us() < g->until_us) {
                struct timespec ts = swarm_clock_timespec(g->until_us);
                pthread_cond_timedwait(&g->cond, &g->lock, &ts);
        }
        if (!g->cancelled) {
                SWARM_ERROR(g->log, "stop did not finish within %" PRId64 " ms (broker "
                            "unreachable?): exiting without a clean leave; what was "
                            "not committed is answered again by the next owner",
                            g->timeout_ms);
                /* exit(), not a return: the owner is stuck inside librdkafka,
                 * and atexit handlers or destructors could wait on it too */
                _exit(STOPGUARD_EXIT);
        }
        pthread_mutex_unlock(&g->lock);
        return NULL;
}

int stopguard_start(int64_t timeout_ms, const swarm_log_t *log,
                    stopguard_t **out, swarm_err_t *err) {
        stopguard_t *g;

        if (timeout_ms <= 0)
                return swarm_err_set(err, SWARM_ERR_CONFIG,
                                     "stop timeout must be > 0 ms");
        if (!(g = calloc(1, sizeof(*g))))
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        g->timeout_ms = timeout_ms;
        g->until_us = swarm_clock_us() + timeout_ms * 1000;
        g->log = log;
        pthread_mutex_init(&g->lock, NULL);
        swarm_clock_cond_init(&g->cond);
        if (pthread_create(&g->thr, NULL, guard_main, g)) {
                pthread_cond_destroy(&g->cond);
                pthread_mutex_destroy(&g->lock);
                free(g);
                return swarm_err_set(err, SWARM_ERR_NOMEM, "cannot start the stop guard");
        }
        *out = g;
        return SWARM_OK;
}

void stopguard_destroy(stopguard_t *g) {
        if (!g)
                return;
        pthread_mutex_lock(&g->lock);
        g->cancelled = 1;
        pthread_cond_signal(&g->cond);
        pthread_mutex_unlock(&g->lock);
        pthread_join(g->thr, NULL);
        pthread_cond_destroy(&g->cond);
        pthread_mutex_destroy(&g->lock);
        free(g);
}
