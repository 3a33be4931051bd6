/*
 * client.c - the application client (see client.h for the contract).
 *
 * Pending requests live in a fixed pool of 2 x window entries, indexed by a
 * chained hash on the request id and linked in send order (so request
 * timeouts only look at the oldest).  An entry leaves the hash when its
 * callback runs but stays allocated until its delivery report has arrived,
 * because librdkafka holds a pointer to it as the message opaque and a
 * response can overtake the delivery report.  Twice the window leaves room
 * for those stragglers; send() also waits for a free entry.
 */
#include "swarm/client.h"
#include "swarm/schemareg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "swarm/clock.h"
#include "swarm/kafka.h"

#define CONSUME_BATCH 256
/* Built-in start-up waits: one metadata or watermark request, and the
 * result topic's partitions (a topic being auto-created has none for a
 * moment).  swarm_client_opts_t.start_timeout_ms can only shorten them. */
#define METADATA_WAIT_MS 5000
#define RESULTS_WAIT_MS 10000
/* destroy: how long the purge's delivery reports may take */
#define CLOSE_FLUSH_MS 5000
/* a result topic being auto-created reports LEADER_NOT_AVAILABLE: retry */
#define RESULTS_RETRY_NS (200 * 1000 * 1000)
/* How long one wait on the result queue may last before delivery reports are
 * served again. */
#define SLICE_MS 10
/* The same for a send-only client, which has only delivery reports. */
#define NO_RESULTS_SLICE_MS 100
/* A request this large is handed to librdkafka (RD_KAFKA_MSG_F_FREE)
 * instead of copied: a scoring request of 256 rows is 800 KB, and the copy
 * was 7% of the scorer's time (perf, bench/README.md "Offline scoring").
 * Smaller ones are copied: librdkafka allocates for them either way, and
 * keeping cl->buf saves our own allocation. */
#define HANDOFF_BYTES (64 * 1024)

typedef struct entry {
        char *id;               /* owned, NUL-terminated */
        size_t id_len;
        uint64_t hash;
        int chain;              /* next in hash bucket, -1 */
        int prev, next;         /* send order among pending, -1 */
        int in_use;
        int pending;            /* callback not yet run (in hash + order) */
        int awaiting_dr;        /* librdkafka still holds it */
        int64_t sent_us;
        swarm_client_cb_t cb;
        void *opaque;
} entry_t;

struct swarm_client {
        swarm_kafka_opaque_t kop;       /* first: librdkafka's log callback */
        const swarm_log_t *log;
        swarm_codec_t *codec;
        rd_kafka_t *prod, *cons;
        rd_kafka_topic_t *rkt;          /* requests, on prod */
        rd_kafka_topic_t *res_rkt;      /* results, on cons */
        rd_kafka_queue_t *cq;           /* every result partition feeds it */
        int32_t *res_parts;             /* started partitions */
        int n_res_parts;
        char *req_topic, *res_topic;
        int window, keyed, timeout_ms, send_timeout_ms;
        int64_t start_deadline_us;      /* bounds start-up waits, 0: none */
        int close_ms;                   /* the purge's flush at destroy */

        entry_t *e;
        int n_entries, free_head;       /* free list through e[].chain */
        int *bucket;
        uint64_t mask;
        int head, tail;                 /* send order of pending entries */

        int in_cb;
        int decode_err_logged;
        uint64_t completions;
        swarm_client_stats_t st;
        swarm_buf_t buf;
};

static uint64_t hash_id(const char *p, size_t n) {
        uint64_t h = 1469598103934665603ull; /* FNV-1a */
        for (size_t i = 0; i < n; i++) {
                h ^= (unsigned char)p[i];
                h *= 1099511628211ull;
        }
        return h;
}

static entry_t *lookup(const swarm_client_t *cl, const char *id, size_t len) {
        uint64_t h = hash_id(id, len);
        for (int i = cl->bucket[h & cl->mask]; i >= 0; i = cl->e[i].chain) {
                const entry_t *e = &cl->e[i];
                if (e->hash == h && e->id_len == len && !memcmp(e->id, id, len))
                        return &cl->e[i];
        }
        return NULL;
}

