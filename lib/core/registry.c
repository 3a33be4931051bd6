/*
 * registry.c - the model registry on PostgreSQL through libpq.
 *
 * Every statement carrying user data goes through PQexecParams (see q());
 * the only SQL sent with PQexec is constant text: transaction control and
 * the embedded migrations.  The one place a statement is assembled is
 * config(), and what it splices in is a column name taken from the constant
 * table `config_keys`, never the caller's text.
 *
 * libpq's PQerrorMessage() is overwritten by the next call on the connection,
 * so errors are copied into the swarm_err_t at once (set_pg_err()).
 */
#include "swarm/registry.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "swarm/clock.h"
#include "swarm/fileio.h"

/* generated from the .sql files in lib/core/migrations (embed.cmake) */
extern const struct swarm_registry_migration {
        int number;
        const char *name;
        const char *sql;
} swarm_registry_migrations[];

/* pg_advisory_lock key of `migrate` ("SWRM"). */
#define MIGRATE_LOCK_KEY "1398231629"

/* The largest artifact stored as bytea: PostgreSQL's field limit is 1 GB and
 * libpq passes lengths as int.  Larger models use --uri. */
#define BYTEA_MAX ((size_t)1000 * 1000 * 1000)

/* While idle, swarm_registry_wait() proves the connection alive this often
 * and gives the server this long to answer: a half-open TCP connection (a
 * peer that vanished without a FIN) otherwise looks like a quiet one, and
 * promotions are missed until the kernel gives up hours later. */
#define IDLE_CHECK_MS 30000
#define IDLE_ANSWER_MS 10000

struct swarm_registry {
        PGconn *conn;
        const swarm_log_t *log;
        char where[256];        /* masked conninfo for messages */
        int check_ms, answer_ms;
        int64_t last_rx_ms;     /* last time the server was heard from */
        int64_t probe_ms;       /* a probe is outstanding since; 0: none */
        int broken;             /* a probe went unanswered */
};


/* ------------------------------------------------------------ helpers */

static void notice_to_log(void *arg, const char *msg) {
        const swarm_registry_t *r = arg;
        size_t n = strlen(msg);
        while (n && msg[n - 1] == '\n')
                n--;
        SWARM_DEBUG(r->log, "postgres notice=\"%.*s\"", (int)n, msg);
}

void swarm_sha256_hex(const void *buf, size_t len, char hex[65]) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        static const char digits[] = "0123456789abcdef";

        EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL);
        for (unsigned i = 0; i < 32; i++) {
                hex[2 * i] = digits[md[i] >> 4];
                hex[2 * i + 1] = digits[md[i] & 15];
        }
        hex[64] = '\0';
}

/* Length of the secret key word (password, sslpassword) starting at s when
 * it starts a parameter, else 0. */
static size_t secret_key(const char *s, const char *start) {
        static const char *const keys[] = {"password", "sslpassword", NULL};

        if (s != start && !isspace((unsigned char)s[-1]) && s[-1] != '?' &&
            s[-1] != '&')
                return 0;
        for (int i = 0; keys[i]; i++) {
                size_t n = strlen(keys[i]);
                if (!strncmp(s, keys[i], n))
                        return n;
        }
        return 0;
}

void swarm_registry_mask_conninfo(const char *conninfo, char *buf, size_t size) {
        size_t o = 0, klen;
        const char *s = conninfo ? conninfo : "";
        const char *uri_pw = NULL, *uri_at = NULL;

        if (!size)
                return;
        /* postgresql://user:PASSWORD@host: mask between the ':' and the '@'
         * of the authority */
        if (!strncmp(s, "postgresql://", 13) || !strncmp(s, "postgres://", 11)) {
                const char *a = strstr(s, "://") + 3;
                const char *end = a + strcspn(a, "/?");
                const char *at = memchr(a, '@', (size_t)(end - a));
                const char *colon = at ? memchr(a, ':', (size_t)(at - a)) : NULL;
                if (colon) {
                        uri_pw = colon + 1;
                        uri_at = at;
                }
        }
        while (*s && o + 1 < size) {
                if (s == uri_pw) {
                        o += (size_t)snprintf(buf + o, size - o, "****");
                        s = uri_at;
                        continue;
                }
                /* password=VALUE, sslpassword=VALUE (conninfo or URI
                 * query): keep the key */
                if ((klen = secret_key(s, conninfo))) {
                        const char *p = s + klen;
                        while (isspace((unsigned char)*p))
                                p++;
                        if (*p == '=') {
                                p++;
                                while (isspace((unsigned char)*p))
                                        p++;
                                if (*p == '\'') {
                                        for (p++; *p && *p != '\''; p++)
                                                if (*p == '\\' && p[1])
                                                        p++;
                                        if (*p)
                                                p++;
                                } else {
                                        while (*p && !isspace((unsigned char)*p) && *p != '&')
                                                p++;
                                }
                                o += (size_t)snprintf(buf + o, size - o, "%.*s=****",
                                                      (int)klen, s);
                                s = p;
                                continue;
                        }
                }
                buf[o++] = *s++;
        }
        if (o >= size)
                o = size - 1;
        buf[o] = '\0';
}

/* Copy libpq's text (overwritten by its next call) into one log-friendly
 * line: libpq wraps its messages with newlines and tabs. */
static void copy_msg(char *dst, size_t size, const char *src) {
        size_t n = 0;

        for (; src && *src && n + 1 < size; src++) {
                char c = (*src == '\n' || *src == '\t' || *src == '\r') ? ' ' : *src;
                if (c == ' ' && (n == 0 || dst[n - 1] == ' '))
                        continue;
                dst[n++] = c;
        }
        while (n && dst[n - 1] == ' ')
                n--;
        dst[n] = '\0';
}

