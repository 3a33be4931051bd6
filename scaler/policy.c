/*
 * policy.c - how many workers the group needs.
 *
 * The rule (docs/scaler.md has it in prose):
 *   required = arrival_rate + effective_lag / drain_target      (requests/s)
 *   need     = ceil(required / worker_capacity), rounded up to an even step
 *   up:   at once when need > current (one poll after a burst);
 *   down: to the largest "need with hysteresis" seen over the scale-down
 *         window, so one quiet poll never shrinks the fleet;
 *   zero: with min 0, only after idle_window without traffic or lag; the
 *         first new request (high watermark moves) brings one worker back.
 * Rates are differences over a sliding window of samples, not one-poll
 * deltas, so commit bursts (the worker commits once a second) do not read as
 * throughput spikes.  Stuck partitions (Burrow's STALL: lag and a frozen
 * committed offset while others move) do not count toward the backlog:
 * another worker cannot help a partition its owner is not consuming.
 */
#include "policy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RING 4096

typedef struct sample {
        double t;
        int64_t sum_high, sum_committed, lag_eff;
        int workers;
        int rec_down;           /* need with hysteresis, after bounds */
} sample_t;

struct policy {
        policy_conf_t c;
        int P;
        policy_part_t *parts;
        sample_t ring[RING];
        int n, head;            /* head: index of the newest sample */
        double start_s;
        double fleet_change_s;  /* when `workers` last changed */
        double activity_s;      /* last new request or lag */
        double capacity;
        int capacity_measured;
};

void policy_conf_default(policy_conf_t *c) {
        c->min_workers = POLICY_MIN_WORKERS;
        c->max_workers = POLICY_MAX_WORKERS;
        c->drain_target_s = POLICY_DRAIN_TARGET_S;
        c->worker_capacity = POLICY_WORKER_CAPACITY;
        c->rate_window_s = POLICY_RATE_WINDOW_S;
        c->scale_down_window_s = POLICY_SCALE_DOWN_WINDOW_S;
        c->idle_window_s = POLICY_IDLE_WINDOW_S;
        c->stall_window_s = POLICY_STALL_WINDOW_S;
        c->hysteresis = POLICY_HYSTERESIS;
        c->settle_s = POLICY_SETTLE_S;
}

int policy_new(const policy_conf_t *c, int partitions, policy_t **out,
               swarm_err_t *err) {
        policy_t *p;

        if (partitions <= 0)
                return swarm_err_set(err, SWARM_ERR_CONFIG,
                                     "policy: topic has no partitions");
        if (c->min_workers < 0 || c->max_workers < 1 ||
            c->min_workers > c->max_workers)
                return swarm_err_set(err, SWARM_ERR_CONFIG,
                                     "policy: need 0 <= min (%d) <= max (%d), "
                                     "max >= 1", c->min_workers, c->max_workers);
        if (!(c->drain_target_s > 0) || !(c->worker_capacity > 0) ||
            !(c->rate_window_s > 0) || c->scale_down_window_s < 0 ||
            c->idle_window_s < 0 || !(c->stall_window_s > 0) ||
            c->hysteresis < 0 || c->settle_s < 0)
                return swarm_err_set(err, SWARM_ERR_CONFIG,
                                     "policy: drain target, worker capacity, "
                                     "rate and stall windows must be > 0; "
                                     "other windows and hysteresis >= 0");
        if (!(p = calloc(1, sizeof(*p))) ||
            !(p->parts = calloc((size_t)partitions, sizeof(*p->parts)))) {
                free(p);
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        }
        p->c = *c;
        p->P = partitions;
        p->capacity = c->worker_capacity;
        p->head = -1;
        *out = p;
        return SWARM_OK;
}

void policy_destroy(policy_t *p) {
        if (!p)
                return;
        free(p->parts);
        free(p);
}

const policy_part_t *policy_parts(const policy_t *p) {
        return p->parts;
}

int policy_partitions(const policy_t *p) {
        return p->P;
}

int policy_even_step(int need, int partitions) {
        if (need <= 0)
                return 0;
        if (need >= partitions)
                return partitions;
        for (int n = need; n < partitions; n++) {
                int per = (partitions + n - 1) / n; /* busiest worker */
                if (partitions >= need * per)
                        return n;
        }
        return partitions;
}

