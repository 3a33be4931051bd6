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
 *   run faster.  Small output planes may run transposed (pixels as the
 *   rows, the filters packed as B; CONV_T_MAX_PLANE below): 1x1 layers
 *   that do not expand, only that way; others with a second copy.
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

/* Output planes of at most this many pixels (8 x 8) may run transposed
 * (model.c run_conv_t): pixels as the GEMM's rows, the filters packed as
 * its B side.  Which fills the GEMM's tiles better is rated on the
 * backend's tile (gemm_tile_rows x gemm_tile_cols: the CPU's AVX-512 one
 * is 8 rows by 32 columns, AVX2's 6 by 16).  Run the usual way, filters
 * are the rows and pixels the columns: batch 1 on a 7 x 7 plane fills 49
 * of 64 columns; transposed, 49 of 56 rows, and the last 1-row sliver
 * costs about half an 8-row one (its multiply-adds wait on each other),
 * not a whole one.  Measured on AVX-512 (1 thread, CPU time, min of 3;
 * regular / transposed, ms, batch 1, 2, 4, 16, 64; bench/exec/make_conv.py
 * layers):
 *   1152 -> 192 at 7 x 7:  0.356 / 0.273, 0.560 / 0.413, 1.01 / 0.816,
 *                          3.74 / 3.54, 15.4 / 14.8
 *   320 -> 1280 at 7 x 7:  0.626 / 0.532, 1.00 / 0.832, 1.84 / 1.66,
 *                          6.66 / 6.85, 27.2 / 27.4
 *   960 -> 256 at 6 x 6:   0.378 / 0.211, 0.465 / 0.334, 0.782 / 0.658,
 *                          2.86 / 2.93, 11.9 / 11.8
 *   480 -> 192 at 5 x 5:   0.071 / 0.060 ... 3.47 / 3.21 (all faster)
 *   1024 -> 256 at 3 x 3:  0.206 / 0.071 ... 3.52 / 2.99
 *   576 -> 160 at 4 x 4:   0.078 / 0.036 ... 2.00 / 1.82
 *   512 -> 512 at 8 x 8:   0.385 / 0.447 ... 20.3 / 24.2 (slower: the
 *                          tiles are full either way)
 *   256 -> 256 at 14 x 14: 0.342 / 0.345 ... 19.2 / 19.8 (not taken)
 * On AVX2 (an EPYC, the same layers, transposed-only against the commit
 * before, alternated): 1152 -> 192 at 7 x 7 0.73-0.98 of the time, 960 ->
 * 256 at 6 x 6 0.86-0.96, 480 -> 192 at 5 x 5 0.83-1.08 (batch 1 noise).
 * So 1x1 layers that do not expand and whose batch-1 tiles fill better
 * transposed run that way at every batch size, their filters packed only
 * that way (t_only).  Other windows (3x3: Winograd or the direct kernel are 2-3x
 * faster from batch 2 on, 64 -> 256 at 7 x 7) keep their packing and
 * get the transposed copy as well, for the batch sizes exec_conv_t_wins
 * picks, where batch 1 gains CONV_T_PACK_GAIN. */
#define CONV_T_MAX_PLANE 64
/* A 1 x 1 plane stays on the pointwise kernel's (cpu_pw.c), which shares
 * each filter across 8 images: transposed it was 1.31x slower (960 ->
 * 240, batch 1).  So do short products, where that kernel takes the
 * expanding layers: 96 -> 576 at 6 x 6 ran 1.14-1.21x slower transposed,
 * while from 160 taps the layers measured 0.36-1.0. */
#define CONV_T_MIN_PLANE 2
#define CONV_T_MIN_K 128
/* A second copy costs memory (the filters of such layers are held
 * twice), so other layers get it only where batch 1 gains this much
 * fill: 2 x 2 to 4 x 4 planes (2-4x), 6 x 6 (AVX-512 1.6x, AVX2 1.33x),
 * not 7 x 7 (AVX-512 1.14-1.23x, AVX2 1.18-1.25x: ResNet-18's last stage
 * at 224 x 224 alone is 35 MB of filters, EfficientNet-B0's expanding
 * 7 x 7 layers 6.4 MB for 0.96-0.98 of the time). */