/* Copy the error of `res` (or of the connection) into err at once. */
static int set_pg_err(swarm_registry_t *r, PGresult *res, const char *what,
                      swarm_err_t *err) {
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
        const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
        char text[400];
        swarm_code_t code;

        copy_msg(text, sizeof(text), msg ? msg : PQerrorMessage(r->conn));
        if (PQstatus(r->conn) != CONNECTION_OK || (state && !strncmp(state, "08", 2)))
                code = SWARM_ERR_IO;
        else if (state && (!strncmp(state, "22", 2) || !strcmp(state, "23502") ||
                           !strcmp(state, "23514")))
                code = SWARM_ERR_INVALID;   /* data exceptions, CHECK failures */
        else
                code = SWARM_ERR_STATE;
        return swarm_err_set_flags(err, code,
                                   code == SWARM_ERR_IO ? SWARM_ERR_F_RETRIABLE : 0,
                                   "%s: %s%s%s%s%s%s", what, text, detail ? " (" : "",
                                   detail ? detail : "", detail ? ")" : "",
                                   state ? " SQLSTATE " : "", state ? state : "");
}

/* Run one parameterized statement.  vals[i] NULL is SQL NULL; lens/fmts may
 * be NULL (all text).  Returns the result (caller PQclear's) or NULL with
 * err set. */
static PGresult *qx(swarm_registry_t *r, const char *what, const char *sql,
                    int n, const char *const *vals, const int *lens,
                    const int *fmts, int binary, swarm_err_t *err) {
        PGresult *res = PQexecParams(r->conn, sql, n, NULL, vals, lens, fmts, binary);
        ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
                return res;
        set_pg_err(r, res, what, err);
        PQclear(res);
        return NULL;
}

static PGresult *q(swarm_registry_t *r, const char *what, const char *sql,
                   int n, const char *const *vals, swarm_err_t *err) {
        return qx(r, what, sql, n, vals, NULL, NULL, 0, err);
}

/* q() into *res, for callers that leave with a code: SWARM_OK, or the
 * error q() set (*res NULL). */
static int qres(swarm_registry_t *r, PGresult **res, const char *what,
                const char *sql, int n, const char *const *vals,
                swarm_err_t *err) {
        *res = q(r, what, sql, n, vals, err);
        return *res ? SWARM_OK : err->code;
}

/* qres() of a query that has one row per model: no row is "unknown
 * model". */
static int qres_model(swarm_registry_t *r, PGresult **res, const char *what,
                      const char *sql, int n, const char *const *vals,
                      const char *model, swarm_err_t *err) {
        int rc = qres(r, res, what, sql, n, vals, err);
        if (rc == SWARM_OK && PQntuples(*res) != 1) {
                PQclear(*res);
                *res = NULL;
                rc = swarm_err_set(err, SWARM_ERR_NOT_FOUND,
                                   "unknown model \"%s\"", model);
        }
        return rc;
}

/* Run a statement whose result is not needed. */
static int run(swarm_registry_t *r, const char *what, const char *sql, int n,
               const char *const *vals, swarm_err_t *err) {
        PGresult *res = q(r, what, sql, n, vals, err);
        if (!res)
                return err ? err->code : SWARM_ERR_STATE;
        PQclear(res);
        return SWARM_OK;
}

/* Constant SQL only (transaction control, migrations). */
static int exec_const(swarm_registry_t *r, const char *what, const char *sql,
                      swarm_err_t *err) {
        PGresult *res = PQexec(r->conn, sql);
        ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
        int rc = SWARM_OK;

        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
                rc = set_pg_err(r, res, what, err);
        PQclear(res);
        return rc;
}

static int begin(swarm_registry_t *r, swarm_err_t *err) {
        return exec_const(r, "BEGIN", "BEGIN", err);
}

static int commit(swarm_registry_t *r, swarm_err_t *err) {
        return exec_const(r, "COMMIT", "COMMIT", err);
}

/* Roll back an open transaction after an error; the first error is kept. */
static void abort_tx(swarm_registry_t *r) {
        if (PQstatus(r->conn) == CONNECTION_OK &&
            PQtransactionStatus(r->conn) != PQTRANS_IDLE)
                PQclear(PQexec(r->conn, "ROLLBACK"));
}

static void fmt_i32(char *buf, int32_t v) {
        snprintf(buf, 16, "%" PRId32, v);
}

/* The model's id; with `lock`, SELECT ... FOR UPDATE inside the caller's
 * transaction (serializes writers of the model). */
static int model_id(swarm_registry_t *r, const char *model, int lock,
                    char id[32], swarm_err_t *err) {
        const char *vals[1] = {model};
        PGresult *res;
        int rc = qres_model(r, &res, "looking up model",
                            lock ? "SELECT id FROM registry.models WHERE name = $1 FOR UPDATE"
                                 : "SELECT id FROM registry.models WHERE name = $1",
                            1, vals, model, err);
        if (rc)
                return rc;
        snprintf(id, 32, "%s", PQgetvalue(res, 0, 0));
        PQclear(res);
        return SWARM_OK;
}

/* ------------------------------------------------------------ connect */

int swarm_registry_connect(const char *conninfo, const swarm_log_t *log,
                           swarm_registry_t **out, swarm_err_t *err) {
        swarm_registry_t *r = calloc(1, sizeof(*r));
        int rc = SWARM_OK;

        *out = NULL;
        if (!r)
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        r->log = log;
        if (conninfo && *conninfo)
                swarm_registry_mask_conninfo(conninfo, r->where, sizeof(r->where));
        else
                snprintf(r->where, sizeof(r->where), "(libpq defaults)");
        r->check_ms = IDLE_CHECK_MS;
        r->answer_ms = IDLE_ANSWER_MS;
        {
                /* TCP keepalives unless the conninfo sets its own: the
                 * expanded dbname comes last, so what it names wins */
                static const char *const keys[] = {
                        "keepalives", "keepalives_idle", "keepalives_interval",
                        "keepalives_count", "dbname", NULL};
                const char *vals[] = {"1", "30", "10", "3",
                                      conninfo ? conninfo : "", NULL};
                r->conn = PQconnectdbParams(keys, vals, 1);
        }
        if (!r->conn) {
                rc = swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                goto out;
        }
        if (PQstatus(r->conn) != CONNECTION_OK) {
                char msg[300];
                copy_msg(msg, sizeof(msg), PQerrorMessage(r->conn));
                rc = swarm_err_set_flags(err, SWARM_ERR_IO, SWARM_ERR_F_RETRIABLE,
                                         "connecting to the registry %s: %s", r->where, msg);
                goto out;
        }
        PQsetNoticeProcessor(r->conn, notice_to_log, r);
        r->last_rx_ms = swarm_clock_ms();
        SWARM_DEBUG(log, "registry connected conninfo=\"%s\"", r->where);
out:
        if (rc) {
                swarm_registry_destroy(r);
                return rc;
        }
        *out = r;
        return SWARM_OK;
}

