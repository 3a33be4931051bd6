/*
 * model_build.h - small ONNX models built in memory with protobuf-c, for
 * the executor tests (test_control.c, test_model_errors.c), and the staged
 * backend both run their models through.
 *
 * Everything a model is made of lives in one arena (mb_t) and is freed at
 * once by mb_free(), so a test builds a graph, packs it, loads it and drops
 * it without tracking each piece.  Graphs hold up to MB_MAX_NODES nodes,
 * MB_MAX_INITS initializers and MB_MAX_IO inputs and outputs; more is the
 * test's own mistake and aborts.  Header-only (static inline): each test
 * takes what it uses.
 */
#ifndef SWARM_TESTS_MODEL_BUILD_H
#define SWARM_TESTS_MODEL_BUILD_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.pb-c.h"
#include "swarm/backend.h"

#define MB_MAX_NODES 64
#define MB_MAX_INITS 32
#define MB_MAX_IO 16
/* names in one node's input or output list */
#define MB_MAX_NAMES 8

typedef struct mb {
        void **p;
        size_t n, cap;
} mb_t;

/* Keep `p` (malloc'd) in the arena; returns it.  Out of memory aborts. */
static inline void *mb_keep(mb_t *a, void *p) {
        if (!p)
                abort();
        if (a->n == a->cap) {
                size_t cap = a->cap ? 2 * a->cap : 64;
                void **np = realloc(a->p, cap * sizeof(*np));
                if (!np)
                        abort();
                a->p = np;
                a->cap = cap;
        }
        a->p[a->n++] = p;
        return p;
}

/* n zeroed bytes owned by the arena. */
static inline void *mb_alloc(mb_t *a, size_t n) {
        return mb_keep(a, calloc(1, n ? n : 1));
}

static inline char *mb_str(mb_t *a, const char *s) {
        char *p = mb_alloc(a, strlen(s) + 1);
        memcpy(p, s, strlen(s));
        return p;
}

/* Free everything the arena holds; it is then empty and reusable. */
static inline void mb_free(mb_t *a) {
        while (a->n > 0)
                free(a->p[--a->n]);
        free(a->p);
        memset(a, 0, sizeof(*a));
}

static inline Onnx__GraphProto *mb_graph(mb_t *a) {
        Onnx__GraphProto *g = mb_alloc(a, sizeof(*g));
        onnx__graph_proto__init(g);
        g->name = mb_str(a, "g");
        g->node = mb_alloc(a, MB_MAX_NODES * sizeof(*g->node));
        g->initializer = mb_alloc(a, MB_MAX_INITS * sizeof(*g->initializer));
        g->input = mb_alloc(a, MB_MAX_IO * sizeof(*g->input));
        g->output = mb_alloc(a, MB_MAX_IO * sizeof(*g->output));
        return g;
}

/* Comma-separated names into a list; "-" is an empty (absent) input. */
static inline size_t mb_names(mb_t *a, const char *csv, char ***out) {
        size_t n = 0;
        char *copy = mb_str(a, csv), *save = NULL;
        char **list = mb_alloc(a, MB_MAX_NAMES * sizeof(char *));
        for (char *t = strtok_r(copy, ",", &save); t && n < MB_MAX_NAMES;
             t = strtok_r(NULL, ",", &save))
                list[n++] = strcmp(t, "-") == 0 ? mb_str(a, "") : t;
        *out = list;
        return n;
}

/* A node of `g`: op over the inputs `in` to the outputs `out` (both
 * comma-separated); name NULL names it after its outputs. */
static inline Onnx__NodeProto *mb_node(mb_t *a, Onnx__GraphProto *g,
                                       const char *name, const char *op,
                                       const char *in, const char *out) {
        Onnx__NodeProto *n = mb_alloc(a, sizeof(*n));
        if (g->n_node == MB_MAX_NODES)
                abort();
        onnx__node_proto__init(n);
        n->name = mb_str(a, name ? name : out);
        n->op_type = mb_str(a, op);
        n->n_input = mb_names(a, in, &n->input);
        n->n_output = mb_names(a, out, &n->output);
        n->attribute = mb_alloc(a, MB_MAX_NAMES * sizeof(*n->attribute));
        g->node[g->n_node++] = n;
        return n;
}

/* A new attribute of `n` of that type, to be filled by the caller. */
static inline Onnx__AttributeProto *mb_attr(mb_t *a, Onnx__NodeProto *n,
                                            const char *name,
                                            Onnx__AttributeProto__AttributeType type) {
        Onnx__AttributeProto *at = mb_alloc(a, sizeof(*at));
        if (n->n_attribute == MB_MAX_NAMES)
                abort();
        onnx__attribute_proto__init(at);
        at->name = mb_str(a, name);
        at->has_type = 1;
        at->type = type;
        n->attribute[n->n_attribute++] = at;
        return at;
}

