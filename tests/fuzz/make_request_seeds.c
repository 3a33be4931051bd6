/*
 * make_request_seeds.c - writes the seed corpus of fuzz_request
 * (corpus/request/): requests as the producer encodes them (float32, int64
 * ids, several inputs, metadata, version, reply_topic, deadline), an empty
 * tensor, and responses (ok and error).  Build target fuzz_make_seeds; run
 * as `fuzz_make_seeds DIR`.  The output is committed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarm/codec.h"
#include "test_request.h"

static swarm_codec_t *codec;
static const char *dir;

static void put(const char *name, const swarm_buf_t *b) {
        char path[1024];
        FILE *f;
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        if (!(f = fopen(path, "wb")) || fwrite(b->data, 1, b->len, f) != b->len) {
                perror(path);
                exit(1);
        }
        fclose(f);
}

static void req(const char *name, swarm_request_t *r, const swarm_str_t *kv,
                size_t n) {
        swarm_buf_t b = {0};
        swarm_err_t err;
        swarm_err_clear(&err);
        if (swarm_codec_encode_request(codec, r, kv, n, &b, &err)) {
                fprintf(stderr, "%s: %s\n", name, err.msg);
                exit(1);
        }
        put(name, &b);
        swarm_buf_destroy(&b);
}

int main(int argc, char **argv) {
        static const float f4[4] = {0.5f, 1, 2, 3};
        static const int64_t ids[3] = {1, 7, 9};
        static const swarm_str_t kv[4] = {SWARM_STR("tenant"), SWARM_STR("a"),
                                          SWARM_STR("trace"), SWARM_STR("x1")};
        swarm_request_t r;
        swarm_response_t s;
        swarm_buf_t b = {0};
        swarm_err_t err;

        if (argc != 2)
                return 2;
        dir = argv[1];
        swarm_err_clear(&err);
        if (swarm_codec_new(&codec, &err))
                return 1;

        test_request_f32(&r, "req-1", "fashion", f4, 1, 4);
        req("float32", &r, NULL, 0);
        r.has_version = 1;
        r.version = 3;
        r.has_reply_topic = 1;
        r.reply_topic = SWARM_STR("results.tenant-a");
        r.has_deadline = 1;
        r.deadline_ms = 1764582000000;
        req("all_fields", &r, kv, 2);

        test_request_2d(&r, "emb-7", "embed", "ids", SWARM_DTYPE_INT64, ids, 1, 3);
        r.n_inputs = 2;
        r.inputs[1].name = SWARM_STR("mask");
        r.inputs[1].dtype = SWARM_DTYPE_FLOAT32;
        r.inputs[1].ndim = 1;
        r.inputs[1].shape[0] = 4;
        r.inputs[1].data = f4;
        r.inputs[1].size = sizeof(f4);
        req("two_inputs", &r, kv, 2);
        r.n_inputs = 1;
        r.inputs[0].ndim = 2;
        r.inputs[0].shape[0] = 0;
        r.inputs[0].size = 0;
        req("empty_tensor", &r, NULL, 0);

        memset(&s, 0, sizeof(s));
        s.request_id = SWARM_STR("req-1");
        s.model = SWARM_STR("fashion");
        s.version = 3;
        s.n_outputs = 1;
        s.outputs[0] = r.inputs[1];
        s.outputs[0].name = SWARM_STR("logits");
        s.status = SWARM_STATUS_OK;
        s.batch_rows = 8;
        s.worker = SWARM_STR("w-1");
        if (swarm_codec_encode_response(codec, &s, &b, &err))
                return 1;
        put("response_ok", &b);
        b.len = 0;
        s.n_outputs = 0;
        s.status = SWARM_STATUS_INVALID_REQUEST;
        s.has_error = 1;
        s.error = SWARM_STR("input: shape [1,5] does not match [N,4]");
        if (swarm_codec_encode_response(codec, &s, &b, &err))
                return 1;
        put("response_error", &b);
        swarm_buf_destroy(&b);
        swarm_codec_destroy(codec);
        return 0;
}
