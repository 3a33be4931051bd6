/*
 * model_internal.h - the executor's plan, shared by the ONNX loader
 * (onnx_load.c, onnx_ops.c) and the runner (model.c).  Not a public header.
 */
#ifndef SWARM_MODEL_INTERNAL_H
#define SWARM_MODEL_INTERNAL_H

#include <stdint.h>

#include "swarm/backend.h"
#include "swarm/model.h"
#include "swarm/tensor.h"

/* Largest value the loader computes on the host (a folded result, an
 * expanded constant): a model can ask for more only by computing it at run
 * time.  Larger run-time values are refused too, so that rows * elements *
 * 4 stays far from overflow. */
#define EXEC_FOLD_MAX_ELEMS ((int64_t)1 << 24)
#define EXEC_RUN_MAX_ELEMS ((int64_t)INT32_MAX * 16)

/* Graph size limits (a real network has up to ~10^5 nodes). */
#define EXEC_MAX_NODES (1 << 20)
#define EXEC_MAX_VALS (1 << 22)

enum vkind { V_INPUT, V_CONST, V_TEMP };

/* One tensor of the graph.  When `batched`, the leading dimension is
 * rows * shape[0] (shape[0] is a multiplier, 1 for the graph inputs), so
 * shapes are inferred once at load and resolved cheaply per run.
 *
 * Integer constants (INT64; INT32 initializers are widened) live on the
 * host during loading so shape computations fold.  `nsym`, when set, marks
 * elements whose value is host[i] * rows: what Shape() of a batched tensor
 * yields, carried through Gather/Concat/... so the Reshape at the end of
 * the chain knows which dimension is the batch. */
typedef struct xvalue {
        char *name;
        enum vkind kind;
        swarm_dtype_t dtype;
        int ndim;
        int64_t shape[SWARM_MAX_DIMS];
        int batched;
        int producer;           /* node index, -1 for inputs and consts */
        int n_uses;             /* consumers among live nodes */
        int consumer;           /* the last consumer seen */
        int is_output;
        int last_use;           /* last live node reading it */
        int slot;               /* buffer slot of a V_TEMP, else -1 */
        int input_idx;          /* position among model inputs, else -1 */
        int unusable;           /* an optional output we do not compute */
        int widened;            /* INT32 constant data held as INT64 */
        void *host;             /* const data before upload (loader only) */
        size_t host_bytes;
        uint8_t *nsym;          /* see above; NULL when no element is */
        void *dev;              /* device data for the current run */
        int64_t cshape[SWARM_MAX_DIMS]; /* shape for the current rows */
        int64_t celems;
        /* A sequence (SequenceEmpty, SequenceInsert ...; loading only):
         * the value ids of its tensors.  Sequences exist at load only:
         * control.c turns their uses into plain nodes. */
        int is_seq;
        int *seq;
        int n_seq;
} xvalue_t;

enum xop {
        OP_GEMM, OP_MATMUL, OP_ADD, OP_ACT, OP_SOFTMAX, OP_COPY,
        OP_BINARY,      /* sub = swarm_binop_t */
        OP_UNARY,       /* act, act_alpha, act_beta */
        OP_LOGSOFTMAX,
        OP_REDUCE,      /* sub = swarm_reduce_t, axes */
        OP_POOL,        /* sub = swarm_pool_kind_t, window */
        OP_CONV,        /* in: x, w, [bias]; group, window */
        OP_GATHER,      /* in: data, indices; axis */
        OP_STRIDED,     /* transpose / slice / expand: xstr, xoff */
        OP_CONCAT,      /* axis */
        OP_AFFINE,      /* in: x, scale, bias (channel axis 1) */
        OP_LAYERNORM,   /* in: x, scale, [bias]; axis, eps */
        OP_PAD,         /* in: x, fill value; xoff = interior offset */
        OP_HOST,        /* hk: a host kernel of any dtype (host_ops.c) */
        OP_ATTN,        /* fused attention (fuse_attn.c) */
        OP_FOLDED,      /* computed at load: output is a constant */
        OP_ALIAS,       /* an OP_COPY whose output shares its input's slot
                           (onnx_load.c plan_slots): nothing to run */
        OP_RNN          /* RNN / GRU / LSTM through be->rnn: HK_RNN's
                           parameters (hi, hp, hf, act_alpha) */
};

