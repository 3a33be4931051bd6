/*
 * backend_cpu.c - the CPU backend: OpenBLAS sgemm plus plain C loops.
 *
 * Device handles are host pointers (host_mem = 1), so the executor reads
 * inputs in place and returns outputs without copies.
 */
#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "swarm/backend.h"
#include "swarm/tensor.h"
#include "cpu_act.h"
#include "cpu_attn.h"
#include "cpu_avgsum.h"
#include "cpu_convt.h"
#include "cpu_dw.h"
#include "cpu_par.h"
#include "cpu_pool.h"
#include "cpu_pw.h"
#include "cpu_resize.h"
#include "cpu_se.h"
#include "cpu_rnn.h"
#include "cpu_wino.h"
#include "model_internal.h"
#include "cpu_gemm.h"
#include "scalar_ops.h"

/* ---- the thread pool ----
 *
 * With threads > 1 the backend runs sgemm single-threaded and splits its
 * own kernels, sgemm included, across a small persistent pool: the caller
 * takes part 0, threads - 1 workers the rest.  Why not OpenBLAS' threads
 * for the GEMMs and ours for the rest: both pools spin after a job, and on
 * a two-core machine they take the cores from each other; one pool that
 * does everything has nobody to fight.
 *
 * One job at a time: a second thread calling in while a job runs (models on
 * different threads sharing the backend) does its work serially instead of
 * waiting, so sharing stays safe and never slower than one lane.
 *
 * When workers spin: swarm_model_run brackets its nodes with run_begin /
 * run_end.  Inside a run an idle worker spins (pause, then yielding after
 * POOL_RUN_YIELD_NS) for up to POOL_RUN_SPIN_NS after its last job, so the
 * next kernel finds it awake; outside a run it spins POOL_SPIN_NS and
 * sleeps on the condvar, so an idle backend costs no CPU.  A worker that
 * comes late finds its parts claimed by the caller and goes back to wait
 * (see job below). */
typedef void (*par_fn_t)(void *arg, int part, int parts);

typedef struct cpu_backend {
        swarm_backend_t be;     /* first: kernels receive &be */
        pthread_mutex_t owner;  /* held by the dispatching thread */
        pthread_mutex_t mu;     /* guards sleeping: sleepers, wake */
        pthread_cond_t wake;
        pthread_t *th;
        struct pool_arg *args;
        int n_th;               /* started workers (threads - 1) */
        int sleepers;
        /* Atomics.  job packs the job's generation (high 32 bits) with
         * the next unclaimed part (low 32): a lane claims a part with one
         * CAS, so a worker that wakes late finds every part taken (the
         * caller ran them) and goes back to wait instead of the caller
         * waiting for its wake-up; fn/arg are written before the
         * generation is published (release) and read only after a claim
         * succeeds, so they stay fixed while read (the job cannot finish
         * before the claimed part does).  A job has n_th + 1 parts.  done
         * counts finished parts; stop ends the workers. */
        uint64_t job;
        int done;
        int stop;
        par_fn_t fn;
        void *arg;
        /* Model runs in progress (run_begin / run_end, atomic): while one
         * is, an idle worker keeps spinning for the next job (up to
         * POOL_RUN_SPIN_NS after its last one) instead of going to sleep,
         * so mid-sized kernels find it awake. */
        int runs;
        /* Test hook (exec_cpu_par_hold): while set, a worker that saw a
         * job waits before claiming, so the caller runs every part. */
        int hold, st_held;      /* st_held: workers waiting on it */
        /* Counters for tests and tuning (atomic, relaxed). */
        uint64_t st_sleeps, st_worker_parts, st_late;
        /* The packed GEMM's workspace, kept between calls (allocating a
         * few hundred KiB per call cost page faults: small convolutions
         * ran up to 2.6x slower), grown to the largest call's need (at
         * most 768 KiB per lane, cpu_gemm.c) and freed with the backend.
         * ws_mu is only ever tried: a concurrent caller allocates its
         * own. */
        pthread_mutex_t ws_mu;
        float *ws;
        size_t ws_cap;          /* floats */
} cpu_backend_t;

struct pool_arg {
        cpu_backend_t *cb;
        int me;                 /* worker number, 1 .. n_th */
};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
}

static int64_t mono_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* How long an idle worker spins for the next job before it sleeps on the
 * condvar, outside a model run.  Short on purpose: on two cores shared
 * with other processes a spinning worker takes the core the caller (or
 * someone else) needs; the old 20000 pauses (~1 ms on this VM) made seg
 * 2-thread runs cost 4x the CPU of 1-thread ones.  A sleeping worker costs
 * the caller nothing more than the broadcast: parts it has not claimed yet
 * the caller runs itself (see job). */
#define POOL_SPIN_NS ((int64_t)20 * 1000)
/* Inside a model run (runs > 0) the worker spins this long after its last
 * job.  A sleeping worker woke too late for most kernels of 50-500 us: the
 * caller had run both parts by then, so 2 threads ran like 1 (RegNet,
 * MobileNetV3, the fashion CNN; bench/exec/README.md).  The gaps between
 * split kernels are the serial ones, mostly well under 1 ms; a longer gap
 * (a big serial operator) puts the worker back to sleep so it does not
 * hold a core for nothing. */
#define POOL_RUN_SPIN_NS ((int64_t)2 * 1000 * 1000)
#define POOL_RUN_YIELD_NS ((int64_t)100 * 1000)

#define JOB_GEN(j) ((uint32_t)((j) >> 32))
#define JOB_NEXT(j) ((uint32_t)(j))

/* Claim and run parts of the posted job until none is left; returns how
 * many this lane ran. */
static int pool_claim_run(cpu_backend_t *cb, uint32_t gen, int worker) {
        uint64_t j = __atomic_load_n(&cb->job, __ATOMIC_ACQUIRE);
        int parts = cb->n_th + 1, ran = 0;

        for (;;) {
                if (JOB_GEN(j) != gen || (int)JOB_NEXT(j) >= parts)
                        return ran;
                if (!__atomic_compare_exchange_n(&cb->job, &j, j + 1, 0,
                                                 __ATOMIC_ACQ_REL,
                                                 __ATOMIC_ACQUIRE))
                        continue;       /* j reloaded */
                cb->fn(cb->arg, (int)JOB_NEXT(j), parts);
                if (worker)     /* before done: the job ends with done */
                        __atomic_fetch_add(&cb->st_worker_parts, 1,
                                           __ATOMIC_RELAXED);
                __atomic_fetch_add(&cb->done, 1, __ATOMIC_RELEASE);
                ran++;
                j++;
        }
}

/* Spin for a job newer than `seen`; returns 0 when one came (or stop),
 * 1 when the worker should sleep: POOL_SPIN_NS after the last job or the
 * last run, POOL_RUN_SPIN_NS after the last job while a run is on. */
static int pool_spin(cpu_backend_t *cb, uint32_t seen) {
        int64_t job_t = 0, run_t = 0, now;
        int spins = 0;

        while (JOB_GEN(__atomic_load_n(&cb->job, __ATOMIC_ACQUIRE)) == seen) {
                if (__atomic_load_n(&cb->stop, __ATOMIC_ACQUIRE))
                        return 0;
                cpu_relax();
                if (++spins % 64)
                        continue;
                now = mono_ns();
                if (!job_t)
                        job_t = run_t = now;
                if (__atomic_load_n(&cb->runs, __ATOMIC_RELAXED) > 0) {
                        run_t = now;
                        if (now - job_t >= POOL_RUN_SPIN_NS)
                                return 1;
                        /* A long serial stretch: on a loaded machine let
                         * whoever waits for this core run (on an idle one
                         * this returns at once, a syscall of under a
                         * microsecond); between close jobs stay on it. */
                        if (now - job_t >= POOL_RUN_YIELD_NS)
                                sched_yield();
                } else if (now - run_t >= POOL_SPIN_NS) {
                        return 1;
                }
        }
        return 0;
}

static void *pool_worker(void *p) {
        cpu_backend_t *cb = ((struct pool_arg *)p)->cb;
        /* Workers start before any job (gen 0): reading gen here instead
         * could miss a job posted before this thread got to run. */
        uint32_t seen = 0;

        for (;;) {
                uint32_t gen;

                if (pool_spin(cb, seen)) {
                        pthread_mutex_lock(&cb->mu);
                        if (JOB_GEN(__atomic_load_n(&cb->job,
                                                    __ATOMIC_ACQUIRE)) ==
                                    seen &&
                            !__atomic_load_n(&cb->stop, __ATOMIC_ACQUIRE))
                                __atomic_fetch_add(&cb->st_sleeps, 1,
                                                   __ATOMIC_RELAXED);
                        cb->sleepers++;
                        while (JOB_GEN(__atomic_load_n(&cb->job,
                                                       __ATOMIC_ACQUIRE)) ==
                                       seen &&
                               !__atomic_load_n(&cb->stop, __ATOMIC_ACQUIRE))
                                pthread_cond_wait(&cb->wake, &cb->mu);
                        cb->sleepers--;
                        pthread_mutex_unlock(&cb->mu);
                }
                if (__atomic_load_n(&cb->stop, __ATOMIC_ACQUIRE))
                        break;
                gen = JOB_GEN(__atomic_load_n(&cb->job, __ATOMIC_ACQUIRE));
                seen = gen;
                if (__atomic_load_n(&cb->hold, __ATOMIC_ACQUIRE)) {
                        __atomic_fetch_add(&cb->st_held, 1, __ATOMIC_RELAXED);
                        while (__atomic_load_n(&cb->hold, __ATOMIC_ACQUIRE) &&
                               !__atomic_load_n(&cb->stop, __ATOMIC_ACQUIRE))
                                sched_yield();
                        __atomic_fetch_sub(&cb->st_held, 1, __ATOMIC_RELAXED);
                }
                if (!pool_claim_run(cb, gen, 1))
                        __atomic_fetch_add(&cb->st_late, 1, __ATOMIC_RELAXED);
        }
        return NULL;
}

