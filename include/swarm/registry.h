/*
 * registry.h - the model registry on PostgreSQL (libpq).
 *
 * Models have versions (artifact in the database as bytea, or referenced by
 * a file:// URI, with its sha256, size, format, input/output signatures,
 * metadata and tags), aliases ("production", "staging", any name) pointing
 * at versions, and deployment settings (topics, batching, device, scaling).
 * Every alias move and setting change is appended to registry.history, which
 * makes rollback one call.  Alias and deployment changes send
 * NOTIFY swarm_registry '{"model": NAME, "kind": "alias"|"deployment", ...}'
 * (database triggers, at commit), which workers LISTEN for.
 *
 * Every statement that carries user data is sent with PQexecParams; no SQL
 * is ever built from names, versions or metadata.
 *
 * Listing functions return JSON text built by PostgreSQL (json_agg), which
 * swarm-registry prints as-is with --json or as a table.
 *
 * Threads: a swarm_registry_t is one libpq connection and is used by one
 * thread at a time; different handles may be used on different threads.
 */
#ifndef SWARM_REGISTRY_H
#define SWARM_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "swarm/err.h"
#include "swarm/log.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SWARM_REGISTRY_CHANNEL "swarm_registry"
#define SWARM_REGISTRY_PRODUCTION "production"

typedef struct swarm_registry swarm_registry_t;

/* Connect.  `conninfo` is handed to PQconnectdb as given (a "key=value ..."
 * string or a postgresql:// URI); NULL or "" uses libpq's defaults (PG*
 * environment variables, service files).  `log` is borrowed and may be NULL.
 * On success *out is owned by the caller (swarm_registry_destroy).
 * Errors: SWARM_ERR_IO (retriable) with libpq's message; the conninfo is
 * cited with any password masked.  TCP keepalives are on (idle 30 s,
 * 3 probes 10 s apart) unless the conninfo sets keepalives* itself. */
int swarm_registry_connect(const char *conninfo, const swarm_log_t *log,
                           swarm_registry_t **out, swarm_err_t *err);
void swarm_registry_destroy(swarm_registry_t *r);

/* Copy `conninfo` into buf with the values of password=... and
 * sslpassword=... (and the password of a postgresql://user:password@host
 * URI) replaced by "****".  Used for
 * every log line and error that cites a conninfo. */
void swarm_registry_mask_conninfo(const char *conninfo, char *buf, size_t size);

/* Non-zero while the connection is up (zero too once the idle check of
 * swarm_registry_wait() went unanswered). */
int swarm_registry_connected(const swarm_registry_t *r);

/* The idle check of swarm_registry_wait(): after every_ms (default 30000;
 * <= 0: off) without hearing from the server it sends "SELECT 1", and
 * declares the connection lost when no answer comes within answer_ms
 * (default 10000). */
void swarm_registry_set_idle_check(swarm_registry_t *r, int every_ms,
                                   int answer_ms);

/* Apply the embedded migrations (lib/core/migrations/NNN_*.sql) not yet
 * recorded in registry.schema_migrations, each in its own transaction, under
 * a session advisory lock so concurrent runs serialize.  Safe to re-run.
 * *applied (may be NULL) gets how many ran now.  Needs a role that may
 * create schemas and roles (the database owner with CREATEROLE). */
int swarm_registry_migrate(swarm_registry_t *r, int *applied, swarm_err_t *err);

/* Lowercase hex sha256 of buf into hex[65]. */
void swarm_sha256_hex(const void *buf, size_t len, char hex[65]);

/* A new version.  `artifact`/`size` are the model bytes (always given: the
 * sha256 and size are computed from them).  With `uri` (file://...) only the
 * reference is stored; otherwise the bytes go into the database.  JSON
 * fields are text (NULL: "[]" for signatures, "{}" for metadata and tags);
 * PostgreSQL rejects malformed JSON.  `description` (NULL: unchanged) sets
 * the model's description; the model is created on its first version. */
typedef struct swarm_registry_new_version {
        const char *model;
        const char *description;
        const void *artifact;
        size_t size;
        const char *uri;
        const char *format;             /* NULL: "onnx" */
        const char *inputs_json;
        const char *outputs_json;
        const char *metadata_json;
        const char *tags_json;          /* object of string values */
} swarm_registry_new_version_t;

/* Register a version: the next number of the model (1 for a new model), in
 * one transaction holding the model's row lock so concurrent registrations
 * get distinct numbers.  *version gets the number; sha256 (may be NULL,
 * 65 bytes) the digest. */
int swarm_registry_register(swarm_registry_t *r,
                            const swarm_registry_new_version_t *nv,
                            int32_t *version, char *sha256,
                            swarm_err_t *err);

/* One version row (no artifact bytes).  Strings are owned by the struct:
 * free with swarm_registry_version_destroy(). */
typedef struct swarm_registry_version {
        char *model;
        int32_t version;
        char sha256[65];
        int64_t size;
        char *uri;              /* NULL when the bytes are in the database */
        char *format;
        char *status;           /* "active" | "archived" */
} swarm_registry_version_t;

/* Free the strings (not `v`).  NULL is accepted. */
void swarm_registry_version_destroy(swarm_registry_version_t *v);

/* Resolve `model` at `alias` (when non-NULL) or at `version`.
 * Errors: SWARM_ERR_NOT_FOUND (unknown model, alias or version). */
int swarm_registry_resolve(swarm_registry_t *r, const char *model,
                           const char *alias, int32_t version,
                           swarm_registry_version_t *out, swarm_err_t *err);

