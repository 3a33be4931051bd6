/*
 * cpu_wino.c - Winograd F(4x4, 3x3) convolution (cpu_wino.h).
 *
 * Why F(4x4) and not F(2x2): F(2x2) saves 2.25x of the multiply-adds,
 * F(4x4) 4x, and the direct kernel already runs at 70-75% of the FMA
 * peak, so only the larger tile beats it once the transforms are paid.
 * Its error is larger (the transforms' +-4 / +-8 / 1/24 coefficients):
 * measured by tests/exec/test_wino.c against a double reference, the
 * largest error is 6e-6 (64 channels), 7e-6 (128) and 1.2e-5 (256) of the
 * largest output, 8-30x the packed kernel's (3.5e-7 to 7e-7), and within
 * the family tests' onnxruntime tolerances (ResNet-18, the seg net and
 * the fashion CNN pass unchanged, 1 and 2 threads).
 *
 * Layout of one run.  Tiles are numbered over (image, tile row, tile
 * column) of the whole batch and taken 16 at a time ("groups": one lane
 * each); a part transforms a block of groups into V[xi][group][ci][16],
 * multiplies V[xi] by U[xi] (packed at load, [co / 8][ci][8]) into
 * M[xi][co][block], then transforms M back.  The input tiles are read
 * row by row with masked loads (padding and the edges are masked-off
 * columns, so every tile takes one path) and transposed into lanes; the
 * outputs are written with row stores (masked at the edges; scatters
 * without AVX-512VL).  The lanes' offsets are 32-bit, which
 * cpu_wino_window_ok bounds.
 */
#include <stdlib.h>
#include <string.h>

#include "cpu_wino.h"
#include "cpu_act.h"
#include "cpu_sconv.h"
#include "cpu_xpose.h"
#include "cpu_par.h"
#include "swarm/tensor.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define WINO_X86 1
#include <immintrin.h>
#else
#define WINO_X86 0
#endif

#define T_AVX512 __attribute__((target("avx512f,fma,avx2")))
#define WINO_INLINE static inline __attribute__((always_inline))

#define LANES 16        /* tiles per group */
#define NPOS 36         /* transform positions (6 x 6) */
#define MR 8            /* output channels per packed sliver */

/* Groups per block.  Where a block of at least 2 groups keeps its whole
 * workspace (V and M of all 36 positions) within WINO_L2_FLOATS, as many
 * groups as fit: M is written by the products and read back by the output
 * transform, and past L2 both go to L3 (the fashion CNN's 16 -> 32 at 16
 * groups held 1.8 MB).  Else (many channels) U, read whole for every
 * block, is the larger stream and blocks grow instead: the V[xi] slice a
 * product reads for every sliver, cin x block floats, kept under 512 KiB,
 * the workspace of a part under 16 MiB.  At least 2 (the product kernel's
 * 32 columns), at most 16 (256 tiles).  Measured with bench_wino (1
 * thread, CPU time, min of 3; block of 16 / 8 / 4 / 2 groups, ms): 16 -> 32
 * 14x14 b64 1.14 / 1.08 / 1.09 / 1.01; 64 -> 64 56x56 b16 17.0 / 16.6 /
 * 15.5 / 15.1; 128 -> 128 28x28 b16 14.0 / 14.6 / 12.7 / 12.7; 256 -> 256
 * 14x14 b16 16.1 / 17.7 / 19.6 / 17.5. */
#define WINO_L2_FLOATS ((int64_t)192 * 1024)
#define WINO_V_SLICE_FLOATS ((int64_t)128 * 1024)
#define WINO_WS_FLOATS ((int64_t)4 * 1024 * 1024)
#define WINO_MAX_BG 16

typedef float v16 __attribute__((vector_size(64), aligned(64)));

static inline int64_t rup(int64_t v, int64_t to) {
        return (v + to - 1) / to * to;
}

int cpu_wino_window_ok(const swarm_window_t *w, int64_t cout) {
        int64_t img, oimg, ph, pw, pp, big;

        if (w->kh != 3 || w->kw != 3 || w->sh != 1 || w->sw != 1 ||
            w->dh != 1 || w->dw != 1 || w->n < 1 || cout < 1 ||
            w->h < 1 || w->w < 1 || w->pad_t < 0 || w->pad_l < 0 ||
            w->pad_b < 0 || w->pad_r < 0 || w->pad_t > 2 || w->pad_l > 2 ||
            w->pad_b > 2 || w->pad_r > 2)
                return 0;
        ph = w->h + w->pad_t + w->pad_b;
        pw = w->w + w->pad_l + w->pad_r;
        if (ph < 3 || pw < 3 || w->oh != ph - 2 || w->ow != pw - 2)
                return 0;
        /* A group's lanes span up to 16 images; every gather / scatter
         * offset is below 17 times the largest of these. */
        if (swarm_mul_i64(w->n, w->h, &img) || swarm_mul_i64(img, w->w, &img) ||
            swarm_mul_i64(cout, w->oh, &oimg) ||
            swarm_mul_i64(oimg, w->ow, &oimg) ||
            swarm_mul_i64(ph + 8, pw + 8, &pp))
                return 0;
        big = img > oimg ? img : oimg;
        big = big > pp ? big : pp;
        return big <= INT32_MAX / (LANES + 1);
}

/* The 1-D filter transform G (6 x 3) of F(4, 3), points 0, +-2/3, +-3/2,
 * inf (see in_1d for why these), its rows scaled so that every constant of
 * the input and output transforms is exact in float. */
static void filt_1d(const double *g, int gs, double *u, int us) {
        double g0 = g[0], g1 = g[gs], g2 = g[2 * gs];

        /* Products with the reciprocals: divisions made the load of
         * ResNet-18 (2.4M filters) take about a second. */
        const double r36 = 1.0 / 36.0, r585 = 1.0 / 585.0;

        u[0] = g0 * r36;
        u[us] = -(9.0 * g0 + 6.0 * g1 + 4.0 * g2) * r585;
        u[2 * us] = -(9.0 * g0 - 6.0 * g1 + 4.0 * g2) * r585;
        u[3 * us] = (4.0 * g0 + 6.0 * g1 + 9.0 * g2) * r585;
        u[4 * us] = (4.0 * g0 - 6.0 * g1 + 9.0 * g2) * r585;
        u[5 * us] = g2 * r36;
}