/* Run fn(arg, part, parts) for every part; serially (one part) when the
 * backend has no pool, the work is small (`big` is 0) or the pool is busy
 * with another caller's job.  The parts are always threads of them, each
 * run once, whichever lane claims it: results do not depend on which
 * lane ran what. */
static void par_run(swarm_backend_t *be, int big, par_fn_t fn, void *arg) {
        cpu_backend_t *cb = (cpu_backend_t *)be;
        int spins = 0, parts;
        uint32_t gen;

        if (be->threads <= 1 || !big || cb->n_th < 1 ||
            pthread_mutex_trylock(&cb->owner)) {
                fn(arg, 0, 1);
                return;
        }
        parts = cb->n_th + 1;
        cb->fn = fn;
        cb->arg = arg;
        __atomic_store_n(&cb->done, 0, __ATOMIC_RELAXED);
        gen = JOB_GEN(__atomic_load_n(&cb->job, __ATOMIC_RELAXED)) + 1;
        /* Publish under mu so a worker going to sleep either sees the new
         * job or is counted in sleepers and gets the broadcast. */
        pthread_mutex_lock(&cb->mu);
        __atomic_store_n(&cb->job, (uint64_t)gen << 32, __ATOMIC_RELEASE);
        if (cb->sleepers)
                pthread_cond_broadcast(&cb->wake);
        pthread_mutex_unlock(&cb->mu);
        pool_claim_run(cb, gen, 0);
        /* Parts a worker claimed and is still running. */
        while (__atomic_load_n(&cb->done, __ATOMIC_ACQUIRE) < parts)
                if (++spins % 1024)
                        cpu_relax();
                else
                        sched_yield();  /* a worker lost its core */
        pthread_mutex_unlock(&cb->owner);
}

void exec_cpu_par_run(swarm_backend_t *be, int big, exec_cpu_par_fn_t fn,
                      void *arg) {
        par_run(be, big, fn, arg);
}

static void cpu_destroy(swarm_backend_t *be);

static void cpu_run_begin(swarm_backend_t *be) {
        __atomic_fetch_add(&((cpu_backend_t *)be)->runs, 1, __ATOMIC_RELAXED);
}

static void cpu_run_end(swarm_backend_t *be) {
        __atomic_fetch_sub(&((cpu_backend_t *)be)->runs, 1, __ATOMIC_RELAXED);
}

int exec_cpu_par_stats(swarm_backend_t *be, exec_cpu_par_stats_t *st) {
        cpu_backend_t *cb = (cpu_backend_t *)be;

        memset(st, 0, sizeof(*st));
        if (be->destroy != cpu_destroy)
                return -1;
        st->workers = cb->n_th;
        pthread_mutex_lock(&cb->mu);
        st->sleeping = cb->sleepers;
        pthread_mutex_unlock(&cb->mu);
        st->sleeps = __atomic_load_n(&cb->st_sleeps, __ATOMIC_RELAXED);
        st->worker_parts = __atomic_load_n(&cb->st_worker_parts,
                                           __ATOMIC_RELAXED);
        st->late = __atomic_load_n(&cb->st_late, __ATOMIC_RELAXED);
        st->held = __atomic_load_n(&cb->st_held, __ATOMIC_RELAXED);
        st->runs = __atomic_load_n(&cb->runs, __ATOMIC_RELAXED);
        for (int i = 0; i < cb->n_th; i++) {
                clockid_t c;
                struct timespec ts;
                if (!pthread_getcpuclockid(cb->th[i], &c) &&
                    !clock_gettime(c, &ts))
                        st->worker_cpu_ns += (int64_t)ts.tv_sec * 1000000000 +
                                             ts.tv_nsec;
        }
        return 0;
}

void exec_cpu_par_hold(swarm_backend_t *be, int on) {
        if (be->destroy == cpu_destroy)
                __atomic_store_n(&((cpu_backend_t *)be)->hold, on,
                                 __ATOMIC_RELEASE);
}

/* [*lo, *hi) of n items for one part. */
static void part_range(int64_t n, int part, int parts, int64_t *lo,
                       int64_t *hi) {
        *lo = n * part / parts;
        *hi = n * (part + 1) / parts;
}

/* The build targets baseline x86-64 (SSE2), but the GEMM epilogue, a pure
 * stream over C, runs wider with AVX2 / AVX-512 (the fashion CNN's first
 * conv: 1.1 -> 0.75 ms at batch 256); GCC's target_clones compiles it per
 * ISA and picks one at load time (ifunc), so no global -march is needed.
 * Not used for pooling: its rows are 7 to 14 outputs of stride-2 reads,
 * and the wide clones measured 2x slower there. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    defined(__linux__) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(__SANITIZE_THREAD__)
#define VEC_CLONES __attribute__((target_clones("avx512f", "avx2", \
                                                "default")))
#else
#define VEC_CLONES
#endif

/* Element count from which splitting a memory-bound kernel pays for the
 * wake-up (tens of microseconds on a VM). */
#define PAR_MIN_ELEMS EXEC_CPU_PAR_MIN_ELEMS
/* Multiply-adds from which splitting a GEMM pays. */
#define PAR_MIN_GEMM EXEC_CPU_PAR_MIN_MACS
/* ... and one that OpenBLAS runs on operands not packed at load. */
#define PAR_MIN_BLAS_GEMM EXEC_CPU_PAR_MIN_BLAS_MACS

static int cpu_alloc(swarm_backend_t *be, size_t bytes, void **out,
                     swarm_err_t *err) {
        /* 64-byte alignment keeps OpenBLAS and the vectorised loops on full
         * cache lines. */
        size_t sz = (bytes + 63) & ~(size_t)63;
        void *p;

        *out = NULL;
        if (bytes == 0 || sz < bytes)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "cpu: bad allocation size %zu", bytes);
        p = aligned_alloc(64, sz);
        if (!p)
                return swarm_err_set(err, SWARM_ERR_NOMEM,
                                     "cpu: out of memory allocating %zu bytes",
                                     bytes);
        *out = p;
        return SWARM_OK;
}

static void cpu_free(swarm_backend_t *be, void *dev) {
        free(dev);
}

static int cpu_memcpy(swarm_backend_t *be, void *dst, const void *src,
                      size_t bytes, swarm_err_t *err) {
        if (bytes && dst != src)
                memmove(dst, src, bytes);
        return SWARM_OK;
}

/* p[i] = act(p[i]) over n values: cpu_act.h's loops, compiled per ISA by
 * the clones (the clamped exp of scalar_ops.h has no call and no branch, so
 * the common activations vectorise). */
VEC_CLONES
static void act_span(swarm_act_t act, float a, float b, float *restrict p,
                     int64_t n) {
        exec_act_span_inl(act, a, b, p, n);
}

typedef struct unary_job {
        swarm_act_t act;
        float a, b;
        const float *x;
        float *y;
        int64_t n;
} unary_job_t;

static void unary_part(void *p, int part, int parts) {
        const unary_job_t *j = p;
        int64_t lo, hi;

        part_range(j->n, part, parts, &lo, &hi);
        if (hi <= lo)
                return;
        if (j->act == SWARM_ACT_RELU) {
                /* Kept separate so the compiler vectorises it. */
                for (int64_t i = lo; i < hi; i++)
                        j->y[i] = j->x[i] > 0.0f ? j->x[i] : 0.0f;
                return;
        }
        if (j->x != j->y)
                memmove(j->y + lo, j->x + lo, (size_t)(hi - lo) *
                        sizeof(float));
        act_span(j->act, j->a, j->b, j->y + lo, hi - lo);
}

static int cpu_unary(swarm_backend_t *be, swarm_act_t act, float a, float b,
                     const void *x, void *y, int64_t n, swarm_err_t *err) {
        unary_job_t j = {act, a, b, x, y, n};

        if (act == SWARM_ACT_NONE && x == y)
                return SWARM_OK;
        par_run(be, n >= PAR_MIN_ELEMS, unary_part, &j);
        return SWARM_OK;
}

static int cpu_act(swarm_backend_t *be, swarm_act_t act, const void *x,
                   void *y, int64_t n, swarm_err_t *err) {
        return cpu_unary(be, act, 0.0f, 0.0f, x, y, n, err);
}

