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
 * while it is in cache, before the rows are copied out.
 *
 * Other strides, stride 2 with dilation, more than DW_TAPS_MAX taps and
 * padded planes past DW_PAD_MAX floats (hostile pads) take a path with no
 * copy that clips each tap to its valid columns.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_act.h"
#include "cpu_dw.h"
#include "cpu_par.h"
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
DW_PLANE(avx512, __attribute__((target("avx512f"))), cp_avx512, taps_avx512,
         exec_cpu_act_avx512)
DW_PLANE(avx2, __attribute__((target("avx2,fma"))), cp_avx2, taps_avx2,
         exec_cpu_act_avx2)
#endif

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
                plane_fn = plane_avx512;
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
        acc = malloc((size_t)(w->oh * wd + DW_SLACK) * sizeof(float));
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