void swarm_registry_destroy(swarm_registry_t *r) {
        if (!r)
                return;
        if (r->conn)
                PQfinish(r->conn);
        free(r);
}

int swarm_registry_connected(const swarm_registry_t *r) {
        return r && r->conn && !r->broken && PQstatus(r->conn) == CONNECTION_OK;
}

void swarm_registry_set_idle_check(swarm_registry_t *r, int every_ms,
                                   int answer_ms) {
        r->check_ms = every_ms;
        r->answer_ms = answer_ms > 0 ? answer_ms : IDLE_ANSWER_MS;
}

/* ------------------------------------------------------------ migrate */

int swarm_registry_migrate(swarm_registry_t *r, int *applied, swarm_err_t *err) {
        int rc, n = 0, locked = 0;

        if ((rc = exec_const(r, "taking the migration lock",
                             "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", err)))
                goto out;
        locked = 1;
        if ((rc = exec_const(r, "creating registry.schema_migrations",
                             "CREATE SCHEMA IF NOT EXISTS registry;"
                             "CREATE TABLE IF NOT EXISTS registry.schema_migrations ("
                             " version integer PRIMARY KEY,"
                             " name text NOT NULL,"
                             " applied_by text NOT NULL DEFAULT session_user,"
                             " applied_at timestamptz NOT NULL DEFAULT now())",
                             err)))
                goto out;
        for (int i = 0; swarm_registry_migrations[i].sql; i++) {
                const struct swarm_registry_migration *m = &swarm_registry_migrations[i];
                char num[16];
                const char *vals[2] = {num, m->name};
                PGresult *res;
                int done;

                fmt_i32(num, m->number);
                if ((rc = begin(r, err)) ||
                    (rc = qres(r, &res, "reading registry.schema_migrations",
                               "SELECT 1 FROM registry.schema_migrations WHERE version = $1",
                               1, vals, err)))
                        goto out;
                done = PQntuples(res) > 0;
                PQclear(res);
                if (done) {
                        if ((rc = commit(r, err)))
                                goto out;
                        continue;
                }
                if ((rc = exec_const(r, m->name, m->sql, err)) ||
                    (rc = run(r, "recording the migration",
                              "INSERT INTO registry.schema_migrations (version, name) "
                              "VALUES ($1, $2)", 2, vals, err)) ||
                    (rc = commit(r, err))) {
                        swarm_err_prefix(err, "migration %s: ", m->name);
                        goto out;
                }
                SWARM_INFO(r->log, "migration applied name=%s", m->name);
                n++;
        }
out:
        abort_tx(r);
        if (locked && PQstatus(r->conn) == CONNECTION_OK)
                PQclear(PQexec(r->conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")"));
        if (applied)
                *applied = n;
        return rc;
}

/* ------------------------------------------------------------ register */

int swarm_registry_register(swarm_registry_t *r,
                            const swarm_registry_new_version_t *nv,
                            int32_t *version, char *sha256, swarm_err_t *err) {
        char hex[65], size[32], id[32];
        PGresult *res = NULL;
        int rc;

        if (!nv->model || !*nv->model)
                return swarm_err_set(err, SWARM_ERR_INVALID, "empty model name");
        if (!nv->artifact && nv->size)
                return swarm_err_set(err, SWARM_ERR_INVALID, "no artifact bytes");
        if (nv->uri && strncmp(nv->uri, "file://", 7))
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "artifact URI \"%s\" is not file://", nv->uri);
        if (!nv->uri && nv->size > BYTEA_MAX)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "artifact of %zu bytes is too large for the database "
                                     "(limit %zu): store it as a file:// URI",
                                     nv->size, BYTEA_MAX);
        swarm_sha256_hex(nv->artifact ? nv->artifact : "", nv->size, hex);
        snprintf(size, sizeof(size), "%zu", nv->size);

        if ((rc = begin(r, err)))
                goto out;
        {
                const char *vals[2] = {nv->model, nv->description};
                if ((rc = run(r, "creating the model",
                              "INSERT INTO registry.models (name, description) "
                              "VALUES ($1, coalesce($2, '')) ON CONFLICT (name) DO NOTHING",
                              2, vals, err)))
                        goto out;
                if (nv->description &&
                    (rc = run(r, "setting the description",
                              "UPDATE registry.models SET description = $2 WHERE name = $1",
                              2, vals, err)))
                        goto out;
        }
        if ((rc = model_id(r, nv->model, 1, id, err)))
                goto out;
        {
                const char *vals[10] = {
                        id,
                        nv->uri ? NULL : (const char *)nv->artifact,
                        nv->uri,
                        hex,
                        size,
                        nv->format ? nv->format : "onnx",
                        nv->inputs_json ? nv->inputs_json : "[]",
                        nv->outputs_json ? nv->outputs_json : "[]",
                        nv->metadata_json ? nv->metadata_json : "{}",
                        nv->tags_json ? nv->tags_json : "{}",
                };
                int lens[10] = {0, nv->uri ? 0 : (int)nv->size};
                int fmts[10] = {0, 1};  /* the artifact travels as binary */
                if (!nv->uri && !vals[1])
                        vals[1] = "";   /* an empty artifact is not NULL */
                res = qx(r, "inserting the version",
                         "INSERT INTO registry.versions (model_id, version, artifact, uri,"
                         " sha256, size, format, inputs, outputs, metadata, tags) "
                         "SELECT $1, coalesce(max(version), 0) + 1, $2::bytea, $3, $4,"
                         " $5::bigint, $6, $7::jsonb, $8::jsonb, $9::jsonb, $10::jsonb "
                         "FROM registry.versions WHERE model_id = $1 RETURNING version",
                         10, vals, lens, fmts, 0, err);
                if (!res) {
                        rc = err->code;
                        goto out;
                }
        }
        if ((rc = commit(r, err)))
                goto out;
        if (version)
                *version = (int32_t)strtol(PQgetvalue(res, 0, 0), NULL, 10);
        if (sha256)
                memcpy(sha256, hex, 65);
        SWARM_INFO(r->log, "version registered model=%s version=%s sha256=%s size=%s",
                   nv->model, PQgetvalue(res, 0, 0), hex, size);
