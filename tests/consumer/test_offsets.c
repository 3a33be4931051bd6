/*
 * test_offsets.c - the offset tracker stores an offset only when every
 * earlier message of its partition is done, whatever order acks come in.
 */
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "offsets.h"

/* offtrack_done_many()'s advances, recorded */
typedef struct adv {
        int n;
        int32_t part[16];
        int64_t off[16];
} adv_t;

static void record_adv(void *ctx, int32_t partition, int64_t offset) {
        adv_t *a = ctx;
        if (a->n < 16) {
                a->part[a->n] = partition;
                a->off[a->n] = offset;
        }
        a->n++;
}

/* Marking a round's refs at once advances exactly as one at a time:
 * out-of-order refs of two partitions, a stale one (reset partition) and
 * an empty round. */
static void test_done_many(void) {
        offtrack_t *t;
        offtrack_ref_t p0[5], p1[4], stale, round[8];
        swarm_err_t err;
        adv_t a = {0};

        swarm_err_clear(&err);
        if (offtrack_new(&t, &err)) {
                CHECK(0, "offtrack_new");
                return;
        }
        for (int i = 0; i < 4; i++) {
                offtrack_add(t, 0, 100 + i, &p0[i], &err);      /* 100..103 */
                offtrack_add(t, 1, 200 + i, &p1[i], &err);      /* 200..203 */
        }
        offtrack_add(t, 0, 104, &p0[4], &err);
        offtrack_add(t, 5, 8, &stale, &err);
        offtrack_reset(t, 5);
        /* partition 0: 101, 102 done (no advance: 100 is not); partition 1:
         * 201 then 200 (advance to 202); partition 5's ref is stale */
        round[0] = stale;
        round[1] = p0[1];
        round[2] = p0[2];
        round[3] = p1[1];
        round[4] = p1[0];
        offtrack_done_many(t, round, 5, record_adv, &a);
        CHECK(a.n == 1 && a.part[0] == 1 && a.off[0] == 202,
              "one advance, partition 1 to 202: n=%d part=%d off=%lld", a.n,
              (int)a.part[0], (long long)a.off[0]);
        CHECK(offtrack_inflight(t) == 5, "in flight: 100, 103, 104, 202, 203; got %lld",
              (long long)offtrack_inflight(t));
        /* 104 and 103, still behind 100; then an empty round; then 100
         * advances partition 0 to 105 in one report */
        a.n = 0;
        round[0] = p0[4];
        round[1] = p0[3];
        offtrack_done_many(t, round, 2, record_adv, &a);
        offtrack_done_many(t, round, 0, record_adv, &a);
        CHECK(a.n == 0, "no advance while offset 100 is in flight: n=%d", a.n);
        round[0] = p0[0];
        offtrack_done_many(t, round, 1, record_adv, &a);
        CHECK(a.n == 1 && a.part[0] == 0 && a.off[0] == 105,
              "partition 0 to 105: n=%d part=%d off=%lld", a.n, (int)a.part[0],
              (long long)a.off[0]);
        CHECK(offtrack_inflight(t) == 2, "in flight: 202, 203; got %lld",
              (long long)offtrack_inflight(t));
        offtrack_destroy(t);
}

int main(void) {
        offtrack_t *t;
        offtrack_ref_t r[5000];
        swarm_err_t err;
        int64_t off = -1;
        unsigned seed = 12345;

        swarm_err_clear(&err);
        if (offtrack_new(&t, &err))
                return 1;

        /* offsets with gaps (compaction, transaction markers) */
        for (int i = 0; i < 4; i++)
                offtrack_add(t, 3, 10 + 2 * i, &r[i], &err); /* 10 12 14 16 */
        CHECK(offtrack_inflight(t) == 4, "inflight %lld", (long long)offtrack_inflight(t));
        CHECK(!offtrack_done(t, r[2], &off), "14 done before 10 must not advance");
        CHECK(!offtrack_done(t, r[1], &off), "12 done before 10 must not advance");
        CHECK(offtrack_done(t, r[0], &off) && off == 15,
              "10 done: commit 15 (after 14), got %lld", (long long)off);
        CHECK(offtrack_done(t, r[3], &off) && off == 17, "commit 17, got %lld",
              (long long)off);
        CHECK(offtrack_inflight(t) == 0, "inflight after all done");

        /* two partitions interleaved, ring growth past its first capacity,
         * acks in random order: the final commit is last + 1 exactly */
        for (int i = 0; i < 5000; i++)
                offtrack_add(t, i % 2, 100 + i / 2, &r[i], &err);
        for (int i = 4999; i > 0; i--) {
                int j = (int)((seed = seed * 1103515245u + 12345u) % (unsigned)(i + 1));
                offtrack_ref_t tmp = r[i];
                r[i] = r[j];
                r[j] = tmp;
        }
        {
                int64_t last[2] = {-1, -1};
                for (int i = 0; i < 5000; i++) {
                        int64_t o;
                        if (offtrack_done(t, r[i], &o)) {
                                CHECK(o > last[r[i].partition], "commit went backwards");
                                last[r[i].partition] = o;
                        }
                }
                CHECK(last[0] == 100 + 2500 && last[1] == 100 + 2500,
                      "final commits %lld %lld, want 2600", (long long)last[0],
                      (long long)last[1]);
        }

        /* reset forgets a revoked partition's in-flight messages */
        offtrack_add(t, 7, 1, &r[0], &err);
        offtrack_add(t, 7, 2, &r[1], &err);
        offtrack_reset(t, 7);
        CHECK(offtrack_inflight(t) == 0, "reset leaves nothing in flight");
        CHECK(!offtrack_done(t, r[0], &off), "done after reset is ignored");

        offtrack_destroy(t);
        test_done_many();
        printf("%s\n", test_failures ? "FAILED" : "offsets: all checks passed");
        return test_failures ? 1 : 0;
}
