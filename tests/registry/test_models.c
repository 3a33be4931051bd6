/*
 * test_models - the worker's model manager against a real PostgreSQL
 * (run under tests/lib/with-postgres.sh).
 *
 *   static files resolve as before (highest version without a version)
 *   production alias resolves; deployment settings are exposed
 *   a promotion reaches the manager via NOTIFY within 1 s (printed), and a
 *     reference taken before it keeps the old model usable
 *   an explicit version is loaded on demand
 *   a tampered artifact (sha256 mismatch) is refused; the old one serves
 *   PostgreSQL stopped: resolve serves from cache; after a restart a new
 *     promotion arrives
 *
 * usage: test_models MLP.onnx IDENTITY.onnx   (SWARM_PG_CTL from the harness)
 */
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "models.h"
#include "swarm/clock.h"
#include "swarm/registry.h"

#define MUST(call)                                                             \
        do {                                                                   \
                swarm_err_clear(&err);                                         \
                if (call) {                                                    \
                        fprintf(stderr, "FATAL %s:%d: %s: %s\n", __FILE__,     \
                                __LINE__, #call, err.msg);                     \
                        exit(1);                                               \
                }                                                              \
        } while (0)

static void *slurp(const char *path, size_t *len) {
        FILE *f = fopen(path, "rb");
        void *b;
        long n;
        if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
                fprintf(stderr, "cannot read %s\n", path);
                exit(1);
        }
        b = malloc((size_t)n + 1);
        if (!b || fread(b, 1, (size_t)n, f) != (size_t)n)
                exit(1);
        fclose(f);
        *len = (size_t)n;
        return b;
}

/* Current version served without a version; 0 when none. */
static int32_t served(models_t *mm, const char *name) {
        models_ref_t *r;
        swarm_err_t err;
        int32_t v;
        swarm_err_clear(&err);
        if (models_resolve(mm, name, strlen(name), 0, 0, 0, &r, &err))
                return 0;
        v = r->version;
        models_release(mm, r);
        return v;
}

/* Poll until `name` is served at `want`; returns the ms it took or -1. */
static double wait_for(models_t *mm, const char *name, int32_t want, double limit_ms) {
        double t0 = ((double)swarm_clock_us() / 1e3);
        while (((double)swarm_clock_us() / 1e3) - t0 < limit_ms) {
                if (served(mm, name) == want)
                        return ((double)swarm_clock_us() / 1e3) - t0;
                usleep(1000);
        }
        return -1;
}

static int run_once(models_ref_t *r) {
        const swarm_model_io_t *io = swarm_model_input(r->m, 0);
        void *in = calloc(1, io->row_bytes);
        const void *ins[1] = {in}, *outs[16];
        swarm_err_t err;
        int rc;
        swarm_err_clear(&err);
        rc = swarm_model_run(r->m, 1, ins, outs, &err);
        free(in);
        return rc;
}