/* G f G^T of one 3 x 3 filter, row-major 6 x 6. */
static void filt_2d(const float *f, double *u) {
        double g[9], t[18];

        for (int i = 0; i < 9; i++)
                g[i] = f[i];
        for (int c = 0; c < 3; c++)
                filt_1d(g + c, 3, t + c, 3);
        for (int r = 0; r < 6; r++)
                filt_1d(t + r * 3, 1, u + r * 6, 1);
}

int cpu_wino_isa_ok(cpu_isa_t isa) {
        return (int)isa >= 0 && isa < CPU_ISA_COUNT &&
               (isa == CPU_ISA_C || (WINO_X86 && cpu_gemm_isa_ok(isa)));
}

int cpu_wino_pack(cpu_isa_t isa, int64_t cout, int64_t cin, const float *w,
                  cpu_wino_t **out, swarm_err_t *err) {
        cpu_wino_t *p;
        int64_t coutp, floats, bytes;

        *out = NULL;
        if (!cpu_wino_isa_ok(isa))
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "winograd: kernel set %d not available",
                                     (int)isa);
        if (cout < 1 || cin < 1 || !w)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "winograd: bad filters (%lld x %lld)",
                                     (long long)cout, (long long)cin);
        if (swarm_add_i64(cout, MR - 1, &coutp) ||
            swarm_mul_i64(coutp / MR * MR, cin, &floats) ||
            swarm_mul_i64(floats, NPOS, &floats) ||
            swarm_mul_i64(floats, (int64_t)sizeof(float), &bytes) ||
            swarm_add_i64(bytes, 63, &bytes) || (uint64_t)bytes > SIZE_MAX)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "winograd: filters %lld x %lld "
                                     "overflow", (long long)cout,
                                     (long long)cin);
        coutp = coutp / MR * MR;
        p = calloc(1, sizeof(*p));
        if (!p)
                return swarm_err_set(err, SWARM_ERR_NOMEM,
                                     "winograd: out of memory");
        p->bytes = (size_t)bytes / 64 * 64;
        p->u = aligned_alloc(64, p->bytes);
        if (!p->u) {
                free(p);
                return swarm_err_set(err, SWARM_ERR_NOMEM,
                                     "winograd: out of memory for %zu "
                                     "bytes of filters", (size_t)bytes);
        }
        memset(p->u, 0, p->bytes);
        p->isa = isa;
        p->cin = cin;
        p->cout = cout;
        p->coutp = coutp;
        /* Sliver by sliver, channel by channel: each position's writes
         * then move forward through memory (36 streams), not 36 scattered
         * floats per filter. */
        for (int64_t s = 0; s < coutp / MR; s++)
                for (int64_t ci = 0; ci < cin; ci++)
                        for (int64_t co = s * MR;
                             co < s * MR + MR && co < cout; co++) {
                                double u[NPOS];
                                float *dst = p->u + (s * cin + ci) * MR +
                                             co % MR;
                                filt_2d(w + (co * cin + ci) * 9, u);
                                for (int xi = 0; xi < NPOS; xi++)
                                        dst[xi * coutp * cin] = (float)u[xi];
                        }
        *out = p;
        return SWARM_OK;
}

void cpu_wino_free(cpu_wino_t *p) {
        if (!p)
                return;
        cpu_sconv_free(p->sconv);
        free(p->u);
        free(p);
}

/* ---- transforms on 16 lanes (GCC vectors: SSE in the C set, zmm when
 * inlined into the AVX-512 one) ---- */

/* B^T over 6 values s apart, in place.  Points 0, +-2/3, +-3/2, inf, not
 * the usual 0, +-1, +-2: pairs c, 1/c cancel in the transforms (Alam,
 * Anderson, Barabasz, Gregg, "Winograd convolution for deep neural
 * networks: efficient point selection", 2022), and in a float32 model of
 * one layer (96 -> 32 channels, 300 tiles, ReLU inputs) the error against
 * float64 fell from 1.56e-6 to 0.71e-6 rms (direct convolution: 0.26e-6)
 * and from 5.7e-6 to 1.4e-6 at worst.  With the old points a random-init
 * Inception-v3 and Wide ResNet-50 differed from onnxruntime by 1.6 and 1.4
 * times our 1e-4 * max|out| bound.  Rows scaled so every constant is
 * exact; a few more multiplies than the integer points take. */
WINO_INLINE void in_1d(v16 *d, int s) {
        v16 d0 = d[0], d1 = d[s], d2 = d[2 * s], d3 = d[3 * s];
        v16 d4 = d[4 * s], d5 = d[5 * s];
        v16 a = 1.5f * d4 - 3.375f * d2, b = d3 - 2.25f * d1;
        v16 c = 2.25f * d4 - d2, e = 3.375f * d3 - 1.5f * d1;

        d[0] = 36.0f * (d0 + d4) - 97.0f * d2;
        d[s] = a + b;
        d[2 * s] = a - b;
        d[3 * s] = c + e;
        d[4 * s] = c - e;
        d[5 * s] = 36.0f * (d1 + d5) - 97.0f * d3;
}

/* B^T d B of 36 vectors (row-major 6 x 6), in place. */
WINO_INLINE void in_2d(v16 *d) {
        for (int c = 0; c < 6; c++)
                in_1d(d + c, 6);
        for (int r = 0; r < 6; r++)
                in_1d(d + r * 6, 1);
}

/* A^T over 6 values s apart into 4 values os apart. */
WINO_INLINE void out_1d(const v16 *m, int s, v16 *o, int os) {
        v16 a = m[s] + m[2 * s], b = m[s] - m[2 * s];
        v16 c = m[3 * s] + m[4 * s], e = m[3 * s] - m[4 * s];

        o[0] = m[0] + 27.0f * a + 8.0f * c;
        o[os] = 18.0f * b + 12.0f * e;
        o[2 * os] = 12.0f * a + 18.0f * c;
        o[3 * os] = 8.0f * b + 27.0f * e + m[5 * s];
}

