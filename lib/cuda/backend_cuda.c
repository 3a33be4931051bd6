/*
 * backend_cuda.c - the CUDA backend: host side of the vtable.
 *
 * Device handles are cudaMalloc pointers (host_mem = 0), so the executor
 * uploads inputs and downloads outputs.  Everything is queued on one
 * non-blocking stream per backend:
 *
 *   upload    small copies (inputs) go through a pinned staging arena and
 *             cudaMemcpyAsync, so the call returns at once and the copy
 *             overlaps whatever the stream still runs; large ones (weights
 *             at load) are copied from the caller's memory directly;
 *   kernels   ours (kernels.cu) and cuBLASLt / cuBLAS on the stream;
 *   download  the synchronisation point: queue the copy, wait for the
 *             stream, report deferred errors (gather indices), reset the
 *             staging arena.
 *
 * GEMMs go through cuBLASLt with the bias (row vector, beta = 1) and ReLU /
 * GELU-tanh (not in fp32) epilogues fused where it has them; what it cannot fuse (other
 * bias shapes, other activations) is one kernel before (bias into C, then
 * C accumulates) or after (activation) the product.  When cuBLASLt has no
 * algorithm for a shape (odd alignments) cublasGemmEx does the product.
 *
 * FP16 / BF16 precisions convert GEMM operands: an operand buffer that was
 * uploaded exactly once and never written by a kernel (a weight) is
 * converted once, at its first GEMM, and the copy kept until the buffer is
 * uploaded again, written or freed; activations are converted per call into
 * a scratch buffer.  (The backend cannot tell weights from inputs at upload
 * time; see docs/gpu.md for the vtable hint that would let it convert at
 * load.)
 *
 * Locking: one mutex per backend around every entry; the stream orders the
 * work, the mutex guards the staging arena, scratch buffers, the GEMM plan
 * cache and the weight records.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "swarm/backend.h"
#include "swarm/backend_cuda.h"
#include "cuda_internal.h"

/* cuBLASLt workspace: 32 MiB is what NVIDIA recommends for Hopper. */
#define WS_BYTES ((size_t)32 << 20)
/* Uploads up to this size are staged through pinned memory; the arena
 * never grows beyond it. */
#define STAGE_MAX ((size_t)64 << 20)
#define STAGE_MIN ((size_t)1 << 20)
#define PLAN_CACHE 64

typedef struct plan_key {
        int prec, ta, tb, epi;
        int64_t m, n, k, lda, ldb, ldc;
        uint32_t al_a, al_b, al_c;
} plan_key_t;

typedef struct plan {
        int used;
        int ok;                 /* 0: cuBLASLt had no algorithm, use GemmEx */
        plan_key_t key;
        cublasLtMatmulDesc_t desc;
        cublasLtMatrixLayout_t la, lb, lc;
        cublasLtMatmulAlgo_t algo;
} plan_t;

/* One device allocation (only tracked for fp16 / bf16 deployments). */
typedef struct rec {
        void *ptr;
        size_t bytes;
        int uploads;
        int written;
        void *half;             /* converted copy, NULL until first GEMM */
} rec_t;

typedef struct cuda_be {
        swarm_backend_t be;     /* first: the vtable pointer is ours */
        int device;
        swarm_precision_t prec;
        cudaStream_t st;
        cublasHandle_t blas;
        cublasLtHandle_t lt;
        void *ws;
        pthread_mutex_t mu;
        unsigned char *stage;
        size_t stage_cap, stage_used;
        swk_flag_t *flag;       /* mapped pinned: the device writes it */
        void *half_a, *half_b;  /* per-call converted operands */
        size_t half_a_cap, half_b_cap;
        plan_t plans[PLAN_CACHE];
        int next_plan;
        rec_t *recs;
        size_t n_recs, cap_recs;
} cuda_be_t;

/* ---- errors ---------------------------------------------------------- */

/* Errors after which the context is unusable: every later call fails the
 * same way, so the worker must exit rather than retry. */
static int sticky(cudaError_t e) {
        switch (e) {
        case cudaErrorIllegalAddress:
        case cudaErrorLaunchFailure:
        case cudaErrorHardwareStackError:
        case cudaErrorIllegalInstruction:
        case cudaErrorMisalignedAddress:
        case cudaErrorInvalidAddressSpace:
        case cudaErrorInvalidPc:
        case cudaErrorLaunchTimeout:
        case cudaErrorAssert:
        case cudaErrorECCUncorrectable:
        case cudaErrorNvlinkUncorrectable:
        case cudaErrorDevicesUnavailable:
        case cudaErrorContextIsDestroyed:
        case cudaErrorNoDevice:
        case cudaErrorInsufficientDriver:
        case cudaErrorCudartUnloading:
        case cudaErrorExternalDevice:
        case cudaErrorUnknown:
                return 1;
        default:
                return 0;
        }
}

/* Fill err for a failed call and set the flags only when this is the first
 * error recorded (the first message wins, so do its flags). */
