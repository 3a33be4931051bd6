/*
 * fault.c - fault tests on a real broker (run under tests/lib/with-broker.sh;
 * topics requests, results, requests.dlq).  Workers are real swarm-consumer
 * processes.  Every test accounts for every request it sent:
 *
 *   fault poison CONSUMER TINY.onnx IDENTITY.onnx N
 *     N requests, 10% hostile: random bytes, absurd shapes, huge declared
 *     sizes, wrong dtypes (undecodable enum and a dtype the model does not
 *     take), and oversized records (999,990-byte garbage, a legitimate
 *     request whose response exceeds the worker's message.max.bytes).  The
 *     worker runs with -X message.max.bytes=400000.  Each hostile request
 *     must be a dead-letter record (matched by its Kafka key) or an error
 *     response (by request_id); every good one is answered OK with its
 *     values; the truncated dead letters carry the original size and
 *     sha256; the worker is never restarted and exits 0.
 *
 *   fault kill CONSUMER TINY.onnx N KILLS
 *     N requests produced over ~20 s to two workers; one of them is killed
 *     with SIGKILL every few seconds and restarted, KILLS times.  Every
 *     request must be answered at least once; duplicates are printed (at
 *     least once delivery: a killed worker's uncommitted work is redone).
 *
 *   fault eos CONSUMER TINY.onnx N KILLS
 *     The same with the workers in exactly-once mode (--exactly-once; a
 *     restarted worker keeps its name, so its transactional.id fences the
 *     killed one) and a read_committed reader, over 30 s, and first a
 *     zombie: one worker is stopped (SIGSTOP) past its session timeout, its
 *     partitions go to the other, then it runs again (SIGCONT) with its
 *     transaction open and its generation gone, so it must abort, not
 *     commit.  Then an impostor: a third worker under fault-worker-0's name
 *     (its transactional.id) runs for 4 s and is killed; the fenced
 *     fault-worker-0 must re-create its producer and go on, not exit.
 *     Every request answered exactly once among the committed results
 *     (duplicates must be 0); the aborts and producers re-created (from the
 *     workers' logs) are printed, and a re-creation must have happened.
 *
 *   fault outage CONSUMER IDENTITY.onnx N SECONDS
 *     The worker's result topic does not exist while N requests (3 KB each)
 *     arrive; it is created SECONDS later (librdkafka holds the responses
 *     for topic.metadata.propagation.max.ms, set to 300 s).  The worker's resident memory, sampled
 *     every 250 ms, must stay within its in-flight bound (--max-inflight-mb
 *     32, --max-inflight-messages 2000) plus a fixed allowance (librdkafka's
 *     prefetch, the process itself); then every request must be answered.
 *
 *   fault embed CONSUMER EMBED.onnx
 *     40 requests to an embedding model (Gather of a 10 x 4 table by int64
 *     ids [N,3]) that batch together; two carry an id out of range.  Those
 *     two are answered INVALID_REQUEST naming the index, the 38 others OK
 *     with the right rows of the table, from the same batch.
 *
 *   fault leader CONSUMER TINY.onnx N
 *     librdkafka's in-process mock cluster with three brokers (topics with
 *     replication factor 3; the mock does not enforce min.insync.replicas),
 *     not the real broker (which runs one node here): N requests to two
 *     workers while broker 1's partitions move to broker 2 and broker 1 goes
 *     down for 5 s, then comes back and every leader moves again.  Every
 *     request must be answered.  Needs no SWARM_BOOTSTRAP.
 *
 * Figures go to stdout as "fault <test>: key=value ..." lines.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "check.h"
#include "fault_util.h"
#include "proc.h"
#include "test_request.h"
#include "swarm/codec.h"
#include "swarm/registry.h"

#define REQ "requests"
#define RES "results"
#define DLQ "requests.dlq"
#define WORKER_MAX_MSG 400000
#define BIG_GARBAGE 999990
#define BIG_ROWS 150 /* x 784 x 4 = 470 KB: over WORKER_MAX_MSG */

static const char *bootstrap;
static const char *res_topic = RES;     /* where the reader looks for answers */
static int read_committed;              /* the reader skips aborted transactions */
static swarm_codec_t *codec;

static rd_kafka_t *handle(rd_kafka_type_t type, const char *const *kv) {
        return fault_kafka_new(type, bootstrap, NULL, kv);
}

static void produce(rd_kafka_t *p, const char *key, const void *val, size_t len) {
        fault_produce(p, REQ, key, val, len);
        rd_kafka_poll(p, 0);
}

/* An encoded request for `model` with rows x width float32 values
 * v[r][c] = seed + c (caller frees buf). */
static void encode(swarm_buf_t *buf, const char *id, const char *model, int64_t rows,
                   int64_t width, float seed, swarm_dtype_t dtype) {
        swarm_request_t req;
        swarm_err_t err;
        size_t es = dtype == SWARM_DTYPE_INT64 ? 8 : 4;
        uint8_t *d = calloc((size_t)(rows * width), es);

        for (int64_t i = 0; i < rows * width && dtype == SWARM_DTYPE_FLOAT32; i++)
                ((float *)d)[i] = seed + (float)(i % width);
        test_request_2d(&req, id, model, "input", dtype, d, rows, width);
        buf->len = 0;
        swarm_err_clear(&err);
        if (swarm_codec_encode_request(codec, &req, NULL, 0, buf, &err)) {
                fprintf(stderr, "encode: %s\n", err.msg);
                exit(1);
        }
        free(d);
}

/* ---- hand-written Avro for what our encoder refuses to write */

static uint8_t *put_long(uint8_t *p, int64_t v) {
        uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
        while (z >= 0x80) {
                *p++ = (uint8_t)(z | 0x80);
                z >>= 7;
        }
        *p++ = (uint8_t)z;
        return p;
}

static uint8_t *put_str(uint8_t *p, const char *s) {
        size_t n = strlen(s);
        p = put_long(p, (int64_t)n);
        memcpy(p, s, n);
        return p + n;
}

/* A request frame whose one tensor has `ndim` dims `dims`, dtype index
 * `dtype` and a data field declaring `declared` bytes followed by `have`
 * bytes.  Returns the length written into out (>= 256 + have). */
