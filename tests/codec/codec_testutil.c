#include <string.h>

#include "codec_testutil.h"

uint64_t rng_next(rng_t *r) {
        /* splitmix64: tiny, seeded, good enough for test data */
        uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
}

uint64_t rng_below(rng_t *r, uint64_t n) {
        return n ? rng_next(r) % n : 0;
}

void *gen_alloc(gen_t *g, size_t n) {
        void *p = malloc(n ? n : 1);
        REQUIRE(p);
        g->allocs = realloc(g->allocs, (g->n_allocs + 1) * sizeof(void *));
        REQUIRE(g->allocs);
        g->allocs[g->n_allocs++] = p;
        return p;
}

swarm_str_t gen_str(gen_t *g, rng_t *r, size_t max_len) {
        size_t n = rng_below(r, max_len + 1);
        char *s = gen_alloc(g, n);
        for (size_t i = 0; i < n; i++) {
                /* mostly ASCII, some UTF-8 continuation-range bytes */
                s[i] = (char)(rng_below(r, 8) ? 'a' + rng_below(r, 26)
                                             : 0x80 + rng_below(r, 0x40));
        }
        return (swarm_str_t){s, n};
}

static int64_t gen_long(rng_t *r) {
        switch (rng_below(r, 4)) {
        case 0: return (int64_t)rng_below(r, 100);
        case 1: return -(int64_t)rng_below(r, 100000);
        case 2: return (int64_t)rng_next(r);
        default: return rng_below(r, 2) ? INT64_MAX : INT64_MIN;
        }
}

static int32_t gen_int(rng_t *r) {
        switch (rng_below(r, 3)) {
        case 0: return (int32_t)rng_below(r, 100);
        case 1: return (int32_t)rng_next(r);
        default: return rng_below(r, 2) ? INT32_MAX : INT32_MIN;
        }
}

static void gen_tensors(gen_t *g, rng_t *r, swarm_tensor_t *ts, int *n) {
        *n = (int)rng_below(r, SWARM_MAX_INPUTS + 1);
        if (rng_below(r, 2))
                *n = (int)rng_below(r, 3);
        for (int i = 0; i < *n; i++) {
                swarm_tensor_t *t = &ts[i];
                uint8_t *d;
                int64_t elems = 1;
                memset(t, 0, sizeof(*t));
                t->name = gen_str(g, r, 12);
                t->dtype = (swarm_dtype_t)rng_below(r, SWARM_DTYPE__COUNT);
                t->ndim = (int)rng_below(r, SWARM_MAX_DIMS + 1);
                for (int k = 0; k < t->ndim; k++) {
                        /* keep tensors small: few dims above 1 */
                        t->shape[k] = (int64_t)(rng_below(r, 4) ? rng_below(r, 3)
                                                               : rng_below(r, 9));
                        if (elems * (t->shape[k] ? t->shape[k] : 1) > 4096)
                                t->shape[k] = 1;
                        elems *= t->shape[k];
                }
                t->size = (size_t)elems * swarm_dtype_size(t->dtype);
                d = gen_alloc(g, t->size);
                for (size_t k = 0; k < t->size; k++)
                        d[k] = (uint8_t)rng_next(r);
                t->data = d;
        }
}

void gen_request(gen_t *g, rng_t *r, size_t max_meta) {
        swarm_request_t *q = &g->req;

        memset(g, 0, sizeof(*g));
        q->request_id = gen_str(g, r, 40);
        q->model = gen_str(g, r, 16);
        q->has_version = (int)rng_below(r, 2);
        q->version = q->has_version ? gen_int(r) : 0;
        gen_tensors(g, r, q->inputs, &q->n_inputs);
        q->has_reply_topic = (int)rng_below(r, 2);
        if (q->has_reply_topic)
                q->reply_topic = gen_str(g, r, 30);
        q->has_deadline = (int)rng_below(r, 2);
        q->deadline_ms = q->has_deadline ? gen_long(r) : 0;
        g->n_meta = rng_below(r, max_meta + 1);
        g->meta = gen_alloc(g, 2 * g->n_meta * sizeof(swarm_str_t));
        for (size_t i = 0; i < g->n_meta; i++) {
                swarm_str_t k = gen_str(g, r, 10);
                char *key = gen_alloc(g, k.len + 24);
                /* unique and NUL-free: Avro C maps take C-string keys */
                int n = snprintf(key, k.len + 24, "k%zu_", i);
                for (size_t j = 0; j < k.len; j++)
                        key[n + j] = k.ptr[j] ? k.ptr[j] : 'x';
                g->meta[2 * i] = (swarm_str_t){key, (size_t)n + k.len};
                g->meta[2 * i + 1] = gen_str(g, r, 20);
        }
}

