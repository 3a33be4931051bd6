/*
 * bench_readers.c - rows/s of score's input readers alone (no Kafka): how
 * fast a file can be read, converted and handed to the request path.
 *
 *   bench_readers FILE [COLUMNS] [ID_COLUMN]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarm/clock.h"

#include "score_input.h"
#include "score_progress.h"

int main(int argc, char **argv) {
        score_tensor_spec_t spec = {"input", SWARM_DTYPE_FLOAT32, 0, NULL};
        score_input_opts_t o;
        score_reader_t *r = NULL;
        score_row_t row;
        swarm_err_t err;
        const score_tensor_t *t;
        uint64_t ok = 0, bad = 0, done, total;
        int64_t t0;
        int n;

        if (argc < 2) {
                fprintf(stderr, "usage: bench_readers FILE [COLUMNS] [ID_COLUMN]\n");
                return 2;
        }
        spec.columns = argc > 2 ? argv[2] : NULL;
        memset(&o, 0, sizeof(o));
        o.path = argv[1];
        o.tensors = &spec;
        o.n_tensors = 1;
        o.id_column = argc > 3 ? argv[3] : NULL;
        swarm_err_clear(&err);
        t0 = swarm_clock_us();
        if (score_reader_open(&o, &r, &err)) {
                fprintf(stderr, "bench_readers: %s\n", err.msg);
                return 1;
        }
        t = score_reader_tensors(r, &n);
        memset(&row, 0, sizeof(row));
        row.dst[0] = malloc(t[0].row_bytes);
        for (;;) {
                if (score_reader_next(r, &row, &err)) {
                        fprintf(stderr, "bench_readers: %s\n", err.msg);
                        return 1;
                }
                if (row.kind == SCORE_ROW_EOF)
                        break;
                if (row.kind == SCORE_ROW_OK)
                        ok++;
                else
                        bad++;
        }
        score_reader_progress(r, &done, &total);
        {
                double s = (double)(swarm_clock_us() - t0) / 1e6;
                printf("%s: rows=%llu rejected=%llu elements=%lld seconds=%.3f "
                       "rows_per_s=%.0f MB_per_s=%.1f\n", argv[1],
                       (unsigned long long)ok, (unsigned long long)bad,
                       (long long)t[0].elems, s, (double)(ok + bad) / s,
                       (double)total / s / 1e6);
        }
        free(row.dst[0]);
        score_reader_destroy(r);
        return 0;
}
