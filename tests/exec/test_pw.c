/*
 * test_pw.c - the pointwise convolution of lib/exec/cpu_pw.c (AVX-512 and
 * AVX2, each where the CPU runs it: the image read in place, bias,
 * input-channel scale and activation in registers; 1 x 1 planes as
 * filters x images) against a double-precision
 * reference: channels that are not multiples of 8 or 16, planes 1x1 to
 * 30x30 (tails of 1-31 pixels), 1-11 images (past the 8-image blocks of
 * the 1 x 1 kernel; one image, its own loop), with and without bias, every activation it takes, with
 * and without the per-(image, channel) scale, on 1 and 2 lanes (one shape
 * large enough to split); then the backend's conv_packed on 1 and 2 lanes
 * for filters packed by every kernel set the CPU runs (AVX-512 and AVX2
 * may take this kernel, C the packed GEMM: same answers), and its
 * conv_packed_scaled (the kernel, or scale-then-conv for filters packed
 * for another kernel set).  A guard value
 * after each output must stay.  Hostile calls (wrong filters, a window it
 * does not run, an activation it has no vector form of, sizes that
 * overflow) are refused with an error.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarm/backend.h"
#include "cpu_gemm.h"
#include "cpu_pw.h"

#include "check.h"
#include "test_fill.h"
#include "test_window.h"

typedef struct pshape {
        int64_t imgs, cin, cout, h, w;
        int bias;
        swarm_act_t act;
} pshape_t;

static const pshape_t shapes[] = {
        {1, 16, 72, 7, 7, 1, SWARM_ACT_RELU},
        {2, 24, 13, 5, 6, 1, SWARM_ACT_HARDSWISH},
        {3, 17, 9, 1, 1, 1, SWARM_ACT_HARDSIGMOID},
        {11, 33, 21, 1, 1, 0, SWARM_ACT_RELU},
        {9, 576, 19, 1, 1, 1, SWARM_ACT_NONE},
        {1, 1, 1, 1, 1, 0, SWARM_ACT_NONE},
        /* one image (batch 1's squeeze-excitation FCs): k in steps of 16,
         * then an odd tail */
        {1, 37, 13, 1, 1, 1, SWARM_ACT_HARDSIGMOID},
        {1, 576, 144, 1, 1, 1, SWARM_ACT_RELU},
        {2, 5, 3, 4, 4, 1, SWARM_ACT_SIGMOID},
        {1, 40, 50, 14, 14, 1, SWARM_ACT_SILU},
        {2, 72, 24, 28, 28, 1, SWARM_ACT_NONE},
        {1, 7, 11, 30, 30, 0, SWARM_ACT_CLIP},
        {4, 3, 8, 3, 11, 1, SWARM_ACT_LEAKY_RELU},
        {5, 300, 7, 2, 9, 1, SWARM_ACT_HARDSWISH},
        {1, 9, 16, 1, 17, 1, SWARM_ACT_RELU},
        {1, 9, 16, 1, 33, 0, SWARM_ACT_HARDSIGMOID},
        /* 2 x 900 x 64 x 72 = 8.3 Mi multiply-adds: splits on 2 lanes */
        {2, 64, 72, 30, 30, 1, SWARM_ACT_HARDSWISH},
        /* tile-major (input and output fit in L2) with 7 slivers on one
         * 20 x 20 block per image: on 2 lanes the 21 items split inside
         * image 1's slivers (10 / 11) */
        {3, 37, 50, 20, 20, 1, SWARM_ACT_SILU},
};
#define N_SHAPES (sizeof(shapes) / sizeof(shapes[0]))

static float act_a(swarm_act_t a) {
        return a == SWARM_ACT_HARDSIGMOID ? 0.2f
               : a == SWARM_ACT_LEAKY_RELU ? 0.1f
               : a == SWARM_ACT_CLIP ? -0.5f : 0.0f;
}

static float act_b(swarm_act_t a) {
        return a == SWARM_ACT_HARDSIGMOID ? 0.5f
               : a == SWARM_ACT_CLIP ? 0.75f : 0.0f;
}

