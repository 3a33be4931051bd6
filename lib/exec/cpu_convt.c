/*
 * cpu_convt.c - transposed convolution on the CPU (backend.h
 * `conv_transpose`), by output phases or by GEMM + col2im.
 *
 * Phases (dilation 1, the common case): output positions o = ph + s * a
 * of one phase ph (mod the stride s, per dim) are reached only by the taps
 * t = r + s * u with r = (ph + pad) mod s, from input a + c - u (c =
 * (ph + pad - r) / s).  So each phase is an ordinary correlation of the
 * input with a sub-kernel of ceil((k - r) / s) taps per dim: im2col of
 * shifted input rows, one GEMM ([mg, cg * taps] x [cg * taps, positions],
 * bias in its epilogue), and a strided store into the phase's positions.
 * Phases partition the output, so nothing is added twice and no plane is
 * cleared first; for the stride-2 4x4 upsampling of a segmentation head
 * the GEMM has K = 4 * cg instead of the col2im form's cg, and the
 * scatter-add of 16 taps per output becomes one store.
 *
 * GEMM + col2im (any dilation, or more than PH_MAX phases): the columns
 * col = W^T X ([mg * K, ins]: W is [cg, mg * K], X the image's [cg, ins])
 * hold every output channel and tap's contribution of every input
 * position; col2im adds row (m, tap) into output plane m where that tap
 * lands.
 *
 * Work units never share an output element: (image, group, phase) in the
 * phase form; (image, group, block of output channels) in the other, with
 * blocks only when there are fewer images x groups than lanes.  A lane's
 * scratch is COL_FLOATS (more only when one row of the work needs it).
 */
#include <stdlib.h>
#include <string.h>

#include "swarm/tensor.h"
#include "cpu_convt.h"
#include "cpu_par.h"

/* Floats of columns one lane makes at a time. */
#define COL_FLOATS ((int64_t)64 * 1024)
/* Multiply-adds from which splitting across lanes pays. */
#define CT_PAR_MIN EXEC_CPU_PAR_MIN_MACS

/* Most output phases (product of the strides) the phase form takes, and
 * the most scratch floats one row of a phase may need. */
#define PH_MAX 64
#define PH_ROW_MAX ((int64_t)1 << 24)

/* One output phase: per dim the phase ph, the tap residue r, the sub-
 * kernel's taps U, the phase's output positions A and the input offset c;
 * kk = cg * U0 * U1 * U2 (the GEMM's K) and woff its packed filters. */
typedef struct ct_phase {
        int64_t ph[3], r[3], U[3], A[3], c[3];
        int64_t kk, woff;
} ct_phase_t;

