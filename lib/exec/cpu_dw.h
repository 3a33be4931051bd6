/*
 * cpu_dw.h - the CPU backend's depthwise convolution (backend.h
 * `conv_dw`: one filter per plane, MobileNet's and EfficientNet's 3x3 and
 * 5x5 layers).  Not a public header: backend_cpu.c registers
 * exec_cpu_conv_dw, tests/exec/test_mobile.c forces each kernel set with
 * exec_cpu_conv_dw_isa.
 */
#ifndef SWARM_CPU_DW_H
#define SWARM_CPU_DW_H

#include <stdint.h>

#include "cpu_gemm.h"
#include "swarm/backend.h"
#include "swarm/err.h"

/* backend.h `conv_dw` on the widest kernel set this CPU runs: w->n planes
 * (images x channels), plane q filtered by filt[(q % channels) * kh * kw
 * ...], bias[q % channels] (NULL: none) and act applied in the same pass,
 * planes split across the backend's lanes.  Errors: SWARM_ERR_BACKEND (bad
 * window), SWARM_ERR_NOMEM. */
int exec_cpu_conv_dw(swarm_backend_t *be, const swarm_window_t *w,
                     int64_t channels, const void *x, const void *filt,
                     const void *bias, swarm_act_t act, float alpha,
                     float beta, void *y, swarm_err_t *err);

/* The same on kernel set `isa` (SWARM_ERR_INVALID when this CPU cannot
 * run it). */
int exec_cpu_conv_dw_isa(swarm_backend_t *be, cpu_isa_t isa,
                         const swarm_window_t *w, int64_t channels,
                         const void *x, const void *filt, const void *bias,
                         swarm_act_t act, float alpha, float beta, void *y,
                         swarm_err_t *err);

#endif
