/*
 * cpu_pw.c - pointwise convolution on AVX-512 and AVX2 (see cpu_pw.h).
 *
 * Tiles: 8 output channels (one sliver of the packed filters, 8 floats per
 * input channel) x up to 32 pixels of one image (two vectors, the last
 * one masked at the plane's end); on AVX2, cpu_gemm.c's 6-row slivers x
 * 16 pixels (12 accumulators, the classic 6 x 16 register tile).  The
 * accumulators start at the bias, take one broadcast filter value and one
 * or two image loads per input channel, and get the activation before the
 * one (masked) store to y.  A
 * part's items are (image, block of up to 512 pixels, sliver); each sliver
 * passes over the whole block (its rows of K x span pixels in L2, long
 * streams for the prefetchers), or, where input and output fit in L2
 * (pw_tile_major), each 32-pixel tile goes through every sliver while its
 * K x 32 pixels stay in L1.
 */
#include <stdint.h>
#include <string.h>

#include "cpu_act.h"
#include "cpu_par.h"
#include "cpu_pw.h"
#include "swarm/tensor.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PW_X86 1
#include <immintrin.h>
#include "cpu_lanes.h"
#else
#define PW_X86 0
#endif

/* Pixels per tile: two 16-float vectors (AVX2: two of 8). */
#define PW_NB 32
#define PW_NB2 16
/* Filter rows per sliver: cpu_gemm.c's AVX-512 MR, and its AVX2 one (the
 * packing's; exec_cpu_pw_runs checks the packed size against it). */
#define PW_MR 8
#define PW_MR2 6
/* Floats of one block's input (k x span pixels) and the most pixels a
 * block spans. */
#define PW_SPAN_FLOATS ((int64_t)32 * 1024)
#define PW_SPAN_MAX 512
/* The first sliver's pass over a block prefetches the next tile's pixels
 * (measured at batch 16, 1 thread: 96 -> 24 at 56 x 56 1.22 -> 1.02 and
 * 144 -> 24 1.32 -> 1.13 of the packed path's time, 72 -> 24 at 28 x 28
 * 0.76 -> 0.64; no layer slower).  0 turns it off. */
#ifndef PW_PREFETCH
#define PW_PREFETCH 1
#endif
/* Images per accumulator set of the 1 x 1 plane kernel. */
#define PW_NI 8

static int pw_window_ok(const swarm_window_t *w) {
        return w->kh == 1 && w->kw == 1 && w->sh == 1 && w->sw == 1 &&
               !w->pad_t && !w->pad_l && !w->pad_b && !w->pad_r &&
               w->oh == w->h && w->ow == w->w && w->h >= 1 && w->w >= 1 &&
               w->n >= 1;
}

/* Rows per sliver of filters packed for isa; 0 where this kernel has no
 * code for it. */
static int pw_mr(cpu_isa_t isa) {
        return !PW_X86 ? 0 : isa == CPU_ISA_AVX512 ? PW_MR
                           : isa == CPU_ISA_AVX2 ? PW_MR2 : 0;
}

int exec_cpu_pw_runs(const swarm_window_t *w, int64_t group,
                     const cpu_packed_t *p, swarm_act_t act) {
        int mr = p ? pw_mr(p->isa) : 0;

        return mr && group == 1 && p->side == 0 && p->groups == 1 &&
               p->k == w->n && p->rows >= 1 &&
               p->group_floats == (p->rows + mr - 1) / mr * mr * p->k &&
               cpu_gemm_isa_ok(p->isa) && pw_window_ok(w) &&
               exec_act_vec_ok(act);
}

int exec_cpu_pw_isa_ok(cpu_isa_t isa) {
        return pw_mr(isa) && cpu_gemm_isa_ok(isa);
}

