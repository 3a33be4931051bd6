/*
 * cpu_pool.c - max pooling on the CPU (see cpu_pool.h).
 *
 * Separable: each output row is first the element-wise max of its kh input
 * rows (contiguous, as wide as the vector unit), written into a row
 * buffer that carries -inf in the padding on both sides (and past the
 * right edge as far as ceil_mode's last window reaches); the horizontal
 * pass then takes, for each output column, the max of kw taps of that
 * buffer with no bounds checks.  The per-cell loop of backend_cpu.c it
 * replaces branched on every compare (random data mispredicts half of
 * them): ResNet-18's one 3x3 stride-2 MaxPool was 10-15% of its run.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_par.h"
#include "cpu_pool.h"
#include "swarm/tensor.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define POOL_X86 1
#include <immintrin.h>
#include "cpu_lanes.h"
#define T_AVX512 __attribute__((target("avx512f")))
#define T_AVX2 __attribute__((target("avx2")))
#else
#define POOL_X86 0
#endif

/* Output elements from which splitting planes across lanes pays (as the
 * backend's other memory-bound kernels: 64K). */
#define MP_PAR_MIN EXEC_CPU_PAR_MIN_ELEMS

typedef struct mp_job {
        const swarm_window_t *w;
        const float *x;
        float *y;
        float *rows;            /* per part: the row buffer (tlen floats),
                                 * then the block maxima's (vlen, hlen) */
        int64_t tlen;
        int64_t vlen;           /* 2 h w when the vertical pass takes the
                                 * block maxima (vh_worth), else 0 */
        int64_t hlen;           /* 2 w when the horizontal one does */
        int32_t *hblk;          /* then each column's block (horiz_vh) */
        int wide;               /* ISA_* */
} mp_job_t;

/* The loops a job runs: the portable ones, or everything in AVX2 (the
 * horizontal pass for stride 2 only) or AVX-512. */
enum { ISA_C = 0, ISA_AVX2 = 1, ISA_AVX512 = 2 };

/* NaN-propagating max (a NaN in either operand wins), as pool_cell. */
static inline float max_nan(float a, float b) {
        return a > b || a != a ? a : b;
}

/* t = max(a, b) over n floats; t may be a (the row passes accumulate in
 * place), never b. */
static void vert_c(float *t, const float *a, const float *restrict b, int64_t n) {
        for (int64_t q = 0; q < n; q++)
                t[q] = max_nan(a[q], b[q]);
}

static void horiz_c(const mp_job_t *j, const float *restrict t,
                    float *restrict yr) {
        const swarm_window_t *w = j->w;

        for (int64_t ox = 0; ox < w->ow; ox++) {
                const float *p = t + ox * w->sw;
                float m = -INFINITY;
                int64_t k0, k1;
                /* the buffer's input columns are [pad_l, pad_l + w) */
                exec_pool_taps(ox * w->sw, w->kw, w->dw, w->pad_l,
                               w->pad_l + w->w, &k0, &k1);
                for (int64_t kx = k0; kx < k1; kx++)
                        m = max_nan(m, p[kx * w->dw]);
                yr[ox] = m;
        }
}

#if POOL_X86
/* vmaxps returns its second operand when either is NaN: put the NaN back
 * when it was the first. */
T_AVX512 static inline __m512 max_nan512(__m512 a, __m512 b) {
        __m512 r = _mm512_max_ps(a, b);
        return _mm512_mask_mov_ps(r, _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q),
                                  a);
}

T_AVX512 static void vert_512(float *t, const float *a,
                              const float *restrict b, int64_t n) {
        int64_t q = 0;

        for (; q + 16 <= n; q += 16)
                _mm512_storeu_ps(t + q, max_nan512(_mm512_loadu_ps(a + q),
                                                   _mm512_loadu_ps(b + q)));
        if (q < n) {
                __mmask16 k = (__mmask16)((1u << (n - q)) - 1u);
                _mm512_mask_storeu_ps(
                        t + q, k,
                        max_nan512(_mm512_maskz_loadu_ps(k, a + q),
                                   _mm512_maskz_loadu_ps(k, b + q)));
        }
}

/* The taps that land in the input for any of the outputs ox .. ox + n - 1
 * (n <= 16, one vector): the first of the last output's, up to the end of
 * the first one's.  The rest of a lane's taps read the buffer's -inf. */
