/*
 * test_model_errors.c - loader and executor behaviour on small models built
 * here with protobuf-c: a batched MLP checked against a naive reference
 * (fusion, symbolic batch, buffer growth), then malformed and unsupported
 * models (truncated, random bytes, bit flips, unknown operator, missing
 * initializer, short raw_data, external data, cycle, bad rows) whose error
 * code and message are asserted.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "swarm/model.h"

#include "check.h"
#include "onnx_build.h"

/* ---- the MLP: x[N,4] -Gemm(W1^T,b1)-> Relu -MatMul(W2)-> Add(b2) ->
 * Sigmoid -> Softmax -> y[N,3] ---- */

static float W1[8 * 4], B1[8], W2[8 * 3], B2[3];

static uint32_t rng = 12345;

static float frand(void) {
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        return (float)(rng % 2001) / 1000.0f - 1.0f;
}

static void mlp(bld_t *b, int reversed, int raw) {
        static const int64_t w1d[] = {8, 4}, b1d[] = {8}, w2d[] = {8, 3},
                             b2d[] = {3}, xd[] = {-1, 4}, yd[] = {-1, 3};
        Onnx__NodeProto *n;

        bld_init(b, 13);
        init(b, "W1", 2, w1d, W1, raw);
        init(b, "B1", 1, b1d, B1, raw);
        init(b, "W2", 2, w2d, W2, !raw);
        init(b, "B2", 1, b2d, B2, !raw);
        vi(b, 0, "x", 1, 2, xd);
        vi(b, 1, "y", 1, 2, yd);
        n = node(b, "fc1", "Gemm", "x,W1,B1", "h1");
        attr_i(b, n, "transB", 1);
        node(b, "relu1", "Relu", "h1", "a1");
        node(b, "fc2", "MatMul", "a1,W2", "h2");
        node(b, "bias2", "Add", "h2,B2", "h3");
        node(b, "sig2", "Sigmoid", "h3", "a2");
        node(b, "soft", "Softmax", "a2", "y");
        if (reversed)
                for (size_t i = 0; i < b->g->n_node / 2; i++) {
                        Onnx__NodeProto *t = b->g->node[i];
                        b->g->node[i] = b->g->node[b->g->n_node - 1 - i];
                        b->g->node[b->g->n_node - 1 - i] = t;
                }
}

static void mlp_ref(const float *x, int64_t rows, float *y) {
        for (int64_t r = 0; r < rows; r++) {
                float a1[8], a2[3], mx = -1e30f, sum = 0;
                for (int j = 0; j < 8; j++) {
                        float s = B1[j];
                        for (int k = 0; k < 4; k++)
                                s += x[r * 4 + k] * W1[j * 4 + k];
                        a1[j] = s > 0 ? s : 0;
                }
                for (int j = 0; j < 3; j++) {
                        float s = B2[j];
                        for (int k = 0; k < 8; k++)
                                s += a1[k] * W2[k * 3 + j];
                        a2[j] = 1.0f / (1.0f + expf(-s));
                        if (a2[j] > mx)
                                mx = a2[j];
                }
                for (int j = 0; j < 3; j++)
                        sum += (y[r * 3 + j] = expf(a2[j] - mx));
                for (int j = 0; j < 3; j++)
                        y[r * 3 + j] /= sum;
        }
}

static int load(const uint8_t *buf, size_t len, swarm_backend_t *be,
                swarm_model_t **m, swarm_err_t *err) {
        swarm_err_clear(err);
        return swarm_model_load_mem(buf, len, be, m, err);
}

/* Pack and load b's model, CHECKing that it loads, then free the builder:
 * the model keeps nothing of it.  Returns the model, NULL if it failed. */
static swarm_model_t *build_load(bld_t *b, swarm_backend_t *be) {
        size_t len;
        uint8_t *buf = pack(b, &len);
        swarm_model_t *m = NULL;
        swarm_err_t err;
        CHECK(load(buf, len, be, &m, &err) == SWARM_OK, "%s", err.msg);
        free(buf);
        bld_free(b);
        return m;
}

static void test_mlp(swarm_backend_t *be, int reversed) {
        bld_t b;
        swarm_model_t *m = NULL;
        swarm_err_t err;
        char sig[256];
        static const int64_t rows_seq[] = {1, 7, 3, 64, 5};

        mlp(&b, reversed, 1);
        m = build_load(&b, be);
        if (!m)
                goto out;
        swarm_model_signature(m, sig, sizeof(sig));
        CHECK(strcmp(sig, "x:FLOAT32[N,4] -> y:FLOAT32[N,3]") == 0, "%s",
              sig);
        /* Gemm+Relu, MatMul+Add+Sigmoid, Softmax. */
        CHECK(swarm_model_n_steps(m) == 3, "%d steps",
              swarm_model_n_steps(m));
        CHECK(swarm_model_fixed_rows(m) == -1, "fixed rows");
        CHECK(swarm_model_input(m, 0)->row_bytes == 16, "row bytes");
        CHECK(swarm_model_output(m, 0)->shape[0] == -1, "symbolic");
        for (size_t t = 0; t < sizeof(rows_seq) / sizeof(rows_seq[0]); t++) {
                int64_t rows = rows_seq[t];
                float *x = malloc((size_t)rows * 16), *want =
                        malloc((size_t)rows * 12);
                const void *in[1] = {x};
                const void *outp[1] = {NULL};
                for (int64_t i = 0; i < rows * 4; i++)
                        x[i] = frand() * 3;
                mlp_ref(x, rows, want);
                swarm_err_clear(&err);
                CHECK(swarm_model_run(m, rows, in, outp, &err) == SWARM_OK,
                      "%s", err.msg);
                for (int64_t i = 0; outp[0] && i < rows * 3; i++)
                        CHECK(fabsf(((const float *)outp[0])[i] - want[i]) <
                              1e-5f, "rows %lld [%lld]: %g vs %g",
                              (long long)rows, (long long)i,
                              ((const float *)outp[0])[i], want[i]);
                free(x);
                free(want);
        }
        {
                float x[4] = {0};
                const void *in[1] = {x}, *nulls[1] = {NULL};
                const void *outp[1];
                swarm_err_clear(&err);
                CHECK(swarm_model_run(m, 0, in, outp, &err) ==
                      SWARM_ERR_INVALID && strstr(err.msg, "rows"), "%s",
                      err.msg);
                swarm_err_clear(&err);
                CHECK(swarm_model_run(m, 1, nulls, outp, &err) ==
                      SWARM_ERR_INVALID && strstr(err.msg, "'x'"), "%s",
                      err.msg);
                swarm_err_clear(&err);
                CHECK(swarm_model_run(m, 1, in, outp, &err) == SWARM_OK,
                      "usable after errors: %s", err.msg);
        }
out:
        swarm_model_destroy(m);
}

static void test_garbage(swarm_backend_t *be) {
        bld_t b;
        size_t len;
        uint8_t *buf, rnd[512];
        swarm_model_t *m = NULL;
        swarm_err_t err;
        int loaded = 0;

        mlp(&b, 0, 1);
        buf = pack(&b, &len);
        /* Every truncation is refused. */
        for (size_t l = 0; l < len; l++) {
                m = NULL;
                CHECK(load(buf, l, be, &m, &err) != SWARM_OK && !m,
                      "prefix %zu loaded", l);
                swarm_model_destroy(m);
        }
        CHECK(load(buf, len / 2, be, &m, &err) == SWARM_ERR_PARSE &&
              strstr(err.msg, "not a valid ONNX protobuf"), "%s", err.msg);
        /* Random bytes never crash. */
        for (int t = 0; t < 3000; t++) {
                size_t n = 1 + (size_t)(frand() + 1.0f) * 255;
                for (size_t i = 0; i < n; i++)
                        rnd[i] = (uint8_t)(rng >> 8), frand();
                m = NULL;
                if (load(rnd, n, be, &m, &err) == SWARM_OK)
                        swarm_model_destroy(m);
                else
                        CHECK(err.code != SWARM_OK && err.msg[0], "no msg");
        }
        /* Bit flips of a valid model: refused or, if still valid, runnable. */
        for (int t = 0; t < 3000; t++) {
                uint8_t *mut = malloc(len);
                memcpy(mut, buf, len);
                for (int f = 0; f < 1 + t % 3; f++) {
                        frand();
                        mut[rng % len] ^= (uint8_t)(1u << (rng >> 16) % 8);
                }
                m = NULL;
                if (load(mut, len, be, &m, &err) == SWARM_OK) {
                        const swarm_model_io_t *io = swarm_model_input(m, 0);
                        int64_t rows = swarm_model_fixed_rows(m);
                        loaded++;
                        if (rows < 0)
                                rows = 3;
                        if (swarm_model_n_inputs(m) == 1 && rows > 0 &&
                            rows < 1000 && io->row_bytes < 1 << 20) {
                                void *x = calloc((size_t)rows, io->row_bytes +
                                                 16);
                                const void *in[1] = {x};
                                const void *outp[8];
                                swarm_err_clear(&err);
                                swarm_model_run(m, rows, in, outp, &err);
                                free(x);
                        }
                        swarm_model_destroy(m);
                }
                free(mut);
        }
        printf("bit flips: %d of 3000 mutated models still loaded\n",
               loaded);
        free(buf);
        bld_free(&b);
}

