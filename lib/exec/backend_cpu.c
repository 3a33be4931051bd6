/*
 * backend_cpu.c - the CPU backend: OpenBLAS sgemm plus plain C loops.
 *
 * Device handles are host pointers (host_mem = 1), so the executor reads
 * inputs in place and returns outputs without copies.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "swarm/backend.h"
#include "swarm/tensor.h"

static int cpu_alloc(swarm_backend_t *be, size_t bytes, void **out,
                     swarm_err_t *err) {
        /* 64-byte alignment keeps OpenBLAS and the vectorised loops on full
         * cache lines. */
        size_t sz = (bytes + 63) & ~(size_t)63;
        void *p;

        *out = NULL;
        if (bytes == 0 || sz < bytes)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "cpu: bad allocation size %zu", bytes);
        p = aligned_alloc(64, sz);
        if (!p)
                return swarm_err_set(err, SWARM_ERR_NOMEM,
                                     "cpu: out of memory allocating %zu bytes",
                                     bytes);
        *out = p;
        return SWARM_OK;
}

static void cpu_free(swarm_backend_t *be, void *dev) {
        free(dev);
}

static int cpu_memcpy(swarm_backend_t *be, void *dst, const void *src,
                      size_t bytes, swarm_err_t *err) {
        if (bytes && dst != src)
                memmove(dst, src, bytes);
        return SWARM_OK;
}

static float apply_act(swarm_act_t act, float v) {
        switch (act) {
        case SWARM_ACT_RELU:
                return v > 0.0f ? v : 0.0f;
        case SWARM_ACT_SIGMOID:
                /* Split by sign so exp() never overflows. */
                if (v >= 0.0f) {
                        return 1.0f / (1.0f + expf(-v));
                } else {
                        float e = expf(v);
                        return e / (1.0f + e);
                }
        case SWARM_ACT_TANH:
                return tanhf(v);
        default:
                return v;
        }
}

static int cpu_act(swarm_backend_t *be, swarm_act_t act, const void *x,
                   void *y, int64_t n, swarm_err_t *err) {
        const float *xs = x;
        float *ys = y;

        if (act == SWARM_ACT_RELU) {
                /* Kept separate so the compiler vectorises it. */
                for (int64_t i = 0; i < n; i++)
                        ys[i] = xs[i] > 0.0f ? xs[i] : 0.0f;
                return SWARM_OK;
        }
        for (int64_t i = 0; i < n; i++)
                ys[i] = apply_act(act, xs[i]);
        return SWARM_OK;
}

static void fill_bias(const swarm_gemm_t *g, const float *bias, float *c) {
        float beta = g->beta;

        for (int64_t i = 0; i < g->m; i++) {
                float *row = c + i * g->ldc;
                switch (g->bias_mode) {
                case SWARM_BIAS_SCALAR:
                        for (int64_t j = 0; j < g->n; j++)
                                row[j] = beta * bias[0];
                        break;
                case SWARM_BIAS_ROW:
                        for (int64_t j = 0; j < g->n; j++)
                                row[j] = beta * bias[j];
                        break;
                case SWARM_BIAS_COL:
                        for (int64_t j = 0; j < g->n; j++)
                                row[j] = beta * bias[i];
                        break;
                default: /* FULL */
                        for (int64_t j = 0; j < g->n; j++)
                                row[j] = beta * bias[i * g->n + j];
                        break;
                }
        }
}

static int cpu_gemm(swarm_backend_t *be, const swarm_gemm_t *g,
                    swarm_err_t *err) {
        const float *a = (const float *)g->a + g->a_off;
        const float *b = (const float *)g->b + g->b_off;
        const float *bias = g->bias ? (const float *)g->bias + g->bias_off
                                    : NULL;
        float *c = (float *)g->c + g->c_off;
        int64_t m = g->m, n = g->n, k = g->k;
        float beta_c = 0.0f;

        if (m < 0 || n < 0 || k < 0 || m > INT32_MAX || n > INT32_MAX ||
            k > INT32_MAX || g->lda > INT32_MAX || g->ldb > INT32_MAX ||
            g->ldc > INT32_MAX)
                return swarm_err_set(err, SWARM_ERR_BACKEND,
                                     "cpu: gemm dimensions out of range");
        if (m == 0 || n == 0)
                return SWARM_OK;

        /* Seed C with beta * bias and let sgemm accumulate into it: one pass
         * over C instead of a separate bias pass after the product. */
        if (g->bias_mode != SWARM_BIAS_NONE && bias && g->beta != 0.0f) {
                fill_bias(g, bias, c);
                beta_c = 1.0f;
        }
        if (k == 0) {
                if (beta_c == 0.0f)
                        for (int64_t i = 0; i < m; i++)
                                memset(c + i * g->ldc, 0,
                                       (size_t)n * sizeof(float));
        } else {
                cblas_sgemm(CblasRowMajor,
                            g->trans_a ? CblasTrans : CblasNoTrans,
                            g->trans_b ? CblasTrans : CblasNoTrans,
                            (blasint)m, (blasint)n, (blasint)k, g->alpha, a,
                            (blasint)g->lda, b, (blasint)g->ldb, beta_c, c,
                            (blasint)g->ldc);
        }
        /* Activation while the rows are still warm in cache. */
        if (g->act != SWARM_ACT_NONE)
                for (int64_t i = 0; i < m; i++)
                        cpu_act(be, g->act, c + i * g->ldc, c + i * g->ldc, n,
                                err);
        return SWARM_OK;
}