/* Add beta * bias to rows [i0, i1) of C and apply the activation in the
 * same pass, after sgemm wrote C with beta 0.  Why after and not by seeding
 * C with the bias: seeding costs a full write pass before the product and
 * makes sgemm read C back, and the activation then needs a third pass; here
 * C is touched once more, for both.  Relu and
 * no activation get straight loops the compiler vectorises. */
VEC_CLONES
static void gemm_epilogue(const swarm_gemm_t *g, const float *bias, float *c,
                          int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
        float beta = g->beta;

        for (int64_t i = i0; i < i1; i++) {
                float *restrict row = c + i * g->ldc;
                const float *restrict br = NULL;
                float bs = 0.0f;
                switch (bias ? g->bias_mode : SWARM_BIAS_NONE) {
                case SWARM_BIAS_SCALAR: bs = beta * bias[0]; break;
                case SWARM_BIAS_COL: bs = beta * bias[i]; break;
                case SWARM_BIAS_ROW: br = bias; break;
                case SWARM_BIAS_FULL: br = bias + i * g->n; break;
                default: break;
                }
                if (br && beta == 1.0f)
                        for (int64_t j = j0; j < j1; j++)
                                row[j] += br[j];
                else if (br)
                        for (int64_t j = j0; j < j1; j++)
                                row[j] += beta * br[j];
                if (g->act == SWARM_ACT_RELU)
                        for (int64_t j = j0; j < j1; j++) {
                                float v = row[j] + bs;
                                row[j] = v > 0.0f ? v : 0.0f;
                        }
                else if (g->act == SWARM_ACT_NONE) {
                        if (bs != 0.0f)
                                for (int64_t j = j0; j < j1; j++)
                                        row[j] += bs;
                } else {
                        if (bs != 0.0f)
                                for (int64_t j = j0; j < j1; j++)
                                        row[j] += bs;
                        act_span(g->act, g->act_alpha, g->act_beta, row + j0,
                                 j1 - j0);
                }
        }
}

typedef struct gemm_job {
        const swarm_gemm_t *g;
        const float *a, *b, *bias;
        float *c;
        int split_m;
} gemm_job_t;

/* One part of a GEMM: a band of rows of C (split_m) or of columns, its own
 * sgemm and then its epilogue while the band is still in this core's
 * cache.  Column bands start on multiples of 16 so every part's stores
 * stay on whole cache lines. */
static void gemm_part(void *p, int part, int parts) {
        const gemm_job_t *j = p;
        const swarm_gemm_t *g = j->g;
        int64_t lo, hi, m = g->m, n = g->n;
        const float *a = j->a, *b = j->b;
        float *c = j->c;

        if (j->split_m) {
                part_range(m, part, parts, &lo, &hi);
                a += g->trans_a ? lo : lo * g->lda;
                c += lo * g->ldc;
                m = hi - lo;
        } else {
                lo = part ? (n * part / parts) & ~(int64_t)15 : 0;
                hi = part + 1 < parts ? (n * (part + 1) / parts) &
                                        ~(int64_t)15 : n;
                b += g->trans_b ? lo * g->ldb : lo;
                c += lo;
                n = hi - lo;
        }
        if (m <= 0 || n <= 0)
                return;
        if (g->k == 0) {
                for (int64_t i = 0; i < m; i++)
                        memset(c + i * g->ldc, 0, (size_t)n * sizeof(float));
        } else {
                cblas_sgemm(CblasRowMajor,
                            g->trans_a ? CblasTrans : CblasNoTrans,
                            g->trans_b ? CblasTrans : CblasNoTrans,
                            (blasint)m, (blasint)n, (blasint)g->k, g->alpha,
                            a, (blasint)g->lda, b, (blasint)g->ldb, 0.0f, c,
                            (blasint)g->ldc);
        }
        if (j->bias || g->act != SWARM_ACT_NONE) {
                if (j->split_m)
                        gemm_epilogue(g, j->bias, j->c, lo, hi, 0, g->n);
                else
                        gemm_epilogue(g, j->bias, j->c, 0, g->m, lo, hi);
        }
}

static int cpu_gemm(swarm_backend_t *be, const swarm_gemm_t *g,
                    swarm_err_t *err) {
        const float *a = (const float *)g->a + g->a_off;
        const float *b = (const float *)g->b + g->b_off;
        const float *bias = g->bias ? (const float *)g->bias + g->bias_off
                                    : NULL;
        float *c = (float *)g->c + g->c_off;
        int64_t m = g->m, n = g->n, k = g->k;

        if (m < 0 || n < 0 || k < 0 || m > INT32_MAX || n > INT32_MAX ||
            k > INT32_MAX || g->lda > INT32_MAX || g->ldb > INT32_MAX ||
            g->ldc > INT32_MAX)
                return swarm_err_set(err, SWARM_ERR_BACKEND,
                                     "cpu: gemm dimensions out of range");
        if (g->a_blk_rows || g->a_scale)
                return swarm_err_set(err, SWARM_ERR_BACKEND,
                                     "cpu: gemm takes no row blocks of A "
                                     "(gemm_packed does)");
        if (m == 0 || n == 0)
                return SWARM_OK;
        if (g->bias_mode == SWARM_BIAS_NONE || g->beta == 0.0f)
                bias = NULL;
        /* One sgemm over all of C per part, then the epilogue.  Splitting M
         * into cache-sized blocks would keep C warm for the epilogue, but
         * every call re-packs B: for the 1024-wide layers of an MLP that
         * costs more than the one extra pass over C it saves.  Across
         * threads: split the dimension whose other operand is the smaller
         * one, since every part packs all of that operand (rows: all of B,
         * columns: all of A). */
        {
                gemm_job_t j = {g, a, b, bias, c, m >= n};
                par_run(be, m * n * (k ? k : 1) >= PAR_MIN_BLAS_GEMM &&
                        (j.split_m ? m : n / 16) >= be->threads,
                        gemm_part, &j);
        }
        return SWARM_OK;
}

static inline float binop(swarm_binop_t op, float a, float b) {
        switch (op) {
        case SWARM_BIN_ADD: return a + b;
        case SWARM_BIN_SUB: return a - b;
        case SWARM_BIN_MUL: return a * b;
        case SWARM_BIN_DIV: return a / b;
        case SWARM_BIN_POW: return powf(a, b);
        /* NaN propagates, as in NumPy's maximum/minimum. */
        case SWARM_BIN_MAX: return a != a || a > b ? a : b;
        case SWARM_BIN_MIN: return a != a || a < b ? a : b;
        }
        return 0.0f;
}

/* The inner row of a broadcast binary op.  Add and Mul with unit or zero
 * strides get straight loops the compiler vectorises (bias over rows,
 * per-channel scale). */
VEC_CLONES
static void bin_row(swarm_binop_t op, const float *ar, int64_t ais,
                    const float *br, int64_t bis, float *cr, int64_t inner) {
        if (op == SWARM_BIN_ADD && ais == 1 && bis == 1) {
                for (int64_t j = 0; j < inner; j++)
                        cr[j] = ar[j] + br[j];
        } else if (op == SWARM_BIN_ADD && ais == 1 && bis == 0) {
                for (int64_t j = 0; j < inner; j++)
                        cr[j] = ar[j] + br[0];
        } else if (op == SWARM_BIN_MUL && ais == 1 && bis == 1) {
                for (int64_t j = 0; j < inner; j++)
                        cr[j] = ar[j] * br[j];
        } else if (op == SWARM_BIN_MUL && ais == 1 && bis == 0) {
                for (int64_t j = 0; j < inner; j++)
                        cr[j] = ar[j] * br[0];
        } else if (op == SWARM_BIN_POW && ais == 1 && bis == 0 &&
                   br[0] == 2.0f) {
                /* x^2 and x^3 as products (GPT-2's GELU cubes its FFN):
                 * with powf the Pow took 12-13% of a batch-16 run, the
                 * Mul after it over the same tensor 1-2%.  x * x is
                 * powf's correctly rounded square; x * x * x may differ
                 * by an ulp */
                for (int64_t j = 0; j < inner; j++)
                        cr[j] = ar[j] * ar[j];
        } else if (op == SWARM_BIN_POW && ais == 1 && bis == 0 &&
                   br[0] == 3.0f) {
                for (int64_t j = 0; j < inner; j++)
                        cr[j] = ar[j] * ar[j] * ar[j];
        } else {
                for (int64_t j = 0; j < inner; j++)
                        cr[j] = binop(op, ar[j * ais], br[j * bis]);
        }
}

typedef struct bin_job {
        swarm_binop_t op;
        int ndim;               /* >= 1, after merging */
        const int64_t *shape, *a_str, *b_str;
        const float *a, *b;
        float *c;
        int64_t outer;
} bin_job_t;

/* Rows [o0, o1) of the output (all dims but the last), walked with an
 * odometer started at o0; the inner loop has stride 0 or 1 per operand in
 * the common cases. */
