/*
 * cpu_dw.c - depthwise convolution on the CPU (see cpu_dw.h).
 *
 * One filter per plane: im2col would copy each plane kh * kw times for a
 * GEMM with M = 1.  Instead each plane is copied into a zero-padded buffer
 * once, and output pixel (oy, ox) is computed at "wide" index u = oy * pw +
 * ox (pw the padded width; the pw - ow extra columns per row are computed
 * and dropped), where every tap t reads src_t[u] for one base pointer src_t
 * per tap.  At stride 1 src_t = pad + ky * dh * pw + kx * dw; at stride 2
 * the padded plane is first split into its four phases (even / odd rows x
 * columns) and tap (ky, kx) reads phase (ky & 1, kx & 1) at (ky / 2, kx /
 * 2), the same stride-1 form.  So one kernel serves every plane size: the
 * 7x7 planes of the last layers vectorise as well as the 112x112 ones.
 *
 * The kernel keeps 8 vectors of outputs in registers across all taps (one
 * load and one FMA per tap and vector, one store at the end): the previous
 * kernel added each tap into the output in memory (a load, an FMA and a
 * store per tap), which made it load/store-bound.  AVX-512 and AVX2
 * variants are chosen at run time like cpu_gemm.c's (target attributes, no
 * global -march); the portable C one is the reference shape.  Bias is the
 * accumulators' start value and the activation runs over the wide buffer
 * while it is in cache, before the rows are copied out; on AVX-512 at
 * stride 2 and on narrow or wide planes (dw_fused) the activation runs on
 * the registers and they go to y directly (taps_out_avx512).
 *
 * Other strides, stride 2 with dilation, more than DW_TAPS_MAX taps and
 * padded planes past DW_PAD_MAX floats (hostile pads) take a path with no
 * copy that clips each tap to its valid columns.  On AVX-512 the windows
 * of small planes (up to 60 x 60 padded, any stride) go to cpu_dwc.c,
 * which vectorises across channels instead.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_act.h"
#include "cpu_dw.h"
#include "cpu_dwc.h"
#include "cpu_par.h"
#include "cpu_xpose.h"
#include "scalar_ops.h"
#include "swarm/tensor.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define DW_X86 1
#include <immintrin.h>
#else
#define DW_X86 0
#endif

/* Padded planes up to this many floats take the fast path; the bound also
 * keeps every product of plane sizes below far from overflow. */
#define DW_PAD_MAX ((int64_t)1 << 20)
/* Taps per filter on the fast path (a 16 x 16 kernel). */
#define DW_TAPS_MAX 256
/* Floats the kernels may read or write past the last wide output (they
 * run in whole blocks of 128 / 64 / 16). */
#define DW_SLACK 128
/* Multiply-adds from which splitting across lanes pays for the wake-up. */
#define DW_PAR_MIN EXEC_CPU_PAR_MIN_ELEMS

typedef struct dw_job {
        const swarm_window_t *w;
        cpu_isa_t isa;
        int64_t ch;
        const float *x, *filt, *bias;
        swarm_act_t act;
        float a, b;
        float *y;
        int64_t lo[DW_TAPS_MAX], hi[DW_TAPS_MAX]; /* per kx (general path) */
        int fast;               /* 1: stride 1, 2: stride 2, 0: general */
        int oom;                /* a part could not get its buffers */
} dw_job_t;

/* ---- the tap kernels: acc[u] = bias + sum_t wt[t] * src[t][u] for u in
 * [0, n), reading and writing whole blocks up to n + DW_SLACK ---- */

static void taps_c(float *restrict acc, int64_t n, const float *const *src,
                   const float *wt, int64_t taps, float bias) {
        for (int64_t u = 0; u < n; u++)
                acc[u] = bias;
        for (int64_t t = 0; t < taps; t++) {
                const float *restrict s = src[t];
                float wv = wt[t];
                for (int64_t u = 0; u < n; u++)
                        acc[u] += wv * s[u];
        }
}

