/* What only a real broker can show, on Apache Kafka (scripts/kafka-test-server):
 * a three-node cluster losing the leader of its busiest partition to kill -9
 * under load, with nothing lost or doubled; and `mochictl replay --rewind
 * time` finding its offsets by timestamp and rebuilding exactly the days
 * asked for; and `mochictl lag` showing a group's state and members. Skipped when
 * MOCHI_TEST_KAFKA=dev: the mock cannot do either. */
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
#include <jansson.h>

#include "common/clock.h"
#include "common/codec.h"
#include "tests/harness/events.h"
#include "tests/harness/harness.h"

static const char *const keys[] = {"apacheSiteKeyAlpha_001", "apacheSiteKeyBravo_002",
                                   "apacheSiteKeyCharlie_03"};
static const char *const domains[] = {"alpha.example", "bravo.example", "charlie.example"};
/* Each site counts in its own zone: the oracle models them independently. */
static const char *const zones[] = {"Europe/Berlin", "Etc/GMT+12", "Asia/Kolkata"};

/* The partition holding the most messages of topic. */
static int busiest_partition(const char *bootstrap, const char *topic, int nparts)
{
    int64_t ends[64];
    mochi_test_kafka_end_offsets(bootstrap, topic, nparts, ends);
    int best = 0;
    for (int p = 1; p < nparts; p++)
        if (ends[p] > ends[best])
            best = p;
    return best;
}

