/*
 * cpu_pool.h - the CPU backend's max pooling (backend.h `pool` with
 * SWARM_POOL_MAX).  Not a public header.
 */
#ifndef SWARM_CPU_POOL_H
#define SWARM_CPU_POOL_H

#include <stdint.h>

#include "swarm/backend.h"
#include "swarm/err.h"

/* The taps k in [*first, *end) of a window whose taps sit at start + k * d
 * (k < taps, d >= 1) that land in [lo, hi): the others are padding.  Pool
 * loops run over these alone, so a kernel far wider than its input (a
 * model's 2 x 65536 window over 64 x 1 planes, found by fuzz_onnx) costs
 * its taps inside, not its width, per output. */
static inline void exec_pool_taps(int64_t start, int64_t taps, int64_t d,
                                  int64_t lo, int64_t hi, int64_t *first,
                                  int64_t *end) {
        int64_t f = 0, e;

        /* the common case, every tap inside, without a division (the
         * callers' windows have (taps - 1) * d checked against overflow) */
        if (start >= lo && start + (taps - 1) * d < hi) {
                *first = 0;
                *end = taps;
                return;
        }
        if (start < lo)
                f = (lo - start) / d + ((lo - start) % d != 0);
        e = hi <= start ? 0 : (hi - 1 - start) / d + 1;
        if (e > taps)
                e = taps;
        *first = f < e ? f : e;
        *end = e;
}

/* y = max pooling of w->n contiguous h x w planes of x into oh x ow planes
 * (taps in the padding are ignored; a window with no tap inside gives
 * -inf; NaN propagates).  Planes split across the backend's lanes. */
int exec_cpu_maxpool(swarm_backend_t *be, const swarm_window_t *w,
                     const float *x, float *y, swarm_err_t *err);

/* The same on one lane with the loops of at most `isa`: 0 the portable
 * ones, 1 AVX2 (the fused 2-wide stride-2 window), 2 the widest this CPU
 * runs (AVX-512): the test's handle on each variant. */
int exec_cpu_maxpool_isa(const swarm_window_t *w, const float *x, float *y,
                         int isa, swarm_err_t *err);

/* Which of a window's passes run on block maxima (van Herk / Gil-Werman,
 * a cost per output independent of the kernel) with the loops of at most
 * `isa`: bit 1 the vertical, bit 2 the horizontal; 0 for the usual CNN
 * pools, which take the direct loops.  The test's check that tall and
 * wide windows do. */
int exec_cpu_maxpool_blocks(const swarm_window_t *w, int isa);

/* Average pooling (count_include_pad either way: the same here) of
 * windows 2 wide at stride 2 with no left or top padding and every tap
 * inside the input (nearly every CNN's 2x2 AveragePool);
 * exec_cpu_avgpool2_ok says whether w is one.  Planes split across the
 * backend's lanes; the _isa twin as exec_cpu_maxpool_isa (AVX2 and
 * AVX-512 have a loop each). */
int exec_cpu_avgpool2_ok(const swarm_window_t *w);
int exec_cpu_avgpool2(swarm_backend_t *be, const swarm_window_t *w,
                      const float *x, float *y, swarm_err_t *err);
int exec_cpu_avgpool2_isa(const swarm_window_t *w, const float *x, float *y,
                          int isa, swarm_err_t *err);

#endif
