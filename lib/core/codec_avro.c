/*
 * codec_avro.c - the slow path: evolved writer schemas resolved into our
 * reader schemas by Avro C, behind a schema-driven validator.
 *
 * Avro C 1.11.1 mallocs whatever length a message declares and leaks it on
 * the failure path (measured here: fifty messages that each claimed 256 MiB
 * grew the process by 12.8 GiB of virtual memory; no release has the
 * upstream fix), so no byte reaches
 * avro_value_read() before swarm_codec__validate() has walked the whole datum
 * against the writer schema, without allocating.  The decoded values are then
 * copied into one scratch block owned by the request, because the strings
 * Avro C returns live only as long as its value.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_int.h"
#include "codec_tensor_check.h"

/* Deeper data is refused: it bounds the walker's recursion (recursive
 * schemas could otherwise nest as deep as the message is long). */
#define WALK_MAX_DEPTH 64

/* ------------------------------------------------------------------ */
/* Validating walk                                                     */

struct frame {
        const char *name;       /* record field; NULL for an item index */
        int64_t idx;
};

struct walk {
        const uint8_t *p;
        const uint8_t *end;
        int depth;
        struct frame fr[WALK_MAX_DEPTH];
        swarm_err_t *err;
};

/* Set err to "<path>: <message>"; the path is formatted only here. */
static int werr(struct walk *w, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static int werr(struct walk *w, int code, const char *fmt, ...) {
        char path[256], msg[SWARM_ERR_MSG_SIZE];
        size_t n = 0;
        va_list ap;

        path[0] = '\0';
        for (int i = 0; i < w->depth && n < sizeof(path); i++) {
                if (w->fr[i].name)
                        n += (size_t)snprintf(path + n, sizeof(path) - n,
                                              "%s%s", n ? "." : "",
                                              w->fr[i].name);
                else
                        n += (size_t)snprintf(path + n, sizeof(path) - n,
                                              "[%lld]",
                                              (long long)w->fr[i].idx);
        }
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        return swarm_err_set(w->err, code, "%s: %s", n ? path : "(record)",
                             msg);
}

static size_t wleft(const struct walk *w) {
        return (size_t)(w->end - w->p);
}

static int wlong(struct walk *w, int64_t *v) {
        switch (codec_varint(&w->p, w->end, v)) {
        case 0:
                return SWARM_OK;
        case 1:
                return werr(w, SWARM_ERR_TRUNCATED, "varint runs past the end");
        default:
                return werr(w, SWARM_ERR_PARSE,
                            "varint longer than 10 bytes or past 64 bits");
        }
}

static int wint(struct walk *w, int64_t *v) {
        int rc = wlong(w, v);

        if (!rc && (*v < INT32_MIN || *v > INT32_MAX))
                return werr(w, SWARM_ERR_PARSE, "%lld out of range for int",
                            (long long)*v);
        return rc;
}

static int wskip(struct walk *w, int64_t n, const char *what) {
        if (n < 0)
                return werr(w, SWARM_ERR_PARSE, "negative %s %lld", what,
                            (long long)n);
        if ((uint64_t)n > wleft(w))
                return werr(w, SWARM_ERR_TRUNCATED,
                            "declared %s %lld exceeds the %zu bytes remaining",
                            what, (long long)n, wleft(w));
        w->p += n;
        return SWARM_OK;
}

/* A lower bound on the encoded size of a datum of `s`: block counts are
 * checked against it.  Links (recursion) count as 0 to stay a lower bound. */
static size_t min_size(avro_schema_t s, int depth) {
        size_t n = 0;

        if (depth > 8)
                return 0;
        switch (avro_typeof(s)) {
        case AVRO_NULL: return 0;
        case AVRO_FLOAT: return 4;
        case AVRO_DOUBLE: return 8;
        case AVRO_FIXED: return (size_t)avro_schema_fixed_size(s);
        case AVRO_RECORD:
                for (size_t i = 0; i < avro_schema_record_size(s); i++)
                        n += min_size(avro_schema_record_field_get_by_index(
                                              s, (int)i), depth + 1);
                return n;
        case AVRO_LINK: return 0;
        default: return 1;      /* any varint, length, index or block end */
        }
}

static int walk(struct walk *w, avro_schema_t s);

/* Arrays and maps: blocks until a zero count; negative counts carry a byte
 * size that must match the items exactly. */
static int walk_blocks(struct walk *w, avro_schema_t items, int is_map) {
        /* Items that encode to nothing (null, empty records) still cost
         * Avro C an allocation each, so we count them as one byte: such an
         * array may not claim more items than bytes remain. */
        size_t min = min_size(items, 0) + (is_map ? 1 : 0);
        int64_t count, size, i = 0;
        const uint8_t *bend;
        size_t room;
        int rc;

        if (min == 0)
                min = 1;
        if (w->depth >= WALK_MAX_DEPTH)
                return werr(w, SWARM_ERR_PARSE, "nested deeper than %d",
                            WALK_MAX_DEPTH);
        for (;;) {
                if ((rc = wlong(w, &count)))
                        return rc;
                if (count == 0)
                        return SWARM_OK;
                bend = NULL;
                room = wleft(w);
                if (count < 0) {
                        if (count == INT64_MIN)
                                return werr(w, SWARM_ERR_PARSE,
                                            "block count out of range");
                        count = -count;
                        if ((rc = wlong(w, &size)))
                                return rc;
                        if (size < 0 || (uint64_t)size > wleft(w))
                                return werr(w, size < 0 ? SWARM_ERR_PARSE
                                                        : SWARM_ERR_TRUNCATED,
                                            "block size %lld, %zu bytes "
                                            "remaining", (long long)size,
                                            wleft(w));
                        room = (size_t)size;
                        bend = w->p + size;
                }
                if ((uint64_t)count > room / min)
                        return werr(w, SWARM_ERR_TRUNCATED,
                                    "%lld items declared but only %zu bytes "
                                    "remain", (long long)count, room);
                for (int64_t k = 0; k < count; k++, i++) {
                        int64_t klen;
                        w->fr[w->depth].name = NULL;
                        w->fr[w->depth].idx = i;
                        w->depth++;
                        rc = is_map ? wlong(w, &klen) : 0;
                        if (!rc && is_map)
                                rc = wskip(w, klen, "key length");
                        if (!rc)
                                rc = walk(w, items);
                        w->depth--;
                        if (rc)
                                return rc;
                }
                if (bend && w->p != bend)
                        return werr(w, SWARM_ERR_PARSE,
                                    "block byte size disagrees with its "
                                    "items");
        }
}

static int walk(struct walk *w, avro_schema_t s) {
        int64_t v;
        int rc;

        switch (avro_typeof(s)) {
        case AVRO_NULL:
                return SWARM_OK;
        case AVRO_BOOLEAN:
                if (!wleft(w))
                        return werr(w, SWARM_ERR_TRUNCATED,
                                    "boolean past the end");
                if (*w->p > 1)
                        return werr(w, SWARM_ERR_PARSE, "boolean byte %u",
                                    *w->p);
                w->p++;
                return SWARM_OK;
        case AVRO_INT32:
                return wint(w, &v);
        case AVRO_INT64:
                return wlong(w, &v);
        case AVRO_FLOAT:
                return wskip(w, 4, "float size");
        case AVRO_DOUBLE:
                return wskip(w, 8, "double size");
        case AVRO_STRING:
        case AVRO_BYTES:
                if ((rc = wlong(w, &v)))
                        return rc;
                return wskip(w, v, "length");
        case AVRO_FIXED:
                return wskip(w, avro_schema_fixed_size(s), "fixed size");
        case AVRO_ENUM:
                if ((rc = wint(w, &v)))
                        return rc;
                if (v < 0 || v >= avro_schema_enum_number_of_symbols(s))
                        return werr(w, SWARM_ERR_PARSE,
                                    "enum index %lld out of range [0,%d]",
                                    (long long)v,
                                    avro_schema_enum_number_of_symbols(s) -
                                            1);
                return SWARM_OK;
        case AVRO_UNION:
                if ((rc = wint(w, &v)))
                        return rc;
                if (v < 0 || (uint64_t)v >= avro_schema_union_size(s))
                        return werr(w, SWARM_ERR_PARSE,
                                    "union index %lld out of range [0,%zu]",
                                    (long long)v,
                                    avro_schema_union_size(s) - 1);
                return walk(w, avro_schema_union_branch(s, (int)v));
        case AVRO_RECORD:
                if (w->depth >= WALK_MAX_DEPTH)
                        return werr(w, SWARM_ERR_PARSE,
                                    "nested deeper than %d", WALK_MAX_DEPTH);
                for (size_t i = 0; i < avro_schema_record_size(s); i++) {
                        w->fr[w->depth].name =
                                avro_schema_record_field_name(s, (int)i);
                        w->depth++;
                        rc = walk(w, avro_schema_record_field_get_by_index(
                                             s, (int)i));
                        w->depth--;
                        if (rc)
                                return rc;
                }
                return SWARM_OK;
        case AVRO_ARRAY:
                return walk_blocks(w, avro_schema_array_items(s), 0);
        case AVRO_MAP:
                return walk_blocks(w, avro_schema_map_values(s), 1);
        case AVRO_LINK:
                return walk(w, avro_schema_link_target(s));
        default:
                return werr(w, SWARM_ERR_UNSUPPORTED, "schema type %s",
                            avro_schema_type_name(s));
        }
}

int swarm_codec__validate(avro_schema_t schema, const uint8_t *p, size_t len,
                          swarm_err_t *err) {
        struct walk w;
        int rc;

        w.p = p;
        w.end = p + len;
        w.depth = 0;
        w.err = err;
        if ((rc = walk(&w, schema)))
                return rc;
        if (w.p != w.end)
                return swarm_err_set(err, SWARM_ERR_PARSE,
                                     "%zu trailing bytes after the record",
                                     wleft(&w));
        return SWARM_OK;
}

/* ------------------------------------------------------------------ */
/* Writer registration                                                 */

void swarm_codec__writer_fini(struct codec_writer *w) {
        if (w->resolver)
                avro_value_iface_decref(w->resolver);
        if (w->reader_class)
                avro_value_iface_decref(w->reader_class);
        if (w->reader)
                avro_schema_decref(w->reader);
        w->reader = NULL;
        w->reader_class = NULL;
        if (w->schema)
                avro_schema_decref(w->schema);
        w->resolver = NULL;
        w->schema = NULL;
}

/* Optional fields of our schemas: their defaults (null, {}) are what the
 * mapping below produces when the field is absent. */
static int has_default(const char *field) {
        static const char *const opt[] = {"version", "reply_topic",
                                          "deadline_ms", "metadata", "error",
                                          NULL};
        for (int i = 0; opt[i]; i++)
                if (!strcmp(field, opt[i]))
                        return 1;
        return 0;
}

/* Avro C 1.11.1 cannot fill reader fields the writer lacks from their
 * defaults (avro_resolved_writer_new fails, and crashed on the failure path
 * here), so resolve into our reader schema restricted to the writer's
 * fields; the mapping treats the rest as their defaults. */
static int project_reader(avro_schema_t reader, avro_schema_t writer,
                          avro_schema_t *out, int32_t id, swarm_err_t *err) {
        avro_schema_t p;
        size_t n = avro_schema_record_size(reader);

        *out = NULL;
        p = avro_schema_record(avro_schema_name(reader),
                               avro_schema_namespace(reader));
        if (!p)
                return swarm_err_set(err, SWARM_ERR_NOMEM, "schema id %d: %s",
                                     id, avro_strerror());
        for (size_t i = 0; i < n; i++) {
                const char *f = avro_schema_record_field_name(reader, (int)i);
                if (avro_schema_record_field_get_index(writer, f) < 0) {
                        if (has_default(f))
                                continue;
                        avro_schema_decref(p);
                        return swarm_err_set(err, SWARM_ERR_INVALID,
                                             "schema id %d: writer lacks "
                                             "field '%s', which has no "
                                             "default", id, f);
                }
                if (avro_schema_record_field_append(
                            p, f, avro_schema_record_field_get_by_index(
                                          reader, (int)i))) {
                        avro_schema_decref(p);
                        return swarm_err_set(err, SWARM_ERR_NOMEM,
                                             "schema id %d: %s", id,
                                             avro_strerror());
                }
        }
        *out = p;
        return SWARM_OK;
}

int swarm_codec__writer_init(const swarm_codec_t *c, struct codec_writer *w,
                             int32_t id, const char *json, swarm_err_t *err) {
        avro_schema_t reader;
        const char *name;
        int rc = SWARM_OK;

        memset(w, 0, sizeof(*w));
        w->id = id;
        if (!json || avro_schema_from_json_length(json, strlen(json),
                                                  &w->schema)) {
                rc = swarm_err_set(err, SWARM_ERR_PARSE,
                                   "schema id %d: %s", id,
                                   json ? avro_strerror() : "no JSON");
                w->schema = NULL;
                goto out;
        }
        /* The record name says which of our types it evolves. */
        name = is_avro_record(w->schema) ? avro_schema_name(w->schema) : "";
        if (!strcmp(name, "InferenceRequest")) {
                w->kind = CODEC_REQUEST;
                reader = c->req_schema;
        } else if (!strcmp(name, "InferenceResponse")) {
                w->kind = CODEC_RESPONSE;
                reader = c->resp_schema;
        } else {
                rc = swarm_err_set(err, SWARM_ERR_INVALID,
                                   "schema id %d: record '%s' is neither "
                                   "InferenceRequest nor InferenceResponse",
                                   id, name);
                goto out;
        }
        /* An identical schema registered under another id keeps the fast
         * path. */
        if (avro_schema_equal(w->schema, reader)) {
                w->fast = 1;
                goto out;
        }
        if ((rc = project_reader(reader, w->schema, &w->reader, id, err)))
                goto out;
        w->reader_class = avro_generic_class_from_schema(w->reader);
        if (!w->reader_class) {
                rc = swarm_err_set(err, SWARM_ERR_NOMEM, "schema id %d: %s",
                                   id, avro_strerror());
                goto out;
        }
        w->resolver = avro_resolved_writer_new(w->schema, w->reader);
        if (!w->resolver)
                rc = swarm_err_set(err, SWARM_ERR_INVALID,
                                   "schema id %d: cannot resolve into %s: %s",
                                   id, name, avro_strerror());
out:
        if (rc)
                swarm_codec__writer_fini(w);
        return rc;
}

/* ------------------------------------------------------------------ */
/* Copying Avro C values out.  Every mapping runs twice: once with a NULL
 * arena base to size the scratch block, once to fill it. */

struct arena {
        uint8_t *base;
        size_t len;
};

static const void *arena_put(struct arena *a, const void *d, size_t n) {
        const void *at = a->base ? a->base + a->len : NULL;

        if (a->base && n)
                memcpy(a->base + a->len, d, n);
        a->len += n;
        return at;
}

static void arena_long(struct arena *a, int64_t v) {
        uint8_t buf[10], *p = buf;
        uint64_t u = ((uint64_t)v << 1) ^ (~((uint64_t)v >> 63) + 1);

        while (u >= 0x80) {
                *p++ = (uint8_t)(u | 0x80);
                u >>= 7;
        }
        *p++ = (uint8_t)u;
        arena_put(a, buf, (size_t)(p - buf));
}

/* Avro C reports its own failures through avro_strerror(), a process-global
 * buffer: copy it into err at once. */
static int averr(swarm_err_t *err, const char *field, int arc) {
        return swarm_err_set(err, SWARM_ERR_PARSE, "%s: avro: %s (%d)", field,
                             avro_strerror(), arc);
}

static int get_field(avro_value_t *rec, const char *field, avro_value_t *v,
                     swarm_err_t *err) {
        int arc = avro_value_get_by_name(rec, field, v, NULL);

        return arc ? averr(err, field, arc) : SWARM_OK;
}

/* The bytes of a string or bytes value, borrowed from Avro C. */
static int get_str(avro_value_t *v, const void **d, size_t *n,
                   const char *field, swarm_err_t *err) {
        int arc;

        if (avro_value_get_type(v) == AVRO_STRING) {
                const char *str;
                arc = avro_value_get_string(v, &str, n);
                *d = str;
                /* Avro C counts the NUL terminator */
                if (!arc && *n)
                        (*n)--;
        } else {
                arc = avro_value_get_bytes(v, d, n);
        }
        return arc ? averr(err, field, arc) : SWARM_OK;
}

/* string or bytes into the arena */
static int map_str(avro_value_t *v, swarm_str_t *s, struct arena *a,
                   const char *field, swarm_err_t *err) {
        const void *d;
        size_t n;
        int rc = get_str(v, &d, &n, field, err);

        if (rc)
                return rc;
        s->ptr = arena_put(a, d, n);
        s->len = n;
        return SWARM_OK;
}

static int map_field_str(avro_value_t *rec, const char *field, swarm_str_t *s,
                         struct arena *a, swarm_err_t *err) {
        avro_value_t v;
        int rc = get_field(rec, field, &v, err);

        return rc ? rc : map_str(&v, s, a, field, err);
}

static int map_field_long(avro_value_t *rec, const char *field, int64_t *out,
                          swarm_err_t *err) {
        avro_value_t v;
        int rc = get_field(rec, field, &v, err), arc;
        int32_t i;

        if (rc)
                return rc;
        if (avro_value_get_type(&v) == AVRO_INT32) {
                arc = avro_value_get_int(&v, &i);
                *out = i;
        } else {
                arc = avro_value_get_long(&v, out);
        }
        return arc ? averr(err, field, arc) : SWARM_OK;
}

static int map_field_int(avro_value_t *rec, const char *field, int32_t *out,
                         swarm_err_t *err) {
        avro_value_t v;
        int rc = get_field(rec, field, &v, err), arc;

        if (rc)
                return rc;
        arc = avro_value_get_int(&v, out);
        return arc ? averr(err, field, arc) : SWARM_OK;
}

/* ["null", T]: *present and, when present, the branch value in *branch. */
static int map_optional(avro_value_t *rec, const char *field, int *present,
                        avro_value_t *branch, swarm_err_t *err) {
        avro_value_t v;
        int disc, arc;

        /* absent from the writer: the default, null */
        *present = 0;
        if (avro_value_get_by_name(rec, field, &v, NULL))
                return SWARM_OK;
        if ((arc = avro_value_get_discriminant(&v, &disc)) ||
            (arc = avro_value_get_current_branch(&v, branch)))
                return averr(err, field, arc);
        *present = disc == 1;
        return SWARM_OK;
}

static int map_tensor(avro_value_t *tv, swarm_tensor_t *t, struct arena *a,
                      swarm_err_t *err) {
        avro_value_t v, d;
        size_t n;
        int dt, arc, rc;

        if ((rc = map_field_str(tv, "name", &t->name, a, err)) ||
            (rc = get_field(tv, "dtype", &v, err)))
                return rc;
        if ((arc = avro_value_get_enum(&v, &dt)))
                return averr(err, "dtype", arc);
        t->dtype = (swarm_dtype_t)dt;
        if ((rc = get_field(tv, "shape", &v, err)))
                return rc;
        if ((arc = avro_value_get_size(&v, &n)))
                return averr(err, "shape", arc);
        if (n > SWARM_MAX_DIMS)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "shape: more than %d dimensions",
                                     SWARM_MAX_DIMS);
        t->ndim = (int)n;
        for (size_t i = 0; i < n; i++)
                if ((arc = avro_value_get_by_index(&v, i, &d, NULL)) ||
                    (arc = avro_value_get_long(&d, &t->shape[i])))
                        return averr(err, "shape", arc);
        if ((rc = get_field(tv, "data", &v, err)))
                return rc;
        {
                swarm_str_t s;
                if ((rc = map_str(&v, &s, a, "data", err)))
                        return rc;
                t->data = s.ptr;
                t->size = s.len;
        }
        /* in the sizing pass data is NULL; check shapes once filled */
        return a->base ? swarm_codec__tensor_check(t, err) : SWARM_OK;
}

