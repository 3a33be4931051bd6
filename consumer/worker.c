/*
 * worker.c - the worker's threads, Kafka, rebalance and drain.
 *
 * The stages' work lives in their own files: worker_intake.c (a message
 * becomes a job), match.c (does a request fit its model), batcher.c and
 * worker_queues.c (which rows run together), execute.c (gather, run, split
 * on out-of-memory) and output.c (responses, dead letters, delivery
 * reports, offset store); worker_setup.c builds the worker.  This file moves
 * jobs (job.h) between them:
 * consumer thread -> exec queue -> exec thread -> output queue -> output
 * thread.
 *
 * Lock order: see worker_int.h (the exec queue's lock before the model
 * manager's).
 */
#include "worker.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "swarm/clock.h"
#include "swarm/kafka.h"
#include "swarm/metrics.h"
#include "rebalance.h"
#include "stopguard.h"
#include "warmup.h"
#include "worker_int.h"

/* The output thread wakes at least this often to serve delivery reports. */
#define OUTPUT_TICK_US 2000
/* Consumer poll timeout: how fast the loop notices a stop. */
#define POLL_MS 100
/* Drain polls its counters this often. */
#define DRAIN_POLL_US 1000
#define DRAIN_ROUND_POLL_US 200
/* Fetching resumes below this share of the bounds (no flapping). */
#define RESUME_PCT 75
/* How long a stop waits for the first assignment (wait_first_assignment). */
#define FIRST_ASSIGN_WAIT_MS 15000
/* How long the last commit of a stop waits for a rebalance in progress to
 * end (commit_final); the stop guard bounds the whole stop anyway. */
#define FINAL_COMMIT_WAIT_MS 10000
/* commit_final's consumer poll while it waits. */
#define FINAL_COMMIT_POLL_MS 50

/* /readyz: ready once it owns a partition. */
static int ready_cb(void *opaque) {
        worker_t *w = opaque;
        return atomic_load(&w->assigned) > 0;
}

/* ------------------------------------------------------- exec thread */

static void *exec_main(void *arg) {
        worker_t *w = arg;
        batch_t *b;

        while ((b = next_batch(w))) {
                swarm_err_t err;
                swarm_err_clear(&err);
                if (execute_batch(w->exec, b, &err)) {
                        /* a lost device: exit non-zero so the fleet replaces
                         * this worker (the cause is logged once, at exit);
                         * otherwise only this batch's requests fail */
                        if (err.fatal) {
                                swarm_err_prefix(&err, "batch model=%s version=%d rows=%" PRId64
                                                       ": ",
                                                 b->model->name, (int)b->model->version,
                                                 b->rows);
                                job_fatal_set(&w->fatal, &err);
                        } else {
                                SWARM_ERROR(w->log, "batch failed model=%s version=%d rows=%" PRId64
                                                    " error=\"%s\"",
                                            b->model->name, (int)b->model->version, b->rows,
                                            err.msg);
                        }
                }
                out_push(w, b);
        }
        /* tell the output stage nothing more will come */
        pthread_mutex_lock(&w->outq.lock);
        w->outq.closed = 1;
        pthread_cond_broadcast(&w->outq.cond);
        pthread_mutex_unlock(&w->outq.lock);
        return NULL;
}

/* ----------------------------------------------------- output thread */

static void *out_main(void *arg) {
        worker_t *w = arg;
        outq_t *q = &w->outq;

        for (;;) {
                batch_t *b;
                pthread_mutex_lock(&q->lock);
                if (!q->head && !q->closed)
                        cond_wait_until(&q->cond, &q->lock,
                                        swarm_clock_us() + OUTPUT_TICK_US);
                b = q->head;
                if (b) {
                        q->head = b->next;
                        if (!q->head)
                                q->tail = NULL;
                        q->n--;
                        pthread_cond_broadcast(&q->space);
                }
                if (!b && q->closed) {
                        pthread_mutex_unlock(&q->lock);
                        break;
                }
                pthread_mutex_unlock(&q->lock);
                if (b)
                        output_emit(w->out, b);
                output_serve(w->out);
                atomic_fetch_add(&w->store_rounds, 1);
                swarm_metrics_set(w->s_inflight, (double)offtrack_inflight(w->track));
        }
        /* every delivery report must be in before offsets are final */
        output_finish(w->out);
        swarm_metrics_set(w->s_inflight, (double)offtrack_inflight(w->track));
        atomic_store(&w->out_done, 1);
        return NULL;
}

/* ----------------------------------------------------- group & run */

