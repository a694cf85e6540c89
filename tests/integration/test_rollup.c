/* mochi-rollup (beside mochi-consumer) as processes, against PostgreSQL and
 * a dev Kafka broker: exact aggregates against an oracle computed here from
 * the produced events, kill -9 of either daemon, two rollup instances, and
 * mochictl replay over a corrupted state. */
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

#include "common/clock.h"
#include "common/codec.h"
#include "tests/harness/events.h"
#include "tests/harness/harness.h"

#define SITE_A "11111111-1111-4111-8111-111111111111"
#define SITE_B "22222222-2222-4222-8222-222222222222"
#define SITE_C "33333333-3333-4333-8333-333333333333"
#define PARTITIONS 4

struct fixture {
    struct mochi_test_db db;
    struct mochi_test_kafka kafka;
    struct mochi_test_proc rollups[2];
    struct mochi_test_proc consumer;
    char topic[64];
    struct mochi_schema_set *schemas;
    struct mochi_codec *codec;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    mochi_test_db_create_migrated(&f->db);
    PGconn *conn = mochi_test_db_connect(&f->db);
    mochi_test_db_exec(conn, "INSERT INTO sites (id, name, domain, tracking_key) VALUES "
                             "('" SITE_A "', 'A', 'a.example', 'siteAkey_0000000000'),"
                             "('" SITE_B "', 'B', 'b.example', 'siteBkey_0000000000'),"
                             "('" SITE_C "', 'C', 'c.example', 'siteCkey_0000000000')");
    PQfinish(conn);
    snprintf(f->topic, sizeof(f->topic), "%s", mochi_test_unique("pv"));
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
        mochi_test_proc_kill(&f->rollups[i]);
    mochi_test_proc_kill(&f->consumer);
    mochi_test_kafka_stop(&f->kafka);
    mochi_test_db_drop(&f->db);
    mochi_codec_destroy(f->codec);
    mochi_schema_set_destroy(f->schemas);
    free(f);
    return 0;
}

static void start(struct fixture *f, struct mochi_test_proc *proc, const char *program,
                  const char *role)
{
    char conninfo[600];
    mochi_test_db_conninfo_as(&f->db, role, conninfo, sizeof(conninfo));
    mochi_test_stream_start(proc, program, conninfo, f->kafka.bootstrap, f->topic, "400");
}

static void start_rollup(struct fixture *f, int i)
{
    start(f, &f->rollups[i], "mochi-rollup", "mochi_rollup");
}

static void start_consumer(struct fixture *f)
{
    start(f, &f->consumer, "mochi-consumer", "mochi_consumer");
}

static int stop(struct mochi_test_proc *proc)
{
    return mochi_test_exit_code(mochi_test_proc_stop(proc, SIGTERM, 30000));
}

/* Waits until both aggregate tables equal the expected text. */
static void expect_aggregates(struct fixture *f, const char *sites, const char *pages,
                              int timeout_ms)
{
    PGconn *conn = mochi_test_db_connect(&f->db);
    int64_t deadline = mochi_test_now_ms() + timeout_ms;
    char *s = NULL, *p = NULL;
    for (;;) {
        free(s);
        free(p);
        s = mochi_test_stored_site_days(conn);
        p = mochi_test_stored_page_days(conn);
        if ((strcmp(s, sites) == 0 && strcmp(p, pages) == 0) || mochi_test_now_ms() > deadline)
            break;
        usleep(250000);
    }
    if (strcmp(s, sites) != 0)
        fail_msg("daily_site_metrics:\n%s\nexpected:\n%s", s, sites);
    if (strcmp(p, pages) != 0)
        fail_msg("daily_page_metrics differs from the oracle (%zu vs %zu bytes)", strlen(p),
                 strlen(pages));
    free(s);
    free(p);
    PQfinish(conn);
}

