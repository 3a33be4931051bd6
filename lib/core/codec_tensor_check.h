/*
 * codec_tensor_check.h - private to lib/core/codec*.c: the tensor checks the
 * fast path (codec.c), the Avro C path (codec_avro.c) and the encoder share;
 * a file of its own so neither codec file depends on the other.
 */
#ifndef SWARM_CODEC_TENSOR_CHECK_H
#define SWARM_CODEC_TENSOR_CHECK_H

#include "swarm/err.h"
#include "swarm/tensor.h"

/* Semantic checks shared by every decode path and the encoder: dtype,
 * ndim <= SWARM_MAX_DIMS, dims >= 0, elements * dtype size == size.  The
 * message names the field ("shape", "data", ...) for the caller to prefix. */
int swarm_codec__tensor_check(const swarm_tensor_t *t, swarm_err_t *err);

#endif
