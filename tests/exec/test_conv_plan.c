/*
 * test_conv_plan.c - how the loader plans a convolution: taps that read
 * only padding dropped (lib/exec/conv_taps.c, h_conv in onnx_ops.c), and
 * small planes run transposed (pack.c's exec_conv_t_wins, model.c's
 * run_conv_t).
 *
 * First exec_conv_taps against a brute force over every small window
 * (in 1..9, k 1..4, stride 1..3, dilation 1..5, pads 0..12): the taps it
 * keeps must be exactly those between the leading and trailing taps that
 * read nothing for any output cell (as far as non-negative pads allow),
 * the output length must not change, and every kept tap must read the
 * cells it read before.  Then one-Conv models (with and without a
 * BatchNormalization and Relu folded in; groups; 1-D; strides; asymmetric
 * pads; DeepLabV3's ASPP windows) loaded on the CPU backend with 1 and 2
 * lanes: the node's window must be the trimmed one, and the output must
 * equal a double reference convolution of the untrimmed weights.  Then
 * the transposed run's rule at the batch sizes where it flips, and
 * models whose planes take it (1x1, 3x3 under Winograd, strided, 5x5
 * with a BatchNormalization folded in, 1-D, odd filter counts) or do not
 * (7 x 7 and 8 x 8 planes, short products, a grouped window, Winograd at
 * 4 images) against the same reference.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarm/backend.h"
#include "swarm/model.h"

#include "check.h"
#include "conv_taps.h"
#include "model_internal.h"
#include "onnx_build.h"
#include "test_fill.h"

/* ---- the pure function ---- */

/* Does tap r of the window read an input cell for some output cell? */
static int tap_live(int64_t in, int64_t out, int64_t s, int64_t d,
                    int64_t plo, int64_t r) {
        for (int64_t o = 0; o < out; o++) {
                int64_t p = o * s - plo + r * d;
                if (p >= 0 && p < in)
                        return 1;
        }
        return 0;
}

/* Do all tap r's reads lie before the input (-1), after it (1), or
 * neither (0)?  The taps exec_conv_taps drops are those of -1 at the
 * front and 1 at the back.  (A stride wider than the input can also step
 * over it; such taps are kept, which costs time, not correctness.) */
static int tap_side(int64_t in, int64_t out, int64_t s, int64_t d,
                    int64_t plo, int64_t r) {
        int below = 1, above = 1;
        for (int64_t o = 0; o < out; o++) {
                int64_t p = o * s - plo + r * d;
                below &= p < 0;
                above &= p >= in;
        }
        return below ? -1 : above ? 1 : 0;
}

static void test_brute(void) {
        int64_t windows = 0, trimmed = 0;

        for (int64_t in = 1; in <= 9; in++)
        for (int64_t k = 1; k <= 4; k++)
        for (int64_t s = 1; s <= 3; s++)
        for (int64_t d = 1; d <= 5; d++)
        for (int64_t plo = 0; plo <= 12; plo++)
        for (int64_t phi = 0; phi <= 12; phi++) {
                int64_t span = in + plo + phi - ((k - 1) * d + 1);
                int64_t out, lead = 0, trail = 0, any = 0;
                exec_taps_t t = {-1, -1, -1, -1};
                int got;

                if (span < 0)
                        continue;
                out = span / s + 1;
                windows++;
                for (int64_t r = 0; r < k; r++)
                        any |= tap_side(in, out, s, d, plo, r) == 0;
                /* expected: the taps wholly outside the input at each end,
                 * no more than the pads can give up */
                while (any && tap_side(in, out, s, d, plo, lead) < 0)
                        lead++;
                while (any && tap_side(in, out, s, d, plo, k - 1 - trail) > 0)
                        trail++;
                if (lead > plo / d)
                        lead = plo / d;
                if (trail > phi / d)
                        trail = phi / d;
                got = exec_conv_taps(in, out, k, s, d, plo, phi, &t);
                CHECK(got == (lead + trail > 0),
                      "in %lld k %lld s %lld d %lld pads %lld/%lld: %d, "
                      "expected lead %lld trail %lld", (long long)in,
                      (long long)k, (long long)s, (long long)d,
                      (long long)plo, (long long)phi, got, (long long)lead,
                      (long long)trail);
                if (!got)
                        continue;
                trimmed++;
                CHECK(t.first == lead && t.count == k - lead - trail,
                      "in %lld k %lld s %lld d %lld pads %lld/%lld: taps "
                      "%lld+%lld", (long long)in, (long long)k, (long long)s,
                      (long long)d, (long long)plo, (long long)phi,
                      (long long)t.first, (long long)t.count);
                CHECK(t.pad_lo >= 0 && t.pad_hi >= 0 && t.count >= 1);
                CHECK((in + t.pad_lo + t.pad_hi - ((t.count - 1) * d + 1)) /
                      s + 1 == out, "output length changed");
                /* a kept tap reads where it read: the same first cell */
                CHECK(-t.pad_lo == -plo + t.first * d);
                /* and every dropped tap read nothing */
                for (int64_t r = 0; r < k; r++)
                        if (r < t.first || r >= t.first + t.count)
                                CHECK(!tap_live(in, out, s, d, plo, r));
        }
        printf("exec_conv_taps: %lld windows, %lld trimmed\n",
               (long long)windows, (long long)trimmed);
        CHECK(trimmed > 1000, "only %lld windows trimmed",
              (long long)trimmed);
}

