/*
 * status_page.h - the scaler's operator page, served on its metrics port at
 * "/" (and "/status"): the topic's partitions with their lag and the stuck
 * ones, the group's members, workers and desired workers over time as an
 * inline SVG chart with every decision and its reason, and, with a model
 * registry, the models deployed on the topic with their production and
 * staging versions.  Plain HTML that reloads itself every few seconds; no
 * JavaScript.
 *
 * Every number on the page is the one the same poll exported to /metrics,
 * and carries an id or data- attribute naming it, so a test (and a person
 * with a browser's inspector) can match them.
 *
 * Threads: status_page_record() on the main thread (the poll loop);
 * status_page_render() on the metrics server's thread; the registry is read
 * on a thread of the page's own.  A mutex keeps them apart.
 */
#ifndef SWARM_SCALER_STATUS_PAGE_H
#define SWARM_SCALER_STATUS_PAGE_H

#include <stddef.h>

#include "policy.h"
#include "scaler.h"
#include "swarm/err.h"
#include "swarm/log.h"

typedef struct status_page status_page_t;

/* History kept for the chart: one sample per poll. */
#define STATUS_PAGE_SAMPLES 720

/* topic, group, registry (conninfo, may be NULL) are copied.  log is
 * borrowed. */
int status_page_new(const char *topic, const char *group,
                    const char *registry, double refresh_s,
                    const swarm_log_t *log, status_page_t **out,
                    swarm_err_t *err);
void status_page_destroy(status_page_t *sp);

/* After each successful poll: the partitions as the policy now sees them,
 * the decision, the group.  (With a registry, a thread of the page's own
 * reads the models for the topic every 30 s; a registry error is shown on
 * the page, never fatal, and never delays the poll loop.) */
void status_page_record(status_page_t *sp, double now_s, const policy_t *p,
                        const policy_decision_t *d, const watch_group_t *g);

/* swarm_metrics_page_cb: the HTML. */
int status_page_render(void *sp, char **body, size_t *len, const char **ctype);

#endif
