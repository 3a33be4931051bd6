/*
 * cpu_rnn.c - fused RNN / GRU / LSTM for the CPU backend.
 *
 * Why fused: run as a host kernel, a recurrent node computed every gate of
 * every row and step as its own dot products in double (the GRU and LSTM
 * classifiers ran at 0.06-0.28 times onnxruntime's speed).  Here, per
 * direction:
 *   1. one GEMM projects the input of all seq * batch rows at once,
 *      X W^T plus both biases (GRU's recurrent h-gate bias stays out: it
 *      sits inside r * (...) with linear_before_reset);
 *   2. per step, one GEMM h R^T gives every gate's recurrent part for all
 *      rows (GRU without linear_before_reset: the z and r columns first,
 *      then (r * h) R_h^T), and one pass per row applies the gates, with
 *      the clip, peepholes, input_forget and activations of the node.
 * The weights are read in place: be->gemm takes W and R transposed, and
 * the GEMM packs them itself.  Rows past their sequence length keep their
 * state and their outputs stay 0.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_rnn.h"
#include "scalar_ops.h"
#include "swarm/tensor.h"

/* Per-ISA clones of the gate loops, as for backend_cpu.c's element-wise
 * kernels (baseline x86-64 build; ifunc picks the widest at load). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    defined(__linux__) && !defined(__SANITIZE_ADDRESS__)
#define RNN_CLONES __attribute__((target_clones("avx512f", "avx2", \
                                                "default")))
#else
#define RNN_CLONES
#endif

/* tanh without a libm call so the loops vectorise: 1 - 2 / (e^2x + 1)
 * through the clamped exp of scalar_ops.h, and the odd series near 0,
 * where that form loses the relative precision of small values. */
static inline float rnn_tanhf(float x) {
        float x2 = x * x;
        float small = x * (1.0f + x2 * (-0.333333333f + x2 *
                                         (0.133333333f - x2 * 0.053968254f)));
        float big = 1.0f - 2.0f / (swarm_expf_clamped(2.0f * x) + 1.0f);
        return x2 < 0.00390625f ? small : big;
}

/* p[i] = act(p[i]) over n values, after clamping to +-clip (clip > 0).
 * The switch is outside the loops so each loop vectorises. */
RNN_CLONES
static void act_span(swarm_rnn_act_t k, float a, float b, float clip,
                     float *restrict p, int64_t n) {
        if (clip > 0.0f)
                for (int64_t i = 0; i < n; i++)
                        p[i] = p[i] < -clip ? -clip : p[i] > clip ? clip
                                                                  : p[i];
        switch (k) {
        case SWARM_RNN_RELU:
                for (int64_t i = 0; i < n; i++)
                        p[i] = p[i] > 0.0f ? p[i] : 0.0f;
                break;
        case SWARM_RNN_TANH:
                for (int64_t i = 0; i < n; i++)
                        p[i] = rnn_tanhf(p[i]);
                break;
        case SWARM_RNN_SIGMOID:
                for (int64_t i = 0; i < n; i++)
                        p[i] = swarm_sigmoidf(p[i]);
                break;
        case SWARM_RNN_AFFINE:
                for (int64_t i = 0; i < n; i++)
                        p[i] = a * p[i] + b;
                break;
        case SWARM_RNN_LEAKY_RELU:
                for (int64_t i = 0; i < n; i++)
                        p[i] = p[i] < 0.0f ? a * p[i] : p[i];
                break;
        case SWARM_RNN_THRESHOLDED_RELU:
                for (int64_t i = 0; i < n; i++)
                        p[i] = p[i] > a ? p[i] : 0.0f;
                break;
        case SWARM_RNN_SCALED_TANH:
                for (int64_t i = 0; i < n; i++)
                        p[i] = a * rnn_tanhf(b * p[i]);
                break;
        case SWARM_RNN_HARD_SIGMOID:
                for (int64_t i = 0; i < n; i++) {
                        float v = a * p[i] + b;
                        p[i] = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
                }
                break;
        case SWARM_RNN_ELU:
                for (int64_t i = 0; i < n; i++)
                        p[i] = p[i] < 0.0f ? a * (expf(p[i]) - 1.0f) : p[i];
                break;
        case SWARM_RNN_SOFTSIGN:
                for (int64_t i = 0; i < n; i++)
                        p[i] = p[i] / (1.0f + fabsf(p[i]));
                break;
        case SWARM_RNN_SOFTPLUS:
                /* log1p(e^x) overflows past 88: x itself there. */
                for (int64_t i = 0; i < n; i++)
                        p[i] = p[i] > 30.0f ? p[i] : log1pf(expf(p[i]));
                break;
        }
}

