#include "web/pages.h"
#include "common/error.h"
#include "web/reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The page's head and header. csrf: the session's token for the logout
 * form and the pages' own POSTs, or NULL; chart: the page draws a chart
 * (uPlot's files). */
static void page_open(struct web_buf *b, const char *title, const struct web_viewer *viewer,
                      bool chart)
{
    const char *csrf = viewer && viewer->kind == WEB_VIEWER_SESSION && viewer->session.csrf[0]
                           ? viewer->session.csrf
                           : NULL;
    web_buf_puts(b, "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                    "<meta name=\"color-scheme\" content=\"light dark\">\n"
                    /* no icon: and no request for /favicon.ico, which would
                     * be a 404 in the browser's console */
                    "<link rel=\"icon\" href=\"data:,\">\n");
    if (csrf != NULL) {
        web_buf_puts(b, "<meta name=\"csrf-token\" content=\"");
        web_buf_html(b, csrf);
        web_buf_puts(b, "\">\n");
    }
    web_buf_puts(b, "<title>");
    web_buf_html(b, title);
    web_buf_puts(b, " · Mochi</title>\n");
    if (chart)
        web_buf_puts(b, "<link rel=\"stylesheet\" href=\"/static/uplot.min.css\">\n");
    web_buf_puts(b, "<link rel=\"stylesheet\" href=\"/static/app.css\">\n");
    if (chart)
        web_buf_puts(b, "<script defer src=\"/static/uplot.iife.min.js\"></script>\n");
    web_buf_puts(b, "<script defer src=\"/static/app.js\"></script>\n</head>\n<body>\n"
                    "<a class=\"skip-link\" href=\"#content\">Skip to content</a>\n"
                    "<header id=\"site-header\">\n");
    if (viewer != NULL && viewer->kind == WEB_VIEWER_SHARE) {
        web_buf_puts(b, "<span class=\"brand\">Mochi</span>\n");
    } else {
        web_buf_puts(b, "<a class=\"brand\" href=\"/\">Mochi</a>\n");
    }
    if (csrf != NULL) {
        web_buf_puts(b, "<nav id=\"account\" aria-label=\"Account\">\n"
                        "<a id=\"nav-sites\" href=\"/\">Your sites</a>\n"
                        "<span id=\"account-email\">");
        web_buf_html(b, viewer->session.email);
        web_buf_puts(b, "</span>\n<form id=\"logout-form\" method=\"post\" action=\"/logout\">"
                        "<input type=\"hidden\" name=\"csrf\" value=\"");
        web_buf_html(b, csrf);
        web_buf_puts(b, "\"><button type=\"submit\" id=\"logout\">Log out</button></form>\n"
                        "</nav>\n");
    }
    web_buf_puts(b, "</header>\n");
}

static void page_close(struct web_buf *b)
{
    web_buf_puts(b, "</main>\n</body>\n</html>\n");
}

void web_page_login(struct web_reply *reply, unsigned int status, const char *message,
                    const char *next)
{
    struct web_buf b = WEB_BUF_INIT;
    page_open(&b, "Log in", NULL, false);
    web_buf_puts(&b, "<main id=\"content\" class=\"login\">\n<h1>Log in to Mochi</h1>\n");
    if (message != NULL) {
        web_buf_puts(&b, "<p id=\"login-message\" class=\"message\" role=\"alert\">");
        web_buf_html(&b, message);
        web_buf_puts(&b, "</p>\n");
    }
    web_buf_puts(&b, "<form id=\"login-form\" method=\"post\" action=\"/login\">\n");
    if (next != NULL && strcmp(next, "/") != 0) {
        web_buf_puts(&b, "<input type=\"hidden\" name=\"next\" value=\"");
        web_buf_html(&b, next);
        web_buf_puts(&b, "\">\n");
    }
    web_buf_puts(&b, "<label for=\"login-email\">E-mail address</label>\n"
                     "<input type=\"email\" id=\"login-email\" name=\"email\" "
                     "autocomplete=\"username\" required autofocus>\n"
                     "<label for=\"login-password\">Password</label>\n"
                     "<input type=\"password\" id=\"login-password\" name=\"password\" "
                     "autocomplete=\"current-password\" required>\n"
                     "<button type=\"submit\" id=\"login-submit\">Log in</button>\n</form>\n");
    page_close(&b);
    web_reply_buf(reply, status, WEB_HTML_TYPE, &b);
}

void web_page_error(struct web_reply *reply, unsigned int status, const char *title,
                    const char *message, const struct web_viewer *viewer)
{
    struct web_buf b = WEB_BUF_INIT;
    page_open(&b, title, viewer, false);
    web_buf_puts(&b, "<main id=\"content\" class=\"error\">\n<h1 id=\"error-title\">");
    web_buf_html(&b, title);
    web_buf_puts(&b, "</h1>\n<p id=\"error-message\">");
    web_buf_html(&b, message);
    web_buf_puts(&b, "</p>\n");
    if (viewer == NULL || viewer->kind != WEB_VIEWER_SHARE)
        web_buf_puts(&b, "<p><a href=\"/\">Your sites</a></p>\n");
    page_close(&b);
    web_reply_buf(reply, status, WEB_HTML_TYPE, &b);
    if (status == 503)
        reply->retry_after_s = 5;
}

static const char *jtext(json_t *obj, const char *name)
{
    const char *s = json_string_value(json_object_get(obj, name));
    return s ? s : "";
}

static long long jnum(json_t *obj, const char *name)
{
    return (long long)json_integer_value(json_object_get(obj, name));
}

void web_page_sites(struct web_app *app, const struct web_viewer *viewer, struct web_reply *reply)
{
    json_t *doc = NULL;
    int rc = web_stats_user_sites(web_app_db(app), viewer->session.user_id, &doc);
    if (rc != 0) {
        web_page_error(reply, rc == MOCHI_ERR_AGAIN ? 503 : 500, "Database unavailable",
                       "The database cannot be reached. Try again shortly.", viewer);
        return;
    }
    struct web_buf b = WEB_BUF_INIT;
    page_open(&b, "Your sites", viewer, false);
    web_buf_puts(&b, "<main id=\"content\" class=\"sites\">\n<h1>Your sites</h1>\n");
    json_t *sites = json_object_get(doc, "sites");
    if (json_array_size(sites) == 0) {
        web_buf_puts(&b, "<p id=\"no-sites\" class=\"empty\">You have no site yet: an admin "
                         "grants access with <code>mochictl users grant</code>.</p>\n");
    } else {
        web_buf_puts(&b, "<table id=\"sites-table\">\n<caption>Today, in each site's time "
                         "zone</caption>\n<thead><tr><th scope=\"col\">Site</th>"
                         "<th scope=\"col\">Domain</th><th scope=\"col\">Time zone</th>"
                         "<th scope=\"col\" class=\"num\">Page views today</th>"
                         "<th scope=\"col\" class=\"num\">Visitors today</th></tr></thead>\n"
                         "<tbody>\n");
        size_t i;
        json_t *site;
        json_array_foreach(sites, i, site)
        {
            web_buf_puts(&b, "<tr class=\"site\" data-site=\"");
            web_buf_html(&b, jtext(site, "id"));
            web_buf_puts(&b, "\"><th scope=\"row\"><a href=\"/sites/");
            web_buf_html(&b, jtext(site, "id"));
            web_buf_puts(&b, "\">");
            web_buf_html(&b, jtext(site, "name"));
            web_buf_puts(&b, "</a></th><td class=\"domain\">");
            web_buf_html(&b, jtext(site, "domain"));
            web_buf_puts(&b, "</td><td class=\"timezone\">");
            web_buf_html(&b, jtext(site, "timezone"));
            web_buf_printf(&b,
                           "</td><td class=\"num page-views\">%lld</td>"
                           "<td class=\"num visitors\">%lld</td></tr>\n",
                           jnum(site, "page_views"), jnum(site, "visitors"));
        }
        web_buf_puts(&b, "</tbody>\n</table>\n");
    }
    json_decref(doc);
    page_close(&b);
    web_reply_buf(reply, 200, WEB_HTML_TYPE, &b);
}

/* ---- the dashboard ---- */

/* What one dashboard shows, read before anything is written. */
struct dashboard {
    json_t *summary, *series, *pages, *sources, *entries, *realtime, *fresh;
};

static void dashboard_free(struct dashboard *d)
{
    json_decref(d->summary);
    json_decref(d->series);
    json_decref(d->pages);
    json_decref(d->sources);
    json_decref(d->entries);
    json_decref(d->realtime);
    json_decref(d->fresh);
}

static int dashboard_load(struct web_app *app, const struct web_site *site,
                          const struct web_range *range, struct dashboard *d)
{
    struct web_db *db = web_app_db(app);
    int rc = web_stats_summary(db, site, range, &d->summary);
    if (rc == 0)
        rc = web_stats_timeseries(db, site, range, &d->series);
    if (rc == 0)
        rc = web_stats_list(db, site, range, WEB_LIST_PAGES, 10, 0, &d->pages);
    if (rc == 0)
        rc = web_stats_list(db, site, range, WEB_LIST_SOURCES, 10, 0, &d->sources);
    if (rc == 0)
        rc = web_stats_list(db, site, range, WEB_LIST_ENTRY_PAGES, 10, 0, &d->entries);
    if (rc == 0)
        rc = web_stats_realtime(db, site, &d->realtime);
    if (rc == 0)
        rc = web_freshness_get(web_app_freshness(app), db, site->timezone, &d->fresh);
    return rc;
}

/* "?from=...&to=...[&compare=previous]" for the range (HTML-escaped by
 * the caller: it holds '&'). */
static void range_query(struct web_buf *b, const struct web_range *range, bool compare)
{
    char from[11], to[11];
    web_day_format(range->from, from);
    web_day_format(range->to, to);
    web_buf_printf(b, "?from=%s&to=%s%s", from, to, compare ? "&compare=previous" : "");
}

/* A link to the same dashboard with other parameters: href="base?query". */
static void link_href(struct web_buf *b, const char *base, const char *query)
{
    web_buf_puts(b, "href=\"");
    web_buf_html(b, base);
    web_buf_html(b, query);
    web_buf_puts(b, "\"");
}

static void presets(struct web_buf *b, const struct web_viewer *viewer,
                    const struct web_range *range)
{
    web_buf_puts(b, "<nav id=\"range-presets\" aria-label=\"Date range\">\n<ul>\n");
    for (int p = 0; p < WEB_NPRESETS; p++) {
        char query[64];
        snprintf(query, sizeof(query), "?range=%s%s", web_preset_name((enum web_preset)p),
                 range->compare ? "&compare=previous" : "");
        web_buf_printf(b, "<li><a class=\"preset\" data-range=\"%s\" ",
                       web_preset_name((enum web_preset)p));
        link_href(b, viewer->page_base, query);
        if (range->preset == p)
            web_buf_puts(b, " aria-current=\"page\"");
        web_buf_printf(b, ">%s</a></li>\n", web_preset_label((enum web_preset)p));
    }
    web_buf_puts(b, "</ul>\n</nav>\n");
}

static void custom_range(struct web_buf *b, const struct web_viewer *viewer,
                         const struct web_range *range)
{
    char from[11], to[11];
    web_day_format(range->from, from);
    web_day_format(range->to, to);
    web_buf_puts(b, "<form id=\"custom-range\" method=\"get\" action=\"");
    web_buf_html(b, viewer->page_base);
    web_buf_printf(b,
                   "\">\n<label for=\"range-from\">From</label>\n"
                   "<input type=\"date\" id=\"range-from\" name=\"from\" value=\"%s\" required>\n"
                   "<label for=\"range-to\">To</label>\n"
                   "<input type=\"date\" id=\"range-to\" name=\"to\" value=\"%s\" required>\n"
                   "<input type=\"checkbox\" id=\"range-compare\" name=\"compare\" "
                   "value=\"previous\"%s>\n"
                   "<label for=\"range-compare\">Compare with the previous period</label>\n"
                   "<button type=\"submit\">Show</button>\n</form>\n",
                   from, to, range->compare ? " checked" : "");
    /* The same range with comparison switched. */
    web_buf_puts(b, "<p id=\"compare-toggle\"><a ");
    struct web_buf q = WEB_BUF_INIT;
    if (range->preset != WEB_PRESET_NONE)
        web_buf_printf(&q, "?range=%s%s", web_preset_name(range->preset),
                       range->compare ? "" : "&compare=previous");
    else
        range_query(&q, range, !range->compare);
    link_href(b, viewer->page_base, q.data ? q.data : "");
    web_buf_free(&q);
    web_buf_printf(b, ">%s</a></p>\n",
                   range->compare ? "Stop comparing" : "Compare with the previous period");
}

/* The change from previous to current, as the page says it. */
static void change(struct web_buf *b, long long current, long long previous)
{
    if (previous == 0) {
        web_buf_printf(b, "<dd class=\"total-change\" data-change=\"%s\">%s</dd>",
                       current == 0 ? "same" : "new", current == 0 ? "no change" : "new");
        return;
    }
    double pct = ((double)current - (double)previous) * 100.0 / (double)previous;
    const char *dir = current > previous ? "up" : current < previous ? "down" : "same";
    web_buf_printf(b, "<dd class=\"total-change\" data-change=\"%s\">%s%.1f%%</dd>", dir,
                   pct > 0 ? "+" : "", pct);
}

static void total(struct web_buf *b, const char *id, const char *label, const char *note,
                  const char *field, json_t *summary)
{
    long long value = jnum(summary, field);
    web_buf_printf(b, "<div class=\"total\" id=\"%s\">\n<dt>%s", id, label);
    if (note != NULL)
        web_buf_printf(b, " <span class=\"total-note\">%s</span>", note);
    web_buf_printf(b, "</dt>\n<dd class=\"total-value\" data-value=\"%lld\">%lld</dd>\n", value,
                   value);
    json_t *compare = json_object_get(summary, "compare");
    if (json_is_object(compare)) {
        long long previous = jnum(compare, field);
        web_buf_printf(b,
                       "<dd class=\"total-previous\" data-value=\"%lld\">previous period: "
                       "%lld</dd>\n",
                       previous, previous);
        change(b, value, previous);
        web_buf_puts(b, "\n");
    }
    web_buf_puts(b, "</div>\n");
}

static void totals(struct web_buf *b, json_t *summary)
{
    bool is_sum = json_is_true(json_object_get(summary, "visitors_is_sum"));
    web_buf_puts(b, "<section id=\"totals\" aria-labelledby=\"totals-title\">\n"
                    "<h2 id=\"totals-title\">Totals</h2>\n<dl>\n");
    total(b, "total-page-views", "Page views", NULL, "page_views", summary);
    total(b, "total-visitors", "Visitors", is_sum ? "(sum of daily uniques)" : NULL, "visitors",
          summary);
    total(b, "total-entries", "Visits", "(entries from outside the site)", "entries", summary);
    web_buf_puts(b, "</dl>\n</section>\n");
}

static void daily(struct web_buf *b, const struct web_viewer *viewer, const struct web_range *range,
                  json_t *series)
{
    web_buf_puts(b, "<section id=\"daily\" aria-labelledby=\"daily-title\">\n"
                    "<h2 id=\"daily-title\">Page views and visitors per day</h2>\n"
                    "<div id=\"chart\" data-api=\"");
    struct web_buf q = WEB_BUF_INIT;
    web_buf_puts(&q, viewer->api_base);
    web_buf_puts(&q, "/timeseries");
    range_query(&q, range, range->compare);
    web_buf_html(b, q.data ? q.data : "");
    web_buf_free(&q);
    json_t *compare = json_object_get(series, "compare");
    json_t *cpoints = json_is_object(compare) ? json_object_get(compare, "points") : NULL;
    web_buf_puts(b, "\"></div>\n<table id=\"daily-table\" class=\"numbers\">\n"
                    "<caption>The chart's numbers, per day</caption>\n<thead><tr>"
                    "<th scope=\"col\">Date</th><th scope=\"col\" class=\"num\">Page views</th>"
                    "<th scope=\"col\" class=\"num\">Visitors</th>");
    if (cpoints != NULL)
        web_buf_puts(b, "<th scope=\"col\">Previous period</th>"
                        "<th scope=\"col\" class=\"num\">Page views</th>"
                        "<th scope=\"col\" class=\"num\">Visitors</th>");
    web_buf_puts(b, "</tr></thead>\n<tbody>\n");
    size_t i;
    json_t *point;
    json_array_foreach(json_object_get(series, "points"), i, point)
    {
        web_buf_printf(b,
                       "<tr><th scope=\"row\"><time datetime=\"%s\">%s</time></th>"
                       "<td class=\"num\">%lld</td><td class=\"num\">%lld</td>",
                       jtext(point, "date"), jtext(point, "date"), jnum(point, "page_views"),
                       jnum(point, "visitors"));
        json_t *cp = cpoints ? json_array_get(cpoints, i) : NULL;
        if (cp != NULL)
            web_buf_printf(b,
                           "<td><time datetime=\"%s\">%s</time></td><td class=\"num\">%lld</td>"
                           "<td class=\"num\">%lld</td>",
                           jtext(cp, "date"), jtext(cp, "date"), jnum(cp, "page_views"),
                           jnum(cp, "visitors"));
        web_buf_puts(b, "</tr>\n");
    }
    web_buf_puts(b, "</tbody>\n</table>\n</section>\n");
}

/* A ranked list as a table: the text column (with "Direct / none" for an
 * empty source), then the numbers. */
static void ranked(struct web_buf *b, const char *id, const char *title, const char *empty,
                   json_t *doc, const char *text_field, const char *text_label,
                   const char *const fields[], const char *const labels[], size_t nfields)
{
    web_buf_printf(b,
                   "<section id=\"%s\" aria-labelledby=\"%s-title\">\n"
                   "<h2 id=\"%s-title\">%s</h2>\n",
                   id, id, id, title);
    json_t *rows = json_object_get(doc, "rows");
    if (json_array_size(rows) == 0) {
        web_buf_printf(b, "<p class=\"empty\">%s</p>\n</section>\n", empty);
        return;
    }
    web_buf_printf(b,
                   "<table id=\"%s-table\" class=\"ranked\">\n<thead><tr>"
                   "<th scope=\"col\">%s</th>",
                   id, text_label);
    for (size_t f = 0; f < nfields; f++)
        web_buf_printf(b, "<th scope=\"col\" class=\"num\">%s</th>", labels[f]);
    web_buf_puts(b, "</tr></thead>\n<tbody>\n");
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        const char *text = jtext(row, text_field);
        if (text[0] == '\0' && strcmp(text_field, "source") == 0) {
            web_buf_puts(b, "<tr><th scope=\"row\" class=\"direct\">Direct / none</th>");
        } else {
            web_buf_puts(b, "<tr><th scope=\"row\">");
            web_buf_html(b, text);
            web_buf_puts(b, "</th>");
        }
        for (size_t f = 0; f < nfields; f++)
            web_buf_printf(b, "<td class=\"num\">%lld</td>", jnum(row, fields[f]));
        web_buf_puts(b, "</tr>\n");
    }
    web_buf_printf(b, "</tbody>\n</table>\n");
    long long all = jnum(doc, "total");
    if (all > (long long)json_array_size(rows))
        web_buf_printf(b, "<p class=\"more\">Top %zu of %lld; the CSV export has them all.</p>\n",
                       json_array_size(rows), all);
    web_buf_puts(b, "</section>\n");
}