static void three_nodes_lose_the_busiest_leader(void **state)
{
    (void)state;
    enum { PARTS = 6 };
    struct mochi_test_db db;
    mochi_test_db_create_migrated(&db);
    PGconn *conn = mochi_test_db_connect(&db);
    for (int i = 0; i < 3; i++) {
        char sql[256];
        snprintf(sql, sizeof(sql),
                 "INSERT INTO sites (name, domain, tracking_key, timezone)"
                 " VALUES ('%s', '%s', '%s', '%s')",
                 domains[i], domains[i], keys[i], zones[i]);
        mochi_test_db_exec(conn, sql);
    }
    char topic[64];
    snprintf(topic, sizeof(topic), "%s", mochi_test_unique("ha"));
    const char *topics[] = {topic, NULL};
    /* Replication factor 3; min.insync.replicas 2 (the cluster's default). */
    struct mochi_test_kafka kafka;
    mochi_test_apache_kafka_start(&kafka, 3, PARTS, topics);

    int port = mochi_test_free_port();
    char listen[32], url[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    char *const collector_args[] = {(char *)mochi_test_bin("mochi-collector"),
                                    "--brokers",
                                    kafka.bootstrap,
                                    "--topic",
                                    topic,
                                    "--listen",
                                    listen,
                                    "--trusted-proxies",
                                    "127.0.0.1/32",
                                    "--metrics-listen",
                                    "127.0.0.1:0",
                                    NULL};
    struct mochi_test_proc collector, consumers[2], rollups[2];
    mochi_test_proc_start_as(&collector, &db, "mochi_collector", collector_args);
    char conninfo[600];
    for (int i = 0; i < 2; i++) {
        mochi_test_db_conninfo_as(&db, "mochi_consumer", conninfo, sizeof(conninfo));
        mochi_test_stream_start(&consumers[i], "mochi-consumer", conninfo, kafka.bootstrap, topic,
                                NULL);
        mochi_test_db_conninfo_as(&db, "mochi_rollup", conninfo, sizeof(conninfo));
        mochi_test_stream_start(&rollups[i], "mochi-rollup", conninfo, kafka.bootstrap, topic,
                                NULL);
    }
    assert_true(mochi_test_wait_port(port, 20000));

    char sites[256], expect[300];
    snprintf(sites, sizeof(sites), "%s=%s@%s,%s=%s@%s,%s=%s@%s", keys[0], domains[0], zones[0],
             keys[1], domains[1], zones[1], keys[2], domains[2], zones[2]);
    snprintf(expect, sizeof(expect), "%s/ha-expected.json", mochi_test_tmpdir());
    char *const loadgen_args[] = {(char *)mochi_test_bin("mochi-loadgen"),
                                  "--url",
                                  url,
                                  "--sites",
                                  sites,
                                  "--duration",
                                  "24s",
                                  "--rate",
                                  "500",
                                  "--connections",
                                  "8",
                                  "--visitors",
                                  "400",
                                  "--pages",
                                  "30",
                                  "--expect",
                                  expect,
                                  NULL};
    struct mochi_test_proc loadgen;
    mochi_test_proc_start(&loadgen, loadgen_args, NULL, false);

    /* Under load, kill -9 the broker leading the busiest partition; bring
     * it back a few seconds later, while the load goes on. */
    sleep(4);
    int partition = busiest_partition(kafka.bootstrap, topic, PARTS);
    int leader = mochi_test_kafka_leader(kafka.bootstrap, topic, partition);
    char command[32];
    snprintf(command, sizeof(command), "down %d", leader);
    mochi_test_kafka_command(&kafka, command);
    print_message("killed node %d, leader of partition %d\n", leader, partition);
    /* The controller fences the dead broker after its session
     * (broker.session.timeout.ms, 9 s) and moves leadership to an in-sync
     * replica. */
    int64_t until = mochi_test_now_ms() + 30000;
    int new_leader = leader;
    while (new_leader == leader && mochi_test_now_ms() < until) {
        usleep(250000);
        new_leader = mochi_test_kafka_leader(kafka.bootstrap, topic, partition);
    }
    assert_int_not_equal(new_leader, leader);
    print_message("node %d leads partition %d now\n", new_leader, partition);
    snprintf(command, sizeof(command), "up %d", leader);
    mochi_test_kafka_command(&kafka, command);

    int status = 0;
    int64_t deadline = mochi_test_now_ms() + 60000;
    while (mochi_test_proc_alive(&loadgen, &status) && mochi_test_now_ms() < deadline)
        usleep(100000);
    assert_int_equal(mochi_test_exit_code(status), 0);

    /* Every accepted beacon is in the topic exactly once: the collector's
     * idempotent producer retried across the leader change without
     * writing any twice. */
    long long published =
        mochi_test_expect_oracle_tables(conn, expect, 120000, MOCHI_TEST_ORACLE_ALL);
    assert_true(published > 3000);
    size_t count = 0;
    struct mochi_test_message *msgs =
        mochi_test_kafka_read_all(kafka.bootstrap, topic, (size_t)published, 60000, &count);
    assert_int_equal((long long)count, published);
    mochi_test_messages_free(msgs, count);
    print_message("%lld beacons accepted, %zu in the topic, tables equal loadgen's oracle\n",
                  published, count);

    int codes[5] = {mochi_test_proc_stop(&collector, SIGTERM, 30000),
                    mochi_test_proc_stop(&consumers[0], SIGTERM, 30000),
                    mochi_test_proc_stop(&consumers[1], SIGTERM, 30000),
                    mochi_test_proc_stop(&rollups[0], SIGTERM, 30000),
                    mochi_test_proc_stop(&rollups[1], SIGTERM, 30000)};
    for (int i = 0; i < 5; i++)
        assert_int_equal(mochi_test_exit_code(codes[i]), 0);
    PQfinish(conn);
    mochi_test_kafka_stop(&kafka);
    mochi_test_db_drop(&db);
}

static int by_time(const void *a, const void *b)
{
    const struct mochi_test_event *x = a, *y = b;
    return (x->at_us > y->at_us) - (x->at_us < y->at_us);
}

static int run_mochictl(const struct mochi_test_db *db, const char *bootstrap, const char *topic,
                        const char *const args[], char **out, char **err)
{
    return mochi_test_mochictl(db->conninfo, bootstrap, topic, args, 120000, out, err);
}

/* Lines of the oracle text whose day field (after "site|") is day. */
static char *lines_of_day(const char *text, const char *day)
{
    char *out = calloc(1, strlen(text) + 1);
    size_t used = 0;
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        if (strncmp(line + 37, day, 10) == 0) {
            memcpy(out + used, line, (size_t)(end - line + 1));
            used += (size_t)(end - line + 1);
        }
        line = end + 1;
    }
    return out;
}

