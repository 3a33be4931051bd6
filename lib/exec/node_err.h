/*
 * node_err.h - the loader's error naming the node it is about:
 * "node 'NAME' (OP): why".  onnx_load.c and onnx_ops.c both report through
 * it; static inline so that the one definition needs no exported symbol.
 */
#ifndef SWARM_EXEC_NODE_ERR_H
#define SWARM_EXEC_NODE_ERR_H

#include <stdarg.h>
#include <stdio.h>

#include "model_internal.h"
#include "swarm/err.h"

static inline int node_err(swarm_err_t *err, swarm_code_t code, const xnode_t *n,
                           const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static inline int node_err(swarm_err_t *err, swarm_code_t code, const xnode_t *n,
                           const char *fmt, ...) {
        char why[SWARM_ERR_MSG_SIZE];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        return swarm_err_set(err, code, "node '%s' (%s): %s", n->name,
                             n->op_type, why);
}

#endif