static int fail(swarm_err_t *err, swarm_code_t code, int retriable,
                int fatal, const char *lib, const char *call,
                const char *file, int line, const char *what,
                const char *name) {
        int fresh = err && err->code == SWARM_OK;

        swarm_err_set(err, code, "%s: %s failed at %s:%d: %s (%s)", lib, call,
                      file, line, what, name);
        if (fresh) {
                err->retriable = retriable;
                err->fatal = fatal;
        }
        return code;
}

static int cuda_fail(cudaError_t e, const char *call, const char *file,
                     int line, swarm_err_t *err) {
        const char *what = cudaGetErrorString(e), *name = cudaGetErrorName(e);

        if (e == cudaErrorMemoryAllocation) {
                /* Not sticky: clear it so the next call starts clean. */
                (void)cudaGetLastError();
                return fail(err, SWARM_ERR_NOMEM, 1, 0, "cuda", call, file,
                            line, what, name);
        }
        if (sticky(e))
                return fail(err, SWARM_ERR_BACKEND, 0, 1, "cuda", call, file,
                            line, what, name);
        (void)cudaGetLastError();
        return fail(err, SWARM_ERR_BACKEND, 0, 0, "cuda", call, file, line,
                    what, name);
}

static int blas_fail(cublasStatus_t s, const char *call, const char *file,
                     int line, swarm_err_t *err) {
        const char *what = cublasGetStatusString(s);
        char code[24];
        cudaError_t e;

        snprintf(code, sizeof(code), "status %d", (int)s);
        if (s == CUBLAS_STATUS_ALLOC_FAILED)
                return fail(err, SWARM_ERR_NOMEM, 1, 0, "cublas", call, file,
                            line, what, code);
        /* An execution failure is often the device itself: ask CUDA. */
        e = cudaPeekAtLastError();
        if (e != cudaSuccess && sticky(e))
                return fail(err, SWARM_ERR_BACKEND, 0, 1, "cublas", call,
                            file, line, what, code);
        return fail(err, SWARM_ERR_BACKEND, 0, 0, "cublas", call, file, line,
                    what, code);
}

