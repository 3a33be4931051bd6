/*
 * test_attn.c - the load-time attention and GELU fusions (lib/exec/
 * fuse_attn.c) and the CPU attention kernel (lib/exec/cpu_attn.c), on
 * models built with onnx_build.h the way torch.onnx writes them.
 *
 * Each attention model runs three ways: on the CPU backend with 1 and
 * with 2 lanes (fused), and on a copy of it without `attention` (the
 * unfused MatMul / Mul / Add / Softmax / MatMul steps); all three must
 * match a double-precision reference computed here (1e-4 of the largest
 * output), and the plan's step count says whether the chain was fused.
 * Cases:
 *  - the exporters' self-attention: x [N, S, H*D] -> three projections ->
 *    Reshape [0, S, H, D] -> Transpose 0 2 1 3 (K: 0 2 3 1) -> MatMul ->
 *    scale (Mul, Div, constant first) -> + mask [N, 1, 1, S] -> Softmax ->
 *    MatMul -> Transpose -> Reshape, heads 1 / 4 / 12, S 1 / 7 / 128,
 *    with and without mask and scale, 1 and 3 rows (rows differ in their
 *    mask): fused to 4 steps;
 *  - K transposed twice (0 2 1 3, then 0 1 3 2), and rank-3 operands
 *    [N, S, D] straight from the inputs;
 *  - a mask [N, 1, S, 1] (one value per query row, broadcast over keys);
 *  - a constant position bias added before the mask (T5): the two summed
 *    into one mask;
 *  - chains that must stay unfused (same step count as the unfused
 *    backend, same values): the softmax's output also a graph output,
 *    Softmax over another axis, a scale that is not one scalar;
 *  - GELU: MatMul + bias -> Div(sqrt 2) -> Erf -> Add(1) -> Mul -> Mul(0.5)
 *    in both exporters' orders, and its tanh form (Pow(x, 3) or x * x *
 *    x, both product orders), becomes one GEMM step with the activation
 *    in its epilogue; with 0.6 instead of 0.5 it stays six steps (the
 *    tanh form nine or ten), values still right.
 * Usage: test_attn (exit 0 pass, 1 fail).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.pb-c.h"
#include "swarm/backend.h"
#include "swarm/model.h"

#include "check.h"
#include "onnx_build.h"

/* ---- models: the executor tests' one builder (onnx_build.h) ---- */

static void attr_perm(bld_t *b, Onnx__NodeProto *n, int cnt,
                      const int64_t *perm) {
        attr_is(b, n, "perm", cnt, perm);
}

static void scalar_f(bld_t *b, const char *name, float v) {
        init(b, name, 0, NULL, &v, 1);
}

/* Pack b's graph and load it on `be` (the packed copy is not kept). */
static int load(bld_t *b, swarm_backend_t *be, swarm_model_t **m,
                swarm_err_t *err) {
        size_t len;
        uint8_t *buf = pack(b, &len);
        int rc;

        swarm_err_clear(err);
        *m = NULL;
        rc = swarm_model_load_mem(buf, len, be, m, err);
        free(buf);
        return rc;
}

/* Deterministic values in [-1, 1). */
static float pr(uint32_t *s) {
        *s = *s * 1664525u + 1013904223u;
        return (float)(*s >> 8) / (float)(1u << 23) - 1.0f;
}

/* ---- attention ---- */

enum brk {
        B_NONE = 0,
        B_SCORES_OUT,   /* the softmax's output is a graph output too */
        B_AXIS,         /* Softmax over axis 2 */
        B_VEC_SCALE,    /* Mul by a [S] constant, not a scalar */
        B_ROW_MASK      /* not a breaker: a [N, 1, S, 1] mask, per query */
};

typedef struct acase {
        const char *name;
        int heads, dh, seq;
        int mask;       /* Add a [N, 1, 1, S] mask input */
        int scale;      /* 0 none, 1 Mul(s, c), 2 Div(s, c), 3 Mul(c, s) */
        int k2;         /* K: Transpose 0 2 1 3 then 0 1 3 2 */
        int rank3;      /* q, k, v inputs [N, S, D], no projections */
        enum brk brk;
        int fused_steps; /* expected with `attention`; 0: as unfused */
        int guard;      /* Where(IsNaN(p), 0, p) after the softmax (the
                           dynamo export of scaled_dot_product_attention);
                           batch row 2 then has every key masked to -inf */
        int pbias;      /* scores + a constant [1, H, S, S] bias, then the
                           mask (T5's position bias) */
} acase_t;