/* The aggregates must also equal a recount over what the consumer stored. */
static void expect_recount_matches(struct fixture *f, size_t views)
{
    PGconn *conn = mochi_test_db_connect(&f->db);
    int64_t deadline = mochi_test_now_ms() + 60000;
    while ((size_t)mochi_test_db_int(conn, "SELECT count(*) FROM page_view_events") < views &&
           mochi_test_now_ms() < deadline)
        usleep(250000);
    assert_int_equal(
        mochi_test_db_int(conn, "SELECT count(*) FROM ("
                                " SELECT site_id, (occurred_at AT TIME ZONE 'UTC')::date AS date,"
                                "  count(*) AS pv, count(DISTINCT visitor_hash) AS uv"
                                " FROM page_view_events GROUP BY 1, 2"
                                " EXCEPT SELECT site_id, date, page_views, unique_visitors"
                                " FROM daily_site_metrics) d"),
        0);
    assert_int_equal(mochi_test_db_int(conn,
                                       "SELECT count(*) FROM ("
                                       " SELECT site_id, date, page_views, unique_visitors"
                                       " FROM daily_site_metrics EXCEPT"
                                       " SELECT site_id, (occurred_at AT TIME ZONE 'UTC')::date,"
                                       "  count(*), count(DISTINCT visitor_hash)"
                                       " FROM page_view_events GROUP BY 1, 2) d"),
                     0);
    assert_int_equal(mochi_test_db_int(conn,
                                       "SELECT count(*) FROM ("
                                       " SELECT site_id, (occurred_at AT TIME ZONE 'UTC')::date,"
                                       "  path, count(*) FROM page_view_events GROUP BY 1, 2, 3"
                                       " EXCEPT SELECT site_id, date, path, page_views"
                                       " FROM daily_page_metrics) d"),
                     0);
    PQfinish(conn);
}

static void exact_against_the_oracle_and_the_raw_events(void **state)
{
    struct fixture *f = *state;
    const char *sites[] = {SITE_A, SITE_B, SITE_C};
    size_t n = 20000;
    /* three UTC days, so that late events update earlier days */
    struct mochi_test_event *evs = mochi_test_events_make(n, sites, 3, 1500, 30, 120, 3, 0.2, 11);
    char *want_sites = mochi_test_expected_site_days(evs, n);
    char *want_pages = mochi_test_expected_page_days(evs, n);
    size_t views = 0;
    free(mochi_test_expected_views(evs, n, &views));
    start_rollup(f, 0);
    start_consumer(f);
    mochi_test_events_produce(f->kafka.bootstrap, f->topic, f->codec, evs, n);
    expect_aggregates(f, want_sites, want_pages, 90000);
    expect_recount_matches(f, views);
    print_message("%zu events, %zu distinct page views; aggregates exact:\n%s", n, views,
                  want_sites);
    /* Redelivery of everything adds nothing. */
    mochi_test_events_produce(f->kafka.bootstrap, f->topic, f->codec, evs, n);
    sleep(3);
    expect_aggregates(f, want_sites, want_pages, 30000);
    assert_int_equal(stop(&f->rollups[0]), 0);
    assert_int_equal(stop(&f->consumer), 0);
    free(want_sites);
    free(want_pages);
    free(evs);
}

/* Each event is counted once by outcome: a page view counted, a copy of
 * one (an exact re-send or a same-minute repeat, inside a batch or across
 * batches), or an event of a site that does not exist. The expected
 * figures come from the harness's own count of distinct page views. */
static void outcomes_are_counted(void **state)
{
    struct fixture *f = *state;
    const char *known[] = {SITE_A, SITE_B};
    const char *unknown[] = {"44444444-4444-4444-8444-444444444444"};
    size_t n = 3000, m = 37;
    struct mochi_test_event *evs = mochi_test_events_make(n, known, 2, 300, 20, 60, 1, 0.3, 41);
    struct mochi_test_event *strays = mochi_test_events_make(m, unknown, 1, 10, 5, 60, 1, 0, 43);
    size_t views = 0;
    free(mochi_test_expected_views(evs, n, &views));
    assert_true(views < n); /* the stream has copies to find */
    start_rollup(f, 0);
    mochi_test_events_produce(f->kafka.bootstrap, f->topic, f->codec, evs, n);
    mochi_test_events_produce(f->kafka.bootstrap, f->topic, f->codec, strays, m);
    int port = mochi_test_metrics_port(&f->rollups[0], 20000);
    long long counted = -1, copies = -1, strangers = -1;
    /* Each only grows, so once they add up to every event they are final. */
    for (int64_t deadline = mochi_test_now_ms() + 60000; mochi_test_now_ms() < deadline;) {
        counted = mochi_test_metric(port, "mochi_rollup_events_total{outcome=\"counted\"}");
        copies = mochi_test_metric(port, "mochi_rollup_events_total{outcome=\"duplicate\"}");
        strangers = mochi_test_metric(port, "mochi_rollup_events_total{outcome=\"unknown_site\"}");
        if (counted + copies + strangers >= (long long)(n + m))
            break;
        usleep(200000);
    }
    assert_int_equal(counted, views);
    assert_int_equal(copies, n - views);
    assert_int_equal(strangers, m);
    PGconn *conn = mochi_test_db_connect(&f->db);
    assert_int_equal(mochi_test_db_int(conn, "SELECT sum(page_views) FROM daily_site_metrics"),
                     views);
    PQfinish(conn);
    assert_int_equal(stop(&f->rollups[0]), 0);
    free(strays);
    free(evs);
}

