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
#include "fuse_se.h"
#include "node_err.h"
#include "tensor_decode.h"

static const char *nz(const char *s) {
        return s ? s : "";
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
static char *dup_str(const char *s) {
        return strdup(nz(s));
}

/* ---- every unsupported node, in one message ----
 * A user converting a model wants the whole list at once, not one node per
 * attempt.  Entries are "node 'n' (Op): why (opset N)", separated by "; ";
 * what does not fit the error message is counted. */
typedef struct problems {
        char buf[SWARM_ERR_MSG_SIZE];
        size_t len;
        int count, shown;
} problems_t;

static void problem_add(problems_t *p, const char *msg, int64_t opset) {
        char one[SWARM_ERR_MSG_SIZE];
        int l = snprintf(one, sizeof(one), "%s%s", p->count ? "; " : "",
                         msg);
        if (!strstr(msg, "opset") && l > 0 && (size_t)l < sizeof(one))
                l += snprintf(one + l, sizeof(one) - (size_t)l, " (opset %lld)",
                              (long long)opset);
        p->count++;
        /* keep room for the " (+N more)" tail */
        if (l > 0 && p->len + (size_t)l + 24 < sizeof(p->buf)) {
                memcpy(p->buf + p->len, one, (size_t)l);
                p->len += (size_t)l;
                p->buf[p->len] = '\0';
                p->shown++;
        }
}

static int problems_err(const problems_t *p, swarm_err_t *err) {
        if (p->shown < p->count)
                return swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                     "%d unsupported nodes: %s (+%d more)",
                                     p->count, p->buf, p->count - p->shown);
        if (p->count > 1)
                return swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                     "%d unsupported nodes: %s", p->count,
                                     p->buf);
        return swarm_err_set(err, SWARM_ERR_UNSUPPORTED, "%s", p->buf);
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
        /* Every dtype the executor computes on (FLOAT32 data, INT64 /
         * INT32 ids, BOOL masks, ...). */
        if (!tp->tensor_type->has_elem_type ||
            exec_onnx_dtype(tp->tensor_type->elem_type, &v->dtype))
                return swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                     "input '%s': element type %d; FLOAT32, "
                                     "FLOAT16, BFLOAT16, FLOAT64, INT64, "
                                     "INT32, INT8, UINT8 and BOOL inputs are "
                                     "supported",
                                     v->name,
                                     (int)tp->tensor_type->elem_type);
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
                if (!fixed) {
                        /* A plan of a shaped family: the dim's value. */
                        int found = 0;
                        for (int k = 0; k < m->n_dimvals; k++)
                                if (m->dimvals[k].dim == i &&
                                    strcmp(m->dimvals[k].input, v->name) ==
                                    0) {
                                        v->shape[i] = m->dimvals[k].value;
                                        found = 1;
                                }
                        if (found)
                                continue;
                }
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
        if (tp->tensor_type->has_elem_type) {
                swarm_dtype_t dt;
                if (exec_onnx_dtype(tp->tensor_type->elem_type, &dt))
                        return swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                             "output '%s': element type %d "
                                             "is not supported", v->name,
                                             (int)tp->tensor_type->elem_type);
                if (dt != v->dtype)
                        return swarm_err_set(err, SWARM_ERR_INVALID,
                                             "output '%s': declared %s, "
                                             "computed %s", v->name,
                                             swarm_dtype_name(dt),
                                             swarm_dtype_name(v->dtype));
        }
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


/* A copy whose output can share its input's buffer: a byte copy (Reshape,
 * Flatten, Squeeze, Identity, a zero Pad ...) with no activation, of a
 * value the run computes into a slot, to a value of the same dtype and
 * size.  Kernels never write their inputs, so the two names can stay on
 * one buffer for as long as either is live. */
static int copy_aliases(const swarm_model_t *m, const xnode_t *n) {
        const xvalue_t *x, *o;

        if (n->op != OP_COPY || n->act != SWARM_ACT_NONE || n->n_in < 1 ||
            n->in[0] < 0 || n->n_xo > 0)
                return 0;
        x = &m->vals[n->in[0]];
        o = &m->vals[n->out];
        return x->kind == V_TEMP && x->slot >= 0 && x->dtype == o->dtype &&
               x->batched == o->batched &&
               swarm_shape_elems(x->shape, x->ndim) ==
                       swarm_shape_elems(o->shape, o->ndim);
}

/* A slot for each value the run computes, reused once every value in it
 * is dead.  busy[s] counts the live values in slot s (more than one where a
 * copy aliases, above); done[v] marks a value already released, since a
 * value can appear twice among one node's inputs. */
