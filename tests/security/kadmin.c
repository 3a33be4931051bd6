/*
 * kadmin.c - swarm-kadmin, the admin client of the test brokers started by
 * tests/lib/with-secure-broker.sh and tests/lib/with-cluster.sh.
 *
 *   swarm-kadmin -b BOOTSTRAP [-X key=value]... [-P key=FILE]...
 *                [--wait-s S] [--topic NAME:PARTITIONS[:RF[:MIN_ISR]]]...
 *                [--acl PRINCIPAL,OPERATION,RESOURCE_TYPE,NAME[,prefixed]]...
 *                [--brokers N]
 *
 * Waits until the cluster answers metadata (with N brokers when --brokers
 * is given), creates the topics (replication factor RF, default 1, and
 * min.insync.replicas), creates the ALLOW ACLs, and waits until every topic
 * has a leader for each partition.  -P reads a property's value from a file
 * (sasl.password), so no secret is on any command line.  One C client
 * instead of Kafka's kafka-topics/kafka-acls scripts: each of those is a
 * JVM start (2-3 s on two cores), and a secured broker needs eight of them.
 * Exit 0 when everything is in place, 1 otherwise, 2 on usage.
 */
#include <librdkafka/rdkafka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "swarm/clock.h"

#define MAX_ITEMS 64

typedef struct topic_spec {
        char name[256];
        int partitions, rf, min_isr;
} topic_spec_t;

static int usage(void) {
        fprintf(stderr,
                "usage: swarm-kadmin -b BOOTSTRAP [-X key=value]... [-P key=FILE]...\n"
                "       [--wait-s S] [--brokers N]\n"
                "       [--topic NAME:PARTITIONS[:RF[:MIN_ISR]]]...\n"
                "       [--acl PRINCIPAL,OPERATION,RESOURCE_TYPE,NAME[,prefixed]]...\n");
        return 2;
}

/* A secret file's contents, one trailing newline dropped. */
static char *read_file(const char *path) {
        FILE *f = fopen(path, "r");
        char *buf;
        size_t n;

        if (!f)
                return NULL;
        buf = calloc(1, 4096);
        n = buf ? fread(buf, 1, 4095, f) : 0;
        fclose(f);
        if (buf && n && buf[n - 1] == '\n')
                buf[n - 1] = '\0';
        return buf;
}

static int parse_topic(const char *arg, topic_spec_t *t) {
        char tmp[300], *f[4] = {0}, *save = NULL;
        int n = 0;

        if (strlen(arg) >= sizeof(tmp))
                return -1;
        strcpy(tmp, arg);
        for (char *p = strtok_r(tmp, ":", &save); p && n < 4; p = strtok_r(NULL, ":", &save))
                f[n++] = p;
        if (n < 1 || strlen(f[0]) > 249)
                return -1;
        strcpy(t->name, f[0]);
        t->partitions = n > 1 ? atoi(f[1]) : 1;
        t->rf = n > 2 ? atoi(f[2]) : 1;
        t->min_isr = n > 3 ? atoi(f[3]) : 0;
        return t->partitions >= 1 && t->rf >= 1 && t->min_isr >= 0 ? 0 : -1;
}

static int parse_op(const char *s, rd_kafka_AclOperation_t *op) {
        static const struct {
                const char *name;
                rd_kafka_AclOperation_t op;
        } ops[] = {{"ALL", RD_KAFKA_ACL_OPERATION_ALL},
                   {"READ", RD_KAFKA_ACL_OPERATION_READ},
                   {"WRITE", RD_KAFKA_ACL_OPERATION_WRITE},
                   {"CREATE", RD_KAFKA_ACL_OPERATION_CREATE},
                   {"DESCRIBE", RD_KAFKA_ACL_OPERATION_DESCRIBE},
                   {"IDEMPOTENT_WRITE", RD_KAFKA_ACL_OPERATION_IDEMPOTENT_WRITE},
                   {NULL, 0}};
        for (int i = 0; ops[i].name; i++)
                if (!strcasecmp(s, ops[i].name)) {
                        *op = ops[i].op;
                        return 0;
                }
        return -1;
}

static int parse_restype(const char *s, rd_kafka_ResourceType_t *rt) {
        if (!strcasecmp(s, "TOPIC"))
                *rt = RD_KAFKA_RESOURCE_TOPIC;
        else if (!strcasecmp(s, "GROUP"))
                *rt = RD_KAFKA_RESOURCE_GROUP;
        else if (!strcasecmp(s, "CLUSTER"))
                *rt = RD_KAFKA_RESOURCE_BROKER;
        else
                return -1;
        return 0;
}