static void lanes_taps(const swarm_window_t *w, int64_t ox, int64_t n,
                       int *first, int *end) {
        int64_t f, e, unused;

        n = n < 16 ? n : 16;
        exec_pool_taps((ox + n - 1) * w->sw, w->kw, w->dw, w->pad_l,
                       w->pad_l + w->w, &f, &unused);
        exec_pool_taps(ox * w->sw, w->kw, w->dw, w->pad_l, w->pad_l + w->w,
                       &unused, &e);
        /* tlen < 2^31 (mp_prepare), and so are the taps that reach it */
        *first = (int)(f < e ? f : e);
        *end = (int)e;
}

T_AVX512 static void horiz_512(const mp_job_t *j, const float *restrict t,
                               float *restrict yr) {
        const swarm_window_t *w = j->w;
        /* tlen < 2^31 (checked in exec_cpu_maxpool): int32 indices */
        int sw = (int)w->sw, dw = (int)w->dw;
        __m512i lane = _mm512_mullo_epi32(
                _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4,
                                 3, 2, 1, 0),
                _mm512_set1_epi32(sw));

        if (sw == 2 && dw == 1) {
                /* Nearly every CNN pool: taps 2 ox + kx are the even or
                 * odd lanes of two plain loads, no gather. */
                __m512i ev = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16,
                                              14, 12, 10, 8, 6, 4, 2, 0);
                __m512i od = _mm512_add_epi32(ev, _mm512_set1_epi32(1));
                for (int64_t ox = 0; ox < w->ow; ox += 16) {
                        int64_t left = w->ow - ox;
                        __mmask16 k = left >= 16 ? (__mmask16)0xffff
                                      : (__mmask16)((1u << left) - 1u);
                        const float *p = t + ox * 2;
                        __m512 m = _mm512_set1_ps(-INFINITY);
                        int k0, k1;
                        lanes_taps(w, ox, left, &k0, &k1);
                        /* the buffer's 32 floats of slack cover the loads
                         * of the last lanes (mp_prepare) */
                        for (int kx = k0; kx < k1; kx++) {
                                const float *q = p + (kx & ~1);
                                __m512 lo = _mm512_loadu_ps(q);
                                __m512 hi = _mm512_loadu_ps(q + 16);
                                m = max_nan512(m, _mm512_permutex2var_ps(
                                                          lo, kx & 1 ? od : ev,
                                                          hi));
                        }
                        _mm512_mask_storeu_ps(yr + ox, k, m);
                }
                return;
        }
        for (int64_t ox = 0; ox < w->ow; ox += 16) {
                int64_t left = w->ow - ox;
                __mmask16 k = left >= 16 ? (__mmask16)0xffff
                              : (__mmask16)((1u << left) - 1u);
                const float *p = t + ox * w->sw;
                __m512 m = _mm512_set1_ps(-INFINITY);
                int k0, k1;
                lanes_taps(w, ox, left, &k0, &k1);
                for (int kx = k0; kx < k1; kx++) {
                        __m512 v;
                        if (sw == 1)
                                v = _mm512_maskz_loadu_ps(k, p + kx * dw);
                        else
                                v = _mm512_mask_i32gather_ps(
                                        m, k,
                                        _mm512_add_epi32(
                                                lane,
                                                _mm512_set1_epi32(kx * dw)),
                                        p, 4);
                        m = max_nan512(m, v);
                }
                _mm512_mask_storeu_ps(yr + ox, k, m);
        }
}
#endif

#if POOL_X86
/* Windows 2 wide at stride 2 (VGG-style 2x2 pooling) that lie wholly
 * inside the input: both passes fused, no row buffer.  Each 16 outputs
 * read 32 input columns per tap row with masked loads (never past the
 * row's end), the max (avg: the sum) of the rows, then even against odd
 * lanes.  avg is a constant at each call site (always inlined). */
