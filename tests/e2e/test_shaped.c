/*
 * test_shaped.c - a model with a symbolic batch AND sequence length
 * (tests/fixtures/shaped, built by make_model.py: int64 ids, a float mask
 * and a fixed-width bias in; float scores, int64 top-k ids, per-token
 * floats [rows,seq,4] and a bool mask out) through Kafka and a real
 * swarm-consumer, with sequence lengths 8, 16 and 32 mixed in one stream.
 *
 * Runs under tests/lib/with-broker.sh (SWARM_BOOTSTRAP set; topics
 * requests, results, requests.dlq).  Starts one worker (--max-batch-rows 8,
 * --log-level debug), sends REPEAT rounds of one-row requests interleaving
 * the three lengths row by row, each case once whole (6 rows), and three
 * bad requests.  Asserts:
 *  - every request answered exactly once; the good ones OK, with every
 *    output's dtype and resolved shape (rows, seq) and values: floats within
 *    1e-5 of the case's max|reference| (numpy, float64), top-k ids and the
 *    bool mask exact; batch_rows between the request's rows and 8;
 *  - a bias of width 9 (contradicts the fixed 8), ids and mask of different
 *    lengths, and float ids are INVALID_REQUEST naming the signature;
 *  - from the worker's debug log ("batch ... rows=N dims=[S,S]"): every
 *    batch has one sequence length for both inputs, the rows per length
 *    add up to exactly what was sent at that length, no batch has more than
 *    8 rows, and requests were batched together (fewer batches than
 *    requests) at every length;
 *  - the same model with external data (model_ext.onnx + .data, served as
 *    shaped_ext from --model-file) answers each case whole the same way;
 *  - the worker exits 0 on SIGTERM.
 * Usage: test_shaped CONSUMER FIXTURE_DIR [REPEAT]
 */
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "ref_case.h"
#include "test_client.h"
#include "test_request.h"
#include "proc.h"
#include "tracker.h"
#include "swarm/arrayio.h"
#include "swarm/client.h"
#include "swarm/codec.h"
#include "swarm/conf.h"

#define N_CASES 3
#define N_IN 3
#define N_OUT 4
#define MAX_ROWS 8
#define REL_TOL 1e-5
#define N_BAD 3

static const char *const case_names[N_CASES] = {"s8", "s16", "s32"};
static const int64_t case_seq[N_CASES] = {8, 16, 32};
static const char *const in_names[N_IN] = {"ids", "mask", "bias"};
static const char *const out_names[N_OUT] = {"scores", "top_ids", "tokens", "valid"};

typedef struct fcase {
        swarm_array_t *in[N_IN];
        swarm_array_t *want[N_OUT];
        double lim[N_OUT];      /* REL_TOL * max|want| per float output */
} fcase_t;

typedef struct expect {
        int cs;                 /* case; -1: a bad request */
        int64_t r0, rows;
        int ext;                /* sent to shaped_ext */
} expect_t;

typedef struct ctx {
        fcase_t cases[N_CASES];
        expect_t *ex;
        tracker_t tr;           /* answers per request */
        int64_t n, ok, invalid;
        int64_t sent_rows[N_CASES];
        double worst;
} ctx_t;

static int load_cases(const char *dir, ctx_t *c, swarm_err_t *err) {
        for (int k = 0; k < N_CASES; k++) {
                fcase_t *f = &c->cases[k];
                if (ref_case_load(dir, case_names[k], N_IN, N_OUT, REL_TOL, f->in, f->want, f->lim,
                                  err))
                        return -1;
        }
        return 0;
}

static void check_output(ctx_t *c, const char *rid, const expect_t *e, int o,
                         const swarm_tensor_t *t) {
        const fcase_t *k = &c->cases[e->cs];
        ref_case_check(rid, out_names[o], k->want[o], k->lim[o], e->r0, e->rows, t, &c->worst);
}

/* The checks of one answer (tracker.h calls it for a known id). */
static void check_answer(void *opaque, int64_t idx, const char *request_id,
                         const swarm_response_t *resp) {
        ctx_t *c = opaque;
        expect_t *e = &c->ex[idx];

        if (e->cs < 0) {
                int sig = resp->has_error &&
                          memmem(resp->error.ptr, resp->error.len, "ids:INT64[", 10);
                CHECK(resp->status == SWARM_STATUS_INVALID_REQUEST && sig,
                      "%s (bad request): status %s: %.*s", request_id,
                      swarm_status_name(resp->status), (int)resp->error.len,
                      resp->error.ptr);
                if (resp->status == SWARM_STATUS_INVALID_REQUEST)
                        c->invalid++;
                return;
        }
        if (!tracker_ok(request_id, resp))
                return;
        CHECK(resp->batch_rows >= e->rows && resp->batch_rows <= MAX_ROWS,
              "%s: batch_rows %d for %" PRId64 " rows", request_id,
              (int)resp->batch_rows, e->rows);
        CHECK(resp->n_outputs == N_OUT, "%s: %d outputs", request_id, resp->n_outputs);
        if (resp->n_outputs != N_OUT)
                return;
        for (int o = 0; o < N_OUT; o++)
                check_output(c, request_id, e, o, &resp->outputs[o]);
        c->ok++;
}

