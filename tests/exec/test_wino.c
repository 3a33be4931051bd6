/*
 * test_wino.c - the Winograd F(4x4, 3x3) convolution of lib/exec/cpu_wino.c
 * against a double-precision direct convolution: channel counts that are
 * not multiples of 8 or 16, planes that are not multiples of the 4x4 tile,
 * every combination of pads 0 / 1 (and some of 2), batch 1 to 3 (groups of
 * 16 tiles that span images), with and without bias, no activation, ReLU,
 * Clip and SiLU; on every kernel set this CPU runs, on 1 and 2 lanes, with
 * a guard value after the output.  Then ResNet-sized layers (64-256
 * channels), where it prints the Winograd error and the packed / direct
 * kernel's (backend conv_packed) on the same data, relative to the largest
 * output: the figures behind cpu_wino.c's choice of F(4x4) and of its
 * points (bounded: the integer points' error fails).  The backend
 * entries on a 7x7 plane (the packed fallback below 2 images).  Last, the
 * refusals: bad kernel sets, sizes that overflow, windows it does not run,
 * filters that do not match the window, and the backend entry declining
 * windows it does not take.
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
        {1, 3, 5, 4, 4, 1, 1, 1, 1},
        {2, 5, 9, 7, 9, 1, 1, 1, 1},
        {3, 17, 13, 5, 6, 1, 1, 1, 1},
        {1, 8, 16, 13, 11, 0, 0, 0, 0},
        {2, 9, 7, 3, 3, 0, 0, 0, 0},
        {1, 33, 40, 10, 17, 2, 2, 2, 2},
        {1, 6, 11, 6, 22, 2, 0, 1, 2},
        {3, 2, 3, 2, 2, 1, 1, 1, 1},    /* 1 tile per image: 3 images per group */
        {2, 12, 70, 14, 14, 1, 1, 1, 1},
        {1, 31, 19, 29, 23, 1, 1, 1, 1},
};

/* Max |got - ref| / scale over the output; checks the guard.  scale: the
 * largest |output| before the activation (at least 1), so that Clip's
 * small outputs are judged by the sums' size, as the others are. */
static double run_one(swarm_backend_t *be, cpu_isa_t isa,
                      const test_c3_shape_t *s, const float *x,
                      const float *wt, const float *bias, swarm_act_t act,
                      const double *ref, int64_t ny, double scale) {
        swarm_window_t w = test_c3_window(s);
        cpu_wino_t *p = NULL;
        swarm_err_t err = {0};
        float *y = malloc((size_t)(ny + 1) * sizeof(float));
        double worst = 0.0;
        float a = act == SWARM_ACT_CLIP ? -0.5f : 0.0f;
        float b = act == SWARM_ACT_CLIP ? 0.75f : 0.0f;

        REQUIRE(y);
        for (int64_t i = 0; i < ny; i++)
                y[i] = NAN;
        y[ny] = GUARD;
        CHECK(cpu_wino_window_ok(&w, s->cout));
        CHECK_OK(cpu_wino_pack(isa, s->cout, s->cin, wt, &p, &err), err);
        if (p)
                CHECK_OK(cpu_wino_run(be, p, &w, s->imgs, x, bias, act, a, b,
                                      y, 0, &err), err);
        CHECK(y[ny] == GUARD, "guard overwritten");
        for (int64_t i = 0; i < ny; i++) {
                double e = fabs((double)y[i] - ref[i]);
                if (!(e <= worst))      /* NaN counts */
                        worst = isnan(e) ? INFINITY : e;
        }
        cpu_wino_free(p);
        free(y);
        return worst / scale;
}

