/*
 * cpu_gemm.c - packed single-precision GEMM and implicit-im2col
 * convolution for the CPU backend (see cpu_gemm.h).
 *
 * BLIS / GotoBLAS structure: C is computed in MR x NR tiles by a
 * register-blocked micro-kernel that reads an MR-row sliver of A and an
 * NR-column sliver of B, both packed k-major (MR or NR floats per k step)
 * so every load is contiguous.  K runs in KC blocks (an A sliver of
 * MR x KC stays in L1 while the kernel walks the B block), columns in NC
 * blocks (the packed KC x NC block of B stays in L2).  The constant side is
 * packed once at load with the whole K per sliver, so a block is just an
 * offset into it.
 *
 * The micro-kernels are compiled per ISA with target attributes and chosen
 * at run time, so the build stays baseline x86-64; the drivers around them
 * are compiled per ISA too (an always_inline body instantiated in each), so
 * the packing copies and the fused epilogue vectorise as wide as the
 * kernel.
 */
#include <stdlib.h>
#include <string.h>

#include "cpu_act.h"
#include "cpu_gemm.h"
#include "cpu_xpose.h"
#include "scalar_ops.h"
#include "swarm/tensor.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CPU_GEMM_X86 1
#include <immintrin.h>
#else
#define CPU_GEMM_X86 0
#endif

/* Block sizes, in floats.  KC: an 8 x 256 A sliver is 8 KiB (L1 is 32-48
 * KiB on the targets), a 256 x 32 B sliver 32 KiB; NC: the packed B block
 * is 256 x 512 floats = 512 KiB, inside the 1-2 MiB L2 of Zen 4 and
 * Sapphire Rapids; MC (A packed per call): 240 rows = 240 KiB, a multiple
 * of every MR (4, 6, 8). */
#define KC 256
#define NC 512
#define MC 240
#define MR_MAX 8
#define NR_MAX 32

static const struct {
        int mr, nr;
} geo[CPU_ISA_COUNT] = {{4, 16}, {6, 16}, {8, 32}};

int cpu_gemm_isa_ok(cpu_isa_t isa) {
        switch (isa) {
        case CPU_ISA_C:
                return 1;
#if CPU_GEMM_X86
        case CPU_ISA_AVX2:
                return __builtin_cpu_supports("avx2") &&
                       __builtin_cpu_supports("fma");
        case CPU_ISA_AVX512:
                return __builtin_cpu_supports("avx512f");
#endif
        default:
                return 0;
        }
}

void cpu_gemm_tile(cpu_isa_t isa, int *mr, int *nr) {
        if ((unsigned)isa >= CPU_ISA_COUNT)
                isa = CPU_ISA_C;
        *mr = geo[isa].mr;
        *nr = geo[isa].nr;
}

int cpu_gemm_c512_ok(cpu_isa_t isa) {
        return isa == CPU_ISA_C ||
               (isa == CPU_ISA_AVX512 && cpu_gemm_isa_ok(isa));
}

cpu_isa_t cpu_gemm_best_isa(void) {
        if (cpu_gemm_isa_ok(CPU_ISA_AVX512))
                return CPU_ISA_AVX512;
        if (cpu_gemm_isa_ok(CPU_ISA_AVX2))
                return CPU_ISA_AVX2;
        return CPU_ISA_C;
}

static inline int64_t min64(int64_t a, int64_t b) {
        return a < b ? a : b;
}

static inline int64_t round_up(int64_t v, int64_t to) {
        return (v + to - 1) / to * to;
}

/* Floats of a direct part's workspace before the padded image: the tap
 * offsets (int64, k of them), kept on whole cache lines. */
static int64_t dir_off_floats(int64_t k) {
        return round_up(2 * k, 16);
}

/* ---- micro-kernels ----
 * kern(k, a, b, c, ldc, acc): the rows x NR tile c (row stride ldc) =
 * (acc ? c : 0) + sum over p < k of a[p * MR + r] * b[p * NR + q].  One
 * function per row count so the edge rows of M do not pay for a full MR
 * (M = 1 is a GEMV over the packed weights). */
typedef void (*kern_fn)(int64_t k, const float *restrict a,
                        const float *restrict b, float *restrict c,
                        int64_t ldc, int acc);

#define GEMM_INLINE static inline __attribute__((always_inline))

GEMM_INLINE void kern_c_body(int rows, int64_t k, const float *restrict a,
                             const float *restrict b, float *restrict c,
                             int64_t ldc, int acc) {
        float t[4][16];

        memset(t, 0, sizeof(t));
        for (int64_t p = 0; p < k; p++) {
                const float *bp = b + p * 16;
#pragma GCC unroll 4
                for (int r = 0; r < 4; r++) {
                        float ar = a[p * 4 + r];
                        if (r >= rows)
                                break;
                        for (int q = 0; q < 16; q++)
                                t[r][q] += ar * bp[q];
                }
        }
        for (int r = 0; r < rows; r++)
                for (int q = 0; q < 16; q++)
                        c[r * ldc + q] = acc ? c[r * ldc + q] + t[r][q]
                                             : t[r][q];
}

#define KERN_C(R)                                                         \
        static void kern_c_##R(int64_t k, const float *restrict a,        \
                               const float *restrict b, float *restrict c,\
                               int64_t ldc, int acc) {                    \
                kern_c_body(R, k, a, b, c, ldc, acc);                     \
        }
KERN_C(1) KERN_C(2) KERN_C(3) KERN_C(4)
static const kern_fn kern_c[4] = {kern_c_1, kern_c_2, kern_c_3, kern_c_4};

#if CPU_GEMM_X86
#define T_AVX2 __attribute__((target("avx2,fma")))
#define T_AVX512 __attribute__((target("avx512f,fma,avx2")))

GEMM_INLINE T_AVX2 void kern_avx2_body(int rows, int64_t k,
                                       const float *restrict a,
                                       const float *restrict b,
                                       float *restrict c, int64_t ldc,
                                       int acc) {
        __m256 c0[6], c1[6];

#pragma GCC unroll 6
        for (int r = 0; r < 6; r++) {
                c0[r] = _mm256_setzero_ps();
                c1[r] = _mm256_setzero_ps();
        }
        for (int64_t p = 0; p < k; p++) {
                __m256 b0 = _mm256_loadu_ps(b);
                __m256 b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 6
                for (int r = 0; r < 6; r++) {
                        if (r < rows) {
                                __m256 ar = _mm256_broadcast_ss(a + r);
                                c0[r] = _mm256_fmadd_ps(ar, b0, c0[r]);
                                c1[r] = _mm256_fmadd_ps(ar, b1, c1[r]);
                        }
                }
                a += 6;
                b += 16;
        }
#pragma GCC unroll 6
        for (int r = 0; r < 6; r++) {
                if (r < rows) {
                        float *cr = c + r * ldc;
                        if (acc) {
                                c0[r] = _mm256_add_ps(c0[r],
                                                      _mm256_loadu_ps(cr));
                                c1[r] = _mm256_add_ps(
                                        c1[r], _mm256_loadu_ps(cr + 8));
                        }
                        _mm256_storeu_ps(cr, c0[r]);
                        _mm256_storeu_ps(cr + 8, c1[r]);
                }
        }
}

#define KERN_AVX2(R)                                                      \
        T_AVX2 static void kern_avx2_##R(int64_t k, const float *restrict a,\
                                         const float *restrict b,         \
                                         float *restrict c, int64_t ldc,  \
                                         int acc) {                       \
                kern_avx2_body(R, k, a, b, c, ldc, acc);                  \
        }
KERN_AVX2(1) KERN_AVX2(2) KERN_AVX2(3) KERN_AVX2(4) KERN_AVX2(5)
KERN_AVX2(6)
static const kern_fn kern_avx2[6] = {kern_avx2_1, kern_avx2_2, kern_avx2_3,
                                     kern_avx2_4, kern_avx2_5, kern_avx2_6};

