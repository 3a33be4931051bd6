/*
 * models_follow.c - the registry follower thread (see models.h).
 *
 * The thread owns the registry connection.  It wakes on a NOTIFY, on a load
 * request (a byte on the wake pipe), or every MODELS_TICK_MS, and re-reads
 * all followed aliases on a notification or reconnect: a handful of indexed
 * queries, and it cannot miss a change whatever the payload said.
 */
#include <poll.h>
#include <unistd.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models_int.h"
#include "swarm/clock.h"

/* Fetch (sha256 verified by the registry layer) and load a version.
 * Background thread (or models_new before it starts); no lock held. */
static int load_version(models_t *mm, const char *name, int32_t version,
                        entry_t **out, swarm_err_t *err) {
        void *buf = NULL;
        size_t len = 0;
        int64_t t0 = swarm_clock_ms();
        int rc;

        if ((rc = swarm_registry_fetch(mm->reg, name, version, &buf, &len, err)))
                return rc;
        rc = cache_entry_load(mm, name, version, buf, len, out, err);
        free(buf);
        if (!rc)
                SWARM_INFO(mm->log, "model loaded name=%s version=%" PRId32
                           " bytes=%zu sha256=%s load_ms=%" PRId64 " signature=\"%s\"",
                           name, version, len, (*out)->sha256, swarm_clock_ms() - t0, (*out)->sig);
        return rc;
}


/* Whether this worker's request topic is the deployment's scoring topic
 * (and not also its online one). */
static int serves_batch_topic(const models_t *mm, const swarm_registry_deployment_t *d) {
        return mm->topic && d->batch_request_topic &&
               !strcmp(d->batch_request_topic, mm->topic) &&
               !(d->request_topic && !strcmp(d->request_topic, mm->topic));
}

/* Bring one followed model to its alias target. */
static int sync_one(models_t *mm, follow_t *f, swarm_err_t *err) {
        swarm_registry_version_t v;
        swarm_registry_deployment_t d;
        entry_t *e, *old;
        int32_t cur;
        int rc;

        if ((rc = swarm_registry_deployment(mm->reg, f->name, &d, err)) &&
            rc != SWARM_ERR_NOT_FOUND)
                return rc;
        pthread_mutex_lock(&mm->lock);
        f->max_batch_rows = rc ? 0 : d.max_batch_rows;
        f->max_delay_us = rc ? 0 : d.max_delay_us;
        /* The deployment's batch limits are its online fleet's: a worker
         * serving the model on its scoring topic (batch_request_topic)
         * keeps its own --max-batch-rows / --max-delay-us, which the
         * scoring fleet sets larger (docs/scoring.md). */
        if (!rc && serves_batch_topic(mm, &d))
                f->max_batch_rows = f->max_delay_us = 0;
        cur = f->target ? f->target->pub.version : 0;
        pthread_mutex_unlock(&mm->lock);
        swarm_registry_deployment_destroy(&d);
        swarm_err_clear(err);

        rc = swarm_registry_resolve(mm->reg, f->name, mm->alias, 0, &v, err);
        if (rc == SWARM_ERR_NOT_FOUND) {
                if (!f->warned)
                        SWARM_WARN(mm->log, "model not served name=%s reason=\"%s\"", f->name,
                                   err->msg);
                f->warned = 1;
                swarm_err_clear(err);
                return SWARM_OK;        /* served once promoted */
        }
        if (rc)
                return rc;
        f->warned = 0;
        if (v.version == cur || v.version == f->failed) {
                swarm_registry_version_destroy(&v);
                return SWARM_OK;
        }
        pthread_mutex_lock(&mm->lock);
        e = cache_find(mm, f->name, strlen(f->name), v.version);
        if (e && is_tombstone(e))
                e = NULL;       /* archived before, active again: load it */
        pthread_mutex_unlock(&mm->lock);
        if (!e) {
                if ((rc = load_version(mm, f->name, v.version, &e, err))) {
                        /* keep serving the old version; say so clearly */
                        SWARM_ERROR(mm->log, "model switch failed name=%s alias=%s version=%" PRId32
                                    " serving=%" PRId32 " error=\"%s\"",
                                    f->name, mm->alias, v.version, cur, err->msg);
                        f->failed = v.version;
                        swarm_registry_version_destroy(&v);
                        if (rc == SWARM_ERR_IO && !swarm_registry_connected(mm->reg))
                                return rc;      /* the connection: reconnect */
                        swarm_err_clear(err);
                        return SWARM_OK;
                }
        }
        pthread_mutex_lock(&mm->lock);
        e = cache_insert(mm, e) == e ? e : (cache_entry_destroy(e), cache_find(mm, f->name, strlen(f->name),
                                                                   v.version));
        old = f->target;
        f->target = e;          /* the swap: the next resolve() gets e */
        f->failed = 0;
        e->used = ++mm->clock;
        pthread_mutex_unlock(&mm->lock);
        SWARM_INFO(mm->log, "model switched name=%s alias=%s from=%" PRId32 " to=%" PRId32,
                   f->name, mm->alias, old ? old->pub.version : 0, v.version);
        swarm_registry_version_destroy(&v);
        if (mm->state_dir)
                state_save(mm, f->name, e);
        return SWARM_OK;
}