static float act_ref(swarm_act_t a, double v) {
        double h, al = act_a(a), be = act_b(a);

        switch (a) {
        case SWARM_ACT_RELU:
                return (float)(v > 0.0 ? v : 0.0);
        case SWARM_ACT_CLIP:
                return (float)(v < al ? al : v > be ? be : v);
        case SWARM_ACT_LEAKY_RELU:
                return (float)(v < 0.0 ? al * v : v);
        case SWARM_ACT_HARDSIGMOID:
                h = al * v + be;
                return (float)(h < 0.0 ? 0.0 : h > 1.0 ? 1.0 : h);
        case SWARM_ACT_HARDSWISH:
                h = v / 6.0 + 0.5;
                return (float)(v * (h < 0.0 ? 0.0 : h > 1.0 ? 1.0 : h));
        case SWARM_ACT_SIGMOID:
                return (float)(1.0 / (1.0 + exp(-v)));
        case SWARM_ACT_SILU:
                return (float)(v / (1.0 + exp(-v)));
        default:
                return (float)v;
        }
}

/* y = act(f (cout x cin) . (x scaled by sc) + bias) in double; *mag gets
 * the largest sum of |terms|. */
static void pw_ref(const pshape_t *s, const float *x, const float *f,
                   const float *bias, const float *sc, float *y,
                   double *mag) {
        int64_t plane = s->h * s->w;

        *mag = 0.0;
        for (int64_t i = 0; i < s->imgs; i++)
                for (int64_t o = 0; o < s->cout; o++)
                        for (int64_t p = 0; p < plane; p++) {
                                double acc = bias ? bias[o] : 0.0;
                                double m = fabs(acc);
                                for (int64_t c = 0; c < s->cin; c++) {
                                        double t = (double)f[o * s->cin + c] *
                                                   x[(i * s->cin + c) * plane +
                                                     p];
                                        if (sc)
                                                t *= sc[i * s->cin + c];
                                        acc += t;
                                        m += fabs(t);
                                }
                                y[(i * s->cout + o) * plane + p] =
                                        act_ref(s->act, acc);
                                if (m > *mag)
                                        *mag = m;
                        }
}

static void compare(const float *got, const float *ref, int64_t n,
                    double tol, const char *what, size_t si, int scaled,
                    int lanes) {
        double worst = 0.0;

        for (int64_t i = 0; i < n; i++) {
                double e = fabs((double)got[i] - ref[i]);
                if (!(e <= worst))
                        worst = e;
        }
        CHECK(worst <= tol, "%s shape %zu scaled %d lanes %d: off by %g "
              "(tol %g)", what, si, scaled, lanes, worst, tol);
        CHECK(got[n] == 777.0f, "%s shape %zu scaled %d lanes %d: wrote past "
              "the output", what, si, scaled, lanes);
}

/* cin planes of h x w under a 1 x 1 kernel, stride 1, no pads. */
static swarm_window_t pw_window(int64_t cin, int64_t h, int64_t w) {
        return test_window(cin, h, w, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0);
}

/* One run of the backend's conv_packed (sc NULL) or conv_packed_scaled
 * on filters f packed for kernel set isa, checked against ref. */
static void through_entry(swarm_backend_t *be, const pshape_t *s,
                          const swarm_window_t *w, int isa, const float *f,
                          const float *x, const float *sc, const float *bp,
                          const float *ref, float *got, int64_t out_n,
                          double tol, size_t si, int lanes) {
        swarm_err_t err = {0};
        cpu_packed_t *pk = NULL;
        int rc;

        REQUIRE_OK(cpu_gemm_pack((cpu_isa_t)isa, 0, 0, 1, s->cout, s->cin, f,
                                 s->cin, &pk, &err),
                   err);
        for (int64_t i = 0; i <= out_n; i++)
                got[i] = 777.0f;
        rc = sc ? be->conv_packed_scaled(be, w, s->imgs, 1, s->cout, pk, x,
                                         sc, bp, s->act, act_a(s->act),
                                         act_b(s->act), got, &err)
                : be->conv_packed(be, w, s->imgs, 1, s->cout, pk, x, bp,
                                  s->act, act_a(s->act), act_b(s->act), got,
                                  &err);
        CHECK_OK(rc, err);
        compare(got, ref, out_n, tol, sc ? "scaled" : "conv_packed", si, isa,
                lanes);
        cpu_gemm_pack_free(pk);
}

