/*
 * kernels.cu - our own CUDA kernels for every backend entry that is not a
 * GEMM.  Each mirrors the reference loop in lib/exec/backend_cpu.c so the
 * GPU tests can hold fp32 results to 1e-5 of the CPU: same formulas, the
 * same NaN rules, double accumulation where the CPU accumulates in double.
 * No --use_fast_math for the same reason.
 *
 * All indexing is 64-bit: batches of big images pass 2^31 elements.
 */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math.h>
#include <stdint.h>

#include "cuda_internal.h"
#include "../exec/scalar_ops.h"

#define THREADS 256
/* Grid-stride loops: enough blocks to fill any current GPU several times
 * over without a grid of millions of tiny blocks. */
#define MAX_BLOCKS 65535

static unsigned blocks_for(int64_t n) {
        int64_t b = (n + THREADS - 1) / THREADS;
        return (unsigned)(b < 1 ? 1 : b > MAX_BLOCKS ? MAX_BLOCKS : b);
}

#define GRID_LOOP(i, n)                                                        \
        for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;       \
             i < (n); i += (int64_t)gridDim.x * blockDim.x)

/* The formulas are the CPU backend's (lib/exec/scalar_ops.h). */
__device__ __forceinline__ float apply_act(swarm_act_t act, float a, float b,
                                           float v) {
        return swarm_act_scalar(act, a, b, v);
}

__global__ void k_unary(swarm_act_t act, float a, float b, const float *x,
                        float *y, int64_t n) {
        GRID_LOOP(i, n) y[i] = apply_act(act, a, b, x[i]);
}

__global__ void k_unary_2d(swarm_act_t act, float a, float b, float *c,
                           int64_t m, int64_t n, int64_t ldc) {
        GRID_LOOP(i, m * n) {
                float *p = c + (i / n) * ldc + i % n;
                *p = apply_act(act, a, b, *p);
        }
}

extern "C" cudaError_t swk_unary(cudaStream_t st, swarm_act_t act, float a,
                                 float b, const float *x, float *y,
                                 int64_t n) {
        if (n <= 0)
                return cudaSuccess;
        k_unary<<<blocks_for(n), THREADS, 0, st>>>(act, a, b, x, y, n);
        return cudaGetLastError();
}

extern "C" cudaError_t swk_unary_2d(cudaStream_t st, swarm_act_t act, float a,
                                    float b, float *c, int64_t m, int64_t n,
                                    int64_t ldc) {
        if (m <= 0 || n <= 0 || act == SWARM_ACT_NONE)
                return cudaSuccess;
        k_unary_2d<<<blocks_for(m * n), THREADS, 0, st>>>(act, a, b, c, m, n,
                                                          ldc);
        return cudaGetLastError();
}

__global__ void k_fill_bias(swarm_bias_t mode, float beta, const float *bias,
                            float *c, int64_t m, int64_t n, int64_t ldc) {
        GRID_LOOP(t, m * n) {
                int64_t i = t / n, j = t % n;
                float v;
                switch (mode) {
                case SWARM_BIAS_SCALAR: v = bias[0]; break;
                case SWARM_BIAS_ROW: v = bias[j]; break;
                case SWARM_BIAS_COL: v = bias[i]; break;
                default: v = bias[i * n + j]; break;
                }
                c[i * ldc + j] = beta * v;
        }
}

extern "C" cudaError_t swk_fill_bias(cudaStream_t st, swarm_bias_t mode,
                                     float beta, const float *bias, float *c,
                                     int64_t m, int64_t n, int64_t ldc) {
        if (m <= 0 || n <= 0)
                return cudaSuccess;
        k_fill_bias<<<blocks_for(m * n), THREADS, 0, st>>>(mode, beta, bias, c,
                                                           m, n, ldc);
        return cudaGetLastError();
}

