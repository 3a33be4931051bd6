#include "offsets.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* In-flight offsets a partition's ring holds before its first growth. */
#define RING_INITIAL_SLOTS 1024

typedef struct slot {
        int64_t offset;
        int done;
} slot_t;

/* A ring of in-flight messages of one partition; seq numbers grow forever,
 * slot = seq % cap, head_seq..tail_seq-1 are live. */
typedef struct part {
        int32_t partition;
        slot_t *ring;
        uint64_t cap;
        uint64_t head_seq, tail_seq;
        int64_t base;           /* exactly-once: first offset not committed */
        int has_base;
} part_t;

struct offtrack {
        pthread_mutex_t lock;
        part_t *parts;
        int nparts, capparts;
        /* changed under the lock; read without it (offtrack_inflight(),
         * the consumer thread's check per message) */
        atomic_llong inflight;
        uint64_t epoch;         /* rewinds so far */
        int rewinding;          /* begun, the consumer has not sought yet */
};

int offtrack_new(offtrack_t **out, swarm_err_t *err) {
        offtrack_t *t = calloc(1, sizeof(*t));
        if (!t)
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        pthread_mutex_init(&t->lock, NULL);
        *out = t;
        return SWARM_OK;
}

void offtrack_destroy(offtrack_t *t) {
        if (!t)
                return;
        for (int i = 0; i < t->nparts; i++)
                free(t->parts[i].ring);
        free(t->parts);
        pthread_mutex_destroy(&t->lock);
        free(t);
}

static part_t *find(offtrack_t *t, int32_t partition) {
        for (int i = 0; i < t->nparts; i++)
                if (t->parts[i].partition == partition)
                        return &t->parts[i];
        return NULL;
}

int offtrack_add(offtrack_t *t, int32_t partition, int64_t offset,
                 offtrack_ref_t *ref, swarm_err_t *err) {
        part_t *p;
        int r = SWARM_OK;

        pthread_mutex_lock(&t->lock);
        p = find(t, partition);
        if (!p) {
                if (t->nparts == t->capparts) {
                        int cap = t->capparts ? t->capparts * 2 : 16;
                        part_t *v = realloc(t->parts, (size_t)cap * sizeof(*v));
                        if (!v) {
                                r = swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                                goto out;
                        }
                        t->parts = v;
                        t->capparts = cap;
                }
                p = &t->parts[t->nparts++];
                memset(p, 0, sizeof(*p));
                p->partition = partition;
        }
        if (p->tail_seq - p->head_seq == p->cap) {
                /* grow: copy live slots into a ring twice the size */
                uint64_t cap = p->cap ? p->cap * 2 : RING_INITIAL_SLOTS;
                slot_t *ring = malloc(cap * sizeof(*ring));
                if (!ring) {
                        r = swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                        goto out;
                }
                for (uint64_t s = p->head_seq; s < p->tail_seq; s++)
                        ring[s % cap] = p->ring[s % p->cap];
                free(p->ring);
                p->ring = ring;
                p->cap = cap;
        }
        ref->partition = partition;
        if (t->rewinding) {
                /* fetched before the seek back: answered by its replay.  A
                 * partition assigned meanwhile has no base yet: this is it,
                 * so the seek brings this message back too */
                if (!p->has_base) {
                        p->base = offset;
                        p->has_base = 1;
                }
                ref->seq = 0;
                ref->epoch = t->epoch - 1;
                goto out;
        }
        if (!p->has_base) {
                p->base = offset;
                p->has_base = 1;
        }
        p->ring[p->tail_seq % p->cap].offset = offset;
        p->ring[p->tail_seq % p->cap].done = 0;
        ref->seq = p->tail_seq++;
        ref->epoch = t->epoch;
        atomic_fetch_add_explicit(&t->inflight, 1, memory_order_relaxed);
out:
        pthread_mutex_unlock(&t->lock);
        return r;
}

/* offtrack_done() under the lock; `last` caches the partition of the
 * previous ref (a batch's refs are mostly of a few partitions). */
static int done_locked(offtrack_t *t, offtrack_ref_t ref, part_t **last,
                       int64_t *commit_offset) {
        part_t *p = *last && (*last)->partition == ref.partition ? *last
                                                                  : find(t, ref.partition);
        int advanced = 0;

        *last = p;
        if (!p || ref.epoch != t->epoch || ref.seq < p->head_seq || ref.seq >= p->tail_seq)
                return 0; /* partition was reset or rewound meanwhile */
        p->ring[ref.seq % p->cap].done = 1;
        atomic_fetch_sub_explicit(&t->inflight, 1, memory_order_relaxed);
        while (p->head_seq < p->tail_seq && p->ring[p->head_seq % p->cap].done) {
                *commit_offset = p->ring[p->head_seq % p->cap].offset + 1;
                p->head_seq++;
                advanced = 1;
        }
        return advanced;
}

