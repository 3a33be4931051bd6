/*
 * ref_case.h - reference cases of the model e2e tests (test_shaped,
 * test_family_e2e): DIR/CASE/input_I.npy and DIR/CASE/output_O.npy written
 * by onnxruntime, and the check of one response output against the rows of
 * the reference it answers.
 */
#ifndef SWARM_TESTS_REF_CASE_H
#define SWARM_TESTS_REF_CASE_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "swarm/arrayio.h"
#include "swarm/codec.h"

/* Load case `name`: n_in inputs into in[], n_out reference outputs into
 * want[], and lim[o] = rel_tol x max|want[o]| for each float32 output.
 * What was loaded is the caller's to destroy, also on error. */
static inline int ref_case_load(const char *dir, const char *name, int n_in, int n_out,
                                double rel_tol, swarm_array_t **in, swarm_array_t **want,
                                double *lim, swarm_err_t *err) {
        char path[4096];

        for (int i = 0; i < n_in; i++) {
                snprintf(path, sizeof(path), "%s/%s/input_%d.npy", dir, name, i);
                if (swarm_array_load(path, NULL, &in[i], err))
                        return -1;
        }
        for (int o = 0; o < n_out; o++) {
                snprintf(path, sizeof(path), "%s/%s/output_%d.npy", dir, name, o);
                if (swarm_array_load(path, NULL, &want[o], err))
                        return -1;
                lim[o] = 0;
                if (want[o]->dtype == SWARM_DTYPE_FLOAT32) {
                        double m = 0;
                        for (size_t e = 0; e < want[o]->size / 4; e++) {
                                float v;
                                memcpy(&v, (const char *)want[o]->data + 4 * e, 4);
                                m = fabs(v) > m ? fabs(v) : m;
                        }
                        lim[o] = rel_tol * m;
                }
        }
        return 0;
}

/* CHECK output `t` of request `rid`: named `name`, the dtype and shape of
 * reference `w`'s rows r0 .. r0+rows-1, float32 values within `lim` of them
 * (*worst: the largest |diff| / lim seen), other dtypes exactly equal. */
static inline void ref_case_check(const char *rid, const char *name, const swarm_array_t *w,
                                  double lim, int64_t r0, int64_t rows, const swarm_tensor_t *t,
                                  double *worst) {
        size_t rb = swarm_array_row_bytes(w);
        const char *want = (const char *)w->data + (size_t)r0 * rb;
        int shape_ok = t->dtype == w->dtype && t->ndim == w->ndim && t->shape[0] == rows &&
                       t->size == rb * (size_t)rows;

        for (int d = 1; shape_ok && d < w->ndim; d++)
                shape_ok = t->shape[d] == w->shape[d];
        CHECK(t->name.len == strlen(name) && !memcmp(t->name.ptr, name, t->name.len),
              "%s: output is '%.*s', want '%s'", rid, (int)t->name.len, t->name.ptr, name);
        CHECK(shape_ok, "%s: output %s: %s, %d dims [%lld,%lld,...], %zu bytes; want %s, "
              "%d dims, %zu bytes", rid, name, swarm_dtype_name(t->dtype), t->ndim,
              (long long)t->shape[0], (long long)(t->ndim > 1 ? t->shape[1] : 0), t->size,
              swarm_dtype_name(w->dtype), w->ndim, rb * (size_t)rows);
        if (!shape_ok)
                return;
        if (w->dtype == SWARM_DTYPE_FLOAT32) {
                int bad = 0;
                for (size_t i = 0; i < t->size / 4; i++) {
                        float g, x;
                        double d;
                        memcpy(&g, (const char *)t->data + 4 * i, 4); /* unaligned */
                        memcpy(&x, want + 4 * i, 4);
                        d = fabs((double)g - x);
                        if (lim > 0 && d / lim > *worst)
                                *worst = d / lim;
                        if (!(d <= lim) && bad++ < 3)
                                CHECK(0, "%s: %s[%zu] = %.9g, reference %.9g", rid, name, i, g,
                                      x);
                }
        } else {
                /* integer ids, BOOL masks: exact */
                CHECK(!memcmp(t->data, want, t->size),
                      "%s: %s: values differ from the reference", rid, name);
        }
}

#endif
