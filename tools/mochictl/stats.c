/* mochictl stats: daily page views, unique visitors and top pages of a site. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/db.h"
#include "tools/mochictl/mochictl.h"
#include "common/uuid.h"

static const struct mochi_setting setting_site = {.name = "site",
                                                  .type = MOCHI_SETTING_STRING,
                                                  .required = true,
                                                  .help = "the site's tracking key or id"};
static const struct mochi_setting setting_from = {.name = "from",
                                                  .type = MOCHI_SETTING_DATE,
                                                  .help =
                                                      "first UTC day (default: --to minus 6 days)"};
static const struct mochi_setting setting_to = {
    .name = "to", .type = MOCHI_SETTING_DATE, .help = "last UTC day (default: today)"};
static const struct mochi_setting setting_top = {.name = "top",
                                                 .type = MOCHI_SETTING_INT,
                                                 .default_value = "10",
                                                 .min = 0,
                                                 .max = 1000,
                                                 .help = "how many top pages"};
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
    .summary = "Prints a site's page views and unique visitors per UTC day, the totals, and its "
               "top pages over the range. Visitor hashes rotate daily, so the total of unique "
               "visitors over several days is a sum of daily uniques, not a count of people.",
    .settings = stats_settings,
};

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

int mochictl_stats(int argc, char **argv)
{
    struct mochi_config *config = mochi_config_load_or_exit(&stats_spec, argc, argv);
    int code = 1;
    PGresult *site = NULL, *days = NULL, *top = NULL;
    json_t *doc = NULL;
    long long to_day = mochi_config_str(config, &setting_to) ? mochi_config_int(config, &setting_to)
                                                             : mochi_day_today();
    long long from_day = mochi_config_str(config, &setting_from)
                             ? mochi_config_int(config, &setting_from)
                             : to_day - 6;
    char from[11], to[11], topn[16];
    mochi_day_format(from_day, from);
    mochi_day_format(to_day, to);
    snprintf(topn, sizeof(topn), "%lld", mochi_config_int(config, &setting_top));
    if (to_day < from_day) {
        fprintf(stderr, "mochictl stats: --to (%s) is before --from (%s)\n", to, from);
        mochi_config_destroy(config);
        return 2;
    }
    PGconn *conn = mochictl_connect(config);
    if (conn == NULL)
        goto out;
    const char *key = mochi_config_str(config, &setting_site);
    unsigned char bin[16];
    const char *p1[] = {key};
    site = query(conn,
                 mochi_uuid_parse(key, bin) == 0
                     ? "SELECT id, domain, name FROM sites WHERE id = $1::uuid"
                     : "SELECT id, domain, name FROM sites WHERE tracking_key = $1",
                 1, p1);
    if (site == NULL)
        goto out;
    if (PQntuples(site) == 0) {
        fprintf(stderr, "mochictl stats: no site with id or tracking key '%s'\n", key);
        goto out;
    }
    const char *id = PQgetvalue(site, 0, 0);
    const char *p3[] = {id, from, to};
    /* every day of the range, with zeros where nothing was counted */
    days = query(conn,
                 "SELECT d::date, coalesce(m.page_views, 0), coalesce(m.unique_visitors, 0)"
                 " FROM generate_series($2::date, $3::date, interval '1 day') d"
                 " LEFT JOIN daily_site_metrics m ON m.site_id = $1::uuid AND m.date = d::date"
                 " ORDER BY 1",
                 3, p3);
    const char *p4[] = {id, from, to, topn};
    top = days ? query(conn,
                       "SELECT path, sum(page_views) AS pv FROM daily_page_metrics"
                       " WHERE site_id = $1::uuid AND date BETWEEN $2::date AND $3::date"
                       " GROUP BY path ORDER BY pv DESC, path LIMIT $4::int",
                       4, p4)
               : NULL;
    if (top == NULL)
        goto out;
    long long total_pv = 0, total_uv = 0;
    for (int i = 0; i < PQntuples(days); i++) {
        total_pv += atoll(PQgetvalue(days, i, 1));
        total_uv += atoll(PQgetvalue(days, i, 2));
    }
    if (mochi_config_flag(config, &setting_json)) {
        doc = json_pack("{s:{s:s, s:s, s:s}, s:s, s:s, s:[], s:{s:I, s:I}, s:[]}", "site", "id", id,
                        "domain", PQgetvalue(site, 0, 1), "name", PQgetvalue(site, 0, 2), "from",
                        from, "to", to, "days", "totals", "page_views", (json_int_t)total_pv,
                        "sum_of_daily_unique_visitors", (json_int_t)total_uv, "top_pages");
        for (int i = 0; i < PQntuples(days); i++)
            json_array_append_new(json_object_get(doc, "days"),
                                  json_pack("{s:s, s:I, s:I}", "date", PQgetvalue(days, i, 0),
                                            "page_views", (json_int_t)atoll(PQgetvalue(days, i, 1)),
                                            "unique_visitors",
                                            (json_int_t)atoll(PQgetvalue(days, i, 2))));
        for (int i = 0; i < PQntuples(top); i++)
            json_array_append_new(json_object_get(doc, "top_pages"),
                                  json_pack("{s:s, s:I}", "path", PQgetvalue(top, i, 0),
                                            "page_views",
                                            (json_int_t)atoll(PQgetvalue(top, i, 1))));
        char *text = json_dumps(doc, JSON_COMPACT);
        puts(text);
        free(text);
    } else {
        printf("%s (%s), %s to %s (UTC)\n\n", PQgetvalue(site, 0, 1), id, from, to);
        printf("%-12s %12s %16s\n", "DATE", "PAGE VIEWS", "UNIQUE VISITORS");
        for (int i = 0; i < PQntuples(days); i++)
            printf("%-12s %12s %16s\n", PQgetvalue(days, i, 0), PQgetvalue(days, i, 1),
                   PQgetvalue(days, i, 2));
        printf("%-12s %12lld %16lld  (sum of daily unique visitors)\n\n", "total", total_pv,
               total_uv);
        printf("%-60s %12s\n", "TOP PAGES", "PAGE VIEWS");
        for (int i = 0; i < PQntuples(top); i++)
            printf("%-60s %12s\n", PQgetvalue(top, i, 0), PQgetvalue(top, i, 1));
    }
    code = 0;
out:
    json_decref(doc);
    PQclear(site);
    PQclear(days);
    PQclear(top);
    PQfinish(conn);
    mochi_config_destroy(config);
    return code;
}
