/*
 * test_conv_dw.c - the CPU backend's depthwise convolution kernel
 * (conv_dw) against the generic path it replaces (im2col + one GEMM per
 * channel, through the same backend) and against a naive loop, at odd
 * shapes: strides 1-3, asymmetric pads (some wider than the kernel),
 * dilations, kernels 1x1 to 7x7 and 1-D, widths and channel counts that
 * are not multiples of the vector width, batch 1 and > 1, with and without
 * bias and a fused activation, on one lane and on two.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarm/backend.h"

#include "check.h"
#include "test_fill.h"
#include "test_window.h"

typedef test_dw_shape_t shape_t;

#define GUARD 64

/* The activation's alpha / beta in these tests (CLIP's bounds, LEAKY_RELU's
 * slope, HARDSIGMOID's line). */
static void act_ab(swarm_act_t act, float *a, float *b) {
        *a = 0.0f;
        *b = 6.0f;
        if (act == SWARM_ACT_LEAKY_RELU) {
                *a = 0.1f;
                *b = 0.0f;
        } else if (act == SWARM_ACT_HARDSIGMOID) {
                *a = 0.2f;
                *b = 0.5f;
        }
}

/* In double: an independent formula, not scalar_ops.h's. */
static float act_ref(swarm_act_t act, double v) {
        float a, b;
        double h;

        act_ab(act, &a, &b);
        switch (act) {
        case SWARM_ACT_RELU: return v > 0.0 ? (float)v : 0.0f;
        case SWARM_ACT_CLIP: return (float)(v < a ? a : v > b ? b : v);
        case SWARM_ACT_SIGMOID: return (float)(1.0 / (1.0 + exp(-v)));
        case SWARM_ACT_SILU: return (float)(v / (1.0 + exp(-v)));
        case SWARM_ACT_TANH: return (float)tanh(v);
        case SWARM_ACT_LEAKY_RELU: return (float)(v < 0.0 ? a * v : v);
        case SWARM_ACT_HARDSIGMOID:
                h = a * v + b;
                return (float)(h < 0.0 ? 0.0 : h > 1.0 ? 1.0 : h);
        case SWARM_ACT_HARDSWISH:
                h = v / 6.0 + 0.5;
                return (float)(v * (h < 0.0 ? 0.0 : h > 1.0 ? 1.0 : h));
        default: return (float)v;
        }
}


static double max_diff(const float *a, const float *b, int64_t n) {
        double d = 0.0;
        for (int64_t i = 0; i < n; i++)
                if (fabs((double)a[i] - b[i]) > d || a[i] != a[i] ||
                    b[i] != b[i])
                        d = a[i] != a[i] || b[i] != b[i]
                            ? INFINITY : fabs((double)a[i] - b[i]);
        return d;
}

