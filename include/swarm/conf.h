/*
 * conf.h - layered configuration and the command line shared by every
 * program (kcat style: -b, -t, -g, -X key=value, -c FILE, --help).
 *
 * Every setting is a key=value pair.  Our own keys live under "swarm.";
 * everything else is handed to librdkafka verbatim (and rejected by it if
 * unknown, citing where it came from).  Program options are keys too
 * (--max-batch-rows 64 is swarm.max.batch.rows=64), so a config file or -X
 * can set any of them.
 *
 * Precedence is explicit and applied after everything is collected:
 * defaults < config file (-c) < environment (SWARM_<OPTION>) < command line.
 * Within a layer the last value wins; repeatable options keep all values of
 * the highest layer that has any.
 *
 * Threads: build and read from one thread, then treat as read-only.
 */
#ifndef SWARM_CONF_H
#define SWARM_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "swarm/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum swarm_conf_layer {
        SWARM_CONF_DEFAULT = 0,
        SWARM_CONF_FILE,
        SWARM_CONF_ENV,
        SWARM_CONF_CLI,
} swarm_conf_layer_t;

typedef struct swarm_conf swarm_conf_t;

int swarm_conf_new(swarm_conf_t **out, swarm_err_t *err);
void swarm_conf_destroy(swarm_conf_t *c);

/* Add key=value at `layer`.  `origin` ("file.conf:12", "-X", "SWARM_TOPIC")
 * is copied and cited in later errors. */
int swarm_conf_add(swarm_conf_t *c, swarm_conf_layer_t layer, const char *key,
                   const char *value, const char *origin, swarm_err_t *err);

/* Read "key=value" lines ('#' comments, blank lines) into SWARM_CONF_FILE.
 * Errors cite path:line. */
int swarm_conf_load_file(swarm_conf_t *c, const char *path, swarm_err_t *err);

/* Effective value, or NULL when unset.  Borrowed from the conf. */
const char *swarm_conf_get(const swarm_conf_t *c, const char *key);
/* Where the effective value came from ("default" when unset). */
const char *swarm_conf_origin(const swarm_conf_t *c, const char *key);
/* Number of values of a repeatable key (in its highest layer), and the i-th. */
size_t swarm_conf_count(const swarm_conf_t *c, const char *key);
const char *swarm_conf_get_nth(const swarm_conf_t *c, const char *key,
                               size_t i);

/* Typed getters: *out = def when unset; a malformed value is an error that
 * cites the key and its origin. Integers accept k/M/G suffixes. */
int swarm_conf_get_i64(const swarm_conf_t *c, const char *key, int64_t def,
                       int64_t *out, swarm_err_t *err);
int swarm_conf_get_double(const swarm_conf_t *c, const char *key, double def,
                          double *out, swarm_err_t *err);
int swarm_conf_get_bool(const swarm_conf_t *c, const char *key, int def,
                        int *out, swarm_err_t *err);

/* Visit every effective key (one value per key; repeatable keys once per
 * value) in insertion order.  A non-zero return from cb stops the walk and is
 * returned. */
int swarm_conf_each(const swarm_conf_t *c,
                    int (*cb)(const char *key, const char *value,
                              const char *origin, void *opaque),
                    void *opaque);

/* ---- command line ---- */

typedef struct swarm_opt {
        const char *name;       /* long option, e.g. "max-batch-rows" */
        int short_name;         /* e.g. 'm', or 0 */
        const char *key;        /* conf key it sets, e.g. "swarm.max.batch.rows" */
        const char *arg;        /* argument name for --help, NULL: a flag ("true") */
        const char *help;
        const char *def;        /* default shown in --help and stored in
                                   SWARM_CONF_DEFAULT; may be NULL */
        int repeatable;
} swarm_opt_t;

/* Terminate option tables with SWARM_OPT_END. */
#define SWARM_OPT_END {NULL, 0, NULL, NULL, NULL, NULL, 0}

typedef struct swarm_cli {
        const char *prog;         /* "swarm-consumer" */
        const char *synopsis;     /* one line: "[options] FILE" */
        const char *description;  /* a paragraph for --help; may be NULL */
        const swarm_opt_t *opts;  /* program options, SWARM_OPT_END-terminated */
        int common;               /* bitmask of SWARM_CLI_* common options */
} swarm_cli_t;

#define SWARM_CLI_BROKERS 0x1   /* -b, --brokers  -> bootstrap.servers */
#define SWARM_CLI_TOPIC   0x2   /* -t, --topic    -> swarm.topic */
#define SWARM_CLI_GROUP   0x4   /* -g, --group    -> group.id */
#define SWARM_CLI_KAFKA   0x8   /* -X key=value, -X list */
#define SWARM_CLI_ALL     0xf

/* Parse argv into `c` (defaults, -c file, SWARM_* environment, command line).
 * -c, --log-level and --help are always available.  Returns SWARM_OK and sets
 * *argi to the index of the first positional argument; *exit_code to -1 to
 * continue, or to the code the program should exit with now (0 after --help
 * or -X list, 2 on a usage error, with the message already printed). */
int swarm_cli_parse(const swarm_cli_t *cli, int argc, char **argv,
                    swarm_conf_t *c, int *argi, int *exit_code);

/* Print --help for `cli` to stdout. */
void swarm_cli_usage(const swarm_cli_t *cli);

#ifdef __cplusplus
}
#endif
#endif
