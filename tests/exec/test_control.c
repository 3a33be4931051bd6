/*
 * test_control.c - Loop, If and the sequence operators (lib/exec/control.c)
 * on models built here with protobuf-c, run on the CPU backend and through
 * the host-staging path a device backend takes (host_mem = 0).
 *
 * Asserts values for:
 *  - a Loop with a constant trip count in a batched plan: a loop-carried
 *    value read from an outer-scope run-time tensor (y = x + 3 * 2x), and a
 *    scan output of the iteration number ([0, 1, 2]);
 *  - an If on a constant condition whose branch reads the graph's input
 *    (x * x) and one whose branch has its own initializer;
 *  - the dynamo EmbeddingBag form: SequenceEmpty, a Loop with no trip count
 *    that stops on a condition the body computes, SequenceInsert of
 *    run-time tensors, ConcatFromSequence (y = [x * 1, x * 2]);
 *  - SplitToSequence + SequenceAt + SequenceLength;
 * and, for hostile or unsupported models, the code and message:
 *  - a negative trip count (no iteration);
 *  - a trip count above EXEC_LOOP_MAX_TRIPS, a loop whose condition never
 *    turns false, a condition computed at run time, a body reading an
 *    undefined name, a sequence graph output;
 *  - 2000 byte-flipped control-flow models load or are refused with a code,
 *    and run or fail with one (under the sanitizers in CI).
 * Usage: test_control (exit 0 pass, 1 fail).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarm/backend.h"
#include "swarm/model.h"

#include "check.h"
#include "model_build.h"

/* ---- the model builder (model_build.h) over one arena per test case ---- */

static mb_t arena;

static void arena_free(void) {
        mb_free(&arena);
}

static Onnx__GraphProto *graph(void) {
        return mb_graph(&arena);
}

static Onnx__NodeProto *node(Onnx__GraphProto *g, const char *op,
                             const char *in, const char *out) {
        return mb_node(&arena, g, NULL, op, in, out);
}

static void attr_i(Onnx__NodeProto *n, const char *name, int64_t v) {
        mb_attr_i(&arena, n, name, v);
}

static void attr_g(Onnx__NodeProto *n, const char *name,
                   Onnx__GraphProto *g) {
        mb_attr_g(&arena, n, name, g);
}

/* out = If(cond) with those branches. */
static void if_node(Onnx__GraphProto *g, const char *cond, const char *out,
                    Onnx__GraphProto *then_g, Onnx__GraphProto *else_g) {
        Onnx__NodeProto *n = node(g, "If", cond, out);
        attr_g(n, "then_branch", then_g);
        attr_g(n, "else_branch", else_g);
}

/* An initializer: dtype 1 (float) or 7 (int64) or 9 (bool), raw data. */
static void init(Onnx__GraphProto *g, const char *name, int dt, int ndim,
                 const int64_t *dims, const void *data) {
        mb_init(&arena, g, name, dt, ndim, dims, data, 1);
}

static void scalar_i64(Onnx__GraphProto *g, const char *name, int64_t v) {
        init(g, name, 7, 0, NULL, &v);
}

static void vi(Onnx__GraphProto *g, int is_out, const char *name, int elem,
               int ndim, const int64_t *dims) {
        mb_vi(&arena, g, is_out, name, elem, ndim, dims);
}

/* The packed model, owned by the arena. */
static uint8_t *pack(Onnx__GraphProto *g, int64_t opset, size_t *len) {
        return mb_keep(&arena, mb_pack(&arena, g, opset, len));
}

static int load(Onnx__GraphProto *g, swarm_backend_t *be, swarm_model_t **m,
                swarm_err_t *err) {
        size_t len;
        uint8_t *buf = pack(g, 13, &len);
        swarm_err_clear(err);
        *m = NULL;
        return swarm_model_load_mem(buf, len, be, m, err);
}

static const int64_t XD[] = {-1, 4};

