/*
 * fileio.c - a whole stream or file read into memory (fileio.h).
 */
#include "swarm/fileio.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The buffer starts at this size and doubles: a stream (a pipe, standard
 * input) has no size to ask for. */
#define FILEIO_FIRST_CAP (1 << 16)

int swarm_fileio_read(FILE *f, const char *what, void **buf, size_t *len, swarm_err_t *err) {
        size_t cap = FILEIO_FIRST_CAP, n = 0;
        struct stat st;
        char *b = NULL;

        *buf = NULL;
        *len = 0;
        /* a regular file is read into one buffer of its size (+2: the NUL,
         * and the byte whose short read says the end is reached) */
        if (!fstat(fileno(f), &st) && S_ISREG(st.st_mode) && st.st_size >= 0 &&
            (uint64_t)st.st_size < (uint64_t)SIZE_MAX / 2)
                cap = (size_t)st.st_size + 2;
        for (;;) {
                size_t want, got;
                if (!b || cap - n < 2) {
                        char *nb = NULL;
                        size_t ncap = b ? cap * 2 : cap;
                        if ((b && cap > SIZE_MAX / 2) || !(nb = realloc(b, ncap))) {
                                free(b);
                                return swarm_err_set(err, SWARM_ERR_NOMEM, "%s: out of memory",
                                                     what);
                        }
                        b = nb;
                        cap = ncap;
                }
                want = cap - n - 1;
                got = fread(b + n, 1, want, f);
                n += got;
                if (got < want)
                        break;  /* the end, or an error */
        }
        if (ferror(f)) {
                int e = errno;
                free(b);
                return swarm_err_set(err, SWARM_ERR_IO, "%s: %s", what,
                                     e ? strerror(e) : "read error");
        }
        b[n] = '\0';
        *buf = b;
        *len = n;
        return SWARM_OK;
}

int swarm_fileio_read_path(const char *path, void **buf, size_t *len, swarm_err_t *err) {
        FILE *f = fopen(path, "rb");
        int rc;

        if (!f) {
                *buf = NULL;
                *len = 0;
                return swarm_err_set(err, SWARM_ERR_IO, "%s: %s", path, strerror(errno));
        }
        rc = swarm_fileio_read(f, path, buf, len, err);
        fclose(f);
        return rc;
}
