/* mochi-rollup's progress for the freshness watermark (rollup_progress,
 * mochi_freshness), with the rollup as a process against PostgreSQL and a
 * broker: each partition's row against the log end and the timestamps read
 * back from Kafka here, undecodable and too-old messages counted as read,
 * the state frozen while the rollup is stopped and caught up after, the
 * end re-seen while idle, and, through kill -9, never a next_offset beyond
 * what the aggregates hold; a member that starts past messages never
 * counted reads them again from where the rows say. The SQL function on
 * rows written by hand. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/clock.h"
#include "common/codec.h"
#include "tests/harness/events.h"
#include "tests/harness/harness.h"

#define SITE_A "11111111-1111-4111-8111-111111111111"
#define SITE_B "22222222-2222-4222-8222-222222222222"
#define SITE_C "33333333-3333-4333-8333-333333333333"
/* More partitions than sites: some stay empty, and must show as read too. */
#define PARTITIONS 6

struct fixture {
    struct mochi_test_db db;
    struct mochi_test_kafka kafka;
    struct mochi_test_proc rollup;
    char topic[64];
    struct mochi_schema_set *schemas;
    struct mochi_codec *codec;
    PGconn *conn;
};

/* One partition's row of rollup_progress; times in ms since the epoch, -1
 * for NULL. */
struct row {
    bool present;
    long long next, end, applied_ms, seen_ms;
    char text[256]; /* the whole row, for "did it change" */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    mochi_test_db_create_migrated(&f->db);
    f->conn = mochi_test_db_connect(&f->db);
    mochi_test_db_exec(f->conn, "INSERT INTO sites (id, name, domain, tracking_key) VALUES "
                                "('" SITE_A "', 'A', 'a.example', 'siteAkey_0000000000'),"
                                "('" SITE_B "', 'B', 'b.example', 'siteBkey_0000000000'),"
                                "('" SITE_C "', 'C', 'c.example', 'siteCkey_0000000000')");
    snprintf(f->topic, sizeof(f->topic), "%s", mochi_test_unique("pv"));
    const char *topics[] = {f->topic, NULL};
    mochi_test_kafka_start(&f->kafka, 1, PARTITIONS, topics);
    mochi_test_codec_new(&f->schemas, &f->codec);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    mochi_test_proc_kill(&f->rollup);
    mochi_test_kafka_stop(&f->kafka);
    PQfinish(f->conn);
    mochi_test_db_drop(&f->db);
    mochi_codec_destroy(f->codec);
    mochi_schema_set_destroy(f->schemas);
    free(f);
    return 0;
}

static void start_rollup(struct fixture *f, const char *batch_size)
{
    char conninfo[600];
    mochi_test_db_conninfo_as(&f->db, "mochi_rollup", conninfo, sizeof(conninfo));
    mochi_test_stream_start(&f->rollup, "mochi-rollup", conninfo, f->kafka.bootstrap, f->topic,
                            batch_size);
}

static PGresult *query(PGconn *conn, const char *sql, const char *param)
{
    const char *params[] = {param};
    PGresult *res = PQexecParams(conn, sql, param ? 1 : 0, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(conn));
    return res;
}

static long long ll(PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? -1 : atoll(PQgetvalue(res, row, col));
}

static void read_rows(struct fixture *f, struct row rows[PARTITIONS])
{
    memset(rows, 0, sizeof(struct row) * PARTITIONS);
    PGresult *res = query(f->conn,
                          "SELECT partition, next_offset, end_offset,"
                          " round(extract(epoch FROM applied_until) * 1000)::bigint,"
                          " round(extract(epoch FROM end_seen_at) * 1000)::bigint,"
                          " (next_offset, applied_until, end_offset, end_seen_at, updated_at)::text"
                          " FROM rollup_progress WHERE topic = $1",
                          f->topic);
    for (int i = 0; i < PQntuples(res); i++) {
        int p = atoi(PQgetvalue(res, i, 0));
        assert_true(p >= 0 && p < PARTITIONS);
        rows[p] = (struct row){.present = true,
                               .next = ll(res, i, 1),
                               .end = ll(res, i, 2),
                               .applied_ms = ll(res, i, 3),
                               .seen_ms = ll(res, i, 4)};
        snprintf(rows[p].text, sizeof(rows[p].text), "%s", PQgetvalue(res, i, 5));
    }
    PQclear(res);
}

