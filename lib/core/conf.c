/*
 * conf.c - layered key=value configuration and the shared command line.
 *
 * Entries are kept in one array in insertion order; lookups scan it.  Configs
 * hold tens of entries and are read at startup, so a linear scan is simpler
 * than a hash and fast enough.
 */
#include "swarm/conf.h"

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

int swarm_conf_load_file(swarm_conf_t *c, const char *path, swarm_err_t *err) {
        char line[4096], origin[600];
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

int swarm_conf_get_i64(const swarm_conf_t *c, const char *key, int64_t def,
                       int64_t *out, swarm_err_t *err) {
        const entry_t *e = effective(c, key);
        char *end;
        long long v;
        int64_t mul = 1;

        if (!e) {
                *out = def;
                return SWARM_OK;
        }
        errno = 0;
        v = strtoll(e->value, &end, 0);
        if (end != e->value) {
                switch (*end) {
                case 'k': case 'K': mul = 1000; end++; break;
                case 'M': mul = 1000000; end++; break;
                case 'G': mul = 1000000000; end++; break;
                default: break;
                }
        }
        if (errno || end == e->value || *end ||
            (v > 0 && v > INT64_MAX / mul) || (v < 0 && v < INT64_MIN / mul))
                return swarm_err_set(err, SWARM_ERR_CONFIG,
                                     "%s: %s=\"%s\" is not an integer",
                                     e->origin, key, e->value);
        *out = (int64_t)v * mul;
        return SWARM_OK;
}

int swarm_conf_get_double(const swarm_conf_t *c, const char *key, double def,
                          double *out, swarm_err_t *err) {
        const entry_t *e = effective(c, key);
        char *end;
        double v;

        if (!e) {
                *out = def;
                return SWARM_OK;
        }
        errno = 0;
        v = strtod(e->value, &end);
        if (errno || end == e->value || *end || !isfinite(v))
                return swarm_err_set(err, SWARM_ERR_CONFIG,
                                     "%s: %s=\"%s\" is not a number",
                                     e->origin, key, e->value);
        *out = v;
        return SWARM_OK;
}

int swarm_conf_get_bool(const swarm_conf_t *c, const char *key, int def,
                        int *out, swarm_err_t *err) {
        static const char *yes[] = {"true", "1", "yes", "on"};
        static const char *no[] = {"false", "0", "no", "off"};
        const entry_t *e = effective(c, key);

        if (!e) {
                *out = def;
                return SWARM_OK;
        }
        for (int i = 0; i < 4; i++) {
                if (!strcasecmp(e->value, yes[i])) {
                        *out = 1;
                        return SWARM_OK;
                }
                if (!strcasecmp(e->value, no[i])) {
                        *out = 0;
                        return SWARM_OK;
                }
        }
        return swarm_err_set(err, SWARM_ERR_CONFIG,
                             "%s: %s=\"%s\" is not a boolean", e->origin, key,
                             e->value);
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

void swarm_cli_usage(const swarm_cli_t *cli) {
        printf("Usage: %s %s\n\n", cli->prog, cli->synopsis ? cli->synopsis : "[options]");
        if (cli->description)
                printf("%s\n\n", cli->description);
        printf("Options:\n");
        for (int i = 0; common_opts[i].name; i++) {
                const swarm_opt_t *o = &common_opts[i];
                if (!(cli->common & common_bits[i]))
                        continue;
                printf("  -%c, --%s %s\n        %s (%s)\n", o->short_name,
                       o->name, o->arg, o->help, o->key);
        }
        for (const swarm_opt_t *o = cli->opts; o && o->name; o++) {
                char sh[8] = "    ";
                if (o->short_name)
                        snprintf(sh, sizeof(sh), "-%c, ", o->short_name);
                printf("  %s--%s%s%s\n        %s (%s%s%s%s)\n", sh, o->name,
                       o->arg ? " " : "", o->arg ? o->arg : "", o->help,
                       o->key, o->def ? ", default " : "", o->def ? o->def : "",
                       o->repeatable ? ", repeatable" : "");
        }
        if (cli->common & SWARM_CLI_KAFKA)
                printf("  -X KEY=VALUE\n        set any librdkafka property, "
                       "or a swarm.* key (repeatable); -X list shows them\n");
        printf("  -c, --config FILE\n        key=value configuration file\n"
               "  --log-level LEVEL\n        error, warn, info (default), debug\n"
               "  -h, --help\n        this text\n\n"
               "Precedence: defaults < -c file < SWARM_<OPTION> environment "
               "< command line.\n");
}

static int usage_error(const swarm_cli_t *cli, int *exit_code, const char *fmt,
                       const char *a, const char *b) {
        fprintf(stderr, "%s: ", cli->prog);
        fprintf(stderr, fmt, a, b);
        fprintf(stderr, "\nTry '%s --help'.\n", cli->prog);
        *exit_code = 2;
        return SWARM_ERR_CONFIG;
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

static int known_key(const swarm_cli_t *cli, const char *key) {
        if (!strcmp(key, "swarm.topic") || !strcmp(key, "swarm.log.level"))
                return 1;
        for (const swarm_opt_t *o = cli->opts; o && o->name; o++)
                if (o->key && !strcmp(o->key, key))
                        return 1;
        return 0;
}

typedef struct table {
        const swarm_opt_t *o[96];
        int n;
} table_t;

static void table_add(table_t *t, const swarm_opt_t *o) {
        if (t->n < (int)(sizeof(t->o) / sizeof(t->o[0])))
                t->o[t->n++] = o;
}

static int check_swarm_key(const char *key, const char *value,
                           const char *origin, void *opaque) {
        const swarm_cli_t *cli = opaque;
        (void)value;
        if (!strncmp(key, "swarm.", 6) && !known_key(cli, key)) {
                fprintf(stderr, "%s: %s: unknown configuration key \"%s\"\n",
                        cli->prog, origin, key);
                return 1;
        }
        return 0;
}

int swarm_cli_parse(const swarm_cli_t *cli, int argc, char **argv,
                    swarm_conf_t *c, int *argi, int *exit_code) {
        static const swarm_opt_t builtin[] = {
                {"config", 'c', NULL, "FILE", NULL, NULL, 0},
                {"log-level", 0, "swarm.log.level", "LEVEL", NULL, "info", 0},
                {"help", 'h', NULL, NULL, NULL, NULL, 0},
                SWARM_OPT_END,
        };
        struct option lopts[100];
        char sopts[200];
        table_t t = {{0}, 0};
        size_t ns = 0;
        swarm_err_t err;
        const char *config = NULL;
        int r, list = 0;

        swarm_err_clear(&err);
        *exit_code = -1;
        for (int i = 0; common_opts[i].name; i++)
                if (cli->common & common_bits[i])
                        table_add(&t, &common_opts[i]);
        for (const swarm_opt_t *o = cli->opts; o && o->name; o++)
                table_add(&t, o);
        for (int i = 0; builtin[i].name; i++)
                table_add(&t, &builtin[i]);

        sopts[ns++] = '+'; /* stop at the first positional argument */
        if (cli->common & SWARM_CLI_KAFKA) {
                sopts[ns++] = 'X';
                sopts[ns++] = ':';
        }
        for (int i = 0; i < t.n; i++) {
                lopts[i].name = t.o[i]->name;
                lopts[i].has_arg = t.o[i]->arg ? required_argument : no_argument;
                lopts[i].flag = NULL;
                lopts[i].val = 1000 + i;
                if (t.o[i]->short_name && ns + 3 < sizeof(sopts)) {
                        sopts[ns++] = (char)t.o[i]->short_name;
                        if (t.o[i]->arg)
                                sopts[ns++] = ':';
                }
        }
        memset(&lopts[t.n], 0, sizeof(lopts[0]));
        sopts[ns] = '\0';

        /* defaults first; they are the lowest layer */
        for (int i = 0; i < t.n; i++)
                if (t.o[i]->key && t.o[i]->def &&
                    (r = swarm_conf_add(c, SWARM_CONF_DEFAULT, t.o[i]->key,
                                        t.o[i]->def, "default", &err)))
                        goto fail;

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
                        return usage_error(cli, exit_code,
                                           "unknown option or missing argument: %s%s",
                                           argv[optind - 1], "");
                if (ch == 'X') {
                        char *eq;
                        char kv[4096];
                        if (!strcmp(optarg, "list")) {
                                list = 1;
                                continue;
                        }
                        snprintf(kv, sizeof(kv), "%s", optarg);
                        eq = strchr(kv, '=');
                        if (!eq || eq == kv)
                                return usage_error(cli, exit_code,
                                                   "-X expects key=value, got \"%s\"%s",
                                                   optarg, "");
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
                                                "-X", &err)))
                                goto fail;
                        continue;
                }
                if (ch >= 1000)
                        o = t.o[ch - 1000];
                else
                        for (int i = 0; i < t.n; i++)
                                if (t.o[i]->short_name == ch)
                                        o = t.o[i];
                if (!o)
                        return usage_error(cli, exit_code, "unknown option %s%s",
                                           argv[optind - 1], "");
                if (!strcmp(o->name, "help")) {
                        swarm_cli_usage(cli);
                        *exit_code = 0;
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
                                        o->arg ? optarg : "true", origin, &err)))
                        goto fail;
        }
        *argi = optind;

        if (list) {
                rd_kafka_conf_properties_show(stdout);
                *exit_code = 0;
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
                if ((r = env_or_file(c, name, t.o[i]->key, &err)))
                        goto fail;
        }
        if (cli->common & SWARM_CLI_KAFKA)
                for (int i = 0; kafka_secrets[i]; i++) {
                        char name[128], *p;
                        snprintf(name, sizeof(name), "SWARM_KAFKA_%s", kafka_secrets[i]);
                        for (p = name + 12; *p; p++)
                                *p = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
                        if ((r = env_or_file(c, name, kafka_secrets[i], &err)))
                                goto fail;
                }
        if (!config)
                config = getenv("SWARM_CONFIG");
        if (config && (r = swarm_conf_load_file(c, config, &err)))
                goto fail;

        if (swarm_conf_each(c, check_swarm_key, (void *)cli)) {
                *exit_code = 2;
                return SWARM_ERR_CONFIG;
        }
        {
                const char *lvl = swarm_conf_get(c, "swarm.log.level");
                static const char *names[] = {"error", "warn", "info", "debug"};
                int ok = 0;
                for (int i = 0; lvl && i < 4; i++)
                        ok |= !strcasecmp(lvl, names[i]);
                if (lvl && !ok)
                        return usage_error(cli, exit_code,
                                           "bad --log-level \"%s\"%s", lvl, "");
        }
        return SWARM_OK;

fail:
        fprintf(stderr, "%s: %s\n", cli->prog, err.msg);
        *exit_code = 2;
        return r;
}