__device__ __forceinline__ float binop(swarm_binop_t op, float a, float b) {
        switch (op) {
        case SWARM_BIN_ADD: return a + b;
        case SWARM_BIN_SUB: return a - b;
        case SWARM_BIN_MUL: return a * b;
        case SWARM_BIN_DIV: return a / b;
        case SWARM_BIN_POW: return powf(a, b);
        case SWARM_BIN_MAX: return a != a || a > b ? a : b;
        case SWARM_BIN_MIN: return a != a || a < b ? a : b;
        }
        return 0.0f;
}

__global__ void k_binary(swarm_binop_t op, swk_dims_t d, const float *a,
                         const float *b, float *c, int64_t total) {
        GRID_LOOP(i, total) {
                int64_t r = i, ao = 0, bo = 0;
                for (int k = d.nd - 1; k >= 0; k--) {
                        int64_t q = r % d.shape[k];
                        r /= d.shape[k];
                        ao += q * d.sa[k];
                        bo += q * d.sb[k];
                }
                c[i] = binop(op, a[ao], b[bo]);
        }
}

/* Same shapes, both contiguous: the common residual add / gating mul. */
__global__ void k_binary_flat(swarm_binop_t op, const float *a,
                              const float *b, float *c, int64_t total) {
        GRID_LOOP(i, total) c[i] = binop(op, a[i], b[i]);
}

extern "C" cudaError_t swk_binary(cudaStream_t st, swarm_binop_t op,
                                  const swk_dims_t *d, const float *a,
                                  const float *b, float *c) {
        int64_t total = 1, s = 1;
        int flat = 1;

        for (int k = d->nd - 1; k >= 0; k--) {
                total *= d->shape[k];
                if (d->shape[k] != 1 && (d->sa[k] != s || d->sb[k] != s))
                        flat = 0;
                s *= d->shape[k];
        }
        if (total <= 0)
                return cudaSuccess;
        if (flat)
                k_binary_flat<<<blocks_for(total), THREADS, 0, st>>>(op, a, b,
                                                                     c, total);
        else
                k_binary<<<blocks_for(total), THREADS, 0, st>>>(op, *d, a, b,
                                                                c, total);
        return cudaGetLastError();
}

/* Block-wide reductions over THREADS threads (warp shuffles, then one
 * shared slot per warp).  Every thread gets the result. */
template <typename T, typename F>
__device__ T block_reduce(T v, F f, T *sh) {
        const unsigned full = 0xffffffffu;
        int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
        int nw = (blockDim.x + 31) >> 5;

        for (int o = 16; o > 0; o >>= 1)
                v = f(v, __shfl_down_sync(full, v, o));
        __syncthreads();        /* sh may still be read by a previous call */
        if (lane == 0)
                sh[wid] = v;
        __syncthreads();
        v = sh[0];
        for (int w = 1; w < nw; w++)
                v = f(v, sh[w]);
        return v;
}

struct fmax_op {
        __device__ float operator()(float a, float b) const {
                return b > a ? b : a;
        }
};
struct fsum_op {
        __device__ float operator()(float a, float b) const { return a + b; }
};
struct dsum_op {
        __device__ double operator()(double a, double b) const {
                return a + b;
        }
};

/* inner == 1: one block per row, the row read three times from cache. */
__global__ void k_softmax_rows(const float *x, float *y, int64_t outer,
                               int64_t n, int log_form) {
        __shared__ float shf[32];
        for (int64_t o = blockIdx.x; o < outer; o += gridDim.x) {
                const float *xp = x + o * n;
                float *yp = y + o * n;
                float mx = -INFINITY, sum = 0.0f;
                for (int64_t j = threadIdx.x; j < n; j += blockDim.x)
                        mx = fmaxf(mx, xp[j]);
                mx = block_reduce(mx, fmax_op(), shf);
                for (int64_t j = threadIdx.x; j < n; j += blockDim.x)
                        sum += expf(xp[j] - mx);
                sum = block_reduce(sum, fsum_op(), shf);
                if (log_form) {
                        float ls = logf(sum);
                        for (int64_t j = threadIdx.x; j < n; j += blockDim.x)
                                yp[j] = xp[j] - mx - ls;
                } else {
                        for (int64_t j = threadIdx.x; j < n; j += blockDim.x)
                                yp[j] = expf(xp[j] - mx) / sum;
                }
        }
}

