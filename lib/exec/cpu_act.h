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
        default:
                for (int64_t i = 0; i < n; i++)
                        p[i] = swarm_act_scalar(act, a, b, p[i]);
                break;
        }
}

/* p[i] = act(p[i]; a, b) for i < n (a, b as in backend.h).  The AVX-512
 * and AVX2 ones only on a CPU that runs them (cpu_gemm_isa_ok). */
void exec_cpu_act_c(swarm_act_t act, float a, float b, float *p, int64_t n);
void exec_cpu_act_avx2(swarm_act_t act, float a, float b, float *p,
                       int64_t n);
void exec_cpu_act_avx512(swarm_act_t act, float a, float b, float *p,
                         int64_t n);

#endif
