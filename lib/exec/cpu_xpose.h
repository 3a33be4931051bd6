/*
 * cpu_xpose.h - the register shuffles the AVX-512 kernels share: 4 x 4
 * transposes inside each 128-bit block of 8 registers (cpu_wino.c's input
 * tile rows, cpu_gemm.c's packing of A), and the even / odd split of 32
 * floats (the stride-2 phase fills of cpu_dw.c and cpu_sconv.c).  What
 * each kernel does with the results afterwards is its own.  Not a public
 * header.
 */
#ifndef SWARM_CPU_XPOSE_H
#define SWARM_CPU_XPOSE_H

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

/* In 128-bit block b of the results: u[c] = element 4b + c of q[0..3],
 * u[4 + c] = element 4b + c of q[4..7] (c < 4).  8 unpacks and 8
 * shuffles. */
static inline __attribute__((target("avx512f"), always_inline)) void
exec_xpose4x4_blocks512(const __m512 *q, __m512 *u) {
        __m512 t[8];

        for (int l = 0; l < 8; l += 2) {
                t[l] = _mm512_unpacklo_ps(q[l], q[l + 1]);
                t[l + 1] = _mm512_unpackhi_ps(q[l], q[l + 1]);
        }
        for (int l = 0; l < 8; l += 4) {
                u[l] = _mm512_shuffle_ps(t[l], t[l + 2], 0x44);
                u[l + 1] = _mm512_shuffle_ps(t[l], t[l + 2], 0xee);
                u[l + 2] = _mm512_shuffle_ps(t[l + 1], t[l + 3], 0x44);
                u[l + 3] = _mm512_shuffle_ps(t[l + 1], t[l + 3], 0xee);
        }
}

/* The 32 floats lo, hi (lo first) dealt into *e (elements 0, 2, ... 30)
 * and *o (1, 3, ... 31): two permutes. */
static inline __attribute__((target("avx512f"), always_inline)) void
exec_deal512(__m512 lo, __m512 hi, __m512 *e, __m512 *o) {
        const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16,
                                             18, 20, 22, 24, 26, 28, 30);
        const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17,
                                             19, 21, 23, 25, 27, 29, 31);

        *e = _mm512_permutex2var_ps(lo, ie, hi);
        *o = _mm512_permutex2var_ps(lo, io, hi);
}
#endif

#endif
