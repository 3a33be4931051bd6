/*
 * test_gemm_job.h - running a cpu_gemm.c job in the kernels' tests
 * (test_gemm.c, test_conv_direct.c): its parts one after the other on one
 * thread, so the split itself is what is tested (real threads are covered
 * through the backend's lanes).
 */
#ifndef SWARM_TESTS_EXEC_TEST_GEMM_JOB_H
#define SWARM_TESTS_EXEC_TEST_GEMM_JOB_H

#include <stdlib.h>

#include "cpu_gemm.h"

#include "check.h"

/* Run job j on `parts` parts (one when the plan uses fewer than two), each
 * with its own workspace. */
static inline void test_gemm_run_job(cpu_gemm_job_t *j, int parts) {
        int64_t per = cpu_gemm_ws_floats(j);
        int used = cpu_gemm_plan_parts(j, parts);

        j->ws_part = per;
        j->ws = per ? aligned_alloc(64, (size_t)per * sizeof(float) *
                                        (size_t)parts) : NULL;
        REQUIRE(!per || j->ws);
        if (used < 2)
                parts = 1;
        for (int p = 0; p < parts; p++)
                cpu_gemm_part(j, p, parts);
        free(j->ws);
        j->ws = NULL;
}

#endif
