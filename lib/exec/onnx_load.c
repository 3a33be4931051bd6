/*
 * onnx_load.c - ONNX protobuf -> executor plan.
 *
 * Steps: unpack (protobuf-c), decode initializers, declare graph inputs,
 * resolve node inputs, sort topologically, check every operator and infer
 * shapes with a symbolic batch, fuse GEMM + bias + activation, plan reusable
 * intermediate buffers, upload weights.  Anything this executor cannot run
 * is refused here, so swarm_model_run() only fails on resources.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.pb-c.h"
#include "model_internal.h"

/* ONNX TensorProto.DataType values. */
enum {
        ONNX_FLOAT = 1, ONNX_UINT8 = 2, ONNX_INT32 = 6, ONNX_INT64 = 7,
        ONNX_FLOAT16 = 10, ONNX_BFLOAT16 = 16
};

static const char *nz(const char *s) {
        return s ? s : "";
}

static int onnx_dtype(int32_t t, swarm_dtype_t *dt) {
        switch (t) {
        case ONNX_FLOAT: *dt = SWARM_DTYPE_FLOAT32; return 0;
        case ONNX_UINT8: *dt = SWARM_DTYPE_UINT8; return 0;
        case ONNX_INT32: *dt = SWARM_DTYPE_INT32; return 0;
        case ONNX_INT64: *dt = SWARM_DTYPE_INT64; return 0;
        case ONNX_FLOAT16: *dt = SWARM_DTYPE_FLOAT16; return 0;
        case ONNX_BFLOAT16: *dt = SWARM_DTYPE_BFLOAT16; return 0;
        default: return -1;
        }
}

/* Decode one TensorProto into a malloc'ed host buffer.  Sizes are checked
 * against the data actually present before allocating, so a small file
 * can never make us allocate a huge buffer. */
static int tensor_decode(const Onnx__TensorProto *t, swarm_dtype_t *dt,
                         int *ndim, int64_t *shape, void **data,
                         size_t *bytes, swarm_err_t *err) {
        const char *nm = nz(t->name);
        int64_t elems;
        size_t esz, nb;
        size_t n_typed;
        void *p = NULL;

        *data = NULL;
        if ((t->has_data_location &&
             t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) ||
            t->n_external_data > 0)
                return swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                     "tensor '%s': external data is not "
                                     "supported; embed the weights in the "
                                     "model file", nm);
        if (t->segment)
                return swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                     "tensor '%s': segmented tensors are not "
                                     "supported", nm);
        if (!t->has_data_type || onnx_dtype(t->data_type, dt))
                return swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                     "tensor '%s': data type %d is not "
                                     "supported", nm, (int)t->data_type);
        if (t->n_dims > SWARM_MAX_DIMS)
                return swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                     "tensor '%s': %zu dimensions (at most "
                                     "%d)", nm, t->n_dims, SWARM_MAX_DIMS);
        *ndim = (int)t->n_dims;
        for (size_t i = 0; i < t->n_dims; i++)
                shape[i] = t->dims[i];
        elems = swarm_shape_elems(shape, *ndim);
        if (elems < 0)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "tensor '%s': bad dimensions", nm);
        esz = swarm_dtype_size(*dt);
        nb = (size_t)elems * esz;
        if (t->has_raw_data) {
                if (t->raw_data.len < nb)
                        return swarm_err_set(err, SWARM_ERR_TRUNCATED,
                                             "tensor '%s': raw_data has %zu "
                                             "bytes, shape needs %zu", nm,
                                             t->raw_data.len, nb);
                if (t->raw_data.len > nb)
                        return swarm_err_set(err, SWARM_ERR_INVALID,
                                             "tensor '%s': raw_data has %zu "
                                             "bytes, shape needs %zu", nm,
                                             t->raw_data.len, nb);
                p = malloc(nb ? nb : 1);
                if (!p)
                        goto nomem;
                /* raw_data is little-endian, as is every host we build on. */
                if (nb)
                        memcpy(p, t->raw_data.data, nb);
                goto done;
        }
        switch (*dt) {
        case SWARM_DTYPE_FLOAT32: n_typed = t->n_float_data; break;
        case SWARM_DTYPE_INT64: n_typed = t->n_int64_data; break;
        default: n_typed = t->n_int32_data; break;
        }
        if (n_typed != (size_t)elems)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "tensor '%s': has %zu values, shape "
                                     "needs %lld", nm, n_typed,
                                     (long long)elems);
        p = malloc(nb ? nb : 1);
        if (!p)
                goto nomem;
        for (int64_t i = 0; i < elems; i++) {
                switch (*dt) {
                case SWARM_DTYPE_FLOAT32:
                        ((float *)p)[i] = t->float_data[i];
                        break;
                case SWARM_DTYPE_INT64:
                        ((int64_t *)p)[i] = t->int64_data[i];
                        break;
                case SWARM_DTYPE_INT32:
                        ((int32_t *)p)[i] = t->int32_data[i];
                        break;
                case SWARM_DTYPE_UINT8:
                        ((uint8_t *)p)[i] = (uint8_t)t->int32_data[i];
                        break;
                default: /* 16-bit floats travel as their bit patterns */
                        ((uint16_t *)p)[i] = (uint16_t)t->int32_data[i];
                        break;
                }
        }
