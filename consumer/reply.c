/*
 * reply.c - the reply_topic allowlist (see reply.h).
 */
#include "reply.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct reply_policy {
        const char *results;
        int has_re;
        regex_t re;
        char pattern[256];      /* for messages */
};

int reply_new(const char *results, const char *pattern, reply_policy_t **out,
              swarm_err_t *err) {
        reply_policy_t *p = calloc(1, sizeof(*p));
        char *anchored;
        size_t n;
        int rc;

        if (!p)
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        p->results = results;
        if (pattern && *pattern) {
                /* the whole name must match: "tenant-a\..*" must not let
                 * "x-tenant-a.results" through */
                n = strlen(pattern) + 8;
                if (!(anchored = malloc(n))) {
                        free(p);
                        return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                }
                snprintf(anchored, n, "^(%s)$", pattern);
                rc = regcomp(&p->re, anchored, REG_EXTENDED | REG_NOSUB);
                free(anchored);
                if (rc) {
                        char msg[200];
                        regerror(rc, &p->re, msg, sizeof(msg));
                        free(p);
                        return swarm_err_set(err, SWARM_ERR_CONFIG,
                                             "reply topic pattern \"%s\": %s",
                                             pattern, msg);
                }
                p->has_re = 1;
                snprintf(p->pattern, sizeof(p->pattern), "%s", pattern);
        }
        *out = p;
        return SWARM_OK;
}

void reply_destroy(reply_policy_t *p) {
        if (!p)
                return;
        if (p->has_re)
                regfree(&p->re);
        free(p);
}

int reply_check(const reply_policy_t *p, const char *name, size_t len,
                char *why, size_t size) {
        char buf[REPLY_TOPIC_MAX + 1];

        if (len == 0) {
                snprintf(why, size, "reply_topic is empty");
                return -1;
        }
        if (len > REPLY_TOPIC_MAX) {
                snprintf(why, size, "reply_topic of %zu characters is longer than "
                         "Kafka's limit of %d", len, REPLY_TOPIC_MAX);
                return -1;
        }
        for (size_t i = 0; i < len; i++) {
                char c = name[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) {
                        snprintf(why, size, "reply_topic \"%.*s\" has a character "
                                 "Kafka does not allow in a topic name (byte %zu)",
                                 (int)(len > 64 ? 64 : len), name, i);
                        return -1;
                }
        }
        if ((len == 1 && name[0] == '.') || (len == 2 && !memcmp(name, "..", 2))) {
                snprintf(why, size, "reply_topic \"%.*s\" is not a topic name",
                         (int)len, name);
                return -1;
        }
        if (strlen(p->results) == len && !memcmp(p->results, name, len))
                return 0;
        memcpy(buf, name, len);
        buf[len] = '\0';
        if (p->has_re && regexec(&p->re, buf, 0, NULL, 0) == 0)
                return 0;
        if (p->has_re)
                snprintf(why, size, "reply_topic \"%s\" is not allowed: it does not "
                         "match this worker's --reply-topics \"%s\"", buf, p->pattern);
        else
                snprintf(why, size, "reply_topic \"%s\" is not allowed: this worker "
                         "answers only on %s (see --reply-topics)", buf, p->results);
        return -1;
}
