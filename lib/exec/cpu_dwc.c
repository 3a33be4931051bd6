/*
 * cpu_dwc.c - depthwise convolution on blocks of 16 channels (see
 * cpu_dwc.h).
 *
 * cpu_dw.c's plane kernel vectorises along a plane's wide rows: on the 7
 * x 7 and 14 x 14 planes of the mobile nets' last layers most of its
 * vectors straddle rows or hold dropped columns, every tap is an unaligned
 * load (a split line one time in four, which Zen 4 pays twice), and at
 * stride 2 it first deals the plane into four phases.  MobileNetV3-small
 * at batch 1 spent 781 us of 3.17 ms there, onnxruntime 461 (its NCHWc
 * kernels).  Here the vector runs across 16 channels instead: each block
 * of 16 planes is transposed once into a zero-padded buffer of pixels
 * P[ph][pw][16], and output pixel (oy, ox) is sum_t wb[t] * P[oy * sh + ky
 * * dh][ox * sw + kx * dw] over the taps t = (ky, kx): one aligned load
 * and one FMA per tap whatever the plane's width, stride or dilation, the
 * 16 weights of a tap loaded once for a run of up to 8 outputs of a row.
 * The outputs go to a buffer Y[oh * ow][16], and are transposed back into
 * the block's planes with the activation on the registers.
 *
 * The transposes cost two passes over the block's planes that the plane
 * kernel does not make, so this path is for planes whose padded buffer
 * stays in L2 (DWC_PX_MAX); the 56 x 56 and 112 x 112 planes of the first
 * layers stay on cpu_dw.c's, where the plane kernel's vectors are full.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_act.h"
#include "cpu_dwc.h"
#include "cpu_par.h"
#include "cpu_xpose.h"
#include "scalar_ops.h"
#include "swarm/tensor.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define DWC_X86 1
#include <immintrin.h>
#else
#define DWC_X86 0
#endif

/* Pixels of the padded plane (and of the output plane) past which a
 * window stays on cpu_dw.c: 3600 pixels of 16 floats are 225 KiB, P and
 * Y together under half of Zen 4's 1 MiB L2 with the next block's planes
 * streaming in.  It takes EfficientNet-B0's 56 x 56 planes (58 x 58 and
 * 60 x 60 padded); at 112 x 112 the 16-channel kernel ran 0.97-1.04x the
 * plane kernel's time (1 and 4 images, /tmp driver of session 13): no
 * gain for the extra buffer. */
#define DWC_PX_MAX ((int64_t)3600)
/* Taps per filter (a 16 x 16 kernel), as cpu_dw.c's fast path. */
#define DWC_TAPS_MAX 256
/* Outputs of a row per run (accumulators in registers). */
#define DWC_RUN 8
/* Lanes: channels per block. */
#define DWC_L 16

int exec_cpu_dwc_fits(cpu_isa_t isa, const swarm_window_t *w,
                      int64_t channels) {
        int64_t ph, pw;

        /* w->n counts planes: whole images of `channels` each; and never
         * on a CPU without AVX-512, whatever the caller asks */
        if (!DWC_X86 || isa != CPU_ISA_AVX512 || !cpu_gemm_isa_ok(isa) ||
            channels < 1 || w->n % channels != 0)
                return 0;
        if (w->n < 1 || w->kh < 1 || w->kw < 1 || w->sh < 1 || w->sw < 1 ||
            w->dh < 1 || w->dw < 1 || w->h < 1 || w->w < 1 || w->oh < 1 ||
            w->ow < 1 || w->pad_t < 0 || w->pad_l < 0 || w->pad_b < 0 ||
            w->pad_r < 0)
                return 0;
        /* Each term below DWC_PX_MAX before any sum or product: the sums
         * stay below 5 * DWC_PX_MAX, the products below DWC_PX_MAX^2. */
        if (w->h > DWC_PX_MAX || w->w > DWC_PX_MAX ||
            w->pad_t > DWC_PX_MAX || w->pad_b > DWC_PX_MAX ||
            w->pad_l > DWC_PX_MAX || w->pad_r > DWC_PX_MAX)
                return 0;
        ph = w->h + w->pad_t + w->pad_b;
        pw = w->w + w->pad_l + w->pad_r;
        if (ph * pw > DWC_PX_MAX || w->oh > ph || w->ow > pw ||
            w->oh * w->ow > DWC_PX_MAX || w->kh > ph || w->kw > pw ||
            w->kh * w->kw > DWC_TAPS_MAX || w->sh > ph || w->sw > pw ||
            w->dh > ph || w->dw > pw)
                return 0;
        /* The last output's last tap inside the padded plane. */
        return (w->oh - 1) * w->sh + (w->kh - 1) * w->dh < ph &&
               (w->ow - 1) * w->sw + (w->kw - 1) * w->dw < pw;
}

