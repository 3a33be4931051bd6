/*
 * swarm-producer: send the rows of an array file as inference requests,
 * optionally wait for every response, write the outputs in input order and
 * print a summary.  A thin program over the client library (client.h) and
 * array I/O (arrayio.h).
 *
 * stdout: the summary only (key=value lines); stderr: logs.
 * Exit: 0 everything sent (and with --wait answered OK), 1 otherwise, 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "swarm/arrayio.h"
#include "swarm/client.h"
#include "swarm/clock.h"
#include "swarm/conf.h"
#include "swarm/fileio.h"
#include "swarm/log.h"
#include "score.h"
#include "start.h"

/* Sends and the final wait give up this often to look at a stop request. */
#define SEND_SLICE_MS 200
/* Latency samples kept before the first growth. */
#define LATENCY_INITIAL_CAP 4096

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
        (void)sig;
        stop_requested = 1;
}

/* The producer's settings; every default and bound is in producer_opts. */
typedef struct producer_opts {
        const char *topic, *model, *input, *input_name, *format, *shape;
        const char *results, *reply, *output, *id_prefix;
        const char *latency_log;
        int64_t rows_per_req, repeat, window, timeout_s;
        int64_t version, deadline_ms;   /* -1: not given */
        double rate;
        int as_f32, keyed, wait;
        swarm_opt_list_t meta;
} producer_opts_t;

#define F(m) SWARM_FIELD(producer_opts_t, m)
static const swarm_opt_t producer_opts[] = {
        {"model", 'm', "swarm.model", "NAME", "model name (required)", NULL, 0,
         .field = F(model)},
        {"model-version", 0, "swarm.model.version", "V",
         "model version (default: the production version)", NULL, 0,
         SWARM_OPT_INT, 0, INT32_MAX, .field = F(version)},
        {"input", 'i', "swarm.input", "FILE", "input array (required; - reads "
         "standard input)", NULL, 0, .field = F(input)},
        {"input-name", 0, "swarm.input.name", "NAME", "input tensor name",
         "input", 0, .field = F(input_name)},
        {"format", 'f', "swarm.format", "npy|csv|raw",
         "input format (default: from the extension, raw otherwise; npy for "
         "standard input)", NULL, 0, .choices = "npy|csv|raw", .field = F(format)},
        {"shape", 0, "swarm.shape", "D1,D2,...",
         "shape of one row of raw float32 input", NULL, 0, .field = F(shape)},
        {"as-float32", 0, "swarm.as.float32", NULL,
         "convert the input to float32 before sending", "false", 0,
         SWARM_OPT_BOOL, .field = F(as_f32)},
        {"rows-per-request", 'n', "swarm.rows.per.request", "N",
         "rows per request", "1", 0, SWARM_OPT_INT, 1, INT32_MAX,
         .field = F(rows_per_req)},
        {"repeat", 0, "swarm.repeat", "N", "passes over the input", "1", 0,
         SWARM_OPT_INT, 1, 1e12, .field = F(repeat)},
        {"rate", 0, "swarm.rate", "R",
         "requests per second, 0 = as fast as the window allows", "0", 0,
         SWARM_OPT_DOUBLE, 0, 1e9, .field = F(rate)},
        {"window", 'w', "swarm.window", "N", "max requests in flight",
         SWARM_STRINGIFY(SWARM_CLIENT_WINDOW), 0, SWARM_OPT_INT, 1, 1 << 20, .field = F(window)},
        {"keyed", 0, "swarm.keyed", NULL,
         "key requests by id (default: no key, spread over partitions)",
         "false", 0, SWARM_OPT_BOOL, .field = F(keyed)},
        {"wait", 0, "swarm.wait", NULL, "wait for every response", "false", 0,
         SWARM_OPT_BOOL, .field = F(wait)},
        {"results", 'r', "swarm.results", "TOPIC",
         "result topic read with --wait (default: --reply-topic if given)",
         "results", 0, .field = F(results)},
        {"reply-topic", 0, "swarm.reply.topic", "T",
         "ask workers to answer on topic T", NULL, 0, .field = F(reply)},
        {"deadline-ms", 0, "swarm.deadline.ms", "MS",
         "deadline of each request, MS after it is sent", NULL, 0,
         SWARM_OPT_INT, 0, 1e12, .field = F(deadline_ms)},
        {"timeout", 0, "swarm.timeout", "S",
         "bounds the start (broker and topic lookups), a full window that "
         "frees no slot, and, after the last send, the wait for responses "
         "(deliveries without --wait)", "60", 0,
         SWARM_OPT_INT, 0, 1e6, .field = F(timeout_s)},
        {"output", 'o', "swarm.output", "FILE",
         "write the first output tensor, row-aligned with the input "
         "(.npy or .csv; needs --wait; first pass of --repeat)", NULL, 0,
         .field = F(output)},
        {"meta", 0, "swarm.meta", "K=V", "request metadata", NULL, 1,
         SWARM_OPT_LIST, .field = F(meta)},
        {"latency-log", 0, "swarm.latency.log", "FILE",
         "write one line per answered request: send time (wall clock, ms), "
         "latency (us), status, source partition, worker (for latency over time "
         "across scale events, bench/scaling)", NULL, 0, .field = F(latency_log)},
        {"id-prefix", 0, "swarm.id.prefix", "P",
         "request id prefix (ids are P<run id>-<seq>)", "", 0, .field = F(id_prefix)},
        SWARM_OPT_END,
};
#undef F

