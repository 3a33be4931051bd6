/*
 * plan_cost.c - what a model family pays for a new resolved shape: the
 * family's load (its probe plans), then per batch bucket the first run (a
 * plan load and a run) against the median of cached runs.  Inputs are zeros
 * (valid ids, an all-zero mask, a black image).
 *
 * Usage: plan_cost MODEL.onnx NAME=VALUE... [ROWS...]
 *   NAME=VALUE sets the inputs' symbolic dims of that dim_param (S=128,
 *   H=96); ROWS (default 1 2 4 8 16 32 64) are the batch sizes run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "swarm/model.h"

#define MAX_IO 16
#define REPS 5

static double now_ms(void) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b) {
        double x = *(const double *)a, y = *(const double *)b;
        return (x > y) - (x < y);
}

int main(int argc, char **argv) {
        static const int64_t dflt[] = {1, 2, 4, 8, 16, 32, 64};
        int64_t rows_list[64], sh[MAX_IO][SWARM_MAX_DIMS];
        int64_t os[MAX_IO][SWARM_MAX_DIMS];
        const void *ip[MAX_IO], *op[MAX_IO];
        int n_rows = 0, rc = 1;
        swarm_err_t e;
        swarm_backend_t *be;
        swarm_model_t *m = NULL;
        double t;

        if (argc < 2) {
                fprintf(stderr, "usage: %s MODEL NAME=VALUE... [ROWS...]\n",
                        argv[0]);
                return 2;
        }
        for (int a = 2; a < argc && n_rows < 64; a++)
                if (!strchr(argv[a], '='))
                        rows_list[n_rows++] = atoll(argv[a]);
        for (int i = 0; !n_rows && i < 7; i++)
                rows_list[i] = dflt[i];
        if (!n_rows)
                n_rows = 7;
        swarm_err_clear(&e);
        if (swarm_backend_cpu_new(1, &be, &e))
                goto fail;
        t = now_ms();
        if (swarm_model_load_file(argv[1], be, &m, &e))
                goto fail;
        printf("family load: %.2f ms\n", now_ms() - t);
        if (swarm_model_n_inputs(m) > MAX_IO)
                goto out;
        for (int k = 0; k < n_rows; k++) {
                int64_t rows = rows_list[k];
                double first, w[REPS];
                for (int i = 0; i < swarm_model_n_inputs(m); i++) {
                        const swarm_model_io_t *io = swarm_model_input(m, i);
                        size_t el = (size_t)rows;
                        sh[i][0] = rows;
                        for (int d = 1; d < io->ndim; d++) {
                                sh[i][d] = io->shape[d];
                                for (int a = 2; io->shape[d] < 0 && a < argc;
                                     a++) {
                                        size_t l = strlen(io->dim_name[d]
                                                          ? io->dim_name[d]
                                                          : "");
                                        if (l && strncmp(argv[a],
                                                         io->dim_name[d],
                                                         l) == 0 &&
                                            argv[a][l] == '=')
                                                sh[i][d] = atoll(argv[a] + l +
                                                                 1);
                                }
                                if (sh[i][d] < 1 || sh[i][d] > 1 << 20) {
                                        fprintf(stderr, "input %s dim %d: "
                                                "give NAME=VALUE\n", io->name,
                                                d);
                                        goto out;
                                }
                                el *= (size_t)sh[i][d];
                        }
                        ip[i] = calloc(el, swarm_dtype_size(io->dtype));
                        if (!ip[i])
                                goto out;
                }
                t = now_ms();
                if (swarm_model_run_shaped(m, rows,
                                           (const int64_t (*)[SWARM_MAX_DIMS])
                                           sh, ip, os, op, &e))
                        goto fail;
                first = now_ms() - t;
                for (int r = 0; r < REPS; r++) {
                        t = now_ms();
                        swarm_model_run_shaped(
                                m, rows, (const int64_t (*)[SWARM_MAX_DIMS])sh,
                                ip, os, op, &e);
                        w[r] = now_ms() - t;
                }
                qsort(w, REPS, sizeof(w[0]), cmp_d);
                printf("rows %3lld: first run %8.2f ms, cached %8.2f ms, "
                       "plan load ~%.2f ms\n", (long long)rows, first,
                       w[REPS / 2], first - w[REPS / 2]);
                for (int i = 0; i < swarm_model_n_inputs(m); i++)
                        free((void *)ip[i]);
        }
        rc = 0;
        goto out;
fail:
        fprintf(stderr, "%s\n", e.msg);
out:
        swarm_model_destroy(m);
        swarm_backend_destroy(be);
        return rc;
}
