/*
 * test_device_select.c - `--device` parsing and the backend selector.
 * Runs everywhere (label unit): without a GPU or without CUDA in the build
 * "auto" must give the CPU backend and "cuda" a clear error.
 */
#include <stdio.h>
#include <string.h>

#include "swarm/device.h"

#include "check.h"

int main(void) {
        swarm_device_spec_t ds;
        swarm_err_t err;
        swarm_backend_t *be = NULL;
        swarm_precision_t pr;
        swarm_log_t lg = {SWARM_LOG_INFO, "test_device_select", NULL};
        int n = swarm_device_cuda_count(), rc;

        static const struct {
                const char *s;
                int ok, kind, index;
        } cases[] = {
                {NULL, 1, SWARM_DEVICE_AUTO, 0},
                {"", 1, SWARM_DEVICE_AUTO, 0},
                {"auto", 1, SWARM_DEVICE_AUTO, 0},
                {"cpu", 1, SWARM_DEVICE_CPU, 0},
                {"CPU", 1, SWARM_DEVICE_CPU, 0},
                {"cuda", 1, SWARM_DEVICE_CUDA, 0},
                {"cuda:3", 1, SWARM_DEVICE_CUDA, 3},
                {"cuda:", 0, 0, 0},
                {"cuda:-1", 0, 0, 0},
                {"cuda:1x", 0, 0, 0},
                {"cudax", 0, 0, 0},
                {"gpu", 0, 0, 0},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                swarm_err_clear(&err);
                rc = swarm_device_parse(cases[i].s, &ds, &err);
                if (cases[i].ok)
                        CHECK(!rc && (int)ds.kind == cases[i].kind &&
                              ds.index == cases[i].index,
                              "parse '%s' rc %d kind %d index %d",
                              cases[i].s ? cases[i].s : "(null)", rc, ds.kind,
                              ds.index);
                else
                        CHECK(rc == SWARM_ERR_INVALID && err.msg[0],
                              "parse '%s' should fail (rc %d)", cases[i].s,
                              rc);
        }
        swarm_err_clear(&err);
        CHECK(!swarm_precision_parse("BF16", &pr, &err) &&
              pr == SWARM_PREC_BF16, "precision bf16");
        CHECK(swarm_precision_parse("fp8", &pr, &err) == SWARM_ERR_INVALID,
              "precision fp8 rejected");

        swarm_err_clear(&err);
        rc = swarm_backend_select("cpu", 1, &lg, &be, &err);
        CHECK(!rc && be && !strcmp(be->name, "cpu"), "select cpu: %s",
              err.msg);
        swarm_backend_destroy(be);
        be = NULL;

        swarm_err_clear(&err);
        rc = swarm_backend_select("auto", 1, &lg, &be, &err);
        CHECK(!rc && be && !strcmp(be->name, n > 0 ? "cuda" : "cpu"),
              "select auto with %d devices: %s", n, err.msg);
        swarm_backend_destroy(be);
        be = NULL;

        swarm_err_clear(&err);
        rc = swarm_backend_select("cuda:1000", 1, &lg, &be, &err);
        CHECK(rc && !be && err.msg[0], "select cuda:1000 fails");
        printf("cuda:1000 -> %s\n", err.msg);

        swarm_err_clear(&err);
        rc = swarm_backend_select("cuda", 1, &lg, &be, &err);
#ifdef SWARM_HAVE_CUDA
        if (n > 0)
                CHECK(!rc && be && !strcmp(be->name, "cuda"), "select cuda");
        else
                CHECK(rc == SWARM_ERR_INVALID, "select cuda without device");
#else
        CHECK(rc == SWARM_ERR_UNSUPPORTED &&
              strstr(err.msg, "cuda unavailable in this build"),
              "select cuda without CUDA build: %s", err.msg);
#endif
        printf("cuda -> %s\n", rc ? err.msg : "ok");
        swarm_backend_destroy(be);

        printf("test_device_select: %d devices\n", n);
        TEST_DONE();
}