static int run_shape(swarm_backend_t *be, const shape_t *s, int idx) {
        int64_t planes = s->imgs * s->ch, taps = s->kh * s->kw;
        swarm_window_t w = TEST_WINDOW_OF(planes, s);
        int64_t oh = w.oh, ow = w.ow;
        int64_t in_n = planes * s->h * s->w, out_n = planes * oh * ow;
        float *x = malloc((size_t)in_n * sizeof(float));
        float *f = malloc((size_t)(s->ch * taps) * sizeof(float));
        float *b = malloc((size_t)s->ch * sizeof(float));
        /* guard values after the output: the kernels store whole
         * vectors, masked */
        float *y = malloc((size_t)(out_n + GUARD) * sizeof(float));
        float *yg = malloc((size_t)out_n * sizeof(float));
        float *yn = malloc((size_t)out_n * sizeof(float));
        float *col = malloc((size_t)(taps * oh * ow) * sizeof(float));
        swarm_err_t err;
        double dg, dn;
        float aa, ab;
        int rc;

        if (!x || !f || !b || !y || !yg || !yn || !col) {
                printf("out of memory\n");
                exit(1);
        }
        test_fill(x, in_n, (unsigned)idx * 3 + 1);
        test_fill(f, s->ch * taps, (unsigned)idx * 3 + 2);
        test_fill(b, s->ch, (unsigned)idx * 3 + 3);
        memset(y, 0xff, (size_t)out_n * sizeof(float));    /* NaN */
        for (int g = 0; g < GUARD; g++)
                y[out_n + g] = 12345.0f;
        act_ab(s->act, &aa, &ab);
        rc = be->conv_dw(be, &w, s->ch, x, f, s->bias ? b : NULL, s->act,
                         aa, ab, y, &err);
        CHECK(rc == 0, "shape %d: conv_dw failed: %s", idx, err.msg);
        for (int g = 0; g < GUARD; g++)
                CHECK(y[out_n + g] == 12345.0f,
                      "shape %d: guard value %d after the output overwritten",
                      idx, g);

        /* The generic path: per plane, im2col of one channel and a
         * [1, taps] x [taps, oh * ow] GEMM with the bias and activation in
         * its epilogue, as run_conv does for group == channels. */
        for (int64_t p = 0; p < planes; p++) {
                int64_t c = p % s->ch;
                swarm_window_t w1 = w;
                swarm_gemm_t g;
                w1.n = 1;
                rc = be->im2col(be, &w1, x, p * s->h * s->w, col, &err);
                CHECK(rc == 0, "shape %d: im2col failed", idx);
                g = (swarm_gemm_t){
                        .m = 1, .n = oh * ow, .k = taps, .alpha = 1.0f,
                        .beta = 1.0f, .a = f, .a_off = c * taps, .lda = taps,
                        .b = col, .ldb = oh * ow, .c = yg,
                        .c_off = p * oh * ow, .ldc = oh * ow,
                        .bias = s->bias ? b : NULL, .bias_off = c,
                        .bias_mode = s->bias ? SWARM_BIAS_COL
                                             : SWARM_BIAS_NONE,
                        .act = s->act, .act_alpha = aa, .act_beta = ab};
                rc = be->gemm(be, &g, &err);
                CHECK(rc == 0, "shape %d: gemm failed", idx);
        }
        /* The naive loop, in double. */
        for (int64_t p = 0; p < planes; p++) {
                int64_t c = p % s->ch;
                for (int64_t oy = 0; oy < oh; oy++)
                        for (int64_t ox = 0; ox < ow; ox++) {
                                double acc = s->bias ? b[c] : 0.0;
                                for (int64_t ky = 0; ky < s->kh; ky++)
                                        for (int64_t kx = 0; kx < s->kw;
                                             kx++) {
                                                int64_t iy = oy * s->sh -
                                                             s->pt +
                                                             ky * s->dh;
                                                int64_t ix = ox * s->sw -
                                                             s->pl +
                                                             kx * s->dw;
                                                if (iy < 0 || iy >= s->h ||
                                                    ix < 0 || ix >= s->w)
                                                        continue;
                                                acc += (double)x[(p * s->h +
                                                                  iy) * s->w +
                                                                 ix] *
                                                       f[c * taps +
                                                         ky * s->kw + kx];
                                        }
                                yn[(p * oh + oy) * ow + ox] =
                                        act_ref(s->act, acc);
                        }
        }
        dg = max_diff(y, yg, out_n);
        dn = max_diff(y, yn, out_n);
        CHECK(dg <= 1e-5 && dn <= 1e-5,
              "shape %d (%lldx%lld of %lldx%lld, k %lldx%lld, s %lld,%lld, "
              "d %lld,%lld, threads %d): differs from im2col+GEMM by %g, "
              "from the naive loop by %g", idx, (long long)s->imgs,
              (long long)s->ch, (long long)s->h, (long long)s->w,
              (long long)s->kh, (long long)s->kw, (long long)s->sh,
              (long long)s->sw, (long long)s->dh, (long long)s->dw,
              be->threads, dg, dn);
        free(x);
        free(f);
        free(b);
        free(y);
        free(yg);
        free(yn);
        free(col);
        return 0;
}

