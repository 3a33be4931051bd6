/*
 * score_csv_split.h - the fields of a CSV line up to where a CSV parser has
 * something to do.  A line, or its part before the field that holds its
 * first quote, without a space or tab to trim or a carriage return but the
 * line's own "\r\n", is its delimiters: this splits it the way libcsv
 * (CSV_STRICT, CSV_APPEND_NULL, the default quote, space and terminator
 * characters) would, with the same callbacks, at memchr / SSE2 speed.
 * libcsv parses the rest (score_csv.c): quoted fields, spaces, every line
 * of a row that spans lines.
 *
 * Why: libcsv's byte-at-a-time state machine measured 7.7-8.7 ns a byte
 * alone (115-129 MB/s, csv_parse over the benchmark's CSV with empty
 * callbacks), 39 us of CPU a 4.9 KB row, 45% of the CSV reader's samples
 * and more than the whole online path's CPU per row (57-74 us); this
 * split is below 1 ns a byte.  tests/score/test_score_csv_split.c holds it
 * against libcsv on random lines.
 */
#ifndef SWARM_SCORE_CSV_SPLIT_H
#define SWARM_SCORE_CSV_SPLIT_H

#include <stddef.h>

/* Bytes after the line's last one that must be allocated (readable): the
 * split loads 16 bytes at a time. */
#define SCORE_CSV_SPLIT_PAD 16

/* `line` is one physical line of `len` bytes ending in '\n', in a buffer of
 * at least len + SCORE_CSV_SPLIT_PAD bytes, and the start of a row.  Fields
 * go to field(text, length, opaque), NUL-terminated in place (the line is
 * modified), the row's end to row(c, opaque) with the character that ended
 * it ('\r' for "\r\n", else '\n'), as libcsv's csv_parse() would call them.
 * Returns the bytes split:
 *   len: the whole line (every field and the row's end delivered);
 *   0 < k < len: the fields before byte k, the start of the field that
 *     holds the first quote; csv_parse() of a parser at the start of a row
 *     on line + k then gives the rest of the row exactly as it would after
 *     those fields;
 *   0: nothing delivered, nothing changed (the line is libcsv's). */
size_t score_csv_split(char *line, size_t len, unsigned char delim,
                       void (*field)(void *s, size_t len, void *opaque),
                       void (*row)(int c, void *opaque), void *opaque);

#endif
