/*
 * test_evolved.c - writer schemas that differ from ours, registered under
 * their own ids, decode through Avro C's resolver into our reader view:
 * an extra field with a default, fields in another order with an optional
 * field missing, an evolved response, an identical schema under a new id.
 * Also: registration errors, and malformed input on the slow path.
 */
#include <string.h>

#include "codec_testutil.h"

#define TENSOR_JSON                                                           \
        "{\"type\": \"array\", \"items\": {\"type\": \"record\", "            \
        "\"name\": \"Tensor\", \"fields\": ["                                 \
        "{\"name\": \"name\", \"type\": \"string\"},"                         \
        "{\"name\": \"dtype\", \"type\": {\"type\": \"enum\", \"name\": "     \
        "\"DType\", \"symbols\": [\"FLOAT32\", \"FLOAT16\", \"BFLOAT16\", "   \
        "\"INT64\", \"INT32\", \"UINT8\", \"INT8\", \"BOOL\", "           \
        "\"FLOAT64\"]}},"                                                     \
        "{\"name\": \"shape\", \"type\": {\"type\": \"array\", \"items\": "   \
        "\"long\"}},"                                                         \
        "{\"name\": \"data\", \"type\": \"bytes\"}]}}"

/* v2: an extra field in the middle, with a default */
static const char *const req_extra =
        "{\"type\": \"record\", \"name\": \"InferenceRequest\", "
        "\"namespace\": \"io.swarm.v1\", \"fields\": ["
        "{\"name\": \"request_id\", \"type\": \"string\"},"
        "{\"name\": \"model\", \"type\": \"string\"},"
        "{\"name\": \"priority\", \"type\": \"int\", \"default\": 0},"
        "{\"name\": \"version\", \"type\": [\"null\", \"int\"], "
        "\"default\": null},"
        "{\"name\": \"inputs\", \"type\": " TENSOR_JSON "},"
        "{\"name\": \"reply_topic\", \"type\": [\"null\", \"string\"], "
        "\"default\": null},"
        "{\"name\": \"deadline_ms\", \"type\": [\"null\", \"long\"], "
        "\"default\": null},"
        "{\"name\": \"trace\", \"type\": {\"type\": \"map\", \"values\": "
        "\"bytes\"}, \"default\": {}},"
        "{\"name\": \"metadata\", \"type\": {\"type\": \"map\", "
        "\"values\": \"string\"}, \"default\": {}}]}";

/* an older producer: other field order, no reply_topic, no metadata */
static const char *const req_reordered =
        "{\"type\": \"record\", \"name\": \"InferenceRequest\", "
        "\"namespace\": \"io.swarm.v1\", \"fields\": ["
        "{\"name\": \"deadline_ms\", \"type\": [\"null\", \"long\"], "
        "\"default\": null},"
        "{\"name\": \"inputs\", \"type\": " TENSOR_JSON "},"
        "{\"name\": \"model\", \"type\": \"string\"},"
        "{\"name\": \"version\", \"type\": [\"null\", \"int\"], "
        "\"default\": null},"
        "{\"name\": \"request_id\", \"type\": \"string\"}]}";

static const char *const resp_extra =
        "{\"type\": \"record\", \"name\": \"InferenceResponse\", "
        "\"namespace\": \"io.swarm.v1\", \"fields\": ["
        "{\"name\": \"gpu\", \"type\": [\"null\", \"string\"], "
        "\"default\": null},"
        "{\"name\": \"source_offset\", \"type\": \"long\"},"
        "{\"name\": \"request_id\", \"type\": \"string\"},"
        "{\"name\": \"model\", \"type\": \"string\"},"
        "{\"name\": \"version\", \"type\": \"int\"},"
        "{\"name\": \"outputs\", \"type\": " TENSOR_JSON "},"
        "{\"name\": \"status\", \"type\": {\"type\": \"enum\", \"name\": "
        "\"Status\", \"symbols\": [\"OK\", \"INVALID_REQUEST\", "
        "\"MODEL_NOT_FOUND\", \"DEADLINE_EXCEEDED\", \"INTERNAL_ERROR\"]}},"
        "{\"name\": \"error\", \"type\": [\"null\", \"string\"], "
        "\"default\": null},"
        "{\"name\": \"queue_us\", \"type\": \"long\"},"
        "{\"name\": \"compute_us\", \"type\": \"long\"},"
        "{\"name\": \"batch_rows\", \"type\": \"int\"},"
        "{\"name\": \"worker\", \"type\": \"string\"},"
        "{\"name\": \"source_partition\", \"type\": \"int\"}]}";

static swarm_codec_t *codec;