/* Load a built model and expect `code` with every needle in the message. */
static void expect(bld_t *b, swarm_backend_t *be, swarm_code_t code, ...) {
        size_t len;
        uint8_t *buf = pack(b, &len);
        swarm_model_t *m = NULL;
        swarm_err_t err;
        va_list ap;
        const char *needle;

        CHECK(load(buf, len, be, &m, &err) == (int)code && !m,
              "got %s: %s", swarm_code_name(err.code), err.msg);
        va_start(ap, code);
        while ((needle = va_arg(ap, const char *)))
                CHECK(strstr(err.msg, needle), "'%s' not in: %s", needle,
                      err.msg);
        va_end(ap);
        printf("ok %s: %s\n", swarm_code_name(err.code), err.msg);
        swarm_model_destroy(m);
        free(buf);
        bld_free(b);
}

static void test_refusals(swarm_backend_t *be) {
        static const int64_t xd[] = {-1, 4}, yd[] = {-1, 3}, wd[] = {4, 3};
        bld_t b;
        Onnx__TensorProto *t;

        bld_xy(&b, 2, xd, 2, yd);
        node(&b, "conv1", "NonMaxSuppression", "x", "y");
        expect(&b, be, SWARM_ERR_UNSUPPORTED, "conv1", "NonMaxSuppression",
               "not supported", NULL);

        bld_xy(&b, 2, xd, 2, yd);
        node(&b, "fc1", "Gemm", "x,W_missing", "y");
        expect(&b, be, SWARM_ERR_INVALID, "fc1", "Gemm", "W_missing",
               "not defined", NULL);

        bld_xy(&b, 2, xd, 2, yd);
        t = init(&b, "W", 2, wd, W2, 1);
        t->raw_data.len -= 4;
        node(&b, "fc1", "MatMul", "x,W", "y");
        expect(&b, be, SWARM_ERR_TRUNCATED, "'W'", "raw_data", NULL);

        bld_xy(&b, 2, xd, 2, yd);
        t = init(&b, "W", 2, wd, W2, 1);
        t->has_data_location = 1;
        t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
        node(&b, "fc1", "MatMul", "x,W", "y");
        expect(&b, be, SWARM_ERR_UNSUPPORTED, "'W'", "external", NULL);

        bld_xy(&b, 2, xd, 2, yd);
        t = init(&b, "W", 2, wd, W2, 1);
        t->dims[0] = -4;
        node(&b, "fc1", "MatMul", "x,W", "y");
        expect(&b, be, SWARM_ERR_INVALID, "'W'", "dimensions", NULL);

        bld_xy(&b, 2, xd, 2, xd);
        node(&b, "r1", "Relu", "x,z", "y");
        node(&b, "r2", "Relu", "y", "z");
        expect(&b, be, SWARM_ERR_INVALID, "r1", "inputs", NULL);

        bld_xy(&b, 2, xd, 2, xd);
        node(&b, "a1", "Add", "x,z", "y");
        node(&b, "a2", "Add", "x,y", "z");
        expect(&b, be, SWARM_ERR_INVALID, "cycle", NULL);

        bld_init(&b, 13);
        vi(&b, 0, "x", 12, 2, xd);      /* UINT32 */
        vi(&b, 1, "y", 1, 2, xd);
        node(&b, "r1", "Relu", "x", "y");
        expect(&b, be, SWARM_ERR_UNSUPPORTED, "'x'", "element type 12",
               NULL);

        /* A computed dtype that contradicts the declared output. */
        bld_init(&b, 13);
        vi(&b, 0, "x", 7, 2, xd);
        vi(&b, 1, "y", 1, 2, xd);
        node(&b, "r1", "Relu", "x", "y");
        expect(&b, be, SWARM_ERR_INVALID, "'y'", "declared FLOAT32",
               "computed INT64", NULL);

        bld_xy(&b, 2, xd, 2, yd);
        init(&b, "W", 2, (const int64_t[]){5, 3}, W2, 1);
        node(&b, "fc1", "MatMul", "x,W", "y");
        expect(&b, be, SWARM_ERR_INVALID, "fc1", "inner dimensions", NULL);

        bld_xy(&b, 2, xd, 2, xd);
        node(&b, "sm", "Softmax", "x", "y");
        attr_i(&b, b.g->node[0], "axis", 0);
        expect(&b, be, SWARM_ERR_UNSUPPORTED, "sm", "batch", NULL);

        bld_xy(&b, 2, xd, 2, xd);
        node(&b, "r1", "Relu", "x", "y");
        attr_i(&b, b.g->node[0], "bogus", 1);
        expect(&b, be, SWARM_ERR_UNSUPPORTED, "r1", "bogus", NULL);

        /* Issue 9 item 5: every unsupported node in one message, with
         * operator and opset; nodes downstream of one are not listed
         * (their input shapes are unknown). */
        bld_xy(&b, 2, xd, 2, xd);
        vi(&b, 1, "z", 1, 2, xd);
        node(&b, "u1", "NoSuchOp", "x", "a");
        node(&b, "after_u1", "Relu", "a", "a2");
        node(&b, "r2", "Relu", "x", "b");
        attr_i(&b, b.g->node[2], "bogus", 1);
        node(&b, "dom", "Relu", "x", "c");
        b.g->node[3]->domain = bs(&b, "com.example");
        node(&b, "s1", "Add", "a2,b", "y");
        node(&b, "s2", "Add", "c,x", "z");
        expect(&b, be, SWARM_ERR_UNSUPPORTED, "3 unsupported nodes",
               "'u1' (NoSuchOp): operator is not supported (opset 13)",
               "'r2' (Relu): attribute 'bogus' is not supported (opset 13)",
               "'dom' (Relu): operator domain 'com.example'", NULL);
}

/* ---- issue 10, defect 1: shape arithmetic on numbers from the model ----
 * Each model below once loaded with a wrapped size (and then wrote past a
 * buffer at load or on every run); each must now be refused, or run
 * correctly, without touching memory it does not own (ASan/UBSan run this
 * test in CI). */
