/*
 * test_conv_direct.c - the direct convolution of lib/exec/cpu_gemm.c
 * (AVX-512 and AVX2: B read in place from a zero-padded copy of the
 * image, phase planes for strides, no packing) against a double-precision naive
 * convolution with bias and activation: ResNet-like 3x3, the 7x7 / 2
 * stem, strides 2-4 and mixed, cin 1 and 3, dilations,
 * asymmetric and even kernels, 1-D, Cout not a multiple of 8, K past the
 * A row block (two A blocks), several images whose virtual columns split
 * mid-image across parts; on 1, 2 and 3 parts for every kernel family the
 * CPU runs (C takes the packed path: same answers), through the
 * backend's conv_packed on 1 and 2 lanes, and it checks the job really
 * takes the direct path where it should (and not below DIRECT_MIN_OW,
 * past DIRECT_MAX_STRIDE or DIRECT_MAX_PHASES).
 * A second pass gives each shape one of Sigmoid, SiLU, HardSwish and
 * HardSigmoid (ONNX's alpha 0.2 / beta 0.5) in turn: the activations the
 * drivers apply with cpu_act's kernel after each finished row block.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarm/backend.h"
#include "cpu_gemm.h"

#include "check.h"
#include "test_fill.h"
#include "test_gemm_job.h"
#include "test_window.h"


typedef struct dshape {
        int64_t imgs, cin, cout, h, w, kh, kw, dh, dw, pt, pl, pb, pr;
        swarm_act_t act;
        int direct;     /* expected on AVX-512 and AVX2 */
        int64_t sh, sw;         /* 0: 1 */
        int64_t groups;         /* 0: 1; cin is per group, cout in all */
} dshape_t;