/* Inside an entry with `int rc` and an `out:` label. */
#define CK(call)                                                               \
        do {                                                                   \
                cudaError_t e__ = (call);                                      \
                if (e__ != cudaSuccess) {                                      \
                        rc = cuda_fail(e__, #call, __FILE__, __LINE__, err);   \
                        goto out;                                              \
                }                                                              \
        } while (0)
#define BK(call)                                                               \
        do {                                                                   \
                cublasStatus_t s__ = (call);                                   \
                if (s__ != CUBLAS_STATUS_SUCCESS) {                            \
                        rc = blas_fail(s__, #call, __FILE__, __LINE__, err);   \
                        goto out;                                              \
                }                                                              \
        } while (0)

/* Every entry: take the lock and make our device current for this thread
 * (the worker may call from any executor thread). */
#define ENTER(cb)                                                              \
        pthread_mutex_lock(&(cb)->mu);                                         \
        CK(cudaSetDevice((cb)->device))
#define LEAVE(cb) pthread_mutex_unlock(&(cb)->mu)

static cuda_be_t *cbe(swarm_backend_t *be) {
        return (cuda_be_t *)be;
}

static int half_mode(const cuda_be_t *cb) {
        return cb->prec == SWARM_PREC_FP16 || cb->prec == SWARM_PREC_BF16;
}

/* ---- allocation records (fp16 / bf16 only) ---------------------------- */

static rec_t *rec_find(cuda_be_t *cb, const void *p) {
        for (size_t i = 0; i < cb->n_recs; i++)
                if (cb->recs[i].ptr == p)
                        return &cb->recs[i];
        return NULL;
}

static void rec_drop_half(rec_t *r) {
        if (r->half) {
                cudaFree(r->half);
                r->half = NULL;
        }
}

/* A kernel wrote `p`: a converted copy of it is stale for good. */
static void note_write(cuda_be_t *cb, const void *p) {
        rec_t *r;
        if (!half_mode(cb) || !(r = rec_find(cb, p)))
                return;
        r->written = 1;
        rec_drop_half(r);
}

/* ---- memory ------------------------------------------------------------ */

static int cu_alloc(swarm_backend_t *be, size_t bytes, void **out,
                    swarm_err_t *err) {
        cuda_be_t *cb = cbe(be);
        void *p = NULL;
        int rc = SWARM_OK;

        *out = NULL;
        if (bytes == 0)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "cuda: bad allocation size 0");
        ENTER(cb);
        CK(cudaMalloc(&p, bytes));
        if (half_mode(cb)) {
                if (cb->n_recs == cb->cap_recs) {
                        size_t nc = cb->cap_recs ? cb->cap_recs * 2 : 64;
                        rec_t *nr = realloc(cb->recs, nc * sizeof(*nr));
                        if (!nr) {
                                cudaFree(p);
                                rc = swarm_err_set(err, SWARM_ERR_NOMEM,
                                                   "cuda: out of host memory");
                                goto out;
                        }
                        cb->recs = nr;
                        cb->cap_recs = nc;
                }
                memset(&cb->recs[cb->n_recs], 0, sizeof(rec_t));
                cb->recs[cb->n_recs].ptr = p;
                cb->recs[cb->n_recs++].bytes = bytes;
        }
        *out = p;
out:
        LEAVE(cb);
        return rc;
}

static void cu_free(swarm_backend_t *be, void *dev) {
        cuda_be_t *cb = cbe(be);
        rec_t *r;

        if (!dev)
                return;
        pthread_mutex_lock(&cb->mu);
        cudaSetDevice(cb->device);
        if (half_mode(cb) && (r = rec_find(cb, dev))) {
                rec_drop_half(r);
                *r = cb->recs[--cb->n_recs];
        }
        /* cudaFree waits for the device, so work still queued on the
         * buffer finishes first; errors here (a lost device) resurface on
         * the next call that can report them. */
        cudaFree(dev);
        pthread_mutex_unlock(&cb->mu);
}

/* Room for `bytes` in the staging arena: when full, wait for the stream
 * (every staged copy has then been consumed) and start over, growing the
 * arena when it is too small.  Called with the lock held. */
static int stage_reserve(cuda_be_t *cb, size_t bytes, unsigned char **at,
                         swarm_err_t *err) {
        size_t need = (bytes + 255) & ~(size_t)255;
        int rc = SWARM_OK;

        if (cb->stage && cb->stage_used + need <= cb->stage_cap)
                goto done;
        CK(cudaStreamSynchronize(cb->st));
        cb->stage_used = 0;
        if (need > cb->stage_cap) {
                size_t cap = cb->stage_cap ? cb->stage_cap : STAGE_MIN;
                while (cap < need)
                        cap *= 2;
                if (cap > STAGE_MAX)
                        cap = need;
                if (cb->stage)
                        cudaFreeHost(cb->stage);
                cb->stage = NULL;
                cb->stage_cap = 0;
                CK(cudaHostAlloc((void **)&cb->stage, cap,
                                 cudaHostAllocDefault));
                cb->stage_cap = cap;
        }
done:
        *at = cb->stage + cb->stage_used;
        cb->stage_used += need;
out:
        return rc;
}

static int cu_upload(swarm_backend_t *be, void *dev, const void *host,
                     size_t bytes, swarm_err_t *err) {
        cuda_be_t *cb = cbe(be);
        unsigned char *st;
        rec_t *r;
        int rc = SWARM_OK;

        if (!bytes)
                return SWARM_OK;
        ENTER(cb);
        if (half_mode(cb) && (r = rec_find(cb, dev))) {
                r->uploads++;
                rec_drop_half(r);
        }
        if (bytes > STAGE_MAX) {
                /* Weights: from pageable memory the call returns once the
                 * driver has taken the bytes, so `host` may go right away. */
                CK(cudaMemcpyAsync(dev, host, bytes, cudaMemcpyHostToDevice,
                                   cb->st));
                goto out;
        }
        if ((rc = stage_reserve(cb, bytes, &st, err)))
                goto out;
        memcpy(st, host, bytes);
        CK(cudaMemcpyAsync(dev, st, bytes, cudaMemcpyHostToDevice, cb->st));
out:
        LEAVE(cb);
        return rc;
}

/* After the stream is idle: a gather that met a bad index reports it. */
static int check_flag(cuda_be_t *cb, swarm_err_t *err) {
        if (!cb->flag->bad)
                return SWARM_OK;
        cb->flag->bad = 0;
        return swarm_err_set(err, SWARM_ERR_INVALID,
                             "gather: index %lld out of range",
                             cb->flag->value);
}

static int cu_download(swarm_backend_t *be, void *host, const void *dev,
                       size_t bytes, swarm_err_t *err) {
        cuda_be_t *cb = cbe(be);
        unsigned char *st = NULL;
        int rc = SWARM_OK;

        ENTER(cb);
        if (bytes > STAGE_MAX) {
                CK(cudaMemcpyAsync(host, dev, bytes, cudaMemcpyDeviceToHost,
                                   cb->st));
        } else if (bytes) {
                if ((rc = stage_reserve(cb, bytes, &st, err)))
                        goto out;
                CK(cudaMemcpyAsync(st, dev, bytes, cudaMemcpyDeviceToHost,
                                   cb->st));
        }
        CK(cudaStreamSynchronize(cb->st));
        cb->stage_used = 0;
        if (st)
                memcpy(host, st, bytes);
        rc = check_flag(cb, err);
out:
        LEAVE(cb);
        return rc;
}

static int cu_copy(swarm_backend_t *be, void *dst, const void *src,
                   size_t bytes, swarm_err_t *err) {
        cuda_be_t *cb = cbe(be);
        int rc = SWARM_OK;

        if (!bytes || dst == src)
                return SWARM_OK;
        ENTER(cb);
        note_write(cb, dst);
        CK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, cb->st));
out:
        LEAVE(cb);
        return rc;
}

/* ---- GEMM ------------------------------------------------------------- */

static uint32_t align_of(const void *p) {
        uintptr_t a = (uintptr_t)p;
        uint32_t al = 256;
        while (al > 1 && (a & (al - 1)))
                al >>= 1;
        return al;
}

