/*
 * test_job_pool.c - jobs given back by the output thread come out of
 * job_pool_get() again, zeroed, and the pool holds at most JOB_POOL_MAX.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "job.h"

/* A job whose every byte is not zero, as one back from the output stage. */
static job_t *dirty_job(void) {
        job_t *j = malloc(sizeof(*j));
        if (j)
                memset(j, 0xa5, sizeof(*j));
        return j;
}

static int is_zero(const job_t *j) {
        const unsigned char *p = (const unsigned char *)j;
        for (size_t i = 0; i < sizeof(*j); i++)
                if (p[i])
                        return 0;
        return 1;
}

int main(void) {
        job_pool_t pool;
        job_t *a, *b, *c, *got[3];

        memset(&pool, 0, sizeof(pool));
        /* empty pool: a fresh zeroed job */
        a = job_pool_get(&pool);
        CHECK(a && is_zero(a), "a job from an empty pool is zeroed");
        free(a);

        /* a chain of three given at once comes back, each zeroed */
        a = dirty_job();
        b = dirty_job();
        c = dirty_job();
        if (!a || !b || !c)
                return 1;
        a->it.next = &b->it;
        b->it.next = &c->it;
        CHECK(job_pool_room(&pool, 3), "room for three");
        job_pool_give(&pool, a, c, 3);
        for (int i = 0; i < 3; i++) {
                got[i] = job_pool_get(&pool);
                CHECK(got[i] && is_zero(got[i]), "job %d zeroed", i);
        }
        CHECK(got[0] == a && got[1] == b && got[2] == c,
              "the given jobs are used again, in chain order");
        for (int i = 0; i < 3; i++)
                free(got[i]);

        /* the cap: given jobs count until the consumer side takes them */
        a = dirty_job();
        if (!a)
                return 1;
        a->it.next = NULL;
        job_pool_give(&pool, a, a, 1);
        CHECK(job_pool_room(&pool, JOB_POOL_MAX - 1), "room up to the cap");
        CHECK(!job_pool_room(&pool, JOB_POOL_MAX), "no room past the cap");
        /* what is left is freed by job_pool_drain (ASan: no leak) */
        job_pool_drain(&pool);
        CHECK(job_pool_room(&pool, JOB_POOL_MAX), "drained pool is empty");

        printf("%s\n", test_failures ? "FAILED" : "job_pool: all checks passed");
        return test_failures ? 1 : 0;
}
