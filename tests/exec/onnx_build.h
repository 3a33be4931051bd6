/*
 * onnx_build.h - the executor tests' short names over the one ONNX model
 * builder (tests/lib/model_build.h): one graph in one arena per bld_t, so a
 * test writes node(b, ...), attr_i(b, ...), init(b, ...) and pack(b, ...).
 * Used by test_attn.c, test_model_errors.c, test_rnn.c and
 * test_resize_convt.c.
 */
#ifndef SWARM_TESTS_EXEC_ONNX_BUILD_H
#define SWARM_TESTS_EXEC_ONNX_BUILD_H

#include <stdint.h>
#include <string.h>

#include "model_build.h"

typedef struct bld {
        mb_t a;
        Onnx__GraphProto *g;
        int64_t opset;
} bld_t;

static inline void *ba(bld_t *b, size_t n) {
        return mb_alloc(&b->a, n);
}

static inline char *bs(bld_t *b, const char *s) {
        return mb_str(&b->a, s);
}

static inline void bld_init(bld_t *b, int64_t opset) {
        memset(b, 0, sizeof(*b));
        b->g = mb_graph(&b->a);
        b->opset = opset;
}

/* The prologue of most models here: bld_init() at opset 13 with a FLOAT32
 * input x and output y of those shapes. */
static inline void bld_xy(bld_t *b, int xn, const int64_t *xd, int yn,
                          const int64_t *yd) {
        bld_init(b, 13);
        mb_vi(&b->a, b->g, 0, "x", 1, xn, xd);
        mb_vi(&b->a, b->g, 1, "y", 1, yn, yd);
}

static inline void bld_free(bld_t *b) {
        mb_free(&b->a);
}

static inline Onnx__NodeProto *node(bld_t *b, const char *name, const char *op,
                                    const char *in, const char *out) {
        return mb_node(&b->a, b->g, name, op, in, out);
}

static inline void attr_i(bld_t *b, Onnx__NodeProto *n, const char *name,
                          int64_t v) {
        mb_attr_i(&b->a, n, name, v);
}

static inline void attr_is(bld_t *b, Onnx__NodeProto *n, const char *name, int cnt,
                           const int64_t *v) {
        mb_attr_is(&b->a, n, name, cnt, v);
}

static inline void attr_s(bld_t *b, Onnx__NodeProto *n, const char *name,
                          const char *v) {
        mb_attr_s(&b->a, n, name, v);
}

/* A FLOAT32 initializer, in raw_data or (raw 0) float_data. */
static inline Onnx__TensorProto *init(bld_t *b, const char *name, int ndim,
                                      const int64_t *dims, const float *data,
                                      int raw) {
        return mb_init(&b->a, b->g, name, 1, ndim, dims, data, raw);
}

/* An INT64 initializer (raw_data). */
static inline Onnx__TensorProto *init_i64(bld_t *b, const char *name, int ndim,
                                          const int64_t *dims, const int64_t *data) {
        return mb_init(&b->a, b->g, name, 7, ndim, dims, data, 1);
}

/* A value info; a dim of -1 is the symbolic "N", -2 "seq". */
static inline Onnx__ValueInfoProto *vi(bld_t *b, int is_out, const char *name,
                                       int elem, int ndim, const int64_t *dims) {
        return mb_vi(&b->a, b->g, is_out, name, elem, ndim, dims);
}

/* The packed model; the caller frees it. */
static inline uint8_t *pack(bld_t *b, size_t *len) {
        return mb_pack(&b->a, b->g, b->opset, len);
}

/* Comma-separated names into a list owned by the arena ("-": empty). */
static inline size_t names(bld_t *b, const char *csv, char ***out) {
        return mb_names(&b->a, csv, out);
}

static inline void attr_f(bld_t *b, Onnx__NodeProto *n, const char *name,
                                 float v) {
        Onnx__AttributeProto *at =
                mb_attr(&b->a, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
        at->has_f = 1;
        at->f = v;
}

#endif