static int plan_slots(swarm_model_t *m, swarm_err_t *err) {
        int *busy = calloc((size_t)m->n_vals + 1, sizeof(int));
        char *done = calloc((size_t)m->n_vals + 1, 1);

        m->slots = calloc((size_t)m->n_vals + 1, sizeof(xslot_t));
        if (!busy || !done || !m->slots) {
                free(busy);
                free(done);
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
                if (copy_aliases(m, n)) {
                        n->op = OP_ALIAS;
                        o->slot = m->vals[n->in[0]].slot;
                        busy[o->slot]++;
                } else {
                        /* Outputs of a node never share with its own
                         * inputs, so kernels need not be in-place safe. */
                        for (s = 0; s < m->n_slots && busy[s]; s++)
                                ;
                        if (s == m->n_slots)
                                m->n_slots++;
                        busy[s] = 1;
                        o->slot = s;
                }
                for (int k = 0; k < n->n_xo; k++) {
                        if (n->xo[k] < 0)
                                continue;
                        for (s = 0; s < m->n_slots && busy[s]; s++)
                                ;
                        if (s == m->n_slots)
                                m->n_slots++;
                        busy[s] = 1;
                        m->vals[n->xo[k]].slot = s;
                }
                /* Graph outputs keep their buffer until the next run. */
                if (n->op == OP_CONV && n->scratch > m->scratch_elems)
                        m->scratch_elems = n->scratch;
                for (int j = -1 - n->n_xo; j < n->n_in; j++) {
                        int id, xk = -2 - j;    /* j < -1: xo[xk] */
                        xvalue_t *v;
                        if ((j >= 0 && n->in[j] < 0) ||
                            (j < -1 && n->xo[xk] < 0))
                                continue;
                        id = j < -1 ? n->xo[xk] : j < 0 ? n->out : n->in[j];
                        v = &m->vals[id];
                        if (v->kind == V_TEMP && !v->is_output &&
                            v->slot >= 0 && v->last_use <= i && !done[id]) {
                                done[id] = 1;
                                busy[v->slot]--;
                        }
                }
        }
        free(busy);
        free(done);
        return SWARM_OK;
}

static int upload_consts(swarm_model_t *m, swarm_err_t *err) {
        swarm_backend_t *be = m->be;

        for (int i = 0; i < m->n_vals; i++) {
                xvalue_t *v = &m->vals[i];
                int rc;
                if (v->kind != V_CONST ||
                    ((v->n_uses == 0 || v->last_use < 0) && !v->is_output))
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
        io->sym = v->batched ? 1u : 0u;
}

/* ---- the loader ---- */

static int topo_sort(swarm_model_t *m, swarm_err_t *err) {
        int n = m->n_nodes, head = 0, tail = 0, rc = SWARM_OK;
        int *indeg = calloc((size_t)n + 1, sizeof(int));
        int *queue = calloc((size_t)n + 1, sizeof(int));
        int *order = calloc((size_t)n + 1, sizeof(int));
        int *first = calloc((size_t)n + 2, sizeof(int));
        int *cons = NULL;
        size_t n_edges = 0;
        xnode_t *sorted = calloc((size_t)n + 1, sizeof(xnode_t));

        if (!indeg || !queue || !order || !first || !sorted) {
                rc = swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                goto out;
        }
        /* Consumers of each node as one CSR array, so Kahn's algorithm
         * stays linear: a hostile file of a million nodes must not make
         * the loader quadratic. */
        for (int i = 0; i < n; i++)
                for (int j = 0; j < m->nodes[i].n_in; j++)
                        if (m->nodes[i].in[j] >= 0 &&
                            m->vals[m->nodes[i].in[j]].producer >= 0) {
                                first[m->vals[m->nodes[i].in[j]].producer + 1]++;
                                n_edges++;
                        }
        for (int i = 0; i < n; i++)
                first[i + 1] += first[i];
        cons = malloc((n_edges + 1) * sizeof(int));
        if (!cons) {
                rc = swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                goto out;
        }
        {
                int *fill = queue;      /* reused as fill positions */
                for (int i = 0; i < n; i++)
                        fill[i] = first[i];
                for (int i = 0; i < n; i++)
                        for (int j = 0; j < m->nodes[i].n_in; j++) {
                                int p;
                                if (m->nodes[i].in[j] < 0 ||
                                    (p = m->vals[m->nodes[i].in[j]].producer) < 0)
                                        continue;
                                cons[fill[p]++] = i;
                                indeg[i]++;
                        }
        }
        for (int i = 0; i < n; i++)
                if (indeg[i] == 0)
                        queue[tail++] = i;
        while (head < tail) {
                int u = queue[head++];
                order[head - 1] = u;
                for (int e = first[u]; e < first[u + 1]; e++)
                        if (--indeg[cons[e]] == 0)
                                queue[tail++] = cons[e];
        }
        if (head != n) {
                rc = swarm_err_set(err, SWARM_ERR_INVALID,
                                   "the graph has a cycle");
                goto out;
        }
        for (int i = 0; i < n; i++)
                sorted[i] = m->nodes[order[i]];
        for (int i = 0; i < n; i++) {
                if (sorted[i].out >= 0)
                        m->vals[sorted[i].out].producer = i;
                for (int k = 0; k < sorted[i].n_xo; k++)
                        if (sorted[i].xo[k] >= 0)
                                m->vals[sorted[i].xo[k]].producer = i;
        }
        free(m->nodes);
        m->nodes = sorted;
        sorted = NULL;
out:
        free(indeg);
        free(queue);
        free(order);
        free(first);
        free(cons);
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

static const swarm_tensor_t *find_bind(const swarm_tensor_t *bind,
                                      int n_bind, const char *name) {
        for (int i = 0; i < n_bind; i++)
                if (bind[i].name.len == strlen(name) &&
                    memcmp(bind[i].name.ptr, name, bind[i].name.len) == 0)
                        return &bind[i];
        return NULL;
}

/* A graph input replaced by a constant (swarm_model_load_mem_bound). */
static int bind_input(xvalue_t *v, const swarm_tensor_t *t, swarm_err_t *err) {
        int64_t e = swarm_shape_elems(t->shape, t->ndim);
        size_t esz = swarm_dtype_size(t->dtype);

        if (t->ndim < 0 || t->ndim > SWARM_MAX_DIMS || e < 0 || !esz ||
            (size_t)e * esz != t->size || (e && !t->data))
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "bound input '%s': size does not match "
                                     "its shape", v->name);
        v->ndim = t->ndim;
        memcpy(v->shape, t->shape, sizeof(int64_t) * (size_t)t->ndim);
        v->dtype = t->dtype == SWARM_DTYPE_INT32 ? SWARM_DTYPE_INT64
                                                 : t->dtype;
        v->widened = t->dtype == SWARM_DTYPE_INT32;
        v->host_bytes = (size_t)e * swarm_dtype_size(v->dtype);
        v->host = malloc(v->host_bytes ? v->host_bytes : 1);
        if (!v->host)
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        for (int64_t i = 0; t->dtype == SWARM_DTYPE_INT32 && i < e; i++)
                ((int64_t *)v->host)[i] = ((const int32_t *)t->data)[i];
        if (t->dtype != SWARM_DTYPE_INT32 && e)
                memcpy(v->host, t->data, t->size);
        return SWARM_OK;
}

/* ---- external tensor data ----
 *
 * An initializer may keep its bytes in a file next to the model
 * (data_location = EXTERNAL, external_data: location, offset, length), as
 * onnx.save(..., save_as_external_data=True) writes for large models.  The
 * location must be a plain relative path inside the model's directory: a
 * model fetched from a registry must not be able to read /etc/shadow.
 * offset and length are checked against the file's size before anything is
 * allocated, and the bytes then go through the same raw_data checks as
 * embedded ones. */
static int is_external(const Onnx__TensorProto *t) {
        return (t->has_data_location &&
                t->data_location ==
                        ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) ||
               t->n_external_data > 0;
}

static int parse_size(const char *s, int64_t *out) {
        char *end;
        long long v;

        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno || end == s || *end || v < 0)
                return -1;
        *out = v;
        return 0;
}