/* Host kernels (OP_HOST), for tensors of every dtype. */
enum hkernel {
        HK_BINARY = 1,  /* hop = HB_*, NumPy broadcast */
        HK_UNARY,       /* hop = HU_*, act_alpha / act_beta, hi[0..1] */
        HK_CAST,        /* element conversion to the output dtype */
        HK_WHERE,       /* in: cond (BOOL), x, y */
        HK_STRIDED,     /* OP_STRIDED for any element size */
        HK_CONCAT,      /* OP_CONCAT for any element size */
        HK_PAD,         /* OP_PAD for any element size */
        HK_GATHER,      /* OP_GATHER for any element size */
        HK_GATHER_ELEMENTS, /* axis */
        HK_SCATTER_ELEMENTS, /* axis; hi[0] reduction 0 none 1 add 2 mul
                                3 max 4 min */
        HK_GATHER_ND,   /* hi[0] batch_dims */
        HK_SCATTER_ND,  /* hi[1] reduction as above */
        HK_ARGMAX,      /* axis; hi[0] 1 = min; hi[1] select_last_index */
        HK_CUMSUM,      /* axis; hi[0] exclusive, hi[1] reverse */
        HK_TRILU,       /* hi[0] upper, hi[1] k */
        HK_TILE,
        HK_ONEHOT,      /* axis, hi[0] depth; in[2] = [off, on] */
        HK_TOPK,        /* axis, hi[0] k, hi[1] largest; xo[0] indices */
        HK_SPLIT,       /* axis; outputs out, xo[..] in order */
        HK_RNN,         /* hi[0] 0 RNN 1 GRU 2 LSTM, hi[1] directions,
                           hi[2] hidden, hi[3] layout; hp[0]
                           linear_before_reset, hp[1] input_forget, hp[2..7]
                           activation kinds, hf[0..5] their alpha/beta
                           pairs... see host_ops.c; act_alpha clip */
        HK_INSTNORM,    /* eps; hi[0] groups (0: per channel), hi[1] 1 =
                           scale/bias per group */
        HK_LPNORM,      /* axis, hi[0] p */
        HK_REDUCE,      /* hop = HR_*, axes */
        HK_RANGE,       /* in: start, limit, delta */
        HK_CONVT,       /* ConvTranspose: group; hp[0..2] strides, [3..5]
                           dilations, [6..8] begin pads, over 3 spatial
                           dims (1 where absent); hi[0] spatial dims;
                           hi[1] 1: on be->conv_transpose */
        HK_RESIZE,      /* hf[0..7] scales per dim (out / in), hi[0] mode
                           0 nearest 1 linear 2 cubic, hi[1] coordinate
                           mode, hi[2] nearest mode, hf... see host_ops;
                           hi[3] 1: on be->resample */
        HK_HARDMAX,     /* axis */
        HK_PADM,        /* Pad reflect (hi[0] 1) / edge (2) / wrap (3):
                           hp[d] begin pad of dim d */
        HK_EYE,         /* EyeLike: hi[1] = k */
        HK_LRN,         /* hi[0] size; hf[0..2] alpha, beta, bias */
        HK_EINSUM,      /* ein: labels; hi[0] number of labels */
        HK_QUANT,       /* hi[0] 0 QuantizeLinear 1 DequantizeLinear 2
                           DynamicQuantizeLinear; axis (per-axis scales) */
        HK_REVSEQ,      /* ReverseSequence: hi[0] batch_axis, hi[1]
                           time_axis */
        HK_DET,
        HK_DROPOUT,     /* identity plus an all-true mask (xo[0]) */
        HK_LOSS         /* hi[0] 0 NLL 1 SoftmaxCrossEntropy, hi[1]
                           reduction 0 none 1 sum 2 mean, hi[2] 1 with
                           ignore_index hp[0]; xo[0] log_prob (SCE) */
};

