/*
 * test_mobile.c - the mobile-net kernels of the CPU backend, each kernel
 * set forced in turn (portable C, AVX2, AVX-512 where the CPU has them),
 * on one lane and on two, against naive double-precision references:
 *
 * - depthwise convolution (cpu_dw.c): strides 1 and 2 (the fast paths) and
 *   3 and 1x2 (the general path), kernels 1 to 7, dilation, asymmetric
 *   pads (some wider than the kernel), planes from 1x1 to 113x113 with
 *   widths and channel counts that are not multiples of any vector width,
 *   batch 1 and > 1, with and without bias, every fused activation the
 *   mobile nets use, and bad windows refused; on AVX-512 the small planes
 *   go to the 16-channel kernel (cpu_dwc.c): which windows it takes
 *   (hostile sizes not), and its outputs bit for bit the AVX2 plane
 *   kernel's where both sum the taps in the same order;
 * - the squeeze-excitation channel scale (cpu_se.c): rows of 1 to 200
 *   values (every tail length of 8 and 16), in place and not;
 * - the activations over a span (cpu_act.c): [-100, 100] and NaN, every
 *   tail length;
 * - the squeeze's row sum (cpu_se.c exec_cpu_sum): lengths 0 to 70 and a
 *   112x112 plane, against a long double sum.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_act.h"
#include "cpu_dw.h"
#include "cpu_dwc.h"
#include "cpu_se.h"
#include "scalar_ops.h"
#include "swarm/backend.h"

#include "check.h"
#include "test_fill.h"
#include "test_window.h"

typedef test_dw_shape_t shape_t;

/* Shapes whose 16-channel outputs run_dw compared bit for bit. */
static int dwc_bitwise;

/* The activations as their ONNX definitions, in double (libm exp); the
 * kernels get alpha 0.2, beta 0.5 (Clip bounds, HardSigmoid slope and
 * offset). */
static double act_ref(swarm_act_t act, double v) {
        double h;
        switch (act) {
        case SWARM_ACT_RELU: return v > 0.0 ? v : 0.0;
        case SWARM_ACT_CLIP: return v < 0.2 ? 0.2 : v > 0.5 ? 0.5 : v;
        case SWARM_ACT_SIGMOID: return 1.0 / (1.0 + exp(-v));
        case SWARM_ACT_SILU: return v / (1.0 + exp(-v));
        case SWARM_ACT_HARDSIGMOID:
                h = 0.2 * v + 0.5;
                return h < 0.0 ? 0.0 : h > 1.0 ? 1.0 : h;
        case SWARM_ACT_HARDSWISH:
                h = v / 6.0 + 0.5;
                return v * (h < 0.0 ? 0.0 : h > 1.0 ? 1.0 : h);
        default: return v;
        }
}

/* Deterministic values in [-2, 2) that differ per index. */
static void fill(float *p, int64_t n, unsigned seed) {
        test_fill_range(p, n, seed, 7, 2.0f);
}

static const char *isa_name(cpu_isa_t isa) {
        return isa == CPU_ISA_AVX512 ? "avx512" : isa == CPU_ISA_AVX2
               ? "avx2" : "c";
}

