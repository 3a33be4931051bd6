/*
 * models.c - the worker's model manager (see models.h).
 *
 * One mutex guards the entries (loaded versions), the followed registry
 * models and the load requests; it is held for lookups and pointer swaps
 * only.  Fetching, hashing and loading happen on the background thread with
 * the lock released, so a 100 MB download never stalls resolve().
 *
 * The background thread owns the registry connection.  It wakes on a
 * NOTIFY, on a load request (a byte on the wake pipe), or every second, and
 * re-reads all followed aliases on a notification or reconnect: a handful of
 * indexed queries, and it cannot miss a change whatever the payload said.
 */
#include "models.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "swarm/codec.h"
#include "swarm/registry.h"

typedef struct entry {
        models_ref_t pub;       /* first: a models_ref_t * is an entry_t * */
        char *name;
        char sig[512];
        char sha256[65];
        size_t bytes;
        int refs;
        int is_static;
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

static int64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void entry_free(entry_t *e) {
        if (!e)
                return;
        swarm_model_destroy(e->pub.m);
        free(e->name);
        free(e);
}

/* Load bytes into a new entry and check what the worker needs (a batch
 * dimension, at most SWARM_MAX_INPUTS tensors).  No lock held. */
static int entry_load(models_t *mm, const char *name, int32_t version,
                      const void *buf, size_t len, entry_t **out,
                      swarm_err_t *err) {
        entry_t *e = calloc(1, sizeof(*e));
        int rc;

        *out = NULL;
        if (!e || !(e->name = strdup(name))) {
                free(e);
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        }
        if ((rc = swarm_model_load_mem(buf, len, mm->be, &e->pub.m, err)))
                goto fail;
        for (int i = 0; i < swarm_model_n_inputs(e->pub.m); i++) {
                const swarm_model_io_t *io = swarm_model_input(e->pub.m, i);
                if (io->ndim < 1 || io->row_bytes == 0) {
                        rc = swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                           "input %s has no batch dimension", io->name);
                        goto fail;
                }
        }
        if (swarm_model_n_inputs(e->pub.m) > SWARM_MAX_INPUTS ||
            swarm_model_n_outputs(e->pub.m) > SWARM_MAX_INPUTS) {
                rc = swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                   "more than %d inputs or outputs", SWARM_MAX_INPUTS);
                goto fail;
        }
        swarm_model_signature(e->pub.m, e->sig, sizeof(e->sig));
        swarm_sha256_hex(buf, len, e->sha256);
        e->pub.name = e->name;
        e->pub.version = version;
        e->pub.sig = e->sig;
        e->bytes = len;
        *out = e;
        return SWARM_OK;
fail:
        swarm_err_prefix(err, "model %s version %" PRId32 ": ", name, version);
        entry_free(e);
        return rc;
}

/* Under the lock. */
static entry_t *find_entry(models_t *mm, const char *name, size_t len, int32_t version) {
        for (entry_t *e = mm->entries; e; e = e->next)
                if (e->pub.version == version && strlen(e->name) == len &&
                    !memcmp(e->name, name, len))
                        return e;
        return NULL;
}

static follow_t *find_follow(models_t *mm, const char *name, size_t len) {
        for (follow_t *f = mm->follows; f; f = f->next)
                if (strlen(f->name) == len && !memcmp(f->name, name, len))
                        return f;
        return NULL;
}

static int is_target(models_t *mm, const entry_t *e) {
        for (follow_t *f = mm->follows; f; f = f->next)
                if (f->target == e)
                        return 1;
        return 0;
}

/* Unlink least recently used victims while over the bound; returns them
 * for destruction outside the lock.  Under the lock. */
static entry_t *evict(models_t *mm) {
        entry_t *dead = NULL;

        while (mm->cache_bytes && mm->bytes > mm->cache_bytes) {
                entry_t **victim = NULL;
                for (entry_t **pp = &mm->entries; *pp; pp = &(*pp)->next) {
                        entry_t *e = *pp;
                        if (e->refs || e->is_static || is_target(mm, e))
                                continue;
                        if (!victim || e->used < (*victim)->used)
                                victim = pp;
                }
                if (!victim)
                        break;  /* everything left is pinned or in use */
                entry_t *e = *victim;
                *victim = e->next;
                mm->bytes -= e->bytes;
                e->next = dead;
                dead = e;
        }
        return dead;
}

