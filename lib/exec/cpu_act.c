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
static inline __m256 act_vec256(swarm_act_t act, __m256 a, __m256 b,
                                __m256 x) {
        const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
        __m256 h, d, r;

        switch (act) {
        case SWARM_ACT_SIGMOID:
        case SWARM_ACT_SILU:
                /* rcp_ps is good to 2^-11; one Newton step squares it. */
                d = _mm256_add_ps(one, exec_exp256(_mm256_sub_ps(zero, x)));
                r = _mm256_rcp_ps(d);
                r = _mm256_mul_ps(r, _mm256_fnmadd_ps(d, r,
                                                      _mm256_set1_ps(2.0f)));
                return act == SWARM_ACT_SILU ? _mm256_mul_ps(x, r) : r;
        case SWARM_ACT_HARDSIGMOID:
                h = _mm256_fmadd_ps(a, x, b);
                return _mm256_min_ps(one, _mm256_max_ps(zero, h));
        default:                /* SWARM_ACT_HARDSWISH */
                h = _mm256_fmadd_ps(x, _mm256_set1_ps(1.0f / 6.0f),
                                    _mm256_set1_ps(0.5f));
                h = _mm256_min_ps(_mm256_max_ps(h, zero), one);
                return _mm256_mul_ps(x, h);
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
                _mm256_storeu_ps(p + i, act_vec256(act, va, vb,
                                                   _mm256_loadu_ps(p + i)));
        if (i < n) {
                /* The tail through a zeroed buffer. */
                float t[8] = {0};
                for (int64_t k = i; k < n; k++)
                        t[k - i] = p[k];
                _mm256_storeu_ps(t, act_vec256(act, va, vb,
                                               _mm256_loadu_ps(t)));
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
