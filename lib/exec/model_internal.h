/*
 * model_internal.h - the executor's plan, shared by the ONNX loader
 * (onnx_load.c) and the runner (model.c).  Not a public header.
 */
#ifndef SWARM_MODEL_INTERNAL_H
#define SWARM_MODEL_INTERNAL_H

#include <stdint.h>

#include "swarm/backend.h"
#include "swarm/model.h"
#include "swarm/tensor.h"

enum vkind { V_INPUT, V_CONST, V_TEMP };

/* One tensor of the graph.  When `batched`, the leading dimension is
 * rows * shape[0] (shape[0] is a multiplier, 1 for the graph inputs), so
 * shapes are inferred once at load and resolved cheaply per run. */
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
        void *host;             /* const data before upload (loader only) */
        size_t host_bytes;
        void *dev;              /* device data for the current run */
        int64_t cshape[SWARM_MAX_DIMS]; /* shape for the current rows */
        int64_t celems;
} xvalue_t;

enum xop { OP_GEMM, OP_MATMUL, OP_ADD, OP_ACT, OP_SOFTMAX, OP_COPY };

typedef struct xnode {
        char *name;
        char *op_type;
        enum xop op;
        int dead;               /* folded into another node by fusion */
        int in[3];              /* value ids, -1 when absent */
        int n_in;
        int out;
        int src;                /* index in GraphProto.node */
        /* OP_GEMM / OP_MATMUL: in[0] = A, in[1] = B, in[2] = bias = C or the
         * constant of a fused Add (-1 when none) */
        float alpha, beta;
        int trans_a, trans_b;
        int bias;
        swarm_act_t act;        /* OP_ACT and fused activations */
        /* OP_SOFTMAX: reduce over [axis, end) (legacy) or [axis] only */
        int axis;
        int legacy;
} xnode_t;

typedef struct xslot {
        void *dev;
        size_t cap;
} xslot_t;

struct swarm_model {
        swarm_backend_t *be;
        xvalue_t *vals;
        int n_vals;
        xnode_t *nodes;         /* topologically sorted */
        int n_nodes;
        int n_steps;            /* live nodes: backend calls per run */
        int n_in, n_out;
        int *in_vals, *out_vals;
        swarm_model_io_t *in_io, *out_io;
        int64_t fixed_rows;     /* -1 when some input has a symbolic batch */
        xslot_t *slots;
        int n_slots;
        int64_t cap_rows;       /* rows the buffers are sized for */
        int64_t cur_rows;       /* rows the cshapes are resolved for */
        /* Only for backends without host_mem: */
        xslot_t *in_dev;
        xslot_t *out_host;
};

#endif
