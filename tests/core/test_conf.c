/*
 * conf + CLI: precedence defaults < file < environment < command line,
 * -X routing to librdkafka, unknown swarm.* keys rejected citing their
 * origin, file:line in file errors, typed getters citing origins.
 */
#include <fcntl.h>
#include <unistd.h>

#include "swarm/conf.h"
#include "swarm/kafka.h"
#include "check.h"

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
        {
                swarm_err_t err;
                int done = 0;
                swarm_err_clear(&err);
                r = swarm_cli_parse(&cli, argc, argv, c, &argi, &done, &err);
                /* the exit code a program takes from the result */
                *exit_code = r ? swarm_cli_error(&cli, &err) : done ? 0 : -1;
        }
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
        int argi, done = 0;

        swarm_err_clear(&err);
        setenv("SWARM_ID_PREFIX_FILE", write_tmp("prefix", "from-file\n"), 1);
        setenv("SWARM_KAFKA_SASL_PASSWORD", "env-secret", 1);
        setenv("SWARM_KAFKA_SSL_KEY_PASSWORD_FILE", write_tmp("kp", "file-secret\r\n"), 1);
        CHECK(swarm_conf_new(&c, &err) == 0);
        CHECK(swarm_cli_parse(&cli, 1, argv, c, &argi, &done, &err) == 0 && !done);
        CHECK(!strcmp(swarm_conf_get(c, "swarm.id.prefix"), "from-file"));
        CHECK(!strcmp(swarm_conf_origin(c, "swarm.id.prefix"), "SWARM_ID_PREFIX_FILE"));
        CHECK(!strcmp(swarm_conf_get(c, "sasl.password"), "env-secret"));
        CHECK(!strcmp(swarm_conf_origin(c, "sasl.password"), "SWARM_KAFKA_SASL_PASSWORD"));
        CHECK(!strcmp(swarm_conf_get(c, "ssl.key.password"), "file-secret"));
        swarm_conf_destroy(c);
        /* a missing file is a configuration error naming the variable */
        setenv("SWARM_ID_PREFIX_FILE", "/nonexistent/secret", 1);
        CHECK(swarm_conf_new(&c, &err) == 0);
        CHECK(swarm_cli_parse(&cli, 1, argv, c, &argi, &done, &err) == SWARM_ERR_CONFIG &&
              strstr(err.msg, "SWARM_ID_PREFIX_FILE"));
        swarm_err_clear(&err);
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

/* Typed options: checked at parse time whatever the layer, filled into a
 * struct, listed by -X list; -F is -c. */
typedef struct typed {
        const char *topic, *mode, *name;
        int64_t rows;
        double ratio;
        int flag;
        swarm_opt_list_t tags;
} typed_t;

static int check_even(const char *v, swarm_err_t *err) {
        return strlen(v) % 2 ? swarm_err_set(err, SWARM_ERR_CONFIG, "odd length") : 0;
}

#define TF(m) SWARM_FIELD(typed_t, m)
static const swarm_opt_t typed_opts[] = {
        {"rows", 'n', "swarm.rows", "N", "rows", "8", 0, SWARM_OPT_INT, 1, 64,
         .field = TF(rows)},
        {"ratio", 0, "swarm.ratio", "F", "ratio", "0.5", 0, SWARM_OPT_DOUBLE, 0, 1,
         .field = TF(ratio)},
        {"mode", 0, "swarm.mode", "a|b", "mode", "a", 0, .choices = "a|b",
         .field = TF(mode)},
        {"flag", 0, "swarm.flag", NULL, "flag", "false", 0, SWARM_OPT_BOOL,
         .field = TF(flag)},
        {"tag", 0, "swarm.tag", "T", "tags", NULL, 1, SWARM_OPT_LIST, .field = TF(tags)},
        {"name", 0, "swarm.name", "S", "even-length name", NULL, 0, .check = check_even,
         .field = TF(name)},
        SWARM_OPT_END,
};
#undef TF
static const swarm_cli_t typed_cli = {"test-typed", "[options]", NULL, typed_opts,
                                      SWARM_CLI_ALL, "requests",
                                      SWARM_FIELD(typed_t, topic)};

static int typed_parse(int argc, char **argv, swarm_conf_t **c, typed_t *t,
                       swarm_err_t *err) {
        int argi, done, r;
        swarm_err_clear(err);
        memset(t, 0, sizeof(*t));
        swarm_conf_new(c, err);
        r = swarm_cli_parse(&typed_cli, argc, argv, *c, &argi, &done, err);
        if (!r)
                r = swarm_opts_fill(&typed_cli, *c, t, err);
        return r;
}

