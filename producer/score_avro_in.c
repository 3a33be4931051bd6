/*
 * score_avro_in.c - rows of an Avro object container file, read with Avro
 * C's file reader one record at a time (its memory is one block).
 *
 * A tensor's columns are record fields (by name, in schema order for
 * ranges): a numeric field gives one element, a numeric array or a bytes /
 * fixed field (little-endian elements of the tensor's dtype) gives many.
 * The element count of a tensor comes from the first record; a later record
 * with another count is rejected.  `["null", T]` unions are read as T, and a
 * null rejects the row.
 *
 * Avro C's file reader decodes a record into the value it is given through
 * that value's interface (avro_value_iface_t: append, set_float, ...).
 * Given a generic value, an array<float> field is a generic array of
 * generic floats: an allocation-managed element, four interface calls and
 * the array's bookkeeping per float, then a second pass of two calls per
 * float to copy them out; that was 75-80% of the reader's samples (27,000
 * rows/s of 784 floats alone).  So the reader hands the file reader its own
 * record value: an array<float> field of a float32 tensor (the common
 * case) is a sink whose elements land in one float buffer as the reader
 * decodes them; every other field is the generic record's, read as before.
 * Avro C still reads the container (header, blocks, codecs, sync markers)
 * and decodes every datum, with its own bounds checks.
 */
#include "score_input.h"

#include <avro.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The elements of an array<float> field of the current record. */
typedef struct float_sink {
        avro_schema_t schema;   /* the array's, borrowed */
        avro_value_iface_t *elem_if;
        float *buf;
        size_t n, cap;          /* n may pass cap: counted, not stored */
} float_sink_t;

/* A sink stores up to this many elements: a tensor has at most 2^28 a row
 * (a longer array is counted, and rejected for its count). */
#define SINK_MAX ((size_t)1 << 28)

typedef struct avro_reader {
        score_reader_t base;
        FILE *fp;
        char *path;
        avro_file_reader_t fr;
        avro_schema_t schema;
        avro_value_iface_t *iface;
        avro_value_t rec;       /* the generic record: fields not sunk */
        avro_value_t view;      /* what the file reader fills: rec_if */
        avro_value_iface_t rec_if, arr_if, elem_if;
        float_sink_t *sink;     /* n_names, sink[i].schema NULL: not sunk */
        int have_rec, pending, at_eof;
        int id_field;
        int *cols[SWARM_MAX_INPUTS];
        int n_cols[SWARM_MAX_INPUTS];
        char **names;
        int n_names;
} avro_in_t;

/* ---- the record value the file reader fills (see the top) ---- */

static avro_value_iface_t *if_incref(avro_value_iface_t *i) {
        return i;
}

static void if_decref(avro_value_iface_t *i) {
        (void)i;
}

static void v_incref(avro_value_t *v) {
        (void)v;
}

static void v_decref(avro_value_t *v) {
        (void)v;
}

static int rec_reset(const avro_value_iface_t *i, void *self) {
        avro_in_t *a = self;
        for (int f = 0; f < a->n_names; f++)
                a->sink[f].n = 0;
        return avro_value_reset(&a->rec);
}

static avro_type_t rec_type(const avro_value_iface_t *i, const void *self) {
        return AVRO_RECORD;
}

static avro_schema_t rec_schema(const avro_value_iface_t *i, const void *self) {
        return ((const avro_in_t *)self)->schema;
}

static int rec_size(const avro_value_iface_t *i, const void *self,
                    size_t *size) {
        *size = (size_t)((const avro_in_t *)self)->n_names;
        return 0;
}

static int rec_field(const avro_value_iface_t *i, const void *self,
                     size_t index, avro_value_t *child, const char **name) {
        avro_in_t *a = (avro_in_t *)self;
        if (index >= (size_t)a->n_names)
                return EINVAL;
        if (!a->sink[index].schema)
                return avro_value_get_by_index(&a->rec, index, child, name);
        child->iface = &a->arr_if;
        child->self = &a->sink[index];
        if (name)
                *name = a->names[index];
        return 0;
}

