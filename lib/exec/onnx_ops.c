/*
 * onnx_ops.c - per-operator checks, shape inference with a symbolic batch,
 * load-time constant folding and fusion.
 *
 * Each supported ONNX operator maps onto one of a few generic plan ops
 * (model_internal.h), which model.c runs through the backend's generic
 * kernels.  Integer tensors only ever exist at load time (shape chains:
 * Shape -> Gather -> Unsqueeze -> Concat -> Reshape), except graph inputs
 * used as Gather indices; everything else computes in FLOAT32.
 *
 * Batch rule: a batched value's leading dim is rows * shape[0] and must stay
 * the leading dim.  An operator that would move the batch elsewhere or mix
 * it with other dims (Transpose of dim 0, Reshape to a fixed leading dim,
 * reductions or concatenation over dim 0 ...) is refused with a message.
 */
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "onnx.pb-c.h"
#include "fuse_attn.h"
#include "model_internal.h"
#include "bcast.h"
#include "conv_taps.h"
#include "node_err.h"
#include "tensor_decode.h"

#define OPARGS swarm_model_t *m, xnode_t *n, const Onnx__NodeProto *np, \
        int64_t opset, swarm_err_t *err

static const char *nz(const char *s) {
        return s ? s : "";
}


/* Checked shape arithmetic (swarm_add_i64 / swarm_mul_i64): every dim,
 * pad, stride and offset computed from numbers in the model goes through
 * these, so an overflow is the node's error instead of a wrapped size. */
static int ck_add(const xnode_t *n, int64_t a, int64_t b, int64_t *r,
                  swarm_err_t *err) {
        if (swarm_add_i64(a, b, r))
                return node_err(err, SWARM_ERR_INVALID, n,
                                "size arithmetic overflows (%lld + %lld)",
                                (long long)a, (long long)b);
        return SWARM_OK;
}

static int ck_mul(const xnode_t *n, int64_t a, int64_t b, int64_t *r,
                  swarm_err_t *err) {
        if (swarm_mul_i64(a, b, r))
                return node_err(err, SWARM_ERR_INVALID, n,
                                "size arithmetic overflows (%lld * %lld)",
                                (long long)a, (long long)b);
        return SWARM_OK;
}

/* The result of a node: its elements must be countable (swarm_shape_elems)
 * and small enough that rows * elements * 4 stays representable at run
 * time; a folded result must also fit the load-time bound. */
static int check_result(const xnode_t *n, const xvalue_t *o, int folded,
                        swarm_err_t *err) {
        int64_t e = swarm_shape_elems(o->shape, o->ndim);
        if (e < 0 || e > EXEC_RUN_MAX_ELEMS ||
            (folded && e > EXEC_FOLD_MAX_ELEMS))
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "result shape too large%s",
                                folded ? " to compute at load time" : "");
        return SWARM_OK;
}

/* ---- shapes with a symbolic batch ---- */

static void fmt_shape(const xvalue_t *v, char *buf, size_t size) {
        size_t o = 0;
        o += (size_t)snprintf(buf + o, size - o, "[");
        for (int i = 0; i < v->ndim && o < size; i++) {
                if (i == 0 && v->batched)
                        o += (size_t)snprintf(buf + o, size - o, "%sN*%lld",
                                              "", (long long)v->shape[0]);
                else
                        o += (size_t)snprintf(buf + o, size - o, "%s%lld",
                                              i ? "," : "",
                                              (long long)v->shape[i]);
        }
        if (o < size)
                snprintf(buf + o, size - o, "]");
}

/* NumPy broadcast of a[a_from..a_to) with b[b_from..b_to).  A symbolic dim
 * (index 0 of a batched value) only broadcasts with 1 or the same symbol
 * and must stay the leading output dim.  Returns 0 or -1 with `why`. */
static int bcast(const xvalue_t *a, int a_from, int a_to, const xvalue_t *b,
                 int b_from, int b_to, int *ndim, int64_t *shape,
                 int *batched, char *why, size_t whylen) {
        int na = a_to - a_from, nb = b_to - b_from;
        int nd = na > nb ? na : nb;

        *batched = 0;
        for (int i = 0; i < nd; i++) {
                int ai = a_from + i - (nd - na), bi = b_from + i - (nd - nb);
                int64_t ad = 1, bd = 1, od;
                int as = 0, bs = 0, os;
                if (ai >= a_from) {
                        ad = a->shape[ai];
                        as = ai == 0 && a->batched;
                }
                if (bi >= b_from) {
                        bd = b->shape[bi];
                        bs = bi == 0 && b->batched;
                }
                if (as && bs) {
                        if (ad != bd)
                                goto bad;
                        od = ad;
                        os = 1;
                } else if (as || bs) {
                        if ((as ? bd : ad) != 1)
                                goto bad;
                        od = as ? ad : bd;
                        os = 1;
                } else {
                        if (ad != bd && ad != 1 && bd != 1)
                                goto bad;
                        od = ad == 1 ? bd : ad;
                        os = 0;
                }
                if (os && i != 0) {
                        snprintf(why, whylen, "the batch dimension would not "
                                 "stay the leading dimension");
                        return -1;
                }
                shape[i] = od;
                if (os)
                        *batched = 1;
        }
        *ndim = nd;
        return 0;
bad: {
                char sa[128], sb[128];
                fmt_shape(a, sa, sizeof(sa));
                fmt_shape(b, sb, sizeof(sb));
                snprintf(why, whylen, "shapes %s and %s do not broadcast",
                         sa, sb);
                return -1;
        }
}

/* ---- attributes ---- */

static const Onnx__AttributeProto *attr_find(const Onnx__NodeProto *np,
                                             const char *name) {
        for (size_t i = 0; i < np->n_attribute; i++)
                if (np->attribute[i] &&
                    strcmp(nz(np->attribute[i]->name), name) == 0)
                        return np->attribute[i];
        return NULL;
}

static int attr_int(const Onnx__NodeProto *np, const xnode_t *n,
                    const char *name, int64_t def, int64_t *out,
                    swarm_err_t *err) {
        const Onnx__AttributeProto *a = attr_find(np, name);
        *out = def;
        if (!a)
                return SWARM_OK;
        if (!a->has_i || (a->has_type &&
                          a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT))
                return node_err(err, SWARM_ERR_INVALID, n,
                                "attribute '%s' must be an int", name);
        *out = a->i;
        return SWARM_OK;
}

static int attr_float(const Onnx__NodeProto *np, const xnode_t *n,
                      const char *name, float def, float *out,
                      swarm_err_t *err) {
        const Onnx__AttributeProto *a = attr_find(np, name);
        *out = def;
        if (!a)
                return SWARM_OK;
        if (!a->has_f ||
            (a->has_type &&
             a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT))
                return node_err(err, SWARM_ERR_INVALID, n,
                                "attribute '%s' must be a float", name);
        *out = a->f;
        return SWARM_OK;
}

/* Refuse attributes we would otherwise silently ignore. */
static int attrs_only(const Onnx__NodeProto *np, const xnode_t *n,
                      const char *const *allowed, swarm_err_t *err) {
        for (size_t i = 0; i < np->n_attribute; i++) {
                const char *an = np->attribute[i]
                                 ? nz(np->attribute[i]->name) : "";
                int ok = 0;
                for (int j = 0; allowed[j]; j++)
                        if (strcmp(an, allowed[j]) == 0)
                                ok = 1;
                if (!ok)
                        return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                        "attribute '%s' is not supported",
                                        an);
        }
        return SWARM_OK;
}


/* Integer list attribute; *cnt = -1 when absent. */
static int attr_ints(const Onnx__NodeProto *np, const xnode_t *n,
                     const char *name, int64_t *out, int max, int *cnt,
                     swarm_err_t *err) {
        const Onnx__AttributeProto *a = attr_find(np, name);
        *cnt = -1;
        if (!a)
                return SWARM_OK;
        if ((int64_t)a->n_ints > max)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "attribute '%s' has %zu values (at most %d)",
                                name, a->n_ints, max);
        for (size_t i = 0; i < a->n_ints; i++)
                out[i] = a->ints[i];
        *cnt = (int)a->n_ints;
        return SWARM_OK;
}

static const char *attr_str(const Onnx__NodeProto *np, const char *name,
                            char *buf, size_t size) {
        const Onnx__AttributeProto *a = attr_find(np, name);
        size_t l;
        if (!a || !a->has_s)
                return NULL;
        l = a->s.len < size - 1 ? a->s.len : size - 1;
        memcpy(buf, a->s.data, l);
        buf[l] = '\0';
        return buf;
}

/* ---- small helpers over values ---- */

#define VAL(j) (&m->vals[n->in[(j)]])

static int has_in(const xnode_t *n, int j) {
        return j < n->n_in && n->in[j] >= 0;
}

static int is_const(const xvalue_t *v) {
        return v->kind == V_CONST && v->host != NULL;
}

static int64_t elems_of(const xvalue_t *v) {
        return swarm_shape_elems(v->shape, v->ndim);
}

/* The dtype a value has in the model: INT32 constants are held widened. */
static swarm_dtype_t ldt(const xvalue_t *v) {
        return v->widened ? SWARM_DTYPE_INT32 : v->dtype;
}

static void contig_strides(const int64_t *shape, int ndim, int64_t *str) {
        int64_t s = 1;
        for (int i = ndim - 1; i >= 0; i--) {
                str[i] = s;
                s *= shape[i];
        }
}

static int need_float(swarm_model_t *m, xnode_t *n, int j, swarm_err_t *err) {
        const xvalue_t *v;
        /* An empty name marks an absent input; callers that require one
         * reach here with it (found by the garbage test's mutations). */
        if (n->in[j] < 0)
                return node_err(err, SWARM_ERR_INVALID, n,
                                "input %d is missing", j);
        v = VAL(j);
        if (v->dtype != SWARM_DTYPE_FLOAT32)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "input '%s' has dtype %s; only FLOAT32 is "
                                "supported there", nz(v->name),
                                swarm_dtype_name(v->dtype));
        return SWARM_OK;
}

/* The values of a constant integer input (axes, shapes, pads ...).  With
 * `sym` NULL, elements that depend on the batch are refused. */
static int const_ints(swarm_model_t *m, xnode_t *n, int j, int64_t *out,
                      int max, int *cnt, uint8_t *sym, swarm_err_t *err) {
        const xvalue_t *v = VAL(j);
        int64_t e = elems_of(v);
        if (!is_const(v))
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "input '%s' must be a constant (an "
                                "initializer or computable at load time)",
                                v->name);
        if (v->dtype != SWARM_DTYPE_INT64 && v->dtype != SWARM_DTYPE_INT32 &&
            v->dtype != SWARM_DTYPE_INT8 && v->dtype != SWARM_DTYPE_UINT8)
                return node_err(err, SWARM_ERR_INVALID, n,
                                "input '%s' must be an integer (got %s)",
                                v->name, swarm_dtype_name(v->dtype));
        if (e > max)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "input '%s' has %lld values (at most %d)",
                                v->name, (long long)e, max);
        for (int64_t i = 0; i < e; i++) {
                switch (v->dtype) {
                case SWARM_DTYPE_INT32:
                        out[i] = ((const int32_t *)v->host)[i];
                        break;
                case SWARM_DTYPE_INT8:
                        out[i] = ((const int8_t *)v->host)[i];
                        break;
                case SWARM_DTYPE_UINT8:
                        out[i] = ((const uint8_t *)v->host)[i];
                        break;
                default:
                        out[i] = ((const int64_t *)v->host)[i];
                        break;
                }
                if (sym)
                        sym[i] = v->nsym ? v->nsym[i] : 0;
                else if (v->nsym && v->nsym[i])
                        return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                        "input '%s' depends on the batch "
                                        "dimension", v->name);
        }
        *cnt = (int)e;
        return SWARM_OK;
}

static int const_scalar(swarm_model_t *m, xnode_t *n, int j, float *out,
                        swarm_err_t *err) {
        const xvalue_t *v = VAL(j);
        if (!is_const(v) || elems_of(v) != 1 ||
            v->dtype != SWARM_DTYPE_FLOAT32)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "input '%s' must be a constant FLOAT32 "
                                "scalar", v->name);
        *out = ((const float *)v->host)[0];
        return SWARM_OK;
}

static int norm_axis(xnode_t *n, int64_t axis, int ndim, int64_t *out,
                     swarm_err_t *err) {
        *out = 0;
        if (axis < -ndim || axis >= ndim)
                return node_err(err, SWARM_ERR_INVALID, n,
                                "axis %lld out of range for %d-D input",
                                (long long)axis, ndim);
        *out = axis < 0 ? axis + ndim : axis;
        return SWARM_OK;
}

static void out_like(xvalue_t *o, const xvalue_t *x) {
        o->ndim = x->ndim;
        memcpy(o->shape, x->shape, sizeof(o->shape));
        o->batched = x->batched;
        o->dtype = x->dtype;
}

/* Give the output its own host data: the node is folded. */
static int fold_host(swarm_model_t *m, xnode_t *n, xvalue_t *o, int with_sym,
                     swarm_err_t *err) {
        int64_t e = elems_of(o);
        size_t b;
        int rc;

        (void)m;
        if ((rc = check_result(n, o, 1, err)))
                return rc;
        b = (size_t)e * swarm_dtype_size(o->dtype);
        o->host = calloc(1, b ? b : 1);
        o->host_bytes = b;
        if (with_sym && e > 0)
                o->nsym = calloc((size_t)e, 1);
        if (!o->host || (with_sym && e > 0 && !o->nsym))
                return node_err(err, SWARM_ERR_NOMEM, n, "out of memory");
        o->kind = V_CONST;
        o->batched = 0;
        n->op = OP_FOLDED;
        n->dead = 1;
        return SWARM_OK;
}

int exec_reserve_vals(swarm_model_t *m, int extra) {
        xvalue_t *nv;
        int cap;

        if (m->n_vals <= m->cap_vals - extra)
                return 0;
        if (m->n_vals > INT_MAX / 2 - extra)
                return -1;
        cap = 2 * m->n_vals + extra;
        nv = realloc(m->vals, (size_t)cap * sizeof(xvalue_t));
        if (!nv)
                return -1;
        memset(nv + m->cap_vals, 0,
               (size_t)(cap - m->cap_vals) * sizeof(xvalue_t));
        m->vals = nv;
        m->cap_vals = cap;
        return 0;
}

int exec_new_const(swarm_model_t *m, const char *hint, swarm_dtype_t dt,
                   int ndim, const int64_t *shape, void *host) {
        xvalue_t *v;
        char nm[256];
        if (m->n_vals >= m->cap_vals)
                return -1;
        v = &m->vals[m->n_vals];
        memset(v, 0, sizeof(*v));
        snprintf(nm, sizeof(nm), "%s#folded%d", hint, m->n_vals);
        v->name = strdup(nm);
        if (!v->name)
                return -1;
        v->kind = V_CONST;
        v->dtype = dt;
        v->ndim = ndim;
        memcpy(v->shape, shape, sizeof(int64_t) * (size_t)ndim);
        v->host = host;
        v->host_bytes = (size_t)swarm_shape_elems(shape, ndim) *
                        swarm_dtype_size(dt);
        v->producer = -1;
        v->slot = -1;
        v->input_idx = -1;
        v->last_use = -1;
        return m->n_vals++;
}

/* ---- Gemm, MatMul ---- */

static int h_gemm(OPARGS) {
        static const char *const allowed[] = {"alpha", "beta", "transA",
                                              "transB", "broadcast", NULL};
        xvalue_t *a = VAL(0), *b = VAL(1);
        xvalue_t *o = &m->vals[n->out];
        int64_t ta, tb, bc, ka, kb;
        int rc;

        if ((rc = attrs_only(np, n, allowed, err)) ||
            (rc = attr_float(np, n, "alpha", 1.0f, &n->alpha, err)) ||
            (rc = attr_float(np, n, "beta", 1.0f, &n->beta, err)) ||
            (rc = attr_int(np, n, "transA", 0, &ta, err)) ||
            (rc = attr_int(np, n, "transB", 0, &tb, err)) ||
            (rc = attr_int(np, n, "broadcast", 1, &bc, err)))
                return rc;
        for (int j = 0; j < n->n_in; j++)
                if ((rc = need_float(m, n, j, err)))
                        return rc;
        n->op = OP_GEMM;
        n->trans_a = ta != 0;
        n->trans_b = tb != 0;
        if (a->ndim != 2 || b->ndim != 2)
                return node_err(err, SWARM_ERR_INVALID, n,
                                "A and B must be 2-D (got %d-D and %d-D)",
                                a->ndim, b->ndim);
        if (a->batched && n->trans_a)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "transA on an input with a batch dimension");
        if (b->batched)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "B depends on the batch dimension");
        ka = n->trans_a ? a->shape[0] : a->shape[1];
        kb = n->trans_b ? b->shape[1] : b->shape[0];
        if (ka != kb)
                return node_err(err, SWARM_ERR_INVALID, n,
                                "inner dimensions differ (%lld vs %lld)",
                                (long long)ka, (long long)kb);
        o->ndim = 2;
        o->shape[0] = n->trans_a ? a->shape[1] : a->shape[0];
        o->shape[1] = n->trans_b ? b->shape[0] : b->shape[1];
        o->batched = a->batched;
        n->bias = n->n_in > 2 ? n->in[2] : -1;
        if (n->bias >= 0) {
                xvalue_t *c = &m->vals[n->bias];
                int nd, bt;
                int64_t sh[SWARM_MAX_DIMS];
                char why[256];
                if (c->ndim > 2 ||
                    bcast(o, 0, 2, c, 0, c->ndim, &nd, sh, &bt, why,
                          sizeof(why)) ||
                    sh[0] != o->shape[0] || sh[1] != o->shape[1] ||
                    bt != o->batched)
                        return node_err(err, SWARM_ERR_INVALID, n,
                                        "C does not broadcast to the "
                                        "%lldx%lld result",
                                        (long long)o->shape[0],
                                        (long long)o->shape[1]);
        }
        return SWARM_OK;
}

static int h_matmul(OPARGS) {
        static const char *const no_attrs[] = {NULL};
        xvalue_t *a = VAL(0), *b = VAL(1);
        xvalue_t *o = &m->vals[n->out];
        int nd, bt, rc;
        char why[256];

        if ((rc = attrs_only(np, n, no_attrs, err)) ||
            (rc = need_float(m, n, 0, err)) || (rc = need_float(m, n, 1, err)))
                return rc;
        n->op = OP_MATMUL;
        if (a->ndim < 2 || b->ndim < 2)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "1-D operands are not supported");
        if (b->batched && b->ndim == 2)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "B depends on the batch dimension");
        if (a->shape[a->ndim - 1] != b->shape[b->ndim - 2])
                return node_err(err, SWARM_ERR_INVALID, n,
                                "inner dimensions differ (%lld vs %lld)",
                                (long long)a->shape[a->ndim - 1],
                                (long long)b->shape[b->ndim - 2]);
        if (a->ndim == 2 && b->ndim == 2) {
                nd = 0;
                bt = 0;
        } else if (a->ndim == 2 && a->batched) {
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "the batch dimension would not stay the "
                                "leading dimension");
        } else if (bcast(a, 0, a->ndim - 2, b, 0, b->ndim - 2, &nd, o->shape,
                         &bt, why, sizeof(why))) {
                return node_err(err, SWARM_ERR_UNSUPPORTED, n, "%s", why);
        }
        o->shape[nd] = a->shape[a->ndim - 2];
        o->shape[nd + 1] = b->shape[b->ndim - 1];
        o->ndim = nd + 2;
        o->batched = nd == 0 ? a->batched : bt;
        n->alpha = 1.0f;
        n->beta = 1.0f;
        n->bias = -1;
        return SWARM_OK;
}

/* ---- element-wise ---- */

static int int_binop(swarm_binop_t op, int64_t a, int as, int64_t b, int bs,
                     int64_t *r, uint8_t *rs) {
        /* A batch-dependent value is coef * N: only linear arithmetic on it
         * stays representable. */
        switch (op) {
        case SWARM_BIN_ADD:
        case SWARM_BIN_SUB:
                if (as != bs && !(as ? b == 0 : a == 0))
                        return -1;
                if (op == SWARM_BIN_ADD ? swarm_add_i64(a, b, r)
                                        : swarm_sub_i64(a, b, r))
                        return -1;
                *rs = (uint8_t)(as | bs);
                return 0;
        case SWARM_BIN_MUL:
                if (as && bs)
                        return -1;
                if (swarm_mul_i64(a, b, r))
                        return -1;
                *rs = (uint8_t)(as | bs);
                return 0;
        case SWARM_BIN_DIV:
                if (b == 0 || bs || (a == INT64_MIN && b == -1) ||
                    (as && a % b))
                        return -1;
                /* ONNX integer Div truncates like C. */
                *r = a / b;
                *rs = (uint8_t)as;
                return 0;
        case SWARM_BIN_MAX:
        case SWARM_BIN_MIN:
                if (as || bs)
                        return -1;
                *r = (op == SWARM_BIN_MAX) == (a > b) ? a : b;
                *rs = 0;
                return 0;
        default:
                return -1;
        }
}

static void bstr_of(const xvalue_t *v, int nd, const int64_t *oshape,
                    int64_t *str) {
        exec_bcast_strides(v->shape, v->ndim, nd, oshape, str);
}

static int host_binary(swarm_model_t *m, xnode_t *n, int hop,
                       swarm_err_t *err);

static int h_binary(OPARGS) {
        static const char *const allowed[] = {"broadcast",
                                              "consumed_inputs", NULL};
        static const struct {
                const char *name;
                swarm_binop_t op;
        } T[] = {{"Add", SWARM_BIN_ADD}, {"Sub", SWARM_BIN_SUB},
                 {"Mul", SWARM_BIN_MUL}, {"Div", SWARM_BIN_DIV},
                 {"Pow", SWARM_BIN_POW}, {"Max", SWARM_BIN_MAX},
                 {"Min", SWARM_BIN_MIN}, {"Sum", SWARM_BIN_ADD},
                 {"Mean", SWARM_BIN_ADD}};
        xvalue_t *o = &m->vals[n->out];
        int rc, ints = 0;

        if ((rc = attrs_only(np, n, allowed, err)))
                return rc;
        if (n->n_in < 1)
                return node_err(err, SWARM_ERR_INVALID, n, "no inputs");
        /* Variadic Sum/Max/...: every listed input is required. */
        for (int j = 0; j < n->n_in; j++)
                if (n->in[j] < 0)
                        return node_err(err, SWARM_ERR_INVALID, n,
                                        "input %d is missing", j);
        for (size_t i = 0; i < sizeof(T) / sizeof(T[0]); i++)
                if (strcmp(T[i].name, n->op_type) == 0)
                        n->sub = (int)T[i].op;
        for (int j = 0; j < n->n_in; j++)
                if (VAL(j)->dtype == SWARM_DTYPE_INT64)
                        ints++;
        if (ints && (ints != n->n_in || n->n_in != 2 || !is_const(VAL(0)) ||
                     !is_const(VAL(1))))
                ints = 0;
        if (!ints) {
                int typed = 0;
                for (int j = 0; j < n->n_in; j++)
                        typed |= VAL(j)->dtype != SWARM_DTYPE_FLOAT32;
                if (typed)
                        return host_binary(m, n, -1, err);
        }
        if (!ints)
                for (int j = 0; j < n->n_in; j++)
                        if ((rc = need_float(m, n, j, err)))
                                return rc;
        out_like(o, VAL(0));
        for (int j = 1; j < n->n_in; j++) {
                xvalue_t acc = *o;
                char why[256];
                if (bcast(&acc, 0, acc.ndim, VAL(j), 0, VAL(j)->ndim,
                          &o->ndim, o->shape, &o->batched, why, sizeof(why)))
                        return node_err(err, SWARM_ERR_UNSUPPORTED, n, "%s",
                                        why);
        }
        if (ints) {
                int64_t sa[SWARM_MAX_DIMS], sb[SWARM_MAX_DIMS];
                int64_t idx[SWARM_MAX_DIMS] = {0}, e;
                const xvalue_t *a = VAL(0), *b = VAL(1);
                o->dtype = SWARM_DTYPE_INT64;
                if ((rc = fold_host(m, n, o, 1, err)))
                        return rc;
                bstr_of(a, o->ndim, o->shape, sa);
                bstr_of(b, o->ndim, o->shape, sb);
                e = elems_of(o);
                for (int64_t i = 0; i < e; i++) {
                        int64_t ao = 0, bo = 0;
                        for (int d = 0; d < o->ndim; d++) {
                                ao += idx[d] * sa[d];
                                bo += idx[d] * sb[d];
                        }
                        if (int_binop((swarm_binop_t)n->sub,
                                      ((int64_t *)a->host)[ao],
                                      a->nsym ? a->nsym[ao] : 0,
                                      ((int64_t *)b->host)[bo],
                                      b->nsym ? b->nsym[bo] : 0,
                                      &((int64_t *)o->host)[i], &o->nsym[i]))
                                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                                "integer %s not computable at "
                                                "load time (on the batch "
                                                "dimension, by zero or "
                                                "overflowing)",
                                                n->op_type);
                        for (int d = o->ndim - 1; d >= 0; d--) {
                                if (++idx[d] < o->shape[d])
                                        break;
                                idx[d] = 0;
                        }
                }
                return SWARM_OK;
        }
        n->op = n->n_in == 1 ? OP_COPY : OP_BINARY;
        n->act = SWARM_ACT_NONE;
        if (strcmp(n->op_type, "Mean") == 0) {
                n->act = SWARM_ACT_AFFINE;
                n->act_alpha = 1.0f / (float)n->n_in;
                n->act_beta = 0.0f;
                if (n->n_in == 1)
                        n->op = OP_COPY;
        }
        return SWARM_OK;
}

