/*
 * test_families.c - one model family (tests/fixtures/families/make.py: a
 * torchvision CNN, a BERT-style encoder, a DLRM-style recommender, GRU/LSTM
 * classifiers, a segmentation net) through our executor, against
 * onnxruntime's outputs.
 *
 * FAMILY_DIR holds model.onnx (its weights in model.onnx.data) and one
 * folder per case named by the first word of each line of family.txt, with
 * input_I.npy / output_I.npy in graph order.  Every case is a different
 * batch (and, for the encoder, sequence recurrent and segmentation families,
 * a different sequence length or image size), all run by the same loaded
 * model.
 *
 * Asserts, for every case:
 *  - each output's dtype and resolved shape are the reference's;
 *  - float outputs: every |got - want| <= 1e-4 * max|want| of that output;
 *    integer outputs (the recommender's top-k ids): equal;
 *  - the same when each batch row is run alone (batching must not change
 *    results), and through swarm_model_run() when no non-batch dim is
 *    symbolic (the CNNs);
 *  - families (swarm_model_is_shaped): the same for batches of 1..17 rows
 *    (1..5 for images) made of the case's rows (every batch bucket, more
 *    plans than the cache holds), and SWARM_ERR_INVALID for a contradicted fixed dim or a dim
 *    past INT32_MAX.
 *
 * Usage: test_families FAMILY_DIR [THREADS | staged] (staged: through the
 * host-staging path of a device backend, host_mem = 0).  Exit 0 pass, 1 fail (a model
 * that does not load fails, with the loader's message), 2 usage.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "swarm/arrayio.h"
#include "swarm/clock.h"
#include "swarm/model.h"

#define REL_TOL 1e-4
#define MAX_CASES 16
#define MAX_IO 16

typedef struct fam_case {
        char name[64];
        int n_in, n_out;
        swarm_array_t *in[MAX_IO];
        swarm_array_t *want[MAX_IO];
} fam_case_t;

static void case_free(fam_case_t *c) {
        for (int i = 0; i < c->n_in; i++)
                swarm_array_destroy(c->in[i]);
        for (int i = 0; i < c->n_out; i++)
                swarm_array_destroy(c->want[i]);
        memset(c, 0, sizeof(*c));
}

/* Case names: the first word of each non-empty line of family.txt. */
static int read_cases(const char *dir, char names[][64], int max) {
        char path[4096], line[1024];
        int n = 0;
        FILE *f;
        snprintf(path, sizeof(path), "%s/family.txt", dir);
        f = fopen(path, "r");
        if (!f)
                return -1;
        while (n < max && fgets(line, sizeof(line), f)) {
                if (sscanf(line, "%63s", names[n]) == 1)
                        n++;
        }
        fclose(f);
        return n;
}

static int load_case(const char *dir, const char *name, int n_in, int n_out,
                     fam_case_t *c, swarm_err_t *err) {
        char path[4096];
        memset(c, 0, sizeof(*c));
        snprintf(c->name, sizeof(c->name), "%.63s", name);
        for (int i = 0; i < n_in; i++) {
                snprintf(path, sizeof(path), "%s/%s/input_%d.npy", dir, name, i);
                if (swarm_array_load(path, NULL, &c->in[i], err))
                        return -1;
                c->n_in++;
        }
        for (int i = 0; i < n_out; i++) {
                snprintf(path, sizeof(path), "%s/%s/output_%d.npy", dir, name, i);
                if (swarm_array_load(path, NULL, &c->want[i], err))
                        return -1;
                c->n_out++;
        }
        return 0;
}

static double max_abs(const swarm_array_t *a) {
        const float *p = a->data;
        size_t n = a->size / sizeof(float);
        double m = 0;
        for (size_t i = 0; i < n; i++)
                if (fabs(p[i]) > m)
                        m = fabs(p[i]);
        return m;
}

/* Compare `rows` rows of output `o` starting at row `r0` of the reference.
 * Returns the number of mismatches (the first few printed). */
