/*
 * test_gpu_backend.c - every vtable entry of the CUDA backend against the
 * CPU backend on fresh random inputs, once per GEMM precision.
 *
 * GEMMs are held to the precision's bound (fp32 1e-5, tf32 2e-3, fp16 and
 * bf16 2e-2, norm-wise); every other entry computes in fp32 whatever the
 * precision and is held to 1e-5 element-wise.  The seed is printed so a
 * failure can be replayed (SWARM_TEST_SEED).
 *
 * Exits 77 ("no CUDA device: skipped") without a usable device.
 */
#include <time.h>

#include "gpu_common.h"

#define EW_TOL 1e-5

static void die_rc(int rc, const char *what, swarm_err_t *err) {
        if (rc)
                die_err(what, err);
}

/* Run the same call on both backends: `CALL(be, buf-side)` via a macro so
 * each test reads like the vtable. */
#define BOTH(expr_cpu, expr_gpu, what)                                         \
        do {                                                                   \
                swarm_err_t e1_, e2_;                                          \
                swarm_err_clear(&e1_);                                         \
                swarm_err_clear(&e2_);                                         \
                die_rc((expr_cpu), what " (cpu)", &e1_);                       \
                die_rc((expr_gpu), what " (gpu)", &e2_);                       \
        } while (0)

typedef struct gcase {
        const char *name;
        int ta, tb;
        int64_t m, n, k, pad_a, pad_b, pad_c;
        int64_t a_off, b_off, c_off, bias_off;
        float alpha, beta;
        swarm_bias_t bias;
        swarm_act_t act;
} gcase_t;