static void run_dw(swarm_backend_t *be, cpu_isa_t isa, const shape_t *s,
                   int idx) {
        int64_t planes = s->imgs * s->ch, taps = s->kh * s->kw;
        swarm_window_t w = TEST_WINDOW_OF(planes, s);
        int64_t oh = w.oh, ow = w.ow;
        int64_t in_n = planes * s->h * s->w, out_n = planes * oh * ow;
        float *x = malloc((size_t)in_n * sizeof(float));
        float *f = malloc((size_t)(s->ch * taps) * sizeof(float));
        float *b = malloc((size_t)s->ch * sizeof(float));
        /* One guard value past the end catches a write out of bounds. */
        float *y = malloc((size_t)(out_n + 1) * sizeof(float));
        swarm_err_t err = {0};
        double worst = 0.0;
        int rc;

        REQUIRE(x && f && b && y);
        fill(x, in_n, (unsigned)idx + 1);
        fill(f, s->ch * taps, (unsigned)idx + 101);
        fill(b, s->ch, (unsigned)idx + 202);
        for (int64_t i = 0; i <= out_n; i++)
                y[i] = -777.0f;
        rc = exec_cpu_conv_dw_isa(be, isa, &w, s->ch, x, f,
                                  s->bias ? b : NULL, s->act, 0.2f, 0.5f, y,
                                  &err);
        CHECK_OK(rc, err);
        for (int64_t q = 0; q < planes && !rc; q++) {
                int64_t c = q % s->ch;
                for (int64_t oy = 0; oy < oh; oy++)
                        for (int64_t ox = 0; ox < ow; ox++) {
                                double acc = s->bias ? b[c] : 0.0, r, got;
                                double mag = fabs(acc);
                                for (int64_t ky = 0; ky < s->kh; ky++)
                                        for (int64_t kx = 0; kx < s->kw;
                                             kx++) {
                                                int64_t iy = oy * s->sh -
                                                        s->pt + ky * s->dh;
                                                int64_t ix = ox * s->sw -
                                                        s->pl + kx * s->dw;
                                                double t;
                                                if (iy < 0 || iy >= s->h ||
                                                    ix < 0 || ix >= s->w)
                                                        continue;
                                                t = (double)f[c * taps +
                                                      ky * s->kw + kx] *
                                                    x[(q * s->h + iy) * s->w +
                                                      ix];
                                                acc += t;
                                                mag += fabs(t);
                                        }
                                r = act_ref(s->act, acc);
                                got = y[(q * oh + oy) * ow + ox];
                                /* float sums of kh * kw terms: relative
                                 * to the sum of magnitudes. */
                                if (!(fabs(got - r) <= 1e-5 * (1.0 + mag)))
                                        worst = INFINITY;
                                else if (fabs(got - r) > worst)
                                        worst = fabs(got - r);
                        }
        }
        CHECK(worst < INFINITY, "%s, %d lanes, shape %d (%lldx%lld k%lldx%lld"
              " s%lld d%lld): off by more than 1e-5 relative",
              isa_name(isa), be->threads, idx, (long long)s->h,
              (long long)s->w, (long long)s->kh, (long long)s->kw,
              (long long)s->sh, (long long)s->dh);
        CHECK(y[out_n] == -777.0f, "%s shape %d: wrote past the output",
              isa_name(isa), idx);
        /* The 16-channel kernel and the AVX2 plane kernel (its fast paths:
         * stride 1, stride 2 undilated) both start from the bias and add
         * the taps in raster order by FMA: with no activation or ReLU
         * (exact in both) the outputs agree to the bit. */
        if (isa == CPU_ISA_AVX512 && cpu_gemm_isa_ok(CPU_ISA_AVX2) &&
            exec_cpu_dwc_fits(isa, &w, s->ch) &&
            (s->act == SWARM_ACT_NONE || s->act == SWARM_ACT_RELU) &&
            ((s->sh == 1 && s->sw == 1) ||
             (s->sh == 2 && s->sw == 2 && s->dh == 1 && s->dw == 1))) {
                float *y2 = malloc((size_t)out_n * sizeof(float));
                int64_t diff = 0;
                REQUIRE(y2);
                rc = exec_cpu_conv_dw_isa(be, CPU_ISA_AVX2, &w, s->ch, x, f,
                                          s->bias ? b : NULL, s->act, 0.2f,
                                          0.5f, y2, &err);
                CHECK_OK(rc, err);
                for (int64_t i = 0; i < out_n; i++)
                        diff += memcmp(&y[i], &y2[i], sizeof(float)) != 0;
                CHECK(diff == 0, "shape %d: 16-channel kernel and AVX2 differ "
                      "in %lld of %lld outputs", idx, (long long)diff,
                      (long long)out_n);
                dwc_bitwise++;
                free(y2);
        }
        free(x);
        free(f);
        free(b);
        free(y);
}

