/*
 * run_chunk.c - a large batch of a small-image model run in slices.
 *
 * Why: the executor runs node by node over the whole batch, so from some
 * batch size on every intermediate tensor leaves the cache between the
 * node that writes it and the one that reads it.  The fashion CNN's
 * first convolution writes 50 KiB per image: at batch 64 that is 3.2 MiB,
 * past this machine's 2 MiB of L2 per core, and per image the model ran
 * 1.1x (batch 64), 1.6x (256) and 1.8x (1024) its time at batch 16.  Run
 * in slices whose working set (work_row_bytes per row) fits
 * in CHUNK_CACHE_BYTES per lane, each tensor is read back from L2.
 *
 * Safe only because a plan with a symbolic batch keeps every row its own:
 * the loader refuses (or plans with the batch fixed) every node that
 * mixes rows (reductions, softmax or concatenation along the batch).  So
 * only such plans are sliced (fixed_rows < 0, no symbolic non-batch dims),
 * on host-memory backends (the outputs are copied into one buffer), and
 * only when a slice keeps at least CHUNK_MIN_ROWS rows, so that models
 * with large images (ResNet-18 and the like) or small batches run as
 * before.
 */
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

/* Working set per lane a slice may take: most of a 2 MiB L2. */
#define CHUNK_CACHE_BYTES ((size_t)1536 * 1024)
/* Rows a slice keeps at least (GEMM panels and the lanes' shares stay
 * as wide as at batch 16). */
#define CHUNK_MIN_ROWS 16

static size_t row_bytes(const xvalue_t *v) {
        return (size_t)swarm_shape_elems(v->shape, v->ndim) *
               swarm_dtype_size(v->dtype);
}

int64_t exec_chunk_rows(const swarm_model_t *m, int64_t rows) {
        size_t per;
        int64_t lanes, c, n;

        if (!m->be->host_mem || m->fixed_rows >= 0 || m->sh ||
            rows < 2 * CHUNK_MIN_ROWS)
                return rows;
        per = m->work_row_bytes;
        if (per == 0)
                return rows;
        lanes = m->be->threads > 1 ? m->be->threads : 1;
        c = (int64_t)(CHUNK_CACHE_BYTES / per) * lanes;
        if (c < CHUNK_MIN_ROWS || 2 * c > rows)
                return rows;
        /* Even slices: 64 rows by 15 is 5 slices of 13, not 4 x 15 + 4. */
        n = (rows + c - 1) / c;
        return (rows + n - 1) / n;
}

/* Buffers for the outputs of `rows` rows. */
static int out_buffers(swarm_model_t *m, int64_t rows, swarm_err_t *err) {
        if (!m->chunk_out) {
                m->chunk_out = calloc((size_t)m->n_out + 1, sizeof(void *));
                m->chunk_cap = calloc((size_t)m->n_out + 1, sizeof(size_t));
                if (!m->chunk_out || !m->chunk_cap) {
                        exec_chunk_free(m);
                        return swarm_err_set(err, SWARM_ERR_NOMEM,
                                             "run: out of memory");
                }
        }
        for (int i = 0; i < m->n_out; i++) {
                const xvalue_t *v = &m->vals[m->out_vals[i]];
                /* rows * bytes per row: bounded in swarm_model_run */
                size_t need = row_bytes(v) * (v->batched ? (size_t)rows : 1);
                void *p;
                if (need <= m->chunk_cap[i])
                        continue;
                p = realloc(m->chunk_out[i], need);
                if (!p)
                        return swarm_err_set(err, SWARM_ERR_NOMEM,
                                             "run: out of memory for %zu "
                                             "bytes of output %d", need, i);
                m->chunk_out[i] = p;
                m->chunk_cap[i] = need;
        }
        return SWARM_OK;
}

int exec_run_chunked(swarm_model_t *m, int64_t rows,
                     const void *const *inputs, const void **outputs,
                     swarm_err_t *err) {
        int64_t c = exec_chunk_rows(m, rows);
        const void **ins, **outs;
        int rc;

        if ((rc = out_buffers(m, rows, err)))
                return rc;
        ins = calloc((size_t)m->n_in + 1, sizeof(void *));
        outs = calloc((size_t)m->n_out + 1, sizeof(void *));
        if (!ins || !outs) {
                free(ins);
                free(outs);
                return swarm_err_set(err, SWARM_ERR_NOMEM,
                                     "run: out of memory");
        }
        for (int64_t r0 = 0; r0 < rows && !rc; r0 += c) {
                int64_t n = rows - r0 < c ? rows - r0 : c;
                for (int i = 0; i < m->n_in; i++) {
                        const xvalue_t *v = &m->vals[m->in_vals[i]];
                        ins[i] = (const char *)inputs[i] +
                                 (v->batched ? (size_t)r0 * row_bytes(v) : 0);
                }
                if ((rc = exec_run_rows(m, n, ins, outs, err)))
                        break;
                for (int i = 0; i < m->n_out; i++) {
                        const xvalue_t *v = &m->vals[m->out_vals[i]];
                        size_t rb = row_bytes(v);
                        if (!rb)
                                continue;
                        if (v->batched)
                                memcpy((char *)m->chunk_out[i] +
                                       (size_t)r0 * rb, outs[i],
                                       (size_t)n * rb);
                        else if (r0 + n >= rows)
                                memcpy(m->chunk_out[i], outs[i], rb);
                }
        }
        for (int i = 0; !rc && i < m->n_out; i++)
                outputs[i] = row_bytes(&m->vals[m->out_vals[i]])
                             ? m->chunk_out[i] : outs[i];
        free(ins);
        free(outs);
        return rc;
}

void exec_chunk_free(swarm_model_t *m) {
        for (int i = 0; m->chunk_out && i < m->n_out; i++)
                free(m->chunk_out[i]);
        free(m->chunk_out);
        free(m->chunk_cap);
        m->chunk_out = NULL;
        m->chunk_cap = NULL;
}
