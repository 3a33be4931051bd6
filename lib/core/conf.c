/*
 * conf.c - layered key=value configuration and the shared command line.
 *
 * Entries are kept in one array in insertion order; lookups scan it.  Configs
 * hold tens of entries and are read at startup, so a linear scan is simpler
 * than a hash and fast enough.
 */
#include "swarm/conf.h"
#include "swarm/schemareg.h"
#include "swarm/version.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct entry {
        char *key;
        char *value;
        char *origin;
        swarm_conf_layer_t layer;
} entry_t;

struct swarm_conf {
        entry_t *v;
        size_t n, cap;
};

int swarm_conf_new(swarm_conf_t **out, swarm_err_t *err) {
        *out = calloc(1, sizeof(**out));
        if (!*out)
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        return SWARM_OK;
}

void swarm_conf_destroy(swarm_conf_t *c) {
        if (!c)
                return;
        for (size_t i = 0; i < c->n; i++) {
                free(c->v[i].key);
                free(c->v[i].value);
                free(c->v[i].origin);
        }
        free(c->v);
        free(c);
}

int swarm_conf_add(swarm_conf_t *c, swarm_conf_layer_t layer, const char *key,
                   const char *value, const char *origin, swarm_err_t *err) {
        entry_t *e;

        if (!key || !*key)
                return swarm_err_set(err, SWARM_ERR_CONFIG,
                                     "%s: empty configuration key",
                                     origin ? origin : "?");
        if (c->n == c->cap) {
                size_t cap = c->cap ? c->cap * 2 : 32;
                entry_t *v = realloc(c->v, cap * sizeof(*v));
                if (!v)
                        return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                c->v = v;
                c->cap = cap;
        }
        e = &c->v[c->n];
        e->key = strdup(key);
        e->value = strdup(value ? value : "");
        e->origin = strdup(origin ? origin : "?");
        e->layer = layer;
        if (!e->key || !e->value || !e->origin) {
                free(e->key);
                free(e->value);
                free(e->origin);
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        }
        c->n++;
        return SWARM_OK;
}

static char *trim(char *s) {
        char *e;
        while (isspace((unsigned char)*s))
                s++;
        e = s + strlen(s);
        while (e > s && isspace((unsigned char)e[-1]))
                *--e = '\0';
        return s;
}

/* The longest config-file line and -X key=value read, and the "FILE:LINE"
 * origin kept with a value (a path plus a line number). */
#define CONF_LINE_SIZE 4096
#define CONF_ORIGIN_SIZE 600

int swarm_conf_load_file(swarm_conf_t *c, const char *path, swarm_err_t *err) {
        char line[CONF_LINE_SIZE], origin[CONF_ORIGIN_SIZE];
        FILE *fp = fopen(path, "r");
        int lineno = 0, r = SWARM_OK;

        if (!fp)
                return swarm_err_set(err, SWARM_ERR_IO, "%s: %s", path,
                                     strerror(errno));
        while (fgets(line, sizeof(line), fp)) {
                char *s, *eq;
                lineno++;
                snprintf(origin, sizeof(origin), "%s:%d", path, lineno);
                if (!strchr(line, '\n') && !feof(fp)) {
                        r = swarm_err_set(err, SWARM_ERR_CONFIG,
                                          "%s: line too long", origin);
                        break;
                }
                s = trim(line);
                if (!*s || *s == '#')
                        continue;
                eq = strchr(s, '=');
                if (!eq) {
                        r = swarm_err_set(err, SWARM_ERR_CONFIG,
                                          "%s: expected key=value, got \"%s\"",
                                          origin, s);
                        break;
                }
                *eq = '\0';
                r = swarm_conf_add(c, SWARM_CONF_FILE, trim(s), trim(eq + 1),
                                   origin, err);
                if (r)
                        break;
        }
        fclose(fp);
        return r;
}

/* The highest layer holding `key`, or -1. */
static int top_layer(const swarm_conf_t *c, const char *key) {
        int top = -1;
        for (size_t i = 0; i < c->n; i++)
                if ((int)c->v[i].layer > top && !strcmp(c->v[i].key, key))
                        top = (int)c->v[i].layer;
        return top;
}