static void test_gemm(pair_t *p, swarm_precision_t prec) {
        static const gcase_t cases[] = {
                {"fused bias+relu", 0, 0, 67, 129, 300, 0, 0, 0, 0, 0, 0, 0,
                 1.0f, 1.0f, SWARM_BIAS_ROW, SWARM_ACT_RELU},
                {"fused bias+gelu_tanh", 0, 0, 64, 128, 256, 0, 0, 0, 0, 0, 0,
                 0, 1.0f, 1.0f, SWARM_BIAS_ROW, SWARM_ACT_GELU_TANH},
                {"trans a,b beta 2 sigmoid", 1, 1, 33, 70, 45, 0, 0, 0, 0, 0,
                 0, 0, 0.5f, 2.0f, SWARM_BIAS_ROW, SWARM_ACT_SIGMOID},
                {"col bias gelu", 0, 1, 50, 40, 64, 0, 0, 0, 0, 0, 0, 0, 1.0f,
                 1.0f, SWARM_BIAS_COL, SWARM_ACT_GELU},
                {"full bias padded ld", 0, 0, 31, 47, 29, 3, 5, 7, 0, 0, 0, 0,
                 1.5f, 0.5f, SWARM_BIAS_FULL, SWARM_ACT_NONE},
                {"scalar bias leaky", 1, 0, 20, 30, 40, 0, 0, 0, 0, 0, 0, 0,
                 1.0f, 1.0f, SWARM_BIAS_SCALAR, SWARM_ACT_LEAKY_RELU},
                {"odd offsets (GemmEx fallback)", 0, 0, 17, 19, 23, 0, 0, 0,
                 5, 7, 3, 1, 1.0f, 1.0f, SWARM_BIAS_ROW, SWARM_ACT_RELU},
                {"no bias", 0, 0, 128, 256, 512, 0, 0, 0, 0, 0, 0, 0, 1.0f,
                 0.0f, SWARM_BIAS_NONE, SWARM_ACT_NONE},
                {"k = 0", 0, 0, 9, 11, 0, 0, 0, 0, 0, 0, 0, 0, 1.0f, 1.0f,
                 SWARM_BIAS_ROW, SWARM_ACT_TANH},
                {"large 512x1024x768", 0, 1, 512, 1024, 768, 0, 0, 0, 0, 0, 0,
                 0, 1.0f, 1.0f, SWARM_BIAS_ROW, SWARM_ACT_RELU},
        };
        double tol = prec_tol(prec);

        for (size_t ci = 0; ci < sizeof(cases) / sizeof(cases[0]); ci++) {
                const gcase_t *c = &cases[ci];
                int64_t ar = c->ta ? c->k : c->m, ac = c->ta ? c->m : c->k;
                int64_t br = c->tb ? c->n : c->k, bc = c->tb ? c->k : c->n;
                int64_t lda = ac + c->pad_a, ldb = bc + c->pad_b;
                int64_t ldc = c->n + c->pad_c;
                int64_t na = c->a_off + (ar ? ar : 1) * lda;
                int64_t nb = c->b_off + (br ? br : 1) * ldb;
                int64_t ncc = c->c_off + c->m * ldc;
                int64_t nbias = c->bias_off +
                                (c->bias == SWARM_BIAS_ROW ? c->n
                                 : c->bias == SWARM_BIAS_COL ? c->m
                                 : c->bias == SWARM_BIAS_FULL ? c->m * c->n
                                 : 1);
                float *ha = rand_vec(na, -1, 1), *hb = rand_vec(nb, -1, 1);
                float *hbias = rand_vec(nbias, -1, 1);
                float *hc = rand_vec(ncc, -1, 1);
                pbuf_t a = pb_new(p, ha, (size_t)na * 4);
                pbuf_t b = pb_new(p, hb, (size_t)nb * 4);
                pbuf_t bias = pb_new(p, hbias, (size_t)nbias * 4);
                pbuf_t cc = pb_new(p, hc, (size_t)ncc * 4);
                swarm_gemm_t g;
                char what[160];

                for (int round = 0; round < 2; round++) {
                        memset(&g, 0, sizeof(g));
                        g.trans_a = c->ta;
                        g.trans_b = c->tb;
                        g.m = c->m;
                        g.n = c->n;
                        g.k = c->k;
                        g.alpha = c->alpha;
                        g.beta = c->beta;
                        g.a_off = c->a_off;
                        g.lda = lda;
                        g.b_off = c->b_off;
                        g.ldb = ldb;
                        g.bias_off = c->bias_off;
                        g.bias_mode = c->bias;
                        g.c_off = c->c_off;
                        g.ldc = ldc;
                        g.act = c->act;
                        g.act_alpha = 0.1f;
                        g.a = a.c;
                        g.b = b.c;
                        g.c = cc.c;
                        g.bias = c->bias ? bias.c : NULL;
                        BOTH(p->cpu->gemm(p->cpu, &g, &e1_), 0, "gemm");
                        g.a = a.g;
                        g.b = b.g;
                        g.c = cc.g;
                        g.bias = c->bias ? bias.g : NULL;
                        BOTH(0, p->gpu->gemm(p->gpu, &g, &e2_), "gemm");
                        snprintf(what, sizeof(what), "gemm %s %s round %d",
                                 swarm_precision_name(prec), c->name, round);
                        /* The whole C buffer: padding must be untouched. */
                        pb_check(p, &cc, ncc, 1, tol, what);
                        /* Round 1: new weights in the same buffer, so a
                         * stale converted (fp16/bf16) copy would show. */
                        free(hb);
                        hb = rand_vec(nb, -1, 1);
                        pb_set(p, &b, hb);
                }
                pb_free(p, &a);
                pb_free(p, &b);
                pb_free(p, &bias);
                pb_free(p, &cc);
                free(ha);
                free(hb);
                free(hbias);
                free(hc);
        }
}

