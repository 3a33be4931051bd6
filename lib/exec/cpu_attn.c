/*
 * cpu_attn.c - fused scaled dot-product attention on the CPU backend.
 *
 * Unfused, an exported encoder layer writes the [B, H, S, S] scores four
 * times (QK^T, the scale, the mask, the softmax) and reads them five, each
 * pass a separate serial kernel; at S = 128 that was most of a BERT run.
 * Here every task owns a block of query rows of one (batch, head): one
 * sgemm writes its scores into a per-part scratch of at most SCORES_MAX
 * floats, the mask, max, exp and sum run over them while they are in L2,
 * and a second sgemm multiplies them by V straight into y.  The tasks are
 * split over the backend's pool.
 */
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "swarm/tensor.h"
#include "cpu_attn.h"
#include "scalar_ops.h"

/* Per-ISA clones of the softmax loops (see backend_cpu.c's VEC_CLONES). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    defined(__linux__) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(__SANITIZE_THREAD__)
#define ATTN_CLONES __attribute__((target_clones("avx512f", "avx2", \
                                                 "default")))
#else
#define ATTN_CLONES
#endif

/* Scores a task keeps at once (floats): 128 KiB, well inside L2. */
#define SCORES_MAX ((int64_t)32 * 1024)
/* Multiply-adds from which the pool's wake-up pays. */
#define ATTN_PAR_MIN EXEC_CPU_PAR_MIN_MACS

/* One matrix operand of an sgemm, rows x cols with element strides rs and
 * cs: its transpose flag and leading dimension, or -1 when neither
 * stride is 1 (or the other one is too short for a leading dimension). */
static int mat_ld(int64_t rs, int64_t cs, int64_t rows, int64_t cols,
                  int *trans, int64_t *ld) {
        if ((cs == 1 || cols == 1) && (rows == 1 || rs >= cols)) {
                *trans = 0;
                *ld = rows == 1 ? cols : rs;
        } else if ((rs == 1 || rows == 1) && (cols == 1 || cs >= rows)) {
                *trans = 1;
                *ld = cols == 1 ? rows : cs;
        } else {
                return -1;
        }
        return *ld >= 1 && *ld <= INT32_MAX ? 0 : -1;
}

int exec_attn_layout_ok(const swarm_attn_t *a) {
        const int64_t *strs[5] = {a->q_str, a->k_str, a->v_str,
                                  a->mask_str, a->y_str};
        int64_t dims[6] = {a->batch, a->heads, a->sq, a->sk, a->dk, a->dv};
        int64_t offs[5] = {a->q_off, a->k_off, a->v_off, a->mask_off,
                           a->y_off};
        int64_t ld;
        int t;

        for (int i = 0; i < 6; i++)
                if (dims[i] < 1 || dims[i] > INT32_MAX)
                        return 0;
        for (int i = 0; i < 5; i++) {
                if (offs[i] < 0)
                        return 0;
                for (int d = 0; d < 4; d++)
                        if (strs[i][d] < 0)
                                return 0;
        }
        return mat_ld(a->q_str[2], a->q_str[3], a->sq, a->dk, &t, &ld) == 0 &&
               mat_ld(a->k_str[3], a->k_str[2], a->dk, a->sk, &t, &ld) == 0 &&
               mat_ld(a->v_str[2], a->v_str[3], a->sk, a->dv, &t, &ld) == 0 &&
               mat_ld(a->y_str[2], a->y_str[3], a->sq, a->dv, &t, &ld) == 0 &&
               t == 0;
}

typedef struct attn_job {
        const swarm_attn_t *a;
        const float *q, *k, *v, *mask;
        float *y;
        int64_t ib;             /* query rows per task */
        int64_t nib;            /* row blocks per (batch, head) */
        int64_t tasks;
        int tq, tk, tv;         /* sgemm transposes of q, K^T, v */
        int pack_k;             /* copy K^T of each (b, h) contiguous */
        int64_t lq, lk, lv, ly; /* their leading dimensions */
        int failed;             /* a part found no memory for its scores */
} attn_job_t;

/* exp(x - max) of a score more than 60 below the row's max is taken as 0:
 * e^-60 is 1e-26 of the largest term, far under float's resolution of the
 * sum.  Why not let it underflow: the exporters' masks are float's lowest,
 * and an exp clamped near its end leaves values around 1e-38 that the
 * 1 / sum scaling makes subnormal; sgemm by V then ran 10x slower on them
 * (microcode assists on every multiply). */
#define EXP_CUT_BITS 0x42700000u        /* 60.0f */
/* Independent partial sums / maxima, so the reductions vectorise
 * without -ffast-math (a float sum in one accumulator cannot). */
