/*
 * test_txn.c - exactly-once mode without a broker (the broker side is
 * tests/fault fault_eos): the transactional.id is stable per group and
 * instance and refused without a stable instance; the window commits on
 * time or size; librdkafka's error flags map to retry/abort/re-create; and
 * the tracker's side of it: a commit waits while a done message follows
 * one not done, a rewind makes every earlier ref stale (and the refs taken
 * until the seek back), and rewinds to the last committed offsets.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "offsets.h"
#include "txn.h"

static swarm_conf_t *conf_of(const char *const *kv) {
        swarm_conf_t *c;
        swarm_err_t err;

        swarm_err_clear(&err);
        if (swarm_conf_new(&c, &err))
                exit(1);
        for (; kv && kv[0]; kv += 2)
                if (swarm_conf_add(c, SWARM_CONF_CLI, kv[0], kv[1], "-X", &err))
                        exit(1);
        return c;
}

static void test_id(void) {
        char a[TXN_ID_SIZE], b[TXN_ID_SIZE], big[400];
        swarm_err_t err;

        swarm_err_clear(&err);
        CHECK_OK(txn_id_make("workers", "w-1", a, &err), err);
        CHECK(!strcmp(a, "swarm-eos.workers.w-1"), "%s", a);
        CHECK_OK(txn_id_make("workers", "w-1", b, &err), err);
        CHECK(!strcmp(a, b), "not stable: %s %s", a, b);
        CHECK_OK(txn_id_make("workers", "w-2", b, &err), err);
        CHECK(strcmp(a, b), "two instances share %s", a);
        CHECK_OK(txn_id_make("other", "w-1", b, &err), err);
        CHECK(strcmp(a, b), "two groups share %s", a);
        CHECK_OK(txn_id_make("g p", "host/1\n", b, &err), err);
        CHECK(!strcmp(b, "swarm-eos.g_p.host_1_"), "not sanitized: %s", b);
        CHECK_ERR(txn_id_make("g", "", b, &err), err, SWARM_ERR_CONFIG, "instance");
        CHECK_ERR(txn_id_make(NULL, "w", b, &err), err, SWARM_ERR_CONFIG, "group");
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        CHECK_ERR(txn_id_make("g", big, b, &err), err, SWARM_ERR_CONFIG, "too long");
        CHECK(b[0] == '\0');
}

/* The id txn_opts_load() derives; enabled, window and max records come in
 * from the worker's option table (their defaults and a bad value are
 * tests/core/test_usage.sh's). */
static void test_opts(void) {
        static const char *const off[] = {"group.id", "g", NULL};
        static const char *const on[] = {"group.id", "g", NULL};
        static const char *const inst[] = {"group.instance.id", "pod-3", NULL};
        swarm_conf_t *c;
        txn_opts_t o = {0};
        swarm_err_t err;

        swarm_err_clear(&err);
        c = conf_of(off);
        o.window_ms = TXN_DEFAULT_MS;
        CHECK_OK(txn_opts_load(c, "w", &o, &err), err);
        CHECK(!o.enabled && o.window_ms == TXN_DEFAULT_MS && !o.id[0]);
        swarm_conf_destroy(c);

        c = conf_of(on);
        o = (txn_opts_t){.enabled = 1, .window_ms = 250, .max_records = TXN_DEFAULT_MAX_RECORDS};
        CHECK_OK(txn_opts_load(c, "w-7", &o, &err), err);
        CHECK(o.enabled && o.window_ms == 250 && o.max_records == TXN_DEFAULT_MAX_RECORDS);
        CHECK(!strcmp(o.id, "swarm-eos.g.w-7"), "%s", o.id);
        /* a host-pid name (the default) is no stable instance */
        CHECK_ERR(txn_opts_load(c, NULL, &o, &err), err, SWARM_ERR_CONFIG, "--worker-name");
        CHECK_ERR(txn_opts_load(c, "", &o, &err), err, SWARM_ERR_CONFIG, "stable");
        swarm_conf_destroy(c);

        /* group.instance.id wins; group.id defaults as the consumer's does */
        c = conf_of(inst);
        o.enabled = 1;
        CHECK_OK(txn_opts_load(c, "w-7", &o, &err), err);
        CHECK(!strcmp(o.id, "swarm-eos.swarm-workers.pod-3"), "%s", o.id);
        swarm_conf_destroy(c);
}

