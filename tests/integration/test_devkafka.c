/* mochi-devkafka seen from outside: kcat (a Kafka client that is not ours)
 * produces and consumes through it with a consumer group, our own
 * librdkafka client checks watermarks, committed offsets and metadata, and
 * the control commands, settings, bootstrap file and signals are checked
 * on the process. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "tests/harness/harness.h"

#define KCAT "/usr/bin/kcat"
#define PARTITIONS 4
#define MESSAGES 300
#define KEYS 13
#define GROUP_PROPS "-X", "topic.auto.offset.reset=earliest", "-X", "session.timeout.ms=6000"

/* Processes a test starts; the teardown kills what a failed test left. */
struct fixture {
    struct mochi_test_kafka kafka;
    struct mochi_test_proc other;
};

static int setup(void **state);
static int teardown(void **state);
static int group_teardown(void **state);
static rd_kafka_t *client_new(const char *bootstrap, const char *group);
static const rd_kafka_metadata_topic_t *find_topic(const struct rd_kafka_metadata *md,
                                                   const char *topic);
static int broker_port(rd_kafka_t *rk, int32_t id);
static int partition_count(rd_kafka_t *rk, const char *topic);
static int64_t high_watermark(rd_kafka_t *rk, const char *topic, int32_t partition, int64_t *low);
static void expect_answer(struct mochi_test_kafka *kafka, const char *command, const char *prefix);
static int kcat_produce(const char *bootstrap, const char *topic, const char *file, int timeout_ms);
static void stop_expect_zero(struct mochi_test_proc *proc, int sig);
static size_t count_lines(const char *text);

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    if (fx == NULL)
        return -1;
    fx->kafka.proc.stdin_fd = fx->kafka.proc.stdout_fd = -1;
    fx->other.stdin_fd = fx->other.stdout_fd = -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    mochi_test_proc_kill(&fx->other);
    mochi_test_proc_kill(&fx->kafka.proc);
    free(fx);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    mochi_test_cleanup();
    return 0;
}

/* A consumer handle (never subscribed) used for metadata, ListOffsets and
 * OffsetFetch; group may be NULL. */
static rd_kafka_t *client_new(const char *bootstrap, const char *group)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof(err)) !=
            RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "group.id", group ? group : "mochi-test-probe", err, sizeof(err)) !=
            RD_KAFKA_CONF_OK ||
        /* quiet about the broker the test takes down */
        rd_kafka_conf_set(conf, "log_level", "2", err, sizeof(err)) != RD_KAFKA_CONF_OK)
        fail_msg("conf: %s", err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (rk == NULL)
        fail_msg("rd_kafka_new: %s", err);
    /* conf is owned by rk now */
    return rk;
}

static const rd_kafka_metadata_topic_t *find_topic(const struct rd_kafka_metadata *md,
                                                   const char *topic)
{
    for (int i = 0; i < md->topic_cnt; i++)
        if (strcmp(md->topics[i].topic, topic) == 0)
            return &md->topics[i];
    return NULL;
}

static int broker_port(rd_kafka_t *rk, int32_t id)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, NULL, &md, 10000);
    if (err)
        fail_msg("metadata: %s", rd_kafka_err2str(err));
    int port = -1;
    for (int i = 0; i < md->broker_cnt; i++)
        if (md->brokers[i].id == id)
            port = md->brokers[i].port;
    rd_kafka_metadata_destroy(md);
    if (port < 0)
        fail_msg("broker %d not in metadata", (int)id);
    return port;
}

/* Partitions of topic, or -1 when the cluster does not know it. */
static int partition_count(rd_kafka_t *rk, const char *topic)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, 10000);
    if (err)
        fail_msg("metadata: %s", rd_kafka_err2str(err));
    const rd_kafka_metadata_topic_t *t = find_topic(md, topic);
    int n = t && t->err == RD_KAFKA_RESP_ERR_NO_ERROR ? t->partition_cnt : -1;
    rd_kafka_metadata_destroy(md);
    return n;
}