static void test_fixed(void) {
        exec_taps_t t;

        /* DeepLabV3-MobileNetV3 at 96 x 96: the 6 x 6 ASPP map */
        for (int64_t d = 12; d <= 36; d += 12) {
                REQUIRE(exec_conv_taps(6, 6, 3, 1, d, d, d, &t) == 1);
                CHECK(t.first == 1 && t.count == 1 && t.pad_lo == 0 &&
                      t.pad_hi == 0);
        }
        /* at 513 x 513 (33 x 33): only dilation 36 has dead taps */
        CHECK(exec_conv_taps(33, 33, 3, 1, 24, 24, 24, &t) == 0);
        CHECK(exec_conv_taps(33, 33, 3, 1, 36, 36, 36, &t) == 1 &&
              t.first == 1 && t.count == 1);
        /* one end only */
        REQUIRE(exec_conv_taps(6, 6, 3, 1, 4, 8, 0, &t) == 1);
        CHECK(t.first == 1 && t.count == 2 && t.pad_lo == 4 &&
              t.pad_hi == 0);
        /* no pads, 1 tap, no live tap, a crop needed: nothing */
        CHECK(exec_conv_taps(6, 4, 3, 1, 1, 0, 0, &t) == 0);
        CHECK(exec_conv_taps(6, 8, 1, 1, 1, 1, 1, &t) == 0);
        CHECK(exec_conv_taps(2, 1, 2, 1, 10, 5, 4, &t) == 0);
        CHECK(exec_conv_taps(6, 1, 3, 1, 3, 1, 0, &t) == 0);
        /* extents past int64_t, nonsense: nothing, no UB */
        CHECK(exec_conv_taps(INT64_MAX, 3, 3, INT64_MAX, 1, 1, 1, &t) == 0);
        CHECK(exec_conv_taps(5, 5, INT64_MAX, 1, INT64_MAX, 1, 1, &t) == 0);
        CHECK(exec_conv_taps(0, 1, 3, 1, 1, 1, 1, &t) == 0);
        CHECK(exec_conv_taps(5, 5, 3, 0, 1, 1, 1, &t) == 0);
        CHECK(exec_conv_taps(5, 5, 3, 1, 1, -1, 1, &t) == 0);
}

/* ---- whole models ---- */

typedef struct tap_case {
        const char *what;
        int sd;                         /* 1 or 2 spatial dims */
        int64_t n, c, m, group, h, w, kh, kw, sh, sw, dh, dw;
        int64_t pt, pl, pb, pr;
        int bn_relu;                    /* Conv -> BatchNorm -> Relu */
        int64_t want_kh, want_kw;       /* the window after load */
        int want_t;     /* transposed copy made, and taken at batch n */
        int want_only;  /* the transposed copy is its only packing */
} tap_case_t;