int offtrack_done(offtrack_t *t, offtrack_ref_t ref, int64_t *commit_offset) {
        part_t *last = NULL;
        int advanced;

        pthread_mutex_lock(&t->lock);
        advanced = done_locked(t, ref, &last, commit_offset);
        pthread_mutex_unlock(&t->lock);
        return advanced;
}

void offtrack_done_many(offtrack_t *t, const offtrack_ref_t *refs, size_t n,
                        void (*advanced)(void *ctx, int32_t partition, int64_t offset),
                        void *ctx) {
        part_t *last = NULL;
        int64_t off;

        if (!n)
                return;
        pthread_mutex_lock(&t->lock);
        for (size_t i = 0; i < n; i++)
                if (done_locked(t, refs[i], &last, &off))
                        advanced(ctx, refs[i].partition, off);
        pthread_mutex_unlock(&t->lock);
}

int64_t offtrack_inflight(offtrack_t *t) {
        return atomic_load_explicit(&t->inflight, memory_order_relaxed);
}

int64_t offtrack_inflight_part(offtrack_t *t, int32_t partition) {
        part_t *p;
        int64_t n;
        pthread_mutex_lock(&t->lock);
        p = find(t, partition);
        n = p ? (int64_t)(p->tail_seq - p->head_seq) : 0;
        pthread_mutex_unlock(&t->lock);
        return n;
}

void offtrack_reset(offtrack_t *t, int32_t partition) {
        part_t *p;
        pthread_mutex_lock(&t->lock);
        p = find(t, partition);
        if (p) {
                for (uint64_t s = p->head_seq; s < p->tail_seq; s++)
                        if (!p->ring[s % p->cap].done)
                                atomic_fetch_sub_explicit(&t->inflight, 1,
                                                          memory_order_relaxed);
                p->head_seq = p->tail_seq;
                p->has_base = 0;        /* a new owner's start, if assigned again */
        }
        pthread_mutex_unlock(&t->lock);
}

int offtrack_settled(offtrack_t *t) {
        int ok = 1;

        pthread_mutex_lock(&t->lock);
        for (int i = 0; i < t->nparts && ok; i++) {
                part_t *p = &t->parts[i];
                /* the head is never done (done heads are popped), so any
                 * done slot left is after one that is not */
                for (uint64_t s = p->head_seq; s < p->tail_seq && ok; s++)
                        ok = !p->ring[s % p->cap].done;
        }
        pthread_mutex_unlock(&t->lock);
        return ok;
}

void offtrack_set_base(offtrack_t *t, int32_t partition, int64_t offset) {
        part_t *p;

        pthread_mutex_lock(&t->lock);
        if ((p = find(t, partition)) && p->has_base && offset > p->base)
                p->base = offset;
        pthread_mutex_unlock(&t->lock);
}

int offtrack_stale(offtrack_t *t, offtrack_ref_t ref) {
        int stale;

        pthread_mutex_lock(&t->lock);
        stale = ref.epoch != t->epoch;
        pthread_mutex_unlock(&t->lock);
        return stale;
}

void offtrack_rewind_begin(offtrack_t *t) {
        pthread_mutex_lock(&t->lock);
        t->epoch++;
        t->rewinding = 1;
        for (int i = 0; i < t->nparts; i++)
                t->parts[i].head_seq = t->parts[i].tail_seq;
        atomic_store_explicit(&t->inflight, 0, memory_order_relaxed);
        pthread_mutex_unlock(&t->lock);
}

rd_kafka_topic_partition_list_t *offtrack_rewind_targets(offtrack_t *t, const char *topic) {
        rd_kafka_topic_partition_list_t *l = NULL;

        pthread_mutex_lock(&t->lock);
        if (t->rewinding) {
                l = rd_kafka_topic_partition_list_new(t->nparts > 0 ? t->nparts : 1);
                for (int i = 0; i < t->nparts; i++)
                        if (t->parts[i].has_base)
                                rd_kafka_topic_partition_list_add(l, topic,
                                                                  t->parts[i].partition)
                                        ->offset = t->parts[i].base;
        }
        pthread_mutex_unlock(&t->lock);
        return l;
}

void offtrack_rewind_end(offtrack_t *t) {
        pthread_mutex_lock(&t->lock);
        t->rewinding = 0;
        pthread_mutex_unlock(&t->lock);
}
