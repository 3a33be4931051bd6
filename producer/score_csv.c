/*
 * score_csv.c - CSV rows with a header, parsed by libcsv in strict mode.
 *
 * The file is fed to libcsv one physical line at a time (libcsv keeps its
 * state across calls, so a quoted field may span lines).  That costs nothing
 * measurable and tells us, for every row, the line it starts on and the byte
 * offset after it: rejects cite lines, and a checkpoint can seek straight to
 * the next row instead of re-parsing the file.  libcsv ends a row at '\r' or
 * '\n' (so "\r\n" is one end); a bare '\r' inside a line, which would end
 * two rows on one line, rejects that line.
 *
 * Bad quoting (a quote inside an unquoted field, text after a closing quote)
 * makes libcsv stop; the row is rejected, the parser reset and reading goes
 * on at the next line.  A row that grows past max_row_bytes (an unterminated
 * quote would swallow the rest of the file) is rejected and reading resumes
 * at the line after the one it started on.
 */
#include "score_input.h"
#include "score_csv_split.h"
#include "score_num.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CSV_OPTS (CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL)
#define READ_CHUNK (1 << 20)

typedef struct csv_reader {
        score_reader_t base;
        int fd;
        char *path;
        struct csv_parser p;
        int p_live;
        char delim;
        size_t max_row;

        /* buffered file input; buf_off is the file offset of buf[0] */
        char *buf;
        size_t buf_len, buf_pos;
        uint64_t buf_off;
        int eof;

        /* the current line */
        char *line;
        size_t line_len, line_cap;
        int line_too_long;

        /* fields of the row being parsed: offsets into fbuf */
        char *fbuf;
        size_t fbuf_len, fbuf_cap;
        size_t *foff;
        int n_f, cap_f;
        int row_done, two_rows, mem_failed;

        /* the row's text, for the rejects file */
        char *raw;
        size_t raw_len, raw_cap;

        /* header */
        char **names;
        int n_names;
        int id_col;
        int *cols[SWARM_MAX_INPUTS];
        int n_cols[SWARM_MAX_INPUTS];

        /* Data rows are converted as libcsv hands over each field, straight
         * into the row's tensors (no copy of the field, no second pass over
         * the row): field i feeds the elements use[use_at[i] ..
         * use_at[i + 1]).  The row's first bad value (in tensor, element
         * order, as a pass over the tensors would find it) is kept. */
        int direct;
        struct col_use {
                int t;
                int64_t k;
        } *use;
        int *use_at;
        uint8_t *const *dst;
        char *id;
        size_t id_size;
        int bad;
        uint64_t bad_key;
        char bad_reason[256];
} csv_reader_t;

/* A data field: into its elements (and the id). */
static void on_data_field(csv_reader_t *c, const char *s) {
        int i = c->n_f++;

        if (i >= c->n_names)
                return; /* the row is rejected for its field count */
        if (i == c->id_col && c->id)
                snprintf(c->id, c->id_size, "%s", s);
        for (int u = c->use_at[i]; u < c->use_at[i + 1]; u++) {
                const struct col_use *cu = &c->use[u];
                uint64_t key = (uint64_t)cu->t << 40 | (uint64_t)cu->k;
                char reason[256];
                if (c->bad && key > c->bad_key)
                        continue;
                if (score_num_store(c->base.t[cu->t].dtype, s, c->names[i],
                                    c->dst[cu->t], cu->k, reason,
                                    sizeof(reason))) {
                        c->bad = 1;
                        c->bad_key = key;
                        memcpy(c->bad_reason, reason, sizeof(reason));
                }
        }
}

