/*
 * fuse_attn.c - load-time rewrites of transformer blocks (fuse_attn.h).
 *
 * Both torch.onnx exporters write BERT's self-attention as
 *   Q = Transpose(Reshape(x Wq + bq, [B, S, H, D]), 0 2 1 3)
 *   K = Transpose(Reshape(x Wk + bk, [B, S, H, D]), 0 2 3 1)
 *   V = Transpose(Reshape(x Wv + bv, [B, S, H, D]), 0 2 1 3)
 *   y = Reshape(Transpose(Softmax(MatMul(Q, K) * c + mask) V, 0 2 1 3))
 * which unfused is three copies in, a [B, H, S, S] tensor written four
 * times and read five, and a copy out.  OP_ATTN reads Q, K and V as strided
 * views of the projections (the Transposes' strides, the Reshapes being
 * byte copies) and writes y interleaved, so every Reshape / Transpose
 * around it goes too; the backend's `attention` does the rest per head.
 *
 * OP_ATTN keeps its geometry in the node's integer fields (ATTN_* below):
 * the view strides are per-row constants, and the batch is hi[0] times
 * the rows when the chain is batched.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "swarm/tensor.h"
#include "bcast.h"
#include "cpu_attn.h"
#include "fuse_attn.h"

/* OP_ATTN's fields: hi[0..3] batch (per row when batched), heads, sq, sk;
 * xstr[0..3] dk, dv, batched, rank of the chain (3: no head dim);
 * hp[0..15] the (b, h, r, c) strides of q, k, v and y; alpha the scale;
 * in[] q, k, v and mask (-1 when none), each the base value its view
 * reads. */
#define A_BATCH(n) ((n)->hi[0])
#define A_HEADS(n) ((n)->hi[1])
#define A_SQ(n) ((n)->hi[2])
#define A_SK(n) ((n)->hi[3])
#define A_DK(n) ((n)->xstr[0])
#define A_DV(n) ((n)->xstr[1])
#define A_BATCHED(n) ((n)->xstr[2])
#define A_RANK(n) ((n)->xstr[3])
#define A_STR(n, op) (&(n)->hp[4 * (op)])
#define A_NAN0(n) ((n)->sub)    /* swarm_attn_t.nan_rows_zero */

/* Uses and producers of the live plan: n_uses / consumer as onnx_ops.c
 * keeps them, prod[v] the live node that writes v (-1 for none); the
 * values' own `producer` goes stale once a fusion moves an output. */
static int *live_uses(swarm_model_t *m) {
        int *prod = malloc(((size_t)m->n_vals + 1) * sizeof(int));

        if (!prod)
                return NULL;
        exec_count_uses(m);
        for (int i = 0; i < m->n_vals; i++)
                prod[i] = -1;
        for (int i = 0; i < m->n_nodes; i++)
                if (!m->nodes[i].dead && m->nodes[i].out >= 0)
                        prod[m->nodes[i].out] = i;
        return prod;
}

/* The one live consumer of value v when v may disappear into a fusion
 * (not a graph output, read once), else NULL. */
static xnode_t *sole(swarm_model_t *m, int v) {
        const xvalue_t *x = &m->vals[v];
        xnode_t *c;

        if (v < 0 || x->is_output || x->n_uses != 1)
                return NULL;
        c = &m->nodes[x->consumer];
        return c->dead ? NULL : c;
}

static int is_f32(const swarm_model_t *m, int v) {
        return v >= 0 && m->vals[v].dtype == SWARM_DTYPE_FLOAT32 &&
               !m->vals[v].is_seq;
}

/* Same dims and batch flag, no symbolic elements. */
static int same_shape(const xvalue_t *a, const xvalue_t *b) {
        return a->ndim == b->ndim && a->batched == b->batched && !a->nsym &&
               !b->nsym &&
               !memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t)a->ndim);
}

/* A FLOAT32 constant of one element (a scalar or [1]...): its value. */
static int const_scalar(const swarm_model_t *m, int v, float *out) {
        const xvalue_t *x;

        if (v < 0)
                return 0;
        x = &m->vals[v];
        if (x->kind != V_CONST || !x->host || x->dtype != SWARM_DTYPE_FLOAT32 ||
            x->batched || swarm_shape_elems(x->shape, x->ndim) != 1 ||
            x->host_bytes < sizeof(float))
                return 0;
        memcpy(out, x->host, sizeof(float));
        return 1;
}

