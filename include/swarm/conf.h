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
 * Each program declares its options in one table (swarm_opt_t) with the type
 * and bounds of each key and the struct field it fills (swarm_opts_fill()),
 * so a default lives in one place and a bad value is a usage error.
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
#include <stdio.h>

#include "swarm/err.h"
#include "swarm/log.h"

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

/* The type of an option's value: checked (with the bounds) when the
 * command line is parsed, whatever layer the value came from, and stored
 * by swarm_opts_fill(). */
typedef enum swarm_opt_type {
        SWARM_OPT_STRING = 0,   /* const char * (borrowed; NULL when unset) */
        SWARM_OPT_INT,          /* int64_t; k/M/G suffixes */
        SWARM_OPT_DOUBLE,       /* double */
        SWARM_OPT_BOOL,         /* int 0/1 (true/false, 1/0, yes/no, on/off) */
        SWARM_OPT_LIST,         /* swarm_opt_list_t: all values of a
                                   repeatable option (strings) */
} swarm_opt_type_t;

typedef struct swarm_opt_list {
        const char **v;         /* borrowed strings; the array is freed by
                                   swarm_opts_destroy() */
        size_t n;
} swarm_opt_list_t;

typedef struct swarm_opt {
        const char *name;       /* long option, e.g. "max-batch-rows" */
        int short_name;         /* e.g. 'm', or 0 */
        const char *key;        /* conf key it sets, e.g. "swarm.max.batch.rows" */
        const char *arg;        /* argument name for --help, NULL: a flag ("true") */
        const char *help;
        const char *def;        /* default shown in --help and stored in
                                   SWARM_CONF_DEFAULT; may be NULL */
        int repeatable;
        swarm_opt_type_t type;
        double min, max;        /* INT, DOUBLE: inclusive bounds, checked
                                   when min < max */
        const char *choices;    /* STRING: "a|b|c", the value must be one */
        /* STRING: a further check of the value (e.g. a device spec); fills
         * err and returns non-zero when the value is bad */
        int (*check)(const char *value, swarm_err_t *err);
        size_t field;           /* SWARM_FIELD(): where swarm_opts_fill()
                                   stores the value; 0: nowhere */
} swarm_opt_t;

/* A numeric macro as the string an option table's default needs, so a
 * default defined as a number elsewhere is written once. */
#define SWARM_STRINGIFY_(x) #x
#define SWARM_STRINGIFY(x) SWARM_STRINGIFY_(x)

/* Where swarm_opts_fill() stores an option: the member's offset plus one,
 * so that 0 means "not stored". */
#define SWARM_FIELD(type, member) (offsetof(type, member) + 1)

/* Terminate option tables with SWARM_OPT_END. */
#define SWARM_OPT_END {NULL, 0, NULL, NULL, NULL, NULL, 0, SWARM_OPT_STRING, 0, 0, NULL, NULL, 0}

typedef struct swarm_cli {
        const char *prog;         /* "swarm-consumer" */
        const char *synopsis;     /* one line: "[options] FILE" */
        const char *description;  /* a paragraph for --help; may be NULL */
        const swarm_opt_t *opts;  /* program options, SWARM_OPT_END-terminated */
        int common;               /* bitmask of SWARM_CLI_* common options */
        const char *topic_def;    /* -t default of this program, may be NULL */
        size_t topic_field;       /* SWARM_FIELD() of the topic (a string), or 0 */
} swarm_cli_t;

#define SWARM_CLI_BROKERS 0x1   /* -b, --brokers  -> bootstrap.servers */
#define SWARM_CLI_TOPIC   0x2   /* -t, --topic    -> swarm.topic */
#define SWARM_CLI_GROUP   0x4   /* -g, --group    -> group.id */
#define SWARM_CLI_KAFKA   0x8   /* -X key=value, -X list */
#define SWARM_CLI_ALL     0xf

/* Parse argv into `c` (defaults, -c/-F file, SWARM_* environment, command
 * line) and check every typed option's effective value (type, bounds,
 * choices) whatever layer it came from, so a usage error is found before
 * the program connects anywhere.  -c, -F, --log-level and --help are always
 * available.  Prints nothing but --help and -X list.
 * Returns SWARM_OK with *argi the index of the first positional argument and
 * *done 0, or *done 1 when --help or -X list was printed (exit 0).  A usage
 * error is SWARM_ERR_CONFIG with the message in err: print it with
 * swarm_cli_error() and exit 2. */
int swarm_cli_parse(const swarm_cli_t *cli, int argc, char **argv,
                    swarm_conf_t *c, int *argi, int *done, swarm_err_t *err);

/* Print "PROG: MESSAGE" and "Try 'PROG --help'." to stderr; returns 2, the
 * exit code of a usage error. */
int swarm_cli_error(const swarm_cli_t *cli, const swarm_err_t *err);

/* The start-up every program's main() shares, written once: a conf
 * (*conf: NULL makes a new one; a conf the caller made is used as it is, so
 * a program may add defaults of its own first), swarm_cli_parse(), the
 * level of --log-level into `log` (NULL: none) and swarm_opts_fill() into
 * `dst` (NULL: none).  *conf is the caller's to destroy whatever the result;
 * *argi is the first positional argument.  Returns SWARM_OK to go on (*done
 * 0) or after --help or -X list were printed (*done 1: exit 0); otherwise
 * the code, with `err` filled and nothing printed: swarm_cli_fail() prints
 * it and gives the exit code. */
int swarm_cli_start(const swarm_cli_t *cli, int argc, char **argv,
                    swarm_log_t *log, void *dst, swarm_conf_t **conf,
                    int *argi, int *done, swarm_err_t *err);

/* Print an error of swarm_cli_start() and return the exit code: 1 when
 * memory ran out (a runtime error), else 2 (a usage error, printed as
 * swarm_cli_error() does). */
int swarm_cli_fail(const swarm_cli_t *cli, const swarm_err_t *err);

/* swarm_cli_start() for a program's main(), where the exit is decided: its
 * error printed with swarm_cli_fail().  Returns -1 to go on, or the exit
 * code now: 0 after --help or -X list, else swarm_cli_fail()'s.  *conf is
 * the caller's to destroy whatever the result. */
int swarm_cli_main(const swarm_cli_t *cli, int argc, char **argv,
                   swarm_log_t *log, void *dst, swarm_conf_t **conf,
                   int *argi);

/* Store every option with a field (and the topic, see swarm_cli_t) into the
 * struct at `dst` with its type.  An INT option with no default that was not
 * given is stored as -1 ("absent"; such options have bounds from 0 up).  Strings are borrowed from `c`, which must
 * outlive `dst`; lists are allocated (swarm_opts_destroy()).  Errors: a
 * value that does not parse or is out of bounds (SWARM_ERR_CONFIG, citing
 * the key and its origin), SWARM_ERR_NOMEM. */
int swarm_opts_fill(const swarm_cli_t *cli, const swarm_conf_t *c, void *dst,
                    swarm_err_t *err);
/* Free what swarm_opts_fill() allocated in `dst`.  NULL is accepted. */
void swarm_opts_destroy(const swarm_cli_t *cli, void *dst);

/* Print --help for `cli` to stdout. */
void swarm_cli_usage(const swarm_cli_t *cli);

/* Print Swarm's own keys of `cli` (key, type, bounds or choices, default,
 * what it does) to `out`: the first part of -X list. */
void swarm_cli_list_keys(const swarm_cli_t *cli, FILE *out);

#ifdef __cplusplus
}
#endif
#endif
