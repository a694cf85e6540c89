/* The harness's comparison of the tables with loadgen's oracle
 * (mochi_test_expect_oracle_tables), on tables written by hand in an empty
 * database, with the columns DESIGN.md names: so that the comparison of
 * daily_source_metrics and daily_entry_page_metrics is known to work
 * before the rollup fills them. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/harness/harness.h"

/* Two sites; Kolkata's day 2026-11-27 as its rollup would date it. */
static const char *const oracle_json =
    "{\"sites\": {"
    " \"kolkataKey\": {\"domain\": \"example.com\", \"timezone\": \"Asia/Kolkata\", \"days\": {"
    "  \"2026-11-27\": {\"page_views\": 3, \"unique_visitors\": 2, \"entries\": 2,"
    "   \"paths\": {\"/\": 2, \"/caf%C3%A9\": 1},"
    "   \"entry_paths\": {\"/\": 1, \"/caf%C3%A9\": 1},"
    "   \"sources\": {\"\": {\"entries\": 1, \"visitors\": 1},"
    "                 \"newsletter\": {\"entries\": 1, \"visitors\": 1}}}}},"
    " \"utcKey\": {\"domain\": \"shop.example.org\", \"timezone\": \"UTC\", \"days\": {"
    "  \"2026-11-26\": {\"page_views\": 2, \"unique_visitors\": 1, \"entries\": 0,"
    "   \"paths\": {\"/a\": 2}, \"entry_paths\": {},"
    "   \"sources\": {\"\": {\"entries\": 0, \"visitors\": 1}}}}},"
    " \"idleKey\": {\"domain\": \"idle.example\", \"timezone\": \"UTC\", \"days\": {}}},"
    " \"sent\": 9, \"accepted\": 7, \"published\": 6, \"bots\": 0, \"bots_accepted\": 0,"
    " \"doubles\": 1, \"errors\": 0, \"ambiguous\": 0, \"unordered\": 0, \"rejected\": {}}";

static const char *const seed_tables =
    "CREATE TABLE sites (id text PRIMARY KEY, tracking_key text NOT NULL);"
    "CREATE TABLE daily_site_metrics (site_id text, date date, page_views bigint,"
    " unique_visitors bigint);"
    "CREATE TABLE daily_page_metrics (site_id text, date date, path text, page_views bigint);"
    "CREATE TABLE page_view_events (n int);"
    "INSERT INTO sites VALUES ('s1', 'kolkataKey'), ('s2', 'utcKey'), ('s3', 'idleKey');"
    "INSERT INTO daily_site_metrics VALUES ('s1', '2026-11-27', 3, 2), ('s2', '2026-11-26', 2, 1);"
    "INSERT INTO daily_page_metrics VALUES ('s1', '2026-11-27', '/', 2),"
    " ('s1', '2026-11-27', '/caf%C3%A9', 1), ('s2', '2026-11-26', '/a', 2);"
    "INSERT INTO page_view_events SELECT generate_series(1, 5);";

/* Direct / none as '' on one site and NULL on the other; a row counting
 * nothing, which the comparison ignores. */
static const char *const new_tables =
    "CREATE TABLE daily_source_metrics (site_id text, date date, source text, entries bigint,"
    " visitors bigint);"
    "CREATE TABLE daily_entry_page_metrics (site_id text, date date, path text, entries bigint);"
    "INSERT INTO daily_source_metrics VALUES ('s1', '2026-11-27', '', 1, 1),"
    " ('s1', '2026-11-27', 'newsletter', 1, 1), ('s2', '2026-11-26', NULL, 0, 1),"
    " ('s2', '2026-11-26', 'google.com', 0, 0);"
    "INSERT INTO daily_entry_page_metrics VALUES ('s1', '2026-11-27', '/', 1),"
    " ('s1', '2026-11-27', '/caf%C3%A9', 1), ('s2', '2026-11-26', '/a', 0);";

static void compares_all_tables(void **state)
{
    (void)state;
    struct mochi_test_db db;
    mochi_test_db_create(&db);
    PGconn *conn = mochi_test_db_connect(&db);
    char path[300];
    snprintf(path, sizeof(path), "%s/oracle.json", mochi_test_tmpdir());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(oracle_json, f);
    fclose(f);

    mochi_test_db_exec(conn, seed_tables);
    /* The seed's two tables alone, the new ones not there yet. */
    assert_int_equal(mochi_test_expect_oracle(conn, path, 1000), 6);
    mochi_test_db_exec(conn, new_tables);
    assert_int_equal(mochi_test_expect_oracle_tables(conn, path, 1000, MOCHI_TEST_ORACLE_ALL), 6);
    assert_int_equal(
        mochi_test_expect_oracle_tables(conn, path, 1000, MOCHI_TEST_ORACLE_ENTRY_PAGES), 6);
    PQfinish(conn);
    mochi_test_db_drop(&db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(compares_all_tables),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    mochi_test_cleanup();
    return failed;
}