static int near(float a, float b) {
        return fabsf(a - b) <= 1e-6f * fabsf(b);
}

/* A plain two-input OP_BINARY `op` that reads v: its other input. */
static int bin_other(const xnode_t *n, swarm_binop_t op, int v, int *other) {
        if (n->op != OP_BINARY || n->sub != (int)op || n->n_in != 2 ||
            n->act != SWARM_ACT_NONE)
                return 0;
        if (n->in[0] == v && n->in[1] != v)
                *other = n->in[1];
        else if (n->in[1] == v && n->in[0] != v)
                *other = n->in[0];
        else
                return 0;
        return *other >= 0;
}

static void rename_op(xnode_t *n, const char *op_type) {
        char *s = strdup(op_type);
        if (s) {
                free(n->op_type);
                n->op_type = s;
        }
}

/* ---- GELU ---- */

/* n = a * c or c * a with c a constant near `want`: a, else -1. */
static int times_const(swarm_model_t *m, const xnode_t *n, float want) {
        float c;

        if (const_scalar(m, n->in[1], &c) && near(c, want))
                return n->in[0];
        if (const_scalar(m, n->in[0], &c) && near(c, want))
                return n->in[1];
        return -1;
}

/* x -> Div(sqrt 2) (or Mul(1 / sqrt 2)) -> Erf -> Add(1) -> Mul(x) ->
 * Mul(0.5), the two products in either order, as both exporters write
 * nn.GELU(): five passes over the FFN's widest tensor become one unary,
 * and one the GEMM before it can take into its epilogue. */
static int fuse_gelu_at(swarm_model_t *m, xnode_t *d) {
        xnode_t *e, *a, *m1, *m2;
        float c;
        int x, o1, o2, one_in;

        if (d->op != OP_BINARY || d->n_in != 2 || d->act != SWARM_ACT_NONE)
                return 0;
        if (d->sub == SWARM_BIN_DIV && const_scalar(m, d->in[1], &c) &&
            near(c, 1.41421356f)) {
                x = d->in[0];
        } else if (d->sub != SWARM_BIN_MUL ||
                   (x = times_const(m, d, 0.707106781f)) < 0) {
                return 0;
        }
        if (!is_f32(m, x) || m->vals[x].kind == V_CONST)
                return 0;
        e = sole(m, d->out);
        if (!e || e->op != OP_UNARY || e->act != SWARM_ACT_ERF ||
            e->n_in != 1 || e->in[0] != d->out)
                return 0;
        a = sole(m, e->out);
        if (!a || !bin_other(a, SWARM_BIN_ADD, e->out, &one_in) ||
            !const_scalar(m, one_in, &c) || c != 1.0f)
                return 0;
        m1 = sole(m, a->out);
        if (!m1 || !bin_other(m1, SWARM_BIN_MUL, a->out, &o1))
                return 0;
        m2 = sole(m, m1->out);
        if (!m2 || !bin_other(m2, SWARM_BIN_MUL, m1->out, &o2))
                return 0;
        if (!((o1 == x && const_scalar(m, o2, &c) && c == 0.5f) ||
              (o2 == x && const_scalar(m, o1, &c) && c == 0.5f)))
                return 0;
        {
                const xvalue_t *xv = &m->vals[x];
                const int outs[5] = {d->out, e->out, a->out, m1->out,
                                     m2->out};
                for (int i = 0; i < 5; i++)
                        if (!same_shape(xv, &m->vals[outs[i]]) ||
                            !is_f32(m, outs[i]))
                                return 0;
        }
        d->op = OP_UNARY;
        d->act = SWARM_ACT_GELU;
        d->act_alpha = 0.0f;
        d->act_beta = 0.0f;
        d->in[0] = x;
        d->in[1] = -1;
        d->n_in = 1;
        d->out = m2->out;
        e->dead = a->dead = m1->dead = m2->dead = 1;
        rename_op(d, "Gelu");
        return 1;
}

