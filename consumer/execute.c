/*
 * execute.c - gather, run, split on out-of-memory (see execute.h).
 */
#include "execute.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarm/clock.h"
#include "swarm/model.h"

struct execute {
        const swarm_log_t *log;
        swarm_metric_t *m_batch_rows, *m_compute;
        void *gather[SWARM_MAX_INPUTS];
        size_t gather_cap[SWARM_MAX_INPUTS];
        /* the batch being run: input i's shape (its first request's; every
         * request of a batch has the same non-batch dims) and row bytes */
        int64_t in_shape[SWARM_MAX_INPUTS][SWARM_MAX_DIMS];
        size_t in_row_bytes[SWARM_MAX_INPUTS];
};

int execute_new(swarm_metrics_t *metrics, const swarm_log_t *log,
                execute_t **out, swarm_err_t *err) {
        static const char *const by_model[] = {"model", NULL};
        static const double rows_buckets[] = {1, 2, 4, 8, 16, 32, 64, 128,
                                              256, 512, 1024, 4096};
        execute_t *x = calloc(1, sizeof(*x));
        int r;

        if (!x)
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        x->log = log;
        if ((r = swarm_metrics_histogram(metrics, "swarm_worker_batch_rows",
                                         "Rows per executed micro-batch", by_model,
                                         rows_buckets,
                                         sizeof(rows_buckets) / sizeof(rows_buckets[0]),
                                         &x->m_batch_rows, err)) ||
            (r = swarm_metrics_histogram(metrics, "swarm_worker_compute_seconds",
                                         "Model execution time per batch", by_model,
                                         swarm_metrics_latency_buckets,
                                         swarm_metrics_latency_bucket_count,
                                         &x->m_compute, err))) {
                free(x);
                return r;
        }
        *out = x;
        return SWARM_OK;
}

void execute_destroy(execute_t *x) {
        if (!x)
                return;
        for (int i = 0; i < SWARM_MAX_INPUTS; i++)
                free(x->gather[i]);
        free(x);
}

static int ensure_gather(execute_t *x, int i, size_t bytes, swarm_err_t *err) {
        void *p;
        if (x->gather_cap[i] >= bytes)
                return SWARM_OK;
        p = realloc(x->gather[i], bytes);
        if (!p)
                return swarm_err_set(err, SWARM_ERR_NOMEM,
                                     "cannot allocate %zu bytes for a batch", bytes);
        x->gather[i] = p;
        x->gather_cap[i] = bytes;
        return SWARM_OK;
}

/* Keep output i's resolved shape and row bytes from a run of `rows` rows
 * and allocate its copy for the whole batch, or check that a later run of
 * part of the batch (an out-of-memory split) agrees with the first. */
static int take_output_shape(batch_t *b, int i, const swarm_model_io_t *io,
                             const int64_t *shape, int64_t rows, swarm_err_t *err) {
        size_t rb, bytes;

        if (io->ndim < 1 || shape[0] != rows)
                return swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                     "output %s does not follow the batch (%d dims, "
                                     "leading %" PRId64 " for %" PRId64 " rows): it cannot "
                                     "be split per request", io->name, io->ndim,
                                     io->ndim ? shape[0] : 0, rows);
        if (swarm_shape_bytes(shape + 1, io->ndim - 1, io->dtype, SIZE_MAX, &rb) ||
            __builtin_mul_overflow(rb, (size_t)b->rows, &bytes))
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "output %s: a batch of %" PRId64 " rows is too large",
                                     io->name, b->rows);
        if (b->out[i]) {
                if (rb != b->out_row_bytes[i] ||
                    memcmp(shape + 1, b->out_shape[i] + 1,
                           sizeof(int64_t) * (size_t)(io->ndim - 1)))
                        return swarm_err_set(err, SWARM_ERR_BACKEND,
                                             "output %s changed shape between parts "
                                             "of one batch", io->name);
                return SWARM_OK;
        }
        if (!(b->out[i] = malloc(bytes ? bytes : 1)))
                return swarm_err_set(err, SWARM_ERR_NOMEM,
                                     "cannot allocate %zu bytes of outputs", bytes);
        memset(b->out_shape[i], 0, sizeof(b->out_shape[i]));
        memcpy(b->out_shape[i], shape, sizeof(int64_t) * (size_t)io->ndim);
        b->out_shape[i][0] = b->rows;
        b->out_row_bytes[i] = rb;
        return SWARM_OK;
}

/* Run rows [row0, row0 + rows) of the gathered batch with their shapes
 * (swarm_model_run_shaped: symbolic dims resolve from the batch's shape)
 * and copy the outputs into b->out at that offset, halving on a retriable
 * out-of-memory. */