/* "User:worker,READ,TOPIC,requests[,prefixed]" into an ALLOW binding. */
static rd_kafka_AclBinding_t *parse_acl(const char *arg) {
        char tmp[600], *f[5] = {0}, *save = NULL, es[256];
        rd_kafka_AclOperation_t op;
        rd_kafka_ResourceType_t rt;
        rd_kafka_AclBinding_t *b;
        int n = 0;

        if (strlen(arg) >= sizeof(tmp))
                return NULL;
        strcpy(tmp, arg);
        for (char *p = strtok_r(tmp, ",", &save); p && n < 5; p = strtok_r(NULL, ",", &save))
                f[n++] = p;
        if (n < 4 || parse_op(f[1], &op) || parse_restype(f[2], &rt))
                return NULL;
        if (rt == RD_KAFKA_RESOURCE_BROKER)
                f[3] = "kafka-cluster";
        b = rd_kafka_AclBinding_new(rt, f[3],
                                    n > 4 && !strcasecmp(f[4], "prefixed")
                                            ? RD_KAFKA_RESOURCE_PATTERN_PREFIXED
                                            : RD_KAFKA_RESOURCE_PATTERN_LITERAL,
                                    f[0], "*", op, RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW, es,
                                    sizeof(es));
        if (!b)
                fprintf(stderr, "swarm-kadmin: --acl %s: %s\n", arg, es);
        return b;
}

/* Metadata answered with at least `brokers` brokers, and (when `topics`)
 * every topic with all partitions led. */
static int ready(rd_kafka_t *rk, int brokers, const topic_spec_t *t, int nt) {
        const struct rd_kafka_metadata *md;
        int ok;

        if (rd_kafka_metadata(rk, 1, NULL, &md, 3000))
                return 0;
        ok = md->broker_cnt >= brokers;
        for (int i = 0; ok && i < nt; i++) {
                int found = 0;
                for (int j = 0; j < md->topic_cnt; j++) {
                        const rd_kafka_metadata_topic_t *mt = &md->topics[j];
                        if (strcmp(mt->topic, t[i].name))
                                continue;
                        found = !mt->err && mt->partition_cnt == t[i].partitions;
                        for (int p = 0; found && p < mt->partition_cnt; p++)
                                found = mt->partitions[p].leader >= 0 &&
                                        mt->partitions[p].isr_cnt >= t[i].rf;
                }
                ok = found;
        }
        rd_kafka_metadata_destroy(md);
        return ok;
}

static int await_result(rd_kafka_queue_t *q, rd_kafka_event_t **ev, const char *what) {
        *ev = rd_kafka_queue_poll(q, 90000);
        if (!*ev) {
                fprintf(stderr, "swarm-kadmin: %s: no answer in 90 s\n", what);
                return -1;
        }
        if (rd_kafka_event_error(*ev)) {
                fprintf(stderr, "swarm-kadmin: %s: %s\n", what,
                        rd_kafka_event_error_string(*ev));
                return -1;
        }
        return 0;
}

static int create_topics(rd_kafka_t *rk, const topic_spec_t *t, int nt) {
        rd_kafka_NewTopic_t *nts[MAX_ITEMS];
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_event_t *ev = NULL;
        const rd_kafka_topic_result_t **tr;
        size_t cnt = 0;
        char es[512], isr[16];
        int rc = 0;

        for (int i = 0; i < nt; i++) {
                nts[i] = rd_kafka_NewTopic_new(t[i].name, t[i].partitions, t[i].rf, es,
                                               sizeof(es));
                if (!nts[i]) {
                        fprintf(stderr, "swarm-kadmin: topic %s: %s\n", t[i].name, es);
                        rd_kafka_NewTopic_destroy_array(nts, (size_t)i);
                        rd_kafka_queue_destroy(q);
                        return -1;
                }
                if (t[i].min_isr) {
                        snprintf(isr, sizeof(isr), "%d", t[i].min_isr);
                        rd_kafka_NewTopic_set_config(nts[i], "min.insync.replicas", isr);
                }
        }
        rd_kafka_CreateTopics(rk, nts, (size_t)nt, NULL, q);
        if (await_result(q, &ev, "CreateTopics")) {
                rc = -1;
                goto out;
        }
        tr = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
        for (size_t i = 0; i < cnt; i++) {
                rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
                if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                        fprintf(stderr, "swarm-kadmin: create topic %s: %s\n",
                                rd_kafka_topic_result_name(tr[i]),
                                rd_kafka_topic_result_error_string(tr[i]));
                        rc = -1;
                }
        }
out:
        if (ev)
                rd_kafka_event_destroy(ev);
        rd_kafka_NewTopic_destroy_array(nts, (size_t)nt);
        rd_kafka_queue_destroy(q);
        return rc;
}

