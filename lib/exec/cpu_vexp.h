/*
 * cpu_vexp.h - e^x on 16 float lanes for the CPU kernels written with
 * AVX-512 intrinsics (cpu_act.c's Sigmoid / SiLU, cpu_rnn.c's gates), and
 * on 8 for AVX2: one copy per instruction set of scalar_ops.h's
 * swarm_expf_clamped() polynomial in vector form, so the kernels and the
 * scalar tails agree.  Not a public header.
 */
#ifndef SWARM_CPU_VEXP_H
#define SWARM_CPU_VEXP_H

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

/* e^x with x clamped to [-87.33, 88.37] (no overflow, no denormals): 2^n
 * times the Cephes polynomial of the remainder, n by the 1.5 * 2^23
 * rounding trick, 2^n built in the exponent bits. */
__attribute__((target("avx512f")))
static inline __m512 exec_exp512(__m512 x) {
        __m512 n, r, p;
        __m512i bits;

        x = _mm512_min_ps(_mm512_set1_ps(88.37f), x);
        x = _mm512_max_ps(_mm512_set1_ps(-87.33f), x);
        n = _mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f),
                            _mm512_set1_ps(12582912.0f));
        n = _mm512_sub_ps(n, _mm512_set1_ps(12582912.0f));
        r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
        r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), r);
        p = _mm512_set1_ps(1.9875691500e-4f);
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
        p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r),
                            _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
        bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n),
                                                  _mm512_set1_epi32(127)),
                                 23);
        return _mm512_mul_ps(p, _mm512_castsi512_ps(bits));
}

/* The same on 8 lanes (AVX2 + FMA). */
__attribute__((target("avx2,fma")))
static inline __m256 exec_exp256(__m256 x) {
        __m256 n, r, p;
        __m256i bits;

        x = _mm256_min_ps(_mm256_set1_ps(88.37f), x);
        x = _mm256_max_ps(_mm256_set1_ps(-87.33f), x);
        n = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f),
                            _mm256_set1_ps(12582912.0f));
        n = _mm256_sub_ps(n, _mm256_set1_ps(12582912.0f));
        r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
        r = _mm256_fmadd_ps(n, _mm256_set1_ps(2.12194440e-4f), r);
        p = _mm256_set1_ps(1.9875691500e-4f);
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
        p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r),
                            _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
        bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n),
                                                  _mm256_set1_epi32(127)),
                                 23);
        return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}
#endif

#endif