static const acase_t CASES[] = {
        {"dynamo h4 s7", 4, 4, 7, 1, 1, 0, 0, B_NONE, 4},
        {"div h1 s1", 1, 8, 1, 1, 2, 0, 0, B_NONE, 4},
        {"no mask, no scale h4 s7", 4, 3, 7, 0, 0, 0, 0, B_NONE, 4},
        {"const first h12 s128", 12, 2, 128, 1, 3, 0, 0, B_NONE, 4},
        {"h4 s128", 4, 16, 128, 1, 1, 0, 0, B_NONE, 4},
        {"K twice h4 s7", 4, 4, 7, 1, 1, 1, 0, B_NONE, 6},
        {"rank 3 s7", 1, 5, 7, 1, 1, 0, 1, B_NONE, 1},
        {"scores output", 4, 4, 7, 1, 1, 0, 0, B_SCORES_OUT, 0},
        {"softmax axis 2", 4, 4, 7, 1, 1, 0, 0, B_AXIS, 0},
        {"vector scale", 4, 4, 7, 1, 1, 0, 0, B_VEC_SCALE, 0},
        {"mask per query h4 s7", 4, 4, 7, 1, 1, 0, 0, B_ROW_MASK, 4},
        {"mask, no scale h4 s7", 4, 4, 7, 1, 0, 0, 0, B_NONE, 4},
        {"NaN guard h4 s7", 4, 4, 7, 1, 1, 0, 0, B_NONE, 4, 1},
        {"NaN guard, no scale h2 s5", 2, 3, 5, 1, 0, 0, 0, B_NONE, 4, 1},
        {"NaN guard, rank 3 s7", 1, 5, 7, 1, 1, 0, 1, B_NONE, 1, 1},
        {"position bias, mask h4 s7", 4, 4, 7, 1, 0, 0, 0, B_NONE, 5, 0, 1},
        {"position bias, scale, mask, guard h2 s6", 2, 3, 6, 1, 1, 0, 0,
         B_NONE, 5, 1, 1},
};

#define MAXR 3

typedef struct adata {
        int e, s;
        float *wq, *wk, *wv;    /* [E, E] */
        float *pb;              /* [H, S, S] (pbias) */
        float scale;
        float *vscale;          /* [S] (B_VEC_SCALE) */
} adata_t;

