/*
 * bench_gpu.c - GPU benchmark of the CUDA backend.
 *
 *  1. GEMM TFLOP/s per precision (fp32, tf32, fp16, bf16) at 4096^3 and
 *     8192^3: our path (the backend's gemm entry, bias + ReLU epilogue,
 *     activations converted per call in fp16/bf16) against cuBLAS's own
 *     GEMM (cublasGemmEx on pre-converted operands, no epilogue).
 *  2. Executor samples/s for an MLP 784-4096-4096-1024-10 (Gemm + Relu,
 *     built here with protobuf-c) at batch 256..8192 per precision, and the
 *     CPU backend at batch 256 and 1024.
 *
 * Prints one line per measurement, then the summary table and the goal
 * lines (large GEMMs within 80% of cuBLAS) last.
 * Usage: bench_gpu [--quick]    (--quick: fewer iterations, 4096 only)
 *        bench_gpu --cpu-check  (build the MLP, run it once on the CPU
 *                                backend: checks the generator without a GPU)
 * Exits 77 without a CUDA device.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "onnx.pb-c.h"
#include "swarm/backend.h"
#include "swarm/backend_cuda.h"
#include "swarm/model.h"
#include "cuda_internal.h"

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die(const char *what, const swarm_err_t *err) {
        fprintf(stderr, "bench_gpu: %s: %s\n", what, err ? err->msg : "");
        exit(1);
}

static float *rnd(int64_t n, float scale) {
        float *v = malloc((size_t)n * sizeof(float));
        uint64_t s = 88172645463325252ull;
        if (!v)
                die("out of host memory", NULL);
        for (int64_t i = 0; i < n; i++) {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                v[i] = scale * ((float)(s >> 40) / 8388608.0f - 1.0f);
        }
        return v;
}

/* ---- 1. GEMM -------------------------------------------------------- */

typedef struct gres {
        int prec;
        int64_t n;
        double ours, cublas;    /* TFLOP/s */
} gres_t;

static double gemm_ours(swarm_precision_t prec, int64_t n, int iters) {
        swarm_err_t err;
        swarm_backend_t *be;
        void *a, *b, *bias, *c;
        float *h = rnd(n * n, 1.0f), one;
        swarm_gemm_t g;
        double t0, t;

        swarm_err_clear(&err);
        if (swarm_backend_cuda_new(0, prec, &be, &err))
                die("cuda backend", &err);
        if (be->alloc(be, (size_t)(n * n * 4), &a, &err) ||
            be->alloc(be, (size_t)(n * n * 4), &b, &err) ||
            be->alloc(be, (size_t)(n * 4), &bias, &err) ||
            be->alloc(be, (size_t)(n * n * 4), &c, &err) ||
            be->upload(be, a, h, (size_t)(n * n * 4), &err) ||
            be->upload(be, b, h, (size_t)(n * n * 4), &err) ||
            be->upload(be, bias, h, (size_t)(n * 4), &err))
                die("gemm buffers", &err);
        memset(&g, 0, sizeof(g));
        g.m = g.n = g.k = n;
        g.lda = g.ldb = g.ldc = n;
        g.alpha = g.beta = 1.0f;
        g.a = a;
        g.b = b;
        g.c = c;
        g.bias = bias;
        g.bias_mode = SWARM_BIAS_ROW;
        g.act = SWARM_ACT_RELU;
        /* Warm-up: plan, weight conversion (b is a weight: uploaded once). */
        for (int i = 0; i < 2; i++)
                if (be->gemm(be, &g, &err))
                        die("gemm", &err);
        if (be->download(be, &one, c, 4, &err))
                die("download", &err);
        t0 = now();
        for (int i = 0; i < iters; i++)
                if (be->gemm(be, &g, &err))
                        die("gemm", &err);
        if (be->download(be, &one, c, 4, &err))
                die("download", &err);
        t = now() - t0;
        be->free_buf(be, a);
        be->free_buf(be, b);
        be->free_buf(be, bias);
        be->free_buf(be, c);
        swarm_backend_destroy(be);
        free(h);
        return 2.0 * (double)n * n * n * iters / t / 1e12;
}

#define CU(x)                                                                  \
        do {                                                                   \
                cudaError_t e_ = (x);                                          \
                if (e_ != cudaSuccess) {                                       \
                        fprintf(stderr, "bench_gpu: %s: %s\n", #x,             \
                                cudaGetErrorString(e_));                       \
                        exit(1);                                               \
                }                                                              \
        } while (0)
#define CB(x)                                                                  \
        do {                                                                   \
                cublasStatus_t s_ = (x);                                       \
                if (s_ != CUBLAS_STATUS_SUCCESS) {                             \
                        fprintf(stderr, "bench_gpu: %s: %s\n", #x,             \
                                cublasGetStatusString(s_));                    \
                        exit(1);                                               \
                }                                                              \
        } while (0)

