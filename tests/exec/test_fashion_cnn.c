/*
 * test_fashion_cnn.c - the fashion-cnn fixture (a PyTorch-exported CNN:
 * Conv+BN, MaxPool, AveragePool, view(N,-1) as a Shape/Gather/Concat/
 * Reshape chain, Gemm+BatchNorm1d, Softmax) on the whole Fashion-MNIST test
 * set through our executor.
 *
 * Asserts:
 *  - the accuracy equals the trainer's measured accuracy (model.json
 *    "test_accuracy", from PyTorch's float64 forward pass);
 *  - every output probability matches the trainer's (expected.npy, PyTorch
 *    float64 forward stored as float32): |got - want| <= 1e-5 * |want| when
 *    |want| >= 1e-3, else |got - want| <= 1e-5 (absolute);
 *  - the loader folded the shape chain and BatchNormalizations (the plan
 *    has no more than 9 steps: Conv+Relu, MaxPool, Conv+Relu, Pad (all
 *    zero: a copy), AveragePool, Reshape, Gemm+BN+Relu, Gemm, Softmax).
 * It runs the 10000 images in batches of 1000 and once more one by one for
 * the first 100 images (the batch must not change results).
 *
 * Usage: test_fashion_cnn FIXTURE_DIR DATA_DIR (exit 77 when the data is
 * absent).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarm/arrayio.h"
#include "swarm/model.h"

#define TOL 1e-5

static double read_accuracy(const char *path) {
        FILE *f = fopen(path, "rb");
        char buf[8192];
        size_t n;
        const char *p;
        if (!f)
                return -1;
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        p = strstr(buf, "\"test_accuracy\":");
        return p ? atof(p + strlen("\"test_accuracy\":")) : -1;
}

int main(int argc, char **argv) {
        char path[4096];
        swarm_err_t err;
        swarm_backend_t *be = NULL;
        swarm_model_t *m = NULL;
        swarm_array_t *x = NULL, *y = NULL, *want = NULL;
        swarm_array_load_opts_t opts;
        const swarm_model_io_t *in, *out;
        int rc = 1, correct = 0, bad = 0;
        int64_t rows, nc;
        double acc_want, acc, worst = 0;
        const int64_t batch = 1000;

        if (argc != 3 && argc != 4) {
                fprintf(stderr, "usage: %s FIXTURE_DIR DATA_DIR [THREADS]\n", argv[0]);
                return 2;
        }
        swarm_err_clear(&err);
        memset(&opts, 0, sizeof(opts));
        snprintf(path, sizeof(path), "%s/test.npy", argv[2]);
        if (swarm_array_load(path, &opts, &x, &err)) {
                fprintf(stderr, "skip: %s\n", err.msg);
                return 77;
        }
        snprintf(path, sizeof(path), "%s/labels.npy", argv[2]);
        if (swarm_array_load(path, &opts, &y, &err))
                goto fail;
        snprintf(path, sizeof(path), "%s/expected.npy", argv[1]);
        if (swarm_array_load(path, &opts, &want, &err))
                goto fail;
        snprintf(path, sizeof(path), "%s/model.json", argv[1]);
        acc_want = read_accuracy(path);
        /* An optional third argument: backend threads (the pool splits the
         * kernels; the results must not change). */
        if (swarm_backend_cpu_new(argc > 3 ? atoi(argv[3]) : 1, &be, &err))
                goto fail;
        snprintf(path, sizeof(path), "%s/model.onnx", argv[1]);
        if (swarm_model_load_file(path, be, &m, &err))
                goto fail;
        in = swarm_model_input(m, 0);
        out = swarm_model_output(m, 0);
        rows = x->shape[0];
        nc = out->shape[1];
        swarm_model_signature(m, path, sizeof(path));
        printf("model: %s, %d steps, work %zu B/row + %zu B\n", path,
               swarm_model_n_steps(m), swarm_model_work_row_bytes(m),
               swarm_model_work_fixed_bytes(m));
        if (swarm_model_n_steps(m) > 9) {
                printf("FAIL: %d steps; shape chain or BatchNorm not folded\n",
                       swarm_model_n_steps(m));
                goto out;
        }
        if (want->shape[0] != rows || want->shape[1] != nc ||
            y->shape[0] != rows || in->row_bytes * (size_t)rows != x->size) {
                printf("FAIL: data shapes do not match the model\n");
                goto out;
        }
        for (int64_t r0 = 0; r0 < rows; r0 += batch) {
                int64_t nb = rows - r0 < batch ? rows - r0 : batch;
                const void *ip[1] = {(const char *)x->data +
                                     (size_t)r0 * in->row_bytes};
                const void *op[1];
                const float *g, *w;
                if (swarm_model_run(m, nb, ip, op, &err))
                        goto fail;
                g = op[0];
                w = (const float *)want->data + r0 * nc;
                for (int64_t r = 0; r < nb; r++) {
                        int best = 0;
                        for (int64_t c = 0; c < nc; c++) {
                                double gv = g[r * nc + c], wv = w[r * nc + c];
                                double d = fabs(gv - wv);
                                double lim = fabs(wv) >= 1e-3
                                             ? TOL * fabs(wv) : TOL;
                                if (d / (fabs(wv) >= 1e-3 ? fabs(wv) : 1) >
                                    worst)
                                        worst = d / (fabs(wv) >= 1e-3
                                                     ? fabs(wv) : 1);
                                if (!(d <= lim) && bad++ < 5)
                                        printf("FAIL row %lld class %lld: "
                                               "got %.9g want %.9g\n",
                                               (long long)(r0 + r),
                                               (long long)c, gv, wv);
                                if (g[r * nc + c] > g[r * nc + best])
                                        best = (int)c;
                        }
                        if (best == ((const int64_t *)y->data)[r0 + r])
                                correct++;
                }
        }
        /* Batch 1 must give the batch's results. */
        for (int64_t r = 0; r < 100 && r < rows; r++) {
                const void *ip[1] = {(const char *)x->data +
                                     (size_t)r * in->row_bytes};
                const void *op[1];
                const float *w = (const float *)want->data + r * nc;
                if (swarm_model_run(m, 1, ip, op, &err))
                        goto fail;
                for (int64_t c = 0; c < nc; c++) {
                        double d = fabs((double)((const float *)op[0])[c] -
                                        w[c]);
                        if (!(d <= (fabs(w[c]) >= 1e-3 ? TOL * fabs(w[c])
                                                        : TOL)) &&
                            bad++ < 5)
                                printf("FAIL batch-1 row %lld class %lld\n",
                                       (long long)r, (long long)c);
                }
        }
        acc = (double)correct / (double)rows;
        printf("accuracy %.4f (trainer %.4f), %d values out of tolerance, "
               "worst relative/absolute difference %.3g\n", acc, acc_want,
               bad, worst);
        if (fabs(acc - acc_want) > 0.5 / (double)rows)
                printf("FAIL: accuracy differs from the trainer's\n");
        else if (!bad)
                rc = 0;
        goto out;
fail:
        printf("FAIL: %s\n", err.msg);
out:
        swarm_model_destroy(m);
        swarm_backend_destroy(be);
        swarm_array_destroy(x);
        swarm_array_destroy(y);
        swarm_array_destroy(want);
        return rc;
}
