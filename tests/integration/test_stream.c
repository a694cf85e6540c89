/* The stream runtime (stream/) through mochi-consumer, against
 * PostgreSQL and a dev Kafka broker: what happens to committed offsets and
 * to paused partitions around rebalances, refused commits and database
 * outages. The expected rows are computed from the produced events by
 * tests/harness/events.c, not by the consumer. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/codec.h"
#include "tests/harness/events.h"
#include "tests/harness/harness.h"

/* Events are keyed by site: eight sites put messages on every partition. */
#define NSITES 8
static const char *const site_ids[NSITES] = {
    "00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002",
    "00000000-0000-4000-8000-000000000003", "00000000-0000-4000-8000-000000000004",
    "00000000-0000-4000-8000-000000000005", "00000000-0000-4000-8000-000000000006",
    "00000000-0000-4000-8000-000000000007", "00000000-0000-4000-8000-000000000008",
};
#define PARTITIONS 4
#define GROUP "mochi-ingest" /* mochi-consumer's default */

struct fixture {
    struct mochi_test_db db;
    struct mochi_test_pg pg; /* a private server, for tests that stop it */
    struct mochi_test_kafka kafka;
    struct mochi_test_proc consumers[2];
    char topic[64];
    char conninfo[600]; /* as mochi_consumer */
    struct mochi_schema_set *schemas;
    struct mochi_codec *codec;
};

static int setup_private_pg(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    mochi_test_pg_start(&f->pg);
    mochi_test_pg_db(&f->pg, &f->db);
    PGconn *conn = mochi_test_db_connect(&f->db);
    for (int i = 0; i < NSITES; i++) {
        char sql[300];
        snprintf(sql, sizeof(sql),
                 "INSERT INTO sites (id, name, domain, tracking_key) VALUES "
                 "('%s', 'S%d', 's%d.example', 'site%dkey_0000000000')",
                 site_ids[i], i, i, i);
        mochi_test_db_exec(conn, sql);
    }
    PQfinish(conn);
    snprintf(f->conninfo, sizeof(f->conninfo), "host=%s user=mochi_consumer dbname=%s", f->pg.host,
             f->db.name);
    snprintf(f->topic, sizeof(f->topic), "%s", mochi_test_unique("st"));
    const char *topics[] = {f->topic, NULL};
    mochi_test_kafka_start(&f->kafka, 3, PARTITIONS, topics);
    mochi_test_codec_new(&f->schemas, &f->codec);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < 2; i++)
        mochi_test_proc_kill(&f->consumers[i]);
    mochi_test_kafka_stop(&f->kafka);
    mochi_test_pg_stop(&f->pg);
    mochi_codec_destroy(f->codec);
    mochi_schema_set_destroy(f->schemas);
    free(f);
    return 0;
}

static void start_consumer(struct fixture *f, int i, const char *batch_size)
{
    mochi_test_stream_start(&f->consumers[i], "mochi-consumer", f->conninfo, f->kafka.bootstrap,
                            f->topic, batch_size);
}

static int stop_consumer(struct fixture *f, int i)
{
    return mochi_test_exit_code(mochi_test_proc_stop(&f->consumers[i], SIGTERM, 30000));
}

static void print_logs(const struct fixture *f)
{
    for (int i = 0; i < 2; i++) {
        if (f->consumers[i].log[0] == '\0')
            continue;
        char *log = mochi_test_read_file(f->consumers[i].log);
        size_t len = log ? strlen(log) : 0;
        /* not print_message: cmocka cuts its messages at 1 KiB */
        fflush(stdout);
        fprintf(stderr, "consumer %d, the end of its log:\n%s\n", i,
                log ? log + (len > 6000 ? len - 6000 : 0) : "(none)");
        free(log);
    }
}

/* How often needle occurs in consumer i's log. */
static int log_count(const struct fixture *f, int i, const char *needle)
{
    char *log = mochi_test_read_file(f->consumers[i].log);
    int n = 0;
    for (const char *at = log; at != NULL && (at = strstr(at, needle)) != NULL; at++)
        n++;
    free(log);
    return n;
}

/* Waits until consumer i's log holds needle at least `times` times. */
static void wait_log(const struct fixture *f, int i, const char *needle, int times, int timeout_ms)
{
    int64_t deadline = mochi_test_now_ms() + timeout_ms;
    while (log_count(f, i, needle) < times) {
        if (mochi_test_now_ms() > deadline) {
            print_logs(f);
            fail_msg("consumer %d did not log '%s' %d times in %d ms", i, needle, times,
                     timeout_ms);
        }
        usleep(100000);
    }
}

/* Waits until page_view_events holds `count` rows, then compares it with
 * the expected lines. */
static void expect_views(const struct fixture *f, const char *expected, size_t count,
                         int timeout_ms)
{
    PGconn *conn = mochi_test_db_connect(&f->db);
    int64_t deadline = mochi_test_now_ms() + timeout_ms;
    size_t got = 0;
    char *stored = NULL;
    for (;;) {
        free(stored);
        stored = mochi_test_stored_views(conn, &got);
        if (got >= count || mochi_test_now_ms() > deadline)
            break;
        usleep(200000);
    }
    if (strcmp(stored, expected) != 0) {
        print_message("expected %zu rows, page_view_events has %zu\n", count, got);
        print_logs(f);
        fail_msg("page_view_events differs from the distinct page views of the topic");
    }
    free(stored);
    PQfinish(conn);
}

/* Waits until the group's committed offset is the log end on every
 * partition that has messages. */