/* Grow a per-call scratch buffer (lock held).  cudaFree waits for queued
 * work, so nothing still reading the old buffer is cut short. */
static int scratch(void **buf, size_t *cap, size_t need, swarm_err_t *err) {
        int rc = SWARM_OK;

        if (need <= *cap)
                return SWARM_OK;
        if (*buf)
                cudaFree(*buf);
        *buf = NULL;
        *cap = 0;
        CK(cudaMalloc(buf, need));
        *cap = need;
out:
        return rc;
}

/* The fp16 / bf16 form of the operand at `p + off` stored as rows x cols
 * with row stride ld: a weight's cached copy, or a conversion into the
 * scratch buffer (slot 0 for A, 1 for B). */
static int half_operand(cuda_be_t *cb, const void *p, int64_t off,
                        int64_t rows, int64_t cols, int64_t ld, int slot,
                        const void **out, swarm_err_t *err) {
        int bf = cb->prec == SWARM_PREC_BF16;
        rec_t *r = rec_find(cb, p);
        int64_t span = (rows - 1) * ld + cols;
        int rc = SWARM_OK;

        if (r && r->uploads == 1 && !r->written) {
                if (!r->half) {
                        int64_t n = (int64_t)(r->bytes / sizeof(float));
                        CK(cudaMalloc(&r->half, (size_t)n * 2));
                        CK(swk_to_half(cb->st, p, r->half, n, bf));
                }
                *out = (const uint16_t *)r->half + off;
                return SWARM_OK;
        }
        if (slot == 0) {
                if ((rc = scratch(&cb->half_a, &cb->half_a_cap,
                                  (size_t)span * 2, err)))
                        goto out;
                CK(swk_to_half(cb->st, (const float *)p + off, cb->half_a,
                               span, bf));
                *out = cb->half_a;
        } else {
                if ((rc = scratch(&cb->half_b, &cb->half_b_cap,
                                  (size_t)span * 2, err)))
                        goto out;
                CK(swk_to_half(cb->st, (const float *)p + off, cb->half_b,
                               span, bf));
                *out = cb->half_b;
        }
out:
        return rc;
}

static void plan_release(plan_t *p) {
        if (p->desc)
                cublasLtMatmulDescDestroy(p->desc);
        if (p->la)
                cublasLtMatrixLayoutDestroy(p->la);
        if (p->lb)
                cublasLtMatrixLayoutDestroy(p->lb);
        if (p->lc)
                cublasLtMatrixLayoutDestroy(p->lc);
        memset(p, 0, sizeof(*p));
}

static cudaDataType_t op_type(swarm_precision_t p) {
        return p == SWARM_PREC_FP16 ? CUDA_R_16F
               : p == SWARM_PREC_BF16 ? CUDA_R_16BF : CUDA_R_32F;
}

static cublasComputeType_t compute_type(swarm_precision_t p) {
        return p == SWARM_PREC_TF32 ? CUBLAS_COMPUTE_32F_FAST_TF32
                                    : CUBLAS_COMPUTE_32F;
}

/* Find or build the cuBLASLt plan for `key`.  Row-major C = op(A) op(B) is
 * column-major C^T = op(B)^T op(A)^T, so cuBLASLt's A is our B and its B
 * our A, with m and n swapped; leading dimensions stay as they are. */
static int plan_get(cuda_be_t *cb, const plan_key_t *key, plan_t **out,
                    swarm_err_t *err) {
        cudaDataType_t t = op_type(cb->prec);
        cublasOperation_t opa = key->tb ? CUBLAS_OP_T : CUBLAS_OP_N;
        cublasOperation_t opb = key->ta ? CUBLAS_OP_T : CUBLAS_OP_N;
        cublasLtEpilogue_t epi = (cublasLtEpilogue_t)key->epi;
        cudaDataType_t f32 = CUDA_R_32F;
        cublasLtMatmulPreference_t pref = NULL;
        cublasLtMatmulHeuristicResult_t res;
        size_t ws = WS_BYTES;
        int found = 0, rc = SWARM_OK;
        plan_t *p;

        for (int i = 0; i < PLAN_CACHE; i++)
                if (cb->plans[i].used &&
                    !memcmp(&cb->plans[i].key, key, sizeof(*key))) {
                        *out = &cb->plans[i];
                        return SWARM_OK;
                }
        /* Round robin replacement: shapes per deployment are few, so the
         * cache only churns when batch sizes vary wildly. */
        p = &cb->plans[cb->next_plan];
        cb->next_plan = (cb->next_plan + 1) % PLAN_CACHE;
        plan_release(p);
        p->key = *key;
        BK(cublasLtMatmulDescCreate(&p->desc, compute_type(cb->prec),
                                    CUDA_R_32F));
        BK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSA,
                                          &opa, sizeof(opa)));
        BK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSB,
                                          &opb, sizeof(opb)));
        BK(cublasLtMatmulDescSetAttribute(p->desc,
                                          CUBLASLT_MATMUL_DESC_EPILOGUE, &epi,
                                          sizeof(epi)));
        if (epi & CUBLASLT_EPILOGUE_BIAS)
                BK(cublasLtMatmulDescSetAttribute(
                        p->desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &f32,
                        sizeof(f32)));
        BK(cublasLtMatrixLayoutCreate(&p->la, t, key->tb ? key->k : key->n,
                                      key->tb ? key->n : key->k, key->ldb));
        BK(cublasLtMatrixLayoutCreate(&p->lb, t, key->ta ? key->m : key->k,
                                      key->ta ? key->k : key->m, key->lda));
        BK(cublasLtMatrixLayoutCreate(&p->lc, CUDA_R_32F, key->n, key->m,
                                      key->ldc));
        BK(cublasLtMatmulPreferenceCreate(&pref));
        BK(cublasLtMatmulPreferenceSetAttribute(
                pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws,
                sizeof(ws)));
        /* Lt's A is our B, its B our A. */
        BK(cublasLtMatmulPreferenceSetAttribute(
                pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &key->al_b,
                sizeof(key->al_b)));
        BK(cublasLtMatmulPreferenceSetAttribute(
                pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &key->al_a,
                sizeof(key->al_a)));
        BK(cublasLtMatmulPreferenceSetAttribute(
                pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &key->al_c,
                sizeof(key->al_c)));
        BK(cublasLtMatmulPreferenceSetAttribute(
                pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &key->al_c,
                sizeof(key->al_c)));
        /* "No algorithm" is an answer (fall back to GemmEx), not an error. */
        if (cublasLtMatmulAlgoGetHeuristic(cb->lt, p->desc, p->la, p->lb,
                                           p->lc, p->lc, pref, 1, &res,
                                           &found) == CUBLAS_STATUS_SUCCESS &&
            found > 0) {
                p->algo = res.algo;
                p->ok = 1;
        }
        p->used = 1;
        *out = p;
