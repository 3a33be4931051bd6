/*
 * test_offsets.c - the offset tracker stores an offset only when every
 * earlier message of its partition is done, whatever order acks come in.
 */
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "offsets.h"

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
        printf("%s\n", test_failures ? "FAILED" : "offsets: all checks passed");
        return test_failures ? 1 : 0;
}
