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

batcher_state_t batcher_next(batcher_t *q, const batcher_limits_t *lim,
                             int64_t now_us, int64_t now_ms, int flush,
                             batcher_batch_t *out) {
        batcher_item_t *head = q->head, *j, *prev, *next;
        batcher_item_t **tailp, **exp_tail;
        int64_t rows = 0;

        memset(out, 0, sizeof(*out));
        if (!head)
                return BATCHER_EMPTY;
        for (j = head; j && rows < lim->max_rows; j = j->next)
                if (j->key == head->key)
                        rows += j->rows;
        if (rows < lim->max_rows && !flush &&
            now_us < head->recv_us + lim->max_delay_us) {
                out->wake_us = head->recv_us + lim->max_delay_us;
                return BATCHER_WAIT;
        }
        /* Unlink the rows of head's key, oldest first, up to max rows (an
         * item bigger than that runs alone); other keys keep their order. */
        tailp = &out->items;
        exp_tail = &out->expired;
        for (prev = NULL, j = q->head; j; j = next) {
                next = j->next;
                if (j->key != head->key ||
                    (out->rows > 0 && out->rows + j->rows > lim->max_rows)) {
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
                if (out->rows >= lim->max_rows)
                        break;
        }
        return BATCHER_TAKEN;
}
