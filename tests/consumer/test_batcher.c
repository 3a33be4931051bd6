/*
 * test_batcher.c - batch formation without Kafka, threads or a real clock:
 * max rows, max delay, fixed-batch models, oversized requests alone,
 * interleaved models keeping their order, requests that asked to run alone,
 * deadlines, the memory-budget cap
 * and the exec queue bound; mixed sequence lengths of one model: batches
 * never mix shapes, order within a shape is kept, max rows and max delay
 * per shape, a full shape does not wait for an older, emptier one.
 */
#include <stdlib.h>
#include <string.h>

#include "batcher.h"
#include "check.h"

#define MAX_ITEMS 256

static batcher_item_t items[MAX_ITEMS];
static int nitems;

/* two model versions: batches key on their address */
static const int model_a, model_b;
#define A (&model_a)
#define B (&model_b)

static batcher_item_t *item(const void *key, int64_t rows, int64_t recv_us) {
        batcher_item_t *it = &items[nitems++];
        memset(it, 0, sizeof(*it));
        it->key = key;
        it->rows = rows;
        it->recv_us = recv_us;
        return it;
}

/* Push one request of key per row count in the list "r1,r2,...", all
 * received at recv_us. */
static void push_rows(batcher_t *q, const void *key, int64_t recv_us,
                      const char *rows) {
        for (const char *p = rows; *p;) {
                char *end;
                batcher_push(q, item(key, strtoll(p, &end, 10), recv_us));
                p = *end == ',' ? end + 1 : end;
        }
}

/* Push a request of key received at 0 that must be answered by
 * deadline_ms (wall clock). */
static void push_deadline(batcher_t *q, const void *key, int64_t rows,
                          int64_t deadline_ms) {
        batcher_item_t *it = item(key, rows, 0);
        it->has_deadline = 1;
        it->deadline_ms = deadline_ms;
        batcher_push(q, it);
}

static int idx(const batcher_item_t *it) {
        return (int)(it - items);
}

/* The batch's items as "i,j,k" (indices into items[]). */
static const char *list(const batcher_item_t *it) {
        static char buf[256];
        size_t n = 0;
        buf[0] = '\0';
        for (; it && n < sizeof(buf) - 8; it = it->next)
                n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%d", n ? "," : "",
                                      idx(it));
        return buf;
}

/* The limits for every batch key: the test's `lim`. */
static batcher_limits_t same_limits(void *ctx, const batcher_item_t *first) {
        (void)first;
        return *(const batcher_limits_t *)ctx;
}

static void reset(batcher_t *q) {
        batcher_init(q);
        nitems = 0;
}

static void test_max_rows_and_delay(void) {
        batcher_t q;
        batcher_limits_t lim = {10, 1000};
        batcher_batch_t bb;

        reset(&q);
        CHECK(batcher_next(&q, same_limits, &lim, 0, 0, 0, &bb) == BATCHER_EMPTY);
        /* 3 + 3 rows at t=100,200: not full, the oldest waits until 1100 */
        batcher_push(&q, item(A, 3, 100));
        batcher_push(&q, item(A, 3, 200));
        CHECK(batcher_next(&q, same_limits, &lim, 500, 0, 0, &bb) == BATCHER_WAIT);
        CHECK(bb.wake_us == 1100, "wake %lld", (long long)bb.wake_us);
        CHECK(q.rows == 6, "queued rows %lld", (long long)q.rows);
        /* the delay passed: what is there goes */
        CHECK(batcher_next(&q, same_limits, &lim, 1100, 0, 0, &bb) == BATCHER_TAKEN);
        CHECK(!strcmp(list(bb.items), "0,1"), "batch %s", list(bb.items));
        CHECK(bb.rows == 6 && !bb.expired && q.rows == 0 && !q.head);

        /* full before the delay: 4+4+4 rows, max 10 -> 4+4 now, 4 waits */
        reset(&q);
        push_rows(&q, A, 0, "4,4,4");
        CHECK(batcher_next(&q, same_limits, &lim, 1, 0, 0, &bb) == BATCHER_TAKEN);
        CHECK(!strcmp(list(bb.items), "0,1") && bb.rows == 8, "batch %s rows %lld",
              list(bb.items), (long long)bb.rows);
        CHECK(q.rows == 4 && idx(batcher_head(&q)) == 2);
        /* a flush (drain) takes the rest at once */
        CHECK(batcher_next(&q, same_limits, &lim, 2, 0, 1, &bb) == BATCHER_TAKEN);
        CHECK(!strcmp(list(bb.items), "2") && bb.rows == 4);

        /* exactly max rows from single rows: one batch of 10 */
        reset(&q);
        for (int i = 0; i < 12; i++)
                batcher_push(&q, item(A, 1, i));
        CHECK(batcher_next(&q, same_limits, &lim, 12, 0, 0, &bb) == BATCHER_TAKEN);
        CHECK(bb.rows == 10 && q.rows == 2, "rows %lld left %lld", (long long)bb.rows,
              (long long)q.rows);
}

