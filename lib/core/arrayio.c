/*
 * arrayio.c - .npy, CSV and raw float32 arrays.
 *
 * .npy and raw files are mapped (MAP_PRIVATE) and, when no conversion is
 * needed and the data is aligned, the array points straight into the
 * mapping: a 1 GB input costs no copy and no resident memory until the
 * producer touches it.  Every field of the .npy header is checked before the
 * data is, and the data size must match the shape exactly.
 */
#include "swarm/arrayio.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------ helpers */

static float half_to_float(uint16_t h) {
        uint32_t sign = (uint32_t)(h >> 15) << 31;
        uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
        float f;

        if (exp == 0) {
                /* zero or subnormal: value = man * 2^-24 */
                f = ldexpf((float)man, -24);
                return sign ? -f : f;
        }
        if (exp == 31)
                bits = sign | 0x7f800000u | (man << 13);
        else
                bits = sign | ((exp + 112) << 23) | (man << 13);
        memcpy(&f, &bits, sizeof(f));
        return f;
}

static float bf16_to_float(uint16_t h) {
        uint32_t bits = (uint32_t)h << 16;
        float f;
        memcpy(&f, &bits, sizeof(f));
        return f;
}

/* Source element kinds: the swarm dtypes plus float64, which only exists in
 * files. */
enum { K_F64 = SWARM_DTYPE__COUNT };

static size_t kind_size(int kind) {
        return kind == K_F64 ? 8 : swarm_dtype_size((swarm_dtype_t)kind);
}

/* Convert n elements of `kind` at src (any alignment) to float. */
static void convert_to_f32(int kind, const unsigned char *src, size_t n,
                           float *dst) {
        for (size_t i = 0; i < n; i++) {
                switch (kind) {
                case SWARM_DTYPE_FLOAT32:
                        memcpy(&dst[i], src + 4 * i, 4);
                        break;
                case SWARM_DTYPE_FLOAT16: {
                        uint16_t h;
                        memcpy(&h, src + 2 * i, 2);
                        dst[i] = half_to_float(h);
                        break;
                }
                case SWARM_DTYPE_BFLOAT16: {
                        uint16_t h;
                        memcpy(&h, src + 2 * i, 2);
                        dst[i] = bf16_to_float(h);
                        break;
                }
                case SWARM_DTYPE_INT64: {
                        int64_t v;
                        memcpy(&v, src + 8 * i, 8);
                        dst[i] = (float)v;
                        break;
                }
                case SWARM_DTYPE_INT32: {
                        int32_t v;
                        memcpy(&v, src + 4 * i, 4);
                        dst[i] = (float)v;
                        break;
                }
                case SWARM_DTYPE_UINT8:
                case SWARM_DTYPE_BOOL:
                        dst[i] = (float)src[i];
                        break;
                case SWARM_DTYPE_INT8:
                        dst[i] = (float)(int8_t)src[i];
                        break;
                case SWARM_DTYPE_FLOAT64:
                case K_F64: {
                        double v;
                        memcpy(&v, src + 8 * i, 8);
                        dst[i] = (float)v;
                        break;
                }
                default:
                        dst[i] = 0;
                }
        }
}

int swarm_array_format_parse(const char *name) {
        if (!name)
                return -1;
        if (!strcasecmp(name, "npy"))
                return SWARM_ARRAY_NPY;
        if (!strcasecmp(name, "csv"))
                return SWARM_ARRAY_CSV;
        if (!strcasecmp(name, "raw"))
                return SWARM_ARRAY_RAW;
        if (!strcasecmp(name, "auto"))
                return SWARM_ARRAY_AUTO;
        return -1;
}

swarm_array_format_t swarm_array_format_of(const char *path) {
        const char *dot = path ? strrchr(path, '.') : NULL;
        if (dot && !strcasecmp(dot, ".npy"))
                return SWARM_ARRAY_NPY;
        if (dot && !strcasecmp(dot, ".csv"))
                return SWARM_ARRAY_CSV;
        return SWARM_ARRAY_RAW;
}

