/*
 * mock.c - librdkafka's mock cluster behind the same interface as the real
 * broker, plus a watcher that reports groups falling behind retention.
 *
 * The mock silently drops a partition's oldest batches beyond 5 MiB
 * (shared/KAFKA-MOCK.md).  A consumer group whose committed offset falls
 * below the low watermark has lost data it never read; the watcher makes
 * that loud instead of letting a test pass with missing messages.
 */
#include "broker.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka_mock.h>

#define WATCH_INTERVAL_MS 500

/* One (group, topic, partition) whose loss was already reported at
 * `offset`; reported again only if the committed offset moves. */
typedef struct lag_seen {
        int group;
        char *topic;
        int32_t partition;
        int64_t offset;
} lag_seen_t;

typedef struct watcher {
        const swarm_broker_opts_t *o;
        const char *bootstrap;
        rd_kafka_t *rk[SWARM_BROKER_MAX_GROUPS];
        lag_seen_t *seen;
        size_t seen_cnt, seen_cap;
        atomic_int stop;
        pthread_t thread;
} watcher_t;

static lag_seen_t *seen_find(watcher_t *w, int g, const char *topic,
                             int32_t partition) {
        for (size_t i = 0; i < w->seen_cnt; i++)
                if (w->seen[i].group == g && w->seen[i].partition == partition &&
                    !strcmp(w->seen[i].topic, topic))
                        return &w->seen[i];
        if (w->seen_cnt == w->seen_cap) {
                size_t cap = w->seen_cap ? w->seen_cap * 2 : 16;
                lag_seen_t *n = realloc(w->seen, cap * sizeof(*n));
                if (!n)
                        return NULL;
                w->seen = n;
                w->seen_cap = cap;
        }
        w->seen[w->seen_cnt] = (lag_seen_t){g, strdup(topic), partition, -1};
        if (!w->seen[w->seen_cnt].topic)
                return NULL;
        return &w->seen[w->seen_cnt++];
}

/* Compare group g's committed offsets with every partition's low
 * watermark.  All topics are checked, since clients may use topics the
 * mock auto-created. */
static void check_group(watcher_t *w, int g) {
        rd_kafka_t *rk = w->rk[g];
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_partition_list_t *parts;
        rd_kafka_resp_err_t rerr;

        if (rd_kafka_metadata(rk, 1, NULL, &md, 2000))
                return;
        parts = rd_kafka_topic_partition_list_new(16);
        for (int t = 0; t < md->topic_cnt; t++) {
                if (md->topics[t].err || !strncmp(md->topics[t].topic, "__", 2))
                        continue;
                for (int p = 0; p < md->topics[t].partition_cnt; p++)
                        rd_kafka_topic_partition_list_add(
                                parts, md->topics[t].topic,
                                md->topics[t].partitions[p].id);
        }
        rd_kafka_metadata_destroy(md);
        if (parts->cnt == 0 ||
            (rerr = rd_kafka_committed(rk, parts, 5000))) {
                rd_kafka_topic_partition_list_destroy(parts);
                return;
        }
        for (int i = 0; i < parts->cnt; i++) {
                rd_kafka_topic_partition_t *tp = &parts->elems[i];
                int64_t lo = -1, hi = -1;
                lag_seen_t *s;

                if (tp->err || tp->offset < 0)
                        continue; /* nothing committed yet */
                if (rd_kafka_query_watermark_offsets(rk, tp->topic,
                                                     tp->partition, &lo, &hi,
                                                     2000))
                        continue;
                if (tp->offset >= lo)
                        continue;
                if (!(s = seen_find(w, g, tp->topic, tp->partition)) ||
                    s->offset == tp->offset)
                        continue;
                s->offset = tp->offset;
                SWARM_WARN(&w->o->log,
                           "!!! DATA LOST: group committed offset is below "
                           "the low watermark; the mock dropped messages the "
                           "group never consumed (5 MiB/partition retention) "
                           "group=%s topic=%s partition=%d committed=%lld "
                           "low=%lld high=%lld lost=%lld",
                           w->o->groups[g], tp->topic, (int)tp->partition,
                           (long long)tp->offset, (long long)lo, (long long)hi,
                           (long long)(lo - tp->offset));
        }
        rd_kafka_topic_partition_list_destroy(parts);
}