#define CONV_T_PACK_GAIN 1.3
/* 1x1 layers that do not expand (taps >= filters) go transposed-only
 * from this batch-1 gain (AVX-512's tile: 7 x 7 1.23, 5 x 5 1.14, 8 x 8
 * 1.0).  Expanding ones run the pointwise kernel well from a few images
 * on: 160 -> 960 at 7 x 7 (AVX2) ran 1.08-1.13x slower transposed at
 * batch 16 and 64, 0.96-0.98 at 1 to 4; so they keep their packing and
 * get the copy by CONV_T_PACK_GAIN, as other windows. */
#define CONV_T_ONLY_GAIN 1.1
/* Rows a transposed GEMM takes at most (images times their pixels): about
 * the CPU GEMM's row block (MC 240), enough for its slivers to come out
 * nearly full, and few enough that the scratch stays small. */
#define CONV_T_GEMM_ROWS 256
/* and floats of scratch its images may take (columns and product): 1
 * MiB, so that batching images adds little to the plan (EfficientNet-B3
 * at 96 x 96, 1536 filters on a 3 x 3 plane: 18 images, not 28) */
#define CONV_T_SCRATCH (1 << 18)

static double fill(double used, double tile) {
        return used / (ceil(used / tile) * tile);
}

/* The same for rows: a last sliver of fewer than half a tile's rows
 * costs half a tile (its accumulators are too few to hide the
 * multiply-add latency; measured with 8-row tiles). */
static double fill_rows(double used, double tile) {
        double full = floor(used / tile);
        double rest = used - full * tile, half = floor(tile / 2);

        if (rest > 0 && rest < half)
                rest = half;
        else if (rest > 0)
                rest = tile;
        return used / (full * tile + rest);
}

/* Other windows are rated on AVX-512's tile whatever the backend's, as
 * measured: their alternative on AVX2 is im2col + OpenBLAS, not the
 * direct kernel, and 3x3 128 -> 32 and 256 -> 64 at 4 x 4 (6 x 16: 16 of
 * 18 rows against 16 of 16 columns) still ran 0.83-0.86 of the time
 * transposed at batch 1. */
#define CONV_T_WIN_ROWS 8
#define CONV_T_WIN_COLS 32
/* A Winograd layer runs Winograd, not transposed, from this many 4 x 4
 * output tiles a run, whatever the fill: 3x3 64 -> 256 and 256 -> 256 at
 * 6 x 6 (AVX2, 1 thread) ran 1.35-1.44x slower transposed at batch 3 (12
 * tiles), 0.86-0.94 of Winograd's time at batch 2 (8), 0.67-0.70 of its
 * small-run path's at batch 1. */
#define CONV_T_WINO_TILES 12

/* How much fuller the transposed tiles are than conv_packed's for a run
 * of imgs images (0: not a window for it).  1x1 windows run t_imgs images
 * per GEMM, on the backend's tile (on AVX2 1x1 layers at 4 x 4 and 8 x 8
 * ran 1.0-1.27x slower transposed at batch 1-16: 16 of 18 rows, 64 of
 * 66); the others are rated one image a GEMM, as measured (their choice
 * against Winograd and the direct kernel was made that way). */
static double conv_t_gain(const swarm_backend_t *be,
                          const swarm_window_t *w, int64_t imgs,
                          int64_t t_imgs, int64_t cout) {
        double plane = (double)w->oh * (double)w->ow;
        double k = (double)w->n * (double)w->kh * (double)w->kw;
        double tr = be->gemm_tile_rows, tc = be->gemm_tile_cols, rows;

        if (plane < CONV_T_MIN_PLANE || plane > CONV_T_MAX_PLANE ||
            k < CONV_T_MIN_K || imgs < 1 || cout < 1 || t_imgs < 1 ||
            tr < 1 || tc < 1)
                return 0;
        if (!exec_win_pointwise(w))
                return fill(plane, CONV_T_WIN_ROWS) *
                       fill((double)cout, CONV_T_WIN_COLS) /
                       fill(plane * (double)imgs, CONV_T_WIN_COLS);
        rows = plane * (double)(imgs < t_imgs ? imgs : t_imgs);
        return fill_rows(rows, tr) * fill((double)cout, tc) /
               fill(plane * (double)imgs, tc);
}

