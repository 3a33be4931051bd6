/*
 * sim.c - trace-driven comparison of swarm-scaler's policy (scaler/policy.c,
 * the code the program runs) with KEDA's Kafka scaler driving the HPA with
 * its default behavior, on the same simulated fleet (fleet.c): same
 * partitions, same per-worker throughput, same worker join delay.
 *
 *   sim [--capacity R] [--partitions P] [--max N] [--join S]
 *       [--keda-refresh S] [--csv DIR]
 *
 * KEDA + HPA model (defaults unless a column says otherwise):
 *   - KEDA's Kafka scaler computes the metric every pollingInterval (30 s):
 *     total lag, capped at partitions x lagThreshold (allowIdleConsumers
 *     false); the HPA reads that cached value.  --keda-refresh 15 models
 *     useCachedMetrics=false instead (a fresh value at every HPA sync).
 *   - HPA syncs every 15 s: desired = ceil(metric / lagThreshold) (external
 *     metric, AverageValue target) unless within the 10 % tolerance;
 *     stabilization: up 0 s (the newest recommendation), down 300 s (the
 *     highest recommendation of the last 300 s); rate limits: up
 *     max(+4 pods, +100 %) per 15 s counted from the replicas at the start
 *     of the period, down 100 % per 15 s (no limit); bounded by
 *     [min, max].  minReplicaCount 1 like our --min 1, so KEDA's 0 <-> 1
 *     activation never comes into play.
 *
 * Each trace runs at several phase offsets (the trace is shifted by 0, 7.5,
 * 15 and 22.5 s against the fixed poll/sync clocks), because how long a
 * burst waits for KEDA's next poll depends on when it arrives; the table
 * gives the mean and the worst over the offsets.
 *
 * Prints a markdown table; with --csv writes DIR/TRACE-POLICY.csv time
 * series (t, arrivals/s, lag, workers) at offset 0 for plot.py.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"
#include "policy.h"

#define DT 0.5                /* a step; offsets are multiples of it */
#define DURATION 1800.0
#define NSTEPS 3600          /* DURATION / DT */
#define HPA_SYNC_S 15.0
#define HPA_TOLERANCE 0.1
#define HPA_DOWN_WINDOW_S 300.0
#define HPA_UP_PODS 4
#define HPA_UP_PERCENT 100.0
#define HPA_PERIOD_S 15.0
#define OUR_POLL_S 2.0

static const double offsets[] = {0, 7.5, 15, 22.5};
#define NOFF ((int)(sizeof(offsets) / sizeof(offsets[0])))

typedef struct setup {
        double capacity;
        int partitions, max;
        double join_s;
        double keda_refresh_s;
        const char *csv;
} setup_t;

typedef enum kind { OURS, KEDA } kind_t;

/* One column of the table.  For OURS: drain target and scale-down window
 * (0: the scaler's default); for KEDA: lagThreshold, in requests or, when
 * threshold_work_s > 0, in seconds of one worker's work. */
typedef struct policy_spec {
        const char *name;
        kind_t kind;
        double drain_target_s, scale_down_window_s;
        double threshold, threshold_work_s;
} policy_spec_t;

static const policy_spec_t policies[] = {
        {"swarm", OURS, 0, 0, 0, 0},
        {"swarm-drain10", OURS, 10, 0, 0, 0},
        {"keda-default", KEDA, 0, 0, 10, 0},
        {"keda-tuned", KEDA, 0, 0, 0, 10},
};
#define NPOL ((int)(sizeof(policies) / sizeof(policies[0])))

typedef struct result {
        double drain_s;          /* mean over bursts: until lag < 1 s of work */
        double drain_worst_s;    /* worst single burst */
        double worker_s;
        int actions;
        double max_lag_s;        /* worst lag in seconds of one worker's work */
} result_t;