/* inner > 1: one thread per (outer, inner) column, coalesced over inner. */
__global__ void k_softmax_cols(const float *x, float *y, int64_t outer,
                               int64_t n, int64_t inner, int log_form) {
        GRID_LOOP(t, outer * inner) {
                int64_t o = t / inner, in = t % inner;
                const float *xp = x + o * n * inner + in;
                float *yp = y + o * n * inner + in;
                float mx = -INFINITY, sum = 0.0f;
                for (int64_t j = 0; j < n; j++)
                        if (xp[j * inner] > mx)
                                mx = xp[j * inner];
                for (int64_t j = 0; j < n; j++)
                        sum += expf(xp[j * inner] - mx);
                if (log_form) {
                        float ls = logf(sum);
                        for (int64_t j = 0; j < n; j++)
                                yp[j * inner] = xp[j * inner] - mx - ls;
                } else {
                        for (int64_t j = 0; j < n; j++)
                                yp[j * inner] = expf(xp[j * inner] - mx) / sum;
                }
        }
}

extern "C" cudaError_t swk_softmax(cudaStream_t st, const float *x, float *y,
                                   int64_t outer, int64_t n, int64_t inner,
                                   int log_form) {
        if (outer <= 0 || n <= 0 || inner <= 0)
                return cudaSuccess;
        if (inner == 1) {
                int64_t g = outer < MAX_BLOCKS ? outer : MAX_BLOCKS;
                /* Short rows (class logits) waste most of a 256-thread
                 * block; one warp per row is plenty there. */
                int th = n <= 64 ? 32 : n <= 1024 ? 128 : THREADS;
                k_softmax_rows<<<(unsigned)g, th, 0, st>>>(x, y, outer, n,
                                                           log_form);
        } else {
                k_softmax_cols<<<blocks_for(outer * inner), THREADS, 0, st>>>(
                        x, y, outer, n, inner, log_form);
        }
        return cudaGetLastError();
}

/* Reduction: kept dims enumerate outputs, reduced dims enumerate the
 * values of one output; both map to x offsets through x's strides. */
typedef struct red_geom {
        int nk, nr;
        int64_t kshape[SWARM_MAX_DIMS], kstr[SWARM_MAX_DIMS];
        int64_t rshape[SWARM_MAX_DIMS], rstr[SWARM_MAX_DIMS];
} red_geom_t;

struct red_combine {
        swarm_reduce_t op;
        __device__ double operator()(double a, double b) const {
                switch (op) {
                case SWARM_RED_MAX:
                        return a != a || b != b ? (a != a ? a : b)
                                                : (b > a ? b : a);
                case SWARM_RED_MIN:
                        return a != a || b != b ? (a != a ? a : b)
                                                : (b < a ? b : a);
                case SWARM_RED_PROD:
                        return a * b;
                default:
                        return a + b;
                }
        }
};