static void freshness_line(struct web_buf *b, json_t *fresh)
{
    const char *state = jtext(fresh, "state");
    web_buf_printf(b, "<p id=\"freshness\" data-state=\"%s\"", state);
    if (json_is_string(json_object_get(fresh, "counted_up_to")))
        web_buf_printf(b, " data-counted-up-to=\"%s\"", jtext(fresh, "counted_up_to"));
    web_buf_puts(b, ">");
    if (strcmp(state, "catching_up") == 0) {
        web_buf_printf(b, "Catching up: %lld events behind", jnum(fresh, "behind"));
        if (json_is_string(json_object_get(fresh, "local_time"))) {
            web_buf_puts(b, " (counted up to ");
            web_buf_html(b, jtext(fresh, "local_time"));
            web_buf_puts(b, ")");
        }
    } else if (json_is_string(json_object_get(fresh, "local_time"))) {
        web_buf_puts(b, "Counted up to ");
        web_buf_html(b, jtext(fresh, "local_time"));
        web_buf_printf(b, " (%.1f s ago)",
                       json_number_value(json_object_get(fresh, "lag_seconds")));
    } else {
        web_buf_puts(b, "Freshness unknown: the rollup has recorded no progress yet");
    }
    web_buf_puts(b, "</p>\n");
}

