/*
 * sim.c - trace-driven comparison of swarm-scaler's policy (scaler/policy.c,
 * the code the program runs) with KEDA's Kafka scaler on HPA defaults, on
 * the same simulated fleet (fleet.c).
 *
 *   sim [--capacity R] [--partitions P] [--max N] [--csv DIR]
 *
 * KEDA model: every 30 s (pollingInterval) the recommendation is
 * ceil(total lag / lagThreshold), capped by max and the partition count
 * (allowIdleConsumers=false); HPA applies it with its defaults: 10 %
 * tolerance, scale-up at most max(100 %, 4 pods) per 15 s, scale-down to
 * the highest recommendation of the last 300 s.  lagThreshold 10 is KEDA's
 * default; "keda-tuned" uses 10 s of one worker's work per worker.
 *
 * Prints a markdown table; with --csv writes DIR/TRACE-POLICY.csv time
 * series (t, arrivals/s, lag, workers) for plot.py.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"
#include "policy.h"

#define DT 1.0
#define DURATION 1800

typedef struct setup {
        double capacity;
        int partitions, max;
        const char *csv;
} setup_t;

typedef struct result {
        double drain_s;          /* mean over bursts: until lag is back under 1 s of work */
        double worker_s;
        int actions;
        double max_lag_s;        /* worst lag in seconds of fleet capacity */
} result_t;

/* requests arriving in [t, t+DT) */
static double trace(const char *name, double t, double cap) {
        if (!strcmp(name, "burst"))   /* 60 s of one worker's work at t=75 */
                return 0.08 * cap * DT + (t >= 75 && t < 76 ? 60 * cap : 0);
        if (!strcmp(name, "ramp"))    /* 0 -> 6 workers' worth over 15 min, back */
                return (t < 900 ? t / 900 : t < 1500 ? (1500 - t) / 600 : 0) * 6 * cap * DT;
        if (!strcmp(name, "diurnal")) /* a compressed day: 0.5..5.5 workers */
                return (3 + 2.5 * sin(2 * M_PI * t / 1800)) * cap * DT;
        if (!strcmp(name, "spiky")) { /* 0.5 worker base, a 20 s-of-work spike every 5 min */
                double base = 0.5 * cap * DT;
                double ph = fmod(t, 300);
                return base + (ph >= 40 && ph < 45 ? 20 * cap / 5 * DT : 0);
        }
        return 0;
}

static int is_burst_start(const char *name, double t) {
        if (!strcmp(name, "burst"))
                return t == 75;
        if (!strcmp(name, "spiky"))
                return fmod(t, 300) == 40;
        return 0;
}

typedef enum kind { OURS, KEDA_DEFAULT, KEDA_TUNED } kind_t;
static const char *const kind_name[] = {"swarm", "keda-default", "keda-tuned"};

