/*
 * tensor_decode.c - ONNX TensorProto -> host buffer (tensor_decode.h).
 */
#include "tensor_decode.h"

#include <stdlib.h>
#include <string.h>

#include "onnx.pb-c.h"
#include "swarm/model.h"

int exec_onnx_dtype(int32_t t, swarm_dtype_t *dt) {
        switch (t) {
        case ONNX_FLOAT: *dt = SWARM_DTYPE_FLOAT32; return 0;
        case ONNX_UINT8: *dt = SWARM_DTYPE_UINT8; return 0;
        case ONNX_INT32: *dt = SWARM_DTYPE_INT32; return 0;
        case ONNX_INT64: *dt = SWARM_DTYPE_INT64; return 0;
        case ONNX_FLOAT16: *dt = SWARM_DTYPE_FLOAT16; return 0;
        case ONNX_BFLOAT16: *dt = SWARM_DTYPE_BFLOAT16; return 0;
        case ONNX_INT8: *dt = SWARM_DTYPE_INT8; return 0;
        case ONNX_BOOL: *dt = SWARM_DTYPE_BOOL; return 0;
        case ONNX_DOUBLE: *dt = SWARM_DTYPE_FLOAT64; return 0;
        default: return -1;
        }
}

/* Decode one TensorProto into a malloc'ed host buffer.  Sizes are checked
 * against the data actually present before allocating, so a small file
 * can never make us allocate a huge buffer. */
static int tensor_decode(const Onnx__TensorProto *t, swarm_dtype_t *dt,
                         int *ndim, int64_t *shape, void **data,
                         size_t *bytes, swarm_err_t *err) {
        const char *nm = t->name ? t->name : "";
        int64_t elems;
        size_t esz, nb;
        size_t n_typed;
        void *p = NULL;

        *data = NULL;
        if ((t->has_data_location &&
             t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) ||
            t->n_external_data > 0)
                return swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                     "tensor '%s': external data is not "
                                     "supported; embed the weights in the "
                                     "model file", nm);
        if (t->segment)
                return swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                     "tensor '%s': segmented tensors are not "
                                     "supported", nm);
        if (!t->has_data_type || exec_onnx_dtype(t->data_type, dt))
                return swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                     "tensor '%s': data type %d is not "
                                     "supported", nm, (int)t->data_type);
        if (t->n_dims > SWARM_MAX_DIMS)
                return swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                     "tensor '%s': %zu dimensions (at most "
                                     "%d)", nm, t->n_dims, SWARM_MAX_DIMS);
        *ndim = (int)t->n_dims;
        for (size_t i = 0; i < t->n_dims; i++)
                shape[i] = t->dims[i];
        elems = swarm_shape_elems(shape, *ndim);
        if (elems < 0)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "tensor '%s': bad dimensions", nm);
        esz = swarm_dtype_size(*dt);
        nb = (size_t)elems * esz;
        if (t->has_raw_data) {
                if (t->raw_data.len < nb)
                        return swarm_err_set(err, SWARM_ERR_TRUNCATED,
                                             "tensor '%s': raw_data has %zu "
                                             "bytes, shape needs %zu", nm,
                                             t->raw_data.len, nb);
                if (t->raw_data.len > nb)
                        return swarm_err_set(err, SWARM_ERR_INVALID,
                                             "tensor '%s': raw_data has %zu "
                                             "bytes, shape needs %zu", nm,
                                             t->raw_data.len, nb);
                p = malloc(nb ? nb : 1);
                if (!p)
                        goto nomem;
                /* raw_data is little-endian, as is every host we build on. */
                if (nb)
                        memcpy(p, t->raw_data.data, nb);
                goto done;
        }
        switch (*dt) {
        case SWARM_DTYPE_FLOAT32: n_typed = t->n_float_data; break;
        case SWARM_DTYPE_INT64: n_typed = t->n_int64_data; break;
        case SWARM_DTYPE_FLOAT64: n_typed = t->n_double_data; break;
        default: n_typed = t->n_int32_data; break;
        }
        if (n_typed != (size_t)elems)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "tensor '%s': has %zu values, shape "
                                     "needs %lld", nm, n_typed,
                                     (long long)elems);
        p = malloc(nb ? nb : 1);
        if (!p)
                goto nomem;
        for (int64_t i = 0; i < elems; i++) {
                switch (*dt) {
                case SWARM_DTYPE_FLOAT32:
                        ((float *)p)[i] = t->float_data[i];
                        break;
                case SWARM_DTYPE_INT64:
                        ((int64_t *)p)[i] = t->int64_data[i];
                        break;
                case SWARM_DTYPE_FLOAT64:
                        ((double *)p)[i] = t->double_data[i];
                        break;
                case SWARM_DTYPE_INT32:
                        ((int32_t *)p)[i] = t->int32_data[i];
                        break;
                case SWARM_DTYPE_UINT8:
                case SWARM_DTYPE_INT8:
                        ((uint8_t *)p)[i] = (uint8_t)t->int32_data[i];
                        break;
                case SWARM_DTYPE_BOOL:
                        ((uint8_t *)p)[i] = t->int32_data[i] != 0;
                        break;
                default: /* 16-bit floats travel as their bit patterns */
                        ((uint16_t *)p)[i] = (uint16_t)t->int32_data[i];
                        break;
                }
        }
done:
        *data = p;
        *bytes = nb;
        return SWARM_OK;
nomem:
        return swarm_err_set(err, SWARM_ERR_NOMEM,
                             "tensor '%s': out of memory (%zu bytes)", nm, nb);
}

int exec_tensor_decode(const Onnx__TensorProto *t, swarm_dtype_t *dt,
                       int *ndim, int64_t *shape, void **data, size_t *bytes,
                       swarm_err_t *err) {
        int rc = tensor_decode(t, dt, ndim, shape, data, bytes, err);
        int64_t e;
        int64_t *w;
        /* The loader computes on INT64 only (shape chains, indices). */
        if (rc || *dt != SWARM_DTYPE_INT32)
                return rc;
        e = swarm_shape_elems(shape, *ndim);
        w = malloc((size_t)(e > 0 ? e : 1) * sizeof(int64_t));
        if (!w) {
                free(*data);
                *data = NULL;
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        }
        for (int64_t i = 0; i < e; i++)
                w[i] = ((int32_t *)*data)[i];
        free(*data);
        *data = w;
        *bytes = (size_t)e * sizeof(int64_t);
        *dt = SWARM_DTYPE_INT64;
        return SWARM_OK;
}

int swarm_model_tensor_decode(const void *buf, size_t len, swarm_tensor_t *t,
                              swarm_err_t *err) {
        Onnx__TensorProto *tp;
        void *data = NULL;
        size_t bytes = 0;
        int rc;

        memset(t, 0, sizeof(*t));
        if (!buf && len)
                return swarm_err_set(err, SWARM_ERR_INVALID, "no buffer");
        tp = onnx__tensor_proto__unpack(NULL, len, buf);
        if (!tp)
                return swarm_err_set(err, SWARM_ERR_PARSE,
                                     "not a valid ONNX TensorProto");
        rc = tensor_decode(tp, &t->dtype, &t->ndim, t->shape, &data, &bytes,
                           err);
        onnx__tensor_proto__free_unpacked(tp, NULL);
        if (rc)
                return rc;
        t->data = data;
        t->size = bytes;
        return SWARM_OK;
}