static int run_rows(execute_t *x, batch_t *b, int64_t row0, int64_t rows,
                    swarm_err_t *err) {
        swarm_model_t *m = b->model->m;
        int nin = swarm_model_n_inputs(m), nout = swarm_model_n_outputs(m);
        const void *in[SWARM_MAX_INPUTS], *outp[SWARM_MAX_INPUTS];
        int64_t in_shapes[SWARM_MAX_INPUTS][SWARM_MAX_DIMS];
        int64_t out_shapes[SWARM_MAX_INPUTS][SWARM_MAX_DIMS];
        int r;

        for (int i = 0; i < nin; i++) {
                in[i] = (const char *)x->gather[i] + (size_t)row0 * x->in_row_bytes[i];
                memcpy(in_shapes[i], x->in_shape[i], sizeof(in_shapes[i]));
                in_shapes[i][0] = rows;
        }
        memset(out_shapes, 0, sizeof(out_shapes));
        r = swarm_model_run_shaped(m, rows, (const int64_t(*)[SWARM_MAX_DIMS])in_shapes,
                                   in, out_shapes, outp, err);
        if (r == SWARM_ERR_NOMEM && err->retriable && rows > 1 &&
            swarm_model_fixed_rows(m) < 0) {
                int64_t half = rows / 2;
                SWARM_WARN(x->log, "out of memory for %" PRId64 " rows of model=%s; "
                                   "splitting the batch",
                           rows, b->model->name);
                swarm_err_clear(err);
                if ((r = run_rows(x, b, row0, half, err)))
                        return r;
                return run_rows(x, b, row0 + half, rows - half, err);
        }
        if (r)
                return r;
        for (int i = 0; i < nout; i++) {
                const swarm_model_io_t *io = swarm_model_output(m, i);
                if ((r = take_output_shape(b, i, io, out_shapes[i], rows, err)))
                        return r;
                memcpy((char *)b->out[i] + (size_t)row0 * b->out_row_bytes[i], outp[i],
                       (size_t)rows * b->out_row_bytes[i]);
        }
        return SWARM_OK;
}

/* The batch was refused as invalid (SWARM_ERR_INVALID: the executor found
 * bad input, e.g. an embedding id out of range) while nothing says which
 * request carried it.  Bisect over the jobs [lo, hi) (rows from row0): a
 * half that runs is answered normally, a single job that fails alone is
 * answered INVALID_REQUEST with the executor's message.  Returns non-zero
 * only for a failure other than invalid input (then the batch fails). */
static int bisect_invalid(execute_t *x, batch_t *b, job_t **jobs, int lo, int hi,
                          int64_t row0, int *n_bad, swarm_err_t *err) {
        int64_t rows = 0;
        int r;

        for (int i = lo; i < hi; i++)
                rows += jobs[i]->it.rows;
        swarm_err_clear(err);
        r = run_rows(x, b, row0, rows, err);
        if (r != SWARM_ERR_INVALID)
                return r;
        if (hi - lo == 1) {
                job_t *j = jobs[lo];
                j->rows_failed = 1;
                j->status = SWARM_STATUS_INVALID_REQUEST;
                snprintf(j->error, sizeof(j->error), "%s", err->msg);
                (*n_bad)++;
                swarm_err_clear(err);
                return SWARM_OK;
        }
        {
                int mid = lo + (hi - lo) / 2;
                int64_t mid_row = row0;
                for (int i = lo; i < mid; i++)
                        mid_row += jobs[i]->it.rows;
                if ((r = bisect_invalid(x, b, jobs, lo, mid, row0, n_bad, err)))
                        return r;
                return bisect_invalid(x, b, jobs, mid, hi, mid_row, n_bad, err);
        }
}

static int retry_invalid(execute_t *x, batch_t *b, swarm_err_t *err) {
        job_t *stack[64], **jobs = stack;
        int n = 0, n_bad = 0, r;
        char first[256];

        for (job_t *j = b->jobs; j; j = job_next(j))
                n++;
        if (n < 2)
                return SWARM_ERR_INVALID;       /* the one request is the culprit */
        if (n > 64 && !(jobs = malloc((size_t)n * sizeof(*jobs))))
                return SWARM_ERR_INVALID;
        n = 0;
        for (job_t *j = b->jobs; j; j = job_next(j))
                jobs[n++] = j;
        snprintf(first, sizeof(first), "%s", err->msg);
        r = bisect_invalid(x, b, jobs, 0, n, 0, &n_bad, err);
        if (!r)
                SWARM_WARN(x->log, "batch of %d requests refused as invalid (%s): "
                           "%d request(s) answered INVALID_REQUEST, the rest served "
                           "model=%s", n, first, n_bad, b->model->name);
        if (jobs != stack)
                free(jobs);
        return r;
}

