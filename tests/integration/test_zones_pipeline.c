/* Site time zones through the whole pipeline: mochi-loadgen ->
 * mochi-collector (HTTP) -> Kafka -> mochi-consumer and mochi-rollup ->
 * PostgreSQL, compared with loadgen's oracle on all four aggregates
 * (DESIGN.md "Site time zones, entries and sources", issue #13):
 *
 * - a site's zone changed mid-day: the events sent before the change keep
 *   their local day, those after it take the new zone's, and `mochictl
 *   replay` of those days reproduces the same numbers;
 * - kill -9 of consumers and rollups, two of each, under traffic to sites
 *   in five zones.
 *
 * The days asserted by hand are UTC dates of the test's own clock shifted
 * by a fixed offset, plain arithmetic, never computed by Mochi. */
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

#include "common/names.h"
#include "tests/harness/harness.h"

#define PARTITIONS 4
#define SECONDS_PER_DAY 86400LL

/* A collector, and consumers and rollups on one topic, against one
 * database. */
struct pipeline {
    struct mochi_test_db db;
    struct mochi_test_kafka kafka;
    char topic[64];
    struct mochi_test_proc collector;
    char url[64];
    int metrics_port; /* the collector's */
    struct mochi_test_proc consumers[2];
    struct mochi_test_proc rollups[2];
    struct mochi_test_proc loadgen; /* when it runs beside the test */
};

/* A database with sites keys[i] = domains[i] in zones[i], a topic, and a
 * collector that reloads its sites every second; no stream daemons yet. */
static void pipeline_start(struct pipeline *p, const char *const keys[],
                           const char *const domains[], const char *const zones[], int nsites,
                           int partitions)
{
    memset(p, 0, sizeof(*p));
    mochi_test_db_create_migrated(&p->db);
    PGconn *conn = mochi_test_db_connect(&p->db);
    for (int i = 0; i < nsites; i++) {
        char sql[512];
        snprintf(sql, sizeof(sql),
                 "INSERT INTO sites (name, domain, tracking_key, timezone)"
                 " VALUES ('%s', '%s', '%s', '%s')",
                 domains[i], domains[i], keys[i], zones[i]);
        mochi_test_db_exec(conn, sql);
    }
    PQfinish(conn);
    snprintf(p->topic, sizeof(p->topic), "%s", mochi_test_unique("zones"));
    const char *topics[] = {p->topic, NULL};
    mochi_test_kafka_start(&p->kafka, 3, partitions, topics);

    int port = mochi_test_free_port();
    char listen[32];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    snprintf(p->url, sizeof(p->url), "http://127.0.0.1:%d", port);
    char *const args[] = {(char *)mochi_test_bin("mochi-collector"),
                          "--brokers",
                          p->kafka.bootstrap,
                          "--topic",
                          p->topic,
                          "--listen",
                          listen,
                          "--trusted-proxies",
                          "127.0.0.1/32",
                          "--metrics-listen",
                          "127.0.0.1:0",
                          "--refresh-interval",
                          "1s",
                          NULL};
    mochi_test_proc_start_as(&p->collector, &p->db, "mochi_collector", args);
    assert_true(mochi_test_wait_port(port, 20000));
    p->metrics_port = mochi_test_metrics_port(&p->collector, 20000);
}

static void start_stream(struct pipeline *p, struct mochi_test_proc *proc, const char *program,
                         const char *role)
{
    char conninfo[600];
    mochi_test_db_conninfo_as(&p->db, role, conninfo, sizeof(conninfo));
    mochi_test_stream_start(proc, program, conninfo, p->kafka.bootstrap, p->topic, "400");
}

static void start_consumer(struct pipeline *p, int i)
{
    start_stream(p, &p->consumers[i], "mochi-consumer", "mochi_consumer");
}

static void start_rollup(struct pipeline *p, int i)
{
    start_stream(p, &p->rollups[i], "mochi-rollup", "mochi_rollup");
}

/* SIGTERM, and the exit code (0 expected: a clean drain). */
static int stop(struct mochi_test_proc *proc)
{
    return mochi_test_exit_code(mochi_test_proc_stop(proc, SIGTERM, 30000));
}