static void test_oversized_alone(void) {
        batcher_t q;
        batcher_limits_t lim = {64, 5000};
        batcher_batch_t bb;

        reset(&q);
        push_rows(&q, A, 0, "300,300,7");
        /* a request bigger than max rows runs alone and whole */
        CHECK(batcher_next(&q, same_limits, &lim, 0, 0, 0, &bb) == BATCHER_TAKEN);
        CHECK(!strcmp(list(bb.items), "0") && bb.rows == 300, "batch %s",
              list(bb.items));
        CHECK(batcher_next(&q, same_limits, &lim, 0, 0, 0, &bb) == BATCHER_TAKEN);
        CHECK(!strcmp(list(bb.items), "1") && bb.rows == 300);
        /* the small one is not pulled into an oversized batch; it waits */
        CHECK(batcher_next(&q, same_limits, &lim, 0, 0, 0, &bb) == BATCHER_WAIT);
        CHECK(batcher_next(&q, same_limits, &lim, 5000, 0, 0, &bb) == BATCHER_TAKEN);
        CHECK(!strcmp(list(bb.items), "2") && bb.rows == 7);

        /* a small batch never takes an oversized request after it */
        reset(&q);
        push_rows(&q, A, 0, "7,300");
        CHECK(batcher_next(&q, same_limits, &lim, 0, 0, 0, &bb) == BATCHER_TAKEN);
        CHECK(!strcmp(list(bb.items), "0") && bb.rows == 7, "batch %s",
              list(bb.items));
        CHECK(idx(batcher_head(&q)) == 1);
}

/* Requests marked alone (swarm.batch=alone): each is a batch of its own,
 * taken at once in its turn; the others batch around them in order. */
static void test_marked_alone(void) {
        batcher_t q;
        batcher_limits_t lim = {64, 5000};
        batcher_batch_t bb;

        reset(&q);
        push_rows(&q, A, 0, "3,20,20,5,4");
        items[1].alone = items[2].alone = 1;
        /* the oldest, 3 merge rows, waits for its delay; the alone ones
         * behind it are full batches, so they go first, one by one */
        CHECK(batcher_next(&q, same_limits, &lim, 10, 0, 0, &bb) == BATCHER_TAKEN);
        CHECK(!strcmp(list(bb.items), "1") && bb.rows == 20, "batch %s rows %lld",
              list(bb.items), (long long)bb.rows);
        CHECK(batcher_next(&q, same_limits, &lim, 10, 0, 0, &bb) == BATCHER_TAKEN);
        CHECK(!strcmp(list(bb.items), "2") && bb.rows == 20, "batch %s", list(bb.items));
        CHECK(q.rows == 12, "left %lld", (long long)q.rows);
        /* the merge rows were never pulled into them, and still batch */
        CHECK(batcher_next(&q, same_limits, &lim, 10, 0, 0, &bb) == BATCHER_WAIT);
        CHECK(batcher_next(&q, same_limits, &lim, 5000, 0, 0, &bb) == BATCHER_TAKEN);
        CHECK(!strcmp(list(bb.items), "0,3,4") && bb.rows == 12, "batch %s",
              list(bb.items));

        /* an alone item at the head goes at once, even when tiny, and does
         * not take the same-key item after it; a flush takes it alone too */
        reset(&q);
        push_rows(&q, A, 0, "1,1,1");
        items[0].alone = 1;
        CHECK(batcher_next(&q, same_limits, &lim, 0, 0, 0, &bb) == BATCHER_TAKEN);
        CHECK(!strcmp(list(bb.items), "0") && bb.rows == 1, "batch %s", list(bb.items));
        items[2].alone = 1;
        CHECK(batcher_next(&q, same_limits, &lim, 0, 0, 1, &bb) == BATCHER_TAKEN);
        CHECK(!strcmp(list(bb.items), "1"), "flush %s", list(bb.items));
        CHECK(batcher_next(&q, same_limits, &lim, 0, 0, 0, &bb) == BATCHER_TAKEN);
        CHECK(!strcmp(list(bb.items), "2") && q.rows == 0 && !q.head);

        /* an expired alone item is handed back as expired, alone */
        reset(&q);
        push_deadline(&q, A, 8, 100);
        push_rows(&q, A, 0, "2");
        items[0].alone = 1;
        CHECK(batcher_next(&q, same_limits, &lim, 0, 200, 0, &bb) == BATCHER_TAKEN);
        CHECK(!bb.items && bb.expired && idx(bb.expired) == 0 && !bb.expired->next,
              "expired %s", list(bb.expired));
        CHECK(q.rows == 2 && idx(batcher_head(&q)) == 1);
}

