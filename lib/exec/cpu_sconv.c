/*
 * cpu_sconv.c - direct 3x3 convolution, stride 1 or 2, for 1-4 input
 * channels (cpu_sconv.h).
 *
 * One part takes a range of output rows of the whole batch.  For each
 * image it meets, it copies the image's channels into a zero-bordered
 * buffer (rows ws floats apart, ws covering the widest vector load), so
 * every tap is a plain unaligned load with no bounds check; each output
 * row is then computed 8 output channels at a time, 32 (or, at a row's
 * end, 16) columns at a time: 8 x 2 accumulators, for each of the
 * cin x 9 taps two input loads, 8 filter broadcasts, 16 FMAs.  Bias and
 * activation are applied before the (masked) stores.
 *
 * Stride 2 (the stems of MobileNet, EfficientNet and RegNet) keeps every
 * tap a plain load too: each padded row is dealt into its even and odd
 * columns (two phase rows of ws floats), so output column ox reads tap
 * kx = 0 at even[ox], 1 at odd[ox] and 2 at even[ox + 1].  Before, these
 * layers went to the packed GEMM with K = 27: its B panels are copied out
 * of the image with stride 2, and the layer ran at a third of the FMA
 * peak (bench/exec/README.md).
 */
#include <stdlib.h>
#include <string.h>

#include "cpu_sconv.h"
#include "cpu_act.h"
#include "cpu_par.h"
#include "cpu_xpose.h"
#include "swarm/tensor.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define SCONV_X86 1
#include <immintrin.h>
#include "cpu_lanes.h"
#define T_AVX512 __attribute__((target("avx512f,fma,avx2")))
#define T_AVX2 __attribute__((target("avx2,fma")))
#else
#define SCONV_X86 0
#endif

#define MR 8            /* output channels per packed sliver */
#define NTAP 9

/* Padded geometry: phase rows of ws floats (the 32-column loads of the
 * last block, shifted by up to 2, stay in the row; a padded row of
 * ow + 2 (stride 1) or 2 * ow + 2 columns (stride 2: ow + 1 per phase)
 * fits), sw phase rows per padded row, hp padded rows per channel, buf
 * floats in all with a vector of slack.  Non-zero on overflow. */
static int geometry(const swarm_window_t *w, int64_t *ws, int64_t *hp,
                    int64_t *buf) {
        if (swarm_add_i64(w->ow, 31, ws))
                return 1;
        *ws = *ws / 32 * 32 + 2;
        return swarm_add_i64(w->h, w->pad_t + w->pad_b, hp) ||
               swarm_mul_i64(*hp, *ws, buf) ||
               swarm_mul_i64(*buf, w->sw, buf) ||
               swarm_mul_i64(*buf, w->n, buf) ||
               swarm_add_i64(*buf, 32, buf);
}

int cpu_sconv_window_ok(const swarm_window_t *w, int64_t cout) {
        int64_t ws, hp, buf, img, oimg;

        if (w->kh != 3 || w->kw != 3 || w->sh != w->sw || w->sh < 1 ||
            w->sh > 2 || w->dh != 1 || w->dw != 1 || w->n < 1 ||
            w->n > CPU_SCONV_MAX_CIN || cout < 1 || w->h < 1 || w->w < 1 ||
            w->pad_t < 0 || w->pad_l < 0 || w->pad_b < 0 || w->pad_r < 0 ||
            w->pad_t > 2 || w->pad_l > 2 || w->pad_b > 2 || w->pad_r > 2 ||
            w->h > INT32_MAX || w->w > INT32_MAX)
                return 0;
        /* pads <= 2 and sizes <= INT32_MAX: no overflow here */
        if (w->h + w->pad_t + w->pad_b < 3 || w->w + w->pad_l + w->pad_r < 3 ||
            w->oh != (w->h + w->pad_t + w->pad_b - 3) / w->sh + 1 ||
            w->ow != (w->w + w->pad_l + w->pad_r - 3) / w->sw + 1)
                return 0;
        return !geometry(w, &ws, &hp, &buf) &&
               !swarm_mul_i64(w->n, w->h, &img) &&
               !swarm_mul_i64(img, w->w, &img) &&
               !swarm_mul_i64(cout, w->oh, &oimg) &&
               !swarm_mul_i64(oimg, w->ow, &oimg) &&
               (uint64_t)buf <= SIZE_MAX / sizeof(float);
}

int cpu_sconv_isa_ok(cpu_isa_t isa) {
        return (int)isa >= 0 && isa < CPU_ISA_COUNT &&
               (isa == CPU_ISA_C || (SCONV_X86 && cpu_gemm_isa_ok(isa)));
}