static void build_attn(bld_t *b, const acase_t *c, const adata_t *d) {
        static const int64_t p0213[] = {0, 2, 1, 3}, p0231[] = {0, 2, 3, 1},
                             p0132[] = {0, 1, 3, 2}, p021[] = {0, 2, 1};
        int64_t e = d->e, s = d->s;
        int64_t xd[3] = {-1, s, e}, wd[2] = {e, e};
        int64_t md[4] = {-1, 1, 1, s}, yd[3] = {-1, s, e};
        int64_t hs[4] = {0, s, c->heads, c->dh}, ms[3] = {0, s, e};
        int64_t four = 4, three = 3, sd = s;
        const char *sc = "mm";

        if (c->rank3) {
                int64_t qd[3] = {-1, s, c->dh}, m3[3] = {-1, 1, s};
                vi(b, 0, "q", 1, 3, qd);
                vi(b, 0, "k", 1, 3, qd);
                vi(b, 0, "v", 1, 3, qd);
                if (c->mask)
                        vi(b, 0, "mask", 1, 3, m3);
                attr_perm(b, node(b, NULL, "Transpose", "k", "kt"), 3, p021);
                node(b, NULL, "MatMul", "q,kt", "mm");
        } else {
                vi(b, 0, "x", 1, 3, xd);
                if (c->mask) {
                        if (c->brk == B_ROW_MASK) {
                                md[2] = s;
                                md[3] = 1;
                        }
                        vi(b, 0, "mask", 1, 4, md);
                }
                init(b, "wq", 2, wd, d->wq, 1);
                init(b, "wk", 2, wd, d->wk, 1);
                init(b, "wv", 2, wd, d->wv, 1);
                init_i64(b, "hs", 1, &four, hs);
                init_i64(b, "ms", 1, &three, ms);
                node(b, NULL, "MatMul", "x,wq", "q0");
                node(b, NULL, "MatMul", "x,wk", "k0");
                node(b, NULL, "MatMul", "x,wv", "v0");
                node(b, NULL, "Reshape", "q0,hs", "q1");
                node(b, NULL, "Reshape", "k0,hs", "k1");
                node(b, NULL, "Reshape", "v0,hs", "v1");
                attr_perm(b, node(b, NULL, "Transpose", "q1", "q"), 4, p0213);
                if (c->k2) {
                        attr_perm(b, node(b, NULL, "Transpose", "k1", "ka"), 4, p0213);
                        attr_perm(b, node(b, NULL, "Transpose", "ka", "kt"), 4, p0132);
                } else {
                        attr_perm(b, node(b, NULL, "Transpose", "k1", "kt"), 4, p0231);
                }
                attr_perm(b, node(b, NULL, "Transpose", "v1", "v"), 4, p0213);
                node(b, NULL, "MatMul", "q,kt", "mm");
        }
        if (c->brk == B_VEC_SCALE) {
                init(b, "c", 1, &sd, d->vscale, 1);
                node(b, NULL, "Mul", "mm,c", "sc");
                sc = "sc";
        } else if (c->scale) {
                scalar_f(b, "c", c->scale == 2 ? 1.0f / d->scale : d->scale);
                node(b, NULL, c->scale == 2 ? "Div" : "Mul",
                     c->scale == 3 ? "c,mm" : "mm,c", "sc");
                sc = "sc";
        }
        if (c->pbias) {
                int64_t pd[4] = {1, c->heads, s, s};
                char in[32];
                init(b, "pb", 4, pd, d->pb, 1);
                snprintf(in, sizeof(in), "%s,pb", sc);
                node(b, NULL, "Add", in, "sc_pb");
                sc = "sc_pb";
        }
        if (c->mask) {
                char in[32];
                snprintf(in, sizeof(in), "%s,mask", sc);
                node(b, NULL, "Add", in, "sm_in");
                sc = "sm_in";
        }
        attr_i(b, node(b, NULL, "Softmax", sc, "p"), "axis",
               c->brk == B_AXIS ? 2 : -1);
        if (c->guard) {
                scalar_f(b, "zero", 0.0f);
                node(b, NULL, "IsNaN", "p", "pn");
                node(b, NULL, "Where", "pn,zero,p", "pg");
        }
        if (c->rank3) {
                node(b, NULL, "MatMul", c->guard ? "pg,v" : "p,v", "y");
                vi(b, 1, "y", 1, 3, (const int64_t[]){-1, s, c->dh});
        } else {
                node(b, NULL, "MatMul", c->guard ? "pg,v" : "p,v", "o");
                attr_perm(b, node(b, NULL, "Transpose", "o", "o2"), 4, p0213);
                node(b, NULL, "Reshape", "o2,ms", "y");
                vi(b, 1, "y", 1, 3, yd);
        }
        if (c->brk == B_SCORES_OUT) {
                int64_t pd[4] = {-1, c->heads, s, s};
                vi(b, 1, "p", 1, 4, pd);
        }
}

