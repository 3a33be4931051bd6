/*
 * arrayio: .npy round trips for every supported dtype and header version,
 * every malformed-header path, CSV errors with line:column, raw with a row
 * shape.
 */
#include <math.h>
#include <stdint.h>
#include <unistd.h>

#include "swarm/arrayio.h"
#include "test_util.h"

static char dir[64];

static const char *tmp(const char *name) {
        static char path[256];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        return path;
}

static void write_file(const char *path, const void *p, size_t n) {
        FILE *fp = fopen(path, "wb");
        if (!fp || fwrite(p, 1, n, fp) != n) {
                perror(path);
                exit(1);
        }
        fclose(fp);
}

/* Build an .npy image by hand: version, the dict text (padded here), data. */
static size_t make_npy(unsigned char *out, int version, const char *dict,
                       const void *data, size_t n) {
        size_t pre = version == 1 ? 10 : 12, hl = strlen(dict), pos;
        size_t total = pre + hl + 1;
        memcpy(out, "\x93NUMPY", 6);
        out[6] = (unsigned char)version;
        out[7] = 0;
        while (total % 64)
                total++;
        hl = total - pre;
        if (version == 1) {
                out[8] = (unsigned char)(hl & 0xff);
                out[9] = (unsigned char)(hl >> 8);
        } else {
                out[8] = (unsigned char)(hl & 0xff);
                out[9] = (unsigned char)(hl >> 8);
                out[10] = out[11] = 0;
        }
        pos = pre;
        memcpy(out + pos, dict, strlen(dict));
        pos += strlen(dict);
        while (pos < total - 1)
                out[pos++] = ' ';
        out[pos++] = '\n';
        memcpy(out + pos, data, n);
        return pos + n;
}

static int load_buf(const unsigned char *img, size_t n, int to_f32,
                    swarm_array_t **a, swarm_err_t *err) {
        swarm_array_load_opts_t o = {SWARM_ARRAY_NPY, 0, {0}, to_f32};
        write_file(tmp("x.npy"), img, n);
        return swarm_array_load(tmp("x.npy"), &o, a, err);
}

static void test_npy_roundtrip(void) {
        swarm_err_t err;
        swarm_array_t *a = NULL, *b = NULL;
        int64_t shape[2] = {3, 4};
        FILE *fp;
        unsigned char hdr[10];

        swarm_err_clear(&err);
        CHECK(swarm_array_new(SWARM_DTYPE_FLOAT32, 2, shape, &a, &err) == 0);
        for (int i = 0; i < 12; i++)
                ((float *)a->data)[i] = (float)i * 0.25f - 1.0f;
        CHECK(swarm_array_write_npy(tmp("rt.npy"), a, &err) == 0);
        fp = fopen(tmp("rt.npy"), "rb");
        CHECK(fp && fread(hdr, 1, 10, fp) == 10);
        if (fp)
                fclose(fp);
        CHECK(hdr[6] == 1 && hdr[7] == 0);
        CHECK((10 + (hdr[8] | hdr[9] << 8)) % 64 == 0);
        CHECK(swarm_array_load(tmp("rt.npy"), NULL, &b, &err) == 0);
        if (b) {
                CHECK(b->dtype == SWARM_DTYPE_FLOAT32 && b->ndim == 2 &&
                      b->shape[0] == 3 && b->shape[1] == 4);
                CHECK(b->size == a->size && !memcmp(a->data, b->data, a->size));
                CHECK(swarm_array_rows(b) == 3 && swarm_array_row_bytes(b) == 16);
        }
        swarm_array_destroy(b);
        b = NULL;

        /* 1-d and CSV round trip */
        CHECK(swarm_array_write_csv(tmp("rt.csv"), a, &err) == 0);
        CHECK(swarm_array_load(tmp("rt.csv"), NULL, &b, &err) == 0);
        if (b)
                CHECK(b->shape[0] == 3 && b->shape[1] == 4 &&
                      !memcmp(a->data, b->data, a->size));
        swarm_array_destroy(b);
        b = NULL;
        a->ndim = 1;
        a->shape[0] = 12;
        CHECK(swarm_array_write_npy(tmp("1d.npy"), a, &err) == 0);
        CHECK(swarm_array_load(tmp("1d.npy"), NULL, &b, &err) == 0);
        if (b)
                CHECK(b->ndim == 1 && b->shape[0] == 12);
        swarm_array_destroy(b);
        swarm_array_destroy(a);
        CHECK(err.code == SWARM_OK);
}