RNN_CLONES
static void add_span(float *restrict p, const float *restrict q, int64_t n) {
        for (int64_t i = 0; i < n; i++)
                p[i] += q[i];
}

/* Everything one direction's steps read. */
typedef struct rnn_dir {
        const swarm_rnn_t *r;
        int d, G;
        int64_t H, GH;
        const swarm_rnn_act_t *act;
        const float *alpha, *beta;
        const float *rbh;       /* GRU: recurrent h-gate bias (NULL: 0) */
        const float *P;         /* LSTM peepholes [i, o, f] (NULL: none) */
} rnn_dir_t;

/* Row offset of (t, b) in x-ordered matrices (the projected input). */
static inline int64_t xrow(const swarm_rnn_t *r, int64_t t, int64_t b) {
        return r->layout ? b * r->seq + t : t * r->batch + b;
}

/* Element offset of (t, b) in y of direction d. */
static inline int64_t yoff(const swarm_rnn_t *r, int d, int64_t t,
                           int64_t b) {
        return (r->layout ? (b * r->seq + t) * r->dirs + d
                          : (t * r->dirs + d) * r->batch + b) * r->hidden;
}

/* Element offset of row b in the [dirs, batch, hidden] states. */
static inline int64_t soff(const swarm_rnn_t *r, int d, int64_t b) {
        return (r->layout ? b * r->dirs + d : d * r->batch + b) * r->hidden;
}

/* One row's gates.  g: its gate pre-activations (the recurrent part, G *
 * H, overwritten), xw: its projected input, h / c: its state.  For GRU
 * without linear_before_reset this is phase 2 (g's z and r columns hold
 * the gates already, g's h columns (r * h) R_h^T). */