static const dshape_t shapes[] = {
        /* imgs cin cout h  w  kh kw dh dw pt pl pb pr */
        {2, 16, 24, 22, 22, 3, 3, 1, 1, 1, 1, 1, 1, SWARM_ACT_RELU, 1},
        {1, 3, 8, 5, 40, 3, 3, 1, 1, 1, 1, 1, 1, SWARM_ACT_NONE, 1},
        {1, 1, 5, 3, 21, 3, 3, 1, 1, 1, 1, 1, 1, SWARM_ACT_RELU, 1},
        {1, 7, 13, 6, 33, 5, 5, 2, 2, 4, 4, 4, 4, SWARM_ACT_CLIP, 1},
        {3, 4, 9, 4, 25, 2, 4, 1, 1, 0, 3, 1, 0, SWARM_ACT_RELU, 1},
        {1, 5, 17, 1, 64, 1, 3, 1, 1, 0, 0, 0, 0, SWARM_ACT_NONE, 1},
        {1, 1900, 9, 1, 28, 1, 9, 1, 1, 0, 0, 0, 0, SWARM_ACT_NONE, 1},
        {2, 8, 70, 9, 30, 3, 3, 1, 1, 1, 1, 1, 1, SWARM_ACT_RELU, 1},
        {5, 2, 3, 2, 20, 3, 3, 1, 1, 1, 1, 1, 1, SWARM_ACT_NONE, 1},
        {2, 4, 6, 7, 19, 3, 3, 1, 1, 1, 1, 1, 1, SWARM_ACT_RELU, 0},
        /* strided: phase planes (ResNet's 7x7 / 2 stem and 3x3 / 2) */
        {2, 3, 16, 45, 45, 7, 7, 1, 1, 3, 3, 3, 3, SWARM_ACT_RELU, 1, 2, 2},
        {1, 4, 12, 9, 44, 3, 3, 1, 1, 1, 1, 1, 1, SWARM_ACT_NONE, 1, 2, 2},
        {3, 2, 7, 6, 43, 3, 3, 1, 1, 1, 1, 0, 1, SWARM_ACT_RELU, 1, 2, 2},
        {1, 8, 9, 11, 25, 3, 2, 1, 1, 1, 0, 1, 1, SWARM_ACT_NONE, 1, 2, 1},
        {2, 1, 10, 13, 70, 3, 3, 2, 2, 2, 2, 2, 2, SWARM_ACT_CLIP, 1, 3, 3},
        {1, 4, 5, 5, 90, 1, 5, 1, 1, 0, 2, 0, 2, SWARM_ACT_NONE, 1, 1, 4},
        /* past the stride and phase limits: packed */
        {1, 1, 6, 9, 40, 3, 3, 1, 1, 1, 1, 1, 1, SWARM_ACT_RELU, 0, 5, 2},
        {1, 33, 6, 9, 44, 3, 3, 1, 1, 1, 1, 1, 1, SWARM_ACT_RELU, 0, 2, 2},
        /* 8, 16 and 32 channels at stride 2 (32 to 128 phases; the
         * segmentation net's encoder): direct */
        {1, 8, 6, 9, 44, 3, 3, 1, 1, 1, 1, 1, 1, SWARM_ACT_RELU, 1, 2, 2},
        {2, 16, 32, 12, 48, 3, 3, 1, 1, 1, 1, 1, 1, SWARM_ACT_RELU, 1, 2, 2},
        {1, 32, 20, 8, 42, 3, 3, 1, 1, 1, 1, 1, 1, SWARM_ACT_NONE, 1, 2, 2},
        /* grouped (RegNet's groups of 8 channels): each group its own
         * filters, channels and output rows; rows per group not a
         * multiple of the slivers */
        {2, 8, 48, 12, 28, 3, 3, 1, 1, 1, 1, 1, 1, SWARM_ACT_RELU, 1, 1, 1,
         6},
        {1, 3, 10, 7, 30, 3, 3, 1, 1, 1, 1, 1, 1, SWARM_ACT_NONE, 1, 1, 1,
         5},
        {3, 2, 9, 9, 41, 3, 3, 1, 1, 1, 1, 1, 1, SWARM_ACT_CLIP, 1, 2, 2,
         3},
        /* grouped windows go direct at any width (RegNet's 14 x 14 and
         * 7 x 7 groups of 8), strided too */
        {1, 4, 14, 6, 15, 3, 3, 1, 1, 1, 1, 1, 1, SWARM_ACT_RELU, 1, 1, 1,
         2},
        {1, 8, 24, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, SWARM_ACT_RELU, 1, 1, 1, 3},
        {1, 8, 32, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1, SWARM_ACT_NONE, 1, 2, 2,
         4},
};

#define SH(s) ((s)->sh ? (s)->sh : 1)
#define GR(s) ((s)->groups ? (s)->groups : 1)
#define SW(s) ((s)->sw ? (s)->sw : 1)

static float act_ref(swarm_act_t a, double v) {
        double h;

        if (a == SWARM_ACT_SIGMOID)
                return (float)(1.0 / (1.0 + exp(-v)));
        if (a == SWARM_ACT_SILU)
                return (float)(v / (1.0 + exp(-v)));
        if (a == SWARM_ACT_HARDSIGMOID) {
                h = 0.2 * v + 0.5;
                return (float)(h < 0.0 ? 0.0 : h > 1.0 ? 1.0 : h);
        }
        if (a == SWARM_ACT_HARDSWISH) {
                h = v / 6.0 + 0.5;
                return (float)(v * (h < 0.0 ? 0.0 : h > 1.0 ? 1.0 : h));
        }
        if (a == SWARM_ACT_RELU)
                return (float)(v > 0.0 ? v : 0.0);
        if (a == SWARM_ACT_CLIP)
                return (float)(v < 0.0 ? 0.0 : v > 6.0 ? 6.0 : v);
        return (float)v;
}

/* the second pass's activations, one per shape in turn */
static const swarm_act_t acts[] = {SWARM_ACT_SIGMOID, SWARM_ACT_SILU,
                                   SWARM_ACT_HARDSWISH,
                                   SWARM_ACT_HARDSIGMOID};

/* the act_alpha / act_beta of the job */
static float act_a(swarm_act_t a) {
        return a == SWARM_ACT_HARDSIGMOID ? 0.2f : 0.0f;
}