done:
        *data = p;
        *bytes = nb;
        return SWARM_OK;
nomem:
        return swarm_err_set(err, SWARM_ERR_NOMEM,
                             "tensor '%s': out of memory (%zu bytes)", nm, nb);
}

int swarm_model_tensor_decode(const void *buf, size_t len, swarm_tensor_t *t,
                              swarm_err_t *err) {
        Onnx__TensorProto *tp;
        void *data = NULL;
        size_t bytes = 0;
        int rc;

        memset(t, 0, sizeof(*t));
        if (!buf && len)
                return swarm_err_set(err, SWARM_ERR_INVALID, "no buffer");
        tp = onnx__tensor_proto__unpack(NULL, len, buf);
        if (!tp)
                return swarm_err_set(err, SWARM_ERR_PARSE,
                                     "not a valid ONNX TensorProto");
        rc = tensor_decode(tp, &t->dtype, &t->ndim, t->shape, &data, &bytes,
                           err);
        onnx__tensor_proto__free_unpacked(tp, NULL);
        if (rc)
                return rc;
        t->data = data;
        t->size = bytes;
        return SWARM_OK;
}

/* ---- name table: open addressing over value ids ---- */

typedef struct names {
        int *ids;
        size_t cap;
} names_t;

static uint64_t hash_str(const char *s) {
        uint64_t h = 1469598103934665603ULL;
        while (*s)
                h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
        return h;
}

static int names_find(const names_t *nt, const xvalue_t *vals,
                      const char *name) {
        size_t i = hash_str(name) & (nt->cap - 1);
        while (nt->ids[i] >= 0) {
                if (strcmp(vals[nt->ids[i]].name, name) == 0)
                        return nt->ids[i];
                i = (i + 1) & (nt->cap - 1);
        }
        return -1;
}

static void names_put(names_t *nt, const xvalue_t *vals, int id) {
        size_t i = hash_str(vals[id].name) & (nt->cap - 1);
        while (nt->ids[i] >= 0)
                i = (i + 1) & (nt->cap - 1);
        nt->ids[i] = id;
}

/* ---- error helpers ---- */