/* requests arriving in [t, t+DT), t on the trace's own clock */
static double trace(const char *name, double t, double cap) {
        if (t < 0)
                t = 0;
        if (!strcmp(name, "burst"))   /* 60 s of one worker's work at t=75 */
                return 0.08 * cap * DT + (t >= 75 && t < 75 + DT ? 60 * cap : 0);
        if (!strcmp(name, "ramp"))    /* 0 -> 6 workers' worth over 15 min, back */
                return (t < 900 ? t / 900 : t < 1500 ? (1500 - t) / 600 : 0) * 6 * cap * DT;
        if (!strcmp(name, "diurnal")) /* a compressed day: 0.5..5.5 workers */
                return (3 + 2.5 * sin(2 * M_PI * t / 1800)) * cap * DT;
        if (!strcmp(name, "spiky")) { /* 0.5 worker base, a 20 s-of-work spike every 5 min */
                double ph = fmod(t, 300);
                return 0.5 * cap * DT + (ph >= 40 && ph < 45 ? 20 * cap / 5 * DT : 0);
        }
        return 0;
}

static int is_burst_start(const char *name, double t) {
        if (t < 0)
                return 0;
        if (!strcmp(name, "burst"))
                return t == 75;
        if (!strcmp(name, "spiky"))
                return fmod(t, 300) == 40;
        return 0;
}

/* Step counts for intervals: every clock is a multiple of DT. */
static int every(double step_end_s, double interval_s) {
        double k = step_end_s / interval_s;
        return fabs(k - floor(k + 0.5)) < 1e-9;
}

/* The HPA's state for one scale target: recommendations (for the
 * stabilization windows) and scale events (for the rate limits). */
typedef struct hpa {
        double rec_t[NSTEPS], ev_t[NSTEPS];
        int rec[NSTEPS], ev_delta[NSTEPS];
        int nrec, nev;
        double metric;           /* KEDA's cached value */
} hpa_t;

/* One HPA sync: returns the replica count to set. */
static int hpa_sync(hpa_t *h, const setup_t *s, double now, double threshold,
                    int current) {
        int hi = s->max, desired, up = 0, down, added = 0, removed = 0;
        int up_limit, down_limit;

        /* replicaCalculator for an external AverageValue metric */
        if (current > 0 &&
            fabs(h->metric / (threshold * current) - 1.0) <= HPA_TOLERANCE)
                desired = current;
        else
                desired = (int)ceil(h->metric / threshold);
        /* stabilizeRecommendationWithBehaviors: up window 0 s keeps the
         * newest; down window 300 s keeps the highest */
        down = desired;
        up = desired;
        for (int i = 0; i < h->nrec; i++)
                if (h->rec_t[i] > now - HPA_DOWN_WINDOW_S && h->rec[i] > down)
                        down = h->rec[i];
        h->rec_t[h->nrec] = now;
        h->rec[h->nrec++] = desired;
        desired = current;
        if (desired < up)
                desired = up;
        if (desired > down)
                desired = down;
        /* normalizeDesiredReplicasWithBehaviors: rate limits over the
         * last period, counted from the replicas at its start */
        for (int i = 0; i < h->nev; i++)
                if (h->ev_t[i] > now - HPA_PERIOD_S) {
                        if (h->ev_delta[i] > 0)
                                added += h->ev_delta[i];
                        else
                                removed -= h->ev_delta[i];
                }
        {
                int start = current - added;
                int by_pods = start + HPA_UP_PODS;
                int by_pct = (int)ceil(start * (1 + HPA_UP_PERCENT / 100));
                up_limit = by_pods > by_pct ? by_pods : by_pct; /* selectPolicy Max */
        }
        /* Percent 100 % per period: down to 0 allowed */
        down_limit = 0;
        (void)removed;
        if (desired > up_limit)
                desired = up_limit;
        if (desired < down_limit)
                desired = down_limit;
        if (desired > hi)
                desired = hi;
        if (desired < 1)         /* minReplicaCount 1 */
                desired = 1;
        if (desired != current) {
                h->ev_t[h->nev] = now;
                h->ev_delta[h->nev++] = desired - current;
        }
        return desired;
}

