/*
 * shaped.c - models with symbolic non-batch dimensions (sequence length,
 * image height and width).
 *
 * The loader infers and folds every shape at load time, with only the batch
 * left symbolic (model_internal.h).  A model whose other input dims are
 * symbolic is therefore a family of such plans: when a batch forms, its
 * actual input shapes fix the symbolic dims, and the plan for those values
 * (shapes, folded shape chains, memory plan, weights) is loaded once and
 * kept in a bounded cache, least recently used evicted.  Shape chains that
 * depend on the sequence length fold per plan, so no integer arithmetic is
 * left for run time.  The cost: each cached plan holds its own copy of the
 * weights, and a new shape costs one load.
 *
 * At load the family loads two probe plans (symbolic dims at two different
 * values) to check the model and to tell which output dims follow the
 * symbolic ones.
 *
 * A model refused with a symbolic batch only because of the batch (its
 * value feeds a shape chain, or it moves off dim 0) is a family with the
 * batch among the dims (param "#batch"), fixed per plan.  Such plans are
 * keyed on batch buckets (powers of two) so that batches of 1..64 rows need
 * 7 plans, not 64; a batch runs padded to its bucket with copies of its
 * last row, and only its own rows' outputs are handed out.  That is right
 * when rows are independent, which the family tests when it loads
 * (rows_independent) and the worker's batching assumes anyway (docs/exec.md
 * "Shape chains through the batch").
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

/* The batch of the two probe plans of a family with the batch fixed per
 * plan: values no shape formula of the other dims' probes (64, 32, ...)
 * is likely to give, so an output dim at these values is the batch. */
#define BATCH_PROBE1 3
#define BATCH_PROBE2 5

typedef struct xplan {
        int64_t key[64];        /* the value of each group */
        swarm_model_t *plan;
        uint64_t used;
} xplan_t;

struct xshaped {
        void *buf;
        size_t len;
        swarm_tensor_t *bind;   /* deep copies */
        int n_bind;
        char *dir;
        swarm_backend_t *be;
        xsymdim_t *dims;
        int n_dims, n_groups;
        xplan_t cache[SWARM_MODEL_SHAPE_CACHE];
        int n_cache;
        uint64_t tick;
        char **names;           /* io names, owned */
        int n_names;
        /* The batch fixed per plan (a dim of param "#batch"): its group,
         * else -1.  `pad`: plans are keyed on batch buckets (powers of
         * two) and a batch is padded up to its bucket with copies of its
         * last row; the padded rows' outputs are dropped. */
        int bgroup;
        int pad;
        void **stage;           /* per input: the padded batch */
        size_t *stage_cap;
};

void exec_shaped_destroy(swarm_model_t *m) {
        struct xshaped *sh = m->sh;
        if (!sh)
                return;
        for (int i = 0; i < sh->n_cache; i++)
                swarm_model_destroy(sh->cache[i].plan);
        for (int i = 0; i < sh->n_bind; i++) {
                free((void *)sh->bind[i].name.ptr);
                free((void *)sh->bind[i].data);
        }
        for (int i = 0; i < sh->n_dims; i++) {
                free(sh->dims[i].input);
                free(sh->dims[i].param);
        }
        for (int i = 0; sh->stage && i < m->n_in; i++)
                free(sh->stage[i]);
        free(sh->stage);
        free(sh->stage_cap);
        for (int i = 0; i < sh->n_names; i++)
                free(sh->names[i]);
        free(sh->names);
        free(sh->dims);
        free(sh->bind);
        free(sh->buf);
        free(sh->dir);
        free(sh);
        m->sh = NULL;
}

/* Load the plan for group values key[]. */
static int load_plan(struct xshaped *sh, const int64_t *key,
                     swarm_model_t **out, int *batch_bound,
                     swarm_err_t *err) {
        xdimval_t dv[64];
        for (int i = 0; i < sh->n_dims; i++) {
                dv[i].input = sh->dims[i].input;
                dv[i].dim = sh->dims[i].dim;
                dv[i].value = key[sh->dims[i].group];
        }
        return exec_load_plan(sh->buf, sh->len, sh->bind, sh->n_bind,
                              sh->dir, sh->be, dv, sh->n_dims, out,
                              batch_bound, err);
}