/* Where this kernel beats cpu_gemm.c's packed path (1 thread, thread
 * CPU, min of 10, the 1x1 layers of MobileNetV3-small, EfficientNet-B0
 * and RegNetY-400MF at batch 1 and 16; bench/exec/README.md):
 * - a 1 x 1 plane always (0.08-0.38x the time);
 * - from 8 x 8 up, up to k = 128 input channels, expanding or reducing:
 *   0.3-0.9x (16 -> 96 at 112 x 112, batch 16: 0.28x), never above 1.02x;
 * - past k = 128 the layer reads its larger input once per sliver, with
 *   strided rows, where the packed path streams it once into panels:
 *   reducing layers still win up to k = 256 at 14 x 14 and below (240 ->
 *   40: 0.68-0.88x) and whenever input and output fit in L2 (batch 1: 480
 *   -> 80 at 14 x 14, 0.88x), and lose otherwise (144 -> 24 at 56 x 56,
 *   batch 16: 1.13x; 672 -> 112 at 14 x 14: 1.14x); the others lose (208
 *   -> 208 and 208 -> 440 at 14 x 14: 1.00-1.12x, at batch 1 too);
 * - 7 x 7 planes fill 49 of the 64 lanes of their two tiles where the
 *   packed path's columns span images: only up to k + m = 672 (288 -> 96,
 *   96 -> 576: 0.77-0.89x), not 672 -> 192, 440 -> 440 or 1152 -> 320
 *   (1.05-1.4x). */
#define PW_SMALL_PLANE 64
#define PW_SMALL_MAX_KM 672
#define PW_MAX_K 128
#define PW_REDUCE_MID_K 256
#define PW_REDUCE_MID_PLANE 196
#define PW_FIT_BYTES ((int64_t)1 << 20)

static int pw_faster(int64_t k, int64_t m, int64_t plane, int64_t imgs) {
        int64_t ws;
        int fit;

        if (plane == 1)
                return 1;
        fit = !swarm_mul_i64(imgs, plane, &ws) &&
              !swarm_mul_i64(ws, k + m, &ws) &&
              ws <= PW_FIT_BYTES / (int64_t)sizeof(float);
        if (plane < PW_SMALL_PLANE)
                return k + m <= PW_SMALL_MAX_KM && (k <= m || fit);
        if (k <= PW_MAX_K)
                return 1;
        return k > m && ((k <= PW_REDUCE_MID_K &&
                          plane <= PW_REDUCE_MID_PLANE) || fit);
}

int exec_cpu_pw_fits(const swarm_window_t *w, int64_t group,
                     const cpu_packed_t *p, int64_t imgs, swarm_act_t act) {
        return exec_cpu_pw_runs(w, group, p, act) && imgs >= 0 &&
               pw_faster(w->n, p->rows, w->h * w->w, imgs);
}

/* Tile-major order (each 32-pixel tile through every sliver) where one
 * tile's input, k x 32 floats, stays in L1 and the tile's outputs, cout
 * rows a plane apart, stay few pages: 1 thread, thread CPU, min of 20,
 * the layers above at batch 1: 0.75-0.94x the block-major time from
 * 14 x 14 and 28 x 28 (24 -> 96 at 28 x 28: 0.75x, 112 -> 672 at 14 x
 * 14: 0.86x), 1.30x at 24 -> 144 @ 56 x 56 (cout * plane 451 Ki) and 3.2x
 * at 16 -> 96 @ 112 x 112 (the tile's 96 output rows 49 KiB apart);
 * neutral past k = 256.  Only where input and output fit in L2 together:
 * at batch 16 the input comes from DRAM, and k rows of 128 bytes per tile
 * ran 1.3-3.3x slower than block-major's long rows (24 -> 96 at 28 x 28:
 * 2.4x). */
#define PW_TM_MAX_K 256
#define PW_TM_MAX_OUT ((int64_t)256 * 1024)

static int pw_tile_major(int64_t k, int64_t m, int64_t plane, int64_t imgs) {
        int64_t ws;
        return k <= PW_TM_MAX_K && m <= PW_TM_MAX_OUT / plane &&
               !swarm_mul_i64(imgs, plane, &ws) &&
               !swarm_mul_i64(ws, k + m, &ws) &&
               ws <= PW_FIT_BYTES / (int64_t)sizeof(float);
}

typedef struct pw_job {
        cpu_isa_t isa;
        int mr, nb;             /* rows per sliver, pixels per tile */
        const float *a;         /* packed filters: sliver s at a + s*k*mr */
        const float *x, *s, *bias;
        float *y;
        int64_t k, m, plane, imgs;
        int64_t slivers;        /* filter slivers */
        int64_t span, blocks;   /* pixels per block, blocks per image */
        int64_t items;
        int tile_major;         /* see pw_part_avx512 */
        swarm_act_t act;
        float aa, ab;
} pw_job_t;

#if PW_X86
#define T512 __attribute__((target("avx512f,fma,avx2")))
#define PW_INLINE static inline __attribute__((always_inline))