int main(int argc, char **argv) {
        swarm_log_t log = {SWARM_LOG_INFO, "test_models", NULL};
        swarm_registry_t *reg = NULL;
        swarm_backend_t *be;
        models_t *mm = NULL;
        models_ref_t *r1 = NULL, *r2 = NULL;
        swarm_err_t err;
        swarm_registry_new_version_t nv;
        void *mlp, *ident;
        size_t mlp_len, ident_len;
        int32_t v;
        double ms;
        const char *pgctl = getenv("SWARM_PG_CTL");
        char cmd[1024], state_dir[] = "/tmp/test_models_state.XXXXXX";

        if (argc != 3 || !pgctl) {
                fprintf(stderr, "usage: test_models MLP.onnx IDENTITY.onnx (under with-postgres.sh)\n");
                return 2;
        }
        setvbuf(stdout, NULL, _IONBF, 0);
        if (!mkdtemp(state_dir))
                return 1;
        mlp = slurp(argv[1], &mlp_len);
        ident = slurp(argv[2], &ident_len);
        swarm_err_clear(&err);
        if (swarm_backend_cpu_new(1, &be, &err))
                return 1;

        /* static files: highest version without a version, as before */
        {
                char s1[600], s2[600];
                const char *files[2] = {s1, s2};
                models_opts_t o = {0};
                snprintf(s1, sizeof(s1), "ident:2=%s", argv[2]);
                snprintf(s2, sizeof(s2), "ident=%s", argv[2]);
                o.files = files;
                o.n_files = 2;
                o.backend = be;
                MUST(models_new(&o, &log, &mm, &err));
                CHECK(served(mm, "ident") == 2, "static: highest version");
                CHECK(models_count(mm) == 2, "static count");
                CHECK(served(mm, "nope") == 0, "static: unknown model");
                models_destroy(mm);
                mm = NULL;
        }

        /* registry: mlp 1 (bytea), 2 (a copy), 3 (identity), 4 (to tamper) */
        MUST(swarm_registry_connect(NULL, &log, &reg, &err));
        MUST(swarm_registry_migrate(reg, NULL, &err));
        memset(&nv, 0, sizeof(nv));
        nv.model = "mlp";
        nv.artifact = mlp;
        nv.size = mlp_len;
        MUST(swarm_registry_register(reg, &nv, &v, NULL, &err));
        MUST(swarm_registry_register(reg, &nv, &v, NULL, &err));
        nv.artifact = ident;
        nv.size = ident_len;
        MUST(swarm_registry_register(reg, &nv, &v, NULL, &err));
        nv.artifact = mlp;
        nv.size = mlp_len;
        MUST(swarm_registry_register(reg, &nv, &v, NULL, &err));
        CHECK(v == 4, "fourth version");
        MUST(swarm_registry_promote(reg, "mlp", 1, NULL, "test", NULL, &err));
        {
                const char *k[3] = {"request_topic", "max_batch_rows", "max_delay_us"};
                const char *val[3] = {"requests", "32", "500"};
                MUST(swarm_registry_config(reg, "mlp", k, val, 3, "test", &err));
        }

        {
                models_opts_t o = {0};
                o.use_registry = 1;
                o.conninfo = getenv("SWARM_REGISTRY");
                o.request_topic = "requests";   /* follow by topic */
                o.backend = be;
                o.backoff_max_ms = 1000;
                o.cache_bytes = 3 * mlp_len;
                o.state_dir = state_dir;
                MUST(models_new(&o, &log, &mm, &err));
        }
        CHECK(served(mm, "mlp") == 1, "production alias resolves to 1 (got %d)",
              (int)served(mm, "mlp"));
        {
                int64_t rows, delay;
                models_deployment(mm, "mlp", 3, &rows, &delay);
                CHECK(rows == 32 && delay == 500, "deployment settings %" PRId64 " %" PRId64,
                      rows, delay);
        }

        /* an in-flight batch holds version 1 across the switch */
        MUST(models_resolve(mm, "mlp", 3, 0, 0, 0, &r1, &err));
        MUST(swarm_registry_promote(reg, "mlp", 2, NULL, "test switch", NULL, &err));
        ms = wait_for(mm, "mlp", 2, 5000);
        printf("promote-to-manager latency: %.1f ms\n", ms);
        CHECK(ms >= 0 && ms < 1000, "promotion reached the manager in %.1f ms (limit 1000)", ms);
        CHECK(r1->version == 1 && run_once(r1) == 0, "old version still runs while referenced");
        models_release(mm, r1);
        /* switches between cached versions: NOTIFY + a few queries + swap */
        for (int i = 0; i < 6; i++) {
                int32_t to = i % 2 ? 2 : 1;
                MUST(swarm_registry_promote(reg, "mlp", to, NULL, "flip", NULL, &err));
                ms = wait_for(mm, "mlp", to, 5000);
                printf("promote-to-manager latency (cached version %d): %.1f ms\n", (int)to, ms);
                CHECK(ms >= 0 && ms < 1000, "flip reached the manager in %.1f ms", ms);
        }

        /* explicit versions: cached, and loaded on demand */
        MUST(models_resolve(mm, "mlp", 3, 1, 1, 0, &r1, &err));
        CHECK(r1->version == 1, "explicit cached version");
        models_release(mm, r1);
        MUST(models_resolve(mm, "mlp", 3, 1, 3, 10000, &r2, &err));
        CHECK(r2->version == 3 && run_once(r2) == 0, "explicit version loaded on demand");
        models_release(mm, r2);
        swarm_err_clear(&err);
        CHECK(models_resolve(mm, "mlp", 3, 1, 99, 5000, &r2, &err) == SWARM_ERR_NOT_FOUND,
              "missing version: %s", err.msg);

        /* tampered artifact: refused, version 2 keeps serving */
        {
                PGconn *c = PQconnectdb("");
                PGresult *res = PQexec(c, "UPDATE registry.versions SET artifact ="
                                          " set_byte(artifact, 1000, (get_byte(artifact, 1000) + 1) % 256)"
                                          " WHERE version = 4");
                CHECK(PQresultStatus(res) == PGRES_COMMAND_OK, "tamper: %s", PQerrorMessage(c));
                PQclear(res);
                PQfinish(c);
        }
        MUST(swarm_registry_promote(reg, "mlp", 4, NULL, "tampered", NULL, &err));
        usleep(1500 * 1000);
        CHECK(served(mm, "mlp") == 2, "after a sha256 mismatch the old version serves (got %d)",
              (int)served(mm, "mlp"));

        /* PostgreSQL stopped: keep serving; after restart a promotion arrives */
        swarm_registry_destroy(reg);
        reg = NULL;
        snprintf(cmd, sizeof(cmd), "%s stop >/dev/null", pgctl);
        CHECK(system(cmd) == 0, "pg_ctl stop");
        usleep(300 * 1000);
        CHECK(served(mm, "mlp") == 2, "serves from cache while PostgreSQL is down");
        usleep(1500 * 1000);
        CHECK(served(mm, "mlp") == 2, "still serving after reconnect attempts");
        snprintf(cmd, sizeof(cmd), "%s start >/dev/null", pgctl);
        CHECK(system(cmd) == 0, "pg_ctl start");
        MUST(swarm_registry_connect(NULL, &log, &reg, &err));
        MUST(swarm_registry_promote(reg, "mlp", 1, NULL, "after restart", NULL, &err));
        ms = wait_for(mm, "mlp", 1, 15000);
        printf("promotion after restart reached the manager in %.1f ms\n", ms);
        CHECK(ms >= 0, "promotion after restart reached the manager");

        models_destroy(mm);
        mm = NULL;
        swarm_registry_destroy(reg);
        reg = NULL;

        /* last-known state: a start while PostgreSQL is down */
        snprintf(cmd, sizeof(cmd), "%s stop >/dev/null", pgctl);
        CHECK(system(cmd) == 0, "pg_ctl stop");
        {
                models_opts_t o = {0};
                o.use_registry = 1;
                o.conninfo = getenv("SWARM_REGISTRY");
                o.request_topic = "requests";
                o.backend = be;
                o.backoff_max_ms = 1000;
                o.state_dir = state_dir;
                swarm_err_clear(&err);
                CHECK(models_new(&o, &log, &mm, &err) == SWARM_ERR_IO && !mm,
                      "without start_from_state an unreachable registry fails the start");
                o.start_from_state = 1;
                MUST(models_new(&o, &log, &mm, &err));
                CHECK(served(mm, "mlp") == 1, "started from the last-known state (got %d)",
                      (int)served(mm, "mlp"));
                models_destroy(mm);
        }
        snprintf(cmd, sizeof(cmd), "rm -rf %s", state_dir);
        CHECK(system(cmd) == 0, "rm state");
        swarm_backend_destroy(be);
        free(mlp);
        free(ident);
        if (test_failures) {
                fprintf(stderr, "%d failure(s)\n", test_failures);
                return 1;
        }
        printf("ok\n");
        return 0;
}