enum hbinop {
        HB_ADD, HB_SUB, HB_MUL, HB_DIV, HB_POW, HB_MAX, HB_MIN, HB_MOD,
        HB_FMOD, HB_EQ, HB_LT, HB_LE, HB_GT, HB_GE, HB_AND, HB_OR, HB_XOR,
        HB_SHL, HB_SHR, HB_PRELU
};

enum hunop {
        HU_IDENT, HU_NEG, HU_ABS, HU_SIGN, HU_NOT, HU_ISNAN, HU_ISINF,
        HU_HARDSIGMOID, HU_HARDSWISH, HU_ELU, HU_SELU, HU_CELU, HU_SOFTPLUS,
        HU_SOFTSIGN, HU_MISH, HU_THRESHOLDED_RELU, HU_SHRINK, HU_SIN, HU_COS,
        HU_TAN, HU_ASIN, HU_ACOS, HU_ATAN, HU_SINH, HU_COSH, HU_ASINH,
        HU_ACOSH, HU_ATANH, HU_ROUND, HU_RELU, HU_SIGMOID, HU_TANH, HU_LEAKY,
        HU_CLIP, HU_EXP, HU_LOG, HU_SQRT, HU_RECIP, HU_FLOOR, HU_CEIL, HU_ERF
};

enum hreduce {
        HR_SUM, HR_MEAN, HR_MAX, HR_MIN, HR_PROD, HR_SUMSQ, HR_L2, HR_L1,
        HR_LOGSUM, HR_LOGSUMEXP
};

typedef struct xnode {
        char *name;
        char *op_type;
        enum xop op;
        int dead;               /* folded into another node or constant */
        int *in;                /* value ids, -1 when absent */
        int n_in;
        int out;
        int src;                /* index in GraphProto.node */
        /* OP_GEMM / OP_MATMUL: in[0] = A, in[1] = B, in[2] = bias = C or the
         * constant of a fused Add (-1 when none) */
        float alpha, beta;
        int trans_a, trans_b;
        int bias;
        swarm_act_t act;        /* OP_ACT / OP_UNARY and fused activations */
        float act_alpha, act_beta;
        /* OP_SOFTMAX: reduce over [axis, end) (legacy) or [axis] only */
        int axis;
        int legacy;
        int sub;                /* binop / reduce op / pool kind */
        uint32_t axes;          /* OP_REDUCE: reduced dims */
        float eps;
        int64_t group;          /* OP_CONV */
        swarm_window_t win;     /* OP_CONV / OP_POOL (n, h, w per run) */
        /* OP_STRIDED: input strides per output dim (0 = broadcast) and
         * start offset, in elements of the per-row / unbatched shape.  A
         * batched input's dim-0 stride applies to rows as well. */
        int64_t xstr[SWARM_MAX_DIMS];
        int64_t xoff;
        int64_t scratch;        /* OP_CONV: im2col floats per run */
        /* OP_CONV: images per im2col + GEMM (1: the per-image path); the
         * scratch then holds the columns and the product of a chunk. */
        int64_t chunk;
        /* OP_CONV / OP_GEMM / OP_MATMUL: the constant operand packed by
         * the backend's gemm_pack (pack.c; NULL: the plain path) */
        void *packed;
        size_t packed_bytes;
        /* OP_CONV with a small output plane: the filters packed again as
         * the GEMM's B side, for exec_conv_t_wins (pack.c) */
        void *packed_t;
        size_t packed_t_bytes;
        int64_t t_imgs;         /* images per transposed GEMM (>= 1) */
        /* packed_t is the only packed form: the node always runs
         * transposed (a 1x1 window, pack.c CONV_T_ONLY_GAIN) */
        int t_only;
        int wino;       /* OP_CONV: packed by conv_wino_pack (Winograd) */
        /* OP_CONV: index in in[] of a per-(image, channel) scale of x
         * ([N, C, 1, 1], a squeeze-excitation Mul fuse_se.c folded in);
         * 0: none */
        int scale_in;
        /* OP_HOST: kernel, its operator and integer parameters */
        int hk, hop;
        int64_t hi[4];
        int64_t hp[16];         /* more host-kernel parameters (ConvTranspose
                                 * strides / dilations / pads, Resize) */
        float hf[16];
        /* HK_EINSUM: labels of each operand's dims, then the output's:
         * ein[j][d] for operand j < n_in, ein[n_in][d] for the output;
         * -1 past a rank.  Allocated, freed with the node. */
        int8_t (*ein)[SWARM_MAX_DIMS];
        /* Outputs 1.. of a multi-output node (TopK, Split, RNN, GRU,
         * LSTM): value ids, -1 where the model leaves one out. */
        int *xo;
        int n_xo;
        int unsupported;        /* refused at load (listed in the error) */
        /* Loop / If / sequence operators (control.c): the plain nodes the
         * node expands into, spliced in its place after inference. */
        struct xnode *blk;
        int n_blk, cap_blk;
} xnode_t;

