/*
 * test_score_num.c - the CSV reader's inline number conversion
 * (score_num_store) against the conversion it sits in front of
 * (score_num_store_slow: producer/score_csv.c's of 84d638b, unchanged:
 * Clinger's fast path, then strtoll / strtod): for every string, both give the same return code, the same
 * element bytes and the same reason; and the fast path's double is
 * strtod's, bit for bit, for every plain decimal.
 *
 * Strings: a fixed list of edge cases (signs, 0 and -0, exponents, 19 and
 * 20 digits, 2^53 +- 1, int64 and float32 limits, subnormals, overflow,
 * inf / nan text, hex floats, spaces, empty), 1,200,000 random decimals
 * (0-24 integer and fraction digits, leading zeros, optional sign, '.',
 * exponent, whitespace), 300,000 strings of random characters from a
 * number-ish alphabet, and 320,000 texts of random float32 and double
 * values at every precision; each into float32, the edge cases and a
 * quarter of the rest also into int64, int32 or uint8 (2.2 million
 * conversions, about 3 s, 7 s under ASan).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "score_input.h"
#include "score_num.h"

#include "check.h"

/* The reference is score_num_store_slow(): the conversion as it was before
 * the inline fast path (84d638b's, unchanged), which score_num_store() falls
 * back to; the inline path must give the same bytes, codes and reasons. */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng;
}

static unsigned below(unsigned n) {
        return (unsigned)(next() % n);
}

static long n_checked, n_fast_ok, n_plain;

/* One string into one dtype, both ways, at element 3 of a row of 8. */
static void one(const char *s, swarm_dtype_t dt) {
        uint8_t a[64], b[64];
        char ra[256], rb[256];
        int xa, xb;

        memset(a, 0xA5, sizeof(a));
        memset(b, 0xA5, sizeof(b));
        strcpy(ra, "-");
        strcpy(rb, "-");
        if (dt == SWARM_DTYPE_FLOAT32) {
                /* the fast path's double itself is strtod's (the float32
                 * store would hide most double rounding errors) */
                uint64_t m;
                int nf, neg, dot;
                double v, w;
                if (!score_num_plain(s, &m, &nf, &neg, &dot) &&
                    !score_num_plain_double(m, nf, neg, &v)) {
                        w = strtod(s, NULL);
                        n_plain++;
                        CHECK(!memcmp(&v, &w, sizeof(v)), "\"%s\": %.17g, "
                              "strtod %.17g", s, v, w);
                }
        }
        xa = score_num_store_slow(dt, s, "px7", a, 3, ra, sizeof(ra));
        xb = score_num_store(dt, s, "px7", b, 3, rb, sizeof(rb));
        n_checked++;
        n_fast_ok += xb == 0;
        CHECK(xa == xb, "\"%s\" dtype %d: returned %d, the old conversion %d",
              s, (int)dt, xb, xa);
        CHECK(!memcmp(a, b, sizeof(a)), "\"%s\" dtype %d: other element bytes",
              s, (int)dt);
        if (xa && xb)
                CHECK(!strcmp(ra, rb), "\"%s\" dtype %d: reason \"%s\", the old "
                      "conversion's \"%s\"", s, (int)dt, rb, ra);
}

static void all_dtypes(const char *s) {
        one(s, SWARM_DTYPE_FLOAT32);
        one(s, SWARM_DTYPE_INT64);
        one(s, SWARM_DTYPE_INT32);
        one(s, SWARM_DTYPE_UINT8);
}

static void some_dtypes(const char *s) {
        one(s, SWARM_DTYPE_FLOAT32);
        if (!below(4))
                one(s, below(2) ? SWARM_DTYPE_INT64
                                : below(2) ? SWARM_DTYPE_INT32 : SWARM_DTYPE_UINT8);
}

