/*
 * cluster.c - fault_cluster: a broker of a real three-node Kafka cluster
 * (tests/lib/with-cluster.sh: replication factor 3, min.insync.replicas 2)
 * killed with SIGKILL under load and restarted.
 *
 *   test_fault_cluster CONSUMER TINY.onnx N
 *
 * Once a warm-up request is answered (the workers have joined), N requests
 * (tiny: Identity [1,4], values id % 1000 + column) are produced at a
 * steady pace over 16 s (acks=all, idempotent) to two swarm-consumer
 * workers.  At 5 s the broker that leads the most request partitions is
 * SIGKILLed; its partitions (requests, results, the group's offsets) get
 * new leaders from the other two, which still make min.insync.replicas.
 * 8 s later (and not before its leaderships have moved) it is started
 * again on the same data and must rejoin every ISR.
 * Every request must be answered with its values; duplicates are printed,
 * not failed (at least once: the worker's result producer is not
 * idempotent, so a produce retried across the leader change can land
 * twice).  Figures on one line "fault cluster: ...": recover_s is the time
 * from the kill until every request sent before it is answered, max_gap_s
 * the longest time without any answer, produce_gap_s the longest time the
 * test's own producer had no request acknowledged, failover_s the time
 * from the kill until metadata shows none of its request partitions led
 * by the dead broker (and ISRs shrunk), rejoin_s the time from
 * the restart until every partition's ISR has three replicas again.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "check.h"
#include "fault_util.h"
#include "proc.h"
#include "swarm/codec.h"
#include "test_request.h"

#define REQ "requests"
#define RES "results"
#define PRODUCE_S 16.0
#define KILL_AT_S 5.0
#define DOWN_S 8.0

static const char *bootstrap, *ctl;
static swarm_codec_t *codec;

/* log_level 3: librdkafka's errors only, not its warnings and notices */
static rd_kafka_t *handle(rd_kafka_type_t type, const char *const *kv) {
        return fault_kafka_new(type, bootstrap, "3", kv);
}

static int run_ctl(const char *verb, int id) {
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "%s %s %d", ctl, verb, id);
        return system(cmd);
}

static pid_t spawn(const char *bin, const char *tiny, int i) {
        char name[64], logf[64], model[1024];
        /* librdkafka's default session timeout (45 s), not the 6 s of the
         * kill tests: no worker dies here, and with 6 s a member whose group
         * coordinator was on the killed broker is evicted before the
         * coordinator has moved (measured: a rebalance and 1005 duplicates) */
        const char *argv[] = {bin, "-b", bootstrap, "-g", "cluster", "--worker-name", name,
                              "--metrics-port", "-1", "--blas-threads", "1", "-M", model,
                              NULL};

        snprintf(name, sizeof(name), "cluster-worker-%d", i);
        snprintf(logf, sizeof(logf), "cluster-worker-%d.log", i);
        snprintf(model, sizeof(model), "tiny=%s", tiny);
        return proc_spawn_logged(argv, logf, "a");
}

/* The broker leading the most partitions of the request topic (-1: no
 * metadata), whether every partition of every topic has a full ISR, and
 * (led, may be NULL) how many request partitions each broker 1-3 leads. */
static int leader_census(rd_kafka_t *rk, int *full_isr, int *led) {
        const struct rd_kafka_metadata *md;
        int count[4] = {0}, best = -1;

        *full_isr = 0;
        if (rd_kafka_metadata(rk, 1, NULL, &md, 5000))
                return -1;
        *full_isr = 1;
        for (int t = 0; t < md->topic_cnt; t++)
                for (int p = 0; p < md->topics[t].partition_cnt; p++) {
                        const rd_kafka_metadata_partition_t *mp = &md->topics[t].partitions[p];
                        if (mp->isr_cnt < 3)
                                *full_isr = 0;
                        if (!strcmp(md->topics[t].topic, REQ) && mp->leader >= 1 &&
                            mp->leader <= 3)
                                count[mp->leader]++;
                }
        for (int b = 1; b <= 3; b++) {
                if (best < 0 || count[b] > count[best])
                        best = b;
                if (led)
                        led[b] = count[b];
        }
        rd_kafka_metadata_destroy(md);
        return best;
}

