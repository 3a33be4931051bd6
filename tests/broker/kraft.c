/*
 * kraft.c - a real single-node Apache Kafka broker (KRaft, combined
 * broker+controller) fetched from Maven Central and run on Java 17.
 *
 * Why a real broker next to the mock: the mock has no CreateTopics, no
 * retention semantics, no real transactions or group management
 * (shared/KAFKA-MOCK.md).  Why 3.9.x by default: docs/kafka.md.
 */
#include "broker.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SWARM_BROKER_POM
#error "SWARM_BROKER_POM must name tests/broker/pom.xml"
#endif

#define MARKER ".swarm-complete"
#define FETCH_TIMEOUT_MS (15 * 60 * 1000)
#define FORMAT_TIMEOUT_MS (120 * 1000)
#define STOP_GRACE_MS (30 * 1000)

typedef struct kraft {
        char dir[PATH_MAX];     /* mkdtemp folder: config, data, logs */
        char jars[PATH_MAX];    /* cache folder holding the jars */
        char cp[PATH_MAX];      /* "jars/ *" classpath */
        char log4j_opt[PATH_MAX + 64];
        int port, cport;
        pid_t pid;
} kraft_t;

static int mkdir_p(const char *path, swarm_err_t *err) {
        char tmp[PATH_MAX];
        size_t len = strlen(path);

        if (len >= sizeof(tmp))
                return swarm_err_set(err, SWARM_ERR_INVALID, "path too long");
        memcpy(tmp, path, len + 1);
        for (char *p = tmp + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                        return swarm_err_set(err, SWARM_ERR_IO, "mkdir %s: %s",
                                             tmp, strerror(errno));
                *p = '/';
        }
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return swarm_err_set(err, SWARM_ERR_IO, "mkdir %s: %s", tmp,
                                     strerror(errno));
        return SWARM_OK;
}

/* $SWARM_CACHE, else $XDG_CACHE_HOME/swarm, else ~/.cache/swarm. */
static int cache_base(const swarm_broker_opts_t *o, char *out, size_t size,
                      swarm_err_t *err) {
        const char *v;
        int n;

        if (o->cache_dir)
                n = snprintf(out, size, "%s", o->cache_dir);
        else if ((v = getenv("SWARM_CACHE")) && *v)
                n = snprintf(out, size, "%s", v);
        else if ((v = getenv("XDG_CACHE_HOME")) && *v)
                n = snprintf(out, size, "%s/swarm", v);
        else if ((v = getenv("HOME")) && *v)
                n = snprintf(out, size, "%s/.cache/swarm", v);
        else
                return swarm_err_set(err, SWARM_ERR_CONFIG,
                                     "no cache folder: set --cache, "
                                     "SWARM_CACHE or HOME");
        if (n < 0 || (size_t)n >= size)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "cache path too long");
        return SWARM_OK;
}

static int file_exists(const char *dir, const char *name) {
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s", dir, name);
        return access(p, F_OK) == 0;
}

/*
 * Make sure cache/kafka-V holds the broker jars.  A marker file written after
 * a successful fetch says the folder is complete.  Concurrent swarm-broker
 * runs (parallel ctest) serialise on an flock()ed lock file; the fetch goes
 * to a private folder that is renamed into place, so a crash mid-fetch never
 * leaves a folder that looks complete.
 */
