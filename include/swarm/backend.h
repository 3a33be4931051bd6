/*
 * backend.h - the compute backend behind the executor.
 *
 * The executor (lib/exec/model.c) only ever talks to a `swarm_backend_t`
 * through this vtable, so a CUDA backend can slot in next to the CPU
 * (OpenBLAS) one without the executor knowing which it drives.
 *
 * Device buffers are opaque `void *` handles.  The executor never does
 * pointer arithmetic on them: every kernel takes element offsets instead, so a
 * backend whose handles are not addresses works too.  All tensors are FLOAT32,
 * row-major and contiguous unless a leading dimension says otherwise.
 * The one exception: `gather` indices, which are INT64 or INT32.
 *
 * Kernels may run asynchronously; `download` is the synchronisation point.
 * Every fallible entry returns SWARM_OK or an error code and fills err
 * (SWARM_ERR_NOMEM for allocation, SWARM_ERR_BACKEND for kernel failures).
 *
 * Threads: a backend may be shared by several models on different threads;
 * the CPU backend keeps no per-call state (its thread pool serves one call
 * at a time and runs others serially) so that is safe there.
 */
#ifndef SWARM_BACKEND_H
#define SWARM_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "swarm/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Element-wise unary functions.  The first four are the activations a GEMM
 * may fuse; the others run through `unary` (and may be fused too).  alpha
 * and beta are the parameters named in the comment, unused otherwise. */
typedef enum swarm_act {
        SWARM_ACT_NONE = 0,     /* identity */
        SWARM_ACT_RELU,
        SWARM_ACT_SIGMOID,
        SWARM_ACT_TANH,
        SWARM_ACT_LEAKY_RELU,   /* x < 0 ? alpha * x : x */
        SWARM_ACT_CLIP,         /* min(max(x, alpha), beta) */
        SWARM_ACT_GELU,         /* x/2 (1 + erf(x/sqrt 2)) */
        SWARM_ACT_GELU_TANH,    /* the tanh approximation of GELU */
        SWARM_ACT_ERF,
        SWARM_ACT_SQRT,
        SWARM_ACT_EXP,
        SWARM_ACT_LOG,
        SWARM_ACT_NEG,
        SWARM_ACT_ABS,
        SWARM_ACT_RECIPROCAL,
        SWARM_ACT_FLOOR,
        SWARM_ACT_CEIL,
        SWARM_ACT_AFFINE,       /* alpha * x + beta */
        SWARM_ACT_HARDSIGMOID,  /* clamp(alpha * x + beta, 0, 1) */
        SWARM_ACT_HARDSWISH,    /* x * clamp(x / 6 + 1/2, 0, 1) */
        SWARM_ACT_SILU          /* x * sigmoid(x) (Sigmoid then Mul) */
} swarm_act_t;

/* Element-wise binary operators (NumPy broadcasting via strides). */
typedef enum swarm_binop {
        SWARM_BIN_ADD = 0,
        SWARM_BIN_SUB,
        SWARM_BIN_MUL,
        SWARM_BIN_DIV,
        SWARM_BIN_POW,
        SWARM_BIN_MAX,
        SWARM_BIN_MIN
} swarm_binop_t;

/* Reductions. */
typedef enum swarm_reduce {
        SWARM_RED_SUM = 0,
        SWARM_RED_MEAN,
        SWARM_RED_MAX,
        SWARM_RED_MIN,
        SWARM_RED_PROD,
        SWARM_RED_SUMSQUARE,
        SWARM_RED_L2
} swarm_reduce_t;

/* Geometry of a 2-D window over n planes of h x w (images * channels for
 * pooling, one image's channels for im2col).  Output is oh x ow; the window
 * is kh x kw with strides sh, sw and dilations dh, dw; pad_t / pad_l are the
 * top / left zero padding, pad_b / pad_r the bottom / right padding that
 * count_include_pad counts (the extra rows ceil_mode adds beyond it are
 * never counted).
 *
 * imgs / img_str are read by im2col only, and only on a backend that sets
 * `im2col_imgs`: unfold imgs images (0 counts as 1), each img_str elements
 * after the previous one in x, side by side into one columns matrix, so a
 * convolution runs one GEMM per chunk of images instead of one per image.
 * Zero-initialised windows keep the one-image meaning. */
