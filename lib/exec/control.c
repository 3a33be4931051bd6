/*
 * control.c - Loop, If and the sequence operators, expanded at load.
 *
 * The executor runs a fixed list of kernels per plan, so control flow is
 * resolved while loading: an If whose condition folds keeps only the
 * branch taken, and a Loop whose trip count and condition fold is unrolled,
 * each iteration's body instantiated as plain nodes (the iteration number
 * a constant, so the Slice / Gather indices the exporters compute from it
 * fold too).  The forms PyTorch emits (nn.EmbeddingBag: one iteration per
 * bag; TorchScript loops over a dim of an input) have trip counts that
 * follow the batch: a model with such a Loop loads as plans with a fixed
 * batch (shaped.c), where they are constants.  Sequences live at load only:
 * a sequence value is the list of its tensors' value ids, and
 * ConcatFromSequence / SequenceAt / SplitToSequence become Concat /
 * Identity / Slice nodes.
 *
 * The plain nodes of an expanded node are kept in its blk array while the
 * loader infers the rest of the graph (so the node list it walks does not
 * move), then spliced in its place (exec_ctl_flatten).  What runs is then
 * ordinary nodes: each is placed on the backend or on the host like any
 * other.  Bounds: EXEC_LOOP_MAX_TRIPS iterations per Loop,
 * EXEC_CTL_MAX_NODES expanded nodes per plan, EXEC_SEQ_MAX tensors per
 * sequence, 32 levels of nesting.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"
#include "node_err.h"
#include "onnx.pb-c.h"
#include "tensor_decode.h"

#define MAX_DEPTH 32
#define ATTR_GRAPH ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH
#define ATTR_GRAPHS ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS

static const char *nz(const char *s) {
        return s ? s : "";
}

/* ---- a string -> int map (names are the protobuf's strings) ---- */

typedef struct smap {
        const char **k;
        int *v;
        size_t cap, n;
} smap_t;

static uint64_t hash_str(const char *s) {
        uint64_t h = 1469598103934665603ull;
        for (; *s; s++)
                h = (h ^ (uint8_t)*s) * 1099511628211ull;
        return h;
}

static int smap_get(const smap_t *s, const char *k) {
        if (!s->cap)
                return -1;
        for (size_t i = hash_str(k) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
                if (!s->k[i])
                        return -1;
                if (strcmp(s->k[i], k) == 0)
                        return s->v[i];
        }
}

static int smap_put(smap_t *s, const char *k, int v) {
        size_t i;
        if (2 * (s->n + 1) > s->cap) {
                smap_t g = {NULL, NULL, s->cap ? 2 * s->cap : 16, 0};
                g.k = calloc(g.cap, sizeof(*g.k));
                g.v = calloc(g.cap, sizeof(*g.v));
                if (!g.k || !g.v) {
                        free(g.k);
                        free(g.v);
                        return -1;
                }
                for (size_t j = 0; j < s->cap; j++)
                        if (s->k[j])
                                smap_put(&g, s->k[j], s->v[j]);
                free(s->k);
                free(s->v);
                *s = g;
        }
        for (i = hash_str(k) & (s->cap - 1); s->k[i];
             i = (i + 1) & (s->cap - 1))
                if (strcmp(s->k[i], k) == 0) {
                        s->v[i] = v;
                        return 0;
                }
        s->k[i] = k;
        s->v[i] = v;
        s->n++;
        return 0;
}

static void smap_free(smap_t *s) {
        free(s->k);
        free(s->v);
        memset(s, 0, sizeof(*s));
}

/* A list of distinct names. */
typedef struct slist {
        const char **a;
        int n, cap;
        smap_t set;
} slist_t;

static int slist_add(slist_t *l, const char *s) {
        if (smap_get(&l->set, s) >= 0)
                return 0;
        if (l->n == l->cap) {
                int cap = l->cap ? 2 * l->cap : 8;
                const char **na = realloc(l->a, (size_t)cap * sizeof(*na));
                if (!na)
                        return -1;
                l->a = na;
                l->cap = cap;
        }
        if (smap_put(&l->set, s, l->n))
                return -1;
        l->a[l->n++] = s;
        return 0;
}

static void slist_free(slist_t *l) {
        free(l->a);
        smap_free(&l->set);
        memset(l, 0, sizeof(*l));
}

/* ---- outer-scope names ---- */

static int graph_free(const Onnx__GraphProto *g, slist_t *out, int depth,
                      swarm_err_t *err);

/* Free names of one node's subgraphs into out, minus those in def. */
static int node_free(const Onnx__NodeProto *np, const smap_t *def,
                     slist_t *out, int depth, swarm_err_t *err) {
        for (size_t a = 0; a < np->n_attribute; a++) {
                const Onnx__AttributeProto *at = np->attribute[a];
                size_t ng;
                if (!at)
                        continue;
                ng = at->type == ATTR_GRAPHS ? at->n_graphs : at->g ? 1 : 0;
                for (size_t k = 0; k < ng; k++) {
                        const Onnx__GraphProto *sg =
                                at->type == ATTR_GRAPHS ? at->graphs[k] : at->g;
                        slist_t sub;
                        int rc;
                        if (!sg)
                                continue;
                        memset(&sub, 0, sizeof(sub));
                        rc = graph_free(sg, &sub, depth + 1, err);
                        for (int i = 0; !rc && i < sub.n; i++)
                                if ((!def || smap_get(def, sub.a[i]) < 0) &&
                                    slist_add(out, sub.a[i]))
                                        rc = swarm_err_set(err, SWARM_ERR_NOMEM,
                                                           "out of memory");
                        slist_free(&sub);
                        if (rc)
                                return rc;
                }
        }
        return SWARM_OK;
}

/* The names g reads that it does not define. */
static int graph_free(const Onnx__GraphProto *g, slist_t *out, int depth,
                      swarm_err_t *err) {
        smap_t def = {NULL, NULL, 0, 0};
        int rc = SWARM_OK;

        if (depth > MAX_DEPTH)
                return swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                     "subgraphs nested more than %d deep",
                                     MAX_DEPTH);
        for (size_t i = 0; i < g->n_input && !rc; i++)
                if (g->input[i] && smap_put(&def, nz(g->input[i]->name), 1))
                        rc = -1;
        for (size_t i = 0; i < g->n_initializer && !rc; i++)
                if (g->initializer[i] &&
                    smap_put(&def, nz(g->initializer[i]->name), 1))
                        rc = -1;
        for (size_t i = 0; i < g->n_node && !rc; i++)
                for (size_t j = 0; g->node[i] && j < g->node[i]->n_output;
                     j++)
                        if (*nz(g->node[i]->output[j]) &&
                            smap_put(&def, g->node[i]->output[j], 1))
                                rc = -1;
        if (rc) {
                smap_free(&def);
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        }
        for (size_t i = 0; i < g->n_node && !rc; i++) {
                const Onnx__NodeProto *np = g->node[i];
                if (!np)
                        continue;
                for (size_t j = 0; j < np->n_input && !rc; j++)
                        if (*nz(np->input[j]) &&
                            smap_get(&def, np->input[j]) < 0 &&
                            slist_add(out, np->input[j]))
                                rc = swarm_err_set(err, SWARM_ERR_NOMEM,
                                                   "out of memory");
                if (!rc)
                        rc = node_free(np, &def, out, depth, err);
        }
        smap_free(&def);
        return rc;
}

