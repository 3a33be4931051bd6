/*
 * test_models_cache.c - the model manager's version cache evicts the least
 * recently used version first, and never one that is referenced, static or
 * an alias target; while everything left is pinned it stays over the bound.
 * No registry, no model files: entries carry sizes only.
 */
#include <string.h>

#include "check.h"
#include "models_int.h"
#include "swarm/backend.h"

/* A model with host steps (int64 ids: Gather, Equal, TopK ...) loaded
 * through a backend whose buffers are device memory (host_mem = 0, the CPU
 * kernels behind it, as test_model_errors' staged backend) is logged once
 * with the steps placed on the CPU and why. */
static void test_host_placement(const char *path) {
        swarm_err_t err;
        swarm_backend_t *cpu, staged;
        models_t mm;
        entry_t *e = NULL;
        char line[4096], all[16384] = "";
        swarm_log_t lg = {SWARM_LOG_INFO, "test", NULL};
        FILE *f = tmpfile();
        size_t n = 0;
        int lines = 0;

        CHECK(f != NULL);
        lg.out = f;
        swarm_err_clear(&err);
        (void)swarm_backend_cpu_new(1, &cpu, &err);
        CHECK(cpu != NULL, "cpu backend: %s", err.msg);
        staged = *cpu;
        staged.name = "staged";
        staged.host_mem = 0;
        staged.destroy = NULL;
        memset(&mm, 0, sizeof(mm));
        mm.be = &staged;
        mm.log = &lg;
        CHECK(cache_entry_load_path(&mm, "shaped", 1, path, NULL, 0, &e, &err) == 0,
              "load %s: %s", path, err.msg);
        rewind(f);
        while (fgets(line, sizeof(line), f) && n + strlen(line) < sizeof(all)) {
                if (strstr(line, "placed on the CPU"))
                        lines++;
                memcpy(all + n, line, strlen(line) + 1);
                n += strlen(line);
        }
        fclose(f);
        CHECK(lines == 1, "%d placement lines in: %s", lines, all);
        CHECK(strstr(all, "steps on the host") && strstr(all, "on staged") &&
              strstr(all, "(TopK)"), "placement line: %s", all);
        cache_entry_destroy(e);

        /* the CPU backend itself runs host steps in place: nothing logged */
        f = tmpfile();
        lg.out = f;
        mm.be = cpu;
        CHECK(cache_entry_load_path(&mm, "shaped", 1, path, NULL, 0, &e, &err) == 0,
              "load %s: %s", path, err.msg);
        CHECK(ftell(f) == 0, "the CPU backend logged a placement");
        fclose(f);
        cache_entry_destroy(e);
        swarm_backend_destroy(cpu);
}

static entry_t *entry(const char *name, int32_t version, size_t bytes) {
        entry_t *e = calloc(1, sizeof(*e));
        e->name = strdup(name);
        e->pub.name = e->name;
        e->pub.version = version;
        e->bytes = bytes;
        return e;
}

/* Versions of the entries still cached, in list order, as "1,2,3". */
static const char *cached(models_t *mm) {
        static char buf[128];
        size_t n = 0;
        buf[0] = '\0';
        for (entry_t *e = mm->entries; e && n < sizeof(buf) - 8; e = e->next)
                n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%d", n ? "," : "",
                                      (int)e->pub.version);
        return buf;
}

/* Evict what is over the bound; returns how many went. */
static int evict(models_t *mm) {
        entry_t *dead = cache_evict(mm);
        int n = 0;
        for (entry_t *e = dead; e; e = e->next)
                n++;
        cache_destroy_list(mm, dead);
        return n;
}

static void touch(models_t *mm, entry_t *e) {
        e->used = ++mm->clock;
}

