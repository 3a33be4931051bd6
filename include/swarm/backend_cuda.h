/*
 * backend_cuda.h - the CUDA backend (cuBLASLt / cuBLAS GEMMs plus our own
 * kernels) behind the same vtable as the CPU backend (backend.h).
 *
 * Compiled only when the build has SWARM_CUDA enabled, into the module
 * libswarm_cuda_module.so (lib/cuda/module.c), which lib/exec/device.c
 * loads with dlopen() the first time a device spec asks for CUDA: no
 * program links these functions or any CUDA library.  Programs reach them
 * through device.h (swarm_backend_select*), which
 * answers "cuda unavailable in this build" or "cannot load the CUDA
 * backend" when there is no module.
 *
 * Execution model: every backend owns one non-default CUDA stream; uploads
 * are staged through pinned host memory and copied with cudaMemcpyAsync,
 * kernels and GEMMs are queued on the stream, `download` synchronises.  Two
 * backend instances on the same device therefore have two independent
 * streams: a worker that keeps two batches in flight (decode/encode one on
 * the CPU while the other runs) uses one backend per in-flight batch, or one
 * per executor thread.  See docs/gpu.md.
 *
 * Errors: every CUDA / cuBLAS call is checked; the message names the call,
 * file:line and the library's error string.  Out of device memory is
 * SWARM_ERR_NOMEM with err->retriable = 1 (split the batch and retry; the
 * backend stays usable).  A sticky device error (lost device, ECC, illegal
 * address, launch failure) is SWARM_ERR_BACKEND with err->fatal = 1: the
 * context is unusable and the process should exit non-zero.
 */
#ifndef SWARM_BACKEND_CUDA_H
#define SWARM_BACKEND_CUDA_H

#include "swarm/backend.h"
#include "swarm/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* GEMM precision of a deployment.  Activations stay FLOAT32 between
 * operators in every mode; only GEMM operands change:
 *   FP32  full fp32 products (no TF32), the reference;
 *   TF32  fp32 storage, TF32 tensor-core products, fp32 accumulation;
 *   FP16  operands converted to fp16 (weights once, see below), fp32
 *         accumulation and output;
 *   BF16  the same with bfloat16. */
typedef enum swarm_precision {
        SWARM_PREC_FP32 = 0,
        SWARM_PREC_TF32,
        SWARM_PREC_FP16,
        SWARM_PREC_BF16
} swarm_precision_t;

/* Parse "fp32|tf32|fp16|bf16" (case-insensitive).  Always available (no
 * CUDA needed).  Errors: SWARM_ERR_INVALID naming the bad value. */
int swarm_precision_parse(const char *s, swarm_precision_t *out,
                          swarm_err_t *err);
/* Static name of a precision ("fp32", ...). */
const char *swarm_precision_name(swarm_precision_t p);

/* Number of CUDA devices usable by this process; 0 when there are none,
 * when the driver is missing or fails, or in a build without CUDA.  Never
 * fails. */
int swarm_cuda_device_count(void);

/* Create a CUDA backend on `device` (0-based) with GEMMs in `precision`.
 * Creates the stream, cuBLAS and cuBLASLt handles and a GEMM workspace on
 * that device.  On success *out is the caller's (swarm_backend_destroy;
 * models loaded on it must be destroyed first); on failure it is NULL.
 *
 * Threads: every entry may be called from any thread (each sets the
 * device first); calls from several threads are serialised on the one
 * stream, so for concurrency create one backend per thread.
 *
 * Errors: SWARM_ERR_INVALID (device out of range, bad precision),
 * SWARM_ERR_NOMEM (retriable), SWARM_ERR_BACKEND (driver / library failure,
 * fatal when the device is lost), SWARM_ERR_UNSUPPORTED (no CUDA in this
 * build; BF16 on a device before sm_80). */
int swarm_backend_cuda_new(int device, swarm_precision_t precision,
                           swarm_backend_t **out, swarm_err_t *err);

#ifdef __cplusplus
}
#endif
#endif