static const tap_case_t CASES[] = {
        {"aspp d12", 2, 2, 12, 5, 1, 6, 6, 3, 3, 1, 1, 12, 12,
         12, 12, 12, 12, 1, 1, 1},
        {"aspp d24", 2, 1, 16, 7, 1, 6, 6, 3, 3, 1, 1, 24, 24,
         24, 24, 24, 24, 0, 1, 1},
        {"aspp d36 grouped", 2, 3, 8, 6, 2, 6, 6, 3, 3, 1, 1, 36, 36,
         36, 36, 36, 36, 0, 1, 1},
        {"513 input, d36 on 33x33", 2, 1, 4, 3, 1, 33, 33, 3, 3, 1, 1, 36,
         36, 36, 36, 36, 36, 1, 1, 1},
        {"d24 on 33x33: nothing dead", 2, 1, 4, 3, 1, 33, 33, 3, 3, 1, 1,
         24, 24, 24, 24, 24, 24, 0, 3, 3},
        {"rows only, strided", 2, 2, 5, 4, 1, 5, 7, 3, 3, 2, 2, 6, 1,
         6, 1, 6, 1, 1, 1, 3},
        {"asymmetric, one end", 2, 1, 6, 4, 1, 6, 6, 3, 3, 1, 1, 4, 4,
         8, 0, 0, 8, 0, 2, 2},
        {"5x5 d7 on 8x8", 2, 2, 3, 5, 1, 8, 8, 5, 5, 1, 1, 7, 7,
         14, 14, 14, 14, 1, 3, 3},
        {"1-d", 1, 2, 6, 3, 3, 1, 10, 1, 3, 1, 1, 1, 6,
         0, 12, 0, 0, 1, 1, 2},
        {"same-size 3x3 pad 1", 2, 2, 4, 4, 1, 5, 5, 3, 3, 1, 1, 1, 1,
         1, 1, 1, 1, 0, 3, 3},
};

static const tap_case_t T_CASES[] = {
        /* 1x1 layers: transposed only, t_imgs = 256 / plane images a
         * GEMM (6 x 6: 7, 7 x 7: 5, 5 x 5: 10, 4 x 4: 16), read in place */
        {"1x1 6x6", 2, 1, 128, 64, 1, 6, 6, 1, 1, 1, 1, 1, 1,
         0, 0, 0, 0, 0, 1, 1, 1, 1},
        {"1x1 6x6, 2 images", 2, 2, 160, 64, 1, 6, 6, 1, 1, 1, 1, 1, 1,
         0, 0, 0, 0, 1, 1, 1, 1, 1},
        {"1x1 6x6, 7 images: one whole GEMM", 2, 7, 128, 64, 1, 6, 6, 1, 1,
         1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1},
        {"1x1 7x7, 3 images", 2, 3, 128, 96, 1, 7, 7, 1, 1, 1, 1, 1, 1,
         0, 0, 0, 0, 0, 1, 1, 1, 1},
        {"1x1 7x7, 16 images: 5 + 5 + 5 + 1", 2, 16, 136, 64, 1, 7, 7, 1,
         1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1},
        {"1x1 5x5, 11 images: 10 + 1", 2, 11, 128, 64, 1, 5, 5, 1, 1, 1, 1,
         1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1},
        {"1x1 4x4, 40 filters, 17 images", 2, 17, 144, 40, 1, 4, 4, 1, 1,
         1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1},
        /* expanding: both copies, transposed at the batch sizes that
         * fill better (4: 144 of 144 rows against 144 of 160 columns) */
        {"1x1 6x6 expanding, 4 images", 2, 4, 128, 192, 1, 6, 6, 1, 1, 1,
         1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 0},
        {"1x1 6x6 expanding, 16 images: regular", 2, 16, 128, 160, 1, 6, 6,
         1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0},
        {"1x1 8x8: full tiles either way", 2, 1, 128, 64, 1, 8, 8, 1, 1, 1,
         1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0},
        {"1x1 /2 12x12 -> 6x6: im2col, both copies", 2, 1, 128, 64, 1, 12,
         12, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 0},
        {"3x3 6x6 (Winograd's plane)", 2, 1, 24, 64, 1, 6, 6, 3, 3, 1, 1,
         1, 1, 1, 1, 1, 1, 0, 3, 3, 1},
        {"3x3 6x6, 4 images: Winograd", 2, 4, 24, 64, 1, 6, 6, 3, 3, 1, 1,
         1, 1, 1, 1, 1, 1, 0, 3, 3, 0},
        /* fills 108 of 128 columns against 36 of 40 rows, but 12 tiles
         * run Winograd */
        {"3x3 6x6, 3 images: Winograd's 12 tiles", 2, 3, 24, 64, 1, 6, 6, 3,
         3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 3, 3, 0},
        {"3x3 6x6, 2 images: 8 tiles, transposed", 2, 2, 24, 64, 1, 6, 6, 3,
         3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 1},
        {"3x3 /2 7x7 -> 4x4", 2, 1, 16, 32, 1, 7, 7, 3, 3, 2, 2, 1, 1,
         1, 1, 1, 1, 1, 3, 3, 1},
        {"3x3 /2 13x13 -> 7x7: too little gain", 2, 1, 16, 32, 1, 13, 13,
         3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 3, 3, 0},
        {"5x5 4x4, 31 filters", 2, 1, 8, 31, 1, 4, 4, 5, 5, 1, 1, 1, 1,
         2, 2, 2, 2, 1, 5, 5, 1},
        {"1-d, 20 wide", 1, 2, 48, 32, 1, 1, 20, 1, 3, 1, 1, 1, 1,
         0, 1, 0, 1, 0, 1, 3, 1},
        {"1x1 6x6, 96 taps: not taken", 2, 1, 96, 64, 1, 6, 6, 1, 1, 1, 1,
         1, 1, 0, 0, 0, 0, 0, 1, 1, 0},
        {"3x3 8x8: not small", 2, 1, 32, 64, 1, 8, 8, 3, 3, 1, 1, 1, 1,
         1, 1, 1, 1, 0, 3, 3, 0},
        {"grouped 6x6: not packed", 2, 1, 32, 32, 2, 6, 6, 3, 3, 1, 1, 1,
         1, 1, 1, 1, 1, 0, 3, 3, 0},
};

