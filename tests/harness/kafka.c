/* The brokers integration tests run on: mochi-devkafka (librdkafka's mock
 * cluster, one per test) or Apache Kafka started by
 * scripts/kafka-test-server. A JVM takes seconds to start, so on Apache
 * Kafka one single-node cluster serves every test of a process (each on
 * its own topics); tests that need several nodes, or break the broker on
 * purpose, start one of their own. Topics are created as an operator
 * would, explicitly: the test clusters refuse auto-creation. */
#include "tests/harness/harness.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>

/* The process's shared Apache Kafka cluster; bootstrap is "" until started. */
static struct mochi_test_kafka shared;

enum mochi_test_kafka_kind mochi_test_kafka_kind(void)
{
    const char *kind = getenv("MOCHI_TEST_KAFKA");
    if (kind == NULL || kind[0] == '\0' || strcmp(kind, "dev") == 0)
        return MOCHI_TEST_KAFKA_DEV;
    if (strcmp(kind, "apache") == 0)
        return MOCHI_TEST_KAFKA_APACHE;
    fail_msg("MOCHI_TEST_KAFKA=%s: expected dev or apache", kind);
    return MOCHI_TEST_KAFKA_DEV; /* not reached */
}

/* Runs scripts/kafka-test-server with args; the first line of its stdout
 * goes to first_line when non-NULL. */
static void server_script(struct mochi_test_kafka *kafka, const char *const args[],
                          char *first_line, size_t size)
{
    char *argv[16] = {(char *)mochi_test_src("scripts/kafka-test-server")};
    int argc = 1;
    for (size_t i = 0; args[i] != NULL && argc < 12; i++)
        argv[argc++] = (char *)args[i];
    argv[argc++] = "--dir";
    argv[argc++] = kafka->dir;
    argv[argc] = NULL;
    char *out = NULL, *err = NULL;
    int status = mochi_test_run(argv, NULL, 180000, &out, &err);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("kafka-test-server %s failed: %s%s", args[0], out ? out : "", err ? err : "");
    if (first_line != NULL) {
        snprintf(first_line, size, "%s", out ? out : "");
        first_line[strcspn(first_line, "\n")] = '\0';
    }
    free(out);
    free(err);
}

static void apache_start(struct mochi_test_kafka *kafka, int nodes)
{
    kafka->kind = MOCHI_TEST_KAFKA_APACHE;
    kafka->nodes = nodes;
    int len = snprintf(kafka->dir, sizeof(kafka->dir), "%s/%s", mochi_test_tmpdir(),
                       mochi_test_unique("kafka"));
    if (len < 0 || (size_t)len >= sizeof(kafka->dir))
        fail_msg("Kafka directory name too long");
    char nodes_arg[8], pid_arg[16];
    snprintf(nodes_arg, sizeof(nodes_arg), "%d", nodes);
    snprintf(pid_arg, sizeof(pid_arg), "%d", (int)getpid());
    /* --watch-pid: a test process that dies leaves no JVM behind. */
    const char *const args[] = {"start", "--nodes", nodes_arg, "--watch-pid", pid_arg, NULL};
    server_script(kafka, args, kafka->bootstrap, sizeof(kafka->bootstrap));
    if (strchr(kafka->bootstrap, ':') == NULL)
        fail_msg("kafka-test-server printed no bootstrap servers: '%s'", kafka->bootstrap);
}

static void set_or_fail(rd_kafka_conf_t *conf, const char *key, const char *value)
{
    char err[256];
    if (rd_kafka_conf_set(conf, key, value, err, sizeof(err)) != RD_KAFKA_CONF_OK)
        fail_msg("%s: %s", key, err);
}

static rd_kafka_t *admin_client(const char *bootstrap)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set_or_fail(conf, "bootstrap.servers", bootstrap);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (rk == NULL)
        fail_msg("admin client: %s", err);
    return rk; /* owns conf */
}