static int fetch_jars(const swarm_broker_opts_t *o, kraft_t *k,
                      swarm_err_t *err) {
        char base[PATH_MAX - 64], lock[PATH_MAX], tmp[PATH_MAX];
        char marker[PATH_MAX], pom_def[PATH_MAX], ver_def[128];
        char out_def[PATH_MAX + 32], mvn_log[PATH_MAX];
        const char *pom = getenv("SWARM_BROKER_POM");
        long long t0 = swarm_clock_ms();
        int lfd = -1, rc, status = 0;
        pid_t pid;
        FILE *f;

        if (!pom || !*pom)
                pom = SWARM_BROKER_POM;
        if ((rc = cache_base(o, base, sizeof(base), err)) ||
            (rc = mkdir_p(base, err)))
                return rc;
        snprintf(k->jars, sizeof(k->jars), "%s/kafka-%s", base,
                 o->kafka_version);
        if (file_exists(k->jars, MARKER))
                return SWARM_OK;

        snprintf(lock, sizeof(lock), "%s/kafka-%s.lock", base,
                 o->kafka_version);
        if ((lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
                return swarm_err_set(err, SWARM_ERR_IO, "open %s: %s", lock,
                                     strerror(errno));
        if (flock(lfd, LOCK_EX | LOCK_NB) != 0)
                SWARM_INFO(&o->log, "another swarm-broker is fetching, "
                           "waiting lock=%s", lock);
        else
                goto locked;
        while (flock(lfd, LOCK_EX) != 0) {
                if (errno != EINTR || swarm_broker_stop) {
                        close(lfd);
                        return swarm_err_set(err, SWARM_ERR_IO,
                                             "lock %s: %s", lock,
                                             strerror(errno));
                }
        }
locked:
        /* Another run may have completed the fetch while we waited. */
        if (file_exists(k->jars, MARKER)) {
                rc = SWARM_OK;
                goto out;
        }
        if (access(pom, R_OK) != 0) {
                rc = swarm_err_set(err, SWARM_ERR_NOT_FOUND,
                                   "pom %s: %s (set SWARM_BROKER_POM)", pom,
                                   strerror(errno));
                goto out;
        }
        snprintf(tmp, sizeof(tmp), "%s/.kafka-%s.tmp.%d", base,
                 o->kafka_version, (int)getpid());
        swarm_broker_rmtree(tmp, NULL);
        swarm_broker_rmtree(k->jars, NULL); /* incomplete leftover */
        SWARM_INFO(&o->log, "fetching kafka broker version=%s into=%s "
                   "(once; needs Maven Central)", o->kafka_version, k->jars);
        snprintf(pom_def, sizeof(pom_def), "%s", pom);
        snprintf(mvn_log, sizeof(mvn_log), "%s/kafka-%s.fetch.log", base,
                 o->kafka_version);
        unlink(mvn_log);
        snprintf(ver_def, sizeof(ver_def), "-Dkafka.version=%s",
                 o->kafka_version);
        snprintf(out_def, sizeof(out_def), "-DoutputDirectory=%s", tmp);
        {
                char *argv[] = {"mvn", "-q", "-B", "-f", pom_def, ver_def,
                                "dependency:copy-dependencies", out_def, NULL};
                /* mvn's output goes to a file (shown on failure), never to
                 * stdout, which carries only the bootstrap line. */
                if ((rc = swarm_broker_spawn(argv, mvn_log, &pid, err)))
                        goto out;
        }
        if (swarm_broker_wait_child(pid, FETCH_TIMEOUT_MS, 1, &status, err)) {
                swarm_broker_kill_child(pid, 2000);
                swarm_broker_rmtree(tmp, NULL);
                swarm_err_prefix(err, "mvn fetch: ");
                rc = err->code;
                goto out;
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                swarm_broker_rmtree(tmp, NULL);
                swarm_broker_tail(&o->log, mvn_log, 30);
                rc = swarm_err_set(err, SWARM_ERR_IO,
                                   "mvn failed (status %d) fetching "
                                   "org.apache.kafka:kafka_2.13:%s",
                                   WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                                   o->kafka_version);
                goto out;
        }
        snprintf(marker, sizeof(marker), "%s/" MARKER, tmp);
        if (!(f = fopen(marker, "w"))) {
                rc = swarm_err_set(err, SWARM_ERR_IO, "open %s: %s", marker,
                                   strerror(errno));
                goto out;
        }
        fprintf(f, "kafka_2.13 %s\n", o->kafka_version);
        fclose(f);
        if (rename(tmp, k->jars) != 0) {
                rc = swarm_err_set(err, SWARM_ERR_IO, "rename %s: %s", tmp,
                                   strerror(errno));
                swarm_broker_rmtree(tmp, NULL);
                goto out;
        }
        SWARM_INFO(&o->log, "fetched kafka broker version=%s ms=%lld",
                   o->kafka_version, swarm_clock_ms() - t0);
        rc = SWARM_OK;
out:
        close(lfd); /* releases the flock */
        return rc;
}

/* A free TCP port on 127.0.0.1, chosen by the kernel.  The socket is closed
 * before Kafka binds, a small race we accept: ports are handed out
 * round-robin, so reuse within a second is unlikely. */
static int free_port(int *port, swarm_err_t *err) {
        struct sockaddr_in sa = {0};
        socklen_t len = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return swarm_err_set(err, SWARM_ERR_IO, "socket: %s",
                                     strerror(errno));
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
            getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
                int e = errno;
                close(fd);
                return swarm_err_set(err, SWARM_ERR_IO, "bind port 0: %s",
                                     strerror(e));
        }
        *port = ntohs(sa.sin_port);
        close(fd);
        return SWARM_OK;
}

static int write_file(const char *dir, const char *name, const char *text,
                      swarm_err_t *err) {
        char p[PATH_MAX];
        FILE *f;

        snprintf(p, sizeof(p), "%s/%s", dir, name);
        if (!(f = fopen(p, "w")))
                return swarm_err_set(err, SWARM_ERR_IO, "open %s: %s", p,
                                     strerror(errno));
        fputs(text, f);
        if (fclose(f) != 0)
                return swarm_err_set(err, SWARM_ERR_IO, "write %s: %s", p,
                                     strerror(errno));
        return SWARM_OK;
}

static int write_config(kraft_t *k, swarm_err_t *err) {
        char props[4096], l4j[2048];
        int rc;

        /* Single node: every internal topic must live with one replica, and
         * a group's first join must not wait the default 3 s. */
        snprintf(props, sizeof(props),
                 "process.roles=broker,controller\n"
                 "node.id=1\n"
                 "listeners=PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d\n"
                 "advertised.listeners=PLAINTEXT://127.0.0.1:%d\n"
                 "controller.listener.names=CONTROLLER\n"
                 "inter.broker.listener.name=PLAINTEXT\n"
                 "listener.security.protocol.map="
                 "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n"
                 "controller.quorum.voters=1@127.0.0.1:%d\n"
                 "log.dirs=%s/data\n"
                 "auto.create.topics.enable=false\n"
                 "num.partitions=1\n"
                 "offsets.topic.replication.factor=1\n"
                 "offsets.topic.num.partitions=4\n"
                 "transaction.state.log.replication.factor=1\n"
                 "transaction.state.log.min.isr=1\n"
                 "transaction.state.log.num.partitions=4\n"
                 "group.initial.rebalance.delay.ms=0\n"
                 "num.network.threads=2\n"
                 "num.io.threads=2\n"
                 "num.recovery.threads.per.data.dir=1\n"
                 "log.flush.interval.ms=60000\n",
                 k->port, k->cport, k->port, k->cport, k->dir);
        snprintf(l4j, sizeof(l4j),
                 "log4j.rootLogger=INFO, file\n"
                 "log4j.appender.file=org.apache.log4j.FileAppender\n"
                 "log4j.appender.file.File=%s/server.log\n"
                 "log4j.appender.file.layout=org.apache.log4j.PatternLayout\n"
                 "log4j.appender.file.layout.ConversionPattern="
                 "[%%d] %%p %%m (%%c)%%n\n"
                 "log4j.logger.org.apache.kafka.clients=WARN\n"
                 "log4j.logger.kafka.request.logger=WARN\n",
                 k->dir);
        if ((rc = write_file(k->dir, "server.properties", props, err)) ||
            (rc = write_file(k->dir, "log4j.properties", l4j, err)))
                return rc;
        return SWARM_OK;
}

/* Kafka's Uuid text form: 16 random bytes, base64url without padding. */
static void cluster_id(char out[23]) {
        static const char b64[] =
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                "0123456789-_";
        unsigned char b[18] = {0};
        int o = 0;

        if (getrandom(b, 16, 0) != 16) {
                long long t = swarm_clock_ms() ^ getpid();
                memcpy(b, &t, sizeof(t));
        }
        b[0] |= 1; /* never the reserved all-zero id */
        for (int i = 0; i < 18 && o < 22; i += 3) {
                unsigned v = (unsigned)b[i] << 16 | (unsigned)b[i + 1] << 8 |
                             b[i + 2];
                out[o++] = b64[(v >> 18) & 63];
                out[o++] = b64[(v >> 12) & 63];
                if (o < 22)
                        out[o++] = b64[(v >> 6) & 63];
                if (o < 22)
                        out[o++] = b64[v & 63];
        }
        out[22] = '\0';
}

/* argv for `java <jvm opts> -cp jars/ * CLASS args...`; the JVM opts keep a
 * broker small and quick to start on 2 shared cores: serial GC (no GC
 * threads to compete), C1 only (JIT warm-up dominates startup).  C1 does not
 * intrinsify CRC32C on x86, so once it compiles CRC32C.updateBytes the
 * record-batch checksum runs as a plain Java loop; kept out of the JIT, the
 * interpreter's stub uses the CPU's crc32 instruction (bench/README.md
 * "Offline scoring": the broker's CPU per 100k scoring rows 2.17 -> 1.49 s). */
#define JAVA_ARGV(k, ...)                                                      \
        {"java", "-Xmx512m", "-Xms128m", "-XX:+UseSerialGC",                   \
         "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData",                       \
         "-XX:CompileCommand=quiet",                                          \
         "-XX:CompileCommand=exclude,java/util/zip/CRC32C.updateBytes",       \
         "-XX:CompileCommand=exclude,"                                        \
         "java/util/zip/CRC32C.updateDirectByteBuffer",                       \
         "-Djava.awt.headless=true", (k)->log4j_opt, "-cp", (k)->cp,          \
         __VA_ARGS__, NULL}

static int format_storage(const swarm_broker_opts_t *o, kraft_t *k,
                          swarm_err_t *err) {
        char id[23], idopt[40], props[PATH_MAX], out[PATH_MAX];
        int rc, status = 0;
        pid_t pid;

        cluster_id(id);
        /* one argument: an id starting with '-' (1 in 64) would be taken
         * for an option after a separate -t */
        snprintf(idopt, sizeof(idopt), "--cluster-id=%s", id);
        snprintf(props, sizeof(props), "%s/server.properties", k->dir);
        snprintf(out, sizeof(out), "%s/format.log", k->dir);
        {
                char *argv[] = JAVA_ARGV(k, "kafka.tools.StorageTool",
                                         "format", idopt, "-c", props);
                if ((rc = swarm_broker_spawn(argv, out, &pid, err)))
                        return rc;
        }
        if (swarm_broker_wait_child(pid, FORMAT_TIMEOUT_MS, 1, &status, err)) {
                swarm_broker_kill_child(pid, 2000);
                swarm_err_prefix(err, "storage format: ");
                return err->code;
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                swarm_broker_tail(&o->log, out, 30);
                return swarm_err_set(err, SWARM_ERR_STATE,
                                     "kafka StorageTool format failed "
                                     "(status %d)",
                                     WIFEXITED(status) ? WEXITSTATUS(status)
                                                       : -1);
        }
        SWARM_DEBUG(&o->log, "storage formatted cluster_id=%s", id);
        return SWARM_OK;
}

static int jvm_alive(void *opaque) {
        kraft_t *k = opaque;
        int status;
        return waitpid(k->pid, &status, WNOHANG) == 0;
}

static void dump_logs(const swarm_broker_opts_t *o, const kraft_t *k) {
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/jvm.log", k->dir);
        swarm_broker_tail(&o->log, p, 20);
        snprintf(p, sizeof(p), "%s/server.log", k->dir);
        swarm_broker_tail(&o->log, p, 40);
}

static int create_topics(const swarm_broker_opts_t *o, rd_kafka_t *rk,
                         swarm_err_t *err) {
        rd_kafka_NewTopic_t *nt[SWARM_BROKER_MAX_TOPICS];
        rd_kafka_queue_t *q = NULL;
        rd_kafka_event_t *ev = NULL;
        rd_kafka_AdminOptions_t *ao = NULL;
        const rd_kafka_CreateTopics_result_t *res;
        const rd_kafka_topic_result_t **tr;
        char errstr[512];
        size_t cnt = 0;
        int rc = SWARM_OK;

        if (o->topic_cnt == 0)
                return SWARM_OK;
        for (int i = 0; i < o->topic_cnt; i++) {
                nt[i] = rd_kafka_NewTopic_new(o->topics[i].name,
                                              o->topics[i].partitions, 1,
                                              errstr, sizeof(errstr));
                if (!nt[i]) {
                        rc = swarm_err_set(err, SWARM_ERR_INVALID,
                                           "topic %s: %s", o->topics[i].name,
                                           errstr);
                        rd_kafka_NewTopic_destroy_array(nt, (size_t)i);
                        return rc;
                }
        }
        q = rd_kafka_queue_new(rk);
        ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
        rd_kafka_AdminOptions_set_operation_timeout(ao, 30000, errstr,
                                                    sizeof(errstr));
        rd_kafka_AdminOptions_set_request_timeout(ao, 60000, errstr,
                                                  sizeof(errstr));
        rd_kafka_CreateTopics(rk, nt, (size_t)o->topic_cnt, ao, q);
        ev = rd_kafka_queue_poll(q, 90000);
        if (!ev) {
                rc = swarm_err_set(err, SWARM_ERR_TIMEOUT,
                                   "CreateTopics: no result after 90 s");
                goto out;
        }
        if (rd_kafka_event_error(ev)) {
                rc = swarm_err_set(err, SWARM_ERR_KAFKA, "CreateTopics: %s",
                                   rd_kafka_event_error_string(ev));
                goto out;
        }
        res = rd_kafka_event_CreateTopics_result(ev);
        tr = rd_kafka_CreateTopics_result_topics(res, &cnt);
        for (size_t i = 0; i < cnt; i++) {
                rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
                if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                        rc = swarm_err_set(err, SWARM_ERR_KAFKA,
                                           "create topic %s: %s",
                                           rd_kafka_topic_result_name(tr[i]),
                                           rd_kafka_topic_result_error_string(
                                                   tr[i]));
                        goto out;
                }
        }
out:
        if (ev)
                rd_kafka_event_destroy(ev);
        rd_kafka_AdminOptions_destroy(ao);
        rd_kafka_queue_destroy(q);
        rd_kafka_NewTopic_destroy_array(nt, (size_t)o->topic_cnt);
        return rc;
}

