/*
 * test_output.c - the worker's output stage on librdkafka's mock cluster:
 * one response per request with the right status, values and source
 * offset; undecodable input dead-lettered with its bytes and headers;
 * answers counted at delivery, not at produce time; source offsets stored
 * only once delivered; a refused delivery is fatal and its offset is never
 * stored; every response of one batch on one result partition and the next
 * batch on the next, unless the operator picked a partitioner.
 */
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "test_request.h"
#include "mock_worker.h"
#include "models.h"
#include "offsets.h"
#include "output.h"
#include "swarm/clock.h"
#include "swarm/device.h"

#define WIDTH 784
#define REQ_TOPIC "requests"
#define RES_TOPIC "results"
#define DLQ_TOPIC "requests.dlq"
/* result topics of several partitions, for the partitioner checks */
#define RES4_TOPIC "results.p4"
#define RESM_TOPIC "results.m4"
#define RES_PARTS 4
/* requests after the first four, answered by the partitioner checks: twice
 * a warm-up request, then PART_REQS */
#define PART_REQS 12
#define PART_ALL (2 * (1 + PART_REQS))

static mock_kafka_t mk;

static void produce_raw(rd_kafka_t *p, const void *v, size_t n) {
        CHECK(!rd_kafka_producev(p, RD_KAFKA_V_TOPIC(REQ_TOPIC), RD_KAFKA_V_PARTITION(0),
                                 RD_KAFKA_V_KEY("k", 1),
                                 RD_KAFKA_V_VALUE((void *)v, n),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END));
}

static void produce_request(rd_kafka_t *p, swarm_codec_t *codec, const char *id,
                            const float *data, int64_t rows) {
        swarm_request_t req;
        swarm_buf_t buf = {0};
        swarm_err_t err;

        swarm_err_clear(&err);
        test_request_f32(&req, id, "id", data, rows, WIDTH);
        CHECK_OK(swarm_codec_encode_request(codec, &req, NULL, 0, &buf, &err), err);
        produce_raw(p, buf.data, buf.len);
        swarm_buf_destroy(&buf);
}

/* Consume exactly n messages of partitions 0..parts-1 of `topic` with a
 * fresh consumer in `group`. */
static int consume_parts(const char *topic, int parts, const char *group,
                         rd_kafka_message_t **out, int n, rd_kafka_t **rk_out) {
        const char *kv[] = {"group.id", group, "auto.offset.reset", "earliest",
                            "enable.auto.commit", "false",
                            "enable.auto.offset.store", "false", NULL};
        rd_kafka_t *rk = mock_handle(&mk, RD_KAFKA_CONSUMER, kv);
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts);
        int got = 0;
        int64_t until = swarm_clock_ms() + 20000;

        rd_kafka_poll_set_consumer(rk);
        for (int p = 0; p < parts; p++)
                rd_kafka_topic_partition_list_add(l, topic, p)->offset =
                        RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_assign(rk, l);
        rd_kafka_topic_partition_list_destroy(l);
        while (got < n && swarm_clock_ms() < until) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
                if (!m)
                        continue;
                if (m->err) {
                        rd_kafka_message_destroy(m);
                        continue;
                }
                out[got++] = m;
        }
        *rk_out = rk;
        return got;
}

static int consume(const char *topic, const char *group, rd_kafka_message_t **out,
                   int n, rd_kafka_t **rk_out) {
        return consume_parts(topic, 1, group, out, n, rk_out);
}

static int64_t committed(rd_kafka_t *rk) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        int64_t off;
        rd_kafka_topic_partition_list_add(l, REQ_TOPIC, 0);
        if (rd_kafka_committed(rk, l, 5000))
                off = -2;
        else
                off = l->elems[0].offset;
        rd_kafka_topic_partition_list_destroy(l);
        return off;
}

static job_t *new_job(offtrack_t *track, rd_kafka_message_t *m, job_kind_t kind) {
        job_t *j = calloc(1, sizeof(*j));
        swarm_err_t err;
        swarm_err_clear(&err);
        j->msg = m;
        j->kind = kind;
        CHECK_OK(offtrack_add(track, m->partition, m->offset, &j->ref, &err), err);
        return j;
}

static const char *header(const rd_kafka_message_t *m, const char *name,
                          char *buf, size_t size) {
        rd_kafka_headers_t *h;
        const void *v;
        size_t n;
        if (rd_kafka_message_headers(m, &h) ||
            rd_kafka_header_get_last(h, name, &v, &n) || n >= size)
                return "";
        memcpy(buf, v, n);
        buf[n] = '\0';
        return buf;
}

