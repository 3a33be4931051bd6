/*
 * cpu_avgsum.h - average pooling of large windows by prefix sums (the CPU
 * backend's `pool` with SWARM_POOL_AVG / SWARM_POOL_AVG_PAD where the
 * per-cell loop would visit many times more taps than the plane has
 * values).  Not a public header.
 */
#ifndef SWARM_CPU_AVGSUM_H
#define SWARM_CPU_AVGSUM_H

#include "swarm/backend.h"
#include "swarm/err.h"

/* Whether w's windows are large enough that prefix sums beat visiting
 * every tap (and its sizes fit them: h, w < 2^31). */
int exec_cpu_avgsum_ok(const swarm_window_t *w);

/* y = the mean of each window's taps inside the input of the w->n planes
 * of x (include_pad: over the taps inside the declared pads too, as
 * count_include_pad; a window with no tap inside gives 0); NaN, +inf and
 * -inf give what a sum of the taps would.  Planes split across the
 * backend's lanes. */
int exec_cpu_avgsum(swarm_backend_t *be, const swarm_window_t *w,
                    int include_pad, const float *x, float *y,
                    swarm_err_t *err);

#endif
