/*
 * make_inputs.c - inputs for test_score_e2e.sh from the Fashion-MNIST test
 * set (test.npy, float32 [10000, 784]): row i of every file is image
 * i % 10000, so its reference output is expected.npy[i % 10000].
 *
 *   make_inputs TEST.npy ROWS OUT.csv OUT.avro
 *
 * OUT.csv: a header "id,px0,...,px783,note"; id "img-<i>", every pixel
 * written with the fewest digits that read back as the same float32, and a
 * quoted text column ("a, \"quoted\" note") the scorer must skip.
 * OUT.avro: written with Avro C's file writer (what other tools write):
 * {id: string, pixels: array<float>, label: int}.
 */
#include <avro.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarm/arrayio.h"

/* The shortest text of f that strtof reads back as f. */
static void shortest(float f, char *out, size_t size) {
        for (int p = 1; p <= 9; p++) {
                snprintf(out, size, "%.*g", p, (double)f);
                if (strtof(out, NULL) == f)
                        return;
        }
}

int main(int argc, char **argv) {
        swarm_array_t *a = NULL;
        swarm_array_load_opts_t lo;
        swarm_err_t err;
        long rows;
        FILE *csv;
        char (*txt)[24];
        const float *px;
        int64_t n_img;

        if (argc != 5) {
                fprintf(stderr, "usage: make_inputs TEST.npy ROWS OUT.csv OUT.avro\n");
                return 2;
        }
        rows = strtol(argv[2], NULL, 10);
        memset(&lo, 0, sizeof(lo));
        swarm_err_clear(&err);
        if (swarm_array_load(argv[1], &lo, &a, &err) || a->ndim != 2 ||
            a->shape[1] != 784 || a->dtype != SWARM_DTYPE_FLOAT32) {
                fprintf(stderr, "make_inputs: %s: %s\n", argv[1],
                        err.msg[0] ? err.msg : "not float32 [N, 784]");
                return 1;
        }
        n_img = a->shape[0];
        px = a->data;
        /* pixels are k/255: 256 distinct values, formatted once */
        txt = calloc((size_t)n_img * 784, sizeof(*txt));
        if (!txt)
                return 1;
        {
                float val[256];
                char cache[256][24];
                for (int k = 0; k < 256; k++) {
                        val[k] = (float)k / 255.0f;
                        shortest(val[k], cache[k], sizeof(cache[k]));
                }
                for (int64_t i = 0; i < n_img * 784; i++) {
                        long k = lrintf(px[i] * 255.0f);
                        if (k >= 0 && k < 256 && val[k] == px[i])
                                memcpy(txt[i], cache[k], sizeof(txt[i]));
                        else
                                shortest(px[i], txt[i], sizeof(txt[i]));
                }
        }

        csv = fopen(argv[3], "w");
        if (!csv) {
                perror(argv[3]);
                return 1;
        }
        setvbuf(csv, NULL, _IOFBF, 1 << 20);
        fputs("id", csv);
        for (int k = 0; k < 784; k++)
                fprintf(csv, ",px%d", k);
        fputs(",note\n", csv);
        for (long i = 0; i < rows; i++) {
                const char(*row)[24] = txt + (size_t)(i % n_img) * 784;
                fprintf(csv, "img-%ld", i);
                for (int k = 0; k < 784; k++) {
                        fputc(',', csv);
                        fputs(row[k], csv);
                }
                fputs(",\"a, \"\"quoted\"\" note\"\n", csv);
        }
        if (fclose(csv))
                return 1;

        {
                static const char schema_json[] =
                        "{\"type\":\"record\",\"name\":\"Image\",\"fields\":["
                        "{\"name\":\"id\",\"type\":\"string\"},"
                        "{\"name\":\"pixels\",\"type\":{\"type\":\"array\","
                        "\"items\":\"float\"}},"
                        "{\"name\":\"label\",\"type\":\"int\"}]}";
                avro_schema_t schema;
                avro_file_writer_t w;
                avro_value_iface_t *iface;
                avro_value_t rec;
                remove(argv[4]);
                if (avro_schema_from_json_length(schema_json, sizeof(schema_json) - 1,
                                                 &schema) ||
                    avro_file_writer_create(argv[4], schema, &w)) {
                        fprintf(stderr, "make_inputs: %s\n", avro_strerror());
                        return 1;
                }
                iface = avro_generic_class_from_schema(schema);
                avro_generic_value_new(iface, &rec);
                for (long i = 0; i < rows; i++) {
                        avro_value_t f, e;
                        char id[32];
                        const float *row = px + (size_t)(i % n_img) * 784;
                        avro_value_reset(&rec);
                        snprintf(id, sizeof(id), "img-%ld", i);
                        avro_value_get_by_name(&rec, "id", &f, NULL);
                        avro_value_set_string(&f, id);
                        avro_value_get_by_name(&rec, "pixels", &f, NULL);
                        for (int k = 0; k < 784; k++) {
                                avro_value_append(&f, &e, NULL);
                                avro_value_set_float(&e, row[k]);
                        }
                        avro_value_get_by_name(&rec, "label", &f, NULL);
                        avro_value_set_int(&f, (int)(i % 10));
                        if (avro_file_writer_append_value(w, &rec)) {
                                fprintf(stderr, "make_inputs: %s\n", avro_strerror());
                                return 1;
                        }
                }
                avro_file_writer_close(w);
                avro_value_decref(&rec);
                avro_value_iface_decref(iface);
                avro_schema_decref(schema);
        }
        free(txt);
        swarm_array_destroy(a);
        return 0;
}