static void hostile(swarm_backend_t *be, cpu_isa_t isa) {
        swarm_err_t err = {0};
        cpu_packed_t *pk = NULL;
        float f[8 * 4], x[4 * 4], y[8 * 4];
        swarm_window_t w = pw_window(4, 2, 2);

        CHECK(!exec_cpu_pw_fits(&w, 1, NULL, 1, SWARM_ACT_NONE));
        /* filters packed for the portable GEMM: not this kernel's */
        test_fill(f, 32, 99);
        test_fill(x, 16, 98);
        REQUIRE_OK(cpu_gemm_pack(CPU_ISA_C, 0, 0, 1, 8, 4, f, 4, &pk, &err),
                   err);
        CHECK(!exec_cpu_pw_runs(&w, 1, pk, SWARM_ACT_NONE));
        CHECK_ERR(exec_cpu_pw_conv(be, &w, 1, 8, pk, x, NULL, NULL,
                                   SWARM_ACT_NONE, 0, 0, y, &err),
                  err, SWARM_ERR_INVALID, "pointwise");
        cpu_gemm_pack_free(pk);
        REQUIRE_OK(cpu_gemm_pack(isa, 0, 0, 1, 8, 4, f, 4, &pk, &err), err);
        CHECK_OK(exec_cpu_pw_conv(be, &w, 1, 8, pk, x, NULL, NULL,
                                  SWARM_ACT_NONE, 0, 0, y, &err), err);
        /* filters of another size */
        CHECK_ERR(exec_cpu_pw_conv(be, &w, 1, 9, pk, x, NULL, NULL,
                                   SWARM_ACT_NONE, 0, 0, y, &err),
                  err, SWARM_ERR_INVALID, "pointwise");
        w.n = 5;
        CHECK_ERR(exec_cpu_pw_conv(be, &w, 1, 8, pk, x, NULL, NULL,
                                   SWARM_ACT_NONE, 0, 0, y, &err),
                  err, SWARM_ERR_INVALID, "pointwise");
        /* windows it does not run */
        w = pw_window(4, 2, 2);
        w.kh = 3;
        CHECK(!exec_cpu_pw_fits(&w, 1, pk, 1, SWARM_ACT_NONE));
        CHECK_ERR(exec_cpu_pw_conv(be, &w, 1, 8, pk, x, NULL, NULL,
                                   SWARM_ACT_NONE, 0, 0, y, &err),
                  err, SWARM_ERR_INVALID, "pointwise");
        w = pw_window(4, 2, 2);
        w.pad_t = 1;
        CHECK_ERR(exec_cpu_pw_conv(be, &w, 1, 8, pk, x, NULL, NULL,
                                   SWARM_ACT_NONE, 0, 0, y, &err),
                  err, SWARM_ERR_INVALID, "pointwise");
        w = pw_window(4, 2, 2);
        w.oh = 1;
        CHECK_ERR(exec_cpu_pw_conv(be, &w, 1, 8, pk, x, NULL, NULL,
                                   SWARM_ACT_NONE, 0, 0, y, &err),
                  err, SWARM_ERR_INVALID, "pointwise");
        w = pw_window(4, 2, 2);
        CHECK(!exec_cpu_pw_fits(&w, 2, pk, 1, SWARM_ACT_NONE));
        /* an activation without a vector form here */
        CHECK(!exec_cpu_pw_fits(&w, 1, pk, 1, SWARM_ACT_GELU));
        CHECK_ERR(exec_cpu_pw_conv(be, &w, 1, 8, pk, x, NULL, NULL,
                                   SWARM_ACT_GELU, 0, 0, y, &err),
                  err, SWARM_ERR_UNSUPPORTED, "pointwise");
        /* sizes that overflow (nothing is read: refused up front) */
        w = pw_window(4, (int64_t)1 << 40, (int64_t)1 << 30);
        CHECK_ERR(exec_cpu_pw_conv(be, &w, 1, 8, pk, x, NULL, NULL,
                                   SWARM_ACT_NONE, 0, 0, y, &err),
                  err, SWARM_ERR_INVALID, "overflow");
        w = pw_window(4, 2, 2);
        CHECK_ERR(exec_cpu_pw_conv(be, &w, (int64_t)1 << 60, 8, pk, x, NULL,
                                   NULL, SWARM_ACT_NONE, 0, 0, y, &err),
                  err, SWARM_ERR_INVALID, "overflow");
        CHECK_ERR(exec_cpu_pw_conv(be, &w, -1, 8, pk, x, NULL, NULL,
                                   SWARM_ACT_NONE, 0, 0, y, &err),
                  err, SWARM_ERR_INVALID, "pointwise");
        /* the measured choice (cpu_pw.c): 1 x 1 planes always; not the
         * wide 7 x 7 layers */
        CHECK(exec_cpu_pw_fits(&w, 1, pk, 1, SWARM_ACT_NONE));
        cpu_gemm_pack_free(pk);
        {
                float *big = malloc(sizeof(float) * 320 * 1152);
                REQUIRE(big);
                test_fill(big, 320 * 1152, 7);
                REQUIRE_OK(cpu_gemm_pack(isa, 0, 0, 1, 320, 1152,
                                         big, 1152, &pk, &err), err);
                w = pw_window(1152, 1, 1);
                CHECK(exec_cpu_pw_fits(&w, 1, pk, 16, SWARM_ACT_NONE));
                w = pw_window(1152, 7, 7);
                CHECK(!exec_cpu_pw_fits(&w, 1, pk, 16, SWARM_ACT_NONE));
                cpu_gemm_pack_free(pk);
                /* expanding past k = 128 at 14 x 14 (RegNet): no */
                REQUIRE_OK(cpu_gemm_pack(isa, 0, 0, 1, 320, 208,
                                         big, 208, &pk, &err), err);
                w = pw_window(208, 14, 14);
                CHECK(!exec_cpu_pw_fits(&w, 1, pk, 1, SWARM_ACT_NONE));
                cpu_gemm_pack_free(pk);
                /* reducing 240 -> 40 at 14 x 14: yes, batch 1 and 16 */
                REQUIRE_OK(cpu_gemm_pack(isa, 0, 0, 1, 40, 240,
                                         big, 240, &pk, &err), err);
                w = pw_window(240, 14, 14);
                CHECK(exec_cpu_pw_fits(&w, 1, pk, 1, SWARM_ACT_NONE));
                CHECK(exec_cpu_pw_fits(&w, 1, pk, 16, SWARM_ACT_NONE));
                cpu_gemm_pack_free(pk);
                free(big);
        }
}

