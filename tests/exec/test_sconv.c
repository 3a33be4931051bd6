/*
 * test_sconv.c - the direct 3x3 convolution for 1-4 input channels
 * (lib/exec/cpu_sconv.c) against a double-precision reference: 1 to 4
 * channels, filter counts that are not multiples of 8, widths below, at
 * and past the 16 / 32-column blocks (1, 14, 16, 17, 24, 25, 28, 33,
 * 40, 49), pads 0,
 * 1 and 2 (asymmetric too), stride 1 and 2 (odd and even widths and left
 * pads: the phase split; outputs of 1 to 40 columns, a MobileNet stem at
 * 224 x 224), batch 1-3, with and without bias, no activation, ReLU,
 * Clip, SiLU, HardSwish and Tanh (the one not fused into the stores); on
 * every kernel set this CPU runs, on 1 lane and split across 2 (rows of
 * one image on both lanes); the output
 * prefilled with NaN (an unwritten cell fails) and a guard value after it.
 * Then the backend's entry (conv_wino_pack picks this kernel for the
 * fashion CNN's first layer) and the refusals.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarm/backend.h"
#include "cpu_sconv.h"
#include "cpu_wino.h"

#include "check.h"
#include "test_conv3.h"
#include "test_fill.h"

#define GUARD 12345.0f

static const test_c3_shape_t shapes[] = {
        {1, 1, 1, 1, 1, 1, 1, 1, 1},
        {2, 1, 16, 28, 28, 1, 1, 1, 1},         /* the fashion CNN's */
        {1, 3, 7, 5, 14, 1, 1, 1, 1},
        {3, 2, 17, 4, 16, 0, 1, 0, 1},
        {1, 4, 8, 6, 17, 1, 1, 1, 1},
        {2, 3, 9, 3, 33, 0, 0, 0, 0},
        {1, 1, 24, 7, 40, 2, 2, 2, 2},
        {1, 2, 5, 9, 13, 2, 0, 1, 2},
        {1, 4, 1, 3, 3, 0, 0, 0, 0},
        /* more widths across the 8 / 16-column vectors */
        {1, 3, 12, 4, 24, 1, 1, 1, 1},
        {2, 2, 9, 3, 25, 0, 1, 0, 1},
        {1, 3, 16, 5, 49, 1, 1, 1, 1},
        /* stride 2 */
        {1, 3, 8, 6, 48, 1, 1, 1, 1, 2},
        {1, 3, 16, 224, 224, 1, 1, 1, 1, 2},    /* MobileNetV3's stem */
        {2, 3, 32, 15, 65, 1, 1, 1, 1, 2},
        {1, 1, 9, 8, 66, 0, 1, 0, 1, 2},
        {3, 2, 17, 9, 33, 1, 2, 2, 0, 2},
        {1, 4, 8, 7, 80, 2, 2, 1, 1, 2},
        {1, 1, 1, 3, 3, 0, 0, 0, 0, 2},
        {1, 2, 5, 4, 34, 0, 0, 0, 0, 2},
        {2, 3, 24, 5, 63, 1, 1, 0, 0, 2},
};

/* Max |got - want| / scale; checks the guard.  entry: through the
 * backend's conv_wino_pack / conv_wino instead of cpu_sconv. */
static double run_one(swarm_backend_t *be, cpu_isa_t isa, int entry,
                      const test_c3_shape_t *s, const float *x,
                      const float *wt, const float *bias, swarm_act_t act,
                      const double *want, int64_t ny, double scale) {
        swarm_window_t w = test_c3_window(s);
        swarm_err_t err = {0};
        float *y = malloc((size_t)(ny + 1) * sizeof(float));
        float a = act == SWARM_ACT_CLIP ? -0.5f : 0.0f;
        float b = act == SWARM_ACT_CLIP ? 0.75f : 0.0f;
        double worst = 0.0;

        REQUIRE(y);
        for (int64_t i = 0; i < ny; i++)
                y[i] = NAN;
        y[ny] = GUARD;
        CHECK(cpu_sconv_window_ok(&w, s->cout));
        if (entry) {
                void *pk = NULL;
                size_t bytes = 0;
                CHECK_OK(be->conv_wino_pack(be, &w, s->cout, wt, &pk, &bytes,
                                            &err), err);
                /* the entry should pick the direct kernel */
                REQUIRE(pk && ((cpu_wino_t *)pk)->sconv);
                CHECK(bytes > 0);
                CHECK_OK(be->conv_wino(be, &w, s->imgs, s->cout, pk, x, bias,
                                       act, a, b, y, &err), err);
                be->conv_wino_free(be, pk);
        } else {
                cpu_sconv_t *p = NULL;
                CHECK_OK(cpu_sconv_pack(isa, s->cout, s->cin, wt, &p, &err),
                         err);
                if (p)
                        CHECK_OK(cpu_sconv_run(be, p, &w, s->imgs, x, bias,
                                               act, a, b, y, 0, &err), err);
                cpu_sconv_free(p);
        }
        CHECK(y[ny] == GUARD, "guard overwritten");
        for (int64_t i = 0; i < ny; i++) {
                double e = fabs((double)y[i] - want[i]);
                if (!(e <= worst))      /* NaN counts */
                        worst = isnan(e) ? INFINITY : e;
        }
        free(y);
        return worst / scale;
}