static const entry_t *effective(const swarm_conf_t *c, const char *key) {
        const entry_t *best = NULL;
        for (size_t i = 0; i < c->n; i++)
                if (!strcmp(c->v[i].key, key) &&
                    (!best || c->v[i].layer >= best->layer))
                        best = &c->v[i];
        return best;
}

const char *swarm_conf_get(const swarm_conf_t *c, const char *key) {
        const entry_t *e = effective(c, key);
        return e ? e->value : NULL;
}

const char *swarm_conf_origin(const swarm_conf_t *c, const char *key) {
        const entry_t *e = effective(c, key);
        return e ? e->origin : "default";
}

size_t swarm_conf_count(const swarm_conf_t *c, const char *key) {
        int top = top_layer(c, key);
        size_t n = 0;
        for (size_t i = 0; i < c->n; i++)
                if ((int)c->v[i].layer == top && !strcmp(c->v[i].key, key))
                        n++;
        return n;
}

const char *swarm_conf_get_nth(const swarm_conf_t *c, const char *key,
                               size_t nth) {
        int top = top_layer(c, key);
        for (size_t i = 0; i < c->n; i++)
                if ((int)c->v[i].layer == top && !strcmp(c->v[i].key, key) &&
                    nth-- == 0)
                        return c->v[i].value;
        return NULL;
}

/* Parsers of one value; errors cite where it came from. */
static int parse_i64(const char *key, const char *value, const char *origin,
                     int64_t *out, swarm_err_t *err) {
        char *end;
        long long v;
        int64_t mul = 1;

        errno = 0;
        v = strtoll(value, &end, 0);
        if (end != value) {
                switch (*end) {
                case 'k': case 'K': mul = 1000; end++; break;
                case 'M': mul = 1000000; end++; break;
                case 'G': mul = 1000000000; end++; break;
                default: break;
                }
        }
        if (errno || end == value || *end ||
            (v > 0 && v > INT64_MAX / mul) || (v < 0 && v < INT64_MIN / mul))
                return swarm_err_set(err, SWARM_ERR_CONFIG,
                                     "%s: %s=\"%s\" is not an integer",
                                     origin, key, value);
        *out = (int64_t)v * mul;
        return SWARM_OK;
}

static int parse_double(const char *key, const char *value, const char *origin,
                        double *out, swarm_err_t *err) {
        char *end;
        double v;

        errno = 0;
        v = strtod(value, &end);
        if (errno || end == value || *end || !isfinite(v))
                return swarm_err_set(err, SWARM_ERR_CONFIG,
                                     "%s: %s=\"%s\" is not a number",
                                     origin, key, value);
        *out = v;
        return SWARM_OK;
}

static int parse_bool(const char *key, const char *value, const char *origin,
                      int *out, swarm_err_t *err) {
        static const char *yes[] = {"true", "1", "yes", "on"};
        static const char *no[] = {"false", "0", "no", "off"};

        for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
                if (!strcasecmp(value, yes[i])) {
                        *out = 1;
                        return SWARM_OK;
                }
                if (!strcasecmp(value, no[i])) {
                        *out = 0;
                        return SWARM_OK;
                }
        }
        return swarm_err_set(err, SWARM_ERR_CONFIG,
                             "%s: %s=\"%s\" is not a boolean", origin, key, value);
}

int swarm_conf_get_i64(const swarm_conf_t *c, const char *key, int64_t def,
                       int64_t *out, swarm_err_t *err) {
        const entry_t *e = effective(c, key);

        if (!e) {
                *out = def;
                return SWARM_OK;
        }
        return parse_i64(key, e->value, e->origin, out, err);
}

int swarm_conf_get_double(const swarm_conf_t *c, const char *key, double def,
                          double *out, swarm_err_t *err) {
        const entry_t *e = effective(c, key);

        if (!e) {
                *out = def;
                return SWARM_OK;
        }
        return parse_double(key, e->value, e->origin, out, err);
}