/* i-th sample back from the newest (0 = newest). */
static const sample_t *back(const policy_t *p, int i) {
        return &p->ring[(p->head - i + RING) % RING];
}

static int clampi(int v, int lo, int hi) {
        return v < lo ? lo : v > hi ? hi : v;
}

static int need_for(const policy_t *p, double required, double capacity) {
        double n = required / capacity;
        if (n <= 0)
                return 0;
        if (n > p->P)
                return p->P;
        /* 1e-9: 2.0000000001 workers is 2, not 3 */
        return policy_even_step((int)ceil(n - 1e-9), p->P);
}

void policy_update(policy_t *p, double now, const policy_part_in_t *in,
                   int workers, policy_decision_t *d) {
        const policy_conf_t *c = &p->c;
        int64_t sum_high = 0, sum_comm = 0, lag = 0, lag_eff = 0;
        int first = p->n == 0, moving = 0, stuck = 0, hi, floor_, need, rec,
            need_all, idle, activity, oldest = -1, window_max;
        double arrival = 0, consume = 0, required, dt;
        int64_t prev_high = first ? 0 : back(p, 0)->sum_high;
        sample_t *s;

        memset(d, 0, sizeof(*d));
        if (first) {
                p->start_s = now;
                p->fleet_change_s = now;
                p->activity_s = now;
        } else if (workers != back(p, 0)->workers) {
                p->fleet_change_s = now;
        }

        /* Partitions: lag and when each committed offset last moved. */
        for (int i = 0; i < p->P; i++) {
                policy_part_t *q = &p->parts[i];
                int64_t comm = in[i].committed >= 0 ? in[i].committed : in[i].low;
                if (first || in[i].committed != q->committed)
                        q->last_move_s = now;
                q->low = in[i].low;
                q->high = in[i].high;
                q->committed = in[i].committed;
                q->lag = in[i].high > comm ? in[i].high - comm : 0;
                sum_high += in[i].high;
                sum_comm += comm;
                lag += q->lag;
                if (now - q->last_move_s < c->stall_window_s && !first)
                        moving++;
        }
        /* Stuck: lag, frozen, while at least one other partition moves (if
         * none moves the whole group is stalled: a fleet problem that more
         * or restarted workers may fix, not a partition problem). */
        for (int i = 0; i < p->P; i++) {
                policy_part_t *q = &p->parts[i];
                q->stuck = workers > 0 && q->lag > 0 && moving > 0 &&
                           now - q->last_move_s >= c->stall_window_s;
                if (q->stuck)
                        stuck++;
                else
                        lag_eff += q->lag;
        }

        /* Rates: difference against the oldest sample inside the window. */
        for (int i = 0; i < p->n; i++) {
                if (now - back(p, i)->t > c->rate_window_s)
                        break;
                oldest = i;
        }
        if (oldest < 0 && p->n > 0)
                oldest = 0; /* polls slower than the window: use the last */
        if (oldest >= 0 && (dt = now - back(p, oldest)->t) > 0) {
                arrival = (double)(sum_high - back(p, oldest)->sum_high) / dt;
                consume = (double)(sum_comm - back(p, oldest)->sum_committed) / dt;
                if (arrival < 0)
                        arrival = 0;
                if (consume < 0)
                        consume = 0;
        }

        /* Worker capacity: measured only from a fleet that was busy the
         * whole window (at least 2 s of work queued at every sample, so the
         * once-a-second commit lag does not count as busy) and stable (no
         * join or leave since settle_s + the window). */
        if (workers > 0 && oldest >= 0 && consume > 0 &&
            now - p->fleet_change_s >= c->settle_s + c->rate_window_s &&
            now - back(p, oldest)->t >= c->rate_window_s * 0.5) {
                int busy = (double)lag_eff >= 2.0 * consume;
                for (int i = 0; busy && i <= oldest; i++)
                        busy = (double)back(p, i)->lag_eff >= 2.0 * consume;
                if (busy) {
                        int eff = workers < p->P - stuck ? workers : p->P - stuck;
                        double m = consume / (eff > 0 ? eff : 1);
                        p->capacity = p->capacity_measured
                                              ? 0.5 * p->capacity + 0.5 * m
                                              : m;
                        p->capacity_measured = 1;
                }
        }

        activity = lag > 0 || (!first && sum_high != prev_high);
        if (activity)
                p->activity_s = now;
        idle = now - p->activity_s >= c->idle_window_s;

        hi = c->max_workers < p->P ? c->max_workers : p->P;
        if (hi < c->min_workers)
                hi = c->min_workers;
        /* min 0 keeps one worker until the idle window passes */
        floor_ = c->min_workers > 0 ? c->min_workers : (idle ? 0 : 1);

        required = arrival + (double)lag_eff / c->drain_target_s;
        need = need_for(p, required, p->capacity);
        need_all = need_for(p, arrival + (double)lag / c->drain_target_s,
                            p->capacity);
        rec = clampi(need_for(p, required * (1.0 + c->hysteresis), p->capacity),
                     floor_, hi);

        /* Record this sample. */
        p->head = (p->head + 1) % RING;
        if (p->n < RING)
                p->n++;
        s = &p->ring[p->head];
        s->t = now;
        s->sum_high = sum_high;
        s->sum_committed = sum_comm;
        s->lag_eff = lag_eff;
        s->workers = workers;
        s->rec_down = rec;

        window_max = 0;
        for (int i = 0; i < p->n; i++) {
                const sample_t *o = back(p, i);
                if (now - o->t > c->scale_down_window_s)
                        break;
                if (o->rec_down > window_max)
                        window_max = o->rec_down;
        }

        d->current = workers;
        d->need = need;
        d->lag = lag;
        d->lag_effective = lag_eff;
        d->arrival_rate = arrival;
        d->consume_rate = consume;
        d->capacity = p->capacity;
        d->capacity_measured = p->capacity_measured;
        d->stuck = stuck;
        if (consume > 0)
                d->lag_s = (double)lag / consume;
        else
                d->lag_s = (double)lag /
                           ((workers > 0 ? workers : 1) * p->capacity);

        if (workers == 0 && activity && !first) {
                d->desired = clampi(need > 1 ? need : 1, 1, hi);
                d->reason = "activation";
        } else if (workers > hi) {
                d->desired = hi;
                d->reason = "above_max";
        } else if (workers < floor_) {
                d->desired = clampi(need > floor_ ? need : floor_, floor_, hi);
                d->reason = "below_min";
        } else if (clampi(need, floor_, hi) > workers) {
                d->desired = clampi(need, floor_, hi);
                /* backlog: the lag alone is more than the fleet drains in
                 * the target time; otherwise the arrival rate outgrew it */
                d->reason = (double)lag_eff / c->drain_target_s >=
                                            workers * p->capacity
                                    ? "backlog"
                                    : "arrival_rate";
        } else if (idle && floor_ == 0 && workers > 0) {
                /* the idle window is the stabilization for going to zero */
                d->desired = 0;
                d->reason = "idle";
        } else if (window_max < workers &&
                   now - p->start_s >= c->scale_down_window_s) {
                d->desired = window_max;
                d->reason = window_max == 0 ? "idle" : "low_load";
        } else {
                d->desired = workers;
                if (need_all > workers && need_all > need && workers < hi)
                        d->reason = "stuck_partitions";
                else if (need > hi && workers == hi)
                        d->reason = "at_max";
                else if (window_max < workers)
                        d->reason = "stabilizing";
                else
                        d->reason = "steady";
        }
        d->dir = d->desired > workers ? POLICY_UP
                 : d->desired < workers ? POLICY_DOWN : POLICY_HOLD;
        snprintf(d->detail, sizeof(d->detail),
                 "lag=%lld lag_effective=%lld lag_s=%.1f arrival=%.0f/s "
                 "consume=%.0f/s capacity=%.0f/s%s need=%d window_max=%d "
                 "stuck=%d",
                 (long long)lag, (long long)lag_eff, d->lag_s, arrival, consume,
                 p->capacity, p->capacity_measured ? "" : "(configured)", need,
                 window_max, stuck);
}
