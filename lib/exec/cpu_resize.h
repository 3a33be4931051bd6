/*
 * cpu_resize.h - the CPU backend's separable resampling kernel (Resize,
 * Upsample), backend.h `resample`.  Not a public header.
 */
#ifndef SWARM_CPU_RESIZE_H
#define SWARM_CPU_RESIZE_H

#include <stdint.h>

#include "swarm/backend.h"

/* backend.h `resample`: the tables are checked (every index inside its
 * input dim, or -1 at tap 0), then the planes' rows are split across the
 * backend's lanes.  Errors: SWARM_ERR_INVALID (bad geometry or index),
 * SWARM_ERR_NOMEM. */
int exec_cpu_resample(swarm_backend_t *be, int ndim, const int64_t *in,
                      const int64_t *out, int taps, const int64_t *const *idx,
                      const float *const *wt, float extrapolation,
                      const void *x, void *y, swarm_err_t *err);

#endif