static int node_err(swarm_err_t *err, swarm_code_t code, const xnode_t *n,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int node_err(swarm_err_t *err, swarm_code_t code, const xnode_t *n,
                    const char *fmt, ...) {
        char why[SWARM_ERR_MSG_SIZE];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        return swarm_err_set(err, code, "node '%s' (%s): %s", n->name,
                             n->op_type, why);
}

static char *dup_str(const char *s) {
        return strdup(nz(s));
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

/* ---- operators ---- */

typedef struct opdef {
        const char *name;
        enum xop op;
        swarm_act_t act;
        int min_in, max_in;
} opdef_t;

static const opdef_t OPS[] = {
        {"Gemm", OP_GEMM, SWARM_ACT_NONE, 2, 3},
        {"MatMul", OP_MATMUL, SWARM_ACT_NONE, 2, 2},
        {"Add", OP_ADD, SWARM_ACT_NONE, 2, 2},
        {"Relu", OP_ACT, SWARM_ACT_RELU, 1, 1},
        {"Sigmoid", OP_ACT, SWARM_ACT_SIGMOID, 1, 1},
        {"Tanh", OP_ACT, SWARM_ACT_TANH, 1, 1},
        {"Softmax", OP_SOFTMAX, SWARM_ACT_NONE, 1, 1},
        {"Flatten", OP_COPY, SWARM_ACT_NONE, 1, 1},
        {"Identity", OP_COPY, SWARM_ACT_NONE, 1, 1},
};

static const opdef_t *op_find(const char *name) {
        for (size_t i = 0; i < sizeof(OPS) / sizeof(OPS[0]); i++)
                if (strcmp(OPS[i].name, name) == 0)
                        return &OPS[i];
        return NULL;
}

static int infer_gemm(swarm_model_t *m, xnode_t *n,
                      const Onnx__NodeProto *np, swarm_err_t *err) {
        static const char *const allowed[] = {"alpha", "beta", "transA",
                                              "transB", "broadcast", NULL};
        xvalue_t *a = &m->vals[n->in[0]], *b = &m->vals[n->in[1]];
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

static int infer_matmul(swarm_model_t *m, xnode_t *n, swarm_err_t *err) {
        xvalue_t *a = &m->vals[n->in[0]], *b = &m->vals[n->in[1]];
        xvalue_t *o = &m->vals[n->out];
        int nd, bt;
        char why[256];

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

static int infer_node(swarm_model_t *m, xnode_t *n, const Onnx__NodeProto *np,
                      int64_t opset, swarm_err_t *err) {
        static const char *const no_attrs[] = {NULL};
        static const char *const axis_only[] = {"axis", NULL};
        xvalue_t *x = &m->vals[n->in[0]], *o = &m->vals[n->out];
        int64_t axis;
        int rc;

        for (int i = 0; i < n->n_in; i++) {
                const xvalue_t *v = &m->vals[n->in[i]];
                if (v->dtype != SWARM_DTYPE_FLOAT32)
                        return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                        "input '%s' has dtype %s; only "
                                        "FLOAT32 is supported", v->name,
                                        swarm_dtype_name(v->dtype));
        }
        o->dtype = SWARM_DTYPE_FLOAT32;
        switch (n->op) {
        case OP_GEMM:
                return infer_gemm(m, n, np, err);
        case OP_MATMUL:
                if ((rc = attrs_only(np, n, no_attrs, err)))
                        return rc;
                return infer_matmul(m, n, err);
        case OP_ADD: {
                char why[256];
                if ((rc = attrs_only(np, n, no_attrs, err)))
                        return rc;
                if (bcast(x, 0, x->ndim, &m->vals[n->in[1]], 0,
                          m->vals[n->in[1]].ndim, &o->ndim, o->shape,
                          &o->batched, why, sizeof(why)))
                        return node_err(err, SWARM_ERR_UNSUPPORTED, n, "%s",
                                        why);
                return SWARM_OK;
        }
        case OP_ACT:
                if ((rc = attrs_only(np, n, no_attrs, err)))
                        return rc;
                break;
        case OP_SOFTMAX:
                if ((rc = attrs_only(np, n, axis_only, err)) ||
                    (rc = attr_int(np, n, "axis", opset < 13 ? 1 : -1, &axis,
                                   err)))
                        return rc;
                if (axis < -x->ndim || axis >= x->ndim)
                        return node_err(err, SWARM_ERR_INVALID, n,
                                        "axis %lld out of range for %d-D "
                                        "input", (long long)axis, x->ndim);
                if (axis < 0)
                        axis += x->ndim;
                n->axis = (int)axis;
                /* Before opset 13 the input is coerced to 2-D at axis and
                 * the softmax covers [axis, end); from 13 only [axis]. */
                n->legacy = opset < 13;
                if (x->batched && axis == 0)
                        return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                        "softmax across the batch "
                                        "dimension");
                break;
        case OP_COPY:
                if (strcmp(n->op_type, "Identity") == 0) {
                        if ((rc = attrs_only(np, n, no_attrs, err)))
                                return rc;
                        break;
                }
                if ((rc = attrs_only(np, n, axis_only, err)) ||
                    (rc = attr_int(np, n, "axis", 1, &axis, err)))
                        return rc;
                if (axis < -x->ndim || axis > x->ndim)
                        return node_err(err, SWARM_ERR_INVALID, n,
                                        "axis %lld out of range for %d-D "
                                        "input", (long long)axis, x->ndim);
                if (axis < 0)
                        axis += x->ndim;
                if (x->batched && axis == 0)
                        return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                        "flattening the batch dimension "
                                        "into the columns");
                o->ndim = 2;
                o->shape[0] = 1;
                o->shape[1] = 1;
                for (int i = 0; i < x->ndim; i++)
                        o->shape[i < axis ? 0 : 1] *= x->shape[i];
                o->batched = x->batched;
                return SWARM_OK;
        }
        o->ndim = x->ndim;
        memcpy(o->shape, x->shape, sizeof(o->shape));
        o->batched = x->batched;
        return SWARM_OK;
}

/* ---- graph inputs ---- */

static int declare_input(swarm_model_t *m, const Onnx__ValueInfoProto *vi,
                         xvalue_t *v, swarm_err_t *err) {
        const Onnx__TypeProto *tp = vi->type;
        const Onnx__TensorShapeProto *sp;

        if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
            !tp->tensor_type)
                return swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                     "input '%s': only tensor inputs are "
                                     "supported", v->name);
        if (!tp->tensor_type->has_elem_type ||
            tp->tensor_type->elem_type != ONNX_FLOAT)
                return swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                     "input '%s': element type %d; only "
                                     "FLOAT32 inputs are supported", v->name,
                                     (int)tp->tensor_type->elem_type);
        v->dtype = SWARM_DTYPE_FLOAT32;
        sp = tp->tensor_type->shape;
        if (!sp)
                return swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                     "input '%s': no shape declared",
                                     v->name);
        if (sp->n_dim > SWARM_MAX_DIMS)
                return swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                     "input '%s': %zu dimensions (at most "
                                     "%d)", v->name, sp->n_dim,
                                     SWARM_MAX_DIMS);
        v->ndim = (int)sp->n_dim;
        for (int i = 0; i < v->ndim; i++) {
                const Onnx__TensorShapeProto__Dimension *d = sp->dim[i];
                int fixed = d && d->value_case ==
                        ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
                if (!fixed && i == 0) {
                        v->batched = 1;
                        v->shape[0] = 1;
                        continue;
                }
                if (!fixed)
                        return swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                             "input '%s': dimension %d is "
                                             "symbolic; only the leading "
                                             "(batch) one may be", v->name, i);
                if (d->dim_value < 0 || d->dim_value > INT32_MAX)
                        return swarm_err_set(err, SWARM_ERR_INVALID,
                                             "input '%s': dimension %d is "
                                             "%lld", v->name, i,
                                             (long long)d->dim_value);
                v->shape[i] = d->dim_value;
        }
        if (swarm_shape_elems(v->shape, v->ndim) < 0)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "input '%s': shape too large", v->name);
        return SWARM_OK;
}