/* Connect an admin client, wait for the broker, create and await topics. */
static int setup_topics(const swarm_broker_opts_t *o, kraft_t *k,
                        const char *bootstrap, swarm_err_t *err) {
        rd_kafka_t *rk;
        int rc;
        swarm_broker_opts_t none = *o;

        if ((rc = swarm_broker_producer_new(o, bootstrap, &rk, err)))
                return rc;
        /* First only wait for the broker to answer metadata at all. */
        none.topic_cnt = 0;
        if ((rc = swarm_broker_wait_topics(rk, &none,
                                           o->start_timeout_s * 1000,
                                           jvm_alive, k, err))) {
                swarm_err_prefix(err, "broker start: ");
                goto out;
        }
        SWARM_DEBUG(&o->log, "broker answers metadata");
        if ((rc = create_topics(o, rk, err)))
                goto out;
        rc = swarm_broker_wait_topics(rk, o, 60000, jvm_alive, k, err);
out:
        rd_kafka_destroy(rk);
        return rc;
}

int swarm_broker_kraft_run(const swarm_broker_opts_t *o, swarm_err_t *err) {
        kraft_t k = {.pid = -1};
        const char *tmpdir = getenv("TMPDIR");
        char bootstrap[64], jvm_log[PATH_MAX];
        long long t0;
        int rc, status = 0;

        if ((rc = fetch_jars(o, &k, err)))
                return rc;
        if (swarm_broker_stop)
                return SWARM_OK;
        t0 = swarm_clock_ms();
        snprintf(k.cp, sizeof(k.cp), "%s/*", k.jars);
        snprintf(k.dir, sizeof(k.dir), "%s/swarm-broker-XXXXXX",
                 tmpdir && *tmpdir ? tmpdir : "/tmp");
        if (!mkdtemp(k.dir))
                return swarm_err_set(err, SWARM_ERR_IO, "mkdtemp %s: %s",
                                     k.dir, strerror(errno));
        snprintf(k.log4j_opt, sizeof(k.log4j_opt),
                 "-Dlog4j.configuration=file:%s/log4j.properties", k.dir);
        snprintf(jvm_log, sizeof(jvm_log), "%s/jvm.log", k.dir);
        SWARM_INFO(&o->log, "starting kafka broker version=%s dir=%s",
                   o->kafka_version, k.dir);

        if ((rc = free_port(&k.port, err)) || (rc = free_port(&k.cport, err)))
                goto out;
        if (k.port == k.cport && (rc = free_port(&k.cport, err)))
                goto out;
        if ((rc = write_config(&k, err)) || (rc = format_storage(o, &k, err)))
                goto out;
        {
                char props[PATH_MAX];
                snprintf(props, sizeof(props), "%s/server.properties", k.dir);
                char *argv[] = JAVA_ARGV(&k, "kafka.Kafka", props);
                if ((rc = swarm_broker_spawn(argv, jvm_log, &k.pid, err)))
                        goto out;
        }
        snprintf(bootstrap, sizeof(bootstrap), "127.0.0.1:%d", k.port);
        if ((rc = setup_topics(o, &k, bootstrap, err))) {
                if (!swarm_broker_stop)
                        dump_logs(o, &k);
                goto out;
        }
        SWARM_INFO(&o->log, "kafka broker ready bootstrap=%s version=%s "
                   "topics=%d start_ms=%lld pid=%d dir=%s", bootstrap,
                   o->kafka_version, o->topic_cnt,
                   swarm_clock_ms() - t0, (int)k.pid, k.dir);
        if ((rc = swarm_broker_publish(o, bootstrap, err)))
                goto out;

        while (!swarm_broker_stop) {
                pid_t r = waitpid(k.pid, &status, WNOHANG);
                if (r == k.pid) {
                        k.pid = -1;
                        dump_logs(o, &k);
                        rc = swarm_err_set(err, SWARM_ERR_STATE,
                                           "kafka broker exited unexpectedly "
                                           "(%s %d)",
                                           WIFSIGNALED(status) ? "signal"
                                                               : "status",
                                           WIFSIGNALED(status)
                                                   ? WTERMSIG(status)
                                                   : WEXITSTATUS(status));
                        goto out;
                }
                swarm_broker_sleep_ms(200);
        }
        SWARM_INFO(&o->log, "stopping kafka broker pid=%d", (int)k.pid);
        rc = SWARM_OK;
out:
        if (k.pid > 0) {
                long long s = swarm_clock_ms();
                swarm_broker_kill_child(k.pid, STOP_GRACE_MS);
                SWARM_DEBUG(&o->log, "kafka broker stopped ms=%lld",
                            swarm_clock_ms() - s);
        }
        {
                swarm_err_t rmerr;
                swarm_err_clear(&rmerr);
                if (swarm_broker_rmtree(k.dir, &rmerr))
                        SWARM_WARN(&o->log, "cleanup failed: %s", rmerr.msg);
                else
                        SWARM_INFO(&o->log, "removed dir=%s", k.dir);
        }
        return rc;
}
