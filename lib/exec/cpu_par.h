/*
 * cpu_par.h - the CPU backend's thread pool, for kernels kept in their own
 * files (cpu_resize.c, cpu_convt.c).  Not a public header.
 */
#ifndef SWARM_CPU_PAR_H
#define SWARM_CPU_PAR_H

#include <stdint.h>

#include "swarm/backend.h"

/* Run fn(arg, part, parts) for part 0 .. parts - 1 on the backend's lanes
 * (the caller runs part 0); serially (parts == 1) when `big` is 0, the
 * backend has one lane, or another call holds the pool.  fn may call the
 * backend's kernels: those run serially inside a part. */
typedef void (*exec_cpu_par_fn_t)(void *arg, int part, int parts);
void exec_cpu_par_run(swarm_backend_t *be, int big, exec_cpu_par_fn_t fn,
                      void *arg);

#endif