static int external_decode(const Onnx__TensorProto *t, const char *dir,
                           xvalue_t *v, swarm_err_t *err) {
        const char *nm = nz(t->name), *loc = NULL;
        int64_t off = 0, len = -1, fsize;
        char path[4096];
        Onnx__TensorProto copy;
        FILE *f = NULL;
        uint8_t *data = NULL;
        int rc = SWARM_OK;

        for (size_t i = 0; i < t->n_external_data; i++) {
                const Onnx__StringStringEntryProto *e = t->external_data[i];
                const char *k = e ? nz(e->key) : "", *val = e ? nz(e->value)
                                                              : "";
                if (strcmp(k, "location") == 0)
                        loc = val;
                else if ((strcmp(k, "offset") == 0 && parse_size(val, &off)) ||
                         (strcmp(k, "length") == 0 && parse_size(val, &len)))
                        return swarm_err_set(err, SWARM_ERR_INVALID,
                                             "tensor '%s': external data "
                                             "%s '%s' is not a byte count",
                                             nm, k, val);
        }
        if (!dir)
                return swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                     "tensor '%s': external data ('%s') "
                                     "needs the model's directory; load the "
                                     "model with swarm_model_load_file", nm,
                                     loc ? loc : "");
        if (!loc || !*loc)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "tensor '%s': external data without a "
                                     "location", nm);
        if (loc[0] == '/' || strcmp(loc, "..") == 0 ||
            strncmp(loc, "../", 3) == 0 || strstr(loc, "/../") ||
            (strlen(loc) >= 3 && strcmp(loc + strlen(loc) - 3, "/..") == 0))
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "tensor '%s': external data location "
                                     "'%s' leaves the model's directory", nm,
                                     loc);
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, loc) >=
            sizeof(path))
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "tensor '%s': external data path too "
                                     "long", nm);
        f = fopen(path, "rb");
        if (!f)
                return swarm_err_set(err, SWARM_ERR_IO,
                                     "tensor '%s': external data '%s': %s",
                                     nm, path, strerror(errno));
        if (fseeko(f, 0, SEEK_END) || (fsize = (int64_t)ftello(f)) < 0) {
                rc = swarm_err_set(err, SWARM_ERR_IO,
                                   "tensor '%s': external data '%s': %s", nm,
                                   path, strerror(errno));
                goto out;
        }
        if (len < 0)
                len = off <= fsize ? fsize - off : -1;
        if (off > fsize || len < 0 || len > fsize - off) {
                rc = swarm_err_set(err, SWARM_ERR_TRUNCATED,
                                   "tensor '%s': external data '%s' has %lld "
                                   "bytes; offset %lld + length %lld is past "
                                   "its end", nm, path, (long long)fsize,
                                   (long long)off, (long long)len);
                goto out;
        }
        data = malloc(len ? (size_t)len : 1);
        if (!data) {
                rc = swarm_err_set(err, SWARM_ERR_NOMEM,
                                   "tensor '%s': out of memory (%lld bytes)",
                                   nm, (long long)len);
                goto out;
        }
        if (fseeko(f, (off_t)off, SEEK_SET) ||
            fread(data, 1, (size_t)len, f) != (size_t)len) {
                rc = swarm_err_set(err, SWARM_ERR_IO,
                                   "tensor '%s': reading external data '%s' "
                                   "failed", nm, path);
                goto out;
        }
        /* Decode as if the bytes were embedded. */
        copy = *t;
        copy.has_data_location = 0;
        copy.n_external_data = 0;
        copy.external_data = NULL;
        copy.has_raw_data = 1;
        copy.raw_data.data = data;
        copy.raw_data.len = (size_t)len;
        rc = exec_tensor_decode(&copy, &v->dtype, &v->ndim, v->shape,
                                &v->host, &v->host_bytes, err);
        v->widened = t->data_type == ONNX_INT32;
        if (rc)
                swarm_err_prefix(err, "external data '%s': ", path);