out:
        PQclear(res);
        abort_tx(r);
        if (rc)
                swarm_err_prefix(err, "registering %s: ", nv->model);
        return rc;
}

/* ------------------------------------------------------------ resolve, fetch */

void swarm_registry_version_destroy(swarm_registry_version_t *v) {
        if (!v)
                return;
        free(v->model);
        free(v->uri);
        free(v->format);
        free(v->status);
        memset(v, 0, sizeof(*v));
}

/* After a lookup found nothing: say whether the model or what was asked
 * for is missing. */
static int not_found(swarm_registry_t *r, const char *model, const char *alias,
                     int32_t version, swarm_err_t *err) {
        char id[32];
        swarm_err_t e2;

        swarm_err_clear(&e2);
        if (model_id(r, model, 0, id, &e2))
                return swarm_err_set(err, e2.code, "%s", e2.msg);
        if (alias)
                return swarm_err_set(err, SWARM_ERR_NOT_FOUND,
                                     "model \"%s\" has no alias \"%s\"", model, alias);
        return swarm_err_set(err, SWARM_ERR_NOT_FOUND,
                             "model \"%s\" has no version %" PRId32, model, version);
}

#define VERSION_COLS "m.name, v.version, v.sha256, v.size, v.uri, v.format, v.status"

int swarm_registry_resolve(swarm_registry_t *r, const char *model,
                           const char *alias, int32_t version,
                           swarm_registry_version_t *out, swarm_err_t *err) {
        char num[16];
        const char *vals[2] = {model, alias ? alias : num};
        PGresult *res;
        int rc = SWARM_OK;

        memset(out, 0, sizeof(*out));
        fmt_i32(num, version);
        res = q(r, "resolving",
                alias ? "SELECT " VERSION_COLS " FROM registry.models m"
                        " JOIN registry.aliases a ON a.model_id = m.id"
                        " JOIN registry.versions v ON v.model_id = m.id AND v.version = a.version"
                        " WHERE m.name = $1 AND a.alias = $2"
                      : "SELECT " VERSION_COLS " FROM registry.models m"
                        " JOIN registry.versions v ON v.model_id = m.id"
                        " WHERE m.name = $1 AND v.version = $2::integer",
                2, vals, err);
        if (!res)
                return err->code;
        if (PQntuples(res) != 1) {
                rc = not_found(r, model, alias, version, err);
                goto out;
        }
        out->model = strdup(PQgetvalue(res, 0, 0));
        out->version = (int32_t)strtol(PQgetvalue(res, 0, 1), NULL, 10);
        snprintf(out->sha256, sizeof(out->sha256), "%s", PQgetvalue(res, 0, 2));
        out->size = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
        out->uri = PQgetisnull(res, 0, 4) ? NULL : strdup(PQgetvalue(res, 0, 4));
        out->format = strdup(PQgetvalue(res, 0, 5));
        out->status = strdup(PQgetvalue(res, 0, 6));
        if (!out->model || !out->format || !out->status ||
            (!PQgetisnull(res, 0, 4) && !out->uri)) {
                swarm_registry_version_destroy(out);
                rc = swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        }
out:
        PQclear(res);
        return rc;
}

/* file:///path or file://localhost/path -> /path */
static const char *uri_path(const char *uri) {
        if (strncmp(uri, "file://", 7))
                return NULL;
        uri += 7;
        if (!strncmp(uri, "localhost/", 10))
                uri += 9;
        return *uri == '/' ? uri : NULL;
}

int swarm_registry_fetch(swarm_registry_t *r, const char *model,
                         int32_t version, void **buf, size_t *len,
                         swarm_err_t *err) {
        char num[16], hex[65], want[65];
        const char *vals[2] = {model, num};
        PGresult *res;
        void *b = NULL;
        size_t n = 0;
        long long size;
        int rc = SWARM_OK;

        *buf = NULL;
        *len = 0;
        fmt_i32(num, version);
        /* binary results: the artifact arrives as raw bytes (no hex decoding
         * of a possibly large value); the other columns are text, whose
         * binary form is the text itself */
        res = qx(r, "fetching the artifact",
                 "SELECT v.artifact, v.uri, v.sha256, v.size::text FROM registry.models m"
                 " JOIN registry.versions v ON v.model_id = m.id"
                 " WHERE m.name = $1 AND v.version = $2::integer",
                 2, vals, NULL, NULL, 1, err);
        if (!res)
                return err->code;
        if (PQntuples(res) != 1) {
                rc = not_found(r, model, NULL, version, err);
                goto out;
        }
        snprintf(want, sizeof(want), "%.*s", PQgetlength(res, 0, 2), PQgetvalue(res, 0, 2));
        size = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
        if (PQgetisnull(res, 0, 0)) {
                const char *uri = PQgetvalue(res, 0, 1), *path = uri_path(uri);
                if (!path) {
                        rc = swarm_err_set(err, SWARM_ERR_INVALID,
                                           "unsupported artifact URI \"%s\"", uri);
                        goto out;
                }
                if ((rc = swarm_fileio_read_path(path, &b, &n, err)))
                        goto out;
        } else {
                n = (size_t)PQgetlength(res, 0, 0);
                if (!(b = malloc(n ? n : 1))) {
                        rc = swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                        goto out;
                }
                memcpy(b, PQgetvalue(res, 0, 0), n);
        }
        swarm_sha256_hex(b, n, hex);
        if (strcmp(hex, want) || (long long)n != size) {
                rc = swarm_err_set(err, SWARM_ERR_INVALID,
                                   "sha256 mismatch: the artifact has sha256 %s and %zu bytes, "
                                   "the registry recorded %s and %lld bytes",
                                   hex, n, want, size);
                goto out;
        }
        *buf = b;
        *len = n;
        b = NULL;
out:
        free(b);
        PQclear(res);
        if (rc)
                swarm_err_prefix(err, "%s version %" PRId32 ": ", model, version);
        return rc;
}

