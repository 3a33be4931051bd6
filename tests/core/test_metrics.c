/*
 * test_metrics.c - the metrics library: exact Prometheus text for counters,
 * gauges and histograms with labels, name checks, and the HTTP endpoints
 * (/metrics, /healthz, /readyz, 404) through a plain socket client.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "swarm/metrics.h"

static const char expected[] =
        "# HELP swarm_requests_total Requests answered, by model and status.\n"
        "# TYPE swarm_requests_total counter\n"
        "swarm_requests_total{model=\"fashion\",status=\"ok\"} 3\n"
        "swarm_requests_total{model=\"a\\\"b\\\\c\\nd\",status=\"internal\"} 0.5\n"
        "# HELP swarm_workers Workers running.\\nSecond line.\n"
        "# TYPE swarm_workers gauge\n"
        "swarm_workers -2.25\n"
        "# HELP swarm_latency_seconds End-to-end latency.\n"
        "# TYPE swarm_latency_seconds histogram\n"
        "swarm_latency_seconds_bucket{model=\"fashion\",le=\"0.1\"} 1\n"
        "swarm_latency_seconds_bucket{model=\"fashion\",le=\"0.5\"} 3\n"
        "swarm_latency_seconds_bucket{model=\"fashion\",le=\"1\"} 3\n"
        "swarm_latency_seconds_bucket{model=\"fashion\",le=\"+Inf\"} 4\n"
        "swarm_latency_seconds_sum{model=\"fashion\"} 3.35\n"
        "swarm_latency_seconds_count{model=\"fashion\"} 4\n";

static int ready_flag;

static int ready(void *opaque) {
        return *(int *)opaque;
}

/* GET path from 127.0.0.1:port with HTTP/1.0; returns the whole reply
 * (caller frees) or NULL. */
static char *http_get(int port, const char *path) {
        struct sockaddr_in a;
        char req[256], *buf = NULL;
        size_t len = 0, cap = 0;
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        ssize_t n;

        memset(&a, 0, sizeof(a));
        a.sin_family = AF_INET;
        a.sin_port = htons((uint16_t)port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
                if (fd >= 0)
                        close(fd);
                return NULL;
        }
        n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n", path);
        if (write(fd, req, (size_t)n) != n) {
                close(fd);
                return NULL;
        }
        for (;;) {
                if (len + 4097 > cap) {
                        char *p = realloc(buf, cap = cap ? cap * 2 : 8192);
                        if (!p)
                                break;
                        buf = p;
                }
                n = read(fd, buf + len, 4096);
                if (n <= 0)
                        break;
                len += (size_t)n;
        }
        close(fd);
        if (buf)
                buf[len] = '\0';
        return buf;
}