static int map_tensors(avro_value_t *rec, const char *field,
                       swarm_tensor_t *ts, int *count, struct arena *a,
                       swarm_err_t *err) {
        avro_value_t v, tv;
        size_t n;
        int arc, rc = get_field(rec, field, &v, err);

        if (rc)
                return rc;
        if ((arc = avro_value_get_size(&v, &n)))
                return averr(err, field, arc);
        if (n > SWARM_MAX_INPUTS)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "%s: more than %d tensors", field,
                                     SWARM_MAX_INPUTS);
        *count = (int)n;
        for (size_t i = 0; i < n; i++) {
                if ((arc = avro_value_get_by_index(&v, i, &tv, NULL)))
                        return averr(err, field, arc);
                if ((rc = map_tensor(&tv, &ts[i], a, err))) {
                        swarm_err_prefix(err, "%s[%zu].", field, i);
                        return rc;
                }
        }
        return SWARM_OK;
}

static int map_request(avro_value_t *rec, swarm_request_t *req,
                       struct arena *a, swarm_err_t *err) {
        avro_value_t b, m, e;
        size_t n, start;
        int32_t ver;
        int arc, rc;

        if ((rc = map_field_str(rec, "request_id", &req->request_id, a, err)) ||
            (rc = map_field_str(rec, "model", &req->model, a, err)) ||
            (rc = map_optional(rec, "version", &req->has_version, &b, err)))
                return rc;
        req->version = 0;
        if (req->has_version) {
                if ((arc = avro_value_get_int(&b, &ver)))
                        return averr(err, "version", arc);
                req->version = ver;
        }
        if ((rc = map_tensors(rec, "inputs", req->inputs, &req->n_inputs, a,
                              err)) ||
            (rc = map_optional(rec, "reply_topic", &req->has_reply_topic, &b,
                               err)))
                return rc;
        req->reply_topic.ptr = NULL;
        req->reply_topic.len = 0;
        if (req->has_reply_topic &&
            (rc = map_str(&b, &req->reply_topic, a, "reply_topic", err)))
                return rc;
        if ((rc = map_optional(rec, "deadline_ms", &req->has_deadline, &b,
                               err)))
                return rc;
        req->deadline_ms = 0;
        if (req->has_deadline &&
            (arc = avro_value_get_long(&b, &req->deadline_ms)))
                return averr(err, "deadline_ms", arc);

        /* Metadata is re-encoded as one Avro map block so that
         * swarm_request_metadata_next() reads it like a fast-path one. */
        n = 0;
        if (!avro_value_get_by_name(rec, "metadata", &m, NULL) &&
            (arc = avro_value_get_size(&m, &n)))
                return averr(err, "metadata", arc);
        start = a->len;
        if (n)
                arena_long(a, (int64_t)n);
        for (size_t i = 0; i < n; i++) {
                const char *key;
                const void *d;
                size_t dn;
                if ((arc = avro_value_get_by_index(&m, i, &e, &key)))
                        return averr(err, "metadata", arc);
                if ((rc = get_str(&e, &d, &dn, "metadata", err)))
                        return rc;
                arena_long(a, (int64_t)strlen(key));
                arena_put(a, key, strlen(key));
                arena_long(a, (int64_t)dn);
                arena_put(a, d, dn);
        }
        arena_put(a, "", 1);
        req->n_metadata = (int64_t)n;
        req->metadata_raw = a->base ? a->base + start : NULL;
        req->metadata_raw_len = a->len - start;
        return SWARM_OK;
}

