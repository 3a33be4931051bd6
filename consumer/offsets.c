#include "offsets.h"

#include <pthread.h>
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
} part_t;

struct offtrack {
        pthread_mutex_t lock;
        part_t *parts;
        int nparts, capparts;
        int64_t inflight;
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
        p->ring[p->tail_seq % p->cap].offset = offset;
        p->ring[p->tail_seq % p->cap].done = 0;
        ref->partition = partition;
        ref->seq = p->tail_seq++;
        t->inflight++;
out:
        pthread_mutex_unlock(&t->lock);
        return r;
}

int offtrack_done(offtrack_t *t, offtrack_ref_t ref, int64_t *commit_offset) {
        part_t *p;
        int advanced = 0;

        pthread_mutex_lock(&t->lock);
        p = find(t, ref.partition);
        if (!p || ref.seq < p->head_seq || ref.seq >= p->tail_seq)
                goto out; /* partition was reset meanwhile */
        p->ring[ref.seq % p->cap].done = 1;
        t->inflight--;
        while (p->head_seq < p->tail_seq && p->ring[p->head_seq % p->cap].done) {
                *commit_offset = p->ring[p->head_seq % p->cap].offset + 1;
                p->head_seq++;
                advanced = 1;
        }
out:
        pthread_mutex_unlock(&t->lock);
        return advanced;
}

int64_t offtrack_inflight(offtrack_t *t) {
        int64_t n;
        pthread_mutex_lock(&t->lock);
        n = t->inflight;
        pthread_mutex_unlock(&t->lock);
        return n;
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
                                t->inflight--;
                p->head_seq = p->tail_seq;
        }
        pthread_mutex_unlock(&t->lock);
}
