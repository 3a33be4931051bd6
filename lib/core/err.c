#include "swarm/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void swarm_err_clear(swarm_err_t *err) {
        if (!err)
                return;
        err->code = SWARM_OK;
        err->retriable = 0;
        err->fatal = 0;
        err->msg[0] = '\0';
}

int swarm_err_set(swarm_err_t *err, swarm_code_t code, const char *fmt, ...) {
        va_list ap;

        if (!err || err->code != SWARM_OK)
                return code;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        return code;
}

int swarm_err_set_flags(swarm_err_t *err, swarm_code_t code, int flags,
                        const char *fmt, ...) {
        va_list ap;

        if (!err || err->code != SWARM_OK)
                return code;
        err->code = code;
        err->retriable = (flags & SWARM_ERR_F_RETRIABLE) != 0;
        err->fatal = (flags & SWARM_ERR_F_FATAL) != 0;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        return code;
}

void swarm_err_prefix(swarm_err_t *err, const char *fmt, ...) {
        char tmp[SWARM_ERR_MSG_SIZE];
        size_t n;
        va_list ap;

        if (!err || err->code == SWARM_OK)
                return;
        va_start(ap, fmt);
        vsnprintf(tmp, sizeof(tmp), fmt, ap);
        va_end(ap);
        n = strlen(tmp);
        /* append the old message after the prefix, truncating at the end */
        memcpy(tmp + n, err->msg, sizeof(tmp) - n - 1);
        tmp[sizeof(tmp) - 1] = '\0';
        memcpy(err->msg, tmp, sizeof(err->msg));
}

const char *swarm_code_name(swarm_code_t code) {
        static const char *names[SWARM_ERR__COUNT] = {
                [SWARM_OK] = "ok",
                [SWARM_ERR_INVALID] = "invalid",
                [SWARM_ERR_NOMEM] = "out of memory",
                [SWARM_ERR_IO] = "io",
                [SWARM_ERR_PARSE] = "parse",
                [SWARM_ERR_TRUNCATED] = "truncated",
                [SWARM_ERR_UNSUPPORTED] = "unsupported",
                [SWARM_ERR_NOT_FOUND] = "not found",
                [SWARM_ERR_KAFKA] = "kafka",
                [SWARM_ERR_BACKEND] = "backend",
                [SWARM_ERR_TIMEOUT] = "timeout",
                [SWARM_ERR_STATE] = "state",
                [SWARM_ERR_CONFIG] = "config",
        };
        if ((unsigned)code >= SWARM_ERR__COUNT)
                return "unknown";
        return names[code];
}
