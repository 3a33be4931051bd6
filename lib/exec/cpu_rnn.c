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
 *   2. per step, one product h R^T gives every gate's recurrent part for
 *      all rows (GRU without linear_before_reset: the z and r columns
 *      first, then (r * h) R_h^T), and one fused pass per row applies the
 *      gates, with the clip, peepholes, input_forget and activations of
 *      the node.
 * W is read in place (be->gemm takes it transposed); R is transposed once
 * per call (H x G*H floats, small next to the steps) so each step's
 * product streams along the gates.  Rows past their sequence length keep
 * their state and their outputs are 0.  With several lanes the rows (and
 * directions) of a large node run in parallel through the whole sequence:
 * rows never read each other's state.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_gemm.h"
#include "cpu_par.h"
#include "cpu_rnn.h"
#include "cpu_vexp.h"
#include "scalar_ops.h"
#include "swarm/tensor.h"

/* Per-ISA clones of the gate loops, as for backend_cpu.c's element-wise
 * kernels (baseline x86-64 build; ifunc picks the widest at load). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    defined(__linux__) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(__SANITIZE_THREAD__)
#define RNN_CLONES __attribute__((target_clones("avx512f", "avx2", \
                                                "default")))
#else
#define RNN_CLONES
#endif

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
                        p[i] = swarm_tanhf_fast(p[i]);
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
                        p[i] = a * swarm_tanhf_fast(b * p[i]);
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

/* ---- the default activations, one fused loop per row ----
 * Sigmoid and tanh (LSTM and GRU's defaults, RNN's tanh) inline, so each
 * row is one pass over its gates with everything in registers; the span
 * path above serves every other activation.  cl: the clip, or +inf. */

static inline float clampf(float v, float cl) {
        return v < -cl ? -cl : v > cl ? cl : v;
}

RNN_CLONES
static void fast_lstm(int64_t H, float cl, int ifg, const float *restrict g,
                      const float *restrict xw, const float *restrict P,
                      float *restrict h, float *restrict c) {
        for (int64_t k = 0; k < H; k++) {
                float ck = c[k];
                float vi = clampf(g[k] + xw[k] + P[k] * ck, cl);
                float vf = clampf(g[2 * H + k] + xw[2 * H + k] +
                                  P[2 * H + k] * ck, cl);
                float vc = clampf(g[3 * H + k] + xw[3 * H + k], cl);
                float it = swarm_sigmoidf(vi);
                float ft = ifg ? 1.0f - it : swarm_sigmoidf(vf);
                float cn = ft * ck + it * swarm_tanhf_fast(vc);
                float vo = clampf(g[H + k] + xw[H + k] + P[H + k] * cn, cl);
                c[k] = cn;
                h[k] = swarm_sigmoidf(vo) * swarm_tanhf_fast(cn);
        }
}

/* GRU, linear_before_reset = 1: rbh is the recurrent h-gate bias. */
RNN_CLONES
static void fast_gru1(int64_t H, float cl, const float *restrict g,
                      const float *restrict xw, const float *restrict rbh,
                      float *restrict h) {
        for (int64_t k = 0; k < H; k++) {
                float z = swarm_sigmoidf(clampf(g[k] + xw[k], cl));
                float r = swarm_sigmoidf(clampf(g[H + k] + xw[H + k], cl));
                float hh = swarm_tanhf_fast(clampf(xw[2 * H + k] +
                                            r * (g[2 * H + k] + rbh[k]), cl));
                h[k] = hh + z * (h[k] - hh);
        }
}

/* GRU, linear_before_reset = 0, phase 1: z into g, r * h into rh. */
RNN_CLONES
static void fast_gru0_zr(int64_t H, float cl, float *restrict g,
                         const float *restrict xw, const float *restrict h,
                         float *restrict rh) {
        for (int64_t k = 0; k < H; k++) {
                float r = swarm_sigmoidf(clampf(g[H + k] + xw[H + k], cl));
                g[k] = swarm_sigmoidf(clampf(g[k] + xw[k], cl));
                rh[k] = r * h[k];
        }
}

/* Phase 2: g's h columns hold (r * h) R_h^T. */
RNN_CLONES
static void fast_gru0_h(int64_t H, float cl, const float *restrict g,
                        const float *restrict xw, const float *restrict rbh,
                        float *restrict h) {
        for (int64_t k = 0; k < H; k++) {
                float hh = swarm_tanhf_fast(clampf(xw[2 * H + k] + g[2 * H + k] +
                                            rbh[k], cl));
                h[k] = hh + g[k] * (h[k] - hh);
        }
}

RNN_CLONES
static void fast_rnn(int64_t H, float cl, const float *restrict g,
                     const float *restrict xw, float *restrict h) {
        for (int64_t k = 0; k < H; k++)
                h[k] = swarm_tanhf_fast(clampf(g[k] + xw[k], cl));
}

/* out[b, 0..n) = h[b, :] Rt[:, 0..n) for b < rows: the recurrent product
 * of one step with Rt = R^T ([H, ldr]) packed once per call.  Why not
 * sgemm: at these sizes (a few rows, H of tens) OpenBLAS re-packed R on
 * every step and its call overhead was most of the product.  The portable
 * loop; rec_mm_512 and rec_mm_256 below are the ones x86-64 machines with
 * AVX-512 or AVX2 run. */
