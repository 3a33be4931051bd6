/*
 * worker_queues.c - the worker's exec and output queues (worker_int.h).
 *
 * The exec queue is a batcher (batcher.h) under a lock: the consumer thread
 * pushes jobs, the exec thread takes batches; the output queue is a bounded
 * list of batches from the exec thread (and of jobs answered at once) to
 * the output thread.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "match.h"
#include "swarm/clock.h"
#include "swarm/model.h"
#include "worker_int.h"

/* Batches between the exec and output stages: one being encoded, a few
 * waiting, so exec never stalls on a slow produce but memory stays bounded. */
#define OUTQ_DEPTH 8
/* Retry after a failed allocation of a batch (the queue keeps its rows). */
#define BATCH_ALLOC_RETRY_US 1000

/* Wait on `c` until signalled or until the monotonic time `until_us`. */
void cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m,
                            int64_t until_us) {
        struct timespec ts = swarm_clock_timespec(until_us);
        pthread_cond_timedwait(c, m, &ts);
}

/* ------------------------------------------------------------ queues */

/* Push one job to the exec queue (blocks while it holds max_queue_rows). */
void exec_push(worker_t *w, job_t *j) {
        execq_t *q = &w->execq;
        /* a batch never mixes resolved shapes (sequence lengths) */
        j->it.n_dims = match_batch_dims(j->model, &j->req, j->in_map, j->dims);
        j->it.dims = j->dims;
        pthread_mutex_lock(&q->lock);
        while (batcher_must_wait(&q->b, j->it.rows, w->max_queue_rows) && !q->closed)
                pthread_cond_wait(&q->space, &q->lock);
        batcher_push(&q->b, &j->it);
        pthread_cond_signal(&q->cond);
        pthread_mutex_unlock(&q->lock);
}

/* Push a batch to the output queue (bounded to OUTQ_DEPTH batches). */
void out_push(worker_t *w, batch_t *b) {
        outq_t *q = &w->outq;
        pthread_mutex_lock(&q->lock);
        while (q->n >= OUTQ_DEPTH && !q->closed)
                pthread_cond_wait(&q->space, &q->lock);
        b->next = NULL;
        if (q->tail)
                q->tail->next = b;
        else
                q->head = b;
        q->tail = b;
        q->n++;
        pthread_cond_signal(&q->cond);
        pthread_mutex_unlock(&q->lock);
}

/* Answer one job without executing it. */
void answer_now(worker_t *w, job_t *j) {
        batch_t *b = calloc(1, sizeof(*b));
        if (!b) {
                /* Without memory we cannot answer; failing loudly and not
                 * committing beats a silent drop: the message is redelivered
                 * after restart. */
                job_fatal_setf(&w->fatal, SWARM_ERR_NOMEM,
                               "out of memory answering a request");
                job_destroy(w->mm, j);
                return;
        }
        j->it.next = NULL;
        b->jobs = j;
        b->model = j->model;
        b->start_us = swarm_clock_us();
        out_push(w, b);
}

/* ------------------------------------------------------- exec stage */

/* The limits of the head's model version.  Called under the exec queue's
 * lock; takes the model manager's lock inside (the lock order: worker_int.h). */
static batcher_limits_t head_limits(worker_t *w, const job_t *head) {
        const swarm_model_t *m = head->model->m;
        batcher_model_t bm;

        memset(&bm, 0, sizeof(bm));
        models_deployment(w->mm, head->model->name, strlen(head->model->name),
                          &bm.deploy_rows, &bm.deploy_delay_us);
        bm.fixed_rows = swarm_model_fixed_rows(m);
        bm.work_fixed = swarm_model_work_fixed_bytes(m);
        bm.work_per_row = swarm_model_work_row_bytes(m);
        /* A model with symbolic dims has no per-row size until its shape
         * resolves (work_row_bytes is 0): cap by this batch key's gathered
         * input bytes per row, from the head's actual shapes. */
        if (bm.work_per_row == 0 && swarm_model_is_shaped(m))
                for (int i = 0; i < swarm_model_n_inputs(m); i++) {
                        const swarm_tensor_t *t = &head->req.inputs[head->in_map[i]];
                        bm.work_per_row += t->size / (size_t)head->it.rows;
                }
        return batcher_limits(&w->bconf, &bm);
}

/* batcher_next()'s limits of a batch key, from its oldest job. */
static batcher_limits_t item_limits(void *ctx, const batcher_item_t *first) {
        return head_limits(ctx, job_of((batcher_item_t *)first));
}

static void answer_expired(worker_t *w, batcher_item_t *expired, int64_t wall) {
        while (expired) {
                job_t *j = job_of(expired);
                expired = expired->next;
                j->kind = JOB_ERROR;
                j->status = SWARM_STATUS_DEADLINE_EXCEEDED;
                snprintf(j->error, sizeof(j->error),
                         "deadline %" PRId64 " passed %" PRId64 " ms before execution",
                         j->req.deadline_ms, wall - j->req.deadline_ms);
                answer_now(w, j);
        }
}

/* Take the next batch from the exec queue (batcher_next()), waiting for it
 * to fill or for its delay; expired requests are answered outside the lock
 * (out_push may wait for room).  Returns NULL when the queue is closed and
 * empty. */
batch_t *next_batch(worker_t *w) {
        execq_t *q = &w->execq;

        for (;;) {
                batcher_batch_t bb;
                batcher_state_t st;
                batch_t *b;
                int64_t wall = 0;

                pthread_mutex_lock(&q->lock);
                for (;;) {
                        const batcher_item_t *head = batcher_head(&q->b);
                        if (!head) {
                                if (q->closed) {
                                        pthread_mutex_unlock(&q->lock);
                                        return NULL;
                                }
                                pthread_cond_wait(&q->cond, &q->lock);
                                continue;
                        }
                        wall = swarm_clock_wall_ms();
                        st = batcher_next(&q->b, item_limits, w, swarm_clock_us(), wall,
                                          q->closed || atomic_load(&w->flush), &bb);
                        if (st == BATCHER_WAIT) {
                                cond_wait_until(&q->cond, &q->lock, bb.wake_us);
                                continue;
                        }
                        break;
                }
                pthread_cond_broadcast(&q->space);
                pthread_mutex_unlock(&q->lock);
                answer_expired(w, bb.expired, wall);
                if (!bb.items)
                        continue;       /* every candidate had expired */
                while (!(b = calloc(1, sizeof(*b))))
                        usleep(BATCH_ALLOC_RETRY_US);
                b->jobs = job_of(bb.items);
                b->rows = bb.rows;
                b->model = b->jobs->model;
                return b;
        }
}
