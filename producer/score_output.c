/*
 * score_output.c - Avro object container and CSV writers (score_output.h).
 *
 * Avro binary encoding, as the specification defines it: int/long are
 * zig-zag varints, float is 4 bytes little-endian, string is a long length
 * and UTF-8 bytes, an array is one block (count, items) and a 0 count.  The
 * container is the magic "Obj\1", the metadata map (avro.schema,
 * avro.codec=null), the sync marker, then blocks of (count, size, data,
 * sync).
 */
#include "score_output.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct score_writer {
        int fd;
        char *path;
        score_out_format_t fmt;
        uint8_t sync[16];
        uint64_t off;
        int started, resumed;
        score_out_desc_t d;
        swarm_buf_t blk, out;
        swarm_err_t *err_sink;
};

/* ------------------------------------------------------------ descriptor */

static void sanitize(const char *in, char *out, size_t size) {
        size_t j = 0;
        if (!*in || (*in >= '0' && *in <= '9'))
                out[j++] = '_';
        for (size_t i = 0; in[i] && j + 1 < size; i++) {
                char c = in[i];
                int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '_';
                out[j++] = ok ? c : '_';
        }
        out[j] = 0;
}

static int taken(const score_out_desc_t *d, int upto, const char *name) {
        static const char *const reserved[] = {"row", "id", "label", "top_k"};
        for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
                if (!strcmp(name, reserved[i]))
                        return 1;
        for (int i = 0; i < upto; i++)
                if (!strcmp(d->col[i].field, name))
                        return 1;
        return 0;
}

int score_out_desc_from(score_out_desc_t *d, const swarm_tensor_t *outs, int n,
                        int64_t rows, swarm_err_t *err) {
        if (n < 1 || n > SWARM_MAX_INPUTS)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "the response has %d outputs", n);
        d->n = n;
        for (int i = 0; i < n; i++) {
                score_out_col_t *c = &d->col[i];
                const swarm_tensor_t *t = &outs[i];
                char base[128];
                size_t es = swarm_dtype_size(t->dtype);
                int64_t elems = t->ndim >= 1 ? swarm_shape_elems(t->shape + 1, t->ndim - 1)
                                             : -1;

                if (!es || t->ndim < 1 || t->shape[0] != rows || elems < 1 ||
                    (uint64_t)elems > (1u << 28) || t->size != (size_t)rows * (size_t)elems * es)
                        return swarm_err_set(err, SWARM_ERR_INVALID,
                                             "output %d: not [%lld, ...] rows of a "
                                             "known dtype", i, (long long)rows);
                snprintf(c->tensor, sizeof(c->tensor), "%.*s", (int)t->name.len,
                         t->name.ptr ? t->name.ptr : "");
                sanitize(c->tensor[0] ? c->tensor : "output", base, sizeof(base));
                snprintf(c->field, sizeof(c->field), "%s", base);
                for (int k = 2; taken(d, i, c->field); k++)
                        snprintf(c->field, sizeof(c->field), "out_%s_%d", base, k);
                c->dtype = t->dtype;
                c->elems = elems;
                c->row_bytes = (size_t)elems * es;
        }
        if ((d->label || d->top_k > 0) &&
            d->col[0].dtype != SWARM_DTYPE_FLOAT32 &&
            d->col[0].dtype != SWARM_DTYPE_FLOAT16 &&
            d->col[0].dtype != SWARM_DTYPE_BFLOAT16)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "--label/--top-k need a float first output, "
                                     "%s is %s", d->col[0].tensor,
                                     swarm_dtype_name(d->col[0].dtype));
        if (d->top_k > d->col[0].elems)
                d->top_k = (int)d->col[0].elems;
        return SWARM_OK;
}

static const char *avro_type(swarm_dtype_t dt) {
        switch (dt) {
        case SWARM_DTYPE_INT64:
                return "long";
        case SWARM_DTYPE_INT32:
        case SWARM_DTYPE_UINT8:
                return "int";
        default:
                return "float";
        }
}

char *score_out_schema_json(const score_out_desc_t *d) {
        size_t cap = 1024 + (size_t)d->n * 512, len = 0;
        char *s = malloc(cap);
        if (!s)
                return NULL;
#define PUT(...) len += (size_t)snprintf(s + len, cap - len, __VA_ARGS__)
        PUT("{\"type\":\"record\",\"name\":\"Score\",\"namespace\":\"swarm\","
            "\"fields\":[");
        PUT(d->has_id ? "{\"name\":\"id\",\"type\":\"string\"}"
                      : "{\"name\":\"row\",\"type\":\"long\"}");
        for (int i = 0; i < d->n; i++) {
                const score_out_col_t *c = &d->col[i];
                if (c->elems == 1)
                        PUT(",{\"name\":\"%s\",\"type\":\"%s\"}", c->field,
                            avro_type(c->dtype));
                else
                        PUT(",{\"name\":\"%s\",\"type\":{\"type\":\"array\","
                            "\"items\":\"%s\"}}", c->field, avro_type(c->dtype));
        }
        if (d->label)
                PUT(",{\"name\":\"label\",\"type\":\"int\"}");
        if (d->top_k > 0)
                PUT(",{\"name\":\"top_k\",\"type\":{\"type\":\"array\",\"items\":"
                    "{\"type\":\"record\",\"name\":\"TopK\",\"fields\":["
                    "{\"name\":\"index\",\"type\":\"int\"},"
                    "{\"name\":\"score\",\"type\":\"float\"}]}}}");
        PUT("]}");
#undef PUT
        return s;
}

