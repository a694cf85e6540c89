#include "web/stats.h"
#include "common/error.h"
#include "common/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *web_json_text(const char *text)
{
    size_t len = strlen(text);
    if (mochi_utf8_valid(text, len))
        return json_stringn(text, len);
    size_t clean_len = 0;
    char *clean = mochi_utf8_sanitize(text, len, &clean_len);
    json_t *s = clean ? json_stringn(clean, clean_len) : NULL;
    free(clean);
    return s;
}

static json_t *jint(const char *text)
{
    return json_integer(strtoll(text, NULL, 10));
}

/* Copies text into out[size], cut at a character boundary. */
static void copy_cut(char *out, size_t size, const char *text)
{
    size_t len = strlen(text);
    if (len >= size)
        len = mochi_utf8_valid(text, len) ? mochi_utf8_cut(text, len, size - 1) : size - 1;
    memcpy(out, text, len);
    out[len] = '\0';
}

/* Fills site from a row of (id, name, domain, timezone, today, role). */
static int site_from_row(PGresult *res, struct web_site *site)
{
    memset(site, 0, sizeof(*site));
    copy_cut(site->id, sizeof(site->id), PQgetvalue(res, 0, 0));
    copy_cut(site->name, sizeof(site->name), PQgetvalue(res, 0, 1));
    copy_cut(site->domain, sizeof(site->domain), PQgetvalue(res, 0, 2));
    copy_cut(site->timezone, sizeof(site->timezone), PQgetvalue(res, 0, 3));
    copy_cut(site->role, sizeof(site->role), PQgetvalue(res, 0, 5));
    if (web_day_parse(PQgetvalue(res, 0, 4), &site->today) != 0)
        return MOCHI_ERR_DB; /* a today PostgreSQL gave that this cannot read */
    return 1;
}

#define SITE_COLUMNS                                                                               \
    "s.id, s.name, s.domain, s.timezone, ((now() AT TIME ZONE s.timezone)::date)::text"

int web_site_load(struct web_db *db, const char *id, long long user_id, struct web_site *site)
{
    char user[24];
    snprintf(user, sizeof(user), "%lld", user_id);
    const char *params[] = {id, user};
    PGresult *res = NULL;
    int rc = web_db_query(db, "site_load",
                          "SELECT " SITE_COLUMNS ", coalesce(r.role, '')"
                          " FROM sites s LEFT JOIN site_roles r"
                          " ON r.site_id = s.id AND r.user_id = $2::bigint"
                          " WHERE s.id = $1::uuid",
                          2, params, &res);
    if (rc != 0)
        return rc;
    rc = PQntuples(res) == 1 ? site_from_row(res, site) : 0;
    PQclear(res);
    return rc;
}

int web_share_load(struct web_db *db, const char *slug, struct web_site *site)
{
    const char *params[] = {slug};
    PGresult *res = NULL;
    int rc = web_db_query(db, "share_load",
                          "SELECT " SITE_COLUMNS ", ''"
                          " FROM shares sh JOIN sites s ON s.id = sh.site_id"
                          " WHERE sh.slug = $1 AND sh.revoked_at IS NULL",
                          1, params, &res);
    if (rc != 0)
        return rc;
    rc = PQntuples(res) == 1 ? site_from_row(res, site) : 0;
    PQclear(res);
    return rc;
}

int web_stats_user_sites(struct web_db *db, long long user_id, json_t **out)
{
    char user[24];
    snprintf(user, sizeof(user), "%lld", user_id);
    const char *params[] = {user};
    PGresult *res = NULL;
    int rc = web_db_query(db, "user_sites",
                          "SELECT " SITE_COLUMNS
                          ", coalesce(m.page_views, 0), coalesce(m.unique_visitors, 0)"
                          " FROM site_roles r JOIN sites s ON s.id = r.site_id"
                          " LEFT JOIN daily_site_metrics m"
                          " ON m.site_id = s.id AND m.date = (now() AT TIME ZONE s.timezone)::date"
                          " WHERE r.user_id = $1::bigint ORDER BY s.name COLLATE \"C\", s.id",
                          1, params, &res);
    if (rc != 0)
        return rc;
    json_t *sites = json_array();
    for (int i = 0; sites != NULL && i < PQntuples(res); i++) {
        json_t *row = json_pack(
            "{s:s, s:o?, s:o?, s:s, s:s, s:o, s:o}", "id", PQgetvalue(res, i, 0), "name",
            web_json_text(PQgetvalue(res, i, 1)), "domain", web_json_text(PQgetvalue(res, i, 2)),
            "timezone", PQgetvalue(res, i, 3), "today", PQgetvalue(res, i, 4), "page_views",
            jint(PQgetvalue(res, i, 5)), "visitors", jint(PQgetvalue(res, i, 6)));
        if (row == NULL || json_array_append_new(sites, row) != 0) {
            json_decref(sites);
            sites = NULL;
        }
    }
    PQclear(res);
    *out = sites ? json_pack("{s:o}", "sites", sites) : NULL;
    return *out ? 0 : MOCHI_ERR_NOMEM;
}

