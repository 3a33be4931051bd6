/*
 * test_cpu_pool.c - the CPU backend's max pooling (lib/exec/cpu_pool.c)
 * against a naive per-cell reference with every bounds check: kernels
 * 1x1 to 7x5, strides 1-3, dilations, asymmetric pads, ceil_mode's
 * windows past the right / bottom edge, widths below, at and past one
 * vector, the fused 2-wide stride-2 loop, kernels thousands of taps wider
 * than the input (all but a few in the padding), tall and wide windows on
 * block maxima (SPP's 13 x 13, fuzz_onnx's 1,000-row window, dilated and
 * cut by the edges), NaN and -inf inputs; for the portable loops and the
 * widest ones this CPU runs, and through the backend's `pool` entry on 1
 * and 2 lanes.  Hostile windows are refused with an error.  Average
 * pooling (both padding counts) against a double reference, with a NaN,
 * a +inf and both infinities in a window: the 2-wide stride-2 kernels
 * (exec_cpu_avgpool2, portable and widest) and the backend's entry on the
 * same shapes, which takes the per-cell loop for the others, and prefix
 * sums (lib/exec/cpu_avgsum.c) for the tall and wide ones.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarm/backend.h"
#include "cpu_avgsum.h"
#include "cpu_pool.h"

#include "check.h"
#include "test_fill.h"


/* Max over the taps inside the input; -inf when none is; NaN wins. */
static float ref_cell(const swarm_window_t *w, const float *xp, int64_t oy,
                      int64_t ox) {
        float m = -INFINITY;
        int nan = 0;

        for (int64_t ky = 0; ky < w->kh; ky++)
                for (int64_t kx = 0; kx < w->kw; kx++) {
                        int64_t iy = oy * w->sh - w->pad_t + ky * w->dh;
                        int64_t ix = ox * w->sw - w->pad_l + kx * w->dw;
                        float v;
                        if (iy < 0 || iy >= w->h || ix < 0 || ix >= w->w)
                                continue;
                        v = xp[iy * w->w + ix];
                        if (isnan(v))
                                nan = 1;
                        else if (v > m)
                                m = v;
                }
        return nan ? NAN : m;
}

typedef struct pshape {
        int64_t h, w, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
        int ceil_mode;
} pshape_t;

static const pshape_t shapes[] = {
        /* ResNet's stem pool, and the common 2x2 / 2 */
        {112, 112, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0},
        {28, 28, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 0},
        {1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0},
        {5, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0},
        {9, 15, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 0},
        {9, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0},
        {9, 17, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1},
        {13, 33, 7, 5, 3, 2, 1, 1, 3, 2, 1, 0, 0},
        {10, 40, 3, 3, 2, 3, 2, 2, 2, 0, 0, 2, 1},
        {6, 50, 2, 4, 2, 4, 1, 1, 0, 3, 0, 3, 1},
        {4, 3, 3, 3, 1, 1, 1, 1, 2, 2, 2, 2, 0},  /* pads past the input */
        {3, 70, 1, 3, 1, 3, 1, 1, 0, 0, 0, 0, 1},
        /* 2-wide stride-2 windows inside the input (the fused loop), and
         * one that ceil_mode pushes past the edge (not fused) */
        {29, 29, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 0},
        {11, 70, 3, 2, 1, 2, 2, 1, 0, 0, 0, 0, 0},
        {9, 17, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 1},
        /* kernels far wider or taller than the input, nearly all padding
         * (fuzz_onnx's timeout: the loops visit only the taps inside) */
        {64, 1, 2, 65536, 12, 2, 1, 1, 0, 0, 1, 65535, 0},
        {1, 3, 1, 4001, 1, 1, 1, 1, 0, 4000, 0, 4000, 0},
        {3, 5, 3, 901, 1, 3, 2, 2, 2, 900, 2, 900, 0},
        {200, 2, 150, 3, 1, 1, 1, 1, 149, 1, 149, 1, 1},
};

/* Windows whose passes take the block maxima (cpu_pool.c vh_blocks): the
 * expected exec_cpu_maxpool_blocks() of the portable loops (bit 1 the
 * vertical pass, bit 2 the horizontal); the vertical choice is the same
 * for every kernel set. */