static long compare(const swarm_model_t *m, const fam_case_t *c, int o,
                    const void *got, int64_t r0, int64_t rows, double *worst,
                    const char *what) {
        const swarm_array_t *w = c->want[o];
        int64_t wrows = swarm_array_rows(w);
        size_t rb = swarm_array_row_bytes(w);
        const char *oname = swarm_model_output(m, o)->name;
        long bad = 0;
        if (w->dtype == SWARM_DTYPE_FLOAT32) {
                const float *g = got;
                const float *e = (const float *)((const char *)w->data +
                                                 (size_t)r0 * rb);
                size_t n = (size_t)rows * rb / sizeof(float);
                double lim = REL_TOL * max_abs(w);
                for (size_t i = 0; i < n; i++) {
                        double d = fabs((double)g[i] - e[i]);
                        if (!(d <= lim)) {
                                if (bad++ < 5)
                                        printf("FAIL %s %s %s[%zu]: got %.9g "
                                               "want %.9g (limit %.3g)\n",
                                               c->name, what, oname, i, g[i],
                                               e[i], lim);
                        }
                        if (lim > 0 && d / lim > *worst)
                                *worst = d / lim;
                }
        } else {
                /* Integer outputs (top-k ids) must be equal. */
                if (memcmp(got, (const char *)w->data + (size_t)r0 * rb,
                           (size_t)rows * rb) != 0) {
                        printf("FAIL %s %s %s: integer values differ\n",
                               c->name, what, oname);
                        bad++;
                }
        }
        (void)wrows;
        return bad;
}

/* Run `rows` rows from `r0` of case c with the arrays' shapes
 * (swarm_model_run_shaped: the sequence length or image size comes from the
 * case) and compare every output's shape and values. */
static long run_rows(swarm_model_t *m, const fam_case_t *c, int64_t r0,
                     int64_t rows, double *worst, const char *what,
                     swarm_err_t *err) {
        const void *ip[MAX_IO], *op[MAX_IO];
        int64_t in_shapes[MAX_IO][SWARM_MAX_DIMS];
        int64_t out_shapes[MAX_IO][SWARM_MAX_DIMS];
        long bad = 0;
        for (int i = 0; i < c->n_in; i++) {
                ip[i] = (const char *)c->in[i]->data +
                        (size_t)r0 * swarm_array_row_bytes(c->in[i]);
                memcpy(in_shapes[i], c->in[i]->shape, sizeof(in_shapes[i]));
                in_shapes[i][0] = rows;
        }
        if (swarm_model_run_shaped(m, rows, (const int64_t (*)[SWARM_MAX_DIMS])
                                   in_shapes, ip, out_shapes, op, err)) {
                printf("FAIL %s %s: run: %s\n", c->name, what, err->msg);
                return 1;
        }
        for (int o = 0; o < c->n_out; o++) {
                const swarm_array_t *w = c->want[o];
                int same = swarm_model_output(m, o)->ndim == w->ndim &&
                           out_shapes[o][0] == rows;
                for (int d = 1; same && d < w->ndim; d++)
                        same = out_shapes[o][d] == w->shape[d];
                if (!same) {
                        printf("FAIL %s %s: output %s has another shape than "
                               "the reference\n", c->name, what,
                               swarm_model_output(m, o)->name);
                        bad++;
                        continue;
                }
                bad += compare(m, c, o, op[o], r0, rows, worst, what);
        }
        return bad;
}

/* Batches of many sizes made of the case's rows repeated (row r is case row
 * r % rows): each output row must be its source row's reference.  For
 * families this walks the batch buckets up to 32 rows (8 for images) and,
 * over two cases, more plans than the cache holds (evicted plans are
 * reloaded).
 * Prints what a batch that needs a new plan costs against one that finds
 * its plan cached. */