static void kill_9_of_either_with_two_rollups(void **state)
{
    struct fixture *f = *state;
    const char *sites[] = {SITE_A, SITE_B, SITE_C};
    size_t n = 30000;
    struct mochi_test_event *evs = mochi_test_events_make(n, sites, 3, 3000, 40, 90, 2, 0.25, 23);
    char *want_sites = mochi_test_expected_site_days(evs, n);
    char *want_pages = mochi_test_expected_page_days(evs, n);
    size_t views = 0;
    free(mochi_test_expected_views(evs, n, &views));
    mochi_test_events_produce(f->kafka.bootstrap, f->topic, f->codec, evs, n);
    start_rollup(f, 0);
    start_rollup(f, 1);
    start_consumer(f);
    srand(99);
    for (int round = 0; round < 8; round++) {
        usleep(250000 + (unsigned)(rand() % 800) * 1000);
        int victim = rand() % 3;
        if (victim == 2) {
            mochi_test_proc_kill(&f->consumer);
            start_consumer(f);
        } else {
            mochi_test_proc_kill(&f->rollups[victim]);
            start_rollup(f, victim);
        }
    }
    expect_aggregates(f, want_sites, want_pages, 240000);
    expect_recount_matches(f, views);
    /* The monthly lists (sql/010) were written in the same transactions:
     * exactly the daily rows' sums, whatever batches were applied again. */
    PGconn *conn = mochi_test_db_connect(&f->db);
    long long monthly = mochi_test_expect_monthly_sums(conn);
    assert_true(monthly > 0);
    PQfinish(conn);
    print_message("%zu events, %zu page views: exact after 8 kill -9 (%lld monthly rows)\n", n,
                  views, monthly);
    assert_int_equal(stop(&f->rollups[0]), 0);
    assert_int_equal(stop(&f->rollups[1]), 0);
    assert_int_equal(stop(&f->consumer), 0);
    free(want_sites);
    free(want_pages);
    free(evs);
}

static int mochictl(struct fixture *f, char **out, char **err, const char *a1, const char *a2,
                    const char *a3, const char *a4, const char *a5, const char *a6)
{
    const char *const args[] = {a1, a2, a3, a4, a5, a6, NULL};
    return mochi_test_mochictl(f->db.conninfo, f->kafka.bootstrap, f->topic, args, 60000, out, err);
}