static void free_list(models_t *mm, entry_t *dead) {
        while (dead) {
                entry_t *n = dead->next;
                SWARM_INFO(mm->log, "model evicted name=%s version=%" PRId32 " bytes=%zu",
                           dead->name, dead->pub.version, dead->bytes);
                entry_free(dead);
                dead = n;
        }
}

/* Under the lock: add a loaded entry (or return the one already there). */
static entry_t *insert(models_t *mm, entry_t *e) {
        entry_t *have = find_entry(mm, e->name, strlen(e->name), e->pub.version);
        if (have)
                return have;
        e->next = mm->entries;
        mm->entries = e;
        mm->bytes += e->bytes;
        e->used = ++mm->clock;
        return e;
}

/* ------------------------------------------------------------ registry side */

/* Fetch (sha256 verified by the registry layer) and load a version.
 * Background thread (or models_new before it starts); no lock held. */
static int load_version(models_t *mm, const char *name, int32_t version,
                        entry_t **out, swarm_err_t *err) {
        void *buf = NULL;
        size_t len = 0;
        int64_t t0 = now_ms();
        int rc;

        if ((rc = swarm_registry_fetch(mm->reg, name, version, &buf, &len, err)))
                return rc;
        rc = entry_load(mm, name, version, buf, len, out, err);
        free(buf);
        if (!rc)
                SWARM_INFO(mm->log, "model loaded name=%s version=%" PRId32
                           " bytes=%zu sha256=%s load_ms=%" PRId64 " signature=\"%s\"",
                           name, version, len, (*out)->sha256, now_ms() - t0, (*out)->sig);
        return rc;
}

static void save_state(models_t *mm, const char *name, const entry_t *e);

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
        cur = f->target ? f->target->pub.version : 0;
        pthread_mutex_unlock(&mm->lock);
        swarm_registry_deployment_clear(&d);
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
                swarm_registry_version_clear(&v);
                return SWARM_OK;
        }
        pthread_mutex_lock(&mm->lock);
        e = find_entry(mm, f->name, strlen(f->name), v.version);
        pthread_mutex_unlock(&mm->lock);
        if (!e) {
                if ((rc = load_version(mm, f->name, v.version, &e, err))) {
                        /* keep serving the old version; say so clearly */
                        SWARM_ERROR(mm->log, "model switch failed name=%s alias=%s version=%" PRId32
                                    " serving=%" PRId32 " error=\"%s\"",
                                    f->name, mm->alias, v.version, cur, err->msg);
                        f->failed = v.version;
                        swarm_registry_version_clear(&v);
                        if (rc == SWARM_ERR_IO && !swarm_registry_connected(mm->reg))
                                return rc;      /* the connection: reconnect */
                        swarm_err_clear(err);
                        return SWARM_OK;
                }
        }
        pthread_mutex_lock(&mm->lock);
        e = insert(mm, e) == e ? e : (entry_free(e), find_entry(mm, f->name, strlen(f->name),
                                                                   v.version));
        old = f->target;
        f->target = e;          /* the swap: the next resolve() gets e */
        f->failed = 0;
        e->used = ++mm->clock;
        pthread_mutex_unlock(&mm->lock);
        SWARM_INFO(mm->log, "model switched name=%s alias=%s from=%" PRId32 " to=%" PRId32,
                   f->name, mm->alias, old ? old->pub.version : 0, v.version);
        swarm_registry_version_clear(&v);
        if (mm->state_dir)
                save_state(mm, f->name, e);
        return SWARM_OK;
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
                        f = find_follow(mm, *p, strlen(*p));
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
                swarm_registry_names_free(names);
        }
        /* follows are only ever added, never removed while running, so the
         * list can be walked without the lock */
        for (follow_t *f = mm->follows; f; f = f->next)
                if ((rc = sync_one(mm, f, err)))
                        return rc;
        return SWARM_OK;
}