/* ---- operators of any dtype, as host kernels (host_ops.c) ---- */

static int to_host(xnode_t *n, int hk, int hop) {
        n->op = OP_HOST;
        n->hk = hk;
        n->hop = hop;
        return SWARM_OK;
}

/* Reject batch marks: host kernels compute values, and a value that is
 * "N times something" cannot be computed before N is known. */
static int no_sym(swarm_model_t *m, xnode_t *n, swarm_err_t *err) {
        for (int j = 0; j < n->n_in; j++) {
                const xvalue_t *v;
                if (n->in[j] < 0)
                        continue;
                v = VAL(j);
                for (int64_t i = 0; v->nsym && i < elems_of(v); i++)
                        if (v->nsym[i])
                                return node_err(err, SWARM_ERR_UNSUPPORTED,
                                                n, "input '%s' depends on "
                                                "the batch size", v->name);
        }
        return SWARM_OK;
}

/* Element-wise binary of any dtype; hop < 0 maps n->sub (swarm_binop_t). */
static int host_binary(swarm_model_t *m, xnode_t *n, int hop,
                       swarm_err_t *err) {
        static const int from_binop[] = {HB_ADD, HB_SUB, HB_MUL, HB_DIV,
                                         HB_POW, HB_MAX, HB_MIN};
        xvalue_t *o = &m->vals[n->out];
        char why[256];
        int rc;

        if (n->n_in != 2)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "%d inputs of a non-FLOAT32 type",
                                n->n_in);
        if (hop < 0)
                hop = from_binop[n->sub];
        if ((rc = no_sym(m, n, err)))
                return rc;
        if (bcast(VAL(0), 0, VAL(0)->ndim, VAL(1), 0, VAL(1)->ndim,
                  &o->ndim, o->shape, &o->batched, why, sizeof(why)))
                return node_err(err, SWARM_ERR_UNSUPPORTED, n, "%s", why);
        o->dtype = hop >= HB_EQ && hop <= HB_XOR ? SWARM_DTYPE_BOOL
                                                 : ldt(VAL(0));
        return to_host(n, HK_BINARY, hop);
}

static int h_compare(OPARGS) {
        static const char *const allowed[] = {"broadcast", "fmod",
                                              "direction", NULL};
        static const struct {
                const char *name;
                int hop;
        } T[] = {{"Equal", HB_EQ}, {"Less", HB_LT}, {"LessOrEqual", HB_LE},
                 {"Greater", HB_GT}, {"GreaterOrEqual", HB_GE},
                 {"And", HB_AND}, {"Or", HB_OR}, {"Xor", HB_XOR},
                 {"Mod", HB_MOD}, {"BitShift", HB_SHL}, {"PRelu", HB_PRELU}};
        int hop = -1, rc;
        int64_t fm = 0;

        (void)opset;
        if ((rc = attrs_only(np, n, allowed, err)) ||
            (rc = attr_int(np, n, "fmod", 0, &fm, err)))
                return rc;
        for (size_t i = 0; i < sizeof(T) / sizeof(T[0]); i++)
                if (strcmp(T[i].name, n->op_type) == 0)
                        hop = T[i].hop;
        if (hop == HB_MOD && fm)
                hop = HB_FMOD;
        if (hop == HB_SHL) {
                char dir[16];
                if (!attr_str(np, "direction", dir, sizeof(dir)))
                        return node_err(err, SWARM_ERR_INVALID, n,
                                        "direction is required");
                hop = strcmp(dir, "RIGHT") == 0 ? HB_SHR : HB_SHL;
        }
        if (hop == HB_MOD && exec_dtype_is_float(ldt(VAL(0))) && !fm)
                return node_err(err, SWARM_ERR_INVALID, n,
                                "fmod=0 on floating point inputs");
        return host_binary(m, n, hop, err);
}

static int h_hunary(OPARGS) {
        static const struct {
                const char *name;
                int hop;
                float a, b;     /* attribute defaults */
        } T[] = {{"Not", HU_NOT, 0, 0}, {"Sign", HU_SIGN, 0, 0},
                 {"IsNaN", HU_ISNAN, 0, 0}, {"IsInf", HU_ISINF, 1, 1},
                 {"HardSigmoid", HU_HARDSIGMOID, 0.2f, 0.5f},
                 {"HardSwish", HU_HARDSWISH, 0, 0}, {"Elu", HU_ELU, 1, 0},
                 {"Selu", HU_SELU, 1.67326319217681884765625f,
                  1.05070102214813232421875f},
                 {"Celu", HU_CELU, 1, 0}, {"Softplus", HU_SOFTPLUS, 0, 0},
                 {"Softsign", HU_SOFTSIGN, 0, 0}, {"Mish", HU_MISH, 0, 0},
                 {"ThresholdedRelu", HU_THRESHOLDED_RELU, 1, 0},
                 {"Shrink", HU_SHRINK, 0.5f, 0}, {"Sin", HU_SIN, 0, 0},
                 {"Cos", HU_COS, 0, 0}, {"Tan", HU_TAN, 0, 0},
                 {"Asin", HU_ASIN, 0, 0}, {"Acos", HU_ACOS, 0, 0},
                 {"Atan", HU_ATAN, 0, 0}, {"Sinh", HU_SINH, 0, 0},
                 {"Cosh", HU_COSH, 0, 0}, {"Asinh", HU_ASINH, 0, 0},
                 {"Acosh", HU_ACOSH, 0, 0}, {"Atanh", HU_ATANH, 0, 0},
                 {"Round", HU_ROUND, 0, 0}};
        static const char *const allowed[] = {"alpha", "beta", "gamma",
                                              "lambd", "bias",
                                              "detect_positive",
                                              "detect_negative",
                                              "consumed_inputs", NULL};
        xvalue_t *x = VAL(0), *o = &m->vals[n->out];
        int rc, hop = -1;
        size_t t = 0;

        (void)opset;
        if ((rc = attrs_only(np, n, allowed, err)))
                return rc;
        for (size_t i = 0; i < sizeof(T) / sizeof(T[0]); i++)
                if (strcmp(T[i].name, n->op_type) == 0) {
                        hop = T[i].hop;
                        t = i;
                }
        n->act_alpha = T[t].a;
        n->act_beta = T[t].b;
        switch (hop) {
        case HU_SELU:
                if ((rc = attr_float(np, n, "alpha", T[t].a, &n->act_alpha,
                                     err)) ||
                    (rc = attr_float(np, n, "gamma", T[t].b, &n->act_beta,
                                     err)))
                        return rc;
                break;
        case HU_SHRINK:
                if ((rc = attr_float(np, n, "lambd", 0.5f, &n->act_alpha,
                                     err)) ||
                    (rc = attr_float(np, n, "bias", 0.0f, &n->act_beta, err)))
                        return rc;
                break;
        case HU_ISINF: {
                int64_t dp, dn;
                if ((rc = attr_int(np, n, "detect_positive", 1, &dp, err)) ||
                    (rc = attr_int(np, n, "detect_negative", 1, &dn, err)))
                        return rc;
                n->act_alpha = (float)(dp != 0);
                n->act_beta = (float)(dn != 0);
                break;
        }
        default:
                if ((rc = attr_float(np, n, "alpha", T[t].a, &n->act_alpha,
                                     err)) ||
                    (rc = attr_float(np, n, "beta", T[t].b, &n->act_beta,
                                     err)))
                        return rc;
                break;
        }
        if (hop == HU_NOT && ldt(x) != SWARM_DTYPE_BOOL)
                return node_err(err, SWARM_ERR_INVALID, n,
                                "input must be BOOL");
        out_like(o, x);
        /* FLOAT32 HardSigmoid / HardSwish (MobileNetV3) run as the
         * backend's unary, so a Conv before them can fuse them into its
         * epilogue; the host kernel stays for the other dtypes. */
        if ((hop == HU_HARDSIGMOID || hop == HU_HARDSWISH) &&
            x->dtype == SWARM_DTYPE_FLOAT32 && n->n_in == 1) {
                n->op = OP_UNARY;
                n->act = hop == HU_HARDSIGMOID ? SWARM_ACT_HARDSIGMOID
                                               : SWARM_ACT_HARDSWISH;
                return SWARM_OK;
        }
        o->dtype = hop == HU_NOT || hop == HU_ISNAN || hop == HU_ISINF
                   ? SWARM_DTYPE_BOOL : ldt(x);
        if ((rc = no_sym(m, n, err)))
                return rc;
        return to_host(n, HK_UNARY, hop);
}

static int h_where(OPARGS) {
        static const char *const none[] = {NULL};
        xvalue_t *c = VAL(0), *o = &m->vals[n->out], acc;
        char why[256];
        int rc;

        (void)opset;
        if ((rc = attrs_only(np, n, none, err)) || (rc = no_sym(m, n, err)))
                return rc;
        if (ldt(c) != SWARM_DTYPE_BOOL)
                return node_err(err, SWARM_ERR_INVALID, n,
                                "condition must be BOOL");
        if (bcast(c, 0, c->ndim, VAL(1), 0, VAL(1)->ndim, &o->ndim, o->shape,
                  &o->batched, why, sizeof(why)))
                return node_err(err, SWARM_ERR_UNSUPPORTED, n, "%s", why);
        acc = *o;
        if (bcast(&acc, 0, acc.ndim, VAL(2), 0, VAL(2)->ndim, &o->ndim,
                  o->shape, &o->batched, why, sizeof(why)))
                return node_err(err, SWARM_ERR_UNSUPPORTED, n, "%s", why);
        if (VAL(1)->dtype != VAL(2)->dtype)
                return node_err(err, SWARM_ERR_INVALID, n,
                                "X and Y differ in type");
        o->dtype = VAL(1)->dtype;
        o->widened = VAL(1)->widened;
        return to_host(n, HK_WHERE, 0);
}

/* An axis that must not be the batch dim. */
static int data_axis(xnode_t *n, const xvalue_t *x, int64_t axis,
                     int64_t *out, swarm_err_t *err) {
        int rc = norm_axis(n, axis, x->ndim, out, err);
        if (rc)
                return rc;
        if (*out == 0 && x->batched)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "operating along the batch dimension");
        return SWARM_OK;
}

static int is_index(const xvalue_t *v) {
        swarm_dtype_t d = ldt(v);
        return d == SWARM_DTYPE_INT64 || d == SWARM_DTYPE_INT32;
}

static int h_gather_elements(OPARGS) {
        static const char *const allowed[] = {"axis", "reduction", NULL};
        xvalue_t *x = VAL(0), *ix = VAL(1), *o = &m->vals[n->out];
        int scatter = strncmp(n->op_type, "Scatter", 7) == 0;
        int64_t axis;
        char red[16] = "none";
        int rc;

        (void)opset;
        if ((rc = attrs_only(np, n, allowed, err)) ||
            (rc = attr_int(np, n, "axis", 0, &axis, err)) ||
            (rc = data_axis(n, x, axis, &axis, err)) ||
            (rc = no_sym(m, n, err)))
                return rc;
        if (!is_index(ix) || ix->ndim != x->ndim)
                return node_err(err, SWARM_ERR_INVALID, n,
                                "indices must be INT64/INT32 of the data's "
                                "rank");
        if (ix->batched != x->batched)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "data and indices differ in batch");
        for (int d = 0; d < x->ndim; d++)
                if (d != axis && !(d == 0 && x->batched) &&
                    ix->shape[d] > x->shape[d])
                        return node_err(err, SWARM_ERR_INVALID, n,
                                        "indices larger than the data at "
                                        "dimension %d", d);
        n->axis = (int)axis;
        if (!scatter) {
                out_like(o, ix);
                o->dtype = x->dtype;
                o->widened = x->widened;
                return to_host(n, HK_GATHER_ELEMENTS, 0);
        }
        attr_str(np, "reduction", red, sizeof(red));
        n->hi[0] = strcmp(red, "add") == 0 ? 1 : strcmp(red, "mul") == 0 ? 2
                   : strcmp(red, "max") == 0 ? 3 : strcmp(red, "min") == 0
                   ? 4 : 0;
        if (n->n_in != 3 || elems_of(VAL(2)) != elems_of(ix))
                return node_err(err, SWARM_ERR_INVALID, n,
                                "updates must match the indices");
        out_like(o, x);
        return to_host(n, HK_SCATTER_ELEMENTS, 0);
}

static int h_gather_nd(OPARGS) {
        static const char *const allowed[] = {"batch_dims", "reduction",
                                              NULL};
        xvalue_t *x = VAL(0), *ix = VAL(1), *o = &m->vals[n->out];
        int scatter = strcmp(n->op_type, "ScatterND") == 0;
        int64_t bd = 0, kk;
        char red[16] = "none";
        int rc;

        (void)opset;
        if ((rc = attrs_only(np, n, allowed, err)) ||
            (rc = attr_int(np, n, "batch_dims", 0, &bd, err)) ||
            (rc = no_sym(m, n, err)))
                return rc;
        if (!is_index(ix) || ix->ndim < 1)
                return node_err(err, SWARM_ERR_INVALID, n,
                                "indices must be INT64/INT32, at least 1-D");
        kk = ix->shape[ix->ndim - 1];
        if (bd < 0 || bd >= ix->ndim || bd > x->ndim || kk < 1 ||
            kk > x->ndim - bd || (ix->ndim - 1 == 0 && ix->batched))
                return node_err(err, SWARM_ERR_INVALID, n,
                                "batch_dims or index depth out of range");
        for (int d = 0; d < bd; d++)
                if (ix->shape[d] != x->shape[d])
                        return node_err(err, SWARM_ERR_INVALID, n,
                                        "batch dims differ");
        if (x->batched && (bd == 0 || !ix->batched))
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "indexing into the batch dimension");
        if (scatter) {
                attr_str(np, "reduction", red, sizeof(red));
                n->hi[1] = strcmp(red, "add") == 0 ? 1
                           : strcmp(red, "mul") == 0 ? 2
                           : strcmp(red, "max") == 0 ? 3
                           : strcmp(red, "min") == 0 ? 4 : 0;
                if (n->n_in != 3 || bd)
                        return node_err(err, SWARM_ERR_INVALID, n,
                                        "updates are required");
                {
                        /* updates: indices.shape[:-1] + data.shape[k:] */
                        int64_t want = 1;
                        for (int d = 0; d < ix->ndim - 1; d++)
                                want *= ix->shape[d];
                        for (int d = (int)kk; d < x->ndim; d++)
                                want *= x->shape[d];
                        if (elems_of(VAL(2)) != want ||
                            VAL(2)->dtype != x->dtype || ix->batched ||
                            VAL(2)->batched)
                                return node_err(err, SWARM_ERR_INVALID, n,
                                                "updates do not match the "
                                                "indices and data");
                }
                out_like(o, x);
                return to_host(n, HK_SCATTER_ND, 0);
        }
        n->hi[0] = bd;
        o->ndim = 0;
        for (int d = 0; d < ix->ndim - 1; d++)
                o->shape[o->ndim++] = ix->shape[d];
        for (int d = (int)(bd + kk); d < x->ndim; d++) {
                if (o->ndim == SWARM_MAX_DIMS)
                        return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                        "result has more than %d dims",
                                        SWARM_MAX_DIMS);
                o->shape[o->ndim++] = x->shape[d];
        }
        o->batched = ix->batched;
        o->dtype = x->dtype;
        o->widened = x->widened;
        return to_host(n, HK_GATHER_ND, 0);
}

static int h_tile(OPARGS) {
        static const char *const none[] = {NULL};
        xvalue_t *x = VAL(0), *o = &m->vals[n->out];
        int64_t rep[SWARM_MAX_DIMS];
        int cnt, rc;

        (void)opset;
        if ((rc = attrs_only(np, n, none, err)) ||
            (rc = const_ints(m, n, 1, rep, SWARM_MAX_DIMS, &cnt, NULL, err)) ||
            (rc = no_sym(m, n, err)))
                return rc;
        if (cnt != x->ndim)
                return node_err(err, SWARM_ERR_INVALID, n,
                                "%d repeats for a %d-D input", cnt, x->ndim);
        out_like(o, x);
        for (int d = 0; d < cnt; d++) {
                if (rep[d] < 0)
                        return node_err(err, SWARM_ERR_INVALID, n,
                                        "negative repeat");
                if (d == 0 && x->batched && rep[d] != 1)
                        return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                        "tiling the batch dimension");
                if ((rc = ck_mul(n, o->shape[d], rep[d], &o->shape[d], err)))
                        return rc;
        }
        return to_host(n, HK_TILE, 0);
}

static int h_argmax(OPARGS) {
        static const char *const allowed[] = {"axis", "keepdims",
                                              "select_last_index", NULL};
        xvalue_t *x = VAL(0), *o = &m->vals[n->out];
        int64_t axis, keep, last;
        int rc;

        (void)opset;
        if ((rc = attrs_only(np, n, allowed, err)) ||
            (rc = attr_int(np, n, "axis", 0, &axis, err)) ||
            (rc = attr_int(np, n, "keepdims", 1, &keep, err)) ||
            (rc = attr_int(np, n, "select_last_index", 0, &last, err)) ||
            (rc = data_axis(n, x, axis, &axis, err)) ||
            (rc = no_sym(m, n, err)))
                return rc;
        out_like(o, x);
        o->dtype = SWARM_DTYPE_INT64;
        o->shape[axis] = 1;
        if (!keep) {
                for (int d = (int)axis; d + 1 < x->ndim; d++)
                        o->shape[d] = x->shape[d + 1];
                o->ndim--;
        }
        n->axis = (int)axis;
        n->hi[0] = strcmp(n->op_type, "ArgMin") == 0;
        n->hi[1] = last != 0;
        return to_host(n, HK_ARGMAX, 0);
}

static int h_cumsum(OPARGS) {
        static const char *const allowed[] = {"exclusive", "reverse", NULL};
        xvalue_t *x = VAL(0), *o = &m->vals[n->out];
        int64_t ax[1], axis, ex, rv;
        int cnt, rc;

        (void)opset;
        if ((rc = attrs_only(np, n, allowed, err)) ||
            (rc = attr_int(np, n, "exclusive", 0, &ex, err)) ||
            (rc = attr_int(np, n, "reverse", 0, &rv, err)) ||
            (rc = const_ints(m, n, 1, ax, 1, &cnt, NULL, err)))
                return rc;
        if (cnt != 1)
                return node_err(err, SWARM_ERR_INVALID, n, "axis must be "
                                "one value");
        if ((rc = data_axis(n, x, ax[0], &axis, err)) ||
            (rc = no_sym(m, n, err)))
                return rc;
        out_like(o, x);
        o->dtype = ldt(x);
        n->axis = (int)axis;
        n->hi[0] = ex != 0;
        n->hi[1] = rv != 0;
        return to_host(n, HK_CUMSUM, 0);
}

static int h_trilu(OPARGS) {
        static const char *const allowed[] = {"upper", NULL};
        xvalue_t *x = VAL(0), *o = &m->vals[n->out];
        int64_t up, k = 0;
        int cnt, rc;

        (void)opset;
        if ((rc = attrs_only(np, n, allowed, err)) ||
            (rc = attr_int(np, n, "upper", 1, &up, err)) ||
            (has_in(n, 1) &&
             (rc = const_ints(m, n, 1, &k, 1, &cnt, NULL, err))) ||
            (rc = no_sym(m, n, err)))
                return rc;
        if (x->ndim < 2 || (x->batched && x->ndim < 3))
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "input must be at least 2-D (3-D when "
                                "batched)");
        out_like(o, x);
        n->hi[0] = up != 0;
        n->hi[1] = k;
        return to_host(n, HK_TRILU, 0);
}

static int h_onehot(OPARGS) {
        static const char *const allowed[] = {"axis", NULL};
        xvalue_t *ix = VAL(0), *vals = VAL(2), *o = &m->vals[n->out];
        int64_t axis, depth;
        int rc;

        (void)opset;
        if ((rc = attrs_only(np, n, allowed, err)) ||
            (rc = attr_int(np, n, "axis", -1, &axis, err)) ||
            (rc = no_sym(m, n, err)))
                return rc;
        if (!is_const(VAL(1)) || elems_of(VAL(1)) != 1)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "depth must be a constant scalar");
        depth = VAL(1)->dtype == SWARM_DTYPE_INT64
                ? ((int64_t *)VAL(1)->host)[0]
                : VAL(1)->dtype == SWARM_DTYPE_FLOAT32
                ? (int64_t)((float *)VAL(1)->host)[0] : -1;
        if (depth < 1 || depth > EXEC_FOLD_MAX_ELEMS || elems_of(vals) != 2)
                return node_err(err, SWARM_ERR_INVALID, n,
                                "depth < 1 or values not [off, on]");
        if (ix->ndim + 1 > SWARM_MAX_DIMS)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n, "too many dims");
        if ((rc = norm_axis(n, axis, ix->ndim + 1, &axis, err)))
                return rc;
        if (axis == 0 && ix->batched)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "a new leading dimension would push the "
                                "batch dimension back");
        o->ndim = ix->ndim + 1;
        for (int d = 0, j = 0; d < o->ndim; d++)
                o->shape[d] = d == axis ? depth : ix->shape[j++];
        o->batched = ix->batched;
        o->dtype = vals->dtype;
        o->widened = vals->widened;
        n->axis = (int)axis;
        n->hi[0] = depth;
        return to_host(n, HK_ONEHOT, 0);
}

static int h_topk(OPARGS) {
        static const char *const allowed[] = {"axis", "k", "largest",
                                              "sorted", NULL};
        xvalue_t *x = VAL(0), *o = &m->vals[n->out];
        int64_t axis, k, largest, sorted;
        int cnt, rc;

        if ((rc = attrs_only(np, n, allowed, err)) ||
            (rc = attr_int(np, n, "axis", -1, &axis, err)) ||
            (rc = attr_int(np, n, "largest", 1, &largest, err)) ||
            (rc = attr_int(np, n, "sorted", 1, &sorted, err)) ||
            (rc = data_axis(n, x, axis, &axis, err)) ||
            (rc = no_sym(m, n, err)))
                return rc;
        if (opset < 10) {
                if ((rc = attr_int(np, n, "k", -1, &k, err)))
                        return rc;
        } else if (!has_in(n, 1) ||
                   (rc = const_ints(m, n, 1, &k, 1, &cnt, NULL, err))) {
                return rc ? rc : node_err(err, SWARM_ERR_INVALID, n,
                                          "K is required");
        }
        if (k < 0 || k > x->shape[axis])
                return node_err(err, SWARM_ERR_INVALID, n,
                                "k %lld out of range", (long long)k);
        (void)sorted;   /* results are always sorted */
        out_like(o, x);
        o->shape[axis] = k;
        if (n->n_xo > 0 && n->xo[0] >= 0) {
                xvalue_t *o2 = &m->vals[n->xo[0]];
                out_like(o2, x);
                o2->shape[axis] = k;
                o2->dtype = SWARM_DTYPE_INT64;
        }
        n->axis = (int)axis;
        n->hi[0] = k;
        n->hi[1] = largest != 0;
        return to_host(n, HK_TOPK, 0);
}