/* Waits until every partition's row says it is read up to Kafka's log end
 * (and seen there), and returns those ends in ends[]. */
static void wait_read_to_the_end(struct fixture *f, int64_t ends[PARTITIONS], int timeout_ms)
{
    mochi_test_kafka_end_offsets(f->kafka.bootstrap, f->topic, PARTITIONS, ends);
    int64_t deadline = mochi_test_now_ms() + timeout_ms;
    struct row rows[PARTITIONS];
    for (;;) {
        read_rows(f, rows);
        bool done = true;
        for (int p = 0; p < PARTITIONS; p++)
            done = done && rows[p].present && rows[p].next == ends[p] && rows[p].seen_ms > 0;
        if (done)
            return;
        if (mochi_test_now_ms() > deadline) {
            for (int p = 0; p < PARTITIONS; p++)
                print_message("partition %d: log end %lld, row %s\n", p, (long long)ends[p],
                              rows[p].present ? rows[p].text : "(none)");
            fail_msg("the rollup's progress did not reach the log ends in %d ms", timeout_ms);
        }
        usleep(200000);
    }
}

/* Each row against what Kafka holds, read back here: next_offset and
 * end_offset the log end, applied_until the timestamp of the partition's
 * last message (NULL for a partition without one). */
static void expect_rows_match_kafka(struct fixture *f, const int64_t ends[PARTITIONS])
{
    int64_t total = 0;
    for (int p = 0; p < PARTITIONS; p++)
        total += ends[p];
    size_t count = 0;
    struct mochi_test_message *msgs =
        mochi_test_kafka_read_all(f->kafka.bootstrap, f->topic, (size_t)total, 60000, &count);
    assert_int_equal(count, (size_t)total);
    long long last_ms[PARTITIONS], last_offset[PARTITIONS];
    for (int p = 0; p < PARTITIONS; p++)
        last_ms[p] = last_offset[p] = -1;
    for (size_t i = 0; i < count; i++) {
        if (msgs[i].offset > last_offset[msgs[i].partition]) {
            last_offset[msgs[i].partition] = msgs[i].offset;
            last_ms[msgs[i].partition] = msgs[i].timestamp_ms;
        }
    }
    mochi_test_messages_free(msgs, count);
    struct row rows[PARTITIONS];
    read_rows(f, rows);
    int empty = 0;
    for (int p = 0; p < PARTITIONS; p++) {
        assert_true(rows[p].present);
        assert_int_equal(rows[p].next, ends[p]);
        assert_int_equal(rows[p].end, ends[p]);
        assert_int_equal(rows[p].applied_ms, last_ms[p]);
        assert_true(rows[p].seen_ms > 0);
        empty += ends[p] == 0;
    }
    assert_true(empty > 0 && empty < PARTITIONS); /* both kinds were checked */
}

/* mochi_freshness(topic) as mochi_web reads it: counted_up_to in ms since
 * the epoch (-1 for NULL) or how far it is behind now() (age, -1 for NULL),
 * behind and partitions. */
static void freshness_query(struct fixture *f, const char *topic, bool age, long long *ms,
                            long long *behind, long long *partitions)
{
    char conninfo[600];
    mochi_test_db_conninfo_as(&f->db, "mochi_web", conninfo, sizeof(conninfo));
    PGconn *web = PQconnectdb(conninfo);
    assert_int_equal(PQstatus(web), CONNECTION_OK);
    PGresult *res = query(web,
                          age ? "SELECT round(extract(epoch FROM now() - counted_up_to) * 1000),"
                                " behind, partitions FROM mochi_freshness($1)"
                              : "SELECT round(extract(epoch FROM counted_up_to) * 1000),"
                                " behind, partitions FROM mochi_freshness($1)",
                          topic);
    assert_int_equal(PQntuples(res), 1);
    *ms = ll(res, 0, 0);
    *behind = ll(res, 0, 1);
    *partitions = ll(res, 0, 2);
    PQclear(res);
    PQfinish(web);
}

