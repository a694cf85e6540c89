/* Expectations computed here, never by the code under test: the visitor
 * hash, and the comparison of the pipeline's tables with mochi-loadgen's
 * own expectation (its --expect file), which loadgen computed from what it
 * sent and what the collector answered, never from the tables. Both sides
 * are written as text rows "key|date|...|count", sorted bytewise, and
 * compared as one string per table. */
#include "tests/harness/harness.h"

#include <jansson.h>
#include <sodium.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

void mochi_test_visitor_hash(PGconn *conn, const char *site_id, const char *ip, const char *ua,
                             char out[33])
{
    PGresult *res = PQexecParams(conn,
                                 "SELECT salt FROM salts WHERE day = "
                                 "(now() AT TIME ZONE 'UTC')::date",
                                 0, NULL, NULL, NULL, NULL, 1);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
        PQgetlength(res, 0, 0) != 32)
        fail_msg("no salt of 32 bytes for today: %s", PQerrorMessage(conn));
    unsigned char site[16];
    if (sodium_hex2bin(site, sizeof(site), site_id, strlen(site_id), "-", NULL, NULL) != 0)
        fail_msg("not a UUID: %s", site_id);
    /* BLAKE2b-128 keyed with the day's salt over site id || ip || 0 || UA */
    crypto_generichash_state st;
    unsigned char d[16];
    crypto_generichash_init(&st, (const unsigned char *)PQgetvalue(res, 0, 0), 32, sizeof(d));
    crypto_generichash_update(&st, site, sizeof(site));
    crypto_generichash_update(&st, (const unsigned char *)ip, strlen(ip));
    crypto_generichash_update(&st, (const unsigned char *)"", 1);
    crypto_generichash_update(&st, (const unsigned char *)ua, strlen(ua));
    crypto_generichash_final(&st, d, sizeof(d));
    sodium_bin2hex(out, 33, d, sizeof(d));
    PQclear(res);
}

/* Text rows of one table, growing. */
struct rows {
    char **v;
    size_t n, cap;
};

/* One aggregate table: its rows from the oracle's day objects, and the
 * query that renders the table's rows alike. */
struct table {
    const char *name;
    unsigned flag; /* 0: always compared */
    const char *sql;
    void (*expect)(struct rows *rows, const char *key, const char *day, json_t *d);
    struct rows want, got;
};

static void rows_add(struct rows *rows, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rows_free(struct rows *rows);
static int line_cmp(const void *a, const void *b);
static char *rows_join(struct rows *rows);
static void expect_site(struct rows *rows, const char *key, const char *day, json_t *d);
static void expect_pages(struct rows *rows, const char *key, const char *day, json_t *d);
static void expect_sources(struct rows *rows, const char *key, const char *day, json_t *d);
static void expect_entry_pages(struct rows *rows, const char *key, const char *day, json_t *d);
static void query_rows(PGconn *conn, const char *sql, struct rows *rows);
static bool table_exists(PGconn *conn, const char *name);
static void diagnose(PGconn *conn);

static void rows_add(struct rows *rows, const char *fmt, ...)
{
    va_list ap;
    char *line = NULL;
    va_start(ap, fmt);
    int rc = vasprintf(&line, fmt, ap);
    va_end(ap);
    assert_true(rc >= 0);
    if (rows->n == rows->cap) {
        rows->cap = rows->cap ? 2 * rows->cap : 256;
        rows->v = realloc(rows->v, rows->cap * sizeof(*rows->v));
        assert_non_null(rows->v);
    }
    rows->v[rows->n++] = line;
}

static void rows_free(struct rows *rows)
{
    for (size_t i = 0; i < rows->n; i++)
        free(rows->v[i]);
    free(rows->v);
    memset(rows, 0, sizeof(*rows));
}

static int line_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The rows sorted bytewise, one a line; the caller frees the text. */
static char *rows_join(struct rows *rows)
{
    size_t len = 1;
    if (rows->n > 0) /* qsort wants a non-NULL base even for no rows */
        qsort(rows->v, rows->n, sizeof(*rows->v), line_cmp);
    for (size_t i = 0; i < rows->n; i++)
        len += strlen(rows->v[i]) + 1;
    char *text = malloc(len), *p = text;
    assert_non_null(text);
    for (size_t i = 0; i < rows->n; i++)
        p += sprintf(p, "%s\n", rows->v[i]);
    *p = '\0';
    return text;
}

static void expect_site(struct rows *rows, const char *key, const char *day, json_t *d)
{
    rows_add(rows, "%s|%s|%lld|%lld", key, day,
             (long long)json_integer_value(json_object_get(d, "page_views")),
             (long long)json_integer_value(json_object_get(d, "unique_visitors")));
}

static void expect_pages(struct rows *rows, const char *key, const char *day, json_t *d)
{
    const char *path;
    json_t *n;
    json_object_foreach(json_object_get(d, "paths"), path, n)
        rows_add(rows, "%s|%s|%s|%lld", key, day, path, (long long)json_integer_value(n));
}

static void expect_sources(struct rows *rows, const char *key, const char *day, json_t *d)
{
    const char *source;
    json_t *s;
    json_object_foreach(json_object_get(d, "sources"), source, s)
        rows_add(rows, "%s|%s|%s|%lld|%lld", key, day, source,
                 (long long)json_integer_value(json_object_get(s, "entries")),
                 (long long)json_integer_value(json_object_get(s, "visitors")));
}

static void expect_entry_pages(struct rows *rows, const char *key, const char *day, json_t *d)
{
    const char *path;
    json_t *n;
    json_object_foreach(json_object_get(d, "entry_paths"), path, n)
        rows_add(rows, "%s|%s|%s|%lld", key, day, path, (long long)json_integer_value(n));
}

static void query_rows(PGconn *conn, const char *sql, struct rows *rows)
{
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(conn));
    for (int i = 0; i < PQntuples(res); i++)
        rows_add(rows, "%s", PQgetvalue(res, i, 0));
    PQclear(res);
}

