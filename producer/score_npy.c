/*
 * score_npy.c - rows of a .npy file, read with pread() one row at a time
 * (the header is checked by arrayio's parser), so memory does not grow with
 * the file.  float64 files convert to float32 (the tensor dtype); a given
 * tensor dtype converts every element to it.  The whole array is one tensor.
 */
#include "score_input.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "swarm/arrayio.h"

#define HEAD_MAX (1u << 20)

typedef struct npy_reader {
        score_reader_t base;
        int fd;
        char *path;
        swarm_npy_header_t h;
        uint64_t rows, file_row_bytes;
        /* rows are read READ_BYTES at a time: a pread() per row costs a
         * syscall per 3 KB */
        uint8_t *buf;
        size_t buf_cap, buf_len;
        uint64_t buf_off;
        const uint8_t *row;     /* the current row, in buf */
} npy_reader_t;

#define READ_BYTES (1u << 20)

/* float16 / bfloat16 to float (the two input dtypes .npy files may hold that
 * requests carry as they are unless converted). */
static double elem(const npy_reader_t *n, int64_t k) {
        const uint8_t *p = n->row + (size_t)k * n->h.elem_size;
        if (n->h.is_float64) {
                double d;
                memcpy(&d, p, 8);
                return d;
        }
        switch (n->h.dtype) {
        case SWARM_DTYPE_FLOAT32: {
                float f;
                memcpy(&f, p, 4);
                return f;
        }
        case SWARM_DTYPE_INT64: {
                int64_t v;
                memcpy(&v, p, 8);
                return (double)v;
        }
        case SWARM_DTYPE_INT32: {
                int32_t v;
                memcpy(&v, p, 4);
                return v;
        }
        case SWARM_DTYPE_UINT8:
                return *p;
        default:
                return 0;
        }
}

/* pread() at least min and at most max bytes at file offset off into dst
 * (*got); the error names row `rec`, the first one asked for. */
static int read_at(const npy_reader_t *n, uint8_t *dst, size_t min, size_t max,
                   uint64_t off, uint64_t rec, size_t *got, swarm_err_t *err) {
        *got = 0;
        while (*got < min) {
                ssize_t r = pread(n->fd, dst + *got, max - *got, (off_t)(off + *got));
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        return swarm_err_set(err, r < 0 ? SWARM_ERR_IO
                                                        : SWARM_ERR_TRUNCATED,
                                             "%s: row %llu: %s", n->path,
                                             (unsigned long long)rec,
                                             r < 0 ? strerror(errno)
                                                   : "the file ends early");
                *got += (size_t)r;
        }
        return SWARM_OK;
}

static int is_half(swarm_dtype_t d) {
        return d == SWARM_DTYPE_FLOAT16 || d == SWARM_DTYPE_BFLOAT16;
}

static int npy_next(score_reader_t *base, score_row_t *row, swarm_err_t *err) {
        npy_reader_t *n = (npy_reader_t *)base;
        const score_tensor_t *t = &base->t[0];
        uint64_t rec = base->pos.record;

        if (rec >= n->rows) {
                row->kind = SCORE_ROW_EOF;
                return SWARM_OK;
        }
        if (base->pos.offset < n->buf_off ||
            base->pos.offset + n->file_row_bytes > n->buf_off + n->buf_len) {
                int r;
                n->buf_off = base->pos.offset;
                n->buf_len = 0;
                if ((r = read_at(n, n->buf, (size_t)n->file_row_bytes, n->buf_cap,
                                 n->buf_off, rec, &n->buf_len, err)))
                        return r;
        }
        n->row = n->buf + (base->pos.offset - n->buf_off);
        row->record = rec;
        base->pos.record++;
        base->pos.offset += n->file_row_bytes;
        row->kind = SCORE_ROW_OK;
        if (!n->h.is_float64 && t->dtype == n->h.dtype) {
                memcpy(row->dst[0], n->row, t->row_bytes);
                return SWARM_OK;
        }
        for (int64_t k = 0; k < t->elems; k++) {
                int bad;
                if (n->h.dtype == SWARM_DTYPE_INT64 && !n->h.is_float64) {
                        int64_t v;
                        memcpy(&v, n->row + 8 * k, 8);
                        bad = score_store_i64(t->dtype, row->dst[0], k, v,
                                              row->reason, sizeof(row->reason));
                } else {
                        bad = score_store_double(t->dtype, row->dst[0], k,
                                                 elem(n, k), row->reason,
                                                 sizeof(row->reason));
                }
                if (bad) {
                        row->kind = SCORE_ROW_REJECT;
                        return SWARM_OK;
                }
        }
        return SWARM_OK;
}

/* Rows of the file's own dtype, pread() straight into dst. */
static int npy_next_raw(score_reader_t *base, uint8_t *dst, uint64_t max_rows,
                        uint64_t *got, swarm_err_t *err) {
        npy_reader_t *n = (npy_reader_t *)base;
        const score_tensor_t *t = &base->t[0];
        uint64_t rec = base->pos.record, k, want;
        size_t done = 0;
        int r;

        if (n->h.is_float64 || t->dtype != n->h.dtype || rec >= n->rows)
                return SWARM_OK;
        k = n->rows - rec < max_rows ? n->rows - rec : max_rows;
        /* k rows of a file whose size was checked against its shape */
        want = k * n->file_row_bytes;
        if ((r = read_at(n, dst, (size_t)want, (size_t)want, base->pos.offset, rec,
                         &done, err)))
                return r;
        base->pos.record += k;
        base->pos.offset += want;
        *got = k;
        return SWARM_OK;
}