static const struct {
        pshape_t s;
        int blocks;
} tall[] = {
        /* YOLO's SPP pools, 13 x 13 and 9 x 9 at stride 1 */
        {{20, 20, 13, 13, 1, 1, 1, 1, 6, 6, 6, 6, 0}, 3},
        {{19, 21, 9, 9, 1, 1, 1, 1, 4, 4, 4, 4, 0}, 1},
        /* fuzz_onnx's timeout, smaller: 500 x 8 taps, dilation 2 across */
        {{3000, 14, 500, 8, 2, 2, 1, 2, 0, 2, 1, 2, 0}, 1},
        /* dilated rows, ceil_mode past the bottom edge */
        {{400, 6, 30, 3, 3, 1, 7, 1, 20, 1, 9, 1, 1}, 1},
        /* wide rows, dilated and strided wide rows */
        {{3, 2000, 1, 300, 1, 1, 1, 1, 0, 150, 0, 149, 0}, 2},
        {{2, 1500, 2, 100, 1, 3, 1, 4, 0, 200, 1, 200, 1}, 2},
        /* both, windows cut short by the edges */
        {{150, 150, 40, 40, 2, 1, 1, 1, 20, 20, 19, 19, 1}, 3},
        /* 2-wide stride-2 columns (the fused loop's window) 300 rows tall */
        {{400, 30, 300, 2, 1, 2, 1, 1, 0, 0, 0, 0, 0}, 1},
};

static int64_t out_dim(int64_t in, int64_t k, int64_t s, int64_t d,
                       int64_t p0, int64_t p1, int ceil_mode) {
        int64_t span = in + p0 + p1 - (k - 1) * d - 1;
        int64_t o = (ceil_mode ? span + s - 1 : span) / s + 1;
        /* ONNX: the last window must start inside the input or the left
         * pad */
        if (ceil_mode && (o - 1) * s >= in + p0)
                o--;
        return o;
}

static void set_window(swarm_window_t *w, const pshape_t *s, int64_t n) {
        memset(w, 0, sizeof(*w));
        w->n = n;
        w->h = s->h;
        w->w = s->w;
        w->kh = s->kh;
        w->kw = s->kw;
        w->sh = s->sh;
        w->sw = s->sw;
        w->dh = s->dh;
        w->dw = s->dw;
        w->pad_t = s->pt;
        w->pad_l = s->pl;
        w->pad_b = s->pb;
        w->pad_r = s->pr;
        w->oh = out_dim(s->h, s->kh, s->sh, s->dh, s->pt, s->pb,
                        s->ceil_mode);
        w->ow = out_dim(s->w, s->kw, s->sw, s->dw, s->pl, s->pr,
                        s->ceil_mode);
}

static int same(float a, float b) {
        return (isnan(a) && isnan(b)) || a == b;
}

/* The _isa entries' cap for a variant: 0 portable, 1 the widest loops,
 * 5 AVX2 at most (the widest on a CPU without AVX-512). */
static int isa_of(int variant) {
        return variant == 0 ? 0 : variant == 5 ? 1 : 2;
}

/* variant 0: portable loops, 1: widest, 2: backend on 1 lane, 3: on 2,
 * 5: AVX2 at most */
static void pool_case(const pshape_t *s, int variant,
                      swarm_backend_t *const *bes, unsigned seed) {
        swarm_window_t w;
        int64_t n = 5, xin, yout, bad = 0;
        float *x, *y, *ref;
        swarm_err_t err = {0};
        int rc;

        set_window(&w, s, n);
        xin = n * w.h * w.w;
        yout = n * w.oh * w.ow;
        x = malloc((size_t)xin * sizeof(float));
        y = malloc((size_t)(yout + 1) * sizeof(float));
        ref = malloc((size_t)(yout + 1) * sizeof(float));
        REQUIRE(x && y && ref);
        test_fill(x, xin, seed);
        /* a NaN in plane 1, a -inf in plane 2, a row of -inf in plane 3 */
        x[1 * w.h * w.w + (w.h / 2) * w.w + w.w / 2] = NAN;
        x[2 * w.h * w.w] = -INFINITY;
        for (int64_t q = 0; q < w.w; q++)
                x[3 * w.h * w.w + q] = -INFINITY;
        for (int64_t p = 0; p < n; p++)
                for (int64_t oy = 0; oy < w.oh; oy++)
                        for (int64_t ox = 0; ox < w.ow; ox++)
                                ref[(p * w.oh + oy) * w.ow + ox] = ref_cell(
                                        &w, x + p * w.h * w.w, oy, ox);
        for (int64_t i = 0; i <= yout; i++)
                y[i] = 12345.0f;
        if (variant < 2 || variant == 5)
                rc = exec_cpu_maxpool_isa(&w, x, y, isa_of(variant), &err);
        else
                rc = bes[variant - 2]->pool(bes[variant - 2], SWARM_POOL_MAX,
                                            &w, x, y, &err);
        CHECK_OK(rc, err);
        for (int64_t i = 0; i < yout; i++)
                if (!same(y[i], ref[i]) && bad++ < 3)
                        CHECK(0, "%lldx%lld k%lldx%lld s%lld,%lld variant "
                              "%d: y[%lld] = %g, want %g", (long long)s->h,
                              (long long)s->w, (long long)s->kh,
                              (long long)s->kw, (long long)s->sh,
                              (long long)s->sw, variant, (long long)i,
                              (double)y[i], (double)ref[i]);
        CHECK(y[yout] == 12345.0f, "wrote past the output");
        free(x);
        free(y);
        free(ref);
}