/* After a difference: which stage holds what, per site and UTC minute,
 * where the consumer's stored events (page_view_events), its dedupe marks
 * and the rollup's marks (rollup_counted) disagree; and the rollup's
 * progress. A lost event shows as the minute where one count is short. */
static void diagnose(PGconn *conn)
{
    static const char *const queries[] = {
        "SELECT 'site|minute|raw|consumer marks|rollup marks'"
        " UNION ALL (SELECT s.tracking_key || '|' || to_char(k.minute AT TIME ZONE 'UTC',"
        " 'YYYY-MM-DD HH24:MI') || '|' || k.raw || '|' || k.dedupe || '|' || k.counted"
        " FROM (SELECT site_id, minute, sum(raw) AS raw, sum(dedupe) AS dedupe,"
        "  sum(counted) AS counted FROM ("
        "   SELECT site_id, date_trunc('minute', occurred_at) AS minute, 1 AS raw, 0 AS dedupe,"
        "    0 AS counted FROM page_view_events"
        "   UNION ALL SELECT site_id, occurred_minute, 0, 1, 0 FROM ingestion_dedupe"
        "   UNION ALL SELECT site_id, occurred_minute, 0, 0, 1 FROM rollup_counted) x"
        "  GROUP BY 1, 2 HAVING sum(raw) <> sum(counted) OR sum(dedupe) <> sum(counted)) k"
        " JOIN sites s ON s.id = k.site_id ORDER BY 1)",
        "SELECT 'partition|next offset|applied until'"
        " UNION ALL (SELECT partition || '|' || next_offset || '|' || applied_until"
        " FROM rollup_progress ORDER BY partition)",
    };
    for (size_t q = 0; q < sizeof(queries) / sizeof(queries[0]); q++) {
        PGresult *res = PQexec(conn, queries[q]);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            print_message("(diagnosis: %s)", PQerrorMessage(conn));
        } else {
            for (int i = 0; i < PQntuples(res); i++)
                print_message("%s\n", PQgetvalue(res, i, 0));
        }
        PQclear(res);
    }
}

static bool table_exists(PGconn *conn, const char *name)
{
    const char *params[1] = {name};
    PGresult *res =
        PQexecParams(conn, "SELECT to_regclass($1) IS NOT NULL", 1, NULL, params, NULL, NULL, 0);
    bool exists = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
                  strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    return exists;
}

long long mochi_test_expect_oracle(PGconn *conn, const char *expect, int timeout_ms)
{
    return mochi_test_expect_oracle_tables(conn, expect, timeout_ms, 0);
}