static const swarm_cli_t producer_cli = {
        "swarm-producer",
        "--model NAME --input FILE [options]",
        "Send the rows of an array file (.npy, .csv, raw float32) as inference "
        "requests to the request topic (-t, default \"requests\"); with --wait "
        "collect the responses, with --output write them in input order.  "
        "Prints key=value summary lines to stdout; latency is send to response "
        "(send to broker acknowledgement without --wait).",
        producer_opts,
        SWARM_CLI_ALL,
        "requests",
        SWARM_FIELD(producer_opts_t, topic),
};

typedef struct run {
        const swarm_log_t *log;
        const swarm_array_t *in;
        int64_t rows, rows_per_req, per_pass;
        int wait;
        const char *output;

        /* outcomes */
        uint64_t answered, delivered, delivery_failed, unanswered;
        uint64_t by_status[SWARM_STATUS__COUNT];
        int64_t *lat_us;
        size_t n_lat, cap_lat;
        int64_t last_done_us;
        int logged_status, logged_output;
        FILE *lat_log;                  /* --latency-log */

        /* --output */
        swarm_array_t *out;
        size_t out_row_bytes;
        int64_t out_rows_filled;
} run_t;

static void add_latency(run_t *rn, int64_t us) {
        if (rn->n_lat == rn->cap_lat) {
                size_t cap = rn->cap_lat ? rn->cap_lat * 2 : LATENCY_INITIAL_CAP;
                int64_t *v = realloc(rn->lat_us, cap * sizeof(*v));
                if (!v)
                        return; /* the summary then covers fewer samples */
                rn->lat_us = v;
                rn->cap_lat = cap;
        }
        rn->lat_us[rn->n_lat++] = us;
}

/* Copy the first output of an OK response of the first pass into the output
 * array at its input rows. */