/* A double reference of the untrimmed convolution, then BN and Relu. */
static void reference(const tap_case_t *c, const float *x, const float *w,
                      const float *bias, const float *bn, int64_t oh,
                      int64_t ow, double *y) {
        int64_t cg = c->c / c->group, mg = c->m / c->group;

        for (int64_t i = 0; i < c->n; i++)
        for (int64_t f = 0; f < c->m; f++)
        for (int64_t oy = 0; oy < oh; oy++)
        for (int64_t ox = 0; ox < ow; ox++) {
                double s = bias[f];
                int64_t g = f / mg;
                for (int64_t ch = 0; ch < cg; ch++)
                for (int64_t r = 0; r < c->kh; r++)
                for (int64_t q = 0; q < c->kw; q++) {
                        int64_t iy = oy * c->sh - c->pt + r * c->dh;
                        int64_t ix = ox * c->sw - c->pl + q * c->dw;
                        if (iy < 0 || iy >= c->h || ix < 0 || ix >= c->w)
                                continue;
                        s += (double)w[((f * cg + ch) * c->kh + r) * c->kw +
                                       q] *
                             x[((i * c->c + g * cg + ch) * c->h + iy) *
                               c->w + ix];
                }
                if (c->bn_relu) {
                        /* scale, B, mean, var, eps 1e-5 */
                        s = (s - bn[2 * c->m + f]) /
                            sqrt((double)bn[3 * c->m + f] + 1e-5) *
                            bn[f] + bn[c->m + f];
                        s = s > 0 ? s : 0;
                }
                y[((i * c->m + f) * oh + oy) * ow + ox] = s;
        }
}

/* The largest |got - ref| over n values, and in *big the largest |ref|. */
static double worst_off(const float *got, const double *ref, int64_t n,
                        double *big) {
        double worst = 0;

        *big = 0;
        for (int64_t i = 0; i < n; i++) {
                double d = fabs(got[i] - ref[i]);
                if (!(d <= worst))
                        worst = d;
                if (fabs(ref[i]) > *big)
                        *big = fabs(ref[i]);
        }
        return worst;
}