int exec_conv_t_wins(const swarm_backend_t *be, const xnode_t *n,
                     int64_t imgs, int64_t cout) {
        double tiles = ceil((double)n->win.oh / 4) *
                       ceil((double)n->win.ow / 4) * (double)imgs;

        if (!n->packed_t || (n->wino && tiles >= CONV_T_WINO_TILES))
                return 0;
        return n->t_only ||
               conv_t_gain(be, &n->win, imgs, n->t_imgs, cout) > 1.0;
}

/* Whether the backend runs convolutions transposed at all. */
static int conv_t_backend(const swarm_backend_t *be, const xnode_t *n) {
        return n->group == 1 && be->gemm_packed && be->copy_strided &&
               be->im2col && be->gemm_tile_rows > 0 &&
               be->gemm_tile_cols > 0;
}

/* The transposed copy of a group-1 convolution's filters (see
 * CONV_T_MAX_PLANE) where batch 1 gains `gain`, and its scratch: the
 * columns (none for a pointwise window) and the [pixels, cout] product of
 * t_imgs images.  Also for windows left to im2col + OpenBLAS (which then
 * read the plain filters at the batch sizes exec_conv_t_wins declines). */
static int pack_t(swarm_backend_t *be, xnode_t *n, int64_t cout, int64_t k,
                  const float *w, double gain, swarm_err_t *err) {
        int64_t plane = n->win.oh * n->win.ow;  /* <= k * plane, checked */
        int64_t per, t;
        int pw = exec_win_pointwise(&n->win);
        int rc;

        if (!conv_t_backend(be, n) ||
            conv_t_gain(be, &n->win, 1, 1, cout) < gain)
                return SWARM_OK;
        rc = be->gemm_pack(be, 1, 1, 1, cout, k, w, k, &n->packed_t,
                           &n->packed_t_bytes, err);
        if (rc)
                return rc;
        /* plane <= CONV_T_MAX_PLANE: k * plane and plane * cout fit (the
         * packing above did k * cout) */
        per = (pw ? 0 : k * plane) + plane * cout;
        t = CONV_T_GEMM_ROWS / plane;
        if (t > CONV_T_SCRATCH / per)
                t = CONV_T_SCRATCH / per;
        if (t < 1 || (!pw && !be->im2col_imgs))
                t = 1;
        n->t_imgs = t;
        if (n->scratch < per * t)
                n->scratch = per * t;
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
                                                        w->host,
                                                        CONV_T_PACK_GAIN, err);
                        }
                }
                /* (grouped ones got here only when run directly) */
                if (n->group == 1 && !exec_win_pointwise(&n->win) &&
                    !direct_stride1(be, n, k) && !direct_strided(be, n) &&
                    (n->win.ow < 1 ||
                     mg < (CONV_PACK_MIN_MW + n->win.ow - 1) / n->win.ow))
                        /* im2col + OpenBLAS, or transposed */
                        return pack_t(be, n, cout, k, w->host,
                                      CONV_T_PACK_GAIN, err);
                n->scratch = 0;
                n->chunk = 1;
                /* a 1x1 layer faster transposed at every batch size: one
                 * that does not expand (CONV_T_ONLY_GAIN) */
                if (exec_win_pointwise(&n->win) && k >= cout &&
                    conv_t_backend(be, n) &&
                    conv_t_gain(be, &n->win, 1, 1, cout) >= CONV_T_ONLY_GAIN) {
                        rc = pack_t(be, n, cout, k, w->host, CONV_T_ONLY_GAIN,
                                    err);
                        n->t_only = n->packed_t != NULL;
                        if (rc || n->t_only)
                                return rc;
                }
                rc = be->gemm_pack(be, 0, 0, n->group, mg, k, w->host, k,
                                   &n->packed, &n->packed_bytes, err);
                if (rc)
                        return rc;
                return pack_t(be, n, cout, k, w->host, CONV_T_PACK_GAIN, err);
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
                if (!n->packed && !n->t_only)
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