/* One tile: rows [0, rows) of the sliver a (k x 8) times pixels x (input
 * channel p at x + p * ldx; lanes in m0 / m1, nv vectors) scaled by sc[p]
 * when `scaled`, into y (row r at y + r * ldx). */
PW_INLINE T512 void pw_tile(int nv, int scaled, int pf, int64_t k,
                            const float *restrict a, const float *x,
                            int64_t ldx, const float *restrict sc,
                            __mmask16 m0, __mmask16 m1,
                            const float *bias, int rows, swarm_act_t act,
                            __m512 va, __m512 vb, float *y) {
        __m512 c0[PW_MR], c1[PW_MR];

#pragma GCC unroll 8
        for (int r = 0; r < PW_MR; r++) {
                c0[r] = bias && r < rows ? _mm512_set1_ps(bias[r])
                                         : _mm512_setzero_ps();
                c1[r] = c0[r];
        }
        for (int64_t p = 0; p < k; p++) {
                const float *xp = x + p * ldx;
                __m512 b0 = _mm512_maskz_loadu_ps(m0, xp);
                __m512 b1 = nv > 1 ? _mm512_maskz_loadu_ps(m1, xp + 16)
                                   : _mm512_setzero_ps();
                if (pf) {
                        _mm_prefetch((const char *)(xp + PW_NB), _MM_HINT_T0);
                        _mm_prefetch((const char *)(xp + PW_NB + 16),
                                     _MM_HINT_T0);
                }
                if (scaled) {
                        __m512 sv = _mm512_set1_ps(sc[p]);
                        b0 = _mm512_mul_ps(b0, sv);
                        if (nv > 1)
                                b1 = _mm512_mul_ps(b1, sv);
                }
#pragma GCC unroll 8
                for (int r = 0; r < PW_MR; r++) {
                        __m512 ar = _mm512_set1_ps(a[p * PW_MR + r]);
                        c0[r] = _mm512_fmadd_ps(ar, b0, c0[r]);
                        if (nv > 1)
                                c1[r] = _mm512_fmadd_ps(ar, b1, c1[r]);
                }
        }
#pragma GCC unroll 8
        for (int r = 0; r < PW_MR; r++) {
                if (r >= rows)
                        break;
                _mm512_mask_storeu_ps(y + r * ldx, m0,
                                      exec_act_vec512(act, c0[r], va,
                                                      vb));
                if (nv > 1)
                        _mm512_mask_storeu_ps(y + r * ldx + 16, m1,
                                              exec_act_vec512(act, c1[r],
                                                              va, vb));
        }
}

/* The tile kernel for each (vectors, scaled, prefetching) triple, so the
 * flags fold. */
#define PW_TILE_FN(NV, SC, PF)                                            \
        T512 static void pw_tile_##NV##_##SC##_##PF(                      \
                int64_t k, const float *a, const float *x, int64_t ldx,   \
                const float *sc, __mmask16 m0, __mmask16 m1,              \
                const float *bias, int rows, swarm_act_t act, __m512 va,  \
                __m512 vb, float *y) {                                    \
                pw_tile(NV, SC, PF, k, a, x, ldx, sc, m0, m1, bias, rows, \
                        act, va, vb, y);                                  \
        }
PW_TILE_FN(1, 0, 0) PW_TILE_FN(2, 0, 0) PW_TILE_FN(1, 1, 0)
PW_TILE_FN(2, 1, 0) PW_TILE_FN(2, 0, 1) PW_TILE_FN(2, 1, 1)

/* A 1 x 1 plane: images [0, ni) (image i's input at x + i * k, output at
 * y + i * ldy) times rows [0, rows) of sliver a, the 8 rows in the low
 * lanes of each image's accumulator. */
PW_INLINE T512 void pw_col(int64_t k, const float *restrict a,
                           const float *restrict x,
                           const float *restrict sc, int ni,
                           const float *bias, int rows, swarm_act_t act,
                           __m512 va, __m512 vb, float *y, int64_t ldy) {
        __mmask16 rm = (__mmask16)((1u << rows) - 1u);
        __m512 acc[PW_NI], b0;

        b0 = bias ? _mm512_maskz_loadu_ps(rm, bias) : _mm512_setzero_ps();
#pragma GCC unroll 8
        for (int i = 0; i < PW_NI; i++)
                acc[i] = b0;
        for (int64_t p = 0; p < k; p++) {
                __m512 av = _mm512_maskz_loadu_ps(0xff, a + p * PW_MR);
#pragma GCC unroll 8
                for (int i = 0; i < PW_NI; i++) {
                        float xv;
                        if (i >= ni)
                                break;
                        xv = x[i * k + p];
                        if (sc)
                                xv *= sc[i * k + p];
                        acc[i] = _mm512_fmadd_ps(av, _mm512_set1_ps(xv),
                                                 acc[i]);
                }
        }
#pragma GCC unroll 8
        for (int i = 0; i < PW_NI; i++) {
                if (i >= ni)
                        break;
                _mm512_mask_storeu_ps(y + i * ldy, rm,
                                      exec_act_vec512(act, acc[i], va,
                                                      vb));
        }
}