int swarm_conf_get_bool(const swarm_conf_t *c, const char *key, int def,
                        int *out, swarm_err_t *err) {
        const entry_t *e = effective(c, key);

        if (!e) {
                *out = def;
                return SWARM_OK;
        }
        return parse_bool(key, e->value, e->origin, out, err);
}

int swarm_conf_each(const swarm_conf_t *c,
                    int (*cb)(const char *key, const char *value,
                              const char *origin, void *opaque),
                    void *opaque) {
        for (size_t i = 0; i < c->n; i++) {
                const entry_t *e = &c->v[i];
                int seen = 0, r;
                /* only entries of the key's highest layer count */
                if ((int)e->layer != top_layer(c, e->key))
                        continue;
                /* a non-repeatable key appears once: its last entry */
                for (size_t j = i + 1; j < c->n; j++)
                        if (c->v[j].layer == e->layer &&
                            !strcmp(c->v[j].key, e->key))
                                seen = 1;
                if (seen && strncmp(e->key, "swarm.", 6) != 0)
                        continue;
                r = cb(e->key, e->value, e->origin, opaque);
                if (r)
                        return r;
        }
        return 0;
}

/* ---------------------------------------------------------------- cli */

static const swarm_opt_t common_opts[] = {
        {"brokers", 'b', "bootstrap.servers", "HOST:PORT,...",
         "Kafka bootstrap servers", NULL, 0},
        {"topic", 't', "swarm.topic", "TOPIC", "topic", NULL, 0},
        {"group", 'g', "group.id", "GROUP", "consumer group", NULL, 0},
        SWARM_OPT_END,
};
static const int common_bits[] = {SWARM_CLI_BROKERS, SWARM_CLI_TOPIC,
                                  SWARM_CLI_GROUP};

static const swarm_opt_t builtin_opts[] = {
        {"config", 'c', NULL, "FILE", NULL, NULL, 0},
        {"log-level", 0, "swarm.log.level", "LEVEL", "error, warn, info or debug",
         "info", 0, .choices = "error|warn|info|debug"},
        {"help", 'h', NULL, NULL, NULL, NULL, 0},
        {"version", 'V', NULL, NULL, NULL, NULL, 0},
        SWARM_OPT_END,
};

/* Most options one program has (common, its own, built-in). */
#define MAX_OPTS 96
/* getopt_long() returns this plus the table index for a long option (above
 * every short option character). */
#define LONGOPT_BASE 1000
/* kcat's -F FILE is an alias of -c FILE. */
#define CONFIG_ALIAS 'F'

static const char *type_name(const swarm_opt_t *o) {
        switch (o->type) {
        case SWARM_OPT_INT: return "integer";
        case SWARM_OPT_DOUBLE: return "number";
        case SWARM_OPT_BOOL: return "boolean";
        case SWARM_OPT_LIST: return "string, repeatable";
        default: return o->arg ? "string" : "flag";
        }
}

/* "1..65535", "a|b|c" or "" for --help and -X list. */
static void bounds_text(const swarm_opt_t *o, char *buf, size_t size) {
        buf[0] = '\0';
        if (o->choices)
                snprintf(buf, size, "%s", o->choices);
        else if ((o->type == SWARM_OPT_INT || o->type == SWARM_OPT_DOUBLE) &&
                 o->min < o->max)
                snprintf(buf, size, "%.15g..%.15g", o->min, o->max);
}