out:
        if (pref)
                cublasLtMatmulPreferenceDestroy(pref);
        if (rc)
                plan_release(p);
        return rc;
}

static int cu_gemm(swarm_backend_t *be, const swarm_gemm_t *g,
                   swarm_err_t *err) {
        cuda_be_t *cb = cbe(be);
        const float *bias = g->bias ? (const float *)g->bias + g->bias_off
                                    : NULL;
        float *c = (float *)g->c + g->c_off;
        int64_t m = g->m, n = g->n, k = g->k;
        int64_t ar = g->trans_a ? k : m, ac = g->trans_a ? m : k;
        int64_t br = g->trans_b ? n : k, bc = g->trans_b ? k : n;
        const void *a, *b;
        int has_bias = g->bias_mode != SWARM_BIAS_NONE && bias &&
                       g->beta != 0.0f;
        int fuse_bias, fuse_act;
        float beta_c = 0.0f;
        plan_key_t key;
        plan_t *p = NULL;
        int rc = SWARM_OK;

        if (g->a_blk_rows || g->a_scale)
                return swarm_err_set(err, SWARM_ERR_BACKEND,
                                     "cuda: gemm takes no row blocks of A");
        if (m < 0 || n < 0 || k < 0 || m > INT32_MAX || n > INT32_MAX ||
            k > INT32_MAX || g->ldc < n ||
            (m && k && (g->lda < ac || g->ldb < bc)) ||
            g->lda > INT32_MAX || g->ldb > INT32_MAX || g->ldc > INT32_MAX)
                return swarm_err_set(err, SWARM_ERR_BACKEND,
                                     "cuda: gemm dimensions out of range "
                                     "(m=%lld n=%lld k=%lld)", (long long)m,
                                     (long long)n, (long long)k);
        if (m == 0 || n == 0)
                return SWARM_OK;
        ENTER(cb);
        note_write(cb, g->c);
        if (k == 0) {
                /* No product: C is the bias (or zero), then act. */
                if (has_bias)
                        CK(swk_fill_bias(cb->st, g->bias_mode, g->beta, bias,
                                         c, m, n, g->ldc));
                else
                        CK(cudaMemset2DAsync(c, (size_t)g->ldc * 4, 0,
                                             (size_t)n * 4, (size_t)m,
                                             cb->st));
                CK(swk_unary_2d(cb->st, g->act, g->act_alpha, g->act_beta, c,
                                m, n, g->ldc));
                goto out;
        }
        if (half_mode(cb)) {
                if ((rc = half_operand(cb, g->a, g->a_off, ar, ac, g->lda, 0,
                                       &a, err)) ||
                    (rc = half_operand(cb, g->b, g->b_off, br, bc, g->ldb, 1,
                                       &b, err)))
                        goto out;
        } else {
                a = (const float *)g->a + g->a_off;
                b = (const float *)g->b + g->b_off;
        }
        /* cuBLASLt adds an unscaled vector over D's rows (our columns):
         * exactly a ROW bias with beta 1, if the pointer is aligned. */
        fuse_bias = has_bias && g->bias_mode == SWARM_BIAS_ROW &&
                    g->beta == 1.0f && align_of(bias) >= 16;
        /* ReLU is exact wherever it runs.  cuBLASLt's GELU (tanh form) is
         * its own implementation: fused only where the precision's error
         * bound dwarfs a few ulps, fp32 keeps our kernel (CPU formula). */
        fuse_act = g->act == SWARM_ACT_RELU ||
                   (g->act == SWARM_ACT_GELU_TANH &&
                    cb->prec != SWARM_PREC_FP32);
        memset(&key, 0, sizeof(key));
        key.prec = cb->prec;
        key.ta = g->trans_a;
        key.tb = g->trans_b;
        key.m = m;
        key.n = n;
        key.k = k;
        key.lda = g->lda;
        key.ldb = g->ldb;
        key.ldc = g->ldc;
        key.al_a = align_of(a);
        key.al_b = align_of(b);
        key.al_c = align_of(c);
        key.epi = fuse_act ? (g->act == SWARM_ACT_RELU
                                      ? (fuse_bias ? CUBLASLT_EPILOGUE_RELU_BIAS
                                                   : CUBLASLT_EPILOGUE_RELU)
                                      : (fuse_bias ? CUBLASLT_EPILOGUE_GELU_BIAS
                                                   : CUBLASLT_EPILOGUE_GELU))
                           : (fuse_bias ? CUBLASLT_EPILOGUE_BIAS
                                        : CUBLASLT_EPILOGUE_DEFAULT);
        if ((rc = plan_get(cb, &key, &p, err)))
                goto out;
        if (!p->ok)
                fuse_bias = fuse_act = 0;
        if (has_bias && !fuse_bias) {
                /* Seed C with beta * bias; the product accumulates. */
                CK(swk_fill_bias(cb->st, g->bias_mode, g->beta, bias, c, m, n,
                                 g->ldc));
                beta_c = 1.0f;
        }
        if (p->ok) {
                if (fuse_bias)
                        BK(cublasLtMatmulDescSetAttribute(
                                p->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER,
                                &bias, sizeof(bias)));
                BK(cublasLtMatmul(cb->lt, p->desc, &g->alpha, b, p->la, a,
                                  p->lb, &beta_c, c, p->lc, c, p->lc,
                                  &p->algo, cb->ws, WS_BYTES, cb->st));
        } else {
                cudaDataType_t t = op_type(cb->prec);
                BK(cublasGemmEx(cb->blas,
                                g->trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                                g->trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                                (int)n, (int)m, (int)k, &g->alpha, b, t,
                                (int)g->ldb, a, t, (int)g->lda, &beta_c, c,
                                CUDA_R_32F, (int)g->ldc,
                                compute_type(cb->prec), CUBLAS_GEMM_DEFAULT));
        }
        if (!fuse_act)
                CK(swk_unary_2d(cb->st, g->act, g->act_alpha, g->act_beta, c,
                                m, n, g->ldc));
out:
        LEAVE(cb);
        return rc;
}

