/* mochictl stats: a site's daily page views and unique visitors, its top
 * pages, sources and entry pages, by the site's own days. The aggregate
 * tables hold site-local dates (DESIGN.md, "Site time zones"), so the
 * range is read in the site's zone and "today" is today there. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/db.h"
#include "common/utf8.h"
#include "common/uuid.h"
#include "tools/mochictl/cell.h"
#include "tools/mochictl/mochictl.h"

/* The longest range, in days (about ten years): enough for any report,
 * and a bound on the rows generate_series makes for a mistyped year. */
#define MAX_RANGE_DAYS 3660

#define DIRECT_LABEL "Direct / none"

static const struct mochi_setting setting_site = {.name = "site",
                                                  .type = MOCHI_SETTING_STRING,
                                                  .required = true,
                                                  .help = "the site's tracking key or id"};
static const struct mochi_setting setting_from = {
    .name = "from",
    .type = MOCHI_SETTING_DATE,
    .help = "first day, a date in the site's time zone (default: --to minus 6 days)"};
static const struct mochi_setting setting_to = {
    .name = "to",
    .type = MOCHI_SETTING_DATE,
    .help = "last day, a date in the site's time zone (default: today in that zone)"};
static const struct mochi_setting setting_top = {.name = "top",
                                                 .type = MOCHI_SETTING_INT,
                                                 .default_value = "10",
                                                 .min = 0,
                                                 .max = 1000,
                                                 .help = "how many top pages, sources and entry "
                                                         "pages"};
static const struct mochi_setting setting_json = {.name = "json",
                                                  .type = MOCHI_SETTING_FLAG,
                                                  .default_value = "false",
                                                  .help = "print JSON instead of tables"};

static const struct mochi_setting *const stats_settings[] = {&mochi_setting_database_url,
                                                             &setting_site,
                                                             &setting_from,
                                                             &setting_to,
                                                             &setting_top,
                                                             &setting_json,
                                                             NULL};

static const struct mochi_program_spec stats_spec = {
    .name = "mochictl stats",
    .usage = "--site KEY_OR_ID [--from DATE] [--to DATE] [--top N] [--json]",
    .summary =
        "Prints a site's page views and unique visitors per day, the totals, and its top pages, "
        "sources and entry pages over the range (at most 3660 days). Days are the site's local "
        "days, in the time zone the output names. Visitor hashes rotate daily, so the total of "
        "unique visitors over several days, and a source's visitors, are sums of daily "
        "visitors, not counts of people. A source of \"\" is a direct visit (\"Direct / none\"; "
        "\"direct\": true in --json).",
    .settings = stats_settings,
};

/* The four result sets, in the order they are printed after the days. */
struct stats {
    PGresult *site; /* id, domain, name, timezone, today there */
    PGresult *days; /* date, page views, unique visitors */
    PGresult *pages;
    PGresult *sources;
    PGresult *entries;
    char from[11], to[11];
};

static PGresult *query(PGconn *conn, const char *sql, int n, const char *const *params);
static int check_range(long long from_day, long long to_day);
static int print_json(const struct stats *stats, long long total_pv, long long total_uv);
static int print_tables(const struct stats *stats, long long total_pv, long long total_uv);
static json_t *json_text(const PGresult *res, int row, int col);
static json_int_t json_count(const PGresult *res, int row, int col);
static int append_rows(json_t *array, const PGresult *res, const char *name,
                       const char *count_name);
static void print_cell(const char *s, size_t len, size_t width, const char *tail);

static PGresult *query(PGconn *conn, const char *sql, int n, const char *const *params)
{
    PGresult *res = NULL;
    char err[512];
    if (mochi_db_query(conn, sql, n, params, &res, err, sizeof(err)) != 0) {
        fprintf(stderr, "mochictl stats: %s\n", err);
        return NULL;
    }
    return res;
}

/* Returns 0 when from_day..to_day is a range stats reads, or prints why
 * not and returns 2 (bad usage). */
