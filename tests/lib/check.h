/*
 * check.h - the one assertion helper of the C tests.
 *
 * CHECK(cond) or CHECK(cond, "fmt", args...) counts a failure and reports
 * file:line, the condition and the optional message (the first
 * CHECK_MAX_REPORTS of them: a broken pipeline fails thousands of rows); the
 * test goes on so one run shows every kind of failure.  CHECK_OK(rc, err) reports a swarm_err_t.
 * CHECK_ERR(rc, err, code, needle) expects an error with that code whose
 * message contains needle, then clears err.  TEST_DONE() ends main: exit 1
 * when any check failed, else prints "ok" and exits 0.
 *
 * REQUIRE(cond) and REQUIRE_OK(rc, err) are for what the rest of a test
 * cannot go on without (a pointer it will use, a decoded message it will
 * compare): they report the same way and exit 1 at once.
 */
#ifndef SWARM_TESTS_CHECK_H
#define SWARM_TESTS_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarm/err.h"

static int test_failures __attribute__((unused)); /* a file may only REQUIRE */

#define CHECK_MAX_REPORTS 20

/* The message is optional: it is pasted after " " so CHECK(c) and
 * CHECK(c, "fmt", ...) both compile without format warnings. */
#define CHECK(cond, ...)                                                       \
        do {                                                                   \
                if (!(cond) && test_failures++ < CHECK_MAX_REPORTS) {          \
                        fprintf(stderr, "%s:%d: CHECK failed: %s:",            \
                                __FILE__, __LINE__, #cond);                    \
                        fprintf(stderr, " " __VA_ARGS__);                      \
                        fputc('\n', stderr);                                   \
                }                                                              \
        } while (0)

#define CHECK_OK(rc, err)                                                      \
        do {                                                                   \
                int rc__ = (rc);                                               \
                if (rc__) {                                                    \
                        test_failures++;                                       \
                        fprintf(stderr, "%s:%d: %s returned %s: %s\n",         \
                                __FILE__, __LINE__, #rc,                       \
                                swarm_code_name((swarm_code_t)rc__),           \
                                (err).msg);                                    \
                }                                                              \
        } while (0)

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

#define REQUIRE(cond)                                                          \
        do {                                                                   \
                if (!(cond)) {                                                 \
                        fprintf(stderr, "%s:%d: REQUIRE failed: %s\n",         \
                                __FILE__, __LINE__, #cond);                    \
                        exit(1);                                               \
                }                                                              \
        } while (0)

#define REQUIRE_OK(rc, err)                                                    \
        do {                                                                   \
                int rc__ = (rc);                                               \
                if (rc__) {                                                    \
                        fprintf(stderr, "%s:%d: %s returned %s: %s\n",         \
                                __FILE__, __LINE__, #rc,                       \
                                swarm_code_name((swarm_code_t)rc__),           \
                                (err).msg);                                    \
                        exit(1);                                               \
                }                                                              \
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