static void on_field(void *s, size_t len, void *opaque) {
        csv_reader_t *c = opaque;
        if (c->mem_failed)
                return;
        if (c->direct) {
                /* CSV_APPEND_NULL: the field is a C string */
                on_data_field(c, s);
                return;
        }
        if (c->n_f == c->cap_f) {
                int nc = c->cap_f ? c->cap_f * 2 : 1024;
                size_t *t = realloc(c->foff, (size_t)nc * sizeof(*t));
                if (!t) {
                        c->mem_failed = 1;
                        return;
                }
                c->foff = t;
                c->cap_f = nc;
        }
        if (c->fbuf_len + len + 1 > c->fbuf_cap) {
                size_t nc = c->fbuf_cap ? c->fbuf_cap : 65536;
                char *t;
                while (nc < c->fbuf_len + len + 1)
                        nc *= 2;
                t = realloc(c->fbuf, nc);
                if (!t) {
                        c->mem_failed = 1;
                        return;
                }
                c->fbuf = t;
                c->fbuf_cap = nc;
        }
        c->foff[c->n_f++] = c->fbuf_len;
        if (len)
                memcpy(c->fbuf + c->fbuf_len, s, len);
        c->fbuf[c->fbuf_len + len] = 0;
        c->fbuf_len += len + 1;
}

static void on_row(int ch, void *opaque) {
        csv_reader_t *c = opaque;
        (void)ch;
        /* a bare '\r' inside a line ends a row there too */
        if (c->row_done)
                c->two_rows = 1;
        c->row_done = 1;
}

static int is_space(unsigned char ch) {
        return ch == ' ' || ch == '\t';
}

static int parser_reset(csv_reader_t *c, swarm_err_t *err) {
        if (c->p_live)
                csv_free(&c->p);
        c->p_live = 0;
        if (csv_init(&c->p, CSV_OPTS))
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        c->p_live = 1;
        csv_set_delim(&c->p, (unsigned char)c->delim);
        c->n_f = 0;
        c->fbuf_len = 0;
        c->row_done = 0;
        c->two_rows = 0;
        return SWARM_OK;
}

static int do_seek(csv_reader_t *c, uint64_t off, swarm_err_t *err) {
        if (lseek(c->fd, (off_t)off, SEEK_SET) < 0)
                return swarm_err_set(err, SWARM_ERR_IO, "%s: seek: %s", c->path,
                                     strerror(errno));
        c->buf_len = c->buf_pos = 0;
        c->buf_off = off;
        c->eof = 0;
        return SWARM_OK;
}

/* Room for `need` bytes in *buf (cap doubles from 64 KiB).  -1 when out
 * of memory (*buf unchanged). */
static int reserve(char **buf, size_t *cap, size_t need) {
        size_t nc = *cap ? *cap : 65536;
        char *t;

        if (need <= *cap)
                return 0;
        while (nc < need)
                nc *= 2;
        if (!(t = realloc(*buf, nc)))
                return -1;
        *buf = t;
        *cap = nc;
        return 0;
}

/* Read the next physical line (with its '\n') into c->line, keeping at most
 * max_row + 1 bytes of it.  Returns 1, 0 at the end, or -1 (err set). */
static int read_line(csv_reader_t *c, swarm_err_t *err) {
        c->line_len = 0;
        c->line_too_long = 0;
        for (;;) {
                char *nl;
                size_t n;

                if (c->buf_pos == c->buf_len) {
                        ssize_t got;
                        if (c->eof)
                                return c->line_len || c->line_too_long ? 1 : 0;
                        c->buf_off += c->buf_len;
                        c->buf_pos = c->buf_len = 0;
                        do
                                got = read(c->fd, c->buf, READ_CHUNK);
                        while (got < 0 && errno == EINTR);
                        if (got < 0) {
                                swarm_err_set(err, SWARM_ERR_IO, "%s: read: %s",
                                              c->path, strerror(errno));
                                return -1;
                        }
                        if (got == 0) {
                                c->eof = 1;
                                continue;
                        }
                        c->buf_len = (size_t)got;
                }
                nl = memchr(c->buf + c->buf_pos, '\n', c->buf_len - c->buf_pos);
                n = nl ? (size_t)(nl - (c->buf + c->buf_pos)) + 1
                       : c->buf_len - c->buf_pos;
                if (c->line_len + n > c->max_row + 1) {
                        c->line_too_long = 1;
                } else {
                        if (reserve(&c->line, &c->line_cap,
                                    c->line_len + n + SCORE_CSV_SPLIT_PAD)) {
                                swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                                return -1;
                        }
                        memcpy(c->line + c->line_len, c->buf + c->buf_pos, n);
                        c->line_len += n;
                }
                c->buf_pos += n;
                if (nl)
                        return 1;
        }
}

