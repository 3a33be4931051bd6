/*
 * check_scores.c - read a score output (Avro object container) with Avro
 * C's file reader and check it against the numpy reference.
 *
 *   check_scores OUT.avro EXPECTED.npy ROWS [SKIP...]
 *
 * The file must hold, in input order, exactly the records 0..ROWS-1 minus
 * the SKIP record numbers; a record's number is its "row" field, or N in an
 * "id" field "img-N".  Record i's "probabilities" must equal
 * EXPECTED[i % len(EXPECTED)] within 1e-5 (absolute), and its "label"
 * (when present) must be the arg-max.  Prints the largest absolute and
 * relative (to max(|ref|, 1e-3)) differences.  Exit 0 on success.
 */
#include <avro.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarm/arrayio.h"

int main(int argc, char **argv) {
        swarm_array_t *ref = NULL;
        swarm_array_load_opts_t lo;
        swarm_err_t err;
        avro_file_reader_t fr;
        avro_schema_t ws;
        avro_value_iface_t *iface;
        avro_value_t rec;
        long rows, next = 0, seen = 0, bad = 0;
        char *skip;
        double max_abs = 0, max_rel = 0;
        int rc;

        if (argc < 4) {
                fprintf(stderr, "usage: check_scores OUT.avro EXPECTED.npy ROWS "
                        "[SKIP...]\n");
                return 2;
        }
        rows = strtol(argv[3], NULL, 10);
        skip = calloc((size_t)rows + 1, 1);
        for (int i = 4; i < argc; i++) {
                long s = strtol(argv[i], NULL, 10);
                if (s >= 0 && s < rows)
                        skip[s] = 1;
        }
        memset(&lo, 0, sizeof(lo));
        swarm_err_clear(&err);
        if (swarm_array_load(argv[2], &lo, &ref, &err) || ref->ndim != 2) {
                fprintf(stderr, "check_scores: %s: %s\n", argv[2], err.msg);
                return 1;
        }
        if (avro_file_reader(argv[1], &fr)) {
                fprintf(stderr, "check_scores: %s: %s\n", argv[1], avro_strerror());
                return 1;
        }
        ws = avro_file_reader_get_writer_schema(fr);
        iface = avro_generic_class_from_schema(ws);
        avro_generic_value_new(iface, &rec);
        while ((rc = avro_file_reader_read_value(fr, &rec)) == 0) {
                avro_value_t f, e;
                long recno = -1;
                size_t n;
                const float *want;
                int best = 0;

                if (!avro_value_get_by_name(&rec, "row", &f, NULL)) {
                        int64_t v;
                        avro_value_get_long(&f, &v);
                        recno = (long)v;
                } else if (!avro_value_get_by_name(&rec, "id", &f, NULL)) {
                        const char *s;
                        size_t sl;
                        avro_value_get_string(&f, &s, &sl);
                        if (!strncmp(s, "img-", 4))
                                recno = strtol(s + 4, NULL, 10);
                }
                while (next < rows && skip[next])
                        next++;
                if (recno != next) {
                        if (bad++ < 10)
                                fprintf(stderr, "check_scores: record %ld where %ld "
                                        "was due\n", recno, next);
                        if (recno < 0 || recno >= rows)
                                break;
                        next = recno;
                }
                next++;
                seen++;
                want = (const float *)ref->data +
                       (size_t)(recno % ref->shape[0]) * (size_t)ref->shape[1];
                if (avro_value_get_by_name(&rec, "probabilities", &f, NULL) ||
                    avro_value_get_size(&f, &n) || n != (size_t)ref->shape[1]) {
                        if (bad++ < 10)
                                fprintf(stderr, "check_scores: record %ld: no "
                                        "probabilities[%lld]\n", recno,
                                        (long long)ref->shape[1]);
                        continue;
                }
                for (size_t k = 0; k < n; k++) {
                        float g;
                        double d, rel;
                        avro_value_get_by_index(&f, k, &e, NULL);
                        avro_value_get_float(&e, &g);
                        d = fabs((double)g - want[k]);
                        rel = d / fmax(fabs(want[k]), 1e-3);
                        if (d > max_abs)
                                max_abs = d;
                        if (rel > max_rel)
                                max_rel = rel;
                        if (!(d <= 1e-5) && bad++ < 10)
                                fprintf(stderr, "check_scores: record %ld: [%zu] = "
                                        "%.9g, reference %.9g\n", recno, k,
                                        (double)g, (double)want[k]);
                        if (want[k] > want[best])
                                best = (int)k;
                }
                if (!avro_value_get_by_name(&rec, "label", &f, NULL)) {
                        int32_t label;
                        avro_value_get_int(&f, &label);
                        if (label != best && bad++ < 10)
                                fprintf(stderr, "check_scores: record %ld: label "
                                        "%d, arg-max %d\n", recno, label, best);
                }
        }
        if (rc != EOF) {
                fprintf(stderr, "check_scores: read error after %ld records: %s\n",
                        seen, avro_strerror());
                bad++;
        }
        while (next < rows && skip[next])
                next++;
        if (next != rows) {
                fprintf(stderr, "check_scores: the file ends at record %ld of %ld\n",
                        next, rows);
                bad++;
        }
        printf("check_scores: %ld records in order, max_abs_err=%.3g "
               "max_rel_err=%.3g%s\n", seen, max_abs, max_rel, bad ? " FAILED" : "");
        avro_value_decref(&rec);
        avro_value_iface_decref(iface);
        avro_schema_decref(ws);
        avro_file_reader_close(fr);
        swarm_array_destroy(ref);
        free(skip);
        return bad ? 1 : 0;
}