/* ------------------------------------------------------------ aliases */

/* Inside the caller's transaction, with the model row locked: point alias
 * at version and append the move to the history. */
static int move_alias(swarm_registry_t *r, const char *model, const char *id,
                      const char *alias, int32_t version, const char *reason,
                      int32_t *from, swarm_err_t *err) {
        char num[16], old[16];
        const char *vals[5] = {id, num, alias, NULL, reason ? reason : ""};
        PGresult *res;
        int rc = SWARM_OK;

        fmt_i32(num, version);
        res = q(r, "checking the version",
                "SELECT status FROM registry.versions WHERE model_id = $1 AND version = $2::integer"
                " FOR SHARE",
                2, vals, err);
        if (!res)
                return err->code;
        if (PQntuples(res) != 1)
                rc = swarm_err_set(err, SWARM_ERR_NOT_FOUND,
                                   "model \"%s\" has no version %" PRId32, model, version);
        else if (strcmp(PQgetvalue(res, 0, 0), "active"))
                rc = swarm_err_set(err, SWARM_ERR_STATE,
                                   "version %" PRId32 " of \"%s\" is archived", version, model);
        PQclear(res);
        if (rc)
                return rc;

        {
                const char *av[2] = {id, alias};
                res = q(r, "reading the alias",
                        "SELECT version FROM registry.aliases WHERE model_id = $1 AND alias = $2",
                        2, av, err);
        }
        if (!res)
                return err->code;
        if (PQntuples(res) == 1) {
                snprintf(old, sizeof(old), "%s", PQgetvalue(res, 0, 0));
                vals[3] = old;
        }
        PQclear(res);
        if (from)
                *from = vals[3] ? (int32_t)strtol(old, NULL, 10) : 0;
        if (vals[3] && (int32_t)strtol(old, NULL, 10) == version)
                return SWARM_OK;        /* already there: no history row, no NOTIFY */

        if ((rc = run(r, "moving the alias",
                      "INSERT INTO registry.aliases (model_id, alias, version)"
                      " VALUES ($1, $3, $2::integer)"
                      " ON CONFLICT (model_id, alias) DO UPDATE SET version = EXCLUDED.version,"
                      " updated_by = session_user, updated_at = now()",
                      3, vals, err)) ||
            (rc = run(r, "appending to the history",
                      "INSERT INTO registry.history (model_id, kind, name, from_version,"
                      " to_version, reason) VALUES ($1, 'alias', $3, $4::integer,"
                      " $2::integer, $5)",
                      5, vals, err)))
                return rc;
        SWARM_INFO(r->log, "alias moved model=%s alias=%s from=%s to=%" PRId32,
                   model, alias, vals[3] ? old : "none", version);
        return SWARM_OK;
}

int swarm_registry_promote(swarm_registry_t *r, const char *model,
                           int32_t version, const char *alias,
                           const char *reason, int32_t *from,
                           swarm_err_t *err) {
        char id[32];
        int rc;

        if (!alias)
                alias = SWARM_REGISTRY_PRODUCTION;
        if (!*alias)
                return swarm_err_set(err, SWARM_ERR_INVALID, "empty alias");
        if ((rc = begin(r, err)) || (rc = model_id(r, model, 1, id, err)) ||
            (rc = move_alias(r, model, id, alias, version, reason, from, err)) ||
            (rc = commit(r, err)))
                swarm_err_prefix(err, "promoting %s version %" PRId32 " to %s: ",
                                 model, version, alias);
        abort_tx(r);
        return rc;
}

int swarm_registry_rollback(swarm_registry_t *r, const char *model,
                            const char *alias, const char *reason,
                            int32_t *to, swarm_err_t *err) {
        char id[32];
        const char *vals[2] = {id, NULL};
        PGresult *res = NULL;
        int32_t target;
        int rc;

        if (!alias)
                alias = SWARM_REGISTRY_PRODUCTION;
        vals[1] = alias;
        if ((rc = begin(r, err)) || (rc = model_id(r, model, 1, id, err)) ||
            (rc = qres(r, &res, "reading the history",
                       "SELECT from_version FROM registry.history"
                       " WHERE model_id = $1 AND kind = 'alias' AND name = $2"
                       " ORDER BY id DESC LIMIT 1",
                       2, vals, err)))
                goto out;
        if (PQntuples(res) != 1) {
                rc = swarm_err_set(err, SWARM_ERR_NOT_FOUND,
                                   "model \"%s\" has no alias \"%s\"", model, alias);
                goto out;
        }
        if (PQgetisnull(res, 0, 0)) {
                rc = swarm_err_set(err, SWARM_ERR_STATE,
                                   "alias \"%s\" has no earlier version", alias);
                goto out;
        }
        target = (int32_t)strtol(PQgetvalue(res, 0, 0), NULL, 10);
        if ((rc = move_alias(r, model, id, alias, target, reason ? reason : "rollback",
                             NULL, err)) ||
            (rc = commit(r, err)))
                goto out;
        if (to)
                *to = target;
out:
        PQclear(res);
        abort_tx(r);
        if (rc)
                swarm_err_prefix(err, "rolling back %s %s: ", model, alias);
        return rc;
}

/* ------------------------------------------------------------ deployment */