GEMM_INLINE T_AVX512 void kern_avx512_body(int rows, int64_t k,
                                           const float *restrict a,
                                           const float *restrict b,
                                           float *restrict c, int64_t ldc,
                                           int acc) {
        __m512 c0[8], c1[8];

#pragma GCC unroll 8
        for (int r = 0; r < 8; r++) {
                c0[r] = _mm512_setzero_ps();
                c1[r] = _mm512_setzero_ps();
        }
        for (int64_t p = 0; p < k; p++) {
                __m512 b0 = _mm512_loadu_ps(b);
                __m512 b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 8
                for (int r = 0; r < 8; r++) {
                        if (r < rows) {
                                __m512 ar = _mm512_set1_ps(a[r]);
                                c0[r] = _mm512_fmadd_ps(ar, b0, c0[r]);
                                c1[r] = _mm512_fmadd_ps(ar, b1, c1[r]);
                        }
                }
                a += 8;
                b += 32;
        }
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++) {
                if (r < rows) {
                        float *cr = c + r * ldc;
                        if (acc) {
                                c0[r] = _mm512_add_ps(c0[r],
                                                      _mm512_loadu_ps(cr));
                                c1[r] = _mm512_add_ps(
                                        c1[r], _mm512_loadu_ps(cr + 16));
                        }
                        _mm512_storeu_ps(cr, c0[r]);
                        _mm512_storeu_ps(cr + 16, c1[r]);
                }
        }
}

#define KERN_AVX512(R)                                                    \
        T_AVX512 static void kern_avx512_##R(                             \
                int64_t k, const float *restrict a, const float *restrict b,\
                float *restrict c, int64_t ldc, int acc) {                \
                kern_avx512_body(R, k, a, b, c, ldc, acc);                \
        }
KERN_AVX512(1) KERN_AVX512(2) KERN_AVX512(3) KERN_AVX512(4)
KERN_AVX512(5) KERN_AVX512(6) KERN_AVX512(7) KERN_AVX512(8)
static const kern_fn kern_avx512[8] = {
        kern_avx512_1, kern_avx512_2, kern_avx512_3, kern_avx512_4,
        kern_avx512_5, kern_avx512_6, kern_avx512_7, kern_avx512_8};

/* The direct convolution's kernel: the rows x 32 tile t (row stride 32)
 * = sum over p < k of a[p * 8 + r] * b[off[p] + q], B read in place from
 * the padded image (see cpu_gemm_job_t.direct). */
GEMM_INLINE T_AVX512 void kdir_avx512_body(int rows, int64_t k,
                                           const float *restrict a,
                                           const float *b,
                                           const int64_t *restrict off,
                                           float *restrict t) {
        __m512 c0[8], c1[8];

#pragma GCC unroll 8
        for (int r = 0; r < 8; r++) {
                c0[r] = _mm512_setzero_ps();
                c1[r] = _mm512_setzero_ps();
        }
        for (int64_t p = 0; p < k; p++) {
                const float *bp = b + off[p];
                __m512 b0 = _mm512_loadu_ps(bp);
                __m512 b1 = _mm512_loadu_ps(bp + 16);
#pragma GCC unroll 8
                for (int r = 0; r < 8; r++) {
                        if (r < rows) {
                                __m512 ar = _mm512_set1_ps(a[r]);
                                c0[r] = _mm512_fmadd_ps(ar, b0, c0[r]);
                                c1[r] = _mm512_fmadd_ps(ar, b1, c1[r]);
                        }
                }
                a += 8;
        }
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++) {
                if (r < rows) {
                        _mm512_storeu_ps(t + r * 32, c0[r]);
                        _mm512_storeu_ps(t + r * 32 + 16, c1[r]);
                }
        }
}

typedef void (*kdir_fn)(int64_t k, const float *restrict a, const float *b,
                        const int64_t *restrict off, float *restrict t);
#define KDIR_AVX512(R)                                                    \
        T_AVX512 static void kdir_avx512_##R(                             \
                int64_t k, const float *restrict a, const float *b,       \
                const int64_t *restrict off, float *restrict t) {         \
                kdir_avx512_body(R, k, a, b, off, t);                     \
        }
KDIR_AVX512(1) KDIR_AVX512(2) KDIR_AVX512(3) KDIR_AVX512(4)
KDIR_AVX512(5) KDIR_AVX512(6) KDIR_AVX512(7) KDIR_AVX512(8)
static const kdir_fn kdir_avx512[8] = {
        kdir_avx512_1, kdir_avx512_2, kdir_avx512_3, kdir_avx512_4,
        kdir_avx512_5, kdir_avx512_6, kdir_avx512_7, kdir_avx512_8};

/* The same on AVX2: rows (<= 6) x 16 into t (row stride 16), 12
 * accumulators, the AVX2 packing's 6-row slivers. */
GEMM_INLINE T_AVX2 void kdir_avx2_body(int rows, int64_t k,
                                       const float *restrict a,
                                       const float *b,
                                       const int64_t *restrict off,
                                       float *restrict t) {
        __m256 c0[6], c1[6];

#pragma GCC unroll 6
        for (int r = 0; r < 6; r++) {
                c0[r] = _mm256_setzero_ps();
                c1[r] = _mm256_setzero_ps();
        }
        for (int64_t p = 0; p < k; p++) {
                const float *bp = b + off[p];
                __m256 b0 = _mm256_loadu_ps(bp);
                __m256 b1 = _mm256_loadu_ps(bp + 8);
#pragma GCC unroll 6
                for (int r = 0; r < 6; r++) {
                        if (r < rows) {
                                __m256 ar = _mm256_broadcast_ss(a + r);
                                c0[r] = _mm256_fmadd_ps(ar, b0, c0[r]);
                                c1[r] = _mm256_fmadd_ps(ar, b1, c1[r]);
                        }
                }
                a += 6;
        }
#pragma GCC unroll 6
        for (int r = 0; r < 6; r++) {
                if (r < rows) {
                        _mm256_storeu_ps(t + r * 16, c0[r]);
                        _mm256_storeu_ps(t + r * 16 + 8, c1[r]);
                }
        }
}

#define KDIR_AVX2(R)                                                      \
        T_AVX2 static void kdir_avx2_##R(                                 \
                int64_t k, const float *restrict a, const float *b,       \
                const int64_t *restrict off, float *restrict t) {         \
                kdir_avx2_body(R, k, a, b, off, t);                       \
        }
KDIR_AVX2(1) KDIR_AVX2(2) KDIR_AVX2(3) KDIR_AVX2(4) KDIR_AVX2(5)
KDIR_AVX2(6)
static const kdir_fn kdir_avx2[6] = {kdir_avx2_1, kdir_avx2_2, kdir_avx2_3,
                                     kdir_avx2_4, kdir_avx2_5, kdir_avx2_6};

/* d[q] = lo <= q < hi ? s[q] : 0 for q < len, with masked loads (lanes
 * outside [lo, hi) are never read) instead of the memset / memmove calls
 * the compiler makes of the plain loops: packing copies runs of at most
 * NR floats, too short for a call. */
T_AVX512 static void run_copy512(float *restrict d, const float *s,
                                 int64_t lo, int64_t hi, int64_t len) {
        for (int64_t c = 0; c < len; c += 16) {
                int64_t a = lo - c, b = hi - c, e = len - c;
                unsigned keep = e >= 16 ? 0xffffu : (1u << e) - 1u;
                unsigned valid = 0;
                if (b > 0 && a < 16) {
                        unsigned up = b >= 16 ? 0xffffu : (1u << b) - 1u;
                        unsigned dn = a <= 0 ? 0xffffu
                                      : 0xffffu & ~((1u << a) - 1u);
                        valid = up & dn;
                }
                _mm512_mask_storeu_ps(
                        d + c, (__mmask16)keep,
                        _mm512_maskz_loadu_ps((__mmask16)valid, s + c));
        }
}
#endif

/* ---- packing ---- */

/* An A block: rows x kc of element (i, p) = a[i * rs + p * ks], into
 * slivers of mr rows (kc * mr floats each), zero rows past `rows`. */
GEMM_INLINE void pack_a(float *restrict dst, const float *restrict a,
                        int64_t rs, int64_t ks, int64_t rows, int64_t kc,
                        int mr) {
        for (int64_t s = 0; s < rows; s += mr) {
                float *d = dst + s / mr * kc * mr;
                int64_t h = min64(mr, rows - s);
                for (int64_t r = 0; r < h; r++) {
                        const float *src = a + (s + r) * rs;
                        if (ks == 1)
                                for (int64_t p = 0; p < kc; p++)
                                        d[p * mr + r] = src[p];
                        else
                                for (int64_t p = 0; p < kc; p++)
                                        d[p * mr + r] = src[p * ks];
                }
                for (int64_t r = h; r < mr; r++)
                        for (int64_t p = 0; p < kc; p++)
                                d[p * mr + r] = 0.0f;
        }
}

/* pack_a of rows [i0, i0 + rows) from column pc of an A taken by rows:
 * blocked ones (cpu_gemm_job_t.a_blk_rows, each block's columns scaled by
 * a_scale where given) or with rows 1 float apart (a_rs 1: a transposed
 * operand, such as the pixels of an NCHW image).  Where a sliver's rows
 * are consecutive floats of one block, each of its columns is one copy of
 * mr floats (times one scale), not mr strided reads. */