/* The range's parameters: site, from, to, and the first day read (the
 * compare period's start when comparing). */
struct range_params {
    char from[11], to[11], cfrom[11], cto[11], first[11];
    const char *values[6];
};

static void range_params(const struct web_site *site, const struct web_range *range,
                         struct range_params *p)
{
    web_day_format(range->from, p->from);
    web_day_format(range->to, p->to);
    web_day_format(range->cfrom, p->cfrom);
    web_day_format(range->cto, p->cto);
    memcpy(p->first, range->compare ? p->cfrom : p->from, 11);
    p->values[0] = site->id;
    p->values[1] = p->from;
    p->values[2] = p->to;
    p->values[3] = p->first;
}

int web_stats_summary(struct web_db *db, const struct web_site *site, const struct web_range *range,
                      json_t **out)
{
    struct range_params p;
    range_params(site, range, &p);
    PGresult *views = NULL, *entries = NULL;
    /* Both periods in one scan of (site_id, date). Entries are summed
     * from the sources: every entry has exactly one source ('' included),
     * and a day has far fewer sources than entry pages. */
    int rc = web_db_query(db, "summary",
                          "SELECT coalesce(sum(page_views) FILTER (WHERE date >= $2::date), 0),"
                          " coalesce(sum(unique_visitors) FILTER (WHERE date >= $2::date), 0),"
                          " coalesce(sum(page_views) FILTER (WHERE date < $2::date), 0),"
                          " coalesce(sum(unique_visitors) FILTER (WHERE date < $2::date), 0)"
                          " FROM daily_site_metrics"
                          " WHERE site_id = $1::uuid AND date BETWEEN $4::date AND $3::date",
                          4, p.values, &views);
    if (rc == 0)
        rc = web_db_query(db, "summary_entries",
                          "SELECT coalesce(sum(entries) FILTER (WHERE date >= $2::date), 0),"
                          " coalesce(sum(entries) FILTER (WHERE date < $2::date), 0)"
                          " FROM daily_source_metrics"
                          " WHERE site_id = $1::uuid AND date BETWEEN $4::date AND $3::date",
                          4, p.values, &entries);
    if (rc != 0) {
        PQclear(views);
        return rc;
    }
    json_t *compare = json_null();
    if (range->compare)
        compare =
            json_pack("{s:s, s:s, s:o, s:o, s:o}", "from", p.cfrom, "to", p.cto, "page_views",
                      jint(PQgetvalue(views, 0, 2)), "visitors", jint(PQgetvalue(views, 0, 3)),
                      "entries", jint(PQgetvalue(entries, 0, 1)));
    *out = json_pack("{s:s, s:s, s:s, s:o, s:o, s:b, s:o, s:o?}", "from", p.from, "to", p.to,
                     "timezone", site->timezone, "page_views", jint(PQgetvalue(views, 0, 0)),
                     "visitors", jint(PQgetvalue(views, 0, 1)), "visitors_is_sum",
                     range->to > range->from, "entries", jint(PQgetvalue(entries, 0, 0)), "compare",
                     compare);
    PQclear(views);
    PQclear(entries);
    return *out ? 0 : MOCHI_ERR_NOMEM;
}

/* Every day of [from, to] with its numbers, zeros included. */
static int day_points(struct web_db *db, const char *site_id, const char *from, const char *to,
                      json_t **out)
{
    const char *params[] = {site_id, from, to};
    PGresult *res = NULL;
    int rc = web_db_query(db, "timeseries",
                          "SELECT d::date::text, coalesce(m.page_views, 0),"
                          " coalesce(m.unique_visitors, 0)"
                          " FROM generate_series($2::date, $3::date, interval '1 day') d"
                          " LEFT JOIN daily_site_metrics m"
                          " ON m.site_id = $1::uuid AND m.date = d::date ORDER BY 1",
                          3, params, &res);
    if (rc != 0)
        return rc;
    json_t *points = json_array();
    for (int i = 0; points != NULL && i < PQntuples(res); i++) {
        json_t *point =
            json_pack("{s:s, s:o, s:o}", "date", PQgetvalue(res, i, 0), "page_views",
                      jint(PQgetvalue(res, i, 1)), "visitors", jint(PQgetvalue(res, i, 2)));
        if (point == NULL || json_array_append_new(points, point) != 0) {
            json_decref(points);
            points = NULL;
        }
    }
    PQclear(res);
    *out = points;
    return points ? 0 : MOCHI_ERR_NOMEM;
}