static void test_hostile_shapes(swarm_backend_t *be) {
        static const int64_t xd[] = {-1, 4}, x3[] = {-1, 8, 8};
        static const int64_t x4[] = {-1, 1, 8, 8}, x8[] = {-1, 8};
        static float c64[64], c4[4] = {1, 2, 3, 4}, w9[9];
        bld_t b;
        Onnx__NodeProto *n;

        /* Reshape of 64 constant elements to [64, 7, 7905747460161236407]:
         * 64 * 7 * that wraps to 64 in int64. */
        bld_xy(&b, 2, xd, 2, xd);
        init(&b, "C", 1, (const int64_t[]){64}, c64, 1);
        init_i64(&b, "S", 1, (const int64_t[]){3},
                 (const int64_t[]){64, 7, 7905747460161236407LL});
        node(&b, "resh", "Reshape", "C,S", "r");
        node(&b, "add", "Add", "x,r", "y");
        expect(&b, be, SWARM_ERR_INVALID, "resh", "overflows", NULL);

        /* Expand of a constant to [2^20, 2^20, 2^20]. */
        bld_xy(&b, 2, xd, 2, xd);
        init(&b, "C", 1, (const int64_t[]){1}, c4, 1);
        init_i64(&b, "S", 1, (const int64_t[]){3},
                 (const int64_t[]){1 << 20, 1 << 20, 1 << 20});
        node(&b, "exp", "Expand", "C,S", "r");
        node(&b, "add", "Add", "x,r", "y");
        expect(&b, be, SWARM_ERR_UNSUPPORTED, "exp", "too large", NULL);

        /* The same within int64 but past what the loader computes. */
        bld_xy(&b, 2, xd, 2, xd);
        init(&b, "C", 1, (const int64_t[]){4}, c4, 1);
        init_i64(&b, "S", 1, (const int64_t[]){3},
                 (const int64_t[]){1 << 12, 1 << 12, 4});
        node(&b, "exp", "Expand", "C,S", "r");
        node(&b, "add", "Add", "x,r", "y");
        expect(&b, be, SWARM_ERR_UNSUPPORTED, "exp", "load time", NULL);

        /* Pad with INT64_MAX pads: [N,8,8] once became [N,6,8]. */
        bld_xy(&b, 3, x3, 3, x3);
        init_i64(&b, "P", 1, (const int64_t[]){6},
                 (const int64_t[]){0, INT64_MAX, 0, 0, 2, 0});
        node(&b, "pad", "Pad", "x,P", "y");
        expect(&b, be, SWARM_ERR_INVALID, "pad", "overflows", NULL);

        /* Pooling pads and dilations near INT64_MAX (window_dim). */
        bld_xy(&b, 4, x4, 4, x4);
        n = node(&b, "mp", "MaxPool", "x", "y");
        attr_is(&b, n, "kernel_shape", 2, (const int64_t[]){2, 2});
        attr_is(&b, n, "pads", 4,
                (const int64_t[]){INT64_MAX, 0, INT64_MAX, 0});
        expect(&b, be, SWARM_ERR_INVALID, "mp", "must be at most", NULL);

        bld_xy(&b, 4, x4, 4, x4);
        n = node(&b, "mp", "MaxPool", "x", "y");
        attr_is(&b, n, "kernel_shape", 2, (const int64_t[]){3, 3});
        attr_is(&b, n, "dilations", 2,
                (const int64_t[]){INT64_MAX / 2 + 1, 1});
        expect(&b, be, SWARM_ERR_INVALID, "mp", "must be at most", NULL);

        bld_xy(&b, 4, x4, 4, x4);
        init(&b, "W", 4, (const int64_t[]){1, 1, 3, 3}, w9, 1);
        n = node(&b, "cv", "Conv", "x,W", "y");
        attr_is(&b, n, "dilations", 2,
                (const int64_t[]){INT64_MAX / 2 + 1, 1});
        expect(&b, be, SWARM_ERR_INVALID, "cv", "must be at most", NULL);

        bld_xy(&b, 4, x4, 4, x4);
        init(&b, "W", 4, (const int64_t[]){1, 1, 3, 3}, w9, 1);
        n = node(&b, "cv", "Conv", "x,W", "y");
        attr_is(&b, n, "pads", 4,
                (const int64_t[]){1, INT64_MAX - 2, 1, 5});
        expect(&b, be, SWARM_ERR_INVALID, "cv", "must be at most", NULL);

        /* Pads and strides near 2^62: each fits, their sum overflowed the
         * pooling kernel's inside_span() at inference (fuzz_onnx). */
        bld_xy(&b, 4, x4, 4, x4);
        n = node(&b, "mp", "MaxPool", "x", "y");
        attr_is(&b, n, "kernel_shape", 2, (const int64_t[]){2, 2});
        attr_is(&b, n, "strides", 2,
                (const int64_t[]){(int64_t)1 << 62, 1});
        attr_is(&b, n, "pads", 4,
                (const int64_t[]){(int64_t)1 << 62, 0, 0, 0});
        expect(&b, be, SWARM_ERR_INVALID, "mp", "must be at most", NULL);

        /* Pooling pads as large as the kernel only add empty taps: a small
         * input padded to a window of a million taps pooled for minutes
         * (fuzz_onnx).  Refused as onnxruntime refuses it. */
        bld_xy(&b, 4, x4, 4, x4);
        n = node(&b, "mp", "MaxPool", "x", "y");
        attr_is(&b, n, "kernel_shape", 2, (const int64_t[]){1000, 1000});
        attr_is(&b, n, "pads", 4,
                (const int64_t[]){1000, 1000, 1000, 1000});
        expect(&b, be, SWARM_ERR_INVALID, "mp", "smaller than the kernel", NULL);

        /* Integer shape arithmetic that overflows while folding. */
        bld_xy(&b, 2, xd, 2, xd);
        init_i64(&b, "A", 1, (const int64_t[]){2},
                 (const int64_t[]){(int64_t)1 << 62, 1});
        init_i64(&b, "B", 1, (const int64_t[]){1}, (const int64_t[]){4});
        node(&b, "mul", "Mul", "A,B", "S");
        node(&b, "resh", "Reshape", "x,S", "y");
        expect(&b, be, SWARM_ERR_UNSUPPORTED, "mul", "overflowing", NULL);

        /* Range whose length does not fit an int64. */
        bld_xy(&b, 2, xd, 2, xd);
        init(&b, "R0", 0, NULL, (const float[]){0}, 1);
        init(&b, "R1", 0, NULL, (const float[]){1e30f}, 1);
        init(&b, "R2", 0, NULL, (const float[]){1}, 1);
        node(&b, "rng", "Range", "R0,R1,R2", "r");
        node(&b, "add", "Add", "x,r", "y");
        expect(&b, be, SWARM_ERR_UNSUPPORTED, "rng", "too long", NULL);

        /* ConstantOfShape whose value holds more than one element: the
         * fill once copied all of them into every element. */
        bld_xy(&b, 2, xd, 2, xd);
        init_i64(&b, "S", 1, (const int64_t[]){1}, (const int64_t[]){4});
        n = node(&b, "cos", "ConstantOfShape", "S", "r");
        {
                Onnx__AttributeProto *a = ba(&b, sizeof(*a));
                Onnx__TensorProto *t = ba(&b, sizeof(*t));
                onnx__attribute_proto__init(a);
                onnx__tensor_proto__init(t);
                t->has_data_type = 1;
                t->data_type = 1;
                t->n_dims = 1;
                t->dims = ba(&b, sizeof(int64_t));
                t->dims[0] = 64;
                t->has_raw_data = 1;
                t->raw_data.len = 256;
                t->raw_data.data = ba(&b, 256);
                a->name = bs(&b, "value");
                a->has_type = 1;
                a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
                a->t = t;
                n->attribute[n->n_attribute++] = a;
        }
        node(&b, "add", "Add", "x,r", "y");
        expect(&b, be, SWARM_ERR_INVALID, "cos", "one element", NULL);

        /* Einsum terms with more ellipses than dims once wrote past the
         * label table. */
        bld_xy(&b, 8, (const int64_t[]){-1, 1, 1, 1, 1, 1, 1, 2}, 8, (const int64_t[]){-1, 1, 1, 1, 1, 1, 1, 2});
        n = node(&b, "ein", "Einsum", "x", "y");
        {
                char eq[128] = "";
                for (int i = 0; i < 30; i++)
                        strcat(eq, "...");
                strcat(eq, "->...");
                attr_s(&b, n, "equation", eq);
        }
        expect(&b, be, SWARM_ERR_INVALID, "ein", "does not fit", NULL);

        /* An RNN initial state smaller than [D, batch, H] was read past
         * its end. */
        bld_init(&b, 14);
        vi(&b, 0, "x", 1, 3, (const int64_t[]){5, 2, 3});
        vi(&b, 1, "y", 1, 4, (const int64_t[]){5, 1, 2, 4});
        init(&b, "W", 3, (const int64_t[]){1, 4, 3}, c64, 1);
        init(&b, "R", 3, (const int64_t[]){1, 4, 4}, c64, 1);
        init(&b, "H0", 3, (const int64_t[]){1, 1, 1}, c4, 1);
        n = node(&b, "rnn", "RNN", "x,W,R,-,-,H0", "y");
        attr_i(&b, n, "hidden_size", 4);
        expect(&b, be, SWARM_ERR_INVALID, "rnn", "initial state", NULL);

        /* Slice with an INT64_MIN step (its negation is not an int64):
         * from the last column backwards by "minus infinity" is that
         * column alone. */
        bld_xy(&b, 2, x8, 2, (const int64_t[]){-1, 1});
        init_i64(&b, "st", 1, (const int64_t[]){1}, (const int64_t[]){-1});
        init_i64(&b, "en", 1, (const int64_t[]){1},
                 (const int64_t[]){INT64_MIN});
        init_i64(&b, "ax", 1, (const int64_t[]){1}, (const int64_t[]){1});
        init_i64(&b, "sp", 1, (const int64_t[]){1},
                 (const int64_t[]){INT64_MIN});
        node(&b, "sl", "Slice", "x,st,en,ax,sp", "y");
        {
                size_t len;
                uint8_t *buf = pack(&b, &len);
                swarm_model_t *m = NULL;
                swarm_err_t err;
                float x[3 * 8];
                const void *in[1] = {x}, *outp[1] = {NULL};
                for (int i = 0; i < 24; i++)
                        x[i] = (float)i;
                CHECK(load(buf, len, be, &m, &err) == SWARM_OK, "%s",
                      err.msg);
                if (m) {
                        swarm_err_clear(&err);
                        CHECK(swarm_model_output(m, 0)->shape[1] == 1,
                              "slice shape %lld",
                              (long long)swarm_model_output(m, 0)->shape[1]);
                        CHECK(swarm_model_run(m, 3, in, outp, &err) ==
                              SWARM_OK, "%s", err.msg);
                        for (int r = 0; outp[0] && r < 3; r++)
                                CHECK(((const float *)outp[0])[r] ==
                                      (float)(r * 8 + 7), "row %d: %g", r,
                                      ((const float *)outp[0])[r]);
                }
                swarm_model_destroy(m);
                free(buf);
                bld_free(&b);
        }
}