static int64_t high_watermark(rd_kafka_t *rk, const char *topic, int32_t partition, int64_t *low)
{
    int64_t lo = -1, hi = -1;
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(rk, topic, partition, &lo, &hi, 10000);
    if (err)
        fail_msg("watermarks %s [%d]: %s", topic, (int)partition, rd_kafka_err2str(err));
    if (low)
        *low = lo;
    return hi;
}

static void expect_answer(struct mochi_test_kafka *kafka, const char *command, const char *prefix)
{
    char answer[512];
    mochi_test_proc_write_line(&kafka->proc, command);
    if (!mochi_test_proc_read_line(&kafka->proc, answer, sizeof(answer), 10000))
        fail_msg("no answer to '%s'", command);
    if (strncmp(answer, prefix, strlen(prefix)) != 0)
        fail_msg("'%s' answered '%s', expected '%s...'", command, answer, prefix);
}

/* kcat -P, idempotent, with "key:value" lines from file. Returns the wait
 * status. */
static int kcat_produce(const char *bootstrap, const char *topic, const char *file, int timeout_ms)
{
    char *const argv[] = {KCAT, "-P", "-b", (char *)bootstrap, "-t", (char *)topic,
                          "-K", ":",  "-l", (char *)file,      "-X", "enable.idempotence=true",
                          NULL};
    char *err = NULL;
    int status = mochi_test_run(argv, NULL, timeout_ms, NULL, &err);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        print_message("kcat -P exited with status %d: %s\n", status, err);
    free(err);
    return status;
}

static void stop_expect_zero(struct mochi_test_proc *proc, int sig)
{
    int status = mochi_test_proc_stop(proc, sig, 10000);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char *log = mochi_test_read_file(proc->log);
        fail_msg("%s: signal %d gave wait status %d (want exit 0); log:\n%s", proc->name, sig,
                 status, log ? log : "");
    }
}

static size_t count_lines(const char *text)
{
    size_t n = 0;
    for (const char *p = text; *p; p++)
        n += *p == '\n';
    return n;
}

/* kcat produces keyed messages with an idempotent producer; a kcat
 * consumer group reads each exactly once, every key from one partition; the
 * group's committed offsets equal the log end; a later member of the group
 * gets only what was produced after. */