GEMM_INLINE void pack_a_rows(float *restrict dst, const cpu_gemm_job_t *j,
                             int64_t i0, int64_t pc, int64_t rows,
                             int64_t kc, int mr) {
        int64_t br = j->a_blk_rows > 0 ? j->a_blk_rows : j->m, ks = j->a_ks;

        for (int64_t s = 0; s < rows; s += mr) {
                float *d = dst + s / mr * kc * mr;
                int64_t h = min64(mr, rows - s), row = i0 + s;
                const float *src[MR_MAX], *sc[MR_MAX];
                for (int64_t r = 0; r < h; r++) {
                        int64_t blk = (row + r) / br;
                        src[r] = j->a + blk * j->a_blk_off +
                                 (row + r) % br * j->a_rs + pc * ks;
                        sc[r] = j->a_scale ? j->a_scale + blk * j->k + pc
                                           : NULL;
                }
                if (h == mr && j->a_rs == 1 && src[mr - 1] == src[0] + mr - 1 &&
                    sc[mr - 1] == sc[0]) {
                        for (int64_t p = 0; p < kc; p++) {
                                float *dp = d + p * mr;
                                const float *sp = src[0] + p * ks;
                                if (!sc[0]) {
                                        memcpy(dp, sp,
                                               (size_t)mr * sizeof(float));
                                        continue;
                                }
                                for (int r = 0; r < mr; r++)
                                        dp[r] = sp[r] * sc[0][p];
                        }
                        continue;
                }
                for (int64_t p = 0; p < kc; p++) {
                        int64_t r = 0;
                        for (; r < h; r++)
                                d[p * mr + r] = sc[r] ? src[r][p * ks] *
                                                        sc[r][p]
                                                      : src[r][p * ks];
                        for (; r < mr; r++)
                                d[p * mr + r] = 0.0f;
                }
        }
}

#if CPU_GEMM_X86
/* pack_a for the AVX-512 kernel (mr 8) of a row-major A (ks 1): 8 rows x
 * 16 values at a time through registers (an 8 x 16 transpose, 32
 * shuffles), the rest as pack_a.  Element by element, the packing of the
 * activations was most of drive_avx512's time left in BERT (N = 64-256:
 * one scalar store per value against N / 16 multiply-adds a cycle). */
T_AVX512 static void pack_a8_avx512(float *restrict dst,
                                    const float *restrict a, int64_t rs,
                                    int64_t rows, int64_t kc) {
        static const int32_t ilo[16] = {0, 1, 2, 3, 16, 17, 18, 19,
                                        4, 5, 6, 7, 20, 21, 22, 23};
        static const int32_t ihi[16] = {8, 9, 10, 11, 24, 25, 26, 27,
                                        12, 13, 14, 15, 28, 29, 30, 31};
        const __m512i vlo = _mm512_loadu_si512(ilo);
        const __m512i vhi = _mm512_loadu_si512(ihi);
        int64_t full = rows / 8 * 8, kv = kc / 16 * 16;

        for (int64_t s = 0; s < full; s += 8) {
                float *d = dst + s / 8 * kc * 8;
                const float *src = a + s * rs;
                for (int64_t p = 0; p < kv; p += 16) {
                        __m512 r[8], u[8], xl[4], xh[4];
                        for (int q = 0; q < 8; q++)
                                r[q] = _mm512_loadu_ps(src + q * rs + p);
                        /* u[c] (u[4 + c]), 128-bit block b: column 4b + c
                         * of rows 0-3 (4-7) */
                        exec_xpose4x4_blocks512(r, u);
                        /* xl[c]: columns c and 4 + c of rows 0-7 (one
                         * 256-bit half each); xh[c]: 8 + c and 12 + c */
                        for (int c = 0; c < 4; c++) {
                                xl[c] = _mm512_permutex2var_ps(u[c], vlo,
                                                               u[4 + c]);
                                xh[c] = _mm512_permutex2var_ps(u[c], vhi,
                                                               u[4 + c]);
                        }
                        /* two columns (16 floats) per store */
                        for (int c = 0; c < 4; c += 2) {
                                float *o = d + p * 8;
                                _mm512_storeu_ps(o + c * 8,
                                        _mm512_shuffle_f32x4(xl[c], xl[c + 1],
                                                             0x44));
                                _mm512_storeu_ps(o + (4 + c) * 8,
                                        _mm512_shuffle_f32x4(xl[c], xl[c + 1],
                                                             0xee));
                                _mm512_storeu_ps(o + (8 + c) * 8,
                                        _mm512_shuffle_f32x4(xh[c], xh[c + 1],
                                                             0x44));
                                _mm512_storeu_ps(o + (12 + c) * 8,
                                        _mm512_shuffle_f32x4(xh[c], xh[c + 1],
                                                             0xee));
                        }
                }
                for (int64_t q = 0; q < 8; q++)
                        for (int64_t p = kv; p < kc; p++)
                                d[p * 8 + q] = src[q * rs + p];
        }
        if (full < rows)
                pack_a(dst + full / 8 * kc * 8, a + full * rs, rs, 1,
                       rows - full, kc, 8);
}
#endif

/* A B block: kc x cols of element (p, j) = b[p * ks + j * cs], into
 * slivers of nr columns. */
GEMM_INLINE void pack_b(float *restrict dst, const float *restrict b,
                        int64_t ks, int64_t cs, int64_t cols, int64_t kc,
                        int nr) {
        for (int64_t s = 0; s < cols; s += nr) {
                float *d = dst + s / nr * kc * nr;
                int64_t w = min64(nr, cols - s);
                for (int64_t p = 0; p < kc; p++) {
                        const float *src = b + p * ks + s * cs;
                        float *dp = d + p * nr;
                        int64_t q = 0;
                        if (cs == 1)
                                for (; q < w; q++)
                                        dp[q] = src[q];
                        else
                                for (; q < w; q++)
                                        dp[q] = src[q * cs];
                        for (; q < nr; q++)
                                dp[q] = 0.0f;
                }
        }
}

/* A stretch of packed columns that is one output row of one image and
 * inside one sliver: its input pixels for a tap are one strided row. */
typedef struct run {
        int64_t dst;            /* sliver * kc * nr + lane, kc applied late */
        int64_t sliver, lane, len;
        int64_t xoff;           /* image offset in x */
        int64_t iy0, ix0;       /* input coordinates of tap (0, 0) */
} run_t;

/* Split columns [j0, j0 + nc) into runs (at most nc). */
static int64_t image_runs(const cpu_gemm_job_t *j, int64_t j0, int64_t nc,
                          int nr, run_t *runs) {
        const swarm_window_t *w = &j->win;
        int64_t cnt = 0, col = j0, end = j0 + nc;

        while (col < end) {
                int64_t img = col / j->plane, p = col % j->plane;
                int64_t oy = p / w->ow, ox = p % w->ow;
                int64_t off = col - j0, lane = off % nr;
                int64_t len = min64(w->ow - ox, end - col);
                run_t *r = &runs[cnt++];
                len = min64(len, nr - lane);
                r->sliver = off / nr;
                r->lane = lane;
                r->len = len;
                r->xoff = img * j->x_img;
                r->iy0 = oy * w->sh - w->pad_t;
                r->ix0 = ox * w->sw - w->pad_l;
                col += len;
        }
        return cnt;
}

/* The B block rows [pc, pc + kc) x the runs' columns, read straight from
 * the image x (one channel group): row p is tap (c, ky, kx); padding and
 * the lanes past the last column read as 0. */
