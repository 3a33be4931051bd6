/*
 * test_family_e2e.c - a model family fixture (tests/fixtures/families)
 * through Kafka and a real swarm-consumer: the encoder (int64 ids and mask
 * in, embeddings out) or the recommender (ids in, scores and top-k int64 ids
 * out).
 *
 * Runs under tests/lib/with-broker.sh (SWARM_BOOTSTRAP set; topics requests,
 * results, requests.dlq).  Starts one worker serving FAMILY_DIR/model.onnx
 * as MODEL_NAME, then sends, REPEAT times, every row of every case as a
 * one-row request, interleaving the cases (the encoder's cases have
 * different sequence lengths, so one stream mixes them), and every case
 * once more as one multi-row request.  Asserts:
 *  - every request is answered exactly once, status OK;
 *  - each response has the model's outputs (names from io.txt), with the
 *    reference's dtype and shape (rows = the request's rows);
 *  - float values within 1e-4 * max|reference| of onnxruntime's (the
 *    executor tests' bound); integer outputs (top-k ids) equal;
 *  - the worker exits 0 on SIGTERM.
 * Usage: test_family_e2e CONSUMER FAMILY_DIR MODEL_NAME [REPEAT]
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

#define MAX_CASES 8
#define MAX_IO 16
#define REL_TOL 1e-4

typedef struct fcase {
        char name[64];
        swarm_array_t *in[MAX_IO];
        swarm_array_t *want[MAX_IO];
        double lim[MAX_IO];     /* REL_TOL * max|want| per float output */
} fcase_t;

typedef struct expect {
        int cs;                 /* case */
        int64_t r0, rows;       /* rows of the case in this request */
} expect_t;

typedef struct ctx {
        fcase_t cases[MAX_CASES];
        int n_cases;
        char in_names[MAX_IO][128], out_names[MAX_IO][128];
        int n_in, n_out;
        const char *model;      /* the name the worker serves it under */
        expect_t *ex;
        tracker_t tr;           /* answers per request */
        int64_t n, ok;
        double worst;
} ctx_t;

/* io.txt: "inputs A B ..." and "outputs C D ...". */
static FILE *open_in(const char *dir, const char *name) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        return fopen(path, "r");
}

static int read_io(const char *dir, ctx_t *c) {
        char line[4096];
        FILE *f = open_in(dir, "io.txt");
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f)) {
                char *save = NULL, *tok = strtok_r(line, " \n", &save);
                int out;
                if (!tok)
                        continue;
                out = strcmp(tok, "outputs") == 0;
                while ((tok = strtok_r(NULL, " \n", &save))) {
                        int *n = out ? &c->n_out : &c->n_in;
                        if (*n >= MAX_IO)
                                break;
                        snprintf(out ? c->out_names[*n] : c->in_names[*n], 128,
                                 "%s", tok);
                        (*n)++;
                }
        }
        fclose(f);
        return c->n_in > 0 && c->n_out > 0 ? 0 : -1;
}

static int read_cases(const char *dir, ctx_t *c, swarm_err_t *err) {
        char line[1024];
        FILE *f = open_in(dir, "family.txt");
        if (!f)
                return -1;
        while (c->n_cases < MAX_CASES && fgets(line, sizeof(line), f)) {
                fcase_t *k = &c->cases[c->n_cases];
                if (sscanf(line, "%63s", k->name) != 1)
                        continue;
                if (ref_case_load(dir, k->name, c->n_in, c->n_out, REL_TOL, k->in, k->want,
                                  k->lim, err))
                        goto fail;
                c->n_cases++;
        }
        fclose(f);
        return c->n_cases > 0 ? 0 : -1;
fail:
        fclose(f);
        c->n_cases++; /* so its arrays are freed */
        return -1;
}

static void check_output(ctx_t *c, const char *rid, const expect_t *e, int o,
                         const swarm_tensor_t *t) {
        const fcase_t *k = &c->cases[e->cs];
        ref_case_check(rid, c->out_names[o], k->want[o], k->lim[o], e->r0, e->rows, t,
                       &c->worst);
}

/* The checks of one answer (tracker.h calls it for a known id). */
static void check_answer(void *opaque, int64_t idx, const char *request_id,
                         const swarm_response_t *resp) {
        ctx_t *c = opaque;
        expect_t *e = &c->ex[idx];

        if (!tracker_ok(request_id, resp))
                return;
        CHECK(resp->n_outputs == c->n_out, "%s: %d outputs, want %d",
              request_id, resp->n_outputs, c->n_out);
        if (resp->n_outputs != c->n_out)
                return;
        for (int o = 0; o < c->n_out; o++)
                check_output(c, request_id, e, o, &resp->outputs[o]);
        c->ok++;
}

static pid_t spawn_worker(const char *bin, const char *bootstrap,
                          const char *spec, const char *group) {
        const char *argv[] = {bin, "-b", bootstrap, "-g", group, "-t", "requests",
                              "-M", spec, "--max-batch-rows", "64", "--max-delay-us",
                              "20000", "-X", "session.timeout.ms=6000",
                              "-X", "heartbeat.interval.ms=500", NULL};
        return proc_spawn_logged(argv, "worker.log", "w");
}