int main(void) {
        static const char *const req_labels[] = {"model", "status", NULL};
        static const char *const lat_labels[] = {"model", NULL};
        static const double bounds[] = {0.1, 0.5, 1};
        swarm_log_t log = {SWARM_LOG_INFO, "test_metrics", NULL};
        swarm_metrics_t *m = NULL;
        swarm_metric_t *req, *workers, *lat, *again, *bad;
        swarm_series_t *ok, *odd, *w, *l;
        swarm_metrics_http_t *h = NULL;
        swarm_err_t err;
        char *text = NULL, *r;
        size_t len;

        swarm_err_clear(&err);
        if (swarm_metrics_new(&m, &err) ||
            swarm_metrics_counter(m, "swarm_requests_total",
                                  "Requests answered, by model and status.",
                                  req_labels, &req, &err) ||
            swarm_metrics_gauge(m, "swarm_workers",
                                "Workers running.\nSecond line.", NULL,
                                &workers, &err) ||
            swarm_metrics_histogram(m, "swarm_latency_seconds",
                                    "End-to-end latency.", lat_labels, bounds,
                                    3, &lat, &err)) {
                fprintf(stderr, "setup: %s\n", err.msg);
                return 1;
        }
        /* names and re-registration */
        CHECK(swarm_metrics_counter(m, "swarm_requests", "", NULL, &bad, &err) ==
                      SWARM_ERR_INVALID, "counter without _total rejected");
        swarm_err_clear(&err);
        CHECK(swarm_metrics_gauge(m, "swarm-bad", "", NULL, &bad, &err) ==
                      SWARM_ERR_INVALID, "bad name rejected");
        swarm_err_clear(&err);
        CHECK(swarm_metrics_counter(m, "swarm_requests_total", "x", req_labels,
                                    &again, &err) == SWARM_OK && again == req,
              "same registration returns the family");
        CHECK(swarm_metrics_gauge(m, "swarm_requests_total", "x", req_labels,
                                  &again, &err) == SWARM_ERR_INVALID,
              "other type rejected");
        swarm_err_clear(&err);

        ok = swarm_metrics_with(req, (const char *const[]){"fashion", "ok"});
        odd = swarm_metrics_with(req, (const char *const[]){"a\"b\\c\nd", "internal"});
        CHECK(ok && ok == swarm_metrics_with(req, (const char *const[]){"fashion", "ok"}),
              "same labels, same handle");
        swarm_metrics_add(ok, 1);
        swarm_metrics_add(ok, 2);
        swarm_metrics_add(ok, -5); /* ignored: counters only go up */
        swarm_metrics_add(odd, 0.5);
        w = swarm_metrics_with(workers, NULL);
        swarm_metrics_set(w, 1);
        swarm_metrics_gauge_add(w, -3.25);
        l = swarm_metrics_with(lat, (const char *const[]){"fashion"});
        swarm_metrics_observe(l, 0.05);
        swarm_metrics_observe(l, 0.5);  /* le is inclusive */
        swarm_metrics_observe(l, 0.3);
        swarm_metrics_observe(l, 2.5);
        CHECK(swarm_metrics_value(ok) == 3, "value %g", swarm_metrics_value(ok));
        swarm_metrics_add(NULL, 1); /* NULL handles are no-ops */

        if (swarm_metrics_render(m, &text, &len, &err)) {
                fprintf(stderr, "render: %s\n", err.msg);
                return 1;
        }
        CHECK(!strcmp(text, expected) && len == strlen(expected),
              "exposition text:\n---got---\n%s---expected---\n%s", text, expected);

        /* HTTP on a kernel-chosen port */
        ready_flag = 0;
        if (swarm_metrics_http_start(m, 0, ready, &ready_flag, &log, &h, &err)) {
                fprintf(stderr, "http: %s\n", err.msg);
                return 1;
        }
        CHECK(swarm_metrics_http_port(h) > 0, "port %d", swarm_metrics_http_port(h));
        r = http_get(swarm_metrics_http_port(h), "/metrics");
        CHECK(r && !strncmp(r, "HTTP/1.", 7) && strstr(r, " 200 ") &&
                      strstr(r, "text/plain; version=0.0.4") && strstr(r, expected),
              "/metrics: %s", r ? r : "(no reply)");
        free(r);
        r = http_get(swarm_metrics_http_port(h), "/healthz");
        CHECK(r && strstr(r, " 200 ") && strstr(r, "\r\n\r\nok\n"), "/healthz: %s", r ? r : "-");
        free(r);
        r = http_get(swarm_metrics_http_port(h), "/readyz");
        CHECK(r && strstr(r, " 503 "), "/readyz before ready: %s", r ? r : "-");
        free(r);
        ready_flag = 1;
        r = http_get(swarm_metrics_http_port(h), "/readyz");
        CHECK(r && strstr(r, " 200 "), "/readyz when ready: %s", r ? r : "-");
        free(r);
        r = http_get(swarm_metrics_http_port(h), "/nope");
        CHECK(r && strstr(r, " 404 "), "unknown path: %s", r ? r : "-");
        free(r);

        swarm_metrics_http_destroy(h);
        free(text);
        swarm_metrics_destroy(m);
        if (test_failures) {
                fprintf(stderr, "%d check(s) failed\n", test_failures);
                return 1;
        }
        printf("metrics: exposition and endpoints ok\n");
        return 0;
}