static void test_conf(void) {
        txn_opts_t o;
        rd_kafka_conf_t *p = rd_kafka_conf_new(), *k = rd_kafka_conf_new();
        char v[TXN_ID_SIZE];
        size_t vn;
        swarm_err_t err;

        swarm_err_clear(&err);
        memset(&o, 0, sizeof(o));
        /* disabled: nothing set */
        CHECK_OK(txn_producer_conf(&o, p, &err), err);
        vn = sizeof(v);
        v[0] = '\0';
        rd_kafka_conf_get(p, "transactional.id", v, &vn);
        CHECK(!*v, "transactional.id=%s", v);
        o.enabled = 1;
        snprintf(o.id, sizeof(o.id), "swarm-eos.g.w");
        CHECK_OK(txn_producer_conf(&o, p, &err), err);
        vn = sizeof(v);
        rd_kafka_conf_get(p, "transactional.id", v, &vn);
        CHECK(!strcmp(v, "swarm-eos.g.w"), "%s", v);
        vn = sizeof(v);
        rd_kafka_conf_get(p, "transaction.timeout.ms", v, &vn);
        CHECK(!strcmp(v, TXN_DEFAULT_TIMEOUT_MS), "%s", v);
        CHECK_OK(txn_consumer_conf(&o, k, &err), err);
        vn = sizeof(v);
        rd_kafka_conf_get(k, "isolation.level", v, &vn);
        CHECK(!strcmp(v, "read_committed"), "%s", v);
        vn = sizeof(v);
        rd_kafka_conf_get(k, "enable.auto.commit", v, &vn);
        CHECK(!strcmp(v, "false"), "%s", v);
        rd_kafka_conf_destroy(p);
        rd_kafka_conf_destroy(k);
}

static void test_window(void) {
        txn_opts_t o = {.enabled = 1, .window_ms = 100, .max_records = 10};
        txn_window_t w = {0};

        CHECK(!txn_window_due(&w, &o, 1000000), "a closed window is never due");
        txn_window_open(&w, 1000);
        CHECK(!txn_window_due(&w, &o, 1099));
        CHECK(txn_window_due(&w, &o, 1100), "due at window_ms");
        w.records = 10;
        CHECK(txn_window_due(&w, &o, 1001), "due at max_records");
        txn_window_close(&w);
        CHECK(!w.open && !w.records && !txn_window_due(&w, &o, 5000));
}

static void test_classify(void) {
        CHECK(txn_classify(0, 1, 1, 1) == TXN_OK);
        CHECK(txn_classify(1, 1, 1, 1) == TXN_RECREATE, "fatal wins");
        CHECK(txn_classify(1, 0, 1, 1) == TXN_ABORT, "abortable over retriable");
        CHECK(txn_classify(1, 0, 0, 1) == TXN_RETRY);
        CHECK(txn_classify(1, 0, 0, 0) == TXN_ABORT, "unflagged: abort");
        CHECK(txn_check(NULL, "x", NULL) == TXN_OK);
        {
                swarm_err_t err;
                rd_kafka_error_t *e = rd_kafka_error_new(RD_KAFKA_RESP_ERR__TIMED_OUT, "slow %d", 1);
                swarm_err_clear(&err);
                CHECK(txn_check(e, "committing", &err) == TXN_ABORT);
                CHECK(strstr(err.msg, "committing: slow 1") != NULL, "%s", err.msg);
        }
}

