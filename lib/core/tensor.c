#include "swarm/tensor.h"

size_t swarm_dtype_size(swarm_dtype_t dt) {
        switch (dt) {
        case SWARM_DTYPE_FLOAT32: return 4;
        case SWARM_DTYPE_FLOAT16: return 2;
        case SWARM_DTYPE_BFLOAT16: return 2;
        case SWARM_DTYPE_INT64: return 8;
        case SWARM_DTYPE_INT32: return 4;
        case SWARM_DTYPE_UINT8: return 1;
        case SWARM_DTYPE_INT8: return 1;
        case SWARM_DTYPE_BOOL: return 1;
        case SWARM_DTYPE_FLOAT64: return 8;
        default: return 0;
        }
}

const char *swarm_dtype_name(swarm_dtype_t dt) {
        static const char *names[SWARM_DTYPE__COUNT] = {
                "FLOAT32", "FLOAT16", "BFLOAT16", "INT64", "INT32", "UINT8",
                "INT8", "BOOL", "FLOAT64"};
        if ((unsigned)dt >= SWARM_DTYPE__COUNT)
                return "?";
        return names[dt];
}

int64_t swarm_shape_elems(const int64_t *shape, int ndim) {
        int64_t n = 1, nz = 1;
        int zero = 0;

        if (ndim < 0 || ndim > SWARM_MAX_DIMS)
                return -1;
        for (int i = 0; i < ndim; i++) {
                if (shape[i] < 0)
                        return -1;
                if (shape[i] == 0) {
                        zero = 1;
                        continue;
                }
                if (nz > SWARM_ELEMS_MAX / shape[i])
                        return -1;
                nz *= shape[i];
        }
        n = zero ? 0 : nz;
        return n;
}

int swarm_shape_bytes(const int64_t *shape, int ndim, swarm_dtype_t dt,
                      size_t max_bytes, size_t *bytes) {
        int64_t e = swarm_shape_elems(shape, ndim);
        size_t esz = swarm_dtype_size(dt);

        *bytes = 0;
        if (e < 0 || !esz || (uint64_t)e > (uint64_t)(max_bytes / esz))
                return -1;
        *bytes = (size_t)e * esz;
        return 0;
}