static void test_binary(pair_t *p) {
        int64_t shape[3] = {4, 5, 6}, sa[3] = {30, 6, 1}, sb[3] = {0, 1, 0};
        int64_t sflat[3] = {30, 6, 1};
        float *ha = rand_vec(120, 0.1f, 2), *hb = rand_vec(120, 0.1f, 2);
        pbuf_t a = pb_new(p, ha, 480), b = pb_new(p, hb, 480);
        pbuf_t c = pb_new(p, NULL, 480);
        char what[64];

        for (int op = SWARM_BIN_ADD; op <= SWARM_BIN_MIN; op++) {
                for (int bc = 0; bc < 2; bc++) {
                        const int64_t *bs = bc ? sb : sflat;
                        BOTH(p->cpu->binary(p->cpu, op, 3, shape, a.c, sa,
                                            b.c, bs, c.c, &e1_),
                             p->gpu->binary(p->gpu, op, 3, shape, a.g, sa,
                                            b.g, bs, c.g, &e2_),
                             "binary");
                        snprintf(what, sizeof(what), "binary op %d %s", op,
                                 bc ? "broadcast" : "flat");
                        pb_check(p, &c, 120, 0, EW_TOL, what);
                }
        }
        BOTH(p->cpu->add(p->cpu, 3, shape, a.c, sa, b.c, sb, c.c, &e1_),
             p->gpu->add(p->gpu, 3, shape, a.g, sa, b.g, sb, c.g, &e2_),
             "add");
        pb_check(p, &c, 120, 0, EW_TOL, "add broadcast");
        BOTH(p->cpu->binary(p->cpu, SWARM_BIN_DIV, 0, shape, a.c, sa, b.c, sb,
                            c.c, &e1_),
             p->gpu->binary(p->gpu, SWARM_BIN_DIV, 0, shape, a.g, sa, b.g, sb,
                            c.g, &e2_),
             "binary 0-d");
        pb_check(p, &c, 1, 0, EW_TOL, "binary 0-d");
        pb_free(p, &a);
        pb_free(p, &b);
        pb_free(p, &c);
        free(ha);
        free(hb);
}

static void test_unary(pair_t *p) {
        const int64_t n = 10007;
        float *hx = rand_vec(n, -4, 4), *hpos = rand_vec(n, 0.01f, 5);
        pbuf_t x = pb_new(p, hx, n * 4), xp = pb_new(p, hpos, n * 4);
        pbuf_t y = pb_new(p, NULL, n * 4);
        char what[64];

        for (int act = SWARM_ACT_NONE; act <= SWARM_ACT_SILU; act++) {
                int pos = act == SWARM_ACT_SQRT || act == SWARM_ACT_LOG ||
                          act == SWARM_ACT_RECIPROCAL;
                pbuf_t *in = pos ? &xp : &x;
                BOTH(p->cpu->unary(p->cpu, act, -0.5f, 0.75f, in->c, y.c, n,
                                   &e1_),
                     p->gpu->unary(p->gpu, act, -0.5f, 0.75f, in->g, y.g, n,
                                   &e2_),
                     "unary");
                snprintf(what, sizeof(what), "unary act %d", act);
                pb_check(p, &y, n, 0, EW_TOL, what);
                BOTH(p->cpu->act(p->cpu, act, in->c, y.c, n, &e1_),
                     p->gpu->act(p->gpu, act, in->g, y.g, n, &e2_), "act");
                snprintf(what, sizeof(what), "act %d", act);
                pb_check(p, &y, n, 0, EW_TOL, what);
        }
        /* In place (y == x). */
        pb_set(p, &y, hx);
        BOTH(p->cpu->unary(p->cpu, SWARM_ACT_TANH, 0, 0, y.c, y.c, n, &e1_),
             p->gpu->unary(p->gpu, SWARM_ACT_TANH, 0, 0, y.g, y.g, n, &e2_),
             "unary in place");
        pb_check(p, &y, n, 0, EW_TOL, "unary tanh in place");
        pb_free(p, &x);
        pb_free(p, &xp);
        pb_free(p, &y);
        free(hx);
        free(hpos);
}

