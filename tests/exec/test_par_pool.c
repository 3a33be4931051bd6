/*
 * test_par_pool.c - the CPU backend's thread pool (lib/exec/backend_cpu.c,
 * cpu_par.h).
 *
 * 1. Claiming: over thousands of jobs on 2 and 4 lanes, every part runs
 *    exactly once and writes the right values, whichever lane claims it:
 *    with the workers held back until the caller has run every part (the
 *    late-worker path, exec_cpu_par_hold), released in the middle of a job
 *    (a held worker's stale claim, then a real one), and free-running
 *    inside a run.
 * 2. Sleeping: after a run ends the workers go to sleep and use no CPU;
 *    inside a run a worker left without jobs sleeps after its bounded spin;
 *    swarm_model_run pairs run_begin with run_end (a real model, the
 *    fashion MLP at 256 rows, its GEMMs split across the pool).
 * 3. OpenBLAS stays at one thread (its pool would fight ours).
 *
 * Usage: test_par_pool FASHION_MLP_DIR.  About a second.
 */
#include <cblas.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "swarm/backend.h"
#include "swarm/model.h"
#include "cpu_par.h"

#include "check.h"

#define MAX_PARTS 8
#define N_ELEMS 4096

typedef struct job {
        swarm_backend_t *be;
        pthread_t caller;
        int lanes;
        int bad_parts;                  /* calls with parts != lanes */
        int count[MAX_PARTS];           /* atomic: runs of each part */
        int by_worker[MAX_PARTS];       /* atomic: 1 when a worker ran it */
        int release;                    /* atomic: the caller's part clears
                                         * the hold, then waits for a worker */
        uint32_t salt;
        const float *x;
        float *y;
} job_t;

static int64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ms(int ms) {
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

        nanosleep(&ts, NULL);
}

static float value(const job_t *j, int64_t i, int part) {
        return j->x[i] * 3.0f + (float)part + (float)(j->salt & 1023);
}

/* Runs on whichever lane claimed `part`: no CHECK here (not thread-safe),
 * only counts the test reads afterwards. */
static void part_fn(void *arg, int part, int parts) {
        job_t *j = arg;
        int self = pthread_equal(pthread_self(), j->caller);
        int64_t lo, hi;

        if (parts != j->lanes || part < 0 || part >= parts) {
                __atomic_fetch_add(&j->bad_parts, 1, __ATOMIC_RELAXED);
                return;
        }
        __atomic_fetch_add(&j->count[part], 1, __ATOMIC_RELAXED);
        if (!self)
                __atomic_store_n(&j->by_worker[part], 1, __ATOMIC_RELAXED);
        lo = (int64_t)N_ELEMS * part / parts;
        hi = (int64_t)N_ELEMS * (part + 1) / parts;
        for (int64_t i = lo; i < hi; i++)
                j->y[i] = value(j, i, part);
        if (self && __atomic_exchange_n(&j->release, 0, __ATOMIC_ACQ_REL)) {
                int64_t until = now_ns() + (int64_t)200 * 1000000;
                int seen = 0;
                exec_cpu_par_hold(j->be, 0);
                /* Stay in this part until a worker claimed another one, so
                 * the claim races with nothing but itself. */
                while (!seen && now_ns() < until) {
                        for (int p = 0; p < parts; p++)
                                seen |= __atomic_load_n(&j->by_worker[p],
                                                        __ATOMIC_RELAXED);
                        sched_yield();
                }
        }
}

static exec_cpu_par_stats_t stats(swarm_backend_t *be) {
        exec_cpu_par_stats_t st;

        REQUIRE(exec_cpu_par_stats(be, &st) == 0);
        return st;
}

/* Wait until `held` workers sit on the hold (at most 2 s). */
static int wait_held(swarm_backend_t *be, int held) {
        int64_t until = now_ns() + (int64_t)2000 * 1000000;

        while (stats(be).held < held && now_ns() < until)
                sched_yield();
        return stats(be).held >= held;
}

/* Wait until every worker sleeps on the condvar (at most 2 s). */
static int wait_asleep(swarm_backend_t *be) {
        int64_t until = now_ns() + (int64_t)2000 * 1000000;
        exec_cpu_par_stats_t st = stats(be);

        while (st.sleeping < st.workers && now_ns() < until) {
                sleep_ms(1);
                st = stats(be);
        }
        return st.sleeping == st.workers;
}

/* One job in `mode`: 0 held throughout (the caller runs every part), 1
 * released inside the caller's part, 2 free-running.  Checks its parts and
 * values; returns how many parts workers ran. */