typedef struct swarm_window {
        int64_t n, h, w, oh, ow;
        int64_t kh, kw, sh, sw, dh, dw;
        int64_t pad_t, pad_l, pad_b, pad_r;
        int64_t imgs, img_str;
} swarm_window_t;

typedef enum swarm_pool_kind {
        SWARM_POOL_MAX = 0,
        SWARM_POOL_AVG,         /* padding not counted */
        SWARM_POOL_AVG_PAD      /* count_include_pad = 1 */
} swarm_pool_kind_t;

/* How the GEMM bias is broadcast onto the m x n result. */
typedef enum swarm_bias {
        SWARM_BIAS_NONE = 0,
        SWARM_BIAS_SCALAR,      /* one value for every element */
        SWARM_BIAS_ROW,         /* n values, added to every row */
        SWARM_BIAS_COL,         /* m values, one per row */
        SWARM_BIAS_FULL         /* m x n values, leading dimension n */
} swarm_bias_t;

/* C[c_off..] = act(alpha * op(A) * op(B) + beta * bias), where op(A) is
 * m x k and op(B) is k x n.  lda/ldb/ldc are row strides in elements of the
 * stored (untransposed) matrices. */
typedef struct swarm_gemm {
        int trans_a, trans_b;
        int64_t m, n, k;
        float alpha, beta;
        const void *a;
        int64_t a_off, lda;
        const void *b;
        int64_t b_off, ldb;
        const void *bias;       /* NULL with SWARM_BIAS_NONE */
        int64_t bias_off;
        swarm_bias_t bias_mode;
        void *c;
        int64_t c_off, ldc;
        swarm_act_t act;
        float act_alpha, act_beta;      /* parameters of act, see above */
        /* gemm_packed with A unpacked only (the other entries fail on a
         * non-zero a_blk_rows): A's rows come in blocks of a_blk_rows, block
         * b's starting b * a_blk_off elements after block 0's, so that the
         * pixels of several NCHW images make one operand (a convolution
         * run transposed, model.c run_conv_t).  0: one matrix. */
        int64_t a_blk_rows, a_blk_off;
        /* With row blocks: op(A)'s element (i, p) is taken times
         * a_scale[a_scale_off + i / a_blk_rows * k + p] (a squeeze-excitation
         * scale per image and channel, fuse_se.c); NULL: none. */
        const void *a_scale;
        int64_t a_scale_off;
} swarm_gemm_t;

/* Scaled dot-product attention over batch x heads (backend.h
 * `attention`): for every b < batch, h < heads, query row i < sq,
 *   s[j] = scale * sum_d q[b,h,i,d] k[b,h,j,d] + mask[b,h,i,j]   (j < sk)
 *   y[b,h,i,:] = sum_j softmax(s)[j] v[b,h,j,:]                  (dv wide)
 * Every operand is a strided view: element (b, h, r, c) of q sits at
 * q + q_off + b*q_str[0] + h*q_str[1] + r*q_str[2] + c*q_str[3], and so on
 * (r = i or j, c = d or, for the mask, j).  That is how the executor reads
 * the heads straight out of the [B, S, H*D] projections and writes them
 * back interleaved, without the exported Transposes.  Layout rules (the
 * loader only fuses what meets them): q and y have c stride 1; k and v
 * have a stride of 1 on c or on r; the other stride of each matrix is at
 * least its row length.  mask is NULL for none; its strides may be 0
 * (broadcast). */
typedef struct swarm_attn {
        int64_t batch, heads, sq, sk, dk, dv;
        float scale;
        const void *q, *k, *v, *mask;
        void *y;
        int64_t q_off, k_off, v_off, mask_off, y_off;
        int64_t q_str[4], k_str[4], v_str[4], mask_str[4], y_str[4];
        /* 1: a query row whose softmax is NaN (every score masked to
         * -inf, or a NaN among them) gives zeros, as the exporters'
         * Where(IsNaN(p), 0, p) guard after the softmax has it */
        int nan_rows_zero;
} swarm_attn_t;