/* For teardown after a failure: kill -9 whatever still runs. */
static void pipeline_kill(struct pipeline *p)
{
    struct mochi_test_proc *procs[] = {&p->loadgen,      &p->collector,  &p->consumers[0],
                                       &p->consumers[1], &p->rollups[0], &p->rollups[1]};
    for (size_t i = 0; i < sizeof(procs) / sizeof(procs[0]); i++)
        mochi_test_proc_kill(procs[i]); /* nothing when it is not running */
}

static int teardown(void **state)
{
    struct pipeline *p = *state;
    if (p == NULL)
        return 0;
    pipeline_kill(p);
    if (p->kafka.bootstrap[0] != '\0')
        mochi_test_kafka_stop(&p->kafka);
    if (p->db.name[0] != '\0')
        mochi_test_db_drop(&p->db);
    free(p);
    *state = NULL;
    return 0;
}

static int setup(void **state)
{
    *state = calloc(1, sizeof(struct pipeline));
    return *state == NULL ? -1 : 0;
}

/* ---- days by plain arithmetic ---- */

/* The UTC date of now + offset_hours, as days since 1970-01-01: the local
 * date of a zone that is offset_hours from UTC all year (Kiritimati +14,
 * Etc/GMT+12 -12). */
static long long day_at_offset(int offset_hours)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ((long long)ts.tv_sec + offset_hours * 3600LL) / SECONDS_PER_DAY;
}

static void day_text(long long day, char out[11])
{
    time_t t = (time_t)(day * SECONDS_PER_DAY);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

/* A phase must not span a local midnight of its zone, or its events would
 * be on two days: when that midnight is less than need_s away, wait until
 * it has passed. */
static void keep_clear_of_midnight(int offset_hours, int need_s)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long left =
        SECONDS_PER_DAY - ((long long)ts.tv_sec + offset_hours * 3600LL) % SECONDS_PER_DAY;
    if (left < need_s) {
        print_message("UTC%+d midnight in %lld s: waiting until it has passed\n", offset_hours,
                      left);
        sleep((unsigned)left + 1);
    }
}

/* ---- loadgen and its oracle ---- */

/* Runs loadgen to the end against p's collector; fails unless it exits 0. */
static void run_loadgen(struct pipeline *p, const char *sites, const char *seed,
                        const char *duration, const char *expect)
{
    char *const args[] = {(char *)mochi_test_bin("mochi-loadgen"),
                          "--url",
                          p->url,
                          "--sites",
                          (char *)sites,
                          "--duration",
                          (char *)duration,
                          "--rate",
                          "300",
                          "--connections",
                          "4",
                          "--visitors",
                          "200",
                          "--pages",
                          "20",
                          "--seed",
                          (char *)seed,
                          "--expect",
                          (char *)expect,
                          NULL};
    char *out = NULL, *err = NULL;
    int status = mochi_test_run(args, NULL, 120000, &out, &err);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("loadgen failed (status %d): %s%s", status, out, err);
    print_message("%s", out);
    free(out);
    free(err);
}

/* The days site key has in the oracle file, sorted, comma-separated. */
static void oracle_days(const char *expect, const char *key, char *out, size_t size)
{
    json_error_t jerr;
    json_t *oracle = json_load_file(expect, 0, &jerr);
    if (oracle == NULL)
        fail_msg("%s: %s", expect, jerr.text);
    json_t *days = json_object_get(json_object_get(json_object_get(oracle, "sites"), key), "days");
    const char *day;
    json_t *d;
    char *list[16];
    size_t n = 0;
    json_object_foreach(days, day, d)
    {
        assert_true(n < 16);
        list[n++] = strdup(day);
    }
    for (size_t i = 1; i < n; i++) /* insertion sort: a handful of dates */
        for (size_t j = i; j > 0 && strcmp(list[j - 1], list[j]) > 0; j--) {
            char *t = list[j];
            list[j] = list[j - 1];
            list[j - 1] = t;
        }
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        snprintf(out + strlen(out), size - strlen(out), "%s%s", i ? "," : "", list[i]);
        free(list[i]);
    }
    json_decref(oracle);
}