/* Serve explicit-version load requests. */
static int serve_requests(models_t *mm) {
        for (;;) {
                request_t *q = NULL;
                entry_t *e = NULL;
                swarm_err_t err;
                int rc;

                pthread_mutex_lock(&mm->lock);
                for (q = mm->reqs; q && q->done; q = q->next)
                        ;
                pthread_mutex_unlock(&mm->lock);
                if (!q)
                        return SWARM_OK;
                swarm_err_clear(&err);
                if (!mm->reg) {
                        rc = swarm_err_set(&err, SWARM_ERR_IO, "the registry is unreachable");
                        err.retriable = 1;
                } else {
                        rc = load_version(mm, q->name, q->version, &e, &err);
                }
                if (rc)         /* before the waiter may free q */
                        SWARM_ERROR(mm->log, "model load failed name=%s version=%" PRId32
                                    " error=\"%s\"", q->name, q->version, err.msg);
                pthread_mutex_lock(&mm->lock);
                if (rc) {
                        q->done = -1;
                        q->err = err;
                } else {
                        insert(mm, e) == e ? (void)0 : entry_free(e);
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

static int connect_and_sync(models_t *mm, swarm_err_t *err) {
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

static void *thread_main(void *arg) {
        models_t *mm = arg;
        int64_t backoff = 100;
        swarm_err_t err;

        while (!atomic_load(&mm->stop)) {
                char *payload = NULL;
                entry_t *dead;
                int rc;

                swarm_err_clear(&err);
                if (!mm->reg) {
                        if (connect_and_sync(mm, &err)) {
                                SWARM_WARN(mm->log, "registry reconnect failed retry_ms=%" PRId64
                                           " error=\"%s\"", backoff, err.msg);
                                serve_requests(mm);     /* fail them, do not hang */
                                nap(mm, backoff);
                                backoff = backoff * 2 > mm->backoff_max_ms ? mm->backoff_max_ms
                                                                           : backoff * 2;
                                continue;
                        }
                        SWARM_INFO(mm->log, "registry reconnected aliases=reloaded");
                        backoff = 100;
                }
                if (serve_requests(mm)) {
                        disconnect(mm, "load request");
                        continue;
                }
                rc = swarm_registry_wait(mm->reg, 1000, mm->wake[0], &payload, &err);
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
                dead = evict(mm);
                pthread_mutex_unlock(&mm->lock);
                free_list(mm, dead);
        }
        return NULL;
}

/* ------------------------------------------------------------ last-known state */

static int write_file(const char *path, const void *buf, size_t len) {
        char tmp[4200];
        FILE *f;
        int ok;

        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
        if (!(f = fopen(tmp, "wb")))
                return -1;
        ok = fwrite(buf, 1, len, f) == len;
        ok &= fclose(f) == 0;
        /* rename: a crash never leaves a half-written state behind */
        return ok && !rename(tmp, path) ? 0 : -1;
}

/* Background thread, after a switch: keep SHA256.onnx of the new target and
 * rewrite `state`.  Failures are logged; serving does not depend on them. */
static void save_state(models_t *mm, const char *name, const entry_t *e) {
        char path[4200];
        void *buf = NULL;
        size_t len = 0, n = 0, cap = 0;
        char *text = NULL;
        swarm_err_t err;
        FILE *probe;

        if (strchr(name, '\n')) {
                SWARM_WARN(mm->log, "state not saved name=%s reason=\"newline in name\"", name);
                return;
        }
        snprintf(path, sizeof(path), "%s/%s.onnx", mm->state_dir, e->sha256);
        if ((probe = fopen(path, "rb"))) {
                fclose(probe);          /* same bytes already there */
        } else {
                swarm_err_clear(&err);
                if (swarm_registry_fetch(mm->reg, name, e->pub.version, &buf, &len, &err) ||
                    write_file(path, buf, len)) {
                        SWARM_WARN(mm->log, "state not saved name=%s path=%s error=\"%s\"", name,
                                   path, err.code ? err.msg : strerror(errno));
                        free(buf);
                        return;
                }
                free(buf);
        }
        pthread_mutex_lock(&mm->lock);
        for (follow_t *f = mm->follows; f; f = f->next) {
                size_t need;
                if (!f->target || strchr(f->name, '\n'))
                        continue;
                need = strlen(f->name) + 100;
                if (n + need > cap) {
                        char *nt = realloc(text, cap = (n + need) * 2);
                        if (!nt)
                                break;
                        text = nt;
                }
                n += (size_t)snprintf(text + n, cap - n, "%" PRId32 "\t%s\t%s\n",
                                      f->target->pub.version, f->target->sha256, f->name);
        }
        pthread_mutex_unlock(&mm->lock);
        snprintf(path, sizeof(path), "%s/state", mm->state_dir);
        if (write_file(path, text ? text : "", n))
                SWARM_WARN(mm->log, "state not saved path=%s error=\"%s\"", path, strerror(errno));
        free(text);
}

/* models_new, registry unreachable: serve what the state folder holds. */
static int load_state(models_t *mm, swarm_err_t *err) {
        char path[4200], line[4200];
        FILE *f;
        int n = 0, rc = SWARM_OK;

        snprintf(path, sizeof(path), "%s/state", mm->state_dir);
        if (!(f = fopen(path, "r")))
                return swarm_err_set(err, SWARM_ERR_NOT_FOUND, "%s: %s", path, strerror(errno));
        while (fgets(line, sizeof(line), f)) {
                char *sha, *name, *nl;
                long version = strtol(line, &sha, 10);
                void *buf = NULL;
                size_t len = 0;
                entry_t *e = NULL;
                follow_t *fl;
                swarm_err_t e2;

                if (*sha != '\t' || !(name = strchr(sha + 1, '\t')))
                        continue;
                *sha++ = '\0';
                *name++ = '\0';
                if ((nl = strchr(name, '\n')))
                        *nl = '\0';
                if (mm->names && !find_follow(mm, name, strlen(name)))
                        continue;       /* not one of ours */
                snprintf(path, sizeof(path), "%s/%s.onnx", mm->state_dir, sha);
                swarm_err_clear(&e2);
                {
                        FILE *af = fopen(path, "rb");
                        long sz;
                        if (af && !fseek(af, 0, SEEK_END) && (sz = ftell(af)) >= 0 &&
                            !fseek(af, 0, SEEK_SET) && (buf = malloc((size_t)sz + 1)) &&
                            fread(buf, 1, (size_t)sz, af) == (size_t)sz)
                                len = (size_t)sz;
                        else
                                swarm_err_set(&e2, SWARM_ERR_IO, "%s: cannot read", path);
                        if (af)
                                fclose(af);
                }
                if (!e2.code) {
                        char hex[65];
                        swarm_sha256_hex(buf, len, hex);
                        if (strcmp(hex, sha))
                                swarm_err_set(&e2, SWARM_ERR_INVALID, "%s: sha256 mismatch", path);
                }
                if (!e2.code)
                        entry_load(mm, name, (int32_t)version, buf, len, &e, &e2);
                free(buf);
                if (e2.code) {
                        SWARM_ERROR(mm->log, "state model skipped name=%s error=\"%s\"", name,
                                    e2.msg);
                        continue;
                }
                if (!(fl = find_follow(mm, name, strlen(name)))) {
                        if (!(fl = calloc(1, sizeof(*fl))) || !(fl->name = strdup(name))) {
                                free(fl);
                                entry_free(e);
                                rc = swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                                break;
                        }
                        fl->next = mm->follows;
                        mm->follows = fl;
                }
                fl->target = insert(mm, e);
                if (fl->target != e)
                        entry_free(e);
                SWARM_WARN(mm->log, "model loaded from last-known state name=%s version=%ld "
                           "sha256=%s", name, version, sha);
                n++;
        }
        fclose(f);
        if (!rc && !n)
                rc = swarm_err_set(err, SWARM_ERR_NOT_FOUND, "no usable model in %s/state",
                                   mm->state_dir);
        return rc;
}

/* ------------------------------------------------------------ public */

static int add_static(models_t *mm, const char *spec, swarm_err_t *err) {
        const char *eq = strchr(spec, '=');
        char name[256], *colon, *end;
        long version = 1;
        void *buf = NULL;
        size_t len = 0, cap = 0;
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
        if (find_entry(mm, name, strlen(name), (int32_t)version))
                return swarm_err_set(err, SWARM_ERR_INVALID, "model %s version %ld given twice",
                                     name, version);
        if (!(f = fopen(eq + 1, "rb")))
                return swarm_err_set(err, SWARM_ERR_IO, "model %s: %s: %s", name, eq + 1,
                                     strerror(errno));
        for (;;) {
                size_t got;
                if (len == cap) {
                        void *nb = realloc(buf, cap = cap ? cap * 2 : 1 << 16);
                        if (!nb) {
                                rc = swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                                fclose(f);
                                goto out;
                        }
                        buf = nb;
                }
                if (!(got = fread((char *)buf + len, 1, cap - len, f)))
                        break;
                len += got;
        }
        fclose(f);
        if ((rc = entry_load(mm, name, (int32_t)version, buf, len, &e, err))) {
                swarm_err_prefix(err, "%s: ", eq + 1);
                goto out;
        }
        e->is_static = 1;
        insert(mm, e);
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
        mm->backoff_max_ms = o->backoff_max_ms > 0 ? o->backoff_max_ms : 5000;
        mm->use_registry = o->use_registry;
        pthread_mutex_init(&mm->lock, NULL);
        {
                pthread_condattr_t ca;
                pthread_condattr_init(&ca);
                pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
                pthread_cond_init(&mm->cond, &ca);
                pthread_condattr_destroy(&ca);
        }
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
        mm->topic = strdup(o->request_topic ? o->request_topic : "requests");
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
        if ((rc = connect_and_sync(mm, err))) {
                swarm_err_t e2;
                swarm_err_clear(&e2);
                if (!mm->state_dir || !o->start_from_state || load_state(mm, &e2)) {
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
        if (pthread_create(&mm->thr, NULL, thread_main, mm)) {
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
                entry_free(mm->entries);
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
                return find_entry(mm, name, len, version);
        if ((f = find_follow(mm, name, len)) && f->target)
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
        if (!has_version || !mm->use_registry || !find_follow(mm, name, name_len)) {
                rc = swarm_err_set(err, SWARM_ERR_NOT_FOUND, "model \"%.*s\"%s is not served",
                                   (int)(name_len > 200 ? 200 : name_len), name,
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
                rc = swarm_err_set(err, q->err.code, "%s", q->err.msg);
                err->retriable = q->err.retriable;
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
        clock_gettime(CLOCK_MONOTONIC, &dl);
        dl.tv_sec += wait_ms / 1000;
        dl.tv_nsec += (long)(wait_ms % 1000) * 1000000;
        if (dl.tv_nsec >= 1000000000) {
                dl.tv_sec++;
                dl.tv_nsec -= 1000000000;
        }
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
                if ((e = find_entry(mm, name, name_len, version)))
                        goto found;
                rc = swarm_err_set(err, SWARM_ERR_NOT_FOUND, "model version evicted");
                goto out;
        }
        if (q->done == -1) {
                pthread_mutex_unlock(&mm->lock);
                return models_resolve(mm, name, name_len, has_version, version, 0, out, err);
        }
        rc = swarm_err_set(err, SWARM_ERR_TIMEOUT, "model \"%.*s\" version %" PRId32
                           " is still loading", (int)(name_len > 200 ? 200 : name_len), name,
                           version);
        err->retriable = 1;
        goto out;
found:
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
        f = find_follow(mm, name, name_len);
        *max_batch_rows = f ? f->max_batch_rows : 0;
        *max_delay_us = f ? f->max_delay_us : 0;
        pthread_mutex_unlock(&mm->lock);
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