/* Activations of the recurrent operators (ONNX RNN / GRU / LSTM
 * `activations`), with their alpha and beta where they take them. */
typedef enum swarm_rnn_act {
        SWARM_RNN_RELU = 0,
        SWARM_RNN_TANH,
        SWARM_RNN_SIGMOID,
        SWARM_RNN_AFFINE,       /* alpha * x + beta */
        SWARM_RNN_LEAKY_RELU,   /* x < 0 ? alpha * x : x */
        SWARM_RNN_THRESHOLDED_RELU, /* x > alpha ? x : 0 */
        SWARM_RNN_SCALED_TANH,  /* alpha * tanh(beta * x) */
        SWARM_RNN_HARD_SIGMOID, /* clamp(alpha * x + beta, 0, 1) */
        SWARM_RNN_ELU,          /* x < 0 ? alpha * (e^x - 1) : x */
        SWARM_RNN_SOFTSIGN,     /* x / (1 + |x|) */
        SWARM_RNN_SOFTPLUS      /* log(1 + e^x) */
} swarm_rnn_act_t;

/* One whole ONNX RNN (kind 0), GRU (1) or LSTM (2) node: every time step
 * of every direction.  Shapes as in the ONNX operator, G gates (1, 3, 4):
 *   x   [seq, batch, input]         (layout 1: [batch, seq, input])
 *   w   [dirs, G * hidden, input]   r [dirs, G * hidden, hidden]
 *   b   [dirs, 2 * G * hidden]      p [dirs, 3 * hidden] (LSTM peepholes)
 *   h0, c0, yh, yc [dirs, batch, hidden]  (layout 1: [batch, dirs, hidden])
 *   y   [seq, dirs, batch, hidden]  (layout 1: [batch, seq, dirs, hidden])
 * Every pointer is a buffer of the backend, as for the other kernels.
 * b, p, seq_lens, h0, c0, y, yh and yc may be NULL (absent).  seq_lens
 * holds `batch` lengths (INT64 when seq_lens64, else INT32), each in
 * [0, seq]: a row stops there, keeps its state, and its later y entries
 * are 0.  act[d][j] is activation j (f, g, h) of direction d with its
 * act_alpha / act_beta. */
typedef struct swarm_rnn {
        int kind;
        int dirs;               /* 1 or 2 */
        int reverse;            /* dirs == 1: walk the sequence backwards */
        int layout;             /* 0 or 1 */
        int linear_before_reset;        /* GRU */
        int input_forget;               /* LSTM */
        int64_t seq, batch, input, hidden;
        float clip;             /* > 0: clamp pre-activations to +-clip */
        swarm_rnn_act_t act[2][3];
        float act_alpha[2][3], act_beta[2][3];
        const void *x, *w, *r, *b, *p, *h0, *c0;
        const void *seq_lens;
        int seq_lens64;
        void *y, *yh, *yc;
} swarm_rnn_t;

/* Geometry of a transposed convolution over up to 3 spatial dims (leading
 * ones 1 where the model has fewer): n images of c channels (in[0] x in[1]
 * x in[2]) into m channels (out[...]), group groups (c and m multiples of
 * it), kernel k[...]; input position i of kernel tap j lands on output
 * i * stride - pad + j * dil (pad: the begin pads), and only landings
 * inside the output count. */
typedef struct swarm_convt {
        int64_t n, c, m, group;
        int64_t in[3], out[3], k[3];
        int64_t stride[3], dil[3], pad[3];
} swarm_convt_t;

typedef struct swarm_backend swarm_backend_t;

