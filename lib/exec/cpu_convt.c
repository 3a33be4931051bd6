/*
 * cpu_convt.c - transposed convolution on the CPU (backend.h
 * `conv_transpose`): one GEMM, then col2im.
 *
 * For one image and group, the columns col = W^T X ([mg * K, ins]: W is
 * [cg, mg * K], X the image's [cg, ins]) hold every output channel and
 * kernel tap's contribution of every input position; col2im adds row
 * (m, tap) into output plane m at the positions that tap lands on.  That
 * is one sgemm (where the time goes, at full speed) and a scatter of 1/cg
 * of its work, instead of the host kernel's per-element loops.
 *
 * Work units are (image, group, block of output channels): blocks only
 * when there are fewer images x groups than lanes, so one image still
 * uses every lane, and units never share an output plane.  The columns of
 * a unit are made COL_FLOATS at a time (a lane's scratch stays in L2).
 */
#include <stdlib.h>
#include <string.h>

#include "swarm/tensor.h"
#include "cpu_convt.h"
#include "cpu_par.h"

/* Floats of columns one lane makes at a time. */
#define COL_FLOATS ((int64_t)64 * 1024)
/* Multiply-adds from which splitting across lanes pays. */
#define CT_PAR_MIN ((int64_t)512 * 1024)

typedef struct ct_job {
        swarm_backend_t *be;
        const swarm_convt_t *g;
        const float *x, *w, *bias;
        float *y;
        int64_t cg, mg, K, ins, ous, mb;        /* mb: channel blocks */
        int failed;             /* SWARM_ERR_* of a lane, 0 when none */
} ct_job_t;

/* Add col ([rows, cols], rows (m0 + r / K, tap r % K), columns the input
 * positions [j0, j0 + cols)) into the output planes yp (plane m0 first).
 * Rows come in groups of k[2] (the taps along the last dim) that land on
 * the same output rows, so each input row's bounds are worked out once per
 * group; the input rows are walked without divisions (they dominated
 * when every 16-wide segment paid four). */
static void col2im(const ct_job_t *j, const float *col, int64_t rows,
                   int64_t j0, int64_t cols, float *yp) {
        const swarm_convt_t *g = j->g;
        int64_t in1 = g->in[1], in2 = g->in[2], k2 = g->k[2];
        int64_t s0 = g->stride[0], s1 = g->stride[1], s2 = g->stride[2];
        int64_t out1 = g->out[1], out2 = g->out[2];
        int64_t lo2[64], hi2[64];

        for (int64_t r = 0; r < rows; r += k2) {
                int64_t ml = r / j->K, t = r % j->K;
                int64_t t1 = (t / k2) % g->k[1], t0 = t / (k2 * g->k[1]);
                int64_t b0 = t0 * g->dil[0] - g->pad[0];
                int64_t b1 = t1 * g->dil[1] - g->pad[1];
                int64_t i01 = j0 / in2, a = j0 - i01 * in2;
                int64_t i0 = i01 / in1, i1 = i01 - i0 * in1;
                const float *cq = col + r * cols - a;
                float *pl = yp + ml * j->ous;
                int64_t tb = k2 < 64 ? k2 : 64;

                /* i2 with 0 <= i2 * s2 + b2 < out[2], per tap */
                for (int64_t t2 = 0; t2 < tb; t2++) {
                        int64_t b2 = t2 * g->dil[2] - g->pad[2], l = 0, h;
                        if (b2 < 0)
                                l = (-b2 + s2 - 1) / s2;
                        h = out2 - b2 <= 0 ? 0 : (out2 - b2 - 1) / s2 + 1;
                        lo2[t2] = l;
                        hi2[t2] = h < in2 ? h : in2;
                }
                for (int64_t q = j0; q < j0 + cols;) {
                        int64_t e = in2 - a < j0 + cols - q ? in2
                                    : a + (j0 + cols - q);
                        int64_t o0 = i0 * s0 + b0, o1 = i1 * s1 + b1;
                        if (o0 >= 0 && o0 < g->out[0] && o1 >= 0 &&
                            o1 < out1) {
                                float *yr = pl + (o0 * out1 + o1) * out2;
                                for (int64_t t2 = 0; t2 < k2; t2++) {
                                        int64_t b2 = t2 * g->dil[2] -
                                                     g->pad[2];
                                        int64_t lo = a, hi = e;
                                        float *restrict yt = yr + b2;
                                        const float *restrict ct =
                                                cq + t2 * cols;
                                        if (t2 < 64) {
                                                lo = lo > lo2[t2] ? lo
                                                                  : lo2[t2];
                                                hi = hi < hi2[t2] ? hi
                                                                  : hi2[t2];
                                        } else {
                                                /* past the table: the
                                                 * slow bounds */
                                                while (lo < hi &&
                                                       lo * s2 + b2 < 0)
                                                        lo++;
                                                while (hi > lo &&
                                                       (hi - 1) * s2 + b2 >=
                                                       out2)
                                                        hi--;
                                        }
                                        if (s2 == 2)
                                                for (int64_t i2 = lo; i2 < hi;
                                                     i2++)
                                                        yt[2 * i2] += ct[i2];
                                        else
                                                for (int64_t i2 = lo; i2 < hi;
                                                     i2++)
                                                        yt[i2 * s2] += ct[i2];
                                }
                        }
                        q += e - a;
                        cq += in2;
                        a = 0;
                        if (++i1 == in1) {
                                i1 = 0;
                                i0++;
                        }
                }
        }
}