void gen_response(gen_t *g, rng_t *r) {
        swarm_response_t *p = &g->resp;

        memset(g, 0, sizeof(*g));
        p->request_id = gen_str(g, r, 40);
        p->model = gen_str(g, r, 16);
        p->version = gen_int(r);
        gen_tensors(g, r, p->outputs, &p->n_outputs);
        p->status = (swarm_status_t)rng_below(r, SWARM_STATUS__COUNT);
        p->has_error = (int)rng_below(r, 2);
        if (p->has_error)
                p->error = gen_str(g, r, 50);
        p->queue_us = gen_long(r);
        p->compute_us = gen_long(r);
        p->batch_rows = gen_int(r);
        p->worker = gen_str(g, r, 20);
        p->source_partition = gen_int(r);
        p->source_offset = gen_long(r);
}

void gen_free(gen_t *g) {
        for (size_t i = 0; i < g->n_allocs; i++)
                free(g->allocs[i]);
        free(g->allocs);
        g->allocs = NULL;
        g->n_allocs = 0;
}

static void check_str(swarm_str_t got, swarm_str_t want, const char *field) {
        if (got.len != want.len ||
            (want.len && memcmp(got.ptr, want.ptr, want.len))) {
                fprintf(stderr, "%s: got '%.*s' (%zu), want '%.*s' (%zu)\n",
                        field, (int)got.len, got.ptr ? got.ptr : "", got.len,
                        (int)want.len, want.ptr ? want.ptr : "", want.len);
                exit(1);
        }
}

static void check_tensors(const swarm_tensor_t *got, int n_got,
                          const swarm_tensor_t *want, int n_want) {
        REQUIRE(n_got == n_want);
        for (int i = 0; i < n_want; i++) {
                check_str(got[i].name, want[i].name, "tensor name");
                REQUIRE(got[i].dtype == want[i].dtype);
                REQUIRE(got[i].ndim == want[i].ndim);
                for (int k = 0; k < want[i].ndim; k++)
                        REQUIRE(got[i].shape[k] == want[i].shape[k]);
                REQUIRE(got[i].size == want[i].size);
                REQUIRE(!want[i].size ||
                      !memcmp(got[i].data, want[i].data, want[i].size));
        }
}

void check_request(const swarm_request_t *got, const swarm_request_t *want,
                   const swarm_str_t *meta, size_t n_meta) {
        size_t pos = 0, n = 0;
        int64_t idx = -1;
        swarm_str_t k, v;

        check_str(got->request_id, want->request_id, "request_id");
        check_str(got->model, want->model, "model");
        REQUIRE(got->has_version == want->has_version);
        if (want->has_version)
                REQUIRE(got->version == want->version);
        check_tensors(got->inputs, got->n_inputs, want->inputs,
                      want->n_inputs);
        REQUIRE(got->has_reply_topic == want->has_reply_topic);
        if (want->has_reply_topic)
                check_str(got->reply_topic, want->reply_topic, "reply_topic");
        REQUIRE(got->has_deadline == want->has_deadline);
        if (want->has_deadline)
                REQUIRE(got->deadline_ms == want->deadline_ms);
        REQUIRE(got->n_metadata == (int64_t)n_meta);
        while (swarm_request_metadata_next(got, &pos, &idx, &k, &v)) {
                REQUIRE(n < n_meta);
                REQUIRE(idx == (int64_t)n);
                check_str(k, meta[2 * n], "metadata key");
                check_str(v, meta[2 * n + 1], "metadata value");
                n++;
        }
        REQUIRE(n == n_meta);
}

