/*
 * fuse_se.c - fold the squeeze-excitation scale into the next 1x1
 * convolution (see fuse_se.h).
 *
 * MobileNetV3 and EfficientNet end each SE block with Mul(x, s) and feed
 * the product straight into the block's 1x1 projection.  As its own step
 * the Mul reads x and writes a tensor of x's size that the Conv then
 * reads again: one pass over the block's widest activation (3.5% of
 * MobileNetV3-small at batch 16, perf).  The pointwise kernel (cpu_pw.c)
 * multiplies each image row it loads by s instead; a 1x1 layer packed
 * only to run transposed (pack.c t_only) has the GEMM scale its A (the
 * image) as it packs it.
 *
 * Runs after packing, so it sees which convolutions are packed; it keeps
 * the use counts itself (exec_count_uses would count the packed filters'
 * plain copy back in, and pack.c dropped it).
 */
#include <stdlib.h>

#include "fuse_se.h"

/* x [N, C, H, W] and s [N, C, 1, 1], both with the batch as dim 0. */
static int se_shapes(const xvalue_t *x, const xvalue_t *s,
                     const xvalue_t *y) {
        if (x->ndim != 4 || s->ndim != 4 || y->ndim != 4 || !x->batched ||
            !s->batched || !y->batched || x->nsym || s->nsym || y->nsym ||
            x->dtype != SWARM_DTYPE_FLOAT32 ||
            s->dtype != SWARM_DTYPE_FLOAT32 ||
            y->dtype != SWARM_DTYPE_FLOAT32 || x->kind != V_TEMP ||
            s->kind != V_TEMP)
                return 0;
        for (int d = 0; d < 4; d++)
                if (x->shape[d] != y->shape[d])
                        return 0;
        return s->shape[0] == x->shape[0] && s->shape[1] == x->shape[1] &&
               s->shape[2] == 1 && s->shape[3] == 1;
}

void exec_fuse_se(swarm_model_t *m) {
        int *prod, *uses;

        if (!m->be->conv_packed_scaled)
                return;
        /* producers and live uses of the plan as it is now (a value's
         * `producer` goes stale when a fusion moves an output) */
        prod = malloc(((size_t)m->n_vals + 1) * sizeof(int));
        uses = calloc((size_t)m->n_vals + 1, sizeof(int));
        if (!prod || !uses) {
                free(prod);
                free(uses);
                return;         /* the plain plan still runs */
        }
        for (int v = 0; v < m->n_vals; v++)
                prod[v] = -1;
        for (int i = 0; i < m->n_nodes; i++) {
                const xnode_t *n = &m->nodes[i];
                if (n->dead)
                        continue;
                if (n->out >= 0)
                        prod[n->out] = i;
                for (int j = 0; j < n->n_in; j++)
                        if (n->in[j] >= 0)
                                uses[n->in[j]]++;
        }
        for (int i = 0; i < m->n_nodes; i++) {
                xnode_t *c = &m->nodes[i], *mul;
                xvalue_t *y, *x, *s;
                int p, xi, si, yi, *in;
                if (c->dead || c->op != OP_CONV ||
                    (!c->packed && !c->t_only) ||
                    c->group != 1 || c->scale_in || c->n_in < 2 ||
                    c->in[0] < 0 || !exec_win_pointwise(&c->win))
                        continue;
                yi = c->in[0];
                y = &m->vals[yi];
                p = prod[yi];
                if (y->kind != V_TEMP || y->is_output || uses[yi] != 1 ||
                    p < 0 || p >= i)
                        continue;
                mul = &m->nodes[p];
                if (mul->dead || mul->op != OP_BINARY ||
                    mul->sub != SWARM_BIN_MUL || mul->n_in != 2 ||
                    mul->act != SWARM_ACT_NONE || mul->out != yi ||
                    mul->in[0] < 0 || mul->in[1] < 0)
                        continue;
                xi = mul->in[0];
                si = mul->in[1];
                if (!se_shapes(&m->vals[xi], &m->vals[si], y)) {
                        xi = mul->in[1];
                        si = mul->in[0];
                        if (!se_shapes(&m->vals[xi], &m->vals[si], y))
                                continue;
                }
                if (m->vals[xi].shape[1] != c->win.n)
                        continue;
                /* in[]: x, w, bias slot (-1 when none), then s */
                in = realloc(c->in, (size_t)(c->n_in < 3 ? 4 : c->n_in + 1) *
                                    sizeof(int));
                if (!in)
                        continue;       /* the plain plan still runs */
                c->in = in;
                while (c->n_in < 3)
                        c->in[c->n_in++] = -1;
                c->scale_in = c->n_in;
                c->in[c->n_in++] = si;
                c->in[0] = xi;
                mul->dead = 1;
                /* the scaled product runs conv_packed_scaled only, or
                 * (transposed only) gemm_packed with a_scale */
                if (c->packed_t && !c->t_only) {
                        m->be->gemm_pack_free(m->be, c->packed_t);
                        m->packed_bytes -= c->packed_t_bytes;
                        c->packed_t = NULL;
                        c->packed_t_bytes = 0;
                        c->scratch = 0;
                }
                /* x lost the Mul and gained the Conv; s moved from the Mul
                 * to the Conv (later: it lives longer); y is gone. */
                x = &m->vals[xi];
                s = &m->vals[si];
                if (x->last_use < i)
                        x->last_use = i;
                x->consumer = i;
                if (s->last_use < i)
                        s->last_use = i;
                s->consumer = i;
                y->n_uses = 0;
                y->last_use = -1;
                uses[yi] = 0;
        }
        free(prod);
        free(uses);
}
