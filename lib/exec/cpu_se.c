/*
 * cpu_se.c - the squeeze-excitation channel scale (see cpu_se.h).
 *
 * The generic binary kernel ran this as one call per row through an
 * odometer, and its loop `c[j] = a[j] * b[0]` could not keep b[0] in a
 * register (c may alias b), so a 7x7 plane cost ~2.5 ns per value, more
 * than the depthwise convolution before it.  Here the scale is loaded once
 * per row and the row runs in whole vectors with a masked tail.
 */
#include <stdint.h>

#include "cpu_par.h"
#include "cpu_se.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SE_X86 1
#include <immintrin.h>
#else
#define SE_X86 0
#endif

/* Values from which splitting across lanes pays for the wake-up. */
#define SE_PAR_MIN EXEC_CPU_PAR_MIN_ELEMS

typedef struct se_job {
        cpu_isa_t isa;
        const float *x, *s;
        float *y;
        int64_t rows, inner;
} se_job_t;

static void rows_c(const float *x, const float *s, float *y, int64_t r0,
                   int64_t r1, int64_t inner) {
        for (int64_t r = r0; r < r1; r++) {
                float sv = s[r];
                const float *xr = x + r * inner;
                float *yr = y + r * inner;
                for (int64_t i = 0; i < inner; i++)
                        yr[i] = xr[i] * sv;
        }
}

#if SE_X86
__attribute__((target("avx512f")))
static void rows_avx512(const float *x, const float *s, float *y, int64_t r0,
                        int64_t r1, int64_t inner) {
        for (int64_t r = r0; r < r1; r++) {
                __m512 sv = _mm512_set1_ps(s[r]);
                const float *xr = x + r * inner;
                float *yr = y + r * inner;
                int64_t i = 0;
                for (; i + 64 <= inner; i += 64) {
                        __m512 a0 = _mm512_loadu_ps(xr + i);
                        __m512 a1 = _mm512_loadu_ps(xr + i + 16);
                        __m512 a2 = _mm512_loadu_ps(xr + i + 32);
                        __m512 a3 = _mm512_loadu_ps(xr + i + 48);
                        _mm512_storeu_ps(yr + i, _mm512_mul_ps(a0, sv));
                        _mm512_storeu_ps(yr + i + 16, _mm512_mul_ps(a1, sv));
                        _mm512_storeu_ps(yr + i + 32, _mm512_mul_ps(a2, sv));
                        _mm512_storeu_ps(yr + i + 48, _mm512_mul_ps(a3, sv));
                }
                for (; i + 16 <= inner; i += 16)
                        _mm512_storeu_ps(yr + i, _mm512_mul_ps(
                                _mm512_loadu_ps(xr + i), sv));
                if (i < inner) {
                        __mmask16 m = (__mmask16)((1u << (inner - i)) - 1u);
                        _mm512_mask_storeu_ps(yr + i, m, _mm512_mul_ps(
                                _mm512_maskz_loadu_ps(m, xr + i), sv));
                }
        }
}

__attribute__((target("avx2")))
static void rows_avx2(const float *x, const float *s, float *y, int64_t r0,
                      int64_t r1, int64_t inner) {
        const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);

        for (int64_t r = r0; r < r1; r++) {
                __m256 sv = _mm256_set1_ps(s[r]);
                const float *xr = x + r * inner;
                float *yr = y + r * inner;
                int64_t i = 0;
                for (; i + 32 <= inner; i += 32) {
                        __m256 a0 = _mm256_loadu_ps(xr + i);
                        __m256 a1 = _mm256_loadu_ps(xr + i + 8);
                        __m256 a2 = _mm256_loadu_ps(xr + i + 16);
                        __m256 a3 = _mm256_loadu_ps(xr + i + 24);
                        _mm256_storeu_ps(yr + i, _mm256_mul_ps(a0, sv));
                        _mm256_storeu_ps(yr + i + 8, _mm256_mul_ps(a1, sv));
                        _mm256_storeu_ps(yr + i + 16, _mm256_mul_ps(a2, sv));
                        _mm256_storeu_ps(yr + i + 24, _mm256_mul_ps(a3, sv));
                }
                for (; i + 8 <= inner; i += 8)
                        _mm256_storeu_ps(yr + i, _mm256_mul_ps(
                                _mm256_loadu_ps(xr + i), sv));
                if (i < inner) {
                        __m256i m = _mm256_cmpgt_epi32(
                                _mm256_set1_epi32((int)(inner - i)), lane);
                        _mm256_maskstore_ps(yr + i, m, _mm256_mul_ps(
                                _mm256_maskload_ps(xr + i, m), sv));
                }
        }
}
#endif

static double sum_c(const float *x, int64_t n) {
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int64_t i = 0;

        for (; i + 4 <= n; i += 4) {
                s0 += x[i];
                s1 += x[i + 1];
                s2 += x[i + 2];
                s3 += x[i + 3];
        }
        for (; i < n; i++)
                s0 += x[i];
        return (s0 + s1) + (s2 + s3);
}

