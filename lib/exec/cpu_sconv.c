/*
 * cpu_sconv.c - direct 3x3 stride-1 convolution for 1-4 input channels
 * (cpu_sconv.h).
 *
 * One part takes a range of output rows of the whole batch.  For each
 * image it meets, it copies the image's channels into a zero-bordered
 * buffer (rows ws floats apart, ws covering the widest vector load), so
 * every tap is a plain unaligned load with no bounds check; each output
 * row is then computed 8 output channels at a time, 32 (or, at a row's
 * end, 16) columns at a time: 8 x 2 accumulators, for each of the
 * cin x 9 taps two input loads, 8 filter broadcasts, 16 FMAs.  Bias and
 * activation are applied before the (masked) stores.
 */
#include <stdlib.h>
#include <string.h>

#include "cpu_sconv.h"
#include "cpu_act.h"
#include "cpu_par.h"
#include "swarm/tensor.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define SCONV_X86 1
#include <immintrin.h>
#define T_AVX512 __attribute__((target("avx512f,fma,avx2")))
#else
#define SCONV_X86 0
#endif

#define MR 8            /* output channels per packed sliver */
#define NTAP 9

/* Padded geometry: rows of ws floats (the 32-column loads of the last
 * block, taps 0-2 to its right, stay in the row), hp rows per channel,
 * buf floats in all with a vector of slack.  Non-zero on overflow. */
static int geometry(const swarm_window_t *w, int64_t *ws, int64_t *hp,
                    int64_t *buf) {
        if (swarm_add_i64(w->ow, 31, ws))
                return 1;
        *ws = *ws / 32 * 32 + 2;
        return swarm_add_i64(w->h, w->pad_t + w->pad_b, hp) ||
               swarm_mul_i64(*hp, *ws, buf) ||
               swarm_mul_i64(*buf, w->n, buf) ||
               swarm_add_i64(*buf, 32, buf);
}

int cpu_sconv_window_ok(const swarm_window_t *w, int64_t cout) {
        int64_t ws, hp, buf, img, oimg;

        if (w->kh != 3 || w->kw != 3 || w->sh != 1 || w->sw != 1 ||
            w->dh != 1 || w->dw != 1 || w->n < 1 ||
            w->n > CPU_SCONV_MAX_CIN || cout < 1 || w->h < 1 || w->w < 1 ||
            w->pad_t < 0 || w->pad_l < 0 || w->pad_b < 0 || w->pad_r < 0 ||
            w->pad_t > 2 || w->pad_l > 2 || w->pad_b > 2 || w->pad_r > 2 ||
            w->h > INT32_MAX || w->w > INT32_MAX)
                return 0;
        if (w->oh != w->h + w->pad_t + w->pad_b - 2 ||
            w->ow != w->w + w->pad_l + w->pad_r - 2 || w->oh < 1 ||
            w->ow < 1)
                return 0;
        return !geometry(w, &ws, &hp, &buf) &&
               !swarm_mul_i64(w->n, w->h, &img) &&
               !swarm_mul_i64(img, w->w, &img) &&
               !swarm_mul_i64(cout, w->oh, &oimg) &&
               !swarm_mul_i64(oimg, w->ow, &oimg) &&
               (uint64_t)buf <= SIZE_MAX / sizeof(float);
}

int cpu_sconv_pack(cpu_isa_t isa, int64_t cout, int64_t cin, const float *w,
                   cpu_sconv_t **out, swarm_err_t *err) {
        cpu_sconv_t *p;
        int64_t coutp, floats;

        *out = NULL;
        if ((int)isa < 0 || isa >= CPU_ISA_COUNT || !cpu_gemm_c512_ok(isa))
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

/* Copy image img's channels into the zeroed buffer t. */
static void pad_image(const sconv_job_t *j, int64_t img, float *t) {
        const swarm_window_t *w = j->w;
        const float *xi = j->x + img * w->n * w->h * w->w;

        for (int64_t ci = 0; ci < w->n; ci++)
                for (int64_t iy = 0; iy < w->h; iy++)
                        memcpy(t + (ci * j->hp + iy + w->pad_t) * j->ws +
                               w->pad_l, xi + (ci * w->h + iy) * w->w,
                               (size_t)w->w * sizeof(float));
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
                                               t[(ci * j->hp + oy + k / 3) *
                                                 j->ws + ox + k % 3];
                        yr[ox] = acc + bv;
                }
                exec_act_span_inl(j->act, j->a, j->b, yr, w->ow);
        }
}

#if SCONV_X86
/* 8 channels (sliver s) x nv vectors of 16 columns from ox; nv is a
 * constant at each call (always inlined). */
T_AVX512 static inline __attribute__((always_inline)) void
tile_512(const sconv_job_t *j, const float *t, int64_t img, int64_t oy,
         int64_t s, int64_t ox, int nv) {
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
                        const float *q = t + (ci * j->hp + oy + ky) * j->ws +
                                         ox;
                        for (int kx = 0; kx < 3; kx++) {
                                const float *fr =
                                        f + (ci * NTAP + ky * 3 + kx) * MR;
                                __m512 v0 = _mm512_loadu_ps(q + kx);
                                __m512 v1 = nv > 1 ? _mm512_loadu_ps(q + kx +
                                                                     16)
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
                                if (act == SWARM_ACT_RELU)
                                        o = _mm512_max_ps(o,
                                                          _mm512_setzero_ps());
                                _mm512_mask_storeu_ps(yr + 16 * v,
                                                      v ? k1 : k0, o);
                        }
                        if (act != SWARM_ACT_NONE && act != SWARM_ACT_RELU)
                                exec_cpu_act_avx512(act, j->a, j->b, yr,
                                                    left < 16 * nv
                                                    ? left : 16 * nv);
                }
        }
}

T_AVX512 static void row_512(const sconv_job_t *j, const float *t,
                             int64_t img, int64_t oy) {
        const swarm_window_t *w = j->w;

        for (int64_t s = 0; s < j->p->coutp / MR; s++) {
                int64_t ox = 0;
                for (; ox + 16 < w->ow; ox += 32)
                        tile_512(j, t, img, oy, s, ox, 2);
                if (ox < w->ow)
                        tile_512(j, t, img, oy, s, ox, 1);
        }
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
                        row_512(j, t, img, oy);
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
            imgs < 0 || !cpu_gemm_c512_ok(p->isa))
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
