/*
 * test_resize_convt.c - the CPU backend's ConvTranspose and Resize kernels
 * (conv_transpose, resample) against the host kernels they replace, which
 * pass the ONNX conformance cases (exec_test_onnx_node).  Each case is a
 * one-node model built here, loaded on a reference backend whose two
 * entries are NULL (the host kernels run) and on the CPU backend with one
 * and with two lanes; outputs must agree to float rounding, and the fast
 * plans must run no host step.  Cases cover every attribute: strides,
 * dilations, pads (asymmetric), output_padding, output_shape, auto_pad,
 * group, 1-D to 3-D; nearest (every nearest_mode), linear and cubic in
 * every coordinate_transformation_mode, scales and sizes, up and down,
 * resizes of the last two dims and of others (the generic path),
 * tf_crop_and_resize with extrapolation, Upsample.  Then hostile
 * attributes must be refused at load with SWARM_ERR_INVALID, and bad
 * geometry or tables given to the kernels directly with SWARM_ERR_INVALID.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarm/backend.h"
#include "swarm/model.h"

#include "check.h"
#include "test_fill.h"
#include "onnx_build.h"


static int64_t prod(const int64_t *d, int n) {
        int64_t p = 1;
        for (int i = 0; i < n; i++)
                p *= d[i];
        return p;
}

static swarm_backend_t *be_ref, *be_fast[2];
static int cases;

/* Load buf on `be`, run the one input x, copy the output into a malloc'ed
 * buffer (*n elements); NULL (and a failed check) on any error. */
static float *run_on(swarm_backend_t *be, const uint8_t *buf, size_t len,
                     const float *x, int want_host, int64_t *n,
                     const char *what) {
        swarm_model_t *m = NULL;
        swarm_err_t err;
        const void *in[1] = {x};
        const void *out[1] = {NULL};
        const swarm_model_io_t *io;
        float *r = NULL;

        swarm_err_clear(&err);
        if (swarm_model_load_mem(buf, len, be, &m, &err)) {
                CHECK(0, "%s: load: %s", what, err.msg);
                return NULL;
        }
        CHECK(swarm_model_n_host_steps(m) == want_host, "%s: %d host steps",
              what, swarm_model_n_host_steps(m));
        io = swarm_model_output(m, 0);
        *n = prod(io->shape, io->ndim);
        if (swarm_model_run(m, swarm_model_fixed_rows(m), in, out, &err)) {
                CHECK(0, "%s: run: %s", what, err.msg);
        } else {
                r = malloc((size_t)(*n ? *n : 1) * sizeof(float));
                if (r && *n)
                        memcpy(r, out[0], (size_t)*n * sizeof(float));
        }
        swarm_model_destroy(m);
        return r;
}

/* The model in b, input x of xn elements: host kernel vs both fast
 * backends. */
static void compare(bld_t *b, const float *x, const char *what) {
        size_t len;
        uint8_t *buf = pack(b, &len);
        int64_t nr = 0, nf = 0;
        float *ref = run_on(be_ref, buf, len, x, 1, &nr, what);

        cases++;
        for (int l = 0; l < 2 && ref; l++) {
                float *got = run_on(be_fast[l], buf, len, x, 0, &nf, what);
                double worst = 0;
                int64_t at = -1;
                if (!got)
                        continue;
                CHECK(nf == nr, "%s: %lld vs %lld elements", what,
                      (long long)nf, (long long)nr);
                for (int64_t i = 0; i < nr && nf == nr; i++) {
                        double d = fabs((double)got[i] - ref[i]) /
                                   (1.0 + fabs((double)ref[i]));
                        if (!(d <= worst)) {
                                worst = d;
                                at = i;
                        }
                }
                CHECK(worst <= 2e-5, "%s (%d lanes): element %lld: %g vs %g",
                      what, l + 1, (long long)at,
                      at >= 0 ? (double)got[at] : 0.0,
                      at >= 0 ? (double)ref[at] : 0.0);
                free(got);
        }
        free(ref);
        free(buf);
}

/* ---- ConvTranspose ---- */

