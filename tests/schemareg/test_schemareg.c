/*
 * test_schemareg.c - the schema registry client against a real registry
 * (started by with-registry.sh; its URL in SWARM_TEST_REGISTRY_URL, and a
 * second one that insists on basic auth in SWARM_TEST_REGISTRY_AUTH_URL when
 * set): subject strategies, registration and its cache, framing with the
 * assigned ids, resolving an unknown writer id by fetching it, unknown ids,
 * credentials, an unreachable registry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarm/codec.h"
#include "swarm/conf.h"
#include "swarm/schemareg.h"
#include "../client/test_util.h"
#include "test_request.h"

static swarm_conf_t *conf_with(const char *const *kv) {
        swarm_conf_t *c = NULL;
        swarm_err_t err;
        swarm_err_clear(&err);
        if (swarm_conf_new(&c, &err))
                abort();
        for (int i = 0; kv[i]; i += 2)
                if (swarm_conf_add(c, SWARM_CONF_CLI, kv[i], kv[i + 1], "test", &err))
                        abort();
        return c;
}

static void encode_one(const swarm_codec_t *codec, swarm_buf_t *buf) {
        static const float x[3] = {1, 2, 3};
        swarm_request_t req;
        swarm_err_t err;

        swarm_err_clear(&err);
        test_request_2d(&req, "r1", "m", "x", SWARM_DTYPE_FLOAT32, x, 1, 3);
        buf->len = 0;
        if (swarm_codec_encode_request(codec, &req, NULL, 0, buf, &err)) {
                fprintf(stderr, "encode: %s\n", err.msg);
                abort();
        }
}

static int32_t frame_id(const swarm_buf_t *b) {
        return (int32_t)((uint32_t)b->data[1] << 24 | (uint32_t)b->data[2] << 16 |
                         (uint32_t)b->data[3] << 8 | b->data[4]);
}

static void set_frame_id(swarm_buf_t *b, int32_t id) {
        b->data[1] = (uint8_t)((uint32_t)id >> 24);
        b->data[2] = (uint8_t)((uint32_t)id >> 16);
        b->data[3] = (uint8_t)((uint32_t)id >> 8);
        b->data[4] = (uint8_t)id;
}

int main(void) {
        const char *url = getenv("SWARM_TEST_REGISTRY_URL");
        const char *auth_url = getenv("SWARM_TEST_REGISTRY_AUTH_URL");
        swarm_schemareg_t *sr = NULL;
        swarm_codec_t *codec = NULL, *worker = NULL;
        swarm_conf_t *c;
        swarm_buf_t buf = {0};
        swarm_request_t req;
        swarm_err_t err;
        char subj[256];
        int32_t id1 = 0, id2 = 0, rid, sid;

        swarm_err_clear(&err);
        if (!url) {
                fprintf(stderr, "SWARM_TEST_REGISTRY_URL not set (run through "
                                "with-registry.sh)\n");
                return 77;
        }

        /* no URL: nothing configured, the fixed ids stay */
        c = conf_with((const char *[]){"bootstrap.servers", "x", NULL});
        CHECK(swarm_schemareg_new(c, NULL, &sr, &err) == SWARM_OK && !sr);
        CHECK(swarm_codec_new(&codec, &err) == SWARM_OK);
        CHECK(swarm_schemareg_setup(c, NULL, codec, "requests", "results", &err) == SWARM_OK);
        encode_one(codec, &buf);
        CHECK(frame_id(&buf) == SWARM_SCHEMA_ID_REQUEST);
        swarm_codec_destroy(codec);
        codec = NULL;
        swarm_conf_destroy(c);

        /* malformed settings */
        c = conf_with((const char *[]){"swarm.schema.registry.url", "ftp://x", NULL});
        CHECK_ERR(swarm_schemareg_new(c, NULL, &sr, &err), err, SWARM_ERR_CONFIG,
                  "not an http");
        swarm_conf_destroy(c);
        c = conf_with((const char *[]){"schema.registry.url", url,
                                       "value.subject.name.strategy", "bogus", NULL});
        CHECK_ERR(swarm_schemareg_new(c, NULL, &sr, &err), err, SWARM_ERR_CONFIG,
                  "topic, record or topic_record");
        swarm_conf_destroy(c);

        /* subject names under the three strategies (Confluent's class names
         * accepted); registering the same schema twice is one id */
        {
                static const char *strat[][2] = {
                        {"topic", "requests-value"},
                        {"io.confluent.kafka.serializers.subject.RecordNameStrategy",
                         "io.swarm.v1.InferenceRequest"},
                        {"TopicRecordNameStrategy", "requests-io.swarm.v1.InferenceRequest"},
                };
                int32_t first = -1;
                for (int i = 0; i < 3; i++) {
                        c = conf_with((const char *[]){"swarm.schema.registry.url", url,
                                                       "swarm.schema.registry.subject.name.strategy",
                                                       strat[i][0], NULL});
                        CHECK(swarm_schemareg_new(c, NULL, &sr, &err) == SWARM_OK && sr);
                        CHECK(swarm_schemareg_subject(sr, "requests", "io.swarm.v1.InferenceRequest",
                                                      subj, sizeof(subj), &err) == SWARM_OK);
                        CHECK(!strcmp(subj, strat[i][1]));
                        CHECK(swarm_schemareg_register(sr, "requests",
                                                       swarm_codec_request_schema_json(),
                                                       &id1, &err) == SWARM_OK);
                        CHECK(swarm_schemareg_register(sr, "requests",
                                                       swarm_codec_request_schema_json(),
                                                       &id2, &err) == SWARM_OK);
                        CHECK(id1 > 0 && id1 == id2);
                        /* one schema, one id in the registry, whatever the subject */
                        if (first < 0)
                                first = id1;
                        CHECK(id1 == first);
                        printf("strategy %s: subject %s id %d\n", strat[i][0], subj, (int)id1);
                        swarm_schemareg_destroy(sr);
                        sr = NULL;
                        swarm_conf_destroy(c);
                }
        }

        /* setup: both schemas registered, the codec frames with their ids */
        c = conf_with((const char *[]){"swarm.schema.registry.url", url, NULL});
        CHECK(swarm_codec_new(&codec, &err) == SWARM_OK);
        CHECK(swarm_schemareg_setup(c, NULL, codec, "requests", "results", &err) == SWARM_OK);
        rid = swarm_codec_request_id(codec);
        sid = swarm_codec_response_id(codec);
        CHECK(rid == id1 && sid > 0 && sid != rid);
        encode_one(codec, &buf);
        CHECK(frame_id(&buf) == rid);
        CHECK(swarm_codec_decode_request(codec, buf.data, buf.len, &req, &err) == SWARM_OK);
        swarm_request_destroy(&req);
        printf("setup: request id %d, response id %d\n", (int)rid, (int)sid);

        /* a writer id the worker has never seen: a schema another producer
         * registered (same fields, its own doc, so its own id) */
        CHECK(swarm_schemareg_new(c, NULL, &sr, &err) == SWARM_OK);
        {
                const char *ours = swarm_codec_request_schema_json();
                const char *p = strstr(ours, "\"doc\"");
                char *evolved = malloc(strlen(ours) + 64);
                int32_t eid = 0;
                CHECK(p != NULL);
                if (p && evolved) {
                        sprintf(evolved, "%.*s\"doc\": \"written by another producer\", %s",
                                (int)(p - ours), ours, p);
                        CHECK(swarm_schemareg_register(sr, "other", evolved, &eid, &err) == SWARM_OK);
                        CHECK(eid > 0 && eid != rid && eid != sid);
                        /* a worker codec that registered only ours */
                        CHECK(swarm_codec_new(&worker, &err) == SWARM_OK);
                        CHECK(swarm_schemareg_setup(c, NULL, worker, "requests", "results",
                                                    &err) == SWARM_OK);
                        set_frame_id(&buf, eid);
                        CHECK(swarm_codec_decode_request(worker, buf.data, buf.len, &req,
                                                         &err) == SWARM_OK);
                        {
                                /* tensor data is a view into the message:
                                 * not aligned for a float */
                                float third = 0;
                                CHECK(req.n_inputs == 1 && req.inputs[0].size == 12);
                                if (req.n_inputs == 1 && req.inputs[0].size == 12)
                                        memcpy(&third, (const char *)req.inputs[0].data + 8, 4);
                                CHECK(third == 3.0f);
                        }
                        swarm_request_destroy(&req);
                        printf("writer id %d fetched and resolved: %s\n", (int)eid,
                               err.code ? err.msg : "ok");
                        swarm_err_clear(&err);
                        /* a schema the registry has but the codec cannot
                         * use (another record): refused, and the second
                         * message with that id costs no registry call */
                        {
                                int32_t oid = 0;
                                CHECK(swarm_schemareg_register(sr, "unrelated",
                                        "{\"type\":\"record\",\"name\":\"Unrelated\","
                                        "\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]}",
                                        &oid, &err) == SWARM_OK && oid > 0);
                                set_frame_id(&buf, oid);
                                CHECK(swarm_codec_decode_request(worker, buf.data, buf.len,
                                                                 &req, &err) != SWARM_OK);
                                printf("unrelated schema id %d: %s\n", (int)oid, err.msg);
                                swarm_err_clear(&err);
                                CHECK_ERR(swarm_codec_decode_request(worker, buf.data, buf.len,
                                                                     &req, &err),
                                          err, SWARM_ERR_NOT_FOUND, "not usable here");
                        }
                        /* an id nobody registered: not found, then not asked
                         * again for a while */
                        set_frame_id(&buf, 987654);
                        CHECK_ERR(swarm_codec_decode_request(worker, buf.data, buf.len, &req, &err),
                                  err, SWARM_ERR_NOT_FOUND, "987654");
                        CHECK_ERR(swarm_codec_decode_request(worker, buf.data, buf.len, &req, &err),
                                  err, SWARM_ERR_NOT_FOUND, "not retried yet");
                }
                free(evolved);
        }
        swarm_schemareg_destroy(sr);
        sr = NULL;
        swarm_conf_destroy(c);

        /* a registry nobody listens on: start-up fails, retriable */
        c = conf_with((const char *[]){"swarm.schema.registry.url", "http://127.0.0.1:1",
                                       "swarm.schema.registry.timeout.ms", "2000", NULL});
        {
                swarm_codec_t *k = NULL;
                CHECK(swarm_codec_new(&k, &err) == SWARM_OK);
                CHECK_ERR(swarm_schemareg_setup(c, NULL, k, "requests", "results", &err), err,
                          SWARM_ERR_IO, "127.0.0.1:1");
                swarm_codec_destroy(k);
        }
        swarm_conf_destroy(c);

        /* credentials */
        if (auth_url) {
                c = conf_with((const char *[]){"swarm.schema.registry.url", auth_url, NULL});
                CHECK(swarm_schemareg_new(c, NULL, &sr, &err) == SWARM_OK);
                CHECK_ERR(swarm_schemareg_register(sr, "requests", swarm_codec_request_schema_json(),
                                                   &id1, &err), err, SWARM_ERR_CONFIG, "401");
                swarm_schemareg_destroy(sr);
                swarm_conf_destroy(c);
                c = conf_with((const char *[]){"swarm.schema.registry.url", auth_url,
                                               "basic.auth.user.info", "swarm:s3cret", NULL});
                CHECK(swarm_schemareg_new(c, NULL, &sr, &err) == SWARM_OK);
                CHECK(swarm_schemareg_register(sr, "requests", swarm_codec_request_schema_json(),
                                               &id1, &err) == SWARM_OK && id1 > 0);
                swarm_schemareg_destroy(sr);
                sr = NULL;
                swarm_conf_destroy(c);
                /* auto.register=false only looks up: a subject never
                 * registered is not found */
                c = conf_with((const char *[]){"swarm.schema.registry.url", auth_url,
                                               "basic.auth.user.info", "swarm:s3cret",
                                               "auto.register.schemas", "false", NULL});
                CHECK(swarm_schemareg_new(c, NULL, &sr, &err) == SWARM_OK);
                CHECK(swarm_schemareg_register(sr, "requests", swarm_codec_request_schema_json(),
                                               &id2, &err) == SWARM_OK && id2 == id1);
                CHECK_ERR(swarm_schemareg_register(sr, "nowhere", swarm_codec_request_schema_json(),
                                                   &id2, &err), err, SWARM_ERR_NOT_FOUND, "404");
                swarm_schemareg_destroy(sr);
                sr = NULL;
                swarm_conf_destroy(c);
        }

        swarm_codec_destroy(worker);
        swarm_codec_destroy(codec);
        swarm_buf_destroy(&buf);
        TEST_DONE();
}
