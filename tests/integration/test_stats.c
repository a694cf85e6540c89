/* mochictl stats by the site's own days: rows written by hand into the
 * aggregate tables for sites in Asia/Tokyo, UTC and the two ends of the
 * clock (Pacific/Kiritimati, Etc/GMT+12), read back as tables and JSON:
 * the zone, the default range (today in the zone, asked of PostgreSQL
 * here), top sources with "Direct / none", entry pages, ordering, --top,
 * hostile paths and sources, and the refusals. Every expected number and
 * line is written out below, not computed by mochictl's code. */
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

#define ELLIPSIS "\xe2\x80\xa6"

struct site {
    char id[64];
    char key[64];
};

static int stats(const struct mochi_test_db *db, const char *const args[], char **out, char **err)
{
    return mochi_test_mochictl(db->conninfo, NULL, NULL, args, 60000, out, err);
}

static void add_site(const struct mochi_test_db *db, const char *name, const char *domain,
                     const char *zone, struct site *site)
{
    char *out = NULL, *err = NULL;
    const char *args[] = {"sites", "add",        "--name", name,     "--domain",
                          domain,  "--timezone", zone,     "--json", NULL};
    assert_int_equal(stats(db, args, &out, &err), 0);
    json_error_t jerr;
    json_t *doc = json_loads(out, 0, &jerr);
    assert_non_null(doc);
    snprintf(site->id, sizeof(site->id), "%s", json_string_value(json_object_get(doc, "id")));
    snprintf(site->key, sizeof(site->key), "%s",
             json_string_value(json_object_get(doc, "tracking_key")));
    json_decref(doc);
    free(out);
    free(err);
}

/* Today in zone, as PostgreSQL says. */
static void today_in(PGconn *conn, const char *zone, char day[11])
{
    char sql[256], buf[32];
    snprintf(sql, sizeof(sql), "SELECT ((now() AT TIME ZONE '%s')::date)::text", zone);
    assert_true(mochi_test_db_text(conn, sql, buf, sizeof(buf)));
    assert_int_equal(strlen(buf), 10);
    memcpy(day, buf, 11);
}

/* day plus n days, as PostgreSQL says. */
static void plus_days(PGconn *conn, const char *day, int n, char out[11])
{
    char sql[128], buf[32];
    snprintf(sql, sizeof(sql), "SELECT ('%s'::date + %d)::text", day, n);
    assert_true(mochi_test_db_text(conn, sql, buf, sizeof(buf)));
    assert_int_equal(strlen(buf), 10);
    memcpy(out, buf, 11);
}

/* Runs sql with every "@" replaced by the site id and "$T" by 'T'::date
 * (T = the day given). */
static void exec_for(PGconn *conn, const char *sql, const struct site *site, const char *day)
{
    char buf[8192];
    size_t used = 0;
    for (const char *p = sql; *p && used < sizeof(buf) - 64; p++) {
        if (*p == '@')
            used += (size_t)snprintf(buf + used, sizeof(buf) - used, "'%s'::uuid", site->id);
        else if (p[0] == '$' && p[1] == 'T') {
            used += (size_t)snprintf(buf + used, sizeof(buf) - used, "'%s'::date", day);
            p++;
        } else
            buf[used++] = *p;
    }
    buf[used] = '\0';
    mochi_test_db_exec(conn, buf);
}

static json_t *stats_json(const struct mochi_test_db *db, const char *const args[])
{
    char *out = NULL, *err = NULL;
    assert_int_equal(stats(db, args, &out, &err), 0);
    json_error_t jerr;
    json_t *doc = json_loads(out, 0, &jerr);
    if (doc == NULL)
        fail_msg("not JSON: %s (%s)", out, jerr.text);
    free(out);
    free(err);
    return doc;
}

static const char *jstr(json_t *obj, const char *name)
{
    const char *s = json_string_value(json_object_get(obj, name));
    assert_non_null(s);
    return s;
}

static long long jint(json_t *obj, const char *name)
{
    json_t *v = json_object_get(obj, name);
    assert_true(json_is_integer(v));
    return (long long)json_integer_value(v);
}

/* The Tokyo site's rows, around its today T: in the default range
 * (T-6..T) and one day on each side of it that must not be counted. */
