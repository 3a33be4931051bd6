/*
 * batcher.h - the worker's exec queue and micro-batch formation, without
 * Kafka, threads or a clock of its own.
 *
 * Requests wait in arrival order as batcher_item_t (embedded in the caller's
 * job).  Items batch together only when they have the same key (one model
 * version) and the same resolved non-batch dims (`dims`: the values of the
 * model's symbolic dims, e.g. the sequence length; Triton's rule for
 * batching without ragged tensors).  A (key, dims) pair is a batch key with
 * its own max rows and max delay.  batcher_next() takes the next batch: the
 * batch key of the oldest item whose batch is ready (full, its oldest item
 * has waited max delay, or the caller flushes), its rows oldest first, up to
 * its max rows.  So a full batch of one sequence length does not wait for
 * the delay of an older, emptier length, and the oldest item still goes once
 * its own delay has passed.  An item bigger than max rows runs alone and
 * whole; so does an item marked `alone` (the request asked for it: its
 * outputs then depend on its own rows only, since BLAS kernels round a row
 * differently with the batch around it), at once and in its turn, without
 * waiting for a delay.  Items of other batch keys keep their order; an item
 * whose deadline has passed is handed back as expired instead of being
 * batched.
 *
 * The limits of a key (deployment settings over the worker's defaults, the
 * row cap from the memory budget, a fixed batch size) come from
 * batcher_limits() so they can be computed and tested without a model.
 *
 * Threads: none here.  The caller holds its own lock around every call on a
 * batcher_t (the worker's exec queue mutex) and does the waiting.
 */
#ifndef SWARM_CONSUMER_BATCHER_H
#define SWARM_CONSUMER_BATCHER_H

#include <stddef.h>
#include <stdint.h>

typedef struct batcher_item {
        struct batcher_item *next;
        const void *key;        /* batches never mix keys (model versions) */
        const int64_t *dims;    /* nor resolved non-batch dims: n_dims values */
        int n_dims;             /* (0 for a model without symbolic dims) */
        int64_t rows;           /* >= 1 */
        int alone;              /* a batch of its own, taken without delay */
        int64_t recv_us;        /* monotonic arrival time */
        int has_deadline;
        int64_t deadline_ms;    /* wall clock, as in the request */
} batcher_item_t;

typedef struct batcher {
        batcher_item_t *head, *tail;
        int64_t rows;           /* rows queued */
} batcher_t;

/* What one key may batch. */
typedef struct batcher_limits {
        int64_t max_rows;       /* >= 1 */
        int64_t max_delay_us;   /* >= 0 */
} batcher_limits_t;

/* The inputs of batcher_limits(): the worker's defaults, the key's
 * deployment settings and what its model needs. */
typedef struct batcher_model {
        int64_t deploy_rows;    /* deployment max batch rows, <= 0: unset */
        int64_t deploy_delay_us;/* deployment max delay, <= 0: unset */
        int64_t fixed_rows;     /* > 0: the model runs exactly this many */
        size_t work_fixed;      /* working memory bytes of any batch */
        size_t work_per_row;    /* and per row (0: unknown) */
} batcher_model_t;

typedef struct batcher_conf {
        int64_t max_rows;       /* --max-batch-rows */
        int64_t max_delay_us;   /* --max-delay-us */
        int64_t budget_bytes;   /* --batch-memory-mb in bytes, 0: no cap */
} batcher_conf_t;

/* The deployment's settings win over the worker's; then rows are capped so
 * the model's working memory stays under the budget (at least one row); a
 * fixed-batch model gets exactly its batch size, whatever the rest says. */
batcher_limits_t batcher_limits(const batcher_conf_t *c,
                                const batcher_model_t *m);

/* Rows of max_rows that fit the budget: (budget - fixed) / per_row, at least
 * 1 and at most max_rows; max_rows when there is no budget or per_row is 0. */
int64_t batcher_cap_rows(int64_t budget, size_t fixed, size_t per_row,
                         int64_t max_rows);

void batcher_init(batcher_t *q);

/* Append an item (it->next is overwritten). */
void batcher_push(batcher_t *q, batcher_item_t *it);

/* Whether an item of `rows` must wait for room under max_rows queued rows:
 * a queue that is empty always takes one (so an oversized request is never
 * stuck). */
int batcher_must_wait(const batcher_t *q, int64_t rows, int64_t max_rows);

/* The oldest item, NULL when empty (its key picks the next batch's limits). */
const batcher_item_t *batcher_head(const batcher_t *q);

typedef enum batcher_state {
        BATCHER_EMPTY = 0,      /* nothing queued */
        BATCHER_WAIT,           /* not full yet: wait until *wake_us */
        BATCHER_TAKEN,          /* out->items and/or out->expired are set */
} batcher_state_t;

typedef struct batcher_batch {
        batcher_item_t *items;  /* the batch, oldest first, NULL-terminated */
        int64_t rows;
        batcher_item_t *expired;/* taken because their deadline passed */
        int64_t wake_us;        /* BATCHER_WAIT: when the delay runs out */
} batcher_batch_t;

/* The limits of the batch key of `first` (batcher_limits() of its model
 * and resolved shape); called once per batch key looked at. */
typedef batcher_limits_t (*batcher_limits_fn)(void *ctx,
                                              const batcher_item_t *first);

/* Batch keys batcher_next() looks at, oldest first: items of younger keys
 * wait until older keys drain (this bounds the scan to O(items x this)). */
#define BATCHER_SCAN_KEYS 32

/* Whether two items may run in one batch: the same item, or two with the
 * same key and dims, neither alone. */
int batcher_same_batch(const batcher_item_t *a, const batcher_item_t *b);

/* Form the next batch: the oldest ready batch key, with the limits `limits`
 * gives for it.  now_us is the monotonic clock (the same as recv_us), now_ms
 * the wall clock (the same as deadline_ms); flush takes the oldest item's
 * batch at once however small (drain, close).  BATCHER_WAIT's wake_us is
 * when the first delay runs out.  BATCHER_TAKEN may carry only expired
 * items when every candidate had expired. */
batcher_state_t batcher_next(batcher_t *q, batcher_limits_fn limits, void *ctx,
                             int64_t now_us, int64_t now_ms, int flush,
                             batcher_batch_t *out);

#endif