/* ------------------------------------------------------------ encoding */

static int put(swarm_buf_t *b, const void *p, size_t n) {
        if (swarm_buf_reserve(b, n, NULL))
                return -1;
        memcpy(b->data + b->len, p, n);
        b->len += n;
        return 0;
}

static int put_long(swarm_buf_t *b, int64_t v) {
        uint8_t tmp[10];
        uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
        size_t n = 0;
        do {
                uint8_t c = z & 0x7f;
                z >>= 7;
                tmp[n++] = (uint8_t)(c | (z ? 0x80 : 0));
        } while (z);
        return put(b, tmp, n);
}

static int put_float(swarm_buf_t *b, float f) {
        uint8_t tmp[4];
        uint32_t u;
        memcpy(&u, &f, 4);
        for (int i = 0; i < 4; i++)
                tmp[i] = (uint8_t)(u >> (8 * i));
        return put(b, tmp, 4);
}

static int put_str(swarm_buf_t *b, const char *s, size_t n) {
        return put_long(b, (int64_t)n) || put(b, s, n);
}

static float half_to_float(uint16_t h) {
        uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f,
                 man = h & 0x3ff, u;
        float f;
        if (exp == 0) {
                f = ldexpf((float)man, -24);
                return sign ? -f : f;
        }
        if (exp == 31)
                u = sign | 0x7f800000u | man << 13;
        else
                u = sign | (exp + 112) << 23 | man << 13;
        memcpy(&f, &u, 4);
        return f;
}

/* Element k of an output row as float (float dtypes) or integer. */
static float elem_f(swarm_dtype_t dt, const uint8_t *row, int64_t k) {
        uint16_t h;
        uint32_t u;
        float f;
        switch (dt) {
        case SWARM_DTYPE_FLOAT16:
                memcpy(&h, row + 2 * k, 2);
                return half_to_float(h);
        case SWARM_DTYPE_BFLOAT16:
                memcpy(&h, row + 2 * k, 2);
                u = (uint32_t)h << 16;
                memcpy(&f, &u, 4);
                return f;
        default:
                memcpy(&f, row + 4 * k, 4);
                return f;
        }
}

static int64_t elem_i(swarm_dtype_t dt, const uint8_t *row, int64_t k) {
        int64_t v;
        int32_t i;
        switch (dt) {
        case SWARM_DTYPE_INT64:
                memcpy(&v, row + 8 * k, 8);
                return v;
        case SWARM_DTYPE_INT32:
                memcpy(&i, row + 4 * k, 4);
                return i;
        default:
                return row[k];
        }
}

static int is_float(swarm_dtype_t dt) {
        return dt == SWARM_DTYPE_FLOAT32 || dt == SWARM_DTYPE_FLOAT16 ||
               dt == SWARM_DTYPE_BFLOAT16;
}

/* Indexes of the k best scores, best first (ties: the lower index). */
static void top_k(const score_out_col_t *c, const uint8_t *row, int k,
                  int *idx, float *val) {
        int n = 0;
        for (int64_t e = 0; e < c->elems; e++) {
                float v = elem_f(c->dtype, row, e);
                int pos;
                if (isnan(v))
                        v = -INFINITY;
                if (n == k && !(v > val[k - 1]))
                        continue;
                pos = n < k ? n++ : k - 1;
                while (pos > 0 && v > val[pos - 1]) {
                        val[pos] = val[pos - 1];
                        idx[pos] = idx[pos - 1];
                        pos--;
                }
                val[pos] = v;
                idx[pos] = (int)e;
        }
}

