/*
 * test_score_files.c - the file side of `swarm-producer score`, no broker:
 *   - CSV (libcsv): quoted fields, a quoted newline, blank lines, column
 *     names / ranges / numbers, an id column, int64 tensors; short rows,
 *     non-numbers, bad quoting and an unterminated quote are rejected with
 *     their record and line numbers and the rows after them still read;
 *     tell/seek lands on the same rows;
 *   - Avro input written by Avro C's file writer: an array field, a bytes
 *     field and per-feature numeric fields; a null and a short array are
 *     rejected; seek skips records;
 *   - .npy: float64 converted to float32, seek;
 *   - the Avro output read back with Avro C's file reader (values, label,
 *     top-k), byte-identical across two writes and across a resume that cut
 *     the file at a block boundary and wrote the rest again; CSV output;
 *   - checkpoint save/load round trip and refusal of a malformed file.
 */
#include <avro.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "score_ckpt.h"
#include "score_input.h"
#include "score_output.h"

#include "check.h"

static char dir[256];

static const char *path_of(const char *name) {
        static char buf[4][512];
        static int i;
        i = (i + 1) % 4;
        snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
        return buf[i];
}

static void write_file(const char *path, const void *p, size_t n) {
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(p, 1, n, f) != n) {
                perror(path);
                exit(1);
        }
        fclose(f);
}

static float f32_at(const uint8_t *row, int k) {
        float f;
        memcpy(&f, row + 4 * k, 4);
        return f;
}

/* ------------------------------------------------------------ CSV */