static void freshness(struct fixture *f, const char *topic, long long *age_ms, long long *behind,
                      long long *partitions)
{
    freshness_query(f, topic, true, age_ms, behind, partitions);
}

static void freshness_at(struct fixture *f, const char *topic, long long *at_ms, long long *behind,
                         long long *partitions)
{
    freshness_query(f, topic, false, at_ms, behind, partitions);
}

/* While the rollup idles at the end of every partition, end_seen_at moves
 * on: over 2.5 s it moved by at least a second, and it is at most a round
 * (1 s) old, never past now. (The first read may show a row of an earlier
 * run, not looked at again yet.) */
static void expect_seen_advancing(struct fixture *f)
{
    struct row before[PARTITIONS], after[PARTITIONS];
    read_rows(f, before);
    usleep(2500000);
    read_rows(f, after);
    long long now_ms = mochi_test_db_int(f->conn, "SELECT round(extract(epoch FROM now()) * 1000)");
    for (int p = 0; p < PARTITIONS; p++) {
        long long moved = after[p].seen_ms - before[p].seen_ms;
        long long age = now_ms - after[p].seen_ms;
        if (moved < 1000 || age < 0 || age > 3000) {
            char *log = mochi_test_read_file(f->rollup.log);
            print_message("%s\nbefore %s\nafter  %s\n", log ? log : "", before[p].text,
                          after[p].text);
            free(log);
            fail_msg("partition %d: end_seen_at moved %lld ms in 2.5 s, and is %lld ms old", p,
                     moved, age);
        }
        assert_int_equal(after[p].next, before[p].next);
    }
    long long age = 0, behind = 0, parts = 0;
    freshness(f, f->topic, &age, &behind, &parts);
    if (age < 0 || age > 3000)
        fail_msg("counted_up_to is %lld ms before now while idle", age);
    assert_int_equal(behind, 0);
    assert_int_equal(parts, PARTITIONS);
}

/* Produces, for each site, a page view too old to count and an undecodable
 * message, last in its partition: read, skipped, and still progress. */
static void produce_skipped(struct fixture *f)
{
    const char *sites[] = {SITE_A, SITE_B, SITE_C};
    struct mochi_test_event old[3];
    memset(old, 0, sizeof(old));
    for (int i = 0; i < 3; i++) {
        snprintf(old[i].site_id, sizeof(old[i].site_id), "%s", sites[i]);
        snprintf(old[i].path, sizeof(old[i].path), "/old");
        old[i].visitor = 7;
        old[i].at_us = mochi_clock_now_us() - 30 * MOCHI_US_PER_DAY; /* past the 7 days kept */
    }
    mochi_test_events_produce(f->kafka.bootstrap, f->topic, f->codec, old, 3);
    struct mochi_test_producer *producer = mochi_test_producer_new(f->kafka.bootstrap);
    for (int i = 0; i < 3; i++)
        mochi_test_produce(producer, f->topic, sites[i], "not avro", 8);
    mochi_test_producer_close(producer, 30000);
}

