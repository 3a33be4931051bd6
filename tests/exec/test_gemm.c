/*
 * test_gemm.c - the CPU backend's packed GEMM (lib/exec/cpu_gemm.c):
 *
 * 1. GEMM with either operand packed, against a double-precision naive
 *    reference, over shapes of 1, odd and prime sizes, M / N / K that are
 *    not multiples of any MR / NR, K = 1 and K past the K block, both
 *    transposes, alpha / beta, every bias mode and several activations,
 *    on 1 and 2 parts, for every micro-kernel family this CPU runs
 *    (forced through the job's ISA, so the C kernel is tested on an
 *    AVX-512 machine too).
 * 2. Convolution from packed filters with implicit im2col against the old
 *    path (im2col + gemm through the same backend) at 27 shapes: pads,
 *    strides, dilations, groups, 1x1, 7x7 stride 2, several images, for
 *    every ISA and through the backend's own entries on 1 and 2 lanes.
 * 3. Hostile sizes: packing refuses what overflows.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarm/backend.h"
#include "cpu_gemm.h"
#include "scalar_ops.h"

#include "check.h"
#include "test_fill.h"
#include "test_gemm_job.h"
#include "test_window.h"


static float *alloc_f(int64_t n, unsigned seed) {
        float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
        if (p)
                test_fill(p, n, seed);
        return p;
}

typedef struct gshape {
        int64_t m, n, k;
} gshape_t;

static const gshape_t gshapes[] = {
        {1, 1, 1},     {1, 17, 5},    {3, 5, 1},     {7, 33, 13},
        {8, 32, 256},  {9, 31, 257},  {13, 100, 300}, {64, 64, 64},
        {31, 529, 601}, {1, 1024, 97}, {16, 1000, 7}, {250, 70, 513},
        {2, 3, 1031},  {241, 19, 17}, {6, 16, 24},   {5, 47, 3},
};

static const swarm_act_t acts[] = {SWARM_ACT_NONE, SWARM_ACT_RELU,
                                   SWARM_ACT_SILU, SWARM_ACT_CLIP,
                                   SWARM_ACT_TANH, SWARM_ACT_HARDSWISH,
                                   SWARM_ACT_GELU};

/* One GEMM case: side 0 packs A, side 1 packs B. */
static void gemm_case(cpu_isa_t isa, const gshape_t *s, int side, int ta,
                      int tb, swarm_bias_t bm, swarm_act_t act, float alpha,
                      float beta, int parts, unsigned seed) {
        int64_t m = s->m, n = s->n, k = s->k;
        int64_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 2, ldc = n + 5;
        int64_t nbias = bm == SWARM_BIAS_SCALAR ? 1
                        : bm == SWARM_BIAS_ROW ? n
                        : bm == SWARM_BIAS_COL ? m
                        : bm == SWARM_BIAS_FULL ? m * n : 0;
        float *a = alloc_f((ta ? k : m) * lda, seed);
        float *b = alloc_f((tb ? n : k) * ldb, seed + 1);
        float *bias = alloc_f(nbias, seed + 2);
        float *c = alloc_f(m * ldc, seed + 3);  /* garbage to overwrite */
        float *keep = alloc_f(m * ldc, seed + 3);
        cpu_packed_t *pk = NULL;
        cpu_gemm_job_t j;
        swarm_gemm_t g;
        swarm_err_t err = {0};
        double worst = 0.0;
        int rc;

        g = (swarm_gemm_t){
                .trans_a = ta, .trans_b = tb, .m = m, .n = n, .k = k,
                .alpha = alpha, .beta = beta, .a = a, .lda = lda, .b = b,
                .ldb = ldb, .bias = nbias ? bias : NULL, .bias_mode = bm,
                .c = c, .ldc = ldc, .act = act,
                .act_alpha = act == SWARM_ACT_CLIP ? -0.5f : 0.0f,
                .act_beta = act == SWARM_ACT_CLIP ? 0.75f : 0.0f};
        if (side == 0)
                rc = cpu_gemm_pack(isa, 0, ta, 1, m, k, a, lda, &pk, &err);
        else
                rc = cpu_gemm_pack(isa, 1, tb, 1, n, k, b, ldb, &pk, &err);
        CHECK_OK(rc, err);
        if (!rc)
                rc = cpu_gemm_job_gemm(&j, &g, side == 0 ? pk : NULL,
                                       side == 1 ? pk : NULL, &err);
        CHECK_OK(rc, err);
        if (!rc) {
                CHECK(j.isa == isa);
                test_gemm_run_job(&j, parts);
        }
        for (int64_t i = 0; !rc && i < m; i++) {
                for (int64_t q = 0; q < ldc; q++) {
                        double acc = 0.0, mag = 0.0, ref, bt = 0.0, tol;
                        float got = c[i * ldc + q];
                        if (q >= n) {
                                CHECK(got == keep[i * ldc + q],
                                      "wrote past n at %lld,%lld",
                                      (long long)i, (long long)q);
                                continue;
                        }
                        for (int64_t p = 0; p < k; p++) {
                                double av = ta ? a[p * lda + i]
                                               : a[i * lda + p];
                                double bv = tb ? b[q * ldb + p]
                                               : b[p * ldb + q];
                                acc += av * bv;
                                mag += fabs(av * bv);
                        }
                        switch (bm) {
                        case SWARM_BIAS_SCALAR: bt = bias[0]; break;
                        case SWARM_BIAS_ROW: bt = bias[q]; break;
                        case SWARM_BIAS_COL: bt = bias[i]; break;
                        case SWARM_BIAS_FULL: bt = bias[i * n + q]; break;
                        default: break;
                        }
                        ref = alpha * acc + beta * bt;
                        /* GELU against libm's erf in double: the
                                         * epilogue's own formula is not
                                         * the reference */
                        if (act == SWARM_ACT_GELU)
                                ref = 0.5 * ref * (1.0 + erf(ref * M_SQRT1_2));
                        else
                                ref = swarm_act_scalar(act, g.act_alpha,
                                                       g.act_beta,
                                                       (float)ref);
                        tol = 1e-5 * (fabs(alpha) * mag + fabs(beta * bt)) +
                              1e-5;
                        if (!(fabs(ref - got) <= tol) &&
                            fabs(ref - got) > worst)
                                worst = fabs(ref - got);
                }
        }
        CHECK(worst == 0.0,
              "isa %d %lldx%lldx%lld side %d ta %d tb %d bias %d act %d "
              "parts %d: off by %g", (int)isa, (long long)m, (long long)n,
              (long long)k, side, ta, tb, (int)bm, (int)act, parts, worst);
        cpu_gemm_pack_free(pk);
        free(a);
        free(b);
        free(bias);
        free(c);
        free(keep);
}