static void small_shapes(swarm_backend_t *be1, swarm_backend_t *be2) {
        static const swarm_act_t acts[] = {SWARM_ACT_NONE, SWARM_ACT_RELU,
                                           SWARM_ACT_CLIP, SWARM_ACT_SILU};
        int cases = 0;

        for (size_t si = 0; si < sizeof(shapes) / sizeof(shapes[0]); si++) {
                const test_c3_shape_t *s0 = &shapes[si];
                /* Every pad combination of 0 / 1 on the 1-pad shapes. */
                int combos = s0->pt == 1 && s0->pl == 1 && s0->pb == 1 &&
                             s0->pr == 1 ? 16 : 1;
                for (int pc = 0; pc < combos; pc++) {
                        test_c3_shape_t s = *s0;
                        int64_t nx, nw, ny;
                        float *x, *wt, *bias;
                        double *ref, *ref0;
                        if (combos > 1) {
                                s.pt = pc & 1;
                                s.pl = pc >> 1 & 1;
                                s.pb = pc >> 2 & 1;
                                s.pr = pc >> 3 & 1;
                        }
                        if (s.h + s.pt + s.pb < 3 || s.w + s.pl + s.pr < 3)
                                continue;
                        nx = s.imgs * s.cin * s.h * s.w;
                        nw = s.cout * s.cin * 9;
                        ny = s.imgs * s.cout * (s.h + s.pt + s.pb - 2) *
                             (s.w + s.pl + s.pr - 2);
                        x = malloc((size_t)nx * sizeof(float));
                        wt = malloc((size_t)nw * sizeof(float));
                        bias = malloc((size_t)s.cout * sizeof(float));
                        ref = malloc((size_t)ny * sizeof(double));
                        ref0 = malloc((size_t)ny * sizeof(double));
                        REQUIRE(x && wt && bias && ref && ref0);
                        test_fill(x, nx, (unsigned)(si * 31 + (size_t)pc));
                        test_fill_range(wt, nw, (unsigned)si, 7, 0.5f);
                        test_fill(bias, s.cout, (unsigned)si + 100);
                        test_c3_ref(&s, x, wt, NULL, SWARM_ACT_NONE, ref0);
                        for (int ai = 0; ai < 4; ai++) {
                                swarm_act_t act = acts[(ai + pc) % 4];
                                const float *bp = (ai + pc) & 1 ? bias : NULL;
                                int64_t plane = ny / (s.imgs * s.cout);
                                double scale = 1.0;
                                /* From the unbiased sums, computed once. */
                                for (int64_t i = 0; i < ny; i++) {
                                        double v = ref0[i] +
                                                   (bp ? bp[i / plane % s.cout] : 0.0);
                                        scale = fabs(v) > scale ? fabs(v) : scale;
                                        ref[i] = test_c3_act(act, v);
                                }
                                for (int isa = 0; isa < CPU_ISA_COUNT; isa++) {
                                        if (!cpu_wino_isa_ok((cpu_isa_t)isa))
                                                continue;
                                        for (int lanes = 1; lanes <= 2; lanes++) {
                                                double e = run_one(
                                                        lanes == 1 ? be1 : be2,
                                                        (cpu_isa_t)isa, &s, x,
                                                        wt, bp, act, ref, ny,
                                                        scale);
                                                CHECK(e < 2e-5,
                                                      "shape %zu pads %lld%lld%lld%lld "
                                                      "act %d isa %d lanes %d: "
                                                      "error %g", si,
                                                      (long long)s.pt,
                                                      (long long)s.pl,
                                                      (long long)s.pb,
                                                      (long long)s.pr, (int)act,
                                                      isa, lanes, e);
                                                cases++;
                                        }
                                }
                        }
                        free(x);
                        free(wt);
                        free(bias);
                        free(ref);
                        free(ref0);
                }
        }
        printf("small shapes: %d runs\n", cases);
}

/* ResNet-sized layers: Winograd's error next to the packed kernel's. */
static void resnet_shapes(swarm_backend_t *be) {
        static const test_c3_shape_t big[] = {
                {1, 64, 64, 20, 20, 1, 1, 1, 1},
                {1, 128, 128, 14, 14, 1, 1, 1, 1},
                {1, 256, 256, 7, 7, 1, 1, 1, 1},
        };
        for (size_t si = 0; si < sizeof(big) / sizeof(big[0]); si++) {
                const test_c3_shape_t *s = &big[si];
                swarm_window_t w = test_c3_window(s);
                int64_t nx = s->imgs * s->cin * s->h * s->w;
                int64_t nw = s->cout * s->cin * 9;
                int64_t ny = s->imgs * s->cout * w.oh * w.ow;
                float *x = malloc((size_t)nx * sizeof(float));
                float *wt = malloc((size_t)nw * sizeof(float));
                float *y = malloc((size_t)ny * sizeof(float));
                double *ref = malloc((size_t)ny * sizeof(double));
                double scale = 1e-30, ep = 0.0, ew;
                void *pk = NULL;
                size_t pkb = 0;
                swarm_err_t err = {0};
                REQUIRE(x && wt && y && ref);
                /* Kaiming-like filters: outputs of order 1. */
                test_fill(x, nx, (unsigned)si + 7);
                test_fill_range(wt, nw, (unsigned)si, 9,
                                (float)sqrt(6.0 / (double)(s->cin * 9)));
                test_c3_ref(s, x, wt, NULL, SWARM_ACT_NONE, ref);
                for (int64_t i = 0; i < ny; i++)
                        if (fabs(ref[i]) > scale)
                                scale = fabs(ref[i]);
                ew = run_one(be, cpu_gemm_best_isa(),
                             s, x, wt, NULL, SWARM_ACT_NONE, ref, ny, scale);
                CHECK_OK(be->gemm_pack(be, 0, 0, 1, s->cout, s->cin * 9, wt,
                                       s->cin * 9, &pk, &pkb, &err), err);
                if (pk) {
                        CHECK_OK(be->conv_packed(be, &w, s->imgs, 1, s->cout,
                                                 pk, x, NULL, SWARM_ACT_NONE,
                                                 0, 0, y, &err), err);
                        for (int64_t i = 0; i < ny; i++) {
                                double e = fabs((double)y[i] - ref[i]);
                                ep = e > ep ? e : ep;
                        }
                        be->gemm_pack_free(be, pk);
                }
                ep /= scale;
                printf("cin %lld cout %lld %lldx%lld: max error / max |y|: "
                       "winograd %.2e, packed %.2e\n", (long long)s->cin,
                       (long long)s->cout, (long long)s->h, (long long)s->w,
                       ew, ep);
                /* the points 0, +-2/3, +-3/2 (cpu_wino.c in_1d): 1.2e-6 -
                 * 2.4e-6 here; the integer points gave 6.1e-6 - 1.2e-5 */
                CHECK(ew < 5e-6, "winograd error %g", ew);
                free(x);
                free(wt);
                free(y);
                free(ref);
        }
}