/* Compare an inferred output against its declaration, where declared. */
static int check_output(const Onnx__ValueInfoProto *vi, const xvalue_t *v,
                        swarm_err_t *err) {
        const Onnx__TypeProto *tp = vi->type;
        const Onnx__TensorShapeProto *sp;

        if (v->batched && v->shape[0] != 1)
                return swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                     "output '%s': its leading dimension is "
                                     "a multiple of the batch", v->name);
        if (!tp)
                return SWARM_OK;
        if (tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
            !tp->tensor_type)
                return swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                     "output '%s': only tensor outputs are "
                                     "supported", v->name);
        if (tp->tensor_type->has_elem_type &&
            tp->tensor_type->elem_type != ONNX_FLOAT)
                return swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                     "output '%s': element type %d; only "
                                     "FLOAT32 outputs are supported", v->name,
                                     (int)tp->tensor_type->elem_type);
        sp = tp->tensor_type->shape;
        if (!sp)
                return SWARM_OK;
        if ((int)sp->n_dim != v->ndim)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "output '%s': declared %zu-D, computed "
                                     "%d-D", v->name, sp->n_dim, v->ndim);
        for (int i = 0; i < v->ndim; i++) {
                const Onnx__TensorShapeProto__Dimension *d = sp->dim[i];
                if (!d || d->value_case !=
                    ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE)
                        continue;
                if ((i == 0 && v->batched) || d->dim_value != v->shape[i])
                        return swarm_err_set(err, SWARM_ERR_INVALID,
                                             "output '%s': dimension %d "
                                             "declared %lld, computed %s%lld",
                                             v->name, i,
                                             (long long)d->dim_value,
                                             i == 0 && v->batched ? "N*" : "",
                                             (long long)v->shape[i]);
        }
        return SWARM_OK;
}

/* ---- fusion and planning ---- */

static void count_uses(swarm_model_t *m) {
        for (int i = 0; i < m->n_vals; i++) {
                m->vals[i].n_uses = 0;
                m->vals[i].last_use = -1;
        }
        for (int i = 0; i < m->n_nodes; i++) {
                xnode_t *n = &m->nodes[i];
                if (n->dead)
                        continue;
                for (int j = 0; j < n->n_in; j++) {
                        m->vals[n->in[j]].n_uses++;
                        m->vals[n->in[j]].consumer = i;
                        m->vals[n->in[j]].last_use = i;
                }
        }
}

/* The single live consumer of a GEMM output, if it may be folded in. */
static xnode_t *sole_consumer(swarm_model_t *m, const xnode_t *n) {
        const xvalue_t *o = &m->vals[n->out];
        if (o->is_output || o->n_uses != 1)
                return NULL;
        return &m->nodes[o->consumer];
}

/* Fold Gemm/MatMul -> Add(constant row bias) -> Relu/Sigmoid/Tanh into one
 * backend GEMM: one pass over the result instead of three. */
