/*
 * start.h - the opening both swarm-producer commands share (the request
 * sender in main.c and `score` in score.c): the configuration layers and
 * the command line, the log, and the signals that stop a run.
 */
#ifndef SWARM_PRODUCER_START_H
#define SWARM_PRODUCER_START_H

#include "swarm/conf.h"
#include "swarm/log.h"

typedef struct producer_start {
        swarm_conf_t *conf; /* every layer; the caller destroys it */
        swarm_log_t lg;     /* "swarm-producer" at --log-level */
} producer_start_t;

/* A command's own default for a librdkafka or swarm key (below every other
 * layer); a list ends with {NULL, NULL}. */
typedef struct producer_default {
        const char *key, *value;
} producer_default_t;

/* Fill ps: the defaults, then swarm_cli_start() over argv (no positional
 * arguments), then the log level.  Returns -1 to go on, or the exit code
 * now (0 after --help, 2 a usage error, 1 out of memory); ps->conf is set
 * either way (NULL only when it could not be made). */
int producer_start(producer_start_t *ps, const swarm_cli_t *cli,
                   const producer_default_t *defaults, int argc, char **argv);

/* SIGINT and SIGTERM call fn (which sets the run's stop flag). */
void producer_catch_stop(void (*fn)(int));

#endif