static void run_case(swarm_backend_t *be, const tap_case_t *c, int lanes) {
        int64_t oh = (c->h + c->pt + c->pb - ((c->kh - 1) * c->dh + 1)) /
                     c->sh + 1;
        int64_t ow = (c->w + c->pl + c->pr - ((c->kw - 1) * c->dw + 1)) /
                     c->sw + 1;
        int64_t xd[4] = {c->n, c->c, c->h, c->w};
        int64_t wd[4] = {c->m, c->c / c->group, c->kh, c->kw};
        int64_t yd[4] = {c->n, c->m, oh, ow};
        int64_t bd[1] = {c->m};
        int64_t xe = c->n * c->c * c->h * c->w, we = wd[0] * wd[1] * c->kh *
                     c->kw, ye = c->n * c->m * oh * ow;
        float *x = malloc((size_t)xe * sizeof(float));
        float *w = malloc((size_t)we * sizeof(float));
        float bias[192], bn[4 * 192];
        double *ref = malloc((size_t)ye * sizeof(double));
        const void *in[1], *out[1] = {NULL};
        swarm_model_t *m = NULL;
        swarm_err_t err;
        Onnx__NodeProto *nd;
        const xnode_t *conv = NULL;
        uint8_t *buf;
        size_t len;
        bld_t b;
        double worst = 0, big = 0;

        REQUIRE(x && w && ref && c->m <= 192);
        test_fill(x, xe, 11);
        test_fill(w, we, 12);
        test_fill(bias, c->m, 13);
        test_fill(bn, 4 * c->m, 14);
        for (int64_t f = 0; f < c->m; f++)
                bn[3 * c->m + f] = 0.5f + fabsf(bn[3 * c->m + f]);
        if (c->sd == 1) {       /* [n, c, w] */
                xd[2] = c->w;
                wd[2] = c->kw;
                yd[2] = ow;
        }
        bld_xy(&b, c->sd + 2, xd, c->sd + 2, yd);
        init(&b, "w", c->sd + 2, wd, w, 1);
        init(&b, "b", 1, bd, bias, 0);
        nd = node(&b, "conv", "Conv", "x,w,b", c->bn_relu ? "t" : "y");
        attr_i(&b, nd, "group", c->group);
        if (c->sd == 2) {
                attr_is(&b, nd, "dilations", 2, (int64_t[]){c->dh, c->dw});
                attr_is(&b, nd, "strides", 2, (int64_t[]){c->sh, c->sw});
                attr_is(&b, nd, "pads", 4,
                        (int64_t[]){c->pt, c->pl, c->pb, c->pr});
        } else {
                attr_is(&b, nd, "dilations", 1, &c->dw);
                attr_is(&b, nd, "strides", 1, &c->sw);
                attr_is(&b, nd, "pads", 2, (int64_t[]){c->pl, c->pr});
        }
        if (c->bn_relu) {
                init(&b, "s", 1, bd, bn, 1);
                init(&b, "o", 1, bd, bn + c->m, 1);
                init(&b, "mu", 1, bd, bn + 2 * c->m, 1);
                init(&b, "var", 1, bd, bn + 3 * c->m, 1);
                node(&b, "bn", "BatchNormalization", "t,s,o,mu,var", "u");
                node(&b, "relu", "Relu", "u", "y");
        }
        buf = pack(&b, &len);
        reference(c, x, w, bias, bn, oh, ow, ref);

        swarm_err_clear(&err);
        if (swarm_model_load_mem(buf, len, be, &m, &err)) {
                CHECK(0, "%s: load: %s", c->what, err.msg);
                goto out;
        }
        for (int i = 0; i < m->n_nodes; i++)
                if (!m->nodes[i].dead && m->nodes[i].op == OP_CONV)
                        conv = &m->nodes[i];
        REQUIRE(conv);
        CHECK(conv->win.kh == (c->sd == 2 ? c->want_kh : 1) &&
              conv->win.kw == c->want_kw && conv->win.oh ==
              (c->sd == 2 ? oh : 1) && conv->win.ow == ow,
              "%s: window %lldx%lld -> %lldx%lld", c->what,
              (long long)conv->win.kh, (long long)conv->win.kw,
              (long long)conv->win.oh, (long long)conv->win.ow);
        CHECK((conv->packed_t && exec_conv_t_wins(be, conv, c->n, c->m)) ==
              c->want_t, "%s: transposed copy %p, taken %d", c->what,
              conv->packed_t, exec_conv_t_wins(be, conv, c->n, c->m));
        CHECK(conv->t_only == c->want_only &&
              (!c->want_only || !conv->packed),
              "%s: transposed only %d, packed %p", c->what, conv->t_only,
              conv->packed);
        in[0] = x;
        if (swarm_model_run(m, swarm_model_fixed_rows(m), in, out, &err)) {
                CHECK(0, "%s: run: %s", c->what, err.msg);
                goto out;
        }
        worst = worst_off(out[0], ref, ye, &big);
        CHECK(big > 0.1 && worst <= 1e-5 * (1 + big),
              "%s (%d lanes): worst %g, max %g", c->what, lanes, worst, big);
out:
        swarm_model_destroy(m);
        free(buf);
        bld_free(&b);
        free(x);
        free(w);
        free(ref);
}