static void test_npy_dtypes(void) {
        static const float want[4] = {0, 1, 2.5f, -3};
        struct {
                const char *descr;
                swarm_dtype_t dt;   /* without conversion */
                size_t es;
                unsigned char data[32];
        } cases[] = {
                {"<f4", SWARM_DTYPE_FLOAT32, 4, {0}},
                {"<f2", SWARM_DTYPE_FLOAT16, 2,
                 {0x00, 0x00, 0x00, 0x3c, 0x00, 0x41, 0x00, 0xc2}},
                {"<f8", SWARM_DTYPE_FLOAT32, 8, {0}},
                {"<i8", SWARM_DTYPE_INT64, 8, {0}},
                {"<i4", SWARM_DTYPE_INT32, 4, {0}},
                {"|u1", SWARM_DTYPE_UINT8, 1, {0, 1, 2, 3}},
        };
        memcpy(cases[0].data, want, 16);
        {
                double d[4] = {0, 1, 2.5, -3};
                int64_t l[4] = {0, 1, 2, -3};
                int32_t i[4] = {0, 1, 2, -3};
                memcpy(cases[2].data, d, 32);
                memcpy(cases[3].data, l, 32);
                memcpy(cases[4].data, i, 16);
        }
        for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
                unsigned char img[256];
                char dict[128];
                size_t n;
                swarm_err_t err;
                swarm_array_t *a = NULL;

                swarm_err_clear(&err);
                snprintf(dict, sizeof(dict),
                         "{'descr': '%s', 'fortran_order': False, 'shape': (2, 2), }",
                         cases[c].descr);
                for (int version = 1; version <= 3; version++) {
                        n = make_npy(img, version, dict, cases[c].data,
                                     4 * cases[c].es);
                        for (int conv = 0; conv <= 1; conv++) {
                                int r = load_buf(img, n, conv, &a, &err);
                                if (r) {
                                        fprintf(stderr, "%s v%d: %s\n",
                                                cases[c].descr, version, err.msg);
                                        test_failures++;
                                        swarm_err_clear(&err);
                                        continue;
                                }
                                CHECK(a->ndim == 2 && a->shape[0] == 2 &&
                                      a->shape[1] == 2);
                                if (!conv) {
                                        CHECK(a->dtype == cases[c].dt);
                                } else {
                                        CHECK(a->dtype == SWARM_DTYPE_FLOAT32);
                                }
                                if (a->dtype == SWARM_DTYPE_FLOAT32) {
                                        const float *f = a->data;
                                        for (int k = 0; k < 4; k++) {
                                                float w = cases[c].dt == SWARM_DTYPE_UINT8
                                                                  ? (float)k
                                                          : cases[c].dt == SWARM_DTYPE_INT64 ||
                                                                  cases[c].dt == SWARM_DTYPE_INT32
                                                                  ? (float)(k == 3 ? -3 : k)
                                                                  : want[k];
                                                if (f[k] != w) {
                                                        fprintf(stderr,
                                                                "%s conv=%d [%d] = %g, "
                                                                "want %g\n",
                                                                cases[c].descr, conv, k,
                                                                f[k], w);
                                                        test_failures++;
                                                }
                                        }
                                } else {
                                        CHECK(a->size == 4 * cases[c].es &&
                                              !memcmp(a->data, cases[c].data,
                                                      a->size));
                                }
                                swarm_array_destroy(a);
                                a = NULL;
                        }
                }
                /* in-memory parser agrees */
                n = make_npy(img, 1, dict, cases[c].data, 4 * cases[c].es);
                CHECK(swarm_array_parse_npy(img, n, "mem", 1, &a, &err) == 0);
                swarm_array_destroy(a);
        }
}