static double gemm_cublas(swarm_precision_t prec, int64_t n, int iters) {
        int half = prec == SWARM_PREC_FP16 || prec == SWARM_PREC_BF16;
        cudaDataType_t t = prec == SWARM_PREC_FP16 ? CUDA_R_16F
                           : prec == SWARM_PREC_BF16 ? CUDA_R_16BF
                                                     : CUDA_R_32F;
        cublasComputeType_t ct = prec == SWARM_PREC_TF32
                                         ? CUBLAS_COMPUTE_32F_FAST_TF32
                                         : CUBLAS_COMPUTE_32F;
        float *h = rnd(n * n, 1.0f), alpha = 1.0f, beta = 0.0f;
        void *f32, *a, *b, *c;
        cublasHandle_t hb;
        cudaStream_t st;
        double t0 = 0.0, tt;

        CU(cudaSetDevice(0));
        CU(cudaStreamCreate(&st));
        CB(cublasCreate(&hb));
        CB(cublasSetStream(hb, st));
        CU(cudaMalloc(&f32, (size_t)(n * n * 4)));
        CU(cudaMalloc(&c, (size_t)(n * n * 4)));
        CU(cudaMemcpy(f32, h, (size_t)(n * n * 4), cudaMemcpyHostToDevice));
        if (half) {
                CU(cudaMalloc(&a, (size_t)(n * n * 2)));
                CU(swk_to_half(st, f32, a, n * n, prec == SWARM_PREC_BF16));
                b = a;
        } else {
                a = b = f32;
        }
        for (int i = 0; i < iters + 2; i++) {
                if (i == 2) {
                        CU(cudaStreamSynchronize(st));
                        t0 = now();
                }
                CB(cublasGemmEx(hb, CUBLAS_OP_N, CUBLAS_OP_N, (int)n, (int)n,
                                (int)n, &alpha, b, t, (int)n, a, t, (int)n,
                                &beta, c, CUDA_R_32F, (int)n, ct,
                                CUBLAS_GEMM_DEFAULT));
        }
        CU(cudaStreamSynchronize(st));
        tt = now() - t0;
        if (half)
                CU(cudaFree(a));
        CU(cudaFree(f32));
        CU(cudaFree(c));
        cublasDestroy(hb);
        cudaStreamDestroy(st);
        free(h);
        return 2.0 * (double)n * n * n * iters / tt / 1e12;
}

/* ---- 2. executor ------------------------------------------------------ */

/* Gemm(transB=1) + Relu layers 784-4096-4096-1024-10; input "x"[N,784],
 * output "y"[N,10] (no Relu on the last layer). */