/* The workers' group is Stable with both members (a member joining late
 * would rebalance the group in the middle of the failover). */
static int group_ready(rd_kafka_t *rk) {
        const struct rd_kafka_group_list *gl = NULL;
        int ok = 0;

        if (rd_kafka_list_groups(rk, "cluster", &gl, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            gl->group_cnt == 1)
                ok = gl->groups[0].member_cnt == 2 && !strcmp(gl->groups[0].state, "Stable");
        if (gl)
                rd_kafka_group_list_destroy(gl);
        return ok;
}

static rd_kafka_t *reader_new(void) {
        static const char *const kv[] = {"group.id", "cluster-reader", "enable.auto.commit",
                                         "false", NULL};
        rd_kafka_t *rk = handle(RD_KAFKA_CONSUMER, kv);
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);

        rd_kafka_poll_set_consumer(rk);
        for (int i = 0; i < 8; i++)
                rd_kafka_topic_partition_list_add(l, RES, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_assign(rk, l);
        rd_kafka_topic_partition_list_destroy(l);
        return rk;
}

typedef struct tally {
        int n;
        int *good;              /* OK answers with the right values, per id */
        int wrong;              /* answers with wrong values or not OK */
        int64_t answered;       /* distinct ids answered */
        int warm;               /* the warm-up request was answered */
        double last_answer, max_gap;
} tally_t;

static void take(tally_t *t, const rd_kafka_message_t *m) {
        swarm_response_t r;
        swarm_err_t err;
        char id[32];
        int i, ok;

        memset(&r, 0, sizeof(r));
        swarm_err_clear(&err);
        if (swarm_codec_decode_response(codec, m->payload, m->len, &r, &err)) {
                t->wrong++;
                swarm_response_destroy(&r);
                return;
        }
        if (r.request_id.len == 4 && !memcmp(r.request_id.ptr, "warm", 4))
                t->warm = 1;
        if (r.request_id.len < 3 || r.request_id.len >= sizeof(id) ||
            r.request_id.ptr[0] != 'c' || r.request_id.ptr[1] != '-') {
                swarm_response_destroy(&r);
                return;
        }
        memcpy(id, r.request_id.ptr, r.request_id.len);
        id[r.request_id.len] = '\0';
        i = atoi(id + 2);
        ok = i >= 0 && i < t->n && r.status == SWARM_STATUS_OK && r.n_outputs == 1 &&
             r.outputs[0].size == 16;
        for (int k = 0; ok && k < 4; k++) {
                float f;
                memcpy(&f, (const char *)r.outputs[0].data + 4 * k, 4);
                ok = f == (float)(i % 1000) + (float)k;
        }
        if (!ok) {
                t->wrong++;
        } else {
                double now = swarm_clock_s();
                if (t->last_answer > 0 && now - t->last_answer > t->max_gap)
                        t->max_gap = now - t->last_answer;
                t->last_answer = now;
                if (!t->good[i]++)
                        t->answered++;
        }
        swarm_response_destroy(&r);
}

/* Request c-I (I >= 0) or the warm-up request (I < 0). */
static void produce(rd_kafka_t *p, swarm_buf_t *buf, int i) {
        char id[32];
        float v[4];
        swarm_request_t req;
        swarm_err_t err;

        if (i < 0)
                snprintf(id, sizeof(id), "warm");
        else
                snprintf(id, sizeof(id), "c-%d", i);
        for (int k = 0; k < 4; k++)
                v[k] = (float)(i % 1000) + (float)k;
        test_request_f32(&req, id, "tiny", v, 1, 4);
        buf->len = 0;
        swarm_err_clear(&err);
        if (swarm_codec_encode_request(codec, &req, NULL, 0, buf, &err)) {
                fprintf(stderr, "encode: %s\n", err.msg);
                exit(1);
        }
        fault_produce(p, REQ, id, buf->data, buf->len);
}

static int failed_deliveries;
static double last_delivery, max_delivery_gap;  /* the test's own producer */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
        (void)rk, (void)opaque;
        if (m->err) {
                if (failed_deliveries++ < 5)
                        fprintf(stderr, "request not delivered: %s\n",
                                rd_kafka_err2str(m->err));
                return;
        }
        if (last_delivery > 0 && swarm_clock_s() - last_delivery > max_delivery_gap)
                max_delivery_gap = swarm_clock_s() - last_delivery;
        last_delivery = swarm_clock_s();
}