/* Relu -> squeeze-excitation (GlobalAveragePool, Sigmoid, Mul) -> a 1x1
 * Conv that runs transposed only: fuse_se.c folds the Mul into it and the
 * GEMM scales each image's channels as it packs them (a_scale), across
 * the GEMMs' image boundaries (imgs of a plane of hw x hw). */
static void run_se_case(swarm_backend_t *be, int64_t imgs, int64_t c,
                        int64_t cout, int64_t hw) {
        /* a batch dim N: fuse_se.c takes batched tensors only */
        int64_t plane = hw * hw, xd[4] = {-1, c, hw, hw};
        int64_t yd[4] = {-1, cout, hw, hw}, wd[4] = {cout, c, 1, 1};
        int64_t bd[1] = {cout}, xe = imgs * c * plane;
        float *x = malloc((size_t)xe * sizeof(float));
        float *w = malloc((size_t)(cout * c) * sizeof(float));
        float *bias = malloc((size_t)cout * sizeof(float));
        double *sc = malloc((size_t)(imgs * c) * sizeof(double));
        double *ref = malloc((size_t)(imgs * cout * plane) * sizeof(double));
        const void *in[1], *out[1] = {NULL};
        swarm_model_t *m = NULL;
        const xnode_t *conv = NULL;
        swarm_err_t err;
        uint8_t *buf;
        size_t len;
        bld_t b;
        double worst = 0, big = 0;
        int muls = 0;

        REQUIRE(x && w && bias && sc && ref);
        test_fill(x, xe, 21);
        test_fill(w, cout * c, 22);
        test_fill(bias, cout, 23);
        bld_xy(&b, 4, xd, 4, yd);
        init(&b, "w", 4, wd, w, 1);
        init(&b, "b", 1, bd, bias, 1);
        node(&b, "relu", "Relu", "x", "r");
        node(&b, "gap", "GlobalAveragePool", "r", "p");
        node(&b, "sig", "Sigmoid", "p", "s");
        node(&b, "mul", "Mul", "r,s", "t");
        node(&b, "conv", "Conv", "t,w,b", "y");
        buf = pack(&b, &len);
        for (int64_t i = 0; i < imgs; i++)
                for (int64_t ch = 0; ch < c; ch++) {
                        double sum = 0;
                        for (int64_t q = 0; q < plane; q++)
                                sum += fmax(0, x[(i * c + ch) * plane + q]);
                        sc[i * c + ch] = 1 / (1 + exp(-sum / plane));
                }
        swarm_err_clear(&err);
        if (swarm_model_load_mem(buf, len, be, &m, &err)) {
                CHECK(0, "se: load: %s", err.msg);
                goto out;
        }
        for (int i = 0; i < m->n_nodes; i++) {
                if (!m->nodes[i].dead && m->nodes[i].op == OP_CONV)
                        conv = &m->nodes[i];
                if (!m->nodes[i].dead && m->nodes[i].op == OP_BINARY)
                        muls++;
        }
        REQUIRE(conv);
        /* (only where the backend has the pointwise kernel's scaled
         * entry: fuse_se.c runs there) */
        CHECK(conv->t_only && (conv->scale_in > 0) ==
              (be->conv_packed_scaled != NULL) && muls == !conv->scale_in,
              "se %lld x %lld: transposed only %d, scale in %d, %d Muls",
              (long long)imgs, (long long)plane, conv->t_only,
              conv->scale_in, muls);
        in[0] = x;
        if (swarm_model_run(m, imgs, in, out, &err)) {
                CHECK(0, "se: run: %s", err.msg);
                goto out;
        }
        for (int64_t i = 0; i < imgs; i++)
                for (int64_t f = 0; f < cout; f++)
                        for (int64_t q = 0; q < plane; q++) {
                                double r = bias[f];
                                for (int64_t ch = 0; ch < c; ch++)
                                        r += (double)w[f * c + ch] *
                                             fmax(0, x[(i * c + ch) * plane +
                                                       q]) * sc[i * c + ch];
                                ref[(i * cout + f) * plane + q] = r;
                        }
        worst = worst_off(out[0], ref, imgs * cout * plane, &big);
        CHECK(big > 0.1 && worst <= 1e-5 * (1 + big),
              "se %lld x %lld: worst %g, max %g", (long long)imgs,
              (long long)plane, worst, big);
out:
        swarm_model_destroy(m);
        free(buf);
        bld_free(&b);
        free(x);
        free(w);
        free(bias);
        free(sc);
        free(ref);
}

