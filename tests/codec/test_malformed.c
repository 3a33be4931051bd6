/*
 * test_malformed.c - hostile input on the fast path: every truncation,
 * bad framing, unknown ids, huge declared lengths, over-long varints, bad
 * enum/union indexes, shape/data mismatches, limits, trailing bytes, and
 * thousands of seeded random byte flips.  Run under ASan+UBSan too.
 */
#include <string.h>

#include "codec_testutil.h"

static swarm_codec_t *codec;

/* A heap copy of exactly len bytes, so ASan catches over-reads of it. */
static uint8_t *heap_copy(const uint8_t *msg, size_t len) {
        uint8_t *copy = malloc(len ? len : 1);

        REQUIRE(copy);
        memcpy(copy, msg, len);
        return copy;
}

/* Decode a heap copy (heap_copy) of the message. */
static int dec_req(const uint8_t *msg, size_t len, swarm_err_t *err) {
        uint8_t *copy = heap_copy(msg, len);
        swarm_request_t req;
        int rc;

        swarm_err_clear(err);
        rc = swarm_codec_decode_request(codec, copy, len, &req, err);
        if (rc == SWARM_OK) {
                /* walk what was decoded: views must stay inside */
                size_t pos = 0;
                int64_t idx;
                swarm_str_t k, v;
                volatile uint8_t sink = 0;
                for (int i = 0; i < req.n_inputs; i++)
                        for (size_t b = 0; b < req.inputs[i].size; b++)
                                sink ^= ((const uint8_t *)req.inputs[i].data)[b];
                while (swarm_request_metadata_next(&req, &pos, &idx, &k, &v))
                        if (k.len)
                                sink ^= (uint8_t)k.ptr[k.len - 1];
                (void)sink;
        } else {
                REQUIRE((int)err->code == rc && err->msg[0]);
        }
        swarm_request_destroy(&req);
        free(copy);
        return rc;
}

static int dec_resp(const uint8_t *msg, size_t len, swarm_err_t *err) {
        uint8_t *copy = heap_copy(msg, len);
        swarm_response_t resp;
        int rc;

        swarm_err_clear(err);
        rc = swarm_codec_decode_response(codec, copy, len, &resp, err);
        swarm_response_destroy(&resp);
        free(copy);
        return rc;
}

/* A small valid request: id "r", model "m", one FLOAT32 [1,28] tensor
 * "x" (112 bytes), metadata {"k": "v"}. */
static void sample(swarm_buf_t *buf) {
        static float d[28];
        swarm_request_t req = {0};
        swarm_str_t kv[2] = {SWARM_STR("k"), SWARM_STR("v")};
        swarm_err_t err = {0};

        req.request_id = SWARM_STR("r");
        req.model = SWARM_STR("m");
        req.has_version = 1;
        req.version = 3;
        req.n_inputs = 1;
        req.inputs[0] = (swarm_tensor_t){SWARM_STR("x"), SWARM_DTYPE_FLOAT32,
                                         2, {1, 28}, d, sizeof(d)};
        buf->len = 0;
        REQUIRE_OK(swarm_codec_encode_request(codec, &req, kv, 1, buf, &err), err);
}

/* Offsets in the sample: frame 0-4, "r" 5-6, "m" 7-8, version 9-10,
 * inputs count 11, name 12-13, dtype 14, shape count 15, dims 16-17,
 * shape end 18, data length 19-20 (112 -> e0 01), data 21-132, inputs end
 * 133, reply_topic 134, deadline 135, metadata 136... */
#define OFF_VERSION_BRANCH 9
#define OFF_INPUTS_COUNT 11
#define OFF_DTYPE 14
#define OFF_DIM0 16
#define OFF_DATA_LEN 19

static void truncations(void) {
        swarm_buf_t buf = {0};
        swarm_err_t err;

        sample(&buf);
        REQUIRE(buf.data[OFF_DATA_LEN] == 0xe0 && buf.data[OFF_DATA_LEN + 1] == 1);
        REQUIRE(dec_req(buf.data, buf.len, &err) == SWARM_OK);
        for (size_t n = 0; n < buf.len; n++) {
                int rc = dec_req(buf.data, n, &err);
                if (rc != SWARM_ERR_TRUNCATED) {
                        fprintf(stderr, "cut at %zu: rc %d: %s\n", n, rc,
                                err.msg);
                        exit(1);
                }
        }
        swarm_buf_destroy(&buf);
}