static void bin_part(void *p, int part, int parts) {
        const bin_job_t *j = p;
        int nd = j->ndim;
        int64_t idx[SWARM_MAX_DIMS] = {0}, o0, o1, ao = 0, bo = 0, rest;
        int64_t inner = j->shape[nd - 1];

        if (nd == 1) {          /* one long row: split the row */
                part_range(inner, part, parts, &o0, &o1);
                if (o1 > o0)
                        bin_row(j->op, j->a + o0 * j->a_str[0], j->a_str[0],
                                j->b + o0 * j->b_str[0], j->b_str[0],
                                j->c + o0, o1 - o0);
                return;
        }
        part_range(j->outer, part, parts, &o0, &o1);
        rest = o0;
        for (int d = nd - 2; d >= 0; d--) {
                idx[d] = rest % j->shape[d];
                rest /= j->shape[d];
                ao += idx[d] * j->a_str[d];
                bo += idx[d] * j->b_str[d];
        }
        for (int64_t o = o0; o < o1; o++) {
                bin_row(j->op, j->a + ao, j->a_str[nd - 1], j->b + bo,
                        j->b_str[nd - 1], j->c + o * inner, inner);
                for (int d = nd - 2; d >= 0; d--) {
                        idx[d]++;
                        ao += j->a_str[d];
                        bo += j->b_str[d];
                        if (idx[d] < j->shape[d])
                                break;
                        ao -= j->a_str[d] * j->shape[d];
                        bo -= j->b_str[d] * j->shape[d];
                        idx[d] = 0;
                }
        }
}

static int cpu_binary(swarm_backend_t *be, swarm_binop_t op, int ndim,
                      const int64_t *shape, const void *a,
                      const int64_t *a_str, const void *b,
                      const int64_t *b_str, void *c, swarm_err_t *err) {
        int64_t sh[SWARM_MAX_DIMS], as[SWARM_MAX_DIMS], bs[SWARM_MAX_DIMS];
        int64_t outer = 1, total;
        int nd = 0;
        bin_job_t j;

        if (ndim < 0 || ndim > SWARM_MAX_DIMS)
                return swarm_err_set(err, SWARM_ERR_BACKEND,
                                     "cpu: binary op with %d dims", ndim);
        if (ndim == 0) {
                ((float *)c)[0] = binop(op, ((const float *)a)[0],
                                        ((const float *)b)[0]);
                return SWARM_OK;
        }
        for (int d = 0; d < ndim; d++)
                if (shape[d] == 0)
                        return SWARM_OK;
        /* Merge a dim into the one before it where both operands step
         * through the pair as through one dim (contiguous, or both
         * broadcast): a per-channel scale over [N, C, H, W] becomes rows of
         * H * W instead of rows of W, so the inner loop is long. */
        for (int d = 0; d < ndim; d++) {
                if (shape[d] == 1)
                        continue;       /* size-1 dims add nothing */
                if (nd > 0 && as[nd - 1] == a_str[d] * shape[d] &&
                    bs[nd - 1] == b_str[d] * shape[d]) {
                        sh[nd - 1] *= shape[d];
                        as[nd - 1] = a_str[d];
                        bs[nd - 1] = b_str[d];
                        continue;
                }
                sh[nd] = shape[d];
                as[nd] = a_str[d];
                bs[nd] = b_str[d];
                nd++;
        }
        if (nd == 0) {
                sh[0] = 1;
                as[0] = bs[0] = 0;
                nd = 1;
        }
        /* A squeeze-excitation scale, rows times one value per row (either
         * operand order): its own kernel (cpu_se.c). */
        if (op == SWARM_BIN_MUL && nd == 2 && as[0] == sh[1] && as[1] == 1 &&
            bs[0] == 1 && bs[1] == 0) {
                exec_cpu_scale_rows(be, a, b, c, sh[0], sh[1]);
                return SWARM_OK;
        }
        if (op == SWARM_BIN_MUL && nd == 2 && bs[0] == sh[1] && bs[1] == 1 &&
            as[0] == 1 && as[1] == 0) {
                exec_cpu_scale_rows(be, b, a, c, sh[0], sh[1]);
                return SWARM_OK;
        }
        for (int d = 0; d < nd - 1; d++)
                outer *= sh[d];
        total = outer * sh[nd - 1];
        j = (bin_job_t){op, nd, sh, as, bs, a, b, c, outer};
        par_run(be, total >= PAR_MIN_ELEMS &&
                (nd == 1 || outer >= be->threads), bin_part, &j);
        return SWARM_OK;
}

static int cpu_add(swarm_backend_t *be, int ndim, const int64_t *shape,
                   const void *a, const int64_t *a_str, const void *b,
                   const int64_t *b_str, void *c, swarm_err_t *err) {
        return cpu_binary(be, SWARM_BIN_ADD, ndim, shape, a, a_str, b, b_str,
                          c, err);
}

static void softmax_any(const float *xs, float *ys, int64_t outer,
                        int64_t n, int64_t inner, int log_form) {
        for (int64_t o = 0; o < outer; o++) {
                for (int64_t in = 0; in < inner; in++) {
                        const float *xp = xs + o * n * inner + in;
                        float *yp = ys + o * n * inner + in;
                        float mx = -INFINITY, sum = 0.0f;
                        /* Subtract the max so exp() cannot overflow. */
                        for (int64_t j = 0; j < n; j++)
                                if (xp[j * inner] > mx)
                                        mx = xp[j * inner];
                        if (log_form) {
                                float ls;
                                for (int64_t j = 0; j < n; j++)
                                        sum += expf(xp[j * inner] - mx);
                                ls = logf(sum);
                                for (int64_t j = 0; j < n; j++)
                                        yp[j * inner] = xp[j * inner] - mx -
                                                        ls;
                        } else {
                                /* exp once per value: store it in y, then
                                 * scale by the reciprocal of the sum. */
                                float inv;
                                for (int64_t j = 0; j < n; j++) {
                                        float e = expf(xp[j * inner] - mx);
                                        yp[j * inner] = e;
                                        sum += e;
                                }
                                inv = 1.0f / sum;
                                for (int64_t j = 0; j < n; j++)
                                        yp[j * inner] *= inv;
                        }
                }
        }
}

static int cpu_softmax(swarm_backend_t *be, const void *x, void *y,
                       int64_t outer, int64_t n, int64_t inner,
                       swarm_err_t *err) {
        if (n > 0)
                softmax_any(x, y, outer, n, inner, 0);
        return SWARM_OK;
}

static int cpu_log_softmax(swarm_backend_t *be, const void *x, void *y,
                           int64_t outer, int64_t n, int64_t inner,
                           swarm_err_t *err) {
        if (n > 0)
                softmax_any(x, y, outer, n, inner, 1);
        return SWARM_OK;
}

typedef struct rrow_job {
        swarm_reduce_t op;
        const float *x;
        float *y;
        int64_t rows, len;
} rrow_job_t;

/* Reduce rows of len contiguous values (the reduced axes are the trailing
 * ones: global average pooling, ReduceMean over H and W).  Four partial
 * sums in double let the loop run without a chain on one accumulator and
 * stay exact to float precision. */
static void rrow_part(void *p, int part, int parts) {
        const rrow_job_t *j = p;
        int64_t r0, r1;

        part_range(j->rows, part, parts, &r0, &r1);
        if (j->op == SWARM_RED_MEAN || j->op == SWARM_RED_SUM) {
                /* Global average pooling: vector sums (cpu_se.c). */
                cpu_isa_t isa = cpu_gemm_best_isa();
                for (int64_t r = r0; r < r1; r++) {
                        double v = exec_cpu_sum(isa, j->x + r * j->len,
                                                j->len);
                        if (j->op == SWARM_RED_MEAN)
                                v = j->len ? v / (double)j->len : NAN;
                        j->y[r] = (float)v;
                }
                return;
        }
        for (int64_t r = r0; r < r1; r++) {
                const float *xr = j->x + r * j->len;
                int64_t n = j->len, i = 0;
                double v;
                if (j->op == SWARM_RED_MAX || j->op == SWARM_RED_MIN) {
                        float m = j->op == SWARM_RED_MAX ? -INFINITY
                                                         : INFINITY;
                        for (; i < n; i++) {
                                float t = xr[i];
                                if (t != t || (j->op == SWARM_RED_MAX
                                               ? t > m : t < m))
                                        m = t;
                                if (m != m)
                                        break;
                        }
                        j->y[r] = m;
                        continue;
                }
                {
                        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
                        int sq = j->op == SWARM_RED_SUMSQUARE ||
                                 j->op == SWARM_RED_L2;
                        if (sq)
                                for (; i + 4 <= n; i += 4) {
                                        s0 += (double)xr[i] * xr[i];
                                        s1 += (double)xr[i + 1] * xr[i + 1];
                                        s2 += (double)xr[i + 2] * xr[i + 2];
                                        s3 += (double)xr[i + 3] * xr[i + 3];
                                }
                        else
                                for (; i + 4 <= n; i += 4) {
                                        s0 += xr[i];
                                        s1 += xr[i + 1];
                                        s2 += xr[i + 2];
                                        s3 += xr[i + 3];
                                }
                        for (; i < n; i++)
                                s0 += sq ? (double)xr[i] * xr[i] : xr[i];
                        v = (s0 + s1) + (s2 + s3);
                }
                if (j->op == SWARM_RED_MEAN)
                        v = n ? v / (double)n : NAN;
                else if (j->op == SWARM_RED_L2)
                        v = sqrt(v);
                j->y[r] = (float)v;
        }
}