/* exec_conv_t_wins on a node holding a transposed copy (t_imgs images a
 * GEMM) of a 1x1 window over an o x o plane: pointwise, or (strided, with
 * the same output plane) left to im2col, which is rated one image a GEMM. */
static int t_wins_on(int tr, int tc, int pw, int64_t o, int64_t ch,
                     int64_t t_imgs, int64_t imgs, int64_t cout) {
        swarm_backend_t be;
        xnode_t n;

        memset(&be, 0, sizeof(be));
        be.gemm_tile_rows = tr;
        be.gemm_tile_cols = tc;

        memset(&n, 0, sizeof(n));
        n.win = (swarm_window_t){.n = ch, .kh = 1, .kw = 1, .oh = o, .ow = o,
                                 .h = pw ? o : 2 * o, .w = pw ? o : 2 * o,
                                 .sh = pw ? 1 : 2, .sw = pw ? 1 : 2,
                                 .dh = 1, .dw = 1};
        n.packed_t = &n;
        n.t_imgs = t_imgs;
        return exec_conv_t_wins(&be, &n, imgs, cout);
}

/* on AVX-512's tile, 8 rows by 32 columns */
static int t_wins(int pw, int64_t o, int64_t ch, int64_t t_imgs,
                  int64_t imgs, int64_t cout) {
        return t_wins_on(8, 32, pw, o, ch, t_imgs, imgs, cout);
}