/* A^T m A: 36 vectors to 16 (row-major 4 x 4). */
WINO_INLINE void out_2d(const v16 *m, v16 *o) {
        v16 t[24];

        for (int c = 0; c < 6; c++)
                out_1d(m + c, 6, t + c, 6);
        for (int r = 0; r < 4; r++)
                out_1d(t + r * 6, 1, o + r * 4, 1);
}

/* ---- one run ---- */

typedef struct wino_job {
        const cpu_wino_t *p;
        int64_t cin, cout, coutp;
        int64_t h, w, oh, ow, pad_t, pad_l;
        int64_t th, tw, tiles, groups, bg, blocks;
        /* Floats from one position's V (M) block to the next: a block
         * plus 16, so that the 36 positions' rows do not fall in one
         * L1 set (blocks are multiples of 4 KiB: 36 loads 64 KiB apart
         * evicted each other). */
        int64_t vstr, mstr;
        int64_t img_in, img_out;        /* floats per image */
        const float *x, *bias;
        float *y;
        swarm_act_t act;
        float a, b;
        int vl;                 /* AVX-512VL: masked 128-bit row stores */
        int oom;
} wino_job_t;

/* Per group: the 16 lanes' input offsets (from the group's first image's
 * base, tile origin included) and output offsets, each lane's input taps
 * inside (per row) and the lane masks of each output position (16). */
typedef struct wino_group {
        int64_t img0;
        int32_t in_off[LANES], out_off[LANES];
        uint16_t out_mask[16];
        uint16_t full;          /* lanes whose 4x4 output is all inside */
        /* Lane l's input row a: the columns inside (bit b: column b, 0
         * when the row is outside): the AVX-512 set's masked row loads,
         * the C set's per-tap test. */
        uint16_t row_taps[6][LANES];
        /* Lane l's output row a: the columns inside (bit b: column b),
         * for the masked row stores of partial tiles. */
        uint8_t row_cols[LANES][4];
} wino_group_t;

/* Tap masks from the rows and columns that lie inside: a tap is inside
 * when both are, so 12 + 8 checks per lane instead of 36 + 16 (this ran
 * twice per group, 4% of the fashion CNN). */
static void group_info(const wino_job_t *j, int64_t g, wino_group_t *gi) {
        int64_t per = j->th * j->tw, t0 = g * LANES;
        uint16_t orow[4] = {0}, ocol[4] = {0};

        gi->img0 = t0 / per;
        memset(gi->row_cols, 0, sizeof(gi->row_cols));
        for (int l = 0; l < LANES; l++) {
                int64_t t = t0 + l, img, r, ty, tx, iy, ix, oy, ox;
                uint16_t bit = (uint16_t)(1u << l), cols = 0;
                if (t >= j->tiles) {
                        gi->in_off[l] = 0;
                        gi->out_off[l] = 0;
                        for (int a = 0; a < 6; a++)
                                gi->row_taps[a][l] = 0;
                        continue;
                }
                img = t / per;
                r = t % per;
                ty = r / j->tw;
                tx = r % j->tw;
                oy = ty * 4;
                ox = tx * 4;
                iy = oy - j->pad_t;
                ix = ox - j->pad_l;
                /* Bounded by cpu_wino_window_ok: below INT32_MAX. */
                gi->in_off[l] = (int32_t)((img - gi->img0) * j->img_in +
                                          iy * j->w + ix);
                gi->out_off[l] = (int32_t)((img - gi->img0) * j->img_out +
                                           oy * j->ow + ox);
                for (int b = 0; b < 6; b++)
                        if (ix + b >= 0 && ix + b < j->w)
                                cols |= (uint16_t)(1u << b);
                for (int a = 0; a < 6; a++)
                        gi->row_taps[a][l] = iy + a >= 0 && iy + a < j->h
                                             ? cols : 0;
                for (int a = 0; a < 4; a++) {
                        if (oy + a < j->oh)
                                orow[a] |= bit;
                        if (ox + a < j->ow)
                                ocol[a] |= bit;
                }
                for (int a = 0; a < 4 && oy + a < j->oh; a++)
                        gi->row_cols[l][a] =
                                (uint8_t)((1u << (j->ow - ox < 4 ? j->ow - ox
                                                                 : 4)) - 1u);
        }
        for (int a = 0; a < 4; a++)
                for (int b = 0; b < 4; b++)
                        gi->out_mask[a * 4 + b] = orow[a] & ocol[b];
        gi->full = orow[3] & ocol[3];
}

/* Kernel sets: input transform of one group (all channels) into
 * v + ci * 16 + xi * vstride; products of one block; output transform of
 * one group from m + co * mrow + xi * mstride. */
typedef struct wino_ops {
        void (*in)(const wino_job_t *j, const wino_group_t *gi, float *v,
                   int64_t vstride);
        void (*gemm)(const wino_job_t *j, const float *v, float *m,
                     int64_t ng, int64_t bg);
        void (*out)(const wino_job_t *j, const wino_group_t *gi,
                    const float *m, int64_t mstride, int64_t mrow);
} wino_ops_t;

/* ---- portable C ---- */

/* The input transform with per-tap loads: the C set's, and (inlined with
 * the AVX2 target, the transforms then on ymm pairs) the AVX2 set's, with
 * the rows wholly inside taken without a test per tap. */
WINO_INLINE void in_body(const wino_job_t *j, const wino_group_t *gi,
                         float *v, int64_t vstride) {
        const float *x0 = j->x + gi->img0 * j->img_in;
        v16 d[NPOS];

        for (int64_t ci = 0; ci < j->cin; ci++) {
                const float *xc = x0 + ci * j->h * j->w;
                for (int l = 0; l < LANES; l++)
                        for (int a = 0; a < 6; a++) {
                                unsigned tm = gi->row_taps[a][l];
                                int64_t o = gi->in_off[l] + a * j->w;
                                if (tm == 0x3fu) {
                                        for (int b = 0; b < 6; b++)
                                                d[a * 6 + b][l] = xc[o + b];
                                        continue;
                                }
                                for (int b = 0; b < 6; b++)
                                        d[a * 6 + b][l] = (tm >> b & 1u)
                                                          ? xc[o + b] : 0.0f;
                        }
                in_2d(d);
                for (int xi = 0; xi < NPOS; xi++)
                        memcpy(v + xi * vstride + ci * LANES, &d[xi],
                               sizeof(v16));
        }
}

