/*
 * cpu_par.h - the CPU backend's thread pool, for kernels kept in their own
 * files (cpu_resize.c, cpu_convt.c).  Not a public header.
 */
#ifndef SWARM_CPU_PAR_H
#define SWARM_CPU_PAR_H

#include <stdint.h>

#include "swarm/backend.h"

/* Run fn(arg, part, parts) for part 0 .. parts - 1 on the backend's lanes
 * (each part claimed by whichever lane gets it first); serially (parts == 1) when `big` is 0, the
 * backend has one lane, or another call holds the pool.  fn may call the
 * backend's kernels: those run serially inside a part. */
/* The one source for "is this worth a second lane": work below these runs
 * serially.  Handing a part over costs a store, a claim (one CAS) and the
 * wait for the other lane's part; inside a model run the worker spins (see
 * the pool in backend_cpu.c), so there is no wake-up to pay and a part of
 * ~10 us pays for itself: 64 Ki elements is ~25-50 us of streaming, 512 Ki
 * multiply-adds ~5-10 us of GEMM at one lane's speed.  The old bounds
 * (512 Ki / 8 Mi, set while the worker slept between kernels) left
 * MobileNetV3 at batch 1 12% splittable and the 784-1024-1024-10 MLP and
 * seg at batch 1 0%; these make it 73-97% (issue 14, bench/exec/README.md
 * has the profile and the figures).
 * ELEMS: elements streamed by a memory-bound kernel (elementwise, pooling,
 * resize, softmax, depthwise taps); MACS: multiply-adds of a compute-bound
 * one (GEMM, convolution, attention). */
#define EXEC_CPU_PAR_MIN_ELEMS ((int64_t)64 * 1024)
#define EXEC_CPU_PAR_MIN_MACS ((int64_t)512 * 1024)
/* GEMMs that go to OpenBLAS (operands not packed at load: the fashion
 * CNN's per-image 32x196x144 convolutions, products of two activations)
 * keep the old bound: each part repacks its operands inside sgemm, and
 * split in two halves the fashion CNN at 2 threads ran 1.2-1.4x slower
 * (0.93 -> 1.29 ms at batch 16, load 1.1-1.5). */
#define EXEC_CPU_PAR_MIN_BLAS_MACS ((int64_t)8 * 1024 * 1024)

typedef void (*exec_cpu_par_fn_t)(void *arg, int part, int parts);
void exec_cpu_par_run(swarm_backend_t *be, int big, exec_cpu_par_fn_t fn,
                      void *arg);

/* The pool's state, for tests and tuning.  workers: started workers
 * (threads - 1); sleeping: those asleep on the condvar now; held: those
 * waiting on exec_cpu_par_hold; runs: model runs in progress (run_begin
 * less run_end); sleeps: times a worker went to sleep; worker_parts:
 * parts run by workers (the caller ran the rest); late: times a worker
 * saw a job and found every part claimed; worker_cpu_ns: the workers' CPU
 * time so far.  Returns -1 (all 0) for a backend that is not the CPU
 * one. */
typedef struct exec_cpu_par_stats {
        int workers, sleeping, held, runs;
        uint64_t sleeps, worker_parts, late;
        int64_t worker_cpu_ns;
} exec_cpu_par_stats_t;
int exec_cpu_par_stats(swarm_backend_t *be, exec_cpu_par_stats_t *st);
/* Test hook: while `on`, a worker that saw a job waits before claiming a
 * part, so the caller claims and runs all of them (the late-worker path);
 * clearing it lets the held worker try its claim. */
void exec_cpu_par_hold(swarm_backend_t *be, int on);

#endif