typedef struct ct_case {
        int sd;
        int64_t n, c, m, group;
        int64_t in[3], k[3];
        int64_t st[3], dl[3], pads[6], opad[3], oshape[3];
        const char *auto_pad;
        int bias;
} ct_case_t;

/* Output length of one dim (the ONNX formula; SAME: in * stride). */
static int64_t ct_out(const ct_case_t *c, int d) {
        int64_t full = c->st[d] * (c->in[d] - 1) + c->opad[d] +
                       (c->k[d] - 1) * c->dl[d] + 1;
        if (c->oshape[0])
                return c->oshape[d];
        if (c->auto_pad && strncmp(c->auto_pad, "SAME", 4) == 0)
                return c->in[d] * c->st[d];
        return full - c->pads[d] - c->pads[c->sd + d];
}

static void ct_model(bld_t *b, const ct_case_t *c, float *w, float *bias) {
        int64_t xd[5] = {c->n, c->c}, wd[5] = {c->c, c->m / c->group};
        int64_t yd[5] = {c->n, c->m}, bd[1] = {c->m};
        Onnx__NodeProto *nd;

        for (int d = 0; d < c->sd; d++) {
                xd[2 + d] = c->in[d];
                wd[2 + d] = c->k[d];
                yd[2 + d] = ct_out(c, d);
        }
        bld_init(b, 18);
        test_fill(w, prod(wd, c->sd + 2), 7);
        init(b, "W", c->sd + 2, wd, w, 1);
        if (c->bias) {
                test_fill(bias, c->m, 11);
                init(b, "B", 1, bd, bias, 1);
        }
        vi(b, 0, "x", 1, c->sd + 2, xd);
        vi(b, 1, "y", 1, c->sd + 2, yd);
        nd = node(b, "ct", "ConvTranspose", c->bias ? "x,W,B" : "x,W", "y");
        attr_is(b, nd, "strides", c->sd, c->st);
        attr_is(b, nd, "dilations", c->sd, c->dl);
        if (c->group != 1)
                attr_i(b, nd, "group", c->group);
        if (c->auto_pad)
                attr_s(b, nd, "auto_pad", c->auto_pad);
        else if (!c->oshape[0])
                attr_is(b, nd, "pads", 2 * c->sd, c->pads);
        if (c->opad[0] || c->opad[1] || c->opad[2])
                attr_is(b, nd, "output_padding", c->sd, c->opad);
        if (c->oshape[0])
                attr_is(b, nd, "output_shape", c->sd, c->oshape);
}

static void ct_run(const ct_case_t *c, const char *what) {
        bld_t b;
        int64_t xn = c->n * c->c * prod(c->in, c->sd);
        int64_t wn = c->c * (c->m / c->group) * prod(c->k, c->sd);
        float *x = malloc((size_t)xn * sizeof(float));
        float *w = malloc((size_t)wn * sizeof(float));
        float *bias = malloc((size_t)c->m * sizeof(float));

        test_fill(x, xn, 3);
        ct_model(&b, c, w, bias);
        compare(&b, x, what);
        bld_free(&b);
        free(x);
        free(w);
        free(bias);
}