#if DW_X86
__attribute__((target("avx512f")))
static void taps_avx512(float *restrict acc, int64_t n,
                        const float *const *src, const float *wt,
                        int64_t taps, float bias) {
        int64_t u = 0;

        for (; u + 64 < n; u += 128) {
                __m512 a0 = _mm512_set1_ps(bias), a1 = a0, a2 = a0, a3 = a0;
                __m512 a4 = a0, a5 = a0, a6 = a0, a7 = a0;
                for (int64_t t = 0; t < taps; t++) {
                        const float *s = src[t] + u;
                        __m512 wv = _mm512_set1_ps(wt[t]);
                        a0 = _mm512_fmadd_ps(wv, _mm512_loadu_ps(s), a0);
                        a1 = _mm512_fmadd_ps(wv, _mm512_loadu_ps(s + 16), a1);
                        a2 = _mm512_fmadd_ps(wv, _mm512_loadu_ps(s + 32), a2);
                        a3 = _mm512_fmadd_ps(wv, _mm512_loadu_ps(s + 48), a3);
                        a4 = _mm512_fmadd_ps(wv, _mm512_loadu_ps(s + 64), a4);
                        a5 = _mm512_fmadd_ps(wv, _mm512_loadu_ps(s + 80), a5);
                        a6 = _mm512_fmadd_ps(wv, _mm512_loadu_ps(s + 96), a6);
                        a7 = _mm512_fmadd_ps(wv, _mm512_loadu_ps(s + 112),
                                             a7);
                }
                _mm512_storeu_ps(acc + u, a0);
                _mm512_storeu_ps(acc + u + 16, a1);
                _mm512_storeu_ps(acc + u + 32, a2);
                _mm512_storeu_ps(acc + u + 48, a3);
                _mm512_storeu_ps(acc + u + 64, a4);
                _mm512_storeu_ps(acc + u + 80, a5);
                _mm512_storeu_ps(acc + u + 96, a6);
                _mm512_storeu_ps(acc + u + 112, a7);
        }
        for (; u < n; u += 32) {
                __m512 a0 = _mm512_set1_ps(bias), a1 = a0;
                for (int64_t t = 0; t < taps; t++) {
                        const float *s = src[t] + u;
                        __m512 wv = _mm512_set1_ps(wt[t]);
                        a0 = _mm512_fmadd_ps(wv, _mm512_loadu_ps(s), a0);
                        a1 = _mm512_fmadd_ps(wv, _mm512_loadu_ps(s + 16), a1);
                }
                _mm512_storeu_ps(acc + u, a0);
                _mm512_storeu_ps(acc + u + 16, a1);
        }
}

__attribute__((target("avx2,fma")))
static void taps_avx2(float *restrict acc, int64_t n,
                      const float *const *src, const float *wt,
                      int64_t taps, float bias) {
        int64_t u = 0;

        for (; u + 32 < n; u += 64) {
                __m256 a0 = _mm256_set1_ps(bias), a1 = a0, a2 = a0, a3 = a0;
                __m256 a4 = a0, a5 = a0, a6 = a0, a7 = a0;
                for (int64_t t = 0; t < taps; t++) {
                        const float *s = src[t] + u;
                        __m256 wv = _mm256_set1_ps(wt[t]);
                        a0 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(s), a0);
                        a1 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(s + 8), a1);
                        a2 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(s + 16), a2);
                        a3 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(s + 24), a3);
                        a4 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(s + 32), a4);
                        a5 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(s + 40), a5);
                        a6 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(s + 48), a6);
                        a7 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(s + 56), a7);
                }
                _mm256_storeu_ps(acc + u, a0);
                _mm256_storeu_ps(acc + u + 8, a1);
                _mm256_storeu_ps(acc + u + 16, a2);
                _mm256_storeu_ps(acc + u + 24, a3);
                _mm256_storeu_ps(acc + u + 32, a4);
                _mm256_storeu_ps(acc + u + 40, a5);
                _mm256_storeu_ps(acc + u + 48, a6);
                _mm256_storeu_ps(acc + u + 56, a7);
        }
        for (; u < n; u += 16) {
                __m256 a0 = _mm256_set1_ps(bias), a1 = a0;
                for (int64_t t = 0; t < taps; t++) {
                        const float *s = src[t] + u;
                        __m256 wv = _mm256_set1_ps(wt[t]);
                        a0 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(s), a0);
                        a1 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(s + 8), a1);
                }
                _mm256_storeu_ps(acc + u, a0);
                _mm256_storeu_ps(acc + u + 8, a1);
        }
}

/* ---- AVX-512: taps, activation and store to y in one pass ----
 *
 * Blocks of NV vectors of wide outputs (acc in registers across the
 * taps, as taps_avx512), the activation on the registers, then each vector
 * stored straight into y, only its valid lanes (wide column < ow, wide
 * index < n): on planes narrower than a vector compressed (valid lanes are
 * consecutive outputs, one masked store of popcount lanes at y + row * ow
 * + min(col, ow)), else one masked store per row it touches.  That drops
 * the separate activation and copy-out passes over the wide buffer, and
 * the tail runs ceil(rest / 16) vectors, not a whole 128 block (7 x 7
 * planes with a 5 x 5 kernel: 5 vectors for 77 wide outputs, not 8). */