int exec_ctl_captures(const Onnx__NodeProto *np, const char ***names,
                      int *n, swarm_err_t *err) {
        slist_t l;
        int rc;

        *names = NULL;
        *n = 0;
        memset(&l, 0, sizeof(l));
        if ((rc = node_free(np, NULL, &l, 0, err))) {
                slist_free(&l);
                return rc;
        }
        *names = l.a;
        *n = l.n;
        l.a = NULL;
        slist_free(&l);
        return SWARM_OK;
}

int exec_ctl_op(const char *op) {
        static const char *const T[] = {
                "Loop", "If", "SequenceEmpty", "SequenceConstruct",
                "SequenceInsert", "SequenceErase", "SequenceAt",
                "SequenceLength", "ConcatFromSequence", "SplitToSequence",
                NULL};
        for (int i = 0; T[i]; i++)
                if (strcmp(op, T[i]) == 0)
                        return 1;
        return 0;
}

/* ---- expansion ---- */

/* Names visible in a body: its own (this iteration's), then outward. */
typedef struct scope {
        smap_t map;
        const struct scope *up;
} scope_t;

static int scope_find(const scope_t *s, const char *name) {
        for (; s; s = s->up) {
                int id = smap_get(&s->map, name);
                if (id >= 0)
                        return id;
        }
        return -1;
}

static const Onnx__GraphProto *attr_graph(const Onnx__NodeProto *np,
                                          const char *name) {
        for (size_t i = 0; i < np->n_attribute; i++)
                if (np->attribute[i] &&
                    strcmp(nz(np->attribute[i]->name), name) == 0)
                        return np->attribute[i]->g;
        return NULL;
}

static int attr_i(const Onnx__NodeProto *np, const char *name, int64_t def,
                  int64_t *out) {
        *out = def;
        for (size_t i = 0; i < np->n_attribute; i++)
                if (np->attribute[i] &&
                    strcmp(nz(np->attribute[i]->name), name) == 0) {
                        if (!np->attribute[i]->has_i)
                                return -1;
                        *out = np->attribute[i]->i;
                }
        return 0;
}

/* A new run-time value (filled by the node that computes it). */
static int new_temp(swarm_model_t *m, const char *name) {
        xvalue_t *v;
        if (m->n_vals >= EXEC_MAX_VALS || exec_reserve_vals(m, 1))
                return -1;
        v = &m->vals[m->n_vals];
        memset(v, 0, sizeof(*v));
        v->name = strdup(name);
        if (!v->name)
                return -1;
        v->kind = V_TEMP;
        v->producer = -1;
        v->slot = -1;
        v->input_idx = -1;
        v->last_use = -1;
        return m->n_vals++;
}

/* An INT64 / BOOL scalar constant. */
static int new_scalar(swarm_model_t *m, const char *hint, swarm_dtype_t dt,
                      int64_t val) {
        void *h = malloc(8);
        int id;
        if (!h || exec_reserve_vals(m, 1)) {
                free(h);
                return -1;
        }
        if (dt == SWARM_DTYPE_BOOL)
                *(uint8_t *)h = val != 0;
        else
                *(int64_t *)h = val;
        id = exec_new_const(m, hint, dt, 0, (const int64_t[1]){1}, h);
        if (id < 0)
                free(h);
        return id;
}

static int new_ints(swarm_model_t *m, const char *hint, const int64_t *vals,
                    int64_t cnt) {
        int64_t *h = malloc((size_t)(cnt > 0 ? cnt : 1) * 8);
        int64_t shape[1] = {cnt};
        int id;
        if (!h || exec_reserve_vals(m, 1)) {
                free(h);
                return -1;
        }
        memcpy(h, vals, (size_t)cnt * 8);
        id = exec_new_const(m, hint, SWARM_DTYPE_INT64, 1, shape, h);
        if (id < 0)
                free(h);
        return id;
}

/* The folded scalar value of v (int, bool, float), -1 with why. */
static int scalar_of(const swarm_model_t *m, int id, int64_t *out,
                     const char **why) {
        const xvalue_t *v = &m->vals[id];
        if (v->is_seq) {
                *why = "is a sequence";
                return -1;
        }
        if (v->kind != V_CONST || !v->host) {
                *why = "is computed at run time";
                return -1;
        }
        if (swarm_shape_elems(v->shape, v->ndim) != 1) {
                *why = "is not a scalar";
                return -1;
        }
        if (v->nsym && v->nsym[0]) {
                *why = "depends on the batch size";
                return -1;
        }
        switch (v->dtype) {
        case SWARM_DTYPE_INT64:
        case SWARM_DTYPE_INT32:         /* held widened */
                *out = v->widened || v->dtype == SWARM_DTYPE_INT64
                       ? ((const int64_t *)v->host)[0]
                       : ((const int32_t *)v->host)[0];
                return 0;
        case SWARM_DTYPE_BOOL:
        case SWARM_DTYPE_UINT8:
                *out = ((const uint8_t *)v->host)[0];
                return 0;
        case SWARM_DTYPE_INT8:
                *out = ((const int8_t *)v->host)[0];
                return 0;
        case SWARM_DTYPE_FLOAT32:
                *out = ((const float *)v->host)[0] != 0;
                return 0;
        default:
                *why = "has an unsupported element type";
                return -1;
        }
}

/* Append a node to host's expansion: op (from bp, a body's NodeProto)
 * with inputs resolved in sc, outputs named after bp's plus sfx.  ins:
 * value ids to use instead of bp's input names (NULL: resolve them);
 * out0 >= 0: the value id output 0 is written to.  The new node is
 * inferred at once (folding what it can).  *first_out: its output 0. */
