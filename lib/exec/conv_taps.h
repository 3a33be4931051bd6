/*
 * conv_taps.h - the taps of a convolution window that read only padding,
 * dropped at load (conv_taps.c).  Not a public header: h_conv
 * (onnx_ops.c) trims constant weights with it, tests/exec/test_conv_taps.c
 * checks it.
 *
 * Why: a dilated 3x3 over a small map reads mostly zeros.  DeepLabV3's
 * ASPP runs dilation 12, 24 and 36 over a 6 x 6 map at 96 x 96 input (and
 * dilation 36 over 33 x 33 at 513 x 513); eight of its nine taps lie wholly
 * in the padding for every output cell, so the layer is a 1x1 convolution
 * run at nine times the arithmetic (bench/exec/README.md, the zoo).
 */
#ifndef SWARM_EXEC_CONV_TAPS_H
#define SWARM_EXEC_CONV_TAPS_H

#include <stdint.h>

/* The taps kept in one spatial dimension, and the pads that give the
 * same output length with them. */
typedef struct exec_taps {
        int64_t first;          /* first tap kept */
        int64_t count;          /* taps kept, first .. first + count - 1 */
        int64_t pad_lo, pad_hi; /* pads of the trimmed window, >= 0 */
} exec_taps_t;

/* One dimension of a window: `in` input and `out` output cells, `k` taps
 * of dilation `dil`, stride `stride`, pads pad_lo / pad_hi (all as the
 * loader checked them: k, stride, dil >= 1, pads >= 0).  Returns 1 when
 * taps at either end read only padding before or after the input for
 * every output cell and can be dropped, with *t saying which to keep: the trimmed window gives
 * the same `out` and reads the same input cells with the kept taps, so
 * the convolution's result is unchanged (a dropped tap only ever adds
 * zero).  Returns 0 when there is nothing to drop, when no tap reads the
 * input at all (the result is the bias; left as it is), when the pads
 * would have to go negative, or when an extent does not fit in int64_t. */
int exec_conv_taps(int64_t in, int64_t out, int64_t k, int64_t stride,
                   int64_t dil, int64_t pad_lo, int64_t pad_hi,
                   exec_taps_t *t);

/* Copy the kept taps of `filters` [kh, kw] kernels (w, filters * kh * kw
 * floats) to `dst` (filters * th->count * tw->count floats). */
void exec_conv_taps_slice(const float *w, int64_t filters, int64_t kh,
                          int64_t kw, const exec_taps_t *th,
                          const exec_taps_t *tw, float *dst);

#endif
