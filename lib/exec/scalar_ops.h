/*
 * scalar_ops.h - the scalar formula of every element-wise function
 * (swarm_act_t), in one place for the CPU backend (backend_cpu.c) and the
 * CUDA kernels (lib/cuda/kernels.cu): both compile this same text, so the
 * GPU tests can hold the two to 1e-5 and a new activation cannot be added
 * to one and forgotten in the other.
 *
 * C11 and CUDA: static inline, host and device under nvcc.  No
 * --use_fast_math on the CUDA side, so expf / erff / tanhf are the
 * accurate ones on both.
 */
#ifndef SWARM_EXEC_SCALAR_OPS_H
#define SWARM_EXEC_SCALAR_OPS_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "swarm/backend.h"

#ifdef __CUDACC__
#define SWARM_HD __host__ __device__
#else
#define SWARM_HD
#endif

/* e^x for sigmoid and SiLU: Cephes' expf (range reduction by ln 2, a
 * degree-5 polynomial, 2^n put into the exponent bits), within 2 ulp of
 * expf over the clamped range, without a branch or a libm call, so a loop
 * of it vectorises (libm's expf is a call per element: it was a quarter
 * of EfficientNet's time).  x is clamped to [-87.33, 88.37], where 2^n
 * stays a normal float: sigmoid and SiLU reach 0 or 1 long before that,
 * so the clamp changes nothing they return.  NaN fails both comparisons
 * and comes out NaN. */
static inline SWARM_HD float swarm_expf_range(float x);

static inline SWARM_HD float swarm_expf_clamped(float x) {
        x = x > 88.37f ? 88.37f : x;
        x = x < -87.33f ? -87.33f : x;
        return swarm_expf_range(x);
}

/* The same e^x for an x the caller keeps in [-87.33, 88.37] (or NaN)
 * itself: no clamps, for loops where GCC 12 would not if-convert them
 * (cpu_attn.c's softmax, whose scores are at most 0 and cut below -60). */
static inline SWARM_HD float swarm_expf_range(float x) {
        float t, n, r, p;
        uint32_t tb;
        int32_t bits;
        /* Round to nearest by adding and taking away 1.5 * 2^23 (|x *
         * log2 e| < 2^22): floorf would be a libm call per element on the
         * baseline x86-64 build, which blocks vectorising. */
        t = x * 1.44269504088896341f + 12582912.0f;
        n = t - 12582912.0f;
        r = x - n * 0.693359375f;
        r = r + n * 2.12194440e-4f;
        p = 1.9875691500e-4f;
        p = p * r + 1.3981999507e-3f;
        p = p * r + 8.3334519073e-3f;
        p = p * r + 4.1665795894e-2f;
        p = p * r + 1.6666665459e-1f;
        p = p * r + 5.0000001201e-1f;
        p = p * r * r + r + 1.0f;
        /* 2^n from t's own bits: t is 1.5 * 2^23 + n, whose low mantissa
         * bits hold 2^22 + n, so bits(t) - bits(1.5 * 2^23) is n.  No
         * float-to-int conversion (undefined for a NaN, which UBSan
         * flagged in test_mobile), and no select: the NaN guard that
         * replaced it, n == n ? n : 0, left the loops around this scalar
         * with AVX2 (GCC 12: BERT's attention softmax was 56% of its run,
         * 8 ns a score).  Unsigned, since n + 127 may be negative.  A NaN
         * x gives garbage bits, but p is NaN and so is the product. */
#ifdef __CUDA_ARCH__
        tb = __float_as_uint(t);
#else
        memcpy(&tb, &t, sizeof(tb));
#endif
        bits = (int32_t)((tb - 0x4B400000u + 127u) << 23);
#ifdef __CUDA_ARCH__
        return p * __int_as_float(bits);
#else
        {
                union {
                        int32_t i;
                        float f;
                } u;
                u.i = bits;
                return p * u.f;
        }
#endif
}

/* 1 / (1 + e^-x): with the clamped exp the denominator never overflows,
 * so no split by sign is needed. */
static inline SWARM_HD float swarm_sigmoidf(float v) {
        return 1.0f / (1.0f + swarm_expf_clamped(-v));
}

/* erf for GELU: a rational approximation (odd degree-13 over even
 * degree-8 polynomial in x, the one Eigen and XNNPACK use), within 5e-7
 * of erf over the reals, x clamped to [-4, 4] where erf is +-1 in float.
 * No call and no branch, so a GEMM epilogue of it vectorises: libm's erff
 * was 13% of a BERT run.  NaN stays NaN (both comparisons fail). */