static int arr_reset(const avro_value_iface_t *i, void *self) {
        ((float_sink_t *)self)->n = 0;
        return 0;
}

static avro_type_t arr_type(const avro_value_iface_t *i, const void *self) {
        return AVRO_ARRAY;
}

static avro_schema_t arr_schema(const avro_value_iface_t *i, const void *self) {
        return ((const float_sink_t *)self)->schema;
}

static int arr_size(const avro_value_iface_t *i, const void *self,
                    size_t *size) {
        *size = ((const float_sink_t *)self)->n;
        return 0;
}

/* The element's value goes to buf[n - 1] (set_float below).  The buffer
 * grows to SINK_MAX; Avro C appends an element only before decoding it
 * from the block in memory, so a count that the block cannot back fails
 * there, after at most one element more than the block holds. */
static int arr_append(const avro_value_iface_t *i, void *self,
                      avro_value_t *child, size_t *new_index) {
        float_sink_t *s = self;

        if (s->n == s->cap && s->cap < SINK_MAX) {
                size_t nc = s->cap ? s->cap * 2 : 1024;
                float *t;
                if (nc > SINK_MAX)
                        nc = SINK_MAX;
                if (!(t = realloc(s->buf, nc * sizeof(*t)))) {
                        avro_set_error("out of memory");
                        return ENOMEM;
                }
                s->buf = t;
                s->cap = nc;
        }
        child->iface = s->elem_if;
        child->self = s;
        if (new_index)
                *new_index = s->n;
        s->n++;
        return 0;
}

static avro_type_t elem_type(const avro_value_iface_t *i, const void *self) {
        return AVRO_FLOAT;
}

static int elem_set(const avro_value_iface_t *i, void *self, float v) {
        float_sink_t *s = self;
        if (s->n - 1 < s->cap)
                s->buf[s->n - 1] = v;
        return 0;
}

static void view_init(avro_in_t *a) {
        avro_value_iface_t *r = &a->rec_if, *y = &a->arr_if, *e = &a->elem_if;

        memset(r, 0, sizeof(*r));
        r->incref_iface = if_incref;
        r->decref_iface = if_decref;
        r->incref = v_incref;
        r->decref = v_decref;
        r->reset = rec_reset;
        r->get_type = rec_type;
        r->get_schema = rec_schema;
        r->get_size = rec_size;
        r->get_by_index = rec_field;
        memset(y, 0, sizeof(*y));
        y->incref_iface = if_incref;
        y->decref_iface = if_decref;
        y->incref = v_incref;
        y->decref = v_decref;
        y->reset = arr_reset;
        y->get_type = arr_type;
        y->get_schema = arr_schema;
        y->get_size = arr_size;
        y->append = arr_append;
        memset(e, 0, sizeof(*e));
        e->incref_iface = if_incref;
        e->decref_iface = if_decref;
        e->incref = v_incref;
        e->decref = v_decref;
        e->get_type = elem_type;
        e->set_float = elem_set;
        a->view.iface = r;
        a->view.self = a;
}

/* The value of a field with any ["null", T] union unwrapped; 1 when null. */
static int unwrap(avro_value_t *v, avro_value_t *out) {
        *out = *v;
        while (avro_value_get_type(out) == AVRO_UNION) {
                avro_value_t b;
                if (avro_value_get_current_branch(out, &b))
                        return 1;
                *out = b;
        }
        return avro_value_get_type(out) == AVRO_NULL;
}

/* A numeric field's value: one row per Avro type, read into an int64 (ints
 * and booleans, *is_int set) or a double.  -1 when it is not a number. */
static int num_of(avro_value_t *v, double *d, int64_t *i, int *is_int) {
        int32_t i32 = 0;
        float f = 0;
        int b = 0, rc;

        *is_int = 1;
        switch (avro_value_get_type(v)) {
        case AVRO_INT32: rc = avro_value_get_int(v, &i32); *i = i32; break;
        case AVRO_INT64: rc = avro_value_get_long(v, i); break;
        case AVRO_BOOLEAN: rc = avro_value_get_boolean(v, &b); *i = b != 0; break;
        case AVRO_FLOAT: rc = avro_value_get_float(v, &f); *d = f; *is_int = 0; break;
        case AVRO_DOUBLE: rc = avro_value_get_double(v, d); *is_int = 0; break;
        default: return -1;
        }
        return rc ? -1 : 0;
}