/* Cached pinned versions (loaded for requests naming a version) are not
 * alias targets, so sync_one never looks at them again: read their status
 * here, on every notification and reconnect (an archive sends one, see
 * migration 003), and stop serving the archived ones at once. */
int follow_check_archived(models_t *mm, swarm_err_t *err) {
        struct pin { char *name; int32_t version; int archived; } *pins = NULL;
        size_t n = 0, cap = 0;
        int rc = SWARM_OK;

        pthread_mutex_lock(&mm->lock);
        for (entry_t *e = mm->entries; e; e = e->next) {
                int target = 0;
                if (e->is_static)
                        continue;
                for (follow_t *f = mm->follows; f; f = f->next)
                        target |= f->target == e;
                if (target)
                        continue;       /* an alias target cannot be archived */
                if (n == cap) {
                        struct pin *np = realloc(pins, (cap = cap ? cap * 2 : 8) * sizeof(*np));
                        if (!np) {
                                rc = swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                                break;
                        }
                        pins = np;
                }
                if (!(pins[n].name = strdup(e->name))) {
                        rc = swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                        break;
                }
                pins[n].version = e->pub.version;
                pins[n++].archived = e->archived;
        }
        pthread_mutex_unlock(&mm->lock);

        for (size_t i = 0; i < n && !rc; i++) {
                swarm_registry_version_t v;
                int archived;

                memset(&v, 0, sizeof(v));
                rc = swarm_registry_resolve(mm->reg, pins[i].name, NULL, pins[i].version, &v, err);
                if (rc && rc != SWARM_ERR_NOT_FOUND)
                        break;
                /* a version the registry no longer has is not served either */
                archived = rc == SWARM_ERR_NOT_FOUND || (v.status && !strcmp(v.status, "archived"));
                swarm_registry_version_destroy(&v);
                swarm_err_clear(err);
                rc = SWARM_OK;
                if (archived == pins[i].archived)
                        continue;
                pthread_mutex_lock(&mm->lock);
                for (entry_t **pp = &mm->entries; *pp; pp = &(*pp)->next) {
                        entry_t *e = *pp;
                        if (e->pub.version != pins[i].version || strcmp(e->name, pins[i].name))
                                continue;
                        if (!archived && is_tombstone(e)) {
                                /* active again: the tombstone goes, the
                                 * next request loads it */
                                *pp = e->next;
                                cache_entry_destroy(e);
                        } else {
                                e->archived = archived;
                        }
                        break;
                }
                pthread_mutex_unlock(&mm->lock);
                SWARM_INFO(mm->log, "model version %s name=%s version=%" PRId32 "%s",
                           archived ? "archived" : "active again", pins[i].name,
                           pins[i].version, archived ? " action=\"not served, dropped\"" : "");
        }
        for (size_t i = 0; i < n; i++)
                free(pins[i].name);
        free(pins);
        return rc;
}

/* Add follows for new topic models (topic mode), then sync them all. */
static int sync_all(models_t *mm, swarm_err_t *err) {
        int rc;

        if (!mm->names) {
                char **names = NULL;
                if ((rc = swarm_registry_models_for_topic(mm->reg, mm->topic, &names, err)))
                        return rc;
                for (char **p = names; *p; p++) {
                        follow_t *f;
                        pthread_mutex_lock(&mm->lock);
                        f = cache_find_follow(mm, *p, strlen(*p));
                        if (!f && (f = calloc(1, sizeof(*f))) && (f->name = strdup(*p))) {
                                f->next = mm->follows;
                                mm->follows = f;
                        } else if (!f || !f->name) {
                                free(f);
                                f = NULL;
                        }
                        pthread_mutex_unlock(&mm->lock);
                        if (f)
                                SWARM_DEBUG(mm->log, "following model name=%s topic=%s", *p,
                                            mm->topic);
                }
                swarm_registry_names_destroy(names);
        }
        /* follows are only ever added, never removed while running, so the
         * list can be walked without the lock */
        for (follow_t *f = mm->follows; f; f = f->next)
                if ((rc = sync_one(mm, f, err)))
                        return rc;
        return follow_check_archived(mm, err);
}

/* A pinned version that was archived is not served: SWARM_ERR_NOT_FOUND
 * saying so (the request is answered MODEL_NOT_FOUND with that reason). */
static int refuse_archived(models_t *mm, const char *name, int32_t version,
                           int *archived, swarm_err_t *err) {
        swarm_registry_version_t v;
        int rc;

        memset(&v, 0, sizeof(v));
        if ((rc = swarm_registry_resolve(mm->reg, name, NULL, version, &v, err)))
                return rc;
        *archived = v.status && !strcmp(v.status, "archived");
        swarm_registry_version_destroy(&v);
        if (*archived)
                return swarm_err_set(err, SWARM_ERR_NOT_FOUND,
                                     "version %" PRId32 " of \"%s\" is archived and no "
                                     "longer served", version, name);
        return SWARM_OK;
}