static int add_node(swarm_model_t *m, xnode_t *host,
                    const Onnx__NodeProto *bp, const scope_t *sc,
                    const int *ins, int out0, const char *sfx,
                    int64_t opset, scope_t *defs, swarm_err_t *err) {
        xnode_t *k;
        const char **caps = NULL;
        int n_caps = 0, rc, min_in, max_in;
        char nm[256];
        size_t n_in = bp->n_input;

        if (m->ctl_nodes >= EXEC_CTL_MAX_NODES)
                return node_err(err, SWARM_ERR_UNSUPPORTED, host,
                                "expands into more than %lld nodes",
                                (long long)EXEC_CTL_MAX_NODES);
        m->ctl_nodes++;
        if (!bp->op_type || !*bp->op_type)
                return node_err(err, SWARM_ERR_INVALID, host,
                                "a subgraph node has no operator type");
        if (*nz(bp->domain) && strcmp(nz(bp->domain), "ai.onnx") != 0)
                return node_err(err, SWARM_ERR_UNSUPPORTED, host,
                                "subgraph node '%s': operator domain '%s' is not "
                                "supported", nz(bp->name), bp->domain);
        if (exec_op_inputs(bp->op_type, &min_in, &max_in))
                return node_err(err, SWARM_ERR_UNSUPPORTED, host,
                                "subgraph node '%s' (%s): operator is not "
                                "supported (opset %lld)", nz(bp->name),
                                bp->op_type, (long long)opset);
        while (n_in > 0 && !*nz(bp->input[n_in - 1]))
                n_in--;
        if ((int64_t)n_in < min_in || (int64_t)n_in > max_in)
                return node_err(err, SWARM_ERR_INVALID, host,
                                "subgraph node '%s' (%s): %zu inputs (expected "
                                "%d to %d)", nz(bp->name), bp->op_type,
                                bp->n_input, min_in, max_in);
        if (bp->n_output < 1 || bp->n_output > 4096)
                return node_err(err, SWARM_ERR_INVALID, host,
                                "subgraph node '%s' (%s): %zu outputs",
                                nz(bp->name), bp->op_type, bp->n_output);
        if ((rc = exec_ctl_captures(bp, &caps, &n_caps, err)))
                return rc;
        if (host->n_blk == host->cap_blk) {
                int cap = host->cap_blk ? 2 * host->cap_blk : 16;
                xnode_t *nb = realloc(host->blk, (size_t)cap * sizeof(*nb));
                if (!nb) {
                        free(caps);
                        return node_err(err, SWARM_ERR_NOMEM, host,
                                        "out of memory");
                }
                host->blk = nb;
                host->cap_blk = cap;
        }
        k = &host->blk[host->n_blk];
        memset(k, 0, sizeof(*k));
        snprintf(nm, sizeof(nm), "%s%s", *nz(bp->name) ? bp->name
                                                       : bp->op_type, sfx);
        k->name = strdup(nm);
        k->op_type = strdup(bp->op_type);
        k->bias = -1;
        k->out = -1;
        k->src = -1;
        k->in = malloc((bp->n_input + (size_t)n_caps + 4) * sizeof(int));
        if (!k->name || !k->op_type || !k->in) {
                free(caps);
                exec_node_free(k);
                return node_err(err, SWARM_ERR_NOMEM, host, "out of memory");
        }
        host->n_blk++;
        for (size_t j = 0; j < bp->n_input + (size_t)n_caps + 4; j++)
                k->in[j] = -1;
        k->n_in = (int)n_in;
        for (size_t j = 0; j < n_in; j++) {
                const char *in = nz(bp->input[j]);
                if (ins)
                        k->in[j] = ins[j];
                else if (*in && (k->in[j] = scope_find(sc, in)) < 0) {
                        free(caps);
                        return node_err(err, SWARM_ERR_INVALID, k,
                                        "input '%s' is not defined in the "
                                        "subgraph or an enclosing scope", in);
                }
        }
        if (n_caps) {
                k->n_in = (int)bp->n_input + n_caps;
                for (int j = 0; j < n_caps; j++)
                        if ((k->in[bp->n_input + (size_t)j] =
                             scope_find(sc, caps[j])) < 0) {
                                rc = node_err(err, SWARM_ERR_INVALID, k,
                                              "subgraph input '%s' is not "
                                              "defined in an enclosing scope",
                                              caps[j]);
                                free(caps);
                                return rc;
                        }
        }
        free(caps);
        if (exec_multi_output(bp->op_type) && bp->n_output > 1) {
                size_t mo = (size_t)exec_multi_output(bp->op_type);
                k->n_xo = (int)(bp->n_output < mo ? bp->n_output : mo) - 1;
                k->xo = malloc((size_t)k->n_xo * sizeof(int));
                if (!k->xo)
                        return node_err(err, SWARM_ERR_NOMEM, k, "out of memory");
                for (int j = 0; j < k->n_xo; j++)
                        k->xo[j] = -1;
        }
        for (size_t j = 0; j < bp->n_output; j++) {
                const char *on = nz(bp->output[j]);
                int id;
                if (!*on && !(j == 0 && (k->n_xo || out0 >= 0)))
                        continue;
                if (j == 0 && out0 >= 0) {
                        id = out0;
                } else {
                        snprintf(nm, sizeof(nm), "%s%s", *on ? on : "#out0",
                                 sfx);
                        if ((id = new_temp(m, nm)) < 0)
                                return node_err(err, SWARM_ERR_NOMEM, k,
                                                "out of memory");
                        /* outputs past what the operator computes */
                        m->vals[id].unusable = j > 0 && (int)j > k->n_xo;
                }
                if (j == 0)
                        k->out = id;
                else if ((int)j <= k->n_xo)
                        k->xo[j - 1] = id;
                if (*on && defs && smap_put(&defs->map, on, id))
                        return node_err(err, SWARM_ERR_NOMEM, k, "out of memory");
        }
        if (k->out < 0)
                return node_err(err, SWARM_ERR_INVALID, k, "no output");
        for (int j = 0; j < k->n_in; j++)
                if (k->in[j] >= 0 && m->vals[k->in[j]].is_seq &&
                    !exec_ctl_op(k->op_type))
                        return node_err(err, SWARM_ERR_UNSUPPORTED, k,
                                        "input '%s' is a sequence",
                                        m->vals[k->in[j]].name);
        /* k stays valid: nested expansions grow their own blk. */
        return exec_infer_node(m, k, bp, opset, err);
}

/* A plain node built here (Identity, Unsqueeze, Concat, Slice, Gather),
 * at opset 13 whatever the model's: the forms with axes as inputs. */