static void test_kcat_group_exactly_once(void **state)
{
    struct fixture *fx = *state;
    char topic[64], group[64];
    snprintf(topic, sizeof(topic), "%s", mochi_test_unique("topic"));
    snprintf(group, sizeof(group), "%s", mochi_test_unique("group"));
    const char *const topics[] = {topic, NULL};
    mochi_test_devkafka_start(&fx->kafka, 3, PARTITIONS, topics);
    const char *bootstrap = fx->kafka.bootstrap;

    char path[512];
    snprintf(path, sizeof(path), "%s/%s.in", mochi_test_tmpdir(), topic);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < MESSAGES; i++)
        fprintf(f, "site-%d:m%04d\n", i % KEYS, i);
    assert_int_equal(fclose(f), 0);
    int status = kcat_produce(bootstrap, topic, path, 60000);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* ListOffsets through the mock: all messages are there, from 0. */
    rd_kafka_t *rk = client_new(bootstrap, group);
    int64_t total = 0, hi[PARTITIONS];
    for (int32_t p = 0; p < PARTITIONS; p++) {
        int64_t lo;
        hi[p] = high_watermark(rk, topic, p, &lo);
        assert_int_equal(lo, 0);
        total += hi[p];
    }
    assert_int_equal(total, MESSAGES);

    /* kcat -G -o beginning would seek every assigned partition to the
     * start, committed offsets or not (its rebalance callback does that):
     * reset to earliest only where the group has no offset. A short
     * session timeout because the mock makes the next member wait
     * session.timeout.ms - 1 s after the last one left (see devkafka.h). */
    char count[16];
    snprintf(count, sizeof(count), "%d", MESSAGES);
    char *const consume[] = {KCAT,  "-b", (char *)bootstrap, "-G",        group,         "-q", "-c",
                             count, "-f", "%p %k %s\\n",     GROUP_PROPS, (char *)topic, NULL};
    char *out = NULL, *err = NULL;
    status = mochi_test_run(consume, NULL, 60000, &out, &err);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("kcat -G: status %d, stderr: %s", status, err);
    int seen[MESSAGES] = {0};
    int key_partition[KEYS];
    for (int k = 0; k < KEYS; k++)
        key_partition[k] = -1;
    size_t lines = 0;
    char *save = NULL;
    for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        int partition, key, index;
        if (sscanf(line, "%d site-%d m%d", &partition, &key, &index) != 3 || index < 0 ||
            index >= MESSAGES || key != index % KEYS)
            fail_msg("unexpected message '%s'", line);
        seen[index]++;
        if (key_partition[key] == -1)
            key_partition[key] = partition;
        else if (key_partition[key] != partition)
            fail_msg("key site-%d in partitions %d and %d", key, key_partition[key], partition);
        lines++;
    }
    assert_int_equal(lines, MESSAGES);
    for (int i = 0; i < MESSAGES; i++)
        if (seen[i] != 1)
            fail_msg("message m%04d received %d times", i, seen[i]);
    free(out);
    free(err);

    /* OffsetFetch: kcat committed everything it consumed when it closed. */
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(PARTITIONS);
    for (int32_t p = 0; p < PARTITIONS; p++)
        rd_kafka_topic_partition_list_add(parts, topic, p);
    rd_kafka_resp_err_t kerr = rd_kafka_committed(rk, parts, 10000);
    assert_int_equal(kerr, RD_KAFKA_RESP_ERR_NO_ERROR);
    for (int i = 0; i < parts->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &parts->elems[i];
        if (tp->err || tp->offset != hi[tp->partition])
            fail_msg("committed [%d] = %lld (%s), log end %lld", (int)tp->partition,
                     (long long)tp->offset, rd_kafka_err2name(tp->err),
                     (long long)hi[tp->partition]);
    }
    rd_kafka_topic_partition_list_destroy(parts);

    /* A later member of the group starts from the committed offsets: the
     * first and only thing it receives is the message produced now. */
    char *const again[] = {KCAT, "-b", (char *)bootstrap, "-G",        group,         "-q",
                           "-u", "-f", "%s\\n",           GROUP_PROPS, (char *)topic, NULL};
    mochi_test_proc_start(&fx->other, again, NULL, true);
    snprintf(path, sizeof(path), "%s/%s.late", mochi_test_tmpdir(), topic);
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "site-late:late\n");
    assert_int_equal(fclose(f), 0);
    status = kcat_produce(bootstrap, topic, path, 60000);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char line[256];
    if (!mochi_test_proc_read_line(&fx->other, line, sizeof(line), 30000))
        fail_msg("the second group member received nothing");
    assert_string_equal(line, "late");
    if (mochi_test_proc_read_line(&fx->other, line, sizeof(line), 3000))
        fail_msg("the second group member received an old message '%s'", line);
    mochi_test_proc_stop(&fx->other, SIGTERM, 10000);

    rd_kafka_destroy(rk);
    stop_expect_zero(&fx->kafka.proc, SIGTERM);
}

/* down/up change what clients see; leader, topic, rtt and help answer ok;
 * bad commands answer error and change nothing. */
