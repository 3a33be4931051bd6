/*
 * device.c - `--device auto|cpu|cuda[:N]` and the GEMM precision names.
 *
 * Compiled in every build so that programs call one selector whatever the
 * build has; without SWARM_HAVE_CUDA it also supplies the two CUDA entry
 * points of backend_cuda.h as stubs that report "cuda unavailable in this
 * build".
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "swarm/backend_cuda.h"
#include "swarm/device.h"

static const char *const prec_names[] = {"fp32", "tf32", "fp16", "bf16"};

int swarm_precision_parse(const char *s, swarm_precision_t *out,
                          swarm_err_t *err) {
        for (int i = 0; s && i < 4; i++)
                if (!strcasecmp(s, prec_names[i])) {
                        *out = (swarm_precision_t)i;
                        return SWARM_OK;
                }
        return swarm_err_set(err, SWARM_ERR_INVALID,
                             "precision '%s': expected fp32, tf32, fp16 or "
                             "bf16", s ? s : "(null)");
}

const char *swarm_precision_name(swarm_precision_t p) {
        return (unsigned)p < 4 ? prec_names[p] : "?";
}

#ifndef SWARM_HAVE_CUDA
int swarm_cuda_device_count(void) {
        return 0;
}

swarm_backend_t *swarm_backend_cuda_new(int device, swarm_precision_t precision,
                                        swarm_err_t *err) {
        swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                      "cuda unavailable in this build (configure with "
                      "-DSWARM_CUDA=ON)");
        return NULL;
}
#endif

int swarm_device_parse(const char *spec, swarm_device_spec_t *out,
                       swarm_err_t *err) {
        out->kind = SWARM_DEVICE_AUTO;
        out->index = 0;
        if (!spec || !*spec || !strcasecmp(spec, "auto"))
                return SWARM_OK;
        if (!strcasecmp(spec, "cpu")) {
                out->kind = SWARM_DEVICE_CPU;
                return SWARM_OK;
        }
        if (!strncasecmp(spec, "cuda", 4) &&
            (spec[4] == '\0' || spec[4] == ':')) {
                out->kind = SWARM_DEVICE_CUDA;
                if (spec[4] == ':') {
                        char *end;
                        long v;
                        errno = 0;
                        v = strtol(spec + 5, &end, 10);
                        if (!spec[5] || *end || errno || v < 0 || v > 1023)
                                return swarm_err_set(err, SWARM_ERR_INVALID,
                                                     "device '%s': expected "
                                                     "cuda:N with N >= 0",
                                                     spec);
                        out->index = (int)v;
                }
                return SWARM_OK;
        }
        return swarm_err_set(err, SWARM_ERR_INVALID,
                             "device '%s': expected auto, cpu, cuda or "
                             "cuda:N", spec);
}

int swarm_backend_select_prec(const char *device_spec,
                              swarm_precision_t precision, int threads,
                              const swarm_log_t *log, swarm_backend_t **out,
                              swarm_err_t *err) {
        swarm_device_spec_t ds;
        int rc, n;

        *out = NULL;
        if ((rc = swarm_device_parse(device_spec, &ds, err)))
                return rc;
        n = ds.kind == SWARM_DEVICE_CPU ? 0 : swarm_cuda_device_count();
        if (ds.kind == SWARM_DEVICE_CUDA) {
#ifndef SWARM_HAVE_CUDA
                return swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                     "device '%s': cuda unavailable in this "
                                     "build", device_spec);
#endif
                if (ds.index >= n)
                        return swarm_err_set(err, SWARM_ERR_INVALID,
                                             "device '%s': %d CUDA device%s "
                                             "present", device_spec, n,
                                             n == 1 ? "" : "s");
        }
        if (ds.kind == SWARM_DEVICE_CPU ||
            (ds.kind == SWARM_DEVICE_AUTO && n == 0)) {
                *out = swarm_backend_cpu_new(threads, err);
                if (!*out)
                        return err ? err->code : SWARM_ERR_NOMEM;
                SWARM_INFO(log, "backend selected device=cpu spec=%s "
                           "threads=%d%s",
                           device_spec && *device_spec ? device_spec : "auto",
                           threads > 0 ? threads : 1,
                           ds.kind == SWARM_DEVICE_AUTO ? " reason=no-cuda-device"
                                                        : "");
                return SWARM_OK;
        }
        *out = swarm_backend_cuda_new(ds.index, precision, err);
        if (!*out) {
                swarm_err_prefix(err, "device '%s': ",
                                 device_spec && *device_spec ? device_spec
                                                             : "auto");
                return err ? err->code : SWARM_ERR_BACKEND;
        }
        SWARM_INFO(log, "backend selected device=cuda:%d spec=%s "
                   "precision=%s devices=%d", ds.index,
                   device_spec && *device_spec ? device_spec : "auto",
                   swarm_precision_name(precision), n);
        return SWARM_OK;
}

int swarm_backend_select(const char *device_spec, int threads,
                         const swarm_log_t *log, swarm_backend_t **out,
                         swarm_err_t *err) {
        return swarm_backend_select_prec(device_spec, SWARM_PREC_FP32,
                                         threads, log, out, err);
}