int swarm_array_shape_parse(const char *s, int64_t *shape, int max_dims,
                            int *ndim, swarm_err_t *err) {
        const char *p = s;
        int n = 0;

        if (!s || !*s)
                return swarm_err_set(err, SWARM_ERR_INVALID, "empty shape");
        for (;;) {
                char *end;
                long long v;
                errno = 0;
                v = strtoll(p, &end, 10);
                if (end == p || errno || v <= 0)
                        return swarm_err_set(err, SWARM_ERR_INVALID,
                                             "shape \"%s\": dimension %d is not "
                                             "a positive integer", s, n + 1);
                if (n == max_dims)
                        return swarm_err_set(err, SWARM_ERR_INVALID,
                                             "shape \"%s\": more than %d dimensions",
                                             s, max_dims);
                shape[n++] = v;
                if (*end == '\0')
                        break;
                if (*end != ',' && *end != 'x')
                        return swarm_err_set(err, SWARM_ERR_INVALID,
                                             "shape \"%s\": unexpected '%c'", s,
                                             *end);
                p = end + 1;
        }
        if (swarm_shape_elems(shape, n) < 0)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "shape \"%s\" is too large", s);
        *ndim = n;
        return SWARM_OK;
}

int swarm_array_new(swarm_dtype_t dtype, int ndim, const int64_t *shape,
                    swarm_array_t **out, swarm_err_t *err) {
        swarm_array_t *a;
        int64_t elems;
        size_t es = swarm_dtype_size(dtype);

        if (!es || ndim < 0 || ndim > SWARM_MAX_DIMS)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "array: bad dtype or %d dimensions", ndim);
        elems = swarm_shape_elems(shape, ndim);
        if (elems < 0)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "array: bad or too large shape");
        if ((uint64_t)elems > SIZE_MAX / es)
                return swarm_err_set(err, SWARM_ERR_NOMEM, "array too large");
        a = calloc(1, sizeof(*a));
        if (!a)
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        a->dtype = dtype;
        a->ndim = ndim;
        for (int i = 0; i < ndim; i++)
                a->shape[i] = shape[i];
        a->size = (size_t)elems * es;
        a->data = calloc(1, a->size ? a->size : 1);
        if (!a->data) {
                free(a);
                return swarm_err_set(err, SWARM_ERR_NOMEM,
                                     "out of memory allocating %zu bytes",
                                     (size_t)elems * es);
        }
        *out = a;
        return SWARM_OK;
}

void swarm_array_destroy(swarm_array_t *a) {
        if (!a)
                return;
        if (a->map)
                munmap(a->map, a->map_len);
        else
                free(a->data);
        free(a);
}

int64_t swarm_array_rows(const swarm_array_t *a) {
        return a->ndim > 0 ? a->shape[0] : 1;
}

size_t swarm_array_row_bytes(const swarm_array_t *a) {
        int64_t rows = swarm_array_rows(a);
        return rows > 0 ? a->size / (size_t)rows : 0;
}

/* A whole file, mapped (or NULL for an empty one). */
typedef struct file_map {
        unsigned char *p;
        size_t len;
} file_map_t;

/* An array over `data` (size bytes) that it now owns: map / map_len is
 * the mapping it lies in, unmapped on destroy (NULL: data is malloc'd).
 * On error nothing changes hands. */
static int array_over(swarm_dtype_t dtype, int ndim, const int64_t *shape,
                      void *data, size_t size, void *map, size_t map_len,
                      swarm_array_t **out, swarm_err_t *err) {
        swarm_array_t *a = calloc(1, sizeof(*a));

        if (!a)
                return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
        a->dtype = dtype;
        a->ndim = ndim;
        memcpy(a->shape, shape, (size_t)ndim * sizeof(*shape));
        a->data = data;
        a->size = size;
        a->map = map;
        a->map_len = map_len;
        *out = a;
        return SWARM_OK;
}

static int map_file(const char *path, file_map_t *m, swarm_err_t *err) {
        struct stat st;
        int fd = open(path, O_RDONLY | O_CLOEXEC), r = SWARM_OK;

        m->p = NULL;
        m->len = 0;
        if (fd < 0)
                return swarm_err_set(err, SWARM_ERR_IO, "%s: %s", path,
                                     strerror(errno));
        if (fstat(fd, &st) < 0) {
                r = swarm_err_set(err, SWARM_ERR_IO, "%s: %s", path,
                                  strerror(errno));
                goto out;
        }
        if (!S_ISREG(st.st_mode)) {
                r = swarm_err_set(err, SWARM_ERR_IO, "%s: not a regular file",
                                  path);
                goto out;
        }
        if (st.st_size == 0)
                goto out;
        /* PROT_WRITE with MAP_PRIVATE: callers may convert in place without
         * touching the file (copy on write). */
        m->p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE, fd, 0);
        if (m->p == MAP_FAILED) {
                m->p = NULL;
                r = swarm_err_set(err, SWARM_ERR_IO, "%s: mmap: %s", path,
                                  strerror(errno));
                goto out;
        }
        m->len = (size_t)st.st_size;
