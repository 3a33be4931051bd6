/*
 * score.c - `swarm-producer score` (score.h): the run loop that ties the
 * reader, the client, the writer and the checkpoint together.
 *
 * Rows are grouped into chunks of --rows-per-request scored rows; a chunk
 * is one request, and its slot in a ring of --window slots keeps its input
 * (for a resend), its rejects and, once answered, its outputs.  Slots are
 * committed strictly in order: the rejects of the chunk, then its rows as
 * one Avro block.  So the files depend only on the input and the settings,
 * never on the order responses arrive in, and a checkpoint is simply "the
 * files up to here and the input position after chunk k".
 *
 * Memory: at most `window` chunks exist, and a new one is started only
 * while the chunks held (input plus outputs) stay under --max-memory-mb; a
 * committed chunk's buffers are freed.  Nothing else grows with the file.
 *
 * The run pins one model version (the first one that answers, or
 * --model NAME:VERSION, or the checkpoint's): requests carry it once known,
 * and an answer from another version (a request sent before the pin while a
 * promotion happened) is sent again, so every row of the file comes from
 * one version, also across a resume.
 *
 * Threads: one; the client's callbacks run inside swarm_client_send/poll.
 */
#include "score.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "score_ckpt.h"
#include "score_input.h"
#include "score_output.h"
#include "score_progress.h"
#include "start.h"
#include "swarm/client.h"
#include "swarm/clock.h"
#include "swarm/conf.h"
#include "swarm/log.h"
#include "swarm/registry.h"

#define PROG "swarm-producer score"
/* a chunk's rejects are committed with it; this many bytes of them close
 * the chunk early so a file of nothing but bad rows stays bounded too */
#define MAX_CHUNK_REJECT_BYTES (1u << 20)

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
        (void)sig;
        stop_requested = 1;
}

static const swarm_opt_t score_opts[] = {
        {"model", 'm', "swarm.model", "NAME[:VERSION]",
         "model to score with (default version: the one the fleet serves; "
         "the run keeps the first version that answers)", NULL, 0},
        {"input", 'i', "swarm.input", "FILE", "rows to score (.csv, .avro, .npy)",
         NULL, 0},
        {"output", 'o', "swarm.output", "FILE",
         "scored rows (Avro object container; CSV when it ends in .csv)", NULL,
         0},
        {"format", 'f', "swarm.format", "csv|avro|npy",
         "input format (default: from the extension)", NULL, 0},
        {"output-format", 0, "swarm.output.format", "avro|csv",
         "output format (default: csv for .csv, else avro)", NULL, 0},
        {"tensor", 0, "swarm.tensor", "NAME[:DTYPE]=COLUMNS",
         "a model input from input columns (names, FIRST..LAST, #N..#M, *); "
         "repeat for several inputs; DTYPE float32 (default), int64, int32, "
         "uint8", NULL, 1},
        {"shape", 0, "swarm.shape", "[NAME=]D1,D2,...",
         "a tensor's row shape in the requests, as the model's input has it "
         "(default: [columns] for CSV and Avro, the file's for .npy; \"\": a "
         "scalar row, user_id= for an input of shape [N]); NAME can be left "
         "out with one input; repeat for several", NULL, 1},
        {"features", 0, "swarm.features", "COLUMNS",
         "columns of the single input (without --tensor)", "*", 0},
        {"input-name", 0, "swarm.input.name", "NAME",
         "name of the single input (without --tensor)", "input", 0},
        {"id-column", 0, "swarm.id.column", "NAME",
         "column copied to the output as \"id\" (default: \"row\", the input "
         "record number)", NULL, 0},
        {"delimiter", 0, "swarm.delimiter", "C", "CSV field delimiter", ",", 0},
        {"label", 0, "swarm.label", NULL,
         "add \"label\": the arg-max of the first output", "false", 0},
        {"top-k", 0, "swarm.top.k", "K",
         "add \"top_k\": the K best (index, score) of the first output", "0", 0},
        {"rows-per-request", 'n', "swarm.rows.per.request", "N",
         "scored rows per request message (lowered to fit message.max.bytes)",
         "256", 0},
        {"window", 'w', "swarm.window", "N", "most requests in flight", "64", 0},
        {"max-memory-mb", 0, "swarm.max.memory.mb", "MB",
         "bound on the rows held in flight (input and outputs)", "256", 0},
        {"results", 'r', "swarm.results", "TOPIC",
         "topic the workers answer on (sent as each request's reply topic)",
         "results.batch", 0},
        {"registry", 'R', "swarm.registry", "CONNINFO",
         "take the scoring topics from the model's deployment "
         "(batch_request_topic, batch_result_topic)", NULL, 0},
        {"checkpoint", 0, "swarm.checkpoint", "FILE",
         "checkpoint (default OUTPUT.ckpt); an existing one is resumed", NULL,
         0},
        {"restart", 0, "swarm.restart", NULL,
         "ignore an existing checkpoint and start over", "false", 0},
        {"checkpoint-interval", 0, "swarm.checkpoint.interval", "S",
         "seconds between checkpoints", "1", 0},
        {"rejects", 0, "swarm.rejects", "FILE",
         "rejected rows (default OUTPUT.rejects.csv)", NULL, 0},
        {"request-timeout", 0, "swarm.request.timeout", "S",
         "send a request again when unanswered this long", "60", 0},
        {"retries", 0, "swarm.retries", "N",
         "sends of one request before the run gives up (transport) or "
         "rejects its rows (INTERNAL_ERROR, DEADLINE_EXCEEDED)", "5", 0},
        {"max-row-bytes", 0, "swarm.max.row.bytes", "N",
         "longest CSV row", "16M", 0},
        {"progress-interval", 0, "swarm.progress.interval", "S",
         "seconds between progress lines when stderr is not a terminal", "10",
         0},
        SWARM_OPT_END,
};

/* Row data is float tensors: lz4 halves scoring throughput (measured,
 * bench/README.md) for little gain; -X compression.type=... wins. */
static const producer_default_t score_defaults[] = {
        {"compression.type", "none"},
        {NULL, NULL},
};

static const swarm_cli_t score_cli = {
        PROG,
        "--model NAME[:VERSION] --input FILE --output FILE [options]",
        "Score every row of a file through the worker fleet and write the "
        "outputs in input order.  Requests go to the scoring topic (-t, "
        "default \"requests.batch\"), so a backfill does not queue in front "
        "of online traffic (docs/scoring.md).  Interrupted runs resume from "
        "the checkpoint.  Exit: 0 all rows scored, 3 some rejected, 1 "
        "error or interrupted (run again to resume), 2 usage.",
        score_opts,
        SWARM_CLI_ALL,
};