GEMM_INLINE void pack_image(float *restrict dst, const cpu_gemm_job_t *j,
                            const float *restrict x, const run_t *runs,
                            int64_t n_runs, int64_t nc, int64_t pc,
                            int64_t kc, int nr) {
        const swarm_window_t *w = &j->win;
        int64_t taps = w->kh * w->kw, hw = w->h * w->w;
        int64_t tail = nc % nr, last = nc / nr;

        for (int64_t p = 0; p < kc; p++) {
                int64_t kk = pc + p, ch = kk / taps, t = kk % taps;
                int64_t dy = t / w->kw * w->dh, dx = t % w->kw * w->dw;
                const float *xc = x + ch * hw;
                for (int64_t ri = 0; ri < n_runs; ri++) {
                        const run_t *r = &runs[ri];
                        float *d = dst + r->sliver * kc * nr + p * nr +
                                   r->lane;
                        int64_t iy = r->iy0 + dy, ixs = r->ix0 + dx;
                        int64_t len = r->len, lo, hi, sw = w->sw;
                        const float *row;
                        if (iy < 0 || iy >= w->h) {
#if CPU_GEMM_X86
                                if (nr == 32) {
                                        run_copy512(d, xc, 0, 0, len);
                                        continue;
                                }
#endif
                                for (int64_t q = 0; q < len; q++)
                                        d[q] = 0.0f;
                                continue;
                        }
                        row = xc + r->xoff + iy * w->w;
                        /* valid q: 0 <= ixs + q * sw < w (divisions only
                         * at the borders: they cost more than the copy) */
                        lo = 0;
                        hi = len;
                        if (ixs < 0)
                                lo = sw == 1 ? -ixs : (-ixs + sw - 1) / sw;
                        if (ixs + (len - 1) * sw > w->w - 1)
                                hi = ixs > w->w - 1 ? 0
                                     : sw == 1 ? w->w - ixs
                                     : (w->w - 1 - ixs) / sw + 1;
                        if (lo > len)
                                lo = len;
                        if (hi > len)
                                hi = len;
                        if (lo > hi)
                                lo = hi;
#if CPU_GEMM_X86
                        if (nr == 32 && sw == 1) {
                                /* only the AVX-512 driver has nr 32 */
                                run_copy512(d, row + ixs, lo, hi, len);
                                continue;
                        }
#endif
                        for (int64_t q = 0; q < lo; q++)
                                d[q] = 0.0f;
                        if (sw == 1)
                                for (int64_t q = lo; q < hi; q++)
                                        d[q] = row[ixs + q];
                        else
                                for (int64_t q = lo; q < hi; q++)
                                        d[q] = row[ixs + q * sw];
                        for (int64_t q = hi; q < len; q++)
                                d[q] = 0.0f;
                }
                if (tail)
                        for (int64_t q = tail; q < nr; q++)
                                dst[last * kc * nr + p * nr + q] = 0.0f;
        }
}

/* ---- epilogue ---- */

/* r[t] = act(alpha * r[t] + bc + beta * bv[t]) over cnt values; `act` is
 * a constant at every call site, so swarm_act_scalar's switch folds and
 * the loop vectorises. */
GEMM_INLINE void epi_loop(swarm_act_t act, float *restrict r, int64_t cnt,
                          float alpha, float bc, const float *restrict bv,
                          float beta, float aa, float ab) {
        if (bv)
                for (int64_t t = 0; t < cnt; t++)
                        r[t] = swarm_act_scalar(act, aa, ab,
                                                alpha * r[t] + bc +
                                                beta * bv[t]);
        else
                for (int64_t t = 0; t < cnt; t++)
                        r[t] = swarm_act_scalar(act, aa, ab,
                                                alpha * r[t] + bc);
}

/* The activation kernel of the job's kernel set (the driver running it
 * is that set's, so the CPU runs it). */
static inline void epi_act(cpu_isa_t isa, swarm_act_t act, float a,
                           float b, float *r, int64_t cnt) {
        switch (isa) {
        case CPU_ISA_AVX512: exec_cpu_act_avx512(act, a, b, r, cnt); break;
        case CPU_ISA_AVX2: exec_cpu_act_avx2(act, a, b, r, cnt); break;
        default: exec_cpu_act_c(act, a, b, r, cnt); break;
        }
}

/* The activations the drivers leave out of the tile epilogue and apply
 * with cpu_act's kernel afterwards, over a whole block's rows: GCC's
 * vectorisation of the scalar_ops.h formulas (a divide per value, masked
 * blends) ran at about half that kernel's speed, and a call per tile row
 * (32 values) cost more than it saved (EfficientNet-B0 batch 16: +10%). */
static inline int act_deferred(swarm_act_t act) {
        return act == SWARM_ACT_SIGMOID || act == SWARM_ACT_SILU ||
               act == SWARM_ACT_HARDSWISH || act == SWARM_ACT_HARDSIGMOID;
}

/* The deferred activation over rows [i0, i1) of band cg, columns [c0, c1)
 * (split where they cross an image). */
static void act_block(const cpu_gemm_job_t *j, float *cg, int64_t i0,
                      int64_t i1, int64_t c0, int64_t c1) {
        for (int64_t i = i0; i < i1; i++)
                for (int64_t c = c0; c < c1;) {
                        int64_t pp = c % j->plane;
                        int64_t cnt = min64(c1 - c, j->plane - pp);
                        epi_act(j->isa, j->act, j->act_alpha, j->act_beta,
                                cg + c / j->plane * j->c_img + pp +
                                        i * j->ldc,
                                cnt);
                        c += cnt;
                }
}

/* The epilogue of cnt contiguous values of row i (of group g), columns
 * [col, col + cnt), at r. */
GEMM_INLINE void epi_row(const cpu_gemm_job_t *j, const float *bias,
                         float *r, int64_t i, int64_t col, int64_t cnt) {
        float bc = 0.0f, beta = j->beta;
        const float *bv = NULL;

        switch (bias ? j->bias_mode : SWARM_BIAS_NONE) {
        case SWARM_BIAS_SCALAR: bc = beta * bias[0]; break;
        case SWARM_BIAS_COL: bc = beta * bias[i]; break;
        case SWARM_BIAS_ROW: bv = bias + col; break;
        case SWARM_BIAS_FULL: bv = bias + i * j->n + col; break;
        default: break;
        }
        switch (j->act) {
#define EPI_CASE(A)                                                       \
        case A:                                                           \
                epi_loop(A, r, cnt, j->alpha, bc, bv, beta, j->act_alpha, \
                         j->act_beta);                                    \
                break;
        EPI_CASE(SWARM_ACT_NONE)
        EPI_CASE(SWARM_ACT_RELU)
        EPI_CASE(SWARM_ACT_CLIP)
        EPI_CASE(SWARM_ACT_LEAKY_RELU)
        /* BERT's feed-forward GEMMs: the erf form is branch-free
         * (swarm_erff_fast) and vectorises once `act` is a constant; in
         * the default loop below it ran scalar, 23% of a BERT run. */
        EPI_CASE(SWARM_ACT_GELU)
        /* GPT-2 and ALBERT's: the tanh form, with scalar_ops.h's rational
         * tanh, vectorises the same way */
        EPI_CASE(SWARM_ACT_GELU_TANH)
        EPI_CASE(SWARM_ACT_TANH)
#undef EPI_CASE
        default:
                for (int64_t t = 0; t < cnt; t++)
                        r[t] = swarm_act_scalar(
                                j->act, j->act_alpha, j->act_beta,
                                j->alpha * r[t] + bc +
                                (bv ? beta * bv[t] : 0.0f));
                break;
        }
}

/* ---- the driver ---- */

/* One tile: rows [i, i + mr) of group g's band cg, columns [col, col +
 * nr).  A full tile inside one image goes straight to C; edge tiles go
 * through a small buffer. */
GEMM_INLINE void tile(const cpu_gemm_job_t *j, const kern_fn *kern,
                      int MR, int NR, float *cg, const float *bias,
                      int64_t i, int64_t col, int64_t mr, int64_t nr,
                      const float *a, const float *b, int64_t kc, int first,
                      int last) {
        int64_t p = col % j->plane;
        float tmp[MR_MAX * NR_MAX];

        if (mr == MR && nr == NR && p + NR <= j->plane) {
                float *d = cg + col / j->plane * j->c_img + p + i * j->ldc;
                kern[MR - 1](kc, a, b, d, j->ldc, !first);
                if (last)
                        for (int64_t r = 0; r < MR; r++)
                                epi_row(j, bias, d + r * j->ldc, i + r, col,
                                        NR);
                return;
        }
        kern[mr - 1](kc, a, b, tmp, NR, 0);
        for (int64_t r = 0; r < mr; r++) {
                int64_t q = 0;
                while (q < nr) {
                        int64_t c = col + q, pp = c % j->plane;
                        int64_t cnt = min64(nr - q, j->plane - pp);
                        float *d = cg + c / j->plane * j->c_img + pp +
                                   (i + r) * j->ldc;
                        const float *s = tmp + r * NR + q;
                        if (first)
                                for (int64_t t = 0; t < cnt; t++)
                                        d[t] = s[t];
                        else
                                for (int64_t t = 0; t < cnt; t++)
                                        d[t] += s[t];
                        if (last)
                                epi_row(j, bias, d, i + r, c, cnt);
                        q += cnt;
                }
        }
}

