/*
 * test_client.h - the application client the Kafka tests send with: a conf
 * holding only the broker's address, and a client with the test's options.
 */
#ifndef SWARM_TESTS_TEST_CLIENT_H
#define SWARM_TESTS_TEST_CLIENT_H

#include <stdio.h>
#include <stdlib.h>

#include "swarm/client.h"
#include "swarm/conf.h"

/* The command line of an end-to-end test: SWARM_BOOTSTRAP set, `need`
 * arguments (argv[1..need]) and an optional REPEAT after them (default 20,
 * into *repeat).  The bootstrap, or NULL after printing the usage line
 * (`args` names the arguments): the test then exits 2. */
static inline const char *test_e2e_args(int argc, char **argv, int need, const char *args,
                                        int *repeat) {
        const char *bootstrap = getenv("SWARM_BOOTSTRAP");

        if (argc < need + 1 || !bootstrap) {
                fprintf(stderr, "usage: SWARM_BOOTSTRAP=... %s %s [REPEAT]\n", argv[0], args);
                return NULL;
        }
        *repeat = argc > need + 1 ? atoi(argv[need + 1]) : 20;
        return bootstrap;
}

/* *conf (caller destroys, also on error) and *cl for `bootstrap`.  `o`
 * NULL: requests -> results, the client's default window, 120 s per
 * request. */
static inline int test_client_new(const char *bootstrap, const swarm_log_t *log,
                                  const swarm_client_opts_t *o, swarm_conf_t **conf,
                                  swarm_client_t **cl, swarm_err_t *err) {
        static const swarm_client_opts_t def = {.request_topic = "requests",
                                                .result_topic = "results",
                                                .max_in_flight = SWARM_CLIENT_WINDOW,
                                                .request_timeout_ms = 120000};
        int r;

        if ((r = swarm_conf_new(conf, err)) ||
            (r = swarm_conf_add(*conf, SWARM_CONF_CLI, "bootstrap.servers", bootstrap, "test",
                                err)))
                return r;
        return swarm_client_new(*conf, log, o ? o : &def, cl, err);
}

#endif