static size_t hostile(uint8_t *out, const char *id, const int64_t *dims, int ndim,
                      int64_t dtype, int64_t declared, size_t have) {
        uint8_t *p = out;
        *p++ = 0;
        *p++ = 0, *p++ = 0, *p++ = 0, *p++ = SWARM_SCHEMA_ID_REQUEST;
        p = put_str(p, id);
        p = put_str(p, "tiny");
        p = put_long(p, 0);             /* version: null */
        p = put_long(p, 1);             /* inputs: one block of 1 */
        p = put_str(p, "input");
        p = put_long(p, dtype);
        p = put_long(p, ndim);
        for (int i = 0; i < ndim; i++)
                p = put_long(p, dims[i]);
        if (ndim)
                p = put_long(p, 0);
        p = put_long(p, declared);
        memset(p, 0x3f, have);
        p += have;
        if ((int64_t)have == declared) {
                p = put_long(p, 0);     /* end of inputs */
                p = put_long(p, 0);     /* reply_topic: null */
                p = put_long(p, 0);     /* deadline: null */
                p = put_long(p, 0);     /* metadata: empty */
        }
        return (size_t)(p - out);
}

/* ---- workers */

static pid_t spawn(const char *bin, const char *const *models, int i,
                   const char *const *extra) {
        pid_t pid = fork();
        if (pid == 0) {
                const char *argv[48];
                char name[64], logf[256];
                int n = 0;
                snprintf(name, sizeof(name), "fault-worker-%d", i);
                snprintf(logf, sizeof(logf), "fault-worker-%d.log", i);
                if (!freopen(logf, "a", stderr))
                        _exit(127);
                argv[n++] = bin;
                argv[n++] = "-b";
                argv[n++] = bootstrap;
                argv[n++] = "-g";
                argv[n++] = "fault";
                argv[n++] = "--worker-name";
                argv[n++] = name;
                argv[n++] = "--metrics-port";
                argv[n++] = "-1";
                argv[n++] = "--blas-threads";
                argv[n++] = "1";
                argv[n++] = "-X";
                argv[n++] = "session.timeout.ms=6000";
                argv[n++] = "-X";
                argv[n++] = "heartbeat.interval.ms=500";
                for (; *models; models++) {
                        argv[n++] = "-M";
                        argv[n++] = *models;
                }
                for (; extra && *extra; extra++)
                        argv[n++] = *extra;
                argv[n] = NULL;
                execv(bin, (char *const *)argv);
                _exit(127);
        }
        return pid;
}

/* Workers 0 .. n-1 with the same models and no extra options. */
static void spawn_workers(const char *bin, const char *const *models, pid_t *w, int n) {
        for (int i = 0; i < n; i++)
                w[i] = spawn(bin, models, i, NULL);
}

/* SIGTERM every worker at once (they drain side by side), then wait for
 * each: rc[i] is its exit status. */
static void stop_workers(const pid_t *w, int n, int *rc) {
        for (int i = 0; i < n; i++)
                kill(w[i], SIGTERM);
        for (int i = 0; i < n; i++)
                rc[i] = proc_wait_exit(w[i], 60);
}

/* Produce good requests g-<*sent> onwards until `due` (at most n of them):
 * `cols` float32 values (index % 1000) + k for `model`. */
static void send_good(rd_kafka_t *p, swarm_buf_t *buf, const char *model, int cols,
                      int *sent, int64_t due, int n) {
        for (; *sent < n && *sent < due; (*sent)++) {
                char id[32];
                snprintf(id, sizeof(id), "g-%d", *sent);
                encode(buf, id, model, 1, cols, (float)(*sent % 1000), SWARM_DTYPE_FLOAT32);
                produce(p, id, buf->data, buf->len);
        }
}

/* ---- the reader: every partition of results and the DLQ from the start */

typedef struct tally {
        int n_good, n_bad;
        int *good;              /* OK responses with the right values, per id */
        int *good_bad;          /* good ids answered wrongly or dead-lettered */
        int *bad_resp, *bad_dlq;
        int dlq_truncated, dlq_trunc_ok, dlq_events, oversize_named;
        int64_t answered;       /* distinct ids with an answer */
        int64_t by_worker1;     /* answers from fault-worker-1 */
        int64_t records;
} tally_t;

static rd_kafka_t *reader_new(void) {
        static const char *const kv[] = {"group.id", "fault-reader",
                                         "enable.auto.commit", "false",
                                         "fetch.message.max.bytes", "2000000",
                                         "enable.partition.eof", "false", NULL};
        static const char *const kv_rc[] = {"group.id", "fault-reader",
                                            "enable.auto.commit", "false",
                                            "fetch.message.max.bytes", "2000000",
                                            "enable.partition.eof", "false",
                                            "isolation.level", "read_committed", NULL};
        rd_kafka_t *rk = handle(RD_KAFKA_CONSUMER, read_committed ? kv_rc : kv);
        const struct rd_kafka_metadata *md;
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(32);

        rd_kafka_poll_set_consumer(rk);
        /* a topic created a moment ago may not be in the metadata yet */
        for (int tries = 0;; tries++) {
                int found = 0;
                if (rd_kafka_metadata(rk, 1, NULL, &md, 10000)) {
                        fprintf(stderr, "metadata failed\n");
                        exit(1);
                }
                for (int t = 0; t < md->topic_cnt; t++)
                        found |= !strcmp(md->topics[t].topic, res_topic) &&
                                 md->topics[t].partition_cnt > 0 && !md->topics[t].err;
                if (found || tries >= 50)
                        break;
                rd_kafka_metadata_destroy(md);
                usleep(200000);
        }
        for (int t = 0; t < md->topic_cnt; t++)
                if (!strcmp(md->topics[t].topic, res_topic) ||
                    !strcmp(md->topics[t].topic, DLQ))
                        for (int i = 0; i < md->topics[t].partition_cnt; i++)
                                rd_kafka_topic_partition_list_add(l, md->topics[t].topic, i)
                                        ->offset = RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_metadata_destroy(md);
        rd_kafka_assign(rk, l);
        rd_kafka_topic_partition_list_destroy(l);
        return rk;
}

static int parse_id(const char *p, size_t n, char *kind) {
        char buf[32];
        if (n < 3 || n >= sizeof(buf) || p[1] != '-')
                return -1;
        memcpy(buf, p, n);
        buf[n] = '\0';
        *kind = buf[0];
        return atoi(buf + 2);
}

