/*
 * test_gpu_models.c - the shipped models run through the executor on the
 * CUDA backend and on the CPU backend, per precision, on fresh random
 * inputs; outputs are compared norm-wise (fp32 1e-5, tf32 2e-3, fp16 and
 * bf16 2e-2).  Also checks the executor sees the CUDA backend as device
 * memory (host_mem = 0) and that outputs keep the declared dtype.
 *
 * Usage: test_gpu_models MODEL.onnx...   (a missing file is skipped, so
 * fixtures that are not generated yet, like fashion-cnn, do not fail it)
 * Exits 77 ("no CUDA device: skipped") without a usable device.
 */
#include <time.h>
#include <unistd.h>

#include "gpu_common.h"
#include "swarm/model.h"

static void *rand_input(const swarm_model_io_t *io, int64_t rows,
                        size_t *bytes) {
        int64_t n = (int64_t)(io->row_bytes / swarm_dtype_size(io->dtype));
        int64_t r = io->shape[0] >= 0 ? 1 : rows;
        float *v;

        if (io->ndim > 0 && io->shape[0] >= 0)
                n *= io->shape[0];
        *bytes = (size_t)(n * r) * swarm_dtype_size(io->dtype);
        v = rand_vec(n * r, 0, 1);
        return v;
}

static void run_model(const char *path, swarm_precision_t prec,
                      int64_t rows) {
        swarm_backend_t *cpu = NULL, *gpu = NULL;
        swarm_model_t *mc = NULL, *mg = NULL;
        const void *in[16] = {0}, *oc[16] = {0}, *og[16] = {0};
        void *bufs[16] = {0};
        int n_in = 0, n_out = 0;
        swarm_err_t err;
        char what[512];

        swarm_err_clear(&err);
        if (swarm_backend_cpu_new(1, &cpu, &err) ||
            swarm_backend_cuda_new(0, prec, &gpu, &err))
                die_err("backend", &err);
        if (swarm_model_load_file(path, cpu, &mc, &err) ||
            swarm_model_load_file(path, gpu, &mg, &err)) {
                printf("FAIL %s: load: %s\n", path, err.msg);
                g_failed++;
                g_checked++;
                goto out;
        }
        n_in = swarm_model_n_inputs(mc);
        n_out = swarm_model_n_outputs(mc);
        if (n_in > 16 || n_out > 16)
                goto out;
        if (swarm_model_fixed_rows(mc) >= 0)
                rows = swarm_model_fixed_rows(mc);
        for (int i = 0; i < n_in; i++) {
                const swarm_model_io_t *io = swarm_model_input(mc, i);
                size_t b;
                if (io->dtype != SWARM_DTYPE_FLOAT32) {
                        printf("skip %s: input %s is %s\n", path, io->name,
                               swarm_dtype_name(io->dtype));
                        goto out;
                }
                bufs[i] = rand_input(io, rows, &b);
                in[i] = bufs[i];
        }
        /* Twice: the second run reuses buffers and converted weights. */
        for (int round = 0; round < 2; round++) {
                if (swarm_model_run(mc, rows, in, oc, &err) ||
                    swarm_model_run(mg, rows, in, og, &err)) {
                        printf("FAIL %s: run: %s\n", path, err.msg);
                        g_failed++;
                        g_checked++;
                        goto out;
                }
                for (int i = 0; i < n_out; i++) {
                        const swarm_model_io_t *io = swarm_model_output(mg, i);
                        int64_t n = (int64_t)(io->row_bytes /
                                              swarm_dtype_size(io->dtype)) *
                                    (io->shape[0] >= 0 ? io->shape[0] : rows);
                        snprintf(what, sizeof(what),
                                 "%s %s rows %lld output %s round %d", path,
                                 swarm_precision_name(prec), (long long)rows,
                                 io->name, round);
                        if (io->dtype != swarm_model_output(mc, i)->dtype) {
                                printf("FAIL %s: dtype differs\n", what);
                                g_failed++;
                                continue;
                        }
                        if (io->dtype != SWARM_DTYPE_FLOAT32) {
                                g_checked++;
                                if (memcmp(oc[i], og[i], (size_t)n *
                                           swarm_dtype_size(io->dtype))) {
                                        printf("FAIL %s: differs\n", what);
                                        g_failed++;
                                }
                                continue;
                        }
                        cmp_host(oc[i], og[i], n, 1, prec_tol(prec), what);
                }
        }
out:
        for (int i = 0; i < 16; i++)
                free(bufs[i]);
        swarm_model_destroy(mg);
        swarm_model_destroy(mc);
        swarm_backend_destroy(gpu);
        swarm_backend_destroy(cpu);
}

int main(int argc, char **argv) {
        const char *env = getenv("SWARM_TEST_SEED");
        uint64_t seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
        static const int64_t rows[] = {1, 64, 1000};

        gpu_require();
        printf("seed %llu (SWARM_TEST_SEED to replay)\n",
               (unsigned long long)seed);
        rng_seed(seed);
        for (int a = 1; a < argc; a++) {
                if (access(argv[a], R_OK)) {
                        printf("skip %s: not present\n", argv[a]);
                        continue;
                }
                for (int pi = SWARM_PREC_FP32; pi <= SWARM_PREC_BF16; pi++)
                        for (size_t r = 0; r < 3; r++)
                                run_model(argv[a], (swarm_precision_t)pi,
                                          rows[r]);
        }
        return finish(argv[0]);
}