out:
        close(fd);
        return r;
}

/* ------------------------------------------------------------ .npy */

typedef struct npy_hdr {
        int kind;
        int ndim;
        int64_t shape[SWARM_MAX_DIMS];
        size_t data_off;
} npy_hdr_t;

typedef struct lexer {
        const char *p, *end;
        const char *name;
        swarm_err_t *err;
} lexer_t;

static void skip_ws(lexer_t *lx) {
        while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t' ||
                                   *lx->p == '\n' || *lx->p == '\r'))
                lx->p++;
}

static int expect(lexer_t *lx, char c, const char *what) {
        skip_ws(lx);
        if (lx->p >= lx->end || *lx->p != c)
                return swarm_err_set(lx->err, SWARM_ERR_PARSE,
                                     "%s: .npy header: expected '%c' %s", lx->name,
                                     c, what);
        lx->p++;
        return SWARM_OK;
}

/* A Python string literal without escapes (numpy never writes any). */
static int lex_string(lexer_t *lx, char *buf, size_t size, const char *what) {
        char q;
        size_t n = 0;

        skip_ws(lx);
        if (lx->p >= lx->end || (*lx->p != '\'' && *lx->p != '"'))
                return swarm_err_set(lx->err, SWARM_ERR_PARSE,
                                     "%s: .npy header: %s must be a string",
                                     lx->name, what);
        q = *lx->p++;
        while (lx->p < lx->end && *lx->p != q) {
                if (*lx->p == '\\' || n + 1 >= size)
                        return swarm_err_set(lx->err, SWARM_ERR_PARSE,
                                             "%s: .npy header: %s is malformed "
                                             "or too long", lx->name, what);
                buf[n++] = *lx->p++;
        }
        if (lx->p >= lx->end)
                return swarm_err_set(lx->err, SWARM_ERR_PARSE,
                                     "%s: .npy header: unterminated string in %s",
                                     lx->name, what);
        lx->p++;
        buf[n] = '\0';
        return SWARM_OK;
}

static int parse_descr(lexer_t *lx, int *kind) {
        static const struct {
                const char *s;
                int kind;
        } known[] = {
                {"<f4", SWARM_DTYPE_FLOAT32}, {"<f2", SWARM_DTYPE_FLOAT16},
                {"<i8", SWARM_DTYPE_INT64},   {"<i4", SWARM_DTYPE_INT32},
                {"|u1", SWARM_DTYPE_UINT8},   {"<u1", SWARM_DTYPE_UINT8},
                {"|i1", SWARM_DTYPE_INT8},    {"<i1", SWARM_DTYPE_INT8},
                {"|b1", SWARM_DTYPE_BOOL},    {"<b1", SWARM_DTYPE_BOOL},
                {"<f8", K_F64},
        };
        char d[32];
        int r;

        skip_ws(lx);
        if (lx->p < lx->end && *lx->p == '[')
                return swarm_err_set(lx->err, SWARM_ERR_UNSUPPORTED,
                                     "%s: .npy structured dtypes are not supported",
                                     lx->name);
        if ((r = lex_string(lx, d, sizeof(d), "'descr'")))
                return r;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
                if (!strcmp(d, known[i].s)) {
                        *kind = known[i].kind;
                        return SWARM_OK;
                }
        if (d[0] == '>')
                return swarm_err_set(lx->err, SWARM_ERR_UNSUPPORTED,
                                     "%s: .npy dtype '%s' is big-endian; convert "
                                     "with arr.astype(arr.dtype.newbyteorder('<'))",
                                     lx->name, d);
        return swarm_err_set(lx->err, SWARM_ERR_UNSUPPORTED,
                             "%s: .npy dtype '%s' is not supported (supported: "
                             "<f4 <f2 <f8 <i8 <i4 |u1)", lx->name, d);
}

static int parse_bool(lexer_t *lx, int *v) {
        skip_ws(lx);
        if (lx->end - lx->p >= 4 && !memcmp(lx->p, "True", 4)) {
                lx->p += 4;
                *v = 1;
                return SWARM_OK;
        }
        if (lx->end - lx->p >= 5 && !memcmp(lx->p, "False", 5)) {
                lx->p += 5;
                *v = 0;
                return SWARM_OK;
        }
        return swarm_err_set(lx->err, SWARM_ERR_PARSE,
                             "%s: .npy header: 'fortran_order' must be True or "
                             "False", lx->name);
}