/* The reference in double: y[r, i, h*D + d] for one row r. */
static void ref_attn(const acase_t *c, const adata_t *d, int rows,
                     const float *x, const float *q3, const float *k3,
                     const float *v3, const float *mask, double *y) {
        int s = d->s, e = d->e, hd = c->dh, nh = c->heads;
        int w = c->rank3 ? hd : e;
        double *q = calloc((size_t)s * (size_t)w, sizeof(double));
        double *k = calloc((size_t)s * (size_t)w, sizeof(double));
        double *v = calloc((size_t)s * (size_t)w, sizeof(double));
        double *sc = calloc((size_t)s * (size_t)s, sizeof(double));

        if (!q || !k || !v || !sc)
                abort();
        for (int r = 0; r < rows; r++) {
                for (int t = 0; t < s; t++)
                        for (int o = 0; o < w; o++) {
                                double aq = 0, ak = 0, av = 0;
                                if (c->rank3) {
                                        size_t at = ((size_t)r * (size_t)s +
                                                     (size_t)t) * (size_t)w +
                                                    (size_t)o;
                                        aq = q3[at];
                                        ak = k3[at];
                                        av = v3[at];
                                } else {
                                        for (int i = 0; i < e; i++) {
                                                double xv = x[((size_t)r * s +
                                                               t) * e + i];
                                                aq += xv * d->wq[i * e + o];
                                                ak += xv * d->wk[i * e + o];
                                                av += xv * d->wv[i * e + o];
                                        }
                                }
                                q[t * w + o] = aq;
                                k[t * w + o] = ak;
                                v[t * w + o] = av;
                        }
                for (int h = 0; h < nh; h++) {
                        /* B_AXIS normalises over i (axis 2) instead of j */
                        for (int i = 0; i < s; i++)
                                for (int j = 0; j < s; j++) {
                                        double a = 0;
                                        for (int dd = 0; dd < hd; dd++)
                                                a += q[i * w + h * hd + dd] *
                                                     k[j * w + h * hd + dd];
                                        if (c->brk == B_VEC_SCALE)
                                                a *= d->vscale[j];
                                        else if (c->scale == 2)
                                                a /= (double)(1.0f / d->scale);
                                        else if (c->scale)
                                                a *= d->scale;
                                        if (c->pbias)
                                                a += d->pb[(h * s + i) * s + j];
                                        if (c->mask && c->brk == B_ROW_MASK)
                                                a += mask[r * s + i];
                                        else if (c->mask)
                                                a += mask[r * s + j];
                                        sc[i * s + j] = a;
                                }
                        for (int i = 0; i < s; i++) {
                                double mx = -INFINITY, sum = 0;
                                for (int j = 0; j < s; j++) {
                                        double a = c->brk == B_AXIS
                                                   ? sc[j * s + i]
                                                   : sc[i * s + j];
                                        mx = a > mx ? a : mx;
                                }
                                for (int j = 0; j < s; j++) {
                                        double *a = c->brk == B_AXIS
                                                    ? &sc[j * s + i]
                                                    : &sc[i * s + j];
                                        *a = exp(*a - mx);
                                        sum += *a;
                                }
                                for (int j = 0; j < s; j++)
                                        *(c->brk == B_AXIS ? &sc[j * s + i]
                                          : &sc[i * s + j]) /= sum;
                                /* every key at -inf: NaN, the guard's 0 */
                                for (int j = 0; c->guard && sum != sum &&
                                     j < s; j++)
                                        sc[i * s + j] = 0;
                        }
                        for (int i = 0; i < s; i++)
                                for (int dd = 0; dd < hd; dd++) {
                                        double a = 0;
                                        for (int j = 0; j < s; j++)
                                                a += sc[i * s + j] *
                                                     v[j * w + h * hd + dd];
                                        y[((size_t)r * s + i) * w + h * hd +
                                          dd] = a;
                                }
                }
        }
        free(q);
        free(k);
        free(v);
        free(sc);
}