#if DWC_X86

typedef struct dwc_job {
        const swarm_window_t *w;
        int64_t ch, blocks;             /* channels, blocks per image */
        int64_t ph, pw;
        const float *x, *filt, *bias;
        swarm_act_t act;
        float a, b;
        float *y;
        int64_t toff[DWC_TAPS_MAX];     /* tap t's offset in P, floats */
        int oom;
} dwc_job_t;

/* The 16 x 16 transpose: r[i] element j becomes r[j] element i.  The 4 x
 * 4 blocks of each half (cpu_xpose.h), then the 128-bit blocks across
 * the halves: 64 shuffles. */
static inline __attribute__((target("avx512f"), always_inline)) void
dwc_xpose16(__m512 *r) {
        __m512 u[16];

        exec_xpose4x4_blocks512(r, u);
        exec_xpose4x4_blocks512(r + 8, u + 8);
        /* u[c] block b: element 4b + c of rows 0-3; u[4 + c]: rows 4-7;
         * u[8 + c]: rows 8-11; u[12 + c]: rows 12-15. */
        for (int c = 0; c < 4; c++) {
                __m512 s0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x44);
                __m512 s1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xee);
                __m512 s2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x44);
                __m512 s3 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xee);
                r[c] = _mm512_shuffle_f32x4(s0, s2, 0x88);
                r[4 + c] = _mm512_shuffle_f32x4(s0, s2, 0xdd);
                r[8 + c] = _mm512_shuffle_f32x4(s1, s3, 0x88);
                r[12 + c] = _mm512_shuffle_f32x4(s1, s3, 0xdd);
        }
}

/* nc planes of h * w (the block's, xb the first) into P's interior: 16
 * pixels of the flattened plane at a time, one row load per channel (the
 * missing channels zero, so their lanes stay finite), transposed, each
 * pixel to its padded place.  The border is zero from dwc_part. */
__attribute__((target("avx512f")))
static void dwc_fill(const dwc_job_t *j, const float *xb, int64_t nc,
                     float *P) {
        const swarm_window_t *w = j->w;
        int64_t hw = w->h * w->w, iy = 0, ix = 0;

        for (int64_t p = 0; p < hw; p += DWC_L) {
                int64_t m = hw - p < DWC_L ? hw - p : DWC_L;
                __mmask16 mk = (__mmask16)((1u << m) - 1u);
                __m512 r[DWC_L];

                for (int l = 0; l < DWC_L; l++)
                        r[l] = l < nc ? _mm512_maskz_loadu_ps(
                                                mk, xb + l * hw + p)
                                      : _mm512_setzero_ps();
                dwc_xpose16(r);
                for (int64_t k = 0; k < m; k++) {
                        _mm512_store_ps(P + ((iy + w->pad_t) * j->pw + ix +
                                             w->pad_l) * DWC_L, r[k]);
                        if (++ix == w->w) {
                                ix = 0;
                                iy++;
                        }
                }
        }
}

/* R outputs of a row, sw * 16 floats apart in P from s0: the taps in
 * raster order from the bias, by FMA (cpu_dw.c's order). */