static int cpu_reduce(swarm_backend_t *be, swarm_reduce_t op, int ndim,
                      const int64_t *shape, uint32_t axes, const void *x,
                      void *y, swarm_err_t *err) {
        const float *xs = x;
        float *ys = y;
        int64_t ostr[SWARM_MAX_DIMS], idx[SWARM_MAX_DIMS] = {0};
        int64_t total = 1, out_n = 1, cnt = 1, yo = 0, s = 1;
        /* Accumulate in double: means over thousands of values stay exact
         * to float precision whatever the order. */
        double *acc;

        if (ndim < 0 || ndim > SWARM_MAX_DIMS)
                return swarm_err_set(err, SWARM_ERR_BACKEND,
                                     "cpu: reduce with %d dims", ndim);
        for (int d = ndim - 1; d >= 0; d--) {
                total *= shape[d];
                if (axes & (1u << d)) {
                        ostr[d] = 0;
                        cnt *= shape[d];
                } else {
                        ostr[d] = s;
                        s *= shape[d];
                        out_n *= shape[d];
                }
        }
        /* Only trailing axes reduced (and at least one): rows. */
        if (op != SWARM_RED_PROD && ndim > 0 && (axes & (1u << (ndim - 1)))) {
                int k = ndim - 1, trailing = 1;
                while (k > 0 && (axes & (1u << (k - 1))))
                        k--;
                for (int d = 0; d < k; d++)
                        if (axes & (1u << d))
                                trailing = 0;
                if (trailing && cnt > 0) {
                        rrow_job_t j = {op, xs, ys, out_n, cnt};
                        par_run(be, total >= PAR_MIN_ELEMS &&
                                out_n >= be->threads, rrow_part, &j);
                        return SWARM_OK;
                }
        }
        acc = malloc((size_t)(out_n ? out_n : 1) * sizeof(double));
        if (!acc)
                return swarm_err_set(err, SWARM_ERR_NOMEM,
                                     "cpu: reduce: out of memory");
        for (int64_t i = 0; i < out_n; i++)
                acc[i] = op == SWARM_RED_MAX ? -INFINITY
                         : op == SWARM_RED_MIN ? INFINITY
                         : op == SWARM_RED_PROD ? 1.0 : 0.0;
        for (int64_t i = 0; i < total; i++) {
                double v = xs[i];
                switch (op) {
                case SWARM_RED_MAX: if (v > acc[yo] || v != v) acc[yo] = v;
                        break;
                case SWARM_RED_MIN: if (v < acc[yo] || v != v) acc[yo] = v;
                        break;
                case SWARM_RED_PROD: acc[yo] *= v; break;
                case SWARM_RED_SUMSQUARE:
                case SWARM_RED_L2: acc[yo] += v * v; break;
                default: acc[yo] += v; break;
                }
                for (int d = ndim - 1; d >= 0; d--) {
                        idx[d]++;
                        yo += ostr[d];
                        if (idx[d] < shape[d])
                                break;
                        yo -= ostr[d] * shape[d];
                        idx[d] = 0;
                }
        }
        for (int64_t i = 0; i < out_n; i++) {
                double v = acc[i];
                if (op == SWARM_RED_MEAN)
                        v = cnt ? v / (double)cnt : NAN;
                else if (op == SWARM_RED_L2)
                        v = sqrt(v);
                ys[i] = (float)v;
        }
        free(acc);
        return SWARM_OK;
}

/* Output columns [*lo, *hi) whose whole window row lies inside [0, len):
 * there the kernels below run without per-tap bounds checks. */
static void inside_span(int64_t len, int64_t out, int64_t k, int64_t s,
                        int64_t d, int64_t pad, int64_t *lo, int64_t *hi) {
        int64_t last = len - 1 - (k - 1) * d + pad;   /* x0 + pad <= last */

        *lo = (pad + s - 1) / s;
        *hi = last < 0 ? 0 : last / s + 1;
        if (*hi > out)
                *hi = out;
        if (*lo > *hi)
                *lo = *hi;
}

/* One output cell with every bounds check: the borders, and windows that
 * hang over the padding. */
static float pool_cell(swarm_pool_kind_t kind, const swarm_window_t *w,
                       const float *xp, int64_t oy, int64_t ox) {
        int64_t y0 = oy * w->sh - w->pad_t, x0 = ox * w->sw - w->pad_l;
        float mx = -INFINITY, sum = 0.0f;
        int64_t cnt = 0, padded, py, px, ky0, ky1, kx0, kx1, unused;

        /* Taps inside the declared pads (not ceil_mode's extra rows) count
         * for count_include_pad: every tap from the window's start (never
         * before -pad) up to h + pad_b, w + pad_r. */
        exec_pool_taps(y0, w->kh, w->dh, y0, w->h + w->pad_b, &unused, &py);
        exec_pool_taps(x0, w->kw, w->dw, x0, w->w + w->pad_r, &unused, &px);
        padded = py * px;
        /* only the taps inside the input are visited (exec_pool_taps) */
        exec_pool_taps(y0, w->kh, w->dh, 0, w->h, &ky0, &ky1);
        exec_pool_taps(x0, w->kw, w->dw, 0, w->w, &kx0, &kx1);
        for (int64_t ky = ky0; ky < ky1; ky++) {
                int64_t iy = y0 + ky * w->dh;
                for (int64_t kx = kx0; kx < kx1; kx++) {
                        float v = xp[iy * w->w + x0 + kx * w->dw];
                        if (v > mx || v != v)
                                mx = v;
                        sum += v;
                        cnt++;
                }
        }
        if (kind == SWARM_POOL_MAX)
                return mx;
        if (kind == SWARM_POOL_AVG_PAD)
                return padded ? sum / (float)padded : 0.0f;
        return cnt ? sum / (float)cnt : 0.0f;
}

/* NaN-propagating max, as the per-cell loop does it. */
static inline float max_nan(float a, float b) {
        return a > b || a != a ? a : b;
}

/* The interior of one output row: every tap in bounds, so no checks and,
 * inside the window, counts are kh * kw whatever the padding mode.  The
 * 2x2 / stride 2 case (nearly every CNN's pooling) gets its own loop: two
 * input rows, pairs of columns, nothing else for the compiler to track. */
static void pool_row_inside(swarm_pool_kind_t kind, const swarm_window_t *w,
                            const float *restrict xp, float *restrict yr,
                            int64_t y0, int64_t lo, int64_t hi) {
        const float *r0 = xp + y0 * w->w - w->pad_l;
        float inv = 1.0f / (float)(w->kh * w->kw);

        if (w->kh == 2 && w->kw == 2 && w->sw == 2 && w->dw == 1) {
                const float *r1 = r0 + w->dh * w->w;
                if (kind == SWARM_POOL_MAX)
                        for (int64_t ox = lo; ox < hi; ox++)
                                yr[ox] = max_nan(max_nan(r0[2 * ox],
                                                         r0[2 * ox + 1]),
                                                 max_nan(r1[2 * ox],
                                                         r1[2 * ox + 1]));
                else
                        for (int64_t ox = lo; ox < hi; ox++)
                                yr[ox] = ((r0[2 * ox] + r0[2 * ox + 1]) +
                                          (r1[2 * ox] + r1[2 * ox + 1])) *
                                         0.25f;
                return;
        }
        for (int64_t ox = lo; ox < hi; ox++) {
                const float *p = r0 + ox * w->sw;
                float acc = kind == SWARM_POOL_MAX ? -INFINITY : 0.0f;
                for (int64_t ky = 0; ky < w->kh; ky++) {
                        const float *q = p + ky * w->dh * w->w;
                        if (kind == SWARM_POOL_MAX)
                                for (int64_t kx = 0; kx < w->kw; kx++)
                                        acc = max_nan(q[kx * w->dw], acc);
                        else
                                for (int64_t kx = 0; kx < w->kw; kx++)
                                        acc += q[kx * w->dw];
                }
                yr[ox] = kind == SWARM_POOL_MAX ? acc : acc * inv;
        }
}

typedef struct pool_job {
        swarm_pool_kind_t kind;
        const swarm_window_t *w;
        const float *x;
        float *y;
} pool_job_t;

