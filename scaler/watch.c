/*
 * watch.c - committed offsets, watermarks and membership of one group on
 * one topic.  See scaler.h.
 */
#include "scaler.h"

#include <stdlib.h>
#include <string.h>

#include "swarm/kafka.h"

/* The topic's metadata at start, then each poll's committed offsets and
 * watermarks: a poll that cannot finish within these fails and is retried
 * at the next one. */
#define METADATA_TIMEOUT_MS 10000
#define QUERY_TIMEOUT_MS 5000

struct watch {
        swarm_kafka_opaque_t opaque;    /* first: the log callback finds it */
        rd_kafka_t *rk;
        char *topic, *group;
        int partitions;
        int group_api;
        rd_kafka_topic_partition_list_t *list;
        const swarm_log_t *log;
};

int watch_partitions(const watch_t *w) {
        return w->partitions;
}

static int count_partitions(watch_t *w, swarm_err_t *err) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(w->rk, w->topic, NULL);
        rd_kafka_resp_err_t e;
        int r = SWARM_OK;

        if (!rkt)
                return swarm_err_set(err, SWARM_ERR_KAFKA, "topic %s: %s", w->topic,
                                     rd_kafka_err2str(rd_kafka_last_error()));
        e = rd_kafka_metadata(w->rk, 0, rkt, &md, METADATA_TIMEOUT_MS);
        if (e) {
                r = swarm_err_set(err, SWARM_ERR_KAFKA, "metadata for %s: %s",
                                  w->topic, rd_kafka_err2str(e));
                goto out;
        }
        if (md->topic_cnt != 1 || md->topics[0].err ||
            md->topics[0].partition_cnt <= 0) {
                r = swarm_err_set(err, SWARM_ERR_NOT_FOUND,
                                  "topic %s: %s", w->topic,
                                  md->topic_cnt == 1 && md->topics[0].err
                                          ? rd_kafka_err2str(md->topics[0].err)
                                          : "no partitions");
                goto out;
        }
        w->partitions = md->topics[0].partition_cnt;
out:
        if (md)
                rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
        return r;
}

int watch_new(const swarm_conf_t *conf, const char *topic, const char *group,
              int group_api, const swarm_log_t *log, watch_t **out,
              swarm_err_t *err) {
        /* Never commits and never joins: it only asks. */
        static const char *const overrides[] = {
                "enable.auto.commit", "false", "client.id", "swarm-scaler",
                NULL};
        rd_kafka_conf_t *kc = NULL;
        watch_t *w;
        int r;

        if (!(w = calloc(1, sizeof(*w))) || !(w->topic = strdup(topic)) ||
            !(w->group = strdup(group))) {
                r = swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                goto fail;
        }
        w->opaque.log = log;
        w->log = log;
        w->group_api = group_api;
        if ((r = swarm_kafka_conf(conf, overrides, &w->opaque, &kc, err)))
                goto fail;
        if (rd_kafka_conf_set(kc, "group.id", group, NULL, 0) != RD_KAFKA_CONF_OK) {
                rd_kafka_conf_destroy(kc);
                r = swarm_err_set(err, SWARM_ERR_CONFIG, "group.id rejected");
                goto fail;
        }
        if ((r = swarm_kafka_new(RD_KAFKA_CONSUMER, kc, &w->rk, err)))
                goto fail;
        if ((r = count_partitions(w, err)))
                goto fail;
        if (!(w->list = rd_kafka_topic_partition_list_new(w->partitions))) {
                r = swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                goto fail;
        }
        for (int i = 0; i < w->partitions; i++)
                rd_kafka_topic_partition_list_add(w->list, topic, i);
        *out = w;
        return SWARM_OK;
fail:
        watch_destroy(w);
        return r;
}

void watch_destroy(watch_t *w) {
        if (!w)
                return;
        if (w->list)
                rd_kafka_topic_partition_list_destroy(w->list);
        if (w->rk)
                rd_kafka_destroy(w->rk);
        free(w->topic);
        free(w->group);
        free(w);
}

static void poll_group(watch_t *w, watch_group_t *g) {
        const struct rd_kafka_group_list *gl = NULL;
        rd_kafka_resp_err_t e;

        g->members = -1;
        snprintf(g->state, sizeof(g->state), "unknown");
        if (!w->group_api)
                return;
        e = rd_kafka_list_groups(w->rk, w->group, &gl, 3000);
        if (e || !gl) {
                /* The mock cluster has no ListGroups/DescribeGroups; a real
                 * cluster may deny them (ACLs).  Degrade once, loudly. */
                SWARM_WARN(w->log, "group API unavailable, membership not "
                           "reported group=%s error=\"%s\"", w->group,
                           rd_kafka_err2str(e));
                w->group_api = 0;
                return;
        }
        for (int i = 0; i < gl->group_cnt; i++) {
                if (strcmp(gl->groups[i].group, w->group))
                        continue;
                if (gl->groups[i].err)
                        break;
                g->members = gl->groups[i].member_cnt;
                snprintf(g->state, sizeof(g->state), "%s",
                         gl->groups[i].state ? gl->groups[i].state : "?");
        }
        if (g->members < 0) {
                g->members = 0; /* the group does not exist (yet): empty */
                snprintf(g->state, sizeof(g->state), "Dead");
        }
        rd_kafka_group_list_destroy(gl);
}

int watch_poll(watch_t *w, policy_part_in_t *parts, watch_group_t *g,
               swarm_err_t *err) {
        rd_kafka_resp_err_t e;

        for (int i = 0; i < w->list->cnt; i++) {
                w->list->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
                w->list->elems[i].err = 0;
        }
        if ((e = rd_kafka_committed(w->rk, w->list, QUERY_TIMEOUT_MS)))
                return swarm_err_set(err, SWARM_ERR_KAFKA,
                                     "committed offsets of group %s: %s",
                                     w->group, rd_kafka_err2str(e));
        for (int i = 0; i < w->partitions; i++) {
                int64_t lo = 0, hi = 0;
                if ((e = rd_kafka_query_watermark_offsets(w->rk, w->topic, i, &lo,
                                                          &hi, QUERY_TIMEOUT_MS)))
                        return swarm_err_set(err, SWARM_ERR_KAFKA,
                                             "watermarks of %s [%d]: %s",
                                             w->topic, i, rd_kafka_err2str(e));
                parts[i].low = lo;
                parts[i].high = hi;
                parts[i].committed = w->list->elems[i].err
                                             ? -1
                                             : w->list->elems[i].offset;
        }
        poll_group(w, g);
        return SWARM_OK;
}