static void test_softmax(pair_t *p) {
        static const int64_t g[][3] = {
                {37, 1000, 1}, {3, 10, 1}, {4, 7, 33}, {1, 5000, 1}};
        char what[80];

        for (size_t i = 0; i < sizeof(g) / sizeof(g[0]); i++) {
                int64_t n = g[i][0] * g[i][1] * g[i][2];
                float *hx = rand_vec(n, -8, 8);
                pbuf_t x = pb_new(p, hx, n * 4), y = pb_new(p, NULL, n * 4);
                for (int lf = 0; lf < 2; lf++) {
                        if (lf)
                                BOTH(p->cpu->log_softmax(p->cpu, x.c, y.c,
                                                         g[i][0], g[i][1],
                                                         g[i][2], &e1_),
                                     p->gpu->log_softmax(p->gpu, x.g, y.g,
                                                         g[i][0], g[i][1],
                                                         g[i][2], &e2_),
                                     "log_softmax");
                        else
                                BOTH(p->cpu->softmax(p->cpu, x.c, y.c,
                                                     g[i][0], g[i][1],
                                                     g[i][2], &e1_),
                                     p->gpu->softmax(p->gpu, x.g, y.g,
                                                     g[i][0], g[i][1],
                                                     g[i][2], &e2_),
                                     "softmax");
                        snprintf(what, sizeof(what), "%s [%lld,%lld,%lld]",
                                 lf ? "log_softmax" : "softmax",
                                 (long long)g[i][0], (long long)g[i][1],
                                 (long long)g[i][2]);
                        pb_check(p, &y, n, 0, EW_TOL, what);
                }
                pb_free(p, &x);
                pb_free(p, &y);
                free(hx);
        }
}

static void test_reduce(pair_t *p) {
        int64_t shape[4] = {3, 4, 5, 6};
        static const uint32_t axes[] = {0x1, 0x2, 0x5, 0x8, 0xf, 0xa};
        float *hx = rand_vec(360, 0.8f, 1.2f);
        pbuf_t x = pb_new(p, hx, 360 * 4), y = pb_new(p, NULL, 360 * 4);
        char what[64];

        for (int op = SWARM_RED_SUM; op <= SWARM_RED_L2; op++)
                for (size_t i = 0; i < sizeof(axes) / sizeof(axes[0]); i++) {
                        int64_t out = 1;
                        for (int d = 0; d < 4; d++)
                                if (!(axes[i] & (1u << d)))
                                        out *= shape[d];
                        BOTH(p->cpu->reduce(p->cpu, op, 4, shape, axes[i],
                                            x.c, y.c, &e1_),
                             p->gpu->reduce(p->gpu, op, 4, shape, axes[i],
                                            x.g, y.g, &e2_),
                             "reduce");
                        snprintf(what, sizeof(what), "reduce op %d axes 0x%x",
                                 op, axes[i]);
                        pb_check(p, &y, out, 0, EW_TOL, what);
                }
        pb_free(p, &x);
        pb_free(p, &y);
        free(hx);
}

static void win(swarm_window_t *w, int64_t n, int64_t h, int64_t wd,
                int64_t k, int64_t s, int64_t d, int64_t pad, int64_t extra) {
        memset(w, 0, sizeof(*w));
        w->n = n;
        w->h = h;
        w->w = wd;
        w->kh = w->kw = k;
        w->sh = w->sw = s;
        w->dh = w->dw = d;
        w->pad_t = w->pad_l = w->pad_b = w->pad_r = pad;
        /* `extra` adds the rows ceil_mode would (beyond pad_b / pad_r). */
        w->oh = (h + 2 * pad - d * (k - 1) - 1 + extra) / s + 1;
        w->ow = (wd + 2 * pad - d * (k - 1) - 1 + extra) / s + 1;
}