/* Replace bytes [at, at+n_old) of the sample with `rep`, then decode. */
static int patched(size_t at, size_t n_old, const void *rep, size_t n_rep,
                   swarm_err_t *err) {
        swarm_buf_t buf = {0};
        uint8_t *m;
        size_t len;
        int rc;

        sample(&buf);
        len = buf.len - n_old + n_rep;
        m = malloc(len);
        memcpy(m, buf.data, at);
        memcpy(m + at, rep, n_rep);
        memcpy(m + at + n_rep, buf.data + at + n_old, buf.len - at - n_old);
        rc = dec_req(m, len, err);
        free(m);
        swarm_buf_destroy(&buf);
        return rc;
}

static void specific_errors(void) {
        swarm_buf_t buf = {0};
        swarm_err_t err;
        uint8_t b;

        /* framing */
        sample(&buf);
        buf.data[0] = 1;
        REQUIRE(dec_req(buf.data, buf.len, &err) == SWARM_ERR_PARSE);
        REQUIRE(strstr(err.msg, "magic"));
        buf.data[0] = 0;
        buf.data[4] = 77;
        REQUIRE(dec_req(buf.data, buf.len, &err) == SWARM_ERR_NOT_FOUND);
        REQUIRE(strstr(err.msg, "77"));
        buf.data[1] = 0x80;     /* negative id */
        REQUIRE(dec_req(buf.data, buf.len, &err) == SWARM_ERR_NOT_FOUND);
        REQUIRE(swarm_codec_decode_request(codec, NULL, 0, &(swarm_request_t){0},
                                         &err) == SWARM_ERR_TRUNCATED);

        /* huge declared length: 2^28 as the data length (zig-zag 2^29) */
        REQUIRE(patched(OFF_DATA_LEN, 2, "\x80\x80\x80\x80\x02", 5, &err) ==
              SWARM_ERR_TRUNCATED);
        REQUIRE(strstr(err.msg, "inputs[0].data: declared length 268435456 "
                              "exceeds the 121 bytes remaining") ||
              (fprintf(stderr, "%s\n", err.msg), 0));
        /* ... and as the request_id length, and INT64_MAX */
        REQUIRE(patched(5, 1, "\x80\x80\x80\x80\x02", 5, &err) ==
              SWARM_ERR_TRUNCATED);
        REQUIRE(strstr(err.msg, "request_id"));
        REQUIRE(patched(5, 1, "\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10,
                      &err) == SWARM_ERR_TRUNCATED);
        /* negative length */
        REQUIRE(patched(5, 1, "\x01", 1, &err) == SWARM_ERR_PARSE);
        /* huge and negative array block counts */
        REQUIRE(patched(OFF_INPUTS_COUNT, 1, "\x80\x80\x80\x80\x02", 5, &err) ==
              SWARM_ERR_TRUNCATED);
        REQUIRE(patched(OFF_INPUTS_COUNT, 1, "\xff\xff\xff\xff\xff\xff\xff\xff"
                      "\xff\x01", 10, &err) == SWARM_ERR_PARSE);  /* INT64_MIN */
        /* -1 with a block size larger than the message */
        REQUIRE(patched(OFF_INPUTS_COUNT, 1, "\x01\x80\x80\x80\x02", 5, &err) ==
              SWARM_ERR_TRUNCATED);
        /* -1 with a block size that disagrees with the item */
        REQUIRE(patched(OFF_INPUTS_COUNT, 1, "\x01\x02", 2, &err) ==
              SWARM_ERR_TRUNCATED);
        REQUIRE(patched(OFF_INPUTS_COUNT, 1, "\x01\x06", 2, &err) ==
              SWARM_ERR_TRUNCATED);
        /* the tensor is 121 bytes: a block size of 120 or 122 is wrong */
        REQUIRE(patched(OFF_INPUTS_COUNT, 1, "\x01\xf0\x01", 3, &err) ==
              SWARM_ERR_PARSE);
        REQUIRE(strstr(err.msg, "block byte size"));
        REQUIRE(patched(OFF_INPUTS_COUNT, 1, "\x01\xf4\x01", 3, &err) ==
              SWARM_ERR_PARSE);
        REQUIRE(patched(OFF_INPUTS_COUNT, 1, "\x01\xf2\x01", 3, &err) ==
              SWARM_OK);

        /* over-long varints: 11 bytes, and a 10th byte past bit 63 */
        REQUIRE(patched(OFF_DIM0, 1, "\x82\x80\x80\x80\x80\x80\x80\x80\x80\x80"
                      "\x00", 11, &err) == SWARM_ERR_PARSE);
        REQUIRE(strstr(err.msg, "inputs[0].shape"));
        REQUIRE(patched(OFF_DIM0, 1, "\x82\x80\x80\x80\x80\x80\x80\x80\x80\x02",
                      10, &err) == SWARM_ERR_PARSE);
        /* a padded but in-range varint is fine */
        REQUIRE(patched(OFF_DIM0, 1, "\x82\x00", 2, &err) == SWARM_OK);
        /* int out of range: version 2^31 */
        REQUIRE(patched(OFF_VERSION_BRANCH + 1, 1, "\x80\x80\x80\x80\x10", 5,
                      &err) == SWARM_ERR_PARSE);
        REQUIRE(strstr(err.msg, "version"));

        /* enum and union indexes */
        b = 18;         /* dtype 9: one past FLOAT64 */
        REQUIRE(patched(OFF_DTYPE, 1, &b, 1, &err) == SWARM_ERR_PARSE);
        REQUIRE(strstr(err.msg, "inputs[0].dtype"));
        b = 1;          /* dtype -1 */
        REQUIRE(patched(OFF_DTYPE, 1, &b, 1, &err) == SWARM_ERR_PARSE);
        b = 4;          /* version branch 2 */
        REQUIRE(patched(OFF_VERSION_BRANCH, 1, &b, 1, &err) == SWARM_ERR_PARSE);
        REQUIRE(strstr(err.msg, "version: union index 2"));
        b = 1;          /* branch -1 */
        REQUIRE(patched(OFF_VERSION_BRANCH, 1, &b, 1, &err) == SWARM_ERR_PARSE);

        /* shape/data mismatch: dim 28 -> 27; negative dim; too many dims */
        b = 54;
        REQUIRE(patched(OFF_DIM0 + 1, 1, &b, 1, &err) == SWARM_ERR_INVALID);
        REQUIRE(strstr(err.msg, "inputs[0].data") && strstr(err.msg, "'x'"));
        b = 3;          /* -2 */
        REQUIRE(patched(OFF_DIM0 + 1, 1, &b, 1, &err) == SWARM_ERR_INVALID);
        REQUIRE(strstr(err.msg, "negative"));
        REQUIRE(patched(OFF_DIM0 - 1, 1, "\x12\x02\x02\x02\x02\x02\x02\x02", 8,
                      &err) == SWARM_ERR_INVALID); /* 9 dims */
        /* an element count that overflows */
        REQUIRE(patched(OFF_DIM0 - 1, 3, "\x04\xfe\xff\xff\xff\xff\xff\xff\xff"
                      "\xff\x01\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01", 21,
                      &err) == SWARM_ERR_INVALID);

        /* trailing bytes */
        sample(&buf);
        {
                uint8_t *m = malloc(buf.len + 3);
                memcpy(m, buf.data, buf.len);
                memset(m + buf.len, 0, 3);
                REQUIRE(dec_req(m, buf.len + 3, &err) == SWARM_ERR_PARSE);
                REQUIRE(strstr(err.msg, "trailing"));
                free(m);
        }
        swarm_buf_destroy(&buf);
}

