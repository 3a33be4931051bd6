/*
 * fault_util.h - what the fault tests (tests/fault/fault.c, cluster.c)
 * share: librdkafka handles that end the test on a bad setting, and a
 * produce that waits out a full queue (their clock is swarm_clock_s()).
 */
#ifndef SWARM_TESTS_FAULT_UTIL_H
#define SWARM_TESTS_FAULT_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "swarm/clock.h"

/* Seconds on the monotonic clock (timings must not jump with the wall clock). */

/* A librdkafka handle on `bootstrap` with the key/value pairs of `kv`
 * (NULL-terminated, may be NULL) and, unless NULL, that log_level; a bad
 * setting ends the test (exit 1): it is the test's own mistake. */
static inline rd_kafka_t *fault_kafka_new(rd_kafka_type_t type, const char *bootstrap,
                                          const char *log_level, const char *const *kv) {
        rd_kafka_conf_t *c = rd_kafka_conf_new();
        char es[512];
        rd_kafka_t *rk;

        rd_kafka_conf_set(c, "bootstrap.servers", bootstrap, NULL, 0);
        if (log_level)
                rd_kafka_conf_set(c, "log_level", log_level, NULL, 0);
        for (; kv && kv[0]; kv += 2)
                if (rd_kafka_conf_set(c, kv[0], kv[1], es, sizeof(es))) {
                        fprintf(stderr, "conf %s: %s\n", kv[0], es);
                        exit(1);
                }
        if (!(rk = rd_kafka_new(type, c, es, sizeof(es)))) {
                fprintf(stderr, "rd_kafka_new: %s\n", es);
                exit(1);
        }
        return rk;
}

/* Produce a copy of `val` keyed `key` to `topic`, polling while the local
 * queue is full; any other error ends the test (exit 1). */
static inline void fault_produce(rd_kafka_t *p, const char *topic, const char *key,
                                 const void *val, size_t len) {
        rd_kafka_resp_err_t e;
        while ((e = rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic),
                                      RD_KAFKA_V_KEY(key, strlen(key)),
                                      RD_KAFKA_V_VALUE((void *)val, len),
                                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                      RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(p, 10);
        if (e) {
                fprintf(stderr, "produce %s: %s\n", key, rd_kafka_err2str(e));
                exit(1);
        }
}

#endif
