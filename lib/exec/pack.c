/*
 * pack.c - packing constant GEMM operands at load, for backends with a
 * packed GEMM (swarm_backend_t.gemm_pack; the CPU backend's cpu_gemm.c).
 *
 * Runs after fusion (BatchNormalization is folded into the filters by
 * then) and before slot planning (a packed convolution needs no im2col
 * scratch).  What gets packed, and why (measured, bench/exec/README.md):
 * - Conv with group 1 (CONV_PACK_GROUPS): the filters become the A side, the image is read straight into B
 *   panels (no columns matrix).  Depthwise convolutions keep conv_dw.
 *   3x3 ones go to the backend's conv_wino_pack first (Winograd for
 *   stride 1, cpu_wino.c; cpu_sconv.c's direct kernel for 1-4 input
 *   channels, stride 1 or 2), which declines the shapes its other paths
 *   run faster.
 * - Gemm, and MatMul with a 2-D B, whose B is a constant and A is not:
 *   B is packed; A, the activations, is packed per call.
 * Products of two run-time operands stay on the backend's gemm (OpenBLAS).
 * The packed copy is owned by the node (freed with the model) and counted
 * in swarm_model_work_fixed_bytes; filters that only the packed
 * convolution reads are not uploaded at all, so the plan holds one copy.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"
#include "node_err.h"

/* Grouped convolutions stay on im2col + OpenBLAS: measured (1 thread,
 * RegNet's groups of 8 and 16 filters, K 72-144, planes 7x7 to 56x56) the
 * packed path ran 1.3-3.6x slower there, its packing being per output row
 * while im2col copies whole shifted planes; with group 1 it ran 0.5-1.05x
 * the old time (bench/exec/README.md).  Except where the backend runs
 * them directly (no packing per call; grouped_direct below). */
#define CONV_PACK_GROUPS 1
/* Filters per group from which a grouped window that the backend runs
 * directly is packed: a whole AVX-512 sliver (RegNet's groups of 8). */
#define CONV_GROUP_DIRECT_MIN_M 8
/* The packing copies one output row at a time, so narrow planes with few
 * filters to share each packed value lost to im2col + OpenBLAS (the
 * fashion CNN, 1 thread: 32 filters x 28 columns 1.5-2x, 64 x 14
 * 1.0-1.4x slower) while every ResNet-18 layer (64 x 112 ... 512 x 7,
 * >= 3584) ran 0.5-1.0x the old time: pack when filters x output columns
 * reach this.  1x1 stride-1 windows pack whole planes and always qualify. */
#define CONV_PACK_MIN_MW 2048
/* Stride-1 windows the backend runs directly (conv_direct_min_ow: no
 * packing per call) are packed whatever their filter count once K, the
 * taps per output, amortises the tile stores: measured 1 thread, the
 * segmentation net's 64 -> 16 layer (K 576) went 17.9 -> 13.8 ms at batch
 * 16, while the fashion CNN's first layer (K 9) lost (0.70 -> 0.89). */
#define CONV_DIRECT_MIN_K 64
/* Strided windows the backend runs directly (its phase planes) are packed
 * whatever their filter count: measured 1 thread (thread CPU, min of 10),
 * MobileNetV3-small's stem, 3 -> 16 at 3x3 / 2 on 224 x 224 (16 x 112 <
 * CONV_PACK_MIN_MW), went from 727 to 471 us at batch 1 and 13.2 to 6.6
 * ms at batch 16 against im2col + OpenBLAS (3 -> 32: 1126 -> 881 us). */
static int direct_strided(const swarm_backend_t *be, const xnode_t *n) {
        const swarm_window_t *w = &n->win;

        return be->conv_direct_min_ow > 0 && be->conv_direct_max_stride > 0 &&
               (w->sh > 1 || w->sw > 1) && w->sh >= 1 &&
               w->sw >= 1 && w->sh <= be->conv_direct_max_stride &&
               w->sw <= be->conv_direct_max_stride &&
               !(w->kh == 1 && w->kw == 1) &&
               w->ow >= be->conv_direct_min_ow &&
               w->n <= be->conv_direct_max_phases / (w->sh * w->sw);
}

/* Stride-1 windows packed for the backend's direct path: wide enough
 * for it, and K (taps per output, k) from CONV_DIRECT_MIN_K. */
static int direct_stride1(const swarm_backend_t *be, const xnode_t *n,
                          int64_t k) {
        const swarm_window_t *w = &n->win;

        return be->conv_direct_min_ow > 0 && w->sh == 1 && w->sw == 1 &&
               w->ow >= be->conv_direct_min_ow && k >= CONV_DIRECT_MIN_K;
}

/* A grouped window the backend runs directly (not 1x1; stride 1 with K
 * from CONV_DIRECT_MIN_K, or strided within the phase limit; from
 * conv_direct_grouped_min_ow columns), with at least
 * CONV_GROUP_DIRECT_MIN_M filters a group. */