static int h_instnorm(OPARGS) {
        static const char *const allowed[] = {"epsilon", "num_groups",
                                              "stash_type", NULL};
        xvalue_t *x = VAL(0), *o = &m->vals[n->out];
        int group = strcmp(n->op_type, "GroupNormalization") == 0;
        int64_t g = 0, c;
        int rc;

        if ((rc = attrs_only(np, n, allowed, err)) ||
            (rc = attr_float(np, n, "epsilon", 1e-5f, &n->eps, err)) ||
            (rc = attr_int(np, n, "num_groups", 0, &g, err)) ||
            (rc = no_sym(m, n, err)))
                return rc;
        for (int j = 0; j < 3; j++)
                if ((rc = need_float(m, n, j, err)))
                        return rc;
        if (x->ndim < 2)
                return node_err(err, SWARM_ERR_INVALID, n,
                                "input must be [N, C, ...]");
        c = x->shape[1];
        if (group) {
                if (g < 1 || c % g)
                        return node_err(err, SWARM_ERR_INVALID, n,
                                        "num_groups %lld does not divide %lld "
                                        "channels", (long long)g,
                                        (long long)c);
                /* Opset 18 scales per group, 21 per channel. */
                n->hi[1] = opset < 21 && elems_of(VAL(1)) == g;
                if (elems_of(VAL(1)) != (n->hi[1] ? g : c) ||
                    elems_of(VAL(2)) != (n->hi[1] ? g : c))
                        return node_err(err, SWARM_ERR_INVALID, n,
                                        "scale and bias sizes");
        } else if (elems_of(VAL(1)) != c || elems_of(VAL(2)) != c) {
                return node_err(err, SWARM_ERR_INVALID, n,
                                "scale and bias must have %lld values",
                                (long long)c);
        }
        if (VAL(1)->batched || VAL(2)->batched)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "scale depends on the batch");
        n->hi[0] = group ? g : 0;
        out_like(o, x);
        return to_host(n, HK_INSTNORM, 0);
}

static int h_lpnorm(OPARGS) {
        static const char *const allowed[] = {"axis", "p", NULL};
        xvalue_t *x = VAL(0), *o = &m->vals[n->out];
        int64_t axis, p;
        int rc;

        (void)opset;
        if ((rc = attrs_only(np, n, allowed, err)) ||
            (rc = attr_int(np, n, "axis", -1, &axis, err)) ||
            (rc = attr_int(np, n, "p", 2, &p, err)) ||
            (rc = need_float(m, n, 0, err)) ||
            (rc = data_axis(n, x, axis, &axis, err)))
                return rc;
        if (p != 1 && p != 2)
                return node_err(err, SWARM_ERR_INVALID, n, "p must be 1 or 2");
        out_like(o, x);
        n->axis = (int)axis;
        n->hi[0] = p;
        return to_host(n, HK_LPNORM, 0);
}

/* DepthToSpace / SpaceToDepth: a 6-D strided copy of [N, C, H, W]. */
static int h_depth_space(OPARGS) {
        static const char *const allowed[] = {"blocksize", "mode", NULL};
        xvalue_t *x = VAL(0), *o = &m->vals[n->out];
        int d2s = strcmp(n->op_type, "DepthToSpace") == 0;
        int64_t b, c, h, w, s[6];
        char mode[8] = "DCR";
        int rc;

        (void)opset;
        if ((rc = attrs_only(np, n, allowed, err)) ||
            (rc = attr_int(np, n, "blocksize", 0, &b, err)))
                return rc;
        attr_str(np, "mode", mode, sizeof(mode));
        if (x->ndim != 4 || b < 1 || b > 1 << 16)
                return node_err(err, SWARM_ERR_INVALID, n,
                                "input must be 4-D with blocksize >= 1");
        c = x->shape[1];
        h = x->shape[2];
        w = x->shape[3];
        out_like(o, x);
        if (d2s) {
                int crd = strcmp(mode, "CRD") == 0;
                if (c % (b * b))
                        return node_err(err, SWARM_ERR_INVALID, n,
                                        "channels not divisible by "
                                        "blocksize^2");
                o->shape[1] = c / (b * b);
                o->shape[2] = h * b;
                o->shape[3] = w * b;
                /* out [n, c', h, b1, w, b2] reads x [n, ..., h, w]:
                 * DCR: x channel = (b1 * b + b2) * c' + c'
                 * CRD: x channel = c' * b * b + b1 * b + b2 */
                s[0] = c * h * w;
                s[1] = crd ? b * b * h * w : h * w;
                s[2] = w;
                s[3] = crd ? b * h * w : b * o->shape[1] * h * w;
                s[4] = 1;
                s[5] = crd ? h * w : o->shape[1] * h * w;
        } else {
                if (h % b || w % b)
                        return node_err(err, SWARM_ERR_INVALID, n,
                                        "spatial dims not divisible by "
                                        "blocksize");
                /* out [n, b1, b2, c, h', w'] reads x [n, c, h'*b+b1,
                 * w'*b+b2]; channel = (b1 * b + b2) * c + c */
                s[0] = c * h * w;
                s[1] = w;
                s[2] = 1;
                s[3] = h * w;
                s[4] = b * w;
                s[5] = b;
        }
        memcpy(n->xstr, s, sizeof(s));
        n->xoff = 0;
        n->op = OP_STRIDED;
        /* The copy walks a 6-D view of the 4-D output (exec_walk). */
        n->hi[0] = d2s;
        n->hi[1] = b;
        {
                int64_t fin[4];
                if (d2s) {
                        fin[0] = x->shape[0];
                        fin[1] = c / (b * b);
                        fin[2] = h * b;
                        fin[3] = w * b;
                } else {
                        fin[0] = x->shape[0];
                        fin[1] = c * b * b;
                        fin[2] = h / b;
                        fin[3] = w / b;
                }
                o->ndim = 4;
                memcpy(o->shape, fin, sizeof(fin));
        }
        n->sub = 6;
        return SWARM_OK;
}

/* Bound on every window parameter taken from a model (see window_dim). */
#define WINDOW_PARAM_MAX INT32_MAX
/* Output cells x window taps of one pooled plane, and of all the channels
 * of one image (see h_pool). */
#define POOL_MAX_TAPS ((int64_t)1 << 30)

static int h_convt(OPARGS) {
        static const char *const allowed[] = {"auto_pad", "dilations",
                                              "group", "kernel_shape",
                                              "output_padding",
                                              "output_shape", "pads",
                                              "strides", NULL};
        xvalue_t *x = VAL(0), *w = VAL(1), *o = &m->vals[n->out];
        int64_t st[3] = {1, 1, 1}, dl[3] = {1, 1, 1}, pads[6] = {0};
        int64_t opad[3] = {0}, oshape[3], ks[3];
        int sd = x->ndim - 2, cnt, c2, rc;
        char ap[32] = "NOTSET";

        (void)opset;
        if ((rc = attrs_only(np, n, allowed, err)) ||
            (rc = attr_int(np, n, "group", 1, &n->group, err)))
                return rc;
        for (int j = 0; j < n->n_in; j++)
                if ((rc = need_float(m, n, j, err)))
                        return rc;
        if (sd < 1 || sd > 3 || w->ndim != x->ndim)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "X and W must be 3-D to 5-D, of one rank");
        if (!is_const(w) || (has_in(n, 2) && !is_const(VAL(2))))
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "weights must be constants");
        if (n->group < 1 || x->shape[1] != w->shape[0] ||
            w->shape[0] % n->group)
                return node_err(err, SWARM_ERR_INVALID, n,
                                "channels and group do not match");
        if (has_in(n, 2) && elems_of(VAL(2)) != w->shape[1] * n->group)
                return node_err(err, SWARM_ERR_INVALID, n, "bias size");
        attr_str(np, "auto_pad", ap, sizeof(ap));
        if ((rc = attr_ints(np, n, "kernel_shape", ks, 3, &cnt, err)) ||
            (cnt >= 0 && cnt != sd) ||
            (rc = attr_ints(np, n, "strides", st, 3, &cnt, err)) ||
            (cnt >= 0 && cnt != sd) ||
            (rc = attr_ints(np, n, "dilations", dl, 3, &cnt, err)) ||
            (cnt >= 0 && cnt != sd) ||
            (rc = attr_ints(np, n, "pads", pads, 6, &cnt, err)) ||
            (cnt >= 0 && cnt != 2 * sd) ||
            (rc = attr_ints(np, n, "output_padding", opad, 3, &cnt, err)) ||
            (cnt >= 0 && cnt != sd) ||
            (rc = attr_ints(np, n, "output_shape", oshape, 3, &c2, err)) ||
            (c2 >= 0 && c2 != sd))
                return rc ? rc : node_err(err, SWARM_ERR_INVALID, n,
                                          "attributes do not match %d "
                                          "spatial dims", sd);
        out_like(o, x);
        o->shape[1] = w->shape[1] * n->group;
        for (int d = 0; d < sd; d++) {
                int64_t in = x->shape[2 + d], k = w->shape[2 + d], full, eff;
                if (st[d] < 1 || dl[d] < 1 || opad[d] < 0 ||
                    pads[d] < 0 || pads[sd + d] < 0)
                        return node_err(err, SWARM_ERR_INVALID, n,
                                        "strides, dilations >= 1 and pads, "
                                        "output_padding >= 0");
                if (st[d] > WINDOW_PARAM_MAX || dl[d] > WINDOW_PARAM_MAX ||
                    opad[d] > WINDOW_PARAM_MAX || pads[d] > WINDOW_PARAM_MAX ||
                    pads[sd + d] > WINDOW_PARAM_MAX)
                        return node_err(err, SWARM_ERR_INVALID, n,
                                        "strides, dilations, pads and "
                                        "output_padding must be at most %d",
                                        WINDOW_PARAM_MAX);
                /* full = stride * (in - 1) + output_padding + eff */
                if ((rc = ck_mul(n, k - 1, dl[d], &eff, err)) ||
                    (rc = ck_mul(n, st[d], in - 1, &full, err)) ||
                    (rc = ck_add(n, full, opad[d], &full, err)) ||
                    (rc = ck_add(n, full, eff + 1, &full, err)))
                        return rc;
                if (c2 >= 0 || strncmp(ap, "SAME", 4) == 0) {
                        int64_t want = c2 >= 0 ? oshape[d] : in * st[d];
                        int64_t total = full - want;
                        if (want < 0 || want > INT32_MAX)
                                return node_err(err, SWARM_ERR_INVALID, n,
                                                "output_shape out of range");
                        if (total < 0) {
                                /* larger than the full output: zeros at
                                 * the end, as output_padding would add */
                                pads[d] = 0;
                                pads[sd + d] = total;
                        } else if (strcmp(ap, "SAME_UPPER") == 0) {
                                pads[d] = total / 2;
                                pads[sd + d] = total - total / 2;
                        } else {
                                pads[d] = total - total / 2;
                                pads[sd + d] = total / 2;
                        }
                }
                o->shape[2 + d] = full - pads[d] - pads[sd + d];
                if (o->shape[2 + d] < 0 || o->shape[2 + d] > INT32_MAX)
                        return node_err(err, SWARM_ERR_INVALID, n,
                                        "pads larger than the output");
                n->hp[3 - sd + d] = st[d];
                n->hp[6 - sd + d] = dl[d];
                n->hp[9 - sd + d] = pads[d];
        }
        for (int d = 0; d < 3 - sd; d++) {
                n->hp[d] = 1;
                n->hp[3 + d] = 1;
                n->hp[6 + d] = 0;
        }
        n->hi[0] = sd;
        /* the backend's kernel where it has one (host_ops.c) */
        n->hi[1] = m->be && m->be->conv_transpose;
        return to_host(n, HK_CONVT, 0);
}

static int h_split(OPARGS) {
        static const char *const allowed[] = {"axis", "split", "num_outputs",
                                              NULL};
        xvalue_t *x = VAL(0), *o = &m->vals[n->out];
        int64_t axis, parts[64], nout = 1 + n->n_xo, numo = -1, sum = 0;
        int cnt = -1, rc;

        if ((rc = attrs_only(np, n, allowed, err)) ||
            (rc = attr_int(np, n, "axis", 0, &axis, err)) ||
            (rc = attr_int(np, n, "num_outputs", -1, &numo, err)) ||
            (rc = data_axis(n, x, axis, &axis, err)) ||
            (rc = no_sym(m, n, err)))
                return rc;
        if (np->n_output > 16)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "more than 16 outputs");
        if (opset < 13 && !has_in(n, 1)) {
                if ((rc = attr_ints(np, n, "split", parts, 64, &cnt, err)))
                        return rc;
        } else if (has_in(n, 1)) {
                if ((rc = const_ints(m, n, 1, parts, 64, &cnt, NULL, err)))
                        return rc;
        }
        if (cnt < 0) {
                int64_t d = x->shape[axis];
                if (numo > 0 && numo != nout)
                        return node_err(err, SWARM_ERR_INVALID, n,
                                        "num_outputs differs from the "
                                        "outputs");
                for (int k = 0; k < nout; k++) {
                        /* equal parts; with num_outputs the last one may
                         * be smaller (opset 18) */
                        int64_t p = numo > 0 ? (d + nout - 1) / nout
                                             : d / nout;
                        if (numo <= 0 && d % nout)
                                return node_err(err, SWARM_ERR_INVALID, n,
                                                "%lld does not split into %lld "
                                                "equal parts", (long long)d,
                                                (long long)nout);
                        parts[k] = p < d - sum ? p : d - sum;
                        sum += parts[k];
                }
                cnt = (int)nout;
        } else {
                for (int k = 0; k < cnt; k++) {
                        if (parts[k] < 0)
                                return node_err(err, SWARM_ERR_INVALID, n,
                                                "negative split");
                        sum += parts[k];
                }
        }
        if (cnt != nout || sum != x->shape[axis])
                return node_err(err, SWARM_ERR_INVALID, n,
                                "split sizes do not match");
        for (int k = 0; k < nout; k++) {
                int id = k ? n->xo[k - 1] : n->out;
                n->hp[k] = parts[k];
                if (id < 0)
                        continue;
                out_like(&m->vals[id], x);
                m->vals[id].shape[axis] = parts[k];
        }
        (void)o;
        n->axis = (int)axis;
        n->n_in = 1;
        return to_host(n, HK_SPLIT, 0);
}

static int h_loss(OPARGS) {
        static const char *const allowed[] = {"reduction", "ignore_index",
                                              NULL};
        xvalue_t *x = VAL(0), *t = VAL(1), *o = &m->vals[n->out];
        int sce = strcmp(n->op_type, "SoftmaxCrossEntropyLoss") == 0;
        char red[16] = "mean";
        int rc;

        (void)opset;
        if ((rc = attrs_only(np, n, allowed, err)) ||
            (rc = no_sym(m, n, err)))
                return rc;
        attr_str(np, "reduction", red, sizeof(red));
        n->hi[0] = sce;
        n->hi[1] = strcmp(red, "none") == 0 ? 0 : strcmp(red, "sum") == 0
                   ? 1 : strcmp(red, "mean") == 0 ? 2 : -1;
        n->hi[2] = attr_find(np, "ignore_index") != NULL;
        if (n->hi[2] &&
            (rc = attr_int(np, n, "ignore_index", 0, &n->hp[0], err)))
                return rc;
        if (n->hi[1] < 0)
                return node_err(err, SWARM_ERR_INVALID, n,
                                "reduction '%s'", red);
        if (!exec_dtype_is_float(x->dtype) || !is_index(t) || x->ndim < 2 ||
            t->ndim != x->ndim - 1 ||
            (has_in(n, 2) && elems_of(VAL(2)) != x->shape[1]))
                return node_err(err, SWARM_ERR_INVALID, n,
                                "input [N, C, ...], target [N, ...] of "
                                "integers, weights [C]");
        for (int d = 0; d < t->ndim; d++)
                if (t->shape[d] != x->shape[d == 0 ? 0 : d + 1])
                        return node_err(err, SWARM_ERR_INVALID, n,
                                        "target shape does not match");
        if (x->batched && n->hi[1] != 0)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "reducing the loss over the batch");
        out_like(o, t);
        o->dtype = x->dtype;
        if (n->hi[1] != 0)
                o->ndim = 0;
        if (n->n_xo > 0 && n->xo[0] >= 0)
                out_like(&m->vals[n->xo[0]], x);
        return to_host(n, HK_LOSS, 0);
}

static int h_eyelike(OPARGS) {
        static const char *const allowed[] = {"dtype", "k", NULL};
        xvalue_t *x = VAL(0), *o = &m->vals[n->out];
        int64_t k, dt = -1;
        int rc;

        (void)opset;
        if ((rc = attrs_only(np, n, allowed, err)) ||
            (rc = attr_int(np, n, "k", 0, &k, err)) ||
            (rc = attr_int(np, n, "dtype", -1, &dt, err)))
                return rc;
        if (x->ndim != 2 || x->batched)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "input must be 2-D with fixed dims");
        out_like(o, x);
        /* dtype absent or not one we know (bfloat16 included): x's own. */
        o->dtype = ldt(x);
        if (dt >= 0 && dt <= INT32_MAX && dt != ONNX_BFLOAT16)
                (void)exec_onnx_dtype((int32_t)dt, &o->dtype);
        /* The result depends on the shape only: a constant. */
        n->hi[1] = k;
        return to_host(n, HK_EYE, 0);
}

static int h_lrn(OPARGS) {
        static const char *const allowed[] = {"alpha", "beta", "bias", "size",
                                              NULL};
        xvalue_t *x = VAL(0), *o = &m->vals[n->out];
        int64_t size;
        int rc;

        (void)opset;
        if ((rc = attrs_only(np, n, allowed, err)) ||
            (rc = need_float(m, n, 0, err)) ||
            (rc = attr_float(np, n, "alpha", 1e-4f, &n->hf[0], err)) ||
            (rc = attr_float(np, n, "beta", 0.75f, &n->hf[1], err)) ||
            (rc = attr_float(np, n, "bias", 1.0f, &n->hf[2], err)) ||
            (rc = attr_int(np, n, "size", 0, &size, err)))
                return rc;
        if (size < 1 || x->ndim < 2)
                return node_err(err, SWARM_ERR_INVALID, n,
                                "size >= 1 over [N, C, ...]");
        out_like(o, x);
        n->hi[0] = size;
        return to_host(n, HK_LRN, 0);
}

/* Einsum: any equation of up to 8 operands, with ellipsis, repeated
 * labels (diagonals) and implicit outputs; computed by visiting every
 * combination of label indices (fine for the small contractions models
 * use; a large one should be a MatMul). */
static int h_einsum(OPARGS) {
        static const char *const allowed[] = {"equation", NULL};
        xvalue_t *o = &m->vals[n->out];
        char eq[256], *arrow, *terms[9];
        int nt = 0, rc, lab[128], nl = 0, ell = 0;
        int64_t lsize[64];
        int lcount[64] = {0};
        int8_t (*ein)[SWARM_MAX_DIMS];

        (void)opset;
        if ((rc = attrs_only(np, n, allowed, err)) ||
            (rc = no_sym(m, n, err)))
                return rc;
        if (!attr_str(np, "equation", eq, sizeof(eq)) || n->n_in > 8)
                return node_err(err, SWARM_ERR_INVALID, n,
                                "equation required (at most 8 operands)");
        {       /* drop spaces */
                size_t w = 0;
                for (size_t r = 0; eq[r]; r++)
                        if (eq[r] != ' ')
                                eq[w++] = eq[r];
                eq[w] = '\0';
        }
        arrow = strstr(eq, "->");
        if (arrow) {
                *arrow = '\0';
                arrow += 2;
        }
        terms[nt++] = eq;
        for (char *c = eq; *c; c++)
                if (*c == ',') {
                        *c = '\0';
                        if (nt == 9)
                                break;
                        terms[nt++] = c + 1;
                }
        if (nt != n->n_in)
                return node_err(err, SWARM_ERR_INVALID, n,
                                "%d terms for %d inputs", nt, n->n_in);
        ein = calloc(9, sizeof(*ein));
        if (!ein)
                return node_err(err, SWARM_ERR_NOMEM, n, "out of memory");
        memset(ein, -1, 9 * sizeof(*ein));
        for (int i = 0; i < 128; i++)
                lab[i] = -1;
        /* ellipsis dims: the most any operand has */
        for (int j = 0; j < nt; j++) {
                int letters = 0, dots = strstr(terms[j], "...") != NULL;
                for (char *c = terms[j]; *c; c++)
                        letters += *c != '.';
                if (dots && VAL(j)->ndim - letters > ell)
                        ell = VAL(j)->ndim - letters;
        }
        for (int k = 0; k < ell; k++)
                lsize[nl++] = -1;       /* labels 0..ell-1: the ellipsis */
        for (int j = 0; j < nt; j++) {
                const xvalue_t *v = VAL(j);
                int d = 0, letters = 0;
                for (char *c = terms[j]; *c; c++)
                        letters += *c != '.';
                for (char *c = terms[j]; *c; c++) {
                        int l;
                        if (*c == '.') {
                                int ne = v->ndim - letters;
                                if (strncmp(c, "...", 3) || ne < 0 ||
                                    d + ne > v->ndim)
                                        goto bad;
                                for (int k = 0; k < ne; k++)
                                        ein[j][d++] = (int8_t)(ell - ne + k);
                                c += 2;
                                continue;
                        }
                        if (!((*c >= 'a' && *c <= 'z') ||
                              (*c >= 'A' && *c <= 'Z')) || d >= v->ndim)
                                goto bad;
                        if (lab[(int)*c] < 0) {
                                lab[(int)*c] = nl;
                                lsize[nl++] = -1;
                        }
                        l = lab[(int)*c];
                        lcount[l]++;
                        ein[j][d++] = (int8_t)l;
                }
                if (d != v->ndim)
                        goto bad;
                for (d = 0; d < v->ndim; d++) {
                        int l = ein[j][d];
                        int64_t s = v->shape[d];
                        if (lsize[l] < 0 || lsize[l] == 1)
                                lsize[l] = s;
                        else if (s != 1 && s != lsize[l])
                                goto bad;
                }
        }
        /* the output's labels */
        o->ndim = 0;
        if (arrow) {
                for (char *c = arrow; *c; c++) {
                        if (*c == '.') {
                                if (strncmp(c, "...", 3) ||
                                    o->ndim + ell > SWARM_MAX_DIMS)
                                        goto bad;
                                for (int k = 0; k < ell; k++)
                                        ein[nt][o->ndim++] = (int8_t)k;
                                c += 2;
                                continue;
                        }
                        if (*c < 0 || lab[(int)*c] < 0 ||
                            o->ndim >= SWARM_MAX_DIMS)
                                goto bad;
                        ein[nt][o->ndim++] = (int8_t)lab[(int)*c];
                }
        } else {
                for (int k = 0; k < ell; k++)
                        ein[nt][o->ndim++] = (int8_t)k;
                for (int c = 'A'; c <= 'z'; c++)
                        if (lab[c] >= 0 && lcount[lab[c]] == 1 &&
                            o->ndim < SWARM_MAX_DIMS)
                                ein[nt][o->ndim++] = (int8_t)lab[c];
        }
        for (int d = 0; d < o->ndim; d++)
                o->shape[d] = lsize[ein[nt][d]] < 0 ? 1 : lsize[ein[nt][d]];
        o->dtype = VAL(0)->dtype;
        o->batched = 0;
        for (int j = 0; j < nt; j++)
                if (VAL(j)->batched) {
                        /* the batch label must lead the output */
                        if (!o->ndim || ein[j][0] != ein[nt][0])
                                goto moved;
                        o->batched = 1;
                }
        {
                /* the kernel visits every combination of label indices */
                int64_t work = 1;
                for (int l = 0; l < nl; l++) {
                        int64_t sz = lsize[l] < 1 ? 1 : lsize[l];
                        if (work > ((int64_t)1 << 32) / sz) {
                                free(ein);
                                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                                "equation '%s' is too large "
                                                "for the direct Einsum", eq);
                        }
                        work *= sz;
                }
        }
        n->ein = ein;
        n->hi[0] = nl;
        return to_host(n, HK_EINSUM, 0);