/* The tanh form of GELU as Hugging Face's NewGELUActivation (GPT-2,
 * "gelu_new") writes it, and both exporters keep it:
 *   h = x * 0.5;  p = Pow(x, 3) (or (x * x) * x);  q = p * 0.044715;
 *   r = x + q;  s = r * sqrt(2 / pi);  t = Tanh(s);  u = t + 1;  y = h * u
 * (each product and sum in either operand order; or y = (x * u) * 0.5):
 * eight passes over the FFN's widest tensor become one GELU_TANH unary.
 * Anchored on the Tanh; every node but the Tanh is dropped, so each of
 * their outputs but y must be read only inside the pattern. */

/* The live binary `op` (no activation) that writes v, read only by
 * `reader`; NULL otherwise. */
static xnode_t *bin_writer(swarm_model_t *m, const int *prod, int v,
                           swarm_binop_t op, const xnode_t *reader) {
        xnode_t *n;

        if (v < 0 || prod[v] < 0 || sole(m, v) != reader)
                return NULL;
        n = &m->nodes[prod[v]];
        return n->op == OP_BINARY && n->sub == (int)op && n->n_in == 2 &&
               n->act == SWARM_ACT_NONE && n->in[0] >= 0 && n->in[1] >= 0
               ? n : NULL;
}

static int fuse_gelu_tanh_at(swarm_model_t *m, const int *prod, xnode_t *t) {
        xnode_t *nd[10], *s, *r, *q = NULL, *u, *y, *h;
        float c;
        int x = -1, o, nk = 0;

        if (t->op != OP_UNARY || t->act != SWARM_ACT_TANH || t->n_in != 1)
                return 0;
        if (!(s = bin_writer(m, prod, t->in[0], SWARM_BIN_MUL, t)) ||
            !(r = bin_writer(m, prod, times_const(m, s, 0.797884561f),
                             SWARM_BIN_ADD, s)))
                return 0;
        nd[nk++] = s;
        nd[nk++] = r;
        /* r = x + q, q = cube(x) * 0.044715 */
        for (int i = 0; i < 2 && !q; i++) {
                xnode_t *cand = bin_writer(m, prod, r->in[i], SWARM_BIN_MUL,
                                           r), *p, *sq;
                int cube = cand ? times_const(m, cand, 0.044715f) : -1;
                int cx = r->in[1 - i];
                if (cube < 0)
                        continue;
                if ((p = bin_writer(m, prod, cube, SWARM_BIN_POW, cand)) &&
                    p->in[0] == cx && const_scalar(m, p->in[1], &c) &&
                    c == 3.0f) {
                        nd[nk++] = p;
                } else if ((p = bin_writer(m, prod, cube, SWARM_BIN_MUL,
                                           cand))) {
                        /* (x * x) * x, either order */
                        int sqv = p->in[0] == cx ? p->in[1] : p->in[0];
                        if ((p->in[0] != cx && p->in[1] != cx) ||
                            !(sq = bin_writer(m, prod, sqv, SWARM_BIN_MUL,
                                              p)) ||
                            sq->in[0] != cx || sq->in[1] != cx)
                                continue;
                        nd[nk++] = p;
                        nd[nk++] = sq;
                } else {
                        continue;
                }
                q = cand;
                x = cx;
        }
        if (!q || !is_f32(m, x) || m->vals[x].kind == V_CONST)
                return 0;
        nd[nk++] = q;
        u = sole(m, t->out);
        if (!u || !bin_other(u, SWARM_BIN_ADD, t->out, &o) ||
            !const_scalar(m, o, &c) || c != 1.0f)
                return 0;
        nd[nk++] = u;
        y = sole(m, u->out);
        if (!y || !bin_other(y, SWARM_BIN_MUL, u->out, &o))
                return 0;
        if (o == x) {
                /* y = (x * u) * 0.5 */
                h = sole(m, y->out);
                if (!h || !bin_other(h, SWARM_BIN_MUL, y->out, &o) ||
                    !const_scalar(m, o, &c) || c != 0.5f)
                        return 0;
                nd[nk++] = y;
                y = h;
        } else {
                /* y = h * u, h = x * 0.5 */
                if (!(h = bin_writer(m, prod, o, SWARM_BIN_MUL, y)) ||
                    times_const(m, h, 0.5f) != x)
                        return 0;
                nd[nk++] = h;
        }
        {
                const xvalue_t *xv = &m->vals[x];
                for (int i = 0; i < nk; i++)
                        if (!same_shape(xv, &m->vals[nd[i]->out]) ||
                            !is_f32(m, nd[i]->out))
                                return 0;
                if (!same_shape(xv, &m->vals[y->out]) || !is_f32(m, y->out))
                        return 0;
        }
        t->act = SWARM_ACT_GELU_TANH;
        t->act_alpha = 0.0f;
        t->act_beta = 0.0f;
        t->in[0] = x;
        t->out = y->out;
        for (int i = 0; i < nk; i++)
                nd[i]->dead = 1;
        y->dead = 1;
        rename_op(t, "Gelu");
        return 1;
}