#define LANES 16

/* e^x for x in [-60, 0] (or NaN): scalar_ops.h's polynomial without its
 * clamps, which GCC 12 does not if-convert in a loop that computes on
 * the clamped value (the loop then stays scalar, 8 ns a score). */
static inline float exp_neg(float x) {
        return swarm_expf_range(x);
}

/* e^d for d = score - max: 0 when d < -60, NaN kept (it propagates, as
 * the unfused softmax's does).  Integer masks, since a float compare
 * feeding a select does not vectorise either. */
static inline float exp_kept(float d) {
        float e;
        uint32_t u, a, keep;
        memcpy(&u, &d, sizeof(u));
        a = u & 0x7fffffffu;
        keep = 0u - ((uint32_t)(a <= EXP_CUT_BITS) |
                     (uint32_t)(a > 0x7f800000u));
        u &= keep;
        memcpy(&d, &u, sizeof(d));
        e = exp_neg(d);
        memcpy(&u, &e, sizeof(u));
        u &= keep;
        memcpy(&e, &u, sizeof(e));
        return e;
}

/* Mask, then the unnormalised softmax, over `rows` rows of n scores (row
 * stride n): row = exp(row + mask - max), inv[r] = 1 / its sum.  The
 * division waits for the product by V, whose rows are dv wide instead of
 * n (two passes over the scores instead of four).  nan_zero: see
 * swarm_attn_t.nan_rows_zero. */
ATTN_CLONES
static void attn_softmax(float *s, float *inv, int64_t rows, int64_t n,
                         const float *mp, int64_t m_ri, int64_t m_j,
                         int nan_zero) {
        for (int64_t r = 0; r < rows; r++) {
                float *restrict row = s + r * n;
                const float *restrict mr = mp ? mp + r * m_ri : NULL;
                float acc[LANES], mx, sum;
                int64_t j, nv = n - n % LANES;
                /* Whole blocks of LANES, then the tail: a fixed inner
                 * trip count vectorises at -O2 too (GCC's cheap cost
                 * model refuses loops that need an epilogue). */
                for (int l = 0; l < LANES; l++)
                        acc[l] = -INFINITY;
                if (mr && m_j == 1) {
                        for (j = 0; j < nv; j += LANES)
                                for (int l = 0; l < LANES; l++) {
                                        float v = row[j + l] + mr[j + l];
                                        row[j + l] = v;
                                        acc[l] = v > acc[l] ? v : acc[l];
                                }
                        for (; j < n; j++)
                                row[j] += mr[j];
                } else {
                        if (mr)
                                for (j = 0; j < n; j++)
                                        row[j] += mr[j * m_j];
                        for (j = 0; j < nv; j += LANES)
                                for (int l = 0; l < LANES; l++)
                                        acc[l] = row[j + l] > acc[l]
                                                 ? row[j + l] : acc[l];
                }
                /* The max first, so exp() cannot overflow.  A NaN score
                 * the max skips comes out NaN through the exp. */
                mx = -INFINITY;
                for (int l = 0; l < LANES; l++)
                        mx = acc[l] > mx ? acc[l] : mx;
                for (j = nv; j < n; j++)
                        mx = row[j] > mx ? row[j] : mx;
                for (int l = 0; l < LANES; l++)
                        acc[l] = 0.0f;
                for (j = 0; j < nv; j += LANES)
                        for (int l = 0; l < LANES; l++) {
                                float e = exp_kept(row[j + l] - mx);
                                row[j + l] = e;
                                acc[l] += e;
                        }
                sum = 0.0f;
                for (int l = 0; l < LANES; l++)
                        sum += acc[l];
                for (; j < n; j++) {
                        row[j] = exp_kept(row[j] - mx);
                        sum += row[j];
                }
                inv[r] = 1.0f / sum;
                /* Any NaN in the row made every value of its softmax NaN
                 * (the sum is NaN): zeros, for the guard (backend.h). */
                if (nan_zero && sum != sum) {
                        memset(row, 0, (size_t)n * sizeof(float));
                        inv[r] = 0.0f;
                }
        }
}

/* y row r *= inv[r] over dv values (row stride ly). */
ATTN_CLONES
static void attn_scale(float *y, const float *inv, int64_t rows, int64_t dv,
                       int64_t ly) {
        for (int64_t r = 0; r < rows; r++) {
                float *restrict yr = y + r * ly;
                float f = inv[r];
                for (int64_t d = 0; d < dv; d++)
                        yr[d] *= f;
        }
}

