/*
 * version.c - --version for every program (swarm/version.h).
 *
 * The git revision comes from a header the build regenerates on every build
 * (cmake/git_rev.cmake), so an incremental build never reports a stale one.
 * Library versions that the libraries cannot report at run time are the
 * ones pkg-config gave when the build was configured (SWARM_BUILD_*).
 */
#include "swarm/version.h"

#include <librdkafka/rdkafka.h>
#include <stdlib.h>
#include <unistd.h>

#include "swarm_git_rev.h"

#ifndef SWARM_BUILD_VERSION
#define SWARM_BUILD_VERSION "unknown"
#endif
#ifndef SWARM_BUILD_AVRO
#define SWARM_BUILD_AVRO "unknown"
#endif
#ifndef SWARM_BUILD_OPENBLAS
#define SWARM_BUILD_OPENBLAS "unknown"
#endif

const char *swarm_version(void) {
        return SWARM_BUILD_VERSION;
}

const char *swarm_version_git(void) {
        return SWARM_GIT_REV;
}

void swarm_version_print(const char *prog, FILE *out) {
        fprintf(out, "%s %s\n", prog ? prog : "swarm", SWARM_BUILD_VERSION);
        fprintf(out, "git: %s\n", SWARM_GIT_REV);
        fprintf(out, "librdkafka: %s\n", rd_kafka_version_str());
        fprintf(out, "avro-c: %s (build)\n", SWARM_BUILD_AVRO);
        fprintf(out, "openblas: %s (build)\n", SWARM_BUILD_OPENBLAS);
#ifdef SWARM_CUDA_MODULE
        {
                /* the same lookup lib/exec/device.c does before dlopen() */
                const char *path = getenv("SWARM_CUDA_MODULE");
                if (!path || !*path)
                        path = SWARM_CUDA_MODULE;
                fprintf(out, "cuda: module built, %s at %s\n",
                        access(path, R_OK) == 0 ? "present" : "missing", path);
        }
#else
        fprintf(out, "cuda: not built (configure with -DSWARM_CUDA=ON)\n");
#endif
}