static void test_gemm_shapes(void) {
        unsigned seed = 1;
        int cases = 0;

        for (int isa = 0; isa < CPU_ISA_COUNT; isa++) {
                if (!cpu_gemm_isa_ok((cpu_isa_t)isa)) {
                        printf("isa %d: not on this CPU, skipped\n", isa);
                        continue;
                }
                for (size_t si = 0; si < sizeof(gshapes) / sizeof(gshapes[0]);
                     si++) {
                        for (int v = 0; v < 8; v++) {
                                int side = v & 1, tr = (v >> 1) & 1;
                                swarm_bias_t bm = (swarm_bias_t)((si + v) % 5);
                                swarm_act_t act =
                                        acts[(si + v) % (sizeof(acts) /
                                                         sizeof(acts[0]))];
                                float alpha = v & 4 ? 0.5f : 1.0f;
                                float beta = v == 6 ? 0.0f
                                             : v & 4 ? -1.5f : 1.0f;
                                int t2 = ((v >> 2) ^ (v >> 1)) & 1;
                                gemm_case((cpu_isa_t)isa, &gshapes[si], side,
                                          tr, t2,
                                          bm, act, alpha, beta,
                                          1 + (int)(v >> 2), seed++);
                                cases++;
                        }
                }
        }
        printf("gemm: %d cases\n", cases);
}

/* ---- convolution ---- */

typedef struct cshape {
        int64_t imgs, cin, cout, group, h, w, kh, kw, sh, sw, dh, dw;
        int64_t pt, pl, pb, pr;
        swarm_act_t act;
        int bias;
} cshape_t;

