/*
 * test_roundtrip.c - encode then decode through the fast path: every dtype,
 * empty and large shapes, many inputs, many metadata entries, both union
 * branches, every response status; buffers shared by several messages.
 */
#include <string.h>

#include "codec_testutil.h"

static swarm_codec_t *codec;

static void roundtrip_req(const swarm_request_t *req, const swarm_str_t *meta,
                          size_t n_meta) {
        swarm_buf_t buf = {0};
        swarm_request_t got;
        swarm_err_t err = {0};
        int rc;

        rc = swarm_codec_encode_request(codec, req, meta, n_meta, &buf, &err);
        REQUIRE_OK(rc, err);
        rc = swarm_codec_decode_request(codec, buf.data, buf.len, &got, &err);
        REQUIRE_OK(rc, err);
        REQUIRE(got.scratch == NULL);
        check_request(&got, req, meta, n_meta);
        /* zero copy: views point into the message */
        if (req->model.len)
                REQUIRE((const uint8_t *)got.model.ptr > buf.data &&
                      (const uint8_t *)got.model.ptr < buf.data + buf.len);
        swarm_request_destroy(&got);
        swarm_buf_destroy(&buf);
}

static void roundtrip_resp(const swarm_response_t *resp) {
        swarm_buf_t buf = {0};
        swarm_response_t got;
        swarm_err_t err = {0};
        int rc;

        rc = swarm_codec_encode_response(codec, resp, &buf, &err);
        REQUIRE_OK(rc, err);
        rc = swarm_codec_decode_response(codec, buf.data, buf.len, &got, &err);
        REQUIRE_OK(rc, err);
        check_response(&got, resp);
        swarm_response_destroy(&got);
        swarm_buf_destroy(&buf);
}

static void test_dtypes(void) {
        static uint8_t data[6 * 8];
        swarm_request_t req = {0};

        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (uint8_t)i;
        req.request_id = SWARM_STR("r-dtypes");
        req.model = SWARM_STR("m");
        for (int dt = 0; dt < SWARM_DTYPE__COUNT; dt++) {
                swarm_tensor_t *t = &req.inputs[req.n_inputs++];
                t->name = swarm_str(swarm_dtype_name((swarm_dtype_t)dt));
                t->dtype = (swarm_dtype_t)dt;
                t->ndim = 2;
                t->shape[0] = 2;
                t->shape[1] = 3;
                t->data = data;
                t->size = 6 * swarm_dtype_size((swarm_dtype_t)dt);
        }
        roundtrip_req(&req, NULL, 0);
}

static void test_shapes(void) {
        swarm_request_t req = {0};
        float one = 1.0f;
        static float big[4096 * 784];

        req.request_id = SWARM_STR("r-shapes");
        req.model = SWARM_STR("mnist");
        /* scalar: ndim 0 has one element */
        req.inputs[0] = (swarm_tensor_t){SWARM_STR("scalar"),
                                         SWARM_DTYPE_FLOAT32, 0, {0}, &one, 4};
        /* a zero dimension: no elements, no data */
        req.inputs[1] = (swarm_tensor_t){SWARM_STR("empty"),
                                         SWARM_DTYPE_INT64, 3, {4, 0, 7},
                                         NULL, 0};
        for (size_t i = 0; i < 4096 * 784; i++)
                big[i] = (float)i;
        req.inputs[2] = (swarm_tensor_t){SWARM_STR("big"), SWARM_DTYPE_FLOAT32,
                                         2, {4096, 784}, big, sizeof(big)};
        req.inputs[3] = (swarm_tensor_t){SWARM_STR(""), SWARM_DTYPE_UINT8,
                                         SWARM_MAX_DIMS,
                                         {1, 1, 1, 1, 1, 1, 1, 1}, "x", 1};
        req.n_inputs = 4;
        roundtrip_req(&req, NULL, 0);
}

static void test_many_inputs_and_metadata(void) {
        swarm_request_t req = {0};
        swarm_str_t meta[2 * 500];
        char keys[500][16], vals[500][16];
        uint8_t d = 7;

        req.request_id = SWARM_STR("r-many");
        req.model = SWARM_STR("m");
        req.has_version = 1;
        req.version = -1;
        req.has_reply_topic = 1;
        req.reply_topic = SWARM_STR("replies");
        req.has_deadline = 1;
        req.deadline_ms = 1700000000000;
        for (int i = 0; i < SWARM_MAX_INPUTS; i++)
                req.inputs[i] = (swarm_tensor_t){SWARM_STR("in"),
                                                 SWARM_DTYPE_UINT8, 1, {1},
                                                 &d, 1};
        req.n_inputs = SWARM_MAX_INPUTS;
        for (int i = 0; i < 500; i++) {
                snprintf(keys[i], sizeof(keys[i]), "key%d", i);
                snprintf(vals[i], sizeof(vals[i]), "v%d", i * 7);
                meta[2 * i] = swarm_str(keys[i]);
                meta[2 * i + 1] = swarm_str(vals[i]);
        }
        roundtrip_req(&req, meta, 500);
        /* and the null branches */
        req.has_version = req.has_reply_topic = req.has_deadline = 0;
        req.n_inputs = 0;
        roundtrip_req(&req, meta, 1);
        roundtrip_req(&req, NULL, 0);
}