static void test_typed(void) {
        swarm_conf_t *c = NULL;
        swarm_err_t err;
        typed_t t;

        /* defaults, then values from three layers */
        {
                char *argv[] = {"prog", NULL};
                CHECK(typed_parse(1, argv, &c, &t, &err) == 0, "%s", err.msg);
                CHECK(t.rows == 8 && t.ratio == 0.5 && !strcmp(t.mode, "a") && !t.flag);
                CHECK(!strcmp(t.topic, "requests") && !t.name && t.tags.n == 0);
                swarm_opts_destroy(&typed_cli, &t);
                CHECK(t.tags.v == NULL);
                swarm_conf_destroy(c);
        }
        {
                const char *file = write_tmp("t.conf", "swarm.ratio=0.25\nswarm.mode=B\n");
                char *argv[] = {"prog", "-F", (char *)file, "-n", "64", "--flag", "--tag", "x",
                                "--tag", "y", "-t", "other", "--name", "ab", NULL};
                setenv("SWARM_ROWS", "3", 1);
                CHECK(typed_parse(14, argv, &c, &t, &err) == 0, "%s", err.msg);
                unsetenv("SWARM_ROWS");
                CHECK(t.rows == 64, "the command line beats the environment: %lld",
                      (long long)t.rows);
                CHECK(t.ratio == 0.25 && !strcmp(t.mode, "B"), "-F loads the file like -c");
                CHECK(t.flag && !strcmp(t.topic, "other") && !strcmp(t.name, "ab"));
                CHECK(t.tags.n == 2 && !strcmp(t.tags.v[0], "x") && !strcmp(t.tags.v[1], "y"));
                swarm_opts_destroy(&typed_cli, &t);
                swarm_conf_destroy(c);
        }
        /* bad values are usage errors citing where they came from */
        {
                char *argv[] = {"prog", "--rows", "abc", NULL};
                CHECK_ERR(typed_parse(3, argv, &c, &t, &err), err, SWARM_ERR_CONFIG,
                          "--rows: swarm.rows=\"abc\" is not an integer");
                swarm_conf_destroy(c);
        }
        {
                char *argv[] = {"prog", "-n", "65", NULL};
                CHECK_ERR(typed_parse(3, argv, &c, &t, &err), err, SWARM_ERR_CONFIG,
                          "out of range 1..64");
                swarm_conf_destroy(c);
        }
        {
                char *argv[] = {"prog", "-X", "swarm.ratio=1.5", NULL};
                CHECK_ERR(typed_parse(3, argv, &c, &t, &err), err, SWARM_ERR_CONFIG,
                          "-X: swarm.ratio=\"1.5\" is out of range 0..1");
                swarm_conf_destroy(c);
        }
        {
                const char *file = write_tmp("u.conf", "swarm.mode=c\n");
                char *argv[] = {"prog", "-c", (char *)file, NULL};
                char want[300];
                snprintf(want, sizeof(want), "%s:1: swarm.mode=\"c\": expected one of a|b",
                         file);
                CHECK_ERR(typed_parse(3, argv, &c, &t, &err), err, SWARM_ERR_CONFIG, want);
                swarm_conf_destroy(c);
        }
        {
                char *argv[] = {"prog", NULL};
                setenv("SWARM_FLAG", "maybe", 1);
                CHECK_ERR(typed_parse(1, argv, &c, &t, &err), err, SWARM_ERR_CONFIG,
                          "SWARM_FLAG: swarm.flag=\"maybe\" is not a boolean");
                unsetenv("SWARM_FLAG");
                swarm_conf_destroy(c);
        }
        {
                char *argv[] = {"prog", "--name", "abc", NULL};
                CHECK_ERR(typed_parse(3, argv, &c, &t, &err), err, SWARM_ERR_CONFIG,
                          "--name: swarm.name=\"abc\": odd length");
                swarm_conf_destroy(c);
        }
        /* -X list: our keys with type, range and default, then librdkafka's */
        {
                char path[300], buf[8192];
                FILE *f;
                size_t n;
                snprintf(path, sizeof(path), "%s/list", dir);
                f = fopen(path, "w+");
                swarm_cli_list_keys(&typed_cli, f);
                rewind(f);
                n = fread(buf, 1, sizeof(buf) - 1, f);
                buf[n] = '\0';
                fclose(f);
                CHECK(strstr(buf, "swarm.rows") && strstr(buf, "integer") &&
                      strstr(buf, "1..64"), "%s", buf);
                CHECK(strstr(buf, "swarm.mode") && strstr(buf, "a|b"));
                CHECK(strstr(buf, "swarm.topic") && strstr(buf, "requests"));
                CHECK(strstr(buf, "librdkafka properties"));
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
        test_typed();
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", dir);
        TEST_DONE();
}
