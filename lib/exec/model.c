/*
 * model.c - running a loaded plan on its backend, plus the accessors.
 *
 * Per run: resolve concrete shapes for `rows` (only when rows changed),
 * grow the reusable buffers if rows exceeds what they were sized for, bind
 * inputs (in place on host-memory backends), issue one backend call per
 * live node, hand out outputs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

void swarm_model_destroy(swarm_model_t *m) {
        if (!m)
                return;
        for (int i = 0; i < m->n_vals; i++) {
                xvalue_t *v = &m->vals[i];
                free(v->name);
                free(v->host);
                if (v->kind == V_CONST && v->dev)
                        m->be->free_buf(m->be, v->dev);
        }
        for (int i = 0; i < m->n_nodes; i++) {
                free(m->nodes[i].name);
                free(m->nodes[i].op_type);
        }
        for (int i = 0; m->slots && i < m->n_slots; i++)
                m->be->free_buf(m->be, m->slots[i].dev);
        for (int i = 0; m->in_dev && i < m->n_in; i++)
                m->be->free_buf(m->be, m->in_dev[i].dev);
        for (int i = 0; m->out_host && i < m->n_out; i++)
                free(m->out_host[i].dev);
        free(m->in_dev);
        free(m->out_host);
        free(m->slots);
        free(m->vals);
        free(m->nodes);
        free(m->in_vals);
        free(m->out_vals);
        free(m->in_io);
        free(m->out_io);
        free(m);
}

int swarm_model_n_inputs(const swarm_model_t *m) {
        return m->n_in;
}

int swarm_model_n_outputs(const swarm_model_t *m) {
        return m->n_out;
}

const swarm_model_io_t *swarm_model_input(const swarm_model_t *m, int i) {
        return i >= 0 && i < m->n_in ? &m->in_io[i] : NULL;
}

const swarm_model_io_t *swarm_model_output(const swarm_model_t *m, int i) {
        return i >= 0 && i < m->n_out ? &m->out_io[i] : NULL;
}

int64_t swarm_model_fixed_rows(const swarm_model_t *m) {
        return m->fixed_rows;
}

int swarm_model_n_steps(const swarm_model_t *m) {
        return m->n_steps;
}

static size_t value_bytes(const xvalue_t *v, int64_t rows) {
        int64_t e = swarm_shape_elems(v->shape, v->ndim);
        return (size_t)e * (v->batched ? (size_t)rows : 1) *
               swarm_dtype_size(v->dtype);
}

static void sig_io(const swarm_model_io_t *io, char *buf, size_t size,
                   size_t *o) {
        if (*o >= size)
                return;
        *o += (size_t)snprintf(buf + *o, size - *o, "%s:%s[", io->name,
                               swarm_dtype_name(io->dtype));
        for (int d = 0; d < io->ndim && *o < size; d++) {
                if (io->shape[d] < 0)
                        *o += (size_t)snprintf(buf + *o, size - *o, "%sN",
                                               d ? "," : "");
                else
                        *o += (size_t)snprintf(buf + *o, size - *o, "%s%lld",
                                               d ? "," : "",
                                               (long long)io->shape[d]);
        }
        if (*o < size)
                *o += (size_t)snprintf(buf + *o, size - *o, "]");
}

void swarm_model_signature(const swarm_model_t *m, char *buf, size_t size) {
        size_t o = 0;

        if (!size)
                return;
        buf[0] = '\0';
        for (int i = 0; i < m->n_in && o < size; i++) {
                if (i)
                        o += (size_t)snprintf(buf + o, size - o, ", ");
                sig_io(&m->in_io[i], buf, size, &o);
        }
        if (o < size)
                o += (size_t)snprintf(buf + o, size - o, " -> ");
        for (int i = 0; i < m->n_out && o < size; i++) {
                if (i)
                        o += (size_t)snprintf(buf + o, size - o, ", ");
                sig_io(&m->out_io[i], buf, size, &o);
        }
}

/* Make `s` hold at least `need` bytes: allocate before freeing so that a
 * failed grow leaves the model as it was. */
