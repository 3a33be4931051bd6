/*
 * cpu_attn.h - the CPU backend's fused attention (swarm_attn_t,
 * include/swarm/backend.h), and the thread pool entry it splits over.
 * Not a public header.
 */
#ifndef SWARM_EXEC_CPU_ATTN_H
#define SWARM_EXEC_CPU_ATTN_H

#include "swarm/backend.h"

#include "cpu_par.h"  /* exec_cpu_par_run: the pool it splits over */


/* The `attention` entry of the CPU backend: one task per (batch, head,
 * block of query rows) over the pool; per task one sgemm for the scores,
 * scale / mask / softmax on them while they are in cache, one sgemm by V.
 * Errors: SWARM_ERR_BACKEND for a layout backend.h rules out,
 * SWARM_ERR_NOMEM when the scores' scratch cannot be had. */
int exec_cpu_attention(swarm_backend_t *be, const swarm_attn_t *a,
                       swarm_err_t *err);

/* The `layer_norm` entry of the CPU backend (backend.h): rows split over
 * the pool, vectorised float reductions. */
int exec_cpu_layer_norm(swarm_backend_t *be, const void *x, const void *scale,
                        const void *bias, void *y, int64_t outer, int64_t n,
                        float eps, swarm_err_t *err);

/* 1 when the layout of `a` meets backend.h's rules (dims >= 1, unit
 * strides, leading dimensions), so a loader can check before it fuses. */
int exec_attn_layout_ok(const swarm_attn_t *a);

#endif
