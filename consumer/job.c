/*
 * job.c - freeing jobs and batches, keeping the first fatal error.
 */
#include "job.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void job_release(models_t *mm, job_t *j) {
        models_release(mm, j->model);
        j->model = NULL;
        swarm_request_destroy(&j->req);
        if (j->msg && j->bytes)
                atomic_fetch_sub(j->bytes, (long long)j->msg->len);
        if (j->msg)
                rd_kafka_message_destroy(j->msg);
        j->msg = NULL;
}

void job_destroy(models_t *mm, job_t *j) {
        if (!j)
                return;
        job_release(mm, j);
        free(j);
}

job_t *job_pool_get(job_pool_t *p) {
        job_t *j;

        if (!p->local && atomic_load_explicit(&p->ngiven, memory_order_relaxed) > 0) {
                /* take the whole chain: no ABA, the giver only pushes */
                p->local = atomic_exchange(&p->given, NULL);
                atomic_store(&p->ngiven, 0);
        }
        if (!(j = p->local))
                return calloc(1, sizeof(*j));
        p->local = job_next(j);
        /* the next job was last written on the output thread's core: its
         * line is fetched while this one is used, not when it is needed */
        if (p->local)
                __builtin_prefetch(p->local, 1);
        memset(j, 0, sizeof(*j));
        return j;
}

int job_pool_room(job_pool_t *p, int n) {
        return atomic_load_explicit(&p->ngiven, memory_order_relaxed) + n <= JOB_POOL_MAX;
}

void job_pool_give(job_pool_t *p, job_t *head, job_t *tail, int n) {
        job_t *old = atomic_load(&p->given);

        do
                tail->it.next = old ? &old->it : NULL;
        while (!atomic_compare_exchange_weak(&p->given, &old, head));
        atomic_fetch_add(&p->ngiven, n);
}

void job_pool_drain(job_pool_t *p) {
        job_t *lists[2] = {p->local, atomic_exchange(&p->given, NULL)};

        for (int i = 0; i < 2; i++)
                while (lists[i]) {
                        job_t *next = job_next(lists[i]);
                        free(lists[i]);
                        lists[i] = next;
                }
        p->local = NULL;
        atomic_store(&p->ngiven, 0);
}

void batch_destroy(batch_t *b) {
        if (!b)
                return;
        for (int i = 0; i < b->n_out; i++)
                free(b->out[i]);
        free(b);
}

void job_fatal_init(job_fatal_t *f) {
        pthread_mutex_init(&f->lock, NULL);
        atomic_init(&f->set, 0);
        swarm_err_clear(&f->err);
}

void job_fatal_fini(job_fatal_t *f) {
        pthread_mutex_destroy(&f->lock);
}

void job_fatal_set(job_fatal_t *f, const swarm_err_t *e) {
        pthread_mutex_lock(&f->lock);
        if (!atomic_load(&f->set)) {
                f->err = *e;
                if (f->err.code == SWARM_OK)
                        f->err.code = SWARM_ERR_STATE;
                f->err.fatal = 1;
                atomic_store(&f->set, 1);
        }
        pthread_mutex_unlock(&f->lock);
}

void job_fatal_setf(job_fatal_t *f, swarm_code_t code, const char *fmt, ...) {
        swarm_err_t e;
        va_list ap;

        swarm_err_clear(&e);
        e.code = code;
        va_start(ap, fmt);
        vsnprintf(e.msg, sizeof(e.msg), fmt, ap);
        va_end(ap);
        job_fatal_set(f, &e);
}