static int add_plain(swarm_model_t *m, xnode_t *host, const char *op,
                     const int *ins, int n_in, int out0, int64_t axis,
                     int with_axis, const char *sfx, int *out,
                     swarm_err_t *err) {
        Onnx__NodeProto np = ONNX__NODE_PROTO__INIT;
        Onnx__AttributeProto at = ONNX__ATTRIBUTE_PROTO__INIT;
        Onnx__AttributeProto *atp = &at;
        char *innames[64], *outname[1];
        char nm[128];
        int rc;

        if (n_in > 64)
                return node_err(err, SWARM_ERR_INVALID, host, "%d inputs", n_in);
        for (int j = 0; j < n_in; j++)
                innames[j] = m->vals[ins[j]].name;
        snprintf(nm, sizeof(nm), "%s#%s", host->name, op);
        outname[0] = nm;
        np.name = nm;
        np.op_type = (char *)op;
        np.n_input = (size_t)n_in;
        np.input = innames;
        np.n_output = 1;
        np.output = outname;
        if (with_axis) {
                at.name = (char *)"axis";
                at.has_type = 1;
                at.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
                at.has_i = 1;
                at.i = axis;
                np.n_attribute = 1;
                np.attribute = &atp;
        }
        rc = add_node(m, host, &np, NULL, ins, out0, sfx, 13, NULL, err);
        if (!rc && out)
                *out = host->blk[host->n_blk - 1].out;
        return rc;
}

/* Make the node's declared output `dst` what src holds: a sequence's list,
 * or an Identity copy of a tensor. */
static int link_out(swarm_model_t *m, xnode_t *host, int src, int dst,
                    swarm_err_t *err) {
        if (dst < 0)
                return SWARM_OK;
        if (m->vals[src].is_seq) {
                xvalue_t *d = &m->vals[dst];
                const xvalue_t *s = &m->vals[src];
                free(d->seq);
                d->seq = malloc((size_t)(s->n_seq ? s->n_seq : 1) *
                                sizeof(int));
                if (!d->seq)
                        return node_err(err, SWARM_ERR_NOMEM, host,
                                        "out of memory");
                memcpy(d->seq, s->seq, (size_t)s->n_seq * sizeof(int));
                d->n_seq = s->n_seq;
                d->is_seq = 1;
                d->dtype = s->dtype;
                return SWARM_OK;
        }
        return add_plain(m, host, "Identity", &src, 1, dst, 0, 0, "#out",
                         NULL, err);
}

static int out_id(const xnode_t *n, size_t j) {
        if (j == 0)
                return n->out;
        return (int)j <= n->n_xo ? n->xo[j - 1] : -1;
}

/* The scope of a control node's own outer-scope reads (its captures). */
static int capture_scope(const swarm_model_t *m, const xnode_t *n,
                         const Onnx__NodeProto *np, scope_t *sc,
                         swarm_err_t *err) {
        const char **caps;
        int nc, rc;

        (void)m;
        memset(sc, 0, sizeof(*sc));
        if ((rc = exec_ctl_captures(np, &caps, &nc, err)))
                return rc;
        if ((int64_t)np->n_input + nc > n->n_in) {
                free(caps);
                return node_err(err, SWARM_ERR_INVALID, n,
                                "outer-scope values not resolved");
        }
        for (int j = 0; j < nc; j++)
                if (smap_put(&sc->map, caps[j],
                             n->in[np->n_input + (size_t)j])) {
                        free(caps);
                        return node_err(err, SWARM_ERR_NOMEM, n, "out of memory");
                }
        free(caps);
        return SWARM_OK;
}

/* A subgraph's initializers as constants, into sc. */
static int graph_consts(swarm_model_t *m, const xnode_t *n,
                        const Onnx__GraphProto *g, scope_t *sc,
                        swarm_err_t *err) {
        for (size_t i = 0; i < g->n_initializer; i++) {
                const Onnx__TensorProto *t = g->initializer[i];
                swarm_dtype_t dt;
                int64_t shape[SWARM_MAX_DIMS];
                int ndim, id, rc;
                void *data = NULL;
                size_t bytes;
                if (!t)
                        continue;
                if ((rc = exec_tensor_decode(t, &dt, &ndim, shape, &data,
                                             &bytes, err))) {
                        swarm_err_prefix(err, "node '%s' (%s): ", n->name,
                                         n->op_type);
                        return rc;
                }
                if (exec_reserve_vals(m, 1) ||
                    (id = exec_new_const(m, nz(t->name), dt, ndim, shape,
                                         data)) < 0) {
                        free(data);
                        return node_err(err, SWARM_ERR_NOMEM, n, "out of memory");
                }
                m->vals[id].widened = t->data_type ==
                                      ONNX__TENSOR_PROTO__DATA_TYPE__INT32;
                if (smap_put(&sc->map, nz(t->name), id))
                        return node_err(err, SWARM_ERR_NOMEM, n, "out of memory");
        }
        return SWARM_OK;
}

/* Instantiate a subgraph's nodes in sc (which has its inputs). */
static int graph_nodes(swarm_model_t *m, xnode_t *host,
                       const Onnx__GraphProto *g, scope_t *sc,
                       const char *sfx, int64_t opset, swarm_err_t *err) {
        for (size_t i = 0; i < g->n_node; i++) {
                int rc;
                if (!g->node[i])
                        continue;
                /* Nodes are in order (ONNX requires it of subgraphs); an
                 * input defined later is reported as undefined. */
                if ((rc = add_node(m, host, g->node[i], sc, NULL, -1, sfx,
                                   opset, sc, err))) {
                        swarm_err_prefix(err, "node '%s' (%s), in its %s: ",
                                         host->name, host->op_type,
                                         strcmp(host->op_type, "Loop") == 0
                                         ? "body" : "branch");
                        return rc;
                }
        }
        return SWARM_OK;
}

static int graph_out(const scope_t *sc, const Onnx__GraphProto *g,
                     size_t j) {
        return g->output[j] ? scope_find(sc, nz(g->output[j]->name)) : -1;
}

static int refuse_scalar(swarm_model_t *m, const xnode_t *n,
                         const char *what, const char *why,
                         swarm_err_t *err) {
        /* A count or condition that follows the batch (an input with
         * batch marks) is a constant in plans with a fixed batch: the
         * loader's batch_bound() sees it and tries those. */
        (void)m;
        return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                        "the %s %s (control flow is resolved at load: it must "
                        "be known then, or follow the batch size)", what, why);
}