/* Writes to out the oracle of both runs of loadgen, a then b, over the same
 * sites: each site's days of both (a day in both fails the test: the runs
 * are meant to fill disjoint days), and the counters summed, so that the
 * harness still checks that neither saw errors or ambiguous answers. */
static void merge_oracles(const char *a, const char *b, const char *out)
{
    json_error_t jerr;
    json_t *ja = json_load_file(a, 0, &jerr);
    if (ja == NULL)
        fail_msg("%s: %s", a, jerr.text);
    json_t *jb = json_load_file(b, 0, &jerr);
    if (jb == NULL)
        fail_msg("%s: %s", b, jerr.text);
    const char *key;
    json_t *site_b;
    json_object_foreach(json_object_get(jb, "sites"), key, site_b)
    {
        json_t *site_a = json_object_get(json_object_get(ja, "sites"), key);
        if (site_a == NULL) {
            json_object_set(json_object_get(ja, "sites"), key, site_b);
            continue;
        }
        json_t *days_a = json_object_get(site_a, "days");
        const char *day;
        json_t *d;
        json_object_foreach(json_object_get(site_b, "days"), day, d)
        {
            if (json_object_get(days_a, day) != NULL)
                fail_msg("site %s has day %s in both runs of loadgen", key, day);
            json_object_set(days_a, day, d);
        }
    }
    static const char *const counters[] = {"sent",   "accepted",  "published", "bots",
                                           "errors", "ambiguous", "unordered"};
    for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
        json_object_set_new(ja, counters[i],
                            json_integer(json_integer_value(json_object_get(ja, counters[i])) +
                                         json_integer_value(json_object_get(jb, counters[i]))));
    if (json_dump_file(ja, out, JSON_INDENT(1)) != 0)
        fail_msg("cannot write %s", out);
    json_decref(ja);
    json_decref(jb);
}

/* ---- the collector's site cache ---- */

/* mochi_collector_site_cache_age_seconds in ms: how long ago the collector
 * last loaded its sites (and their zones) from PostgreSQL; -1 before the
 * first load. */
static long long site_cache_age_ms(int metrics_port)
{
    static const char name[] = "\nmochi_collector_site_cache_age_seconds ";
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", metrics_port);
    struct mochi_test_response response;
    mochi_test_http("GET", url, NULL, NULL, &response);
    assert_int_equal(response.status, 200);
    const char *line = strstr(response.body, name);
    if (line == NULL)
        fail_msg("no mochi_collector_site_cache_age_seconds in /metrics:\n%s", response.body);
    double age = strtod(line + strlen(name), NULL);
    mochi_test_response_free(&response);
    return age < 0 ? -1 : (long long)(age * 1000 + 0.5);
}

/* Waits until the collector has loaded its sites with a query that began
 * after since_ms (mochi_test_now_ms). The metric says when the last load
 * ended; the collector's one refresher thread loads one time after
 * another, so a load that ended after one that ended after since_ms began
 * after since_ms: two loads are waited for. */
static void wait_sites_reloaded(const struct pipeline *p, int64_t since_ms, int timeout_ms)
{
    int64_t deadline = mochi_test_now_ms() + timeout_ms;
    int64_t after = since_ms;
    for (int loads = 0; loads < 2;) {
        int64_t asked = mochi_test_now_ms();
        long long age = site_cache_age_ms(p->metrics_port);
        /* the load ended at (time of the answer) - age >= asked - age */
        if (age >= 0 && asked - age > after) {
            after = mochi_test_now_ms(); /* that load ended before this */
            loads++;
            continue;
        }
        if (mochi_test_now_ms() > deadline)
            fail_msg("the collector did not reload its sites in %d ms (cache age %lld ms)",
                     timeout_ms, age);
        usleep(100000);
    }
}

/* ---- the aggregates as text ---- */

static const char *const aggregate_tables[] = {"daily_site_metrics", "daily_page_metrics",
                                               "daily_source_metrics", "daily_entry_page_metrics"};

/* Every row of the four aggregate tables, every column, sorted: a
 * malloc'd text. */
