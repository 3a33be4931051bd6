/*
 * job.c - freeing jobs and batches, keeping the first fatal error.
 */
#include "job.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void job_destroy(models_t *mm, job_t *j) {
        if (!j)
                return;
        models_release(mm, j->model);
        swarm_request_destroy(&j->req);
        if (j->msg && j->bytes)
                atomic_fetch_sub(j->bytes, (long long)j->msg->len);
        if (j->msg)
                rd_kafka_message_destroy(j->msg);
        free(j);
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