static void test_npy_malformed(void) {
        static const float d[6] = {1, 2, 3, 4, 5, 6};
        unsigned char img[512];
        swarm_err_t err;
        swarm_array_t *a = NULL;
        size_t n;

        swarm_err_clear(&err);
#define DICT(descr, fo, shape)                                                 \
        "{'descr': '" descr "', 'fortran_order': " fo ", 'shape': " shape ", }"

        n = make_npy(img, 1, DICT("<f4", "False", "(2, 3)"), d, sizeof(d));
        CHECK(load_buf(img, n, 0, &a, &err) == 0);
        swarm_array_destroy(a);
        a = NULL;

        img[0] = 'X';
        CHECK_ERR(load_buf(img, n, 0, &a, &err), err, SWARM_ERR_PARSE, "bad magic");
        img[0] = 0x93;
        img[6] = 9;
        CHECK_ERR(load_buf(img, n, 0, &a, &err), err, SWARM_ERR_UNSUPPORTED,
                  "version 9.0");
        img[6] = 1;

        /* header length beyond the file */
        CHECK_ERR(load_buf(img, 40, 0, &a, &err), err, SWARM_ERR_TRUNCATED,
                  "header declares");
        /* data truncated */
        CHECK_ERR(load_buf(img, n - 4, 0, &a, &err), err, SWARM_ERR_TRUNCATED,
                  "data truncated");
        /* trailing bytes */
        n = make_npy(img, 1, DICT("<f4", "False", "(5,)"), d, sizeof(d));
        CHECK_ERR(load_buf(img, n, 0, &a, &err), err, SWARM_ERR_INVALID,
                  "bytes after the data");

        n = make_npy(img, 1, DICT("<f4", "True", "(2, 3)"), d, sizeof(d));
        CHECK_ERR(load_buf(img, n, 0, &a, &err), err, SWARM_ERR_UNSUPPORTED,
                  "Fortran order");
        n = make_npy(img, 1, DICT(">f4", "False", "(2, 3)"), d, sizeof(d));
        CHECK_ERR(load_buf(img, n, 0, &a, &err), err, SWARM_ERR_UNSUPPORTED,
                  "big-endian");
        n = make_npy(img, 1, DICT("<c8", "False", "(3,)"), d, sizeof(d));
        CHECK_ERR(load_buf(img, n, 0, &a, &err), err, SWARM_ERR_UNSUPPORTED,
                  "'<c8' is not supported");
        n = make_npy(img, 1, DICT("<f4", "False", "(6)"), d, sizeof(d));
        CHECK_ERR(load_buf(img, n, 0, &a, &err), err, SWARM_ERR_PARSE,
                  "trailing comma");
        n = make_npy(img, 1, DICT("<f4", "Maybe", "(6,)"), d, sizeof(d));
        CHECK_ERR(load_buf(img, n, 0, &a, &err), err, SWARM_ERR_PARSE,
                  "'fortran_order' must be True or False");
        n = make_npy(img, 1, DICT("<f4", "False", "(2, -3)"), d, sizeof(d));
        CHECK_ERR(load_buf(img, n, 0, &a, &err), err, SWARM_ERR_PARSE,
                  "'shape' must be a tuple");
        n = make_npy(img, 1, "{'descr': '<f4', 'shape': (6,), }", d, sizeof(d));
        CHECK_ERR(load_buf(img, n, 0, &a, &err), err, SWARM_ERR_PARSE,
                  "lacks 'fortran_order'");
        n = make_npy(img, 1,
                     "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), "
                     "'extra': 1}", d, sizeof(d));
        CHECK_ERR(load_buf(img, n, 0, &a, &err), err, SWARM_ERR_PARSE,
                  "unexpected or duplicate key 'extra'");
        n = make_npy(img, 1,
                     "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, "
                     "'shape': (6,)}", d, sizeof(d));
        CHECK_ERR(load_buf(img, n, 0, &a, &err), err, SWARM_ERR_PARSE,
                  "duplicate key 'descr'");
        n = make_npy(img, 1, "{'descr': '<f4', 'fortran_order': False, "
                     "'shape': (6,)} junk", d, sizeof(d));
        CHECK_ERR(load_buf(img, n, 0, &a, &err), err, SWARM_ERR_PARSE,
                  "after the dict");
        n = make_npy(img, 1, "['descr', '<f4']", d, sizeof(d));
        CHECK_ERR(load_buf(img, n, 0, &a, &err), err, SWARM_ERR_PARSE,
                  "expected '{'");
        CHECK_ERR(load_buf(img, 7, 0, &a, &err), err, SWARM_ERR_PARSE,
                  "not an .npy file");
        CHECK_ERR(swarm_array_load(tmp("missing.npy"), NULL, &a, &err), err,
                  SWARM_ERR_IO, "No such file");
#undef DICT
}