void swarm_cli_usage(const swarm_cli_t *cli) {
        printf("Usage: %s %s\n\n", cli->prog, cli->synopsis ? cli->synopsis : "[options]");
        if (cli->description)
                printf("%s\n\n", cli->description);
        printf("Options:\n");
        for (int i = 0; common_opts[i].name; i++) {
                const swarm_opt_t *o = &common_opts[i];
                if (!(cli->common & common_bits[i]))
                        continue;
                printf("  -%c, --%s %s\n        %s (%s%s%s)\n", o->short_name,
                       o->name, o->arg, o->help, o->key,
                       i == 1 && cli->topic_def ? ", default " : "",
                       i == 1 && cli->topic_def ? cli->topic_def : "");
        }
        for (const swarm_opt_t *o = cli->opts; o && o->name; o++) {
                char sh[8] = "    ", range[128];
                if (o->short_name)
                        snprintf(sh, sizeof(sh), "-%c, ", o->short_name);
                bounds_text(o, range, sizeof(range));
                printf("  %s--%s%s%s\n        %s (%s%s%s%s%s%s)\n", sh, o->name,
                       o->arg ? " " : "", o->arg ? o->arg : "", o->help,
                       o->key, o->def ? ", default " : "", o->def ? o->def : "",
                       *range ? ", " : "", range,
                       o->repeatable ? ", repeatable" : "");
        }
        if (cli->common & SWARM_CLI_KAFKA)
                printf("  -X KEY=VALUE\n        set any librdkafka property, "
                       "or a swarm.* key (repeatable); -X list shows them\n");
        printf("  -c, -F, --config FILE\n        key=value configuration file\n"
               "  --log-level LEVEL\n        error, warn, info (default), debug\n"
               "  -h, --help\n        this text\n"
               "  -V, --version\n        version, git revision, library versions\n\n"
               "Precedence: defaults < -c file < SWARM_<OPTION> environment "
               "< command line.\n");
}

static void list_one(FILE *out, const swarm_opt_t *o, const char *def) {
        char range[128];
        bounds_text(o, range, sizeof(range));
        fprintf(out, "%-32s %-18s %-22s %-12s %s\n", o->key, type_name(o),
                *range ? range : "-", def ? (*def ? def : "\"\"") : "-",
                o->help ? o->help : "");
}

void swarm_cli_list_keys(const swarm_cli_t *cli, FILE *out) {
        fprintf(out, "%s keys (-X key=value, -c file, SWARM_<OPTION>):\n\n", cli->prog);
        fprintf(out, "%-32s %-18s %-22s %-12s %s\n", "Key", "Type", "Range",
                "Default", "Description");
        for (int i = 0; common_opts[i].name; i++)
                if ((cli->common & common_bits[i]) && !strncmp(common_opts[i].key, "swarm.", 6))
                        list_one(out, &common_opts[i], cli->topic_def);
        for (const swarm_opt_t *o = cli->opts; o && o->name; o++)
                if (o->key && !strncmp(o->key, "swarm.", 6))
                        list_one(out, o, o->def);
        for (int i = 0; builtin_opts[i].name; i++)
                if (builtin_opts[i].key)
                        list_one(out, &builtin_opts[i], builtin_opts[i].def);
        fprintf(out, "\nlibrdkafka properties (passed through verbatim):\n\n");
}

int swarm_cli_error(const swarm_cli_t *cli, const swarm_err_t *err) {
        fprintf(stderr, "%s: %s\nTry '%s --help'.\n", cli->prog,
                err && *err->msg ? err->msg : "usage error", cli->prog);
        return 2;
}

int swarm_cli_start(const swarm_cli_t *cli, int argc, char **argv,
                    swarm_log_t *log, void *dst, swarm_conf_t **conf,
                    int *argi, int *done, swarm_err_t *err) {
        const char *lvl;
        int level;

        *done = 0;
        *argi = argc;
        if (!*conf && swarm_conf_new(conf, err))
                return err->code;
        if (swarm_cli_parse(cli, argc, argv, *conf, argi, done, err))
                return err->code;
        if (*done)
                return SWARM_OK;
        if (log && (lvl = swarm_conf_get(*conf, "swarm.log.level")) &&
            (level = swarm_log_level_parse(lvl)) >= 0)
                log->level = (swarm_level_t)level;
        if (dst && swarm_opts_fill(cli, *conf, dst, err))
                return err->code;
        return SWARM_OK;
}

int swarm_cli_fail(const swarm_cli_t *cli, const swarm_err_t *err) {
        if (err && err->code == SWARM_ERR_NOMEM) {
                fprintf(stderr, "%s: %s\n", cli->prog, err->msg);
                return 1;
        }
        return swarm_cli_error(cli, err);
}

int swarm_cli_main(const swarm_cli_t *cli, int argc, char **argv,
                   swarm_log_t *log, void *dst, swarm_conf_t **conf,
                   int *argi) {
        swarm_err_t err;
        int done = 0;

        swarm_err_clear(&err);
        if (swarm_cli_start(cli, argc, argv, log, dst, conf, argi, &done, &err))
                return swarm_cli_fail(cli, &err);
        return done ? 0 : -1;
}

