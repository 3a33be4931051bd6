/*
 * output.c - responses, dead letters, delivery reports, offset store (see
 * output.h).
 */
#include "output.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "swarm/clock.h"
#include "swarm/kafka.h"
#include "swarm/model.h"
#include "swarm/registry.h"     /* swarm_sha256_hex */

/* Kafka refuses topic names longer than 249 characters; a reply_topic is
 * copied into a buffer this big to be NUL-terminated. */
#define TOPIC_NAME_SIZE 256
/* How long a full local producer queue is served before producing again. */
#define QUEUE_FULL_POLL_MS 10
/* How long output_finish() waits for delivery reports per round. */
#define FINISH_POLL_MS 50
/* What output_destroy() gives records still queued. */
#define OUTPUT_CLOSE_FLUSH_MS 10000
/* Partitions remembered per round before the first growth. */
#define STORE_INITIAL_CAP 64
/* Delivered messages marked done per round before the first growth. */
#define DONE_INITIAL_CAP 1024
/* Exactly-once: how long a producer being replaced may serve the delivery
 * reports of what it still holds, and how long the seek back may take. */
#define RECREATE_DRAIN_MS 10000
#define REWIND_SEEK_MS 10000
/* Exactly-once: requests whose record was refused, remembered across the
 * abort so their replay is dead-lettered (oldest forgotten first). */
#define POISON_MAX 256
/* Responses up to this size are encoded into one buffer the output thread
 * keeps and copied by librdkafka into its message (one allocation per
 * response instead of two); larger ones are handed over as they are
 * encoded, and a buffer grown past it is not kept. */
#define ENC_KEEP_MAX (64 * 1024)
/* (model, version, status) series of swarm_worker_requests_total looked up
 * once, not per delivery report (label formatting and a scan otherwise). */
#define COUNT_CACHE 8

struct output {
        swarm_kafka_opaque_t kop;       /* first: librdkafka log callback */
        output_conf_t c;
        const swarm_log_t *log;
        swarm_codec_t *codec;
        offtrack_t *track;
        models_t *mm;
        job_fatal_t *fatal;
        rd_kafka_t *producer;
        /* the result topic's handle on `producer` (NULL: not made yet, or
         * could not be): producing by handle saves the lookup by name per
         * response */
        rd_kafka_topic_t *rkt_results;
        uint32_t slot;                  /* the result partition slot of the
                                           batch being emitted */
        rd_kafka_t *consumer;           /* borrowed: offsets are stored on it */
        size_t max_msg;                 /* the producer's message.max.bytes */

        swarm_metric_t *m_requests;
        swarm_series_t *s_dlq, *s_queue, *s_e2e;
        struct count_slot {
                char name[MODELS_NAME_QUOTED + 1];  /* "" : free */
                int32_t version;                    /* -1: unknown model */
                swarm_status_t status;
                swarm_series_t *s;
        } counts[COUNT_CACHE];
        int ncounts_next;                /* next slot to replace (a ring) */
        swarm_buf_t enc;                 /* responses up to ENC_KEEP_MAX */

        /* partitions whose stored offset advanced this round (exactly
         * once: since the transaction began) */
        int32_t *store_part;
        int64_t *store_off;
        int nstore, capstore;

        /* delivered this round, marked done in the tracker at once, under
         * one lock, before the round stores offsets (apply_done()); their
         * messages' bytes are given back to the worker's count at once */
        offtrack_ref_t *done;
        size_t ndone, capdone;
        atomic_llong *done_bytes_to;
        long long done_bytes;
        /* delivered jobs for c.pool, given with the round's done marks */
        job_t *rec_head, *rec_tail;
        int nrec;

        /* exactly-once mode (txn.h): txn_lock serializes every use of the
         * transactional producer (the output thread's rounds, the consumer
         * thread's dead-letter events and revoke) */
        int eos;
        txn_opts_t txn;
        txn_window_t win;
        rd_kafka_conf_t *kc_dup;        /* to re-create a fenced producer */
        pthread_mutex_t txn_lock;
        int need_abort;                 /* a record of the transaction failed */
        int gate;                       /* due but not settled: hold intake */
        pthread_cond_t gate_cond;       /* gate went down (with txn_lock) */
        int discarding;                 /* delivery reports of a dropped producer */
        int64_t commits, aborts, recreates;
        struct poison {
                int32_t partition;
                int64_t offset;         /* -1: free */
                size_t limit;           /* produce_dlq_limit()'s bound */
                char reason[JOB_ERROR_SIZE];
        } poison[POISON_MAX];
        int npoison;                    /* next slot (a ring) */
};

/* The result topic's partitioner: every response of one batch to the same
 * partition, the next batch to the next one.  Hashing each request_id
 * spread a batch over every partition, so the producer sent as many small
 * record batches (each compressed, each a request to the broker) as the
 * topic has partitions per linger.ms; clients read every partition of the
 * result topic and match request_ids, so which one carries a response is
 * theirs to ignore.  The slot travels with the job (msg_opaque): librdkafka
 * may partition later, on its own thread, once it knows the partitions. */
static int32_t batch_partitioner(const rd_kafka_topic_t *rkt, const void *key,
                                 size_t key_len, int32_t partition_cnt, void *rkt_opaque,
                                 void *msg_opaque) {
        const job_t *j = msg_opaque;
        uint32_t slot = j ? j->out_slot : 0;

        (void)key;
        (void)key_len;
        (void)rkt_opaque;
        if (partition_cnt <= 0)
                return RD_KAFKA_PARTITION_UA;
        for (int32_t i = 0; i < partition_cnt; i++) {
                int32_t p = (int32_t)((slot + (uint32_t)i) % (uint32_t)partition_cnt);
                if (rd_kafka_topic_partition_available(rkt, p))
                        return p;
        }
        return (int32_t)(slot % (uint32_t)partition_cnt);
}

/* The result topic's handle with batch_partitioner (NULL when it cannot be
 * made: responses then go by name, with the default partitioner). */