typedef struct dw_out {
        float *y;
        int64_t n, wd, ow;
        const __mmask16 *cmask;         /* [wd]: lanes col + i valid */
        __m512 va, vb;
        swarm_act_t act;
        /* The next plane's input (NULL for a part's last), which the
         * blocks prefetch into L2 a share at a time: at batch 64 the
         * planes come from DRAM, and without it the 3x3 stride-2 layers
         * of MobileNetV3 (16 and 72 channels, 112 and 56 wide) ran at
         * half their batch-1 speed per image; 0.7-0.8x their time with
         * it (1 thread; software prefetch in the fill instead: 0.9x). */
        const char *pf;
        int64_t pf_lines;
} dw_out_t;

static inline __attribute__((always_inline, target("avx512f"))) void
dw_store512(const dw_out_t *o, __m512 v, int64_t u, int64_t *row,
            int64_t *col) {
        __mmask16 m = o->cmask[*col];
        int64_t off = (*row + 1) * o->ow - (o->wd - *col), wrap;

        if (u + 16 > o->n)
                m = (__mmask16)(m & ((1u << (o->n - u)) - 1u));
        if (o->wd >= 16 && off >= 0) {
                /* At most two rows: lanes [0, ow - col) are row `row` at
                 * y + row * ow + col + lane, the valid ones from wd - col
                 * on row + 1 at y + off + lane.  Two masked stores, no
                 * compress (a port-5 shuffle the FMAs share) and no
                 * branch on the masks (their pattern follows col, which
                 * the predictor missed: 14 x 14 planes ran 1.1x the old
                 * kernel with both). */
                int64_t a = o->ow - *col;
                __mmask16 ma = a <= 0 ? 0 : a >= 16 ? 0xffff
                               : (__mmask16)((1u << a) - 1u);
                _mm512_mask_storeu_ps(o->y + *row * o->ow +
                                      (a > 0 ? *col : o->ow),
                                      (__mmask16)(ma & m), v);
                _mm512_mask_storeu_ps(o->y + off, (__mmask16)(m & ~ma), v);
        } else {
                int64_t c = *col < o->ow ? *col : o->ow;
                v = _mm512_maskz_compress_ps(m, v);
                _mm512_mask_storeu_ps(
                        o->y + *row * o->ow + c,
                        (__mmask16)((1u << __builtin_popcount(m)) - 1u), v);
        }
        *col += 16;
        wrap = *col >= o->wd;
        *col -= wrap * o->wd;
        *row += wrap;
        while (*col >= o->wd) {         /* wd < 16 only */
                *col -= o->wd;
                (*row)++;
        }
}

static inline __attribute__((always_inline, target("avx512f"))) void
dw_block512(int nv, const dw_out_t *o, int64_t u, const float *const *src,
            const float *wt, int64_t taps, float bias) {
        __m512 a[8];
        int64_t row = u / o->wd, col = u % o->wd;

#pragma GCC unroll 8
        for (int v = 0; v < 8; v++)
                a[v] = _mm512_set1_ps(bias);
        for (int64_t t = 0; t < taps; t++) {
                const float *s = src[t] + u;
                __m512 wv = _mm512_set1_ps(wt[t]);
#pragma GCC unroll 8
                for (int v = 0; v < 8; v++)
                        if (v < nv)
                                a[v] = _mm512_fmadd_ps(
                                        wv, _mm512_loadu_ps(s + 16 * v),
                                        a[v]);
        }
        /* the switch once per block, each case with its activation
         * folded (a switch per vector cost more than the compress); each
         * vector's activation right before its store, so the SiLU
         * constants and eight accumulators need not be live at once */
#define DW_ACT_ALL(ACT)                                                   \
        do {                                                              \
                _Pragma("GCC unroll 8")                                   \
                for (int v = 0; v < 8; v++)                               \
                        if (v < nv)                                       \
                                dw_store512(o, exec_act_vec512(           \
                                        ACT, a[v], o->va, o->vb),         \
                                        u + 16 * v, &row, &col);          \
        } while (0)
        switch (o->act) {
        case SWARM_ACT_RELU: DW_ACT_ALL(SWARM_ACT_RELU); break;
        case SWARM_ACT_CLIP: DW_ACT_ALL(SWARM_ACT_CLIP); break;
        case SWARM_ACT_LEAKY_RELU: DW_ACT_ALL(SWARM_ACT_LEAKY_RELU); break;
        case SWARM_ACT_HARDSIGMOID: DW_ACT_ALL(SWARM_ACT_HARDSIGMOID); break;
        case SWARM_ACT_HARDSWISH: DW_ACT_ALL(SWARM_ACT_HARDSWISH); break;
        case SWARM_ACT_SIGMOID: DW_ACT_ALL(SWARM_ACT_SIGMOID); break;
        case SWARM_ACT_SILU: DW_ACT_ALL(SWARM_ACT_SILU); break;
        default: DW_ACT_ALL(SWARM_ACT_NONE); break; /* exec_act_vec_ok */
        }
#undef DW_ACT_ALL
}

