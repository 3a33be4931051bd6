/*
 * score_input.c - what the three row readers share: tensor specs, column
 * selection, number conversion and the dispatch to the format modules.
 */
#include "score_input.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int score_format_parse(const char *s) {
        if (!strcasecmp(s, "csv"))
                return SCORE_FMT_CSV;
        if (!strcasecmp(s, "avro"))
                return SCORE_FMT_AVRO;
        if (!strcasecmp(s, "npy"))
                return SCORE_FMT_NPY;
        return -1;
}

score_format_t score_format_of(const char *path) {
        const char *dot = strrchr(path, '.');
        int f;
        if (!dot || strchr(dot, '/'))
                return SCORE_FMT_AUTO;
        f = score_format_parse(dot + 1);
        return f < 0 ? SCORE_FMT_AUTO : (score_format_t)f;
}

static int dtype_parse(const char *s, swarm_dtype_t *out) {
        static const struct { const char *n; swarm_dtype_t d; } map[] = {
                {"float32", SWARM_DTYPE_FLOAT32}, {"float", SWARM_DTYPE_FLOAT32},
                {"int64", SWARM_DTYPE_INT64},     {"long", SWARM_DTYPE_INT64},
                {"int32", SWARM_DTYPE_INT32},     {"int", SWARM_DTYPE_INT32},
                {"uint8", SWARM_DTYPE_UINT8},
        };
        for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
                if (!strcasecmp(s, map[i].n)) {
                        *out = map[i].d;
                        return 0;
                }
        return -1;
}

int score_tensor_spec_parse(char *buf, score_tensor_spec_t *out,
                            swarm_err_t *err) {
        char *eq = strchr(buf, '='), *colon;

        memset(out, 0, sizeof(*out));
        out->dtype = SWARM_DTYPE_FLOAT32;
        if (eq) {
                *eq = 0;
                out->columns = eq + 1;
        }
        colon = strchr(buf, ':');
        if (colon) {
                *colon = 0;
                if (dtype_parse(colon + 1, &out->dtype))
                        return swarm_err_set(err, SWARM_ERR_INVALID,
                                             "tensor %s: dtype \"%s\" is not one "
                                             "of float32, int64, int32, uint8",
                                             buf, colon + 1);
                out->dtype_given = 1;
        }
        if (!*buf)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "a tensor spec needs a name "
                                     "(NAME[:DTYPE]=COLUMNS)");
        out->name = buf;
        return SWARM_OK;
}

static int find_col(const char *item, size_t len, const char *const *names,
                    int n) {
        if (len > 1 && item[0] == '#') {
                char tmp[32], *end;
                long v;
                if (len >= sizeof(tmp))
                        return -1;
                memcpy(tmp, item + 1, len - 1);
                tmp[len - 1] = 0;
                errno = 0;
                v = strtol(tmp, &end, 10);
                if (errno || *end || v < 1 || v > n)
                        return -1;
                return (int)v - 1;
        }
        for (int i = 0; i < n; i++)
                if (strlen(names[i]) == len && !memcmp(names[i], item, len))
                        return i;
        return -1;
}