static int map_response(avro_value_t *rec, swarm_response_t *resp,
                        struct arena *a, swarm_err_t *err) {
        avro_value_t b, v;
        int st, arc, rc;

        if ((rc = map_field_str(rec, "request_id", &resp->request_id, a,
                                err)) ||
            (rc = map_field_str(rec, "model", &resp->model, a, err)) ||
            (rc = map_field_int(rec, "version", &resp->version, err)) ||
            (rc = map_tensors(rec, "outputs", resp->outputs, &resp->n_outputs,
                              a, err)) ||
            (rc = get_field(rec, "status", &v, err)))
                return rc;
        if ((arc = avro_value_get_enum(&v, &st)))
                return averr(err, "status", arc);
        resp->status = (swarm_status_t)st;
        if ((rc = map_optional(rec, "error", &resp->has_error, &b, err)))
                return rc;
        resp->error.ptr = NULL;
        resp->error.len = 0;
        if (resp->has_error &&
            (rc = map_str(&b, &resp->error, a, "error", err)))
                return rc;
        if ((rc = map_field_long(rec, "queue_us", &resp->queue_us, err)) ||
            (rc = map_field_long(rec, "compute_us", &resp->compute_us, err)) ||
            (rc = map_field_int(rec, "batch_rows", &resp->batch_rows, err)) ||
            (rc = map_field_str(rec, "worker", &resp->worker, a, err)) ||
            (rc = map_field_int(rec, "source_partition",
                                &resp->source_partition, err)) ||
            (rc = map_field_long(rec, "source_offset", &resp->source_offset,
                                 err)))
                return rc;
        return SWARM_OK;
}

