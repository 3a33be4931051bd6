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

/* Order matches the `dtype` enum symbols of schemas/Tensor.avsc. */
typedef enum swarm_dtype {
        SWARM_DTYPE_FLOAT32 = 0,
        SWARM_DTYPE_FLOAT16,
        SWARM_DTYPE_BFLOAT16,
        SWARM_DTYPE_INT64,
        SWARM_DTYPE_INT32,
        SWARM_DTYPE_UINT8,
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
/* Product of the shape; -1 on a negative dimension or overflow past
 * INT64_MAX / 16 (so that elements * dtype size never overflows). */
int64_t swarm_shape_elems(const int64_t *shape, int ndim);

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