static const cshape_t cshapes[] = {
        /* imgs cin cout grp  h   w kh kw sh sw dh dw pt pl pb pr */
        {1, 3, 16, 1, 9, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, SWARM_ACT_RELU, 1},
        {2, 3, 64, 1, 32, 32, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3,
         SWARM_ACT_RELU, 1},
        {3, 16, 24, 1, 14, 14, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0,
         SWARM_ACT_NONE, 1},
        {2, 8, 8, 1, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, SWARM_ACT_NONE, 0},
        {1, 5, 7, 1, 11, 13, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, SWARM_ACT_SILU, 1},
        {2, 4, 9, 1, 10, 10, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, SWARM_ACT_RELU, 1},
        {1, 6, 10, 1, 8, 12, 2, 3, 1, 2, 1, 1, 0, 1, 1, 0, SWARM_ACT_CLIP, 1},
        {4, 32, 64, 1, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, SWARM_ACT_RELU, 1},
        {1, 16, 32, 2, 9, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, SWARM_ACT_RELU, 1},
        {2, 32, 32, 4, 8, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, SWARM_ACT_NONE, 1},
        {1, 24, 48, 3, 6, 6, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, SWARM_ACT_RELU, 0},
        {2, 3, 5, 1, 1, 40, 1, 5, 1, 1, 1, 1, 0, 2, 0, 2, SWARM_ACT_NONE, 1},
        {1, 2, 3, 1, 5, 5, 5, 5, 1, 1, 1, 1, 4, 4, 4, 4, SWARM_ACT_NONE, 1},
        {1, 4, 4, 1, 6, 6, 3, 3, 3, 3, 1, 1, 0, 0, 2, 2, SWARM_ACT_RELU, 1},
        {5, 7, 11, 1, 5, 3, 3, 1, 1, 1, 1, 1, 1, 0, 1, 0, SWARM_ACT_SIGMOID,
         1},
        {1, 64, 128, 1, 15, 15, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1,
         SWARM_ACT_RELU, 1},
        {2, 64, 128, 1, 8, 8, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, SWARM_ACT_NONE, 1},
        {1, 40, 40, 5, 12, 12, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1,
         SWARM_ACT_HARDSWISH, 1},
        {3, 1, 8, 1, 28, 28, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, SWARM_ACT_RELU, 1},
        {1, 300, 9, 1, 4, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, SWARM_ACT_NONE, 1},
        {2, 9, 33, 1, 13, 17, 3, 3, 1, 2, 2, 1, 2, 1, 0, 3, SWARM_ACT_RELU, 1},
        {1, 8, 16, 1, 3, 3, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, SWARM_ACT_NONE, 0},
        {17, 4, 12, 1, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, SWARM_ACT_RELU, 1},
        {1, 16, 16, 2, 33, 31, 3, 3, 1, 1, 3, 3, 3, 3, 3, 3, SWARM_ACT_NONE,
         1},
        /* DeepLab's ASPP at a 96 x 96 input: dilations 12, 24, 36 on a
         * 6 x 6 map, every tap but the centre wholly above, below or
         * beside the plane (the "same" im2col once zeroed a negative
         * length there and crashed at load) */
        {1, 8, 8, 1, 6, 6, 3, 3, 1, 1, 36, 36, 36, 36, 36, 36,
         SWARM_ACT_RELU, 1},
        {2, 8, 4, 1, 6, 6, 3, 3, 1, 1, 12, 12, 12, 12, 12, 12,
         SWARM_ACT_NONE, 1},
        {1, 4, 4, 1, 6, 7, 3, 3, 1, 1, 5, 24, 5, 24, 5, 24,
         SWARM_ACT_NONE, 0},
};

/* The old path: one im2col and one gemm per image and group. */
static int conv_old(swarm_backend_t *be, const cshape_t *s,
                    const swarm_window_t *w, const float *x, const float *f,
                    const float *bias, float *y, swarm_err_t *err) {
        int64_t cg = s->cin / s->group, mg = s->cout / s->group;
        int64_t k = cg * s->kh * s->kw, plane = w->oh * w->ow;
        float *col = malloc((size_t)(k * plane) * sizeof(float));
        swarm_window_t win = *w;
        swarm_gemm_t g;
        int rc = SWARM_OK;

        if (!col)
                return SWARM_ERR_NOMEM;
        win.n = cg;
        g = (swarm_gemm_t){
                .alpha = 1.0f, .beta = 1.0f, .m = mg, .n = plane, .k = k,
                .a = f, .lda = k, .b = col, .ldb = plane, .c = y,
                .ldc = plane, .bias = bias,
                .bias_mode = bias ? SWARM_BIAS_COL : SWARM_BIAS_NONE,
                .act = s->act, .act_alpha = 0.0f, .act_beta = 6.0f};
        for (int64_t i = 0; i < s->imgs && !rc; i++)
                for (int64_t gi = 0; gi < s->group && !rc; gi++) {
                        rc = be->im2col(be, &win, x,
                                        (i * s->cin + gi * cg) * s->h * s->w,
                                        col, err);
                        g.a_off = gi * mg * k;
                        g.bias_off = gi * mg;
                        g.c_off = (i * s->cout + gi * mg) * plane;
                        if (!rc)
                                rc = be->gemm(be, &g, err);
                }
        free(col);
        return rc;
}