/* Mean over the taps inside the input, in double; include_pad counts the
 * taps inside the declared pads too (not ceil_mode's extra ones). */
static double ref_avg(const swarm_window_t *w, const float *xp, int64_t oy,
                      int64_t ox, int include_pad) {
        double sum = 0.0;
        int64_t cnt = 0, padded = 0;

        for (int64_t ky = 0; ky < w->kh; ky++)
                for (int64_t kx = 0; kx < w->kw; kx++) {
                        int64_t iy = oy * w->sh - w->pad_t + ky * w->dh;
                        int64_t ix = ox * w->sw - w->pad_l + kx * w->dw;
                        if (iy < w->h + w->pad_b && ix < w->w + w->pad_r)
                                padded++;
                        if (iy < 0 || iy >= w->h || ix < 0 || ix >= w->w)
                                continue;
                        sum += xp[iy * w->w + ix];
                        cnt++;
                }
        if (include_pad)
                return padded ? sum / (double)padded : 0.0;
        return cnt ? sum / (double)cnt : 0.0;
}

/* variant 0: avgpool2 portable, 1: widest, 2: backend AVG on 1 lane,
 * 3: on 2 lanes, 4: backend AVG_PAD on 2 lanes, 5: avgpool2 AVX2 at most.
 * n planes. */
static void avg_case(const pshape_t *s, int variant, int64_t n,
                     swarm_backend_t *const *bes, unsigned seed) {
        swarm_window_t w;
        int64_t xin, yout, bad = 0;
        int inc = variant == 4;
        float *x, *y;
        double *ref;
        swarm_err_t err = {0};
        int rc;

        set_window(&w, s, n);
        if ((variant < 2 || variant == 5) && !exec_cpu_avgpool2_ok(&w)) {
                float d[4] = {0};
                CHECK_ERR(exec_cpu_avgpool2_isa(&w, d, d, isa_of(variant), &err),
                          err, SWARM_ERR_INVALID, "avgpool");
                return;
        }
        xin = n * w.h * w.w;
        yout = n * w.oh * w.ow;
        x = malloc((size_t)xin * sizeof(float));
        y = malloc((size_t)(yout + 1) * sizeof(float));
        ref = malloc((size_t)(yout + 1) * sizeof(double));
        REQUIRE(x && y && ref);
        test_fill(x, xin, seed);
        x[(n / 2) * w.h * w.w + w.w / 2] = NAN;   /* one NaN plane */
        /* one with +inf, one with both infinities side by side */
        if (n > 3)
                x[(n / 2 + 1) * w.h * w.w + (w.h / 3) * w.w] = INFINITY;
        if (n > 4) {
                float *p4 = x + (n / 2 + 2) * w.h * w.w +
                            ((w.h - 1) / 2) * w.w;
                p4[0] = INFINITY;
                p4[w.w > 1 ? 1 : 0] = -INFINITY;
                if (w.h > 1)
                        p4[w.w] = -INFINITY;
        }
        for (int64_t p = 0; p < n; p++)
                for (int64_t oy = 0; oy < w.oh; oy++)
                        for (int64_t ox = 0; ox < w.ow; ox++)
                                ref[(p * w.oh + oy) * w.ow + ox] = ref_avg(
                                        &w, x + p * w.h * w.w, oy, ox, inc);
        for (int64_t i = 0; i <= yout; i++)
                y[i] = 12345.0f;
        if (variant < 2 || variant == 5)
                rc = exec_cpu_avgpool2_isa(&w, x, y, isa_of(variant), &err);
        else
                rc = bes[variant == 2 ? 0 : 1]->pool(
                        bes[variant == 2 ? 0 : 1],
                        inc ? SWARM_POOL_AVG_PAD : SWARM_POOL_AVG, &w, x, y,
                        &err);
        CHECK_OK(rc, err);
        for (int64_t i = 0; i < yout; i++) {
                double e = fabs((double)y[i] - ref[i]);
                int ok = isnan(ref[i])   ? isnan(y[i])
                         : isinf(ref[i]) ? (double)y[i] == ref[i]
                                         : e <= 1e-6;
                if (!ok && bad++ < 3)
                        CHECK(0, "avg %lldx%lld k%lldx%lld s%lld,%lld n%lld "
                              "variant %d: y[%lld] = %g, want %g",
                              (long long)s->h, (long long)s->w,
                              (long long)s->kh, (long long)s->kw,
                              (long long)s->sh, (long long)s->sw,
                              (long long)n, variant, (long long)i,
                              (double)y[i], ref[i]);
        }
        CHECK(y[yout] == 12345.0f, "wrote past the output");
        free(x);
        free(y);
        free(ref);
}

