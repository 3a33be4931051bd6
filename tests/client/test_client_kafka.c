/*
 * The client against librdkafka's in-process mock cluster.  A thread plays
 * the worker: it reads requests, answers each with output = 2 * input on the
 * result topic, and mixes in responses for unknown ids and an undecodable
 * record.  Asserts: every callback exactly once with the right id and values,
 * in-flight never above the window, unknown ids and decode errors counted,
 * responses older than the client ignored, send-only mode, request timeout,
 * and "client closed" on destroy.
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "swarm/client.h"
#include "swarm/codec.h"
#include "swarm/conf.h"
#include "test_util.h"

#define REQ_TOPIC "req"
#define RES_TOPIC "res"
#define NPART 4
#define N 300
#define WINDOW 8
#define GHOST_EVERY 10

static const swarm_log_t lg = {SWARM_LOG_WARN, "test-client", NULL};
static char bootstraps[256];

typedef struct worker {
        pthread_t th;
        atomic_int stop;
        atomic_int pause;
        atomic_int answered;
        int ghosts;
        swarm_err_t err;
} worker_t;

static rd_kafka_t *new_handle(rd_kafka_type_t type, const char *const *kv) {
        char errstr[512];
        rd_kafka_conf_t *c = rd_kafka_conf_new();
        rd_kafka_t *rk;
        rd_kafka_conf_set(c, "bootstrap.servers", bootstraps, NULL, 0);
        for (int i = 0; kv && kv[i]; i += 2)
                if (rd_kafka_conf_set(c, kv[i], kv[i + 1], errstr,
                                      sizeof(errstr)) != RD_KAFKA_CONF_OK) {
                        fprintf(stderr, "%s\n", errstr);
                        exit(1);
                }
        rk = rd_kafka_new(type, c, errstr, sizeof(errstr));
        if (!rk) {
                fprintf(stderr, "rd_kafka_new: %s\n", errstr);
                exit(1);
        }
        return rk;
}

static void produce(rd_kafka_t *rk, int32_t part, const void *p, size_t n) {
        rd_kafka_resp_err_t e;
        while ((e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(RES_TOPIC),
                                      RD_KAFKA_V_PARTITION(part),
                                      RD_KAFKA_V_VALUE((void *)p, n),
                                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                      RD_KAFKA_V_END)) ==
               RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(rk, 10);
        if (e) {
                fprintf(stderr, "worker produce: %s\n", rd_kafka_err2str(e));
                exit(1);
        }
}

/* Encode a response for `id` whose single output is `data` (float32 [1,n]). */
static void answer(swarm_codec_t *codec, rd_kafka_t *rk, int32_t part,
                   swarm_str_t id, const float *data, int n) {
        swarm_response_t r;
        swarm_buf_t b = {NULL, 0, 0};
        swarm_err_t err;

        memset(&r, 0, sizeof(r));
        swarm_err_clear(&err);
        r.request_id = id;
        r.model = SWARM_STR("m");
        r.version = 3;
        r.n_outputs = 1;
        r.outputs[0].name = SWARM_STR("out");
        r.outputs[0].dtype = SWARM_DTYPE_FLOAT32;
        r.outputs[0].ndim = 2;
        r.outputs[0].shape[0] = 1;
        r.outputs[0].shape[1] = n;
        r.outputs[0].data = data;
        r.outputs[0].size = (size_t)n * sizeof(float);
        r.status = SWARM_STATUS_OK;
        r.worker = SWARM_STR("w0");
        r.batch_rows = 1;
        if (swarm_codec_encode_response(codec, &r, &b, &err)) {
                fprintf(stderr, "encode response: %s\n", err.msg);
                exit(1);
        }
        produce(rk, part, b.data, b.len);
        swarm_buf_free(&b);
}