static void unlink_pending(swarm_client_t *cl, entry_t *e) {
        int idx = (int)(e - cl->e);
        int *pp = &cl->bucket[e->hash & cl->mask];

        while (*pp >= 0 && *pp != idx)
                pp = &cl->e[*pp].chain;
        if (*pp == idx)
                *pp = e->chain;
        if (e->prev >= 0)
                cl->e[e->prev].next = e->next;
        else
                cl->head = e->next;
        if (e->next >= 0)
                cl->e[e->next].prev = e->prev;
        else
                cl->tail = e->prev;
        e->chain = e->prev = e->next = -1;
        e->pending = 0;
}

static void maybe_free(swarm_client_t *cl, entry_t *e) {
        if (!e->in_use || e->pending || e->awaiting_dr)
                return;
        free(e->id);
        e->id = NULL;
        e->in_use = 0;
        e->chain = cl->free_head;
        cl->free_head = (int)(e - cl->e);
}

/* Give back an entry taken by send() whose message was never produced. */
static void release_unsent(swarm_client_t *cl, entry_t *e) {
        free(e->id);
        e->id = NULL;
        e->chain = cl->free_head;
        cl->free_head = (int)(e - cl->e);
}

/* Run the callback of a pending entry once and take it out of the window. */
static void complete(swarm_client_t *cl, entry_t *e,
                     const swarm_response_t *resp, const swarm_err_t *err) {
        int64_t lat = swarm_clock_us() - e->sent_us;

        unlink_pending(cl, e);
        cl->st.in_flight--;
        cl->completions++;
        if (e->cb) {
                cl->in_cb = 1;
                e->cb(e->id, resp, err, lat, e->opaque);
                cl->in_cb = 0;
        }
        maybe_free(cl, e);
}

static void complete_err(swarm_client_t *cl, entry_t *e, swarm_code_t code,
                         const char *fmt, const char *arg) {
        swarm_err_t err;
        swarm_err_clear(&err);
        swarm_err_set(&err, code, fmt, arg);
        complete(cl, e, NULL, &err);
}

/* librdkafka delivery report, run inside rd_kafka_poll() on our thread. */
static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
        swarm_client_t *cl = opaque;
        entry_t *e = m->_private;

        (void)rk;
        if (!e)
                return;
        e->awaiting_dr = 0;
        if (m->err) {
                cl->st.delivery_failed++;
                if (e->pending)
                        complete_err(cl, e, SWARM_ERR_KAFKA, "delivery failed: %s",
                                     rd_kafka_err2str(m->err));
        } else {
                cl->st.delivered++;
                if (e->pending && !cl->res_topic)
                        complete(cl, e, NULL, NULL);
        }
        maybe_free(cl, e);
}

static void handle_result(swarm_client_t *cl, const rd_kafka_message_t *m) {
        swarm_response_t resp;
        swarm_err_t err;
        entry_t *e;

        if (m->err) {
                if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                        SWARM_WARN(cl->log, "result consumer error topic=%s "
                                   "partition=%d err=\"%s\"", cl->res_topic,
                                   (int)m->partition, rd_kafka_message_errstr(m));
                return;
        }
        swarm_err_clear(&err);
        memset(&resp, 0, sizeof(resp));
        if (swarm_codec_decode_response(cl->codec, m->payload, m->len, &resp,
                                        &err) != SWARM_OK) {
                cl->st.decode_errors++;
                /* log the first one only: a topic full of foreign records
                 * would otherwise flood stderr; the count is in the stats */
                if (!cl->decode_err_logged++)
                        SWARM_WARN(cl->log, "undecodable response topic=%s "
                                   "partition=%d offset=%lld err=\"%s\" (further "
                                   "ones are only counted)", cl->res_topic,
                                   (int)m->partition, (long long)m->offset,
                                   err.msg);
                swarm_response_destroy(&resp);
                return;
        }
        e = resp.request_id.len ? lookup(cl, resp.request_id.ptr,
                                         resp.request_id.len)
                                : NULL;
        if (!e) {
                cl->st.unknown_responses++;
        } else {
                cl->st.answered++;
                complete(cl, e, &resp, NULL);
        }
        swarm_response_destroy(&resp);
}