static void store_output(run_t *rn, int64_t first_row, int64_t rows,
                         const swarm_response_t *resp) {
        const swarm_tensor_t *t = &resp->outputs[0];
        size_t row_bytes;
        swarm_err_t err;

        swarm_err_clear(&err);
        if (resp->n_outputs < 1 || t->ndim < 1 || t->shape[0] != rows ||
            t->size % (size_t)rows) {
                if (!rn->logged_output++)
                        SWARM_WARN(rn->log, "response output does not have the "
                                   "request's %lld rows; it is left out of "
                                   "--output", (long long)rows);
                return;
        }
        row_bytes = t->size / (size_t)rows;
        if (!rn->out) {
                int64_t shape[SWARM_MAX_DIMS];
                shape[0] = rn->rows;
                for (int i = 1; i < t->ndim; i++)
                        shape[i] = t->shape[i];
                if (swarm_array_new(t->dtype, t->ndim, shape, &rn->out, &err)) {
                        SWARM_ERROR(rn->log, "--output: %s", err.msg);
                        rn->logged_output++;
                        rn->out_row_bytes = (size_t)-1;
                        return;
                }
                rn->out_row_bytes = row_bytes;
        }
        if (rn->out_row_bytes != row_bytes || rn->out->dtype != t->dtype) {
                if (!rn->logged_output++)
                        SWARM_WARN(rn->log, "responses disagree on the output "
                                   "row shape or dtype; --output keeps the first");
                return;
        }
        memcpy((char *)rn->out->data + (size_t)first_row * row_bytes, t->data,
               t->size);
        rn->out_rows_filled += rows;
}

/* Request ids end in -<seq>; the sequence locates the rows. */
static void on_done(const char *id, const swarm_response_t *resp,
                    const swarm_err_t *err, int64_t latency_us, void *opaque) {
        run_t *rn = opaque;
        const char *dash = strrchr(id, '-');
        int64_t seq = dash ? strtoll(dash + 1, NULL, 10) : 0;

        rn->last_done_us = swarm_clock_us();
        if (err) {
                if (err->code == SWARM_ERR_KAFKA) {
                        rn->delivery_failed++;
                        SWARM_ERROR(rn->log, "request failed id=%s err=\"%s\"", id,
                                    err->msg);
                } else {
                        rn->unanswered++;
                        SWARM_DEBUG(rn->log, "request unanswered id=%s err=\"%s\"",
                                    id, err->msg);
                }
                return;
        }
        add_latency(rn, latency_us);
        if (rn->lat_log)
                fprintf(rn->lat_log, "%lld %lld %s %d %.*s\n",
                        (long long)(swarm_clock_wall_ms() - latency_us / 1000),
                        (long long)latency_us,
                        resp ? swarm_status_name(resp->status) : "DELIVERED",
                        resp ? (int)resp->source_partition : -1,
                        resp && resp->worker.ptr ? (int)resp->worker.len : 1,
                        resp && resp->worker.ptr ? resp->worker.ptr : "-");
        if (!resp) {
                rn->delivered++;
                return;
        }
        rn->answered++;
        if ((unsigned)resp->status < SWARM_STATUS__COUNT)
                rn->by_status[resp->status]++;
        if (resp->status != SWARM_STATUS_OK) {
                /* one line per distinct failure would flood a big run */
                if (rn->logged_status++ < 5)
                        SWARM_WARN(rn->log, "request not served id=%s status=%s "
                                   "error=\"%.*s\"", id,
                                   swarm_status_name(resp->status),
                                   (int)resp->error.len,
                                   resp->error.ptr ? resp->error.ptr : "");
                return;
        }
        if (rn->output && seq < rn->per_pass) {
                int64_t first = seq * rn->rows_per_req;
                int64_t rows = rn->rows - first < rn->rows_per_req
                                       ? rn->rows - first
                                       : rn->rows_per_req;
                store_output(rn, first, rows, resp);
        }
}

static int cmp_i64(const void *a, const void *b) {
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
        return (x > y) - (x < y);
}

static double pct_ms(const int64_t *v, size_t n, int pct) {
        size_t k;
        if (!n)
                return 0;
        /* nearest rank */
        k = (n * (size_t)pct + 99) / 100;
        if (k == 0)
                k = 1;
        return (double)v[k - 1] / 1000.0;
}

static void run_id(char *buf, size_t size) {
        uint32_t r = 0;
        if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
                r = (uint32_t)swarm_clock_us() ^ (uint32_t)getpid() << 16;
        snprintf(buf, size, "%08" PRIx32, r);
}

