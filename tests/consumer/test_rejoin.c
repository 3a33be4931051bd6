/*
 * test_rejoin.c - rejoin.h's rules: a rejoin after an assignment that adds
 * nothing, once per rebalance and never in a loop; the partitions a seek
 * wakes; the heartbeat pacing.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "rejoin.h"

#define MS 1000     /* µs */

/* The scale-up the bench measures, seen by each member, and its limits. */
static void test_after_assign(void) {
        rejoin_t joiner, owner, idle;
        int64_t t = 50 * 1000 * MS;

        /* the joiner: round 1 gives it nothing (the old owner must revoke
         * first): rejoin; round 2, 40 ms later, gives it 4: not */
        rejoin_init(&joiner, 0);
        CHECK(rejoin_after_assign(&joiner, 1, 0, t), "joiner's first, empty assignment");
        CHECK(!rejoin_after_assign(&joiner, 1, 4, t + 40 * MS), "a non-empty one");

        /* the old owner: revokes 4, is assigned nothing right after (its
         * own rejoin is immediate already), then nothing in round 2 */
        rejoin_init(&owner, 0);
        CHECK(!rejoin_after_assign(&owner, 1, 8, 0), "its first assignment had partitions");
        rejoin_note(&owner, t);
        CHECK(!rejoin_after_assign(&owner, 1, 0, t + 1 * MS), "empty right after a revoke");
        CHECK(!rejoin_after_assign(&owner, 1, 0, t + 40 * MS), "round 2, empty");

        /* a member that revoked nothing (3 -> 4 workers, it keeps its 2):
         * round 1 after a quiet spell: rejoin; the round that rejoin
         * causes ends empty too, within a second: no loop */
        rejoin_init(&idle, 0);
        CHECK(!rejoin_after_assign(&idle, 1, 2, 0), "first, with partitions");
        CHECK(rejoin_after_assign(&idle, 1, 0, t), "empty after a quiet spell");
        CHECK(!rejoin_after_assign(&idle, 1, 0, t + 900 * MS), "the round it caused");
        CHECK(!rejoin_after_assign(&idle, 1, 0, t + 900 * MS + (REJOIN_QUIET_MS - 1) * MS),
              "quiet period counts from the previous event");
        CHECK(rejoin_after_assign(&idle, 1, 0, t + 900 * MS + 2 * REJOIN_QUIET_MS * MS),
              "the next scale event");

        /* eager protocol: one round, nothing to shorten */
        rejoin_init(&idle, 0);
        CHECK(!rejoin_after_assign(&idle, 0, 0, t), "eager");
        /* ... but it still counts as an event */
        CHECK(!rejoin_after_assign(&idle, 1, 0, t + 10 * MS), "event recorded under eager");
}

static void test_wake_targets(void) {
        rd_kafka_topic_partition_list_t *pos = rd_kafka_topic_partition_list_new(4), *w;

        REQUIRE(pos);
        CHECK(!rejoin_wake_targets(NULL, NULL), "NULL");
        CHECK(!rejoin_wake_targets(pos, NULL), "empty list");
        /* kept and consumed (offsets 120, 0), just assigned or never
         * consumed (RD_KAFKA_OFFSET_INVALID), a logical one */
        rd_kafka_topic_partition_list_add(pos, "requests", 4)->offset = 120;
        rd_kafka_topic_partition_list_add(pos, "requests", 0)->offset = RD_KAFKA_OFFSET_INVALID;
        rd_kafka_topic_partition_list_add(pos, "requests", 5)->offset = 0;
        rd_kafka_topic_partition_list_add(pos, "requests", 1)->offset = RD_KAFKA_OFFSET_END;
        w = rejoin_wake_targets(pos, NULL);
        REQUIRE(w);
        CHECK(w->cnt == 2, "%d targets, want 2", w->cnt);
        CHECK(w->cnt >= 2 && w->elems[0].partition == 4 && w->elems[0].offset == 120 &&
                      !strcmp(w->elems[0].topic, "requests"),
              "first target %d@%lld", (int)w->elems[0].partition, (long long)w->elems[0].offset);
        CHECK(w->cnt >= 2 && w->elems[1].partition == 5 && w->elems[1].offset == 0,
              "second target %d@%lld", (int)w->elems[1].partition, (long long)w->elems[1].offset);
        /* the next event, before any message: the seek forgot 4's and
         * 5's positions, the previous wake's offsets stand in; 0 is still
         * unconsumed, 1 still logical */
        pos->elems[0].offset = RD_KAFKA_OFFSET_INVALID;
        pos->elems[2].offset = RD_KAFKA_OFFSET_INVALID;
        {
                rd_kafka_topic_partition_list_t *w2 = rejoin_wake_targets(pos, w);
                REQUIRE(w2);
                CHECK(w2->cnt == 2 && w2->elems[0].partition == 4 &&
                              w2->elems[0].offset == 120 && w2->elems[1].partition == 5 &&
                              w2->elems[1].offset == 0,
                      "after a wake: %d targets", w2->cnt);
                /* 4 revoked (and assigned again later): its old offset
                 * must not be sought; a message of 5 gave it a position */
                rd_kafka_topic_partition_list_t *gone = rd_kafka_topic_partition_list_new(1);
                rd_kafka_topic_partition_list_add(gone, "requests", 4);
                rejoin_forget(w2, gone);
                rejoin_forget(NULL, gone);
                pos->elems[2].offset = 7;
                rd_kafka_topic_partition_list_t *w3 = rejoin_wake_targets(pos, w2);
                REQUIRE(w3);
                CHECK(w3->cnt == 1 && w3->elems[0].partition == 5 && w3->elems[0].offset == 7,
                      "after forget: %d targets, first %d@%lld", w3->cnt,
                      (int)w3->elems[0].partition, (long long)w3->elems[0].offset);
                rd_kafka_topic_partition_list_destroy(w3);
                rd_kafka_topic_partition_list_destroy(gone);
                rd_kafka_topic_partition_list_destroy(w2);
        }
        rd_kafka_topic_partition_list_destroy(w);
        /* only unconsumed partitions: nothing to wake */
        rd_kafka_topic_partition_list_destroy(pos);
        pos = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(pos, "requests", 2)->offset = RD_KAFKA_OFFSET_INVALID;
        CHECK(!rejoin_wake_targets(pos, NULL), "no partition with a position");
        rd_kafka_topic_partition_list_destroy(pos);
}