static uint64_t file_pos(const csv_reader_t *c) {
        return c->buf_off + c->buf_pos;
}

static int raw_append(csv_reader_t *c, const char *p, size_t n) {
        if (reserve(&c->raw, &c->raw_cap, c->raw_len + n))
                return -1;
        memcpy(c->raw + c->raw_len, p, n);
        c->raw_len += n;
        return 0;
}

typedef enum { GOT_ROW, GOT_BAD, GOT_EOF } got_t;

static int blank(const char *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!is_space((unsigned char)p[i]) && p[i] != '\n' && p[i] != '\r')
                        return 0;
        return 1;
}

static void raw_trim(csv_reader_t *c) {
        while (c->raw_len &&
               (c->raw[c->raw_len - 1] == '\n' || c->raw[c->raw_len - 1] == '\r'))
                c->raw_len--;
}

/* A rejected row that may have swallowed the lines after its first: go on
 * at its second line (a no-op when it had one line). */
static int resync(csv_reader_t *c, uint64_t second_line_off,
                  uint64_t first_line, swarm_err_t *err) {
        int r = parser_reset(c, err);
        if (r || !second_line_off)
                return r;
        if ((r = do_seek(c, second_line_off, err)))
                return r;
        c->base.pos.line = first_line;
        return SWARM_OK;
}

/* Parse lines until a row is complete.  *first_line is where it began; on
 * GOT_BAD, reason says why and the parser has been reset; c->raw holds the
 * row's text either way. */
static int parse_row(csv_reader_t *c, got_t *got, uint64_t *first_line,
                     char *reason, size_t rsize, swarm_err_t *err) {
        int started = 0, r;
        uint64_t second_line_off = 0;

        c->raw_len = 0;
        for (;;) {
                uint64_t line_off = file_pos(c);
                size_t n, k;

                r = read_line(c, err);
                if (r < 0)
                        return err->code;
                if (r == 0) {
                        int fr;
                        if (!started) {
                                *got = GOT_EOF;
                                return SWARM_OK;
                        }
                        /* the last row has no newline, or a quote is open */
                        fr = csv_fini(&c->p, on_field, on_row, c);
                        raw_trim(c);
                        if (fr || !c->row_done) {
                                snprintf(reason, rsize, "unterminated quoted field");
                                *got = GOT_BAD;
                                return resync(c, second_line_off, *first_line, err);
                        }
                        /* csv_fini leaves the parser reusable, but the fields
                         * are still wanted: reset only the parser state */
                        *got = GOT_ROW;
                        return SWARM_OK;
                }
                c->base.pos.line++;
                if (!started) {
                        if (blank(c->line, c->line_len) && !c->line_too_long)
                                continue; /* libcsv skips it too */
                        started = 1;
                        *first_line = c->base.pos.line;
                } else if (!second_line_off) {
                        second_line_off = line_off;
                }
                if (c->line_too_long || c->raw_len + c->line_len > c->max_row) {
                        snprintf(reason, rsize,
                                 "row longer than %zu bytes (an unterminated "
                                 "quote?)", c->max_row);
                        raw_trim(c);
                        *got = GOT_BAD;
                        return resync(c, second_line_off, *first_line, err);
                }
                if (raw_append(c, c->line, c->line_len))
                        return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                /* the first line of a data row: its plain fields (all of
                 * them, or those before the first quote) without libcsv's
                 * per-byte state machine, and libcsv from there */
                k = 0;
                if (c->direct && !second_line_off &&
                    (k = score_csv_split(c->line, c->line_len,
                                         (unsigned char)c->delim, on_field,
                                         on_row, c)) == c->line_len) {
                        raw_trim(c);
                        *got = GOT_ROW;
                        return SWARM_OK;
                }
                n = k + csv_parse(&c->p, c->line + k, c->line_len - k, on_field,
                                  on_row, c);
                if (c->mem_failed)
                        return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                if (n != c->line_len) {
                        snprintf(reason, rsize, "bad quoting at line %llu byte %zu",
                                 (unsigned long long)c->base.pos.line, n + 1);
                        raw_trim(c);
                        *got = GOT_BAD;
                        return parser_reset(c, err);
                }
                if (c->two_rows) {
                        snprintf(reason, rsize, "a carriage return inside line %llu",
                                 (unsigned long long)c->base.pos.line);
                        raw_trim(c);
                        *got = GOT_BAD;
                        return parser_reset(c, err);
                }
                if (c->row_done) {
                        raw_trim(c);
                        *got = GOT_ROW;
                        return SWARM_OK;
                }
        }
}