/* The tile of sliver sl, image img, pixels [c0, c0 + wdt). */
T512 static void pw_tile_at512(const pw_job_t *j, const float *a,
                               const float *sc, const float *bias, int rows,
                               int64_t img, int64_t sl, int64_t c0,
                               int64_t wdt, int pf) {
        __m512 va = _mm512_set1_ps(j->aa), vb = _mm512_set1_ps(j->ab);
        __mmask16 m0 = wdt >= 16 ? 0xffff : (__mmask16)((1u << wdt) - 1u);
        __mmask16 m1 = wdt >= 32 ? 0xffff
                       : wdt > 16 ? (__mmask16)((1u << (wdt - 16)) - 1u)
                       : 0;
        int64_t k = j->k;
        const float *x = j->x + img * k * j->plane + c0;
        float *y = j->y + (img * j->m + sl * PW_MR) * j->plane + c0;

        if (pf && sc)
                pw_tile_2_1_1(k, a, x, j->plane, sc, m0, m1, bias, rows,
                              j->act, va, vb, y);
        else if (pf)
                pw_tile_2_0_1(k, a, x, j->plane, NULL, m0, m1, bias, rows,
                              j->act, va, vb, y);
        else if (sc && wdt > 16)
                pw_tile_2_1_0(k, a, x, j->plane, sc, m0, m1, bias, rows,
                              j->act, va, vb, y);
        else if (sc)
                pw_tile_1_1_0(k, a, x, j->plane, sc, m0, m1, bias, rows,
                              j->act, va, vb, y);
        else if (wdt > 16)
                pw_tile_2_0_0(k, a, x, j->plane, NULL, m0, m1, bias, rows,
                              j->act, va, vb, y);
        else
                pw_tile_1_0_0(k, a, x, j->plane, NULL, m0, m1, bias, rows,
                              j->act, va, vb, y);
}

/* Filters ahead of the loads that pw_col1 prefetches: k steps of a
 * sliver's 8 rows (4 KiB). */
#define PW_COL1_AHEAD 128

/* pw_col for one image (batch 1: the squeeze-excitation FCs of the mobile
 * nets, 1 x 1 planes), where pw_col has one accumulator: each k step one
 * half-empty load of the sliver's 8 rows and one FMA on the previous one,
 * and the filters (read once a run, from L3 or DRAM) waited on at every
 * load: 576 -> 144 took 57 us on Zen 5 (6 GB/s).  Here two k steps fill
 * one vector (rows of k even in the low lanes, odd in the high ones,
 * their x values dealt by a permute), four accumulators take turns, and
 * the filters are prefetched 4 KiB ahead. */
PW_INLINE T512 void pw_col1(int64_t k, const float *restrict a,
                            const float *restrict x,
                            const float *restrict sc, const float *bias,
                            int rows, swarm_act_t act, __m512 va,
                            __m512 vb, float *y) {
        __mmask16 rm = (__mmask16)((1u << rows) - 1u);
        /* lanes 0-7 take element 0, lanes 8-15 element 1 */
        const __m512i pair = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0,
                                              0, 0, 0, 0, 0, 0);
        __m512 acc[4], v;
        int64_t p = 0;

        for (int i = 0; i < 4; i++)
                acc[i] = _mm512_setzero_ps();
        for (; p + 16 <= k; p += 16) {
                __m512 xv = _mm512_loadu_ps(x + p);
                if (sc)
                        xv = _mm512_mul_ps(xv, _mm512_loadu_ps(sc + p));
#pragma GCC unroll 8
                for (int q = 0; q < 8; q++) {
                        const float *ap = a + (p + 2 * q) * PW_MR;
                        _mm_prefetch((const char *)(ap + PW_COL1_AHEAD *
                                                             PW_MR),
                                     _MM_HINT_T0);
                        acc[q & 3] = _mm512_fmadd_ps(
                                _mm512_loadu_ps(ap),
                                _mm512_permutexvar_ps(
                                        _mm512_add_epi32(
                                                pair,
                                                _mm512_set1_epi32(2 * q)),
                                        xv),
                                acc[q & 3]);
                }
        }
        for (; p < k; p++) {
                float xs = sc ? x[p] * sc[p] : x[p];
                acc[p & 3] = _mm512_fmadd_ps(
                        _mm512_maskz_loadu_ps(0xff, a + p * PW_MR),
                        _mm512_set1_ps(xs), acc[p & 3]);
        }
        v = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]),
                          _mm512_add_ps(acc[2], acc[3]));
        /* the odd k steps' high lanes onto the even ones' low lanes */
        v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(1, 0, 3,
                                                                   2)));
        if (bias)
                v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(rm, bias));
        _mm512_mask_storeu_ps(y, rm, exec_act_vec512(act, v, va, vb));
}