int main(int argc, char **argv) {
        models_t mm;
        follow_t f;
        entry_t *v1, *v2, *v3, *v4, *v5, *v6;

        memset(&mm, 0, sizeof(mm));
        memset(&f, 0, sizeof(f));
        mm.cache_bytes = 300;

        v1 = cache_insert(&mm, entry("m", 1, 100));
        v2 = cache_insert(&mm, entry("m", 2, 100));
        v3 = cache_insert(&mm, entry("m", 3, 100));
        CHECK(mm.bytes == 300 && evict(&mm) == 0, "at the bound nothing goes");
        CHECK(!strcmp(cached(&mm), "3,2,1"), "cached %s", cached(&mm));
        /* inserting the same version again returns the cached one */
        {
                entry_t *dup = entry("m", 2, 100);
                CHECK(cache_insert(&mm, dup) == v2 && mm.bytes == 300);
                cache_entry_destroy(dup);
        }

        /* 1 was used last: 2 is the least recently used and goes first */
        touch(&mm, v1);
        v4 = cache_insert(&mm, entry("m", 4, 100));
        CHECK(mm.bytes == 400);
        CHECK(evict(&mm) == 1 && !strcmp(cached(&mm), "4,3,1"),
              "LRU evicted: left %s", cached(&mm));
        CHECK(mm.bytes == 300, "bytes %zu", mm.bytes);
        CHECK(cache_find(&mm, "m", 1, 2) == NULL && cache_find(&mm, "m", 1, 3) == v3);

        /* a referenced version stays even when it is the oldest (3) */
        v3->refs = 1;
        v5 = cache_insert(&mm, entry("m", 5, 100));
        CHECK(evict(&mm) == 1 && !strcmp(cached(&mm), "5,4,3"),
              "referenced 3 kept, LRU 1 evicted: left %s", cached(&mm));

        /* an alias target (4) and a static model (5) are never evicted */
        f.name = "m";
        f.target = v4;
        mm.follows = &f;
        v5->is_static = 1;
        v6 = cache_insert(&mm, entry("m", 6, 100));
        CHECK(evict(&mm) == 1 && !strcmp(cached(&mm), "5,4,3"),
              "the only unpinned version (6, newest) goes: left %s", cached(&mm));
        (void)v6;

        /* everything pinned: over the bound, nothing to evict */
        cache_insert(&mm, entry("n", 1, 100));
        mm.entries->refs = 1;
        CHECK(evict(&mm) == 0 && mm.bytes == 400, "pinned: bytes %zu", mm.bytes);

        /* released: the oldest unpinned goes (3 before n:1) */
        v3->refs = 0;
        mm.entries->refs = 0;
        CHECK(evict(&mm) == 1 && !strcmp(cached(&mm), "1,5,4"),
              "after release: left %s", cached(&mm));

        /* no bound: nothing is ever evicted */
        mm.cache_bytes = 0;
        mm.follows = NULL;
        v5->is_static = 0;
        CHECK(evict(&mm) == 0);

        /* an archived version not cached becomes a tombstone (no model, no
         * bytes) that answers for it; loaded again once it is active, the
         * fresh entry replaces the tombstone */
        {
                size_t before = mm.bytes;
                entry_t *t, *t7;
                cache_tombstone(&mm, "t", 7);
                t = cache_find(&mm, "t", 1, 7);
                CHECK(t && is_tombstone(t) && t->bytes == 0 && mm.bytes == before);
                t7 = cache_insert(&mm, entry("t", 7, 50));
                CHECK(t7 != t && !t7->archived && cache_find(&mm, "t", 1, 7) == t7 &&
                      mm.bytes == before + 50, "bytes %zu", mm.bytes);
                /* archiving a cached one only marks it */
                cache_tombstone(&mm, "t", 7);
                CHECK(t7->archived && cache_find(&mm, "t", 1, 7) == t7);
        }

        while (mm.entries) {
                entry_t *n = mm.entries->next;
                cache_entry_destroy(mm.entries);
                mm.entries = n;
        }
        (void)v1;
        if (argc > 1)
                test_host_placement(argv[1]);
        TEST_DONE();
}