static void check_timeouts(swarm_client_t *cl) {
        int64_t now;
        if (cl->timeout_ms <= 0 || cl->head < 0)
                return;
        now = swarm_clock_us();
        while (cl->head >= 0 &&
               now - cl->e[cl->head].sent_us >= (int64_t)cl->timeout_ms * 1000) {
                char ms[32];
                snprintf(ms, sizeof(ms), "%d", cl->timeout_ms);
                cl->st.timed_out++;
                complete_err(cl, &cl->e[cl->head], SWARM_ERR_TIMEOUT,
                             "no response within %s ms", ms);
        }
}

/* One round: delivery reports, then results for up to wait_ms. */
static void poll_once(swarm_client_t *cl, int wait_ms) {
        rd_kafka_message_t *msgs[CONSUME_BATCH];
        ssize_t n;

        if (!cl->cq) {
                rd_kafka_poll(cl->prod, wait_ms);
                check_timeouts(cl);
                return;
        }
        rd_kafka_poll(cl->prod, 0);
        rd_kafka_poll(cl->cons, 0);
        n = rd_kafka_consume_batch_queue(cl->cq, wait_ms, msgs, CONSUME_BATCH);
        for (ssize_t i = 0; i < n; i++) {
                handle_result(cl, msgs[i]);
                rd_kafka_message_destroy(msgs[i]);
        }
        if (n > 0)
                rd_kafka_poll(cl->prod, 0);
        check_timeouts(cl);
}

int swarm_client_poll(swarm_client_t *cl, int timeout_ms, int *completed,
                      swarm_err_t *err) {
        uint64_t before = cl->completions;
        int64_t deadline = timeout_ms >= 0 ? swarm_clock_us() + (int64_t)timeout_ms * 1000
                                           : INT64_MAX;

        if (completed)
                *completed = 0;
        if (cl->in_cb)
                return swarm_err_set(err, SWARM_ERR_STATE,
                                     "swarm_client_poll() called from a callback");
        for (;;) {
                int64_t left = deadline - swarm_clock_us();
                int slice = left <= 0             ? 0
                            : left > SLICE_MS * 1000 ? SLICE_MS
                                                   : (int)((left + 999) / 1000);
                /* no result queue to wake on: sleep in longer slices */
                if (!cl->cq && timeout_ms != 0)
                        slice = left > NO_RESULTS_SLICE_MS * 1000 ? NO_RESULTS_SLICE_MS
                                                                   : slice;
                poll_once(cl, slice);
                if (cl->completions != before || left <= 0 ||
                    (timeout_ms < 0 && cl->st.in_flight == 0))
                        break;
        }
        if (completed)
                *completed = (int)(cl->completions - before);
        return SWARM_OK;
}

int swarm_client_flush(swarm_client_t *cl, int timeout_ms, swarm_err_t *err) {
        int64_t deadline = timeout_ms >= 0 ? swarm_clock_us() + (int64_t)timeout_ms * 1000
                                           : INT64_MAX;
        if (cl->in_cb)
                return swarm_err_set(err, SWARM_ERR_STATE,
                                     "swarm_client_flush() called from a callback");
        while (cl->st.in_flight > 0) {
                int64_t left = deadline - swarm_clock_us();
                if (left <= 0)
                        return swarm_err_set(err, SWARM_ERR_TIMEOUT,
                                             "%lld requests still in flight after "
                                             "%d ms", (long long)cl->st.in_flight,
                                             timeout_ms);
                poll_once(cl, left > SLICE_MS * 1000 ? SLICE_MS
                                                     : (int)((left + 999) / 1000));
        }
        /* let librdkafka finish the delivery reports of answered requests */
        rd_kafka_poll(cl->prod, 0);
        return SWARM_OK;
}