static void run_case(const acase_t *c, swarm_backend_t *be1,
                     swarm_backend_t *be2, swarm_backend_t *plain) {
        swarm_backend_t *bes[3] = {be1, be2, plain};
        const char *bname[3] = {"1 lane", "2 lanes", "unfused"};
        adata_t d;
        uint32_t seed = 12345u + (uint32_t)c->seq * 7u + (uint32_t)c->heads;
        int s = c->seq, e = c->heads * c->dh, w = c->rank3 ? c->dh : e;
        int steps[3] = {0, 0, 0};
        size_t xn = (size_t)MAXR * (size_t)s * (size_t)w;
        float *x = calloc(xn, sizeof(float)), *q3 = calloc(xn, sizeof(float));
        float *k3 = calloc(xn, sizeof(float)), *v3 = calloc(xn, sizeof(float));
        float *mask = calloc((size_t)MAXR * (size_t)s, sizeof(float));
        double *want = calloc(xn, sizeof(double));

        memset(&d, 0, sizeof(d));
        d.e = e;
        d.s = s;
        d.scale = 1.0f / sqrtf((float)c->dh);
        d.wq = calloc((size_t)e * (size_t)e, sizeof(float));
        d.wk = calloc((size_t)e * (size_t)e, sizeof(float));
        d.wv = calloc((size_t)e * (size_t)e, sizeof(float));
        d.vscale = calloc((size_t)s, sizeof(float));
        d.pb = calloc((size_t)c->heads * (size_t)s * (size_t)s,
                      sizeof(float));
        if (!x || !q3 || !k3 || !v3 || !mask || !want || !d.wq || !d.wk ||
            !d.wv || !d.vscale || !d.pb)
                abort();
        for (int i = 0; i < c->heads * s * s; i++)
                d.pb[i] = pr(&seed) * 2.0f;
        for (int i = 0; i < e * e; i++) {
                d.wq[i] = pr(&seed);
                d.wk[i] = pr(&seed);
                d.wv[i] = pr(&seed);
        }
        for (int i = 0; i < s; i++)
                d.vscale[i] = 0.3f + 0.1f * (float)(i % 5);
        for (size_t i = 0; i < xn; i++) {
                x[i] = pr(&seed);
                q3[i] = pr(&seed);
                k3[i] = pr(&seed);
                v3[i] = pr(&seed);
        }
        /* Row r keeps its first s - r positions (at least one), the rest
         * masked with float's lowest as the exporters' masks are. */
        for (int r = 0; r < MAXR; r++)
                for (int j = 0; j < s; j++)
                        mask[r * s + j] = j < (s - r > 1 ? s - r : 1)
                                          ? 0.0f : -3.4028234664e38f;
        for (int j = 0; c->guard && j < s; j++)
                mask[(MAXR - 1) * s + j] = -INFINITY;
        for (int rows = 1; rows <= MAXR; rows += 2) {
                double mx = 0;
                ref_attn(c, &d, rows, x, q3, k3, v3, mask, want);
                for (size_t i = 0; i < (size_t)rows * s * w; i++)
                        mx = fabs(want[i]) > mx ? fabs(want[i]) : mx;
                for (int bi = 0; bi < 3; bi++) {
                        bld_t b;
                        swarm_model_t *m = NULL;
                        swarm_err_t err;
                        const void *in[4], *out[2] = {NULL, NULL};
                        int ni = 0, bad = 0;
                        double worst = 0;

                        bld_init(&b, 17);
                        build_attn(&b, c, &d);
                        if (load(&b, bes[bi], &m, &err) != SWARM_OK) {
                                CHECK(0, "%s (%s): load: %s", c->name,
                                      bname[bi], err.msg);
                                bld_free(&b);
                                continue;
                        }
                        steps[bi] = swarm_model_n_steps(m);
                        if (c->rank3) {
                                in[ni++] = q3;
                                in[ni++] = k3;
                                in[ni++] = v3;
                        } else {
                                in[ni++] = x;
                        }
                        if (c->mask)
                                in[ni++] = mask;
                        swarm_err_clear(&err);
                        CHECK_OK(swarm_model_run(m, rows, in, out, &err),
                                 err);
                        for (size_t i = 0; out[0] &&
                             i < (size_t)rows * s * w; i++) {
                                double df = fabs(((const float *)out[0])[i] -
                                                 want[i]);
                                worst = df > worst ? df : worst;
                                bad += !(df <= 1e-4 * mx + 1e-6);
                        }
                        CHECK(out[0] && bad == 0,
                              "%s (%s) rows %d: %d values off, worst %g "
                              "(max %g)", c->name, bname[bi], rows, bad,
                              worst, mx);
                        swarm_model_destroy(m);
                        bld_free(&b);
                }
                if (c->fused_steps)
                        CHECK(steps[0] == c->fused_steps &&
                              steps[1] == c->fused_steps &&
                              steps[2] > c->fused_steps,
                              "%s: steps %d / %d fused, %d unfused, want %d",
                              c->name, steps[0], steps[1], steps[2],
                              c->fused_steps);
                else
                        CHECK(steps[0] == steps[2] && steps[1] == steps[2],
                              "%s: must not fuse: steps %d / %d, unfused %d",
                              c->name, steps[0], steps[1], steps[2]);
        }
        free(x);
        free(q3);
        free(k3);
        free(v3);
        free(mask);
        free(want);
        free(d.wq);
        free(d.wk);
        free(d.wv);
        free(d.vscale);
        free(d.pb);
}

