#include "swarm/log.h"

#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

int swarm_log_level_parse(const char *name) {
        static const char *names[] = {"error", "warn", "info", "debug"};
        for (int i = 0; i < 4; i++)
                if (!strcasecmp(name, names[i]))
                        return i;
        return -1;
}

void swarm_log_write(const swarm_log_t *lg, swarm_level_t level,
                     const char *fmt, ...) {
        static const char *lvl[] = {"ERROR", "WARN", "INFO", "DEBUG"};
        char line[2048];
        struct timeval tv;
        struct tm tm;
        size_t n;
        va_list ap;

        gettimeofday(&tv, NULL);
        gmtime_r(&tv.tv_sec, &tm);
        n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
        n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03dZ %s %s: ",
                              (int)(tv.tv_usec / 1000),
                              lvl[level <= SWARM_LOG_DEBUG ? level : 0],
                              lg->prog ? lg->prog : "swarm");
        if (n < sizeof(line)) {
                va_start(ap, fmt);
                vsnprintf(line + n, sizeof(line) - n, fmt, ap);
                va_end(ap);
        }
        n = strlen(line);
        if (n >= sizeof(line) - 1)
                n = sizeof(line) - 2;
        line[n] = '\n';
        line[n + 1] = '\0';
        fputs(line, lg->out ? lg->out : stderr);
}
