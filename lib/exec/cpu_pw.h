/*
 * cpu_pw.h - the pointwise (1x1, stride 1, unpadded, group 1) convolution
 * of the CPU backend on AVX-512 and AVX2, over filters packed at load by
 * cpu_gemm_pack (side 0) for either kernel set.  Not a public header:
 * backend_cpu.c's conv_packed hands such windows here when
 * exec_cpu_pw_fits says so;
 * tests/exec/test_pw.c drives it directly.
 *
 * Why not cpu_gemm.c's packed path: that one copies the image into B
 * panels per call, then runs a second pass over each C block for the
 * bias and activation.  For 1x1 windows the image already is the B
 * operand (channel p, pixel j at x[p * plane + j]), so this kernel reads
 * it in place, one masked row of 16 or 32 pixels per channel, and
 * applies bias, optional per-(image, channel) scale of the input (a
 * squeeze-excitation block's Mul folded in) and the activation to the
 * accumulators before the one store.  A 1 x 1 plane (the SE block's own
 * two convolutions) is a product of the filters by one column per image:
 * there the 8 filter rows of a sliver are the vector lanes and the images
 * the accumulators, where the tile kernels computed 32 columns for one.
 */
#ifndef SWARM_CPU_PW_H
#define SWARM_CPU_PW_H

#include <stdint.h>

#include "cpu_gemm.h"
#include "swarm/backend.h"
#include "swarm/err.h"

/* Non-zero when this kernel has code for filters packed for isa (AVX-512,
 * AVX2) and the CPU runs it. */
int exec_cpu_pw_isa_ok(cpu_isa_t isa);

/* Non-zero when exec_cpu_pw_conv can run this convolution: a 1x1 stride-1
 * unpadded group-1 window, filters packed for AVX-512 or AVX2 on a CPU
 * that runs it, an activation the kernel applies itself. */
int exec_cpu_pw_runs(const swarm_window_t *w, int64_t group,
                     const cpu_packed_t *p, swarm_act_t act);

/* Non-zero when exec_cpu_pw_runs and this kernel is the faster path for
 * it at `imgs` images (thresholds measured, see cpu_pw.c). */
int exec_cpu_pw_fits(const swarm_window_t *w, int64_t group,
                     const cpu_packed_t *p, int64_t imgs, swarm_act_t act);

/* y ([imgs, cout, h, w]) = act(alpha, beta)(filters p (cout x w->n) times
 * x ([imgs, w->n, h, w]) scaled per input channel by s ([imgs, w->n]; NULL
 * for none), plus bias[cout] (NULL for none)).  Splits across the
 * backend's lanes from EXEC_CPU_PAR_MIN_MACS.  Errors: SWARM_ERR_INVALID
 * (window, filters or sizes it cannot run: call exec_cpu_pw_fits first),
 * SWARM_ERR_UNSUPPORTED (an activation it has no vector form of). */
int exec_cpu_pw_conv(swarm_backend_t *be, const swarm_window_t *w,
                     int64_t imgs, int64_t cout, const cpu_packed_t *p,
                     const float *x, const float *s, const float *bias,
                     swarm_act_t act, float alpha, float beta, float *y,
                     swarm_err_t *err);

#endif