static inline __attribute__((target("avx512f"), always_inline)) void
dwc_run(int R, const float *s0, int64_t step, const int64_t *toff,
        const float *wb, int64_t taps, __m512 vb, float *yo) {
        __m512 a[DWC_RUN];

#pragma GCC unroll 8
        for (int r = 0; r < DWC_RUN; r++)
                a[r] = vb;
        for (int64_t t = 0; t < taps; t++) {
                const float *s = s0 + toff[t];
                __m512 wv = _mm512_load_ps(wb + t * DWC_L);
#pragma GCC unroll 8
                for (int r = 0; r < DWC_RUN; r++)
                        if (r < R)
                                a[r] = _mm512_fmadd_ps(
                                        wv, _mm512_load_ps(s + r * step),
                                        a[r]);
        }
#pragma GCC unroll 8
        for (int r = 0; r < DWC_RUN; r++)
                if (r < R)
                        _mm512_store_ps(yo + r * DWC_L, a[r]);
}

#define DWC_RUN_FN(R)                                                     \
        __attribute__((target("avx512f"))) static void dwc_run_##R(       \
                const float *s0, int64_t step, const int64_t *toff,       \
                const float *wb, int64_t taps, __m512 vb, float *yo) {    \
                dwc_run(R, s0, step, toff, wb, taps, vb, yo);             \
        }
DWC_RUN_FN(1) DWC_RUN_FN(2) DWC_RUN_FN(3) DWC_RUN_FN(4)
DWC_RUN_FN(5) DWC_RUN_FN(6) DWC_RUN_FN(7) DWC_RUN_FN(8)

typedef void (*dwc_run_fn_t)(const float *, int64_t, const int64_t *,
                             const float *, int64_t, __m512, float *);

/* Every output of the block into Y: each row in runs of nearly equal
 * length (a 14-wide row as 7 + 7, not 8 + 6).  pf: the next block's
 * planes (NULL for a part's last), pf_lines cache lines of them asked
 * into L2 a share per row, as cpu_dw.c's fused kernel does: past batch 1
 * the planes come from L3 or DRAM, and the fill's 16 streams at once
 * outran the hardware prefetcher (8 images of 480 channels 14 x 14, 3 x
 * 3: 1.2x the plane kernel's time without this). */
__attribute__((target("avx512f")))
static void dwc_taps(const dwc_job_t *j, const float *P, const float *wb,
                     __m512 vb, float *Y, const char *pf,
                     int64_t pf_lines) {
        static const dwc_run_fn_t fn[DWC_RUN + 1] = {
                NULL, dwc_run_1, dwc_run_2, dwc_run_3, dwc_run_4,
                dwc_run_5, dwc_run_6, dwc_run_7, dwc_run_8};
        const swarm_window_t *w = j->w;
        int64_t taps = w->kh * w->kw, step = w->sw * DWC_L;
        int64_t runs = (w->ow + DWC_RUN - 1) / DWC_RUN;
        int64_t per = pf ? (pf_lines + w->oh - 1) / w->oh : 0, l = 0;

        for (int64_t oy = 0; oy < w->oh; oy++) {
                const float *row = P + oy * w->sh * j->pw * DWC_L;
                float *yr = Y + oy * w->ow * DWC_L;
                int64_t ox = 0;

                for (int64_t e = l + per < pf_lines ? l + per : pf_lines;
                     l < e; l++)
                        _mm_prefetch(pf + 64 * l, _MM_HINT_T1);

                for (int64_t k = 0; k < runs; k++) {
                        int64_t end = w->ow * (k + 1) / runs;
                        fn[end - ox](row + ox * step, step, j->toff, wb,
                                     taps, vb, yr + ox * DWC_L);
                        ox = end;
                }
        }
}

/* Y's pixels back into the block's nc planes (yb the first), 16 pixels
 * at a time, the activation on each channel's vector before its store
 * (ACT a constant in each caller, so the switch folds away). */
