/*
 * tracker.h - which request a response answers, for the Kafka e2e tests
 * that send requests with ids "r<index>" (index 0, 1, ... in sending order).
 *
 * tracker_on_done() is the swarm_client_send() callback (opaque: the
 * tracker): it finds the request's index, counts the answer, CHECKs that the
 * id is one the test sent and that the request did not fail, then hands the
 * response to the test's own check of that index.  At the end
 * tracker_check_once() asserts every request was answered exactly once
 * (none lost, none duplicated).
 */
#ifndef SWARM_TESTS_TRACKER_H
#define SWARM_TESTS_TRACKER_H

#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "swarm/codec.h"
#include "swarm/err.h"

/* The test's check of the response to request `idx` (request_id "r<idx>"). */
typedef void (*tracker_check_fn)(void *ctx, int64_t idx, const char *request_id,
                                 const swarm_response_t *resp);

typedef struct tracker {
        int *answered;          /* per request index */
        int64_t cap;            /* room for ids r0 .. r<cap-1> */
        int64_t failed;         /* answers that were client errors */
        const int64_t *n_sent;  /* the test's count of requests sent */
        tracker_check_fn check;
        void *ctx;
} tracker_t;

/* Room for `cap` requests; ids below *n_sent are the ones sent so far.
 * -1 when out of memory. */
static inline int tracker_init(tracker_t *t, int64_t cap, const int64_t *n_sent,
                               tracker_check_fn check, void *ctx) {
        t->answered = calloc((size_t)(cap > 0 ? cap : 1), sizeof(*t->answered));
        t->cap = cap;
        t->failed = 0;
        t->n_sent = n_sent;
        t->check = check;
        t->ctx = ctx;
        return t->answered ? 0 : -1;
}

static inline void tracker_fini(tracker_t *t) {
        free(t->answered);
        t->answered = NULL;
}

/* The index of the request `request_id` answers, its answer counted; -1
 * (and a failed CHECK) when the id is not r<index> with index < n_sent, or
 * when `err` says the request failed. */
static inline int64_t tracker_answer(tracker_t *t, int64_t n_sent, const char *request_id,
                                     const swarm_err_t *err) {
        char *end = NULL;
        long long idx = request_id[0] == 'r' ? strtoll(request_id + 1, &end, 10) : -1;

        if (idx < 0 || idx >= n_sent || idx >= t->cap || !end || *end) {
                CHECK(0, "response for unexpected id %s", request_id);
                return -1;
        }
        t->answered[idx]++;
        if (err) {
                t->failed++;
                CHECK(0, "request %s failed: %s", request_id, err->msg);
                return -1;
        }
        return (int64_t)idx;
}

/* swarm_client_send()'s callback; opaque is the tracker. */
static inline void tracker_on_done(const char *request_id, const swarm_response_t *resp,
                                   const swarm_err_t *err, int64_t latency_us, void *opaque) {
        tracker_t *t = opaque;
        int64_t idx = tracker_answer(t, *t->n_sent, request_id, err);

        (void)latency_us;
        if (idx >= 0)
                t->check(t->ctx, idx, request_id, resp);
}

/* CHECK that the response is OK; 1 when it is. */
static inline int tracker_ok(const char *request_id, const swarm_response_t *resp) {
        CHECK(resp->status == SWARM_STATUS_OK, "%s: status %s: %.*s", request_id,
              swarm_status_name(resp->status), (int)resp->error.len, resp->error.ptr);
        return resp->status == SWARM_STATUS_OK;
}

/* How often request `idx` was answered. */
static inline int tracker_answered(const tracker_t *t, int64_t idx) {
        return idx >= 0 && idx < t->cap ? t->answered[idx] : 0;
}

/* CHECK that requests r0 .. r<n-1> were each answered exactly once. */
static inline void tracker_check_once(const tracker_t *t, int64_t n) {
        for (int64_t i = 0; i < n; i++)
                CHECK(tracker_answered(t, i) == 1, "request r%" PRId64 " answered %d times", i,
                      tracker_answered(t, i));
}

#endif