__global__ void k_reduce(swarm_reduce_t op, red_geom_t g, int64_t out_n,
                         int64_t cnt, const float *x, float *y) {
        __shared__ double shd[32];
        red_combine f = {op};
        double init = op == SWARM_RED_MAX ? -INFINITY
                      : op == SWARM_RED_MIN ? INFINITY
                      : op == SWARM_RED_PROD ? 1.0 : 0.0;

        for (int64_t o = blockIdx.x; o < out_n; o += gridDim.x) {
                int64_t base = 0, r = o;
                double acc = init;
                for (int k = g.nk - 1; k >= 0; k--) {
                        base += (r % g.kshape[k]) * g.kstr[k];
                        r /= g.kshape[k];
                }
                for (int64_t e = threadIdx.x; e < cnt; e += blockDim.x) {
                        int64_t off = base, q = e;
                        double v;
                        for (int k = g.nr - 1; k >= 0; k--) {
                                off += (q % g.rshape[k]) * g.rstr[k];
                                q /= g.rshape[k];
                        }
                        v = x[off];
                        if (op == SWARM_RED_SUMSQUARE || op == SWARM_RED_L2)
                                v *= v;
                        acc = f(acc, v);
                }
                acc = block_reduce(acc, f, shd);
                if (threadIdx.x == 0) {
                        if (op == SWARM_RED_MEAN)
                                acc = cnt ? acc / (double)cnt : NAN;
                        else if (op == SWARM_RED_L2)
                                acc = sqrt(acc);
                        y[o] = (float)acc;
                }
        }
}

extern "C" cudaError_t swk_reduce(cudaStream_t st, swarm_reduce_t op,
                                  int ndim, const int64_t *shape,
                                  uint32_t axes, const float *x, float *y) {
        red_geom_t g;
        int64_t s = 1, out_n = 1, cnt = 1;
        int th;

        g.nk = g.nr = 0;
        /* Build both lists in order (outermost first); strides are x's. */
        int64_t str[SWARM_MAX_DIMS];
        for (int d = ndim - 1; d >= 0; d--) {
                str[d] = s;
                s *= shape[d];
        }
        for (int d = 0; d < ndim; d++) {
                if (axes & (1u << d)) {
                        g.rshape[g.nr] = shape[d];
                        g.rstr[g.nr++] = str[d];
                        cnt *= shape[d];
                } else {
                        g.kshape[g.nk] = shape[d];
                        g.kstr[g.nk++] = str[d];
                        out_n *= shape[d];
                }
        }
        if (out_n <= 0)
                return cudaSuccess;
        th = cnt <= 64 ? 32 : cnt <= 2048 ? 128 : THREADS;
        k_reduce<<<(unsigned)(out_n < MAX_BLOCKS ? out_n : MAX_BLOCKS), th, 0,
                   st>>>(op, g, out_n, cnt, x, y);
        return cudaGetLastError();
}

__global__ void k_pool(swarm_pool_kind_t kind, swarm_window_t w,
                       const float *x, float *y, int64_t total) {
        GRID_LOOP(t, total) {
                int64_t ox = t % w.ow, oy = (t / w.ow) % w.oh;
                int64_t p = t / (w.ow * w.oh);
                const float *xp = x + p * w.h * w.w;
                int64_t y0 = oy * w.sh - w.pad_t, x0 = ox * w.sw - w.pad_l;
                float mx = -INFINITY, sum = 0.0f;
                int64_t cnt = 0, padded = 0;
                for (int64_t ky = 0; ky < w.kh; ky++) {
                        int64_t iy = y0 + ky * w.dh;
                        for (int64_t kx = 0; kx < w.kw; kx++) {
                                int64_t ix = x0 + kx * w.dw;
                                float v;
                                if (iy < w.h + w.pad_b && ix < w.w + w.pad_r)
                                        padded++;
                                if (iy < 0 || iy >= w.h || ix < 0 ||
                                    ix >= w.w)
                                        continue;
                                v = xp[iy * w.w + ix];
                                if (v > mx || v != v)
                                        mx = v;
                                sum += v;
                                cnt++;
                        }
                }
                if (kind == SWARM_POOL_MAX)
                        y[t] = mx;
                else if (kind == SWARM_POOL_AVG_PAD)
                        y[t] = padded ? sum / (float)padded : 0.0f;
                else
                        y[t] = cnt ? sum / (float)cnt : 0.0f;
        }
}