/* Wait until every partition of `topic` has a leader: the partitioner skips
 * partitions without one (as Kafka's do), and a freshly created mock topic
 * can report leaderless partitions for a moment on a loaded machine. */
static void wait_leaders(rd_kafka_t *rk, const char *topic, int parts) {
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
        int64_t until = swarm_clock_ms() + 20000;
        int ready = 0;

        while (!ready && swarm_clock_ms() < until) {
                const struct rd_kafka_metadata *md;
                if (rd_kafka_metadata(rk, 0, rkt, &md, 2000) != RD_KAFKA_RESP_ERR_NO_ERROR)
                        continue;
                ready = md->topic_cnt == 1 && !md->topics[0].err &&
                        md->topics[0].partition_cnt == parts;
                for (int i = 0; ready && i < md->topics[0].partition_cnt; i++)
                        ready = !md->topics[0].partitions[i].err &&
                                md->topics[0].partitions[i].leader >= 0;
                rd_kafka_metadata_destroy(md);
                if (!ready)
                        usleep(100 * 1000);
        }
        rd_kafka_topic_destroy(rkt);
        CHECK(ready, "%s: %d partitions with leaders not seen in 20 s", topic, parts);
}

/* One INVALID_REQUEST answer per message of msgs[0 .. n), as one batch. */
static void emit_errors(output_t *out, offtrack_t *track, swarm_codec_t *codec,
                        rd_kafka_message_t **msgs, int n) {
        batch_t *bt = calloc(1, sizeof(*bt));
        job_t *prev = NULL;
        swarm_err_t err;

        swarm_err_clear(&err);
        for (int i = 0; i < n; i++) {
                job_t *j = new_job(track, msgs[i], JOB_ERROR);
                CHECK_OK(swarm_codec_decode_request(codec, msgs[i]->payload, msgs[i]->len,
                                                    &j->req, &err), err);
                j->status = SWARM_STATUS_INVALID_REQUEST;
                snprintf(j->error, sizeof(j->error), "partition check");
                if (prev)
                        prev->it.next = &j->it;
                else
                        bt->jobs = j;
                prev = j;
        }
        output_emit(out, bt);
}

/* Through a fresh output producing to `topic` (RES_PARTS partitions) with
 * `partitioner` (NULL: the worker's own), answer msgs[0] (a warm-up, so
 * that the producer knows the topic's partitions and leaders: before that,
 * records wait and are partitioned together when the metadata comes, and
 * partitions whose leader is not known yet are skipped), then
 * msgs[1 .. 1 + batches*per) with INVALID_REQUEST errors, `per` to a batch;
 * read all the records back into got[].  Returns how many were read. */
static int answer_batches(swarm_codec_t *codec, models_t *mm, job_fatal_t *fatal,
                          const swarm_log_t *log, const char *topic,
                          const char *partitioner, rd_kafka_message_t **msgs,
                          int batches, int per, rd_kafka_message_t **got,
                          rd_kafka_t **reader) {
        output_conf_t oc = {"w-part", REQ_TOPIC, topic, DLQ_TOPIC};
        rd_kafka_conf_t *kc = rd_kafka_conf_new();
        swarm_metrics_t *metrics;
        offtrack_t *track;
        output_t *out;
        swarm_err_t err;

        swarm_err_clear(&err);
        CHECK_OK(offtrack_new(&track, &err), err);
        CHECK_OK(swarm_metrics_new(&metrics, &err), err);
        rd_kafka_conf_set(kc, "bootstrap.servers", mk.bootstraps, NULL, 0);
        rd_kafka_conf_set(kc, "message.timeout.ms", "10000", NULL, 0);
        if (partitioner)
                CHECK(rd_kafka_conf_set(kc, "partitioner", partitioner, NULL, 0) ==
                      RD_KAFKA_CONF_OK);
        CHECK_OK(output_new(&oc, kc, codec, track, mm, metrics, fatal, log, &out, &err),
                 err);
        if (test_failures)
                return 0;
        emit_errors(out, track, codec, msgs, 1);
        output_finish(out);
        for (int b = 0; b < batches; b++)
                emit_errors(out, track, codec, msgs + 1 + b * per, per);
        output_finish(out);
        CHECK(output_answered(out, "INVALID_REQUEST") == 1 + batches * per,
              "answered %lld", (long long)output_answered(out, "INVALID_REQUEST"));
        CHECK(offtrack_inflight(track) == 0);
        output_destroy(out);
        swarm_metrics_destroy(metrics);
        offtrack_destroy(track);
        return consume_parts(topic, RES_PARTS, topic, got, 1 + batches * per, reader);
}