static void shapes_all(swarm_backend_t *be1, swarm_backend_t *be2) {
        /* Tanh: not computed in registers (exec_act_vec_ok), the pass
         * over the stored tile */
        static const swarm_act_t acts[] = {SWARM_ACT_NONE, SWARM_ACT_RELU,
                                           SWARM_ACT_CLIP, SWARM_ACT_SILU,
                                           SWARM_ACT_HARDSWISH,
                                           SWARM_ACT_TANH};
        const int nact = (int)(sizeof(acts) / sizeof(acts[0]));
        int cases = 0;

        for (size_t si = 0; si < sizeof(shapes) / sizeof(shapes[0]); si++) {
                const test_c3_shape_t *s = &shapes[si];
                int64_t nx = s->imgs * s->cin * s->h * s->w;
                int64_t nw = s->cout * s->cin * 9;
                int64_t plane = test_c3_oh(s) * test_c3_ow(s);
                int64_t ny = s->imgs * s->cout * plane;
                float *x = malloc((size_t)nx * sizeof(float));
                float *wt = malloc((size_t)nw * sizeof(float));
                float *bias = malloc((size_t)s->cout * sizeof(float));
                double *ref0 = malloc((size_t)ny * sizeof(double));
                double *want = malloc((size_t)ny * sizeof(double));
                REQUIRE(x && wt && bias && ref0 && want);
                test_fill(x, nx, (unsigned)si + 3);
                test_fill_range(wt, nw, (unsigned)si, 11, 0.5f);
                test_fill(bias, s->cout, (unsigned)si + 200);
                test_c3_ref(s, x, wt, NULL, SWARM_ACT_NONE, ref0);
                for (int ai = 0; ai < 2 * nact; ai++) {
                        swarm_act_t act = acts[ai % nact];
                        const float *bp = ai >= nact ? bias : NULL;
                        double scale = 1.0;
                        for (int64_t i = 0; i < ny; i++) {
                                double v = ref0[i] +
                                           (bp ? bp[i / plane % s->cout] : 0.0);
                                scale = fabs(v) > scale ? fabs(v) : scale;
                                want[i] = test_c3_act(act, v);
                        }
                        for (int isa = 0; isa < CPU_ISA_COUNT; isa++) {
                                if (!cpu_sconv_isa_ok((cpu_isa_t)isa))
                                        continue;
                                for (int lanes = 1; lanes <= 2; lanes++) {
                                        double e = run_one(
                                                lanes == 1 ? be1 : be2,
                                                (cpu_isa_t)isa, 0, s, x, wt,
                                                bp, act, want, ny, scale);
                                        CHECK(e < 1e-5, "shape %zu act %d "
                                              "isa %d lanes %d: error %g",
                                              si, (int)act, isa, lanes, e);
                                        cases++;
                                }
                        }
                        /* The backend entry (with AVX-512 or AVX2). */
                        if (cpu_gemm_best_isa() != CPU_ISA_C) {
                                double e = run_one(be2, cpu_gemm_best_isa(),
                                                   1, s, x, wt, bp, act,
                                                   want, ny, scale);
                                CHECK(e < 1e-5, "shape %zu act %d entry: "
                                      "error %g", si, (int)act, e);
                                cases++;
                        }
                }
                free(x);
                free(wt);
                free(bias);
                free(ref0);
                free(want);
        }
        printf("shapes: %d runs\n", cases);
}