int64_t swarm_client_in_flight(const swarm_client_t *cl) {
        return cl->st.in_flight;
}

void swarm_client_stats(const swarm_client_t *cl, swarm_client_stats_t *out) {
        *out = cl->st;
        out->free_slots = 0;
        for (int i = cl->free_head; i >= 0; i = cl->e[i].chain)
                out->free_slots++;
}

int swarm_client_send(swarm_client_t *cl, const swarm_request_t *req,
                      const swarm_str_t *meta_kv, size_t n_meta,
                      swarm_client_cb_t cb, void *opaque, swarm_err_t *err) {
        rd_kafka_resp_err_t kerr;
        entry_t *e;
        int idx, r;
        uint64_t h;
        int64_t deadline;

        if (cl->in_cb)
                return swarm_err_set(err, SWARM_ERR_STATE,
                                     "swarm_client_send() called from a callback");
        if (!req->request_id.len || !req->model.len)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "request needs a request_id and a model");
        if (lookup(cl, req->request_id.ptr, req->request_id.len))
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "request id \"%.*s\" is already in flight",
                                     (int)req->request_id.len,
                                     req->request_id.ptr);
        /* encode first: a bad request fails without waiting for the window */
        cl->buf.len = 0;
        if ((r = swarm_codec_encode_request(cl->codec, req, meta_kv, n_meta,
                                            &cl->buf, err))) {
                swarm_err_prefix(err, "encoding request %.*s: ",
                                 (int)req->request_id.len, req->request_id.ptr);
                return r;
        }
        deadline = cl->send_timeout_ms > 0
                           ? swarm_clock_us() + (int64_t)cl->send_timeout_ms * 1000
                           : INT64_MAX;
        while (cl->st.in_flight >= cl->window || cl->free_head < 0) {
                if (swarm_clock_us() >= deadline)
                        goto timeout;
                poll_once(cl, SLICE_MS);
        }

        /* take the entry off the free list before anything polls: the
         * QUEUE_FULL retry below serves delivery reports and responses,
         * which push freed entries onto the list head, and popping it
         * afterwards would drop those entries for good */
        idx = cl->free_head;
        e = &cl->e[idx];
        cl->free_head = e->chain;
        e->chain = -1;
        e->id = malloc(req->request_id.len + 1);
        if (!e->id) {
                release_unsent(cl, e);
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        }
        memcpy(e->id, req->request_id.ptr, req->request_id.len);
        e->id[req->request_id.len] = '\0';
        e->id_len = req->request_id.len;
        e->sent_us = swarm_clock_us();
        e->cb = cb;
        e->opaque = opaque;

        for (;;) {
                int give = cl->buf.len >= HANDOFF_BYTES;
                kerr = rd_kafka_producev(
                        cl->prod, RD_KAFKA_V_RKT(cl->rkt),
                        RD_KAFKA_V_VALUE(cl->buf.data, cl->buf.len),
                        RD_KAFKA_V_KEY(cl->keyed ? e->id : NULL,
                                       cl->keyed ? e->id_len : 0),
                        RD_KAFKA_V_MSGFLAGS(give ? RD_KAFKA_MSG_F_FREE
                                                 : RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_OPAQUE(e), RD_KAFKA_V_END);
                if (!kerr && give) {
                        /* librdkafka frees it after delivery; the next
                         * encode allocates its exact size once */
                        size_t n;
                        (void)swarm_buf_steal(&cl->buf, &n);
                }
                if (kerr != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        break;
                if (swarm_clock_us() >= deadline) {
                        release_unsent(cl, e);
                        goto timeout;
                }
                /* librdkafka's own queue is full: let it drain */
                poll_once(cl, SLICE_MS);
        }
        if (kerr) {
                release_unsent(cl, e);
                return swarm_err_set(err, SWARM_ERR_KAFKA,
                                     "producing to %s: %s", cl->req_topic,
                                     rd_kafka_err2str(kerr));
        }
        h = hash_id(e->id, e->id_len);
        e->hash = h;
        e->in_use = 1;
        e->pending = 1;
        e->awaiting_dr = 1;
        e->chain = cl->bucket[h & cl->mask];
        cl->bucket[h & cl->mask] = idx;
        e->next = -1;
        e->prev = cl->tail;
        if (cl->tail >= 0)
                cl->e[cl->tail].next = idx;
        else
                cl->head = idx;
        cl->tail = idx;
        cl->st.sent++;
        cl->st.in_flight++;
        if (cl->st.in_flight > cl->st.max_in_flight_seen)
                cl->st.max_in_flight_seen = cl->st.in_flight;
        return SWARM_OK;

timeout:
        return swarm_err_set_flags(err, SWARM_ERR_TIMEOUT, SWARM_ERR_F_RETRIABLE,
                                   "no free slot within %d ms (%lld in flight)",
                                   cl->send_timeout_ms, (long long)cl->st.in_flight);
}

/* Start fetching every partition of the result topic at its current high
 * watermark into cl->cq.  This uses librdkafka's simple (legacy) consumer:
 * rd_kafka_assign() refuses to work without a group.id, and the client must
 * not join or commit to any group. */
/* Start-up waits: a metadata or watermark call gets the built-in `ms`, or
 * what is left of start_timeout_ms when that is less (at least 1 ms). */
static int start_wait_ms(const swarm_client_t *cl, int ms) {
        int64_t left;
        if (!cl->start_deadline_us)
                return ms;
        left = (cl->start_deadline_us - swarm_clock_us()) / 1000;
        return left < 1 ? 1 : (left < ms ? (int)left : ms);
}

static int start_results(swarm_client_t *cl, swarm_err_t *err) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *rkt = NULL;
        rd_kafka_resp_err_t kerr = RD_KAFKA_RESP_ERR_NO_ERROR;
        int64_t deadline = swarm_clock_us() + (int64_t)RESULTS_WAIT_MS * 1000;
        int r = SWARM_OK, np = 0;
        int64_t *hi = NULL;

        /* metadata through the producer: it may auto-create the topic */
        rkt = rd_kafka_topic_new(cl->prod, cl->res_topic, NULL);
        if (!rkt)
                return swarm_err_set(err, SWARM_ERR_KAFKA, "result topic %s: %s",
                                     cl->res_topic,
                                     rd_kafka_err2str(rd_kafka_last_error()));
        for (;;) {
                kerr = rd_kafka_metadata(cl->prod, 0, rkt, &md,
                                         start_wait_ms(cl, METADATA_WAIT_MS));
                if (!kerr && md->topic_cnt == 1) {
                        kerr = md->topics[0].err;
                        np = md->topics[0].partition_cnt;
                        if (!kerr && np > 0)
                                break;
                }
                if (md) {
                        rd_kafka_metadata_destroy(md);
                        md = NULL;
                }
                if (swarm_clock_us() > deadline ||
                    (cl->start_deadline_us && swarm_clock_us() >= cl->start_deadline_us)) {
                        r = swarm_err_set(err, SWARM_ERR_KAFKA,
                                          "result topic %s: no partitions: %s",
                                          cl->res_topic,
                                          kerr ? rd_kafka_err2str(kerr)
                                               : "topic has no partitions");
                        goto out;
                }
                /* a topic being auto-created reports LEADER_NOT_AVAILABLE */
                nanosleep(&(struct timespec){0, RESULTS_RETRY_NS}, NULL);
        }
        /* all watermarks before any fetch starts: no response to a request
         * sent after this function returns can be older than them */
        hi = calloc((size_t)np, sizeof(*hi));
        cl->res_parts = calloc((size_t)np, sizeof(*cl->res_parts));
        if (!hi || !cl->res_parts) {
                r = swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                goto out;
        }
        for (int i = 0; i < np; i++) {
                int32_t p = md->topics[0].partitions[i].id;
                int64_t lo = 0;
                kerr = rd_kafka_query_watermark_offsets(cl->cons, cl->res_topic,
                                                        p, &lo, &hi[i],
                                                        start_wait_ms(cl, METADATA_WAIT_MS));
                if (kerr) {
                        r = swarm_err_set(err, SWARM_ERR_KAFKA,
                                          "result topic %s partition %d: "
                                          "watermarks: %s", cl->res_topic, (int)p,
                                          rd_kafka_err2str(kerr));
                        goto out;
                }
        }
        cl->cq = rd_kafka_queue_new(cl->cons);
        cl->res_rkt = rd_kafka_topic_new(cl->cons, cl->res_topic, NULL);
        if (!cl->cq || !cl->res_rkt) {
                r = swarm_err_set(err, SWARM_ERR_KAFKA, "result topic %s: %s",
                                  cl->res_topic,
                                  rd_kafka_err2str(rd_kafka_last_error()));
                goto out;
        }
        for (int i = 0; i < np; i++) {
                int32_t p = md->topics[0].partitions[i].id;
                if (rd_kafka_consume_start_queue(cl->res_rkt, p, hi[i], cl->cq)) {
                        r = swarm_err_set(err, SWARM_ERR_KAFKA,
                                          "result topic %s partition %d: start: %s",
                                          cl->res_topic, (int)p,
                                          rd_kafka_err2str(rd_kafka_last_error()));
                        goto out;
                }
                cl->res_parts[cl->n_res_parts++] = p;
        }
        SWARM_DEBUG(cl->log, "client reading results topic=%s partitions=%d",
                    cl->res_topic, np);
out:
        free(hi);
        if (md)
                rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
        return r;
}

