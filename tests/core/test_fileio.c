/*
 * test_fileio.c - lib/core/fileio.c: a regular file read into one buffer of
 * its size, a pipe longer than the first buffer, an empty file, and the
 * errors (a missing path, a stream that cannot be read).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "swarm/fileio.h"

/* Bytes that differ from position to position, so a misplaced chunk shows. */
static void fill(unsigned char *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                p[i] = (unsigned char)(i * 7 + i / 251);
}

static void test_regular(void) {
        char path[] = "/tmp/swarm-test-fileio-XXXXXX";
        int fd = mkstemp(path);
        size_t n = 300001, len = 0;
        unsigned char *want = malloc(n);
        void *buf = NULL;
        swarm_err_t err;

        CHECK(fd >= 0 && want);
        if (fd < 0 || !want)
                return;
        fill(want, n);
        CHECK(write(fd, want, n) == (ssize_t)n);
        close(fd);
        swarm_err_clear(&err);
        CHECK_OK(swarm_fileio_read_path(path, &buf, &len, &err), err);
        CHECK(len == n, "read %zu bytes of %zu", len, n);
        CHECK(buf && !memcmp(buf, want, n), "the bytes differ");
        CHECK(buf && ((char *)buf)[len] == '\0', "no NUL after the bytes");
        free(buf);

        /* empty: a buffer holding only the NUL */
        fd = open(path, O_WRONLY | O_TRUNC);
        CHECK(fd >= 0);
        if (fd >= 0)
                close(fd);
        buf = NULL;
        len = 7;
        CHECK_OK(swarm_fileio_read_path(path, &buf, &len, &err), err);
        CHECK(len == 0 && buf && ((char *)buf)[0] == '\0', "empty file: len %zu", len);
        free(buf);
        unlink(path);
        free(want);
}

/* A pipe has no size: the buffer grows past its first 64 KiB. */
static void test_pipe(void) {
        size_t n = 1000003, len = 0;
        unsigned char *want = malloc(n);
        int fds[2], st = -1;
        pid_t pid;
        FILE *f;
        void *buf = NULL;
        swarm_err_t err;

        CHECK(want != NULL && pipe(fds) == 0);
        if (!want)
                return;
        fill(want, n);
        /* written by another process, in pieces as a pipe delivers them */
        if ((pid = fork()) == 0) {
                close(fds[0]);
                for (size_t off = 0; off < n;) {
                        ssize_t w = write(fds[1], want + off, n - off > 4096 ? 4096 : n - off);
                        if (w <= 0)
                                _exit(1);
                        off += (size_t)w;
                }
                _exit(0);
        }
        close(fds[1]);
        f = fdopen(fds[0], "r");
        CHECK(pid > 0 && f != NULL);
        if (pid < 0 || !f) {
                free(want);
                return;
        }
        swarm_err_clear(&err);
        CHECK_OK(swarm_fileio_read(f, "the pipe", &buf, &len, &err), err);
        fclose(f);
        waitpid(pid, &st, 0);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the writer failed");
        CHECK(len == n, "read %zu bytes of %zu from the pipe", len, n);
        CHECK(buf && !memcmp(buf, want, n), "the pipe's bytes differ");
        free(buf);
        free(want);
}

static void test_errors(void) {
        void *buf = (void *)1;
        size_t len = 7;
        swarm_err_t err;
        FILE *f;

        swarm_err_clear(&err);
        CHECK_ERR(swarm_fileio_read_path("/nonexistent/swarm-model.onnx", &buf, &len, &err),
                  err, SWARM_ERR_IO, "/nonexistent/swarm-model.onnx: No such file");
        CHECK(buf == NULL && len == 0, "outputs not cleared on error");
        /* a directory opens but cannot be read */
        f = fopen("/", "r");
        if (f) {
                buf = (void *)1;
                CHECK_ERR(swarm_fileio_read(f, "the root folder", &buf, &len, &err), err,
                          SWARM_ERR_IO, "the root folder: ");
                CHECK(buf == NULL);
                fclose(f);
        }
}

int main(void) {
        test_regular();
        test_pipe();
        test_errors();
        TEST_DONE();
}
