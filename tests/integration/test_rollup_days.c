/* mochi-rollup by site-local day (DESIGN.md "Site time zones, entries and
 * sources"), as a process against PostgreSQL and Kafka, with events written
 * here by hand and every expected row counted by hand:
 *   - each event counts on the day it carries, around local midnights and
 *     over Europe/Berlin's 23- and 25-hour days;
 *   - a visitor's day goes to the source of their earliest counted view,
 *     in whatever order the views arrive, and sources add up to uniques;
 *   - v1 events (no day, entry or source) beside v2 ones;
 *   - mochictl replay of one local day rebuilds exactly that day, although
 *     it shares UTC days with its neighbours.
 * The days the collector stamps are tested in it_test_collector_zones; here
 * they are what a collector would have stamped, worked out by hand from
 * the zones' offsets (comments give the local time). */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/clock.h"
#include "common/codec.h"
#include "tests/harness/events.h"
#include "tests/harness/harness.h"

#define SITE_UTC "11111111-1111-4111-8111-111111111111"
#define SITE_KOLKATA "22222222-2222-4222-8222-222222222222"
#define SITE_KIRITIMATI "33333333-3333-4333-8333-333333333333"
#define SITE_MINUS12 "44444444-4444-4444-8444-444444444444"
#define SITE_BERLIN "55555555-5555-4555-8555-555555555555"

struct fixture {
    struct mochi_test_db db;
    struct mochi_test_kafka kafka;
    struct mochi_test_proc rollup;
    char topic[64];
    struct mochi_schema_set *schemas;
    struct mochi_codec *codec;
    PGconn *conn;
};

/* One page view as a collector would publish it. version 1 writes the v1
 * schema, which has no day, entry or source. */
struct view {
    const char *site;
    const char *at; /* UTC, "YYYY-MM-DDTHH:MM:SS" */
    const char *day;
    int visitor;
    const char *path;
    bool entry;
    const char *source; /* NULL: none */
    const char *referrer;
    int version;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    mochi_test_db_create_migrated(&f->db);
    f->conn = mochi_test_db_connect(&f->db);
    mochi_test_db_exec(f->conn,
                       "INSERT INTO sites (id, name, domain, tracking_key, timezone) VALUES "
                       "('" SITE_UTC "', 'utc', 'u.example', 'siteUkey_0000000000', 'UTC'),"
                       "('" SITE_KOLKATA "', 'kolkata', 'k.example', 'siteKkey_0000000000',"
                       " 'Asia/Kolkata'),"
                       "('" SITE_KIRITIMATI "', 'kiritimati', 'x.example', 'siteXkey_0000000000',"
                       " 'Pacific/Kiritimati'),"
                       "('" SITE_MINUS12 "', 'minus12', 'm.example', 'siteMkey_0000000000',"
                       " 'Etc/GMT+12'),"
                       "('" SITE_BERLIN "', 'berlin', 'b.example', 'siteBkey_0000000000',"
                       " 'Europe/Berlin')");
    snprintf(f->topic, sizeof(f->topic), "%s", mochi_test_unique("days"));
    const char *topics[] = {f->topic, NULL};
    mochi_test_kafka_start(&f->kafka, 1, 3, topics);
    mochi_test_codec_new(&f->schemas, &f->codec);
    /* The events below are weeks old: the rollup refuses events older
     * than its dedupe retention, so it gets one longer than that. */
    setenv("MOCHI_DEDUPE_RETENTION", "400d", 1);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    mochi_test_proc_kill(&f->rollup);
    PQfinish(f->conn);
    mochi_test_kafka_stop(&f->kafka);
    mochi_test_db_drop(&f->db);
    mochi_codec_destroy(f->codec);
    mochi_schema_set_destroy(f->schemas);
    free(f);
    return 0;
}

static void start_rollup(struct fixture *f)
{
    char conninfo[600];
    mochi_test_db_conninfo_as(&f->db, "mochi_rollup", conninfo, sizeof(conninfo));
    mochi_test_stream_start(&f->rollup, "mochi-rollup", conninfo, f->kafka.bootstrap, f->topic,
                            NULL);
}

static int stop_rollup(struct fixture *f)
{
    return mochi_test_exit_code(mochi_test_proc_stop(&f->rollup, SIGTERM, 30000));
}

