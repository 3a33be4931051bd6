/*
 * batcher.c - batch formation for the exec stage (see batcher.h).
 */
#include "batcher.h"

#include <string.h>

int64_t batcher_cap_rows(int64_t budget, size_t fixed, size_t per_row,
                         int64_t max_rows) {
        int64_t cap;

        if (budget <= 0 || per_row == 0)
                return max_rows;
        if ((size_t)budget <= fixed)
                return 1;
        cap = (int64_t)(((size_t)budget - fixed) / per_row);
        return cap < 1 ? 1 : (cap < max_rows ? cap : max_rows);
}

batcher_limits_t batcher_limits(const batcher_conf_t *c,
                                const batcher_model_t *m) {
        batcher_limits_t l;

        l.max_rows = m->deploy_rows > 0 ? m->deploy_rows : c->max_rows;
        l.max_delay_us = m->deploy_delay_us > 0 ? m->deploy_delay_us
                                                : c->max_delay_us;
        l.max_rows = batcher_cap_rows(c->budget_bytes, m->work_fixed,
                                      m->work_per_row, l.max_rows);
        if (m->fixed_rows > 0)
                l.max_rows = m->fixed_rows;
        if (l.max_rows < 1)
                l.max_rows = 1;
        return l;
}

void batcher_init(batcher_t *q) {
        memset(q, 0, sizeof(*q));
}

void batcher_push(batcher_t *q, batcher_item_t *it) {
        it->next = NULL;
        if (q->tail)
                q->tail->next = it;
        else
                q->head = it;
        q->tail = it;
        q->rows += it->rows;
}

int batcher_must_wait(const batcher_t *q, int64_t rows, int64_t max_rows) {
        return q->rows > 0 && q->rows + rows > max_rows;
}

const batcher_item_t *batcher_head(const batcher_t *q) {
        return q->head;
}

int batcher_same_batch(const batcher_item_t *a, const batcher_item_t *b) {
        if (a == b)
                return 1;
        return !a->alone && !b->alone && a->key == b->key &&
               a->n_dims == b->n_dims &&
               (a->n_dims <= 0 ||
                !memcmp(a->dims, b->dims, (size_t)a->n_dims * sizeof(*a->dims)));
}

/* One batch key seen while scanning: its oldest item, rows counted up to
 * its max rows, its limits. */
typedef struct cand {
        batcher_item_t *first;
        int64_t rows;
        batcher_limits_t lim;
} cand_t;

batcher_state_t batcher_next(batcher_t *q, batcher_limits_fn limits, void *ctx,
                             int64_t now_us, int64_t now_ms, int flush,
                             batcher_batch_t *out) {
        cand_t c[BATCHER_SCAN_KEYS];
        const cand_t *pick = NULL;
        batcher_item_t *h, *j, *prev, *next;
        batcher_item_t **tailp, **exp_tail;
        int nc = 0;

        memset(out, 0, sizeof(*out));
        if (!q->head)
                return BATCHER_EMPTY;
        /* Count the rows of each batch key, oldest key first; stop early
         * once the oldest key's batch is full (it goes first anyway). */
        for (j = q->head; j; j = j->next) {
                int k;
                for (k = 0; k < nc && !batcher_same_batch(c[k].first, j); k++)
                        ;
                if (k == nc) {
                        if (nc == BATCHER_SCAN_KEYS)
                                continue;
                        c[nc].first = j;
                        c[nc].rows = 0;
                        if (j->alone) { /* a full batch of its own */
                                c[nc].lim.max_rows = j->rows;
                                c[nc].lim.max_delay_us = 0;
                        } else {
                                c[nc].lim = limits(ctx, j);
                        }
                        if (c[nc].lim.max_rows < 1)
                                c[nc].lim.max_rows = 1;
                        nc++;
                }
                if (c[k].rows < c[k].lim.max_rows)
                        c[k].rows += j->rows;
                if (c[0].rows >= c[0].lim.max_rows)
                        break;
        }
        if (flush)
                pick = &c[0];
        for (int k = 0; k < nc && !pick; k++)
                if (c[k].rows >= c[k].lim.max_rows ||
                    now_us - c[k].first->recv_us >= c[k].lim.max_delay_us)
                        pick = &c[k];
        if (!pick) {
                out->wake_us = c[0].first->recv_us + c[0].lim.max_delay_us;
                for (int k = 1; k < nc; k++)
                        if (c[k].first->recv_us + c[k].lim.max_delay_us < out->wake_us)
                                out->wake_us = c[k].first->recv_us + c[k].lim.max_delay_us;
                return BATCHER_WAIT;
        }
        /* Unlink the rows of the picked batch key, oldest first, up to max
         * rows (an item bigger than that runs alone); other items keep
         * their order.  An alone item's batch is that item: it batches
         * with nothing but itself. */
        h = pick->first;
        tailp = &out->items;
        exp_tail = &out->expired;
        for (prev = NULL, j = q->head; j; j = next) {
                next = j->next;
                if (!batcher_same_batch(j, h) ||
                    (out->rows > 0 && out->rows + j->rows > pick->lim.max_rows)) {
                        prev = j;
                        continue;
                }
                if (prev)
                        prev->next = next;
                else
                        q->head = next;
                if (q->tail == j)
                        q->tail = prev;
                q->rows -= j->rows;
                j->next = NULL;
                if (j->has_deadline && j->deadline_ms < now_ms) {
                        *exp_tail = j;
                        exp_tail = &j->next;
                        continue;
                }
                *tailp = j;
                tailp = &j->next;
                out->rows += j->rows;
                if (out->rows >= pick->lim.max_rows)
                        break;
        }
        return BATCHER_TAKEN;
}
