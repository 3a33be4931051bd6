/*
 * app.c - a user's C application, built by test-install.sh from the
 * installed headers and library only (pkg-config swarm): it encodes and
 * decodes a request with the wire contract, and queues one through the
 * client API, whose destroy completes it with "client closed".
 */
#include <stdio.h>
#include <string.h>

#include <swarm/client.h>
#include <swarm/codec.h>
#include <swarm/conf.h>
#include <swarm/version.h>

static int calls, closed;

static void on_done(const char *id, const swarm_response_t *resp,
                    const swarm_err_t *err, int64_t latency_us, void *opaque) {
        (void)resp;
        (void)latency_us;
        (void)opaque;
        calls++;
        if (err && err->code == SWARM_ERR_STATE && !strcmp(id, "app-1"))
                closed++;
}

#define FAIL(...) do { fprintf(stderr, "app: " __VA_ARGS__); return 1; } while (0)

int main(int argc, char **argv) {
        float x[4] = {1, 2, 3, 4};
        int64_t shape[2] = {1, 4};
        swarm_request_t req, back;
        swarm_codec_t *codec = NULL;
        swarm_conf_t *conf = NULL;
        swarm_client_t *cl = NULL;
        swarm_client_opts_t o = {0};
        swarm_buf_t buf = {0};
        swarm_err_t err;

        swarm_err_clear(&err);
        if (argc != 2)
                FAIL("usage: app BROKERS\n");
        printf("swarm %s (%s)\n", swarm_version(), swarm_version_git());
        memset(&req, 0, sizeof(req));
        req.request_id = (swarm_str_t){"app-1", 5};
        req.model = (swarm_str_t){"fashion", 7};
        req.n_inputs = 1;
        req.inputs[0].name = (swarm_str_t){"input", 5};
        req.inputs[0].dtype = SWARM_DTYPE_FLOAT32;
        req.inputs[0].ndim = 2;
        memcpy(req.inputs[0].shape, shape, sizeof(shape));
        req.inputs[0].data = x;
        req.inputs[0].size = sizeof(x);
        if (swarm_codec_new(&codec, &err) ||
            swarm_codec_encode_request(codec, &req, NULL, 0, &buf, &err) ||
            swarm_codec_decode_request(codec, buf.data, buf.len, &back, &err))
                FAIL("codec: %s\n", err.msg);
        if (back.n_inputs != 1 || back.inputs[0].size != sizeof(x) ||
            memcmp(back.inputs[0].data, x, sizeof(x)) || buf.data[4] != 1)
                FAIL("round trip differs\n");
        printf("encoded %zu bytes, schema id %d, decoded %lld floats\n", buf.len,
               buf.data[4], (long long)(back.inputs[0].size / sizeof(float)));
        swarm_request_destroy(&back);

        if (swarm_conf_new(&conf, &err) ||
            swarm_conf_add(conf, SWARM_CONF_CLI, "bootstrap.servers", argv[1],
                           "app", &err) ||
            swarm_conf_add(conf, SWARM_CONF_CLI, "message.timeout.ms", "60000",
                           "app", &err))
                FAIL("conf: %s\n", err.msg);
        o.request_topic = "requests";
        if (swarm_client_new(conf, NULL, &o, &cl, &err) ||
            swarm_client_send(cl, &req, NULL, 0, on_done, NULL, &err))
                FAIL("client: %s\n", err.msg);
        swarm_client_destroy(cl);
        if (calls != 1 || closed != 1)
                FAIL("callback calls=%d closed=%d, expected 1/1\n", calls, closed);
        printf("client: 1 request queued, completed on destroy\n");
        swarm_buf_destroy(&buf);
        swarm_codec_destroy(codec);
        swarm_conf_destroy(conf);
        return 0;
}
