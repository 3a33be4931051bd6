#include "mock_worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void mock_kafka_start(mock_kafka_t *m, const char *const *topics,
                      int partitions) {
        char errstr[256];
        rd_kafka_conf_t *c = rd_kafka_conf_new();

        rd_kafka_conf_set(c, "log_level", "3", NULL, 0);
        m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, errstr, sizeof(errstr));
        if (!m->rk || !(m->mc = rd_kafka_mock_cluster_new(m->rk, 3))) {
                fprintf(stderr, "cannot start the mock cluster\n");
                exit(1);
        }
        snprintf(m->bootstraps, sizeof(m->bootstraps), "%s",
                 rd_kafka_mock_cluster_bootstraps(m->mc));
        for (int i = 0; topics && topics[i]; i++)
                rd_kafka_mock_topic_create(m->mc, topics[i], partitions, 1);
}

void mock_kafka_stop(mock_kafka_t *m) {
        rd_kafka_mock_cluster_destroy(m->mc);
        rd_kafka_destroy(m->rk);
}

rd_kafka_t *mock_handle(const mock_kafka_t *m, rd_kafka_type_t type,
                        const char *const *kv) {
        char errstr[512];
        rd_kafka_conf_t *c = rd_kafka_conf_new();
        rd_kafka_t *rk;

        rd_kafka_conf_set(c, "bootstrap.servers", m->bootstraps, NULL, 0);
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

static void produce(rd_kafka_t *rk, const char *topic, int32_t part,
                    const void *p, size_t n) {
        rd_kafka_resp_err_t e;
        while ((e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
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

void mock_answer(swarm_codec_t *codec, rd_kafka_t *rk, const char *topic,
                 int32_t part, swarm_str_t id, const float *data, int ndim,
                 const int64_t *shape) {
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
        r.outputs[0].ndim = ndim;
        memcpy(r.outputs[0].shape, shape, (size_t)ndim * sizeof(*shape));
        r.outputs[0].data = data;
        r.outputs[0].size = (size_t)swarm_shape_elems(shape, ndim) * sizeof(float);
        r.status = SWARM_STATUS_OK;
        r.worker = SWARM_STR("w0");
        r.batch_rows = (int32_t)shape[0];
        if (swarm_codec_encode_response(codec, &r, &b, &err)) {
                fprintf(stderr, "encode response: %s\n", err.msg);
                exit(1);
        }
        produce(rk, topic, part, b.data, b.len);
        swarm_buf_destroy(&b);
}

static void *worker_main(void *arg) {
        /* librdkafka's assign() needs a group.id (never joined here) */
        static const char *const ckv[] = {"group.id", "test-worker",
                                          "enable.auto.commit", "false",
                                          "fetch.wait.max.ms", "10",
                                          "enable.partition.eof", "false", NULL};
        static const char *const pkv[] = {"linger.ms", "1", NULL};
        mock_worker_t *w = arg;
        rd_kafka_t *cons = mock_handle(w->kafka, RD_KAFKA_CONSUMER, ckv);
        rd_kafka_t *prod = mock_handle(w->kafka, RD_KAFKA_PRODUCER, pkv);
        rd_kafka_topic_partition_list_t *parts =
                rd_kafka_topic_partition_list_new(w->partitions);
        swarm_codec_t *codec = NULL;
        swarm_err_t err;
        float *out = NULL;
        size_t out_cap = 0;
        int seen = 0, garbage_sent = 0;
        rd_kafka_resp_err_t kerr;

        swarm_err_clear(&err);
        if (swarm_codec_new(&codec, &err)) {
                fprintf(stderr, "worker codec: %s\n", err.msg);
                exit(1);
        }
        for (int p = 0; p < w->partitions; p++)
                rd_kafka_topic_partition_list_add(parts, w->req_topic, p)->offset =
                        RD_KAFKA_OFFSET_BEGINNING;
        if ((kerr = rd_kafka_assign(cons, parts))) {
                fprintf(stderr, "worker assign: %s\n", rd_kafka_err2str(kerr));
                exit(1);
        }
        rd_kafka_topic_partition_list_destroy(parts);
        while (!atomic_load(&w->stop)) {
                rd_kafka_message_t *m;
                swarm_request_t req;
                char topic[256];
                size_t n;

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
                                               &err)) {
                        fprintf(stderr, "worker decode: %s\n", err.msg);
                        exit(1);
                }
                n = req.inputs[0].size / sizeof(float);
                if (n > out_cap) {
                        out = realloc(out, n * sizeof(float));
                        out_cap = n;
                }
                for (size_t i = 0; i < n; i++) {
                        float f;
                        memcpy(&f, (const char *)req.inputs[0].data + 4 * i, 4);
                        out[i] = 2 * f;
                }
                snprintf(topic, sizeof(topic), "%.*s",
                         req.has_reply_topic ? (int)req.reply_topic.len
                                             : (int)strlen(w->res_topic),
                         req.has_reply_topic ? req.reply_topic.ptr : w->res_topic);
                if (w->garbage && !garbage_sent) {
                        produce(prod, topic, m->partition, "\0\0\0\0\2garbage", 12);
                        garbage_sent = 1;
                }
                if (w->ghost_every && ++seen % w->ghost_every == 0) {
                        char ghost[64];
                        snprintf(ghost, sizeof(ghost), "ghost-%d", seen);
                        /* same partition, just before the real answer, so it
                         * is read before the client's flush can finish */
                        mock_answer(codec, prod, topic, m->partition,
                                    swarm_str(ghost), out, req.inputs[0].ndim,
                                    req.inputs[0].shape);
                        w->ghosts++;
                }
                mock_answer(codec, prod, topic, m->partition, req.request_id, out,
                            req.inputs[0].ndim, req.inputs[0].shape);
                atomic_fetch_add(&w->answered, 1);
                swarm_request_destroy(&req);
                rd_kafka_message_destroy(m);
        }
        free(out);
        rd_kafka_flush(prod, 5000);
        rd_kafka_consumer_close(cons);
        rd_kafka_destroy(cons);
        rd_kafka_destroy(prod);
        swarm_codec_destroy(codec);
        return NULL;
}

void mock_worker_start(mock_worker_t *w) {
        pthread_create(&w->th, NULL, worker_main, w);
}

void mock_worker_stop(mock_worker_t *w) {
        atomic_store(&w->stop, 1);
        pthread_join(w->th, NULL);
}
