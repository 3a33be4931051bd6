/*
 * test_request.h - the request most tests send: one float32 input named
 * "input" of shape [rows, cols], viewing `data` (borrowed).
 */
#ifndef SWARM_TESTS_TEST_REQUEST_H
#define SWARM_TESTS_TEST_REQUEST_H

#include <string.h>

#include "swarm/codec.h"

static inline void test_request_f32(swarm_request_t *req, const char *id,
                                    const char *model, const void *data,
                                    int64_t rows, int64_t cols) {
        memset(req, 0, sizeof(*req));
        req->request_id = swarm_str(id);
        req->model = swarm_str(model);
        req->n_inputs = 1;
        req->inputs[0].name = SWARM_STR("input");
        req->inputs[0].dtype = SWARM_DTYPE_FLOAT32;
        req->inputs[0].ndim = 2;
        req->inputs[0].shape[0] = rows;
        req->inputs[0].shape[1] = cols;
        req->inputs[0].data = data;
        req->inputs[0].size = (size_t)rows * (size_t)cols * sizeof(float);
}

#endif
