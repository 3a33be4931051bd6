/*
 * client.h - the application client: send inference requests to Kafka and
 * receive their responses through callbacks.
 *
 * A client owns two librdkafka handles: a producer for the request topic and,
 * when a result topic is given, a consumer of the result topic that belongs
 * to no group (librdkafka's simple consumer: rd_kafka_assign() insists on a
 * group.id).  It starts every partition of the result topic at the high
 * watermark it queries when the client is created (before any send), so no
 * response to this client's requests can be missed, and it never commits
 * offsets or joins a group: any number of clients may share a result topic,
 * each reading every response and keeping its own.  Partitions added to the
 * result topic after creation are not read.
 *
 * Requests are bounded by a window: swarm_client_send() blocks, serving
 * callbacks, while `max_in_flight` requests are outstanding.  A request is
 * in flight until its response arrives (or its delivery fails) when a result
 * topic is set, else until the broker acknowledged it.
 *
 * Partitioning: by default requests carry no key, so librdkafka's default
 * partitioner spreads them over all partitions (sticky per batch for
 * sticky.partitioning.linger.ms): the partitions are the load balancer of the
 * workers.  With `keyed` set, the key is the request id and a request always
 * maps to the same partition (a retry after a timeout lands on the same
 * worker).
 *
 * Threads: a client and every call on it belong to one thread, the one that
 * polls; callbacks run on that thread, inside swarm_client_send(),
 * swarm_client_poll(), swarm_client_flush() or swarm_client_destroy().
 * Different clients are independent.
 */
#ifndef SWARM_CLIENT_H
#define SWARM_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "swarm/codec.h"
#include "swarm/conf.h"
#include "swarm/err.h"
#include "swarm/log.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct swarm_client swarm_client_t;

/* The window when swarm_client_opts_t.max_in_flight is <= 0, and the
 * producer's --window default (as a string for its option table). */
#define SWARM_CLIENT_WINDOW 1024

typedef struct swarm_client_opts {
        const char *request_topic;  /* required; copied */
        const char *result_topic;   /* NULL: send only (callback on delivery);
                                       copied */
        int max_in_flight;          /* the window; <= 0: SWARM_CLIENT_WINDOW */
        int keyed;                  /* 1: key = request_id; 0: NULL key */
        int request_timeout_ms;     /* > 0: a request unanswered this long
                                       completes with SWARM_ERR_TIMEOUT; 0: wait
                                       until flush/destroy */
        int send_timeout_ms;        /* > 0: swarm_client_send() gives up
                                       after this long without a free slot
                                       (SWARM_ERR_TIMEOUT, retriable), so a
                                       caller can check for a stop request;
                                       0: block until a slot frees */
        int start_timeout_ms;       /* > 0: the most swarm_client_new() waits
                                       for metadata and watermarks in all
                                       (and destroy for the purge); 0: the
                                       built-in waits (5 s, 10 s) */
} swarm_client_opts_t;

/* Completion of one request, called exactly once per accepted send.
 *  request_id: NUL-terminated, valid during the call.
 *  resp: the decoded response (a view into the Kafka message, valid only
 *        during the call), or NULL when err is set or when the client has no
 *        result topic (then the call means "delivered").
 *  err:  NULL on success; else why the request failed: SWARM_ERR_KAFKA
 *        (delivery failed), SWARM_ERR_TIMEOUT (request_timeout_ms passed),
 *        SWARM_ERR_STATE ("client closed" from swarm_client_destroy).
 *  latency_us: from swarm_client_send() to the response (or delivery report
 *        without a result topic, or the failure).
 * A callback must not call swarm_client_send/poll/flush/destroy on the same
 * client (they fail with SWARM_ERR_STATE). */
typedef void (*swarm_client_cb_t)(const char *request_id,
                                  const swarm_response_t *resp,
                                  const swarm_err_t *err, int64_t latency_us,
                                  void *opaque);

typedef struct swarm_client_stats {
        uint64_t sent;              /* accepted by swarm_client_send() */
        uint64_t delivered;         /* acknowledged by the broker */
        uint64_t delivery_failed;
        uint64_t answered;          /* responses matched to a pending request */
        uint64_t timed_out;
        uint64_t unknown_responses; /* ids not pending: other clients,
                                       duplicates, already timed out */
        uint64_t decode_errors;     /* result messages that did not decode */
        int64_t in_flight;          /* now */
        int64_t max_in_flight_seen; /* never above the window */
        int free_slots;             /* pending-request entries free now: 2 x
                                       the window once every request is
                                       complete and every delivery report in */
} swarm_client_stats_t;

/* Create a client.  conf: every non-"swarm." key goes to librdkafka
 * (bootstrap.servers, -X ...) and overrides the client's defaults (producer:
 * linger.ms=5, acks=all, enable.idempotence=false, compression.type=lz4;
 * consumer: fetch.wait.max.ms=10).  conf and log (NULL: silent) are borrowed
 * and must outlive the client; opts is copied.  Fetches the request topic's
 * metadata (up to 5 s, failure tolerated: produce reports it later) and, with
 * a result topic, its partitions and high watermarks (up to ~10 s), so then a
 * missing broker or topic fails here with SWARM_ERR_KAFKA; start_timeout_ms
 * bounds all of these waits together.  Caller destroys
 * *out. */
int swarm_client_new(const swarm_conf_t *conf, const swarm_log_t *log,
                     const swarm_client_opts_t *opts, swarm_client_t **out,
                     swarm_err_t *err);

/* Encode `req` (request_id and model required) with metadata pairs meta_kv
 * (n_meta key/value pairs, may be NULL when 0) and produce it asynchronously.
 * Blocks, serving callbacks, while the window is full (at most
 * send_timeout_ms when set: then SWARM_ERR_TIMEOUT with err->retriable set,
 * and nothing was sent).  req and meta are
 * copied into the message; the caller may reuse them on return.  On success
 * `cb` (may be NULL) will be called exactly once with `opaque`.  On failure
 * (SWARM_ERR_INVALID: bad request or encode failure; SWARM_ERR_KAFKA: produce
 * refused; SWARM_ERR_STATE: called from a callback) cb is never called.
 * A request id already in flight is refused (SWARM_ERR_INVALID): ids must be
 * unique among outstanding requests. */
int swarm_client_send(swarm_client_t *cl, const swarm_request_t *req,
                      const swarm_str_t *meta_kv, size_t n_meta,
                      swarm_client_cb_t cb, void *opaque, swarm_err_t *err);

/* Serve delivery reports and responses for up to timeout_ms (0: only what is
 * ready; -1: until at least one completion).  *completed (may be NULL) gets
 * the number of completion callbacks run.  Errors: SWARM_ERR_STATE when
 * called from a callback. */
int swarm_client_poll(swarm_client_t *cl, int timeout_ms, int *completed,
                      swarm_err_t *err);

/* Poll until nothing is in flight.  SWARM_ERR_TIMEOUT (message says how many
 * are left) after timeout_ms (-1: no limit); the requests stay in flight. */
int swarm_client_flush(swarm_client_t *cl, int timeout_ms, swarm_err_t *err);

/* Requests in flight now. */
int64_t swarm_client_in_flight(const swarm_client_t *cl);

void swarm_client_stats(const swarm_client_t *cl, swarm_client_stats_t *out);

/* Close: purge unsent messages and complete every outstanding request with
 * SWARM_ERR_STATE "client closed", on the calling thread.  Call
 * swarm_client_flush() first for a graceful end.  NULL is accepted. */
void swarm_client_destroy(swarm_client_t *cl);

#ifdef __cplusplus
}
#endif
#endif
