/*
 * models_int.h - what the model manager's files share (see models.h):
 *   models.c         the public calls: static models, resolve, release
 *   models_cache.c   the version cache: entries, LRU eviction
 *   models_follow.c  the registry follower thread
 *   models_state.c   last-known state files (--state-dir)
 *
 * One mutex (models_t.lock) guards the entries (loaded versions), the
 * followed registry models and the load requests; it is held for lookups
 * and pointer swaps only.  Fetching, hashing and loading happen on the
 * follower thread with the lock released, so a 100 MB download never
 * stalls resolve().  "Under the lock" below means the caller holds it.
 */
#ifndef SWARM_CONSUMER_MODELS_INT_H
#define SWARM_CONSUMER_MODELS_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "models.h"
#include "swarm/registry.h"

/* Room for a --state-dir path plus a file name in it. */
#define MODELS_PATH_SIZE 4200
/* Reconnect backoff: starts here, doubles up to backoff_max_ms. */
#define MODELS_BACKOFF_START_MS 100
#define MODELS_BACKOFF_MAX_MS 5000
/* The follower wakes at least this often without a notification. */
#define MODELS_TICK_MS 1000

typedef struct entry {
        models_ref_t pub;       /* first: a models_ref_t * is an entry_t * */
        char *name;
        char sig[512];
        char sha256[65];
        size_t bytes;
        int refs;
        int is_static;
        int archived;           /* archived in the registry: never served
                                   again; once unreferenced its model is
                                   freed (pub.m NULL: a tombstone) */
        uint64_t used;          /* LRU clock */
        struct entry *next;
} entry_t;

typedef struct follow {
        char *name;
        entry_t *target;        /* the alias target, loaded */
        int32_t failed;         /* version whose load failed; not retried
                                   until the alias moves or we reconnect */
        int warned;             /* "no alias" logged */
        int64_t max_batch_rows, max_delay_us;
        struct follow *next;
} follow_t;

typedef struct request {        /* an explicit version to load */
        char *name;
        int32_t version;
        int done;               /* 1 loaded, -1 failed (msg) */
        swarm_err_t err;
        struct request *next;
} request_t;

struct models {
        const swarm_log_t *log;
        swarm_backend_t *be;
        char *conninfo, *alias, *topic, *state_dir;
        char **names;           /* fixed follow list, or NULL (by topic) */
        size_t n_names;
        size_t cache_bytes;
        int64_t backoff_max_ms;
        int use_registry;

        pthread_mutex_t lock;
        pthread_cond_t cond;    /* a request finished */
        entry_t *entries;
        follow_t *follows;
        request_t *reqs;
        size_t bytes;
        uint64_t clock;

        int wake[2];
        pthread_t thr;
        int started;
        atomic_int stop;
        swarm_registry_t *reg;  /* background thread only (after new) */
};

/* An archived version whose model was freed: kept so its requests are
 * answered MODEL_NOT_FOUND at once; never handed out. */
static inline int is_tombstone(const entry_t *e) {
        return e->archived && !e->pub.m;
}

/* models_cache.c */
void cache_entry_destroy(entry_t *e);
/* Load bytes into a new entry and check what the worker needs (a batch
 * dimension, at most SWARM_MAX_INPUTS tensors).  No lock held. */
int cache_entry_load(models_t *mm, const char *name, int32_t version,
                     const void *buf, size_t len, entry_t **out, swarm_err_t *err);
/* The same for a --model-file: the model is loaded from `path` (so weights
 * in external data files beside it, torch.onnx.export's default, are
 * found); buf/len are its bytes (the checksum). */
int cache_entry_load_path(models_t *mm, const char *name, int32_t version,
                          const char *path, const void *buf, size_t len,
                          entry_t **out, swarm_err_t *err);
/* Under the lock. */
entry_t *cache_find(models_t *mm, const char *name, size_t len, int32_t version);
follow_t *cache_find_follow(models_t *mm, const char *name, size_t len);
/* Under the lock: add a loaded entry, or return the one already there. */
entry_t *cache_insert(models_t *mm, entry_t *e);
/* Under the lock: unlink least recently used victims while over the bound;
 * returns them for cache_destroy_list() outside the lock. */
entry_t *cache_evict(models_t *mm);
void cache_destroy_list(models_t *mm, entry_t *dead);
/* Under the lock: mark `version` archived, adding a tombstone (an entry
 * with no model) when it is not cached. */
void cache_tombstone(models_t *mm, const char *name, int32_t version);

/* models_follow.c */
/* Re-read the registry status of every cached registry version that is not
 * an alias target and mark the archived ones (no lock held; follower
 * thread).  A version that is active again is served again. */
int follow_check_archived(models_t *mm, swarm_err_t *err);
/* Connect, LISTEN, then sync every followed alias (no lock held). */
int follow_connect(models_t *mm, swarm_err_t *err);
/* The follower thread (arg: the models_t). */
void *follow_main(void *arg);

/* models_state.c */
/* Follower thread, after a switch: keep SHA256.onnx of the new target and
 * rewrite `state`.  Failures are logged; serving does not depend on them. */
void state_save(models_t *mm, const char *name, const entry_t *e);
/* models_new, registry unreachable: serve what the state folder holds. */
int state_load(models_t *mm, swarm_err_t *err);

#endif