static result_t run(const setup_t *s, const char *tr, const policy_spec_t *ps,
                    double off, FILE *csv) {
        static hpa_t h;          /* large; one run at a time */
        fleet_t f;
        policy_t *p = NULL;
        policy_conf_t pc;
        policy_part_in_t in[FLEET_MAX_P];
        policy_decision_t d;
        swarm_err_t err;
        result_t res = {0};
        int bursts = 0;
        double burst_t = -1, drain_sum = 0;
        double threshold = ps->threshold_work_s > 0
                                   ? ps->threshold_work_s * s->capacity
                                   : ps->threshold;

        memset(&h, 0, sizeof(h));
        fleet_init(&f, s->partitions, s->capacity, s->join_s, 1);
        policy_conf_default(&pc);
        pc.min_workers = 1;
        pc.max_workers = s->max;
        pc.worker_capacity = s->capacity;
        if (ps->drain_target_s > 0)
                pc.drain_target_s = ps->drain_target_s;
        if (ps->scale_down_window_s > 0)
                pc.scale_down_window_s = ps->scale_down_window_s;
        swarm_err_clear(&err);
        if (ps->kind == OURS && policy_new(&pc, s->partitions, &p, &err)) {
                fprintf(stderr, "policy: %s\n", err.msg);
                exit(1);
        }
        for (int step = 0; step < NSTEPS; step++) {
                double t = step * DT, a = trace(tr, t - off, s->capacity), lag;
                int desired = f.started;

                if (is_burst_start(tr, t - off)) {
                        if (burst_t >= 0) { /* previous burst never drained */
                                double dr = t - burst_t;
                                drain_sum += dr, bursts++;
                                if (dr > res.drain_worst_s)
                                        res.drain_worst_s = dr;
                        }
                        burst_t = t;
                }
                fleet_step(&f, DT, a);
                lag = fleet_lag(&f);
                if (burst_t >= 0 && lag <= s->capacity * 1.0) {
                        double dr = f.t - burst_t;
                        drain_sum += dr, bursts++;
                        if (dr > res.drain_worst_s)
                                res.drain_worst_s = dr;
                        burst_t = -1;
                }
                if (lag / s->capacity > res.max_lag_s)
                        res.max_lag_s = lag / s->capacity;
                if (ps->kind == OURS) {
                        if (every(f.t, OUR_POLL_S)) {
                                for (int i = 0; i < f.P; i++) {
                                        in[i].low = 0;
                                        in[i].high = (int64_t)f.high[i];
                                        in[i].committed = (int64_t)f.committed[i];
                                }
                                policy_update(p, f.t, in, f.started, &d);
                                desired = d.desired;
                        }
                } else {
                        if (every(f.t, s->keda_refresh_s)) {
                                /* the Kafka scaler: total lag, capped so the
                                 * HPA never asks for more than one replica
                                 * per partition (allowIdleConsumers false) */
                                double cap = (double)s->partitions * threshold;
                                h.metric = lag / threshold > s->partitions ? cap : lag;
                        }
                        if (every(f.t, HPA_SYNC_S))
                                desired = hpa_sync(&h, s, f.t, threshold, f.started);
                }
                if (desired != f.started) {
                        res.actions++;
                        fleet_resize(&f, desired);
                }
                if (csv)
                        fprintf(csv, "%.1f,%.0f,%.0f,%d\n", f.t, a / DT, lag, f.started);
        }
        if (burst_t >= 0) {
                double dr = f.t - burst_t;
                drain_sum += dr, bursts++;
                if (dr > res.drain_worst_s)
                        res.drain_worst_s = dr;
        }
        res.drain_s = bursts ? drain_sum / bursts : 0;
        res.worker_s = f.worker_seconds;
        policy_destroy(p);
        return res;
}

static void usage(void) {
        fprintf(stderr, "usage: sim [--capacity R] [--partitions P] [--max N] "
                        "[--join S] [--keda-refresh S] [--csv DIR]\n");
}