out:
        free(data);
        if (f)
                fclose(f);
        return rc;
}

static int add_captures(swarm_model_t *m, const names_t *nt, xnode_t *n,
                        const Onnx__NodeProto *np, swarm_err_t *err) {
        const char **caps;
        int nc, rc, *in;

        if ((rc = exec_ctl_captures(np, &caps, &nc, err)))
                return rc;
        if (!nc)
                return SWARM_OK;
        in = realloc(n->in, (np->n_input + (size_t)nc + 4) * sizeof(int));
        if (!in) {
                free(caps);
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        }
        n->in = in;
        for (size_t j = np->n_input; j < np->n_input + (size_t)nc + 4; j++)
                in[j] = -1;
        for (int j = 0; j < nc; j++)
                if ((in[np->n_input + (size_t)j] =
                     names_find(nt, m->vals, caps[j])) < 0) {
                        rc = node_err(err, SWARM_ERR_INVALID, n,
                                      "a subgraph reads '%s', which is not "
                                      "defined", caps[j]);
                        free(caps);
                        return rc;
                }
        n->n_in = (int)np->n_input + nc;
        free(caps);
        return SWARM_OK;
}

/* Whether a refusal is only about the batch being symbolic, so that a plan
 * with the batch fixed (everything folded) runs the node: the batch would
 * move off the leading dim (each row stays its own), or the node reads a
 * shape-chain value that depends on the batch size (Range(0, N), Equal on
 * Shape(x), ConstantOfShape([N, h]), Resize sizes from Shape(x)).  A node
 * refused for mixing rows (reducing, softmax, concatenating along the
 * batch) is not: it reads batched tensors, not batch-size constants. */
static int batch_bound(const swarm_model_t *m, const xnode_t *n,
                       const char *msg) {
        static const char *const mixing[] = {
                "along the batch", "across the batch", "over the batch",
                "into the", "mixes", "whole batch", "per batch", NULL};
        if (strstr(msg, "would move") || strstr(msg, "would not stay") ||
            strstr(msg, "push the batch") || strstr(msg, "sequence first"))
                return 1;
        for (int i = 0; mixing[i]; i++)
                if (strstr(msg, mixing[i]))
                        return 0;
        for (int j = 0; j < n->n_in; j++) {
                const xvalue_t *v = n->in[j] >= 0 ? &m->vals[n->in[j]] : NULL;
                int64_t e = v && v->nsym ? swarm_shape_elems(v->shape, v->ndim)
                                         : 0;
                for (int64_t k = 0; k < e; k++)
                        if (v->nsym[k])
                                return 1;
        }
        return 0;
}