static int64_t utc_us(const char *text)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (strptime(text, "%Y-%m-%dT%H:%M:%S", &tm) == NULL)
        fail_msg("bad time in the test: %s", text);
    return (int64_t)timegm(&tm) * 1000000;
}

static void produce(struct fixture *f, const struct view *views, size_t n)
{
    struct mochi_test_producer *p = mochi_test_producer_new(f->kafka.bootstrap);
    for (size_t i = 0; i < n; i++) {
        const struct view *v = &views[i];
        struct mochi_pageview ev;
        memset(&ev, 0, sizeof(ev));
        snprintf(ev.site_id, sizeof(ev.site_id), "%s", v->site);
        snprintf(ev.path, sizeof(ev.path), "%s", v->path);
        snprintf(ev.visitor_hash, sizeof(ev.visitor_hash), "%032x", v->visitor);
        ev.occurred_at_us = utc_us(v->at);
        ev.has_referrer = v->referrer != NULL;
        if (v->referrer != NULL)
            snprintf(ev.referrer, sizeof(ev.referrer), "%s", v->referrer);
        unsigned char buf[MOCHI_PAGEVIEW_WIRE_MAX];
        size_t len = 0;
        if (v->version == 1) {
            mochi_test_encode_v1(&ev, buf, sizeof(buf), &len);
        } else {
            long long day = 0;
            assert_int_equal(mochi_day_parse(v->day, &day), 0);
            ev.day = (int32_t)day;
            ev.entry = v->entry;
            ev.has_source = v->source != NULL;
            if (v->source != NULL)
                snprintf(ev.source, sizeof(ev.source), "%s", v->source);
            if (mochi_codec_encode(f->codec, &ev, buf, sizeof(buf), &len) != 0)
                fail_msg("cannot encode view %zu", i);
        }
        /* keyed by visitor: the same visitor's views may land anywhere */
        char key[24];
        snprintf(key, sizeof(key), "%zu", i);
        mochi_test_produce(p, f->topic, key, buf, len);
    }
    mochi_test_producer_close(p, 30000);
}

/* The rows of one table as "site|date|...", one a line, sorted. */
static char *rows(struct fixture *f, const char *table)
{
    char sql[1024];
    const char *cols = strcmp(table, "daily_site_metrics") == 0
                           ? "m.page_views || '|' || m.unique_visitors"
                       : strcmp(table, "daily_page_metrics") == 0 ? "m.path || '|' || m.page_views"
                       : strcmp(table, "daily_entry_page_metrics") == 0
                           ? "m.path || '|' || m.entries"
                           : "m.source || '|' || m.entries || '|' || m.visitors";
    /* a source row left at zero by a credit that moved says nothing */
    const char *where = strcmp(table, "daily_source_metrics") == 0
                            ? " WHERE m.entries <> 0 OR m.visitors <> 0"
                            : "";
    snprintf(sql, sizeof(sql),
             "SELECT coalesce(string_agg(line, E'\\n' ORDER BY line COLLATE \"C\") || E'\\n', '')"
             " FROM (SELECT s.name || '|' || m.date || '|' || %s AS line FROM %s m"
             " JOIN sites s ON s.id = m.site_id%s) x",
             cols, table, where);
    PGresult *res = PQexec(f->conn, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(f->conn));
    char *text = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return text;
}

static int line_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* text's lines in bytewise order, as rows() gives them; malloc'd. */
static char *sorted_lines(const char *text)
{
    char *copy = strdup(text), *lines[64], *save = NULL;
    size_t n = 0;
    for (char *l = strtok_r(copy, "\n", &save); l != NULL && n < 64;
         l = strtok_r(NULL, "\n", &save))
        lines[n++] = l;
    if (n > 0)
        qsort(lines, n, sizeof(lines[0]), line_cmp);
    char *out = calloc(1, strlen(text) + 2), *p = out;
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s\n", lines[i]);
    free(copy);
    return out;
}

/* Waits until table holds exactly the lines of want (in any order). */
static void expect_rows(struct fixture *f, const char *table, const char *unsorted)
{
    char *want = sorted_lines(unsorted);
    int64_t deadline = mochi_test_now_ms() + 60000;
    char *got = NULL;
    for (;;) {
        free(got);
        got = rows(f, table);
        if (strcmp(got, want) == 0 || mochi_test_now_ms() > deadline)
            break;
        usleep(200000);
    }
    if (strcmp(got, want) != 0)
        fail_msg("%s:\n%s\nexpected:\n%s", table, got, want);
    free(got);
    free(want);
}

