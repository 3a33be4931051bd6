/*
 * fuzz_onnx.c - the ONNX loader and executor (lib/exec), structure-aware.
 *
 * Byte-level mutation of a protobuf mostly yields files that do not parse,
 * so the custom mutator parses the input as a ModelProto (protobuf-c),
 * changes one number where the loader does arithmetic on it, and packs it
 * again:
 *   - a dimension: initializer dims, Constant values (attribute t), graph
 *     input/output/value_info shapes;
 *   - an attribute int or one element of attribute ints (pads, strides,
 *     dilations, axes, kernel_shape, perm, Slice steps ...);
 *   - an initializer's size: raw_data cut short, or float/int64 data
 *     dropped, so the stored bytes disagree with the dims.
 * Values come from a list of edges (0, -1, 1, INT32/INT64 limits, 2^20,
 * 2^31, 2^32, 2^62 ...) or at random.  Inputs that do not parse fall back
 * to libFuzzer's byte mutation.
 *
 * A model that loads is run once on a batch of one row (or its fixed rows)
 * when its inputs total at most 4 MiB, with input bytes taken from a
 * pattern: Pad and Gather bugs only show at inference.
 */
#include <string.h>

#include "fuzz.h"
#include "onnx.pb-c.h"
#include "swarm/backend.h"
#include "swarm/model.h"

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

static swarm_backend_t *be;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        swarm_err_t err;
        (void)argc;
        (void)argv;
        swarm_err_clear(&err);
        if (swarm_backend_cpu_new(1, &be, &err)) {
                fprintf(stderr, "backend: %s\n", err.msg);
                abort();
        }
        return 0;
}

/* ---- the structure-aware mutator */

#define MAX_SLOTS 4096

typedef struct slots {
        int64_t *i64[MAX_SLOTS];        /* numbers to overwrite */
        int n_i64;
        Onnx__TensorProto *tensor[MAX_SLOTS];   /* sizes to cut */
        int n_tensor;
} slots_t;

static void add_i64(slots_t *s, int64_t *p) {
        if (s->n_i64 < MAX_SLOTS)
                s->i64[s->n_i64++] = p;
}

static void add_tensor(slots_t *s, Onnx__TensorProto *t) {
        if (!t)
                return;
        for (size_t i = 0; i < t->n_dims; i++)
                add_i64(s, &t->dims[i]);
        if (s->n_tensor < MAX_SLOTS)
                s->tensor[s->n_tensor++] = t;
}

static void add_value_info(slots_t *s, Onnx__ValueInfoProto *v) {
        Onnx__TensorShapeProto *sh;
        if (!v || !v->type || v->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
            !v->type->tensor_type || !(sh = v->type->tensor_type->shape))
                return;
        for (size_t i = 0; i < sh->n_dim; i++)
                if (sh->dim[i]->value_case ==
                    ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE)
                        add_i64(s, &sh->dim[i]->dim_value);
}

static void collect(slots_t *s, Onnx__GraphProto *g) {
        for (size_t i = 0; i < g->n_initializer; i++)
                add_tensor(s, g->initializer[i]);
        for (size_t i = 0; i < g->n_input; i++)
                add_value_info(s, g->input[i]);
        for (size_t i = 0; i < g->n_output; i++)
                add_value_info(s, g->output[i]);
        for (size_t i = 0; i < g->n_value_info; i++)
                add_value_info(s, g->value_info[i]);
        for (size_t i = 0; i < g->n_node; i++) {
                Onnx__NodeProto *n = g->node[i];
                for (size_t j = 0; j < n->n_attribute; j++) {
                        Onnx__AttributeProto *a = n->attribute[j];
                        if (a->has_i)
                                add_i64(s, &a->i);
                        for (size_t k = 0; k < a->n_ints; k++)
                                add_i64(s, &a->ints[k]);
                        add_tensor(s, a->t);
                }
        }
}

static uint64_t rng(unsigned *state) {
        uint64_t x = *state = *state * 1103515245u + 12345u;
        x = (x << 32) ^ (*state = *state * 1103515245u + 12345u);
        return x;
}

