/*
 * version.h - what this build is: Swarm's version, the git revision it was
 * built from, the versions of the libraries it uses and whether the CUDA
 * backend module is there.  Every program prints it for --version.
 */
#ifndef SWARM_VERSION_H
#define SWARM_VERSION_H

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* "0.1.0": the project version of the build. */
const char *swarm_version(void);

/* The git revision the build came from ("364fad1", "364fad1-dirty"), or
 * "unknown" outside a git checkout.  Refreshed on every build. */
const char *swarm_version_git(void);

/* Print the --version text for `prog` to `out`: one "name: value" line each
 * for swarm, git, librdkafka (run time), avro-c and openblas (the versions
 * built against: neither library reports its own at run time, and libswarm
 * links no BLAS), and cuda (whether the backend module was built and is
 * loadable from its path). */
void swarm_version_print(const char *prog, FILE *out);

/* Where the CUDA backend module is loaded from: $SWARM_CUDA_MODULE when
 * set; else the installed copy beside the running program
 * (<bin>/../<libdir>/swarm/libswarm_cuda_module.so, written into buf) when
 * it is there; else the path the build put it at.  NULL when the build has
 * no CUDA backend.  The result is env, buf or a constant. */
const char *swarm_cuda_module_path(char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