static const char tokyo_rows[] =
    "INSERT INTO daily_site_metrics (site_id, date, page_views, unique_visitors) VALUES"
    " (@, $T, 30, 12), (@, $T - 3, 10, 4), (@, $T - 6, 5, 2), (@, $T - 7, 1000, 500),"
    " (@, $T + 1, 2000, 700);"
    "INSERT INTO daily_page_metrics (site_id, date, path, page_views) VALUES"
    " (@, $T, '/', 20), (@, $T, '/blog', 6), (@, $T - 3, '/blog', 4), (@, $T - 3, '/B', 3),"
    " (@, $T - 6, '/a', 3), (@, $T - 7, '/old', 999);"
    "INSERT INTO daily_source_metrics (site_id, date, source, entries, visitors) VALUES"
    " (@, $T, '', 5, 4), (@, $T, 'google.com', 3, 3), (@, $T, 'news.ycombinator.com', 3, 2),"
    " (@, $T, 'bing.com', 1, 1), (@, $T - 3, 'google.com', 2, 2), (@, $T - 3, '', 1, 1),"
    " (@, $T - 1, 'a.example', 3, 3), (@, $T - 7, 'zzz.example', 100, 100),"
    " (@, $T + 1, 'later.example', 100, 100);"
    "INSERT INTO daily_entry_page_metrics (site_id, date, path, entries) VALUES"
    " (@, $T, '/', 5), (@, $T - 2, '/', 2), (@, $T, '/blog', 4), (@, $T - 1, '/a', 2),"
    " (@, $T - 5, '/B', 2), (@, $T - 7, '/old', 50);";

/* What the Tokyo site's JSON must say over T-6..T, written out by hand. */
static void check_tokyo_json(json_t *doc, const struct site *site, const char *from, const char *to)
{
    assert_string_equal(jstr(doc, "timezone"), "Asia/Tokyo");
    assert_string_equal(jstr(doc, "from"), from);
    assert_string_equal(jstr(doc, "to"), to);
    assert_string_equal(jstr(json_object_get(doc, "site"), "id"), site->id);
    json_t *days = json_object_get(doc, "days");
    assert_int_equal(json_array_size(days), 7);
    assert_string_equal(jstr(json_array_get(days, 0), "date"), from);
    assert_int_equal(jint(json_array_get(days, 0), "page_views"), 5);
    assert_int_equal(jint(json_array_get(days, 1), "page_views"), 0);
    assert_int_equal(jint(json_array_get(days, 3), "page_views"), 10);
    assert_int_equal(jint(json_array_get(days, 3), "unique_visitors"), 4);
    assert_string_equal(jstr(json_array_get(days, 6), "date"), to);
    assert_int_equal(jint(json_array_get(days, 6), "page_views"), 30);
    json_t *totals = json_object_get(doc, "totals");
    assert_int_equal(jint(totals, "page_views"), 45);
    assert_int_equal(jint(totals, "sum_of_daily_unique_visitors"), 18);

    /* pages: 20 "/", 10 "/blog", then 3 each for "/B" and "/a", "B" < "a" bytewise */
    static const struct {
        const char *path;
        long long n;
    } pages[] = {{"/", 20}, {"/blog", 10}, {"/B", 3}, {"/a", 3}};
    json_t *top = json_object_get(doc, "top_pages");
    assert_int_equal(json_array_size(top), 4);
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(jstr(json_array_get(top, i), "path"), pages[i].path);
        assert_int_equal(jint(json_array_get(top, i), "page_views"), pages[i].n);
    }

    /* sources: direct 6 entries (5 visitors), google 5 (5), then the tie at 3
     * by name, bing 1 */
    static const struct {
        const char *source;
        long long entries, visitors;
    } sources[] = {{"", 6, 5},
                   {"google.com", 5, 5},
                   {"a.example", 3, 3},
                   {"news.ycombinator.com", 3, 2},
                   {"bing.com", 1, 1}};
    top = json_object_get(doc, "top_sources");
    assert_int_equal(json_array_size(top), 5);
    for (size_t i = 0; i < 5; i++) {
        json_t *row = json_array_get(top, i);
        assert_string_equal(jstr(row, "source"), sources[i].source);
        assert_true(json_is_boolean(json_object_get(row, "direct")));
        assert_int_equal(json_is_true(json_object_get(row, "direct")), i == 0);
        assert_int_equal(jint(row, "entries"), sources[i].entries);
        assert_int_equal(jint(row, "sum_of_daily_visitors"), sources[i].visitors);
    }

    static const struct {
        const char *path;
        long long n;
    } entries[] = {{"/", 7}, {"/blog", 4}, {"/B", 2}, {"/a", 2}};
    top = json_object_get(doc, "top_entry_pages");
    assert_int_equal(json_array_size(top), 4);
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(jstr(json_array_get(top, i), "path"), entries[i].path);
        assert_int_equal(jint(json_array_get(top, i), "entries"), entries[i].n);
    }
}