static void *worker_main(void *arg) {
        /* librdkafka's assign() needs a group.id (never joined here) */
        static const char *const ckv[] = {"group.id", "test-worker",
                                          "enable.auto.commit", "false",
                                          "fetch.wait.max.ms", "10",
                                          "enable.partition.eof", "false", NULL};
        static const char *const pkv[] = {"linger.ms", "1", NULL};
        worker_t *w = arg;
        rd_kafka_t *cons = new_handle(RD_KAFKA_CONSUMER, ckv);
        rd_kafka_t *prod = new_handle(RD_KAFKA_PRODUCER, pkv);
        rd_kafka_topic_partition_list_t *parts =
                rd_kafka_topic_partition_list_new(NPART);
        swarm_codec_t *codec = NULL;
        int seen = 0, garbage_sent = 0;
        rd_kafka_resp_err_t kerr;

        if (swarm_codec_new(&codec, &w->err))
                return NULL;
        for (int p = 0; p < NPART; p++)
                rd_kafka_topic_partition_list_add(parts, REQ_TOPIC, p)->offset =
                        RD_KAFKA_OFFSET_BEGINNING;
        if ((kerr = rd_kafka_assign(cons, parts))) {
                fprintf(stderr, "worker assign: %s\n", rd_kafka_err2str(kerr));
                exit(1);
        }
        rd_kafka_topic_partition_list_destroy(parts);
        while (!atomic_load(&w->stop)) {
                rd_kafka_message_t *m;
                swarm_request_t req;
                float out[64];
                int n;

                rd_kafka_poll(prod, 0);
                if (atomic_load(&w->pause)) {
                        usleep(5000);
                        continue;
                }
                m = rd_kafka_consumer_poll(cons, 20);
                if (!m)
                        continue;
                if (m->err) {
                        rd_kafka_message_destroy(m);
                        continue;
                }
                memset(&req, 0, sizeof(req));
                if (swarm_codec_decode_request(codec, m->payload, m->len, &req,
                                               &w->err)) {
                        fprintf(stderr, "worker decode: %s\n", w->err.msg);
                        exit(1);
                }
                n = (int)(req.inputs[0].size / sizeof(float));
                for (int i = 0; i < n && i < 64; i++) {
                        float f;
                        memcpy(&f, (const char *)req.inputs[0].data + 4 * i, 4);
                        out[i] = 2 * f;
                }
                if (!garbage_sent) {
                        /* an undecodable record on the result topic */
                        produce(prod, m->partition, "\0\0\0\0\2garbage", 12);
                        garbage_sent = 1;
                }
                if (++seen % GHOST_EVERY == 0) {
                        char ghost[64];
                        snprintf(ghost, sizeof(ghost), "ghost-%d", seen);
                        /* same partition, just before the real answer, so it
                         * is read before the client's flush can finish */
                        answer(codec, prod, m->partition, swarm_str(ghost), out,
                               n);
                        w->ghosts++;
                }
                answer(codec, prod, m->partition, req.request_id, out, n);
                atomic_fetch_add(&w->answered, 1);
                swarm_request_release(&req);
                rd_kafka_message_destroy(m);
        }
        rd_kafka_flush(prod, 5000);
        rd_kafka_consumer_close(cons);
        rd_kafka_destroy(cons);
        rd_kafka_destroy(prod);
        swarm_codec_destroy(codec);
        return NULL;
}

/* ---- the application side */

typedef struct app {
        int calls[N];
        int bad;
        int errors;
        swarm_code_t last_code;
        swarm_client_t *cl;
} app_t;

typedef struct req_ctx {
        app_t *app;
        int idx;
} req_ctx_t;

static req_ctx_t ctx[N];

static void on_done(const char *id, const swarm_response_t *resp,
                    const swarm_err_t *err, int64_t latency_us, void *opaque) {
        req_ctx_t *c = opaque;
        char want[32];

        snprintf(want, sizeof(want), "t-%d", c->idx);
        c->app->calls[c->idx]++;
        if (strcmp(id, want)) {
                fprintf(stderr, "callback id %s, want %s\n", id, want);
                c->app->bad++;
        }
        if (latency_us < 0)
                c->app->bad++;
        if (err) {
                c->app->errors++;
                c->app->last_code = err->code;
                return;
        }
        if (!resp)
                return; /* send-only client: delivered */
        if (resp->request_id.len != strlen(want) ||
            memcmp(resp->request_id.ptr, want, strlen(want)) ||
            resp->status != SWARM_STATUS_OK || resp->n_outputs != 1 ||
            resp->version != 3 || resp->outputs[0].size != 4 * sizeof(float)) {
                c->app->bad++;
                return;
        }
        for (int i = 0; i < 4; i++) {
                float f;
                memcpy(&f, (const char *)resp->outputs[0].data + 4 * i, 4);
                if (f != 2.0f * (float)(c->idx + i)) {
                        fprintf(stderr, "%s out[%d] = %g\n", id, i, f);
                        c->app->bad++;
                }
        }
}

static int send_one(swarm_client_t *cl, app_t *app, int i, swarm_err_t *err) {
        static const swarm_str_t meta[2] = {SWARM_STR("k"), SWARM_STR("v")};
        swarm_request_t req;
        float in[4];
        char id[32];

        for (int k = 0; k < 4; k++)
                in[k] = (float)(i + k);
        snprintf(id, sizeof(id), "t-%d", i);
        memset(&req, 0, sizeof(req));
        req.request_id = swarm_str(id);
        req.model = SWARM_STR("m");
        req.n_inputs = 1;
        req.inputs[0].name = SWARM_STR("input");
        req.inputs[0].dtype = SWARM_DTYPE_FLOAT32;
        req.inputs[0].ndim = 2;
        req.inputs[0].shape[0] = 1;
        req.inputs[0].shape[1] = 4;
        req.inputs[0].data = in;
        req.inputs[0].size = sizeof(in);
        ctx[i].app = app;
        ctx[i].idx = i;
        return swarm_client_send(cl, &req, meta, 1, on_done, &ctx[i], err);
}