T512 static void pw_col_at512(const pw_job_t *j, const float *a,
                              const float *x, const float *sc, int ni,
                              const float *bias, int rows, float *y) {
        if (ni == 1) {
                pw_col1(j->k, a, x, sc, bias, rows, j->act,
                        _mm512_set1_ps(j->aa), _mm512_set1_ps(j->ab), y);
                return;
        }
        pw_col(j->k, a, x, sc, ni, bias, rows, j->act,
               _mm512_set1_ps(j->aa), _mm512_set1_ps(j->ab), y, j->m);
}

/* ---- AVX2: 6 rows (cpu_gemm.c's AVX2 slivers) x 16 pixels ----
 * Without it AVX2 machines ran every 1x1 layer on the packed GEMM, which
 * copies the image into panels and makes a second pass for the
 * epilogue: on Zen 3 the pointwise layers were half of MobileNetV3's and
 * RegNet's time (bench/exec/README.md).  Full tiles load and store
 * plainly, the last one of a row by vmaskmov (slower on Zen, so only
 * there). */
#define T256 __attribute__((target("avx2,fma")))

/* As pw_tile, on 8-lane vectors; `full`: 16 pixels, no masks. */
PW_INLINE T256 void pw_tile2(int nv, int full, int scaled, int pf, int64_t k,
                             const float *restrict a, const float *x,
                             int64_t ldx, const float *restrict sc,
                             __m256i m0, __m256i m1, const float *bias,
                             int rows, swarm_act_t act, __m256 va, __m256 vb,
                             float *y) {
        __m256 c0[PW_MR2], c1[PW_MR2];

#pragma GCC unroll 6
        for (int r = 0; r < PW_MR2; r++) {
                c0[r] = bias && r < rows ? _mm256_set1_ps(bias[r])
                                         : _mm256_setzero_ps();
                c1[r] = c0[r];
        }
        for (int64_t p = 0; p < k; p++) {
                const float *xp = x + p * ldx;
                __m256 b0 = exec_ld8(xp, full, m0);
                __m256 b1 = nv > 1 ? exec_ld8(xp + 8, full, m1)
                                   : _mm256_setzero_ps();
                if (pf)
                        _mm_prefetch((const char *)(xp + PW_NB2),
                                     _MM_HINT_T0);
                if (scaled) {
                        __m256 sv = _mm256_broadcast_ss(sc + p);
                        b0 = _mm256_mul_ps(b0, sv);
                        if (nv > 1)
                                b1 = _mm256_mul_ps(b1, sv);
                }
#pragma GCC unroll 6
                for (int r = 0; r < PW_MR2; r++) {
                        __m256 ar = _mm256_broadcast_ss(a + p * PW_MR2 + r);
                        c0[r] = _mm256_fmadd_ps(ar, b0, c0[r]);
                        if (nv > 1)
                                c1[r] = _mm256_fmadd_ps(ar, b1, c1[r]);
                }
        }
#pragma GCC unroll 6
        for (int r = 0; r < PW_MR2; r++) {
                if (r >= rows)
                        break;
                exec_st8(y + r * ldx, full, m0,
                       exec_act_vec256(act, c0[r], va, vb));
                if (nv > 1)
                        exec_st8(y + r * ldx + 8, full, m1,
                               exec_act_vec256(act, c1[r], va, vb));
        }
}

