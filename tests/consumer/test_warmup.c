/*
 * test_warmup.c - the joiner's warm-up (consumer/warmup.c) runs every
 * served model before the group join: the Fashion MLP (fixed dims) and the
 * shaped fixture (symbolic batch and sequence dims, int64 ids), 1 row and
 * then min(max rows, WARMUP_ROWS) rows each; a max of 1 row runs 1 row.
 * Usage: test_warmup FASHION.onnx SHAPED.onnx
 */
#include <stdio.h>

#include "check.h"
#include "models.h"
#include "swarm/backend.h"
#include "warmup.h"

int main(int argc, char **argv) {
        swarm_log_t log = {SWARM_LOG_WARN, "test_warmup", NULL};
        char f1[4096], f2[4096];
        const char *files[2] = {f1, f2};
        models_opts_t mo = {0};
        swarm_backend_t *be;
        models_t *mm = NULL;
        warmup_result_t res;
        swarm_err_t err;

        if (argc < 3)
                return 2;
        swarm_err_clear(&err);
        snprintf(f1, sizeof(f1), "fashion=%s", argv[1]);
        snprintf(f2, sizeof(f2), "shaped=%s", argv[2]);
        (void)swarm_backend_cpu_new(1, &be, &err);
        CHECK(be != NULL, "%s", err.msg);
        if (!be)
                TEST_DONE();
        mo.files = files;
        mo.n_files = 2;
        mo.backend = be;
        CHECK_OK(models_new(&mo, &log, &mm, &err), err);
        if (!mm)
                TEST_DONE();

        warmup_run(mm, 256, &log, &res);
        CHECK(res.models == 2 && res.failed == 0, "models=%d failed=%d", res.models,
              res.failed);
        CHECK(res.rows == 2 * (1 + WARMUP_ROWS), "rows=%lld", (long long)res.rows);
        CHECK(res.us > 0);

        /* a worker with --max-batch-rows 1 never runs more than 1 row */
        warmup_run(mm, 1, &log, &res);
        CHECK(res.models == 2 && res.failed == 0 && res.rows == 2, "rows=%lld",
              (long long)res.rows);

        /* every reference was released: the manager can be destroyed */
        models_destroy(mm);
        swarm_backend_destroy(be);
        TEST_DONE();
}
