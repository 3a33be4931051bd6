/*
 * fileio.h - a whole stream or file read into memory: model files, the
 * registry's artifacts, `swarm-producer -i -`.
 */
#ifndef SWARM_FILEIO_H
#define SWARM_FILEIO_H

#include <stddef.h>
#include <stdio.h>

#include "swarm/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Read `f` to its end into *buf (malloc'ed, caller frees; one NUL byte
 * past the *len bytes, so text can be parsed in place).  `what` names the
 * stream in errors ("standard input", a path).  `f` stays open.  Errors:
 * SWARM_ERR_NOMEM, SWARM_ERR_IO ("WHAT: strerror"). */
int swarm_fileio_read(FILE *f, const char *what, void **buf, size_t *len, swarm_err_t *err);

/* The same for the file at `path`; SWARM_ERR_IO "PATH: strerror" when it
 * cannot be opened. */
int swarm_fileio_read_path(const char *path, void **buf, size_t *len, swarm_err_t *err);

#ifdef __cplusplus
}
#endif

#endif