int main(void) {
        swarm_backend_t *bes[2] = {NULL, NULL};
        swarm_err_t err = {0};
        swarm_window_t w;
        float x[4] = {0}, y[4] = {0};

        REQUIRE_OK(swarm_backend_cpu_new(1, &bes[0], &err), err);
        REQUIRE_OK(swarm_backend_cpu_new(2, &bes[1], &err), err);
        for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
                for (int v = 0; v < 6; v++)
                        if (v != 4)
                                pool_case(&shapes[i], v, bes, (unsigned)(i + 1));
        for (size_t i = 0; i < sizeof(tall) / sizeof(tall[0]); i++) {
                set_window(&w, &tall[i].s, 1);
                CHECK(exec_cpu_maxpool_blocks(&w, 0) == tall[i].blocks,
                      "tall[%zu]: passes %d on block maxima, want %d", i,
                      exec_cpu_maxpool_blocks(&w, 0), tall[i].blocks);
                CHECK((exec_cpu_maxpool_blocks(&w, 2) & 1) == (tall[i].blocks & 1),
                      "tall[%zu]: the widest loops' vertical choice", i);
                for (int v = 0; v < 6; v++)
                        if (v != 4)
                                pool_case(&tall[i].s, v, bes, (unsigned)(i + 40));
        }
        for (size_t i = 0; i < sizeof(tall) / sizeof(tall[0]); i++) {
                set_window(&w, &tall[i].s, 1);
                CHECK(exec_cpu_avgsum_ok(&w), "tall[%zu]: average pooling "
                      "not on prefix sums", i);
                for (int v = 2; v < 5; v++)
                        avg_case(&tall[i].s, v, 5, bes, (unsigned)(i + 60));
        }
        /* the CNN pools keep the direct loops */
        for (size_t i = 0; i < 2; i++) {
                set_window(&w, &shapes[i], 1);
                CHECK(exec_cpu_maxpool_blocks(&w, 0) == 0 &&
                      exec_cpu_maxpool_blocks(&w, 2) == 0,
                      "shapes[%zu] on block maxima", i);
                CHECK(!exec_cpu_avgsum_ok(&w), "shapes[%zu] on prefix sums", i);
        }
        for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
                for (int v = 0; v < 6; v++)
                        avg_case(&shapes[i], v, 5, bes, (unsigned)(i + 7));
        /* the fashion CNN's 14 x 14 -> 7 x 7, enough planes to split */
        {
                pshape_t f = {14, 14, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 0};
                for (int v = 0; v < 6; v++)
                        avg_case(&f, v, 1400, bes, 99);
        }

        /* hostile windows: an error, no crash */
        set_window(&w, &shapes[2], 1);
        w.sw = 0;
        CHECK_ERR(bes[0]->pool(bes[0], SWARM_POOL_MAX, &w, x, y, &err), err,
                  SWARM_ERR_INVALID, "maxpool");
        set_window(&w, &shapes[2], 1);
        w.ow = INT64_MAX / 2;
        w.sw = 4;
        CHECK_ERR(bes[0]->pool(bes[0], SWARM_POOL_MAX, &w, x, y, &err), err,
                  SWARM_ERR_INVALID, "maxpool");
        set_window(&w, &shapes[2], 1);
        w.pad_l = INT64_MAX;
        CHECK_ERR(exec_cpu_maxpool_isa(&w, x, y, 0, &err), err,
                  SWARM_ERR_INVALID, "maxpool");
        swarm_backend_destroy(bes[0]);
        swarm_backend_destroy(bes[1]);
        TEST_DONE();
}
