/*
 * cpu_xpose.h - the register transpose step the AVX-512 kernels share
 * (cpu_wino.c's input tile rows, cpu_gemm.c's packing of A): 4 x 4
 * transposes inside each 128-bit block of 8 registers.  What each kernel
 * does with the blocks afterwards (which permute puts them where) is its
 * own.  Not a public header.
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
#endif

#endif