struct swarm_backend {
        const char *name;       /* "cpu", "cuda" */
        /* Non-zero when device handles are host pointers: the executor then
         * reads inputs in place and hands out outputs without a copy. */
        int host_mem;
        /* Non-zero when im2col honours swarm_window_t.imgs (several images
         * side by side); a backend that leaves it 0 gets one im2col and one
         * GEMM per image, as before. */
        int im2col_imgs;
        /* Non-zero when conv_packed runs stride-1 group-1 windows at least
         * this many output columns wide without packing anything per call
         * (the CPU backend's direct AVX-512 path), so the loader packs them
         * whatever their filter count; 0: no such path. */
        int conv_direct_min_ow;
        /* ... and strided group-1 windows (not 1x1) from the same width
         * with both strides at most conv_direct_max_stride and channels <=
         * conv_direct_max_phases / (sh * sw) (the phase planes the direct
         * path splits the image into); 0: no such path. */
        int conv_direct_max_stride;
        int conv_direct_max_phases;
        /* ... and grouped windows (not 1x1; each group's filters over its
         * channels, strides and phases as above) from this many output
         * columns: narrower planes than group-1 ones, whose alternative
         * is one im2col and one small GEMM a group; 0: no such path. */
        int conv_direct_grouped_min_ow;
        /* The register tile of gemm_packed's kernel: rows of op(A) by
         * columns of op(B) each of its steps computes (the CPU backend's
         * 8 x 32 AVX-512, 6 x 16 AVX2, 4 x 16 C), from which the loader
         * rates how full a product's tiles run either way round (pack.c,
         * convolutions run transposed); 0: none, nothing runs transposed. */
        int gemm_tile_rows, gemm_tile_cols;
        /* Lanes the backend's own kernels run on (the CPU backend's thread
         * pool); 0 or 1: serial.  The loader sizes convolution chunks by it
         * so that each kernel call has enough work to split. */
        int threads;

        /* Allocate `bytes` (> 0) of device memory; *out is freed with
         * free_buf (which accepts NULL). */
        int (*alloc)(swarm_backend_t *be, size_t bytes, void **out,
                     swarm_err_t *err);
        void (*free_buf)(swarm_backend_t *be, void *dev);
        /* Host -> device (weights once at load, inputs per run on a device
         * backend) and device -> host (outputs). */
        int (*upload)(swarm_backend_t *be, void *dev, const void *host,
                      size_t bytes, swarm_err_t *err);
        int (*download)(swarm_backend_t *be, void *host, const void *dev,
                        size_t bytes, swarm_err_t *err);

        int (*gemm)(swarm_backend_t *be, const swarm_gemm_t *g,
                    swarm_err_t *err);
        /* c = a + b over an ndim-dimensional output `shape`; a_str and b_str
         * are element strides per output dimension, 0 where that operand is
         * broadcast (NumPy rules; a row vector over a matrix is the common
         * case). */
        int (*add)(swarm_backend_t *be, int ndim, const int64_t *shape,
                   const void *a, const int64_t *a_str, const void *b,
                   const int64_t *b_str, void *c, swarm_err_t *err);
        /* y = act(x) over n elements; y may equal x. */
        int (*act)(swarm_backend_t *be, swarm_act_t act, const void *x,
                   void *y, int64_t n, swarm_err_t *err);
        /* Softmax of x viewed as [outer, n, inner] along the middle axis
         * (inner == 1 is the last axis). */
        int (*softmax)(swarm_backend_t *be, const void *x, void *y,
                       int64_t outer, int64_t n, int64_t inner,
                       swarm_err_t *err);
        /* Device -> device copy of bytes. */
        int (*copy)(swarm_backend_t *be, void *dst, const void *src,
                    size_t bytes, swarm_err_t *err);

        /* ---- generic kernels for CNNs, embeddings and normalisation ----
         * One entry per kind of kernel, not per ONNX operator: the loader
         * maps Sub, Mul, Pow ... onto `binary`, Transpose, Concat, Slice
         * and Expand onto `copy_strided`, and so on. */