/* Run x[rows,4] = i * 0.5 - 1 (i the flat index) through m; outputs. */
static int run_x(swarm_model_t *m, int64_t rows, float *x,
                 int64_t (*osh)[SWARM_MAX_DIMS], const void **out,
                 swarm_err_t *err) {
        int64_t ish[1][SWARM_MAX_DIMS] = {{rows, 4}};
        const void *in[1] = {x};
        for (int i = 0; i < rows * 4; i++)
                x[i] = (float)i * 0.5f - 1.0f;
        swarm_err_clear(err);
        return swarm_model_run_shaped(m, rows, ish, in, osh, out, err);
}

/* Load g (CHECK: it loads) and run x[rows,4] through it (CHECK: it runs);
 * returns the model (NULL when it did not load) for done(), with out[] and
 * osh (may be NULL) filled for the caller's checks of the values. */
static swarm_model_t *load_run(Onnx__GraphProto *g, swarm_backend_t *be,
                               int64_t rows, float *x,
                               int64_t (*osh)[SWARM_MAX_DIMS], const void **out) {
        swarm_model_t *m = NULL;
        swarm_err_t err;
        CHECK(load(g, be, &m, &err) == SWARM_OK, "%s", err.msg);
        if (m)
                CHECK(run_x(m, rows, x, osh, out, &err) == SWARM_OK, "%s",
                      err.msg);
        return m;
}

/* Drop a test case's model and everything its graphs were built from. */
static void done(swarm_model_t *m) {
        swarm_model_destroy(m);
        arena_free();
}

/* ---- Loop with a constant trip count, carried value, scan output ---- */

static void test_loop_const(swarm_backend_t *be) {
        Onnx__GraphProto *g = graph(), *body = graph();
        Onnx__NodeProto *lp;
        swarm_model_t *m = NULL;
        swarm_err_t err;
        static const int64_t two_d[] = {1};
        static const float two[] = {2.0f};

        vi(g, 0, "x", 1, 2, XD);
        init(g, "two", 1, 1, two_d, two);
        scalar_i64(g, "M", 3);
        node(g, "Mul", "x,two", "s");
        vi(body, 0, "i", 7, -1, NULL);
        vi(body, 0, "c", 9, -1, NULL);
        vi(body, 0, "y_in", 1, -1, NULL);
        node(body, "Identity", "c", "c_out");
        node(body, "Add", "y_in,s", "y_out");   /* s: outer scope */
        attr_i(node(body, "Cast", "i", "i_f"), "to", 1);
        vi(body, 1, "c_out", 9, -1, NULL);
        vi(body, 1, "y_out", 1, -1, NULL);
        vi(body, 1, "i_f", 1, -1, NULL);
        lp = node(g, "Loop", "M,-,x", "y,iters");
        attr_g(lp, "body", body);
        vi(g, 1, "y", 1, 2, XD);
        vi(g, 1, "iters", 1, 1, (const int64_t[]){3});
        CHECK(load(g, be, &m, &err) == SWARM_OK, "%s", err.msg);
        for (int64_t rows = 1; m && rows <= 3; rows++) {
                float x[12];
                const void *out[2] = {0};
                int64_t osh[2][SWARM_MAX_DIMS];
                CHECK(run_x(m, rows, x, osh, out, &err) == SWARM_OK, "%s",
                      err.msg);
                if (!out[0] || !out[1])
                        continue;
                CHECK(osh[0][0] == rows && osh[0][1] == 4 && osh[1][0] == 3,
                      "shapes %lld,%lld %lld", (long long)osh[0][0],
                      (long long)osh[0][1], (long long)osh[1][0]);
                for (int i = 0; i < rows * 4; i++)
                        CHECK(fabsf(((const float *)out[0])[i] - 7 * x[i]) <
                              1e-5f, "rows %lld y[%d] %g want %g",
                              (long long)rows, i,
                              ((const float *)out[0])[i], 7 * x[i]);
                for (int i = 0; i < 3; i++)
                        CHECK(((const float *)out[1])[i] == (float)i,
                              "iters[%d] %g", i, ((const float *)out[1])[i]);
        }
        done(m);
}

