/*
 * swarm-registry - the model registry CLI (PostgreSQL).
 *
 * Thin program: parse the command line, call lib/core/registry.c, print a
 * table (default) or JSON (--json) on stdout.  `register` loads the model
 * with our executor first and refuses what it cannot run.
 *
 * Exit codes: 0 ok, 1 runtime error (unknown model, refused change,
 * database unreachable), 2 usage error.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarm/backend.h"
#include "swarm/conf.h"
#include "swarm/fileio.h"
#include "swarm/log.h"
#include "swarm/model.h"
#include "swarm/registry.h"

/* The CLI's settings; every default is in the table below. */
typedef struct registry_opts {
        const char *registry;           /* conninfo; NULL: libpq's PG* */
        int json;
        const char *uri, *description, *meta, *alias, *reason;
        swarm_opt_list_t tags;
} registry_opts_t;

#define F(m) SWARM_FIELD(registry_opts_t, m)
static const swarm_opt_t opts[] = {
        {"registry", 'R', "swarm.registry", "CONNINFO",
         "PostgreSQL conninfo or URI (default: libpq's PG* environment)", NULL, 0,
         .field = F(registry)},
        {"json", 'j', "swarm.registry.json", NULL, "print JSON instead of tables", "false",
         0, SWARM_OPT_BOOL, .field = F(json)},
        {"uri", 0, "swarm.registry.uri", "file://PATH",
         "register: store only this reference, not the bytes", NULL, 0, .field = F(uri)},
        {"description", 0, "swarm.registry.description", "TEXT",
         "register: the model's description", NULL, 0, .field = F(description)},
        {"tag", 0, "swarm.registry.tag", "KEY=VALUE", "register: a tag (repeatable)", NULL, 1,
         SWARM_OPT_LIST, .field = F(tags)},
        {"meta", 0, "swarm.registry.meta", "JSON", "register: metadata (a JSON object)", NULL, 0,
         .field = F(meta)},
        {"alias", 'a', "swarm.registry.alias", "ALIAS",
         "promote/rollback: the alias", SWARM_REGISTRY_PRODUCTION, 0, .field = F(alias)},
        {"reason", 0, "swarm.registry.reason", "TEXT",
         "promote/rollback/config: recorded in the history", NULL, 0, .field = F(reason)},
        SWARM_OPT_END,
};
#undef F

static const swarm_cli_t cli = {
        "swarm-registry",
        "[options] COMMAND ARGS...",
        "Commands:\n"
        "  migrate                         create or upgrade the registry schema\n"
        "  register NAME FILE              add a version (loads it first)\n"
        "  list                            models, versions, aliases\n"
        "  show NAME[:VERSION]             one model or version\n"
        "  promote NAME VERSION            point --alias (production) at VERSION\n"
        "  rollback NAME                   move --alias back to its previous version\n"
        "  history NAME                    alias moves and setting changes\n"
        "  config NAME [key=value...]      show or change deployment settings\n"
        "  archive NAME:VERSION            retire a version (not while aliased)\n"
        "  export NAME:VERSION FILE        write the artifact (sha256 verified)\n"
        "Options may follow the command.  Connection: --registry, else PGHOST, PGPORT,\n"
        "PGUSER, PGDATABASE, PGSERVICE ... (libpq).",
        opts,
        0,
};

typedef struct ctx {
        swarm_conf_t *conf;
        swarm_log_t log;
        swarm_registry_t *reg;
        registry_opts_t o;
        const char *cmd;
        int nargs;
        char **args;
} ctx_t;

/* A usage error: print it, exit 2. */
static int usage(const char *fmt, const char *a) {
        swarm_err_t err;
        swarm_err_clear(&err);
        swarm_err_set(&err, SWARM_ERR_CONFIG, fmt, a);
        return swarm_cli_error(&cli, &err);
}

/* Move options after the command to the front: swarm_cli_parse stops at
 * the first positional argument, and `register NAME FILE --tag k=v` is the
 * natural order. */