static double max_rel(const float *a, const float *b, int64_t n) {
        double d = 0.0;
        for (int64_t i = 0; i < n; i++) {
                double e = fabs((double)a[i] - b[i]) /
                           (1.0 + fabs((double)b[i]));
                if (!(e <= d))
                        d = e;
        }
        return d;
}

static void test_conv(swarm_backend_t *be1, swarm_backend_t *be2) {
        int cases = 0;

        for (size_t si = 0; si < sizeof(cshapes) / sizeof(cshapes[0]); si++) {
                const cshape_t *s = &cshapes[si];
                int64_t cg = s->cin / s->group, mg = s->cout / s->group;
                int64_t k = cg * s->kh * s->kw;
                swarm_window_t w;
                int64_t in_n, out_n;
                float *x, *f, *bias, *ref, *got;
                swarm_err_t err = {0};
                /* Both sums are float: their rounding grows with K. */
                double tol = 1e-5 * (1.0 + (double)k / 256.0);

                w = TEST_WINDOW_OF(cg, s);
                in_n = s->imgs * s->cin * s->h * s->w;
                out_n = s->imgs * s->cout * w.oh * w.ow;
                x = alloc_f(in_n, (unsigned)si * 7 + 1);
                f = alloc_f(s->cout * k, (unsigned)si * 7 + 2);
                bias = s->bias ? alloc_f(s->cout, (unsigned)si * 7 + 3)
                               : NULL;
                ref = alloc_f(out_n, 5);
                got = alloc_f(out_n, 6);
                CHECK_OK(conv_old(be1, s, &w, x, f, bias, ref, &err), err);
                for (int isa = 0; isa < CPU_ISA_COUNT; isa++) {
                        cpu_packed_t *pk = NULL;
                        cpu_gemm_job_t j;
                        if (!cpu_gemm_isa_ok((cpu_isa_t)isa))
                                continue;
                        CHECK_OK(cpu_gemm_pack((cpu_isa_t)isa, 0, 0, s->group,
                                               mg, k, f, k, &pk, &err),
                                 err);
                        for (int parts = 1; pk && parts <= 2; parts++) {
                                double d;
                                test_fill(got, out_n, 9);
                                CHECK_OK(cpu_gemm_job_conv(
                                                 &j, &w, s->imgs, s->group,
                                                 s->cout, pk, x, bias, s->act,
                                                 0.0f, 6.0f, got, &err),
                                         err);
                                test_gemm_run_job(&j, parts);
                                d = max_rel(got, ref, out_n);
                                CHECK(d < tol, "conv shape %zu isa %d "
                                      "parts %d: off by %g", si, isa, parts,
                                      d);
                                cases++;
                        }
                        cpu_gemm_pack_free(pk);
                }
                /* Through the backend entries, 1 and 2 lanes. */
                for (int l = 0; l < 2; l++) {
                        swarm_backend_t *be = l ? be2 : be1;
                        void *pk = NULL;
                        size_t bytes = 0;
                        CHECK_OK(be->gemm_pack(be, 0, 0, s->group, mg, k, f, k,
                                               &pk, &bytes, &err), err);
                        CHECK(bytes >= (size_t)(s->cout * k) * sizeof(float));
                        test_fill(got, out_n, 9);
                        CHECK_OK(be->conv_packed(be, &w, s->imgs, s->group,
                                                 s->cout, pk, x, bias, s->act,
                                                 0.0f, 6.0f, got, &err),
                                 err);
                        CHECK(max_rel(got, ref, out_n) < tol,
                              "conv shape %zu backend lanes %d", si, l + 1);
                        be->gemm_pack_free(be, pk);
                        cases++;
                }
                free(x);
                free(f);
                free(bias);
                free(ref);
                free(got);
        }
        printf("conv: %d cases over %zu shapes\n", cases,
               sizeof(cshapes) / sizeof(cshapes[0]));
}