static int build(swarm_model_t *m, const Onnx__ModelProto *mp,
                 const swarm_tensor_t *bind, int n_bind, swarm_err_t *err) {
        const Onnx__GraphProto *g = mp->graph;
        names_t nt = {NULL, 0};
        problems_t probs;
        int64_t opset = -1;
        size_t max_vals;
        int rc = SWARM_OK;

        if (!g)
                return swarm_err_set(err, SWARM_ERR_INVALID, "no graph");
        memset(&probs, 0, sizeof(probs));
        for (size_t i = 0; i < mp->n_opset_import; i++) {
                const Onnx__OperatorSetIdProto *os = mp->opset_import[i];
                const char *d = os ? nz(os->domain) : "";
                if (os && (!*d || strcmp(d, "ai.onnx") == 0))
                        opset = os->has_version ? os->version : 1;
        }
        if (g->n_node > EXEC_MAX_NODES || g->n_initializer > EXEC_MAX_NODES ||
            g->n_input > EXEC_MAX_NODES || g->n_output > EXEC_MAX_NODES)
                return swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                     "graph too large (more than %d nodes, "
                                     "initializers, inputs or outputs)",
                                     EXEC_MAX_NODES);
        /* Everything below is sized by what the file declares, so check
         * first that each node declares something: a file of millions of
         * empty nodes is refused here, before any per-node allocation. */
        max_vals = g->n_initializer + g->n_input + 16;
        for (size_t i = 0; i < g->n_node; i++) {
                const Onnx__NodeProto *np = g->node[i];
                if (!np || !np->op_type || !*np->op_type)
                        return swarm_err_set(err, SWARM_ERR_INVALID,
                                             "node #%zu ('%s') has no "
                                             "operator type", i,
                                             np ? nz(np->name) : "");
                size_t named = 0;
                for (size_t j = 0; j < np->n_output; j++)
                        named += *nz(np->output[j]) != '\0';
                if (!named)
                        return swarm_err_set(err, SWARM_ERR_INVALID,
                                             "node '%s' (%s): no output",
                                             nz(np->name), np->op_type);
                if (np->n_output > EXEC_MAX_NODES ||
                    max_vals > (size_t)EXEC_MAX_VALS - np->n_output)
                        return swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                             "graph too large (more than "
                                             "%d values)", EXEC_MAX_VALS);
                max_vals += np->n_output;
        }
        m->cap_vals = (int)max_vals;
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
                if (is_external(t))
                        rc = external_decode(t, m->dir, v, err);
                else
                        rc = exec_tensor_decode(t, &v->dtype, &v->ndim,
                                                v->shape, &v->host,
                                                &v->host_bytes, err);
                v->widened = t->data_type == ONNX_INT32;
                if (rc)
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
                if (find_bind(bind, n_bind, name)) {
                        if ((rc = new_value(m, &nt, name, V_CONST, err)) ||
                            (rc = bind_input(&m->vals[m->n_vals - 1],
                                             find_bind(bind, n_bind, name),
                                             err)))
                                goto out;
                        continue;
                }
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
                const char *dom = nz(np->domain);
                char dflt[32];
                int min_in, max_in;

                snprintf(dflt, sizeof(dflt), "#%zu", i);
                n->name = dup_str(np->name && *np->name ? np->name : dflt);
                n->op_type = dup_str(np->op_type);
                n->bias = -1;
                n->out = -1;

                n->src = (int)i;
                /* Room for the inputs fusion adds (bias). */
                n->in = malloc((np->n_input + 4) * sizeof(int));
                if (!n->name || !n->op_type || !n->in) {
                        rc = swarm_err_set(err, SWARM_ERR_NOMEM,
                                           "out of memory");
                        goto out;
                }
                for (size_t j = 0; j < np->n_input + 4; j++)
                        n->in[j] = -1;
                if (*dom && strcmp(dom, "ai.onnx") != 0) {
                        swarm_err_t pe;
                        swarm_err_clear(&pe);
                        node_err(&pe, SWARM_ERR_UNSUPPORTED, n,
                                 "operator domain '%s' is not supported",
                                 dom);
                        problem_add(&probs, pe.msg, opset);
                        n->unsupported = 1;
                }
                /* Checked after the domain: graphs of other domains only
                 * (training ops) are unsupported rather than invalid. */
                if (opset < 1 && !n->unsupported) {
                        rc = swarm_err_set(err, SWARM_ERR_INVALID,
                                           "no opset_import for the default "
                                           "ONNX domain");
                        goto out;
                }
                if (!n->unsupported &&
                    exec_op_inputs(n->op_type, &min_in, &max_in)) {
                        swarm_err_t pe;
                        swarm_err_clear(&pe);
                        node_err(&pe, SWARM_ERR_UNSUPPORTED, n,
                                 "operator is not supported (opset %lld)",
                                 (long long)opset);
                        problem_add(&probs, pe.msg, opset);
                        n->unsupported = 1;
                }
                /* Trailing empty names are absent optional inputs. */
                n->n_in = (int)np->n_input;
                while (n->n_in > 0 && !*nz(np->input[n->n_in - 1]))
                        n->n_in--;
                if (n->unsupported) {
                        /* only its outputs matter: they poison users */
                } else if (n->n_in < min_in || n->n_in > max_in) {
                        rc = node_err(err, SWARM_ERR_INVALID, n,
                                      "%zu inputs (expected %d to %d)",
                                      np->n_input, min_in, max_in);
                        goto out;
                }
                if (!n->unsupported && exec_multi_output(n->op_type) &&
                    np->n_output > 1) {
                        /* outputs past what the operator computes stay
                         * unusable (refused where read) */
                        n->n_xo = (int)(np->n_output <
                                        (size_t)exec_multi_output(n->op_type)
                                        ? np->n_output
                                        : (size_t)exec_multi_output(
                                                  n->op_type)) - 1;
                        n->xo = malloc((size_t)n->n_xo * sizeof(int));
                        if (!n->xo) {
                                rc = swarm_err_set(err, SWARM_ERR_NOMEM,
                                                   "out of memory");
                                goto out;
                        }
                        for (int k = 0; k < n->n_xo; k++)
                                n->xo[k] = -1;
                }
                if (!n->unsupported && n->n_xo && np->n_output >= 1 &&
                    !*nz(np->output[0])) {
                        /* The first output left out (RNN's Y when only
                         * Y_h is used): computed into a hidden value. */
                        char hid[48];
                        snprintf(hid, sizeof(hid), "#%zu#out0", i);
                        if ((rc = new_value(m, &nt, hid, V_TEMP, err)))
                                goto out;
                        n->out = m->n_vals - 1;
                        m->vals[n->out].producer = (int)i;
                }
                if (!n->unsupported && n->out < 0 &&
                    (np->n_output < 1 || !*nz(np->output[0]))) {
                        rc = node_err(err, SWARM_ERR_INVALID, n,
                                      "no output");
                        goto out;
                }
                for (size_t j = 0; j < np->n_output; j++) {
                        if (!*nz(np->output[j]))
                                continue;
                        if ((rc = new_value(m, &nt, np->output[j], V_TEMP,
                                            err))) {
                                swarm_err_prefix(err, "node '%s' (%s): ",
                                                 n->name, n->op_type);
                                goto out;
                        }
                        /* Optional extra outputs (MaxPool indices,
                         * BatchNormalization running stats, Dropout mask)
                         * are refused where used. */
                        m->vals[m->n_vals - 1].unusable =
                                n->unsupported ? 2 : j > 0;
                        if (j == 0) {
                                n->out = m->n_vals - 1;
                                m->vals[n->out].producer = (int)i;
                        }
                        if (j >= 1 && (int)j <= n->n_xo) {
                                n->xo[j - 1] = m->n_vals - 1;
                                m->vals[m->n_vals - 1].unusable = 0;
                                m->vals[m->n_vals - 1].producer = (int)i;
                        }
                }
        }
        /* Resolve inputs now that every name is declared. */
        for (int i = 0; i < m->n_nodes; i++) {
                xnode_t *n = &m->nodes[i];
                for (int j = 0; j < n->n_in; j++) {
                        const char *in = nz(g->node[i]->input[j]);
                        n->in[j] = *in ? names_find(&nt, m->vals, in) : -1;
                        if (*in && n->in[j] < 0) {
                                rc = node_err(err, SWARM_ERR_INVALID, n,
                                              "input '%s' is not defined (no "
                                              "initializer, graph input or "
                                              "node output)", in);
                                goto out;
                        }
                }
        }
        /* Values a Loop / If body reads from the graph are inputs of the
         * node too (after its own), for the sort and for liveness. */
        for (int i = 0; i < m->n_nodes; i++)
                if (!m->nodes[i].unsupported &&
                    (rc = add_captures(m, &nt, &m->nodes[i],
                                       g->node[m->nodes[i].src], err)))
                        goto out;
        for (size_t i = 0; i < g->n_output; i++) {
                const char *name = nz(g->output[i]->name);
                int id = names_find(&nt, m->vals, name);
                if (id < 0) {
                        rc = swarm_err_set(err, SWARM_ERR_INVALID,
                                           "output '%s' is not defined",
                                           name);
                        goto out;
                }
                if (m->vals[id].unusable == 2)
                        ;       /* from an unsupported node: listed below */
                else if (m->vals[id].kind != V_TEMP || m->vals[id].unusable) {
                        rc = swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                           "output '%s' is not computed by "
                                           "any node (or is an optional "
                                           "output this executor does not "
                                           "compute)", name);
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
                int poisoned = n->unsupported;
                if (n->dead)
                        continue;
                for (int j = 0; j < n->n_in && !poisoned; j++)
                        poisoned = n->in[j] >= 0 &&
                                   m->vals[n->in[j]].unusable == 2;
                if (!poisoned) {
                        swarm_err_t pe;
                        swarm_err_clear(&pe);
                        rc = exec_infer_node(m, n, np, opset, &pe);
                        if (rc == SWARM_ERR_UNSUPPORTED) {
                                if (batch_bound(m, n, pe.msg))
                                        m->batch_bound++;
                                problem_add(&probs, pe.msg, opset);
                                poisoned = 1;
                                rc = SWARM_OK;
                        }
                        if (rc) {
                                if (err)
                                        *err = pe;
                                goto out;
                        }
                }
                if (poisoned) {
                        /* Users of its outputs are not checked: their
                         * input shapes are unknown.  The node is not
                         * run either way. */
                        for (size_t j = 0; j < np->n_output; j++) {
                                int id = *nz(np->output[j])
                                         ? names_find(&nt, m->vals,
                                                      np->output[j])
                                         : -1;
                                if (id >= 0)
                                        m->vals[id].unusable = 2;
                        }
                        n->dead = 1;
                }
        }
        if (probs.count) {
                /* batch_bound: 1 when every refusal was the batch's */
                m->batch_bound = m->batch_bound == probs.count;
                rc = problems_err(&probs, err);
                goto out;
        }
        if ((rc = exec_ctl_flatten(m, err)))
                goto out;
        for (int i = 0; i < m->n_out; i++)
                if ((rc = check_output(g->output[i], &m->vals[m->out_vals[i]],
                                       err)))
                        goto out;
        /* A folded output (Shape of a static shape ...) is a constant the
         * run hands out as it is. */
        for (int i = 0; i < m->n_out; i++) {
                const xvalue_t *v = &m->vals[m->out_vals[i]];
                int sym = 0;
                for (int64_t k = 0; v->nsym &&
                     k < swarm_shape_elems(v->shape, v->ndim); k++)
                        sym |= v->nsym[k];
                if (v->kind == V_INPUT || sym) {
                        m->batch_bound = v->kind != V_INPUT;
                        rc = swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                           "output '%s' is a graph input or "
                                           "a constant that depends on the "
                                           "batch size", v->name);
                        goto out;
                }
        }
        exec_fuse(m);
        if ((rc = exec_pack_weights(m, err)))
                goto out;
        exec_fuse_se(m);
        if ((rc = plan_slots(m, err)) || (rc = upload_consts(m, err)))
                goto out;
        m->work_row_bytes = exec_slot_bytes(m, 1);

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
        return swarm_model_load_mem_bound(buf, len, NULL, 0, be, out, err);
}

