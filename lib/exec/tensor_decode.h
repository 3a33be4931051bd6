/*
 * tensor_decode.h - ONNX TensorProto -> malloc'ed host buffer.
 *
 * Initializers (onnx_load.c), Constant values and attributes (onnx_ops.c)
 * and swarm_model_tensor_decode() (model.h) decode tensors here; a file of
 * its own so the loader and the operators do not depend on each other.
 */
#ifndef SWARM_EXEC_TENSOR_DECODE_H
#define SWARM_EXEC_TENSOR_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "swarm/err.h"
#include "swarm/tensor.h"

/* ONNX TensorProto.DataType values. */
enum {
        ONNX_FLOAT = 1, ONNX_UINT8 = 2, ONNX_INT8 = 3, ONNX_INT32 = 6,
        ONNX_INT64 = 7, ONNX_BOOL = 9, ONNX_FLOAT16 = 10, ONNX_DOUBLE = 11,
        ONNX_BFLOAT16 = 16
};

struct Onnx__TensorProto;

/* ONNX TensorProto.DataType -> swarm_dtype_t; -1 when unsupported. */
int exec_onnx_dtype(int32_t onnx_type, swarm_dtype_t *dt);
/* Decode a TensorProto: sizes are checked against the data present before
 * anything is allocated; *data is malloc'ed (caller frees).  INT32 data is
 * widened to INT64 (the loader computes on INT64 only). */
int exec_tensor_decode(const struct Onnx__TensorProto *t, swarm_dtype_t *dt,
                       int *ndim, int64_t *shape, void **data, size_t *bytes,
                       swarm_err_t *err);

#endif