RNN_CLONES
static void row_gates(const rnn_dir_t *j, float *restrict g,
                      const float *restrict xw, float *restrict h,
                      float *restrict c) {
        const swarm_rnn_t *r = j->r;
        int64_t H = j->H;
        float clip = r->clip;

        if (r->kind == 0) {
                add_span(g, xw, H);
                act_span(j->act[0], j->alpha[0], j->beta[0], clip, g, H);
                memcpy(h, g, (size_t)H * sizeof(float));
        } else if (r->kind == 1) {
                float *z = g, *rg = g + H, *hh = g + 2 * H;
                if (r->linear_before_reset) {
                        add_span(g, xw, 2 * H);
                        act_span(j->act[0], j->alpha[0], j->beta[0], clip, g,
                                 2 * H);
                        if (j->rbh)
                                add_span(hh, j->rbh, H);
                        for (int64_t k = 0; k < H; k++)
                                hh[k] = xw[2 * H + k] + rg[k] * hh[k];
                } else {
                        add_span(hh, xw + 2 * H, H);
                        if (j->rbh)
                                add_span(hh, j->rbh, H);
                }
                act_span(j->act[1], j->alpha[1], j->beta[1], clip, hh, H);
                for (int64_t k = 0; k < H; k++)
                        h[k] = hh[k] + z[k] * (h[k] - hh[k]);
        } else {
                float *gi = g, *go = g + H, *gf = g + 2 * H, *gc = g + 3 * H;
                const float *P = j->P;
                add_span(g, xw, 4 * H);
                if (P)
                        for (int64_t k = 0; k < H; k++) {
                                gi[k] += P[k] * c[k];
                                gf[k] += P[2 * H + k] * c[k];
                        }
                act_span(j->act[0], j->alpha[0], j->beta[0], clip, gi, H);
                if (r->input_forget)
                        for (int64_t k = 0; k < H; k++)
                                gf[k] = 1.0f - gi[k];
                else
                        act_span(j->act[0], j->alpha[0], j->beta[0], clip,
                                 gf, H);
                act_span(j->act[1], j->alpha[1], j->beta[1], clip, gc, H);
                for (int64_t k = 0; k < H; k++)
                        c[k] = gf[k] * c[k] + gi[k] * gc[k];
                if (P)
                        for (int64_t k = 0; k < H; k++)
                                go[k] += P[H + k] * c[k];
                act_span(j->act[0], j->alpha[0], j->beta[0], clip, go, H);
                /* gf is free now: h's activation of c goes there */
                memcpy(gf, c, (size_t)H * sizeof(float));
                act_span(j->act[2], j->alpha[2], j->beta[2], 0.0f, gf, H);
                for (int64_t k = 0; k < H; k++)
                        h[k] = go[k] * gf[k];
        }
}

/* GRU without linear_before_reset, phase 1: z and r of one row (in g),
 * then r * h into rh for the second recurrent GEMM. */
RNN_CLONES
static void row_gru_zr(const rnn_dir_t *j, float *restrict g,
                       const float *restrict xw, const float *restrict h,
                       float *restrict rh) {
        int64_t H = j->H;
        add_span(g, xw, 2 * H);
        act_span(j->act[0], j->alpha[0], j->beta[0], j->r->clip, g, 2 * H);
        for (int64_t k = 0; k < H; k++)
                rh[k] = g[H + k] * h[k];
}

static int64_t len_of(const swarm_rnn_t *r, int64_t b) {
        if (!r->seq_lens)
                return r->seq;
        return r->seq_lens64 ? ((const int64_t *)r->seq_lens)[b]
                             : ((const int32_t *)r->seq_lens)[b];
}

/* Sizes of the scratch, in floats, each checked. */
typedef struct rnn_sizes {
        int64_t xw, hr, st, bias;
} rnn_sizes_t;

static int check(const swarm_rnn_t *r, int G, rnn_sizes_t *s,
                 swarm_err_t *err) {
        int64_t GH, t;

        if (r->kind < 0 || r->kind > 2 || r->dirs < 1 || r->dirs > 2 ||
            r->layout < 0 || r->layout > 1 || r->seq < 0 || r->batch < 0 ||
            r->input < 0 || r->hidden < 1 || !r->x || !r->w || !r->r)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "rnn: bad descriptor (kind %d, %d "
                                     "directions, hidden %lld)", r->kind,
                                     r->dirs, (long long)r->hidden);
        for (int d = 0; d < r->dirs; d++)
                for (int k = 0; k < 3; k++)
                        if ((unsigned)r->act[d][k] >
                            (unsigned)SWARM_RNN_SOFTPLUS)
                                return swarm_err_set(err, SWARM_ERR_INVALID,
                                                     "rnn: bad activation");
        /* every product a loop below forms, checked once here; the GEMM
         * takes int32 dimensions */
        if (swarm_mul_i64(G, r->hidden, &GH) ||
            swarm_mul_i64(r->seq, r->batch, &t) ||
            swarm_mul_i64(t, GH, &s->xw) ||
            swarm_mul_i64(t, (int64_t)r->dirs * r->hidden, &t) ||
            swarm_mul_i64(r->batch, GH, &s->hr) ||
            swarm_mul_i64(r->batch, r->hidden, &s->st) ||
            swarm_mul_i64(GH, r->input > r->hidden ? r->input : r->hidden,
                          &t) ||
            swarm_mul_i64(t, r->dirs, &t) ||
            s->xw > SWARM_ELEMS_MAX || s->hr > SWARM_ELEMS_MAX ||
            t > SWARM_ELEMS_MAX || r->seq * r->batch > INT32_MAX ||
            GH > INT32_MAX)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "rnn: %lld steps x %lld rows x %d x "
                                     "%lld hidden is too large",
                                     (long long)r->seq, (long long)r->batch,
                                     G, (long long)r->hidden);
        s->bias = GH;
        for (int64_t b = 0; b < r->batch; b++) {
                int64_t l = len_of(r, b);
                if (l < 0 || l > r->seq)
                        return swarm_err_set(err, SWARM_ERR_INVALID,
                                             "rnn: sequence_lens[%lld] = "
                                             "%lld is outside [0, %lld]",
                                             (long long)b, (long long)l,
                                             (long long)r->seq);
        }
        return SWARM_OK;
}