static void replay_by_time_rebuilds_exactly_the_days_asked(void **state)
{
    (void)state;
    enum { PARTS = 4 };
    static const char *const site_ids[] = {"11111111-1111-4111-8111-111111111111",
                                           "22222222-2222-4222-8222-222222222222"};
    struct mochi_test_db db;
    mochi_test_db_create_migrated(&db);
    PGconn *conn = mochi_test_db_connect(&db);
    mochi_test_db_exec(conn, "INSERT INTO sites (id, name, domain, tracking_key) VALUES "
                             "('11111111-1111-4111-8111-111111111111', 'A', 'a.example', "
                             "'siteAkey_0000000000'),"
                             "('22222222-2222-4222-8222-222222222222', 'B', 'b.example', "
                             "'siteBkey_0000000000')");
    char topic[64];
    snprintf(topic, sizeof(topic), "%s", mochi_test_unique("rt"));
    const char *topics[] = {topic, NULL};
    struct mochi_test_kafka kafka;
    mochi_test_kafka_start(&kafka, 1, PARTS, topics);
    struct mochi_schema_set *schemas = NULL;
    struct mochi_codec *codec = NULL;
    mochi_test_codec_new(&schemas, &codec);

    /* Four UTC days of events, produced in time order with their own
     * times as message timestamps, as a collector's are. */
    size_t n = 6000;
    struct mochi_test_event *evs = mochi_test_events_make(n, site_ids, 2, 600, 20, 60, 4, 0.2, 47);
    qsort(evs, n, sizeof(*evs), by_time);
    char *want_sites = mochi_test_expected_site_days(evs, n);
    mochi_test_events_produce_at_event_time(kafka.bootstrap, topic, codec, evs, n);

    struct mochi_test_proc rollup;
    char conninfo[600];
    mochi_test_db_conninfo_as(&db, "mochi_rollup", conninfo, sizeof(conninfo));
    mochi_test_stream_start(&rollup, "mochi-rollup", conninfo, kafka.bootstrap, topic, NULL);
    int64_t deadline = mochi_test_now_ms() + 60000;
    char *stored = NULL;
    for (;;) {
        free(stored);
        stored = mochi_test_stored_site_days(conn);
        if (strcmp(stored, want_sites) == 0 || mochi_test_now_ms() > deadline)
            break;
        usleep(200000);
    }
    assert_string_equal(stored, want_sites);
    assert_int_equal(mochi_test_exit_code(mochi_test_proc_stop(&rollup, SIGTERM, 30000)), 0);

    /* Corrupt every day; replay the one before the newest. The days come
     * from the events (the newest is today, or yesterday just after
     * midnight). */
    int64_t newest = mochi_day_of_us(evs[n - 1].at_us);
    char day[4][16];
    for (int d = 0; d < 4; d++)
        mochi_day_format(newest - d, day[d]);
    mochi_test_db_exec(conn, "UPDATE daily_site_metrics SET page_views = page_views + 1000");
    const char *args[] = {"replay",   "--from", day[1],     "--to", day[1],
                          "--rewind", "time",   "--margin", "1h",   NULL};
    char *out = NULL, *err = NULL;
    int code = run_mochictl(&db, kafka.bootstrap, topic, args, &out, &err);
    if (code != 0)
        fail_msg("mochictl replay exited %d: %s%s", code, out, err);

    /* The group restarts, in each partition, at the first message stamped
     * at or after the earliest start of day[1] in any zone (10:00 UTC the
     * day before, in UTC+14) less the margin: found here from the messages
     * themselves. The events of day[3] come before it. */
    int64_t since_ms = (newest - 1) * MOCHI_MS_PER_DAY - 14 * 3600 * 1000 - 3600 * 1000;
    size_t count = 0;
    struct mochi_test_message *msgs =
        mochi_test_kafka_read_all(kafka.bootstrap, topic, n, 60000, &count);
    assert_int_equal(count, n);
    int64_t want_offset[PARTS], ends[PARTS];
    mochi_test_kafka_end_offsets(kafka.bootstrap, topic, PARTS, ends);
    for (int p = 0; p < PARTS; p++)
        want_offset[p] = ends[p];
    for (size_t i = 0; i < count; i++)
        if (msgs[i].timestamp_ms >= since_ms && msgs[i].offset < want_offset[msgs[i].partition])
            want_offset[msgs[i].partition] = msgs[i].offset;
    mochi_test_messages_free(msgs, count);
    int rewound_past_start = 0;
    for (int p = 0; p < PARTS; p++) {
        char line[160];
        snprintf(line, sizeof(line), "rewound mochi-rollup partition %d to offset %lld ", p,
                 (long long)want_offset[p]);
        if (strstr(out, line) == NULL)
            fail_msg("expected '%s' in:\n%s", line, out);
        rewound_past_start += want_offset[p] > 0;
    }
    assert_true(rewound_past_start > 0); /* by time, not from the log start */
    free(out);
    free(err);

    mochi_test_stream_start(&rollup, "mochi-rollup", conninfo, kafka.bootstrap, topic, NULL);
    /* day[1] equals the oracle again; the days outside the range keep
     * their corruption. */
    deadline = mochi_test_now_ms() + 60000;
    bool rebuilt = false;
    while (!rebuilt && mochi_test_now_ms() < deadline) {
        free(stored);
        stored = mochi_test_stored_site_days(conn);
        rebuilt = true;
        for (int d = 1; d <= 1; d++) {
            char *want = lines_of_day(want_sites, day[d]);
            char *got = lines_of_day(stored, day[d]);
            rebuilt = rebuilt && want[0] != '\0' && strcmp(want, got) == 0;
            free(want);
            free(got);
        }
        if (!rebuilt)
            usleep(200000);
    }
    assert_true(rebuilt);
    sleep(2); /* let the rollup reach the end: the other days must not move */
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FILTER (WHERE page_views < 1000) || '/' || count(*)"
             " FROM daily_site_metrics WHERE date < '%s' OR date > '%s'",
             day[1], day[1]);
    char outside[32];
    assert_true(mochi_test_db_text(conn, sql, outside, sizeof(outside)));
    assert_true(outside[0] == '0' && outside[1] == '/' && atoi(outside + 2) >= 4);
    assert_int_equal(mochi_test_exit_code(mochi_test_proc_stop(&rollup, SIGTERM, 30000)), 0);
    free(stored);
    free(want_sites);
    free(evs);
    PQfinish(conn);
    mochi_codec_destroy(codec);
    mochi_schema_set_destroy(schemas);
    mochi_test_kafka_stop(&kafka);
    mochi_test_db_drop(&db);
}