RNN_CLONES
static void rec_mm_any(const float *restrict h, int64_t rows, int64_t H,
                       const float *restrict Rt, int64_t ldr, int64_t n,
                       const float *restrict bias, float *restrict out,
                       int64_t ldo) {
        for (int64_t b = 0; b < rows; b++) {
                float *restrict o = out + b * ldo;
                const float *restrict hb = h + b * H;
                for (int64_t q = 0; q < n; q++)
                        o[q] = bias ? bias[q] : 0.0f;
                for (int64_t k = 0; k < H; k++) {
                        float hk = hb[k];
                        const float *restrict rk = Rt + k * ldr;
                        for (int64_t q = 0; q < n; q++)
                                o[q] += hk * rk[q];
                }
        }
}

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#include "cpu_lanes.h"
#define RNN_X86 1

static inline __mmask16 tail_mask(int64_t left) {
        return left >= 16 ? (__mmask16)0xffff
               : left > 0 ? (__mmask16)((1u << left) - 1u) : 0;
}

/* Four rows times 32 columns in registers per pass over k (8 FMA
 * accumulators; each R^T vector loaded once for the four rows), so the
 * GRU's 96 and the LSTM's 128 gate columns split into whole blocks;
 * masked loads and stores for other widths.  Why intrinsics: with the ISO C
 * build's -ffp-contract=off the portable loop gets no FMA and keeps the
 * output row in memory, which made it slower than sgemm. */
__attribute__((target("avx512f")))
static void rec_4x32(const float *h, int64_t H, const float *Rt,
                     int64_t ldr, int64_t n, const float *bias, float *out,
                     int64_t ldo) {
        for (int64_t q = 0; q < n; q += 32) {
                __mmask16 m0 = tail_mask(n - q), m1 = tail_mask(n - q - 16);
                __m512 b0 = bias ? _mm512_maskz_loadu_ps(m0, bias + q)
                                 : _mm512_setzero_ps();
                __m512 b1 = bias ? _mm512_maskz_loadu_ps(m1, bias + q + 16)
                                 : _mm512_setzero_ps();
                __m512 a[8];
                for (int v = 0; v < 8; v++)
                        a[v] = v % 2 ? b1 : b0;
                for (int64_t k = 0; k < H; k++) {
                        const float *rk = Rt + k * ldr + q;
                        __m512 r0 = _mm512_maskz_loadu_ps(m0, rk);
                        __m512 r1 = _mm512_maskz_loadu_ps(m1, rk + 16);
                        for (int i = 0; i < 4; i++) {
                                __m512 x = _mm512_set1_ps(h[i * H + k]);
                                a[2 * i] = _mm512_fmadd_ps(x, r0, a[2 * i]);
                                a[2 * i + 1] = _mm512_fmadd_ps(x, r1,
                                                               a[2 * i + 1]);
                        }
                }
                for (int i = 0; i < 4; i++) {
                        _mm512_mask_storeu_ps(out + i * ldo + q, m0,
                                              a[2 * i]);
                        _mm512_mask_storeu_ps(out + i * ldo + q + 16, m1,
                                              a[2 * i + 1]);
                }
        }
}

/* One row times 64 columns (the last rows, and batch 1). */
__attribute__((target("avx512f")))
static void rec_1x64(const float *h, int64_t H, const float *Rt,
                     int64_t ldr, int64_t n, const float *bias, float *out) {
        for (int64_t q = 0; q < n; q += 64) {
                __mmask16 m[4];
                __m512 a[4];
                for (int v = 0; v < 4; v++) {
                        m[v] = tail_mask(n - q - 16 * v);
                        a[v] = bias ? _mm512_maskz_loadu_ps(m[v],
                                                            bias + q + 16 * v)
                                    : _mm512_setzero_ps();
                }
                for (int64_t k = 0; k < H; k++) {
                        const float *rk = Rt + k * ldr + q;
                        __m512 x = _mm512_set1_ps(h[k]);
                        for (int v = 0; v < 4; v++)
                                a[v] = _mm512_fmadd_ps(
                                        x, _mm512_maskz_loadu_ps(m[v],
                                                                 rk + 16 * v),
                                        a[v]);
                }
                for (int v = 0; v < 4; v++)
                        _mm512_mask_storeu_ps(out + q + 16 * v, m[v], a[v]);
        }
}

__attribute__((target("avx512f")))
static void rec_mm_512(const float *h, int64_t rows, int64_t H,
                       const float *Rt, int64_t ldr, int64_t n,
                       const float *bias, float *out, int64_t ldo) {
        int64_t b = 0;
        for (; b + 4 <= rows; b += 4)
                rec_4x32(h + b * H, H, Rt, ldr, n, bias, out + b * ldo, ldo);
        for (; b < rows; b++)
                rec_1x64(h + b * H, H, Rt, ldr, n, bias, out + b * ldo);
}
#endif

#ifdef RNN_X86
/* The gates of the two benchmark cells (LSTM, GRU with
 * linear_before_reset) with the default activations, 16 lanes at a time:
 * e^x by cpu_vexp.h (scalar_ops.h's polynomial with FMAs), 1 / d by
 * rcp14 and one Newton step (about 2^-28 relative), tanh as
 * 2 sigmoid(2x) - 1.  The auto-vectorised loops above do each division
 * and every multiply-add separately (no FMA contraction in ISO C mode);
 * these take half the instructions. */