/* ---- attention ---- */

static void contig(const int64_t *shape, int nd, int64_t *str) {
        int64_t s = 1;
        for (int d = nd - 1; d >= 0; d--) {
                str[d] = s;
                s *= shape[d];
        }
}

/* The (b, h, r, c) strides of a rank-nd chain's per-dim strides. */
static void to4(const int64_t *s, int nd, int64_t *out) {
        if (nd == 4) {
                memcpy(out, s, 4 * sizeof(int64_t));
        } else {
                out[0] = s[0];
                out[1] = 0;
                out[2] = s[1];
                out[3] = s[2];
        }
}

/* An operand of the chain as a view: value v (rank nd) read through the
 * Transpose-like OP_STRIDED that made it and the Reshape-like OP_COPY
 * before that, when v and the copy's output are read by nothing else.
 * *base is the value read, str its (b, h, r, c) strides, kill[] the steps
 * that go (up to 2).  `ok` checks the strides for the role; if the walked
 * view fails it, v itself (contiguous) is used. */
typedef int (*view_ok_fn)(const int64_t *str, const int64_t *dims);

static int view_of(swarm_model_t *m, const int *prod, int v, int nd,
                   const int64_t *dims, view_ok_fn ok, int *base,
                   int64_t *str, int *kill) {
        const xvalue_t *x = &m->vals[v];
        int64_t s[SWARM_MAX_DIMS];
        int b = v, k0 = -1, k1 = -1;

        kill[0] = kill[1] = -1;
        contig(x->shape, nd, s);
        if (!x->is_output && x->n_uses == 1 && prod[v] >= 0) {
                const xnode_t *t = &m->nodes[prod[v]];
                if (t->op == OP_STRIDED && t->sub != 6 && t->xoff == 0 &&
                    t->n_in >= 1 && t->act == SWARM_ACT_NONE &&
                    is_f32(m, t->in[0])) {
                        memcpy(s, t->xstr, sizeof(int64_t) * (size_t)nd);
                        b = t->in[0];
                        k0 = prod[v];
                }
        }
        /* The byte copy before it (or before v itself): the same bytes,
         * so the same strides read them. */
        if (prod[b] >= 0) {
                const xvalue_t *y = &m->vals[b];
                const xnode_t *r = &m->nodes[prod[b]];
                int z = r->n_in >= 1 ? r->in[0] : -1;
                if (!y->is_output && y->n_uses == 1 && r->op == OP_COPY &&
                    r->act == SWARM_ACT_NONE && is_f32(m, z) &&
                    m->vals[z].batched == y->batched && !m->vals[z].is_seq &&
                    swarm_shape_elems(m->vals[z].shape, m->vals[z].ndim) ==
                            swarm_shape_elems(y->shape, y->ndim)) {
                        k1 = prod[b];
                        b = z;
                }
        }
        to4(s, nd, str);
        if (!ok(str, dims)) {
                /* v itself, contiguous, always fits an sgemm */
                contig(x->shape, nd, s);
                to4(s, nd, str);
                *base = v;
                return ok(str, dims);
        }
        *base = b;
        kill[0] = k0;
        kill[1] = k1;
        return 1;
}

/* dims: batch, heads, sq, sk, dk, dv.  A unit stride where the sgemm
 * wants one and leading dimensions no shorter than the rows (what
 * exec_attn_layout_ok checks on the whole). */
static int ld_ok(int64_t rs, int64_t cs, int64_t rows, int64_t cols) {
        if (rs < 0 || cs < 0)
                return 0;
        return ((cs == 1 || cols == 1) && (rows == 1 || rs >= cols)) ||
               ((rs == 1 || rows == 1) && (cols == 1 || cs >= rows));
}