static int check_range(long long from_day, long long to_day)
{
    char from[11], to[11];
    mochi_day_format(from_day, from);
    mochi_day_format(to_day, to);
    if (to_day < from_day) {
        fprintf(stderr, "mochictl stats: --to (%s) is before --from (%s)\n", to, from);
        return 2;
    }
    if (to_day - from_day + 1 > MAX_RANGE_DAYS) {
        fprintf(stderr,
                "mochictl stats: %s to %s is %lld days; a range is at most %d days (about ten "
                "years)\n",
                from, to, to_day - from_day + 1, MAX_RANGE_DAYS);
        return 2;
    }
    return 0;
}

int mochictl_stats(int argc, char **argv)
{
    struct mochi_config *config = mochi_config_load_or_exit(&stats_spec, argc, argv);
    int code = 1;
    struct stats stats = {0};
    PGconn *conn = NULL;
    bool has_from = mochi_config_str(config, &setting_from) != NULL;
    bool has_to = mochi_config_str(config, &setting_to) != NULL;
    long long from_day = has_from ? mochi_config_int(config, &setting_from) : 0;
    long long to_day = has_to ? mochi_config_int(config, &setting_to) : 0;
    char topn[16];
    snprintf(topn, sizeof(topn), "%lld", mochi_config_int(config, &setting_top));
    /* both given: a usage error needs no database */
    if (has_from && has_to && (code = check_range(from_day, to_day)) != 0)
        goto out;
    code = 1;
    conn = mochictl_connect(config);
    if (conn == NULL)
        goto out;
    const char *key = mochi_config_str(config, &setting_site);
    unsigned char bin[16];
    const char *p1[] = {key};
    stats.site = query(conn,
                       mochi_uuid_parse(key, bin) == 0
                           ? "SELECT id, domain, name, timezone,"
                             " (now() AT TIME ZONE timezone)::date FROM sites WHERE id = $1::uuid"
                           : "SELECT id, domain, name, timezone,"
                             " (now() AT TIME ZONE timezone)::date FROM sites"
                             " WHERE tracking_key = $1",
                       1, p1);
    if (stats.site == NULL)
        goto out;
    if (PQntuples(stats.site) == 0) {
        char *shown = mochictl_cell_text(key, strlen(key));
        fprintf(stderr, "mochictl stats: no site with id or tracking key '%s'\n",
                shown ? shown : "?");
        free(shown);
        goto out;
    }
    long long today = 0;
    if (mochi_day_parse(PQgetvalue(stats.site, 0, 4), &today) != 0) {
        fprintf(stderr, "mochictl stats: cannot read today's date in %s from the database\n",
                PQgetvalue(stats.site, 0, 3));
        goto out;
    }
    if (!has_to)
        to_day = today;
    if (!has_from)
        from_day = to_day - 6;
    if ((code = check_range(from_day, to_day)) != 0)
        goto out;
    code = 1;
    mochi_day_format(from_day, stats.from);
    mochi_day_format(to_day, stats.to);

    const char *id = PQgetvalue(stats.site, 0, 0);
    const char *p3[] = {id, stats.from, stats.to};
    /* every day of the range, with zeros where nothing was counted */
    stats.days = query(conn,
                       "SELECT d::date, coalesce(m.page_views, 0), coalesce(m.unique_visitors, 0)"
                       " FROM generate_series($2::date, $3::date, interval '1 day') d"
                       " LEFT JOIN daily_site_metrics m"
                       " ON m.site_id = $1::uuid AND m.date = d::date"
                       " ORDER BY 1",
                       3, p3);
    if (stats.days == NULL)
        goto out;
    /* ties by name, byte by byte (COLLATE "C"), whatever the database's locale */
    const char *p4[] = {id, stats.from, stats.to, topn};
    stats.pages = query(conn,
                        "SELECT path, sum(page_views) AS n FROM daily_page_metrics"
                        " WHERE site_id = $1::uuid AND date BETWEEN $2::date AND $3::date"
                        " GROUP BY path ORDER BY n DESC, path COLLATE \"C\" LIMIT $4::int",
                        4, p4);
    if (stats.pages == NULL)
        goto out;
    stats.sources = query(conn,
                          "SELECT source, sum(entries) AS n, sum(visitors)"
                          " FROM daily_source_metrics"
                          " WHERE site_id = $1::uuid AND date BETWEEN $2::date AND $3::date"
                          /* a row left at zero when a visitor's credit moved */
                          " GROUP BY source HAVING sum(entries) <> 0 OR sum(visitors) <> 0"
                          /* as the dashboard: by visitors, then entries */
                          " ORDER BY sum(visitors) DESC, n DESC, source COLLATE \"C\""
                          " LIMIT $4::int",
                          4, p4);
    if (stats.sources == NULL)
        goto out;
    stats.entries = query(conn,
                          "SELECT path, sum(entries) AS n FROM daily_entry_page_metrics"
                          " WHERE site_id = $1::uuid AND date BETWEEN $2::date AND $3::date"
                          " GROUP BY path ORDER BY n DESC, path COLLATE \"C\" LIMIT $4::int",
                          4, p4);
    if (stats.entries == NULL)
        goto out;
    long long total_pv = 0, total_uv = 0;
    for (int i = 0; i < PQntuples(stats.days); i++) {
        total_pv += atoll(PQgetvalue(stats.days, i, 1));
        total_uv += atoll(PQgetvalue(stats.days, i, 2));
    }
    code = mochi_config_flag(config, &setting_json) ? print_json(&stats, total_pv, total_uv)
                                                    : print_tables(&stats, total_pv, total_uv);
out:
    PQclear(stats.site);
    PQclear(stats.days);
    PQclear(stats.pages);
    PQclear(stats.sources);
    PQclear(stats.entries);
    PQfinish(conn);
    mochi_config_destroy(config);
    return code;
}