static const char *field(const csv_reader_t *c, int i) {
        return c->fbuf + c->foff[i];
}

static int csv_next(score_reader_t *base, score_row_t *row, swarm_err_t *err) {
        csv_reader_t *c = (csv_reader_t *)base;
        got_t got;
        int r;

        c->n_f = 0;
        c->fbuf_len = 0;
        c->row_done = 0;
        c->two_rows = 0;
        c->dst = row->dst;
        c->id = row->id;
        c->id_size = sizeof(row->id);
        c->bad = 0;
        if ((r = parse_row(c, &got, &row->line, row->reason, sizeof(row->reason),
                           err)))
                return r;
        if (got == GOT_EOF) {
                row->kind = SCORE_ROW_EOF;
                return SWARM_OK;
        }
        row->record = base->pos.record++;
        base->pos.offset = file_pos(c);
        row->raw = c->raw;
        row->raw_len = c->raw_len;
        if (got == GOT_BAD) {
                row->kind = SCORE_ROW_REJECT;
                return SWARM_OK;
        }
        row->kind = SCORE_ROW_REJECT;
        if (c->n_f != c->n_names) {
                snprintf(row->reason, sizeof(row->reason),
                         "%d fields, the header has %d", c->n_f, c->n_names);
                return SWARM_OK;
        }
        if (c->bad) {
                snprintf(row->reason, sizeof(row->reason), "%s", c->bad_reason);
                return SWARM_OK;
        }
        row->kind = SCORE_ROW_OK;
        return SWARM_OK;
}

static int csv_seek(score_reader_t *base, const score_pos_t *pos,
                    swarm_err_t *err) {
        csv_reader_t *c = (csv_reader_t *)base;
        int r;
        if (pos->offset > base->size)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "%s: checkpoint offset %llu is past the end "
                                     "(%llu bytes): not the same file?", c->path,
                                     (unsigned long long)pos->offset,
                                     (unsigned long long)base->size);
        if ((r = parser_reset(c, err)) || (r = do_seek(c, pos->offset, err)))
                return r;
        base->pos = *pos;
        return SWARM_OK;
}

static void csv_progress(const score_reader_t *base, uint64_t *done) {
        *done = base->pos.offset;
}

static void csv_destroy(score_reader_t *base) {
        csv_reader_t *c = (csv_reader_t *)base;
        if (c->p_live)
                csv_free(&c->p);
        if (c->fd >= 0)
                close(c->fd);
        for (int i = 0; i < c->n_names; i++)
                free(c->names[i]);
        for (int t = 0; t < SWARM_MAX_INPUTS; t++)
                free(c->cols[t]);
        free(c->names);
        free(c->use);
        free(c->use_at);
        free(c->buf);
        free(c->line);
        free(c->fbuf);
        free(c->foff);
        free(c->raw);
        free(c->path);
        free(c);
}

/* use/use_at from the tensors' columns (a column may feed several). */
static int build_use(csv_reader_t *c, swarm_err_t *err) {
        size_t total = 0;

        c->use_at = calloc((size_t)c->n_names + 1, sizeof(*c->use_at));
        for (int t = 0; t < c->base.n_t; t++)
                total += (size_t)c->n_cols[t];
        c->use = malloc((total ? total : 1) * sizeof(*c->use));
        if (!c->use_at || !c->use)
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        /* count per column, prefix sums, then place in (t, k) order */
        for (int t = 0; t < c->base.n_t; t++)
                for (int k = 0; k < c->n_cols[t]; k++)
                        c->use_at[c->cols[t][k] + 1]++;
        for (int i = 0; i < c->n_names; i++)
                c->use_at[i + 1] += c->use_at[i];
        {
                int *fill = calloc((size_t)c->n_names + 1, sizeof(*fill));
                if (!fill)
                        return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                for (int t = 0; t < c->base.n_t; t++)
                        for (int k = 0; k < c->n_cols[t]; k++) {
                                int col = c->cols[t][k];
                                c->use[c->use_at[col] + fill[col]++] =
                                        (struct col_use){t, k};
                        }
                free(fill);
        }
        return SWARM_OK;
}