/* ---- element-wise and the rest ---------------------------------------- */

static int fill_dims(int ndim, const int64_t *shape, const int64_t *sa,
                     const int64_t *sb, swk_dims_t *d, swarm_err_t *err) {
        if (ndim < 0 || ndim > SWARM_MAX_DIMS)
                return swarm_err_set(err, SWARM_ERR_BACKEND,
                                     "cuda: %d dims (at most %d)", ndim,
                                     SWARM_MAX_DIMS);
        memset(d, 0, sizeof(*d));
        d->nd = ndim;
        for (int i = 0; i < ndim; i++) {
                d->shape[i] = shape[i];
                d->sa[i] = sa[i];
                d->sb[i] = sb[i];
        }
        return SWARM_OK;
}

static int cu_binary(swarm_backend_t *be, swarm_binop_t op, int ndim,
                     const int64_t *shape, const void *a, const int64_t *a_str,
                     const void *b, const int64_t *b_str, void *c,
                     swarm_err_t *err) {
        cuda_be_t *cb = cbe(be);
        swk_dims_t d;
        int rc;

        if ((rc = fill_dims(ndim, shape, a_str, b_str, &d, err)))
                return rc;
        ENTER(cb);
        note_write(cb, c);
        CK(swk_binary(cb->st, op, &d, a, b, c));
out:
        LEAVE(cb);
        return rc;
}

static int cu_add(swarm_backend_t *be, int ndim, const int64_t *shape,
                  const void *a, const int64_t *a_str, const void *b,
                  const int64_t *b_str, void *c, swarm_err_t *err) {
        return cu_binary(be, SWARM_BIN_ADD, ndim, shape, a, a_str, b, b_str, c,
                         err);
}

static int cu_unary(swarm_backend_t *be, swarm_act_t act, float a, float b,
                    const void *x, void *y, int64_t n, swarm_err_t *err) {
        cuda_be_t *cb = cbe(be);
        int rc = SWARM_OK;

        if (n <= 0 || (act == SWARM_ACT_NONE && x == y))
                return SWARM_OK;
        ENTER(cb);
        note_write(cb, y);
        if (act == SWARM_ACT_NONE)
                CK(cudaMemcpyAsync(y, x, (size_t)n * sizeof(float),
                                   cudaMemcpyDeviceToDevice, cb->st));
        else
                CK(swk_unary(cb->st, act, a, b, x, y, n));
out:
        LEAVE(cb);
        return rc;
}

