/*
 * util.c - process, file and client helpers shared by the KRaft and mock
 * modes of swarm-broker.
 */
#include "broker.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void swarm_broker_sleep_ms(int ms) {
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
        /* EINTR ends the sleep early on purpose: a stop request must not
         * wait out the poll interval. */
        nanosleep(&ts, NULL);
}

int swarm_broker_publish(const swarm_broker_opts_t *o, const char *bootstrap,
                         swarm_err_t *err) {
        char tmp[4096];
        FILE *f;

        printf("bootstrap.servers=%s\n", bootstrap);
        fflush(stdout);
        swarm_broker_ready = 1; /* /readyz: topics have leaders */
        if (!o->bootstrap_file)
                return SWARM_OK;
        if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", o->bootstrap_file,
                     (int)getpid()) >= (int)sizeof(tmp))
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "bootstrap file path too long");
        /* Readers poll for the file: write a temp file and rename it so they
         * never see a half-written line. */
        if (!(f = fopen(tmp, "w")))
                return swarm_err_set(err, SWARM_ERR_IO, "open %s: %s", tmp,
                                     strerror(errno));
        fprintf(f, "bootstrap.servers=%s\n", bootstrap);
        if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
                fclose(f);
                unlink(tmp);
                return swarm_err_set(err, SWARM_ERR_IO, "write %s: %s", tmp,
                                     strerror(errno));
        }
        fclose(f);
        if (rename(tmp, o->bootstrap_file) != 0) {
                int e = errno;
                unlink(tmp);
                return swarm_err_set(err, SWARM_ERR_IO, "rename to %s: %s",
                                     o->bootstrap_file, strerror(e));
        }
        return SWARM_OK;
}

void swarm_broker_rdlog(const rd_kafka_t *rk, int level, const char *fac,
                        const char *buf) {
        const swarm_log_t *lg = rd_kafka_opaque(rk);

        /* While a broker starts, clients log "Connection refused" at error
         * level on every retry; that is expected noise, so librdkafka's own
         * messages stay at debug and failures surface through return
         * codes instead. */
        SWARM_DEBUG(lg, "librdkafka level=%d fac=%s %s", level, fac, buf);
}

rd_kafka_conf_t *swarm_broker_conf_new(const swarm_broker_opts_t *o,
                                       const char *bootstrap,
                                       swarm_err_t *err) {
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char errstr[512];

        if (bootstrap && *bootstrap &&
            rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr,
                              sizeof(errstr)) != RD_KAFKA_CONF_OK) {
                rd_kafka_conf_destroy(conf);
                swarm_err_set(err, SWARM_ERR_CONFIG, "%s", errstr);
                return NULL;
        }
        rd_kafka_conf_set_opaque(conf, (void *)&o->log);
        rd_kafka_conf_set_log_cb(conf, swarm_broker_rdlog);
        return conf;
}

int swarm_broker_producer_new(const swarm_broker_opts_t *o,
                              const char *bootstrap, rd_kafka_t **rk,
                              swarm_err_t *err) {
        rd_kafka_conf_t *conf = swarm_broker_conf_new(o, bootstrap, err);
        char errstr[512];

        if (!conf)
                return err->code;
        if (!(*rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr,
                                 sizeof(errstr)))) {
                rd_kafka_conf_destroy(conf);
                return swarm_err_set(err, SWARM_ERR_KAFKA, "rd_kafka_new: %s",
                                     errstr);
        }
        return SWARM_OK;
}

/* 1 when md shows the topic with `want` partitions, each with a leader. */
static int topic_ready(const rd_kafka_metadata_t *md, const char *name,
                       int want) {
        for (int i = 0; i < md->topic_cnt; i++) {
                const rd_kafka_metadata_topic_t *t = &md->topics[i];
                if (strcmp(t->topic, name) != 0)
                        continue;
                if (t->err || t->partition_cnt != want)
                        return 0;
                for (int p = 0; p < t->partition_cnt; p++)
                        if (t->partitions[p].err || t->partitions[p].leader < 0)
                                return 0;
                return 1;
        }
        return 0;
}

int swarm_broker_wait_topics(rd_kafka_t *rk, const swarm_broker_opts_t *o,
                             int timeout_ms, int (*alive)(void *),
                             void *opaque, swarm_err_t *err) {
        long long deadline = swarm_clock_ms() + timeout_ms;
        const char *missing = NULL;

        while (swarm_clock_ms() < deadline) {
                const struct rd_kafka_metadata *md = NULL;
                rd_kafka_resp_err_t rerr;
                int ready = 1;

                if (swarm_broker_stop)
                        return swarm_err_set(err, SWARM_ERR_STATE,
                                             "stopped while waiting for topics");
                if (alive && !alive(opaque))
                        return swarm_err_set(err, SWARM_ERR_STATE,
                                             "broker exited while waiting "
                                             "for topics");
                rerr = rd_kafka_metadata(rk, 1, NULL, &md, 2000);
                if (rerr) {
                        missing = rd_kafka_err2str(rerr);
                        swarm_broker_sleep_ms(100);
                        continue;
                }
                for (int i = 0; i < o->topic_cnt && ready; i++) {
                        if (!topic_ready(md, o->topics[i].name,
                                         o->topics[i].partitions)) {
                                ready = 0;
                                missing = o->topics[i].name;
                        }
                }
                if (md->broker_cnt < 1)
                        ready = 0;
                rd_kafka_metadata_destroy(md);
                /* Metadata can name a leader before the partition serves
                 * ListOffsets (NOT_LEADER_FOR_PARTITION for a moment on
                 * KRaft): clients that query watermarks at start would fail,
                 * so ready means every partition answers them. */
                for (int i = 0; i < o->topic_cnt && ready; i++)
                        for (int p = 0; p < o->topics[i].partitions && ready; p++) {
                                int64_t lo, hi;
                                if (rd_kafka_query_watermark_offsets(
                                            rk, o->topics[i].name, p, &lo, &hi,
                                            2000)) {
                                        ready = 0;
                                        missing = o->topics[i].name;
                                }
                        }
                if (ready)
                        return SWARM_OK;
                swarm_broker_sleep_ms(100);
        }
        return swarm_err_set(err, SWARM_ERR_TIMEOUT,
                             "topics not ready after %d ms (last: %s)",
                             timeout_ms, missing ? missing : "no metadata");
}