/* A file of millions of empty nodes (2 bytes each) once made the loader
 * size and clear its tables for all of them before rejecting the first.
 * It must be refused before any per-node allocation, naming node #0. */
static void test_empty_nodes(swarm_backend_t *be) {
        enum { N_EMPTY = 1000000 };
        bld_t b;
        Onnx__NodeProto **many = malloc(N_EMPTY * sizeof(*many));
        Onnx__NodeProto empty;
        static const int64_t xd[] = {-1, 4};
        size_t len;
        uint8_t *buf;
        swarm_model_t *m = NULL;
        swarm_err_t err;

        onnx__node_proto__init(&empty);
        for (int i = 0; i < N_EMPTY; i++)
                many[i] = &empty;
        bld_xy(&b, 2, xd, 2, xd);
        b.g->node = many;
        b.g->n_node = N_EMPTY;
        buf = pack(&b, &len);
        CHECK(len < 8 * (size_t)N_EMPTY, "%zu bytes", len);
        CHECK(load(buf, len, be, &m, &err) == SWARM_ERR_INVALID && !m,
              "%s: %s", swarm_code_name(err.code), err.msg);
        CHECK(strstr(err.msg, "#0") && strstr(err.msg, "operator type"),
              "%s", err.msg);
        printf("ok %zu-byte file of %d empty nodes: %s\n", len, N_EMPTY,
               err.msg);
        swarm_model_destroy(m);
        free(buf);
        free(many);
        bld_free(&b);
}

/* Run-time tensors of other dtypes with a symbolic batch: INT64 ids in,
 * a BOOL mask (Equal), Where over FLOAT32 scores, TopK returning values
 * and INT64 indices, and a Cast of the indices to INT32: the recommender
 * and attention-mask shapes of issue 9. */
static void test_typed_runtime(swarm_backend_t *be) {
        static const int64_t d4[] = {-1, 4}, d2[] = {-1, 2};
        bld_t b;
        swarm_model_t *m = NULL;
        swarm_err_t err;
        Onnx__NodeProto *n;
        char sig[512];

        bld_init(&b, 13);
        vi(&b, 0, "ids", 7, 2, d4);
        vi(&b, 0, "x", 1, 2, d4);
        vi(&b, 1, "vals", 1, 2, d2);
        vi(&b, 1, "idx", 6, 2, d2);
        init_i64(&b, "zero", 0, NULL, (const int64_t[]){0});
        init(&b, "neg", 0, NULL, (const float[]){-1000.0f}, 1);
        init_i64(&b, "k", 1, (const int64_t[]){1}, (const int64_t[]){2});
        node(&b, "eq", "Equal", "ids,zero", "pad");
        node(&b, "wh", "Where", "pad,neg,x", "s");
        n = node(&b, "top", "TopK", "s,k", "vals,i64");
        attr_i(&b, n, "axis", 1);
        n = node(&b, "cast", "Cast", "i64", "idx");
        attr_i(&b, n, "to", 6);
        m = build_load(&b, be);
        if (m) {
                swarm_model_signature(m, sig, sizeof(sig));
                CHECK(strcmp(sig, "ids:INT64[N,4], x:FLOAT32[N,4] -> "
                              "vals:FLOAT32[N,2], idx:INT32[N,2]") == 0,
                      "%s", sig);
                swarm_model_host_summary(m, sig, sizeof(sig));
                CHECK(swarm_model_n_host_steps(m) == 4 &&
                      strcmp(sig, "4 of 4 steps on the host: 'eq' (Equal), "
                             "'wh' (Where), 'top' (TopK), 'cast' (Cast)") == 0,
                      "%d: %s", swarm_model_n_host_steps(m), sig);
                for (int64_t rows = 1; rows <= 5; rows += 4) {
                        int64_t ids[5 * 4];
                        float x[5 * 4];
                        const void *in[2] = {ids, x}, *outp[2] = {0};
                        for (int i = 0; i < rows * 4; i++) {
                                ids[i] = (i * 7) % 3;   /* some zeros */
                                x[i] = (float)((i * 5) % 11) - 3.0f;
                        }
                        swarm_err_clear(&err);
                        CHECK(swarm_model_run(m, rows, in, outp, &err) ==
                              SWARM_OK, "%s", err.msg);
                        for (int64_t r = 0; outp[0] && r < rows; r++) {
                                /* reference: masked scores, top 2, lower
                                 * index first on ties */
                                float s4[4];
                                int best[2] = {-1, -1};
                                for (int j = 0; j < 4; j++)
                                        s4[j] = ids[r * 4 + j] == 0
                                                ? -1000.0f : x[r * 4 + j];
                                for (int t = 0; t < 2; t++)
                                        for (int j = 0; j < 4; j++)
                                                if (j != best[0] &&
                                                    (best[t] < 0 ||
                                                     s4[j] > s4[best[t]]))
                                                        best[t] = j;
                                for (int t = 0; t < 2; t++) {
                                        CHECK(((const float *)outp[0])
                                              [r * 2 + t] == s4[best[t]],
                                              "rows %lld r %lld t %d",
                                              (long long)rows, (long long)r,
                                              t);
                                        CHECK(((const int32_t *)outp[1])
                                              [r * 2 + t] == best[t],
                                              "rows %lld r %lld t %d: %d vs "
                                              "%d", (long long)rows,
                                              (long long)r, t,
                                              ((const int32_t *)outp[1])
                                              [r * 2 + t], best[t]);
                                }
                        }
                }
        }
        swarm_model_destroy(m);
}

/* Issue 9 item 2: a symbolic sequence length besides the batch.  x[N,seq,4]
 * and mask[N,seq] (INT64): y2 = (x W) * mask, out = sum over seq / seq,
 * where seq comes from Shape(x)[1] and folds per resolved shape. */
static void seq_ref(const float *x, const int64_t *mask, int64_t rows,
                    int64_t seq, float *y2, float *out) {
        for (int64_t r = 0; r < rows; r++) {
                for (int j = 0; j < 3; j++)
                        out[r * 3 + j] = 0;
                for (int64_t t = 0; t < seq; t++)
                        for (int j = 0; j < 3; j++) {
                                float v = 0;
                                for (int k = 0; k < 4; k++)
                                        v += x[(r * seq + t) * 4 + k] *
                                             W2[k * 3 + j];
                                v *= (float)mask[r * seq + t];
                                y2[(r * seq + t) * 3 + j] = v;
                                out[r * 3 + j] += v;
                        }
                for (int j = 0; j < 3; j++)
                        out[r * 3 + j] /= (float)seq;
        }
}

