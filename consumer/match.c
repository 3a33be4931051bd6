/*
 * match.c - request tensors against a model signature (see match.h).
 */
#include "match.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "swarm/model.h"

/* Room for the description of what a request sent. */
#define GOT_SIZE 160

static void describe_tensor(const swarm_tensor_t *t, char *buf, size_t size) {
        size_t n = (size_t)snprintf(buf, size, "%.*s:%s[", (int)t->name.len,
                                    t->name.ptr, swarm_dtype_name(t->dtype));
        for (int d = 0; d < t->ndim && n < size; d++)
                n += (size_t)snprintf(buf + n, size - n, "%s%" PRId64,
                                      d ? "," : "", t->shape[d]);
        if (n < size)
                snprintf(buf + n, size - n, "]");
}

/* INVALID_REQUEST text: the expected signature (or the executor's reason,
 * which names it) and what was sent. */
static int mismatch_why(const models_ref_t *ref, const swarm_request_t *req,
                        const char *why, swarm_err_t *err) {
        char got[GOT_SIZE];

        got[0] = '\0';
        for (int k = 0; k < req->n_inputs; k++) {
                size_t n = strlen(got);
                if (n + 4 >= sizeof(got))
                        break;
                if (k)
                        strcat(got, ", ");
                n = strlen(got);
                describe_tensor(&req->inputs[k], got + n, sizeof(got) - n);
        }
        if (why)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "inputs do not match model %s version %d: %s; got %s",
                                     ref->name, (int)ref->version, why,
                                     req->n_inputs ? got : "no inputs");
        return swarm_err_set(err, SWARM_ERR_INVALID,
                             "inputs do not match model %s version %d: expected %s; got %s",
                             ref->name, (int)ref->version, ref->sig,
                             req->n_inputs ? got : "no inputs");
}

static int mismatch(const models_ref_t *ref, const swarm_request_t *req,
                    swarm_err_t *err) {
        return mismatch_why(ref, req, NULL, err);
}

int match_request(const models_ref_t *ref, const swarm_request_t *req,
                  int *in_map, int64_t *rows_out, swarm_err_t *err) {
        const swarm_model_t *m = ref->m;
        int nin = swarm_model_n_inputs(m);
        int64_t rows = -1;
        int64_t shapes[SWARM_MAX_INPUTS][SWARM_MAX_DIMS];

        if (req->n_inputs != nin || nin > SWARM_MAX_INPUTS)
                return mismatch(ref, req, err);
        for (int i = 0; i < nin; i++) {
                const swarm_model_io_t *io = swarm_model_input(m, i);
                const swarm_tensor_t *t;
                int idx = -1;
                for (int k = 0; k < req->n_inputs; k++)
                        if (req->inputs[k].name.len == strlen(io->name) &&
                            !memcmp(req->inputs[k].name.ptr, io->name,
                                    req->inputs[k].name.len))
                                idx = k;
                /* a single-input model accepts its one tensor by position */
                if (idx < 0 && nin == 1)
                        idx = 0;
                if (idx < 0)
                        return mismatch(ref, req, err);
                t = &req->inputs[idx];
                if (t->dtype != io->dtype || t->ndim != io->ndim || t->shape[0] < 1)
                        return mismatch(ref, req, err);
                /* a symbolic dim (sequence length, H, W) takes any value
                 * here; swarm_model_check_shapes() below checks those */
                for (int d = 1; d < io->ndim; d++)
                        if (!(io->sym & (1u << d)) && t->shape[d] != io->shape[d])
                                return mismatch(ref, req, err);
                memcpy(shapes[i], t->shape, sizeof(shapes[i]));
                if (rows >= 0 && t->shape[0] != rows)
                        return mismatch(ref, req, err);
                rows = t->shape[0];
                in_map[i] = idx;
        }
        /* a model exported with a fixed batch size runs exactly that many
         * rows: such requests must carry them, and each runs alone */
        if (swarm_model_fixed_rows(m) > 0 && rows != swarm_model_fixed_rows(m))
                return mismatch(ref, req, err);
        /* symbolic dims: >= 1, within range, and the same value where
         * inputs share a dim name (ids and mask of one sequence length) */
        if (swarm_model_is_shaped(m)) {
                swarm_err_t e;
                swarm_err_clear(&e);
                if (swarm_model_check_shapes(m, (const int64_t(*)[SWARM_MAX_DIMS])shapes, &e))
                        return mismatch_why(ref, req, e.msg, err);
        }
        *rows_out = rows;
        return SWARM_OK;
}

/* Whether a borrowed string is exactly the NUL-terminated `lit`. */
static int str_is(swarm_str_t s, const char *lit) {
        size_t n = strlen(lit);
        return s.len == n && !memcmp(s.ptr, lit, n);
}

int match_batch_mode(const swarm_request_t *req, int *alone, swarm_err_t *err) {
        swarm_str_t k, v;
        size_t pos = 0;
        int64_t idx;
        int seen = 0;

        *alone = 0;
        while (swarm_request_metadata_next(req, &pos, &idx, &k, &v)) {
                if (!str_is(k, SWARM_META_BATCH))
                        continue;
                if (seen++)
                        return swarm_err_set(err, SWARM_ERR_INVALID,
                                             "metadata \"" SWARM_META_BATCH
                                             "\" given twice");
                if (str_is(v, SWARM_META_BATCH_ALONE))
                        *alone = 1;
                else if (!str_is(v, SWARM_META_BATCH_MERGE))
                        return swarm_err_set(err, SWARM_ERR_INVALID,
                                             "metadata \"" SWARM_META_BATCH
                                             "\" is \"%.*s\": want \""
                                             SWARM_META_BATCH_ALONE "\" or \""
                                             SWARM_META_BATCH_MERGE "\"",
                                             (int)(v.len > 64 ? 64 : v.len), v.ptr);
        }
        return SWARM_OK;
}

int match_batch_dims(const models_ref_t *ref, const swarm_request_t *req,
                     const int *in_map, int64_t *dims) {
        const swarm_model_t *m = ref->m;
        int n = 0;

        for (int i = 0; i < swarm_model_n_inputs(m) && i < SWARM_MAX_INPUTS; i++) {
                const swarm_model_io_t *io = swarm_model_input(m, i);
                const swarm_tensor_t *t = &req->inputs[in_map[i]];
                for (int d = 1; d < io->ndim && d < SWARM_MAX_DIMS; d++)
                        if (io->sym & (1u << d))
                                dims[n++] = t->shape[d];
        }
        return n;
}