static void each_view_counts_on_the_day_it_carries(void **state)
{
    struct fixture *f = *state;
    /* Each visitor number stands for one hash: the collector hashes with
     * the salt of the site's local day, so a visitor seen on two local
     * days has two hashes (two numbers here). */
    static const struct view views[] = {
        /* Berlin's 25-hour day, 2026-10-25: 2026-10-24T22:00Z (00:00 CEST)
         * to 2026-10-25T23:00Z (00:00 CET). */
        {SITE_BERLIN, "2026-10-24T21:59:59", "2026-10-24", 1, "/a", true, NULL},  /* 23:59:59 */
        {SITE_BERLIN, "2026-10-24T22:00:00", "2026-10-25", 2, "/a", true, NULL},  /* 00:00:00 */
        {SITE_BERLIN, "2026-10-25T00:30:00", "2026-10-25", 2, "/b", false, NULL}, /* 02:30 CEST */
        {SITE_BERLIN, "2026-10-25T01:30:00", "2026-10-25", 2, "/b", false, NULL}, /* 02:30 CET */
        {SITE_BERLIN, "2026-10-25T22:59:59", "2026-10-25", 3, "/c", true, NULL},  /* 23:59:59 */
        {SITE_BERLIN, "2026-10-25T23:00:00", "2026-10-26", 4, "/c", true, NULL},  /* 00:00:00 */
        /* Berlin's 23-hour day, 2026-03-29: 2026-03-28T23:00Z (00:00 CET)
         * to 2026-03-29T22:00Z (00:00 CEST). */
        {SITE_BERLIN, "2026-03-28T22:59:59", "2026-03-28", 5, "/a", true, NULL},  /* 23:59:59 */
        {SITE_BERLIN, "2026-03-28T23:00:00", "2026-03-29", 6, "/a", true, NULL},  /* 00:00:00 */
        {SITE_BERLIN, "2026-03-29T00:59:59", "2026-03-29", 6, "/x", false, NULL}, /* 01:59:59 */
        {SITE_BERLIN, "2026-03-29T01:00:00", "2026-03-29", 6, "/y", false, NULL}, /* 03:00:00 */
        {SITE_BERLIN, "2026-03-29T21:59:59", "2026-03-29", 7, "/c", true, NULL},  /* 23:59:59 */
        {SITE_BERLIN, "2026-03-29T22:00:00", "2026-03-30", 8, "/c", true, NULL},  /* 00:00:00 */
        /* Kiritimati (+14): one visitor across UTC midnight, 13:59 and
         * 14:01 on 2026-11-21, one local day: one hash, counted once. */
        {SITE_KIRITIMATI, "2026-11-20T23:59:00", "2026-11-21", 9, "/", true, NULL},
        {SITE_KIRITIMATI, "2026-11-21T00:01:00", "2026-11-21", 9, "/next", false, NULL},
        /* UTC-12: a visitor across the local midnight, 23:59:30 on the
         * 20th and 00:00:30 on the 21st: two days, once on each. */
        {SITE_MINUS12, "2026-11-21T11:59:30", "2026-11-20", 10, "/", true, NULL},
        {SITE_MINUS12, "2026-11-21T12:00:30", "2026-11-21", 11, "/", true, NULL},
        /* Kolkata (+05:30): 23:59 on the 20th, 00:01 on the 21st. */
        {SITE_KOLKATA, "2026-11-20T18:29:00", "2026-11-20", 12, "/", true, NULL},
        {SITE_KOLKATA, "2026-11-20T18:31:00", "2026-11-21", 13, "/", true, NULL},
        /* UTC: the days are UTC's. */
        {SITE_UTC, "2026-11-20T23:59:59", "2026-11-20", 14, "/", true, NULL},
        {SITE_UTC, "2026-11-21T00:00:00", "2026-11-21", 15, "/", true, NULL},
    };
    produce(f, views, sizeof(views) / sizeof(views[0]));
    start_rollup(f);
    expect_rows(f, "daily_site_metrics",
                "berlin|2026-03-28|1|1\n"
                "berlin|2026-03-29|4|2\n"
                "berlin|2026-03-30|1|1\n"
                "berlin|2026-10-24|1|1\n"
                "berlin|2026-10-25|4|2\n"
                "berlin|2026-10-26|1|1\n"
                "kiritimati|2026-11-21|2|1\n"
                "kolkata|2026-11-20|1|1\n"
                "kolkata|2026-11-21|1|1\n"
                "minus12|2026-11-20|1|1\n"
                "minus12|2026-11-21|1|1\n"
                "utc|2026-11-20|1|1\n"
                "utc|2026-11-21|1|1\n");
    expect_rows(f, "daily_entry_page_metrics",
                "berlin|2026-03-28|/a|1\n"
                "berlin|2026-03-29|/a|1\n"
                "berlin|2026-03-29|/c|1\n"
                "berlin|2026-03-30|/c|1\n"
                "berlin|2026-10-24|/a|1\n"
                "berlin|2026-10-25|/a|1\n"
                "berlin|2026-10-25|/c|1\n"
                "berlin|2026-10-26|/c|1\n"
                "kiritimati|2026-11-21|/|1\n"
                "kolkata|2026-11-20|/|1\n"
                "kolkata|2026-11-21|/|1\n"
                "minus12|2026-11-20|/|1\n"
                "minus12|2026-11-21|/|1\n"
                "utc|2026-11-20|/|1\n"
                "utc|2026-11-21|/|1\n");
    /* Every entry here is direct: "Direct / none" ('') holds them all. */
    expect_rows(f, "daily_source_metrics",
                "berlin|2026-03-28||1|1\n"
                "berlin|2026-03-29||2|2\n"
                "berlin|2026-03-30||1|1\n"
                "berlin|2026-10-24||1|1\n"
                "berlin|2026-10-25||2|2\n"
                "berlin|2026-10-26||1|1\n"
                "kiritimati|2026-11-21||1|1\n"
                "kolkata|2026-11-20||1|1\n"
                "kolkata|2026-11-21||1|1\n"
                "minus12|2026-11-20||1|1\n"
                "minus12|2026-11-21||1|1\n"
                "utc|2026-11-20||1|1\n"
                "utc|2026-11-21||1|1\n");
    assert_int_equal(stop_rollup(f), 0);
}