static const char *header(const rd_kafka_message_t *m, const char *name, char *buf,
                          size_t size) {
        rd_kafka_headers_t *h;
        const void *v;
        size_t n;
        if (rd_kafka_message_headers(m, &h) || rd_kafka_header_get_last(h, name, &v, &n) ||
            n >= size)
                return NULL;
        memcpy(buf, v, n);
        buf[n] = '\0';
        return buf;
}

static void take(tally_t *t, const rd_kafka_message_t *m) {
        char kind = 0;
        int i;

        t->records++;
        if (!strcmp(rd_kafka_topic_name(m->rkt), DLQ)) {
                char hb[128];
                if (!m->key) {
                        t->dlq_events++;
                        return;
                }
                i = parse_id(m->key, m->key_len, &kind);
                if (kind == 'b' && i >= 0 && i < t->n_bad) {
                        if (!t->bad_dlq[i]++ && !t->bad_resp[i])
                                t->answered++;
                        if (header(m, "swarm.dlq.original.size", hb, sizeof(hb))) {
                                char sha[128];
                                t->dlq_truncated++;
                                if (atoll(hb) == BIG_GARBAGE && m->len < WORKER_MAX_MSG &&
                                    header(m, "swarm.dlq.original.sha256", sha, sizeof(sha)) &&
                                    strlen(sha) == 64)
                                        t->dlq_trunc_ok++;
                        }
                } else if (kind == 'g' && i >= 0 && i < t->n_good) {
                        t->good_bad[i]++;
                }
                return;
        }
        {
                swarm_response_t r;
                swarm_err_t err;
                memset(&r, 0, sizeof(r));
                swarm_err_clear(&err);
                if (swarm_codec_decode_response(codec, m->payload, m->len, &r, &err)) {
                        swarm_response_destroy(&r);
                        return;
                }
                i = parse_id(r.request_id.ptr, r.request_id.len, &kind);
                if (r.worker.len == 14 && !memcmp(r.worker.ptr, "fault-worker-1", 14))
                        t->by_worker1++;
                if (kind == 'g' && i >= 0 && i < t->n_good) {
                        int ok = r.status == SWARM_STATUS_OK && r.n_outputs == 1 &&
                                 (r.outputs[0].size == 16 || r.outputs[0].size == 784 * 4);
                        for (int k = 0; ok && k < 4; k++) {
                                float f;
                                memcpy(&f, (const char *)r.outputs[0].data + 4 * k, 4);
                                ok = f == (float)(i % 1000) + (float)k;
                        }
                        if (ok) {
                                if (!t->good[i]++)
                                        t->answered++;
                        } else {
                                t->good_bad[i]++;
                        }
                } else if (kind == 'b' && i >= 0 && i < t->n_bad) {
                        if (r.status != SWARM_STATUS_OK) {
                                if (!t->bad_resp[i]++ && !t->bad_dlq[i])
                                        t->answered++;
                                if (r.has_error && r.error.len &&
                                    memmem(r.error.ptr, r.error.len, "message.max.bytes", 17))
                                        t->oversize_named++;
                        }
                }
                swarm_response_destroy(&r);
        }
}

/* Read one record (waiting up to timeout_ms) into the tally. */
static void read_one(rd_kafka_t *rk, tally_t *t, int timeout_ms) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, timeout_ms);
        if (m && !m->err)
                take(t, m);
        if (m)
                rd_kafka_message_destroy(m);
}

/* Read for `secs` more: stragglers that would be duplicates. */
static void read_for(rd_kafka_t *rk, tally_t *t, double secs) {
        double until = swarm_clock_s() + secs;
        while (swarm_clock_s() < until)
                read_one(rk, t, 100);
}

static void reader_destroy(rd_kafka_t *rk) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
}

/* Read until `want` distinct ids are answered or `timeout_s` passes. */
static void collect(rd_kafka_t *rk, tally_t *t, int64_t want, double timeout_s) {
        double until = swarm_clock_s() + timeout_s;
        while (t->answered < want && swarm_clock_s() < until)
                read_one(rk, t, 100);
}

static void tally_init(tally_t *t, int n_good, int n_bad) {
        memset(t, 0, sizeof(*t));
        t->n_good = n_good;
        t->n_bad = n_bad;
        t->good = calloc((size_t)n_good + 1, sizeof(int));
        t->good_bad = calloc((size_t)n_good + 1, sizeof(int));
        t->bad_resp = calloc((size_t)n_bad + 1, sizeof(int));
        t->bad_dlq = calloc((size_t)n_bad + 1, sizeof(int));
}

static void tally_free(tally_t *t) {
        free(t->good);
        free(t->good_bad);
        free(t->bad_resp);
        free(t->bad_dlq);
}

/* Good ids among the first n without a right answer. */
static int tally_missing(const tally_t *t, int n) {
        int missing = 0;
        for (int i = 0; i < n; i++)
                missing += !t->good[i];
        return missing;
}

/* Good ids among the first n answered wrongly or dead-lettered. */
static int tally_wrong(const tally_t *t, int n) {
        int wrong = 0;
        for (int i = 0; i < n; i++)
                wrong += t->good_bad[i] > 0;
        return wrong;
}

static int64_t duplicates(const tally_t *t) {
        int64_t d = 0;
        for (int i = 0; i < t->n_good; i++)
                if (t->good[i] > 1)
                        d += t->good[i] - 1;
        return d;
}

/* ---- poison at scale */

