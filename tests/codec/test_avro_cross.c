/*
 * test_avro_cross.c - the fast path against Avro C on thousands of seeded
 * random messages, both directions:
 *   our encoder -> avro_value_read with the reader schema -> same values,
 *     and byte-identical to avro_value_write of the same values;
 *   avro_value_write -> our fast decoder -> same values;
 *   negative-count blocks (Avro C reads them but never writes them, so
 *     they are hand-crafted) -> both Avro C and our decoder -> same values.
 */
#include <string.h>

#include "codec_testutil.h"

#define N_MESSAGES 3000

static swarm_codec_t *codec;
static avro_schema_t req_schema, resp_schema;
static avro_value_iface_t *req_class, *resp_class;

static void avro_read_body(const uint8_t *msg, size_t len, avro_value_t *v) {
        avro_reader_t rd;

        REQUIRE(len >= 5 && msg[0] == 0);
        rd = avro_reader_memory((const char *)msg + 5, (int64_t)(len - 5));
        REQUIRE(rd);
        avro_value_reset(v);
        CHECK_AVRO(avro_value_read(rd, v));
        avro_reader_free(rd);
}

static void cross_request(rng_t *r, avro_value_t *v) {
        gen_t g;
        swarm_buf_t buf = {0};
        swarm_request_t got;
        swarm_err_t err = {0};
        uint8_t *avro_msg;
        size_t avro_len;

        gen_request(&g, r, 12);
        /* ours -> Avro C */
        REQUIRE_OK(swarm_codec_encode_request(codec, &g.req, g.meta, g.n_meta,
                                            &buf, &err), err);
        REQUIRE(buf.data[4] == SWARM_SCHEMA_ID_REQUEST);
        avro_read_body(buf.data, buf.len, v);
        check_avro_request(v, &g.req, g.meta, g.n_meta);

        /* Avro C -> ours */
        avro_value_reset(v);
        avro_from_request(v, &g.req, g.meta, g.n_meta);
        avro_msg = avro_write_framed(v, SWARM_SCHEMA_ID_REQUEST, &avro_len);
        REQUIRE(avro_len == buf.len && !memcmp(avro_msg, buf.data, buf.len));
        REQUIRE_OK(swarm_codec_decode_request(codec, avro_msg, avro_len, &got,
                                            &err), err);
        check_request(&got, &g.req, g.meta, g.n_meta);
        swarm_request_destroy(&got);
        free(avro_msg);

        /* negative block counts -> both */
        buf.len = 0;
        encode_request_blocky(&g.req, g.meta, g.n_meta, r, &buf);
        avro_read_body(buf.data, buf.len, v);
        check_avro_request(v, &g.req, g.meta, g.n_meta);
        REQUIRE_OK(swarm_codec_decode_request(codec, buf.data, buf.len, &got,
                                            &err), err);
        check_request(&got, &g.req, g.meta, g.n_meta);
        swarm_request_destroy(&got);

        swarm_buf_destroy(&buf);
        gen_free(&g);
}

static void cross_response(rng_t *r, avro_value_t *v) {
        gen_t g;
        swarm_buf_t buf = {0};
        swarm_response_t got;
        swarm_err_t err = {0};
        uint8_t *avro_msg;
        size_t avro_len;

        gen_response(&g, r);
        REQUIRE_OK(swarm_codec_encode_response(codec, &g.resp, &buf, &err), err);
        avro_read_body(buf.data, buf.len, v);
        check_avro_response(v, &g.resp);

        avro_value_reset(v);
        avro_from_response(v, &g.resp);
        avro_msg = avro_write_framed(v, SWARM_SCHEMA_ID_RESPONSE, &avro_len);
        REQUIRE(avro_len == buf.len && !memcmp(avro_msg, buf.data, buf.len));
        REQUIRE_OK(swarm_codec_decode_response(codec, avro_msg, avro_len, &got,
                                             &err), err);
        check_response(&got, &g.resp);
        swarm_response_destroy(&got);
        free(avro_msg);
        swarm_buf_destroy(&buf);
        gen_free(&g);
}