GEMM_INLINE void drive(const cpu_gemm_job_t *jo, int64_t m0, int64_t m1,
                       int64_t n0, int64_t n1, float *ws, int MR, int NR,
                       const kern_fn *kern) {
        /* tiles take the affine epilogue only when the activation is
         * deferred to act_block */
        int defer = act_deferred(jo->act);
        cpu_gemm_job_t jn = *jo;
        const cpu_gemm_job_t *j = &jn;
        float *bbuf = ws;
        float *abuf = ws + (j->pb ? 0 : (int64_t)KC * NC);
        run_t runs[NC];
        int64_t k = j->k;

        if (defer)
                jn.act = SWARM_ACT_NONE;
        for (int64_t jc = n0; jc < n1; jc += NC) {
                int64_t nc = min64(NC, n1 - jc), n_runs = 0;
                if (j->x)
                        n_runs = image_runs(j, jc, nc, NR, runs);
                for (int64_t g = 0; g < j->groups; g++) {
                        float *cg = j->c + g * j->m * j->ldc;
                        const float *bias = j->bias;
                        int64_t pc = 0;
                        if (bias && j->bias_mode == SWARM_BIAS_COL)
                                bias += g * j->m;
                        do {
                                int64_t kc = min64(KC, k - pc);
                                int first = pc == 0, last = pc + kc >= k;
                                const float *bblk;
                                int64_t bstr;
                                if (j->pb) {
                                        bblk = j->pb->data + jc / NR * k * NR +
                                               pc * NR;
                                        bstr = k * NR;
                                } else if (j->x) {
                                        pack_image(bbuf, j,
                                                   j->x + g * j->x_grp, runs,
                                                   n_runs, nc, pc, kc, NR);
                                        bblk = bbuf;
                                        bstr = kc * NR;
                                } else {
                                        pack_b(bbuf, j->b + pc * j->b_ks +
                                                     jc * j->b_cs,
                                               j->b_ks, j->b_cs, nc, kc, NR);
                                        bblk = bbuf;
                                        bstr = kc * NR;
                                }
                                for (int64_t ic = m0; ic < m1;
                                     ic += j->pa ? m1 - m0 : MC) {
                                        int64_t mc = j->pa ? m1 - m0
                                                     : min64(MC, m1 - ic);
                                        const float *ablk;
                                        int64_t astr;
                                        if (j->pa) {
                                                ablk = j->pa->data +
                                                       g * j->pa->group_floats
                                                       + ic / MR * k * MR +
                                                       pc * MR;
                                                astr = k * MR;
                                        } else {
                                                if (j->a_blk_rows > 0 ||
                                                    (j->a_rs == 1 &&
                                                     j->a_ks != 1))
                                                        pack_a_rows(
                                                            abuf, j, ic, pc,
                                                            mc, kc, MR);
                                                else
#if CPU_GEMM_X86
                                                if (MR == 8 && NR == 32 &&
                                                    j->a_ks == 1)
                                                        pack_a8_avx512(
                                                            abuf, j->a +
                                                            ic * j->a_rs +
                                                            pc, j->a_rs, mc,
                                                            kc);
                                                else
#endif
                                                pack_a(abuf, j->a +
                                                       ic * j->a_rs +
                                                       pc * j->a_ks,
                                                       j->a_rs, j->a_ks, mc,
                                                       kc, MR);
                                                ablk = abuf;
                                                astr = kc * MR;
                                        }
                                        /* B sliver outer: it stays in
                                         * L1 while the A slivers stream
                                         * past it (an A step is MR
                                         * floats, a B step NR). */
                                        for (int64_t jr = 0; jr < nc;
                                             jr += NR) {
                                                const float *bs =
                                                        bblk + jr / NR * bstr;
                                                for (int64_t ir = 0; ir < mc;
                                                     ir += MR)
                                                        tile(j, kern, MR, NR,
                                                             cg, bias,
                                                             ic + ir,
                                                             jc + jr,
                                                             min64(MR,
                                                                   mc - ir),
                                                             min64(NR,
                                                                   nc - jr),
                                                             ablk + ir / MR *
                                                                    astr,
                                                             bs, kc, first,
                                                             last);
                                        }
                                        if (last && defer)
                                                act_block(jo, cg, ic, ic + mc,
                                                          jc, jc + nc);
                                }
                                pc += kc;
                        } while (pc < k);
                }
        }
}

static void drive_c(const cpu_gemm_job_t *j, int64_t m0, int64_t m1,
                    int64_t n0, int64_t n1, float *ws) {
        drive(j, m0, m1, n0, n1, ws, 4, 16, kern_c);
}

#if CPU_GEMM_X86
T_AVX2 static void drive_avx2(const cpu_gemm_job_t *j, int64_t m0,
                              int64_t m1, int64_t n0, int64_t n1,
                              float *ws) {
        drive(j, m0, m1, n0, n1, ws, 6, 16, kern_avx2);
}

T_AVX512 static void drive_avx512(const cpu_gemm_job_t *j, int64_t m0,
                                  int64_t m1, int64_t n0, int64_t n1,
                                  float *ws) {
        drive(j, m0, m1, n0, n1, ws, 8, 32, kern_avx512);
}

/* Image img of x, zero padded, into xp: channel planes of hp x wp, then
 * wp + 32 zeros (the last sliver's dropped columns read that far). */
static void dir_pad(const cpu_gemm_job_t *j, int64_t img,
                    float *restrict xp) {
        const swarm_window_t *w = &j->win;
        const float *x = j->x + img * j->x_img;
        int64_t hw = w->h * w->w, ph = j->hp * j->wp;
        int64_t pp = ph * w->sh * w->sw;
        /* the part's groups' channels (every group's but where parts
         * split the groups), one after the other (x_grp apart), each at
         * its place in xp */
        int64_t ch0 = w->n * j->g0, nch = w->n * j->g1;

        if (w->sh > 1 || w->sw > 1) {
                /* strided: deinterleave into sh x sw phase planes */
                memset(xp + ch0 * pp, 0, (size_t)(pp * (nch - ch0) + j->wp +
                                                  32) * sizeof(float));
                for (int64_t ch = ch0; ch < nch; ch++)
                        for (int64_t y = 0; y < w->h; y++) {
                                int64_t py = y + w->pad_t;
                                float *d = xp + ch * pp +
                                           py % w->sh * w->sw * ph +
                                           py / w->sh * j->wp;
                                const float *sr = x + ch * hw + y * w->w;
                                /* one phase at a time: no division per
                                 * element */
                                for (int64_t f = 0; f < w->sw; f++) {
                                        int64_t q0 = ((f - w->pad_l) %
                                                      w->sw + w->sw) % w->sw;
                                        float *df = d + f * ph +
                                                    (q0 + w->pad_l) / w->sw;
                                        for (int64_t q = q0, o = 0; q < w->w;
                                             q += w->sw, o++)
                                                df[o] = sr[q];
                                }
                        }
                return;
        }
        for (int64_t ch = ch0; ch < nch; ch++) {
                float *d = xp + ch * pp;
                const float *sc = x + ch * hw;
                memset(d, 0, (size_t)(w->pad_t * j->wp) * sizeof(float));
                for (int64_t y = 0; y < w->h; y++) {
                        float *dr = d + (w->pad_t + y) * j->wp;
                        for (int64_t q = 0; q < w->pad_l; q++)
                                dr[q] = 0.0f;
                        memcpy(dr + w->pad_l, sc + y * w->w,
                               (size_t)w->w * sizeof(float));
                        for (int64_t q = w->pad_l + w->w; q < j->wp; q++)
                                dr[q] = 0.0f;
                }
                memset(d + (w->pad_t + w->h) * j->wp, 0,
                       (size_t)((j->hp - w->pad_t - w->h) * j->wp) *
                               sizeof(float));
        }
        memset(xp + nch * pp, 0, (size_t)(j->wp + 32) * sizeof(float));
}

/* cnt (<= 32) values of row i from the tile buffer to C with the
 * epilogue: masked vector stores for the plain bias + identity / ReLU of
 * a CNN, else a copy and epi_row. */