static void cache_put(struct xshaped *sh, const int64_t *key,
                      swarm_model_t *plan) {
        int slot = sh->n_cache;
        if (slot == SWARM_MODEL_SHAPE_CACHE) {
                slot = 0;
                for (int i = 1; i < sh->n_cache; i++)
                        if (sh->cache[i].used < sh->cache[slot].used)
                                slot = i;
                swarm_model_destroy(sh->cache[slot].plan);
        } else {
                sh->n_cache++;
        }
        memset(&sh->cache[slot], 0, sizeof(sh->cache[slot]));
        memcpy(sh->cache[slot].key, key, sizeof(int64_t) * (size_t)sh->n_groups);
        sh->cache[slot].plan = plan;
        sh->cache[slot].used = ++sh->tick;
}

/* Whether the plans of a batch-fixed family keep rows apart, tested on
 * the probe shape: p3 runs rows [r0 r1 r2], p5 the rows [q0 q1 r0 r1 r2];
 * rows r0..r2 must come out the same (float outputs within 1e-4 of their
 * largest value, others equal) in both.  A model that reduces, softmaxes or
 * concatenates across the batch, or uses a row's position (Range(0, N) as
 * a value) fails this; the loader's symbolic-batch pass cannot see such
 * nodes behind a batch-bound refusal.  Inputs: FLOAT32 rows of pseudo-random
 * values in [0, 1), other dtypes zeros (ids in any vocabulary, an all-zero
 * mask).  Outputs whose leading dim is not the batch are not compared.
 * Returns SWARM_OK, UNSUPPORTED naming the output, or the run's error. */
static int rows_independent(swarm_model_t *p3, swarm_model_t *p5,
                            swarm_err_t *err) {
        const void *in3[64], *in5[64], *o3[64], *o5[64];
        void *bufs[128] = {NULL};
        uint32_t rng = 0x9e3779b9u;
        int nb = 0, rc = SWARM_OK;

        if (p3->n_in > 64 || p3->n_out > 64 || p5->n_in != p3->n_in ||
            p5->n_out != p3->n_out)
                return swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                     "too many inputs or outputs to check "
                                     "that rows stay apart");
        for (int i = 0; i < p3->n_in; i++) {
                const swarm_model_io_t *a = &p3->in_io[i], *b = &p5->in_io[i];
                int64_t e3 = swarm_shape_elems(a->shape, a->ndim);
                int64_t e5 = swarm_shape_elems(b->shape, b->ndim);
                size_t es = swarm_dtype_size(a->dtype);
                if (e3 < 0 || e5 < 0 || a->ndim < 1 || a->shape[0] != 3 ||
                    b->shape[0] != 5 || e3 / 3 != e5 / 5 ||
                    (uint64_t)e5 > SIZE_MAX / 8 / (es ? es : 1)) {
                        rc = swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                           "input '%s' does not lead with "
                                           "the batch", a->name);
                        goto out;
                }
                bufs[nb] = calloc((size_t)e3 + 1, es);
                bufs[nb + 1] = calloc((size_t)e5 + 1, es);
                if (!bufs[nb] || !bufs[nb + 1]) {
                        rc = swarm_err_set(err, SWARM_ERR_NOMEM,
                                           "out of memory");
                        goto out;
                }
                if (a->dtype == SWARM_DTYPE_FLOAT32) {
                        float *f5 = bufs[nb + 1];
                        for (int64_t k = 0; k < e5; k++) {
                                rng = rng * 1664525u + 1013904223u;
                                f5[k] = (float)(rng >> 8) / 16777216.0f;
                        }
                }
                /* r0..r2 are the last three rows of the batch of 5 */
                memcpy(bufs[nb], (char *)bufs[nb + 1] +
                       (size_t)(e5 / 5) * 2 * es, (size_t)e3 * es);
                in3[i] = bufs[nb];
                in5[i] = bufs[nb + 1];
                nb += 2;
        }
        if ((rc = swarm_model_run(p3, 3, in3, o3, err)) ||
            (rc = swarm_model_run(p5, 5, in5, o5, err)))
                goto out;
        for (int i = 0; i < p3->n_out; i++) {
                const swarm_model_io_t *a = &p3->out_io[i], *b = &p5->out_io[i];
                int64_t e3 = swarm_shape_elems(a->shape, a->ndim);
                int64_t e5 = swarm_shape_elems(b->shape, b->ndim);
                size_t es = swarm_dtype_size(a->dtype);
                const char *g5;
                double big = 0;
                if (a->ndim < 1 || a->shape[0] != 3 || b->ndim != a->ndim ||
                    b->shape[0] != 5 || e3 < 0 || e5 < 0 ||
                    e3 / 3 != e5 / 5)
                        continue;
                g5 = (const char *)o5[i] + (size_t)(e5 / 5) * 2 * es;
                if (a->dtype != SWARM_DTYPE_FLOAT32) {
                        if (memcmp(o3[i], g5, (size_t)e3 * es) == 0)
                                continue;
                } else {
                        const float *x = o3[i], *y = (const float *)g5;
                        int64_t k;
                        for (k = 0; k < e3; k++)
                                if (fabs(x[k]) > big)
                                        big = fabs(x[k]);
                        for (k = 0; k < e3; k++)
                                if (!(fabs((double)x[k] - y[k]) <=
                                      1e-4 * big) &&
                                    !(isnan(x[k]) && isnan(y[k])))
                                        break;
                        if (k == e3)
                                continue;
                }
                rc = swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                   "output '%s' of a row changes with the "
                                   "rows beside it (the model mixes rows or "
                                   "uses their position)", a->name);
                goto out;
        }
