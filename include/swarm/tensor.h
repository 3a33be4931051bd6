/*
 * tensor.h - dtypes and borrowed tensor views shared by codec, executor and
 * worker.
 */
#ifndef SWARM_TENSOR_H
#define SWARM_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Order matches the symbols of the `DType` enum in schemas/InferenceRequest.avsc
 * and schemas/InferenceResponse.avsc (the codec maps one onto the other by
 * position; new dtypes are appended at the end of both). */
typedef enum swarm_dtype {
        SWARM_DTYPE_FLOAT32 = 0,
        SWARM_DTYPE_FLOAT16,
        SWARM_DTYPE_BFLOAT16,
        SWARM_DTYPE_INT64,
        SWARM_DTYPE_INT32,
        SWARM_DTYPE_UINT8,
        SWARM_DTYPE_INT8,
        SWARM_DTYPE_BOOL,       /* one byte, 0 or 1 */
        SWARM_DTYPE_FLOAT64,
        SWARM_DTYPE__COUNT
} swarm_dtype_t;

#define SWARM_MAX_DIMS 8

/* A non NUL-terminated string borrowed from some buffer. */
typedef struct swarm_str {
        const char *ptr;
        size_t len;
} swarm_str_t;

#define SWARM_STR(s) ((swarm_str_t){(s), sizeof(s) - 1})

/* A tensor whose name and data are borrowed (from a Kafka message, an
 * executor output buffer, ...).  data is little-endian, row-major. */
typedef struct swarm_tensor {
        swarm_str_t name;
        swarm_dtype_t dtype;
        int ndim;
        int64_t shape[SWARM_MAX_DIMS];
        const void *data;
        size_t size;            /* bytes of data */
} swarm_tensor_t;

/* Bytes per element; 0 for an invalid dtype. */
size_t swarm_dtype_size(swarm_dtype_t dt);
/* "FLOAT32", ...; "?" for an invalid dtype. */
const char *swarm_dtype_name(swarm_dtype_t dt);
/* Largest element count of any tensor, and largest product of its non-zero
 * dims: elements * 16 bytes and every stride stay representable. */
#define SWARM_ELEMS_MAX (INT64_MAX / 16)

/* Product of the shape; -1 on a negative dimension, when the product of the
 * non-zero dims exceeds SWARM_ELEMS_MAX (so a zero-size tensor cannot hide
 * dims whose strides overflow), or for ndim outside [0, SWARM_MAX_DIMS]. */
int64_t swarm_shape_elems(const int64_t *shape, int ndim);

/* Bytes of a tensor of `shape` and `dt` into *bytes; -1 when the shape is
 * refused by swarm_shape_elems, the dtype is invalid, or the bytes exceed
 * max_bytes. */
int swarm_shape_bytes(const int64_t *shape, int ndim, swarm_dtype_t dt,
                      size_t max_bytes, size_t *bytes);

/* Checked int64 arithmetic for sizes, dims, pads and offsets taken from
 * messages and model files (every such number is hostile): *r = a + b,
 * a - b, a * b.  Return 0, or -1 when the exact result does not fit in an
 * int64 (*r is then unspecified).  One helper for every shape computation
 * instead of ad hoc range checks. */
static inline int swarm_add_i64(int64_t a, int64_t b, int64_t *r) {
        return __builtin_add_overflow(a, b, r) ? -1 : 0;
}
static inline int swarm_sub_i64(int64_t a, int64_t b, int64_t *r) {
        return __builtin_sub_overflow(a, b, r) ? -1 : 0;
}
static inline int swarm_mul_i64(int64_t a, int64_t b, int64_t *r) {
        return __builtin_mul_overflow(a, b, r) ? -1 : 0;
}

static inline swarm_str_t swarm_str(const char *s) {
        swarm_str_t r;
        size_t n = 0;
        while (s && s[n])
                n++;
        r.ptr = s;
        r.len = n;
        return r;
}

#ifdef __cplusplus
}
#endif
#endif
