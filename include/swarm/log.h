/*
 * log.h - one line per event, key=value context, on stderr.
 *
 * A logger is a small value owned by the program and passed to the modules
 * that log (no process-global level).  SWARM_LOG tests the level before the
 * arguments are evaluated, as redis' serverLog does.
 *
 * Line shape:  2026-11-27T20:41:03.123Z INFO swarm-consumer: msg key=value ...
 *
 * Thread safety: swarm_log_write() may be called from any thread; each line
 * is written with a single fputs so lines never interleave.
 */
#ifndef SWARM_LOG_H
#define SWARM_LOG_H

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum swarm_level {
        SWARM_LOG_ERROR = 0,
        SWARM_LOG_WARN,
        SWARM_LOG_INFO,
        SWARM_LOG_DEBUG,
} swarm_level_t;

typedef struct swarm_log {
        swarm_level_t level;
        const char *prog;       /* borrowed, static program name */
        FILE *out;              /* NULL means stderr */
} swarm_log_t;

/* Parse "error|warn|info|debug"; returns -1 on an unknown name. */
int swarm_log_level_parse(const char *name);

void swarm_log_write(const swarm_log_t *lg, swarm_level_t level,
                     const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define SWARM_LOG(lg, lvl, ...)                                                \
        do {                                                                   \
                const swarm_log_t *lg__ = (lg);                                \
                if (lg__ && (lvl) <= lg__->level)                              \
                        swarm_log_write(lg__, (lvl), __VA_ARGS__);             \
        } while (0)

#define SWARM_ERROR(lg, ...) SWARM_LOG(lg, SWARM_LOG_ERROR, __VA_ARGS__)
#define SWARM_WARN(lg, ...)  SWARM_LOG(lg, SWARM_LOG_WARN, __VA_ARGS__)
#define SWARM_INFO(lg, ...)  SWARM_LOG(lg, SWARM_LOG_INFO, __VA_ARGS__)
#define SWARM_DEBUG(lg, ...) SWARM_LOG(lg, SWARM_LOG_DEBUG, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif
