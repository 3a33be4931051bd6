/*
 * test_policy.c - the scaler policy against synthetic traces (no Kafka):
 * burst, ramp, steady, idle (to zero and activation), one stuck partition,
 * noise.  The fleet model (bench/scaler/fleet.c) consumes at a fixed
 * capacity per worker; decisions are applied at once, workers join after
 * 2 s.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fleet.h"
#include "policy.h"

typedef double (*trace_fn)(double t, void *arg); /* requests in [t, t+1) */

typedef struct run {
        policy_t *p;
        fleet_t f;
        policy_decision_t d;
        int changes, ups, downs, last_dir;
        int dir_flips;          /* up after down or down after up */
        double first_up_t, first_down_t, drained_t;
} run_t;

static void sample(run_t *r, policy_part_in_t *in) {
        for (int i = 0; i < r->f.P; i++) {
                in[i].low = 0;
                in[i].high = (int64_t)r->f.high[i];
                in[i].committed = (int64_t)r->f.committed[i];
        }
}

static void start(run_t *r, const policy_conf_t *c, int P, double cap,
                  int workers) {
        swarm_err_t err;
        memset(r, 0, sizeof(*r));
        swarm_err_clear(&err);
        if (policy_new(c, P, &r->p, &err)) {
                fprintf(stderr, "policy_new: %s\n", err.msg);
                exit(1);
        }
        fleet_init(&r->f, P, cap, 2.0, workers);
        r->first_up_t = r->first_down_t = r->drained_t = -1;
}

/* Run from the fleet's time to `until`, polling every second. */
static void drive(run_t *r, trace_fn fn, void *arg, double until, int verbose) {
        policy_part_in_t in[FLEET_MAX_P];
        while (r->f.t < until - 1e-9) {
                fleet_step(&r->f, 1.0, fn(r->f.t, arg));
                sample(r, in);
                policy_update(r->p, r->f.t, in, r->f.started, &r->d);
                if (verbose)
                        printf("t=%5.0f workers=%d desired=%d reason=%s %s\n",
                               r->f.t, r->f.started, r->d.desired, r->d.reason,
                               r->d.detail);
                if (r->d.dir != POLICY_HOLD) {
                        r->changes++;
                        if (r->d.dir == POLICY_UP) {
                                r->ups++;
                                if (r->first_up_t < 0)
                                        r->first_up_t = r->f.t;
                        } else {
                                r->downs++;
                                if (r->first_down_t < 0)
                                        r->first_down_t = r->f.t;
                        }
                        if (r->last_dir && r->last_dir != r->d.dir)
                                r->dir_flips++;
                        r->last_dir = r->d.dir;
                        fleet_resize(&r->f, r->d.desired);
                }
        }
}

static double zero(double t, void *arg) {
        (void)t;
        (void)arg;
        return 0;
}

static double constant(double t, void *arg) {
        (void)t;
        return *(double *)arg;
}

static double burst(double t, void *arg) {
        /* 60000 requests in the second starting at t = 20 */
        (void)arg;
        return t >= 20 && t < 21 ? 60000 : 0;
}

static double ramp(double t, void *arg) {
        (void)arg;
        return t < 120 ? t * 30 : 3600; /* 0 -> 3600/s over two minutes */
}

static double noisy(double t, void *arg) {
        /* 1500/s +- 40 %, deterministic pseudo-noise */
        unsigned *seed = arg;
        (void)t;
        *seed = *seed * 1103515245u + 12345u;
        return 1500 * (0.6 + 0.8 * ((*seed >> 16) & 0x7fff) / 32767.0);
}

static policy_conf_t base_conf(void) {
        policy_conf_t c;
        policy_conf_default(&c);
        c.min_workers = 1;
        c.max_workers = 4;
        c.drain_target_s = 10;
        c.worker_capacity = 1000;
        c.rate_window_s = 5;
        c.scale_down_window_s = 30;
        c.idle_window_s = 60;
        c.stall_window_s = 10;
        c.hysteresis = 0.2;
        c.settle_s = 3;
        return c;
}

static void test_even_step(void) {
        CHECK(policy_even_step(0, 16) == 0, "0");
        CHECK(policy_even_step(1, 16) == 1, "1");
        CHECK(policy_even_step(3, 16) == 4, "3 of 16 -> 4 (3 drain like 2.67)");
        CHECK(policy_even_step(4, 16) == 4, "4");
        CHECK(policy_even_step(5, 16) == 6, "5 of 16 -> 6 (5 drain like 4)");
        CHECK(policy_even_step(9, 16) == 16, "9 of 16 -> 16 (busiest holds 2 until 16)");
        CHECK(policy_even_step(3, 12) == 3, "3 of 12");
        CHECK(policy_even_step(40, 16) == 16, "capped by partitions");
}

static void test_burst(void) {
        policy_conf_t c = base_conf();
        run_t r;
        start(&r, &c, 8, 1000, 1);
        drive(&r, burst, NULL, 20, 0);
        CHECK(r.changes == 0, "quiet before the burst: %d changes", r.changes);
        drive(&r, burst, NULL, 22, 0);
        CHECK(r.f.started == 4, "at max within two polls of the burst: %d",
              r.f.started);
        CHECK(r.first_up_t > 0 && r.first_up_t <= 22, "up at %.0f", r.first_up_t);
        CHECK(!strcmp(r.d.reason, "backlog") || r.d.dir == POLICY_HOLD,
              "reason %s", r.d.reason);
        /* drain: 60000 at 4000/s after the 2 s join -> ~17 s */
        while (r.f.t < 200) {
                drive(&r, burst, NULL, r.f.t + 1, 0);
                if (r.drained_t < 0 && fleet_lag(&r.f) < 1)
                        r.drained_t = r.f.t;
        }
        CHECK(r.drained_t > 0 && r.drained_t < 45, "drained at %.0f", r.drained_t);
        CHECK(r.first_down_t >= r.drained_t + c.scale_down_window_s - 12,
              "no shrink before the window: first down %.0f, drained %.0f",
              r.first_down_t, r.drained_t);
        CHECK(r.f.started == 1, "back to min: %d", r.f.started);
        CHECK(r.dir_flips == 1, "one up phase, one down phase: %d flips", r.dir_flips);
        policy_destroy(r.p);
}

static void test_ramp(void) {
        policy_conf_t c = base_conf();
        run_t r;
        start(&r, &c, 8, 1000, 1);
        drive(&r, ramp, NULL, 200, 0);
        CHECK(r.downs == 0, "never shrinks on a ramp: %d downs", r.downs);
        CHECK(r.f.started == 4, "ramp to 3600/s ends at 4 workers: %d", r.f.started);
        CHECK(fleet_lag(&r.f) < 3600 * 3, "keeps up: lag %.0f", fleet_lag(&r.f));
        policy_destroy(r.p);
}

static void test_steady(void) {
        policy_conf_t c = base_conf();
        double rate = 1500;
        run_t r;
        start(&r, &c, 8, 1000, 2);
        drive(&r, constant, &rate, 300, 0);
        CHECK(r.changes == 0, "steady 1500/s on 2 workers: %d changes (last %s)",
              r.changes, r.d.reason);
        CHECK(!strcmp(r.d.reason, "steady"), "reason %s", r.d.reason);
        policy_destroy(r.p);
}

static void test_noise(void) {
        policy_conf_t c = base_conf();
        unsigned seed = 42;
        run_t r;
        start(&r, &c, 8, 1000, 2);
        drive(&r, noisy, &seed, 600, 0);
        CHECK(r.dir_flips <= 1 && r.changes <= 2,
              "noise does not flap: %d changes, %d flips", r.changes, r.dir_flips);
        policy_destroy(r.p);
}

static void test_idle(void) {
        policy_conf_t c = base_conf();
        double one = 8; /* a request per partition-step: the fleet is fluid */
        run_t r;
        c.min_workers = 0;
        start(&r, &c, 8, 1000, 1);
        drive(&r, zero, NULL, c.idle_window_s - 2, 0);
        CHECK(r.f.started == 1, "one worker kept during the idle window: %d",
              r.f.started);
        drive(&r, zero, NULL, c.idle_window_s + 2, 0);
        CHECK(r.f.started == 0 && r.downs == 1, "to zero after the idle window: %d",
              r.f.started);
        drive(&r, zero, NULL, 100, 0);
        CHECK(r.f.started == 0 && r.changes == 1, "stays at zero");
        drive(&r, constant, &one, 101, 0);
        CHECK(r.f.started == 1 && !strcmp(r.d.reason, "activation"),
              "first request activates one worker: %d %s", r.f.started,
              r.d.reason);
        policy_destroy(r.p);
}

static void test_stuck(void) {
        policy_conf_t c = base_conf();
        double rate = 1200;
        run_t r;
        int stuck_seen = 0, reason_seen = 0;
        start(&r, &c, 4, 1000, 2);
        drive(&r, constant, &rate, 20, 0);
        /* partition 2 stops moving with a large backlog */
        r.f.frozen[2] = 1;
        r.f.high[2] += 50000;
        while (r.f.t < 120) {
                drive(&r, constant, &rate, r.f.t + 1, 0);
                if (r.f.t > 20 + c.stall_window_s + 1) {
                        stuck_seen += r.d.stuck == 1 && policy_parts(r.p)[2].stuck;
                        reason_seen += !strcmp(r.d.reason, "stuck_partitions");
                }
        }
        CHECK(stuck_seen > 60, "partition 2 reported stuck: %d polls", stuck_seen);
        CHECK(reason_seen > 0, "hold reason stuck_partitions seen");
        /* the burst before detection may add workers; afterwards the fleet
         * returns to what the moving partitions need */
        CHECK(r.f.started <= 2, "no workers kept for a stuck partition: %d",
              r.f.started);
        policy_destroy(r.p);
}

int main(int argc, char **argv) {
        if (argc > 1 && !strcmp(argv[1], "-v")) {
                policy_conf_t c = base_conf();
                run_t r;
                start(&r, &c, 8, 1000, 1);
                drive(&r, burst, NULL, 120, 1);
                policy_destroy(r.p);
                return 0;
        }
        test_even_step();
        test_burst();
        test_ramp();
        test_steady();
        test_noise();
        test_idle();
        test_stuck();
        if (test_failures) {
                fprintf(stderr, "%d check(s) failed\n", test_failures);
                return 1;
        }
        printf("policy: all traces pass\n");
        return 0;
}