static rd_kafka_topic_t *results_topic(output_t *o) {
        rd_kafka_topic_conf_t *tc;
        char v[64];
        size_t vn = sizeof(v);

        if (o->rkt_results)
                return o->rkt_results;
        if (!(tc = rd_kafka_default_topic_conf_dup(o->producer)))
                return NULL;
        /* an operator's -X partitioner=... (by key: murmur2 ...) is kept */
        if (rd_kafka_topic_conf_get(tc, "partitioner", v, &vn) != RD_KAFKA_CONF_OK ||
            !strcmp(v, "consistent_random"))
                rd_kafka_topic_conf_set_partitioner_cb(tc, batch_partitioner);
        /* takes tc, also on failure */
        o->rkt_results = rd_kafka_topic_new(o->producer, o->c.results, tc);
        return o->rkt_results;
}

static void eos_lock(output_t *o) {
        if (o->eos)
                pthread_mutex_lock(&o->txn_lock);
}

static void eos_unlock(output_t *o) {
        if (o->eos)
                pthread_mutex_unlock(&o->txn_lock);
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);

int output_new(const output_conf_t *c, rd_kafka_conf_t *kc,
               swarm_codec_t *codec, offtrack_t *track, models_t *mm,
               swarm_metrics_t *metrics, job_fatal_t *fatal,
               const swarm_log_t *log, output_t **out, swarm_err_t *err) {
        static const char *const by_status[] = {"model", "version", "status", NULL};
        output_t *o = calloc(1, sizeof(*o));
        swarm_metric_t *f;
        int r;

        if (!o) {
                rd_kafka_conf_destroy(kc);
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        }
        o->kop.log = log;
        o->c = *c;
        o->log = log;
        o->codec = codec;
        o->track = track;
        o->mm = mm;
        o->fatal = fatal;
        if ((r = swarm_metrics_counter(metrics, "swarm_worker_requests_total",
                                       "Requests answered, by model, version served and "
                                       "status (counted at delivery)",
                                       by_status, &o->m_requests, err)) ||
            (r = swarm_metrics_counter(metrics, "swarm_worker_dead_letters_total",
                                       "Requests written to the dead-letter topic "
                                       "(counted at delivery)",
                                       NULL, &f, err)))
                goto fail;
        o->s_dlq = swarm_metrics_with(f, NULL);
        if ((r = swarm_metrics_histogram(metrics, "swarm_worker_queue_seconds",
                                         "Time from consumption to the start of the batch",
                                         NULL, swarm_metrics_latency_buckets,
                                         swarm_metrics_latency_bucket_count, &f, err)))
                goto fail;
        o->s_queue = swarm_metrics_with(f, NULL);
        if ((r = swarm_metrics_histogram(metrics, "swarm_worker_end_to_end_seconds",
                                         "Time from the request's Kafka timestamp to its "
                                         "response being produced",
                                         NULL, swarm_metrics_latency_buckets,
                                         swarm_metrics_latency_bucket_count, &f, err)))
                goto fail;
        o->s_e2e = swarm_metrics_with(f, NULL);

        {
                char v[32];
                size_t vn = sizeof(v);
                o->max_msg = rd_kafka_conf_get(kc, "message.max.bytes", v, &vn) ==
                                             RD_KAFKA_CONF_OK
                                     ? (size_t)strtoull(v, NULL, 10)
                                     : 1000000;
        }
        rd_kafka_conf_set_dr_msg_cb(kc, dr_cb);
        rd_kafka_conf_set_opaque(kc, o);
        if (c->txn && c->txn->enabled) {
                o->eos = 1;
                o->txn = *c->txn;
                for (int i = 0; i < POISON_MAX; i++)
                        o->poison[i].offset = -1;
                pthread_mutex_init(&o->txn_lock, NULL);
                swarm_clock_cond_init(&o->gate_cond);
                if ((r = txn_producer_conf(&o->txn, kc, err)))
                        goto fail;
                if (!(o->kc_dup = rd_kafka_conf_dup(kc))) {
                        r = swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                        goto fail;
                }
        }
        if ((r = swarm_kafka_new(RD_KAFKA_PRODUCER, kc, &o->producer, err))) {
                if (o->kc_dup)
                        rd_kafka_conf_destroy(o->kc_dup);
                if (o->eos)
                        pthread_mutex_destroy(&o->txn_lock);
                free(o);
                return r;
        }
        if (o->eos) {
                /* fences the previous incarnation of this instance and
                 * aborts the transaction it left open */
                if (txn_check(rd_kafka_init_transactions(o->producer, TXN_CALL_TIMEOUT_MS),
                              "init_transactions", err)) {
                        output_destroy(o);
                        return err ? err->code : SWARM_ERR_KAFKA;
                }
                SWARM_INFO(log, "exactly-once mode transactional.id=%s txn_ms=%" PRId64
                           " txn_max_records=%" PRId64, o->txn.id, o->txn.window_ms,
                           o->txn.max_records);
        }
        *out = o;
        return SWARM_OK;
fail:
        rd_kafka_conf_destroy(kc);
        if (o->eos) {
                pthread_mutex_destroy(&o->txn_lock);
                pthread_cond_destroy(&o->gate_cond);
        }
        free(o);
        return r;
}

void output_destroy(output_t *o) {
        if (!o)
                return;
        if (o->eos)
                SWARM_INFO(o->log, "exactly-once summary transactions=%" PRId64
                           " aborted=%" PRId64 " producers_recreated=%" PRId64,
                           o->commits, o->aborts, o->recreates);
        if (o->producer) {
                rd_kafka_flush(o->producer, OUTPUT_CLOSE_FLUSH_MS);
                if (o->rkt_results)
                        rd_kafka_topic_destroy(o->rkt_results);
                rd_kafka_destroy(o->producer);
        }
        if (o->kc_dup)
                rd_kafka_conf_destroy(o->kc_dup);
        if (o->eos) {
                pthread_mutex_destroy(&o->txn_lock);
                pthread_cond_destroy(&o->gate_cond);
        }
        free(o->store_part);
        free(o->store_off);
        free(o->done);
        while (o->rec_head) {
                job_t *next = job_next(o->rec_head);
                free(o->rec_head);
                o->rec_head = next;
        }
        swarm_buf_destroy(&o->enc);
        free(o);
}

void output_set_consumer(output_t *o, rd_kafka_t *consumer) {
        o->consumer = consumer;
}