#define DW_BLOCK_FN(NV)                                                   \
        __attribute__((target("avx512f"))) static void dw_block512_##NV(  \
                const dw_out_t *o, int64_t u, const float *const *src,   \
                const float *wt, int64_t taps, float bias) {              \
                dw_block512(NV, o, u, src, wt, taps, bias);               \
        }
DW_BLOCK_FN(1) DW_BLOCK_FN(2) DW_BLOCK_FN(3) DW_BLOCK_FN(4)
DW_BLOCK_FN(5) DW_BLOCK_FN(6) DW_BLOCK_FN(7) DW_BLOCK_FN(8)

typedef void (*dw_block_fn_t)(const dw_out_t *, int64_t,
                              const float *const *, const float *, int64_t,
                              float);

/* Wide outputs [0, n) of one plane; reads up to n + 15 of each tap. */
__attribute__((target("avx512f")))
static void taps_out_avx512(const dw_out_t *o, const float *const *src,
                            const float *wt, int64_t taps, float bias) {
        static const dw_block_fn_t fn[9] = {
                NULL, dw_block512_1, dw_block512_2, dw_block512_3,
                dw_block512_4, dw_block512_5, dw_block512_6, dw_block512_7,
                dw_block512_8};
        int64_t u = 0, blocks = o->n / 128, per = 0, l = 0;

        /* lines per block, so the last block has asked for them all */
        if (o->pf && blocks > 0)
                per = (o->pf_lines + blocks - 1) / blocks;
        for (; u + 128 <= o->n; u += 128) {
                for (int64_t e = l + per; l < e && l < o->pf_lines; l++)
                        _mm_prefetch(o->pf + 64 * l, _MM_HINT_T1);
                dw_block512_8(o, u, src, wt, taps, bias);
        }
        if (u < o->n)
                fn[(o->n - u + 15) / 16](o, u, src, wt, taps, bias);
}

/* Stride 2 on AVX-512: fill_s2 with the even / odd columns of 32 input
 * floats split by two permutes (the scalar loop took as long as the 3x3
 * taps on the 112 x 112 planes). */
__attribute__((target("avx512f")))
static void fill_s2_avx512(const swarm_window_t *w, const float *xp,
                           float *ph4, int64_t ph2, int64_t pw2) {
        int64_t psz = (ph2 + 1) * pw2;
        /* even input columns go to phase column parity pe, at
         * (ix + pad_l) >> 1; odd ones to the other parity */
        int pe = (int)(w->pad_l & 1);
        int64_t oe = w->pad_l >> 1, oo = (w->pad_l + 1) >> 1;

        for (int64_t iy = 0; iy < w->h; iy++) {
                int64_t py = iy + w->pad_t;
                float *r0 = ph4 + (py & 1) * 2 * psz + (py >> 1) * pw2;
                float *re = r0 + pe * psz, *ro = r0 + (1 - pe) * psz;
                const float *xr = xp + iy * w->w;
                for (int64_t ix = 0; ix < w->w; ix += 32) {
                        int64_t left = w->w - ix, ne, no;
                        __mmask16 m0, m1;
                        __m512 lo, hi, ve, vo;
                        if (left > 32)
                                left = 32;
                        m0 = left >= 16 ? 0xffff
                                        : (__mmask16)((1u << left) - 1u);
                        m1 = left >= 32 ? 0xffff
                             : left > 16 ? (__mmask16)((1u << (left - 16)) - 1u)
                             : 0;
                        lo = _mm512_maskz_loadu_ps(m0, xr + ix);
                        hi = _mm512_maskz_loadu_ps(m1, xr + ix + 16);
                        ne = (left + 1) / 2;
                        no = left / 2;
                        exec_deal512(lo, hi, &ve, &vo);
                        _mm512_mask_storeu_ps(re + (ix >> 1) + oe,
                                              (__mmask16)((1u << ne) - 1u),
                                              ve);
                        if (no)
                                _mm512_mask_storeu_ps(
                                        ro + (ix >> 1) + oo,
                                        (__mmask16)((1u << no) - 1u), vo);
                }
        }
}

