/*
 * cpu_sconv.h - direct 3x3 convolution, stride 1 or 2, for few input
 * channels (a network's first layer: 1 to 4 channels, K = cin * 9 at
 * most 36).
 * There, im2col + sgemm spends its time copying the columns and in
 * OpenBLAS' small-matrix path, and Winograd's transforms (per input
 * channel) outweigh its savings.  This kernel keeps 8 output channels x
 * 32 output columns of one row in registers and reads the (zero padded)
 * input rows directly: 16 multiply-adds per input load and 8 filter
 * broadcasts (AVX2: 4 channels x 16 columns, 8 accumulators).  AVX-512
 * and AVX2; the portable loop is the reference set for tests.  Not a public
 * header: cpu_wino.c's pack entry picks it for these windows.
 */
#ifndef SWARM_EXEC_CPU_SCONV_H
#define SWARM_EXEC_CPU_SCONV_H

#include <stddef.h>
#include <stdint.h>

#include "swarm/backend.h"
#include "swarm/err.h"
#include "cpu_gemm.h"

/* Input channels up to which cpu_sconv takes a window. */
#define CPU_SCONV_MAX_CIN 4

/* Filters f[co / 8][ci][tap][co % 8] (cout zero padded to a multiple of
 * 8). */
typedef struct cpu_sconv {
        cpu_isa_t isa;
        int64_t cin, cout, coutp;
        size_t bytes;
        float *f;
} cpu_sconv_t;

/* Kernel sets: C, and AVX2 / AVX-512 where the CPU runs them. */
int cpu_sconv_isa_ok(cpu_isa_t isa);
/* Non-zero for windows this kernel runs: 3x3, stride 1 or 2 (the same
 * both ways), dilation 1, pads 0-2, output = (input + pads - 3) / stride
 * + 1, 1 <= cin <= CPU_SCONV_MAX_CIN, sizes whose offsets fit (checked
 * arithmetic). */
int cpu_sconv_window_ok(const swarm_window_t *w, int64_t cout);
/* Pack filters w ([cout, cin, 3, 3]); *out freed by cpu_sconv_free
 * (accepts NULL).  Bad sizes: SWARM_ERR_INVALID. */
int cpu_sconv_pack(cpu_isa_t isa, int64_t cout, int64_t cin, const float *w,
                   cpu_sconv_t **out, swarm_err_t *err);
void cpu_sconv_free(cpu_sconv_t *p);
/* y ([imgs, cout, oh, ow]) = act(conv(x, w) + bias) (bias may be NULL),
 * output rows split across the backend's lanes when the run has at least
 * par_min multiply-adds (tests pass 0 to force a split).  The window must
 * pass cpu_sconv_window_ok with w->n == p->cin (else SWARM_ERR_BACKEND). */
int cpu_sconv_run(swarm_backend_t *be, const cpu_sconv_t *p,
                  const swarm_window_t *w, int64_t imgs, const float *x,
                  const float *bias, swarm_act_t act, float alpha, float beta,
                  float *y, int64_t par_min, swarm_err_t *err);

#endif
