/*
 * cpu_dwc.h - depthwise convolution on blocks of 16 channels (AVX-512),
 * for the small planes of the mobile nets' later layers: cpu_dw.c hands
 * it the windows exec_cpu_dwc_fits takes and keeps the others.  Not a
 * public header: tests/exec/test_mobile.c checks both paths.
 */
#ifndef SWARM_CPU_DWC_H
#define SWARM_CPU_DWC_H

#include <stdint.h>

#include "cpu_gemm.h"
#include "swarm/backend.h"
#include "swarm/err.h"

/* 1 when exec_cpu_dwc runs window w (w->n planes, whole images of
 * `channels`) on kernel set isa: AVX-512, at most
 * 256 taps, a padded plane and an output plane of at most DWC_PX_MAX
 * (cpu_dwc.c) pixels each, and the window inside the padded plane.  The
 * window's fields are the caller's (a model file's): checked here before
 * any product. */
int exec_cpu_dwc_fits(cpu_isa_t isa, const swarm_window_t *w,
                      int64_t channels);

/* backend.h `conv_dw` as exec_cpu_conv_dw_isa (cpu_dw.h) for a window
 * exec_cpu_dwc_fits took: the same outputs to the last bit (the taps in
 * the same order, from the bias, by FMA).  Errors: SWARM_ERR_BACKEND (a
 * window it does not fit), SWARM_ERR_NOMEM. */
int exec_cpu_dwc(swarm_backend_t *be, cpu_isa_t isa,
                 const swarm_window_t *w, int64_t channels, const float *x,
                 const float *filt, const float *bias, swarm_act_t act,
                 float alpha, float beta, float *y, swarm_err_t *err);

#endif