static void test_responses(void) {
        float out[10] = {0.5f};
        swarm_response_t resp = {0};

        resp.request_id = SWARM_STR("r1");
        resp.model = SWARM_STR("mnist");
        resp.version = 3;
        resp.outputs[0] = (swarm_tensor_t){SWARM_STR("probs"),
                                           SWARM_DTYPE_FLOAT32, 2, {1, 10},
                                           out, sizeof(out)};
        resp.n_outputs = 1;
        resp.queue_us = 12;
        resp.compute_us = INT64_MAX;
        resp.batch_rows = 64;
        resp.worker = SWARM_STR("worker-1");
        resp.source_partition = 5;
        resp.source_offset = INT64_MIN;
        for (int st = 0; st < SWARM_STATUS__COUNT; st++) {
                resp.status = (swarm_status_t)st;
                resp.has_error = st != SWARM_STATUS_OK;
                resp.error = resp.has_error ? SWARM_STR("it broke")
                                            : (swarm_str_t){NULL, 0};
                roundtrip_resp(&resp);
        }
}

static void test_random(void) {
        rng_t r = {42};

        for (int i = 0; i < 2000; i++) {
                gen_t g;
                gen_request(&g, &r, 20);
                roundtrip_req(&g.req, g.meta, g.n_meta);
                gen_free(&g);
                gen_response(&g, &r);
                roundtrip_resp(&g.resp);
                gen_free(&g);
        }
}

/* Several messages appended to one buffer; exact reservation. */
static void test_append(void) {
        swarm_request_t req = {0}, got;
        swarm_buf_t buf = {0};
        swarm_err_t err = {0};
        size_t first;
        uint8_t *p;
        size_t len;

        req.request_id = SWARM_STR("a");
        req.model = SWARM_STR("b");
        REQUIRE_OK(swarm_codec_encode_request(codec, &req, NULL, 0, &buf, &err), err);
        first = buf.len;
        REQUIRE_OK(swarm_codec_encode_request(codec, &req, NULL, 0, &buf, &err), err);
        REQUIRE(buf.len == 2 * first);
        REQUIRE(!memcmp(buf.data, buf.data + first, first));
        REQUIRE_OK(swarm_codec_decode_request(codec, buf.data + first, first,
                                            &got, &err), err);
        p = swarm_buf_steal(&buf, &len);
        REQUIRE(len == 2 * first && buf.data == NULL && buf.len == 0);
        free(p);
        swarm_buf_destroy(&buf);
        swarm_buf_destroy(NULL);
}

static void test_encode_refuses(void) {
        swarm_request_t req = {0};
        swarm_response_t resp = {0};
        swarm_buf_t buf = {0};
        swarm_err_t err = {0};
        uint8_t d[4] = {0};

        req.n_inputs = 1;
        req.inputs[0] = (swarm_tensor_t){SWARM_STR("x"), SWARM_DTYPE_FLOAT32,
                                         1, {2}, d, 4};
        REQUIRE(swarm_codec_encode_request(codec, &req, NULL, 0, &buf, &err) ==
              SWARM_ERR_INVALID);
        REQUIRE(strstr(err.msg, "inputs[0].data") && strstr(err.msg, "'x'"));
        swarm_err_clear(&err);
        req.n_inputs = SWARM_MAX_INPUTS + 1;
        REQUIRE(swarm_codec_encode_request(codec, &req, NULL, 0, &buf, &err) ==
              SWARM_ERR_INVALID);
        swarm_err_clear(&err);
        resp.status = SWARM_STATUS__COUNT;
        REQUIRE(swarm_codec_encode_response(codec, &resp, &buf, &err) ==
              SWARM_ERR_INVALID);
        REQUIRE(buf.len == 0);
        swarm_buf_destroy(&buf);
}

int main(void) {
        swarm_err_t err = {0};

        REQUIRE_OK(swarm_codec_new(&codec, &err), err);
        REQUIRE(strstr(swarm_codec_request_schema_json(), "InferenceRequest"));
        REQUIRE(!strcmp(swarm_status_name(SWARM_STATUS_MODEL_NOT_FOUND),
                      "MODEL_NOT_FOUND"));
        test_dtypes();
        test_shapes();
        test_many_inputs_and_metadata();
        test_responses();
        test_random();
        test_append();
        test_encode_refuses();
        swarm_codec_destroy(codec);
        swarm_codec_destroy(NULL);
        printf("ok\n");
        return 0;
}
