/*
 * swarm-producer end to end against the mock cluster and a worker thread
 * (output = 2 * input): --wait --output in input order (npy and csv), a
 * reply topic, --repeat, send-only, and the exit codes of usage and runtime
 * errors.  argv[1] is the swarm-producer binary.
 */
#include <sys/wait.h>
#include <unistd.h>

#include "mock_worker.h"
#include "swarm/arrayio.h"
#include "test_util.h"

static mock_kafka_t mk;
static const char *prog;
static char dir[64];
static char out_text[8192];

static const char *path(const char *name) {
        static char p[8][256];
        static int k;
        char *s = p[k++ % 8];
        snprintf(s, 256, "%s/%s", dir, name);
        return s;
}

/* Run the producer with `args`; stdout lands in out_text.  Returns the exit
 * code. */
static int run(const char *args) {
        char cmd[4096];
        FILE *fp;
        size_t n;
        int st;

        snprintf(cmd, sizeof(cmd), "'%s' -b %s --log-level warn %s > '%s'", prog,
                 mk.bootstraps, args, path("stdout"));
        st = system(cmd);
        fp = fopen(path("stdout"), "r");
        n = fp ? fread(out_text, 1, sizeof(out_text) - 1, fp) : 0;
        out_text[n] = '\0';
        if (fp)
                fclose(fp);
        fprintf(stderr, "$ swarm-producer %s\n%s", args, out_text);
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void check_output(const char *file, int64_t rows, int64_t cols) {
        swarm_array_t *a = NULL;
        swarm_err_t err;

        swarm_err_clear(&err);
        if (swarm_array_load(file, NULL, &a, &err)) {
                fprintf(stderr, "%s\n", err.msg);
                test_failures++;
                return;
        }
        CHECK(a->dtype == SWARM_DTYPE_FLOAT32 && a->ndim == 2 &&
              a->shape[0] == rows && a->shape[1] == cols);
        for (int64_t i = 0; i < rows * cols && a->shape[0] == rows; i++)
                if (((float *)a->data)[i] != 2.0f * (float)i) {
                        fprintf(stderr, "%s[%lld] = %g\n", file, (long long)i,
                                ((float *)a->data)[i]);
                        test_failures++;
                        break;
                }
        swarm_array_destroy(a);
}

int main(int argc, char **argv) {
        static const char *const topics[] = {"requests", "results", "replies",
                                             NULL};
        int64_t shape[2] = {10, 3};
        swarm_array_t *in = NULL;
        swarm_err_t err;
        mock_worker_t w;
        char args[1024], cmd[128];

        if (argc < 2) {
                fprintf(stderr, "usage: %s PATH-TO-swarm-producer\n", argv[0]);
                return 2;
        }
        prog = argv[1];
        snprintf(dir, sizeof(dir), "/tmp/swarm-producer-XXXXXX");
        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return 1;
        }
        swarm_err_clear(&err);
        swarm_array_new(SWARM_DTYPE_FLOAT32, 2, shape, &in, &err);
        for (int i = 0; i < 30; i++)
                ((float *)in->data)[i] = (float)i;
        CHECK(swarm_array_write_npy(path("in.npy"), in, &err) == 0);
        CHECK(swarm_array_write_csv(path("in.csv"), in, &err) == 0);
        swarm_array_destroy(in);

        mock_kafka_start(&mk, topics, 4);
        memset(&w, 0, sizeof(w));
        w.kafka = &mk;
        w.req_topic = "requests";
        w.res_topic = "results";
        w.partitions = 4;
        mock_worker_start(&w);

        /* 10 rows, 3 per request: 4 requests per pass, the last of 1 row */
        snprintf(args, sizeof(args),
                 "--model m --input %s --rows-per-request 3 --repeat 2 --wait "
                 "--window 2 --meta a=b --deadline-ms 60000 --timeout 30 "
                 "--output %s", path("in.npy"), path("out.npy"));
        CHECK(run(args) == 0);
        CHECK(strstr(out_text, "summary sent=8 answered=8 ok=8 invalid_request=0 "
                               "model_not_found=0 deadline_exceeded=0 "
                               "internal_error=0 unanswered=0 throughput_rps="));
        CHECK(strstr(out_text, "p50_ms=") && strstr(out_text, "max_ms="));
        check_output(path("out.npy"), 10, 3);

        /* CSV in, CSV out, answers on a reply topic, ids with a prefix */
        snprintf(args, sizeof(args),
                 "--model m --input %s -n 4 --wait --reply-topic replies "
                 "--id-prefix job- --output %s --rate 200", path("in.csv"),
                 path("out.csv"));
        CHECK(run(args) == 0);
        CHECK(strstr(out_text, "summary sent=3 answered=3 ok=3 "));
        check_output(path("out.csv"), 10, 3);

        /* send only */
        snprintf(args, sizeof(args), "--model m --input %s", path("in.npy"));
        CHECK(run(args) == 0);
        CHECK(strstr(out_text, "summary sent=10 answered=0 "));
        CHECK(strstr(out_text, "delivered=10 delivery_failed=0"));

        /* usage errors: 2 */
        snprintf(args, sizeof(args), "--model m --input %s --output %s 2>/dev/null",
                 path("in.npy"), path("x.npy"));
        CHECK(run(args) == 2);
        CHECK(run("--input x.npy 2>/dev/null") == 2);
        snprintf(args, sizeof(args), "--model m --input %s --window 0 2>/dev/null",
                 path("in.npy"));
        CHECK(run(args) == 2);
        CHECK(run("--model m --input x.npy -X swarm.nope=1 2>/dev/null") == 2);
        /* runtime errors: 1 */
        snprintf(args, sizeof(args), "--model m --input %s 2>/dev/null",
                 path("missing.npy"));
        CHECK(run(args) == 1);
        /* no answers within --timeout: unanswered, exit 1 */
        atomic_store(&w.pause, 1);
        usleep(100000);
        snprintf(args, sizeof(args),
                 "--model m --input %s -n 5 --wait --timeout 1",
                 path("in.npy"));
        CHECK(run(args) == 1);
        CHECK(strstr(out_text, "summary sent=2 answered=0 ok=0 "));
        CHECK(strstr(out_text, "unanswered=2 "));
        atomic_store(&w.pause, 0);

        mock_worker_stop(&w);
        mock_kafka_stop(&mk);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", dir);
        TEST_DONE();
}