static void in_c(const wino_job_t *j, const wino_group_t *gi, float *v,
                 int64_t vstride) {
        in_body(j, gi, v, vstride);
}

static void gemm_c(const wino_job_t *j, const float *v, float *m,
                   int64_t ng, int64_t bg) {
        int64_t cin = j->cin, coutp = j->coutp, cols = bg * LANES;

        for (int xi = 0; xi < NPOS; xi++) {
                const float *u = j->p->u + xi * coutp * cin;
                const float *vx = v + xi * j->vstr;
                float *mx = m + xi * j->mstr;
                for (int64_t s = 0; s < coutp / MR; s++)
                        for (int64_t g = 0; g < ng; g++) {
                                float acc[MR][LANES];
                                const float *us = u + s * cin * MR;
                                const float *vg = vx + g * cin * LANES;
                                memset(acc, 0, sizeof(acc));
                                for (int64_t ci = 0; ci < cin; ci++)
                                        for (int r = 0; r < MR; r++)
                                                for (int l = 0; l < LANES; l++)
                                                        acc[r][l] +=
                                                                us[ci * MR + r] *
                                                                vg[ci * LANES + l];
                                for (int r = 0; r < MR; r++)
                                        memcpy(mx + (s * MR + r) * cols +
                                               g * LANES, acc[r],
                                               sizeof(acc[r]));
                        }
        }
}

/* The output transform with per-lane stores (C; AVX2 as in_body). */
WINO_INLINE void out_body(const wino_job_t *j, const wino_group_t *gi,
                          const float *m, int64_t mstride, int64_t mrow) {
        float *y0 = j->y + gi->img0 * j->img_out;
        v16 d[NPOS], o[16];
        float ob[16 * LANES];

        for (int64_t co = 0; co < j->cout; co++) {
                float *yc = y0 + co * j->oh * j->ow;
                float bv = j->bias ? j->bias[co] : 0.0f;
                for (int xi = 0; xi < NPOS; xi++)
                        memcpy(&d[xi], m + co * mrow + xi * mstride,
                               sizeof(v16));
                out_2d(d, o);
                for (int q = 0; q < 16; q++)
                        o[q] += bv;
                memcpy(ob, o, sizeof(ob));
                exec_act_span_inl(j->act, j->a, j->b, ob, 16 * LANES);
                memcpy(o, ob, sizeof(ob));
                for (int a = 0; a < 4; a++)
                        for (int b = 0; b < 4; b++) {
                                unsigned mk = gi->out_mask[a * 4 + b];
                                for (int l = 0; l < LANES; l++)
                                        if (mk >> l & 1u)
                                                yc[gi->out_off[l] +
                                                   a * j->ow + b] =
                                                        o[a * 4 + b][l];
                        }
        }
}

static void out_c(const wino_job_t *j, const wino_group_t *gi,
                  const float *m, int64_t mstride, int64_t mrow) {
        out_body(j, gi, m, mstride, mrow);
}

static const wino_ops_t ops_c = {in_c, gemm_c, out_c};

/* ---- AVX2 ----
 * The transforms of in_body / out_body compiled for AVX2, and the
 * products on 4 output channels (half a sliver) x 16 tiles, 8
 * accumulators: per input channel two V loads, four U broadcasts, eight
 * FMAs.  Without this set AVX2 machines ran 3x3 layers on the packed or
 * direct GEMM at about 29 GMAC/s on Zen 3 (bench/exec/README.md). */
#if WINO_X86
#define T_AVX2 __attribute__((target("avx2,fma")))

T_AVX2 static void in_avx2(const wino_job_t *j, const wino_group_t *gi,
                           float *v, int64_t vstride) {
        in_body(j, gi, v, vstride);
}

T_AVX2 static void kern_4x16_avx2(const float *us, const float *v0,
                                  int64_t cin, float *m, int64_t cols) {
        __m256 c[4][2];

        for (int r = 0; r < 4; r++)
                c[r][0] = c[r][1] = _mm256_setzero_ps();
        for (int64_t ci = 0; ci < cin; ci++) {
                __m256 b0 = _mm256_load_ps(v0 + ci * LANES);
                __m256 b1 = _mm256_load_ps(v0 + ci * LANES + 8);
                for (int r = 0; r < 4; r++) {
                        __m256 a = _mm256_broadcast_ss(us + ci * MR + r);
                        c[r][0] = _mm256_fmadd_ps(a, b0, c[r][0]);
                        c[r][1] = _mm256_fmadd_ps(a, b1, c[r][1]);
                }
        }
        for (int r = 0; r < 4; r++) {
                _mm256_store_ps(m + r * cols, c[r][0]);
                _mm256_store_ps(m + r * cols + 8, c[r][1]);
        }
}

T_AVX2 static void gemm_avx2(const wino_job_t *j, const float *v, float *m,
                             int64_t ng, int64_t bg) {
        int64_t cin = j->cin, coutp = j->coutp, cols = bg * LANES;

        for (int xi = 0; xi < NPOS; xi++) {
                const float *u = j->p->u + xi * coutp * cin;
                const float *vx = v + xi * j->vstr;
                float *mx = m + xi * j->mstr;
                for (int64_t s = 0; s < coutp / MR; s++)
                        for (int hf = 0; hf < 2; hf++) {
                                const float *us = u + s * cin * MR + hf * 4;
                                float *ms = mx + (s * MR + hf * 4) * cols;
                                for (int64_t g = 0; g < ng; g++)
                                        kern_4x16_avx2(us,
                                                       vx + g * cin * LANES,
                                                       cin, ms + g * LANES,
                                                       cols);
                        }
        }
}