extern "C" cudaError_t swk_pool(cudaStream_t st, swarm_pool_kind_t kind,
                                const swarm_window_t *w, const float *x,
                                float *y) {
        int64_t total = w->n * w->oh * w->ow;
        if (total <= 0)
                return cudaSuccess;
        k_pool<<<blocks_for(total), THREADS, 0, st>>>(kind, *w, x, y, total);
        return cudaGetLastError();
}

/* One thread per element of col ([n * kh * kw, oh * ow]); consecutive
 * threads walk ox, so both reads and writes are mostly coalesced. */
__global__ void k_im2col(swarm_window_t w, const float *x, float *col,
                         int64_t total) {
        GRID_LOOP(t, total) {
                int64_t ox = t % w.ow, oy = (t / w.ow) % w.oh;
                int64_t r = t / (w.ow * w.oh);
                int64_t kx = r % w.kw, ky = (r / w.kw) % w.kh;
                int64_t c = r / (w.kw * w.kh);
                int64_t iy = oy * w.sh - w.pad_t + ky * w.dh;
                int64_t ix = ox * w.sw - w.pad_l + kx * w.dw;
                col[t] = iy < 0 || iy >= w.h || ix < 0 || ix >= w.w
                         ? 0.0f
                         : x[(c * w.h + iy) * w.w + ix];
        }
}

extern "C" cudaError_t swk_im2col(cudaStream_t st, const swarm_window_t *w,
                                  const float *x, float *col) {
        int64_t total = w->n * w->kh * w->kw * w->oh * w->ow;
        if (total <= 0)
                return cudaSuccess;
        k_im2col<<<blocks_for(total), THREADS, 0, st>>>(*w, x, col, total);
        return cudaGetLastError();
}

__global__ void k_gather(const uint32_t *x, int64_t outer, int64_t axis_n,
                         int64_t inner, const void *idx, int idx64,
                         int64_t n_idx, uint32_t *y, swk_flag_t *flag,
                         int64_t total) {
        GRID_LOOP(t, total) {
                int64_t j = t % inner, i = (t / inner) % n_idx;
                int64_t o = t / (inner * n_idx);
                int64_t k0 = idx64 ? ((const int64_t *)idx)[i]
                                   : ((const int32_t *)idx)[i];
                int64_t k = k0 < 0 ? k0 + axis_n : k0;
                if (k < 0 || k >= axis_n) {
                        /* Reported at the next download; the output row
                         * reads as zeros meanwhile. */
                        if (atomicExch(&flag->bad, 1) == 0)
                                flag->value = (long long)k0;
                        y[t] = 0;
                        continue;
                }
                y[t] = x[(o * axis_n + k) * inner + j];
        }
}

extern "C" cudaError_t swk_gather(cudaStream_t st, const uint32_t *x,
                                  int64_t outer, int64_t axis_n,
                                  int64_t inner, const void *idx, int idx64,
                                  int64_t n_idx, uint32_t *y,
                                  swk_flag_t *flag) {
        int64_t total = outer * n_idx * inner;
        if (total <= 0)
                return cudaSuccess;
        k_gather<<<blocks_for(total), THREADS, 0, st>>>(
                x, outer, axis_n, inner, idx, idx64, n_idx, y, flag, total);
        return cudaGetLastError();
}

__global__ void k_copy_strided(swk_dims_t d, const uint32_t *x, uint32_t *y,
                               int64_t total) {
        GRID_LOOP(t, total) {
                int64_t r = t, xo = 0, yo = 0;
                for (int k = d.nd - 1; k >= 0; k--) {
                        int64_t q = r % d.shape[k];
                        r /= d.shape[k];
                        xo += q * d.sa[k];
                        yo += q * d.sb[k];
                }
                y[yo] = x[xo];
        }
}