static void test_window(pair_t *p) {
        swarm_window_t ws[4];
        char what[80];

        win(&ws[0], 6, 11, 13, 3, 2, 1, 1, 0);
        win(&ws[1], 6, 11, 13, 3, 1, 2, 2, 0);
        win(&ws[2], 4, 10, 10, 2, 2, 1, 0, 1);
        win(&ws[3], 3, 9, 10, 3, 1, 1, 1, 0);
        for (int i = 0; i < 4; i++) {
                swarm_window_t *w = &ws[i];
                int64_t nx = w->n * w->h * w->w, ny = w->n * w->oh * w->ow;
                int64_t ncol = w->n * w->kh * w->kw * w->oh * w->ow;
                int64_t off = 7;
                float *hx = rand_vec(nx + off, -3, 3);
                pbuf_t x = pb_new(p, hx, (nx + off) * 4);
                pbuf_t y = pb_new(p, NULL, ny * 4);
                pbuf_t col = pb_new(p, NULL, ncol * 4);
                for (int k = SWARM_POOL_MAX; k <= SWARM_POOL_AVG_PAD; k++) {
                        BOTH(p->cpu->pool(p->cpu, k, w, x.c, y.c, &e1_),
                             p->gpu->pool(p->gpu, k, w, x.g, y.g, &e2_),
                             "pool");
                        snprintf(what, sizeof(what), "pool kind %d window %d",
                                 k, i);
                        pb_check(p, &y, ny, 0, EW_TOL, what);
                }
                BOTH(p->cpu->im2col(p->cpu, w, x.c, off, col.c, &e1_),
                     p->gpu->im2col(p->gpu, w, x.g, off, col.g, &e2_),
                     "im2col");
                snprintf(what, sizeof(what), "im2col window %d", i);
                pb_check(p, &col, ncol, 0, EW_TOL, what);
                pb_free(p, &x);
                pb_free(p, &y);
                pb_free(p, &col);
                free(hx);
        }
}

static void test_gather(pair_t *p) {
        const int64_t outer = 3, axis_n = 7, inner = 5, n_idx = 6;
        int64_t i64[6] = {0, 6, -1, 3, -7, 2};
        int32_t i32[6] = {1, -2, 5, 0, 6, -3};
        int64_t bad64[2] = {1, 7};
        float *hx = rand_vec(outer * axis_n * inner, -1, 1);
        pbuf_t x = pb_new(p, hx, outer * axis_n * inner * 4);
        pbuf_t ix64 = pb_new(p, i64, sizeof(i64));
        pbuf_t ix32 = pb_new(p, i32, sizeof(i32));
        pbuf_t bad = pb_new(p, bad64, sizeof(bad64));
        pbuf_t y = pb_new(p, NULL, outer * n_idx * inner * 4);
        swarm_err_t e1, e2;
        float tmp[4];
        int r1, r2;

        BOTH(p->cpu->gather(p->cpu, x.c, outer, axis_n, inner, ix64.c, 1,
                            n_idx, y.c, &e1_),
             p->gpu->gather(p->gpu, x.g, outer, axis_n, inner, ix64.g, 1,
                            n_idx, y.g, &e2_),
             "gather");
        pb_check(p, &y, outer * n_idx * inner, 0, 0.0, "gather int64");
        BOTH(p->cpu->gather(p->cpu, x.c, outer, axis_n, inner, ix32.c, 0,
                            n_idx, y.c, &e1_),
             p->gpu->gather(p->gpu, x.g, outer, axis_n, inner, ix32.g, 0,
                            n_idx, y.g, &e2_),
             "gather");
        pb_check(p, &y, outer * n_idx * inner, 0, 0.0, "gather int32");
        /* A bad index is SWARM_ERR_INVALID on both: at the call on the CPU,
         * at the next download (the sync point) on the GPU. */
        swarm_err_clear(&e1);
        swarm_err_clear(&e2);
        r1 = p->cpu->gather(p->cpu, x.c, outer, axis_n, inner, bad.c, 1, 2,
                            y.c, &e1);
        r2 = p->gpu->gather(p->gpu, x.g, outer, axis_n, inner, bad.g, 1, 2,
                            y.g, &e2);
        if (!r2)
                r2 = p->gpu->download(p->gpu, tmp, y.g, sizeof(tmp), &e2);
        g_checked++;
        if (r1 != SWARM_ERR_INVALID || r2 != SWARM_ERR_INVALID || e2.fatal) {
                printf("FAIL gather bad index: cpu rc %d, gpu rc %d (%s)\n",
                       r1, r2, e2.msg);
                g_failed++;
        } else {
                printf("ok   gather bad index: %s\n", e2.msg);
        }
        /* ...and the backend is fine afterwards. */
        BOTH(p->cpu->gather(p->cpu, x.c, outer, axis_n, inner, ix64.c, 1,
                            n_idx, y.c, &e1_),
             p->gpu->gather(p->gpu, x.g, outer, axis_n, inner, ix64.g, 1,
                            n_idx, y.g, &e2_),
             "gather");
        pb_check(p, &y, outer * n_idx * inner, 0, 0.0, "gather after error");
        pb_free(p, &x);
        pb_free(p, &ix64);
        pb_free(p, &ix32);
        pb_free(p, &bad);
        pb_free(p, &y);
        free(hx);
}