/* ---- If on constant conditions ---- */

static void test_if_const(swarm_backend_t *be, int cond) {
        Onnx__GraphProto *g = graph(), *th = graph(), *el = graph();
        swarm_model_t *m = NULL;
        uint8_t c = (uint8_t)cond;
        static const int64_t d4[] = {4};
        static const float bias[] = {1, 2, 3, 4};

        vi(g, 0, "x", 1, 2, XD);
        init(g, "c", 9, 0, NULL, &c);
        node(th, "Mul", "x,x", "t_out");
        vi(th, 1, "t_out", 1, -1, NULL);
        init(el, "bias", 1, 1, d4, bias);       /* the branch's own */
        node(el, "Add", "x,bias", "e_out");
        vi(el, 1, "e_out", 1, -1, NULL);
        if_node(g, "c", "y", th, el);
        vi(g, 1, "y", 1, 2, XD);
        {
                float x[8];
                const void *out[1] = {0};
                m = load_run(g, be, 2, x, NULL, out);
                for (int i = 0; out[0] && i < 8; i++) {
                        float want = cond ? x[i] * x[i] : x[i] + bias[i % 4];
                        CHECK(((const float *)out[0])[i] == want,
                              "cond %d y[%d] %g want %g", cond, i,
                              ((const float *)out[0])[i], want);
                }
        }
        done(m);
}

/* ---- the dynamo EmbeddingBag form: sequences in a condition loop ---- */

/* The frame of that loop: g takes x[N,4] and starts an empty sequence; the
 * body (iteration input iname, condition c_in, counter k, sequence seq_in)
 * has k1 = k + 1 and the caller adds what makes part, seq_out and c_out
 * (k1 < bags). */
static void seq_loop_begin(Onnx__GraphProto *g, Onnx__GraphProto *body,
                           int64_t bags, const char *iname) {
        uint8_t t = 1;
        vi(g, 0, "x", 1, 2, XD);
        init(g, "true", 9, 0, NULL, &t);
        scalar_i64(g, "zero", 0);
        scalar_i64(g, "one", 1);
        scalar_i64(g, "bags", bags);
        node(g, "SequenceEmpty", "", "seq0");
        vi(body, 0, iname, 7, -1, NULL);
        vi(body, 0, "c_in", 9, -1, NULL);
        vi(body, 0, "k", 7, -1, NULL);
        vi(body, 0, "seq_in", 0, -1, NULL);
        node(body, "Add", "k,one", "k1");
}

/* ...and its end: the body's outputs, the Loop with no trip count, and
 * y[N, ylen] = ConcatFromSequence(seq) along axis 1. */
static void seq_loop_end(Onnx__GraphProto *g, Onnx__GraphProto *body,
                         int64_t ylen) {
        vi(body, 1, "c_out", 9, -1, NULL);
        vi(body, 1, "k1", 7, -1, NULL);
        vi(body, 1, "seq_out", 0, -1, NULL);
        attr_g(node(g, "Loop", "-,true,zero,seq0", "k_end,seq"), "body",
               body);
        attr_i(node(g, "ConcatFromSequence", "seq", "y"), "axis", 1);
        vi(g, 1, "y", 1, 2, (const int64_t[]){-1, ylen});
}

static void test_loop_seq(swarm_backend_t *be) {
        Onnx__GraphProto *g = graph(), *body = graph();
        swarm_model_t *m = NULL;

        seq_loop_begin(g, body, 2, "i_unused");
        attr_i(node(body, "Cast", "k1", "k1f"), "to", 1);
        node(body, "Mul", "x,k1f", "part");     /* run-time tensor */
        node(body, "SequenceInsert", "seq_in,part", "seq_out");
        node(body, "Less", "k1,bags", "c_out");
        seq_loop_end(g, body, 8);
        {
                float x[12];
                const void *out[1] = {0};
                int64_t osh[1][SWARM_MAX_DIMS];
                m = load_run(g, be, 3, x, osh, out);
                CHECK(!out[0] || (osh[0][0] == 3 && osh[0][1] == 8),
                      "shape %lld,%lld", (long long)osh[0][0],
                      (long long)osh[0][1]);
                for (int r = 0; out[0] && r < 3; r++)
                        for (int j = 0; j < 8; j++) {
                                float want = x[r * 4 + j % 4] *
                                             (float)(j / 4 + 1);
                                CHECK(((const float *)out[0])[r * 8 + j] ==
                                      want, "y[%d,%d] %g want %g", r, j,
                                      ((const float *)out[0])[r * 8 + j],
                                      want);
                        }
        }
        done(m);
}

