/*
 * models.c - the worker's model manager: static models and the public calls
 * (see models.h; the cache, the follower thread and the state files are in
 * models_cache.c, models_follow.c and models_state.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models_int.h"
#include "swarm/clock.h"
#include "swarm/fileio.h"

static int add_static(models_t *mm, const char *spec, swarm_err_t *err) {
        const char *eq = strchr(spec, '=');
        char name[256], *colon, *end;
        long version = 1;
        void *buf = NULL;
        size_t len = 0;
        entry_t *e = NULL;
        FILE *f;
        int rc;

        if (!eq || eq == spec || (size_t)(eq - spec) >= sizeof(name))
                return swarm_err_set(err, SWARM_ERR_CONFIG,
                                     "--model expects NAME[:VERSION]=FILE, got \"%s\"", spec);
        memcpy(name, spec, (size_t)(eq - spec));
        name[eq - spec] = '\0';
        if ((colon = strchr(name, ':'))) {
                *colon = '\0';
                version = strtol(colon + 1, &end, 10);
                if (*end || version < 1 || version > 0x7fffffff)
                        return swarm_err_set(err, SWARM_ERR_CONFIG, "--model %s: bad version",
                                             spec);
        }
        if (cache_find(mm, name, strlen(name), (int32_t)version))
                return swarm_err_set(err, SWARM_ERR_INVALID, "model %s version %ld given twice",
                                     name, version);
        if (!(f = fopen(eq + 1, "rb")))
                return swarm_err_set(err, SWARM_ERR_IO, "model %s: %s: %s", name, eq + 1,
                                     strerror(errno));
        rc = swarm_fileio_read(f, eq + 1, &buf, &len, err);
        fclose(f);
        if (rc)
                goto out;
        if ((rc = cache_entry_load_path(mm, name, (int32_t)version, eq + 1, buf, len, &e,
                                        err))) {
                swarm_err_prefix(err, "%s: ", eq + 1);
                goto out;
        }
        e->is_static = 1;
        cache_insert(mm, e);
        SWARM_INFO(mm->log, "model loaded name=%s version=%ld path=%s signature=\"%s\"", name,
                   version, eq + 1, e->sig);
out:
        free(buf);
        return rc;
}

int models_new(const models_opts_t *o, const swarm_log_t *log, models_t **out,
               swarm_err_t *err) {
        models_t *mm = calloc(1, sizeof(*mm));
        int rc = SWARM_OK;

        *out = NULL;
        if (!mm)
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        mm->log = log;
        mm->be = o->backend;
        mm->wake[0] = mm->wake[1] = -1;
        mm->cache_bytes = o->cache_bytes;
        mm->backoff_max_ms = o->backoff_max_ms > 0 ? o->backoff_max_ms : MODELS_BACKOFF_MAX_MS;
        mm->use_registry = o->use_registry;
        pthread_mutex_init(&mm->lock, NULL);
        swarm_clock_cond_init(&mm->cond);
        if (!o->backend) {
                rc = swarm_err_set(err, SWARM_ERR_INVALID, "models_new: no backend");
                goto out;
        }
        for (size_t i = 0; i < o->n_files; i++)
                if ((rc = add_static(mm, o->files[i], err)))
                        goto out;
        if (!o->use_registry)
                goto out;

        mm->conninfo = strdup(o->conninfo ? o->conninfo : "");
        mm->alias = strdup(o->alias ? o->alias : SWARM_REGISTRY_PRODUCTION);
        /* the topic's default lives in the worker's option table alone */
        if (!o->request_topic) {
                rc = swarm_err_set(err, SWARM_ERR_INVALID, "models_new: no request topic");
                goto out;
        }
        mm->topic = strdup(o->request_topic);
        if (!mm->conninfo || !mm->alias || !mm->topic)
                goto nomem;
        if (o->n_names) {
                if (!(mm->names = calloc(o->n_names, sizeof(*mm->names))))
                        goto nomem;
                mm->n_names = o->n_names;
                for (size_t i = 0; i < o->n_names; i++) {
                        follow_t *f = calloc(1, sizeof(*f));
                        if (!f || !(mm->names[i] = strdup(o->names[i])) ||
                            !(f->name = strdup(o->names[i]))) {
                                free(f);
                                goto nomem;
                        }
                        f->next = mm->follows;
                        mm->follows = f;
                }
        }
        if (pipe(mm->wake) || fcntl(mm->wake[0], F_SETFL, O_NONBLOCK) ||
            fcntl(mm->wake[1], F_SETFL, O_NONBLOCK)) {
                rc = swarm_err_set(err, SWARM_ERR_IO, "pipe: %s", strerror(errno));
                goto out;
        }
        if (o->state_dir && !(mm->state_dir = strdup(o->state_dir)))
                goto nomem;
        /* the first sync is synchronous: the worker starts with its models */
        if ((rc = follow_connect(mm, err))) {
                swarm_err_t e2;
                swarm_err_clear(&e2);
                if (!mm->state_dir || !o->start_from_state || state_load(mm, &e2)) {
                        if (e2.code)
                                SWARM_ERROR(log, "last-known state unusable error=\"%s\"", e2.msg);
                        swarm_err_prefix(err, "model registry: ");
                        goto out;
                }
                SWARM_WARN(log, "registry unreachable at start: serving the last-known state "
                           "error=\"%s\"", err->msg);
                swarm_err_clear(err);
                rc = SWARM_OK;
        }
        if (pthread_create(&mm->thr, NULL, follow_main, mm)) {
                rc = swarm_err_set(err, SWARM_ERR_STATE, "cannot start the registry thread");
                goto out;
        }
        mm->started = 1;
        goto out;