static void refusals(swarm_backend_t *be) {
        test_c3_shape_t s = {1, 2, 3, 4, 5, 1, 1, 1, 1};
        swarm_window_t w = test_c3_window(&s), bad;
        swarm_err_t err = {0};
        float wt[3 * 5 * 9] = {0}, x[5 * 4 * 5] = {0}, y[3 * 4 * 5 + 1];
        cpu_sconv_t *p = NULL;
        void *pk = NULL;
        size_t bytes = 0;

        CHECK(cpu_sconv_window_ok(&w, 3));
        CHECK(!cpu_sconv_window_ok(&w, 0));
        bad = w;
        bad.n = CPU_SCONV_MAX_CIN + 1;
        CHECK(!cpu_sconv_window_ok(&bad, 3));
        bad = w;
        bad.sh = 2;     /* not the same both ways */
        CHECK(!cpu_sconv_window_ok(&bad, 3));
        bad.sw = 2;     /* the output is not the stride's */
        CHECK(!cpu_sconv_window_ok(&bad, 3));
        bad.oh = (w.h + 2 - 3) / 2 + 1;
        bad.ow = (w.w + 2 - 3) / 2 + 1;
        CHECK(cpu_sconv_window_ok(&bad, 3));
        bad.sh = bad.sw = 3;
        bad.oh = (w.h + 2 - 3) / 3 + 1;
        bad.ow = (w.w + 2 - 3) / 3 + 1;
        CHECK(!cpu_sconv_window_ok(&bad, 3));
        bad = w;
        bad.kw = 5;
        CHECK(!cpu_sconv_window_ok(&bad, 3));
        bad = w;
        bad.pad_l = 3;
        CHECK(!cpu_sconv_window_ok(&bad, 3));
        bad = w;
        bad.oh = w.oh + 1;
        CHECK(!cpu_sconv_window_ok(&bad, 3));
        bad = w;
        bad.h = bad.oh = INT64_MAX / 2;
        CHECK(!cpu_sconv_window_ok(&bad, 3));
        CHECK_ERR(cpu_sconv_pack(CPU_ISA_C, 3, 0, wt, &p, &err), err,
                  SWARM_ERR_INVALID, "bad filters");
        CHECK_ERR(cpu_sconv_pack(CPU_ISA_C, 3, 5, wt, &p, &err), err,
                  SWARM_ERR_INVALID, "bad filters");
        CHECK_ERR(cpu_sconv_pack(CPU_ISA_C, INT64_MAX / 4, 2, wt, &p, &err),
                  err, SWARM_ERR_INVALID, "bad filters");
        CHECK_ERR(cpu_sconv_pack((cpu_isa_t)CPU_ISA_COUNT, 3, 2, wt, &p, &err),
                  err, SWARM_ERR_INVALID, "not available");
        CHECK(p == NULL);
        CHECK_OK(cpu_sconv_pack(CPU_ISA_C, 3, 2, wt, &p, &err), err);
        REQUIRE(p);
        y[0] = GUARD;
        bad = w;
        bad.n = 3;      /* not the packed channel count */
        CHECK_ERR(cpu_sconv_run(be, p, &bad, 1, x, NULL, SWARM_ACT_NONE, 0, 0,
                                y, 0, &err), err, SWARM_ERR_BACKEND, "match");
        CHECK_ERR(cpu_sconv_run(be, p, &w, INT64_MAX / 2, x, NULL,
                                SWARM_ACT_NONE, 0, 0, y, 0, &err), err,
                  SWARM_ERR_INVALID, "overflow");
        CHECK(y[0] == GUARD);
        CHECK_OK(cpu_sconv_run(be, p, &w, 0, x, NULL, SWARM_ACT_NONE, 0, 0, y,
                               0, &err), err);
        CHECK(y[0] == GUARD, "no images: nothing written");
        cpu_sconv_free(p);
        cpu_sconv_free(NULL);
        /* 5 channels: neither this kernel nor Winograd (fewer than 16). */
        s.cin = 5;
        w = test_c3_window(&s);
        pk = (void *)&err;
        CHECK_OK(be->conv_wino_pack(be, &w, 3, wt, &pk, &bytes, &err), err);
        CHECK(pk == NULL && bytes == 0,
              "5 channels should stay on the im2col path");
}

int main(void) {
        swarm_backend_t *be1 = NULL, *be2 = NULL;
        swarm_err_t err = {0};

        REQUIRE_OK(swarm_backend_cpu_new(1, &be1, &err), err);
        REQUIRE_OK(swarm_backend_cpu_new(2, &be2, &err), err);
        shapes_all(be1, be2);
        refusals(be1);
        swarm_backend_destroy(be1);
        swarm_backend_destroy(be2);
        TEST_DONE();
}