static int run_job(swarm_backend_t *be, int mode, uint32_t salt,
                   const float *x, float *y) {
        job_t j;
        exec_cpu_par_stats_t before = stats(be), after;
        int worker_ran = 0, bad = 0;

        memset(&j, 0, sizeof(j));
        j.be = be;
        j.caller = pthread_self();
        j.lanes = be->threads;
        j.salt = salt;
        j.x = x;
        j.y = y;
        j.release = mode == 1;
        if (mode < 2)
                exec_cpu_par_hold(be, 1);
        for (int i = 0; i < N_ELEMS; i++)
                y[i] = -1.0f;
        exec_cpu_par_run(be, 1, part_fn, &j);
        after = stats(be);
        CHECK(j.bad_parts == 0, "mode %d: %d calls with wrong parts", mode,
              j.bad_parts);
        for (int p = 0; p < j.lanes; p++) {
                CHECK(j.count[p] == 1, "mode %d salt %u: part %d ran %d times",
                      mode, salt, p, j.count[p]);
                worker_ran += j.by_worker[p];
        }
        for (int p = 0; p < j.lanes; p++)
                for (int64_t i = (int64_t)N_ELEMS * p / j.lanes;
                     i < (int64_t)N_ELEMS * (p + 1) / j.lanes; i++)
                        if (y[i] != value(&j, i, p) && bad++ < 3)
                                CHECK(0, "mode %d: y[%lld] = %g, want %g",
                                      mode, (long long)i, (double)y[i],
                                      (double)value(&j, i, p));
        CHECK(after.worker_parts - before.worker_parts ==
                      (uint64_t)worker_ran,
              "mode %d: the pool counted %llu worker parts, the job saw %d",
              mode, (unsigned long long)(after.worker_parts -
                                         before.worker_parts), worker_ran);
        if (mode == 0)
                CHECK(worker_ran == 0, "held: a worker ran %d parts",
                      worker_ran);
        return worker_ran;
}

static void claiming(int threads, const float *x, float *y) {
        swarm_backend_t *be = NULL;
        swarm_err_t err = {0};
        exec_cpu_par_stats_t st0, st;
        int released_ran = 0, free_ran = 0, jobs = 0;

        REQUIRE_OK(swarm_backend_cpu_new(threads, &be, &err), err);
        REQUIRE(be->threads == threads && be->threads <= MAX_PARTS);
        /* The run hooks exist when the lanes fit the cores (4 lanes on
         * a 2-core machine: none; the jobs run the same). */
        CHECK(!be->run_begin == !be->run_end);
        CHECK(be->run_begin || threads > sysconf(_SC_NPROCESSORS_ONLN),
              "%d lanes on %ld cores without run hooks", threads,
              sysconf(_SC_NPROCESSORS_ONLN));
        CHECK(openblas_get_num_threads() == 1,
              "OpenBLAS runs %d threads beside our pool",
              openblas_get_num_threads());
        st0 = stats(be);
        CHECK(st0.workers == threads - 1);
        if (be->run_begin)
                be->run_begin(be);
        for (int round = 0; round < 400; round++) {
                /* Held jobs: the caller runs every part; then wait until
                 * every worker saw one and sits on the hold, so the next
                 * release makes each of them try a stale claim. */
                for (int k = 0; k < 3; k++, jobs++)
                        run_job(be, 0, (uint32_t)jobs, x, y);
                CHECK(wait_held(be, threads - 1), "%d lanes: workers never "
                      "reached the held job", threads);
                released_ran += run_job(be, 1, (uint32_t)jobs++, x, y) > 0;
                for (int k = 0; k < 3; k++, jobs++)
                        free_ran += run_job(be, 2, (uint32_t)jobs, x, y) > 0;
        }
        if (be->run_end)
                be->run_end(be);
        st = stats(be);
        /* Every worker sat on a stale (held) job when the release came,
         * so a worker that ran a part of a released job first made a
         * claim that found nothing. */
        CHECK(st.late - st0.late >= (uint64_t)released_ran, "%d lanes: "
              "%llu late claims, want >= %d", threads,
              (unsigned long long)(st.late - st0.late), released_ran);
        /* A released worker claims a part while the caller waits in its
         * own (200 ms allowed): all but a few rounds on a loaded machine. */
        CHECK(released_ran >= 300, "%d lanes: workers ran a part in only "
              "%d of 400 released jobs", threads, released_ran);
        CHECK(st.runs == 0);
        printf("%d lanes: %d jobs; workers ran parts in %d/400 released, "
               "%d/1200 free jobs; %llu late claims, %llu sleeps\n",
               threads, jobs, released_ran, free_ran,
               (unsigned long long)(st.late - st0.late),
               (unsigned long long)(st.sleeps - st0.sleeps));
        swarm_backend_destroy(be);
}