static void permute(int argc, char **argv) {
        char **o = calloc((size_t)argc, sizeof(*o)), **p = calloc((size_t)argc, sizeof(*p));
        int no = 0, np = 0, i, dashes = 0;

        if (!o || !p)
                goto out;
        for (i = 1; i < argc; i++) {
                const char *a = argv[i];
                if (!strcmp(a, "--")) {
                        dashes = 1;
                        for (i++; i < argc; i++)
                                p[np++] = argv[i];
                        break;
                }
                if (a[0] != '-' || !a[1]) {
                        p[np++] = argv[i];
                        continue;
                }
                o[no++] = argv[i];
                /* does it take the next word? */
                if (!strchr(a, '=')) {
                        int takes = !strcmp(a, "-c") || !strcmp(a, "--config") ||
                                    !strcmp(a, "--log-level");
                        for (const swarm_opt_t *op = opts; op->name; op++)
                                if (op->arg && ((a[1] == '-' && !strcmp(a + 2, op->name)) ||
                                                (a[1] != '-' && !a[2] && a[1] == op->short_name)))
                                        takes = 1;
                        if (takes && i + 1 < argc)
                                o[no++] = argv[++i];
                }
        }
        i = 1;
        for (int k = 0; k < no; k++)
                argv[i++] = o[k];
        if (dashes)     /* same count as before: the "--" moved */
                argv[i++] = "--";
        for (int k = 0; k < np; k++)
                argv[i++] = p[k];
out:
        free(o);
        free(p);
}

/* NAME:VERSION (the last ':' followed by digits); version 0 when absent. */
static int split_ref(const char *s, char **name, int32_t *version, int need_version) {
        const char *c = strrchr(s, ':');
        char *end;
        long v;

        *version = 0;
        if (c && c[1]) {
                v = strtol(c + 1, &end, 10);
                if (!*end && v >= 1 && v <= INT32_MAX) {
                        *name = strndup(s, (size_t)(c - s));
                        *version = (int32_t)v;
                        return *name ? 0 : -1;
                }
        }
        if (need_version)
                return -1;
        *name = strdup(s);
        return *name ? 0 : -1;
}

static int parse_version(const char *s, int32_t *version) {
        char *end;
        long v = strtol(s, &end, 10);
        if (!*s || *end || v < 1 || v > INT32_MAX)
                return -1;
        *version = (int32_t)v;
        return 0;
}

static int print_json_text(const char *text) {
        json_error_t je;
        json_t *j = json_loads(text, 0, &je);
        if (!j) {
                fputs(text, stdout);
                fputc('\n', stdout);
                return 0;
        }
        json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
        json_decref(j);
        return 0;
}

/* A JSON value as short text for a table cell (caller frees). */
static char *cell(json_t *v) {
        if (!v || json_is_null(v))
                return strdup("-");
        if (json_is_string(v))
                return strdup(json_string_value(v));
        if (json_is_integer(v)) {
                char b[32];
                snprintf(b, sizeof(b), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
                return strdup(b);
        }
        return json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
}

static void print_aliases(json_t *aliases) {
        const char *k;
        json_t *v;
        int first = 1;
        json_object_foreach(aliases, k, v) {
                printf("%s%s=%" JSON_INTEGER_FORMAT, first ? "" : ",", k, json_integer_value(v));
                first = 0;
        }
        if (first)
                printf("-");
}

static void print_io(json_t *list) {
        size_t i;
        json_t *io;
        json_array_foreach(list, i, io) {
                size_t d;
                json_t *dim;
                printf("%s%s:%s[", i ? ", " : "",
                       json_string_value(json_object_get(io, "name")),
                       json_string_value(json_object_get(io, "dtype")));
                json_array_foreach(json_object_get(io, "shape"), d, dim) {
                        if (json_is_null(dim))
                                printf("%sN", d ? "," : "");
                        else
                                printf("%s%" JSON_INTEGER_FORMAT, d ? "," : "",
                                       json_integer_value(dim));
                }
                printf("]");
        }
}

static void print_version(json_t *v) {
        static const char *keys[] = {"model", "version", "status", "storage", "uri",
                                     "sha256", "size", "format", "created_by",
                                     "created_at", "aliases", "tags", "metadata"};
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
                char *c = cell(json_object_get(v, keys[i]));
                printf("%-11s %s\n", keys[i], c ? c : "?");
                free(c);
        }
        printf("%-11s ", "inputs");
        print_io(json_object_get(v, "inputs"));
        printf("\n%-11s ", "outputs");
        print_io(json_object_get(v, "outputs"));
        printf("\n");
}

