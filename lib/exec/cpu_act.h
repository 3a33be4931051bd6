/*
 * cpu_act.h - element-wise activations over a span of floats, one function
 * per kernel set (cpu_gemm.h's cpu_isa_t), for the CPU kernels that apply
 * an activation in their own pass or epilogue (cpu_dw.c).  Not a public
 * header.
 *
 * Sigmoid, SiLU, HardSigmoid and HardSwish are written with intrinsics on
 * AVX-512 and AVX2: GCC's vectorisation of the scalar_ops.h formulas
 * (masked blends to keep the NaN behaviour of `x > c ? c : x`, a divide per
 * value) ran at about half their speed (EfficientNet's depthwise layers:
 * the activation took 9.8% of a batch-1 run, 4.5% after).  Same
 * polynomial as scalar_ops.h; the reciprocal is rcp + one Newton step
 * (relative error ~2^-22); NaN in, NaN out.  The other activations take
 * the scalar_ops.h formula, compiled for the kernel set.
 */
#ifndef SWARM_CPU_ACT_H
#define SWARM_CPU_ACT_H

#include <stdint.h>

#include "swarm/backend.h"
#include "scalar_ops.h"

/* p[i] = act(p[i]; a, b) over n values with the switch outside the loops,
 * so each loop vectorises for the function it is inlined into (a kernel
 * set's function here, a target_clones clone in backend_cpu.c); the
 * scalar_ops.h formulas, the same as the CUDA kernels'. */
static inline __attribute__((always_inline)) void
exec_act_span_inl(swarm_act_t act, float a, float b, float *restrict p,
                  int64_t n) {
        switch (act) {
        case SWARM_ACT_NONE:
                break;
        case SWARM_ACT_RELU:
                for (int64_t i = 0; i < n; i++)
                        p[i] = p[i] > 0.0f ? p[i] : 0.0f;
                break;
        case SWARM_ACT_CLIP:
                for (int64_t i = 0; i < n; i++)
                        p[i] = p[i] < a ? a : p[i] > b ? b : p[i];
                break;
        case SWARM_ACT_SIGMOID:
                for (int64_t i = 0; i < n; i++)
                        p[i] = swarm_sigmoidf(p[i]);
                break;
        case SWARM_ACT_SILU:
                for (int64_t i = 0; i < n; i++)
                        p[i] = p[i] * swarm_sigmoidf(p[i]);
                break;
        case SWARM_ACT_HARDSIGMOID:
                for (int64_t i = 0; i < n; i++)
                        p[i] = swarm_act_scalar(SWARM_ACT_HARDSIGMOID, a, b,
                                                p[i]);
                break;
        case SWARM_ACT_HARDSWISH:
                for (int64_t i = 0; i < n; i++)
                        p[i] = swarm_act_scalar(SWARM_ACT_HARDSWISH, a, b,
                                                p[i]);
                break;
        case SWARM_ACT_GELU:
                for (int64_t i = 0; i < n; i++)
                        p[i] = swarm_act_scalar(SWARM_ACT_GELU, a, b, p[i]);
                break;
        case SWARM_ACT_TANH:
                for (int64_t i = 0; i < n; i++)
                        p[i] = swarm_tanhf_fast(p[i]);
                break;
        case SWARM_ACT_GELU_TANH:
                for (int64_t i = 0; i < n; i++)
                        p[i] = swarm_act_scalar(SWARM_ACT_GELU_TANH, a, b,
                                                p[i]);
                break;
        default:
                for (int64_t i = 0; i < n; i++)
                        p[i] = swarm_act_scalar(act, a, b, p[i]);
                break;
        }
}

/* 1 when exec_act_vec512 computes `act` in registers (NONE passes x
 * through); the kernels that fuse the activation into their stores check
 * this and run the others over their output afterwards.  Outside the
 * x86 block: the check is the same on every build. */
