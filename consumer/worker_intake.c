/*
 * worker_intake.c - the worker's consumer stage (worker_int.h): a consumed
 * message becomes a job, which goes to the exec queue, is answered at once
 * (undecodable, a reply_topic outside the allowlist, a model not served,
 * input that does not match) or waits for its pinned version to load.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match.h"
#include "swarm/clock.h"
#include "worker_int.h"

/* How long a request with a version that is not loaded yet is held (only
 * it: see dispatch()) while the model manager loads it in the background. */
#define RESOLVE_WAIT_MS 10000

/* ---------------------------------------------------- consumer stage */

static int dispatch(worker_t *w, job_t *j, int final);
static void park(worker_t *w, job_t *j);

void handle_message(worker_t *w, rd_kafka_message_t *msg) {
        job_t *j;
        swarm_err_t err;

        j = job_pool_get(&w->jobs);
        if (!j) {
                job_fatal_setf(&w->fatal, SWARM_ERR_NOMEM, "out of memory");
                rd_kafka_message_destroy(msg);
                return;
        }
        j->msg = msg;
        j->bytes = &w->inflight_bytes;
        atomic_fetch_add(&w->inflight_bytes, (long long)msg->len);
        j->it.recv_us = swarm_clock_us();
        swarm_err_clear(&err);
        if (offtrack_add(w->track, msg->partition, msg->offset, &j->ref, &err)) {
                job_fatal_set(&w->fatal, &err);
                job_destroy(w->mm, j);
                return;
        }
        swarm_metrics_add(w->s_messages, 1);

        if (!msg->payload ||
            swarm_codec_decode_request(w->codec, msg->payload, msg->len,
                                       &j->req, &err)) {
                j->kind = JOB_DLQ;
                snprintf(j->error, sizeof(j->error), "undecodable request: %s",
                         msg->payload ? err.msg : "empty message");
                memset(&j->req, 0, sizeof(j->req));
                SWARM_WARN(w->log,
                           "dead-lettering topic=%s partition=%d offset=%" PRId64
                           " reason=\"%s\"",
                           rd_kafka_topic_name(msg->rkt), (int)msg->partition,
                           msg->offset, j->error);
                answer_now(w, j);
                return;
        }
        /* A reply_topic outside the allowlist is answered on the result
         * topic, before any work is spent on it. */
        if (j->req.has_reply_topic && j->req.reply_topic.len > 0 &&
            reply_check(w->reply, j->req.reply_topic.ptr, j->req.reply_topic.len,
                        j->error, sizeof(j->error))) {
                j->req.has_reply_topic = 0;
                j->kind = JOB_ERROR;
                j->status = SWARM_STATUS_INVALID_REQUEST;
                answer_now(w, j);
                return;
        }
        if (dispatch(w, j, 0))
                park(w, j);
}

/* Resolve the job's model and send it on: to the exec queue, or answered at
 * once (model not served, input that does not match).  A pinned version
 * that is not loaded yet is loaded by the manager's thread; then, unless
 * `final`, this returns 1 and the caller parks the job: only the requests
 * that need that version wait, the partition's stream goes on. */
static int dispatch(worker_t *w, job_t *j, int final) {
        swarm_err_t err;

        swarm_err_clear(&err);
        if (models_resolve(w->mm, j->req.model.ptr, j->req.model.len,
                           j->req.has_version, j->req.version, 0, &j->model, &err)) {
                char ver[32] = "";
                if (err.code == SWARM_ERR_TIMEOUT && err.retriable && !final)
                        return 1;
                j->model = NULL;
                j->kind = JOB_ERROR;
                j->status = err.code == SWARM_ERR_NOT_FOUND
                                    ? SWARM_STATUS_MODEL_NOT_FOUND
                                    : SWARM_STATUS_INTERNAL_ERROR;
                if (j->req.has_version)
                        snprintf(ver, sizeof(ver), " version %d",
                                 (int)j->req.version);
                snprintf(j->error, sizeof(j->error),
                         "model \"%.*s\"%s is not served by worker %s: %s",
                         (int)(j->req.model.len > MODELS_NAME_QUOTED ? MODELS_NAME_QUOTED : j->req.model.len),
                         j->req.model.ptr, ver, w->name, err.msg);
                answer_now(w, j);
                return 0;
        }
        swarm_err_clear(&err);
        if (match_request(j->model, &j->req, j->in_map, &j->it.rows, &err)) {
                j->kind = JOB_ERROR;
                j->status = SWARM_STATUS_INVALID_REQUEST;
                snprintf(j->error, sizeof(j->error), "%s", err.msg);
                answer_now(w, j);
                return 0;
        }
        swarm_err_clear(&err);
        if (match_batch_mode(&j->req, &j->it.alone, &err)) {
                j->kind = JOB_ERROR;
                j->status = SWARM_STATUS_INVALID_REQUEST;
                snprintf(j->error, sizeof(j->error), "%s", err.msg);
                answer_now(w, j);
                return 0;
        }
        j->kind = JOB_INFER;
        j->it.key = j->model;
        j->it.has_deadline = j->req.has_deadline;
        j->it.deadline_ms = j->req.deadline_ms;
        exec_push(w, j);
        return 0;
}

/* Hold a job whose pinned version is loading (consumer thread only). */
static void park(worker_t *w, job_t *j) {
        j->it.next = NULL;
        if (w->parked_tail)
                w->parked_tail->it.next = &j->it;
        else
                w->parked = j;
        w->parked_tail = j;
}

/* Try the parked jobs again; one still loading after RESOLVE_WAIT_MS is
 * answered (INTERNAL_ERROR "still loading").  Consumer thread only (the
 * loop, and drain(), which the rebalance callback runs on that thread). */
void retry_parked(worker_t *w) {
        job_t *j = w->parked, *keep = NULL, *keep_tail = NULL;
        int64_t now = swarm_clock_us();

        w->parked = w->parked_tail = NULL;
        while (j) {
                job_t *next = job_of(j->it.next);
                int final = now - j->it.recv_us > (int64_t)RESOLVE_WAIT_MS * 1000;
                j->it.next = NULL;
                if (dispatch(w, j, final)) {
                        if (keep_tail)
                                keep_tail->it.next = &j->it;
                        else
                                keep = j;
                        keep_tail = j;
                }
                j = next;
        }
        /* dispatch() never parks, so nothing was added meanwhile */
        w->parked = keep;
        w->parked_tail = keep_tail;
}
