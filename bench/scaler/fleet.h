/*
 * fleet.h - a simulated worker fleet on a partitioned topic, for the policy
 * tests (tests/scaler) and the simulator (bench/scaler).
 *
 * Model: P partitions, requests arrive spread evenly over them; partition i
 * belongs to worker i % n (n active workers), and a worker splits its
 * capacity evenly over its partitions that have lag.  A started worker
 * consumes only after join_delay_s (group join and rebalance); a stopped one
 * leaves at once (it finished its batch and committed).  Committed offsets
 * equal what was consumed; a step's arrivals are consumed from the next
 * step on (commit lag).  Worker-seconds count every started worker,
 * joining or not.  Single-threaded.
 */
#ifndef SWARM_BENCH_FLEET_H
#define SWARM_BENCH_FLEET_H

#include <stdint.h>

#define FLEET_MAX_P 256
#define FLEET_MAX_W 256

typedef struct fleet {
        int P;
        double capacity;          /* requests/s per worker */
        double join_delay_s;
        double high[FLEET_MAX_P], committed[FLEET_MAX_P];
        int frozen[FLEET_MAX_P];  /* a stuck partition: never consumed */
        double ready_at[FLEET_MAX_W]; /* per started worker */
        int started;              /* workers started (running or joining) */
        double t;
        double worker_seconds;
} fleet_t;

void fleet_init(fleet_t *f, int partitions, double capacity,
                double join_delay_s, int workers);
/* Advance by dt seconds with `arrivals` new requests in that step. */
void fleet_step(fleet_t *f, double dt, double arrivals);
/* Start or stop workers to reach n. */
void fleet_resize(fleet_t *f, int n);
/* Workers consuming now. */
int fleet_active(const fleet_t *f);
double fleet_lag(const fleet_t *f);

#endif
