/*
 * conf + CLI: precedence defaults < file < environment < command line,
 * -X routing to librdkafka, unknown swarm.* keys rejected citing their
 * origin, file:line in file errors, typed getters citing origins.
 */
#include <fcntl.h>
#include <unistd.h>

#include "swarm/conf.h"
#include "swarm/kafka.h"
#include "test_util.h"

static const swarm_opt_t opts[] = {
        {"model", 'm', "swarm.model", "NAME", "model", "dflt", 0},
        {"rate", 0, "swarm.rate", "R", "rate", "0", 0},
        {"window", 0, "swarm.window", "N", "window", "1024", 0},
        {"id-prefix", 0, "swarm.id.prefix", "P", "prefix", "p", 0},
        {"meta", 0, "swarm.meta", "K=V", "metadata", NULL, 1},
        {"wait", 0, "swarm.wait", NULL, "wait", "false", 0},
        SWARM_OPT_END,
};
static const swarm_cli_t cli = {"test-conf", "[options]", NULL, opts,
                                SWARM_CLI_ALL};

static char dir[64];

static const char *write_tmp(const char *name, const char *text) {
        static char path[4][256];
        static int k;
        char *p = path[k++ % 4];
        FILE *fp;
        snprintf(p, 256, "%s/%s", dir, name);
        fp = fopen(p, "w");
        if (!fp || fputs(text, fp) < 0) {
                perror(p);
                exit(1);
        }
        fclose(fp);
        return p;
}

/* Run swarm_cli_parse with stderr captured into `errbuf`. */
static int parse(int argc, char **argv, swarm_conf_t *c, int *exit_code,
                 char *errbuf, size_t size) {
        char path[256];
        int saved, fd, r, argi = 0;
        ssize_t n;

        snprintf(path, sizeof(path), "%s/stderr", dir);
        fflush(stderr);
        saved = dup(2);
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 2);
        r = swarm_cli_parse(&cli, argc, argv, c, &argi, exit_code);
        fflush(stderr);
        dup2(saved, 2);
        close(saved);
        lseek(fd, 0, SEEK_SET);
        n = read(fd, errbuf, size - 1);
        errbuf[n > 0 ? n : 0] = '\0';
        close(fd);
        return r;
}

static void test_precedence(void) {
        const char *file = write_tmp("a.conf",
                                     "# comment\n"
                                     "swarm.model = filemodel\n"
                                     "swarm.rate=5\n"
                                     "swarm.window=3\n"
                                     "linger.ms=7\n"
                                     "\n"
                                     "batch.num.messages=100\n"
                                     "swarm.meta=z=1\n");
        char *argv[] = {"prog", "-c", (char *)file, "--model", "climodel",
                        "-X", "batch.num.messages=200", "-X", "swarm.window=77",
                        "-X", "client.id=cli-id", "--meta", "a=1", "--meta",
                        "b=2", "-b", "127.0.0.1:1", NULL};
        swarm_conf_t *c = NULL;
        swarm_err_t err;
        rd_kafka_conf_t *kc = NULL;
        swarm_kafka_opaque_t op = {NULL};
        static const char *const over[] = {"linger.ms", "5", "acks", "1", NULL};
        char buf[512], errbuf[1024];
        size_t n;
        int ec = 0;
        int64_t i64 = 0;

        swarm_err_clear(&err);
        setenv("SWARM_RATE", "9", 1);
        setenv("SWARM_MODEL", "envmodel", 1);
        CHECK(swarm_conf_new(&c, &err) == 0);
        CHECK(parse(17, argv, c, &ec, errbuf, sizeof(errbuf)) == 0 && ec == -1);
        if (*errbuf)
                fprintf(stderr, "unexpected stderr: %s\n", errbuf);
        CHECK(!strcmp(swarm_conf_get(c, "swarm.model"), "climodel"));
        CHECK(!strcmp(swarm_conf_origin(c, "swarm.model"), "--model"));
        CHECK(!strcmp(swarm_conf_get(c, "swarm.rate"), "9"));
        CHECK(!strcmp(swarm_conf_origin(c, "swarm.rate"), "SWARM_RATE"));
        CHECK(!strcmp(swarm_conf_get(c, "swarm.window"), "77"));
        CHECK(!strcmp(swarm_conf_origin(c, "swarm.window"), "-X"));
        CHECK(!strcmp(swarm_conf_get(c, "swarm.id.prefix"), "p"));
        CHECK(!strcmp(swarm_conf_origin(c, "swarm.id.prefix"), "default"));
        CHECK(!strcmp(swarm_conf_get(c, "linger.ms"), "7"));
        snprintf(buf, sizeof(buf), "%s:5", file);
        CHECK(!strcmp(swarm_conf_origin(c, "linger.ms"), buf));
        CHECK(!strcmp(swarm_conf_get(c, "bootstrap.servers"), "127.0.0.1:1"));
        /* repeatable: the command line's values replace the file's */
        CHECK(swarm_conf_count(c, "swarm.meta") == 2);
        CHECK(!strcmp(swarm_conf_get_nth(c, "swarm.meta", 0), "a=1"));
        CHECK(!strcmp(swarm_conf_get_nth(c, "swarm.meta", 1), "b=2"));
        CHECK(swarm_conf_get_i64(c, "swarm.window", 0, &i64, &err) == 0 &&
              i64 == 77);

        /* -X routing: non-swarm keys reach librdkafka and beat the program's
         * built-in defaults; swarm.* keys never do */
        CHECK(swarm_kafka_conf(c, over, &op, &kc, &err) == 0);
        if (kc) {
                n = sizeof(buf);
                CHECK(rd_kafka_conf_get(kc, "linger.ms", buf, &n) ==
                              RD_KAFKA_CONF_OK && !strcmp(buf, "7"));
                n = sizeof(buf);
                CHECK(rd_kafka_conf_get(kc, "batch.num.messages", buf, &n) ==
                              RD_KAFKA_CONF_OK && !strcmp(buf, "200"));
                n = sizeof(buf);
                CHECK(rd_kafka_conf_get(kc, "client.id", buf, &n) ==
                              RD_KAFKA_CONF_OK && !strcmp(buf, "cli-id"));
                n = sizeof(buf);
                CHECK(rd_kafka_conf_get(kc, "acks", buf, &n) ==
                              RD_KAFKA_CONF_OK && !strcmp(buf, "1"));
                rd_kafka_conf_destroy(kc);
        }
        swarm_conf_destroy(c);
        unsetenv("SWARM_RATE");
        unsetenv("SWARM_MODEL");
}