/* Environment variable for an option: SWARM_ + upper-cased name, '-' -> '_'. */
static void env_name(const char *name, char *buf, size_t size) {
        size_t n = (size_t)snprintf(buf, size, "SWARM_");
        for (; *name && n + 1 < size; name++)
                buf[n++] = *name == '-' ? '_' : (char)toupper((unsigned char)*name);
        buf[n] = '\0';
}

/* librdkafka properties that hold secrets.  Given on the command line they
 * are readable by every user through ps and /proc/PID/cmdline, so they may
 * come from the environment (SWARM_KAFKA_SASL_PASSWORD ...) or a file
 * (SWARM_KAFKA_SASL_PASSWORD_FILE) instead, and a command-line value gets a
 * warning (never echoing the value). */
static const char *const kafka_secrets[] = {
        "sasl.password", "ssl.key.password", "ssl.keystore.password",
        "sasl.oauthbearer.client.secret", "ssl.key.pem", NULL};

static int is_kafka_secret(const char *key) {
        for (int i = 0; kafka_secrets[i]; i++)
                if (!strcmp(key, kafka_secrets[i]))
                        return 1;
        return 0;
}

/* A conninfo with a password in it (password=..., postgresql://u:p@h). */
static int has_password(const char *v) {
        const char *at, *colon;
        if (strstr(v, "password"))
                return 1;
        if ((!strncmp(v, "postgresql://", 13) || !strncmp(v, "postgres://", 11)) &&
            (at = strchr(v, '@')) && (colon = strchr(strstr(v, "://") + 3, ':')) &&
            colon < at)
                return 1;
        return 0;
}

/* Read a secret file (at most 64 KiB; one trailing newline dropped, as
 * `echo` and editors leave one) into buf.  Returns 0, or -1 with errno. */
static int read_secret(const char *path, char *buf, size_t size) {
        FILE *fp = fopen(path, "r");
        size_t n;

        if (!fp)
                return -1;
        n = fread(buf, 1, size - 1, fp);
        if (ferror(fp) || (n == size - 1 && fgetc(fp) != EOF)) {
                fclose(fp);
                errno = EFBIG;
                return -1;
        }
        fclose(fp);
        buf[n] = '\0';
        if (n && buf[n - 1] == '\n')
                buf[--n] = '\0';
        if (n && buf[n - 1] == '\r')
                buf[--n] = '\0';
        return 0;
}

/* NAME (env) or NAME_FILE (a file holding the value) into the environment
 * layer under key.  The file wins when both are set. */
static int env_or_file(swarm_conf_t *c, const char *name, const char *key,
                       swarm_err_t *err) {
        char fname[160], origin[200];
        const char *v;
        int r;

        if ((v = getenv(name)) &&
            (r = swarm_conf_add(c, SWARM_CONF_ENV, key, v, name, err)))
                return r;
        snprintf(fname, sizeof(fname), "%s_FILE", name);
        if ((v = getenv(fname))) {
                enum { SECRET_MAX = 65536 };
                char *buf = malloc(SECRET_MAX);
                if (!buf)
                        return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                if (read_secret(v, buf, SECRET_MAX)) {
                        int e = errno;
                        free(buf);
                        return swarm_err_set(err, SWARM_ERR_CONFIG, "%s=%s: %s", fname, v,
                                             e == EFBIG ? "larger than 64 KiB"
                                                        : strerror(e));
                }
                snprintf(origin, sizeof(origin), "%s", fname);
                r = swarm_conf_add(c, SWARM_CONF_ENV, key, buf, origin, err);
                memset(buf, 0, SECRET_MAX);
                free(buf);
                if (r)
                        return r;
        }
        return SWARM_OK;
}

typedef struct table {
        const swarm_opt_t *o[MAX_OPTS];
        int n;
} table_t;

static void table_add(table_t *t, const swarm_opt_t *o) {
        if (t->n < MAX_OPTS)
                t->o[t->n++] = o;
}

