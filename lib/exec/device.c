/*
 * device.c - `--device auto|cpu|cuda[:N]` and the GEMM precision names.
 *
 * Compiled in every build so that programs call one selector whatever the
 * build has.  The CUDA backend is not linked: it is the module
 * libswarm_cuda_module.so (lib/cuda/module.c says why), loaded with dlopen()
 * the first time a device spec asks for CUDA ("auto" included), from the
 * path the build put it at (SWARM_CUDA_MODULE, overridable by the
 * environment variable of that name).  A build without CUDA, or a host
 * without the CUDA libraries, makes "auto" pick the CPU and "cuda" fail
 * with the loader's reason.
 */
#include <dlfcn.h>
#include <limits.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <strings.h>
#include <unistd.h>

#include "swarm/backend_cuda.h"
#include "swarm/device.h"
#include "swarm/version.h"

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

typedef struct cuda_module {
        int (*device_count)(void);
        swarm_backend_t *(*backend_new)(int device, swarm_precision_t precision,
                                        swarm_err_t *err);
} cuda_module_t;

/* Resolve the module's entry points.  The handle is never closed: backends
 * it creates run its code for the rest of the process (dlopen() of the same
 * path returns the same, reference-counted handle, so repeated calls are
 * cheap).  Returns 0, or -1 with the reason in why. */
static int cuda_module_load(cuda_module_t *m, char *why, size_t size) {
#ifdef SWARM_CUDA_MODULE
        char buf[PATH_MAX];
        const char *path = swarm_cuda_module_path(buf, sizeof(buf));
        void *h;

        h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
                snprintf(why, size, "cannot load the CUDA backend: %s", dlerror());
                return -1;
        }
        *(void **)&m->device_count = dlsym(h, "swarm_cuda_module_device_count");
        *(void **)&m->backend_new = dlsym(h, "swarm_cuda_module_backend_new");
        if (!m->device_count || !m->backend_new) {
                snprintf(why, size, "%s is not a swarm CUDA backend module", path);
                return -1;
        }
        return 0;
#else
        (void)m;
        snprintf(why, size, "cuda unavailable in this build (configure with "
                            "-DSWARM_CUDA=ON)");
        return -1;
#endif
}

/* The kernel driver's traces: its proc file, or its control device. */
static int nvidia_driver_present(void) {
        return access("/proc/driver/nvidia/version", R_OK) == 0 ||
               access("/dev/nvidiactl", F_OK) == 0;
}

int swarm_device_cuda_count(void) {
        cuda_module_t m;
        char why[256];
        return cuda_module_load(&m, why, sizeof(why)) ? 0 : m.device_count();
}

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
        cuda_module_t mod = {0};
        char why[256] = "";
        int rc, n = 0, have = 0;

        *out = NULL;
        if ((rc = swarm_device_parse(device_spec, &ds, err)))
                return rc;
        /* "auto" on a host without the NVIDIA driver does not even load
         * the module: mapping cuBLAS costs ~150 MB resident for nothing */
        if (ds.kind == SWARM_DEVICE_AUTO && !nvidia_driver_present())
                snprintf(why, sizeof(why), "no NVIDIA driver on this host");
        else if (ds.kind != SWARM_DEVICE_CPU) {
                have = cuda_module_load(&mod, why, sizeof(why)) == 0;
                n = have ? mod.device_count() : 0;
        }
        if (ds.kind == SWARM_DEVICE_CUDA) {
                if (!have)
                        return swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                             "device '%s': %s", device_spec, why);
                if (ds.index >= n)
                        return swarm_err_set(err, SWARM_ERR_INVALID,
                                             "device '%s': %d CUDA device%s "
                                             "present", device_spec, n,
                                             n == 1 ? "" : "s");
        }
        if (ds.kind == SWARM_DEVICE_CPU ||
            (ds.kind == SWARM_DEVICE_AUTO && n == 0)) {
                if ((rc = swarm_backend_cpu_new(threads, out, err)))
                        return rc;
                SWARM_INFO(log, "backend selected device=cpu spec=%s "
                           "threads=%d%s%s%s",
                           device_spec && *device_spec ? device_spec : "auto",
                           threads > 0 ? threads : 1,
                           ds.kind != SWARM_DEVICE_AUTO ? ""
                           : have ? " reason=no-cuda-device"
                                  : " reason=\"",
                           ds.kind == SWARM_DEVICE_AUTO && !have ? why : "",
                           ds.kind == SWARM_DEVICE_AUTO && !have ? "\"" : "");
                return SWARM_OK;
        }
        *out = mod.backend_new(ds.index, precision, err);
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
