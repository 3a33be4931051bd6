/*
 * txn.c - exactly-once mode: the id, the window, error classes and the
 * librdkafka transaction calls (see txn.h).
 */
#include "txn.h"

#include <stdio.h>
#include <string.h>

#include "swarm/clock.h"
#include "worker.h" /* WORKER_GROUP_DEFAULT */

int txn_id_make(const char *group, const char *instance, char *out,
                swarm_err_t *err) {
        int n;

        out[0] = '\0';
        if (!group || !*group || !instance || !*instance)
                return swarm_err_set(err, SWARM_ERR_CONFIG,
                                     "exactly-once needs a consumer group and a worker "
                                     "instance name");
        n = snprintf(out, TXN_ID_SIZE, "swarm-eos.%s.%s", group, instance);
        if (n < 0 || n >= TXN_ID_SIZE) {
                out[0] = '\0';
                return swarm_err_set(err, SWARM_ERR_CONFIG,
                                     "exactly-once: group and instance name are too long "
                                     "for a transactional.id (%d bytes, at most %d)",
                                     n, TXN_ID_SIZE - 1);
        }
        for (char *p = out; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
                        *p = '_';
        return SWARM_OK;
}

int txn_opts_load(const swarm_conf_t *conf, const char *worker_name,
                  txn_opts_t *o, swarm_err_t *err) {
        const char *group = swarm_conf_get(conf, "group.id");
        const char *inst = swarm_conf_get(conf, "group.instance.id");

        memset(o->id, 0, sizeof(o->id));
        if (!o->enabled)
                return SWARM_OK;
        if (!inst || !*inst)
                inst = worker_name;
        if (!inst || !*inst)
                return swarm_err_set(err, SWARM_ERR_CONFIG,
                                     "--exactly-once needs a stable instance name: give "
                                     "--worker-name or -X group.instance.id (a host-pid "
                                     "name would never fence a killed predecessor)");
        return txn_id_make(group && *group ? group : WORKER_GROUP_DEFAULT, inst, o->id, err);
}

static int set(rd_kafka_conf_t *kc, const char *k, const char *v, swarm_err_t *err) {
        char es[256];
        if (rd_kafka_conf_set(kc, k, v, es, sizeof(es)) != RD_KAFKA_CONF_OK)
                return swarm_err_set(err, SWARM_ERR_CONFIG, "exactly-once: %s=%s: %s", k, v,
                                     es);
        return SWARM_OK;
}

int txn_producer_conf(const txn_opts_t *o, rd_kafka_conf_t *kc, swarm_err_t *err) {
        char v[32];
        size_t vn = sizeof(v);
        int r;

        if (!o->enabled)
                return SWARM_OK;
        if ((r = set(kc, "transactional.id", o->id, err)))
                return r;
        /* librdkafka's default is 60 s; keep a -X choice */
        if (rd_kafka_conf_get(kc, "transaction.timeout.ms", v, &vn) == RD_KAFKA_CONF_OK &&
            !strcmp(v, "60000"))
                return set(kc, "transaction.timeout.ms", TXN_DEFAULT_TIMEOUT_MS, err);
        return SWARM_OK;
}

int txn_consumer_conf(const txn_opts_t *o, rd_kafka_conf_t *kc, swarm_err_t *err) {
        int r;

        if (!o->enabled)
                return SWARM_OK;
        if ((r = set(kc, "enable.auto.commit", "false", err)))
                return r;
        return set(kc, "isolation.level", "read_committed", err);
}

void txn_window_open(txn_window_t *w, int64_t now_ms) {
        w->open = 1;
        w->opened_ms = now_ms;
        w->records = 0;
}

void txn_window_close(txn_window_t *w) {
        w->open = 0;
        w->records = 0;
}

int txn_window_due(const txn_window_t *w, const txn_opts_t *o, int64_t now_ms) {
        if (!w->open)
                return 0;
        return now_ms - w->opened_ms >= o->window_ms ||
               (o->max_records > 0 && w->records >= o->max_records);
}

txn_action_t txn_classify(int is_error, int fatal, int requires_abort, int retriable) {
        if (!is_error)
                return TXN_OK;
        if (fatal)
                return TXN_RECREATE;
        if (requires_abort)
                return TXN_ABORT;
        if (retriable)
                return TXN_RETRY;
        return TXN_ABORT;
}

txn_action_t txn_check(rd_kafka_error_t *e, const char *what, swarm_err_t *err) {
        txn_action_t a;

        if (!e)
                return TXN_OK;
        a = txn_classify(1, rd_kafka_error_is_fatal(e), rd_kafka_error_txn_requires_abort(e),
                         rd_kafka_error_is_retriable(e));
        swarm_err_set(err, SWARM_ERR_KAFKA, "%s: %s", what, rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        return a;
}

txn_action_t txn_commit(rd_kafka_t *producer, rd_kafka_t *consumer,
                        const rd_kafka_topic_partition_list_t *offsets,
                        swarm_err_t *err) {
        int64_t until = swarm_clock_ms() + TXN_CALL_TIMEOUT_MS;
        txn_action_t a;

        if (offsets && offsets->cnt > 0) {
                for (;;) {
                        rd_kafka_consumer_group_metadata_t *gm =
                                rd_kafka_consumer_group_metadata(consumer);
                        swarm_err_clear(err);
                        a = txn_check(rd_kafka_send_offsets_to_transaction(
                                              producer, offsets, gm, TXN_CALL_TIMEOUT_MS),
                                      "sending offsets to the transaction", err);
                        rd_kafka_consumer_group_metadata_destroy(gm);
                        if (a != TXN_RETRY || swarm_clock_ms() > until)
                                break;
                }
                if (a == TXN_RETRY)
                        a = TXN_ABORT;
                if (a)
                        return a;
        }
        for (;;) {
                swarm_err_clear(err);
                a = txn_check(rd_kafka_commit_transaction(producer, TXN_CALL_TIMEOUT_MS),
                              "committing the transaction", err);
                if (a != TXN_RETRY || swarm_clock_ms() > until)
                        break;
        }
        return a == TXN_RETRY ? TXN_ABORT : a;
}