/* 17 tensors: one more than SWARM_MAX_INPUTS */
static void too_many_inputs(void) {
        uint8_t m[5 + 4 + 1 + 1 + 17 * 4 + 1 + 3];
        size_t n = 0;
        swarm_err_t err;

        memcpy(m, "\0\0\0\0\1", 5);
        n = 5;
        m[n++] = 2; m[n++] = 'r'; m[n++] = 2; m[n++] = 'm';
        m[n++] = 0;                     /* version null */
        m[n++] = 34;                    /* 17 items */
        for (int i = 0; i < 17; i++) {
                m[n++] = 0;             /* name "" */
                m[n++] = 10;            /* UINT8 */
                m[n++] = 0;             /* shape [] -> 1 element */
                m[n++] = 0;             /* data "" -> mismatch, never seen */
        }
        m[n++] = 0;
        m[n++] = 0; m[n++] = 0; m[n++] = 0;
        REQUIRE(dec_req(m, n, &err) == SWARM_ERR_INVALID);
        REQUIRE(strstr(err.msg, "inputs: more than 16"));
}

static void responses(void) {
        swarm_response_t resp = {0};
        swarm_buf_t buf = {0};
        swarm_err_t err = {0};
        size_t status_at;

        resp.request_id = SWARM_STR("r");
        resp.model = SWARM_STR("m");
        resp.worker = SWARM_STR("w");
        REQUIRE_OK(swarm_codec_encode_response(codec, &resp, &buf, &err), err);
        for (size_t n = 0; n < buf.len; n++)
                REQUIRE(dec_resp(buf.data, n, &err) == SWARM_ERR_TRUNCATED);
        status_at = 5 + 2 + 2 + 1 + 1;
        buf.data[status_at] = 10;       /* status 5 */
        REQUIRE(dec_resp(buf.data, buf.len, &err) == SWARM_ERR_PARSE);
        REQUIRE(strstr(err.msg, "status"));
        buf.data[status_at] = 0;
        buf.data[status_at + 1] = 4;    /* error branch 2 */
        REQUIRE(dec_resp(buf.data, buf.len, &err) == SWARM_ERR_PARSE);
        buf.data[status_at + 1] = 0;
        REQUIRE(dec_resp(buf.data, buf.len, &err) == SWARM_OK);
        buf.data[4] = SWARM_SCHEMA_ID_REQUEST;
        REQUIRE(dec_resp(buf.data, buf.len, &err) == SWARM_ERR_NOT_FOUND);
        swarm_buf_destroy(&buf);
}

