/*
 * test_match.c - requests against a model with symbolic batch and sequence
 * dims (tests/fixtures/shaped/model.onnx: ids:INT64[batch,seq],
 * mask:FLOAT32[batch,seq], bias:FLOAT32[batch,8]): any length accepted,
 * ids and mask must agree on it, the fixed 8 must be kept, dtypes must be
 * the model's; the batch key (match_batch_dims) is the two lengths; the
 * batching a request's metadata asks for (match_batch_mode), through a real
 * encode and decode.
 * Usage: test_match MODEL.onnx
 */
#include <string.h>

#include "check.h"
#include "match.h"
#include "swarm/backend.h"
#include "swarm/model.h"

static int64_t ids[4 * 32];
static float mask[4 * 32], bias[4 * 9];

/* rows x seq ids and mask (mask of length mseq), bias of width bw. */
static void request(swarm_request_t *r, int64_t rows, int64_t seq, int64_t mseq,
                    int64_t bw) {
        memset(r, 0, sizeof(*r));
        r->n_inputs = 3;
        r->inputs[0] = (swarm_tensor_t){SWARM_STR("ids"), SWARM_DTYPE_INT64, 2, {rows, seq},
                                        ids, (size_t)(rows * seq) * 8};
        r->inputs[1] = (swarm_tensor_t){SWARM_STR("mask"), SWARM_DTYPE_FLOAT32, 2,
                                        {rows, mseq}, mask, (size_t)(rows * mseq) * 4};
        r->inputs[2] = (swarm_tensor_t){SWARM_STR("bias"), SWARM_DTYPE_FLOAT32, 2,
                                        {rows, bw}, bias, (size_t)(rows * bw) * 4};
}

/* Encode a one-tensor request with the metadata pairs kv (n pairs), decode
 * it into *r (borrowing from *buf) and return match_batch_mode()'s code. */
static int batch_mode(swarm_codec_t *c, swarm_buf_t *buf, const swarm_str_t *kv,
                      size_t n, swarm_request_t *r, int *alone, swarm_err_t *err) {
        swarm_request_t q;
        int rc;

        request(&q, 1, 8, 8, 8);
        q.request_id = SWARM_STR("r1");
        q.model = SWARM_STR("shaped");
        buf->len = 0;
        swarm_err_clear(err);
        if ((rc = swarm_codec_encode_request(c, &q, kv, n, buf, err)) ||
            (rc = swarm_codec_decode_request(c, buf->data, buf->len, r, err)))
                return rc;
        rc = match_batch_mode(r, alone, err);
        swarm_request_destroy(r);
        return rc;
}

static void test_batch_mode(void) {
        const swarm_str_t alone[] = {SWARM_STR("trace"), SWARM_STR("x"),
                                     SWARM_STR(SWARM_META_BATCH), SWARM_STR("alone")};
        const swarm_str_t merge[] = {SWARM_STR(SWARM_META_BATCH), SWARM_STR("merge")};
        const swarm_str_t bad[] = {SWARM_STR(SWARM_META_BATCH), SWARM_STR("Alone")};
        const swarm_str_t twice[] = {SWARM_STR(SWARM_META_BATCH), SWARM_STR("alone"),
                                     SWARM_STR(SWARM_META_BATCH), SWARM_STR("alone")};
        const swarm_str_t near[] = {SWARM_STR("swarm.batchx"), SWARM_STR("alone"),
                                    SWARM_STR("swarm.batc"), SWARM_STR("alone")};
        swarm_codec_t *c = NULL;
        swarm_buf_t buf = {0};
        swarm_request_t r;
        swarm_err_t err;
        int a = -1;

        swarm_err_clear(&err);
        CHECK_OK(swarm_codec_new(&c, &err), err);
        if (!c)
                return;
        CHECK_OK(batch_mode(c, &buf, NULL, 0, &r, &a, &err), err);
        CHECK(a == 0, "no metadata: alone=%d", a);
        a = -1;
        CHECK_OK(batch_mode(c, &buf, alone, 2, &r, &a, &err), err);
        CHECK(a == 1, "alone after another key: alone=%d", a);
        a = -1;
        CHECK_OK(batch_mode(c, &buf, merge, 1, &r, &a, &err), err);
        CHECK(a == 0, "merge: alone=%d", a);
        a = -1;
        CHECK_OK(batch_mode(c, &buf, near, 2, &r, &a, &err), err);
        CHECK(a == 0, "other keys: alone=%d", a);
        CHECK(batch_mode(c, &buf, bad, 1, &r, &a, &err) == SWARM_ERR_INVALID &&
                      strstr(err.msg, "\"Alone\"") && strstr(err.msg, SWARM_META_BATCH),
              "bad value: %s", err.msg);
        CHECK(batch_mode(c, &buf, twice, 2, &r, &a, &err) == SWARM_ERR_INVALID &&
                      strstr(err.msg, "twice"),
              "twice: %s", err.msg);
        swarm_buf_destroy(&buf);
        swarm_codec_destroy(c);
}

