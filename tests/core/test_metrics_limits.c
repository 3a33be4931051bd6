/*
 * test_metrics_limits.c - the metrics server listens only where told and
 * bounds its connections:
 *   bind 127.0.0.1: reachable there, refused on 127.0.0.2 (also loopback);
 *   an idle connection is closed after timeout_s;
 *   max_per_ip: the connection over the limit is closed at once, unanswered,
 *     while a client from another address is still served;
 *   max_connections across addresses: the one over it waits unserved;
 *   the defaults of swarm_metrics_http_start() bound one address to 8;
 *   a bind that is not a numeric address is a configuration error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "swarm/clock.h"
#include "swarm/metrics.h"

#include "check.h"

/* A TCP connection from `src` (NULL: any) to dst:port; -1 when refused. */
static int dial(const char *src, const char *dst, int port) {
        struct sockaddr_in a;
        int fd = socket(AF_INET, SOCK_STREAM, 0);

        if (src) {
                memset(&a, 0, sizeof(a));
                a.sin_family = AF_INET;
                inet_pton(AF_INET, src, &a.sin_addr);
                if (bind(fd, (struct sockaddr *)&a, sizeof(a))) {
                        close(fd);
                        return -1;
                }
        }
        memset(&a, 0, sizeof(a));
        a.sin_family = AF_INET;
        a.sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, dst, &a.sin_addr);
        if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
                close(fd);
                return -1;
        }
        return fd;
}

/* Seconds until the server closes fd (read returns 0 or an error), at most
 * `limit`; returns limit + 1 when it stays open. */
static double closed_after(int fd, double limit) {
        double t0 = swarm_clock_s();
        char buf[512];

        for (;;) {
                struct pollfd p = {fd, POLLIN, 0};
                double left = limit - (swarm_clock_s() - t0);
                if (left <= 0)
                        return limit + 1;
                if (poll(&p, 1, (int)(left * 1000) + 1) > 0) {
                        ssize_t n = read(fd, buf, sizeof(buf));
                        if (n <= 0)
                                return swarm_clock_s() - t0;
                }
        }
}

/* GET /healthz on an open connection; 1 when "200" and "ok" came back. */
static int healthz(int fd) {
        static const char req[] = "GET /healthz HTTP/1.0\r\n\r\n";
        char buf[1024];
        size_t len = 0;
        ssize_t n;

        if (write(fd, req, sizeof(req) - 1) != (ssize_t)sizeof(req) - 1)
                return 0;
        while (len + 1 < sizeof(buf) &&
               (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
                len += (size_t)n;
        buf[len] = '\0';
        return strstr(buf, " 200 ") && strstr(buf, "\r\n\r\nok\n");
}

int main(void) {
        static const swarm_log_t log = {SWARM_LOG_WARN, "test-metrics-limits", NULL};
        swarm_metrics_t *m = NULL;
        swarm_metrics_http_t *h = NULL;
        swarm_metrics_http_opts_t o;
        swarm_err_t err;
        int port, fd, fds[9];
        double t;

        swarm_err_clear(&err);
        if (swarm_metrics_new(&m, &err))
                return 1;

        /* bind address, timeout and the per-address limit */
        memset(&o, 0, sizeof(o));
        o.bind = "127.0.0.1";
        o.timeout_s = 1;
        o.max_per_ip = 2;
        o.max_connections = 3;
        if (swarm_metrics_http_listen(m, &o, NULL, NULL, &log, &h, &err)) {
                fprintf(stderr, "listen: %s\n", err.msg);
                return 1;
        }
        port = swarm_metrics_http_port(h);
        fd = dial(NULL, "127.0.0.1", port);
        CHECK(fd >= 0 && healthz(fd), "GET on the bound address");
        if (fd >= 0)
                close(fd);
        fd = dial(NULL, "127.0.0.2", port);
        CHECK(fd < 0, "127.0.0.2 must be refused (errno %d)", errno);
        if (fd >= 0)
                close(fd);

        fd = dial(NULL, "127.0.0.1", port);
        t = closed_after(fd, 4);
        CHECK(t >= 0.5 && t < 3, "idle connection closed after %.2f s", t);
        close(fd);

        fds[0] = dial("127.0.0.1", "127.0.0.1", port);
        fds[1] = dial("127.0.0.1", "127.0.0.1", port);
        fds[2] = dial("127.0.0.1", "127.0.0.1", port);
        CHECK(fds[2] >= 0, "the kernel accepts the third connection");
        t = closed_after(fds[2], 0.5);
        CHECK(t <= 0.5, "third connection from one address stayed open");
        /* the two within the limit are served */
        CHECK(healthz(fds[0]), "first connection served");
        close(fds[2]);
        close(fds[0]);
        close(fds[1]);
        usleep(100000);

        /* max_connections over three source addresses (2 per address is
         * allowed): at the limit the server stops accepting, so the fourth
         * waits in the kernel's backlog unanswered until one closes */
        fds[0] = dial("127.0.0.3", "127.0.0.1", port);
        fds[1] = dial("127.0.0.4", "127.0.0.1", port);
        fds[2] = dial("127.0.0.5", "127.0.0.1", port);
        usleep(100000);
        fds[3] = dial("127.0.0.6", "127.0.0.1", port);
        CHECK(fds[0] >= 0 && fds[3] >= 0, "dials");
        {
                static const char req[] = "GET /healthz HTTP/1.0\r\n\r\n";
                struct pollfd p = {fds[3], POLLIN, 0};
                CHECK(write(fds[3], req, sizeof(req) - 1) == (ssize_t)sizeof(req) - 1,
                      "write");
                CHECK(poll(&p, 1, 500) == 0, "fourth connection answered at the limit");
                close(fds[0]);
                p.revents = 0;
                CHECK(poll(&p, 1, 2000) == 1, "fourth connection not served once "
                      "a slot freed");
        }
        for (int i = 1; i < 4; i++)
                close(fds[i]);
        swarm_metrics_http_destroy(h);

        /* defaults: at most 8 connections from one address */
        CHECK(swarm_metrics_http_start(m, 0, NULL, NULL, &log, &h, &err) == 0,
              "start: %s", err.msg);
        port = swarm_metrics_http_port(h);
        for (int i = 0; i < 9; i++)
                fds[i] = dial(NULL, "127.0.0.1", port);
        usleep(100000);
        t = closed_after(fds[8], 0.5);
        CHECK(t <= 0.5, "ninth connection from one address stayed open");
        CHECK(healthz(fds[0]), "first of the eight served");
        for (int i = 0; i < 9; i++)
                close(fds[i]);
        swarm_metrics_http_destroy(h);

        /* a name is not an address */
        memset(&o, 0, sizeof(o));
        o.bind = "localhost";
        swarm_err_clear(&err);
        CHECK(swarm_metrics_http_listen(m, &o, NULL, NULL, &log, &h, &err) ==
                              SWARM_ERR_CONFIG &&
                      strstr(err.msg, "numeric"),
              "bind localhost: %s", err.msg);
        o.bind = "::1";
        swarm_err_clear(&err);
        if (swarm_metrics_http_listen(m, &o, NULL, NULL, &log, &h, &err) == 0)
                swarm_metrics_http_destroy(h);
        else /* a host without IPv6 loopback: say so, not a failure */
                fprintf(stderr, "note: ::1 not available: %s\n", err.msg);

        swarm_metrics_destroy(m);
        if (test_failures) {
                fprintf(stderr, "%d check(s) failed\n", test_failures);
                return 1;
        }
        printf("metrics limits ok\n");
        return 0;
}