int swarm_broker_spawn(char *const argv[], const char *out_path, pid_t *pid,
                       swarm_err_t *err) {
        pid_t parent = getpid();
        pid_t child;
        int fd = -1;

        if (out_path &&
            (fd = open(out_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                       0644)) < 0)
                return swarm_err_set(err, SWARM_ERR_IO, "open %s: %s",
                                     out_path, strerror(errno));
        fflush(NULL);
        child = fork();
        if (child < 0) {
                int e = errno;
                if (fd >= 0)
                        close(fd);
                return swarm_err_set(err, SWARM_ERR_IO, "fork: %s",
                                     strerror(e));
        }
        if (child == 0) {
                /* If swarm-broker is killed (even by SIGKILL) the JVM must
                 * not outlive it holding ports and a temp folder. */
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(127);
                /* Own process group: a terminal ^C reaches swarm-broker only,
                 * which then stops the child in order. */
                setpgid(0, 0);
                /* stdout is reserved for swarm-broker's data lines: no child
                 * may write there. */
                if (fd >= 0) {
                        dup2(fd, STDOUT_FILENO);
                        dup2(fd, STDERR_FILENO);
                } else {
                        dup2(STDERR_FILENO, STDOUT_FILENO);
                }
                signal(SIGTERM, SIG_DFL);
                signal(SIGINT, SIG_DFL);
                execvp(argv[0], argv);
                fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
                _exit(127);
        }
        if (fd >= 0)
                close(fd);
        *pid = child;
        return SWARM_OK;
}

int swarm_broker_wait_child(pid_t pid, int timeout_ms, int honor_stop,
                            int *status, swarm_err_t *err) {
        long long deadline = swarm_clock_ms() + timeout_ms;

        for (;;) {
                pid_t r = waitpid(pid, status, WNOHANG);
                if (r == pid)
                        return SWARM_OK;
                if (r < 0 && errno != EINTR)
                        return swarm_err_set(err, SWARM_ERR_STATE,
                                             "waitpid %d: %s", (int)pid,
                                             strerror(errno));
                if (honor_stop && swarm_broker_stop)
                        return swarm_err_set(err, SWARM_ERR_TIMEOUT,
                                             "stop requested");
                if (swarm_clock_ms() >= deadline)
                        return swarm_err_set(err, SWARM_ERR_TIMEOUT,
                                             "pid %d still running after "
                                             "%d ms", (int)pid, timeout_ms);
                swarm_broker_sleep_ms(50);
        }
}

void swarm_broker_kill_child(pid_t pid, int grace_ms) {
        swarm_err_t err;
        int status;

        swarm_err_clear(&err);
        if (kill(pid, SIGTERM) != 0 && errno == ESRCH) {
                waitpid(pid, &status, 0);
                return;
        }
        if (swarm_broker_wait_child(pid, grace_ms, 0, &status, &err) ==
            SWARM_OK)
                return;
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw) {
        (void)sb;
        (void)ftw;
        if (flag == FTW_DP)
                rmdir(path);
        else
                unlink(path);
        return 0; /* keep going: best effort */
}

int swarm_broker_rmtree(const char *path, swarm_err_t *err) {
        if (nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 &&
            errno != ENOENT)
                return swarm_err_set(err, SWARM_ERR_IO, "remove %s: %s", path,
                                     strerror(errno));
        if (access(path, F_OK) == 0)
                return swarm_err_set(err, SWARM_ERR_IO,
                                     "remove %s: still present", path);
        return SWARM_OK;
}

void swarm_broker_tail(const swarm_log_t *lg, const char *path, int lines) {
        char buf[16384];
        FILE *f = fopen(path, "r");
        long size, start;
        size_t n;
        int seen = 0;
        char *p;

        if (!f)
                return;
        fseek(f, 0, SEEK_END);
        size = ftell(f);
        start = size > (long)sizeof(buf) - 1 ? size - (long)sizeof(buf) + 1 : 0;
        fseek(f, start, SEEK_SET);
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        /* Walk back `lines` newlines from the end. */
        p = buf + n;
        while (p > buf) {
                p--;
                if (*p == '\n' && p != buf + n - 1 && ++seen >= lines) {
                        p++;
                        break;
                }
        }
        SWARM_ERROR(lg, "last lines of %s follow", path);
        fprintf(lg->out ? lg->out : stderr, "----- %s -----\n%s%s----- end -----\n",
                path, p, (n && buf[n - 1] != '\n') ? "\n" : "");
}