static float act_b(swarm_act_t a) {
        return a == SWARM_ACT_HARDSIGMOID ? 0.5f : 6.0f;
}

/* Naive convolution in double; *mag gets the largest sum of |terms|. */
static void conv_ref(const dshape_t *s, const swarm_window_t *w,
                     const float *x, const float *f, const float *bias,
                     float *y, double *mag) {
        /* output o reads group o / (cout / groups)'s cin channels */
        int64_t xc = s->cin * GR(s), og = s->cout / GR(s);

        *mag = 0.0;
        for (int64_t i = 0; i < s->imgs; i++)
                for (int64_t o = 0; o < s->cout; o++)
                        for (int64_t oy = 0; oy < w->oh; oy++)
                                for (int64_t ox = 0; ox < w->ow; ox++) {
                                        double acc = bias[o], m = fabs(acc);
                                        int64_t c0 = o / og * s->cin;
                                        for (int64_t c = 0; c < s->cin; c++)
                                                for (int64_t ky = 0;
                                                     ky < s->kh; ky++)
                                                        for (int64_t kx = 0;
                                                             kx < s->kw;
                                                             kx++) {
                                                                int64_t iy =
                                                                        oy * SH(s) - s->pt + ky * s->dh;
                                                                int64_t ix =
                                                                        ox * SW(s) - s->pl + kx * s->dw;
                                                                double t;
                                                                if (iy < 0 || iy >= s->h ||
                                                                    ix < 0 || ix >= s->w)
                                                                        continue;
                                                                t = (double)x[((i * xc + c0 + c) * s->h +
                                                                               iy) * s->w + ix] *
                                                                    f[((o * s->cin + c) * s->kh + ky) * s->kw + kx];
                                                                acc += t;
                                                                m += fabs(t);
                                                        }
                                        y[((i * s->cout + o) * w->oh + oy) *
                                                  w->ow + ox] =
                                                act_ref(s->act, acc);
                                        if (m > *mag)
                                                *mag = m;
                                }
}

/* Max |got - ref|, and a guard value past the end left alone. */
static void compare(const float *got, const float *ref, int64_t n,
                    double tol, const char *what, size_t si, int isa,
                    int parts) {
        double worst = 0.0;

        for (int64_t i = 0; i < n; i++) {
                double e = fabs((double)got[i] - ref[i]);
                if (!(e <= worst))
                        worst = e;
        }
        CHECK(worst <= tol, "%s shape %zu isa %d parts %d: off by %g (tol "
              "%g)", what, si, isa, parts, worst, tol);
        CHECK(got[n] == 777.0f, "%s shape %zu: wrote past the output", what,
              si);
}

