/*
 * job.h - what moves between the worker's stages: one consumed message (a
 * job) and a unit of output work (a batch), plus the first fatal error.
 *
 * Ownership of a consumed message: a job_t owns the rd_kafka_message_t (its
 * tensors and strings are views into it) from poll until the delivery report
 * of the last record it caused; only then is its offset marked done and the
 * message destroyed.  Jobs move consumer -> exec queue (batcher.h) -> output
 * queue -> librdkafka (as the msg_opaque) -> delivery report (output.h).
 */
#ifndef SWARM_CONSUMER_JOB_H
#define SWARM_CONSUMER_JOB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "batcher.h"
#include "match.h"
#include "models.h"
#include "offsets.h"
#include "swarm/codec.h"
#include "swarm/err.h"

/* Room for an error text or a dead-letter reason in a response. */
#define JOB_ERROR_SIZE 384

typedef enum job_kind {
        JOB_INFER = 0,          /* goes through the exec stage */
        JOB_ERROR,              /* answered with an error status at once */
        JOB_DLQ,                /* undecodable: dead-lettered */
} job_kind_t;

typedef struct job {
        batcher_item_t it;              /* first: the exec queue links jobs */
        rd_kafka_message_t *msg;
        swarm_request_t req;
        job_kind_t kind;
        models_ref_t *model;            /* owned reference, NULL until resolved */
        offtrack_ref_t ref;
        int in_map[SWARM_MAX_INPUTS];   /* model input -> request tensor */
        int64_t dims[MATCH_MAX_DIMS];   /* its symbolic dims (it.dims) */
        swarm_status_t status;          /* JOB_ERROR: the answer; else as sent */
        char error[JOB_ERROR_SIZE];     /* error text or DLQ reason */
        int to_reply_topic;             /* last record went to reply_topic */
        int rows_failed;                /* ran in its batch, but its own rows
                                           were refused (an embedding id out
                                           of range): answered with status
                                           and error, the others normally */
        atomic_llong *bytes;            /* the worker's in-flight bytes, which
                                           job_destroy() gives msg->len back
                                           to (NULL: not counted) */
        uint32_t out_slot;              /* its batch's result partition slot
                                           (output.c's partitioner) */
} job_t;

/* The job an exec queue item is embedded in (it is the first member). */
static inline job_t *job_of(batcher_item_t *it) {
        return (job_t *)(void *)it;
}

static inline job_t *job_next(const job_t *j) {
        return job_of(j->it.next);
}

/* A unit of work for the output stage: an executed batch, or one job that is
 * answered without execution. */
typedef struct batch {
        struct batch *next;
        job_t *jobs;                    /* linked through it.next */
        models_ref_t *model;            /* borrowed from the first job */
        int64_t rows;
        int64_t start_us, compute_us;
        int n_out;
        void *out[SWARM_MAX_INPUTS];    /* owned copies of the model outputs */
        /* output i's resolved shape (rows leading) and bytes per row: a
         * model with symbolic dims knows them only once the batch ran */
        int64_t out_shape[SWARM_MAX_INPUTS][SWARM_MAX_DIMS];
        size_t out_row_bytes[SWARM_MAX_INPUTS];
        swarm_status_t status;          /* INTERNAL_ERROR if the run failed */
        char error[JOB_ERROR_SIZE];
} batch_t;

/* Release the model reference, the request and the message.  NULL is
 * accepted. */
void job_destroy(models_t *mm, job_t *j);

/* Jobs handed back from the output thread to the consumer thread to be
 * used again: a job is 3 KB, above glibc's per-thread cache, and each was
 * malloc'd on one thread and freed on another (an arena lock and a list
 * walk each way, per request).  The output thread gives a round's jobs at
 * once (job_pool_give), the consumer thread takes them all when its own
 * list is empty; at most JOB_POOL_MAX wait on each side (under 1 MB: a
 * round's delivery reports, not the whole window, which would show as
 * RSS creeping up to the window's worth; bench/memory), the rest are
 * freed. */
#define JOB_POOL_MAX 256
typedef struct job_pool {
        _Atomic(job_t *) given;         /* linked through it.next */
        atomic_int ngiven;
        job_t *local;                   /* consumer thread only */
} job_pool_t;

/* A zeroed job, from the pool or calloc'd; NULL when out of memory.
 * Consumer thread only. */
job_t *job_pool_get(job_pool_t *p);
/* Whether `n` more jobs may be given now (the output thread asks before
 * keeping a job for the pool). */
int job_pool_room(job_pool_t *p, int n);
/* Give a chain of released jobs (job_release()), head..tail, n of them.
 * Any thread. */
void job_pool_give(job_pool_t *p, job_t *head, job_t *tail, int n);
/* Free what the pool holds (no thread uses it any more). */
void job_pool_drain(job_pool_t *p);
/* job_destroy() without freeing the job itself. */
void job_release(models_t *mm, job_t *j);
/* Frees the outputs (not the jobs).  NULL is accepted. */
void batch_destroy(batch_t *b);

/* The first fatal error of a worker, from any thread: the consumer loop then
 * stops without committing past what was answered, and the worker exits with
 * this cause. */
typedef struct job_fatal {
        pthread_mutex_t lock;
        atomic_int set;
        swarm_err_t err;
} job_fatal_t;

void job_fatal_init(job_fatal_t *f);
void job_fatal_fini(job_fatal_t *f);
/* Keep `e` (its code and message, marked fatal) unless a cause is already
 * kept. */
void job_fatal_set(job_fatal_t *f, const swarm_err_t *e);
/* The same from a code and a message. */
void job_fatal_setf(job_fatal_t *f, swarm_code_t code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static inline int job_fatal_is_set(job_fatal_t *f) {
        return atomic_load(&f->set);
}

#endif