static int create_acls(rd_kafka_t *rk, rd_kafka_AclBinding_t **b, int nb) {
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_event_t *ev = NULL;
        const rd_kafka_acl_result_t **ar;
        size_t cnt = 0;
        int rc = 0;

        rd_kafka_CreateAcls(rk, b, (size_t)nb, NULL, q);
        if (await_result(q, &ev, "CreateAcls")) {
                rc = -1;
                goto out;
        }
        ar = rd_kafka_CreateAcls_result_acls(rd_kafka_event_CreateAcls_result(ev), &cnt);
        for (size_t i = 0; i < cnt; i++) {
                const rd_kafka_error_t *e = rd_kafka_acl_result_error(ar[i]);
                if (e) {
                        fprintf(stderr, "swarm-kadmin: create acl %zu: %s\n", i,
                                rd_kafka_error_string(e));
                        rc = -1;
                }
        }
        if (cnt != (size_t)nb) {
                fprintf(stderr, "swarm-kadmin: %zu ACL results for %d ACLs\n", cnt, nb);
                rc = -1;
        }
out:
        if (ev)
                rd_kafka_event_destroy(ev);
        rd_kafka_queue_destroy(q);
        return rc;
}

int main(int argc, char **argv) {
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_AclBinding_t *acls[MAX_ITEMS];
        topic_spec_t topics[MAX_ITEMS];
        int nacl = 0, ntopic = 0, wait_s = 120, brokers = 1, rc = 1;
        long long until;
        char es[512];
        rd_kafka_t *rk;

        rd_kafka_conf_set(conf, "log_level", "3", NULL, 0);
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
                char kv[4096], *eq;
                if (!v)
                        return usage();
                i++;
                if (!strcmp(a, "-b")) {
                        if (rd_kafka_conf_set(conf, "bootstrap.servers", v, es, sizeof(es)))
                                goto bad_conf;
                } else if (!strcmp(a, "-X") || !strcmp(a, "-P")) {
                        snprintf(kv, sizeof(kv), "%s", v);
                        if (!(eq = strchr(kv, '=')))
                                return usage();
                        *eq++ = '\0';
                        if (a[1] == 'P') {
                                char *s = read_file(eq);
                                int r;
                                if (!s) {
                                        fprintf(stderr, "swarm-kadmin: -P %s: %s\n", kv,
                                                strerror(errno));
                                        return 1;
                                }
                                r = rd_kafka_conf_set(conf, kv, s, es, sizeof(es));
                                memset(s, 0, strlen(s));
                                free(s);
                                if (r)
                                        goto bad_conf;
                        } else if (rd_kafka_conf_set(conf, kv, eq, es, sizeof(es))) {
                                goto bad_conf;
                        }
                } else if (!strcmp(a, "--wait-s")) {
                        wait_s = atoi(v);
                } else if (!strcmp(a, "--brokers")) {
                        brokers = atoi(v);
                } else if (!strcmp(a, "--topic")) {
                        if (ntopic >= MAX_ITEMS || parse_topic(v, &topics[ntopic])) {
                                fprintf(stderr, "swarm-kadmin: bad --topic %s\n", v);
                                return 2;
                        }
                        ntopic++;
                } else if (!strcmp(a, "--acl")) {
                        if (nacl >= MAX_ITEMS || !(acls[nacl] = parse_acl(v))) {
                                fprintf(stderr, "swarm-kadmin: bad --acl %s\n", v);
                                return 2;
                        }
                        nacl++;
                } else {
                        return usage();
                }
        }
        if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, es, sizeof(es)))) {
                fprintf(stderr, "swarm-kadmin: %s\n", es);
                return 1;
        }
        until = swarm_clock_ms() + (long long)wait_s * 1000;
        while (!ready(rk, brokers, NULL, 0)) {
                if (swarm_clock_ms() > until) {
                        fprintf(stderr, "swarm-kadmin: no metadata with %d broker(s) "
                                "after %d s\n", brokers, wait_s);
                        goto out;
                }
                usleep(200000);
        }
        if (ntopic && create_topics(rk, topics, ntopic))
                goto out;
        if (nacl && create_acls(rk, acls, nacl))
                goto out;
        until = swarm_clock_ms() + 60000;
        while (!ready(rk, brokers, topics, ntopic)) {
                if (swarm_clock_ms() > until) {
                        fprintf(stderr, "swarm-kadmin: topics without a leader or a "
                                "full ISR after 60 s\n");
                        goto out;
                }
                usleep(200000);
        }
        rc = 0;
out:
        rd_kafka_destroy(rk);
        for (int i = 0; i < nacl; i++)
                rd_kafka_AclBinding_destroy(acls[i]);
        return rc;
bad_conf:
        fprintf(stderr, "swarm-kadmin: %s\n", es);
        rd_kafka_conf_destroy(conf);
        return 2;
}