bad:
        free(ein);
        return node_err(err, SWARM_ERR_INVALID, n,
                        "equation '%s' does not fit the inputs", eq);
moved:
        free(ein);
        return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                        "the batch dimension would move away from the "
                        "leading dimension");
}

static int h_quant(OPARGS) {
        static const char *const allowed[] = {"axis", "saturate",
                                              "block_size",
                                              "output_dtype", NULL};
        xvalue_t *x = VAL(0), *o = &m->vals[n->out];
        int kind = strcmp(n->op_type, "QuantizeLinear") == 0 ? 0
                   : strcmp(n->op_type, "DequantizeLinear") == 0 ? 1 : 2;
        int64_t axis, bs = 0;
        int rc;

        if ((rc = attrs_only(np, n, allowed, err)) ||
            (rc = attr_int(np, n, "axis", 1, &axis, err)) ||
            (rc = attr_int(np, n, "block_size", 0, &bs, err)) ||
            (rc = no_sym(m, n, err)))
                return rc;
        if (bs)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "blocked quantization");
        out_like(o, x);
        n->hi[0] = kind;
        if (kind == 2) {
                if (!exec_dtype_is_float(x->dtype))
                        return node_err(err, SWARM_ERR_INVALID, n,
                                        "input must be float");
                o->dtype = SWARM_DTYPE_UINT8;
                for (int k = 0; k < n->n_xo; k++)
                        if (n->xo[k] >= 0) {
                                xvalue_t *v = &m->vals[n->xo[k]];
                                v->ndim = 0;
                                v->batched = 0;
                                v->dtype = k ? SWARM_DTYPE_UINT8
                                             : SWARM_DTYPE_FLOAT32;
                        }
                if (x->batched)
                        return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                        "a scale over the whole batch");
                return to_host(n, HK_QUANT, 0);
        }
        if (elems_of(VAL(1)) == 1)
                axis = x->ndim ? 0 : 0;  /* per tensor: axis unused */
        else if (x->ndim && (rc = data_axis(n, x, axis, &axis, err)))
                return rc;
        if (elems_of(VAL(1)) != 1 &&
            (!x->ndim || elems_of(VAL(1)) != x->shape[axis]))
                return node_err(err, SWARM_ERR_INVALID, n,
                                "scale: one value or one per axis entry");
        if (has_in(n, 2) && elems_of(VAL(2)) != elems_of(VAL(1)))
                return node_err(err, SWARM_ERR_INVALID, n,
                                "zero point and scale differ in size");
        if (kind == 0) {
                o->dtype = has_in(n, 2) ? ldt(VAL(2)) : SWARM_DTYPE_UINT8;
                if (o->dtype != SWARM_DTYPE_UINT8 &&
                    o->dtype != SWARM_DTYPE_INT8)
                        return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                        "quantizing to %s",
                                        swarm_dtype_name(o->dtype));
        } else {
                o->dtype = ldt(VAL(1));
        }
        n->axis = (int)axis;
        return to_host(n, HK_QUANT, 0);
}

static int h_revseq(OPARGS) {
        static const char *const allowed[] = {"batch_axis", "time_axis",
                                              NULL};
        xvalue_t *x = VAL(0), *o = &m->vals[n->out];
        int64_t ba, ta;
        int rc;

        (void)opset;
        if ((rc = attrs_only(np, n, allowed, err)) ||
            (rc = attr_int(np, n, "batch_axis", 1, &ba, err)) ||
            (rc = attr_int(np, n, "time_axis", 0, &ta, err)) ||
            (rc = no_sym(m, n, err)))
                return rc;
        if (x->ndim < 2 || (ba != 0 && ba != 1) || (ta != 0 && ta != 1) ||
            ba == ta || !is_index(VAL(1)) ||
            elems_of(VAL(1)) != x->shape[ba] || x->batched)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "axes 0 and 1, sequence_lens per batch "
                                "entry, fixed shapes");
        out_like(o, x);
        n->hi[0] = ba;
        n->hi[1] = ta;
        return to_host(n, HK_REVSEQ, 0);
}

static int h_det(OPARGS) {
        static const char *const none[] = {NULL};
        xvalue_t *x = VAL(0), *o = &m->vals[n->out];
        int rc;

        (void)opset;
        if ((rc = attrs_only(np, n, none, err)) ||
            (rc = need_float(m, n, 0, err)))
                return rc;
        if (x->ndim < 2 || x->shape[x->ndim - 1] != x->shape[x->ndim - 2] ||
            (x->batched && x->ndim < 3))
                return node_err(err, SWARM_ERR_INVALID, n,
                                "input must be [..., M, M]");
        out_like(o, x);
        o->ndim -= 2;
        return to_host(n, HK_DET, 0);
}

static int h_hardmax(OPARGS) {
        static const char *const allowed[] = {"axis", NULL};
        xvalue_t *x = VAL(0), *o = &m->vals[n->out];
        int64_t axis;
        int rc;

        if ((rc = attrs_only(np, n, allowed, err)) ||
            (rc = attr_int(np, n, "axis", opset < 13 ? 1 : -1, &axis, err)) ||
            (rc = data_axis(n, x, axis, &axis, err)))
                return rc;
        if (opset < 13 && axis != x->ndim - 1)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "opset < 13 Hardmax over [axis, end)");
        out_like(o, x);
        n->axis = (int)axis;
        return to_host(n, HK_HARDMAX, 0);
}

/* Resize (opset 10-19) and Upsample (7-9). */
static int h_resize(OPARGS) {
        static const char *const allowed[] = {
                "mode", "coordinate_transformation_mode", "nearest_mode",
                "cubic_coeff_a", "exclude_outside", "extrapolation_value",
                "antialias", "axes", "keep_aspect_ratio_policy", "scales",
                NULL};
        static const char *const ctm[] = {
                "half_pixel", "asymmetric", "pytorch_half_pixel",
                "align_corners", "tf_half_pixel_for_nn", "tf_crop_and_resize",
                "half_pixel_symmetric"};
        static const char *const nm[] = {"round_prefer_floor",
                                         "round_prefer_ceil", "floor",
                                         "ceil"};
        xvalue_t *x = VAL(0), *o = &m->vals[n->out];
        int upsample = strcmp(n->op_type, "Upsample") == 0;
        char mode[32] = "nearest", ct[32], nmode[32] = "round_prefer_floor";
        char kar[32] = "stretch";
        int64_t ex = 0, aa = 0, axes[SWARM_MAX_DIMS], sizes[SWARM_MAX_DIMS];
        int nax = -1, rc, si = -1, zi = -1, ri = -1;
        float sc[SWARM_MAX_DIMS];
        int nsc = -1, nsz = -1;

        snprintf(ct, sizeof(ct), "%s", upsample || opset < 11
                 ? "asymmetric" : "half_pixel");
        /* Upsample and Resize-10 pick the nearest pixel by flooring. */
        if (upsample || opset < 11)
                snprintf(nmode, sizeof(nmode), "floor");
        if ((rc = attrs_only(np, n, allowed, err)) ||
            (rc = attr_float(np, n, "cubic_coeff_a", -0.75f, &n->act_alpha,
                             err)) ||
            (rc = attr_float(np, n, "extrapolation_value", 0.0f,
                             &n->act_beta, err)) ||
            (rc = attr_int(np, n, "exclude_outside", 0, &ex, err)) ||
            (rc = attr_int(np, n, "antialias", 0, &aa, err)) ||
            (rc = attr_ints(np, n, "axes", axes, SWARM_MAX_DIMS, &nax, err)))
                return rc;
        attr_str(np, "mode", mode, sizeof(mode));
        attr_str(np, "coordinate_transformation_mode", ct, sizeof(ct));
        attr_str(np, "nearest_mode", nmode, sizeof(nmode));
        attr_str(np, "keep_aspect_ratio_policy", kar, sizeof(kar));
        if (aa || strcmp(kar, "stretch") != 0)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "antialias or keep_aspect_ratio_policy");
        if ((rc = no_sym(m, n, err)))
                return rc;
        n->hi[0] = strcmp(mode, "nearest") == 0 ? 0
                   : strcmp(mode, "linear") == 0 ||
                     strcmp(mode, "bilinear") == 0 ? 1
                   : strcmp(mode, "cubic") == 0 ? 2 : -1;
        n->hp[0] = -1;
        for (int i = 0; i < 7; i++)
                if (strcmp(ct, ctm[i]) == 0)
                        n->hp[0] = i;
        n->hp[1] = -1;
        for (int i = 0; i < 4; i++)
                if (strcmp(nmode, nm[i]) == 0)
                        n->hp[1] = i;
        n->hp[2] = ex != 0;
        n->hp[3] = 0;   /* set below when sizes give the output */
        if (n->hi[0] < 0 || n->hp[0] < 0 || n->hp[1] < 0)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "mode '%s', coordinate mode '%s' or nearest "
                                "mode '%s'", mode, ct, nmode);
        /* Where scales and sizes come from, by opset. */
        if (upsample && opset < 9) {
                const Onnx__AttributeProto *a = attr_find(np, "scales");
                if (!a || (int)a->n_floats != x->ndim)
                        return node_err(err, SWARM_ERR_INVALID, n,
                                        "scales must have one value per "
                                        "dim");
                nsc = x->ndim;
                for (int i = 0; i < nsc; i++)
                        sc[i] = a->floats[i];
        } else if (upsample || opset < 11) {
                si = 1;
        } else {
                ri = 1;
                si = 2;
                zi = 3;
        }
        if (si >= 0 && has_in(n, si) && elems_of(VAL(si)) > 0) {
                const xvalue_t *v = VAL(si);
                if (!is_const(v) || v->dtype != SWARM_DTYPE_FLOAT32 ||
                    elems_of(v) > SWARM_MAX_DIMS)
                        return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                        "scales must be a constant FLOAT32 "
                                        "list");
                nsc = (int)elems_of(v);
                for (int i = 0; i < nsc; i++)
                        sc[i] = ((const float *)v->host)[i];
        }
        if (zi >= 0 && has_in(n, zi) && elems_of(VAL(zi)) > 0 &&
            (rc = const_ints(m, n, zi, sizes, SWARM_MAX_DIMS, &nsz, NULL,
                             err)))
                return rc;
        if ((nsc < 0) == (nsz < 0))
                return node_err(err, SWARM_ERR_INVALID, n,
                                "exactly one of scales and sizes");
        if (nax < 0) {
                nax = nsc >= 0 ? nsc : nsz;
                if (nax != x->ndim)
                        return node_err(err, SWARM_ERR_INVALID, n,
                                        "%d scales/sizes for a %d-D input",
                                        nax, x->ndim);
                for (int i = 0; i < nax; i++)
                        axes[i] = i;
        } else if (nax != (nsc >= 0 ? nsc : nsz)) {
                return node_err(err, SWARM_ERR_INVALID, n,
                                "axes and scales/sizes differ in length");
        }
        out_like(o, x);
        for (int d = 0; d < x->ndim; d++)
                n->hf[d] = 1.0f;
        for (int i = 0; i < nax; i++) {
                int64_t a, in;
                if ((rc = norm_axis(n, axes[i], x->ndim, &a, err)))
                        return rc;
                in = x->shape[a];
                if (nsz >= 0) {
                        if (sizes[i] < 0)
                                return node_err(err, SWARM_ERR_INVALID, n,
                                                "negative size");
                        /* there is nothing to interpolate from */
                        if (in == 0 && sizes[i] > 0)
                                return node_err(err, SWARM_ERR_INVALID, n,
                                                "resizing an empty dim to "
                                                "%lld", (long long)sizes[i]);
                        o->shape[a] = sizes[i];
                        n->hf[a] = in ? (float)sizes[i] / (float)in : 1.0f;
                        n->hp[3] = 1;
                } else {
                        double od = floor((double)in * sc[i]);
                        if (!(sc[i] > 0) || !(od <= (double)INT32_MAX))
                                return node_err(err, SWARM_ERR_INVALID, n,
                                                "scale %g", (double)sc[i]);
                        o->shape[a] = (int64_t)od;
                        n->hf[a] = sc[i];
                }
                if (a == 0 && x->batched && o->shape[a] != in)
                        return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                        "resizing the batch dimension");
        }
        /* Only the data (and the roi of tf_crop_and_resize) reach the
         * kernel. */
        if (n->hp[0] == 5) {
                const xvalue_t *r = ri >= 0 && has_in(n, ri) ? VAL(ri) : NULL;
                if (!r || !is_const(r) || r->dtype != SWARM_DTYPE_FLOAT32 ||
                    elems_of(r) != 2 * x->ndim)
                        return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                        "roi must be a constant FLOAT32 of "
                                        "2 * rank values");
                n->in[1] = n->in[ri];
                n->n_in = 2;
        } else {
                n->n_in = 1;
        }
        /* FLOAT32 on the backend's kernel where it has one (host_ops.c) */
        n->hi[3] = m->be && m->be->resample &&
                   x->dtype == SWARM_DTYPE_FLOAT32;
        return to_host(n, HK_RESIZE, 0);
}

static int h_rnn(OPARGS) {
        static const char *const allowed[] = {
                "activation_alpha", "activation_beta", "activations", "clip",
                "direction", "hidden_size", "input_forget", "layout",
                "linear_before_reset", NULL};
        static const struct {
                const char *name;
                int kind;
                float a, b;
        } A[] = {{"Relu", 0, 0, 0}, {"Tanh", 1, 0, 0}, {"Sigmoid", 2, 0, 0},
                 {"Affine", 3, 1, 0}, {"LeakyRelu", 4, 0.01f, 0},
                 {"ThresholdedRelu", 5, 1, 0}, {"ScaledTanh", 6, 1, 1},
                 {"HardSigmoid", 7, 0.2f, 0.5f}, {"Elu", 8, 1, 0},
                 {"Softsign", 9, 0, 0}, {"Softplus", 10, 0, 0}};
        xvalue_t *x = VAL(0), *w = VAL(1), *r = VAL(2);
        int kind = strcmp(n->op_type, "RNN") == 0 ? 0
                   : strcmp(n->op_type, "GRU") == 0 ? 1 : 2;
        int G = kind == 0 ? 1 : kind == 1 ? 3 : 4, nact = kind == 0 ? 1
                                                  : kind == 1 ? 2 : 3;
        int64_t H, lay, lbr, ifg, D, T, Bt, I;
        char dir[32] = "forward";
        const Onnx__AttributeProto *aa, *al, *ab;
        int rc, ia = 0, ib = 0;
        float clip = 0;

        (void)opset;
        if ((rc = attrs_only(np, n, allowed, err)) ||
            (rc = attr_int(np, n, "hidden_size", -1, &H, err)) ||
            (rc = attr_int(np, n, "layout", 0, &lay, err)) ||
            (rc = attr_int(np, n, "linear_before_reset", 0, &lbr, err)) ||
            (rc = attr_int(np, n, "input_forget", 0, &ifg, err)) ||
            (rc = attr_float(np, n, "clip", 0.0f, &clip, err)) ||
            (rc = no_sym(m, n, err)))
                return rc;
        attr_str(np, "direction", dir, sizeof(dir));
        for (int j = 0; j < n->n_in; j++)
                if (n->in[j] >= 0 && j != 4 && (rc = need_float(m, n, j, err)))
                        return rc;
        if (has_in(n, 4) && !is_index(VAL(4)))
                return node_err(err, SWARM_ERR_INVALID, n,
                                "sequence_lens must be INT32");
        D = strcmp(dir, "bidirectional") == 0 ? 2 : 1;
        n->hp[9] = strcmp(dir, "forward") == 0 ? 0
                   : strcmp(dir, "reverse") == 0 ? 1 : D == 2 ? 2 : -1;
        if (n->hp[9] < 0)
                return node_err(err, SWARM_ERR_INVALID, n,
                                "direction '%s'", dir);
        if (x->ndim != 3 || w->ndim != 3 || r->ndim != 3 || lay < 0 ||
            lay > 1)
                return node_err(err, SWARM_ERR_INVALID, n,
                                "X, W, R must be 3-D");
        if (x->batched && !lay)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "layout 0 puts the sequence first: a "
                                "symbolic batch there is not supported");
        T = x->shape[lay ? 1 : 0];
        Bt = x->shape[lay ? 0 : 1];
        I = x->shape[2];
        if (attr_find(np, "hidden_size") && H < 1)
                return node_err(err, SWARM_ERR_INVALID, n,
                                "hidden_size %lld", (long long)H);
        if (H < 0)
                H = w->shape[1] / G;
        {
                /* G * H and the bias / peephole sizes, checked: H comes
                 * from the file */
                int64_t gh, bsz, psz;
                if (H < 1 || swarm_mul_i64(G, H, &gh) ||
                    swarm_mul_i64(D * 2, gh, &bsz) ||
                    swarm_mul_i64(D * 3, H, &psz) || w->shape[0] != D ||
                    w->shape[1] != gh || w->shape[2] != I ||
                    r->shape[0] != D || r->shape[1] != gh ||
                    r->shape[2] != H ||
                    (has_in(n, 3) && elems_of(VAL(3)) != bsz) ||
                    (has_in(n, 7) && elems_of(VAL(7)) != psz))
                        return node_err(err, SWARM_ERR_INVALID, n,
                                        "W, R, B or P do not match "
                                        "hidden_size %lld", (long long)H);
        }
        for (int j = 5; j <= 6; j++) {
                /* [D, batch, H] ([batch, D, H] in layout 1), exactly: the
                 * kernel reads it by those strides */
                const xvalue_t *v;
                int64_t want[3] = {lay ? Bt : D, lay ? D : Bt, H};
                if (!has_in(n, j))
                        continue;
                v = VAL(j);
                if (v->ndim != 3 || v->shape[0] != want[0] ||
                    v->shape[1] != want[1] || v->shape[2] != want[2] ||
                    v->batched != (x->batched && lay))
                        return node_err(err, SWARM_ERR_INVALID, n,
                                        "initial state shape");
        }
        if (has_in(n, 4) && (VAL(4)->ndim != 1 || VAL(4)->shape[0] != Bt ||
                             VAL(4)->batched != x->batched))
                return node_err(err, SWARM_ERR_INVALID, n,
                                "sequence_lens must have one value per "
                                "batch entry");
        if (w->batched || r->batched || (has_in(n, 3) && VAL(3)->batched))
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "weights depend on the batch");
        /* activations: per direction, defaults by operator */
        aa = attr_find(np, "activations");
        al = attr_find(np, "activation_alpha");
        ab = attr_find(np, "activation_beta");
        for (int d = 0; d < D; d++)
                for (int j = 0; j < nact; j++) {
                        const char *def = j == 0 && kind > 0 ? "Sigmoid"
                                                              : "Tanh";
                        char nmb[32];
                        const char *nm = def;
                        int k = -1;
                        size_t ai = (size_t)(d * nact + j);
                        if (aa && ai < aa->n_strings) {
                                size_t l = aa->strings[ai].len < 31
                                           ? aa->strings[ai].len : 31;
                                memcpy(nmb, aa->strings[ai].data, l);
                                nmb[l] = '\0';
                                nm = nmb;
                        } else if (aa && aa->n_strings) {
                                return node_err(err, SWARM_ERR_INVALID, n,
                                                "activations: %zu for %lld "
                                                "directions", aa->n_strings,
                                                (long long)D);
                        }
                        for (size_t q = 0; q < sizeof(A) / sizeof(A[0]); q++)
                                if (strcasecmp(A[q].name, nm) == 0)
                                        k = (int)q;
                        if (k < 0)
                                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                                "activation '%s'", nm);
                        n->hp[2 + 3 * d + j] = A[k].kind;
                        n->hf[2 * (3 * d + j)] = A[k].a;
                        n->hf[2 * (3 * d + j) + 1] = A[k].b;
                        /* explicit alpha / beta lists are consumed by the
                         * activations that take them, in order */
                        if (A[k].kind >= 3 && A[k].kind <= 8 && al &&
                            (size_t)ia < al->n_floats)
                                n->hf[2 * (3 * d + j)] = al->floats[ia++];
                        if ((A[k].kind == 3 || A[k].kind == 6 ||
                             A[k].kind == 7) && ab &&
                            (size_t)ib < ab->n_floats)
                                n->hf[2 * (3 * d + j) + 1] = ab->floats[ib++];
                }
        n->hi[0] = kind;
        n->hi[1] = D;
        n->hi[2] = H;
        n->hi[3] = lay;
        n->hp[0] = lbr != 0;
        n->hp[1] = ifg != 0;
        n->act_alpha = clip;
        {
                /* Y [T, D, Bt, H] (layout 1: [Bt, T, D, H]); Y_h, Y_c
                 * [D, Bt, H] ([Bt, D, H]) */
                xvalue_t *y = &m->vals[n->out];
                y->ndim = 4;
                y->dtype = SWARM_DTYPE_FLOAT32;
                y->batched = x->batched;
                if (lay) {
                        int64_t s4[4] = {Bt, T, D, H};
                        memcpy(y->shape, s4, sizeof(s4));
                } else {
                        int64_t s4[4] = {T, D, Bt, H};
                        memcpy(y->shape, s4, sizeof(s4));
                }
                for (int k = 0; k < n->n_xo && k < 2; k++) {
                        xvalue_t *v;
                        if (n->xo[k] < 0)
                                continue;
                        v = &m->vals[n->xo[k]];
                        v->ndim = 3;
                        v->dtype = SWARM_DTYPE_FLOAT32;
                        v->batched = x->batched;
                        v->shape[0] = lay ? Bt : D;
                        v->shape[1] = lay ? D : Bt;
                        v->shape[2] = H;
                }
                if (n->n_xo > 2 || (kind < 2 && n->n_xo > 1 &&
                                    n->xo[1] >= 0))
                        return node_err(err, SWARM_ERR_INVALID, n,
                                        "too many outputs");
        }
        /* Keep the 8 input slots addressable by position.  A backend
         * with a fused kernel runs the node itself (not on constants:
         * those fold through the host kernel). */
        if (m->be && m->be->rnn && !is_const(x)) {
                n->op = OP_RNN;
                return SWARM_OK;
        }
        return to_host(n, HK_RNN, 0);
}