/* Print `text` (JSON from the library) as JSON or as a human table. */
static int show_text(ctx_t *x, const char *what, const char *text) {
        json_error_t je;
        json_t *j;
        size_t i;
        json_t *e;

        if (x->o.json)
                return print_json_text(text);
        if (!(j = json_loads(text, 0, &je))) {
                fprintf(stderr, "swarm-registry: bad JSON from the registry: %s\n", je.text);
                return 1;
        }
        if (!strcmp(what, "list")) {
                printf("%-24s %8s %6s  %-24s %s\n", "NAME", "VERSIONS", "LATEST", "ALIASES",
                       "DESCRIPTION");
                json_array_foreach(j, i, e) {
                        char *latest = cell(json_object_get(e, "latest"));
                        printf("%-24s %8" JSON_INTEGER_FORMAT " %6s  ",
                               json_string_value(json_object_get(e, "name")),
                               json_integer_value(json_object_get(e, "versions")), latest);
                        print_aliases(json_object_get(e, "aliases"));
                        printf("  %s\n", json_string_value(json_object_get(e, "description")));
                        free(latest);
                }
        } else if (!strcmp(what, "version")) {
                print_version(j);
        } else if (!strcmp(what, "model")) {
                char *dep = cell(json_object_get(j, "deployment"));
                printf("name        %s\ndescription %s\nowner       %s\ncreated_at  %s\naliases     ",
                       json_string_value(json_object_get(j, "name")),
                       json_string_value(json_object_get(j, "description")),
                       json_string_value(json_object_get(j, "owner")),
                       json_string_value(json_object_get(j, "created_at")));
                print_aliases(json_object_get(j, "aliases"));
                printf("\ndeployment  %s\n\n%7s %-8s %-8s %10s %-16s %s\n", dep ? dep : "-",
                       "VERSION", "STATUS", "STORAGE", "SIZE", "SHA256", "ALIASES");
                free(dep);
                json_array_foreach(json_object_get(j, "versions"), i, e) {
                        char *al = cell(json_object_get(e, "aliases"));
                        printf("%7" JSON_INTEGER_FORMAT " %-8s %-8s %10" JSON_INTEGER_FORMAT
                               " %.16s %s\n",
                               json_integer_value(json_object_get(e, "version")),
                               json_string_value(json_object_get(e, "status")),
                               json_string_value(json_object_get(e, "storage")),
                               json_integer_value(json_object_get(e, "size")),
                               json_string_value(json_object_get(e, "sha256")), al ? al : "");
                        free(al);
                }
        } else if (!strcmp(what, "history")) {
                printf("%5s %-32s %-12s %-6s %-16s %-8s %-8s %s\n", "ID", "WHEN", "WHO", "KIND",
                       "NAME", "FROM", "TO", "REASON");
                json_array_foreach(j, i, e) {
                        int alias = !strcmp(json_string_value(json_object_get(e, "kind")), "alias");
                        char *from = cell(json_object_get(e, alias ? "from_version" : "from_value"));
                        char *to = cell(json_object_get(e, alias ? "to_version" : "to_value"));
                        printf("%5" JSON_INTEGER_FORMAT " %-32s %-12s %-6s %-16s %-8s %-8s %s\n",
                               json_integer_value(json_object_get(e, "id")),
                               json_string_value(json_object_get(e, "changed_at")),
                               json_string_value(json_object_get(e, "changed_by")),
                               json_string_value(json_object_get(e, "kind")),
                               json_string_value(json_object_get(e, "name")), from, to,
                               json_string_value(json_object_get(e, "reason")));
                        free(from);
                        free(to);
                }
        }
        json_decref(j);
        return 0;
}