static void test_interleaved_models(void) {
        batcher_t q;
        batcher_limits_t lim = {4, 1000};
        batcher_batch_t bb;

        reset(&q);
        /* A0 B1 A2 B3 A4 B5 A6, one row each */
        for (int i = 0; i < 7; i++)
                batcher_push(&q, item(i % 2 ? B : A, 1, i));
        /* the oldest is A: its 4 rows, oldest first */
        CHECK(batcher_next(&q, same_limits, &lim, 0, 0, 0, &bb) == BATCHER_TAKEN);
        CHECK(!strcmp(list(bb.items), "0,2,4,6"), "batch %s", list(bb.items));
        /* B keeps its order and is next; 3 rows wait for the delay */
        CHECK(idx(batcher_head(&q)) == 1);
        CHECK(batcher_next(&q, same_limits, &lim, 10, 0, 0, &bb) == BATCHER_WAIT);
        CHECK(bb.wake_us == 1001, "wake %lld", (long long)bb.wake_us);
        CHECK(batcher_next(&q, same_limits, &lim, 1001, 0, 0, &bb) == BATCHER_TAKEN);
        CHECK(!strcmp(list(bb.items), "1,3,5"), "batch %s", list(bb.items));
        CHECK(!q.head && !q.tail && q.rows == 0);

        /* a full batch of A leaves B items between them in place */
        reset(&q);
        batcher_push(&q, item(A, 2, 0));
        batcher_push(&q, item(B, 1, 0));
        batcher_push(&q, item(A, 2, 0));
        batcher_push(&q, item(B, 1, 0));
        batcher_push(&q, item(A, 2, 0));
        CHECK(batcher_next(&q, same_limits, &lim, 0, 0, 0, &bb) == BATCHER_TAKEN);
        CHECK(!strcmp(list(bb.items), "0,2"), "batch %s", list(bb.items));
        CHECK(!strcmp(list(q.head), "1,3,4"), "left %s", list(q.head));
        CHECK(idx(q.tail) == 4 && q.rows == 4);
}

static void test_fixed_batch(void) {
        batcher_conf_t c = {256, 2000, 0};
        batcher_model_t m;
        batcher_limits_t lim;
        batcher_t q;
        batcher_batch_t bb;

        memset(&m, 0, sizeof(m));
        m.fixed_rows = 8;
        m.deploy_rows = 64;             /* the model's fixed size wins */
        lim = batcher_limits(&c, &m);
        CHECK(lim.max_rows == 8 && lim.max_delay_us == 2000, "limits %lld %lld",
              (long long)lim.max_rows, (long long)lim.max_delay_us);
        /* requests of a fixed-batch model carry exactly 8 rows: one each */
        reset(&q);
        push_rows(&q, A, 0, "8,8");
        CHECK(batcher_next(&q, same_limits, &lim, 0, 0, 0, &bb) == BATCHER_TAKEN);
        CHECK(!strcmp(list(bb.items), "0") && bb.rows == 8);
        CHECK(batcher_next(&q, same_limits, &lim, 0, 0, 0, &bb) == BATCHER_TAKEN);
        CHECK(!strcmp(list(bb.items), "1"));
}

