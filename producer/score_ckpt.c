/*
 * score_ckpt.c - checkpoint files (score_ckpt.h): key=value text lines, so
 * an operator can read one.
 */
#include "score_ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "swarm-score-checkpoint 1"
#define EDGE (64 * 1024)

/* Two FNV-1a 64 lanes with different offsets: 16 bytes that change with any
 * byte of their input.  Not cryptographic: it only has to tell files and
 * settings apart and make a sync marker. */
typedef struct fnv2 {
        uint64_t a, b;
} fnv2_t;

static void fnv2_init(fnv2_t *h) {
        h->a = 1469598103934665603ull;
        h->b = 0x84222325cbf29ce4ull;
}

static void fnv2_add(fnv2_t *h, const void *p, size_t n) {
        const unsigned char *c = p;
        for (size_t i = 0; i < n; i++) {
                h->a = (h->a ^ c[i]) * 1099511628211ull;
                h->b = (h->b ^ (unsigned char)(c[i] + 0x5b)) * 0x100000001b3ull;
        }
}

static void fnv2_out(const fnv2_t *h, uint8_t out[16]) {
        for (int i = 0; i < 8; i++) {
                out[i] = (uint8_t)(h->a >> (8 * i));
                out[8 + i] = (uint8_t)(h->b >> (8 * i));
        }
}

int score_ckpt_fingerprint(const char *input, const char *settings,
                           uint8_t out[16], swarm_err_t *err) {
        unsigned char *buf = malloc(EDGE);
        struct stat st;
        fnv2_t h;
        int fd = open(input, O_RDONLY | O_CLOEXEC);
        ssize_t n;
        uint64_t size;

        if (!buf) {
                if (fd >= 0)
                        close(fd);
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        }
        if (fd < 0 || fstat(fd, &st)) {
                free(buf);
                if (fd >= 0)
                        close(fd);
                return swarm_err_set(err, SWARM_ERR_IO, "%s: %s", input,
                                     strerror(errno));
        }
        fnv2_init(&h);
        size = (uint64_t)st.st_size;
        fnv2_add(&h, &size, sizeof(size));
        fnv2_add(&h, settings, strlen(settings) + 1);
        n = pread(fd, buf, EDGE, 0);
        if (n > 0)
                fnv2_add(&h, buf, (size_t)n);
        if (size > EDGE) {
                n = pread(fd, buf, EDGE, (off_t)(size - EDGE));
                if (n > 0)
                        fnv2_add(&h, buf, (size_t)n);
        }
        close(fd);
        free(buf);
        fnv2_out(&h, out);
        return SWARM_OK;
}

static void hex(const uint8_t *p, char *out) {
        for (int i = 0; i < 16; i++)
                sprintf(out + 2 * i, "%02x", p[i]);
}

static int unhex(const char *s, uint8_t *p) {
        if (strlen(s) != 32)
                return -1;
        for (int i = 0; i < 16; i++) {
                unsigned v;
                if (sscanf(s + 2 * i, "%2x", &v) != 1)
                        return -1;
                p[i] = (uint8_t)v;
        }
        return 0;
}

int score_ckpt_save(const char *path, const score_ckpt_t *ck,
                    swarm_err_t *err) {
        char tmp[4096], fp[33], sy[33];
        FILE *f;
        int fd, bad;

        if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
                return swarm_err_set(err, SWARM_ERR_INVALID, "checkpoint path too "
                                     "long");
        hex(ck->fingerprint, fp);
        hex(ck->sync, sy);
        f = fopen(tmp, "we");
        if (!f)
                return swarm_err_set(err, SWARM_ERR_IO, "%s: %s", tmp,
                                     strerror(errno));
        fprintf(f, MAGIC "\nfingerprint=%s\nsync=%s\nversion=%" PRId32
                "\noffset=%" PRIu64 "\nrecord=%" PRIu64 "\nline=%" PRIu64
                "\nout_bytes=%" PRIu64 "\nrej_bytes=%" PRIu64 "\nscored=%" PRIu64
                "\nrejected=%" PRIu64 "\nrejected_input=%" PRIu64
                "\nelapsed_s=%.6f\n",
                fp, sy, ck->version, ck->pos.offset, ck->pos.record, ck->pos.line,
                ck->out_bytes, ck->rej_bytes, ck->scored, ck->rejected,
                ck->rejected_input, ck->elapsed_s);
        for (int i = 0; i < SWARM_STATUS__COUNT; i++)
                fprintf(f, "status.%s=%" PRIu64 "\n",
                        swarm_status_name((swarm_status_t)i), ck->by_status[i]);
        bad = fflush(f) != 0;
        fd = fileno(f);
        bad |= fsync(fd) != 0;
        bad |= fclose(f) != 0;
        if (bad) {
                unlink(tmp);
                return swarm_err_set(err, SWARM_ERR_IO, "%s: write: %s", tmp,
                                     strerror(errno));
        }
        if (rename(tmp, path))
                return swarm_err_set(err, SWARM_ERR_IO, "%s: rename: %s", path,
                                     strerror(errno));
        return SWARM_OK;
}