/* Wait until every consumed message is answered and acknowledged.  This
 * waits for all work in flight, not only the revoked partitions': the
 * tracker does not know which batch holds which partition's rows. */
static void drain(worker_t *w) {
        int64_t t0 = swarm_clock_us();
        uint_fast64_t round;

        atomic_store(&w->flush, 1);
        pthread_mutex_lock(&w->execq.lock);
        pthread_cond_broadcast(&w->execq.cond);
        pthread_mutex_unlock(&w->execq.lock);
        while (offtrack_inflight(w->track) > 0 && !job_fatal_is_set(&w->fatal)) {
                output_rewind(w->out);          /* exactly once: after an abort */
                if (w->parked)
                        retry_parked(w);
                /* a drain longer than max.poll.interval.ms would get this
                 * worker thrown out of the group in the middle of the
                 * rebalance; what is still in flight is not committed, so
                 * the next owner answers it again (a duplicate, not a loss) */
                if (swarm_clock_us() - t0 > w->drain_deadline_ms * 1000) {
                        SWARM_WARN(w->log, "drain deadline of %" PRId64 " ms passed with "
                                   "%" PRId64 " messages in flight: not committing them",
                                   w->drain_deadline_ms,
                                   (int64_t)offtrack_inflight(w->track));
                        break;
                }
                usleep(DRAIN_POLL_US);
        }
        /* the delivery report that emptied the tracker ran inside an output
         * round; that round stores the offsets at its end */
        round = atomic_load(&w->store_rounds);
        while (atomic_load(&w->store_rounds) <= round &&
               !job_fatal_is_set(&w->fatal) && !atomic_load(&w->out_done))
                usleep(DRAIN_ROUND_POLL_US);
        atomic_store(&w->flush, 0);
        SWARM_DEBUG(w->log, "drained in %" PRId64 " us", swarm_clock_us() - t0);
}

static void commit_sync(worker_t *w) {
        rd_kafka_resp_err_t e = rd_kafka_commit(w->consumer, NULL, 0);
        if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
                SWARM_WARN(w->log, "commit failed: %s", rd_kafka_err2str(e));
}

/* The stop's last commit.  A commit made while the group rebalances (a
 * worker stopped just before this one, so it left a moment ago) is refused
 * for its old generation; it used to be given up, and the next owner read
 * the last delivered batches of every partition again.  Instead, serve the
 * rebalance (consumer polls run its callbacks) until the commit is
 * accepted.  A message such a poll returns is not processed: its offset is
 * never stored, so the next owner reads it. */
static void commit_final(worker_t *w) {
        int64_t until = swarm_clock_ms() + FINAL_COMMIT_WAIT_MS;
        int retried = 0;

        for (;;) {
                rd_kafka_resp_err_t e = rd_kafka_commit(w->consumer, NULL, 0);
                if (!e || e == RD_KAFKA_RESP_ERR__NO_OFFSET) {
                        /* NO_OFFSET after a retry: librdkafka declared the
                         * assignment lost (an old generation's commit) and
                         * dropped its stored offsets */
                        if (retried)
                                SWARM_INFO(w->log, "%s after the rebalance (%d polls)",
                                           e ? "nothing left to commit (assignment "
                                               "lost: its next owner reads the last "
                                               "batches again)"
                                             : "committed",
                                           retried);
                        return;
                }
                if ((e != RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION &&
                     e != RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS) ||
                    swarm_clock_ms() >= until) {
                        SWARM_WARN(w->log, "commit failed: %s", rd_kafka_err2str(e));
                        return;
                }
                if (!retried)
                        SWARM_INFO(w->log, "commit refused (%s): serving the "
                                   "rebalance before committing again",
                                   rd_kafka_err2str(e));
                retried++;
                {
                        rd_kafka_message_t *m =
                                rd_kafka_consumer_poll(w->consumer, FINAL_COMMIT_POLL_MS);
                        if (m)
                                rd_kafka_message_destroy(m);
                }
        }
}

/* rebalance.h's hooks: the drain and commit above, the offset tracker and
 * the assigned-partitions gauge that /readyz reads. */
static void rb_drain(void *ctx) {
        drain(ctx);
}

static void rb_commit(void *ctx) {
        worker_t *w = ctx;
        commit_sync(w);
        output_txn_settle(w->out);      /* exactly once: commit before revoke */
}

static void rb_forget(void *ctx, int32_t partition) {
        offtrack_reset(((worker_t *)ctx)->track, partition);
}