T_AVX512 static inline __attribute__((always_inline)) void
pool2_body(const swarm_window_t *w, const float *xp, float *yp, int avg) {
        __m512i ev = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12,
                                      10, 8, 6, 4, 2, 0);
        __m512i od = _mm512_add_epi32(ev, _mm512_set1_epi32(1));
        __m512 inv = _mm512_set1_ps(1.0f / (float)(w->kh * 2));

        for (int64_t oy = 0; oy < w->oh; oy++) {
                float *yr = yp + oy * w->ow;
                for (int64_t ox = 0; ox < w->ow; ox += 16) {
                        int64_t left = w->ow - ox, in = w->w - 2 * ox;
                        __mmask16 k = left >= 16 ? (__mmask16)0xffff
                                      : (__mmask16)((1u << left) - 1u);
                        __mmask16 k0 = in >= 16 ? (__mmask16)0xffff
                                       : (__mmask16)((1u << in) - 1u);
                        __mmask16 k1 = in >= 32 ? (__mmask16)0xffff
                                       : in <= 16 ? (__mmask16)0
                                       : (__mmask16)((1u << (in - 16)) - 1u);
                        __m512 lo = avg ? _mm512_setzero_ps()
                                        : _mm512_set1_ps(-INFINITY);
                        __m512 hi = lo, e, o;
                        for (int64_t ky = 0; ky < w->kh; ky++) {
                                const float *r = xp + (oy * w->sh +
                                                       ky * w->dh) * w->w +
                                                 2 * ox;
                                __m512 a = _mm512_maskz_loadu_ps(k0, r);
                                __m512 b = _mm512_maskz_loadu_ps(k1, r + 16);
                                if (avg) {
                                        lo = _mm512_add_ps(lo, a);
                                        hi = _mm512_add_ps(hi, b);
                                } else {
                                        lo = max_nan512(lo, a);
                                        hi = max_nan512(hi, b);
                                }
                        }
                        e = _mm512_permutex2var_ps(lo, ev, hi);
                        o = _mm512_permutex2var_ps(lo, od, hi);
                        _mm512_mask_storeu_ps(
                                yr + ox, k,
                                avg ? _mm512_mul_ps(_mm512_add_ps(e, o), inv)
                                    : max_nan512(e, o));
                }
        }
}

T_AVX512 static void pool2_512(const swarm_window_t *w, const float *xp,
                               float *yp) {
        pool2_body(w, xp, yp, 0);
}

T_AVX512 static void avg2_512(const swarm_window_t *w, const float *xp,
                              float *yp) {
        pool2_body(w, xp, yp, 1);
}

/* vmaxps returns its second operand when either is NaN: put the NaN back
 * when it was the first. */
T_AVX2 static inline __m256 max_nan256(__m256 a, __m256 b) {
        return _mm256_blendv_ps(_mm256_max_ps(a, b), a,
                                _mm256_cmp_ps(a, a, _CMP_UNORD_Q));
}

/* pool2_body for AVX2 machines (Zen 2 / 3, Haswell .. Alder Lake), where
 * the portable row passes took the fashion CNN's one 2x2 MaxPool to 40% of
 * its run at batch 16: 8 outputs from 16 columns a tap row, masked loads
 * (never past the row), even and odd columns by shuffles. */
T_AVX2 static inline __attribute__((always_inline)) void
pool2_body256(const swarm_window_t *w, const float *xp, float *yp, int avg) {
        __m256 inv = _mm256_set1_ps(1.0f / (float)(w->kh * 2));

        for (int64_t oy = 0; oy < w->oh; oy++) {
                float *yr = yp + oy * w->ow;
                for (int64_t ox = 0; ox < w->ow; ox += 8) {
                        int64_t left = w->ow - ox, in = w->w - 2 * ox;
                        __m256i k0 = exec_lanes256(in);
                        __m256i k1 = exec_lanes256(in - 8);
                        __m256 lo = avg ? _mm256_setzero_ps()
                                        : _mm256_set1_ps(-INFINITY);
                        __m256 hi = lo, e, o, r;
                        for (int64_t ky = 0; ky < w->kh; ky++) {
                                const float *q = xp + (oy * w->sh +
                                                       ky * w->dh) * w->w +
                                                 2 * ox;
                                __m256 a = _mm256_maskload_ps(q, k0);
                                __m256 b = _mm256_maskload_ps(q + 8, k1);
                                if (avg) {
                                        lo = _mm256_add_ps(lo, a);
                                        hi = _mm256_add_ps(hi, b);
                                } else {
                                        lo = max_nan256(lo, a);
                                        hi = max_nan256(hi, b);
                                }
                        }
                        /* per 128-bit half: columns 0 2 8 10 | 4 6 12 14
                         * (and the odd ones), outputs 0 1 4 5 | 2 3 6 7 */
                        e = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
                        o = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
                        r = avg ? _mm256_mul_ps(_mm256_add_ps(e, o), inv)
                                : max_nan256(e, o);
                        r = _mm256_castpd_ps(_mm256_permute4x64_pd(
                                _mm256_castps_pd(r), 0xD8));
                        if (left >= 8)
                                _mm256_storeu_ps(yr + ox, r);
                        else
                                _mm256_maskstore_ps(yr + ox,
                                                    exec_lanes256(left), r);
                }
        }
}

