/*
 * gpu_common.h - helpers shared by the GPU tests: the skip rule, a CPU and
 * a CUDA backend side by side, buffers mirrored on both, comparisons.
 * Header-only (static functions): each test is one file plus this.
 */
#ifndef SWARM_TESTS_GPU_COMMON_H
#define SWARM_TESTS_GPU_COMMON_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarm/backend.h"
#include "swarm/backend_cuda.h"

#define SKIP_RC 77

static int g_failed, g_checked;

/* Exit 77 unless a CUDA device is usable (0 devices or a failing driver). */
static inline void gpu_require(void) {
        if (swarm_cuda_device_count() <= 0) {
                printf("no CUDA device: skipped\n");
                exit(SKIP_RC);
        }
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static inline void rng_seed(uint64_t s) {
        rng_state = s ? s : 1;
}

/* xorshift64*: fresh inputs per run come from the seed the test prints. */
static inline float frand(float lo, float hi) {
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return lo + (hi - lo) * (float)((rng_state * 2685821657736338717ull >>
                                         40) / 16777216.0);
}

static inline float *rand_vec(int64_t n, float lo, float hi) {
        float *v = malloc((size_t)(n ? n : 1) * sizeof(float));
        if (!v) {
                fprintf(stderr, "out of memory\n");
                exit(1);
        }
        for (int64_t i = 0; i < n; i++)
                v[i] = frand(lo, hi);
        return v;
}

/* One logical buffer: the CPU backend's copy and the CUDA backend's. */
typedef struct pbuf {
        void *c, *g;
        size_t bytes;
} pbuf_t;

typedef struct pair {
        swarm_backend_t *cpu, *gpu;
} pair_t;

static inline void die_err(const char *what, const swarm_err_t *err) {
        fprintf(stderr, "FATAL %s: %s\n", what, err->msg);
        exit(1);
}

/* Both copies hold `host` (or zeros when host is NULL). */
static inline pbuf_t pb_new(pair_t *p, const void *host, size_t bytes) {
        swarm_err_t err;
        pbuf_t b = {NULL, NULL, bytes};
        void *z = NULL;

        swarm_err_clear(&err);
        if (!bytes)
                bytes = b.bytes = 4;
        if (!host)
                host = z = calloc(1, bytes);
        if (p->cpu->alloc(p->cpu, bytes, &b.c, &err) ||
            p->cpu->upload(p->cpu, b.c, host, bytes, &err) ||
            p->gpu->alloc(p->gpu, bytes, &b.g, &err) ||
            p->gpu->upload(p->gpu, b.g, host, bytes, &err))
                die_err("buffer", &err);
        free(z);
        return b;
}

static inline void pb_set(pair_t *p, pbuf_t *b, const void *host) {
        swarm_err_t err;
        swarm_err_clear(&err);
        if (p->cpu->upload(p->cpu, b->c, host, b->bytes, &err) ||
            p->gpu->upload(p->gpu, b->g, host, b->bytes, &err))
                die_err("upload", &err);
}

static inline void pb_free(pair_t *p, pbuf_t *b) {
        p->cpu->free_buf(p->cpu, b->c);
        p->gpu->free_buf(p->gpu, b->g);
        b->c = b->g = NULL;
}

/* Compare n floats.  mode 0: element-wise relative error
 * |g - c| / (|c| + 1e-3 max|c|); mode 1: norm-wise max|g - c| / max|c|,
 * the measure for GEMMs whose sums cancel.  NaN must match NaN. */
static inline double cmp_host(const float *hc, const float *hg, int64_t n,
                              int mode, double tol, const char *what) {
        double mx = 0.0, worst = 0.0;
        int64_t at = 0;

        for (int64_t i = 0; i < n; i++)
                if (isfinite(hc[i]) && fabs(hc[i]) > mx)
                        mx = fabs(hc[i]);
        for (int64_t i = 0; i < n; i++) {
                double d, e;
                if (isnan(hc[i]) || isnan(hg[i])) {
                        e = isnan(hc[i]) && isnan(hg[i]) ? 0.0 : INFINITY;
                } else if (isinf(hc[i]) || isinf(hg[i])) {
                        e = hc[i] == hg[i] ? 0.0 : INFINITY;
                } else {
                        d = fabs((double)hg[i] - (double)hc[i]);
                        e = mode ? d / (mx > 0 ? mx : 1e-30)
                                 : d / (fabs(hc[i]) + 1e-3 * mx + 1e-30);
                }
                if (e > worst) {
                        worst = e;
                        at = i;
                }
        }
        g_checked++;
        if (!(worst <= tol)) {
                printf("FAIL %s: rel err %.3g > %.1g at [%lld] cpu=%.9g "
                       "gpu=%.9g\n", what, worst, tol, (long long)at,
                       n ? hc[at] : 0.0, n ? hg[at] : 0.0);
                g_failed++;
        } else {
                printf("ok   %s: rel err %.3g (bound %.1g)\n", what, worst,
                       tol);
        }
        return worst;
}

/* Download both copies and compare the first n floats (see cmp_host). */
static inline double pb_check(pair_t *p, pbuf_t *b, int64_t n, int mode,
                              double tol, const char *what) {
        float *hc = malloc(b->bytes), *hg = malloc(b->bytes);
        double worst;
        swarm_err_t err;

        swarm_err_clear(&err);
        if (!hc || !hg)
                exit(1);
        if (p->cpu->download(p->cpu, hc, b->c, b->bytes, &err) ||
            p->gpu->download(p->gpu, hg, b->g, b->bytes, &err)) {
                printf("FAIL %s: download: %s\n", what, err.msg);
                g_failed++;
                g_checked++;
                worst = INFINITY;
        } else {
                worst = cmp_host(hc, hg, n, mode, tol, what);
        }
        free(hc);
        free(hg);
        return worst;
}

static inline double prec_tol(swarm_precision_t p) {
        switch (p) {
        case SWARM_PREC_FP32: return 1e-5;
        case SWARM_PREC_TF32: return 2e-3;
        default: return 2e-2;
        }
}

static inline int finish(const char *name) {
        printf("%s: %d checks, %d failed\n", name, g_checked, g_failed);
        printf("%d passed, %d failed\n", g_checked - g_failed, g_failed);
        return g_failed ? 1 : 0;
}

#endif