__attribute__((target("avx512f")))
static inline __m512 sig512(__m512 v) {
        __m512 d = _mm512_add_ps(_mm512_set1_ps(1.0f),
                                 exec_exp512(_mm512_sub_ps(_mm512_setzero_ps(),
                                                      v)));
        __m512 q = _mm512_rcp14_ps(d);
        /* q (2 - d q) */
        return _mm512_mul_ps(q, _mm512_fnmadd_ps(d, q,
                                                 _mm512_set1_ps(2.0f)));
}

__attribute__((target("avx512f")))
static inline __m512 tanh512(__m512 v) {
        __m512 s = sig512(_mm512_add_ps(v, v));
        return _mm512_sub_ps(_mm512_add_ps(s, s), _mm512_set1_ps(1.0f));
}

__attribute__((target("avx512f")))
static inline __m512 clamp512(__m512 v, __m512 cl, __m512 ncl) {
        return _mm512_min_ps(_mm512_max_ps(v, ncl), cl);
}

#define LD(p, m) _mm512_maskz_loadu_ps((m), (p))

__attribute__((target("avx512f")))
static void lstm_512(int64_t H, float clf, int ifg, const float *g,
                     const float *xw, const float *P, float *h, float *c) {
        __m512 cl = _mm512_set1_ps(clf), ncl = _mm512_set1_ps(-clf);
        __m512 one = _mm512_set1_ps(1.0f);
        for (int64_t k = 0; k < H; k += 16) {
                int64_t left = H - k;
                __mmask16 m = left >= 16 ? (__mmask16)0xffff
                                         : (__mmask16)((1u << left) - 1u);
                __m512 ck = LD(c + k, m), it, ft, cn, vo;
                __m512 vi = _mm512_add_ps(LD(g + k, m), LD(xw + k, m));
                __m512 vf = _mm512_add_ps(LD(g + 2 * H + k, m),
                                          LD(xw + 2 * H + k, m));
                __m512 vc = _mm512_add_ps(LD(g + 3 * H + k, m),
                                          LD(xw + 3 * H + k, m));
                vi = _mm512_fmadd_ps(LD(P + k, m), ck, vi);
                vf = _mm512_fmadd_ps(LD(P + 2 * H + k, m), ck, vf);
                it = sig512(clamp512(vi, cl, ncl));
                ft = ifg ? _mm512_sub_ps(one, it)
                         : sig512(clamp512(vf, cl, ncl));
                cn = _mm512_fmadd_ps(ft, ck, _mm512_mul_ps(
                                             it, tanh512(clamp512(vc, cl,
                                                                  ncl))));
                vo = _mm512_add_ps(LD(g + H + k, m), LD(xw + H + k, m));
                vo = _mm512_fmadd_ps(LD(P + H + k, m), cn, vo);
                _mm512_mask_storeu_ps(c + k, m, cn);
                _mm512_mask_storeu_ps(h + k, m, _mm512_mul_ps(
                                              sig512(clamp512(vo, cl, ncl)),
                                              tanh512(cn)));
        }
}

__attribute__((target("avx512f")))
static void gru1_512(int64_t H, float clf, const float *g, const float *xw,
                     const float *rbh, float *h) {
        __m512 cl = _mm512_set1_ps(clf), ncl = _mm512_set1_ps(-clf);
        for (int64_t k = 0; k < H; k += 16) {
                int64_t left = H - k;
                __mmask16 m = left >= 16 ? (__mmask16)0xffff
                                         : (__mmask16)((1u << left) - 1u);
                __m512 z = sig512(clamp512(_mm512_add_ps(LD(g + k, m),
                                                         LD(xw + k, m)),
                                           cl, ncl));
                __m512 r = sig512(clamp512(
                        _mm512_add_ps(LD(g + H + k, m), LD(xw + H + k, m)),
                        cl, ncl));
                __m512 hg = _mm512_add_ps(LD(g + 2 * H + k, m),
                                          LD(rbh + k, m));
                __m512 hh = tanh512(clamp512(
                        _mm512_fmadd_ps(r, hg, LD(xw + 2 * H + k, m)), cl,
                        ncl));
                __m512 hk = LD(h + k, m);
                _mm512_mask_storeu_ps(h + k, m, _mm512_fmadd_ps(
                                              z, _mm512_sub_ps(hk, hh), hh));
        }
}
#undef LD

/* ---- the same kernels on 8 lanes (AVX2 + FMA machines: Zen 2 / 3,
 * Haswell to Alder Lake) ----
 * Without them these machines ran rec_mm_any and the auto-vectorised gate
 * loops: the GRU and LSTM classifiers at 0.19-0.32 times onnxruntime's
 * speed at batch 16 and 64 (bench/exec/README.md, Zen 3).  Four rows
 * times 16 columns (8 accumulators) and one row times 32; tails by
 * vmaskmov, full blocks by plain loads (the masked form is slower on
 * Zen). */
#define T_AVX2 __attribute__((target("avx2,fma")))

T_AVX2 static inline __attribute__((always_inline)) void
rec_4x16_body(const float *h, int64_t H, const float *Rt, int64_t ldr,
              const float *bias, float *out, int64_t ldo, int full,
              __m256i m0, __m256i m1) {
        __m256 b0 = bias ? exec_ld8(bias, full, m0) : _mm256_setzero_ps();
        __m256 b1 = bias ? exec_ld8(bias + 8, full, m1) : _mm256_setzero_ps();
        __m256 a[8];

        for (int v = 0; v < 8; v++)
                a[v] = v % 2 ? b1 : b0;
        for (int64_t k = 0; k < H; k++) {
                const float *rk = Rt + k * ldr;
                __m256 r0 = exec_ld8(rk, full, m0);
                __m256 r1 = exec_ld8(rk + 8, full, m1);
                for (int i = 0; i < 4; i++) {
                        __m256 x = _mm256_broadcast_ss(h + i * H + k);
                        a[2 * i] = _mm256_fmadd_ps(x, r0, a[2 * i]);
                        a[2 * i + 1] = _mm256_fmadd_ps(x, r1, a[2 * i + 1]);
                }
        }
        for (int i = 0; i < 4; i++) {
                exec_st8(out + i * ldo, full, m0, a[2 * i]);
                exec_st8(out + i * ldo + 8, full, m1, a[2 * i + 1]);
        }
}

