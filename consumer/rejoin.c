/*
 * rejoin.c - when to rejoin, whom to wake, when to nudge (rejoin.h).
 */
#include "rejoin.h"

#include <string.h>

void rejoin_init(rejoin_t *rj, int64_t pace_ms) {
        memset(rj, 0, sizeof(*rj));
        rj->pace_ms = pace_ms > 0 ? pace_ms : 0;
}

void rejoin_note(rejoin_t *rj, int64_t now_us) {
        rj->last_event_us = now_us;
        rj->seen = 1;
}

int rejoin_after_assign(rejoin_t *rj, int coop, int added, int64_t now_us) {
        int quiet = !rj->seen || now_us - rj->last_event_us >= (int64_t)REJOIN_QUIET_MS * 1000;

        rejoin_note(rj, now_us);
        return coop && added == 0 && quiet;
}

static int64_t wake_offset(const rd_kafka_topic_partition_t *p,
                           const rd_kafka_topic_partition_list_t *woken) {
        const rd_kafka_topic_partition_t *w;

        if (p->offset >= 0 || !woken)
                return p->offset;
        /* the find takes a non-const list; it does not modify it */
        w = rd_kafka_topic_partition_list_find((rd_kafka_topic_partition_list_t *)woken,
                                               p->topic, p->partition);
        return w ? w->offset : p->offset;
}

rd_kafka_topic_partition_list_t *
rejoin_wake_targets(const rd_kafka_topic_partition_list_t *positions,
                    const rd_kafka_topic_partition_list_t *woken) {
        rd_kafka_topic_partition_list_t *out;
        int n = 0;

        if (!positions)
                return NULL;
        for (int i = 0; i < positions->cnt; i++)
                n += wake_offset(&positions->elems[i], woken) >= 0;
        if (!n || !(out = rd_kafka_topic_partition_list_new(n)))
                return NULL;
        for (int i = 0; i < positions->cnt; i++) {
                const rd_kafka_topic_partition_t *p = &positions->elems[i];
                int64_t off = wake_offset(p, woken);
                if (off >= 0)
                        rd_kafka_topic_partition_list_add(out, p->topic, p->partition)
                                ->offset = off;
        }
        return out;
}

void rejoin_forget(rd_kafka_topic_partition_list_t *woken,
                   const rd_kafka_topic_partition_list_t *parts) {
        if (!woken || !parts)
                return;
        for (int i = 0; i < parts->cnt; i++)
                rd_kafka_topic_partition_list_del(woken, parts->elems[i].topic,
                                                  parts->elems[i].partition);
}

void rejoin_sought(rd_kafka_topic_partition_list_t **woken,
                   const rd_kafka_topic_partition_list_t *sought) {
        if (!sought || sought->cnt == 0)
                return;
        /* forget first: what cannot be recorded must not stay stale */
        rejoin_forget(*woken, sought);
        if (!*woken && !(*woken = rd_kafka_topic_partition_list_new(sought->cnt)))
                return;
        for (int i = 0; i < sought->cnt; i++) {
                const rd_kafka_topic_partition_t *p = &sought->elems[i];
                if (!p->err && p->offset >= 0)
                        rd_kafka_topic_partition_list_add(*woken, p->topic, p->partition)
                                ->offset = p->offset;
        }
}

int rejoin_pace_due(rejoin_t *rj, int64_t now_us) {
        if (!rj->pace_ms || now_us - rj->last_pace_us < rj->pace_ms * 1000)
                return 0;
        rj->last_pace_us = now_us;
        return 1;
}