/* Secrets from the environment or a file instead of the command line:
 * SWARM_<OPTION>_FILE for any option, SWARM_KAFKA_<PROPERTY>[_FILE] for
 * librdkafka's secret properties; the file's trailing newline is dropped. */
static void test_secrets(void) {
        swarm_conf_t *c = NULL;
        swarm_err_t err;
        char *argv[] = {"prog", NULL};
        int argi, code;

        swarm_err_clear(&err);
        setenv("SWARM_ID_PREFIX_FILE", write_tmp("prefix", "from-file\n"), 1);
        setenv("SWARM_KAFKA_SASL_PASSWORD", "env-secret", 1);
        setenv("SWARM_KAFKA_SSL_KEY_PASSWORD_FILE", write_tmp("kp", "file-secret\r\n"), 1);
        CHECK(swarm_conf_new(&c, &err) == 0);
        CHECK(swarm_cli_parse(&cli, 1, argv, c, &argi, &code) == 0 && code == -1);
        CHECK(!strcmp(swarm_conf_get(c, "swarm.id.prefix"), "from-file"));
        CHECK(!strcmp(swarm_conf_origin(c, "swarm.id.prefix"), "SWARM_ID_PREFIX_FILE"));
        CHECK(!strcmp(swarm_conf_get(c, "sasl.password"), "env-secret"));
        CHECK(!strcmp(swarm_conf_origin(c, "sasl.password"), "SWARM_KAFKA_SASL_PASSWORD"));
        CHECK(!strcmp(swarm_conf_get(c, "ssl.key.password"), "file-secret"));
        swarm_conf_destroy(c);
        /* a missing file is a configuration error naming the variable */
        setenv("SWARM_ID_PREFIX_FILE", "/nonexistent/secret", 1);
        CHECK(swarm_conf_new(&c, &err) == 0);
        CHECK(swarm_cli_parse(&cli, 1, argv, c, &argi, &code) != 0 && code == 2);
        swarm_conf_destroy(c);
        unsetenv("SWARM_ID_PREFIX_FILE");
        unsetenv("SWARM_KAFKA_SASL_PASSWORD");
        unsetenv("SWARM_KAFKA_SSL_KEY_PASSWORD_FILE");
}

