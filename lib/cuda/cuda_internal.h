/*
 * cuda_internal.h - the kernels of kernels.cu as seen from the C host code
 * (backend_cuda.c).  Not a public header.
 *
 * Every launcher queues work on `st` and returns the launch status
 * (cudaGetLastError() after the launch), so the caller's check macro sees
 * bad configurations at once; faults inside a kernel surface at the next
 * synchronisation (download).  Sizes are validated by the caller; a launcher
 * with nothing to do returns cudaSuccess without launching.
 */
#ifndef SWARM_CUDA_INTERNAL_H
#define SWARM_CUDA_INTERNAL_H

#include <stdint.h>

#include <cuda_runtime_api.h>

#include "swarm/backend.h"
#include "swarm/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Shapes and strides travel to the device by value in this struct. */
typedef struct swk_dims {
        int nd;
        int64_t shape[SWARM_MAX_DIMS];
        int64_t sa[SWARM_MAX_DIMS];     /* first operand / input strides */
        int64_t sb[SWARM_MAX_DIMS];     /* second operand / output strides */
} swk_dims_t;

/* Where a gather with a bad index reports it (mapped pinned memory, read on
 * the host after the stream synchronises). */
typedef struct swk_flag {
        int bad;
        long long value;
} swk_flag_t;

cudaError_t swk_unary(cudaStream_t st, swarm_act_t act, float a, float b,
                      const float *x, float *y, int64_t n);
/* In place on an m x n block with row stride ldc (the GEMM epilogue). */
cudaError_t swk_unary_2d(cudaStream_t st, swarm_act_t act, float a, float b,
                         float *c, int64_t m, int64_t n, int64_t ldc);
/* c[i, j] = beta * bias(i, j) per mode, m x n block with row stride ldc. */
cudaError_t swk_fill_bias(cudaStream_t st, swarm_bias_t mode, float beta,
                          const float *bias, float *c, int64_t m, int64_t n,
                          int64_t ldc);
/* Output contiguous over d->shape; d->sa / d->sb are a's and b's strides. */
cudaError_t swk_binary(cudaStream_t st, swarm_binop_t op, const swk_dims_t *d,
                       const float *a, const float *b, float *c);
cudaError_t swk_softmax(cudaStream_t st, const float *x, float *y,
                        int64_t outer, int64_t n, int64_t inner,
                        int log_form);
cudaError_t swk_reduce(cudaStream_t st, swarm_reduce_t op, int ndim,
                       const int64_t *shape, uint32_t axes, const float *x,
                       float *y);
cudaError_t swk_pool(cudaStream_t st, swarm_pool_kind_t kind,
                     const swarm_window_t *w, const float *x, float *y);
cudaError_t swk_im2col(cudaStream_t st, const swarm_window_t *w,
                       const float *x, float *col);
cudaError_t swk_gather(cudaStream_t st, const uint32_t *x, int64_t outer,
                       int64_t axis_n, int64_t inner, const void *idx,
                       int idx64, int64_t n_idx, uint32_t *y,
                       swk_flag_t *flag);
/* y[sum i_d * sb[d]] = x[sum i_d * sa[d]] over d->shape. */
cudaError_t swk_copy_strided(cudaStream_t st, const swk_dims_t *d,
                             const uint32_t *x, uint32_t *y);
cudaError_t swk_channel_affine(cudaStream_t st, const float *x,
                               const float *scale, const float *bias,
                               float *y, int64_t outer, int64_t c,
                               int64_t inner);
cudaError_t swk_layer_norm(cudaStream_t st, const float *x,
                           const float *scale, const float *bias, float *y,
                           int64_t outer, int64_t n, float eps);
/* n floats to fp16 (bf16 == 0) or bfloat16 (bf16 != 0), round to nearest. */
cudaError_t swk_to_half(cudaStream_t st, const float *x, void *y, int64_t n,
                        int bf16);

/* cudaSuccess when the current device can run our kernels. */
cudaError_t swk_probe(void);

#ifdef __cplusplus
}
#endif
#endif
