/*
 * fuzz_conf.c - the configuration file reader and the command line parser
 * (lib/core/conf.c) with the typed getters.
 *
 * Input layout: everything up to the first NUL byte is a config file (read
 * through -c from an anonymous memory file); the rest, split at NUL bytes,
 * is argv[1..].  The option table mixes flags, options with arguments,
 * short names and a repeatable option, as the programs' tables do.  After a
 * successful parse every effective key is read back through every typed
 * getter (integers with k/M/G suffixes, doubles, booleans), and the
 * repeatable option through count/get_nth.
 */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "swarm/conf.h"

static const swarm_opt_t opts[] = {
        {"max-batch-rows", 'm', "swarm.max.batch.rows", "N", "rows", "64", 0},
        {"max-delay-us", 0, "swarm.max.delay.us", "US", "delay", "2000", 0},
        {"model", 0, "swarm.model", "NAME=PATH", "model", NULL, 1},
        {"dry-run", 'n', "swarm.dry.run", NULL, "flag", NULL, 0},
        {"ratio", 0, "swarm.ratio", "X", "a double", "0.5", 0},
        SWARM_OPT_END,
};

static const swarm_cli_t cli = {"fuzz-conf", "[options] FILE", NULL, opts,
                                SWARM_CLI_ALL};

static int fd = -1;

static int visit(const char *key, const char *value, const char *origin,
                 void *opaque) {
        const swarm_conf_t *c = opaque;
        int64_t i;
        double d;
        int b;
        swarm_err_t err;

        FUZZ_ASSERT(key && value && origin);
        swarm_err_clear(&err);
        (void)swarm_conf_get_i64(c, key, 0, &i, &err);
        swarm_err_clear(&err);
        (void)swarm_conf_get_double(c, key, 0, &d, &err);
        swarm_err_clear(&err);
        (void)swarm_conf_get_bool(c, key, 0, &b, &err);
        FUZZ_ASSERT(swarm_conf_get(c, key) != NULL);
        (void)swarm_conf_origin(c, key);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const uint8_t *nul = memchr(data, 0, size);
        size_t flen = nul ? (size_t)(nul - data) : size;
        char *args = NULL, *argv[66], path[64];
        int argc = 0, argi = 0, done = 0;
        swarm_conf_t *c = NULL;
        swarm_err_t err;

        if (fd < 0 && (fd = memfd_create("fuzz.conf", 0)) < 0)
                abort();
        if (ftruncate(fd, 0) || pwrite(fd, data, flen, 0) != (ssize_t)flen)
                abort();
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);

        argv[argc++] = (char *)"fuzz-conf";
        argv[argc++] = (char *)"-c";
        argv[argc++] = path;
        if (nul) {
                size_t alen = size - flen - 1;
                args = malloc(alen + 1);
                memcpy(args, nul + 1, alen);
                args[alen] = '\0';
                for (char *p = args; p < args + alen && argc < 64;) {
                        /* -X list prints librdkafka's whole property table:
                         * slow and says nothing about our parser */
                        if (!strcmp(p, "list"))
                                goto out;
                        argv[argc++] = p;
                        p += strlen(p) + 1;
                }
        }
        argv[argc] = NULL;

        swarm_err_clear(&err);
        if (swarm_conf_new(&c, &err))
                abort();
        swarm_err_clear(&err);
        if (swarm_cli_parse(&cli, argc, argv, c, &argi, &done, &err) == SWARM_OK &&
            !done) {
                FUZZ_ASSERT(argi >= 1 && argi <= argc);
                swarm_conf_each(c, visit, c);
                for (size_t i = 0; i < swarm_conf_count(c, "swarm.model"); i++)
                        FUZZ_ASSERT(swarm_conf_get_nth(c, "swarm.model", i));
        }
        swarm_conf_destroy(c);
out:
        free(args);
        return 0;
}