static void test_tracker(void) {
        offtrack_t *t;
        offtrack_ref_t r[8], late, fresh;
        rd_kafka_topic_partition_list_t *l;
        swarm_err_t err;
        int64_t off = -1;

        swarm_err_clear(&err);
        if (offtrack_new(&t, &err))
                exit(1);
        CHECK(offtrack_settled(t) && !offtrack_rewind_targets(t, "requests"),
              "nothing pending before a rewind");
        for (int i = 0; i < 4; i++)
                offtrack_add(t, 0, 100 + i, &r[i], &err);       /* p0: 100..103 */
        for (int i = 4; i < 8; i++)
                offtrack_add(t, 5, 50 + i, &r[i], &err);        /* p5: 54..57 */
        CHECK(offtrack_settled(t));
        CHECK(offtrack_done(t, r[0], &off) && off == 101);
        CHECK(offtrack_settled(t), "a done prefix is settled");
        offtrack_done(t, r[2], &off);
        CHECK(!offtrack_settled(t), "102 done while 101 is not: a hole");
        offtrack_done(t, r[1], &off);
        CHECK(off == 103 && offtrack_settled(t), "hole filled, commit 103: %lld",
              (long long)off);
        offtrack_set_base(t, 0, 103);   /* a transaction committed 103 */
        offtrack_done(t, r[5], &off);   /* p5: 55 done, 54 not */
        CHECK(!offtrack_settled(t));

        /* abort: every ref so far is stale, and so are refs taken until
         * the consumer has sought back */
        offtrack_rewind_begin(t);
        CHECK(offtrack_inflight(t) == 0, "inflight %lld", (long long)offtrack_inflight(t));
        CHECK(offtrack_stale(t, r[3]) && offtrack_stale(t, r[4]));
        CHECK(!offtrack_done(t, r[3], &off), "a stale ref never advances");
        offtrack_add(t, 0, 104, &late, &err);
        CHECK(offtrack_stale(t, late) && offtrack_inflight(t) == 0,
              "fetched before the seek: stale, not tracked");
        /* a partition assigned during the rewind: its first message is
         * dropped too, so it is sought back to it */
        offtrack_reset(t, 9);
        offtrack_add(t, 9, 500, &late, &err);
        CHECK(offtrack_stale(t, late));
        offtrack_add(t, 9, 501, &late, &err);
        CHECK(offtrack_settled(t));
        l = offtrack_rewind_targets(t, "requests");
        CHECK(l && l->cnt == 3, "three partitions to seek");
        for (int i = 0; l && i < l->cnt; i++) {
                if (l->elems[i].partition == 0)
                        CHECK(l->elems[i].offset == 103, "p0 back to the committed 103: %lld",
                              (long long)l->elems[i].offset);
                else if (l->elems[i].partition == 9)
                        CHECK(l->elems[i].offset == 500, "p9 back to 500: %lld",
                              (long long)l->elems[i].offset);
                else
                        CHECK(l->elems[i].partition == 5 && l->elems[i].offset == 54,
                              "p5 back to its first offset 54: %d %lld",
                              (int)l->elems[i].partition, (long long)l->elems[i].offset);
                CHECK(!strcmp(l->elems[i].topic, "requests"));
        }
        rd_kafka_topic_partition_list_destroy(l);
        offtrack_rewind_end(t);
        CHECK(!offtrack_rewind_targets(t, "requests"), "a rewind is sought once");

        /* the replay: tracked again from the base */
        offtrack_add(t, 0, 103, &fresh, &err);
        CHECK(!offtrack_stale(t, fresh) && offtrack_inflight(t) == 1);
        CHECK(offtrack_done(t, fresh, &off) && off == 104, "%lld", (long long)off);
        /* a revoked partition forgets its base; seeking it back would
         * replay what its new owner answers */
        offtrack_reset(t, 5);
        offtrack_reset(t, 9);
        offtrack_rewind_begin(t);
        l = offtrack_rewind_targets(t, "requests");
        CHECK(l && l->cnt == 1 && l->elems[0].partition == 0 && l->elems[0].offset == 103,
              "only p0, at 103");
        rd_kafka_topic_partition_list_destroy(l);
        offtrack_rewind_end(t);
        offtrack_destroy(t);
}

int main(void) {
        test_id();
        test_opts();
        test_conf();
        test_window();
        test_classify();
        test_tracker();
        TEST_DONE();
}