T_AVX2 static void pool2_256(const swarm_window_t *w, const float *xp,
                             float *yp) {
        pool2_body256(w, xp, yp, 0);
}

/* The row passes of other windows on AVX2 (ResNet's 3x3 stride-2 MaxPool
 * was 51 of 1,250 ms at batch 16 on Zen 3 in the portable loops). */
T_AVX2 static void vert_256(float *t, const float *a, const float *restrict b,
                            int64_t n) {
        int64_t q = 0;

        for (; q + 8 <= n; q += 8)
                _mm256_storeu_ps(t + q, max_nan256(_mm256_loadu_ps(a + q),
                                                   _mm256_loadu_ps(b + q)));
        vert_c(t + q, a + q, b + q, n - q);
}

/* Stride 2, dilation 1 (every CNN pool): 8 outputs, taps 2 ox + kx the
 * even or odd columns of two plain loads (the row buffer's slack covers
 * the last ones), as pool2_body256; other windows take horiz_c. */
T_AVX2 static void horiz_256(const mp_job_t *j, const float *restrict t,
                             float *restrict yr) {
        const swarm_window_t *w = j->w;
        int64_t ox = 0;

        if (w->sw != 2 || w->dw != 1) {
                horiz_c(j, t, yr);
                return;
        }
        for (; ox < w->ow; ox += 8) {
                int64_t left = w->ow - ox;
                const float *p = t + ox * 2;
                __m256 m = _mm256_set1_ps(-INFINITY);
                int k0, k1;
                lanes_taps(w, ox, left < 8 ? left : 8, &k0, &k1);
                for (int kx = k0; kx < k1; kx++) {
                        const float *q = p + (kx & ~1);
                        __m256 lo = _mm256_loadu_ps(q);
                        __m256 hi = _mm256_loadu_ps(q + 8);
                        __m256 v = kx & 1
                                ? _mm256_shuffle_ps(lo, hi,
                                                    _MM_SHUFFLE(3, 1, 3, 1))
                                : _mm256_shuffle_ps(lo, hi,
                                                    _MM_SHUFFLE(2, 0, 2, 0));
                        m = max_nan256(m, v);
                }
                /* outputs 0 1 4 5 | 2 3 6 7 -> in order */
                m = _mm256_castpd_ps(_mm256_permute4x64_pd(
                        _mm256_castps_pd(m), 0xD8));
                if (left >= 8) {
                        _mm256_storeu_ps(yr + ox, m);
                } else {
                        float tmp[8];
                        _mm256_storeu_ps(tmp, m);
                        for (int64_t i = 0; i < left; i++)
                                yr[ox + i] = tmp[i];
                }
        }
}

T_AVX2 static void avg2_256(const swarm_window_t *w, const float *xp,
                            float *yp) {
        pool2_body256(w, xp, yp, 1);
}
#endif

/* t = max(a, b) over n floats with the job's loops (t may be a). */
static void row_max(int wide, float *t, const float *a, const float *b,
                    int64_t n) {
#if POOL_X86
        if (wide == ISA_AVX512) {
                vert_512(t, a, b, n);
                return;
        }
        if (wide == ISA_AVX2) {
                vert_256(t, a, b, n);
                return;
        }
#endif
        vert_c(t, a, b, n);
}

/* Block maxima (van Herk / Gil-Werman).  A window's taps e, e + d, ...
 * are consecutive elements of one residue class mod d.  Cut each class
 * into blocks of k: g[e] is the max from e's block's first element to e,
 * h[e] from e to its block's last (or its class's last).  A window of at
 * most k elements is then the max of one h and one g (vh_window), so
 * the pass costs 2 len + outputs element maxima whatever the kernel:
 * the direct loops cost outputs x taps, which fuzz_onnx found at 32,000
 * rows x 1,000 taps of a 65,535-row plane (15 s on AVX2 under the
 * sanitizers).  Elements are n floats (a row, or 1 for the horizontal
 * pass), element e at x + e n. */