static inline SWARM_HD float swarm_erff_fast(float x) {
        float x2, p, q;
        x = x > 4.0f ? 4.0f : x;
        x = x < -4.0f ? -4.0f : x;
        x2 = x * x;
        p = -2.72614225801306e-10f;
        p = p * x2 + 2.77068142495902e-08f;
        p = p * x2 + -2.10102402082508e-06f;
        p = p * x2 + -5.69250639462346e-05f;
        p = p * x2 + -7.34990630326855e-04f;
        p = p * x2 + -2.95459980854025e-03f;
        p = p * x2 + -1.60960333262415e-02f;
        p = p * x;
        q = -1.45660718464996e-05f;
        q = q * x2 + -2.13374055278905e-04f;
        q = q * x2 + -1.68282697438203e-03f;
        q = q * x2 + -7.37332916720468e-03f;
        q = q * x2 + -1.42647390514189e-02f;
        return p / q;
}

/* tanh as a rational function (odd degree-13 over even degree-6
 * polynomial in x, the form Eigen and XNNPACK use), x clamped to
 * +-7.90531 where it reaches 1 in float: within 3.5e-7 relative of tanh
 * over the reals (checked against a double tanh on 2.2M points, small
 * values included), NaN stays NaN.  No call and no branch, so loops of it
 * vectorise: libm's tanhf over GPT-2's FFN (GELU, tanh form) was a third
 * of a batch-16 run. */
static inline SWARM_HD float swarm_tanhf_fast(float x) {
        float x2, p, q;
        x = x > 7.90531110763549805f ? 7.90531110763549805f : x;
        x = x < -7.90531110763549805f ? -7.90531110763549805f : x;
        x2 = x * x;
        p = -2.76076847742355e-16f;
        p = p * x2 + 2.00018790482477e-13f;
        p = p * x2 + -8.60467152213735e-11f;
        p = p * x2 + 5.12229709037114e-08f;
        p = p * x2 + 1.48572235717979e-05f;
        p = p * x2 + 6.37261928875436e-04f;
        p = p * x2 + 4.89352455891786e-03f;
        p = p * x;
        q = 1.19825839466702e-06f;
        q = q * x2 + 1.18534705686654e-04f;
        q = q * x2 + 2.26843463243900e-03f;
        q = q * x2 + 4.89352518554385e-03f;
        return p / q;
}

/* act(v; a, b): a and b are the parameters named in backend.h. */
static inline SWARM_HD float swarm_act_scalar(swarm_act_t act, float a,
                                              float b, float v) {
        switch (act) {
        case SWARM_ACT_RELU:
                return v > 0.0f ? v : 0.0f;
        case SWARM_ACT_SIGMOID:
                return swarm_sigmoidf(v);
        case SWARM_ACT_TANH:
                return swarm_tanhf_fast(v);
        case SWARM_ACT_LEAKY_RELU:
                return v < 0.0f ? a * v : v;
        case SWARM_ACT_CLIP:
                /* NaN passes through, as in ONNX. */
                return v < a ? a : v > b ? b : v;
        case SWARM_ACT_GELU:
                return 0.5f * v *
                       (1.0f + swarm_erff_fast(v * 0.70710678118654752f));
        case SWARM_ACT_GELU_TANH:
                return 0.5f * v *
                       (1.0f + swarm_tanhf_fast(0.79788456080286536f *
                                                (v + 0.044715f * v * v * v)));
        case SWARM_ACT_ERF:
                return erff(v);
        case SWARM_ACT_SQRT:
                return sqrtf(v);
        case SWARM_ACT_EXP:
                return expf(v);
        case SWARM_ACT_LOG:
                return logf(v);
        case SWARM_ACT_NEG:
                return -v;
        case SWARM_ACT_ABS:
                return fabsf(v);
        case SWARM_ACT_RECIPROCAL:
                return 1.0f / v;
        case SWARM_ACT_FLOOR:
                return floorf(v);
        case SWARM_ACT_CEIL:
                return ceilf(v);
        case SWARM_ACT_AFFINE:
                return a * v + b;
        case SWARM_ACT_HARDSIGMOID: {
                /* NaN passes through: neither comparison holds. */
                float h = a * v + b;
                return h < 0.0f ? 0.0f : h > 1.0f ? 1.0f : h;
        }
        case SWARM_ACT_HARDSWISH: {
                float h = v * (1.0f / 6.0f) + 0.5f;
                return v * (h < 0.0f ? 0.0f : h > 1.0f ? 1.0f : h);
        }
        case SWARM_ACT_SILU:
                return v * swarm_sigmoidf(v);
        default:
                return v;
        }
}

#endif