static uint8_t *build_mlp(size_t *len) {
        static const int64_t dims[] = {784, 4096, 4096, 1024, 10};
        enum { L = 4 };
        Onnx__ModelProto m = ONNX__MODEL_PROTO__INIT;
        Onnx__GraphProto g = ONNX__GRAPH_PROTO__INIT;
        Onnx__OperatorSetIdProto os = ONNX__OPERATOR_SET_ID_PROTO__INIT;
        Onnx__OperatorSetIdProto *osp[1] = {&os};
        Onnx__NodeProto nodes[2 * L], *np[2 * L];
        Onnx__AttributeProto tb = ONNX__ATTRIBUTE_PROTO__INIT, *tbp[1] = {&tb};
        Onnx__TensorProto w[2 * L], *wp[2 * L];
        Onnx__ValueInfoProto io[2], *iop[2];
        Onnx__TypeProto tp[2];
        Onnx__TypeProto__Tensor tt[2];
        Onnx__TensorShapeProto sp[2];
        Onnx__TensorShapeProto__Dimension dm[2][2], *dmp[2][2];
        static char names[4 * L][3][16];
        static char *nin[2 * L][3], *nout[2 * L][1];
        static int64_t wdims[2 * L][2];
        int nn = 0;
        uint8_t *buf;

        os.domain = "";
        os.has_version = 1;
        os.version = 13;
        m.has_ir_version = 1;
        m.ir_version = 8;
        m.n_opset_import = 1;
        m.opset_import = osp;
        m.graph = &g;
        g.name = "mlp";
        tb.name = "transB";
        tb.has_type = 1;
        tb.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
        tb.has_i = 1;
        tb.i = 1;
        for (int l = 0; l < L; l++) {
                int64_t in = dims[l], out = dims[l + 1];
                float *wv = rnd(in * out, 1.0f / sqrtf((float)in));
                float *bv = rnd(out, 0.1f);
                Onnx__NodeProto *n = &nodes[nn];
                snprintf(names[l][0], 16, "w%d", l);
                snprintf(names[l][1], 16, "b%d", l);
                snprintf(names[l][2], 16, "h%d", l);
                snprintf(names[L + l][0], 16, "r%d", l);
                for (int k = 0; k < 2; k++) {
                        Onnx__TensorProto *t = &w[2 * l + k];
                        onnx__tensor_proto__init(t);
                        t->name = names[l][k];
                        t->has_data_type = 1;
                        t->data_type = 1;
                        wdims[2 * l + k][0] = out;
                        wdims[2 * l + k][1] = in;
                        t->dims = wdims[2 * l + k];
                        t->n_dims = k ? 1 : 2;
                        t->has_raw_data = 1;
                        t->raw_data.data = (uint8_t *)(k ? bv : wv);
                        t->raw_data.len = (size_t)(k ? out : in * out) * 4;
                        wp[2 * l + k] = t;
                }
                onnx__node_proto__init(n);
                n->op_type = "Gemm";
                nin[nn][0] = l ? names[L + l - 1][0] : "x";
                nin[nn][1] = names[l][0];
                nin[nn][2] = names[l][1];
                n->input = nin[nn];
                n->n_input = 3;
                nout[nn][0] = l == L - 1 ? "y" : names[l][2];
                n->output = nout[nn];
                n->n_output = 1;
                n->attribute = tbp;
                n->n_attribute = 1;
                np[nn] = n;
                nn++;
                if (l == L - 1)
                        break;
                n = &nodes[nn];
                onnx__node_proto__init(n);
                n->op_type = "Relu";
                nin[nn][0] = names[l][2];
                n->input = nin[nn];
                n->n_input = 1;
                nout[nn][0] = names[L + l][0];
                n->output = nout[nn];
                n->n_output = 1;
                np[nn] = n;
                nn++;
        }
        for (int k = 0; k < 2; k++) {
                onnx__value_info_proto__init(&io[k]);
                onnx__type_proto__init(&tp[k]);
                onnx__type_proto__tensor__init(&tt[k]);
                onnx__tensor_shape_proto__init(&sp[k]);
                io[k].name = k ? "y" : "x";
                io[k].type = &tp[k];
                tp[k].value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
                tp[k].tensor_type = &tt[k];
                tt[k].has_elem_type = 1;
                tt[k].elem_type = 1;
                tt[k].shape = &sp[k];
                for (int d = 0; d < 2; d++) {
                        onnx__tensor_shape_proto__dimension__init(&dm[k][d]);
                        if (d == 0) {
                                dm[k][d].value_case =
                                    ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
                                dm[k][d].dim_param = "N";
                        } else {
                                dm[k][d].value_case =
                                    ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
                                dm[k][d].dim_value = k ? 10 : 784;
                        }
                        dmp[k][d] = &dm[k][d];
                }
                sp[k].dim = dmp[k];
                sp[k].n_dim = 2;
                iop[k] = &io[k];
        }
        g.node = np;
        g.n_node = (size_t)nn;
        g.initializer = wp;
        g.n_initializer = 2 * L;
        g.input = &iop[0];
        g.n_input = 1;
        g.output = &iop[1];
        g.n_output = 1;
        *len = onnx__model_proto__get_packed_size(&m);
        buf = malloc(*len);
        if (!buf)
                die("out of host memory", NULL);
        onnx__model_proto__pack(&m, buf);
        for (int i = 0; i < 2 * L; i++)
                free(w[i].raw_data.data);
        return buf;
}

/* Samples/s of `rows`-row batches: at least `min_iters` runs and 1 s. */
static double exec_rate(swarm_backend_t *be, const uint8_t *onnx, size_t len,
                        int64_t rows, int min_iters) {
        swarm_model_t *m;
        swarm_err_t err;
        float *x = rnd(rows * 784, 1.0f);
        const void *in[1] = {x}, *out[1];
        double t0, t;
        int it = 0;

        swarm_err_clear(&err);
        if (swarm_model_load_mem(onnx, len, be, &m, &err))
                die("load mlp", &err);
        if (swarm_model_run(m, rows, in, out, &err))    /* warm-up */
                die("run", &err);
        t0 = now();
        do {
                if (swarm_model_run(m, rows, in, out, &err))
                        die("run", &err);
                it++;
                t = now() - t0;
        } while (it < min_iters || t < 1.0);
        swarm_model_destroy(m);
        free(x);
        return (double)rows * it / t;
}

