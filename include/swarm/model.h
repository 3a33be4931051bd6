/*
 * model.h - ONNX models loaded for execution on a backend.
 *
 * swarm_model_load_*() parses the ONNX protobuf (protobuf-c, Debian's
 * onnx.proto), validates the graph, checks every operator is supported and
 * uploads weights through the backend.  Unsupported operators, attributes or
 * malformed files are refused with the node name, the operator and the reason.
 *
 * The leading dimension of every graph input and output is the batch (rows)
 * dimension and may be symbolic.  Other dimensions may be symbolic too
 * (sequence length, image height and width): such a model resolves its
 * shapes when a batch forms, from the actual input shapes given to
 * swarm_model_run_shaped(), and keeps one plan (shapes, memory plan,
 * weights) per resolved shape in a bounded cache (SWARM_MODEL_SHAPE_CACHE
 * plans, least recently used evicted).  Inputs that share a dim_param name
 * must agree on its value.
 *
 * Threads: a loaded model is run by one thread at a time (it owns its
 * intermediate buffers).  Different models may run on different threads.
 */
#ifndef SWARM_MODEL_H
#define SWARM_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "swarm/backend.h"
#include "swarm/err.h"
#include "swarm/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct swarm_model swarm_model_t;

/* Signature of one graph input or output.  shape[0] is -1 when the batch
 * dimension is symbolic; any other dim is -1 when symbolic (bit d of `sym`
 * set, its dim_param name in dim_name[d]) and fixed (>= 0) otherwise. */
typedef struct swarm_model_io {
        const char *name;       /* borrowed from the model */
        swarm_dtype_t dtype;
        int ndim;
        int64_t shape[SWARM_MAX_DIMS];
        size_t row_bytes;       /* bytes of one batch row; 0 when a non-
                                 * batch dim is symbolic (see run_shaped) */
        uint32_t sym;           /* bit d: dim d is symbolic (bit 0 = batch) */
        const char *dim_name[SWARM_MAX_DIMS]; /* borrowed; NULL if fixed */
} swarm_model_io_t;

/* Resolved plans a model with symbolic non-batch dims keeps at most. */
#define SWARM_MODEL_SHAPE_CACHE 8

/* Load from a file or memory.  `be` is borrowed and must outlive the model.
 * On success *out is owned by the caller (swarm_model_destroy). */
int swarm_model_load_file(const char *path, swarm_backend_t *be,
                          swarm_model_t **out, swarm_err_t *err);
int swarm_model_load_mem(const void *buf, size_t len, swarm_backend_t *be,
                         swarm_model_t **out, swarm_err_t *err);
void swarm_model_destroy(swarm_model_t *m);

/* Like swarm_model_load_mem(), with the graph inputs named in bind[0..n_bind)
 * replaced by those constant values (name, dtype, shape, data; copied), so
 * inputs that set shapes, axes or limits (Reshape's shape, Clip's min ...)
 * fold at load time.  The model's inputs are the remaining ones.  Errors as
 * for load, plus SWARM_ERR_INVALID for a bound value whose size does not
 * match its shape. */
int swarm_model_load_mem_bound(const void *buf, size_t len,
                               const swarm_tensor_t *bind, int n_bind,
                               swarm_backend_t *be, swarm_model_t **out,
                               swarm_err_t *err);

int swarm_model_n_inputs(const swarm_model_t *m);
int swarm_model_n_outputs(const swarm_model_t *m);
const swarm_model_io_t *swarm_model_input(const swarm_model_t *m, int i);
const swarm_model_io_t *swarm_model_output(const swarm_model_t *m, int i);

/* Run `rows` batch rows.  inputs[i] points to rows * input(i)->row_bytes
 * contiguous host bytes.  On success outputs[i] points to rows *
 * output(i)->row_bytes host bytes owned by the model, valid until the next
 * run or destroy.  Errors: SWARM_ERR_INVALID (rows < 1, or the model has
 * symbolic non-batch dims: use swarm_model_run_shaped),
 * SWARM_ERR_NOMEM / SWARM_ERR_BACKEND (the batch failed; the model stays
 * usable). */
int swarm_model_run(swarm_model_t *m, int64_t rows,
                    const void *const *inputs, const void **outputs,
                    swarm_err_t *err);