static int avro_row(score_writer_t *w, const score_out_row_t *r) {
        const score_out_desc_t *d = &w->d;
        swarm_buf_t *b = &w->blk;

        if (d->has_id ? put_str(b, r->id ? r->id : "", r->id ? strlen(r->id) : 0)
                      : put_long(b, (int64_t)r->record))
                return -1;
        for (int i = 0; i < d->n; i++) {
                const score_out_col_t *c = &d->col[i];
                if (c->elems > 1 && put_long(b, c->elems))
                        return -1;
                if (c->dtype == SWARM_DTYPE_FLOAT32) {
                        /* little-endian hosts: the row is the encoding */
                        if (put(b, r->out[i], c->row_bytes))
                                return -1;
                } else {
                        for (int64_t k = 0; k < c->elems; k++)
                                if (is_float(c->dtype)
                                            ? put_float(b, elem_f(c->dtype, r->out[i], k))
                                            : put_long(b, elem_i(c->dtype, r->out[i], k)))
                                        return -1;
                }
                if (c->elems > 1 && put_long(b, 0))
                        return -1;
        }
        if (d->label || d->top_k > 0) {
                int idx[64 + 1], k = d->top_k > 1 ? d->top_k : 1;
                float val[64 + 1];
                if (k > 64)
                        k = 64;
                top_k(&d->col[0], r->out[0], k, idx, val);
                if (d->label && put_long(b, idx[0]))
                        return -1;
                if (d->top_k > 0) {
                        if (put_long(b, k))
                                return -1;
                        for (int j = 0; j < k; j++)
                                if (put_long(b, idx[j]) || put_float(b, val[j]))
                                        return -1;
                        if (put_long(b, 0))
                                return -1;
                }
        }
        return 0;
}

static int csv_num(swarm_buf_t *b, const score_out_col_t *c, const uint8_t *row,
                   int64_t k) {
        char tmp[40];
        int n = is_float(c->dtype)
                        ? snprintf(tmp, sizeof(tmp), ",%.9g",
                                   (double)elem_f(c->dtype, row, k))
                        : snprintf(tmp, sizeof(tmp), ",%lld",
                                   (long long)elem_i(c->dtype, row, k));
        return put(b, tmp, (size_t)n);
}

/* A CSV field, quoted when it needs to be. */
static int csv_text(swarm_buf_t *b, const char *s) {
        if (!strpbrk(s, ",\"\r\n"))
                return put(b, s, strlen(s));
        if (put(b, "\"", 1))
                return -1;
        for (; *s; s++)
                if ((*s == '"' && put(b, "\"", 1)) || put(b, s, 1))
                        return -1;
        return put(b, "\"", 1);
}

static int csv_row(score_writer_t *w, const score_out_row_t *r) {
        const score_out_desc_t *d = &w->d;
        swarm_buf_t *b = &w->blk;
        char tmp[32];

        if (d->has_id) {
                if (csv_text(b, r->id ? r->id : ""))
                        return -1;
        } else {
                int n = snprintf(tmp, sizeof(tmp), "%llu",
                                 (unsigned long long)r->record);
                if (put(b, tmp, (size_t)n))
                        return -1;
        }
        for (int i = 0; i < d->n; i++)
                for (int64_t k = 0; k < d->col[i].elems; k++)
                        if (csv_num(b, &d->col[i], r->out[i], k))
                                return -1;
        if (d->label || d->top_k > 0) {
                int idx[65], k = d->top_k > 1 ? d->top_k : 1;
                float val[65];
                if (k > 64)
                        k = 64;
                top_k(&d->col[0], r->out[0], k, idx, val);
                if (d->label) {
                        int n = snprintf(tmp, sizeof(tmp), ",%d", idx[0]);
                        if (put(b, tmp, (size_t)n))
                                return -1;
                }
                for (int j = 0; j < d->top_k && j < k; j++) {
                        int n = snprintf(tmp, sizeof(tmp), ",%d,%.9g", idx[j],
                                         (double)val[j]);
                        if (put(b, tmp, (size_t)n))
                                return -1;
                }
        }
        return put(b, "\n", 1);
}

/* ------------------------------------------------------------ file */

static int write_all(score_writer_t *w, const void *p, size_t n,
                     swarm_err_t *err) {
        const uint8_t *c = p;
        while (n) {
                ssize_t r = write(w->fd, c, n);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return swarm_err_set(err, SWARM_ERR_IO, "%s: write: %s",
                                             w->path, strerror(errno));
                c += r;
                n -= (size_t)r;
                w->off += (uint64_t)r;
        }
        return SWARM_OK;
}