static void test_symbolic_seq(swarm_backend_t *be) {
        static const int64_t xd[] = {-1, -2, 4}, md[] = {-1, -2};
        static const int64_t od[] = {-1, 3}, yd[] = {-1, -2, 3};
        static const int64_t seqs[] = {5, 7, 5, 1, 2, 3, 4, 6, 8, 9, 10, 11,
                                       5};
        bld_t b;
        swarm_model_t *m = NULL;
        swarm_err_t err;
        Onnx__NodeProto *n;
        char sig[512];

        bld_init(&b, 13);
        vi(&b, 0, "x", 1, 3, xd);
        vi(&b, 0, "mask", 7, 2, md);
        vi(&b, 1, "out", 1, 2, od);
        vi(&b, 1, "y2", 1, 3, yd);
        init(&b, "W", 2, (const int64_t[]){4, 3}, W2, 1);
        init_i64(&b, "one", 0, NULL, (const int64_t[]){1});
        init_i64(&b, "ax", 1, (const int64_t[]){1}, (const int64_t[]){2});
        init_i64(&b, "ax1", 1, (const int64_t[]){1}, (const int64_t[]){1});
        node(&b, "shape", "Shape", "x", "shp");
        node(&b, "seqlen", "Gather", "shp,one", "s64");
        n = node(&b, "castS", "Cast", "s64", "sf");
        attr_i(&b, n, "to", 1);
        node(&b, "mm", "MatMul", "x,W", "y");
        n = node(&b, "castM", "Cast", "mask", "mf");
        attr_i(&b, n, "to", 1);
        node(&b, "unsq", "Unsqueeze", "mf,ax", "mu");
        node(&b, "mul", "Mul", "y,mu", "y2");
        n = node(&b, "sum", "ReduceSum", "y2,ax1", "pooled");
        attr_i(&b, n, "keepdims", 0);
        node(&b, "div", "Div", "pooled,sf", "out");
        m = build_load(&b, be);
        if (!m)
                goto out;
        swarm_model_signature(m, sig, sizeof(sig));
        CHECK(strcmp(sig, "x:FLOAT32[N,seq,4], mask:INT64[N,seq] -> "
                      "out:FLOAT32[N,3], y2:FLOAT32[N,seq,3]") == 0, "%s",
              sig);
        CHECK(swarm_model_is_shaped(m), "shaped");
        CHECK(swarm_model_input(m, 0)->sym == 3u &&
              swarm_model_output(m, 1)->sym == 3u &&
              swarm_model_output(m, 0)->sym == 1u, "sym masks");
        for (size_t t = 0; t < sizeof(seqs) / sizeof(seqs[0]); t++) {
                int64_t seq = seqs[t], rows = 1 + (int64_t)t % 3;
                int64_t shp[2][SWARM_MAX_DIMS] = {{rows, seq, 4},
                                                   {rows, seq}};
                int64_t osh[2][SWARM_MAX_DIMS];
                float *x = malloc((size_t)(rows * seq * 4) * 4);
                int64_t *mk = malloc((size_t)(rows * seq) * 8);
                float *wy = malloc((size_t)(rows * seq * 3) * 4);
                float wo[3 * 3];
                const void *in[2] = {x, mk}, *outp[2] = {0};
                for (int64_t i = 0; i < rows * seq * 4; i++)
                        x[i] = frand();
                for (int64_t i = 0; i < rows * seq; i++)
                        mk[i] = (i % 4) != 3;
                seq_ref(x, mk, rows, seq, wy, wo);
                swarm_err_clear(&err);
                CHECK(swarm_model_run_shaped(m, rows, shp, in, osh, outp,
                                             &err) == SWARM_OK, "seq %lld: %s",
                      (long long)seq, err.msg);
                CHECK(osh[0][0] == rows && osh[0][1] == 3 &&
                      osh[1][0] == rows && osh[1][1] == seq &&
                      osh[1][2] == 3, "seq %lld: output shapes",
                      (long long)seq);
                for (int64_t i = 0; outp[0] && i < rows * 3; i++)
                        CHECK(fabsf(((const float *)outp[0])[i] - wo[i]) <
                              1e-5f, "seq %lld out[%lld]", (long long)seq,
                              (long long)i);
                for (int64_t i = 0; outp[1] && i < rows * seq * 3; i++)
                        CHECK(fabsf(((const float *)outp[1])[i] - wy[i]) <
                              1e-5f, "seq %lld y2[%lld]", (long long)seq,
                              (long long)i);
                free(x);
                free(mk);
                free(wy);
        }
        {
                /* a fixed dim contradicted, inputs disagreeing on seq,
                 * and the plain run entry */
                int64_t bad1[2][SWARM_MAX_DIMS] = {{2, 5, 5}, {2, 5}};
                int64_t bad2[2][SWARM_MAX_DIMS] = {{2, 5, 4}, {2, 6}};
                float x[2 * 5 * 5] = {0};
                int64_t mk[2 * 6] = {0};
                const void *in[2] = {x, mk}, *outp[2];
                swarm_err_clear(&err);
                CHECK(swarm_model_check_shapes(m, bad1, &err) ==
                      SWARM_ERR_INVALID && strstr(err.msg, "fixed") &&
                      strstr(err.msg, "x:FLOAT32[N,seq,4]"), "%s", err.msg);
                swarm_err_clear(&err);
                CHECK(swarm_model_run_shaped(m, 2, bad2, in, NULL, outp,
                                             &err) == SWARM_ERR_INVALID &&
                      strstr(err.msg, "same name"), "%s", err.msg);
                swarm_err_clear(&err);
                CHECK(swarm_model_run(m, 2, in, outp, &err) ==
                      SWARM_ERR_INVALID && strstr(err.msg, "run_shaped"),
                      "%s", err.msg);
        }
out:
        swarm_model_destroy(m);
}

/* A GRU over a batch_first input as torch.onnx.export writes it: x[N,T,F]
 * -> Transpose -> GRU (layout 0, the batch in dim 1) -> Y_h -> Squeeze.
 * The batch cannot stay leading, so the model runs as plans with the batch
 * fixed per plan; it must agree with the same GRU in layout 1 (batch
 * leading, one plan), for several batch sizes. */
static void gru_model(bld_t *b, int layout, const float *w, const float *r,
                      const float *bias) {
        static const int64_t xd[] = {-1, 5, 3}, hd[] = {-1, 4};
        Onnx__NodeProto *n;
        bld_init(b, 14);
        vi(b, 0, "x", 1, 3, xd);
        vi(b, 1, "h", 1, 2, hd);
        init(b, "W", 3, (const int64_t[]){1, 12, 3}, w, 1);
        init(b, "R", 3, (const int64_t[]){1, 12, 4}, r, 1);
        init(b, "B", 2, (const int64_t[]){1, 24}, bias, 1);
        init_i64(b, "ax", 1, (const int64_t[]){1},
                 (const int64_t[]){layout ? 1 : 0});
        if (!layout) {
                n = node(b, "tr", "Transpose", "x", "xt");
                attr_is(b, n, "perm", 3, (const int64_t[]){1, 0, 2});
                n = node(b, "gru", "GRU", "xt,W,R,B", "y,yh");
        } else {
                n = node(b, "gru", "GRU", "x,W,R,B", "y,yh");
                attr_i(b, n, "layout", 1);
        }
        attr_i(b, n, "hidden_size", 4);
        attr_i(b, n, "linear_before_reset", 1);
        node(b, "sq", "Squeeze", "yh,ax", "h");
}

static void test_gru_batch(swarm_backend_t *be) {
        float w[12 * 3], r[12 * 4], bias[24];
        bld_t b0, b1;
        size_t l0, l1;
        uint8_t *buf0, *buf1;
        swarm_model_t *m0 = NULL, *m1 = NULL;
        swarm_err_t err;
        char sig[256];

        for (int i = 0; i < 36; i++)
                w[i] = frand();
        for (int i = 0; i < 48; i++)
                r[i] = frand();
        for (int i = 0; i < 24; i++)
                bias[i] = frand();
        gru_model(&b0, 0, w, r, bias);
        gru_model(&b1, 1, w, r, bias);
        buf0 = pack(&b0, &l0);
        buf1 = pack(&b1, &l1);
        CHECK(load(buf0, l0, be, &m0, &err) == SWARM_OK, "%s", err.msg);
        CHECK(load(buf1, l1, be, &m1, &err) == SWARM_OK, "%s", err.msg);
        if (m0 && m1) {
                swarm_model_signature(m0, sig, sizeof(sig));
                CHECK(strcmp(sig, "x:FLOAT32[N,5,3] -> h:FLOAT32[N,4]") == 0,
                      "%s", sig);
                CHECK(swarm_model_is_shaped(m0) && !swarm_model_is_shaped(m1),
                      "plans per batch size for layout 0 only");
                for (int64_t rows = 1; rows <= 4; rows++) {
                        float x[4 * 15];
                        int64_t shp[1][SWARM_MAX_DIMS] = {{rows, 5, 3}};
                        const void *in[1] = {x}, *o0[1] = {0}, *o1[1] = {0};
                        for (int i = 0; i < rows * 15; i++)
                                x[i] = frand();
                        swarm_err_clear(&err);
                        CHECK(swarm_model_run_shaped(m0, rows, shp, in, NULL,
                                                     o0, &err) == SWARM_OK,
                              "%s", err.msg);
                        CHECK(swarm_model_run(m1, rows, in, o1, &err) ==
                              SWARM_OK, "%s", err.msg);
                        for (int i = 0; o0[0] && o1[0] && i < rows * 4; i++)
                                CHECK(fabsf(((const float *)o0[0])[i] -
                                            ((const float *)o1[0])[i]) < 1e-6f
                                      && ((const float *)o0[0])[i] != 0.0f,
                                      "rows %lld [%d]: %g vs %g",
                                      (long long)rows, i,
                                      ((const float *)o0[0])[i],
                                      ((const float *)o1[0])[i]);
                }
        }
        swarm_model_destroy(m0);
        swarm_model_destroy(m1);
        free(buf0);
        free(buf1);
        bld_free(&b0);
        bld_free(&b1);
}

/* A shape chain that needs the batch's value (ConstantOfShape(Shape(x)))
 * loads as a family with the batch fixed per plan, on power-of-two batch
 * buckets: batches of 1..9 rows (padded to 1, 2, 4, 8, 16) give exactly
 * their own rows; a contradicted fixed dim and an empty batch are INVALID.
 * The same chain followed by a softmax across the batch, or the row index
 * (Range(0, N)) added as a value, stays refused: rows would change each
 * other's answers. */