static int npy_seek(score_reader_t *base, const score_pos_t *pos,
                    swarm_err_t *err) {
        npy_reader_t *n = (npy_reader_t *)base;
        if (pos->record > n->rows ||
            pos->offset != n->h.data_off + pos->record * n->file_row_bytes)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "%s: the checkpoint's position (row %llu) "
                                     "does not fit this file", n->path,
                                     (unsigned long long)pos->record);
        base->pos = *pos;
        return SWARM_OK;
}

static void npy_progress(const score_reader_t *base, uint64_t *done) {
        *done = base->pos.offset;
}

static void npy_destroy(score_reader_t *base) {
        npy_reader_t *n = (npy_reader_t *)base;
        if (n->fd >= 0)
                close(n->fd);
        free(n->buf);
        free(n->path);
        free(n);
}

static const score_reader_ops_t npy_ops = {npy_next, npy_seek, npy_progress,
                                           npy_destroy, npy_next_raw};

int score_npy_open(const score_input_opts_t *o, score_reader_t **out,
                   swarm_err_t *err) {
        npy_reader_t *n = calloc(1, sizeof(*n));
        score_tensor_t *t;
        struct stat st;
        uint8_t *head = NULL;
        ssize_t got;
        int64_t elems;
        int r;

        *out = NULL;
        if (!n)
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        n->base.ops = &npy_ops;
        n->fd = -1;
        n->path = strdup(o->path);
        head = malloc(HEAD_MAX);
        if (!n->path || !head) {
                r = swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                goto fail;
        }
        n->fd = open(o->path, O_RDONLY | O_CLOEXEC);
        if (n->fd < 0 || fstat(n->fd, &st)) {
                r = swarm_err_set(err, SWARM_ERR_IO, "%s: %s", o->path,
                                  strerror(errno));
                goto fail;
        }
        n->base.size = (uint64_t)st.st_size;
        got = pread(n->fd, head, HEAD_MAX, 0);
        if (got < 0) {
                r = swarm_err_set(err, SWARM_ERR_IO, "%s: %s", o->path,
                                  strerror(errno));
                goto fail;
        }
        if ((r = swarm_array_npy_header(head, (size_t)got, o->path, &n->h, err)))
                goto fail;
        if (n->h.ndim < 1) {
                r = swarm_err_set(err, SWARM_ERR_INVALID,
                                  "%s: a 0-d array has no rows", o->path);
                goto fail;
        }
        elems = swarm_shape_elems(n->h.shape + 1, n->h.ndim - 1);
        n->rows = (uint64_t)n->h.shape[0];
        if (elems < 1 || (uint64_t)elems > (1u << 30) / n->h.elem_size) {
                r = swarm_err_set(err, SWARM_ERR_INVALID,
                                  "%s: rows of %lld elements are not supported",
                                  o->path, (long long)elems);
                goto fail;
        }
        n->file_row_bytes = (uint64_t)elems * n->h.elem_size;
        if (n->rows > (n->base.size - n->h.data_off) / n->file_row_bytes ||
            n->h.data_off + n->rows * n->file_row_bytes != n->base.size) {
                r = swarm_err_set(err, SWARM_ERR_TRUNCATED,
                                  "%s: the file's size does not match its shape",
                                  o->path);
                goto fail;
        }
        n->buf_cap = n->file_row_bytes > READ_BYTES ? (size_t)n->file_row_bytes
                                                    : READ_BYTES;
        n->buf = malloc(n->buf_cap);
        if (!n->buf) {
                r = swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                goto fail;
        }
        n->base.n_t = 1;
        t = &n->base.t[0];
        snprintf(t->name, sizeof(t->name), "%s", o->tensors[0].name);
        t->dtype = o->tensors[0].dtype_given ? o->tensors[0].dtype : n->h.dtype;
        if (!swarm_dtype_size(t->dtype) ||
            (t->dtype != n->h.dtype &&
             (is_half(t->dtype) || (is_half(n->h.dtype) && !n->h.is_float64)))) {
                r = swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                  "%s: cannot convert to %s", o->path,
                                  swarm_dtype_name(t->dtype));
                goto fail;
        }
        t->elems = elems;
        t->row_bytes = (size_t)elems * swarm_dtype_size(t->dtype);
        t->ndim = n->h.ndim - 1 > 0 ? n->h.ndim - 1 : 1;
        t->shape[0] = 1;
        for (int i = 1; i < n->h.ndim; i++)
                t->shape[i - 1] = n->h.shape[i];
        n->base.pos.offset = n->h.data_off;
        free(head);
        *out = &n->base;
        return SWARM_OK;
fail:
        free(head);
        npy_destroy(&n->base);
        return r;
}
