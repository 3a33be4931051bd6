/*
 * cpu_avgsum.c - average pooling of large windows by prefix sums (see
 * cpu_avgsum.h).
 *
 * The per-cell loop of backend_cpu.c visits every tap of every window:
 * outputs x taps, up to the executor's bound of 2^30 per image, which
 * fuzz_onnx's MaxPool twin showed is seconds a request (an AveragePool of
 * 1,000 x 4 over a 65,535 x 14 plane: 21 s under the sanitizers, a second
 * in a release build).  A window's sum is instead the difference of two
 * prefix sums, one pass down the plane's rows and one along each window
 * row, so the cost is a few operations per input value and per output
 * whatever the kernel.
 *
 * A window's taps e, e + d, ... are consecutive elements of one residue
 * class mod the dilation d: the prefix runs within each class (element e
 * adds to e - d), and the window a .. b is P[b] - P[a - d].  Sums are in
 * double (differences of large prefixes keep the taps' float precision).
 * A prefix carries infinities and NaN to every later element, so those
 * are counted apart (NaN, +inf, -inf) and the finite part summed: a
 * window is NaN with a NaN or both infinities, else the infinity it has,
 * else its finite mean.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_avgsum.h"
#include "cpu_par.h"
#include "cpu_pool.h"
#include "swarm/tensor.h"

/* Output elements from which planes split across lanes (as cpu_pool.c). */
#define AS_PAR_MIN EXEC_CPU_PAR_MIN_ELEMS
/* Taps visited per prefix-sum operation at which the sums take over:
 * each input value costs a prefix step (a double add and three counts),
 * each window row a difference of two rows, each output a difference
 * and a division; a tap of the per-cell loop is a load and an add. */
#define AS_TAPS_PER_OP 8.0

/* Non-finite values counted along a prefix. */
typedef struct spec {
        int32_t nan, pinf, ninf;
} spec_t;

typedef struct spec64 {
        int64_t nan, pinf, ninf;
} spec64_t;

typedef struct as_job {
        const swarm_window_t *w;
        const float *x;
        float *y;
        int include_pad;
        unsigned char *buf;     /* per part: `part_bytes` of scratch */
        size_t part_bytes;
} as_job_t;

/* The taps of one dimension's window at `start` (pool_cell's counting):
 * [*k0, *k1) inside [0, len), and `*padded` up to len + pad_end. */
static void dim_taps(int64_t start, int64_t k, int64_t d, int64_t len,
                     int64_t pad_end, int64_t *k0, int64_t *k1,
                     int64_t *padded) {
        int64_t unused;

        exec_pool_taps(start, k, d, start, len + pad_end, &unused, padded);
        exec_pool_taps(start, k, d, 0, len, k0, k1);
}

static inline void spec_add(spec_t *s, float v) {
        s->nan += v != v;
        s->pinf += v == INFINITY;
        s->ninf += v == -INFINITY;
}

/* The mean of a window from its finite sum, its non-finite counts and
 * its divisor. */
static float mean_of(double sum, const spec64_t *s, int64_t div) {
        if (s->nan > 0 || (s->pinf > 0 && s->ninf > 0))
                return NAN;
        if (s->pinf > 0)
                return INFINITY;
        if (s->ninf > 0)
                return -INFINITY;
        return div > 0 ? (float)(sum / (double)div) : 0.0f;
}

static void as_plane(const as_job_t *j, const float *xp, float *yp,
                     unsigned char *scratch) {
        const swarm_window_t *w = j->w;
        int64_t h = w->h, wd = w->w, dh = w->dh, dw = w->dw;
        double *p = (double *)scratch;          /* h x wd prefix sums */
        double *r = p + h * wd;                 /* a window row's sums */
        double *q = r + wd;                     /* their prefix along it */
        spec64_t *qs = (spec64_t *)(q + wd);    /* its non-finite counts */
        spec_t *ps = (spec_t *)(qs + wd);       /* h x wd counts */
        spec_t *rs = ps + h * wd;               /* the window row's */

        /* down each column, within each residue class of rows mod dh */
        for (int64_t iy = 0; iy < h; iy++) {
                const float *xr = xp + iy * wd;
                double *pr = p + iy * wd;
                spec_t *sr = ps + iy * wd;
                for (int64_t c = 0; c < wd; c++) {
                        float v = xr[c];
                        spec_t s = iy >= dh ? sr[c - dh * wd] : (spec_t){0, 0, 0};
                        double prev = iy >= dh ? pr[c - dh * wd] : 0.0;
                        spec_add(&s, v);
                        pr[c] = prev + (isfinite(v) ? (double)v : 0.0);
                        sr[c] = s;
                }
        }
        for (int64_t oy = 0; oy < w->oh; oy++) {
                int64_t y0 = oy * w->sh - w->pad_t, ky0, ky1, py;
                float *yr = yp + oy * w->ow;

                dim_taps(y0, w->kh, dh, h, w->pad_b, &ky0, &ky1, &py);
                if (ky0 >= ky1) {
                        for (int64_t ox = 0; ox < w->ow; ox++)
                                yr[ox] = 0.0f;
                        continue;
                }
                {
                        int64_t a = y0 + ky0 * dh, b = y0 + (ky1 - 1) * dh;
                        const double *pb = p + b * wd;
                        const double *pa = a >= dh ? p + (a - dh) * wd : NULL;
                        const spec_t *sb = ps + b * wd;
                        const spec_t *sa = a >= dh ? ps + (a - dh) * wd : NULL;
                        for (int64_t c = 0; c < wd; c++) {
                                r[c] = pb[c] - (pa ? pa[c] : 0.0);
                                rs[c] = sb[c];
                                if (sa) {
                                        rs[c].nan -= sa[c].nan;
                                        rs[c].pinf -= sa[c].pinf;
                                        rs[c].ninf -= sa[c].ninf;
                                }
                        }
                }
                /* along the window row, within each class of columns */
                for (int64_t c = 0; c < wd; c++) {
                        spec64_t s = c >= dw ? qs[c - dw] : (spec64_t){0, 0, 0};
                        q[c] = r[c] + (c >= dw ? q[c - dw] : 0.0);
                        s.nan += rs[c].nan;
                        s.pinf += rs[c].pinf;
                        s.ninf += rs[c].ninf;
                        qs[c] = s;
                }
                for (int64_t ox = 0; ox < w->ow; ox++) {
                        int64_t x0 = ox * w->sw - w->pad_l, kx0, kx1, px;
                        int64_t a, b, div;
                        spec64_t s;
                        double sum;

                        dim_taps(x0, w->kw, dw, wd, w->pad_r, &kx0, &kx1, &px);
                        if (kx0 >= kx1) {
                                yr[ox] = 0.0f;
                                continue;
                        }
                        a = x0 + kx0 * dw;
                        b = x0 + (kx1 - 1) * dw;
                        sum = q[b] - (a >= dw ? q[a - dw] : 0.0);
                        s = qs[b];
                        if (a >= dw) {
                                s.nan -= qs[a - dw].nan;
                                s.pinf -= qs[a - dw].pinf;
                                s.ninf -= qs[a - dw].ninf;
                        }
                        /* py, px: at most kh, kw (< 2^31 each) */
                        div = j->include_pad ? py * px
                                             : (ky1 - ky0) * (kx1 - kx0);
                        yr[ox] = mean_of(sum, &s, div);
                }
        }
}