static int h_unary(OPARGS) {
        static const struct {
                const char *name;
                swarm_act_t act;
        } T[] = {{"Relu", SWARM_ACT_RELU}, {"Sigmoid", SWARM_ACT_SIGMOID},
                 {"Tanh", SWARM_ACT_TANH}, {"LeakyRelu", SWARM_ACT_LEAKY_RELU},
                 {"Clip", SWARM_ACT_CLIP}, {"Gelu", SWARM_ACT_GELU},
                 {"Erf", SWARM_ACT_ERF}, {"Sqrt", SWARM_ACT_SQRT},
                 {"Exp", SWARM_ACT_EXP}, {"Log", SWARM_ACT_LOG},
                 {"Neg", SWARM_ACT_NEG}, {"Abs", SWARM_ACT_ABS},
                 {"Reciprocal", SWARM_ACT_RECIPROCAL},
                 {"Floor", SWARM_ACT_FLOOR}, {"Ceil", SWARM_ACT_CEIL}};
        static const char *const plain[] = {"consumed_inputs", NULL};
        static const char *const leaky[] = {"alpha", "consumed_inputs", NULL};
        static const char *const clip_old[] = {"min", "max",
                                               "consumed_inputs", NULL};
        static const char *const gelu[] = {"approximate", NULL};
        static const struct {
                const char *name;
                int hop;
        } H[] = {{"Relu", HU_RELU}, {"Neg", HU_NEG}, {"Abs", HU_ABS},
                 {"Clip", HU_CLIP}};
        xvalue_t *x = VAL(0), *o = &m->vals[n->out];
        int rc;

        if (n->in[0] >= 0 && x->dtype != SWARM_DTYPE_FLOAT32) {
                /* Integer (or 16-bit float) inputs: a host kernel. */
                int hop = -1, cnt;
                for (size_t i = 0; i < sizeof(H) / sizeof(H[0]); i++)
                        if (strcmp(H[i].name, n->op_type) == 0)
                                hop = H[i].hop;
                if (hop < 0 || !is_index(x)) {
                        if (hop < 0 && !exec_dtype_is_float(x->dtype))
                                return need_float(m, n, 0, err);
                }
                if (hop < 0)
                        hop = HU_IDENT;
                n->hi[0] = INT64_MIN;
                n->hi[1] = INT64_MAX;
                if (hop == HU_CLIP && opset >= 11) {
                        if ((has_in(n, 1) &&
                             (rc = const_ints(m, n, 1, &n->hi[0], 1, &cnt,
                                              NULL, err))) ||
                            (has_in(n, 2) &&
                             (rc = const_ints(m, n, 2, &n->hi[1], 1, &cnt,
                                              NULL, err))))
                                return rc;
                }
                if (!exec_dtype_is_float(x->dtype) &&
                    hop != HU_RELU && hop != HU_NEG && hop != HU_ABS &&
                    hop != HU_CLIP)
                        return need_float(m, n, 0, err);
                if (exec_dtype_is_float(x->dtype)) {
                        /* FLOAT16 / BFLOAT16: the float kernel's act */
                        for (size_t i = 0; i < sizeof(T) / sizeof(T[0]); i++)
                                if (strcmp(T[i].name, n->op_type) == 0)
                                        n->act = T[i].act;
                        switch (n->act) {
                        case SWARM_ACT_RELU: hop = HU_RELU; break;
                        case SWARM_ACT_SIGMOID: hop = HU_SIGMOID; break;
                        case SWARM_ACT_TANH: hop = HU_TANH; break;
                        case SWARM_ACT_NEG: hop = HU_NEG; break;
                        case SWARM_ACT_ABS: hop = HU_ABS; break;
                        case SWARM_ACT_EXP: hop = HU_EXP; break;
                        case SWARM_ACT_LOG: hop = HU_LOG; break;
                        case SWARM_ACT_SQRT: hop = HU_SQRT; break;
                        case SWARM_ACT_RECIPROCAL: hop = HU_RECIP; break;
                        case SWARM_ACT_FLOOR: hop = HU_FLOOR; break;
                        case SWARM_ACT_CEIL: hop = HU_CEIL; break;
                        case SWARM_ACT_ERF: hop = HU_ERF; break;
                        default:
                                return need_float(m, n, 0, err);
                        }
                }
                if ((rc = no_sym(m, n, err)))
                        return rc;
                out_like(o, x);
                o->dtype = ldt(x);
                return to_host(n, HK_UNARY, hop);
        }
        if ((rc = need_float(m, n, 0, err)))
                return rc;
        for (size_t i = 0; i < sizeof(T) / sizeof(T[0]); i++)
                if (strcmp(T[i].name, n->op_type) == 0)
                        n->act = T[i].act;
        n->op = OP_UNARY;
        n->act_alpha = 0.0f;
        n->act_beta = 0.0f;
        switch (n->act) {
        case SWARM_ACT_LEAKY_RELU:
                if ((rc = attrs_only(np, n, leaky, err)) ||
                    (rc = attr_float(np, n, "alpha", 0.01f, &n->act_alpha,
                                     err)))
                        return rc;
                break;
        case SWARM_ACT_CLIP:
                if (opset < 11) {
                        if ((rc = attrs_only(np, n, clip_old, err)) ||
                            (rc = attr_float(np, n, "min", -INFINITY,
                                             &n->act_alpha, err)) ||
                            (rc = attr_float(np, n, "max", INFINITY,
                                             &n->act_beta, err)))
                                return rc;
                        break;
                }
                if ((rc = attrs_only(np, n, plain, err)))
                        return rc;
                n->act_alpha = -INFINITY;
                n->act_beta = INFINITY;
                if (has_in(n, 1) &&
                    (rc = const_scalar(m, n, 1, &n->act_alpha, err)))
                        return rc;
                if (has_in(n, 2) &&
                    (rc = const_scalar(m, n, 2, &n->act_beta, err)))
                        return rc;
                break;
        case SWARM_ACT_GELU: {
                char buf[16];
                const char *ap;
                if ((rc = attrs_only(np, n, gelu, err)))
                        return rc;
                ap = attr_str(np, "approximate", buf, sizeof(buf));
                if (ap && strcmp(ap, "tanh") == 0)
                        n->act = SWARM_ACT_GELU_TANH;
                else if (ap && strcmp(ap, "none") != 0)
                        return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                        "approximate='%s'", ap);
                break;
        }
        default:
                if ((rc = attrs_only(np, n, plain, err)))
                        return rc;
                if (n->n_in != 1)
                        return node_err(err, SWARM_ERR_INVALID, n,
                                        "expected 1 input");
                break;
        }
        out_like(o, x);
        return SWARM_OK;
}

static int h_softmax(OPARGS) {
        static const char *const axis_only[] = {"axis", NULL};
        xvalue_t *x = VAL(0), *o = &m->vals[n->out];
        int64_t axis;
        int rc;

        if ((rc = attrs_only(np, n, axis_only, err)) ||
            (rc = need_float(m, n, 0, err)) ||
            (rc = attr_int(np, n, "axis", opset < 13 ? 1 : -1, &axis, err)) ||
            (rc = norm_axis(n, axis, x->ndim, &axis, err)))
                return rc;
        n->op = strcmp(n->op_type, "Softmax") == 0 ? OP_SOFTMAX
                                                   : OP_LOGSOFTMAX;
        n->axis = (int)axis;
        /* Before opset 13 the input is coerced to 2-D at axis and the
         * softmax covers [axis, end); from 13 only [axis]. */
        n->legacy = opset < 13;
        if (x->batched && axis == 0)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "softmax across the batch dimension");
        out_like(o, x);
        return SWARM_OK;
}

/* ---- shape-only operators: the data is copied unchanged ---- */

/* Reshape-like ops on constants: the data (and batch marks) carry over. */
static int fold_same_data(swarm_model_t *m, xnode_t *n, swarm_err_t *err) {
        xvalue_t *x = VAL(0), *o = &m->vals[n->out];
        int64_t e = elems_of(x);
        int rc;
        o->dtype = x->dtype;
        o->widened = x->widened;
        if ((rc = fold_host(m, n, o, x->nsym != NULL, err)))
                return rc;
        memcpy(o->host, x->host, x->host_bytes);
        if (x->nsym && e > 0)
                memcpy(o->nsym, x->nsym, (size_t)e);
        return SWARM_OK;
}

static int finish_copy(swarm_model_t *m, xnode_t *n, swarm_err_t *err) {
        xvalue_t *x = VAL(0);
        n->op = OP_COPY;
        m->vals[n->out].dtype = x->dtype;
        if (is_const(x))
                return fold_same_data(m, n, err);
        /* A byte copy: every dtype. */
        return SWARM_OK;
}

static int h_identity(OPARGS) {
        static const char *const allowed[] = {"ratio", "seed", "is_test",
                                              NULL};
        int rc;
        if ((rc = attrs_only(np, n, allowed, err)))
                return rc;
        /* Dropout at inference is the identity; a training_mode input must
         * be a constant false, or true with a constant ratio of 0 (which
         * drops nothing either). */
        if (has_in(n, 2)) {
                const xvalue_t *t = VAL(2);
                int zero_ratio = has_in(n, 1) && is_const(VAL(1)) &&
                                 elems_of(VAL(1)) == 1 &&
                                 exec_dtype_is_float(VAL(1)->dtype) &&
                                 VAL(1)->host_bytes >= 4 &&
                                 (VAL(1)->dtype == SWARM_DTYPE_FLOAT32
                                  ? ((const float *)VAL(1)->host)[0] == 0
                                  : VAL(1)->dtype == SWARM_DTYPE_FLOAT64 &&
                                    ((const double *)VAL(1)->host)[0] == 0);
                if (!is_const(t) || t->host_bytes < 1 ||
                    (((const uint8_t *)t->host)[0] != 0 && !zero_ratio))
                        return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                        "training_mode must be a constant "
                                        "false (or the ratio 0)");
        }
        out_like(&m->vals[n->out], VAL(0));
        if (n->n_xo > 0 && n->xo[0] >= 0) {
                /* the mask keeps everything */
                xvalue_t *mk = &m->vals[n->xo[0]];
                out_like(mk, VAL(0));
                mk->dtype = SWARM_DTYPE_BOOL;
                m->vals[n->out].dtype = ldt(VAL(0));
                if ((rc = no_sym(m, n, err)))
                        return rc;
                n->n_in = 1;
                return to_host(n, HK_DROPOUT, 0);
        }
        return finish_copy(m, n, err);
}

static int h_flatten(OPARGS) {
        static const char *const axis_only[] = {"axis", NULL};
        xvalue_t *x = VAL(0), *o = &m->vals[n->out];
        int64_t axis;
        int rc;

        if ((rc = attrs_only(np, n, axis_only, err)) ||
            (rc = attr_int(np, n, "axis", 1, &axis, err)))
                return rc;
        if (axis < -x->ndim || axis > x->ndim)
                return node_err(err, SWARM_ERR_INVALID, n,
                                "axis %lld out of range for %d-D input",
                                (long long)axis, x->ndim);
        if (axis < 0)
                axis += x->ndim;
        if (x->batched && axis == 0)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "flattening the batch dimension into the "
                                "columns");
        o->ndim = 2;
        o->shape[0] = 1;
        o->shape[1] = 1;
        for (int i = 0; i < x->ndim; i++)
                if ((rc = ck_mul(n, o->shape[i < axis ? 0 : 1], x->shape[i],
                                 &o->shape[i < axis ? 0 : 1], err)))
                        return rc;
        o->batched = x->batched;
        return finish_copy(m, n, err);
}

static int h_reshape(OPARGS) {
        static const char *const allowed[] = {"shape", "allowzero",
                                              "consumed_inputs", NULL};
        xvalue_t *x = VAL(0), *o = &m->vals[n->out];
        int64_t t[SWARM_MAX_DIMS], allowzero, known = 1, total;
        uint8_t s[SWARM_MAX_DIMS] = {0};
        int cnt, rc, neg = -1;

        if ((rc = attrs_only(np, n, allowed, err)) ||
            (rc = attr_int(np, n, "allowzero", 0, &allowzero, err)))
                return rc;
        if (opset < 5)
                rc = attr_ints(np, n, "shape", t, SWARM_MAX_DIMS, &cnt, err);
        else if (!has_in(n, 1))
                return node_err(err, SWARM_ERR_INVALID, n, "no shape input");
        else
                rc = const_ints(m, n, 1, t, SWARM_MAX_DIMS, &cnt, s, err);
        if (rc)
                return rc;
        if (cnt < 0)
                return node_err(err, SWARM_ERR_INVALID, n, "no shape");
        total = elems_of(x);
        o->ndim = cnt;
        o->batched = 0;
        for (int i = 0; i < cnt; i++) {
                if (s[i]) {
                        /* N * t[i]: the batch, which must lead. */
                        if (i != 0 || !x->batched)
                                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                                "the batch dimension would "
                                                "move to dimension %d", i);
                        o->batched = 1;
                        o->shape[i] = t[i];
                } else if (t[i] == 0 && !allowzero) {
                        if (i >= x->ndim)
                                return node_err(err, SWARM_ERR_INVALID, n,
                                                "0 at dimension %d copies a "
                                                "dimension the input lacks",
                                                i);
                        o->shape[i] = x->shape[i];
                        if (i == 0 && x->batched)
                                o->batched = 1;
                } else if (t[i] == -1) {
                        if (neg >= 0)
                                return node_err(err, SWARM_ERR_INVALID, n,
                                                "more than one -1");
                        neg = i;
                        o->shape[i] = 1;
                        continue;
                } else if (t[i] < 0) {
                        return node_err(err, SWARM_ERR_INVALID, n,
                                        "dimension %lld", (long long)t[i]);
                } else {
                        o->shape[i] = t[i];
                }
                if ((rc = ck_mul(n, known, o->shape[i], &known, err)))
                        return rc;
        }
        if (x->batched && !o->batched) {
                if (neg != 0)
                        return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                        "the result's leading dimension is "
                                        "fixed, which mixes the batch "
                                        "dimension into the others (use 0, "
                                        "-1 or x.shape[0] there)");
                o->batched = 1;
        }
        if (neg >= 0) {
                if (known == 0 || total % known)
                        return node_err(err, SWARM_ERR_INVALID, n,
                                        "cannot infer the -1 dimension");
                o->shape[neg] = total / known;
                if ((rc = ck_mul(n, known, o->shape[neg], &known, err)))
                        return rc;
        }
        if (known != total)
                return node_err(err, SWARM_ERR_INVALID, n,
                                "%lld elements cannot take the new shape "
                                "(%lld elements)", (long long)total,
                                (long long)known);
        return finish_copy(m, n, err);
}

/* Axes from the attribute (before `input_from`) or the input. */
static int get_axes(swarm_model_t *m, xnode_t *n, const Onnx__NodeProto *np,
                    int64_t opset, int64_t input_from, int in_idx,
                    int64_t *axes, int *cnt, swarm_err_t *err) {
        *cnt = -1;
        if (opset < input_from)
                return attr_ints(np, n, "axes", axes, SWARM_MAX_DIMS, cnt,
                                 err);
        if (!has_in(n, in_idx))
                return SWARM_OK;
        return const_ints(m, n, in_idx, axes, SWARM_MAX_DIMS, cnt, NULL, err);
}

static int h_squeeze(OPARGS) {
        static const char *const allowed[] = {"axes", NULL};
        xvalue_t *x = VAL(0), *o = &m->vals[n->out];
        int64_t axes[SWARM_MAX_DIMS];
        int cnt, rc, drop[SWARM_MAX_DIMS] = {0};
        int unsq = strcmp(n->op_type, "Unsqueeze") == 0;

        if ((rc = attrs_only(np, n, allowed, err)) ||
            (rc = get_axes(m, n, np, opset, 13, 1, axes, &cnt, err)))
                return rc;
        if (unsq) {
                int nd = x->ndim + (cnt > 0 ? cnt : 0), add[SWARM_MAX_DIMS] = {0};
                if (cnt <= 0)
                        return node_err(err, SWARM_ERR_INVALID, n,
                                        "no axes");
                if (nd > SWARM_MAX_DIMS)
                        return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                        "more than %d dims", SWARM_MAX_DIMS);
                for (int i = 0; i < cnt; i++) {
                        int64_t a;
                        if ((rc = norm_axis(n, axes[i], nd, &a, err)))
                                return rc;
                        if (add[a]++)
                                return node_err(err, SWARM_ERR_INVALID, n,
                                                "axis %lld repeated",
                                                (long long)a);
                }
                if (x->batched && add[0])
                        return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                        "a new leading dimension would push "
                                        "the batch dimension back");
                o->ndim = nd;
                for (int i = 0, j = 0; i < nd; i++)
                        o->shape[i] = add[i] ? 1 : x->shape[j++];
                o->batched = x->batched;
                return finish_copy(m, n, err);
        }
        for (int i = 0; i < cnt; i++) {
                int64_t a;
                if ((rc = norm_axis(n, axes[i], x->ndim, &a, err)))
                        return rc;
                if ((a == 0 && x->batched) || x->shape[a] != 1)
                        return node_err(err, a == 0 && x->batched
                                        ? SWARM_ERR_UNSUPPORTED
                                        : SWARM_ERR_INVALID, n,
                                        "dimension %lld is not 1",
                                        (long long)a);
                drop[a] = 1;
        }
        if (cnt < 0)
                for (int i = 0; i < x->ndim; i++)
                        drop[i] = x->shape[i] == 1 && !(i == 0 && x->batched);
        o->ndim = 0;
        for (int i = 0; i < x->ndim; i++)
                if (!drop[i])
                        o->shape[o->ndim++] = x->shape[i];
        o->batched = x->batched;
        return finish_copy(m, n, err);
}

/* ---- data movement through copy_strided / gather ---- */

static int h_transpose(OPARGS) {
        static const char *const allowed[] = {"perm", NULL};
        xvalue_t *x = VAL(0), *o = &m->vals[n->out];
        int64_t perm[SWARM_MAX_DIMS], str[SWARM_MAX_DIMS];
        int cnt, rc, seen[SWARM_MAX_DIMS] = {0};

        if ((rc = attrs_only(np, n, allowed, err)) ||
            (rc = attr_ints(np, n, "perm", perm, SWARM_MAX_DIMS, &cnt, err)))
                return rc;
        if (cnt < 0) {
                cnt = x->ndim;
                for (int i = 0; i < cnt; i++)
                        perm[i] = cnt - 1 - i;
        }
        if (cnt != x->ndim)
                return node_err(err, SWARM_ERR_INVALID, n,
                                "perm has %d entries for a %d-D input", cnt,
                                x->ndim);
        contig_strides(x->shape, x->ndim, str);
        for (int i = 0; i < cnt; i++) {
                if (perm[i] < 0 || perm[i] >= cnt || seen[perm[i]]++)
                        return node_err(err, SWARM_ERR_INVALID, n,
                                        "bad perm");
                o->shape[i] = x->shape[perm[i]];
                n->xstr[i] = str[perm[i]];
        }
        if (x->batched && cnt && perm[0] != 0)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "the batch dimension would move to "
                                "dimension %d", (int)perm[0]);
        o->ndim = cnt;
        o->batched = x->batched;
        o->dtype = x->dtype;
        n->xoff = 0;
        n->op = OP_STRIDED;
        return SWARM_OK;
}

static int h_slice(OPARGS) {
        static const char *const old[] = {"starts", "ends", "axes", NULL};
        static const char *const none[] = {NULL};
        xvalue_t *x = VAL(0), *o = &m->vals[n->out];
        int64_t st[SWARM_MAX_DIMS], en[SWARM_MAX_DIMS], ax[SWARM_MAX_DIMS];
        int64_t sp[SWARM_MAX_DIMS], str[SWARM_MAX_DIMS];
        int ns, ne, na = -1, nsp = -1, rc, seen[SWARM_MAX_DIMS] = {0};

        if (opset < 10) {
                if ((rc = attrs_only(np, n, old, err)) ||
                    (rc = attr_ints(np, n, "starts", st, SWARM_MAX_DIMS, &ns,
                                    err)) ||
                    (rc = attr_ints(np, n, "ends", en, SWARM_MAX_DIMS, &ne,
                                    err)) ||
                    (rc = attr_ints(np, n, "axes", ax, SWARM_MAX_DIMS, &na,
                                    err)))
                        return rc;
        } else {
                if ((rc = attrs_only(np, n, none, err)))
                        return rc;
                if (n->n_in < 3)
                        return node_err(err, SWARM_ERR_INVALID, n,
                                        "starts and ends are required");
                if ((rc = const_ints(m, n, 1, st, SWARM_MAX_DIMS, &ns, NULL,
                                     err)) ||
                    (rc = const_ints(m, n, 2, en, SWARM_MAX_DIMS, &ne, NULL,
                                     err)) ||
                    (has_in(n, 3) &&
                     (rc = const_ints(m, n, 3, ax, SWARM_MAX_DIMS, &na, NULL,
                                      err))) ||
                    (has_in(n, 4) &&
                     (rc = const_ints(m, n, 4, sp, SWARM_MAX_DIMS, &nsp,
                                      NULL, err))))
                        return rc;
        }
        if (ns < 0 || ne != ns || (na >= 0 && na != ns) ||
            (nsp >= 0 && nsp != ns))
                return node_err(err, SWARM_ERR_INVALID, n,
                                "starts/ends/axes/steps lengths differ");
        out_like(o, x);
        contig_strides(x->shape, x->ndim, str);
        memcpy(n->xstr, str, sizeof(str));
        n->xoff = 0;
        for (int i = 0; i < ns; i++) {
                int64_t a = na >= 0 ? ax[i] : i, d, s, e, step, len;
                step = nsp >= 0 ? sp[i] : 1;
                if ((rc = norm_axis(n, a, x->ndim, &a, err)))
                        return rc;
                if (seen[a]++ || step == 0)
                        return node_err(err, SWARM_ERR_INVALID, n,
                                        "repeated axis or zero step");
                d = x->shape[a];
                s = st[i];
                e = en[i];
                if (a == 0 && x->batched) {
                        if (s != 0 || step != 1 || e < INT32_MAX)
                                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                                "slicing the batch "
                                                "dimension");
                        continue;
                }
                /* Clamp before adding d so nothing overflows (starts and
                 * ends of +-INT64_MAX are how "to the end" is written),
                 * and clamp the step to the dim: any |step| >= d selects
                 * one element at most, and -INT64_MIN is not an int64. */
                s = s < -d ? -d - 1 : s > d ? d : s;
                e = e < -d ? -d - 1 : e > d ? d : e;
                if (s < 0)
                        s += d;
                if (e < 0)
                        e += d;
                if (step > d)
                        step = d > 0 ? d : 1;
                if (step < -d)
                        step = d > 0 ? -d : -1;
                if (step > 0) {
                        s = s < 0 ? 0 : s > d ? d : s;
                        e = e < 0 ? 0 : e > d ? d : e;
                        len = e > s ? (e - s - 1) / step + 1 : 0;
                } else {
                        s = s < 0 ? -1 : s > d - 1 ? d - 1 : s;
                        e = e < -1 ? -1 : e > d - 1 ? d - 1 : e;
                        len = s > e ? (s - e - 1) / (-step) + 1 : 0;
                }
                o->shape[a] = len;
                if (len > 0) {
                        int64_t off;
                        if ((rc = ck_mul(n, s, str[a], &off, err)) ||
                            (rc = ck_add(n, n->xoff, off, &n->xoff, err)))
                                return rc;
                }
                if ((rc = ck_mul(n, str[a], step, &n->xstr[a], err)))
                        return rc;
        }
        n->op = OP_STRIDED;
        return SWARM_OK;
}

static int h_expand(OPARGS) {
        static const char *const none[] = {NULL};
        xvalue_t *x = VAL(0), *o = &m->vals[n->out];
        int64_t t[SWARM_MAX_DIMS], str[SWARM_MAX_DIMS];
        uint8_t s[SWARM_MAX_DIMS] = {0};
        xvalue_t tv;
        int cnt, rc;
        char why[256];

        if ((rc = attrs_only(np, n, none, err)) ||
            (rc = const_ints(m, n, 1, t, SWARM_MAX_DIMS, &cnt, s, err)))
                return rc;
        memset(&tv, 0, sizeof(tv));
        tv.ndim = cnt;
        for (int i = 0; i < cnt; i++) {
                tv.shape[i] = t[i];
                if (s[i]) {
                        if (i != 0)
                                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                                "the batch dimension would "
                                                "move to dimension %d", i);
                        tv.batched = 1;
                }
        }
        if (bcast(x, 0, x->ndim, &tv, 0, tv.ndim, &o->ndim, o->shape,
                  &o->batched, why, sizeof(why)))
                return node_err(err, SWARM_ERR_UNSUPPORTED, n, "%s", why);
        contig_strides(x->shape, x->ndim, str);
        for (int i = 0; i < o->ndim; i++) {
                int xi = i - (o->ndim - x->ndim);
                n->xstr[i] = xi < 0 || (x->shape[xi] == 1 &&
                                        !(xi == 0 && x->batched))
                             ? 0 : str[xi];
        }
        o->dtype = x->dtype;
        n->xoff = 0;
        n->op = OP_STRIDED;
        return SWARM_OK;
}