nomem:
        rc = swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
out:
        if (rc) {
                models_destroy(mm);
                return rc;
        }
        *out = mm;
        return SWARM_OK;
}

void models_destroy(models_t *mm) {
        if (!mm)
                return;
        if (mm->started) {
                atomic_store(&mm->stop, 1);
                if (write(mm->wake[1], "x", 1) < 0) {
                        /* the thread still sees stop within a second */
                }
                pthread_join(mm->thr, NULL);
        }
        swarm_registry_destroy(mm->reg);
        while (mm->entries) {
                entry_t *n = mm->entries->next;
                cache_entry_destroy(mm->entries);
                mm->entries = n;
        }
        while (mm->follows) {
                follow_t *n = mm->follows->next;
                free(mm->follows->name);
                free(mm->follows);
                mm->follows = n;
        }
        while (mm->reqs) {
                request_t *n = mm->reqs->next;
                free(mm->reqs->name);
                free(mm->reqs);
                mm->reqs = n;
        }
        for (size_t i = 0; i < mm->n_names; i++)
                free(mm->names[i]);
        free(mm->names);
        if (mm->wake[0] >= 0)
                close(mm->wake[0]);
        if (mm->wake[1] >= 0)
                close(mm->wake[1]);
        free(mm->conninfo);
        free(mm->alias);
        free(mm->topic);
        free(mm->state_dir);
        pthread_cond_destroy(&mm->cond);
        pthread_mutex_destroy(&mm->lock);
        free(mm);
}

/* Under the lock: the entry for a request, or NULL. */
static entry_t *lookup(models_t *mm, const char *name, size_t len, int has_version,
                       int32_t version) {
        entry_t *best = NULL;
        follow_t *f;

        if (has_version)
                return cache_find(mm, name, len, version);
        if ((f = cache_find_follow(mm, name, len)) && f->target)
                return f->target;
        for (entry_t *e = mm->entries; e; e = e->next)
                if (e->is_static && strlen(e->name) == len && !memcmp(e->name, name, len) &&
                    (!best || e->pub.version > best->pub.version))
                        best = e;
        return best;
}