static void test_limits(void) {
        batcher_conf_t c = {256, 2000, 0};
        batcher_model_t m;
        batcher_limits_t lim;

        memset(&m, 0, sizeof(m));
        lim = batcher_limits(&c, &m);
        CHECK(lim.max_rows == 256 && lim.max_delay_us == 2000);
        /* deployment settings win over the worker's */
        m.deploy_rows = 32;
        m.deploy_delay_us = 500;
        lim = batcher_limits(&c, &m);
        CHECK(lim.max_rows == 32 && lim.max_delay_us == 500);
        /* the memory budget caps rows: (1 MiB - 64 KiB) / 4 KiB = 240 */
        c.budget_bytes = 1 << 20;
        m.deploy_rows = 0;
        m.work_fixed = 64 << 10;
        m.work_per_row = 4 << 10;
        lim = batcher_limits(&c, &m);
        CHECK(lim.max_rows == 240, "capped %lld", (long long)lim.max_rows);
        /* never below one row, even when the fixed part alone is over */
        m.work_fixed = 2 << 20;
        CHECK(batcher_limits(&c, &m).max_rows == 1);
        /* unknown per-row memory: no cap */
        m.work_fixed = 0;
        m.work_per_row = 0;
        CHECK(batcher_limits(&c, &m).max_rows == 256);
        CHECK(batcher_cap_rows(0, 0, 100, 77) == 77);
        CHECK(batcher_cap_rows(1000, 100, 100, 77) == 9);
        CHECK(batcher_cap_rows(1000, 100, 100, 5) == 5);
}

static void test_deadlines(void) {
        batcher_t q;
        batcher_limits_t lim = {10, 1000};
        batcher_batch_t bb;

        reset(&q);
        /* deadlines on the wall clock: now is 5000 ms */
        push_deadline(&q, A, 2, 4000);          /* passed */
        push_deadline(&q, A, 2, 6000);          /* still ahead */
        push_rows(&q, A, 0, "2");               /* none */
        push_deadline(&q, A, 2, 4999);          /* passed by 1 ms */
        CHECK(batcher_next(&q, same_limits, &lim, 1000, 5000, 0, &bb) == BATCHER_TAKEN);
        CHECK(!strcmp(list(bb.items), "1,2") && bb.rows == 4, "batch %s",
              list(bb.items));
        CHECK(!strcmp(list(bb.expired), "0,3"), "expired %s", list(bb.expired));
        CHECK(q.rows == 0 && !q.head);

        /* a deadline equal to now has not passed */
        reset(&q);
        push_deadline(&q, A, 1, 5000);
        CHECK(batcher_next(&q, same_limits, &lim, 1000, 5000, 0, &bb) == BATCHER_TAKEN);
        CHECK(!strcmp(list(bb.items), "0") && !bb.expired);

        /* every candidate expired: taken with no batch, only expired */
        reset(&q);
        push_deadline(&q, A, 1, 1);
        CHECK(batcher_next(&q, same_limits, &lim, 0, 5000, 1, &bb) == BATCHER_TAKEN);
        CHECK(!bb.items && bb.rows == 0 && !strcmp(list(bb.expired), "0"));
}

/* Resolved sequence lengths (the item's dims point here). */
static const int64_t len8[] = {8}, len16[] = {16}, len32[] = {32};

static batcher_item_t *seq_item(const void *key, const int64_t *len, int64_t rows,
                                int64_t recv_us) {
        batcher_item_t *it = item(key, rows, recv_us);
        it->dims = len;
        it->n_dims = 1;
        return it;
}

/* Per-shape limits, as the worker's memory cap from the resolved shape
 * gives them: longer sequences get fewer rows and, here, a shorter delay. */
static batcher_limits_t by_length(void *ctx, const batcher_item_t *first) {
        batcher_limits_t l = {4, 2000};
        int *calls = ctx;
        (*calls)++;
        if (first->n_dims == 1 && first->dims[0] == 32) {
                l.max_rows = 2;
                l.max_delay_us = 500;
        }
        return l;
}