static void fuse(swarm_model_t *m) {
        for (int i = 0; i < m->n_nodes; i++) {
                xnode_t *g = &m->nodes[i], *c;
                if (g->dead || (g->op != OP_GEMM && g->op != OP_MATMUL))
                        continue;
                count_uses(m);
                c = sole_consumer(m, g);
                if (c && c->op == OP_ADD && g->bias < 0 &&
                    (g->op == OP_GEMM || m->vals[g->in[1]].ndim == 2)) {
                        int other = c->in[0] == g->out ? c->in[1] : c->in[0];
                        const xvalue_t *bv = &m->vals[other];
                        const xvalue_t *ov = &m->vals[g->out];
                        int64_t n_cols = ov->shape[ov->ndim - 1];
                        int64_t el = swarm_shape_elems(bv->shape, bv->ndim);
                        int row = bv->ndim >= 1 &&
                                  bv->shape[bv->ndim - 1] == n_cols &&
                                  el == n_cols;
                        if (bv->kind == V_CONST && other != g->out &&
                            bv->ndim <= ov->ndim && (el == 1 || row)) {
                                g->in[2] = other;
                                g->n_in = 3;
                                g->bias = other;
                                g->beta = 1.0f;
                                g->out = c->out;
                                c->dead = 1;
                                count_uses(m);
                                c = sole_consumer(m, g);
                        }
                }
                if (c && c->op == OP_ACT) {
                        g->act = c->act;
                        g->out = c->out;
                        c->dead = 1;
                }
        }
        count_uses(m);
}

static int plan_slots(swarm_model_t *m, swarm_err_t *err) {
        int *busy = calloc((size_t)m->n_vals + 1, sizeof(int));

        if (!busy)
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        m->slots = calloc((size_t)m->n_vals + 1, sizeof(xslot_t));
        if (!m->slots) {
                free(busy);
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        }
        m->n_steps = 0;
        for (int i = 0; i < m->n_nodes; i++) {
                xnode_t *n = &m->nodes[i];
                xvalue_t *o;
                int s;
                if (n->dead)
                        continue;
                m->n_steps++;
                o = &m->vals[n->out];
                /* Outputs of a node never share with its own inputs, so
                 * kernels need not be in-place safe. */
                for (s = 0; s < m->n_slots && busy[s]; s++)
                        ;
                if (s == m->n_slots)
                        m->n_slots++;
                busy[s] = 1;
                o->slot = s;
                /* Graph outputs keep their buffer until the next run. */
                for (int j = -1; j < n->n_in; j++) {
                        xvalue_t *v = j < 0 ? o : &m->vals[n->in[j]];
                        if (v->kind == V_TEMP && !v->is_output &&
                            v->slot >= 0 && v->last_use <= i)
                                busy[v->slot] = 0;
                }
        }
        free(busy);
        return SWARM_OK;
}

static int upload_consts(swarm_model_t *m, swarm_err_t *err) {
        swarm_backend_t *be = m->be;

        for (int i = 0; i < m->n_vals; i++) {
                xvalue_t *v = &m->vals[i];
                int rc;
                if (v->kind != V_CONST || v->n_uses == 0 ||
                    v->last_use < 0)
                        continue;
                rc = be->alloc(be, v->host_bytes ? v->host_bytes : 4, &v->dev,
                               err);
                if (!rc && v->host_bytes)
                        rc = be->upload(be, v->dev, v->host, v->host_bytes,
                                        err);
                if (rc) {
                        swarm_err_prefix(err, "uploading '%s': ", v->name);
                        return rc;
                }
                free(v->host);
                v->host = NULL;
        }
        return SWARM_OK;
}

static void fill_io(const xvalue_t *v, swarm_model_io_t *io) {
        int64_t row = 1;

        io->name = v->name;
        io->dtype = v->dtype;
        io->ndim = v->ndim;
        memcpy(io->shape, v->shape, sizeof(io->shape));
        if (v->batched)
                io->shape[0] = -1;
        for (int i = 1; i < v->ndim; i++)
                row *= v->shape[i];
        io->row_bytes = (size_t)row * swarm_dtype_size(v->dtype);
}

/* ---- the loader ---- */

