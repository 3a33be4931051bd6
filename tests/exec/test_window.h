/*
 * test_window.h - the convolution window of a test's shape table
 * (test_conv_dw.c, test_gemm.c): one place for the field fill and the
 * output size, so the kernels' tests cannot disagree on either.
 */
#ifndef SWARM_TESTS_EXEC_TEST_WINDOW_H
#define SWARM_TESTS_EXEC_TEST_WINDOW_H

#include <stdint.h>
#include <string.h>

#include "swarm/backend.h"

/* n planes of h x w under a kh x kw kernel, strides sh / sw, dilations
 * dh / dw, pads top / left / bottom / right; oh and ow as ONNX Conv has
 * them (floor).  The other fields are zero (one image per im2col). */
static inline swarm_window_t test_window(int64_t n, int64_t h, int64_t w,
                                         int64_t kh, int64_t kw, int64_t sh,
                                         int64_t sw, int64_t dh, int64_t dw,
                                         int64_t pt, int64_t pl, int64_t pb,
                                         int64_t pr) {
        swarm_window_t win;

        memset(&win, 0, sizeof(win));
        win.n = n;
        win.h = h;
        win.w = w;
        win.kh = kh;
        win.kw = kw;
        win.sh = sh;
        win.sw = sw;
        win.dh = dh;
        win.dw = dw;
        win.pad_t = pt;
        win.pad_l = pl;
        win.pad_b = pb;
        win.pad_r = pr;
        win.oh = (h + pt + pb - ((kh - 1) * dh + 1)) / sh + 1;
        win.ow = (w + pl + pr - ((kw - 1) * dw + 1)) / sw + 1;
        return win;
}

/* The window of shape-table row `s` (fields h, w, kh, kw, sh, sw, dh, dw,
 * pt, pl, pb, pr, as both tables name them) over n planes. */
#define TEST_WINDOW_OF(n, s)                                                 \
        test_window((n), (s)->h, (s)->w, (s)->kh, (s)->kw, (s)->sh, (s)->sw, \
                    (s)->dh, (s)->dw, (s)->pt, (s)->pl, (s)->pb, (s)->pr)

#endif