/* `dir`: where external tensor data lives (the model file's directory);
 * NULL when loading from memory, which then refuses such tensors. */
/* Symbolic non-batch dims of the graph inputs (not initializers, not
 * bound) into *dims (caller frees with free_symdims); *n = 0 when none. */
#define MAX_SYMDIMS 64

static void free_symdims(xsymdim_t *d, int n) {
        for (int i = 0; d && i < n; i++) {
                free(d[i].input);
                free(d[i].param);
        }
        free(d);
}

static int scan_symdims(const Onnx__GraphProto *g, const swarm_tensor_t *bind,
                        int n_bind, int with_batch, xsymdim_t **dims, int *n,
                        swarm_err_t *err) {
        xsymdim_t *d = NULL;
        int cnt = 0;

        *dims = NULL;
        *n = 0;
        for (size_t i = 0; g && i < g->n_input; i++) {
                const Onnx__ValueInfoProto *vi = g->input[i];
                const Onnx__TensorShapeProto *sp;
                const char *name = vi ? nz(vi->name) : "";
                int init = 0;
                if (!vi || !vi->type || vi->type->value_case !=
                    ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
                    !vi->type->tensor_type ||
                    !(sp = vi->type->tensor_type->shape) ||
                    sp->n_dim > SWARM_MAX_DIMS)
                        continue;
                for (size_t j = with_batch ? 0 : 1; j < sp->n_dim; j++) {
                        const Onnx__TensorShapeProto__Dimension *dm =
                                sp->dim[j];
                        int g2 = -1;
                        if (dm && dm->value_case ==
                            ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE)
                                continue;
                        if (cnt == 0 || strcmp(d[cnt - 1].input, name)) {
                                /* once per input: initializer or bound? */
                                init = find_bind(bind, n_bind, name) != NULL;
                                for (size_t k = 0; !init &&
                                     k < g->n_initializer; k++)
                                        init = g->initializer[k] &&
                                               strcmp(nz(g->initializer[k]->name),
                                                      name) == 0;
                        }
                        if (init)
                                break;
                        if (cnt == MAX_SYMDIMS) {
                                free_symdims(d, cnt);
                                return swarm_err_set(err,
                                                     SWARM_ERR_UNSUPPORTED,
                                                     "more than %d symbolic "
                                                     "input dimensions",
                                                     MAX_SYMDIMS);
                        }
                        if (!d && !(d = calloc(MAX_SYMDIMS, sizeof(*d))))
                                return swarm_err_set(err, SWARM_ERR_NOMEM,
                                                     "out of memory");
                        d[cnt].input = strdup(name);
                        /* every batch dim is one: the rows */
                        d[cnt].param = strdup(
                                j == 0 ? "#batch"
                                : dm && dm->value_case ==
                                ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM
                                ? nz(dm->dim_param) : "");
                        d[cnt].dim = (int)j;
                        if (!d[cnt].input || !d[cnt].param) {
                                free_symdims(d, cnt + 1);
                                return swarm_err_set(err, SWARM_ERR_NOMEM,
                                                     "out of memory");
                        }
                        for (int k = 0; k < cnt && *d[cnt].param; k++)
                                if (strcmp(d[k].param, d[cnt].param) == 0)
                                        g2 = d[k].group;
                        if (g2 < 0) {
                                g2 = 0;
                                for (int k = 0; k < cnt; k++)
                                        if (d[k].group >= g2)
                                                g2 = d[k].group + 1;
                        }
                        d[cnt].group = g2;
                        cnt++;
                }
        }
        *dims = d;
        *n = cnt;
        return SWARM_OK;
}