static void sleeping(const float *x, float *y) {
        swarm_backend_t *be = NULL;
        swarm_err_t err = {0};
        exec_cpu_par_stats_t st;
        int64_t cpu0;

        REQUIRE_OK(swarm_backend_cpu_new(2, &be, &err), err);
        if (!be->run_begin) {
                printf("one core: no run hooks, sleeping checks skipped\n");
                swarm_backend_destroy(be);
                return;
        }
        /* A run with jobs, then its end: the worker goes to sleep and
         * stays asleep, spending no CPU. */
        be->run_begin(be);
        for (int k = 0; k < 50; k++)
                run_job(be, 2, (uint32_t)k, x, y);
        be->run_end(be);
        CHECK(wait_asleep(be), "the worker still spins after the run");
        cpu0 = stats(be).worker_cpu_ns;
        sleep_ms(200);
        st = stats(be);
        CHECK(st.sleeping == 1, "the worker woke with nothing to do");
        CHECK(st.worker_cpu_ns - cpu0 < (int64_t)20 * 1000000,
              "an idle worker used %lld ms of CPU in 200 ms",
              (long long)((st.worker_cpu_ns - cpu0) / 1000000));
        /* Inside a run, a worker given no job sleeps after its bounded
         * spin instead of holding the core for the rest of the run. */
        be->run_begin(be);
        run_job(be, 2, 7, x, y);
        CHECK(wait_asleep(be), "the worker spins on in a run without jobs");
        CHECK(stats(be).runs == 1);
        be->run_end(be);
        CHECK(stats(be).runs == 0);
        swarm_backend_destroy(be);
}

/* swarm_model_run brackets its nodes with run_begin / run_end: the count
 * is back at 0 after each run, and the fashion MLP at 256 rows splits its
 * GEMMs across the pool on the way. */
static void model_runs(const char *dir) {
        swarm_backend_t *be = NULL;
        swarm_model_t *m = NULL;
        swarm_err_t err = {0};
        char path[4096];
        const swarm_model_io_t *in;
        float *x;
        const void *ins[1], *outs[1];
        int64_t elems = 1, rows = 256;
        exec_cpu_par_stats_t st0, st;
        int r;

        snprintf(path, sizeof(path), "%s/model.onnx", dir);
        REQUIRE_OK(swarm_backend_cpu_new(2, &be, &err), err);
        REQUIRE_OK(swarm_model_load_file(path, be, &m, &err), err);
        REQUIRE(swarm_model_n_inputs(m) == 1);
        in = swarm_model_input(m, 0);
        for (int d = 1; d < in->ndim; d++)
                elems *= in->shape[d];
        REQUIRE(elems > 0 && elems < 1 << 20);
        x = calloc((size_t)(elems * rows), sizeof(float));
        REQUIRE(x);
        for (int64_t i = 0; i < elems * rows; i++)
                x[i] = (float)(i % 251) / 251.0f;
        ins[0] = x;
        st0 = stats(be);
        /* at least 5 runs; more while the worker has not yet seen a job:
         * on a fast core under load (ctest -j) the caller can claim every
         * part of a run before the worker is scheduled, a few runs in a
         * row */
        for (r = 0; r < 5 || (r < 200 && stats(be).worker_parts ==
                                                  st0.worker_parts &&
                              stats(be).late == st0.late); r++) {
                CHECK_OK(swarm_model_run(m, rows, ins, outs, &err), err);
                CHECK(stats(be).runs == 0, "run %d left the pool in a run",
                      r);
        }
        st = stats(be);
        printf("fashion-mlp x%lld, %d runs: workers ran %llu parts, %llu "
               "late claims, %llu sleeps\n", (long long)rows, r,
               (unsigned long long)(st.worker_parts - st0.worker_parts),
               (unsigned long long)(st.late - st0.late),
               (unsigned long long)(st.sleeps - st0.sleeps));
        CHECK(st.worker_parts > st0.worker_parts ||
                      st.late > st0.late,
              "the worker never saw a job in %d runs", r);
        CHECK(wait_asleep(be), "the worker spins on after the model runs");
        free(x);
        swarm_model_destroy(m);
        swarm_backend_destroy(be);
}

int main(int argc, char **argv) {
        float *x = malloc(N_ELEMS * sizeof(float));
        float *y = malloc(N_ELEMS * sizeof(float));

        if (argc != 2) {
                fprintf(stderr, "usage: %s FASHION_MLP_DIR\n", argv[0]);
                return 2;
        }
        REQUIRE(x && y);
        for (int i = 0; i < N_ELEMS; i++)
                x[i] = (float)(i % 97) - 48.0f;
        {
                /* One lane: no pool, no run hooks, nothing to wake. */
                swarm_backend_t *be = NULL;
                swarm_err_t err = {0};
                exec_cpu_par_stats_t st;
                REQUIRE_OK(swarm_backend_cpu_new(1, &be, &err), err);
                CHECK(!be->run_begin && !be->run_end);
                CHECK(exec_cpu_par_stats(be, &st) == 0 && st.workers == 0);
                swarm_backend_destroy(be);
        }
        claiming(2, x, y);
        claiming(4, x, y);
        sleeping(x, y);
        model_runs(argv[1]);
        free(x);
        free(y);
        TEST_DONE();
}