/* Which windows the 16-channel kernel takes: the mobile nets' small
 * planes; not the big ones, other kernel sets, planes that are not whole
 * images, nor hostile sizes (each past the bound on its own, and sums
 * that would overflow). */
static void run_dwc_fits(void) {
        swarm_window_t w = test_window(576, 7, 7, 5, 5, 1, 1, 1, 1, 2, 2, 2,
                                       2);
        swarm_window_t v;
        int avx512 = cpu_gemm_isa_ok(CPU_ISA_AVX512) != 0;

        CHECK(exec_cpu_dwc_fits(CPU_ISA_AVX512, &w, 576) == avx512,
              "576 x 7 x 7 5x5: 16-channel kernel %s", avx512 ? "not taken"
              : "taken without AVX-512");
        CHECK(exec_cpu_dwc_fits(CPU_ISA_AVX512, &w, 96) == avx512,
              "six images of 96 channels");
        CHECK(!exec_cpu_dwc_fits(CPU_ISA_AVX2, &w, 576), "AVX2 taken");
        CHECK(!exec_cpu_dwc_fits(CPU_ISA_C, &w, 576), "C taken");
        CHECK(!exec_cpu_dwc_fits(CPU_ISA_AVX512, &w, 575),
              "planes not whole images taken");
        CHECK(!exec_cpu_dwc_fits(CPU_ISA_AVX512, &w, 0), "0 channels");
        /* MobileNetV3's 56 x 56 stride 2 (58 x 58 padded) is in, its 112 x
         * 112 planes are not */
        v = test_window(72, 56, 56, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1);
        CHECK(exec_cpu_dwc_fits(CPU_ISA_AVX512, &v, 72) == avx512,
              "56 x 56 stride 2");
        v = test_window(16, 112, 112, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1);
        CHECK(!exec_cpu_dwc_fits(CPU_ISA_AVX512, &v, 16), "112 x 112 taken");
        v = w;
        v.kh = v.kw = 17;
        v.pad_t = v.pad_b = v.pad_l = v.pad_r = 8;
        CHECK(!exec_cpu_dwc_fits(CPU_ISA_AVX512, &v, 576), "289 taps taken");
        v = w;
        v.pad_t = INT64_MAX - 3;
        CHECK(!exec_cpu_dwc_fits(CPU_ISA_AVX512, &v, 576), "huge pad taken");
        v = w;
        v.pad_l = -1;
        CHECK(!exec_cpu_dwc_fits(CPU_ISA_AVX512, &v, 576), "negative pad");
        v = w;
        v.sh = INT64_MAX;
        CHECK(!exec_cpu_dwc_fits(CPU_ISA_AVX512, &v, 576), "huge stride");
        v = w;
        v.dw = INT64_MAX / 2;
        CHECK(!exec_cpu_dwc_fits(CPU_ISA_AVX512, &v, 576), "huge dilation");
        v = w;
        v.oh = 8;               /* the last row's taps past the plane */
        CHECK(!exec_cpu_dwc_fits(CPU_ISA_AVX512, &v, 576),
              "window past the plane");
        v = w;
        v.ow = INT64_MAX;
        CHECK(!exec_cpu_dwc_fits(CPU_ISA_AVX512, &v, 576), "huge output");
}

