/*
 * cpu_convt.h - the CPU backend's transposed convolution (ConvTranspose),
 * backend.h `conv_transpose`.  Not a public header.
 */
#ifndef SWARM_CPU_CONVT_H
#define SWARM_CPU_CONVT_H

#include "swarm/backend.h"

/* backend.h `conv_transpose`: the geometry is checked, then (image, group,
 * block of output channels) units are split across the backend's lanes.
 * Errors: SWARM_ERR_INVALID (bad geometry), SWARM_ERR_NOMEM, or the
 * GEMM's. */
int exec_cpu_conv_transpose(swarm_backend_t *be, const swarm_convt_t *g,
                            const void *x, const void *w, const void *bias,
                            void *y, swarm_err_t *err);

#endif