/* A fixed hand-written message with negative counts, so the test does not
 * depend only on the helper encoder: inputs = one block of -1 items with
 * its byte size, shape = block -2 with size. */
static void handcrafted_negative(avro_value_t *v) {
        static const uint8_t msg[] = {
                0, 0, 0, 0, 1,
                4, 'i', 'd',            /* request_id "id" */
                4, 'm', 'x',            /* model "mx" */
                0,                      /* version null */
                1, 24,                  /* inputs: count -1, size 12 */
                4, 't', 'n',            /*   name "tn" */
                10,                     /*   dtype UINT8 (5) */
                3, 4, 2, 4,             /*   shape: -2, size 2, [1, 2] */
                0,                      /*   end of shape */
                4, 0xaa, 0xbb,          /*   data, 2 bytes */
                0,                      /* end of inputs */
                0, 0,                   /* reply_topic, deadline null */
                1, 8, 2, 'k', 2, 'v',   /* metadata: -1, size 4, k -> v */
                0,
        };
        swarm_request_t got;
        swarm_err_t err = {0};
        swarm_str_t k, val;
        size_t pos = 0;
        int64_t idx;

        avro_read_body(msg, sizeof(msg), v);
        REQUIRE_OK(swarm_codec_decode_request(codec, msg, sizeof(msg), &got,
                                            &err), err);
        REQUIRE(got.n_inputs == 1 && got.inputs[0].ndim == 2);
        REQUIRE(got.inputs[0].shape[0] == 1 && got.inputs[0].shape[1] == 2);
        REQUIRE(got.inputs[0].size == 2 &&
              ((const uint8_t *)got.inputs[0].data)[1] == 0xbb);
        REQUIRE(got.n_metadata == 1);
        REQUIRE(swarm_request_metadata_next(&got, &pos, &idx, &k, &val));
        REQUIRE(idx == 0 && k.len == 1 && *k.ptr == 'k' && *val.ptr == 'v');
        REQUIRE(!swarm_request_metadata_next(&got, &pos, &idx, &k, &val));
        {
                swarm_tensor_t want = got.inputs[0];
                swarm_request_t w = {0};
                swarm_str_t kv[2] = {SWARM_STR("k"), SWARM_STR("v")};
                w.request_id = SWARM_STR("id");
                w.model = SWARM_STR("mx");
                w.n_inputs = 1;
                w.inputs[0] = want;
                check_avro_request(v, &w, kv, 1);
        }
}

int main(void) {
        swarm_err_t err = {0};
        avro_value_t rv, sv;
        rng_t r = {20240601};

        REQUIRE_OK(swarm_codec_new(&codec, &err), err);
        req_schema = load_schema_json(swarm_codec_request_schema_json());
        resp_schema = load_schema_json(swarm_codec_response_schema_json());
        req_class = avro_generic_class_from_schema(req_schema);
        resp_class = avro_generic_class_from_schema(resp_schema);
        REQUIRE(req_class && resp_class);
        CHECK_AVRO(avro_generic_value_new(req_class, &rv));
        CHECK_AVRO(avro_generic_value_new(resp_class, &sv));

        handcrafted_negative(&rv);
        for (int i = 0; i < N_MESSAGES; i++) {
                cross_request(&r, &rv);
                cross_response(&r, &sv);
        }

        avro_value_decref(&rv);
        avro_value_decref(&sv);
        avro_value_iface_decref(req_class);
        avro_value_iface_decref(resp_class);
        avro_schema_decref(req_schema);
        avro_schema_decref(resp_schema);
        swarm_codec_destroy(codec);
        printf("ok: %d requests and %d responses cross-checked\n", N_MESSAGES,
               N_MESSAGES);
        return 0;
}
