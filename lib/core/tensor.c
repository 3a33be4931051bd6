#include "swarm/tensor.h"

size_t swarm_dtype_size(swarm_dtype_t dt) {
        switch (dt) {
        case SWARM_DTYPE_FLOAT32: return 4;
        case SWARM_DTYPE_FLOAT16: return 2;
        case SWARM_DTYPE_BFLOAT16: return 2;
        case SWARM_DTYPE_INT64: return 8;
        case SWARM_DTYPE_INT32: return 4;
        case SWARM_DTYPE_UINT8: return 1;
        default: return 0;
        }
}

const char *swarm_dtype_name(swarm_dtype_t dt) {
        static const char *names[SWARM_DTYPE__COUNT] = {
                "FLOAT32", "FLOAT16", "BFLOAT16", "INT64", "INT32", "UINT8"};
        if ((unsigned)dt >= SWARM_DTYPE__COUNT)
                return "?";
        return names[dt];
}

int64_t swarm_shape_elems(const int64_t *shape, int ndim) {
        const int64_t limit = INT64_MAX / 16;
        int64_t n = 1;
        for (int i = 0; i < ndim; i++) {
                if (shape[i] < 0)
                        return -1;
                if (shape[i] != 0 && n > limit / shape[i])
                        return -1;
                n *= shape[i];
        }
        return n;
}