static void test_convt(void) {
        static const ct_case_t cs[] = {
                /* the segmentation net's upsampling, batch 2 and 1 */
                {2, 2, 8, 8, 1, {6, 8}, {4, 4}, {2, 2}, {1, 1}, {1, 1, 1, 1},
                 {0}, {0}, NULL, 1},
                {2, 1, 32, 32, 1, {12, 16}, {4, 4}, {2, 2}, {1, 1},
                 {1, 1, 1, 1}, {0}, {0}, NULL, 1},
                {2, 3, 32, 32, 1, {12, 16}, {4, 4}, {2, 2}, {1, 1},
                 {1, 1, 1, 1}, {0}, {0}, NULL, 1},
                /* k3 s2 p1 + output_padding 1; k2 s2; 1x1 */
                {2, 3, 5, 4, 1, {7, 5}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1},
                 {1, 1}, {0}, NULL, 1},
                {2, 2, 4, 6, 1, {5, 9}, {2, 2}, {2, 2}, {1, 1}, {0}, {0},
                 {0}, NULL, 0},
                {2, 2, 5, 3, 1, {4, 4}, {1, 1}, {1, 1}, {1, 1}, {0}, {0},
                 {0}, NULL, 1},
                /* groups, dilations, asymmetric pads, stride 3 */
                {2, 2, 4, 6, 2, {5, 6}, {3, 3}, {1, 1}, {2, 2}, {1, 1, 1, 1},
                 {0}, {0}, NULL, 1},
                {2, 3, 4, 4, 4, {6, 5}, {3, 2}, {2, 3}, {1, 2}, {0, 1, 2, 0},
                 {1, 2}, {0}, NULL, 1},
                {2, 1, 6, 9, 3, {3, 4}, {5, 3}, {3, 2}, {2, 1}, {2, 0, 1, 1},
                 {2, 1}, {0}, NULL, 0},
                /* pads wider than the kernel reach */
                {2, 1, 2, 3, 1, {8, 8}, {3, 3}, {2, 2}, {1, 1}, {3, 2, 4, 3},
                 {0}, {0}, NULL, 1},
                /* 1-D and 3-D */
                {1, 3, 3, 2, 1, {7}, {5}, {3}, {1}, {2, 1}, {0}, {0}, NULL, 1},
                {3, 2, 2, 3, 1, {3, 4, 5}, {2, 3, 2}, {2, 1, 2}, {1, 1, 2},
                 {0, 1, 1, 1, 0, 0}, {1, 0, 0}, {0}, NULL, 1},
                /* auto_pad and output_shape (one larger than the full
                 * output: zeros at the end) */
                {2, 2, 3, 4, 1, {5, 6}, {3, 3}, {2, 2}, {1, 1}, {0}, {0},
                 {0}, "SAME_UPPER", 1},
                {2, 2, 3, 4, 1, {5, 6}, {4, 3}, {2, 2}, {1, 1}, {0}, {0},
                 {0}, "SAME_LOWER", 0},
                {2, 1, 3, 2, 1, {4, 5}, {3, 3}, {2, 2}, {1, 1}, {0}, {0},
                 {10, 13}, NULL, 1},
                {2, 1, 3, 2, 1, {4, 5}, {3, 3}, {2, 2}, {1, 1}, {0}, {0},
                 {6, 7}, NULL, 1},
                /* many output channels on few pixels (channel blocks) */
                {2, 1, 32, 40, 1, {6, 6}, {4, 4}, {2, 2}, {1, 1},
                 {1, 1, 1, 1}, {0}, {0}, NULL, 1},
                /* wide rows: the columns come in several chunks */
                {2, 1, 2, 64, 1, {2, 600}, {4, 4}, {2, 2}, {1, 1},
                 {1, 1, 1, 1}, {0}, {0}, NULL, 1},
        };
        char what[64];

        for (size_t i = 0; i < sizeof(cs) / sizeof(cs[0]); i++) {
                snprintf(what, sizeof(what), "convtranspose case %zu", i);
                ct_run(&cs[i], what);
        }
}

/* ---- Resize ---- */

typedef struct rs_case {
        const char *op;         /* "Resize" or "Upsample" */
        int opset, nd;
        int64_t in[5];
        float sc[5];            /* scales (sizes[0] == 0) */
        int64_t sizes[5];
        const char *mode, *ctm, *nmode;
        float cubic_a, extrap;
        int exclude;
        float roi[10];          /* tf_crop_and_resize */
} rs_case_t;