static void stats_by_site_local_day(void **state)
{
    (void)state;
    struct mochi_test_db db;
    mochi_test_db_create_migrated(&db);
    PGconn *conn = mochi_test_db_connect(&db);
    struct site tokyo, utc, east, west;
    add_site(&db, "Tokyo", "tokyo.example", "Asia/Tokyo", &tokyo);
    add_site(&db, "UTC", "utc.example", "UTC", &utc);
    add_site(&db, "East", "east.example", "Pacific/Kiritimati", &east);
    add_site(&db, "West", "west.example", "Etc/GMT+12", &west);

    char t[11], t_minus_6[11];
    today_in(conn, "Asia/Tokyo", t);
    plus_days(conn, t, -6, t_minus_6);
    exec_for(conn, tokyo_rows, &tokyo, t);

    /* an explicit range: no clock involved */
    const char *range[] = {"stats", "--site", tokyo.key, "--from", t_minus_6,
                           "--to",  t,        "--json",  NULL};
    json_t *doc = stats_json(&db, range);
    check_tokyo_json(doc, &tokyo, t_minus_6, t);
    json_decref(doc);

    /* the defaults: the 7 days ending today in Tokyo. Tokyo's midnight may
     * pass while mochictl runs: then the range is the one of either side. */
    const char *defaults[] = {"stats", "--site", tokyo.id, "--json", NULL};
    char before[11], after[11];
    today_in(conn, "Asia/Tokyo", before);
    doc = stats_json(&db, defaults);
    today_in(conn, "Asia/Tokyo", after);
    const char *to = jstr(doc, "to");
    assert_true(strcmp(to, before) == 0 || strcmp(to, after) == 0);
    if (strcmp(to, t) == 0)
        check_tokyo_json(doc, &tokyo, t_minus_6, t);
    json_decref(doc);

    /* --to alone: the 7 days ending there */
    char t_minus_3[11], t_minus_9[11];
    plus_days(conn, t, -3, t_minus_3);
    plus_days(conn, t, -9, t_minus_9);
    const char *to_only[] = {"stats", "--site", tokyo.key, "--to", t_minus_3, "--json", NULL};
    doc = stats_json(&db, to_only);
    assert_string_equal(jstr(doc, "from"), t_minus_9);
    assert_string_equal(jstr(doc, "to"), t_minus_3);
    /* T-7 (1000) + T-6 (5) + T-3 (10) */
    assert_int_equal(jint(json_object_get(doc, "totals"), "page_views"), 1015);
    json_decref(doc);

    /* the ends of the clock: Kiritimati (UTC+14) and Etc/GMT+12 (UTC-12)
     * are 26 hours apart, so their todays always differ; each is the one
     * PostgreSQL gives for the zone. */
    const struct {
        const struct site *site;
        const char *zone;
    } ends[] = {{&east, "Pacific/Kiritimati"}, {&west, "Etc/GMT+12"}, {&utc, "UTC"}};
    char seen[3][11];
    for (int i = 0; i < 3; i++) {
        const char *args[] = {"stats", "--site", ends[i].site->key, "--json", NULL};
        today_in(conn, ends[i].zone, before);
        doc = stats_json(&db, args);
        today_in(conn, ends[i].zone, after);
        assert_string_equal(jstr(doc, "timezone"), ends[i].zone);
        to = jstr(doc, "to");
        assert_true(strcmp(to, before) == 0 || strcmp(to, after) == 0);
        char want_from[11];
        plus_days(conn, to, -6, want_from);
        assert_string_equal(jstr(doc, "from"), want_from);
        assert_int_equal(json_array_size(json_object_get(doc, "days")), 7);
        assert_int_equal(json_array_size(json_object_get(doc, "top_sources")), 0);
        snprintf(seen[i], sizeof(seen[i]), "%s", to);
        json_decref(doc);
    }
    assert_string_not_equal(seen[0], seen[1]);

    /* the table: the zone line, "Direct / none", the order, the note */
    char *out = NULL, *err = NULL;
    const char *table[] = {"stats", "--site", tokyo.key, "--from", t_minus_6, "--to", t, NULL};
    assert_int_equal(stats(&db, table, &out, &err), 0);
    char line[512];
    snprintf(line, sizeof(line), "tokyo.example (%s), %s to %s, time zone Asia/Tokyo\n", tokyo.id,
             t_minus_6, t);
    assert_true(strncmp(out, line, strlen(line)) == 0);
    assert_non_null(strstr(out, "total                  45               18  (sum of daily "
                                "unique visitors)\n"));
    const char *want_sources =
        "TOP SOURCES                                   ENTRIES     VISITORS\n"
        "Direct / none                                       6            5\n"
        "google.com                                          5            5\n"
        "a.example                                           3            3\n"
        "news.ycombinator.com                                3            2\n"
        "bing.com                                            1            1\n"
        "(visitors of a source: sum of daily visitors)\n";
    assert_non_null(strstr(out, want_sources));
    const char *want_entries = "TOP ENTRY PAGES                                                   "
                               "ENTRIES\n"
                               "/                                                                 "
                               "      7\n"
                               "/blog                                                             "
                               "      4\n"
                               "/B                                                                "
                               "      2\n"
                               "/a                                                                "
                               "      2\n";
    assert_non_null(strstr(out, want_entries));
    assert_null(strstr(out, "zzz.example"));
    assert_null(strstr(out, "later.example"));
    assert_null(strstr(out, "/old"));
    free(out);
    free(err);

    /* --top 2 limits all three lists */
    const char *top2[] = {"stats", "--site", tokyo.key, "--from", t_minus_6, "--to",
                          t,       "--top",  "2",       "--json", NULL};
    doc = stats_json(&db, top2);
    assert_int_equal(json_array_size(json_object_get(doc, "top_pages")), 2);
    assert_int_equal(json_array_size(json_object_get(doc, "top_sources")), 2);
    assert_int_equal(json_array_size(json_object_get(doc, "top_entry_pages")), 2);
    assert_string_equal(jstr(json_array_get(json_object_get(doc, "top_sources"), 1), "source"),
                        "google.com");
    assert_string_equal(jstr(json_array_get(json_object_get(doc, "top_entry_pages"), 1), "path"),
                        "/blog");
    json_decref(doc);

    PQfinish(conn);
    mochi_test_db_drop(&db);
}

