/*
 * onnx_build.h - a tiny ONNX model builder for the executor tests
 * (protobuf-c; everything lives in one arena freed by bld_free): nodes,
 * attributes, FLOAT32 / INT64 initializers, value infos, pack().
 * Shared by test_model_errors.c and test_resize_convt.c.
 */
#ifndef SWARM_TESTS_ONNX_BUILD_H
#define SWARM_TESTS_ONNX_BUILD_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.pb-c.h"


typedef struct bld {
        void *ptrs[512];
        int n_ptrs;
        Onnx__ModelProto m;
        Onnx__GraphProto g;
        Onnx__OperatorSetIdProto os;
        Onnx__OperatorSetIdProto *osp[1];
        Onnx__NodeProto *nodes[16];
        Onnx__TensorProto *inits[16];
        Onnx__ValueInfoProto *ins[8], *outs[8];
} bld_t;

static inline void *ba(bld_t *b, size_t n) {
        void *p = calloc(1, n);
        if (!p || b->n_ptrs == 512)
                abort();
        b->ptrs[b->n_ptrs++] = p;
        return p;
}

static inline char *bs(bld_t *b, const char *s) {
        char *p = ba(b, strlen(s) + 1);
        memcpy(p, s, strlen(s));
        return p;
}

static inline void bld_init(bld_t *b, int64_t opset) {
        memset(b, 0, sizeof(*b));
        onnx__model_proto__init(&b->m);
        onnx__graph_proto__init(&b->g);
        onnx__operator_set_id_proto__init(&b->os);
        b->m.has_ir_version = 1;
        b->m.ir_version = 8;
        b->os.domain = bs(b, "");
        b->os.has_version = 1;
        b->os.version = opset;
        b->osp[0] = &b->os;
        b->m.n_opset_import = 1;
        b->m.opset_import = b->osp;
        b->m.graph = &b->g;
        b->g.name = bs(b, "g");
        b->g.node = b->nodes;
        b->g.initializer = b->inits;
        b->g.input = b->ins;
        b->g.output = b->outs;
}

static inline void bld_free(bld_t *b) {
        for (int i = 0; i < b->n_ptrs; i++)
                free(b->ptrs[i]);
}

/* Comma-separated names into a char ** list. */
static inline size_t names(bld_t *b, const char *csv, char ***out) {
        size_t n = 0;
        char *copy = bs(b, csv), *save = NULL;
        char **list = ba(b, 8 * sizeof(char *));
        for (char *t = strtok_r(copy, ",", &save); t && n < 8;
             t = strtok_r(NULL, ",", &save))
                list[n++] = strcmp(t, "-") == 0 ? bs(b, "") : t;
        *out = list;
        return n;
}

static inline Onnx__NodeProto *node(bld_t *b, const char *name, const char *op,
                             const char *in, const char *out) {
        Onnx__NodeProto *n = ba(b, sizeof(*n));
        onnx__node_proto__init(n);
        n->name = bs(b, name);
        n->op_type = bs(b, op);
        n->n_input = names(b, in, &n->input);
        n->n_output = names(b, out, &n->output);
        n->attribute = ba(b, 8 * sizeof(*n->attribute));
        b->nodes[b->g.n_node++] = n;
        return n;
}

static inline void attr_i(bld_t *b, Onnx__NodeProto *n, const char *name,
                   int64_t v) {
        Onnx__AttributeProto *a = ba(b, sizeof(*a));
        onnx__attribute_proto__init(a);
        a->name = bs(b, name);
        a->has_type = 1;
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
        a->has_i = 1;
        a->i = v;
        n->attribute[n->n_attribute++] = a;
}

static inline void attr_is(bld_t *b, Onnx__NodeProto *n, const char *name,
                           int cnt, const int64_t *v) {
        Onnx__AttributeProto *a = ba(b, sizeof(*a));
        onnx__attribute_proto__init(a);
        a->name = bs(b, name);
        a->has_type = 1;
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
        a->n_ints = (size_t)cnt;
        a->ints = ba(b, (size_t)cnt * sizeof(int64_t));
        memcpy(a->ints, v, (size_t)cnt * sizeof(int64_t));
        n->attribute[n->n_attribute++] = a;
}

static inline void attr_s(bld_t *b, Onnx__NodeProto *n, const char *name,
                   const char *v) {
        Onnx__AttributeProto *a = ba(b, sizeof(*a));
        onnx__attribute_proto__init(a);
        a->name = bs(b, name);
        a->has_type = 1;
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
        a->has_s = 1;
        a->s.data = (uint8_t *)bs(b, v);
        a->s.len = strlen(v);
        n->attribute[n->n_attribute++] = a;
}