/* Waits until the rollup has counted `views` page views in all. */
static void wait_counted(struct fixture *f, long long views)
{
    int64_t deadline = mochi_test_now_ms() + 60000;
    while (mochi_test_db_int(f->conn, "SELECT coalesce(sum(page_views), 0) "
                                      "FROM daily_site_metrics") < views &&
           mochi_test_now_ms() < deadline)
        usleep(100000);
    assert_int_equal(
        mochi_test_db_int(f->conn, "SELECT coalesce(sum(page_views), 0) FROM daily_site_metrics"),
        views);
}

static void a_visitor_goes_to_the_source_of_their_earliest_view(void **state)
{
    struct fixture *f = *state;
    start_rollup(f);
    /* First to arrive: visitor 10's second view (internal navigation, no
     * source) and visitor 11's landing from a newsletter. */
    static const struct view first[] = {
        {SITE_UTC, "2026-11-20T12:05:00", "2026-11-20", 10, "/pricing", false, NULL},
        {SITE_UTC, "2026-11-20T12:00:00", "2026-11-20", 11, "/", true, "newsletter"},
    };
    produce(f, first, 2);
    wait_counted(f, 2);
    expect_rows(f, "daily_source_metrics",
                "utc|2026-11-20||0|1\n"
                "utc|2026-11-20|newsletter|1|1\n");
    /* Then, later: visitor 10's landing, which came first (12:00, from
     * google.com): their day moves from "Direct / none" to google.com.
     * Visitor 11 comes back from twitter.com at 12:10: an entry for
     * twitter.com, but their day stays with the newsletter. Visitor 12
     * lands directly; visitor 13's two views arrive together, the
     * later one first. */
    static const struct view second[] = {
        {SITE_UTC, "2026-11-20T12:00:00", "2026-11-20", 10, "/", true, "google.com"},
        {SITE_UTC, "2026-11-20T12:10:00", "2026-11-20", 11, "/blog", true, "twitter.com"},
        {SITE_UTC, "2026-11-20T12:00:00", "2026-11-20", 12, "/", true, NULL},
        {SITE_UTC, "2026-11-20T12:30:00", "2026-11-20", 13, "/a", false, NULL},
        {SITE_UTC, "2026-11-20T12:20:00", "2026-11-20", 13, "/", true, "duckduckgo.com"},
    };
    produce(f, second, 5);
    wait_counted(f, 7);
    expect_rows(f, "daily_source_metrics",
                "utc|2026-11-20||1|1\n"
                "utc|2026-11-20|duckduckgo.com|1|1\n"
                "utc|2026-11-20|google.com|1|1\n"
                "utc|2026-11-20|newsletter|1|1\n"
                "utc|2026-11-20|twitter.com|1|0\n");
    expect_rows(f, "daily_site_metrics", "utc|2026-11-20|7|4\n");
    expect_rows(f, "daily_entry_page_metrics",
                "utc|2026-11-20|/|4\n"
                "utc|2026-11-20|/blog|1\n");
    /* Sent again, nothing moves. */
    produce(f, first, 2);
    produce(f, second, 5);
    sleep(2);
    expect_rows(f, "daily_site_metrics", "utc|2026-11-20|7|4\n");
    expect_rows(f, "daily_source_metrics",
                "utc|2026-11-20||1|1\n"
                "utc|2026-11-20|duckduckgo.com|1|1\n"
                "utc|2026-11-20|google.com|1|1\n"
                "utc|2026-11-20|newsletter|1|1\n"
                "utc|2026-11-20|twitter.com|1|0\n");
    assert_int_equal(stop_rollup(f), 0);
}

