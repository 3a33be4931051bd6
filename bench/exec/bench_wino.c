/*
 * bench_wino.c - one 3x3 stride-1 convolution layer timed on the CPU
 * backend's packed / direct path (gemm_pack + conv_packed, what pack.c
 * picks for these layers without Winograd) and on Winograd
 * (lib/exec/cpu_wino.c, AVX-512), same data, alternating, minimum of the
 * rounds: the figures behind cpu_wino.c's thresholds.
 *
 *   bench_wino THREADS BATCH CIN COUT H W [ROUNDS]
 *
 * Prints ms per call for each path and their ratio (packed / winograd > 1:
 * Winograd faster).  BENCH_CPU_TIME=1 times process CPU instead of the
 * wall clock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "swarm/backend.h"
#include "cpu_par.h"
#include "cpu_wino.h"

static double now_ms(int cpu) {
        struct timespec ts;

        clock_gettime(cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
        swarm_backend_t *be = NULL;
        swarm_err_t err = {0};
        swarm_window_t w;
        int threads, rounds = 5, cpu = getenv("BENCH_CPU_TIME") &&
                                       !strcmp(getenv("BENCH_CPU_TIME"), "1");
        long long imgs, cin, cout, h, wd;
        float *x, *f, *bias, *y;
        void *pk = NULL, *wk = NULL;
        size_t pkb = 0;
        double best[2] = {1e30, 1e30};

        if (argc < 7) {
                fprintf(stderr, "usage: bench_wino THREADS BATCH CIN COUT H W "
                                "[ROUNDS]\n");
                return 2;
        }
        threads = atoi(argv[1]);
        imgs = atoll(argv[2]);
        cin = atoll(argv[3]);
        cout = atoll(argv[4]);
        h = atoll(argv[5]);
        wd = atoll(argv[6]);
        if (argc > 7)
                rounds = atoi(argv[7]);
        if (threads < 1 || imgs < 1 || cin < 1 || cout < 1 || h < 1 ||
            wd < 1 || imgs * cin * h * wd > ((long long)1 << 28) ||
            imgs * cout * h * wd > ((long long)1 << 28) ||
            cin * cout > ((long long)1 << 24)) {
                fprintf(stderr, "bench_wino: sizes out of range\n");
                return 2;
        }
        memset(&w, 0, sizeof(w));
        w.n = cin;
        w.h = w.oh = h;
        w.w = w.ow = wd;
        w.kh = w.kw = 3;
        w.sh = w.sw = w.dh = w.dw = 1;
        w.pad_t = w.pad_l = w.pad_b = w.pad_r = 1;
        w.imgs = imgs;
        w.img_str = cin * h * wd;
        x = malloc((size_t)(imgs * cin * h * wd) * sizeof(float));
        f = malloc((size_t)(cout * cin * 9) * sizeof(float));
        bias = malloc((size_t)cout * sizeof(float));
        y = malloc((size_t)(imgs * cout * h * wd) * sizeof(float));
        if (!x || !f || !bias || !y)
                return 1;
        for (long long i = 0; i < imgs * cin * h * wd; i++)
                x[i] = (float)((i * 7919) % 2001) / 1000.0f - 1.0f;
        for (long long i = 0; i < cout * cin * 9; i++)
                f[i] = (float)((i * 104729) % 2001) / 20000.0f - 0.05f;
        for (long long i = 0; i < cout; i++)
                bias[i] = 0.01f * (float)(i % 7);
        if (swarm_backend_cpu_new(threads, &be, &err) ||
            be->gemm_pack(be, 0, 0, 1, cout, cin * 9, f, cin * 9, &pk, &pkb,
                          &err) ||
            cpu_wino_pack(CPU_ISA_AVX512, cout, cin, f,
                          (cpu_wino_t **)&wk, &err)) {
                fprintf(stderr, "bench_wino: %s\n", err.msg);
                return 1;
        }
        for (int r = 0; r < rounds; r++)
                for (int path = 0; path < 2; path++) {
                        double t0, t;
                        int n = 0, rc;
                        t0 = now_ms(cpu);
                        do {
                                rc = path == 0
                                     ? be->conv_packed(be, &w, imgs, 1, cout,
                                                       pk, x, bias,
                                                       SWARM_ACT_RELU, 0, 0,
                                                       y, &err)
                                     : cpu_wino_run(be, wk, &w, imgs, x, bias,
                                                    SWARM_ACT_RELU, 0, 0, y,
                                                    EXEC_CPU_PAR_MIN_MACS,
                                                    &err);
                                if (rc) {
                                        fprintf(stderr, "bench_wino: %s\n",
                                                err.msg);
                                        return 1;
                                }
                                n++;
                                t = now_ms(cpu) - t0;
                        } while (t < 200.0 || n < 2);
                        if (t / n < best[path])
                                best[path] = t / n;
                }
        printf("t%d b%lld %lldx%lld %lldx%lld: packed %.3f ms, winograd "
               "%.3f ms, packed/winograd %.2f\n", threads, imgs, cin, cout,
               h, wd, best[0], best[1], best[0] / best[1]);
        cpu_wino_free(wk);
        be->gemm_pack_free(be, pk);
        swarm_backend_destroy(be);
        free(x);
        free(f);
        free(bias);
        free(y);
        return 0;
}