static void run_scale(swarm_backend_t *be, cpu_isa_t isa, int64_t rows,
                      int64_t inner, int in_place) {
        int64_t n = rows * inner;
        float *x = malloc((size_t)(n + 1) * sizeof(float));
        float *s = malloc((size_t)(rows ? rows : 1) * sizeof(float));
        float *y = malloc((size_t)(n + 1) * sizeof(float));
        float *out;
        swarm_err_t err = {0};
        int bad = 0, rc;

        REQUIRE(x && s && y);
        fill(x, n, (unsigned)(rows * 31 + inner));
        fill(s, rows, (unsigned)(rows + 5));
        memcpy(y, x, (size_t)n * sizeof(float));
        x[n] = y[n] = -777.0f;
        out = in_place ? y : malloc((size_t)(n + 1) * sizeof(float));
        REQUIRE(out);
        if (!in_place)
                out[n] = -777.0f;
        rc = exec_cpu_scale_rows_isa(be, isa, y, s, out, rows, inner, &err);
        CHECK_OK(rc, err);
        for (int64_t r = 0; r < rows; r++)
                for (int64_t i = 0; i < inner; i++)
                        /* one float product: exact to the rounding */
                        if (out[r * inner + i] != x[r * inner + i] * s[r])
                                bad++;
        CHECK(bad == 0, "%s, %d lanes, scale %lld x %lld%s: %d values wrong",
              isa_name(isa), be->threads, (long long)rows, (long long)inner,
              in_place ? " in place" : "", bad);
        CHECK(out[n] == -777.0f, "scale wrote past the output");
        if (!in_place)
                free(out);
        free(x);
        free(s);
        free(y);
}

static void run_act(cpu_isa_t isa) {
        static const swarm_act_t acts[] = {
                SWARM_ACT_NONE, SWARM_ACT_RELU, SWARM_ACT_CLIP,
                SWARM_ACT_SIGMOID, SWARM_ACT_SILU, SWARM_ACT_HARDSIGMOID,
                SWARM_ACT_HARDSWISH,
        };
        void (*fn)(swarm_act_t, float, float, float *, int64_t) =
                isa == CPU_ISA_AVX512 ? exec_cpu_act_avx512
                : isa == CPU_ISA_AVX2 ? exec_cpu_act_avx2 : exec_cpu_act_c;
        enum { N = 2003 };
        static float x[N + 1], p[N + 1];

        for (int i = 0; i < N; i++)
                x[i] = -100.0f + 200.0f * (float)i / (N - 1);
        x[7] = NAN;
        for (size_t k = 0; k < sizeof(acts) / sizeof(acts[0]); k++)
                for (int64_t n = 1; n <= N; n += n < 40 ? 1 : 491) {
                        int bad = 0;
                        memcpy(p, x, sizeof(p));
                        p[n] = 12345.0f;
                        fn(acts[k], 0.2f, 0.5f, p, n);
                        for (int64_t i = 0; i < n; i++) {
                                double r = act_ref(acts[k], x[i]);
                                if (x[i] != x[i]) {
                                        /* Relu and Clip may map NaN to a
                                         * bound (as scalar_ops.h does);
                                         * the others keep it. */
                                        if (p[i] == p[i] &&
                                            acts[k] != SWARM_ACT_RELU &&
                                            acts[k] != SWARM_ACT_CLIP)
                                                bad++;
                                } else if (!(fabs(p[i] - r) <=
                                             2e-6 * (1.0 + fabs(r))))
                                        bad++;
                        }
                        CHECK(bad == 0 && p[n] == 12345.0f,
                              "%s act %d over %lld values: %d wrong",
                              isa_name(isa), (int)acts[k], (long long)n, bad);
                }
}

static void run_sum(cpu_isa_t isa) {
        enum { N = 112 * 112 };
        static float x[N];
        int bad = 0;

        fill(x, N, 99);
        for (int64_t n = 0;; n = n < 70 ? n + 1 : n == 70 ? 1001 : N) {
                long double r = 0, mag = 0;
                double got;
                for (int64_t i = 0; i < n; i++) {
                        r += x[i];
                        mag += fabsl((long double)x[i]);
                }
                got = exec_cpu_sum(isa, x, n);
                /* double partial sums of floats: ~1e-16 per term */
                if (!(fabsl((long double)got - r) <= 1e-13L * (1 + mag)))
                        bad++;
                if (n == N)
                        break;
        }
        CHECK(bad == 0, "%s sum: %d lengths wrong", isa_name(isa), bad);
}