static int grow(swarm_backend_t *be, int host, xslot_t *s, size_t need,
                swarm_err_t *err) {
        void *p = NULL;
        int rc;

        if (need <= s->cap)
                return SWARM_OK;
        if (host) {
                p = malloc(need);
                if (!p)
                        return swarm_err_set(err, SWARM_ERR_NOMEM,
                                             "out of memory (%zu bytes)",
                                             need);
                free(s->dev);
        } else {
                if ((rc = be->alloc(be, need, &p, err)))
                        return rc;
                be->free_buf(be, s->dev);
        }
        s->dev = p;
        s->cap = need;
        return SWARM_OK;
}

static int reserve(swarm_model_t *m, int64_t rows, swarm_err_t *err) {
        swarm_backend_t *be = m->be;
        size_t *need;
        int rc = SWARM_OK;

        if (rows <= m->cap_rows)
                return SWARM_OK;
        need = calloc((size_t)m->n_slots + 1, sizeof(size_t));
        if (!need)
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        for (int i = 0; i < m->n_vals; i++) {
                const xvalue_t *v = &m->vals[i];
                size_t b = value_bytes(v, rows);
                if (v->slot >= 0 && b > need[v->slot])
                        need[v->slot] = b;
        }
        for (int s = 0; s < m->n_slots && !rc; s++)
                rc = grow(be, 0, &m->slots[s], need[s] ? need[s] : 4, err);
        if (!rc && !be->host_mem) {
                if (!m->in_dev)
                        m->in_dev = calloc((size_t)m->n_in + 1,
                                           sizeof(xslot_t));
                if (!m->out_host)
                        m->out_host = calloc((size_t)m->n_out + 1,
                                             sizeof(xslot_t));
                if (!m->in_dev || !m->out_host)
                        rc = swarm_err_set(err, SWARM_ERR_NOMEM,
                                           "out of memory");
                for (int i = 0; i < m->n_in && !rc; i++) {
                        size_t b = value_bytes(&m->vals[m->in_vals[i]], rows);
                        rc = grow(be, 0, &m->in_dev[i], b ? b : 4, err);
                }
                for (int i = 0; i < m->n_out && !rc; i++) {
                        size_t b = value_bytes(&m->vals[m->out_vals[i]], rows);
                        rc = grow(be, 1, &m->out_host[i], b ? b : 4, err);
                }
        }
        free(need);
        if (!rc)
                m->cap_rows = rows;
        return rc;
}

static void resolve(swarm_model_t *m, int64_t rows) {
        if (rows == m->cur_rows)
                return;
        for (int i = 0; i < m->n_vals; i++) {
                xvalue_t *v = &m->vals[i];
                memcpy(v->cshape, v->shape, sizeof(v->cshape));
                if (v->batched)
                        v->cshape[0] *= rows;
                v->celems = swarm_shape_elems(v->cshape, v->ndim);
        }
        m->cur_rows = rows;
}

/* Element strides of `v` broadcast to an output of `nd` dims (0 where
 * broadcast), NumPy right-aligned. */
static void bstrides(const xvalue_t *v, int nd, const int64_t *oshape,
                     int64_t *str) {
        int64_t s = 1;
        for (int i = nd - 1; i >= 0; i--) {
                int vi = i - (nd - v->ndim);
                int64_t d = vi >= 0 ? v->cshape[vi] : 1;
                str[i] = (d == 1 && oshape[i] != 1) || vi < 0 ? 0 : s;
                s *= d;
        }
}

static swarm_bias_t bias_mode(const xvalue_t *c, int64_t rows_m, int64_t n) {
        int64_t r = c->ndim >= 2 ? c->cshape[c->ndim - 2] : 1;
        int64_t k = c->ndim >= 1 ? c->cshape[c->ndim - 1] : 1;

        if (c->celems == 1)
                return SWARM_BIAS_SCALAR;
        if (r == 1 && k == n)
                return SWARM_BIAS_ROW;
        if (k == 1 && r == rows_m)
                return SWARM_BIAS_COL;
        return SWARM_BIAS_FULL;
}