static int parse_shape(lexer_t *lx, npy_hdr_t *h) {
        int r;

        if ((r = expect(lx, '(', "to open 'shape'")))
                return r;
        h->ndim = 0;
        for (;;) {
                int64_t v = 0;
                int digits = 0;

                skip_ws(lx);
                if (lx->p < lx->end && *lx->p == ')') {
                        lx->p++;
                        break;
                }
                while (lx->p < lx->end && isdigit((unsigned char)*lx->p)) {
                        if (v > (INT64_MAX - 9) / 10)
                                return swarm_err_set(lx->err, SWARM_ERR_PARSE,
                                                     "%s: .npy header: 'shape' "
                                                     "dimension too large",
                                                     lx->name);
                        v = v * 10 + (*lx->p++ - '0');
                        digits++;
                }
                /* numpy 1.x on Windows wrote "3L" */
                if (digits && lx->p < lx->end && *lx->p == 'L')
                        lx->p++;
                if (!digits)
                        return swarm_err_set(lx->err, SWARM_ERR_PARSE,
                                             "%s: .npy header: 'shape' must be a "
                                             "tuple of non-negative integers",
                                             lx->name);
                if (h->ndim == SWARM_MAX_DIMS)
                        return swarm_err_set(lx->err, SWARM_ERR_UNSUPPORTED,
                                             "%s: .npy 'shape' has more than %d "
                                             "dimensions", lx->name,
                                             SWARM_MAX_DIMS);
                h->shape[h->ndim++] = v;
                skip_ws(lx);
                if (lx->p < lx->end && *lx->p == ',') {
                        lx->p++;
                        continue;
                }
                if ((r = expect(lx, ')', "to close 'shape'")))
                        return r;
                /* (3) is an int, not a tuple, in Python */
                if (h->ndim == 1)
                        return swarm_err_set(lx->err, SWARM_ERR_PARSE,
                                             "%s: .npy header: one-dimensional "
                                             "'shape' needs a trailing comma",
                                             lx->name);
                break;
        }
        if (swarm_shape_elems(h->shape, h->ndim) < 0)
                return swarm_err_set(lx->err, SWARM_ERR_INVALID,
                                     "%s: .npy 'shape' is too large", lx->name);
        return SWARM_OK;
}

/* Validate magic, version and the header dict. */
static int parse_npy_header(const unsigned char *buf, size_t len,
                            const char *name, npy_hdr_t *h, swarm_err_t *err) {
        size_t hlen, pre;
        lexer_t lx;
        int have_descr = 0, have_fo = 0, have_shape = 0, fortran = 0, r;

        if (len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0)
                return swarm_err_set(err, SWARM_ERR_PARSE,
                                     "%s: not an .npy file (bad magic)", name);
        if (buf[6] == 1) {
                pre = 10;
                hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
        } else if (buf[6] == 2 || buf[6] == 3) {
                pre = 12;
                if (len < pre)
                        return swarm_err_set(err, SWARM_ERR_TRUNCATED,
                                             "%s: .npy preamble truncated", name);
                hlen = (size_t)buf[8] | (size_t)buf[9] << 8 |
                       (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
        } else {
                return swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                     "%s: .npy format version %u.%u is not "
                                     "supported (1.0, 2.0, 3.0 are)", name,
                                     buf[6], buf[7]);
        }
        if (hlen > len - pre)
                return swarm_err_set(err, SWARM_ERR_TRUNCATED,
                                     "%s: .npy header declares %zu bytes but the "
                                     "file has %zu after the preamble", name,
                                     hlen, len - pre);

        lx.p = (const char *)buf + pre;
        lx.end = lx.p + hlen;
        lx.name = name;
        lx.err = err;
        if ((r = expect(&lx, '{', "at the start of the header dict")))
                return r;
        for (;;) {
                char key[32];
                skip_ws(&lx);
                if (lx.p < lx.end && *lx.p == '}') {
                        lx.p++;
                        break;
                }
                if ((r = lex_string(&lx, key, sizeof(key), "a header key")) ||
                    (r = expect(&lx, ':', "after a header key")))
                        return r;
                if (!strcmp(key, "descr") && !have_descr) {
                        have_descr = 1;
                        r = parse_descr(&lx, &h->kind);
                } else if (!strcmp(key, "fortran_order") && !have_fo) {
                        have_fo = 1;
                        r = parse_bool(&lx, &fortran);
                } else if (!strcmp(key, "shape") && !have_shape) {
                        have_shape = 1;
                        r = parse_shape(&lx, h);
                } else {
                        r = swarm_err_set(err, SWARM_ERR_PARSE,
                                          "%s: .npy header: unexpected or "
                                          "duplicate key '%s'", name, key);
                }
                if (r)
                        return r;
                skip_ws(&lx);
                if (lx.p < lx.end && *lx.p == ',') {
                        lx.p++;
                        continue;
                }
                if ((r = expect(&lx, '}', "or ',' after a header value")))
                        return r;
                break;
        }
        skip_ws(&lx);
        if (lx.p != lx.end)
                return swarm_err_set(err, SWARM_ERR_PARSE,
                                     "%s: .npy header: unexpected text after the "
                                     "dict", name);
        if (!have_descr || !have_fo || !have_shape)
                return swarm_err_set(err, SWARM_ERR_PARSE,
                                     "%s: .npy header lacks '%s'", name,
                                     !have_descr ? "descr"
                                     : !have_fo  ? "fortran_order"
                                                 : "shape");
        if (fortran)
                return swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                     "%s: .npy array is in Fortran order; only C "
                                     "order is supported (save "
                                     "np.ascontiguousarray(arr))", name);
        h->data_off = pre + hlen;
        return SWARM_OK;
}