static int test_poison(const char *bin, const char *tiny, const char *ident, int n) {
        static const char *const pkv[] = {"linger.ms", "20", "message.max.bytes", "1048000",
                                          "queue.buffering.max.kbytes", "262144", NULL};
        char m1[1024], m2[1024];
        const char *models[] = {m1, m2, NULL};
        const char *extra[] = {"-X", "message.max.bytes=400000", NULL};
        int n_bad = n / 10, n_good = n - n_bad, sent_bad = 0, kinds[6] = {0};
        int n_oversize = n_bad / 50 > 100 ? 100 : n_bad / 50;
        rd_kafka_t *p = handle(RD_KAFKA_PRODUCER, pkv), *rk;
        uint8_t *raw = malloc(BIG_GARBAGE + 4096);
        swarm_buf_t buf = {0};
        unsigned seed = 12345;
        tally_t t;
        pid_t w;
        double t0, el;
        int rc, gi = 0;

        snprintf(m1, sizeof(m1), "tiny=%s", tiny);
        snprintf(m2, sizeof(m2), "ident=%s", ident);
        w = spawn(bin, models, 0, extra);
        tally_init(&t, n_good, n_bad);
        t0 = swarm_clock_s();
        /* interleave: one hostile request after every nine good ones */
        for (int k = 0; k < n; k++) {
                char id[32];
                if (k % 10 != 9 || sent_bad >= n_bad) {
                        if (gi >= n_good)
                                continue;
                        snprintf(id, sizeof(id), "g-%d", gi);
                        encode(&buf, id, "tiny", 1, 4, (float)(gi % 1000), SWARM_DTYPE_FLOAT32);
                        produce(p, id, buf.data, buf.len);
                        gi++;
                        continue;
                }
                snprintf(id, sizeof(id), "b-%d", sent_bad);
                {
                        int kind = sent_bad < 2 * n_oversize ? 5 : sent_bad % 5;
                        size_t len;
                        kinds[kind]++;
                        switch (kind) {
                        case 0: /* random bytes */
                                len = 1 + rand_r(&seed) % 300;
                                for (size_t b = 0; b < len; b++)
                                        raw[b] = (uint8_t)rand_r(&seed);
                                if (len > 1 && raw[0] == 0)
                                        raw[0] = 1;
                                break;
                        case 1: { /* absurd shapes */
                                static const int64_t shapes[4][2] = {
                                        {INT64_MAX, 4}, {-1, 4}, {4611686018427387904LL, 4},
                                        {1, 0}};
                                len = hostile(raw, id, shapes[sent_bad % 4], 2, 0, 16, 16);
                                break;
                        }
                        case 2: { /* huge declared sizes: data and array counts */
                                static const int64_t d[2] = {1, 4};
                                len = hostile(raw, id, d, 2, 0,
                                              sent_bad % 2 ? (int64_t)1 << 40 : INT64_MAX / 2,
                                              16);
                                break;
                        }
                        case 3: { /* wrong dtypes: an enum index out of range, or
                                   * INT64 for a FLOAT32 input */
                                static const int64_t d[2] = {1, 4};
                                if (sent_bad % 2) {
                                        len = hostile(raw, id, d, 2, 99, 16, 16);
                                } else {
                                        encode(&buf, id, "tiny", 1, 4, 0, SWARM_DTYPE_INT64);
                                        memcpy(raw, buf.data, buf.len);
                                        len = buf.len;
                                }
                                break;
                        }
                        case 4: { /* a shape/data mismatch */
                                static const int64_t d[2] = {3, 4};
                                len = hostile(raw, id, d, 2, 0, 16, 16);
                                break;
                        }
                        default: /* oversized: garbage, or a legitimate
                                  * request whose response is too big */
                                if (sent_bad % 2) {
                                        len = BIG_GARBAGE;
                                        memset(raw, 0x5a, len);
                                        raw[0] = 0;
                                } else {
                                        encode(&buf, id, "ident", BIG_ROWS, 784, 1,
                                               SWARM_DTYPE_FLOAT32);
                                        memcpy(raw, buf.data, buf.len);
                                        len = buf.len;
                                }
                                break;
                        }
                        produce(p, id, raw, len);
                        sent_bad++;
                }
        }
        rd_kafka_flush(p, 60000);
        rk = reader_new();
        collect(rk, &t, (int64_t)n_good + sent_bad, 240);
        el = swarm_clock_s() - t0;
        /* a moment for stragglers that would be duplicates */
        read_for(rk, &t, 2);
        CHECK(waitpid(w, NULL, WNOHANG) == 0, "the worker died during the run");
        rc = proc_stop(w, 60);
        {
                int good_missing = tally_missing(&t, n_good);
                int good_wrong = tally_wrong(&t, n_good), bad_missing = 0, bad_both = 0;
                for (int i = 0; i < sent_bad; i++) {
                        bad_missing += !t.bad_resp[i] && !t.bad_dlq[i];
                        bad_both += t.bad_resp[i] && t.bad_dlq[i];
                }
                printf("fault poison: requests=%d good=%d hostile=%d (random=%d shapes=%d "
                       "sizes=%d dtypes=%d mismatch=%d oversized=%d) answered=%lld "
                       "good_missing=%d good_wrong=%d hostile_missing=%d "
                       "hostile_twice=%d dlq_truncated=%d oversize_named=%d "
                       "duplicates=%lld worker_exit=%d restarts=0 seconds=%.1f\n",
                       n_good + sent_bad, n_good, sent_bad, kinds[0], kinds[1], kinds[2],
                       kinds[3], kinds[4], kinds[5], (long long)t.answered, good_missing,
                       good_wrong, bad_missing, bad_both, t.dlq_truncated,
                       t.oversize_named, (long long)duplicates(&t), rc, el);
                CHECK(good_missing == 0 && good_wrong == 0);
                CHECK(bad_missing == 0);
                CHECK(rc == 0, "worker exit %d", rc);
                CHECK(t.dlq_trunc_ok == n_oversize, "%d of %d truncated dead letters "
                      "with size and sha256", t.dlq_trunc_ok, n_oversize);
                CHECK(t.oversize_named >= n_oversize, "%d oversized responses named "
                      "the limit", t.oversize_named);
        }
        reader_destroy(rk);
        rd_kafka_destroy(p);
        swarm_buf_destroy(&buf);
        free(raw);
        tally_free(&t);
        return 0;
}

/* ---- what a run that lost requests looks like */

/* The worker log's last `keep` warnings, each cut to 220 characters. */
static void log_warnings(const char *path, int keep) {
        char line[1024], last[8][224];
        int n = 0;
        FILE *f = fopen(path, "r");

        if (!f)
                return;
        keep = keep > 8 ? 8 : keep;
        while (fgets(line, sizeof(line), f))
                if (strstr(line, " WARN ") || strstr(line, " ERROR "))
                        snprintf(last[n++ % keep], sizeof(last[0]), "%.220s", line);
        fclose(f);
        printf("fault diag: %s warnings=%d, the last:\n", path, n);
        for (int i = n > keep ? n - keep : 0; i < n; i++) {
                char *l = last[i % keep];
                l[strcspn(l, "\n")] = 0;
                printf("  %s\n", l);
        }
}

