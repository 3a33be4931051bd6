/*
 * reply.h - which topics a request may name as its reply_topic.
 *
 * A reply_topic lets a requester choose where its answer goes, so without a
 * check anyone who can write a request can make the worker write to any
 * topic the worker may write: the request topic (a loop), the dead-letter
 * topic, another tenant's results.  Allowed are the worker's result topic
 * and the names matching a configured pattern (POSIX extended regular
 * expression, matched against the whole name; none by default).  Names
 * Kafka could never accept (empty, longer than 249 characters, characters
 * other than [A-Za-z0-9._-], "." or "..") are refused whatever the pattern.
 *
 * Threads: reply_new/destroy from the owner; reply_check from any thread
 * (regexec on a compiled pattern is thread-safe).
 */
#ifndef SWARM_CONSUMER_REPLY_H
#define SWARM_CONSUMER_REPLY_H

#include <stddef.h>

#include "swarm/err.h"

/* Kafka's own limit on a topic name. */
#define REPLY_TOPIC_MAX 249

typedef struct reply_policy reply_policy_t;

/* `results` (borrowed; must outlive the policy) is always allowed;
 * `pattern` NULL or "" allows nothing more.  Errors: SWARM_ERR_CONFIG (the
 * pattern does not compile; the message cites regcomp's reason). */
int reply_new(const char *results, const char *pattern, reply_policy_t **out,
              swarm_err_t *err);
void reply_destroy(reply_policy_t *p);

/* 0 when `name` (len bytes, not NUL-terminated) may be written to; else -1
 * with the reason in why (NUL-terminated, truncated to size). */
int reply_check(const reply_policy_t *p, const char *name, size_t len,
                char *why, size_t size);

#endif