enum { S_FREE = 0, S_FILLED, S_INFLIGHT, S_RESEND, S_DONE };

typedef struct slot {
        int state;
        uint64_t seq;
        int attempts;
        int n_rows;
        uint8_t *block;         /* owns in[], record, ids */
        uint8_t *in[SWARM_MAX_INPUTS];
        uint64_t *record;
        char *ids;              /* n_rows x ID_LEN when the input has ids */
        score_pos_t pos_after;
        swarm_buf_t rej;        /* reject lines committed with the chunk */
        uint64_t n_rej;
        /* the answer */
        swarm_status_t status;
        char error[256];
        uint8_t *out;
        size_t out_len;
        size_t held;            /* bytes counted against the memory bound */
} slot_t;

#define ID_LEN 256
#define POOL_MAX 16

typedef struct run {
        const swarm_log_t *log;
        swarm_client_t *cl;
        score_reader_t *rd;
        score_writer_t *wr;
        const score_tensor_t *t;
        int n_t;
        int has_id;
        const char *model;
        const char *results;
        int64_t rpr;
        int window, retries;
        size_t max_mem, held, out_row_est;
        char rid[16];

        slot_t *ring;
        uint8_t *pool[POOL_MAX];
        int n_pool;
        uint64_t next_seq, commit_seq;
        int inflight;
        int eof, fatal, seen_ok;
        char fatal_msg[512];

        score_out_desc_t desc;
        int have_desc, label, top_k;
        size_t out_row_bytes;

        /* rejects file, opened at the first reject */
        const char *rej_path;
        int rej_fd;
        uint64_t rej_off;

        score_ckpt_t ck;
        uint64_t requests, resends;
} run_t;

static void rid_new(char *buf, size_t size) {
        uint32_t r = 0;
        if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
                r = (uint32_t)swarm_clock_us() ^ (uint32_t)getpid() << 16;
        snprintf(buf, size, "%08" PRIx32, r);
}

/* ------------------------------------------------------------ rejects */

static int csv_quote(swarm_buf_t *b, const char *s, size_t n) {
        if (swarm_buf_reserve(b, 2 * n + 3, NULL))
                return -1;
        b->data[b->len++] = '"';
        for (size_t i = 0; i < n; i++) {
                if (s[i] == '"')
                        b->data[b->len++] = '"';
                b->data[b->len++] = (uint8_t)s[i];
        }
        b->data[b->len++] = '"';
        return 0;
}

/* One rejects line: record,line,reason,text. */
static int reject_line(swarm_buf_t *b, uint64_t record, uint64_t line,
                       const char *reason, const char *raw, size_t raw_len) {
        char num[64];
        int n = line ? snprintf(num, sizeof(num), "%llu,%llu,",
                                (unsigned long long)record, (unsigned long long)line)
                     : snprintf(num, sizeof(num), "%llu,,", (unsigned long long)record);
        if (swarm_buf_reserve(b, (size_t)n, NULL))
                return -1;
        memcpy(b->data + b->len, num, (size_t)n);
        b->len += (size_t)n;
        if (csv_quote(b, reason, strlen(reason)) || swarm_buf_reserve(b, 1, NULL))
                return -1;
        b->data[b->len++] = ',';
        if (csv_quote(b, raw ? raw : "", raw ? raw_len : 0) ||
            swarm_buf_reserve(b, 1, NULL))
                return -1;
        b->data[b->len++] = '\n';
        return 0;
}

static int rej_write(run_t *rn, const void *p, size_t n, swarm_err_t *err) {
        static const char head[] = "row,line,reason,text\n";
        const uint8_t *c = p;
        if (rn->rej_fd < 0) {
                rn->rej_fd = open(rn->rej_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
                if (rn->rej_fd < 0 || ftruncate(rn->rej_fd, (off_t)rn->rej_off) ||
                    lseek(rn->rej_fd, (off_t)rn->rej_off, SEEK_SET) < 0)
                        return swarm_err_set(err, SWARM_ERR_IO, "%s: %s",
                                             rn->rej_path, strerror(errno));
                if (rn->rej_off == 0 && rej_write(rn, head, sizeof(head) - 1, err))
                        return err->code;
        }
        while (n) {
                ssize_t w = write(rn->rej_fd, c, n);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0)
                        return swarm_err_set(err, SWARM_ERR_IO, "%s: write: %s",
                                             rn->rej_path, strerror(errno));
                c += w;
                n -= (size_t)w;
                rn->rej_off += (uint64_t)w;
        }
        return SWARM_OK;
}

/* ------------------------------------------------------------ chunks */

/* A chunk's input rows, record numbers and ids: one block of
 * chunk_fixed_bytes(), kept in a small pool when released (a fresh block of
 * this size is an mmap and a page fault per page: measurably slower). */
static size_t chunk_fixed_bytes(const run_t *rn) {
        size_t b = 0;
        for (int t = 0; t < rn->n_t; t++)
                b += rn->t[t].row_bytes;
        return (b + sizeof(uint64_t) + (rn->has_id ? ID_LEN : 0)) * (size_t)rn->rpr;
}

static void slot_release(run_t *rn, slot_t *s) {
        size_t fixed = chunk_fixed_bytes(rn);
        if (s->block && rn->n_pool < POOL_MAX && rn->held <= rn->max_mem) {
                /* pooled memory stays counted in rn->held */
                rn->pool[rn->n_pool++] = s->block;
                rn->held -= s->held - fixed;
        } else {
                free(s->block);
                rn->held -= s->held;
        }
        free(s->out);
        swarm_buf_destroy(&s->rej);
        memset(s, 0, sizeof(*s));
}

static void pool_free(run_t *rn) {
        while (rn->n_pool > 0) {
                free(rn->pool[--rn->n_pool]);
                rn->held -= chunk_fixed_bytes(rn);
        }
}