/* ---- GELU ---- */

/* The two GELU tests' model: x [R, K] -> MatMul(w [K, N]) + bias = h,
 * then the activation's chain, which build() adds reading "h" and
 * writing "y". */
enum { G_K = 8, G_N = 16, G_R = 3 };

typedef struct gelu_data {
        float w[G_K * G_N], bias[G_N], x[G_R * G_K];
} gelu_data_t;

/* Load on be, check the step count, run, compare every value with
 * ref(h, half) on the double h. */
static void gelu_check(swarm_backend_t *be, uint32_t seed,
                       void (*build)(bld_t *b, int variant, int order),
                       int variant, int order, float half,
                       double (*ref)(double h, double half), int want_steps,
                       const char *what) {
        bld_t bl, *b = &bl;
        gelu_data_t d;
        swarm_model_t *m = NULL;
        swarm_err_t err;
        const void *in[1] = {d.x}, *out[1] = {NULL};
        int64_t xd[2] = {-1, G_K}, wd[2] = {G_K, G_N}, nd = G_N;
        int64_t yd[2] = {-1, G_N};
        int bad = 0;

        bld_init(b, 17);
        for (int i = 0; i < G_K * G_N; i++)
                d.w[i] = pr(&seed) * 1.5f;
        for (int i = 0; i < G_N; i++)
                d.bias[i] = pr(&seed);
        for (int i = 0; i < G_R * G_K; i++)
                d.x[i] = pr(&seed) * 2.0f;
        vi(b, 0, "x", 1, 2, xd);
        init(b, "w", 2, wd, d.w, 1);
        init(b, "b", 1, &nd, d.bias, 1);
        scalar_f(b, "half", half);
        node(b, NULL, "MatMul", "x,w", "mm");
        node(b, NULL, "Add", "mm,b", "h");
        build(b, variant, order);
        vi(b, 1, "y", 1, 2, yd);
        CHECK(load(b, be, &m, &err) == SWARM_OK, "%s: %s", what, err.msg);
        if (m) {
                CHECK(swarm_model_n_steps(m) == want_steps,
                      "%s %d order %d half %g: %d steps, want %d", what,
                      variant, order, (double)half, swarm_model_n_steps(m),
                      want_steps);
                swarm_err_clear(&err);
                CHECK_OK(swarm_model_run(m, G_R, in, out, &err), err);
                for (int r = 0; out[0] && r < G_R; r++)
                        for (int j = 0; j < G_N; j++) {
                                double hv = d.bias[j], y;
                                for (int k = 0; k < G_K; k++)
                                        hv += (double)d.x[r * G_K + k] *
                                              d.w[k * G_N + j];
                                y = ref(hv, half);
                                bad += !(fabs(((const float *)out[0])
                                              [r * G_N + j] - y) <= 1e-5 +
                                         1e-5 * fabs(y));
                        }
                CHECK(out[0] && bad == 0, "%s %d order %d half %g: %d off",
                      what, variant, order, (double)half, bad);
        }
        swarm_model_destroy(m);
        bld_free(b);
}

static double gelu_erf_ref(double h, double half) {
        return half * h * (1.0 + erf(h / sqrt(2.0)));
}

/* order 0: Mul(x, add) then Mul(., 0.5) (TorchScript); 1: Mul(0.5, add)
 * then Mul(x, .) (dynamo). */