/* Seeded random corruption of random valid messages: any result is fine
 * as long as nothing crashes or reads out of bounds (ASan), and every
 * failure carries a message. */
static void fuzz(void) {
        rng_t r = {7};
        int ok = 0, bad = 0;

        for (int i = 0; i < 4000; i++) {
                gen_t g;
                swarm_buf_t buf = {0};
                swarm_err_t err = {0};
                int flips;

                gen_request(&g, &r, 6);
                if (rng_below(&r, 2))
                        REQUIRE_OK(swarm_codec_encode_request(codec, &g.req,
                                                            g.meta, g.n_meta,
                                                            &buf, &err), err);
                else
                        encode_request_blocky(&g.req, g.meta, g.n_meta, &r,
                                              &buf);
                flips = 1 + (int)rng_below(&r, 4);
                for (int f = 0; f < flips; f++) {
                        size_t at = 5 + rng_below(&r, buf.len - 5);
                        if (rng_below(&r, 2))
                                buf.data[at] ^= (uint8_t)(1u << rng_below(&r, 8));
                        else
                                buf.data[at] = (uint8_t)rng_next(&r);
                }
                if (dec_req(buf.data, buf.len, &err) == SWARM_OK)
                        ok++;
                else
                        bad++;
                /* the same bytes as a response, and via the slow path */
                dec_resp(buf.data, buf.len, &err);
                buf.data[4] = 7;
                dec_req(buf.data, buf.len, &err);
                swarm_buf_destroy(&buf);
                gen_free(&g);
        }
        printf("fuzz: %d decoded, %d refused\n", ok, bad);
        REQUIRE(bad > 1000);
}

int main(void) {
        swarm_err_t err = {0};

        REQUIRE_OK(swarm_codec_new(&codec, &err), err);
        /* id 7: our request schema plus a field, for the slow path */
        REQUIRE_OK(swarm_codec_register_writer(
                         codec, 7,
                         "{\"type\": \"record\", \"name\": "
                         "\"InferenceRequest\", \"namespace\": "
                         "\"io.swarm.v1\", \"fields\": ["
                         "{\"name\": \"request_id\", \"type\": \"string\"},"
                         "{\"name\": \"model\", \"type\": \"string\"},"
                         "{\"name\": \"version\", \"type\": [\"null\", "
                         "\"int\"]},"
                         "{\"name\": \"inputs\", \"type\": {\"type\": "
                         "\"array\", \"items\": {\"type\": \"record\", "
                         "\"name\": \"Tensor\", \"fields\": ["
                         "{\"name\": \"name\", \"type\": \"string\"},"
                         "{\"name\": \"dtype\", \"type\": {\"type\": "
                         "\"enum\", \"name\": \"DType\", \"symbols\": "
                         "[\"FLOAT32\", \"FLOAT16\", \"BFLOAT16\", "
                         "\"INT64\", \"INT32\", \"UINT8\"]}},"
                         "{\"name\": \"shape\", \"type\": {\"type\": "
                         "\"array\", \"items\": \"long\"}},"
                         "{\"name\": \"data\", \"type\": \"bytes\"}]}}},"
                         "{\"name\": \"reply_topic\", \"type\": [\"null\", "
                         "\"string\"]},"
                         "{\"name\": \"deadline_ms\", \"type\": [\"null\", "
                         "\"long\"]},"
                         "{\"name\": \"metadata\", \"type\": {\"type\": "
                         "\"map\", \"values\": \"string\"}},"
                         "{\"name\": \"extra\", \"type\": [\"null\", "
                         "{\"type\": \"array\", \"items\": \"null\"}], "
                         "\"default\": null}]}",
                         &err), err);
        truncations();
        specific_errors();
        too_many_inputs();
        responses();
        fuzz();
        swarm_codec_destroy(codec);
        printf("ok\n");
        return 0;
}