/* Request ids are "p-<batch>-<i>": the batch a result record answers (-1
 * for the warm-up, "w-<n>"). */
static int batch_of(const rd_kafka_message_t *m) {
        char id[32];
        int b = -1, i = -1;
        if (!m->key || m->key_len >= sizeof(id))
                return -1;
        memcpy(id, m->key, m->key_len);
        id[m->key_len] = '\0';
        return sscanf(id, "p-%d-%d", &b, &i) == 2 ? b : -1;
}

/* The worker's result partitioner: one batch's responses on one partition,
 * the next batch's on the next (round robin), so the producer sends one
 * record batch per worker batch; `-X partitioner=murmur2` still partitions
 * by request_id. */
static void check_partitioners(swarm_codec_t *codec, models_t *mm,
                               const swarm_log_t *log, rd_kafka_message_t **msgs) {
        enum { BATCHES = 6, PER = PART_REQS / BATCHES };
        rd_kafka_message_t *got[1 + PART_REQS];
        int32_t part_of[BATCHES];
        int seen[BATCHES] = {0}, spread = 0, n;
        rd_kafka_t *reader;
        rd_kafka_topic_t *rkt;
        job_fatal_t fatal_, *fatal = &fatal_;

        job_fatal_init(fatal);
        for (int b = 0; b < BATCHES; b++)
                part_of[b] = -1;
        n = answer_batches(codec, mm, fatal, log, RES4_TOPIC, NULL, msgs, BATCHES, PER,
                           got, &reader);
        CHECK(n == 1 + PART_REQS, "read %d of %d results", n, 1 + PART_REQS);
        for (int i = 0; i < n; i++) {
                int b = batch_of(got[i]);
                if (b < 0 && got[i]->key_len == 3 && !memcmp(got[i]->key, "w-0", 3))
                        continue;
                CHECK(b >= 0 && b < BATCHES, "unexpected key");
                if (b < 0 || b >= BATCHES)
                        continue;
                seen[b]++;
                if (part_of[b] < 0)
                        part_of[b] = got[i]->partition;
                CHECK(got[i]->partition == part_of[b],
                      "batch %d on partitions %d and %d", b, (int)part_of[b],
                      (int)got[i]->partition);
        }
        for (int b = 0; b < BATCHES; b++) {
                CHECK(seen[b] == PER, "batch %d: %d results", b, seen[b]);
                if (b > 0 && part_of[b - 1] >= 0)
                        CHECK(part_of[b] == (part_of[b - 1] + 1) % RES_PARTS,
                              "batch %d on %d after %d", b, (int)part_of[b],
                              (int)part_of[b - 1]);
        }
        for (int i = 0; i < n; i++)
                rd_kafka_message_destroy(got[i]);
        rd_kafka_destroy(reader);

        /* the operator's partitioner wins: by the key's murmur2 hash (the
         * Java client's default), whatever the batch */
        n = answer_batches(codec, mm, fatal, log, RESM_TOPIC, "murmur2", msgs + 1 + PART_REQS,
                           2, PART_REQS / 2, got, &reader);
        CHECK(n == 1 + PART_REQS, "read %d of %d results", n, 1 + PART_REQS);
        rkt = rd_kafka_topic_new(reader, RESM_TOPIC, NULL);
        for (int i = 0; i < n; i++) {
                int32_t want = rd_kafka_msg_partitioner_murmur2(rkt, got[i]->key,
                                                                got[i]->key_len,
                                                                RES_PARTS, NULL, NULL);
                CHECK(got[i]->partition == want, "murmur2: partition %d, want %d",
                      (int)got[i]->partition, (int)want);
                if (got[i]->partition != got[0]->partition)
                        spread = 1;
        }
        /* 12 keys on one partition would not tell the partitioners apart */
        CHECK(spread, "murmur2 put every key of the check on one partition");
        for (int i = 0; i < n; i++)
                rd_kafka_message_destroy(got[i]);
        rd_kafka_topic_destroy(rkt);
        rd_kafka_destroy(reader);
        CHECK(!job_fatal_is_set(fatal), "fatal: %s", fatal->err.msg);
        job_fatal_fini(fatal);
}