T_AVX512 static inline void dir_store(const cpu_gemm_job_t *j, float *d,
                                      const float *t, int64_t i,
                                      int64_t cnt) {
        if ((j->act == SWARM_ACT_NONE || j->act == SWARM_ACT_RELU) &&
            j->alpha == 1.0f &&
            (!j->bias || j->bias_mode == SWARM_BIAS_COL)) {
                __m512 b = _mm512_set1_ps(j->bias ? j->beta * j->bias[i]
                                                  : 0.0f);
                for (int64_t q = 0; q < cnt; q += 16) {
                        int64_t left = cnt - q;
                        __mmask16 k = left >= 16 ? (__mmask16)0xffff
                                      : (__mmask16)((1u << left) - 1u);
                        __m512 v = _mm512_add_ps(
                                _mm512_maskz_loadu_ps(k, t + q), b);
                        if (j->act == SWARM_ACT_RELU)
                                v = _mm512_max_ps(v, _mm512_setzero_ps());
                        _mm512_mask_storeu_ps(d + q, k, v);
                }
                return;
        }
        memcpy(d, t, (size_t)cnt * sizeof(float));
        epi_row(j, j->bias, d, i, 0, cnt);
}

/* dir_store on AVX2: full vectors plain, the tail of a row scalar
 * (vmaskmov stores are slow on Zen). */
T_AVX2 static inline void dir_store256(const cpu_gemm_job_t *j, float *d,
                                       const float *t, int64_t i,
                                       int64_t cnt) {
        if ((j->act == SWARM_ACT_NONE || j->act == SWARM_ACT_RELU) &&
            j->alpha == 1.0f &&
            (!j->bias || j->bias_mode == SWARM_BIAS_COL)) {
                float bs = j->bias ? j->beta * j->bias[i] : 0.0f;
                __m256 b = _mm256_set1_ps(bs);
                int64_t q = 0;
                for (; q + 8 <= cnt; q += 8) {
                        __m256 v = _mm256_add_ps(_mm256_loadu_ps(t + q), b);
                        if (j->act == SWARM_ACT_RELU)
                                v = _mm256_max_ps(v, _mm256_setzero_ps());
                        _mm256_storeu_ps(d + q, v);
                }
                for (; q < cnt; q++) {
                        float v = t[q] + bs;
                        d[q] = j->act == SWARM_ACT_RELU && !(v > 0.0f)
                               ? 0.0f : v;
                }
                return;
        }
        memcpy(d, t, (size_t)cnt * sizeof(float));
        epi_row(j, j->bias, d, i, 0, cnt);
}

/* Rows [m0, m1), virtual columns [n0, n1) (see cpu_gemm_job_t.direct).
 * Per image: pad it, then for each block of A rows (at most ~512 KiB of
 * packed filters, so they stay in L2 while every sliver of the image
 * passes), each NR-column sliver, each MR-row A sliver: one kernel call
 * over the whole K into a tile buffer, whose valid columns go to C with
 * the epilogue.  MR x NR: 8 x 32 (AVX-512), 6 x 16 (AVX2); constants at
 * each (always inlined) use. */
GEMM_INLINE void drive_direct(const cpu_gemm_job_t *jo, int64_t m0,
                              int64_t m1, int64_t n0, int64_t n1, float *ws,
                              const int MR, const int NR,
                              const kdir_fn *kdir, int wide) {
        /* as in drive: a deferred activation runs after each row block */
        int defer = act_deferred(jo->act);
        cpu_gemm_job_t jn = *jo;
        const cpu_gemm_job_t *j = &jn;
        const swarm_window_t *w = &j->win;
        int64_t k = j->k, taps = w->kh * w->kw, ow = w->ow;
        int64_t *off = (int64_t *)(void *)ws;
        float *xp = ws + dir_off_floats(k);
        int64_t mcd = round_up(131072 / (k > 0 ? k : 1), MR);
        /* floats from one channel's (phase) planes to the next */
        int64_t pp = j->hp * j->wp * w->sh * w->sw, nblk;
        float tmp[8 * 32];

        for (int64_t p = 0; p < k; p++) {
                int64_t ch = p / taps, t = p % taps;
                int64_t dy = t / w->kw * w->dh, dx = t % w->kw * w->dw;
                off[p] = ((ch * w->sh + dy % w->sh) * w->sw + dx % w->sw) *
                                 j->hp * j->wp +
                         dy / w->sh * j->wp + dx / w->sw;
        }
        if (mcd < MR)
                mcd = MR;
        nblk = (m1 - m0 + mcd - 1) / mcd;
        if (defer)
                jn.act = SWARM_ACT_NONE;
        for (int64_t img = n0 / j->vplane; img * j->vplane < n1; img++) {
                int64_t base = img * j->vplane;
                int64_t c0 = (n0 > base ? n0 : base) - base;
                int64_t c1 = min64(n1, base + j->vplane) - base;
                float *cimg = j->c + img * j->c_img;
                dir_pad(j, img, xp);
                /* each group's blocks of A rows in turn */
                for (int64_t u = 0; u < (j->g1 - j->g0) * nblk; u++) {
                        /* group g: its filters, channels and output rows */
                        int64_t g = j->g0 + u / nblk;
                        int64_t ic = m0 + u % nblk * mcd;
                        const float *ag = j->pa->data +
                                          g * j->pa->group_floats;
                        const float *xg = xp + g * w->n * pp;
                        int64_t gr = g * j->m;
                        int64_t mc = min64(mcd, m1 - ic);
                        for (int64_t jr = c0; jr < c1; jr += NR) {
                                int64_t nr = min64(NR, c1 - jr);
                                for (int64_t ir = ic; ir < ic + mc; ir += MR) {
                                        int64_t mr = min64(MR, ic + mc - ir);
                                        kdir[mr - 1](
                                                k, ag + ir / MR * k * MR,
                                                xg + jr, off, tmp);
                                        for (int64_t r = 0; r < mr; r++) {
                                                int64_t q = 0;
                                                while (q < nr) {
                                                        int64_t v = jr + q;
                                                        int64_t oy = v / j->wp;
                                                        int64_t ox = v % j->wp;
                                                        int64_t cnt;
                                                        float *d;
                                                        if (ox >= ow) {
                                                                q += j->wp - ox;
                                                                continue;
                                                        }
                                                        cnt = min64(nr - q,
                                                                    ow - ox);
                                                        d = cimg + oy * ow +
                                                            ox + (gr + ir + r) *
                                                            j->ldc;
                                                        if (wide)
                                                                dir_store(
                                                                j, d,
                                                                tmp + r * NR +
                                                                q, gr + ir + r,
                                                                cnt);
                                                        else
                                                                dir_store256(
                                                                j, d,
                                                                tmp + r * NR +
                                                                q, gr + ir + r,
                                                                cnt);
                                                        q += cnt;
                                                }
                                        }
                                }
                        }
                        if (defer) {
                                /* virtual columns [c0, c1) hold the real
                                 * outputs [f(c0), f(c1)), f(v) = the valid
                                 * columns before v */
                                int64_t r0 = c0 / j->wp * ow +
                                             min64(c0 % j->wp, ow);
                                int64_t r1 = c1 / j->wp * ow +
                                             min64(c1 % j->wp, ow);
                                for (int64_t i = gr + ic; i < gr + ic + mc; i++)
                                        epi_act(jo->isa, jo->act,
                                                jo->act_alpha, jo->act_beta,
                                                cimg + r0 + i * j->ldc,
                                                r1 - r0);
                        }
                }
        }
}

T_AVX512 static void drive_direct512(const cpu_gemm_job_t *j, int64_t m0,
                                     int64_t m1, int64_t n0, int64_t n1,
                                     float *ws) {
        drive_direct(j, m0, m1, n0, n1, ws, 8, 32, kdir_avx512, 1);
}

T_AVX2 static void drive_direct256(const cpu_gemm_job_t *j, int64_t m0,
                                   int64_t m1, int64_t n0, int64_t n1,
                                   float *ws) {
        drive_direct(j, m0, m1, n0, n1, ws, 6, 16, kdir_avx2, 0);
}
#endif

/* ---- public entries ---- */

