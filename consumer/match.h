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
 * model also takes its one tensor by position): same dtype, rank and
 * non-leading dimensions, one row count >= 1 across inputs, and exactly the
 * fixed batch size of a model exported with one.  On success fills
 * in_map[model input] = request tensor and *rows.  Errors:
 * SWARM_ERR_INVALID with the expected signature and what was sent, the text
 * an INVALID_REQUEST answer carries. */
int match_request(const models_ref_t *ref, const swarm_request_t *req,
                  int *in_map, int64_t *rows, swarm_err_t *err);

#endif