static int run_gemm(swarm_model_t *m, const xnode_t *n, swarm_err_t *err) {
        const xvalue_t *a = &m->vals[n->in[0]], *b = &m->vals[n->in[1]];
        const xvalue_t *o = &m->vals[n->out];
        const xvalue_t *c = n->bias >= 0 ? &m->vals[n->bias] : NULL;
        swarm_gemm_t g;

        memset(&g, 0, sizeof(g));
        g.trans_a = n->trans_a;
        g.trans_b = n->trans_b;
        g.alpha = n->alpha;
        g.beta = n->beta;
        g.act = n->act;
        g.a = a->dev;
        g.b = b->dev;
        g.c = o->dev;
        g.lda = a->cshape[a->ndim - 1];
        g.ldb = b->cshape[b->ndim - 1];
        g.n = o->cshape[o->ndim - 1];
        g.ldc = g.n;
        g.k = n->trans_a ? a->cshape[0] : a->cshape[a->ndim - 1];
        if (c) {
                g.bias = c->dev;
                g.bias_mode = SWARM_BIAS_NONE;
        }
        if (n->op == OP_GEMM || b->ndim == 2) {
                /* A's leading dims fold into M: one call. */
                g.m = g.k ? a->celems / g.k : o->celems / (g.n ? g.n : 1);
                if (n->op == OP_GEMM)
                        g.m = o->cshape[0];
                if (c)
                        g.bias_mode = bias_mode(c, g.m, g.n);
                return m->be->gemm(m->be, &g, err);
        }
        {
                /* Batched MatMul: one GEMM per output matrix, operands
                 * broadcast over the leading dims. */
                int nd = o->ndim - 2;
                int64_t sa[SWARM_MAX_DIMS], sb[SWARM_MAX_DIMS];
                int64_t idx[SWARM_MAX_DIMS] = {0}, count = 1;
                int64_t mk = a->cshape[a->ndim - 2] * a->cshape[a->ndim - 1];
                int64_t kn = b->cshape[b->ndim - 2] * b->cshape[b->ndim - 1];
                xvalue_t ab = *a, bb = *b;
                int rc;

                ab.ndim = a->ndim - 2;
                bb.ndim = b->ndim - 2;
                bstrides(&ab, nd, o->cshape, sa);
                bstrides(&bb, nd, o->cshape, sb);
                for (int i = 0; i < nd; i++)
                        count *= o->cshape[i];
                g.m = o->cshape[o->ndim - 2];
                if (c)
                        g.bias_mode = bias_mode(c, g.m, g.n);
                for (int64_t t = 0; t < count; t++) {
                        int64_t ao = 0, bo = 0;
                        for (int i = 0; i < nd; i++) {
                                ao += idx[i] * sa[i];
                                bo += idx[i] * sb[i];
                        }
                        g.a_off = ao * mk;
                        g.b_off = bo * kn;
                        g.c_off = t * g.m * g.n;
                        if ((rc = m->be->gemm(m->be, &g, err)))
                                return rc;
                        for (int i = nd - 1; i >= 0; i--) {
                                if (++idx[i] < o->cshape[i])
                                        break;
                                idx[i] = 0;
                        }
                }
                return SWARM_OK;
        }
}