T_AVX2 static void out_avx2(const wino_job_t *j, const wino_group_t *gi,
                            const float *m, int64_t mstride, int64_t mrow) {
        out_body(j, gi, m, mstride, mrow);
}

static const wino_ops_t ops_avx2 = {in_avx2, gemm_avx2, out_avx2};
#undef T_AVX2
#endif

/* ---- AVX-512 ---- */
#if WINO_X86

/* Row a of the 16 lanes' 6 x 6 input tiles as 6 vectors, column b's in
 * r[b] (lane l: tile l).  Each lane's row is one masked load (its taps
 * inside; nothing is read for those outside, so the address may lie a
 * column before its row), lanes l and l + 8 share a register, and an 8 x
 * 8 transpose in each 256-bit half turns rows into columns.  What this
 * replaced, one masked gather per tap (36 per channel), took 19% of the
 * fashion CNN's batch-16 run on its own: a gather of 16 floats costs
 * tens of cycles on the CPUs measured, the loads and 30 shuffles here a
 * few each. */
T_AVX512 static inline void in_row_avx512(const float *xc,
                                          const wino_group_t *gi, int a,
                                          int64_t w, __m512 *r) {
        static const int32_t lo[16] = {0, 1, 2, 3, 16, 17, 18, 19,
                                       8, 9, 10, 11, 24, 25, 26, 27};
        static const int32_t hi[16] = {4, 5, 6, 7, 20, 21, 22, 23,
                                       12, 13, 14, 15, 28, 29, 30, 31};
        const __m512i ilo = _mm512_loadu_si512(lo);
        const __m512i ihi = _mm512_loadu_si512(hi);
        __m512 q[8], u[8];

        for (int l = 0; l < 8; l++) {
                const uint16_t m0 = gi->row_taps[a][l];
                const uint16_t m1 = gi->row_taps[a][l + 8];
                __m512 v0 = _mm512_maskz_loadu_ps(
                        m0, m0 ? xc + gi->in_off[l] + a * w : xc);
                __m512 v1 = _mm512_maskz_loadu_ps(
                        m1, m1 ? xc + gi->in_off[l + 8] + a * w : xc);
                q[l] = _mm512_shuffle_f32x4(v0, v1, 0x44);
        }
        exec_xpose4x4_blocks512(q, u);
        /* u[c] (u[4 + c]): column c in its 128-bit blocks 0 and 2,
         * column c + 4 in 1 and 3, for lanes 0-3 and 8-11 (4-7, 12-15) */
        for (int c = 0; c < 4; c++)
                r[c] = _mm512_permutex2var_ps(u[c], ilo, u[4 + c]);
        r[4] = _mm512_permutex2var_ps(u[0], ihi, u[4]);
        r[5] = _mm512_permutex2var_ps(u[1], ihi, u[5]);
}

T_AVX512 static void in_avx512(const wino_job_t *j, const wino_group_t *gi,
                               float *v, int64_t vstride) {
        const float *x0 = j->x + gi->img0 * j->img_in;
        v16 d[NPOS];

        for (int64_t ci = 0; ci < j->cin; ci++) {
                const float *xc = x0 + ci * j->h * j->w;
                __m512 r[6];
                for (int a = 0; a < 6; a++) {
                        in_row_avx512(xc, gi, a, j->w, r);
                        for (int b = 0; b < 6; b++)
                                d[a * 6 + b] = (v16)r[b];
                }
                in_2d(d);
                for (int xi = 0; xi < NPOS; xi++)
                        _mm512_store_ps(v + xi * vstride + ci * LANES,
                                        (__m512)d[xi]);
        }
}

/* 8 output channels x 32 tiles (two groups), k = cin. */
T_AVX512 static void kern_8x32(const float *us, const float *v0,
                               const float *v1, int64_t cin, float *m,
                               int64_t cols) {
        __m512 c[MR][2];

        for (int r = 0; r < MR; r++)
                c[r][0] = c[r][1] = _mm512_setzero_ps();
        for (int64_t ci = 0; ci < cin; ci++) {
                __m512 b0 = _mm512_load_ps(v0 + ci * LANES);
                __m512 b1 = _mm512_load_ps(v1 + ci * LANES);
                for (int r = 0; r < MR; r++) {
                        __m512 a = _mm512_set1_ps(us[ci * MR + r]);
                        c[r][0] = _mm512_fmadd_ps(a, b0, c[r][0]);
                        c[r][1] = _mm512_fmadd_ps(a, b1, c[r][1]);
                }
        }
        for (int r = 0; r < MR; r++) {
                _mm512_store_ps(m + r * cols, c[r][0]);
                _mm512_store_ps(m + r * cols + LANES, c[r][1]);
        }
}

T_AVX512 static void kern_8x16(const float *us, const float *v0,
                               int64_t cin, float *m, int64_t cols) {
        __m512 c[MR];

        for (int r = 0; r < MR; r++)
                c[r] = _mm512_setzero_ps();
        for (int64_t ci = 0; ci < cin; ci++) {
                __m512 b0 = _mm512_load_ps(v0 + ci * LANES);
                for (int r = 0; r < MR; r++)
                        c[r] = _mm512_fmadd_ps(_mm512_set1_ps(us[ci * MR + r]),
                                               b0, c[r]);
        }
        for (int r = 0; r < MR; r++)
                _mm512_store_ps(m + r * cols, c[r]);
}

T_AVX512 static void gemm_avx512(const wino_job_t *j, const float *v,
                                 float *m, int64_t ng, int64_t bg) {
        int64_t cin = j->cin, coutp = j->coutp, cols = bg * LANES;

        for (int xi = 0; xi < NPOS; xi++) {
                const float *u = j->p->u + xi * coutp * cin;
                const float *vx = v + xi * j->vstr;
                float *mx = m + xi * j->mstr;
                for (int64_t s = 0; s < coutp / MR; s++) {
                        const float *us = u + s * cin * MR;
                        float *ms = mx + s * MR * cols;
                        int64_t g = 0;
                        for (; g + 2 <= ng; g += 2)
                                kern_8x32(us, vx + g * cin * LANES,
                                          vx + (g + 1) * cin * LANES, cin,
                                          ms + g * LANES, cols);
                        if (g < ng)
                                kern_8x16(us, vx + g * cin * LANES, cin,
                                          ms + g * LANES, cols);
                }
        }
}