long long mochi_test_expect_oracle_tables(PGconn *conn, const char *expect, int timeout_ms,
                                          unsigned tables)
{
    /* A source's rows with nothing in them (were the rollup to keep one)
     * hold no information, and are left out. */
    struct table all[] = {
        {.name = "daily_site_metrics",
         .sql = "SELECT s.tracking_key || '|' || m.date || '|' || m.page_views || '|' ||"
                " m.unique_visitors FROM daily_site_metrics m JOIN sites s ON s.id = m.site_id",
         .expect = expect_site},
        {.name = "daily_page_metrics",
         .sql = "SELECT s.tracking_key || '|' || m.date || '|' || m.path || '|' || m.page_views"
                " FROM daily_page_metrics m JOIN sites s ON s.id = m.site_id",
         .expect = expect_pages},
        {.name = "daily_source_metrics",
         .flag = MOCHI_TEST_ORACLE_SOURCES,
         .sql = "SELECT s.tracking_key || '|' || m.date || '|' || COALESCE(m.source, '') || '|' ||"
                " m.entries || '|' || m.visitors FROM daily_source_metrics m"
                " JOIN sites s ON s.id = m.site_id WHERE m.entries <> 0 OR m.visitors <> 0",
         .expect = expect_sources},
        {.name = "daily_entry_page_metrics",
         .flag = MOCHI_TEST_ORACLE_ENTRY_PAGES,
         .sql = "SELECT s.tracking_key || '|' || m.date || '|' || m.path || '|' || m.entries"
                " FROM daily_entry_page_metrics m JOIN sites s ON s.id = m.site_id"
                " WHERE m.entries <> 0",
         .expect = expect_entry_pages},
    };
    size_t ntables = sizeof(all) / sizeof(all[0]);
    json_error_t jerr;
    json_t *oracle = json_load_file(expect, 0, &jerr);
    if (oracle == NULL)
        fail_msg("%s: %s", expect, jerr.text);
    assert_int_equal(json_integer_value(json_object_get(oracle, "ambiguous")), 0);
    assert_int_equal(json_integer_value(json_object_get(oracle, "errors")), 0);
    assert_int_equal(json_integer_value(json_object_get(oracle, "unordered")), 0);
    long long published = json_integer_value(json_object_get(oracle, "published"));
    for (size_t t = 0; t < ntables; t++)
        if ((all[t].flag & tables) != 0 && !table_exists(conn, all[t].name))
            fail_msg("table %s was asked for and does not exist", all[t].name);

    const char *key;
    json_t *site;
    json_object_foreach(json_object_get(oracle, "sites"), key, site)
    {
        const char *day;
        json_t *d;
        json_object_foreach(json_object_get(site, "days"), day, d)
        {
            for (size_t t = 0; t < ntables; t++)
                if (all[t].flag == 0 || (all[t].flag & tables) != 0)
                    all[t].expect(&all[t].want, key, day, d);
        }
    }
    json_decref(oracle);

    int64_t deadline = mochi_test_now_ms() + timeout_ms;
    char *want[4] = {NULL}, *got[4] = {NULL};
    size_t differ = 0;
    for (size_t t = 0; t < ntables; t++)
        want[t] = rows_join(&all[t].want);
    for (;;) {
        differ = ntables;
        for (size_t t = 0; t < ntables; t++) {
            if (all[t].flag != 0 && (all[t].flag & tables) == 0)
                continue;
            free(got[t]);
            rows_free(&all[t].got);
            query_rows(conn, all[t].sql, &all[t].got);
            got[t] = rows_join(&all[t].got);
            if (strcmp(got[t], want[t]) != 0 && differ == ntables)
                differ = t;
        }
        if (differ == ntables || mochi_test_now_ms() > deadline)
            break;
        usleep(250000);
    }
    if (differ < ntables) {
        diagnose(conn);
        fail_msg("%s:\n%s\nloadgen expected:\n%s", all[differ].name, got[differ], want[differ]);
    }
    print_message("aggregates equal loadgen's expectation:\n%s", got[0]);
    for (size_t t = 0; t < ntables; t++) {
        rows_free(&all[t].want);
        rows_free(&all[t].got);
        free(want[t]);
        free(got[t]);
    }
    /* and the raw events, which the consumer stores at its own pace, agree
     * with the aggregates */
    long long want_rows = mochi_test_db_int(conn, "SELECT sum(page_views) FROM daily_site_metrics");
    deadline = mochi_test_now_ms() + timeout_ms;
    while (mochi_test_db_int(conn, "SELECT count(*) FROM page_view_events") < want_rows &&
           mochi_test_now_ms() < deadline)
        usleep(250000);
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(*) FROM page_view_events"), want_rows);
    return published;
}