/* Build the array from a parsed header.  With `map` set the data may stay in
 * the mapping (ownership of the mapping moves to the array on success). */
static int npy_to_array(const unsigned char *buf, size_t len, const char *name,
                        const npy_hdr_t *h, int to_float32, file_map_t *map,
                        swarm_array_t **out, swarm_err_t *err) {
        int64_t elems = swarm_shape_elems(h->shape, h->ndim);
        size_t es = kind_size(h->kind), need, have = len - h->data_off;
        int convert = h->kind == K_F64 ||
                      (to_float32 && h->kind != SWARM_DTYPE_FLOAT32);
        swarm_array_t *a;
        int r;

        if ((uint64_t)elems > SIZE_MAX / es)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "%s: .npy shape too large", name);
        need = (size_t)elems * es;
        if (have < need)
                return swarm_err_set(err, SWARM_ERR_TRUNCATED,
                                     "%s: .npy data truncated: shape needs %zu "
                                     "bytes, file has %zu", name, need, have);
        if (have > need)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "%s: .npy file has %zu bytes after the data "
                                     "the shape describes", name, have - need);
        if (map && map->p && !convert && h->data_off % 8 == 0) {
                if ((r = array_over((swarm_dtype_t)h->kind, h->ndim, h->shape,
                                    map->p + h->data_off, need, map->p,
                                    map->len, out, err)))
                        return r;
                map->p = NULL;
                return SWARM_OK;
        }
        r = swarm_array_new(convert ? SWARM_DTYPE_FLOAT32 : (swarm_dtype_t)h->kind,
                            h->ndim, h->shape, &a, err);
        if (r)
                return r;
        if (convert)
                convert_to_f32(h->kind, buf + h->data_off, (size_t)elems, a->data);
        else if (need)
                memcpy(a->data, buf + h->data_off, need);
        *out = a;
        return SWARM_OK;
}

int swarm_array_parse_npy(const void *buf, size_t len, const char *name,
                          int to_float32, swarm_array_t **out,
                          swarm_err_t *err) {
        npy_hdr_t h;
        int r;

        memset(&h, 0, sizeof(h));
        if ((r = parse_npy_header(buf, len, name, &h, err)))
                return r;
        return npy_to_array(buf, len, name, &h, to_float32, NULL, out, err);
}

int swarm_array_npy_header(const void *buf, size_t len, const char *name,
                           swarm_npy_header_t *out, swarm_err_t *err) {
        npy_hdr_t h;
        int r;

        memset(&h, 0, sizeof(h));
        memset(out, 0, sizeof(*out));
        if ((r = parse_npy_header(buf, len, name, &h, err)))
                return r;
        out->is_float64 = h.kind == K_F64;
        out->dtype = out->is_float64 ? SWARM_DTYPE_FLOAT32 : (swarm_dtype_t)h.kind;
        out->elem_size = kind_size(h.kind);
        out->ndim = h.ndim;
        memcpy(out->shape, h.shape, sizeof(h.shape));
        out->data_off = h.data_off;
        return SWARM_OK;
}

static int load_npy(const char *path, int to_float32, swarm_array_t **out,
                    swarm_err_t *err) {
        file_map_t m;
        npy_hdr_t h;
        int r;

        memset(&h, 0, sizeof(h));
        if ((r = map_file(path, &m, err)))
                return r;
        if ((r = parse_npy_header(m.p, m.len, path, &h, err)))
                goto out;
        r = npy_to_array(m.p, m.len, path, &h, to_float32, &m, out, err);
out:
        if (m.p)
                munmap(m.p, m.len);
        return r;
}