static const score_reader_ops_t csv_ops = {csv_next, csv_seek, csv_progress,
                                           csv_destroy};

int score_csv_open(const score_input_opts_t *o, score_reader_t **out,
                   swarm_err_t *err) {
        csv_reader_t *c = calloc(1, sizeof(*c));
        struct stat st;
        char reason[256];
        uint64_t first;
        got_t got;
        int r;

        *out = NULL;
        if (!c)
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        c->base.ops = &csv_ops;
        c->fd = -1;
        c->id_col = -1;
        c->delim = o->delimiter ? o->delimiter : ',';
        c->max_row = o->max_row_bytes ? o->max_row_bytes : 16u << 20;
        c->path = strdup(o->path);
        c->buf = malloc(READ_CHUNK);
        if (!c->path || !c->buf) {
                r = swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                goto fail;
        }
        c->fd = open(o->path, O_RDONLY | O_CLOEXEC);
        if (c->fd < 0 || fstat(c->fd, &st)) {
                r = swarm_err_set(err, SWARM_ERR_IO, "%s: %s", o->path,
                                  strerror(errno));
                goto fail;
        }
        c->base.size = (uint64_t)st.st_size;
        if ((r = parser_reset(c, err)) ||
            (r = parse_row(c, &got, &first, reason, sizeof(reason), err)))
                goto fail;
        if (got != GOT_ROW) {
                r = swarm_err_set(err, SWARM_ERR_PARSE, "%s: %s", o->path,
                                  got == GOT_EOF ? "empty file: a header line is "
                                                   "needed"
                                                 : reason);
                goto fail;
        }
        c->n_names = c->n_f;
        c->names = calloc((size_t)c->n_f, sizeof(*c->names));
        if (!c->names) {
                r = swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                goto fail;
        }
        for (int i = 0; i < c->n_f; i++)
                if (!(c->names[i] = strdup(field(c, i)))) {
                        r = swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                        goto fail;
                }
        if (o->id_column) {
                for (int i = 0; i < c->n_names; i++)
                        if (!strcmp(c->names[i], o->id_column))
                                c->id_col = i;
                if (c->id_col < 0) {
                        r = swarm_err_set(err, SWARM_ERR_INVALID,
                                          "%s: id column \"%s\" is not in the "
                                          "header", o->path, o->id_column);
                        goto fail;
                }
        }
        c->base.n_t = o->n_tensors;
        for (int t = 0; t < o->n_tensors; t++) {
                score_tensor_t *d = &c->base.t[t];
                if ((r = score_columns_resolve(o->tensors[t].columns,
                                               (const char *const *)c->names,
                                               c->n_names, c->id_col, &c->cols[t],
                                               &c->n_cols[t], err))) {
                        swarm_err_prefix(err, "%s: tensor %s", o->path,
                                         o->tensors[t].name);
                        goto fail;
                }
                snprintf(d->name, sizeof(d->name), "%s", o->tensors[t].name);
                d->dtype = o->tensors[t].dtype;
                d->elems = c->n_cols[t];
                d->row_bytes = (size_t)d->elems * swarm_dtype_size(d->dtype);
                d->ndim = 1;
                d->shape[0] = d->elems;
        }
        if ((r = build_use(c, err)))
                goto fail;
        c->direct = 1;
        c->base.pos.offset = file_pos(c);
        c->base.pos.record = 0;
        *out = &c->base;
        return SWARM_OK;
fail:
        csv_destroy(&c->base);
        return r;
}