        /* c = a OP b, broadcast as for `add`. */
        int (*binary)(swarm_backend_t *be, swarm_binop_t op, int ndim,
                      const int64_t *shape, const void *a,
                      const int64_t *a_str, const void *b,
                      const int64_t *b_str, void *c, swarm_err_t *err);
        /* y = op(x; alpha, beta) over n elements; y may equal x. */
        int (*unary)(swarm_backend_t *be, swarm_act_t op, float alpha,
                     float beta, const void *x, void *y, int64_t n,
                     swarm_err_t *err);
        /* Log-softmax, same layout as softmax. */
        int (*log_softmax)(swarm_backend_t *be, const void *x, void *y,
                           int64_t outer, int64_t n, int64_t inner,
                           swarm_err_t *err);
        /* Reduce x of `shape` (ndim dims) over the dims whose bit is set in
         * `axes`; y has the same dims with those set to 1. */
        int (*reduce)(swarm_backend_t *be, swarm_reduce_t op, int ndim,
                      const int64_t *shape, uint32_t axes, const void *x,
                      void *y, swarm_err_t *err);
        /* Pool w->n planes of x ([n, h, w]) into y ([n, oh, ow]). */
        int (*pool)(swarm_backend_t *be, swarm_pool_kind_t kind,
                    const swarm_window_t *w, const void *x, void *y,
                    swarm_err_t *err);
        /* Unfold w->n channels of one image (x + x_off, [n, h, w]) into the
         * columns matrix col ([n * kh * kw, oh * ow]) a GEMM multiplies by
         * the filters; padding reads as 0.  With im2col_imgs and w->imgs > 1:
         * image j (at x + x_off + j * img_str) fills columns
         * [j * oh * ow, (j + 1) * oh * ow) of col ([n * kh * kw,
         * imgs * oh * ow]). */
        int (*im2col)(swarm_backend_t *be, const swarm_window_t *w,
                      const void *x, int64_t x_off, void *col,
                      swarm_err_t *err);
        /* y[o, i, j] = x[o, idx[i], j] for x viewed as [outer, axis_n,
         * inner] (4-byte elements) and n_idx indices, INT64 when idx64 else
         * INT32; negative indices count from the end.  An index out of range
         * fails with SWARM_ERR_INVALID (the input was bad, not the device). */
        int (*gather)(swarm_backend_t *be, const void *x, int64_t outer,
                      int64_t axis_n, int64_t inner, const void *idx,
                      int idx64, int64_t n_idx, void *y, swarm_err_t *err);
        /* y[y_off + sum i_d * y_str[d]] = x[x_off + sum i_d * x_str[d]] for
         * every index of `shape` (4-byte elements): transposes, concats,
         * slices and expands are all this with different strides. */
        int (*copy_strided)(swarm_backend_t *be, int ndim,
                            const int64_t *shape, const void *x,
                            int64_t x_off, const int64_t *x_str, void *y,
                            int64_t y_off, const int64_t *y_str,
                            swarm_err_t *err);
        /* Per-channel affine (inference BatchNormalization the loader could
         * not fold): y[o, c, i] = x[o, c, i] * scale[c] + bias[c] over
         * [outer, c, inner]. */
        int (*channel_affine)(swarm_backend_t *be, const void *x,
                              const void *scale, const void *bias, void *y,
                              int64_t outer, int64_t c, int64_t inner,
                              swarm_err_t *err);
        /* Layer normalisation of each of `outer` rows of n values:
         * y = (x - mean) / sqrt(var + eps) * scale + bias, with scale and
         * bias n values each (bias may be NULL). */
        int (*layer_norm)(swarm_backend_t *be, const void *x,
                          const void *scale, const void *bias, void *y,
                          int64_t outer, int64_t n, float eps,
                          swarm_err_t *err);
        /* Depthwise convolution (group == channels, one filter per
         * channel), run directly instead of one im2col and one GEMM per
         * channel: plane p of x ([w->n, h, w]) convolved with filter
         * p % channels ([channels, kh, kw]), plus bias[p % channels] (bias
         * may be NULL), then act(alpha, beta), into plane p of y
         * ([w->n, oh, ow]).  Padding reads as 0.  Optional: NULL makes the
         * executor take the im2col + GEMM path. */
        int (*conv_dw)(swarm_backend_t *be, const swarm_window_t *w,
                       int64_t channels, const void *x, const void *filt,
                       const void *bias, swarm_act_t act, float alpha,
                       float beta, void *y, swarm_err_t *err);
        /* A whole recurrent node (swarm_rnn_t above) in one call, so a
         * backend can project every time step's input in one GEMM and
         * fuse each step's gates.  Optional: NULL makes the executor run
         * the node as a host kernel.  Bad lengths in seq_lens fail with
         * SWARM_ERR_INVALID. */
        int (*rnn)(swarm_backend_t *be, const swarm_rnn_t *r,
                   swarm_err_t *err);

