/*
 * metrics.h - counters, gauges and histograms with labels, rendered in the
 * Prometheus text exposition format (0.0.4), and a small HTTP server
 * (libmicrohttpd) that serves /metrics, /healthz and /readyz.
 *
 * Shape: a registry (swarm_metrics_t) holds families (swarm_metric_t: one
 * name, type, help and list of label names); a family holds series
 * (swarm_series_t: one combination of label values).  Look a series up once
 * with swarm_metrics_with() and keep the handle: updates through a handle
 * never allocate and never take the registry lock.
 *
 * Naming (Prometheus conventions): every name starts with "swarm_";
 * counters end in "_total"; units are base units in the name ("_seconds",
 * "_bytes"); a histogram family "x" renders x_bucket{le=...}, x_sum, x_count.
 *
 * Threads: everything here may be called from any thread.  Counters and
 * gauges are lock-free atomics; a histogram series takes its own mutex for
 * one observation (so bucket counts, sum and count stay consistent);
 * creating families and series and rendering take the registry / family
 * locks.  Families and series live until swarm_metrics_destroy().
 */
#ifndef SWARM_METRICS_H
#define SWARM_METRICS_H

#include <stddef.h>

#include "swarm/err.h"
#include "swarm/log.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct swarm_metrics swarm_metrics_t;  /* registry */
typedef struct swarm_metric swarm_metric_t;    /* family */
typedef struct swarm_series swarm_series_t;    /* one label combination */

#define SWARM_METRICS_MAX_LABELS 8

int swarm_metrics_new(swarm_metrics_t **out, swarm_err_t *err);
/* Frees the registry, its families and series.  NULL is accepted.  Stop the
 * HTTP server first. */
void swarm_metrics_destroy(swarm_metrics_t *m);

/* Register a family.  `labels` is a NULL-terminated list of label names (or
 * NULL for none; at most SWARM_METRICS_MAX_LABELS), copied.  Names are
 * checked ([a-zA-Z_:][a-zA-Z0-9_:]*, counters must end in "_total", "le" is
 * reserved for histograms); registering an existing name with the same type
 * and labels returns the existing family, anything else is SWARM_ERR_INVALID.
 * *out is borrowed from the registry. */
int swarm_metrics_counter(swarm_metrics_t *m, const char *name,
                          const char *help, const char *const *labels,
                          swarm_metric_t **out, swarm_err_t *err);
int swarm_metrics_gauge(swarm_metrics_t *m, const char *name,
                        const char *help, const char *const *labels,
                        swarm_metric_t **out, swarm_err_t *err);
/* `bounds`: n strictly increasing upper bounds (copied); +Inf is implicit. */
int swarm_metrics_histogram(swarm_metrics_t *m, const char *name,
                            const char *help, const char *const *labels,
                            const double *bounds, size_t n,
                            swarm_metric_t **out, swarm_err_t *err);

/* Default latency buckets in seconds (0.0005 .. 10), for
 * swarm_metrics_histogram(..., SWARM_METRICS_LATENCY_BUCKETS, ...). */
extern const double swarm_metrics_latency_buckets[];
extern const size_t swarm_metrics_latency_bucket_count;

/* The series for one combination of label values (as many as the family has
 * label names; NULL for a family without labels).  Created on first use
 * (the only allocation), found by a scan afterwards: call it once and keep
 * the handle for the hot path.  Returns NULL only when out of memory or when
 * `f` is NULL; every update function accepts NULL and then does nothing, so
 * an out-of-memory metric never breaks the caller. */
swarm_series_t *swarm_metrics_with(swarm_metric_t *f,
                                   const char *const *values);

