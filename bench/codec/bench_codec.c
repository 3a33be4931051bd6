/*
 * bench_codec.c - what the specialised codec saves over Avro C's generic
 * path, measured in one run on the wire contract's real records.
 *
 *   build/bench/codec/bench_codec [ITERATIONS]
 *
 * For a [1,784] and a [256,784] FLOAT32 request (and a [1,10] / [256,10]
 * response) it times, per message:
 *   - Avro C generic decode: avro_value_read from a memory reader into a
 *     reused value (what AVRO-C.md measured), after our 5-byte framing;
 *   - our decode: swarm_codec_decode_request (zero copy, every length
 *     validated);
 *   - Avro C encode (value built once, avro_value_write into a buffer) and
 *     our encode (swarm_codec_encode_response into a reused buffer);
 * and prints the ratio Avro C / ours.  Both sides read the same bytes.
 */
#include <avro.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "swarm/codec.h"

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fill_request(swarm_request_t *req, float *data, int rows) {
        memset(req, 0, sizeof(*req));
        req->request_id = SWARM_STR("bench-request-000001");
        req->model = SWARM_STR("fashion");
        req->n_inputs = 1;
        req->inputs[0].name = SWARM_STR("input");
        req->inputs[0].dtype = SWARM_DTYPE_FLOAT32;
        req->inputs[0].ndim = 2;
        req->inputs[0].shape[0] = rows;
        req->inputs[0].shape[1] = 784;
        req->inputs[0].data = data;
        req->inputs[0].size = (size_t)rows * 784 * 4;
}

static void fill_response(swarm_response_t *resp, float *data, int rows) {
        memset(resp, 0, sizeof(*resp));
        resp->request_id = SWARM_STR("bench-request-000001");
        resp->model = SWARM_STR("fashion");
        resp->version = 1;
        resp->n_outputs = 1;
        resp->outputs[0].name = SWARM_STR("probabilities");
        resp->outputs[0].dtype = SWARM_DTYPE_FLOAT32;
        resp->outputs[0].ndim = 2;
        resp->outputs[0].shape[0] = rows;
        resp->outputs[0].shape[1] = 10;
        resp->outputs[0].data = data;
        resp->outputs[0].size = (size_t)rows * 40;
        resp->status = SWARM_STATUS_OK;
        resp->worker = SWARM_STR("worker-0");
}

static int run(swarm_codec_t *codec, int rows, long iters) {
        float *in = calloc((size_t)rows * 784, 4), *out = calloc((size_t)rows * 10, 4);
        swarm_request_t req, dec;
        swarm_response_t resp;
        swarm_buf_t msg = {0}, enc = {0};
        swarm_err_t err;
        avro_schema_t rs = NULL, ps = NULL;
        avro_value_iface_t *ri = NULL, *pi = NULL;
        avro_value_t rv, pv;
        avro_reader_t reader;
        avro_writer_t writer;
        char *wbuf = malloc(4 << 20);
        double t, avro_dec, our_dec, avro_enc, our_enc;
        size_t resp_len;

        swarm_err_clear(&err);
        for (long i = 0; i < (long)rows * 784; i++)
                in[i] = (float)(i % 255) / 255.0f;
        fill_request(&req, in, rows);
        fill_response(&resp, out, rows);
        if (swarm_codec_encode_request(codec, &req, NULL, 0, &msg, &err) ||
            swarm_codec_encode_response(codec, &resp, &enc, &err)) {
                fprintf(stderr, "encode: %s\n", err.msg);
                return 1;
        }
        resp_len = enc.len;
        avro_schema_from_json_length(swarm_codec_request_schema_json(),
                                     strlen(swarm_codec_request_schema_json()), &rs);
        avro_schema_from_json_length(swarm_codec_response_schema_json(),
                                     strlen(swarm_codec_response_schema_json()), &ps);
        ri = avro_generic_class_from_schema(rs);
        pi = avro_generic_class_from_schema(ps);
        avro_generic_value_new(ri, &rv);
        avro_generic_value_new(pi, &pv);

        /* Avro C generic decode (after the 5-byte Confluent header) */
        reader = avro_reader_memory((const char *)msg.data + 5, (int64_t)msg.len - 5);
        t = now_s();
        for (long i = 0; i < iters; i++) {
                avro_reader_memory_set_source(reader, (const char *)msg.data + 5,
                                              (int64_t)msg.len - 5);
                avro_value_reset(&rv);
                if (avro_value_read(reader, &rv)) {
                        fprintf(stderr, "avro read: %s\n", avro_strerror());
                        return 1;
                }
        }
        avro_dec = (now_s() - t) / (double)iters;

        t = now_s();
        for (long i = 0; i < iters; i++) {
                if (swarm_codec_decode_request(codec, msg.data, msg.len, &dec, &err)) {
                        fprintf(stderr, "decode: %s\n", err.msg);
                        return 1;
                }
                swarm_request_destroy(&dec);
        }
        our_dec = (now_s() - t) / (double)iters;

        /* encode a response: Avro C from a value decoded once from ours */
        {
                avro_reader_t r2 = avro_reader_memory((const char *)enc.data + 5,
                                                      (int64_t)enc.len - 5);
                avro_value_read(r2, &pv);
                avro_reader_free(r2);
        }
        writer = avro_writer_memory(wbuf, 4 << 20);
        t = now_s();
        for (long i = 0; i < iters; i++) {
                avro_writer_reset(writer);
                if (avro_value_write(writer, &pv)) {
                        fprintf(stderr, "avro write: %s\n", avro_strerror());
                        return 1;
                }
        }
        avro_enc = (now_s() - t) / (double)iters;

        t = now_s();
        for (long i = 0; i < iters; i++) {
                enc.len = 0;
                if (swarm_codec_encode_response(codec, &resp, &enc, &err)) {
                        fprintf(stderr, "encode: %s\n", err.msg);
                        return 1;
                }
        }
        our_enc = (now_s() - t) / (double)iters;

        printf("%-18s %9zu %12.3f %12.3f %7.1fx\n", rows == 1 ? "request [1,784]" : "request [256,784]",
               msg.len, avro_dec * 1e6, our_dec * 1e6, avro_dec / our_dec);
        printf("%-18s %9zu %12.3f %12.3f %7.1fx\n", rows == 1 ? "response [1,10]" : "response [256,10]",
               resp_len, avro_enc * 1e6, our_enc * 1e6, avro_enc / our_enc);

        avro_writer_free(writer);
        avro_reader_free(reader);
        avro_value_decref(&rv);
        avro_value_decref(&pv);
        avro_value_iface_decref(ri);
        avro_value_iface_decref(pi);
        avro_schema_decref(rs);
        avro_schema_decref(ps);
        swarm_buf_destroy(&msg);
        swarm_buf_destroy(&enc);
        free(wbuf);
        free(in);
        free(out);
        return 0;
}

int main(int argc, char **argv) {
        long iters = argc > 1 ? atol(argv[1]) : 200000;
        swarm_codec_t *codec;
        swarm_err_t err;

        swarm_err_clear(&err);
        if (swarm_codec_new(&codec, &err)) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
        }
        printf("per message, microseconds (%ld iterations; decode for requests, "
               "encode for responses)\n", iters);
        printf("%-18s %9s %12s %12s %8s\n", "record", "bytes", "avro-c us", "swarm us", "ratio");
        if (run(codec, 1, iters) || run(codec, 256, iters / 100 > 0 ? iters / 100 : 1))
                return 1;
        swarm_codec_destroy(codec);
        return 0;
}
