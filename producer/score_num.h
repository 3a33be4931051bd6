/*
 * score_num.h - one CSV field (text) into element k of a tensor row: the
 * number conversion of the CSV reader (score_csv.c), on its own so that a
 * unit test (tests/score/test_score_num.c) can hold it against the
 * conversion it replaced on millions of strings.
 *
 * The result is strtod's (or strtoll's, for integer dtypes) for every input,
 * and a rejected field gets the same reason as before.  Plain decimals
 * ("-0.011764706": an optional '-', at most 19 digits around at most one
 * '.') take an inline fast path; everything else (exponents, '+', spaces,
 * hex, inf/nan, more digits, errors) goes to score_num_store_slow().
 *
 * Why: in `bench_score_readers` on the benchmark's 100k-row CSV (784
 * fields a row, most of them "0" or "0.xxxxxxxxx"), the previous
 * conversion (Clinger's fast path in a per-character loop, then strtod) cost
 * 21-25 ns a field in isolation and 38% of the reader's samples with its
 * call overhead (about 2.3 s of the reader's 5.6-6.5 s CPU per 100k rows);
 * see bench/README.md "Offline scoring" for what this path measures.
 */
#ifndef SWARM_SCORE_NUM_H
#define SWARM_SCORE_NUM_H

#include <float.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "score_input.h"

/* The whole conversion: field `f` (a C string) into element k of `dst` of
 * `dt`.  0, or -1 with `reason` naming column `col`. */
int score_num_store_slow(swarm_dtype_t dt, const char *f, const char *col,
                         uint8_t *dst, int64_t k, char *reason, size_t rsize);

/* A plain decimal: optional '-', digits, optional '.' and digits, at least
 * one digit, at most 19 in all, nothing after (the C string ends).  Its
 * value is (neg ? -1 : 1) * m / 10^nf.  0, or -1 for any other text. */
static inline int score_num_plain(const char *s, uint64_t *m_out, int *nf_out,
                                  int *neg_out, int *dot_out) {
        const char *p = s + (*s == '-'), *d0 = p;
        uint64_t m = 0;
        int nd, nf = 0, dot = 0;

        /* more than 19 digits wrap m, but are refused below */
        while ((unsigned char)(*p - '0') < 10)
                m = m * 10 + (uint64_t)(*p++ - '0');
        nd = (int)(p - d0);
        if (*p == '.') {
                const char *f0 = ++p;
                dot = 1;
                while ((unsigned char)(*p - '0') < 10)
                        m = m * 10 + (uint64_t)(*p++ - '0');
                nf = (int)(p - f0);
                nd += nf;
        }
        if (*p || nd == 0 || nd > 19)
                return -1;
        *m_out = m;
        *nf_out = nf;
        *neg_out = *s == '-';
        *dot_out = dot;
        return 0;
}

/* score_num_plain()'s value as strtod() gives it: m and 10^nf are exact
 * doubles when m <= 2^53, so one correctly rounded division is the
 * correctly rounded value (Clinger's fast path).  -1 for a larger m. */
static inline int score_num_plain_double(uint64_t m, int nf, int neg,
                                         double *out) {
        static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,
                                     1e7,  1e8,  1e9,  1e10, 1e11, 1e12, 1e13,
                                     1e14, 1e15, 1e16, 1e17, 1e18, 1e19};
        double v;

        if (m > (1ull << 53))
                return -1;
        v = (double)m / p10[nf];
        *out = neg ? -v : v;
        return 0;
}

/* score_num_store_slow()'s result, faster for plain decimals. */
static inline int score_num_store(swarm_dtype_t dt, const char *f,
                                  const char *col, uint8_t *dst, int64_t k,
                                  char *reason, size_t rsize) {
#if FLT_EVAL_METHOD == 0
        uint64_t m;
        int nf, neg, dot;
        double v;

        if (!score_num_plain(f, &m, &nf, &neg, &dot)) {
                if (dt != SWARM_DTYPE_FLOAT32 && !dot && m < 1000000000000000000ull)
                        /* strtoll's value; stored as the slow path stores it
                         * (no column suffix) */
                        return score_store_i64(dt, dst, k,
                                               neg ? -(int64_t)m : (int64_t)m,
                                               reason, rsize)
                                       ? -1
                                       : 0;
                if (!score_num_plain_double(m, nf, neg, &v)) {
                        if (dt == SWARM_DTYPE_FLOAT32) {
                                float x = (float)v;
                                memcpy(dst + 4 * k, &x, 4);
                                return 0;
                        }
                        if (!score_store_double(dt, dst, k, v, reason, rsize))
                                return 0;
                        /* the slow path words the reason */
                }
        }
#endif
        return score_num_store_slow(dt, f, col, dst, k, reason, rsize);
}

#endif