static const struct {
        const char *key;        /* also the column name */
        const char *type;
} config_keys[] = {
        {"request_topic", "text"},   {"result_topic", "text"},
        {"max_batch_rows", "integer"}, {"max_delay_us", "bigint"},
        {"device", "text"},          {"precision", "text"},
        {"min_workers", "integer"},  {"max_workers", "integer"},
        {"lag_target", "bigint"},
        {"batch_request_topic", "text"}, {"batch_result_topic", "text"},
};
#define N_CONFIG_KEYS (sizeof(config_keys) / sizeof(config_keys[0]))

int swarm_registry_config(swarm_registry_t *r, const char *model,
                          const char *const *keys, const char *const *values,
                          size_t n, const char *reason, swarm_err_t *err) {
        char id[32], sql[512];
        int rc;

        for (size_t i = 0; i < n; i++) {
                size_t k;
                for (k = 0; k < N_CONFIG_KEYS; k++)
                        if (!strcmp(keys[i], config_keys[k].key))
                                break;
                if (k == N_CONFIG_KEYS)
                        return swarm_err_set(err, SWARM_ERR_INVALID,
                                             "unknown deployment setting \"%s\" (known: "
                                             "request_topic result_topic max_batch_rows "
                                             "max_delay_us device precision min_workers "
                                             "max_workers lag_target "
                                             "batch_request_topic batch_result_topic)",
                                             keys[i]);
        }
        if ((rc = begin(r, err)) || (rc = model_id(r, model, 1, id, err)))
                goto out;
        {
                const char *vals[1] = {id};
                if ((rc = run(r, "creating the deployment",
                              "INSERT INTO registry.deployments (model_id) VALUES ($1)"
                              " ON CONFLICT (model_id) DO NOTHING",
                              1, vals, err)))
                        goto out;
        }
        for (size_t i = 0; i < n; i++) {
                const char *col = NULL, *type = NULL;
                const char *vals[4] = {id, values[i], keys[i], reason ? reason : ""};
                PGresult *res;

                for (size_t k = 0; k < N_CONFIG_KEYS; k++)
                        if (!strcmp(keys[i], config_keys[k].key)) {
                                col = config_keys[k].key;
                                type = config_keys[k].type;
                        }
                /* col and type come from config_keys, not from the caller;
                 * the value is $2 */
                snprintf(sql, sizeof(sql),
                         "WITH old AS (SELECT %s::text AS v FROM registry.deployments"
                         " WHERE model_id = $1 FOR UPDATE) "
                         "UPDATE registry.deployments d SET %s = NULLIF($2, '')::%s,"
                         " updated_by = session_user, updated_at = now() FROM old"
                         " WHERE d.model_id = $1 RETURNING old.v, d.%s::text",
                         col, col, type, col);
                if ((rc = qres(r, &res, "changing a setting", sql, 2, vals,
                               err))) {
                        swarm_err_prefix(err, "%s=%s: ", keys[i], values[i]);
                        goto out;
                }
                {
                        const char *hv[5] = {
                                id, keys[i],
                                PQgetisnull(res, 0, 0) ? NULL : PQgetvalue(res, 0, 0),
                                PQgetisnull(res, 0, 1) ? NULL : PQgetvalue(res, 0, 1),
                                vals[3],
                        };
                        rc = run(r, "appending to the history",
                                 "INSERT INTO registry.history (model_id, kind, name,"
                                 " from_value, to_value, reason)"
                                 " VALUES ($1, 'config', $2, $3, $4, $5)",
                                 5, hv, err);
                }
                PQclear(res);
                if (rc)
                        goto out;
        }
        if ((rc = commit(r, err)))
                goto out;
        SWARM_INFO(r->log, "deployment changed model=%s settings=%zu", model, n);
out:
        abort_tx(r);
        if (rc)
                swarm_err_prefix(err, "configuring %s: ", model);
        return rc;
}

void swarm_registry_deployment_destroy(swarm_registry_deployment_t *d) {
        if (!d)
                return;
        free(d->request_topic);
        free(d->result_topic);
        free(d->device);
        free(d->precision);
        free(d->batch_request_topic);
        free(d->batch_result_topic);
        memset(d, 0, sizeof(*d));
}

int swarm_registry_deployment(swarm_registry_t *r, const char *model,
                              swarm_registry_deployment_t *out,
                              swarm_err_t *err) {
        const char *vals[1] = {model};
        PGresult *res;
        char **strs[6] = {&out->request_topic, &out->result_topic, &out->device,
                          &out->precision, &out->batch_request_topic,
                          &out->batch_result_topic};
        int64_t *nums[5] = {&out->max_batch_rows, &out->max_delay_us, &out->min_workers,
                            &out->max_workers, &out->lag_target};
        int rc;

        memset(out, 0, sizeof(*out));
        if ((rc = qres_model(r, &res, "reading the deployment",
                             "SELECT d.request_topic, d.result_topic, d.device, d.precision,"
                             " d.max_batch_rows, d.max_delay_us, d.min_workers, d.max_workers,"
                             " d.lag_target, d.batch_request_topic, d.batch_result_topic"
                             " FROM registry.models m"
                             " LEFT JOIN registry.deployments d ON d.model_id = m.id"
                             " WHERE m.name = $1",
                             1, vals, model, err)))
                return rc;
        for (int i = 0; i < 4; i++)
                *strs[i] = PQgetisnull(res, 0, i) ? NULL : strdup(PQgetvalue(res, 0, i));
        for (int i = 4; i < 6; i++)
                *strs[i] = PQgetisnull(res, 0, 5 + i) ? NULL
                                                      : strdup(PQgetvalue(res, 0, 5 + i));
        for (int i = 0; i < 5; i++)
                *nums[i] = PQgetisnull(res, 0, 4 + i) ? 0
                                                      : strtoll(PQgetvalue(res, 0, 4 + i), NULL, 10);
        PQclear(res);
        return SWARM_OK;
}

/* ------------------------------------------------------------ archive */