static void rs_model(bld_t *b, const rs_case_t *c) {
        int64_t od[5], one[1] = {c->nd}, two[1] = {2 * c->nd};
        int crop = c->ctm && strcmp(c->ctm, "tf_crop_and_resize") == 0;
        Onnx__NodeProto *nd;
        char in[32];

        for (int d = 0; d < c->nd; d++)
                od[d] = c->sizes[0] ? c->sizes[d]
                                    : (int64_t)floor((double)c->in[d] *
                                                     c->sc[d]);
        bld_init(b, c->opset);
        if (c->sizes[0])
                init_i64(b, "sizes", 1, one, c->sizes);
        else
                init(b, "scales", 1, one, c->sc, 1);
        if (crop)
                init(b, "roi", 1, two, c->roi, 1);
        vi(b, 0, "x", 1, c->nd, c->in);
        vi(b, 1, "y", 1, c->nd, od);
        if (strcmp(c->op, "Upsample") == 0)
                snprintf(in, sizeof(in), "x,scales");
        else
                snprintf(in, sizeof(in), "x,%s,%s", crop ? "roi" : "-",
                         c->sizes[0] ? "-,sizes" : "scales");
        nd = node(b, "rs", c->op, in, "y");
        attr_s(b, nd, "mode", c->mode);
        if (c->ctm)
                attr_s(b, nd, "coordinate_transformation_mode", c->ctm);
        if (c->nmode)
                attr_s(b, nd, "nearest_mode", c->nmode);
        if (c->cubic_a != 0)
                attr_f(b, nd, "cubic_coeff_a", c->cubic_a);
        if (c->extrap != 0)
                attr_f(b, nd, "extrapolation_value", c->extrap);
        if (c->exclude)
                attr_i(b, nd, "exclude_outside", 1);
}

static void rs_run(const rs_case_t *c, const char *what) {
        bld_t b;
        int64_t xn = prod(c->in, c->nd);
        float *x = malloc((size_t)xn * sizeof(float));

        test_fill(x, xn, 5);
        rs_model(&b, c);
        compare(&b, x, what);
        bld_free(&b);
        free(x);
}

static void test_resize(void) {
        static const char *const ctms[] = {
                "half_pixel", "asymmetric", "pytorch_half_pixel",
                "align_corners", "tf_half_pixel_for_nn",
                "half_pixel_symmetric"};
        static const char *const nms[] = {"round_prefer_floor",
                                          "round_prefer_ceil", "floor",
                                          "ceil"};
        static const rs_case_t shapes[] = {
                /* the segmentation head: 4x up by sizes (enough
                 * output for two lanes; the mode loops skip it) */
                {"Resize", 18, 4, {2, 3, 24, 32}, {0}, {2, 3, 96, 128}},
                /* odd factors up and down, by scales */
                {"Resize", 18, 4, {1, 3, 5, 7}, {1, 1, 2.5f, 1.75f}},
                {"Resize", 18, 4, {2, 2, 9, 11}, {1, 1, 0.5f, 0.6f}},
                /* one of the last two dims only; a 1-wide output */
                {"Resize", 18, 4, {2, 3, 6, 5}, {1, 1, 1, 3}},
                {"Resize", 18, 4, {1, 2, 7, 4}, {1, 1, 0.15f, 1}},
                /* other dims: 3-D, channels, 5-D (the generic path) */
                {"Resize", 18, 3, {2, 5, 6}, {1, 1.5f, 2}},
                {"Resize", 18, 4, {1, 3, 4, 4}, {1, 2, 1, 1.5f}},
                {"Resize", 18, 5, {1, 2, 3, 4, 5}, {1, 1, 2, 0.5f, 1.5f}},
                /* 2-D input */
                {"Resize", 18, 2, {5, 6}, {0}, {8, 3}},
        };
        char what[96];
        int k = 0;

        for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
                for (int i = 0; i < 6 && s > 0; i++) {
                        rs_case_t c = shapes[s];
                        c.mode = "linear";
                        c.ctm = ctms[i];
                        snprintf(what, sizeof(what), "resize %zu linear %s",
                                 s, ctms[i]);
                        rs_run(&c, what);
                        c.mode = "nearest";
                        c.nmode = nms[(i + (int)s) % 4];
                        snprintf(what, sizeof(what), "resize %zu nearest %s "
                                 "%s", s, ctms[i], c.nmode);
                        rs_run(&c, what);
                        c.mode = "cubic";
                        c.nmode = NULL;
                        c.cubic_a = i % 2 ? -0.5f : 0;
                        c.exclude = i % 3 == 0;
                        snprintf(what, sizeof(what), "resize %zu cubic %s",
                                 s, ctms[i]);
                        rs_run(&c, what);
                        k++;
                }
                /* every nearest mode on each shape; linear and cubic
                 * at half_pixel */
                for (int i = 0; i < 6; i++) {
                        rs_case_t c = shapes[s];
                        if (i >= 4) {
                                c.mode = i == 4 ? "linear" : "cubic";
                                c.ctm = "half_pixel";
                                snprintf(what, sizeof(what), "resize %zu %s",
                                         s, c.mode);
                                rs_run(&c, what);
                                continue;
                        }
                        c.mode = "nearest";
                        c.ctm = "half_pixel";
                        c.nmode = nms[i];
                        snprintf(what, sizeof(what), "resize %zu nearest %s",
                                 s, nms[i]);
                        rs_run(&c, what);
                }
        }
        {
                /* tf_crop_and_resize: a crop reaching outside the input */
                rs_case_t c = {"Resize", 18, 4, {1, 2, 6, 8}, {0},
                               {1, 2, 9, 10}, "linear",
                               "tf_crop_and_resize", NULL, 0, 2.5f, 0,
                               {0, 0, -0.2f, 0.1f, 1, 1, 0.8f, 1.3f}};
                rs_run(&c, "tf_crop_and_resize linear");
                c.mode = "nearest";
                rs_run(&c, "tf_crop_and_resize nearest");
                c.mode = "cubic";
                rs_run(&c, "tf_crop_and_resize cubic");
        }
        {
                /* Upsample (opset 9), nearest and linear */
                rs_case_t c = {"Upsample", 9, 4, {2, 3, 4, 5},
                               {1, 1, 2, 3}, {0}, "nearest"};
                rs_run(&c, "upsample nearest");
                c.mode = "linear";
                rs_run(&c, "upsample linear");
        }
        CHECK(k == 48, "%d", k);
}