static void as_part(void *arg, int part, int parts) {
        const as_job_t *j = arg;
        const swarm_window_t *w = j->w;
        int64_t p0 = w->n * part / parts, p1 = w->n * (part + 1) / parts;

        for (int64_t p = p0; p < p1; p++)
                as_plane(j, j->x + p * w->h * w->w, j->y + p * w->oh * w->ow,
                         j->buf + (size_t)part * j->part_bytes);
}

/* Bytes of one part's scratch, 0 when they overflow. */
static size_t part_bytes(const swarm_window_t *w) {
        int64_t cells, per_cell, per_col, all;

        per_cell = (int64_t)(sizeof(double) + sizeof(spec_t));
        per_col = (int64_t)(2 * sizeof(double) + sizeof(spec64_t) +
                            sizeof(spec_t));
        if (swarm_mul_i64(w->h, w->w, &cells) ||
            swarm_mul_i64(cells, per_cell, &cells) ||
            swarm_mul_i64(w->w, per_col, &all) ||
            swarm_add_i64(all, cells, &all) || (uint64_t)all > SIZE_MAX)
                return 0;
        return (size_t)all;
}

int exec_cpu_avgsum_ok(const swarm_window_t *w) {
        int64_t th, tw;
        double outs, taps, ops;

        if (w->n < 0 || w->h < 1 || w->w < 1 || w->oh < 1 || w->ow < 1 ||
            w->h > INT32_MAX || w->w > INT32_MAX || w->kh < 1 || w->kw < 1 ||
            w->kh > INT32_MAX || w->kw > INT32_MAX || w->sh < 1 ||
            w->sw < 1 || w->dh < 1 || w->dw < 1 || w->pad_t < 0 ||
            w->pad_l < 0 || w->pad_b < 0 || w->pad_r < 0 || !part_bytes(w))
                return 0;
        /* the taps inside the input a window has at most */
        th = (w->h + w->dh - 1) / w->dh;
        tw = (w->w + w->dw - 1) / w->dw;
        th = w->kh < th ? w->kh : th;
        tw = w->kw < tw ? w->kw : tw;
        outs = (double)w->oh * (double)w->ow;
        taps = outs * (double)th * (double)tw;
        ops = (double)w->h * (double)w->w + (double)w->oh * (double)w->w +
              outs;
        return taps > AS_TAPS_PER_OP * ops;
}

int exec_cpu_avgsum(swarm_backend_t *be, const swarm_window_t *w,
                    int include_pad, const float *x, float *y,
                    swarm_err_t *err) {
        as_job_t j = {w, x, y, include_pad, NULL, 0};
        int lanes = be->threads > 1 ? be->threads : 1;
        int64_t outs;

        if (!exec_cpu_avgsum_ok(w))
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "avgpool: window not for prefix sums");
        if (w->n == 0)
                return SWARM_OK;
        if (swarm_mul_i64(w->oh, w->ow, &outs) ||
            swarm_mul_i64(outs, w->n, &outs))
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "avgpool: output size overflows");
        j.part_bytes = part_bytes(w);
        /* doubles first in each part: keep every part 8-byte aligned */
        j.part_bytes = (j.part_bytes + 7) & ~(size_t)7;
        if (j.part_bytes > SIZE_MAX / (size_t)lanes ||
            !(j.buf = malloc(j.part_bytes * (size_t)lanes)))
                return swarm_err_set(err, SWARM_ERR_NOMEM,
                                     "avgpool: out of memory for %zu bytes of "
                                     "prefix sums", j.part_bytes);
        exec_cpu_par_run(be, outs >= AS_PAR_MIN && w->n >= 2, as_part, &j);
        free(j.buf);
        return SWARM_OK;
}