int swarm_registry_archive(swarm_registry_t *r, const char *model,
                           int32_t version, swarm_err_t *err) {
        char id[32], num[16];
        const char *vals[2] = {id, num};
        PGresult *res = NULL;
        int rc;

        fmt_i32(num, version);
        if ((rc = begin(r, err)) || (rc = model_id(r, model, 1, id, err)) ||
            (rc = qres(r, &res, "checking the version",
                       "SELECT (SELECT string_agg(a.alias, ', ' ORDER BY a.alias) FROM registry.aliases a"
                       " WHERE a.model_id = v.model_id AND a.version = v.version)"
                       " FROM registry.versions v WHERE v.model_id = $1 AND v.version = $2::integer",
                       2, vals, err)))
                goto out;
        if (PQntuples(res) != 1) {
                rc = swarm_err_set(err, SWARM_ERR_NOT_FOUND,
                                   "model \"%s\" has no version %" PRId32, model, version);
                goto out;
        }
        if (!PQgetisnull(res, 0, 0)) {
                rc = swarm_err_set(err, SWARM_ERR_STATE,
                                   "alias %s points at it: promote another version first",
                                   PQgetvalue(res, 0, 0));
                goto out;
        }
        if ((rc = run(r, "archiving",
                      "UPDATE registry.versions SET status = 'archived'"
                      " WHERE model_id = $1 AND version = $2::integer",
                      2, vals, err)) ||
            (rc = commit(r, err)))
                goto out;
        SWARM_INFO(r->log, "version archived model=%s version=%" PRId32, model, version);
out:
        PQclear(res);
        abort_tx(r);
        if (rc)
                swarm_err_prefix(err, "archiving %s version %" PRId32 ": ", model, version);
        return rc;
}

/* ------------------------------------------------------------ listings */

/* One version as a JSON object; `v` is registry.versions, `m` models. */
#define VERSION_JSON                                                           \
        "json_build_object('model', m.name, 'version', v.version,"             \
        " 'status', v.status,"                                                 \
        " 'storage', CASE WHEN v.uri IS NULL THEN 'database' ELSE 'uri' END,"  \
        " 'uri', v.uri, 'sha256', v.sha256, 'size', v.size,"                   \
        " 'format', v.format, 'inputs', v.inputs, 'outputs', v.outputs,"       \
        " 'metadata', v.metadata, 'tags', v.tags,"                             \
        " 'created_by', v.created_by, 'created_at', v.created_at,"             \
        " 'aliases', (SELECT coalesce(json_agg(a.alias ORDER BY a.alias), '[]')" \
        "  FROM registry.aliases a WHERE a.model_id = v.model_id"              \
        "  AND a.version = v.version))"

#define ALIASES_JSON                                                           \
        "(SELECT coalesce(json_object_agg(a.alias, a.version ORDER BY a.alias)," \
        " '{}') FROM registry.aliases a WHERE a.model_id = m.id)"

static int json_query(swarm_registry_t *r, const char *what, const char *sql,
                      int n, const char *const *vals, char **json,
                      swarm_err_t *err) {
        PGresult *res = q(r, what, sql, n, vals, err);
        int rc = SWARM_OK;

        *json = NULL;
        if (!res)
                return err->code;
        if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
                rc = SWARM_ERR_NOT_FOUND;       /* the caller words it */
        else if (!(*json = strdup(PQgetvalue(res, 0, 0))))
                rc = swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        PQclear(res);
        return rc;
}

int swarm_registry_list(swarm_registry_t *r, char **json, swarm_err_t *err) {
        int rc = json_query(
                r, "listing models",
                "SELECT coalesce(json_agg(json_build_object("
                " 'name', m.name, 'description', m.description, 'owner', m.owner,"
                " 'created_at', m.created_at,"
                " 'versions', (SELECT count(*) FROM registry.versions v WHERE v.model_id = m.id),"
                " 'latest', (SELECT max(v.version) FROM registry.versions v WHERE v.model_id = m.id),"
                " 'aliases', " ALIASES_JSON ") ORDER BY m.name), '[]')::text"
                " FROM registry.models m",
                0, NULL, json, err);
        if (rc == SWARM_ERR_NOT_FOUND)
                rc = swarm_err_set(err, rc, "no result");
        return rc;
}

int swarm_registry_show(swarm_registry_t *r, const char *model,
                        int32_t version, char **json, swarm_err_t *err) {
        char num[16];
        const char *vals[2] = {model, num};
        int rc;

        fmt_i32(num, version);
        if (version > 0)
                rc = json_query(r, "showing the version",
                                "SELECT " VERSION_JSON "::text FROM registry.models m"
                                " JOIN registry.versions v ON v.model_id = m.id"
                                " WHERE m.name = $1 AND v.version = $2::integer",
                                2, vals, json, err);
        else
                rc = json_query(
                        r, "showing the model",
                        "SELECT json_build_object('name', m.name, 'description', m.description,"
                        " 'owner', m.owner, 'created_at', m.created_at,"
                        " 'aliases', " ALIASES_JSON ","
                        " 'deployment', (SELECT to_jsonb(d) - 'model_id' FROM registry.deployments d"
                        "  WHERE d.model_id = m.id),"
                        " 'versions', (SELECT coalesce(json_agg(" VERSION_JSON " ORDER BY v.version),"
                        "  '[]') FROM registry.versions v WHERE v.model_id = m.id))::text"
                        " FROM registry.models m WHERE m.name = $1",
                        1, vals, json, err);
        if (rc == SWARM_ERR_NOT_FOUND)
                rc = not_found(r, model, NULL, version, err);
        return rc;
}

int swarm_registry_history(swarm_registry_t *r, const char *model,
                           char **json, swarm_err_t *err) {
        const char *vals[1] = {model};
        int rc = json_query(
                r, "reading the history",
                "SELECT (SELECT coalesce(json_agg(json_build_object('id', h.id, 'kind', h.kind,"
                " 'name', h.name, 'from_version', h.from_version, 'to_version', h.to_version,"
                " 'from_value', h.from_value, 'to_value', h.to_value,"
                " 'changed_by', h.changed_by, 'changed_at', h.changed_at, 'reason', h.reason)"
                " ORDER BY h.id), '[]') FROM registry.history h WHERE h.model_id = m.id)::text"
                " FROM registry.models m WHERE m.name = $1",
                1, vals, json, err);
        if (rc == SWARM_ERR_NOT_FOUND)
                rc = swarm_err_set(err, rc, "unknown model \"%s\"", model);
        return rc;
}