static void progress_follows_the_log_end(void **state)
{
    struct fixture *f = *state;
    const char *sites[] = {SITE_A, SITE_B, SITE_C};
    size_t n = 3000;
    struct mochi_test_event *evs = mochi_test_events_make(n, sites, 3, 300, 20, 60, 1, 0.1, 5);
    mochi_test_events_produce(f->kafka.bootstrap, f->topic, f->codec, evs, n);
    int64_t t0 = mochi_test_now_ms();
    start_rollup(f, "500");
    int64_t ends[PARTITIONS];
    wait_read_to_the_end(f, ends, 60000);
    print_message("read to the log ends in %lld ms\n", (long long)(mochi_test_now_ms() - t0));
    expect_rows_match_kafka(f, ends);
    long long views = mochi_test_db_int(f->conn, "SELECT sum(page_views) FROM daily_site_metrics");

    /* Messages it skips, alone in their batches, are read all the same. */
    produce_skipped(f);
    wait_read_to_the_end(f, ends, 60000);
    expect_rows_match_kafka(f, ends);
    assert_int_equal(mochi_test_db_int(f->conn, "SELECT sum(page_views) FROM daily_site_metrics"),
                     views);
    expect_seen_advancing(f);

    /* Stopped: its rows stay as they were while Kafka takes more. */
    assert_int_equal(mochi_test_exit_code(mochi_test_proc_stop(&f->rollup, SIGTERM, 30000)), 0);
    struct row stopped[PARTITIONS], later[PARTITIONS];
    read_rows(f, stopped);
    size_t more = 600;
    struct mochi_test_event *evs2 = mochi_test_events_make(more, sites, 3, 300, 20, 10, 1, 0, 6);
    mochi_test_events_produce(f->kafka.bootstrap, f->topic, f->codec, evs2, more);
    usleep(2000000);
    read_rows(f, later);
    int64_t now_ends[PARTITIONS];
    mochi_test_kafka_end_offsets(f->kafka.bootstrap, f->topic, PARTITIONS, now_ends);
    int64_t behind_kafka = 0;
    for (int p = 0; p < PARTITIONS; p++) {
        assert_string_equal(later[p].text, stopped[p].text);
        behind_kafka += now_ends[p] - later[p].next;
    }
    /* What a reader with the broker's ends (mochi-web --brokers) sees. */
    assert_int_equal(behind_kafka, (int64_t)more);

    /* Restarted: caught up, and idle at the new ends. */
    start_rollup(f, "500");
    wait_read_to_the_end(f, ends, 60000);
    for (int p = 0; p < PARTITIONS; p++)
        assert_int_equal(ends[p], now_ends[p]);
    expect_rows_match_kafka(f, ends);
    expect_seen_advancing(f);
    assert_int_equal(mochi_test_exit_code(mochi_test_proc_stop(&f->rollup, SIGTERM, 30000)), 0);
    free(evs);
    free(evs2);
}

/* One statement (one snapshot): for each partition, next_offset against
 * the page views counted for the sites whose events it holds. Every event
 * is a distinct page view of one site, so the views counted from a
 * partition are exactly its messages below next_offset: equality, for
 * rows moved by the batch transactions that counted the views. */
static void expect_progress_equals_views(struct fixture *f, const char *site_partitions,
                                         long long *sum_next)
{
    char sql[2048];
    snprintf(sql, sizeof(sql),
             "WITH m(site_id, partition) AS (VALUES %s),"
             " counted AS (SELECT m.partition, sum(d.page_views) AS views"
             "  FROM m JOIN daily_site_metrics d USING (site_id) GROUP BY 1)"
             " SELECT g.p, coalesce(r.next_offset, 0), coalesce(c.views, 0)"
             " FROM generate_series(0, %d) g(p)"
             " LEFT JOIN rollup_progress r ON r.topic = $1 AND r.partition = g.p"
             " LEFT JOIN counted c ON c.partition = g.p ORDER BY 1",
             site_partitions, PARTITIONS - 1);
    PGresult *res = query(f->conn, sql, f->topic);
    *sum_next = 0;
    for (int i = 0; i < PQntuples(res); i++) {
        if (ll(res, i, 1) != ll(res, i, 2))
            fail_msg("partition %d: next_offset %lld, but %lld page views counted from it",
                     atoi(PQgetvalue(res, i, 0)), ll(res, i, 1), ll(res, i, 2));
        *sum_next += ll(res, i, 1);
    }
    PQclear(res);
}