static void pool_part(void *job, int part, int parts) {
        const pool_job_t *j = job;
        swarm_pool_kind_t kind = j->kind;
        const swarm_window_t *w = j->w;
        const float *xs = j->x;
        float *ys = j->y;
        int64_t xlo, xhi, ylo, yhi, p0, p1;

        /* Split each plane into the interior, where whole windows lie in
         * the input, and the border cells that need the checked loop. */
        inside_span(w->w, w->ow, w->kw, w->sw, w->dw, w->pad_l, &xlo, &xhi);
        inside_span(w->h, w->oh, w->kh, w->sh, w->dh, w->pad_t, &ylo, &yhi);
        part_range(w->n, part, parts, &p0, &p1);
        for (int64_t p = p0; p < p1; p++) {
                const float *xp = xs + p * w->h * w->w;
                float *yp = ys + p * w->oh * w->ow;
                for (int64_t oy = 0; oy < w->oh; oy++) {
                        float *yr = yp + oy * w->ow;
                        if (oy < ylo || oy >= yhi || xlo >= xhi) {
                                for (int64_t ox = 0; ox < w->ow; ox++)
                                        yr[ox] = pool_cell(kind, w, xp, oy,
                                                           ox);
                                continue;
                        }
                        for (int64_t ox = 0; ox < xlo; ox++)
                                yr[ox] = pool_cell(kind, w, xp, oy, ox);
                        pool_row_inside(kind, w, xp, yr,
                                        oy * w->sh - w->pad_t, xlo, xhi);
                        for (int64_t ox = xhi; ox < w->ow; ox++)
                                yr[ox] = pool_cell(kind, w, xp, oy, ox);
                }
        }
}

/* Planes are independent: split them across the pool. */
static int cpu_pool(swarm_backend_t *be, swarm_pool_kind_t kind,
                    const swarm_window_t *w, const void *x, void *y,
                    swarm_err_t *err) {
        pool_job_t j = {kind, w, x, y};

        if (kind == SWARM_POOL_MAX)     /* separable, vectorised */
                return exec_cpu_maxpool(be, w, x, y, err);
        if (exec_cpu_avgsum_ok(w))      /* large windows: prefix sums */
                return exec_cpu_avgsum(be, w, kind == SWARM_POOL_AVG_PAD, x,
                                       y, err);
        if (exec_cpu_avgpool2_ok(w))    /* 2x2 / 2: vectorised */
                return exec_cpu_avgpool2(be, w, x, y, err);
        par_run(be, w->n * w->oh * w->ow >= PAR_MIN_ELEMS &&
                w->n >= be->threads, pool_part, &j);
        return SWARM_OK;
}

/* Copy or zero n floats where n is small and unknown (an im2col row is
 * often 14 or 28 floats, its padding 1): libc's memcpy / memset call and
 * its size dispatch cost as much as the work at that size.  Fixed-size
 * blocks become plain vector loads and stores; the tail is split by bits
 * rather than looped because GCC turns a byte-copy loop back into a libc
 * call. */
static inline void copy_short(float *restrict d, const float *restrict s,
                              int64_t n) {
        int64_t j = 0;

        for (; j + 8 <= n; j += 8)
                memcpy(d + j, s + j, 8 * sizeof(float));
        if (n & 4) {
                memcpy(d + j, s + j, 4 * sizeof(float));
                j += 4;
        }
        if (n & 2) {
                memcpy(d + j, s + j, 2 * sizeof(float));
                j += 2;
        }
        if (n & 1)
                d[j] = s[j];
}

static inline void zero_short(float *d, int64_t n) {
        static const float zeros[8];

        copy_short(d, zeros, n < 8 ? n : 0);
        if (n >= 8)
                memset(d, 0, (size_t)n * sizeof(float));
}

/* One row of the columns matrix: output columns whose tap falls left or
 * right of the input are zeros, the rest a contiguous copy (stride 1, the
 * usual case) or a strided gather; no per-element bounds checks. */
static void im2col_row(const float *restrict src, int64_t x0, int64_t width,
                       int64_t ow, int64_t sw, float *restrict r) {
        int64_t lo = 0, hi;

        if (x0 < 0)
                lo = (-x0 + sw - 1) / sw;
        hi = width - 1 - x0 < 0 ? 0 : (width - 1 - x0) / sw + 1;
        if (hi > ow)
                hi = ow;
        if (lo > hi)
                lo = hi;
        zero_short(r, lo);
        if (sw == 1 && hi > lo)
                copy_short(r + lo, src + x0 + lo, hi - lo);
        else
                for (int64_t ox = lo; ox < hi; ox++)
                        r[ox] = src[x0 + ox * sw];
        zero_short(r + hi, ow - hi);
}

/* im2col for the common "same" shape: strides 1 and ow == w, so output
 * pixel t of a tap row reads input element t + off for one constant off.
 * The whole row is then one long copy (clipped to the plane) plus zeroed
 * edge columns and padding rows, instead of a short copy per output row:
 * at 14-wide planes the per-row work was most of the cost. */
static void im2col_plane_same(const swarm_window_t *w, const float *xp,
                              int64_t ky, int64_t kx, float *restrict row) {
        int64_t ow = w->ow, plane = w->oh * ow, hw = w->h * w->w;
        int64_t dy = ky * w->dh - w->pad_t, x0 = kx * w->dw - w->pad_l;
        int64_t off = dy * w->w + x0;
        int64_t oy_lo = dy < 0 ? -dy : 0, oy_hi = w->h - dy;
        int64_t t_lo, t_hi;

        /* a dilated tap can lie wholly above or below the plane (DeepLab's
         * ASPP: dilation 36 on a 6 x 6 map): both ends stay in [0, oh] */
        if (oy_hi > w->oh)
                oy_hi = w->oh;
        if (oy_hi < 0)
                oy_hi = 0;
        if (oy_lo > oy_hi)
                oy_lo = oy_hi;
        t_lo = oy_lo * ow;
        t_hi = oy_hi * ow;
        /* Clip the copy to the plane: what falls outside is an edge column
         * that is zeroed below anyway. */
        if (t_lo < -off)
                t_lo = -off < t_hi ? -off : t_hi;
        if (t_hi > hw - off)
                t_hi = hw - off > t_lo ? hw - off : t_lo;
        memset(row, 0, (size_t)t_lo * sizeof(float));
        if (t_hi > t_lo)
                memcpy(row + t_lo, xp + t_lo + off,
                       (size_t)(t_hi - t_lo) * sizeof(float));
        memset(row + t_hi, 0, (size_t)(plane - t_hi) * sizeof(float));
        /* Columns whose tap lies left or right of the input. */
        for (int64_t ox = 0; ox < ow; ox++) {
                if (ox + x0 >= 0 && ox + x0 < w->w)
                        continue;
                for (int64_t oy = oy_lo; oy < oy_hi; oy++)
                        row[oy * ow + ox] = 0.0f;
        }
}

typedef struct im2col_job {
        const swarm_window_t *w;
        const float *x;
        float *col;
} im2col_job_t;

/* Row (c, ky, kx) of the matrix holds, per image, that tap's value for
 * every output pixel; images sit side by side so the GEMM's N is
 * imgs * oh * ow.  Parts take whole images when there are enough of them
 * (each part then fills the columns its GEMM band will read), else
 * channels. */
static void im2col_part(void *p, int part, int parts) {
        const im2col_job_t *jb = p;
        const swarm_window_t *w = jb->w;
        const float *xs = jb->x;
        float *cs = jb->col;
        int64_t plane = w->oh * w->ow;
        int64_t imgs = w->imgs > 1 ? w->imgs : 1;
        int64_t ld = imgs * plane, j0 = 0, j1 = imgs, c0 = 0, c1 = w->n;
        int same = w->sh == 1 && w->sw == 1 && w->ow == w->w;

        if (imgs >= parts)
                part_range(imgs, part, parts, &j0, &j1);
        else
                part_range(w->n, part, parts, &c0, &c1);
        for (int64_t j = j0; j < j1; j++) {
                const float *xi = xs + j * w->img_str;
                for (int64_t c = c0; c < c1; c++) {
                        const float *xp = xi + c * w->h * w->w;
                        for (int64_t ky = 0; ky < w->kh; ky++) {
                                for (int64_t kx = 0; kx < w->kw; kx++) {
                                        float *row = cs + ((c * w->kh + ky) *
                                                           w->kw + kx) * ld +
                                                     j * plane;
                                        int64_t x0 = kx * w->dw - w->pad_l;
                                        if (same) {
                                                im2col_plane_same(w, xp, ky,
                                                                  kx, row);
                                                continue;
                                        }
                                        for (int64_t oy = 0; oy < w->oh;
                                             oy++) {
                                                int64_t iy = oy * w->sh -
                                                             w->pad_t +
                                                             ky * w->dh;
                                                float *r = row + oy * w->ow;
                                                if (iy < 0 || iy >= w->h)
                                                        memset(r, 0,
                                                               (size_t)w->ow *
                                                               sizeof(float));
                                                else
                                                        im2col_row(
                                                            xp + iy * w->w,
                                                            x0, w->w, w->ow,
                                                            w->sw, r);
                                        }
                                }
                        }
                }
        }
}

static int cpu_im2col(swarm_backend_t *be, const swarm_window_t *w,
                      const void *x, int64_t x_off, void *col,
                      swarm_err_t *err) {
        im2col_job_t j = {w, (const float *)x + x_off, col};
        int64_t imgs = w->imgs > 1 ? w->imgs : 1;

        par_run(be, imgs * w->n * w->kh * w->kw * w->oh * w->ow >=
                PAR_MIN_ELEMS && (imgs >= be->threads || w->n >= be->threads),
                im2col_part, &j);
        return SWARM_OK;
}

