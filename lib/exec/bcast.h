/*
 * bcast.h - NumPy broadcasting's element strides, for the executor's
 * broadcasting kernels (model.c), the host kernels (host_ops.c) and
 * load-time folding (onnx_ops.c).
 */
#ifndef SWARM_EXEC_BCAST_H
#define SWARM_EXEC_BCAST_H

#include <stdint.h>

/* Element strides of a value of shape vshape[vndim] broadcast to an output
 * of `nd` dims oshape (right-aligned; 0 where it is broadcast). */
static inline void exec_bcast_strides(const int64_t *vshape, int vndim, int nd,
                                      const int64_t *oshape, int64_t *str) {
        int64_t s = 1;
        for (int i = nd - 1; i >= 0; i--) {
                int vi = i - (nd - vndim);
                int64_t d = vi >= 0 ? vshape[vi] : 1;
                str[i] = (d == 1 && oshape[i] != 1) || vi < 0 ? 0 : s;
                s *= d;
        }
}

#endif