int exec_ctl_if(swarm_model_t *m, xnode_t *n, const Onnx__NodeProto *np,
                int64_t opset, swarm_err_t *err) {
        const Onnx__GraphProto *g;
        scope_t sc;
        int64_t c;
        const char *why;
        int rc;

        if (scalar_of(m, n->in[0], &c, &why))
                return refuse_scalar(m, n, "condition", why, err);
        g = attr_graph(np, c ? "then_branch" : "else_branch");
        if (!g)
                return node_err(err, SWARM_ERR_INVALID, n, "no %s",
                                c ? "then_branch" : "else_branch");
        if (g->n_output != np->n_output)
                return node_err(err, SWARM_ERR_INVALID, n,
                                "the branch has %zu outputs, the node %zu",
                                g->n_output, np->n_output);
        if ((rc = capture_scope(m, n, np, &sc, err)))
                return rc;
        {
                scope_t body = {{NULL, NULL, 0, 0}, &sc};
                char sfx[32];
                snprintf(sfx, sizeof(sfx), "#%s", c ? "then" : "else");
                rc = graph_consts(m, n, g, &body, err);
                if (!rc)
                        rc = graph_nodes(m, n, g, &body, sfx, opset, err);
                for (size_t j = 0; !rc && j < g->n_output; j++) {
                        int src = graph_out(&body, g, j);
                        if (src < 0)
                                rc = node_err(err, SWARM_ERR_INVALID, n,
                                              "branch output %zu is not "
                                              "defined", j);
                        else
                                rc = link_out(m, n, src, out_id(n, j), err);
                }
                smap_free(&body.map);
        }
        smap_free(&sc.map);
        if (rc)
                return rc;
        n->op = OP_FOLDED;
        n->dead = 1;
        return SWARM_OK;
}

int exec_ctl_loop(swarm_model_t *m, xnode_t *n, const Onnx__NodeProto *np,
                  int64_t opset, swarm_err_t *err) {
        const Onnx__GraphProto *g = attr_graph(np, "body");
        int explicit_in = (int)np->n_input, n_carry, n_scan, rc = SWARM_OK;
        int64_t trips = -1, cond = 1, it;
        int *cur = NULL, *scan = NULL;  /* scan[k * cap + it] */
        int64_t scan_cap = 0;
        const char *why;
        scope_t sc, consts;

        if (!g)
                return node_err(err, SWARM_ERR_INVALID, n, "no body");
        n_carry = explicit_in - 2;
        if (n_carry < 0)
                n_carry = 0;
        if (g->n_input != (size_t)n_carry + 2 ||
            g->n_output < (size_t)n_carry + 1)
                return node_err(err, SWARM_ERR_INVALID, n,
                                "the body has %zu inputs and %zu outputs for %d "
                                "loop-carried values", g->n_input, g->n_output,
                                n_carry);
        n_scan = (int)(g->n_output - (size_t)n_carry - 1);
        if (np->n_output > (size_t)n_carry + (size_t)n_scan)
                return node_err(err, SWARM_ERR_INVALID, n,
                                "%zu outputs; the body makes %d", np->n_output,
                                n_carry + n_scan);
        if (explicit_in > 0 && n->in[0] >= 0 &&
            scalar_of(m, n->in[0], &trips, &why))
                return refuse_scalar(m, n, "trip count", why, err);
        if (explicit_in > 1 && n->in[1] >= 0 &&
            scalar_of(m, n->in[1], &cond, &why))
                return refuse_scalar(m, n, "condition", why, err);
        if (trips < 0 && explicit_in > 0 && n->in[0] >= 0)
                trips = 0;      /* a negative M runs no iteration */
        if (trips > EXEC_LOOP_MAX_TRIPS)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "trip count %lld is above the limit of %d",
                                (long long)trips, EXEC_LOOP_MAX_TRIPS);
        if ((rc = capture_scope(m, n, np, &sc, err)))
                return rc;
        memset(&consts, 0, sizeof(consts));
        consts.up = &sc;
        cur = malloc((size_t)(n_carry + 1) * sizeof(int));
        if (!cur) {
                rc = node_err(err, SWARM_ERR_NOMEM, n, "out of memory");
                goto out;
        }
        for (int j = 0; j < n_carry; j++)
                cur[j] = n->in[2 + j];
        for (int j = 0; j < n_carry; j++)
                if (cur[j] < 0) {
                        rc = node_err(err, SWARM_ERR_INVALID, n,
                                      "loop-carried input %d is missing", j);
                        goto out;
                }
        if ((rc = graph_consts(m, n, g, &consts, err)))
                goto out;
        for (it = 0; (trips < 0 || it < trips) && cond; it++) {
                scope_t body = {{NULL, NULL, 0, 0}, &consts};
                char sfx[32];
                int id;
                if (it >= EXEC_LOOP_MAX_TRIPS) {
                        rc = node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                      "still running after %d iterations (the "
                                      "limit)", EXEC_LOOP_MAX_TRIPS);
                        goto out;
                }
                snprintf(sfx, sizeof(sfx), "#%lld", (long long)it);
                if ((id = new_scalar(m, "iter", SWARM_DTYPE_INT64, it)) < 0 ||
                    smap_put(&body.map, nz(g->input[0]->name), id) ||
                    (id = new_scalar(m, "cond", SWARM_DTYPE_BOOL, 1)) < 0 ||
                    smap_put(&body.map, nz(g->input[1]->name), id)) {
                        smap_free(&body.map);
                        rc = node_err(err, SWARM_ERR_NOMEM, n, "out of memory");
                        goto out;
                }
                for (int j = 0; j < n_carry && !rc; j++)
                        if (g->input[2 + j] &&
                            smap_put(&body.map, nz(g->input[2 + j]->name),
                                     cur[j]))
                                rc = node_err(err, SWARM_ERR_NOMEM, n,
                                              "out of memory");
                if (!rc)
                        rc = graph_nodes(m, n, g, &body, sfx, opset, err);
                for (size_t j = 0; !rc && j < g->n_output; j++)
                        if (graph_out(&body, g, j) < 0)
                                rc = node_err(err, SWARM_ERR_INVALID, n,
                                              "body output %zu is not defined",
                                              j);
                if (!rc && scalar_of(m, graph_out(&body, g, 0), &cond, &why))
                        rc = refuse_scalar(m, n, "condition the body computes",
                                           why, err);
                for (int j = 0; !rc && j < n_carry; j++)
                        cur[j] = graph_out(&body, g, 1 + (size_t)j);
                if (!rc && n_scan && it >= scan_cap) {
                        int64_t cap = scan_cap ? 2 * scan_cap : 16;
                        int *ns = malloc((size_t)(cap * n_scan) *
                                         sizeof(int));
                        if (!ns) {
                                rc = node_err(err, SWARM_ERR_NOMEM, n,
                                              "out of memory");
                        } else {
                                for (int k = 0; k < n_scan; k++)
                                        for (int64_t i = 0; i < it; i++)
                                                ns[k * cap + i] =
                                                        scan[k * scan_cap + i];
                                free(scan);
                                scan = ns;
                                scan_cap = cap;
                        }
                }
                for (int k = 0; !rc && k < n_scan; k++) {
                        int s = graph_out(&body, g, 1 + (size_t)n_carry +
                                                    (size_t)k);
                        if (m->vals[s].is_seq)
                                rc = node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                              "scan output %d is a sequence", k);
                        scan[k * scan_cap + it] = s;
                }
                smap_free(&body.map);
                if (rc)
                        goto out;
        }
        for (int j = 0; j < n_carry && (size_t)j < np->n_output; j++)
                if ((rc = link_out(m, n, cur[j], out_id(n, (size_t)j), err)))
                        goto out;
        for (int k = 0; k < n_scan &&
             (size_t)(n_carry + k) < np->n_output; k++) {
                int dst = out_id(n, (size_t)(n_carry + k)), cat;
                int *parts;
                int64_t zero = 0;
                if (dst < 0)
                        continue;
                if (it == 0) {
                        rc = node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                      "no iterations: the shape of scan output "
                                      "%d is unknown", k);
                        goto out;
                }
                parts = malloc((size_t)it * sizeof(int));
                if (!parts) {
                        rc = node_err(err, SWARM_ERR_NOMEM, n, "out of memory");
                        goto out;
                }
                {
                        int axes = new_ints(m, "axes", &zero, 1);
                        if (axes < 0)
                                rc = node_err(err, SWARM_ERR_NOMEM, n,
                                              "out of memory");
                        for (int64_t i = 0; !rc && i < it; i++) {
                                int ui[2] = {scan[k * scan_cap + i], axes};
                                rc = add_plain(m, n, "Unsqueeze", ui, 2,
                                               it == 1 ? dst : -1, 0, 0,
                                               "#scan", &parts[i], err);
                        }
                }
                /* Concat takes at most 64 inputs: join in rounds. */
                for (int64_t cnt = it; !rc && cnt > 1;) {
                        int64_t nc = 0;
                        for (int64_t i = 0; !rc && i < cnt; i += 64) {
                                int64_t w = cnt - i < 64 ? cnt - i : 64;
                                int fin = cnt <= 64;
                                if (w == 1) {
                                        parts[nc++] = parts[i];
                                        continue;
                                }
                                rc = add_plain(m, n, "Concat", &parts[i],
                                               (int)w, fin ? dst : -1, 0, 1,
                                               "#scan", &cat, err);
                                parts[nc++] = cat;
                        }
                        cnt = nc;
                }
                free(parts);
                if (rc)
                        goto out;
        }
        n->op = OP_FOLDED;
        n->dead = 1;
