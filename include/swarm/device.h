/*
 * device.h - choosing the backend a worker runs on (`--device`).
 *
 *   auto      the first CUDA device when one is present, else the CPU
 *   cpu       the CPU backend (OpenBLAS)
 *   cuda      CUDA device 0
 *   cuda:N    CUDA device N
 *
 * Available in every build; in a build without CUDA, "cuda[:N]" fails with
 * "cuda unavailable in this build" and "auto" picks the CPU.
 */
#ifndef SWARM_DEVICE_H
#define SWARM_DEVICE_H

#include "swarm/backend.h"
#include "swarm/backend_cuda.h"
#include "swarm/err.h"
#include "swarm/log.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum swarm_device_kind {
        SWARM_DEVICE_AUTO = 0,
        SWARM_DEVICE_CPU,
        SWARM_DEVICE_CUDA
} swarm_device_kind_t;

typedef struct swarm_device_spec {
        swarm_device_kind_t kind;
        int index;              /* CUDA device, 0 unless "cuda:N" */
} swarm_device_spec_t;

/* CUDA devices usable through the CUDA backend module; 0 when there are
 * none, when the module or the CUDA libraries cannot be loaded, or in a
 * build without CUDA.  Never fails. */
int swarm_device_cuda_count(void);

/* Parse a --device value (NULL or "" means auto).  Syntax only: whether the
 * device exists is checked by swarm_backend_select().
 * Errors: SWARM_ERR_INVALID naming the value. */
int swarm_device_parse(const char *spec, swarm_device_spec_t *out,
                       swarm_err_t *err);

/* Create the backend `device_spec` names (see above) with fp32 GEMMs on a
 * GPU; `threads` goes to the CPU backend (swarm_backend_cpu_new).  Logs the
 * choice once at INFO (device=cpu|cuda:N name=... precision=...).
 * On success *out is owned by the caller (swarm_backend_destroy).
 * Errors: SWARM_ERR_INVALID (bad spec, no such device), SWARM_ERR_UNSUPPORTED
 * (cuda asked for in a build without CUDA), whatever the backend's
 * constructor returns. */
int swarm_backend_select(const char *device_spec, int threads,
                         const swarm_log_t *log, swarm_backend_t **out,
                         swarm_err_t *err);

/* The same with an explicit GEMM precision for a CUDA backend (ignored on
 * the CPU, which is always fp32). */
int swarm_backend_select_prec(const char *device_spec,
                              swarm_precision_t precision, int threads,
                              const swarm_log_t *log, swarm_backend_t **out,
                              swarm_err_t *err);

#ifdef __cplusplus
}
#endif
#endif