#if SE_X86
__attribute__((target("avx512f")))
static double sum_avx512(const float *x, int64_t n) {
        __m512d a0 = _mm512_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
        int64_t i = 0;

        for (; i + 32 <= n; i += 32) {
                __m512 v0 = _mm512_loadu_ps(x + i);
                __m512 v1 = _mm512_loadu_ps(x + i + 16);
                a0 = _mm512_add_pd(a0, _mm512_cvtps_pd(
                        _mm512_castps512_ps256(v0)));
                a1 = _mm512_add_pd(a1, _mm512_cvtps_pd(_mm256_castpd_ps(
                        _mm512_extractf64x4_pd(_mm512_castps_pd(v0), 1))));
                a2 = _mm512_add_pd(a2, _mm512_cvtps_pd(
                        _mm512_castps512_ps256(v1)));
                a3 = _mm512_add_pd(a3, _mm512_cvtps_pd(_mm256_castpd_ps(
                        _mm512_extractf64x4_pd(_mm512_castps_pd(v1), 1))));
        }
        double t;

        for (; i + 8 <= n; i += 8)
                a0 = _mm512_add_pd(a0, _mm512_cvtps_pd(_mm256_loadu_ps(x + i)));
        t = _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(a0, a1),
                                               _mm512_add_pd(a2, a3)));
        for (; i < n; i++)
                t += x[i];
        return t;
}

__attribute__((target("avx2")))
static double sum_avx2(const float *x, int64_t n) {
        __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
        double t[4];
        int64_t i = 0;

        for (; i + 16 <= n; i += 16) {
                __m256 v0 = _mm256_loadu_ps(x + i);
                __m256 v1 = _mm256_loadu_ps(x + i + 8);
                a0 = _mm256_add_pd(a0, _mm256_cvtps_pd(
                        _mm256_castps256_ps128(v0)));
                a1 = _mm256_add_pd(a1, _mm256_cvtps_pd(
                        _mm256_extractf128_ps(v0, 1)));
                a2 = _mm256_add_pd(a2, _mm256_cvtps_pd(
                        _mm256_castps256_ps128(v1)));
                a3 = _mm256_add_pd(a3, _mm256_cvtps_pd(
                        _mm256_extractf128_ps(v1, 1)));
        }
        for (; i + 4 <= n; i += 4)
                a0 = _mm256_add_pd(a0, _mm256_cvtps_pd(_mm_loadu_ps(x + i)));
        _mm256_storeu_pd(t, _mm256_add_pd(_mm256_add_pd(a0, a1),
                                          _mm256_add_pd(a2, a3)));
        t[0] = (t[0] + t[1]) + (t[2] + t[3]);
        for (; i < n; i++)
                t[0] += x[i];
        return t[0];
}
#endif

double exec_cpu_sum(cpu_isa_t isa, const float *x, int64_t n) {
#if SE_X86
        if (isa == CPU_ISA_AVX512)
                return sum_avx512(x, n);
        if (isa == CPU_ISA_AVX2)
                return sum_avx2(x, n);
#endif
        (void)isa;
        return sum_c(x, n);
}

static void se_part(void *p, int part, int parts) {
        const se_job_t *j = p;
        int64_t r0 = j->rows * part / parts, r1 = j->rows * (part + 1) / parts;

        if (r0 >= r1)
                return;
#if SE_X86
        if (j->isa == CPU_ISA_AVX512) {
                rows_avx512(j->x, j->s, j->y, r0, r1, j->inner);
                return;
        }
        if (j->isa == CPU_ISA_AVX2) {
                rows_avx2(j->x, j->s, j->y, r0, r1, j->inner);
                return;
        }
#endif
        rows_c(j->x, j->s, j->y, r0, r1, j->inner);
}

static void run(swarm_backend_t *be, cpu_isa_t isa, const float *x,
                const float *s, float *y, int64_t rows, int64_t inner) {
        se_job_t j = {isa, x, s, y, rows, inner};
        /* rows * inner is the element count of an existing tensor. */
        int big = rows >= be->threads && rows * inner >= SE_PAR_MIN;

        exec_cpu_par_run(be, big, se_part, &j);
}

void exec_cpu_scale_rows(swarm_backend_t *be, const float *x, const float *s,
                         float *y, int64_t rows, int64_t inner) {
        if (rows > 0 && inner > 0)
                run(be, cpu_gemm_best_isa(), x, s, y, rows, inner);
}

int exec_cpu_scale_rows_isa(swarm_backend_t *be, cpu_isa_t isa,
                            const float *x, const float *s, float *y,
                            int64_t rows, int64_t inner, swarm_err_t *err) {
        if ((int)isa < 0 || isa >= CPU_ISA_COUNT || !cpu_gemm_isa_ok(isa))
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "cpu: scale rows: kernel set %d not "
                                     "available", (int)isa);
        if (rows < 0 || inner < 0)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "cpu: scale rows: %lld x %lld",
                                     (long long)rows, (long long)inner);
        if (rows > 0 && inner > 0)
                run(be, isa, x, s, y, rows, inner);
        return SWARM_OK;
}