static int cu_act(swarm_backend_t *be, swarm_act_t act, const void *x,
                  void *y, int64_t n, swarm_err_t *err) {
        return cu_unary(be, act, 0.0f, 0.0f, x, y, n, err);
}

static int softmax_any(swarm_backend_t *be, const void *x, void *y,
                       int64_t outer, int64_t n, int64_t inner, int log_form,
                       swarm_err_t *err) {
        cuda_be_t *cb = cbe(be);
        int rc = SWARM_OK;

        if (n <= 0)
                return SWARM_OK;
        ENTER(cb);
        note_write(cb, y);
        CK(swk_softmax(cb->st, x, y, outer, n, inner, log_form));
out:
        LEAVE(cb);
        return rc;
}

static int cu_softmax(swarm_backend_t *be, const void *x, void *y,
                      int64_t outer, int64_t n, int64_t inner,
                      swarm_err_t *err) {
        return softmax_any(be, x, y, outer, n, inner, 0, err);
}

static int cu_log_softmax(swarm_backend_t *be, const void *x, void *y,
                          int64_t outer, int64_t n, int64_t inner,
                          swarm_err_t *err) {
        return softmax_any(be, x, y, outer, n, inner, 1, err);
}

static int cu_reduce(swarm_backend_t *be, swarm_reduce_t op, int ndim,
                     const int64_t *shape, uint32_t axes, const void *x,
                     void *y, swarm_err_t *err) {
        cuda_be_t *cb = cbe(be);
        int rc = SWARM_OK;

        if (ndim < 0 || ndim > SWARM_MAX_DIMS)
                return swarm_err_set(err, SWARM_ERR_BACKEND,
                                     "cuda: reduce with %d dims", ndim);
        ENTER(cb);
        note_write(cb, y);
        CK(swk_reduce(cb->st, op, ndim, shape, axes, x, y));
out:
        LEAVE(cb);
        return rc;
}

static int cu_pool(swarm_backend_t *be, swarm_pool_kind_t kind,
                   const swarm_window_t *w, const void *x, void *y,
                   swarm_err_t *err) {
        cuda_be_t *cb = cbe(be);
        int rc = SWARM_OK;

        ENTER(cb);
        note_write(cb, y);
        CK(swk_pool(cb->st, kind, w, x, y));
out:
        LEAVE(cb);
        return rc;
}

static int cu_im2col(swarm_backend_t *be, const swarm_window_t *w,
                     const void *x, int64_t x_off, void *col,
                     swarm_err_t *err) {
        cuda_be_t *cb = cbe(be);
        int rc = SWARM_OK;

        ENTER(cb);
        note_write(cb, col);
        CK(swk_im2col(cb->st, w, (const float *)x + x_off, col));
out:
        LEAVE(cb);
        return rc;
}

static int cu_gather(swarm_backend_t *be, const void *x, int64_t outer,
                     int64_t axis_n, int64_t inner, const void *idx,
                     int idx64, int64_t n_idx, void *y, swarm_err_t *err) {
        cuda_be_t *cb = cbe(be);
        int rc = SWARM_OK;

        ENTER(cb);
        note_write(cb, y);
        /* The indices live on the device: checking them here would cost a
         * synchronisation per Gather, so the kernel flags a bad one and the
         * next download reports it (SWARM_ERR_INVALID, as on the CPU). */
        CK(swk_gather(cb->st, x, outer, axis_n, inner, idx, idx64, n_idx, y,
                      cb->flag));
out:
        LEAVE(cb);
        return rc;
}

static int cu_copy_strided(swarm_backend_t *be, int ndim,
                           const int64_t *shape, const void *x, int64_t x_off,
                           const int64_t *x_str, void *y, int64_t y_off,
                           const int64_t *y_str, swarm_err_t *err) {
        cuda_be_t *cb = cbe(be);
        static const int64_t one[1] = {1};
        swk_dims_t d;
        int rc;

        /* 0-D is a one-element copy. */
        if (ndim == 0)
                rc = fill_dims(1, one, one, one, &d, err);
        else
                rc = fill_dims(ndim, shape, x_str, y_str, &d, err);
        if (rc)
                return rc;
        ENTER(cb);
        note_write(cb, y);
        CK(swk_copy_strided(cb->st, &d, (const uint32_t *)x + x_off,
                            (uint32_t *)y + y_off));
out:
        LEAVE(cb);
        return rc;
}

static int cu_channel_affine(swarm_backend_t *be, const void *x,
                             const void *scale, const void *bias, void *y,
                             int64_t outer, int64_t c, int64_t inner,
                             swarm_err_t *err) {
        cuda_be_t *cb = cbe(be);
        int rc = SWARM_OK;

        ENTER(cb);
        note_write(cb, y);
        CK(swk_channel_affine(cb->st, x, scale, bias, y, outer, c, inner));
out:
        LEAVE(cb);
        return rc;
}