#endif

/* The activation over n values on the job's kernel set (cpu_act.c). */
typedef void (*act_fn_t)(swarm_act_t, float, float, float *, int64_t);

/* ---- the general path: no copy, each tap clipped to its columns ---- */

static void plane_general(const dw_job_t *j, act_fn_t act,
                          const float *restrict xp, const float *restrict wk,
                          float bv, float *restrict yp) {
        const swarm_window_t *w = j->w;

        for (int64_t oy = 0; oy < w->oh; oy++) {
                float *restrict yr = yp + oy * w->ow;
                int64_t y0 = oy * w->sh - w->pad_t;
                for (int64_t ox = 0; ox < w->ow; ox++)
                        yr[ox] = bv;
                for (int64_t ky = 0; ky < w->kh; ky++) {
                        int64_t iy = y0 + ky * w->dh;
                        const float *restrict xr;
                        if (iy < 0 || iy >= w->h)
                                continue;
                        xr = xp + iy * w->w;
                        for (int64_t kx = 0; kx < w->kw; kx++) {
                                float wv = wk[ky * w->kw + kx];
                                int64_t off = kx * w->dw - w->pad_l;
                                for (int64_t ox = j->lo[kx]; ox < j->hi[kx];
                                     ox++)
                                        yr[ox] += wv * xr[ox * w->sw + off];
                        }
                }
        }
        act(j->act, j->a, j->b, yp, w->oh * w->ow);
}

/* ---- the fast paths ---- */

/* Stride 2: the plane into the four phases of ph4 (each [ph2 + 1, pw2]):
 * padded pixel (py, px) goes to phase (py & 1, px & 1) at (py / 2, px /
 * 2).  Only those positions are ever written, so the rest stay zero. */
static inline __attribute__((always_inline)) void
fill_s2(const swarm_window_t *w, const float *xp, float *ph4, int64_t ph2,
        int64_t pw2) {
        int64_t psz = (ph2 + 1) * pw2;

        for (int64_t iy = 0; iy < w->h; iy++) {
                int64_t py = iy + w->pad_t;
                float *r0 = ph4 + (py & 1) * 2 * psz + (py >> 1) * pw2;
                float *r1 = r0 + psz;
                const float *xr = xp + iy * w->w;
                for (int par = 0; par < 2; par++) {
                        int64_t ix0 = ((w->pad_l & 1) ^ par) ? 1 : 0;
                        int64_t cnt = ix0 < w->w ? (w->w - ix0 + 1) / 2 : 0;
                        float *restrict r = (par ? r1 : r0) +
                                            ((ix0 + w->pad_l) >> 1);
                        const float *restrict xs = xr + ix0;
                        for (int64_t k = 0; k < cnt; k++)
                                r[k] = xs[2 * k];
                }
        }
}

/* Row copies for the small planes of the last layers (7 to 14 floats a
 * row): a libc memcpy call per row cost more than the taps there. */
static inline void cp_c(float *d, const float *s, int64_t n) {
        memcpy(d, s, (size_t)n * sizeof(float));
}

#if DW_X86
static inline __attribute__((always_inline, target("avx512f"))) void
cp_avx512(float *d, const float *s, int64_t n) {
        int64_t i = 0;
        for (; i + 16 <= n; i += 16)
                _mm512_storeu_ps(d + i, _mm512_loadu_ps(s + i));
        if (i < n) {
                __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
                _mm512_mask_storeu_ps(d + i, m, _mm512_maskz_loadu_ps(m,
                                                                      s + i));
        }
}

static inline __attribute__((always_inline, target("avx2"))) void
cp_avx2(float *d, const float *s, int64_t n) {
        int64_t i = 0;
        for (; i + 8 <= n; i += 8)
                _mm256_storeu_ps(d + i, _mm256_loadu_ps(s + i));
        if (i < n) {
                __m256i m = _mm256_cmpgt_epi32(
                        _mm256_set1_epi32((int)(n - i)),
                        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
                _mm256_maskstore_ps(d + i, m, _mm256_maskload_ps(s + i, m));
        }
}
#endif

/* One plane on the fast path, per kernel set: the plane into the padded
 * buffer (stride 1) or its phases (stride 2), the taps, the activation
 * over the wide buffer while it is in cache, the rows out. */
#define DW_PLANE(SFX, ATTR, COPY, TAPS, ACT)                                  \
ATTR static void plane_##SFX(const dw_job_t *j, const float *xp,              \
                             const float *wk, float bv, float *buf,           \
                             float *acc, const float *const *src,             \
                             int64_t wd, float *yp) {                         \
        const swarm_window_t *w = j->w;                                       \
        int64_t n = w->oh * wd;                                               \
        if (j->fast == 1) {                                                   \
                for (int64_t iy = 0; iy < w->h; iy++)                         \
                        COPY(buf + (iy + w->pad_t) * wd + w->pad_l,           \
                             xp + iy * w->w, w->w);                           \
        } else {                                                              \
                int64_t ph = w->h + w->pad_t + w->pad_b;                      \
                fill_s2(w, xp, buf, (ph + 1) / 2, wd);                        \
        }                                                                     \
        TAPS(acc, n, src, wk, w->kh * w->kw, bv);                             \
        ACT(j->act, j->a, j->b, acc, n);                                      \
        if (wd == w->ow)                                                      \
                COPY(yp, acc, n);                                             \
        else                                                                  \
                for (int64_t oy = 0; oy < w->oh; oy++)                        \
                        COPY(yp + oy * w->ow, acc + oy * wd, w->ow);          \
}