typedef struct ct_job {
        swarm_backend_t *be;
        const swarm_convt_t *g;
        const float *x, *w, *bias;
        float *y;
        int64_t cg, mg, K, ins, ous, mb;        /* mb: channel blocks */
        /* the phase form: n_ph phases (0: col2im), filters packed per
         * phase as [group, mg, cg, U0, U1, U2], lane scratch floats */
        int n_ph;
        ct_phase_t ph[PH_MAX];
        float *wp;
        int64_t cap;
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

static void zero(float *restrict p, int64_t n) {
        for (int64_t i = 0; i < n; i++)
                p[i] = 0.0f;
}

/* The A1 x A2 columns of one im2col row of a phase, for one input plane
 * xp (NULL: outside the input): column (a1, a2) reads xp[a1 + e1, a2 + d2],
 * 0 outside.  When the phase is as wide as the input (a stride-s kernel of
 * 2s taps, say) the rows are one shifted copy of the plane, and only the
 * columns outside get fixed afterwards: a row at a time, the copies cost
 * more in set-up than in floats. */
static void ph_fill(float *restrict cr, const float *xp, int64_t in1,
                    int64_t in2, int64_t A1, int64_t A2, int64_t e1,
                    int64_t d2) {
        int64_t lo = d2 < 0 ? -d2 : 0, hi = in2 - d2 < A2 ? in2 - d2 : A2;
        int64_t v1s = e1 < 0 ? -e1 : 0, v1e = in1 - e1 < A1 ? in1 - e1 : A1;

        if (!xp || lo >= hi || v1s >= v1e) {
                zero(cr, A1 * A2);
                return;
        }
        zero(cr, v1s * A2);
        zero(cr + v1e * A2, (A1 - v1e) * A2);
        if (A2 == in2) {
                /* column f of the block reads plane element f + off */
                int64_t off = e1 * in2 + d2, f0 = v1s * A2, f1 = v1e * A2;
                if (f0 + off < 0)
                        f0 = -off;
                if (f1 + off > in1 * in2)
                        f1 = in1 * in2 - off;
                if (f1 > f0)
                        memcpy(cr + f0, xp + (f0 + off),
                               (size_t)(f1 - f0) * sizeof(float));
                /* the clipped ends are such columns too */
                for (int64_t a1 = v1s; a1 < v1e; a1++) {
                        zero(cr + a1 * A2, lo);
                        zero(cr + a1 * A2 + hi, A2 - hi);
                }
                return;
        }
        for (int64_t a1 = v1s; a1 < v1e; a1++) {
                const float *restrict xr = xp + ((a1 + e1) * in2 + d2 + lo);
                float *restrict cw = cr + a1 * A2;
                zero(cw, lo);
                for (int64_t q = lo; q < hi; q++)
                        cw[q] = xr[q - lo];
                zero(cw + hi, A2 - hi);
        }
}

/* Unit u of the phase form: image, group, phase. */
static void ph_unit(ct_job_t *j, int64_t u, float *scr) {
        const swarm_convt_t *g = j->g;
        const ct_phase_t *p = &j->ph[u % j->n_ph];
        int64_t ng = u / j->n_ph, gi = ng % g->group, nn = ng / g->group;
        int64_t A0 = p->A[0], A1 = p->A[1], A2 = p->A[2];
        int64_t row = A1 * A2, per = p->kk + j->mg, rpc;
        int64_t in0 = g->in[0], in1 = g->in[1], in2 = g->in[2];
        int64_t o1n = g->out[1], o2n = g->out[2];
        int64_t s0 = g->stride[0], s1 = g->stride[1], s2 = g->stride[2];
        const float *xg = j->x + (nn * g->c + gi * j->cg) * j->ins;
        float *yg = j->y + (nn * g->m + gi * j->mg) * j->ous;
        swarm_gemm_t gm;
        swarm_err_t e;

        if (A0 * row == 0)
                return;
        if (p->kk == 0) {       /* no tap reaches this phase: bias */
                for (int64_t m = 0; m < j->mg; m++) {
                        float bv = j->bias ? j->bias[gi * j->mg + m] : 0.0f;
                        for (int64_t a0 = 0; a0 < A0; a0++)
                                for (int64_t a1 = 0; a1 < A1; a1++) {
                                        float *yr = yg + m * j->ous +
                                                ((p->ph[0] + s0 * a0) * o1n +
                                                 p->ph[1] + s1 * a1) * o2n +
                                                p->ph[2];
                                        for (int64_t a2 = 0; a2 < A2; a2++)
                                                yr[s2 * a2] = bv;
                                }
                }
                return;
        }
        /* rows of a0 per chunk: (kk + mg) floats a column */
        rpc = j->cap / (per * row);
        if (rpc < 1)
                rpc = 1;
        memset(&gm, 0, sizeof(gm));
        gm.m = j->mg;
        gm.k = p->kk;
        gm.alpha = 1.0f;
        gm.beta = 1.0f;
        gm.a = j->wp;
        gm.a_off = p->woff + gi * j->mg * p->kk;
        gm.lda = p->kk;
        gm.b = scr;
        gm.c = scr;
        gm.bias = j->bias;
        gm.bias_off = gi * j->mg;
        gm.bias_mode = j->bias ? SWARM_BIAS_COL : SWARM_BIAS_NONE;
        gm.act = SWARM_ACT_NONE;
        for (int64_t c0 = 0; c0 < A0; c0 += rpc) {
                int64_t na = A0 - c0 < rpc ? A0 - c0 : rpc;
                int64_t ncol = na * row;
                float *col = scr, *P = scr + p->kk * ncol;
                float *cr = col;
                int rc;
                /* im2col: row (c, u0, u1, u2), column (a0, a1, a2) reads
                 * x[c, a0 + c0' - u0, a1 + c1' - u1, a2 + c2' - u2] */
                for (int64_t c = 0; c < j->cg; c++)
                for (int64_t u0 = 0; u0 < p->U[0]; u0++)
                for (int64_t u1 = 0; u1 < p->U[1]; u1++)
                for (int64_t u2 = 0; u2 < p->U[2]; u2++)
                        for (int64_t a0 = c0; a0 < c0 + na; a0++) {
                                int64_t i0 = a0 + p->c[0] - u0;
                                ph_fill(cr, i0 >= 0 && i0 < in0
                                            ? xg + (c * in0 + i0) * in1 * in2
                                            : NULL,
                                        in1, in2, A1, A2, p->c[1] - u1,
                                        p->c[2] - u2);
                                cr += row;
                        }
                gm.n = ncol;
                gm.ldb = ncol;
                gm.ldc = ncol;
                gm.c_off = p->kk * ncol;
                /* Inside a lane this runs serially (the pool is ours). */
                if ((rc = j->be->gemm(j->be, &gm, &e))) {
                        __atomic_store_n(&j->failed, rc, __ATOMIC_RELAXED);
                        return;
                }
                /* store the phase's positions */
                for (int64_t m = 0; m < j->mg; m++) {
                        const float *pr = P + m * ncol;
                        for (int64_t a0 = c0; a0 < c0 + na; a0++)
                                for (int64_t a1 = 0; a1 < A1; a1++) {
                                        float *restrict yr = yg +
                                                m * j->ous +
                                                ((p->ph[0] + s0 * a0) * o1n +
                                                 p->ph[1] + s1 * a1) * o2n +
                                                p->ph[2];
                                        const float *restrict q = pr;
                                        if (s2 == 2)
                                                for (int64_t a2 = 0; a2 < A2;
                                                     a2++)
                                                        yr[2 * a2] = q[a2];
                                        else
                                                for (int64_t a2 = 0; a2 < A2;
                                                     a2++)
                                                        yr[s2 * a2] = q[a2];
                                        pr += A2;
                                }
                }
        }
}

static void ph_part(void *arg, int part, int parts) {
        ct_job_t *j = arg;
        int64_t units = j->g->n * j->g->group * j->n_ph;
        int64_t lo = units * part / parts, hi = units * (part + 1) / parts;
        float *scr;

        if (lo >= hi)
                return;
        scr = malloc((size_t)j->cap * sizeof(float));
        if (!scr) {
                __atomic_store_n(&j->failed, SWARM_ERR_NOMEM,
                                 __ATOMIC_RELAXED);
                return;
        }
        for (int64_t u = lo; u < hi; u++)
                ph_unit(j, u, scr);
        free(scr);
}

/* Set up the phase form when it applies (dilation 1, at most PH_MAX
 * phases): the phases, the packed filters and the lane scratch.  Returns
 * 0 (use it), 1 (use col2im) or -1 (out of memory). */
static int ph_plan(ct_job_t *j) {
        const swarm_convt_t *g = j->g;
        int64_t S = 1, off = 0, cap = COL_FLOATS, t;

        for (int d = 0; d < 3; d++) {
                if (g->dil[d] != 1 || g->stride[d] > PH_MAX ||
                    g->pad[d] > INT32_MAX)
                        return 1;
                S *= g->stride[d];
        }
        if (S > PH_MAX)
                return 1;
        j->n_ph = (int)S;
        for (int64_t q = 0; q < S; q++) {
                ct_phase_t *p = &j->ph[q];
                int64_t rem = q, kk = j->cg;
                for (int d = 2; d >= 0; d--) {
                        int64_t s = g->stride[d], ph = rem % s, r;
                        rem /= s;
                        r = (ph + g->pad[d]) % s;
                        p->ph[d] = ph;
                        p->r[d] = r;
                        p->U[d] = r < g->k[d] ? (g->k[d] - r + s - 1) / s
                                              : 0;
                        p->A[d] = ph < g->out[d]
                                  ? (g->out[d] - ph + s - 1) / s : 0;
                        p->c[d] = (ph + g->pad[d] - r) / s;
                        kk *= p->U[d];
                }
                p->kk = kk;
                p->woff = off;
                /* sum of the phases' kk is cg * K: the filters' size */
                off += g->group * j->mg * kk;
                /* one row of a0 must fit the scratch; a row too large
                 * to hold takes col2im, whose scratch is bounded */
                if (swarm_mul_i64(kk + j->mg, p->A[1], &t) ||
                    swarm_mul_i64(t, p->A[2], &t) || t > PH_ROW_MAX)
                        return 1;
                if (t > cap)
                        cap = t;
        }
        j->cap = cap;
        j->wp = malloc((size_t)(off ? off : 1) * sizeof(float));
        if (!j->wp)
                return -1;
        for (int64_t q = 0; q < S; q++) {
                const ct_phase_t *p = &j->ph[q];
                float *o = j->wp + p->woff;
                for (int64_t gi = 0; gi < g->group; gi++)
                for (int64_t m = 0; m < j->mg; m++)
                for (int64_t c = 0; c < j->cg; c++)
                for (int64_t u0 = 0; u0 < p->U[0]; u0++)
                for (int64_t u1 = 0; u1 < p->U[1]; u1++)
                for (int64_t u2 = 0; u2 < p->U[2]; u2++) {
                        int64_t t0 = p->r[0] + g->stride[0] * u0;
                        int64_t t1 = p->r[1] + g->stride[1] * u1;
                        int64_t t2 = p->r[2] + g->stride[2] * u2;
                        *o++ = j->w[((gi * j->cg + c) * j->mg + m) * j->K +
                                    (t0 * g->k[1] + t1) * g->k[2] + t2];
                }
        }
        return 0;
}

int exec_cpu_conv_transpose(swarm_backend_t *be, const swarm_convt_t *g,
                            const void *x, const void *w, const void *bias,
                            void *y, swarm_err_t *err) {
        ct_job_t j;
        int64_t ng, t, rows, macs;
        int lanes = be->threads > 1 ? be->threads : 1, ph;

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
        ph = ph_plan(&j);
        if (ph < 0)
                return swarm_err_set(err, SWARM_ERR_NOMEM,
                                     "cpu: conv_transpose: out of memory");
        if (ph == 0) {
                exec_cpu_par_run(be, lanes > 1 && macs >= CT_PAR_MIN &&
                                 ng * j.n_ph > 1, ph_part, &j);
                free(j.wp);
        } else {
                j.mb = ng >= lanes ? 1 : (j.mg < lanes ? (j.mg ? j.mg : 1)
                                                       : lanes);
                exec_cpu_par_run(be, lanes > 1 && macs >= CT_PAR_MIN &&
                                 ng * j.mb > 1, ct_part, &j);
        }
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
