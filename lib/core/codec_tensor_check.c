/*
 * codec_tensor_check.c - the semantic checks of a decoded or to-be-encoded
 * tensor (codec_tensor_check.h).
 */
#include "codec_tensor_check.h"

#include <stdio.h>

static void fmt_shape(char *buf, size_t size, const int64_t *shape, int ndim) {
        size_t n = 0;

        n += (size_t)snprintf(buf, size, "[");
        for (int i = 0; i < ndim && n < size; i++)
                n += (size_t)snprintf(buf + n, size - n, "%s%lld",
                                      i ? "," : "", (long long)shape[i]);
        if (n < size)
                snprintf(buf + n, size - n, "]");
}

int swarm_codec__tensor_check(const swarm_tensor_t *t, swarm_err_t *err) {
        size_t dsize = swarm_dtype_size(t->dtype);
        int64_t elems;
        char shape[160];

        if (dsize == 0)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "dtype: invalid value %d", (int)t->dtype);
        if (t->ndim < 0 || t->ndim > SWARM_MAX_DIMS)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "shape: %d dimensions, at most %d",
                                     t->ndim, SWARM_MAX_DIMS);
        for (int i = 0; i < t->ndim; i++)
                if (t->shape[i] < 0)
                        return swarm_err_set(err, SWARM_ERR_INVALID,
                                             "shape[%d]: negative dimension "
                                             "%lld", i,
                                             (long long)t->shape[i]);
        elems = swarm_shape_elems(t->shape, t->ndim);
        /* the shape text is formatted only on the error paths: snprintf
         * would cost more than the whole decode */
        if (elems < 0 || (uint64_t)elems * dsize != (uint64_t)t->size)
                fmt_shape(shape, sizeof(shape), t->shape, t->ndim);
        if (elems < 0)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "shape: %s of tensor '%.*s' has too "
                                     "many elements", shape,
                                     (int)(t->name.len > 64 ? 64 : t->name.len),
                                     t->name.ptr ? t->name.ptr : "");
        /* elems <= INT64_MAX / 16, so the product cannot overflow */
        if ((uint64_t)elems * dsize != (uint64_t)t->size)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "data: %zu bytes but tensor '%.*s' is "
                                     "%s %s (%llu bytes)", t->size,
                                     (int)(t->name.len > 64 ? 64 : t->name.len),
                                     t->name.ptr ? t->name.ptr : "",
                                     swarm_dtype_name(t->dtype), shape,
                                     (unsigned long long)elems * dsize);
        if (t->size && !t->data)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "data: NULL with %zu bytes", t->size);
        return SWARM_OK;
}