static inline __attribute__((target("avx512f"), always_inline)) void
dwc_out(swarm_act_t ACT, const dwc_job_t *j, const float *Y, int64_t nc,
        float *yb) {
        int64_t ohw = j->w->oh * j->w->ow;
        __m512 va = _mm512_set1_ps(j->a), vbt = _mm512_set1_ps(j->b);

        for (int64_t p = 0; p < ohw; p += DWC_L) {
                int64_t m = ohw - p < DWC_L ? ohw - p : DWC_L;
                __mmask16 mk = (__mmask16)((1u << m) - 1u);
                __m512 r[DWC_L];

                /* Y has room for whole groups of 16 pixels: the rows past
                 * ohw are stale, and land in lanes the masks drop. */
                for (int k = 0; k < DWC_L; k++)
                        r[k] = _mm512_load_ps(Y + (p + k) * DWC_L);
                dwc_xpose16(r);
                for (int l = 0; l < DWC_L; l++)
                        if (l < nc)
                                _mm512_mask_storeu_ps(
                                        yb + l * ohw + p, mk,
                                        exec_act_vec512(ACT, r[l], va, vbt));
        }
}

__attribute__((target("avx512f")))
static void dwc_out_act(const dwc_job_t *j, const float *Y, int64_t nc,
                        float *yb) {
        switch (j->act) {
        case SWARM_ACT_RELU: dwc_out(SWARM_ACT_RELU, j, Y, nc, yb); break;
        case SWARM_ACT_CLIP: dwc_out(SWARM_ACT_CLIP, j, Y, nc, yb); break;
        case SWARM_ACT_LEAKY_RELU:
                dwc_out(SWARM_ACT_LEAKY_RELU, j, Y, nc, yb);
                break;
        case SWARM_ACT_HARDSIGMOID:
                dwc_out(SWARM_ACT_HARDSIGMOID, j, Y, nc, yb);
                break;
        case SWARM_ACT_HARDSWISH:
                dwc_out(SWARM_ACT_HARDSWISH, j, Y, nc, yb);
                break;
        case SWARM_ACT_SIGMOID:
                dwc_out(SWARM_ACT_SIGMOID, j, Y, nc, yb);
                break;
        case SWARM_ACT_SILU: dwc_out(SWARM_ACT_SILU, j, Y, nc, yb); break;
        default:
                /* NONE, and those exec_act_vec512 does not compute: the
                 * caller runs them over the planes afterwards */
                dwc_out(SWARM_ACT_NONE, j, Y, nc, yb);
                if (j->act != SWARM_ACT_NONE)
                        exec_cpu_act_avx512(j->act, j->a, j->b, yb,
                                            nc * j->w->oh * j->w->ow);
                break;
        }
}

/* Blocks [u0, u1) of all images' blocks, with one P, Y and weight buffer
 * for the part. */
__attribute__((target("avx512f")))
static void dwc_part(void *p, int part, int parts) {
        dwc_job_t *j = p;
        const swarm_window_t *w = j->w;
        int64_t units = w->n / j->ch * j->blocks, u0, u1;
        int64_t taps = w->kh * w->kw;
        int64_t hw = w->h * w->w, ohw = w->oh * w->ow;
        int64_t pn = j->ph * j->pw * DWC_L;
        /* whole groups of 16 pixels, for dwc_out's loads */
        int64_t yn = (ohw + DWC_L - 1) / DWC_L * DWC_L * DWC_L;
        int64_t wn = taps * DWC_L, cb = -1;
        float *P, *Y, *wb;
        __m512 vb = _mm512_setzero_ps();

        u0 = units * part / parts;
        u1 = units * (part + 1) / parts;
        if (u0 >= u1)
                return;
        P = aligned_alloc(64, (size_t)(pn + yn + wn) * sizeof(float));
        if (!P) {
                __atomic_store_n(&j->oom, 1, __ATOMIC_RELAXED);
                return;
        }
        Y = P + pn;
        wb = Y + yn;
        /* The border stays zero: dwc_fill writes only the interior. */
        memset(P, 0, (size_t)pn * sizeof(float));
        memset(Y, 0, (size_t)yn * sizeof(float));
        for (int64_t u = u0; u < u1; u++) {
                int64_t img = u / j->blocks, b = u % j->blocks;
                int64_t c0 = b * DWC_L;
                int64_t nc = j->ch - c0 < DWC_L ? j->ch - c0 : DWC_L;
                const float *xb = j->x + (img * j->ch + c0) * hw;
                float *yb = j->y + (img * j->ch + c0) * ohw;

                if (b != cb) {
                        /* the block's filters, tap-major, 0 past nc */
                        float bv[DWC_L] = {0};
                        for (int64_t t = 0; t < taps; t++)
                                for (int64_t l = 0; l < DWC_L; l++)
                                        wb[t * DWC_L + l] =
                                                l < nc ? j->filt[(c0 + l) *
                                                                 taps + t]
                                                       : 0.0f;
                        for (int64_t l = 0; l < nc && j->bias; l++)
                                bv[l] = j->bias[c0 + l];
                        vb = _mm512_loadu_ps(bv);
                        cb = b;
                }
                /* the next block's planes follow this one's in x (the
                 * next image's first block after an image's last) */
                int64_t nnc = u + 1 < u1 ? (b + 1 < j->blocks
                                            ? (j->ch - c0 - DWC_L < DWC_L
                                               ? j->ch - c0 - DWC_L : DWC_L)
                                            : (j->ch < DWC_L ? j->ch
                                                             : DWC_L))
                                         : 0;
                dwc_fill(j, xb, nc, P);
                dwc_taps(j, P, wb, vb, Y,
                         nnc ? (const char *)(xb + nc * hw) : NULL,
                         (nnc * hw * (int64_t)sizeof(float) + 63) / 64);
                dwc_out_act(j, Y, nc, yb);
        }
        free(P);
}