typedef struct xslot {
        void *dev;
        size_t cap;
} xslot_t;

struct swarm_model {
        swarm_backend_t *be;
        xvalue_t *vals;
        int n_vals, cap_vals;
        xnode_t *nodes;         /* topologically sorted */
        int n_nodes;
        int n_steps;            /* live nodes: backend calls per run */
        int n_in, n_out;
        int *in_vals, *out_vals;
        swarm_model_io_t *in_io, *out_io;
        int64_t fixed_rows;     /* -1 when some input has a symbolic batch */
        xslot_t *slots;
        int n_slots;
        xslot_t scratch;        /* im2col columns, sized at load */
        int64_t scratch_elems;
        size_t packed_bytes;    /* all nodes' packed operands */
        /* Slot bytes per batch row (exec_slot_bytes(m, 1)), fixed once the
         * slots are planned: run_chunk.c sizes slices from it on every
         * run, so it is kept rather than walked each time. */
        size_t work_row_bytes;
        int64_t cap_rows;       /* rows the buffers are sized for */
        int64_t cur_rows;       /* rows the cshapes are resolved for */
        /* Loading only: directory external tensor data is read from
         * (borrowed); NULL when loading from memory. */
        const char *dir;
        /* Only for backends without host_mem: */
        xslot_t *in_dev;
        xslot_t *out_host;
        /* Loading only: values of the symbolic non-batch input dims (a
         * plan of a shaped family); NULL otherwise. */
        const struct xdimval *dimvals;
        int n_dimvals;
        /* Loading only: how many refused nodes were refused only because
         * the batch is symbolic (it would move off the leading dim, or a
         * shape chain depends on its size; onnx_load.c batch_bound()).
         * When every refusal is such, plans with the batch fixed can run
         * the model. */
        int batch_bound;
        /* A model with symbolic non-batch dims is a family of plans, one
         * per resolved shape (shaped.c); NULL for a plain plan. */
        struct xshaped *sh;
        /* Loading only: nodes control.c has expanded Loop / If bodies
         * into (bounded by EXEC_CTL_MAX_NODES). */
        int64_t ctl_nodes;
        /* run_chunk.c: the whole batch's outputs of a run made in
         * slices (n_out buffers of chunk_cap[i] bytes; NULL until one). */
        void **chunk_out;
        size_t *chunk_cap;
};

/* A symbolic non-batch dim of a graph input, and its value in a plan. */
typedef struct xsymdim {
        char *input;
        int dim;
        char *param;            /* dim_param ("" when unnamed) */
        int group;              /* dims sharing a param share a group */
} xsymdim_t;