static int cpu_gather(swarm_backend_t *be, const void *x, int64_t outer,
                      int64_t axis_n, int64_t inner, const void *idx,
                      int idx64, int64_t n_idx, void *y, swarm_err_t *err) {
        const uint32_t *xs = x;
        uint32_t *ys = y;

        for (int64_t i = 0; i < n_idx; i++) {
                int64_t k = idx64 ? ((const int64_t *)idx)[i]
                                  : ((const int32_t *)idx)[i];
                if (k < 0)
                        k += axis_n;
                if (k < 0 || k >= axis_n)
                        return swarm_err_set(err, SWARM_ERR_INVALID,
                                             "gather: index %lld out of "
                                             "range [-%lld, %lld)",
                                             (long long)(idx64
                                                 ? ((const int64_t *)idx)[i]
                                                 : ((const int32_t *)idx)[i]),
                                             (long long)axis_n,
                                             (long long)axis_n);
                for (int64_t o = 0; o < outer; o++)
                        memcpy(ys + (o * n_idx + i) * inner,
                               xs + (o * axis_n + k) * inner,
                               (size_t)inner * sizeof(float));
        }
        return SWARM_OK;
}

static int copy_strided_serial(swarm_backend_t *be, int ndim,
                               const int64_t *shape, const void *x,
                               int64_t x_off, const int64_t *x_str, void *y,
                               int64_t y_off, const int64_t *y_str,
                               swarm_err_t *err) {
        const uint32_t *xs = (const uint32_t *)x + x_off;
        uint32_t *ys = (uint32_t *)y + y_off;
        int64_t idx[SWARM_MAX_DIMS] = {0}, outer = 1, inner, xo = 0, yo = 0;
        int64_t xis, yis;

        if (ndim < 0 || ndim > SWARM_MAX_DIMS)
                return swarm_err_set(err, SWARM_ERR_BACKEND,
                                     "cpu: strided copy with %d dims", ndim);
        if (ndim == 0) {
                ys[0] = xs[0];
                return SWARM_OK;
        }
        for (int d = 0; d < ndim; d++)
                if (shape[d] == 0)
                        return SWARM_OK;
        for (int d = 0; d < ndim - 1; d++)
                outer *= shape[d];
        inner = shape[ndim - 1];
        xis = x_str[ndim - 1];
        yis = y_str[ndim - 1];
        for (int64_t o = 0; o < outer; o++) {
                if (xis == 1 && yis == 1)
                        memcpy(ys + yo, xs + xo,
                               (size_t)inner * sizeof(uint32_t));
                else
                        for (int64_t j = 0; j < inner; j++)
                                ys[yo + j * yis] = xs[xo + j * xis];
                for (int d = ndim - 2; d >= 0; d--) {
                        idx[d]++;
                        xo += x_str[d];
                        yo += y_str[d];
                        if (idx[d] < shape[d])
                                break;
                        xo -= x_str[d] * shape[d];
                        yo -= y_str[d] * shape[d];
                        idx[d] = 0;
                }
        }
        return SWARM_OK;
}

typedef struct copy_job {
        int ndim;
        const int64_t *shape, *x_str, *y_str;
        const void *x;
        void *y;
        int64_t x_off, y_off;
} copy_job_t;

static void copy_part(void *p, int part, int parts) {
        const copy_job_t *j = p;
        int64_t shape[SWARM_MAX_DIMS], lo, hi;

        memcpy(shape, j->shape, (size_t)j->ndim * sizeof(int64_t));
        part_range(shape[0], part, parts, &lo, &hi);
        shape[0] = hi - lo;
        if (shape[0] > 0)
                copy_strided_serial(NULL, j->ndim, shape, j->x,
                                    j->x_off + lo * j->x_str[0], j->x_str,
                                    j->y, j->y_off + lo * j->y_str[0],
                                    j->y_str, NULL);
}

/* Split along the outermost dimension (images for the convolution's copy
 * back to NCHW, Pad and Transpose of a batch). */
static int cpu_copy_strided(swarm_backend_t *be, int ndim,
                            const int64_t *shape, const void *x,
                            int64_t x_off, const int64_t *x_str, void *y,
                            int64_t y_off, const int64_t *y_str,
                            swarm_err_t *err) {
        copy_job_t j = {ndim, shape, x_str, y_str, x, y, x_off, y_off};
        int64_t total = 1;

        if (ndim < 1 || ndim > SWARM_MAX_DIMS)
                return copy_strided_serial(be, ndim, shape, x, x_off, x_str,
                                           y, y_off, y_str, err);
        for (int d = 0; d < ndim; d++)
                total *= shape[d];
        par_run(be, total >= PAR_MIN_ELEMS && shape[0] >= be->threads,
                copy_part, &j);
        return SWARM_OK;
}

typedef struct affine_job {
        const float *x, *sc, *bi;
        float *y;
        int64_t outer, c, inner;
} affine_job_t;

static void affine_part(void *p, int part, int parts) {
        const affine_job_t *j = p;
        int64_t q0, q1;

        part_range(j->outer * j->c, part, parts, &q0, &q1);
        for (int64_t q = q0; q < q1; q++) {
                const float *xp = j->x + q * j->inner;
                float *yp = j->y + q * j->inner;
                float s = j->sc[q % j->c], b = j->bi[q % j->c];
                for (int64_t i = 0; i < j->inner; i++)
                        yp[i] = xp[i] * s + b;
        }
}

/* Planes (image, channel) are independent: split them across the pool. */
static int cpu_channel_affine(swarm_backend_t *be, const void *x,
                              const void *scale, const void *bias, void *y,
                              int64_t outer, int64_t c, int64_t inner,
                              swarm_err_t *err) {
        affine_job_t j = {x, scale, bias, y, outer, c, inner};

        if (c < 1)
                return SWARM_OK;
        par_run(be, outer * c * inner >= PAR_MIN_ELEMS &&
                outer * c >= be->threads, affine_part, &j);
        return SWARM_OK;
}

/* ---- packed constant operands (cpu_gemm.c) ---- */

/* Multiply-adds below which a packed GEMM runs on OpenBLAS instead. */
#define PACKED_MIN_GEMM ((int64_t)512 * 1024)

static int cpu_gemm_pack_be(swarm_backend_t *be, int side, int trans,
                            int64_t groups, int64_t rows, int64_t k,
                            const void *src, int64_t ld, void **packed,
                            size_t *bytes, swarm_err_t *err) {
        cpu_packed_t *p;
        int rc = cpu_gemm_pack(cpu_gemm_best_isa(), side, trans, groups, rows,
                               k, src, ld, &p, err);

        (void)be;
        *packed = rc ? NULL : p;
        *bytes = rc ? 0 : p->bytes;
        return rc;
}

static void cpu_gemm_pack_free_be(swarm_backend_t *be, void *packed) {
        (void)be;
        cpu_gemm_pack_free(packed);
}

/* Run a prepared job on the pool: one workspace per lane, the backend's
 * cached one when it is free (see cpu_backend_t). */
static int run_gemm_job(swarm_backend_t *be, cpu_gemm_job_t *j,
                        swarm_err_t *err) {
        cpu_backend_t *cb = be->destroy == cpu_destroy ? (cpu_backend_t *)be
                                                        : NULL;
        int cached = 0;
        int lanes = be->threads > 1 ? be->threads : 1;
        int64_t per = cpu_gemm_ws_floats(j), macs;
        int big = !swarm_mul_i64(j->m, j->n, &macs) &&
                  !swarm_mul_i64(macs, j->k ? j->k : 1, &macs) &&
                  !swarm_mul_i64(macs, j->groups, &macs) &&
                  macs >= PAR_MIN_GEMM;

        if (cpu_gemm_plan_parts(j, big ? lanes : 1) < 2)
                big = 0;
        j->ws = NULL;
        j->ws_part = per;
        if (per > 0) {
                size_t need = (size_t)per * (size_t)lanes;
                if (cb && !pthread_mutex_trylock(&cb->ws_mu)) {
                        if (cb->ws_cap < need) {
                                free(cb->ws);
                                cb->ws = aligned_alloc(64, need *
                                                           sizeof(float));
                                cb->ws_cap = cb->ws ? need : 0;
                        }
                        if (cb->ws) {
                                j->ws = cb->ws;
                                cached = 1;
                        } else {
                                pthread_mutex_unlock(&cb->ws_mu);
                        }
                }
                if (!j->ws)
                        j->ws = aligned_alloc(64, need * sizeof(float));
                if (!j->ws)
                        return swarm_err_set(err, SWARM_ERR_NOMEM,
                                             "cpu: out of memory for a gemm "
                                             "workspace");
        }
        par_run(be, big, cpu_gemm_part, j);
        if (cached)
                pthread_mutex_unlock(&cb->ws_mu);
        else
                free(j->ws);
        return SWARM_OK;
}