/* ---- hostile attributes: refused at load ---- */

static void expect_load(bld_t *b, swarm_code_t code, const char *needle,
                        const char *what) {
        size_t len;
        uint8_t *buf = pack(b, &len);
        swarm_model_t *m = NULL;
        swarm_err_t err;

        swarm_err_clear(&err);
        for (int l = 0; l < 2; l++) {
                int rc = swarm_model_load_mem(buf, len, be_fast[l], &m, &err);
                CHECK(rc != SWARM_OK, "%s: loaded", what);
                if (rc == SWARM_OK) {
                        swarm_model_destroy(m);
                        m = NULL;
                        continue;
                }
                CHECK(rc == (int)code && strstr(err.msg, needle), "%s: %s",
                      what, err.msg);
                swarm_err_clear(&err);
        }
        bld_free(b);
        free(buf);
}

static void test_hostile(void) {
        static const ct_case_t base = {2, 1, 2, 2, 1, {4, 4}, {3, 3},
                                       {2, 2}, {1, 1}, {1, 1, 1, 1}, {0},
                                       {0}, NULL, 1};
        float w[64], bias[4];
        bld_t b;

        {       /* strides 0, huge strides, negative output_padding */
                static const int64_t bad[][2] = {{0, 1},
                                                 {(int64_t)1 << 40, 1}};
                for (int i = 0; i < 2; i++) {
                        ct_case_t c = base;
                        c.st[0] = bad[i][0];
                        ct_model(&b, &c, w, bias);
                        expect_load(&b, SWARM_ERR_INVALID, "strides",
                                    "convtranspose strides");
                }
        }
        {
                ct_case_t c = base;
                c.opad[0] = -1;
                ct_model(&b, &c, w, bias);
                expect_load(&b, SWARM_ERR_INVALID, "output_padding",
                            "convtranspose output_padding");
        }
        {       /* pads larger than the output */
                ct_case_t c = base;
                c.pads[0] = 100;
                ct_model(&b, &c, w, bias);
                expect_load(&b, SWARM_ERR_INVALID, "pads",
                            "convtranspose pads");
        }
        {       /* output_shape beyond any buffer */
                ct_case_t c = base;
                c.oshape[0] = (int64_t)1 << 40;
                c.oshape[1] = 4;
                ct_model(&b, &c, w, bias);
                expect_load(&b, SWARM_ERR_INVALID, "output_shape",
                            "convtranspose output_shape");
        }
        {       /* a kernel whose output no buffer could hold */
                ct_case_t c = base;
                c.dl[0] = (int64_t)1 << 30;
                c.dl[1] = (int64_t)1 << 30;
                ct_model(&b, &c, w, bias);
                size_t len;
                uint8_t *buf = pack(&b, &len);
                swarm_model_t *m = NULL;
                swarm_err_t err;
                swarm_err_clear(&err);
                CHECK(swarm_model_load_mem(buf, len, be_fast[0], &m, &err) !=
                      SWARM_OK, "dilated convtranspose loaded");
                swarm_model_destroy(m);
                bld_free(&b);
                free(buf);
        }
        {       /* group that does not divide the channels */
                ct_case_t c = base;
                c.group = 3;
                c.m = 3;
                ct_model(&b, &c, w, bias);
                expect_load(&b, SWARM_ERR_INVALID, "group",
                            "convtranspose group");
        }
        {       /* Resize: huge, negative, NaN, zero scales; huge sizes */
                static const float scs[] = {1e30f, -2.0f, NAN, 0.0f};
                for (int i = 0; i < 4; i++) {
                        rs_case_t c = {"Resize", 18, 4, {1, 1, 4, 4},
                                       {1, 1, 2, scs[i]}, {0}, "linear"};
                        rs_model(&b, &c);
                        expect_load(&b, SWARM_ERR_INVALID, "scale",
                                    "resize scales");
                }
        }
        {
                rs_case_t c = {"Resize", 18, 4, {1, 1, 4, 4}, {0},
                               {1, 1, 4, -3}, "nearest"};
                rs_model(&b, &c);
                expect_load(&b, SWARM_ERR_INVALID, "negative size",
                            "resize negative size");
        }
        for (int i = 0; i < 2; i++) {
                /* 2^62 elements over two dims, 2^40 in one */
                rs_case_t c = {"Resize", 18, 4, {1, 1, 4, 4}, {0},
                               {1, 1, (int64_t)1 << 31, (int64_t)1 << 31},
                               "nearest"};
                size_t len;
                uint8_t *buf;
                swarm_model_t *m = NULL;
                swarm_err_t err;
                int rc;
                if (i) {
                        c.sizes[2] = 4;
                        c.sizes[3] = (int64_t)1 << 40;
                }
                rs_model(&b, &c);
                buf = pack(&b, &len);
                swarm_err_clear(&err);
                rc = swarm_model_load_mem(buf, len, be_fast[0], &m, &err);
                CHECK(rc != SWARM_OK, "resize case %d loaded", i);
                swarm_model_destroy(m);
                bld_free(&b);
                free(buf);
        }
}

