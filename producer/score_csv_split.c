/*
 * score_csv_split.c - libcsv's fields for the plain part of a line
 * (score_csv_split.h).
 *
 * What libcsv does, from its state machine: at the start of a row and
 * after each delimiter a field begins; every byte but the delimiter, the
 * quote and the terminators '\r' / '\n' is field text (a NUL byte
 * included); the first terminator ends the field and the row, and the
 * '\n' after a '\r' is skipped as an empty line.  Leading and trailing
 * spaces and tabs of an unquoted field are dropped and a quote starts
 * quoting (or is an error in strict mode), so a part with those is left to
 * libcsv, as is a line without '\n' (the file's last, which needs
 * csv_fini()) and an empty one (libcsv skips it).  A space or tab that is
 * the delimiter is a delimiter for libcsv too (it tests the delimiter
 * first).  At the start of a row and after a delimiter libcsv's state
 * differs only on a terminator (an empty row is skipped, an empty last
 * field is not); the field handed back to it starts with no terminator
 * before its quote, so it parses it the same either way.
 */
#include "score_csv_split.h"

#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Fields of line[0, n) ended by delimiters; returns where the last begins. */
static size_t split(char *line, size_t n, unsigned char delim,
                    void (*field)(void *s, size_t len, void *opaque),
                    void *opaque) {
        size_t start = 0;
#ifdef __SSE2__
        const __m128i dv = _mm_set1_epi8((char)delim);
        for (size_t base = 0; base < n; base += 16) {
                __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(line + base));
                unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, dv));
                if (n - base < 16)
                        m &= (1u << (n - base)) - 1;
                while (m) {
                        size_t pos = base + (size_t)__builtin_ctz(m);
                        m &= m - 1;
                        line[pos] = 0;
                        field(line + start, pos - start, opaque);
                        start = pos + 1;
                }
        }
#else
        for (char *d; (d = memchr(line + start, delim, n - start));) {
                size_t pos = (size_t)(d - line);
                *d = 0;
                field(line + start, pos - start, opaque);
                start = pos + 1;
        }
#endif
        return start;
}

size_t score_csv_split(char *line, size_t len, unsigned char delim,
                       void (*field)(void *s, size_t len, void *opaque),
                       void (*row)(int c, void *opaque), void *opaque) {
        size_t n, plain, start;
        const char *q;
        int term = '\n';

        if (!len || line[len - 1] != '\n' || delim == '"' || delim == '\r' ||
            delim == '\n')
                return 0;
        n = len - 1;
        if (n && line[n - 1] == '\r') {
                n--;
                term = '\r';
        }
        if (!n) /* a bare terminator */
                return 0;
        plain = n;
        if ((q = memchr(line, '"', n))) {
                /* up to the delimiter before the quote's field */
                plain = (size_t)(q - line);
                while (plain && (unsigned char)line[plain - 1] != delim)
                        plain--;
                if (!plain)
                        return 0;
        }
        /* no stray '\r' before the quote (nor in its field), no space or
         * tab to trim in the plain part */
        if (memchr(line, '\r', q ? (size_t)(q - line) : n) ||
            (delim != ' ' && memchr(line, ' ', plain)) ||
            (delim != '\t' && memchr(line, '\t', plain)))
                return 0;
        if (q) {
                /* the delimiter at plain - 1 ends the last field split */
                split(line, plain, delim, field, opaque);
                return plain;
        }
        start = split(line, n, delim, field, opaque);
        line[n] = 0;
        field(line + start, n - start, opaque);
        row(term, opaque);
        return len;
}