static void attn_part(void *p, int part, int parts) {
        attn_job_t *j = p;
        const swarm_attn_t *a = j->a;
        int64_t lo = j->tasks * part / parts;
        int64_t hi = j->tasks * (part + 1) / parts;
        float *s;

        if (hi <= lo)
                return;
        /* the scores, one 1 / sum per row, then K^T when packed */
        s = malloc((size_t)(j->ib * a->sk + j->ib +
                            (j->pack_k ? a->dk * a->sk : 0)) *
                   sizeof(float));
        if (!s) {
                __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
                return;
        }
        for (int64_t t = lo, packed = -1; t < hi; t++) {
                int64_t bh = t / j->nib, blk = t % j->nib;
                int64_t b = bh / a->heads, h = bh % a->heads;
                int64_t i0 = blk * j->ib;
                int64_t ni = a->sq - i0 < j->ib ? a->sq - i0 : j->ib;
                const float *qp = j->q + b * a->q_str[0] + h * a->q_str[1] +
                                  i0 * a->q_str[2];
                const float *kp = j->k + b * a->k_str[0] + h * a->k_str[1];
                const float *vp = j->v + b * a->v_str[0] + h * a->v_str[1];
                const float *mp = j->mask
                                  ? j->mask + b * a->mask_str[0] +
                                    h * a->mask_str[1] + i0 * a->mask_str[2]
                                  : NULL;
                float *yp = j->y + b * a->y_str[0] + h * a->y_str[1] +
                            i0 * a->y_str[2];

                int tk = j->tk;
                int64_t lk = j->lk;

                if (j->pack_k) {
                        /* K^T [dk, sk] contiguous: sgemm's NN kernel on it
                         * took 6.5 us where NT on the strided K took 11
                         * (128 x 128 x 16), copy included. */
                        float *kt = s + j->ib * a->sk + j->ib;
                        if (packed != bh) {
                                for (int64_t jj = 0; jj < a->sk; jj++)
                                        for (int64_t d = 0; d < a->dk; d++)
                                                kt[d * a->sk + jj] =
                                                        kp[jj * j->lk + d];
                                packed = bh;
                        }
                        kp = kt;
                        tk = 0;
                        lk = a->sk;
                }
                cblas_sgemm(CblasRowMajor, j->tq ? CblasTrans : CblasNoTrans,
                            tk ? CblasTrans : CblasNoTrans, (blasint)ni,
                            (blasint)a->sk, (blasint)a->dk, a->scale, qp,
                            (blasint)j->lq, kp, (blasint)lk, 0.0f, s,
                            (blasint)a->sk);
                attn_softmax(s, s + j->ib * a->sk, ni, a->sk, mp,
                             a->mask_str[2], a->mask_str[3],
                             a->nan_rows_zero);
                cblas_sgemm(CblasRowMajor, CblasNoTrans,
                            j->tv ? CblasTrans : CblasNoTrans, (blasint)ni,
                            (blasint)a->dv, (blasint)a->sk, 1.0f, s,
                            (blasint)a->sk, vp, (blasint)j->lv, 0.0f, yp,
                            (blasint)j->ly);
                attn_scale(yp, s + j->ib * a->sk, ni, a->dv, j->ly);
        }
        free(s);
}