/* Every option of the program: common, its own, built-in. */
static void table_fill(const swarm_cli_t *cli, table_t *t) {
        t->n = 0;
        for (int i = 0; common_opts[i].name; i++)
                if (cli->common & common_bits[i])
                        table_add(t, &common_opts[i]);
        for (const swarm_opt_t *o = cli->opts; o && o->name; o++)
                table_add(t, o);
        for (int i = 0; builtin_opts[i].name; i++)
                table_add(t, &builtin_opts[i]);
}

typedef struct key_check {
        const table_t *t;
        swarm_err_t *err;
} key_check_t;

static int check_swarm_key(const char *key, const char *value,
                           const char *origin, void *opaque) {
        key_check_t *k = opaque;
        (void)value;
        if (strncmp(key, "swarm.", 6) || swarm_schemareg_known_key(key))
                return 0;
        for (int i = 0; i < k->t->n; i++)
                if (k->t->o[i]->key && !strcmp(k->t->o[i]->key, key))
                        return 0;
        return swarm_err_set(k->err, SWARM_ERR_CONFIG,
                             "%s: unknown configuration key \"%s\"", origin, key);
}

/* Check one value of a typed option; errors cite key and origin. */
static int check_value(const swarm_opt_t *o, const char *value, const char *origin,
                       swarm_err_t *err) {
        int64_t i64;
        double d = 0;
        int b, r;

        switch (o->type) {
        case SWARM_OPT_INT:
                if ((r = parse_i64(o->key, value, origin, &i64, err)))
                        return r;
                d = (double)i64;
                break;
        case SWARM_OPT_DOUBLE:
                if ((r = parse_double(o->key, value, origin, &d, err)))
                        return r;
                break;
        case SWARM_OPT_BOOL:
                return parse_bool(o->key, value, origin, &b, err);
        default:
                if (o->choices) {
                        const char *p = o->choices;
                        size_t n = strlen(value);
                        for (;;) {
                                const char *bar = strchr(p, '|');
                                size_t len = bar ? (size_t)(bar - p) : strlen(p);
                                if (len == n && !strncasecmp(p, value, n))
                                        break;
                                if (!bar)
                                        return swarm_err_set(err, SWARM_ERR_CONFIG,
                                                             "%s: %s=\"%s\": expected one of %s",
                                                             origin, o->key, value, o->choices);
                                p = bar + 1;
                        }
                }
                if (o->check && (r = o->check(value, err))) {
                        swarm_err_prefix(err, "%s: %s=\"%s\": ", origin, o->key, value);
                        return r;
                }
                return SWARM_OK;
        }
        if (o->min < o->max && (d < o->min || d > o->max))
                return swarm_err_set(err, SWARM_ERR_CONFIG,
                                     "%s: %s=\"%s\" is out of range %.15g..%.15g",
                                     origin, o->key, value, o->min, o->max);
        return SWARM_OK;
}

/* Every effective value of every typed option, whatever its layer. */
static int check_values(const swarm_conf_t *c, const table_t *t, swarm_err_t *err) {
        for (int i = 0; i < t->n; i++) {
                const swarm_opt_t *o = t->o[i];
                size_t n;
                int r;
                if (!o->key)
                        continue;
                n = swarm_conf_count(c, o->key);
                for (size_t k = 0; k < n; k++) {
                        const char *v = swarm_conf_get_nth(c, o->key, k);
                        if ((r = check_value(o, v, swarm_conf_origin(c, o->key), err)))
                                return r;
                }
        }
        return SWARM_OK;
}