/* The 16 lanes' 4x4 tiles: o[q] holds position q of every lane;
 * transposed (16 x 16, in registers: unpack ps, unpack pd, two 128-bit
 * shuffles) each lane's tile is one vector c[l] whose 128-bit lane a is
 * output row a. */
T_AVX512 static inline void tiles_t_avx512(const v16 *o, __m512 *c) {
        __m512 t[16], u[16], v[16];

        for (int i = 0; i < 16; i += 2) {
                t[i] = _mm512_unpacklo_ps((__m512)o[i], (__m512)o[i + 1]);
                t[i + 1] = _mm512_unpackhi_ps((__m512)o[i], (__m512)o[i + 1]);
        }
        /* u[4k + j]: rows 4k..4k+3, 128-bit lane m holding column 4m + j. */
        for (int i = 0; i < 16; i += 4) {
                __m512d a = _mm512_castps_pd(t[i]);
                __m512d b = _mm512_castps_pd(t[i + 2]);
                __m512d cc = _mm512_castps_pd(t[i + 1]);
                __m512d d = _mm512_castps_pd(t[i + 3]);
                u[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
                u[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
                u[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(cc, d));
                u[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(cc, d));
        }
        for (int j = 0; j < 4; j++) {
                v[j] = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x88);
                v[4 + j] = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xdd);
                v[8 + j] = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x88);
                v[12 + j] = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xdd);
        }
        for (int j = 0; j < 4; j++) {
                c[j] = _mm512_shuffle_f32x4(v[j], v[8 + j], 0x88);
                c[8 + j] = _mm512_shuffle_f32x4(v[j], v[8 + j], 0xdd);
                c[4 + j] = _mm512_shuffle_f32x4(v[4 + j], v[12 + j], 0x88);
                c[12 + j] = _mm512_shuffle_f32x4(v[4 + j], v[12 + j], 0xdd);
        }
}

/* Full tiles: four plain stores per lane instead of 16 scatters. */
T_AVX512 static void store_tiles_avx512(const v16 *o, const wino_group_t *gi,
                                        float *yc, int64_t ow) {
        __m512 c[16];

        tiles_t_avx512(o, c);
        for (int l = 0; l < LANES; l++) {
                float *p = yc + gi->out_off[l];
                _mm_storeu_ps(p, _mm512_extractf32x4_ps(c[l], 0));
                _mm_storeu_ps(p + ow, _mm512_extractf32x4_ps(c[l], 1));
                _mm_storeu_ps(p + 2 * ow, _mm512_extractf32x4_ps(c[l], 2));
                _mm_storeu_ps(p + 3 * ow, _mm512_extractf32x4_ps(c[l], 3));
        }
}

/* Partial tiles (the right and bottom edges of planes not a multiple of 4,
 * and a group's lanes past the last tile): the same rows with a column
 * mask each, skipped when empty.  Scatters here cost the fashion CNN's
 * 14 x 14 layer, where every group has edge lanes, a third of its run. */
__attribute__((target("avx512f,avx512vl,fma,avx2"))) static void
store_part_avx512(const v16 *o, const wino_group_t *gi, float *yc,
                  int64_t ow) {
        __m512 c[16];

        tiles_t_avx512(o, c);
        for (int l = 0; l < LANES; l++) {
                float *p = yc + gi->out_off[l];
                const uint8_t *rc = gi->row_cols[l];
                /* (extract's lane must be an immediate) */
                if (rc[0])
                        _mm_mask_storeu_ps(p, rc[0],
                                           _mm512_extractf32x4_ps(c[l], 0));
                if (rc[1])
                        _mm_mask_storeu_ps(p + ow, rc[1],
                                           _mm512_extractf32x4_ps(c[l], 1));
                if (rc[2])
                        _mm_mask_storeu_ps(p + 2 * ow, rc[2],
                                           _mm512_extractf32x4_ps(c[l], 2));
                if (rc[3])
                        _mm_mask_storeu_ps(p + 3 * ow, rc[3],
                                           _mm512_extractf32x4_ps(c[l], 3));
        }
}

T_AVX512 static void out_avx512(const wino_job_t *j, const wino_group_t *gi,
                                const float *m, int64_t mstride,
                                int64_t mrow) {
        float *y0 = j->y + gi->img0 * j->img_out;
        __m512i base = _mm512_loadu_si512(gi->out_off);
        __m512i idx[16];
        v16 d[NPOS], o[16];

        for (int a = 0; a < 4; a++)
                for (int b = 0; b < 4; b++)
                        idx[a * 4 + b] = _mm512_add_epi32(
                                base, _mm512_set1_epi32((int)(a * j->ow + b)));
        for (int64_t co = 0; co < j->cout; co++) {
                float *yc = y0 + co * j->oh * j->ow;
                __m512 bv = _mm512_set1_ps(j->bias ? j->bias[co] : 0.0f);
                for (int xi = 0; xi < NPOS; xi++)
                        d[xi] = (v16)_mm512_load_ps(m + co * mrow +
                                                    xi * mstride);
                out_2d(d, o);
                if (j->act == SWARM_ACT_RELU) {
                        for (int q = 0; q < 16; q++)
                                o[q] = (v16)_mm512_max_ps(
                                        _mm512_add_ps((__m512)o[q], bv),
                                        _mm512_setzero_ps());
                } else {
                        for (int q = 0; q < 16; q++)
                                o[q] = (v16)_mm512_add_ps((__m512)o[q], bv);
                        if (j->act != SWARM_ACT_NONE)
                                exec_cpu_act_avx512(j->act, j->a, j->b,
                                                    (float *)o, 16 * LANES);
                }
                if (gi->full == 0xffff) {
                        store_tiles_avx512(o, gi, yc, j->ow);
                        continue;
                }
                if (j->vl) {
                        store_part_avx512(o, gi, yc, j->ow);
                        continue;
                }
                for (int q = 0; q < 16; q++)
                        _mm512_mask_i32scatter_ps(yc,
                                                  (__mmask16)gi->out_mask[q],
                                                  idx[q], (__m512)o[q], 4);
        }
}