static char *aggregates_text(PGconn *conn)
{
    char *text = strdup("");
    assert_non_null(text);
    for (size_t t = 0; t < 4; t++) {
        char sql[256];
        snprintf(sql, sizeof(sql),
                 "SELECT coalesce(string_agg(r::text, E'\\n' ORDER BY r::text COLLATE \"C\"), '')"
                 " FROM %s r",
                 aggregate_tables[t]);
        PGresult *res = PQexec(conn, sql);
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
            fail_msg("%s: %s", sql, PQerrorMessage(conn));
        char *next = NULL;
        assert_true(asprintf(&next, "%s-- %s\n%s\n", text, aggregate_tables[t],
                             PQgetvalue(res, 0, 0)) >= 0);
        free(text);
        text = next;
        PQclear(res);
    }
    return text;
}

/* The length of the line at text (without its newline). */
static size_t line_length(const char *text)
{
    const char *end = strchr(text, '\n');
    return end ? (size_t)(end - text) : strlen(text);
}

/* True when text has the line line[0..len) (without its newline). */
static bool has_line(const char *text, const char *line, size_t len)
{
    for (const char *p = text; *p != '\0';) {
        size_t n = line_length(p);
        if (n == len && memcmp(p, line, len) == 0)
            return true;
        p += n + (p[n] == '\n');
    }
    return false;
}

/* Prints the lines of text that other lacks. */
static void print_lines_missing(const char *title, const char *text, const char *other)
{
    print_message("%s:\n", title);
    for (const char *line = text; *line != '\0';) {
        size_t len = line_length(line);
        if (!has_line(other, line, len))
            print_message("  %.*s\n", (int)len, line);
        line += len + (line[len] == '\n');
    }
}

/* The distinct dates of table, sorted, comma-separated, into out. */
static void table_dates(PGconn *conn, const char *table, char *out, size_t size)
{
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT coalesce(string_agg(DISTINCT date::text, ',' ORDER BY date::text), '')"
             " FROM %s",
             table);
    assert_true(mochi_test_db_text(conn, sql, out, size));
}

/* Runs sql, which must change exactly one row (a WITH ... RETURNING 1
 * counted). */
static void change_one_row(PGconn *conn, const char *sql)
{
    char counted[1024];
    snprintf(counted, sizeof(counted), "WITH c AS (%s RETURNING 1) SELECT count(*) FROM c", sql);
    assert_int_equal(mochi_test_db_int(conn, counted), 1);
}

/* ---- 1. a zone change mid-day, and a replay of those days ---- */

#define ZC_KEY "zoneChangeSiteKey_0001"
#define ZC_DOMAIN "zonechange.example"