/* ---- SplitToSequence, SequenceAt, SequenceLength ---- */

static void test_split_seq(swarm_backend_t *be) {
        Onnx__GraphProto *g = graph();
        Onnx__NodeProto *n;
        swarm_model_t *m = NULL;
        static const int64_t d2[] = {2}, sizes[] = {1, 3};

        vi(g, 0, "x", 1, 2, XD);
        init(g, "sizes", 7, 1, d2, sizes);
        scalar_i64(g, "minus1", -1);
        attr_i(node(g, "SplitToSequence", "x,sizes", "parts"), "axis", 1);
        node(g, "SequenceAt", "parts,minus1", "last");
        node(g, "SequenceLength", "parts", "n");
        attr_i(node(g, "Cast", "n", "nf"), "to", 1);
        node(g, "Mul", "last,nf", "y");         /* 2 * x[:, 1:4] */
        vi(g, 1, "y", 1, 2, (const int64_t[]){-1, 3});
        {
                float x[8];
                const void *out[1] = {0};
                m = load_run(g, be, 2, x, NULL, out);
                for (int r = 0; out[0] && r < 2; r++)
                        for (int j = 0; j < 3; j++)
                                CHECK(((const float *)out[0])[r * 3 + j] ==
                                      2 * x[r * 4 + 1 + j], "y[%d,%d] %g", r,
                                      j, ((const float *)out[0])[r * 3 + j]);
        }
        done(m);
        /* keepdims = 0, no split: one [N] tensor per column */
        g = graph();
        vi(g, 0, "x", 1, 2, XD);
        scalar_i64(g, "two", 2);
        n = node(g, "SplitToSequence", "x", "cols");
        attr_i(n, "axis", 1);
        attr_i(n, "keepdims", 0);
        node(g, "SequenceAt", "cols,two", "y");
        vi(g, 1, "y", 1, 1, (const int64_t[]){-1});
        {
                float x[12];
                const void *out[1] = {0};
                m = load_run(g, be, 3, x, NULL, out);
                for (int r = 0; out[0] && r < 3; r++)
                        CHECK(((const float *)out[0])[r] == x[r * 4 + 2],
                              "y[%d] %g", r, ((const float *)out[0])[r]);
        }
        done(m);
}

/* ---- hostile and unsupported ---- */

static void expect(Onnx__GraphProto *g, swarm_backend_t *be,
                   swarm_code_t code, const char *what) {
        swarm_model_t *m = NULL;
        swarm_err_t err;
        int rc = load(g, be, &m, &err);
        CHECK(rc == (int)code && strstr(err.msg, what),
              "want %s '%s': got %s: %s", swarm_code_name(code), what,
              swarm_code_name(rc), err.msg);
        CHECK(m == NULL, "no model on errors");
        done(m);
}

/* Loop(M, cond) with a body passing cond through: y = x + M (the body
 * adds the inputs `addend`: "y_in,one", or a name nobody defines). */