/* ------------------------------------------------------ offset store */

static void remember_store(output_t *o, int32_t partition, int64_t offset) {
        for (int i = 0; i < o->nstore; i++)
                if (o->store_part[i] == partition) {
                        if (offset > o->store_off[i])
                                o->store_off[i] = offset;
                        return;
                }
        if (o->nstore == o->capstore) {
                int cap = o->capstore ? o->capstore * 2 : STORE_INITIAL_CAP;
                int32_t *p = realloc(o->store_part, (size_t)cap * sizeof(*p));
                int64_t *q;
                /* Out of memory: this offset is stored by a later message of
                 * the partition, or redelivered; never stored too early. */
                if (!p)
                        return;
                o->store_part = p;
                q = realloc(o->store_off, (size_t)cap * sizeof(*q));
                if (!q)
                        return;
                o->store_off = q;
                o->capstore = cap;
        }
        o->store_part[o->nstore] = partition;
        o->store_off[o->nstore] = offset;
        o->nstore++;
}

static void remember_store_cb(void *ctx, int32_t partition, int64_t offset) {
        remember_store(ctx, partition, offset);
}

/* Mark the messages delivered since the last call done (one lock for all)
 * and give their bytes back.  Before anything reads the stored offsets or
 * the tracker's settled state on this thread. */
static void apply_done(output_t *o) {
        offtrack_done_many(o->track, o->done, o->ndone, remember_store_cb, o);
        o->ndone = 0;
        if (o->done_bytes) {
                atomic_fetch_sub(o->done_bytes_to, o->done_bytes);
                o->done_bytes = 0;
        }
        if (o->nrec) {
                job_pool_give(o->c.pool, o->rec_head, o->rec_tail, o->nrec);
                o->rec_head = o->rec_tail = NULL;
                o->nrec = 0;
        }
}

/* Store the advanced offsets of this round in one call. */
static void flush_store(output_t *o) {
        rd_kafka_topic_partition_list_t *l;
        rd_kafka_resp_err_t e;

        apply_done(o);
        /* exactly once: the offsets go into the transaction instead */
        if (o->eos || !o->nstore || !o->consumer)
                return;
        l = rd_kafka_topic_partition_list_new(o->nstore);
        for (int i = 0; i < o->nstore; i++)
                rd_kafka_topic_partition_list_add(l, o->c.topic, o->store_part[i])
                        ->offset = o->store_off[i];
        e = rd_kafka_offsets_store(o->consumer, l);
        if (e)
                SWARM_DEBUG(o->log, "offsets_store: %s (partition revoked?)",
                            rd_kafka_err2str(e));
        rd_kafka_topic_partition_list_destroy(l);
        o->nstore = 0;
}

static void finish_job(output_t *o, job_t *j) {
        int64_t off;

        if (o->ndone == o->capdone) {
                size_t cap = o->capdone ? o->capdone * 2 : DONE_INITIAL_CAP;
                offtrack_ref_t *v = cap > SIZE_MAX / sizeof(*v)
                                            ? NULL
                                            : realloc(o->done, cap * sizeof(*v));
                if (v) {
                        o->done = v;
                        o->capdone = cap;
                }
        }
        if (o->ndone < o->capdone) {
                o->done[o->ndone++] = j->ref;
        } else if (offtrack_done(o->track, j->ref, &off)) {
                /* out of memory: marked alone */
                remember_store(o, j->ref.partition, off);
        }
        /* one atomic per round, not per message: the consumer thread adds
         * to the same count per message */
        if (j->msg && j->bytes && (!o->done_bytes_to || o->done_bytes_to == j->bytes)) {
                o->done_bytes_to = j->bytes;
                o->done_bytes += (long long)j->msg->len;
                j->bytes = NULL;
        }
        if (!o->c.pool || !job_pool_room(o->c.pool, o->nrec + 1)) {
                job_destroy(o->mm, j);
                return;
        }
        job_release(o->mm, j);
        j->it.next = o->rec_head ? &o->rec_head->it : NULL;
        o->rec_head = j;
        if (!o->rec_tail)
                o->rec_tail = j;
        o->nrec++;
}

/* ---------------------------------------------------------- produce */

/* Produce with backpressure: on a full local queue serve delivery reports
 * and retry.  On success `val` and `hdrs` are librdkafka's; on failure they
 * stay the caller's and the error is returned (MSG_SIZE_TOO_LARGE,
 * UNKNOWN_TOPIC ... come back here at once, before any delivery report). */
static rd_kafka_resp_err_t try_produce(output_t *o, const char *topic,
                                       size_t topic_len, void *key, size_t key_len,
                                       void *val, size_t val_len, int copy,
                                       rd_kafka_headers_t *hdrs, job_t *j) {
        char tbuf[TOPIC_NAME_SIZE];
        rd_kafka_topic_t *rkt = NULL;
        rd_kafka_resp_err_t e;

        if (topic == o->c.results)
                rkt = results_topic(o);
        if (topic_len >= sizeof(tbuf))
                topic_len = sizeof(tbuf) - 1;
        memcpy(tbuf, topic, topic_len);
        tbuf[topic_len] = '\0';
        for (;;) {
                /* by handle or by name: the same topic, the same record */
                e = rkt ? rd_kafka_producev(
                        o->producer, RD_KAFKA_V_RKT(rkt),
                        RD_KAFKA_V_MSGFLAGS(copy ? RD_KAFKA_MSG_F_COPY
                                                 : RD_KAFKA_MSG_F_FREE),
                        RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE(val, val_len),
                        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(j),
                        RD_KAFKA_V_END)
                        : rd_kafka_producev(
                        o->producer, RD_KAFKA_V_TOPIC(tbuf),
                        RD_KAFKA_V_MSGFLAGS(copy ? RD_KAFKA_MSG_F_COPY
                                                 : RD_KAFKA_MSG_F_FREE),
                        RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE(val, val_len),
                        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(j),
                        RD_KAFKA_V_END);
                if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        return e;
                rd_kafka_poll(o->producer, QUEUE_FULL_POLL_MS);
        }
}

/* A record that can never be delivered as it is, whatever the retries: too
 * big for the producer or the topic, refused as invalid.  These are about
 * one record, so they must cost that record, never the worker. */