        /* Fused attention (swarm_attn_t above): QK^T, scale, mask,
         * softmax and the product with V per (batch, head) while the
         * scores are in cache.  Optional: NULL makes the executor run the
         * exported MatMul / Mul / Add / Softmax / MatMul steps. */
        int (*attention)(swarm_backend_t *be, const swarm_attn_t *a,
                         swarm_err_t *err);

        /* Transposed convolution (ConvTranspose), see swarm_convt_t: y
         * ([n, m, out...]) = bias (m values, may be NULL) plus every
         * x ([n, c, in...]) times filter w ([c, m / group, k...]) term.
         * Optional: NULL keeps the executor's host kernel. */
        int (*conv_transpose)(swarm_backend_t *be, const swarm_convt_t *g,
                              const void *x, const void *w,
                              const void *bias, void *y, swarm_err_t *err);
        /* Separable resampling (Resize, Upsample) of x (ndim dims `in`)
         * into y (dims `out`).  Along dim d, output index i reads the
         * input indices idx[d][i * taps + t] with weights
         * wt[d][i * taps + t], t < taps (1 nearest, 2 linear, 4 cubic);
         * y is the sum, over one tap per dim, of the weights' product times
         * x there.  idx[d] == NULL (wt[d] too) marks a dim that is copied
         * (out[d] == in[d]).  An index of -1 at tap 0 marks an output index
         * outside the input (tf_crop_and_resize): elements that use it are
         * `extrapolation`.  Tables are host memory, read during the call;
         * an index outside [0, in[d]) otherwise fails with
         * SWARM_ERR_INVALID.  Optional: NULL keeps the host kernel. */
        int (*resample)(swarm_backend_t *be, int ndim, const int64_t *in,
                        const int64_t *out, int taps,
                        const int64_t *const *idx, const float *const *wt,
                        float extrapolation, const void *x, void *y,
                        swarm_err_t *err);

        /* ---- constant operands packed once (optional) ----
         * A backend with its own GEMM packs a layer's weights at load into
         * the layout its kernels read, so no run re-packs them.  All four
         * are NULL where the backend has none (the executor then keeps the
         * gemm / im2col paths); CUDA leaves them NULL.
         *
         * gemm_pack: side 0 packs op(A), `rows` = m, element (i, p) at
         * src[i * ld + p] (trans 0) or src[p * ld + i] (trans 1), `groups`
         * such matrices rows * ld floats apart (a grouped convolution's
         * filters; trans 0 only); side 1 packs op(B), `rows` = n, element
         * (p, j) at src[p * ld + j] (trans 0) or src[j * ld + p] (trans 1),
         * groups 1.  src is host memory.  *bytes receives the size held. */
        int (*gemm_pack)(swarm_backend_t *be, int side, int trans,
                         int64_t groups, int64_t rows, int64_t k,
                         const void *src, int64_t ld, void **packed,
                         size_t *bytes, swarm_err_t *err);
        void (*gemm_pack_free)(swarm_backend_t *be, void *packed);
        /* gemm with op(A) given by pa (side 0) or op(B) by pb (side 1)
         * (the other one NULL); g's m, n, k must match what was packed.
         * g->a / g->b may still point at the plain operand (or be NULL):
         * the backend may use it instead for shapes where its packed
         * kernel is the slower one. */
        int (*gemm_packed)(swarm_backend_t *be, const swarm_gemm_t *g,
                           const void *pa, const void *pb, swarm_err_t *err);
        /* Convolution of `imgs` images x ([imgs, group * w->n, h, w]) by
         * filters packed as side 0 with `group` groups of rows = cout /
         * group and k = w->n * kh * kw, plus bias[cout] (may be NULL), then
         * act(alpha, beta), into y ([imgs, cout, oh, ow]); padding reads
         * as 0.  No columns matrix: the kernel reads the image itself. */
        int (*conv_packed)(swarm_backend_t *be, const swarm_window_t *w,
                           int64_t imgs, int64_t group, int64_t cout,
                           const void *packed, const void *x,
                           const void *bias, swarm_act_t act, float alpha,
                           float beta, void *y, swarm_err_t *err);
        /* conv_packed of x scaled per image and input channel, x[i, c, ..]
         * * s[i * group * w->n + c] (s: [imgs, group * w->n]), without
         * writing the scaled x anywhere: a squeeze-excitation block's Mul
         * that the loader folded into the 1x1 convolution after it
         * (fuse_se.c).  Optional: NULL keeps the Mul as its own step. */
        int (*conv_packed_scaled)(swarm_backend_t *be,
                                  const swarm_window_t *w, int64_t imgs,
                                  int64_t group, int64_t cout,
                                  const void *packed, const void *x,
                                  const void *s, const void *bias,
                                  swarm_act_t act, float alpha, float beta,
                                  void *y, swarm_err_t *err);