static int run_node(swarm_model_t *m, const xnode_t *n, swarm_err_t *err) {
        swarm_backend_t *be = m->be;
        const xvalue_t *x = &m->vals[n->in[0]], *o = &m->vals[n->out];

        switch (n->op) {
        case OP_GEMM:
        case OP_MATMUL:
                return run_gemm(m, n, err);
        case OP_ADD: {
                int64_t sa[SWARM_MAX_DIMS], sb[SWARM_MAX_DIMS];
                const xvalue_t *y = &m->vals[n->in[1]];
                bstrides(x, o->ndim, o->cshape, sa);
                bstrides(y, o->ndim, o->cshape, sb);
                return be->add(be, o->ndim, o->cshape, x->dev, sa, y->dev, sb,
                               o->dev, err);
        }
        case OP_ACT:
                return be->act(be, n->act, x->dev, o->dev, x->celems, err);
        case OP_SOFTMAX: {
                int64_t outer = 1, len = 1, inner = 1;
                for (int i = 0; i < x->ndim; i++) {
                        if (i < n->axis)
                                outer *= x->cshape[i];
                        else if (i == n->axis || n->legacy)
                                len *= x->cshape[i];
                        else
                                inner *= x->cshape[i];
                }
                return be->softmax(be, x->dev, o->dev, outer, len, inner,
                                   err);
        }
        case OP_COPY:
                return be->copy(be, o->dev, x->dev,
                                (size_t)x->celems * sizeof(float), err);
        }
        return swarm_err_set(err, SWARM_ERR_STATE, "bad plan");
}

int swarm_model_run(swarm_model_t *m, int64_t rows,
                    const void *const *inputs, const void **outputs,
                    swarm_err_t *err) {
        swarm_backend_t *be = m->be;
        int rc;

        if (rows < 1)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "run: rows must be >= 1 (got %lld)",
                                     (long long)rows);
        if (m->fixed_rows >= 0 && rows != m->fixed_rows)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "run: the model has a fixed batch of "
                                     "%lld rows (got %lld)",
                                     (long long)m->fixed_rows,
                                     (long long)rows);
        /* Keep rows * bytes-per-row far from overflow. */
        for (int i = 0; i < m->n_vals; i++) {
                const xvalue_t *v = &m->vals[i];
                int64_t e = swarm_shape_elems(v->shape, v->ndim);
                if (v->batched && e > 0 && rows > (INT64_MAX / 16) / e)
                        return swarm_err_set(err, SWARM_ERR_INVALID,
                                             "run: %lld rows is too many",
                                             (long long)rows);
        }
        for (int i = 0; i < m->n_in; i++)
                if (!inputs || !inputs[i])
                        return swarm_err_set(err, SWARM_ERR_INVALID,
                                             "run: input %d ('%s') is NULL",
                                             i, m->in_io[i].name);
        if ((rc = reserve(m, rows, err)))
                goto out;
        resolve(m, rows);
        for (int i = 0; i < m->n_vals; i++)
                if (m->vals[i].slot >= 0)
                        m->vals[i].dev = m->slots[m->vals[i].slot].dev;
        for (int i = 0; i < m->n_in; i++) {
                xvalue_t *v = &m->vals[m->in_vals[i]];
                if (be->host_mem) {
                        /* Kernels never write their inputs. */
                        v->dev = (void *)(uintptr_t)inputs[i];
                        continue;
                }
                v->dev = m->in_dev[i].dev;
                if ((rc = be->upload(be, v->dev, inputs[i],
                                     value_bytes(v, rows), err)))
                        goto out;
        }
        for (int i = 0; i < m->n_nodes; i++) {
                const xnode_t *n = &m->nodes[i];
                if (n->dead)
                        continue;
                if ((rc = run_node(m, n, err))) {
                        swarm_err_prefix(err, "node '%s' (%s): ", n->name,
                                         n->op_type);
                        goto out;
                }
        }
        for (int i = 0; i < m->n_out; i++) {
                xvalue_t *v = &m->vals[m->out_vals[i]];
                if (be->host_mem) {
                        outputs[i] = v->dev;
                        continue;
                }
                if ((rc = be->download(be, m->out_host[i].dev, v->dev,
                                       value_bytes(v, rows), err)))
                        goto out;
                outputs[i] = m->out_host[i].dev;
        }
out:
        if (rc)
                swarm_err_prefix(err, "run: ");
        return rc;
}
