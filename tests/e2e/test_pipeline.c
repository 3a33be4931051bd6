/*
 * test_pipeline.c - end to end on a real Kafka broker.
 *
 * Runs under tests/lib/with-broker.sh (SWARM_BOOTSTRAP set, topics requests:16,
 * results:16, requests.dlq:1).  Starts two swarm-consumer workers with the
 * shipped Fashion-MNIST MLP, sends N good requests (rows of the test set)
 * mixed with malformed messages, unknown-model and wrong-shape requests, and
 * asserts:
 *   - every good request is answered OK by value (within 1e-5 of the row's largest
 *     reference output, see close_row()), by version 1, with the right shape;
 *   - unknown model -> MODEL_NOT_FOUND, wrong shape -> INVALID_REQUEST with
 *     the expected signature in `error`;
 *   - every malformed message is a DLQ record whose headers name its source
 *     partition and offset and carry a reason;
 *   - both workers served, and exit 0 on SIGTERM;
 *   - afterwards the group's committed offsets equal the high watermarks of
 *     all 16 partitions.
 * Usage: test_pipeline CONSUMER_BIN MODEL DATA_DIR [N_GOOD]
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "check.h"
#include "test_client.h"
#include "proc.h"
#include "tracker.h"
#include "test_request.h"
#include "swarm/arrayio.h"
#include "swarm/client.h"
#include "swarm/clock.h"
#include "swarm/codec.h"
#include "swarm/conf.h"
#include "swarm/kafka.h"

#define PARTITIONS 16
#define NWORKERS 2

enum kind { GOOD = 0, UNKNOWN_MODEL, BAD_SHAPE, EXPIRED };

typedef struct expect {
        enum kind kind;
        int row;                /* GOOD: test-set row */
} expect_t;

typedef struct ctx {
        const float *expected;  /* [rows, 10] */
        expect_t *ex;
        tracker_t tr;           /* answers per request */
        int64_t n;
        int64_t ok, not_found, invalid, expired;
        int64_t max_rel_err_x1e9;
        char workers[NWORKERS + 4][128];
        int nworkers;
} ctx_t;

static int close_row(float a, float b, const float *row, int n) {
        /* Within 1e-5 of the row's largest reference output (the softmax's
         * top probability), the bound the project uses for every model: the
         * reference is float64, and float32 summation order moves each
         * logit by up to ~1e-5 depending on the BLAS kernel (SkylakeX and
         * Haswell differ), which moves a probability p by about p * 1e-5. */
        float top = 0;
        for (int k = 0; k < n; k++)
                if (fabsf(row[k]) > top)
                        top = fabsf(row[k]);
        return fabsf(a - b) <= 1e-5f * top;
}

/* Record the worker that answered (the test wants every worker to answer). */
static void note_worker(ctx_t *c, const swarm_response_t *resp) {
        if (!resp->worker.len)
                return;
        for (int i = 0; i < c->nworkers; i++)
                if (strlen(c->workers[i]) == resp->worker.len &&
                    !memcmp(c->workers[i], resp->worker.ptr, resp->worker.len))
                        return;
        if (c->nworkers < NWORKERS + 4)
                snprintf(c->workers[c->nworkers++], 128, "%.*s", (int)resp->worker.len,
                         resp->worker.ptr);
}

