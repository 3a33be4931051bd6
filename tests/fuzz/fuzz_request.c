/*
 * fuzz_request.c - the request decoder (lib/core/codec.c), the bytes a
 * worker takes from the request topic, and the response decoder the client
 * runs on a shared result topic.
 *
 * Besides "no crash, no sanitizer report", it checks what the decoder
 * promises: every decoded tensor's data size is its dtype size times the
 * product of its shape, the metadata walk ends within n_metadata entries,
 * and a decoded request re-encodes and decodes to the same fields.  A
 * writer schema is registered under id 7 so the Avro C resolution path is
 * reachable too (a frame carries its schema id).
 */
#include <string.h>

#include "fuzz.h"
#include "swarm/codec.h"
#include "swarm/tensor.h"

static swarm_codec_t *codec;

/* our request schema with a field added: decoded through Avro C */
static const char evolved[] =
        "{\"type\": \"record\", \"name\": \"InferenceRequest\", "
        "\"namespace\": \"io.swarm.v1\", \"fields\": ["
        "{\"name\": \"request_id\", \"type\": \"string\"},"
        "{\"name\": \"model\", \"type\": \"string\"},"
        "{\"name\": \"priority\", \"type\": \"int\", \"default\": 0},"
        "{\"name\": \"version\", \"type\": [\"null\", \"int\"], \"default\": null},"
        "{\"name\": \"inputs\", \"type\": {\"type\": \"array\", \"items\": "
        "{\"type\": \"record\", \"name\": \"Tensor\", \"fields\": ["
        "{\"name\": \"name\", \"type\": \"string\"},"
        "{\"name\": \"dtype\", \"type\": {\"type\": \"enum\", \"name\": \"DType\", "
        "\"symbols\": [\"FLOAT32\", \"FLOAT16\", \"BFLOAT16\", \"INT64\", "
        "\"INT32\", \"UINT8\"]}},"
        "{\"name\": \"shape\", \"type\": {\"type\": \"array\", \"items\": \"long\"}},"
        "{\"name\": \"data\", \"type\": \"bytes\"}]}}},"
        "{\"name\": \"reply_topic\", \"type\": [\"null\", \"string\"], \"default\": null},"
        "{\"name\": \"deadline_ms\", \"type\": [\"null\", \"long\"], \"default\": null},"
        "{\"name\": \"metadata\", \"type\": {\"type\": \"map\", \"values\": "
        "\"string\"}, \"default\": {}}]}";

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        swarm_err_t err;
        (void)argc;
        (void)argv;
        swarm_err_clear(&err);
        if (swarm_codec_new(&codec, &err) ||
            swarm_codec_register_writer(codec, 7, evolved, &err)) {
                fprintf(stderr, "codec: %s\n", err.msg);
                abort();
        }
        return 0;
}

static void check_tensor(const swarm_tensor_t *t) {
        size_t want = swarm_dtype_size(t->dtype);
        volatile uint8_t sink = 0;

        FUZZ_ASSERT(t->ndim >= 0 && t->ndim <= SWARM_MAX_DIMS);
        for (int d = 0; d < t->ndim; d++) {
                FUZZ_ASSERT(t->shape[d] >= 0);
                if (t->shape[d] && want > SIZE_MAX / (size_t)t->shape[d])
                        FUZZ_ASSERT(!"shape product overflows yet decoded");
                want *= (size_t)t->shape[d];
        }
        FUZZ_ASSERT(want == t->size);
        /* every byte readable (ASan checks the bounds) */
        for (size_t i = 0; i < t->size; i++)
                sink ^= ((const uint8_t *)t->data)[i];
        (void)sink;
}

static int same_str(swarm_str_t a, swarm_str_t b) {
        return a.len == b.len && (!a.len || !memcmp(a.ptr, b.ptr, a.len));
}

static void roundtrip(const swarm_request_t *req) {
        swarm_str_t kv[2 * 64];
        size_t n = 0, pos = 0;
        int64_t idx = 0;
        swarm_str_t k, v;
        swarm_buf_t buf = {0};
        swarm_request_t again;
        swarm_err_t err;

        while (n < 64 && swarm_request_metadata_next(req, &pos, &idx, &k, &v)) {
                kv[2 * n] = k;
                kv[2 * n + 1] = v;
                n++;
        }
        swarm_err_clear(&err);
        if (swarm_codec_encode_request(codec, req, kv, n, &buf, &err)) {
                /* the encoder may refuse what it would never write (an
                 * empty id), never crash */
                swarm_buf_destroy(&buf);
                return;
        }
        memset(&again, 0, sizeof(again));
        FUZZ_ASSERT(swarm_codec_decode_request(codec, buf.data, buf.len, &again,
                                               &err) == SWARM_OK);
        FUZZ_ASSERT(same_str(again.request_id, req->request_id));
        FUZZ_ASSERT(same_str(again.model, req->model));
        FUZZ_ASSERT(again.has_version == req->has_version);
        FUZZ_ASSERT(!req->has_version || again.version == req->version);
        FUZZ_ASSERT(again.n_inputs == req->n_inputs);
        for (int i = 0; i < req->n_inputs; i++) {
                const swarm_tensor_t *a = &again.inputs[i], *b = &req->inputs[i];
                FUZZ_ASSERT(a->dtype == b->dtype && a->ndim == b->ndim &&
                            a->size == b->size);
                FUZZ_ASSERT(!a->size || !memcmp(a->data, b->data, a->size));
        }
        FUZZ_ASSERT(again.has_reply_topic == req->has_reply_topic);
        FUZZ_ASSERT(!req->has_reply_topic ||
                    same_str(again.reply_topic, req->reply_topic));
        swarm_request_destroy(&again);
        swarm_buf_destroy(&buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        swarm_request_t req;
        swarm_response_t resp;
        swarm_err_t err;

        memset(&req, 0, sizeof(req));
        swarm_err_clear(&err);
        if (swarm_codec_decode_request(codec, data, size, &req, &err) == SWARM_OK) {
                size_t pos = 0;
                int64_t seen = 0, idx = 0;
                swarm_str_t k, v;
                FUZZ_ASSERT(req.n_inputs >= 0 && req.n_inputs <= SWARM_MAX_INPUTS);
                for (int i = 0; i < req.n_inputs; i++)
                        check_tensor(&req.inputs[i]);
                while (swarm_request_metadata_next(&req, &pos, &idx, &k, &v)) {
                        seen++;
                        FUZZ_ASSERT(seen <= req.n_metadata);
                }
                roundtrip(&req);
        } else {
                FUZZ_ASSERT(err.code != SWARM_OK && err.msg[0]);
        }
        swarm_request_destroy(&req);

        memset(&resp, 0, sizeof(resp));
        swarm_err_clear(&err);
        if (swarm_codec_decode_response(codec, data, size, &resp, &err) == SWARM_OK) {
                FUZZ_ASSERT(resp.n_outputs >= 0 && resp.n_outputs <= SWARM_MAX_INPUTS);
                for (int i = 0; i < resp.n_outputs; i++)
                        check_tensor(&resp.outputs[i]);
        }
        swarm_response_destroy(&resp);
        return 0;
}