static void kill_9_never_claims_more_than_the_aggregates(void **state)
{
    struct fixture *f = *state;
    const char *sites[] = {SITE_A, SITE_B, SITE_C};
    size_t n = 6000;
    struct mochi_test_event *evs = calloc(n, sizeof(*evs));
    int64_t now = mochi_clock_now_us();
    for (size_t i = 0; i < n; i++) {
        snprintf(evs[i].site_id, sizeof(evs[i].site_id), "%s", sites[i % 3]);
        evs[i].visitor = (int)(i % 97);
        snprintf(evs[i].path, sizeof(evs[i].path), "/view/%zu", i); /* each one distinct */
        evs[i].at_us = now - (int64_t)(i % 600) * 1000000;
    }
    mochi_test_events_produce(f->kafka.bootstrap, f->topic, f->codec, evs, n);
    /* Which partition holds each site, as Kafka says. */
    size_t count = 0;
    struct mochi_test_message *msgs =
        mochi_test_kafka_read_all(f->kafka.bootstrap, f->topic, n, 60000, &count);
    assert_int_equal(count, n);
    char map[512] = "";
    for (int s = 0; s < 3; s++) {
        int partition = -1;
        for (size_t i = 0; i < count && partition < 0; i++)
            if (msgs[i].key_len == strlen(sites[s]) &&
                memcmp(msgs[i].key, sites[s], msgs[i].key_len) == 0)
                partition = msgs[i].partition;
        assert_true(partition >= 0);
        snprintf(map + strlen(map), sizeof(map) - strlen(map), "%s('%s'::uuid, %d)",
                 s > 0 ? ", " : "", sites[s], partition);
    }
    mochi_test_messages_free(msgs, count);

    srand(7);
    long long progress = 0;
    int kills = 0;
    bool running = false;
    for (int round = 0; round < 3 && progress < (long long)n; round++) {
        start_rollup(f, "50"); /* small batches: many transactions to land between */
        running = true;
        /* Wait for it to move, then let it run a little. */
        long long before = progress;
        int64_t deadline = mochi_test_now_ms() + 60000;
        while (progress == before && progress < (long long)n && mochi_test_now_ms() < deadline) {
            expect_progress_equals_views(f, map, &progress);
            usleep(20000);
        }
        usleep((unsigned)(rand() % 250) * 1000);
        expect_progress_equals_views(f, map, &progress); /* while it runs */
        if (progress >= (long long)n)
            break; /* caught up before a kill: the rest of the test still holds */
        mochi_test_proc_kill(&f->rollup);
        running = false;
        kills++;
        expect_progress_equals_views(f, map, &progress);
        usleep(300000); /* a transaction the kill interrupted is over */
        expect_progress_equals_views(f, map, &progress);
        print_message("kill -9 #%d at %lld of %zu messages\n", kills, progress, n);
    }
    assert_true(kills >= 2);
    if (!running)
        start_rollup(f, "50");
    int64_t ends[PARTITIONS];
    wait_read_to_the_end(f, ends, 90000);
    expect_progress_equals_views(f, map, &progress);
    assert_int_equal(progress, (long long)n);
    assert_int_equal(mochi_test_db_int(f->conn, "SELECT sum(page_views) FROM daily_site_metrics"),
                     (long long)n);
    assert_int_equal(mochi_test_exit_code(mochi_test_proc_stop(&f->rollup, SIGTERM, 30000)), 0);

    /* A member that reads everything again (a commit lost in a crash, a
     * partition taken over from a member that had not committed; here a
     * new group) adds nothing, and moves no row back. */
    char group[64];
    snprintf(group, sizeof(group), "%s", mochi_test_unique("again"));
    setenv("MOCHI_GROUP", group, 1);
    start_rollup(f, "50");
    unsetenv("MOCHI_GROUP");
    int64_t deadline = mochi_test_now_ms() + 60000;
    for (int round = 1;; round++) {
        expect_progress_equals_views(f, map, &progress);
        assert_int_equal(progress, (long long)n);
        if (round % 10 == 0) { /* read it all again yet? */
            int64_t committed[PARTITIONS];
            mochi_test_kafka_committed(f->kafka.bootstrap, group, f->topic, PARTITIONS, committed);
            bool done = true;
            for (int p = 0; p < PARTITIONS; p++)
                done = done && (ends[p] == 0 || committed[p] == ends[p]);
            if (done || mochi_test_now_ms() > deadline)
                break;
        }
        usleep(50000);
    }
    assert_true(mochi_test_now_ms() <= deadline);
    assert_int_equal(mochi_test_exit_code(mochi_test_proc_stop(&f->rollup, SIGTERM, 30000)), 0);
    free(evs);
}