static Onnx__GraphProto *count_loop(int64_t trips, int with_m,
                                    int cond_input, const char *addend) {
        Onnx__GraphProto *g = graph(), *body = graph();
        Onnx__NodeProto *lp;
        uint8_t t = 1;
        static const float one[] = {1.0f};
        static const int64_t d1[] = {1};

        vi(g, 0, "x", 1, 2, XD);
        if (cond_input)
                vi(g, 0, "c", 9, 0, NULL);
        else
                init(g, "c", 9, 0, NULL, &t);
        scalar_i64(g, "M", trips);
        init(g, "one", 1, 1, d1, one);
        vi(body, 0, "i", 7, -1, NULL);
        vi(body, 0, "c_in", 9, -1, NULL);
        vi(body, 0, "y_in", 1, -1, NULL);
        node(body, "Identity", "c_in", "c_out");
        node(body, "Add", addend, "y_out");
        vi(body, 1, "c_out", 9, -1, NULL);
        vi(body, 1, "y_out", 1, -1, NULL);
        lp = node(g, "Loop", with_m ? "M,c,x" : "-,c,x", "y");
        attr_g(lp, "body", body);
        vi(g, 1, "y", 1, 2, XD);
        return g;
}

static void test_hostile(swarm_backend_t *be) {
        Onnx__GraphProto *g, *th;
        swarm_model_t *m = NULL;

        /* the bounded counting loop itself loads and counts */
        g = count_loop(5, 1, 0, "y_in,one");
        {
                float x[4];
                const void *out[1] = {0};
                m = load_run(g, be, 1, x, NULL, out);
                CHECK(out[0] && ((const float *)out[0])[3] == x[3] + 5,
                      "y[3] %g", out[0] ? ((const float *)out[0])[3] : -1);
        }
        done(m);
        /* a negative trip count runs no iteration: y = x */
        g = count_loop(-3, 1, 0, "y_in,one");
        {
                float x[4];
                const void *out[1] = {0};
                m = load_run(g, be, 1, x, NULL, out);
                CHECK(out[0] && ((const float *)out[0])[3] == x[3],
                      "y[3] %g", out[0] ? ((const float *)out[0])[3] : -1);
        }
        done(m);
        expect(count_loop(1000000000, 1, 0, "y_in,one"), be,
               SWARM_ERR_UNSUPPORTED,
               "trip count 1000000000 is above the limit");
        /* no trip count, a condition that stays true */
        expect(count_loop(0, 0, 0, "y_in,one"), be, SWARM_ERR_UNSUPPORTED,
               "still running after 4096 iterations");
        expect(count_loop(3, 1, 1, "y_in,one"), be, SWARM_ERR_UNSUPPORTED,
               "condition is computed at run time");
        /* If on a graph input */
        g = graph();
        th = graph();
        vi(g, 0, "x", 1, 2, XD);
        vi(g, 0, "c", 9, 0, NULL);
        node(th, "Neg", "x", "t_out");
        vi(th, 1, "t_out", 1, -1, NULL);
        if_node(g, "c", "y", th, th);
        vi(g, 1, "y", 1, 2, XD);
        expect(g, be, SWARM_ERR_UNSUPPORTED,
               "condition is computed at run time");
        /* a body that reads a name nobody defines */
        expect(count_loop(2, 1, 0, "y_in,nowhere"), be, SWARM_ERR_INVALID,
               "'nowhere', which is not defined");
        /* a sequence as a graph output */
        g = graph();
        vi(g, 0, "x", 1, 2, XD);
        node(g, "SequenceConstruct", "x,x", "y");
        vi(g, 1, "y", 1, 2, XD);
        expect(g, be, SWARM_ERR_UNSUPPORTED, "is a sequence");
        /* a sequence into a tensor operator */
        g = graph();
        vi(g, 0, "x", 1, 2, XD);
        node(g, "SequenceConstruct", "x", "s");
        node(g, "Relu", "s", "y");
        vi(g, 1, "y", 1, 2, XD);
        expect(g, be, SWARM_ERR_UNSUPPORTED, "input 's' is a sequence");
        /* split sizes that do not add up to the dim */
        g = graph();
        vi(g, 0, "x", 1, 2, XD);
        init(g, "sizes", 7, 1, (const int64_t[]){2},
             (const int64_t[]){1, 2});
        attr_i(node(g, "SplitToSequence", "x,sizes", "s"), "axis", 1);
        node(g, "ConcatFromSequence", "s", "y");
        vi(g, 1, "y", 1, 2, XD);
        expect(g, be, SWARM_ERR_INVALID, "split sizes add up to 3");
        /* SequenceAt out of range */
        g = graph();
        vi(g, 0, "x", 1, 2, XD);
        scalar_i64(g, "p", 5);
        node(g, "SequenceConstruct", "x,x", "s");
        node(g, "SequenceAt", "s,p", "y");
        vi(g, 1, "y", 1, 2, XD);
        expect(g, be, SWARM_ERR_INVALID, "position 5 out of range");
}