/* Where the rule flips (AVX-512 tiles of 8 rows by 32 columns). */
static void test_rule(void) {
        swarm_backend_t be;
        xnode_t none, only;

        /* im2col windows, one image a GEMM: 6 x 6 fills 36 of 40 rows
         * against 36 of 64, 72 of 96, 144 of 160 columns */
        CHECK(t_wins(0, 6, 960, 1, 1, 256) && t_wins(0, 6, 960, 1, 2, 256));
        CHECK(!t_wins(0, 6, 960, 1, 4, 256) &&
              !t_wins(0, 6, 960, 1, 16, 256));
        /* 40 filters fill 40 of 64 columns: 0.56 against 0.56 at 1 */
        CHECK(!t_wins(0, 6, 960, 1, 1, 40));
        CHECK(t_wins(0, 7, 512, 1, 1, 512) && t_wins(0, 7, 512, 1, 2, 512));
        CHECK(!t_wins(0, 7, 512, 1, 4, 512));
        /* full tiles, or planes too large */
        CHECK(!t_wins(0, 8, 256, 1, 1, 256));
        CHECK(!t_wins(1, 8, 256, 8, 1, 256));
        CHECK(!t_wins(1, 14, 256, 1, 1, 256));
        CHECK(!t_wins(0, 6, 960, 1, 0, 256) && !t_wins(0, 6, 960, 1, 1, 0));
        /* a 1 x 1 plane and short products stay on the pointwise kernel;
         * a 2 x 2 plane does not */
        CHECK(!t_wins(1, 1, 960, 256, 1, 240));
        CHECK(!t_wins(1, 6, 96, 7, 1, 576));
        CHECK(t_wins(1, 2, 576, 64, 1, 96));
        /* pointwise, t_imgs images a GEMM: 16 images of 7 x 7 in GEMMs of
         * 5 (245 of 248 rows) against 784 of 800 columns; of 1 image, 49
         * of 52 rows (the last sliver costs 4) */
        CHECK(t_wins(1, 7, 512, 5, 16, 256));
        CHECK(!t_wins(1, 7, 512, 1, 16, 256));
        CHECK(t_wins(1, 7, 512, 1, 1, 256));
        /* 5 x 5: 25 of 28 rows against 25 of 32 columns at batch 1 */
        CHECK(t_wins(1, 5, 512, 10, 1, 256));
        /* AVX2's 6 x 16: 7 x 7 fills 49 of 51 rows (a 1-row sliver costs
         * 3) against 49 of 64 columns; 4 x 4 into 40 filters 16 of 18 rows
         * and 40 of 48 columns against 16 of 16; no tile, no rule */
        CHECK(t_wins_on(6, 16, 1, 7, 512, 5, 1, 256));
        CHECK(!t_wins_on(6, 16, 1, 4, 512, 16, 1, 40));
        CHECK(t_wins_on(8, 32, 1, 4, 512, 16, 1, 40));
        CHECK(!t_wins_on(0, 0, 1, 6, 960, 7, 1, 256));
        /* a node without the copy never runs transposed; one with only
         * that copy always does */
        memset(&none, 0, sizeof(none));
        none.win = (swarm_window_t){.n = 960, .kh = 1, .kw = 1, .oh = 6,
                                    .ow = 6, .h = 6, .w = 6, .sh = 1,
                                    .sw = 1, .dh = 1, .dw = 1};
        none.t_imgs = 7;
        memset(&be, 0, sizeof(be));
        be.gemm_tile_rows = 8;
        be.gemm_tile_cols = 32;
        CHECK(!exec_conv_t_wins(&be, &none, 1, 256));
        only = none;
        only.win.oh = only.win.ow = only.win.h = only.win.w = 8;
        only.packed_t = &only;
        only.t_imgs = 4;
        only.t_only = 1;
        CHECK(exec_conv_t_wins(&be, &only, 1, 256) &&
              exec_conv_t_wins(&be, &only, 64, 256));
}

int main(void) {
        swarm_backend_t *be[2] = {NULL, NULL};
        swarm_err_t err;

        test_fixed();
        test_brute();
        swarm_err_clear(&err);
        for (int l = 0; l < 2; l++)
                if (swarm_backend_cpu_new(l + 1, &be[l], &err)) {
                        fprintf(stderr, "backend: %s\n", err.msg);
                        return 1;
                }
        /* The cases' plans are those of AVX-512's tile, whatever this CPU
         * runs: its kernels compute the same values either way round. */
        for (int l = 0; l < 2; l++) {
                be[l]->gemm_tile_rows = 8;
                be[l]->gemm_tile_cols = 32;
        }
        for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++)
                for (int l = 0; l < 2; l++)
                        run_case(be[l], &CASES[i], l + 1);
        test_rule();
        for (int l = 0; l < 2; l++) {
                run_se_case(be[l], 1, 136, 64, 7);
                run_se_case(be[l], 7, 136, 64, 7);      /* 5 + 2 */
                run_se_case(be[l], 9, 144, 40, 4);      /* 9 of 16 */
        }
        for (size_t i = 0; i < sizeof(T_CASES) / sizeof(T_CASES[0]); i++)
                for (int l = 0; l < 2; l++)
                        run_case(be[l], &T_CASES[i], l + 1);
        printf("%zu + %zu models on 1 and 2 lanes\n",
               sizeof(CASES) / sizeof(CASES[0]),
               sizeof(T_CASES) / sizeof(T_CASES[0]));
        swarm_backend_destroy(be[0]);
        swarm_backend_destroy(be[1]);
        TEST_DONE();
}