/* n distinct page views (each its own path) over the three sites, the
 * first numbered from. */
static void produce_views(struct fixture *f, size_t from, size_t n)
{
    const char *sites[] = {SITE_A, SITE_B, SITE_C};
    struct mochi_test_event *evs = calloc(n, sizeof(*evs));
    assert_non_null(evs);
    int64_t now = mochi_clock_now_us();
    for (size_t i = 0; i < n; i++) {
        snprintf(evs[i].site_id, sizeof(evs[i].site_id), "%s", sites[(from + i) % 3]);
        evs[i].visitor = (int)((from + i) % 41);
        snprintf(evs[i].path, sizeof(evs[i].path), "/read-again/%zu", from + i);
        evs[i].at_us = now - (int64_t)(i % 120) * 1000000;
    }
    mochi_test_events_produce(f->kafka.bootstrap, f->topic, f->codec, evs, n);
    free(evs);
}

/* Kafka's committed offsets say nothing of what the database holds. Here a
 * member starts at the log end, past messages never counted: a new group
 * told to start at the latest offset stands for offsets moved forward by
 * hand, or a client that skipped messages. Its first marks start beyond
 * rollup_progress's next_offset, so it reads those partitions again from
 * there instead of committing past them: every page view is counted, once.
 * (Without the check the second half is never counted.) */
static void a_member_started_past_the_counted_reads_again(void **state)
{
    struct fixture *f = *state;
    produce_views(f, 0, 300);
    start_rollup(f, "50");
    int64_t ends[PARTITIONS];
    wait_read_to_the_end(f, ends, 60000);
    assert_int_equal(mochi_test_db_int(f->conn, "SELECT sum(page_views) FROM daily_site_metrics"),
                     300);
    assert_int_equal(mochi_test_exit_code(mochi_test_proc_stop(&f->rollup, SIGTERM, 30000)), 0);

    produce_views(f, 300, 300); /* not counted yet */
    char conninfo[600], group[64];
    mochi_test_db_conninfo_as(&f->db, "mochi_rollup", conninfo, sizeof(conninfo));
    snprintf(group, sizeof(group), "%s", mochi_test_unique("late"));
    const char *const late[] = {"--group", group, "-X", "auto.offset.reset=latest", NULL};
    mochi_test_stream_start_with(&f->rollup, "mochi-rollup", conninfo, f->kafka.bootstrap, f->topic,
                                 NULL, late);

    int64_t deadline = mochi_test_now_ms() + 60000;
    long long views = 0;
    while ((views = mochi_test_db_int(f->conn, "SELECT sum(page_views) FROM daily_site_metrics")) <
               600 &&
           mochi_test_now_ms() < deadline)
        usleep(200000);
    char *log = mochi_test_read_file(f->rollup.log);
    if (views != 600)
        fail_msg("%lld page views counted of 600: %s", views, log ? log : "");
    assert_non_null(strstr(log, "msg=\"read past what the database applied: reading again from "
                                "there\""));
    free(log);
    wait_read_to_the_end(f, ends, 60000);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics",
             mochi_test_metrics_port(&f->rollup, 20000));
    struct mochi_test_response response;
    mochi_test_http("GET", url, NULL, NULL, &response);
    assert_int_equal(response.status, 200);
    assert_true(mochi_test_metric_in(response.body, "mochi_rollup_offset_gaps_total") >= 1);
    mochi_test_response_free(&response);
    assert_int_equal(mochi_test_exit_code(mochi_test_proc_stop(&f->rollup, SIGTERM, 30000)), 0);
    /* once each: applying the re-read again added nothing */
    assert_int_equal(mochi_test_db_int(f->conn, "SELECT sum(page_views) FROM daily_site_metrics"),
                     600);
}