static void vh_blocks(int wide, const float *x, int64_t len, int64_t n,
                      int64_t d, int64_t k, float *g, float *h) {
        size_t bytes = (size_t)n * sizeof(float);

        for (int64_t e = 0; e < len; e++) {
                if ((e / d) % k == 0)
                        memcpy(g + e * n, x + e * n, bytes);
                else
                        row_max(wide, g + e * n, g + (e - d) * n, x + e * n,
                                n);
        }
        for (int64_t e = len - 1; e >= 0; e--) {
                if ((e / d) % k == k - 1 || e + d >= len)
                        memcpy(h + e * n, x + e * n, bytes);
                else
                        row_max(wide, h + e * n, h + (e + d) * n, x + e * n,
                                n);
        }
}

/* t = the max of elements a, a + d, ..., b (a <= b, at most k of them)
 * from vh_blocks' g and h. */
static void vh_window(int wide, const float *g, const float *h,
                      const float *x, int64_t len, int64_t n, int64_t d,
                      int64_t k, int64_t a, int64_t b, float *t) {
        int64_t ia = a / d, ib = b / d;
        size_t bytes = (size_t)n * sizeof(float);

        if (ia / k != ib / k) {
                row_max(wide, t, h + a * n, g + b * n, n);
        } else if (ia % k == 0) {
                memcpy(t, g + b * n, bytes);
        } else if (ib % k == k - 1 || b + d >= len) {
                /* a window cut short by the input's end: h runs to b */
                memcpy(t, h + a * n, bytes);
        } else {
                /* not a window of the pool's (never so): tap by tap */
                memcpy(t, x + a * n, bytes);
                for (int64_t e = a + d; e <= b; e += d)
                        row_max(wide, t, t, x + e * n, n);
        }
}

/* Whether a pass takes the block maxima: when its direct loops would do
 * several times their element maxima (outputs x the taps inside the
 * input, against 2 len + outputs).  `factor` is how many direct taps
 * cost one block-maxima element: more where the direct loop is in
 * vectors across outputs and the block maxima are not (the horizontal
 * pass). */
static int vh_worth(int64_t outs, int64_t len, int64_t k, int64_t d,
                    double factor) {
        int64_t inside = (len + d - 1) / d;
        int64_t taps = k < inside ? k : inside;

        return taps >= 4 && (double)outs * (double)taps >
                                    factor * (2.0 * (double)len + (double)outs);
}

/* Direct vertical taps per block-maxima row: both are row maxima. */
#define VH_VERT_FACTOR 2.0
/* Horizontal: the direct loops run 8 or 16 outputs a vector where they
 * have vector loops (AVX-512; AVX2 at stride 2), one float where not. */
#define VH_HORIZ_FACTOR_VEC 16.0
#define VH_HORIZ_FACTOR_C 4.0

/* The horizontal pass from the block maxima of the row buffer's inside
 * columns (hg, hh: w floats each), in scalars: blk[e] is column e's block
 * (vh_blocks' (e / dw) / kw, mp_alloc), so a block's ends are where blk
 * changes between e and e -+ dw, without a division per column. */
static void horiz_vh(const mp_job_t *j, const float *t, float *restrict hg,
                     float *restrict hh, float *restrict yr) {
        const swarm_window_t *w = j->w;
        const float *x = t + w->pad_l;
        const int32_t *blk = j->hblk;
        int64_t n = w->w, d = w->dw;

        for (int64_t e = 0; e < n; e++)
                hg[e] = e < d || blk[e - d] != blk[e] ? x[e]
                                                      : max_nan(hg[e - d], x[e]);
        for (int64_t e = n - 1; e >= 0; e--)
                hh[e] = e + d >= n || blk[e + d] != blk[e]
                                ? x[e]
                                : max_nan(hh[e + d], x[e]);
        for (int64_t ox = 0; ox < w->ow; ox++) {
                int64_t k0, k1, a, b;
                exec_pool_taps(ox * w->sw, w->kw, d, w->pad_l, w->pad_l + n,
                               &k0, &k1);
                if (k0 >= k1) {
                        yr[ox] = -INFINITY;
                        continue;
                }
                a = ox * w->sw + k0 * d - w->pad_l;
                b = a + (k1 - 1 - k0) * d;
                if (blk[a] != blk[b]) {
                        yr[ox] = max_nan(hh[a], hg[b]);
                } else if (a < d || blk[a - d] != blk[a]) {
                        yr[ox] = hg[b];
                } else if (b + d >= n || blk[b + d] != blk[b]) {
                        yr[ox] = hh[a];
                } else {
                        /* not a window of the pool's (never so) */
                        float m = x[a];
                        for (int64_t e = a + d; e <= b; e += d)
                                m = max_nan(m, x[e]);
                        yr[ox] = m;
                }
        }
}