static int record_error(rd_kafka_resp_err_t e) {
        return e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
               e == RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE ||
               e == RD_KAFKA_RESP_ERR_INVALID_RECORD ||
               e == RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE ||
               e == RD_KAFKA_RESP_ERR_INVALID_MSG;
}

/* Dead-letter the job's message.  `limit` (0: the producer's
 * message.max.bytes) bounds the record: a payload that does not fit is
 * stored truncated, with headers for its original size and sha256, so the
 * record still says what arrived and the worker goes on. */
static int produce_dlq_limit(output_t *o, job_t *j, size_t limit, swarm_err_t *err) {
        const rd_kafka_message_t *m = j->msg;
        size_t keep = m->len;
        rd_kafka_resp_err_t e;

        if (!limit)
                limit = o->max_msg;
        j->kind = JOB_DLQ;
        j->to_reply_topic = 0;
        for (int attempt = 0;; attempt++) {
                rd_kafka_headers_t *h;
                char num[32], sha[65];
                void *copy = malloc(keep ? keep : 1);

                if (!copy)
                        return swarm_err_set(err, SWARM_ERR_NOMEM,
                                             "out of memory dead-lettering %zu bytes",
                                             keep);
                if (keep)
                        memcpy(copy, m->payload, keep);
                h = rd_kafka_headers_new(8);
                rd_kafka_header_add(h, "swarm.dlq.reason", -1, j->error, -1);
                rd_kafka_header_add(h, "swarm.dlq.topic", -1, rd_kafka_topic_name(m->rkt), -1);
                snprintf(num, sizeof(num), "%d", (int)m->partition);
                rd_kafka_header_add(h, "swarm.dlq.partition", -1, num, -1);
                snprintf(num, sizeof(num), "%" PRId64, m->offset);
                rd_kafka_header_add(h, "swarm.dlq.offset", -1, num, -1);
                rd_kafka_header_add(h, "swarm.dlq.worker", -1, o->c.worker, -1);
                if (keep < m->len) {
                        snprintf(num, sizeof(num), "%zu", m->len);
                        rd_kafka_header_add(h, "swarm.dlq.original.size", -1, num, -1);
                        swarm_sha256_hex(m->payload, m->len, sha);
                        rd_kafka_header_add(h, "swarm.dlq.original.sha256", -1, sha, -1);
                        snprintf(num, sizeof(num), "%zu", keep);
                        rd_kafka_header_add(h, "swarm.dlq.truncated.to", -1, num, -1);
                }
                e = try_produce(o, o->c.dlq, strlen(o->c.dlq), m->key,
                                m->key_len, copy, keep, 0, h, j);
                if (!e)
                        return SWARM_OK;
                rd_kafka_headers_destroy(h);
                free(copy);
                if (e != RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE || attempt >= 8 ||
                    keep == 0)
                        return swarm_err_set(err, SWARM_ERR_KAFKA,
                                             "produce to %s failed: %s", o->c.dlq,
                                             rd_kafka_err2str(e));
                /* room for the key, the headers (reason up to
                 * JOB_ERROR_SIZE) and the record framing; halve after that */
                if (attempt == 0 && limit > m->key_len + 4096)
                        keep = limit - m->key_len - 4096;
                else
                        keep /= 2;
                if (keep > m->len)
                        keep = m->len / 2;
                SWARM_WARN(o->log, "dead-letter record of %zu bytes too large for "
                           "%s (message.max.bytes %zu): storing the first %zu bytes "
                           "partition=%d offset=%" PRId64, m->len, o->c.dlq,
                           o->max_msg, keep, (int)m->partition, m->offset);
        }
}

static int produce_dlq(output_t *o, job_t *j, swarm_err_t *err) {
        return produce_dlq_limit(o, j, 0, err);
}

static int response_refused(output_t *o, job_t *j, rd_kafka_resp_err_t e, size_t len,
                            size_t limit, const char *limit_name, swarm_err_t *err);

static int produce_response(output_t *o, batch_t *b, job_t *j, int64_t row0,
                            swarm_err_t *err) {
        rd_kafka_resp_err_t e;
        swarm_response_t resp;
        swarm_err_t eerr;
        size_t len;
        uint8_t *bytes;
        int copy;
        const char *topic = o->c.results;
        size_t topic_len = strlen(o->c.results);
        int own = j->kind == JOB_ERROR || j->rows_failed;
        swarm_status_t st = own ? j->status : b->status;
        int64_t ts_ms;
        rd_kafka_timestamp_type_t tt;

        memset(&resp, 0, sizeof(resp));
        resp.request_id = j->req.request_id;
        resp.model = j->req.model;
        resp.version = j->model ? j->model->version : (j->req.has_version ? j->req.version : 0);
        resp.status = st;
        if (st != SWARM_STATUS_OK) {
                resp.has_error = 1;
                resp.error = swarm_str(own ? j->error : b->error);
        } else {
                /* the job's own reference: the batch's first job may already
                 * be delivered and released */
                const swarm_model_t *m = j->model->m;
                resp.n_outputs = swarm_model_n_outputs(m);
                for (int i = 0; i < resp.n_outputs; i++) {
                        const swarm_model_io_t *io = swarm_model_output(m, i);
                        swarm_tensor_t *t = &resp.outputs[i];
                        t->name = swarm_str(io->name);
                        /* the batch's resolved shape: symbolic dims
                         * (sequence length) have their values */
                        t->dtype = io->dtype;
                        t->ndim = io->ndim;
                        memcpy(t->shape, b->out_shape[i], sizeof(t->shape));
                        t->shape[0] = j->it.rows;
                        t->data = (const char *)b->out[i] + (size_t)row0 * b->out_row_bytes[i];
                        t->size = (size_t)j->it.rows * b->out_row_bytes[i];
                }
        }
        resp.queue_us = (b->start_us > j->it.recv_us ? b->start_us - j->it.recv_us : 0);
        resp.compute_us = j->kind == JOB_INFER ? b->compute_us : 0;
        resp.batch_rows = j->kind == JOB_INFER ? (int32_t)b->rows : 0;
        resp.worker = swarm_str(o->c.worker);
        resp.source_partition = j->msg->partition;
        resp.source_offset = j->msg->offset;

        swarm_err_clear(&eerr);
        o->enc.len = 0;
        if (swarm_codec_encode_response(o->codec, &resp, &o->enc, &eerr)) {
                /* Cannot encode (out of memory): dead-letter with the reason
                 * rather than drop the request. */
                snprintf(j->error, sizeof(j->error), "encoding the response failed: %s",
                         eerr.msg);
                swarm_buf_destroy(&o->enc);
                return produce_dlq(o, j, err);
        }
        copy = o->enc.cap <= ENC_KEEP_MAX;
        if (copy) {
                bytes = o->enc.data;
                len = o->enc.len;
        } else {
                bytes = swarm_buf_steal(&o->enc, &len);
        }
        if (j->req.has_reply_topic && j->req.reply_topic.len > 0) {
                topic = j->req.reply_topic.ptr;
                topic_len = j->req.reply_topic.len;
                j->to_reply_topic = 1;
        }
        /* what the delivery report counts */
        j->status = st;
        if (j->kind == JOB_INFER)
                swarm_metrics_observe(o->s_queue, (double)resp.queue_us / 1e6);
        ts_ms = rd_kafka_message_timestamp(j->msg, &tt);
        if (ts_ms > 0 && tt != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE)
                swarm_metrics_observe(o->s_e2e,
                                      (double)(swarm_clock_wall_ms() - ts_ms) / 1e3);
        e = try_produce(o, topic, topic_len, (void *)j->req.request_id.ptr,
                        j->req.request_id.len, bytes, len, copy, NULL, j);
        if (!e)
                return SWARM_OK;
        if (!copy)
                free(bytes);
        return response_refused(o, j, e, len, o->max_msg, "the worker's message.max.bytes",
                                err);
}