/* Fetch the artifact of `model` `version` (from the database, or the file a
 * file:// URI names) and verify it against the recorded sha256 and size.
 * On success *buf (caller frees) holds *len bytes.  Errors: SWARM_ERR_NOT_FOUND,
 * SWARM_ERR_IO (file or connection), SWARM_ERR_INVALID ("sha256 mismatch":
 * the stored bytes were altered; nothing is returned). */
int swarm_registry_fetch(swarm_registry_t *r, const char *model,
                         int32_t version, void **buf, size_t *len,
                         swarm_err_t *err);

/* Point `alias` (NULL: "production") of `model` at `version`, and append the
 * move to the history with `reason` (may be NULL), in one transaction that
 * locks the model row first: concurrent promotions serialize and each
 * history row's from_version is the alias value it replaced.  *from (may be
 * NULL) gets the previous version, 0 when the alias is new.
 * Errors: SWARM_ERR_NOT_FOUND (model or version), SWARM_ERR_STATE (the
 * version is archived). */
int swarm_registry_promote(swarm_registry_t *r, const char *model,
                           int32_t version, const char *alias,
                           const char *reason, int32_t *from,
                           swarm_err_t *err);

/* Move `alias` back to the version it pointed at before its last move (the
 * from_version of its newest history row), recorded as a move with reason
 * "rollback" (or `reason`).  A second rollback undoes the first, as
 * `kubectl rollout undo` does.  *to (may be NULL) gets the version.
 * Errors: SWARM_ERR_NOT_FOUND (no alias), SWARM_ERR_STATE (no earlier
 * version, or it is archived). */
int swarm_registry_rollback(swarm_registry_t *r, const char *model,
                            const char *alias, const char *reason,
                            int32_t *to, swarm_err_t *err);

/* Set deployment settings of `model`: keys[i] = values[i] ("" clears one),
 * in one transaction, each change appended to the history.  Keys:
 * request_topic, result_topic, max_batch_rows, max_delay_us, device,
 * precision, min_workers, max_workers, lag_target, batch_request_topic,
 * batch_result_topic (the topics of offline scoring, docs/scoring.md).
 * Errors: SWARM_ERR_NOT_FOUND, SWARM_ERR_INVALID (unknown key, bad value). */
int swarm_registry_config(swarm_registry_t *r, const char *model,
                          const char *const *keys, const char *const *values,
                          size_t n, const char *reason, swarm_err_t *err);

/* Deployment settings of a model; 0 / NULL when unset.  Strings owned by the
 * struct: free with swarm_registry_deployment_destroy(). */
typedef struct swarm_registry_deployment {
        char *request_topic, *result_topic, *device, *precision;
        char *batch_request_topic, *batch_result_topic;
        int64_t max_batch_rows, max_delay_us, min_workers, max_workers,
                lag_target;
} swarm_registry_deployment_t;

/* Free the strings (not `d`).  NULL is accepted. */
void swarm_registry_deployment_destroy(swarm_registry_deployment_t *d);

/* Errors: SWARM_ERR_NOT_FOUND (no such model).  A model without settings
 * gets an all-zero struct. */
int swarm_registry_deployment(swarm_registry_t *r, const char *model,
                              swarm_registry_deployment_t *out,
                              swarm_err_t *err);

/* Mark a version archived.  Errors: SWARM_ERR_NOT_FOUND, SWARM_ERR_STATE
 * (an alias points at it; the message names the aliases). */
int swarm_registry_archive(swarm_registry_t *r, const char *model,
                           int32_t version, swarm_err_t *err);

/* JSON text (caller frees):
 *   list:    [{"name","description","owner","created_at","versions",
 *              "latest","aliases":{alias: version}}...]
 *   show:    version 0: the model with "versions":[...], "aliases",
 *              "deployment"; else one version object
 *   history: [{"id","kind","name","from_version","to_version","from_value",
 *              "to_value","changed_by","changed_at","reason"}...] oldest first
 * Errors: SWARM_ERR_NOT_FOUND (show, history). */
int swarm_registry_list(swarm_registry_t *r, char **json, swarm_err_t *err);
int swarm_registry_show(swarm_registry_t *r, const char *model,
                        int32_t version, char **json, swarm_err_t *err);
int swarm_registry_history(swarm_registry_t *r, const char *model,
                           char **json, swarm_err_t *err);

/* Names of the models whose deployment request_topic or batch_request_topic
 * is `topic`, as a
 * NULL-terminated array (caller frees with swarm_registry_names_destroy). */
int swarm_registry_models_for_topic(swarm_registry_t *r, const char *topic,
                                    char ***names, swarm_err_t *err);
/* Free the array and its names.  NULL is accepted. */
void swarm_registry_names_destroy(char **names);

/* LISTEN on SWARM_REGISTRY_CHANNEL. */
int swarm_registry_listen(swarm_registry_t *r, swarm_err_t *err);

/* Wait up to timeout_ms (-1: forever) for a notification, polling the
 * connection's socket and `wake_fd` (-1: none; readable wakes the call, the
 * caller drains it).  On a notification *payload (caller frees) gets its
 * payload; on timeout or wake it is NULL.  While idle it checks the
 * connection (swarm_registry_set_idle_check), so a half-open TCP connection
 * is found within every_ms + answer_ms.  Errors: SWARM_ERR_IO (retriable:
 * the connection was lost or the check went unanswered; reconnect with a
 * new handle). */
int swarm_registry_wait(swarm_registry_t *r, int timeout_ms, int wake_fd,
                        char **payload, swarm_err_t *err);

#ifdef __cplusplus
}
#endif
#endif