static void test_csv(void) {
        swarm_err_t err;
        swarm_array_t *a = NULL;
        const char *good = "# x,y,z\n1, 2,3.5\r\n\n-4,5e-1 ,6\n";

        swarm_err_clear(&err);
        write_file(tmp("g.csv"), good, strlen(good));
        CHECK(swarm_array_load(tmp("g.csv"), NULL, &a, &err) == 0);
        if (a) {
                const float *f = a->data;
                CHECK(a->dtype == SWARM_DTYPE_FLOAT32 && a->ndim == 2 &&
                      a->shape[0] == 2 && a->shape[1] == 3);
                CHECK(f[0] == 1 && f[2] == 3.5f && f[3] == -4 && f[4] == 0.5f);
        }
        swarm_array_destroy(a);
        a = NULL;

        write_file(tmp("b1.csv"), "1,2,3\n4,5,x7\n", 13);
        CHECK_ERR(swarm_array_load(tmp("b1.csv"), NULL, &a, &err), err,
                  SWARM_ERR_PARSE, "b1.csv:2:5: expected a number, got \"x7\"");
        write_file(tmp("b2.csv"), "1,2,3\n\n4,5\n", 11);
        CHECK_ERR(swarm_array_load(tmp("b2.csv"), NULL, &a, &err), err,
                  SWARM_ERR_PARSE, "b2.csv:3:4: row has 2 columns, expected 3");
        write_file(tmp("b3.csv"), "1,,3\n", 5);
        CHECK_ERR(swarm_array_load(tmp("b3.csv"), NULL, &a, &err), err,
                  SWARM_ERR_PARSE, "b3.csv:1:3: empty field");
        write_file(tmp("b4.csv"), "1;2\n", 4);
        CHECK_ERR(swarm_array_load(tmp("b4.csv"), NULL, &a, &err), err,
                  SWARM_ERR_PARSE, "b4.csv:1:2: unexpected character ';'");
        /* a NUL byte used to stop the scanner short of the end: a hang */
        write_file(tmp("b6.csv"), "1,2\n\0\n3,4\n", 9);
        CHECK_ERR(swarm_array_load(tmp("b6.csv"), NULL, &a, &err), err,
                  SWARM_ERR_PARSE, "b6.csv:2:1: NUL byte in a text file");
        write_file(tmp("b5.csv"), "1,1e999\n", 8);
        CHECK_ERR(swarm_array_load(tmp("b5.csv"), NULL, &a, &err), err,
                  SWARM_ERR_PARSE, "b5.csv:1:3: number out of float32 range");
        write_file(tmp("b6.csv"), "# only a comment\n", 17);
        CHECK_ERR(swarm_array_load(tmp("b6.csv"), NULL, &a, &err), err,
                  SWARM_ERR_INVALID, "no data rows");
}

static void test_raw(void) {
        float d[12];
        swarm_err_t err;
        swarm_array_t *a = NULL;
        swarm_array_load_opts_t o;
        int ndim = 0;

        swarm_err_clear(&err);
        memset(&o, 0, sizeof(o));
        for (int i = 0; i < 12; i++)
                d[i] = (float)i;
        write_file(tmp("x.f32"), d, sizeof(d));
        CHECK(swarm_array_shape_parse("2,2", o.row_shape, SWARM_MAX_DIMS - 1,
                                      &o.row_ndim, &err) == 0 && o.row_ndim == 2);
        CHECK(swarm_array_load(tmp("x.f32"), &o, &a, &err) == 0);
        if (a) {
                CHECK(a->ndim == 3 && a->shape[0] == 3 && a->shape[1] == 2 &&
                      a->shape[2] == 2 && a->size == sizeof(d) &&
                      !memcmp(a->data, d, sizeof(d)));
        }
        swarm_array_destroy(a);
        a = NULL;
        o.row_shape[1] = 5; /* 10 floats per row: 48 bytes is no multiple */
        CHECK_ERR(swarm_array_load(tmp("x.f32"), &o, &a, &err), err,
                  SWARM_ERR_INVALID, "not a positive multiple of the row size 40");
        o.row_ndim = 0;
        CHECK_ERR(swarm_array_load(tmp("x.f32"), &o, &a, &err), err,
                  SWARM_ERR_INVALID, "needs a row shape");
        /* --format raw overrides the extension */
        o.format = SWARM_ARRAY_RAW;
        o.row_ndim = 1;
        o.row_shape[0] = 3;
        write_file(tmp("y.npy"), d, sizeof(d));
        CHECK(swarm_array_load(tmp("y.npy"), &o, &a, &err) == 0);
        if (a)
                CHECK(a->shape[0] == 4 && a->shape[1] == 3);
        swarm_array_destroy(a);

        CHECK_ERR(swarm_array_shape_parse("28,0", o.row_shape, 7, &ndim, &err),
                  err, SWARM_ERR_INVALID, "dimension 2 is not a positive");
        CHECK_ERR(swarm_array_shape_parse("28;3", o.row_shape, 7, &ndim, &err),
                  err, SWARM_ERR_INVALID, "unexpected ';'");
        CHECK(swarm_array_format_of("A.NPY") == SWARM_ARRAY_NPY);
        CHECK(swarm_array_format_of("a.csv") == SWARM_ARRAY_CSV);
        CHECK(swarm_array_format_of("a.bin") == SWARM_ARRAY_RAW);
        CHECK(swarm_array_format_parse("csv") == SWARM_ARRAY_CSV);
        CHECK(swarm_array_format_parse("xml") == -1);
}

int main(void) {
        char cmd[128];

        snprintf(dir, sizeof(dir), "/tmp/swarm-arrayio-XXXXXX");
        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return 1;
        }
        test_npy_roundtrip();
        test_npy_dtypes();
        test_npy_malformed();
        test_csv();
        test_raw();
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", dir);
        TEST_DONE();
}