int swarm_client_new(const swarm_conf_t *conf, const swarm_log_t *log,
                     const swarm_client_opts_t *opts, swarm_client_t **out,
                     swarm_err_t *err) {
        static const char *const prod_defaults[] = {
                "linger.ms", "5",
                "enable.idempotence", "false",
                "acks", "all",
                "compression.type", "lz4",
                NULL,
        };
        static const char *const cons_defaults[] = {
                "fetch.wait.max.ms", "10",
                "enable.partition.eof", "false",
                "enable.auto.commit", "false",
                "enable.auto.offset.store", "false",
                NULL,
        };
        rd_kafka_conf_t *kconf = NULL;
        swarm_client_t *cl;
        int r;
        uint64_t nb = 1;

        if (!opts || !opts->request_topic || !*opts->request_topic)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "client: a request topic is required");
        cl = calloc(1, sizeof(*cl));
        if (!cl)
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        cl->kop.log = log;
        cl->log = log;
        cl->window = opts->max_in_flight > 0 ? opts->max_in_flight
                                             : SWARM_CLIENT_WINDOW;
        cl->keyed = opts->keyed;
        cl->timeout_ms = opts->request_timeout_ms;
        cl->send_timeout_ms = opts->send_timeout_ms;
        cl->start_deadline_us = opts->start_timeout_ms > 0
                                        ? swarm_clock_us() + (int64_t)opts->start_timeout_ms * 1000
                                        : 0;
        cl->close_ms = opts->start_timeout_ms > 0 && opts->start_timeout_ms < CLOSE_FLUSH_MS
                               ? opts->start_timeout_ms
                               : CLOSE_FLUSH_MS;
        cl->head = cl->tail = -1;
        cl->req_topic = strdup(opts->request_topic);
        cl->res_topic = opts->result_topic && *opts->result_topic
                                ? strdup(opts->result_topic)
                                : NULL;
        if (!cl->req_topic || (opts->result_topic && *opts->result_topic &&
                               !cl->res_topic)) {
                r = swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                goto fail;
        }

        cl->n_entries = 2 * cl->window;
        while (nb < (uint64_t)cl->n_entries * 2)
                nb <<= 1;
        cl->mask = nb - 1;
        cl->e = calloc((size_t)cl->n_entries, sizeof(*cl->e));
        cl->bucket = malloc(nb * sizeof(*cl->bucket));
        if (!cl->e || !cl->bucket) {
                r = swarm_err_set(err, SWARM_ERR_NOMEM,
                                  "out of memory for a window of %d", cl->window);
                goto fail;
        }
        for (uint64_t i = 0; i < nb; i++)
                cl->bucket[i] = -1;
        for (int i = 0; i < cl->n_entries; i++) {
                cl->e[i].chain = i + 1 < cl->n_entries ? i + 1 : -1;
                cl->e[i].prev = cl->e[i].next = -1;
        }
        cl->free_head = 0;

        if ((r = swarm_codec_new(&cl->codec, err)) ||
            (r = swarm_schemareg_setup(conf, log, cl->codec, cl->req_topic,
                                       cl->res_topic, err)))
                goto fail;

        if ((r = swarm_kafka_conf(conf, prod_defaults, &cl->kop, &kconf, err)))
                goto fail;
        rd_kafka_conf_set_dr_msg_cb(kconf, dr_cb);
        /* the dr callback needs the client; kafka.c's log callback reads the
         * swarm_kafka_opaque_t at its start */
        rd_kafka_conf_set_opaque(kconf, cl);
        if ((r = swarm_kafka_new(RD_KAFKA_PRODUCER, kconf, &cl->prod, err)))
                goto fail;
        cl->rkt = rd_kafka_topic_new(cl->prod, cl->req_topic, NULL);
        if (!cl->rkt) {
                r = swarm_err_set(err, SWARM_ERR_KAFKA, "request topic %s: %s",
                                  cl->req_topic,
                                  rd_kafka_err2str(rd_kafka_last_error()));
                goto fail;
        }

        {
                /* learn the request topic's partitions now: otherwise the
                 * first requests wait in librdkafka for a metadata round
                 * trip and their latency is skewed.  Failure is not fatal
                 * here; produce reports it. */
                const struct rd_kafka_metadata *md = NULL;
                if (!rd_kafka_metadata(cl->prod, 0, cl->rkt, &md,
                                       start_wait_ms(cl, METADATA_WAIT_MS)) && md)
                        rd_kafka_metadata_destroy(md);
        }
        if (cl->res_topic) {
                if ((r = swarm_kafka_conf(conf, cons_defaults, &cl->kop, &kconf,
                                          err)))
                        goto fail;
                rd_kafka_conf_set_opaque(kconf, cl);
                if ((r = swarm_kafka_new(RD_KAFKA_CONSUMER, kconf, &cl->cons,
                                         err)))
                        goto fail;
                if ((r = start_results(cl, err)))
                        goto fail;
        }
        *out = cl;
        return SWARM_OK;