/* The windows pool2_512 / avg2_512 take: 2 wide at stride 2, no left or
 * top padding, every window inside the input. */
static int pool2_window(const swarm_window_t *w) {
        return w->kw == 2 && w->sw == 2 && w->dw == 1 && !w->pad_t &&
               !w->pad_l && w->ow >= 1 && w->oh >= 1 &&
               (w->ow - 1) * 2 + 1 < w->w &&
               (w->oh - 1) * w->sh + (w->kh - 1) * w->dh < w->h;
}

static void mp_part(void *arg, int part, int parts) {
        const mp_job_t *j = arg;
        const swarm_window_t *w = j->w;
        float *t = j->rows + part * (j->tlen + j->vlen + j->hlen);
        float *vg = t + j->tlen, *vh = vg + j->vlen / 2;
        float *hg = vg + j->vlen, *hh = hg + j->hlen / 2;
        int64_t p0 = w->n * part / parts, p1 = w->n * (part + 1) / parts;

#if POOL_X86
        /* the fused loop visits every tap: not for the tall windows the
         * block maxima take */
        if (j->wide && !j->vlen && pool2_window(w)) {
                for (int64_t p = p0; p < p1; p++)
                        (j->wide == ISA_AVX512 ? pool2_512 : pool2_256)(
                                w, j->x + p * w->h * w->w,
                                j->y + p * w->oh * w->ow);
                return;
        }
#endif
        for (int64_t q = 0; q < j->tlen; q++)
                t[q] = -INFINITY;
        for (int64_t p = p0; p < p1; p++) {
                const float *xp = j->x + p * w->h * w->w;
                float *yp = j->y + p * w->oh * w->ow;
                if (j->vlen)
                        vh_blocks(j->wide, xp, w->h, w->w, w->dh, w->kh, vg,
                                  vh);
                for (int64_t oy = 0; oy < w->oh; oy++) {
                        float *row = t + w->pad_l;
                        int64_t iy0 = oy * w->sh - w->pad_t;
                        int64_t k0, k1;
                        exec_pool_taps(iy0, w->kh, w->dh, 0, w->h, &k0, &k1);
                        if (k0 >= k1) {
                                for (int64_t q = 0; q < w->w; q++)
                                        row[q] = -INFINITY;
                        } else if (j->vlen) {
                                vh_window(j->wide, vg, vh, xp, w->h, w->w,
                                          w->dh, w->kh, iy0 + k0 * w->dh,
                                          iy0 + (k1 - 1) * w->dh, row);
                        } else {
                                memcpy(row, xp + (iy0 + k0 * w->dh) * w->w,
                                       (size_t)w->w * sizeof(float));
                                for (int64_t ky = k0 + 1; ky < k1; ky++)
                                        row_max(j->wide, row, row,
                                                xp + (iy0 + ky * w->dh) * w->w,
                                                w->w);
                        }
                        if (j->hlen) {
                                horiz_vh(j, t, hg, hh, yp + oy * w->ow);
                                continue;
                        }
#if POOL_X86
                        if (j->wide == ISA_AVX512) {
                                horiz_512(j, t, yp + oy * w->ow);
                                continue;
                        }
                        if (j->wide == ISA_AVX2) {
                                horiz_256(j, t, yp + oy * w->ow);
                                continue;
                        }
#endif
                        horiz_c(j, t, yp + oy * w->ow);
                }
        }
}

/* Checks the window and sizes the row buffer: pad_l + w floats, or as far
 * as the last window reaches, plus a vector of slack. */