static const wino_ops_t ops_avx512 = {in_avx512, gemm_avx512, out_avx512};
#endif

static void wino_part(void *arg, int part, int parts) {
        wino_job_t *j = arg;
        const wino_ops_t *ops = &ops_c;
        int64_t b0 = j->blocks * part / parts;
        int64_t b1 = j->blocks * (part + 1) / parts;
        int64_t cols = j->bg * LANES;
        int64_t vfl = NPOS * j->vstr, mfl = NPOS * j->mstr;
        float *v, *m;

#if WINO_X86
        if (j->p->isa == CPU_ISA_AVX512)
                ops = &ops_avx512;
        else if (j->p->isa == CPU_ISA_AVX2)
                ops = &ops_avx2;
#endif
        if (b0 >= b1)
                return;
        /* Sizes bounded by WINO_WS_FLOATS (plan_block). */
        v = aligned_alloc(64, (size_t)(vfl + mfl) * sizeof(float));
        if (!v) {
                __atomic_store_n(&j->oom, 1, __ATOMIC_RELAXED);
                return;
        }
        m = v + vfl;
        for (int64_t blk = b0; blk < b1; blk++) {
                int64_t g0 = blk * j->bg;
                int64_t ng = j->groups - g0 < j->bg ? j->groups - g0 : j->bg;
                /* Once per block for both transforms (bg <= WINO_MAX_BG) */
                wino_group_t gi[WINO_MAX_BG];
                for (int64_t g = 0; g < ng; g++) {
                        group_info(j, g0 + g, &gi[g]);
                        ops->in(j, &gi[g], v + g * j->cin * LANES, j->vstr);
                }
                ops->gemm(j, v, m, ng, j->bg);
                for (int64_t g = 0; g < ng; g++)
                        ops->out(j, &gi[g], m + g * LANES, j->mstr, cols);
        }
        free(v);
}

int cpu_wino_run(swarm_backend_t *be, const cpu_wino_t *p,
                 const swarm_window_t *w, int64_t imgs, const float *x,
                 const float *bias, swarm_act_t act, float alpha, float beta,
                 float *y, int64_t par_min, swarm_err_t *err) {
        wino_job_t j;
        int64_t per, macs, lanes, gfl;

        if (!p || !cpu_wino_window_ok(w, p->cout) || w->n != p->cin ||
            imgs < 0 || !cpu_wino_isa_ok(p->isa))
                return swarm_err_set(err, SWARM_ERR_BACKEND,
                                     "winograd: window does not match the "
                                     "packed filters");
        if (imgs == 0)
                return SWARM_OK;
        memset(&j, 0, sizeof(j));
        j.p = p;
        j.cin = p->cin;
        j.cout = p->cout;
        j.coutp = p->coutp;
        j.h = w->h;
        j.w = w->w;
        j.oh = w->oh;
        j.ow = w->ow;
        j.pad_t = w->pad_t;
        j.pad_l = w->pad_l;
        /* cpu_wino_window_ok bounded the per-image sizes. */
        j.th = (w->oh + 3) / 4;
        j.tw = (w->ow + 3) / 4;
        j.img_in = w->n * w->h * w->w;
        j.img_out = p->cout * w->oh * w->ow;
        per = j.th * j.tw;
        if (swarm_mul_i64(per, imgs, &j.tiles) ||
            swarm_mul_i64(j.tiles, NPOS, &macs) ||
            swarm_mul_i64(macs, p->cin, &macs) ||
            swarm_mul_i64(macs, p->cout, &macs))
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "winograd: %lld images overflow",
                                     (long long)imgs);
        j.groups = (j.tiles + LANES - 1) / LANES;
        /* Block: see WINO_L2_FLOATS; never more groups than a lane's
         * share, so that every lane gets a block. */
        gfl = NPOS * LANES * (p->cin + p->coutp);   /* one group's V + M */
        if (2 * gfl <= WINO_L2_FLOATS) {
                j.bg = WINO_L2_FLOATS / gfl;
        } else {
                j.bg = WINO_V_SLICE_FLOATS / (p->cin * LANES);
                if (j.bg > WINO_WS_FLOATS / gfl)
                        j.bg = WINO_WS_FLOATS / gfl;
        }
        if (j.bg > WINO_MAX_BG)
                j.bg = WINO_MAX_BG;
        lanes = be->threads > 1 && macs >= par_min
                ? be->threads : 1;
        if (j.bg > (j.groups + lanes - 1) / lanes)
                j.bg = (j.groups + lanes - 1) / lanes;
        if (j.bg < 2)
                j.bg = 2;
        j.blocks = (j.groups + j.bg - 1) / j.bg;
        j.vstr = j.bg * LANES * p->cin + LANES;
        j.mstr = j.bg * LANES * p->coutp + LANES;
        j.x = x;
        j.bias = bias;
        j.y = y;
        j.act = act;
        j.a = alpha;
        j.b = beta;
#if WINO_X86
        j.vl = __builtin_cpu_supports("avx512vl");
#endif
        exec_cpu_par_run(be, lanes > 1 && j.blocks > 1, wino_part, &j);
        if (j.oom)
                return swarm_err_set(err, SWARM_ERR_NOMEM,
                                     "winograd: out of memory for a "
                                     "workspace");
        return SWARM_OK;
}