void check_response(const swarm_response_t *got,
                    const swarm_response_t *want) {
        check_str(got->request_id, want->request_id, "request_id");
        check_str(got->model, want->model, "model");
        REQUIRE(got->version == want->version);
        check_tensors(got->outputs, got->n_outputs, want->outputs,
                      want->n_outputs);
        REQUIRE(got->status == want->status);
        REQUIRE(got->has_error == want->has_error);
        if (want->has_error)
                check_str(got->error, want->error, "error");
        REQUIRE(got->queue_us == want->queue_us);
        REQUIRE(got->compute_us == want->compute_us);
        REQUIRE(got->batch_rows == want->batch_rows);
        check_str(got->worker, want->worker, "worker");
        REQUIRE(got->source_partition == want->source_partition);
        REQUIRE(got->source_offset == want->source_offset);
}

/* ------------------------------------------------------------------ */

static void field(avro_value_t *rec, const char *name, avro_value_t *v) {
        CHECK_AVRO(avro_value_get_by_name(rec, name, v, NULL));
}

static void set_str(avro_value_t *v, swarm_str_t s) {
        /* Avro C strings are NUL-terminated copies: size counts the NUL */
        char *tmp = malloc(s.len + 1);
        REQUIRE(tmp);
        if (s.len)
                memcpy(tmp, s.ptr, s.len);
        tmp[s.len] = '\0';
        CHECK_AVRO(avro_value_set_string_len(v, tmp, s.len + 1));
        free(tmp);
}

static void set_field_str(avro_value_t *rec, const char *name, swarm_str_t s) {
        avro_value_t v;
        field(rec, name, &v);
        set_str(&v, s);
}

static void avro_from_tensors(avro_value_t *arr, const swarm_tensor_t *ts,
                              int n) {
        for (int i = 0; i < n; i++) {
                avro_value_t t, v, d;
                CHECK_AVRO(avro_value_append(arr, &t, NULL));
                set_field_str(&t, "name", ts[i].name);
                field(&t, "dtype", &v);
                CHECK_AVRO(avro_value_set_enum(&v, (int)ts[i].dtype));
                field(&t, "shape", &v);
                for (int k = 0; k < ts[i].ndim; k++) {
                        CHECK_AVRO(avro_value_append(&v, &d, NULL));
                        CHECK_AVRO(avro_value_set_long(&d, ts[i].shape[k]));
                }
                field(&t, "data", &v);
                CHECK_AVRO(avro_value_set_bytes(&v, (void *)ts[i].data,
                                                ts[i].size));
        }
}

/* Fields the (writer) schema lacks are skipped, so evolved writer schemas
 * can be filled too. */
void avro_from_request(avro_value_t *rec, const swarm_request_t *req,
                       const swarm_str_t *meta, size_t n_meta) {
        avro_value_t v, b;

        if (!avro_value_get_by_name(rec, "request_id", &v, NULL))
                set_str(&v, req->request_id);
        if (!avro_value_get_by_name(rec, "model", &v, NULL))
                set_str(&v, req->model);
        if (!avro_value_get_by_name(rec, "version", &v, NULL)) {
                CHECK_AVRO(avro_value_set_branch(&v, req->has_version, &b));
                if (req->has_version)
                        CHECK_AVRO(avro_value_set_int(&b, req->version));
                else
                        CHECK_AVRO(avro_value_set_null(&b));
        }
        if (!avro_value_get_by_name(rec, "inputs", &v, NULL))
                avro_from_tensors(&v, req->inputs, req->n_inputs);
        if (!avro_value_get_by_name(rec, "reply_topic", &v, NULL)) {
                CHECK_AVRO(avro_value_set_branch(&v, req->has_reply_topic,
                                                 &b));
                if (req->has_reply_topic)
                        set_str(&b, req->reply_topic);
                else
                        CHECK_AVRO(avro_value_set_null(&b));
        }
        if (!avro_value_get_by_name(rec, "deadline_ms", &v, NULL)) {
                CHECK_AVRO(avro_value_set_branch(&v, req->has_deadline, &b));
                if (req->has_deadline)
                        CHECK_AVRO(avro_value_set_long(&b, req->deadline_ms));
                else
                        CHECK_AVRO(avro_value_set_null(&b));
        }
        if (avro_value_get_by_name(rec, "metadata", &v, NULL))
                return;
        for (size_t i = 0; i < n_meta; i++) {
                char key[64];
                int is_new;
                REQUIRE(meta[2 * i].len < sizeof(key));
                memcpy(key, meta[2 * i].ptr, meta[2 * i].len);
                key[meta[2 * i].len] = '\0';
                CHECK_AVRO(avro_value_add(&v, key, &b, NULL, &is_new));
                REQUIRE(is_new);
                set_str(&b, meta[2 * i + 1]);
        }
}