static int h_concat(OPARGS) {
        static const char *const axis_only[] = {"axis", NULL};
        xvalue_t *x = VAL(0), *o = &m->vals[n->out];
        int64_t axis;
        int rc;

        if ((rc = attrs_only(np, n, axis_only, err)) ||
            (rc = attr_int(np, n, "axis", 1, &axis, err)) ||
            (rc = norm_axis(n, axis, x->ndim, &axis, err)))
                return rc;
        out_like(o, x);
        o->shape[axis] = 0;
        for (int j = 0; j < n->n_in; j++) {
                const xvalue_t *v = VAL(j);
                if (v->ndim != x->ndim || v->dtype != x->dtype ||
                    v->batched != x->batched)
                        return node_err(err, v->batched != x->batched
                                        ? SWARM_ERR_UNSUPPORTED
                                        : SWARM_ERR_INVALID, n,
                                        "input '%s' differs in rank, type or "
                                        "batch", v->name);
                for (int d = 0; d < x->ndim; d++)
                        if (d != axis && v->shape[d] != x->shape[d])
                                return node_err(err, SWARM_ERR_INVALID, n,
                                                "input '%s': dimension %d "
                                                "differs", v->name, d);
                if ((rc = ck_add(n, o->shape[axis], v->shape[axis],
                                 &o->shape[axis], err)))
                        return rc;
        }
        if (x->batched && axis == 0)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "concatenation along the batch dimension");
        n->axis = (int)axis;
        n->op = OP_CONCAT;
        return SWARM_OK;
}

static int h_gather(OPARGS) {
        static const char *const axis_only[] = {"axis", NULL};
        xvalue_t *x = VAL(0), *ix = VAL(1), *o = &m->vals[n->out];
        int64_t axis;
        int rc;

        if ((rc = attrs_only(np, n, axis_only, err)) ||
            (rc = attr_int(np, n, "axis", 0, &axis, err)) ||
            (rc = norm_axis(n, axis, x->ndim, &axis, err)))
                return rc;
        if (ix->dtype != SWARM_DTYPE_INT64 && ix->dtype != SWARM_DTYPE_INT32)
                return node_err(err, SWARM_ERR_INVALID, n,
                                "indices must be INT64 or INT32");
        if (x->ndim - 1 + ix->ndim > SWARM_MAX_DIMS)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "result has more than %d dims",
                                SWARM_MAX_DIMS);
        if (ix->nsym)
                for (int64_t i = 0; i < elems_of(ix); i++)
                        if (ix->nsym[i])
                                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                                "indices depend on the batch");
        if (is_const(ix)) {
                for (int64_t i = 0; i < elems_of(ix); i++) {
                        int64_t k = ((const int64_t *)ix->host)[i];
                        if (k < -x->shape[axis] || k >= x->shape[axis] ||
                            (axis == 0 && x->batched))
                                return node_err(err, axis == 0 && x->batched
                                                ? SWARM_ERR_UNSUPPORTED
                                                : SWARM_ERR_INVALID, n,
                                                "index %lld out of range or "
                                                "on the batch dimension",
                                                (long long)k);
                }
        }
        if (x->batched && (axis == 0 || ix->batched))
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "gathering along the batch dimension");
        if (ix->batched && axis != 0)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "batched indices would not lead the result");
        o->ndim = 0;
        for (int d = 0; d < axis; d++)
                o->shape[o->ndim++] = x->shape[d];
        for (int d = 0; d < ix->ndim; d++)
                o->shape[o->ndim++] = ix->shape[d];
        for (int d = (int)axis + 1; d < x->ndim; d++)
                o->shape[o->ndim++] = x->shape[d];
        o->batched = x->batched || ix->batched;
        o->dtype = x->dtype;
        o->widened = x->widened;
        n->axis = (int)axis;
        n->op = OP_GATHER;
        return SWARM_OK;
}

/* ---- windows: Conv and pooling ---- */

/* Output size and pads of one spatial dim.  ceil only for pooling. */
static int window_dim(xnode_t *n, const char *autopad, int64_t in, int64_t k,
                      int64_t s, int64_t d, int64_t *pb, int64_t *pe,
                      int ceil_mode, int64_t *out, swarm_err_t *err) {
        int64_t eff, o;
        int rc;
        if (k < 1 || s < 1 || d < 1)
                return node_err(err, SWARM_ERR_INVALID, n,
                                "kernel, stride and dilation must be >= 1");
        /* The kernels add and multiply these (pad + stride, (k - 1) * d +
         * pad ...) without checks on every tap: with each at most
         * WINDOW_PARAM_MAX no such sum or product of two can overflow.  No
         * real model comes near (found by fuzz_onnx: pads and strides near
         * 2^62 overflowed inside_span() at inference). */
        if (k > WINDOW_PARAM_MAX || s > WINDOW_PARAM_MAX || d > WINDOW_PARAM_MAX ||
            *pb > WINDOW_PARAM_MAX || *pe > WINDOW_PARAM_MAX)
                return node_err(err, SWARM_ERR_INVALID, n,
                                "kernel, stride, dilation and pads must be at "
                                "most %d", WINDOW_PARAM_MAX);
        /* eff = (k - 1) * d + 1, checked: k, d and pads are the model's. */
        if ((rc = ck_mul(n, k - 1, d, &eff, err)) ||
            (rc = ck_add(n, eff, 1, &eff, err)))
                return rc;
        if (!*autopad || strcmp(autopad, "NOTSET") == 0) {
                int64_t span;
                if (*pb < 0 || *pe < 0)
                        return node_err(err, SWARM_ERR_INVALID, n,
                                        "negative pads");
                if ((rc = ck_add(n, in, *pb, &span, err)) ||
                    (rc = ck_add(n, span, *pe, &span, err)))
                        return rc;
                span -= eff;    /* both >= 0: cannot overflow */
                if (span < 0)
                        return node_err(err, SWARM_ERR_INVALID, n,
                                        "the window is larger than the "
                                        "padded input");
                o = (ceil_mode ? span / s + (span % s != 0) : span / s) + 1;
                /* A last window starting in the end padding is dropped,
                 * as PyTorch and onnxruntime do.  (o - 1) * s <= span +
                 * s - 1 <= in + pb + pe: no overflow. */
                if (ceil_mode && (o - 1) * s >= in + *pb)
                        o--;
        } else if (strcmp(autopad, "VALID") == 0) {
                *pb = *pe = 0;
                if (in < eff)
                        return node_err(err, SWARM_ERR_INVALID, n,
                                        "the window is larger than the "
                                        "input");
                o = (in - eff) / s + 1;
        } else if (strcmp(autopad, "SAME_UPPER") == 0 ||
                   strcmp(autopad, "SAME_LOWER") == 0) {
                int64_t total;
                o = in / s + (in % s != 0);
                /* (o - 1) * s < in: only adding eff can overflow. */
                if ((rc = ck_add(n, (o > 0 ? o - 1 : 0) * s, eff, &total,
                                 err)))
                        return rc;
                total -= in;
                if (total < 0)
                        total = 0;
                if (autopad[5] == 'U') {
                        *pb = total / 2;
                        *pe = total - *pb;
                } else {
                        *pe = total / 2;
                        *pb = total - *pe;
                }
        } else {
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "auto_pad '%s'", autopad);
        }
        *out = o;
        return SWARM_OK;
}

/* Fill n->win from the attributes for an input x of [N, C, (H,) W].
 * Kernel sizes come from `kshape` (the weights for Conv). */
static int window_attrs(swarm_model_t *m, xnode_t *n,
                        const Onnx__NodeProto *np, const xvalue_t *x,
                        const int64_t *kshape, int is_pool, int64_t *oh,
                        int64_t *ow, swarm_err_t *err) {
        int64_t ks[2], st[2] = {1, 1}, dl[2] = {1, 1}, pads[4] = {0};
        int64_t in[2], out[2], ceil_mode = 0, so = 0;
        int sd = x->ndim - 2, cnt, rc;
        char ap[32] = "";
        const char *apv = attr_str(np, "auto_pad", ap, sizeof(ap));

        if (sd < 1 || sd > 2)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "%d spatial dims (1 or 2 supported)", sd);
        (void)apv;
        if ((rc = attr_ints(np, n, "kernel_shape", ks, 2, &cnt, err)))
                return rc;
        if (cnt < 0 && !kshape)
                return node_err(err, SWARM_ERR_INVALID, n,
                                "kernel_shape is required");
        for (int i = 0; i < sd; i++) {
                if (kshape && cnt >= 0 && ks[i] != kshape[i])
                        return node_err(err, SWARM_ERR_INVALID, n,
                                        "kernel_shape differs from the "
                                        "weights");
                if (kshape)
                        ks[i] = kshape[i];
        }
        if ((cnt >= 0 && cnt != sd) ||
            (rc = attr_ints(np, n, "strides", st, 2, &cnt, err)) ||
            (cnt >= 0 && cnt != sd) ||
            (rc = attr_ints(np, n, "dilations", dl, 2, &cnt, err)) ||
            (cnt >= 0 && cnt != sd) ||
            (rc = attr_ints(np, n, "pads", pads, 4, &cnt, err)) ||
            (cnt >= 0 && cnt != 2 * sd))
                return rc ? rc : node_err(err, SWARM_ERR_INVALID, n,
                                          "window attributes do not match "
                                          "%d spatial dims", sd);
        if (is_pool && (rc = attr_int(np, n, "ceil_mode", 0, &ceil_mode,
                                      err)))
                return rc;
        if ((rc = attr_int(np, n, "storage_order", 0, &so, err)))
                return rc;
        if (so)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "storage_order=1");
        for (int i = 0; i < sd; i++) {
                in[i] = x->shape[2 + i];
                if ((rc = window_dim(n, ap, in[i], ks[i], st[i], dl[i],
                                     &pads[i], &pads[i + sd], (int)ceil_mode,
                                     &out[i], err)))
                        return rc;
        }
        if (is_pool) {
                /* A pooling cell visits every tap of its window, padding
                 * included: pads of the kernel's size or more only add taps
                 * that read nothing (onnxruntime refuses them too), and a
                 * window visited per output cell bounds the work per plane
                 * (fuzz_onnx found models that pooled for minutes). */
                int64_t taps = 1;
                for (int i = 0; i < sd; i++) {
                        if (pads[i] >= ks[i] || pads[i + sd] >= ks[i])
                                return node_err(err, SWARM_ERR_INVALID, n,
                                                "pads must be smaller than the "
                                                "kernel");
                        if ((rc = ck_mul(n, taps, out[i], &taps, err)) ||
                            (rc = ck_mul(n, taps, ks[i], &taps, err)))
                                return rc;
                }
                if (taps > POOL_MAX_TAPS)
                        return node_err(err, SWARM_ERR_INVALID, n,
                                        "%" PRId64 " window taps per plane "
                                        "(at most %" PRId64 ")", taps,
                                        (int64_t)POOL_MAX_TAPS);
                /* and per image: a thousand channels of such planes ran
                 * for minutes (fuzz_onnx, a 65536-wide window over a
                 * 1-wide input) */
                if (x->shape[1] > 0 &&
                    ((rc = ck_mul(n, taps, x->shape[1], &taps, err)) ||
                     taps > POOL_MAX_TAPS))
                        return rc ? rc : node_err(err, SWARM_ERR_INVALID, n,
                                                  "%" PRId64 " window taps per "
                                                  "image (at most %" PRId64 ")",
                                                  taps, (int64_t)POOL_MAX_TAPS);
        }
        memset(&n->win, 0, sizeof(n->win));
        /* 1-D windows run as 2-D ones over a single row. */
        n->win.h = sd == 2 ? in[0] : 1;
        n->win.w = in[sd - 1];
        n->win.oh = sd == 2 ? out[0] : 1;
        n->win.ow = out[sd - 1];
        n->win.kh = sd == 2 ? ks[0] : 1;
        n->win.kw = ks[sd - 1];
        n->win.sh = sd == 2 ? st[0] : 1;
        n->win.sw = st[sd - 1];
        n->win.dh = sd == 2 ? dl[0] : 1;
        n->win.dw = dl[sd - 1];
        n->win.pad_t = sd == 2 ? pads[0] : 0;
        n->win.pad_l = pads[sd - 1];
        n->win.pad_b = sd == 2 ? pads[2] : 0;
        n->win.pad_r = pads[2 * sd - 1];
        *oh = out[0];
        *ow = sd == 2 ? out[1] : 0;
        return SWARM_OK;
}

/* Output columns (images * oh * ow) a convolution GEMM should reach before
 * images are chunked together.  Measured on OpenBLAS 0.3.21 (Zen 4, 1
 * thread, the fashion CNN's 32x144 by 144x196 conv): one image per GEMM ran
 * at ~190 GFLOP/s, chunks of 3 to 16 images at ~140, because the wider
 * columns matrix no longer stays in L1/L2 between im2col and sgemm's
 * packing.  So chunk only planes too small to feed sgemm on their own (7x7
 * and below), and only up to this width. */
#define CONV_MIN_N 192
/* With a backend that splits each kernel across threads, a per-image call
 * is too small to split (under EXEC_CPU_PAR_MIN_BLAS_MACS), so images are
 * chunked until each lane gets this many columns.  On Zen 4 the fashion
 * CNN's split GEMM only won back what the wider columns matrix lost (its
 * 3x3 convolutions have since gone to cpu_sconv.c, AVX-512 only); on Zen 3
 * (AVX2: these convolutions take im2col + OpenBLAS) 2 threads ran no
 * faster than 1 without it, and with it the CNN at 2 threads went 1.52 ->
 * 0.93 ms at batch 16, 5.28 -> 3.50 at 64, 17.8 -> 14.9 at 256 (min of 3,
 * with the AVX2 pooling loop).  0 turns the threaded chunking off. */
#define CONV_PAR_N 1024
/* Columns-plus-product floats one chunk may use: a fixed bound, so the
 * scratch is part of work_fixed_bytes and does not grow with the batch. */
#define CONV_CHUNK_FLOATS ((int64_t)512 * 1024)

/* Choose how a convolution runs: one im2col and one GEMM per image and
 * group, writing NCHW directly (chunk 1), or, for small planes on a backend
 * that can unfold several images at once, chunks of images side by side
 * ([mg, k] x [k, chunk * oh * ow] per group) and a strided copy back. */
static int conv_plan(const swarm_backend_t *be, xnode_t *n, int64_t mg,
                     int64_t k, swarm_err_t *err) {
        int64_t plane, per, kp;
        int rc;
        int direct = n->win.kh == 1 && n->win.kw == 1 && n->win.sh == 1 &&
                     n->win.sw == 1 && !n->win.pad_t && !n->win.pad_l &&
                     !n->win.pad_b && !n->win.pad_r;
        int64_t want = be && be->threads > 1 && CONV_PAR_N > 0
                       ? CONV_PAR_N * be->threads : CONV_MIN_N;

        if ((rc = ck_mul(n, n->win.oh, n->win.ow, &plane, err)) ||
            (rc = ck_add(n, k, mg, &per, err)) ||
            (rc = ck_mul(n, per, plane, &per, err)) ||
            (rc = ck_mul(n, k, plane, &kp, err)))
                return rc;
        if (kp > EXEC_RUN_MAX_ELEMS)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "convolution scratch too large");
        n->chunk = 1;
        /* Depthwise with a direct kernel (run_conv): no columns matrix. */
        if (be && be->conv_dw && mg == 1 && n->win.n == 1) {
                n->scratch = 0;
                return SWARM_OK;
        }
        if (be && be->im2col_imgs && plane > 0 && plane < want && per > 0) {
                n->chunk = (want + plane - 1) / plane;
                if (n->chunk > CONV_CHUNK_FLOATS / per)
                        n->chunk = CONV_CHUNK_FLOATS / per;
        }
        if (n->chunk > 1)
                n->scratch = n->chunk * per;
        else {
                n->chunk = 1;
                n->scratch = direct ? 0 : kp;
        }
        return SWARM_OK;
}

/* Taps of a constant-weight convolution that read only padding for every
 * output cell are dropped at load (conv_taps.h): the node gets a smaller
 * window, its pads moved, and a sliced copy of the weights (the original
 * may be shared).  The result is the same up to the order of the sums. */
static int trim_taps(swarm_model_t *m, xnode_t *n, swarm_err_t *err) {
        const xvalue_t *w = &m->vals[n->in[1]];
        swarm_window_t *v = &n->win;
        exec_taps_t th = {0, v->kh, v->pad_t, v->pad_b};
        exec_taps_t tw = {0, v->kw, v->pad_l, v->pad_r};
        int64_t shape[SWARM_MAX_DIMS], filters, e;
        int cut_h, cut_w, id;
        float *nw;

        if (!is_const(w) || w->dtype != SWARM_DTYPE_FLOAT32 ||
            (w->ndim != 3 && w->ndim != 4))
                return SWARM_OK;
        cut_h = exec_conv_taps(v->h, v->oh, v->kh, v->sh, v->dh, v->pad_t,
                               v->pad_b, &th);
        cut_w = exec_conv_taps(v->w, v->ow, v->kw, v->sw, v->dw, v->pad_l,
                               v->pad_r, &tw);
        if (!cut_h && !cut_w)
                return SWARM_OK;
        /* fewer elements than w's, which exist */
        filters = w->shape[0] * w->shape[1];
        e = filters * th.count * tw.count;
        memcpy(shape, w->shape, sizeof(int64_t) * (size_t)w->ndim);
        shape[w->ndim - 1] = tw.count;
        if (w->ndim == 4)
                shape[2] = th.count;
        nw = malloc((size_t)e * sizeof(float) + 1);
        if (!nw)
                return node_err(err, SWARM_ERR_NOMEM, n, "out of memory");
        exec_conv_taps_slice(w->host, filters, v->kh, v->kw, &th, &tw, nw);
        id = exec_new_const(m, n->name, SWARM_DTYPE_FLOAT32, w->ndim, shape,
                            nw);
        if (id < 0) {
                free(nw);
                return node_err(err, SWARM_ERR_NOMEM, n, "out of memory");
        }
        n->in[1] = id;
        v->kh = th.count;
        v->pad_t = th.pad_lo;
        v->pad_b = th.pad_hi;
        v->kw = tw.count;
        v->pad_l = tw.pad_lo;
        v->pad_r = tw.pad_hi;
        return SWARM_OK;
}

static int h_conv(OPARGS) {
        static const char *const allowed[] = {"auto_pad", "dilations", "group",
                                              "kernel_shape", "pads",
                                              "strides", NULL};
        xvalue_t *x = VAL(0), *w = VAL(1), *o = &m->vals[n->out];
        int64_t oh, ow, k;
        int rc;

        if ((rc = attrs_only(np, n, allowed, err)) ||
            (rc = attr_int(np, n, "group", 1, &n->group, err)))
                return rc;
        for (int j = 0; j < n->n_in; j++)
                if ((rc = need_float(m, n, j, err)))
                        return rc;
        if (x->ndim < 3 || w->ndim != x->ndim)
                return node_err(err, SWARM_ERR_INVALID, n,
                                "X and W must have the same rank >= 3");
        if (w->batched || (has_in(n, 2) && VAL(2)->batched))
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "weights depend on the batch dimension");
        if (n->group < 1 || x->shape[1] != w->shape[1] * n->group ||
            w->shape[0] % n->group)
                return node_err(err, SWARM_ERR_INVALID, n,
                                "channels %lld, weights [%lld,%lld,...] and "
                                "group %lld do not match",
                                (long long)x->shape[1], (long long)w->shape[0],
                                (long long)w->shape[1], (long long)n->group);
        if (has_in(n, 2) && elems_of(VAL(2)) != w->shape[0])
                return node_err(err, SWARM_ERR_INVALID, n,
                                "bias has %lld values for %lld filters",
                                (long long)elems_of(VAL(2)),
                                (long long)w->shape[0]);
        if ((rc = window_attrs(m, n, np, x, w->shape + 2, 0, &oh, &ow, err)) ||
            (rc = trim_taps(m, n, err)))
                return rc;
        w = VAL(1);     /* the trimmed weights, if any */
        out_like(o, x);
        o->shape[1] = w->shape[0];
        o->shape[2] = oh;
        if (x->ndim == 4)
                o->shape[3] = ow;
        n->op = OP_CONV;
        n->bias = has_in(n, 2) ? n->in[2] : -1;
        n->alpha = 1.0f;
        n->beta = 1.0f;
        n->win.n = w->shape[1];
        k = n->win.n * n->win.kh * n->win.kw;  /* <= elements of w */
        return conv_plan(m->be, n, w->shape[0] / n->group, k, err);
}

static int h_pool(OPARGS) {
        static const char *const maxp[] = {"auto_pad", "ceil_mode",
                                           "dilations", "kernel_shape",
                                           "pads", "storage_order",
                                           "strides", NULL};
        static const char *const avgp[] = {"auto_pad", "ceil_mode",
                                           "count_include_pad",
                                           "kernel_shape", "pads", "strides",
                                           NULL};
        xvalue_t *x = VAL(0), *o = &m->vals[n->out];
        int is_max = strcmp(n->op_type, "MaxPool") == 0;
        int64_t oh, ow, cip = 0;
        int rc;

        if ((rc = attrs_only(np, n, is_max ? maxp : avgp, err)) ||
            (rc = need_float(m, n, 0, err)) ||
            (rc = attr_int(np, n, "count_include_pad", 0, &cip, err)) ||
            (rc = window_attrs(m, n, np, x, NULL, 1, &oh, &ow, err)))
                return rc;
        n->sub = is_max ? SWARM_POOL_MAX
                        : cip ? SWARM_POOL_AVG_PAD : SWARM_POOL_AVG;
        out_like(o, x);
        o->shape[2] = oh;
        if (x->ndim == 4)
                o->shape[3] = ow;
        n->op = OP_POOL;
        return SWARM_OK;
}

/* ---- reductions ---- */

static int h_reduce(OPARGS) {
        static const char *const allowed[] = {"axes", "keepdims",
                                              "noop_with_empty_axes", NULL};
        static const struct {
                const char *name;
                swarm_reduce_t op;
        } T[] = {{"ReduceSum", SWARM_RED_SUM}, {"ReduceMean", SWARM_RED_MEAN},
                 {"ReduceMax", SWARM_RED_MAX}, {"ReduceMin", SWARM_RED_MIN},
                 {"ReduceProd", SWARM_RED_PROD},
                 {"ReduceSumSquare", SWARM_RED_SUMSQUARE},
                 {"ReduceL2", SWARM_RED_L2},
                 {"GlobalAveragePool", SWARM_RED_MEAN},
                 {"GlobalMaxPool", SWARM_RED_MAX}};
        xvalue_t *x = VAL(0), *o = &m->vals[n->out];
        int64_t axes[SWARM_MAX_DIMS], keep = 1, noop = 0;
        int cnt = -1, rc, host;

        for (size_t i = 0; i < sizeof(T) / sizeof(T[0]); i++)
                if (strcmp(T[i].name, n->op_type) == 0)
                        n->sub = (int)T[i].op;
        {
                /* Reductions the backend lacks, or of other dtypes, run
                 * as a host kernel. */
                static const struct {
                        const char *name;
                        int hop;
                } H[] = {{"ReduceSum", HR_SUM}, {"ReduceMean", HR_MEAN},
                         {"ReduceMax", HR_MAX}, {"ReduceMin", HR_MIN},
                         {"ReduceProd", HR_PROD},
                         {"ReduceSumSquare", HR_SUMSQ}, {"ReduceL2", HR_L2},
                         {"ReduceL1", HR_L1}, {"ReduceLogSum", HR_LOGSUM},
                         {"ReduceLogSumExp", HR_LOGSUMEXP}};
                host = -1;
                for (size_t i = 0; i < sizeof(H) / sizeof(H[0]); i++)
                        if (strcmp(H[i].name, n->op_type) == 0 &&
                            (x->dtype != SWARM_DTYPE_FLOAT32 ||
                             H[i].hop >= HR_L1))
                                host = H[i].hop;
        }
        if (host < 0 && (rc = need_float(m, n, 0, err)))
                return rc;
        if (strncmp(n->op_type, "Global", 6) == 0) {
                static const char *const none[] = {NULL};
                if ((rc = attrs_only(np, n, none, err)))
                        return rc;
                if (x->ndim < 3)
                        return node_err(err, SWARM_ERR_INVALID, n,
                                        "input must be [N, C, ...]");
                cnt = x->ndim - 2;
                for (int i = 0; i < cnt; i++)
                        axes[i] = 2 + i;
        } else {
                if ((rc = attrs_only(np, n, allowed, err)) ||
                    (rc = attr_int(np, n, "keepdims", 1, &keep, err)) ||
                    (rc = attr_int(np, n, "noop_with_empty_axes", 0, &noop,
                                   err)) ||
                    (rc = get_axes(m, n, np, opset,
                                   strcmp(n->op_type, "ReduceSum") == 0
                                   ? 13 : 18, 1, axes, &cnt, err)))
                        return rc;
        }
        n->axes = 0;
        if (cnt <= 0 && noop) {
                out_like(o, x);
                n->op = OP_COPY;
                return SWARM_OK;
        }
        if (cnt <= 0)
                n->axes = x->ndim ? (1u << x->ndim) - 1 : 0;
        for (int i = 0; i < cnt; i++) {
                int64_t a;
                if ((rc = norm_axis(n, axes[i], x->ndim, &a, err)))
                        return rc;
                n->axes |= 1u << a;
        }
        if (x->batched && (n->axes & 1u))
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "reducing over the batch dimension");
        o->ndim = 0;
        for (int d = 0; d < x->ndim; d++) {
                if (!(n->axes & (1u << d)))
                        o->shape[o->ndim++] = x->shape[d];
                else if (keep)
                        o->shape[o->ndim++] = 1;
        }
        o->batched = x->batched;
        n->op = OP_REDUCE;
        if (host >= 0) {
                if ((rc = no_sym(m, n, err)))
                        return rc;
                o->dtype = ldt(x);
                return to_host(n, HK_REDUCE, host);
        }
        return SWARM_OK;
}

