/*
 * backend.h - the compute backend behind the executor.
 *
 * The executor (lib/exec/model.c) only ever talks to a `swarm_backend_t`
 * through this vtable, so a CUDA backend can slot in next to the CPU
 * (OpenBLAS) one without the executor knowing which it drives.
 *
 * Device buffers are opaque `void *` handles.  The executor never does
 * pointer arithmetic on them: every kernel takes element offsets instead, so a
 * backend whose handles are not addresses works too.  All tensors are FLOAT32,
 * row-major and contiguous unless a leading dimension says otherwise.
 *
 * Kernels may run asynchronously; `download` is the synchronisation point.
 * Every fallible entry returns SWARM_OK or an error code and fills err
 * (SWARM_ERR_NOMEM for allocation, SWARM_ERR_BACKEND for kernel failures).
 *
 * Threads: a backend may be shared by several models on different threads;
 * the CPU backend keeps no per-call state so that is safe there.
 */
#ifndef SWARM_BACKEND_H
#define SWARM_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "swarm/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum swarm_act {
        SWARM_ACT_NONE = 0,
        SWARM_ACT_RELU,
        SWARM_ACT_SIGMOID,
        SWARM_ACT_TANH
} swarm_act_t;

/* How the GEMM bias is broadcast onto the m x n result. */
typedef enum swarm_bias {
        SWARM_BIAS_NONE = 0,
        SWARM_BIAS_SCALAR,      /* one value for every element */
        SWARM_BIAS_ROW,         /* n values, added to every row */
        SWARM_BIAS_COL,         /* m values, one per row */
        SWARM_BIAS_FULL         /* m x n values, leading dimension n */
} swarm_bias_t;

/* C[c_off..] = act(alpha * op(A) * op(B) + beta * bias), where op(A) is
 * m x k and op(B) is k x n.  lda/ldb/ldc are row strides in elements of the
 * stored (untransposed) matrices. */
typedef struct swarm_gemm {
        int trans_a, trans_b;
        int64_t m, n, k;
        float alpha, beta;
        const void *a;
        int64_t a_off, lda;
        const void *b;
        int64_t b_off, ldb;
        const void *bias;       /* NULL with SWARM_BIAS_NONE */
        int64_t bias_off;
        swarm_bias_t bias_mode;
        void *c;
        int64_t c_off, ldc;
        swarm_act_t act;
} swarm_gemm_t;

typedef struct swarm_backend swarm_backend_t;

struct swarm_backend {
        const char *name;       /* "cpu", "cuda" */
        /* Non-zero when device handles are host pointers: the executor then
         * reads inputs in place and hands out outputs without a copy. */
        int host_mem;

        /* Allocate `bytes` (> 0) of device memory; *out is freed with
         * free_buf (which accepts NULL). */
        int (*alloc)(swarm_backend_t *be, size_t bytes, void **out,
                     swarm_err_t *err);
        void (*free_buf)(swarm_backend_t *be, void *dev);
        /* Host -> device (weights once at load, inputs per run on a device
         * backend) and device -> host (outputs). */
        int (*upload)(swarm_backend_t *be, void *dev, const void *host,
                      size_t bytes, swarm_err_t *err);
        int (*download)(swarm_backend_t *be, void *host, const void *dev,
                        size_t bytes, swarm_err_t *err);

        int (*gemm)(swarm_backend_t *be, const swarm_gemm_t *g,
                    swarm_err_t *err);
        /* c = a + b over an ndim-dimensional output `shape`; a_str and b_str
         * are element strides per output dimension, 0 where that operand is
         * broadcast (NumPy rules; a row vector over a matrix is the common
         * case). */
        int (*add)(swarm_backend_t *be, int ndim, const int64_t *shape,
                   const void *a, const int64_t *a_str, const void *b,
                   const int64_t *b_str, void *c, swarm_err_t *err);
        /* y = act(x) over n elements; y may equal x. */
        int (*act)(swarm_backend_t *be, swarm_act_t act, const void *x,
                   void *y, int64_t n, swarm_err_t *err);
        /* Softmax of x viewed as [outer, n, inner] along the middle axis
         * (inner == 1 is the last axis). */
        int (*softmax)(swarm_backend_t *be, const void *x, void *y,
                       int64_t outer, int64_t n, int64_t inner,
                       swarm_err_t *err);
        /* Device -> device copy of bytes. */
        int (*copy)(swarm_backend_t *be, void *dst, const void *src,
                    size_t bytes, swarm_err_t *err);

        void (*destroy)(swarm_backend_t *be);
};

/* Create the CPU backend (OpenBLAS sgemm plus plain C loops).
 *
 * `threads` is passed to openblas_set_num_threads(); <= 0 picks 1.  Why 1 by
 * default: the worker runs one executor thread per core (batches from
 * different partitions in parallel), and OpenBLAS' own thread pool on top of
 * that oversubscribes the cores; the GEMMs of typical batches (tens of rows)
 * are also too small for its threading to pay off.  A deployment with a
 * single worker thread and large batches should pass the core count.
 * Note that the OpenBLAS setting is process-wide: the last call wins.
 *
 * Caller owns the result (swarm_backend_destroy). Errors: SWARM_ERR_NOMEM. */
swarm_backend_t *swarm_backend_cpu_new(int threads, swarm_err_t *err);

/* Destroy any backend; NULL is accepted.  Models using it must be gone. */
void swarm_backend_destroy(swarm_backend_t *be);

#ifdef __cplusplus
}
#endif
#endif