static void batch_chain_model(bld_t *b, int mixing) {
        static const int64_t xd[] = {-1, 4};
        bld_init(b, 14);
        vi(b, 0, "x", 1, 2, xd);
        vi(b, 1, "y", 1, 2, xd);
        node(b, "s", "Shape", "x", "s");
        if (mixing == 2) {
                /* y = x + row index: Range(0, N) used as a value */
                Onnx__NodeProto *n;
                init_i64(b, "i0", 0, NULL, (const int64_t[]){0});
                init_i64(b, "i1", 0, NULL, (const int64_t[]){1});
                init_i64(b, "ax", 1, (const int64_t[]){1},
                         (const int64_t[]){1});
                node(b, "n", "Gather", "s,i0", "n");
                node(b, "r", "Range", "i0,n,i1", "r");
                n = node(b, "rf", "Cast", "r", "rf");
                attr_i(b, n, "to", 1);
                node(b, "u", "Unsqueeze", "rf,ax", "u");
                node(b, "y", "Add", "x,u", "y");
                return;
        }
        if (mixing == 3) {
                /* y = x * Expand(1, Shape(x)): constants in, a batched
                 * tensor out (folding it would drop the batch) */
                init(b, "one", 1, (const int64_t[]){1}, (const float[]){1},
                     1);
                node(b, "e", "Expand", "one,s", "e");
                node(b, "y", "Mul", "x,e", "y");
                return;
        }
        node(b, "z", "ConstantOfShape", "s", "z");
        node(b, "y", "Add", "x,z", mixing ? "y0" : "y");
        if (mixing) {
                Onnx__NodeProto *n = node(b, "sm", "Softmax", "y0", "y");
                attr_i(b, n, "axis", 0);
        }
}

/* A row-independent chain (kind 0 ConstantOfShape, 3 Expand) through
 * batches of 1..9 rows. */
static void batch_chain_run(swarm_backend_t *be, int kind) {
        bld_t b;
        swarm_model_t *m = NULL;
        swarm_err_t err;
        char sig[256];

        batch_chain_model(&b, kind);
        m = build_load(&b, be);
        if (m) {
                swarm_model_signature(m, sig, sizeof(sig));
                CHECK(strcmp(sig, "x:FLOAT32[N,4] -> y:FLOAT32[N,4]") == 0,
                      "%s", sig);
                CHECK(swarm_model_is_shaped(m), "planned per batch");
                CHECK(swarm_model_run_rows(m, 5) == 8 &&
                      swarm_model_run_rows(m, 8) == 8 &&
                      swarm_model_run_rows(m, 1) == 1,
                      "batch buckets: 5 rows run as %lld",
                      (long long)swarm_model_run_rows(m, 5));
                for (int64_t rows = 1; rows <= 9; rows++) {
                        float x[9 * 4];
                        int64_t shp[1][SWARM_MAX_DIMS] = {{rows, 4}};
                        int64_t osh[1][SWARM_MAX_DIMS] = {{0}};
                        const void *in[1] = {x}, *o[1] = {0};
                        for (int i = 0; i < rows * 4; i++)
                                x[i] = frand();
                        swarm_err_clear(&err);
                        CHECK(swarm_model_run_shaped(m, rows, shp, in, osh, o,
                                                     &err) == SWARM_OK,
                              "rows %lld: %s", (long long)rows, err.msg);
                        CHECK(osh[0][0] == rows && osh[0][1] == 4,
                              "rows %lld: out [%lld,%lld]", (long long)rows,
                              (long long)osh[0][0], (long long)osh[0][1]);
                        for (int i = 0; o[0] && i < rows * 4; i++)
                                CHECK(((const float *)o[0])[i] == x[i],
                                      "rows %lld [%d]: %g vs %g",
                                      (long long)rows, i,
                                      ((const float *)o[0])[i], x[i]);
                }
                {
                        float x[8] = {0};
                        int64_t bad[1][SWARM_MAX_DIMS] = {{1, 5}};
                        int64_t none[1][SWARM_MAX_DIMS] = {{0, 4}};
                        const void *in[1] = {x}, *o[1] = {0};
                        swarm_err_clear(&err);
                        CHECK(swarm_model_run_shaped(m, 1, bad, in, NULL, o,
                                                     &err) ==
                              SWARM_ERR_INVALID &&
                              strstr(err.msg, "fixed"), "%s", err.msg);
                        swarm_err_clear(&err);
                        CHECK(swarm_model_run_shaped(m, 0, none, in, NULL, o,
                                                     &err) ==
                              SWARM_ERR_INVALID, "%s", err.msg);
                }
        }
        swarm_model_destroy(m);
}

static void test_batch_chain(swarm_backend_t *be) {
        bld_t b;

        batch_chain_run(be, 0);
        batch_chain_run(be, 3);
        for (int mixing = 1; mixing <= 2; mixing++) {
                batch_chain_model(&b, mixing);
                expect(&b, be, SWARM_ERR_UNSUPPORTED,
                       "with the batch fixed per plan",
                       "changes with the rows beside it", NULL);
        }
}

/* A graph input that is also an initializer is a constant. */
static void test_input_initializer(swarm_backend_t *be) {
        static const int64_t xd[] = {2, 4}, yd[] = {2, 3}, wd[] = {4, 3};
        bld_t b;
        swarm_model_t *m = NULL;
        swarm_err_t err;

        bld_init(&b, 11);
        vi(&b, 0, "x", 1, 2, xd);
        vi(&b, 0, "W", 1, 2, wd);
        vi(&b, 1, "y", 1, 2, yd);
        init(&b, "W", 2, wd, W2, 0);
        node(&b, "fc1", "MatMul", "x,W", "y");
        m = build_load(&b, be);
        if (m) {
                float x[8] = {1, 0, 0, 0, 0, 1, 0, 0};
                const void *in[1] = {x}, *outp[1];
                CHECK(swarm_model_n_inputs(m) == 1, "inputs");
                CHECK(swarm_model_fixed_rows(m) == 2, "fixed rows");
                swarm_err_clear(&err);
                CHECK(swarm_model_run(m, 3, in, outp, &err) ==
                      SWARM_ERR_INVALID, "rows != fixed rows");
                CHECK(swarm_model_run(m, 2, in, outp, &err) == SWARM_OK,
                      "%s", err.msg);
                CHECK(((const float *)outp[0])[4] == W2[4], "value");
        }
        swarm_model_destroy(m);
}

/* ---- convolution over many images: x[N,4,6,6] -Conv(6 filters, group 2,
 * pad 1)-> Relu -> MaxPool 2x2/2 -> Conv(3 filters, stride 2, pad 1) ->
 * y[N,3,2,2].  The 6x6 planes are small enough that the executor unfolds
 * several images into one columns matrix (and, with rows in the hundreds and
 * two threads, splits the kernels across the backend's pool); the reference
 * is a plain loop. ---- */
static float CW1[6 * 2 * 9], CB1[6], CW2[3 * 6 * 9], CB2[3];

static void conv_ref(const float *x, int64_t imgs, int64_t c, int64_t h,
                     int64_t w, const float *wt, const float *bias,
                     int64_t mout, int64_t group, int64_t stride, int relu,
                     float *y, int64_t *oh_out) {
        int64_t oh = (h + 2 - 3) / stride + 1, ow = (w + 2 - 3) / stride + 1;
        int64_t cg = c / group, mg = mout / group;

        for (int64_t i = 0; i < imgs; i++)
                for (int64_t o = 0; o < mout; o++)
                        for (int64_t oy = 0; oy < oh; oy++)
                                for (int64_t ox = 0; ox < ow; ox++) {
                                        double acc = bias[o];
                                        int64_t g = o / mg;
                                        for (int64_t ci = 0; ci < cg; ci++)
                                                for (int ky = 0; ky < 3; ky++)
                                                        for (int kx = 0; kx < 3;
                                                             kx++) {
                                                                int64_t iy = oy * stride - 1 + ky;
                                                                int64_t ix = ox * stride - 1 + kx;
                                                                if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                                                                        continue;
                                                                acc += (double)wt[((o * cg + ci) * 3 + ky) * 3 + kx] *
                                                                       x[((i * c + g * cg + ci) * h + iy) * w + ix];
                                                        }
                                        if (relu && acc < 0)
                                                acc = 0;
                                        y[((i * mout + o) * oh + oy) * ow + ox] = (float)acc;
                                }
        *oh_out = oh;
}

static void conv_model_ref(const float *x, int64_t rows, float *y) {
        float *a = malloc((size_t)rows * 6 * 36 * 4);
        float *p = malloc((size_t)rows * 6 * 9 * 4);
        int64_t oh;

        conv_ref(x, rows, 4, 6, 6, CW1, CB1, 6, 2, 1, 1, a, &oh);
        for (int64_t q = 0; q < rows * 6; q++)
                for (int oy = 0; oy < 3; oy++)
                        for (int ox = 0; ox < 3; ox++) {
                                const float *r = a + q * 36 + oy * 12 + ox * 2;
                                float v = r[0];
                                v = r[1] > v ? r[1] : v;
                                v = r[6] > v ? r[6] : v;
                                v = r[7] > v ? r[7] : v;
                                p[q * 9 + oy * 3 + ox] = v;
                        }
        conv_ref(p, rows, 6, 3, 3, CW2, CB2, 3, 1, 2, 0, y, &oh);
        free(a);
        free(p);
}