DW_PLANE(c, , cp_c, taps_c, exec_cpu_act_c)
#if DW_X86
DW_PLANE(avx512_acc, __attribute__((target("avx512f"))), cp_avx512,
         taps_avx512, exec_cpu_act_avx512)

/* AVX-512 at stride 2 and on planes narrower than a vector (wd < 16): the
 * plane in (stride 2 by fill_s2_avx512), then taps_out_avx512 writes y
 * itself; cmask: dw_part's table.  Stride 1 on wider planes keeps
 * plane_avx512_acc: there the fused store ran 1.05-1.2x the separate
 * activation and copy passes (14 x 14 and 28 x 28, SiLU; /tmp driver,
 * bench/exec/README.md). */
__attribute__((target("avx512f")))
static void plane_avx512(const dw_job_t *j, int vec_act, const float *xp,
                         const float *wk, float bv, float *buf,
                         const __mmask16 *cmask, const float *const *src,
                         int64_t wd, float *yp, int last) {
        const swarm_window_t *w = j->w;
        dw_out_t o = {.y = yp, .n = w->oh * wd, .wd = wd, .ow = w->ow,
                      .cmask = cmask, .va = _mm512_set1_ps(j->a),
                      .vb = _mm512_set1_ps(j->b),
                      .act = vec_act ? j->act : SWARM_ACT_NONE,
                      .pf = last ? NULL : (const char *)(xp + w->h * w->w),
                      .pf_lines = (w->h * w->w * 4 + 63) / 64};

        if (j->fast == 1) {
                for (int64_t iy = 0; iy < w->h; iy++)
                        cp_avx512(buf + (iy + w->pad_t) * wd + w->pad_l,
                                  xp + iy * w->w, w->w);
        } else {
                int64_t ph = w->h + w->pad_t + w->pad_b;
                fill_s2_avx512(w, xp, buf, (ph + 1) / 2, wd);
        }
        taps_out_avx512(&o, src, wk, w->kh * w->kw, bv);
}
DW_PLANE(avx2, __attribute__((target("avx2,fma"))), cp_avx2, taps_avx2,
         exec_cpu_act_avx2)
#endif

/* Where the AVX-512 fused path beats taps + activation + copy passes
 * (the layers of MobileNetV3-small and EfficientNet-B0, 1 thread, thread
 * CPU, min of 10): stride 2 always (0.50-0.75x, most of it fill_s2_avx512);
 * stride 1 on planes narrower than a vector (7 x 7: 0.77-0.94x) and on
 * wide ones (56 x 56, 112 x 112: 0.84-0.96x); not at 14 x 14 and 28 x 28
 * (wd 16-32, most vectors straddle two rows: 1.00-1.2x). */
#define DW_FUSED_MIN_WD 48

static int dw_fused(int fast, int64_t wd) {
        return fast == 2 || wd < 16 || wd >= DW_FUSED_MIN_WD;
}

typedef void (*plane_fn_t)(const dw_job_t *, const float *, const float *,
                           float, float *, float *, const float *const *,
                           int64_t, float *);