int main(int argc, char **argv) {
        static const char *const topics[] = {REQ_TOPIC, RES_TOPIC, DLQ_TOPIC, NULL};
        const char *files[1];
        char spec[1024];
        swarm_codec_t *codec;
        swarm_backend_t *backend;
        models_t *mm;
        models_opts_t mo;
        offtrack_t *track;
        swarm_metrics_t *metrics;
        job_fatal_t fatal;
        output_t *out;
        swarm_log_t log = {SWARM_LOG_WARN, "test_output", NULL};
        swarm_err_t err;
        rd_kafka_t *prod, *cons, *reader;
        rd_kafka_message_t *msgs[4 + PART_ALL], *res[4], *dlq[2];
        rd_kafka_conf_t *kc;
        static float in[2][WIDTH];
        batch_t *b;
        job_t *j;
        char hbuf[256];

        if (argc != 2) {
                fprintf(stderr, "usage: test_output IDENTITY.onnx\n");
                return 2;
        }
        swarm_err_clear(&err);
        mock_kafka_start(&mk, topics, 1);
        CHECK(!rd_kafka_mock_topic_create(mk.mc, RES4_TOPIC, RES_PARTS, 1));
        CHECK(!rd_kafka_mock_topic_create(mk.mc, RESM_TOPIC, RES_PARTS, 1));
        CHECK_OK(swarm_codec_new(&codec, &err), err);
        CHECK_OK(offtrack_new(&track, &err), err);
        CHECK_OK(swarm_metrics_new(&metrics, &err), err);
        CHECK_OK(swarm_backend_select_prec("cpu", SWARM_PREC_FP32, 1, &log,
                                           &backend, &err), err);
        snprintf(spec, sizeof(spec), "id=%s", argv[1]);
        files[0] = spec;
        memset(&mo, 0, sizeof(mo));
        mo.files = files;
        mo.n_files = 1;
        mo.backend = backend;
        CHECK_OK(models_new(&mo, &log, &mm, &err), err);
        if (test_failures)
                return 1;
        job_fatal_init(&fatal);

        /* three requests: two for the identity model, one undecodable */
        for (int i = 0; i < WIDTH; i++) {
                in[0][i] = (float)i;
                in[1][i] = -(float)i / 7.0f;
        }
        prod = mock_handle(&mk, RD_KAFKA_PRODUCER, NULL);
        produce_request(prod, codec, "r-0", in[0], 1);
        produce_request(prod, codec, "r-1", in[1], 1);
        produce_raw(prod, "garbage", 7);
        produce_request(prod, codec, "r-3", in[1], 1);
        /* for the partitioner checks: a warm-up w-k, then batch b's i-th
         * request p-b-i (2 a batch, then 6) */
        for (int k = 0; k < 2; k++) {
                char id[32];
                int per = k ? PART_REQS / 2 : 2;
                snprintf(id, sizeof(id), "w-%d", k);
                produce_request(prod, codec, id, in[0], 1);
                for (int i = 0; i < PART_REQS; i++) {
                        snprintf(id, sizeof(id), "p-%d-%d", i / per, i % per);
                        produce_request(prod, codec, id, in[0], 1);
                }
        }
        CHECK(!rd_kafka_flush(prod, 10000));
        CHECK(consume(REQ_TOPIC, "workers", msgs, 4 + PART_ALL, &cons) == 4 + PART_ALL);
        if (test_failures)
                return 1;

        kc = rd_kafka_conf_new();
        rd_kafka_conf_set(kc, "bootstrap.servers", mk.bootstraps, NULL, 0);
        rd_kafka_conf_set(kc, "linger.ms", "0", NULL, 0);
        rd_kafka_conf_set(kc, "message.timeout.ms", "10000", NULL, 0);
        {
                output_conf_t oc = {"w-test", REQ_TOPIC, RES_TOPIC, DLQ_TOPIC};
                CHECK_OK(output_new(&oc, kc, codec, track, mm, metrics, &fatal, &log,
                                    &out, &err), err);
        }
        output_set_consumer(out, cons);

        /* r-0: executed (identity: outputs = inputs) */
        j = new_job(track, msgs[0], JOB_INFER);
        CHECK_OK(swarm_codec_decode_request(codec, msgs[0]->payload, msgs[0]->len,
                                            &j->req, &err), err);
        CHECK_OK(models_resolve(mm, "id", 2, 0, 0, 0, &j->model, &err), err);
        j->it.rows = 1;
        j->it.recv_us = swarm_clock_us();
        b = calloc(1, sizeof(*b));
        b->jobs = j;
        b->model = j->model;
        b->rows = 1;
        b->n_out = 1;
        b->out[0] = malloc(WIDTH * sizeof(float));
        memcpy(b->out[0], in[0], WIDTH * sizeof(float));
        /* the resolved output shape execute_batch() leaves */
        b->out_shape[0][0] = 1;
        b->out_shape[0][1] = WIDTH;
        b->out_row_bytes[0] = WIDTH * sizeof(float);
        b->start_us = swarm_clock_us();
        output_emit(out, b);
        /* r-1: answered at once with an error */
        j = new_job(track, msgs[1], JOB_ERROR);
        CHECK_OK(swarm_codec_decode_request(codec, msgs[1]->payload, msgs[1]->len,
                                            &j->req, &err), err);
        j->status = SWARM_STATUS_INVALID_REQUEST;
        snprintf(j->error, sizeof(j->error), "shape mismatch for the test");
        b = calloc(1, sizeof(*b));
        b->jobs = j;
        output_emit(out, b);
        /* garbage: dead-lettered */
        j = new_job(track, msgs[2], JOB_DLQ);
        snprintf(j->error, sizeof(j->error), "undecodable request: test");
        b = calloc(1, sizeof(*b));
        b->jobs = j;
        output_emit(out, b);

        /* produced, not yet acknowledged: nothing counted, nothing stored */
        CHECK(output_answered(out, "OK") == 0, "OK counted before delivery");
        CHECK(output_dead_lettered(out) == 0, "DLQ counted before delivery");
        CHECK(offtrack_inflight(track) == 3);
        output_finish(out);
        CHECK(output_answered(out, "OK") == 1, "OK %lld",
              (long long)output_answered(out, "OK"));
        CHECK(output_answered(out, "INVALID_REQUEST") == 1);
        CHECK(output_dead_lettered(out) == 1);
        CHECK(offtrack_inflight(track) == 0);
        CHECK(!job_fatal_is_set(&fatal), "fatal: %s", fatal.err.msg);
        /* offsets 0..2 delivered: 3 is the next to consume */
        CHECK(!rd_kafka_commit(cons, NULL, 0));
        CHECK(committed(cons) == 3, "committed %lld", (long long)committed(cons));

        /* the records themselves */
        CHECK(consume(RES_TOPIC, "reader", res, 2, &reader) == 2);
        for (int i = 0; i < 2 && !test_failures; i++) {
                swarm_response_t resp;
                CHECK_OK(swarm_codec_decode_response(codec, res[i]->payload, res[i]->len,
                                                     &resp, &err), err);
                CHECK(resp.source_offset == i && resp.source_partition == 0);
                CHECK(resp.worker.len == 6 && !memcmp(resp.worker.ptr, "w-test", 6));
                if (i == 0) {
                        CHECK(resp.status == SWARM_STATUS_OK && resp.n_outputs == 1);
                        CHECK(resp.outputs[0].shape[0] == 1 && resp.outputs[0].shape[1] == WIDTH);
                        CHECK(resp.outputs[0].size == WIDTH * sizeof(float) &&
                              !memcmp(resp.outputs[0].data, in[0], WIDTH * sizeof(float)));
                        CHECK(resp.batch_rows == 1 && resp.version == 1);
                        CHECK(res[i]->key_len == 3 && !memcmp(res[i]->key, "r-0", 3));
                } else {
                        CHECK(resp.status == SWARM_STATUS_INVALID_REQUEST && resp.has_error);
                        CHECK(resp.error.len == strlen("shape mismatch for the test"));
                        CHECK(resp.batch_rows == 0 && resp.n_outputs == 0);
                }
                swarm_response_destroy(&resp);
        }
        for (int i = 0; i < 2; i++)
                rd_kafka_message_destroy(res[i]);
        rd_kafka_destroy(reader);
        CHECK(consume(DLQ_TOPIC, "reader", dlq, 1, &reader) == 1);
        if (!test_failures) {
                CHECK(dlq[0]->len == 7 && !memcmp(dlq[0]->payload, "garbage", 7));
                CHECK(!strcmp(header(dlq[0], "swarm.dlq.reason", hbuf, sizeof(hbuf)),
                              "undecodable request: test"));
                CHECK(!strcmp(header(dlq[0], "swarm.dlq.offset", hbuf, sizeof(hbuf)), "2"));
                CHECK(!strcmp(header(dlq[0], "swarm.dlq.topic", hbuf, sizeof(hbuf)),
                              REQ_TOPIC));
                CHECK(!strcmp(header(dlq[0], "swarm.dlq.worker", hbuf, sizeof(hbuf)),
                              "w-test"));
                rd_kafka_message_destroy(dlq[0]);
        }
        rd_kafka_destroy(reader);

        /* a partition's consumer error (a batch that does not decompress)
         * becomes a dead-letter record: no payload, where and why */
        {
                static const char text[] = "Decompression (codec 0x3) of message at 42 failed";
                rd_kafka_message_t ev;
                rd_kafka_message_t *got[2];
                memset(&ev, 0, sizeof(ev));
                ev.err = RD_KAFKA_RESP_ERR__BAD_COMPRESSION;
                ev.rkt = rd_kafka_topic_new(prod, REQ_TOPIC, NULL);
                ev.partition = 0;
                ev.offset = 42;
                ev.payload = (void *)text;
                ev.len = sizeof(text) - 1;
                output_dead_letter_event(out, &ev);
                output_finish(out);
                rd_kafka_topic_destroy(ev.rkt);
                CHECK(consume(DLQ_TOPIC, "reader-ev", got, 2, &reader) == 2);
                if (!test_failures) {
                        CHECK(got[1]->len == 0);
                        CHECK(!strcmp(header(got[1], "swarm.dlq.event", hbuf, sizeof(hbuf)),
                                      "consumer-error"));
                        CHECK(!strcmp(header(got[1], "swarm.dlq.offset", hbuf, sizeof(hbuf)),
                                      "42"));
                        CHECK(strstr(header(got[1], "swarm.dlq.reason", hbuf, sizeof(hbuf)),
                                     "Decompression") != NULL, "reason %s", hbuf);
                        CHECK(output_dead_lettered(out) == 1 + 1, "dead letters %lld",
                              (long long)output_dead_lettered(out));
                        for (int i = 0; i < 2; i++)
                                rd_kafka_message_destroy(got[i]);
                }
                rd_kafka_destroy(reader);
        }

        /* the result topic refuses r-3: fatal, its offset never stored */
        /* ApiKey 0 is Produce; the error is not retriable */
        rd_kafka_mock_push_request_errors(mk.mc, 0, 1,
                                          RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
        j = new_job(track, msgs[3], JOB_ERROR);
        CHECK_OK(swarm_codec_decode_request(codec, msgs[3]->payload, msgs[3]->len,
                                            &j->req, &err), err);
        j->status = SWARM_STATUS_MODEL_NOT_FOUND;
        snprintf(j->error, sizeof(j->error), "not served");
        b = calloc(1, sizeof(*b));
        b->jobs = j;
        output_emit(out, b);
        output_finish(out);
        CHECK(job_fatal_is_set(&fatal), "a refused delivery must be fatal");
        CHECK(fatal.err.code == SWARM_ERR_KAFKA && strstr(fatal.err.msg, "delivery to results"),
              "fatal cause: %s", fatal.err.msg);
        CHECK(output_answered(out, "MODEL_NOT_FOUND") == 0);
        CHECK(offtrack_inflight(track) == 1, "inflight %lld",
              (long long)offtrack_inflight(track));
        rd_kafka_commit(cons, NULL, 0); /* nothing new to commit */
        CHECK(committed(cons) == 3, "committed %lld after a failed delivery",
              (long long)committed(cons));

        output_destroy(out);
        wait_leaders(prod, RES4_TOPIC, RES_PARTS);
        wait_leaders(prod, RESM_TOPIC, RES_PARTS);
        check_partitioners(codec, mm, &log, msgs + 4);
        rd_kafka_consumer_close(cons);
        rd_kafka_destroy(cons);
        rd_kafka_destroy(prod);
        models_destroy(mm);
        swarm_backend_destroy(backend);
        swarm_metrics_destroy(metrics);
        offtrack_destroy(track);
        swarm_codec_destroy(codec);
        job_fatal_fini(&fatal);
        mock_kafka_stop(&mk);
        TEST_DONE();
}