extern "C" cudaError_t swk_copy_strided(cudaStream_t st, const swk_dims_t *d,
                                        const uint32_t *x, uint32_t *y) {
        int64_t total = 1;
        for (int k = 0; k < d->nd; k++)
                total *= d->shape[k];
        if (total <= 0)
                return cudaSuccess;
        k_copy_strided<<<blocks_for(total), THREADS, 0, st>>>(*d, x, y, total);
        return cudaGetLastError();
}

__global__ void k_channel_affine(const float *x, const float *scale,
                                 const float *bias, float *y, int64_t c,
                                 int64_t inner, int64_t total) {
        GRID_LOOP(t, total) {
                int64_t k = (t / inner) % c;
                y[t] = x[t] * scale[k] + bias[k];
        }
}

extern "C" cudaError_t swk_channel_affine(cudaStream_t st, const float *x,
                                          const float *scale,
                                          const float *bias, float *y,
                                          int64_t outer, int64_t c,
                                          int64_t inner) {
        int64_t total = outer * c * inner;
        if (total <= 0)
                return cudaSuccess;
        k_channel_affine<<<blocks_for(total), THREADS, 0, st>>>(
                x, scale, bias, y, c, inner, total);
        return cudaGetLastError();
}

/* One block per row; mean and variance in double as on the CPU. */
__global__ void k_layer_norm(const float *x, const float *scale,
                             const float *bias, float *y, int64_t outer,
                             int64_t n, float eps) {
        __shared__ double shd[32];
        for (int64_t o = blockIdx.x; o < outer; o += gridDim.x) {
                const float *xp = x + o * n;
                float *yp = y + o * n;
                double mean = 0.0, var = 0.0;
                float inv;
                for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
                        mean += xp[i];
                mean = block_reduce(mean, dsum_op(), shd);
                mean = n ? mean / (double)n : 0.0;
                for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
                        var += (xp[i] - mean) * (xp[i] - mean);
                var = block_reduce(var, dsum_op(), shd);
                var = n ? var / (double)n : 0.0;
                inv = (float)(1.0 / sqrt(var + (double)eps));
                for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
                        yp[i] = ((float)(xp[i] - mean)) * inv * scale[i] +
                                (bias ? bias[i] : 0.0f);
        }
}

extern "C" cudaError_t swk_layer_norm(cudaStream_t st, const float *x,
                                      const float *scale, const float *bias,
                                      float *y, int64_t outer, int64_t n,
                                      float eps) {
        int th;
        if (outer <= 0 || n <= 0)
                return cudaSuccess;
        th = n <= 64 ? 32 : n <= 1024 ? 128 : THREADS;
        k_layer_norm<<<(unsigned)(outer < MAX_BLOCKS ? outer : MAX_BLOCKS), th,
                       0, st>>>(x, scale, bias, y, outer, n, eps);
        return cudaGetLastError();
}

__global__ void k_to_f16(const float *x, __half *y, int64_t n) {
        GRID_LOOP(i, n) y[i] = __float2half_rn(x[i]);
}

__global__ void k_to_bf16(const float *x, __nv_bfloat16 *y, int64_t n) {
        GRID_LOOP(i, n) y[i] = __float2bfloat16_rn(x[i]);
}

extern "C" cudaError_t swk_to_half(cudaStream_t st, const float *x, void *y,
                                   int64_t n, int bf16) {
        if (n <= 0)
                return cudaSuccess;
        if (bf16)
                k_to_bf16<<<blocks_for(n), THREADS, 0, st>>>(
                        x, (__nv_bfloat16 *)y, n);
        else
                k_to_f16<<<blocks_for(n), THREADS, 0, st>>>(x, (__half *)y, n);
        return cudaGetLastError();
}

__global__ void k_probe(void) {}

/* Whether this binary has code the current device can run (sm_80 code does
 * not run on sm_75, say): cudaErrorNoKernelImageForDevice otherwise. */
extern "C" cudaError_t swk_probe(void) {
        struct cudaFuncAttributes fa;
        return cudaFuncGetAttributes(&fa, (const void *)k_probe);
}