/* Every item of the batch has the same key and dims as the first. */
static int one_shape(const batcher_item_t *it) {
        for (const batcher_item_t *j = it; j; j = j->next)
                if (!batcher_same_batch(it, j))
                        return 0;
        return 1;
}

static void test_mixed_lengths(void) {
        batcher_t q;
        batcher_limits_t lim = {4, 1000};
        batcher_batch_t bb;
        int calls = 0;

        /* 8,16,32,8,16,32,...: one batch per length, oldest length first,
         * each in arrival order */
        reset(&q);
        for (int i = 0; i < 12; i++)
                batcher_push(&q, seq_item(A, i % 3 == 0 ? len8 : i % 3 == 1 ? len16 : len32,
                                          1, i));
        CHECK(batcher_next(&q, same_limits, &lim, 100, 0, 0, &bb) == BATCHER_TAKEN);
        CHECK(!strcmp(list(bb.items), "0,3,6,9") && bb.rows == 4, "batch %s",
              list(bb.items));
        CHECK(batcher_next(&q, same_limits, &lim, 100, 0, 0, &bb) == BATCHER_TAKEN);
        CHECK(!strcmp(list(bb.items), "1,4,7,10"), "batch %s", list(bb.items));
        CHECK(batcher_next(&q, same_limits, &lim, 100, 0, 0, &bb) == BATCHER_TAKEN);
        CHECK(!strcmp(list(bb.items), "2,5,8,11"), "batch %s", list(bb.items));
        CHECK(batcher_next(&q, same_limits, &lim, 100, 0, 0, &bb) == BATCHER_EMPTY);

        /* a full batch of length 16 does not wait for the delay of an
         * older, lone length-8 request; that one goes at its own delay */
        reset(&q);
        batcher_push(&q, seq_item(A, len8, 1, 0));
        for (int i = 0; i < 4; i++)
                batcher_push(&q, seq_item(A, len16, 1, 10 + i));
        CHECK(batcher_next(&q, same_limits, &lim, 20, 0, 0, &bb) == BATCHER_TAKEN);
        CHECK(!strcmp(list(bb.items), "1,2,3,4"), "batch %s", list(bb.items));
        CHECK(idx(batcher_head(&q)) == 0 && q.rows == 1);
        CHECK(batcher_next(&q, same_limits, &lim, 20, 0, 0, &bb) == BATCHER_WAIT);
        CHECK(bb.wake_us == 1000, "wake %lld", (long long)bb.wake_us);
        CHECK(batcher_next(&q, same_limits, &lim, 1000, 0, 0, &bb) == BATCHER_TAKEN);
        CHECK(!strcmp(list(bb.items), "0"), "batch %s", list(bb.items));

        /* max rows and max delay per shape (by_length: 32 -> 2 rows, 500 us;
         * else 4 rows, 2000 us) */
        reset(&q);
        batcher_push(&q, seq_item(A, len8, 1, 0));
        batcher_push(&q, seq_item(A, len32, 1, 100));
        CHECK(batcher_next(&q, by_length, &calls, 300, 0, 0, &bb) == BATCHER_WAIT);
        CHECK(bb.wake_us == 600, "wake %lld", (long long)bb.wake_us);
        CHECK(calls == 2, "limits asked %d times", calls);
        CHECK(batcher_next(&q, by_length, &calls, 600, 0, 0, &bb) == BATCHER_TAKEN);
        CHECK(!strcmp(list(bb.items), "1"), "batch %s", list(bb.items));
        CHECK(batcher_next(&q, by_length, &calls, 700, 0, 0, &bb) == BATCHER_WAIT);
        CHECK(bb.wake_us == 2000, "wake %lld", (long long)bb.wake_us);
        batcher_push(&q, seq_item(A, len32, 1, 800));
        batcher_push(&q, seq_item(A, len32, 1, 801));
        batcher_push(&q, seq_item(A, len32, 1, 802));
        /* length 32 is full at 2 rows: taken at once, its third waits */
        CHECK(batcher_next(&q, by_length, &calls, 810, 0, 0, &bb) == BATCHER_TAKEN);
        CHECK(!strcmp(list(bb.items), "2,3") && bb.rows == 2, "batch %s",
              list(bb.items));
        CHECK(batcher_next(&q, by_length, &calls, 810, 0, 0, &bb) == BATCHER_WAIT);
        CHECK(bb.wake_us == 1302, "wake %lld", (long long)bb.wake_us);
        /* a flush takes the oldest item's shape, and only it */
        CHECK(batcher_next(&q, by_length, &calls, 811, 0, 1, &bb) == BATCHER_TAKEN);
        CHECK(!strcmp(list(bb.items), "0"), "batch %s", list(bb.items));
        CHECK(batcher_next(&q, by_length, &calls, 811, 0, 1, &bb) == BATCHER_TAKEN);
        CHECK(!strcmp(list(bb.items), "4"), "batch %s", list(bb.items));
        CHECK(!q.head && q.rows == 0);

        /* the same length of two model versions never mixes */
        reset(&q);
        batcher_push(&q, seq_item(A, len8, 1, 0));
        batcher_push(&q, seq_item(B, len8, 1, 0));
        batcher_push(&q, seq_item(A, len8, 1, 0));
        CHECK(batcher_next(&q, same_limits, &lim, 0, 0, 1, &bb) == BATCHER_TAKEN);
        CHECK(!strcmp(list(bb.items), "0,2"), "batch %s", list(bb.items));
}