static void gelu_erf_build(bld_t *b, int variant, int order) {
        (void)variant;
        scalar_f(b, "sqrt2", 1.41421356237f);
        scalar_f(b, "one", 1.0f);
        node(b, NULL, "Div", "h,sqrt2", "hd");
        node(b, NULL, "Erf", "hd", "er");
        node(b, NULL, "Add", "er,one", "a1");
        if (order == 0) {
                node(b, NULL, "Mul", "h,a1", "t");
                node(b, NULL, "Mul", "t,half", "y");
        } else {
                node(b, NULL, "Mul", "half,a1", "t");
                node(b, NULL, "Mul", "h,t", "y");
        }
}

static double gelu_tanh_ref(double h, double half) {
        return half * h *
               (1.0 + tanh(0.7978845608 * (h + 0.044715 * h * h * h)));
}

/* The tanh form (GPT-2's NewGELUActivation): variant (cube) 0 Pow(h, 3),
 * 1 (h * h) * h; order 0 y = (h * half) * u (both exporters), 1 y =
 * (h * u) * half. */
static void gelu_tanh_build(bld_t *b, int cube, int order) {
        scalar_f(b, "three", 3.0f);
        scalar_f(b, "c2", 0.044715f);
        scalar_f(b, "c1", 0.7978845608f);
        scalar_f(b, "one", 1.0f);
        if (order == 0)
                node(b, NULL, "Mul", "h,half", "hh");
        if (cube == 0) {
                node(b, NULL, "Pow", "h,three", "p");
        } else {
                node(b, NULL, "Mul", "h,h", "sq");
                node(b, NULL, "Mul", "sq,h", "p");
        }
        node(b, NULL, "Mul", "c2,p", "q");
        node(b, NULL, "Add", "h,q", "r");
        node(b, NULL, "Mul", "r,c1", "s");
        node(b, NULL, "Tanh", "s", "t");
        node(b, NULL, "Add", "one,t", "u");
        if (order == 0) {
                node(b, NULL, "Mul", "hh,u", "y");
        } else {
                node(b, NULL, "Mul", "u,h", "hu");
                node(b, NULL, "Mul", "hu,half", "y");
        }
}

int main(void) {
        swarm_err_t err;
        swarm_backend_t *be1, *be2, plain;

        swarm_err_clear(&err);
        (void)swarm_backend_cpu_new(1, &be1, &err);
        (void)swarm_backend_cpu_new(2, &be2, &err);
        if (!be1 || !be2) {
                printf("backend: %s\n", err.msg);
                return 1;
        }
        if (!be1->attention) {
                printf("FAILED: the CPU backend has no attention entry\n");
                return 1;
        }
        /* The CPU kernels without `attention`: the unfused plan (one lane,
         * so the pool the copy does not own is never touched). */
        plain = *be1;
        plain.attention = NULL;
        plain.destroy = NULL;
        for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++)
                run_case(&CASES[i], be1, be2, &plain);
        for (int order = 0; order < 2; order++) {
                /* half 0.5 fuses (one GEMM step with the activation in its
                 * epilogue); 0.6 is not GELU: the chain's steps stay */
                gelu_check(be1, 99u, gelu_erf_build, 0, order, 0.5f,
                           gelu_erf_ref, 1, "gelu");
                gelu_check(be2, 99u, gelu_erf_build, 0, order, 0.5f,
                           gelu_erf_ref, 1, "gelu");
                gelu_check(be1, 99u, gelu_erf_build, 0, order, 0.6f,
                           gelu_erf_ref, 6, "gelu");
                for (int cube = 0; cube < 2; cube++) {
                        gelu_check(be1, 77u, gelu_tanh_build, cube, order,
                                   0.5f, gelu_tanh_ref, 1, "gelu tanh");
                        gelu_check(be2, 77u, gelu_tanh_build, cube, order,
                                   0.5f, gelu_tanh_ref, 1, "gelu tanh");
                        gelu_check(be1, 77u, gelu_tanh_build, cube, order,
                                   0.6f, gelu_tanh_ref, 9 + cube,
                                   "gelu tanh");
                }
        }
        swarm_backend_destroy(be1);
        swarm_backend_destroy(be2);
        TEST_DONE();
}