/* Gather input i of every request into one contiguous buffer: the one copy
 * of the tensor bytes batching needs.  Row bytes come from the requests'
 * actual shapes (a symbolic sequence length has no row size of its own);
 * the batcher put only requests of one shape here, checked again since a
 * wrong size would overrun the buffer. */
static int gather_input(execute_t *x, batch_t *b, int i, swarm_err_t *err) {
        const swarm_tensor_t *t0 = &b->jobs->req.inputs[b->jobs->in_map[i]];
        size_t rb = t0->size / (size_t)t0->shape[0], total, off = 0;
        int r;

        if (__builtin_mul_overflow(rb, (size_t)b->rows, &total))
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "a batch of %" PRId64 " rows is too large", b->rows);
        if ((r = ensure_gather(x, i, total ? total : 1, err)))
                return r;
        memcpy(x->in_shape[i], t0->shape, sizeof(x->in_shape[i]));
        x->in_row_bytes[i] = rb;
        for (job_t *j = b->jobs; j; j = job_next(j)) {
                const swarm_tensor_t *t = &j->req.inputs[j->in_map[i]];
                if (t->ndim != t0->ndim ||
                    memcmp(t->shape + 1, t0->shape + 1,
                           sizeof(int64_t) * (size_t)(t0->ndim > 1 ? t0->ndim - 1 : 0)) ||
                    t->size > total - off || t->size != (size_t)j->it.rows * rb)
                        return swarm_err_set(err, SWARM_ERR_STATE,
                                             "input %.*s: the batch mixes shapes",
                                             (int)t0->name.len, t0->name.ptr);
                memcpy((char *)x->gather[i] + off, t->data, t->size);
                off += t->size;
        }
        return SWARM_OK;
}

/* "[16]" or "[16,32]": the batch key's resolved dims, for the debug log. */
static void format_dims(const batcher_item_t *it, char *buf, size_t size) {
        size_t n = (size_t)snprintf(buf, size, "[");
        for (int d = 0; d < it->n_dims && n < size; d++)
                n += (size_t)snprintf(buf + n, size - n, "%s%" PRId64, d ? "," : "",
                                      it->dims[d]);
        if (n < size)
                snprintf(buf + n, size - n, "]");
}

int execute_batch(execute_t *x, batch_t *b, swarm_err_t *err) {
        const swarm_model_t *m = b->model->m;
        int nin = swarm_model_n_inputs(m), nout = swarm_model_n_outputs(m);
        const char *lv[] = {b->model->name, NULL};
        int64_t t0;
        int r;

        for (int i = 0; i < nin; i++)
                if ((r = gather_input(x, b, i, err)))
                        goto fail;
        /* Outputs are copied out of the model's buffers (allocated once the
         * first run gave their shapes) so the next batch can run while this
         * one is encoded. */
        b->n_out = nout;
        t0 = swarm_clock_us();
        b->start_us = t0;
        r = run_rows(x, b, 0, b->rows, err);
        if (r == SWARM_ERR_INVALID)
                r = retry_invalid(x, b, err);
        if (r == SWARM_ERR_INVALID && b->jobs && !job_next(b->jobs)) {
                /* a batch of one: that request is the invalid one */
                b->jobs->rows_failed = 1;
                b->jobs->status = SWARM_STATUS_INVALID_REQUEST;
                snprintf(b->jobs->error, sizeof(b->jobs->error), "%s", err->msg);
                swarm_err_clear(err);
                r = SWARM_OK;
        }
        if (r)
                goto fail;
        b->compute_us = swarm_clock_us() - t0;
        swarm_metrics_observe(swarm_metrics_with(x->m_batch_rows, lv), (double)b->rows);
        swarm_metrics_observe(swarm_metrics_with(x->m_compute, lv),
                              (double)b->compute_us / 1e6);
        if (x->log && x->log->level >= SWARM_LOG_DEBUG) {
                char dims[128];
                format_dims(&b->jobs->it, dims, sizeof(dims));
                SWARM_DEBUG(x->log, "batch model=%s version=%d rows=%" PRId64
                                    " dims=%s compute_us=%" PRId64,
                            b->model->name, (int)b->model->version, b->rows, dims,
                            b->compute_us);
        }
        return SWARM_OK;
fail:
        b->status = SWARM_STATUS_INTERNAL_ERROR;
        snprintf(b->error, sizeof(b->error), "batch of %" PRId64 " rows failed: %s",
                 b->rows, err->msg);
        return r;
}

void execute_totals(const execute_t *x, int64_t *batches, int64_t *rows) {
        *batches = (int64_t)swarm_metrics_sum(x->m_batch_rows, NULL, NULL, 1);
        *rows = (int64_t)swarm_metrics_sum(x->m_batch_rows, NULL, NULL, 0);
}