/* Where Winograd beats the direct / packed kernels (AVX-512 only: the C
 * set is for tests and reference).  Measured with bench_wino (1 thread,
 * process CPU, min of 3; packed-path ms / Winograd ms, > 1: Winograd
 * faster): ResNet-18's 64x64 56x56 2.09 (batch 1) / 1.77 (16), 128x128
 * 28x28 2.26, 256x256 14x14 3.38, 512x512 7x7 0.60 / 1.13 (2) / 2.00 (4) /
 * 3.11 (16); the seg net's 64 -> 16 24x32 2.41 / 1.23; the fashion CNN's
 * 16 -> 32 14x14 2.09 / 1.69; 32x32 8x8 1.24.  Few channels lose (the
 * transforms are per channel, the products too short): 1 -> 16 28x28
 * 0.49, 4 -> 16 0.72, 8 -> 8 0.72-0.77.  Too few tiles lose too (each
 * group of 16 costs the same, and U, 4x the filters, is read whole):
 * 512x512 7x7 at batch 1 (4 tiles) 0.60, 128x128 4x4 (1 tile) 0.67 at
 * batch 1, 1.25 at 4: runs under WINO_MIN_TILES take the packed path. */
#define WINO_MIN_CIN 16
#define WINO_MIN_COUT 16
#define WINO_MIN_TILES 8

static int wino_worth(const swarm_window_t *w, int64_t cout) {
        if (cpu_gemm_best_isa() == CPU_ISA_C)
                return 0;
        return w->n >= WINO_MIN_CIN && cout >= WINO_MIN_COUT;
}

static int64_t tiles_per_img(const swarm_window_t *w) {
        return ((w->oh + 3) / 4) * ((w->ow + 3) / 4);
}

/* Few input channels (a first layer): the direct kernel of cpu_sconv.c,
 * under this entry so that the loader needs no new path.  Measured (1
 * thread, the fashion CNN's 1 -> 16 at 28 x 28, see bench/exec/README.md)
 * against im2col + OpenBLAS, which these windows took before. */
static int sconv_pack(cpu_isa_t isa, const swarm_window_t *w, int64_t cout,
                      const void *filt, void **packed, size_t *bytes,
                      swarm_err_t *err) {
        cpu_wino_t *p = calloc(1, sizeof(*p));
        int rc;

        if (!p)
                return swarm_err_set(err, SWARM_ERR_NOMEM,
                                     "sconv: out of memory");
        rc = cpu_sconv_pack(isa, cout, w->n, filt, &p->sconv, err);
        if (rc) {
                free(p);
                return rc;
        }
        p->isa = isa;
        p->cin = w->n;
        p->cout = cout;
        *packed = p;
        *bytes = sizeof(*p) + p->sconv->bytes;
        return SWARM_OK;
}

/* The direct kernel, with AVX-512 or AVX2, for every window it takes (the
 * portable one is for tests only).  On AVX2 (Zen 3, 1 thread,
 * bench/exec/README.md) the 3-channel stride-2 stems went faster
 * (MobileNetV3's 1.41 -> 0.94 ms at batch 1), while the fashion CNN's
 * 1 -> 16 at 28 x 28 alone was 5-10% slower than im2col + OpenBLAS (9
 * taps: the epilogue is a large share of a tile).  It is taken there too:
 * both kernel sets accumulate the taps in the same order, so the layer
 * gives the AVX-512 machines' values, and with the im2col rounding in
 * front of the AVX2 Winograd layer one of the 100,000 fashion CNN
 * probabilities came out 1.08e-5 from the trainer's (the test allows
 * 1e-5; it is within it with this kernel, as on AVX-512). */
static int sconv_worth(const swarm_window_t *w, int64_t cout) {
        return cpu_sconv_window_ok(w, cout) &&
               cpu_gemm_best_isa() != CPU_ISA_C;
}

int exec_cpu_conv_wino_pack(swarm_backend_t *be, const swarm_window_t *w,
                            int64_t cout, const void *filt, void **packed,
                            size_t *bytes, swarm_err_t *err) {
        cpu_wino_t *p;
        int rc;

        *packed = NULL;
        *bytes = 0;
        if (sconv_worth(w, cout))
                return sconv_pack(cpu_gemm_best_isa(), w, cout, filt, packed,
                                  bytes, err);
        if (!cpu_wino_window_ok(w, cout) || !wino_worth(w, cout))
                return SWARM_OK;
        rc = cpu_wino_pack(cpu_gemm_best_isa(), cout, w->n, filt, &p, err);
        if (rc)
                return rc;
        /* cpu_wino_pack checked cout * cin * 36 floats: k = cin * 9 fits. */
        if (tiles_per_img(w) < WINO_MIN_TILES &&
            (rc = be->gemm_pack(be, 0, 0, 1, cout, w->n * 9, filt, w->n * 9,
                                &p->small, &p->small_bytes, err))) {
                cpu_wino_free(p);
                return rc;
        }
        *packed = p;
        *bytes = p->bytes + p->small_bytes + sizeof(*p);
        return SWARM_OK;
}

int exec_cpu_conv_wino(swarm_backend_t *be, const swarm_window_t *w,
                       int64_t imgs, int64_t cout, const void *packed,
                       const void *x, const void *bias, swarm_act_t act,
                       float alpha, float beta, void *y, swarm_err_t *err) {
        const cpu_wino_t *p = packed;
        int64_t tpi = tiles_per_img(w);

        if (!p || p->cout != cout)
                return swarm_err_set(err, SWARM_ERR_BACKEND,
                                     "winograd: filters do not match");
        if (p->sconv)
                return cpu_sconv_run(be, p->sconv, w, imgs, x, bias, act,
                                     alpha, beta, y, EXEC_CPU_PAR_MIN_MACS,
                                     err);
        if (p->small && tpi > 0 && imgs >= 0 &&
            imgs < (WINO_MIN_TILES + tpi - 1) / tpi)
                return be->conv_packed(be, w, imgs, 1, cout, p->small, x,
                                       bias, act, alpha, beta, y, err);
        return cpu_wino_run(be, p, w, imgs, x, bias, act, alpha, beta, y,
                            EXEC_CPU_PAR_MIN_MACS, err);
}

void exec_cpu_conv_wino_free(swarm_backend_t *be, void *packed) {
        cpu_wino_t *p = packed;

        if (p && p->small)
                be->gemm_pack_free(be, p->small);
        cpu_wino_free(p);
}
