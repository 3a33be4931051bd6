/*
 * match.h - does a decoded request fit the model version it resolved to?
 */
#ifndef SWARM_CONSUMER_MATCH_H
#define SWARM_CONSUMER_MATCH_H

#include <stddef.h>
#include <stdint.h>

#include "models.h"
#include "swarm/codec.h"
#include "swarm/err.h"

/* Match the request's tensors to the model's inputs by name (a single-input
 * model also takes its one tensor by position): same dtype (any of them:
 * INT64 ids, BOOL masks, FLOAT16 ...), rank and fixed non-leading
 * dimensions, one row count >= 1 across inputs, and exactly the fixed batch
 * size of a model exported with one.  A symbolic non-batch dim (sequence
 * length, H, W) takes the request's value if swarm_model_check_shapes()
 * accepts it (>= 1, in range, equal across inputs sharing its name).  On
 * success fills
 * in_map[model input] = request tensor and *rows.  Errors:
 * SWARM_ERR_INVALID with the expected signature and what was sent, the text
 * an INVALID_REQUEST answer carries. */
int match_request(const models_ref_t *ref, const swarm_request_t *req,
                  int *in_map, int64_t *rows, swarm_err_t *err);

/* The request's batching (SWARM_META_BATCH in its metadata): *alone = 1 for
 * "alone", 0 for "merge" or no such key.  Any other value, or the key twice,
 * is SWARM_ERR_INVALID with the text an INVALID_REQUEST answer carries. */
int match_batch_mode(const swarm_request_t *req, int *alone, swarm_err_t *err);

/* Room match_batch_dims() needs. */
#define MATCH_MAX_DIMS (SWARM_MAX_INPUTS * (SWARM_MAX_DIMS - 1))

/* The values of the model's symbolic non-batch dims in a matched request,
 * input by input, into dims[0..MATCH_MAX_DIMS): requests batch together
 * only when these agree (batcher_item_t.dims).  Returns how many (0 for a
 * model without symbolic dims). */
int match_batch_dims(const models_ref_t *ref, const swarm_request_t *req,
                     const int *in_map, int64_t *dims);

#endif
