/*
 * actuator.c - make the fleet the size the policy asks for.  See scaler.h.
 *
 * Local workers are children of the scaler in their own process group, die
 * with it (PR_SET_PDEATHSIG) and inherit stderr, so their log lines appear
 * with the scaler's.
 */
#include "scaler.h"

#include "swarm/clock.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS 256

typedef struct slot {
        pid_t pid;
        double started_s;
        double stop_sent_s;     /* 0: running */
} slot_t;

struct actuator {
        actuator_kind_t kind;
        char **argv;
        const char *cmd;
        double stop_timeout_s;
        const swarm_log_t *log;
        slot_t w[MAX_WORKERS];
        int n;
        long restarts;
        int crashes;            /* consecutive short-lived workers */
        double next_start_s;    /* crash-loop backoff */
        int applied;            /* exec: last count applied */
        double stopped_s;       /* when the last stopping worker exited */
};

/* Pause between two stops: the group finishes the rebalance the first
 * leave started before the next leave (avoids lost final commits and
 * rebalance storms). */
#define STOP_GAP_S 3.0
/* At exit, how often stopping workers are checked for. */
#define REAP_POLL_US (50 * 1000)

double scaler_now(void) {
        return (double)swarm_clock_us() / 1e6;
}

int actuator_new(actuator_kind_t kind, char **argv, const char *cmd,
                 double stop_timeout_s, const swarm_log_t *log,
                 actuator_t **out, swarm_err_t *err) {
        actuator_t *a;

        if (kind == ACTUATOR_LOCAL && (!argv || !argv[0]))
                return swarm_err_set(err, SWARM_ERR_CONFIG,
                                     "--actuator local needs the worker "
                                     "command after --");
        if (kind == ACTUATOR_EXEC && (!cmd || !strstr(cmd, "{n}")))
                return swarm_err_set(err, SWARM_ERR_CONFIG,
                                     "--actuator exec needs --exec 'CMD' "
                                     "containing {n}");
        if (!(a = calloc(1, sizeof(*a))))
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        a->kind = kind;
        a->argv = argv;
        a->cmd = cmd;
        a->stop_timeout_s = stop_timeout_s;
        a->log = log;
        a->applied = -1;
        *out = a;
        return SWARM_OK;
}

int actuator_workers(const actuator_t *a) {
        int n = 0;
        if (a->kind != ACTUATOR_LOCAL)
                return a->applied;
        for (int i = 0; i < a->n; i++)
                n += a->w[i].stop_sent_s == 0;
        return n;
}

long actuator_restarts(const actuator_t *a) {
        return a->restarts;
}

static int spawn(actuator_t *a, double now, swarm_err_t *err) {
        pid_t parent = getpid(), pid;

        if (a->n >= MAX_WORKERS)
                return swarm_err_set(err, SWARM_ERR_STATE, "too many workers");
        pid = fork();
        if (pid < 0)
                return swarm_err_set(err, SWARM_ERR_IO, "fork: %s", strerror(errno));
        if (pid == 0) {
                sigset_t none;
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                signal(SIGTERM, SIG_DFL);
                signal(SIGINT, SIG_DFL);
                signal(SIGPIPE, SIG_DFL);
                /* Own process group: a ^C to the scaler is not also a ^C to
                 * every worker at once; the scaler stops them one by one. */
                setpgid(0, 0);
                prctl(PR_SET_PDEATHSIG, SIGTERM);
                if (getppid() != parent)
                        _exit(127);
                /* Workers on one host cannot share the worker's fixed
                 * default metrics port: each gets a free one (logged)
                 * unless its command line names a port. */
                setenv("SWARM_METRICS_PORT", "0", 1);
                execvp(a->argv[0], a->argv);
                fprintf(stderr, "swarm-scaler: exec %s: %s\n", a->argv[0],
                        strerror(errno));
                _exit(127);
        }
        a->w[a->n].pid = pid;
        a->w[a->n].started_s = now;
        a->w[a->n].stop_sent_s = 0;
        a->n++;
        SWARM_INFO(a->log, "worker started pid=%d workers=%d", (int)pid,
                   actuator_workers(a));
        return SWARM_OK;
}

static void describe(int status, char *buf, size_t size) {
        if (WIFEXITED(status))
                snprintf(buf, size, "exit=%d", WEXITSTATUS(status));
        else if (WIFSIGNALED(status))
                snprintf(buf, size, "signal=%d", WTERMSIG(status));
        else
                snprintf(buf, size, "status=%d", status);
}