/* Run with the actual input shapes: in_shapes[i][0..input(i)->ndim) is
 * input i's shape (rows leading when batched), inputs[i] its contiguous
 * host bytes.  Works for every model; it is the only way to run one whose
 * non-batch dims are symbolic.  On success out_shapes[i] (may be NULL)
 * receives output i's resolved shape and outputs[i] its bytes (owned by the
 * model, valid until the next run or destroy).  Errors: SWARM_ERR_INVALID
 * when a shape contradicts a fixed dim, two inputs disagree on a shared
 * symbolic dim or the batch, or the shape cannot be planned (the message
 * names the expected signature); otherwise as swarm_model_run().  A new
 * shape loads a plan (the cost of a load) and may evict the least recently
 * used one. */
int swarm_model_run_shaped(swarm_model_t *m, int64_t rows,
                           const int64_t (*in_shapes)[SWARM_MAX_DIMS],
                           const void *const *inputs,
                           int64_t (*out_shapes)[SWARM_MAX_DIMS],
                           const void **outputs, swarm_err_t *err);

/* Check input shapes against the signature without running (for
 * INVALID_REQUEST before a batch forms).  Errors as for run_shaped's
 * SWARM_ERR_INVALID. */
int swarm_model_check_shapes(const swarm_model_t *m,
                             const int64_t (*in_shapes)[SWARM_MAX_DIMS],
                             swarm_err_t *err);

/* Non-zero when some non-batch dim of an input is symbolic, or the model
 * is planned per batch size (a shape chain needs the batch's value:
 * docs/exec.md "Shape chains through the batch"). */
int swarm_model_is_shaped(const swarm_model_t *m);

/* The rows a batch of `rows` is computed with: its bucket (the next power
 * of two; the extra rows are copies of the last one, their outputs
 * dropped) for a model planned per batch bucket, else `rows`. */
int64_t swarm_model_run_rows(const swarm_model_t *m, int64_t rows);

/* Leading dimension every input shares when no input has a symbolic batch
 * dimension (run() then requires rows == this); -1 when the batch is
 * symbolic.  An input with a fixed leading dimension (io->shape[0] >= 0)
 * always holds shape[0] * row_bytes bytes (row_bytes for a 0-D input),
 * whatever rows is; the same holds for outputs. */
int64_t swarm_model_fixed_rows(const swarm_model_t *m);

/* Working memory of one run: intermediate buffers (after reuse planning)
 * grow by work_row_bytes per batch row on top of work_fixed_bytes (buffers
 * of unbatched values, the convolution scratch and the copies of weights
 * a backend packed for its own GEMM).  The weights themselves and the
 * caller's inputs are not included.  A worker sizes batches to a budget
 * with rows <= (budget - fixed) / row_bytes. */
size_t swarm_model_work_row_bytes(const swarm_model_t *m);
size_t swarm_model_work_fixed_bytes(const swarm_model_t *m);

/* Backend calls per run after fusion (Gemm + Add + Relu counts one). */
int swarm_model_n_steps(const swarm_model_t *m);

/* Steps that run as host kernels (tensors of other dtypes, operators the
 * backend has no kernel for).  On a device backend each stages its inputs
 * and output through host memory; a loader of such a model should log
 * swarm_model_host_summary(), e.g. "3 of 57 steps on the host: 'eq'
 * (Equal), 'wh' (Where), 'top' (TopK)" (truncated to size).  A model with
 * symbolic non-batch dims reports its first plan's. */
int swarm_model_n_host_steps(const swarm_model_t *m);
void swarm_model_host_summary(const swarm_model_t *m, char *buf,
                              size_t size);

/* Decode a serialized ONNX TensorProto (e.g. the input_N.pb / output_N.pb of
 * ONNX test data) into *t: dtype, shape, data.  t->data is malloc'ed and the
 * caller frees it (free((void *)t->data)); t->name is left empty.
 * Errors: SWARM_ERR_PARSE, SWARM_ERR_INVALID, SWARM_ERR_TRUNCATED (raw_data
 * shorter than the shape), SWARM_ERR_UNSUPPORTED (dtype, external data). */
int swarm_model_tensor_decode(const void *buf, size_t len, swarm_tensor_t *t,
                              swarm_err_t *err);

/* Human-readable signature, e.g. "input:FLOAT32[N,784] -> logits:FLOAT32[N,10]",
 * written into buf (truncated to size). */
void swarm_model_signature(const swarm_model_t *m, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