static void test_control_commands(void **state)
{
    struct fixture *fx = *state;
    char topic[64], extra[64], cmd[256];
    snprintf(topic, sizeof(topic), "%s", mochi_test_unique("topic"));
    snprintf(extra, sizeof(extra), "%s", mochi_test_unique("topic"));
    const char *const topics[] = {topic, NULL};
    mochi_test_devkafka_start(&fx->kafka, 3, PARTITIONS, topics);
    const char *bootstrap = fx->kafka.bootstrap;
    rd_kafka_t *rk = client_new(bootstrap, NULL);
    assert_int_equal(partition_count(rk, topic), PARTITIONS);
    assert_int_equal(partition_count(rk, "mochi.pageviews"), -1);
    int port = broker_port(rk, 1);

    /* Partition 0 on broker 1, then broker 1 down: its port refuses
     * connections and a producer cannot deliver to partition 0. */
    snprintf(cmd, sizeof(cmd), "leader %s 0 1", topic);
    mochi_test_kafka_command(&fx->kafka, cmd);
    mochi_test_kafka_command(&fx->kafka, "down 1");
    assert_false(mochi_test_wait_port(port, 300));

    char path[512];
    snprintf(path, sizeof(path), "%s/%s.in", mochi_test_tmpdir(), topic);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "k:while-down\n");
    assert_int_equal(fclose(f), 0);
    char *produce_p0[] = {
        KCAT, "-P", "-b", (char *)bootstrap,         "-t", topic, "-p", "0", "-K", ":",
        "-l", path, "-X", "message.timeout.ms=2000", NULL};
    char *err = NULL;
    int status = mochi_test_run(produce_p0, NULL, 30000, NULL, &err);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        fail_msg("produced to a partition whose leader is down");
    assert_non_null(strstr(err, "timed out"));
    free(err);

    mochi_test_kafka_command(&fx->kafka, "up 1");
    assert_true(mochi_test_wait_port(port, 5000));
    produce_p0[13] = "message.timeout.ms=20000";
    err = NULL;
    status = mochi_test_run(produce_p0, NULL, 60000, NULL, &err);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("produce after up 1: status %d: %s", status, err);
    free(err);
    /* Only the message sent after "up" is in the log. A new client: rk's
     * metadata may still name partition 0's leader from before the move,
     * and librdkafka 2.0.2 does not refresh it for a watermark query. */
    rd_kafka_t *fresh = client_new(bootstrap, NULL);
    assert_int_equal(high_watermark(fresh, topic, 0, NULL), 1);
    rd_kafka_destroy(fresh);

    snprintf(cmd, sizeof(cmd), "topic %s 2", extra);
    expect_answer(&fx->kafka, cmd, "ok");
    assert_int_equal(partition_count(rk, extra), 2);
    expect_answer(&fx->kafka, cmd, "error"); /* exists already */
    expect_answer(&fx->kafka, "rtt all 20", "ok");
    expect_answer(&fx->kafka, "rtt 2 0", "ok");
    mochi_test_proc_write_line(&fx->kafka.proc, ""); /* blank: no answer */
    expect_answer(&fx->kafka, "help", "ok commands:");
    expect_answer(&fx->kafka, "bogus", "error");
    expect_answer(&fx->kafka, "down 4", "error");
    expect_answer(&fx->kafka, "down", "error");
    expect_answer(&fx->kafka, "up one", "error");
    expect_answer(&fx->kafka, "topic bad/name 2", "error");
    expect_answer(&fx->kafka, "topic fine 0", "error");
    expect_answer(&fx->kafka, "rtt 1 -5", "error");
    expect_answer(&fx->kafka, "errors Nope NOT_COORDINATOR", "error");
    assert_int_equal(partition_count(rk, "fine"), -1);

    /* Still serving after all that. */
    assert_int_equal(partition_count(rk, topic), PARTITIONS);
    rd_kafka_destroy(rk);
    stop_expect_zero(&fx->kafka.proc, SIGTERM);
}

/* A bad setting exits 2 with one line naming it, before printing anything
 * on stdout. */
static void test_bad_settings(void **state)
{
    (void)state;
    static const struct {
        const char *args[3];
        const char *env;
        const char *named;
    } cases[] = {
        {{"--brokers", "0"}, NULL, "--brokers"},
        {{"--brokers", "10"}, NULL, "--brokers"},
        {{"--partitions", "257"}, NULL, "--partitions"},
        {{"--topics", "ok,bad/name"}, NULL, "--topics"},
        {{"--no-such-flag"}, NULL, "--no-such-flag"},
        {{NULL}, "MOCHI_DEVKAFKA_BROKERS=three", "MOCHI_DEVKAFKA_BROKERS"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *argv[4] = {(char *)mochi_test_bin("mochi-devkafka"), (char *)cases[i].args[0],
                         (char *)cases[i].args[1], NULL};
        char *const env[] = {(char *)cases[i].env, NULL};
        char *out = NULL, *err = NULL;
        int status = mochi_test_run(argv, env, 30000, &out, &err);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 2 || count_lines(err) != 1 ||
            strstr(err, cases[i].named) == NULL || out[0] != '\0')
            fail_msg("case %zu: status %d, stdout '%s', stderr '%s'", i, status, out, err);
        free(out);
        free(err);
    }
}