/* ---- normalisation ---- */

static int h_batchnorm(OPARGS) {
        static const char *const allowed[] = {"epsilon", "momentum", "spatial",
                                              "is_test", "consumed_inputs",
                                              "training_mode", NULL};
        xvalue_t *x = VAL(0), *o = &m->vals[n->out];
        int64_t spatial, tm, c;
        float eps, *sc = NULL, *bi = NULL;
        int rc, ids, idb;

        if ((rc = attrs_only(np, n, allowed, err)) ||
            (rc = attr_float(np, n, "epsilon", 1e-5f, &eps, err)) ||
            (rc = attr_int(np, n, "spatial", 1, &spatial, err)) ||
            (rc = attr_int(np, n, "training_mode", 0, &tm, err)))
                return rc;
        if (!spatial || tm)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "spatial=0 or training_mode=1");
        if (n->n_in != 5)
                return node_err(err, SWARM_ERR_INVALID, n,
                                "expected 5 inputs");
        if (x->ndim < 2)
                return node_err(err, SWARM_ERR_INVALID, n,
                                "input must be [N, C, ...]");
        c = x->shape[1];
        for (int j = 0; j < 5; j++) {
                if ((rc = need_float(m, n, j, err)))
                        return rc;
                if (j && (!is_const(VAL(j)) || elems_of(VAL(j)) != c))
                        return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                        "'%s' must be a constant of %lld "
                                        "values (inference mode)",
                                        VAL(j)->name, (long long)c);
        }
        sc = malloc((size_t)c * sizeof(float) + 1);
        bi = malloc((size_t)c * sizeof(float) + 1);
        if (!sc || !bi) {
                free(sc);
                free(bi);
                return node_err(err, SWARM_ERR_NOMEM, n, "out of memory");
        }
        /* y = (x - mean) / sqrt(var + eps) * scale + B = x * s + t */
        for (int64_t i = 0; i < c; i++) {
                double s = ((float *)VAL(1)->host)[i] /
                           sqrt((double)((float *)VAL(4)->host)[i] + eps);
                sc[i] = (float)s;
                bi[i] = (float)(((float *)VAL(2)->host)[i] -
                                ((float *)VAL(3)->host)[i] * s);
        }
        ids = exec_new_const(m, n->name, SWARM_DTYPE_FLOAT32, 1, &c, sc);
        if (ids < 0) {
                free(sc);
                free(bi);
                return node_err(err, SWARM_ERR_NOMEM, n, "out of memory");
        }
        idb = exec_new_const(m, n->name, SWARM_DTYPE_FLOAT32, 1, &c, bi);
        if (idb < 0) {
                free(bi);
                return node_err(err, SWARM_ERR_NOMEM, n, "out of memory");
        }
        n->in[1] = ids;
        n->in[2] = idb;
        n->n_in = 3;
        out_like(o, x);
        n->op = OP_AFFINE;
        return SWARM_OK;
}

static int h_layernorm(OPARGS) {
        static const char *const allowed[] = {"axis", "epsilon", "stash_type",
                                              NULL};
        xvalue_t *x = VAL(0), *o = &m->vals[n->out];
        int64_t axis, len = 1;
        int rc;

        if ((rc = attrs_only(np, n, allowed, err)) ||
            (rc = attr_int(np, n, "axis", -1, &axis, err)) ||
            (rc = attr_float(np, n, "epsilon", 1e-5f, &n->eps, err)) ||
            (rc = norm_axis(n, axis, x->ndim, &axis, err)))
                return rc;
        for (int j = 0; j < n->n_in; j++)
                if ((rc = need_float(m, n, j, err)))
                        return rc;
        if (x->batched && axis == 0)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "normalising across the batch dimension");
        for (int d = (int)axis; d < x->ndim; d++)
                len *= x->shape[d];
        /* scale and bias: constants broadcast to the normalised shape,
         * expanded here so the kernel reads len values each. */
        for (int j = 1; j < n->n_in && j < 3; j++) {
                xvalue_t *v = VAL(j);
                int64_t e = elems_of(v);
                float *full;
                int id;
                if (!is_const(v))
                        return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                        "'%s' must be a constant", v->name);
                if (e == len)
                        continue;
                if (e != 1)
                        return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                        "'%s' must have 1 or %lld values",
                                        v->name, (long long)len);
                if (len > EXEC_FOLD_MAX_ELEMS)
                        return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                        "normalised shape too large");
                full = malloc((size_t)len * sizeof(float) + 1);
                if (!full)
                        return node_err(err, SWARM_ERR_NOMEM, n,
                                        "out of memory");
                for (int64_t i = 0; i < len; i++)
                        full[i] = ((float *)v->host)[0];
                id = exec_new_const(m, n->name, SWARM_DTYPE_FLOAT32, 1, &len,
                                    full);
                if (id < 0) {
                        free(full);
                        return node_err(err, SWARM_ERR_NOMEM, n,
                                        "out of memory");
                }
                n->in[j] = id;
        }
        out_like(o, x);
        n->axis = (int)axis;
        n->op = OP_LAYERNORM;
        return SWARM_OK;
}

/* ---- constants and shape computations (folded) ---- */

static int h_constant(OPARGS) {
        xvalue_t *o = &m->vals[n->out];
        const Onnx__AttributeProto *a;
        int rc;

        if (np->n_attribute != 1 || !np->attribute[0])
                return node_err(err, SWARM_ERR_INVALID, n,
                                "expected exactly one attribute");
        a = np->attribute[0];
        n->op = OP_FOLDED;
        if (strcmp(nz(a->name), "value") == 0 && a->t) {
                void *data = NULL;
                size_t bytes = 0;
                if ((rc = exec_tensor_decode(a->t, &o->dtype, &o->ndim,
                                             o->shape, &data, &bytes, err))) {
                        swarm_err_prefix(err, "node '%s' (Constant): ",
                                         n->name);
                        return rc;
                }
                o->kind = V_CONST;
                o->host = data;
                o->host_bytes = bytes;
                n->dead = 1;
                return SWARM_OK;
        }
        if (strcmp(nz(a->name), "value_float") == 0 ||
            strcmp(nz(a->name), "value_floats") == 0) {
                int one = a->name[11] == '\0';
                o->dtype = SWARM_DTYPE_FLOAT32;
                o->ndim = one ? 0 : 1;
                o->shape[0] = one ? 1 : (int64_t)a->n_floats;
                if ((rc = fold_host(m, n, o, 0, err)))
                        return rc;
                if (one)
                        ((float *)o->host)[0] = a->f;
                else if (a->n_floats)
                        memcpy(o->host, a->floats,
                               a->n_floats * sizeof(float));
                return SWARM_OK;
        }
        if (strcmp(nz(a->name), "value_int") == 0 ||
            strcmp(nz(a->name), "value_ints") == 0) {
                int one = a->name[9] == '\0';
                o->dtype = SWARM_DTYPE_INT64;
                o->ndim = one ? 0 : 1;
                o->shape[0] = one ? 1 : (int64_t)a->n_ints;
                if ((rc = fold_host(m, n, o, 0, err)))
                        return rc;
                if (one)
                        ((int64_t *)o->host)[0] = a->i;
                else if (a->n_ints)
                        memcpy(o->host, a->ints, a->n_ints * sizeof(int64_t));
                return SWARM_OK;
        }
        return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                        "attribute '%s' is not supported", nz(a->name));
}

static int h_shape(OPARGS) {
        static const char *const allowed[] = {"start", "end", NULL};
        xvalue_t *x = VAL(0), *o = &m->vals[n->out];
        int64_t st, en;
        int rc, size = strcmp(n->op_type, "Size") == 0;

        if ((rc = attrs_only(np, n, allowed, err)) ||
            (rc = attr_int(np, n, "start", 0, &st, err)) ||
            (rc = attr_int(np, n, "end", x->ndim, &en, err)))
                return rc;
        if (st < 0)
                st += x->ndim;
        if (en < 0)
                en += x->ndim;
        st = st < 0 ? 0 : st > x->ndim ? x->ndim : st;
        en = en < 0 ? 0 : en > x->ndim ? x->ndim : en;
        if (en < st)
                en = st;
        o->dtype = SWARM_DTYPE_INT64;
        o->ndim = size ? 0 : 1;
        o->shape[0] = size ? 1 : en - st;
        if ((rc = fold_host(m, n, o, 1, err)))
                return rc;
        if (size) {
                ((int64_t *)o->host)[0] = elems_of(x);
                o->nsym[0] = (uint8_t)x->batched;
                return SWARM_OK;
        }
        for (int64_t i = st; i < en; i++) {
                ((int64_t *)o->host)[i - st] = x->shape[i];
                o->nsym[i - st] = (uint8_t)(i == 0 && x->batched);
        }
        return SWARM_OK;
}

static int h_constant_of_shape(OPARGS) {
        xvalue_t *o = &m->vals[n->out];
        const Onnx__AttributeProto *a = attr_find(np, "value");
        int64_t t[SWARM_MAX_DIMS], e;
        int cnt, rc;
        swarm_dtype_t dt = SWARM_DTYPE_FLOAT32;
        void *val = NULL;
        int vnd;
        int64_t vsh[SWARM_MAX_DIMS];
        size_t vb = 0;

        if ((rc = const_ints(m, n, 0, t, SWARM_MAX_DIMS, &cnt, NULL, err)))
                return rc;
        if (a && a->t &&
            (rc = exec_tensor_decode(a->t, &dt, &vnd, vsh, &val, &vb, err)))
                return rc;
        /* The fill below copies vb bytes per element. */
        if (val && vb != swarm_dtype_size(dt)) {
                free(val);
                return node_err(err, SWARM_ERR_INVALID, n,
                                "'value' must hold exactly one element");
        }
        o->dtype = dt;
        o->ndim = cnt;
        memcpy(o->shape, t, sizeof(int64_t) * (size_t)cnt);
        for (int i = 0; i < cnt; i++)
                if (t[i] < 0) {
                        free(val);
                        return node_err(err, SWARM_ERR_INVALID, n,
                                        "dimension %lld", (long long)t[i]);
                }
        e = elems_of(o);
        if ((rc = fold_host(m, n, o, 0, err))) {
                free(val);
                return rc;
        }
        for (int64_t i = 0; val && vb && i < e; i++)
                memcpy((char *)o->host + (size_t)i * vb, val, vb);
        free(val);
        return SWARM_OK;
}

static int h_cast(OPARGS) {
        static const char *const allowed[] = {"to", "saturate", NULL};
        xvalue_t *x = VAL(0), *o = &m->vals[n->out];
        int64_t to, e = elems_of(x);
        int rc;

        if ((rc = attrs_only(np, n, allowed, err)) ||
            (rc = attr_int(np, n, "to", 0, &to, err)))
                return rc;
        if (strcmp(n->op_type, "CastLike") == 0) {
                /* to = the dtype of target_type */
                static const int64_t onnx_of[SWARM_DTYPE__COUNT] = {
                        1, 10, 16, 7, 6, 2, 3, 9, 11};
                swarm_dtype_t t = ldt(VAL(1));
                to = (unsigned)t < SWARM_DTYPE__COUNT ? onnx_of[t] : 0;
                n->n_in = 1;
        }
        out_like(o, x);
        if (to < 0 || to > INT32_MAX ||
            exec_onnx_dtype((int32_t)to, &o->dtype))
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "cast to type %lld", (long long)to);
        if (!is_const(x) || (x->dtype != SWARM_DTYPE_FLOAT32 &&
                             x->dtype != SWARM_DTYPE_INT64) ||
            (o->dtype != SWARM_DTYPE_FLOAT32 &&
             o->dtype != SWARM_DTYPE_INT64 && o->dtype != SWARM_DTYPE_INT32)) {
                if (ldt(x) == o->dtype && !is_const(x))
                        return finish_copy(m, n, err);
                if ((rc = no_sym(m, n, err)))
                        return rc;
                return to_host(n, HK_CAST, HU_IDENT);
        }
        /* Constant INT32 results stay widened, as loaded ones are. */
        if (o->dtype == SWARM_DTYPE_INT32) {
                o->dtype = SWARM_DTYPE_INT64;
                o->widened = 1;
        }
        if ((rc = fold_host(m, n, o, x->nsym && o->dtype == x->dtype, err)))
                return rc;
        for (int64_t i = 0; i < e; i++) {
                if (x->dtype == o->dtype)
                        break;
                if (o->dtype == SWARM_DTYPE_FLOAT32)
                        ((float *)o->host)[i] =
                                (float)((int64_t *)x->host)[i];
                else
                        ((int64_t *)o->host)[i] =
                                (int64_t)((float *)x->host)[i];
        }
        if (x->dtype == o->dtype) {
                memcpy(o->host, x->host, x->host_bytes);
                if (o->nsym)
                        memcpy(o->nsym, x->nsym, (size_t)e);
        } else if (x->nsym) {
                for (int64_t i = 0; i < e; i++)
                        if (x->nsym[i])
                                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                                "casting the batch size");
        }
        return SWARM_OK;
}

static int h_range(OPARGS) {
        xvalue_t *o = &m->vals[n->out];
        double v[3];
        int64_t len;
        int rc;

        for (int j = 0; j < 3; j++) {
                const xvalue_t *a = VAL(j);
                if (!is_const(a) || elems_of(a) != 1 ||
                    (a->nsym && a->nsym[0]))
                        return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                        "inputs must be constant scalars");
                v[j] = a->dtype == SWARM_DTYPE_INT64
                       ? (double)((int64_t *)a->host)[0]
                       : (double)((float *)a->host)[0];
        }
        if (v[2] == 0 || !isfinite(v[0]) || !isfinite(v[1]) ||
            !isfinite(v[2]))
                return node_err(err, SWARM_ERR_INVALID, n,
                                "delta is 0 or a bound is not finite");
        {
                /* Bound the double before converting it: casting an
                 * out-of-range double to int64 is undefined. */
                double dl = ceil((v[1] - v[0]) / v[2]);
                if (!(dl <= (double)EXEC_FOLD_MAX_ELEMS))
                        return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                        "too long");
                len = dl > 0 ? (int64_t)dl : 0;
        }
        o->dtype = VAL(0)->dtype;
        o->ndim = 1;
        o->shape[0] = len;
        if ((rc = fold_host(m, n, o, 0, err)))
                return rc;
        for (int64_t i = 0; i < len; i++) {
                if (o->dtype == SWARM_DTYPE_INT64)
                        ((int64_t *)o->host)[i] = (int64_t)(v[0] + i * v[2]);
                else
                        ((float *)o->host)[i] = (float)(v[0] + i * v[2]);
        }
        return SWARM_OK;
}

/* Pad (constant mode): in[1] becomes a one-value constant the kernel
 * broadcasts over the output before copying the data into the interior
 * (xoff is the interior's offset in the output). */
static int h_pad(OPARGS) {
        static const char *const allowed[] = {"mode", "pads", "value", NULL};
        xvalue_t *x = VAL(0), *o = &m->vals[n->out];
        int64_t pads[2 * SWARM_MAX_DIMS], str[SWARM_MAX_DIMS], one = 1;
        float value = 0.0f, *vp;
        char mode[32] = "constant";
        int cnt, rc, id, zero = 1;

        attr_str(np, "mode", mode, sizeof(mode));
        if ((rc = attrs_only(np, n, allowed, err)))
                return rc;
        if (strcmp(mode, "constant") != 0 && strcmp(mode, "reflect") != 0 &&
            strcmp(mode, "edge") != 0 && strcmp(mode, "wrap") != 0)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "mode '%s'", mode);
        if (opset < 11) {
                if ((rc = attr_ints(np, n, "pads", pads, 2 * SWARM_MAX_DIMS,
                                    &cnt, err)) ||
                    (rc = attr_float(np, n, "value", 0.0f, &value, err)))
                        return rc;
        } else {
                if (n->n_in > 3)
                        return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                        "the axes input");
                if ((rc = const_ints(m, n, 1, pads, 2 * SWARM_MAX_DIMS, &cnt,
                                     NULL, err)))
                        return rc;
                if (has_in(n, 2) && x->dtype != SWARM_DTYPE_FLOAT32) {
                        int64_t iv;
                        int c1;
                        if (!is_index(VAL(2)) ||
                            (rc = const_ints(m, n, 2, &iv, 1, &c1, NULL,
                                             err)))
                                return rc ? rc : node_err(
                                        err, SWARM_ERR_UNSUPPORTED, n,
                                        "pad value of type %s",
                                        swarm_dtype_name(VAL(2)->dtype));
                        value = (float)iv;
                } else if (has_in(n, 2) &&
                           (rc = const_scalar(m, n, 2, &value, err))) {
                        return rc;
                }
        }
        if (cnt != 2 * x->ndim)
                return node_err(err, SWARM_ERR_INVALID, n,
                                "%d pads for a %d-D input", cnt, x->ndim);
        out_like(o, x);
        contig_strides(x->shape, x->ndim, str);
        for (int d = 0; d < x->ndim; d++) {
                if (pads[d] < 0 || pads[d + x->ndim] < 0)
                        return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                        "negative pads");
                if (pads[d] || pads[d + x->ndim])
                        zero = 0;
                if (d == 0 && x->batched && (pads[0] || pads[x->ndim]))
                        return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                        "padding the batch dimension");
                if ((rc = ck_add(n, o->shape[d], pads[d], &o->shape[d],
                                 err)) ||
                    (rc = ck_add(n, o->shape[d], pads[d + x->ndim],
                                 &o->shape[d], err)))
                        return rc;
        }
        if ((rc = check_result(n, o, 0, err)))
                return rc;
        if (zero) {
                /* What PyTorch emits before AveragePool: nothing to do. */
                n->op = OP_COPY;
                return is_const(x) ? fold_same_data(m, n, err) : SWARM_OK;
        }
        if (strcmp(mode, "constant") != 0) {
                /* reflect / edge / wrap: an index map per dim */
                n->hi[0] = mode[0] == 'r' ? 1 : mode[0] == 'e' ? 2 : 3;
                for (int d = 0; d < x->ndim; d++) {
                        if (x->shape[d] == 0 ||
                            (n->hi[0] == 1 && x->shape[d] > 1 &&
                             (pads[d] >= x->shape[d] ||
                              pads[d + x->ndim] >= x->shape[d])))
                                return node_err(err, SWARM_ERR_INVALID, n,
                                                "pads too large for mode "
                                                "'%s'", mode);
                        n->hp[d] = pads[d];
                }
                if ((rc = no_sym(m, n, err)))
                        return rc;
                n->n_in = 1;
                return to_host(n, HK_PADM, 0);
        }
        contig_strides(o->shape, o->ndim, str);
        n->xoff = 0;
        for (int d = 0; d < o->ndim; d++) {
                int64_t off;
                if ((rc = ck_mul(n, pads[d], str[d], &off, err)) ||
                    (rc = ck_add(n, n->xoff, off, &n->xoff, err)))
                        return rc;
        }
        vp = malloc(sizeof(int64_t));
        if (!vp)
                return node_err(err, SWARM_ERR_NOMEM, n, "out of memory");
        /* The fill value in the data's own dtype (the kernels copy it). */
        if (x->dtype == SWARM_DTYPE_FLOAT32)
                *vp = value;
        else if (is_index(x) && x->dtype == SWARM_DTYPE_INT64)
                *(int64_t *)(void *)vp = (int64_t)value;
        else if (x->dtype == SWARM_DTYPE_INT32)
                *(int32_t *)(void *)vp = (int32_t)value;
        else if (swarm_dtype_size(x->dtype) == 1)
                *(uint8_t *)(void *)vp = (uint8_t)(int)value;
        else
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "padding a %s tensor",
                                swarm_dtype_name(x->dtype));
        id = exec_new_const(m, n->name, x->dtype, 0, &one, vp);
        if (id < 0) {
                free(vp);
                return node_err(err, SWARM_ERR_NOMEM, n, "out of memory");
        }
        n->in[1] = id;
        n->n_in = 2;
        n->op = OP_PAD;
        return SWARM_OK;
}

/* ---- the operator table ----
 * One row per ONNX operator: its handler and input count.  The rows look
 * alike on purpose (a table that `duplicates` reports as repeated lines);
 * docs/gen_operators.py reads it for the README's operator list. */

typedef struct opdef {
        const char *name;
        int (*fn)(OPARGS);
        int min_in, max_in;
} opdef_t;