out:
        for (int i = 0; i < nb; i++)
                free(bufs[i]);
        return rc;
}

static char *own(struct xshaped *sh, const char *s) {
        char *c = strdup(s ? s : "");
        if (c)
                sh->names[sh->n_names++] = c;
        return c;
}

int exec_shaped_new(const void *buf, size_t len, const swarm_tensor_t *bind,
                    int n_bind, const char *dir, swarm_backend_t *be,
                    xsymdim_t *dims, int n_dims, swarm_model_t **out,
                    int *batch_bound, swarm_err_t *err) {
        static const int64_t probes[] = {64, 32, 16, 8, 1, 224};
        swarm_model_t *m = calloc(1, sizeof(*m)), *p1 = NULL, *p2 = NULL;
        struct xshaped *sh = calloc(1, sizeof(*sh));
        int64_t k1[64], k2[64], a = -1, b = -1;
        const char *nb_param = "";
        int pad = 1;
        size_t np = sizeof(probes) / sizeof(probes[0]);
        swarm_err_t first;
        int rc = SWARM_OK;

        *out = NULL;
        swarm_err_clear(&first);
        if (!m || !sh) {
                free(m);
                free(sh);
                for (int i = 0; i < n_dims; i++) {
                        free(dims[i].input);
                        free(dims[i].param);
                }
                free(dims);
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        }
        m->sh = sh;
        m->be = be;
        m->cur_rows = -1;
        m->fixed_rows = -1;
        sh->dims = dims;
        sh->n_dims = n_dims;
        sh->be = be;
        sh->bgroup = -1;
        for (int i = 0; i < n_dims; i++) {
                if (dims[i].group + 1 > sh->n_groups)
                        sh->n_groups = dims[i].group + 1;
                if (strcmp(dims[i].param, "#batch") == 0)
                        sh->bgroup = dims[i].group;
        }
        if (batch_bound)
                *batch_bound = 0;
        sh->buf = malloc(len ? len : 1);
        sh->dir = dir ? strdup(dir) : NULL;
        sh->bind = calloc((size_t)n_bind + 1, sizeof(*sh->bind));
        if (!sh->buf || (dir && !sh->dir) || !sh->bind) {
                rc = swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                goto out;
        }
        if (len)
                memcpy(sh->buf, buf, len);
        sh->len = len;
        for (int i = 0; i < n_bind; i++) {
                char *nm = malloc(bind[i].name.len + 1);
                void *d = malloc(bind[i].size ? bind[i].size : 1);
                sh->bind[i] = bind[i];
                sh->bind[i].name.ptr = nm;
                sh->bind[i].data = d;
                sh->n_bind = i + 1;
                if (!nm || !d) {
                        rc = swarm_err_set(err, SWARM_ERR_NOMEM,
                                           "out of memory");
                        goto out;
                }
                memcpy(nm, bind[i].name.ptr, bind[i].name.len);
                nm[bind[i].name.len] = '\0';
                if (bind[i].size)
                        memcpy(d, bind[i].data, bind[i].size);
        }
        /* Two probes at different values; the first failure is what a
         * model that never loads reports (unsupported nodes listed). */
        for (size_t i = 0; i < np && !p2; i++) {
                swarm_model_t **pp = p1 ? &p2 : &p1;
                swarm_err_t e;
                int r;
                int bb = 0;
                swarm_err_clear(&e);
                for (int g = 0; g < sh->n_groups; g++)
                        (p1 ? k2 : k1)[g] = probes[i];
                if (sh->bgroup >= 0)
                        (p1 ? k2 : k1)[sh->bgroup] = p1 ? BATCH_PROBE2
                                                        : BATCH_PROBE1;
                r = load_plan(sh, p1 ? k2 : k1, pp, &bb, &e);
                if (r == SWARM_OK) {
                        if (pp == &p1)
                                a = probes[i];
                        else
                                b = probes[i];
                        continue;
                }
                if (first.code == SWARM_OK) {
                        first = e;
                        if (batch_bound)
                                *batch_bound = bb;
                }
                /* Another value may fit (a probe too large for the plan,
                 * a window larger than the image): try them all, unless
                 * the batch is the only symbolic dim (the probes would
                 * not change). */
                if (r == SWARM_ERR_NOMEM || r == SWARM_ERR_BACKEND ||
                    (sh->bgroup >= 0 && sh->n_groups == 1))
                        break;
        }
        if (!p1) {
                rc = first.code;
                if (err)
                        *err = first;
                goto out;
        }
        if (sh->bgroup >= 0) {
                /* Rows must stay apart for batching (and padding) to be
                 * right: p1 (batch 3) against batch 5 at p1's other dims. */
                int64_t kv[64];
                swarm_model_t *p5 = NULL;
                memcpy(kv, k1, sizeof(int64_t) * (size_t)sh->n_groups);
                kv[sh->bgroup] = BATCH_PROBE2;
                if (p2 && memcmp(kv, k2, sizeof(int64_t) *
                                 (size_t)sh->n_groups) == 0)
                        p5 = p2;
                else if ((rc = load_plan(sh, kv, &p5, NULL, err)))
                        goto out;
                rc = rows_independent(p1, p5, err);
                if (p5 != p2)
                        swarm_model_destroy(p5);
                if (rc)
                        goto out;
        }
        m->n_in = p1->n_in;
        m->n_out = p1->n_out;
        m->n_steps = p1->n_steps;
        m->in_io = calloc((size_t)m->n_in + 1, sizeof(swarm_model_io_t));
        m->out_io = calloc((size_t)m->n_out + 1, sizeof(swarm_model_io_t));
        sh->names = calloc((size_t)(m->n_in + m->n_out) * 2 + 2,
                           sizeof(char *));
        if (!m->in_io || !m->out_io || !sh->names) {
                rc = swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                goto out;
        }
        for (int i = 0; i < m->n_in; i++) {
                swarm_model_io_t *io = &m->in_io[i];
                *io = p1->in_io[i];
                if (!(io->name = own(sh, io->name))) {
                        rc = swarm_err_set(err, SWARM_ERR_NOMEM,
                                           "out of memory");
                        goto out;
                }
                for (int k = 0; k < n_dims; k++)
                        if (strcmp(dims[k].input, io->name) == 0) {
                                io->shape[dims[k].dim] = -1;
                                io->sym |= 1u << dims[k].dim;
                                if (dims[k].group == sh->bgroup)
                                        continue;       /* the batch */
                                io->dim_name[dims[k].dim] = dims[k].param;
                                io->row_bytes = 0;
                        }
                /* padding copies whole rows: the batch must lead */
                if (!(io->sym & 1u))
                        pad = 0;
        }
        for (int k = 0; k < n_dims; k++)
                if (dims[k].group != sh->bgroup) {
                        nb_param = dims[k].param;
                        break;
                }
        /* Padding needs both probes, and batch probes that no other
         * dim's probes equal. */
        if (!p2 || a == BATCH_PROBE1 || a == BATCH_PROBE2 ||
            b == BATCH_PROBE1 || b == BATCH_PROBE2)
                pad = 0;
        for (int i = 0; i < m->n_out; i++) {
                swarm_model_io_t *io = &m->out_io[i];
                int lead = 0;
                *io = p1->out_io[i];
                if (!(io->name = own(sh, io->name))) {
                        rc = swarm_err_set(err, SWARM_ERR_NOMEM,
                                           "out of memory");
                        goto out;
                }
                /* A dim that differs between the probes (or, with one
                 * probe, equals the probe value) follows the input's; one
                 * at the batch probes' values is the batch. */
                for (int d = 0; d < io->ndim; d++) {
                        int64_t v1 = io->shape[d];
                        int64_t v2 = p2 ? p2->out_io[i].shape[d] : -1;
                        int fb = sh->bgroup >= 0 && v1 == BATCH_PROBE1 &&
                                 (!p2 || v2 == BATCH_PROBE2);
                        int s = p2 ? v2 != v1 : (v1 == a || fb);
                        if (!s || v1 < 0)
                                continue;
                        /* padding needs the batch alone at dim 0, and
                         * nowhere else (other symbolic dims may follow) */
                        if (d == 0 && fb)
                                lead = 1;
                        else if (d == 0 || fb)
                                pad = 0;
                        io->shape[d] = -1;
                        io->sym |= 1u << d;
                        if (fb)
                                continue;
                        /* named only when one name is in play */
                        if (sh->n_groups - (sh->bgroup >= 0) == 1 &&
                            v1 == a && (!p2 || v2 == b))
                                io->dim_name[d] = nb_param;
                        io->row_bytes = 0;
                }
                if (!lead)
                        pad = 0;
        }
        sh->pad = pad && sh->bgroup >= 0;
        if (sh->pad) {
                sh->stage = calloc((size_t)m->n_in + 1, sizeof(void *));
                sh->stage_cap = calloc((size_t)m->n_in + 1, sizeof(size_t));
                if (!sh->stage || !sh->stage_cap) {
                        rc = swarm_err_set(err, SWARM_ERR_NOMEM,
                                           "out of memory");
                        goto out;
                }
                /* the probes' batches are not buckets: no run uses them */
                swarm_model_destroy(p1);
                swarm_model_destroy(p2);
                p1 = p2 = NULL;
        }
        if (p1)
                cache_put(sh, k1, p1);
        p1 = NULL;
        if (p2) {
                cache_put(sh, k2, p2);
                p2 = NULL;
        }
        *out = m;
        m = NULL;
out:
        swarm_model_destroy(p1);
        swarm_model_destroy(p2);
        swarm_model_destroy(m);
        return rc;
}