/* The response of j was refused with `e` (at produce or in its delivery
 * report): one record's problem, so never the worker's end.  A result too
 * large becomes an error response naming the limit; anything else about the
 * record or a reply_topic dead-letters the request with the reason; a
 * failure of the result topic itself stays fatal (err set). */
static int response_refused(output_t *o, job_t *j, rd_kafka_resp_err_t e, size_t len,
                            size_t limit, const char *limit_name, swarm_err_t *err) {
        if (e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE && j->status == SWARM_STATUS_OK) {
                batch_t nb;
                memset(&nb, 0, sizeof(nb));
                nb.start_us = j->it.recv_us;
                if (limit)
                        snprintf(j->error, sizeof(j->error),
                                 "response of %zu bytes is larger than %s (%zu bytes): "
                                 "send fewer rows per request", len, limit_name, limit);
                else
                        snprintf(j->error, sizeof(j->error),
                                 "response of %zu bytes is larger than %s: send fewer "
                                 "rows per request", len, limit_name);
                SWARM_WARN(o->log, "%s partition=%d offset=%" PRId64, j->error,
                           (int)j->msg->partition, j->msg->offset);
                j->kind = JOB_ERROR;
                j->status = SWARM_STATUS_INVALID_REQUEST;
                return produce_response(o, &nb, j, 0, err);
        }
        if (j->to_reply_topic || record_error(e)) {
                if (j->to_reply_topic)
                        snprintf(j->error, sizeof(j->error),
                                 "response could not be delivered to reply_topic "
                                 "\"%.*s\": %s",
                                 (int)(j->req.reply_topic.len > 200 ? 200
                                                                    : j->req.reply_topic.len),
                                 j->req.reply_topic.ptr, rd_kafka_err2str(e));
                else
                        snprintf(j->error, sizeof(j->error),
                                 "response could not be produced: %s", rd_kafka_err2str(e));
                SWARM_WARN(o->log, "%s; dead-lettering partition=%d offset=%" PRId64,
                           j->error, (int)j->msg->partition, j->msg->offset);
                return produce_dlq(o, j, err);
        }
        return swarm_err_set(err, SWARM_ERR_KAFKA, "produce to %s failed: %s",
                             o->c.results, rd_kafka_err2str(e));
}

/* ------------------------------------------------------ exactly once */

/* Everything of the open transaction is gone: drop the jobs still in the
 * pipeline and replay from the last committed offsets (offsets.h). */
static void gate_down(output_t *o) {
        if (o->gate) {
                o->gate = 0;
                pthread_cond_broadcast(&o->gate_cond);
        }
}

static void eos_rewind_begin(output_t *o) {
        apply_done(o);
        offtrack_rewind_begin(o->track);
        o->nstore = 0;
        o->need_abort = 0;
        txn_window_close(&o->win);
        gate_down(o);
}

/* A fatal error (fenced, or the producer's state is lost): a new producer
 * with the same transactional.id, which fences nothing but our own past
 * and aborts what is open.  Never ends the worker unless the new producer
 * cannot be set up at all. */
static void eos_recreate(output_t *o, const char *why) {
        int64_t until = swarm_clock_ms() + RECREATE_DRAIN_MS;
        rd_kafka_conf_t *kc = rd_kafka_conf_dup(o->kc_dup);
        swarm_err_t err;

        SWARM_WARN(o->log, "exactly-once: re-creating the producer transactional.id=%s "
                   "reason=\"%s\"", o->txn.id, why);
        o->recreates++;
        eos_rewind_begin(o);
        /* the jobs it still holds come back as purged delivery reports */
        o->discarding = 1;
        rd_kafka_purge(o->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        while (rd_kafka_outq_len(o->producer) > 0 && swarm_clock_ms() < until)
                rd_kafka_poll(o->producer, FINISH_POLL_MS);
        if (o->rkt_results)
                rd_kafka_topic_destroy(o->rkt_results);
        o->rkt_results = NULL;
        rd_kafka_destroy(o->producer);
        o->producer = NULL;
        o->discarding = 0;
        swarm_err_clear(&err);
        if (!kc) {
                swarm_err_set(&err, SWARM_ERR_NOMEM, "out of memory");
        } else if (!swarm_kafka_new(RD_KAFKA_PRODUCER, kc, &o->producer, &err)) {
                for (;;) {
                        txn_action_t a = txn_check(
                                rd_kafka_init_transactions(o->producer, TXN_CALL_TIMEOUT_MS),
                                "init_transactions", &err);
                        if (a == TXN_OK)
                                return;
                        if (a != TXN_RETRY || swarm_clock_ms() > until + TXN_CALL_TIMEOUT_MS)
                                break;
                }
        }
        /* no producer to answer with: the worker's end (the fleet
         * replaces it); nothing uncommitted is lost */
        swarm_err_prefix(&err, "exactly-once: re-creating the producer: ");
        job_fatal_set(o->fatal, &err);
        /* the output thread still polls until the worker stops: a handle
         * with no broker and no transaction keeps those calls valid */
        if (!o->producer)
                o->producer = rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), NULL, 0);
}