/* A long random mixed stream (1-3 rows, lengths 8/16/32, time moving on):
 * every item is taken exactly once, no batch mixes shapes or goes over its
 * max rows unless it is one oversized item, order within a shape is kept,
 * and no item waits more than its shape's max delay (+ one 50 us step). */
static void test_mixed_stream(void) {
        static const int64_t *lens[] = {len8, len16, len32};
        batcher_t q;
        batcher_batch_t bb;
        uint32_t rnd = 12345;
        int taken[MAX_ITEMS] = {0}, last[3] = {-1, -1, -1}, n = 0, calls = 0;
        int64_t now = 0;

        reset(&q);
        while (n < MAX_ITEMS || q.head) {
                batcher_state_t st;
                if (n < MAX_ITEMS) {
                        rnd = rnd * 1103515245u + 12345u;
                        batcher_push(&q, seq_item(A, lens[(rnd >> 16) % 3],
                                                  1 + (rnd >> 8) % 3, now));
                        n++;
                }
                now += 50;
                while ((st = batcher_next(&q, by_length, &calls, now, 0, 0, &bb)) ==
                       BATCHER_TAKEN) {
                        int64_t max = bb.items->dims[0] == 32 ? 2 : 4;
                        CHECK(one_shape(bb.items), "batch %s mixes shapes",
                              list(bb.items));
                        CHECK(bb.rows <= max || !bb.items->next, "batch %s: %lld rows",
                              list(bb.items), (long long)bb.rows);
                        for (batcher_item_t *j = bb.items; j; j = j->next) {
                                int s = j->dims[0] == 8 ? 0 : j->dims[0] == 16 ? 1 : 2;
                                CHECK(idx(j) > last[s], "item %d after %d", idx(j), last[s]);
                                CHECK(now - j->recv_us <= (s == 2 ? 500 : 2000) + 50,
                                      "item %d waited %lld us", idx(j),
                                      (long long)(now - j->recv_us));
                                last[s] = idx(j);
                                taken[idx(j)]++;
                        }
                }
                CHECK(st == BATCHER_EMPTY || bb.wake_us > now);
                if (n == MAX_ITEMS && st == BATCHER_WAIT)
                        now = bb.wake_us - 50;
        }
        for (int i = 0; i < MAX_ITEMS; i++)
                CHECK(taken[i] == 1, "item %d taken %d times", i, taken[i]);
}

static void test_queue_bound(void) {
        batcher_t q;

        reset(&q);
        /* an empty queue takes anything, even over the bound */
        CHECK(!batcher_must_wait(&q, 10000, 4096));
        batcher_push(&q, item(A, 4000, 0));
        CHECK(!batcher_must_wait(&q, 96, 4096));
        CHECK(batcher_must_wait(&q, 97, 4096));
}

int main(void) {
        test_max_rows_and_delay();
        test_oversized_alone();
        test_marked_alone();
        test_interleaved_models();
        test_fixed_batch();
        test_limits();
        test_deadlines();
        test_queue_bound();
        test_mixed_lengths();
        test_mixed_stream();
        TEST_DONE();
}
