/*
 * codec_int.h - private to lib/core/codec*.c: the codec struct and the
 * helpers shared by the fast path (codec.c) and the Avro C slow path
 * (codec_avro.c).  Not installed, not part of the contract.
 */
#ifndef SWARM_CODEC_INT_H
#define SWARM_CODEC_INT_H

#include <stddef.h>
#include <stdint.h>

#include <avro.h>
#include <pthread.h>

#include "swarm/codec.h"

enum codec_kind { CODEC_REQUEST = 1, CODEC_RESPONSE = 2 };

/* One registered writer schema. */
struct codec_writer {
        int32_t id;
        enum codec_kind kind;
        int fast;                       /* equal to our reader schema */
        avro_schema_t schema;           /* owned */
        avro_schema_t reader;           /* owned: our schema projected onto
                                         * the writer's fields */
        avro_value_iface_t *reader_class;       /* owned */
        avro_value_iface_t *resolver;   /* owned; NULL when fast */
};

struct swarm_codec {
        avro_schema_t req_schema;       /* reader schemas, owned */
        avro_schema_t resp_schema;
        avro_value_iface_t *req_class;  /* generic classes of the above */
        avro_value_iface_t *resp_class;
        int32_t req_id;                 /* the ids our own schemas go by */
        int32_t resp_id;
        /* Registered writers, owned, each allocated on its own so a pointer
         * stays valid while the array grows.  Decoders may add one (the
         * resolver), so the array is guarded by *lock, allocated apart so
         * decoders holding a const codec can take it. */
        struct codec_writer **writers;
        size_t n_writers;
        pthread_mutex_t *lock;
        pthread_mutex_t *resolve_lock;  /* one resolver call at a time */
        swarm_codec_resolve_fn resolve; /* unknown ids; may be NULL */
        void (*resolve_free)(void *opaque);
        void *resolve_opaque;
};

/* Read one zig-zag varint at *pp.  Returns 0 and advances *pp; 1 when the
 * input ends inside the varint; 2 when it is longer than 10 bytes or does not
 * fit in 64 bits.  Nothing else is read past `end`. */
static inline int codec_varint(const uint8_t **pp, const uint8_t *end,
                               int64_t *out) {
        const uint8_t *p = *pp;
        uint64_t v = 0;
        unsigned shift = 0;

        /* one-byte values (small lengths, enum and union indexes) dominate */
        if (p < end && *p < 0x80) {
                v = *p++;
                goto done;
        }
        for (int i = 0;; i++) {
                uint8_t b;
                if (p == end)
                        return 1;
                b = *p++;
                /* the 10th byte carries only bit 63: anything more is an
                 * over-long or overflowing varint */
                if (i == 9 && b > 1)
                        return 2;
                v |= (uint64_t)(b & 0x7f) << shift;
                if (!(b & 0x80))
                        break;
                shift += 7;
        }
done:
        *pp = p;
        *out = (int64_t)((v >> 1) ^ (~(v & 1) + 1));
        return 0;
}

/* Decode a request/response body (after the 5-byte frame) with our own
 * schema: the allocation-free fast path. */
int swarm_codec__fast_request(const uint8_t *p, size_t len,
                              swarm_request_t *req, swarm_err_t *err);
int swarm_codec__fast_response(const uint8_t *p, size_t len,
                               swarm_response_t *resp, swarm_err_t *err);

/* Validate `len` bytes against `schema` without allocating: every length
 * against the bytes remaining, enum and union indexes, int ranges, nesting
 * depth, and that the datum ends exactly at `len`.  Run before handing
 * untrusted bytes to avro_value_read() (Avro C 1.11.1 mallocs declared
 * lengths unchecked). */
int swarm_codec__validate(avro_schema_t schema, const uint8_t *p, size_t len,
                          swarm_err_t *err);

/* Fill w (id, kind, schema, resolver) from JSON; on failure w owns nothing. */
int swarm_codec__writer_init(const swarm_codec_t *c, struct codec_writer *w,
                             int32_t id, const char *json, swarm_err_t *err);
void swarm_codec__writer_fini(struct codec_writer *w);

/* Slow path: validate, resolve through Avro C, copy into req->scratch. */
int swarm_codec__slow_request(const swarm_codec_t *c,
                              const struct codec_writer *w, const uint8_t *p,
                              size_t len, swarm_request_t *req,
                              swarm_err_t *err);
int swarm_codec__slow_response(const swarm_codec_t *c,
                               const struct codec_writer *w, const uint8_t *p,
                               size_t len, swarm_response_t *resp,
                               swarm_err_t *err);

#endif