T_AVX2 static void rec_4x16(const float *h, int64_t H, const float *Rt,
                            int64_t ldr, int64_t n, const float *bias,
                            float *out, int64_t ldo) {
        __m256i ones = _mm256_set1_epi32(-1);
        int64_t q = 0;

        for (; q + 16 <= n; q += 16)
                rec_4x16_body(h, H, Rt + q, ldr, bias ? bias + q : NULL,
                              out + q, ldo, 1, ones, ones);
        if (q < n)
                rec_4x16_body(h, H, Rt + q, ldr, bias ? bias + q : NULL,
                              out + q, ldo, 0, exec_lanes256(n - q),
                              exec_lanes256(n - q - 8));
}

T_AVX2 static inline __attribute__((always_inline)) void
rec_1x32_body(const float *h, int64_t H, const float *Rt, int64_t ldr,
              const float *bias, float *out, int full, const __m256i *m) {
        __m256 a[4];

        for (int v = 0; v < 4; v++)
                a[v] = bias ? exec_ld8(bias + 8 * v, full, m[v])
                            : _mm256_setzero_ps();
        for (int64_t k = 0; k < H; k++) {
                const float *rk = Rt + k * ldr;
                __m256 x = _mm256_broadcast_ss(h + k);
                for (int v = 0; v < 4; v++)
                        a[v] = _mm256_fmadd_ps(x, exec_ld8(rk + 8 * v, full,
                                                           m[v]),
                                               a[v]);
        }
        for (int v = 0; v < 4; v++)
                exec_st8(out + 8 * v, full, m[v], a[v]);
}

T_AVX2 static void rec_1x32(const float *h, int64_t H, const float *Rt,
                            int64_t ldr, int64_t n, const float *bias,
                            float *out) {
        __m256i m[4];
        int64_t q = 0;

        for (int v = 0; v < 4; v++)
                m[v] = _mm256_set1_epi32(-1);
        for (; q + 32 <= n; q += 32)
                rec_1x32_body(h, H, Rt + q, ldr, bias ? bias + q : NULL,
                              out + q, 1, m);
        if (q < n) {
                for (int v = 0; v < 4; v++)
                        m[v] = exec_lanes256(n - q - 8 * v);
                rec_1x32_body(h, H, Rt + q, ldr, bias ? bias + q : NULL,
                              out + q, 0, m);
        }
}

T_AVX2 static void rec_mm_256(const float *h, int64_t rows, int64_t H,
                              const float *Rt, int64_t ldr, int64_t n,
                              const float *bias, float *out, int64_t ldo) {
        int64_t b = 0;
        for (; b + 4 <= rows; b += 4)
                rec_4x16(h + b * H, H, Rt, ldr, n, bias, out + b * ldo, ldo);
        for (; b < rows; b++)
                rec_1x32(h + b * H, H, Rt, ldr, n, bias, out + b * ldo);
}

/* The gates as sig512 / tanh512 above; 1 / d by rcp (12 bits) and one
 * Newton step (about 2^-23 relative). */
T_AVX2 static inline __m256 sig256(__m256 v) {
        __m256 d = _mm256_add_ps(_mm256_set1_ps(1.0f),
                                 exec_exp256(_mm256_sub_ps(_mm256_setzero_ps(),
                                                           v)));
        __m256 q = _mm256_rcp_ps(d);
        return _mm256_mul_ps(q, _mm256_fnmadd_ps(d, q,
                                                 _mm256_set1_ps(2.0f)));
}

T_AVX2 static inline __m256 tanh256(__m256 v) {
        __m256 s = sig256(_mm256_add_ps(v, v));
        return _mm256_sub_ps(_mm256_add_ps(s, s), _mm256_set1_ps(1.0f));
}

T_AVX2 static inline __m256 clamp256(__m256 v, __m256 cl, __m256 ncl) {
        return _mm256_min_ps(_mm256_max_ps(v, ncl), cl);
}