/* ---- shapes against the signature ---- */

static int bad_shapes(const swarm_model_t *m, const char *why, int i, int d,
                      swarm_err_t *err) {
        char sig[SWARM_ERR_MSG_SIZE / 2];
        swarm_model_signature(m, sig, sizeof(sig));
        return swarm_err_set(err, SWARM_ERR_INVALID,
                             "input %d ('%s'), dimension %d: %s; expected %s",
                             i, m->in_io[i].name, d, why, sig);
}

/* Check and, for a family, fill key[] with the group values. */
static int check(const swarm_model_t *m, int64_t rows,
                 const int64_t (*in_shapes)[SWARM_MAX_DIMS], int64_t *key,
                 swarm_err_t *err) {
        const struct xshaped *sh = m->sh;
        int have[64] = {0};

        if (!in_shapes)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "no input shapes");
        for (int i = 0; i < m->n_in; i++) {
                const swarm_model_io_t *io = &m->in_io[i];
                for (int d = 0; d < io->ndim; d++) {
                        int64_t v = in_shapes[i][d];
                        if (v < 0 || v > INT32_MAX)
                                return bad_shapes(m, "out of range", i, d,
                                                  err);
                        if (d == 0 && io->shape[0] < 0) {
                                if (rows >= 0 && v != rows)
                                        return bad_shapes(
                                                m, "the batch differs from "
                                                "the other inputs'", i, d,
                                                err);
                                rows = v;
                                /* plans with the batch fixed: rows is a
                                 * key like the other symbolic dims */
                                for (int k = 0; sh && k < sh->n_dims; k++)
                                        if (sh->dims[k].dim == 0 &&
                                            strcmp(sh->dims[k].input,
                                                   io->name) == 0)
                                                key[sh->dims[k].group] = v;
                                continue;
                        }
                        if (io->shape[d] >= 0) {
                                if (v != io->shape[d])
                                        return bad_shapes(m, "contradicts "
                                                          "the fixed "
                                                          "dimension", i, d,
                                                          err);
                                continue;
                        }
                        for (int k = 0; sh && k < sh->n_dims; k++) {
                                int g = sh->dims[k].group;
                                if (sh->dims[k].dim != d ||
                                    strcmp(sh->dims[k].input, io->name))
                                        continue;
                                if (v < 1)
                                        return bad_shapes(m, "must be >= 1",
                                                          i, d, err);
                                if (have[g] && key[g] != v)
                                        return bad_shapes(
                                                m, "differs from another "
                                                "input's dimension of the "
                                                "same name", i, d, err);
                                have[g] = 1;
                                key[g] = v;
                        }
                }
        }
        return SWARM_OK;
}