int swarm_cli_parse(const swarm_cli_t *cli, int argc, char **argv,
                    swarm_conf_t *c, int *argi, int *done, swarm_err_t *err) {
        struct option lopts[MAX_OPTS + 1];
        char sopts[2 * MAX_OPTS + 8];
        table_t t;
        size_t ns = 0;
        const char *config = NULL;
        int r, list = 0;

        *done = 0;
        *argi = argc;
        table_fill(cli, &t);

        sopts[ns++] = '+'; /* stop at the first positional argument */
        if (cli->common & SWARM_CLI_KAFKA) {
                sopts[ns++] = 'X';
                sopts[ns++] = ':';
        }
        sopts[ns++] = CONFIG_ALIAS;
        sopts[ns++] = ':';
        for (int i = 0; i < t.n; i++) {
                lopts[i].name = t.o[i]->name;
                lopts[i].has_arg = t.o[i]->arg ? required_argument : no_argument;
                lopts[i].flag = NULL;
                lopts[i].val = LONGOPT_BASE + i;
                if (t.o[i]->short_name && ns + 3 < sizeof(sopts)) {
                        sopts[ns++] = (char)t.o[i]->short_name;
                        if (t.o[i]->arg)
                                sopts[ns++] = ':';
                }
        }
        memset(&lopts[t.n], 0, sizeof(lopts[0]));
        sopts[ns] = '\0';

        /* defaults first; they are the lowest layer */
        if (cli->topic_def && (cli->common & SWARM_CLI_TOPIC) &&
            (r = swarm_conf_add(c, SWARM_CONF_DEFAULT, "swarm.topic", cli->topic_def,
                                "default", err)))
                return r;
        for (int i = 0; i < t.n; i++)
                if (t.o[i]->key && t.o[i]->def &&
                    (r = swarm_conf_add(c, SWARM_CONF_DEFAULT, t.o[i]->key,
                                        t.o[i]->def, "default", err)))
                        return r;

        /* 0, not 1: glibc then also forgets where it was inside a group
         * of short options ("-nm8") when the previous parse stopped there;
         * with 1 the next parse resumed from that pointer into the old
         * argv (a use-after-free found by fuzz_conf) */
        optind = 0;
        opterr = 0;
        for (;;) {
                int longind = -1, ch;
                const swarm_opt_t *o = NULL;
                char origin[64];

                ch = getopt_long(argc, argv, sopts, lopts, &longind);
                if (ch == -1)
                        break;
                if (ch == '?')
                        return swarm_err_set(err, SWARM_ERR_CONFIG,
                                             "unknown option or missing argument: %s",
                                             argv[optind - 1]);
                if (ch == 'X') {
                        char *eq;
                        char kv[CONF_LINE_SIZE];
                        if (!strcmp(optarg, "list")) {
                                list = 1;
                                continue;
                        }
                        snprintf(kv, sizeof(kv), "%s", optarg);
                        eq = strchr(kv, '=');
                        if (!eq || eq == kv)
                                return swarm_err_set(err, SWARM_ERR_CONFIG,
                                                     "-X expects key=value, got \"%s\"",
                                                     optarg);
                        *eq = '\0';
                        if (is_kafka_secret(kv)) {
                                char env[128], *q;
                                snprintf(env, sizeof(env), "SWARM_KAFKA_%s", kv);
                                for (q = env + 12; *q; q++)
                                        *q = *q == '.' ? '_' : (char)toupper((unsigned char)*q);
                                fprintf(stderr, "%s: warning: -X %s on the command line is "
                                        "visible to every user (ps); use %s, %s_FILE or "
                                        "-c FILE\n", cli->prog, kv, env, env);
                        }
                        if ((r = swarm_conf_add(c, SWARM_CONF_CLI, kv, eq + 1,
                                                "-X", err)))
                                return r;
                        continue;
                }
                if (ch == CONFIG_ALIAS) {
                        config = optarg;
                        continue;
                }
                if (ch >= LONGOPT_BASE)
                        o = t.o[ch - LONGOPT_BASE];
                else
                        for (int i = 0; i < t.n; i++)
                                if (t.o[i]->short_name == ch)
                                        o = t.o[i];
                if (!o)
                        return swarm_err_set(err, SWARM_ERR_CONFIG, "unknown option %s",
                                             argv[optind - 1]);
                if (!strcmp(o->name, "help")) {
                        swarm_cli_usage(cli);
                        *done = 1;
                        return SWARM_OK;
                }
                if (!strcmp(o->name, "version")) {
                        swarm_version_print(cli->prog, stdout);
                        *done = 1;
                        return SWARM_OK;
                }
                if (!strcmp(o->name, "config")) {
                        config = optarg;
                        continue;
                }
                snprintf(origin, sizeof(origin), "--%s", o->name);
                if (o->arg && optarg && o->key && !strcmp(o->key, "swarm.registry") &&
                    has_password(optarg)) {
                        char env[128];
                        env_name(o->name, env, sizeof(env));
                        fprintf(stderr, "%s: warning: --%s with a password is visible "
                                "to every user (ps); use %s_FILE, PGPASSWORD or "
                                "~/.pgpass\n", cli->prog, o->name, env);
                }
                if ((r = swarm_conf_add(c, SWARM_CONF_CLI, o->key,
                                        o->arg ? optarg : "true", origin, err)))
                        return r;
        }
        *argi = optind;

        if (list) {
                swarm_cli_list_keys(cli, stdout);
                rd_kafka_conf_properties_show(stdout);
                *done = 1;
                return SWARM_OK;
        }

        /* environment layer: SWARM_<OPTION> (or SWARM_<OPTION>_FILE) for
         * every option with a key, SWARM_KAFKA_<PROPERTY>(_FILE) for
         * librdkafka's secrets */
        for (int i = 0; i < t.n; i++) {
                char name[128];
                if (!t.o[i]->key)
                        continue;
                env_name(t.o[i]->name, name, sizeof(name));
                if ((r = env_or_file(c, name, t.o[i]->key, err)))
                        return r;
        }
        if (cli->common & SWARM_CLI_KAFKA)
                for (int i = 0; kafka_secrets[i]; i++) {
                        char name[128], *p;
                        snprintf(name, sizeof(name), "SWARM_KAFKA_%s", kafka_secrets[i]);
                        for (p = name + 12; *p; p++)
                                *p = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
                        if ((r = env_or_file(c, name, kafka_secrets[i], err)))
                                return r;
                }
        if (!config)
                config = getenv("SWARM_CONFIG");
        if (config && (r = swarm_conf_load_file(c, config, err)))
                return r;
        {
                key_check_t k = {&t, err};
                if ((r = swarm_conf_each(c, check_swarm_key, &k)))
                        return r;
        }
        return check_values(c, &t, err);
}