/* A usage error: print it, exit 2. */
static int usage(const char *fmt, const char *arg) {
        swarm_err_t err;
        swarm_err_clear(&err);
        swarm_err_set(&err, SWARM_ERR_CONFIG, fmt, arg);
        return swarm_cli_error(&producer_cli, &err);
}

/* `-i -`: standard input holds a .npy array (the one self-describing
 * format); `-f csv`/`-f raw` are read through a temporary file. */
static int load_input(const producer_opts_t *po, const swarm_array_load_opts_t *lo,
                      swarm_array_t **out, swarm_err_t *err) {
        void *buf = NULL;
        size_t len = 0;
        int r;

        if (strcmp(po->input, "-"))
                return swarm_array_load(po->input, lo, out, err);
        if ((r = swarm_fileio_read(stdin, "standard input", &buf, &len, err)))
                return r;
        if (!po->format || !strcmp(po->format, "npy")) {
                r = swarm_array_parse_npy(buf, len, "standard input", lo->to_float32,
                                          out, err);
        } else {
                char path[] = "/tmp/swarm-producer-stdin-XXXXXX";
                int fd = mkstemp(path);
                if (fd < 0) {
                        free(buf);
                        return swarm_err_set(err, SWARM_ERR_IO, "temporary file: %s",
                                             strerror(errno));
                }
                if (write(fd, buf, len) != (ssize_t)len)
                        r = swarm_err_set(err, SWARM_ERR_IO, "temporary file: %s",
                                          strerror(errno));
                close(fd);
                if (!r)
                        r = swarm_array_load(path, lo, out, err);
                unlink(path);
        }
        free(buf);
        return r;
}