int main(void) {
        swarm_backend_t *bes[2] = {NULL, NULL};
        swarm_err_t err = {0};
        int direct = 0, through = 0, scaled_runs = 0, sets = 0;

        REQUIRE_OK(swarm_backend_cpu_new(1, &bes[0], &err), err);
        REQUIRE_OK(swarm_backend_cpu_new(2, &bes[1], &err), err);
        for (size_t si = 0; si < N_SHAPES; si++) {
                const pshape_t *s = &shapes[si];
                int64_t plane = s->h * s->w;
                int64_t in_n = s->imgs * s->cin * plane;
                int64_t out_n = s->imgs * s->cout * plane;
                swarm_window_t w = pw_window(s->cin, s->h, s->w);
                float *x = malloc((size_t)in_n * sizeof(float));
                float *f = malloc((size_t)(s->cout * s->cin) * sizeof(float));
                float *bias = malloc((size_t)s->cout * sizeof(float));
                float *sc = malloc((size_t)(s->imgs * s->cin) *
                                   sizeof(float));
                float *ref = malloc((size_t)out_n * sizeof(float));
                float *got = malloc((size_t)(out_n + 1) * sizeof(float));
                const float *bp;
                double mag, tol;

                REQUIRE(x && f && bias && sc && ref && got);
                test_fill(x, in_n, (unsigned)si * 7 + 1);
                test_fill(f, s->cout * s->cin, (unsigned)si * 7 + 2);
                test_fill(bias, s->cout, (unsigned)si * 7 + 3);
                test_fill_range(sc, s->imgs * s->cin, (unsigned)si * 7 + 4, 3,
                                2.0f);
                bp = s->bias ? bias : NULL;
                for (int scaled = 0; scaled < 2; scaled++) {
                        pw_ref(s, x, f, bp, scaled ? sc : NULL, ref, &mag);
                        /* rcp + one Newton step in Sigmoid / SiLU: ~2^-22
                         * relative */
                        tol = 1e-6 * mag * (1.0 + sqrt((double)s->cin)) +
                              1e-5;
                        for (int l = 0; l < 2 * CPU_ISA_COUNT; l++) {
                                cpu_isa_t isa = (cpu_isa_t)(l / 2);
                                cpu_packed_t *pk = NULL;
                                if (!exec_cpu_pw_isa_ok(isa))
                                        continue;
                                REQUIRE_OK(cpu_gemm_pack(isa, 0, 0,
                                                         1, s->cout, s->cin,
                                                         f, s->cin, &pk, &err),
                                           err);
                                for (int64_t i = 0; i <= out_n; i++)
                                        got[i] = 777.0f;
                                CHECK_OK(exec_cpu_pw_conv(
                                                 bes[l % 2], &w, s->imgs,
                                                 s->cout,
                                                 pk, x, scaled ? sc : NULL,
                                                 bp, s->act, act_a(s->act),
                                                 act_b(s->act), got, &err),
                                         err);
                                compare(got, ref, out_n, tol,
                                        isa == CPU_ISA_AVX2 ? "pw avx2"
                                                            : "pw avx512",
                                        si, scaled, l % 2 + 1);
                                direct++;
                                cpu_gemm_pack_free(pk);
                        }
                }
                /* the backend's entries, whichever path they pick:
                 * conv_packed, then conv_packed_scaled (fuse_se.c; the
                 * kernel with AVX-512 filters, scale-then-conv with the
                 * others) where the backend has it */
                for (int scaled = 0; scaled < 2; scaled++) {
                        const float *scp = scaled ? sc : NULL;

                        if (scaled && !bes[0]->conv_packed_scaled)
                                break;
                        pw_ref(s, x, f, bp, scp, ref, &mag);
                        tol = 1e-6 * mag * (1.0 + sqrt((double)s->cin)) +
                              1e-5;
                        for (int isa = 0; isa < CPU_ISA_COUNT; isa++) {
                                if (!cpu_gemm_isa_ok((cpu_isa_t)isa))
                                        continue;
                                for (int l = 0; l < 2; l++) {
                                        through_entry(bes[l], s, &w, isa, f,
                                                      x, scp, bp, ref, got,
                                                      out_n, tol, si, l + 1);
                                        if (scaled)
                                                scaled_runs++;
                                        else
                                                through++;
                                }
                        }
                }
                free(x);
                free(f);
                free(bias);
                free(sc);
                free(ref);
                free(got);
        }
        for (int isa = 0; isa < CPU_ISA_COUNT; isa++)
                if (exec_cpu_pw_isa_ok((cpu_isa_t)isa)) {
                        hostile(bes[0], (cpu_isa_t)isa);
                        sets++;
                }
        printf("pointwise kernel sets: %d\n", sets);
        /* x86-64 machines with AVX2 or AVX-512 run it */
#if defined(__x86_64__)
        CHECK(sets == (cpu_gemm_isa_ok(CPU_ISA_AVX512) ? 1 : 0) +
                      (cpu_gemm_isa_ok(CPU_ISA_AVX2) ? 1 : 0),
              "kernel sets");
#endif
        printf("pointwise: %d direct runs, %d through conv_packed, %d "
               "through conv_packed_scaled\n", direct, through, scaled_runs);
        CHECK(through >= (int)N_SHAPES * 2);
        /* the scaled entry exactly where the kernel runs */
        CHECK(!bes[0]->conv_packed_scaled ==
              !exec_cpu_pw_isa_ok(cpu_gemm_best_isa()));
        CHECK(!bes[0]->conv_packed_scaled || scaled_runs >= (int)N_SHAPES * 2);
        swarm_backend_destroy(bes[0]);
        swarm_backend_destroy(bes[1]);
        TEST_DONE();
}
