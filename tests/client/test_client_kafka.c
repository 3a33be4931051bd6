/*
 * The client against librdkafka's in-process mock cluster.  A thread plays
 * the worker: it reads requests, answers each with output = 2 * input on the
 * result topic, and mixes in responses for unknown ids and an undecodable
 * record.  Asserts: every callback exactly once with the right id and values,
 * in-flight never above the window, unknown ids and decode errors counted,
 * responses older than the client ignored, send-only mode, request timeout,
 * and "client closed" on destroy.
 */
#include <time.h>
#include <unistd.h>

#include "swarm/client.h"
#include "swarm/clock.h"
#include "swarm/codec.h"
#include "swarm/conf.h"
#include "mock_worker.h"
#include "test_util.h"
#include "test_request.h"

#define REQ_TOPIC "req"
#define RES_TOPIC "res"
#define NPART 4
#define N 300
#define WINDOW 8
#define GHOST_EVERY 10

static const swarm_log_t lg = {SWARM_LOG_WARN, "test-client", NULL};
static mock_kafka_t mk;

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
        test_request_f32(&req, id, "m", in, 1, 4);
        ctx[i].app = app;
        ctx[i].idx = i;
        return swarm_client_send(cl, &req, meta, 1, on_done, &ctx[i], err);
}

static swarm_conf_t *client_conf(void) {
        swarm_conf_t *c = NULL;
        swarm_err_t err;
        swarm_err_clear(&err);
        swarm_conf_new(&c, &err);
        swarm_conf_add(c, SWARM_CONF_CLI, "bootstrap.servers", mk.bootstraps, "test",
                       &err);
        return c;
}

/* A client on `conf`; one that cannot be made ends the test (exit 1): the
 * rest of it needs one. */
static swarm_client_t *client_new(swarm_conf_t *conf, const swarm_client_opts_t *o) {
        swarm_client_t *cl = NULL;
        swarm_err_t err;
        swarm_err_clear(&err);
        if (swarm_client_new(conf, &lg, o, &cl, &err)) {
                fprintf(stderr, "client_new: %s\n", err.msg);
                exit(1);
        }
        return cl;
}

/* What each test below holds: its conf, the application's counters, the
 * client, the last error and the stats it reads. */
typedef struct sess {
        swarm_conf_t *conf;
        app_t *app;
        swarm_client_t *cl;
        swarm_err_t err;
        swarm_client_stats_t st;
} sess_t;

static void sess_open(sess_t *s) {
        memset(s, 0, sizeof(*s));
        s->conf = client_conf();
        s->app = calloc(1, sizeof(*s->app));
        if (!s->conf || !s->app) {
                fprintf(stderr, "sess_open: out of memory\n");
                exit(1);
        }
        swarm_err_clear(&s->err);
}

/* The client is destroyed by the test itself (it checks what that does). */
static void sess_close(sess_t *s) {
        swarm_conf_destroy(s->conf);
        free(s->app);
}

static void test_round_trip(mock_worker_t *w) {
        swarm_client_opts_t o = {REQ_TOPIC, RES_TOPIC, WINDOW, 0, 0, 0};
        sess_t s;

        sess_open(&s);
        s.cl = client_new(s.conf, &o);
        for (int i = 0; i < N; i++) {
                if (send_one(s.cl, s.app, i, &s.err)) {
                        fprintf(stderr, "send %d: %s\n", i, s.err.msg);
                        test_failures++;
                        break;
                }
                CHECK(swarm_client_in_flight(s.cl) <= WINDOW);
        }
        /* a duplicate of an id in flight is refused (if one still is) */
        CHECK(swarm_client_flush(s.cl, 30000, &s.err) == 0);
        if (s.err.code)
                fprintf(stderr, "flush: %s\n", s.err.msg);
        swarm_client_stats(s.cl, &s.st);
        fprintf(stderr, "sent=%llu delivered=%llu answered=%llu unknown=%llu "
                "decode_errors=%llu max_in_flight=%lld ghosts=%d\n",
                (unsigned long long)s.st.sent,
                (unsigned long long)s.st.delivered,
                (unsigned long long)s.st.answered,
                (unsigned long long)s.st.unknown_responses,
                (unsigned long long)s.st.decode_errors,
                (long long)s.st.max_in_flight_seen, w->ghosts);
        CHECK(s.st.sent == N && s.st.answered == N && s.st.in_flight == 0);
        CHECK(s.st.max_in_flight_seen <= WINDOW && s.st.max_in_flight_seen > 0);
        /* the old response produced before the client existed is not read */
        CHECK(s.st.unknown_responses == (uint64_t)w->ghosts);
        CHECK(s.st.decode_errors == 1);
        CHECK(s.app->bad == 0 && s.app->errors == 0);
        for (int i = 0; i < N; i++)
                if (s.app->calls[i] != 1) {
                        fprintf(stderr, "request %d: %d callbacks\n", i,
                                s.app->calls[i]);
                        test_failures++;
                }
        swarm_client_destroy(s.cl);
        for (int i = 0; i < N; i++)
                CHECK(s.app->calls[i] == 1); /* destroy adds none */
        sess_close(&s);
}