static const char *const edge[] = {
        "0", "-0", "+0", "00", "000000000000000000000000", "0.0", "-0.0", ".0",
        "0.", ".", "-", "+", "-.", "", " ", "1", "-1", "+1", "5.", ".5", "-.5",
        "0.011764706", "0.003921569", "0.5058824", "1.0", "255", "-255", "256",
        "127", "128", "-128", "-129", "1e5", "1E5", "1e+5", "1e-5", "1e", "1e+",
        "e5", ".e5", "1.5e22", "1e22", "1e23", "1e-22", "1e-23", "123456789012345678",
        "1234567890123456789", "12345678901234567890", "0.1234567890123456789",
        "0.12345678901234567890", "1.234567890123456789", "9007199254740992",
        "9007199254740993", "9007199254740991", "-9007199254740993",
        "900719925474099.3", "9223372036854775807", "9223372036854775808",
        "-9223372036854775808", "-9223372036854775809", "18446744073709551615",
        "18446744073709551616", "999999999999999999", "1000000000000000000",
        "-999999999999999999", "2147483647", "2147483648", "-2147483648",
        "-2147483649", "3.4028235e38", "3.4028236e38", "340282346638528859811704183484516925440",
        "340282356779733661637539395458142568448", "1.17549435e-38", "1.4e-45",
        "7e-46", "7.1e-46", "1e-45", "4.9e-324", "2.4703282292062327e-324",
        "2.4703282292062328e-324", "5e-324", "1e-400", "1e400", "-1e400",
        "1.7976931348623157e308", "1.7976931348623159e308", "2.2250738585072014e-308",
        "2.2250738585072011e-308", "inf", "-inf", "+inf", "INF", "Inf",
        "infinity", "-Infinity", "infinit", "nan", "-nan", "NaN", "NAN",
        "nan(123)", "nan()", "nanx", "0x1p3", "0X1.8p-2", "-0x1p-1074", "0x",
        "0x1", "0xg", "0x1.fffffep127", " 1", "1 ", "\t1", "1\t", "\n1", "1\n",
        " -1", "- 1", "1 2", "1..2", "1.2.3", "--1", "+-1", "1-", "1e5.5",
        "1e-", "1e--5", "abc", "1a", "a1", "0.1f", "1,5", "1_000", "\xc2\xb5",
        "0000000000000000001", "00000000000000000001", "0.00000000000000000001",
        "1000000000000000000000", "0.000000000000000000000000000001",
        "123.456", "-123.456", "99999999999999999.9", "9.9999999999999999999",
        "0.30000000000000004", "0.1", "0.2", "0.3", "1e0", "1e-0", "1e+0",
        "1e0000000000000000000000", "1e99999999999999999999",
        "1e-99999999999999999999", "0e99999", "-0e-99999",
};

/* A random decimal: sign, integer digits, '.', fraction, exponent,
 * whitespace, each drawn on its own. */
static void rand_decimal(char *s) {
        char *p = s;
        unsigned r = below(100);

        if (r < 3)
                *p++ = " \t\n"[below(3)];
        r = below(10);
        if (r < 3)
                *p++ = '-';
        else if (r == 3)
                *p++ = '+';
        {
                unsigned ni = below(10) < 7 ? below(4) : below(25);
                int lead = below(5) == 0;
                for (unsigned i = 0; i < ni; i++)
                        *p++ = (char)('0' + (lead && i < ni / 2 ? 0 : below(10)));
        }
        if (below(4)) {
                unsigned nf = below(10) < 7 ? below(11) : below(25);
                *p++ = '.';
                for (unsigned i = 0; i < nf; i++)
                        *p++ = (char)('0' + below(10));
        }
        if (below(8) == 0) {
                *p++ = below(2) ? 'e' : 'E';
                if (below(2))
                        *p++ = below(2) ? '-' : '+';
                for (unsigned i = 0, ne = below(5); i < ne; i++)
                        *p++ = (char)('0' + below(10));
        }
        if (below(100) < 2)
                *p++ = " \t"[below(2)];
        *p = 0;
}

static void rand_chars(char *s) {
        static const char al[] = "0123456789000000.-+eExXpP inftyaNn\t";
        unsigned n = below(12);
        for (unsigned i = 0; i < n; i++)
                s[i] = al[below(sizeof(al) - 1)];
        s[n] = 0;
}

int main(void) {
        char s[128];

        for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++)
                all_dtypes(edge[i]);
        for (long i = 0; i < 1200000; i++) {
                rand_decimal(s);
                some_dtypes(s);
        }
        for (long i = 0; i < 300000; i++) {
                rand_chars(s);
                some_dtypes(s);
        }
        for (long i = 0; i < 80000; i++) {
                uint32_t u = (uint32_t)next();
                uint64_t w = next();
                float f;
                double d;
                memcpy(&f, &u, 4);
                memcpy(&d, &w, 8);
                /* every precision, so the shortest and the longer texts */
                snprintf(s, sizeof(s), "%.*g", 1 + (int)below(9), (double)f);
                some_dtypes(s);
                snprintf(s, sizeof(s), "%.*f", (int)below(12), (double)f);
                some_dtypes(s);
                snprintf(s, sizeof(s), "%.*g", 1 + (int)below(17), d);
                some_dtypes(s);
                snprintf(s, sizeof(s), "%.*f", (int)below(20),
                         (double)(u % 100000) / 1000.0);
                some_dtypes(s);
        }
        /* a test that accepted nothing, or everything, tested nothing */
        CHECK(n_checked > 2000000, "%ld conversions", n_checked);
        CHECK(n_fast_ok > n_checked / 4 && n_fast_ok < n_checked, "%ld of %ld "
              "converted", n_fast_ok, n_checked);
        CHECK(n_plain > n_checked / 4, "%ld plain decimals", n_plain);
        printf("%ld conversions, %ld accepted, %ld plain decimals\n", n_checked,
               n_fast_ok, n_plain);
        TEST_DONE();
}
