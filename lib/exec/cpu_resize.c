/*
 * cpu_resize.c - separable resampling on the CPU (backend.h `resample`):
 * Resize and Upsample in every mode whose taps the executor computes
 * (nearest, linear, cubic; every coordinate transformation).
 *
 * The common case resizes only the last two dims of NCHW (a segmentation
 * head's upsampling): each plane's output rows are one vertical blend of
 * `taps` horizontally interpolated input rows, and those input rows are
 * kept in a small per-lane cache, since neighbouring output rows read the
 * same input rows (a 4x bilinear upsampling computes each input row's
 * horizontal pass once instead of eight times).  Any other layout of
 * resized dims takes a per-element loop over the taps' product.
 */
#include <stdlib.h>
#include <string.h>

#include "swarm/tensor.h"
#include "cpu_par.h"
#include "cpu_resize.h"

/* Output elements from which splitting across lanes pays for waking them
 * (as the backend's other memory-bound kernels: 64K). */
#define RS_PAR_MIN EXEC_CPU_PAR_MIN_ELEMS

/* One dim's taps, checked: indices inside the input (an outside one reads
 * index 0 with weight 0 and sets `out`), t taps per output index. */
typedef struct rs_dim {
        int t;
        int64_t *idx;
        float *w;
        unsigned char *out;     /* NULL when no index is outside */
} rs_dim_t;

typedef struct rs_job {
        int nd;
        int64_t in[SWARM_MAX_DIMS], outd[SWARM_MAX_DIMS];
        int64_t xs[SWARM_MAX_DIMS];     /* input strides */
        rs_dim_t dim[SWARM_MAX_DIMS];   /* idx NULL: copied dim */
        /* the 2-D path: planes of ih x iw into oh x ow */
        int64_t planes, ih, iw, oh, ow;
        const rs_dim_t *dy, *dx;
        float ext;
        const float *x;
        float *y;
        int nomem;              /* a lane could not get its row cache */
} rs_job_t;

static void dim_free(rs_dim_t *d) {
        free(d->idx);
        free(d->w);
        free(d->out);
        d->idx = NULL;
        d->w = NULL;
        d->out = NULL;
}

/* Check and copy one dim's table; idx == NULL makes the identity (one tap
 * per index).  Returns SWARM_OK, or an error naming the bad index. */
static int dim_make(rs_dim_t *d, int dn, int taps, int64_t in, int64_t out,
                    const int64_t *idx, const float *wt, swarm_err_t *err) {
        int64_t n;

        d->t = idx ? taps : 1;
        if (swarm_mul_i64(out, d->t, &n) || n > (int64_t)(SIZE_MAX / 8))
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "cpu: resample: dim %d too large", dn);
        d->idx = malloc((size_t)(n ? n : 1) * sizeof(int64_t));
        d->w = malloc((size_t)(n ? n : 1) * sizeof(float));
        if (!d->idx || !d->w)
                return swarm_err_set(err, SWARM_ERR_NOMEM,
                                     "cpu: resample: out of memory");
        for (int64_t i = 0; i < out; i++) {
                int outside = idx && idx[i * taps] == -1;
                for (int k = 0; k < d->t; k++) {
                        int64_t v = idx ? idx[i * taps + k] : i;
                        float w = idx ? wt[i * taps + k] : 1.0f;
                        if (outside) {
                                v = 0;
                                w = 0.0f;
                        } else if (v < 0 || v >= in) {
                                return swarm_err_set(err, SWARM_ERR_INVALID,
                                                     "cpu: resample: index "
                                                     "%lld outside [0, %lld)"
                                                     " in dim %d",
                                                     (long long)v,
                                                     (long long)in, dn);
                        }
                        d->idx[i * d->t + k] = v;
                        d->w[i * d->t + k] = w;
                }
                if (outside) {
                        if (!d->out && !(d->out = calloc((size_t)out, 1)))
                                return swarm_err_set(err, SWARM_ERR_NOMEM,
                                                     "cpu: resample: out of "
                                                     "memory");
                        d->out[i] = 1;
                }
        }
        return SWARM_OK;
}