static void test_csv(void) {
        static const char text[] =
                "id,a,b,c,label\n"                  /* line 1 */
                "r0,1,2,3,x\n"                      /* 2: ok */
                "\"r,1\",\"4.5\", 5 ,6e0,y\r\n"     /* 3: ok, quoted, CRLF */
                "r2,1,2\n"                          /* 4: short */
                "r3,1,abc,3,z\n"                    /* 5: not a number */
                "r4,1,2\"x,3,z\n"                   /* 6: bad quoting */
                "\"r5\nmulti\",7,8,9,w\n"           /* 7-8: ok, quoted newline */
                "\n"                                /* 9: blank, skipped */
                "r6,10,11,12,v\n"                   /* 10: ok */
                "r7,1,2,3,\"open\n"                 /* 11: unterminated... */
                "r8,1,2,3,q\n";                     /* 12: ...quote */
        score_tensor_spec_t spec[2];
        char b1[64], b2[64];
        score_input_opts_t o;
        score_reader_t *r = NULL;
        swarm_err_t err;
        uint8_t x[64], y[64];
        score_row_t row;
        score_pos_t pos_after_r0 = {0};
        struct {
                score_row_kind_t kind;
                uint64_t line;
                const char *id, *reason;
                float v[3];
        } want[] = {
                {SCORE_ROW_OK, 2, "r0", NULL, {1, 2, 3}},
                {SCORE_ROW_OK, 3, "r,1", NULL, {4.5f, 5, 6}},
                {SCORE_ROW_REJECT, 4, "", "3 fields, the header has 5", {0}},
                {SCORE_ROW_REJECT, 5, "", "column b: \"abc\" is not a number", {0}},
                {SCORE_ROW_REJECT, 6, "", "bad quoting", {0}},
                {SCORE_ROW_OK, 7, "r5\nmulti", NULL, {7, 8, 9}},
                {SCORE_ROW_OK, 10, "r6", NULL, {10, 11, 12}},
                {SCORE_ROW_REJECT, 11, "", "unterminated quoted field", {0}},
                /* reading goes on at the line after the unterminated one */
                {SCORE_ROW_OK, 12, "r8", NULL, {1, 2, 3}},
        };
        size_t n_want = sizeof(want) / sizeof(want[0]);

        write_file(path_of("in.csv"), text, sizeof(text) - 1);
        swarm_err_clear(&err);
        snprintf(b1, sizeof(b1), "x=a..c");
        CHECK(!score_tensor_spec_parse(b1, &spec[0], &err), "spec: %s", err.msg);
        memset(&o, 0, sizeof(o));
        o.path = path_of("in.csv");
        o.tensors = spec;
        o.n_tensors = 1;
        o.id_column = "id";
        if (score_reader_open(&o, &r, &err)) {
                CHECK(0, "open: %s", err.msg);
                return;
        }
        {
                int n;
                const score_tensor_t *t = score_reader_tensors(r, &n);
                CHECK(n == 1 && t[0].elems == 3 && t[0].row_bytes == 12 &&
                              t[0].dtype == SWARM_DTYPE_FLOAT32,
                      "tensor x: %d elems %lld", n, (long long)t[0].elems);
        }
        memset(&row, 0, sizeof(row));
        row.dst[0] = x;
        for (size_t i = 0; i < n_want; i++) {
                CHECK(!score_reader_next(r, &row, &err), "next %zu: %s", i, err.msg);
                CHECK(row.kind == want[i].kind, "record %zu: kind %d, want %d (%s)",
                      i, row.kind, want[i].kind, row.reason);
                CHECK(row.record == i, "record %zu numbered %llu", i,
                      (unsigned long long)row.record);
                CHECK(row.line == want[i].line, "record %zu: line %llu, want %llu",
                      i, (unsigned long long)row.line,
                      (unsigned long long)want[i].line);
                if (want[i].kind == SCORE_ROW_OK) {
                        CHECK(!strcmp(row.id, want[i].id), "record %zu: id \"%s\"", i,
                              row.id);
                        for (int k = 0; k < 3; k++)
                                CHECK(f32_at(x, k) == want[i].v[k],
                                      "record %zu: x[%d] = %g", i, k,
                                      (double)f32_at(x, k));
                } else {
                        CHECK(strstr(row.reason, want[i].reason) != NULL,
                              "record %zu: reason \"%s\", want \"%s\"", i,
                              row.reason, want[i].reason);
                        CHECK(row.raw_len > 0, "record %zu: no raw text", i);
                }
                if (i == 0)
                        score_reader_tell(r, &pos_after_r0);
        }
        CHECK(!score_reader_next(r, &row, &err) && row.kind == SCORE_ROW_EOF,
              "no EOF after the last row");
        score_reader_destroy(r);
        r = NULL;

        /* seek: a fresh reader continues right after r0 */
        swarm_err_clear(&err);
        CHECK(!score_reader_open(&o, &r, &err), "reopen: %s", err.msg);
        CHECK(r && !score_reader_seek(r, &pos_after_r0, &err), "seek: %s", err.msg);
        if (r) {
                CHECK(!score_reader_next(r, &row, &err) && row.kind == SCORE_ROW_OK &&
                              !strcmp(row.id, "r,1") && row.record == 1 &&
                              row.line == 3 && f32_at(x, 0) == 4.5f,
                      "after seek: kind %d id %s record %llu line %llu", row.kind,
                      row.id, (unsigned long long)row.record,
                      (unsigned long long)row.line);
                score_reader_destroy(r);
                r = NULL;
        }

        /* two tensors by column number and name, one int64; a missing
         * column is refused at open */
        snprintf(b1, sizeof(b1), "x=#2,#3");
        snprintf(b2, sizeof(b2), "y:int64=c");
        swarm_err_clear(&err);
        CHECK(!score_tensor_spec_parse(b1, &spec[0], &err) &&
                      !score_tensor_spec_parse(b2, &spec[1], &err),
              "specs: %s", err.msg);
        o.n_tensors = 2;
        CHECK(!score_reader_open(&o, &r, &err), "open 2 tensors: %s", err.msg);
        if (r) {
                int64_t v;
                row.dst[1] = y;
                CHECK(!score_reader_next(r, &row, &err) && row.kind == SCORE_ROW_OK,
                      "2 tensors, row 0: %s", row.reason);
                memcpy(&v, y, 8);
                CHECK(f32_at(x, 0) == 1 && f32_at(x, 1) == 2 && v == 3,
                      "2 tensors: %g %g %lld", (double)f32_at(x, 0),
                      (double)f32_at(x, 1), (long long)v);
                /* "6e0" is an integer value: accepted for int64 */
                CHECK(!score_reader_next(r, &row, &err) && row.kind == SCORE_ROW_OK,
                      "2 tensors, row 1: %s", row.reason);
                memcpy(&v, y, 8);
                CHECK(v == 6, "int64 from 6e0: %lld", (long long)v);
                score_reader_destroy(r);
                r = NULL;
        }
        snprintf(b1, sizeof(b1), "x=a..nope");
        swarm_err_clear(&err);
        score_tensor_spec_parse(b1, &spec[0], &err);
        o.n_tensors = 1;
        CHECK(score_reader_open(&o, &r, &err) == SWARM_ERR_INVALID &&
                      strstr(err.msg, "no such column"),
              "missing column accepted: %s", err.msg);
        score_reader_destroy(r);
}

/* ------------------------------------------------------------ Avro in */

/* An Avro object container file being written: schema, writer and one
 * generic record value reused for every record. */
typedef struct avro_out {
        avro_schema_t schema;
        avro_file_writer_t w;
        avro_value_iface_t *iface;
        avro_value_t rec;
} avro_out_t;

static int avro_out_open(avro_out_t *a, const char *json, size_t len, const char *path) {
        if (avro_schema_from_json_length(json, len, &a->schema)) {
                CHECK(0, "schema: %s", avro_strerror());
                return -1;
        }
        unlink(path);
        CHECK(!avro_file_writer_create(path, a->schema, &a->w), "writer: %s", avro_strerror());
        a->iface = avro_generic_class_from_schema(a->schema);
        avro_generic_value_new(a->iface, &a->rec);
        return 0;
}

static void avro_out_close(avro_out_t *a) {
        avro_file_writer_close(a->w);
        avro_value_decref(&a->rec);
        avro_value_iface_decref(a->iface);
        avro_schema_decref(a->schema);
}