/* scalar_ops.h's e^x (SiLU, sigmoid, the attention softmax), 2^n taken
 * from the rounding sum's bits: against exp() in double over its whole
 * range in 2^21 steps, exact at 0, NaN through, the clamps. */
static void run_expf(void) {
        double worst = 0;
        const int steps = 1 << 21;

        for (int i = 0; i <= steps; i++) {
                float x = -87.33f + (float)((88.37 + 87.33) * i / steps);
                double want = exp((double)x);
                double rel = fabs(swarm_expf_range(x) - want) / want;
                if (rel > worst)
                        worst = rel;
        }
        CHECK(worst < 4e-7, "expf: worst relative error %g", worst);
        CHECK(swarm_expf_range(0.0f) == 1.0f);
        CHECK(isnan(swarm_expf_range(NAN)) && isnan(swarm_expf_clamped(NAN)));
        CHECK(isfinite(swarm_expf_clamped(1000.0f)) &&
              swarm_expf_clamped(1000.0f) > 1e38f);
        CHECK(swarm_expf_clamped(-1000.0f) >= 0.0f &&
              swarm_expf_clamped(-1000.0f) < 1e-37f);
        printf("expf: worst relative error %.3g\n", worst);
}

int main(void) {
        static const shape_t shapes[] = {
                /* imgs ch h w kh kw sh sw dh dw pt pl pb pr act bias */
                {1, 3, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, SWARM_ACT_SILU, 1},
                {2, 17, 7, 7, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2,
                 SWARM_ACT_HARDSWISH, 1},
                {1, 19, 14, 14, 5, 5, 2, 2, 1, 1, 1, 1, 2, 2,
                 SWARM_ACT_HARDSWISH, 1},
                {3, 5, 13, 11, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1,
                 SWARM_ACT_RELU, 0},
                {1, 4, 113, 113, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1,
                 SWARM_ACT_SIGMOID, 1},
                {1, 3, 113, 112, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1,
                 SWARM_ACT_CLIP, 1},
                {2, 6, 9, 10, 3, 5, 1, 1, 2, 2, 2, 4, 2, 4,
                 SWARM_ACT_HARDSIGMOID, 1},
                {1, 7, 12, 9, 7, 7, 1, 1, 1, 1, 3, 3, 3, 3, SWARM_ACT_SILU, 0},
                {1, 5, 6, 6, 3, 3, 1, 1, 1, 1, 5, 0, 0, 5, SWARM_ACT_NONE, 1},
                {1, 3, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, SWARM_ACT_SILU, 1},
                {1, 9, 5, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, SWARM_ACT_NONE, 1},
                {1, 8, 10, 10, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2, SWARM_ACT_SILU, 1},
                /* general path: stride 3, stride 1x2, stride 2 dilated */
                {1, 6, 17, 16, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, SWARM_ACT_SILU, 1},
                {2, 3, 8, 15, 3, 3, 1, 2, 1, 1, 1, 1, 1, 1, SWARM_ACT_RELU, 1},
                {1, 4, 15, 15, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, SWARM_ACT_NONE, 0},
                /* the 16-channel kernel (AVX-512): whole blocks, a block
                 * and a tail, MobileNetV3's 14 x 14 and 7 x 7 layers,
                 * stride 3 and dilation (which its loads take like any
                 * other), asymmetric pads, several images */
                {1, 16, 7, 7, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, SWARM_ACT_NONE, 1},
                {2, 32, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, SWARM_ACT_RELU, 1},
                {1, 576, 7, 7, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2,
                 SWARM_ACT_HARDSWISH, 1},
                {1, 40, 14, 14, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2,
                 SWARM_ACT_RELU, 0},
                {3, 21, 14, 14, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2,
                 SWARM_ACT_NONE, 1},
                {1, 18, 19, 17, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1,
                 SWARM_ACT_SILU, 1},
                {2, 17, 12, 13, 3, 3, 1, 1, 2, 3, 3, 1, 0, 4,
                 SWARM_ACT_RELU, 1},
                {1, 20, 15, 15, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2,
                 SWARM_ACT_SIGMOID, 1},
                {1, 33, 9, 11, 3, 5, 2, 1, 1, 1, 0, 2, 1, 2,
                 SWARM_ACT_CLIP, 0},
                {1, 24, 57, 57, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1,
                 SWARM_ACT_HARDSIGMOID, 1},
                /* big enough to split across two lanes */
                {4, 33, 28, 28, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2,
                 SWARM_ACT_SILU, 1},
                {2, 40, 57, 57, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1,
                 SWARM_ACT_HARDSWISH, 1},
        };
        static const int64_t scales[][2] = {
                {1, 1}, {3, 7}, {5, 8}, {2, 15}, {4, 16}, {3, 17}, {6, 49},
                {7, 63}, {2, 64}, {3, 65}, {9, 196}, {2, 200}, {96, 784},
                {0, 5}, {5, 0},
        };
        int ns = (int)(sizeof(shapes) / sizeof(shapes[0]));
        int nsc = (int)(sizeof(scales) / sizeof(scales[0]));
        int sets = 0;

        for (int threads = 1; threads <= 2; threads++) {
                swarm_err_t err = {0};
                swarm_backend_t *be = NULL;
                swarm_window_t bad;
                float v = 0.0f;
                REQUIRE_OK(swarm_backend_cpu_new(threads, &be, &err), err);
                for (int isa = 0; isa < CPU_ISA_COUNT; isa++) {
                        if (!cpu_gemm_isa_ok((cpu_isa_t)isa))
                                continue;
                        sets += threads == 1;
                        if (threads == 1) {
                                if (isa == 0)
                                        run_dwc_fits();
                                run_act((cpu_isa_t)isa);
                                run_sum((cpu_isa_t)isa);
                        }
                        for (int i = 0; i < ns; i++)
                                run_dw(be, (cpu_isa_t)isa, &shapes[i], i);
                        for (int i = 0; i < nsc; i++)
                                for (int ip = 0; ip < 2; ip++)
                                        run_scale(be, (cpu_isa_t)isa,
                                                  scales[i][0], scales[i][1],
                                                  ip);
                }
                /* A negative pad is refused, not read out of bounds. */
                memset(&bad, 0, sizeof(bad));
                bad.n = bad.h = bad.w = bad.oh = bad.ow = 1;
                bad.kh = bad.kw = bad.sh = bad.sw = bad.dh = bad.dw = 1;
                bad.pad_l = -3;
                CHECK_ERR(exec_cpu_conv_dw_isa(be, CPU_ISA_C, &bad, 1, &v, &v,
                                               NULL, SWARM_ACT_NONE, 0, 0, &v,
                                               &err),
                          err, SWARM_ERR_BACKEND, "depthwise window");
                CHECK_ERR(exec_cpu_conv_dw_isa(be, CPU_ISA_COUNT, &bad, 1, &v,
                                               &v, NULL, SWARM_ACT_NONE, 0, 0,
                                               &v, &err),
                          err, SWARM_ERR_INVALID, "kernel set");
                CHECK_ERR(exec_cpu_scale_rows_isa(be, CPU_ISA_C, &v, &v, &v,
                                                  -1, 1, &err),
                          err, SWARM_ERR_INVALID, "scale rows");
                swarm_backend_destroy(be);
        }
        /* the shapes above that are NONE / ReLU at stride 1 or 2, on the
         * 16-channel kernel, on both lane counts */
        if (cpu_gemm_isa_ok(CPU_ISA_AVX512))
                CHECK(dwc_bitwise >= 2 * 6, "only %d shapes compared bit "
                      "for bit", dwc_bitwise);
        printf("%d kernel sets x 2 lane counts: %d depthwise shapes (%d "
               "compared bit for bit), %d scale shapes, %d failures\n",
               sets, ns, dwc_bitwise, nsc * 2, test_failures);
        run_expf();
        TEST_DONE();
}
