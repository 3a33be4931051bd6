/*
 * mock_worker.h - test helpers: librdkafka's in-process mock cluster and a
 * thread that plays the worker (answers every request with output =
 * 2 * input, same shape, float32 inputs only).
 */
#ifndef SWARM_TEST_MOCK_WORKER_H
#define SWARM_TEST_MOCK_WORKER_H

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <stdatomic.h>

#include "swarm/codec.h"

typedef struct mock_kafka {
        rd_kafka_t *rk;
        rd_kafka_mock_cluster_t *mc;
        char bootstraps[256];
} mock_kafka_t;

/* Start a 3-broker mock cluster with `topics` (NULL-terminated), each with
 * `partitions` partitions.  Exits the process on failure. */
void mock_kafka_start(mock_kafka_t *m, const char *const *topics,
                      int partitions);
void mock_kafka_stop(mock_kafka_t *m);

/* librdkafka handle on the mock cluster with extra key, value pairs. */
rd_kafka_t *mock_handle(const mock_kafka_t *m, rd_kafka_type_t type,
                        const char *const *kv);

typedef struct mock_worker {
        /* configuration, set before mock_worker_start */
        const mock_kafka_t *kafka;
        const char *req_topic;
        const char *res_topic;  /* reply_topic of a request wins */
        int partitions;
        int ghost_every;        /* >0: a response for an unknown id before
                                   every n-th answer, same partition */
        int garbage;            /* one undecodable record before the first */
        /* state */
        pthread_t th;
        atomic_int stop;
        atomic_int pause;
        atomic_int answered;
        int ghosts;
} mock_worker_t;

void mock_worker_start(mock_worker_t *w);
void mock_worker_stop(mock_worker_t *w);

/* Encode a response whose single output is `data` with `shape` and produce
 * it to `topic` partition `part`. */
void mock_answer(swarm_codec_t *codec, rd_kafka_t *rk, const char *topic,
                 int32_t part, swarm_str_t id, const float *data, int ndim,
                 const int64_t *shape);

#endif
