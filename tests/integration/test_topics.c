/* mochictl topics ensure on the test's broker: creates what is missing
 * (Apache Kafka only: the dev broker has no CreateTopics), says ok on a
 * rerun, reports a different partition count or retention and exits 1,
 * exits 3 when no broker answers. Partitions and replicas are checked
 * with librdkafka metadata read here, not through mochictl. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>

#include "tests/harness/harness.h"

static int mochictl(const char *brokers, char **out, char **err, const char *const args[])
{
    return mochi_test_mochictl(NULL, brokers, NULL, args, 90000, out, err);
}

/* Partition count and replicas of partition 0 of topic, from metadata. */
static void read_topic(const char *bootstrap, const char *topic, int *partitions, int *replicas)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof(err));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    assert_non_null(rk);
    const struct rd_kafka_metadata *md = NULL;
    assert_int_equal(rd_kafka_metadata(rk, 1, NULL, &md, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    *partitions = *replicas = -1;
    for (int i = 0; i < md->topic_cnt; i++)
        if (strcmp(md->topics[i].topic, topic) == 0) {
            *partitions = md->topics[i].partition_cnt;
            *replicas = md->topics[i].partitions[0].replica_cnt;
        }
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
}

static void topics_ensure(void **state)
{
    (void)state;
    char existing[64], fresh[64], dlq[80];
    snprintf(existing, sizeof(existing), "%s", mochi_test_unique("ens"));
    snprintf(fresh, sizeof(fresh), "%s", mochi_test_unique("new"));
    const char *topics[] = {existing, NULL};
    struct mochi_test_kafka kafka;
    mochi_test_kafka_start(&kafka, 1, 3, topics);
    bool apache = kafka.kind == MOCHI_TEST_KAFKA_APACHE;
    char *out, *err;

    /* created, with the partitions and replicas asked for */
    const char *create_args[] = {"topics", "ensure",      "--topic", fresh, "--partitions",
                                 "4",      "--retention", "2d",      NULL};
    int rc = mochictl(kafka.bootstrap, &out, &err, create_args);
    if (apache) {
        assert_int_equal(rc, 0);
        assert_non_null(strstr(out, ": created"));
        int parts, replicas;
        read_topic(kafka.bootstrap, fresh, &parts, &replicas);
        assert_int_equal(parts, 4);
        assert_int_equal(replicas, 1);
        snprintf(dlq, sizeof(dlq), "%s.dlq", fresh);
        read_topic(kafka.bootstrap, dlq, &parts, &replicas);
        assert_int_equal(parts, 4);
    } else {
        /* the dev broker (librdkafka's mock) has no CreateTopics */
        assert_int_equal(rc, 1);
        assert_non_null(strstr(out, "cannot create topics"));
    }
    free(out);
    free(err);
    if (apache) {
        rc = mochictl(kafka.bootstrap, &out, &err, create_args);
        assert_int_equal(rc, 0);
        assert_null(strstr(out, "created"));
        assert_non_null(strstr(out, "retention.ms 172800000"));
        free(out);
        free(err);
        const char *ret_args[] = {"topics", "ensure",      "--topic", fresh, "--partitions",
                                  "4",      "--retention", "3d",      NULL};
        assert_int_equal(mochictl(kafka.bootstrap, &out, &err, ret_args), 1);
        assert_non_null(strstr(out, "retention.ms: wanted 259200000, has 172800000"));
        free(out);
        free(err);
    }

    /* the harness's topic exists on both brokers: ok, then differs */
    const char *ok_args[] = {"topics", "ensure", "--topic", existing, "--partitions", "3", NULL};
    assert_int_equal(mochictl(kafka.bootstrap, &out, &err, ok_args), 0);
    assert_non_null(strstr(out, ": ok"));
    if (!apache) /* the mock has no DescribeConfigs */
        assert_non_null(strstr(out, "retention unknown on this broker"));
    free(out);
    free(err);
    const char *diff_args[] = {"topics", "ensure", "--topic", existing, "--partitions", "5", NULL};
    assert_int_equal(mochictl(kafka.bootstrap, &out, &err, diff_args), 1);
    assert_non_null(strstr(out, "partitions: wanted 5, has 3"));
    free(out);
    free(err);
    int parts, replicas;
    read_topic(kafka.bootstrap, existing, &parts, &replicas);
    assert_int_equal(parts, 3); /* left as it was */

    const char *down_args[] = {"topics", "ensure", "-X", "socket.timeout.ms=2000", NULL};
    assert_int_equal(mochictl("127.0.0.1:1", &out, &err, down_args), 3);
    assert_non_null(strstr(err, "cannot reach the Kafka brokers"));
    free(out);
    free(err);
    mochi_test_kafka_stop(&kafka);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(topics_ensure),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    mochi_test_cleanup();
    return failed;
}
