/*
 * module.c - the entry points of libswarm_cuda_module.so, the CUDA backend
 * as a module that lib/exec/device.c loads with dlopen() only when a
 * `--device` asks for CUDA (auto included).
 *
 * Why a module: linking cuBLAS/cuBLASLt into every program maps and
 * relocates ~150 MB of library into each process at start (measured: a CPU
 * worker at 172 MB resident against 17 MB without them), and a binary that
 * links them does not start on a host without them.  Loaded on demand, a
 * CPU worker pays nothing and one build runs on both kinds of host.
 */
#include "swarm/backend_cuda.h"

#define EXPORT __attribute__((visibility("default")))

EXPORT int swarm_cuda_module_device_count(void);
EXPORT swarm_backend_t *swarm_cuda_module_backend_new(int device,
                                                      swarm_precision_t precision,
                                                      swarm_err_t *err);

int swarm_cuda_module_device_count(void) {
        return swarm_cuda_device_count();
}

swarm_backend_t *swarm_cuda_module_backend_new(int device,
                                               swarm_precision_t precision,
                                               swarm_err_t *err) {
        swarm_backend_t *be;

        /* the module's entry keeps its pointer form: it is the ABI an
         * installed module shares with libswarm (device.c dlsyms it) */
        return swarm_backend_cuda_new(device, precision, &be, err) ? NULL : be;
}