static void eos_abort(output_t *o, const char *why) {
        swarm_err_t err;
        txn_action_t a;

        if (rd_kafka_fatal_error(o->producer, NULL, 0)) {
                /* fenced: nothing can be aborted with this producer */
                eos_recreate(o, why);
                return;
        }
        SWARM_WARN(o->log, "exactly-once: aborting the transaction and rewinding "
                   "reason=\"%s\"", why);
        o->aborts++;
        eos_rewind_begin(o);
        swarm_err_clear(&err);
        a = txn_check(rd_kafka_abort_transaction(o->producer, TXN_CALL_TIMEOUT_MS),
                      "abort_transaction", &err);
        if (a == TXN_RETRY)
                a = txn_check(rd_kafka_abort_transaction(o->producer, TXN_CALL_TIMEOUT_MS),
                              "abort_transaction", &err);
        /* purged and late delivery reports: stale jobs, dropped */
        rd_kafka_poll(o->producer, 0);
        if (a != TXN_OK)
                eos_recreate(o, err.msg);
}

/* A record of j was refused for itself (too large, invalid, its
 * reply_topic): in a transaction that aborts everything, so remember the
 * request; its replay is dead-lettered with the reason (a dead letter that
 * was refused: stored in half the bytes). */
static void poison_add(output_t *o, const job_t *j, rd_kafka_resp_err_t e, size_t len) {
        struct poison *p = &o->poison[o->npoison];

        o->npoison = (o->npoison + 1) % POISON_MAX;
        p->partition = j->msg->partition;
        p->offset = j->msg->offset;
        p->limit = j->kind == JOB_DLQ ? (len > 1 ? len / 2 : 1) : 0;
        if (j->kind == JOB_DLQ)
                snprintf(p->reason, sizeof(p->reason), "%.250s (dead-letter record of %zu "
                         "bytes refused: %s)", j->error, len, rd_kafka_err2str(e));
        else if (j->to_reply_topic)
                snprintf(p->reason, sizeof(p->reason),
                         "response could not be delivered to reply_topic \"%.*s\": %s",
                         (int)(j->req.reply_topic.len > 200 ? 200 : j->req.reply_topic.len),
                         j->req.reply_topic.ptr, rd_kafka_err2str(e));
        else
                snprintf(p->reason, sizeof(p->reason),
                         "response of %zu bytes refused by the result topic: %s", len,
                         rd_kafka_err2str(e));
}

/* The replay of a remembered request: j becomes its dead letter. */
static int poison_take(output_t *o, job_t *j, size_t *limit) {
        for (int i = 0; i < POISON_MAX; i++) {
                struct poison *p = &o->poison[i];
                if (p->offset != j->msg->offset || p->partition != j->msg->partition)
                        continue;
                snprintf(j->error, sizeof(j->error), "%s", p->reason);
                *limit = p->limit;
                p->offset = -1;
                SWARM_WARN(o->log, "dead-lettering a replayed request partition=%d offset=%"
                           PRId64 " reason=\"%s\"", (int)j->msg->partition, j->msg->offset,
                           j->error);
                return 1;
        }
        return 0;
}

/* Before producing: a transaction is open. */
static void eos_begin(output_t *o) {
        swarm_err_t err;

        if (job_fatal_is_set(o->fatal))
                return;         /* stopping: nothing more is answered */
        for (int tries = 0; !o->win.open && tries < 3; tries++) {
                txn_action_t a;
                swarm_err_clear(&err);
                a = txn_check(rd_kafka_begin_transaction(o->producer), "begin_transaction",
                              &err);
                if (a == TXN_OK) {
                        txn_window_open(&o->win, swarm_clock_ms());
                        return;
                }
                if (a == TXN_RECREATE)
                        eos_recreate(o, err.msg);
                else
                        eos_abort(o, err.msg);
                if (job_fatal_is_set(o->fatal))
                        return;
        }
}

/* Commit the open transaction when its window is due (or `force`) and
 * the tracker is settled; `force` with a hole aborts instead (the drain on
 * revoke or stop ran out of time).  Under txn_lock. */
static void eos_commit(output_t *o, int force) {
        rd_kafka_topic_partition_list_t *l;
        swarm_err_t err;
        txn_action_t a;

        if (!o->win.open || job_fatal_is_set(o->fatal) ||
            (!force && !txn_window_due(&o->win, &o->txn, swarm_clock_ms())))
                return;
        /* every record of the transaction acknowledged: the offsets it
         * advanced are known */
        rd_kafka_flush(o->producer, TXN_CALL_TIMEOUT_MS);
        apply_done(o);
        if (o->need_abort) {
                eos_abort(o, "a record of the transaction was not delivered");
                return;
        }
        if (!offtrack_settled(o->track)) {
                if (force)
                        eos_abort(o, "messages still in flight at revoke or stop");
                else
                        o->gate = 1;    /* the missing ones are on their way */
                return;
        }
        gate_down(o);
        l = rd_kafka_topic_partition_list_new(o->nstore > 0 ? o->nstore : 1);
        for (int i = 0; i < o->nstore; i++)
                rd_kafka_topic_partition_list_add(l, o->c.topic, o->store_part[i])->offset =
                        o->store_off[i];
        swarm_err_clear(&err);
        a = txn_commit(o->producer, o->consumer, l, &err);
        if (a == TXN_OK) {
                for (int i = 0; i < o->nstore; i++)
                        offtrack_set_base(o->track, o->store_part[i], o->store_off[i]);
                SWARM_DEBUG(o->log, "transaction committed records=%" PRId64
                            " partitions=%d", o->win.records, o->nstore);
                o->nstore = 0;
                o->commits++;
                txn_window_close(&o->win);
        } else if (a == TXN_RECREATE) {
                eos_recreate(o, err.msg);
        } else {
                eos_abort(o, err.msg);
        }
        rd_kafka_topic_partition_list_destroy(l);
}