typedef struct xdimval {
        const char *input;
        int dim;
        int64_t value;
} xdimval_t;

/* onnx_load.c: load one plan (dimvals fix the symbolic dims).  On a
 * refusal *batch_bound (may be NULL) is 1 when every refused node was
 * refused only because the batch is symbolic (model_internal.h). */
int exec_load_plan(const void *buf, size_t len, const swarm_tensor_t *bind,
                   int n_bind, const char *dir, swarm_backend_t *be,
                   const xdimval_t *dimvals, int n_dimvals,
                   swarm_model_t **out, int *batch_bound, swarm_err_t *err);
/* shaped.c: make the family of a model with symbolic dims (takes
 * ownership of dims; a dim with param "#batch" is the batch, fixed per
 * plan); destroy one.  *batch_bound as exec_load_plan's, for the first
 * probe's refusal. */
int exec_shaped_new(const void *buf, size_t len, const swarm_tensor_t *bind,
                    int n_bind, const char *dir, swarm_backend_t *be,
                    xsymdim_t *dims, int n_dims, swarm_model_t **out,
                    int *batch_bound, swarm_err_t *err);
void exec_shaped_destroy(swarm_model_t *m);
/* A family's most recently used plan (NULL when it has none). */
const swarm_model_t *exec_shaped_first(const swarm_model_t *m);

/* onnx_ops.c: per-operator checks, shape inference and load-time folding.
 * Returns SWARM_OK with n->op and the output value filled, or an error
 * naming the node. */
struct Onnx__NodeProto;
int exec_infer_node(swarm_model_t *m, xnode_t *n,
                    const struct Onnx__NodeProto *np, int64_t opset,
                    swarm_err_t *err);
/* Input count bounds of a supported operator; -1 when unsupported. */
int exec_op_inputs(const char *op_type, int *min_in, int *max_in);
/* Make room for `extra` more values (m->vals may move: value pointers
 * taken before are stale).  -1 on NOMEM.  exec_infer_node and the fusion
 * reserve EXEC_NODE_NEW_VALS before a handler runs, so exec_new_const never
 * moves the array under a handler's pointers. */
#define EXEC_NODE_NEW_VALS 8
int exec_reserve_vals(swarm_model_t *m, int extra);
/* Add a constant value (host data owned by the value). -1 when the
 * reserved room is used up or on NOMEM. */
int exec_new_const(swarm_model_t *m, const char *hint, swarm_dtype_t dt,
                   int ndim, const int64_t *shape, void *host);
/* Fold BatchNormalization into Conv/Gemm, fuse bias and activations. */
void exec_fuse(swarm_model_t *m);
/* onnx_ops.c: n_uses, consumer and last_use of every value from the live
 * (not dead) nodes, as the fusions read them. */
void exec_count_uses(swarm_model_t *m);
/* pack.c: pack constant GEMM operands (after exec_fuse, before slot
 * planning) where the backend has gemm_pack. */
int exec_pack_weights(swarm_model_t *m, swarm_err_t *err);
/* A 1x1 window of stride 1 without pads: the image is its own columns
 * matrix. */
static inline int exec_win_pointwise(const swarm_window_t *w) {
        return w->kh == 1 && w->kw == 1 && w->sh == 1 && w->sw == 1 &&
               !w->pad_t && !w->pad_l && !w->pad_b && !w->pad_r &&
               w->oh == w->h && w->ow == w->w;
}
/* pack.c: 1 when convolution n of `imgs` images into cout filters should
 * run transposed (pixels as the GEMM's rows, filters as its columns,
 * n->packed_t) rather than as conv_packed: always where that is its only
 * packing (t_only), else where the tiles fill better that way. */
int exec_conv_t_wins(const swarm_backend_t *be, const xnode_t *n,
                     int64_t imgs, int64_t cout);