/* ------------------------------------------------------------ raw */

static int load_raw(const char *path, const swarm_array_load_opts_t *o,
                    swarm_array_t **out, swarm_err_t *err) {
        file_map_t m = {NULL, 0};
        int64_t row_elems, shape[SWARM_MAX_DIMS];
        size_t row_bytes;
        int r;

        if (!o || o->row_ndim <= 0 || o->row_ndim > SWARM_MAX_DIMS - 1)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "%s: raw float32 input needs a row shape "
                                     "(--shape D1,D2,...)", path);
        row_elems = swarm_shape_elems(o->row_shape, o->row_ndim);
        if (row_elems <= 0)
                return swarm_err_set(err, SWARM_ERR_INVALID,
                                     "%s: bad row shape", path);
        row_bytes = (size_t)row_elems * sizeof(float);
        if ((r = map_file(path, &m, err)))
                return r;
        if (m.len == 0 || m.len % row_bytes) {
                r = swarm_err_set(err, SWARM_ERR_INVALID,
                                  "%s: size %zu bytes is not a positive multiple "
                                  "of the row size %zu (%lld float32)", path,
                                  m.len, row_bytes, (long long)row_elems);
                goto out;
        }
        shape[0] = (int64_t)(m.len / row_bytes);
        for (int i = 0; i < o->row_ndim; i++)
                shape[i + 1] = o->row_shape[i];
        if (!(r = array_over(SWARM_DTYPE_FLOAT32, o->row_ndim + 1, shape, m.p,
                             m.len, m.p, m.len, out, err)))
                m.p = NULL;
out:
        if (m.p)
                munmap(m.p, m.len);
        return r;
}

/* ------------------------------------------------------------ CSV */

static int load_csv(const char *path, swarm_array_t **out, swarm_err_t *err) {
        file_map_t m = {NULL, 0};
        char *text = NULL;
        float *v = NULL;
        size_t nv = 0, cap = 0;
        int64_t rows = 0, cols = -1;
        long line = 0;
        const char *p, *end;
        int r;

        if ((r = map_file(path, &m, err)))
                return r;
        /* a NUL-terminated copy, so strtof can never run off the end */
        text = malloc(m.len + 1);
        if (!text) {
                r = swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                goto out;
        }
        if (m.len)
                memcpy(text, m.p, m.len);
        text[m.len] = '\0';
        p = text;
        end = text + m.len;
        /* the scanner below stops at NUL as the end of the text: a NUL byte
         * inside the file would stop it short of `end` for good (found by
         * fuzz_csv: it looped forever), so it is refused up front */
        {
                const char *nul = memchr(text, '\0', m.len), *ls = text;
                if (nul) {
                        line = 1;
                        for (const char *c = text; c < nul; c++)
                                if (*c == '\n') {
                                        line++;
                                        ls = c + 1;
                                }
                        r = swarm_err_set(err, SWARM_ERR_PARSE,
                                          "%s:%ld:%ld: NUL byte in a text file",
                                          path, line, (long)(nul - ls) + 1);
                        goto out;
                }
        }

        while (p < end) {
                const char *ls = p, *q = p;
                int64_t ncol = 0;

                line++;
                while (*q == ' ' || *q == '\t' || *q == '\r')
                        q++;
                if (*q == '\n' || *q == '\0' || *q == '#') {
                        /* blank or comment line */
                        while (*q && *q != '\n')
                                q++;
                        p = *q ? q + 1 : q;
                        continue;
                }
                for (;;) {
                        char *e;
                        float f;

                        while (*q == ' ' || *q == '\t')
                                q++;
                        if (*q == ',' || *q == '\n' || *q == '\r' || *q == '\0') {
                                r = swarm_err_set(err, SWARM_ERR_PARSE,
                                                  "%s:%ld:%ld: empty field", path,
                                                  line, (long)(q - ls) + 1);
                                goto out;
                        }
                        errno = 0;
                        f = strtof(q, &e);
                        if (e == q) {
                                int n = 0;
                                while (q[n] && q[n] != ',' && q[n] != '\n' &&
                                       q[n] != '\r' && n < 20)
                                        n++;
                                r = swarm_err_set(err, SWARM_ERR_PARSE,
                                                  "%s:%ld:%ld: expected a number, "
                                                  "got \"%.*s\"", path, line,
                                                  (long)(q - ls) + 1, n, q);
                                goto out;
                        }
                        if (errno == ERANGE && isinf(f)) {
                                r = swarm_err_set(err, SWARM_ERR_PARSE,
                                                  "%s:%ld:%ld: number out of "
                                                  "float32 range", path, line,
                                                  (long)(q - ls) + 1);
                                goto out;
                        }
                        if (nv == cap) {
                                size_t nc = cap ? cap * 2 : 1024;
                                float *nvp = realloc(v, nc * sizeof(*v));
                                if (!nvp) {
                                        r = swarm_err_set(err, SWARM_ERR_NOMEM,
                                                          "out of memory");
                                        goto out;
                                }
                                v = nvp;
                                cap = nc;
                        }
                        v[nv++] = f;
                        ncol++;
                        q = e;
                        while (*q == ' ' || *q == '\t')
                                q++;
                        if (*q == ',') {
                                q++;
                                continue;
                        }
                        if (*q == '\r')
                                q++;
                        if (*q == '\n' || *q == '\0')
                                break;
                        r = swarm_err_set(err, SWARM_ERR_PARSE,
                                          "%s:%ld:%ld: unexpected character '%c' "
                                          "(fields are separated by ',')", path,
                                          line, (long)(q - ls) + 1, *q);
                        goto out;
                }
                if (cols < 0) {
                        cols = ncol;
                } else if (ncol != cols) {
                        r = swarm_err_set(err, SWARM_ERR_PARSE,
                                          "%s:%ld:%ld: row has %lld columns, "
                                          "expected %lld like the first row", path,
                                          line, (long)(q - ls) + 1,
                                          (long long)ncol, (long long)cols);
                        goto out;
                }
                rows++;
                p = *q ? q + 1 : q;
        }
        if (rows == 0) {
                r = swarm_err_set(err, SWARM_ERR_INVALID, "%s: no data rows",
                                  path);
                goto out;
        }
        if (!(r = array_over(SWARM_DTYPE_FLOAT32, 2,
                             (const int64_t[]){rows, cols}, v,
                             nv * sizeof(float), NULL, 0, out, err)))
                v = NULL;
out:
        free(v);
        free(text);
        if (m.p)
                munmap(m.p, m.len);
        return r;
}