static void stats_refusals(void **state)
{
    (void)state;
    struct mochi_test_db db;
    mochi_test_db_create_migrated(&db);
    PGconn *conn = mochi_test_db_connect(&db);
    struct site tokyo;
    add_site(&db, "Tokyo", "tokyo.example", "Asia/Tokyo", &tokyo);
    char *out = NULL, *err = NULL;

    const char *unknown[] = {"stats", "--site", "noSuchSiteKey_0000000", NULL};
    assert_int_equal(stats(&db, unknown, &out, &err), 1);
    assert_non_null(strstr(err, "no site with id or tracking key 'noSuchSiteKey_0000000'"));
    free(out);
    free(err);

    const char *backwards[] = {"stats",      "--site", tokyo.key,    "--from",
                               "2026-03-02", "--to",   "2026-03-01", NULL};
    assert_int_equal(stats(&db, backwards, &out, &err), 2);
    assert_non_null(strstr(err, "--to (2026-03-01) is before --from (2026-03-02)"));
    assert_string_equal(out, "");
    free(out);
    free(err);

    /* --from after today in Tokyo, --to defaulting to today there */
    char tomorrow[11], t[11];
    today_in(conn, "Asia/Tokyo", t);
    plus_days(conn, t, 2, tomorrow);
    const char *future[] = {"stats", "--site", tokyo.key, "--from", tomorrow, NULL};
    assert_int_equal(stats(&db, future, &out, &err), 2);
    assert_non_null(strstr(err, "is before --from"));
    free(out);
    free(err);

    /* 3660 days is the most: 2000-01-01 to 2010-01-07 (2000, 2004 and 2008
     * are leap years: 2010-01-01 is 3653 days on, so day 3660 is 6 later) */
    char last[11];
    plus_days(conn, "2000-01-01", 3659, last);
    assert_string_equal(last, "2010-01-07");
    const char *longest[] = {"stats", "--site",     tokyo.key, "--from", "2000-01-01",
                             "--to",  "2010-01-07", "--json",  NULL};
    json_t *doc = stats_json(&db, longest);
    assert_int_equal(json_array_size(json_object_get(doc, "days")), 3660);
    json_decref(doc);
    const char *too_long[] = {"stats",      "--site", tokyo.key,    "--from",
                              "2000-01-01", "--to",   "2010-01-08", NULL};
    assert_int_equal(stats(&db, too_long, &out, &err), 2);
    assert_non_null(strstr(err, "2000-01-01 to 2010-01-08 is 3661 days; a range is at most 3660 "
                                "days"));
    free(out);
    free(err);
    /* refused before any database work: no server needed */
    const char *too_long_no_db[] = {"stats",      "--site", "x",          "--from",
                                    "1900-01-01", "--to",   "2026-01-01", NULL};
    assert_int_equal(mochi_test_mochictl("host=127.0.0.1 port=1 connect_timeout=2", NULL, NULL,
                                         too_long_no_db, 60000, &out, &err),
                     2);
    assert_non_null(strstr(err, "a range is at most 3660 days"));
    free(out);
    free(err);

    PQfinish(conn);
    mochi_test_db_drop(&db);
}

