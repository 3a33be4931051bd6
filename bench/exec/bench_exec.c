/*
 * bench_exec.c - time swarm_model_run on one ONNX file.
 *
 * Usage: bench_exec MODEL.onnx THREADS [--inputs DIR] BATCH [BATCH...]
 * Input 0 is filled with a fixed pseudo-random pattern in [0, 1); with
 * --inputs, every input I is DIR/input_I.npy (a model-family case: token
 * ids, images ...) with its rows repeated to the batch size.  Each batch
 * size is warmed up, then run for at least ~0.5 s.  Prints one line per
 * batch: "batch=B ms_per_run=T rows_per_s=R".  BENCH_CPU_TIME=1 times
 * with the process's CPU time (see now_s); BENCH_NO_WINOGRAD=1 loads
 * with swarm_backend_no_winograd (the worker's -X swarm.winograd=false);
 * BENCH_POOL_STATS=1 adds the thread pool's counters of each batch's timed
 * runs to stderr (exec_cpu_par_stats: parts the workers ran, their sleeps
 * and late claims, their CPU time against the wall time).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "swarm/arrayio.h"
#include "swarm/model.h"
#include "cpu_par.h"

/* OpenBLAS: which kernel set its dispatch picked (OPENBLAS_CORETYPE). */
char *openblas_get_corename(void);

/* BENCH_CPU_TIME=1: the process's CPU time instead of the wall clock,
 * steadier for one-thread runs on a loaded machine (others' work on the
 * cores then does not count, only its cache pressure does). */