/* A JSON string of a database value. jansson takes only valid UTF-8; a
 * database whose encoding is SQL_ASCII can hold any bytes, so each byte
 * of an invalid sequence becomes U+FFFD. Returns NULL when memory runs
 * out. */
static json_t *json_text(const PGresult *res, int row, int col)
{
    const char *s = PQgetvalue(res, row, col);
    size_t len = (size_t)PQgetlength(res, row, col);
    if (mochi_utf8_valid(s, len))
        return json_stringn(s, len);
    size_t used = 0;
    char *copy = mochi_utf8_sanitize(s, len, &used);
    if (copy == NULL)
        return NULL;
    json_t *text = json_stringn(copy, used);
    free(copy);
    return text;
}

static json_int_t json_count(const PGresult *res, int row, int col)
{
    return (json_int_t)atoll(PQgetvalue(res, row, col));
}

/* Appends {name: text of col 0, count_name: col 1, ...} rows. Returns 0,
 * or -1 when memory runs out. */
static int append_rows(json_t *array, const PGresult *res, const char *name, const char *count_name)
{
    for (int i = 0; i < PQntuples(res); i++) {
        json_t *row = json_object();
        json_t *text = json_text(res, i, 0);
        if (row == NULL || text == NULL || json_object_set_new(row, name, text) != 0 ||
            json_object_set_new(row, count_name, json_integer(json_count(res, i, 1))) != 0 ||
            json_array_append_new(array, row) != 0) {
            json_decref(row);
            return -1;
        }
    }
    return 0;
}

/* The --json document: see the summary above and README. Returns 0, or 1
 * after saying why. */
