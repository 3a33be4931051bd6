#include "swarm/kafka.h"
#include "swarm/schemareg.h"

#include <stdio.h>
#include <string.h>

/* librdkafka's syslog levels on ours.  One conf feeds a program's producer
 * and consumer, so librdkafka warns that each handle ignores the other's
 * properties (-g on a producer, linger.ms on a consumer): expected, so
 * DEBUG. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac,
                   const char *buf) {
        const swarm_kafka_opaque_t *op = rd_kafka_opaque(rk);
        swarm_level_t lvl = level <= 3   ? SWARM_LOG_ERROR
                            : level <= 5 ? SWARM_LOG_WARN
                            : level <= 6 ? SWARM_LOG_INFO
                                         : SWARM_LOG_DEBUG;
        if (!strcmp(fac, "CONFWARN") && strstr(buf, "will be ignored by this"))
                lvl = SWARM_LOG_DEBUG;
        if (!op || !op->log) {
                fprintf(stderr, "rdkafka %s: %s\n", fac, buf);
                return;
        }
        SWARM_LOG(op->log, lvl, "rdkafka fac=%s client=%s %s", fac,
                  rd_kafka_name(rk), buf);
}

/* Without an error callback librdkafka logs every error event a second time
 * (the FAIL log line already said it).  Transport errors are transient and
 * retried by librdkafka, so they go to debug; fatal ones stay loud. */
static void error_cb(rd_kafka_t *rk, int code, const char *reason,
                     void *opaque) {
        const swarm_kafka_opaque_t *op = opaque;
        const swarm_log_t *lg = op ? op->log : NULL;
        rd_kafka_resp_err_t e = (rd_kafka_resp_err_t)code;

        if (e == RD_KAFKA_RESP_ERR__FATAL) {
                char buf[512];
                rd_kafka_fatal_error(rk, buf, sizeof(buf));
                SWARM_ERROR(lg, "kafka fatal error client=%s: %s", rd_kafka_name(rk), buf);
        } else if (e == RD_KAFKA_RESP_ERR__AUTHENTICATION || e == RD_KAFKA_RESP_ERR__SSL ||
                   e == RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED) {
                /* a wrong password, user or CA: librdkafka retries, but it
                 * never heals by itself; the reason names no secret */
                SWARM_ERROR(lg, "kafka client=%s error=%s: %s", rd_kafka_name(rk),
                            rd_kafka_err2name(e), reason);
        } else if (e == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
                SWARM_WARN(lg, "kafka client=%s: %s", rd_kafka_name(rk), reason);
        } else {
                SWARM_DEBUG(lg, "kafka client=%s error=%s: %s", rd_kafka_name(rk),
                            rd_kafka_err2name(e), reason);
        }
}

typedef struct apply_ctx {
        rd_kafka_conf_t *kconf;
        swarm_err_t *err;
} apply_ctx_t;

static int apply(const char *key, const char *value, const char *origin,
                 void *opaque) {
        apply_ctx_t *a = opaque;
        char errstr[512];

        if (!strncmp(key, "swarm.", 6) || swarm_schemareg_known_key(key))
                return 0;
        if (rd_kafka_conf_set(a->kconf, key, value, errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK)
                return swarm_err_set(a->err, SWARM_ERR_CONFIG, "%s: %s", origin,
                                     errstr);
        return 0;
}

int swarm_kafka_conf(const swarm_conf_t *c, const char *const *overrides,
                     swarm_kafka_opaque_t *opaque, rd_kafka_conf_t **out,
                     swarm_err_t *err) {
        rd_kafka_conf_t *kconf = rd_kafka_conf_new();
        char errstr[512];
        apply_ctx_t a = {kconf, err};

        for (int i = 0; overrides && overrides[i]; i += 2) {
                if (rd_kafka_conf_set(kconf, overrides[i], overrides[i + 1],
                                      errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
                        rd_kafka_conf_destroy(kconf);
                        return swarm_err_set(err, SWARM_ERR_CONFIG,
                                             "built-in setting %s: %s",
                                             overrides[i], errstr);
                }
        }
        if (c && swarm_conf_each(c, apply, &a)) {
                rd_kafka_conf_destroy(kconf);
                return err ? err->code : SWARM_ERR_CONFIG;
        }
        rd_kafka_conf_set_log_cb(kconf, log_cb);
        rd_kafka_conf_set_error_cb(kconf, error_cb);
        rd_kafka_conf_set_opaque(kconf, opaque);
        *out = kconf;
        return SWARM_OK;
}

int swarm_kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *kconf,
                    rd_kafka_t **out, swarm_err_t *err) {
        char errstr[512];
        rd_kafka_t *rk = rd_kafka_new(type, kconf, errstr, sizeof(errstr));
        if (!rk) {
                rd_kafka_conf_destroy(kconf);
                return swarm_err_set(err, SWARM_ERR_KAFKA,
                                     "creating Kafka %s: %s",
                                     type == RD_KAFKA_PRODUCER ? "producer"
                                                               : "consumer",
                                     errstr);
        }
        *out = rk;
        return SWARM_OK;
}

int swarm_kafka_err_is_denied(rd_kafka_resp_err_t e) {
        return e == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
               e == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED ||
               e == RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED ||
               e == RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
}