void output_rewind(output_t *o) {
        rd_kafka_topic_partition_list_t *l;
        rd_kafka_error_t *e;

        if (!o->eos || !(l = offtrack_rewind_targets(o->track, o->c.topic)))
                return;
        if (l->cnt > 0 && (e = rd_kafka_seek_partitions(o->consumer, l, REWIND_SEEK_MS))) {
                SWARM_WARN(o->log, "exactly-once: rewind seek: %s", rd_kafka_error_string(e));
                rd_kafka_error_destroy(e);
        }
        for (int i = 0; i < l->cnt; i++)
                if (l->elems[i].err)
                        SWARM_DEBUG(o->log, "rewind seek partition=%d: %s (revoked?)",
                                    (int)l->elems[i].partition,
                                    rd_kafka_err2str(l->elems[i].err));
        /* the seek forgot their positions: the next rebalance event's
         * wake-up must seek them here, not where an earlier one did */
        if (o->c.sought)
                o->c.sought(o->c.sought_ctx, l);
        SWARM_INFO(o->log, "exactly-once: rewound partitions=%d to the last committed "
                   "offsets", l->cnt);
        rd_kafka_topic_partition_list_destroy(l);
        offtrack_rewind_end(o->track);
}

void output_before_poll(output_t *o) {
        struct timespec dl;

        if (!o->eos)
                return;
        output_rewind(o);
        pthread_mutex_lock(&o->txn_lock);
        if (o->gate) {
                dl = swarm_clock_timespec(swarm_clock_us() + OUTPUT_GATE_MAX_MS * 1000);
                while (o->gate &&
                       pthread_cond_timedwait(&o->gate_cond, &o->txn_lock, &dl) == 0)
                        ;
        }
        pthread_mutex_unlock(&o->txn_lock);
}

void output_txn_settle(output_t *o) {
        if (!o->eos)
                return;
        eos_lock(o);
        eos_commit(o, 1);
        eos_unlock(o);
}

void output_emit(output_t *o, batch_t *b) {
        int64_t row = 0;
        job_t *j, *next;

        eos_lock(o);
        if (o->eos)
                eos_begin(o);
        o->slot++;
        for (j = b->jobs; j; j = next) {
                swarm_err_t err;
                int64_t row0 = row;
                size_t limit = 0;
                int r;

                next = job_next(j);
                j->it.next = NULL;
                j->out_slot = o->slot;
                /* before producing: a produced job may turn into a dead
                 * letter, or be delivered and freed */
                if (j->kind == JOB_INFER)
                        row += j->it.rows;
                if (o->eos && (offtrack_stale(o->track, j->ref) || !o->win.open)) {
                        /* consumed before a rewind: its replay answers it */
                        job_destroy(o->mm, j);
                        continue;
                }
                o->win.records++;
                swarm_err_clear(&err);
                if (o->eos && poison_take(o, j, &limit))
                        r = produce_dlq_limit(o, j, limit, &err);
                else if (j->kind == JOB_DLQ)
                        r = produce_dlq(o, j, &err);
                else
                        r = produce_response(o, b, j, row0, &err);
                if (r && o->eos) {
                        /* exactly once: the transaction cannot commit (a
                         * fenced producer refuses everything); abort, or
                         * re-create, at its end and replay */
                        if (!o->need_abort)     /* once per transaction */
                                SWARM_WARN(o->log, "produce failed: %s; the transaction "
                                           "will abort partition=%d offset=%" PRId64,
                                           err.msg, (int)j->msg->partition, j->msg->offset);
                        o->need_abort = 1;
                        job_destroy(o->mm, j);
                } else if (r) {
                        /* logged once, by the worker's owner at exit */
                        swarm_err_prefix(&err, "partition=%d offset=%" PRId64 ": ",
                                         (int)j->msg->partition, j->msg->offset);
                        job_fatal_set(o->fatal, &err);
                        job_destroy(o->mm, j);
                }
        }
        eos_unlock(o);
        batch_destroy(b);
}

void output_dead_letter_event(output_t *o, const rd_kafka_message_t *ev) {
        rd_kafka_headers_t *h = rd_kafka_headers_new(6);
        char num[32], reason[JOB_ERROR_SIZE];
        const char *topic = ev->rkt ? rd_kafka_topic_name(ev->rkt) : "";
        rd_kafka_resp_err_t e;

        /* the event's payload, when there is one, is librdkafka's text */
        snprintf(reason, sizeof(reason), "consumer error: %s%s%.*s",
                 rd_kafka_err2str(ev->err), ev->payload && ev->len ? ": " : "",
                 ev->payload ? (int)(ev->len > 300 ? 300 : ev->len) : 0,
                 ev->payload ? (const char *)ev->payload : "");
        rd_kafka_header_add(h, "swarm.dlq.reason", -1, reason, -1);
        rd_kafka_header_add(h, "swarm.dlq.topic", -1, topic, -1);
        snprintf(num, sizeof(num), "%d", (int)ev->partition);
        rd_kafka_header_add(h, "swarm.dlq.partition", -1, num, -1);
        snprintf(num, sizeof(num), "%" PRId64, ev->offset);
        rd_kafka_header_add(h, "swarm.dlq.offset", -1, num, -1);
        rd_kafka_header_add(h, "swarm.dlq.worker", -1, o->c.worker, -1);
        rd_kafka_header_add(h, "swarm.dlq.event", -1, "consumer-error", -1);
        SWARM_WARN(o->log, "dead-lettering a consumer error topic=%s partition=%d "
                   "offset=%" PRId64 " reason=\"%s\"", topic, (int)ev->partition,
                   ev->offset, reason);
        /* no job: nothing of it is tracked for the offset store, and its
         * delivery report (opaque NULL) is not waited for.  This runs on
         * the consumer thread, which must not serve delivery reports (they
         * belong to the output thread), so a full queue is waited out, not
         * polled */
        eos_lock(o);
        if (o->eos)
                eos_begin(o);
        for (int tries = 0;; tries++) {
                e = rd_kafka_producev(o->producer, RD_KAFKA_V_TOPIC(o->c.dlq),
                                      RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(NULL),
                                      RD_KAFKA_V_END);
                if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || tries >= 500)
                        break;
                usleep(QUEUE_FULL_POLL_MS * 1000);
        }
        eos_unlock(o);
        if (e) {
                rd_kafka_headers_destroy(h);
                SWARM_ERROR(o->log, "dead-lettering a consumer error failed: %s",
                            rd_kafka_err2str(e));
                return;
        }
        swarm_metrics_add(o->s_dlq, 1);
}