int swarm_array_load(const char *path, const swarm_array_load_opts_t *opts,
                     swarm_array_t **out, swarm_err_t *err) {
        swarm_array_format_t fmt = opts ? opts->format : SWARM_ARRAY_AUTO;
        int to_f32 = opts ? opts->to_float32 : 0, r;

        if (fmt == SWARM_ARRAY_AUTO)
                fmt = swarm_array_format_of(path);
        switch (fmt) {
        case SWARM_ARRAY_NPY:
                return load_npy(path, to_f32, out, err);
        case SWARM_ARRAY_CSV:
                return load_csv(path, out, err);
        case SWARM_ARRAY_RAW:
                return load_raw(path, opts, out, err);
        default:
                r = swarm_err_set(err, SWARM_ERR_INVALID, "%s: unknown format",
                                  path);
                return r;
        }
}

/* ------------------------------------------------------------ writers */

static const char *npy_descr(swarm_dtype_t dt) {
        switch (dt) {
        case SWARM_DTYPE_FLOAT32: return "<f4";
        case SWARM_DTYPE_FLOAT16: return "<f2";
        case SWARM_DTYPE_INT64: return "<i8";
        case SWARM_DTYPE_INT32: return "<i4";
        case SWARM_DTYPE_UINT8: return "|u1";
        case SWARM_DTYPE_INT8: return "|i1";
        case SWARM_DTYPE_BOOL: return "|b1";
        case SWARM_DTYPE_FLOAT64: return "<f8";
        default: return NULL;
        }
}

/* The buffer of "PATH.tmp"; a longer path is refused (write_atomic()). */
#define TMP_PATH_SIZE 4096