static void test_conv_batch(int threads) {
        static const int64_t xd[] = {-1, 4, 6, 6}, yd[] = {-1, 3, 2, 2};
        static const int64_t w1d[] = {6, 2, 3, 3}, b1d[] = {6};
        static const int64_t w2d[] = {3, 6, 3, 3}, b2d[] = {3};
        static const int64_t pads[] = {1, 1, 1, 1}, k2[] = {2, 2};
        static const int64_t s2[] = {2, 2};
        static const int64_t rows_seq[] = {20, 1, 7, 3000};
        swarm_backend_t *be;
        swarm_model_t *m = NULL;
        swarm_err_t err;
        Onnx__NodeProto *n;
        uint8_t *buf;
        size_t len;
        bld_t b;

        swarm_err_clear(&err);
        (void)swarm_backend_cpu_new(threads, &be, &err);
        CHECK(be != NULL, "%s", err.msg);
        if (!be)
                return;
        bld_xy(&b, 4, xd, 4, yd);
        init(&b, "w1", 4, w1d, CW1, 1);
        init(&b, "b1", 1, b1d, CB1, 1);
        init(&b, "w2", 4, w2d, CW2, 0);
        init(&b, "b2", 1, b2d, CB2, 0);
        n = node(&b, "conv1", "Conv", "x,w1,b1", "c1");
        attr_i(&b, n, "group", 2);
        attr_is(&b, n, "pads", 4, pads);
        node(&b, "relu", "Relu", "c1", "r1");
        n = node(&b, "pool", "MaxPool", "r1", "p1");
        attr_is(&b, n, "kernel_shape", 2, k2);
        attr_is(&b, n, "strides", 2, s2);
        n = node(&b, "conv2", "Conv", "p1,w2,b2", "y");
        attr_is(&b, n, "pads", 4, pads);
        attr_is(&b, n, "strides", 2, s2);
        buf = pack(&b, &len);
        CHECK(load(buf, len, be, &m, &err) == SWARM_OK, "%s", err.msg);
        for (size_t t = 0; m && t < sizeof(rows_seq) / sizeof(rows_seq[0]);
             t++) {
                int64_t rows = rows_seq[t], bad = 0;
                float *x = malloc((size_t)rows * 144 * 4);
                float *want = malloc((size_t)rows * 12 * 4);
                const void *in[1] = {x}, *outp[1] = {NULL};
                for (int64_t i = 0; i < rows * 144; i++)
                        x[i] = frand() * 2 - 1;
                conv_model_ref(x, rows, want);
                swarm_err_clear(&err);
                CHECK(swarm_model_run(m, rows, in, outp, &err) == SWARM_OK,
                      "%s", err.msg);
                for (int64_t i = 0; outp[0] && i < rows * 12; i++)
                        if (fabsf(((const float *)outp[0])[i] - want[i]) >
                            1e-4f && bad++ < 3)
                                CHECK(0, "threads %d rows %lld [%lld]: %g "
                                      "vs %g", threads, (long long)rows,
                                      (long long)i,
                                      ((const float *)outp[0])[i], want[i]);
                free(x);
                free(want);
        }
        swarm_model_destroy(m);
        swarm_backend_destroy(be);
        free(buf);
        bld_free(&b);
}

/* ---- external tensor data: y[N,3] = x[N,4] * W[4,3], W in a file next to
 * the model ---- */
static void ext_model(bld_t *b, const char *loc, const char *off,
                      const char *len) {
        static const int64_t xd[] = {-1, 4}, yd[] = {-1, 3}, wd[] = {4, 3};
        Onnx__TensorProto *t;
        const char *kv[3][2] = {{"location", loc}, {"offset", off},
                                {"length", len}};

        bld_init(b, 13);
        vi(b, 0, "x", 1, 2, xd);
        vi(b, 1, "y", 1, 2, yd);
        t = init(b, "W", 2, wd, W2, 1);
        t->has_raw_data = 0;
        t->raw_data.len = 0;
        t->has_data_location = 1;
        t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
        t->external_data = ba(b, 3 * sizeof(*t->external_data));
        for (int i = 0; i < 3; i++) {
                Onnx__StringStringEntryProto *e;
                if (!kv[i][1])
                        continue;
                e = ba(b, sizeof(*e));
                onnx__string_string_entry_proto__init(e);
                e->key = bs(b, kv[i][0]);
                e->value = bs(b, kv[i][1]);
                t->external_data[t->n_external_data++] = e;
        }
        node(b, "mm", "MatMul", "x,W", "y");
}

/* Write the model to dir/model.onnx and load it from there. */
static int ext_load(const char *dir, const char *loc, const char *off,
                    const char *len, swarm_backend_t *be, swarm_model_t **m,
                    swarm_err_t *err) {
        char path[512];
        size_t n;
        uint8_t *buf;
        FILE *f;
        bld_t b;
        int rc;

        ext_model(&b, loc, off, len);
        buf = pack(&b, &n);
        snprintf(path, sizeof(path), "%s/model.onnx", dir);
        f = fopen(path, "wb");
        CHECK(f && fwrite(buf, 1, n, f) == n, "writing %s", path);
        if (f)
                fclose(f);
        swarm_err_clear(err);
        rc = swarm_model_load_file(path, be, m, err);
        if (!rc) {
                /* The same bytes from memory have no directory. */
                swarm_model_t *mm = NULL;
                swarm_err_t e2;
                swarm_err_clear(&e2);
                CHECK(swarm_model_load_mem(buf, n, be, &mm, &e2) ==
                      SWARM_ERR_UNSUPPORTED &&
                      strstr(e2.msg, "'W'") &&
                      strstr(e2.msg, "swarm_model_load_file"), "%s",
                      e2.msg);
                swarm_model_destroy(mm);
        }
        free(buf);
        bld_free(&b);
        return rc;
}

static void test_external_data(swarm_backend_t *be) {
        char dir[] = "/tmp/swarm-ext-XXXXXX", path[512];
        float x[2 * 4], want[2 * 3];
        const void *in[1] = {x}, *outp[1] = {NULL};
        swarm_model_t *m = NULL;
        swarm_err_t err;
        FILE *f;

        if (!mkdtemp(dir)) {
                CHECK(0, "mkdtemp");
                return;
        }
        /* 16 bytes of something else, then W. */
        snprintf(path, sizeof(path), "%s/w.bin", dir);
        f = fopen(path, "wb");
        CHECK(f && fwrite("0123456789abcdef", 1, 16, f) == 16 &&
              fwrite(W2, 4, 12, f) == 12, "writing %s", path);
        if (f)
                fclose(f);
        for (int i = 0; i < 8; i++)
                x[i] = frand();
        for (int r = 0; r < 2; r++)
                for (int j = 0; j < 3; j++) {
                        double acc = 0;
                        for (int k = 0; k < 4; k++)
                                acc += (double)x[r * 4 + k] * W2[k * 3 + j];
                        want[r * 3 + j] = (float)acc;
                }
        CHECK(ext_load(dir, "w.bin", "16", "48", be, &m, &err) == SWARM_OK,
              "%s", err.msg);
        swarm_err_clear(&err);
        CHECK(!m || swarm_model_run(m, 2, in, outp, &err) == SWARM_OK, "%s",
              err.msg);
        for (int i = 0; m && outp[0] && i < 6; i++)
                CHECK(fabsf(((const float *)outp[0])[i] - want[i]) < 1e-5f,
                      "[%d]: %g vs %g", i, ((const float *)outp[0])[i],
                      want[i]);
        swarm_model_destroy(m);
        m = NULL;
        /* No length: the rest of the file, which is exactly W. */
        CHECK(ext_load(dir, "w.bin", "16", NULL, be, &m, &err) == SWARM_OK,
              "%s", err.msg);
        swarm_model_destroy(m);
        m = NULL;
        CHECK(ext_load(dir, "missing.bin", NULL, NULL, be, &m, &err) ==
              SWARM_ERR_IO && strstr(err.msg, "'W'") &&
              strstr(err.msg, "missing.bin"), "%s", err.msg);
        CHECK(ext_load(dir, "w.bin", "40", "48", be, &m, &err) ==
              SWARM_ERR_TRUNCATED && strstr(err.msg, "past its end"), "%s",
              err.msg);
        CHECK(ext_load(dir, "w.bin", "0", NULL, be, &m, &err) ==
              SWARM_ERR_INVALID && strstr(err.msg, "raw_data"), "%s",
              err.msg);
        CHECK(ext_load(dir, "../w.bin", NULL, NULL, be, &m, &err) ==
              SWARM_ERR_INVALID && strstr(err.msg, "leaves"), "%s",
              err.msg);
        CHECK(ext_load(dir, "w.bin", "-4", NULL, be, &m, &err) ==
              SWARM_ERR_INVALID, "%s", err.msg);
        CHECK(m == NULL, "no model on errors");
        remove(path);
        snprintf(path, sizeof(path), "%s/model.onnx", dir);
        remove(path);
        rmdir(dir);
}