int exec_cpu_dwc(swarm_backend_t *be, cpu_isa_t isa,
                 const swarm_window_t *w, int64_t channels, const float *x,
                 const float *filt, const float *bias, swarm_act_t act,
                 float alpha, float beta, float *y, swarm_err_t *err) {
        dwc_job_t *j;
        int64_t macs, units;
        int rc = SWARM_OK;

        if (!exec_cpu_dwc_fits(isa, w, channels) ||
            !cpu_gemm_isa_ok(isa))
                return swarm_err_set(err, SWARM_ERR_BACKEND,
                                     "cpu: depthwise: window not for the "
                                     "16-channel kernel");
        j = malloc(sizeof(*j));
        if (!j)
                return swarm_err_set(err, SWARM_ERR_NOMEM,
                                     "cpu: depthwise: out of memory");
        memset(j, 0, sizeof(*j));
        j->w = w;
        j->ch = channels;
        j->blocks = (channels + DWC_L - 1) / DWC_L;
        j->ph = w->h + w->pad_t + w->pad_b;
        j->pw = w->w + w->pad_l + w->pad_r;
        j->x = x;
        j->filt = filt;
        j->bias = bias;
        j->act = act;
        j->a = alpha;
        j->b = beta;
        j->y = y;
        for (int64_t ky = 0; ky < w->kh; ky++)
                for (int64_t kx = 0; kx < w->kw; kx++)
                        j->toff[ky * w->kw + kx] =
                                (ky * w->dh * j->pw + kx * w->dw) * DWC_L;
        /* Saturating: only compared with the pool's bound.  The window's
         * planes fit (exec_cpu_dwc_fits), so oh * ow and the taps are
         * small; the planes w->n are the caller's tensor's. */
        units = w->n / channels * j->blocks;
        if (swarm_mul_i64(w->n, w->oh * w->ow, &macs) ||
            swarm_mul_i64(macs, w->kh * w->kw, &macs))
                macs = INT64_MAX;
        exec_cpu_par_run(be, macs >= EXEC_CPU_PAR_MIN_ELEMS &&
                                     units >= be->threads,
                         dwc_part, j);
        if (j->oom)
                rc = swarm_err_set(err, SWARM_ERR_NOMEM,
                                   "cpu: depthwise: out of memory");
        free(j);
        return rc;
}

#else /* !DWC_X86 */

int exec_cpu_dwc(swarm_backend_t *be, cpu_isa_t isa,
                 const swarm_window_t *w, int64_t channels, const float *x,
                 const float *filt, const float *bias, swarm_act_t act,
                 float alpha, float beta, float *y, swarm_err_t *err) {
        (void)be; (void)isa; (void)w; (void)channels; (void)x; (void)filt;
        (void)bias; (void)act; (void)alpha; (void)beta; (void)y;
        return swarm_err_set(err, SWARM_ERR_BACKEND,
                             "cpu: depthwise: no 16-channel kernel here");
}

#endif