static const opdef_t OPS[] = {
        {"Gemm", h_gemm, 2, 3},
        {"MatMul", h_matmul, 2, 2},
        {"Add", h_binary, 2, 2}, {"Sub", h_binary, 2, 2},
        {"Mul", h_binary, 2, 2}, {"Div", h_binary, 2, 2},
        {"Pow", h_binary, 2, 2}, {"Max", h_binary, 1, 64},
        {"Min", h_binary, 1, 64}, {"Sum", h_binary, 1, 64},
        {"Mean", h_binary, 1, 64},
        {"Relu", h_unary, 1, 1}, {"Sigmoid", h_unary, 1, 1},
        {"Tanh", h_unary, 1, 1}, {"LeakyRelu", h_unary, 1, 1},
        {"Clip", h_unary, 1, 3}, {"Gelu", h_unary, 1, 1},
        {"Erf", h_unary, 1, 1}, {"Sqrt", h_unary, 1, 1},
        {"Exp", h_unary, 1, 1}, {"Log", h_unary, 1, 1},
        {"Neg", h_unary, 1, 1}, {"Abs", h_unary, 1, 1},
        {"Reciprocal", h_unary, 1, 1}, {"Floor", h_unary, 1, 1},
        {"Ceil", h_unary, 1, 1},
        {"Softmax", h_softmax, 1, 1}, {"LogSoftmax", h_softmax, 1, 1},
        /* control flow and sequences: control.c */
        {"Loop", exec_ctl_loop, 0, 4098}, {"If", exec_ctl_if, 1, 1},
        {"SequenceEmpty", exec_ctl_seq, 0, 0},
        {"SequenceConstruct", exec_ctl_seq, 1, 4096},
        {"SequenceInsert", exec_ctl_seq, 2, 3},
        {"SequenceErase", exec_ctl_seq, 1, 2},
        {"SequenceAt", exec_ctl_seq, 2, 2},
        {"SequenceLength", exec_ctl_seq, 1, 1},
        {"ConcatFromSequence", exec_ctl_seq, 1, 1},
        {"SplitToSequence", exec_ctl_seq, 1, 2},
        {"Identity", h_identity, 1, 1}, {"Dropout", h_identity, 1, 3},
        {"Flatten", h_flatten, 1, 1}, {"Reshape", h_reshape, 1, 2},
        {"Squeeze", h_squeeze, 1, 2}, {"Unsqueeze", h_squeeze, 1, 2},
        {"Transpose", h_transpose, 1, 1}, {"Slice", h_slice, 1, 5},
        {"Expand", h_expand, 2, 2}, {"Concat", h_concat, 1, 64},
        {"Gather", h_gather, 2, 2},
        {"Conv", h_conv, 2, 3}, {"MaxPool", h_pool, 1, 1},
        {"AveragePool", h_pool, 1, 1},
        {"GlobalAveragePool", h_reduce, 1, 1},
        {"GlobalMaxPool", h_reduce, 1, 1},
        {"ReduceSum", h_reduce, 1, 2}, {"ReduceMean", h_reduce, 1, 2},
        {"ReduceMax", h_reduce, 1, 2}, {"ReduceMin", h_reduce, 1, 2},
        {"ReduceProd", h_reduce, 1, 2}, {"ReduceSumSquare", h_reduce, 1, 2},
        {"ReduceL2", h_reduce, 1, 2}, {"ReduceL1", h_reduce, 1, 2},
        {"ReduceLogSum", h_reduce, 1, 2}, {"ReduceLogSumExp", h_reduce, 1, 2},
        {"BatchNormalization", h_batchnorm, 5, 5},
        {"LayerNormalization", h_layernorm, 2, 3},
        {"Constant", h_constant, 0, 0}, {"Shape", h_shape, 1, 1},
        {"Size", h_shape, 1, 1}, {"ConstantOfShape", h_constant_of_shape, 1, 1},
        {"Cast", h_cast, 1, 1}, {"Range", h_range, 3, 3},
        {"Pad", h_pad, 1, 4},
        {"Equal", h_compare, 2, 2}, {"Less", h_compare, 2, 2},
        {"LessOrEqual", h_compare, 2, 2}, {"Greater", h_compare, 2, 2},
        {"GreaterOrEqual", h_compare, 2, 2}, {"And", h_compare, 2, 2},
        {"Or", h_compare, 2, 2}, {"Xor", h_compare, 2, 2},
        {"Mod", h_compare, 2, 2}, {"BitShift", h_compare, 2, 2},
        {"PRelu", h_compare, 2, 2},
        {"Not", h_hunary, 1, 1}, {"Sign", h_hunary, 1, 1},
        {"IsNaN", h_hunary, 1, 1}, {"IsInf", h_hunary, 1, 1},
        {"HardSigmoid", h_hunary, 1, 1}, {"HardSwish", h_hunary, 1, 1},
        {"Elu", h_hunary, 1, 1}, {"Selu", h_hunary, 1, 1},
        {"Celu", h_hunary, 1, 1}, {"Softplus", h_hunary, 1, 1},
        {"Softsign", h_hunary, 1, 1}, {"Mish", h_hunary, 1, 1},
        {"ThresholdedRelu", h_hunary, 1, 1}, {"Shrink", h_hunary, 1, 1},
        {"Sin", h_hunary, 1, 1}, {"Cos", h_hunary, 1, 1},
        {"Tan", h_hunary, 1, 1}, {"Asin", h_hunary, 1, 1},
        {"Acos", h_hunary, 1, 1}, {"Atan", h_hunary, 1, 1},
        {"Sinh", h_hunary, 1, 1}, {"Cosh", h_hunary, 1, 1},
        {"Asinh", h_hunary, 1, 1}, {"Acosh", h_hunary, 1, 1},
        {"Atanh", h_hunary, 1, 1}, {"Round", h_hunary, 1, 1},
        {"Where", h_where, 3, 3},
        {"GatherElements", h_gather_elements, 2, 2},
        {"ScatterElements", h_gather_elements, 3, 3},
        {"GatherND", h_gather_nd, 2, 2}, {"ScatterND", h_gather_nd, 3, 3},
        {"Tile", h_tile, 2, 2},
        {"ArgMax", h_argmax, 1, 1}, {"ArgMin", h_argmax, 1, 1},
        {"CumSum", h_cumsum, 2, 2}, {"Trilu", h_trilu, 1, 2},
        {"OneHot", h_onehot, 3, 3}, {"TopK", h_topk, 1, 2},
        {"InstanceNormalization", h_instnorm, 3, 3},
        {"GroupNormalization", h_instnorm, 3, 3},
        {"LpNormalization", h_lpnorm, 1, 1},
        {"DepthToSpace", h_depth_space, 1, 1},
        {"ConvTranspose", h_convt, 2, 3}, {"Hardmax", h_hardmax, 1, 1},
        {"Resize", h_resize, 1, 4}, {"Upsample", h_resize, 1, 2},
        {"Split", h_split, 1, 2}, {"Einsum", h_einsum, 1, 8},
        {"QuantizeLinear", h_quant, 2, 3}, {"DequantizeLinear", h_quant, 2, 3},
        {"DynamicQuantizeLinear", h_quant, 1, 1},
        {"ReverseSequence", h_revseq, 2, 2}, {"Det", h_det, 1, 1}, {"CastLike", h_cast, 2, 2},
        {"EyeLike", h_eyelike, 1, 1}, {"LRN", h_lrn, 1, 1},
        {"Scatter", h_gather_elements, 3, 3},
        {"NegativeLogLikelihoodLoss", h_loss, 2, 3},
        {"SoftmaxCrossEntropyLoss", h_loss, 2, 3},
        {"RNN", h_rnn, 3, 6}, {"GRU", h_rnn, 3, 6}, {"LSTM", h_rnn, 3, 8},
        {"SpaceToDepth", h_depth_space, 1, 1},
};

static const opdef_t *op_find(const char *name) {
        for (size_t i = 0; i < sizeof(OPS) / sizeof(OPS[0]); i++)
                if (strcmp(OPS[i].name, name) == 0)
                        return &OPS[i];
        return NULL;
}

int exec_op_inputs(const char *op_type, int *min_in, int *max_in) {
        const opdef_t *od = op_find(op_type);
        if (!od)
                return -1;
        *min_in = od->min_in;
        *max_in = od->max_in;
        return 0;
}

/* Run a node whose inputs are all constants once, on the host, with the
 * CPU kernels.  Integer tensors go through the data-movement kernels as
 * 4-byte element ids that are mapped back to values (and batch marks). */
static int fold_run(swarm_model_t *m, xnode_t *n, swarm_err_t *err) {
        swarm_backend_t cpu;
        xvalue_t *o = &m->vals[n->out];
        int ints = o->dtype != SWARM_DTYPE_FLOAT32, rc = SWARM_OK;
        int n_data = n->op == OP_CONCAT ? n->n_in : 1;
        uint32_t *ids[64] = {NULL}, *oid = NULL;
        float *scratch = NULL;
        int64_t e, base = 0;
        int anysym = 0;

        if (ints && o->dtype != SWARM_DTYPE_INT64)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "%s constants", swarm_dtype_name(o->dtype));
        if (ints && n->op != OP_STRIDED && n->op != OP_CONCAT &&
            n->op != OP_GATHER)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "integer %s", n->op_type);
        exec_cpu_backend_init(&cpu);
        for (int j = 0; j < n->n_in; j++) {
                xvalue_t *v = VAL(j);
                if (n->in[j] < 0)
                        continue;
                exec_resolve_value(v, 1);
                v->dev = v->host;
                if (ints && j < n_data && v->nsym)
                        anysym = 1;
        }
        exec_resolve_value(o, 1);
        e = elems_of(o);
        {
                enum xop op = n->op;
                if ((rc = fold_host(m, n, o, anysym, err)))
                        goto out;
                n->op = op;     /* run it once below */
        }
        o->dev = o->host;
        if (ints) {
                for (int j = 0; j < n_data; j++) {
                        xvalue_t *v = VAL(j);
                        int64_t ve = elems_of(v);
                        ids[j] = malloc((size_t)(ve > 0 ? ve : 1) * 4);
                        if (!ids[j]) {
                                rc = node_err(err, SWARM_ERR_NOMEM, n,
                                              "out of memory");
                                goto out;
                        }
                        for (int64_t i = 0; i < ve; i++)
                                ids[j][i] = (uint32_t)(base + i);
                        base += ve;
                        v->dev = ids[j];
                }
                oid = malloc((size_t)(e > 0 ? e : 1) * 4);
                if (!oid) {
                        rc = node_err(err, SWARM_ERR_NOMEM, n,
                                      "out of memory");
                        goto out;
                }
                o->dev = oid;
        }
        if (n->scratch > 0) {
                scratch = malloc((size_t)n->scratch * sizeof(float));
                if (!scratch) {
                        rc = node_err(err, SWARM_ERR_NOMEM, n,
                                      "out of memory");
                        goto out;
                }
        }
        /* exec_run_node reaches the scratch through the model. */
        {
                xslot_t keep = m->scratch;
                m->scratch.dev = scratch;
                rc = exec_run_node(m, &cpu, n, err);
                m->scratch = keep;
        }
        if (rc) {
                swarm_err_prefix(err, "node '%s' (%s): folding: ", n->name,
                                 n->op_type);
                goto out;
        }
        n->op = OP_FOLDED;
        if (ints) {
                for (int64_t i = 0; i < e; i++) {
                        int64_t id = oid[i];
                        int j = 0;
                        while (id >= elems_of(VAL(j))) {
                                id -= elems_of(VAL(j));
                                j++;
                        }
                        ((int64_t *)o->host)[i] =
                                ((int64_t *)VAL(j)->host)[id];
                        if (anysym)
                                o->nsym[i] = VAL(j)->nsym
                                             ? VAL(j)->nsym[id] : 0;
                }
        }
out:
        for (int j = 0; j < n->n_in; j++)
                if (n->in[j] >= 0)
                        VAL(j)->dev = NULL;
        o->dev = NULL;
        for (int j = 0; j < 64; j++)
                free(ids[j]);
        free(oid);
        free(scratch);
        return rc;
}

/* Fold an OP_HOST node on its constant inputs' host data. */
static int fold_hostk(swarm_model_t *m, xnode_t *n, swarm_err_t *err) {
        xvalue_t *o = &m->vals[n->out];
        int rc, hk = n->hk, hop = n->hop;

        if ((rc = no_sym(m, n, err)))
                return rc;
        if (n->n_xo > 0)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "folding a node with several outputs");
        for (int j = 0; j < n->n_in; j++)
                if (n->in[j] >= 0)
                        exec_resolve_value(VAL(j), 1);
        exec_resolve_value(o, 1);
        if ((rc = fold_host(m, n, o, 0, err)))
                return rc;
        n->op = OP_HOST;
        n->hk = hk;
        n->hop = hop;
        rc = exec_host_fold(m, n, o->host, err);
        n->op = OP_FOLDED;
        if (rc) {
                swarm_err_prefix(err, "node '%s' (%s): folding: ", n->name,
                                 n->op_type);
                return rc;
        }
        /* Integer constants live as INT64 (INT32 widened) for the shape
         * code. */
        if (o->dtype == SWARM_DTYPE_INT32) {
                int64_t e = elems_of(o);
                int64_t *w = malloc((size_t)(e > 0 ? e : 1) * 8);
                if (!w)
                        return node_err(err, SWARM_ERR_NOMEM, n,
                                        "out of memory");
                for (int64_t i = 0; i < e; i++)
                        w[i] = ((int32_t *)o->host)[i];
                free(o->host);
                o->host = w;
                o->host_bytes = (size_t)e * 8;
                o->dtype = SWARM_DTYPE_INT64;
                o->widened = 1;
        }
        return SWARM_OK;
}

int exec_infer_node(swarm_model_t *m, xnode_t *n, const Onnx__NodeProto *np,
                    int64_t opset, swarm_err_t *err) {
        const opdef_t *od = op_find(n->op_type);
        xvalue_t *o = &m->vals[n->out];
        int all_const = n->n_in > 0, rc;

        if (!od)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "operator is not supported");
        for (int j = 0; j < n->n_in; j++) {
                /* An empty name leaves an input out; only optional ones
                 * may be (handlers index required inputs directly). */
                if (n->in[j] < 0 && j < od->min_in)
                        return node_err(err, SWARM_ERR_INVALID, n,
                                        "required input %d is missing", j);
                if (n->in[j] < 0)
                        continue;
                if (VAL(j)->unusable)
                        return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                        "input '%s' is an optional output "
                                        "this executor does not compute",
                                        VAL(j)->name);
                if (VAL(j)->is_seq && !exec_ctl_op(n->op_type))
                        return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                        "input '%s' is a sequence",
                                        VAL(j)->name);
                if (!is_const(VAL(j)))
                        all_const = 0;
        }
        /* Handlers hold value pointers across exec_new_const: room for
         * the constants one node may add, reserved before any is taken. */
        if (exec_reserve_vals(m, EXEC_NODE_NEW_VALS))
                return node_err(err, SWARM_ERR_NOMEM, n, "out of memory");
        o = &m->vals[n->out];
        o->dtype = SWARM_DTYPE_FLOAT32;
        o->batched = 0;
        if ((rc = od->fn(m, n, np, opset, err)))
                return rc;
        if (n->op == OP_FOLDED)
                return SWARM_OK;
        /* Constants in, a batched tensor out (Expand(c, Shape(x))): folding
         * would drop the batch, and the value's size needs it.  Refused as
         * depending on the batch size, which plans with the batch fixed
         * fold (shaped.c). */
        if (all_const && o->batched)
                for (int j = 0; j < n->n_in; j++)
                        for (int64_t i = 0; n->in[j] >= 0 && VAL(j)->nsym &&
                             i < elems_of(VAL(j)); i++)
                                if (VAL(j)->nsym[i])
                                        return node_err(
                                                err, SWARM_ERR_UNSUPPORTED,
                                                n, "input '%s' depends on "
                                                "the batch size",
                                                VAL(j)->name);
        /* Before folding: the fold allocates and writes the result. */
        if ((rc = check_result(n, o, all_const, err)))
                return rc;
        for (int k = 0; k < n->n_xo; k++)
                if (n->xo[k] >= 0 &&
                    (rc = check_result(n, &m->vals[n->xo[k]], all_const,
                                       err)))
                        return rc;
        /* At run time INT32 is INT32: widened constants feeding a run-time
         * node get a narrowed copy, so every kernel sees one dtype. */
        if (!all_const) {
                for (int j = 0; j < n->n_in; j++) {
                        xvalue_t *v;
                        int32_t *nv;
                        int64_t e;
                        int id;
                        if (n->in[j] < 0 || !VAL(j)->widened ||
                            !is_const(VAL(j)))
                                continue;
                        v = VAL(j);
                        e = elems_of(v);
                        nv = malloc((size_t)(e > 0 ? e : 1) * 4);
                        if (!nv)
                                return node_err(err, SWARM_ERR_NOMEM, n,
                                                "out of memory");
                        for (int64_t i = 0; i < e; i++)
                                nv[i] = (int32_t)((int64_t *)v->host)[i];
                        id = exec_new_const(m, n->name, SWARM_DTYPE_INT32,
                                            v->ndim, v->shape, nv);
                        if (id < 0) {
                                free(nv);
                                return node_err(err, SWARM_ERR_NOMEM, n,
                                                "out of memory");
                        }
                        n->in[j] = id;
                }
                o = &m->vals[n->out];
                if (o->widened) {
                        o->dtype = SWARM_DTYPE_INT32;
                        o->widened = 0;
                }
        }
        /* INT64 shape chains fold through the id-mapping path, which
         * keeps batch marks; every other non-FLOAT32 fold and run runs
         * the data movement on host kernels of the right element size. */
        if (all_const && n->op != OP_HOST &&
            (o->dtype == SWARM_DTYPE_FLOAT32 ||
             (o->dtype == SWARM_DTYPE_INT64 &&
              (n->op == OP_STRIDED || n->op == OP_CONCAT ||
               n->op == OP_GATHER))))
                return fold_run(m, n, err);
        if (n->op == OP_STRIDED || n->op == OP_CONCAT || n->op == OP_PAD ||
            n->op == OP_GATHER) {
                const xvalue_t *d = VAL(0);
                if (swarm_dtype_size(d->dtype) != 4 || all_const)
                        to_host(n, n->op == OP_STRIDED ? HK_STRIDED
                                   : n->op == OP_CONCAT ? HK_CONCAT
                                   : n->op == OP_PAD ? HK_PAD : HK_GATHER, 0);
        }
        if (all_const) {
                if (n->op != OP_HOST)
                        return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                        "folding %s constants",
                                        swarm_dtype_name(o->dtype));
                return fold_hostk(m, n, err);
        }
        return SWARM_OK;
}

/* ---- fusion ---- */

void exec_count_uses(swarm_model_t *m) {
        for (int i = 0; i < m->n_vals; i++) {
                m->vals[i].n_uses = 0;
                m->vals[i].last_use = -1;
        }
        for (int i = 0; i < m->n_nodes; i++) {
                xnode_t *n = &m->nodes[i];
                if (n->dead)
                        continue;
                for (int j = 0; j < n->n_in; j++) {
                        if (n->in[j] < 0)
                                continue;
                        m->vals[n->in[j]].n_uses++;
                        m->vals[n->in[j]].consumer = i;
                        m->vals[n->in[j]].last_use = i;
                }
        }
}

/* The single live consumer of a node's output, if it may be folded in. */
static xnode_t *sole_consumer(swarm_model_t *m, const xnode_t *n) {
        const xvalue_t *o = &m->vals[n->out];
        if (o->is_output || o->n_uses != 1)
                return NULL;
        return &m->nodes[o->consumer];
}

/* Fold an inference BatchNormalization (y = x * s + t per channel) into
 * the Conv or Gemm before it: W' = W * s per output channel, b' = b * s + t.
 * New constants are made, so weights shared with other nodes stay. */
static int fold_affine(swarm_model_t *m, xnode_t *g, const xnode_t *c) {
        const xvalue_t *s, *t, *w, *b, *o;
        int64_t ch, e, per;
        float *nw, *nb;
        int iw, ib;

        if (exec_reserve_vals(m, EXEC_NODE_NEW_VALS))
                return -1;
        s = &m->vals[c->in[1]];
        t = &m->vals[c->in[2]];
        w = &m->vals[g->in[1]];
        b = g->bias >= 0 ? &m->vals[g->bias] : NULL;
        o = &m->vals[g->out];
        ch = o->shape[1];
        e = elems_of(w);

        if (c->in[0] != g->out || !is_const(w) || !is_const(s) ||
            !is_const(t) || (b && !is_const(b)) || o->ndim < 2 ||
            elems_of(s) != ch)
                return -1;
        if (g->op == OP_GEMM) {
                int64_t be = b ? elems_of(b) : 0;
                if (o->ndim != 2 || (b && be != 1 && be != ch) ||
                    (b && be == ch && b->ndim == 2 && b->shape[0] != 1))
                        return -1;
        } else if (b && elems_of(b) != ch) {
                return -1;
        }
        nw = malloc((size_t)e * sizeof(float) + 1);
        nb = malloc((size_t)ch * sizeof(float) + 1);
        if (!nw || !nb) {
                free(nw);
                free(nb);
                return -1;
        }
        memcpy(nw, w->host, (size_t)e * sizeof(float));
        per = e / ch;
        for (int64_t i = 0; i < e; i++) {
                int64_t k;
                if (g->op == OP_CONV || g->trans_b)
                        k = i / per;    /* [ch, ...] */
                else
                        k = i % ch;     /* [K, ch] */
                nw[i] *= ((float *)s->host)[k];
        }
        for (int64_t k = 0; k < ch; k++) {
                float bv = 0.0f;
                if (b)
                        bv = ((float *)b->host)[elems_of(b) == 1 ? 0 : k] *
                             (g->op == OP_GEMM ? g->beta : 1.0f);
                nb[k] = bv * ((float *)s->host)[k] + ((float *)t->host)[k];
        }
        iw = exec_new_const(m, g->name, SWARM_DTYPE_FLOAT32, w->ndim,
                            w->shape, nw);
        if (iw < 0) {
                free(nw);
                free(nb);
                return -1;
        }
        ib = exec_new_const(m, g->name, SWARM_DTYPE_FLOAT32, 1, &ch, nb);
        if (ib < 0) {
                free(nb);
                return -1;
        }
        g->in[1] = iw;
        g->in[2] = ib;
        g->n_in = 3;
        g->bias = ib;
        g->beta = 1.0f;
        return 0;
}

/* Same dims and batch flag, no symbolic dims: an element-wise op of the
 * two broadcasts nothing. */
static int same_shape(const xvalue_t *a, const xvalue_t *b) {
        return a->ndim == b->ndim && a->batched == b->batched && !a->nsym &&
               !b->nsym &&
               !memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t)a->ndim);
}

/* x -> Sigmoid -> Mul(x, sigmoid) is SiLU (EfficientNet's activation, as
 * torch.onnx exports it): one unary instead of a unary and a binary over
 * the same tensor, and one a Conv before it can take into its epilogue
 * (x's other consumer is gone, so the Conv's output has one use). */
static void fuse_silu(swarm_model_t *m) {
        exec_count_uses(m);
        for (int i = 0; i < m->n_nodes; i++) {
                xnode_t *s = &m->nodes[i], *c;
                int x;
                if (s->dead || s->op != OP_UNARY ||
                    s->act != SWARM_ACT_SIGMOID || s->n_in != 1 ||
                    s->in[0] < 0)
                        continue;
                x = s->in[0];
                c = sole_consumer(m, s);
                if (!c || c->dead || c->op != OP_BINARY ||
                    c->sub != SWARM_BIN_MUL || c->n_in != 2 ||
                    c->act != SWARM_ACT_NONE ||
                    !((c->in[0] == x && c->in[1] == s->out) ||
                      (c->in[1] == x && c->in[0] == s->out)) ||
                    !same_shape(&m->vals[x], &m->vals[c->out]) ||
                    !same_shape(&m->vals[x], &m->vals[s->out]) ||
                    m->vals[x].dtype != SWARM_DTYPE_FLOAT32 ||
                    m->vals[c->out].dtype != SWARM_DTYPE_FLOAT32)
                        continue;
                s->act = SWARM_ACT_SILU;
                s->out = c->out;
                c->dead = 1;
                exec_count_uses(m);
        }
}

/* Conv/Gemm/MatMul -> BatchNormalization -> Add(constant row bias) ->
 * activation become one kernel sequence: one pass over the result instead
 * of four. */
void exec_fuse(swarm_model_t *m) {
        exec_fuse_attn(m);
        fuse_silu(m);
        for (int i = 0; i < m->n_nodes; i++) {
                xnode_t *g = &m->nodes[i], *c;
                if (g->dead || (g->op != OP_GEMM && g->op != OP_MATMUL &&
                                g->op != OP_CONV))
                        continue;
                exec_count_uses(m);
                c = sole_consumer(m, g);
                if (c && c->op == OP_AFFINE && g->op != OP_MATMUL &&
                    g->act == SWARM_ACT_NONE && fold_affine(m, g, c) == 0) {
                        g->out = c->out;
                        c->dead = 1;
                        exec_count_uses(m);
                        c = sole_consumer(m, g);
                }
                if (c && c->op == OP_BINARY && c->sub == SWARM_BIN_ADD &&
                    c->n_in == 2 && c->act == SWARM_ACT_NONE &&
                    g->bias < 0 && g->op != OP_CONV &&
                    (g->op == OP_GEMM || m->vals[g->in[1]].ndim == 2)) {
                        int other = c->in[0] == g->out ? c->in[1] : c->in[0];
                        const xvalue_t *bv = &m->vals[other];
                        const xvalue_t *ov = &m->vals[g->out];
                        const xvalue_t *cv = &m->vals[c->out];
                        int64_t n_cols = ov->shape[ov->ndim - 1];
                        int64_t el = swarm_shape_elems(bv->shape, bv->ndim);
                        int row = bv->ndim >= 1 &&
                                  bv->shape[bv->ndim - 1] == n_cols &&
                                  el == n_cols;
                        if (bv->kind == V_CONST && other != g->out &&
                            bv->ndim <= ov->ndim && (el == 1 || row) &&
                            cv->ndim == ov->ndim) {
                                g->in[2] = other;
                                g->n_in = 3;
                                g->bias = other;
                                g->beta = 1.0f;
                                g->out = c->out;
                                c->dead = 1;
                                exec_count_uses(m);
                                c = sole_consumer(m, g);
                        }
                }
                if (c && (c->op == OP_UNARY || c->op == OP_ACT) &&
                    g->act == SWARM_ACT_NONE) {
                        g->act = c->act;
                        g->act_alpha = c->act_alpha;
                        g->act_beta = c->act_beta;
                        g->out = c->out;
                        c->dead = 1;
                }
        }
        exec_count_uses(m);
}