T_AVX2 static inline __attribute__((always_inline)) void
lstm_256_body(int64_t H, int64_t k, __m256 cl, __m256 ncl, int ifg,
              const float *g, const float *xw, const float *P, float *h,
              float *c, int full, __m256i m) {
        __m256 one = _mm256_set1_ps(1.0f);
        __m256 ck = exec_ld8(c + k, full, m), it, ft, cn, vo;
        __m256 vi = _mm256_add_ps(exec_ld8(g + k, full, m),
                                  exec_ld8(xw + k, full, m));
        __m256 vf = _mm256_add_ps(exec_ld8(g + 2 * H + k, full, m),
                                  exec_ld8(xw + 2 * H + k, full, m));
        __m256 vc = _mm256_add_ps(exec_ld8(g + 3 * H + k, full, m),
                                  exec_ld8(xw + 3 * H + k, full, m));

        vi = _mm256_fmadd_ps(exec_ld8(P + k, full, m), ck, vi);
        vf = _mm256_fmadd_ps(exec_ld8(P + 2 * H + k, full, m), ck, vf);
        it = sig256(clamp256(vi, cl, ncl));
        ft = ifg ? _mm256_sub_ps(one, it) : sig256(clamp256(vf, cl, ncl));
        cn = _mm256_fmadd_ps(ft, ck, _mm256_mul_ps(
                                     it, tanh256(clamp256(vc, cl, ncl))));
        vo = _mm256_add_ps(exec_ld8(g + H + k, full, m),
                           exec_ld8(xw + H + k, full, m));
        vo = _mm256_fmadd_ps(exec_ld8(P + H + k, full, m), cn, vo);
        exec_st8(c + k, full, m, cn);
        exec_st8(h + k, full, m, _mm256_mul_ps(sig256(clamp256(vo, cl, ncl)),
                                          tanh256(cn)));
}

T_AVX2 static void lstm_256(int64_t H, float clf, int ifg, const float *g,
                            const float *xw, const float *P, float *h,
                            float *c) {
        __m256 cl = _mm256_set1_ps(clf), ncl = _mm256_set1_ps(-clf);
        int64_t k = 0;

        for (; k + 8 <= H; k += 8)
                lstm_256_body(H, k, cl, ncl, ifg, g, xw, P, h, c, 1,
                              _mm256_set1_epi32(-1));
        if (k < H)
                lstm_256_body(H, k, cl, ncl, ifg, g, xw, P, h, c, 0,
                              exec_lanes256(H - k));
}

T_AVX2 static inline __attribute__((always_inline)) void
gru1_256_body(int64_t H, int64_t k, __m256 cl, __m256 ncl, const float *g,
              const float *xw, const float *rbh, float *h, int full,
              __m256i m) {
        __m256 z = sig256(clamp256(_mm256_add_ps(exec_ld8(g + k, full, m),
                                                 exec_ld8(xw + k, full, m)),
                                   cl, ncl));
        __m256 r = sig256(clamp256(_mm256_add_ps(exec_ld8(g + H + k, full, m),
                                                 exec_ld8(xw + H + k, full, m)),
                                   cl, ncl));
        __m256 hg = _mm256_add_ps(exec_ld8(g + 2 * H + k, full, m),
                                  exec_ld8(rbh + k, full, m));
        __m256 hh = tanh256(clamp256(
                _mm256_fmadd_ps(r, hg, exec_ld8(xw + 2 * H + k, full, m)), cl,
                ncl));
        __m256 hk = exec_ld8(h + k, full, m);

        exec_st8(h + k, full, m, _mm256_fmadd_ps(z, _mm256_sub_ps(hk, hh), hh));
}

T_AVX2 static void gru1_256(int64_t H, float clf, const float *g,
                            const float *xw, const float *rbh, float *h) {
        __m256 cl = _mm256_set1_ps(clf), ncl = _mm256_set1_ps(-clf);
        int64_t k = 0;

        for (; k + 8 <= H; k += 8)
                gru1_256_body(H, k, cl, ncl, g, xw, rbh, h, 1,
                              _mm256_set1_epi32(-1));
        if (k < H)
                gru1_256_body(H, k, cl, ncl, g, xw, rbh, h, 0,
                              exec_lanes256(H - k));
}
#undef T_AVX2
#endif

/* out = h Rt (+ bias, n values, when not NULL) over rows rows. */
static void rec_mm(cpu_isa_t isa, const float *h, int64_t rows, int64_t H,
                   const float *Rt, int64_t ldr, int64_t n, const float *bias,
                   float *out, int64_t ldo) {
#ifdef RNN_X86
        if (isa == CPU_ISA_AVX512) {
                rec_mm_512(h, rows, H, Rt, ldr, n, bias, out, ldo);
                return;
        }
        if (isa == CPU_ISA_AVX2) {
                rec_mm_256(h, rows, H, Rt, ldr, n, bias, out, ldo);
                return;
        }
#endif
        (void)isa;
        rec_mm_any(h, rows, H, Rt, ldr, n, bias, out, ldo);
}

static int64_t len_of(const swarm_rnn_t *r, int64_t b) {
        if (!r->seq_lens)
                return r->seq;
        return r->seq_lens64 ? ((const int64_t *)r->seq_lens)[b]
                             : ((const int32_t *)r->seq_lens)[b];
}

/* Sizes of the scratch, in floats, each checked. */
typedef struct rnn_sizes {
        int64_t xw, hr, st, bias, rt, wt;
} rnn_sizes_t;

/* W^T floats (G*H x input) up to which the input projection runs on
 * rec_mm (W^T packed per call, the bias added in the same pass) instead of
 * sgemm, whose zeroing of C and separate bias pass cost more than its
 * blocking saves while W^T stays in L2. */
