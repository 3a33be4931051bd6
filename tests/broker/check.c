/*
 * check.c - swarm-broker-check, the client side of the swarm-broker tests.
 *
 *   swarm-broker-check [--bootstrap B] [--expect T:N]... [--roundtrip]
 *                      [--commit-group G --fill T --bytes N]
 *
 * --expect     metadata must show topic T with N partitions, all led
 * --roundtrip  produce one message to partition 0 of every expected topic
 *              and consume it back
 * --fill       commit offset 0 for group G on T[0], then produce N bytes
 *              there (drives the mock past its 5 MiB retention)
 * Bootstrap defaults to $SWARM_BOOTSTRAP.  Exit 0 when every check passed.
 */
#include <librdkafka/rdkafka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "swarm/err.h"
#include "swarm/log.h"

#define MAX_EXPECT 16

typedef struct check_opts {
        const char *bootstrap;
        const char *topics[MAX_EXPECT];
        int parts[MAX_EXPECT];
        int cnt;
        int roundtrip;
        const char *group, *fill;
        long long fill_bytes;
        swarm_log_t log;
} check_opts_t;

static rd_kafka_t *client_new(const check_opts_t *o, rd_kafka_type_t type,
                              const char *group, swarm_err_t *err) {
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char errstr[512];
        rd_kafka_t *rk;

        if (rd_kafka_conf_set(conf, "bootstrap.servers", o->bootstrap, errstr,
                              sizeof(errstr)) ||
            (group && (rd_kafka_conf_set(conf, "group.id", group, errstr,
                                         sizeof(errstr)) ||
                       rd_kafka_conf_set(conf, "enable.auto.commit", "false",
                                         errstr, sizeof(errstr)))) ||
            (type == RD_KAFKA_PRODUCER &&
             rd_kafka_conf_set(conf, "linger.ms", "5", errstr,
                               sizeof(errstr))) ||
            (type == RD_KAFKA_CONSUMER &&
             rd_kafka_conf_set(conf, "fetch.wait.max.ms", "10", errstr,
                               sizeof(errstr)))) {
                rd_kafka_conf_destroy(conf);
                swarm_err_set(err, SWARM_ERR_CONFIG, "%s", errstr);
                return NULL;
        }
        if (!(rk = rd_kafka_new(type, conf, errstr, sizeof(errstr)))) {
                rd_kafka_conf_destroy(conf);
                swarm_err_set(err, SWARM_ERR_KAFKA, "rd_kafka_new: %s", errstr);
        }
        return rk;
}

static int check_metadata(const check_opts_t *o, rd_kafka_t *rk,
                          swarm_err_t *err) {
        const struct rd_kafka_metadata *md;
        rd_kafka_resp_err_t rerr = rd_kafka_metadata(rk, 1, NULL, &md, 10000);
        int rc = SWARM_OK;

        if (rerr)
                return swarm_err_set(err, SWARM_ERR_KAFKA, "metadata: %s",
                                     rd_kafka_err2str(rerr));
        for (int i = 0; i < o->cnt && !rc; i++) {
                int found = 0;
                for (int t = 0; t < md->topic_cnt; t++) {
                        if (strcmp(md->topics[t].topic, o->topics[i]))
                                continue;
                        found = 1;
                        if (md->topics[t].partition_cnt != o->parts[i])
                                rc = swarm_err_set(err, SWARM_ERR_STATE,
                                                   "topic %s has %d "
                                                   "partitions, want %d",
                                                   o->topics[i],
                                                   md->topics[t].partition_cnt,
                                                   o->parts[i]);
                }
                if (!found)
                        rc = swarm_err_set(err, SWARM_ERR_NOT_FOUND,
                                           "topic %s missing", o->topics[i]);
                else if (!rc)
                        SWARM_INFO(&o->log, "metadata ok topic=%s "
                                   "partitions=%d", o->topics[i], o->parts[i]);
        }
        rd_kafka_metadata_destroy(md);
        return rc;
}

static int produce_sync(rd_kafka_t *p, const char *topic, const void *buf,
                        size_t len, swarm_err_t *err) {
        rd_kafka_resp_err_t rerr;

        for (;;) {
                rerr = rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic),
                                         RD_KAFKA_V_PARTITION(0),
                                         RD_KAFKA_V_VALUE((void *)buf, len),
                                         RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                         RD_KAFKA_V_END);
                if (rerr != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        break;
                rd_kafka_poll(p, 100);
        }
        if (rerr)
                return swarm_err_set(err, SWARM_ERR_KAFKA, "produce %s: %s",
                                     topic, rd_kafka_err2str(rerr));
        return SWARM_OK;
}