static int load_mem_dir(const void *buf, size_t len,
                        const swarm_tensor_t *bind, int n_bind,
                        const char *dir, swarm_backend_t *be,
                        swarm_model_t **out, swarm_err_t *err) {
        return exec_load_plan(buf, len, bind, n_bind, dir, be, NULL, -1, out,
                              NULL, err);
}

/* The refusal with a symbolic batch (which names the nodes), and why the
 * batch fixed per plan did not do either, in one message. */
static void fixed_batch_why(swarm_err_t *err, const swarm_err_t *fe) {
        char first[SWARM_ERR_MSG_SIZE];
        swarm_code_t code;
        if (!err)
                return;
        snprintf(first, sizeof(first), "%s", err->msg);
        code = err->code;
        swarm_err_clear(err);   /* swarm_err_set keeps a set error */
        swarm_err_set(err, code, "%.*s; with the batch fixed per "
                      "plan: %.*s", (int)(SWARM_ERR_MSG_SIZE / 2), first,
                      (int)(SWARM_ERR_MSG_SIZE / 3), fe->msg);
}

/* The symbolic dims with the batch among them, for a family with the
 * batch fixed per plan (NULL when none or on error). */
static xsymdim_t *batch_dims(const Onnx__ModelProto *mp,
                             const swarm_tensor_t *bind, int n_bind,
                             int *nd) {
        xsymdim_t *dims = NULL;
        *nd = 0;
        if (scan_symdims(mp->graph, bind, n_bind, 1, &dims, nd, NULL) !=
            SWARM_OK || *nd == 0) {
                free_symdims(dims, *nd);
                *nd = 0;
                return NULL;
        }
        return dims;
}