#define PROJ_PACK_MAX ((int64_t)32 * 1024)

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
            swarm_mul_i64(r->seq, r->batch, &t) || t > INT32_MAX ||
            swarm_mul_i64(t, GH, &s->xw) ||
            swarm_mul_i64(t, (int64_t)r->dirs * r->hidden, &t) ||
            swarm_mul_i64(r->batch, GH, &s->hr) ||
            swarm_mul_i64(r->batch, r->hidden, &s->st) ||
            swarm_mul_i64(GH, r->hidden, &s->rt) ||
            swarm_mul_i64(GH, r->input > r->hidden ? r->input : r->hidden,
                          &t) ||
            swarm_mul_i64(t, r->dirs, &t) ||
            s->xw > SWARM_ELEMS_MAX || s->hr > SWARM_ELEMS_MAX ||
            t > SWARM_ELEMS_MAX || GH > INT32_MAX)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "rnn: %lld steps x %lld rows x %d x "
                                     "%lld hidden is too large",
                                     (long long)r->seq, (long long)r->batch,
                                     G, (long long)r->hidden);
        s->wt = GH * r->input <= PROJ_PACK_MAX ? GH * r->input : 0;
        /* the combined bias, then 4 H zeros (absent peepholes / h-gate
         * bias) */
        s->bias = GH + 4 * r->hidden;
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

/* Scratch of one call: per direction (d * size) the projected input xw,
 * the gates hr, the states h and c, r * h (rh) and R^T (rt); bias (the
 * GEMM's, one direction at a time) and zeros are shared. */
typedef struct rnn_buf {
        float *xw, *hr, *h, *c, *rh, *bias, *zeros, *rt, *wt;
        int64_t n_xw, n_hr, n_st, n_rt, n_wt;
} rnn_buf_t;

/* Multiply-adds of one step's product from which it goes to sgemm, whose
 * packing of R then pays; below (the classifiers' batches 1 to 64 at
 * hidden 32) rec_mm, with no per-call packing. */
#define REC_SGEMM_MACS ((int64_t)1 << 20)
/* Multiply-adds of the whole recurrence from which its rows are split
 * across the pool's lanes.  The split is one wait for the slowest lane per
 * node: on the loaded 2-core test VM (load 9-10) a lane that lost its core
 * made split batch-1 and batch-16 LSTMs 2-6 times slower than serial
 * ones, so small nodes stay serial.  With the AVX2 / AVX-512 kernels the
 * recurrence is 5-6 times faster than when this was first measured (the
 * steps, not the split, were the time then); on Zen 3 at 2 threads
 * (bench/exec/README.md) splitting the batch-64 classifiers (the LSTM's
 * 13M multiply-adds, the GRU layers' 4.9M) took them from 1.26 / 1.12 ms
 * to 1.13 / 0.76, and the batch-16 ones (3.3M, 1.2M) gained nothing. */
#define REC_PAR_MACS ((int64_t)4 * 1024 * 1024)

/* The recurrent product of one step for rows [b0, b1) of direction d:
 * gate columns [c0, c0 + n) from the rows' states a. */
static int rec_step(swarm_backend_t *be, cpu_isa_t isa, const swarm_rnn_t *r,
                    int d,
                    int64_t GH, const float *rt, const float *a, float *hr,
                    int64_t rows, int64_t c0, int64_t n, swarm_err_t *err) {
        int64_t H = r->hidden;
        swarm_gemm_t g;

        if (rows * n * H < REC_SGEMM_MACS) {
                rec_mm(isa, a, rows, H, rt + c0, GH, n, NULL, hr + c0, GH);
                return SWARM_OK;
        }
        memset(&g, 0, sizeof(g));
        g.trans_b = 1;
        g.m = rows;
        g.n = n;
        g.k = H;
        g.alpha = 1.0f;
        g.a = a;
        g.lda = H;
        g.b = r->r;
        g.b_off = d * GH * H + c0 * H;
        g.ldb = H;
        g.c = hr;
        g.c_off = c0;
        g.ldc = GH;
        return be->gemm(be, &g, err);
}

/* Before the steps of direction d: the input projection of every step
 * (biases included), R^T, the initial states, and the zeros of y past
 * each row's length. */
static int prep_dir(swarm_backend_t *be, cpu_isa_t isa, const swarm_rnn_t *r,
                    int d, int G, const rnn_buf_t *w, swarm_err_t *err) {
        int64_t H = r->hidden, GH = G * H, B = r->batch, T = r->seq;
        int64_t I = r->input;
        const float *Bd = r->b ? (const float *)r->b + d * 2 * GH : NULL;
        const float *Rd = (const float *)r->r + d * GH * H;
        const float *h0 = r->h0, *c0 = r->c0;
        float *h = w->h + d * w->n_st, *c = w->c + d * w->n_st;
        float *rt = w->rt + d * w->n_rt, *y = r->y;
        swarm_gemm_t g;
        int rc;

        if (Bd)
                for (int64_t q = 0; q < GH; q++)
                        w->bias[q] = Bd[q] + (r->kind == 1 && q >= 2 * H
                                              ? 0.0f : Bd[GH + q]);
        if (w->n_wt) {
                float *wt = w->wt + d * w->n_wt;
                const float *Wd = (const float *)r->w + d * GH * I;
                for (int64_t q = 0; q < GH; q++)
                        for (int64_t i = 0; i < I; i++)
                                wt[i * GH + q] = Wd[q * I + i];
                rec_mm(isa, r->x, T * B, I, wt, GH, GH, Bd ? w->bias : NULL,
                       w->xw + d * w->n_xw, GH);
        } else {
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
                g.bias = Bd ? w->bias : NULL;
                g.bias_mode = Bd ? SWARM_BIAS_ROW : SWARM_BIAS_NONE;
                g.c = w->xw + d * w->n_xw;
                g.ldc = GH;
                if ((rc = be->gemm(be, &g, err)))
                        return rc;
        }
        /* R^T, so each step's product streams along the gates */
        for (int64_t q = 0; q < GH; q++)
                for (int64_t k = 0; k < H; k++)
                        rt[k * GH + q] = Rd[q * H + k];
        for (int64_t b = 0; b < B; b++) {
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
                for (int64_t t = len_of(r, b); y && t < T; t++)
                        memset(y + yoff(r, d, t, b), 0,
                               (size_t)H * sizeof(float));
        }
        return SWARM_OK;
}