/* Store `v` as element *k of dst and step *k; a reason naming field
 * `name` when it is not a number or does not fit the dtype. */
static int store(swarm_dtype_t dt, uint8_t *dst, int64_t *k, avro_value_t *v,
                 const char *name, char *reason, size_t rsize) {
        double d = 0;
        int64_t i = 0;
        int is_int, r;
        if (num_of(v, &d, &i, &is_int)) {
                snprintf(reason, rsize, "element %lld is not a number (field %s)",
                         (long long)*k, name);
                return -1;
        }
        r = is_int ? score_store_i64(dt, dst, *k, i, reason, rsize)
                   : score_store_double(dt, dst, *k, d, reason, rsize);
        if (r) {
                size_t l = strlen(reason);
                snprintf(reason + l, rsize - l, " (field %s)", name);
                return -1;
        }
        (*k)++;
        return 0;
}

/* Elements of one field: -1 when the field cannot feed a tensor. */
static int64_t field_elems(avro_value_t *f, swarm_dtype_t dt) {
        avro_value_t v;
        size_t n;
        const void *p;

        if (unwrap(f, &v))
                return -2; /* null */
        switch (avro_value_get_type(&v)) {
        case AVRO_INT32:
        case AVRO_INT64:
        case AVRO_FLOAT:
        case AVRO_DOUBLE:
        case AVRO_BOOLEAN:
                return 1;
        case AVRO_ARRAY:
                if (avro_value_get_size(&v, &n))
                        return -1;
                return (int64_t)n;
        case AVRO_BYTES:
        case AVRO_FIXED:
                if (avro_value_get_type(&v) == AVRO_BYTES
                            ? avro_value_get_bytes(&v, &p, &n)
                            : avro_value_get_fixed(&v, &p, &n))
                        return -1;
                return n % swarm_dtype_size(dt) ? -1
                                                : (int64_t)(n / swarm_dtype_size(dt));
        default:
                return -1;
        }
}

/* field_elems() of column c of tensor t in the current record. */
static int64_t col_elems(avro_in_t *a, int t, int c, swarm_dtype_t dt) {
        avro_value_t f;

        if (a->sink[a->cols[t][c]].schema)
                return (int64_t)a->sink[a->cols[t][c]].n;

        if (avro_value_get_by_index(&a->rec, (size_t)a->cols[t][c], &f, NULL))
                return -1;
        return field_elems(&f, dt);
}

/* Copy one field's elements to dst at element *k. */
static int copy_field(avro_value_t *f, swarm_dtype_t dt, uint8_t *dst,
                      int64_t *k, const char *name, char *reason, size_t rsize) {
        avro_value_t v;
        size_t n;
        const void *p;

        unwrap(f, &v);
        switch (avro_value_get_type(&v)) {
        case AVRO_ARRAY:
                if (avro_value_get_size(&v, &n))
                        break;
                if (n && dt == SWARM_DTYPE_FLOAT32) {
                        /* the common case, array<float> into float32: no
                         * per-element type dispatch (most of the reader's
                         * own time otherwise) */
                        avro_value_t e;
                        if (!avro_value_get_by_index(&v, 0, &e, NULL) &&
                            avro_value_get_type(&e) == AVRO_FLOAT) {
                                float *out = (float *)(void *)(dst + (size_t)*k * 4);
                                for (size_t j = 0; j < n; j++) {
                                        float x;
                                        if (avro_value_get_by_index(&v, j, &e, NULL) ||
                                            avro_value_get_float(&e, &x))
                                                goto generic;
                                        memcpy(out + j, &x, 4);
                                }
                                *k += (int64_t)n;
                                return 0;
                        }
                }
generic:
                for (size_t j = 0; j < n; j++) {
                        avro_value_t e, u;
                        if (avro_value_get_by_index(&v, j, &e, NULL))
                                break;
                        if (unwrap(&e, &u)) {
                                snprintf(reason, rsize, "field %s: element %zu is "
                                         "null", name, j);
                                return -1;
                        }
                        if (store(dt, dst, k, &u, name, reason, rsize))
                                return -1;
                }
                return 0;
        case AVRO_BYTES:
        case AVRO_FIXED:
                if (avro_value_get_type(&v) == AVRO_BYTES
                            ? avro_value_get_bytes(&v, &p, &n)
                            : avro_value_get_fixed(&v, &p, &n))
                        break;
                memcpy(dst + (size_t)*k * swarm_dtype_size(dt), p, n);
                *k += (int64_t)(n / swarm_dtype_size(dt));
                return 0;
        default:
                return store(dt, dst, k, &v, name, reason, rsize);
        }
        snprintf(reason, rsize, "field %s cannot be read", name);
        return -1;
}

