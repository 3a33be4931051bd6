/*
 * test_conv3.h - the double-precision reference of the 3x3 convolution
 * tests (test_wino.c, test_sconv.c): one shape row, one
 * reference convolution and activation, one window fill, so the two
 * kernels that share conv_wino_pack are judged by the same reference.
 */
#ifndef SWARM_TESTS_EXEC_TEST_CONV3_H
#define SWARM_TESTS_EXEC_TEST_CONV3_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "swarm/backend.h"

/* imgs images of cin x h x w, cout filters, pads top / left / bottom /
 * right, the stride both ways (0 or absent: 1). */
typedef struct test_c3_shape {
        int64_t imgs, cin, cout, h, w, pt, pl, pb, pr, stride;
} test_c3_shape_t;

static inline int64_t test_c3_stride(const test_c3_shape_t *s) {
        return s->stride > 1 ? s->stride : 1;
}

static inline int64_t test_c3_oh(const test_c3_shape_t *s) {
        return (s->h + s->pt + s->pb - 3) / test_c3_stride(s) + 1;
}

static inline int64_t test_c3_ow(const test_c3_shape_t *s) {
        return (s->w + s->pl + s->pr - 3) / test_c3_stride(s) + 1;
}

/* The tests' activations, Clip on [-0.5, 0.75]. */
static inline double test_c3_act(swarm_act_t act, double v) {
        switch (act) {
        case SWARM_ACT_RELU:
                return v > 0 ? v : 0;
        case SWARM_ACT_CLIP:
                return v < -0.5 ? -0.5 : v > 0.75 ? 0.75 : v;
        case SWARM_ACT_SILU:
                return v / (1.0 + exp(-v));
        case SWARM_ACT_HARDSWISH:
                return v * (v / 6.0 + 0.5 < 0 ? 0 : v / 6.0 + 0.5 > 1 ? 1
                                                    : v / 6.0 + 0.5);
        case SWARM_ACT_TANH:
                return tanh(v);
        default:
                return v;
        }
}

/* y = act(conv + bias) in double (bias may be NULL). */
static inline void test_c3_ref(const test_c3_shape_t *s, const float *x,
                               const float *wt, const float *bias,
                               swarm_act_t act, double *y) {
        int64_t oh = test_c3_oh(s), ow = test_c3_ow(s), st = test_c3_stride(s);

        for (int64_t i = 0; i < s->imgs; i++)
                for (int64_t co = 0; co < s->cout; co++)
                        for (int64_t oy = 0; oy < oh; oy++)
                                for (int64_t ox = 0; ox < ow; ox++) {
                                        double acc = bias ? bias[co] : 0.0;
                                        for (int64_t ci = 0; ci < s->cin; ci++)
                                                for (int ky = 0; ky < 3; ky++)
                                                        for (int kx = 0; kx < 3; kx++) {
                                                                int64_t iy = oy * st + ky - s->pt;
                                                                int64_t ix = ox * st + kx - s->pl;
                                                                if (iy < 0 || iy >= s->h || ix < 0 || ix >= s->w)
                                                                        continue;
                                                                acc += (double)x[((i * s->cin + ci) * s->h + iy) * s->w + ix] *
                                                                       wt[((co * s->cin + ci) * 3 + ky) * 3 + kx];
                                                        }
                                        y[((i * s->cout + co) * oh + oy) * ow + ox] = test_c3_act(act, acc);
                                }
}

/* The window of shape `s`: all images in one call (img_str apart). */
static inline swarm_window_t test_c3_window(const test_c3_shape_t *s) {
        swarm_window_t w;

        memset(&w, 0, sizeof(w));
        w.n = s->cin;
        w.h = s->h;
        w.w = s->w;
        w.kh = w.kw = 3;
        w.sh = w.sw = test_c3_stride(s);
        w.dh = w.dw = 1;
        w.pad_t = s->pt;
        w.pad_l = s->pl;
        w.pad_b = s->pb;
        w.pad_r = s->pr;
        w.oh = test_c3_oh(s);
        w.ow = test_c3_ow(s);
        w.imgs = s->imgs;
        w.img_str = s->cin * s->h * s->w;
        return w;
}

#endif