/* ---- the kernels given bad geometry or tables directly ---- */

static void test_direct(void) {
        swarm_backend_t *be = be_fast[1];
        swarm_err_t err;
        float x[16] = {0}, y[64], wt[16] = {0};
        int64_t in[2] = {4, 4}, out[2] = {4, 8}, idx[16] = {0};
        const int64_t *ti[2] = {NULL, idx};
        const float *tw[2] = {NULL, wt};
        swarm_convt_t g;

        swarm_err_clear(&err);
        /* an index past the input, -1 at a tap other than 0, 3 taps */
        idx[5] = 4;
        CHECK_ERR(be->resample(be, 2, in, out, 1, ti, tw, 0, x, y, &err),
                  err, SWARM_ERR_INVALID, "index 4 outside");
        idx[5] = 0;
        idx[3] = -1;
        CHECK_ERR(be->resample(be, 2, in, out, 2, ti, tw, 0, x, y, &err),
                  err, SWARM_ERR_INVALID, "index -1 outside");
        CHECK_ERR(be->resample(be, 2, in, out, 3, ti, tw, 0, x, y, &err),
                  err, SWARM_ERR_INVALID, "3 taps");
        /* a copied dim whose sizes differ; an empty input */
        out[0] = 5;
        CHECK_ERR(be->resample(be, 2, in, out, 1, ti, tw, 0, x, y, &err),
                  err, SWARM_ERR_INVALID, "bad dim 0");
        out[0] = 4;
        in[1] = 0;
        CHECK_ERR(be->resample(be, 2, in, out, 1, ti, tw, 0, x, y, &err),
                  err, SWARM_ERR_INVALID, "empty input");
        /* -1 at tap 0 is the extrapolation value */
        in[1] = 4;
        for (int i = 0; i < 8; i++)
                idx[i] = i % 4, wt[i] = 1.0f;
        idx[2] = -1;
        for (int i = 0; i < 16; i++)
                x[i] = (float)i;
        CHECK_OK(be->resample(be, 2, in, out, 1, ti, tw, 7.5f, x, y, &err),
                 err);
        CHECK(y[2] == 7.5f && y[10] == 7.5f && y[1] == 1.0f &&
              y[8 + 4] == 4.0f, "%g %g %g %g", (double)y[2], (double)y[10],
              (double)y[1], (double)y[12]);

        {       /* taps two rows apart by the row cache's size (4 slots
                 * for 2 taps): both must count */
                int64_t ri[3] = {1, 8, 3}, ro[3] = {1, 2, 3};
                int64_t ty[4] = {0, 4, 1, 5};
                float wy[4] = {0.5f, 0.5f, 0.25f, 0.75f}, xs[24], ys[6];
                const int64_t *tt[3] = {NULL, ty, NULL};
                const float *tv[3] = {NULL, wy, NULL};
                for (int i = 0; i < 24; i++)
                        xs[i] = (float)(i * i);
                CHECK_OK(be->resample(be, 3, ri, ro, 2, tt, tv, 0, xs, ys,
                                      &err), err);
                for (int c = 0; c < 3; c++) {
                        float a = 0.5f * xs[c] + 0.5f * xs[12 + c];
                        float b2 = 0.25f * xs[3 + c] + 0.75f * xs[15 + c];
                        CHECK(ys[c] == a && ys[3 + c] == b2, "%d: %g %g", c,
                              (double)ys[c], (double)ys[3 + c]);
                }
        }

        memset(&g, 0, sizeof(g));
        g.n = 1;
        g.c = 2;
        g.m = 2;
        g.group = 1;
        for (int d = 0; d < 3; d++) {
                g.in[d] = g.k[d] = g.stride[d] = g.dil[d] = 1;
                g.out[d] = 1;
        }
        g.stride[2] = 0;
        CHECK_ERR(be->conv_transpose(be, &g, x, wt, NULL, y, &err), err,
                  SWARM_ERR_INVALID, "bad geometry");
        g.stride[2] = 1;
        g.group = 4;
        CHECK_ERR(be->conv_transpose(be, &g, x, wt, NULL, y, &err), err,
                  SWARM_ERR_INVALID, "bad geometry");
        g.group = 1;
        g.in[0] = (int64_t)1 << 62;
        g.in[1] = 4;
        CHECK_ERR(be->conv_transpose(be, &g, x, wt, NULL, y, &err), err,
                  SWARM_ERR_INVALID, "bad geometry");
        g.in[0] = 1;
        g.in[1] = 1;
        g.pad[1] = -1;
        CHECK_ERR(be->conv_transpose(be, &g, x, wt, NULL, y, &err), err,
                  SWARM_ERR_INVALID, "bad geometry");
}

int main(void) {
        swarm_err_t err;

        swarm_err_clear(&err);
        (void)swarm_backend_cpu_new(1, &be_ref, &err);
        (void)swarm_backend_cpu_new(1, &be_fast[0], &err);
        (void)swarm_backend_cpu_new(2, &be_fast[1], &err);
        if (!be_ref || !be_fast[0] || !be_fast[1]) {
                fprintf(stderr, "backend: %s\n", err.msg);
                return 1;
        }
        CHECK(be_fast[0]->conv_transpose && be_fast[0]->resample);
        /* the reference: the executor keeps the host kernels */
        be_ref->conv_transpose = NULL;
        be_ref->resample = NULL;
        test_convt();
        test_resize();
        test_hostile();
        test_direct();
        printf("%d cases against the host kernels\n", cases);
        swarm_backend_destroy(be_ref);
        swarm_backend_destroy(be_fast[0]);
        swarm_backend_destroy(be_fast[1]);
        TEST_DONE();
}