/* dst[o] = sum over taps of w * src[idx], one input row to ow outputs. */
static void hpass(const rs_dim_t *dx, int64_t ow, const float *restrict src,
                  float *restrict dst) {
        const int64_t *ix = dx->idx;
        const float *wx = dx->w;

        switch (dx->t) {
        case 1:
                for (int64_t o = 0; o < ow; o++)
                        dst[o] = wx[o] * src[ix[o]];
                break;
        case 2:
                for (int64_t o = 0; o < ow; o++)
                        dst[o] = wx[2 * o] * src[ix[2 * o]] +
                                 wx[2 * o + 1] * src[ix[2 * o + 1]];
                break;
        default:
                for (int64_t o = 0; o < ow; o++) {
                        float acc = 0.0f;
                        for (int k = 0; k < dx->t; k++)
                                acc += wx[o * dx->t + k] *
                                       src[ix[o * dx->t + k]];
                        dst[o] = acc;
                }
                break;
        }
}

static void fill(float *p, int64_t n, float v) {
        for (int64_t i = 0; i < n; i++)
                p[i] = v;
}

/* The horizontal pass of tap k of output row oy in plane p, through the
 * cache (see rows_2d); NULL when the tap's weight is 0. */
static const float *vrow(const rs_job_t *j, const rs_dim_t *dy, int64_t oy,
                         int k, int64_t p, float *cache, int64_t *tag,
                         int slots) {
        int64_t iy = dy->idx[oy * dy->t + k], key = p * j->ih + iy;
        int s = (int)(key % slots);

        if (dy->w[oy * dy->t + k] == 0.0f)
                return NULL;
        if (tag[s] != key) {
                hpass(j->dx, j->ow, j->x + key * j->iw, cache + s * j->ow);
                tag[s] = key;
        }
        return cache + s * j->ow;
}

/* Whether output row oy's two taps are different rows sharing a cache
 * slot (tables from elsewhere than the executor's make_taps): the second
 * would evict the first. */
static int same_slot(const rs_job_t *j, const rs_dim_t *dy, int64_t oy,
                     int64_t p, int slots) {
        int64_t k0 = p * j->ih + dy->idx[2 * oy];
        int64_t k1 = p * j->ih + dy->idx[2 * oy + 1];
        return k0 != k1 && k0 % slots == k1 % slots;
}

/* Output rows [lo, hi) of planes * oh.  Horizontal passes of input rows go
 * through a direct-mapped cache of 2 * taps rows keyed by plane and row:
 * the rows an output row blends are consecutive and move forward with it. */