/* Every step of rows [b0, b1) of direction d: rows never read each
 * other's state, so a part of the pool can run its rows through the whole
 * sequence without waiting for the others at each step. */
static int run_rows(swarm_backend_t *be, cpu_isa_t isa, const swarm_rnn_t *r,
                    int d, int G, const rnn_buf_t *w, int64_t b0, int64_t b1,
                    swarm_err_t *err) {
        int64_t H = r->hidden, GH = G * H, rows = b1 - b0, maxlen = 0;
        int rev = r->dirs == 2 ? d == 1 : r->reverse;
        int gru0 = r->kind == 1 && !r->linear_before_reset;
        const float *Bd = r->b ? (const float *)r->b + d * 2 * GH : NULL;
        const float *xw = w->xw + d * w->n_xw;
        const float *rt = w->rt + d * w->n_rt;
        float *hr = w->hr + d * w->n_hr + b0 * GH;
        float *h = w->h + d * w->n_st + b0 * H;
        float *c = w->c + d * w->n_st + b0 * H;
        float *rh = w->rh + d * w->n_st + b0 * H;
        float *y = r->y;
        const swarm_rnn_act_t *A = r->act[d];
        float cl = r->clip > 0.0f ? r->clip : INFINITY;
        int fast = r->kind == 0 ? A[0] == SWARM_RNN_TANH
                   : A[0] == SWARM_RNN_SIGMOID && A[1] == SWARM_RNN_TANH &&
                     (r->kind == 1 || A[2] == SWARM_RNN_TANH);
        const float *P, *rbh;
        rnn_dir_t j;
        int rc;

        memset(&j, 0, sizeof(j));
        j.r = r;
        j.d = d;
        j.G = G;
        j.H = H;
        j.GH = GH;
        j.act = A;
        j.alpha = r->act_alpha[d];
        j.beta = r->act_beta[d];
        j.rbh = r->kind == 1 && Bd ? Bd + GH + 2 * H : NULL;
        j.P = r->kind == 2 && r->p ? (const float *)r->p + d * 3 * H : NULL;
        P = j.P ? j.P : w->zeros;
        rbh = j.rbh ? j.rbh : w->zeros;
        for (int64_t b = b0; b < b1; b++) {
                int64_t l = len_of(r, b);
                maxlen = l > maxlen ? l : maxlen;
        }
        for (int64_t s = 0; s < maxlen; s++) {
                if ((rc = rec_step(be, isa, r, d, GH, rt, h, hr, rows, 0,
                                   gru0 ? 2 * H : GH, err)))
                        return rc;
                if (gru0) {
                        for (int64_t i = 0; i < rows; i++) {
                                int64_t l = len_of(r, b0 + i);
                                int64_t t = rev ? l - 1 - s : s;
                                const float *xr = xw +
                                                  xrow(r, t, b0 + i) * GH;
                                if (s >= l)
                                        memset(rh + i * H, 0,
                                               (size_t)H * sizeof(float));
                                else if (fast)
                                        fast_gru0_zr(H, cl, hr + i * GH, xr,
                                                     h + i * H, rh + i * H);
                                else
                                        row_gru_zr(&j, hr + i * GH, xr,
                                                   h + i * H, rh + i * H);
                        }
                        if ((rc = rec_step(be, isa, r, d, GH, rt, rh, hr,
                                           rows, 2 * H, H, err)))
                                return rc;
                }
                for (int64_t i = 0; i < rows; i++) {
                        int64_t l = len_of(r, b0 + i);
                        int64_t t = rev ? l - 1 - s : s;
                        const float *xr = xw + xrow(r, t, b0 + i) * GH;
                        float *gr = hr + i * GH, *hb = h + i * H;
                        if (s >= l)
                                continue;
                        if (!fast)
                                row_gates(&j, gr, xr, hb, c + i * H);
#ifdef RNN_X86
                        else if (r->kind == 2 && isa == CPU_ISA_AVX512)
                                lstm_512(H, cl, r->input_forget, gr, xr, P,
                                         hb, c + i * H);
                        else if (r->kind == 1 && !gru0 &&
                                 isa == CPU_ISA_AVX512)
                                gru1_512(H, cl, gr, xr, rbh, hb);
                        else if (r->kind == 2 && isa == CPU_ISA_AVX2)
                                lstm_256(H, cl, r->input_forget, gr, xr, P,
                                         hb, c + i * H);
                        else if (r->kind == 1 && !gru0 &&
                                 isa == CPU_ISA_AVX2)
                                gru1_256(H, cl, gr, xr, rbh, hb);
#endif
                        else if (r->kind == 2)
                                fast_lstm(H, cl, r->input_forget, gr, xr, P,
                                          hb, c + i * H);
                        else if (r->kind == 0)
                                fast_rnn(H, cl, gr, xr, hb);
                        else if (gru0)
                                fast_gru0_h(H, cl, gr, xr, rbh, hb);
                        else
                                fast_gru1(H, cl, gr, xr, rbh, hb);
                        if (y)
                                memcpy(y + yoff(r, d, t, b0 + i), hb,
                                       (size_t)H * sizeof(float));
                }
        }
        for (int64_t i = 0; i < rows; i++) {
                if (r->yh)
                        memcpy((float *)r->yh + soff(r, d, b0 + i),
                               h + i * H, (size_t)H * sizeof(float));
                if (r->yc)
                        memcpy((float *)r->yc + soff(r, d, b0 + i),
                               c + i * H, (size_t)H * sizeof(float));
        }
        return SWARM_OK;
}