static int q_ok(const int64_t *s, const int64_t *d) {
        return s[0] >= 0 && s[1] >= 0 && ld_ok(s[2], s[3], d[2], d[4]);
}

static int k_ok(const int64_t *s, const int64_t *d) {
        /* K as stored for MatMul(Q, K): (b, h, dk, sk): r = d, c = j. */
        return s[0] >= 0 && s[1] >= 0 && ld_ok(s[2], s[3], d[4], d[3]);
}

static int v_ok(const int64_t *s, const int64_t *d) {
        return s[0] >= 0 && s[1] >= 0 && ld_ok(s[2], s[3], d[3], d[5]);
}

/* Leading dims of a and b equal (no broadcasting between the heads). */
static int same_lead(const xvalue_t *a, const xvalue_t *b, int nd) {
        if (a->ndim != nd || b->ndim != nd || a->batched != b->batched ||
            a->nsym || b->nsym)
                return 0;
        for (int d = 0; d < nd - 2; d++)
                if (a->shape[d] != b->shape[d])
                        return 0;
        return 1;
}

/* y's view: the MatMul's output o (rank nd) written through the
 * Transpose that reads it and the Reshape after that, when each is the
 * only reader.  ys: y's (b, h, i, d) strides; *out the value written. */
static void out_view(swarm_model_t *m, int o, int nd, int64_t *ys, int *out,
                     int *kill) {
        const xvalue_t *ov = &m->vals[o];
        int64_t co[SWARM_MAX_DIMS], ct[SWARM_MAX_DIMS], s[SWARM_MAX_DIMS];
        xnode_t *t = sole(m, o);
        int cur = o;

        kill[0] = kill[1] = -1;
        contig(ov->shape, nd, co);
        memcpy(s, co, sizeof(int64_t) * (size_t)nd);
        if (t && t->op == OP_STRIDED && t->sub != 6 && t->xoff == 0 &&
            t->n_in == 1 && t->in[0] == o && t->act == SWARM_ACT_NONE &&
            is_f32(m, t->out) && m->vals[t->out].ndim == nd &&
            m->vals[t->out].batched == ov->batched && !m->vals[t->out].nsym) {
                const xvalue_t *tv = &m->vals[t->out];
                int used[SWARM_MAX_DIMS] = {0}, good = 1;
                contig(tv->shape, nd, ct);
                /* Output dim k of the Transpose reads o's dim p where its
                 * stride is o's stride of p: invert that.  Equal (shape,
                 * stride) pairs only occur among size-1 dims, whose stride
                 * never matters, except a batched dim 0 (pinned). */
                for (int p = 0; p < nd && good; p++) {
                        int k = -1;
                        for (int q = 0; q < nd; q++)
                                if (!used[q] && tv->shape[q] == ov->shape[p] &&
                                    t->xstr[q] == co[p] &&
                                    (!ov->batched || (p == 0) == (q == 0))) {
                                        k = q;
                                        break;
                                }
                        if (k < 0)
                                good = 0;
                        else {
                                used[k] = 1;
                                s[p] = ct[k];
                        }
                }
                if (good) {
                        kill[0] = (int)(t - m->nodes);
                        cur = t->out;
                } else {
                        memcpy(s, co, sizeof(int64_t) * (size_t)nd);
                }
        }
        t = sole(m, cur);
        if (t && t->op == OP_COPY && t->n_in >= 1 && t->in[0] == cur &&
            t->act == SWARM_ACT_NONE && is_f32(m, t->out) &&
            m->vals[t->out].batched == m->vals[cur].batched &&
            swarm_shape_elems(m->vals[t->out].shape, m->vals[t->out].ndim) ==
                    swarm_shape_elems(m->vals[cur].shape,
                                      m->vals[cur].ndim)) {
                kill[1] = (int)(t - m->nodes);
                cur = t->out;
        }
        to4(s, nd, ys);
        *out = cur;
}

/* p -> IsNaN -> Where(., 0, p), p read by those two only, the Where's
 * output p's shape: the torch.onnx (dynamo) export of
 * scaled_dot_product_attention guards the softmax so that a fully masked
 * row gives zeros.  Returns the Where's output with guard[] the IsNaN and
 * the Where, or p itself when there is no such guard. */