static void test_send_only(void) {
        swarm_client_opts_t o = {REQ_TOPIC, NULL, 4, 1, 0, 0};
        sess_t s;

        sess_open(&s);
        s.cl = client_new(s.conf, &o);
        for (int i = 0; i < 40; i++) {
                CHECK(send_one(s.cl, s.app, i, &s.err) == 0);
                CHECK(swarm_client_in_flight(s.cl) <= 4);
        }
        CHECK(swarm_client_flush(s.cl, 10000, &s.err) == 0);
        swarm_client_stats(s.cl, &s.st);
        CHECK(s.st.delivered == 40 && s.st.max_in_flight_seen <= 4);
        for (int i = 0; i < 40; i++)
                CHECK(s.app->calls[i] == 1);
        CHECK(s.app->bad == 0 && s.app->errors == 0);
        swarm_client_destroy(s.cl);
        sess_close(&s);
}

static void test_timeout_and_close(mock_worker_t *w) {
        swarm_client_opts_t o = {REQ_TOPIC, RES_TOPIC, 16, 0, 300, 0};
        sess_t s;
        double t0, el;

        sess_open(&s);
        /* let the worker finish the earlier tests' requests (their ids repeat
         * here), then pause it; its consumer poll lasts at most 20 ms */
        for (int i = 0; i < 1000 && atomic_load(&w->answered) < N + 40; i++)
                usleep(10000);
        CHECK(atomic_load(&w->answered) == N + 40);
        atomic_store(&w->pause, 1);
        usleep(100000);
        s.cl = client_new(s.conf, &o);
        t0 = swarm_clock_s();
        for (int i = 0; i < 3; i++)
                CHECK(send_one(s.cl, s.app, i, &s.err) == 0);
        /* a duplicate id while in flight is refused */
        CHECK_ERR(send_one(s.cl, s.app, 2, &s.err), s.err, SWARM_ERR_INVALID,
                  "already in flight");
        CHECK_ERR(swarm_client_flush(s.cl, 100, &s.err), s.err,
                  SWARM_ERR_TIMEOUT,
                  "3 requests still in flight");
        while (s.app->errors < 3)
                swarm_client_poll(s.cl, 100, NULL, NULL);
        el = swarm_clock_s() - t0;
        CHECK(el >= 0.29 && el < 5);
        CHECK(s.app->last_code == SWARM_ERR_TIMEOUT);
        swarm_client_stats(s.cl, &s.st);
        CHECK(s.st.timed_out == 3 && s.st.in_flight == 0);
        for (int i = 0; i < 3; i++)
                CHECK(s.app->calls[i] == 1);

        /* destroy with requests in flight: "client closed", exactly once */
        for (int i = 10; i < 15; i++)
                CHECK(send_one(s.cl, s.app, i, &s.err) == 0);
        swarm_client_destroy(s.cl);
        for (int i = 10; i < 15; i++)
                CHECK(s.app->calls[i] == 1);
        CHECK(s.app->errors == 8 && s.app->last_code == SWARM_ERR_STATE);
        CHECK(s.app->bad == 0);

        /* a full window with send_timeout_ms: the send gives up, retriable,
         * and its callback never runs */
        o.max_in_flight = 2;
        o.request_timeout_ms = 0;
        o.send_timeout_ms = 100;
        CHECK(swarm_client_new(s.conf, &lg, &o, &s.cl, &s.err) == 0);
        CHECK(send_one(s.cl, s.app, 20, &s.err) == 0);
        CHECK(send_one(s.cl, s.app, 21, &s.err) == 0);
        CHECK_ERR(send_one(s.cl, s.app, 22, &s.err), s.err, SWARM_ERR_TIMEOUT,
                  "no free slot within 100 ms (2 in flight)");
        CHECK(swarm_client_in_flight(s.cl) == 2);
        swarm_client_destroy(s.cl);
        CHECK(s.app->calls[20] == 1 && s.app->calls[21] == 1 &&
              s.app->calls[22] == 0);
        atomic_store(&w->pause, 0);
        sess_close(&s);
}

