/*
 * bench_exec.c - time swarm_model_run on one ONNX file.
 *
 * Usage: bench_exec MODEL.onnx THREADS BATCH [BATCH...]
 * Input 0 is filled with a fixed pseudo-random pattern in [0, 1); each batch
 * size is warmed up, then run for at least ~0.5 s.  Prints one line per
 * batch: "batch=B ms_per_run=T rows_per_s=R".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "swarm/model.h"

/* OpenBLAS: which kernel set its dispatch picked (OPENBLAS_CORETYPE). */
char *openblas_get_corename(void);

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
        swarm_err_t err;
        swarm_backend_t *be;
        swarm_model_t *m = NULL;
        const swarm_model_io_t *in;
        int threads;

        if (argc < 4) {
                fprintf(stderr, "usage: %s MODEL.onnx THREADS BATCH...\n",
                        argv[0]);
                return 2;
        }
        threads = atoi(argv[2]);
        swarm_err_clear(&err);
        be = swarm_backend_cpu_new(threads, &err);
        if (!be || swarm_model_load_file(argv[1], be, &m, &err)) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
        }
        fprintf(stderr, "openblas core: %s\n", openblas_get_corename());
        in = swarm_model_input(m, 0);
        for (int a = 3; a < argc; a++) {
                int64_t rows = atoll(argv[a]);
                size_t n = in->row_bytes * (size_t)rows / sizeof(float);
                float *x = malloc(n * sizeof(float));
                const void *ip[1], *op[8];
                double t0, t;
                int iters = 0;
                uint32_t s = 12345;
                if (!x)
                        return 1;
                for (size_t i = 0; i < n; i++) {
                        s = s * 1664525u + 1013904223u;
                        x[i] = (float)(s >> 8) / 16777216.0f;
                }
                ip[0] = x;
                for (int w = 0; w < 3; w++)
                        if (swarm_model_run(m, rows, ip, op, &err)) {
                                fprintf(stderr, "%s\n", err.msg);
                                return 1;
                        }
                t0 = now_s();
                do {
                        if (swarm_model_run(m, rows, ip, op, &err)) {
                                fprintf(stderr, "%s\n", err.msg);
                                return 1;
                        }
                        iters++;
                        t = now_s() - t0;
                } while (t < 0.5 || iters < 3);
                printf("batch=%lld ms_per_run=%.4f rows_per_s=%.0f\n",
                       (long long)rows, t * 1e3 / iters, rows * iters / t);
                free(x);
        }
        swarm_model_destroy(m);
        swarm_backend_destroy(be);
        return 0;
}