/* Read rows into a new chunk until it is full or the input ends. */
static int fill(run_t *rn, slot_t *s, swarm_err_t *err) {
        score_row_t row;
        size_t fixed = chunk_fixed_bytes(rn), off = 0;

        memset(s, 0, sizeof(*s));
        s->seq = rn->next_seq;
        if (rn->n_pool > 0) {
                s->block = rn->pool[--rn->n_pool];
        } else {
                if (!(s->block = malloc(fixed)))
                        return swarm_err_set(err, SWARM_ERR_NOMEM, "out of memory");
                rn->held += fixed;
        }
        s->held = fixed;
        for (int t = 0; t < rn->n_t; t++) {
                s->in[t] = s->block + off;
                off += rn->t[t].row_bytes * (size_t)rn->rpr;
        }
        s->record = (uint64_t *)(void *)(s->block + off);
        off += sizeof(uint64_t) * (size_t)rn->rpr;
        if (rn->has_id)
                s->ids = (char *)s->block + off;

        memset(&row, 0, sizeof(row));
        if (rn->n_t == 1 && !rn->has_id) {
                /* whole rows straight into the chunk where the reader can */
                score_pos_t p0;
                uint64_t got;
                int r;
                score_reader_tell(rn->rd, &p0);
                r = score_reader_next_raw(rn->rd, s->in[0],
                                              (uint64_t)rn->rpr, &got, err);
                if (r)
                        return r;
                for (uint64_t i = 0; i < got; i++)
                        s->record[i] = p0.record + i;
                s->n_rows = (int)got;
        }
        while (s->n_rows < rn->rpr && s->rej.len < MAX_CHUNK_REJECT_BYTES) {
                int r;
                for (int t = 0; t < rn->n_t; t++)
                        row.dst[t] = s->in[t] + (size_t)s->n_rows * rn->t[t].row_bytes;
                if ((r = score_reader_next(rn->rd, &row, err)))
                        return r;
                if (row.kind == SCORE_ROW_EOF) {
                        rn->eof = 1;
                        break;
                }
                if (row.kind == SCORE_ROW_REJECT) {
                        if (reject_line(&s->rej, row.record, row.line, row.reason,
                                        row.raw, row.raw_len))
                                return swarm_err_set(err, SWARM_ERR_NOMEM,
                                                     "out of memory");
                        s->n_rej++;
                        if (rn->log->level >= SWARM_LOG_WARN &&
                            rn->ck.rejected_input + s->n_rej <= 10)
                                SWARM_WARN(rn->log, "rejected row=%llu%s%.0llu "
                                           "reason=\"%s\"",
                                           (unsigned long long)row.record,
                                           row.line ? " line=" : "",
                                           (unsigned long long)row.line, row.reason);
                        continue;
                }
                s->record[s->n_rows] = row.record;
                if (rn->has_id)
                        snprintf(s->ids + (size_t)s->n_rows * ID_LEN, ID_LEN, "%s",
                                 row.id);
                s->n_rows++;
        }
        score_reader_tell(rn->rd, &s->pos_after);
        s->state = s->n_rows ? S_FILLED : S_DONE;
        s->status = SWARM_STATUS_OK;
        rn->next_seq++;
        return SWARM_OK;
}

static slot_t *slot_of(run_t *rn, uint64_t seq) {
        return &rn->ring[seq % (uint64_t)rn->window];
}

static void on_done(const char *id, const swarm_response_t *resp,
                    const swarm_err_t *err, int64_t latency_us, void *opaque);

static int send_chunk(run_t *rn, slot_t *s, swarm_err_t *err) {
        static const swarm_str_t batch_alone[2] = {
                {SWARM_META_BATCH, sizeof(SWARM_META_BATCH) - 1},
                {SWARM_META_BATCH_ALONE, sizeof(SWARM_META_BATCH_ALONE) - 1}};
        swarm_request_t req;
        char id[64];
        int r;

        s->attempts++;
        snprintf(id, sizeof(id), "%s-%llu-%d", rn->rid, (unsigned long long)s->seq,
                 s->attempts);
        memset(&req, 0, sizeof(req));
        req.request_id = swarm_str(id);
        req.model = swarm_str(rn->model);
        if (rn->ck.version >= 0) {
                req.has_version = 1;
                req.version = rn->ck.version;
        }
        req.has_reply_topic = 1;
        req.reply_topic = swarm_str(rn->results);
        req.n_inputs = rn->n_t;
        for (int t = 0; t < rn->n_t; t++) {
                swarm_tensor_t *x = &req.inputs[t];
                x->name = swarm_str(rn->t[t].name);
                x->dtype = rn->t[t].dtype;
                x->ndim = rn->t[t].ndim + 1;
                x->shape[0] = s->n_rows;
                for (int d = 0; d < rn->t[t].ndim; d++)
                        x->shape[d + 1] = rn->t[t].shape[d];
                x->data = s->in[t];
                x->size = (size_t)s->n_rows * rn->t[t].row_bytes;
        }
        /* a batch of its own at the worker: a row's outputs then do not
         * depend on which other requests were queued beside it, so a
         * resumed run writes the bytes an uninterrupted one would */
        while ((r = swarm_client_send(rn->cl, &req, batch_alone, 1, on_done, rn,
                                      err)) ==
                       SWARM_ERR_TIMEOUT &&
               !stop_requested && !rn->fatal)
                swarm_err_clear(err);
        if (r == SWARM_ERR_TIMEOUT) {
                swarm_err_clear(err);
                s->attempts--;
                return SWARM_OK; /* stopping: the chunk stays unsent */
        }
        if (r)
                return r;
        s->state = S_INFLIGHT;
        rn->inflight++;
        rn->requests++;
        if (s->attempts > 1)
                rn->resends++;
        return SWARM_OK;
}

static void set_fatal(run_t *rn, const char *fmt, const char *a, const char *b) {
        if (rn->fatal)
                return;
        rn->fatal = 1;
        snprintf(rn->fatal_msg, sizeof(rn->fatal_msg), fmt, a, b);
}

/* Keep a chunk's outputs, checked against the run's output signature. */
static int take_outputs(run_t *rn, slot_t *s, const swarm_response_t *resp,
                        char *why, size_t why_size) {
        swarm_err_t e;
        size_t total = 0;

        swarm_err_clear(&e);
        if (!rn->have_desc) {
                score_out_desc_t d;
                memset(&d, 0, sizeof(d));
                d.has_id = rn->has_id;
                d.label = rn->label;
                d.top_k = rn->top_k;
                if (score_out_desc_from(&d, resp->outputs, resp->n_outputs,
                                        s->n_rows, &e)) {
                        snprintf(why, why_size, "%s", e.msg);
                        return -1;
                }
                rn->desc = d;
                rn->have_desc = 1;
                for (int i = 0; i < d.n; i++)
                        rn->out_row_bytes += d.col[i].row_bytes;
        }
        if (resp->n_outputs != rn->desc.n) {
                snprintf(why, why_size, "%d outputs, earlier answers had %d",
                         resp->n_outputs, rn->desc.n);
                return -1;
        }
        for (int i = 0; i < rn->desc.n; i++) {
                const swarm_tensor_t *t = &resp->outputs[i];
                const score_out_col_t *c = &rn->desc.col[i];
                if (t->dtype != c->dtype || t->ndim < 1 || t->shape[0] != s->n_rows ||
                    t->size != (size_t)s->n_rows * c->row_bytes) {
                        snprintf(why, why_size, "output %s does not have %d rows "
                                 "of %lld %s", c->tensor, s->n_rows,
                                 (long long)c->elems, swarm_dtype_name(c->dtype));
                        return -1;
                }
                total += t->size;
        }
        s->out = malloc(total ? total : 1);
        if (!s->out) {
                snprintf(why, why_size, "out of memory");
                return -1;
        }
        s->out_len = 0;
        /* stored output-major: output i's rows are contiguous */
        for (int i = 0; i < rn->desc.n; i++) {
                memcpy(s->out + s->out_len, resp->outputs[i].data,
                       resp->outputs[i].size);
                s->out_len += resp->outputs[i].size;
        }
        s->held += total;
        rn->held += total;
        return 0;
}