static int topo_sort(swarm_model_t *m, swarm_err_t *err) {
        int n = m->n_nodes, head = 0, tail = 0, rc = SWARM_OK;
        int *indeg = calloc((size_t)n + 1, sizeof(int));
        int *queue = calloc((size_t)n + 1, sizeof(int));
        int *order = calloc((size_t)n + 1, sizeof(int));
        xnode_t *sorted = calloc((size_t)n + 1, sizeof(xnode_t));

        if (!indeg || !queue || !order || !sorted) {
                rc = swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                goto out;
        }
        for (int i = 0; i < n; i++) {
                for (int j = 0; j < m->nodes[i].n_in; j++)
                        if (m->vals[m->nodes[i].in[j]].producer >= 0)
                                indeg[i]++;
                if (indeg[i] == 0)
                        queue[tail++] = i;
        }
        /* Kahn's algorithm; consumers are found by scanning, which is
         * quadratic but only at load and fine for thousands of nodes. */
        while (head < tail) {
                int u = queue[head++];
                order[head - 1] = u;
                for (int i = 0; i < n; i++)
                        for (int j = 0; j < m->nodes[i].n_in; j++)
                                if (m->vals[m->nodes[i].in[j]].producer == u &&
                                    --indeg[i] == 0)
                                        queue[tail++] = i;
        }
        if (head != n) {
                rc = swarm_err_set(err, SWARM_ERR_INVALID,
                                   "the graph has a cycle");
                goto out;
        }
        for (int i = 0; i < n; i++)
                sorted[i] = m->nodes[order[i]];
        for (int i = 0; i < n; i++)
                m->vals[sorted[i].out].producer = i;
        free(m->nodes);
        m->nodes = sorted;
        sorted = NULL;
out:
        free(indeg);
        free(queue);
        free(order);
        free(sorted);
        return rc;
}

static int new_value(swarm_model_t *m, names_t *nt, const char *name,
                     enum vkind kind, swarm_err_t *err) {
        xvalue_t *v = &m->vals[m->n_vals];

        if (names_find(nt, m->vals, name) >= 0)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "'%s' is defined twice", name);
        memset(v, 0, sizeof(*v));
        v->name = strdup(name);
        if (!v->name)
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        v->kind = kind;
        v->producer = -1;
        v->slot = -1;
        v->input_idx = -1;
        v->last_use = -1;
        names_put(nt, m->vals, m->n_vals);
        m->n_vals++;
        return SWARM_OK;
}