/* Unit u with cap floats of columns (at least its rows). */
static void ct_unit(ct_job_t *j, int64_t u, float *col, int64_t cap) {
        const swarm_convt_t *g = j->g;
        int64_t blk = u % j->mb, ng = u / j->mb;
        int64_t gi = ng % g->group, nn = ng / g->group;
        int64_t m0 = j->mg * blk / j->mb, m1 = j->mg * (blk + 1) / j->mb;
        int64_t rows = (m1 - m0) * j->K, step;
        float *yp = j->y + (nn * g->m + gi * j->mg + m0) * j->ous;
        swarm_gemm_t gm;
        swarm_err_t e;

        for (int64_t m = m0; m < m1; m++) {
                float bv = j->bias ? j->bias[gi * j->mg + m] : 0.0f;
                float *pl = yp + (m - m0) * j->ous;
                for (int64_t i = 0; i < j->ous; i++)
                        pl[i] = bv;
        }
        if (rows == 0 || j->ins == 0 || j->cg == 0)
                return;
        step = cap / rows;
        memset(&gm, 0, sizeof(gm));
        gm.trans_a = 1;
        gm.m = rows;
        gm.k = j->cg;
        gm.alpha = 1.0f;
        gm.a = j->w;
        gm.a_off = gi * j->cg * j->mg * j->K + m0 * j->K;
        gm.lda = j->mg * j->K;
        gm.b = j->x;
        gm.ldb = j->ins;
        gm.c = col;
        gm.bias_mode = SWARM_BIAS_NONE;
        gm.act = SWARM_ACT_NONE;
        for (int64_t j0 = 0; j0 < j->ins; j0 += step) {
                int64_t cols = j->ins - j0 < step ? j->ins - j0 : step;
                int rc;
                gm.n = cols;
                gm.ldc = cols;
                gm.b_off = (nn * g->c + gi * j->cg) * j->ins + j0;
                /* Inside a lane this runs serially (the pool is ours). */
                if ((rc = j->be->gemm(j->be, &gm, &e))) {
                        __atomic_store_n(&j->failed, rc, __ATOMIC_RELAXED);
                        return;
                }
                col2im(j, col, rows, j0, cols, yp);
        }
}