/* The backend entries: a 7x7 plane has 4 tiles, so its filters are also
 * packed for the backend's conv_packed, which runs batches under 2
 * images; from 2 images on, Winograd.  Both against the reference. */
static void backend_entry(swarm_backend_t *be1, swarm_backend_t *be2) {
        test_c3_shape_t s = {3, 32, 24, 7, 7, 1, 1, 1, 1};
        swarm_window_t w = test_c3_window(&s);
        int64_t nx = s.imgs * s.cin * 49, nw = s.cout * s.cin * 9;
        int64_t ny = s.imgs * s.cout * 49;
        float *x = malloc((size_t)nx * sizeof(float));
        float *wt = malloc((size_t)nw * sizeof(float));
        float *bias = malloc((size_t)s.cout * sizeof(float));
        float *y = malloc((size_t)(ny + 1) * sizeof(float));
        double *ref = malloc((size_t)ny * sizeof(double));
        swarm_err_t err = {0};
        void *pk = NULL;
        size_t bytes = 0;

        REQUIRE(x && wt && bias && y && ref);
        test_fill(x, nx, 3);
        test_fill_range(wt, nw, 4, 7, 0.25f);
        test_fill(bias, s.cout, 5);
        test_c3_ref(&s, x, wt, bias, SWARM_ACT_RELU, ref);
        CHECK_OK(be1->conv_wino_pack(be1, &w, s.cout, wt, &pk, &bytes, &err),
                 err);
        if (cpu_gemm_best_isa() == CPU_ISA_C) {
                CHECK(pk == NULL, "no AVX2 or AVX-512: the entry declines");
                goto out;
        }
        REQUIRE(pk);
        CHECK(((cpu_wino_t *)pk)->small != NULL);
        CHECK(bytes == ((cpu_wino_t *)pk)->bytes +
                       ((cpu_wino_t *)pk)->small_bytes + sizeof(cpu_wino_t));
        for (int lanes = 1; lanes <= 2; lanes++)
                for (int64_t imgs = 1; imgs <= 3; imgs++) {
                        swarm_backend_t *be = lanes == 1 ? be1 : be2;
                        double worst = 0.0;
                        int64_t n = imgs * s.cout * 49;
                        for (int64_t i = 0; i <= ny; i++)
                                y[i] = GUARD;
                        CHECK_OK(be->conv_wino(be, &w, imgs, s.cout, pk, x,
                                               bias, SWARM_ACT_RELU, 0, 0, y,
                                               &err), err);
                        for (int64_t i = 0; i < n; i++) {
                                double e = fabs((double)y[i] - ref[i]);
                                worst = e > worst || isnan(e) ? e : worst;
                        }
                        CHECK(worst < 1e-4, "entry %lld images: off by %g",
                              (long long)imgs, worst);
                        CHECK(y[n] == GUARD);
                }
out:
        be1->conv_wino_free(be1, pk);
        free(x);
        free(wt);
        free(bias);
        free(y);
        free(ref);
}

