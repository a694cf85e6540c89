/* Operator commands against real services: mochictl lag (known committed
 * offsets, both formats, threshold exit code), mochictl stats (on data the
 * pipeline wrote, against counts made here) and mochictl prune (drops what
 * it should, nothing else, while the consumer keeps running). */
#include <jansson.h>
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
#include <librdkafka/rdkafka.h>

#include "common/codec.h"
#include "tests/harness/events.h"
#include "tests/harness/harness.h"

#define SITE_A "11111111-1111-4111-8111-111111111111"
#define SITE_B "22222222-2222-4222-8222-222222222222"
#define KEY_A "opsSiteKeyA_00000001"

static int mochictl(const char *db, const char *brokers, const char *topic, char **out, char **err,
                    const char *const args[])
{
    return mochi_test_mochictl(db ? db : "", brokers ? brokers : "",
                               topic ? topic : "mochi.pageviews", args, 90000, out, err);
}

/* Commits offsets for group as a member of it (what any consumer does). */
static void commit_as_member(const char *bootstrap, const char *group, const char *topic,
                             int nparts, const int64_t *offsets)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof(err));
    rd_kafka_conf_set(conf, "group.id", group, err, sizeof(err));
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err));
    rd_kafka_conf_set(conf, "session.timeout.ms", "6000", err, sizeof(err));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    int64_t deadline = mochi_test_now_ms() + 30000;
    int held = 0;
    while (held < nparts && mochi_test_now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m)
            rd_kafka_message_destroy(m);
        rd_kafka_topic_partition_list_t *a = NULL;
        if (rd_kafka_assignment(rk, &a) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            held = a->cnt;
            rd_kafka_topic_partition_list_destroy(a);
        }
    }
    assert_int_equal(held, nparts);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(nparts);
    for (int p = 0; p < nparts; p++)
        if (offsets[p] >= 0)
            rd_kafka_topic_partition_list_add(list, topic, p)->offset = offsets[p];
    assert_int_equal(rd_kafka_commit(rk, list, 0), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(list);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

static void lag_reports_known_offsets(void **state)
{
    (void)state;
    char topic[64];
    snprintf(topic, sizeof(topic), "%s", mochi_test_unique("lag"));
    const char *topics[] = {topic, NULL};
    struct mochi_test_kafka kafka;
    mochi_test_kafka_start(&kafka, 1, 3, topics);
    struct mochi_test_producer *p = mochi_test_producer_new(kafka.bootstrap);
    for (int i = 0; i < 90; i++) {
        char key[16];
        snprintf(key, sizeof(key), "k%d", i);
        mochi_test_produce(p, topic, key, "x", 1);
    }
    mochi_test_producer_close(p, 30000);
    int64_t ends[3];
    mochi_test_kafka_end_offsets(kafka.bootstrap, topic, 3, ends);
    assert_int_equal(ends[0] + ends[1] + ends[2], 90);
    /* partition 0 half read, partition 1 never committed, partition 2 fully read */
    int64_t committed[3] = {ends[0] / 2, -1, ends[2]};
    commit_as_member(kafka.bootstrap, "ops-group", topic, 3, committed);
    int64_t want_lag[3] = {ends[0] - ends[0] / 2, ends[1], 0};
    int64_t total = want_lag[0] + want_lag[1] + want_lag[2];

    char *out, *err;
    const char *json_args[] = {"lag", "--group", "ops-group", "--json", NULL};
    assert_int_equal(mochictl(NULL, kafka.bootstrap, topic, &out, &err, json_args), 0);
    json_error_t jerr;
    json_t *doc = json_loads(out, 0, &jerr);
    assert_non_null(doc);
    json_t *g = json_array_get(json_object_get(doc, "groups"), 0);
    assert_string_equal(json_string_value(json_object_get(g, "group")), "ops-group");
    assert_int_equal(json_integer_value(json_object_get(g, "total_lag")), total);
    json_t *parts = json_object_get(g, "partitions");
    assert_int_equal(json_array_size(parts), 3);
    for (int i = 0; i < 3; i++) {
        json_t *pj = json_array_get(parts, (size_t)i);
        int part = (int)json_integer_value(json_object_get(pj, "partition"));
        assert_int_equal(json_integer_value(json_object_get(pj, "committed")), committed[part]);
        assert_int_equal(json_integer_value(json_object_get(pj, "log_end")), ends[part]);
        assert_int_equal(json_integer_value(json_object_get(pj, "lag")), want_lag[part]);
    }
    json_decref(doc);
    free(out);
    free(err);

    const char *table_args[] = {"lag", "--group", "ops-group", NULL};
    assert_int_equal(mochictl(NULL, kafka.bootstrap, topic, &out, &err, table_args), 0);
    char line[128];
    snprintf(line, sizeof(line), "%-16s %9d %14s %14lld %12lld\n", "ops-group", 1, "-",
             (long long)ends[1], (long long)want_lag[1]);
    assert_non_null(strstr(out, line));
    snprintf(line, sizeof(line), "%-16s %9s %14s %14s %12lld", "ops-group", "total", "", "",
             (long long)total);
    assert_non_null(strstr(out, line));
    free(out);
    free(err);

    char below[32], at[32];
    snprintf(below, sizeof(below), "%lld", (long long)total - 1);
    snprintf(at, sizeof(at), "%lld", (long long)total);
    const char *over_args[] = {"lag", "--group", "ops-group", "--max-lag", below, NULL};
    assert_int_equal(mochictl(NULL, kafka.bootstrap, topic, &out, &err, over_args), 1);
    assert_non_null(strstr(out, "over --max-lag"));
    free(out);
    free(err);
    const char *ok_args[] = {"lag", "--group", "ops-group", "--max-lag", at, NULL};
    assert_int_equal(mochictl(NULL, kafka.bootstrap, topic, &out, &err, ok_args), 0);
    free(out);
    free(err);
    /* unreachable brokers: exit 3 with a reason */
    const char *down_args[] = {"lag", "--group", "ops-group", "-X", "socket.timeout.ms=2000", NULL};
    assert_int_equal(mochictl(NULL, "127.0.0.1:1", topic, &out, &err, down_args), 3);
    assert_non_null(strstr(err, "mochictl:"));
    free(out);
    free(err);
    mochi_test_kafka_stop(&kafka);
}

static void start_daemon(struct mochi_test_proc *proc, const struct mochi_test_db *db,
                         const char *program, const char *role, const char *bootstrap,
                         const char *topic)
{
    char conninfo[600];
    mochi_test_db_conninfo_as(db, role, conninfo, sizeof(conninfo));
    mochi_test_stream_start(proc, program, conninfo, bootstrap, topic, NULL);
}

static void stats_and_prune_on_pipeline_data(void **state)
{
    (void)state;
    struct mochi_test_db db;
    mochi_test_db_create_migrated(&db);
    PGconn *conn = mochi_test_db_connect(&db);
    mochi_test_db_exec(conn, "INSERT INTO sites (id, name, domain, tracking_key) VALUES "
                             "('" SITE_A "', 'A', 'a.example', '" KEY_A "'),"
                             "('" SITE_B "', 'B', 'b.example', 'opsSiteKeyB_00000002')");
    char topic[64];
    snprintf(topic, sizeof(topic), "%s", mochi_test_unique("ops"));
    const char *topics[] = {topic, NULL};
    struct mochi_test_kafka kafka;
    mochi_test_kafka_start(&kafka, 1, 2, topics);
    struct mochi_schema_set *schemas = NULL;
    struct mochi_codec *codec = NULL;
    mochi_test_codec_new(&schemas, &codec);
    const char *sites[] = {SITE_A, SITE_B};
    size_t n = 6000;
    struct mochi_test_event *evs = mochi_test_events_make(n, sites, 2, 600, 25, 90, 3, 0.2, 77);
    struct mochi_test_proc consumer, rollup;
    start_daemon(&consumer, &db, "mochi-consumer", "mochi_consumer", kafka.bootstrap, topic);
    start_daemon(&rollup, &db, "mochi-rollup", "mochi_rollup", kafka.bootstrap, topic);
    mochi_test_events_produce(kafka.bootstrap, topic, codec, evs, n);
    char *want = mochi_test_expected_site_days(evs, n);
    int64_t deadline = mochi_test_now_ms() + 60000;
    char *got = NULL;
    do {
        free(got);
        usleep(250000);
        got = mochi_test_stored_site_days(conn);
    } while (strcmp(got, want) != 0 && mochi_test_now_ms() < deadline);
    assert_string_equal(got, want);
    free(got);

    /* stats for site A over the days of its events, against counts made
     * here. The days come from the events, not the clock: just after UTC
     * midnight the newest of them are yesterday's. */
    char from[16] = "9999-99-99", to[16] = "0000-00-00";
    size_t site_a_days = 0;
    for (const char *l = want; *l; l = strchr(l, '\n') + 1) {
        if (strncmp(l, SITE_A "|", 37) != 0)
            continue;
        site_a_days++;
        if (strncmp(l + 37, from, 10) < 0)
            snprintf(from, sizeof(from), "%.10s", l + 37);
        if (strncmp(l + 37, to, 10) > 0)
            snprintf(to, sizeof(to), "%.10s", l + 37);
    }
    assert_true(site_a_days >= 3);
    char *out, *err;
    const char *args[] = {"stats", "--site", KEY_A, "--from", from, "--to", to, "--json", NULL};
    assert_int_equal(mochictl(db.conninfo, NULL, NULL, &out, &err, args), 0);
    json_error_t jerr;
    json_t *doc = json_loads(out, 0, &jerr);
    assert_non_null(doc);
    long long want_pv = 0, want_uv = 0;
    json_t *days = json_object_get(doc, "days");
    assert_true(json_array_size(days) >= site_a_days);
    size_t counted_days = 0;
    for (size_t i = 0; i < json_array_size(days); i++) {
        json_t *d = json_array_get(days, i);
        char line[128];
        snprintf(line, sizeof(line), SITE_A "|%s|%lld|%lld\n",
                 json_string_value(json_object_get(d, "date")),
                 json_integer_value(json_object_get(d, "page_views")),
                 json_integer_value(json_object_get(d, "unique_visitors")));
        if (json_integer_value(json_object_get(d, "page_views")) == 0) {
            /* a day of the range without events: none in the oracle either */
            char day_prefix[64];
            snprintf(day_prefix, sizeof(day_prefix), SITE_A "|%s|",
                     json_string_value(json_object_get(d, "date")));
            assert_null(strstr(want, day_prefix));
            continue;
        }
        counted_days++;
        assert_non_null(strstr(want, line)); /* each day is the oracle's */
        want_pv += json_integer_value(json_object_get(d, "page_views"));
        want_uv += json_integer_value(json_object_get(d, "unique_visitors"));
    }
    assert_int_equal(counted_days, site_a_days);
    json_t *totals = json_object_get(doc, "totals");
    assert_int_equal(json_integer_value(json_object_get(totals, "page_views")), want_pv);
    assert_int_equal(json_integer_value(json_object_get(totals, "sum_of_daily_unique_visitors")),
                     want_uv);
    /* the top page is the one the oracle counts most views for, over the range */
    char *pages = mochi_test_expected_page_days(evs, n);
    json_t *top = json_array_get(json_object_get(doc, "top_pages"), 0);
    const char *top_path = json_string_value(json_object_get(top, "path"));
    long long top_views = 0;
    for (char *l = strtok(pages, "\n"); l; l = strtok(NULL, "\n")) {
        char path[128];
        long long v;
        if (strncmp(l, SITE_A, 36) == 0 && sscanf(l + 48, "%127[^|]|%lld", path, &v) == 2 &&
            strcmp(path, top_path) == 0)
            top_views += v;
    }
    assert_int_equal(json_integer_value(json_object_get(top, "page_views")), top_views);
    free(pages);
    json_decref(doc);
    free(out);
    free(err);
    const char *table[] = {"stats", "--site", SITE_A, "--from", from, "--to", to, NULL};
    assert_int_equal(mochictl(db.conninfo, NULL, NULL, &out, &err, table), 0);
    assert_non_null(strstr(out, "(sum of daily unique visitors)"));
    free(out);
    free(err);
    const char *unknown[] = {"stats", "--site", "noSuchSiteKey_0000000", NULL};
    assert_int_equal(mochictl(db.conninfo, NULL, NULL, &out, &err, unknown), 1);
    assert_non_null(strstr(err, "no site"));
    free(out);
    free(err);

    /* prune: old partitions with rows, recent ones kept */
    mochi_test_db_exec(conn, "SELECT mochi_ensure_day((now() AT TIME ZONE 'UTC')::date - 40)");
    mochi_test_db_exec(conn, "SELECT mochi_ensure_day((now() AT TIME ZONE 'UTC')::date - 10)");
    mochi_test_db_exec(conn,
                       "INSERT INTO page_view_events (site_id, path, visitor_hash, occurred_at)"
                       " VALUES ('" SITE_A "', '/old', 'h', now() - interval '40 days'),"
                       "        ('" SITE_A "', '/older10', 'h', now() - interval '10 days')");
    mochi_test_db_exec(conn, "INSERT INTO ingestion_dedupe (site_id, dedupe_key, occurred_minute)"
                             " VALUES ('" SITE_A "', 'k', date_trunc('minute', now() - interval "
                             "'10 days'))");
    mochi_test_db_exec(conn, "INSERT INTO salts (day, salt) VALUES ((now() AT TIME ZONE "
                             "'UTC')::date - 3, decode(repeat('00', 32), 'hex'))");
    long long before = mochi_test_db_int(conn, "SELECT count(*) FROM day_partitions");
    const char *dry[] = {"prune", "--dry-run", NULL};
    assert_int_equal(mochictl(db.conninfo, NULL, NULL, &out, &err, dry), 0);
    assert_non_null(strstr(out, "would drop page_view_events_"));
    assert_non_null(strstr(out, "would delete 1 salt"));
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(*) FROM day_partitions"), before);
    free(out);
    free(err);

    /* prune while the consumer keeps storing */
    size_t m = 2000;
    struct mochi_test_event *more = mochi_test_events_make(m, sites, 2, 300, 10, 5, 1, 0.1, 78);
    mochi_test_events_produce(kafka.bootstrap, topic, codec, more, m);
    const char *real[] = {"prune", NULL};
    assert_int_equal(mochictl(db.conninfo, NULL, NULL, &out, &err, real), 0);
    free(out);
    free(err);
    /* 40 days old: gone from every table; 10 days old: raw kept (30d), state gone (7d) */
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(*) FROM day_partitions WHERE day = "
                                             "(now() AT TIME ZONE 'UTC')::date - 40"),
                     0);
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(*) FROM day_partitions WHERE day = "
                                             "(now() AT TIME ZONE 'UTC')::date - 10"),
                     1);
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(*) FROM page_view_events "
                                             "WHERE path = '/older10'"),
                     1);
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(*) FROM page_view_events "
                                             "WHERE path = '/old'"),
                     0);
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(*) FROM salts WHERE day < "
                                             "(now() AT TIME ZONE 'UTC')::date - 1"),
                     0);
    /* recent days untouched, and the pipeline went on: every view of both batches */
    struct mochi_test_event *all = malloc((n + m) * sizeof(*all));
    memcpy(all, evs, n * sizeof(*all));
    memcpy(all + n, more, m * sizeof(*all));
    size_t distinct = 0;
    free(mochi_test_expected_views(all, n + m, &distinct));
    deadline = mochi_test_now_ms() + 60000;
    while (mochi_test_db_int(conn, "SELECT count(*) FROM page_view_events WHERE occurred_at > "
                                   "now() - interval '5 days'") < (long long)distinct &&
           mochi_test_now_ms() < deadline)
        usleep(250000);
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(*) FROM page_view_events WHERE "
                                             "occurred_at > now() - interval '5 days'"),
                     distinct);
    assert_int_equal(WEXITSTATUS(mochi_test_proc_stop(&consumer, SIGTERM, 30000)), 0);
    assert_int_equal(WEXITSTATUS(mochi_test_proc_stop(&rollup, SIGTERM, 30000)), 0);
    free(all);
    free(more);
    free(evs);
    free(want);
    mochi_codec_destroy(codec);
    mochi_schema_set_destroy(schemas);
    PQfinish(conn);
    mochi_test_kafka_stop(&kafka);
    mochi_test_db_drop(&db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lag_reports_known_offsets),
        cmocka_unit_test(stats_and_prune_on_pipeline_data),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    mochi_test_cleanup();
    return failed;
}
