/*
 * schemareg.h - a Confluent-compatible Schema Registry client for the wire
 * contract (libcurl + jansson).
 *
 * With a registry URL configured, a program registers our two schemas under
 * their subjects at start-up, frames records with the ids the registry
 * assigned and resolves a message framed with an id it does not know by
 * fetching that schema (GET /schemas/ids/{id}) and resolving it against ours
 * (swarm_codec_register_writer).  Without a URL nothing changes: the fixed
 * ids SWARM_SCHEMA_ID_REQUEST/RESPONSE (1/2) stay.
 *
 * Settings (conf keys; the Confluent spelling in brackets is accepted too and
 * loses against the swarm.* key when both are set):
 *   swarm.schema.registry.url                 [schema.registry.url]
 *   swarm.schema.registry.basic.auth.user.info USER:PASSWORD
 *                                             [basic.auth.user.info]
 *   swarm.schema.registry.subject.name.strategy topic (default) | record |
 *       topic_record, or Confluent's class names   [value.subject.name.strategy]
 *         topic:        <topic>-value
 *         record:       io.swarm.v1.InferenceRequest
 *         topic_record: <topic>-io.swarm.v1.InferenceRequest
 *   swarm.schema.registry.auto.register true (default) | false: false only
 *       looks the schemas up (POST /subjects/{s}), as a read-only account must
 *                                             [auto.register.schemas]
 *   swarm.schema.registry.timeout.ms          one HTTP request (default 5000)
 *
 * Ids are cached for the process's life: after start-up the registry is only
 * asked about unknown writer ids, so an outage then stops nothing that was
 * already known.  A failed fetch is remembered for
 * SWARM_SCHEMAREG_RETRY_MS, so a burst of messages with an id the registry
 * cannot give costs one request, not one each (those messages fail to decode
 * with SWARM_ERR_NOT_FOUND, as an unknown id always did).
 *
 * Threads: create and register on one thread; swarm_schemareg_fetch() may be
 * called from any number of threads at once.
 */
#ifndef SWARM_SCHEMAREG_H
#define SWARM_SCHEMAREG_H

#include <stdint.h>

#include "swarm/codec.h"
#include "swarm/conf.h"
#include "swarm/err.h"
#include "swarm/log.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SWARM_SCHEMAREG_RETRY_MS 10000

typedef struct swarm_schemareg swarm_schemareg_t;

typedef enum swarm_subject_strategy {
        SWARM_SUBJECT_TOPIC = 0,
        SWARM_SUBJECT_RECORD,
        SWARM_SUBJECT_TOPIC_RECORD,
} swarm_subject_strategy_t;

/* 1 when `key` is one of the settings above (either spelling): the shared
 * command line accepts them and they are not handed to librdkafka. */
int swarm_schemareg_known_key(const char *key);

/* Read the settings from `conf`.  *out is NULL (and SWARM_OK returned) when no
 * URL is configured; a malformed setting is SWARM_ERR_CONFIG.  log (may be
 * NULL) is borrowed and must outlive the client.  Contacts nothing. */
int swarm_schemareg_new(const swarm_conf_t *conf, const swarm_log_t *log,
                        swarm_schemareg_t **out, swarm_err_t *err);
void swarm_schemareg_destroy(swarm_schemareg_t *sr);

/* The subject for a schema with record full name `record` on `topic`
 * (under the configured strategy) into buf.  SWARM_ERR_INVALID when it does
 * not fit. */
int swarm_schemareg_subject(const swarm_schemareg_t *sr, const char *topic,
                            const char *record, char *buf, size_t size,
                            swarm_err_t *err);

/* Register (or, with auto.register=false, look up) `schema_json` under the
 * subject for `topic` and set *id to the registry's id.  Cached: the same
 * subject and schema ask the registry once.  Errors: SWARM_ERR_IO (registry
 * unreachable, retriable set), SWARM_ERR_CONFIG (401/403: credentials),
 * SWARM_ERR_INVALID (409: incompatible with the subject's earlier versions;
 * 422: schema refused; 404 on look-up: not registered), SWARM_ERR_PARSE (a
 * reply that is not the API's JSON). */
int swarm_schemareg_register(swarm_schemareg_t *sr, const char *topic,
                             const char *schema_json, int32_t *id,
                             swarm_err_t *err);

/* Fetch the schema text of `id` (caller frees *schema_json with free()).
 * SWARM_ERR_NOT_FOUND: the registry has no such id, or it failed within the
 * last SWARM_SCHEMAREG_RETRY_MS; SWARM_ERR_UNSUPPORTED: not an Avro schema;
 * SWARM_ERR_IO: unreachable.  Thread-safe. */
int swarm_schemareg_fetch(swarm_schemareg_t *sr, int32_t id,
                          char **schema_json, swarm_err_t *err);

/* Everything a program needs, in one call after swarm_codec_new() and before
 * the codec is shared: when `conf` names a registry, register our request
 * schema for `request_topic` and, when result_topic is not NULL, the
 * response schema for it; give the codec those ids
 * (swarm_codec_set_ids) and make the registry its resolver of unknown ids.
 * The codec owns the registry client from then on.  Without a URL: nothing
 * (SWARM_OK).  Errors as swarm_schemareg_new() and _register(), prefixed
 * with "schema registry URL: ". */
int swarm_schemareg_setup(const swarm_conf_t *conf, const swarm_log_t *log,
                          swarm_codec_t *codec, const char *request_topic,
                          const char *result_topic, swarm_err_t *err);

#ifdef __cplusplus
}
#endif
#endif