static void expect_all_committed(const struct fixture *f, int timeout_ms)
{
    if (!mochi_test_kafka_wait_committed(f->kafka.bootstrap, GROUP, f->topic, PARTITIONS,
                                         timeout_ms)) {
        print_logs(f);
        fail_msg("group %s did not commit up to the log end", GROUP);
    }
}

/* The dev broker refuses the next OffsetCommit requests as a broker does
 * around a rebalance; the offsets of the batches whose commits were refused
 * must still reach the broker once it accepts commits again, although no
 * new message arrives to carry them. */
static void refused_commits_are_retried(void **state)
{
    struct fixture *f = *state;
    const char *kind = getenv("MOCHI_TEST_KAFKA");
    if (kind != NULL && strcmp(kind, "apache") == 0)
        skip(); /* error injection is the dev broker's */
    size_t n = 2000;
    struct mochi_test_event *evs = mochi_test_events_make(n, site_ids, 2, 300, 20, 20, 1, 0.1, 11);
    size_t count = 0;
    char *expected = mochi_test_expected_views(evs, n, &count);
    start_consumer(f, 0, "1000"); /* few batches: few commits to refuse */
    mochi_test_events_produce(f->kafka.bootstrap, f->topic, f->codec, evs, n / 2);
    expect_all_committed(f, 30000);
    /* More refusals than the one or two batches of the second half need
     * commits (and the rejoin an ILLEGAL_GENERATION causes), so that the
     * last of them is refused too. */
    mochi_test_kafka_command(&f->kafka, "errors OffsetCommit REBALANCE_IN_PROGRESS "
                                        "ILLEGAL_GENERATION REBALANCE_IN_PROGRESS "
                                        "REBALANCE_IN_PROGRESS REBALANCE_IN_PROGRESS "
                                        "REBALANCE_IN_PROGRESS REBALANCE_IN_PROGRESS "
                                        "REBALANCE_IN_PROGRESS REBALANCE_IN_PROGRESS "
                                        "REBALANCE_IN_PROGRESS REBALANCE_IN_PROGRESS "
                                        "REBALANCE_IN_PROGRESS");
    mochi_test_events_produce(f->kafka.bootstrap, f->topic, f->codec, evs + n / 2, n - n / 2);
    expect_views(f, expected, count, 60000);
    /* Quiet from here on: only a retry can move the committed offsets. */
    expect_all_committed(f, 30000);
    assert_true(log_count(f, 0, "COMMITFAIL") > 0); /* the broker did refuse */
    assert_int_equal(stop_consumer(f, 0), 0);
    free(expected);
    free(evs);
}

/* A pauses its partitions while the database is away; B joins and takes
 * some of them; the database returns and A resumes what it holds; B leaves
 * and its partitions come back to A. They must come back consuming: a pause
 * flag the client kept from before the revoke must not stick. */
static void partitions_paused_before_a_revoke_come_back_consuming(void **state)
{
    struct fixture *f = *state;
    size_t n = 3000;
    struct mochi_test_event *evs =
        mochi_test_events_make(n, site_ids, NSITES, 500, 30, 20, 1, 0.1, 23);
    size_t count = 0;
    char *expected = mochi_test_expected_views(evs, n, &count);
    size_t third = n / 3;

    start_consumer(f, 0, "100");
    mochi_test_events_produce(f->kafka.bootstrap, f->topic, f->codec, evs, third);
    int64_t ends[PARTITIONS];
    mochi_test_kafka_end_offsets(f->kafka.bootstrap, f->topic, PARTITIONS, ends);
    for (int p = 0; p < PARTITIONS; p++) /* so that A keeps work and B takes some */
        assert_true(ends[p] > 0);
    expect_all_committed(f, 30000);

    mochi_test_pg_stop(&f->pg);
    mochi_test_events_produce(f->kafka.bootstrap, f->topic, f->codec, evs + third, third);
    wait_log(f, 0, "batch not applied, will retry", 1, 30000); /* A pauses */

    /* B takes two of A's (paused) partitions. With the cooperative
     * protocol that is two rounds (A gives them up, then B gets them), and
     * Apache Kafka may log an empty assignment in between: wait for B to
     * hold them. */
    start_consumer(f, 1, "100");
    wait_log(f, 0, "partitions revoked", 1, 60000);
    wait_log(f, 1, "msg=\"partitions assigned\" count=2", 1, 60000);

    mochi_test_pg_start(&f->pg);
    wait_log(f, 0, "database back, resuming", 1, 60000); /* A resumes what it holds */

    /* B leaves: its two partitions go back to A, in one assignment or, after
     * a refused commit around the rebalance, with the rest. */
    int assigned = log_count(f, 0, "msg=\"partitions assigned\"");
    assert_int_equal(stop_consumer(f, 1), 0);
    wait_log(f, 0, "msg=\"partitions assigned\"", assigned + 1, 60000);
    mochi_test_events_produce(f->kafka.bootstrap, f->topic, f->codec, evs + 2 * third,
                              n - 2 * third);
    expect_views(f, expected, count, 60000);
    expect_all_committed(f, 30000);
    assert_int_equal(stop_consumer(f, 0), 0);
    free(expected);
    free(evs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(refused_commits_are_retried, setup_private_pg, teardown),
        cmocka_unit_test_setup_teardown(partitions_paused_before_a_revoke_come_back_consuming,
                                        setup_private_pg, teardown),
    };
    if (getenv("MOCHI_TEST_FILTER") != NULL) /* e.g. "refused*" to run one test */
        cmocka_set_test_filter(getenv("MOCHI_TEST_FILTER"));
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    mochi_test_cleanup();
    return failed;
}
