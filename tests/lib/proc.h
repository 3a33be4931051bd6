/*
 * proc.h - child processes of the tests (workers started with fork/exec).
 */
#ifndef SWARM_TESTS_PROC_H
#define SWARM_TESTS_PROC_H

#include <signal.h>
#include <stdio.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* Wait up to timeout_s for `pid` to exit: its exit status, 128 + the signal
 * that ended it, or -1 when it was still running (it is SIGKILLed then, so
 * a hung worker never outlives the test). */
static inline int proc_wait_exit(pid_t pid, int timeout_s) {
        for (int i = 0; i < timeout_s * 10; i++) {
                int st;
                if (waitpid(pid, &st, WNOHANG) == pid)
                        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                usleep(100000);
        }
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
}

/* Ask `pid` to stop (SIGTERM) and wait for it as proc_wait_exit() does. */
static inline int proc_stop(pid_t pid, int timeout_s) {
        kill(pid, SIGTERM);
        return proc_wait_exit(pid, timeout_s);
}

/* End `pid` now (SIGKILL) and reap it: the cleanup of a test that failed. */
static inline void proc_kill(pid_t pid) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
}

/* Start argv[0] with `argv` (NULL-terminated) in a child whose stderr goes
 * to `logf`, opened with `mode` ("a" keeps the logs of earlier runs, "w"
 * starts afresh): the child's pid, or -1 when fork failed.  The child
 * exits 127 when the log cannot be opened or the exec fails. */
static inline pid_t proc_spawn_logged(const char *const *argv, const char *logf,
                                      const char *mode) {
        pid_t pid = fork();
        if (pid == 0) {
                if (!freopen(logf, mode, stderr))
                        _exit(127);
                execv(argv[0], (char *const *)argv);
                _exit(127);
        }
        return pid;
}

#endif
