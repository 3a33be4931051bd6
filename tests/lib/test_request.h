/*
 * test_request.h - the request most tests send: one 2-D input viewing
 * `data` (borrowed); test_request_f32() is float32 named "input".
 */
#ifndef SWARM_TESTS_TEST_REQUEST_H
#define SWARM_TESTS_TEST_REQUEST_H

#include <string.h>

#include "swarm/arrayio.h"
#include "swarm/codec.h"
#include "swarm/tensor.h"

/* Request `id` for `model` with one 2-D input `name` of `dtype`, shape
 * [rows, cols], viewing `data`. */
static inline void test_request_2d(swarm_request_t *req, const char *id, const char *model,
                                   const char *name, swarm_dtype_t dtype, const void *data,
                                   int64_t rows, int64_t cols) {
        memset(req, 0, sizeof(*req));
        req->request_id = swarm_str(id);
        req->model = swarm_str(model);
        req->n_inputs = 1;
        req->inputs[0].name = swarm_str(name);
        req->inputs[0].dtype = dtype;
        req->inputs[0].ndim = 2;
        req->inputs[0].shape[0] = rows;
        req->inputs[0].shape[1] = cols;
        req->inputs[0].data = data;
        req->inputs[0].size = (size_t)rows * (size_t)cols * swarm_dtype_size(dtype);
}

static inline void test_request_f32(swarm_request_t *req, const char *id,
                                    const char *model, const void *data,
                                    int64_t rows, int64_t cols) {
        test_request_2d(req, id, model, "input", SWARM_DTYPE_FLOAT32, data, rows, cols);
}

/* `t`: input `name` viewing rows [r0, r0 + rows) of `a` (borrowed), the
 * batch dim set to `rows`. */
static inline void test_tensor_rows(swarm_tensor_t *t, const char *name, const swarm_array_t *a,
                                    int64_t r0, int64_t rows) {
        size_t rb = swarm_array_row_bytes(a);
        t->name = swarm_str(name);
        t->dtype = a->dtype;
        t->ndim = a->ndim;
        memcpy(t->shape, a->shape, sizeof(t->shape));
        t->shape[0] = rows;
        t->data = (const char *)a->data + (size_t)r0 * rb;
        t->size = rb * (size_t)rows;
}

#endif