static int cu_layer_norm(swarm_backend_t *be, const void *x,
                         const void *scale, const void *bias, void *y,
                         int64_t outer, int64_t n, float eps,
                         swarm_err_t *err) {
        cuda_be_t *cb = cbe(be);
        int rc = SWARM_OK;

        ENTER(cb);
        note_write(cb, y);
        CK(swk_layer_norm(cb->st, x, scale, bias, y, outer, n, eps));
out:
        LEAVE(cb);
        return rc;
}

/* ---- life cycle ------------------------------------------------------- */

static void cu_destroy(swarm_backend_t *be) {
        cuda_be_t *cb = cbe(be);

        if (!cb)
                return;
        cudaSetDevice(cb->device);
        if (cb->st)
                cudaStreamSynchronize(cb->st);
        for (int i = 0; i < PLAN_CACHE; i++)
                plan_release(&cb->plans[i]);
        for (size_t i = 0; i < cb->n_recs; i++)
                rec_drop_half(&cb->recs[i]);
        free(cb->recs);
        if (cb->lt)
                cublasLtDestroy(cb->lt);
        if (cb->blas)
                cublasDestroy(cb->blas);
        cudaFree(cb->ws);
        cudaFree(cb->half_a);
        cudaFree(cb->half_b);
        if (cb->stage)
                cudaFreeHost(cb->stage);
        if (cb->flag)
                cudaFreeHost(cb->flag);
        if (cb->st)
                cudaStreamDestroy(cb->st);
        pthread_mutex_destroy(&cb->mu);
        free(cb);
}

int swarm_cuda_device_count(void) {
        int n = 0;

        if (cudaGetDeviceCount(&n) != cudaSuccess) {
                (void)cudaGetLastError();
                return 0;
        }
        return n;
}

static int cuda_init(cuda_be_t *cb, swarm_err_t *err) {
        struct cudaDeviceProp prop;
        int rc = SWARM_OK;

        CK(cudaSetDevice(cb->device));
        CK(cudaGetDeviceProperties(&prop, cb->device));
        if (cb->prec == SWARM_PREC_BF16 && prop.major < 8) {
                rc = swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                   "cuda: bf16 needs sm_80 or newer (%s is "
                                   "sm_%d%d)", prop.name, prop.major,
                                   prop.minor);
                goto out;
        }
        CK(swk_probe());
        CK(cudaStreamCreateWithFlags(&cb->st, cudaStreamNonBlocking));
        CK(cudaMalloc(&cb->ws, WS_BYTES));
        CK(cudaHostAlloc((void **)&cb->flag, sizeof(*cb->flag),
                         cudaHostAllocMapped));
        memset(cb->flag, 0, sizeof(*cb->flag));
        BK(cublasCreate(&cb->blas));
        BK(cublasSetStream(cb->blas, cb->st));
        BK(cublasSetWorkspace(cb->blas, cb->ws, WS_BYTES));
        /* TF32 for cublasGemmEx is chosen by the compute type alone: the
         * default math mode never rounds COMPUTE_32F to TF32. */
        BK(cublasSetMathMode(cb->blas, CUBLAS_DEFAULT_MATH));
        BK(cublasLtCreate(&cb->lt));
out:
        return rc;
}

int swarm_backend_cuda_new(int device, swarm_precision_t precision,
                           swarm_backend_t **out, swarm_err_t *err) {
        cuda_be_t *cb;
        int n = swarm_cuda_device_count(), rc;

        *out = NULL;
        if (device < 0 || device >= n)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "cuda: device %d out of range (%d device%s)",
                                     device, n, n == 1 ? "" : "s");
        if ((unsigned)precision > SWARM_PREC_BF16)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "cuda: bad precision %d", (int)precision);
        cb = calloc(1, sizeof(*cb));
        if (!cb)
                return swarm_err_set(err, SWARM_ERR_NOMEM,
                                     "cuda backend: out of memory");
        pthread_mutex_init(&cb->mu, NULL);
        cb->device = device;
        cb->prec = precision;
        if ((rc = cuda_init(cb, err))) {
                swarm_err_prefix(err, "cuda backend on device %d: ", device);
                cu_destroy(&cb->be);
                return rc;
        }
        cb->be.name = "cuda";
        cb->be.host_mem = 0;
        cb->be.alloc = cu_alloc;
        cb->be.free_buf = cu_free;
        cb->be.upload = cu_upload;
        cb->be.download = cu_download;
        cb->be.gemm = cu_gemm;
        cb->be.add = cu_add;
        cb->be.act = cu_act;
        cb->be.softmax = cu_softmax;
        cb->be.copy = cu_copy;
        cb->be.binary = cu_binary;
        cb->be.unary = cu_unary;
        cb->be.log_softmax = cu_log_softmax;
        cb->be.reduce = cu_reduce;
        cb->be.pool = cu_pool;
        cb->be.im2col = cu_im2col;
        cb->be.gather = cu_gather;
        cb->be.copy_strided = cu_copy_strided;
        cb->be.channel_affine = cu_channel_affine;
        cb->be.layer_norm = cu_layer_norm;
        cb->be.destroy = cu_destroy;
        *out = &cb->be;
        return SWARM_OK;
}