static swarm_conf_t *client_conf(void) {
        swarm_conf_t *c = NULL;
        swarm_err_t err;
        swarm_err_clear(&err);
        swarm_conf_new(&c, &err);
        swarm_conf_add(c, SWARM_CONF_CLI, "bootstrap.servers", bootstraps, "test",
                       &err);
        return c;
}

static void test_round_trip(worker_t *w) {
        swarm_client_opts_t o = {REQ_TOPIC, RES_TOPIC, WINDOW, 0, 0};
        swarm_conf_t *conf = client_conf();
        swarm_client_stats_t st;
        swarm_err_t err;
        app_t *app = calloc(1, sizeof(*app));
        swarm_client_t *cl = NULL;

        swarm_err_clear(&err);
        if (swarm_client_new(conf, &lg, &o, &cl, &err)) {
                fprintf(stderr, "client_new: %s\n", err.msg);
                exit(1);
        }
        for (int i = 0; i < N; i++) {
                if (send_one(cl, app, i, &err)) {
                        fprintf(stderr, "send %d: %s\n", i, err.msg);
                        test_failures++;
                        break;
                }
                CHECK(swarm_client_in_flight(cl) <= WINDOW);
        }
        /* a duplicate of an id in flight is refused (if one still is) */
        CHECK(swarm_client_flush(cl, 30000, &err) == 0);
        if (err.code)
                fprintf(stderr, "flush: %s\n", err.msg);
        swarm_client_stats(cl, &st);
        fprintf(stderr, "sent=%llu delivered=%llu answered=%llu unknown=%llu "
                "decode_errors=%llu max_in_flight=%lld ghosts=%d\n",
                (unsigned long long)st.sent, (unsigned long long)st.delivered,
                (unsigned long long)st.answered,
                (unsigned long long)st.unknown_responses,
                (unsigned long long)st.decode_errors,
                (long long)st.max_in_flight_seen, w->ghosts);
        CHECK(st.sent == N && st.answered == N && st.in_flight == 0);
        CHECK(st.max_in_flight_seen <= WINDOW && st.max_in_flight_seen > 0);
        /* the old response produced before the client existed is not read */
        CHECK(st.unknown_responses == (uint64_t)w->ghosts);
        CHECK(st.decode_errors == 1);
        CHECK(app->bad == 0 && app->errors == 0);
        for (int i = 0; i < N; i++)
                if (app->calls[i] != 1) {
                        fprintf(stderr, "request %d: %d callbacks\n", i,
                                app->calls[i]);
                        test_failures++;
                }
        swarm_client_destroy(cl);
        for (int i = 0; i < N; i++)
                CHECK(app->calls[i] == 1); /* destroy adds none */
        swarm_conf_destroy(conf);
        free(app);
}

static void test_send_only(void) {
        swarm_client_opts_t o = {REQ_TOPIC, NULL, 4, 1, 0};
        swarm_conf_t *conf = client_conf();
        swarm_client_stats_t st;
        swarm_err_t err;
        app_t *app = calloc(1, sizeof(*app));
        swarm_client_t *cl = NULL;

        swarm_err_clear(&err);
        CHECK(swarm_client_new(conf, &lg, &o, &cl, &err) == 0);
        if (!cl) {
                fprintf(stderr, "%s\n", err.msg);
                exit(1);
        }
        for (int i = 0; i < 40; i++) {
                CHECK(send_one(cl, app, i, &err) == 0);
                CHECK(swarm_client_in_flight(cl) <= 4);
        }
        CHECK(swarm_client_flush(cl, 10000, &err) == 0);
        swarm_client_stats(cl, &st);
        CHECK(st.delivered == 40 && st.max_in_flight_seen <= 4);
        for (int i = 0; i < 40; i++)
                CHECK(app->calls[i] == 1);
        CHECK(app->bad == 0 && app->errors == 0);
        swarm_client_destroy(cl);
        swarm_conf_destroy(conf);
        free(app);
}