int main(void) {
        swarm_backend_t *bes[2] = {NULL, NULL};
        swarm_err_t err = {0};
        int cases = 0, directs = 0, split_g = 0;

        REQUIRE_OK(swarm_backend_cpu_new(1, &bes[0], &err), err);
        REQUIRE_OK(swarm_backend_cpu_new(2, &bes[1], &err), err);
        for (size_t pi = 0; pi < 2 * sizeof(shapes) / sizeof(shapes[0]); pi++) {
                size_t si = pi % (sizeof(shapes) / sizeof(shapes[0]));
                int act_pass = pi >= sizeof(shapes) / sizeof(shapes[0]);
                dshape_t sc = shapes[si];
                const dshape_t *s = &sc;
                int64_t k = s->cin * s->kh * s->kw, in_n, out_n;
                swarm_window_t w;
                float *x, *f, *bias, *ref, *got;
                double mag, tol;

                w = test_window(s->cin, s->h, s->w, s->kh, s->kw, SH(s), SW(s),
                                s->dh, s->dw, s->pt, s->pl, s->pb, s->pr);
                in_n = s->imgs * s->cin * GR(s) * s->h * s->w;
                out_n = s->imgs * s->cout * w.oh * w.ow;
                x = malloc((size_t)in_n * sizeof(float));
                f = malloc((size_t)(s->cout * k) * sizeof(float));
                bias = malloc((size_t)s->cout * sizeof(float));
                ref = malloc((size_t)out_n * sizeof(float));
                got = malloc((size_t)(out_n + 1) * sizeof(float));
                REQUIRE(x && f && bias && ref && got);
                if (act_pass)
                        sc.act = acts[si % 4];
                test_fill(x, in_n, (unsigned)si * 5 + 1);
                test_fill(f, s->cout * k, (unsigned)si * 5 + 2);
                test_fill(bias, s->cout, (unsigned)si * 5 + 3);
                conv_ref(s, &w, x, f, bias, ref, &mag);
                /* the hand-made activations add ~2^-22 relative (rcp + one
                 * Newton step) */
                tol = 1e-6 * mag * (1.0 + sqrt((double)k)) +
                      (act_pass ? 1e-5 : 1e-6);
                for (int isa = 0; isa < CPU_ISA_COUNT; isa++) {
                        cpu_packed_t *pk = NULL;
                        if (!cpu_gemm_isa_ok((cpu_isa_t)isa))
                                continue;
                        CHECK_OK(cpu_gemm_pack((cpu_isa_t)isa, 0, 0, GR(s),
                                               s->cout / GR(s), k, f, k, &pk,
                                               &err),
                                 err);
                        for (int parts = 1; pk && parts <= 3; parts++) {
                                cpu_gemm_job_t j;
                                test_fill(got, out_n, 9);
                                got[out_n] = 777.0f;
                                CHECK_OK(cpu_gemm_job_conv(
                                                 &j, &w, s->imgs, GR(s),
                                                 s->cout,
                                                 pk, x, bias, s->act,
                                                 act_a(s->act), act_b(s->act),
                                                 got, &err),
                                         err);
                                CHECK(j.direct == ((isa == CPU_ISA_AVX512 ||
                                                    isa == CPU_ISA_AVX2) &&
                                                   s->direct),
                                      "shape %zu isa %d: direct %d", si, isa,
                                      j.direct);
                                directs += j.direct;
                                test_gemm_run_job(&j, parts);
                                /* one image's groups split across parts */
                                split_g += j.split_g;
                                compare(got, ref, out_n, tol, "job", si, isa,
                                        parts);
                                cases++;
                        }
                        cpu_gemm_pack_free(pk);
                }
                for (int l = 0; l < 2; l++) {
                        swarm_backend_t *be = bes[l];
                        void *pk = NULL;
                        size_t bytes = 0;
                        CHECK_OK(be->gemm_pack(be, 0, 0, GR(s),
                                               s->cout / GR(s), k, f, k,
                                               &pk, &bytes, &err), err);
                        test_fill(got, out_n, 9);
                        got[out_n] = 777.0f;
                        CHECK_OK(be->conv_packed(be, &w, s->imgs, GR(s),
                                                 s->cout,
                                                 pk, x, bias, s->act,
                                                 act_a(s->act), act_b(s->act),
                                                 got, &err),
                                 err);
                        compare(got, ref, out_n, tol, "backend", si, -1,
                                l + 1);
                        be->gemm_pack_free(be, pk);
                        cases++;
                }
                free(x);
                free(f);
                free(bias);
                free(ref);
                free(got);
        }
        printf("direct conv: %d cases over %zu shapes, %d direct jobs%s\n",
               cases, sizeof(shapes) / sizeof(shapes[0]), directs,
               cpu_gemm_isa_ok(CPU_ISA_AVX2) ? ""
                                             : " (no AVX2 here)");
        /* every x86-64 CI machine has AVX2: the direct path must have run,
         * and the grouped one-image jobs split by groups */
#if defined(__x86_64__)
        CHECK(!cpu_gemm_isa_ok(CPU_ISA_AVX2) || split_g > 0,
              "no grouped job split its groups across parts");
        CHECK(!cpu_gemm_isa_ok(CPU_ISA_AVX2) || directs > 0,
              "no direct job ran");
#endif
        swarm_backend_destroy(bes[0]);
        swarm_backend_destroy(bes[1]);
        TEST_DONE();
}
