/*
 * test_run_chunk.c - a large batch run in slices (lib/exec/run_chunk.c)
 * gives the rows the whole-batch and one-row runs give.  The fashion-cnn
 * fixture (tens of KiB of work per row: sliced from a few dozen rows, the
 * count depending on the plan's bytes per row and the lanes, so the test
 * finds it) at the first sliced batch, one and a half times it and twice
 * it plus 3, against each row run alone, with distinct rows (a slice that
 * read or wrote the wrong rows fails), twice in a row (the output buffers
 * reused), then a batch too small to slice and the fashion MLP (a few
 * hundred bytes per row: whole batches up to thousands of rows) left
 * whole.
 *
 * Usage: test_run_chunk FASHION_CNN_DIR FASHION_MLP_DIR
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarm/backend.h"
#include "swarm/model.h"
#include "model_internal.h"

#include "check.h"
#include "test_fill.h"

static swarm_model_t *load(const char *dir, swarm_backend_t *be) {
        char path[4096];
        swarm_model_t *m = NULL;
        swarm_err_t err = {0};

        snprintf(path, sizeof(path), "%s/model.onnx", dir);
        REQUIRE_OK(swarm_model_load_file(path, be, &m, &err), err);
        return m;
}

/* rows distinct rows at once (sliced) against each alone. */
static void sliced_vs_rows(swarm_model_t *m, int64_t rows, int lanes) {
        const swarm_model_io_t *in = swarm_model_input(m, 0);
        const swarm_model_io_t *out = swarm_model_output(m, 0);
        size_t ifl = in->row_bytes / sizeof(float);
        size_t ofl = out->row_bytes / sizeof(float);
        float *x = malloc((size_t)rows * in->row_bytes);
        float *got = malloc((size_t)rows * out->row_bytes);
        swarm_err_t err = {0};
        int64_t bad = 0;

        REQUIRE(x && got);
        test_fill_range(x, (int64_t)(rows * ifl), (unsigned)rows, 5, 0.5f);
        for (size_t i = 0; i < rows * ifl; i++)
                x[i] += 0.5f;   /* pixels in [0, 1) */
        CHECK(exec_chunk_rows(m, rows) < rows, "%lld rows on %d lanes "
              "should be sliced", (long long)rows, lanes);
        for (int pass = 0; pass < 2; pass++) {
                const void *ip[1] = {x};
                const void *op[1] = {NULL};
                CHECK_OK(swarm_model_run(m, rows, ip, op, &err), err);
                REQUIRE(op[0]);
                memcpy(got, op[0], (size_t)rows * out->row_bytes);
                for (int64_t r = 0; r < rows; r++) {
                        const void *ip1[1] = {x + (size_t)r * ifl};
                        const void *op1[1] = {NULL};
                        const float *want;
                        CHECK_OK(swarm_model_run(m, 1, ip1, op1, &err), err);
                        want = op1[0];
                        for (size_t k = 0; k < ofl; k++) {
                                double e = fabs((double)got[r * ofl + k] -
                                                want[k]);
                                if (!(e <= 1e-6) && bad++ < 3)
                                        CHECK(0, "%lld rows, %d lanes, "
                                              "pass %d: row %lld out %zu "
                                              "= %g, alone %g",
                                              (long long)rows, lanes, pass,
                                              (long long)r, k,
                                              (double)got[r * ofl + k],
                                              (double)want[k]);
                        }
                }
        }
        free(x);
        free(got);
}

/* The smallest batch run_chunk.c slices, -1 when none up to 4096. */
static int64_t first_sliced(const swarm_model_t *m) {
        for (int64_t r = 1; r <= 4096; r++)
                if (exec_chunk_rows(m, r) < r)
                        return r;
        return -1;
}

int main(int argc, char **argv) {
        if (argc < 3) {
                fprintf(stderr, "usage: test_run_chunk FASHION_CNN_DIR "
                                "FASHION_MLP_DIR\n");
                return 2;
        }
        for (int lanes = 1; lanes <= 2; lanes++) {
                swarm_backend_t *be = NULL;
                swarm_err_t err = {0};
                swarm_model_t *m;
                REQUIRE_OK(swarm_backend_cpu_new(lanes, &be, &err), err);
                m = load(argv[1], be);
                {
                        int64_t f = first_sliced(m);
                        printf("fashion-cnn, %d lane(s): %zu work bytes a "
                               "row, sliced from %lld rows\n", lanes,
                               swarm_model_work_row_bytes(m), (long long)f);
                        /* at least 16 rows a slice, two slices; at most
                         * 1.5 MiB a lane of well over 16 KiB a row */
                        CHECK(f >= 32 && f <= 200 * lanes, "first sliced "
                              "batch %lld", (long long)f);
                        if (f > 0) {
                                sliced_vs_rows(m, f, lanes);
                                sliced_vs_rows(m, f + f / 2, lanes);
                                sliced_vs_rows(m, 2 * f + 3, lanes);
                        }
                }
                CHECK(exec_chunk_rows(m, 16) == 16, "16 rows: one run");
                swarm_model_destroy(m);
                m = load(argv[2], be);
                CHECK(exec_chunk_rows(m, 1024) == 1024,
                      "the MLP should run whole");
                swarm_model_destroy(m);
                swarm_backend_destroy(be);
        }
        TEST_DONE();
}