/* mochi_freshness on rows written here, against values worked out by hand:
 * T per partition is end_seen_at at the end (or applied_until when later),
 * applied_until otherwise; the topic's is the least; behind never below 0;
 * a partition with no time makes the topic's unknown; other topics are not
 * counted. Times are seconds before a fixed instant B. */
static void freshness_from_rows_by_hand(void **state)
{
    struct fixture *f = *state;
    long long at = 0, behind = 0, parts = 0;
    const long long b = 1893456000000LL; /* B = 2030-01-01 00:00:00 UTC, in ms */
    freshness_at(f, "t", &at, &behind, &parts);
    assert_int_equal(at, -1);
    assert_int_equal(behind, 0);
    assert_int_equal(parts, 0);

    mochi_test_db_exec(f->conn,
                       "CREATE TEMP VIEW b AS SELECT timestamptz '2030-01-01 00:00Z' AS b");
    mochi_test_db_exec(f->conn,
                       "INSERT INTO rollup_progress (topic, partition, next_offset, applied_until,"
                       " end_offset, end_seen_at) SELECT v.* FROM b, LATERAL (VALUES"
                       " ('t', 0, 10, b - interval '60 s', 10, b - interval '5 s'),"
                       " ('t', 1, 5, b - interval '20 s', 9, b - interval '1 s'),"
                       " ('t', 2, 7, b - interval '90 s', 3, b - interval '3 s'),"
                       " ('other', 0, 0, b - interval '999 s', 50, NULL)) v");
    freshness_at(f, "t", &at, &behind, &parts);
    assert_int_equal(at, b - 20000); /* partition 1, 4 messages behind: its applied_until */
    assert_int_equal(behind, 4);     /* 9 - 5; partition 2's stale end counts 0, not -4 */
    assert_int_equal(parts, 3);

    mochi_test_db_exec(f->conn, "UPDATE rollup_progress SET next_offset = 9"
                                " WHERE topic = 't' AND partition = 1");
    freshness_at(f, "t", &at, &behind, &parts);
    assert_int_equal(at, b - 5000); /* all at their ends: partition 0's end_seen_at */
    assert_int_equal(behind, 0);

    /* At its end, an applied_until later than the last look-up counts. */
    mochi_test_db_exec(f->conn,
                       "UPDATE rollup_progress SET applied_until = b - interval '2 s' FROM b"
                       " WHERE topic = 't' AND partition = 0");
    freshness_at(f, "t", &at, &behind, &parts);
    assert_int_equal(at, b - 3000); /* partition 0 at -2 s now; partition 2's -3 s is least */
    mochi_test_db_exec(f->conn, "UPDATE rollup_progress SET end_seen_at = b FROM b"
                                " WHERE topic = 't' AND partition = 2");
    freshness_at(f, "t", &at, &behind, &parts);
    assert_int_equal(at, b - 2000);

    /* A partition with no time at all: nothing is claimed for the topic. */
    mochi_test_db_exec(f->conn, "INSERT INTO rollup_progress (topic, partition, next_offset)"
                                " VALUES ('t', 3, 0)");
    freshness_at(f, "t", &at, &behind, &parts);
    assert_int_equal(at, -1);
    assert_int_equal(behind, 0);
    assert_int_equal(parts, 4);
    freshness_at(f, "other", &at, &behind, &parts);
    assert_int_equal(at, b - 999000);
    assert_int_equal(behind, 50);
    assert_int_equal(parts, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(progress_follows_the_log_end, setup, teardown),
        cmocka_unit_test_setup_teardown(kill_9_never_claims_more_than_the_aggregates, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_member_started_past_the_counted_reads_again, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(freshness_from_rows_by_hand, setup, teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    mochi_test_cleanup();
    return failed;
}
