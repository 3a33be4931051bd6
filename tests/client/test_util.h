/* Tiny assertion helpers shared by the client-area tests. */
#ifndef SWARM_TEST_CLIENT_UTIL_H
#define SWARM_TEST_CLIENT_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures;

#define CHECK(cond)                                                            \
        do {                                                                   \
                if (!(cond)) {                                                 \
                        fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, \
                                __LINE__, #cond);                              \
                        test_failures++;                                       \
                }                                                              \
        } while (0)

/* err must be set to `code` and its message must contain `needle`. */
#define CHECK_ERR(r, err, code_, needle)                                       \
        do {                                                                   \
                int r__ = (r);                                                 \
                if (r__ != (code_) || (err).code != (code_) ||                 \
                    !strstr((err).msg, (needle))) {                            \
                        fprintf(stderr,                                        \
                                "%s:%d: expected %s containing \"%s\", got "   \
                                "r=%d code=%s msg=\"%s\"\n",                   \
                                __FILE__, __LINE__, swarm_code_name(code_),    \
                                (needle), r__, swarm_code_name((err).code),    \
                                (err).msg);                                    \
                        test_failures++;                                       \
                }                                                              \
                swarm_err_clear(&(err));                                       \
        } while (0)

#define TEST_DONE()                                                            \
        do {                                                                   \
                if (test_failures) {                                           \
                        fprintf(stderr, "%d check(s) failed\n", test_failures); \
                        return 1;                                              \
                }                                                              \
                printf("ok\n");                                                \
                return 0;                                                      \
        } while (0)

#endif
