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

#include "fuse_attn.h"
#include "model_internal.h"
#include "bcast.h"

void swarm_model_destroy(swarm_model_t *m) {
        if (!m)
                return;
        exec_shaped_destroy(m);
        for (int i = 0; i < m->n_vals; i++) {
                xvalue_t *v = &m->vals[i];
                free(v->name);
                free(v->host);
                free(v->nsym);
                free(v->seq);
                if (v->kind == V_CONST && v->dev)
                        m->be->free_buf(m->be, v->dev);
        }
        for (int i = 0; i < m->n_nodes; i++) {
                if (m->nodes[i].packed && m->nodes[i].wino)
                        m->be->conv_wino_free(m->be, m->nodes[i].packed);
                else if (m->nodes[i].packed)
                        m->be->gemm_pack_free(m->be, m->nodes[i].packed);
                if (m->nodes[i].packed_t)
                        m->be->gemm_pack_free(m->be, m->nodes[i].packed_t);
                exec_node_free(&m->nodes[i]);
        }
        if (m->scratch.dev)
                m->be->free_buf(m->be, m->scratch.dev);
        for (int i = 0; m->slots && i < m->n_slots; i++)
                m->be->free_buf(m->be, m->slots[i].dev);
        for (int i = 0; m->in_dev && i < m->n_in; i++)
                m->be->free_buf(m->be, m->in_dev[i].dev);
        for (int i = 0; m->out_host && i < m->n_out; i++)
                free(m->out_host[i].dev);
        exec_chunk_free(m);
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

/* A live host-kernel node that does not run on a backend kernel instead
 * (ConvTranspose, Resize: host_ops.c exec_host_run). */
static int on_host(const xnode_t *n) {
        return !n->dead && n->op == OP_HOST &&
               !(n->hk == HK_CONVT && n->hi[1]) &&
               !(n->hk == HK_RESIZE && n->hi[3]);
}

int swarm_model_n_host_steps(const swarm_model_t *m) {
        int n = 0;
        if (m->sh)
                m = exec_shaped_first(m);
        for (int i = 0; m && i < m->n_nodes; i++)
                n += on_host(&m->nodes[i]);
        return n;
}

void swarm_model_host_summary(const swarm_model_t *m, char *buf,
                              size_t size) {
        size_t o;
        int shown = 0;

        if (!size)
                return;
        if (m->sh)
                m = exec_shaped_first(m);
        if (!m) {
                snprintf(buf, size, "no plan");
                return;
        }
        o = (size_t)snprintf(buf, size, "%d of %d steps on the host",
                             swarm_model_n_host_steps(m), m->n_steps);
        /* A Loop unrolls its body once per iteration (control.c names
         * the copies "node#<iteration>..."): one entry per body node, with
         * the count.  The first 1024 host steps are grouped (quadratic in
         * them, not in the graph); later ones are only counted. */
        enum { GROUP_MAX = 1024 };
        int hs[GROUP_MAX], nh = 0, more = 0;
        for (int i = 0; i < m->n_nodes; i++) {
                if (!on_host(&m->nodes[i]))
                        continue;
                if (nh < GROUP_MAX)
                        hs[nh++] = i;
                else
                        more++;
        }
        for (int a = 0; a < nh && o < size; a++) {
                const xnode_t *n = &m->nodes[hs[a]];
                size_t base = strcspn(n->name, "#");
                int copies = 1, seen = 0;
                if (base > 0 && n->name[base]) {
                        for (int b = 0; b < a && !seen; b++)
                                seen = strncmp(m->nodes[hs[b]].name, n->name,
                                               base + 1) == 0;
                        if (seen)
                                continue;
                        for (int b = a + 1; b < nh; b++)
                                copies += strncmp(m->nodes[hs[b]].name,
                                                  n->name, base + 1) == 0;
                }
                if (copies > 1)
                        o += (size_t)snprintf(buf + o, size - o,
                                              "%s'%.*s' (%s, %d copies)",
                                              shown++ ? ", " : ": ",
                                              (int)base, n->name,
                                              n->op_type, copies);
                else
                        o += (size_t)snprintf(buf + o, size - o,
                                              "%s'%s' (%s)",
                                              shown++ ? ", " : ": ", n->name,
                                              n->op_type);
        }
        if (more && o < size)
                snprintf(buf + o, size - o, " and %d more", more);
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
                if (io->shape[d] < 0 && d == 0)
                        *o += (size_t)snprintf(buf + *o, size - *o, "N");
                else if (io->shape[d] < 0)
                        *o += (size_t)snprintf(buf + *o, size - *o, ",%s",
                                               io->dim_name[d] &&
                                               *io->dim_name[d]
                                               ? io->dim_name[d] : "?");
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
        if (!rc && m->scratch_elems > 0)
                rc = grow(be, 0, &m->scratch,
                          (size_t)m->scratch_elems * sizeof(float), err);
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

void exec_resolve_value(xvalue_t *v, int64_t rows) {
        memcpy(v->cshape, v->shape, sizeof(v->cshape));
        if (v->batched)
                v->cshape[0] *= rows;
        v->celems = swarm_shape_elems(v->cshape, v->ndim);
}

static void resolve(swarm_model_t *m, int64_t rows) {
        if (rows == m->cur_rows)
                return;
        for (int i = 0; i < m->n_vals; i++)
                exec_resolve_value(&m->vals[i], rows);
        m->cur_rows = rows;
}

/* Bytes of the planned slots for one row: a slot holds, over the run, the
 * largest value planned into it.  `batched` picks the values that grow with
 * rows (per-row bytes) or those that do not (fixed bytes).  Returns 0 when
 * out of memory, which callers read as "unknown".  The loader keeps the
 * per-row figure in work_row_bytes (run_chunk.c reads it on every run). */
size_t exec_slot_bytes(const swarm_model_t *m, int batched) {
        size_t *per = calloc((size_t)m->n_slots + 1, sizeof(size_t));
        size_t total = 0;

        if (!per)
                return 0;
        for (int i = 0; i < m->n_vals; i++) {
                const xvalue_t *v = &m->vals[i];
                size_t b;
                if (v->slot < 0 || !v->batched != !batched)
                        continue;
                b = value_bytes(v, 1);
                if (b > per[v->slot])
                        per[v->slot] = b;
        }
        for (int s = 0; s < m->n_slots; s++)
                total += per[s];
        free(per);
        return total;
}

size_t swarm_model_work_row_bytes(const swarm_model_t *m) {
        return m->work_row_bytes;
}

size_t swarm_model_work_fixed_bytes(const swarm_model_t *m) {
        return (size_t)m->scratch_elems * sizeof(float) + exec_slot_bytes(m, 0) +
               m->packed_bytes;
}

/* Element strides of `v` broadcast to an output of `nd` dims (0 where
 * broadcast), NumPy right-aligned. */
static void bstrides(const xvalue_t *v, int nd, const int64_t *oshape,
                     int64_t *str) {
        exec_bcast_strides(v->cshape, v->ndim, nd, oshape, str);
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

static int run_gemm(swarm_model_t *m, swarm_backend_t *be, const xnode_t *n,
                    swarm_err_t *err) {
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
        g.act_alpha = n->act_alpha;
        g.act_beta = n->act_beta;
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
                if (n->packed)
                        return be->gemm_packed(be, &g, NULL, n->packed, err);
                return be->gemm(be, &g, err);
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
                        if ((rc = be->gemm(be, &g, err)))
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

/* A convolution's GEMM: g cleared, then its epilogue (bias one value per
 * filter, in `mode`: per row of the product, or per column when it is
 * transposed; the node's activation). */
static void conv_gemm_init(swarm_gemm_t *g, const xnode_t *n,
                           const xvalue_t *bias, swarm_bias_t mode) {
        memset(g, 0, sizeof(*g));
        g->alpha = 1.0f;
        g->beta = 1.0f;
        g->act = n->act;
        g->act_alpha = n->act_alpha;
        g->act_beta = n->act_beta;
        g->bias = bias ? bias->dev : NULL;
        g->bias_mode = bias ? mode : SWARM_BIAS_NONE;
}

/* Convolution over chunks of images: one im2col unfolds n->chunk images
 * side by side into [k, chunk * oh * ow], one GEMM per group multiplies the
 * filters by it (N = chunk * oh * ow instead of oh * ow: far fewer, far
 * larger GEMMs, which is where sgemm is efficient), with bias and activation
 * fused into its epilogue, and a strided copy moves the [mg, chunk, oh*ow]
 * product into NCHW order.  The scratch holds the columns, then the product
 * right after them. */
static int run_conv_chunked(swarm_model_t *m, swarm_backend_t *be,
                            const xnode_t *n, swarm_err_t *err) {
        const xvalue_t *x = &m->vals[n->in[0]], *w = &m->vals[n->in[1]];
        const xvalue_t *o = &m->vals[n->out];
        const xvalue_t *b = n->bias >= 0 ? &m->vals[n->bias] : NULL;
        int64_t imgs = x->cshape[0], mout = o->cshape[1];
        int64_t mg = mout / n->group, plane = n->win.oh * n->win.ow;
        int64_t k = n->win.n * n->win.kh * n->win.kw;
        int64_t in_img = x->celems / (imgs ? imgs : 1);
        int64_t in_plane = n->win.h * n->win.w;
        swarm_window_t win = n->win;
        swarm_gemm_t g;
        int rc;

        conv_gemm_init(&g, n, b, SWARM_BIAS_COL);
        g.m = mg;
        g.k = k;
        g.a = w->dev;
        g.lda = k;
        g.b = m->scratch.dev;
        g.c = m->scratch.dev;
        win.img_str = in_img;
        for (int64_t i0 = 0; i0 < imgs; i0 += n->chunk) {
                int64_t cn = imgs - i0 < n->chunk ? imgs - i0 : n->chunk;
                int64_t cols = k * cn * plane;
                int64_t shape[3] = {cn, mg, plane};
                int64_t xs[3] = {plane, cn * plane, 1};
                int64_t ys[3] = {mout * plane, plane, 1};
                win.imgs = cn;
                g.n = cn * plane;
                g.ldb = g.n;
                g.ldc = g.n;
                g.c_off = cols;
                for (int64_t gi = 0; gi < n->group; gi++) {
                        int64_t x_off = i0 * in_img + gi * n->win.n * in_plane;
                        if ((rc = be->im2col(be, &win, x->dev, x_off,
                                             m->scratch.dev, err)))
                                return rc;
                        g.a_off = gi * mg * k;
                        g.bias_off = gi * mg;
                        if ((rc = be->gemm(be, &g, err)) ||
                            (rc = be->copy_strided(be, 3, shape,
                                                   m->scratch.dev, cols, xs,
                                                   o->dev,
                                                   (i0 * mout + gi * mg) *
                                                   plane, ys, err)))
                                return rc;
                }
        }
        return SWARM_OK;
}

/* A convolution over a small plane, transposed (pack.c, packed_t): the
 * pixels of n->t_imgs images at a time as the rows of op(A) = [pixels, k]
 * (the images themselves for a 1x1 window, read in place as row blocks;
 * else their columns, unfolded side by side), the filters packed as B =
 * [k, cout], bias and activation in the GEMM's epilogue, into the scratch
 * as [pixels, cout], then a strided copy to NCHW.  A 7 x 7 plane is 49
 * columns of the normal orientation, two 32-wide panels of which 15
 * columns are padding; as rows of one image it is seven 8-row slivers, 7
 * rows short, and five images make 31 slivers, 3 rows short. */
static int run_conv_t(swarm_model_t *m, swarm_backend_t *be,
                      const xnode_t *n, swarm_err_t *err) {
        const xvalue_t *x = &m->vals[n->in[0]], *o = &m->vals[n->out];
        const xvalue_t *b = n->bias >= 0 ? &m->vals[n->bias] : NULL;
        const xvalue_t *s = n->scale_in > 0 ? &m->vals[n->in[n->scale_in]]
                                            : NULL;
        int64_t imgs = x->cshape[0], mout = o->cshape[1];
        int64_t plane = n->win.oh * n->win.ow;
        int64_t k = n->win.n * n->win.kh * n->win.kw;
        int64_t in_img = x->celems / (imgs ? imgs : 1);
        int pw = exec_win_pointwise(&n->win);
        int64_t step = n->t_imgs > 0 ? n->t_imgs : 1;
        swarm_window_t win = n->win;
        swarm_gemm_t g;
        int rc;

        /* a squeeze-excitation scale (fuse_se.c) only on a 1x1 window,
         * whose channels are the GEMM's k */
        if (s && (!pw || s->celems != imgs * k))
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "conv '%s': channel scale has %lld "
                                     "values for %lld x %lld",
                                     n->name ? n->name : "",
                                     (long long)s->celems, (long long)imgs,
                                     (long long)k);
        conv_gemm_init(&g, n, b, SWARM_BIAS_ROW);
        g.trans_a = 1;
        g.n = mout;
        g.k = k;
        g.c = m->scratch.dev;
        g.ldc = mout;
        win.img_str = in_img;
        for (int64_t i0 = 0; i0 < imgs; i0 += step) {
                int64_t cn = imgs - i0 < step ? imgs - i0 : step;
                int64_t cols = pw ? 0 : k * cn * plane;
                int64_t shape[3] = {cn, mout, plane};
                int64_t ts[3] = {plane * mout, 1, mout};
                int64_t ys[3] = {mout * plane, plane, 1};
                g.m = cn * plane;
                g.c_off = cols;
                if (pw) {
                        /* image j's pixels: rows [j * plane, (j + 1) *
                         * plane), channel stride plane */
                        g.a = x->dev;
                        g.a_off = i0 * in_img;
                        g.lda = plane;
                        g.a_blk_rows = plane;
                        g.a_blk_off = in_img;
                        if (s) {
                                g.a_scale = s->dev;
                                g.a_scale_off = i0 * k;
                        }
                } else {
                        win.imgs = cn;
                        if ((rc = be->im2col(be, &win, x->dev, i0 * in_img,
                                             m->scratch.dev, err)))
                                return rc;
                        g.a = m->scratch.dev;
                        g.a_off = 0;
                        g.lda = cn * plane;
                }
                if ((rc = be->gemm_packed(be, &g, NULL, n->packed_t, err)) ||
                    (rc = be->copy_strided(be, 3, shape, m->scratch.dev, cols,
                                           ts, o->dev, i0 * mout * plane, ys,
                                           err)))
                        return rc;
        }
        return SWARM_OK;
}

static int run_conv(swarm_model_t *m, swarm_backend_t *be, const xnode_t *n,
                    swarm_err_t *err) {
        const xvalue_t *x = &m->vals[n->in[0]], *w = &m->vals[n->in[1]];
        const xvalue_t *o = &m->vals[n->out];
        const xvalue_t *b = n->bias >= 0 ? &m->vals[n->bias] : NULL;
        int64_t imgs = x->cshape[0], cin = x->cshape[1], mout = o->cshape[1];
        int64_t mg = mout / n->group, plane = n->win.oh * n->win.ow;
        int64_t k = n->win.n * n->win.kh * n->win.kw;
        int64_t in_img = x->celems / (imgs ? imgs : 1);
        int64_t in_plane = n->win.h * n->win.w;
        swarm_window_t win = n->win;
        swarm_gemm_t g;
        int rc;

        /* Depthwise (one input and one output channel per group): a
         * direct kernel where the backend has one. */
        if (be->conv_dw && n->win.n == 1 && mg == 1 && n->group == cin) {
                win.n = imgs * cin;
                return be->conv_dw(be, &win, cin, x->dev, w->dev,
                                   b ? b->dev : NULL, n->act, n->act_alpha,
                                   n->act_beta, o->dev, err);
        }
        /* A small plane at a small batch: pixels as the GEMM's rows. */
        if (exec_conv_t_wins(be, n, imgs, mout))
                return run_conv_t(m, be, n, err);
        /* Filters packed at load: the image is read straight into the
         * GEMM's panels. */
        if (n->packed && n->wino)
                return be->conv_wino(be, &win, imgs, mout, n->packed, x->dev,
                                     b ? b->dev : NULL, n->act, n->act_alpha,
                                     n->act_beta, o->dev, err);
        if (n->packed && n->scale_in > 0) {
                /* a squeeze-excitation scale folded in (fuse_se.c) */
                const xvalue_t *s = &m->vals[n->in[n->scale_in]];
                if (s->celems != imgs * cin)
                        return swarm_err_set(err, SWARM_ERR_INVALID,
                                             "conv '%s': channel scale has "
                                             "%lld values for %lld x %lld",
                                             n->name ? n->name : "",
                                             (long long)s->celems,
                                             (long long)imgs,
                                             (long long)cin);
                return be->conv_packed_scaled(be, &win, imgs, n->group, mout,
                                              n->packed, x->dev, s->dev,
                                              b ? b->dev : NULL, n->act,
                                              n->act_alpha, n->act_beta,
                                              o->dev, err);
        }
        if (n->packed)
                return be->conv_packed(be, &win, imgs, n->group, mout,
                                       n->packed, x->dev, b ? b->dev : NULL,
                                       n->act, n->act_alpha, n->act_beta,
                                       o->dev, err);
        if (n->chunk > 1 && be->im2col_imgs)
                return run_conv_chunked(m, be, n, err);
        conv_gemm_init(&g, n, b, SWARM_BIAS_COL);
        g.m = mg;
        g.n = plane;
        g.k = k;
        g.a = w->dev;
        g.lda = k;
        g.c = o->dev;
        g.ldc = plane;
        g.ldb = plane;
        /* One GEMM per image and group: filters [mg, k] times the unfolded
         * columns [k, oh*ow] land directly in NCHW order. */
        for (int64_t i = 0; i < imgs; i++) {
                for (int64_t gi = 0; gi < n->group; gi++) {
                        int64_t x_off = i * in_img + gi * n->win.n * in_plane;
                        if (n->scratch > 0) {
                                if ((rc = be->im2col(be, &win, x->dev, x_off,
                                                     m->scratch.dev, err)))
                                        return rc;
                                g.b = m->scratch.dev;
                                g.b_off = 0;
                        } else {
                                g.b = x->dev;
                                g.b_off = x_off;
                        }
                        g.a_off = gi * mg * k;
                        g.bias_off = gi * mg;
                        g.c_off = (i * mout + gi * mg) * plane;
                        if ((rc = be->gemm(be, &g, err)))
                                return rc;
                }
        }
        return SWARM_OK;
}

/* The descriptor of a recurrent node for be->rnn, from the parameters
 * h_rnn (onnx_ops.c) stored in the HK_RNN layout (host_ops.c's run_rnn
 * reads the same ones). */
static int run_rnn(swarm_model_t *m, swarm_backend_t *be, const xnode_t *n,
                   swarm_err_t *err) {
        const xvalue_t *x = &m->vals[n->in[0]];
        swarm_rnn_t r;
        const void *in[8] = {NULL};

        for (int j = 0; j < n->n_in && j < 8; j++)
                in[j] = n->in[j] >= 0 ? m->vals[n->in[j]].dev : NULL;
        memset(&r, 0, sizeof(r));
        r.kind = (int)n->hi[0];
        r.dirs = (int)n->hi[1];
        r.hidden = n->hi[2];
        r.layout = (int)n->hi[3];
        r.linear_before_reset = (int)n->hp[0];
        r.input_forget = (int)n->hp[1];
        r.reverse = n->hp[9] == 1;
        r.seq = x->cshape[r.layout ? 1 : 0];
        r.batch = x->cshape[r.layout ? 0 : 1];
        r.input = x->cshape[2];
        r.clip = n->act_alpha;
        for (int d = 0; d < 2 && d < r.dirs; d++)
                for (int j = 0; j < 3; j++) {
                        r.act[d][j] = (swarm_rnn_act_t)n->hp[2 + 3 * d + j];
                        r.act_alpha[d][j] = n->hf[2 * (3 * d + j)];
                        r.act_beta[d][j] = n->hf[2 * (3 * d + j) + 1];
                }
        r.x = in[0];
        r.w = in[1];
        r.r = in[2];
        r.b = in[3];
        r.seq_lens = in[4];
        r.seq_lens64 = in[4] && m->vals[n->in[4]].dtype == SWARM_DTYPE_INT64;
        r.h0 = in[5];
        r.c0 = in[6];
        r.p = in[7];
        r.y = m->vals[n->out].dev;
        r.yh = n->n_xo > 0 && n->xo[0] >= 0 ? m->vals[n->xo[0]].dev : NULL;
        r.yc = n->n_xo > 1 && n->xo[1] >= 0 ? m->vals[n->xo[1]].dev : NULL;
        return be->rnn(be, &r, err);
}

int exec_walk(const xnode_t *n, const xvalue_t *o, int64_t *shape) {
        int64_t b = n->hi[1];
        if (n->sub != 6 || b < 1) {
                memcpy(shape, o->cshape, sizeof(int64_t) * (size_t)o->ndim);
                return o->ndim;
        }
        /* DepthToSpace: [n, c, h, b, w, b]; SpaceToDepth: [n, b, b, c, h,
         * w] over the 4-D output. */
        if (n->hi[0]) {
                int64_t w[6] = {o->cshape[0], o->cshape[1], o->cshape[2] / b,
                                b, o->cshape[3] / b, b};
                memcpy(shape, w, sizeof(w));
        } else {
                int64_t w[6] = {o->cshape[0], b, b, o->cshape[1] / (b * b),
                                o->cshape[2], o->cshape[3]};
                memcpy(shape, w, sizeof(w));
        }
        return 6;
}

int exec_run_node(swarm_model_t *m, swarm_backend_t *be, const xnode_t *n,
                  swarm_err_t *err) {
        const xvalue_t *x = n->n_in ? &m->vals[n->in[0]] : NULL;
        const xvalue_t *o = &m->vals[n->out];
        int rc;

        switch (n->op) {
        case OP_GEMM:
        case OP_MATMUL:
                return run_gemm(m, be, n, err);
        case OP_ADD:
        case OP_BINARY: {
                int64_t sa[SWARM_MAX_DIMS], sb[SWARM_MAX_DIMS];
                swarm_binop_t op = n->op == OP_ADD ? SWARM_BIN_ADD
                                                   : (swarm_binop_t)n->sub;
                /* Variadic Max/Min/Sum/Mean fold left into the output. */
                for (int j = 1; j < n->n_in; j++) {
                        const xvalue_t *a = j == 1 ? x : o;
                        const xvalue_t *y = &m->vals[n->in[j]];
                        bstrides(a, o->ndim, o->cshape, sa);
                        bstrides(y, o->ndim, o->cshape, sb);
                        if ((rc = be->binary(be, op, o->ndim, o->cshape,
                                             a->dev, sa, y->dev, sb, o->dev,
                                             err)))
                                return rc;
                }
                if (n->act != SWARM_ACT_NONE)
                        return be->unary(be, n->act, n->act_alpha,
                                         n->act_beta, o->dev, o->dev,
                                         o->celems, err);
                return SWARM_OK;
        }
        case OP_ACT:
        case OP_UNARY:
                return be->unary(be, n->act, n->act_alpha, n->act_beta,
                                 x->dev, o->dev, x->celems, err);
        case OP_SOFTMAX:
        case OP_LOGSOFTMAX: {
                int64_t outer = 1, len = 1, inner = 1;
                for (int i = 0; i < x->ndim; i++) {
                        if (i < n->axis)
                                outer *= x->cshape[i];
                        else if (i == n->axis || n->legacy)
                                len *= x->cshape[i];
                        else
                                inner *= x->cshape[i];
                }
                if (n->op == OP_LOGSOFTMAX)
                        return be->log_softmax(be, x->dev, o->dev, outer, len,
                                               inner, err);
                return be->softmax(be, x->dev, o->dev, outer, len, inner,
                                   err);
        }
        case OP_COPY:
                rc = be->copy(be, o->dev, x->dev,
                              (size_t)x->celems * swarm_dtype_size(x->dtype),
                              err);
                if (!rc && n->act != SWARM_ACT_NONE)
                        rc = be->unary(be, n->act, n->act_alpha, n->act_beta,
                                       o->dev, o->dev, o->celems, err);
                return rc;
        case OP_REDUCE:
                return be->reduce(be, (swarm_reduce_t)n->sub, x->ndim,
                                  x->cshape, n->axes, x->dev, o->dev, err);
        case OP_POOL: {
                swarm_window_t w = n->win;
                w.n = x->cshape[0] * x->cshape[1];
                return be->pool(be, (swarm_pool_kind_t)n->sub, &w, x->dev,
                                o->dev, err);
        }
        case OP_CONV:
                return run_conv(m, be, n, err);
        case OP_GATHER: {
                const xvalue_t *ix = &m->vals[n->in[1]];
                int64_t outer = 1, inner = 1;
                for (int d = 0; d < x->ndim; d++) {
                        if (d < n->axis)
                                outer *= x->cshape[d];
                        else if (d > n->axis)
                                inner *= x->cshape[d];
                }
                return be->gather(be, x->dev, outer, x->cshape[n->axis],
                                  inner, ix->dev,
                                  ix->dtype == SWARM_DTYPE_INT64, ix->celems,
                                  o->dev, err);
        }
        case OP_STRIDED: {
                int64_t ys[SWARM_MAX_DIMS], ws[SWARM_MAX_DIMS], s = 1;
                int nd = exec_walk(n, o, ws);
                for (int d = nd - 1; d >= 0; d--) {
                        ys[d] = s;
                        s *= ws[d];
                }
                return be->copy_strided(be, nd, ws, x->dev, n->xoff, n->xstr,
                                        o->dev, 0, ys, err);
        }
        case OP_CONCAT: {
                int64_t ys[SWARM_MAX_DIMS], xs[SWARM_MAX_DIMS], s = 1, at = 0;
                for (int d = o->ndim - 1; d >= 0; d--) {
                        ys[d] = s;
                        s *= o->cshape[d];
                }
                for (int j = 0; j < n->n_in; j++) {
                        const xvalue_t *v = &m->vals[n->in[j]];
                        int64_t t = 1;
                        for (int d = v->ndim - 1; d >= 0; d--) {
                                xs[d] = t;
                                t *= v->cshape[d];
                        }
                        if (v->celems > 0 &&
                            (rc = be->copy_strided(be, v->ndim, v->cshape,
                                                   v->dev, 0, xs, o->dev,
                                                   at * ys[n->axis], ys,
                                                   err)))
                                return rc;
                        at += v->cshape[n->axis];
                }
                return SWARM_OK;
        }
        case OP_AFFINE: {
                int64_t inner = 1;
                for (int d = 2; d < x->ndim; d++)
                        inner *= x->cshape[d];
                return be->channel_affine(be, x->dev, m->vals[n->in[1]].dev,
                                          m->vals[n->in[2]].dev, o->dev,
                                          x->cshape[0], x->cshape[1], inner,
                                          err);
        }
        case OP_LAYERNORM: {
                int64_t outer = 1, len = 1;
                for (int d = 0; d < x->ndim; d++) {
                        if (d < n->axis)
                                outer *= x->cshape[d];
                        else
                                len *= x->cshape[d];
                }
                return be->layer_norm(be, x->dev, m->vals[n->in[1]].dev,
                                      n->n_in > 2 && n->in[2] >= 0
                                      ? m->vals[n->in[2]].dev : NULL,
                                      o->dev, outer, len, n->eps, err);
        }
        case OP_PAD: {
                int64_t ys[SWARM_MAX_DIMS], xs[SWARM_MAX_DIMS], zs[SWARM_MAX_DIMS];
                int64_t s = 1, t = 1;
                for (int d = o->ndim - 1; d >= 0; d--) {
                        ys[d] = s;
                        s *= o->cshape[d];
                        xs[d] = t;
                        t *= x->cshape[d];
                        zs[d] = 0;
                }
                /* Fill with the value (stride 0), then copy the data in. */
                if ((rc = be->copy_strided(be, o->ndim, o->cshape,
                                           m->vals[n->in[1]].dev, 0, zs,
                                           o->dev, 0, ys, err)))
                        return rc;
                return be->copy_strided(be, x->ndim, x->cshape, x->dev, 0, xs,
                                        o->dev, n->xoff, ys, err);
        }
        case OP_HOST:
                return exec_host_run(m, be, n, err);
        case OP_ATTN:
                return exec_attn_run(m, be, n, err);
        case OP_RNN:
                return run_rnn(m, be, n, err);
        case OP_ALIAS:
                return SWARM_OK;
        case OP_FOLDED:
                break;
        }
        return swarm_err_set(err, SWARM_ERR_STATE, "bad plan");
}

int swarm_model_run(swarm_model_t *m, int64_t rows,
                    const void *const *inputs, const void **outputs,
                    swarm_err_t *err) {
        if (rows < 1)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "run: rows must be >= 1 (got %lld)",
                                     (long long)rows);
        if (m->sh)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "run: the model has symbolic non-batch "
                                     "dimensions; run it with "
                                     "swarm_model_run_shaped");
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
        /* Large batches of small images in slices that stay in cache
         * (run_chunk.c). */
        if (exec_chunk_rows(m, rows) < rows)
                return exec_run_chunked(m, rows, inputs, outputs, err);
        return exec_run_rows(m, rows, inputs, outputs, err);
}

int exec_run_rows(swarm_model_t *m, int64_t rows, const void *const *inputs,
                  const void **outputs, swarm_err_t *err) {
        swarm_backend_t *be = m->be;
        int rc;

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
        /* The pool's workers stay awake from here to run_end. */
        if (be->run_begin)
                be->run_begin(be);
        for (int i = 0; i < m->n_nodes && !rc; i++) {
                const xnode_t *n = &m->nodes[i];
                if (n->dead)
                        continue;
                if ((rc = exec_run_node(m, be, n, err)))
                        swarm_err_prefix(err, "node '%s' (%s): ", n->name,
                                         n->op_type);
        }
        if (be->run_end)
                be->run_end(be);
        if (rc)
                goto out;
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