static int u64(const char *v, uint64_t *out) {
        char *end;
        errno = 0;
        if (!*v || *v == '-')
                return -1;
        *out = strtoull(v, &end, 10);
        return errno || *end ? -1 : 0;
}

int score_ckpt_load(const char *path, score_ckpt_t *ck, int *found,
                    swarm_err_t *err) {
        FILE *f = fopen(path, "re");
        char line[512];
        int ln = 0, have_fp = 0, have_sync = 0, r = SWARM_OK;

        memset(ck, 0, sizeof(*ck));
        ck->version = -1;
        *found = 0;
        if (!f) {
                if (errno == ENOENT)
                        return SWARM_OK;
                return swarm_err_set(err, SWARM_ERR_IO, "%s: %s", path,
                                     strerror(errno));
        }
        while (fgets(line, sizeof(line), f)) {
                char *eq, *nl = strchr(line, '\n');
                uint64_t v = 0;
                ln++;
                if (nl)
                        *nl = 0;
                if (ln == 1) {
                        if (strcmp(line, MAGIC)) {
                                r = swarm_err_set(err, SWARM_ERR_PARSE,
                                                  "%s:1: not a score checkpoint",
                                                  path);
                                break;
                        }
                        continue;
                }
                eq = strchr(line, '=');
                if (!eq) {
                        r = swarm_err_set(err, SWARM_ERR_PARSE,
                                          "%s:%d: expected key=value", path, ln);
                        break;
                }
                *eq++ = 0;
                if (!strcmp(line, "fingerprint")) {
                        have_fp = !unhex(eq, ck->fingerprint);
                        if (!have_fp)
                                goto bad;
                        continue;
                }
                if (!strcmp(line, "sync")) {
                        have_sync = !unhex(eq, ck->sync);
                        if (!have_sync)
                                goto bad;
                        continue;
                }
                if (!strcmp(line, "elapsed_s")) {
                        char *end;
                        ck->elapsed_s = strtod(eq, &end);
                        if (*end)
                                goto bad;
                        continue;
                }
                if (!strcmp(line, "version")) {
                        char *end;
                        long x = strtol(eq, &end, 10);
                        if (*end || x < -1 || x > INT32_MAX)
                                goto bad;
                        ck->version = (int32_t)x;
                        continue;
                }
                if (u64(eq, &v))
                        goto bad;
                if (!strcmp(line, "offset"))
                        ck->pos.offset = v;
                else if (!strcmp(line, "record"))
                        ck->pos.record = v;
                else if (!strcmp(line, "line"))
                        ck->pos.line = v;
                else if (!strcmp(line, "out_bytes"))
                        ck->out_bytes = v;
                else if (!strcmp(line, "rej_bytes"))
                        ck->rej_bytes = v;
                else if (!strcmp(line, "scored"))
                        ck->scored = v;
                else if (!strcmp(line, "rejected"))
                        ck->rejected = v;
                else if (!strcmp(line, "rejected_input"))
                        ck->rejected_input = v;
                else if (!strncmp(line, "status.", 7)) {
                        int i;
                        for (i = 0; i < SWARM_STATUS__COUNT; i++)
                                if (!strcmp(line + 7,
                                            swarm_status_name((swarm_status_t)i)))
                                        break;
                        if (i == SWARM_STATUS__COUNT)
                                goto bad;
                        ck->by_status[i] = v;
                } else {
                        goto bad;
                }
                continue;
bad:
                r = swarm_err_set(err, SWARM_ERR_PARSE, "%s:%d: bad %s", path, ln,
                                  line);
                break;
        }
        fclose(f);
        if (!r && (!have_fp || !have_sync))
                r = swarm_err_set(err, SWARM_ERR_PARSE,
                                  "%s: no fingerprint or sync line", path);
        if (!r)
                *found = 1;
        return r;
}