int main(int argc, char **argv) {
        producer_start_t ps;
        swarm_err_t err;
        swarm_array_t *in = NULL;
        swarm_array_load_opts_t lo;
        swarm_client_t *cl = NULL;
        swarm_client_opts_t co;
        swarm_client_stats_t st;
        swarm_str_t *meta = NULL;
        run_t rn;
        producer_opts_t po;
        const char *results, *prefix;
        int rc = 1, r;
        size_t n_meta;
        char rid[16];
        uint64_t seq = 0, total, send_failed = 0;
        int64_t t0 = 0, t_end, start_us = 0;

        /* `swarm-producer score ...`: offline batch scoring (score.h) */
        if (argc > 1 && !strcmp(argv[1], "score"))
                return score_main(argc - 1, argv + 1);

        swarm_err_clear(&err);
        memset(&rn, 0, sizeof(rn));
        memset(&po, 0, sizeof(po));
        if ((rc = producer_start(&ps, &producer_cli, NULL, argc, argv)) >= 0)
                goto out;
        rc = 2; /* usage errors until the options check out */
        if (swarm_opts_fill(&producer_cli, ps.conf, &po, &err)) {
                rc = swarm_cli_error(&producer_cli, &err);
                goto out;
        }
        prefix = po.id_prefix ? po.id_prefix : "";
        results = po.results;
        /* workers answer on the reply topic when one is given; read that
         * unless --results was set explicitly */
        if (po.reply && *po.reply &&
            !strcmp(swarm_conf_origin(ps.conf, "swarm.results"), "default"))
                results = po.reply;
        if (!po.model || !*po.model || !po.input || !*po.input) {
                rc = usage("%s", "--model and --input are required");
                goto out;
        }
        if (po.output && !po.wait) {
                rc = usage("%s", "--output needs --wait");
                goto out;
        }
        if (po.output && swarm_array_format_of(po.output) == SWARM_ARRAY_RAW) {
                rc = usage("%s", "--output must end in .npy or .csv");
                goto out;
        }
        memset(&lo, 0, sizeof(lo));
        lo.to_float32 = po.as_f32;
        if (po.format)
                lo.format = (swarm_array_format_t)swarm_array_format_parse(po.format);
        if (po.shape && swarm_array_shape_parse(po.shape, lo.row_shape,
                                                SWARM_MAX_DIMS - 1, &lo.row_ndim,
                                                &err)) {
                swarm_err_prefix(&err, "--shape: ");
                rc = swarm_cli_error(&producer_cli, &err);
                goto out;
        }
        n_meta = po.meta.n;
        meta = calloc(2 * n_meta + 1, sizeof(*meta));
        if (!meta) {
                rc = 1;
                goto out;
        }
        for (size_t i = 0; i < n_meta; i++) {
                const char *kv = po.meta.v[i];
                const char *eq = strchr(kv, '=');
                if (!eq || eq == kv) {
                        rc = usage("--meta expects key=value, got \"%s\"", kv);
                        goto out;
                }
                meta[2 * i] = (swarm_str_t){kv, (size_t)(eq - kv)};
                meta[2 * i + 1] = swarm_str(eq + 1);
        }

        /* from here on failures are runtime errors */
        rc = 1;
        if (load_input(&po, &lo, &in, &err)) {
                SWARM_ERROR(&ps.lg, "cannot read input: %s", err.msg);
                goto out;
        }
        if (in->ndim == 0) {
                /* a scalar is one row of one element */
                in->ndim = 1;
                in->shape[0] = 1;
        }
        rn.log = &ps.lg;
        rn.in = in;
        rn.rows = swarm_array_rows(in);
        rn.rows_per_req = po.rows_per_req;
        rn.per_pass = (rn.rows + po.rows_per_req - 1) / po.rows_per_req;
        rn.wait = po.wait;
        rn.output = po.output;
        if (po.latency_log && !(rn.lat_log = fopen(po.latency_log, "w"))) {
                SWARM_ERROR(&ps.lg, "--latency-log %s: %s", po.latency_log, strerror(errno));
                goto out;
        }
        if (rn.rows == 0) {
                SWARM_ERROR(&ps.lg, "input %s has no rows", po.input);
                goto out;
        }
        total = (uint64_t)rn.per_pass * (uint64_t)po.repeat;

        memset(&co, 0, sizeof(co));
        co.request_topic = po.topic;
        co.result_topic = po.wait ? results : NULL;
        co.max_in_flight = (int)po.window;
        co.keyed = po.keyed;
        co.send_timeout_ms = SEND_SLICE_MS;
        /* --timeout bounds the start too: a dead broker fails within it */
        co.start_timeout_ms = po.timeout_s > 0 && po.timeout_s < INT32_MAX / 1000
                                      ? (int)(po.timeout_s * 1000)
                                      : 0;
        start_us = swarm_clock_us();
        if (swarm_client_new(ps.conf, &ps.lg, &co, &cl, &err)) {
                SWARM_ERROR(&ps.lg, "%s", err.msg);
                goto out;
        }
        start_us = swarm_clock_us() - start_us;

        producer_catch_stop(on_signal);

        run_id(rid, sizeof(rid));
        SWARM_INFO(&ps.lg, "sending topic=%s model=%s input=%s rows=%lld "
                   "requests=%llu window=%lld run=%s%s", po.topic, po.model, po.input,
                   (long long)rn.rows, (unsigned long long)total,
                   (long long)po.window, rid, po.wait ? " wait=true" : "");
        t0 = swarm_clock_us();
        for (int64_t pass = 0; pass < po.repeat && !stop_requested; pass++) {
                for (int64_t k = 0; k < rn.per_pass && !stop_requested; k++) {
                        swarm_request_t req;
                        size_t rb = swarm_array_row_bytes(in);
                        int64_t first = k * po.rows_per_req;
                        int64_t rows = rn.rows - first < po.rows_per_req
                                               ? rn.rows - first
                                               : po.rows_per_req;
                        char id[256];

                        if (po.rate > 0) {
                                int64_t due = t0 + (int64_t)((double)seq * 1e6 / po.rate);
                                int64_t now;
                                while (!stop_requested && (now = swarm_clock_us()) < due)
                                        swarm_client_poll(cl, (int)((due - now + 999) / 1000), NULL, NULL);
                        }
                        snprintf(id, sizeof(id), "%s%s-%llu", prefix, rid,
                                 (unsigned long long)seq);
                        memset(&req, 0, sizeof(req));
                        req.request_id = swarm_str(id);
                        req.model = swarm_str(po.model);
                        if (po.version >= 0) {
                                req.has_version = 1;
                                req.version = (int32_t)po.version;
                        }
                        if (po.reply && *po.reply) {
                                req.has_reply_topic = 1;
                                req.reply_topic = swarm_str(po.reply);
                        }
                        if (po.deadline_ms >= 0) {
                                req.has_deadline = 1;
                                req.deadline_ms = swarm_clock_wall_ms() + po.deadline_ms;
                        }
                        req.n_inputs = 1;
                        req.inputs[0].name = swarm_str(po.input_name);
                        req.inputs[0].dtype = in->dtype;
                        req.inputs[0].ndim = in->ndim;
                        memcpy(req.inputs[0].shape, in->shape, sizeof(in->shape));
                        req.inputs[0].shape[0] = rows;
                        req.inputs[0].data = (const char *)in->data +
                                             (size_t)first * rb;
                        req.inputs[0].size = (size_t)rows * rb;
                        /* sends give up every SEND_SLICE_MS while the window
                         * stays full, so SIGINT still ends the run; a window
                         * that frees no slot for --timeout (the broker or
                         * every worker gone) ends it too, as the final wait
                         * does */
                        {
                                int64_t stalled = swarm_clock_us();
                                while ((r = swarm_client_send(cl, &req, meta, n_meta,
                                                              on_done, &rn, &err)) ==
                                               SWARM_ERR_TIMEOUT &&
                                       !stop_requested) {
                                        swarm_err_clear(&err);
                                        if (po.timeout_s > 0 &&
                                            swarm_clock_us() - stalled >
                                                    po.timeout_s * 1000000) {
                                                SWARM_ERROR(&ps.lg,
                                                            "no request completed "
                                                            "for %llds with the "
                                                            "window full "
                                                            "(in_flight=%lld): "
                                                            "giving up",
                                                            (long long)po.timeout_s,
                                                            (long long)swarm_client_in_flight(cl));
                                                send_failed++;
                                                stop_requested = 1;
                                        }
                                }
                        }
                        if (r == SWARM_ERR_TIMEOUT)
                                break;
                        if (r) {
                                SWARM_ERROR(&ps.lg, "send failed id=%s: %s", id,
                                            err.msg);
                                send_failed++;
                                stop_requested = 1;
                                break;
                        }
                        seq++;
                }
        }
        if (stop_requested && !send_failed)
                SWARM_WARN(&ps.lg, "interrupted after %llu of %llu requests",
                           (unsigned long long)seq, (unsigned long long)total);
        {
                /* a signal or a failed send ends the wait at once */
                /* what the start took counts against --timeout: against a
                 * dead broker the whole run ends within it */
                int64_t limit = (int64_t)po.timeout_s * 1000 - start_us / 1000,
                        start = swarm_clock_us();
                swarm_err_clear(&err);
                while (!stop_requested && swarm_client_in_flight(cl) > 0) {
                        int64_t left = limit - (swarm_clock_us() - start) / 1000;
                        if (left <= 0) {
                                SWARM_WARN(&ps.lg, "gave up waiting after %llds "
                                           "in_flight=%lld",
                                           (long long)po.timeout_s,
                                           (long long)swarm_client_in_flight(cl));
                                break;
                        }
                        swarm_client_flush(cl, left < SEND_SLICE_MS ? (int)left
                                                                    : SEND_SLICE_MS,
                                           &err);
                }
        }
        swarm_client_stats(cl, &st);
        swarm_client_destroy(cl); /* completes the rest as unanswered */
        cl = NULL;
        t_end = rn.last_done_us > t0 ? rn.last_done_us : swarm_clock_us();

        {
                uint64_t finished = po.wait ? rn.answered : rn.delivered;
                double secs = (double)(t_end - t0) / 1e6;
                int all_ok;

                if (rn.n_lat)
                        qsort(rn.lat_us, rn.n_lat, sizeof(*rn.lat_us), cmp_i64);
                printf("delivery sent=%llu delivered=%llu delivery_failed=%llu "
                       "unknown_responses=%llu decode_errors=%llu elapsed_s=%.3f\n",
                       (unsigned long long)seq, (unsigned long long)st.delivered,
                       (unsigned long long)st.delivery_failed,
                       (unsigned long long)st.unknown_responses,
                       (unsigned long long)st.decode_errors, secs);
                printf("summary sent=%llu answered=%llu ok=%llu invalid_request=%llu "
                       "model_not_found=%llu deadline_exceeded=%llu "
                       "internal_error=%llu unanswered=%llu throughput_rps=%.1f "
                       "p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
                       (unsigned long long)seq, (unsigned long long)rn.answered,
                       (unsigned long long)rn.by_status[SWARM_STATUS_OK],
                       (unsigned long long)rn.by_status[SWARM_STATUS_INVALID_REQUEST],
                       (unsigned long long)rn.by_status[SWARM_STATUS_MODEL_NOT_FOUND],
                       (unsigned long long)rn.by_status[SWARM_STATUS_DEADLINE_EXCEEDED],
                       (unsigned long long)rn.by_status[SWARM_STATUS_INTERNAL_ERROR],
                       (unsigned long long)(po.wait ? seq - rn.answered : 0),
                       secs > 0 ? (double)finished / secs : 0.0,
                       pct_ms(rn.lat_us, rn.n_lat, 50),
                       pct_ms(rn.lat_us, rn.n_lat, 99),
                       rn.n_lat ? (double)rn.lat_us[rn.n_lat - 1] / 1000.0 : 0.0);
                fflush(stdout);

                all_ok = seq == total && !send_failed && rn.delivery_failed == 0 &&
                         (po.wait ? rn.by_status[SWARM_STATUS_OK] == seq
                               : rn.delivered == seq);
                if (po.output) {
                        if (!rn.out) {
                                SWARM_ERROR(&ps.lg, "--output %s not written: no OK "
                                            "response with outputs", po.output);
                                all_ok = 0;
                        } else {
                                if (rn.out_rows_filled != rn.rows) {
                                        SWARM_WARN(&ps.lg, "--output %s: %lld of %lld "
                                                   "rows have no OK response and "
                                                   "are zero", po.output,
                                                   (long long)(rn.rows -
                                                               rn.out_rows_filled),
                                                   (long long)rn.rows);
                                        all_ok = 0;
                                }
                                swarm_err_clear(&err);
                                if ((swarm_array_format_of(po.output) == SWARM_ARRAY_NPY
                                             ? swarm_array_write_npy(po.output, rn.out, &err)
                                             : swarm_array_write_csv(po.output, rn.out, &err))) {
                                        SWARM_ERROR(&ps.lg, "--output: %s", err.msg);
                                        all_ok = 0;
                                }
                        }
                }
                rc = all_ok ? 0 : 1;
        }

out:
        swarm_client_destroy(cl);
        if (rn.lat_log && fclose(rn.lat_log)) {
                SWARM_ERROR(&ps.lg, "--latency-log %s: %s", po.latency_log, strerror(errno));
                rc = 1;
        }
        swarm_array_destroy(in);
        swarm_array_destroy(rn.out);
        free(rn.lat_us);
        free(meta);
        swarm_opts_destroy(&producer_cli, &po);
        swarm_conf_destroy(ps.conf);
        return rc;
}