int score_columns_resolve(const char *spec, const char *const *names, int n,
                          int id_col, int **cols, int *n_cols,
                          swarm_err_t *err) {
        int *v = NULL, nv = 0, cap = 0;
        const char *p = spec && *spec ? spec : "*";

        *cols = NULL;
        *n_cols = 0;
        while (*p) {
                const char *end = strchr(p, ','), *dots;
                size_t len = end ? (size_t)(end - p) : strlen(p);
                int a, b;

                dots = memmem(p, len, "..", 2);
                if (len == 1 && *p == '*') {
                        a = 0;
                        b = n - 1;
                } else if (dots) {
                        a = find_col(p, (size_t)(dots - p), names, n);
                        b = find_col(dots + 2, len - (size_t)(dots - p) - 2, names,
                                     n);
                        if (a < 0 || b < 0 || b < a) {
                                free(v);
                                return swarm_err_set(err, SWARM_ERR_INVALID,
                                                     "columns \"%.*s\": %s", (int)len,
                                                     p, a < 0 || b < 0
                                                                ? "no such column"
                                                                : "the range runs "
                                                                  "backwards");
                        }
                } else {
                        a = b = find_col(p, len, names, n);
                        if (a < 0) {
                                free(v);
                                return swarm_err_set(err, SWARM_ERR_INVALID,
                                                     "column \"%.*s\" is not in the "
                                                     "input", (int)len, p);
                        }
                }
                for (int c = a; c <= b; c++) {
                        if (c == id_col && len == 1 && *p == '*')
                                continue;
                        if (nv == cap) {
                                int nc = cap ? cap * 2 : 64;
                                int *t = realloc(v, (size_t)nc * sizeof(*t));
                                if (!t) {
                                        free(v);
                                        return swarm_err_set(err, SWARM_ERR_NOMEM,
                                                             "out of memory");
                                }
                                v = t;
                                cap = nc;
                        }
                        v[nv++] = c;
                }
                p += len;
                if (*p == ',')
                        p++;
        }
        if (!nv) {
                free(v);
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "columns \"%s\" select nothing", spec ? spec : "*");
        }
        *cols = v;
        *n_cols = nv;
        return SWARM_OK;
}

/* Element i of a float32 row (rows are not aligned for float stores). */
static void put_f32(uint8_t *row, int64_t i, float f) {
        memcpy(row + 4 * i, &f, 4);
}

int score_store_double(swarm_dtype_t dtype, uint8_t *row, int64_t i, double v,
                       char *reason, size_t reason_size) {
        if (dtype == SWARM_DTYPE_FLOAT32) {
                put_f32(row, i, (float)v);
                return 0;
        }
        /* Any other dtype that is not an integer one: score_store_i64 names
         * it as unsupported (0 is passed so v is never converted). */
        if (dtype != SWARM_DTYPE_INT64 && dtype != SWARM_DTYPE_INT32 &&
            dtype != SWARM_DTYPE_UINT8)
                return score_store_i64(dtype, row, i, 0, reason, reason_size);
        if (!isfinite(v) || v != floor(v) || fabs(v) > 9.007199254740992e15) {
                snprintf(reason, reason_size,
                         "element %lld: %.17g is not an integer", (long long)i,
                         v);
                return -1;
        }
        return score_store_i64(dtype, row, i, (int64_t)v, reason, reason_size);
}

int score_store_i64(swarm_dtype_t dtype, uint8_t *row, int64_t i, int64_t v,
                    char *reason, size_t reason_size) {
        switch (dtype) {
        case SWARM_DTYPE_FLOAT32:
                put_f32(row, i, (float)v);
                return 0;
        case SWARM_DTYPE_INT64:
                memcpy(row + 8 * i, &v, 8);
                return 0;
        case SWARM_DTYPE_INT32: {
                int32_t x = (int32_t)v;
                if (v < INT32_MIN || v > INT32_MAX)
                        break;
                memcpy(row + 4 * i, &x, 4);
                return 0;
        }
        case SWARM_DTYPE_UINT8:
                if (v < 0 || v > 255)
                        break;
                row[i] = (uint8_t)v;
                return 0;
        default:
                snprintf(reason, reason_size, "dtype %s is not supported as input",
                         swarm_dtype_name(dtype));
                return -1;
        }
        snprintf(reason, reason_size, "element %lld: %lld does not fit %s",
                 (long long)i, (long long)v, swarm_dtype_name(dtype));
        return -1;
}