static void dw_part(void *p, int part, int parts) {
        dw_job_t *j = p;
        const swarm_window_t *w = j->w;
        /* The caller checked these against DW_PAD_MAX (fast paths). */
        int64_t ph = w->h + w->pad_t + w->pad_b;
        int64_t pw = w->w + w->pad_l + w->pad_r;
        int64_t taps = w->kh * w->kw, q0, q1, wd, bufn;
        int64_t ph2 = (ph + 1) / 2, pw2 = (pw + 1) / 2;
        const float *src[DW_TAPS_MAX];
        float *buf = NULL, *acc = NULL;
        act_fn_t act_fn = exec_cpu_act_c;
        plane_fn_t plane_fn = plane_c;

#if DW_X86
        if (j->isa == CPU_ISA_AVX512) {
                act_fn = exec_cpu_act_avx512;
                plane_fn = plane_avx512_acc;
        } else if (j->isa == CPU_ISA_AVX2) {
                act_fn = exec_cpu_act_avx2;
                plane_fn = plane_avx2;
        }
#endif
        q0 = w->n * part / parts;
        q1 = w->n * (part + 1) / parts;
        if (q0 >= q1)
                return;
        if (!j->fast) {
                for (int64_t q = q0; q < q1; q++) {
                        int64_t c = q % j->ch;
                        plane_general(j, act_fn, j->x + q * w->h * w->w,
                                      j->filt + c * taps,
                                      j->bias ? j->bias[c] : 0.0f,
                                      j->y + q * w->oh * w->ow);
                }
                return;
        }
        if (j->fast == 1) {
                wd = pw;
                bufn = (ph + 1) * pw + DW_SLACK;
        } else {
                wd = pw2;
                bufn = 4 * (ph2 + 1) * pw2 + DW_SLACK;
        }
        buf = calloc((size_t)bufn, sizeof(float));
        /* the wide outputs, or (AVX-512 fused path) the store masks */
        acc = malloc((size_t)(w->oh * wd + DW_SLACK + wd) * sizeof(float));
        if (!buf || !acc) {
                free(buf);
                free(acc);
                __atomic_store_n(&j->oom, 1, __ATOMIC_RELAXED);
                return;
        }
        for (int64_t ky = 0; ky < w->kh; ky++)
                for (int64_t kx = 0; kx < w->kw; kx++) {
                        int64_t off;
                        if (j->fast == 1)
                                off = ky * w->dh * pw + kx * w->dw;
                        else
                                off = ((ky & 1) * 2 + (kx & 1)) *
                                      (ph2 + 1) * pw2 + (ky >> 1) * pw2 +
                                      (kx >> 1);
                        src[ky * w->kw + kx] = buf + off;
                }
#if DW_X86
        if (j->isa == CPU_ISA_AVX512 && dw_fused(j->fast, wd)) {
                /* acc holds the store masks: lane i of a vector starting
                 * at wide column col is an output when (col + i) mod wd
                 * < ow */
                __mmask16 *cm = (__mmask16 *)(void *)acc;
                int vec_act = exec_act_vec_ok(j->act);
                for (int64_t col = 0; col < wd; col++) {
                        unsigned m = 0;
                        for (int i = 0; i < 16; i++)
                                if ((col + i) % wd < w->ow)
                                        m |= 1u << i;
                        cm[col] = (__mmask16)m;
                }
                for (int64_t q = q0; q < q1; q++) {
                        int64_t c = q % j->ch;
                        float *yq = j->y + q * w->oh * w->ow;
                        plane_avx512(j, vec_act, j->x + q * w->h * w->w,
                                     j->filt + c * taps,
                                     j->bias ? j->bias[c] : 0.0f, buf, cm,
                                     src, wd, yq, q + 1 == q1);
                        if (!vec_act)
                                act_fn(j->act, j->a, j->b, yq,
                                       w->oh * w->ow);
                }
                free(buf);
                free(acc);
                return;
        }
#endif
        for (int64_t q = q0; q < q1; q++) {
                int64_t c = q % j->ch;
                plane_fn(j, j->x + q * w->h * w->w, j->filt + c * taps,
                         j->bias ? j->bias[c] : 0.0f, buf, acc, src, wd,
                         j->y + q * w->oh * w->ow);
        }
        free(buf);
        free(acc);
}