int cpu_sconv_pack(cpu_isa_t isa, int64_t cout, int64_t cin, const float *w,
                   cpu_sconv_t **out, swarm_err_t *err) {
        cpu_sconv_t *p;
        int64_t coutp, floats;

        *out = NULL;
        if (!cpu_sconv_isa_ok(isa))
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "sconv: kernel set %d not available",
                                     (int)isa);
        if (cout < 1 || cin < 1 || cin > CPU_SCONV_MAX_CIN || !w ||
            swarm_add_i64(cout, MR - 1, &coutp) ||
            swarm_mul_i64(coutp / MR * MR, cin * NTAP, &floats) ||
            (uint64_t)floats > SIZE_MAX / sizeof(float) - 16)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "sconv: bad filters (%lld x %lld)",
                                     (long long)cout, (long long)cin);
        coutp = coutp / MR * MR;
        p = calloc(1, sizeof(*p));
        if (!p)
                return swarm_err_set(err, SWARM_ERR_NOMEM,
                                     "sconv: out of memory");
        p->bytes = (size_t)floats * sizeof(float);
        p->f = calloc((size_t)floats, sizeof(float));
        if (!p->f) {
                free(p);
                return swarm_err_set(err, SWARM_ERR_NOMEM,
                                     "sconv: out of memory for %zu bytes "
                                     "of filters", (size_t)floats * 4);
        }
        p->isa = isa;
        p->cin = cin;
        p->cout = cout;
        p->coutp = coutp;
        for (int64_t co = 0; co < cout; co++)
                for (int64_t ci = 0; ci < cin; ci++)
                        for (int t = 0; t < NTAP; t++)
                                p->f[((co / MR * cin + ci) * NTAP + t) * MR +
                                     co % MR] = w[(co * cin + ci) * NTAP + t];
        *out = p;
        return SWARM_OK;
}

void cpu_sconv_free(cpu_sconv_t *p) {
        if (!p)
                return;
        free(p->f);
        free(p);
}

typedef struct sconv_job {
        const cpu_sconv_t *p;
        const swarm_window_t *w;
        int64_t rows;           /* imgs * oh */
        int64_t ws, hp, buf;    /* padded geometry (geometry()) */
        const float *x, *bias;
        float *y;
        swarm_act_t act;
        float a, b;
        int oom;
} sconv_job_t;

/* Phase row of padded row py of channel ci, and where tap (ky, kx) of
 * output (oy, ox) reads in it. */
static inline const float *tap_at(const sconv_job_t *j, const float *t,
                                  int64_t ci, int64_t oy, int64_t ox,
                                  int ky, int kx, int sw) {
        int64_t py = oy * sw + ky;
        return t + ((ci * j->hp + py) * sw + kx % sw) * j->ws + ox + kx / sw;
}

/* Deal n floats of src into e (even indices) and o (odd ones). */
static void deal_c(const float *src, int64_t n, float *e, float *o) {
        for (int64_t i = 0; i + 1 < n; i += 2) {
                e[i / 2] = src[i];
                o[i / 2] = src[i + 1];
        }
        if (n & 1)
                e[n / 2] = src[n - 1];
}

#if SCONV_X86
T_AVX512 static void deal_512(const float *src, int64_t n, float *e,
                              float *o) {
        int64_t i = 0;

        for (; i + 32 <= n; i += 32) {
                __m512 ve, vo;
                exec_deal512(_mm512_loadu_ps(src + i),
                             _mm512_loadu_ps(src + i + 16), &ve, &vo);
                _mm512_storeu_ps(e + i / 2, ve);
                _mm512_storeu_ps(o + i / 2, vo);
        }
        deal_c(src + i, n - i, e + i / 2, o + i / 2);
}
#endif

/* Copy image img's channels into the zeroed buffer t (stride 2: each row
 * dealt into its two phase rows; padded column pc = ix + pad_l goes to
 * phase pc % 2 at pc / 2). */