/* `mochictl lag --json` for group G: the parsed document's group entry. */
static json_t *lag_of(const char *bootstrap, const char *topic, const char *group)
{
    const char *const args[] = {"lag", "--group", group, "--json", NULL};
    char *out = NULL, *err = NULL;
    int code = mochi_test_mochictl(NULL, bootstrap, topic, args, 60000, &out, &err);
    if (code != 0)
        fail_msg("mochictl lag exited %d: %s%s", code, out, err);
    json_error_t jerr;
    json_t *doc = json_loads(out, 0, &jerr);
    if (doc == NULL)
        fail_msg("mochictl lag --json printed no JSON: %s", out);
    free(out);
    free(err);
    json_t *g = json_incref(json_array_get(json_object_get(doc, "groups"), 0));
    json_decref(doc);
    assert_non_null(g);
    return g;
}

static void lag_shows_group_state_and_members(void **state)
{
    (void)state;
    enum { PARTS = 4 };
    struct mochi_test_db db;
    mochi_test_db_create_migrated(&db);
    char topic[64];
    snprintf(topic, sizeof(topic), "%s", mochi_test_unique("lag"));
    const char *topics[] = {topic, NULL};
    struct mochi_test_kafka kafka;
    mochi_test_kafka_start(&kafka, 1, PARTS, topics);
    char conninfo[600];
    mochi_test_db_conninfo_as(&db, "mochi_consumer", conninfo, sizeof(conninfo));
    struct mochi_test_proc consumer;
    mochi_test_stream_start(&consumer, "mochi-consumer", conninfo, kafka.bootstrap, topic, NULL);

    /* Stable, one member holding every partition. */
    json_t *g = NULL;
    int64_t deadline = mochi_test_now_ms() + 60000;
    for (;;) {
        json_decref(g);
        g = lag_of(kafka.bootstrap, topic, "mochi-ingest");
        const char *st = json_string_value(json_object_get(g, "state"));
        json_t *members = json_object_get(g, "members");
        if ((st && strcmp(st, "Stable") == 0 && json_array_size(members) == 1 &&
             json_array_size(json_object_get(json_array_get(members, 0), "assignment")) == PARTS) ||
            mochi_test_now_ms() > deadline)
            break;
        usleep(250000);
    }
    assert_string_equal(json_string_value(json_object_get(g, "state")), "Stable");
    json_t *members = json_object_get(g, "members");
    assert_int_equal(json_array_size(members), 1);
    json_t *assignment = json_object_get(json_array_get(members, 0), "assignment");
    assert_int_equal(json_array_size(assignment), PARTS);
    bool held[PARTS] = {false};
    for (size_t i = 0; i < json_array_size(assignment); i++) {
        json_t *a = json_array_get(assignment, i);
        assert_string_equal(json_string_value(json_object_get(a, "topic")), topic);
        long long p = json_integer_value(json_object_get(a, "partition"));
        assert_true(p >= 0 && p < PARTS);
        held[p] = true;
    }
    for (int p = 0; p < PARTS; p++)
        assert_true(held[p]);
    json_decref(g);

    /* After SIGTERM the member has left: Empty, no members. */
    assert_int_equal(mochi_test_exit_code(mochi_test_proc_stop(&consumer, SIGTERM, 30000)), 0);
    g = lag_of(kafka.bootstrap, topic, "mochi-ingest");
    assert_string_equal(json_string_value(json_object_get(g, "state")), "Empty");
    assert_int_equal(json_array_size(json_object_get(g, "members")), 0);
    json_decref(g);
    mochi_test_kafka_stop(&kafka);
    mochi_test_db_drop(&db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(three_nodes_lose_the_busiest_leader),
        cmocka_unit_test(replay_by_time_rebuilds_exactly_the_days_asked),
        cmocka_unit_test(lag_shows_group_state_and_members),
    };
    if (mochi_test_kafka_kind() == MOCHI_TEST_KAFKA_DEV) {
        printf("MOCHI_TEST_KAFKA=dev: these tests need Apache Kafka; skipped\n");
        return 0;
    }
    if (getenv("MOCHI_TEST_FILTER"))
        cmocka_set_test_filter(getenv("MOCHI_TEST_FILTER"));
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    mochi_test_cleanup();
    return failed;
}