/* Says where the missing requests went, in a few lines a CI log keeps:
 * each one's partition and offset in the request topic, the group's
 * committed offset and the end of each request partition, how far the
 * read_committed reader got in each result partition against its end (a
 * transaction left open holds it back), and the workers' last
 * warnings. */
static void explain_missing(rd_kafka_t *reader, const tally_t *t, int n) {
        static const char *const kv[] = {"group.id", "fault", "enable.auto.commit",
                                         "false", "enable.partition.eof", "true",
                                         "isolation.level", "read_committed", NULL};
        rd_kafka_t *rk = handle(RD_KAFKA_CONSUMER, kv);
        const rd_kafka_metadata_t *md = NULL;
        rd_kafka_topic_partition_list_t *l, *pos = NULL;
        int want[8], nwant = 0, np = 0, eofs = 0;
        double until;

        for (int i = 0; i < n && nwant < 8; i++)
                if (!t->good[i])
                        want[nwant++] = i;
        if (rd_kafka_metadata(rk, 1, NULL, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR)
                for (int i = 0; i < md->topic_cnt; i++)
                        if (!strcmp(md->topics[i].topic, REQ))
                                np = md->topics[i].partition_cnt;
        if (md)
                rd_kafka_metadata_destroy(md);
        l = rd_kafka_topic_partition_list_new(np > 0 ? np : 1);
        for (int p = 0; p < np; p++)
                rd_kafka_topic_partition_list_add(l, REQ, p);
        if (np > 0 && !rd_kafka_committed(rk, l, 10000)) {
                for (int p = 0; p < np; p++) {
                        int64_t lo = 0, hi = -1;
                        rd_kafka_query_watermark_offsets(rk, REQ, p, &lo, &hi, 5000);
                        printf("fault diag: %s[%d] committed=%" PRId64 " end=%" PRId64 "\n",
                               REQ, p, l->elems[p].offset, hi);
                }
        }
        for (int p = 0; p < np; p++)
                l->elems[p].offset = RD_KAFKA_OFFSET_BEGINNING;
        if (np > 0 && !rd_kafka_assign(rk, l)) {
                until = swarm_clock_s() + 20;
                while (eofs < np && swarm_clock_s() < until) {
                        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
                        char kind = 0;
                        int id;
                        if (!m)
                                continue;
                        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                                eofs++;
                        } else if (!m->err && m->key &&
                                   (id = parse_id((const char *)m->key, m->key_len, &kind)) >= 0 &&
                                   kind == 'g') {
                                for (int k = 0; k < nwant; k++)
                                        if (want[k] == id)
                                                printf("fault diag: missing g-%d at %s[%d] "
                                                       "offset %" PRId64 "\n", id, REQ,
                                                       (int)m->partition, m->offset);
                        }
                        rd_kafka_message_destroy(m);
                }
        }
        rd_kafka_topic_partition_list_destroy(l);
        if (!rd_kafka_assignment(reader, &pos) && pos && !rd_kafka_position(reader, pos)) {
                for (int i = 0; i < pos->cnt; i++) {
                        int64_t lo = 0, hi = -1;
                        if (strcmp(pos->elems[i].topic, res_topic))
                                continue;
                        rd_kafka_query_watermark_offsets(reader, res_topic,
                                                         pos->elems[i].partition, &lo, &hi,
                                                         5000);
                        printf("fault diag: reader at %s[%d] %" PRId64 " of end %" PRId64
                               "\n", res_topic, (int)pos->elems[i].partition,
                               pos->elems[i].offset, hi);
                }
        }
        if (pos)
                rd_kafka_topic_partition_list_destroy(pos);
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        log_warnings("fault-worker-0.log", 6);
        log_warnings("fault-worker-1.log", 6);
}

/* ---- SIGKILL during a run */