static void test_timeout_and_close(worker_t *w) {
        swarm_client_opts_t o = {REQ_TOPIC, RES_TOPIC, 16, 0, 300};
        swarm_conf_t *conf = client_conf();
        swarm_client_stats_t st;
        swarm_err_t err;
        app_t *app = calloc(1, sizeof(*app));
        swarm_client_t *cl = NULL;
        struct timespec t0, t1;
        double el;

        swarm_err_clear(&err);
        /* let the worker finish the earlier tests' requests (their ids repeat
         * here), then pause it; its consumer poll lasts at most 20 ms */
        for (int i = 0; i < 1000 && atomic_load(&w->answered) < N + 40; i++)
                usleep(10000);
        CHECK(atomic_load(&w->answered) == N + 40);
        atomic_store(&w->pause, 1);
        usleep(100000);
        CHECK(swarm_client_new(conf, &lg, &o, &cl, &err) == 0);
        if (!cl) {
                fprintf(stderr, "%s\n", err.msg);
                exit(1);
        }
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int i = 0; i < 3; i++)
                CHECK(send_one(cl, app, i, &err) == 0);
        /* a duplicate id while in flight is refused */
        CHECK_ERR(send_one(cl, app, 2, &err), err, SWARM_ERR_INVALID,
                  "already in flight");
        CHECK_ERR(swarm_client_flush(cl, 100, &err), err, SWARM_ERR_TIMEOUT,
                  "3 requests still in flight");
        while (app->errors < 3)
                swarm_client_poll(cl, 100);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        el = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        CHECK(el >= 0.29 && el < 5);
        CHECK(app->last_code == SWARM_ERR_TIMEOUT);
        swarm_client_stats(cl, &st);
        CHECK(st.timed_out == 3 && st.in_flight == 0);
        for (int i = 0; i < 3; i++)
                CHECK(app->calls[i] == 1);

        /* destroy with requests in flight: "client closed", exactly once */
        for (int i = 10; i < 15; i++)
                CHECK(send_one(cl, app, i, &err) == 0);
        swarm_client_destroy(cl);
        for (int i = 10; i < 15; i++)
                CHECK(app->calls[i] == 1);
        CHECK(app->errors == 8 && app->last_code == SWARM_ERR_STATE);
        CHECK(app->bad == 0);
        atomic_store(&w->pause, 0);
        swarm_conf_destroy(conf);
        free(app);
}

static void test_no_broker(void) {
        swarm_client_opts_t o = {REQ_TOPIC, RES_TOPIC, 4, 0, 0};
        swarm_conf_t *conf = NULL;
        swarm_err_t err;
        swarm_client_t *cl = NULL;

        swarm_err_clear(&err);
        swarm_conf_new(&conf, &err);
        swarm_conf_add(conf, SWARM_CONF_CLI, "bootstrap.servers", "127.0.0.1:1",
                       "-b", &err);
        swarm_conf_add(conf, SWARM_CONF_CLI, "no.such.prop", "1", "-X", &err);
        CHECK_ERR(swarm_client_new(conf, &lg, &o, &cl, &err), err,
                  SWARM_ERR_CONFIG, "-X: ");
        CHECK(cl == NULL);
        swarm_conf_destroy(conf);
}

int main(void) {
        static const char *const kv[] = {"linger.ms", "0", NULL};
        char errstr[256];
        rd_kafka_conf_t *mc = rd_kafka_conf_new();
        rd_kafka_t *mrk;
        rd_kafka_mock_cluster_t *mcluster;
        worker_t w;
        rd_kafka_t *old;

        rd_kafka_conf_set(mc, "log_level", "3", NULL, 0);
        mrk = rd_kafka_new(RD_KAFKA_PRODUCER, mc, errstr, sizeof(errstr));
        if (!mrk || !(mcluster = rd_kafka_mock_cluster_new(mrk, 3))) {
                fprintf(stderr, "cannot start the mock cluster\n");
                return 1;
        }
        snprintf(bootstraps, sizeof(bootstraps), "%s",
                 rd_kafka_mock_cluster_bootstraps(mcluster));
        rd_kafka_mock_topic_create(mcluster, REQ_TOPIC, NPART, 1);
        rd_kafka_mock_topic_create(mcluster, RES_TOPIC, NPART, 1);

        /* a stale response that must not be read by clients created later */
        old = new_handle(RD_KAFKA_PRODUCER, kv);
        {
                swarm_codec_t *codec = NULL;
                swarm_err_t err;
                float f[4] = {0};
                swarm_err_clear(&err);
                swarm_codec_new(&codec, &err);
                answer(codec, old, 1, SWARM_STR("t-0"), f, 4);
                rd_kafka_flush(old, 5000);
                swarm_codec_destroy(codec);
        }
        rd_kafka_destroy(old);

        memset(&w, 0, sizeof(w));
        swarm_err_clear(&w.err);
        pthread_create(&w.th, NULL, worker_main, &w);

        test_no_broker();
        test_round_trip(&w);
        test_send_only();
        test_timeout_and_close(&w);

        atomic_store(&w.stop, 1);
        pthread_join(w.th, NULL);
        rd_kafka_mock_cluster_destroy(mcluster);
        rd_kafka_destroy(mrk);
        TEST_DONE();
}