static void test_avro_in(void) {
        static const char schema_json[] =
                "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                "{\"name\":\"key\",\"type\":\"long\"},"
                "{\"name\":\"arr\",\"type\":{\"type\":\"array\",\"items\":\"float\"}},"
                "{\"name\":\"raw\",\"type\":\"bytes\"},"
                "{\"name\":\"f1\",\"type\":\"double\"},"
                "{\"name\":\"f2\",\"type\":[\"null\",\"int\"]}]}";
        avro_out_t ao;
        score_tensor_spec_t spec[3];
        char b[3][64];
        score_input_opts_t o;
        score_reader_t *r = NULL;
        swarm_err_t err;
        uint8_t t1[64], t2[64], t3[64];
        score_row_t row;
        const char *p = path_of("in.avro");

        if (avro_out_open(&ao, schema_json, sizeof(schema_json) - 1, p))
                return;
        for (int i = 0; i < 4; i++) {
                avro_value_t f, e, br;
                float raw[2] = {(float)i + 0.25f, (float)i + 0.5f};
                avro_value_reset(&ao.rec);
                avro_value_get_by_name(&ao.rec, "key", &f, NULL);
                avro_value_set_long(&f, 100 + i);
                avro_value_get_by_name(&ao.rec, "arr", &f, NULL);
                for (int k = 0; k < (i == 2 ? 2 : 3); k++) { /* record 2: short */
                        avro_value_append(&f, &e, NULL);
                        avro_value_set_float(&e, (float)(10 * i + k));
                }
                avro_value_get_by_name(&ao.rec, "raw", &f, NULL);
                avro_value_set_bytes(&f, raw, sizeof(raw));
                avro_value_get_by_name(&ao.rec, "f1", &f, NULL);
                avro_value_set_double(&f, i * 1.5);
                avro_value_get_by_name(&ao.rec, "f2", &f, NULL);
                avro_value_set_branch(&f, i == 1 ? 0 : 1, &br); /* 1: null */
                if (i != 1)
                        avro_value_set_int(&br, -i);
                else
                        avro_value_set_null(&br);
                CHECK(!avro_file_writer_append_value(ao.w, &ao.rec), "append: %s",
                      avro_strerror());
        }
        avro_out_close(&ao);

        snprintf(b[0], 64, "a=arr");
        snprintf(b[1], 64, "b=raw");
        snprintf(b[2], 64, "c=f1..f2");
        swarm_err_clear(&err);
        for (int i = 0; i < 3; i++)
                score_tensor_spec_parse(b[i], &spec[i], &err);
        memset(&o, 0, sizeof(o));
        o.path = p;
        o.tensors = spec;
        o.n_tensors = 3;
        o.id_column = "key";
        if (score_reader_open(&o, &r, &err)) {
                CHECK(0, "avro open: %s", err.msg);
                return;
        }
        {
                int n;
                const score_tensor_t *t = score_reader_tensors(r, &n);
                CHECK(n == 3 && t[0].elems == 3 && t[1].elems == 2 && t[2].elems == 2,
                      "avro tensors: %lld %lld %lld", (long long)t[0].elems,
                      (long long)t[1].elems, (long long)t[2].elems);
        }
        memset(&row, 0, sizeof(row));
        row.dst[0] = t1;
        row.dst[1] = t2;
        row.dst[2] = t3;
        for (int i = 0; i < 4; i++) {
                char id[16];
                CHECK(!score_reader_next(r, &row, &err), "avro next: %s", err.msg);
                CHECK(row.record == (uint64_t)i, "avro record %d numbered %llu", i,
                      (unsigned long long)row.record);
                if (i == 1 || i == 2) {
                        CHECK(row.kind == SCORE_ROW_REJECT &&
                                      strstr(row.reason, i == 1 ? "null" : "elements"),
                              "avro record %d: kind %d reason %s", i, row.kind,
                              row.reason);
                        continue;
                }
                snprintf(id, sizeof(id), "%d", 100 + i);
                CHECK(row.kind == SCORE_ROW_OK && !strcmp(row.id, id),
                      "avro record %d: kind %d id %s (%s)", i, row.kind, row.id,
                      row.reason);
                for (int k = 0; k < 3; k++)
                        CHECK(f32_at(t1, k) == (float)(10 * i + k), "arr[%d]", k);
                CHECK(f32_at(t2, 0) == i + 0.25f && f32_at(t2, 1) == i + 0.5f,
                      "bytes field: %g %g", (double)f32_at(t2, 0),
                      (double)f32_at(t2, 1));
                CHECK(f32_at(t3, 0) == (float)(i * 1.5) && f32_at(t3, 1) == (float)-i,
                      "numeric fields: %g %g", (double)f32_at(t3, 0),
                      (double)f32_at(t3, 1));
        }
        CHECK(!score_reader_next(r, &row, &err) && row.kind == SCORE_ROW_EOF,
              "avro: no EOF");
        score_reader_destroy(r);
        r = NULL;
        /* seek = skip three records */
        swarm_err_clear(&err);
        CHECK(!score_reader_open(&o, &r, &err), "avro reopen: %s", err.msg);
        if (r) {
                score_pos_t pos = {0, 3, 0};
                CHECK(!score_reader_seek(r, &pos, &err), "avro seek: %s", err.msg);
                CHECK(!score_reader_next(r, &row, &err) && row.kind == SCORE_ROW_OK &&
                              row.record == 3 && !strcmp(row.id, "103"),
                      "avro after seek: %d %s", row.kind, row.id);
                score_reader_destroy(r);
        }
}

/* The reader's array<float> sink (score_avro_in.c): an array longer than the
 * first record's is counted and rejected, the next record reads again; an
 * array count the block cannot back is an error, not a crash or a row. */
static void test_avro_sink(void) {
        static const char schema_json[] =
                "{\"type\":\"record\",\"name\":\"S\",\"fields\":["
                "{\"name\":\"key\",\"type\":\"long\"},"
                "{\"name\":\"arr\",\"type\":{\"type\":\"array\",\"items\":\"float\"}}]}";
        static const int lens[3] = {3, 1500, 3};
        avro_out_t ao;
        score_tensor_spec_t spec;
        char b[32];
        score_input_opts_t o;
        score_reader_t *r = NULL;
        swarm_err_t err;
        uint8_t t1[16];
        score_row_t row;
        const char *p = path_of("sink.avro");
        char *img = NULL;
        size_t n = 0;
        int rc = 0, kinds[3] = {-1, -1, -1};

        if (avro_out_open(&ao, schema_json, sizeof(schema_json) - 1, p))
                return;
        for (int i = 0; i < 3; i++) {
                avro_value_t f, e;
                avro_value_reset(&ao.rec);
                avro_value_get_by_name(&ao.rec, "key", &f, NULL);
                avro_value_set_long(&f, 7 + i);
                avro_value_get_by_name(&ao.rec, "arr", &f, NULL);
                for (int k = 0; k < lens[i]; k++) {
                        avro_value_append(&f, &e, NULL);
                        avro_value_set_float(&e, (float)(i * 100 + k));
                }
                CHECK(!avro_file_writer_append_value(ao.w, &ao.rec), "append: %s",
                      avro_strerror());
        }
        avro_out_close(&ao);

        snprintf(b, sizeof(b), "x=arr");
        swarm_err_clear(&err);
        score_tensor_spec_parse(b, &spec, &err);
        memset(&o, 0, sizeof(o));
        o.path = p;
        o.tensors = &spec;
        o.n_tensors = 1;
        CHECK(!score_reader_open(&o, &r, &err), "sink open: %s", err.msg);
        if (!r)
                return;
        memset(&row, 0, sizeof(row));
        row.dst[0] = t1;
        for (int i = 0; i < 3; i++) {
                CHECK(!score_reader_next(r, &row, &err), "sink next: %s", err.msg);
                kinds[i] = row.kind;
                if (i == 1)
                        CHECK(row.kind == SCORE_ROW_REJECT &&
                                      strstr(row.reason, "1500 elements, the first "
                                                         "record had 3"),
                              "long array: kind %d reason %s", row.kind, row.reason);
                else
                        CHECK(row.kind == SCORE_ROW_OK && f32_at(t1, 0) == i * 100 &&
                                      f32_at(t1, 2) == i * 100 + 2,
                              "record %d: kind %d %g", i, row.kind,
                              (double)f32_at(t1, 0));
        }
        CHECK(kinds[2] == SCORE_ROW_OK, "the record after the long one");
        score_reader_destroy(r);
        r = NULL;

        /* the last record's array count (zig-zag 3 = 0x06 after key 9 =
         * 0x12) becomes 63: more floats than the rest of the block holds */
        {
                FILE *f = fopen(p, "rb");
                if (f) {
                        img = malloc(1 << 16);
                        n = img ? fread(img, 1, 1 << 16, f) : 0;
                        fclose(f);
                }
        }
        for (size_t i = 0; i + 1 < n; i++)
                if (img[i] == 0x12 && img[i + 1] == 0x06) {
                        img[i + 1] = 0x7E;
                        rc = 1;
                        break;
                }
        CHECK(rc, "record 0 not found in the file");
        write_file(p, img, n);
        free(img);
        swarm_err_clear(&err);
        CHECK(!score_reader_open(&o, &r, &err), "sink reopen: %s", err.msg);
        if (r) {
                int n_t;
                const score_tensor_t *t = score_reader_tensors(r, &n_t);
                CHECK(t[0].elems == 3, "elements %lld", (long long)t[0].elems);
                rc = 0;
                for (int i = 0; i < 3; i++) {
                        rc = score_reader_next(r, &row, &err);
                        kinds[i] = row.kind;
                        if (rc)
                                break;
                }
                CHECK(kinds[0] == SCORE_ROW_OK && kinds[1] == SCORE_ROW_REJECT,
                      "records before the bad one: %d %d", kinds[0], kinds[1]);
                CHECK(rc == SWARM_ERR_PARSE && strstr(err.msg, "record 2"),
                      "the bad count: %d %s", rc, err.msg);
        }
        score_reader_destroy(r);
}

/* ------------------------------------------------------------ npy */

/* A .npy v1 file: header dict `dict`, then n bytes of data; returns the
 * data's offset. */
static size_t write_npy(const char *path, const char *dict, const void *data,
                        size_t n) {
        char head[128];
        uint8_t file[256];
        size_t hl = (size_t)snprintf(head, sizeof(head), "%s", dict);

        while ((10 + hl + 1) % 64)
                head[hl++] = ' ';
        head[hl++] = '\n';
        memcpy(file, "\x93NUMPY\x01\x00", 8);
        file[8] = (uint8_t)hl;
        file[9] = 0;
        memcpy(file + 10, head, hl);
        memcpy(file + 10 + hl, data, n);
        write_file(path, file, 10 + hl + n);
        return 10 + hl;
}

static void test_npy(void) {
        double data[6] = {0.5, 1.5, 2.5, 3.5, 4.5, 5.5};
        uint8_t x[16];
        score_tensor_spec_t spec = {"input", SWARM_DTYPE_FLOAT32, 0, NULL};
        score_input_opts_t o;
        score_reader_t *r = NULL;
        swarm_err_t err;
        score_row_t row;
        size_t hl;

        hl = write_npy(path_of("in.npy"),
                       "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }",
                       data, sizeof(data)) - 10;

        memset(&o, 0, sizeof(o));
        o.path = path_of("in.npy");
        o.tensors = &spec;
        o.n_tensors = 1;
        swarm_err_clear(&err);
        if (score_reader_open(&o, &r, &err)) {
                CHECK(0, "npy open: %s", err.msg);
                return;
        }
        memset(&row, 0, sizeof(row));
        row.dst[0] = x;
        for (int i = 0; i < 3; i++) {
                CHECK(!score_reader_next(r, &row, &err) && row.kind == SCORE_ROW_OK,
                      "npy row %d", i);
                CHECK(f32_at(x, 0) == (float)data[2 * i] &&
                              f32_at(x, 1) == (float)data[2 * i + 1],
                      "npy row %d: %g %g", i, (double)f32_at(x, 0),
                      (double)f32_at(x, 1));
        }
        CHECK(!score_reader_next(r, &row, &err) && row.kind == SCORE_ROW_EOF,
              "npy: no EOF");
        {
                score_pos_t pos = {10 + hl + 16, 1, 0};
                CHECK(!score_reader_seek(r, &pos, &err), "npy seek: %s", err.msg);
                CHECK(!score_reader_next(r, &row, &err) && row.kind == SCORE_ROW_OK &&
                              row.record == 1 && f32_at(x, 0) == 2.5f,
                      "npy after seek");
        }
        score_reader_destroy(r);
}

/* Whole float32 rows straight into a chunk (score_reader_next_raw), mixed
 * with row-by-row reads: the same values, record numbers and positions. */
static void test_npy_raw(void) {
        float data[15];
        uint8_t x[5 * 12];
        score_tensor_spec_t spec = {"input", SWARM_DTYPE_FLOAT32, 0, NULL};
        score_input_opts_t o;
        score_reader_t *r = NULL;
        swarm_err_t err;
        score_row_t row;
        score_pos_t pos;
        uint64_t got = 99;
        size_t data_off;

        for (int i = 0; i < 15; i++)
                data[i] = (float)i * 0.25f;
        data_off = write_npy(path_of("raw.npy"),
                             "{'descr': '<f4', 'fortran_order': False, 'shape': (5, 3), }",
                             data, sizeof(data));

        memset(&o, 0, sizeof(o));
        o.path = path_of("raw.npy");
        o.tensors = &spec;
        o.n_tensors = 1;
        swarm_err_clear(&err);
        if (score_reader_open(&o, &r, &err)) {
                CHECK(0, "raw npy open: %s", err.msg);
                return;
        }
        memset(x, 0, sizeof(x));
        CHECK(!score_reader_next_raw(r, x, 2, &got, &err) && got == 2,
              "raw: 2 rows, got %llu", (unsigned long long)got);
        CHECK(!memcmp(x, data, 24), "raw: rows 0-1");
        memset(&row, 0, sizeof(row));
        row.dst[0] = x + 24;
        CHECK(!score_reader_next(r, &row, &err) && row.kind == SCORE_ROW_OK &&
                      row.record == 2 && !memcmp(x + 24, data + 6, 12),
              "raw: row 2 read one by one after the raw rows");
        CHECK(!score_reader_next_raw(r, x + 36, 10, &got, &err) && got == 2,
              "raw: the last 2 rows, got %llu", (unsigned long long)got);
        CHECK(!memcmp(x, data, sizeof(data)), "raw: rows 3-4");
        score_reader_tell(r, &pos);
        CHECK(pos.record == 5 && pos.offset == data_off + sizeof(data),
              "raw: position %llu/%llu", (unsigned long long)pos.record,
              (unsigned long long)pos.offset);
        CHECK(!score_reader_next_raw(r, x, 10, &got, &err) && got == 0,
              "raw: nothing after the end");
        CHECK(!score_reader_next(r, &row, &err) && row.kind == SCORE_ROW_EOF,
              "raw: EOF");
        /* a resume position is read on from too */
        pos.record = 4;
        pos.offset = data_off + 4 * 12;
        CHECK(!score_reader_seek(r, &pos, &err) &&
                      !score_reader_next_raw(r, x, 10, &got, &err) && got == 1 &&
                      !memcmp(x, data + 12, 12),
              "raw: after a seek");
        score_reader_destroy(r);

        /* a float64 file converts: no raw rows, the caller reads one by one */
        spec.dtype = SWARM_DTYPE_FLOAT32;
        o.path = path_of("in.npy");
        if (score_reader_open(&o, &r, &err)) {
                CHECK(0, "npy open: %s", err.msg);
                return;
        }
        got = 99;
        CHECK(!score_reader_next_raw(r, x, 10, &got, &err) && got == 0,
              "raw: float64 rows are not raw");
        score_reader_destroy(r);
}

/* ------------------------------------------------------------ output */

static int read_all(const char *path, uint8_t **buf, size_t *len) {
        FILE *f = fopen(path, "rb");
        long n;
        if (!f)
                return -1;
        fseek(f, 0, SEEK_END);
        n = ftell(f);
        fseek(f, 0, SEEK_SET);
        *buf = malloc((size_t)n + 1);
        *len = fread(*buf, 1, (size_t)n, f);
        fclose(f);
        return 0;
}

/* Write rows 0..9 of outputs probs[10,4] and ids in blocks of 4 rows; with
 * cut_after_blocks >= 0, stop after that many blocks, reopen at the offset
 * and write the rest (what a resumed run does). */
static void write_scores(const char *path, score_out_format_t fmt,
                         int cut_after_blocks, uint8_t *junk) {
        static const uint8_t sync[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
                                         13, 14, 15, 16};
        float probs[10][4];
        int64_t cls[10];
        swarm_tensor_t outs[2];
        score_out_desc_t d;
        score_writer_t *w = NULL;
        swarm_err_t err;
        uint64_t cut = 0;

        for (int i = 0; i < 10; i++) {
                for (int k = 0; k < 4; k++)
                        probs[i][k] = (float)((i + k * 3) % 7) / 10.0f;
                cls[i] = i * 1000;
        }
        memset(outs, 0, sizeof(outs));
        outs[0].name = swarm_str("probs.out");
        outs[0].dtype = SWARM_DTYPE_FLOAT32;
        outs[0].ndim = 2;
        outs[0].shape[0] = 10;
        outs[0].shape[1] = 4;
        outs[0].size = sizeof(probs);
        outs[0].data = probs;
        outs[1].name = swarm_str("cls");
        outs[1].dtype = SWARM_DTYPE_INT64;
        outs[1].ndim = 1;
        outs[1].shape[0] = 10;
        outs[1].size = sizeof(cls);
        outs[1].data = cls;
        memset(&d, 0, sizeof(d));
        d.has_id = 1;
        d.label = 1;
        d.top_k = 2;
        swarm_err_clear(&err);
        CHECK(!score_out_desc_from(&d, outs, 2, 10, &err), "desc: %s", err.msg);
        CHECK(!strcmp(d.col[0].field, "probs_out") && d.col[1].elems == 1,
              "desc: field %s elems %lld", d.col[0].field,
              (long long)d.col[1].elems);
        for (int pass = 0; pass < 2; pass++) {
                int first_block = pass ? cut_after_blocks : 0;
                if (pass == 1 && cut_after_blocks < 0)
                        break;
                if (score_writer_open(path, fmt, sync, pass ? cut : 0, &w, &err)) {
                        CHECK(0, "writer: %s", err.msg);
                        return;
                }
                CHECK(!score_writer_begin(w, &d, &err), "begin: %s", err.msg);
                for (int blk = first_block; blk < 3; blk++) {
                        score_out_row_t rows[4];
                        char ids[4][16];
                        int n = 0;
                        for (int i = blk * 4; i < 10 && i < blk * 4 + 4; i++, n++) {
                                snprintf(ids[n], sizeof(ids[n]), "id-%d", i);
                                rows[n].record = (uint64_t)i;
                                rows[n].id = ids[n];
                                rows[n].out[0] = (const uint8_t *)probs[i];
                                rows[n].out[1] = (const uint8_t *)&cls[i];
                        }
                        CHECK(!score_writer_block(w, rows, (size_t)n, &err),
                              "block: %s", err.msg);
                        if (pass == 0 && blk + 1 == cut_after_blocks) {
                                cut = score_writer_offset(w);
                                /* what an interrupted run left after the
                                 * checkpoint: overwritten on resume */
                                if (junk) {
                                        CHECK(!score_writer_block(w, rows, 1, &err),
                                              "junk block");
                                }
                                break;
                        }
                }
                CHECK(!score_writer_close(w, &err), "close: %s", err.msg);
        }
}

static void test_output(void) {
        uint8_t *a = NULL, *b = NULL, *c = NULL, junk = 1;
        size_t la = 0, lb = 0, lc = 0;
        avro_file_reader_t fr;
        avro_schema_t ws;
        avro_value_iface_t *iface;
        avro_value_t rec;
        int n = 0, rc;

        write_scores(path_of("out1.avro"), SCORE_OUT_AVRO, -1, NULL);
        write_scores(path_of("out2.avro"), SCORE_OUT_AVRO, -1, NULL);
        write_scores(path_of("out3.avro"), SCORE_OUT_AVRO, 1, &junk);
        read_all(path_of("out1.avro"), &a, &la);
        read_all(path_of("out2.avro"), &b, &lb);
        read_all(path_of("out3.avro"), &c, &lc);
        CHECK(la > 0 && la == lb && !memcmp(a, b, la), "two writes differ");
        CHECK(la == lc && !memcmp(a, c, la), "a resumed write differs (%zu vs %zu)",
              la, lc);
        free(a);
        free(b);
        free(c);

        if (avro_file_reader(path_of("out1.avro"), &fr)) {
                CHECK(0, "Avro C cannot read the output: %s", avro_strerror());
                return;
        }
        ws = avro_file_reader_get_writer_schema(fr);
        iface = avro_generic_class_from_schema(ws);
        avro_generic_value_new(iface, &rec);
        while ((rc = avro_file_reader_read_value(fr, &rec)) == 0) {
                avro_value_t f, e, g;
                const char *s;
                size_t sl, cnt;
                int64_t cls;
                int32_t label, idx;
                float v, best = -1;
                int want_label = 0;
                char id[16];

                snprintf(id, sizeof(id), "id-%d", n);
                avro_value_get_by_name(&rec, "id", &f, NULL);
                avro_value_get_string(&f, &s, &sl);
                CHECK(!strcmp(s, id), "row %d: id %s", n, s);
                avro_value_get_by_name(&rec, "probs_out", &f, NULL);
                avro_value_get_size(&f, &cnt);
                CHECK(cnt == 4, "row %d: %zu probs", n, cnt);
                for (size_t k = 0; k < cnt; k++) {
                        float want = (float)((n + (int)k * 3) % 7) / 10.0f;
                        avro_value_get_by_index(&f, k, &e, NULL);
                        avro_value_get_float(&e, &v);
                        CHECK(v == want, "row %d: probs[%zu] = %g", n, k, (double)v);
                        if (want > best) {
                                best = want;
                                want_label = (int)k;
                        }
                }
                avro_value_get_by_name(&rec, "cls", &f, NULL);
                avro_value_get_long(&f, &cls);
                CHECK(cls == n * 1000, "row %d: cls %lld", n, (long long)cls);
                avro_value_get_by_name(&rec, "label", &f, NULL);
                avro_value_get_int(&f, &label);
                CHECK(label == want_label, "row %d: label %d, want %d", n, label,
                      want_label);
                avro_value_get_by_name(&rec, "top_k", &f, NULL);
                avro_value_get_size(&f, &cnt);
                CHECK(cnt == 2, "row %d: top_k has %zu", n, cnt);
                avro_value_get_by_index(&f, 0, &e, NULL);
                avro_value_get_by_name(&e, "index", &g, NULL);
                avro_value_get_int(&g, &idx);
                avro_value_get_by_name(&e, "score", &g, NULL);
                avro_value_get_float(&g, &v);
                CHECK(idx == want_label && v == best, "row %d: top1 %d %g", n, idx,
                      (double)v);
                n++;
        }
        CHECK(rc == EOF, "reading stopped early: %s", avro_strerror());
        CHECK(n == 10, "read %d rows, want 10", n);
        avro_value_decref(&rec);
        avro_value_iface_decref(iface);
        avro_schema_decref(ws);
        avro_file_reader_close(fr);

        write_scores(path_of("out.csv"), SCORE_OUT_CSV, 2, &junk);
        read_all(path_of("out.csv"), &a, &la);
        a[la] = 0;
        CHECK(!strncmp((char *)a,
                       "id,probs_out_0,probs_out_1,probs_out_2,probs_out_3,cls,label,"
                       "top1_index,top1_score,top2_index,top2_score\n"
                       "id-0,0,0.300000012,0.600000024,0.200000003,0,2,2,"
                       "0.600000024,1,0.300000012\n",
                       strlen("id,probs_out_0,probs_out_1,probs_out_2,probs_out_3,"
                              "cls,label,top1_index,top1_score,top2_index,"
                              "top2_score\nid-0,0,0.300000012,0.600000024,"
                              "0.200000003,0,2,2,0.600000024,1,0.300000012\n")),
              "CSV output:\n%.300s", a);
        {
                int lines = 0;
                for (size_t i = 0; i < la; i++)
                        lines += a[i] == '\n';
                CHECK(lines == 11, "CSV output has %d lines", lines);
        }
        free(a);
}

/* ------------------------------------------------------------ checkpoint */

static void test_ckpt(void) {
        score_ckpt_t a, b;
        swarm_err_t err;
        int found = 0;

        memset(&a, 0, sizeof(a));
        for (int i = 0; i < 16; i++) {
                a.fingerprint[i] = (uint8_t)(i * 7);
                a.sync[i] = (uint8_t)(255 - i);
        }
        a.version = 3;
        a.pos.offset = 123456789012ull;
        a.pos.record = 42;
        a.pos.line = 44;
        a.out_bytes = 999;
        a.rej_bytes = 77;
        a.scored = 40;
        a.rejected = 2;
        a.rejected_input = 1;
        a.by_status[SWARM_STATUS_OK] = 40;
        a.by_status[SWARM_STATUS_INVALID_REQUEST] = 1;
        a.elapsed_s = 1.5;
        swarm_err_clear(&err);
        CHECK(!score_ckpt_save(path_of("c.ckpt"), &a, &err), "save: %s", err.msg);
        CHECK(!score_ckpt_load(path_of("c.ckpt"), &b, &found, &err) && found,
              "load: %s", err.msg);
        CHECK(!memcmp(a.fingerprint, b.fingerprint, 16) && !memcmp(a.sync, b.sync, 16) &&
                      b.version == 3 && b.pos.offset == a.pos.offset &&
                      b.pos.record == 42 && b.pos.line == 44 && b.out_bytes == 999 &&
                      b.rej_bytes == 77 && b.scored == 40 && b.rejected == 2 &&
                      b.rejected_input == 1 && b.by_status[SWARM_STATUS_OK] == 40 &&
                      b.by_status[SWARM_STATUS_INVALID_REQUEST] == 1 &&
                      b.elapsed_s == 1.5,
              "checkpoint round trip differs");
        CHECK(!score_ckpt_load(path_of("none.ckpt"), &b, &found, &err) && !found,
              "a missing checkpoint is not 'none'");
        write_file(path_of("bad.ckpt"), "swarm-score-checkpoint 1\nrecord=-4\n", 35);
        CHECK(score_ckpt_load(path_of("bad.ckpt"), &b, &found, &err) ==
                              SWARM_ERR_PARSE &&
                      strstr(err.msg, "bad.ckpt:2"),
              "malformed checkpoint accepted: %s", err.msg);
}

/* --shape: parsed with its limits, and given to the tensor by the reader
 * only where the element counts agree (in.csv of test_csv: x = a..c, 3
 * columns). */
static void test_shape(void) {
        static const struct {
                const char *dims;
                int ok, ndim;
                int64_t d0, d1;
        } cases[] = {
                {"", 1, 0, 0, 0},               /* a scalar row: [N] */
                {"3", 1, 1, 3, 0},
                {"1,3", 1, 2, 1, 3},
                {"0", 0, 0, 0, 0},
                {"-3", 0, 0, 0, 0},
                {"1,,3", 0, 0, 0, 0},
                {"3,", 0, 0, 0, 0},
                {"a", 0, 0, 0, 0},
                {"1,2,3,4,5,6,7,8", 0, 0, 0, 0},        /* 8 dims: one too many */
                {"4294967296,4294967296", 0, 0, 0, 0},  /* 2^64 elements */
                {"99999999999999999999", 0, 0, 0, 0},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                score_tensor_spec_t s;
                swarm_err_t err;
                int rc;
                memset(&s, 0, sizeof(s));
                swarm_err_clear(&err);
                rc = score_shape_parse(cases[i].dims, &s, &err);
                CHECK((rc == 0) == cases[i].ok, "shape \"%s\": rc %d (%s)", cases[i].dims, rc,
                      err.msg);
                if (rc || !cases[i].ok)
                        continue;
                CHECK(s.shape_given && s.ndim == cases[i].ndim &&
                              (s.ndim < 1 || s.shape[0] == cases[i].d0) &&
                              (s.ndim < 2 || s.shape[1] == cases[i].d1),
                      "shape \"%s\": ndim %d", cases[i].dims, s.ndim);
        }
        for (int k = 0; k < 3; k++) {
                static const char *const dims[] = {"1,3", "", "2,2"};
                score_tensor_spec_t spec;
                score_input_opts_t o;
                score_reader_t *r = NULL;
                swarm_err_t err;
                char b1[32];
                int rc;
                snprintf(b1, sizeof(b1), "x=a..c");
                swarm_err_clear(&err);
                CHECK(!score_tensor_spec_parse(b1, &spec, &err) &&
                              !score_shape_parse(dims[k], &spec, &err),
                      "spec: %s", err.msg);
                memset(&o, 0, sizeof(o));
                o.path = path_of("in.csv");
                o.tensors = &spec;
                o.n_tensors = 1;
                o.id_column = "id";
                rc = score_reader_open(&o, &r, &err);
                if (k == 0) {
                        int n;
                        const score_tensor_t *t = rc ? NULL : score_reader_tensors(r, &n);
                        CHECK(t && t[0].ndim == 2 && t[0].shape[0] == 1 &&
                                      t[0].shape[1] == 3 && t[0].elems == 3,
                              "shape 1,3: %s", err.msg);
                } else {
                        /* 1 and 4 elements against 3 columns */
                        CHECK(rc == SWARM_ERR_INVALID && !r &&
                                      strstr(err.msg, "--shape has") &&
                                      strstr(err.msg, "a row of the input 3"),
                              "shape \"%s\": rc %d: %s", dims[k], rc, err.msg);
                }
                score_reader_destroy(r);
        }
}

int main(void) {
        char cmd[300];
        snprintf(dir, sizeof(dir), "%s/score-files-XXXXXX",
                 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return 1;
        }
        test_csv();
        test_shape();
        test_avro_in();
        test_avro_sink();
        test_npy();
        test_npy_raw();
        test_output();
        test_ckpt();
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", dir);
        if (test_failures) {
                fprintf(stderr, "%d test_failures\n", test_failures);
                return 1;
        }
        printf("score files: all checks passed\n");
        return 0;
}