static int read_rec(avro_in_t *a, swarm_err_t *err) {
        int rc;
        avro_value_reset(&a->view);
        rc = avro_file_reader_read_value(a->fr, &a->view);
        if (rc == EOF) {
                a->at_eof = 1;
                return SWARM_OK;
        }
        if (rc)
                return swarm_err_set(err, SWARM_ERR_PARSE, "%s: record %llu: %s",
                                     a->path,
                                     (unsigned long long)a->base.pos.record,
                                     avro_strerror());
        return SWARM_OK;
}

static void id_text(avro_value_t *f, char *out, size_t size) {
        avro_value_t v;
        const char *s;
        size_t n;
        int64_t i64;

        out[0] = 0;
        if (unwrap(f, &v))
                return;
        switch (avro_value_get_type(&v)) {
        case AVRO_STRING:
                if (!avro_value_get_string(&v, &s, &n))
                        snprintf(out, size, "%.*s", (int)(n ? n - 1 : 0), s);
                break;
        case AVRO_INT32:
        case AVRO_INT64: {
                double d;
                int is_int;
                if (!num_of(&v, &d, &i64, &is_int))
                        snprintf(out, size, "%lld", (long long)i64);
                break;
        }
        default:
                break;
        }
}

static int avro_next(score_reader_t *base, score_row_t *row, swarm_err_t *err) {
        avro_in_t *a = (avro_in_t *)base;
        int r;

        if (!a->pending && !a->at_eof && (r = read_rec(a, err)))
                return r;
        a->pending = 0;
        if (a->at_eof) {
                row->kind = SCORE_ROW_EOF;
                return SWARM_OK;
        }
        row->record = base->pos.record++;
        row->kind = SCORE_ROW_REJECT;
        if (a->id_field >= 0) {
                avro_value_t f;
                if (!avro_value_get_by_index(&a->rec, (size_t)a->id_field, &f, NULL))
                        id_text(&f, row->id, sizeof(row->id));
        }
        for (int t = 0; t < base->n_t; t++) {
                const score_tensor_t *d = &base->t[t];
                int64_t k = 0, sum = 0;
                for (int c = 0; c < a->n_cols[t]; c++) {
                        int64_t n = col_elems(a, t, c, d->dtype);
                        if (n < 0) {
                                snprintf(row->reason, sizeof(row->reason),
                                         "field %s is %s", a->names[a->cols[t][c]],
                                         n == -2 ? "null" : "not numeric");
                                return SWARM_OK;
                        }
                        sum += n;
                }
                if (sum != d->elems) {
                        snprintf(row->reason, sizeof(row->reason),
                                 "tensor %s: %lld elements, the first record had "
                                 "%lld", d->name, (long long)sum,
                                 (long long)d->elems);
                        return SWARM_OK;
                }
                for (int c = 0; c < a->n_cols[t]; c++) {
                        const float_sink_t *sk = &a->sink[a->cols[t][c]];
                        avro_value_t f;
                        if (sk->schema) {
                                /* n <= the tensor's elements <= SINK_MAX: all
                                 * stored */
                                memcpy(row->dst[t] + (size_t)k * 4, sk->buf,
                                       sk->n * 4);
                                k += (int64_t)sk->n;
                                continue;
                        }
                        avro_value_get_by_index(&a->rec, (size_t)a->cols[t][c], &f,
                                                NULL);
                        if (copy_field(&f, d->dtype, row->dst[t], &k,
                                       a->names[a->cols[t][c]], row->reason,
                                       sizeof(row->reason)))
                                return SWARM_OK;
                }
        }
        row->kind = SCORE_ROW_OK;
        return SWARM_OK;
}