/* -------------------------------------------------- delivery reports */

/* The series of (model, version, status), from the cache or looked up
 * (and cached) once.  An unknown model's name is user input: one label
 * value for all of them keeps the series count bounded. */
static swarm_series_t *count_series(output_t *o, const job_t *j) {
        const char *name = j->model ? j->model->name : "unknown";
        int32_t version = j->model ? j->model->version : -1;
        struct count_slot *c;
        char ver[16];
        const char *lv[4];
        swarm_series_t *s;

        for (int i = 0; i < COUNT_CACHE; i++) {
                c = &o->counts[i];
                if (c->s && c->version == version && c->status == j->status &&
                    !strcmp(c->name, name))
                        return c->s;
        }
        snprintf(ver, sizeof(ver), "%d", (int)version);
        lv[0] = name;
        lv[1] = j->model ? ver : "";
        lv[2] = swarm_status_name(j->status);
        lv[3] = NULL;
        s = swarm_metrics_with(o->m_requests, lv);
        /* a name longer than a slot is looked up every time */
        if (s && strlen(name) < sizeof(c->name)) {
                c = &o->counts[o->ncounts_next];
                o->ncounts_next = (o->ncounts_next + 1) % COUNT_CACHE;
                snprintf(c->name, sizeof(c->name), "%s", name);
                c->version = version;
                c->status = j->status;
                c->s = s;
        }
        return s;
}

/* One answer acknowledged by the broker. */
static void count_delivered(output_t *o, const job_t *j) {
        if (j->kind == JOB_DLQ) {
                swarm_metrics_add(o->s_dlq, 1);
                return;
        }
        swarm_metrics_add(count_series(o, j), 1);
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
        output_t *o = opaque;
        job_t *j = m->_private;
        swarm_err_t err;

        (void)rk;
        if (!j)
                return;
        if (o->eos && (o->discarding || offtrack_stale(o->track, j->ref) ||
                       m->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE ||
                       m->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)) {
                /* of an aborted transaction or a dropped producer: the
                 * rewind replays the request */
                job_destroy(o->mm, j);
                return;
        }
        if (!m->err) {
                count_delivered(o, j);
                finish_job(o, j);
                return;
        }
        swarm_err_clear(&err);
        if (o->eos) {
                /* exactly once: one failed record aborts the whole
                 * transaction, so the per-record fallbacks below cannot
                 * run inside it.  A record refused for itself is
                 * remembered, and its replay dead-lettered, so it cannot
                 * abort every transaction it lands in; anything else (the
                 * topic down, fenced) is replayed as it was. */
                if (j->to_reply_topic || record_error(m->err))
                        poison_add(o, j, m->err, m->len);
                if (!o->need_abort)     /* once per transaction */
                        SWARM_WARN(o->log, "delivery to %s failed: %s; the transaction "
                                   "will abort partition=%d offset=%" PRId64,
                                   rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err),
                                   (int)j->msg->partition, j->msg->offset);
                o->need_abort = 1;
                job_destroy(o->mm, j);
                return;
        }
        if (j->kind == JOB_DLQ && record_error(m->err)) {
                /* the dead-letter topic's own limit is below ours: keep
                 * halving the stored part */
                snprintf(j->error + strnlen(j->error, sizeof(j->error) - 1),
                         sizeof(j->error) - strnlen(j->error, sizeof(j->error) - 1),
                         " (dead-letter record refused: %s)", rd_kafka_err2str(m->err));
                if (m->len > 1 && !produce_dlq_limit(o, j, m->len / 2, &err))
                        return;
        } else if (j->kind != JOB_DLQ && (j->to_reply_topic || record_error(m->err))) {
                /* The requested reply topic refused the record (missing, not
                 * authorized), or the result topic refused this one record
                 * (larger than its max.message.bytes): the request gets an
                 * error response or a dead letter with the reason. */
                if (!response_refused(o, j, m->err, m->len, 0,
                                      "the result topic's max.message.bytes", &err))
                        return;
        } else {
                /* The result or dead-letter topic itself failed after
                 * librdkafka's retries.  Not storing the offset keeps the
                 * request for the next worker; exiting lets the fleet replace
                 * this one. */
                swarm_err_set(&err, SWARM_ERR_KAFKA, "delivery to %s failed: %s",
                              rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
        }
        swarm_err_prefix(&err, "partition=%d offset=%" PRId64 ": ",
                         (int)j->msg->partition, j->msg->offset);
        job_fatal_set(o->fatal, &err);
        job_destroy(o->mm, j);
}

void output_serve(output_t *o) {
        eos_lock(o);
        rd_kafka_poll(o->producer, 0);
        flush_store(o);
        if (o->eos)
                eos_commit(o, 0);
        eos_unlock(o);
}

void output_finish(output_t *o) {
        eos_lock(o);
        while (rd_kafka_outq_len(o->producer) > 0) {
                rd_kafka_poll(o->producer, FINISH_POLL_MS);
                flush_store(o);
        }
        rd_kafka_poll(o->producer, 0);
        flush_store(o);
        if (o->eos)
                eos_commit(o, 1);
        eos_unlock(o);
}

int64_t output_answered(const output_t *o, const char *status) {
        return (int64_t)swarm_metrics_sum(o->m_requests, "status", status, 0);
}

int64_t output_dead_lettered(const output_t *o) {
        return (int64_t)swarm_metrics_value(o->s_dlq);
}