static void test_errors(void) {
        swarm_conf_t *c = NULL;
        swarm_err_t err;
        rd_kafka_conf_t *kc = NULL;
        swarm_kafka_opaque_t op = {NULL};
        char errbuf[1024], want[512];
        int ec = 0;
        int64_t i64;
        const char *bad;

        swarm_err_clear(&err);
        /* unknown swarm.* key from a file: rejected with file:line */
        bad = write_tmp("b.conf", "swarm.model=x\n\nswarm.bogus=1\n");
        {
                char *argv[] = {"prog", "-c", (char *)bad, NULL};
                swarm_conf_new(&c, &err);
                CHECK(parse(3, argv, c, &ec, errbuf, sizeof(errbuf)) != 0 &&
                      ec == 2);
                snprintf(want, sizeof(want),
                         "%s:3: unknown configuration key \"swarm.bogus\"", bad);
                CHECK(strstr(errbuf, want) != NULL);
                swarm_conf_destroy(c);
        }
        /* ... and from -X */
        {
                char *argv[] = {"prog", "-X", "swarm.nope=1", NULL};
                swarm_conf_new(&c, &err);
                CHECK(parse(3, argv, c, &ec, errbuf, sizeof(errbuf)) != 0 &&
                      ec == 2);
                CHECK(strstr(errbuf, "-X: unknown configuration key \"swarm.nope\""));
                swarm_conf_destroy(c);
        }
        /* unknown option and malformed -X: usage errors */
        {
                char *argv[] = {"prog", "--frobnicate", NULL};
                swarm_conf_new(&c, &err);
                parse(2, argv, c, &ec, errbuf, sizeof(errbuf));
                CHECK(ec == 2 && strstr(errbuf, "--frobnicate"));
                swarm_conf_destroy(c);
        }
        {
                char *argv[] = {"prog", "-X", "novalue", NULL};
                swarm_conf_new(&c, &err);
                parse(3, argv, c, &ec, errbuf, sizeof(errbuf));
                CHECK(ec == 2 && strstr(errbuf, "-X expects key=value"));
                swarm_conf_destroy(c);
        }
        /* unknown librdkafka property: rejected when building the handle's
         * conf, citing where it came from */
        {
                char *argv[] = {"prog", "-X", "no.such.property=1", NULL};
                swarm_conf_new(&c, &err);
                CHECK(parse(3, argv, c, &ec, errbuf, sizeof(errbuf)) == 0 &&
                      ec == -1);
                CHECK_ERR(swarm_kafka_conf(c, NULL, &op, &kc, &err), err,
                          SWARM_ERR_CONFIG, "-X: ");
                swarm_conf_destroy(c);
        }
        /* config file syntax error: file:line */
        bad = write_tmp("c.conf", "# ok\nswarm.model=x\nthis line has no equals\n");
        swarm_conf_new(&c, &err);
        snprintf(want, sizeof(want), "%s:3: expected key=value", bad);
        CHECK_ERR(swarm_conf_load_file(c, bad, &err), err, SWARM_ERR_CONFIG, want);
        CHECK_ERR(swarm_conf_load_file(c, "/nonexistent/x.conf", &err), err,
                  SWARM_ERR_IO, "/nonexistent/x.conf");
        /* typed getter errors cite the key and origin */
        swarm_conf_add(c, SWARM_CONF_ENV, "swarm.window", "12q", "SWARM_WINDOW",
                       &err);
        CHECK_ERR(swarm_conf_get_i64(c, "swarm.window", 0, &i64, &err), err,
                  SWARM_ERR_CONFIG, "SWARM_WINDOW: swarm.window=\"12q\"");
        swarm_conf_add(c, SWARM_CONF_CLI, "swarm.window", "4k", "--window", &err);
        CHECK(swarm_conf_get_i64(c, "swarm.window", 0, &i64, &err) == 0 &&
              i64 == 4000);
        swarm_conf_destroy(c);

        /* --help exits 0 */
        {
                char *argv[] = {"prog", "--help", NULL};
                int saved = dup(1), fd = open("/dev/null", O_WRONLY);
                fflush(stdout);
                dup2(fd, 1);
                swarm_conf_new(&c, &err);
                parse(2, argv, c, &ec, errbuf, sizeof(errbuf));
                fflush(stdout);
                dup2(saved, 1);
                close(saved);
                close(fd);
                CHECK(ec == 0);
                swarm_conf_destroy(c);
        }
}

int main(void) {
        char cmd[128];
        snprintf(dir, sizeof(dir), "/tmp/swarm-conf-XXXXXX");
        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return 1;
        }
        test_precedence();
        test_secrets();
        test_errors();
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", dir);
        TEST_DONE();
}
