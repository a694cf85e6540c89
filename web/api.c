#include "web/api.h"
#include "common/error.h"
#include "web/csv.h"
#include "web/reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const endpoints[] = {"summary",     "timeseries", "pages",     "sources",
                                        "entry-pages", "realtime",   "freshness", "export.csv"};

bool web_api_endpoint_known(const char *endpoint)
{
    for (size_t i = 0; i < sizeof(endpoints) / sizeof(endpoints[0]); i++)
        if (strcmp(endpoint, endpoints[i]) == 0)
            return true;
    return false;
}

/* The number field of a list row or point, as text. */
static long long num(json_t *obj, const char *name)
{
    return (long long)json_integer_value(json_object_get(obj, name));
}

/* The domain as a file name's part: letters, digits, '.', '-'; the rest
 * becomes '_'. */
static void file_part(const char *domain, char *out, size_t size)
{
    size_t n = 0;
    for (const char *p = domain; *p && n + 1 < size; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-';
        out[n++] = ok ? c : '_';
    }
    out[n] = '\0';
}

/* One section of the export: a header line, then a row per list entry. */
static void csv_list(struct web_buf *buf, json_t *doc, const char *text_col, const char *num1,
                     const char *num2)
{
    web_buf_printf(buf, "%s,%s%s%s\r\n", text_col, num1, num2 ? "," : "", num2 ? num2 : "");
    json_t *row;
    size_t i;
    json_array_foreach(json_object_get(doc, "rows"), i, row)
    {
        web_csv_field(buf, json_string_value(json_object_get(row, text_col)));
        web_buf_printf(buf, ",%lld", num(row, num1));
        if (num2)
            web_buf_printf(buf, ",%lld", num(row, num2));
        web_buf_puts(buf, "\r\n");
    }
}

/* GET export.csv: every table of the range, one section each, separated
 * by an empty line. */
static void export_csv(struct web_app *app, const struct web_site *site,
                       const struct web_range *range, struct web_reply *reply)
{
    struct web_db *db = web_app_db(app);
    json_t *series = NULL, *pages = NULL, *sources = NULL, *entries = NULL;
    int rc = web_stats_timeseries(db, site, range, &series);
    if (rc == 0)
        rc = web_stats_list(db, site, range, WEB_LIST_PAGES, -1, 0, &pages);
    if (rc == 0)
        rc = web_stats_list(db, site, range, WEB_LIST_SOURCES, -1, 0, &sources);
    if (rc == 0)
        rc = web_stats_list(db, site, range, WEB_LIST_ENTRY_PAGES, -1, 0, &entries);
    if (rc != 0) {
        web_reply_db_error(reply, rc);
        goto out;
    }
    struct web_buf buf = WEB_BUF_INIT;
    web_buf_puts(&buf, "date,page_views,visitors\r\n");
    json_t *point;
    size_t i;
    json_array_foreach(json_object_get(series, "points"), i, point)
    {
        web_buf_printf(&buf, "%s,%lld,%lld\r\n", json_string_value(json_object_get(point, "date")),
                       num(point, "page_views"), num(point, "visitors"));
    }
    web_buf_puts(&buf, "\r\n");
    csv_list(&buf, pages, "path", "page_views", NULL);
    web_buf_puts(&buf, "\r\n");
    csv_list(&buf, sources, "source", "entries", "visitors");
    web_buf_puts(&buf, "\r\n");
    csv_list(&buf, entries, "path", "entries", NULL);
    web_reply_buf(reply, 200, "text/csv; charset=utf-8", &buf);
    char domain[200], from[11], to[11];
    file_part(site->domain, domain, sizeof(domain));
    web_day_format(range->from, from);
    web_day_format(range->to, to);
    snprintf(reply->disposition, sizeof(reply->disposition),
             "attachment; filename=\"mochi-%s-%s-%s.csv\"", domain, from, to);
out:
    json_decref(series);
    json_decref(pages);
    json_decref(sources);
    json_decref(entries);
}

void web_api_handle(struct web_app *app, const struct web_request *req, const struct web_site *site,
                    const char *endpoint, struct web_reply *reply)
{
    struct web_db *db = web_app_db(app);
    struct web_range range;
    long long limit = 0, offset = 0;
    char err[200];
    if (web_app_params(req, site, &range, &limit, &offset, err, sizeof(err)) != 0) {
        web_reply_error(reply, 400, err);
        return;
    }
    json_t *doc = NULL;
    int rc;
    if (strcmp(endpoint, "summary") == 0)
        rc = web_stats_summary(db, site, &range, &doc);
    else if (strcmp(endpoint, "timeseries") == 0)
        rc = web_stats_timeseries(db, site, &range, &doc);
    else if (strcmp(endpoint, "pages") == 0)
        rc = web_stats_list(db, site, &range, WEB_LIST_PAGES, limit, offset, &doc);
    else if (strcmp(endpoint, "sources") == 0)
        rc = web_stats_list(db, site, &range, WEB_LIST_SOURCES, limit, offset, &doc);
    else if (strcmp(endpoint, "entry-pages") == 0)
        rc = web_stats_list(db, site, &range, WEB_LIST_ENTRY_PAGES, limit, offset, &doc);
    else if (strcmp(endpoint, "realtime") == 0)
        rc = web_stats_realtime(db, site, &doc);
    else if (strcmp(endpoint, "freshness") == 0)
        rc = web_freshness_get(web_app_freshness(app), db, NULL, &doc);
    else if (strcmp(endpoint, "export.csv") == 0) {
        export_csv(app, site, &range, reply);
        return;
    } else {
        web_reply_error(reply, 404, "no such endpoint");
        return;
    }
    if (rc != 0)
        web_reply_db_error(reply, rc);
    else
        web_reply_json(reply, 200, doc);
}
