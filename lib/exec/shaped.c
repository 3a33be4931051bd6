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
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

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
                     swarm_model_t **out, swarm_err_t *err) {
        xdimval_t dv[64];
        for (int i = 0; i < sh->n_dims; i++) {
                dv[i].input = sh->dims[i].input;
                dv[i].dim = sh->dims[i].dim;
                dv[i].value = key[sh->dims[i].group];
        }
        return exec_load_plan(sh->buf, sh->len, sh->bind, sh->n_bind,
                              sh->dir, sh->be, dv, sh->n_dims, out, err);
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

static char *own(struct xshaped *sh, const char *s) {
        char *c = strdup(s ? s : "");
        if (c)
                sh->names[sh->n_names++] = c;
        return c;
}

int exec_shaped_new(const void *buf, size_t len, const swarm_tensor_t *bind,
                    int n_bind, const char *dir, swarm_backend_t *be,
                    xsymdim_t *dims, int n_dims, swarm_model_t **out,
                    swarm_err_t *err) {
        static const int64_t probes[] = {64, 32, 16, 8, 1, 224};
        swarm_model_t *m = calloc(1, sizeof(*m)), *p1 = NULL, *p2 = NULL;
        struct xshaped *sh = calloc(1, sizeof(*sh));
        int64_t k1[64], k2[64], a = -1, b = -1;
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
        for (int i = 0; i < n_dims; i++)
                if (dims[i].group + 1 > sh->n_groups)
                        sh->n_groups = dims[i].group + 1;
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
                swarm_err_clear(&e);
                for (int g = 0; g < sh->n_groups; g++)
                        (p1 ? k2 : k1)[g] = probes[i];
                r = load_plan(sh, p1 ? k2 : k1, pp, &e);
                if (r == SWARM_OK) {
                        if (pp == &p1)
                                a = probes[i];
                        else
                                b = probes[i];
                        continue;
                }
                if (first.code == SWARM_OK)
                        first = e;
                /* Another value may fit (a probe too large for the plan,
                 * a window larger than the image): try them all. */
                if (r == SWARM_ERR_NOMEM || r == SWARM_ERR_BACKEND)
                        break;
        }
        if (!p1) {
                rc = first.code;
                if (err)
                        *err = first;
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
                                io->dim_name[dims[k].dim] = dims[k].param;
                                /* a row's size is known while only the
                                 * batch is symbolic (fixed-batch plans) */
                                if (dims[k].dim > 0)
                                        io->row_bytes = 0;
                        }
        }
        for (int i = 0; i < m->n_out; i++) {
                swarm_model_io_t *io = &m->out_io[i];
                *io = p1->out_io[i];
                if (!(io->name = own(sh, io->name))) {
                        rc = swarm_err_set(err, SWARM_ERR_NOMEM,
                                           "out of memory");
                        goto out;
                }
                /* A dim that differs between the probes (or, with one
                 * probe, equals the probe value) follows the input's. */
                for (int d = 0; d < io->ndim; d++) {
                        int s = p2 ? p2->out_io[i].shape[d] != io->shape[d]
                                   : io->shape[d] == a;
                        if (!s || io->shape[d] < 0)
                                continue;
                        /* named only when one name is in play */
                        if (sh->n_groups == 1 && io->shape[d] == a &&
                            (!p2 || p2->out_io[i].shape[d] == b))
                                io->dim_name[d] = dims[0].param;
                        io->shape[d] = -1;
                        io->sym |= 1u << d;
                        if (d > 0)
                                io->row_bytes = 0;
                }
        }
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

int swarm_model_run_shaped(swarm_model_t *m, int64_t rows,
                           const int64_t (*in_shapes)[SWARM_MAX_DIMS],
                           const void *const *inputs,
                           int64_t (*out_shapes)[SWARM_MAX_DIMS],
                           const void **outputs, swarm_err_t *err) {
        struct xshaped *sh = m->sh;
        swarm_model_t *plan = m;
        int64_t key[64];
        int rc;

        if ((rc = check(m, rows, in_shapes, key, err)))
                return rc;
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
                        rc = load_plan(sh, key, &plan, &e);
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
        if ((rc = swarm_model_run(plan, rows, inputs, outputs, err)))
                return rc;
        for (int i = 0; out_shapes && i < plan->n_out; i++) {
                const swarm_model_io_t *io = &plan->out_io[i];
                for (int d = 0; d < io->ndim; d++)
                        out_shapes[i][d] = io->shape[d] < 0 ? rows
                                                            : io->shape[d];
        }
        return SWARM_OK;
}
