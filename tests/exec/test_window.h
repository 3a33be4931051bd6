/*
 * test_window.h - the convolution window of a test's shape table
 * (test_conv_dw.c, test_gemm.c, test_conv_direct.c, test_mobile.c): one
 * place for the field fill and the output size, so the kernels' tests
 * cannot disagree on either.
 */
#ifndef SWARM_TESTS_EXEC_TEST_WINDOW_H
#define SWARM_TESTS_EXEC_TEST_WINDOW_H

#include <stdint.h>

#include "swarm/backend.h"

/* A row of the depthwise tests' shape tables (test_conv_dw.c,
 * test_mobile.c): images x channels planes, the window, the activation,
 * and whether a bias is given. */
typedef struct test_dw_shape {
        int64_t imgs, ch, h, w, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
        swarm_act_t act;
        int bias;
} test_dw_shape_t;

/* n planes of h x w under a kh x kw kernel, strides sh / sw, dilations
 * dh / dw, pads top / left / bottom / right; oh and ow as ONNX Conv has
 * them (floor).  The other fields are zero (one image per im2col). */
static inline swarm_window_t test_window(int64_t n, int64_t h, int64_t w,
                                         int64_t kh, int64_t kw, int64_t sh,
                                         int64_t sw, int64_t dh, int64_t dw,
                                         int64_t pt, int64_t pl, int64_t pb,
                                         int64_t pr) {
        return (swarm_window_t){
                .n = n, .h = h, .w = w, .kh = kh, .kw = kw, .sh = sh, .sw = sw,
                .dh = dh, .dw = dw, .pad_t = pt, .pad_l = pl, .pad_b = pb,
                .pad_r = pr,
                .oh = (h + pt + pb - ((kh - 1) * dh + 1)) / sh + 1,
                .ow = (w + pl + pr - ((kw - 1) * dw + 1)) / sw + 1};
}

/* The window of shape-table row `s` (fields h, w, kh, kw, sh, sw, dh, dw,
 * pt, pl, pb, pr, as both tables name them) over n planes. */
#define TEST_WINDOW_OF(n, s)                                                 \
        test_window((n), (s)->h, (s)->w, (s)->kh, (s)->kw, (s)->sh, (s)->sw, \
                    (s)->dh, (s)->dw, (s)->pt, (s)->pl, (s)->pb, (s)->pr)

#endif