static int grouped_direct(const swarm_backend_t *be, const xnode_t *n,
                          int64_t mg, int64_t k) {
        const swarm_window_t *w = &n->win;

        if (mg < CONV_GROUP_DIRECT_MIN_M || (w->kh == 1 && w->kw == 1) ||
            be->conv_direct_grouped_min_ow < 1 ||
            w->ow < be->conv_direct_grouped_min_ow || w->sh < 1 || w->sw < 1)
                return 0;
        if (w->sh == 1 && w->sw == 1)
                return k >= CONV_DIRECT_MIN_K;
        return w->sh <= be->conv_direct_max_stride &&
               w->sw <= be->conv_direct_max_stride &&
               w->n <= be->conv_direct_max_phases / (w->sh * w->sw);
}

/* Output planes of at most this many pixels (8 x 8) have their filters
 * packed a second time, as the GEMM's B side, for the transposed run
 * (model.c run_conv_t) at the batch sizes exec_conv_t_wins picks.  The
 * CPU GEMM's AVX-512 tile is 8 rows (filters) by 32 columns (pixels):
 * batch 1 on a 6 x 6 plane fills 36 of 64 columns, transposed 36 of 40
 * rows.  Measured 1 thread, thread CPU, min of 200, batch 1, the GEMM and
 * the copy back (transposed / conv_packed): 960 -> 256 and 1280 -> 256 at
 * 6 x 6 (DeepLabV3's ASPP) 0.57-0.58, 672 -> 160, 960 -> 256, 1024 ->
 * 128 at 7 x 7 0.80-0.82, 512 -> 512 at 7 x 7 0.91; 256 -> 256 at 14 x
 * 14 1.08 (not taken).  The copy costs memory: filters of such layers
 * are held twice. */
#define CONV_T_MAX_PLANE 64
/* A 1 x 1 plane stays on the pointwise kernel's (cpu_pw.c), which shares
 * each filter across 8 images: transposed it was 1.31x slower (960 ->
 * 240, batch 1).  So do short products, where that kernel takes the
 * expanding layers: 96 -> 576 at 6 x 6 ran 1.14-1.21x slower transposed,
 * while from 160 taps the layers measured 0.36-1.0 (below). */
#define CONV_T_MIN_PLANE 2
#define CONV_T_MIN_K 128
/* The copy costs memory (the filters of such layers are held twice), so
 * it is made only where batch 1 gains this much fill: 2 x 2 to 4 x 4
 * planes (2-4x), 6 x 6 (1.6x), not 7 x 7 (1.14x: 0.80-0.91 of the time
 * a layer, but ResNet-18's last stage at 224 x 224 alone is 35 MB of
 * filters, DenseNet-121 at 64 x 64 went from 65 to 87 MB of plan). */
#define CONV_T_PACK_GAIN 1.25
#define CONV_T_ROWS 8           /* the tile's rows */
#define CONV_T_COLS 32          /* and columns */

static double fill(double used, double tile) {
        return used / (ceil(used / tile) * tile);
}

/* How much fuller the transposed tiles are than conv_packed's for this
 * run (0: not a window for it). */
static double conv_t_gain(const swarm_window_t *w, int64_t imgs,
                          int64_t cout) {
        double plane = (double)w->oh * (double)w->ow;
        double k = (double)w->n * (double)w->kh * (double)w->kw;

        if (plane < CONV_T_MIN_PLANE || plane > CONV_T_MAX_PLANE ||
            k < CONV_T_MIN_K || imgs < 1 || cout < 1)
                return 0;
        /* the share of the tiles' lanes that hold results, either way */
        return fill(plane, CONV_T_ROWS) * fill((double)cout, CONV_T_COLS) /
               fill(plane * (double)imgs, CONV_T_COLS);
}

int exec_conv_t_wins(const swarm_window_t *w, int64_t imgs, int64_t cout) {
        return conv_t_gain(w, imgs, cout) > 1.0;
}

/* The transposed copy of a group-1 convolution's filters (see
 * CONV_T_MAX_PLANE), and its scratch: the columns (none for a pointwise
 * window) and the [pixels, cout] product of one image.  Also for windows
 * left to im2col + OpenBLAS (which then reads the plain filters at the
 * batch sizes exec_conv_t_wins declines). */
static int pack_t(swarm_backend_t *be, xnode_t *n, int64_t cout, int64_t k,
                  const float *w, swarm_err_t *err) {
        int64_t plane = n->win.oh * n->win.ow;  /* <= k * plane, checked */
        int64_t need;
        int rc;

        if (n->group != 1 || !be->gemm_packed || !be->copy_strided ||
            !be->im2col || conv_t_gain(&n->win, 1, cout) < CONV_T_PACK_GAIN)
                return SWARM_OK;
        rc = be->gemm_pack(be, 1, 1, 1, cout, k, w, k, &n->packed_t,
                           &n->packed_t_bytes, err);
        if (rc)
                return rc;
        need = (exec_win_pointwise(&n->win) ? 0 : k * plane) + plane * cout;
        if (n->scratch < need)
                n->scratch = need;
        return SWARM_OK;
}

static int const_f32(const xvalue_t *v) {
        return v->kind == V_CONST && v->dtype == SWARM_DTYPE_FLOAT32 &&
               v->host && !v->batched &&
               v->host_bytes == (size_t)swarm_shape_elems(v->shape, v->ndim) *
                                sizeof(float);
}