static int run_dir(swarm_backend_t *be, const swarm_rnn_t *r, int d, int G,
                   float *xw, float *hr, float *h, float *c, float *rh,
                   float *bias, swarm_err_t *err) {
        int64_t H = r->hidden, GH = G * H, B = r->batch, T = r->seq;
        int64_t I = r->input, maxlen = 0;
        int rev = r->dirs == 2 ? d == 1 : r->reverse;
        int gru0 = r->kind == 1 && !r->linear_before_reset;
        const float *Bd = r->b ? (const float *)r->b + d * 2 * GH : NULL;
        const float *h0 = r->h0, *c0 = r->c0;
        float *y = r->y, *yh = r->yh, *yc = r->yc;
        rnn_dir_t j;
        swarm_gemm_t g;
        int rc;

        memset(&j, 0, sizeof(j));
        j.r = r;
        j.d = d;
        j.G = G;
        j.H = H;
        j.GH = GH;
        j.act = r->act[d];
        j.alpha = r->act_alpha[d];
        j.beta = r->act_beta[d];
        j.rbh = r->kind == 1 && Bd ? Bd + GH + 2 * H : NULL;
        j.P = r->kind == 2 && r->p ? (const float *)r->p + d * 3 * H : NULL;
        /* 1. the input projection of every step, biases included */
        if (Bd)
                for (int64_t q = 0; q < GH; q++)
                        bias[q] = Bd[q] + (r->kind == 1 && q >= 2 * H
                                           ? 0.0f : Bd[GH + q]);
        memset(&g, 0, sizeof(g));
        g.trans_b = 1;
        g.m = T * B;
        g.n = GH;
        g.k = I;
        g.alpha = 1.0f;
        g.beta = 1.0f;
        g.a = r->x;
        g.lda = I;
        g.b = r->w;
        g.b_off = d * GH * I;
        g.ldb = I;
        g.bias = Bd ? bias : NULL;
        g.bias_mode = Bd ? SWARM_BIAS_ROW : SWARM_BIAS_NONE;
        g.c = xw;
        g.ldc = GH;
        if ((rc = be->gemm(be, &g, err)))
                return rc;
        /* 2. the state */
        for (int64_t b = 0; b < B; b++) {
                int64_t l = len_of(r, b);
                maxlen = l > maxlen ? l : maxlen;
                if (h0)
                        memcpy(h + b * H, h0 + soff(r, d, b),
                               (size_t)H * sizeof(float));
                else
                        memset(h + b * H, 0, (size_t)H * sizeof(float));
                if (r->kind == 2 && c0)
                        memcpy(c + b * H, c0 + soff(r, d, b),
                               (size_t)H * sizeof(float));
                else if (r->kind == 2)
                        memset(c + b * H, 0, (size_t)H * sizeof(float));
                /* outputs past the row's length are 0 */
                for (int64_t t = l; y && t < T; t++)
                        memset(y + yoff(r, d, t, b), 0,
                               (size_t)H * sizeof(float));
        }
        /* 3. the steps: one recurrent GEMM for all rows, then the gates */
        memset(&g, 0, sizeof(g));
        g.trans_b = 1;
        g.m = B;
        g.n = gru0 ? 2 * H : GH;
        g.k = H;
        g.alpha = 1.0f;
        g.a = h;
        g.lda = H;
        g.b = r->r;
        g.b_off = d * GH * H;
        g.ldb = H;
        g.c = hr;
        g.ldc = GH;
        for (int64_t s = 0; s < maxlen; s++) {
                if ((rc = be->gemm(be, &g, err)))
                        return rc;
                if (gru0) {
                        swarm_gemm_t g2 = g;
                        for (int64_t b = 0; b < B; b++) {
                                int64_t l = len_of(r, b);
                                int64_t t = rev ? l - 1 - s : s;
                                if (s < l)
                                        row_gru_zr(&j, hr + b * GH,
                                                   xw + xrow(r, t, b) * GH,
                                                   h + b * H, rh + b * H);
                                else
                                        memset(rh + b * H, 0,
                                               (size_t)H * sizeof(float));
                        }
                        g2.n = H;
                        g2.a = rh;
                        g2.b_off = d * GH * H + 2 * H * H;
                        g2.c_off = 2 * H;
                        if ((rc = be->gemm(be, &g2, err)))
                                return rc;
                }
                for (int64_t b = 0; b < B; b++) {
                        int64_t l = len_of(r, b);
                        int64_t t = rev ? l - 1 - s : s;
                        if (s >= l)
                                continue;
                        row_gates(&j, hr + b * GH, xw + xrow(r, t, b) * GH,
                                  h + b * H, c + b * H);
                        if (y)
                                memcpy(y + yoff(r, d, t, b), h + b * H,
                                       (size_t)H * sizeof(float));
                }
        }
        for (int64_t b = 0; b < B; b++) {
                if (yh)
                        memcpy(yh + soff(r, d, b), h + b * H,
                               (size_t)H * sizeof(float));
                if (yc)
                        memcpy(yc + soff(r, d, b), c + b * H,
                               (size_t)H * sizeof(float));
        }
        return SWARM_OK;
}