static pid_t spawn_worker(const char *bin, const char *bootstrap, const char *spec,
                          const char *spec_ext, const char *group, const char *log) {
        const char *argv[] = {bin, "-b", bootstrap, "-g", group, "-t", "requests", "-M",
                              spec, "-M", spec_ext, "--max-batch-rows", "8", "--max-delay-us",
                              "20000", "--log-level", "debug", "-X", "session.timeout.ms=6000",
                              "-X", "heartbeat.interval.ms=500", NULL};
        return proc_spawn_logged(argv, log, "w");
}

static int send_to(swarm_client_t *cl, ctx_t *c, const char *model,
                   swarm_request_t *req, int cs, int64_t r0, int64_t rows,
                   swarm_err_t *err) {
        char rid[32];
        snprintf(rid, sizeof(rid), "r%" PRId64, c->n);
        req->request_id = swarm_str(rid);
        req->model = swarm_str(model);
        c->ex[c->n].cs = cs;
        c->ex[c->n].r0 = r0;
        c->ex[c->n].rows = rows;
        c->ex[c->n].ext = strcmp(model, "shaped") != 0;
        c->n++;
        if (cs >= 0 && !strcmp(model, "shaped"))
                c->sent_rows[cs] += rows;
        return swarm_client_send(cl, req, NULL, 0, tracker_on_done, &c->tr, err) ? -1 : 0;
}

static int send_req(swarm_client_t *cl, ctx_t *c, swarm_request_t *req, int cs,
                    int64_t r0, int64_t rows, swarm_err_t *err) {
        return send_to(cl, c, "shaped", req, cs, r0, rows, err);
}

/* Rows [r0, r0 + rows) of case cs as a request. */
static void case_request(const ctx_t *c, int cs, int64_t r0, int64_t rows,
                         swarm_request_t *req) {
        memset(req, 0, sizeof(*req));
        req->n_inputs = N_IN;
        for (int i = 0; i < N_IN; i++)
                test_tensor_rows(&req->inputs[i], in_names[i], c->cases[cs].in[i], r0, rows);
}

/* Batches of the worker's debug log: rows per sequence length, batches per
 * length, the largest batch; a batch whose two dims differ is a failure. */
static void check_log(const char *log, const ctx_t *c) {
        int64_t rows_at[N_CASES] = {0}, batches_at[N_CASES] = {0}, reqs_at[N_CASES] = {0};
        char line[1024];
        FILE *f = fopen(log, "r");

        CHECK(f != NULL, "cannot read %s", log);
        if (!f)
                return;
        while (fgets(line, sizeof(line), f)) {
                const char *p = strstr(line, "batch model=shaped ");
                long long rows, a, b;
                const char *q;
                int k;
                if (!p || !(q = strstr(p, " rows=")) ||
                    sscanf(q, " rows=%lld dims=[%lld,%lld]", &rows, &a, &b) != 3)
                        continue;
                CHECK(a == b, "a batch with ids of length %lld and mask of %lld", a, b);
                CHECK(rows >= 1 && rows <= MAX_ROWS, "a batch of %lld rows", rows);
                for (k = 0; k < N_CASES && case_seq[k] != a; k++)
                        ;
                CHECK(k < N_CASES, "a batch of sequence length %lld", a);
                if (k == N_CASES)
                        continue;
                rows_at[k] += rows;
                batches_at[k]++;
        }
        fclose(f);
        for (int64_t i = 0; i < c->n; i++)
                if (c->ex[i].cs >= 0 && !c->ex[i].ext)
                        reqs_at[c->ex[i].cs]++;
        for (int k = 0; k < N_CASES; k++) {
                printf("length %" PRId64 ": %" PRId64 " requests, %" PRId64 " rows in %" PRId64
                       " batches (mean %.2f rows)\n",
                       case_seq[k], reqs_at[k], rows_at[k], batches_at[k],
                       batches_at[k] ? (double)rows_at[k] / (double)batches_at[k] : 0.0);
                CHECK(rows_at[k] == c->sent_rows[k], "length %" PRId64 ": %" PRId64
                      " rows in batches, %" PRId64 " sent", case_seq[k], rows_at[k],
                      c->sent_rows[k]);
                CHECK(batches_at[k] < reqs_at[k], "length %" PRId64 ": %" PRId64
                      " batches for %" PRId64 " requests: nothing was batched together",
                      case_seq[k], batches_at[k], reqs_at[k]);
        }
}