int main(void) {
        static const shape_t shapes[] = {
                /* imgs ch  h   w  kh kw sh sw dh dw pt pl pb pr act bias */
                {1, 16, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1,
                 SWARM_ACT_NONE, 1},
                {2, 13, 17, 19, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1,
                 SWARM_ACT_RELU, 1},
                {3, 7, 23, 21, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1,
                 SWARM_ACT_CLIP, 0},
                {2, 5, 15, 33, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2,
                 SWARM_ACT_SIGMOID, 1},
                {1, 9, 29, 31, 5, 5, 2, 2, 1, 1, 1, 2, 2, 1,
                 SWARM_ACT_NONE, 1},
                {2, 3, 12, 13, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2,
                 SWARM_ACT_RELU, 1},
                {1, 4, 9, 11, 2, 2, 1, 1, 1, 1, 0, 0, 1, 1,
                 SWARM_ACT_NONE, 0},
                {2, 3, 10, 10, 3, 3, 3, 3, 1, 1, 0, 1, 2, 0,
                 SWARM_ACT_NONE, 1},
                {1, 6, 8, 9, 7, 7, 1, 1, 1, 1, 3, 3, 3, 3,
                 SWARM_ACT_NONE, 1},
                /* stride 2 at odd and even sizes, 1x1 and 2x2 kernels */
                {2, 3, 9, 8, 2, 2, 2, 2, 1, 1, 0, 1, 1, 0,
                 SWARM_ACT_RELU, 1},
                {1, 5, 7, 7, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0,
                 SWARM_ACT_NONE, 0},
                {2, 17, 12, 11, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1,
                 SWARM_ACT_SIGMOID, 1},
                /* pads wider than the kernel: whole output rows and
                 * columns read only padding */
                {2, 3, 5, 6, 3, 3, 1, 2, 1, 1, 4, 4, 4, 4,
                 SWARM_ACT_RELU, 1},
                /* a 1-D convolution (one row) and a single column */
                {3, 11, 1, 37, 1, 5, 1, 1, 1, 1, 0, 2, 0, 2,
                 SWARM_ACT_NONE, 1},
                {1, 5, 12, 1, 3, 1, 1, 1, 1, 1, 1, 0, 1, 0,
                 SWARM_ACT_NONE, 1},
                {1, 8, 6, 6, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0,
                 SWARM_ACT_NONE, 1},
                /* kernel as wide as the padded input: one output column */
                {1, 2, 7, 4, 3, 6, 1, 1, 1, 1, 1, 1, 1, 1,
                 SWARM_ACT_NONE, 1},
                /* padded planes past the kernel's scratch bound
                 * (DW_PAD_MAX): the path that clips each tap's columns */
                {1, 2, 4, 4, 1, 2, 1, 1, 1, 1, 520, 520, 520, 520,
                 SWARM_ACT_NONE, 1},
                {1, 2, 4, 5, 2, 2, 2, 2, 1, 1, 1040, 1041, 1039, 1040,
                 SWARM_ACT_RELU, 1},
                /* the AVX-512 fused path (stride 2, planes narrower than
                 * a vector, wide planes): 7 x 7 under 5 x 5 and 3 x 3
                 * (wide tails of 77 and 63), odd widths past 32 with odd
                 * and even left pads at stride 2, each activation it
                 * computes in registers, and one it does not (tanh) */
                {2, 19, 7, 7, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2,
                 SWARM_ACT_SILU, 1},
                {3, 5, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1,
                 SWARM_ACT_HARDSWISH, 1},
                {1, 3, 5, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1,
                 SWARM_ACT_LEAKY_RELU, 0},
                {2, 5, 13, 37, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1,
                 SWARM_ACT_HARDSIGMOID, 1},
                {1, 4, 11, 67, 5, 5, 2, 2, 1, 1, 2, 3, 2, 1,
                 SWARM_ACT_SILU, 1},
                {2, 3, 9, 33, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1,
                 SWARM_ACT_TANH, 1},
                {1, 3, 9, 49, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1,
                 SWARM_ACT_HARDSWISH, 1},
                {2, 3, 6, 61, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2,
                 SWARM_ACT_TANH, 0},
                {1, 2, 3, 15, 3, 3, 1, 1, 1, 1, 1, 0, 1, 0,
                 SWARM_ACT_CLIP, 1},
                /* large enough for the pool to split it across lanes */
                {4, 24, 56, 56, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1,
                 SWARM_ACT_RELU, 1},
                {2, 40, 57, 57, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2,
                 SWARM_ACT_NONE, 1},
        };
        int n = (int)(sizeof(shapes) / sizeof(shapes[0]));

        for (int threads = 1; threads <= 2; threads++) {
                swarm_err_t err;
                swarm_backend_t *be = NULL;
                if (swarm_backend_cpu_new(threads, &be, &err)) {
                        printf("FAIL: cpu backend: %s\n", err.msg);
                        return 1;
                }
                CHECK(be->conv_dw != NULL, "the CPU backend has conv_dw");
                if (be->conv_dw)
                        for (int i = 0; i < n; i++)
                                run_shape(be, &shapes[i], i);
                swarm_backend_destroy(be);
        }
        printf("%d shapes x 2 thread counts, %d failures\n", n, test_failures);
        return test_failures ? 1 : 0;
}