/* Write `want` with the writer schema (extra fields get fixed values). */
static uint8_t *write_req(avro_value_iface_t *cls, int32_t id,
                          const swarm_request_t *want,
                          const swarm_str_t *meta, size_t n_meta,
                          size_t *len) {
        avro_value_t v, f, e;
        uint8_t *msg;

        CHECK_AVRO(avro_generic_value_new(cls, &v));
        avro_from_request(&v, want, meta, n_meta);
        if (!avro_value_get_by_name(&v, "priority", &f, NULL))
                CHECK_AVRO(avro_value_set_int(&f, 9));
        if (!avro_value_get_by_name(&v, "trace", &f, NULL)) {
                CHECK_AVRO(avro_value_add(&f, "span", &e, NULL, NULL));
                CHECK_AVRO(avro_value_set_bytes(&e, "abc", 3));
        }
        msg = avro_write_framed(&v, id, len);
        avro_value_decref(&v);
        return msg;
}

static void evolved_requests(int32_t id, const char *json, int has_optional) {
        avro_schema_t s = load_schema_json(json);
        avro_value_iface_t *cls = avro_generic_class_from_schema(s);
        rng_t r = {(uint64_t)id};
        swarm_err_t err = {0};

        for (int i = 0; i < 500; i++) {
                gen_t g;
                swarm_request_t got;
                uint8_t *msg;
                size_t len;

                gen_request(&g, &r, 8);
                if (!has_optional) {
                        /* what the reader sees: the defaults */
                        g.req.has_reply_topic = 0;
                        g.n_meta = 0;
                }
                msg = write_req(cls, id, &g.req, g.meta, g.n_meta, &len);
                REQUIRE_OK(swarm_codec_decode_request(codec, msg, len, &got,
                                                    &err), err);
                REQUIRE(got.scratch != NULL);
                check_request(&got, &g.req, g.meta, g.n_meta);
                swarm_request_destroy(&got);
                REQUIRE(got.scratch == NULL);
                free(msg);
                gen_free(&g);
        }
        avro_value_iface_decref(cls);
        avro_schema_decref(s);
}

static void evolved_responses(void) {
        avro_schema_t s = load_schema_json(resp_extra);
        avro_value_iface_t *cls = avro_generic_class_from_schema(s);
        rng_t r = {99};
        swarm_err_t err = {0};

        for (int i = 0; i < 500; i++) {
                gen_t g;
                swarm_response_t got;
                avro_value_t v, f, b;
                uint8_t *msg;
                size_t len;

                gen_response(&g, &r);
                CHECK_AVRO(avro_generic_value_new(cls, &v));
                avro_from_response(&v, &g.resp);
                CHECK_AVRO(avro_value_get_by_name(&v, "gpu", &f, NULL));
                CHECK_AVRO(avro_value_set_branch(&f, 1, &b));
                CHECK_AVRO(avro_value_set_string(&b, "h100"));
                msg = avro_write_framed(&v, 9, &len);
                avro_value_decref(&v);
                REQUIRE_OK(swarm_codec_decode_response(codec, msg, len, &got,
                                                     &err), err);
                check_response(&got, &g.resp);
                swarm_response_destroy(&got);
                free(msg);
                gen_free(&g);
        }
        avro_value_iface_decref(cls);
        avro_schema_decref(s);
}

/* Truncations and huge lengths through the slow path's validator. */
static void evolved_malformed(void) {
        avro_schema_t s = load_schema_json(req_extra);
        avro_value_iface_t *cls = avro_generic_class_from_schema(s);
        swarm_request_t want = {0}, got;
        swarm_err_t err = {0};
        float d[6] = {1, 2, 3, 4, 5, 6};
        swarm_str_t kv[2] = {SWARM_STR("a"), SWARM_STR("b")};
        uint8_t *msg, *cut;
        size_t len;
        int rc;

        want.request_id = SWARM_STR("rid");
        want.model = SWARM_STR("model");
        want.n_inputs = 1;
        want.inputs[0] = (swarm_tensor_t){SWARM_STR("x"), SWARM_DTYPE_FLOAT32,
                                          2, {2, 3}, d, sizeof(d)};
        msg = write_req(cls, 7, &want, kv, 1, &len);
        for (size_t n = 0; n < len; n++) {
                /* a fresh copy so ASan sees reads past the cut */
                cut = malloc(n ? n : 1);
                memcpy(cut, msg, n);
                swarm_err_clear(&err);
                rc = swarm_codec_decode_request(codec, cut, n, &got, &err);
                REQUIRE(rc == SWARM_ERR_TRUNCATED);
                free(cut);
        }
        /* the tensor's data length (24 -> 0x30) made huge: 2^28 */
        for (size_t i = len - 1; i > 5; i--) {
                if (msg[i] == 0x30 && msg[i - 1] == 0x00) {
                        uint8_t *big = malloc(len + 4);
                        /* zig-zag 2^28 = 2^29: 80 80 80 80 02 */
                        memcpy(big, msg, i);
                        memcpy(big + i, "\x80\x80\x80\x80\x02", 5);
                        memcpy(big + i + 5, msg + i + 1, len - i - 1);
                        swarm_err_clear(&err);
                        rc = swarm_codec_decode_request(codec, big, len + 4,
                                                        &got, &err);
                        REQUIRE(rc == SWARM_ERR_TRUNCATED);
                        REQUIRE(strstr(err.msg, "inputs[0].data"));
                        REQUIRE(strstr(err.msg, "268435456"));
                        free(big);
                        break;
                }
        }
        REQUIRE(err.code == SWARM_ERR_TRUNCATED);
        /* a trailing byte */
        cut = malloc(len + 1);
        memcpy(cut, msg, len);
        cut[len] = 0;
        swarm_err_clear(&err);
        REQUIRE(swarm_codec_decode_request(codec, cut, len + 1, &got, &err) ==
              SWARM_ERR_PARSE);
        free(cut);
        free(msg);
        avro_value_iface_decref(cls);
        avro_schema_decref(s);
}