static result_t run(const setup_t *s, const char *tr, kind_t k) {
        fleet_t f;
        policy_t *p = NULL;
        policy_conf_t pc;
        policy_part_in_t in[FLEET_MAX_P];
        policy_decision_t d;
        swarm_err_t err;
        result_t res = {0};
        double recs[DURATION + 1];
        int nrec = 0, bursts = 0, last_up_slot = -1, up_budget_from = 1;
        double burst_t = -1, drain_sum = 0;
        double threshold = k == KEDA_DEFAULT ? 10 : 10 * s->capacity;
        FILE *csv = NULL;

        fleet_init(&f, s->partitions, s->capacity, 5.0, 1);
        policy_conf_default(&pc);
        pc.min_workers = 1;
        pc.max_workers = s->max;
        pc.worker_capacity = s->capacity;
        swarm_err_clear(&err);
        if (k == OURS && policy_new(&pc, s->partitions, &p, &err)) {
                fprintf(stderr, "policy: %s\n", err.msg);
                exit(1);
        }
        if (s->csv) {
                char path[512];
                snprintf(path, sizeof(path), "%s/%s-%s.csv", s->csv, tr, kind_name[k]);
                if ((csv = fopen(path, "w")))
                        fprintf(csv, "t,arrivals,lag,workers\n");
        }
        for (int step = 0; step < DURATION; step++) {
                double t = step * DT, a = trace(tr, t, s->capacity), lag;
                int desired = f.started;

                if (is_burst_start(tr, t)) {
                        if (burst_t >= 0) /* previous burst never drained */
                                drain_sum += t - burst_t, bursts++;
                        burst_t = t;
                }
                fleet_step(&f, DT, a);
                lag = fleet_lag(&f);
                if (burst_t >= 0 && lag <= s->capacity * 1.0) {
                        drain_sum += f.t - burst_t;
                        bursts++;
                        burst_t = -1;
                }
                if (lag / s->capacity > res.max_lag_s)
                        res.max_lag_s = lag / s->capacity;
                if (k == OURS) {
                        if (step % 2 == 1) { /* default poll interval 2 s */
                                for (int i = 0; i < f.P; i++) {
                                        in[i].low = 0;
                                        in[i].high = (int64_t)f.high[i];
                                        in[i].committed = (int64_t)f.committed[i];
                                }
                                policy_update(p, f.t, in, f.started, &d);
                                desired = d.desired;
                        }
                } else if (step % 30 == 29) {
                        /* KEDA poll + HPA */
                        int hi = s->max < s->partitions ? s->max : s->partitions;
                        int rec = (int)ceil(lag / threshold), win = 0, slot;
                        rec = rec < 1 ? 1 : rec > hi ? hi : rec;
                        if (f.started > 0 &&
                            fabs((double)rec / f.started - 1.0) <= 0.1)
                                rec = f.started;
                        recs[nrec++] = rec;
                        for (int i = nrec - 1; i >= 0 && i >= nrec - 10; i--)
                                win = recs[i] > win ? (int)recs[i] : win;
                        if (rec > f.started) {
                                slot = (int)(f.t / 15);
                                if (slot != last_up_slot) {
                                        up_budget_from = f.started;
                                        last_up_slot = slot;
                                }
                                {
                                        int lim = up_budget_from * 2 > up_budget_from + 4
                                                          ? up_budget_from * 2
                                                          : up_budget_from + 4;
                                        desired = rec < lim ? rec : lim;
                                }
                        } else if (win < f.started) {
                                desired = win;
                        }
                }
                if (desired != f.started) {
                        res.actions++;
                        fleet_resize(&f, desired);
                }
                if (csv)
                        fprintf(csv, "%.0f,%.0f,%.0f,%d\n", f.t, a / DT, lag, f.started);
        }
        if (burst_t >= 0)
                drain_sum += f.t - burst_t, bursts++;
        res.drain_s = bursts ? drain_sum / bursts : 0;
        res.worker_s = f.worker_seconds;
        if (csv)
                fclose(csv);
        policy_destroy(p);
        return res;
}

int main(int argc, char **argv) {
        static const char *const traces[] = {"burst", "ramp", "diurnal", "spiky"};
        setup_t s = {25000, 16, 16, NULL};

        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "--capacity") && i + 1 < argc)
                        s.capacity = atof(argv[++i]);
                else if (!strcmp(argv[i], "--partitions") && i + 1 < argc)
                        s.partitions = atoi(argv[++i]);
                else if (!strcmp(argv[i], "--max") && i + 1 < argc)
                        s.max = atoi(argv[++i]);
                else if (!strcmp(argv[i], "--csv") && i + 1 < argc)
                        s.csv = argv[++i];
                else {
                        fprintf(stderr, "usage: sim [--capacity R] [--partitions P] "
                                        "[--max N] [--csv DIR]\n");
                        return 2;
                }
        }
        if (!(s.capacity > 0) || s.partitions < 1 || s.partitions > FLEET_MAX_P ||
            s.max < 1) {
                fprintf(stderr, "sim: bad parameters\n");
                return 2;
        }
        printf("capacity %.0f req/s per worker, %d partitions, max %d workers, "
               "%d s per trace, worker join 5 s\n\n",
               s.capacity, s.partitions, s.max, DURATION);
        printf("| trace | policy | drain after burst (s) | worker-seconds | "
               "scaling actions | max lag (s of 1 worker) |\n");
        printf("|---|---|---:|---:|---:|---:|\n");
        for (size_t t = 0; t < sizeof(traces) / sizeof(traces[0]); t++)
                for (int k = 0; k < 3; k++) {
                        result_t r = run(&s, traces[t], (kind_t)k);
                        char drain[32];
                        if (r.drain_s > 0)
                                snprintf(drain, sizeof(drain), "%.0f", r.drain_s);
                        else
                                snprintf(drain, sizeof(drain), "-");
                        printf("| %s | %s | %s | %.0f | %d | %.1f |\n", traces[t],
                               kind_name[k], drain, r.worker_s, r.actions,
                               r.max_lag_s);
                }
        return 0;
}