/* A database that takes any bytes (SQL_ASCII): PostgreSQL refuses invalid
 * UTF-8 in a UTF8 database, but an operator's may be either. */
static void create_sql_ascii_db(struct mochi_test_db *db)
{
    mochi_test_db_create(db);
    char admin_info[600];
    snprintf(admin_info, sizeof(admin_info), "%s", db->conninfo);
    char *dbname = strstr(admin_info, "dbname=");
    assert_non_null(dbname);
    snprintf(dbname, sizeof(admin_info) - (size_t)(dbname - admin_info), "dbname=postgres");
    PGconn *admin = PQconnectdb(admin_info);
    assert_int_equal(PQstatus(admin), CONNECTION_OK);
    char sql[512];
    snprintf(sql, sizeof(sql), "DROP DATABASE %s", db->name);
    mochi_test_db_exec(admin, sql);
    snprintf(sql, sizeof(sql),
             "CREATE DATABASE %s TEMPLATE template0 ENCODING 'SQL_ASCII' LC_COLLATE 'C' "
             "LC_CTYPE 'C'",
             db->name);
    mochi_test_db_exec(admin, sql);
    PQfinish(admin);
    char *out = NULL, *err = NULL;
    const char *migrate[] = {"migrate", NULL};
    if (stats(db, migrate, &out, &err) != 0)
        fail_msg("migrate: %s%s", out, err);
    free(out);
    free(err);
}

#define LOTS_OF_P "pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp"
#define LOTS_OF_S "ssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssss"

/* Asserts that out holds the line: shown, pad spaces, then counts. */
static void expect_row(const char *out, const char *shown, int pad, const char *counts)
{
    char line[1024];
    snprintf(line, sizeof(line), "\n%s%*s%s\n", shown, pad, "", counts);
    if (strstr(out, line) == NULL)
        fail_msg("no line [%s] in:\n%s", line + 1, out);
}

