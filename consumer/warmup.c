/*
 * warmup.c - one zero-input run per model before the group join (warmup.h).
 */
#include "warmup.h"

#include <inttypes.h>
#include <stdlib.h>

#include "swarm/clock.h"
#include "swarm/model.h"
#include "swarm/tensor.h"

/* Shapes of a warm-up run of `rows` rows: a symbolic batch takes `rows`, a
 * fixed one keeps its size, every other symbolic dim is 1. */
static int warm_shapes(const swarm_model_t *m, int64_t rows,
                       int64_t (*shapes)[SWARM_MAX_DIMS], void **bufs,
                       swarm_err_t *err) {
        int n = swarm_model_n_inputs(m);

        for (int i = 0; i < n; i++) {
                const swarm_model_io_t *io = swarm_model_input(m, i);
                size_t bytes;

                for (int d = 0; d < io->ndim; d++)
                        shapes[i][d] = io->shape[d] >= 0 ? io->shape[d] : 1;
                if (io->ndim > 0 && io->shape[0] < 0)
                        shapes[i][0] = rows;
                if (swarm_shape_bytes(shapes[i], io->ndim, io->dtype,
                                      WARMUP_MAX_INPUT_BYTES, &bytes))
                        return swarm_err_set(err, SWARM_ERR_INVALID,
                                             "input %s of a warm-up run is over %zu bytes",
                                             io->name, WARMUP_MAX_INPUT_BYTES);
                /* at least one byte, so a zero-size input still has a buffer */
                if (!(bufs[i] = calloc(1, bytes ? bytes : 1)))
                        return swarm_err_set(err, SWARM_ERR_NOMEM,
                                             "out of memory for a warm-up input");
        }
        return SWARM_OK;
}

static int warm_one(swarm_model_t *m, int64_t rows, swarm_err_t *err) {
        int n = swarm_model_n_inputs(m), no = swarm_model_n_outputs(m), r;
        int64_t (*shapes)[SWARM_MAX_DIMS] = calloc((size_t)n + 1, sizeof(*shapes));
        void **bufs = calloc((size_t)n + 1, sizeof(*bufs));
        const void **outs = calloc((size_t)no + 1, sizeof(*outs));

        if (!shapes || !bufs || !outs)
                r = swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory for a warm-up run");
        else if (!(r = warm_shapes(m, rows, shapes, bufs, err)))
                r = swarm_model_run_shaped(m, rows, (const int64_t(*)[SWARM_MAX_DIMS])shapes,
                                           (const void *const *)bufs, NULL, outs, err);
        for (int i = 0; bufs && i < n; i++)
                free(bufs[i]);
        free(shapes);
        free(bufs);
        free(outs);
        return r;
}

void warmup_run(models_t *mm, int64_t max_rows, const swarm_log_t *log,
                warmup_result_t *res) {
        models_ref_t *refs[WARMUP_MAX_MODELS];
        int64_t t0 = swarm_clock_us();
        int n = models_refs(mm, refs, WARMUP_MAX_MODELS);
        int64_t big = max_rows < WARMUP_ROWS ? max_rows : WARMUP_ROWS;

        res->models = n;
        res->failed = 0;
        res->rows = 0;
        for (int i = 0; i < n; i++) {
                swarm_model_t *m = refs[i]->m;
                int64_t fixed = swarm_model_fixed_rows(m);
                int64_t t1 = swarm_clock_us();
                swarm_err_t err;

                swarm_err_clear(&err);
                /* a fixed batch runs its own size once; else 1 row, then a
                 * fuller batch (the buffers most batches need) */
                int64_t first = fixed > 0 ? fixed : 1, second = fixed < 0 && big > 1 ? big : 0;

                if (warm_one(m, first, &err) || (second && warm_one(m, second, &err))) {
                        res->failed++;
                        SWARM_WARN(log, "warm-up of model=%s version=%d failed "
                                   "(served cold): %s", refs[i]->name,
                                   (int)refs[i]->version, err.msg);
                } else {
                        res->rows += first + second;
                        SWARM_DEBUG(log, "warm-up model=%s version=%d us=%" PRId64,
                                    refs[i]->name, (int)refs[i]->version,
                                    swarm_clock_us() - t1);
                }
                models_release(mm, refs[i]);
        }
        res->us = swarm_clock_us() - t0;
        SWARM_INFO(log, "warm-up done models=%d failed=%d us=%" PRId64, res->models,
                   res->failed, res->us);
}