static void on_done(const char *id, const swarm_response_t *resp,
                    const swarm_err_t *err, int64_t latency_us, void *opaque) {
        run_t *rn = opaque;
        const char *p = strchr(id, '-');
        unsigned long long seq;
        int attempt;
        slot_t *s;
        char why[256];

        (void)latency_us;
        if (!p || sscanf(p + 1, "%llu-%d", &seq, &attempt) != 2)
                return;
        s = slot_of(rn, seq);
        if (s->seq != seq || s->attempts != attempt || s->state != S_INFLIGHT)
                return;
        rn->inflight--;
        if (err) {
                if (err->code == SWARM_ERR_STATE) {
                        s->state = S_FILLED; /* client closed: never answered */
                        return;
                }
                if (s->attempts < rn->retries) {
                        SWARM_WARN(rn->log, "request %s: %s; sending it again", id,
                                   err->msg);
                        s->state = S_RESEND;
                        return;
                }
                s->state = S_FILLED;
                set_fatal(rn, "request %s failed: %s", id, err->msg);
                return;
        }
        switch (resp->status) {
        case SWARM_STATUS_OK:
                if (rn->ck.version < 0) {
                        rn->ck.version = resp->version;
                        SWARM_INFO(rn->log, "pinned model=%s version=%d", rn->model,
                                   (int)resp->version);
                }
                if (resp->version != rn->ck.version) {
                        /* sent before the pin; every row comes from one version */
                        s->state = S_RESEND;
                        return;
                }
                if (take_outputs(rn, s, resp, why, sizeof(why))) {
                        s->status = SWARM_STATUS_INTERNAL_ERROR;
                        snprintf(s->error, sizeof(s->error), "%s", why);
                } else {
                        rn->seen_ok = 1;
                }
                s->state = S_DONE;
                return;
        case SWARM_STATUS_MODEL_NOT_FOUND:
                snprintf(why, sizeof(why), "%.*s", (int)resp->error.len,
                         resp->error.ptr ? resp->error.ptr : "");
                s->state = S_FILLED;
                set_fatal(rn, "model %s is not served on the scoring topic: %s",
                          rn->model, why);
                return;
        case SWARM_STATUS_INVALID_REQUEST:
                snprintf(why, sizeof(why), "%.*s", (int)resp->error.len,
                         resp->error.ptr ? resp->error.ptr : "");
                if (!rn->seen_ok) {
                        /* the very first answers: the columns do not fit the
                         * model, and every chunk would be rejected alike */
                        s->state = S_FILLED;
                        set_fatal(rn, "the model refuses the input: %s%s", why,
                                  " (check --tensor / --features / --shape)");
                        return;
                }
                break;
        default:
                if (s->attempts < rn->retries) {
                        s->state = S_RESEND;
                        return;
                }
                snprintf(why, sizeof(why), "%.*s", (int)resp->error.len,
                         resp->error.ptr ? resp->error.ptr : "");
                break;
        }
        s->status = resp->status;
        snprintf(s->error, sizeof(s->error), "%s: %s",
                 swarm_status_name(resp->status), why);
        s->state = S_DONE;
}

/* Commit finished chunks in order: their rejects, then their rows. */
static int commit(run_t *rn, swarm_err_t *err) {
        score_out_row_t *rows = NULL;
        size_t rows_cap = 0;
        int r = SWARM_OK;

        while (rn->commit_seq < rn->next_seq) {
                slot_t *s = slot_of(rn, rn->commit_seq);
                if (s->state != S_DONE)
                        break;
                if (s->rej.len && (r = rej_write(rn, s->rej.data, s->rej.len, err)))
                        goto out;
                rn->ck.rejected += s->n_rej;
                rn->ck.rejected_input += s->n_rej;
                if (s->n_rows && s->status == SWARM_STATUS_OK) {
                        if (!score_writer_started(rn->wr) &&
                            (r = score_writer_begin(rn->wr, &rn->desc, err)))
                                goto out;
                        if ((size_t)s->n_rows > rows_cap) {
                                free(rows);
                                rows_cap = (size_t)s->n_rows;
                                rows = calloc(rows_cap, sizeof(*rows));
                                if (!rows) {
                                        r = swarm_err_set(err, SWARM_ERR_NOMEM,
                                                          "out of memory");
                                        goto out;
                                }
                        }
                        for (int i = 0; i < s->n_rows; i++) {
                                size_t off = 0;
                                rows[i].record = s->record[i];
                                rows[i].id = s->ids ? s->ids + (size_t)i * ID_LEN : NULL;
                                for (int o = 0; o < rn->desc.n; o++) {
                                        rows[i].out[o] = s->out + off +
                                                         (size_t)i * rn->desc.col[o].row_bytes;
                                        off += (size_t)s->n_rows * rn->desc.col[o].row_bytes;
                                }
                        }
                        if ((r = score_writer_block(rn->wr, rows, (size_t)s->n_rows,
                                                    err)))
                                goto out;
                        rn->ck.scored += (uint64_t)s->n_rows;
                        rn->ck.by_status[SWARM_STATUS_OK] += (uint64_t)s->n_rows;
                } else if (s->n_rows) {
                        swarm_buf_t b = {0};
                        for (int i = 0; i < s->n_rows; i++)
                                if (reject_line(&b, s->record[i], 0, s->error, NULL, 0)) {
                                        swarm_buf_destroy(&b);
                                        r = swarm_err_set(err, SWARM_ERR_NOMEM,
                                                          "out of memory");
                                        goto out;
                                }
                        r = rej_write(rn, b.data, b.len, err);
                        swarm_buf_destroy(&b);
                        if (r)
                                goto out;
                        rn->ck.rejected += (uint64_t)s->n_rows;
                        if ((unsigned)s->status < SWARM_STATUS__COUNT)
                                rn->ck.by_status[s->status] += (uint64_t)s->n_rows;
                        SWARM_WARN(rn->log, "rows rejected by the worker rows=%d "
                                   "first_row=%llu error=\"%s\"", s->n_rows,
                                   (unsigned long long)s->record[0], s->error);
                }
                rn->ck.pos = s->pos_after;
                rn->ck.out_bytes = score_writer_offset(rn->wr);
                rn->ck.rej_bytes = rn->rej_off;
                slot_release(rn, s);
                rn->commit_seq++;
        }
out:
        free(rows);
        return r;
}