/* The checks of one answer (tracker.h calls it for a known id). */
static void check_answer(void *opaque, int64_t idx, const char *request_id,
                         const swarm_response_t *resp) {
        ctx_t *c = opaque;
        expect_t *e = &c->ex[idx];

        note_worker(c, resp);
        switch (e->kind) {
        case GOOD: {
                const float *want = c->expected + (size_t)e->row * 10;
                const float *got;
                if (!tracker_ok(request_id, resp))
                        return;
                CHECK(resp->version == 1, "%s: version %d", request_id,
                      (int)resp->version);
                CHECK(resp->n_outputs == 1 && resp->outputs[0].ndim == 2 &&
                              resp->outputs[0].shape[0] == 1 &&
                              resp->outputs[0].shape[1] == 10 &&
                              resp->outputs[0].size == 40 &&
                              resp->outputs[0].dtype == SWARM_DTYPE_FLOAT32,
                      "%s: bad output tensor", request_id);
                if (resp->outputs[0].size != 40)
                        return;
                got = resp->outputs[0].data; /* may be unaligned: copy */
                for (int k = 0; k < 10; k++) {
                        float g;
                        memcpy(&g, (const char *)got + 4 * k, 4);
                        CHECK(close_row(g, want[k], want, 10),
                              "%s: output[%d] = %.9g, reference %.9g", request_id,
                              k, g, want[k]);
                }
                c->ok++;
                break;
        }
        case UNKNOWN_MODEL:
                CHECK(resp->status == SWARM_STATUS_MODEL_NOT_FOUND,
                      "%s: want MODEL_NOT_FOUND, got %s", request_id,
                      swarm_status_name(resp->status));
                CHECK(resp->has_error && resp->error.len > 0, "%s: no error text",
                      request_id);
                c->not_found++;
                break;
        case BAD_SHAPE:
                CHECK(resp->status == SWARM_STATUS_INVALID_REQUEST,
                      "%s: want INVALID_REQUEST, got %s", request_id,
                      swarm_status_name(resp->status));
                CHECK(resp->has_error &&
                              memmem(resp->error.ptr, resp->error.len,
                                     "input:FLOAT32[N,784]", 20),
                      "%s: error does not name the expected signature: %.*s",
                      request_id, (int)resp->error.len, resp->error.ptr);
                c->invalid++;
                break;
        case EXPIRED:
                CHECK(resp->status == SWARM_STATUS_DEADLINE_EXCEEDED,
                      "%s: want DEADLINE_EXCEEDED, got %s", request_id,
                      swarm_status_name(resp->status));
                c->expired++;
                break;
        }
}

/* Warm-up responses only record which workers answer. */
static void on_warm(const char *request_id, const swarm_response_t *resp,
                    const swarm_err_t *err, int64_t latency_us, void *opaque) {
        (void)request_id;
        (void)latency_us;
        if (!err && resp)
                note_worker(opaque, resp);
}

static pid_t spawn_worker(const char *bin, const char *bootstrap,
                          const char *model, const char *group, int i) {
        char spec[1024], name[64], logf[256];
        const char *argv[] = {bin, "-b", bootstrap, "-g", group, "-t", "requests",
                              "--model-file", spec, "--worker-name", name,
                              "--metrics-port", "0", "--max-batch-rows", "64",
                              "-X", "session.timeout.ms=6000",
                              "-X", "heartbeat.interval.ms=500", NULL};

        snprintf(spec, sizeof(spec), "fashion=%s", model);
        snprintf(name, sizeof(name), "worker-%d", i);
        snprintf(logf, sizeof(logf), "worker-%d.log", i);
        return proc_spawn_logged(argv, logf, "w");
}

/* Produce raw (malformed) values straight to the request topic. */
static int produce_raw(rd_kafka_t *p, const void *val, size_t len) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
                p, RD_KAFKA_V_TOPIC("requests"),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_VALUE((void *)val, len), RD_KAFKA_V_END);
        return e ? -1 : 0;
}

/* Read the whole DLQ topic (1 partition) and check every record. */
static int64_t check_dlq(const char *bootstrap, int64_t want) {
        char errstr[256];
        rd_kafka_conf_t *kc = rd_kafka_conf_new();
        rd_kafka_t *rk;
        rd_kafka_topic_partition_list_t *l;
        int64_t got = 0, lo = 0, hi = 0;

        rd_kafka_conf_set(kc, "bootstrap.servers", bootstrap, NULL, 0);
        rd_kafka_conf_set(kc, "group.id", "dlq-reader", NULL, 0);
        rd_kafka_conf_set(kc, "enable.auto.commit", "false", NULL, 0);
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, sizeof(errstr));
        if (!rk)
                return -1;
        rd_kafka_query_watermark_offsets(rk, "requests.dlq", 0, &lo, &hi, 10000);
        CHECK(hi - lo == want, "DLQ holds %" PRId64 " records, want %" PRId64,
              hi - lo, want);
        l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, "requests.dlq", 0)->offset =
                RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_assign(rk, l);
        rd_kafka_topic_partition_list_destroy(l);
        for (int idle = 0; got < hi && idle < 100;) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
                rd_kafka_headers_t *h = NULL;
                const void *v;
                size_t vs;
                if (!m) {
                        idle++;
                        continue;
                }
                if (m->err) {
                        rd_kafka_message_destroy(m);
                        continue;
                }
                got++;
                CHECK(!rd_kafka_message_headers(m, &h), "DLQ record without headers");
                if (h) {
                        CHECK(!rd_kafka_header_get_last(h, "swarm.dlq.reason", &v, &vs) &&
                                      vs > 10,
                              "DLQ record without a reason");
                        CHECK(!rd_kafka_header_get_last(h, "swarm.dlq.topic", &v, &vs) &&
                                      vs == 8 && !memcmp(v, "requests", 8),
                              "DLQ record without its source topic");
                        CHECK(!rd_kafka_header_get_last(h, "swarm.dlq.partition", &v, &vs),
                              "DLQ record without its source partition");
                        CHECK(!rd_kafka_header_get_last(h, "swarm.dlq.offset", &v, &vs),
                              "DLQ record without its source offset");
                }
                rd_kafka_message_destroy(m);
        }
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        return got;
}