static int test_kill(const char *bin, const char *tiny, int n, int kills, int eos) {
        static const char *const eos_args[] = {"--exactly-once", NULL};
        const char *const *extra = eos ? eos_args : NULL;
        static const char *const pkv[] = {"linger.ms", "10", NULL};
        char m1[1024];
        const char *models[] = {m1, NULL};
        rd_kafka_t *p = handle(RD_KAFKA_PRODUCER, pkv), *rk;
        swarm_buf_t buf = {0};
        pid_t w[2];
        tally_t t;
        double t0, next_kill, produce_s = 20.0, recover_max = 0, recover_sum = 0;
        int done_kills = 0, sent = 0, spawned = 2, rc[2];
        int64_t backlog_at_kill = -1;
        double kill_at = 0, cont_at = 0, imp_at = 0;
        int paused = !eos;      /* exactly once: one zombie first */
        int imp_state = eos ? 0 : 2;    /* then an impostor: 1 running, 2 done */
        pid_t imp = -1;

        snprintf(m1, sizeof(m1), "tiny=%s", tiny);
        read_committed = eos;
        if (eos) {
                produce_s = 30.0;
                /* the logs are counted afterwards: this run's only */
                unlink("fault-worker-0.log");
                unlink("fault-worker-1.log");
        }
        w[0] = spawn(bin, models, 0, extra);
        w[1] = spawn(bin, models, 1, extra);
        tally_init(&t, n, 0);
        rk = reader_new();
        t0 = swarm_clock_s();
        next_kill = t0 + 4;
        while (sent < n || done_kills < kills || t.answered < n) {
                double now = swarm_clock_s();
                /* produce at a steady pace over produce_s */
                int64_t due = (int64_t)((now - t0) / produce_s * n);
                send_good(p, &buf, "tiny", 4, &sent, due, n);
                rd_kafka_poll(p, 0);
                /* once it is answering: its partitions, an open transaction */
                if (!paused && now >= t0 + 3 && t.by_worker1 > 0) {
                        /* 8 s > session.timeout.ms 6000: the group moves on */
                        kill(w[1], SIGSTOP);
                        kill_at = now;
                        backlog_at_kill = sent;
                        cont_at = now + 8;
                        next_kill = cont_at + 3;
                        paused = 1;
                }
                if (cont_at > 0 && now >= cont_at) {
                        kill(w[1], SIGCONT);
                        cont_at = 0;
                }
                if (imp_state == 0 && paused && cont_at == 0 && backlog_at_kill < 0 &&
                    now >= next_kill) {
                        imp = spawn(bin, models, 0, extra);     /* fault-worker-0's name */
                        imp_state = 1;
                        imp_at = now;
                        kill_at = now;
                        backlog_at_kill = sent;
                }
                if (imp_state == 1 && now >= imp_at + 4) {
                        proc_kill(imp);
                        imp_state = 2;
                        next_kill = now + 3;
                }
                if (done_kills < kills && now >= next_kill && backlog_at_kill < 0 &&
                    cont_at == 0 && imp_state == 2) {
                        int v = done_kills % 2;
                        proc_kill(w[v]);
                        kill_at = now;
                        backlog_at_kill = sent;
                        done_kills++;
                        /* restarted a second later, as a supervisor would;
                         * exactly once: under its name (its transactional.id) */
                        usleep(1000000);
                        w[v] = spawn(bin, models, eos ? v : spawned++, extra);
                        next_kill = swarm_clock_s() + 5;
                }
                read_one(rk, &t, 20);
                /* recovered: everything sent before the kill is answered */
                if (backlog_at_kill >= 0) {
                        int64_t have = 0;
                        /* cheap: answered ids among the first backlog_at_kill */
                        if (t.answered >= backlog_at_kill) {
                                for (int64_t i = 0; i < backlog_at_kill; i++)
                                        have += t.good[i] > 0;
                        }
                        if (have == backlog_at_kill) {
                                double r = swarm_clock_s() - kill_at;
                                recover_sum += r;
                                if (r > recover_max)
                                        recover_max = r;
                                backlog_at_kill = -1;
                        }
                }
                if (now - t0 > 300)
                        break;
        }
        read_for(rk, &t, 3);
        stop_workers(w, 2, rc);
        {
                int missing = tally_missing(&t, n), wrong = tally_wrong(&t, n);
                int aborts = 0, recreates = 0;
                for (int k = 0; eos && k < 2; k++) {
                        char path[64], line[1024];
                        FILE *f;
                        snprintf(path, sizeof(path), "fault-worker-%d.log", k);
                        if (!(f = fopen(path, "r")))
                                continue;
                        while (fgets(line, sizeof(line), f)) {
                                aborts += strstr(line, "exactly-once: aborting") != NULL;
                                recreates += strstr(line, "exactly-once: re-creating") != NULL;
                        }
                        fclose(f);
                }
                if (eos) {
                        printf("fault eos: zombie=1 (SIGSTOP 8 s) impostor=1 (4 s) "
                               "aborted_transactions=%d producers_recreated=%d\n", aborts,
                               recreates);
                        CHECK(recreates >= 1, "the fenced worker did not re-create its "
                              "producer");
                }
                printf("fault %s: requests=%d kills=%d answered=%lld missing=%d wrong=%d "
                       "duplicates=%lld recover_max_s=%.1f recover_mean_s=%.1f "
                       "seconds=%.1f\n",
                       eos ? "eos" : "kill", n, done_kills, (long long)t.answered, missing,
                       wrong,
                       (long long)duplicates(&t), recover_max,
                       done_kills ? recover_sum / done_kills : 0.0, swarm_clock_s() - t0);
                if (missing > 0)
                        explain_missing(rk, &t, n);
                CHECK(missing == 0 && wrong == 0);
                CHECK(done_kills >= kills);
                if (eos)
                        CHECK(duplicates(&t) == 0, "%lld duplicates among committed results",
                              (long long)duplicates(&t));
                CHECK(rc[0] == 0 && rc[1] == 0, "workers exited %d %d", rc[0], rc[1]);
        }
        reader_destroy(rk);
        rd_kafka_destroy(p);
        swarm_buf_destroy(&buf);
        tally_free(&t);
        return 0;
}

/* ---- the result topic unavailable */

static long rss_kb(pid_t pid) {
        char path[64], line[256];
        long kb = -1;
        FILE *f;
        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        if (!(f = fopen(path, "r")))
                return -1;
        while (fgets(line, sizeof(line), f))
                if (!strncmp(line, "VmRSS:", 6))
                        kb = atol(line + 6);
        fclose(f);
        return kb;
}

static int topic_admin(rd_kafka_t *rk, int create) {
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_event_t *ev;
        int rc = 0;
        char es[256];

        if (create) {
                rd_kafka_NewTopic_t *t = rd_kafka_NewTopic_new(res_topic, 8, 1, es,
                                                               sizeof(es));
                rd_kafka_CreateTopics(rk, &t, 1, NULL, q);
                rd_kafka_NewTopic_destroy(t);
        } else {
                rd_kafka_DeleteTopic_t *t = rd_kafka_DeleteTopic_new(res_topic);
                rd_kafka_DeleteTopics(rk, &t, 1, NULL, q);
                rd_kafka_DeleteTopic_destroy(t);
        }
        ev = rd_kafka_queue_poll(q, 30000);
        if (!ev || rd_kafka_event_error(ev)) {
                fprintf(stderr, "%s topic: %s\n", create ? "create" : "delete",
                        ev ? rd_kafka_event_error_string(ev) : "timeout");
                rc = -1;
        } else {
                const rd_kafka_topic_result_t **r;
                size_t n;
                r = create ? rd_kafka_CreateTopics_result_topics(
                                     rd_kafka_event_CreateTopics_result(ev), &n)
                           : rd_kafka_DeleteTopics_result_topics(
                                     rd_kafka_event_DeleteTopics_result(ev), &n);
                for (size_t i = 0; i < n; i++)
                        if (rd_kafka_topic_result_error(r[i])) {
                                fprintf(stderr, "%s %s: %s\n", create ? "create" : "delete",
                                        rd_kafka_topic_result_name(r[i]),
                                        rd_kafka_topic_result_error_string(r[i]));
                                rc = -1;
                        }
        }
        if (ev)
                rd_kafka_event_destroy(ev);
        rd_kafka_queue_destroy(q);
        return rc;
}