int web_stats_timeseries(struct web_db *db, const struct web_site *site,
                         const struct web_range *range, json_t **out)
{
    struct range_params p;
    range_params(site, range, &p);
    json_t *points = NULL, *cpoints = NULL;
    int rc = day_points(db, site->id, p.from, p.to, &points);
    if (rc == 0 && range->compare)
        rc = day_points(db, site->id, p.cfrom, p.cto, &cpoints);
    if (rc != 0) {
        json_decref(points);
        return rc;
    }
    json_t *compare =
        cpoints ? json_pack("{s:s, s:s, s:o}", "from", p.cfrom, "to", p.cto, "points", cpoints)
                : json_null();
    *out = json_pack("{s:s, s:s, s:s, s:o, s:o?}", "from", p.from, "to", p.to, "interval", "day",
                     "points", points, "compare", compare);
    return *out ? 0 : MOCHI_ERR_NOMEM;
}

/* A list's rows of the range: the whole months from the monthly table
 * (sql/010), the days before and after them from the daily one. $1 is
 * the site, $2..$3 the range; M0 the first whole month's first day, M1
 * the day after the last whole month (range_months: M0 = M1 = to + 1
 * when the range holds no whole month). Each part is a range of its
 * table's (site_id, date or month) index. */
#define RANGE_ROWS(cols, daily, monthly, m0, m1)                                                   \
    "SELECT " cols " FROM " daily " WHERE site_id = $1::uuid AND date >= $2::date"                 \
    " AND date < " m0 "::date"                                                                     \
    " UNION ALL SELECT " cols " FROM " monthly " WHERE site_id = $1::uuid"                         \
    " AND month >= " m0 "::date AND month < " m1 "::date"                                          \
    " UNION ALL SELECT " cols " FROM " daily " WHERE site_id = $1::uuid AND date >= " m1 "::date"  \
    " AND date <= $3::date"

/* Each list: its query (site, from, to, limit, offset, M0, M1; a NULL
 * limit is LIMIT ALL), the query counting its rows when the page asked
 * for is past the end (site, from, to, M0, M1), and its columns. Ties are
 * broken by the text, byte by byte (COLLATE "C"), whatever the database's
 * locale. */
#define PAGE_ROWS                                                                                  \
    RANGE_ROWS("path, page_views", "daily_page_metrics", "monthly_page_metrics", "$6", "$7")
#define PAGE_COUNT_ROWS                                                                            \
    RANGE_ROWS("path, page_views", "daily_page_metrics", "monthly_page_metrics", "$4", "$5")
#define SOURCE_ROWS                                                                                \
    RANGE_ROWS("source, entries, visitors", "daily_source_metrics", "monthly_source_metrics",      \
               "$6", "$7")
#define SOURCE_COUNT_ROWS                                                                          \
    RANGE_ROWS("source, entries, visitors", "daily_source_metrics", "monthly_source_metrics",      \
               "$4", "$5")
#define ENTRY_ROWS                                                                                 \
    RANGE_ROWS("path, entries", "daily_entry_page_metrics", "monthly_entry_page_metrics", "$6",    \
               "$7")
#define ENTRY_COUNT_ROWS                                                                           \
    RANGE_ROWS("path, entries", "daily_entry_page_metrics", "monthly_entry_page_metrics", "$4",    \
               "$5")

static const struct {
    const char *name;
    const char *sql;
    const char *count_sql;
    const char *columns[3]; /* the text column, then numbers */
} lists[] = {
    [WEB_LIST_PAGES] = {"pages",
                        "SELECT path, sum(page_views) AS n, count(*) OVER ()"
                        " FROM (" PAGE_ROWS ") r GROUP BY path HAVING sum(page_views) <> 0"
                        " ORDER BY n DESC, path COLLATE \"C\" LIMIT $4::bigint OFFSET $5::bigint",
                        "SELECT count(*) FROM (SELECT path FROM (" PAGE_COUNT_ROWS ") r"
                        " GROUP BY path HAVING sum(page_views) <> 0) t",
                        {"path", "page_views", NULL}},
    [WEB_LIST_SOURCES] = {"sources",
                          /* a row left at zero when a visitor's credit moved */
                          "SELECT source, sum(entries) AS e, sum(visitors) AS v, count(*) OVER ()"
                          " FROM (" SOURCE_ROWS ") r"
                          " GROUP BY source HAVING sum(entries) <> 0 OR sum(visitors) <> 0"
                          " ORDER BY v DESC, e DESC, source COLLATE \"C\""
                          " LIMIT $4::bigint OFFSET $5::bigint",
                          "SELECT count(*) FROM (SELECT source FROM (" SOURCE_COUNT_ROWS ") r"
                          " GROUP BY source HAVING sum(entries) <> 0 OR sum(visitors) <> 0) t",
                          {"source", "entries", "visitors"}},
    [WEB_LIST_ENTRY_PAGES] = {"entry_pages",
                              "SELECT path, sum(entries) AS n, count(*) OVER ()"
                              " FROM (" ENTRY_ROWS ") r GROUP BY path HAVING sum(entries) <> 0"
                              " ORDER BY n DESC, path COLLATE \"C\""
                              " LIMIT $4::bigint OFFSET $5::bigint",
                              "SELECT count(*) FROM (SELECT path FROM (" ENTRY_COUNT_ROWS ") r"
                              " GROUP BY path HAVING sum(entries) <> 0) t",
                              {"path", "entries", NULL}},
};