static void refusals(swarm_backend_t *be) {
        swarm_err_t err = {0};
        cpu_wino_t *p = NULL;
        float wt[9 * 4] = {0}, x[16] = {0}, y[16];
        test_c3_shape_t s = {1, 2, 2, 4, 2, 1, 1, 1, 1};
        swarm_window_t w = test_c3_window(&s), bad;
        void *pk = (void *)&err;
        size_t bytes = 1;

        CHECK_ERR(cpu_wino_pack((cpu_isa_t)99, 2, 2, wt, &p, &err), err,
                  SWARM_ERR_INVALID, "kernel set");
        CHECK(p == NULL);
        CHECK_ERR(cpu_wino_pack(CPU_ISA_C, 0, 2, wt, &p, &err), err,
                  SWARM_ERR_INVALID, "bad filters");
        CHECK_ERR(cpu_wino_pack(CPU_ISA_C, 2, -1, wt, &p, &err), err,
                  SWARM_ERR_INVALID, "bad filters");
        CHECK_ERR(cpu_wino_pack(CPU_ISA_C, INT64_MAX - 3, 2, wt, &p, &err),
                  err, SWARM_ERR_INVALID, "overflow");
        CHECK_ERR(cpu_wino_pack(CPU_ISA_C, (int64_t)1 << 40,
                                (int64_t)1 << 30, wt, &p, &err),
                  err, SWARM_ERR_INVALID, "overflow");
        CHECK(p == NULL);
        /* Windows it does not run. */
        bad = w;
        bad.sh = 2;
        CHECK(!cpu_wino_window_ok(&bad, 2));
        bad = w;
        bad.kw = 5;
        CHECK(!cpu_wino_window_ok(&bad, 2));
        bad = w;
        bad.dh = 2;
        CHECK(!cpu_wino_window_ok(&bad, 2));
        bad = w;
        bad.oh = w.oh + 1;      /* output past the padded plane */
        CHECK(!cpu_wino_window_ok(&bad, 2));
        bad = w;
        bad.pad_l = -1;
        CHECK(!cpu_wino_window_ok(&bad, 2));
        bad = w;
        bad.n = (int64_t)1 << 20;       /* offsets past 32 bits */
        bad.h = bad.w = 1024;
        bad.oh = bad.ow = 1024;
        CHECK(!cpu_wino_window_ok(&bad, 2));
        CHECK(!cpu_wino_window_ok(&w, 0));
        CHECK(cpu_wino_window_ok(&w, 2));
        /* Filters that do not match the window. */
        CHECK_OK(cpu_wino_pack(CPU_ISA_C, 2, 2, wt, &p, &err), err);
        REQUIRE(p);
        bad = w;
        bad.n = 3;
        y[0] = GUARD;
        CHECK_ERR(cpu_wino_run(be, p, &bad, 1, x, NULL, SWARM_ACT_NONE, 0, 0,
                               y, 0, &err), err, SWARM_ERR_BACKEND, "match");
        bad = w;
        bad.sw = 2;
        CHECK_ERR(cpu_wino_run(be, p, &bad, 1, x, NULL, SWARM_ACT_NONE, 0, 0,
                               y, 0, &err), err, SWARM_ERR_BACKEND, "match");
        CHECK_ERR(cpu_wino_run(be, p, &w, INT64_MAX / 2, x, NULL,
                               SWARM_ACT_NONE, 0, 0, y, 0, &err), err,
                  SWARM_ERR_INVALID, "overflow");
        CHECK(y[0] == GUARD);
        CHECK_ERR(exec_cpu_conv_wino(be, &w, 1, 3, p, x, NULL,
                                     SWARM_ACT_NONE, 0, 0, y, &err), err,
                  SWARM_ERR_BACKEND, "match");
        cpu_wino_free(p);
        cpu_wino_free(NULL);
        /* The backend entry declines what it does not run or win. */
        bad = w;
        bad.sh = 2;
        CHECK_OK(be->conv_wino_pack(be, &bad, 2, wt, &pk, &bytes, &err), err);
        CHECK(pk == NULL && bytes == 0);
        pk = (void *)&err;
        CHECK_OK(be->conv_wino_pack(be, &w, 2, wt, &pk, &bytes, &err), err);
        /* 2 channels: not Winograd; the direct kernel of cpu_sconv.c
         * where it runs (test_sconv.c), else the packed path. */
        if (cpu_gemm_best_isa() != CPU_ISA_C)
                CHECK(pk && ((cpu_wino_t *)pk)->sconv &&
                      ((cpu_wino_t *)pk)->u == NULL,
                      "2 channels should take the direct kernel");
        else
                CHECK(pk == NULL, "2 channels should stay on the packed path");
        be->conv_wino_free(be, pk);
        be->conv_wino_free(be, NULL);
}

int main(void) {
        swarm_backend_t *be1 = NULL, *be2 = NULL;
        swarm_err_t err = {0};

        REQUIRE_OK(swarm_backend_cpu_new(1, &be1, &err), err);
        REQUIRE_OK(swarm_backend_cpu_new(2, &be2, &err), err);
        REQUIRE(be1->conv_wino_pack && be1->conv_wino && be1->conv_wino_free);
        small_shapes(be1, be2);
        resnet_shapes(be2);
        backend_entry(be1, be2);
        refusals(be1);
        swarm_backend_destroy(be1);
        swarm_backend_destroy(be2);
        TEST_DONE();
}