static void hostile_paths_and_sources(void **state)
{
    (void)state;
    struct mochi_test_db db;
    create_sql_ascii_db(&db);
    PGconn *conn = mochi_test_db_connect(&db);
    struct site site;
    add_site(&db, "Hostile", "hostile.example", "UTC", &site);
    /* ESC[2J (clear the screen), a newline that would forge a row, a tab,
     * invalid UTF-8 (0xFF, and 0xC0 0xAF, an overlong "/"); a title-setting
     * OSC as a source; names wider than their columns, one of them of
     * wide characters (U+65E5, two columns each) */
    exec_for(conn,
             "INSERT INTO daily_page_metrics (site_id, date, path, page_views) VALUES"
             " (@, '2026-01-10', E'/x\\033[2J\\n\\ty\\377\\300\\257', 9),"
             " (@, '2026-01-10', '/' || repeat(E'\\346\\227\\245', 40), 8);"
             "INSERT INTO daily_entry_page_metrics (site_id, date, path, entries) VALUES"
             " (@, '2026-01-10', E'/x\\033[2J\\n\\ty\\377\\300\\257', 4),"
             " (@, '2026-01-10', '/' || repeat('p', 100), 3);"
             "INSERT INTO daily_source_metrics (site_id, date, source, entries, visitors) VALUES"
             " (@, '2026-01-10', E'evil\\033]0;pwned\\007\\n', 7, 6),"
             " (@, '2026-01-10', repeat('s', 50), 5, 5),"
             " (@, '2026-01-10', '', 1, 1);",
             &site, "");
    char *out = NULL, *err = NULL;
    const char *table[] = {"stats",      "--site", site.key,     "--from",
                           "2026-01-10", "--to",   "2026-01-10", NULL};
    assert_int_equal(stats(&db, table, &out, &err), 0);
    /* nothing raw reaches the terminal: no ESC, BEL, tab, invalid byte */
    assert_null(strchr(out, '\x1b'));
    assert_null(strchr(out, '\x07'));
    assert_null(strchr(out, '\t'));
    assert_null(strchr(out, '\xff'));
    assert_null(strchr(out, '\xc0'));
    /* each row on its own line, the counts in their columns (12 wide,
     * after a space): the path is 30 columns escaped, padded to 60 */
    expect_row(out, "/x\\x1b[2J\\x0a\\x09y\\xff\\xc0\\xaf", 30, "            9");
    expect_row(out, "/x\\x1b[2J\\x0a\\x09y\\xff\\xc0\\xaf", 30, "            4");
    /* 1 + 40 * 2 columns: "/" and 29 wide characters (59), the ellipsis */
    char cut[256] = "/";
    for (int i = 0; i < 29; i++)
        strcat(cut, "\xe6\x97\xa5");
    strcat(cut, ELLIPSIS);
    expect_row(out, cut, 0, "            8");
    /* 101 columns: "/", 58 of them, the ellipsis */
    snprintf(cut, sizeof(cut), "/%.58s" ELLIPSIS, LOTS_OF_P);
    expect_row(out, cut, 0, "            3");
    /* a source is 40 columns: the OSC one is 24 escaped */
    expect_row(out, "evil\\x1b]0;pwned\\x07\\x0a", 16, "            7            6");
    snprintf(cut, sizeof(cut), "%.39s" ELLIPSIS, LOTS_OF_S);
    expect_row(out, cut, 0, "            5            5");
    expect_row(out, "Direct / none", 27, "            1            1");
    free(out);
    free(err);

    /* JSON: jansson escapes the controls; invalid bytes become U+FFFD */
    const char *json[] = {"stats", "--site",     site.key, "--from", "2026-01-10",
                          "--to",  "2026-01-10", "--json", NULL};
    assert_int_equal(stats(&db, json, &out, &err), 0);
    assert_null(strchr(out, '\x1b'));
    assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1); /* one line */
    json_error_t jerr;
    json_t *doc = json_loads(out, 0, &jerr);
    assert_non_null(doc);
    json_t *top = json_array_get(json_object_get(doc, "top_pages"), 0);
    assert_string_equal(jstr(top, "path"), "/x\x1b[2J\n\ty\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    top = json_array_get(json_object_get(doc, "top_sources"), 0);
    assert_string_equal(jstr(top, "source"), "evil\x1b]0;pwned\x07\n");
    assert_false(json_is_true(json_object_get(top, "direct")));
    top = json_array_get(json_object_get(doc, "top_sources"), 2);
    assert_string_equal(jstr(top, "source"), "");
    assert_true(json_is_true(json_object_get(top, "direct")));
    json_decref(doc);
    free(out);
    free(err);

    PQfinish(conn);
    mochi_test_db_drop(&db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stats_by_site_local_day),
        cmocka_unit_test(stats_refusals),
        cmocka_unit_test(hostile_paths_and_sources),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    mochi_test_cleanup();
    return failed;
}
