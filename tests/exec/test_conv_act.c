/*
 * test_conv_act.c - the activations that cpu_gemm.c's drivers apply with
 * cpu_act's kernel after each finished row block (Sigmoid, SiLU,
 * HardSwish, HardSigmoid with ONNX's alpha 0.2 / beta 0.5), on the direct
 * and the packed (implicit im2col) convolution of every kernel family the
 * CPU runs, 1-3 parts (row blocks and column ranges that split images),
 * and the backend's conv_packed on 1 and 2 lanes, against a double
 * reference.  The shapes are test_conv_direct.c's; each takes one of the
 * four activations in turn (about a second).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarm/backend.h"
#include "cpu_gemm.h"

#include "check.h"

static void fill(float *p, int64_t n, unsigned seed) {
        unsigned s = seed * 2654435761u + 1;
        for (int64_t i = 0; i < n; i++) {
                s = s * 1103515245u + 12345u;
                p[i] = (float)((s >> 8) & 0xffff) / 32768.0f - 1.0f;
        }
}

typedef struct dshape {
        int64_t imgs, cin, cout, h, w, kh, kw, dh, dw, pt, pl, pb, pr;
        swarm_act_t act;
        int direct;     /* expected on AVX-512 */
        int64_t sh, sw;         /* 0: 1 */
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
        {1, 5, 6, 9, 44, 3, 3, 1, 1, 1, 1, 1, 1, SWARM_ACT_RELU, 0, 2, 2},
};

#define SH(s) ((s)->sh ? (s)->sh : 1)
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

/* Naive convolution in double; *mag gets the largest sum of |terms|. */
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

static void conv_ref(const dshape_t *s, const swarm_window_t *w,
                     const float *x, const float *f, const float *bias,
                     float *y, double *mag) {
        *mag = 0.0;
        for (int64_t i = 0; i < s->imgs; i++)
                for (int64_t o = 0; o < s->cout; o++)
                        for (int64_t oy = 0; oy < w->oh; oy++)
                                for (int64_t ox = 0; ox < w->ow; ox++) {
                                        double acc = bias[o], m = fabs(acc);
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
                                                                t = (double)x[((i * s->cin + c) * s->h + iy) * s->w + ix] *
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

static void run_job(cpu_gemm_job_t *j, int parts) {
        int64_t per = cpu_gemm_ws_floats(j);
        int used = cpu_gemm_plan_parts(j, parts);

        j->ws_part = per;
        j->ws = per ? aligned_alloc(64, (size_t)per * sizeof(float) *
                                        (size_t)parts) : NULL;
        REQUIRE(!per || j->ws);
        if (used < 2)
                parts = 1;
        for (int p = 0; p < parts; p++)
                cpu_gemm_part(j, p, parts);
        free(j->ws);
        j->ws = NULL;
}

int main(void) {
        swarm_backend_t *bes[2] = {NULL, NULL};
        swarm_err_t err = {0};
        int cases = 0, directs = 0;

        REQUIRE_OK(swarm_backend_cpu_new(1, &bes[0], &err), err);
        REQUIRE_OK(swarm_backend_cpu_new(2, &bes[1], &err), err);
        for (size_t si = 0; si < sizeof(shapes) / sizeof(shapes[0]); si++) {
                dshape_t sc = shapes[si];
                const dshape_t *s = &sc;
                int64_t k = s->cin * s->kh * s->kw, in_n, out_n;
                swarm_window_t w;
                float *x, *f, *bias, *ref, *got;
                double mag, tol;

                sc.act = acts[si % 4];
                memset(&w, 0, sizeof(w));
                w.n = s->cin;
                w.h = s->h;
                w.w = s->w;
                w.kh = s->kh;
                w.kw = s->kw;
                w.sh = SH(s);
                w.sw = SW(s);
                w.dh = s->dh;
                w.dw = s->dw;
                w.pad_t = s->pt;
                w.pad_l = s->pl;
                w.pad_b = s->pb;
                w.pad_r = s->pr;
                w.oh = (s->h + s->pt + s->pb - (s->kh - 1) * s->dh - 1) /
                       w.sh + 1;
                w.ow = (s->w + s->pl + s->pr - (s->kw - 1) * s->dw - 1) /
                       w.sw + 1;
                in_n = s->imgs * s->cin * s->h * s->w;
                out_n = s->imgs * s->cout * w.oh * w.ow;
                x = malloc((size_t)in_n * sizeof(float));
                f = malloc((size_t)(s->cout * k) * sizeof(float));
                bias = malloc((size_t)s->cout * sizeof(float));
                ref = malloc((size_t)out_n * sizeof(float));
                got = malloc((size_t)(out_n + 1) * sizeof(float));
                REQUIRE(x && f && bias && ref && got);
                fill(x, in_n, (unsigned)si * 5 + 1);
                fill(f, s->cout * k, (unsigned)si * 5 + 2);
                fill(bias, s->cout, (unsigned)si * 5 + 3);
                conv_ref(s, &w, x, f, bias, ref, &mag);
                /* the activation adds ~2^-22 relative (rcp + one Newton step) */
                tol = 1e-6 * mag * (1.0 + sqrt((double)k)) + 1e-5;
                for (int isa = 0; isa < CPU_ISA_COUNT; isa++) {
                        cpu_packed_t *pk = NULL;
                        if (!cpu_gemm_isa_ok((cpu_isa_t)isa))
                                continue;
                        CHECK_OK(cpu_gemm_pack((cpu_isa_t)isa, 0, 0, 1,
                                               s->cout, k, f, k, &pk, &err),
                                 err);
                        for (int parts = 1; pk && parts <= 3; parts++) {
                                cpu_gemm_job_t j;
                                fill(got, out_n, 9);
                                got[out_n] = 777.0f;
                                CHECK_OK(cpu_gemm_job_conv(
                                                 &j, &w, s->imgs, 1, s->cout,
                                                 pk, x, bias, s->act,
                                                 act_a(s->act), act_b(s->act),
                                                 got, &err),
                                         err);
                                CHECK(j.direct == (isa == CPU_ISA_AVX512 &&
                                                   s->direct),
                                      "shape %zu isa %d: direct %d", si, isa,
                                      j.direct);
                                directs += j.direct;
                                run_job(&j, parts);
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
                        CHECK_OK(be->gemm_pack(be, 0, 0, 1, s->cout, k, f, k,
                                               &pk, &bytes, &err), err);
                        fill(got, out_n, 9);
                        got[out_n] = 777.0f;
                        CHECK_OK(be->conv_packed(be, &w, s->imgs, 1, s->cout,
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
        printf("conv act: %d cases over %zu shapes, %d direct jobs%s\n",
               cases, sizeof(shapes) / sizeof(shapes[0]), directs,
               cpu_gemm_isa_ok(CPU_ISA_AVX512) ? ""
                                               : " (no AVX-512 here)");
        swarm_backend_destroy(bes[0]);
        swarm_backend_destroy(bes[1]);
        TEST_DONE();
}
