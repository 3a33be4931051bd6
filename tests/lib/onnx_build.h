/*
 * onnx_build.h - a tiny ONNX model builder for the C tests (protobuf-c):
 * nodes, attributes, initializers and value infos in one arena, packed
 * into the bytes swarm_model_load_mem() reads.
 *
 * Header-only (static functions) like check.h; a test links
 * swarm_onnx_pb for the generated onnx.pb-c.h.  Running out of the arena
 * aborts: a test that builds too much is a bug in the test.
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

static void *ba(bld_t *b, size_t n) {
        void *p = calloc(1, n);
        if (!p || b->n_ptrs == 512)
                abort();
        b->ptrs[b->n_ptrs++] = p;
        return p;
}

static char *bs(bld_t *b, const char *s) {
        char *p = ba(b, strlen(s) + 1);
        memcpy(p, s, strlen(s));
        return p;
}

static void bld_init(bld_t *b, int64_t opset) {
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

static void bld_free(bld_t *b) {
        for (int i = 0; i < b->n_ptrs; i++)
                free(b->ptrs[i]);
}

/* Comma-separated names into a char ** list ("-": an empty name). */
static size_t bld_names(bld_t *b, const char *csv, char ***out) {
        size_t n = 0;
        char *copy = bs(b, csv), *save = NULL;
        char **list = ba(b, 8 * sizeof(char *));
        for (char *t = strtok_r(copy, ",", &save); t && n < 8;
             t = strtok_r(NULL, ",", &save))
                list[n++] = strcmp(t, "-") == 0 ? bs(b, "") : t;
        *out = list;
        return n;
}

static Onnx__NodeProto *bld_node(bld_t *b, const char *name, const char *op,
                                 const char *in, const char *out) {
        Onnx__NodeProto *n = ba(b, sizeof(*n));
        onnx__node_proto__init(n);
        n->name = bs(b, name);
        n->op_type = bs(b, op);
        n->n_input = bld_names(b, in, &n->input);
        n->n_output = bld_names(b, out, &n->output);
        n->attribute = ba(b, 8 * sizeof(*n->attribute));
        b->nodes[b->g.n_node++] = n;
        return n;
}

static Onnx__AttributeProto *bld_attr(bld_t *b, Onnx__NodeProto *n,
                                      const char *name,
                                      Onnx__AttributeProto__AttributeType t) {
        Onnx__AttributeProto *a = ba(b, sizeof(*a));
        onnx__attribute_proto__init(a);
        a->name = bs(b, name);
        a->has_type = 1;
        a->type = t;
        n->attribute[n->n_attribute++] = a;
        return a;
}

static void bld_attr_i(bld_t *b, Onnx__NodeProto *n, const char *name,
                       int64_t v) {
        Onnx__AttributeProto *a = bld_attr(
                b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
        a->has_i = 1;
        a->i = v;
}

static void bld_attr_f(bld_t *b, Onnx__NodeProto *n, const char *name,
                       float v) {
        Onnx__AttributeProto *a = bld_attr(
                b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
        a->has_f = 1;
        a->f = v;
}

static void bld_attr_s(bld_t *b, Onnx__NodeProto *n, const char *name,
                       const char *v) {
        Onnx__AttributeProto *a = bld_attr(
                b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
        a->has_s = 1;
        a->s.data = (uint8_t *)bs(b, v);
        a->s.len = strlen(v);
}

static void bld_attr_fs(bld_t *b, Onnx__NodeProto *n, const char *name,
                        int cnt, const float *v) {
        Onnx__AttributeProto *a = bld_attr(
                b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS);
        a->n_floats = (size_t)cnt;
        a->floats = ba(b, (size_t)cnt * sizeof(float) + 1);
        memcpy(a->floats, v, (size_t)cnt * sizeof(float));
}

/* STRINGS from a comma-separated list. */
static void bld_attr_ss(bld_t *b, Onnx__NodeProto *n, const char *name,
                        const char *csv) {
        Onnx__AttributeProto *a = bld_attr(
                b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS);
        char **l;
        a->n_strings = bld_names(b, csv, &l);
        a->strings = ba(b, 8 * sizeof(*a->strings));
        for (size_t i = 0; i < a->n_strings; i++) {
                a->strings[i].data = (uint8_t *)l[i];
                a->strings[i].len = strlen(l[i]);
        }
}

/* An initializer of dtype (1 FLOAT, 6 INT32, 7 INT64) from esz-byte
 * elements, as raw_data. */
static Onnx__TensorProto *bld_init_raw(bld_t *b, const char *name, int dtype,
                                       size_t esz, int ndim,
                                       const int64_t *dims,
                                       const void *data) {
        Onnx__TensorProto *t = ba(b, sizeof(*t));
        size_t n = 1;
        onnx__tensor_proto__init(t);
        t->name = bs(b, name);
        t->has_data_type = 1;
        t->data_type = dtype;
        t->n_dims = (size_t)ndim;
        t->dims = ba(b, 8 * sizeof(int64_t));
        for (int i = 0; i < ndim; i++) {
                t->dims[i] = dims[i];
                n *= (size_t)dims[i];
        }
        t->has_raw_data = 1;
        t->raw_data.len = n * esz;
        t->raw_data.data = ba(b, n * esz + 1);
        memcpy(t->raw_data.data, data, n * esz);
        b->inits[b->g.n_initializer++] = t;
        return t;
}

/* A value info; a dim of -1 is the symbolic "N", -2 "seq". */
static Onnx__ValueInfoProto *bld_vi(bld_t *b, int is_out, const char *name,
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

/* The packed model (caller frees). */
static uint8_t *bld_pack(bld_t *b, size_t *len) {
        uint8_t *buf;
        *len = onnx__model_proto__get_packed_size(&b->m);
        buf = malloc(*len + 1);
        if (!buf)
                abort();
        onnx__model_proto__pack(&b->m, buf);
        return buf;
}

#endif