/* n_dimvals < 0: a top-level load, which becomes a shaped family when an
 * input has symbolic non-batch dims, or when the batch must be fixed per
 * plan.  *batch_bound (may be NULL) is set when a refusal was only the
 * symbolic batch's. */
int exec_load_plan(const void *buf, size_t len, const swarm_tensor_t *bind,
                   int n_bind, const char *dir, swarm_backend_t *be,
                   const xdimval_t *dimvals, int n_dimvals,
                   swarm_model_t **out, int *batch_bound, swarm_err_t *err) {
        Onnx__ModelProto *mp = NULL;
        swarm_model_t *m = NULL;
        int rc, top, bb = 0;

        *out = NULL;
        if (batch_bound)
                *batch_bound = 0;
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
        top = n_dimvals < 0;
        if (n_dimvals < 0) {
                xsymdim_t *dims;
                int nd;
                if ((rc = scan_symdims(mp->graph, bind, n_bind, 0, &dims,
                                       &nd, err))) {
                        swarm_err_prefix(err, "loading model: ");
                        goto out;
                }
                if (nd > 0) {
                        int nb;
                        xsymdim_t *bd = batch_dims(mp, bind, n_bind, &nb);
                        /* the family reloads from buf: free ours first */
                        onnx__model_proto__free_unpacked(mp, NULL);
                        mp = NULL;
                        rc = exec_shaped_new(buf, len, bind, n_bind, dir, be,
                                             dims, nd, out, &bb, err);
                        if (rc == SWARM_ERR_UNSUPPORTED && bb && bd) {
                                /* Refused with the batch symbolic only
                                 * because of it: fix it per plan too (the
                                 * error of this try is not the one to
                                 * show: the first names the nodes). */
                                swarm_err_t fe;
                                swarm_err_clear(&fe);
                                if (exec_shaped_new(buf, len, bind, n_bind,
                                                    dir, be, bd, nb, out,
                                                    NULL, &fe) == SWARM_OK)
                                        rc = SWARM_OK;
                                else
                                        fixed_batch_why(err, &fe);
                                bd = NULL;
                        }
                        free_symdims(bd, nb);
                        goto out;
                }
                n_dimvals = 0;
        }
        m = calloc(1, sizeof(*m));
        if (!m) {
                rc = swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                goto out;
        }
        m->be = be;
        m->cur_rows = -1;
        m->dir = dir;
        m->dimvals = dimvals;
        m->n_dimvals = n_dimvals;
        rc = build(m, mp, bind, n_bind, err);
        m->dir = NULL;
        m->dimvals = NULL;
        m->n_dimvals = 0;
        if (rc == SWARM_ERR_UNSUPPORTED && m->batch_bound) {
                if (batch_bound)
                        *batch_bound = 1;
                /* Refused with a symbolic batch only because of it (it
                 * moves, or a shape chain needs its value): plans with
                 * the batch fixed, one per batch bucket. */
                int nb;
                xsymdim_t *bd = top ? batch_dims(mp, bind, n_bind, &nb)
                                    : NULL;
                if (bd) {
                        swarm_err_t fe;
                        swarm_err_clear(&fe);
                        swarm_model_destroy(m);
                        m = NULL;
                        onnx__model_proto__free_unpacked(mp, NULL);
                        mp = NULL;
                        if (exec_shaped_new(buf, len, bind, n_bind, dir, be,
                                            bd, nb, out, NULL, &fe) ==
                            SWARM_OK) {
                                /* the batched refusal is no error now (and
                                 * would mask the caller's next one:
                                 * swarm_err_set keeps the first) */
                                if (err)
                                        swarm_err_clear(err);
                                rc = SWARM_OK;
                                goto out;
                        }
                        fixed_batch_why(err, &fe);
                }
        }
        if (rc) {
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

int swarm_model_load_mem_bound(const void *buf, size_t len,
                               const swarm_tensor_t *bind, int n_bind,
                               swarm_backend_t *be, swarm_model_t **out,
                               swarm_err_t *err) {
        return load_mem_dir(buf, len, bind, n_bind, NULL, be, out, err);
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
                /* External tensor data sits next to the model file. */
                char dir[4096];
                const char *slash = strrchr(path, '/');
                if (!slash)
                        snprintf(dir, sizeof(dir), ".");
                else if (slash == path)
                        snprintf(dir, sizeof(dir), "/");
                else
                        snprintf(dir, sizeof(dir), "%.*s",
                                 (int)(slash - path), path);
                rc = load_mem_dir(buf, len, NULL, 0, dir, be, out, err);
                if (rc)
                        swarm_err_prefix(err, "%s: ", path);
        }
out:
        if (f)
                fclose(f);
        free(buf);
        return rc;
}