/* The rows of every direction, dirs * batch units, split across the
 * pool's parts; a part's units may span the two directions. */
typedef struct rows_job {
        swarm_backend_t *be;
        cpu_isa_t isa;
        const swarm_rnn_t *r;
        int G;
        const rnn_buf_t *w;
        int *rc;                /* one per part */
        swarm_err_t *errs;
} rows_job_t;

static void rows_part(void *arg, int part, int parts) {
        const rows_job_t *j = arg;
        int64_t B = j->r->batch, units = j->r->dirs * B;
        int64_t lo = units * part / parts, hi = units * (part + 1) / parts;

        j->rc[part] = SWARM_OK;
        for (int d = 0; d < j->r->dirs && !j->rc[part]; d++) {
                int64_t b0 = lo - d * B, b1 = hi - d * B;
                b0 = b0 < 0 ? 0 : b0;
                b1 = b1 > B ? B : b1;
                if (b0 < b1)
                        j->rc[part] = run_rows(j->be, j->isa, j->r, d, j->G,
                                               j->w, b0, b1, &j->errs[part]);
        }
}

int exec_cpu_rnn(swarm_backend_t *be, const swarm_rnn_t *r,
                 swarm_err_t *err) {
        return exec_cpu_rnn_isa(be, cpu_gemm_best_isa(), r, err);
}

int exec_cpu_rnn_isa(swarm_backend_t *be, cpu_isa_t isa,
                     const swarm_rnn_t *r, swarm_err_t *err) {
        int G = r ? (r->kind == 0 ? 1 : r->kind == 1 ? 3 : 4) : 1;
        int lanes = be->threads > 1 ? be->threads : 1;
        rnn_sizes_t s = {0, 0, 0, 0, 0, 0};
        rnn_buf_t w;
        rows_job_t job;
        float *buf;
        int64_t total, macs;
        int rc = SWARM_OK;

        if (!r)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "rnn: no descriptor");
        if ((int)isa < 0 || isa >= CPU_ISA_COUNT || !cpu_gemm_isa_ok(isa))
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "rnn: kernel set %d not available",
                                     (int)isa);
        if ((rc = check(r, G, &s, err)))
                return rc;
        /* per direction: xw, hr, h, c, rh, rt, wt; then bias and zeros; +1
         * keeps it non-empty */
        if (swarm_mul_i64(s.st, 3, &total) ||
            swarm_add_i64(total, s.xw, &total) ||
            swarm_add_i64(total, s.hr, &total) ||
            swarm_add_i64(total, s.rt, &total) ||
            swarm_add_i64(total, s.wt, &total) ||
            swarm_mul_i64(total, r->dirs, &total) ||
            swarm_add_i64(total, s.bias + 1, &total) ||
            total > SWARM_ELEMS_MAX)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "rnn: scratch too large");
        buf = malloc((size_t)total * sizeof(float));
        job.rc = calloc((size_t)lanes, sizeof(int));
        job.errs = calloc((size_t)lanes, sizeof(swarm_err_t));
        if (!buf || !job.rc || !job.errs) {
                free(buf);
                free(job.rc);
                free(job.errs);
                return swarm_err_set(err, SWARM_ERR_NOMEM,
                                     "rnn: out of memory (%lld floats)",
                                     (long long)total);
        }
        w.n_xw = s.xw;
        w.n_hr = s.hr;
        w.n_st = s.st;
        w.n_rt = s.rt;
        w.n_wt = s.wt;
        w.xw = buf;
        w.hr = w.xw + r->dirs * s.xw;
        w.h = w.hr + r->dirs * s.hr;
        w.c = w.h + r->dirs * s.st;
        w.rh = w.c + r->dirs * s.st;
        w.rt = w.rh + r->dirs * s.st;
        w.wt = w.rt + r->dirs * s.rt;
        w.bias = w.wt + r->dirs * s.wt;
        w.zeros = w.bias + (s.bias - 4 * r->hidden);
        memset(w.zeros, 0, (size_t)(4 * r->hidden) * sizeof(float));
        for (int d = 0; d < r->dirs && !rc; d++)
                rc = prep_dir(be, isa, r, d, G, &w, err);
        if (!rc) {
                job.be = be;
                job.isa = isa;
                job.r = r;
                job.G = G;
                job.w = &w;
                /* the recurrence's multiply-adds (checked sizes: each
                 * factor fits, the product is a heuristic only) */
                macs = (double)r->seq * (double)s.hr * (double)r->hidden *
                       r->dirs > (double)INT64_MAX / 2 ? INT64_MAX
                       : r->seq * s.hr * r->hidden * r->dirs;
                exec_cpu_par_run(be, macs >= REC_PAR_MACS &&
                                 r->dirs * r->batch >= 2, rows_part, &job);
                for (int p = 0; p < lanes && !rc; p++)
                        if (job.rc[p]) {
                                rc = job.rc[p];
                                *err = job.errs[p];
                        }
        }
        free(buf);
        free(job.rc);
        free(job.errs);
        return rc;
}
