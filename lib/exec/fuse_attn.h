/*
 * fuse_attn.h - load-time rewrites of transformer blocks (fuse_attn.c):
 * the exported attention chain becomes one OP_ATTN step, the Erf and
 * tanh forms of GELU one activation each.  Not a public header.
 */
#ifndef SWARM_EXEC_FUSE_ATTN_H
#define SWARM_EXEC_FUSE_ATTN_H

#include "model_internal.h"

/* Rewrite the plan of m (after inference, before exec_fuse's GEMM
 * epilogues so a GELU found here joins the GEMM before it):
 *  - x / sqrt(2) -> Erf -> + 1 -> * x -> * 0.5 (any order of the two
 *    products; or x * (1 / sqrt(2))) becomes one GELU unary;
 *  - x * 0.5 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3))), x^3 as
 *    Pow or x * x * x, as GPT-2's exporters write it, one GELU_TANH;
 *  - MatMul(Q, K^T) [-> * or / constant scalar] [-> + mask] -> Softmax(last
 *    axis) -> MatMul(., V), with the Reshape / Transpose steps that split
 *    and merge the heads around it, becomes one OP_ATTN step, when the
 *    backend has `attention`.
 * Only chains whose every intermediate value has the one consumer, the
 * shapes, axes and constants checked; anything else is left as it is. */
void exec_fuse_attn(swarm_model_t *m);

/* Run an OP_ATTN step (model.c). */
int exec_attn_run(swarm_model_t *m, swarm_backend_t *be, const xnode_t *n,
                  swarm_err_t *err);

#endif