int exec_cpu_conv_dw_isa(swarm_backend_t *be, cpu_isa_t isa,
                         const swarm_window_t *w, int64_t channels,
                         const void *x, const void *filt, const void *bias,
                         swarm_act_t act, float alpha, float beta, void *y,
                         swarm_err_t *err) {
        dw_job_t *j;
        int64_t ph, pw, taps, macs;
        int rc = SWARM_OK;

        if ((int)isa < 0 || isa >= CPU_ISA_COUNT || !cpu_gemm_isa_ok(isa))
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "cpu: depthwise: kernel set %d not "
                                     "available", (int)isa);
        if (channels < 1 || w->n < 0 || w->kh < 1 || w->kw < 1 ||
            w->sh < 1 || w->sw < 1 || w->dh < 1 || w->dw < 1 ||
            w->h < 0 || w->w < 0 || w->oh < 0 || w->ow < 0 ||
            w->pad_t < 0 || w->pad_l < 0 || w->pad_b < 0 || w->pad_r < 0)
                return swarm_err_set(err, SWARM_ERR_BACKEND,
                                     "cpu: bad depthwise window");
        if (w->n == 0 || w->oh == 0 || w->ow == 0)
                return SWARM_OK;
        /* AVX-512 on small planes: 16 channels to a vector (cpu_dwc.c)
         * instead of a plane's wide rows */
        if (exec_cpu_dwc_fits(isa, w, channels))
                return exec_cpu_dwc(be, isa, w, channels, x, filt, bias, act,
                                    alpha, beta, y, err);
        /* The window fits the padded plane: (oh - 1) * sh + (kh - 1) * dh
         * < h + pads, which the loader checked; every sum below is of
         * values bounded by the model's own tensor sizes and pads of at
         * most INT32_MAX, so it fits int64_t. */
        ph = w->h + w->pad_t + w->pad_b;
        pw = w->w + w->pad_l + w->pad_r;
        if (swarm_mul_i64(w->kh, w->kw, &taps))
                return swarm_err_set(err, SWARM_ERR_BACKEND,
                                     "cpu: depthwise: kernel too big");
        j = malloc(sizeof(*j));
        if (!j)
                return swarm_err_set(err, SWARM_ERR_NOMEM,
                                     "cpu: depthwise: out of memory");
        memset(j, 0, sizeof(*j));
        j->w = w;
        j->isa = isa;
        j->ch = channels;
        j->x = x;
        j->filt = filt;
        j->bias = bias;
        j->act = act;
        j->a = alpha;
        j->b = beta;
        j->y = y;
        /* The fast paths read the padded plane without bounds checks:
         * hold the window to it here rather than trust the caller. */
        if (taps <= DW_TAPS_MAX && ph < DW_PAD_MAX && pw < DW_PAD_MAX &&
            (ph + 3) * (pw + 1) <= DW_PAD_MAX && w->oh <= ph &&
            w->ow <= pw && w->kh <= ph && w->kw <= pw && w->dh <= ph &&
            w->dw <= pw && w->sh <= 2 && w->sw <= 2 &&
            (w->oh - 1) * w->sh + (w->kh - 1) * w->dh < ph &&
            (w->ow - 1) * w->sw + (w->kw - 1) * w->dw < pw) {
                if (w->sh == 1 && w->sw == 1)
                        j->fast = 1;
                else if (w->sh == 2 && w->sw == 2 && w->dh == 1 &&
                         w->dw == 1)
                        j->fast = 2;
        }
        if (!j->fast && w->kw > DW_TAPS_MAX) {
                /* lo / hi hold DW_TAPS_MAX columns. */
                free(j);
                return swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                     "cpu: depthwise kernel %lld wide",
                                     (long long)w->kw);
        }
        if (!j->fast)
                /* Column ox reads input ox * sw - pad_l + kx * dw: inside
                 * [0, w) for ox in [lo, hi). */
                for (int64_t kx = 0; kx < w->kw; kx++) {
                        int64_t off = kx * w->dw - w->pad_l, lo = 0, hi;
                        if (off < 0)
                                lo = (-off + w->sw - 1) / w->sw;
                        hi = w->w - 1 - off < 0 ? 0
                                                : (w->w - 1 - off) / w->sw + 1;
                        if (hi > w->ow)
                                hi = w->ow;
                        if (lo > hi)
                                lo = hi;
                        j->lo[kx] = lo;
                        j->hi[kx] = hi;
                }
        /* Saturating: only compared with DW_PAR_MIN. */
        if (swarm_mul_i64(w->n, w->oh * w->ow, &macs) ||
            swarm_mul_i64(macs, taps, &macs))
                macs = INT64_MAX;
        exec_cpu_par_run(be, macs >= DW_PAR_MIN && w->n >= be->threads,
                         dw_part, j);
        if (j->oom)
                rc = swarm_err_set(err, SWARM_ERR_NOMEM,
                                   "cpu: depthwise: out of memory");
        free(j);
        return rc;
}

int exec_cpu_conv_dw(swarm_backend_t *be, const swarm_window_t *w,
                     int64_t channels, const void *x, const void *filt,
                     const void *bias, swarm_act_t act, float alpha,
                     float beta, void *y, swarm_err_t *err) {
        return exec_cpu_conv_dw_isa(be, cpu_gemm_best_isa(), w, channels, x,
                                    filt, bias, act, alpha, beta, y, err);
}
