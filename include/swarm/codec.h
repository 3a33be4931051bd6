/*
 * codec.h - the wire contract: InferenceRequest / InferenceResponse in
 * Confluent framing (magic byte 0, 4-byte big-endian schema id, Avro binary).
 *
 * The .avsc files in schemas/ are the source of truth and are embedded into
 * the build.  Avro C parses them, maps schema ids to schemas and resolves
 * evolved writer schemas (slow path).  Messages written with our own schemas
 * take a specialised, allocation-free path that validates every declared
 * length against the bytes that remain before touching them; decoded strings
 * and tensor data are views into the message buffer (zero copy).
 *
 * A codec is immutable after setup: one codec may be shared by many threads
 * for decode/encode once every swarm_codec_register_writer() call is done.
 */
#ifndef SWARM_CODEC_H
#define SWARM_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "swarm/err.h"
#include "swarm/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Schema ids of our own schemas unless configured otherwise (they are what a
 * Confluent schema registry would hand out if ours were registered first). */
#define SWARM_SCHEMA_ID_REQUEST  1
#define SWARM_SCHEMA_ID_RESPONSE 2

/* Upper bounds that keep a hostile message from costing unbounded work. */
#define SWARM_MAX_INPUTS 16     /* tensors per request or response */

typedef enum swarm_status {
        SWARM_STATUS_OK = 0,
        SWARM_STATUS_INVALID_REQUEST,
        SWARM_STATUS_MODEL_NOT_FOUND,
        SWARM_STATUS_DEADLINE_EXCEEDED,
        SWARM_STATUS_INTERNAL_ERROR,
        SWARM_STATUS__COUNT
} swarm_status_t;

const char *swarm_status_name(swarm_status_t st);

/* Decoded request: every swarm_str_t and tensor data pointer borrows from the
 * message buffer passed to swarm_codec_decode_request() (or, on the slow
 * evolved-schema path, from `scratch` owned by the request). */
typedef struct swarm_request {
        swarm_str_t request_id;
        swarm_str_t model;
        int has_version;
        int32_t version;
        int n_inputs;
        swarm_tensor_t inputs[SWARM_MAX_INPUTS];
        int has_reply_topic;
        swarm_str_t reply_topic;
        int has_deadline;
        int64_t deadline_ms;
        /* metadata map: count plus the raw encoded entries; iterate with
         * swarm_request_metadata_next(). */
        int64_t n_metadata;
        const uint8_t *metadata_raw;
        size_t metadata_raw_len;
        void *scratch;          /* owned; freed by swarm_request_destroy() */
} swarm_request_t;

typedef struct swarm_response {
        swarm_str_t request_id;
        swarm_str_t model;
        int32_t version;
        int n_outputs;
        swarm_tensor_t outputs[SWARM_MAX_INPUTS];
        swarm_status_t status;
        int has_error;
        swarm_str_t error;
        int64_t queue_us;
        int64_t compute_us;
        int32_t batch_rows;
        swarm_str_t worker;
        int32_t source_partition;
        int64_t source_offset;
        void *scratch;          /* owned; freed by swarm_response_destroy() */
} swarm_response_t;

/* A growable byte buffer; encoders append to it. */
typedef struct swarm_buf {
        uint8_t *data;
        size_t len;
        size_t cap;
} swarm_buf_t;

int swarm_buf_reserve(swarm_buf_t *b, size_t extra, swarm_err_t *err);
/* Hand the bytes to the caller (caller frees with free()); b becomes empty. */
uint8_t *swarm_buf_steal(swarm_buf_t *b, size_t *len);
/* Free the bytes; b becomes empty (the struct is the caller's).  NULL is
 * accepted. */
void swarm_buf_destroy(swarm_buf_t *b);

typedef struct swarm_codec swarm_codec_t;

/* Parse the embedded schemas.  Caller destroys. */
int swarm_codec_new(swarm_codec_t **out, swarm_err_t *err);
void swarm_codec_destroy(swarm_codec_t *c);

/* Register another writer schema (JSON text) under `schema_id`, e.g. an
 * evolved InferenceRequest that a producer registered with a schema registry.
 * Messages carrying that id are resolved into our reader schema through Avro
 * C.  Safe to call while other threads decode (the writer table is locked);
 * an id already registered is SWARM_ERR_INVALID. */
int swarm_codec_register_writer(swarm_codec_t *c, int32_t schema_id,
                                const char *schema_json, swarm_err_t *err);