void avro_from_response(avro_value_t *rec, const swarm_response_t *resp) {
        avro_value_t v, b;

        set_field_str(rec, "request_id", resp->request_id);
        set_field_str(rec, "model", resp->model);
        field(rec, "version", &v);
        CHECK_AVRO(avro_value_set_int(&v, resp->version));
        field(rec, "outputs", &v);
        avro_from_tensors(&v, resp->outputs, resp->n_outputs);
        field(rec, "status", &v);
        CHECK_AVRO(avro_value_set_enum(&v, (int)resp->status));
        field(rec, "error", &v);
        CHECK_AVRO(avro_value_set_branch(&v, resp->has_error, &b));
        if (resp->has_error)
                set_str(&b, resp->error);
        else
                CHECK_AVRO(avro_value_set_null(&b));
        field(rec, "queue_us", &v);
        CHECK_AVRO(avro_value_set_long(&v, resp->queue_us));
        field(rec, "compute_us", &v);
        CHECK_AVRO(avro_value_set_long(&v, resp->compute_us));
        field(rec, "batch_rows", &v);
        CHECK_AVRO(avro_value_set_int(&v, resp->batch_rows));
        set_field_str(rec, "worker", resp->worker);
        field(rec, "source_partition", &v);
        CHECK_AVRO(avro_value_set_int(&v, resp->source_partition));
        field(rec, "source_offset", &v);
        CHECK_AVRO(avro_value_set_long(&v, resp->source_offset));
}

static swarm_str_t get_s(avro_value_t *v) {
        const char *s;
        const void *d;
        size_t n;
        if (avro_value_get_type(v) == AVRO_STRING) {
                CHECK_AVRO(avro_value_get_string(v, &s, &n));
                return (swarm_str_t){s, n ? n - 1 : 0};
        }
        CHECK_AVRO(avro_value_get_bytes(v, &d, &n));
        return (swarm_str_t){d, n};
}

static swarm_str_t get_fs(avro_value_t *rec, const char *name) {
        avro_value_t v;
        field(rec, name, &v);
        return get_s(&v);
}

static void check_avro_tensors(avro_value_t *arr, const swarm_tensor_t *ts,
                               int n) {
        size_t cnt;
        CHECK_AVRO(avro_value_get_size(arr, &cnt));
        REQUIRE(cnt == (size_t)n);
        for (int i = 0; i < n; i++) {
                avro_value_t t, v, d;
                int e;
                swarm_str_t data;
                CHECK_AVRO(avro_value_get_by_index(arr, (size_t)i, &t, NULL));
                check_str(get_fs(&t, "name"), ts[i].name, "avro tensor name");
                field(&t, "dtype", &v);
                CHECK_AVRO(avro_value_get_enum(&v, &e));
                REQUIRE(e == (int)ts[i].dtype);
                field(&t, "shape", &v);
                CHECK_AVRO(avro_value_get_size(&v, &cnt));
                REQUIRE(cnt == (size_t)ts[i].ndim);
                for (int k = 0; k < ts[i].ndim; k++) {
                        int64_t l;
                        CHECK_AVRO(avro_value_get_by_index(&v, (size_t)k, &d,
                                                           NULL));
                        CHECK_AVRO(avro_value_get_long(&d, &l));
                        REQUIRE(l == ts[i].shape[k]);
                }
                data = get_fs(&t, "data");
                REQUIRE(data.len == ts[i].size);
                REQUIRE(!data.len || !memcmp(data.ptr, ts[i].data, data.len));
        }
}