static void v1_and_v2_events_on_one_topic(void **state)
{
    struct fixture *f = *state;
    /* v1 is read as DESIGN.md says: day = the UTC date, entry = it has a
     * referrer, source = the referrer's host without "www.". */
    static const struct view views[] = {
        {SITE_UTC, "2026-11-19T10:00:00", NULL, 20, "/", false, NULL, NULL, 1},
        {SITE_UTC, "2026-11-19T10:01:00", NULL, 21, "/", false, NULL, "https://www.google.com", 1},
        /* Kolkata's 01:30 on the 20th, but v1 knows only the UTC date. */
        {SITE_KOLKATA, "2026-11-19T20:00:00", NULL, 22, "/", false, NULL,
         "https://news.ycombinator.com", 1},
        {SITE_KOLKATA, "2026-11-19T20:00:00", "2026-11-20", 23, "/", true, "newsletter", NULL, 2},
        {SITE_KOLKATA, "2026-11-19T20:01:00", "2026-11-20", 23, "/b", false, NULL, NULL, 2},
    };
    produce(f, views, sizeof(views) / sizeof(views[0]));
    start_rollup(f);
    expect_rows(f, "daily_site_metrics",
                "kolkata|2026-11-19|1|1\n"
                "kolkata|2026-11-20|2|1\n"
                "utc|2026-11-19|2|2\n");
    expect_rows(f, "daily_source_metrics",
                "kolkata|2026-11-19|news.ycombinator.com|1|1\n"
                "kolkata|2026-11-20|newsletter|1|1\n"
                "utc|2026-11-19||0|1\n"
                "utc|2026-11-19|google.com|1|1\n");
    expect_rows(f, "daily_entry_page_metrics",
                "kolkata|2026-11-19|/|1\n"
                "kolkata|2026-11-20|/|1\n"
                "utc|2026-11-19|/|1\n");
    assert_int_equal(stop_rollup(f), 0);
}

static int mochictl(struct fixture *f, char **out, char **err, const char *const *args)
{
    return mochi_test_mochictl(f->db.conninfo, f->kafka.bootstrap, f->topic, args, 60000, out, err);
}