static int test_outage(const char *bin, const char *ident, int n, int secs) {
        static const char *const pkv[] = {"linger.ms", "20", NULL};
        char m1[1024];
        const char *models[] = {m1, NULL};
        const char *extra[] = {"--results", "outage-results",
                               "--max-inflight-mb", "32", "--max-inflight-messages", "2000",
                               "-X", "topic.metadata.propagation.max.ms=300000",
                               "-X", "message.timeout.ms=300000",
                               "-X", "topic.metadata.refresh.interval.ms=1000", NULL};
        rd_kafka_t *p = handle(RD_KAFKA_PRODUCER, pkv), *rk;
        swarm_buf_t buf = {0};
        long base, peak = 0;
        double t0, t_back, t_all;
        tally_t t;
        pid_t w;
        int rc, sent = 0;

        /* FAULT_OUTAGE_UNBOUNDED=1: without the bound's options, to
         * measure a worker that has none (the figure before the fix) */
        if (getenv("FAULT_OUTAGE_UNBOUNDED"))
                memmove(&extra[2], &extra[6], 7 * sizeof(extra[0]));
        snprintf(m1, sizeof(m1), "ident=%s", ident);
        res_topic = "outage-results";
        w = spawn(bin, models, 0, extra);
        sleep(6); /* joined, assigned, models loaded */
        base = rss_kb(w);
        t0 = swarm_clock_s();
        while (swarm_clock_s() - t0 < secs) {
                long r;
                int64_t due = (int64_t)((swarm_clock_s() - t0) / (secs * 0.6) * n);
                send_good(p, &buf, "ident", 784, &sent, due, n);
                rd_kafka_poll(p, 0);
                if ((r = rss_kb(w)) > peak)
                        peak = r;
                usleep(250000);
        }
        rd_kafka_flush(p, 30000);
        CHECK(waitpid(w, NULL, WNOHANG) == 0, "the worker died during the outage");
        if (topic_admin(p, 1))
                return 1;
        t_back = swarm_clock_s();
        tally_init(&t, n, 0);
        /* reader_new reads every partition of the new topic from the start */
        rk = reader_new();
        {
                double until = swarm_clock_s() + 240;
                while (t.answered < n && swarm_clock_s() < until) {
                        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
                        long r = rss_kb(w);
                        if (r > peak)
                                peak = r;
                        if (m && !m->err)
                                take(&t, m);
                        if (m)
                                rd_kafka_message_destroy(m);
                }
        }
        t_all = swarm_clock_s() - t_back;
        rc = proc_stop(w, 60);
        {
                int missing = tally_missing(&t, n);
                long growth_mb = (peak - base) / 1024;
                printf("fault outage: requests=%d request_mb=%.0f outage_s=%d rss_base_mb=%ld "
                       "rss_peak_mb=%ld growth_mb=%ld bound_mb=32+2000msgs answered=%lld "
                       "missing=%d duplicates=%lld recover_s=%.1f worker_exit=%d\n",
                       n, (double)n * 3.2 / 1024, secs, base / 1024, peak / 1024, growth_mb,
                       (long long)t.answered, missing, (long long)duplicates(&t), t_all, rc);
                CHECK(missing == 0);
                /* 32 MB of messages + 16 MB of prefetch + what answering them
                 * holds (responses as big as the requests) */
                CHECK(growth_mb < 120, "worker grew %ld MB", growth_mb);
                CHECK(rc == 0, "worker exit %d", rc);
        }
        reader_destroy(rk);
        rd_kafka_destroy(p);
        swarm_buf_destroy(&buf);
        tally_free(&t);
        return 0;
}

/* ---- one bad embedding id in a batch */

static int test_embed(const char *bin, const char *embed) {
        static const char *const pkv[] = {"linger.ms", "50", NULL};
        char m1[1024];
        const char *models[] = {m1, NULL};
        const char *extra[] = {"--max-delay-us", "300000", "--max-batch-rows", "64", NULL};
        rd_kafka_t *p = handle(RD_KAFKA_PRODUCER, pkv), *rk;
        int ok = 0, invalid = 0, wrong = 0, batched = 0, got = 0, rc;
        int seen[40] = {0};
        double until;
        pid_t w;

        snprintf(m1, sizeof(m1), "emb=%s", embed);
        w = spawn(bin, models, 0, extra);
        sleep(6);
        for (int i = 0; i < 40; i++) {
                int64_t ids[3] = {i % 10, (i + 1) % 10, (i + 2) % 10};
                swarm_request_t req;
                swarm_buf_t buf = {0};
                swarm_err_t err;
                char id[32];
                if (i == 17)
                        ids[1] = 99;
                if (i == 29)
                        ids[2] = -50;
                snprintf(id, sizeof(id), "e-%d", i);
                test_request_2d(&req, id, "emb", "ids", SWARM_DTYPE_INT64, ids, 1, 3);
                swarm_err_clear(&err);
                if (swarm_codec_encode_request(codec, &req, NULL, 0, &buf, &err))
                        return 1;
                /* one partition: one consumer fetch, one batch */
                rd_kafka_producev(p, RD_KAFKA_V_TOPIC(REQ), RD_KAFKA_V_PARTITION(0),
                                  RD_KAFKA_V_VALUE(buf.data, buf.len),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
                swarm_buf_destroy(&buf);
        }
        rd_kafka_flush(p, 10000);
        rk = reader_new();
        until = swarm_clock_s() + 60;
        while (got < 40 && swarm_clock_s() < until) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
                swarm_response_t r;
                swarm_err_t err;
                int i;
                if (!m)
                        continue;
                memset(&r, 0, sizeof(r));
                swarm_err_clear(&err);
                if (!m->err && !strcmp(rd_kafka_topic_name(m->rkt), RES) &&
                    !swarm_codec_decode_response(codec, m->payload, m->len, &r, &err) &&
                    r.request_id.len > 2 && r.request_id.ptr[0] == 'e' &&
                    (i = atoi(r.request_id.ptr + 2)) >= 0 && i < 40 && !seen[i]++) {
                        got++;
                        if (i == 17 || i == 29) {
                                if (r.status == SWARM_STATUS_INVALID_REQUEST && r.has_error &&
                                    memmem(r.error.ptr, r.error.len, "out of range", 12))
                                        invalid++;
                                else
                                        wrong++;
                        } else if (r.status == SWARM_STATUS_OK && r.n_outputs == 1 &&
                                   r.outputs[0].size == 48) {
                                int good = 1;
                                for (int k = 0; k < 3; k++)
                                        for (int c = 0; c < 4; c++) {
                                                float f;
                                                memcpy(&f, (const char *)r.outputs[0].data +
                                                                   4 * (4 * k + c), 4);
                                                good &= f == (float)(4 * ((i + k) % 10) + c);
                                        }
                                ok += good;
                                wrong += !good;
                                batched += r.batch_rows > 2;
                        } else {
                                fprintf(stderr, "e-%d: status %s %.*s\n", i,
                                        swarm_status_name(r.status), (int)r.error.len,
                                        r.error.ptr ? r.error.ptr : "");
                                wrong++;
                        }
                }
                swarm_response_destroy(&r);
                rd_kafka_message_destroy(m);
        }
        rc = proc_stop(w, 60);
        printf("fault embed: requests=40 ok=%d invalid=%d wrong=%d batched_ok=%d "
               "worker_exit=%d\n", ok, invalid, wrong, batched, rc);
        CHECK(ok == 38 && invalid == 2 && wrong == 0);
        CHECK(batched > 0, "the good requests never shared a batch");
        CHECK(rc == 0);
        reader_destroy(rk);
        rd_kafka_destroy(p);
        return 0;
}

