/*
 * rebalance.c - incremental (cooperative) and eager rebalances (rebalance.h).
 */
#include "rebalance.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rejoin.h"
#include "swarm/clock.h"

static void skip_drain(void *ctx) {
        (void)ctx;
}

/* Partitions listed in one log line; the count is always exact. */
#define LIST_MAX_CHARS 512

struct rebalance {
        rebalance_ops_t ops;
        const swarm_log_t *log;
        swarm_series_t *s_assigned, *s_revoked, *s_lost;
        int owned;
        int64_t defer_ms;
        int fast_rejoin, wake_fetch;
        rejoin_t rj;
        rd_kafka_topic_partition_list_t *woken; /* the last seeks: wake_fetch()'s, rebalance_sought()'s */
        /* a cooperative revocation held back (rebalance_tick) */
        rd_kafka_topic_partition_list_t *pending;
        int64_t pending_since_us;
        int64_t paused_us;      /* 0: still served; else paused since */
        int stored;             /* its messages are answered ... */
        uint64_t store_round;   /* ... and stored once the round moves */
        int stopping;           /* no more deferrals */
};

int rebalance_new(const rebalance_ops_t *ops, const rebalance_opts_t *opts,
                  swarm_metrics_t *metrics, const swarm_log_t *log,
                  rebalance_t **out, swarm_err_t *err) {
        rebalance_t *rb = calloc(1, sizeof(*rb));
        static const char *const kept[] = {"0", NULL};
        static const char *const lost[] = {"1", NULL};
        static const char *const lbl[] = {"lost", NULL};
        swarm_metric_t *f;
        int r;

        if (!rb)
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        rb->ops = *ops;
        rb->log = log;
        rb->defer_ms = opts->defer_ms > 0 ? opts->defer_ms : 0;
        rb->fast_rejoin = opts->fast_rejoin;
        rb->wake_fetch = opts->wake_fetch;
        rejoin_init(&rb->rj, opts->pace_ms);
        if ((r = swarm_metrics_counter(metrics, "swarm_worker_partitions_assigned_total",
                                       "Request topic partitions this worker was assigned",
                                       NULL, &f, err)))
                goto fail;
        rb->s_assigned = swarm_metrics_with(f, NULL);
        if ((r = swarm_metrics_counter(metrics, "swarm_worker_partitions_revoked_total",
                                       "Request topic partitions taken from this worker "
                                       "(lost: the group gave them away first)",
                                       lbl, &f, err)))
                goto fail;
        rb->s_revoked = swarm_metrics_with(f, kept);
        rb->s_lost = swarm_metrics_with(f, lost);
        *out = rb;
        return SWARM_OK;
fail:
        free(rb);
        return r;
}

void rebalance_destroy(rebalance_t *rb) {
        if (!rb)
                return;
        if (rb->pending)
                rd_kafka_topic_partition_list_destroy(rb->pending);
        if (rb->woken)
                rd_kafka_topic_partition_list_destroy(rb->woken);
        free(rb);
}

int rebalance_owned(const rebalance_t *rb) {
        return rb->owned;
}

static void list_parts(const rd_kafka_topic_partition_list_t *parts, char *buf,
                       size_t cap) {
        size_t n = 0;
        int w = snprintf(buf, cap, "[");

        n = w > 0 ? (size_t)w : 0;
        for (int i = 0; i < parts->cnt && n + 16 < cap; i++) {
                w = snprintf(buf + n, cap - n, "%s%d", i ? "," : "",
                             (int)parts->elems[i].partition);
                if (w > 0)
                        n += (size_t)w;
        }
        snprintf(buf + n, cap - n, n + 16 < cap ? "]" : ",...]");
}