/* The whole months of [from, to]: m0, the first day of the first month
 * that starts at or after from; m1, the first day of the month of to + 1
 * (the day after the last whole month). Both to + 1 when none is whole. */
static void range_months(const struct web_range *range, char m0[11], char m1[11])
{
    int year, month, mday;
    long long first, after;
    web_day_civil(range->from, &year, &month, &mday);
    first = mday == 1 ? range->from
                      : web_day_from_civil(month == 12 ? year + 1 : year, month % 12 + 1, 1);
    web_day_civil(range->to + 1, &year, &month, &mday);
    after = web_day_from_civil(year, month, 1);
    if (first >= after)
        first = after = range->to + 1;
    web_day_format(first, m0);
    web_day_format(after, m1);
}

int web_stats_list(struct web_db *db, const struct web_site *site, const struct web_range *range,
                   enum web_list list, long long limit, long long offset, json_t **out)
{
    struct range_params p;
    range_params(site, range, &p);
    char limit_text[24], offset_text[24];
    snprintf(limit_text, sizeof(limit_text), "%lld", limit);
    snprintf(offset_text, sizeof(offset_text), "%lld", offset);
    char m0[11], m1[11];
    range_months(range, m0, m1);
    const char *params[] = {site->id,    p.from, p.to, limit >= 0 ? limit_text : NULL,
                            offset_text, m0,     m1};
    const char *count_params[] = {site->id, p.from, p.to, m0, m1};
    PGresult *res = NULL;
    int rc = web_db_query(db, lists[list].name, lists[list].sql, 7, params, &res);
    if (rc != 0)
        return rc;
    int nrows = PQntuples(res);
    int ncols = lists[list].columns[2] ? 3 : 2;
    long long total = nrows > 0 ? strtoll(PQgetvalue(res, 0, ncols), NULL, 10) : 0;
    if (nrows == 0 && offset > 0) {
        PGresult *count = NULL;
        rc = web_db_query(db, lists[list].name, lists[list].count_sql, 5, count_params, &count);
        if (rc != 0) {
            PQclear(res);
            return rc;
        }
        total = strtoll(PQgetvalue(count, 0, 0), NULL, 10);
        PQclear(count);
    }
    json_t *rows = json_array();
    for (int i = 0; rows != NULL && i < nrows; i++) {
        const char *const *col = lists[list].columns;
        json_t *text = web_json_text(PQgetvalue(res, i, 0));
        json_t *row =
            ncols == 3 ? json_pack("{s:o, s:o, s:o}", col[0], text, col[1],
                                   jint(PQgetvalue(res, i, 1)), col[2], jint(PQgetvalue(res, i, 2)))
                       : json_pack("{s:o, s:o}", col[0], text, col[1], jint(PQgetvalue(res, i, 1)));
        if (row == NULL || json_array_append_new(rows, row) != 0) {
            json_decref(rows);
            rows = NULL;
        }
    }
    PQclear(res);
    *out = rows ? json_pack("{s:s, s:s, s:I, s:I, s:I, s:o}", "from", p.from, "to", p.to, "total",
                            (json_int_t)total, "limit", (json_int_t)(limit >= 0 ? limit : total),
                            "offset", (json_int_t)offset, "rows", rows)
                : NULL;
    return *out ? 0 : MOCHI_ERR_NOMEM;
}

int web_stats_realtime(struct web_db *db, const struct web_site *site, json_t **out)
{
    const char *params[] = {site->id};
    PGresult *res = NULL;
    int rc = web_db_query(db, "realtime",
                          "SELECT visitors, page_views FROM mochi_recent_counts($1::uuid, 5)", 1,
                          params, &res);
    if (rc != 0)
        return rc;
    *out = json_pack("{s:i, s:o, s:o}", "minutes", 5, "visitors", jint(PQgetvalue(res, 0, 0)),
                     "page_views", jint(PQgetvalue(res, 0, 1)));
    PQclear(res);
    return *out ? 0 : MOCHI_ERR_NOMEM;
}