int main(int argc, char **argv) {
        int quick = argc > 1 && !strcmp(argv[1], "--quick");
        static const int64_t gsz[] = {4096, 8192};
        static const int64_t batches[] = {256, 1024, 4096, 8192};
        gres_t gr[8];
        double er[4][4], cpu[2];
        int ng = 0, ok = 1;
        size_t len;
        uint8_t *onnx;
        swarm_err_t err;
        swarm_backend_t *be;
        struct cudaDeviceProp prop;

        if (argc > 1 && !strcmp(argv[1], "--cpu-check")) {
                onnx = build_mlp(&len);
                swarm_err_clear(&err);
                if (swarm_backend_cpu_new(2, &be, &err))
                        die("cpu backend", &err);
                printf("mlp cpu batch 64: %.0f samples/s\n",
                       exec_rate(be, onnx, len, 64, 1));
                swarm_backend_destroy(be);
                free(onnx);
                return 0;
        }
        if (swarm_cuda_device_count() <= 0) {
                printf("no CUDA device: skipped\n");
                return 77;
        }
        CU(cudaGetDeviceProperties(&prop, 0));
        printf("device: %s (sm_%d%d)\n", prop.name, prop.major, prop.minor);
        for (int p = SWARM_PREC_FP32; p <= SWARM_PREC_BF16; p++)
                for (int s = 0; s < (quick ? 1 : 2); s++) {
                        int64_t n = gsz[s];
                        int iters = n == 8192 ? (p < 2 ? 5 : 20)
                                              : (p < 2 ? 20 : 50);
                        gres_t *r = &gr[ng++];
                        r->prec = p;
                        r->n = n;
                        r->cublas = gemm_cublas(p, n, iters);
                        r->ours = gemm_ours(p, n, iters);
                        printf("gemm %s %lld^3: ours %.1f TFLOP/s, cublas "
                               "%.1f TFLOP/s (%.0f%%)\n",
                               swarm_precision_name(p), (long long)n, r->ours,
                               r->cublas, 100.0 * r->ours / r->cublas);
                        fflush(stdout);
                }
        onnx = build_mlp(&len);
        for (int p = SWARM_PREC_FP32; p <= SWARM_PREC_BF16; p++) {
                swarm_err_clear(&err);
                if (swarm_backend_cuda_new(0, p, &be, &err))
                        die("cuda backend", &err);
                for (int b = 0; b < 4; b++) {
                        er[p][b] = exec_rate(be, onnx, len, batches[b], 5);
                        printf("mlp cuda %s batch %lld: %.0f samples/s\n",
                               swarm_precision_name(p),
                               (long long)batches[b], er[p][b]);
                        fflush(stdout);
                }
                swarm_backend_destroy(be);
        }
        swarm_err_clear(&err);
        if (swarm_backend_cpu_new((int)sysconf(_SC_NPROCESSORS_ONLN), &be, &err))
                die("cpu backend", &err);
        for (int b = 0; b < 2; b++) {
                cpu[b] = exec_rate(be, onnx, len, batches[b], 2);
                printf("mlp cpu batch %lld: %.0f samples/s\n",
                       (long long)batches[b], cpu[b]);
        }
        swarm_backend_destroy(be);
        free(onnx);

        printf("\n== summary (%s)\n", prop.name);
        printf("%-6s %6s %12s %12s %6s\n", "prec", "n", "ours TF/s",
               "cuBLAS TF/s", "ratio");
        for (int i = 0; i < ng; i++)
                printf("%-6s %6lld %12.1f %12.1f %5.0f%%\n",
                       swarm_precision_name(gr[i].prec), (long long)gr[i].n,
                       gr[i].ours, gr[i].cublas,
                       100.0 * gr[i].ours / gr[i].cublas);
        printf("%-6s %10s %10s %10s %10s   (MLP 784-4096-4096-1024-10, "
               "samples/s)\n", "prec", "b=256", "b=1024", "b=4096", "b=8192");
        for (int p = 0; p < 4; p++)
                printf("%-6s %10.0f %10.0f %10.0f %10.0f\n",
                       swarm_precision_name(p), er[p][0], er[p][1], er[p][2],
                       er[p][3]);
        printf("%-6s %10.0f %10.0f %10s %10s\n", "cpu", cpu[0], cpu[1], "-",
               "-");
        for (int i = 0; i < ng; i++) {
                int pass = gr[i].ours >= 0.8 * gr[i].cublas;
                if (gr[i].n < 8192 && !quick)
                        continue;
                ok &= pass;
                printf("GOAL gemm %s %lld^3 within 80%% of cuBLAS: %.0f%% "
                       "%s\n", swarm_precision_name(gr[i].prec),
                       (long long)gr[i].n, 100.0 * gr[i].ours / gr[i].cublas,
                       pass ? "PASS" : "FAIL");
        }
        printf("GOAL overall: %s\n", ok ? "PASS" : "FAIL");
        return 0;
}