static void test_cluster(const char *bin, const char *tiny, int n) {
        static const char *const pkv[] = {"linger.ms", "10", "acks", "all",
                                          "enable.idempotence", "true", NULL};
        rd_kafka_conf_t *pc;
        rd_kafka_t *p, *rk, *admin;
        swarm_buf_t buf = {0};
        tally_t t = {.n = n};
        pid_t w[2];
        double t0, kill_at = 0, start_at = 0, recover_s = -1, rejoin_s = -1;
        int sent = 0, victim = -1, phase = 0, sent_at_kill = 0, full, rc0, rc1;
        int led_before[4] = {0}, led_down[4] = {0};
        double failover_s = -1, next_census = 0;

        {
                char es[256];
                pc = rd_kafka_conf_new();
                rd_kafka_conf_set(pc, "bootstrap.servers", bootstrap, NULL, 0);
                for (const char *const *kv = pkv; *kv; kv += 2)
                        rd_kafka_conf_set(pc, kv[0], kv[1], es, sizeof(es));
                rd_kafka_conf_set_dr_msg_cb(pc, on_delivery);
                if (!(p = rd_kafka_new(RD_KAFKA_PRODUCER, pc, es, sizeof(es)))) {
                        fprintf(stderr, "producer: %s\n", es);
                        exit(1);
                }
        }
        admin = handle(RD_KAFKA_PRODUCER, NULL);
        t.good = calloc((size_t)n, sizeof(int));
        w[0] = spawn(bin, tiny, 0);
        w[1] = spawn(bin, tiny, 1);
        rk = reader_new();
        /* the clock starts once the workers serve (joining takes 3-10 s
         * on a loaded machine), so the kill hits a pipeline under load */
        produce(p, &buf, -1);
        t0 = swarm_clock_s();
        while (!t.warm && swarm_clock_s() - t0 < 120) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 50);
                rd_kafka_poll(p, 0);
                if (m && !m->err)
                        take(&t, m);
                if (m)
                        rd_kafka_message_destroy(m);
        }
        CHECK(t.warm, "the warm-up request was not answered in 120 s");
        while (t.warm && !group_ready(admin) && swarm_clock_s() - t0 < 120)
                usleep(250000);
        CHECK(group_ready(admin), "the workers' group is not Stable with 2 members");
        t.last_answer = 0;
        last_delivery = 0;
        t0 = swarm_clock_s();
        while (t.warm && t.answered < n && swarm_clock_s() - t0 < 150) {
                double el = swarm_clock_s() - t0;
                int64_t due = (int64_t)(el / PRODUCE_S * n);
                for (; sent < n && sent < due; sent++)
                        produce(p, &buf, sent);
                rd_kafka_poll(p, 0);
                if (phase == 0 && el >= KILL_AT_S) {
                        victim = leader_census(admin, &full, led_before);
                        CHECK(victim >= 1, "no metadata before the kill");
                        if (victim < 1)
                                break;
                        run_ctl("kill", victim);
                        kill_at = swarm_clock_s();
                        sent_at_kill = sent;
                        phase = 1;
                } else if (phase == 1 && failover_s < 0 && swarm_clock_s() >= next_census) {
                        /* while it is down its partitions get other leaders */
                        led_down[victim] = -1;
                        if (leader_census(admin, &full, led_down) > 0 &&
                            led_down[victim] == 0 && !full)
                                failover_s = swarm_clock_s() - kill_at;
                        next_census = swarm_clock_s() + 0.25;
                } else if (phase == 1 && swarm_clock_s() - kill_at >= DOWN_S &&
                           (failover_s >= 0 || swarm_clock_s() - kill_at >= 40)) {
                        CHECK(failover_s >= 0, "broker %d still leads %d partitions 40 s "
                              "after its kill", victim, led_down[victim]);
                        CHECK(run_ctl("start", victim) == 0, "restart broker %d", victim);
                        start_at = swarm_clock_s();
                        phase = 2;
                }
                if (phase >= 1 && recover_s < 0 && t.answered >= sent_at_kill) {
                        int all = 1;
                        for (int i = 0; all && i < sent_at_kill; i++)
                                all = t.good[i] > 0;
                        if (all)
                                recover_s = swarm_clock_s() - kill_at;
                }
                {
                        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 20);
                        if (m && !m->err)
                                take(&t, m);
                        if (m)
                                rd_kafka_message_destroy(m);
                }
        }
        /* the restarted broker must catch up into every ISR */
        while (phase == 2 && rejoin_s < 0 && swarm_clock_s() - start_at < 90) {
                leader_census(admin, &full, NULL);
                if (full)
                        rejoin_s = swarm_clock_s() - start_at;
                else
                        usleep(250000);
        }
        kill(w[0], SIGTERM);
        kill(w[1], SIGTERM);
        rc0 = proc_wait_exit(w[0], 60);
        rc1 = proc_wait_exit(w[1], 60);
        rd_kafka_flush(p, 10000);
        {
                int missing = 0;
                int64_t dups = 0;
                for (int i = 0; i < n; i++) {
                        missing += !t.good[i];
                        dups += t.good[i] > 1 ? t.good[i] - 1 : 0;
                }
                printf("fault cluster: brokers=3 rf=3 min_isr=2 requests=%d answered=%lld "
                       "missing=%d wrong=%d duplicates=%lld killed_broker=%d "
                       "led_request_partitions=%d failover_s=%.1f down_s=%.1f recover_s=%.1f "
                       "max_gap_s=%.1f produce_gap_s=%.1f rejoin_s=%.1f seconds=%.1f worker_exit=%d,%d\n",
                       n, (long long)t.answered, missing, t.wrong, (long long)dups, victim,
                       victim > 0 ? led_before[victim] : 0, failover_s,
                       start_at > 0 ? start_at - kill_at : 0.0, recover_s, t.max_gap,
                       max_delivery_gap, rejoin_s, swarm_clock_s() - t0, rc0, rc1);
                CHECK(missing == 0 && t.wrong == 0 && failed_deliveries == 0,
                      "missing=%d wrong=%d undelivered=%d", missing, t.wrong,
                      failed_deliveries);
                CHECK(phase == 2, "the broker was not killed and restarted");
                CHECK(victim > 0 && led_before[victim] > 0, "the killed broker led nothing");
                CHECK(recover_s >= 0, "the backlog at the kill was never answered");
                CHECK(rejoin_s >= 0, "the restarted broker did not rejoin every ISR");
                CHECK(rc0 == 0 && rc1 == 0, "workers exited %d %d", rc0, rc1);
        }
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        rd_kafka_destroy(admin);
        rd_kafka_destroy(p);
        swarm_buf_destroy(&buf);
        free(t.good);
}

int main(int argc, char **argv) {
        swarm_err_t err;

        signal(SIGPIPE, SIG_IGN);
        bootstrap = getenv("SWARM_BOOTSTRAP");
        ctl = getenv("SWARM_CLUSTER_CTL");
        if (!bootstrap || !ctl) {
                fprintf(stderr, "run under tests/lib/with-cluster.sh\n");
                return 77;
        }
        if (argc != 4) {
                fprintf(stderr, "usage: test_fault_cluster CONSUMER TINY.onnx N\n");
                return 2;
        }
        swarm_err_clear(&err);
        if (swarm_codec_new(&codec, &err))
                return 1;
        test_cluster(argv[1], argv[2], atoi(argv[3]));
        swarm_codec_destroy(codec);
        TEST_DONE();
}