int score_writer_open(const char *path, score_out_format_t fmt,
                      const uint8_t sync[16], uint64_t resume_at,
                      score_writer_t **out, swarm_err_t *err) {
        score_writer_t *w = calloc(1, sizeof(*w));
        *out = NULL;
        if (!w || !(w->path = strdup(path))) {
                free(w);
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        }
        w->fmt = fmt;
        memcpy(w->sync, sync, 16);
        w->fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (resume_at ? 0 : O_TRUNC),
                     0644);
        if (w->fd < 0) {
                swarm_err_set(err, SWARM_ERR_IO, "%s: %s", path, strerror(errno));
                goto fail;
        }
        if (resume_at) {
                off_t end = lseek(w->fd, 0, SEEK_END);
                if (end < 0 || (uint64_t)end < resume_at) {
                        swarm_err_set(err, SWARM_ERR_INVALID,
                                      "%s: shorter (%lld bytes) than the "
                                      "checkpoint says (%llu): cannot resume",
                                      path, (long long)end,
                                      (unsigned long long)resume_at);
                        goto fail;
                }
                /* whatever came after the checkpoint is written again */
                if (ftruncate(w->fd, (off_t)resume_at) ||
                    lseek(w->fd, (off_t)resume_at, SEEK_SET) < 0) {
                        swarm_err_set(err, SWARM_ERR_IO, "%s: truncate: %s", path,
                                      strerror(errno));
                        goto fail;
                }
                w->off = resume_at;
                w->resumed = 1;
        }
        *out = w;
        return SWARM_OK;
fail:
        if (w->fd >= 0)
                close(w->fd);
        free(w->path);
        free(w);
        return err->code;
}

int score_writer_begin(score_writer_t *w, const score_out_desc_t *d,
                       swarm_err_t *err) {
        swarm_buf_t *b = &w->out;
        int r = 0;

        w->d = *d;
        w->started = 1;
        if (w->resumed)
                return SWARM_OK;
        b->len = 0;
        if (w->fmt == SCORE_OUT_AVRO) {
                char *schema = score_out_schema_json(d);
                if (!schema)
                        return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                r = put(b, "Obj\x01", 4) || put_long(b, 2) ||
                    put_str(b, "avro.schema", 11) ||
                    put_str(b, schema, strlen(schema)) ||
                    put_str(b, "avro.codec", 10) || put_str(b, "null", 4) ||
                    put_long(b, 0) || put(b, w->sync, 16);
                free(schema);
        } else {
                r = put(b, d->has_id ? "id" : "row", d->has_id ? 2 : 3);
                for (int i = 0; i < d->n && !r; i++) {
                        const score_out_col_t *c = &d->col[i];
                        for (int64_t k = 0; k < c->elems && !r; k++) {
                                char tmp[180];
                                int n = c->elems == 1
                                                ? snprintf(tmp, sizeof(tmp), ",%s",
                                                           c->field)
                                                : snprintf(tmp, sizeof(tmp), ",%s_%lld",
                                                           c->field, (long long)k);
                                r = put(b, tmp, (size_t)n);
                        }
                }
                if (d->label && !r)
                        r = put(b, ",label", 6);
                for (int j = 0; j < d->top_k && !r; j++) {
                        char tmp[64];
                        int n = snprintf(tmp, sizeof(tmp), ",top%d_index,top%d_score",
                                         j + 1, j + 1);
                        r = put(b, tmp, (size_t)n);
                }
                if (!r)
                        r = put(b, "\n", 1);
        }
        if (r)
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        return write_all(w, b->data, b->len, err);
}

int score_writer_started(const score_writer_t *w) {
        return w->started;
}

int score_writer_block(score_writer_t *w, const score_out_row_t *rows,
                       size_t n, swarm_err_t *err) {
        if (!w->started)
                return swarm_err_set(err, SWARM_ERR_STATE, "no header yet");
        if (!n)
                return SWARM_OK;
        w->blk.len = 0;
        for (size_t i = 0; i < n; i++)
                if (w->fmt == SCORE_OUT_AVRO ? avro_row(w, &rows[i])
                                             : csv_row(w, &rows[i]))
                        return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        if (w->fmt == SCORE_OUT_CSV)
                return write_all(w, w->blk.data, w->blk.len, err);
        w->out.len = 0;
        if (put_long(&w->out, (int64_t)n) || put_long(&w->out, (int64_t)w->blk.len))
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        {
                int r = write_all(w, w->out.data, w->out.len, err);
                if (!r)
                        r = write_all(w, w->blk.data, w->blk.len, err);
                if (!r)
                        r = write_all(w, w->sync, 16, err);
                return r;
        }
}

uint64_t score_writer_offset(const score_writer_t *w) {
        return w->off;
}

int score_writer_sync(score_writer_t *w, swarm_err_t *err) {
        if (fdatasync(w->fd))
                return swarm_err_set(err, SWARM_ERR_IO, "%s: fdatasync: %s",
                                     w->path, strerror(errno));
        return SWARM_OK;
}

int score_writer_close(score_writer_t *w, swarm_err_t *err) {
        int r = SWARM_OK;
        if (!w)
                return SWARM_OK;
        if (close(w->fd) && err)
                r = swarm_err_set(err, SWARM_ERR_IO, "%s: close: %s", w->path,
                                  strerror(errno));
        swarm_buf_destroy(&w->blk);
        swarm_buf_destroy(&w->out);
        free(w->path);
        free(w);
        return r;
}
