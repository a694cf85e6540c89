#ifndef WEB_STATS_H
#define WEB_STATS_H

/* The numbers mochi-web shows, read from the daily aggregates, as the JSON
 * documents of docs/web-api.md: the API sends them as they are, and the
 * pages are rendered from the same documents, so a page and its API never
 * disagree. Every query names site_id and a date range first, the leading
 * columns of each aggregate's primary key. Thread-safe (one connection per
 * thread, web/db.h). Functions return 0 with a new document in *out
 * (caller json_decref()s it), or MOCHI_ERR_AGAIN / MOCHI_ERR_DB /
 * MOCHI_ERR_NOMEM. */

#include <jansson.h>
#include <stdbool.h>

#include "web/db.h"
#include "web/range.h"

struct web_site {
    char id[37];
    char name[256]; /* cut to fit, at a character boundary */
    char domain[256];
    char timezone[64];
    long long today; /* the site's today, by PostgreSQL in its zone */
    char role[8];    /* the user's: "viewer", "admin", or "" for none */
};

/* Loads the site with id (canonical UUID text) and user_id's role on it
 * (user_id 0: none). Returns 1, 0 when there is no such site, or an
 * error. */
int web_site_load(struct web_db *db, const char *id, long long user_id, struct web_site *site)
    __attribute__((warn_unused_result));
/* Loads the site of an unrevoked share link. Returns 1, 0 (no such live
 * link), or an error. */
int web_share_load(struct web_db *db, const char *slug, struct web_site *site)
    __attribute__((warn_unused_result));

/* {"sites": [{"id", "name", "domain", "timezone", "today", "page_views",
 * "visitors"}...]}: the sites user_id may see with today's numbers (each
 * in its zone), by name. */
int web_stats_user_sites(struct web_db *db, long long user_id, json_t **out)
    __attribute__((warn_unused_result));

int web_stats_summary(struct web_db *db, const struct web_site *site, const struct web_range *range,
                      json_t **out) __attribute__((warn_unused_result));
int web_stats_timeseries(struct web_db *db, const struct web_site *site,
                         const struct web_range *range, json_t **out)
    __attribute__((warn_unused_result));

enum web_list { WEB_LIST_PAGES, WEB_LIST_SOURCES, WEB_LIST_ENTRY_PAGES };
/* A ranked list; limit < 0: every row. */
int web_stats_list(struct web_db *db, const struct web_site *site, const struct web_range *range,
                   enum web_list list, long long limit, long long offset, json_t **out)
    __attribute__((warn_unused_result));
int web_stats_realtime(struct web_db *db, const struct web_site *site, json_t **out)
    __attribute__((warn_unused_result));

/* json_string of database text, which jansson takes only as UTF-8:
 * anything else has its bad bytes replaced by U+FFFD. NULL when out of
 * memory. */
json_t *web_json_text(const char *text);

#endif