static inline void mb_attr_i(mb_t *a, Onnx__NodeProto *n, const char *name,
                             int64_t v) {
        Onnx__AttributeProto *at =
                mb_attr(a, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
        at->has_i = 1;
        at->i = v;
}

static inline void mb_attr_is(mb_t *a, Onnx__NodeProto *n, const char *name,
                              int cnt, const int64_t *v) {
        Onnx__AttributeProto *at =
                mb_attr(a, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
        at->n_ints = (size_t)cnt;
        at->ints = mb_alloc(a, (size_t)cnt * sizeof(int64_t));
        memcpy(at->ints, v, (size_t)cnt * sizeof(int64_t));
}

static inline void mb_attr_s(mb_t *a, Onnx__NodeProto *n, const char *name,
                             const char *v) {
        Onnx__AttributeProto *at =
                mb_attr(a, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
        at->has_s = 1;
        at->s.data = (uint8_t *)mb_str(a, v);
        at->s.len = strlen(v);
}

static inline void mb_attr_g(mb_t *a, Onnx__NodeProto *n, const char *name,
                             Onnx__GraphProto *g) {
        mb_attr(a, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH)->g = g;
}

/* An initializer of ONNX dtype `dt` (1 float, 7 int64, 9 bool) in raw_data;
 * raw 0 stores a float one in float_data instead. */
static inline Onnx__TensorProto *mb_init(mb_t *a, Onnx__GraphProto *g,
                                         const char *name, int dt, int ndim,
                                         const int64_t *dims, const void *data,
                                         int raw) {
        Onnx__TensorProto *t = mb_alloc(a, sizeof(*t));
        size_t n = 1, es = dt == 7 ? 8 : dt == 9 ? 1 : 4;
        if (g->n_initializer == MB_MAX_INITS)
                abort();
        onnx__tensor_proto__init(t);
        t->name = mb_str(a, name);
        t->has_data_type = 1;
        t->data_type = dt;
        t->n_dims = (size_t)ndim;
        t->dims = mb_alloc(a, 8 * sizeof(int64_t));
        for (int i = 0; i < ndim; i++) {
                t->dims[i] = dims[i];
                n *= (size_t)dims[i];
        }
        if (raw) {
                t->has_raw_data = 1;
                t->raw_data.len = n * es;
                t->raw_data.data = mb_alloc(a, n * es + 1);
                memcpy(t->raw_data.data, data, n * es);
        } else {
                t->n_float_data = n;
                t->float_data = mb_alloc(a, n * 4 + 1);
                memcpy(t->float_data, data, n * 4);
        }
        g->initializer[g->n_initializer++] = t;
        return t;
}

/* A graph input (is_out 0) or output of element type `elem`; a dim of -1
 * is the symbolic "N", -2 "seq"; ndim < 0: no shape (subgraph values). */
static inline Onnx__ValueInfoProto *mb_vi(mb_t *a, Onnx__GraphProto *g,
                                          int is_out, const char *name,
                                          int elem, int ndim,
                                          const int64_t *dims) {
        Onnx__ValueInfoProto *v = mb_alloc(a, sizeof(*v));
        Onnx__TypeProto *tp = mb_alloc(a, sizeof(*tp));
        Onnx__TypeProto__Tensor *tt = mb_alloc(a, sizeof(*tt));
        if ((is_out ? g->n_output : g->n_input) == MB_MAX_IO)
                abort();
        onnx__value_info_proto__init(v);
        onnx__type_proto__init(tp);
        onnx__type_proto__tensor__init(tt);
        v->name = mb_str(a, name);
        v->type = tp;
        tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
        tp->tensor_type = tt;
        tt->has_elem_type = 1;
        tt->elem_type = elem;
        if (ndim >= 0) {
                Onnx__TensorShapeProto *sp = mb_alloc(a, sizeof(*sp));
                onnx__tensor_shape_proto__init(sp);
                tt->shape = sp;
                sp->n_dim = (size_t)ndim;
                sp->dim = mb_alloc(a, 8 * sizeof(*sp->dim));
                for (int i = 0; i < ndim; i++) {
                        Onnx__TensorShapeProto__Dimension *d = mb_alloc(a, sizeof(*d));
                        onnx__tensor_shape_proto__dimension__init(d);
                        if (dims[i] < 0) {
                                d->value_case =
                                        ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
                                d->dim_param = mb_str(a, dims[i] == -2 ? "seq" : "N");
                        } else {
                                d->value_case =
                                        ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
                                d->dim_value = dims[i];
                        }
                        sp->dim[i] = d;
                }
        }
        if (is_out)
                g->output[g->n_output++] = v;
        else
                g->input[g->n_input++] = v;
        return v;
}

/* The model of graph `g` at that opset (IR version 8), serialized; the
 * caller frees it (malloc'd, not in the arena, so a test may keep it). */
static inline uint8_t *mb_pack(mb_t *a, Onnx__GraphProto *g, int64_t opset,
                               size_t *len) {
        Onnx__ModelProto m;
        Onnx__OperatorSetIdProto os, *osp[1] = {&os};
        uint8_t *buf;
        onnx__model_proto__init(&m);
        onnx__operator_set_id_proto__init(&os);
        m.has_ir_version = 1;
        m.ir_version = 8;
        os.domain = mb_str(a, "");
        os.has_version = 1;
        os.version = opset;
        m.n_opset_import = 1;
        m.opset_import = osp;
        m.graph = g;
        *len = onnx__model_proto__get_packed_size(&m);
        if (!(buf = malloc(*len + 1)))
                abort();
        onnx__model_proto__pack(&m, buf);
        return buf;
}

/* The CPU kernels behind a backend that says its buffers are device
 * memory (host_mem = 0): the executor then uploads inputs, downloads
 * outputs and stages every host-kernel step through host buffers, as it
 * does on CUDA.  destroy is left out: the wrapped backend owns the pool. */
static inline swarm_backend_t mb_staged_backend(const swarm_backend_t *cpu) {
        swarm_backend_t b = *cpu;
        b.name = "staged";
        b.host_mem = 0;
        b.destroy = NULL;
        return b;
}

#endif
