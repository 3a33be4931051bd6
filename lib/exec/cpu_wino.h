/*
 * cpu_wino.h - Winograd F(4x4, 3x3) convolution for the CPU backend:
 * group-1, 3x3, stride-1, dilation-1 windows, any pads.  Each 6x6 input
 * tile d gives a 4x4 output tile A^T [(G g G^T) . (B^T d B)] A, so a tile
 * costs 36 multiply-adds per (input, output) channel pair instead of the
 * direct convolution's 144.  The filters are transformed once, at load
 * (cpu_wino_pack); each run transforms the input tiles, runs one
 * [cout x cin] x [cin x tiles] product per transform position (36), and
 * transforms the products back with the bias and activation epilogue.
 * Tiles of every image of the batch share the products.  Not a public
 * header: backend_cpu.c installs the exec_cpu_conv_wino* entries,
 * tests/exec/test_wino.c forces each kernel set.
 */
#ifndef SWARM_EXEC_CPU_WINO_H
#define SWARM_EXEC_CPU_WINO_H

#include <stddef.h>
#include <stdint.h>

#include "swarm/backend.h"
#include "swarm/err.h"
#include "cpu_gemm.h"

/* Transformed filters: u[xi][co / 8][ci][co % 8] for the 36 transform
 * positions xi, cout zero padded to a multiple of 8. */
typedef struct cpu_wino {
        cpu_isa_t isa;
        int64_t cin, cout, coutp;
        size_t bytes;           /* of the whole allocation */
        float *u;               /* 64-byte aligned */
        /* The backend entry's: the same filters packed by the backend's
         * gemm_pack, for runs with too few tiles (NULL when the plane has
         * enough for a batch of one); freed by exec_cpu_conv_wino_free. */
        void *small;
        size_t small_bytes;
        /* The backend entry's: set (and u NULL) for windows with too few
         * input channels for Winograd, run by cpu_sconv instead. */
        struct cpu_sconv *sconv;
} cpu_wino_t;

/* Kernel sets: C, and AVX2 / AVX-512 where the CPU runs them. */
int cpu_wino_isa_ok(cpu_isa_t isa);
/* Non-zero when the window is one cpu_wino runs (3x3, stride 1,
 * dilation 1, pads < 3, output = input + pads - 2) and its tile offsets
 * fit the kernels' 32-bit lane offsets. */
int cpu_wino_window_ok(const swarm_window_t *w, int64_t cout);
/* Transform filters w ([cout, cin, 3, 3], host floats) for `isa`.  Sizes
 * come from model files: checked, an overflow or a bad size fails with
 * SWARM_ERR_INVALID.  *out is freed with cpu_wino_free (accepts NULL). */
int cpu_wino_pack(cpu_isa_t isa, int64_t cout, int64_t cin, const float *w,
                  cpu_wino_t **out, swarm_err_t *err);
void cpu_wino_free(cpu_wino_t *p);
/* y ([imgs, cout, oh, ow]) = act(conv(x, w) + bias) with p's filters, on
 * the backend's lanes when the run has at least par_min multiply-adds
 * (the backend passes EXEC_CPU_PAR_MIN_MACS; tests 0 to force a split).
 * The window must pass cpu_wino_window_ok with w->n == p->cin (else
 * SWARM_ERR_BACKEND). */
int cpu_wino_run(swarm_backend_t *be, const cpu_wino_t *p,
                 const swarm_window_t *w, int64_t imgs, const float *x,
                 const float *bias, swarm_act_t act, float alpha, float beta,
                 float *y, int64_t par_min, swarm_err_t *err);

/* The backend entries (backend.h conv_wino_pack / conv_wino /
 * conv_wino_free): pack takes the best kernel set and leaves *packed NULL
 * where Winograd measured slower than the backend's other paths. */
int exec_cpu_conv_wino_pack(swarm_backend_t *be, const swarm_window_t *w,
                            int64_t cout, const void *filt, void **packed,
                            size_t *bytes, swarm_err_t *err);
int exec_cpu_conv_wino(swarm_backend_t *be, const swarm_window_t *w,
                       int64_t imgs, int64_t cout, const void *packed,
                       const void *x, const void *bias, swarm_act_t act,
                       float alpha, float beta, void *y, swarm_err_t *err);
void exec_cpu_conv_wino_free(swarm_backend_t *be, void *packed);

#endif