static int cpu_add(swarm_backend_t *be, int ndim, const int64_t *shape,
                   const void *a, const int64_t *a_str, const void *b,
                   const int64_t *b_str, void *c, swarm_err_t *err) {
        const float *as = a, *bs = b;
        float *cs = c;
        int64_t idx[SWARM_MAX_DIMS] = {0};
        int64_t inner, outer = 1, ao = 0, bo = 0, ais, bis;

        if (ndim < 0 || ndim > SWARM_MAX_DIMS)
                return swarm_err_set(err, SWARM_ERR_BACKEND,
                                     "cpu: add with %d dims", ndim);
        if (ndim == 0) {
                cs[0] = as[0] + bs[0];
                return SWARM_OK;
        }
        inner = shape[ndim - 1];
        ais = a_str[ndim - 1];
        bis = b_str[ndim - 1];
        for (int d = 0; d < ndim - 1; d++)
                outer *= shape[d];
        if (inner == 0)
                return SWARM_OK;
        /* Walk the outer dims with an odometer; the inner loop has stride 0
         * or 1 per operand, which makes bias-over-rows a straight loop. */
        for (int64_t o = 0; o < outer; o++) {
                float *cr = cs + o * inner;
                const float *ar = as + ao, *br = bs + bo;
                if (ais == 1 && bis == 1)
                        for (int64_t j = 0; j < inner; j++)
                                cr[j] = ar[j] + br[j];
                else if (ais == 1 && bis == 0)
                        for (int64_t j = 0; j < inner; j++)
                                cr[j] = ar[j] + br[0];
                else
                        for (int64_t j = 0; j < inner; j++)
                                cr[j] = ar[j * ais] + br[j * bis];
                for (int d = ndim - 2; d >= 0; d--) {
                        idx[d]++;
                        ao += a_str[d];
                        bo += b_str[d];
                        if (idx[d] < shape[d])
                                break;
                        ao -= a_str[d] * shape[d];
                        bo -= b_str[d] * shape[d];
                        idx[d] = 0;
                }
        }
        return SWARM_OK;
}

static int cpu_softmax(swarm_backend_t *be, const void *x, void *y,
                       int64_t outer, int64_t n, int64_t inner,
                       swarm_err_t *err) {
        const float *xs = x;
        float *ys = y;

        if (n <= 0)
                return SWARM_OK;
        for (int64_t o = 0; o < outer; o++) {
                for (int64_t in = 0; in < inner; in++) {
                        const float *xp = xs + o * n * inner + in;
                        float *yp = ys + o * n * inner + in;
                        float mx = -INFINITY, sum = 0.0f;
                        /* Subtract the max so exp() cannot overflow. */
                        for (int64_t j = 0; j < n; j++)
                                if (xp[j * inner] > mx)
                                        mx = xp[j * inner];
                        for (int64_t j = 0; j < n; j++) {
                                float e = expf(xp[j * inner] - mx);
                                yp[j * inner] = e;
                                sum += e;
                        }
                        for (int64_t j = 0; j < n; j++)
                                yp[j * inner] /= sum;
                }
        }
        return SWARM_OK;
}

static void cpu_destroy(swarm_backend_t *be) {
        free(be);
}

swarm_backend_t *swarm_backend_cpu_new(int threads, swarm_err_t *err) {
        swarm_backend_t *be = calloc(1, sizeof(*be));

        if (!be) {
                swarm_err_set(err, SWARM_ERR_NOMEM,
                              "cpu backend: out of memory");
                return NULL;
        }
        be->name = "cpu";
        be->host_mem = 1;
        be->alloc = cpu_alloc;
        be->free_buf = cpu_free;
        be->upload = cpu_memcpy;
        be->download = cpu_memcpy;
        be->gemm = cpu_gemm;
        be->add = cpu_add;
        be->act = cpu_act;
        be->softmax = cpu_softmax;
        be->copy = cpu_memcpy;
        be->destroy = cpu_destroy;
        /* See backend.h for why 1 is the default. */
        openblas_set_num_threads(threads > 0 ? threads : 1);
        return be;
}

void swarm_backend_destroy(swarm_backend_t *be) {
        if (be && be->destroy)
                be->destroy(be);
}