/* Big packed GEMMs through the backend on 2 lanes (real threads). */
static void test_backend_gemm(swarm_backend_t *be) {
        int64_t m = 37, n = 700, k = 300;
        float *a = alloc_f(m * k, 11), *b = alloc_f(k * n, 12);
        float *bias = alloc_f(n, 13), *c1 = alloc_f(m * n, 1),
              *c2 = alloc_f(m * n, 2);
        swarm_gemm_t g;
        swarm_err_t err = {0};
        void *pk = NULL;
        size_t bytes;

        g = (swarm_gemm_t){
                .m = m, .n = n, .k = k, .alpha = 1.0f, .beta = 1.0f, .a = a,
                .lda = k, .b = b, .ldb = n, .bias = bias,
                .bias_mode = SWARM_BIAS_ROW, .c = c1, .ldc = n,
                .act = SWARM_ACT_RELU};
        CHECK_OK(be->gemm(be, &g, &err), err);
        CHECK_OK(be->gemm_pack(be, 1, 0, 1, n, k, b, n, &pk, &bytes, &err),
                 err);
        g.c = c2;
        g.b = NULL;
        CHECK_OK(be->gemm_packed(be, &g, NULL, pk, &err), err);
        CHECK(max_rel(c2, c1, m * n) < 1e-5, "packed vs OpenBLAS: %g",
              max_rel(c2, c1, m * n));
        /* A packed operand that does not match the call is refused. */
        g.k = k - 1;
        CHECK_ERR(be->gemm_packed(be, &g, NULL, pk, &err), err,
                  SWARM_ERR_BACKEND, "does not match");
        be->gemm_pack_free(be, pk);
        free(a);
        free(b);
        free(bias);
        free(c1);
        free(c2);
}

/* A in row blocks (swarm_gemm_t.a_blk_rows): the pixels of imgs NCHW
 * images, k channels of a plane each, img floats apart, as the rows of
 * one product against packed filters (model.c run_conv_t).  Planes that
 * are not a multiple of the tile's rows make slivers straddle images.
 * scaled: each image's channels times their own scale (a_scale). */
static void blk_case(cpu_isa_t isa, int64_t plane, int64_t imgs, int64_t k,
                     int64_t n, int parts, int scaled, unsigned seed) {
        int64_t img = k * plane + 5, m = imgs * plane, ldc = n + 3;
        float *x = alloc_f(imgs * img, seed), *w = alloc_f(n * k, seed + 1);
        float *c = alloc_f(m * ldc, seed + 2);
        float *sc = alloc_f(imgs * k + 2, seed + 3);
        cpu_packed_t *pk = NULL;
        cpu_gemm_job_t j;
        swarm_gemm_t g;
        swarm_err_t err = {0};
        double worst = 0.0;
        int rc;

        g = (swarm_gemm_t){.trans_a = 1, .trans_b = 1, .m = m, .n = n,
                           .k = k, .alpha = 1.0f, .a = x, .lda = plane,
                           .ldb = k, .c = c, .ldc = ldc,
                           .act = SWARM_ACT_RELU, .a_blk_rows = plane,
                           .a_blk_off = img, .a_scale = scaled ? sc : NULL,
                           .a_scale_off = 2};
        rc = cpu_gemm_pack(isa, 1, 1, 1, n, k, w, k, &pk, &err);
        CHECK_OK(rc, err);
        if (!rc)
                rc = cpu_gemm_job_gemm(&j, &g, NULL, pk, &err);
        CHECK_OK(rc, err);
        if (!rc)
                test_gemm_run_job(&j, parts);
        for (int64_t i = 0; !rc && i < m; i++)
                for (int64_t q = 0; q < n; q++) {
                        const float *px = x + i / plane * img + i % plane;
                        const float *ps = sc + 2 + i / plane * k;
                        double acc = 0.0, mag = 0.0;
                        for (int64_t p = 0; p < k; p++) {
                                double v = (double)px[p * plane] *
                                           w[q * k + p] * (scaled ? ps[p] : 1);
                                acc += v;
                                mag += fabs(v);
                        }
                        acc = acc > 0 ? acc : 0;
                        if (fabs(acc - c[i * ldc + q]) > 1e-5 * mag + 1e-6 &&
                            fabs(acc - c[i * ldc + q]) > worst)
                                worst = fabs(acc - c[i * ldc + q]);
                }
        CHECK(worst == 0.0, "isa %d: %lld images of %lld pixels, k %lld, "
              "n %lld, parts %d, scaled %d: off by %g", (int)isa,
              (long long)imgs, (long long)plane, (long long)k, (long long)n,
              parts, scaled, worst);
        cpu_gemm_pack_free(pk);
        free(sc);
        free(x);
        free(w);
        free(c);
}