/* CI's fault_eos lost requests this way: a wake sought partitions 5-7 to
 * their positions, messages came, an abort's rewind sought them back to
 * the last committed offsets (forgetting their positions), and the next
 * rebalance event, 8 ms later, woke them with the first wake's offsets:
 * forward, past the messages the rewind was to replay, whose offsets the
 * next transaction then committed unanswered. */
static void test_sought(void) {
        rd_kafka_topic_partition_list_t *pos = rd_kafka_topic_partition_list_new(3), *w, *w2;
        rd_kafka_topic_partition_list_t *rew = rd_kafka_topic_partition_list_new(3);
        rd_kafka_topic_partition_list_t *fresh = NULL;

        REQUIRE(pos && rew);
        rd_kafka_topic_partition_list_add(pos, "requests", 5)->offset = 1379;
        rd_kafka_topic_partition_list_add(pos, "requests", 6)->offset = 1379;
        rd_kafka_topic_partition_list_add(pos, "requests", 7)->offset = 1380;
        w = rejoin_wake_targets(pos, NULL);
        REQUIRE(w && w->cnt == 3);
        /* the rewind: 5 and 6 back to 1374, 7's seek refused (revoked
         * meanwhile); every position forgotten */
        rd_kafka_topic_partition_list_add(rew, "requests", 5)->offset = 1374;
        rd_kafka_topic_partition_list_add(rew, "requests", 6)->offset = 1377;
        rd_kafka_topic_partition_t *r7 = rd_kafka_topic_partition_list_add(rew, "requests", 7);
        r7->offset = 1375;
        r7->err = RD_KAFKA_RESP_ERR__STATE;
        rejoin_sought(&w, rew);
        for (int i = 0; i < pos->cnt; i++)
                pos->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
        w2 = rejoin_wake_targets(pos, w);
        REQUIRE(w2);
        CHECK(w2->cnt == 2, "%d targets after the rewind, want 2 (7's seek failed)", w2->cnt);
        for (int i = 0; i < w2->cnt; i++) {
                int64_t want = w2->elems[i].partition == 5 ? 1374 : 1377;
                CHECK(w2->elems[i].partition != 7 && w2->elems[i].offset == want,
                      "partition %d woken at %lld, want %lld (where the rewind put it)",
                      (int)w2->elems[i].partition, (long long)w2->elems[i].offset,
                      (long long)want);
        }
        /* no wake before: a list is made */
        rejoin_sought(&fresh, rew);
        REQUIRE(fresh);
        CHECK(fresh->cnt == 2 && fresh->elems[0].partition == 5 &&
                      fresh->elems[0].offset == 1374 && fresh->elems[1].partition == 6 &&
                      fresh->elems[1].offset == 1377,
              "from none: %d entries", fresh->cnt);
        rejoin_sought(&fresh, NULL);
        CHECK(fresh->cnt == 2, "NULL seeks change nothing");
        rd_kafka_topic_partition_list_destroy(fresh);
        rd_kafka_topic_partition_list_destroy(w2);
        rd_kafka_topic_partition_list_destroy(w);
        rd_kafka_topic_partition_list_destroy(rew);
        rd_kafka_topic_partition_list_destroy(pos);
}

static void test_pace(void) {
        rejoin_t rj;
        int n = 0;

        rejoin_init(&rj, 25);
        /* a loop turning every millisecond for one second: 40 nudges,
         * the first at once; one turning every 3 ms nudges each 27 ms */
        for (int64_t t = 1000 * MS; t < 2000 * MS; t += MS)
                n += rejoin_pace_due(&rj, t);
        CHECK(n == 40, "%d nudges in 1 s at 25 ms, want 40", n);
        n = 0;
        for (int64_t t = 2000 * MS; t < 3000 * MS; t += 3 * MS)
                n += rejoin_pace_due(&rj, t);
        CHECK(n == 38, "%d nudges in 1 s of a 3 ms loop, want 38", n);
        rejoin_init(&rj, 0);
        CHECK(!rejoin_pace_due(&rj, 1000 * MS), "pace 0: never");
        rejoin_init(&rj, -5);
        CHECK(!rejoin_pace_due(&rj, 1000 * MS), "negative pace: never");
}

int main(void) {
        test_after_assign();
        test_sought();
        test_wake_targets();
        test_pace();
        printf("%s\n", test_failures ? "FAILED" : "rejoin: all checks passed");
        return test_failures ? 1 : 0;
}