static int nan_guard(swarm_model_t *m, int p, xnode_t *guard[2]) {
        xnode_t *isn = NULL, *wh;
        const xvalue_t *pv = &m->vals[p];
        float z;

        if (pv->is_output || pv->n_uses != 2)
                return p;
        for (int i = 0; i < m->n_nodes && !isn; i++) {
                xnode_t *n = &m->nodes[i];
                if (!n->dead && n->op == OP_HOST && n->hk == HK_UNARY &&
                    n->hop == HU_ISNAN && n->n_in == 1 && n->in[0] == p)
                        isn = n;
        }
        if (!isn || !(wh = sole(m, isn->out)) || wh->op != OP_HOST ||
            wh->hk != HK_WHERE || wh->n_in != 3 || wh->in[0] != isn->out ||
            wh->in[2] != p || !const_scalar(m, wh->in[1], &z) || z != 0.0f ||
            !same_shape(&m->vals[wh->out], pv) || !is_f32(m, wh->out))
                return p;
        guard[0] = isn;
        guard[1] = wh;
        return wh->out;
}

/* May the Add a1 (scores + m1) become m1 + m2, ahead of where the second
 * Add read m2?  m2 a FLOAT32 mask that broadcasts to the scores (sv),
 * written before a1 runs (or a graph input or constant), and the sum as
 * batched as the scores it stands for. */
static int two_masks(swarm_model_t *m, const int *prod, const xnode_t *a1,
                     int m1, int m2, const xvalue_t *sv) {
        const xvalue_t *v1 = &m->vals[m1], *v2 = &m->vals[m2];
        int at = prod[a1->out];

        return m2 >= 0 && m2 != m1 && is_f32(m, m2) && v2->ndim <= sv->ndim &&
               !v2->nsym && at >= 0 && prod[m2] < at &&
               (!v2->batched || (v2->ndim == sv->ndim && sv->batched &&
                                 v2->shape[0] == sv->shape[0])) &&
               (v1->batched || v2->batched) == sv->batched;
}