static long run_sizes(swarm_model_t *m, const fam_case_t *c, double *worst,
                      swarm_err_t *err) {
        static const int64_t full[] = {5, 1, 7, 2, 9, 17, 3, 6};
        /* images: fewer and smaller batches (CI runs this under the
         * sanitizers); the cheap families walk every bucket */
        static const int64_t brief[] = {3, 1, 5, 2};
        const void *ip[MAX_IO], *op[MAX_IO];
        int64_t in_shapes[MAX_IO][SWARM_MAX_DIMS];
        int64_t out_shapes[MAX_IO][SWARM_MAX_DIMS];
        int64_t rows = swarm_array_rows(c->in[0]);
        void *buf[MAX_IO] = {NULL};
        double cold = 0, warm = 0;
        long bad = 0;
        int big = swarm_array_row_bytes(c->in[0]) > 32 * 1024;
        const int64_t *sizes = big ? brief : full;
        size_t n_sizes = big ? sizeof(brief) / sizeof(brief[0])
                             : sizeof(full) / sizeof(full[0]);
        for (size_t k = 0; k < n_sizes; k++) {
                int64_t n = sizes[k];
                double t[2];
                for (int i = 0; i < c->n_in; i++) {
                        size_t rb = swarm_array_row_bytes(c->in[i]);
                        free(buf[i]);
                        buf[i] = malloc((size_t)n * rb);
                        if (!buf[i]) {
                                bad++;
                                goto out;
                        }
                        for (int64_t r = 0; r < n; r++)
                                memcpy((char *)buf[i] + (size_t)r * rb,
                                       (const char *)c->in[i]->data +
                                       (size_t)(r % rows) * rb, rb);
                        ip[i] = buf[i];
                        memcpy(in_shapes[i], c->in[i]->shape,
                               sizeof(in_shapes[i]));
                        in_shapes[i][0] = n;
                }
                /* twice: the first may load a plan, the second does not */
                for (int pass = 0; pass < 2; pass++) {
                        t[pass] = ((double)swarm_clock_us() / 1e3);
                        if (swarm_model_run_shaped(
                                    m, n, (const int64_t (*)[SWARM_MAX_DIMS])
                                    in_shapes, ip, out_shapes, op, err)) {
                                printf("FAIL %s sizes %" PRId64 ": run: %s\n",
                                       c->name, n, err->msg);
                                bad++;
                                goto out;
                        }
                        t[pass] = ((double)swarm_clock_us() / 1e3) - t[pass];
                }
                cold += t[0];
                warm += t[1];
                for (int o = 0; o < c->n_out; o++) {
                        size_t rb = swarm_array_row_bytes(c->want[o]);
                        if (out_shapes[o][0] != n) {
                                printf("FAIL %s sizes %" PRId64 ": output %d "
                                       "has %" PRId64 " rows\n", c->name, n,
                                       o, out_shapes[o][0]);
                                bad++;
                                continue;
                        }
                        for (int64_t r = 0; r < n; r++)
                                bad += compare(m, c, o,
                                               (const char *)op[o] +
                                               (size_t)r * rb, r % rows, 1,
                                               worst, "sizes");
                }
        }
        printf("%s: batches of 1..%d rows: %.1f ms first runs, %.1f ms "
               "repeated (%zu sizes; 5 rows run as %" PRId64 ")\n", c->name,
               big ? 5 : 17, cold, warm, n_sizes,
               swarm_model_run_rows(m, 5));
out:
        for (int i = 0; i < c->n_in; i++)
                free(buf[i]);
        return bad;
}

/* Shapes a request may not have: a fixed dim contradicted, a dim out of
 * range.  Each is SWARM_ERR_INVALID, before anything runs. */
static long run_hostile(swarm_model_t *m, const fam_case_t *c) {
        const void *ip[MAX_IO], *op[MAX_IO];
        int64_t in_shapes[MAX_IO][SWARM_MAX_DIMS];
        int64_t out_shapes[MAX_IO][SWARM_MAX_DIMS];
        long bad = 0;
        for (int k = 0; k < 2; k++)
                for (int i = 0; i < c->n_in; i++) {
                        const swarm_model_io_t *io = swarm_model_input(m, i);
                        for (int d = 1; d < io->ndim; d++) {
                                swarm_err_t e;
                                int rc;
                                swarm_err_clear(&e);
                                for (int j = 0; j < c->n_in; j++) {
                                        ip[j] = c->in[j]->data;
                                        memcpy(in_shapes[j], c->in[j]->shape,
                                               sizeof(in_shapes[j]));
                                }
                                if (k == 0 && io->shape[d] < 0)
                                        continue;
                                /* k 0: a fixed dim + 1; k 1: past INT32 */
                                in_shapes[i][d] = k == 0
                                        ? io->shape[d] + 1
                                        : (int64_t)INT32_MAX + 1;
                                rc = swarm_model_run_shaped(
                                        m, swarm_array_rows(c->in[0]),
                                        (const int64_t (*)[SWARM_MAX_DIMS])
                                        in_shapes, ip, out_shapes, op, &e);
                                if (rc != SWARM_ERR_INVALID) {
                                        printf("FAIL %s: input %d dim %d = "
                                               "%" PRId64 ": code %d, not "
                                               "INVALID (%s)\n", c->name, i,
                                               d, in_shapes[i][d], rc, e.msg);
                                        bad++;
                                }
                        }
                }
        return bad;
}

static long run_plain(swarm_model_t *m, const fam_case_t *c, int64_t rows,
                      double *worst, swarm_err_t *err) {
        const void *ip[MAX_IO], *op[MAX_IO];
        long bad = 0;
        for (int i = 0; i < c->n_in; i++)
                ip[i] = c->in[i]->data;
        if (swarm_model_run(m, rows, ip, op, err)) {
                printf("FAIL %s plain: run: %s\n", c->name, err->msg);
                return 1;
        }
        for (int o = 0; o < c->n_out; o++)
                bad += compare(m, c, o, op[o], 0, rows, worst, "plain");
        return bad;
}

/* The model's signature must hold this case's arrays: dtypes, ranks and
 * every fixed dimension. */
