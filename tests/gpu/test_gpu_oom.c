/*
 * test_gpu_oom.c - out of device memory is SWARM_ERR_NOMEM with
 * err->retriable set (the worker splits the batch and retries), never
 * fatal, and the backend keeps working afterwards.
 *
 * Exits 77 ("no CUDA device: skipped") without a usable device.
 */
#include "gpu_common.h"

static void expect_nomem(int rc, const swarm_err_t *err, const char *what) {
        g_checked++;
        if (rc != SWARM_ERR_NOMEM || !err->retriable || err->fatal) {
                printf("FAIL %s: rc %d retriable %d fatal %d (%s)\n", what, rc,
                       err->retriable, err->fatal, err->msg);
                g_failed++;
        } else {
                printf("ok   %s: %s\n", what, err->msg);
        }
}

/* A small GEMM + softmax that must still match the CPU. */
static void still_usable(pair_t *p, const char *what) {
        float *ha = rand_vec(64 * 32, -1, 1), *hb = rand_vec(32 * 16, -1, 1);
        pbuf_t a = pb_new(p, ha, 64 * 32 * 4), b = pb_new(p, hb, 32 * 16 * 4);
        pbuf_t c = pb_new(p, NULL, 64 * 16 * 4);
        swarm_gemm_t g;
        swarm_err_t err;

        swarm_err_clear(&err);
        memset(&g, 0, sizeof(g));
        g.m = 64;
        g.n = 16;
        g.k = 32;
        g.alpha = 1.0f;
        g.lda = 32;
        g.ldb = 16;
        g.ldc = 16;
        g.act = SWARM_ACT_RELU;
        g.a = a.c;
        g.b = b.c;
        g.c = c.c;
        if (p->cpu->gemm(p->cpu, &g, &err))
                die_err("cpu gemm", &err);
        g.a = a.g;
        g.b = b.g;
        g.c = c.g;
        if (p->gpu->gemm(p->gpu, &g, &err))
                die_err("gpu gemm after OOM", &err);
        pb_check(p, &c, 64 * 16, 1, 1e-5, what);
        pb_free(p, &a);
        pb_free(p, &b);
        pb_free(p, &c);
        free(ha);
        free(hb);
}

int main(int argc, char **argv) {
        enum { MAX_CHUNKS = 1024 };
        void *chunks[MAX_CHUNKS];
        int n = 0, rc = SWARM_OK;
        pair_t p;
        swarm_err_t err;
        void *huge = NULL;

        gpu_require();
        swarm_err_clear(&err);
        (void)swarm_backend_cpu_new(1, &p.cpu, &err);
        (void)swarm_backend_cuda_new(0, SWARM_PREC_FP32, &p.gpu, &err);
        if (!p.cpu || !p.gpu)
                die_err("backend", &err);

        /* 1 PiB: more than any device has. */
        rc = p.gpu->alloc(p.gpu, (size_t)1 << 50, &huge, &err);
        expect_nomem(rc, &err, "alloc 1 PiB");
        still_usable(&p, "gemm after 1 PiB alloc");

        /* Exhaust the device in 1 GiB chunks, as a run with too large a
         * batch would, then hand the memory back. */
        swarm_err_clear(&err);
        while (n < MAX_CHUNKS &&
               !(rc = p.gpu->alloc(p.gpu, (size_t)1 << 30, &chunks[n], &err)))
                n++;
        printf("allocated %d GiB before running out\n", n);
        if (n == MAX_CHUNKS) {
                printf("FAIL never ran out of memory\n");
                g_failed++;
        } else {
                expect_nomem(rc, &err, "alloc past the device's memory");
        }
        while (n > 0)
                p.gpu->free_buf(p.gpu, chunks[--n]);
        still_usable(&p, "gemm after exhausting the device");

        swarm_backend_destroy(p.gpu);
        swarm_backend_destroy(p.cpu);
        return finish(argv[0]);
}
