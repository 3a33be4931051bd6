/*
 * cpu_act.c - activations over a span per kernel set (see cpu_act.h).
 */
#include <stdint.h>

#include "cpu_act.h"
#include "cpu_vexp.h"
#include "scalar_ops.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define ACT_X86 1
#include <immintrin.h>
#else
#define ACT_X86 0
#endif

/* The activations the vector code below handles itself. */
static inline int hand_made(swarm_act_t act) {
        return act == SWARM_ACT_SIGMOID || act == SWARM_ACT_SILU ||
               act == SWARM_ACT_HARDSIGMOID || act == SWARM_ACT_HARDSWISH;
}

void exec_cpu_act_c(swarm_act_t act, float a, float b, float *p, int64_t n) {
        exec_act_span_inl(act, a, b, p, n);
}

#if ACT_X86
__attribute__((target("avx512f")))
void exec_cpu_act_avx512(swarm_act_t act, float a, float b, float *p,
                         int64_t n) {
        __m512 va = _mm512_set1_ps(a), vb = _mm512_set1_ps(b);
        int64_t i = 0;

        if (!hand_made(act)) {
                exec_act_span_inl(act, a, b, p, n);
                return;
        }
        for (; i + 16 <= n; i += 16)
                _mm512_storeu_ps(p + i, exec_act_vec512(
                        act, _mm512_loadu_ps(p + i), va, vb));
        if (i < n) {
                __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
                _mm512_mask_storeu_ps(p + i, m, exec_act_vec512(
                        act, _mm512_maskz_loadu_ps(m, p + i), va, vb));
        }
}

__attribute__((target("avx2,fma")))
void exec_cpu_act_avx2(swarm_act_t act, float a, float b, float *p,
                       int64_t n) {
        __m256 va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b);
        int64_t i = 0;

        if (!hand_made(act)) {
                exec_act_span_inl(act, a, b, p, n);
                return;
        }
        for (; i + 8 <= n; i += 8)
                _mm256_storeu_ps(p + i, exec_act_vec256(
                        act, _mm256_loadu_ps(p + i), va, vb));
        if (i < n) {
                /* The tail through a zeroed buffer. */
                float t[8] = {0};
                for (int64_t k = i; k < n; k++)
                        t[k - i] = p[k];
                _mm256_storeu_ps(t, exec_act_vec256(act, _mm256_loadu_ps(t),
                                                    va, vb));
                for (int64_t k = i; k < n; k++)
                        p[k] = t[k - i];
        }
}
#else
void exec_cpu_act_avx2(swarm_act_t act, float a, float b, float *p,
                       int64_t n) {
        exec_act_span_inl(act, a, b, p, n);
}

void exec_cpu_act_avx512(swarm_act_t act, float a, float b, float *p,
                         int64_t n) {
        exec_act_span_inl(act, a, b, p, n);
}
#endif