/* Signature of the loaded model as [{"name","dtype","shape":[null|N...]}] */
static char *signature_json(const swarm_model_t *m, int outputs) {
        json_t *a = json_array();
        int n = outputs ? swarm_model_n_outputs(m) : swarm_model_n_inputs(m);
        char *s;

        for (int i = 0; i < n; i++) {
                const swarm_model_io_t *io = outputs ? swarm_model_output(m, i)
                                                     : swarm_model_input(m, i);
                json_t *shape = json_array();
                for (int d = 0; d < io->ndim; d++)
                        json_array_append_new(shape, io->shape[d] < 0 ? json_null()
                                                                      : json_integer(io->shape[d]));
                json_array_append_new(a, json_pack("{s:s, s:s, s:o}", "name", io->name,
                                                   "dtype", swarm_dtype_name(io->dtype),
                                                   "shape", shape));
        }
        s = json_dumps(a, JSON_COMPACT);
        json_decref(a);
        return s;
}

static int cmd_register(ctx_t *x, swarm_err_t *err) {
        void *buf = NULL, *ubuf = NULL;
        size_t len = 0, ulen = 0;
        swarm_backend_t *be = NULL;
        swarm_model_t *m = NULL;
        char *inputs = NULL, *outputs = NULL, *meta = NULL, *tags = NULL;
        json_t *tj = json_object();
        const char *uri = x->o.uri;
        const char *mtext = x->o.meta;
        size_t ntags = x->o.tags.n;
        swarm_registry_new_version_t nv;
        char sha[65];
        int32_t version;
        int rc = 1;

        if (x->nargs != 2) {
                rc = usage("register expects NAME FILE%s", "");
                goto out;
        }
        for (size_t i = 0; i < ntags; i++) {
                const char *t = x->o.tags.v[i];
                const char *eq = strchr(t, '=');
                char *k;
                if (!eq || eq == t) {
                        rc = usage("--tag expects KEY=VALUE, got \"%s\"", t);
                        goto out;
                }
                k = strndup(t, (size_t)(eq - t));
                json_object_set_new(tj, k, json_string(eq + 1));
                free(k);
        }
        if (mtext) {
                json_error_t je;
                json_t *mj = json_loads(mtext, JSON_DECODE_ANY, &je);
                if (!mj || !json_is_object(mj)) {
                        json_decref(mj);
                        rc = usage("--meta expects a JSON object, got \"%s\"", mtext);
                        goto out;
                }
                meta = json_dumps(mj, JSON_COMPACT | JSON_PRESERVE_ORDER);
                json_decref(mj);
        }
        if (uri && strncmp(uri, "file:///", 8) && strncmp(uri, "file://localhost/", 17)) {
                rc = usage("--uri expects file:///ABSOLUTE/PATH, got \"%s\"", uri);
                goto out;
        }
        if (swarm_fileio_read_path(x->args[1], &buf, &len, err))
                goto out;
        if (uri) {
                /* the worker will read the URI: it must hold these bytes */
                const char *path = uri + (strncmp(uri, "file://localhost/", 17) ? 7 : 16);
                char h1[65], h2[65];
                if (swarm_fileio_read_path(path, &ubuf, &ulen, err)) {
                        swarm_err_prefix(err, "--uri %s: ", uri);
                        goto out;
                }
                swarm_sha256_hex(buf, len, h1);
                swarm_sha256_hex(ubuf, ulen, h2);
                if (strcmp(h1, h2)) {
                        swarm_err_set(err, SWARM_ERR_INVALID, "--uri %s does not hold the bytes of %s",
                                      uri, x->args[1]);
                        goto out;
                }
        }
        if (swarm_backend_cpu_new(1, &be, err))
                goto out;
        if (swarm_model_load_mem(buf, len, be, &m, err)) {
                swarm_err_prefix(err, "%s cannot be served: ", x->args[1]);
                goto out;
        }
        inputs = signature_json(m, 0);
        outputs = signature_json(m, 1);
        tags = json_dumps(tj, JSON_COMPACT | JSON_PRESERVE_ORDER);
        memset(&nv, 0, sizeof(nv));
        nv.model = x->args[0];
        nv.description = x->o.description;
        nv.artifact = buf;
        nv.size = len;
        nv.uri = uri;
        nv.format = "onnx";
        nv.inputs_json = inputs;
        nv.outputs_json = outputs;
        nv.metadata_json = meta;
        nv.tags_json = tags;
        if (swarm_registry_register(x->reg, &nv, &version, sha, err))
                goto out;
        if (x->o.json) {
                json_t *o = json_pack("{s:s, s:i, s:s, s:I}", "model", x->args[0], "version",
                                      (int)version, "sha256", sha, "size", (json_int_t)len);
                json_dumpf(o, stdout, JSON_PRESERVE_ORDER);
                fputc('\n', stdout);
                json_decref(o);
        } else {
                char sig[512];
                swarm_model_signature(m, sig, sizeof(sig));
                printf("registered %s version %" PRId32 " sha256 %s size %zu signature %s\n",
                       x->args[0], version, sha, len, sig);
        }
        rc = 0;
out:
        swarm_model_destroy(m);
        swarm_backend_destroy(be);
        free(buf);
        free(ubuf);
        free(inputs);
        free(outputs);
        free(meta);
        free(tags);
        json_decref(tj);
        return rc;
}