static void reap(actuator_t *a, double now) {
        for (int i = 0; i < a->n;) {
                int status;
                char how[32];
                slot_t *s = &a->w[i];
                pid_t r = waitpid(s->pid, &status, WNOHANG);

                if (r == 0) {
                        if (s->stop_sent_s > 0 &&
                            now - s->stop_sent_s > a->stop_timeout_s) {
                                SWARM_WARN(a->log, "worker did not stop in "
                                           "%.0f s, killing pid=%d",
                                           a->stop_timeout_s, (int)s->pid);
                                kill(s->pid, SIGKILL);
                                s->stop_sent_s = now; /* once per timeout */
                        }
                        i++;
                        continue;
                }
                describe(status, how, sizeof(how));
                if (s->stop_sent_s > 0) {
                        SWARM_INFO(a->log, "worker stopped pid=%d %s", (int)s->pid,
                                   how);
                        a->stopped_s = now;
                } else {
                        /* Died on its own: replace it, but back off when it
                         * keeps dying young (bad model path, broker gone). */
                        a->restarts++;
                        if (now - s->started_s < 10) {
                                double wait = 1 << (a->crashes < 6 ? a->crashes : 6);
                                a->crashes++;
                                a->next_start_s = now + wait;
                        } else {
                                a->crashes = 0;
                        }
                        SWARM_WARN(a->log, "worker died pid=%d %s restarts=%ld "
                                   "next_start_in_s=%.0f", (int)s->pid, how,
                                   a->restarts,
                                   a->next_start_s > now ? a->next_start_s - now : 0);
                }
                a->w[i] = a->w[--a->n];
        }
}

/* The --exec command once {n} is replaced. */
#define ACTUATOR_CMD_SIZE 4096

static int run_exec(actuator_t *a, int n, swarm_err_t *err) {
        char cmd[ACTUATOR_CMD_SIZE], num[16];
        const char *p = a->cmd, *q;
        size_t len = 0;
        int status;
        pid_t pid;

        snprintf(num, sizeof(num), "%d", n);
        while ((q = strstr(p, "{n}")) && len < sizeof(cmd)) {
                len += (size_t)snprintf(cmd + len, sizeof(cmd) - len, "%.*s%s",
                                        (int)(q - p), p, num);
                p = q + 3;
        }
        if (len < sizeof(cmd))
                snprintf(cmd + len, sizeof(cmd) - len, "%s", p);
        SWARM_INFO(a->log, "exec workers=%d cmd=\"%s\"", n, cmd);
        if ((pid = fork()) < 0)
                return swarm_err_set(err, SWARM_ERR_IO, "fork: %s", strerror(errno));
        if (pid == 0) {
                execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
                _exit(127);
        }
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (!WIFEXITED(status) || WEXITSTATUS(status))
                return swarm_err_set(err, SWARM_ERR_IO,
                                     "exec command failed (status %d): %s",
                                     status, cmd);
        a->applied = n;
        return SWARM_OK;
}

int actuator_tick(actuator_t *a, int desired, double now, swarm_err_t *err) {
        int running, stopping = 0, r;

        if (a->kind == ACTUATOR_NONE) {
                if (desired >= 0)
                        a->applied = desired;
                return SWARM_OK;
        }
        if (a->kind == ACTUATOR_EXEC)
                return desired >= 0 && desired != a->applied
                               ? run_exec(a, desired, err)
                               : SWARM_OK;
        reap(a, now);
        if (desired < 0)
                return SWARM_OK;
        running = actuator_workers(a);
        for (int i = 0; i < a->n; i++)
                stopping += a->w[i].stop_sent_s > 0;
        while (running < desired && now >= a->next_start_s) {
                if ((r = spawn(a, now, err)))
                        return r;
                running++;
        }
        if (running > desired && !stopping &&
            (a->stopped_s == 0 || now - a->stopped_s >= STOP_GAP_S)) {
                /* The newest worker goes first: the oldest ones hold the
                 * warmest caches and the stickiest assignments. */
                int newest = -1;
                for (int i = 0; i < a->n; i++)
                        if (a->w[i].stop_sent_s == 0 &&
                            (newest < 0 || a->w[i].started_s > a->w[newest].started_s))
                                newest = i;
                if (newest >= 0) {
                        kill(a->w[newest].pid, SIGTERM);
                        a->w[newest].stop_sent_s = now;
                        SWARM_INFO(a->log, "worker stopping pid=%d workers=%d",
                                   (int)a->w[newest].pid, running - 1);
                }
        }
        return SWARM_OK;
}

void actuator_destroy(actuator_t *a) {
        if (!a)
                return;
        /* One at a time: two members leaving back to back can lose the
         * second one's final commit in the rebalance the first started. */
        while (a->kind == ACTUATOR_LOCAL && a->n > 0) {
                slot_t *s = &a->w[a->n - 1];
                if (s->stop_sent_s == 0) {
                        if (a->stopped_s > 0 && scaler_now() - a->stopped_s < 1.0) {
                                usleep(REAP_POLL_US);
                                continue;
                        }
                        kill(s->pid, SIGTERM);
                        s->stop_sent_s = scaler_now();
                        SWARM_INFO(a->log, "worker stopping pid=%d (scaler exits)",
                                   (int)s->pid);
                }
                reap(a, scaler_now());
                usleep(REAP_POLL_US);
        }
        free(a);
}
