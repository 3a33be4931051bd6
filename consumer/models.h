/*
 * models.h - the worker's model manager: which model version serves a
 * request, loaded where, switched when.
 *
 * Sources: static files (--model NAME[:VERSION]=FILE, as before) and/or the
 * registry (PostgreSQL).  For a registry model a request without a version
 * gets the version the alias (default "production") points at; a background
 * thread LISTENs for registry notifications, loads a newly promoted version
 * off the hot path (sha256 verified before loading), and then swaps the
 * alias mapping under the manager's lock: the next resolve() gets the new
 * version while batches holding a reference finish on the old one
 * (reference counts).  A version that fails to load or verify is logged and
 * the old one keeps serving.
 *
 * Loaded versions form a cache bounded by cache_bytes (artifact sizes): the
 * least recently used unreferenced version that no alias points at is
 * evicted first; static models and alias targets are never evicted.
 *
 * If PostgreSQL goes away the manager keeps serving what it has loaded,
 * reconnects with exponential backoff (100 ms doubling to backoff_max_ms),
 * and on reconnect re-reads every alias, so a promotion made while it was
 * disconnected still arrives.
 *
 * Threads: models_resolve(), models_release(), models_deployment() and
 * models_count() may be called from any thread (one mutex, held for a
 * lookup only; never across I/O).  new/destroy from one owner thread.  A
 * models_ref_t's model is run by the caller's one exec thread: the manager
 * never runs models, it only loads them (on its own thread, with the backend
 * given in the options, which must be safe to share, as the CPU one is) and
 * destroys them once unreferenced.
 */
#ifndef SWARM_CONSUMER_MODELS_H
#define SWARM_CONSUMER_MODELS_H

#include <stddef.h>
#include <stdint.h>

#include "swarm/backend.h"
#include "swarm/err.h"
#include "swarm/log.h"
#include "swarm/model.h"

typedef struct models models_t;

/* How much of a request's model name (user input) an error message quotes. */
#define MODELS_NAME_QUOTED 200

/* A loaded model version.  Read-only for the caller; valid from a
 * successful models_resolve() until the matching models_release().  Two
 * resolves of the same version return the same pointer, so it can key
 * batches. */
typedef struct models_ref {
        const char *name;
        int32_t version;
        swarm_model_t *m;
        const char *sig;        /* swarm_model_signature() text */
} models_ref_t;

typedef struct models_opts {
        /* static models, "NAME[:VERSION]=FILE" (version defaults to 1) */
        const char *const *files;
        size_t n_files;
        /* the registry: used when use_registry is set; conninfo NULL or ""
         * means libpq's environment defaults (PGHOST ...) */
        int use_registry;
        const char *conninfo;
        /* registry models to serve; none: every model whose deployment
         * request_topic is request_topic (re-read on every notification) */
        const char *const *names;
        size_t n_names;
        const char *request_topic;      /* required with use_registry */
        const char *alias;              /* NULL: "production" */
        size_t cache_bytes;             /* 0: no bound */
        int64_t backoff_max_ms;         /* 0: 5000 */
        /* last-known state: when set, every alias switch writes the
         * artifact (as SHA256.onnx) and a `state` file (version, sha256,
         * name per line) into this folder; with start_from_state, a start
         * while the registry is unreachable loads the models from there
         * (sha256 verified) and keeps reconnecting in the background,
         * instead of failing */
        const char *state_dir;
        int start_from_state;
        swarm_backend_t *backend;       /* borrowed; outlives the manager */
} models_opts_t;

/* Load the static models, connect to the registry, load every followed
 * model's alias target, then start the background thread.  Strings in `o`
 * are copied; `log` and o->backend are borrowed.  Errors: a static model
 * that does not load (SWARM_ERR_*), the registry unreachable at start
 * (SWARM_ERR_IO, retriable) unless start_from_state finds a state.  A followed registry model without the alias
 * is only logged (it is served once promoted). */
int models_new(const models_opts_t *o, const swarm_log_t *log, models_t **out,
               swarm_err_t *err);

/* Stop the thread and free every model.  Every ref must be released. */
void models_destroy(models_t *mm);

/* Resolve a request's model.  Without a version: the alias target of a
 * registry model, else the highest static version.  With a version: a
 * loaded one at once; a registry version that is not loaded is loaded by
 * the background thread and this call waits up to wait_ms for it (0: do not
 * wait).  On success *out holds a reference (models_release).
 * Errors: SWARM_ERR_NOT_FOUND (not served, or no such version),
 * SWARM_ERR_TIMEOUT (retriable: still loading after wait_ms), and the load
 * error for a version that could not be loaded. */
int models_resolve(models_t *mm, const char *name, size_t name_len,
                   int has_version, int32_t version, int wait_ms,
                   models_ref_t **out, swarm_err_t *err);

/* Drop a reference.  NULL is accepted. */
void models_release(models_t *mm, models_ref_t *ref);

/* The registry deployment settings of `name` (0 when unset or a static
 * model): the worker's batcher uses them over its own defaults. */
void models_deployment(models_t *mm, const char *name, size_t name_len,
                       int64_t *max_batch_rows, int64_t *max_delay_us);

/* References to the models counted by models_count() (static versions and
 * followed alias targets), at most `cap` of them, each to be dropped with
 * models_release(): the worker's warm-up runs each once before it joins
 * the group.  Returns how many were filled. */
int models_refs(models_t *mm, models_ref_t **out, int cap);

/* Models that resolve() can serve without a version right now. */
int models_count(models_t *mm);

#endif
