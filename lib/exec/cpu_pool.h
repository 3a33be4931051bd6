/*
 * cpu_pool.h - the CPU backend's max pooling (backend.h `pool` with
 * SWARM_POOL_MAX).  Not a public header.
 */
#ifndef SWARM_CPU_POOL_H
#define SWARM_CPU_POOL_H

#include "swarm/backend.h"
#include "swarm/err.h"

/* y = max pooling of w->n contiguous h x w planes of x into oh x ow planes
 * (taps in the padding are ignored; a window with no tap inside gives
 * -inf; NaN propagates).  Planes split across the backend's lanes. */
int exec_cpu_maxpool(swarm_backend_t *be, const swarm_window_t *w,
                     const float *x, float *y, swarm_err_t *err);

/* The same on one lane with the portable loops only (force_c) or the
 * widest ones this CPU runs: the test's handle on each variant. */
int exec_cpu_maxpool_isa(const swarm_window_t *w, const float *x, float *y,
                         int force_c, swarm_err_t *err);

/* Average pooling (count_include_pad either way: the same here) of
 * windows 2 wide at stride 2 with no left or top padding and every tap
 * inside the input (nearly every CNN's 2x2 AveragePool);
 * exec_cpu_avgpool2_ok says whether w is one.  Planes split across the
 * backend's lanes; the _isa twin as exec_cpu_maxpool_isa. */
int exec_cpu_avgpool2_ok(const swarm_window_t *w);
int exec_cpu_avgpool2(swarm_backend_t *be, const swarm_window_t *w,
                      const float *x, float *y, swarm_err_t *err);
int exec_cpu_avgpool2_isa(const swarm_window_t *w, const float *x, float *y,
                          int force_c, swarm_err_t *err);

#endif