void check_avro_request(avro_value_t *rec, const swarm_request_t *want,
                        const swarm_str_t *meta, size_t n_meta) {
        avro_value_t v, b;
        int disc;
        int32_t i32;
        int64_t i64;
        size_t n;

        check_str(get_fs(rec, "request_id"), want->request_id, "request_id");
        check_str(get_fs(rec, "model"), want->model, "model");
        field(rec, "version", &v);
        CHECK_AVRO(avro_value_get_discriminant(&v, &disc));
        REQUIRE(disc == want->has_version);
        if (disc) {
                CHECK_AVRO(avro_value_get_current_branch(&v, &b));
                CHECK_AVRO(avro_value_get_int(&b, &i32));
                REQUIRE(i32 == want->version);
        }
        field(rec, "inputs", &v);
        check_avro_tensors(&v, want->inputs, want->n_inputs);
        field(rec, "reply_topic", &v);
        CHECK_AVRO(avro_value_get_discriminant(&v, &disc));
        REQUIRE(disc == want->has_reply_topic);
        if (disc) {
                CHECK_AVRO(avro_value_get_current_branch(&v, &b));
                check_str(get_s(&b), want->reply_topic, "reply_topic");
        }
        field(rec, "deadline_ms", &v);
        CHECK_AVRO(avro_value_get_discriminant(&v, &disc));
        REQUIRE(disc == want->has_deadline);
        if (disc) {
                CHECK_AVRO(avro_value_get_current_branch(&v, &b));
                CHECK_AVRO(avro_value_get_long(&b, &i64));
                REQUIRE(i64 == want->deadline_ms);
        }
        field(rec, "metadata", &v);
        CHECK_AVRO(avro_value_get_size(&v, &n));
        REQUIRE(n == n_meta);
        for (size_t i = 0; i < n_meta; i++) {
                char key[64];
                memcpy(key, meta[2 * i].ptr, meta[2 * i].len);
                key[meta[2 * i].len] = '\0';
                CHECK_AVRO(avro_value_get_by_name(&v, key, &b, NULL));
                check_str(get_s(&b), meta[2 * i + 1], "metadata value");
        }
}

void check_avro_response(avro_value_t *rec, const swarm_response_t *want) {
        avro_value_t v, b;
        int disc, e;
        int32_t i32;
        int64_t i64;

        check_str(get_fs(rec, "request_id"), want->request_id, "request_id");
        check_str(get_fs(rec, "model"), want->model, "model");
        field(rec, "version", &v);
        CHECK_AVRO(avro_value_get_int(&v, &i32));
        REQUIRE(i32 == want->version);
        field(rec, "outputs", &v);
        check_avro_tensors(&v, want->outputs, want->n_outputs);
        field(rec, "status", &v);
        CHECK_AVRO(avro_value_get_enum(&v, &e));
        REQUIRE(e == (int)want->status);
        field(rec, "error", &v);
        CHECK_AVRO(avro_value_get_discriminant(&v, &disc));
        REQUIRE(disc == want->has_error);
        if (disc) {
                CHECK_AVRO(avro_value_get_current_branch(&v, &b));
                check_str(get_s(&b), want->error, "error");
        }
        field(rec, "queue_us", &v);
        CHECK_AVRO(avro_value_get_long(&v, &i64));
        REQUIRE(i64 == want->queue_us);
        field(rec, "compute_us", &v);
        CHECK_AVRO(avro_value_get_long(&v, &i64));
        REQUIRE(i64 == want->compute_us);
        field(rec, "batch_rows", &v);
        CHECK_AVRO(avro_value_get_int(&v, &i32));
        REQUIRE(i32 == want->batch_rows);
        check_str(get_fs(rec, "worker"), want->worker, "worker");
        field(rec, "source_partition", &v);
        CHECK_AVRO(avro_value_get_int(&v, &i32));
        REQUIRE(i32 == want->source_partition);
        field(rec, "source_offset", &v);
        CHECK_AVRO(avro_value_get_long(&v, &i64));
        REQUIRE(i64 == want->source_offset);
}

uint8_t *avro_write_framed(avro_value_t *v, int32_t id, size_t *len) {
        size_t size;
        uint8_t *buf;
        avro_writer_t w;

        CHECK_AVRO(avro_value_sizeof(v, &size));
        buf = malloc(size + 5);
        REQUIRE(buf);
        buf[0] = 0;
        buf[1] = (uint8_t)((uint32_t)id >> 24);
        buf[2] = (uint8_t)((uint32_t)id >> 16);
        buf[3] = (uint8_t)((uint32_t)id >> 8);
        buf[4] = (uint8_t)id;
        w = avro_writer_memory((const char *)buf + 5, (int64_t)size);
        REQUIRE(w);
        CHECK_AVRO(avro_value_write(w, v));
        REQUIRE(avro_writer_tell(w) == (int64_t)size);
        avro_writer_free(w);
        *len = size + 5;
        return buf;
}