int swarm_model_check_shapes(const swarm_model_t *m,
                             const int64_t (*in_shapes)[SWARM_MAX_DIMS],
                             swarm_err_t *err) {
        int64_t key[64];
        return check(m, -1, in_shapes, key, err);
}

const swarm_model_t *exec_shaped_first(const swarm_model_t *m) {
        const struct xshaped *sh = m->sh;
        const swarm_model_t *best = NULL;
        uint64_t used = 0;
        for (int i = 0; sh && i < sh->n_cache; i++)
                if (!best || sh->cache[i].used > used) {
                        best = sh->cache[i].plan;
                        used = sh->cache[i].used;
                }
        return best;
}

int swarm_model_is_shaped(const swarm_model_t *m) {
        return m->sh != NULL;
}

/* The bucket a batch of `rows` runs in: the next power of two (rows past
 * 2^30 run as they are). */
static int64_t bucket(int64_t rows) {
        int64_t b = 1;
        if (rows > ((int64_t)1 << 30))
                return rows;
        while (b < rows)
                b *= 2;
        return b;
}

/* Copy the `rows` rows of each input into the staging buffers, the last
 * row repeated up to `to` rows. */
static int stage_inputs(swarm_model_t *m, int64_t rows, int64_t to,
                        const int64_t (*in_shapes)[SWARM_MAX_DIMS],
                        const void *const *inputs, swarm_err_t *err) {
        struct xshaped *sh = m->sh;
        for (int i = 0; i < m->n_in; i++) {
                const swarm_model_io_t *io = &m->in_io[i];
                int64_t rb = swarm_dtype_size(io->dtype), total;
                for (int d = 1; d < io->ndim; d++)
                        if (swarm_mul_i64(rb, in_shapes[i][d], &rb))
                                return swarm_err_set(err, SWARM_ERR_INVALID,
                                                     "run: input %d too "
                                                     "large", i);
                if (swarm_mul_i64(rb, to, &total) ||
                    (uint64_t)total > SIZE_MAX / 2)
                        return swarm_err_set(err, SWARM_ERR_INVALID,
                                             "run: input %d too large", i);
                if ((size_t)total > sh->stage_cap[i]) {
                        void *nb = realloc(sh->stage[i], (size_t)total);
                        if (!nb)
                                return swarm_err_set(err, SWARM_ERR_NOMEM,
                                                     "run: out of memory "
                                                     "padding the batch");
                        sh->stage[i] = nb;
                        sh->stage_cap[i] = (size_t)total;
                }
                if (rb == 0)
                        continue;
                memcpy(sh->stage[i], inputs[i], (size_t)(rb * rows));
                for (int64_t r = rows; r < to; r++)
                        memcpy((char *)sh->stage[i] + r * rb,
                               (const char *)inputs[i] + (rows - 1) * rb,
                               (size_t)rb);
        }
        return SWARM_OK;
}