static int build(swarm_model_t *m, const Onnx__ModelProto *mp,
                 swarm_err_t *err) {
        const Onnx__GraphProto *g = mp->graph;
        names_t nt = {NULL, 0};
        int64_t opset = -1;
        size_t max_vals;
        int rc = SWARM_OK;

        if (!g)
                return swarm_err_set(err, SWARM_ERR_INVALID, "no graph");
        for (size_t i = 0; i < mp->n_opset_import; i++) {
                const Onnx__OperatorSetIdProto *os = mp->opset_import[i];
                const char *d = os ? nz(os->domain) : "";
                if (os && (!*d || strcmp(d, "ai.onnx") == 0))
                        opset = os->has_version ? os->version : 1;
        }
        if (g->n_node > INT_MAX / 4 || g->n_initializer > INT_MAX / 4 ||
            g->n_input > INT_MAX / 4)
                return swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                     "graph too large");
        max_vals = g->n_initializer + g->n_input + g->n_node + 1;
        for (nt.cap = 16; nt.cap < 2 * max_vals; nt.cap *= 2)
                ;
        nt.ids = malloc(nt.cap * sizeof(int));
        m->vals = calloc(max_vals, sizeof(xvalue_t));
        m->nodes = calloc(g->n_node + 1, sizeof(xnode_t));
        m->in_vals = calloc(g->n_input + 1, sizeof(int));
        m->out_vals = calloc(g->n_output + 1, sizeof(int));
        if (!nt.ids || !m->vals || !m->nodes || !m->in_vals || !m->out_vals) {
                rc = swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                goto out;
        }
        memset(nt.ids, 0xff, nt.cap * sizeof(int));

        for (size_t i = 0; i < g->n_initializer; i++) {
                const Onnx__TensorProto *t = g->initializer[i];
                xvalue_t *v;
                if ((rc = new_value(m, &nt, nz(t->name), V_CONST, err)))
                        goto out;
                v = &m->vals[m->n_vals - 1];
                if ((rc = tensor_decode(t, &v->dtype, &v->ndim, v->shape,
                                        &v->host, &v->host_bytes, err)))
                        goto out;
        }
        if (g->n_sparse_initializer) {
                rc = swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                   "sparse initializers are not supported");
                goto out;
        }
        for (size_t i = 0; i < g->n_input; i++) {
                const Onnx__ValueInfoProto *vi = g->input[i];
                const char *name = nz(vi->name);
                xvalue_t *v;
                /* An input that is also an initializer is a constant with
                 * an overridable default; we treat it as constant. */
                if (names_find(&nt, m->vals, name) >= 0 &&
                    m->vals[names_find(&nt, m->vals, name)].kind == V_CONST)
                        continue;
                if ((rc = new_value(m, &nt, name, V_INPUT, err)))
                        goto out;
                v = &m->vals[m->n_vals - 1];
                v->input_idx = m->n_in;
                m->in_vals[m->n_in++] = m->n_vals - 1;
                if ((rc = declare_input(m, vi, v, err)))
                        goto out;
        }
        /* Nodes: check the operator, create outputs. */
        for (size_t i = 0; i < g->n_node; i++) {
                const Onnx__NodeProto *np = g->node[i];
                xnode_t *n = &m->nodes[m->n_nodes++];
                const opdef_t *od;
                const char *dom = nz(np->domain);
                char dflt[32];

                snprintf(dflt, sizeof(dflt), "#%zu", i);
                n->name = dup_str(np->name && *np->name ? np->name : dflt);
                n->op_type = dup_str(np->op_type);
                n->bias = -1;
                n->out = -1;
                n->src = (int)i;
                if (!n->name || !n->op_type) {
                        rc = swarm_err_set(err, SWARM_ERR_NOMEM,
                                           "out of memory");
                        goto out;
                }
                if (*dom && strcmp(dom, "ai.onnx") != 0) {
                        rc = node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                      "operator domain '%s' is not supported",
                                      dom);
                        goto out;
                }
                /* Checked after the domain: graphs of other domains only
                 * (training ops) are unsupported rather than invalid. */
                if (opset < 1) {
                        rc = swarm_err_set(err, SWARM_ERR_INVALID,
                                           "no opset_import for the default "
                                           "ONNX domain");
                        goto out;
                }
                od = op_find(n->op_type);
                if (!od) {
                        rc = node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                      "operator is not supported (supported: "
                                      "Gemm, MatMul, Add, Relu, Sigmoid, "
                                      "Tanh, Softmax, Flatten, Identity)");
                        goto out;
                }
                n->op = od->op;
                n->act = od->act;
                /* Trailing empty names are absent optional inputs. */
                n->n_in = (int)(np->n_input < 4 ? np->n_input : 4);
                while (n->n_in > 0 && !*nz(np->input[n->n_in - 1]))
                        n->n_in--;
                if (n->n_in < od->min_in || n->n_in > od->max_in ||
                    np->n_input > 3) {
                        rc = node_err(err, SWARM_ERR_INVALID, n,
                                      "%zu inputs (expected %d to %d)",
                                      np->n_input, od->min_in, od->max_in);
                        goto out;
                }
                if (np->n_output != 1 || !*nz(np->output[0])) {
                        rc = node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                      "%zu outputs (expected 1)",
                                      np->n_output);
                        goto out;
                }
                if ((rc = new_value(m, &nt, np->output[0], V_TEMP, err))) {
                        swarm_err_prefix(err, "node '%s' (%s): ", n->name,
                                         n->op_type);
                        goto out;
                }
                n->out = m->n_vals - 1;
                m->vals[n->out].producer = (int)i;
        }
        /* Resolve inputs now that every name is declared. */
        for (int i = 0; i < m->n_nodes; i++) {
                xnode_t *n = &m->nodes[i];
                for (int j = 0; j < n->n_in; j++) {
                        const char *in = nz(g->node[i]->input[j]);
                        n->in[j] = *in ? names_find(&nt, m->vals, in) : -1;
                        if (n->in[j] < 0) {
                                rc = node_err(err, SWARM_ERR_INVALID, n,
                                              "input '%s' is not defined (no "
                                              "initializer, graph input or "
                                              "node output)", in);
                                goto out;
                        }
                }
        }
        for (size_t i = 0; i < g->n_output; i++) {
                const char *name = nz(g->output[i]->name);
                int id = names_find(&nt, m->vals, name);
                if (id < 0) {
                        rc = swarm_err_set(err, SWARM_ERR_INVALID,
                                           "output '%s' is not defined",
                                           name);
                        goto out;
                }
                if (m->vals[id].kind != V_TEMP) {
                        rc = swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                           "output '%s' is not computed by "
                                           "any node", name);
                        goto out;
                }
                m->vals[id].is_output = 1;
                m->out_vals[m->n_out++] = id;
        }
        if (m->n_out == 0) {
                rc = swarm_err_set(err, SWARM_ERR_INVALID, "no graph outputs");
                goto out;
        }
        if ((rc = topo_sort(m, err)))
                goto out;
        for (int i = 0; i < m->n_nodes; i++) {
                xnode_t *n = &m->nodes[i];
                const Onnx__NodeProto *np = g->node[n->src];
                if ((rc = infer_node(m, n, np, opset, err)))
                        goto out;
                /* Keeps rows * elements * 4 representable at run time. */
                if (swarm_shape_elems(m->vals[n->out].shape,
                                      m->vals[n->out].ndim) < 0 ||
                    swarm_shape_elems(m->vals[n->out].shape,
                                      m->vals[n->out].ndim) > INT32_MAX * 16LL) {
                        rc = node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                      "result shape too large");
                        goto out;
                }
        }
        for (int i = 0; i < m->n_out; i++)
                if ((rc = check_output(g->output[i], &m->vals[m->out_vals[i]],
                                       err)))
                        goto out;
        fuse(m);
        if ((rc = plan_slots(m, err)) || (rc = upload_consts(m, err)))
                goto out;

        m->in_io = calloc((size_t)m->n_in + 1, sizeof(swarm_model_io_t));
        m->out_io = calloc((size_t)m->n_out + 1, sizeof(swarm_model_io_t));
        if (!m->in_io || !m->out_io) {
                rc = swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                goto out;
        }
        m->fixed_rows = -2;
        for (int i = 0; i < m->n_in; i++) {
                const xvalue_t *v = &m->vals[m->in_vals[i]];
                fill_io(v, &m->in_io[i]);
                if (v->batched)
                        m->fixed_rows = -1;
                else if (m->fixed_rows == -2)
                        m->fixed_rows = v->ndim ? v->shape[0] : 1;
        }
        if (m->fixed_rows == -2)
                m->fixed_rows = 1;
        for (int i = 0; i < m->n_out; i++)
                fill_io(&m->vals[m->out_vals[i]], &m->out_io[i]);
