/*
 * score_progress.c - progress bar and log lines (score_progress.h).
 */
#include "score_progress.h"

#include <stdio.h>
#include <string.h>

#include "swarm/clock.h"

#define BAR 30
#define TTY_EVERY_US 200000

void score_progress_init(score_progress_t *p, const swarm_log_t *log, int tty,
                         double interval_s, uint64_t rows0, uint64_t bytes0) {
        memset(p, 0, sizeof(*p));
        p->log = log;
        p->tty = tty;
        p->t0_us = p->last_us = swarm_clock_us();
        p->interval_us = interval_s > 0 ? (int64_t)(interval_s * 1e6) : 10000000;
        p->rows0 = rows0;
        p->bytes0 = bytes0;
}

static void hms(double s, char *out, size_t size) {
        long t = s > 0 && s < 1e8 ? (long)(s + 0.5) : 0;
        if (s < 0 || s >= 1e8)
                snprintf(out, size, "--:--");
        else if (t >= 3600)
                snprintf(out, size, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
        else
                snprintf(out, size, "%ld:%02ld", t / 60, t % 60);
}

void score_progress_update(score_progress_t *p, uint64_t rows, uint64_t bytes,
                           uint64_t total, int force) {
        int64_t now = swarm_clock_us();
        double secs = (double)(now - p->t0_us) / 1e6, rate, frac, eta = -1;
        char eta_s[32];

        if (!force && now - p->last_us < (p->tty ? TTY_EVERY_US : p->interval_us))
                return;
        p->last_us = now;
        rate = secs > 0 ? (double)(rows - p->rows0) / secs : 0;
        frac = total ? (double)bytes / (double)total : 0;
        if (frac > 1)
                frac = 1;
        if (bytes > p->bytes0 && secs > 0)
                eta = (double)(total - (bytes < total ? bytes : total)) /
                      ((double)(bytes - p->bytes0) / secs);
        hms(eta, eta_s, sizeof(eta_s));
        if (p->tty) {
                char bar[BAR + 1];
                int fill = (int)(frac * BAR);
                for (int i = 0; i < BAR; i++)
                        bar[i] = i < fill ? '#' : '-';
                bar[BAR] = 0;
                fprintf(stderr, "\r[%s] %5.1f%%  %llu rows  %.0f rows/s  ETA %s\x1b[K",
                        bar, frac * 100, (unsigned long long)rows, rate, eta_s);
                fflush(stderr);
                p->drawn = 1;
        } else {
                SWARM_INFO(p->log, "progress rows=%llu pct=%.1f rows_per_s=%.0f "
                           "eta=%s", (unsigned long long)rows, frac * 100, rate,
                           eta_s);
        }
}

void score_progress_end(score_progress_t *p) {
        if (p->tty && p->drawn) {
                fputc('\n', stderr);
                fflush(stderr);
        }
        p->drawn = 0;
}