#define PW_TILE2_FN(NV, FULL, SC, PF)                                     \
        T256 static void pw_tile2_##NV##_##FULL##_##SC##_##PF(            \
                int64_t k, const float *a, const float *x, int64_t ldx,   \
                const float *sc, __m256i m0, __m256i m1,                  \
                const float *bias, int rows, swarm_act_t act, __m256 va,  \
                __m256 vb, float *y) {                                    \
                pw_tile2(NV, FULL, SC, PF, k, a, x, ldx, sc, m0, m1,      \
                         bias, rows, act, va, vb, y);                     \
        }
PW_TILE2_FN(2, 1, 0, 0) PW_TILE2_FN(2, 1, 1, 0) PW_TILE2_FN(2, 1, 0, 1)
PW_TILE2_FN(2, 1, 1, 1) PW_TILE2_FN(1, 0, 0, 0) PW_TILE2_FN(1, 0, 1, 0)
PW_TILE2_FN(2, 0, 0, 0) PW_TILE2_FN(2, 0, 1, 0)

T256 static void pw_tile_at256(const pw_job_t *j, const float *a,
                               const float *sc, const float *bias, int rows,
                               int64_t img, int64_t sl, int64_t c0,
                               int64_t wdt, int pf) {
        __m256 va = _mm256_set1_ps(j->aa), vb = _mm256_set1_ps(j->ab);
        __m256i m0 = exec_lanes256(wdt), m1 = exec_lanes256(wdt - 8);
        int64_t k = j->k;
        const float *x = j->x + img * k * j->plane + c0;
        float *y = j->y + (img * j->m + sl * PW_MR2) * j->plane + c0;

        if (wdt >= PW_NB2 && pf && sc)
                pw_tile2_2_1_1_1(k, a, x, j->plane, sc, m0, m1, bias, rows,
                                 j->act, va, vb, y);
        else if (wdt >= PW_NB2 && pf)
                pw_tile2_2_1_0_1(k, a, x, j->plane, NULL, m0, m1, bias, rows,
                                 j->act, va, vb, y);
        else if (wdt >= PW_NB2 && sc)
                pw_tile2_2_1_1_0(k, a, x, j->plane, sc, m0, m1, bias, rows,
                                 j->act, va, vb, y);
        else if (wdt >= PW_NB2)
                pw_tile2_2_1_0_0(k, a, x, j->plane, NULL, m0, m1, bias, rows,
                                 j->act, va, vb, y);
        else if (wdt > 8 && sc)
                pw_tile2_2_0_1_0(k, a, x, j->plane, sc, m0, m1, bias, rows,
                                 j->act, va, vb, y);
        else if (wdt > 8)
                pw_tile2_2_0_0_0(k, a, x, j->plane, NULL, m0, m1, bias, rows,
                                 j->act, va, vb, y);
        else if (sc)
                pw_tile2_1_0_1_0(k, a, x, j->plane, sc, m0, m1, bias, rows,
                                 j->act, va, vb, y);
        else
                pw_tile2_1_0_0_0(k, a, x, j->plane, NULL, m0, m1, bias, rows,
                                 j->act, va, vb, y);
}

/* pw_col1 on AVX2 (see there): four accumulators take turns over the k
 * steps and the filters are prefetched 3 KiB ahead; a k step is still one
 * 6-row load (the AVX2 slivers' rows do not pair into a vector). */
T256 static void pw_col1_256(const pw_job_t *j, const float *a,
                             const float *x, const float *sc,
                             const float *bias, int rows, float *y) {
        __m256 va = _mm256_set1_ps(j->aa), vb = _mm256_set1_ps(j->ab);
        __m256i rm = exec_lanes256(rows), m6 = exec_lanes256(PW_MR2);
        __m256 acc[4], v;
        int64_t k = j->k;

        for (int i = 0; i < 4; i++)
                acc[i] = _mm256_setzero_ps();
        for (int64_t p = 0; p < k; p++) {
                float xv = sc ? x[p] * sc[p] : x[p];
                if (!(p & 1))
                        _mm_prefetch((const char *)(a + (p + PW_COL1_AHEAD) *
                                                            PW_MR2),
                                     _MM_HINT_T0);
                acc[p & 3] = _mm256_fmadd_ps(
                        _mm256_maskload_ps(a + p * PW_MR2, m6),
                        _mm256_set1_ps(xv), acc[p & 3]);
        }
        v = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]),
                          _mm256_add_ps(acc[2], acc[3]));
        if (bias)
                v = _mm256_add_ps(v, _mm256_maskload_ps(bias, rm));
        _mm256_maskstore_ps(y, rm, exec_act_vec256(j->act, v, va, vb));
}