static int64_t edge_value(unsigned *st) {
        static const int64_t edges[] = {
                0, 1, -1, 2, -2, 3, 7, 8, 64, 255, 256, 1000, 65535, 65536,
                (int64_t)1 << 20, (int64_t)1 << 31, ((int64_t)1 << 31) - 1,
                -((int64_t)1 << 31), (int64_t)1 << 32, (int64_t)1 << 40,
                (int64_t)1 << 62, INT64_MAX, INT64_MAX - 1, INT64_MIN,
                INT64_MIN + 1, INT64_MAX / 2, INT64_MAX / 4 + 1,
                7905747460161236407LL,
        };
        uint64_t r = rng(st);
        switch (r % 4) {
        case 0:
                return (int64_t)rng(st);
        case 1:
                return (int64_t)(rng(st) % 33) - 16;
        default:
                return edges[(r >> 8) % (sizeof(edges) / sizeof(edges[0]))];
        }
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
                               unsigned seed) {
        Onnx__ModelProto *m;
        slots_t *s;
        size_t need;
        unsigned st = seed;
        int changes;

        if (rng(&st) % 16 == 0)
                return LLVMFuzzerMutate(data, size, max_size);
        m = onnx__model_proto__unpack(NULL, size, data);
        if (!m || !m->graph) {
                if (m)
                        onnx__model_proto__free_unpacked(m, NULL);
                return LLVMFuzzerMutate(data, size, max_size);
        }
        s = calloc(1, sizeof(*s));
        collect(s, m->graph);
        changes = 1 + (int)(rng(&st) % 3);
        for (int c = 0; c < changes; c++) {
                uint64_t what = rng(&st) % 8;
                if (what < 6 && s->n_i64) {
                        *s->i64[rng(&st) % (uint64_t)s->n_i64] = edge_value(&st);
                } else if (s->n_tensor) {
                        /* the stored data disagrees with the dims; the
                         * arrays only shrink, so free_unpacked still frees
                         * what unpack allocated */
                        Onnx__TensorProto *t = s->tensor[rng(&st) % (uint64_t)s->n_tensor];
                        if (t->has_raw_data && t->raw_data.len)
                                t->raw_data.len = rng(&st) % t->raw_data.len;
                        else if (t->n_float_data)
                                t->n_float_data = rng(&st) % t->n_float_data;
                        else if (t->n_int64_data)
                                t->n_int64_data = rng(&st) % t->n_int64_data;
                        else if (t->n_int32_data)
                                t->n_int32_data = rng(&st) % t->n_int32_data;
                }
        }
        need = onnx__model_proto__get_packed_size(m);
        if (need <= max_size)
                onnx__model_proto__pack(m, data);
        else
                need = LLVMFuzzerMutate(data, size, max_size);
        free(s);
        onnx__model_proto__free_unpacked(m, NULL);
        return need;
}

/* ---- the target */

#define RUN_INPUT_LIMIT ((size_t)4 << 20)
/* Working memory of the one run (see the check before it). */
#define RUN_WORK_LIMIT ((size_t)256 << 20)

/* How many row_bytes a tensor holds (model.h): `rows` with a symbolic
 * batch dimension, its fixed leading dimension otherwise, 1 for 0-D. */
static size_t lead_rows(const swarm_model_io_t *io, int64_t rows) {
        if (io->ndim == 0)
                return 1;
        return io->shape[0] < 0 ? (size_t)rows : (size_t)io->shape[0];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        swarm_model_t *model = NULL;
        swarm_err_t err;
        const void *in[16], *out[16];
        void *bufs[16] = {0};
        int64_t rows, fixed;
        int nin, nout;
        size_t total = 0;

        swarm_err_clear(&err);
        if (swarm_model_load_mem(data, size, be, &model, &err)) {
                FUZZ_ASSERT(err.code != SWARM_OK && err.msg[0] && !model);
                return 0;
        }
        nin = swarm_model_n_inputs(model);
        nout = swarm_model_n_outputs(model);
        fixed = swarm_model_fixed_rows(model);
        rows = fixed > 0 ? fixed : 1;
        if (nin > 16 || nout > 16 || fixed > 64)
                goto out;
        /* A model may legitimately need more working memory than a fuzzer
         * allows (libFuzzer's malloc limit counts as a finding); the worker
         * sizes batches to its memory budget and gets SWARM_ERR_NOMEM
         * beyond it, so run only what fits a modest budget. */
        if (swarm_model_work_fixed_bytes(model) > RUN_WORK_LIMIT ||
            swarm_model_work_row_bytes(model) > RUN_WORK_LIMIT / (size_t)rows ||
            swarm_model_work_fixed_bytes(model) +
                            swarm_model_work_row_bytes(model) * (size_t)rows >
                    RUN_WORK_LIMIT)
                goto out;
        for (int i = 0; i < nin; i++) {
                const swarm_model_io_t *io = swarm_model_input(model, i);
                size_t r = lead_rows(io, rows), n;
                if (io->row_bytes && r > RUN_INPUT_LIMIT / io->row_bytes)
                        goto out;
                n = r * io->row_bytes;
                total += n;
                if (total > RUN_INPUT_LIMIT)
                        goto out;
                bufs[i] = malloc(n ? n : 1);
                /* small integers in every dtype: ids 0..3 for a Gather,
                 * floats that are neither 0 nor NaN */
                for (size_t b = 0; b < n; b++)
                        ((uint8_t *)bufs[i])[b] = (b % 4 == 0) ? (uint8_t)(b / 4 % 4) : 0;
                in[i] = bufs[i];
        }
        swarm_err_clear(&err);
        if (swarm_model_run(model, rows, in, out, &err) == SWARM_OK) {
                /* every output byte readable */
                for (int o = 0; o < nout; o++) {
                        const swarm_model_io_t *io = swarm_model_output(model, o);
                        size_t r = lead_rows(io, rows);
                        volatile uint8_t sink = 0;
                        if (io->row_bytes && r > (64u << 20) / io->row_bytes)
                                continue;
                        for (size_t b = 0; b < r * io->row_bytes; b++)
                                sink ^= ((const uint8_t *)out[o])[b];
                        (void)sink;
                }
        }
out:
        for (int i = 0; i < 16; i++)
                free(bufs[i]);
        swarm_model_destroy(model);
        return 0;
}