static void registration(void) {
        swarm_err_t err = {0};

        REQUIRE(swarm_codec_register_writer(codec, 7, req_extra, &err) ==
              SWARM_ERR_INVALID);
        swarm_err_clear(&err);
        REQUIRE(swarm_codec_register_writer(codec, SWARM_SCHEMA_ID_REQUEST,
                                          req_extra, &err) ==
              SWARM_ERR_INVALID);
        swarm_err_clear(&err);
        REQUIRE(swarm_codec_register_writer(codec, 20, "{not json", &err) ==
              SWARM_ERR_PARSE);
        swarm_err_clear(&err);
        REQUIRE(swarm_codec_register_writer(
                      codec, 21,
                      "{\"type\": \"record\", \"name\": \"Other\", "
                      "\"fields\": []}", &err) == SWARM_ERR_INVALID);
        swarm_err_clear(&err);
        /* model as an int cannot resolve into our string */
        REQUIRE(swarm_codec_register_writer(
                      codec, 22,
                      "{\"type\": \"record\", \"name\": \"InferenceRequest\", "
                      "\"namespace\": \"io.swarm.v1\", \"fields\": ["
                      "{\"name\": \"request_id\", \"type\": \"string\"},"
                      "{\"name\": \"model\", \"type\": \"int\"}]}",
                      &err) == SWARM_ERR_INVALID);
        swarm_err_clear(&err);
}

/* A request-schema id used for a response and vice versa. */
static void wrong_kind(void) {
        swarm_response_t resp = {0}, got_resp;
        swarm_request_t got_req;
        swarm_buf_t buf = {0};
        swarm_err_t err = {0};

        resp.status = SWARM_STATUS_OK;
        REQUIRE_OK(swarm_codec_encode_response(codec, &resp, &buf, &err), err);
        buf.data[4] = 7;
        REQUIRE(swarm_codec_decode_response(codec, buf.data, buf.len, &got_resp,
                                          &err) == SWARM_ERR_INVALID);
        swarm_err_clear(&err);
        buf.data[4] = 9;
        REQUIRE(swarm_codec_decode_request(codec, buf.data, buf.len, &got_req,
                                         &err) == SWARM_ERR_INVALID);
        swarm_buf_destroy(&buf);
}

/* Our own schema under another id keeps the zero-copy fast path. */
static void same_schema_new_id(void) {
        swarm_request_t req = {0}, got;
        swarm_buf_t buf = {0};
        swarm_err_t err = {0};

        req.request_id = SWARM_STR("x");
        req.model = SWARM_STR("y");
        REQUIRE_OK(swarm_codec_encode_request(codec, &req, NULL, 0, &buf, &err), err);
        buf.data[4] = 10;
        REQUIRE_OK(swarm_codec_decode_request(codec, buf.data, buf.len, &got,
                                            &err), err);
        REQUIRE(got.scratch == NULL);
        REQUIRE((const uint8_t *)got.model.ptr == buf.data + 8);
        swarm_buf_destroy(&buf);
}

int main(void) {
        swarm_err_t err = {0};

        REQUIRE_OK(swarm_codec_new(&codec, &err), err);
        REQUIRE_OK(swarm_codec_register_writer(codec, 7, req_extra, &err), err);
        REQUIRE_OK(swarm_codec_register_writer(codec, 8, req_reordered, &err), err);
        REQUIRE_OK(swarm_codec_register_writer(codec, 9, resp_extra, &err), err);
        REQUIRE_OK(swarm_codec_register_writer(
                         codec, 10, swarm_codec_request_schema_json(), &err), err);
        registration();
        evolved_requests(7, req_extra, 1);
        evolved_requests(8, req_reordered, 0);
        evolved_responses();
        evolved_malformed();
        wrong_kind();
        same_schema_new_id();
        swarm_codec_destroy(codec);
        printf("ok\n");
        return 0;
}