/* As pw_col: the 6 rows of a sliver in the low lanes. */
T256 static void pw_col_at256(const pw_job_t *j, const float *a,
                              const float *x, const float *sc, int ni,
                              const float *bias, int rows, float *y) {
        __m256 va = _mm256_set1_ps(j->aa), vb = _mm256_set1_ps(j->ab);
        __m256i rm = exec_lanes256(rows), m6 = exec_lanes256(PW_MR2);
        __m256 acc[PW_NI], b0;
        int64_t k = j->k;

        if (ni == 1) {
                pw_col1_256(j, a, x, sc, bias, rows, y);
                return;
        }
        b0 = bias ? _mm256_maskload_ps(bias, rm) : _mm256_setzero_ps();
#pragma GCC unroll 8
        for (int i = 0; i < PW_NI; i++)
                acc[i] = b0;
        for (int64_t p = 0; p < k; p++) {
                __m256 av = _mm256_maskload_ps(a + p * PW_MR2, m6);
#pragma GCC unroll 8
                for (int i = 0; i < PW_NI; i++) {
                        float xv;
                        if (i >= ni)
                                break;
                        xv = x[i * k + p];
                        if (sc)
                                xv *= sc[i * k + p];
                        acc[i] = _mm256_fmadd_ps(av, _mm256_set1_ps(xv),
                                                 acc[i]);
                }
        }
#pragma GCC unroll 8
        for (int i = 0; i < PW_NI; i++) {
                if (i >= ni)
                        break;
                _mm256_maskstore_ps(y + i * j->m, rm,
                                    exec_act_vec256(j->act, acc[i], va, vb));
        }
}
#undef T256

/* Filter rows of sliver sl (mr but in the last one). */
static inline int pw_rows(const pw_job_t *j, int64_t sl) {
        return (int)(j->m - sl * j->mr < j->mr ? j->m - sl * j->mr : j->mr);
}

static void pw_tile_at(const pw_job_t *j, int64_t sl, const float *sc,
                       int64_t img, int64_t c0, int64_t wdt, int pf) {
        const float *a = j->a + sl * j->k * j->mr;
        const float *bias = j->bias ? j->bias + sl * j->mr : NULL;

        if (j->isa == CPU_ISA_AVX512)
                pw_tile_at512(j, a, sc, bias, pw_rows(j, sl), img, sl, c0,
                              wdt, pf);
        else
                pw_tile_at256(j, a, sc, bias, pw_rows(j, sl), img, sl, c0,
                              wdt, pf);
}

static void pw_part_x86(const pw_job_t *j, int64_t lo, int64_t hi) {
        int64_t k = j->k, nb = j->nb;

        if (j->plane == 1) {
                for (int64_t it = lo; it < hi; it++) {
                        int64_t sl = it % j->slivers, unit = it / j->slivers;
                        int rows = pw_rows(j, sl);
                        const float *a = j->a + sl * k * j->mr;
                        const float *bias = j->bias ? j->bias + sl * j->mr
                                                    : NULL;
                        /* unit: a block of PW_NI images */
                        int64_t i0 = unit * PW_NI;
                        int ni = (int)(j->imgs - i0 < PW_NI ? j->imgs - i0
                                                             : PW_NI);
                        const float *x = j->x + i0 * k;
                        const float *sc = j->s ? j->s + i0 * k : NULL;
                        float *y = j->y + i0 * j->m + sl * j->mr;
                        if (j->isa == CPU_ISA_AVX512)
                                pw_col_at512(j, a, x, sc, ni, bias, rows, y);
                        else
                                pw_col_at256(j, a, x, sc, ni, bias, rows, y);
                }
                return;
        }
        /* unit: (image, block of j->span pixels); this part's slivers
         * [s0, s1) of it.  With j->tile_major each tile takes all of them
         * in turn while its k x nb pixels stay in L1; else each sliver
         * passes over the whole block (from L2). */
        for (int64_t it = lo; it < hi;) {
                int64_t unit = it / j->slivers, s0 = it % j->slivers;
                int64_t s1 = s0 + (hi - it) < j->slivers ? s0 + (hi - it)
                                                         : j->slivers;
                int64_t img = unit / j->blocks;
                int64_t b0 = unit % j->blocks * j->span;
                int64_t b1 = b0 + j->span < j->plane ? b0 + j->span
                                                     : j->plane;
                const float *sc = j->s ? j->s + img * k : NULL;
                /* tile-major: outer loop over tiles, inner over slivers;
                 * else the other way round.  The first sliver of the pass
                 * prefetches (s0 tile-major, 0 else: a part that starts
                 * mid-block leaves its block's prefetch to sliver 0's). */
                int tm = j->tile_major;
                int64_t nt = (b1 - b0 + nb - 1) / nb, ns = s1 - s0;
                int64_t pf_sl = tm ? s0 : 0;
                for (int64_t o = 0; o < (tm ? nt : ns); o++)
                        for (int64_t i = 0; i < (tm ? ns : nt); i++) {
                                int64_t sl = s0 + (tm ? i : o);
                                int64_t c0 = b0 + (tm ? o : i) * nb;
                                pw_tile_at(j, sl, sc, img, c0,
                                           b1 - c0 < nb ? b1 - c0 : nb,
                                           PW_PREFETCH && sl == pf_sl &&
                                           c0 + 2 * nb <= b1);
                        }
                it += s1 - s0;
        }
}
#endif