static void test_strided(pair_t *p) {
        float *hx = rand_vec(200, -1, 1);
        pbuf_t x = pb_new(p, hx, 200 * 4), y = pb_new(p, NULL, 300 * 4);
        /* Transpose [4,5,6] -> [6,4,5] (output dims iterate the new shape). */
        int64_t tshape[3] = {6, 4, 5}, txs[3] = {1, 30, 6}, tys[3] = {20, 5, 1};
        /* Slice x[1:4:2, ::-1 ...] style: step 2 rows, reversed columns. */
        int64_t sshape[2] = {2, 6}, sxs[2] = {20, -1}, sys[2] = {6, 1};
        /* Expand a row of 5 over 7 rows into y at offset 11. */
        int64_t eshape[2] = {7, 5}, exs[2] = {0, 1}, eys[2] = {5, 1};
        int64_t one[1] = {1};

        BOTH(p->cpu->copy_strided(p->cpu, 3, tshape, x.c, 0, txs, y.c, 0, tys,
                                  &e1_),
             p->gpu->copy_strided(p->gpu, 3, tshape, x.g, 0, txs, y.g, 0, tys,
                                  &e2_),
             "copy_strided");
        pb_check(p, &y, 300, 0, 0.0, "copy_strided transpose");
        BOTH(p->cpu->copy_strided(p->cpu, 2, sshape, x.c, 29, sxs, y.c, 3,
                                  sys, &e1_),
             p->gpu->copy_strided(p->gpu, 2, sshape, x.g, 29, sxs, y.g, 3,
                                  sys, &e2_),
             "copy_strided");
        pb_check(p, &y, 300, 0, 0.0, "copy_strided slice");
        BOTH(p->cpu->copy_strided(p->cpu, 2, eshape, x.c, 40, exs, y.c, 11,
                                  eys, &e1_),
             p->gpu->copy_strided(p->gpu, 2, eshape, x.g, 40, exs, y.g, 11,
                                  eys, &e2_),
             "copy_strided");
        pb_check(p, &y, 300, 0, 0.0, "copy_strided expand");
        BOTH(p->cpu->copy_strided(p->cpu, 0, one, x.c, 5, one, y.c, 299, one,
                                  &e1_),
             p->gpu->copy_strided(p->gpu, 0, one, x.g, 5, one, y.g, 299, one,
                                  &e2_),
             "copy_strided");
        pb_check(p, &y, 300, 0, 0.0, "copy_strided 0-d");
        BOTH(p->cpu->copy(p->cpu, y.c, x.c, 200 * 4, &e1_),
             p->gpu->copy(p->gpu, y.g, x.g, 200 * 4, &e2_), "copy");
        pb_check(p, &y, 300, 0, 0.0, "copy");
        pb_free(p, &x);
        pb_free(p, &y);
        free(hx);
}