static int fuse_attn_at(swarm_model_t *m, const int *prod, xnode_t *m1) {
        const xvalue_t *qv, *kv, *vv, *sv;
        xnode_t *c, *sm, *m2, *steps[2] = {NULL, NULL};
        xnode_t *guard[2] = {NULL, NULL}, *msum = NULL;
        int64_t dims[6], qs[4], ks[4], vs[4], ys[4];
        int nd, cur, mask = -1, mask1 = -1, mask2 = -1, qb, kb, vb, out;
        int kill[8], *in;
        float scale = 1.0f, f;

        if (m1->op != OP_MATMUL || m1->n_in != 2 || m1->bias >= 0 ||
            m1->act != SWARM_ACT_NONE || m1->trans_a || m1->trans_b ||
            !is_f32(m, m1->in[0]) || !is_f32(m, m1->in[1]) ||
            !is_f32(m, m1->out))
                return 0;
        qv = &m->vals[m1->in[0]];
        kv = &m->vals[m1->in[1]];
        nd = qv->ndim;
        if ((nd != 3 && nd != 4) || !same_lead(qv, kv, nd) ||
            m1->in[0] == m1->in[1])
                return 0;
        cur = m1->out;
        sv = &m->vals[cur];
        /* [* c | / c] */
        c = sole(m, cur);
        if (c && c->op == OP_BINARY && c->n_in == 2 &&
            c->act == SWARM_ACT_NONE && same_shape(&m->vals[c->out], sv) &&
            is_f32(m, c->out)) {
                int scaled = 1;
                if (c->sub == SWARM_BIN_MUL && c->in[0] == cur &&
                    const_scalar(m, c->in[1], &f)) {
                        scale = f;
                } else if (c->sub == SWARM_BIN_MUL && c->in[1] == cur &&
                           const_scalar(m, c->in[0], &f)) {
                        scale = f;
                } else if (c->sub == SWARM_BIN_DIV && c->in[0] == cur &&
                           const_scalar(m, c->in[1], &f) && f != 0.0f) {
                        scale = 1.0f / f;
                } else {
                        scaled = 0;     /* c may be the mask's Add */
                }
                if (scaled && !isfinite(scale))
                        return 0;
                if (scaled) {
                        steps[0] = c;
                        cur = c->out;
                        c = sole(m, cur);
                }
        }
        /* [+ mask]: the mask broadcasts to the scores, not the reverse. */
        if (c && bin_other(c, SWARM_BIN_ADD, cur, &mask)) {
                const xvalue_t *mv = &m->vals[mask];
                if (!is_f32(m, mask) || mv->ndim > nd || mv->nsym ||
                    !same_shape(&m->vals[c->out], sv) || !is_f32(m, c->out) ||
                    (mv->batched && (!sv->batched || mv->ndim != nd ||
                                     mv->shape[0] != sv->shape[0])))
                        return 0;
                steps[1] = c;
                cur = c->out;
                c = sole(m, cur);
                /* [+ mask2] (T5: the position bias, then the padding
                 * mask): the first Add is rewritten to sum the two
                 * masks, its output (the scores' shape) the one mask */
                if (c && bin_other(c, SWARM_BIN_ADD, cur, &mask2) &&
                    two_masks(m, prod, steps[1], mask, mask2, sv) &&
                    same_shape(&m->vals[c->out], sv) && is_f32(m, c->out)) {
                        /* rewritten once nothing below can refuse */
                        msum = steps[1];
                        mask1 = mask;
                        mask = msum->out;
                        steps[1] = c;
                        cur = c->out;
                        c = sole(m, cur);
                }
        } else {
                mask = -1;
        }
        sm = c;
        if (!sm || sm->op != OP_SOFTMAX || sm->n_in != 1 ||
            sm->in[0] != cur || sm->axis != nd - 1 ||
            sm->act != SWARM_ACT_NONE || !same_shape(&m->vals[sm->out], sv))
                return 0;
        cur = nan_guard(m, sm->out, guard);
        m2 = sole(m, cur);
        if (!m2 || m2->op != OP_MATMUL || m2->n_in != 2 ||
            m2->in[0] != cur || m2->bias >= 0 ||
            m2->act != SWARM_ACT_NONE || m2->trans_a || m2->trans_b ||
            !is_f32(m, m2->in[1]) || !is_f32(m, m2->out) ||
            m2->in[1] == cur)
                return 0;
        vv = &m->vals[m2->in[1]];
        if (!same_lead(qv, vv, nd) ||
            vv->shape[nd - 2] != kv->shape[nd - 1])
                return 0;
        dims[0] = qv->shape[0];
        dims[1] = nd == 4 ? qv->shape[1] : 1;
        dims[2] = qv->shape[nd - 2];
        dims[3] = kv->shape[nd - 1];
        dims[4] = qv->shape[nd - 1];
        dims[5] = vv->shape[nd - 1];
        for (int i = 0; i < 6; i++)
                if (dims[i] < 1 || dims[i] > INT32_MAX)
                        return 0;
        if (!view_of(m, prod, m1->in[0], nd, dims, q_ok, &qb, qs, kill) ||
            !view_of(m, prod, m1->in[1], nd, dims, k_ok, &kb, ks, kill + 2) ||
            !view_of(m, prod, m2->in[1], nd, dims, v_ok, &vb, vs, kill + 4))
                return 0;
        out_view(m, m2->out, nd, ys, &out, kill + 6);
        {
                /* The whole layout as the backend will get it (batch: one
                 * row's worth; more rows only move the b offsets). */
                swarm_attn_t a;
                memset(&a, 0, sizeof(a));
                a.batch = dims[0];
                a.heads = dims[1];
                a.sq = dims[2];
                a.sk = dims[3];
                a.dk = dims[4];
                a.dv = dims[5];
                memcpy(a.q_str, qs, sizeof(qs));
                memcpy(a.k_str, ks, sizeof(ks));
                /* k as backend.h has it: (b, h, j, d) */
                a.k_str[2] = ks[3];
                a.k_str[3] = ks[2];
                memcpy(a.v_str, vs, sizeof(vs));
                memcpy(a.y_str, ys, sizeof(ys));
                if (!exec_attn_layout_ok(&a))
                        return 0;
                memcpy(ks, a.k_str, sizeof(ks));
        }
        in = realloc(m2->in, 4 * sizeof(int));
        if (!in)
                return 0;
        m2->in = in;
        m2->in[0] = qb;
        m2->in[1] = kb;
        m2->in[2] = vb;
        m2->in[3] = mask;
        m2->n_in = 4;
        m2->op = OP_ATTN;
        m2->alpha = scale;
        m2->out = out;
        A_BATCH(m2) = dims[0];
        A_HEADS(m2) = dims[1];
        A_SQ(m2) = dims[2];
        A_SK(m2) = dims[3];
        A_DK(m2) = dims[4];
        A_DV(m2) = dims[5];
        A_BATCHED(m2) = qv->batched;
        A_RANK(m2) = nd;
        memcpy(A_STR(m2, 0), qs, sizeof(qs));
        memcpy(A_STR(m2, 1), ks, sizeof(ks));
        memcpy(A_STR(m2, 2), vs, sizeof(vs));
        memcpy(A_STR(m2, 3), ys, sizeof(ys));
        A_NAN0(m2) = guard[0] != NULL;
        if (msum) {
                msum->in[0] = mask1;
                msum->in[1] = mask2;
        }
        m1->dead = 1;
        sm->dead = 1;
        for (int i = 0; i < 2; i++) {
                if (steps[i])
                        steps[i]->dead = 1;
                if (guard[i])
                        guard[i]->dead = 1;
        }
        for (int i = 0; i < 8; i++)
                if (kill[i] >= 0)
                        m->nodes[kill[i]].dead = 1;
        rename_op(m2, "Attention");
        return 1;
}