int exec_cpu_rnn(swarm_backend_t *be, const swarm_rnn_t *r,
                 swarm_err_t *err) {
        int G = r ? (r->kind == 0 ? 1 : r->kind == 1 ? 3 : 4) : 1;
        rnn_sizes_t s = {0, 0, 0, 0};
        float *buf, *xw, *hr, *h, *c, *rh, *bias;
        int64_t total;
        int rc = SWARM_OK;

        if (!r)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "rnn: no descriptor");
        if ((rc = check(r, G, &s, err)))
                return rc;
        /* xw, hr, then h, c, rh (st each), bias; +1 keeps it non-empty */
        if (swarm_mul_i64(s.st, 3, &total) ||
            swarm_add_i64(total, s.xw, &total) ||
            swarm_add_i64(total, s.hr, &total) ||
            swarm_add_i64(total, s.bias + 1, &total) ||
            total > SWARM_ELEMS_MAX)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "rnn: scratch too large");
        buf = malloc((size_t)total * sizeof(float));
        if (!buf)
                return swarm_err_set(err, SWARM_ERR_NOMEM,
                                     "rnn: out of memory (%lld floats)",
                                     (long long)total);
        xw = buf;
        hr = xw + s.xw;
        h = hr + s.hr;
        c = h + s.st;
        rh = c + s.st;
        bias = rh + s.st;
        for (int d = 0; d < r->dirs && !rc; d++)
                rc = run_dir(be, r, d, G, xw, hr, h, c, rh, bias, err);
        free(buf);
        return rc;
}
