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

static int mismatch(const models_ref_t *ref, const swarm_request_t *req,
                    swarm_err_t *err) {
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
        return swarm_err_set(err, SWARM_ERR_INVALID,
                             "inputs do not match model %s version %d: expected %s; got %s",
                             ref->name, (int)ref->version, ref->sig,
                             req->n_inputs ? got : "no inputs");
}

int match_request(const models_ref_t *ref, const swarm_request_t *req,
                  int *in_map, int64_t *rows_out, swarm_err_t *err) {
        const swarm_model_t *m = ref->m;
        int nin = swarm_model_n_inputs(m);
        int64_t rows = -1;

        if (req->n_inputs != nin)
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
                for (int d = 1; d < io->ndim; d++)
                        if (t->shape[d] != io->shape[d])
                                return mismatch(ref, req, err);
                if (rows >= 0 && t->shape[0] != rows)
                        return mismatch(ref, req, err);
                rows = t->shape[0];
                in_map[i] = idx;
        }
        /* a model exported with a fixed batch size runs exactly that many
         * rows: such requests must carry them, and each runs alone */
        if (swarm_model_fixed_rows(m) > 0 && rows != swarm_model_fixed_rows(m))
                return mismatch(ref, req, err);
        *rows_out = rows;
        return SWARM_OK;
}