int main(int argc, char **argv) {
        swarm_backend_t *be;
        swarm_model_t *m = NULL;
        models_ref_t ref;
        swarm_request_t r;
        swarm_err_t err;
        char sig[512];
        int in_map[SWARM_MAX_INPUTS];
        int64_t rows = 0, dims[MATCH_MAX_DIMS];

        if (argc < 2)
                return 2;
        test_batch_mode();
        swarm_err_clear(&err);
        (void)swarm_backend_cpu_new(1, &be, &err);
        CHECK(be != NULL, "%s", err.msg);
        if (!be)
                TEST_DONE();
        CHECK_OK(swarm_model_load_file(argv[1], be, &m, &err), err);
        if (!m)
                TEST_DONE();
        CHECK(swarm_model_is_shaped(m));
        swarm_model_signature(m, sig, sizeof(sig));
        ref = (models_ref_t){"shaped", 1, m, sig};

        /* lengths 8 and 32, 3 rows: accepted; the key is both lengths */
        request(&r, 3, 8, 8, 8);
        CHECK_OK(match_request(&ref, &r, in_map, &rows, &err), err);
        CHECK(rows == 3 && in_map[0] == 0 && in_map[1] == 1 && in_map[2] == 2);
        CHECK(match_batch_dims(&ref, &r, in_map, dims) == 2 && dims[0] == 8 && dims[1] == 8);
        request(&r, 1, 32, 32, 8);
        CHECK_OK(match_request(&ref, &r, in_map, &rows, &err), err);
        CHECK(match_batch_dims(&ref, &r, in_map, dims) == 2 && dims[0] == 32 &&
              dims[1] == 32);
        /* by name, in any order */
        {
                swarm_tensor_t t = r.inputs[0];
                r.inputs[0] = r.inputs[2];
                r.inputs[2] = t;
                CHECK_OK(match_request(&ref, &r, in_map, &rows, &err), err);
                CHECK(in_map[0] == 2 && in_map[2] == 0);
                CHECK(match_batch_dims(&ref, &r, in_map, dims) == 2 && dims[0] == 32);
        }

        /* a width of 9 contradicts the fixed 8: the signature is named */
        request(&r, 1, 8, 8, 9);
        CHECK_ERR(match_request(&ref, &r, in_map, &rows, &err), err, SWARM_ERR_INVALID,
                  "expected ids:INT64[");
        request(&r, 1, 8, 8, 9);
        match_request(&ref, &r, in_map, &rows, &err);
        CHECK(strstr(err.msg, "bias:FLOAT32[1,9]") != NULL, "%s", err.msg);
        printf("%s\n", err.msg);       /* what an INVALID_REQUEST says */
        swarm_err_clear(&err);
        request(&r, 1, 8, 16, 8);
        match_request(&ref, &r, in_map, &rows, &err);
        printf("%s\n", err.msg);
        swarm_err_clear(&err);
        /* ids of length 8, mask of 16: they share "seq" */
        request(&r, 1, 8, 16, 8);
        CHECK_ERR(match_request(&ref, &r, in_map, &rows, &err), err, SWARM_ERR_INVALID,
                  "same name");
        /* a length of 0 */
        request(&r, 1, 0, 0, 8);
        CHECK_ERR(match_request(&ref, &r, in_map, &rows, &err), err, SWARM_ERR_INVALID,
                  ">= 1");
        /* float ids, a wrong rank, rows that differ across inputs */
        request(&r, 1, 8, 8, 8);
        r.inputs[0].dtype = SWARM_DTYPE_FLOAT64;
        CHECK_ERR(match_request(&ref, &r, in_map, &rows, &err), err, SWARM_ERR_INVALID,
                  "ids:FLOAT64[1,8]");
        request(&r, 1, 8, 8, 8);
        r.inputs[1].ndim = 3;
        r.inputs[1].shape[2] = 1;
        CHECK_ERR(match_request(&ref, &r, in_map, &rows, &err), err, SWARM_ERR_INVALID,
                  "expected");
        request(&r, 2, 8, 8, 8);
        r.inputs[2].shape[0] = 1;
        CHECK_ERR(match_request(&ref, &r, in_map, &rows, &err), err, SWARM_ERR_INVALID,
                  "expected");
        /* a missing input */
        request(&r, 1, 8, 8, 8);
        r.n_inputs = 2;
        CHECK_ERR(match_request(&ref, &r, in_map, &rows, &err), err, SWARM_ERR_INVALID,
                  "expected");

        swarm_model_destroy(m);
        swarm_backend_destroy(be);
        TEST_DONE();
}