static void replay_repairs_a_corrupted_range_only(void **state)
{
    struct fixture *f = *state;
    const char *sites[] = {SITE_A, SITE_B};
    size_t n = 8000;
    struct mochi_test_event *evs = mochi_test_events_make(n, sites, 2, 800, 20, 60, 4, 0.2, 31);
    char *want_sites = mochi_test_expected_site_days(evs, n);
    char *want_pages = mochi_test_expected_page_days(evs, n);
    mochi_test_events_produce(f->kafka.bootstrap, f->topic, f->codec, evs, n);
    start_rollup(f, 0);
    expect_aggregates(f, want_sites, want_pages, 60000);

    /* Refused while the rollup runs. */
    char *out, *err;
    char today[16], yesterday[16], day3[16];
    long long now_day = mochi_day_today();
    mochi_day_format(now_day, today);
    mochi_day_format(now_day - 1, yesterday);
    mochi_day_format(now_day - 3, day3);
    assert_int_equal(mochictl(f, &out, &err, "replay", "--from", yesterday, "--to", today, NULL),
                     1);
    assert_non_null(strstr(err, "stop every mochi-rollup"));
    free(out);
    free(err);
    assert_int_equal(stop(&f->rollups[0]), 0);

    /* Corrupt: inside the range, a deleted row and altered ones; outside
     * the range (three days ago), an altered row that must stay so. */
    PGconn *conn = mochi_test_db_connect(&f->db);
    char sql[512];
    snprintf(sql, sizeof(sql),
             "DELETE FROM daily_site_metrics WHERE site_id = '" SITE_A "' AND date = '%s'", today);
    mochi_test_db_exec(conn, sql);
    snprintf(sql, sizeof(sql),
             "UPDATE daily_site_metrics SET page_views = page_views + 1000 WHERE date = '%s'",
             yesterday);
    mochi_test_db_exec(conn, sql);
    snprintf(sql, sizeof(sql),
             "UPDATE daily_page_metrics SET page_views = 0 WHERE date = '%s' AND path = '/'",
             today);
    mochi_test_db_exec(conn, sql);
    snprintf(sql, sizeof(sql),
             "UPDATE daily_site_metrics SET unique_visitors = 424242 WHERE date = '%s'", day3);
    mochi_test_db_exec(conn, sql);
    long long outside = mochi_test_db_int(conn, "SELECT count(*) FROM daily_site_metrics "
                                                "WHERE unique_visitors = 424242");
    assert_true(outside > 0);

    if (mochictl(f, &out, &err, "replay", "--from", yesterday, "--to", today, NULL) != 0)
        fail_msg("mochictl replay failed: %s%s", out, err);
    assert_non_null(strstr(out, "rewound"));
    free(out);
    free(err);
    /* The rollup's progress (the freshness watermark) went back with the
     * group, to the log start: no time is claimed for a partition with
     * messages (an empty one's stays true). */
    assert_true(mochi_test_db_int(conn, "SELECT count(*) FROM rollup_progress"
                                        " WHERE end_offset > 0") > 0);
    assert_int_equal(mochi_test_db_int(conn,
                                       "SELECT count(*) FROM rollup_progress"
                                       " WHERE next_offset <> 0 OR (end_offset > 0 AND"
                                       " (applied_until IS NOT NULL OR end_seen_at IS NOT NULL))"),
                     0);
    start_rollup(f, 0);

    /* Expected: the oracle, except the day outside the range keeps its
     * corruption. */
    PGconn *check = mochi_test_db_connect(&f->db);
    int64_t deadline = mochi_test_now_ms() + 60000;
    bool exact = false;
    while (!exact && mochi_test_now_ms() < deadline) {
        char *stored = mochi_test_stored_site_days(check);
        /* compare the in-range lines with the oracle's */
        exact = true;
        for (char *line = want_sites; *line;) {
            char *end = strchr(line, '\n');
            char one[256];
            snprintf(one, sizeof(one), "%.*s\n", (int)(end - line + 0), line);
            bool in_range =
                strncmp(line + 37, yesterday, 10) == 0 || strncmp(line + 37, today, 10) == 0;
            if (in_range && strstr(stored, one) == NULL)
                exact = false;
            line = end + 1;
        }
        free(stored);
        if (!exact)
            usleep(250000);
    }
    assert_true(exact);
    assert_int_equal(mochi_test_db_int(check, "SELECT count(*) FROM daily_site_metrics "
                                              "WHERE unique_visitors = 424242"),
                     outside);
    char *stored_pages = mochi_test_stored_page_days(check);
    for (char *line = want_pages; *line;) {
        char *end = strchr(line, '\n');
        char one[300];
        snprintf(one, sizeof(one), "%.*s\n", (int)(end - line), line);
        if (strncmp(line + 37, today, 10) == 0 || strncmp(line + 37, yesterday, 10) == 0)
            assert_non_null(strstr(stored_pages, one));
        line = end + 1;
    }
    free(stored_pages);
    /* The replay rebuilt the months it touched from the daily rows: the
     * corrupted page row above (the monthly row kept its true count) no
     * longer shows in them, and the rollup's recount adds up again. */
    assert_true(mochi_test_expect_monthly_sums(check) > 0);
    PQfinish(check);
    PQfinish(conn);
    assert_int_equal(stop(&f->rollups[0]), 0);
    free(want_sites);
    free(want_pages);
    free(evs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(exact_against_the_oracle_and_the_raw_events, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(outcomes_are_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(kill_9_of_either_with_two_rollups, setup, teardown),
        cmocka_unit_test_setup_teardown(replay_repairs_a_corrupted_range_only, setup, teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    mochi_test_cleanup();
    return failed;
}