/* True when topic's metadata shows nparts partitions, each with a leader. */
static bool topic_ready(rd_kafka_t *rk, const char *topic, int nparts)
{
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    bool ready = rd_kafka_metadata(rk, 0, t, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
                 md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
                 md->topics[0].partition_cnt == nparts;
    for (int p = 0; ready && p < md->topics[0].partition_cnt; p++)
        ready = md->topics[0].partitions[p].leader >= 0;
    if (md != NULL)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
    return ready;
}

/* Creates names[0..count) with config ("name", "value" pairs, NULL-
 * terminated; may be NULL) set on each. */
static void create_topics(const char *bootstrap, int nodes, int partitions,
                          const char *const names[], size_t count, const char *const config[])
{
    rd_kafka_t *rk = admin_client(bootstrap);
    rd_kafka_NewTopic_t *topics[32];
    char err[256];
    int rf = nodes < 3 ? nodes : 3;
    if (count > 32)
        fail_msg("too many topics");
    for (size_t i = 0; i < count; i++) {
        topics[i] = rd_kafka_NewTopic_new(names[i], partitions, rf, err, sizeof(err));
        if (topics[i] == NULL)
            fail_msg("topic %s: %s", names[i], err);
        for (size_t c = 0; config != NULL && config[c] != NULL; c += 2) {
            if (config[c + 1] == NULL)
                fail_msg("topic config %s has no value", config[c]);
            rd_kafka_resp_err_t e =
                rd_kafka_NewTopic_set_config(topics[i], config[c], config[c + 1]);
            if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
                fail_msg("topic %s: config %s: %s", names[i], config[c], rd_kafka_err2str(e));
        }
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, topics, count, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 60000);
    if (ev == NULL)
        fail_msg("CreateTopics: no answer in 60 s");
    const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
    if (res == NULL)
        fail_msg("CreateTopics: %s", rd_kafka_event_error_string(ev));
    size_t n = 0;
    const rd_kafka_topic_result_t **results = rd_kafka_CreateTopics_result_topics(res, &n);
    for (size_t i = 0; i < n; i++) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[i]);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
            fail_msg("creating %s: %s", rd_kafka_topic_result_name(results[i]),
                     rd_kafka_topic_result_error_string(results[i]));
    }
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy_array(topics, count);

    int64_t deadline = mochi_test_now_ms() + 60000;
    for (size_t i = 0; i < count; i++)
        while (!topic_ready(rk, names[i], partitions)) {
            if (mochi_test_now_ms() > deadline)
                fail_msg("topic %s has no leaders after 60 s", names[i]);
            usleep(100000);
        }
    rd_kafka_destroy(rk);
}

/* topics[] and each one's .dlq, as names into storage. */
static size_t with_dlq(const char *const topics[], char storage[][256], const char *names[],
                       size_t max)
{
    static const char *const fallback[] = {"mochi.pageviews", NULL};
    size_t n = 0;
    for (size_t i = 0; (topics ? topics : fallback)[i] != NULL && n + 2 <= max; i++) {
        const char *topic = (topics ? topics : fallback)[i];
        size_t len = strlen(topic);
        snprintf(storage[n], 256, "%s", topic);
        names[n] = storage[n];
        n++;
        if (!(len > 4 && strcmp(topic + len - 4, ".dlq") == 0)) {
            snprintf(storage[n], 256, "%s.dlq", topic);
            names[n] = storage[n];
            n++;
        }
    }
    return n;
}

/* topics[] and their .dlq, each with config (may be NULL). */
static void create_with_dlq(struct mochi_test_kafka *kafka, int partitions,
                            const char *const topics[], const char *const config[])
{
    char storage[32][256];
    const char *names[32];
    size_t n = with_dlq(topics, storage, names, 32);
    create_topics(kafka->bootstrap, kafka->nodes, partitions, names, n, config);
}

void mochi_test_kafka_create_topics(struct mochi_test_kafka *kafka, int partitions,
                                    const char *const topics[])
{
    create_with_dlq(kafka, partitions, topics, NULL);
}

void mochi_test_devkafka_start(struct mochi_test_kafka *kafka, int brokers, int partitions,
                               const char *const topics[])
{
    char nbrokers[16], npart[16], topic_list[1024] = "";
    char storage[32][256];
    const char *names[32];
    size_t n = with_dlq(topics, storage, names, 32);
    for (size_t i = 0; i < n; i++) {
        size_t used = strlen(topic_list);
        snprintf(topic_list + used, sizeof(topic_list) - used, "%s%s", used ? "," : "", names[i]);
    }
    snprintf(nbrokers, sizeof(nbrokers), "%d", brokers);
    snprintf(npart, sizeof(npart), "%d", partitions);
    char *const argv[] = {(char *)mochi_test_bin("mochi-devkafka"),
                          "--brokers",
                          nbrokers,
                          "--partitions",
                          npart,
                          "--topics",
                          topic_list,
                          NULL};
    kafka->kind = MOCHI_TEST_KAFKA_DEV;
    mochi_test_proc_start(&kafka->proc, argv, NULL, true);
    if (!mochi_test_proc_read_line(&kafka->proc, kafka->bootstrap, sizeof(kafka->bootstrap),
                                   30000)) {
        char *log = mochi_test_read_file(kafka->proc.log);
        fail_msg("mochi-devkafka printed no bootstrap line; its log:\n%s", log ? log : "");
    }
}

