/*
 * cpu_lanes.h - the lane mask of the first n of 8 float lanes, for the
 * AVX2 kernels' vmaskmov loads and stores at a row's end (AVX2 has no
 * mask registers).  Not a public header.
 */
#ifndef SWARM_CPU_LANES_H
#define SWARM_CPU_LANES_H

#include <stdint.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

/* Lanes [0, n) set, n clamped to [0, 8]. */
static inline __attribute__((target("avx2"), always_inline)) __m256i
exec_lanes256(int64_t n) {
        n = n < 0 ? 0 : n > 8 ? 8 : n;
        return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n),
                                  _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
#endif

#endif