static int64_t rb_inflight(void *ctx, int32_t partition) {
        return offtrack_inflight_part(((worker_t *)ctx)->track, partition);
}

static uint64_t rb_store_round(void *ctx) {
        return (uint64_t)atomic_load(&((worker_t *)ctx)->store_rounds);
}

static void rb_owned(void *ctx, int n) {
        worker_t *w = ctx;
        atomic_store(&w->assigned_once, 1);
        atomic_store(&w->assigned, n);
        swarm_metrics_set(w->s_assigned, n);
}

/* output.h: the exactly-once rewind's seeks, for the fetch wake-up */
static void out_sought(void *ctx, const rd_kafka_topic_partition_list_t *l) {
        rebalance_sought(((worker_t *)ctx)->rb, l);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t e,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
        worker_t *w = opaque;
        rebalance_handle(w->rb, rk, e, parts);
}

static int start_kafka(worker_t *w, swarm_err_t *err) {
        static const char *const cons_defaults[] = {
                "group.id", WORKER_GROUP_DEFAULT,
                "enable.auto.offset.store", "false",
                "enable.auto.commit", "true",
                "auto.commit.interval.ms", "1000",
                "auto.offset.reset", "earliest",
                "fetch.wait.max.ms", "10",
                "partition.assignment.strategy", "cooperative-sticky",
                /* A member learns of a rebalance (a worker joining or
                 * leaving) at its next heartbeat, and the moved partitions
                 * are served by nobody until every member has rejoined:
                 * librdkafka's 3 s default was most of a scale event's
                 * latency spike, 250 ms still 0.1-0.25 s of a leave
                 * (bench/scaling).  Ten small requests a second per
                 * worker; --heartbeat-pace-ms keeps them that frequent
                 * (rejoin.h 3). */
                "heartbeat.interval.ms", "100",
                /* Bound the prefetch (librdkafka's default is 64 MB and
                 * 100k messages per worker): the exec queue already holds
                 * the next batches, and memory must stay flat on backlog. */
                "queued.max.messages.kbytes", "16384",
                "queued.min.messages", "20000",
                NULL};
        static const char *const prod_defaults[] = {
                "linger.ms", "5",
                "acks", "all",
                "compression.codec", "lz4",
                "queue.buffering.max.messages", "200000",
                /* librdkafka's 1 GiB default would let a slow or absent
                 * result topic grow the worker that far: a full queue
                 * blocks the output stage instead, and the in-flight bound
                 * then pauses fetching */
                "queue.buffering.max.kbytes", "262144",
                NULL};
        output_conf_t oc = {w->name, w->o.topic, w->o.results, w->o.dlq, NULL, &w->jobs,
                            out_sought, w};
        txn_opts_t txo = {.enabled = w->o.exactly_once,  /* txn.h; output copies it */
                          .window_ms = w->o.txn_ms,
                          .max_records = w->o.txn_max_records};
        rebalance_ops_t ops = {w, rb_drain, rb_commit, rb_forget, rb_owned,
                               rb_inflight, rb_store_round, w->drain_deadline_ms};
        rebalance_opts_t rbo = {w->o.revoke_defer_ms, w->o.fast_rejoin, w->o.fetch_wake,
                                w->o.heartbeat_pace_ms};
        rd_kafka_conf_t *kc;
        rd_kafka_topic_partition_list_t *topics;
        rd_kafka_resp_err_t e;
        int r;

        if ((r = txn_opts_load(w->conf, w->o.name, &txo, err)))
                return r;
        oc.txn = &txo;
        if ((r = swarm_kafka_conf(w->conf, prod_defaults, &w->kop, &kc, err)) ||
            (r = output_new(&oc, kc, w->codec, w->track, w->mm, w->metrics,
                            &w->fatal, w->log, &w->out, err)))
                return r;

        if ((r = rebalance_new(&ops, &rbo, w->metrics, w->log, &w->rb, err)) ||
            (r = swarm_kafka_conf(w->conf, cons_defaults, &w->kop, &kc, err)))
                return r;
        /* the offsets we store are the truth: never store on poll */
        rd_kafka_conf_set(kc, "enable.auto.offset.store", "false", NULL, 0);
        if ((r = txn_consumer_conf(&txo, kc, err))) {
                rd_kafka_conf_destroy(kc);
                return r;
        }
        rd_kafka_conf_set_rebalance_cb(kc, rebalance_cb);
        rd_kafka_conf_set_opaque(kc, w);
        if ((r = swarm_kafka_new(RD_KAFKA_CONSUMER, kc, &w->consumer, err)))
                return r;
        output_set_consumer(w->out, w->consumer);
        rd_kafka_poll_set_consumer(w->consumer);
        topics = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(topics, w->o.topic, RD_KAFKA_PARTITION_UA);
        e = rd_kafka_subscribe(w->consumer, topics);
        rd_kafka_topic_partition_list_destroy(topics);
        if (e)
                return swarm_err_set(err, SWARM_ERR_KAFKA, "subscribe to %s: %s",
                                     w->o.topic, rd_kafka_err2str(e));
        SWARM_INFO(w->log, "subscribed topic=%s", w->o.topic);
        return SWARM_OK;
}