out:
        smap_free(&consts.map);
        smap_free(&sc.map);
        free(cur);
        free(scan);
        return rc;
}

/* ---- sequences ---- */

static int set_seq(swarm_model_t *m, xnode_t *n, int dst, const int *ids,
                   int cnt, swarm_dtype_t dt, swarm_err_t *err) {
        xvalue_t *d = &m->vals[dst];
        if (cnt > EXEC_SEQ_MAX)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "a sequence of more than %d tensors",
                                EXEC_SEQ_MAX);
        free(d->seq);
        d->seq = malloc((size_t)(cnt ? cnt : 1) * sizeof(int));
        if (!d->seq)
                return node_err(err, SWARM_ERR_NOMEM, n, "out of memory");
        if (cnt)
                memcpy(d->seq, ids, (size_t)cnt * sizeof(int));
        d->n_seq = cnt;
        d->is_seq = 1;
        d->dtype = dt;
        d->kind = V_TEMP;
        n->op = OP_FOLDED;
        n->dead = 1;
        return SWARM_OK;
}

/* The tensor types a sequence may hold: the loader's ONNX dtypes without
 * float64. */
static int onnx_dt(int64_t t, swarm_dtype_t *dt) {
        if (t < 0 || t > INT32_MAX || t == ONNX_DOUBLE)
                return -1;
        return exec_onnx_dtype((int32_t)t, dt);
}

/* A position into a sequence of cnt tensors (end: cnt allowed). */
static int seq_pos(swarm_model_t *m, xnode_t *n, int j, int64_t cnt, int end,
                   int64_t def, int64_t *pos, swarm_err_t *err) {
        const char *why;
        *pos = def;
        if (j < n->n_in && n->in[j] >= 0) {
                if (scalar_of(m, n->in[j], pos, &why))
                        return refuse_scalar(m, n, "position", why, err);
                if (*pos < 0)
                        *pos += cnt;
        }
        if (*pos < 0 || *pos > cnt - (end ? 0 : 1))
                return node_err(err, SWARM_ERR_INVALID, n,
                                "position %lld out of range for a sequence of "
                                "%lld", (long long)*pos, (long long)cnt);
        return SWARM_OK;
}

static int need_seq(const swarm_model_t *m, const xnode_t *n, int j,
                    swarm_err_t *err) {
        if (j >= n->n_in || n->in[j] < 0 || !m->vals[n->in[j]].is_seq)
                return node_err(err, SWARM_ERR_INVALID, n,
                                "input %d must be a sequence", j);
        return SWARM_OK;
}

static int need_tensor(const swarm_model_t *m, const xnode_t *n, int j,
                       swarm_err_t *err) {
        if (j >= n->n_in || n->in[j] < 0 || m->vals[n->in[j]].is_seq)
                return node_err(err, SWARM_ERR_INVALID, n,
                                "input %d must be a tensor", j);
        return SWARM_OK;
}

/* The part sizes of a Split: at most EXEC_SEQ_MAX parts (a sequence holds no
 * more), never a zero-byte malloc. */
static int split_sizes_new(const xnode_t *n, int64_t nparts, int64_t **sizes,
                           swarm_err_t *err) {
        if (nparts > EXEC_SEQ_MAX)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "more than %d parts", EXEC_SEQ_MAX);
        *sizes = malloc((size_t)(nparts ? nparts : 1) * sizeof(**sizes));
        if (!*sizes)
                return node_err(err, SWARM_ERR_NOMEM, n, "out of memory");
        return SWARM_OK;
}