/* Counter: add v (v >= 0; a negative v is ignored). */
void swarm_metrics_add(swarm_series_t *s, double v);
/* Gauge: set / add (v may be negative). */
void swarm_metrics_set(swarm_series_t *s, double v);
void swarm_metrics_gauge_add(swarm_series_t *s, double v);
/* Histogram: one observation. */
void swarm_metrics_observe(swarm_series_t *s, double v);
/* Current value of a counter or gauge (a histogram's sum); 0 for NULL. */
double swarm_metrics_value(const swarm_series_t *s);
/* The sum over a family's series whose `label` is `value` (every series
 * when label is NULL): values of counters and gauges, sums of histograms, or
 * with `count` set a histogram's observation counts.  For summaries that
 * must agree with what /metrics shows; 0 for NULL or an unknown label. */
double swarm_metrics_sum(const swarm_metric_t *f, const char *label,
                         const char *value, int count);

/* Render every family in registration order, series in creation order.
 * *out is NUL-terminated and the caller frees it; *len excludes the NUL. */
int swarm_metrics_render(swarm_metrics_t *m, char **out, size_t *len,
                         swarm_err_t *err);

/* ---- HTTP ---- */

typedef struct swarm_metrics_http swarm_metrics_http_t;

/* Readiness probe: return non-zero when ready.  Called on the server's
 * thread; must be thread-safe and quick. */
typedef int (swarm_metrics_ready_cb)(void *opaque);

/* Where and how the server listens.  Zero fields take the defaults: the
 * limits keep a scraper storm or a slow-loris client from tying up the
 * worker's file descriptors and memory. */
typedef struct swarm_metrics_http_opts {
        const char *bind;       /* numeric IPv4/IPv6 address ("127.0.0.1",
                                   "::1"); NULL or "": all IPv4 interfaces */
        int port;               /* 0: the kernel picks a free one */
        int max_connections;    /* 0: 64; more are closed on accept */
        int max_per_ip;         /* 0: 8 from one client address */
        int timeout_s;          /* 0: 10; an idle or slow connection is
                                   closed after this long */
} swarm_metrics_http_opts_t;

/* Serve GET /metrics (text format 0.0.4), /healthz (200 "ok" while the
 * process runs) and /readyz (200 "ready" when ready(opaque) is non-zero or
 * ready is NULL, else 503 "not ready") as `o` says (NULL: all defaults; the
 * address and port are logged at INFO, see swarm_metrics_http_port()).  The
 * server runs on its own thread.  `m`, `log` and `opaque` are borrowed and
 * must outlive the server; `o` is read during the call only.
 * Errors: SWARM_ERR_CONFIG (port out of range, bind not a numeric address),
 * SWARM_ERR_IO (cannot listen). */
int swarm_metrics_http_listen(swarm_metrics_t *m,
                              const swarm_metrics_http_opts_t *o,
                              swarm_metrics_ready_cb *ready, void *opaque,
                              const swarm_log_t *log,
                              swarm_metrics_http_t **out, swarm_err_t *err);

/* swarm_metrics_http_listen() on all IPv4 interfaces, port `port`, with the
 * default limits. */
int swarm_metrics_http_start(swarm_metrics_t *m, int port,
                             swarm_metrics_ready_cb *ready, void *opaque,
                             const swarm_log_t *log,
                             swarm_metrics_http_t **out, swarm_err_t *err);
/* An extra page: GET `path` (e.g. "/", copied) answers what page(opaque)
 * renders: *body (malloc'ed, the server frees it), *len bytes, and *ctype
 * (static; preset to "text/html; charset=utf-8").  A non-zero return is a
 * 500.  page runs on the server's thread.  Replaces the previous page;
 * opaque must outlive the server (or the next call). */
typedef int (swarm_metrics_page_cb)(void *opaque, char **body, size_t *len,
                                    const char **ctype);
void swarm_metrics_http_page(swarm_metrics_http_t *h, const char *path,
                             swarm_metrics_page_cb *page, void *opaque);

/* The port actually bound. */
int swarm_metrics_http_port(const swarm_metrics_http_t *h);
/* Stop serving and free.  NULL is accepted. */
void swarm_metrics_http_destroy(swarm_metrics_http_t *h);

#ifdef __cplusplus
}
#endif
#endif
