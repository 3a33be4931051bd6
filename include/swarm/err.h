/*
 * err.h - the one error convention of libswarm.
 *
 * Fallible functions return an int code (SWARM_OK == 0 on success) and take
 * `swarm_err_t *err` as their last argument.  The struct lives on the caller's
 * stack so the error path never allocates.  The first message set is kept;
 * callers on the way up add context with swarm_err_prefix().  Log once, where
 * the decision (retry, skip, dead-letter, exit) is made.
 */
#ifndef SWARM_ERR_H
#define SWARM_ERR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum swarm_code {
        SWARM_OK = 0,
        SWARM_ERR_INVALID,      /* bad argument or malformed input */
        SWARM_ERR_NOMEM,        /* allocation failed */
        SWARM_ERR_IO,           /* file or socket I/O */
        SWARM_ERR_PARSE,        /* syntactically malformed data */
        SWARM_ERR_TRUNCATED,    /* data ends before a declared length */
        SWARM_ERR_UNSUPPORTED,  /* valid but not supported (operator, dtype) */
        SWARM_ERR_NOT_FOUND,    /* unknown model, schema id, key */
        SWARM_ERR_KAFKA,        /* librdkafka reported an error */
        SWARM_ERR_BACKEND,      /* BLAS / CUDA failure */
        SWARM_ERR_TIMEOUT,      /* deadline passed */
        SWARM_ERR_STATE,        /* call not valid in the current state */
        SWARM_ERR_CONFIG,       /* bad configuration */
        SWARM_ERR__COUNT
} swarm_code_t;

#define SWARM_ERR_MSG_SIZE 512

typedef struct swarm_err {
        swarm_code_t code;
        int retriable;          /* the same call may succeed later */
        int fatal;              /* the process should stop */
        char msg[SWARM_ERR_MSG_SIZE];
} swarm_err_t;

/* Reset to SWARM_OK with an empty message. NULL is accepted. */
void swarm_err_clear(swarm_err_t *err);

/* Set the error if none is set yet (the first message wins).  Returns `code`
 * so callers can write `return swarm_err_set(err, ...)`.  err may be NULL. */
int swarm_err_set(swarm_err_t *err, swarm_code_t code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Flags for swarm_err_set_flags(). */
#define SWARM_ERR_F_RETRIABLE 0x1
#define SWARM_ERR_F_FATAL     0x2

/* swarm_err_set() that also marks the error retriable and/or fatal, but only
 * when this error is the one kept: the first message wins, and so do its
 * flags, so a later error never relabels an earlier one.  Returns `code`. */
int swarm_err_set_flags(swarm_err_t *err, swarm_code_t code, int flags,
                        const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* Prepend context ("loading model x: ") to an already set message. */
void swarm_err_prefix(swarm_err_t *err, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* Static name of a code ("invalid", "truncated", ...). */
const char *swarm_code_name(swarm_code_t code);

#ifdef __cplusplus
}
#endif
#endif