static int checkpoint(run_t *rn, const char *path, double elapsed_before,
                      int64_t t0, swarm_err_t *err) {
        int r;
        if ((r = score_writer_sync(rn->wr, err)))
                return r;
        if (rn->rej_fd >= 0 && fdatasync(rn->rej_fd))
                return swarm_err_set(err, SWARM_ERR_IO, "%s: fdatasync: %s",
                                     rn->rej_path, strerror(errno));
        rn->ck.elapsed_s = elapsed_before + (double)(swarm_clock_us() - t0) / 1e6;
        return score_ckpt_save(path, &rn->ck, err);
}

/* ------------------------------------------------------------ options */

typedef struct opts {
        const char *model, *input, *output, *ckpt, *rejects, *results, *topic;
        const char *id_col, *registry;
        char model_name[256];
        int32_t version;
        score_format_t in_fmt;
        score_out_format_t out_fmt;
        score_tensor_spec_t specs[SWARM_MAX_INPUTS];
        char *spec_bufs[SWARM_MAX_INPUTS];
        int n_specs;
        char delim;
        int label, restart;
        int64_t top_k, rpr, window, mem_mb, retries, max_row, timeout_s;
        double ckpt_every, progress_every;
        char ckpt_buf[4096], rej_buf[4096];
} opts_t;

static int get_int(const swarm_conf_t *c, const char *key, int64_t min,
                   int64_t max, int64_t *out) {
        swarm_err_t err;
        swarm_err_clear(&err);
        if (swarm_conf_get_i64(c, key, 0, out, &err)) {
                fprintf(stderr, PROG ": %s\n", err.msg);
                return -1;
        }
        if (*out < min || *out > max) {
                fprintf(stderr, PROG ": %s: %s must be between %lld and %lld\n",
                        swarm_conf_origin(c, key), key, (long long)min,
                        (long long)max);
                return -1;
        }
        return 0;
}

static int usage_err(const char *msg, const char *arg) {
        fprintf(stderr, PROG ": ");
        fprintf(stderr, msg, arg);
        fprintf(stderr, "\nTry '" PROG " --help'.\n");
        return -1;
}

static int parse_opts(const swarm_conf_t *conf, opts_t *o) {
        const char *v, *colon;
        swarm_err_t err;
        size_t n;

        swarm_err_clear(&err);
        o->model = swarm_conf_get(conf, "swarm.model");
        o->input = swarm_conf_get(conf, "swarm.input");
        o->output = swarm_conf_get(conf, "swarm.output");
        if (!o->model || !*o->model || !o->input || !*o->input || !o->output ||
            !*o->output)
                return usage_err("--model, --input and --output are required%s", "");
        o->version = -1;
        colon = strrchr(o->model, ':');
        if (colon) {
                char *end;
                long ver;
                errno = 0;
                ver = strtol(colon + 1, &end, 10);
                if (errno || *end || end == colon + 1 || ver < 0 || ver > INT32_MAX)
                        return usage_err("--model %s: VERSION must be a number",
                                         o->model);
                o->version = (int32_t)ver;
                snprintf(o->model_name, sizeof(o->model_name), "%.*s",
                         (int)(colon - o->model), o->model);
        } else {
                snprintf(o->model_name, sizeof(o->model_name), "%s", o->model);
        }
        if ((v = swarm_conf_get(conf, "swarm.format"))) {
                int f = score_format_parse(v);
                if (f < 0)
                        return usage_err("--format must be csv, avro or npy, not "
                                         "\"%s\"", v);
                o->in_fmt = (score_format_t)f;
        } else if (!(o->in_fmt = score_format_of(o->input))) {
                return usage_err("cannot tell the format of %s: give --format",
                                 o->input);
        }
        v = swarm_conf_get(conf, "swarm.output.format");
        if (v && strcmp(v, "avro") && strcmp(v, "csv"))
                return usage_err("--output-format must be avro or csv, not \"%s\"", v);
        o->out_fmt = (v ? !strcmp(v, "csv") : score_format_of(o->output) == SCORE_FMT_CSV)
                             ? SCORE_OUT_CSV
                             : SCORE_OUT_AVRO;
        n = swarm_conf_count(conf, "swarm.tensor");
        if (n > SWARM_MAX_INPUTS)
                return usage_err("at most 16 --tensor options%s", "");
        for (size_t i = 0; i < n; i++) {
                o->spec_bufs[i] = strdup(swarm_conf_get_nth(conf, "swarm.tensor", i));
                if (!o->spec_bufs[i])
                        return -1;
                if (score_tensor_spec_parse(o->spec_bufs[i], &o->specs[i], &err))
                        return usage_err("--tensor: %s", err.msg);
                o->n_specs++;
        }
        if (!n) {
                o->specs[0].name = swarm_conf_get(conf, "swarm.input.name");
                o->specs[0].dtype = SWARM_DTYPE_FLOAT32;
                o->specs[0].columns = swarm_conf_get(conf, "swarm.features");
                o->n_specs = 1;
        }
        n = swarm_conf_count(conf, "swarm.shape");
        for (size_t i = 0; i < n; i++) {
                const char *sv = swarm_conf_get_nth(conf, "swarm.shape", i);
                const char *eq = strchr(sv, '=');
                int at = -1;
                for (int k = 0; eq && k < o->n_specs; k++)
                        if (strlen(o->specs[k].name) == (size_t)(eq - sv) &&
                            !memcmp(o->specs[k].name, sv, (size_t)(eq - sv)))
                                at = k;
                if (!eq && o->n_specs == 1)
                        at = 0;
                if (at < 0)
                        return usage_err("--shape %s: name one of the inputs "
                                         "(NAME=D1,D2,...)", sv);
                if (o->specs[at].shape_given)
                        return usage_err("--shape %s: that input has a shape "
                                         "already", sv);
                if (score_shape_parse(eq ? eq + 1 : sv, &o->specs[at], &err))
                        return usage_err("--shape: %s", err.msg);
        }
        o->id_col = swarm_conf_get(conf, "swarm.id.column");
        if (o->id_col && !*o->id_col)
                o->id_col = NULL;
        v = swarm_conf_get(conf, "swarm.delimiter");
        if (!v || strlen(v) != 1)
                return usage_err("--delimiter must be one character%s", "");
        o->delim = v[0];
        if (swarm_conf_get_bool(conf, "swarm.label", 0, &o->label, &err) ||
            swarm_conf_get_bool(conf, "swarm.restart", 0, &o->restart, &err) ||
            swarm_conf_get_double(conf, "swarm.checkpoint.interval", 1,
                                  &o->ckpt_every, &err) ||
            swarm_conf_get_double(conf, "swarm.progress.interval", 10,
                                  &o->progress_every, &err))
                return usage_err("%s", err.msg);
        if (get_int(conf, "swarm.top.k", 0, 64, &o->top_k) ||
            get_int(conf, "swarm.rows.per.request", 1, 1 << 20, &o->rpr) ||
            get_int(conf, "swarm.window", 1, 4096, &o->window) ||
            get_int(conf, "swarm.max.memory.mb", 1, 1 << 20, &o->mem_mb) ||
            get_int(conf, "swarm.retries", 1, 1000, &o->retries) ||
            get_int(conf, "swarm.max.row.bytes", 64, (int64_t)1 << 32, &o->max_row) ||
            get_int(conf, "swarm.request.timeout", 1, 86400, &o->timeout_s))
                return -1;
        o->ckpt = swarm_conf_get(conf, "swarm.checkpoint");
        if (!o->ckpt || !*o->ckpt) {
                snprintf(o->ckpt_buf, sizeof(o->ckpt_buf), "%s.ckpt", o->output);
                o->ckpt = o->ckpt_buf;
        }
        o->rejects = swarm_conf_get(conf, "swarm.rejects");
        if (!o->rejects || !*o->rejects) {
                snprintf(o->rej_buf, sizeof(o->rej_buf), "%s.rejects.csv", o->output);
                o->rejects = o->rej_buf;
        }
        o->results = swarm_conf_get(conf, "swarm.results");
        o->topic = swarm_conf_get(conf, "swarm.topic");
        o->registry = swarm_conf_get(conf, "swarm.registry");
        return 0;
}