int main(int argc, char **argv) {
        const char *bootstrap;
        char spec[4096], spec_ext[4096], group[64], log[64];
        swarm_conf_t *conf = NULL;
        swarm_client_t *cl = NULL;
        swarm_log_t lg = {SWARM_LOG_WARN, "test_shaped", NULL};
        swarm_request_t req;
        swarm_err_t err;
        pid_t worker = 0;
        ctx_t *c;
        int repeat, rc;

        if (!(bootstrap = test_e2e_args(argc, argv, 2, "CONSUMER FIXTURE_DIR", &repeat)))
                return 2;
        swarm_err_clear(&err);
        if (!(c = calloc(1, sizeof(*c))))
                return 1;
        if (load_cases(argv[2], c, &err))
                goto fatal;
        c->ex = calloc((size_t)(repeat * 6 * N_CASES + 2 * N_CASES + N_BAD), sizeof(*c->ex));
        if (!c->ex || tracker_init(&c->tr, repeat * 6 * N_CASES + 2 * N_CASES + N_BAD, &c->n,
                                      check_answer, c))
                return 1;

        snprintf(spec, sizeof(spec), "shaped=%s/model.onnx", argv[2]);
        snprintf(spec_ext, sizeof(spec_ext), "shaped_ext=%s/model_ext.onnx", argv[2]);
        snprintf(group, sizeof(group), "shaped-%d", (int)getpid());
        snprintf(log, sizeof(log), "shaped-worker-%d.log", (int)getpid());
        worker = spawn_worker(argv[1], bootstrap, spec, spec_ext, group, log);
        if (test_client_new(bootstrap, &lg, NULL, &conf, &cl, &err))
                goto fatal;
        /* one-row requests, lengths 8, 16, 32 interleaved row by row */
        for (int k = 0; k < repeat; k++)
                for (int64_t r = 0; r < 6; r++)
                        for (int cs = 0; cs < N_CASES; cs++) {
                                case_request(c, cs, r, 1, &req);
                                if (send_req(cl, c, &req, cs, r, 1, &err))
                                        goto fatal;
                        }
        /* each case whole: 6 rows in one request */
        for (int cs = 0; cs < N_CASES; cs++) {
                case_request(c, cs, 0, 6, &req);
                if (send_req(cl, c, &req, cs, 0, 6, &err))
                        goto fatal;
        }
        /* the same model with its weights in model_ext.onnx.data */
        for (int cs = 0; cs < N_CASES; cs++) {
                case_request(c, cs, 0, 6, &req);
                if (send_to(cl, c, "shaped_ext", &req, cs, 0, 6, &err))
                        goto fatal;
        }
        /* bias 9 wide where the model fixes 8 */
        {
                static float bias9[9];
                case_request(c, 0, 0, 1, &req);
                req.inputs[2].shape[1] = 9;
                req.inputs[2].data = bias9;
                req.inputs[2].size = sizeof(bias9);
                if (send_req(cl, c, &req, -1, 0, 1, &err))
                        goto fatal;
        }
        /* ids of length 8, mask of length 16 (they share "seq") */
        {
                swarm_request_t r16;
                case_request(c, 1, 0, 1, &r16);
                case_request(c, 0, 0, 1, &req);
                req.inputs[1] = r16.inputs[1];
                if (send_req(cl, c, &req, -1, 0, 1, &err))
                        goto fatal;
        }
        /* float ids */
        {
                static float fids[8];
                case_request(c, 0, 0, 1, &req);
                req.inputs[0].dtype = SWARM_DTYPE_FLOAT32;
                req.inputs[0].data = fids;
                req.inputs[0].size = sizeof(fids);
                if (send_req(cl, c, &req, -1, 0, 1, &err))
                        goto fatal;
        }
        if (swarm_client_flush(cl, 180000, &err))
                goto fatal;
        tracker_check_once(&c->tr, c->n);
        CHECK(c->ok == c->n - N_BAD, "ok %" PRId64 " of %" PRId64, c->ok, c->n - N_BAD);
        CHECK(c->invalid == N_BAD, "invalid %" PRId64 " of %d", c->invalid, N_BAD);
        rc = proc_stop(worker, 60);
        worker = 0;
        CHECK(rc == 0, "worker exited %d (see %s)", rc, log);
        check_log(log, c);
        printf("shaped e2e: %" PRId64 " requests, %" PRId64 " ok, %" PRId64
               " invalid, worst |diff| / limit %.3g\n", c->n, c->ok, c->invalid, c->worst);
        swarm_client_destroy(cl);
        swarm_conf_destroy(conf);
        for (int k = 0; k < N_CASES; k++) {
                for (int i = 0; i < N_IN; i++)
                        swarm_array_destroy(c->cases[k].in[i]);
                for (int o = 0; o < N_OUT; o++)
                        swarm_array_destroy(c->cases[k].want[o]);
        }
        free(c->ex);
        tracker_fini(&c->tr);
        free(c);
        if (test_failures) {
                char cmd[128];
                snprintf(cmd, sizeof(cmd), "grep -v 'batch model=' %s | tail -20 >&2", log);
                if (system(cmd)) {
                }
                printf("FAILED\n");
                return 1;
        }
        unlink(log);
        printf("PASSED\n");
        return 0;

fatal:
        fprintf(stderr, "FAIL: %s\n", err.msg);
        if (worker > 0)
                proc_kill(worker);
        return 1;
}
