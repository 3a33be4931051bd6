/*
 * test_fill.h - deterministic test data for the kernels' tests: one LCG,
 * so every test draws its inputs the same way.
 */
#ifndef SWARM_TESTS_TEST_FILL_H
#define SWARM_TESTS_TEST_FILL_H

#include <stdint.h>

/* p[i] in [-half, half), different per index and per seed; `salt` keeps
 * one test's streams apart from another's.  (x / 2^15) * half is exact, so
 * the values do not depend on half's rounding. */
static inline void test_fill_range(float *p, int64_t n, unsigned seed,
                                   unsigned salt, float half) {
        unsigned s = seed * 2654435761u + salt;

        for (int64_t i = 0; i < n; i++) {
                s = s * 1103515245u + 12345u;
                p[i] = (float)((s >> 8) & 0xffff) / 32768.0f * half - half;
        }
}

/* p[i] in [-1, 1). */
static inline void test_fill(float *p, int64_t n, unsigned seed) {
        test_fill_range(p, n, seed, 1, 1.0f);
}

#endif