static int pack_node(swarm_model_t *m, xnode_t *n, swarm_err_t *err) {
        swarm_backend_t *be = m->be;
        const xvalue_t *w = &m->vals[n->in[1]];
        int rc;

        if (n->op == OP_CONV) {
                const xvalue_t *x = &m->vals[n->in[0]];
                int64_t cout = w->shape[0], mg, k;
                if (!const_f32(w) || n->group < 1 || x->ndim < 3)
                        return SWARM_OK;
                mg = cout / n->group;
                if (be->conv_dw && n->win.n == 1 && mg == 1 &&
                    n->group == x->shape[1])
                        return SWARM_OK;        /* depthwise kernel */
                if (swarm_mul_i64(n->win.n, n->win.kh, &k) ||
                    swarm_mul_i64(k, n->win.kw, &k))
                        return node_err(err, SWARM_ERR_INVALID, n,
                                        "filter size overflows");
                if (n->group > CONV_PACK_GROUPS &&
                    !grouped_direct(be, n, mg, k))
                        return SWARM_OK;
                /* 3x3: Winograd or the few-channel direct kernel where
                 * the backend measured them faster (it declines the
                 * others, strides Winograd does not take among them). */
                if (be->conv_wino_pack && n->group == 1 && w->ndim == 4 &&
                    w->shape[1] == n->win.n && w->shape[2] == 3 &&
                    w->shape[3] == 3) {
                        rc = be->conv_wino_pack(be, &n->win, cout, w->host,
                                                &n->packed, &n->packed_bytes,
                                                err);
                        if (rc || n->packed) {
                                n->wino = n->packed != NULL;
                                n->scratch = 0;
                                n->chunk = 1;
                                return rc ? rc : pack_t(be, n, cout, k,
                                                        w->host, err);
                        }
                }
                /* (grouped ones got here only when run directly) */
                if (n->group == 1 && !exec_win_pointwise(&n->win) &&
                    !direct_stride1(be, n, k) && !direct_strided(be, n) &&
                    (n->win.ow < 1 ||
                     mg < (CONV_PACK_MIN_MW + n->win.ow - 1) / n->win.ow))
                        /* im2col + OpenBLAS, or transposed */
                        return pack_t(be, n, cout, k, w->host, err);
                rc = be->gemm_pack(be, 0, 0, n->group, mg, k, w->host, k,
                                   &n->packed, &n->packed_bytes, err);
                if (rc)
                        return rc;
                n->scratch = 0;
                n->chunk = 1;
                return pack_t(be, n, cout, k, w->host, err);
        }
        if (n->op == OP_GEMM || n->op == OP_MATMUL) {
                const xvalue_t *a = &m->vals[n->in[0]];
                int64_t kb, nb;
                if (!const_f32(w) || w->ndim != 2 || a->kind == V_CONST)
                        return SWARM_OK;
                kb = n->trans_b ? w->shape[1] : w->shape[0];
                nb = n->trans_b ? w->shape[0] : w->shape[1];
                if (kb < 1 || nb < 1)
                        return SWARM_OK;
                return be->gemm_pack(be, 1, n->trans_b, 1, nb, kb, w->host,
                                     w->shape[1], &n->packed,
                                     &n->packed_bytes, err);
        }
        return SWARM_OK;
}

int exec_pack_weights(swarm_model_t *m, swarm_err_t *err) {
        int *refs;
        int rc = SWARM_OK;

        if (!m->be->gemm_pack || !m->be->gemm_packed || !m->be->conv_packed)
                return SWARM_OK;
        refs = calloc((size_t)m->n_vals + 1, sizeof(int));
        if (!refs)
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        for (int i = 0; i < m->n_nodes; i++) {
                const xnode_t *n = &m->nodes[i];
                for (int j = 0; !n->dead && j < n->n_in; j++)
                        if (n->in[j] >= 0)
                                refs[n->in[j]]++;
        }
        for (int i = 0; i < m->n_nodes && !rc; i++) {
                xnode_t *n = &m->nodes[i];
                xvalue_t *w;
                if (n->dead || n->n_in < 2 || n->in[1] < 0 ||
                    (n->op != OP_CONV && n->op != OP_GEMM &&
                     n->op != OP_MATMUL))
                        continue;
                rc = pack_node(m, n, err);
                if (rc) {
                        swarm_err_prefix(err, "packing weights: ");
                        break;
                }
                m->packed_bytes += n->packed_t_bytes;
                if (!n->packed)
                        continue;
                m->packed_bytes += n->packed_bytes;
                /* Nobody else reads the plain filters: do not upload them.
                 * (A Gemm / MatMul keeps its B: small products run on the
                 * backend's plain gemm, see backend_cpu.c.) */
                w = &m->vals[n->in[1]];
                if (n->op == OP_CONV && refs[n->in[1]] == 1 &&
                    !w->is_output) {
                        w->n_uses = 0;
                        w->last_use = -1;
                }
        }
        free(refs);
        return rc;
}
