/*
 * models_state.c - the last-known registry state in --state-dir: one
 * SHA256.onnx per alias target and a `state` file (version, sha256, name per
 * line), written atomically, read when the registry is unreachable at start.
 */
#include <errno.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models_int.h"
#include "swarm/codec.h"
#include "swarm/fileio.h"

/* A state line: version, tab, 64 hex digits, tab, the name, newline. */
#define STATE_LINE_EXTRA 100

static int write_file(const char *path, const void *buf, size_t len) {
        char tmp[MODELS_PATH_SIZE];
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
void state_save(models_t *mm, const char *name, const entry_t *e) {
        char path[MODELS_PATH_SIZE];
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
                need = strlen(f->name) + STATE_LINE_EXTRA;
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
int state_load(models_t *mm, swarm_err_t *err) {
        char path[MODELS_PATH_SIZE], line[MODELS_PATH_SIZE];
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
                if (mm->names && !cache_find_follow(mm, name, strlen(name)))
                        continue;       /* not one of ours */
                snprintf(path, sizeof(path), "%s/%s.onnx", mm->state_dir, sha);
                swarm_err_clear(&e2);
                swarm_fileio_read_path(path, &buf, &len, &e2);
                if (!e2.code) {
                        char hex[65];
                        swarm_sha256_hex(buf, len, hex);
                        if (strcmp(hex, sha))
                                swarm_err_set(&e2, SWARM_ERR_INVALID, "%s: sha256 mismatch", path);
                }
                if (!e2.code)
                        cache_entry_load(mm, name, (int32_t)version, buf, len, &e, &e2);
                free(buf);
                if (e2.code) {
                        SWARM_ERROR(mm->log, "state model skipped name=%s error=\"%s\"", name,
                                    e2.msg);
                        continue;
                }
                if (!(fl = cache_find_follow(mm, name, strlen(name)))) {
                        if (!(fl = calloc(1, sizeof(*fl))) || !(fl->name = strdup(name))) {
                                free(fl);
                                cache_entry_destroy(e);
                                rc = swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                                break;
                        }
                        fl->next = mm->follows;
                        mm->follows = fl;
                }
                fl->target = cache_insert(mm, e);
                if (fl->target != e)
                        cache_entry_destroy(e);
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