fail:
        swarm_err_prefix(err, "creating client: ");
        swarm_client_destroy(cl);
        return r;
}

void swarm_client_destroy(swarm_client_t *cl) {
        if (!cl)
                return;
        /* complete the outstanding requests first, so callbacks run in send
         * order and before librdkafka reports the purge */
        while (cl->head >= 0)
                complete_err(cl, &cl->e[cl->head], SWARM_ERR_STATE, "%s",
                             "client closed");
        if (cl->prod) {
                rd_kafka_purge(cl->prod,
                               RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
                /* serves the purge's delivery reports so entries are
                 * released; the requests are already completed */
                rd_kafka_flush(cl->prod, cl->close_ms);
        }
        for (int i = 0; i < cl->n_res_parts; i++)
                rd_kafka_consume_stop(cl->res_rkt, cl->res_parts[i]);
        if (cl->res_rkt)
                rd_kafka_topic_destroy(cl->res_rkt);
        if (cl->cq)
                rd_kafka_queue_destroy(cl->cq);
        if (cl->cons)
                rd_kafka_destroy(cl->cons);
        free(cl->res_parts);
        if (cl->rkt)
                rd_kafka_topic_destroy(cl->rkt);
        if (cl->prod)
                rd_kafka_destroy(cl->prod);
        for (int i = 0; cl->e && i < cl->n_entries; i++)
                free(cl->e[i].id);
        swarm_codec_destroy(cl->codec);
        swarm_buf_destroy(&cl->buf);
        free(cl->e);
        free(cl->bucket);
        free(cl->req_topic);
        free(cl->res_topic);
        free(cl);
}