static void zone_change_mid_day_keeps_earlier_days_and_replay_reproduces(void **state)
{
    struct pipeline *p = *state;
    const char *const keys[] = {ZC_KEY}, *const domains[] = {ZC_DOMAIN},
                      *const zones[] = {"Pacific/Kiritimati"};
    pipeline_start(p, keys, domains, zones, 1, PARTITIONS);
    start_consumer(p, 0);
    start_rollup(p, 0);
    char expect_a[300], expect_b[300], expect[300];
    snprintf(expect_a, sizeof(expect_a), "%s/zc-kiritimati.json", mochi_test_tmpdir());
    snprintf(expect_b, sizeof(expect_b), "%s/zc-gmt12.json", mochi_test_tmpdir());
    snprintf(expect, sizeof(expect), "%s/zc-both.json", mochi_test_tmpdir());

    /* Phase 1: the site in UTC+14. */
    keep_clear_of_midnight(14, 30);
    long long day1 = day_at_offset(14);
    run_loadgen(p, ZC_KEY "=" ZC_DOMAIN "@Pacific/Kiritimati", "11", "4s", expect_a);
    if (day_at_offset(14) != day1)
        fail_msg("phase 1 ran across UTC+14 midnight: its events are on two days");

    /* The change, and the collector's reload of it. */
    const char *const update[] = {"sites",      "update",     "--site", ZC_KEY,
                                  "--timezone", "Etc/GMT+12", NULL};
    char *out = NULL, *err = NULL;
    if (mochi_test_mochictl(p->db.conninfo, NULL, NULL, update, 30000, &out, &err) != 0)
        fail_msg("mochictl sites update failed: %s%s", out, err);
    free(out);
    free(err);
    wait_sites_reloaded(p, mochi_test_now_ms(), 30000);
    /* and it says so */
    char *log = mochi_test_read_file(p->collector.log);
    assert_non_null(log);
    if (strstr(log, "msg=\"site time zone changed\"") == NULL ||
        strstr(log, "from=Pacific/Kiritimati to=Etc/GMT+12") == NULL)
        fail_msg("the collector's log does not tell the zone change:\n%s", log);
    free(log);

    /* Phase 2: the site in UTC-12, another seed. */
    keep_clear_of_midnight(-12, 30);
    long long day2 = day_at_offset(-12);
    run_loadgen(p, ZC_KEY "=" ZC_DOMAIN "@Etc/GMT+12", "12", "4s", expect_b);
    if (day_at_offset(-12) != day2)
        fail_msg("phase 2 ran across UTC-12 midnight: its events are on two days");

    /* UTC+14 and UTC-12 dates a few seconds apart differ (26 h apart). */
    assert_true(day1 > day2);
    char d1[11], d2[11], days[32], got[128];
    day_text(day1, d1);
    day_text(day2, d2);
    snprintf(days, sizeof(days), "%s,%s", d2, d1);
    print_message("phase 1 (UTC+14) on %s, phase 2 (UTC-12) on %s\n", d1, d2);
    oracle_days(expect_a, ZC_KEY, got, sizeof(got));
    assert_string_equal(got, d1);
    oracle_days(expect_b, ZC_KEY, got, sizeof(got));
    assert_string_equal(got, d2);

    merge_oracles(expect_a, expect_b, expect);
    PGconn *conn = mochi_test_db_connect(&p->db);
    long long published =
        mochi_test_expect_oracle_tables(conn, expect, 120000, MOCHI_TEST_ORACLE_ALL);
    assert_true(published > 500);
    /* and by hand: the phases' days, in every table */
    for (size_t t = 0; t < 4; t++) {
        table_dates(conn, aggregate_tables[t], got, sizeof(got));
        if (strcmp(got, days) != 0)
            fail_msg("%s holds the days %s, not %s", aggregate_tables[t], got, days);
    }

    /* Replay both days (and any between) over corrupted aggregates. */
    char *snapshot = aggregates_text(conn);
    assert_int_equal(stop(&p->rollups[0]), 0);
    char sql[512];
    snprintf(sql, sizeof(sql),
             "UPDATE daily_site_metrics SET unique_visitors = unique_visitors + 100"
             " WHERE date = '%s'",
             d1);
    change_one_row(conn, sql);
    snprintf(sql, sizeof(sql),
             "UPDATE daily_page_metrics SET page_views = 0 WHERE (site_id, date, path) ="
             " (SELECT site_id, date, path FROM daily_page_metrics WHERE date = '%s'"
             " ORDER BY page_views DESC, path LIMIT 1)",
             d2);
    change_one_row(conn, sql);
    snprintf(
        sql, sizeof(sql),
        "UPDATE daily_source_metrics SET visitors = visitors + 7 WHERE (site_id, date, source) ="
        " (SELECT site_id, date, source FROM daily_source_metrics WHERE date = '%s'"
        " ORDER BY visitors DESC, source LIMIT 1)",
        d1);
    change_one_row(conn, sql);
    snprintf(sql, sizeof(sql),
             "DELETE FROM daily_entry_page_metrics WHERE (site_id, date, path) ="
             " (SELECT site_id, date, path FROM daily_entry_page_metrics WHERE date = '%s'"
             " ORDER BY entries DESC, path LIMIT 1)",
             d2);
    change_one_row(conn, sql);
    char *corrupted = aggregates_text(conn);
    assert_string_not_equal(corrupted, snapshot);
    free(corrupted);

    const char *const replay[] = {"replay", "--from", d2, "--to", d1, NULL};
    if (mochi_test_mochictl(p->db.conninfo, p->kafka.bootstrap, p->topic, replay, 60000, &out,
                            &err) != 0)
        fail_msg("mochictl replay failed: %s%s", out, err);
    print_message("%s", out);
    free(out);
    free(err);
    start_rollup(p, 0);
    assert_true(mochi_test_kafka_wait_committed(p->kafka.bootstrap, MOCHI_GROUP_ROLLUP, p->topic,
                                                PARTITIONS, 120000));
    /* Committed offsets follow the transactions, so the tables are final;
     * a few seconds' grace all the same. */
    char *replayed = NULL;
    int64_t deadline = mochi_test_now_ms() + 10000;
    for (;;) {
        free(replayed);
        replayed = aggregates_text(conn);
        if (strcmp(replayed, snapshot) == 0 || mochi_test_now_ms() > deadline)
            break;
        usleep(250000);
    }
    if (strcmp(replayed, snapshot) != 0) {
        print_lines_missing("before the replay, not after", snapshot, replayed);
        print_lines_missing("after the replay, not before", replayed, snapshot);
        fail_msg("the replay did not reproduce the aggregates");
    }
    /* and the monthly lists (sql/010), rebuilt by the replay for its
     * months, are their daily rows' sums again */
    assert_true(mochi_test_expect_monthly_sums(conn) > 0);
    free(replayed);
    free(snapshot);
    PQfinish(conn);

    assert_int_equal(stop(&p->collector), 0);
    assert_int_equal(stop(&p->consumers[0]), 0);
    assert_int_equal(stop(&p->rollups[0]), 0);
}