static double now_s(void) {
        struct timespec ts;
        clock_gettime(getenv("BENCH_CPU_TIME") ? CLOCK_PROCESS_CPUTIME_ID
                                               : CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

#define MAX_IN 16

/* swarm_model_run_shaped when a non-batch dim is symbolic, else the plain
 * run (what the worker calls for such models). */
static int run(swarm_model_t *m, int64_t rows,
               int64_t (*shp)[SWARM_MAX_DIMS], const void **ip,
               const void **op, swarm_err_t *err) {
        if (swarm_model_is_shaped(m))
                return swarm_model_run_shaped(
                        m, rows, (const int64_t (*)[SWARM_MAX_DIMS])shp, ip,
                        NULL, op, err);
        return swarm_model_run(m, rows, ip, op, err);
}

/* Input i for `rows` rows: DIR/input_i.npy's rows repeated, or (no DIR)
 * the pseudo-random pattern; its shape in shape[] (the case's sequence
 * length or image size for symbolic dims).  Caller frees.  NULL on error
 * (printed). */
static void *make_input(const swarm_model_t *m, int i, const char *dir,
                        int64_t rows, int64_t *shape) {
        const swarm_model_io_t *io = swarm_model_input(m, i);
        swarm_array_t *a = NULL;
        size_t rb = io->row_bytes, total;
        char *x;
        memcpy(shape, io->shape, sizeof(io->shape));
        if (dir) {
                char path[4096];
                swarm_err_t err;
                snprintf(path, sizeof(path), "%s/input_%d.npy", dir, i);
                swarm_err_clear(&err);
                if (swarm_array_load(path, NULL, &a, &err) ||
                    a->dtype != io->dtype || a->ndim != io->ndim) {
                        fprintf(stderr, "%s: %s\n", path,
                                err.code ? err.msg
                                         : "does not fit the model's input");
                        swarm_array_destroy(a);
                        return NULL;
                }
                rb = swarm_array_row_bytes(a);
                memcpy(shape, a->shape, sizeof(a->shape));
        }
        shape[0] = rows;
        total = rb * (size_t)rows;
        x = malloc(total ? total : 1);
        if (!x) {
                swarm_array_destroy(a);
                return NULL;
        }
        if (a) {
                int64_t have = swarm_array_rows(a);
                for (int64_t r = 0; r < rows; r++)
                        memcpy(x + (size_t)r * rb,
                               (const char *)a->data + (size_t)(r % have) * rb,
                               rb);
                swarm_array_destroy(a);
        } else {
                float *f = (float *)x;
                uint32_t s = 12345;
                for (size_t k = 0; k < total / sizeof(float); k++) {
                        s = s * 1664525u + 1013904223u;
                        f[k] = (float)(s >> 8) / 16777216.0f;
                }
        }
        return x;
}

int main(int argc, char **argv) {
        swarm_err_t err;
        swarm_backend_t *be;
        swarm_model_t *m = NULL;
        const char *dir = NULL;
        int threads, first = 3, n_in;

        if (argc > 4 && strcmp(argv[3], "--inputs") == 0) {
                dir = argv[4];
                first = 5;
        }
        if (argc <= first) {
                fprintf(stderr, "usage: %s MODEL.onnx THREADS [--inputs DIR] "
                        "BATCH...\n", argv[0]);
                return 2;
        }
        threads = atoi(argv[2]);
        swarm_err_clear(&err);
        (void)swarm_backend_cpu_new(threads, &be, &err);
        if (be && getenv("BENCH_NO_WINOGRAD"))
                swarm_backend_no_winograd(be);
        if (!be || swarm_model_load_file(argv[1], be, &m, &err)) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
        }
        fprintf(stderr, "openblas core: %s\n", openblas_get_corename());
        /* the plan's fixed memory (packed filters, scratch, constants'
         * slots): what a layout choice that copies filters costs */
        fprintf(stderr, "work fixed: %.1f MB\n",
                (double)swarm_model_work_fixed_bytes(m) / 1e6);
        n_in = swarm_model_n_inputs(m);
        if (n_in > MAX_IN || (!dir && n_in != 1) ||
            swarm_model_n_outputs(m) > MAX_IN) {
                fprintf(stderr, "%d inputs: give --inputs DIR\n", n_in);
                return 1;
        }
        for (int a = first; a < argc; a++) {
                int64_t rows = atoll(argv[a]);
                void *x[MAX_IN];
                int64_t shp[MAX_IN][SWARM_MAX_DIMS];
                const void *ip[MAX_IN], *op[MAX_IN];
                double t0, t;
                int iters = 0;
                for (int i = 0; i < n_in; i++) {
                        x[i] = make_input(m, i, dir, rows, shp[i]);
                        if (!x[i])
                                return 1;
                        ip[i] = x[i];
                }
                for (int w = 0; w < 3; w++)
                        if (run(m, rows, shp, ip, op, &err)) {
                                fprintf(stderr, "%s\n", err.msg);
                                return 1;
                        }
                exec_cpu_par_stats_t st0, st1;
                (void)exec_cpu_par_stats(be, &st0);
                t0 = now_s();
                do {
                        if (run(m, rows, shp, ip, op, &err)) {
                                fprintf(stderr, "%s\n", err.msg);
                                return 1;
                        }
                        iters++;
                        t = now_s() - t0;
                } while (t < 0.5 || iters < 3);
                printf("batch=%lld ms_per_run=%.4f rows_per_s=%.0f\n",
                       (long long)rows, t * 1e3 / iters, rows * iters / t);
                if (getenv("BENCH_POOL_STATS") &&
                    !exec_cpu_par_stats(be, &st1))
                        fprintf(stderr, "pool batch=%lld: per run %.1f "
                                "worker parts, %.2f sleeps, %.2f late; "
                                "worker CPU %.0f%% of the wall time\n",
                                (long long)rows,
                                (double)(st1.worker_parts -
                                         st0.worker_parts) / iters,
                                (double)(st1.sleeps - st0.sleeps) / iters,
                                (double)(st1.late - st0.late) / iters,
                                100.0 * (double)(st1.worker_cpu_ns -
                                                 st0.worker_cpu_ns) /
                                        (t * 1e9));
                for (int i = 0; i < n_in; i++)
                        free(x[i]);
        }
        swarm_model_destroy(m);
        swarm_backend_destroy(be);
        return 0;
}