int swarm_registry_models_for_topic(swarm_registry_t *r, const char *topic,
                                    char ***names, swarm_err_t *err) {
        const char *vals[1] = {topic};
        PGresult *res;
        char **v;
        int n;

        *names = NULL;
        res = q(r, "listing the topic's models",
                "SELECT m.name FROM registry.models m JOIN registry.deployments d"
                " ON d.model_id = m.id WHERE d.request_topic = $1"
                " OR d.batch_request_topic = $1 ORDER BY m.name",
                1, vals, err);
        if (!res)
                return err->code;
        n = PQntuples(res);
        if (!(v = calloc((size_t)n + 1, sizeof(*v)))) {
                PQclear(res);
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        }
        for (int i = 0; i < n; i++)
                if (!(v[i] = strdup(PQgetvalue(res, i, 0)))) {
                        PQclear(res);
                        swarm_registry_names_destroy(v);
                        return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                }
        PQclear(res);
        *names = v;
        return SWARM_OK;
}

void swarm_registry_names_destroy(char **names) {
        if (!names)
                return;
        for (char **p = names; *p; p++)
                free(*p);
        free(names);
}

/* ------------------------------------------------------------ notifications */

int swarm_registry_listen(swarm_registry_t *r, swarm_err_t *err) {
        return exec_const(r, "LISTEN", "LISTEN " SWARM_REGISTRY_CHANNEL, err);
}

static int lost(swarm_registry_t *r, swarm_err_t *err) {
        char msg[300];

        copy_msg(msg, sizeof(msg), PQerrorMessage(r->conn));
        return swarm_err_set_flags(err, SWARM_ERR_IO, SWARM_ERR_F_RETRIABLE,
                                   "registry connection %s lost: %s", r->where,
                                   *msg ? msg : "closed");
}

/* The idle check of swarm_registry_wait(): send "SELECT 1" after check_ms
 * without hearing from the server, collect its answer when it comes, and
 * declare the connection lost when it does not come within answer_ms.
 * Another statement run meanwhile drains the probe's result (libpq does
 * that before sending), which also proves the connection alive.
 * Returns 0, or SWARM_ERR_IO with err set. */
static int idle_check(swarm_registry_t *r, int64_t now, swarm_err_t *err) {
        if (r->probe_ms) {
                if (!PQisBusy(r->conn)) {
                        PGresult *res;
                        while ((res = PQgetResult(r->conn)))
                                PQclear(res);
                        r->probe_ms = 0;
                        r->last_rx_ms = now;
                } else if (now - r->probe_ms >= r->answer_ms) {
                        r->broken = 1;
                        return swarm_err_set_flags(err, SWARM_ERR_IO, SWARM_ERR_F_RETRIABLE,
                                                   "registry connection %s lost: no "
                                                   "answer to the idle check within %d ms",
                                                   r->where, r->answer_ms);
                }
                return SWARM_OK;
        }
        if (r->check_ms > 0 && now - r->last_rx_ms >= r->check_ms &&
            PQtransactionStatus(r->conn) == PQTRANS_IDLE) {
                if (!PQsendQuery(r->conn, "SELECT 1"))
                        return lost(r, err);
                r->probe_ms = now;
        }
        return SWARM_OK;
}

int swarm_registry_wait(swarm_registry_t *r, int timeout_ms, int wake_fd,
                        char **payload, swarm_err_t *err) {
        int64_t deadline = timeout_ms < 0 ? -1 : swarm_clock_ms() + timeout_ms;

        *payload = NULL;
        if (r->broken)
                return swarm_err_set(err, SWARM_ERR_IO, "registry connection %s "
                                     "lost: no answer to the idle check", r->where);
        for (;;) {
                PGnotify *nt;
                struct pollfd p[2];
                int np = 1, wait_ms, pr;
                int64_t now;

                if (PQstatus(r->conn) != CONNECTION_OK || !PQconsumeInput(r->conn))
                        return lost(r, err);
                now = swarm_clock_ms();
                if (idle_check(r, now, err))
                        return SWARM_ERR_IO;
                if ((nt = PQnotifies(r->conn))) {
                        r->last_rx_ms = now;
                        *payload = strdup(nt->extra ? nt->extra : "");
                        PQfreemem(nt);
                        if (!*payload)
                                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                        return SWARM_OK;
                }
                wait_ms = deadline < 0 ? -1 : (int)(deadline - now);
                if (deadline >= 0 && wait_ms <= 0)
                        return SWARM_OK;
                /* wake up for the idle check's next step too */
                if (r->check_ms > 0) {
                        int64_t next = r->probe_ms ? r->probe_ms + r->answer_ms
                                                   : r->last_rx_ms + r->check_ms;
                        int step = next > now ? (int)(next - now) : 0;
                        if (wait_ms < 0 || step < wait_ms)
                                wait_ms = step;
                }
                p[0].fd = PQsocket(r->conn);
                p[0].events = POLLIN;
                if (p[0].fd < 0)
                        return lost(r, err);
                if (wake_fd >= 0) {
                        p[1].fd = wake_fd;
                        p[1].events = POLLIN;
                        np = 2;
                }
                pr = poll(p, (nfds_t)np, wait_ms);
                if (pr < 0 && errno != EINTR)
                        return swarm_err_set(err, SWARM_ERR_IO, "poll: %s", strerror(errno));
                if (pr > 0 && (p[0].revents & POLLIN))
                        r->last_rx_ms = swarm_clock_ms();
                if (pr > 0 && np == 2 && (p[1].revents & POLLIN))
                        return SWARM_OK;
                /* a hang-up shows as POLLIN/POLLHUP; PQconsumeInput above
                 * reports it */
        }
}