static int avro_seek(score_reader_t *base, const score_pos_t *pos,
                     swarm_err_t *err) {
        avro_in_t *a = (avro_in_t *)base;
        int r;
        if (base->pos.record != 0)
                return swarm_err_set(err, SWARM_ERR_STATE,
                                     "an Avro input seeks only from its start");
        /* Avro C cannot seek to a record: skip the ones before it */
        while (base->pos.record < pos->record) {
                if (!a->pending && (r = read_rec(a, err)))
                        return r;
                a->pending = 0;
                if (a->at_eof)
                        return swarm_err_set(err, SWARM_ERR_INVALID,
                                             "%s: the checkpoint is at record %llu "
                                             "but the file has %llu", a->path,
                                             (unsigned long long)pos->record,
                                             (unsigned long long)base->pos.record);
                base->pos.record++;
        }
        return SWARM_OK;
}

static void avro_progress(const score_reader_t *base, uint64_t *done) {
        const avro_in_t *a = (const avro_in_t *)base;
        long off = a->fp ? ftell(a->fp) : 0;
        *done = off > 0 ? (uint64_t)off : 0;
}

static void avro_destroy(score_reader_t *base) {
        avro_in_t *a = (avro_in_t *)base;
        if (a->have_rec)
                avro_value_decref(&a->rec);
        if (a->iface)
                avro_value_iface_decref(a->iface);
        if (a->schema)
                avro_schema_decref(a->schema);
        if (a->fr)
                avro_file_reader_close(a->fr); /* closes fp */
        else if (a->fp)
                fclose(a->fp);
        for (int t = 0; t < SWARM_MAX_INPUTS; t++)
                free(a->cols[t]);
        for (int f = 0; a->sink && f < a->n_names; f++)
                free(a->sink[f].buf);
        free(a->sink);
        free(a->names);
        free(a->path);
        free(a);
}

static const score_reader_ops_t avro_ops = {avro_next, avro_seek, avro_progress,
                                            avro_destroy};