static void pad_image(const sconv_job_t *j, int64_t img, float *t) {
        const swarm_window_t *w = j->w;
        const float *xi = j->x + img * w->n * w->h * w->w;

        for (int64_t ci = 0; ci < w->n; ci++)
                for (int64_t iy = 0; iy < w->h; iy++) {
                        const float *src = xi + (ci * w->h + iy) * w->w;
                        float *row = t + (ci * j->hp + iy + w->pad_t) *
                                                 w->sw * j->ws;
                        float *ev, *od;
                        if (w->sw == 1) {
                                memcpy(row + w->pad_l, src,
                                       (size_t)w->w * sizeof(float));
                                continue;
                        }
                        /* the phase that takes src[0], and the other */
                        ev = row + (w->pad_l & 1) * j->ws + w->pad_l / 2;
                        od = row + (1 - (w->pad_l & 1)) * j->ws +
                             (w->pad_l + 1) / 2;
#if SCONV_X86
                        if (j->p->isa == CPU_ISA_AVX512) {
                                deal_512(src, w->w, ev, od);
                                continue;
                        }
#endif
                        deal_c(src, w->w, ev, od);
                }
}

/* Output row oy of one image, portable: the reference set. */
static void row_c(const sconv_job_t *j, const float *t, int64_t img,
                  int64_t oy) {
        const swarm_window_t *w = j->w;
        const cpu_sconv_t *p = j->p;

        for (int64_t co = 0; co < p->cout; co++) {
                float *yr = j->y + ((img * p->cout + co) * w->oh + oy) * w->ow;
                const float *f = p->f + co / MR * p->cin * NTAP * MR + co % MR;
                float bv = j->bias ? j->bias[co] : 0.0f;
                for (int64_t ox = 0; ox < w->ow; ox++) {
                        float acc = 0.0f;
                        for (int64_t ci = 0; ci < p->cin; ci++)
                                for (int k = 0; k < NTAP; k++)
                                        acc += f[(ci * NTAP + k) * MR] *
                                               *tap_at(j, t, ci, oy, ox,
                                                       k / 3, k % 3,
                                                       (int)w->sw);
                        yr[ox] = acc + bv;
                }
                exec_act_span_inl(j->act, j->a, j->b, yr, w->ow);
        }
}

#if SCONV_X86
/* 8 channels (sliver s) x nv vectors of 16 columns from ox; nv and the
 * stride sw are constants at each call (always inlined). */
T_AVX512 static inline __attribute__((always_inline)) void
tile_512(const sconv_job_t *j, const float *t, int64_t img, int64_t oy,
         int64_t s, int64_t ox, int nv, int sw) {
        const swarm_window_t *w = j->w;
        const cpu_sconv_t *p = j->p;
        const float *f = p->f + s * p->cin * NTAP * MR;
        int64_t left = w->ow - ox;
        __mmask16 k0 = left >= 16 ? (__mmask16)0xffff
                                  : (__mmask16)((1u << left) - 1u);
        __mmask16 k1 = left >= 32 ? (__mmask16)0xffff
                       : left <= 16 ? (__mmask16)0
                                    : (__mmask16)((1u << (left - 16)) - 1u);
        __m512 c[MR][2];

        for (int r = 0; r < MR; r++)
                c[r][0] = c[r][1] = _mm512_setzero_ps();
        for (int64_t ci = 0; ci < p->cin; ci++)
                for (int ky = 0; ky < 3; ky++) {
                        for (int kx = 0; kx < 3; kx++) {
                                const float *q = tap_at(j, t, ci, oy, ox, ky,
                                                        kx, sw);
                                const float *fr =
                                        f + (ci * NTAP + ky * 3 + kx) * MR;
                                __m512 v0 = _mm512_loadu_ps(q);
                                __m512 v1 = nv > 1 ? _mm512_loadu_ps(q + 16)
                                                   : v0;
                                for (int r = 0; r < MR; r++) {
                                        __m512 a = _mm512_set1_ps(fr[r]);
                                        c[r][0] = _mm512_fmadd_ps(a, v0,
                                                                  c[r][0]);
                                        if (nv > 1)
                                                c[r][1] = _mm512_fmadd_ps(
                                                        a, v1, c[r][1]);
                                }
                        }
                }
        /* Locals: the stores through y could alias *j, and reloading
         * j's fields after each one cost a third of the run. */
        {
                swarm_act_t act = j->act;
                /* in registers where cpu_act.h can (MobileNetV3's stem is
                 * HardSwish: a pass over the stored tile cost more than
                 * the convolution) */
                int vec = exec_act_vec_ok(act);
                __m512 va = _mm512_set1_ps(j->a), vb = _mm512_set1_ps(j->b);
                int64_t cout = p->cout, plane = w->oh * w->ow;
                int nr = cout - s * MR < MR ? (int)(cout - s * MR) : MR;
                float *y0 = j->y + ((img * cout + s * MR) * w->oh + oy) *
                                           w->ow + ox;
                const float *bias = j->bias ? j->bias + s * MR : NULL;
                for (int r = 0; r < MR; r++) {
                        float *yr = y0 + r * plane;
                        __m512 bv = _mm512_set1_ps(bias && r < nr ? bias[r]
                                                                  : 0.0f);
                        if (r >= nr)
                                break;
                        for (int v = 0; v < nv; v++) {
                                __m512 o = _mm512_add_ps(c[r][v], bv);
                                if (vec)
                                        o = exec_act_vec512(act, o, va, vb);
                                _mm512_mask_storeu_ps(yr + 16 * v,
                                                      v ? k1 : k0, o);
                        }
                        if (!vec)
                                exec_cpu_act_avx512(act, j->a, j->b, yr,
                                                    left < 16 * nv
                                                    ? left : 16 * nv);
                }
        }
}