static void rows_2d(rs_job_t *j, int64_t lo, int64_t hi, float *cache,
                    int64_t *tag, int slots) {
        const rs_dim_t *dy = j->dy, *dx = j->dx;
        int64_t ow = j->ow;

        for (int s = 0; s < slots; s++)
                tag[s] = -1;
        for (int64_t r = lo; r < hi; r++) {
                int64_t p = r / j->oh, oy = r % j->oh;
                float *yr = j->y + r * ow;
                const float *xp = j->x + p * j->ih * j->iw;
                int first = 1;

                if (dy->out && dy->out[oy]) {
                        fill(yr, ow, j->ext);
                        continue;
                }
                if (dy->t == 1) {
                        float wy = dy->w[oy];
                        /* nearest: a row repeats its predecessor's */
                        if (r > lo && oy > 0 &&
                            dy->idx[oy] == dy->idx[oy - 1] &&
                            wy == dy->w[oy - 1] &&
                            !(dy->out && dy->out[oy - 1])) {
                                memcpy(yr, yr - ow, (size_t)ow * sizeof(float));
                                continue;
                        }
                        hpass(dx, ow, xp + dy->idx[oy] * j->iw, yr);
                        if (wy != 1.0f)
                                for (int64_t o = 0; o < ow; o++)
                                        yr[o] *= wy;
                } else if (dy->t == 2 && !same_slot(j, dy, oy, p, slots)) {
                        /* linear: one pass over the output row */
                        const float *h0 = vrow(j, dy, oy, 0, p, cache, tag,
                                               slots);
                        const float *h1 = vrow(j, dy, oy, 1, p, cache, tag,
                                               slots);
                        float w0 = dy->w[2 * oy], w1 = dy->w[2 * oy + 1];
                        if (!h0 || !h1) {
                                const float *h = h0 ? h0 : h1;
                                float w = h0 ? w0 : w1;
                                if (h)
                                        for (int64_t o = 0; o < ow; o++)
                                                yr[o] = w * h[o];
                                else
                                        fill(yr, ow, 0.0f);
                        } else {
                                for (int64_t o = 0; o < ow; o++)
                                        yr[o] = w0 * h0[o] + w1 * h1[o];
                        }
                } else {
                        for (int k = 0; k < dy->t; k++) {
                                float wy = dy->w[oy * dy->t + k];
                                int64_t iy = dy->idx[oy * dy->t + k];
                                int64_t key = p * j->ih + iy;
                                int s = (int)(key % slots);
                                const float *restrict hr;
                                if (wy == 0.0f)
                                        continue;
                                if (tag[s] != key) {
                                        hpass(dx, ow, xp + iy * j->iw,
                                              cache + s * ow);
                                        tag[s] = key;
                                }
                                hr = cache + s * ow;
                                if (first) {
                                        for (int64_t o = 0; o < ow; o++)
                                                yr[o] = wy * hr[o];
                                        first = 0;
                                } else {
                                        for (int64_t o = 0; o < ow; o++)
                                                yr[o] += wy * hr[o];
                                }
                        }
                        if (first)
                                fill(yr, ow, 0.0f);
                }
                if (dx->out)
                        for (int64_t o = 0; o < ow; o++)
                                if (dx->out[o])
                                        yr[o] = j->ext;
        }
}

static void part_2d(void *arg, int part, int parts) {
        rs_job_t *j = arg;
        int64_t rows = j->planes * j->oh;
        int64_t lo = rows * part / parts, hi = rows * (part + 1) / parts;
        int slots = j->dy->t > 1 ? 2 * j->dy->t : 1;
        float *cache = NULL;
        int64_t tag[8];

        if (lo >= hi)
                return;
        if (j->dy->t > 1) {
                /* slots * ow floats: ow is a dim of the output, and slots
                 * at most 8 */
                cache = malloc((size_t)(slots * j->ow) * sizeof(float));
                if (!cache) {
                        __atomic_store_n(&j->nomem, 1, __ATOMIC_RELAXED);
                        return;
                }
        }
        rows_2d(j, lo, hi, cache, tag, slots);
        free(cache);
}

/* Any layout: each output element sums its taps' product (in double, as
 * the host kernel does, since this path serves the rare layouts). */
static void part_nd(void *arg, int part, int parts) {
        const rs_job_t *j = arg;
        int nd = j->nd;
        int64_t total = 1, lo, hi, id[SWARM_MAX_DIMS], rem;

        for (int d = 0; d < nd; d++)
                total *= j->outd[d];
        lo = total * part / parts;
        hi = total * (part + 1) / parts;
        if (lo >= hi)
                return;
        rem = lo;
        for (int d = nd - 1; d >= 0; d--) {
                id[d] = rem % j->outd[d];
                rem /= j->outd[d];
        }
        for (int64_t e = lo; e < hi; e++) {
                int k[SWARM_MAX_DIMS] = {0}, outside = 0, d;
                double acc = 0;
                for (d = 0; d < nd; d++)
                        if (j->dim[d].out && j->dim[d].out[id[d]])
                                outside = 1;
                if (outside) {
                        j->y[e] = j->ext;
                } else {
                        for (;;) {
                                double w = 1;
                                int64_t at = 0;
                                for (d = 0; d < nd; d++) {
                                        const rs_dim_t *t = &j->dim[d];
                                        int64_t q = id[d] * t->t + k[d];
                                        w *= t->w[q];
                                        at += t->idx[q] * j->xs[d];
                                }
                                if (w != 0)
                                        acc += w * j->x[at];
                                for (d = nd - 1; d >= 0; d--) {
                                        if (++k[d] < j->dim[d].t)
                                                break;
                                        k[d] = 0;
                                }
                                if (d < 0)
                                        break;
                        }
                        j->y[e] = (float)acc;
                }
                for (d = nd - 1; d >= 0; d--) {
                        if (++id[d] < j->outd[d])
                                break;
                        id[d] = 0;
                }
        }
}

