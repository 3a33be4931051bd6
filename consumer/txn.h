/*
 * txn.h - exactly-once mode (--exactly-once): the worker's responses, dead
 * letters and consumed offsets go to Kafka in one transaction per window.
 *
 * A worker in this mode has one transactional producer whose
 * transactional.id is derived from the consumer group and the worker's
 * instance name (--worker-name or group.instance.id), so a restarted
 * worker's init_transactions fences its killed predecessor and aborts the
 * transaction it left open.  Offsets are sent with
 * rd_kafka_send_offsets_to_transaction() and the consumer's group metadata
 * (KIP-447), so a worker that lost its partitions in a rebalance is fenced
 * by the group generation too.  A read_committed reader then sees each
 * request answered once.
 *
 * A transaction commits when its window is due (--txn-ms or
 * --txn-max-records) and the in-flight messages leave no hole (a done
 * message after one not done in the same partition, offsets.h): the offset
 * committed is the first message not answered, so nothing answered in the
 * transaction lies at or beyond it.  An abortable error aborts and rewinds
 * (output.c, offsets.h: the pipeline's jobs are dropped, the consumer seeks
 * back to the last committed offsets); a fatal one (fenced) re-creates the
 * producer, then rewinds.  Neither ends the worker.
 *
 * This file holds what can be decided without a broker (the id, the window,
 * the error class) and the librdkafka calls; output.c drives it.
 */
#ifndef SWARM_CONSUMER_TXN_H
#define SWARM_CONSUMER_TXN_H

#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "swarm/conf.h"
#include "swarm/err.h"

/* Kafka takes any string as a transactional.id; ours stay printable and
 * bounded so they read well in the broker's logs. */
#define TXN_ID_SIZE 256
/* Defaults of --txn-ms and --txn-max-records. */
#define TXN_DEFAULT_MS 100
#define TXN_DEFAULT_MAX_RECORDS 5000
/* transaction.timeout.ms unless -X sets it: a killed worker's open
 * transaction (which holds read_committed readers back) is aborted by the
 * coordinator after this long if no successor fences it sooner. */
#define TXN_DEFAULT_TIMEOUT_MS "10000"
/* How long one init/commit/abort/send-offsets call may block. */
#define TXN_CALL_TIMEOUT_MS 30000

typedef struct txn_opts {
        int enabled;
        char id[TXN_ID_SIZE];           /* the transactional.id */
        int64_t window_ms;              /* commit at least this often */
        int64_t max_records;            /* or after this many records */
} txn_opts_t;

/* "swarm-eos.GROUP.INSTANCE" into out (TXN_ID_SIZE).  Stable: the same
 * group and instance give the same id, so a restart fences the previous
 * incarnation; characters outside [A-Za-z0-9._-] become '_'.  Errors
 * (SWARM_ERR_CONFIG): an empty group or instance, an id that does not fit. */
int txn_id_make(const char *group, const char *instance, char *out,
                swarm_err_t *err);

/* Complete `o`, whose enabled, window_ms and max_records the caller set
 * (the worker's option table: --exactly-once, --txn-ms, --txn-max-records,
 * defaults TXN_DEFAULT_*): with exactly-once on, derive the id from
 * group.id (default swarm-workers) and the instance:
 * group.instance.id when set, else `worker_name` when it was given (NULL or
 * "" when it was not).  Exactly-once without a stable instance is a
 * configuration error: a host-pid name would never fence anyone. */
int txn_opts_load(const swarm_conf_t *conf, const char *worker_name,
                  txn_opts_t *o, swarm_err_t *err);

/* Producer and consumer settings of the mode (nothing when disabled):
 * transactional.id (and transaction.timeout.ms unless set); on the consumer
 * enable.auto.commit=false (offsets move only in transactions) and
 * isolation.level=read_committed (offsets of a transaction in doubt are
 * waited for, not read stale). */
int txn_producer_conf(const txn_opts_t *o, rd_kafka_conf_t *kc, swarm_err_t *err);
int txn_consumer_conf(const txn_opts_t *o, rd_kafka_conf_t *kc, swarm_err_t *err);

/* The window of the open transaction. */
typedef struct txn_window {
        int open;
        int64_t opened_ms;
        int64_t records;
} txn_window_t;

void txn_window_open(txn_window_t *w, int64_t now_ms);
void txn_window_close(txn_window_t *w);
/* 1 when the open window should commit now: older than window_ms, or
 * holding max_records or more. */
int txn_window_due(const txn_window_t *w, const txn_opts_t *o, int64_t now_ms);

/* What a failed transactional call asks for. */
typedef enum txn_action {
        TXN_OK = 0,
        TXN_RETRY,              /* retriable: call again */
        TXN_ABORT,              /* abortable: abort, rewind, go on */
        TXN_RECREATE,           /* fatal (fenced): new producer, rewind */
} txn_action_t;

/* The class of an error by librdkafka's flags (fatal wins over abortable,
 * abortable over retriable); an error with no flag is treated as abortable
 * since nothing of the transaction can be trusted after it. */
txn_action_t txn_classify(int is_error, int fatal, int requires_abort, int retriable);

/* The same for an rd_kafka_error_t (NULL: TXN_OK); destroys it and copies
 * its text to err when not OK. */
txn_action_t txn_check(rd_kafka_error_t *e, const char *what, swarm_err_t *err);

/* Send `offsets` (may be NULL or empty: nothing to send) with the
 * consumer's group metadata, then commit.  Retriable errors are retried
 * within TXN_CALL_TIMEOUT_MS. */
txn_action_t txn_commit(rd_kafka_t *producer, rd_kafka_t *consumer,
                        const rd_kafka_topic_partition_list_t *offsets,
                        swarm_err_t *err);

#endif