void exec_fuse_attn(swarm_model_t *m) {
        int *prod = live_uses(m);

        if (!prod)
                return;         /* no memory: the plan stays unfused */
        for (int i = 0; i < m->n_nodes; i++) {
                xnode_t *n = &m->nodes[i];
                if (!n->dead && (fuse_gelu_at(m, n) ||
                                 fuse_gelu_tanh_at(m, prod, n))) {
                        free(prod);
                        if (!(prod = live_uses(m)))
                                return;
                }
        }
        for (int i = 0; m->be && m->be->attention && i < m->n_nodes; i++) {
                xnode_t *n = &m->nodes[i];
                if (!n->dead && fuse_attn_at(m, prod, n)) {
                        free(prod);
                        if (!(prod = live_uses(m)))
                                return;
                }
        }
        free(prod);
}

int exec_attn_run(swarm_model_t *m, swarm_backend_t *be, const xnode_t *n,
                  swarm_err_t *err) {
        swarm_attn_t a;
        int64_t rows = A_BATCHED(n) ? m->cur_rows : 1;
        int nd = (int)A_RANK(n);

        if (!be->attention)
                return swarm_err_set(err, SWARM_ERR_STATE,
                                     "attention step on a backend without "
                                     "attention");
        memset(&a, 0, sizeof(a));
        if (rows < 1 || swarm_mul_i64(A_BATCH(n), rows, &a.batch))
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "attention: bad batch");
        a.heads = A_HEADS(n);
        a.sq = A_SQ(n);
        a.sk = A_SK(n);
        a.dk = A_DK(n);
        a.dv = A_DV(n);
        a.scale = n->alpha;
        a.q = m->vals[n->in[0]].dev;
        a.k = m->vals[n->in[1]].dev;
        a.v = m->vals[n->in[2]].dev;
        a.y = m->vals[n->out].dev;
        a.nan_rows_zero = (int)A_NAN0(n);
        memcpy(a.q_str, A_STR(n, 0), sizeof(a.q_str));
        memcpy(a.k_str, A_STR(n, 1), sizeof(a.k_str));
        memcpy(a.v_str, A_STR(n, 2), sizeof(a.v_str));
        memcpy(a.y_str, A_STR(n, 3), sizeof(a.y_str));
        if (n->in[3] >= 0) {
                const xvalue_t *mv = &m->vals[n->in[3]];
                int64_t sh[4] = {a.batch, a.heads, a.sq, a.sk}, s[4];
                if (nd == 3) {
                        sh[1] = a.sq;
                        sh[2] = a.sk;
                }
                exec_bcast_strides(mv->cshape, mv->ndim, nd, sh, s);
                to4(s, nd, a.mask_str);
                a.mask = mv->dev;
        }
        return be->attention(be, &a, err);
}
