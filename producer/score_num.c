/*
 * score_num.c - the general conversion of a CSV field (score_num.h):
 * integers by strtoll for integer dtypes, everything else by strtod, with
 * Clinger's fast path in front of strtod for short decimals with exponents.
 */
#include "score_num.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Decimal text to double without strtod when the answer is exact: up to 19
 * significant digits that fit 2^53 and a power of ten up to 22 make one
 * correctly rounded IEEE multiply or divide (Clinger's fast path), so the
 * result is strtod's.  Anything else (more digits, hex, inf, nan, spaces)
 * returns -1 and goes to strtod. */
static int fast_double(const char *s, double *out) {
        static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
        const char *p = s;
        uint64_t m = 0;
        int neg = 0, sig = 0, any = 0, e = 0;
        double v;

        if (*p == '-' || *p == '+')
                neg = *p++ == '-';
        for (; *p >= '0' && *p <= '9'; p++, any = 1) {
                if (m || *p != '0') {
                        if (++sig > 19)
                                return -1;
                        m = m * 10 + (uint64_t)(*p - '0');
                }
        }
        if (*p == '.')
                for (p++; *p >= '0' && *p <= '9'; p++, any = 1) {
                        if (m || *p != '0') {
                                if (++sig > 19)
                                        return -1;
                                m = m * 10 + (uint64_t)(*p - '0');
                        }
                        e--;
                }
        if (!any)
                return -1;
        if (*p == 'e' || *p == 'E') {
                int en = 0, eneg = 0, ed = 0;
                p++;
                if (*p == '-' || *p == '+')
                        eneg = *p++ == '-';
                for (; *p >= '0' && *p <= '9'; p++, ed++)
                        if (en < 1000)
                                en = en * 10 + (*p - '0');
                if (!ed)
                        return -1;
                e += eneg ? -en : en;
        }
        if (*p || m > (1ull << 53) || e < -22 || e > 22)
                return -1;
        v = (double)m;
        v = e < 0 ? v / p10[-e] : v * p10[e];
        *out = neg ? -v : v;
        return 0;
}

int score_num_store_slow(swarm_dtype_t dt, const char *f, const char *col,
                         uint8_t *dst, int64_t k, char *reason, size_t rsize) {
        char *end;

        if (!*f) {
                snprintf(reason, rsize, "column %s: empty value", col);
                return -1;
        }
        errno = 0;
        if (dt != SWARM_DTYPE_FLOAT32) {
                long long v = strtoll(f, &end, 10);
                if (!*end && !errno)
                        return score_store_i64(dt, dst, k, v, reason, rsize) ? -1 : 0;
                errno = 0;
        }
        {
                double v;
                if (fast_double(f, &v) &&
                    ((v = strtod(f, &end)), *end || end == f ||
                                                    (errno == ERANGE &&
                                                     dt != SWARM_DTYPE_FLOAT32))) {
                        snprintf(reason, rsize, "column %s: \"%.40s\" is not a "
                                 "number", col, f);
                        return -1;
                }
                if (score_store_double(dt, dst, k, v, reason, rsize)) {
                        size_t l = strlen(reason);
                        snprintf(reason + l, rsize - l, " (column %s)", col);
                        return -1;
                }
        }
        return 0;
}