int models_resolve(models_t *mm, const char *name, size_t name_len,
                   int has_version, int32_t version, int wait_ms,
                   models_ref_t **out, swarm_err_t *err) {
        request_t *q = NULL;
        entry_t *e;
        struct timespec dl;
        int rc = SWARM_OK;

        *out = NULL;
        pthread_mutex_lock(&mm->lock);
        if ((e = lookup(mm, name, name_len, has_version, version)))
                goto found;
        if (!has_version || !mm->use_registry || !cache_find_follow(mm, name, name_len)) {
                rc = swarm_err_set(err, SWARM_ERR_NOT_FOUND, "model \"%.*s\"%s is not served",
                                   (int)(name_len > MODELS_NAME_QUOTED ? MODELS_NAME_QUOTED : name_len), name,
                                   has_version ? " at that version" : "");
                goto out;
        }
        /* an explicit registry version: ask the background thread */
        for (q = mm->reqs; q; q = q->next)
                if (q->version == version && strlen(q->name) == name_len &&
                    !memcmp(q->name, name, name_len))
                        break;
        if (q && q->done == -1) {
                /* a failed request is answered once, then forgotten so a
                 * later request retries */
                request_t **pp;
                rc = swarm_err_set_flags(err, q->err.code,
                                         q->err.retriable ? SWARM_ERR_F_RETRIABLE : 0,
                                         "%s", q->err.msg);
                for (pp = &mm->reqs; *pp != q; pp = &(*pp)->next)
                        ;
                *pp = q->next;
                free(q->name);
                free(q);
                goto out;
        }
        if (!q) {
                if (!(q = calloc(1, sizeof(*q))) || !(q->name = strndup(name, name_len))) {
                        free(q);
                        rc = swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                        goto out;
                }
                q->version = version;
                q->next = mm->reqs;
                mm->reqs = q;
                if (write(mm->wake[1], "x", 1) < 0) {
                        /* the pipe is full: the thread is already awake */
                }
        }
        dl = swarm_clock_timespec(swarm_clock_us() + (int64_t)wait_ms * 1000);
        while (!q->done && wait_ms > 0 &&
               pthread_cond_timedwait(&mm->cond, &mm->lock, &dl) != ETIMEDOUT)
                ;
        if (q->done == 1) {
                request_t **pp;
                for (pp = &mm->reqs; *pp != q; pp = &(*pp)->next)
                        ;
                *pp = q->next;
                free(q->name);
                free(q);
                if ((e = cache_find(mm, name, name_len, version)))
                        goto found;
                rc = swarm_err_set(err, SWARM_ERR_NOT_FOUND, "model version evicted");
                goto out;
        }
        if (q->done == -1) {
                pthread_mutex_unlock(&mm->lock);
                return models_resolve(mm, name, name_len, has_version, version, 0, out, err);
        }
        rc = swarm_err_set_flags(err, SWARM_ERR_TIMEOUT, SWARM_ERR_F_RETRIABLE,
                                 "model \"%.*s\" version %" PRId32 " is still loading",
                                 (int)(name_len > MODELS_NAME_QUOTED ? MODELS_NAME_QUOTED : name_len), name, version);
        goto out;
found:
        if (e->archived) {
                /* cached (or a tombstone) but archived: the same answer as
                 * for an archived version that was never loaded */
                rc = swarm_err_set(err, SWARM_ERR_NOT_FOUND,
                                   "version %" PRId32 " of \"%.*s\" is archived and no "
                                   "longer served", e->pub.version,
                                   (int)(name_len > MODELS_NAME_QUOTED ? MODELS_NAME_QUOTED
                                                                       : name_len), name);
                goto out;
        }
        e->refs++;
        e->used = ++mm->clock;
        *out = &e->pub;
out:
        pthread_mutex_unlock(&mm->lock);
        return rc;
}

void models_release(models_t *mm, models_ref_t *ref) {
        if (!ref)
                return;
        pthread_mutex_lock(&mm->lock);
        ((entry_t *)ref)->refs--;
        pthread_mutex_unlock(&mm->lock);
}

void models_deployment(models_t *mm, const char *name, size_t name_len,
                       int64_t *max_batch_rows, int64_t *max_delay_us) {
        follow_t *f;

        pthread_mutex_lock(&mm->lock);
        f = cache_find_follow(mm, name, name_len);
        *max_batch_rows = f ? f->max_batch_rows : 0;
        *max_delay_us = f ? f->max_delay_us : 0;
        pthread_mutex_unlock(&mm->lock);
}

int models_refs(models_t *mm, models_ref_t **out, int cap) {
        int n = 0;

        pthread_mutex_lock(&mm->lock);
        for (follow_t *f = mm->follows; f && n < cap; f = f->next)
                if (f->target) {
                        f->target->refs++;
                        out[n++] = &f->target->pub;
                }
        for (entry_t *e = mm->entries; e && n < cap; e = e->next)
                if (e->is_static) {
                        e->refs++;
                        out[n++] = &e->pub;
                }
        pthread_mutex_unlock(&mm->lock);
        return n;
}

int models_count(models_t *mm) {
        int n = 0;

        pthread_mutex_lock(&mm->lock);
        for (follow_t *f = mm->follows; f; f = f->next)
                n += f->target != NULL;
        for (entry_t *e = mm->entries; e; e = e->next)
                n += e->is_static;
        pthread_mutex_unlock(&mm->lock);
        return n;
}