static void *watch_main(void *arg) {
        watcher_t *w = arg;

        while (!atomic_load(&w->stop)) {
                for (int g = 0; g < w->o->group_cnt && !atomic_load(&w->stop);
                     g++)
                        check_group(w, g);
                for (int t = 0; t < WATCH_INTERVAL_MS / 50 &&
                                !atomic_load(&w->stop);
                     t++)
                        swarm_broker_sleep_ms(50);
        }
        return NULL;
}

static void watcher_destroy(watcher_t *w) {
        for (int g = 0; g < SWARM_BROKER_MAX_GROUPS; g++)
                if (w->rk[g])
                        rd_kafka_destroy(w->rk[g]);
        for (size_t i = 0; i < w->seen_cnt; i++)
                free(w->seen[i].topic);
        free(w->seen);
}

/* One consumer handle per group: group.id set but never subscribed, so it
 * can read the group's offsets without joining (and rebalancing) it. */
static int watcher_start(watcher_t *w, swarm_err_t *err) {
        char errstr[512];

        for (int g = 0; g < w->o->group_cnt; g++) {
                rd_kafka_conf_t *conf =
                        swarm_broker_conf_new(w->o, w->bootstrap, err);
                if (!conf)
                        return err->code;
                if (rd_kafka_conf_set(conf, "group.id", w->o->groups[g],
                                      errstr, sizeof(errstr)) ||
                    rd_kafka_conf_set(conf, "enable.auto.commit", "false",
                                      errstr, sizeof(errstr)) ||
                    !(w->rk[g] = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr,
                                              sizeof(errstr)))) {
                        rd_kafka_conf_destroy(conf);
                        return swarm_err_set(err, SWARM_ERR_KAFKA,
                                             "watcher for group %s: %s",
                                             w->o->groups[g], errstr);
                }
        }
        if (pthread_create(&w->thread, NULL, watch_main, w) != 0)
                return swarm_err_set(err, SWARM_ERR_STATE,
                                     "watcher thread: cannot start");
        return SWARM_OK;
}

int swarm_broker_mock_run(const swarm_broker_opts_t *o, swarm_err_t *err) {
        rd_kafka_t *rk;
        rd_kafka_mock_cluster_t *mc = NULL;
        watcher_t w = {.o = o};
        int watching = 0, rc = SWARM_OK;
        const char *bootstrap;

        SWARM_WARN(&o->log, "MOCK MODE: this is librdkafka's mock cluster, "
                   "NOT a real Kafka broker: no CreateTopics, 5 MiB/partition "
                   "retention, no real transactions (see docs/kafka.md)");
        /* The mock lives inside a client handle; a producer handle is the
         * cheapest (no consumer group machinery). */
        if ((rc = swarm_broker_producer_new(o, "", &rk, err)))
                return rc;
        if (!(mc = rd_kafka_mock_cluster_new(rk, o->mock_brokers))) {
                rc = swarm_err_set(err, SWARM_ERR_KAFKA,
                                   "rd_kafka_mock_cluster_new failed");
                goto out;
        }
        for (int i = 0; i < o->topic_cnt; i++) {
                rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(
                        mc, o->topics[i].name, o->topics[i].partitions, 1);
                if (e) {
                        rc = swarm_err_set(err, SWARM_ERR_KAFKA,
                                           "mock topic %s: %s",
                                           o->topics[i].name,
                                           rd_kafka_err2str(e));
                        goto out;
                }
        }
        bootstrap = rd_kafka_mock_cluster_bootstraps(mc);
        w.bootstrap = bootstrap;
        {
                /* Check from a real client over TCP, as tests will. */
                rd_kafka_t *probe;
                if ((rc = swarm_broker_producer_new(o, bootstrap, &probe,
                                                    err)))
                        goto out;
                rc = swarm_broker_wait_topics(probe, o, 30000, NULL, NULL,
                                              err);
                rd_kafka_destroy(probe);
                if (rc)
                        goto out;
        }
        if ((rc = watcher_start(&w, err)))
                goto out;
        watching = 1;
        SWARM_INFO(&o->log, "mock broker ready bootstrap=%s brokers=%d "
                   "topics=%d watched_groups=%d", bootstrap, o->mock_brokers,
                   o->topic_cnt, o->group_cnt);
        if ((rc = swarm_broker_publish(o, bootstrap, err)))
                goto out;
        while (!swarm_broker_stop)
                swarm_broker_sleep_ms(200);
        SWARM_INFO(&o->log, "stopping mock broker");
out:
        if (watching) {
                atomic_store(&w.stop, 1);
                pthread_join(w.thread, NULL);
        }
        watcher_destroy(&w);
        if (mc)
                rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(rk);
        return rc;
}