static void report(rebalance_t *rb, const char *what, rd_kafka_error_t *error) {
        if (!error)
                return;
        SWARM_ERROR(rb->log, "rebalance %s: %s", what, rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
}

/* rejoin.h 2: the partitions this worker kept were paused for the
 * callback; seeking them to their position wakes the fetcher now rather
 * than within a second.  The position is the message after the last one
 * poll() gave us (nothing is delivered during the callback), where the
 * fetch would resume anyway: nothing is skipped or read twice. */
static void wake_fetch(rebalance_t *rb, rd_kafka_t *rk) {
        rd_kafka_topic_partition_list_t *pos = NULL, *to = NULL;
        rd_kafka_error_t *e;

        if (!rb->wake_fetch || rd_kafka_assignment(rk, &pos) || !pos)
                return;
        if (pos->cnt > 0 && !rd_kafka_position(rk, pos) &&
            (to = rejoin_wake_targets(pos, rb->woken))) {
                /* asynchronous (timeout 0): a partition that cannot seek
                 * (being stopped) is simply not woken */
                if ((e = rd_kafka_seek_partitions(rk, to, 0)))
                        rd_kafka_error_destroy(e);
                SWARM_DEBUG(rb->log, "rebalance: woke the fetch of %d kept partitions",
                            to->cnt);
                /* the seek forgot their position: the next event's wake
                 * takes it from here until a message comes */
                if (rb->woken)
                        rd_kafka_topic_partition_list_destroy(rb->woken);
                rb->woken = to;
        }
        rd_kafka_topic_partition_list_destroy(pos);
}

void rebalance_sought(rebalance_t *rb, const rd_kafka_topic_partition_list_t *sought) {
        if (rb)
                rejoin_sought(&rb->woken, sought);
}

/* rejoin.h 1: must run inside the callback, before the assign call:
 * librdkafka then postpones the subscribe and applies it, with an
 * immediate JoinGroup, once the assignment is done (a subscribe to the
 * same topics outside a rebalance changes nothing and sends nothing). */
static void rejoin_now(rebalance_t *rb, rd_kafka_t *rk) {
        rd_kafka_topic_partition_list_t *sub = NULL;
        rd_kafka_resp_err_t e;

        if ((e = rd_kafka_subscription(rk, &sub)) || !sub) {
                SWARM_WARN(rb->log, "rebalance: no subscription to rejoin with: %s",
                           rd_kafka_err2str(e));
                return;
        }
        if ((e = rd_kafka_subscribe(rk, sub)))
                SWARM_WARN(rb->log, "rebalance: rejoin: %s", rd_kafka_err2str(e));
        else
                SWARM_INFO(rb->log, "rebalance: rejoining at once (assignment added nothing)");
        rd_kafka_topic_partition_list_destroy(sub);
}

static void on_assign(rebalance_t *rb, rd_kafka_t *rk, int coop,
                      rd_kafka_topic_partition_list_t *parts) {
        char list[LIST_MAX_CHARS];

        rejoin_forget(rb->woken, parts);
        if (rejoin_after_assign(&rb->rj, coop, parts->cnt, swarm_clock_us()) &&
            rb->fast_rejoin && !rb->stopping)
                rejoin_now(rb, rk);

        /* a new owner's tracking starts empty: what an earlier ownership
         * left (a drain that hit its deadline) is not ours any more */
        for (int i = 0; i < parts->cnt; i++)
                rb->ops.forget(rb->ops.ctx, parts->elems[i].partition);
        if (coop) {
                report(rb, "incremental assign", rd_kafka_incremental_assign(rk, parts));
                rb->owned += parts->cnt;
                wake_fetch(rb, rk);
        } else {
                rd_kafka_resp_err_t e = rd_kafka_assign(rk, parts);
                if (e)
                        SWARM_ERROR(rb->log, "rebalance assign: %s", rd_kafka_err2str(e));
                rb->owned = parts->cnt;
        }
        swarm_metrics_add(rb->s_assigned, parts->cnt);
        rb->ops.owned(rb->ops.ctx, rb->owned);
        list_parts(parts, list, sizeof(list));
        SWARM_INFO(rb->log, "assigned partitions=%d %s owned=%d protocol=%s",
                   parts->cnt, list, rb->owned, coop ? "COOPERATIVE" : "EAGER");
}

static void finish_revoke(rebalance_t *rb, rd_kafka_t *rk, int coop,
                          rd_kafka_topic_partition_list_t *parts, int64_t deferred_us) {
        int lost = rd_kafka_assignment_lost(rk);
        int64_t t0 = swarm_clock_us();
        char list[LIST_MAX_CHARS];

        rejoin_note(&rb->rj, t0);
        rejoin_forget(rb->woken, parts);
        /* Finish what was consumed and commit it, so the next owner starts
         * exactly where we stopped.  The drain waits for all work in
         * flight (the exec queue does not sort rows by partition); an
         * incremental revocation of nothing has nothing to hand over. */
        if (parts->cnt > 0 || !coop) {
                rb->ops.drain(rb->ops.ctx);
                if (!lost)
                        rb->ops.commit(rb->ops.ctx);
        }
        for (int i = 0; i < parts->cnt; i++)
                rb->ops.forget(rb->ops.ctx, parts->elems[i].partition);
        if (coop) {
                /* a pause outlives the assignment: the next time this
                 * worker is given them they must flow */
                if (rb->pending == parts && rb->paused_us) {
                        rd_kafka_resume_partitions(rk, parts);
                        rb->paused_us = 0;
                }
                report(rb, "incremental unassign", rd_kafka_incremental_unassign(rk, parts));
                rb->owned = rb->owned > parts->cnt ? rb->owned - parts->cnt : 0;
                if (!rb->stopping)
                        wake_fetch(rb, rk);
        } else {
                rd_kafka_assign(rk, NULL);
                rb->owned = 0;
        }
        swarm_metrics_add(lost ? rb->s_lost : rb->s_revoked, parts->cnt);
        rb->ops.owned(rb->ops.ctx, rb->owned);
        list_parts(parts, list, sizeof(list));
        SWARM_INFO(rb->log, "revoked partitions=%d %s owned=%d lost=%d "
                   "drain_us=%" PRId64 " deferred_us=%" PRId64 " protocol=%s", parts->cnt,
                   list, rb->owned, lost, swarm_clock_us() - t0, deferred_us,
                   coop ? "COOPERATIVE" : "EAGER");
}

/* Non-zero once the held-back partitions can be given up without the
 * blocking drain: served for defer_ms, then paused, their own messages
 * answered, and one more output round (their offsets stored). */
static int pending_ready(rebalance_t *rb, rd_kafka_t *rk) {
        int64_t now = swarm_clock_us(), left = 0;

        if (now - rb->pending_since_us < rb->defer_ms * 1000)
                return 0;
        if (!rb->paused_us) {
                rd_kafka_pause_partitions(rk, rb->pending);
                rb->paused_us = now;
        }
        if (!rb->stored) {
                for (int i = 0; i < rb->pending->cnt; i++)
                        left += rb->ops.inflight(rb->ops.ctx, rb->pending->elems[i].partition);
                if (left > 0 && now - rb->paused_us < rb->ops.drain_deadline_ms * 1000)
                        return 0;
                if (left > 0)
                        SWARM_WARN(rb->log, "revocation: %" PRId64 " messages of the revoked "
                                   "partitions still in flight after %" PRId64 " ms: not "
                                   "committing them", left, rb->ops.drain_deadline_ms);
                rb->stored = 1;
                rb->store_round = rb->ops.store_round(rb->ops.ctx);
                return 0;
        }
        return rb->ops.store_round(rb->ops.ctx) > rb->store_round;
}

static void flush_pending(rebalance_t *rb, rd_kafka_t *rk, int now) {
        int64_t waited;

        if (!rb->pending)
                return;
        waited = swarm_clock_us() - rb->pending_since_us;
        if (!now && !pending_ready(rb, rk))
                return;
        if (!now) {
                /* drained above, partition by partition */
                rebalance_ops_t ops = rb->ops;
                rb->ops.drain = skip_drain;
                finish_revoke(rb, rk, 1, rb->pending, waited);
                rb->ops = ops;
        } else {
                finish_revoke(rb, rk, 1, rb->pending, waited);
        }
        rb->stored = 0;
        rd_kafka_topic_partition_list_destroy(rb->pending);
        rb->pending = NULL;
}

void rebalance_tick(rebalance_t *rb, rd_kafka_t *rk, int stopping) {
        if (!rb)
                return;
        if (stopping)
                rb->stopping = 1;
        flush_pending(rb, rk, stopping);
        if (!rb->stopping && rejoin_pace_due(&rb->rj, swarm_clock_us())) {
                /* rejoin.h 3: a request to the group's queue wakes
                 * librdkafka's main thread, which then sends the heartbeat
                 * that is due */
                rd_kafka_topic_partition_list_t *a = NULL;
                if (!rd_kafka_assignment(rk, &a) && a)
                        rd_kafka_topic_partition_list_destroy(a);
        }
}

static void on_revoke(rebalance_t *rb, rd_kafka_t *rk, int coop,
                      rd_kafka_topic_partition_list_t *parts) {
        /* --revoke-defer-ms (rebalance.h): serve the partitions a while
         * longer, then hand them over between polls.  Never while stopping:
         * the loop that completes it has ended. */
        if (coop && rb->defer_ms > 0 && parts->cnt > 0 && !rd_kafka_assignment_lost(rk) &&
            !rb->stopping &&
            (rb->pending = rd_kafka_topic_partition_list_copy(parts))) {
                rb->pending_since_us = swarm_clock_us();
                SWARM_DEBUG(rb->log, "rebalance revoke of %d partitions deferred %" PRId64
                            " ms", parts->cnt, rb->defer_ms);
                return;
        }
        finish_revoke(rb, rk, coop, parts, 0);
}

void rebalance_handle(rebalance_t *rb, rd_kafka_t *rk, rd_kafka_resp_err_t e,
                      rd_kafka_topic_partition_list_t *parts) {
        int coop = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");

        /* events come in order: a held-back revocation completes first */
        flush_pending(rb, rk, 1);
        if (e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
                on_assign(rb, rk, coop, parts);
        } else if (e == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
                on_revoke(rb, rk, coop, parts);
        } else {
                /* librdkafka's advice for a failed rebalance: drop the
                 * assignment, the group hands it out again */
                SWARM_ERROR(rb->log, "rebalance failed: %s", rd_kafka_err2str(e));
                if (coop)
                        report(rb, "incremental unassign",
                               rd_kafka_incremental_unassign(rk, parts));
                else
                        rd_kafka_assign(rk, NULL);
                rb->owned = coop && rb->owned > parts->cnt ? rb->owned - parts->cnt : 0;
                rb->ops.owned(rb->ops.ctx, rb->owned);
        }
}
