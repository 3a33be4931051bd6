/*
 * kafka.h - librdkafka handles built from a swarm_conf_t.
 *
 * Every key of the conf that does not start with "swarm." goes to librdkafka
 * verbatim; a key librdkafka rejects is an error that cites where the key came
 * from (file:line, -X, environment).  librdkafka's own log lines are routed
 * through our logger so all output has one shape.
 */
#ifndef SWARM_KAFKA_H
#define SWARM_KAFKA_H

#include <librdkafka/rdkafka.h>

#include "swarm/conf.h"
#include "swarm/err.h"
#include "swarm/log.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The opaque of every handle made here starts with this header, so the log
 * callback can find the logger.  Programs embed it as the first member of
 * their own context struct and pass that struct as `opaque`. */
typedef struct swarm_kafka_opaque {
        const swarm_log_t *log;
} swarm_kafka_opaque_t;

/* Build an rd_kafka_conf_t: `overrides` (NULL-terminated key, value pairs;
 * program defaults such as linger.ms) first, then every non-swarm.* key of
 * `c`, which therefore win.  Installs the log callback and sets `opaque`.
 * Caller owns *out (rd_kafka_conf_destroy, or hand it to rd_kafka_new). */
int swarm_kafka_conf(const swarm_conf_t *c, const char *const *overrides,
                     swarm_kafka_opaque_t *opaque, rd_kafka_conf_t **out,
                     swarm_err_t *err);

/* rd_kafka_new() with a conf from swarm_kafka_conf(); takes ownership of
 * `kconf` on success and on failure. */
int swarm_kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *kconf,
                    rd_kafka_t **out, swarm_err_t *err);

/* 1 when `e` says the broker refused this principal (an ACL: topic, group,
 * cluster or transactional id authorization failed).  Retrying cannot help
 * until an operator changes the ACLs, so programs stop with a clear error
 * instead of idling in the group (docs/kafka.md, "Security"). */
int swarm_kafka_err_is_denied(rd_kafka_resp_err_t e);

#ifdef __cplusplus
}
#endif
#endif
