/*
 * test_score_csv_split.c - score_csv_split() against libcsv: on 100,000
 * random lines (five delimiters; digits, letters, quotes, spaces, tabs,
 * carriage returns and NUL bytes, with and without "\n" / "\r\n"; half of
 * them numeric rows with a quoted field somewhere), the fields and row ends
 * of the split followed by libcsv on the rest of the line must be libcsv's
 * on the whole line: the same texts and lengths, in the same order, the
 * same bytes consumed (a quoting error at the same byte), and the parser
 * left in the same state (a random second line after both gives the same
 * calls again).  A line the split declines is unchanged and got no call.
 * About 1 s (2.5 s under ASan).
 */
#include <csv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "score_csv_split.h"

#include "check.h"

#define OPTS (CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL)

/* The calls one parse made, as text: "F<len>:<bytes>|" per field (the
 * bytes as given, NULs included, and the NUL after them), "R<c>|" per row. */
typedef struct {
        char buf[8192];
        size_t len;
        int bad_nul;
} log_t;

static void put(log_t *l, const void *p, size_t n) {
        if (l->len + n < sizeof(l->buf)) {
                memcpy(l->buf + l->len, p, n);
                l->len += n;
        }
}

static void on_field(void *s, size_t n, void *opaque) {
        log_t *l = opaque;
        char h[32];
        int k = snprintf(h, sizeof(h), "F%zu:", n);
        put(l, h, (size_t)k);
        put(l, s, n);
        if (((const char *)s)[n] != 0)
                l->bad_nul = 1; /* CSV_APPEND_NULL: a C string */
        put(l, "|", 1);
}

static void on_row(int c, void *opaque) {
        log_t *l = opaque;
        char h[32];
        int k = snprintf(h, sizeof(h), "R%d|", c);
        put(l, h, (size_t)k);
}

static uint64_t rng = 0x2545F4914F6CDD1Dull;

static unsigned below(unsigned n) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return (unsigned)(rng % n);
}

static const char delims[] = {',', ';', '\t', ' ', '|'};

/* Random bytes, mostly plain ones. */
static size_t rand_line(char *s, unsigned char delim) {
        static const char plain[] = "0123456789.-eabcXYZ";
        static const char odd[] = "\" \t\r\0";
        size_t n = below(4) ? below(40) : below(300), i;

        for (i = 0; i < n; i++) {
                unsigned r = below(100);
                if (r < 20)
                        s[i] = (char)delim;
                else if (r < 27)
                        s[i] = odd[below(5)];
                else
                        s[i] = plain[below(sizeof(plain) - 1)];
        }
        switch (below(6)) {
        case 0: break;                          /* no terminator */
        case 1: s[i++] = '\r'; s[i++] = '\n'; break;
        default: s[i++] = '\n'; break;
        }
        return i;
}

/* A numeric row, some fields quoted, spaced or empty. */
static size_t rand_row(char *s, unsigned char delim) {
        size_t i = 0;
        unsigned nf = 1 + below(below(4) ? 12 : 120);

        for (unsigned f = 0; f < nf; f++) {
                unsigned r = below(100);
                if (f)
                        s[i++] = (char)delim;
                if (r < 4) {
                        s[i++] = '"';
                        for (unsigned k = 0, n = below(8); k < n; k++)
                                s[i++] = "ab,\" \n1"[below(7)];
                        if (below(8))
                                s[i++] = '"';
                } else if (r < 6) {
                        s[i++] = ' ';
                        s[i++] = '7';
                } else if (r < 10) {
                        /* empty */
                } else {
                        i += (size_t)sprintf(s + i, below(2) ? "%u" : "0.%u",
                                             below(1000000));
                }
        }
        if (below(10))
                s[i++] = '\n';
        else {
                s[i++] = '\r';
                s[i++] = '\n';
        }
        return i;
}

static long n_lines, n_whole, n_part;