int64_t swarm_model_run_rows(const swarm_model_t *m, int64_t rows) {
        return m->sh && m->sh->pad && rows >= 1 ? bucket(rows) : rows;
}

int swarm_model_run_shaped(swarm_model_t *m, int64_t rows,
                           const int64_t (*in_shapes)[SWARM_MAX_DIMS],
                           const void *const *inputs,
                           int64_t (*out_shapes)[SWARM_MAX_DIMS],
                           const void **outputs, swarm_err_t *err) {
        struct xshaped *sh = m->sh;
        swarm_model_t *plan = m;
        int64_t key[64], run_rows = rows;
        int rc;

        if ((rc = check(m, rows, in_shapes, key, err)))
                return rc;
        if (sh && sh->pad) {
                /* Plans per batch bucket: a batch runs padded to it. */
                if (rows < 1)
                        return swarm_err_set(err, SWARM_ERR_INVALID,
                                             "run: no rows");
                run_rows = bucket(rows);
                key[sh->bgroup] = run_rows;
        }
        if (sh) {
                plan = NULL;
                for (int i = 0; i < sh->n_cache && !plan; i++)
                        if (memcmp(sh->cache[i].key, key,
                                   sizeof(int64_t) * (size_t)sh->n_groups) ==
                            0) {
                                plan = sh->cache[i].plan;
                                sh->cache[i].used = ++sh->tick;
                        }
                if (!plan) {
                        swarm_err_t e;
                        swarm_err_clear(&e);
                        rc = load_plan(sh, key, &plan, NULL, &e);
                        if (rc) {
                                char sig[SWARM_ERR_MSG_SIZE / 4];
                                swarm_model_signature(m, sig, sizeof(sig));
                                /* A shape the model cannot take is the
                                 * request's fault. */
                                return swarm_err_set(
                                        err, rc == SWARM_ERR_INVALID ||
                                        rc == SWARM_ERR_UNSUPPORTED
                                        ? SWARM_ERR_INVALID : rc,
                                        "run: input shapes do not fit %s: "
                                        "%.*s", sig,
                                        (int)(SWARM_ERR_MSG_SIZE / 2),
                                        e.msg);
                        }
                        cache_put(sh, key, plan);
                }
        }
        if (run_rows != rows) {
                if ((rc = stage_inputs(m, rows, run_rows, in_shapes, inputs,
                                       err)))
                        return rc;
                inputs = (const void *const *)sh->stage;
        }
        if ((rc = swarm_model_run(plan, run_rows, inputs, outputs, err)))
                return rc;
        /* Padded: each output's first `rows` rows are the batch's (its
         * leading dim is the batch, exec_shaped_new checked). */
        for (int i = 0; out_shapes && i < plan->n_out; i++) {
                const swarm_model_io_t *io = &plan->out_io[i];
                for (int d = 0; d < io->ndim; d++)
                        out_shapes[i][d] = io->shape[d] < 0 ? rows
                                                            : io->shape[d];
                if (sh && sh->pad && io->ndim > 0)
                        out_shapes[i][0] = rows;
        }
        return SWARM_OK;
}