static void ct_part(void *arg, int part, int parts) {
        ct_job_t *j = arg;
        int64_t units = j->g->n * j->g->group * j->mb;
        int64_t lo = units * part / parts, hi = units * (part + 1) / parts;
        /* the most rows of a unit: ceil(mg / mb) channels' taps */
        int64_t rows = (j->mg + j->mb - 1) / j->mb * j->K, cap;
        float *col;

        if (lo >= hi)
                return;
        if (rows == 0 || j->ins == 0 || j->cg == 0) {   /* bias only */
                for (int64_t u = lo; u < hi; u++)
                        ct_unit(j, u, NULL, 0);
                return;
        }
        /* COL_FLOATS, less when all the columns take less, and never less
         * than one column (rows * ins was checked not to overflow) */
        cap = rows * j->ins < COL_FLOATS ? rows * j->ins : COL_FLOATS;
        if (cap < rows)
                cap = rows;
        col = malloc((size_t)cap * sizeof(float));
        if (!col) {
                __atomic_store_n(&j->failed, SWARM_ERR_NOMEM,
                                 __ATOMIC_RELAXED);
                return;
        }
        for (int64_t u = lo; u < hi; u++)
                ct_unit(j, u, col, cap);
        free(col);
}

int exec_cpu_conv_transpose(swarm_backend_t *be, const swarm_convt_t *g,
                            const void *x, const void *w, const void *bias,
                            void *y, swarm_err_t *err) {
        ct_job_t j;
        int64_t ng, t, rows, macs;
        int lanes = be->threads > 1 ? be->threads : 1;

        memset(&j, 0, sizeof(j));
        j.be = be;
        j.g = g;
        j.x = x;
        j.w = w;
        j.bias = bias;
        j.y = y;
        j.K = 1;
        j.ins = 1;
        j.ous = 1;
        if (g->n < 0 || g->c < 0 || g->m < 0 || g->group < 1 ||
            g->c % g->group || g->m % g->group)
                goto bad;
        for (int d = 0; d < 3; d++)
                if (g->in[d] < 0 || g->out[d] < 0 || g->k[d] < 0 ||
                    g->stride[d] < 1 || g->dil[d] < 1 || g->pad[d] < 0 ||
                    swarm_mul_i64(j.K, g->k[d], &j.K) ||
                    swarm_mul_i64(j.ins, g->in[d], &j.ins) ||
                    swarm_mul_i64(j.ous, g->out[d], &j.ous) ||
                    /* landings i * stride + k * dil fit in an int64 */
                    swarm_mul_i64(g->in[d], g->stride[d], &t) ||
                    swarm_mul_i64(g->k[d], g->dil[d], &t))
                        goto bad;
        j.cg = g->c / g->group;
        j.mg = g->m / g->group;
        /* the GEMM's sizes and the tensors' element counts */
        if (swarm_mul_i64(j.mg, j.K, &rows) || rows > INT32_MAX ||
            j.cg > INT32_MAX || j.ins > INT32_MAX ||
            swarm_mul_i64(g->c, j.ins, &t) ||
            swarm_mul_i64(t, g->n, &t) ||
            swarm_mul_i64(g->m, j.ous, &t) || swarm_mul_i64(t, g->n, &t) ||
            swarm_mul_i64(g->c, rows, &t) ||
            swarm_mul_i64(rows, j.ins, &macs) ||
            swarm_mul_i64(macs, j.cg, &macs) ||
            swarm_mul_i64(macs, g->n, &macs))
                goto bad;
        if (g->n == 0 || g->m == 0 || j.ous == 0)
                return SWARM_OK;
        ng = g->n * g->group;
        j.mb = ng >= lanes ? 1 : (j.mg < lanes ? (j.mg ? j.mg : 1) : lanes);
        exec_cpu_par_run(be, lanes > 1 && macs >= CT_PAR_MIN &&
                         ng * j.mb > 1, ct_part, &j);
        if (j.failed == SWARM_ERR_NOMEM)
                return swarm_err_set(err, SWARM_ERR_NOMEM,
                                     "cpu: conv_transpose: out of memory");
        if (j.failed)
                return swarm_err_set(err, SWARM_ERR_BACKEND,
                                     "cpu: conv_transpose: gemm failed");
        return SWARM_OK;
bad:
        return swarm_err_set(err, SWARM_ERR_INVALID,
                             "cpu: conv_transpose: bad geometry");
}
