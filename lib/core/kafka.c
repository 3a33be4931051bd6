#include "swarm/kafka.h"

#include <stdio.h>
#include <string.h>

static void log_cb(const rd_kafka_t *rk, int level, const char *fac,
                   const char *buf) {
        const swarm_kafka_opaque_t *op = rd_kafka_opaque(rk);
        swarm_level_t lvl = level <= 3   ? SWARM_LOG_ERROR
                            : level <= 5 ? SWARM_LOG_WARN
                            : level <= 6 ? SWARM_LOG_INFO
                                         : SWARM_LOG_DEBUG;
        if (!op || !op->log) {
                fprintf(stderr, "rdkafka %s: %s\n", fac, buf);
                return;
        }
        SWARM_LOG(op->log, lvl, "rdkafka fac=%s client=%s %s", fac,
                  rd_kafka_name(rk), buf);
}

typedef struct apply_ctx {
        rd_kafka_conf_t *kconf;
        swarm_err_t *err;
} apply_ctx_t;

static int apply(const char *key, const char *value, const char *origin,
                 void *opaque) {
        apply_ctx_t *a = opaque;
        char errstr[512];

        if (!strncmp(key, "swarm.", 6))
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