/* Everything that changes the output's bytes, for the fingerprint. */
static void settings_text(const opts_t *o, char *buf, size_t size) {
        size_t len = (size_t)snprintf(
                buf, size, "model=%s version=%d in=%d out=%d id=%s delim=%c "
                "label=%d top_k=%lld rpr=%lld",
                o->model_name, (int)o->version, (int)o->in_fmt, (int)o->out_fmt,
                o->id_col ? o->id_col : "", o->delim, o->label, (long long)o->top_k,
                (long long)o->rpr);
        for (int i = 0; i < o->n_specs && len < size; i++) {
                len += (size_t)snprintf(buf + len, size - len, " tensor=%s:%d:%d=%s",
                                        o->specs[i].name, (int)o->specs[i].dtype,
                                        o->specs[i].dtype_given,
                                        o->specs[i].columns ? o->specs[i].columns : "*");
                /* the row shape changes the requests, not the output's
                 * bytes, but a resumed run must send what the first did */
                if (o->specs[i].shape_given && len < size)
                        len += (size_t)snprintf(buf + len, size - len, " shape=");
                for (int d = 0; o->specs[i].shape_given && d < o->specs[i].ndim &&
                     len < size; d++)
                        len += (size_t)snprintf(buf + len, size - len, "%s%lld", d ? "," : "",
                                                (long long)o->specs[i].shape[d]);
        }
}

/* Topics from the registry's deployment of the model, where set. */
static int registry_topics(const opts_t *o, const swarm_log_t *lg,
                           char *req, char *res, size_t size, swarm_err_t *err) {
        swarm_registry_t *reg = NULL;
        swarm_registry_deployment_t d;
        int r;

        memset(&d, 0, sizeof(d));
        if ((r = swarm_registry_connect(o->registry, lg, &reg, err)))
                return r;
        r = swarm_registry_deployment(reg, o->model_name, &d, err);
        if (!r) {
                if (d.batch_request_topic && *d.batch_request_topic)
                        snprintf(req, size, "%s", d.batch_request_topic);
                if (d.batch_result_topic && *d.batch_result_topic)
                        snprintf(res, size, "%s", d.batch_result_topic);
        }
        swarm_registry_deployment_destroy(&d);
        swarm_registry_destroy(reg);
        return r;
}

/* ------------------------------------------------------------ main */