void web_page_dashboard(struct web_app *app, const struct web_request *req,
                        const struct web_viewer *viewer, const struct web_site *site,
                        struct web_reply *reply)
{
    struct web_range range;
    long long limit = 0, offset = 0;
    char err[200];
    if (web_app_params(req, site, &range, &limit, &offset, err, sizeof(err)) != 0) {
        web_page_error(reply, 400, "Bad date range", err, viewer);
        return;
    }
    struct dashboard d = {0};
    int rc = dashboard_load(app, site, &range, &d);
    if (rc != 0) {
        dashboard_free(&d);
        web_page_error(reply, rc == MOCHI_ERR_AGAIN ? 503 : 500, "Database unavailable",
                       "The database cannot be reached. Try again shortly.", viewer);
        return;
    }
    char from[11], to[11];
    web_day_format(range.from, from);
    web_day_format(range.to, to);
    struct web_buf b = WEB_BUF_INIT;
    page_open(&b, site->name, viewer, true);
    web_buf_puts(&b, "<main id=\"content\" class=\"dashboard\" data-site=\"");
    web_buf_html(&b, site->id);
    web_buf_puts(&b, "\" data-api=\"");
    web_buf_html(&b, viewer->api_base);
    web_buf_puts(&b, "\" data-timezone=\"");
    web_buf_html(&b, site->timezone);
    web_buf_printf(&b,
                   "\" data-from=\"%s\" data-to=\"%s\" data-range=\"%s\" data-compare=\"%s\">\n",
                   from, to, web_preset_name(range.preset), range.compare ? "previous" : "");
    web_buf_puts(&b, "<h1 id=\"site-name\">");
    web_buf_html(&b, site->name);
    web_buf_puts(&b, "</h1>\n<p id=\"site-meta\"><span id=\"site-domain\">");
    web_buf_html(&b, site->domain);
    web_buf_puts(&b, "</span> · days in <span id=\"site-timezone\">");
    web_buf_html(&b, site->timezone);
    web_buf_puts(&b, "</span></p>\n");
    if (viewer->kind == WEB_VIEWER_SHARE)
        web_buf_puts(&b, "<p id=\"share-note\">A shared, read-only dashboard.</p>\n");
    presets(&b, viewer, &range);
    custom_range(&b, viewer, &range);
    long long days = range.to - range.from + 1;
    web_buf_printf(&b,
                   "<p id=\"range-label\"><time datetime=\"%s\">%s</time> to "
                   "<time datetime=\"%s\">%s</time> (%lld day%s)",
                   from, from, to, to, days, days == 1 ? "" : "s");
    if (range.compare) {
        char cfrom[11], cto[11];
        web_day_format(range.cfrom, cfrom);
        web_day_format(range.cto, cto);
        web_buf_printf(&b,
                       ", compared with <time datetime=\"%s\">%s</time> to "
                       "<time datetime=\"%s\">%s</time>",
                       cfrom, cfrom, cto, cto);
    }
    web_buf_puts(&b, "</p>\n");
    totals(&b, d.summary);
    daily(&b, viewer, &range, d.series);
    static const char *const page_fields[] = {"page_views"}, *const page_labels[] = {"Views"};
    static const char *const source_fields[] = {"visitors", "entries"}, *const source_labels[] = {
                                                                            "Visitors", "Visits"};
    static const char *const entry_fields[] = {"entries"}, *const entry_labels[] = {"Entries"};
    ranked(&b, "top-pages", "Top pages", "No page views in this range.", d.pages, "path", "Page",
           page_fields, page_labels, 1);
    ranked(&b, "top-sources", "Top sources", "No visits in this range.", d.sources, "source",
           "Source", source_fields, source_labels, 2);
    ranked(&b, "entry-pages", "Entry pages", "No visits in this range.", d.entries, "path", "Page",
           entry_fields, entry_labels, 1);
    web_buf_printf(&b,
                   "<section id=\"realtime\" aria-labelledby=\"realtime-title\">\n"
                   "<h2 id=\"realtime-title\">Right now</h2>\n<p><span id=\"realtime-visitors\">"
                   "%lld</span> visitors (<span id=\"realtime-page-views\">%lld</span> page "
                   "views) in the last 5 minutes</p>\n",
                   jnum(d.realtime, "visitors"), jnum(d.realtime, "page_views"));
    freshness_line(&b, d.fresh);
    web_buf_puts(&b, "</section>\n<p id=\"export\"><a id=\"export-csv\" ");
    struct web_buf q = WEB_BUF_INIT;
    web_buf_puts(&q, "/export.csv");
    range_query(&q, &range, false);
    link_href(&b, viewer->api_base, q.data ? q.data : "");
    web_buf_free(&q);
    web_buf_puts(&b, " download>Download CSV</a></p>\n");
    dashboard_free(&d);
    page_close(&b);
    web_reply_buf(reply, 200, WEB_HTML_TYPE, &b);
}