static int print_json(const struct stats *stats, long long total_pv, long long total_uv)
{
    const PGresult *site = stats->site;
    int code = 1;
    json_t *doc = json_pack(
        "{s:{s:o, s:o, s:o}, s:s, s:s, s:s, s:[], s:{s:I, s:I}, s:[], s:[], s:[]}", "site", "id",
        json_text(site, 0, 0), "domain", json_text(site, 0, 1), "name", json_text(site, 0, 2),
        "timezone", PQgetvalue(site, 0, 3), "from", stats->from, "to", stats->to, "days", "totals",
        "page_views", (json_int_t)total_pv, "sum_of_daily_unique_visitors", (json_int_t)total_uv,
        "top_pages", "top_sources", "top_entry_pages");
    if (doc == NULL)
        goto out;
    json_t *days = json_object_get(doc, "days");
    for (int i = 0; i < PQntuples(stats->days); i++)
        if (json_array_append_new(days, json_pack("{s:s, s:I, s:I}", "date",
                                                  PQgetvalue(stats->days, i, 0), "page_views",
                                                  json_count(stats->days, i, 1), "unique_visitors",
                                                  json_count(stats->days, i, 2))) != 0)
            goto out;
    if (append_rows(json_object_get(doc, "top_pages"), stats->pages, "path", "page_views") != 0 ||
        append_rows(json_object_get(doc, "top_entry_pages"), stats->entries, "path", "entries") !=
            0)
        goto out;
    json_t *sources = json_object_get(doc, "top_sources");
    for (int i = 0; i < PQntuples(stats->sources); i++) {
        /* "source" is the stored value, "" for a direct visit, which
         * "direct" says, so that no reader has to know the convention */
        json_t *row = json_pack("{s:o, s:b, s:I, s:I}", "source", json_text(stats->sources, i, 0),
                                "direct", PQgetlength(stats->sources, i, 0) == 0, "entries",
                                json_count(stats->sources, i, 1), "sum_of_daily_visitors",
                                json_count(stats->sources, i, 2));
        if (json_array_append_new(sources, row) != 0)
            goto out;
    }
    char *text = json_dumps(doc, JSON_COMPACT);
    if (text == NULL)
        goto out;
    puts(text);
    free(text);
    code = 0;
out:
    if (code != 0)
        fprintf(stderr, "mochictl stats: out of memory writing JSON\n");
    json_decref(doc);
    return code;
}

/* Prints cell(s, width) and then tail, or "?" when memory runs out. */
static void print_cell(const char *s, size_t len, size_t width, const char *tail)
{
    char *cell = mochictl_cell(s, len, width);
    printf("%s%s", cell ? cell : "?", tail);
    free(cell);
}

/* The tables. Returns 0. */
static int print_tables(const struct stats *stats, long long total_pv, long long total_uv)
{
    const PGresult *site = stats->site;
    char *domain = mochictl_cell_text(PQgetvalue(site, 0, 1), (size_t)PQgetlength(site, 0, 1));
    char *zone = mochictl_cell_text(PQgetvalue(site, 0, 3), (size_t)PQgetlength(site, 0, 3));
    printf("%s (%s), %s to %s, time zone %s\n\n", domain ? domain : "?", PQgetvalue(site, 0, 0),
           stats->from, stats->to, zone ? zone : "?");
    free(domain);
    free(zone);
    printf("%-12s %12s %16s\n", "DATE", "PAGE VIEWS", "UNIQUE VISITORS");
    for (int i = 0; i < PQntuples(stats->days); i++)
        printf("%-12s %12s %16s\n", PQgetvalue(stats->days, i, 0), PQgetvalue(stats->days, i, 1),
               PQgetvalue(stats->days, i, 2));
    printf("%-12s %12lld %16lld  (sum of daily unique visitors)\n\n", "total", total_pv, total_uv);

    printf("%-60s %12s\n", "TOP PAGES", "PAGE VIEWS");
    for (int i = 0; i < PQntuples(stats->pages); i++) {
        print_cell(PQgetvalue(stats->pages, i, 0), (size_t)PQgetlength(stats->pages, i, 0), 60,
                   " ");
        printf("%12s\n", PQgetvalue(stats->pages, i, 1));
    }

    printf("\n%-40s %12s %12s\n", "TOP SOURCES", "ENTRIES", "VISITORS");
    for (int i = 0; i < PQntuples(stats->sources); i++) {
        if (PQgetlength(stats->sources, i, 0) == 0)
            printf("%-40s ", DIRECT_LABEL);
        else
            print_cell(PQgetvalue(stats->sources, i, 0), (size_t)PQgetlength(stats->sources, i, 0),
                       40, " ");
        printf("%12s %12s\n", PQgetvalue(stats->sources, i, 1), PQgetvalue(stats->sources, i, 2));
    }
    printf("(visitors of a source: sum of daily visitors)\n");

    printf("\n%-60s %12s\n", "TOP ENTRY PAGES", "ENTRIES");
    for (int i = 0; i < PQntuples(stats->entries); i++) {
        print_cell(PQgetvalue(stats->entries, i, 0), (size_t)PQgetlength(stats->entries, i, 0), 60,
                   " ");
        printf("%12s\n", PQgetvalue(stats->entries, i, 1));
    }
    return 0;
}