/* librdkafka's queue holds one message, so nearly every send runs the
 * QUEUE_FULL retry, whose polling frees entries of answered requests while
 * the send holds the head of the free list.  300 requests must leave the
 * whole window usable: with the worker paused, WINDOW sends in a row must
 * all find a slot (a leaked slot makes one of them time out). */
static void test_queue_full(mock_worker_t *w) {
        swarm_client_opts_t o = {REQ_TOPIC, RES_TOPIC, WINDOW, 0, 0, 3000};
        sess_t s;
        int sent = 0;

        sess_open(&s);
        swarm_conf_add(s.conf, SWARM_CONF_CLI,
                       "queue.buffering.max.messages", "1",
                       "-X", &s.err);
        swarm_conf_add(s.conf, SWARM_CONF_CLI, "linger.ms", "0", "-X", &s.err);
        s.cl = client_new(s.conf, &o);
        for (int i = 0; i < N; i++) {
                if (send_one(s.cl, s.app, i, &s.err)) {
                        fprintf(stderr, "queue-full send %d: %s\n", i,
                                s.err.msg);
                        test_failures++;
                        swarm_err_clear(&s.err);
                        break;
                }
                sent++;
        }
        CHECK(swarm_client_flush(s.cl, 30000, &s.err) == 0);
        /* a response can overtake its delivery report: give the last
         * reports a moment */
        for (int i = 0; i < 100; i++) {
                swarm_client_stats(s.cl, &s.st);
                if (s.st.free_slots == 2 * WINDOW)
                        break;
                swarm_client_poll(s.cl, 20, NULL, NULL);
        }
        swarm_client_stats(s.cl, &s.st);
        fprintf(stderr, "queue-full: sent=%llu answered=%llu free_slots=%d\n",
                (unsigned long long)s.st.sent,
                (unsigned long long)s.st.answered,
                s.st.free_slots);
        CHECK(sent == N && s.st.answered == N);
        /* every slot is back: twice the window once all delivery reports
         * are in (flush waits for the last of them) */
        CHECK(s.st.free_slots == 2 * WINDOW);
        for (int i = 0; i < N; i++)
                CHECK(s.app->calls[i] == 1);

        /* and the whole window is usable while nothing is answered */
        atomic_store(&w->pause, 1);
        usleep(100000);
        for (int i = 0; i < WINDOW; i++) {
                if (send_one(s.cl, s.app, 100 + i, &s.err)) {
                        fprintf(stderr, "window send %d: %s\n", i, s.err.msg);
                        test_failures++;
                        swarm_err_clear(&s.err);
                }
        }
        CHECK(swarm_client_in_flight(s.cl) == WINDOW);
        swarm_client_destroy(s.cl);
        atomic_store(&w->pause, 0);
        sess_close(&s);
}

static void test_no_broker(void) {
        swarm_client_opts_t o = {REQ_TOPIC, RES_TOPIC, 4, 0, 0, 0};
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
        static const char *const topics[] = {REQ_TOPIC, RES_TOPIC, NULL};
        static const char *const kv[] = {"linger.ms", "0", NULL};
        static const int64_t shape[2] = {1, 4};
        mock_worker_t w;
        rd_kafka_t *old;

        mock_kafka_start(&mk, topics, NPART);
        /* a stale response that must not be read by clients created later */
        old = mock_handle(&mk, RD_KAFKA_PRODUCER, kv);
        {
                swarm_codec_t *codec = NULL;
                swarm_err_t err;
                float f[4] = {0};
                swarm_err_clear(&err);
                swarm_codec_new(&codec, &err);
                mock_answer(codec, old, RES_TOPIC, 1, SWARM_STR("t-0"), f, 2,
                            shape);
                rd_kafka_flush(old, 5000);
                swarm_codec_destroy(codec);
        }
        rd_kafka_destroy(old);

        memset(&w, 0, sizeof(w));
        w.kafka = &mk;
        w.req_topic = REQ_TOPIC;
        w.res_topic = RES_TOPIC;
        w.partitions = NPART;
        w.ghost_every = GHOST_EVERY;
        w.garbage = 1;
        mock_worker_start(&w);

        test_no_broker();
        test_round_trip(&w);
        test_send_only();
        test_timeout_and_close(&w);
        test_queue_full(&w);

        mock_worker_stop(&w);
        mock_kafka_stop(&mk);
        TEST_DONE();
}