static int mp_prepare(mp_job_t *j, const swarm_window_t *w, const float *x,
                      float *y, swarm_err_t *err) {
        int64_t reach, span, tlen;

        if (w->n < 0 || w->h < 1 || w->w < 1 || w->oh < 0 || w->ow < 0 ||
            w->kh < 1 || w->kw < 1 || w->sh < 1 || w->sw < 1 || w->dh < 1 ||
            w->dw < 1 || w->pad_t < 0 || w->pad_l < 0 ||
            swarm_mul_i64(w->ow > 0 ? w->ow - 1 : 0, w->sw, &reach) ||
            swarm_mul_i64(w->kw - 1, w->dw, &span) ||
            swarm_add_i64(reach, span + 1, &reach) ||
            swarm_add_i64(w->pad_l, w->w, &tlen) ||
            swarm_add_i64(tlen > reach ? tlen : reach, 32, &tlen) ||
            tlen > INT32_MAX)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "maxpool: bad window (%lld x %lld, "
                                     "kernel %lld x %lld)", (long long)w->h,
                                     (long long)w->w, (long long)w->kh,
                                     (long long)w->kw);
        j->w = w;
        j->x = x;
        j->y = y;
        j->tlen = tlen;
        j->vlen = 0;
        j->hlen = 0;
        j->hblk = NULL;
        j->rows = NULL;
        j->wide = 0;
        return SWARM_OK;
}

/* Which passes take the block maxima (vh_worth) with the loops `wide`:
 * bit 1 the vertical, bit 2 the horizontal. */
static int vh_passes(const swarm_window_t *w, int wide) {
        int vec_h = wide == ISA_AVX512 ||
                    (wide == ISA_AVX2 && w->sw == 2 && w->dw == 1);

        return vh_worth(w->oh, w->h, w->kh, w->dh, VH_VERT_FACTOR) |
               vh_worth(w->ow, w->w, w->kw, w->dw,
                        vec_h ? VH_HORIZ_FACTOR_VEC : VH_HORIZ_FACTOR_C) << 1;
}

/* The passes' choice for the loops in j->wide, and the buffers of
 * `parts` parts. */
static int mp_alloc(mp_job_t *j, int parts, swarm_err_t *err) {
        const swarm_window_t *w = j->w;
        int passes = vh_passes(w, j->wide);
        int64_t v = 0, per = 0, all = 0;

        j->vlen = 0;
        j->hlen = 0;
        /* h w: one input plane's floats, which exist */
        if ((passes & 1) && !swarm_mul_i64(w->h, w->w, &v) &&
            !swarm_mul_i64(v, 2, &v))
                j->vlen = v;
        if (passes & 2) {
                /* w < 2^31 (mp_prepare) */
                if (!(j->hblk = malloc((size_t)w->w * sizeof(int32_t))))
                        return swarm_err_set(err, SWARM_ERR_NOMEM, "maxpool: "
                                             "out of memory");
                for (int64_t e = 0; e < w->w; e++)
                        j->hblk[e] = (int32_t)(e / w->dw / w->kw);
                j->hlen = 2 * w->w;
        }
        if (swarm_add_i64(j->tlen, j->vlen, &per) ||
            swarm_add_i64(per, j->hlen, &per) ||
            swarm_mul_i64(per, parts, &all) ||
            (uint64_t)all > SIZE_MAX / sizeof(float) ||
            !(j->rows = malloc((size_t)all * sizeof(float)))) {
                free(j->hblk);
                j->hblk = NULL;
                return swarm_err_set(err, SWARM_ERR_NOMEM,
                                     "maxpool: out of memory for %lld "
                                     "floats of row buffers", (long long)all);
        }
        return SWARM_OK;
}

/* The widest loops this CPU runs, at most `cap` (ISA_*). */
static int wide_ok(int cap) {
#if POOL_X86
        int isa = __builtin_cpu_supports("avx512f") ? ISA_AVX512
                  : __builtin_cpu_supports("avx2")  ? ISA_AVX2
                                                    : ISA_C;
        return isa < cap ? isa : cap;
#else
        (void)cap;
        return ISA_C;
#endif
}

int exec_cpu_maxpool(swarm_backend_t *be, const swarm_window_t *w,
                     const float *x, float *y, swarm_err_t *err) {
        mp_job_t j;
        int lanes = be->threads > 1 ? be->threads : 1;
        int64_t outs;
        int rc = mp_prepare(&j, w, x, y, err);

        if (rc || w->n == 0 || w->oh == 0 || w->ow == 0)
                return rc;
        if (swarm_mul_i64(w->oh, w->ow, &outs) ||
            swarm_mul_i64(outs, w->n, &outs))
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "maxpool: output size overflows");
        j.wide = wide_ok(ISA_AVX512);
        rc = mp_alloc(&j, lanes, err);
        if (rc)
                return rc;
        exec_cpu_par_run(be, outs >= MP_PAR_MIN && w->n >= 2, mp_part, &j);
        free(j.rows);
        free(j.hblk);
        return SWARM_OK;
}