/* The bootstrap file equals the first stdout line; after stdin's EOF the
 * broker keeps serving and the --control fifo still takes commands;
 * SIGTERM and SIGINT exit 0 and remove the file and the fifo. */
static void test_bootstrap_file_fifo_and_signals(void **state)
{
    struct fixture *fx = *state;
    char topic[64], bs_path[512], fifo_path[512];
    snprintf(topic, sizeof(topic), "%s", mochi_test_unique("topic"));
    snprintf(bs_path, sizeof(bs_path), "%s/%s.bootstrap", mochi_test_tmpdir(), topic);
    snprintf(fifo_path, sizeof(fifo_path), "%s/%s.control", mochi_test_tmpdir(), topic);
    char *const argv[] = {(char *)mochi_test_bin("mochi-devkafka"),
                          "--brokers",
                          "1",
                          "--partitions",
                          "2",
                          "--topics",
                          topic,
                          "--bootstrap-file",
                          bs_path,
                          "--control",
                          fifo_path,
                          NULL};
    struct mochi_test_proc *proc = &fx->kafka.proc;
    mochi_test_proc_start(proc, argv, NULL, true);
    char bootstrap[512];
    if (!mochi_test_proc_read_line(proc, bootstrap, sizeof(bootstrap), 30000))
        fail_msg("no bootstrap line");
    assert_non_null(strstr(bootstrap, "127.0.0.1:"));
    char *file = mochi_test_read_file(bs_path);
    assert_non_null(file);
    char expected[520];
    snprintf(expected, sizeof(expected), "%s\n", bootstrap);
    assert_string_equal(file, expected);
    free(file);

    close(proc->stdin_fd); /* EOF on the broker's stdin */
    proc->stdin_fd = -1;
    int fd = open(fifo_path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        fail_msg("open %s: %s", fifo_path, strerror(errno));
    const char *command = "help\n";
    assert_int_equal(write(fd, command, strlen(command)), (ssize_t)strlen(command));
    close(fd);
    char answer[512];
    assert_true(mochi_test_proc_read_line(proc, answer, sizeof(answer), 10000));
    assert_memory_equal(answer, "ok ", 3);

    char *const list[] = {KCAT, "-L", "-b", bootstrap, "-t", topic, NULL};
    char *out = NULL;
    int status = mochi_test_run(list, NULL, 30000, &out, NULL);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char want[128];
    snprintf(want, sizeof(want), "topic \"%s\" with 2 partitions", topic);
    if (strstr(out, want) == NULL)
        fail_msg("kcat -L: %s", out);
    free(out);

    stop_expect_zero(proc, SIGTERM);
    assert_int_equal(access(bs_path, F_OK), -1);
    assert_int_equal(access(fifo_path, F_OK), -1);
    char *log = mochi_test_read_file(proc->log);
    assert_non_null(log);
    char started[600];
    snprintf(started, sizeof(started), "msg=started bootstrap=%s ", bootstrap);
    if (strstr(log, started) == NULL ||
        strstr(log, "msg=command source=fifo command=help answer=") == NULL ||
        strstr(log, "msg=stopping signal=SIGTERM") == NULL)
        fail_msg("log lacks start, command or stop events:\n%s", log);
    free(log);

    char *const plain[] = {(char *)mochi_test_bin("mochi-devkafka"), "--brokers", "1", NULL};
    mochi_test_proc_start(proc, plain, NULL, true);
    assert_true(mochi_test_proc_read_line(proc, bootstrap, sizeof(bootstrap), 30000));
    stop_expect_zero(proc, SIGINT);
}

int main(void)
{
    if (access(KCAT, X_OK) != 0) {
        fprintf(stderr, "test_devkafka needs %s (apt-get install kcat)\n", KCAT);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kcat_group_exactly_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_control_commands, setup, teardown),
        cmocka_unit_test(test_bad_settings),
        cmocka_unit_test_setup_teardown(test_bootstrap_file_fifo_and_signals, setup, teardown),
    };
    return cmocka_run_group_tests_name("devkafka", tests, NULL, group_teardown);
}
