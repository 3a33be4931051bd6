/*
 * test_client.h - the application client the Kafka tests send with: a conf
 * holding only the broker's address, and a client with the test's options.
 */
#ifndef SWARM_TESTS_TEST_CLIENT_H
#define SWARM_TESTS_TEST_CLIENT_H

#include "swarm/client.h"
#include "swarm/conf.h"

/* *conf (caller destroys, also on error) and *cl for `bootstrap`.  `o`
 * NULL: requests -> results, 1024 in flight, 120 s per request. */
static inline int test_client_new(const char *bootstrap, const swarm_log_t *log,
                                  const swarm_client_opts_t *o, swarm_conf_t **conf,
                                  swarm_client_t **cl, swarm_err_t *err) {
        static const swarm_client_opts_t def = {.request_topic = "requests",
                                                .result_topic = "results",
                                                .max_in_flight = 1024,
                                                .request_timeout_ms = 120000};
        int r;

        if ((r = swarm_conf_new(conf, err)) ||
            (r = swarm_conf_add(*conf, SWARM_CONF_CLI, "bootstrap.servers", bootstrap, "test",
                                err)))
                return r;
        return swarm_client_new(*conf, log, o ? o : &def, cl, err);
}

#endif
