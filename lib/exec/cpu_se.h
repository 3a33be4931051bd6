/*
 * cpu_se.h - the channel scale of a squeeze-excitation block on the CPU:
 * Mul(x [N, C, H, W], s [N, C, 1, 1]) (MobileNetV3, EfficientNet, RegNet),
 * which the backend's binary op reaches as rows of H * W values times one
 * value per row.  Not a public header: backend_cpu.c's binary op calls
 * exec_cpu_scale_rows, tests/exec/test_mobile.c forces each kernel set.
 */
#ifndef SWARM_CPU_SE_H
#define SWARM_CPU_SE_H

#include <stdint.h>

#include "cpu_gemm.h"
#include "swarm/backend.h"
#include "swarm/err.h"

/* y[r * inner + i] = x[r * inner + i] * s[r] for r < rows, i < inner (y
 * may be x), rows split across the backend's lanes. */
void exec_cpu_scale_rows(swarm_backend_t *be, const float *x, const float *s,
                         float *y, int64_t rows, int64_t inner);

/* The same on kernel set `isa` (SWARM_ERR_INVALID when this CPU cannot
 * run it, or rows / inner are negative). */
int exec_cpu_scale_rows_isa(swarm_backend_t *be, cpu_isa_t isa,
                            const float *x, const float *s, float *y,
                            int64_t rows, int64_t inner, swarm_err_t *err);

/* The sum of x[0 .. n) in double (four or more partial sums, so the
 * order differs from a plain loop's by rounding only) on kernel set
 * `isa`, which the caller checked with cpu_gemm_isa_ok: the squeeze of the
 * block (global average pooling, ReduceMean over H, W), whose generic
 * loop ran scalar double adds at about one value a cycle. */
double exec_cpu_sum(cpu_isa_t isa, const float *x, int64_t n);

#endif