int exec_cpu_attention(swarm_backend_t *be, const swarm_attn_t *a,
                       swarm_err_t *err) {
        attn_job_t j;
        int64_t tasks, macs;
        int ok, ty;

        memset(&j, 0, sizeof(j));
        if (!exec_attn_layout_ok(a) || !a->q || !a->k || !a->v || !a->y)
                return swarm_err_set(err, SWARM_ERR_BACKEND,
                                     "cpu: attention layout not supported");
        ok = mat_ld(a->q_str[2], a->q_str[3], a->sq, a->dk, &j.tq, &j.lq) ==
                     0 &&
             mat_ld(a->k_str[3], a->k_str[2], a->dk, a->sk, &j.tk, &j.lk) ==
                     0 &&
             mat_ld(a->v_str[2], a->v_str[3], a->sk, a->dv, &j.tv, &j.lv) ==
                     0 &&
             mat_ld(a->y_str[2], a->y_str[3], a->sq, a->dv, &ty, &j.ly) ==
                     0;
        if (!ok)
                return swarm_err_set(err, SWARM_ERR_BACKEND,
                                     "cpu: attention layout not supported");
        j.a = a;
        j.q = (const float *)a->q + a->q_off;
        j.k = (const float *)a->k + a->k_off;
        j.v = (const float *)a->v + a->v_off;
        j.mask = a->mask ? (const float *)a->mask + a->mask_off : NULL;
        j.y = (float *)a->y + a->y_off;
        /* Rows per task: the scores of a task fit SCORES_MAX; with few
         * (batch, head) pairs, smaller blocks so every lane has work. */
        if (swarm_mul_i64(a->batch, a->heads, &tasks) ||
            swarm_mul_i64(tasks, a->sq, &macs) ||
            swarm_mul_i64(macs, a->sk, &macs) ||
            swarm_mul_i64(macs, a->dk + a->dv, &macs))
                return swarm_err_set(err, SWARM_ERR_BACKEND,
                                     "cpu: attention dimensions overflow");
        j.ib = SCORES_MAX / a->sk;
        if (j.ib < 1)
                j.ib = 1;
        if (j.ib > a->sq)
                j.ib = a->sq;
        while (j.ib > 16 &&
               tasks * ((a->sq + j.ib - 1) / j.ib) < 4 * (int64_t)be->threads)
                j.ib = (j.ib + 1) / 2;
        j.nib = (a->sq + j.ib - 1) / j.ib;
        /* K stored (j, d) with d contiguous: pack it when small */
        j.pack_k = j.tk && a->dk * a->sk <= SCORES_MAX;
        j.tasks = tasks * j.nib;        /* <= batch * heads * sq */
        exec_cpu_par_run(be, macs >= ATTN_PAR_MIN && j.tasks > 1, attn_part,
                         &j);
        if (j.failed)
                return swarm_err_set(err, SWARM_ERR_NOMEM,
                                     "cpu: out of memory for attention "
                                     "scores");
        return SWARM_OK;
}

/* ---- layer normalisation ---- */

typedef struct ln_job {
        const float *x, *scale, *bias;
        float *y;
        int64_t outer, n;
        float eps;
} ln_job_t;

/* Rows of one part: the mean and the variance (two passes, as the
 * reference does, not E[x^2] - E[x]^2 which cancels) in LANES partial
 * sums so both reductions vectorise, then one pass for y. */
ATTN_CLONES
static void ln_rows(const ln_job_t *j, int64_t r0, int64_t r1) {
        int64_t n = j->n, nv = n - n % LANES;
        const float *restrict sc = j->scale, *restrict bi = j->bias;

        for (int64_t r = r0; r < r1; r++) {
                const float *restrict xp = j->x + r * n;
                float *restrict yp = j->y + r * n;
                float acc[LANES], mean, var, inv;
                int64_t i;
                for (int l = 0; l < LANES; l++)
                        acc[l] = 0.0f;
                for (i = 0; i < nv; i += LANES)
                        for (int l = 0; l < LANES; l++)
                                acc[l] += xp[i + l];
                mean = 0.0f;
                for (int l = 0; l < LANES; l++)
                        mean += acc[l];
                for (; i < n; i++)
                        mean += xp[i];
                mean /= (float)n;
                for (int l = 0; l < LANES; l++)
                        acc[l] = 0.0f;
                for (i = 0; i < nv; i += LANES)
                        for (int l = 0; l < LANES; l++) {
                                float d = xp[i + l] - mean;
                                acc[l] += d * d;
                        }
                var = 0.0f;
                for (int l = 0; l < LANES; l++)
                        var += acc[l];
                for (; i < n; i++)
                        var += (xp[i] - mean) * (xp[i] - mean);
                var /= (float)n;
                inv = 1.0f / sqrtf(var + j->eps);
                if (bi)
                        for (i = 0; i < n; i++)
                                yp[i] = (xp[i] - mean) * inv * sc[i] + bi[i];
                else
                        for (i = 0; i < n; i++)
                                yp[i] = (xp[i] - mean) * inv * sc[i];
        }
}

static void ln_part(void *p, int part, int parts) {
        const ln_job_t *j = p;
        ln_rows(j, j->outer * part / parts, j->outer * (part + 1) / parts);
}

int exec_cpu_layer_norm(swarm_backend_t *be, const void *x, const void *scale,
                        const void *bias, void *y, int64_t outer, int64_t n,
                        float eps, swarm_err_t *err) {
        ln_job_t j = {x, scale, bias, y, outer, n, eps};
        int64_t total;

        (void)err;
        if (outer <= 0 || n <= 0)
                return SWARM_OK;
        if (swarm_mul_i64(outer, n, &total))
                total = INT64_MAX;
        exec_cpu_par_run(be, total >= EXEC_CPU_PAR_MIN_ELEMS && outer > 1,
                         ln_part, &j);
        return SWARM_OK;
}