/* Validate, read through the resolver into a generic reader value, then run
 * `map` twice (size, fill).  *scratch receives the block on success. */
typedef int (*map_fn)(avro_value_t *rec, void *out, struct arena *a,
                      swarm_err_t *err);

static int map_req_cb(avro_value_t *rec, void *out, struct arena *a,
                      swarm_err_t *err) {
        return map_request(rec, out, a, err);
}

static int map_resp_cb(avro_value_t *rec, void *out, struct arena *a,
                       swarm_err_t *err) {
        return map_response(rec, out, a, err);
}

static int slow_decode(const struct codec_writer *w,
                       const uint8_t *p, size_t len, map_fn map, void *out,
                       void **scratch, swarm_err_t *err) {
        avro_value_t dest = {NULL, NULL}, resolved = {NULL, NULL};
        avro_reader_t reader = NULL;
        struct arena a = {NULL, 0};
        int arc, rc;

        *scratch = NULL;
        if ((rc = swarm_codec__validate(w->schema, p, len, err)))
                goto out;
        if ((arc = avro_generic_value_new(w->reader_class, &dest)) ||
            (arc = avro_resolved_writer_new_value(w->resolver, &resolved))) {
                rc = swarm_err_set(err, SWARM_ERR_NOMEM, "avro: %s",
                                   avro_strerror());
                goto out;
        }
        avro_resolved_writer_set_dest(&resolved, &dest);
        reader = avro_reader_memory((const char *)p, (int64_t)len);
        if (!reader) {
                rc = swarm_err_set(err, SWARM_ERR_NOMEM, "avro: reader");
                goto out;
        }
        if ((arc = avro_value_read(reader, &resolved))) {
                rc = averr(err, "(record)", arc);
                goto out;
        }
        if ((rc = map(&dest, out, &a, err)))
                goto out;
        /* +1: never malloc(0), whose result may be NULL */
        a.base = malloc(a.len + 1);
        if (!a.base) {
                rc = swarm_err_set(err, SWARM_ERR_NOMEM,
                                   "scratch: %zu bytes", a.len);
                goto out;
        }
        a.len = 0;
        if ((rc = map(&dest, out, &a, err)))
                goto out;
        *scratch = a.base;
        a.base = NULL;
out:
        free(a.base);
        if (reader)
                avro_reader_free(reader);
        if (resolved.iface)
                avro_value_decref(&resolved);
        if (dest.iface)
                avro_value_decref(&dest);
        return rc;
}

int swarm_codec__slow_request(const swarm_codec_t *c,
                              const struct codec_writer *w, const uint8_t *p,
                              size_t len, swarm_request_t *req,
                              swarm_err_t *err) {
        return slow_decode(w, p, len, map_req_cb, req,
                           &req->scratch, err);
}

int swarm_codec__slow_response(const swarm_codec_t *c,
                               const struct codec_writer *w, const uint8_t *p,
                               size_t len, swarm_response_t *resp,
                               swarm_err_t *err) {
        return slow_decode(w, p, len, map_resp_cb, resp,
                           &resp->scratch, err);
}