static int split_to_seq(swarm_model_t *m, xnode_t *n,
                        const Onnx__NodeProto *np, swarm_err_t *err) {
        int64_t axis, keep, dim, nparts, start = 0;
        int64_t *sizes = NULL;
        int *ids = NULL, rc = SWARM_OK;
        int rank;
        int x;

        if ((rc = need_tensor(m, n, 0, err)))
                return rc;
        x = n->in[0];
        rank = m->vals[x].ndim;
        if (attr_i(np, "axis", 0, &axis) || attr_i(np, "keepdims", 1, &keep))
                return node_err(err, SWARM_ERR_INVALID, n,
                                "axis / keepdims must be ints");
        if (axis < -rank || axis >= rank)
                return node_err(err, SWARM_ERR_INVALID, n,
                                "axis %lld out of range for %d-D input",
                                (long long)axis, rank);
        if (axis < 0)
                axis += rank;
        if (axis == 0 && m->vals[x].batched)
                return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                "splitting along the batch dimension");
        dim = m->vals[x].shape[axis];
        if (n->n_in > 1 && n->in[1] >= 0) {
                const xvalue_t *s = &m->vals[n->in[1]];
                int64_t e = swarm_shape_elems(s->shape, s->ndim);
                if (s->kind != V_CONST || !s->host ||
                    (s->dtype != SWARM_DTYPE_INT64 &&
                     s->dtype != SWARM_DTYPE_INT32) || s->ndim > 1 ||
                    (s->nsym && e > 0 && s->nsym[0]))
                        return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                        "split must be a constant of int64");
                if (s->ndim == 0) {
                        int64_t c = ((const int64_t *)s->host)[0];
                        if (c <= 0)
                                return node_err(err, SWARM_ERR_INVALID, n,
                                                "split %lld", (long long)c);
                        nparts = (dim + c - 1) / c;
                        if ((rc = split_sizes_new(n, nparts, &sizes, err)))
                                return rc;
                        for (int64_t i = 0; i < nparts; i++)
                                sizes[i] = dim - i * c < c ? dim - i * c : c;
                } else {
                        int64_t tot = 0;
                        nparts = e;
                        if ((rc = split_sizes_new(n, nparts, &sizes, err)))
                                return rc;
                        for (int64_t i = 0; i < nparts; i++) {
                                sizes[i] = ((const int64_t *)s->host)[i];
                                int64_t sz = sizes[i];
                                if (sz < 0 || swarm_add_i64(tot, sz, &tot)) {
                                        free(sizes);
                                        return node_err(err, SWARM_ERR_INVALID, n,
                                                        "split size %lld",
                                                        (long long)sz);
                                }
                        }
                        if (tot != dim) {
                                free(sizes);
                                return node_err(err, SWARM_ERR_INVALID, n,
                                                "split sizes add up to %lld, "
                                                "the dim is %lld",
                                                (long long)tot, (long long)dim);
                        }
                }
                keep = 1;
        } else {
                nparts = dim;
                if ((rc = split_sizes_new(n, nparts, &sizes, err)))
                        return rc;
                for (int64_t i = 0; i < nparts; i++)
                        sizes[i] = 1;
        }
        ids = malloc((size_t)(nparts ? nparts : 1) * sizeof(int));
        if (!ids)
                rc = node_err(err, SWARM_ERR_NOMEM, n, "out of memory");
        for (int64_t i = 0; !rc && i < nparts; i++) {
                int64_t b = start, e = start + sizes[i];
                int in[4];
                if (!keep) {
                        in[0] = x;
                        in[1] = new_scalar(m, "index", SWARM_DTYPE_INT64, b);
                        if (in[1] < 0)
                                rc = node_err(err, SWARM_ERR_NOMEM, n,
                                              "out of memory");
                        else
                                rc = add_plain(m, n, "Gather", in, 2, -1,
                                               axis, 1, "#part", &ids[i],
                                               err);
                } else {
                        in[0] = x;
                        in[1] = new_ints(m, "starts", &b, 1);
                        in[2] = new_ints(m, "ends", &e, 1);
                        in[3] = new_ints(m, "axes", &axis, 1);
                        if (in[1] < 0 || in[2] < 0 || in[3] < 0)
                                rc = node_err(err, SWARM_ERR_NOMEM, n,
                                              "out of memory");
                        else
                                rc = add_plain(m, n, "Slice", in, 4, -1, 0,
                                               0, "#part", &ids[i], err);
                }
                start = e;
        }
        if (!rc)
                rc = set_seq(m, n, n->out, ids, (int)nparts,
                             m->vals[x].dtype, err);
        free(sizes);
        free(ids);
        return rc;
}