int score_main(int argc, char **argv) {
        producer_start_t ps;
        swarm_err_t err;
        swarm_client_opts_t co;
        score_input_opts_t io;
        score_progress_t pg;
        opts_t o;
        run_t rn;
        char settings[4096], topic[256], results[256];
        uint8_t fp[16];
        int exit_code = -1, rc = 2, found = 0, resumed = 0;
        int64_t t0, last_ckpt;
        double elapsed_before = 0;
        uint64_t rows_at_start;

        swarm_err_clear(&err);
        memset(&o, 0, sizeof(o));
        memset(&rn, 0, sizeof(rn));
        rn.rej_fd = -1;
        rn.ck.version = -1;
        if ((exit_code = producer_start(&ps, &score_cli, score_defaults, argc,
                                        argv)) >= 0) {
                rc = exit_code;
                goto out;
        }
        if (parse_opts(ps.conf, &o))
                goto out;

        rc = 1; /* runtime errors from here on */
        snprintf(topic, sizeof(topic), "%s",
                 o.topic && *o.topic ? o.topic : "requests.batch");
        snprintf(results, sizeof(results), "%s", o.results ? o.results : "results.batch");
        if (o.registry) {
                char rt[256] = "", st[256] = "";
                if (registry_topics(&o, &ps.lg, rt, st, sizeof(rt), &err)) {
                        SWARM_ERROR(&ps.lg, "registry: %s", err.msg);
                        goto out;
                }
                /* -t / --results (any layer) still win over the deployment */
                if (*rt && !(o.topic && *o.topic))
                        snprintf(topic, sizeof(topic), "%s", rt);
                if (*st && !strcmp(swarm_conf_origin(ps.conf, "swarm.results"), "default"))
                        snprintf(results, sizeof(results), "%s", st);
        }

        memset(&io, 0, sizeof(io));
        io.path = o.input;
        io.format = o.in_fmt;
        io.tensors = o.specs;
        io.n_tensors = o.n_specs;
        io.id_column = o.id_col;
        io.delimiter = o.delim;
        io.max_row_bytes = (size_t)o.max_row;
        if (score_reader_open(&io, &rn.rd, &err)) {
                SWARM_ERROR(&ps.lg, "input: %s", err.msg);
                goto out;
        }
        rn.t = score_reader_tensors(rn.rd, &rn.n_t);
        {
                /* A request must fit one Kafka message (librdkafka's
                 * message.max.bytes, which the broker's default matches):
                 * fewer rows per request rather than a refused produce. */
                int64_t mmb = 1000000, row = 0, fit;
                swarm_err_clear(&err);
                if (swarm_conf_get_i64(ps.conf, "message.max.bytes", 1000000, &mmb, &err)) {
                        SWARM_ERROR(&ps.lg, "%s", err.msg);
                        goto out;
                }
                for (int t = 0; t < rn.n_t; t++)
                        row += (int64_t)rn.t[t].row_bytes;
                fit = (mmb - 4096) / (row ? row : 1);
                if (fit < 1) {
                        SWARM_ERROR(&ps.lg, "one row (%lld bytes) does not fit "
                                    "message.max.bytes=%lld", (long long)row,
                                    (long long)mmb);
                        goto out;
                }
                if (o.rpr > fit) {
                        if (strcmp(swarm_conf_origin(ps.conf, "swarm.rows.per.request"),
                                   "default"))
                                SWARM_WARN(&ps.lg, "rows per request lowered to %lld: "
                                           "%lld rows of %lld bytes would not fit "
                                           "message.max.bytes=%lld", (long long)fit,
                                           (long long)o.rpr, (long long)row,
                                           (long long)mmb);
                        o.rpr = fit;
                }
        }

        settings_text(&o, settings, sizeof(settings));
        if (score_ckpt_fingerprint(o.input, settings, fp, &err)) {
                SWARM_ERROR(&ps.lg, "%s", err.msg);
                goto out;
        }
        if (!o.restart && score_ckpt_load(o.ckpt, &rn.ck, &found, &err)) {
                SWARM_ERROR(&ps.lg, "checkpoint: %s (--restart starts over)", err.msg);
                goto out;
        }
        if (found && memcmp(rn.ck.fingerprint, fp, 16)) {
                SWARM_ERROR(&ps.lg, "checkpoint %s belongs to another input file or "
                            "other settings; --restart starts over", o.ckpt);
                rc = 2;
                goto out;
        }
        if (!found) {
                memset(&rn.ck, 0, sizeof(rn.ck));
                rn.ck.version = o.version;
                memcpy(rn.ck.fingerprint, fp, 16);
                /* the sync marker: a function of the input and the settings,
                 * so two runs of the same job write the same bytes */
                if (score_ckpt_fingerprint(o.input, "avro sync marker", rn.ck.sync,
                                           &err)) {
                        SWARM_ERROR(&ps.lg, "%s", err.msg);
                        goto out;
                }
                for (int i = 0; i < 16; i++)
                        rn.ck.sync[i] ^= fp[i];
                unlink(o.rejects);
        } else {
                resumed = 1;
                elapsed_before = rn.ck.elapsed_s;
                if (o.version >= 0 && rn.ck.version != o.version) {
                        SWARM_ERROR(&ps.lg, "checkpoint is pinned to version %d",
                                    (int)rn.ck.version);
                        goto out;
                }
                if (score_reader_seek(rn.rd, &rn.ck.pos, &err)) {
                        SWARM_ERROR(&ps.lg, "resume: %s", err.msg);
                        goto out;
                }
                if (rn.ck.rej_bytes == 0)
                        unlink(o.rejects);
        }
        if (score_writer_open(o.output, o.out_fmt, rn.ck.sync, rn.ck.out_bytes,
                              &rn.wr, &err)) {
                SWARM_ERROR(&ps.lg, "output: %s", err.msg);
                goto out;
        }
        rn.log = &ps.lg;
        rn.model = o.model_name;
        rn.results = results;
        rn.has_id = o.id_col != NULL;
        rn.rpr = o.rpr;
        rn.window = (int)o.window;
        rn.retries = (int)o.retries;
        rn.max_mem = (size_t)o.mem_mb << 20;
        rn.label = o.label;
        rn.top_k = (int)o.top_k;
        rn.rej_path = o.rejects;
        rn.rej_off = rn.ck.rej_bytes;
        if (rn.ck.rej_bytes) {
                swarm_err_clear(&err);
                if (rej_write(&rn, "", 0, &err)) { /* open and cut to the checkpoint */
                        SWARM_ERROR(&ps.lg, "rejects: %s", err.msg);
                        goto out;
                }
        }
        rid_new(rn.rid, sizeof(rn.rid));
        rn.ring = calloc((size_t)rn.window, sizeof(*rn.ring));
        if (!rn.ring) {
                SWARM_ERROR(&ps.lg, "out of memory");
                goto out;
        }

        memset(&co, 0, sizeof(co));
        co.request_topic = topic;
        co.result_topic = results;
        co.max_in_flight = rn.window;
        co.request_timeout_ms = (int)o.timeout_s * 1000;
        co.send_timeout_ms = 200;
        if (swarm_client_new(ps.conf, &ps.lg, &co, &rn.cl, &err)) {
                SWARM_ERROR(&ps.lg, "%s", err.msg);
                goto out;
        }
        producer_catch_stop(on_signal);

        SWARM_INFO(&ps.lg, "scoring model=%s%s%.0d input=%s output=%s topic=%s "
                   "results=%s rows_per_request=%lld window=%d max_memory_mb=%lld%s",
                   rn.model, rn.ck.version >= 0 ? " version=" : "",
                   rn.ck.version >= 0 ? (int)rn.ck.version : 0, o.input, o.output,
                   topic, results, (long long)rn.rpr, rn.window, (long long)o.mem_mb,
                   resumed ? " resumed=true" : "");
        if (resumed)
                SWARM_INFO(&ps.lg, "resuming at row=%llu scored=%llu rejected=%llu "
                           "out_bytes=%llu", (unsigned long long)rn.ck.pos.record,
                           (unsigned long long)rn.ck.scored,
                           (unsigned long long)rn.ck.rejected,
                           (unsigned long long)rn.ck.out_bytes);
        rows_at_start = rn.ck.scored + rn.ck.rejected;
        {
                uint64_t done, total;
                score_reader_progress(rn.rd, &done, &total);
                score_progress_init(&pg, &ps.lg, isatty(STDERR_FILENO), o.progress_every,
                                    rows_at_start, done);
        }
        t0 = last_ckpt = swarm_clock_us();

        for (;;) {
                int progressed = 0;
                swarm_err_clear(&err);
                if (stop_requested || rn.fatal)
                        break;
                /* resends first, oldest first: they hold up the commit */
                for (uint64_t q = rn.commit_seq; q < rn.next_seq && !stop_requested; q++) {
                        slot_t *s = slot_of(&rn, q);
                        if (s->state == S_RESEND || s->state == S_FILLED) {
                                if (send_chunk(&rn, s, &err)) {
                                        set_fatal(&rn, "send: %s%s", err.msg, "");
                                        break;
                                }
                                progressed = 1;
                        }
                }
                if (rn.fatal)
                        break;
                /* a new chunk while the window and the memory bound allow */
                if (!rn.eof && rn.next_seq - rn.commit_seq < (uint64_t)rn.window) {
                        size_t next = (rn.n_pool ? 0 : chunk_fixed_bytes(&rn)) +
                                      (size_t)rn.rpr * (rn.out_row_bytes
                                                                ? rn.out_row_bytes
                                                                : 64);
                        if (rn.next_seq == rn.commit_seq ||
                            rn.held + next <= rn.max_mem) {
                                slot_t *s = slot_of(&rn, rn.next_seq);
                                if (fill(&rn, s, &err)) {
                                        slot_release(&rn, s);
                                        set_fatal(&rn, "input: %s%s", err.msg, "");
                                        break;
                                }
                                if (s->state == S_FILLED && send_chunk(&rn, s, &err)) {
                                        set_fatal(&rn, "send: %s%s", err.msg, "");
                                        break;
                                }
                                progressed = 1;
                        }
                }
                if (rn.eof && rn.commit_seq == rn.next_seq)
                        break;
                if (!progressed || rn.inflight >= rn.window)
                        swarm_client_poll(rn.cl, progressed ? 0 : 50, NULL, NULL);
                else
                        swarm_client_poll(rn.cl, 0, NULL, NULL);
                if (commit(&rn, &err)) {
                        set_fatal(&rn, "output: %s%s", err.msg, "");
                        break;
                }
                if (o.ckpt_every >= 0 &&
                    swarm_clock_us() - last_ckpt >= (int64_t)(o.ckpt_every * 1e6)) {
                        if (checkpoint(&rn, o.ckpt, elapsed_before, t0, &err)) {
                                set_fatal(&rn, "checkpoint: %s%s", err.msg, "");
                                break;
                        }
                        last_ckpt = swarm_clock_us();
                }
                {
                        uint64_t done, total;
                        score_reader_progress(rn.rd, &done, &total);
                        score_progress_update(&pg, rn.ck.scored + rn.ck.rejected,
                                              done, total, 0);
                }
        }
        swarm_err_clear(&err);
        if (!rn.fatal && commit(&rn, &err))
                set_fatal(&rn, "output: %s%s", err.msg, "");
        {
                uint64_t done, total;
                score_reader_progress(rn.rd, &done, &total);
                score_progress_update(&pg, rn.ck.scored + rn.ck.rejected, done, total,
                                      1);
                score_progress_end(&pg);
        }
        swarm_client_destroy(rn.cl); /* in-flight chunks are re-read on resume */
        rn.cl = NULL;

        {
                int complete = !rn.fatal && !stop_requested && rn.eof &&
                               rn.commit_seq == rn.next_seq;
                double secs = (double)(swarm_clock_us() - t0) / 1e6;
                uint64_t rows = rn.ck.scored + rn.ck.rejected;

                swarm_err_clear(&err);
                if (complete && !score_writer_started(rn.wr)) {
                        /* nothing scored: still a valid file with the id column */
                        score_out_desc_t d;
                        memset(&d, 0, sizeof(d));
                        d.has_id = rn.has_id;
                        if (score_writer_begin(rn.wr, &d, &err))
                                complete = 0;
                        rn.ck.out_bytes = score_writer_offset(rn.wr);
                }
                if (rn.fatal)
                        SWARM_ERROR(&ps.lg, "%s", rn.fatal_msg);
                if (!complete && !resumed && rn.commit_seq == 0) {
                        /* nothing committed: a rerun starts from scratch
                         * anyway, and may change the options */
                        unlink(o.ckpt);
                } else if (!complete) {
                        swarm_err_clear(&err);
                        if (checkpoint(&rn, o.ckpt, elapsed_before, t0, &err))
                                SWARM_ERROR(&ps.lg, "checkpoint: %s", err.msg);
                        else
                                SWARM_WARN(&ps.lg, "stopped at row=%llu; run the same "
                                           "command again to resume from %s",
                                           (unsigned long long)rn.ck.pos.record,
                                           o.ckpt);
                } else {
                        swarm_err_clear(&err);
                        if (score_writer_sync(rn.wr, &err)) {
                                SWARM_ERROR(&ps.lg, "%s", err.msg);
                                complete = 0;
                        } else {
                                unlink(o.ckpt);
                        }
                }
                printf("summary rows=%llu scored=%llu rejected=%llu "
                       "rejected_input=%llu ok=%llu invalid_request=%llu "
                       "model_not_found=%llu deadline_exceeded=%llu "
                       "internal_error=%llu requests=%llu resent=%llu "
                       "elapsed_s=%.3f rows_per_s=%.1f total_elapsed_s=%.3f "
                       "resumed=%d complete=%d version=%d\n",
                       (unsigned long long)rows, (unsigned long long)rn.ck.scored,
                       (unsigned long long)rn.ck.rejected,
                       (unsigned long long)rn.ck.rejected_input,
                       (unsigned long long)rn.ck.by_status[SWARM_STATUS_OK],
                       (unsigned long long)rn.ck.by_status[SWARM_STATUS_INVALID_REQUEST],
                       (unsigned long long)rn.ck.by_status[SWARM_STATUS_MODEL_NOT_FOUND],
                       (unsigned long long)rn.ck.by_status[SWARM_STATUS_DEADLINE_EXCEEDED],
                       (unsigned long long)rn.ck.by_status[SWARM_STATUS_INTERNAL_ERROR],
                       (unsigned long long)rn.requests,
                       (unsigned long long)rn.resends, secs,
                       secs > 0 ? (double)(rows - rows_at_start) / secs : 0.0,
                       elapsed_before + secs, resumed, complete,
                       (int)rn.ck.version);
                fflush(stdout);
                rc = !complete ? 1 : rn.ck.rejected ? SCORE_EXIT_REJECTS : 0;
        }

out:
        swarm_client_destroy(rn.cl);
        if (rn.ring)
                for (int i = 0; i < rn.window; i++)
                        slot_release(&rn, &rn.ring[i]);
        pool_free(&rn);
        free(rn.ring);
        swarm_err_clear(&err);
        if (rn.wr && score_writer_close(rn.wr, &err) && rc == 0) {
                SWARM_ERROR(&ps.lg, "%s", err.msg);
                rc = 1;
        }
        if (rn.rej_fd >= 0)
                close(rn.rej_fd);
        score_reader_destroy(rn.rd);
        for (int i = 0; i < SWARM_MAX_INPUTS; i++)
                free(o.spec_bufs[i]);
        swarm_conf_destroy(ps.conf);
        return rc;
}