/* Wait until `group` is Stable with `members` members (DescribeGroups
 * through rd_kafka_list_groups): a worker stopped while the group still
 * rebalances after the previous one left finds its last commit refused
 * for a generation that is gone, and the next owner reads its last
 * batches again (at-least-once).  Stopping the workers "a rebalance apart"
 * is what this test asserts committed offsets for. */
static void wait_group_stable(const char *bootstrap, const char *group, int members) {
        char errstr[256];
        rd_kafka_conf_t *kc = rd_kafka_conf_new();
        rd_kafka_t *rk;
        int64_t until = swarm_clock_ms() + 30000;
        int ok = 0;

        rd_kafka_conf_set(kc, "bootstrap.servers", bootstrap, NULL, 0);
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, sizeof(errstr));
        CHECK(rk != NULL, "rd_kafka_new: %s", errstr);
        while (rk && !ok && swarm_clock_ms() < until) {
                const struct rd_kafka_group_list *gl = NULL;
                if (!rd_kafka_list_groups(rk, group, &gl, 5000) && gl) {
                        ok = gl->group_cnt == 1 && gl->groups[0].state &&
                             !strcmp(gl->groups[0].state, "Stable") &&
                             gl->groups[0].member_cnt == members;
                }
                if (gl)
                        rd_kafka_group_list_destroy(gl);
                if (!ok)
                        usleep(100 * 1000);
        }
        CHECK(ok, "group %s not Stable with %d member(s) within 30 s", group, members);
        if (rk)
                rd_kafka_destroy(rk);
}

/* Committed offsets of `group` must equal the high watermarks. */
static void check_committed(const char *bootstrap, const char *group,
                            int64_t *total_msgs) {
        char errstr[256];
        rd_kafka_conf_t *kc = rd_kafka_conf_new();
        rd_kafka_t *rk;
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(PARTITIONS);
        rd_kafka_resp_err_t e;

        rd_kafka_conf_set(kc, "bootstrap.servers", bootstrap, NULL, 0);
        rd_kafka_conf_set(kc, "group.id", group, NULL, 0);
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, sizeof(errstr));
        for (int p = 0; p < PARTITIONS; p++)
                rd_kafka_topic_partition_list_add(l, "requests", p);
        e = rd_kafka_committed(rk, l, 10000);
        CHECK(!e, "committed(): %s", rd_kafka_err2str(e));
        *total_msgs = 0;
        for (int p = 0; p < PARTITIONS; p++) {
                int64_t lo = 0, hi = 0;
                rd_kafka_query_watermark_offsets(rk, "requests", p, &lo, &hi, 10000);
                CHECK(l->elems[p].offset == hi,
                      "partition %d: committed %" PRId64 " != high watermark %" PRId64
                      " (%s)",
                      p, l->elems[p].offset, hi, rd_kafka_err2str(l->elems[p].err));
                CHECK(hi > 0, "partition %d received nothing", p);
                *total_msgs += hi - lo;
        }
        rd_kafka_topic_partition_list_destroy(l);
        rd_kafka_destroy(rk);
}