        /* ---- Winograd 3x3 convolution (optional) ----
         * conv_wino_pack: transform filters (host [cout, w->n, 3, 3]) at
         * load for the window w (group 1); leaves *packed NULL (and
         * returns SWARM_OK) where the backend has no Winograd kernel for
         * it or measured its other paths faster.  conv_wino: as
         * conv_packed with group 1 and those filters.  NULL on CUDA. */
        int (*conv_wino_pack)(swarm_backend_t *be, const swarm_window_t *w,
                              int64_t cout, const void *filt, void **packed,
                              size_t *bytes, swarm_err_t *err);
        int (*conv_wino)(swarm_backend_t *be, const swarm_window_t *w,
                         int64_t imgs, int64_t cout, const void *packed,
                         const void *x, const void *bias, swarm_act_t act,
                         float alpha, float beta, void *y, swarm_err_t *err);
        void (*conv_wino_free)(swarm_backend_t *be, void *packed);

        /* Optional (NULL: nothing to do).  swarm_model_run calls
         * run_begin before a run's first node and run_end after its last
         * (error or not), so a backend with a thread pool keeps its
         * workers awake for the run and lets them sleep between runs.
         * Runs on several threads sharing the backend overlap: each
         * run_begin has one run_end, in any order. */
        void (*run_begin)(swarm_backend_t *be);
        void (*run_end)(swarm_backend_t *be);

        void (*destroy)(swarm_backend_t *be);
};

/* Create the CPU backend (OpenBLAS sgemm plus plain C loops).
 *
 * `threads` lanes (<= 0 picks 1): with more than one the backend starts
 * threads - 1 pool workers and splits large kernels, sgemm included, across
 * them; OpenBLAS itself is set to one thread (openblas_set_num_threads(1),
 * process-wide), so its pool and ours never compete for the cores.  1 is
 * the library default because a process may run several executor threads;
 * the worker runs one exec stage and passes --blas-threads (default: the
 * cores less one, which its consumer and output stages and librdkafka
 * share).  Idle workers spin while a model run is on (up to 2 ms after
 * their last kernel) and briefly after it, then sleep.  A call that
 * arrives while another thread's call holds the pool runs serially, so
 * sharing stays safe.
 *
 * On success *out is the caller's (swarm_backend_destroy, which joins the
 * workers); on failure it is NULL.  Errors: SWARM_ERR_NOMEM. */
int swarm_backend_cpu_new(int threads, swarm_backend_t **out,
                          swarm_err_t *err);

/* Turn Winograd off for the models loaded on `be` from now on: their 3x3
 * convolutions keep the packed direct path.  Winograd's transformed
 * filters take about 4x the filters' memory (ResNet-18: 105 -> 246 MB
 * resident), so a host short of memory trades that speed for it (the
 * worker's --winograd=false).  Models loaded before keep what they have.
 * A backend without Winograd is left as it is. */
void swarm_backend_no_winograd(swarm_backend_t *be);

/* Destroy any backend; NULL is accepted.  Models using it must be gone. */
void swarm_backend_destroy(swarm_backend_t *be);

#ifdef __cplusplus
}
#endif
#endif