int exec_cpu_maxpool_blocks(const swarm_window_t *w, int isa) {
        return vh_passes(w, wide_ok(isa));
}

int exec_cpu_maxpool_isa(const swarm_window_t *w, const float *x, float *y,
                         int isa, swarm_err_t *err) {
        mp_job_t j;
        int rc = mp_prepare(&j, w, x, y, err);

        if (rc || w->n == 0 || w->oh == 0 || w->ow == 0)
                return rc;
        j.wide = wide_ok(isa);
        rc = mp_alloc(&j, 1, err);
        if (rc)
                return rc;
        mp_part(&j, 0, 1);
        free(j.rows);
        free(j.hblk);
        return SWARM_OK;
}

/* ---- average pooling, 2-wide stride-2 windows inside the input ---- */

typedef struct ap_job {
        const swarm_window_t *w;
        const float *x;
        float *y;
        int wide;               /* ISA_* */
} ap_job_t;

static void avg2_c(const swarm_window_t *w, const float *xp, float *yp) {
        float inv = 1.0f / (float)(w->kh * 2);

        for (int64_t oy = 0; oy < w->oh; oy++)
                for (int64_t ox = 0; ox < w->ow; ox++) {
                        const float *r = xp + oy * w->sh * w->w + 2 * ox;
                        float acc = 0.0f;
                        for (int64_t ky = 0; ky < w->kh; ky++) {
                                const float *q = r + ky * w->dh * w->w;
                                acc += q[0] + q[1];
                        }
                        yp[oy * w->ow + ox] = acc * inv;
                }
}

static void ap_part(void *arg, int part, int parts) {
        const ap_job_t *j = arg;
        const swarm_window_t *w = j->w;
        int64_t p0 = w->n * part / parts, p1 = w->n * (part + 1) / parts;

        for (int64_t p = p0; p < p1; p++) {
                const float *xp = j->x + p * w->h * w->w;
                float *yp = j->y + p * w->oh * w->ow;
#if POOL_X86
                if (j->wide) {
                        (j->wide == ISA_AVX512 ? avg2_512 : avg2_256)(w, xp,
                                                                     yp);
                        continue;
                }
#endif
                avg2_c(w, xp, yp);
        }
}

int exec_cpu_avgpool2_ok(const swarm_window_t *w) {
        int64_t outs;

        return w->n >= 0 && w->h >= 1 && w->w >= 1 && w->kh >= 1 &&
               w->kh <= 64 && w->sh >= 1 && w->dh >= 1 && w->pad_t >= 0 &&
               w->pad_l >= 0 && w->h <= INT32_MAX && w->w <= INT32_MAX &&
               !swarm_mul_i64(w->oh, w->ow, &outs) && pool2_window(w);
}

static int ap_check(const swarm_window_t *w, swarm_err_t *err) {
        if (!exec_cpu_avgpool2_ok(w))
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "avgpool: window not 2 wide at stride "
                                     "2 inside the input");
        return SWARM_OK;
}

int exec_cpu_avgpool2(swarm_backend_t *be, const swarm_window_t *w,
                      const float *x, float *y, swarm_err_t *err) {
        ap_job_t j = {w, x, y, wide_ok(ISA_AVX512)};
        int64_t outs;
        int rc = ap_check(w, err);

        if (rc || w->n == 0)
                return rc;
        if (swarm_mul_i64(w->oh, w->ow, &outs) ||
            swarm_mul_i64(outs, w->n, &outs))
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "avgpool: output size overflows");
        exec_cpu_par_run(be, outs >= MP_PAR_MIN && w->n >= 2, ap_part, &j);
        return SWARM_OK;
}

int exec_cpu_avgpool2_isa(const swarm_window_t *w, const float *x, float *y,
                          int isa, swarm_err_t *err) {
        ap_job_t j = {w, x, y, wide_ok(isa)};
        int rc = ap_check(w, err);

        if (rc || w->n == 0)
                return rc;
        ap_part(&j, 0, 1);
        return SWARM_OK;
}