static void *field_at(void *dst, size_t field) {
        return (char *)dst + field - 1;
}

int swarm_opts_fill(const swarm_cli_t *cli, const swarm_conf_t *c, void *dst,
                    swarm_err_t *err) {
        int r;

        if (cli->topic_field)
                *(const char **)field_at(dst, cli->topic_field) =
                        swarm_conf_get(c, "swarm.topic");
        for (const swarm_opt_t *o = cli->opts; o && o->name; o++) {
                void *f;
                if (!o->field || !o->key)
                        continue;
                f = field_at(dst, o->field);
                switch (o->type) {
                case SWARM_OPT_INT: /* no default and not given: -1 */
                        if ((r = swarm_conf_get_i64(c, o->key, -1, f, err)))
                                return r;
                        break;
                case SWARM_OPT_DOUBLE:
                        if ((r = swarm_conf_get_double(c, o->key, 0, f, err)))
                                return r;
                        break;
                case SWARM_OPT_BOOL:
                        if ((r = swarm_conf_get_bool(c, o->key, 0, f, err)))
                                return r;
                        break;
                case SWARM_OPT_LIST: {
                        swarm_opt_list_t *l = f;
                        l->n = swarm_conf_count(c, o->key);
                        l->v = calloc(l->n ? l->n : 1, sizeof(*l->v));
                        if (!l->v)
                                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                        for (size_t i = 0; i < l->n; i++)
                                l->v[i] = swarm_conf_get_nth(c, o->key, i);
                        break;
                }
                default:
                        *(const char **)f = swarm_conf_get(c, o->key);
                        break;
                }
        }
        return SWARM_OK;
}

void swarm_opts_destroy(const swarm_cli_t *cli, void *dst) {
        if (!dst)
                return;
        for (const swarm_opt_t *o = cli->opts; o && o->name; o++)
                if (o->field && o->type == SWARM_OPT_LIST) {
                        swarm_opt_list_t *l = field_at(dst, o->field);
                        free(l->v);
                        l->v = NULL;
                        l->n = 0;
                }
}