/* librdkafka 2.0.2 asserts in the sticky assignor (assignor_state NULL,
 * fixed in 2.2.1) when a consumer that has joined the group is destroyed
 * before its first assignment arrived.  So a worker stopped in that window
 * first polls until the assignment comes (bounded), dropping what it is
 * given: nothing of it is stored, the next owner consumes it.  Not joined
 * yet (no member id): nothing to wait for. */
static void wait_first_assignment(worker_t *w) {
        int64_t until = swarm_clock_us() + (int64_t)FIRST_ASSIGN_WAIT_MS * 1000;
        char *member = rd_kafka_memberid(w->consumer);
        int joined = member && *member;

        rd_kafka_mem_free(w->consumer, member);
        if (!joined || atomic_load(&w->assigned_once))
                return;
        SWARM_INFO(w->log, "stopping before the first assignment: waiting for it "
                   "(librdkafka 2.0.2 sticky assignor)");
        while (!atomic_load(&w->assigned_once) && swarm_clock_us() < until) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(w->consumer, POLL_MS);
                if (m)
                        rd_kafka_message_destroy(m);
        }
}

/* /metrics, /healthz, /readyz on --metrics-bind (default all IPv4
 * interfaces) with the server's connection limits and timeout. */
static int start_http(worker_t *w, swarm_err_t *err) {
        swarm_metrics_http_opts_t ho;

        memset(&ho, 0, sizeof(ho));
        ho.bind = w->o.metrics_bind;
        ho.port = (int)w->o.metrics_port;
        return swarm_metrics_http_listen(w->metrics, &ho, ready_cb, w, w->log, &w->http,
                                         err);
}

/* Pause (or resume) fetching on every partition owned now.  Pausing drops
 * what librdkafka prefetched for them, so memory stops growing at once. */
static void set_paused(worker_t *w, int pause) {
        rd_kafka_topic_partition_list_t *parts = NULL;

        if (rd_kafka_assignment(w->consumer, &parts) || !parts)
                return;
        if (parts->cnt)
                (void)(pause ? rd_kafka_pause_partitions(w->consumer, parts)
                             : rd_kafka_resume_partitions(w->consumer, parts));
        rd_kafka_topic_partition_list_destroy(parts);
}

/* The memory bound: pause fetching while the consumed-but-unanswered
 * messages or their bytes are over the bound, resume below RESUME_PCT of
 * both.  While paused the loop still polls, so the group sees it alive. */
static void bound_inflight(worker_t *w) {
        int64_t msgs = (int64_t)offtrack_inflight(w->track);
        int64_t bytes = (int64_t)atomic_load(&w->inflight_bytes);

        if (!w->paused) {
                if (msgs < w->max_inflight_msgs && bytes < w->max_inflight_bytes)
                        return;
                w->paused = 1;
                w->pauses++;
                SWARM_INFO(w->log, "fetch paused inflight_messages=%" PRId64
                           " inflight_bytes=%" PRId64 " max_messages=%" PRId64
                           " max_bytes=%" PRId64, msgs, bytes, w->max_inflight_msgs,
                           w->max_inflight_bytes);
                set_paused(w, 1);
                return;
        }
        if (msgs * 100 <= w->max_inflight_msgs * RESUME_PCT &&
            bytes * 100 <= w->max_inflight_bytes * RESUME_PCT) {
                w->paused = 0;
                SWARM_INFO(w->log, "fetch resumed inflight_messages=%" PRId64
                           " inflight_bytes=%" PRId64, msgs, bytes);
                set_paused(w, 0);
                return;
        }
        /* partitions assigned since the pause start unpaused */
        set_paused(w, 1);
}