/* Copies that alias (onnx_load.c plan_slots): Flatten and Identity of a
 * computed value share its buffer, and that buffer stays theirs while any
 * of them is live.  y1 = Flatten(a) is a graph output made from a = Relu(x)
 * early on; a and b = Identity(a) die at the Add, after which two more
 * values are computed: were the shared slot released with a, Sigmoid's
 * output would land on y1.  Three slots of 12 floats a row (a with its
 * two aliases, s, c; y2 reuses s's), where copying takes four. */
static void test_copy_alias(swarm_backend_t *be) {
        static const int64_t xd[] = {-1, 12};
        static const int64_t rows_seq[] = {1, 5, 64};
        bld_t b;
        swarm_model_t *m;
        swarm_err_t err;

        bld_init(&b, 13);
        vi(&b, 0, "x", 1, 2, xd);
        vi(&b, 1, "y1", 1, 2, xd);
        vi(&b, 1, "y2", 1, 2, xd);
        node(&b, "r", "Relu", "x", "a");
        attr_i(&b, node(&b, "f", "Flatten", "a", "y1"), "axis", 1);
        node(&b, "i", "Identity", "a", "b");
        node(&b, "s", "Add", "a,b", "s");
        node(&b, "g", "Sigmoid", "s", "c");
        node(&b, "n", "Neg", "c", "y2");
        m = build_load(&b, be);
        if (!m)
                return;
        CHECK(swarm_model_work_row_bytes(m) == 3 * 12 * sizeof(float),
              "%zu work bytes a row", swarm_model_work_row_bytes(m));
        for (size_t t = 0; t < sizeof(rows_seq) / sizeof(rows_seq[0]); t++) {
                int64_t rows = rows_seq[t], bad = 0;
                float *x = malloc((size_t)rows * 12 * sizeof(float));
                const void *in[1] = {x};
                const void *outp[2] = {NULL, NULL};

                REQUIRE(x);
                for (int64_t i = 0; i < rows * 12; i++)
                        x[i] = frand() * 4 - 2;
                swarm_err_clear(&err);
                CHECK(swarm_model_run(m, rows, in, outp, &err) == SWARM_OK,
                      "%s", err.msg);
                for (int64_t i = 0; outp[0] && outp[1] && i < rows * 12;
                     i++) {
                        double a = x[i] > 0 ? x[i] : 0;
                        double y2 = -1.0 / (1.0 + exp(-2.0 * a));
                        if (((const float *)outp[0])[i] != (float)a ||
                            fabs(((const float *)outp[1])[i] - y2) > 1e-6)
                                bad++;
                }
                CHECK(outp[0] && outp[1] && bad == 0,
                      "rows %lld: %lld values off", (long long)rows,
                      (long long)bad);
                free(x);
        }
        printf("ok copies alias: %zu work bytes a row\n",
               swarm_model_work_row_bytes(m));
        swarm_model_destroy(m);
}

/* swarm_backend_no_winograd: a 32 -> 32 3x3 convolution loads with
 * Winograd's transformed filters (36 floats a filter pair, against 9) on a
 * default AVX-512 or AVX2 backend and without them after the call, and
 * both plans give the same answers. */
static void test_no_winograd(void) {
        static const int64_t xd[] = {-1, 32, 24, 24}, wd[] = {32, 32, 3, 3};
        static const int64_t bd[] = {32}, pads[] = {1, 1, 1, 1};
        enum { ROWS = 3, IN = 32 * 24 * 24, W = 32 * 32 * 9 };
        swarm_backend_t *be[2] = {NULL, NULL};
        swarm_model_t *m[2] = {NULL, NULL};
        const void *outp[2] = {NULL, NULL};
        float *w = malloc(W * sizeof(float)), bias[32];
        float *x = malloc(ROWS * IN * sizeof(float));
        size_t fixed[2] = {0, 0};
        swarm_err_t err;
        double worst = 0.0, big = 0.0;

        REQUIRE(w && x);
        for (int i = 0; i < W; i++)
                w[i] = frand() - 0.5f;
        for (int i = 0; i < 32; i++)
                bias[i] = frand() - 0.5f;
        for (int i = 0; i < ROWS * IN; i++)
                x[i] = frand() * 2 - 1;
        for (int k = 0; k < 2; k++) {
                const void *in[1] = {x};
                bld_t b;
                swarm_err_clear(&err);
                REQUIRE_OK(swarm_backend_cpu_new(1, &be[k], &err), err);
                if (k)
                        swarm_backend_no_winograd(be[k]);
                bld_xy(&b, 4, xd, 4, xd);
                init(&b, "w", 4, wd, w, 1);
                init(&b, "b", 1, bd, bias, 1);
                attr_is(&b, node(&b, "conv", "Conv", "x,w,b", "y"), "pads",
                        4, pads);
                m[k] = build_load(&b, be[k]);
                if (!m[k])
                        goto out;
                fixed[k] = swarm_model_work_fixed_bytes(m[k]);
                CHECK(swarm_model_run(m[k], ROWS, in, &outp[k], &err) ==
                      SWARM_OK, "%s", err.msg);
        }
        for (int i = 0; outp[0] && outp[1] && i < ROWS * IN; i++) {
                double e = fabs((double)((const float *)outp[0])[i] -
                                ((const float *)outp[1])[i]);
                if (!(e <= worst))
                        worst = e;
                if (fabs(((const float *)outp[1])[i]) > big)
                        big = fabs(((const float *)outp[1])[i]);
        }
        /* Winograd's error is ~1e-5 of the largest output (test_wino.c) */
        CHECK(outp[0] && outp[1] && worst <= 1e-4 * big, "off by %g of %g",
              worst, big);
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
        /* Winograd's transformed filters: with AVX-512 or AVX2 + FMA */
        if (__builtin_cpu_supports("avx512f") ||
            (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")))
                /* 36 floats a filter pair, against the packed GEMM's
                 * 9 (padded to the kernel set's sliver: 8 or 6 rows) */
                CHECK(fixed[0] >= (size_t)W / 9 * 36 * sizeof(float) &&
                      fixed[0] >= fixed[1] + (size_t)W * 2 * sizeof(float),
                      "fixed bytes %zu with Winograd, %zu without", fixed[0],
                      fixed[1]);
        else
#endif
                CHECK(fixed[0] == fixed[1], "fixed bytes %zu / %zu",
                      fixed[0], fixed[1]);
        printf("ok no_winograd: %zu fixed bytes with Winograd, %zu without, "
               "off by %g\n", fixed[0], fixed[1], worst);
out:
        for (int k = 0; k < 2; k++) {
                swarm_model_destroy(m[k]);
                swarm_backend_destroy(be[k]);
        }
        free(w);
        free(x);
}

int main(void) {
        swarm_err_t err;
        swarm_backend_t *be;

        for (size_t i = 0; i < sizeof(W1) / 4; i++)
                W1[i] = frand();
        for (size_t i = 0; i < 8; i++)
                B1[i] = frand();
        for (size_t i = 0; i < sizeof(W2) / 4; i++)
                W2[i] = frand();
        for (size_t i = 0; i < 3; i++)
                B2[i] = frand();
        for (size_t i = 0; i < sizeof(CW1) / 4; i++)
                CW1[i] = frand() - 0.5f;
        for (size_t i = 0; i < sizeof(CW2) / 4; i++)
                CW2[i] = frand() - 0.5f;
        for (size_t i = 0; i < 6; i++)
                CB1[i] = frand() - 0.5f;
        for (size_t i = 0; i < 3; i++)
                CB2[i] = frand() - 0.5f;
        test_conv_batch(1);
        test_conv_batch(2);
        test_no_winograd();
        swarm_err_clear(&err);
        if (swarm_backend_cpu_new(1, &be, &err)) {
                printf("backend: %s\n", err.msg);
                return 1;
        }
        test_mlp(be, 0);
        test_mlp(be, 1);
        test_input_initializer(be);
        test_refusals(be);
        test_hostile_shapes(be);
        test_typed_runtime(be);
        test_symbolic_seq(be);
        test_gru_batch(be);
        test_batch_chain(be);
        test_copy_alias(be);
        {
                /* the same runs through the staging (device) path */
                swarm_backend_t st = mb_staged_backend(be);
                test_typed_runtime(&st);
                test_symbolic_seq(&st);
                test_gru_batch(&st);
                test_batch_chain(&st);
                test_mlp(&st, 0);
                test_copy_alias(&st);
        }
        test_empty_nodes(be);
        test_garbage(be);
        test_external_data(be);
        swarm_backend_destroy(be);
        printf("%s (%d failures)\n", test_failures ? "FAILED" : "ok", test_failures);
        return test_failures ? 1 : 0;
}
