/*
 * version.c - --version for every program (swarm/version.h).
 *
 * The git revision comes from a header the build regenerates on every build
 * (cmake/git_rev.cmake), so an incremental build never reports a stale one.
 * Library versions that the libraries cannot report at run time are the
 * ones pkg-config gave when the build was configured (SWARM_BUILD_*).
 */
#include <limits.h>
#include <string.h>
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

const char *swarm_cuda_module_path(char *buf, size_t size) {
#ifdef SWARM_CUDA_MODULE
        const char *env = getenv("SWARM_CUDA_MODULE");
        char exe[PATH_MAX];
        ssize_t n;

        if (env && *env)
                return env;
        /* An installed program: <prefix>/bin/PROG next to
         * <prefix>/LIBDIR/swarm/ (cmake/install.cmake), wherever the prefix
         * was moved; the build tree's copy otherwise. */
        n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n > 0 && buf && size) {
                char *slash;
                exe[n] = '\0';
                if ((slash = strrchr(exe, '/'))) {
                        *slash = '\0';
                        if ((size_t)snprintf(buf, size, "%s/../%s", exe,
                                             SWARM_CUDA_MODULE_REL) < size &&
                            access(buf, R_OK) == 0)
                                return buf;
                }
        }
        return SWARM_CUDA_MODULE;
#else
        (void)buf;
        (void)size;
        return NULL;
#endif
}

void swarm_version_print(const char *prog, FILE *out) {
        fprintf(out, "%s %s\n", prog ? prog : "swarm", SWARM_BUILD_VERSION);
        fprintf(out, "git: %s\n", SWARM_GIT_REV);
        fprintf(out, "librdkafka: %s\n", rd_kafka_version_str());
        fprintf(out, "avro-c: %s (build)\n", SWARM_BUILD_AVRO);
        fprintf(out, "openblas: %s (build)\n", SWARM_BUILD_OPENBLAS);
#ifdef SWARM_CUDA_MODULE
        {
                char buf[PATH_MAX];
                const char *path = swarm_cuda_module_path(buf, sizeof(buf));
                fprintf(out, "cuda: module built, %s at %s\n",
                        access(path, R_OK) == 0 ? "present" : "missing", path);
        }
#else
        fprintf(out, "cuda: not built (configure with -DSWARM_CUDA=ON)\n");
#endif
}