static int fits(const swarm_model_io_t *io, const swarm_array_t *a) {
        if (io->dtype != a->dtype || io->ndim != a->ndim)
                return 0;
        for (int d = 1; d < a->ndim; d++)
                if (!(io->sym & (1u << d)) && io->shape[d] != a->shape[d])
                        return 0;
        return 1;
}

static int check_case(const swarm_model_t *m, const fam_case_t *c) {
        int64_t rows = swarm_array_rows(c->in[0]);
        char sig[2048];
        swarm_model_signature(m, sig, sizeof(sig));
        for (int i = 0; i < c->n_in; i++) {
                if (!fits(swarm_model_input(m, i), c->in[i]) ||
                    swarm_array_rows(c->in[i]) != rows) {
                        printf("FAIL %s: input %d does not fit %s\n", c->name,
                               i, sig);
                        return -1;
                }
        }
        for (int o = 0; o < c->n_out; o++) {
                if (!fits(swarm_model_output(m, o), c->want[o]) ||
                    swarm_array_rows(c->want[o]) != rows) {
                        printf("FAIL %s: reference output %d does not fit "
                               "%s\n", c->name, o, sig);
                        return -1;
                }
        }
        return 0;
}

int main(int argc, char **argv) {
        char path[4096], sig[2048];
        char names[MAX_CASES][64];
        swarm_err_t err;
        swarm_backend_t *be = NULL;
        swarm_model_t *m = NULL;
        fam_case_t c;
        int n_cases, rc = 1, threads = 1, staged = 0;
        swarm_backend_t st;
        long bad = 0;
        double worst = 0;

        if (argc != 2 && argc != 3) {
                fprintf(stderr, "usage: %s FAMILY_DIR [THREADS]\n", argv[0]);
                return 2;
        }
        /* "staged": the CPU kernels behind a backend that says its buffers
         * are device memory (host_mem = 0), so every host step is staged
         * through host buffers as on CUDA (no GPU needed). */
        if (argc == 3 && strcmp(argv[2], "staged") == 0)
                staged = 1;
        else if (argc == 3)
                threads = atoi(argv[2]);
        memset(&c, 0, sizeof(c));
        swarm_err_clear(&err);
        n_cases = read_cases(argv[1], names, MAX_CASES);
        if (n_cases < 1) {
                /* Absent fixtures are a failure: the setup step that makes
                 * them must have run. */
                printf("FAIL: no cases in %s/family.txt\n", argv[1]);
                return 1;
        }
        if (swarm_backend_cpu_new(threads, &be, &err))
                goto fail;
        st = *be;
        st.name = "staged";
        st.host_mem = 0;
        st.destroy = NULL;
        snprintf(path, sizeof(path), "%s/model.onnx", argv[1]);
        if (swarm_model_load_file(path, staged ? &st : be, &m, &err)) {
                printf("FAIL: load %s: %s\n", path, err.msg);
                goto out;
        }
        swarm_model_signature(m, sig, sizeof(sig));
        printf("model: %s, %d steps\n", sig, swarm_model_n_steps(m));
        if (swarm_model_n_inputs(m) > MAX_IO || swarm_model_n_outputs(m) > MAX_IO) {
                printf("FAIL: more than %d inputs or outputs\n", MAX_IO);
                goto out;
        }
        for (int k = 0; k < n_cases; k++) {
                int64_t rows;
                long cbad;
                if (load_case(argv[1], names[k], swarm_model_n_inputs(m),
                              swarm_model_n_outputs(m), &c, &err))
                        goto fail;
                if (check_case(m, &c)) {
                        bad++;
                        case_free(&c);
                        continue;
                }
                rows = swarm_array_rows(c.in[0]);
                cbad = run_rows(m, &c, 0, rows, &worst, "batch", &err);
                /* Each row alone gives the batch's results. */
                for (int64_t r = 0; rows > 1 && r < rows; r++)
                        cbad += run_rows(m, &c, r, 1, &worst, "row", &err);
                /* A model without symbolic non-batch dims also runs through
                 * the plain entry point (the worker's path for it). */
                if (!swarm_model_is_shaped(m))
                        cbad += run_plain(m, &c, rows, &worst, &err);
                else
                        cbad += run_sizes(m, &c, &worst, &err) +
                                run_hostile(m, &c);
                printf("%s: %s rows=%" PRId64 ", %ld mismatches\n",
                       cbad ? "FAIL" : "ok", c.name, rows, cbad);
                bad += cbad;
                case_free(&c);
        }
        printf("%d cases, %ld mismatches, worst |diff| / limit %.3g\n",
               n_cases, bad, worst);
        rc = bad ? 1 : 0;
        goto out;
fail:
        printf("FAIL: %s\n", err.msg);
out:
        case_free(&c);
        swarm_model_destroy(m);
        swarm_backend_destroy(be);
        return rc;
}