static int cpu_gemm_packed_be(swarm_backend_t *be, const swarm_gemm_t *g,
                              const void *pa, const void *pb,
                              swarm_err_t *err) {
        cpu_gemm_job_t j;
        int64_t macs;
        int rc;

        /* Small products go to OpenBLAS when the plain operand is at hand:
         * measured (1 thread, Sapphire Rapids), below ~512K multiply-adds
         * the packed path's fixed cost (workspace, A packing, edge tiles)
         * lost: 1x784x128 1.34x, 4x784x128 1.27x, 1x128x10 4.4x slower;
         * from 1x784x1024 and 16x784x128 up it won (0.57x, 0.63x). */
        if (((pb && g->b) || (pa && g->a)) &&
            !swarm_mul_i64(g->m, g->n, &macs) &&
            !swarm_mul_i64(macs, g->k, &macs) && macs < PACKED_MIN_GEMM)
                return cpu_gemm(be, g, err);
        rc = cpu_gemm_job_gemm(&j, g, pa, pb, err);
        if (rc || j.m == 0 || j.n == 0)
                return rc;
        return run_gemm_job(be, &j, err);
}

static int cpu_conv_packed_be(swarm_backend_t *be, const swarm_window_t *w,
                              int64_t imgs, int64_t group, int64_t cout,
                              const void *packed, const void *x,
                              const void *bias, swarm_act_t act, float alpha,
                              float beta, void *y, swarm_err_t *err) {
        cpu_gemm_job_t j;
        int rc;

        if (exec_cpu_pw_fits(w, group, packed, imgs, act))
                return exec_cpu_pw_conv(be, w, imgs, cout, packed, x, NULL,
                                        bias, act, alpha, beta, y, err);
        rc = cpu_gemm_job_conv(&j, w, imgs, group, cout, packed, x, bias, act,
                               alpha, beta, y, err);
        if (rc || j.m == 0 || j.n == 0)
                return rc;
        return run_gemm_job(be, &j, err);
}

/* conv_packed of x scaled per (image, channel): the pointwise kernel
 * scales as it loads, also where exec_cpu_pw_fits prefers the packed GEMM
 * for the plain convolution (EfficientNet's 7 x 7 projections): the Mul it
 * saves is a pass over x.  Anything else (an activation without a vector
 * form; the entry is only set where that kernel runs, see below) scales
 * into a temporary first. */
static int cpu_conv_packed_scaled_be(swarm_backend_t *be,
                                     const swarm_window_t *w, int64_t imgs,
                                     int64_t group, int64_t cout,
                                     const void *packed, const void *x,
                                     const void *s, const void *bias,
                                     swarm_act_t act, float alpha, float beta,
                                     void *y, swarm_err_t *err) {
        int64_t ch, plane, n;
        float *t;
        int rc;

        if (exec_cpu_pw_runs(w, group, packed, act))
                return exec_cpu_pw_conv(be, w, imgs, cout, packed, x, s, bias,
                                        act, alpha, beta, y, err);
        if (swarm_mul_i64(w->n, group, &ch) ||
            swarm_mul_i64(w->h, w->w, &plane) ||
            swarm_mul_i64(ch, imgs, &n) || swarm_mul_i64(n, plane, &n) ||
            n < 0 || (uint64_t)n > SIZE_MAX / sizeof(float))
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "scaled conv: input size overflows");
        t = malloc((size_t)(n ? n : 1) * sizeof(float));
        if (!t)
                return swarm_err_set(err, SWARM_ERR_NOMEM,
                                     "scaled conv: out of memory");
        exec_cpu_scale_rows(be, x, s, t, ch * imgs, plane);
        rc = cpu_conv_packed_be(be, w, imgs, group, cout, packed, t, bias,
                                act, alpha, beta, y, err);
        free(t);
        return rc;
}

static void cpu_destroy(swarm_backend_t *be) {
        cpu_backend_t *cb = (cpu_backend_t *)be;

        pthread_mutex_lock(&cb->mu);
        __atomic_store_n(&cb->stop, 1, __ATOMIC_RELEASE);
        pthread_cond_broadcast(&cb->wake);
        pthread_mutex_unlock(&cb->mu);
        for (int i = 0; i < cb->n_th; i++)
                pthread_join(cb->th[i], NULL);
        pthread_cond_destroy(&cb->wake);
        pthread_mutex_destroy(&cb->mu);
        pthread_mutex_destroy(&cb->owner);
        pthread_mutex_destroy(&cb->ws_mu);
        free(cb->ws);
        free(cb->th);
        free(cb->args);
        free(cb);
}

void exec_cpu_backend_init(swarm_backend_t *be) {
        memset(be, 0, sizeof(*be));
        be->name = "cpu";
        be->host_mem = 1;
        be->im2col_imgs = 1;
        be->alloc = cpu_alloc;
        be->free_buf = cpu_free;
        be->upload = cpu_memcpy;
        be->download = cpu_memcpy;
        be->gemm = cpu_gemm;
        be->add = cpu_add;
        be->act = cpu_act;
        be->softmax = cpu_softmax;
        be->copy = cpu_memcpy;
        be->binary = cpu_binary;
        be->unary = cpu_unary;
        be->log_softmax = cpu_log_softmax;
        be->reduce = cpu_reduce;
        be->pool = cpu_pool;
        be->im2col = cpu_im2col;
        be->gather = cpu_gather;
        be->copy_strided = cpu_copy_strided;
        be->channel_affine = cpu_channel_affine;
        be->layer_norm = exec_cpu_layer_norm;
        be->conv_dw = exec_cpu_conv_dw;
        be->attention = exec_cpu_attention;
        be->rnn = exec_cpu_rnn;
        be->conv_transpose = exec_cpu_conv_transpose;
        be->resample = exec_cpu_resample;
        be->gemm_pack = cpu_gemm_pack_be;
        be->gemm_pack_free = cpu_gemm_pack_free_be;
        be->gemm_packed = cpu_gemm_packed_be;
        be->conv_packed = cpu_conv_packed_be;
        /* Only where the pointwise kernel runs (AVX-512, AVX2): elsewhere
         * the Mul stays its own step. */
        be->conv_packed_scaled = exec_cpu_pw_isa_ok(cpu_gemm_best_isa())
                                 ? cpu_conv_packed_scaled_be : NULL;
        be->conv_direct_min_ow = cpu_gemm_direct_min_ow();
        be->conv_wino_pack = exec_cpu_conv_wino_pack;
        be->conv_wino = exec_cpu_conv_wino;
        be->conv_wino_free = exec_cpu_conv_wino_free;
        be->conv_direct_max_stride = (int)cpu_gemm_direct_max_stride();
        be->conv_direct_max_phases = (int)cpu_gemm_direct_max_phases();
        be->conv_direct_grouped_min_ow = (int)cpu_gemm_direct_grouped_min_ow();
        cpu_gemm_tile(cpu_gemm_best_isa(), &be->gemm_tile_rows,
                      &be->gemm_tile_cols);
        be->threads = 1;        /* no pool: a stack backend for folding */
        be->destroy = NULL;
}

int swarm_backend_cpu_new(int threads, swarm_backend_t **out,
                          swarm_err_t *err) {
        cpu_backend_t *cb = calloc(1, sizeof(*cb));
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);

        *out = NULL;
        if (!cb)
                return swarm_err_set(err, SWARM_ERR_NOMEM,
                                     "cpu backend: out of memory");
        exec_cpu_backend_init(&cb->be);
        pthread_mutex_init(&cb->owner, NULL);
        pthread_mutex_init(&cb->ws_mu, NULL);
        pthread_mutex_init(&cb->mu, NULL);
        pthread_cond_init(&cb->wake, NULL);
        cb->be.destroy = cpu_destroy;
        if (threads > 1) {
                cb->th = calloc((size_t)threads - 1, sizeof(*cb->th));
                cb->args = calloc((size_t)threads - 1, sizeof(*cb->args));
                if (!cb->th || !cb->args) {
                        cpu_destroy(&cb->be);
                        return swarm_err_set(err, SWARM_ERR_NOMEM,
                                             "cpu backend: out of memory");
                }
                for (int i = 0; i < threads - 1; i++) {
                        cb->args[i].cb = cb;
                        cb->args[i].me = i + 1;
                        if (pthread_create(&cb->th[i], NULL, pool_worker,
                                           &cb->args[i]))
                                break;  /* fewer lanes, still correct */
                        cb->n_th++;
                }
                cb->be.threads = cb->n_th + 1;
                /* More lanes than cores: workers spinning through a run
                 * would take the cores from the caller's serial kernels;
                 * they keep the short spin only. */
                if (cb->n_th && (cpus < 1 || cb->be.threads <= cpus)) {
                        cb->be.run_begin = cpu_run_begin;
                        cb->be.run_end = cpu_run_end;
                }
        }
        /* Our pool does the splitting (see the pool above); OpenBLAS'
         * own threads would only compete with it.  Process-wide: the last
         * call wins, as backend.h says. */
        openblas_set_num_threads(1);
        *out = &cb->be;
        return SWARM_OK;
}

void swarm_backend_no_winograd(swarm_backend_t *be) {
        /* pack.c asks conv_wino_pack only; conv_wino and conv_wino_free
         * stay for the models that hold transformed filters already. */
        if (be)
                be->conv_wino_pack = NULL;
}

void swarm_backend_destroy(swarm_backend_t *be) {
        if (be && be->destroy)
                be->destroy(be);
}
