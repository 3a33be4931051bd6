/*
 * codec_testutil.h - helpers shared by the codec tests: the Avro check (the
 * others are check.h's REQUIRE), a seeded
 * PRNG, random requests/responses, Avro C conversions and an encoder that
 * splits arrays and maps into negative-count blocks.
 */
#ifndef CODEC_TESTUTIL_H
#define CODEC_TESTUTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <avro.h>

#include "swarm/codec.h"

#include "check.h"

#define CHECK_AVRO(arc)                                                       \
        do {                                                                  \
                if ((arc) != 0) {                                             \
                        fprintf(stderr, "%s:%d: avro: %s\n", __FILE__,        \
                                __LINE__, avro_strerror());                   \
                        exit(1);                                              \
                }                                                             \
        } while (0)

typedef struct {
        uint64_t s;
} rng_t;

uint64_t rng_next(rng_t *r);
/* uniform in [0, n) */
uint64_t rng_below(rng_t *r, uint64_t n);

/* A generated message and everything it points to. */
typedef struct {
        swarm_request_t req;
        swarm_response_t resp;
        swarm_str_t *meta;      /* 2 * n_meta: key, value, ... */
        size_t n_meta;
        void **allocs;
        size_t n_allocs;
} gen_t;

/* max_meta: upper bound on metadata entries; keys are unique (Avro C maps
 * need that). */
void gen_request(gen_t *g, rng_t *r, size_t max_meta);
void gen_response(gen_t *g, rng_t *r);
void gen_free(gen_t *g);
/* Track a malloc'd block for gen_free; returns it. */
void *gen_alloc(gen_t *g, size_t n);
swarm_str_t gen_str(gen_t *g, rng_t *r, size_t max_len);

/* Compare a decoded request/response with what was encoded; exits on a
 * mismatch naming the field. */
void check_request(const swarm_request_t *got, const swarm_request_t *want,
                   const swarm_str_t *meta, size_t n_meta);
void check_response(const swarm_response_t *got,
                    const swarm_response_t *want);

/* Avro C generic values <-> our structs. */
void avro_from_request(avro_value_t *rec, const swarm_request_t *req,
                       const swarm_str_t *meta, size_t n_meta);
void avro_from_response(avro_value_t *rec, const swarm_response_t *resp);
void check_avro_request(avro_value_t *rec, const swarm_request_t *want,
                        const swarm_str_t *meta, size_t n_meta);
void check_avro_response(avro_value_t *rec, const swarm_response_t *want);

/* Frame + avro_value_write(); returns a malloc'd message. */
uint8_t *avro_write_framed(avro_value_t *v, int32_t id, size_t *len);

/* Encode like swarm_codec_encode_request() but split arrays and maps into
 * random blocks, some with negative counts and byte sizes. */
void encode_request_blocky(const swarm_request_t *req, const swarm_str_t *meta,
                           size_t n_meta, rng_t *r, swarm_buf_t *out);

avro_schema_t load_schema_json(const char *json);

#endif