static void test_norm(pair_t *p) {
        const int64_t outer = 6, c = 16, inner = 49, n = 768;
        float *hx = rand_vec(outer * c * inner, -2, 2);
        float *hs = rand_vec(n, 0.5f, 1.5f), *hb = rand_vec(n, -1, 1);
        pbuf_t x = pb_new(p, hx, outer * c * inner * 4);
        pbuf_t s = pb_new(p, hs, n * 4), b = pb_new(p, hb, n * 4);
        pbuf_t y = pb_new(p, NULL, outer * c * inner * 4);

        BOTH(p->cpu->channel_affine(p->cpu, x.c, s.c, b.c, y.c, outer, c,
                                    inner, &e1_),
             p->gpu->channel_affine(p->gpu, x.g, s.g, b.g, y.g, outer, c,
                                    inner, &e2_),
             "channel_affine");
        pb_check(p, &y, outer * c * inner, 0, EW_TOL, "channel_affine");
        /* 6 * 16 * 49 = 4704 values: 6 rows of 784 for layer_norm. */
        BOTH(p->cpu->layer_norm(p->cpu, x.c, s.c, b.c, y.c, 6, 768, 1e-5f,
                                &e1_),
             p->gpu->layer_norm(p->gpu, x.g, s.g, b.g, y.g, 6, 768, 1e-5f,
                                &e2_),
             "layer_norm");
        pb_check(p, &y, 6 * 768, 0, EW_TOL, "layer_norm");
        BOTH(p->cpu->layer_norm(p->cpu, x.c, s.c, NULL, y.c, 24, 16, 1e-3f,
                                &e1_),
             p->gpu->layer_norm(p->gpu, x.g, s.g, NULL, y.g, 24, 16, 1e-3f,
                                &e2_),
             "layer_norm");
        pb_check(p, &y, 24 * 16, 0, EW_TOL, "layer_norm no bias");
        pb_free(p, &x);
        pb_free(p, &s);
        pb_free(p, &b);
        pb_free(p, &y);
        free(hx);
        free(hs);
        free(hb);
}

int main(int argc, char **argv) {
        const char *env = getenv("SWARM_TEST_SEED");
        uint64_t seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
        swarm_err_t err;

        gpu_require();
        printf("seed %llu (SWARM_TEST_SEED to replay)\n",
               (unsigned long long)seed);
        for (int pi = SWARM_PREC_FP32; pi <= SWARM_PREC_BF16; pi++) {
                pair_t p;
                swarm_err_clear(&err);
                rng_seed(seed + (uint64_t)pi);
                (void)swarm_backend_cpu_new(1, &p.cpu, &err);
                (void)swarm_backend_cuda_new(0, (swarm_precision_t)pi, &p.gpu, &err);
                if (!p.cpu || !p.gpu) {
                        if (err.code == SWARM_ERR_UNSUPPORTED) {
                                printf("skip %s: %s\n",
                                       swarm_precision_name(pi), err.msg);
                                swarm_backend_destroy(p.cpu);
                                continue;
                        }
                        die_err("backend", &err);
                }
                printf("== precision %s\n", swarm_precision_name(pi));
                test_gemm(&p, (swarm_precision_t)pi);
                test_binary(&p);
                test_unary(&p);
                test_softmax(&p);
                test_reduce(&p);
                test_window(&p);
                test_gather(&p);
                test_strided(&p);
                test_norm(&p);
                swarm_backend_destroy(p.gpu);
                swarm_backend_destroy(p.cpu);
        }
        return finish(argv[0]);
}