static int roundtrip(const check_opts_t *o, rd_kafka_t *p, swarm_err_t *err) {
        char want[128];
        rd_kafka_t *c;
        int rc = SWARM_OK;

        snprintf(want, sizeof(want), "swarm-broker-check %ld", (long)time(NULL));
        for (int i = 0; i < o->cnt; i++)
                if ((rc = produce_sync(p, o->topics[i], want, strlen(want),
                                       err)))
                        return rc;
        if (rd_kafka_flush(p, 30000))
                return swarm_err_set(err, SWARM_ERR_TIMEOUT,
                                     "produce: flush timed out");
        /* A group.id is required by the consumer even when it only assigns;
         * nothing is committed under it. */
        if (!(c = client_new(o, RD_KAFKA_CONSUMER, "swarm-broker-check", err)))
                return err->code;
        for (int i = 0; i < o->cnt && !rc; i++) {
                rd_kafka_topic_partition_list_t *l =
                        rd_kafka_topic_partition_list_new(1);
                int got = 0;
                rd_kafka_topic_partition_list_add(l, o->topics[i], 0)->offset =
                        RD_KAFKA_OFFSET_BEGINNING;
                rd_kafka_assign(c, l);
                rd_kafka_topic_partition_list_destroy(l);
                for (int tries = 0; tries < 300 && !got; tries++) {
                        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
                        if (!m)
                                continue;
                        if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                                SWARM_WARN(&o->log, "consume topic=%s: %s",
                                           o->topics[i],
                                           rd_kafka_message_errstr(m));
                        if (!m->err && m->len == strlen(want) &&
                            !memcmp(m->payload, want, m->len))
                                got = 1;
                        rd_kafka_message_destroy(m);
                }
                if (!got)
                        rc = swarm_err_set(err, SWARM_ERR_TIMEOUT,
                                           "message not consumed back from "
                                           "%s", o->topics[i]);
                else
                        SWARM_INFO(&o->log, "roundtrip ok topic=%s",
                                   o->topics[i]);
        }
        rd_kafka_assign(c, NULL);
        rd_kafka_destroy(c);
        return rc;
}

/* Commit offset 0 for the group first: the data produced afterwards then
 * pushes the low watermark past an offset the group still "owes". */
static int fill(const check_opts_t *o, rd_kafka_t *p, swarm_err_t *err) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_resp_err_t rerr;
        rd_kafka_t *c;
        static char buf[100 * 1024];
        long long sent = 0;
        int rc;

        if (!(c = client_new(o, RD_KAFKA_CONSUMER, o->group, err))) {
                rd_kafka_topic_partition_list_destroy(l);
                return err->code;
        }
        rd_kafka_topic_partition_list_add(l, o->fill, 0)->offset = 0;
        rerr = rd_kafka_commit(c, l, 0);
        rd_kafka_topic_partition_list_destroy(l);
        rd_kafka_destroy(c);
        if (rerr)
                return swarm_err_set(err, SWARM_ERR_KAFKA, "commit: %s",
                                     rd_kafka_err2str(rerr));
        SWARM_INFO(&o->log, "committed group=%s topic=%s partition=0 "
                   "offset=0", o->group, o->fill);
        for (size_t i = 0; i < sizeof(buf); i++)
                buf[i] = (char)('a' + (i * 7919) % 26); /* poorly compressible */
        while (sent < o->fill_bytes) {
                if ((rc = produce_sync(p, o->fill, buf, sizeof(buf), err)))
                        return rc;
                sent += (long long)sizeof(buf);
                rd_kafka_poll(p, 0);
        }
        if (rd_kafka_flush(p, 60000))
                return swarm_err_set(err, SWARM_ERR_TIMEOUT,
                                     "fill: flush timed out");
        SWARM_INFO(&o->log, "filled topic=%s bytes=%lld", o->fill, sent);
        return SWARM_OK;
}

int main(int argc, char **argv) {
        check_opts_t o = {.bootstrap = getenv("SWARM_BOOTSTRAP"),
                          .log = {.level = SWARM_LOG_INFO,
                                  .prog = "swarm-broker-check"}};
        swarm_err_t err;
        rd_kafka_t *p = NULL;
        int rc = SWARM_OK;

        swarm_err_clear(&err);
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
                if (!strcmp(a, "--roundtrip")) {
                        o.roundtrip = 1;
                        continue;
                }
                if (!strcmp(a, "--help")) {
                        puts("usage: swarm-broker-check [--bootstrap B] "
                             "[--expect T:N]... [--roundtrip] "
                             "[--commit-group G --fill T --bytes N]");
                        return 0;
                }
                if (!v) {
                        fprintf(stderr, "swarm-broker-check: %s needs a "
                                "value\n", a);
                        return 2;
                }
                i++;
                if (!strcmp(a, "--bootstrap")) {
                        o.bootstrap = v;
                } else if (!strcmp(a, "--expect") && o.cnt < MAX_EXPECT) {
                        const char *c = strrchr(v, ':');
                        if (!c)
                                return 2;
                        o.topics[o.cnt] = strndup(v, (size_t)(c - v));
                        o.parts[o.cnt++] = atoi(c + 1);
                } else if (!strcmp(a, "--commit-group")) {
                        o.group = v;
                } else if (!strcmp(a, "--fill")) {
                        o.fill = v;
                } else if (!strcmp(a, "--bytes")) {
                        o.fill_bytes = atoll(v);
                } else {
                        fprintf(stderr, "swarm-broker-check: bad option %s\n",
                                a);
                        return 2;
                }
        }
        if (!o.bootstrap || !*o.bootstrap || (o.fill && !o.group)) {
                fprintf(stderr, "swarm-broker-check: need --bootstrap (or "
                        "SWARM_BOOTSTRAP); --fill needs --commit-group\n");
                return 2;
        }
        /* Accept the broker's "bootstrap.servers=" line verbatim. */
        if (!strncmp(o.bootstrap, "bootstrap.servers=", 18))
                o.bootstrap += 18;

        if (!(p = client_new(&o, RD_KAFKA_PRODUCER, NULL, &err)))
                goto out;
        if ((rc = check_metadata(&o, p, &err)))
                goto out;
        if (o.roundtrip && (rc = roundtrip(&o, p, &err)))
                goto out;
        if (o.fill && (rc = fill(&o, p, &err)))
                goto out;
out:
        if (p)
                rd_kafka_destroy(p);
        for (int i = 0; i < o.cnt; i++)
                free((char *)o.topics[i]);
        if (err.code) {
                SWARM_ERROR(&o.log, "check failed: %s", err.msg);
                return 1;
        }
        SWARM_INFO(&o.log, "all checks passed");
        return 0;
}