static int print_ok(ctx_t *x, json_t *o, const char *human) {
        if (x->o.json) {
                json_dumpf(o, stdout, JSON_PRESERVE_ORDER);
                fputc('\n', stdout);
        } else {
                printf("%s\n", human);
        }
        json_decref(o);
        return 0;
}

static int run_cmd(ctx_t *x, swarm_err_t *err) {
        const char *alias = x->o.alias;
        const char *reason = x->o.reason;
        char *name = NULL, *text = NULL, msg[512];
        int32_t version = 0, other = 0;
        int rc = 1;

#define NARGS(n, syn)                                              \
        if (x->nargs != (n)) {                                     \
                rc = usage("%s expects " syn, x->cmd);             \
                goto out;                                          \
        }
        if (!strcmp(x->cmd, "migrate")) {
                int applied;
                NARGS(0, "no arguments");
                if (swarm_registry_migrate(x->reg, &applied, err))
                        goto out;
                snprintf(msg, sizeof(msg), "applied %d migration(s)", applied);
                rc = print_ok(x, json_pack("{s:i}", "applied", applied), msg);
        } else if (!strcmp(x->cmd, "register")) {
                rc = cmd_register(x, err);
        } else if (!strcmp(x->cmd, "list")) {
                NARGS(0, "no arguments");
                if (swarm_registry_list(x->reg, &text, err))
                        goto out;
                rc = show_text(x, "list", text);
        } else if (!strcmp(x->cmd, "show")) {
                NARGS(1, "NAME[:VERSION]");
                if (split_ref(x->args[0], &name, &version, 0))
                        goto nomem;
                if (swarm_registry_show(x->reg, name, version, &text, err))
                        goto out;
                rc = show_text(x, version ? "version" : "model", text);
        } else if (!strcmp(x->cmd, "promote")) {
                NARGS(2, "NAME VERSION");
                if (parse_version(x->args[1], &version)) {
                        rc = usage("bad version \"%s\"", x->args[1]);
                        goto out;
                }
                if (swarm_registry_promote(x->reg, x->args[0], version, alias, reason, &other, err))
                        goto out;
                snprintf(msg, sizeof(msg), "%s %s: %" PRId32 " -> %" PRId32, x->args[0], alias,
                         other, version);
                rc = print_ok(x, json_pack("{s:s, s:s, s:i, s:i}", "model", x->args[0], "alias",
                                           alias, "from", (int)other, "to", (int)version),
                              msg);
        } else if (!strcmp(x->cmd, "rollback")) {
                NARGS(1, "NAME");
                if (swarm_registry_rollback(x->reg, x->args[0], alias, reason, &version, err))
                        goto out;
                snprintf(msg, sizeof(msg), "%s %s rolled back to %" PRId32, x->args[0], alias,
                         version);
                rc = print_ok(x, json_pack("{s:s, s:s, s:i}", "model", x->args[0], "alias",
                                           alias, "to", (int)version),
                              msg);
        } else if (!strcmp(x->cmd, "history")) {
                NARGS(1, "NAME");
                if (swarm_registry_history(x->reg, x->args[0], &text, err))
                        goto out;
                rc = show_text(x, "history", text);
        } else if (!strcmp(x->cmd, "config")) {
                int n = x->nargs - 1;
                const char **keys, **vals;
                if (x->nargs < 1) {
                        rc = usage("%s expects NAME [key=value...]", x->cmd);
                        goto out;
                }
                if (n == 0) {
                        /* no changes: show the settings */
                        if (swarm_registry_show(x->reg, x->args[0], 0, &text, err))
                                goto out;
                        {
                                json_t *j = json_loads(text, 0, NULL);
                                json_t *d = json_object_get(j, "deployment");
                                const char *k;
                                json_t *v;
                                if (x->o.json) {
                                        json_dumpf(d ? d : json_null(), stdout,
                                                   JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
                                        fputc('\n', stdout);
                                } else {
                                        json_object_foreach(d, k, v) {
                                                char *c = cell(v);
                                                printf("%-16s %s\n", k, c);
                                                free(c);
                                        }
                                }
                                json_decref(j);
                        }
                        rc = 0;
                        goto out;
                }
                keys = calloc((size_t)n, sizeof(*keys));
                vals = calloc((size_t)n, sizeof(*vals));
                if (!keys || !vals) {
                        free(keys);
                        free(vals);
                        goto nomem;
                }
                for (int i = 0; i < n; i++) {
                        char *eq = strchr(x->args[1 + i], '=');
                        if (!eq || eq == x->args[1 + i]) {
                                free(keys);
                                free(vals);
                                rc = usage("config expects key=value, got \"%s\"", x->args[1 + i]);
                                goto out;
                        }
                        *eq = '\0';
                        keys[i] = x->args[1 + i];
                        vals[i] = eq + 1;
                }
                if (swarm_registry_config(x->reg, x->args[0], keys, vals, (size_t)n, reason,
                                          err)) {
                        free(keys);
                        free(vals);
                        goto out;
                }
                free(keys);
                free(vals);
                snprintf(msg, sizeof(msg), "%s: %d setting(s) changed", x->args[0], n);
                rc = print_ok(x, json_pack("{s:s, s:i}", "model", x->args[0], "changed", n), msg);
        } else if (!strcmp(x->cmd, "archive")) {
                NARGS(1, "NAME:VERSION");
                if (split_ref(x->args[0], &name, &version, 1)) {
                        rc = usage("archive expects NAME:VERSION, got \"%s\"", x->args[0]);
                        goto out;
                }
                if (swarm_registry_archive(x->reg, name, version, err))
                        goto out;
                snprintf(msg, sizeof(msg), "%s version %" PRId32 " archived", name, version);
                rc = print_ok(x, json_pack("{s:s, s:i, s:s}", "model", name, "version",
                                           (int)version, "status", "archived"),
                              msg);
        } else if (!strcmp(x->cmd, "export")) {
                void *buf = NULL;
                size_t len = 0;
                FILE *f;
                char sha[65];
                NARGS(2, "NAME:VERSION FILE");
                if (split_ref(x->args[0], &name, &version, 1)) {
                        rc = usage("export expects NAME:VERSION, got \"%s\"", x->args[0]);
                        goto out;
                }
                if (swarm_registry_fetch(x->reg, name, version, &buf, &len, err))
                        goto out;
                if (!(f = fopen(x->args[1], "wb")) || fwrite(buf, 1, len, f) != len ||
                    fclose(f)) {
                        swarm_err_set(err, SWARM_ERR_IO, "%s: %s", x->args[1], strerror(errno));
                        free(buf);
                        goto out;
                }
                swarm_sha256_hex(buf, len, sha);
                free(buf);
                snprintf(msg, sizeof(msg), "%s version %" PRId32 " -> %s (%zu bytes, sha256 %s verified)",
                         name, version, x->args[1], len, sha);
                rc = print_ok(x, json_pack("{s:s, s:i, s:s, s:I, s:s}", "model", name, "version",
                                           (int)version, "file", x->args[1], "size",
                                           (json_int_t)len, "sha256", sha),
                              msg);
        } else {
                rc = usage("unknown command \"%s\"", x->cmd);
        }
        goto out;
nomem:
        swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
out:
        free(name);
        free(text);
        return rc;
#undef NARGS
}

/* Each command's arguments: checked before connecting, so a usage error
 * exits 2 without touching the database. */
static const struct command {
        const char *name;
        int min, max;           /* argument count; max -1: any */
        const char *syn;
} commands[] = {
        {"migrate", 0, 0, "no arguments"},
        {"register", 2, 2, "NAME FILE"},
        {"list", 0, 0, "no arguments"},
        {"show", 1, 1, "NAME[:VERSION]"},
        {"promote", 2, 2, "NAME VERSION"},
        {"rollback", 1, 1, "NAME"},
        {"history", 1, 1, "NAME"},
        {"config", 1, -1, "NAME [key=value...]"},
        {"archive", 1, 1, "NAME:VERSION"},
        {"export", 2, 2, "NAME:VERSION FILE"},
};

static int check_usage(const ctx_t *x) {
        const struct command *c = NULL;
        int32_t version;
        char *name = NULL;

        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                if (!strcmp(x->cmd, commands[i].name))
                        c = &commands[i];
        if (!c)
                return usage("unknown command \"%s\"", x->cmd);
        if (x->nargs < c->min || (c->max >= 0 && x->nargs > c->max)) {
                char msg[128];
                snprintf(msg, sizeof(msg), "%s expects %s", c->name, c->syn);
                return usage("%s", msg);
        }
        if (!strcmp(c->name, "promote") && parse_version(x->args[1], &version))
                return usage("bad version \"%s\"", x->args[1]);
        if (!strcmp(c->name, "archive") || !strcmp(c->name, "export")) {
                int bad = split_ref(x->args[0], &name, &version, 1);
                free(name);
                if (bad)
                        return usage(!strcmp(c->name, "archive")
                                             ? "archive expects NAME:VERSION, got \"%s\""
                                             : "export expects NAME:VERSION, got \"%s\"",
                                     x->args[0]);
        }
        if (!strcmp(c->name, "config"))
                for (int i = 1; i < x->nargs; i++) {
                        const char *eq = strchr(x->args[i], '=');
                        if (!eq || eq == x->args[i])
                                return usage("config expects key=value, got \"%s\"",
                                             x->args[i]);
                }
        if (!strcmp(c->name, "register"))
                for (size_t i = 0; i < x->o.tags.n; i++) {
                        const char *t = x->o.tags.v[i];
                        const char *eq = strchr(t, '=');
                        if (!eq || eq == t)
                                return usage("--tag expects KEY=VALUE, got \"%s\"", t);
                }
        return 0;
}

int main(int argc, char **argv) {
        ctx_t x;
        swarm_err_t err;
        int argi, rc = 1;
        const char *db;

        memset(&x, 0, sizeof(x));
        x.log = (swarm_log_t){SWARM_LOG_WARN, "swarm-registry", NULL};
        swarm_err_clear(&err);
        permute(argc, argv);
        if ((rc = swarm_cli_main(&cli, argc, argv, &x.log, &x.o, &x.conf,
                                 &argi)) >= 0)
                goto out;
        rc = 1;
        if (argi >= argc) {
                rc = usage("no command%s", "");
                goto out;
        }
        x.cmd = argv[argi];
        x.args = argv + argi + 1;
        x.nargs = argc - argi - 1;
        if ((rc = check_usage(&x)))
                goto out;
        rc = 1;
        db = x.o.registry;
        if (swarm_registry_connect(db, &x.log, &x.reg, &err))
                goto out;
        rc = run_cmd(&x, &err);
out:
        if (err.code)
                fprintf(stderr, "swarm-registry: %s\n", err.msg);
        if (rc == 0 && err.code)
                rc = 1;
        swarm_registry_destroy(x.reg);
        swarm_opts_destroy(&cli, &x.o);
        swarm_conf_destroy(x.conf);
        return rc;
}