static void test_blk_rows(swarm_backend_t *be) {
        static const int64_t shapes[][4] = {
                /* plane, images, k, n */
                {49, 5, 136, 64}, {36, 7, 128, 70}, {25, 10, 130, 33},
                {7, 3, 40, 9}, {16, 16, 144, 40}, {4, 1, 17, 31}};
        float one = 1.0f, out = 0.0f;
        cpu_packed_t *pk = NULL;
        cpu_gemm_job_t j;
        swarm_gemm_t g;
        swarm_err_t err = {0};
        unsigned seed = 300;

        for (int isa = 0; isa < CPU_ISA_COUNT; isa++) {
                if (!cpu_gemm_isa_ok((cpu_isa_t)isa))
                        continue;
                for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]);
                     i++)
                        for (int scaled = 0; scaled < 2; scaled++)
                                blk_case((cpu_isa_t)isa, shapes[i][0],
                                         shapes[i][1], shapes[i][2],
                                         shapes[i][3], 1 + (int)(i & 1),
                                         scaled, seed++);
        }
        /* only an unpacked A comes in blocks, and only through
         * gemm_packed */
        g = (swarm_gemm_t){.m = 1, .n = 1, .k = 1, .alpha = 1.0f, .a = &one,
                           .lda = 1, .b = &one, .ldb = 1, .c = &out,
                           .ldc = 1, .a_blk_rows = 1, .a_blk_off = 1};
        CHECK_ERR(be->gemm(be, &g, &err), err, SWARM_ERR_BACKEND,
                  "row blocks");
        CHECK_OK(cpu_gemm_pack(CPU_ISA_C, 0, 0, 1, 1, 1, &one, 1, &pk, &err),
                 err);
        CHECK_ERR(cpu_gemm_job_gemm(&j, &g, pk, NULL, &err), err,
                  SWARM_ERR_BACKEND, "A packed");
        cpu_gemm_pack_free(pk);
        pk = NULL;
        CHECK_OK(cpu_gemm_pack(CPU_ISA_C, 1, 0, 1, 1, 1, &one, 1, &pk, &err),
                 err);
        CHECK_OK(cpu_gemm_job_gemm(&j, &g, NULL, pk, &err), err);
        g.a_blk_rows = -1;
        CHECK_ERR(cpu_gemm_job_gemm(&j, &g, NULL, pk, &err), err,
                  SWARM_ERR_BACKEND, "row blocks");
        /* a scale needs the blocks it is per */
        g.a_blk_rows = 0;
        g.a_scale = &one;
        CHECK_ERR(cpu_gemm_job_gemm(&j, &g, NULL, pk, &err), err,
                  SWARM_ERR_BACKEND, "scaled");
        CHECK_ERR(be->gemm(be, &g, &err), err, SWARM_ERR_BACKEND,
                  "row blocks");
        cpu_gemm_pack_free(pk);
}

static void test_hostile(void) {
        cpu_packed_t *pk = NULL;
        swarm_err_t err = {0};
        float one = 1.0f;

        CHECK_ERR(cpu_gemm_pack(CPU_ISA_C, 0, 0, (int64_t)1 << 40,
                                (int64_t)1 << 20, (int64_t)1 << 10, &one, 1,
                                &pk, &err),
                  err, SWARM_ERR_INVALID, "overflow");
        CHECK(pk == NULL);
        CHECK_ERR(cpu_gemm_pack(CPU_ISA_C, 1, 0, 1, (int64_t)1 << 62,
                                (int64_t)1 << 3, &one, 1, &pk, &err),
                  err, SWARM_ERR_INVALID, "overflow");
        CHECK_ERR(cpu_gemm_pack(CPU_ISA_C, 0, 0, 0, 4, 4, &one, 4, &pk, &err),
                  err, SWARM_ERR_INVALID, "bad operand");
}

int main(void) {
        swarm_err_t err = {0};
        swarm_backend_t *be1 = NULL;
        (void)swarm_backend_cpu_new(1, &be1, &err);
        swarm_backend_t *be2 = NULL;
        (void)swarm_backend_cpu_new(2, &be2, &err);

        if (!be1 || !be2) {
                fprintf(stderr, "backend: %s\n", err.msg);
                return 1;
        }
        printf("best isa: %d\n", (int)cpu_gemm_best_isa());
        test_gemm_shapes();
        test_conv(be1, be2);
        test_backend_gemm(be2);
        test_blk_rows(be2);
        test_hostile();
        swarm_backend_destroy(be1);
        swarm_backend_destroy(be2);
        TEST_DONE();
}
