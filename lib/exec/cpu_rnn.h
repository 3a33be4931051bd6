/*
 * cpu_rnn.h - the CPU backend's fused RNN / GRU / LSTM (backend.h's `rnn`
 * entry): one GEMM projects every time step's input, then each step is
 * one recurrent GEMM and one fused gate pass.
 */
#ifndef SWARM_EXEC_CPU_RNN_H
#define SWARM_EXEC_CPU_RNN_H

#include "swarm/backend.h"
#include "cpu_gemm.h"

/* Run the whole node r on the CPU backend be (host pointers).  GEMMs go
 * through be->gemm, so they use be's thread pool where they are large
 * enough.  Errors: SWARM_ERR_INVALID for a descriptor whose sizes are out
 * of range or overflow, or a sequence length outside [0, seq];
 * SWARM_ERR_NOMEM; a GEMM's error. */
int exec_cpu_rnn(swarm_backend_t *be, const swarm_rnn_t *r,
                 swarm_err_t *err);
/* The same with the kernel set `isa` (tests/exec/test_rnn.c runs every
 * one the CPU has; exec_cpu_rnn takes cpu_gemm_best_isa()).  A set the CPU
 * does not run: SWARM_ERR_INVALID. */
int exec_cpu_rnn_isa(swarm_backend_t *be, cpu_isa_t isa,
                     const swarm_rnn_t *r, swarm_err_t *err);

#endif