int exec_cpu_resample(swarm_backend_t *be, int ndim, const int64_t *in,
                      const int64_t *out, int taps, const int64_t *const *idx,
                      const float *const *wt, float extrapolation,
                      const void *x, void *y, swarm_err_t *err) {
        rs_job_t j;
        int64_t total = 1, itotal = 1;
        int rc = SWARM_OK, flat = 1;

        memset(&j, 0, sizeof(j));
        if (ndim < 1 || ndim > SWARM_MAX_DIMS ||
            (taps != 1 && taps != 2 && taps != 4))
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "cpu: resample of %d dims, %d taps",
                                     ndim, taps);
        for (int d = 0; d < ndim; d++) {
                if (in[d] < 0 || out[d] < 0 ||
                    swarm_mul_i64(total, out[d], &total) ||
                    swarm_mul_i64(itotal, in[d], &itotal) ||
                    (!idx[d] && in[d] != out[d]) || (idx[d] && !wt[d]))
                        return swarm_err_set(err, SWARM_ERR_INVALID,
                                             "cpu: resample: bad dim %d "
                                             "(%lld -> %lld)", d,
                                             (long long)in[d],
                                             (long long)out[d]);
        }
        if (total == 0)
                return SWARM_OK;
        if (itotal == 0)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "cpu: resample of an empty input into "
                                     "a non-empty output");
        j.nd = ndim;
        j.ext = extrapolation;
        j.x = x;
        j.y = y;
        for (int d = 0; d < ndim; d++) {
                j.in[d] = in[d];
                j.outd[d] = out[d];
                if (idx[d] && d < ndim - 2)
                        flat = 0;
        }
        j.xs[ndim - 1] = 1;
        for (int d = ndim - 2; d >= 0; d--)
                j.xs[d] = j.xs[d + 1] * in[d + 1];
        if (flat) {
                /* Only the last two dims are resized: planes of the rest
                 * (copied dims, so in == out there). */
                int dh = ndim - 2;
                rs_dim_t one;
                j.planes = 1;
                for (int d = 0; d < ndim - 2; d++)
                        j.planes *= out[d];
                j.iw = in[ndim - 1];
                j.ow = out[ndim - 1];
                j.ih = dh >= 0 ? in[dh] : 1;
                j.oh = dh >= 0 ? out[dh] : 1;
                memset(&one, 0, sizeof(one));
                if ((rc = dim_make(&j.dim[ndim - 1], ndim - 1, taps, j.iw,
                                   j.ow, idx[ndim - 1], wt[ndim - 1], err)) ||
                    (rc = dh >= 0 ? dim_make(&j.dim[dh], dh, taps, j.ih, j.oh,
                                             idx[dh], wt[dh], err)
                                  : dim_make(&one, 0, taps, 1, 1, NULL, NULL,
                                             err)))
                        goto out;
                j.dx = &j.dim[ndim - 1];
                j.dy = dh >= 0 ? &j.dim[dh] : &one;
                exec_cpu_par_run(be, total >= RS_PAR_MIN &&
                                 j.planes * j.oh > 1, part_2d, &j);
                dim_free(&one);
                if (__atomic_load_n(&j.nomem, __ATOMIC_RELAXED))
                        rc = swarm_err_set(err, SWARM_ERR_NOMEM,
                                           "cpu: resample: out of memory");
                goto out;
        }
        for (int d = 0; d < ndim; d++)
                if ((rc = dim_make(&j.dim[d], d, taps, in[d], out[d], idx[d],
                                   wt[d], err)))
                        goto out;
        exec_cpu_par_run(be, total >= RS_PAR_MIN, part_nd, &j);
out:
        for (int d = 0; d < ndim; d++)
                dim_free(&j.dim[d]);
        return rc;
}
