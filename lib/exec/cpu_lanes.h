/*
 * cpu_lanes.h - the lane mask of the first n of 8 float lanes, and loads
 * and stores of 8 floats through it, for the AVX2 kernels' vmaskmov at a
 * row's end (AVX2 has no mask registers; the masked forms are slower on
 * Zen, so full vectors go plain).  Not a public header.
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

/* 8 floats at p, through mask m unless `full` (a constant at each call,
 * so an inlined body takes one path). */
static inline __attribute__((target("avx2"), always_inline)) __m256
exec_ld8(const float *p, int full, __m256i m) {
        return full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m);
}

static inline __attribute__((target("avx2"), always_inline)) void
exec_st8(float *p, int full, __m256i m, __m256 v) {
        if (full)
                _mm256_storeu_ps(p, v);
        else
                _mm256_maskstore_ps(p, m, v);
}
#endif

#endif