void mochi_test_apache_kafka_start(struct mochi_test_kafka *kafka, int nodes, int partitions,
                                   const char *const topics[])
{
    memset(kafka, 0, sizeof(*kafka));
    apache_start(kafka, nodes);
    kafka->own = true;
    mochi_test_kafka_create_topics(kafka, partitions, topics);
}

void mochi_test_kafka_start(struct mochi_test_kafka *kafka, int brokers, int partitions,
                            const char *const topics[])
{
    mochi_test_kafka_start_config(kafka, brokers, partitions, topics, NULL);
}

void mochi_test_kafka_start_config(struct mochi_test_kafka *kafka, int brokers, int partitions,
                                   const char *const topics[], const char *const config[])
{
    if (mochi_test_kafka_kind() == MOCHI_TEST_KAFKA_DEV) {
        /* config is ignored: librdkafka's mock cluster has no topic
         * configs, and of a produced batch checks only the idempotent
         * producer's sequence (rd_kafka_mock_validate_records), never a
         * timestamp. */
        mochi_test_devkafka_start(kafka, brokers, partitions, topics);
        return;
    }
    if (shared.bootstrap[0] == '\0') {
        apache_start(&shared, 1);
    } else {
        /* A test before this one may have left its node down. */
        int port = atoi(strrchr(shared.bootstrap, ':') + 1);
        if (!mochi_test_wait_port(port, 200))
            mochi_test_kafka_command(&shared, "up all");
    }
    *kafka = shared;
    kafka->own = false;
    create_with_dlq(kafka, partitions, topics, config);
}

/* "down N", "down all", "up N", "up all" on an Apache Kafka cluster. */
static void apache_command(struct mochi_test_kafka *kafka, const char *command)
{
    char verb[16], which[16];
    if (sscanf(command, "%15s %15s", verb, which) != 2 ||
        (strcmp(verb, "down") != 0 && strcmp(verb, "up") != 0))
        fail_msg("Apache Kafka takes 'down N|all' and 'up N|all', not '%s'", command);
    bool down = strcmp(verb, "down") == 0;
    int first = 1, last = kafka->nodes;
    if (strcmp(which, "all") != 0) {
        first = last = atoi(which);
        if (first < 1 || first > kafka->nodes)
            fail_msg("no node %s in a %d-node cluster", which, kafka->nodes);
    }
    for (int n = first; n <= last; n++) {
        char node[8];
        snprintf(node, sizeof(node), "%d", n);
        const char *const args[] = {down ? "kill-node" : "start-node", node, NULL};
        server_script(kafka, args, NULL, 0);
    }
}

void mochi_test_kafka_command(struct mochi_test_kafka *kafka, const char *command)
{
    if (kafka->kind == MOCHI_TEST_KAFKA_APACHE) {
        apache_command(kafka, command);
        return;
    }
    mochi_test_proc_write_line(&kafka->proc, command);
    char answer[256];
    if (!mochi_test_proc_read_line(&kafka->proc, answer, sizeof(answer), 10000))
        fail_msg("mochi-devkafka did not answer '%s'", command);
    if (strncmp(answer, "ok", 2) != 0)
        fail_msg("mochi-devkafka answered '%s' to '%s'", answer, command);
}

static void apache_stop(struct mochi_test_kafka *kafka)
{
    const char *const args[] = {"stop", NULL};
    server_script(kafka, args, NULL, 0);
    kafka->bootstrap[0] = '\0';
}

void mochi_test_kafka_stop(struct mochi_test_kafka *kafka)
{
    if (kafka->kind == MOCHI_TEST_KAFKA_APACHE) {
        if (kafka->own)
            apache_stop(kafka);
        return;
    }
    int status = mochi_test_proc_stop(&kafka->proc, SIGTERM, 10000);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        print_message("mochi-devkafka exited with status %d\n", status);
}

void mochi_test_kafka_shutdown_shared(void)
{
    if (shared.bootstrap[0] != '\0')
        apache_stop(&shared);
}

int mochi_test_kafka_leader(const char *bootstrap, const char *topic, int partition)
{
    rd_kafka_t *rk = admin_client(bootstrap);
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    int leader = -1;
    if (rd_kafka_metadata(rk, 0, t, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        md->topic_cnt == 1 && partition < md->topics[0].partition_cnt)
        leader = md->topics[0].partitions[partition].leader;
    if (md != NULL)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
    rd_kafka_destroy(rk);
    if (leader < 0)
        fail_msg("no leader for %s [%d]", topic, partition);
    return leader;
}