static inline int exec_act_vec_ok(swarm_act_t act) {
        switch (act) {
        case SWARM_ACT_NONE:
        case SWARM_ACT_RELU:
        case SWARM_ACT_CLIP:
        case SWARM_ACT_LEAKY_RELU:
        case SWARM_ACT_HARDSIGMOID:
        case SWARM_ACT_HARDSWISH:
        case SWARM_ACT_SIGMOID:
        case SWARM_ACT_SILU:
                return 1;
        default:
                return 0;
        }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include "cpu_vexp.h"

/* act(x; a, b) on one vector (a, b broadcast), for the kernels that apply
 * the activation in registers (cpu_pw.c's epilogue, the AVX-512 span
 * below).  Sigmoid / SiLU: 1 / (1 + e^-x) by rcp14 and one Newton step
 * (relative error ~2^-23): vdivps was half of the activation's time;
 * d <= 1 + e^87.33, so 1 / d stays a normal float.  NaN behaviour as the
 * scalar formulas: max / min return their second operand on NaN.  An
 * activation not listed comes back unchanged (callers check which ones
 * they hand it). */
static inline __attribute__((target("avx512f"), always_inline)) __m512
exec_act_vec512(swarm_act_t act, __m512 x, __m512 a, __m512 b) {
        const __m512 one = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps();
        __m512 h, d, r;

        switch (act) {
        case SWARM_ACT_RELU:
                return _mm512_max_ps(x, zero);  /* NaN -> 0, as x > 0 ? x : 0 */
        case SWARM_ACT_CLIP:
                return _mm512_min_ps(b, _mm512_max_ps(a, x));   /* NaN stays */
        case SWARM_ACT_LEAKY_RELU:
                return _mm512_mask_mul_ps(
                        x, _mm512_cmp_ps_mask(x, zero, _CMP_LT_OQ), x, a);
        case SWARM_ACT_HARDSIGMOID:
                h = _mm512_fmadd_ps(a, x, b);
                return _mm512_min_ps(one, _mm512_max_ps(zero, h));
        case SWARM_ACT_HARDSWISH:
                h = _mm512_fmadd_ps(x, _mm512_set1_ps(1.0f / 6.0f),
                                    _mm512_set1_ps(0.5f));
                h = _mm512_min_ps(_mm512_max_ps(h, zero), one);
                return _mm512_mul_ps(x, h);
        case SWARM_ACT_SIGMOID:
        case SWARM_ACT_SILU:
                d = _mm512_add_ps(one, exec_exp512(_mm512_sub_ps(zero, x)));
                r = _mm512_rcp14_ps(d);
                r = _mm512_mul_ps(r, _mm512_fnmadd_ps(d, r,
                                                      _mm512_set1_ps(2.0f)));
                return act == SWARM_ACT_SILU ? _mm512_mul_ps(x, r) : r;
        default:
                return x;
        }
}

/* The same on 8 lanes (AVX2 + FMA; cpu_pw.c's AVX2 epilogue, cpu_act.c's
 * AVX2 span): rcp is good to 2^-11, one Newton step squares it.  NaN
 * behaviour as exec_act_vec512's (max / min return their second operand
 * on NaN). */
static inline __attribute__((target("avx2,fma"), always_inline)) __m256
exec_act_vec256(swarm_act_t act, __m256 x, __m256 a, __m256 b) {
        const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
        __m256 h, d, r;

        switch (act) {
        case SWARM_ACT_RELU:
                return _mm256_max_ps(x, zero);
        case SWARM_ACT_CLIP:
                return _mm256_min_ps(b, _mm256_max_ps(a, x));
        case SWARM_ACT_LEAKY_RELU:
                return _mm256_blendv_ps(x, _mm256_mul_ps(x, a),
                                        _mm256_cmp_ps(x, zero, _CMP_LT_OQ));
        case SWARM_ACT_HARDSIGMOID:
                h = _mm256_fmadd_ps(a, x, b);
                return _mm256_min_ps(one, _mm256_max_ps(zero, h));
        case SWARM_ACT_HARDSWISH:
                h = _mm256_fmadd_ps(x, _mm256_set1_ps(1.0f / 6.0f),
                                    _mm256_set1_ps(0.5f));
                h = _mm256_min_ps(_mm256_max_ps(h, zero), one);
                return _mm256_mul_ps(x, h);
        case SWARM_ACT_SIGMOID:
        case SWARM_ACT_SILU:
                d = _mm256_add_ps(one, exec_exp256(_mm256_sub_ps(zero, x)));
                r = _mm256_rcp_ps(d);
                r = _mm256_mul_ps(r, _mm256_fnmadd_ps(d, r,
                                                      _mm256_set1_ps(2.0f)));
                return act == SWARM_ACT_SILU ? _mm256_mul_ps(x, r) : r;
        default:
                return x;
        }
}
#endif

/* p[i] = act(p[i]; a, b) for i < n (a, b as in backend.h).  The AVX-512
 * and AVX2 ones only on a CPU that runs them (cpu_gemm_isa_ok). */
void exec_cpu_act_c(swarm_act_t act, float a, float b, float *p, int64_t n);
void exec_cpu_act_avx2(swarm_act_t act, float a, float b, float *p,
                       int64_t n);
void exec_cpu_act_avx512(swarm_act_t act, float a, float b, float *p,
                         int64_t n);

#endif