static inline Onnx__TensorProto *init(bld_t *b, const char *name, int ndim,
                               const int64_t *dims, const float *data,
                               int raw) {
        Onnx__TensorProto *t = ba(b, sizeof(*t));
        size_t n = 1;
        onnx__tensor_proto__init(t);
        t->name = bs(b, name);
        t->has_data_type = 1;
        t->data_type = 1;
        t->n_dims = (size_t)ndim;
        t->dims = ba(b, 8 * sizeof(int64_t));
        for (int i = 0; i < ndim; i++) {
                t->dims[i] = dims[i];
                n *= (size_t)dims[i];
        }
        if (raw) {
                t->has_raw_data = 1;
                t->raw_data.len = n * 4;
                t->raw_data.data = ba(b, n * 4 + 1);
                memcpy(t->raw_data.data, data, n * 4);
        } else {
                t->n_float_data = n;
                t->float_data = ba(b, n * 4 + 1);
                memcpy(t->float_data, data, n * 4);
        }
        b->inits[b->g.n_initializer++] = t;
        return t;
}

/* An INT64 initializer (raw_data). */
static inline Onnx__TensorProto *init_i64(bld_t *b, const char *name, int ndim,
                                   const int64_t *dims, const int64_t *data) {
        Onnx__TensorProto *t = ba(b, sizeof(*t));
        size_t n = 1;
        onnx__tensor_proto__init(t);
        t->name = bs(b, name);
        t->has_data_type = 1;
        t->data_type = 7;
        t->n_dims = (size_t)ndim;
        t->dims = ba(b, 8 * sizeof(int64_t));
        for (int i = 0; i < ndim; i++) {
                t->dims[i] = dims[i];
                n *= (size_t)dims[i];
        }
        t->has_raw_data = 1;
        t->raw_data.len = n * 8;
        t->raw_data.data = ba(b, n * 8 + 1);
        memcpy(t->raw_data.data, data, n * 8);
        b->inits[b->g.n_initializer++] = t;
        return t;
}

/* A value info; a dim of -1 is the symbolic "N". */
static inline Onnx__ValueInfoProto *vi(bld_t *b, int is_out, const char *name,
                                int elem, int ndim, const int64_t *dims) {
        Onnx__ValueInfoProto *v = ba(b, sizeof(*v));
        Onnx__TypeProto *tp = ba(b, sizeof(*tp));
        Onnx__TypeProto__Tensor *tt = ba(b, sizeof(*tt));
        Onnx__TensorShapeProto *sp = ba(b, sizeof(*sp));
        onnx__value_info_proto__init(v);
        onnx__type_proto__init(tp);
        onnx__type_proto__tensor__init(tt);
        onnx__tensor_shape_proto__init(sp);
        v->name = bs(b, name);
        v->type = tp;
        tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
        tp->tensor_type = tt;
        tt->has_elem_type = 1;
        tt->elem_type = elem;
        tt->shape = sp;
        sp->n_dim = (size_t)ndim;
        sp->dim = ba(b, 8 * sizeof(*sp->dim));
        for (int i = 0; i < ndim; i++) {
                Onnx__TensorShapeProto__Dimension *d = ba(b, sizeof(*d));
                onnx__tensor_shape_proto__dimension__init(d);
                if (dims[i] < 0) {
                        d->value_case =
                            ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
                        /* -1 "N", -2 "seq" */
                        d->dim_param = bs(b, dims[i] == -2 ? "seq" : "N");
                } else {
                        d->value_case =
                            ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
                        d->dim_value = dims[i];
                }
                sp->dim[i] = d;
        }
        if (is_out)
                b->outs[b->g.n_output++] = v;
        else
                b->ins[b->g.n_input++] = v;
        return v;
}

static inline uint8_t *pack(bld_t *b, size_t *len) {
        uint8_t *buf;
        *len = onnx__model_proto__get_packed_size(&b->m);
        buf = malloc(*len + 1);
        onnx__model_proto__pack(&b->m, buf);
        return buf;
}

static inline void attr_f(bld_t *b, Onnx__NodeProto *n, const char *name,
                          float v) {
        Onnx__AttributeProto *a = ba(b, sizeof(*a));
        onnx__attribute_proto__init(a);
        a->name = bs(b, name);
        a->has_type = 1;
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
        a->has_f = 1;
        a->f = v;
        n->attribute[n->n_attribute++] = a;
}

#endif