int cpu_gemm_pack(cpu_isa_t isa, int side, int trans, int64_t groups,
                  int64_t rows, int64_t k, const float *src, int64_t ld,
                  cpu_packed_t **out, swarm_err_t *err) {
        int width;
        int64_t per, total, gstride;
        size_t bytes;
        cpu_packed_t *p;

        *out = NULL;
        if ((int)isa < 0 || isa >= CPU_ISA_COUNT || !cpu_gemm_isa_ok(isa))
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "gemm pack: kernel set %d not available",
                                     (int)isa);
        if (groups < 1 || rows < 1 || k < 0 || ld < 0 ||
            (side && groups != 1) || (trans && groups != 1))
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "gemm pack: bad operand (%lld groups "
                                     "of %lld x %lld)", (long long)groups,
                                     (long long)rows, (long long)k);
        width = side ? geo[isa].nr : geo[isa].mr;
        if (swarm_mul_i64(round_up(rows, width), k, &per) ||
            swarm_mul_i64(per, groups, &total) ||
            swarm_mul_i64(rows, ld, &gstride) ||
            total > (int64_t)(SIZE_MAX / sizeof(float)) - 16)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "gemm pack: %lld groups of %lld x %lld "
                                     "overflow", (long long)groups,
                                     (long long)rows, (long long)k);
        p = calloc(1, sizeof(*p));
        bytes = ((size_t)total * sizeof(float) + 63) & ~(size_t)63;
        if (bytes == 0)
                bytes = 64;
        if (p)
                p->data = aligned_alloc(64, bytes);
        if (!p || !p->data) {
                free(p);
                return swarm_err_set(err, SWARM_ERR_NOMEM,
                                     "gemm pack: out of memory (%zu bytes)",
                                     bytes);
        }
        p->isa = isa;
        p->side = side;
        p->groups = groups;
        p->rows = rows;
        p->k = k;
        p->group_floats = per;
        p->bytes = bytes + sizeof(*p);
        for (int64_t g = 0; g < groups; g++) {
                float *d = p->data + g * per;
                const float *s = src + g * gstride;
                if (side == 0)
                        pack_a(d, s, trans ? 1 : ld, trans ? ld : 1, rows, k,
                               width);
                else
                        pack_b(d, s, trans ? 1 : ld, trans ? ld : 1, rows, k,
                               width);
        }
        *out = p;
        return SWARM_OK;
}

void cpu_gemm_pack_free(cpu_packed_t *p) {
        if (!p)
                return;
        free(p->data);
        free(p);
}

int cpu_gemm_job_gemm(cpu_gemm_job_t *jp, const swarm_gemm_t *g,
                      const cpu_packed_t *a, const cpu_packed_t *b,
                      swarm_err_t *err) {
        cpu_gemm_job_t j;

        if (g->m < 0 || g->n < 0 || g->k < 0 || (!a == !b) ||
            (a && (a->side != 0 || a->rows != g->m || a->k != g->k ||
                   a->groups != 1)) ||
            (b && (b->side != 1 || b->rows != g->n || b->k != g->k)))
                return swarm_err_set(err, SWARM_ERR_BACKEND,
                                     "gemm: packed gemm operand does not "
                                     "match %lldx%lldx%lld",
                                     (long long)g->m, (long long)g->n,
                                     (long long)g->k);
        memset(&j, 0, sizeof(j));
        j.isa = a ? a->isa : b->isa;
        j.m = g->m;
        j.n = g->n;
        j.k = g->k;
        j.alpha = g->alpha;
        j.beta = g->beta;
        j.pa = a;
        j.pb = b;
        if (g->a_blk_rows < 0 || g->a_blk_off < 0 || (a && g->a_blk_rows) ||
            (g->a_scale && (g->a_blk_rows < 1 || g->a_scale_off < 0)))
                return swarm_err_set(err, SWARM_ERR_BACKEND,
                                     "gemm: bad row blocks of A (%lld rows, "
                                     "%lld apart%s%s)",
                                     (long long)g->a_blk_rows,
                                     (long long)g->a_blk_off,
                                     a ? ", A packed" : "",
                                     g->a_scale ? ", scaled" : "");
        if (!a) {
                j.a = (const float *)g->a + g->a_off;
                j.a_rs = g->trans_a ? 1 : g->lda;
                j.a_ks = g->trans_a ? g->lda : 1;
                j.a_blk_rows = g->a_blk_rows;
                j.a_blk_off = g->a_blk_off;
                j.a_scale = g->a_scale ? (const float *)g->a_scale +
                                         g->a_scale_off : NULL;
        }
        if (!b) {
                j.b = (const float *)g->b + g->b_off;
                j.b_ks = g->trans_b ? 1 : g->ldb;
                j.b_cs = g->trans_b ? g->ldb : 1;
        }
        j.c = (float *)g->c + g->c_off;
        j.ldc = g->ldc;
        j.plane = g->n;
        j.groups = 1;
        j.g1 = 1;
        if (g->bias && g->bias_mode != SWARM_BIAS_NONE && g->beta != 0.0f) {
                j.bias = (const float *)g->bias + g->bias_off;
                j.bias_mode = g->bias_mode;
        }
        j.act = g->act;
        j.act_alpha = g->act_alpha;
        j.act_beta = g->act_beta;
        *jp = j;
        return SWARM_OK;
}

/* The direct convolution (see cpu_gemm_job_t.direct) replaces the B
 * packing, which cost 25-35% of a ResNet-18 3x3 layer (perf), by one copy
 * of the image per part; it computes wp - ow dropped columns per output
 * row (kw - 1 of them), so narrow planes keep the packed path. */
#define DIRECT_MIN_OW 20
/* Grouped windows go direct at any width: the dropped columns cost less
 * than their alternative, one im2col and one OpenBLAS call of a few
 * filters per group and image.  RegNet-Y-400MF at batch 1, 1 thread, Zen
 * 5: its grouped 3x3 layers at 14 x 14 and 7 x 7 (groups of 8 filters,
 * 26 and 55 groups) took 0.92 ms each there, the model 12.8 -> 9.2 ms. */
#define DIRECT_GROUPED_MIN_OW 1
/* Strided windows read sh x sw phase planes of the image (deinterleaved
 * when it is copied), so each tap is again one offset. */
#define DIRECT_MAX_STRIDE 4
/* ... but a sliver's taps then spread over sh * sw planes per channel:
 * with many channels they fall out of L1 (ResNet's 3x3 / 2 at 64
 * channels: 74 GF/s against 87 packed) while the 7x7 / 2 stem on 3
 * channels went from 57 to 97.  Strided windows go direct up to this
 * many channel phases (channels x sh x sw; of a group, for grouped
 * windows).  32, not 16 since RegNet's stride-2 3x3 layers (groups of 8
 * channels: 32 phases) went direct: on Zen 3 (AVX2, 1 thread, batch 16,
 * per-node minimum, two runs each) the 48-channel one at 112 x 112 from
 * 29 / 41 to 21 / 23 ms on im2col + OpenBLAS, the 104-channel one at 56 x
 * 56 from 15 / 15 to 13 / 10.  128 (32 channels at stride 2), not 32,
 * since the segmentation net's 16- and 32-channel 3x3 / 2 encoder layers
 * (64 and 128 phases, which took the packed path or im2col + OpenBLAS)
 * went direct: Zen 5, 1 thread, batch 16 at 192 x 256, per-node mean,
 * AVX-512 7.2 -> 4.3 and 4.7 -> 2.0 ms, the AVX2 kernel set 11.9 -> 7.5
 * and 5.3 -> 3.8 ms.  ResNet-18's 64-channel one (256 phases) measured
 * the same either way (16.5 packed, 15.3 direct; AVX2 27.0 / 23.6): left
 * on the packed path. */
#define DIRECT_MAX_PHASES 128

/* Kernel sets with a direct path. */
static int dir_isa(cpu_isa_t isa) {
        return isa == CPU_ISA_AVX512 || isa == CPU_ISA_AVX2;
}

int64_t cpu_gemm_direct_min_ow(void) {
        return dir_isa(cpu_gemm_best_isa()) ? DIRECT_MIN_OW : 0;
}

int64_t cpu_gemm_direct_grouped_min_ow(void) {
        return dir_isa(cpu_gemm_best_isa()) ? DIRECT_GROUPED_MIN_OW : 0;
}

int64_t cpu_gemm_direct_max_stride(void) {
        return dir_isa(cpu_gemm_best_isa()) ? DIRECT_MAX_STRIDE : 0;
}

int64_t cpu_gemm_direct_max_phases(void) {
        return dir_isa(cpu_gemm_best_isa()) ? DIRECT_MAX_PHASES : 0;
}