int exec_ctl_seq(swarm_model_t *m, xnode_t *n, const Onnx__NodeProto *np,
                 int64_t opset, swarm_err_t *err) {
        const char *op = n->op_type;
        int rc;

        (void)opset;
        if (strcmp(op, "SequenceEmpty") == 0) {
                int64_t t;
                swarm_dtype_t dt;
                if (attr_i(np, "dtype", 1, &t) || onnx_dt(t, &dt))
                        return node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                        "dtype %lld is not supported",
                                        (long long)t);
                return set_seq(m, n, n->out, NULL, 0, dt, err);
        }
        if (strcmp(op, "SequenceConstruct") == 0) {
                for (int j = 0; j < n->n_in; j++)
                        if ((rc = need_tensor(m, n, j, err)))
                                return rc;
                for (int j = 1; j < n->n_in; j++)
                        if (m->vals[n->in[j]].dtype !=
                            m->vals[n->in[0]].dtype)
                                return node_err(err, SWARM_ERR_INVALID, n,
                                                "tensors of different types");
                return set_seq(m, n, n->out, n->in, n->n_in,
                               m->vals[n->in[0]].dtype, err);
        }
        if (strcmp(op, "SplitToSequence") == 0)
                return split_to_seq(m, n, np, err);
        if ((rc = need_seq(m, n, 0, err)))
                return rc;
        {
                const xvalue_t *s = &m->vals[n->in[0]];
                int cnt = s->n_seq;
                swarm_dtype_t dt = s->dtype;
                int64_t pos;
                int *ids = malloc((size_t)(cnt + 2) * sizeof(int));
                if (!ids)
                        return node_err(err, SWARM_ERR_NOMEM, n, "out of memory");
                memcpy(ids, s->seq, (size_t)cnt * sizeof(int));
                if (strcmp(op, "SequenceInsert") == 0) {
                        rc = need_tensor(m, n, 1, err);
                        if (!rc && cnt && m->vals[n->in[1]].dtype != dt)
                                rc = node_err(err, SWARM_ERR_INVALID, n,
                                              "inserting %s into a sequence of "
                                              "%s",
                                              swarm_dtype_name(
                                                      m->vals[n->in[1]].dtype),
                                              swarm_dtype_name(dt));
                        if (!rc)
                                rc = seq_pos(m, n, 2, cnt, 1, cnt, &pos, err);
                        if (!rc) {
                                memmove(ids + pos + 1, ids + pos,
                                        (size_t)(cnt - pos) * sizeof(int));
                                ids[pos] = n->in[1];
                                rc = set_seq(m, n, n->out, ids, cnt + 1,
                                             m->vals[n->in[1]].dtype, err);
                        }
                } else if (strcmp(op, "SequenceErase") == 0) {
                        rc = seq_pos(m, n, 1, cnt, 0, cnt - 1, &pos, err);
                        if (!rc) {
                                memmove(ids + pos, ids + pos + 1,
                                        (size_t)(cnt - pos - 1) *
                                        sizeof(int));
                                rc = set_seq(m, n, n->out, ids, cnt - 1, dt,
                                             err);
                        }
                } else if (strcmp(op, "SequenceAt") == 0) {
                        rc = seq_pos(m, n, 1, cnt, 0, 0, &pos, err);
                        if (!rc)
                                rc = add_plain(m, n, "Identity", &ids[pos],
                                               1, n->out, 0, 0, "#at", NULL,
                                               err);
                        if (!rc) {
                                n->op = OP_FOLDED;
                                n->dead = 1;
                        }
                } else if (strcmp(op, "SequenceLength") == 0) {
                        xvalue_t *o = &m->vals[n->out];
                        int64_t *h = malloc(8);
                        if (!h) {
                                rc = node_err(err, SWARM_ERR_NOMEM, n,
                                              "out of memory");
                        } else {
                                h[0] = cnt;
                                o->kind = V_CONST;
                                o->dtype = SWARM_DTYPE_INT64;
                                o->ndim = 0;
                                o->host = h;
                                o->host_bytes = 8;
                                n->op = OP_FOLDED;
                                n->dead = 1;
                        }
                } else if (strcmp(op, "ConcatFromSequence") == 0) {
                        int64_t axis = 0, newax = 0, cnt2 = cnt; /* set: GCC -O3 cannot see attr_i() always writes them */
                        int cat = -1;
                        if (attr_i(np, "axis", 0, &axis) ||
                            attr_i(np, "new_axis", 0, &newax))
                                rc = node_err(err, SWARM_ERR_INVALID, n,
                                              "axis / new_axis must be ints");
                        else if (cnt == 0)
                                rc = node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                              "an empty sequence");
                        if (!rc && newax) {
                                int axes = new_ints(m, "axes", &axis, 1);
                                if (axes < 0)
                                        rc = node_err(err, SWARM_ERR_NOMEM, n,
                                                      "out of memory");
                                for (int i = 0; !rc && i < cnt; i++) {
                                        int ui[2] = {ids[i], axes};
                                        rc = add_plain(m, n, "Unsqueeze", ui,
                                                       2, -1, 0, 0, "#new",
                                                       &ids[i], err);
                                }
                        }
                        while (!rc && cnt2 > 1) {
                                int64_t nc = 0;
                                for (int64_t i = 0; !rc && i < cnt2;
                                     i += 64) {
                                        int64_t w = cnt2 - i < 64 ? cnt2 - i
                                                                  : 64;
                                        if (w == 1) {
                                                ids[nc++] = ids[i];
                                                continue;
                                        }
                                        rc = add_plain(m, n, "Concat",
                                                       &ids[i], (int)w,
                                                       cnt2 <= 64 ? n->out
                                                                  : -1,
                                                       axis, 1, "#cat", &cat,
                                                       err);
                                        ids[nc++] = cat;
                                }
                                cnt2 = nc;
                        }
                        if (!rc && cnt == 1)
                                rc = add_plain(m, n, "Identity", ids, 1,
                                               n->out, 0, 0, "#cat", NULL,
                                               err);
                        if (!rc) {
                                n->op = OP_FOLDED;
                                n->dead = 1;
                        }
                } else {
                        rc = node_err(err, SWARM_ERR_UNSUPPORTED, n,
                                      "operator is not supported");
                }
                free(ids);
        }
        return rc;
}

/* ---- after inference ---- */

static int64_t count_flat(const xnode_t *n) {
        int64_t c;
        if (!n->blk)
                return 1;
        c = 0;
        for (int i = 0; i < n->n_blk; i++)
                c += count_flat(&n->blk[i]);
        return c;
}

/* Move n (or its expansion) to dst[*at...]; n's own fields are freed when
 * it is replaced. */
static void move_flat(xnode_t *n, xnode_t *dst, int64_t *at) {
        if (!n->blk) {
                dst[(*at)++] = *n;
                memset(n, 0, sizeof(*n));
                return;
        }
        for (int i = 0; i < n->n_blk; i++)
                move_flat(&n->blk[i], dst, at);
        free(n->blk);
        n->blk = NULL;
        n->n_blk = 0;
        exec_node_free(n);
        memset(n, 0, sizeof(*n));
}

int exec_ctl_flatten(swarm_model_t *m, swarm_err_t *err) {
        int64_t total = 0, at = 0;
        int any = 0;
        xnode_t *nn;

        for (int i = 0; i < m->n_nodes; i++) {
                total += count_flat(&m->nodes[i]);
                any |= m->nodes[i].blk != NULL;
        }
        for (int i = 0; i < m->n_out; i++)
                if (m->vals[m->out_vals[i]].is_seq)
                        return swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                             "output '%s' is a sequence "
                                             "(only tensor outputs are "
                                             "supported)",
                                             m->vals[m->out_vals[i]].name);
        if (!any)
                return SWARM_OK;
        if (total > EXEC_MAX_NODES + EXEC_CTL_MAX_NODES)
                return swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                     "%lld nodes after expanding control "
                                     "flow", (long long)total);
        nn = calloc((size_t)total + 1, sizeof(*nn));
        if (!nn)
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        for (int i = 0; i < m->n_nodes; i++)
                move_flat(&m->nodes[i], nn, &at);
        free(m->nodes);
        m->nodes = nn;
        m->n_nodes = (int)at;
        for (int i = 0; i < m->n_vals; i++)
                m->vals[i].producer = -1;
        for (int i = 0; i < m->n_nodes; i++) {
                if (m->nodes[i].out >= 0)
                        m->vals[m->nodes[i].out].producer = i;
                for (int k = 0; k < m->nodes[i].n_xo; k++)
                        if (m->nodes[i].xo[k] >= 0)
                                m->vals[m->nodes[i].xo[k]].producer = i;
        }
        return SWARM_OK;
}

void exec_node_free(xnode_t *n) {
        for (int i = 0; n->blk && i < n->n_blk; i++)
                exec_node_free(&n->blk[i]);
        free(n->blk);
        free(n->name);
        free(n->op_type);
        free(n->in);
        free(n->xo);
        free(n->ein);
        n->blk = NULL;
        n->name = n->op_type = NULL;
        n->in = n->xo = NULL;
        n->ein = NULL;
}