/* Use `request_id` and `response_id` for our own schemas instead of
 * SWARM_SCHEMA_ID_REQUEST/RESPONSE (the ids a schema registry assigned them):
 * encoders frame with them and decoders take the fast path for them.  They
 * must differ and must not be a registered writer's.  Not thread-safe: call
 * before sharing the codec. */
int swarm_codec_set_ids(swarm_codec_t *c, int32_t request_id,
                        int32_t response_id, swarm_err_t *err);
int32_t swarm_codec_request_id(const swarm_codec_t *c);
int32_t swarm_codec_response_id(const swarm_codec_t *c);

/* Fetch the writer schema (JSON, caller frees with free()) of schema id `id`,
 * e.g. from a schema registry.  Called by a decoder, on its thread, for an id
 * the codec does not know; may block (the resolver bounds how long).  Returns
 * SWARM_OK or an error code with err set. */
typedef int (*swarm_codec_resolve_fn)(void *opaque, int32_t id,
                                      char **schema_json, swarm_err_t *err);

/* Install a resolver: a message framed with an unknown id makes the decoder
 * call `fn`, register the schema it returns (swarm_codec_register_writer) and
 * decode with it; the id stays registered for the codec's life.  The codec
 * owns `opaque` from now on and calls release(opaque) (may be NULL) when it is
 * destroyed or another resolver replaces it.  Not thread-safe: call before
 * sharing the codec. */
void swarm_codec_set_resolver(swarm_codec_t *c, swarm_codec_resolve_fn fn,
                              void (*release)(void *opaque), void *opaque);

/* Decode a framed request.  On success `req` borrows from `msg` (which must
 * outlive it); release with swarm_request_destroy().  Errors:
 * SWARM_ERR_PARSE (bad magic byte, malformed varint, bad enum/union index),
 * SWARM_ERR_NOT_FOUND (unknown schema id), SWARM_ERR_TRUNCATED (a length runs
 * past the end), SWARM_ERR_INVALID (shape/data size mismatch, too many
 * inputs, negative dims).  The message always says which field. */
int swarm_codec_decode_request(const swarm_codec_t *c, const void *msg,
                               size_t len, swarm_request_t *req,
                               swarm_err_t *err);
/* Free what decoding allocated in `req` (not `req`).  NULL is accepted. */
void swarm_request_destroy(swarm_request_t *req);

/* The one request metadata key the worker reads (the rest is the
 * application's): SWARM_META_BATCH = "alone" runs the request as a batch of
 * its own, never merged with other requests, so each output row depends only
 * on the request's rows, the model version and the worker's settings (BLAS
 * kernels round a row differently with other rows around it).  `swarm-producer
 * score` sends it: its resumed runs must write the same bytes.  "merge", the
 * default, lets the worker micro-batch it. */
#define SWARM_META_BATCH "swarm.batch"
#define SWARM_META_BATCH_ALONE "alone"
#define SWARM_META_BATCH_MERGE "merge"

/* Iterate metadata entries; *pos starts at 0.  Returns 1 with key/value set,
 * 0 at the end. */
int swarm_request_metadata_next(const swarm_request_t *req, size_t *pos,
                                int64_t *idx, swarm_str_t *key,
                                swarm_str_t *value);

/* Encode a request (framed, schema id SWARM_SCHEMA_ID_REQUEST) appending to
 * `out`.  metadata: n pairs of key/value strings (may be NULL when n == 0). */
int swarm_codec_encode_request(const swarm_codec_t *c,
                               const swarm_request_t *req,
                               const swarm_str_t *meta_kv, size_t n_meta,
                               swarm_buf_t *out, swarm_err_t *err);

int swarm_codec_decode_response(const swarm_codec_t *c, const void *msg,
                                size_t len, swarm_response_t *resp,
                                swarm_err_t *err);
/* Free what decoding allocated in `resp` (not `resp`).  NULL is accepted. */
void swarm_response_destroy(swarm_response_t *resp);

int swarm_codec_encode_response(const swarm_codec_t *c,
                                const swarm_response_t *resp,
                                swarm_buf_t *out, swarm_err_t *err);

/* Embedded schema texts (NUL-terminated JSON). */
const char *swarm_codec_request_schema_json(void);
const char *swarm_codec_response_schema_json(void);

#ifdef __cplusplus
}
#endif
#endif