/* Write through path.tmp and rename, so a reader never sees half a file. */
static int write_atomic(const char *path, const void *head, size_t head_len,
                        const void *body, size_t body_len, FILE **keep,
                        swarm_err_t *err) {
        char tmp[TMP_PATH_SIZE];
        FILE *fp;

        if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
                return swarm_err_set(err, SWARM_ERR_INVALID, "%.64s...: path too long",
                                     path);
        fp = fopen(tmp, "wb");
        if (!fp)
                return swarm_err_set(err, SWARM_ERR_IO, "%s: %s", tmp,
                                     strerror(errno));
        if (keep) {
                *keep = fp;
                return SWARM_OK;
        }
        if ((head_len && fwrite(head, 1, head_len, fp) != head_len) ||
            (body_len && fwrite(body, 1, body_len, fp) != body_len)) {
                int e = errno;
                fclose(fp);
                unlink(tmp);
                return swarm_err_set(err, SWARM_ERR_IO, "%s: write: %s", tmp,
                                     strerror(e));
        }
        if (fclose(fp) != 0) {
                unlink(tmp);
                return swarm_err_set(err, SWARM_ERR_IO, "%s: close: %s", tmp,
                                     strerror(errno));
        }
        if (rename(tmp, path) != 0) {
                unlink(tmp);
                return swarm_err_set(err, SWARM_ERR_IO, "rename %s: %s", path,
                                     strerror(errno));
        }
        return SWARM_OK;
}

int swarm_array_write_npy(const char *path, const swarm_array_t *a,
                          swarm_err_t *err) {
        char hdr[1024];
        const char *descr = npy_descr(a->dtype);
        size_t n;

        if (!descr)
                return swarm_err_set(err, SWARM_ERR_UNSUPPORTED,
                                     "%s: .npy cannot store dtype %s", path,
                                     swarm_dtype_name(a->dtype));
        memcpy(hdr, "\x93NUMPY\x01\x00", 8);
        n = 10;
        n += (size_t)snprintf(hdr + n, sizeof(hdr) - n,
                              "{'descr': '%s', 'fortran_order': False, 'shape': (",
                              descr);
        for (int i = 0; i < a->ndim; i++)
                n += (size_t)snprintf(hdr + n, sizeof(hdr) - n, "%s%lld",
                                      i ? ", " : "", (long long)a->shape[i]);
        n += (size_t)snprintf(hdr + n, sizeof(hdr) - n, "%s), }",
                              a->ndim == 1 ? "," : "");
        /* pad with spaces so the data starts on a 64-byte boundary; the
         * header ends with '\n' */
        while ((n + 1) % 64)
                hdr[n++] = ' ';
        hdr[n++] = '\n';
        hdr[8] = (char)((n - 10) & 0xff);
        hdr[9] = (char)((n - 10) >> 8);
        return write_atomic(path, hdr, n, a->data, a->size, NULL, err);
}

int swarm_array_write_csv(const char *path, const swarm_array_t *a,
                          swarm_err_t *err) {
        size_t es = swarm_dtype_size(a->dtype), elems, cols;
        int64_t rows = swarm_array_rows(a);
        const unsigned char *d = a->data;
        char tmp[TMP_PATH_SIZE];
        FILE *fp = NULL;
        int r;

        if (!es)
                return swarm_err_set(err, SWARM_ERR_INVALID, "bad dtype");
        elems = a->size / es;
        cols = rows > 0 ? elems / (size_t)rows : 0;
        if ((r = write_atomic(path, NULL, 0, NULL, 0, &fp, err)))
                return r;
        for (int64_t i = 0; i < rows; i++) {
                for (size_t j = 0; j < cols; j++) {
                        size_t k = (size_t)i * cols + j;
                        if (j)
                                fputc(',', fp);
                        switch (a->dtype) {
                        case SWARM_DTYPE_INT64: {
                                int64_t x;
                                memcpy(&x, d + 8 * k, 8);
                                fprintf(fp, "%lld", (long long)x);
                                break;
                        }
                        case SWARM_DTYPE_INT32: {
                                int32_t x;
                                memcpy(&x, d + 4 * k, 4);
                                fprintf(fp, "%d", x);
                                break;
                        }
                        case SWARM_DTYPE_UINT8:
                        case SWARM_DTYPE_BOOL:
                                fprintf(fp, "%u", d[k]);
                                break;
                        case SWARM_DTYPE_INT8:
                                fprintf(fp, "%d", (int)(int8_t)d[k]);
                                break;
                        default: {
                                float f;
                                convert_to_f32((int)a->dtype, d + es * k, 1, &f);
                                fprintf(fp, "%.9g", f);
                        }
                        }
                }
                fputc('\n', fp);
        }
        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
        if (ferror(fp) | (fclose(fp) != 0)) {
                unlink(tmp);
                return swarm_err_set(err, SWARM_ERR_IO, "%s: write failed", tmp);
        }
        if (rename(tmp, path) != 0) {
                unlink(tmp);
                return swarm_err_set(err, SWARM_ERR_IO, "rename %s: %s", path,
                                     strerror(errno));
        }
        return SWARM_OK;
}
