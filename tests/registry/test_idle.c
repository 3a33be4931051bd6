/*
 * test_idle - swarm_registry_wait() finds a half-open connection.
 *
 * The registry connection goes through a TCP relay in this process.  After
 * LISTEN the relay turns into a black hole: it keeps both sockets open but
 * forwards nothing, which is what a peer that vanished without a FIN (a
 * crashed host, a dropped NAT entry) looks like.  With the idle check at
 * 300 ms / 500 ms, wait() must report SWARM_ERR_IO within ~2 s and
 * swarm_registry_connected() must turn 0; without it, wait() just times out
 * and the connection looks healthy forever.  A healthy idle connection
 * answers the check and stays connected.
 *
 * Run under tests/lib/with-postgres.sh (PGHOST/PGPORT point at the server's
 * TCP port 127.0.0.1:PORT).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "swarm/clock.h"
#include "swarm/registry.h"

#include "check.h"

typedef struct relay {
        int lfd, port, up_port;
        atomic_int blackhole, stop;
        pthread_t th;
} relay_t;

/* Accept one client, connect upstream, copy both ways until told to stop;
 * in black-hole mode nothing is read or written (the sockets stay open). */
static void *relay_main(void *arg) {
        relay_t *rl = arg;
        struct sockaddr_in a = {0};
        int c = accept(rl->lfd, NULL, NULL), u = socket(AF_INET, SOCK_STREAM, 0);
        char buf[65536];

        a.sin_family = AF_INET;
        a.sin_port = htons((uint16_t)rl->up_port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (c < 0 || u < 0 || connect(u, (struct sockaddr *)&a, sizeof(a))) {
                perror("relay");
                exit(1);
        }
        while (!atomic_load(&rl->stop)) {
                struct pollfd p[2] = {{c, POLLIN, 0}, {u, POLLIN, 0}};
                if (atomic_load(&rl->blackhole)) {
                        usleep(20000);
                        continue;
                }
                if (poll(p, 2, 20) <= 0)
                        continue;
                for (int i = 0; i < 2; i++) {
                        ssize_t n;
                        if (!(p[i].revents & (POLLIN | POLLHUP)))
                                continue;
                        n = read(p[i].fd, buf, sizeof(buf));
                        if (n <= 0)
                                goto out;
                        if (write(i ? c : u, buf, (size_t)n) != n)
                                goto out;
                }
        }
out:
        close(c);
        close(u);
        return NULL;
}

static void relay_start(relay_t *rl, int up_port) {
        struct sockaddr_in a = {0};
        socklen_t al = sizeof(a);

        memset(rl, 0, sizeof(*rl));
        rl->up_port = up_port;
        rl->lfd = socket(AF_INET, SOCK_STREAM, 0);
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (bind(rl->lfd, (struct sockaddr *)&a, sizeof(a)) || listen(rl->lfd, 1) ||
            getsockname(rl->lfd, (struct sockaddr *)&a, &al)) {
                perror("relay listen");
                exit(1);
        }
        rl->port = ntohs(a.sin_port);
        pthread_create(&rl->th, NULL, relay_main, rl);
}

static void relay_stop(relay_t *rl) {
        atomic_store(&rl->stop, 1);
        pthread_join(rl->th, NULL);
        close(rl->lfd);
}

static swarm_registry_t *connect_via(const relay_t *rl) {
        char ci[256];
        swarm_registry_t *r = NULL;
        swarm_err_t err;

        swarm_err_clear(&err);
        snprintf(ci, sizeof(ci), "host=127.0.0.1 port=%d", rl->port);
        if (swarm_registry_connect(ci, NULL, &r, &err) ||
            swarm_registry_listen(r, &err)) {
                fprintf(stderr, "connect: %s\n", err.msg);
                exit(1);
        }
        return r;
}

int main(void) {
        const char *pgport = getenv("PGPORT");
        swarm_registry_t *r;
        swarm_err_t err;
        relay_t rl;
        char *payload = NULL;
        double t0, el;
        int rc;

        if (!pgport) {
                fprintf(stderr, "run under tests/lib/with-postgres.sh\n");
                return 77;
        }
        /* a healthy idle connection answers the check and stays up */
        relay_start(&rl, atoi(pgport));
        r = connect_via(&rl);
        swarm_registry_set_idle_check(r, 300, 500);
        swarm_err_clear(&err);
        t0 = swarm_clock_s();
        while (swarm_clock_s() - t0 < 1.5) {
                rc = swarm_registry_wait(r, 200, -1, &payload, &err);
                CHECK(rc == 0 && payload == NULL);
                free(payload);
                payload = NULL;
        }
        CHECK(swarm_registry_connected(r));
        swarm_registry_destroy(r);
        relay_stop(&rl);

        /* a half-open one is found */
        relay_start(&rl, atoi(pgport));
        r = connect_via(&rl);
        swarm_registry_set_idle_check(r, 300, 500);
        atomic_store(&rl.blackhole, 1);
        t0 = swarm_clock_s();
        rc = 0;
        while (!rc && swarm_clock_s() - t0 < 5) {
                swarm_err_clear(&err);
                rc = swarm_registry_wait(r, 1000, -1, &payload, &err);
                free(payload);
                payload = NULL;
        }
        el = swarm_clock_s() - t0;
        fprintf(stderr, "half-open connection: rc=%d after %.2f s: %s\n", rc, el,
                err.msg);
        CHECK(rc == SWARM_ERR_IO && err.retriable);
        CHECK(strstr(err.msg, "idle check") != NULL);
        CHECK(el < 2.5);
        CHECK(!swarm_registry_connected(r));
        swarm_registry_destroy(r);
        relay_stop(&rl);
        if (test_failures)
                return 1;
        printf("ok\n");
        return 0;
}