/* Serve explicit-version load requests. */
static int serve_requests(models_t *mm) {
        for (;;) {
                request_t *q = NULL;
                entry_t *e = NULL;
                swarm_err_t err;
                int rc, archived = 0;

                pthread_mutex_lock(&mm->lock);
                for (q = mm->reqs; q && q->done; q = q->next)
                        ;
                pthread_mutex_unlock(&mm->lock);
                if (!q)
                        return SWARM_OK;
                swarm_err_clear(&err);
                if (!mm->reg) {
                        rc = swarm_err_set_flags(&err, SWARM_ERR_IO, SWARM_ERR_F_RETRIABLE,
                                                 "the registry is unreachable");
                } else if (!(rc = refuse_archived(mm, q->name, q->version, &archived, &err))) {
                        rc = load_version(mm, q->name, q->version, &e, &err);
                }
                if (rc)         /* before the waiter may free q */
                        SWARM_ERROR(mm->log, "model load failed name=%s version=%" PRId32
                                    " error=\"%s\"", q->name, q->version, err.msg);
                pthread_mutex_lock(&mm->lock);
                if (rc) {
                        q->done = -1;
                        q->err = err;
                        if (archived)   /* the next ones are answered at once */
                                cache_tombstone(mm, q->name, q->version);
                } else {
                        cache_insert(mm, e) == e ? (void)0 : cache_entry_destroy(e);
                        q->done = 1;
                }
                pthread_cond_broadcast(&mm->cond);
                pthread_mutex_unlock(&mm->lock);
                if (rc == SWARM_ERR_IO && mm->reg && !swarm_registry_connected(mm->reg))
                        return rc;
        }
}

static void drain_wake(models_t *mm) {
        char b[64];
        while (read(mm->wake[0], b, sizeof(b)) > 0)
                ;
}

/* Sleep up to ms, or until woken. */
static void nap(models_t *mm, int64_t ms) {
        struct pollfd p = {mm->wake[0], POLLIN, 0};
        if (poll(&p, 1, (int)ms) > 0)
                drain_wake(mm);
}

int follow_connect(models_t *mm, swarm_err_t *err) {
        int rc;

        if ((rc = swarm_registry_connect(mm->conninfo, mm->log, &mm->reg, err)))
                return rc;
        /* LISTEN before reading: a promotion between the read and the
         * LISTEN would otherwise be missed */
        if ((rc = swarm_registry_listen(mm->reg, err)) || (rc = sync_all(mm, err))) {
                swarm_registry_destroy(mm->reg);
                mm->reg = NULL;
        }
        return rc;
}

static void disconnect(models_t *mm, const char *why) {
        SWARM_ERROR(mm->log, "registry connection lost error=\"%s\" action=\"serving loaded "
                    "models, reconnecting\"", why);
        swarm_registry_destroy(mm->reg);
        mm->reg = NULL;
        /* a failed version may load now (the bytes may have been fixed) */
        pthread_mutex_lock(&mm->lock);
        for (follow_t *f = mm->follows; f; f = f->next)
                f->failed = 0;
        pthread_mutex_unlock(&mm->lock);
}

void *follow_main(void *arg) {
        models_t *mm = arg;
        int64_t backoff = MODELS_BACKOFF_START_MS;
        swarm_err_t err;

        while (!atomic_load(&mm->stop)) {
                char *payload = NULL;
                entry_t *dead;
                int rc;

                swarm_err_clear(&err);
                if (!mm->reg) {
                        if (follow_connect(mm, &err)) {
                                SWARM_WARN(mm->log, "registry reconnect failed retry_ms=%" PRId64
                                           " error=\"%s\"", backoff, err.msg);
                                serve_requests(mm);     /* fail them, do not hang */
                                nap(mm, backoff);
                                backoff = backoff * 2 > mm->backoff_max_ms ? mm->backoff_max_ms
                                                                           : backoff * 2;
                                continue;
                        }
                        SWARM_INFO(mm->log, "registry reconnected aliases=reloaded");
                        backoff = MODELS_BACKOFF_START_MS;
                }
                if (serve_requests(mm)) {
                        disconnect(mm, "load request");
                        continue;
                }
                rc = swarm_registry_wait(mm->reg, MODELS_TICK_MS, mm->wake[0], &payload, &err);
                drain_wake(mm);
                if (!rc && payload) {
                        SWARM_DEBUG(mm->log, "registry notification payload=%s", payload);
                        free(payload);
                        /* coalesce a burst of notifications into one sync */
                        while (!(rc = swarm_registry_wait(mm->reg, 0, -1, &payload, &err)) &&
                               payload) {
                                free(payload);
                                payload = NULL;
                        }
                        if (!rc)
                                rc = sync_all(mm, &err);
                }
                if (rc) {
                        if (swarm_registry_connected(mm->reg))
                                SWARM_ERROR(mm->log, "registry sync failed error=\"%s\"", err.msg);
                        else
                                disconnect(mm, err.msg);
                }
                pthread_mutex_lock(&mm->lock);
                dead = cache_evict(mm);
                pthread_mutex_unlock(&mm->lock);
                cache_destroy_list(mm, dead);
        }
        return NULL;
}

/* ------------------------------------------------------------ last-known state */