out:
        free(nt.ids);
        return rc;
}

int swarm_model_load_mem(const void *buf, size_t len, swarm_backend_t *be,
                         swarm_model_t **out, swarm_err_t *err) {
        Onnx__ModelProto *mp = NULL;
        swarm_model_t *m = NULL;
        int rc;

        *out = NULL;
        if (!be || (!buf && len))
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "loading model: no backend or buffer");
        mp = onnx__model_proto__unpack(NULL, len, buf);
        if (!mp) {
                rc = swarm_err_set(err, SWARM_ERR_PARSE,
                                   "loading model: not a valid ONNX protobuf "
                                   "(%zu bytes)", len);
                goto out;
        }
        m = calloc(1, sizeof(*m));
        if (!m) {
                rc = swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                goto out;
        }
        m->be = be;
        m->cur_rows = -1;
        if ((rc = build(m, mp, err))) {
                swarm_err_prefix(err, "loading model: ");
                goto out;
        }
        *out = m;
        m = NULL;
out:
        swarm_model_destroy(m);
        if (mp)
                onnx__model_proto__free_unpacked(mp, NULL);
        return rc;
}

int swarm_model_load_file(const char *path, swarm_backend_t *be,
                          swarm_model_t **out, swarm_err_t *err) {
        FILE *f = NULL;
        char *buf = NULL;
        size_t len = 0, cap = 0;
        int rc = SWARM_OK;

        *out = NULL;
        f = fopen(path, "rb");
        if (!f)
                return swarm_err_set(err, SWARM_ERR_IO, "opening '%s': %s",
                                     path, strerror(errno));
        for (;;) {
                size_t got;
                if (len == cap) {
                        char *nb;
                        /* protobuf messages are limited to 2 GiB. */
                        if (cap >= ((size_t)2 << 30)) {
                                rc = swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                                   "'%s': larger than 2 GiB",
                                                   path);
                                goto out;
                        }
                        cap = cap ? cap * 2 : 1 << 16;
                        nb = realloc(buf, cap);
                        if (!nb) {
                                rc = swarm_err_set(err, SWARM_ERR_NOMEM,
                                                   "reading '%s': out of "
                                                   "memory", path);
                                goto out;
                        }
                        buf = nb;
                }
                got = fread(buf + len, 1, cap - len, f);
                len += got;
                if (got == 0) {
                        if (ferror(f))
                                rc = swarm_err_set(err, SWARM_ERR_IO,
                                                   "reading '%s': %s", path,
                                                   strerror(errno));
                        break;
                }
        }
        if (!rc) {
                rc = swarm_model_load_mem(buf, len, be, out, err);
                if (rc)
                        swarm_err_prefix(err, "%s: ", path);
        }
out:
        if (f)
                fclose(f);
        free(buf);
        return rc;
}
