/*
 * score_progress.h - progress of a scoring run: a one-line bar redrawn in
 * place on a terminal (rows done, rows/s, ETA), plain periodic log lines
 * otherwise.  Everything goes to stderr; stdout carries only the summary.
 */
#ifndef SWARM_SCORE_PROGRESS_H
#define SWARM_SCORE_PROGRESS_H

#include <stdint.h>

#include "swarm/log.h"

typedef struct score_progress {
        const swarm_log_t *log;
        int tty;
        int64_t t0_us, last_us, interval_us;
        uint64_t rows0, bytes0;         /* where this run started */
        int drawn;
} score_progress_t;

/* tty: draw a bar (redrawn every 200 ms); else log every interval_s. */
void score_progress_init(score_progress_t *p, const swarm_log_t *log, int tty,
                         double interval_s, uint64_t rows0, uint64_t bytes0);

/* rows: committed rows (scored + rejected) of the whole job; bytes: input
 * consumed of total (the ETA is by bytes, which every format knows). */
void score_progress_update(score_progress_t *p, uint64_t rows, uint64_t bytes,
                           uint64_t total, int force);

/* End the bar's line. */
void score_progress_end(score_progress_t *p);

#endif