/* ---- 2. kill -9 under traffic to sites in five zones ---- */

/* The value of the metric line that starts with name (a whole name, or a
 * name and "{" for the sum over its labels) in a /metrics text. */
static double metric_sum(const char *text, const char *name)
{
    double sum = 0;
    size_t len = strlen(name);
    for (const char *line = text; line != NULL && *line != '\0';) {
        if (strncmp(line, name, len) == 0 && (name[len - 1] == '{' || line[len] == ' ')) {
            const char *value = strchr(line + len, ' ');
            if (value != NULL)
                sum += strtod(value + 1, NULL);
        }
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    return sum;
}

/* True when the stream daemon (component "consumer" or "rollup") serving
 * metrics on port holds partitions and has applied events. */
static bool at_work(int port, const char *component)
{
    char url[64], assigned[80], revoked[80], events[80];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", port);
    snprintf(assigned, sizeof(assigned), "mochi_%s_partitions_assigned_total", component);
    snprintf(revoked, sizeof(revoked), "mochi_%s_partitions_revoked_total", component);
    snprintf(events, sizeof(events), "mochi_%s_events_total{", component);
    struct mochi_test_response response;
    mochi_test_http("GET", url, NULL, NULL, &response);
    assert_int_equal(response.status, 200);
    bool working = metric_sum(response.body, assigned) > metric_sum(response.body, revoked) &&
                   metric_sum(response.body, events) > 0;
    mochi_test_response_free(&response);
    return working;
}

/* kill -9s of a daemon at work that the test aims for, and the fewest it
 * accepts: each kill stalls part of a group for a session or more, so how
 * many fit depends on the broker and the machine's speed. */
#define KILLS 6
#define KILLS_MIN 4

static void kill_9_under_mixed_zone_traffic(void **state)
{
    struct pipeline *p = *state;
    const char *const keys[] = {"mixZoneKeyUtc_000001", "mixZoneKeyKolkata_02",
                                "mixZoneKeyKiritimati3", "mixZoneKeyGmtPlus12_4",
                                "mixZoneKeyBerlin_0005"};
    const char *const domains[] = {"utc.example", "kolkata.example", "kiritimati.example",
                                   "gmt12.example", "berlin.example"};
    const char *const zones[] = {"UTC", "Asia/Kolkata", "Pacific/Kiritimati", "Etc/GMT+12",
                                 "Europe/Berlin"};
    pipeline_start(p, keys, domains, zones, 5, 6);
    for (int i = 0; i < 2; i++) {
        start_consumer(p, i);
        start_rollup(p, i);
    }

    char sites[512] = "", expect[300];
    for (int i = 0; i < 5; i++)
        snprintf(sites + strlen(sites), sizeof(sites) - strlen(sites), "%s%s=%s@%s", i ? "," : "",
                 keys[i], domains[i], zones[i]);
    snprintf(expect, sizeof(expect), "%s/mixed.json", mochi_test_tmpdir());
    char *const args[] = {(char *)mochi_test_bin("mochi-loadgen"),
                          "--url",
                          p->url,
                          "--sites",
                          sites,
                          "--duration",
                          "15s",
                          "--rate",
                          "300",
                          "--connections",
                          "6",
                          "--visitors",
                          "300",
                          "--pages",
                          "25",
                          "--seed",
                          "21",
                          "--expect",
                          expect,
                          NULL};
    mochi_test_proc_start(&p->loadgen, args, NULL, false);

    /* Every 1-2 s, kill -9 a consumer or a rollup that is at work and
     * start it again. With a 6 s session a killed member holds up its
     * group's rebalance until the session ends, and members started since
     * get nothing meanwhile: a victim drawn blindly is mostly one that
     * never held a partition, and its death tests nothing. */
    unsigned seed = (unsigned)time(NULL);
    print_message("kill schedule seed %u\n", seed);
    srand(seed);
    struct mochi_test_proc *daemons[4] = {&p->consumers[0], &p->consumers[1], &p->rollups[0],
                                          &p->rollups[1]};
    int ports[4] = {0}; /* their metrics ports, 0 until read */
    int status = 0, kills = 0;
    int64_t started = mochi_test_now_ms(), kill_until = started + 45000;
    /* on after the traffic, while the daemons work through the backlog,
     * until KILLS kills or 45 s */
    while (mochi_test_proc_alive(&p->loadgen, &status) ||
           (kills < KILLS && mochi_test_now_ms() < kill_until)) {
        usleep(1000000 + (unsigned)(rand() % 1000) * 1000);
        int working[4], nworking = 0;
        for (int i = 0; i < 4; i++) {
            int died = 0;
            if (!mochi_test_proc_alive(daemons[i], &died))
                fail_msg("%s exited by itself (status %d): see %s", daemons[i]->name, died,
                         daemons[i]->log);
            if (ports[i] == 0)
                ports[i] = mochi_test_metrics_port(daemons[i], 20000);
            if (at_work(ports[i], i < 2 ? "consumer" : "rollup"))
                working[nworking++] = i;
        }
        if (nworking == 0)
            continue;
        int victim = working[rand() % nworking];
        print_message("kill -9 %s (%d of %d at work) at %.1f s\n", daemons[victim]->name, nworking,
                      4, (double)(mochi_test_now_ms() - started) / 1000);
        mochi_test_proc_kill(daemons[victim]);
        if (victim < 2)
            start_consumer(p, victim);
        else
            start_rollup(p, victim - 2);
        /* Up (its signal handlers in place) before anything else: the last
         * one restarted is stopped right after the checks, and a SIGTERM
         * that beats the new process to main() kills it outright. */
        ports[victim] = mochi_test_metrics_port(daemons[victim], 20000);
        kills++;
    }
    char *log = mochi_test_read_file(p->loadgen.log);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("loadgen failed (status %d): %s", status, log);
    print_message("%s%d kills\n", log, kills);
    free(log);
    if (kills < KILLS_MIN)
        fail_msg("only %d kill -9 of a daemon at work in 45 s", kills);

    PGconn *conn = mochi_test_db_connect(&p->db);
    long long published =
        mochi_test_expect_oracle_tables(conn, expect, 240000, MOCHI_TEST_ORACLE_ALL);
    assert_true(published > 2000);
    /* Monthly lists (sql/010): the sums of the daily rows, sources and
     * their credit moves included, after every kill -9. */
    long long monthly = mochi_test_expect_monthly_sums(conn);
    assert_true(monthly > 0);
    print_message("%lld monthly rows equal the daily rows' sums\n", monthly);
    PQfinish(conn);

    assert_int_equal(stop(&p->collector), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(stop(&p->consumers[i]), 0);
        assert_int_equal(stop(&p->rollups[i]), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            zone_change_mid_day_keeps_earlier_days_and_replay_reproduces, setup, teardown),
        cmocka_unit_test_setup_teardown(kill_9_under_mixed_zone_traffic, setup, teardown),
    };
    if (getenv("MOCHI_TEST_FILTER") != NULL)
        cmocka_set_test_filter(getenv("MOCHI_TEST_FILTER"));
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    mochi_test_cleanup();
    return failed;
}