static int send_rows(swarm_client_t *cl, ctx_t *c, int cs, int64_t r0,
                     int64_t rows, swarm_err_t *err) {
        const fcase_t *k = &c->cases[cs];
        swarm_request_t req;
        char rid[32];
        memset(&req, 0, sizeof(req));
        snprintf(rid, sizeof(rid), "r%" PRId64, c->n);
        req.request_id = swarm_str(rid);
        req.model = swarm_str(c->model);
        req.n_inputs = c->n_in;
        for (int i = 0; i < c->n_in; i++)
                test_tensor_rows(&req.inputs[i], c->in_names[i], k->in[i], r0, rows);
        c->ex[c->n].cs = cs;
        c->ex[c->n].r0 = r0;
        c->ex[c->n].rows = rows;
        c->n++;
        return swarm_client_send(cl, &req, NULL, 0, tracker_on_done, &c->tr, err) ? -1 : 0;
}

int main(int argc, char **argv) {
        const char *bootstrap;
        char spec[4096], group[64];
        swarm_conf_t *conf = NULL;
        swarm_client_t *cl = NULL;
        swarm_log_t log = {SWARM_LOG_WARN, "test_family_e2e", NULL};
        swarm_err_t err;
        pid_t worker = 0;
        ctx_t *c;
        int repeat, rc;
        int64_t max_rows = 0, total = 0;

        if (!(bootstrap = test_e2e_args(argc, argv, 3, "CONSUMER FAMILY_DIR MODEL_NAME",
                                        &repeat)))
                return 2;
        swarm_err_clear(&err);
        c = calloc(1, sizeof(*c));
        if (!c)
                return 1;
        c->model = argv[3];
        if (read_io(argv[2], c)) {
                fprintf(stderr, "FAIL: %s/io.txt missing or empty\n", argv[2]);
                return 1;
        }
        if (read_cases(argv[2], c, &err))
                goto fatal;
        for (int k = 0; k < c->n_cases; k++) {
                int64_t r = swarm_array_rows(c->cases[k].in[0]);
                max_rows = r > max_rows ? r : max_rows;
                total += r;
        }
        c->ex = calloc((size_t)(total * repeat + c->n_cases), sizeof(*c->ex));
        if (!c->ex || tracker_init(&c->tr, total * repeat + c->n_cases, &c->n, check_answer, c))
                return 1;

        snprintf(spec, sizeof(spec), "%s=%s/model.onnx", argv[3], argv[2]);
        snprintf(group, sizeof(group), "family-%d", (int)getpid());
        worker = spawn_worker(argv[1], bootstrap, spec, group);
        if (test_client_new(bootstrap, &log, NULL, &conf, &cl, &err))
                goto fatal;
        /* One-row requests, the cases interleaved row by row (sequence
         * lengths / sizes mixed in one stream), then each case whole. */
        for (int k = 0; k < repeat; k++)
                for (int64_t r = 0; r < max_rows; r++)
                        for (int cs = 0; cs < c->n_cases; cs++) {
                                if (r >= swarm_array_rows(c->cases[cs].in[0]))
                                        continue;
                                if (send_rows(cl, c, cs, r, 1, &err))
                                        goto fatal;
                        }
        for (int cs = 0; cs < c->n_cases; cs++)
                if (send_rows(cl, c, cs, 0, swarm_array_rows(c->cases[cs].in[0]),
                              &err))
                        goto fatal;
        if (swarm_client_flush(cl, 180000, &err))
                goto fatal;
        tracker_check_once(&c->tr, c->n);
        CHECK(c->ok == c->n, "ok %" PRId64 " of %" PRId64, c->ok, c->n);
        rc = proc_stop(worker, 60);
        worker = 0;
        CHECK(rc == 0, "worker exited %d (see worker.log)", rc);
        printf("family e2e %s: %d cases, %" PRId64 " requests, %" PRId64
               " ok, worst |diff| / limit %.3g\n", argv[3], c->n_cases, c->n,
               c->ok, c->worst);
        swarm_client_destroy(cl);
        swarm_conf_destroy(conf);
        for (int k = 0; k < c->n_cases; k++)
                for (int i = 0; i < MAX_IO; i++) {
                        swarm_array_destroy(c->cases[k].in[i]);
                        swarm_array_destroy(c->cases[k].want[i]);
                }
        free(c->ex);
        tracker_fini(&c->tr);
        free(c);
        if (test_failures) {
                if (system("tail -20 worker.log >&2")) {
                }
                printf("FAILED\n");
        } else {
                printf("PASSED\n");
        }
        return test_failures ? 1 : 0;

fatal:
        fprintf(stderr, "FAIL: %s\n", err.msg);
        if (worker > 0)
                proc_kill(worker);
        if (system("tail -20 worker.log >&2")) {
        }
        return 1;
}