T_AVX512 static inline __attribute__((always_inline)) void
row_512(const sconv_job_t *j, const float *t, int64_t img, int64_t oy,
        int sw) {
        const swarm_window_t *w = j->w;

        for (int64_t s = 0; s < j->p->coutp / MR; s++) {
                int64_t ox = 0;
                for (; ox + 16 < w->ow; ox += 32)
                        tile_512(j, t, img, oy, s, ox, 2, sw);
                if (ox < w->ow)
                        tile_512(j, t, img, oy, s, ox, 1, sw);
        }
}

T_AVX512 static void row_512_s1(const sconv_job_t *j, const float *t,
                                int64_t img, int64_t oy) {
        row_512(j, t, img, oy, 1);
}

T_AVX512 static void row_512_s2(const sconv_job_t *j, const float *t,
                                int64_t img, int64_t oy) {
        row_512(j, t, img, oy, 2);
}

/* AVX2: 4 output channels (half hf of sliver s) x nv vectors of 8
 * columns from ox, 8 accumulators: per tap two input loads (nv 2), four
 * filter broadcasts, eight FMAs.  An 8-channel tile would need 16
 * accumulators, all of AVX2's registers. */
T_AVX2 static inline __attribute__((always_inline)) void
tile_256(const sconv_job_t *j, const float *t, int64_t img, int64_t oy,
         int64_t s, int hf, int64_t ox, int nv, int sw) {
        const swarm_window_t *w = j->w;
        const cpu_sconv_t *p = j->p;
        const float *f = p->f + s * p->cin * NTAP * MR + hf * 4;
        int64_t left = w->ow - ox;
        __m256i k0 = exec_lanes256(left), k1 = exec_lanes256(left - 8);
        __m256 c[4][2];

        for (int r = 0; r < 4; r++)
                c[r][0] = c[r][1] = _mm256_setzero_ps();
        for (int64_t ci = 0; ci < p->cin; ci++)
                for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                                const float *q = tap_at(j, t, ci, oy, ox, ky,
                                                        kx, sw);
                                const float *fr =
                                        f + (ci * NTAP + ky * 3 + kx) * MR;
                                __m256 v0 = _mm256_loadu_ps(q);
                                __m256 v1 = nv > 1 ? _mm256_loadu_ps(q + 8)
                                                   : v0;
                                for (int r = 0; r < 4; r++) {
                                        __m256 a = _mm256_broadcast_ss(fr + r);
                                        c[r][0] = _mm256_fmadd_ps(a, v0,
                                                                  c[r][0]);
                                        if (nv > 1)
                                                c[r][1] = _mm256_fmadd_ps(
                                                        a, v1, c[r][1]);
                                }
                        }
        /* Locals, as in tile_512: the stores through y could alias *j. */
        {
                swarm_act_t act = j->act;
                int vec = exec_act_vec_ok(act);
                __m256 va = _mm256_set1_ps(j->a), vb = _mm256_set1_ps(j->b);
                int64_t cout = p->cout, plane = w->oh * w->ow;
                int64_t c0 = s * MR + hf * 4;
                int nr = cout - c0 < 4 ? (int)(cout - c0) : 4;
                float *y0 = j->y + ((img * cout + c0) * w->oh + oy) * w->ow +
                            ox;
                const float *bias = j->bias ? j->bias + c0 : NULL;
                for (int r = 0; r < nr; r++) {
                        float *yr = y0 + r * plane;
                        __m256 bv = _mm256_set1_ps(bias ? bias[r] : 0.0f);
                        for (int v = 0; v < nv; v++) {
                                __m256 o = _mm256_add_ps(c[r][v], bv);
                                if (vec)
                                        o = exec_act_vec256(act, o, va, vb);
                                /* vmaskmov stores are slow on Zen:
                                 * only at the row's end */
                                if (left >= 8 * (v + 1))
                                        _mm256_storeu_ps(yr + 8 * v, o);
                                else
                                        _mm256_maskstore_ps(yr + 8 * v,
                                                            v ? k1 : k0, o);
                        }
                        if (!vec)
                                exec_cpu_act_avx2(act, j->a, j->b, yr,
                                                  left < 8 * nv ? left
                                                                : 8 * nv);
                }
        }
}

