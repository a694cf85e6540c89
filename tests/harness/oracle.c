/* Expectations computed here, never by the code under test: the visitor
 * hash, and the comparison of the pipeline's tables with mochi-loadgen's
 * own expectation (its --expect file), which loadgen computed from what it
 * sent and what the collector answered, never from the tables. */
#include "tests/harness/harness.h"

#include <jansson.h>
#include <sodium.h>
#include <setjmp.h>
#include <stdarg.h>
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

long long mochi_test_expect_oracle(PGconn *conn, const char *expect, int timeout_ms)
{
    json_error_t jerr;
    json_t *oracle = json_load_file(expect, 0, &jerr);
    assert_non_null(oracle);
    assert_int_equal(json_integer_value(json_object_get(oracle, "ambiguous")), 0);
    assert_int_equal(json_integer_value(json_object_get(oracle, "errors")), 0);
    long long published = json_integer_value(json_object_get(oracle, "published"));

    /* Expected rows, in the tables' own text form, from the oracle. */
    size_t cap = 1 << 20, used = 0, pused = 0;
    char *want_sites = calloc(1, cap), *want_pages = calloc(1, cap * 4);
    const char *key;
    json_t *site;
    json_object_foreach(json_object_get(oracle, "sites"), key, site)
    {
        const char *day;
        json_t *d;
        json_object_foreach(json_object_get(site, "days"), day, d)
        {
            used += (size_t)snprintf(want_sites + used, cap - used, "%s|%s|%lld|%lld\n", key, day,
                                     json_integer_value(json_object_get(d, "page_views")),
                                     json_integer_value(json_object_get(d, "unique_visitors")));
            const char *path;
            json_t *n;
            json_object_foreach(json_object_get(d, "paths"), path, n) pused +=
                (size_t)snprintf(want_pages + pused, cap * 4 - pused, "%s|%s|%s|%lld\n", key, day,
                                 path, json_integer_value(n));
        }
    }
    json_decref(oracle);
    /* sort both, as the queries below do */
    char path_sites[300], path_pages[300];
    snprintf(path_sites, sizeof(path_sites), "%s/want_sites", mochi_test_tmpdir());
    snprintf(path_pages, sizeof(path_pages), "%s/want_pages", mochi_test_tmpdir());
    FILE *fs = fopen(path_sites, "w");
    fputs(want_sites, fs);
    fclose(fs);
    fs = fopen(path_pages, "w");
    fputs(want_pages, fs);
    fclose(fs);
    char cmd[1400];
    snprintf(cmd, sizeof(cmd), "LC_ALL=C sort -o %s %s && LC_ALL=C sort -o %s %s", path_sites,
             path_sites, path_pages, path_pages);
    assert_int_equal(system(cmd), 0);
    free(want_sites);
    free(want_pages);
    want_sites = mochi_test_read_file(path_sites);
    want_pages = mochi_test_read_file(path_pages);

    const char *site_sql = "SELECT l FROM (SELECT s.tracking_key || '|' || m.date || '|' ||"
                           " m.page_views || '|' || m.unique_visitors AS l"
                           " FROM daily_site_metrics m JOIN sites s ON s.id = m.site_id) v"
                           " ORDER BY l COLLATE \"C\"";
    const char *page_sql = "SELECT l FROM (SELECT s.tracking_key || '|' || m.date || '|' ||"
                           " m.path || '|' || m.page_views AS l"
                           " FROM daily_page_metrics m JOIN sites s ON s.id = m.site_id) v"
                           " ORDER BY l COLLATE \"C\"";
    int64_t deadline = mochi_test_now_ms() + timeout_ms;
    char *got_sites = NULL, *got_pages = NULL;
    for (;;) {
        PGresult *res = PQexec(conn, site_sql);
        size_t n = 0;
        free(got_sites);
        got_sites = calloc(1, cap);
        for (int i = 0; i < PQntuples(res); i++)
            n += (size_t)snprintf(got_sites + n, cap - n, "%s\n", PQgetvalue(res, i, 0));
        PQclear(res);
        res = PQexec(conn, page_sql);
        n = 0;
        free(got_pages);
        got_pages = calloc(1, cap * 4);
        for (int i = 0; i < PQntuples(res); i++)
            n += (size_t)snprintf(got_pages + n, cap * 4 - n, "%s\n", PQgetvalue(res, i, 0));
        PQclear(res);
        if ((strcmp(got_sites, want_sites) == 0 && strcmp(got_pages, want_pages) == 0) ||
            mochi_test_now_ms() > deadline)
            break;
        usleep(250000);
    }
    if (strcmp(got_sites, want_sites) != 0)
        fail_msg("daily_site_metrics:\n%s\nloadgen expected:\n%s", got_sites, want_sites);
    assert_string_equal(got_pages, want_pages);
    print_message("aggregates equal loadgen's expectation:\n%s", got_sites);
    /* and the raw events, which the consumer stores at its own pace, agree
     * with the aggregates */
    long long want_rows = mochi_test_db_int(conn, "SELECT sum(page_views) FROM daily_site_metrics");
    deadline = mochi_test_now_ms() + timeout_ms;
    while (mochi_test_db_int(conn, "SELECT count(*) FROM page_view_events") < want_rows &&
           mochi_test_now_ms() < deadline)
        usleep(250000);
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(*) FROM page_view_events"), want_rows);
    free(got_sites);
    free(got_pages);
    free(want_sites);
    free(want_pages);
    return published;
}
