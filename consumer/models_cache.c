/*
 * models_cache.c - loaded model versions and their LRU bound (see
 * models_int.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models_int.h"
#include "swarm/codec.h"

void cache_entry_destroy(entry_t *e) {
        if (!e)
                return;
        swarm_model_destroy(e->pub.m);
        free(e->name);
        free(e);
}

/* Load bytes into a new entry and check what the worker needs (a batch
 * dimension, at most SWARM_MAX_INPUTS tensors).  No lock held. */
int cache_entry_load(models_t *mm, const char *name, int32_t version,
                      const void *buf, size_t len, entry_t **out,
                      swarm_err_t *err) {
        return cache_entry_load_path(mm, name, version, NULL, buf, len, out, err);
}

int cache_entry_load_path(models_t *mm, const char *name, int32_t version,
                          const char *path, const void *buf, size_t len,
                          entry_t **out, swarm_err_t *err) {
        entry_t *e = calloc(1, sizeof(*e));
        int rc;

        *out = NULL;
        if (!e || !(e->name = strdup(name))) {
                free(e);
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        }
        if ((rc = path ? swarm_model_load_file(path, mm->be, &e->pub.m, err)
                       : swarm_model_load_mem(buf, len, mm->be, &e->pub.m, err)))
                goto fail;
        for (int i = 0; i < swarm_model_n_inputs(e->pub.m); i++) {
                const swarm_model_io_t *io = swarm_model_input(e->pub.m, i);
                /* row_bytes is 0 when a non-batch dim is symbolic: its
                 * rows are sized per batch from the requests' shapes */
                if (io->ndim < 1 || (io->row_bytes == 0 && !(io->sym & ~1u))) {
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
        if (!mm->be->host_mem && swarm_model_n_host_steps(e->pub.m) > 0) {
                /* A device backend runs these steps on the CPU (no device
                 * kernel, or tensors of a dtype the device kernels do not
                 * take): the operator should know where the time goes. */
                char hs[1024];
                swarm_model_host_summary(e->pub.m, hs, sizeof(hs));
                SWARM_INFO(mm->log, "model %s version %" PRId32 " on %s: %s (placed on "
                           "the CPU: no %s kernel for the operator or its dtype; inputs "
                           "and outputs staged through host memory)",
                           name, version, mm->be->name, hs, mm->be->name);
        }
        swarm_sha256_hex(buf, len, e->sha256);
        e->pub.name = e->name;
        e->pub.version = version;
        e->pub.sig = e->sig;
        e->bytes = len;
        *out = e;
        return SWARM_OK;
fail:
        swarm_err_prefix(err, "model %s version %" PRId32 ": ", name, version);
        cache_entry_destroy(e);
        return rc;
}

/* Under the lock. */
entry_t *cache_find(models_t *mm, const char *name, size_t len, int32_t version) {
        for (entry_t *e = mm->entries; e; e = e->next)
                if (e->pub.version == version && strlen(e->name) == len &&
                    !memcmp(e->name, name, len))
                        return e;
        return NULL;
}

follow_t *cache_find_follow(models_t *mm, const char *name, size_t len) {
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
entry_t *cache_evict(models_t *mm) {
        entry_t *dead = NULL;

        /* archived versions give their memory back first, bound or not:
         * they are never served again.  The entry stays as a tombstone (no
         * model, no bytes) so their requests are answered at once, not
         * each sent to the registry. */
        for (entry_t *e = mm->entries; e; e = e->next) {
                if (!e->archived || !e->pub.m || e->refs || e->is_static || is_target(mm, e))
                        continue;
                SWARM_INFO(mm->log, "model evicted name=%s version=%" PRId32 " bytes=%zu "
                           "reason=archived", e->name, e->pub.version, e->bytes);
                swarm_model_destroy(e->pub.m);
                e->pub.m = NULL;
                mm->bytes -= e->bytes;
                e->bytes = 0;
        }
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

void cache_destroy_list(models_t *mm, entry_t *dead) {
        while (dead) {
                entry_t *n = dead->next;
                SWARM_INFO(mm->log, "model evicted name=%s version=%" PRId32 " bytes=%zu",
                           dead->name, dead->pub.version, dead->bytes);
                cache_entry_destroy(dead);
                dead = n;
        }
}

/* Under the lock: add a loaded entry (or return the one already there).
 * The version was just read as active, so a tombstone of it (archived
 * before, active again) is replaced. */
entry_t *cache_insert(models_t *mm, entry_t *e) {
        entry_t *have;

        for (entry_t **pp = &mm->entries; *pp; pp = &(*pp)->next)
                if (is_tombstone(*pp) && (*pp)->pub.version == e->pub.version &&
                    !strcmp((*pp)->name, e->name)) {
                        entry_t *t = *pp;
                        *pp = t->next;
                        cache_entry_destroy(t);
                        break;
                }
        have = cache_find(mm, e->name, strlen(e->name), e->pub.version);
        if (have)
                return have;
        e->next = mm->entries;
        mm->entries = e;
        mm->bytes += e->bytes;
        e->used = ++mm->clock;
        return e;
}

/* ------------------------------------------------------------ registry side */

/* Under the lock: remember that `version` of `name` is archived (a
 * tombstone: no model, no bytes), so its requests are answered at once
 * rather than each sent to the registry.  follow_check_archived() drops it
 * if the version becomes active again.  Out of memory: not remembered. */
void cache_tombstone(models_t *mm, const char *name, int32_t version) {
        entry_t *e;

        if ((e = cache_find(mm, name, strlen(name), version))) {
                e->archived = 1;
                return;
        }
        if (!(e = calloc(1, sizeof(*e))) || !(e->name = strdup(name))) {
                free(e);
                return;
        }
        e->pub.name = e->name;
        e->pub.version = version;
        e->pub.sig = e->sig;
        e->archived = 1;
        e->used = ++mm->clock;
        e->next = mm->entries;
        mm->entries = e;
}
