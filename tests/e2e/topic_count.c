/*
 * topic_count - print how many records a topic holds (the sum over its
 * partitions of high minus low watermark), for the shell e2e tests.
 *
 *   topic_count BOOTSTRAP TOPIC
 *
 * Exit 0 with the count on stdout, 1 when the broker or topic cannot be
 * read, 2 on usage.
 */
#include <stdio.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

/* Metadata and watermark queries give up after this long. */
#define QUERY_TIMEOUT_MS 10000

int main(int argc, char **argv) {
        char errstr[512];
        rd_kafka_conf_t *c;
        rd_kafka_t *rk;
        rd_kafka_topic_t *rkt;
        const struct rd_kafka_metadata *md = NULL;
        long long total = 0;
        int rc = 1;

        if (argc != 3) {
                fprintf(stderr, "usage: topic_count BOOTSTRAP TOPIC\n");
                return 2;
        }
        c = rd_kafka_conf_new();
        if (rd_kafka_conf_set(c, "bootstrap.servers", argv[1], errstr, sizeof(errstr)) ||
            rd_kafka_conf_set(c, "log_level", "3", errstr, sizeof(errstr))) {
                fprintf(stderr, "topic_count: %s\n", errstr);
                return 2;
        }
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, errstr, sizeof(errstr));
        if (!rk) {
                fprintf(stderr, "topic_count: %s\n", errstr);
                return 1;
        }
        rkt = rd_kafka_topic_new(rk, argv[2], NULL);
        if (rd_kafka_metadata(rk, 0, rkt, &md, QUERY_TIMEOUT_MS) ||
            md->topic_cnt != 1 || md->topics[0].err) {
                fprintf(stderr, "topic_count: no metadata for topic %s\n", argv[2]);
                goto out;
        }
        for (int p = 0; p < md->topics[0].partition_cnt; p++) {
                int64_t lo, hi;
                rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(
                        rk, argv[2], md->topics[0].partitions[p].id, &lo, &hi,
                        QUERY_TIMEOUT_MS);
                if (e) {
                        fprintf(stderr, "topic_count: %s [%d]: %s\n", argv[2],
                                (int)md->topics[0].partitions[p].id, rd_kafka_err2str(e));
                        goto out;
                }
                total += hi - lo;
        }
        printf("%lld\n", total);
        rc = 0;
out:
        if (md)
                rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
        rd_kafka_destroy(rk);
        return rc;
}