int main(int argc, char **argv) {
        static const char *const traces[] = {"burst", "ramp", "diurnal", "spiky"};
        setup_t s = {25000, 16, 16, 5.0, 30.0, NULL};

        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "--capacity") && i + 1 < argc)
                        s.capacity = atof(argv[++i]);
                else if (!strcmp(argv[i], "--partitions") && i + 1 < argc)
                        s.partitions = atoi(argv[++i]);
                else if (!strcmp(argv[i], "--max") && i + 1 < argc)
                        s.max = atoi(argv[++i]);
                else if (!strcmp(argv[i], "--join") && i + 1 < argc)
                        s.join_s = atof(argv[++i]);
                else if (!strcmp(argv[i], "--keda-refresh") && i + 1 < argc)
                        s.keda_refresh_s = atof(argv[++i]);
                else if (!strcmp(argv[i], "--csv") && i + 1 < argc)
                        s.csv = argv[++i];
                else if (!strcmp(argv[i], "--help")) {
                        usage();
                        return 0;
                } else {
                        usage();
                        return 2;
                }
        }
        /* clocks must land on step boundaries */
        if (!(s.capacity > 0) || s.partitions < 1 || s.partitions > FLEET_MAX_P ||
            s.max < 1 || s.max > FLEET_MAX_W || !(s.join_s >= 0) ||
            !(s.keda_refresh_s >= DT) ||
            fabs(s.keda_refresh_s / DT - floor(s.keda_refresh_s / DT + 0.5)) > 1e-9) {
                fprintf(stderr, "sim: bad parameters (--keda-refresh: a multiple of %.1f s)\n",
                        DT);
                return 2;
        }
        printf("capacity %.0f req/s per worker, %d partitions, max %d workers, "
               "worker join %.1f s, %.0f s per trace, KEDA metric refreshed every "
               "%.1f s, HPA sync %.0f s, phase offsets 0/7.5/15/22.5 s\n\n",
               s.capacity, s.partitions, s.max, s.join_s, DURATION,
               s.keda_refresh_s, HPA_SYNC_S);
        printf("| trace | policy | drain mean (s) | drain worst (s) | worker-seconds | "
               "scaling actions | max lag (s of 1 worker) |\n");
        printf("|---|---|---:|---:|---:|---:|---:|\n");
        for (size_t t = 0; t < sizeof(traces) / sizeof(traces[0]); t++)
                for (int k = 0; k < NPOL; k++) {
                        result_t m = {0};
                        char dm[32], dw[32];
                        for (int o = 0; o < NOFF; o++) {
                                FILE *csv = NULL;
                                result_t r;
                                if (s.csv && o == 0) {
                                        char path[512];
                                        snprintf(path, sizeof(path), "%s/%s-%s.csv", s.csv,
                                                 traces[t], policies[k].name);
                                        if ((csv = fopen(path, "w")))
                                                fprintf(csv, "t,arrivals,lag,workers\n");
                                }
                                r = run(&s, traces[t], &policies[k], offsets[o], csv);
                                if (csv)
                                        fclose(csv);
                                m.drain_s += r.drain_s / NOFF;
                                m.worker_s += r.worker_s / NOFF;
                                m.actions += r.actions;
                                if (r.drain_worst_s > m.drain_worst_s)
                                        m.drain_worst_s = r.drain_worst_s;
                                if (r.max_lag_s > m.max_lag_s)
                                        m.max_lag_s = r.max_lag_s;
                        }
                        if (m.drain_s > 0) {
                                snprintf(dm, sizeof(dm), "%.1f", m.drain_s);
                                snprintf(dw, sizeof(dw), "%.1f", m.drain_worst_s);
                        } else {
                                snprintf(dm, sizeof(dm), "-");
                                snprintf(dw, sizeof(dw), "-");
                        }
                        printf("| %s | %s | %s | %s | %.0f | %.1f | %.1f |\n", traces[t],
                               policies[k].name, dm, dw, m.worker_s,
                               (double)m.actions / NOFF, m.max_lag_s);
                }
        return 0;
}