static void one(const char *line, size_t len, const char *next, size_t nlen,
                unsigned char delim) {
        static log_t a, b;
        struct csv_parser pa, pb;
        char copy[8192 + SCORE_CSV_SPLIT_PAD], keep[8192];
        size_t ra, rb, k;

        a.len = b.len = 0;
        a.bad_nul = b.bad_nul = 0;
        if (csv_init(&pa, OPTS) || csv_init(&pb, OPTS)) {
                fprintf(stderr, "csv_init failed\n");
                exit(1);
        }
        csv_set_delim(&pa, delim);
        csv_set_delim(&pb, delim);
        ra = csv_parse(&pa, line, len, on_field, on_row, &a);

        memcpy(copy, line, len);
        memset(copy + len, 'x', SCORE_CSV_SPLIT_PAD);
        memcpy(keep, line, len);
        k = score_csv_split(copy, len, delim, on_field, on_row, &b);
        n_lines++;
        CHECK(k <= len, "split %zu of %zu bytes", k, len);
        if (k == 0) {
                CHECK(b.len == 0, "a declined line got calls");
                CHECK(!memcmp(copy, keep, len), "a declined line was changed");
        }
        n_whole += k == len;
        n_part += k && k < len;
        rb = k;
        if (k < len)
                rb += csv_parse(&pb, copy + k, len - k, on_field, on_row, &b);
        CHECK(ra == rb, "delim %d, line \"%.*s\": libcsv took %zu bytes, split "
              "and libcsv %zu", delim, (int)len, line, ra, rb);
        CHECK(a.len == b.len && !memcmp(a.buf, b.buf, a.len),
              "delim %d, line \"%.*s\" (split %zu): libcsv \"%.*s\", split "
              "\"%.*s\"", delim, (int)len, line, k, (int)a.len, a.buf,
              (int)b.len, b.buf);
        CHECK(!b.bad_nul, "a field that is not NUL-terminated");
        if (ra == len && rb == len) {
                /* the same parser state: the next line parses the same */
                a.len = b.len = 0;
                ra = csv_parse(&pa, next, nlen, on_field, on_row, &a);
                rb = csv_parse(&pb, next, nlen, on_field, on_row, &b);
                CHECK(ra == rb && a.len == b.len && !memcmp(a.buf, b.buf, a.len),
                      "line \"%.*s\" then \"%.*s\": the parsers differ", (int)len,
                      line, (int)nlen, next);
                a.len = b.len = 0;
                ra = (size_t)csv_fini(&pa, on_field, on_row, &a);
                rb = (size_t)csv_fini(&pb, on_field, on_row, &b);
                CHECK(ra == rb && a.len == b.len && !memcmp(a.buf, b.buf, a.len),
                      "line \"%.*s\" then \"%.*s\": csv_fini differs", (int)len,
                      line, (int)nlen, next);
        }
        csv_free(&pa);
        csv_free(&pb);
}

int main(void) {
        static char line[4096], next[4096];
        static const char *const fixed[] = {
                "1,2,3\n", "1,2,3\r\n", "1,2,3", "\n", "\r\n", ",\n", ",,\n",
                "a,\"b\",c\n", "\"a\",b\n", "1, 2\n", "1 ,2\n", "1,2 \n",
                "1\t,2\n", "1,\"2\n", "1,2\"3\n", "1,\"2\"x\n", "1\r2\n",
                "1,2\r\r\n", "1,  \"q\"\n", "1,\r\"q\"\n", "x,\"a,b\",\"c\"\"d\"\n",
        };
        size_t nl, nn;

        for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
                for (size_t d = 0; d < sizeof(delims); d++)
                        one(fixed[i], strlen(fixed[i]), "9\n", 2,
                            (unsigned char)delims[d]);
        /* a NUL inside a field */
        one("1,a\0b,3\n", 8, "9\n", 2, ',');
        for (long i = 0; i < 100000; i++) {
                unsigned char delim = (unsigned char)delims[below(sizeof(delims))];
                nl = below(2) ? rand_line(line, delim) : rand_row(line, delim);
                nn = rand_line(next, delim);
                one(line, nl, next, nn, delim);
        }
        /* both paths of the split were taken, and the decline too */
        CHECK(n_whole > n_lines / 10, "%ld of %ld lines split whole", n_whole,
              n_lines);
        CHECK(n_part > n_lines / 50, "%ld of %ld lines split in part", n_part,
              n_lines);
        CHECK(n_whole + n_part < n_lines, "no line declined");
        printf("%ld lines: %ld split whole, %ld in part\n", n_lines, n_whole,
               n_part);
        TEST_DONE();
}