/* Flip bytes of a control-flow model at random: every mutant loads or is
 * refused with a code, and one that loads runs or fails with a code (ASan
 * and UBSan watch the rest). */
static void test_mutants(swarm_backend_t *be) {
        uint32_t rng = 2463534242u;
        int loaded = 0, ran = 0;
        for (int k = 0; k < 2; k++) {
                Onnx__GraphProto *g = k ? count_loop(4, 1, 0, "y_in,one") : graph();
                size_t len;
                uint8_t *buf, *mut;
                if (!k) {
                        /* the sequence loop of test_loop_seq, nested If */
                        Onnx__GraphProto *body = graph(), *th = graph();
                        seq_loop_begin(g, body, 3, "i");
                        node(body, "Less", "k1,bags", "c_out");
                        node(th, "Neg", "x", "t_out");
                        vi(th, 1, "t_out", 1, -1, NULL);
                        if_node(body, "c_out", "part", th, th);
                        node(body, "SequenceInsert", "seq_in,part",
                             "seq_out");
                        seq_loop_end(g, body, 12);
                }
                buf = pack(g, 13, &len);
                mut = malloc(len);
                for (int i = 0; i < 1000 && mut; i++) {
                        swarm_model_t *m = NULL;
                        swarm_err_t err;
                        memcpy(mut, buf, len);
                        for (int f = 0; f < 1 + i % 3; f++) {
                                rng ^= rng << 13;
                                rng ^= rng >> 17;
                                rng ^= rng << 5;
                                mut[rng % len] ^= (uint8_t)(1u << (rng >> 29));
                        }
                        swarm_err_clear(&err);
                        if (swarm_model_load_mem(mut, len, be, &m, &err)) {
                                CHECK(err.code != SWARM_OK && m == NULL,
                                      "refusal without a code");
                                continue;
                        }
                        loaded++;
                        if (swarm_model_n_inputs(m) == 1 &&
                            swarm_model_input(m, 0)->ndim == 2 &&
                            swarm_model_input(m, 0)->shape[1] == 4 &&
                            swarm_model_input(m, 0)->dtype ==
                            SWARM_DTYPE_FLOAT32) {
                                float x[8];
                                const void *out[8] = {0};
                                ran += run_x(m, 2, x, NULL, out, &err) ==
                                       SWARM_OK;
                        }
                        swarm_model_destroy(m);
                }
                free(mut);
                arena_free();
        }
        printf("mutants: %d of 2000 loaded, %d ran\n", loaded, ran);
        CHECK(loaded > 0, "no mutant loaded (the originals must)");
}

static void run_all(swarm_backend_t *be) {
        test_loop_const(be);
        test_if_const(be, 1);
        test_if_const(be, 0);
        test_loop_seq(be);
        test_split_seq(be);
}

int main(void) {
        swarm_err_t err;
        swarm_backend_t *be;

        swarm_err_clear(&err);
        if (swarm_backend_cpu_new(1, &be, &err)) {
                printf("backend: %s\n", err.msg);
                return 1;
        }
        run_all(be);
        test_hostile(be);
        test_mutants(be);
        {
                swarm_backend_t st = mb_staged_backend(be);
                run_all(&st);
        }
        swarm_backend_destroy(be);
        printf("%s (%d failures)\n", test_failures ? "FAILED" : "ok", test_failures);
        return test_failures ? 1 : 0;
}