/* ------------------------------------------------------------------ */

static void put_long(swarm_buf_t *b, int64_t v) {
        uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
        swarm_err_t err = {0};
        REQUIRE(swarm_buf_reserve(b, 10, &err) == 0);
        while (u >= 0x80) {
                b->data[b->len++] = (uint8_t)(u | 0x80);
                u >>= 7;
        }
        b->data[b->len++] = (uint8_t)u;
}

static void put_raw(swarm_buf_t *b, const void *d, size_t n) {
        swarm_err_t err = {0};
        REQUIRE(swarm_buf_reserve(b, n, &err) == 0);
        if (n)
                memcpy(b->data + b->len, d, n);
        b->len += n;
}

static void put_str(swarm_buf_t *b, swarm_str_t s) {
        put_long(b, (int64_t)s.len);
        put_raw(b, s.ptr, s.len);
}

/* Emit items [0, n) in random blocks; item(i) appends item i to `tmp`. */
typedef void (*item_fn)(swarm_buf_t *b, const void *ctx, size_t i);

static void put_blocks(swarm_buf_t *out, size_t n, item_fn item,
                       const void *ctx, rng_t *r) {
        size_t i = 0;
        while (i < n) {
                size_t k = 1 + rng_below(r, n - i);
                swarm_buf_t tmp = {0};
                for (size_t j = 0; j < k; j++)
                        item(&tmp, ctx, i + j);
                if (rng_below(r, 2)) {
                        put_long(out, -(int64_t)k);
                        put_long(out, (int64_t)tmp.len);
                } else {
                        put_long(out, (int64_t)k);
                }
                put_raw(out, tmp.data, tmp.len);
                swarm_buf_destroy(&tmp);
                i += k;
        }
        put_long(out, 0);
}

struct shape_ctx {
        const int64_t *shape;
};

static void shape_item(swarm_buf_t *b, const void *ctx, size_t i) {
        put_long(b, ((const struct shape_ctx *)ctx)->shape[i]);
}

struct tensor_ctx {
        const swarm_tensor_t *ts;
        rng_t *r;
};

static void tensor_item(swarm_buf_t *b, const void *ctx, size_t i) {
        const struct tensor_ctx *c = ctx;
        const swarm_tensor_t *t = &c->ts[i];
        struct shape_ctx sc = {t->shape};
        put_str(b, t->name);
        put_long(b, t->dtype);
        put_blocks(b, (size_t)t->ndim, shape_item, &sc, c->r);
        put_str(b, (swarm_str_t){t->data, t->size});
}

static void meta_item(swarm_buf_t *b, const void *ctx, size_t i) {
        const swarm_str_t *m = ctx;
        put_str(b, m[2 * i]);
        put_str(b, m[2 * i + 1]);
}

void encode_request_blocky(const swarm_request_t *req, const swarm_str_t *meta,
                           size_t n_meta, rng_t *r, swarm_buf_t *out) {
        struct tensor_ctx tc = {req->inputs, r};
        uint8_t frame[5] = {0, 0, 0, 0, SWARM_SCHEMA_ID_REQUEST};

        put_raw(out, frame, 5);
        put_str(out, req->request_id);
        put_str(out, req->model);
        put_long(out, req->has_version);
        if (req->has_version)
                put_long(out, req->version);
        put_blocks(out, (size_t)req->n_inputs, tensor_item, &tc, r);
        put_long(out, req->has_reply_topic);
        if (req->has_reply_topic)
                put_str(out, req->reply_topic);
        put_long(out, req->has_deadline);
        if (req->has_deadline)
                put_long(out, req->deadline_ms);
        put_blocks(out, n_meta, meta_item, meta, r);
}

avro_schema_t load_schema_json(const char *json) {
        avro_schema_t s;
        CHECK_AVRO(avro_schema_from_json_length(json, strlen(json), &s));
        return s;
}