static void replay_of_a_local_day_rebuilds_exactly_that_day(void **state)
{
    struct fixture *f = *state;
    /* Berlin's 2026-10-25 shares UTC 2026-10-24 with the end of its 24th
     * and UTC 2026-10-25 with the start of its 26th. */
    static const struct view views[] = {
        {SITE_BERLIN, "2026-10-24T21:00:00", "2026-10-24", 1, "/", true, "a.example"},
        {SITE_BERLIN, "2026-10-24T21:59:00", "2026-10-24", 2, "/", true, NULL},
        {SITE_BERLIN, "2026-10-24T22:00:00", "2026-10-25", 3, "/", true, "b.example"},
        {SITE_BERLIN, "2026-10-25T12:00:00", "2026-10-25", 3, "/p", false, NULL},
        {SITE_BERLIN, "2026-10-25T22:59:00", "2026-10-25", 4, "/", true, NULL},
        {SITE_BERLIN, "2026-10-25T23:00:00", "2026-10-26", 5, "/", true, "c.example"},
        {SITE_BERLIN, "2026-10-25T23:30:00", "2026-10-26", 6, "/", true, NULL},
    };
    produce(f, views, sizeof(views) / sizeof(views[0]));
    start_rollup(f);
    static const char *const want_sites = "berlin|2026-10-24|2|2\n"
                                          "berlin|2026-10-25|3|2\n"
                                          "berlin|2026-10-26|2|2\n";
    expect_rows(f, "daily_site_metrics", want_sites);
    char *want_sources = rows(f, "daily_source_metrics");
    char *want_entries = rows(f, "daily_entry_page_metrics");
    assert_int_equal(stop_rollup(f), 0);

    /* Corrupt every day of every table; rebuild the 25th only. */
    mochi_test_db_exec(f->conn, "UPDATE daily_site_metrics SET page_views = page_views + 1000;"
                                "UPDATE daily_source_metrics SET entries = entries + 1000;"
                                "UPDATE daily_entry_page_metrics SET entries = entries + 1000;"
                                "UPDATE daily_page_metrics SET page_views = page_views + 1000");
    const char *const args[] = {"replay", "--from", "2026-10-25", "--to", "2026-10-25", NULL};
    char *out = NULL, *err = NULL;
    if (mochictl(f, &out, &err, args) != 0)
        fail_msg("mochictl replay: %s%s", out, err);
    assert_non_null(strstr(out, "reset 1 rows of daily_site_metrics"));
    assert_non_null(strstr(out, "reset 2 rows of daily_source_metrics"));
    free(out);
    free(err);
    start_rollup(f);
    /* The 25th is exact again, and its neighbours, whose views share UTC
     * days (and rollup_counted partitions) with it, were not counted
     * again: they keep exactly their corruption. */
    expect_rows(f, "daily_site_metrics",
                "berlin|2026-10-24|1002|2\n"
                "berlin|2026-10-25|3|2\n"
                "berlin|2026-10-26|1002|2\n");
    expect_rows(f, "daily_page_metrics",
                "berlin|2026-10-24|/|1002\n"
                "berlin|2026-10-25|/|2\n"
                "berlin|2026-10-25|/p|1\n"
                "berlin|2026-10-26|/|1002\n");
    expect_rows(f, "daily_source_metrics",
                "berlin|2026-10-24||1001|1\n"
                "berlin|2026-10-24|a.example|1001|1\n"
                "berlin|2026-10-25||1|1\n"
                "berlin|2026-10-25|b.example|1|1\n"
                "berlin|2026-10-26||1001|1\n"
                "berlin|2026-10-26|c.example|1001|1\n");
    sleep(2); /* the rollup reads the topic to its end: nothing else moves */
    expect_rows(f, "daily_site_metrics",
                "berlin|2026-10-24|1002|2\n"
                "berlin|2026-10-25|3|2\n"
                "berlin|2026-10-26|1002|2\n");
    assert_int_equal(stop_rollup(f), 0);

    /* Undo the corruption by replaying everything: equal to the first
     * count, table by table. */
    const char *const all[] = {"replay", "--from", "2026-10-24", "--to", "2026-10-26", NULL};
    if (mochictl(f, &out, &err, all) != 0)
        fail_msg("mochictl replay: %s%s", out, err);
    free(out);
    free(err);
    start_rollup(f);
    expect_rows(f, "daily_site_metrics", want_sites);
    expect_rows(f, "daily_source_metrics", want_sources);
    expect_rows(f, "daily_entry_page_metrics", want_entries);
    assert_int_equal(stop_rollup(f), 0);
    free(want_sources);
    free(want_entries);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(each_view_counts_on_the_day_it_carries, setup, teardown),
        cmocka_unit_test_setup_teardown(a_visitor_goes_to_the_source_of_their_earliest_view, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(v1_and_v2_events_on_one_topic, setup, teardown),
        cmocka_unit_test_setup_teardown(replay_of_a_local_day_rebuilds_exactly_that_day, setup,
                                        teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    mochi_test_cleanup();
    return failed;
}