T_AVX2 static inline __attribute__((always_inline)) void
row_256(const sconv_job_t *j, const float *t, int64_t img, int64_t oy,
        int sw) {
        const swarm_window_t *w = j->w;
        int64_t cout = j->p->cout;

        for (int64_t s = 0; s < j->p->coutp / MR; s++)
                for (int hf = 0; hf < 2 && s * MR + hf * 4 < cout; hf++) {
                        int64_t ox = 0;
                        for (; ox + 8 < w->ow; ox += 16)
                                tile_256(j, t, img, oy, s, hf, ox, 2, sw);
                        if (ox < w->ow)
                                tile_256(j, t, img, oy, s, hf, ox, 1, sw);
                }
}

T_AVX2 static void row_256_s1(const sconv_job_t *j, const float *t,
                              int64_t img, int64_t oy) {
        row_256(j, t, img, oy, 1);
}

T_AVX2 static void row_256_s2(const sconv_job_t *j, const float *t,
                              int64_t img, int64_t oy) {
        row_256(j, t, img, oy, 2);
}
#endif

static void sconv_part(void *arg, int part, int parts) {
        sconv_job_t *j = arg;
        int64_t u0 = j->rows * part / parts, u1 = j->rows * (part + 1) / parts;
        int64_t cur = -1;
        float *t;

        if (u0 >= u1)
                return;
        /* buf floats bounded by cpu_sconv_window_ok */
        t = calloc((size_t)j->buf, sizeof(float));
        if (!t) {
                __atomic_store_n(&j->oom, 1, __ATOMIC_RELAXED);
                return;
        }
        for (int64_t u = u0; u < u1; u++) {
                int64_t img = u / j->w->oh, oy = u % j->w->oh;
                if (img != cur) {
                        pad_image(j, img, t);   /* borders stay zero */
                        cur = img;
                }
#if SCONV_X86
                if (j->p->isa == CPU_ISA_AVX512) {
                        if (j->w->sw == 1)
                                row_512_s1(j, t, img, oy);
                        else
                                row_512_s2(j, t, img, oy);
                        continue;
                }
                if (j->p->isa == CPU_ISA_AVX2) {
                        if (j->w->sw == 1)
                                row_256_s1(j, t, img, oy);
                        else
                                row_256_s2(j, t, img, oy);
                        continue;
                }
#endif
                row_c(j, t, img, oy);
        }
        free(t);
}

int cpu_sconv_run(swarm_backend_t *be, const cpu_sconv_t *p,
                  const swarm_window_t *w, int64_t imgs, const float *x,
                  const float *bias, swarm_act_t act, float alpha, float beta,
                  float *y, int64_t par_min, swarm_err_t *err) {
        sconv_job_t j;
        int64_t macs;

        if (!p || !cpu_sconv_window_ok(w, p->cout) || w->n != p->cin ||
            imgs < 0 || !cpu_sconv_isa_ok(p->isa))
                return swarm_err_set(err, SWARM_ERR_BACKEND,
                                     "sconv: window does not match the "
                                     "packed filters");
        if (imgs == 0)
                return SWARM_OK;
        memset(&j, 0, sizeof(j));
        if (swarm_mul_i64(imgs, w->oh, &j.rows) ||
            swarm_mul_i64(j.rows, w->ow, &macs) ||
            swarm_mul_i64(macs, p->cout * p->cin * NTAP, &macs) ||
            geometry(w, &j.ws, &j.hp, &j.buf))
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "sconv: %lld images overflow",
                                     (long long)imgs);
        j.p = p;
        j.w = w;
        j.x = x;
        j.bias = bias;
        j.y = y;
        j.act = act;
        j.a = alpha;
        j.b = beta;
        exec_cpu_par_run(be, be->threads > 1 && macs >= par_min &&
                                     j.rows >= 2, sconv_part, &j);
        if (j.oom)
                return swarm_err_set(err, SWARM_ERR_NOMEM,
                                     "sconv: out of memory for a "
                                     "workspace");
        return SWARM_OK;
}