int score_shape_parse(const char *dims, score_tensor_spec_t *spec,
                      swarm_err_t *err) {
        const char *p = dims;
        int64_t total = 1;

        spec->ndim = 0;
        spec->shape_given = 1;
        while (*p) {
                char *end;
                long long v;
                errno = 0;
                v = strtoll(p, &end, 10);
                if (end == p || errno || v < 1 || (*end && *end != ',') ||
                    spec->ndim == SWARM_MAX_DIMS - 1 ||
                    swarm_mul_i64(total, v, &total))
                        return swarm_err_set(err, SWARM_ERR_INVALID,
                                             "shape \"%s\": at most %d "
                                             "dimensions, each a number >= 1 "
                                             "(\"\" for a scalar row), with a "
                                             "product that fits 64 bits",
                                             dims, SWARM_MAX_DIMS - 1);
                spec->shape[spec->ndim++] = v;
                p = *end ? end + 1 : end;
                if (*end && !*p)
                        return swarm_err_set(err, SWARM_ERR_INVALID,
                                             "shape \"%s\": ends in a comma",
                                             dims);
        }
        return SWARM_OK;
}

/* Give the tensors their --shape, where one was given, once the reader has
 * counted each row's elements. */
static int apply_shapes(const score_input_opts_t *o, score_reader_t *r,
                        swarm_err_t *err) {
        for (int i = 0; i < o->n_tensors && i < r->n_t; i++) {
                const score_tensor_spec_t *s = &o->tensors[i];
                score_tensor_t *t = &r->t[i];
                int64_t e = swarm_shape_elems(s->shape, s->ndim);
                if (!s->shape_given)
                        continue;
                if (e != t->elems)
                        return swarm_err_set(err, SWARM_ERR_INVALID,
                                             "tensor %s: --shape has %lld "
                                             "elements, a row of the input "
                                             "%lld", t->name, (long long)e,
                                             (long long)t->elems);
                t->ndim = s->ndim;
                memcpy(t->shape, s->shape, sizeof(t->shape));
        }
        return SWARM_OK;
}

int score_reader_open(const score_input_opts_t *o, score_reader_t **out,
                      swarm_err_t *err) {
        score_format_t f = o->format ? o->format : score_format_of(o->path);
        int rc;

        *out = NULL;
        if (o->n_tensors < 1 || o->n_tensors > SWARM_MAX_INPUTS)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "between 1 and %d input tensors, not %d",
                                     SWARM_MAX_INPUTS, o->n_tensors);
        switch (f) {
        case SCORE_FMT_CSV:
                rc = score_csv_open(o, out, err);
                break;
        case SCORE_FMT_AVRO:
                rc = score_avro_open(o, out, err);
                break;
        case SCORE_FMT_NPY:
                rc = score_npy_open(o, out, err);
                break;
        default:
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "%s: cannot tell the format from the name; "
                                     "give --format csv|avro|npy", o->path);
        }
        if (!rc && (rc = apply_shapes(o, *out, err))) {
                score_reader_destroy(*out);
                *out = NULL;
        }
        return rc;
}

void score_reader_destroy(score_reader_t *r) {
        if (r)
                r->ops->destroy(r);
}

const score_tensor_t *score_reader_tensors(const score_reader_t *r, int *n) {
        *n = r->n_t;
        return r->t;
}

int score_reader_next(score_reader_t *r, score_row_t *row, swarm_err_t *err) {
        row->kind = SCORE_ROW_EOF;
        row->id[0] = 0;
        row->reason[0] = 0;
        row->raw = NULL;
        row->raw_len = 0;
        row->line = 0;
        return r->ops->next(r, row, err);
}

int score_reader_next_raw(score_reader_t *r, uint8_t *dst, uint64_t max_rows,
                          uint64_t *got, swarm_err_t *err) {
        *got = 0;
        return r->ops->next_raw ? r->ops->next_raw(r, dst, max_rows, got, err)
                                : SWARM_OK;
}

void score_reader_tell(const score_reader_t *r, score_pos_t *pos) {
        *pos = r->pos;
}

int score_reader_seek(score_reader_t *r, const score_pos_t *pos,
                      swarm_err_t *err) {
        return r->ops->seek(r, pos, err);
}

void score_reader_progress(const score_reader_t *r, uint64_t *done,
                           uint64_t *total) {
        r->ops->progress(r, done);
        *total = r->size;
}