int worker_run(worker_t *w, volatile sig_atomic_t *stop, swarm_err_t *err) {
        pthread_t exec_t, out_t;
        int r;

        /* warm before joining: the group hands partitions over at once */
        if (w->o.warmup) {
                warmup_result_t wr;
                warmup_run(w->mm, w->bconf.max_rows, w->log, &wr);
        }
        if ((r = start_kafka(w, err)))
                return r;
        if (w->o.metrics_port >= 0 &&
            (r = start_http(w, err)))
                return r;
        SWARM_INFO(w->log,
                   "worker started name=%s topic=%s results=%s dlq=%s models=%d "
                   "max_batch_rows=%" PRId64 " max_delay_us=%" PRId64
                   " blas_threads=%d backend=%s",
                   w->name, w->o.topic, w->o.results, w->o.dlq, models_count(w->mm),
                   w->bconf.max_rows, w->bconf.max_delay_us, w->blas_threads,
                   w->backend->name);
        pthread_create(&exec_t, NULL, exec_main, w);
        pthread_create(&out_t, NULL, out_main, w);

        while (!*stop && !job_fatal_is_set(&w->fatal)) {
                rd_kafka_message_t *msg;
                output_before_poll(w->out);     /* exactly once: rewind, commit gate */
                if (w->parked)
                        retry_parked(w);
                rebalance_tick(w->rb, w->consumer, 0);
                bound_inflight(w);
                msg = rd_kafka_consumer_poll(w->consumer, POLL_MS);
                if (!msg)
                        continue;
                if (msg->err && swarm_kafka_err_is_denied(msg->err)) {
                        /* the ACLs refuse this worker its topic or group:
                         * stop with the reason rather than idle in the
                         * group looking healthy */
                        char group[256] = "?";
                        size_t gn = sizeof(group);
                        rd_kafka_conf_get(rd_kafka_conf(w->consumer), "group.id", group,
                                          &gn);
                        job_fatal_setf(&w->fatal, SWARM_ERR_KAFKA,
                                       "not authorized (%s): %s; grant the worker's "
                                       "principal READ on topic %s and group %s",
                                       rd_kafka_err2name(msg->err),
                                       rd_kafka_message_errstr(msg), w->o.topic, group);
                        rd_kafka_message_destroy(msg);
                        continue;
                }
                if (msg->err) {
                        /* a partition's error (a batch that does not
                         * decompress ...) means records were skipped: on
                         * record in the dead-letter topic; client-wide
                         * errors (brokers down) are only logged */
                        if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF &&
                            msg->rkt && msg->partition >= 0)
                                output_dead_letter_event(w->out, msg);
                        else if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                                SWARM_WARN(w->log, "consumer: %s",
                                           rd_kafka_message_errstr(msg));
                        rd_kafka_message_destroy(msg);
                        continue;
                }
                handle_message(w, msg);
        }

        SWARM_INFO(w->log, "stopping: finishing batches in hand");
        rebalance_tick(w->rb, w->consumer, 1);
        {
                /* the whole stop is bounded (stopguard.h); the drain gets
                 * half of it, so a slow one still commits what it did */
                swarm_err_t gerr;
                swarm_err_clear(&gerr);
                if (w->o.stop_timeout_ms > 0 &&
                    stopguard_start(w->o.stop_timeout_ms, w->log, &w->guard, &gerr))
                        SWARM_WARN(w->log, "stop is unbounded: %s", gerr.msg);
                if (w->o.stop_timeout_ms > 0 &&
                    w->drain_deadline_ms > w->o.stop_timeout_ms / 2)
                        w->drain_deadline_ms = w->o.stop_timeout_ms / 2;
        }
        wait_first_assignment(w);
        if (!job_fatal_is_set(&w->fatal)) {
                drain(w);
                commit_sync(w);
        }
        /* close the exec stage; it closes the output stage */
        pthread_mutex_lock(&w->execq.lock);
        w->execq.closed = 1;
        pthread_cond_broadcast(&w->execq.cond);
        pthread_cond_broadcast(&w->execq.space);
        pthread_mutex_unlock(&w->execq.lock);
        pthread_join(exec_t, NULL);
        pthread_join(out_t, NULL);
        if (!job_fatal_is_set(&w->fatal))
                commit_final(w);
        rd_kafka_consumer_close(w->consumer);
        if (job_fatal_is_set(&w->fatal)) {
                /* the first cause, with its own code */
                pthread_mutex_lock(&w->fatal.lock);
                r = swarm_err_set_flags(err, w->fatal.err.code, SWARM_ERR_F_FATAL, "%s",
                                        w->fatal.err.msg);
                pthread_mutex_unlock(&w->fatal.lock);
                return r;
        }
        SWARM_INFO(w->log, "stopped cleanly, left the group");
        return SWARM_OK;
}