/* model.c: run one live node on `be` with values' dev and cshape set. */
int exec_run_node(swarm_model_t *m, swarm_backend_t *be, const xnode_t *n,
                  swarm_err_t *err);
/* The shape an OP_STRIDED copy walks into `shape` (its output's, or a
 * 6-D view of it for DepthToSpace / SpaceToDepth); returns its rank. */
int exec_walk(const xnode_t *n, const xvalue_t *o, int64_t *shape);
/* Resolve cshape / celems of one value for `rows`. */
void exec_resolve_value(xvalue_t *v, int64_t rows);

/* host_ops.c: run an OP_HOST node (staging through host memory on a
 * device backend), or fold a single-output one on the values' host data
 * into out. */
int exec_host_run(swarm_model_t *m, swarm_backend_t *be, const xnode_t *n,
                  swarm_err_t *err);
int exec_host_fold(swarm_model_t *m, const xnode_t *n, void *out,
                   swarm_err_t *err);
/* How many outputs an operator computes (0: only the first). */
int exec_multi_output(const char *op_type);
int exec_dtype_is_float(swarm_dtype_t dt);

/* control.c: Loop, If and the sequence operators, expanded at load into
 * plain nodes (a Loop is unrolled: its trip count and condition must be
 * known at load, which they are per plan when they follow the batch). */
#define EXEC_LOOP_MAX_TRIPS 4096
#define EXEC_CTL_MAX_NODES ((int64_t)1 << 18)
#define EXEC_SEQ_MAX 65536
int exec_ctl_loop(swarm_model_t *m, xnode_t *n,
                  const struct Onnx__NodeProto *np, int64_t opset,
                  swarm_err_t *err);
int exec_ctl_if(swarm_model_t *m, xnode_t *n,
                const struct Onnx__NodeProto *np, int64_t opset,
                swarm_err_t *err);
int exec_ctl_seq(swarm_model_t *m, xnode_t *n,
                 const struct Onnx__NodeProto *np, int64_t opset,
                 swarm_err_t *err);
/* 1 when op_type is one of them (they take and make sequences). */
int exec_ctl_op(const char *op_type);
/* The outer-scope names a node's subgraphs read (Loop / If bodies), in a
 * fixed order: build() appends their value ids to the node's inputs
 * (after its np->n_input own ones) so the sort and liveness see them.
 * *names is malloc'ed (the strings are the protobuf's); *n = 0 when none. */
int exec_ctl_captures(const struct Onnx__NodeProto *np, const char ***names,
                      int *n, swarm_err_t *err);
/* Replace every expanded node by its plain nodes (after inference). */
int exec_ctl_flatten(swarm_model_t *m, swarm_err_t *err);
/* Free a node's fields and its expansion. */
void exec_node_free(xnode_t *n);

/* model.c: bytes of the planned slots for one row, of the values that
 * grow with the batch (batched 1) or of the others (0); 0 when out of
 * memory. */
size_t exec_slot_bytes(const swarm_model_t *m, int batched);
/* model.c: one run of `rows` rows, swarm_model_run's checks done. */
int exec_run_rows(swarm_model_t *m, int64_t rows, const void *const *inputs,
                  const void **outputs, swarm_err_t *err);
/* run_chunk.c: the rows a slice of a `rows`-row run takes (rows: no
 * slicing), the sliced run (outputs in buffers the model owns, freed by
 * exec_chunk_free). */
int64_t exec_chunk_rows(const swarm_model_t *m, int64_t rows);
int exec_run_chunked(swarm_model_t *m, int64_t rows,
                     const void *const *inputs, const void **outputs,
                     swarm_err_t *err);
void exec_chunk_free(swarm_model_t *m);

/* backend_cpu.c: fill `be` with the CPU kernels without touching OpenBLAS'
 * thread setting (the loader folds constants with it). */
void exec_cpu_backend_init(swarm_backend_t *be);

#endif