static void pw_part(void *arg, int part, int parts) {
        const pw_job_t *j = arg;
        int64_t lo = j->items * part / parts;
        int64_t hi = j->items * (part + 1) / parts;

#if PW_X86
        if (lo < hi)
                pw_part_x86(j, lo, hi);
#else
        (void)lo;
        (void)hi;
#endif
}

int exec_cpu_pw_conv(swarm_backend_t *be, const swarm_window_t *w,
                     int64_t imgs, int64_t cout, const cpu_packed_t *p,
                     const float *x, const float *s, const float *bias,
                     swarm_act_t act, float alpha, float beta, float *y,
                     swarm_err_t *err) {
        pw_job_t j;
        int64_t plane, units, items, macs;

        if (!exec_cpu_pw_runs(w, 1, p, act) || imgs < 0 || cout < 1 ||
            p->rows != cout)
                return swarm_err_set(err, exec_act_vec_ok(act)
                                     ? SWARM_ERR_INVALID
                                     : SWARM_ERR_UNSUPPORTED,
                                     "pointwise conv: window, filters or "
                                     "activation it cannot run");
        if (swarm_mul_i64(w->h, w->w, &plane) ||
            swarm_mul_i64(plane, imgs, &macs) ||
            swarm_mul_i64(macs, cout, &macs) ||
            swarm_mul_i64(macs, w->n, &macs) ||
            macs > ((int64_t)1 << 56))
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "pointwise conv: %lld images of %lld "
                                     "channels overflow", (long long)imgs,
                                     (long long)w->n);
        if (imgs == 0)
                return SWARM_OK;
        memset(&j, 0, sizeof(j));
        j.isa = p->isa;
        j.mr = pw_mr(p->isa);
        j.nb = p->isa == CPU_ISA_AVX512 ? PW_NB : PW_NB2;
        j.a = p->data;
        j.x = x;
        j.s = s;
        j.bias = bias;
        j.y = y;
        j.k = w->n;
        j.m = cout;
        j.plane = plane;
        j.imgs = imgs;
        j.slivers = (cout + j.mr - 1) / j.mr;
        /* A block's pixels of every input channel (k * span floats) stay
         * in L2 while each sliver passes over them; each sliver's pass
         * then reads and writes rows of span pixels, long enough for the
         * hardware prefetchers (one 32-pixel tile per unit ran 1.5-2.8x
         * slower than the packed path at batch 16, 56 x 56 and 28 x 28,
         * on the DRAM-bound streams). */
        j.span = PW_SPAN_FLOATS / w->n / PW_NB * PW_NB;
        if (j.span < PW_NB)
                j.span = PW_NB;
        if (j.span > PW_SPAN_MAX)
                j.span = PW_SPAN_MAX;
        j.blocks = (plane + j.span - 1) / j.span;
        units = plane == 1 ? (imgs + PW_NI - 1) / PW_NI : imgs * j.blocks;
        items = units * j.slivers;      /* <= macs: no overflow */
        j.items = items;
        j.tile_major = pw_tile_major(w->n, cout, plane, imgs);
        j.act = act;
        j.aa = alpha;
        j.ab = beta;
        exec_cpu_par_run(be, macs >= EXEC_CPU_PAR_MIN_MACS, pw_part, &j);
        return SWARM_OK;
}