int score_avro_open(const score_input_opts_t *o, score_reader_t **out,
                    swarm_err_t *err) {
        avro_in_t *a = calloc(1, sizeof(*a));
        struct stat st;
        int r;

        *out = NULL;
        if (!a)
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        a->base.ops = &avro_ops;
        a->id_field = -1;
        a->path = strdup(o->path);
        if (!a->path) {
                r = swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                goto fail;
        }
        a->fp = fopen(o->path, "rbe");
        if (!a->fp || fstat(fileno(a->fp), &st)) {
                r = swarm_err_set(err, SWARM_ERR_IO, "%s: %s", o->path,
                                  strerror(errno));
                goto fail;
        }
        a->base.size = (uint64_t)st.st_size;
        if (avro_file_reader_fp(a->fp, o->path, 1, &a->fr)) {
                r = swarm_err_set(err, SWARM_ERR_PARSE,
                                  "%s: not an Avro object container file: %s",
                                  o->path, avro_strerror());
                goto fail;
        }
        a->schema = avro_file_reader_get_writer_schema(a->fr);
        if (!a->schema || !is_avro_record(a->schema)) {
                r = swarm_err_set(err, SWARM_ERR_INVALID,
                                  "%s: the file's schema is not a record", o->path);
                goto fail;
        }
        a->n_names = (int)avro_schema_record_size(a->schema);
        a->names = calloc((size_t)a->n_names + 1, sizeof(*a->names));
        if (!a->names) {
                r = swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                goto fail;
        }
        for (int i = 0; i < a->n_names; i++)
                a->names[i] = (char *)avro_schema_record_field_name(a->schema, i);
        if (o->id_column) {
                a->id_field = avro_schema_record_field_get_index(a->schema,
                                                                 o->id_column);
                if (a->id_field < 0) {
                        r = swarm_err_set(err, SWARM_ERR_INVALID,
                                          "%s: id field \"%s\" is not in the "
                                          "schema", o->path, o->id_column);
                        goto fail;
                }
        }
        a->iface = avro_generic_class_from_schema(a->schema);
        if (!a->iface || avro_generic_value_new(a->iface, &a->rec)) {
                r = swarm_err_set(err, SWARM_ERR_NOMEM, "%s: %s", o->path,
                                  avro_strerror());
                goto fail;
        }
        a->have_rec = 1;
        a->sink = calloc((size_t)a->n_names + 1, sizeof(*a->sink));
        if (!a->sink) {
                r = swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                goto fail;
        }
        view_init(a);
        a->base.n_t = o->n_tensors;
        for (int t = 0; t < o->n_tensors; t++) {
                score_tensor_t *d = &a->base.t[t];
                if ((r = score_columns_resolve(o->tensors[t].columns,
                                               (const char *const *)a->names,
                                               a->n_names, a->id_field, &a->cols[t],
                                               &a->n_cols[t], err))) {
                        swarm_err_prefix(err, "%s: tensor %s", o->path,
                                         o->tensors[t].name);
                        goto fail;
                }
                snprintf(d->name, sizeof(d->name), "%s", o->tensors[t].name);
                d->dtype = o->tensors[t].dtype;
        }
        /* sinks: array<float> fields that only float32 tensors read */
        for (int f = 0; f < a->n_names; f++) {
                avro_schema_t fs = avro_schema_record_field_get_by_index(a->schema, f);
                int used = 0, other = f == a->id_field;
                for (int t = 0; t < o->n_tensors; t++)
                        for (int c = 0; c < a->n_cols[t]; c++)
                                if (a->cols[t][c] == f) {
                                        used = 1;
                                        other |= a->base.t[t].dtype !=
                                                 SWARM_DTYPE_FLOAT32;
                                }
                if (used && !other && fs && is_avro_array(fs) &&
                    is_avro_float(avro_schema_array_items(fs))) {
                        a->sink[f].schema = fs;
                        a->sink[f].elem_if = &a->elem_if;
                }
        }
        if ((r = read_rec(a, err)))
                goto fail;
        a->pending = !a->at_eof;
        for (int t = 0; t < o->n_tensors; t++) {
                score_tensor_t *d = &a->base.t[t];
                int64_t sum = 0;
                for (int c = 0; c < a->n_cols[t] && a->pending; c++) {
                        int64_t n = col_elems(a, t, c, d->dtype);
                        if (n < 0) {
                                r = swarm_err_set(err, SWARM_ERR_INVALID,
                                                  "%s: field %s of the first "
                                                  "record cannot feed tensor %s "
                                                  "(%s)", o->path,
                                                  a->names[a->cols[t][c]], d->name,
                                                  n == -2 ? "null"
                                                          : "not numeric");
                                goto fail;
                        }
                        sum += n;
                }
                if (a->pending && (sum < 1 || sum > (1 << 28))) {
                        r = swarm_err_set(err, SWARM_ERR_INVALID,
                                          "%s: tensor %s would have %lld elements "
                                          "per row", o->path, d->name,
                                          (long long)sum);
                        goto fail;
                }
                d->elems = sum ? sum : 1;
                d->row_bytes = (size_t)d->elems * swarm_dtype_size(d->dtype);
                d->ndim = 1;
                d->shape[0] = d->elems;
        }
        *out = &a->base;
        return SWARM_OK;
fail:
        avro_destroy(&a->base);
        return r;
}