/* ---- leaders moving and a broker down on a 3-broker mock cluster */

static void move_leaders(rd_kafka_mock_cluster_t *mc, int from, int to, int rotate) {
        static const char *const topics[] = {REQ, RES, DLQ, NULL};
        for (int t = 0; topics[t]; t++)
                for (int p = 0; p < (t == 2 ? 1 : 8); p++) {
                        int32_t leader = rotate ? 1 + (p + 1) % 3 : to;
                        /* partitions are spread as p % 3 + 1 at creation */
                        if (!rotate && 1 + p % 3 != from)
                                continue;
                        rd_kafka_mock_partition_set_leader(mc, topics[t], p, leader);
                }
}

static int test_leader(const char *bin, const char *tiny, int n) {
        static const char *const pkv[] = {"linger.ms", "10", NULL};
        char m1[1024], es[256];
        const char *models[] = {m1, NULL};
        rd_kafka_conf_t *c = rd_kafka_conf_new();
        rd_kafka_t *host, *p, *rk;
        rd_kafka_mock_cluster_t *mc;
        swarm_buf_t buf = {0};
        tally_t t;
        pid_t w[2];
        double t0;
        int sent = 0, phase = 0, rc[2];

        host = rd_kafka_new(RD_KAFKA_PRODUCER, c, es, sizeof(es));
        mc = rd_kafka_mock_cluster_new(host, 3);
        rd_kafka_mock_topic_create(mc, REQ, 8, 3);
        rd_kafka_mock_topic_create(mc, RES, 8, 3);
        rd_kafka_mock_topic_create(mc, DLQ, 1, 3);
        for (int p2 = 0; p2 < 8; p2++) {
                rd_kafka_mock_partition_set_leader(mc, REQ, p2, 1 + p2 % 3);
                rd_kafka_mock_partition_set_leader(mc, RES, p2, 1 + p2 % 3);
        }
        rd_kafka_mock_partition_set_leader(mc, DLQ, 0, 1);
        bootstrap = rd_kafka_mock_cluster_bootstraps(mc);
        p = handle(RD_KAFKA_PRODUCER, pkv);
        snprintf(m1, sizeof(m1), "tiny=%s", tiny);
        spawn_workers(bin, models, w, 2);
        tally_init(&t, n, 0);
        rk = reader_new();
        t0 = swarm_clock_s();
        while (t.answered < n && swarm_clock_s() - t0 < 240) {
                double el = swarm_clock_s() - t0;
                int64_t due = (int64_t)(el / 20.0 * n);
                send_good(p, &buf, "tiny", 4, &sent, due, n);
                if (phase == 0 && el > 5) {
                        move_leaders(mc, 1, 2, 0);      /* an election */
                        rd_kafka_mock_broker_set_down(mc, 1);
                        phase = 1;
                } else if (phase == 1 && el > 10) {
                        rd_kafka_mock_broker_set_up(mc, 1);
                        phase = 2;
                } else if (phase == 2 && el > 13) {
                        move_leaders(mc, 0, 0, 1);      /* every leader moves */
                        phase = 3;
                }
                read_one(rk, &t, 20);
        }
        stop_workers(w, 2, rc);
        {
                int missing = tally_missing(&t, n);
                printf("fault leader: brokers=3 (mock) requests=%d answered=%lld missing=%d "
                       "duplicates=%lld broker_down_s=5 leader_moves=2 seconds=%.1f "
                       "worker_exit=%d,%d\n", n, (long long)t.answered, missing,
                       (long long)duplicates(&t), swarm_clock_s() - t0, rc[0], rc[1]);
                CHECK(missing == 0 && phase == 3);
                CHECK(rc[0] == 0 && rc[1] == 0, "workers exited %d %d", rc[0], rc[1]);
        }
        reader_destroy(rk);
        rd_kafka_destroy(p);
        tally_free(&t);
        swarm_buf_destroy(&buf);
        rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(host);
        return 0;
}

int main(int argc, char **argv) {
        swarm_err_t err;

        signal(SIGPIPE, SIG_IGN);
        bootstrap = getenv("SWARM_BOOTSTRAP");
        if (argc == 5 && !strcmp(argv[1], "leader")) {
                swarm_err_clear(&err);
                if (swarm_codec_new(&codec, &err))
                        return 1;
                test_leader(argv[2], argv[3], atoi(argv[4]));
                swarm_codec_destroy(codec);
                TEST_DONE();
        }
        if (!bootstrap) {
                fprintf(stderr, "run under tests/lib/with-broker.sh\n");
                return 77;
        }
        swarm_err_clear(&err);
        if (swarm_codec_new(&codec, &err))
                return 1;
        if (argc == 6 && !strcmp(argv[1], "poison"))
                test_poison(argv[2], argv[3], argv[4], atoi(argv[5]));
        else if (argc == 4 && !strcmp(argv[1], "embed"))
                test_embed(argv[2], argv[3]);
        else if (argc == 6 && !strcmp(argv[1], "outage"))
                test_outage(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]));
        else if (argc == 6 && !strcmp(argv[1], "kill"))
                test_kill(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]), 0);
        else if (argc == 6 && !strcmp(argv[1], "eos"))
                test_kill(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]), 1);
        else {
                fprintf(stderr, "usage: fault poison CONSUMER TINY IDENTITY N | "
                                "fault kill|eos CONSUMER TINY N KILLS\n");
                return 2;
        }
        swarm_codec_destroy(codec);
        TEST_DONE();
}