int main(int argc, char **argv) {
        const char *bootstrap = getenv("SWARM_BOOTSTRAP");
        const char *bin, *model, *dir;
        char path[1024], group[64];
        swarm_array_t *test = NULL, *expected = NULL;
        swarm_conf_t *conf = NULL;
        swarm_client_t *cl = NULL;
        swarm_log_t log = {SWARM_LOG_WARN, "test_pipeline", NULL};
        swarm_err_t err;
        swarm_codec_t *codec = NULL;
        rd_kafka_t *raw = NULL;
        rd_kafka_conf_t *kc;
        pid_t workers[NWORKERS] = {0};
        ctx_t c;
        int64_t n_good = 20000, n_malformed = 0, total_msgs = 0, n_warm = 0;
        swarm_client_stats_t cst;

        if (argc < 4 || !bootstrap) {
                fprintf(stderr, "usage: SWARM_BOOTSTRAP=... %s CONSUMER MODEL DATA_DIR [N]\n",
                        argv[0]);
                return 2;
        }
        bin = argv[1];
        model = argv[2];
        dir = argv[3];
        if (argc > 4)
                n_good = atoll(argv[4]);
        swarm_err_clear(&err);
        memset(&c, 0, sizeof(c));

        snprintf(path, sizeof(path), "%s/test.npy", dir);
        if (swarm_array_load(path, NULL, &test, &err))
                goto fatal;
        snprintf(path, sizeof(path), "%s/expected.npy", dir);
        if (swarm_array_load(path, NULL, &expected, &err))
                goto fatal;
        c.expected = expected->data;

        snprintf(group, sizeof(group), "e2e-%d", (int)getpid());
        for (int i = 0; i < NWORKERS; i++)
                workers[i] = spawn_worker(bin, bootstrap, model, group, i);

        {
                /* keyed: the request id's hash spreads requests evenly over
                 * all 16 partitions, whatever the send rate */
                swarm_client_opts_t o = {.request_topic = "requests", .result_topic = "results",
                                         .max_in_flight = 2048, .keyed = 1};
                if (test_client_new(bootstrap, &log, &o, &conf, &cl, &err) ||
                    swarm_codec_new(&codec, &err))
                        goto fatal;
        }
        if (swarm_kafka_conf(conf, NULL, NULL, &kc, &err) ||
            swarm_kafka_new(RD_KAFKA_PRODUCER, kc, &raw, &err))
                goto fatal;

        /* Warm up until both workers answer (they joined the group and
         * share the partitions), so the run below exercises both even on a
         * loaded machine where the second join is slow. */
        {
                swarm_request_t req;
                char rid[32];
                test_request_f32(&req, "", "fashion", test->data, 1, 784);
                for (int round = 0; round < 120 && c.nworkers < NWORKERS; round++) {
                        for (int k = 0; k < 32; k++) {
                                snprintf(rid, sizeof(rid), "w%" PRId64, n_warm++);
                                req.request_id = swarm_str(rid);
                                if (swarm_client_send(cl, &req, NULL, 0, on_warm, &c, &err))
                                        goto fatal;
                        }
                        if (swarm_client_flush(cl, 60000, &err))
                                goto fatal;
                        if (c.nworkers < NWORKERS)
                                usleep(500000);
                }
                CHECK(c.nworkers == NWORKERS, "only %d workers answered the warm-up",
                      c.nworkers);
        }

        /* every 500th request is followed by one unknown-model request, one
         * wrong-shape request and three malformed messages */
        c.n = n_good + 3 * (n_good / 500 + 1);
        c.ex = calloc((size_t)c.n, sizeof(*c.ex));
        if (!c.ex || tracker_init(&c.tr, c.n, &c.n, check_answer, &c)) {
                fprintf(stderr, "out of memory\n");
                return 1;
        }
        {
                int64_t id = 0;
                int64_t rows = swarm_array_rows(test);
                for (int64_t i = 0; i < n_good; i++) {
                        swarm_request_t req;
                        char rid[32];
                        int row = (int)(i % rows);
                        snprintf(rid, sizeof(rid), "r%" PRId64, id);
                        test_request_f32(&req, rid, "fashion",
                                         (const char *)test->data + (size_t)row * 784 * 4,
                                         1, 784);
                        c.ex[id].kind = GOOD;
                        c.ex[id].row = row;
                        if (swarm_client_send(cl, &req, NULL, 0, tracker_on_done, &c.tr, &err))
                                goto fatal;
                        id++;
                        if (i % 500 != 0)
                                continue;
                        /* unknown model */
                        snprintf(rid, sizeof(rid), "r%" PRId64, id);
                        req.request_id = swarm_str(rid);
                        req.model = SWARM_STR("no-such-model");
                        c.ex[id++].kind = UNKNOWN_MODEL;
                        if (swarm_client_send(cl, &req, NULL, 0, tracker_on_done, &c.tr, &err))
                                goto fatal;
                        /* wrong shape */
                        snprintf(rid, sizeof(rid), "r%" PRId64, id);
                        req.request_id = swarm_str(rid);
                        req.model = SWARM_STR("fashion");
                        req.inputs[0].shape[1] = 783;
                        req.inputs[0].size = 783 * 4;
                        c.ex[id++].kind = BAD_SHAPE;
                        if (swarm_client_send(cl, &req, NULL, 0, tracker_on_done, &c.tr, &err))
                                goto fatal;
                        /* deadline long gone */
                        snprintf(rid, sizeof(rid), "r%" PRId64, id);
                        req.request_id = swarm_str(rid);
                        req.inputs[0].shape[1] = 784;
                        req.inputs[0].size = 784 * 4;
                        req.has_deadline = 1;
                        req.deadline_ms = 1000;
                        c.ex[id++].kind = EXPIRED;
                        if (swarm_client_send(cl, &req, NULL, 0, tracker_on_done, &c.tr, &err))
                                goto fatal;
                        req.has_deadline = 0;
                        /* malformed: garbage, wrong magic, truncated */
                        {
                                static const char garbage[] = "not avro at all";
                                swarm_buf_t b = {0};
                                req.inputs[0].shape[1] = 784;
                                req.inputs[0].size = 784 * 4;
                                req.request_id = SWARM_STR("truncated");
                                if (swarm_codec_encode_request(codec, &req, NULL, 0, &b, &err))
                                        goto fatal;
                                produce_raw(raw, garbage, sizeof(garbage));
                                b.data[0] = 1; /* wrong magic byte */
                                produce_raw(raw, b.data, b.len);
                                b.data[0] = 0;
                                produce_raw(raw, b.data, b.len / 2);
                                swarm_buf_destroy(&b);
                                n_malformed += 3;
                        }
                }
                c.n = id;
        }
        rd_kafka_flush(raw, 30000);
        if (swarm_client_flush(cl, 240000, &err))
                goto fatal;
        swarm_client_stats(cl, &cst);

        tracker_check_once(&c.tr, c.n);
        CHECK(c.ok == n_good, "ok %" PRId64 " of %" PRId64, c.ok, n_good);
        CHECK(c.not_found == n_good / 500 + (n_good % 500 != 0),
              "model_not_found %" PRId64, c.not_found);
        CHECK(c.invalid == c.not_found, "invalid_request %" PRId64, c.invalid);
        CHECK(c.expired == c.not_found, "deadline_exceeded %" PRId64, c.expired);
        CHECK(c.nworkers == NWORKERS, "%d workers answered, want %d", c.nworkers,
              NWORKERS);

        /* stop the workers a rebalance apart: each finishes, commits, leaves */
        for (int i = 0; i < NWORKERS; i++) {
                int rc;
                kill(workers[i], SIGTERM);
                rc = proc_wait_exit(workers[i], 60);
                CHECK(rc == 0, "worker %d exited %d (see worker-%d.log)", i, rc, i);
                if (i + 1 < NWORKERS)
                        wait_group_stable(bootstrap, group, NWORKERS - 1 - i);
        }
        {
                int64_t dlq = check_dlq(bootstrap, n_malformed);
                CHECK(dlq == n_malformed, "read %" PRId64 " DLQ records, want %" PRId64,
                      dlq, n_malformed);
        }
        check_committed(bootstrap, group, &total_msgs);
        CHECK(total_msgs == c.n + n_malformed + n_warm,
              "request topic holds %" PRId64 " messages, sent %" PRId64, total_msgs,
              c.n + n_malformed + n_warm);

        printf("e2e: requests=%" PRId64 " ok=%" PRId64 " model_not_found=%" PRId64
               " invalid_request=%" PRId64 " deadline_exceeded=%" PRId64
               " dead_lettered=%" PRId64
               " workers=%d committed=high_watermark(16 partitions, %" PRId64
               " messages) max_in_flight=%" PRId64 " unknown_responses=%" PRIu64 "\n",
               c.n, c.ok, c.not_found, c.invalid, c.expired, n_malformed, c.nworkers,
               total_msgs, cst.max_in_flight_seen, cst.unknown_responses);
        swarm_client_destroy(cl);
        rd_kafka_destroy(raw);
        swarm_codec_destroy(codec);
        swarm_conf_destroy(conf);
        swarm_array_destroy(test);
        swarm_array_destroy(expected);
        free(c.ex);
        tracker_fini(&c.tr);
        printf("%s\n", test_failures ? "FAILED" : "PASSED");
        return test_failures ? 1 : 0;

fatal:
        fprintf(stderr, "FAIL: %s\n", err.msg);
        for (int i = 0; i < NWORKERS; i++)
                if (workers[i] > 0)
                        kill(workers[i], SIGKILL);
        return 1;
}