static void dir_plan(cpu_gemm_job_t *j, const swarm_window_t *w,
                     int64_t imgs) {
        int64_t hp, wp, span, vplane, n, pp, ws;

        if (!CPU_GEMM_X86 || !dir_isa(j->isa) || j->groups < 1 ||
            w->sh < 1 ||
            w->sw < 1 || w->sh > DIRECT_MAX_STRIDE ||
            w->sw > DIRECT_MAX_STRIDE || (w->kh == 1 && w->kw == 1) ||
            ((w->sh > 1 || w->sw > 1) &&
             w->n > DIRECT_MAX_PHASES / (w->sh * w->sw)) ||
            w->ow < (j->groups > 1 ? DIRECT_GROUPED_MIN_OW : DIRECT_MIN_OW) ||
            w->oh < 1 || w->pad_t < 0 ||
            w->pad_l < 0 || w->pad_b < 0 || w->pad_r < 0 || w->dh < 1 ||
            w->dw < 1 || w->kh < 1 || w->kw < 1)
                return;
        if (swarm_add_i64(w->h, w->pad_t, &hp) ||
            swarm_add_i64(hp, w->pad_b, &hp) ||
            swarm_add_i64(w->w, w->pad_l, &wp) ||
            swarm_add_i64(wp, w->pad_r, &wp) ||
            swarm_mul_i64(w->kh - 1, w->dh, &span) || hp - span < 1 ||
            (hp - span - 1) / w->sh + 1 != w->oh ||
            swarm_mul_i64(w->kw - 1, w->dw, &span) || wp - span < 1 ||
            (wp - span - 1) / w->sw + 1 != w->ow)
                return;
        /* the phase planes: ceil(hp / sh) x ceil(wp / sw) */
        hp = (hp + w->sh - 1) / w->sh;
        wp = (wp + w->sw - 1) / w->sw;
        if (swarm_mul_i64(w->oh, wp, &vplane) ||
            swarm_mul_i64(vplane, imgs, &n) ||
            swarm_mul_i64(hp, wp, &pp) ||
            swarm_mul_i64(pp, w->sh * w->sw, &pp) ||
            swarm_mul_i64(pp, w->n, &ws) ||
            swarm_mul_i64(ws, j->groups, &ws) ||
            swarm_add_i64(ws, wp + 32, &ws) ||
            swarm_add_i64(ws, dir_off_floats(j->k), &ws) ||
            ws > ((int64_t)1 << 40))
                return;
        j->direct = 1;
        j->hp = hp;
        j->wp = wp;
        j->vplane = vplane;
        j->n = n;
        j->dir_ws = round_up(ws, 16);
}

int cpu_gemm_job_conv(cpu_gemm_job_t *jp, const swarm_window_t *w,
                      int64_t imgs, int64_t group, int64_t cout,
                      const cpu_packed_t *p, const float *x,
                      const float *bias, swarm_act_t act, float alpha,
                      float beta, float *y, swarm_err_t *err) {
        int64_t plane, hw, k, n, cimg, ximg, xgrp;
        cpu_gemm_job_t j;

        if (group < 1 || cout % group || p->side != 0 ||
            p->groups != group || p->rows != cout / group ||
            swarm_mul_i64(w->oh, w->ow, &plane) ||
            swarm_mul_i64(w->h, w->w, &hw) ||
            swarm_mul_i64(w->n * w->kh, w->kw, &k) || k != p->k ||
            swarm_mul_i64(imgs, plane, &n) ||
            swarm_mul_i64(cout, plane, &cimg) ||
            swarm_mul_i64(w->n, hw, &xgrp) ||
            swarm_mul_i64(xgrp, group, &ximg))
                return swarm_err_set(err, SWARM_ERR_BACKEND,
                                     "gemm: packed convolution does not match "
                                     "its filters");
        memset(&j, 0, sizeof(j));
        j.isa = p->isa;
        j.m = cout / group;
        j.n = n;
        j.k = k;
        j.alpha = 1.0f;
        j.beta = 1.0f;
        j.pa = p;
        j.x = x;
        j.win = *w;
        /* A 1x1 stride-1 unpadded window reads each plane as it is: one
         * long row, so the packing copies runs of whole slivers instead of
         * breaking at every output row. */
        if (w->kh == 1 && w->kw == 1 && w->sh == 1 && w->sw == 1 &&
            !w->pad_t && !w->pad_l && !w->pad_b && !w->pad_r &&
            w->oh == w->h && w->ow == w->w) {
                j.win.h = 1;
                j.win.w = hw;
                j.win.oh = 1;
                j.win.ow = plane;
        }
        j.x_img = ximg;
        j.x_grp = xgrp;
        j.c = y;
        j.ldc = plane;
        j.plane = plane;
        j.c_img = cimg;
        j.groups = group;
        j.g1 = group;
        j.bias = bias;
        j.bias_mode = bias ? SWARM_BIAS_COL : SWARM_BIAS_NONE;
        j.act = act;
        j.act_alpha = alpha;
        j.act_beta = beta;
        dir_plan(&j, w, imgs);
        *jp = j;
        return SWARM_OK;
}

int64_t cpu_gemm_ws_floats(const cpu_gemm_job_t *j) {
        int mr = geo[j->isa].mr, nr = geo[j->isa].nr;
        int64_t kc = min64(KC, j->k), w = 0;

        if (j->direct)
                return j->dir_ws;

        if (!j->pb)
                w += kc * min64(NC, round_up(j->n, nr));
        if (!j->pa)
                w += kc * min64(MC, round_up(j->m, mr));
        /* Keep each part's workspace on its own cache lines. */
        return round_up(w, 16);
}

int cpu_gemm_plan_parts(cpu_gemm_job_t *j, int parts) {
        int mr = geo[j->isa].mr, nr = geo[j->isa].nr;
        int64_t ns = (j->n + nr - 1) / nr, ms = (j->m + mr - 1) / mr;

        j->split_m = 0;
        j->split_g = 0;
        if (parts <= 1)
                return 1;
        /* A grouped direct convolution of one or a few images: each part
         * would pad every group's channels of each of its images to run
         * its columns (RegNet at batch 1, 2 threads: the 6-group 3x3 / 2
         * layer at 112 x 112 took 0.59 ms on 1 lane, 0.87 on 2); its own
         * groups instead. */
        if (j->direct && j->groups >= parts && j->vplane > 0 &&
            j->n / j->vplane < 2 * (int64_t)parts) {
                j->split_g = 1;
                return parts;
        }
        /* An A gathered by rows (pack_a_rows: the pixels of NCHW images,
         * a convolution run transposed) against packed filters: rows, so
         * that each part gathers only its own and reads the (small) B
         * whole.  Split by columns, each part gathered all of A for a few
         * dozen columns: SqueezeNet's 512 -> 64 at 7 x 7, 2 threads,
         * batch 16 ran 1.3x the time of the untransposed plan. */
        if (!j->pa && (j->a_blk_rows > 0 || (j->a_rs == 1 && j->a_ks != 1)) &&
            ms >= 2 * (int64_t)parts) {
                j->split_m = 1;
                return parts;
        }
        /* Columns first: each part then packs only its own B columns and
         * reads A (the packed weights, usually) whole.  Rows when there
         * are too few column slivers to go round. */
        if (ns >= 2 * (int64_t)parts || ns >= ms)
                return ns < parts ? (int)ns : parts;
        j->split_m = 1;
        return ms < parts ? (int)ms : parts;
}

void cpu_gemm_part(void *job, int part, int parts) {
        const cpu_gemm_job_t *j = job;
        int mr = geo[j->isa].mr, nr = geo[j->isa].nr;
        int64_t m0 = 0, m1 = j->m, n0 = 0, n1 = j->n;
        float *ws = j->ws ? j->ws + part * j->ws_part : NULL;
        cpu_gemm_job_t jg;

        if (parts > 1 && j->split_g) {
                jg = *j;
                jg.g0 = j->groups * part / parts;
                jg.g1 = j->groups * (part + 1) / parts;
                if (jg.g0 >= jg.g1)
                        return;
                j = &jg;
        } else if (parts > 1) {
                int w = j->split_m ? mr : nr;
                int64_t total = j->split_m ? j->m : j->n;
                int64_t s = (total + w - 1) / w;
                int64_t lo = s * part / parts * w, hi = s * (part + 1) /
                                                        parts * w;
                if (hi > total)
                        hi = total;
                if (lo >= hi)
                        return;
                if (j->split_m) {
                        m0 = lo;
                        m1 = hi;
                } else {
                        n0 = lo;
                        n1 = hi;
                }
        }
        if (m0 >= m1 || n0 >= n1)
                return;
        switch (j->isa) {
#if CPU_GEMM_X86
        case CPU_ISA_AVX512:
                if (j->direct)
                        drive_direct512(j, m0, m1, n0, n1, ws);
                else
                        drive_avx512(j, m0, m1, n0, n1, ws);
                break;
        case CPU_ISA_AVX2:
                if (j->direct)
                        drive_direct256(j, m0, m1, n0, n1, ws);
                else
                        drive_avx2(j, m0, m1, n0, n1, ws);
                break;
#endif
        default:
                drive_c(j, m0, m1, n0, n1, ws);
                break;
        }
}
