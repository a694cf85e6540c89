#ifndef WEB_APP_H
#define WEB_APP_H

/* mochi-web's routes (docs/web-api.md): who is asking (session, API token
 * or share link), what they may see, and which page or API endpoint
 * answers. app.c holds the router and the authentication flows; api.c the
 * JSON API and the CSV export; pages.c the HTML. */

#include <stdbool.h>

#include "common/metrics.h"
#include "web/auth.h"
#include "web/db.h"
#include "web/freshness.h"
#include "web/ratelimit.h"
#include "web/server.h"
#include "web/stats.h"

/* Login failures allowed per address and window (docs/web-api.md). */
#define WEB_LOGIN_FAILURES 5
#define WEB_LOGIN_WINDOW_MS (15 * 60 * 1000LL)

struct web_app_options {
    bool secure_cookie;
    long long session_ttl_s;
};

struct web_app;

/* Everything borrowed must outlive the app. Registers the app's metric
 * families in metrics. Returns 0 and *out (caller owns it), or
 * MOCHI_ERR_NOMEM. */
int web_app_new(const struct web_app_options *options, struct web_db *db,
                struct web_freshness *fresh, struct mochi_metrics *metrics, struct web_app **out)
    __attribute__((warn_unused_result));
void web_app_destroy(struct web_app *app);

/* Registers the app's families without making one (--print-metrics). */
int web_app_metrics_describe(struct mochi_metrics *metrics) __attribute__((warn_unused_result));

/* The server's handler (web/server.h); arg is the app. */
void web_app_handle(void *arg, const struct web_request *req, struct web_reply *reply);

/* Who is looking at a site's numbers, and where its pages and API are. */
enum web_viewer_kind { WEB_VIEWER_SESSION, WEB_VIEWER_TOKEN, WEB_VIEWER_SHARE };
struct web_viewer {
    enum web_viewer_kind kind;
    struct web_session session; /* WEB_VIEWER_SESSION */
    char page_base[128];        /* "/sites/<id>" or "/share/<slug>" */
    char api_base[128];         /* "/api/v1/sites/<id>" or "/share/<slug>/api/v1" */
};

/* What api.c and pages.c use of the app. */
struct web_db *web_app_db(struct web_app *app);
struct web_freshness *web_app_freshness(struct web_app *app);

/* The range and list parameters of a request against the site's today
 * (docs/web-api.md "Parameters"). Returns 0, or MOCHI_ERR_INVALID with the
 * message for a 400 in err. */
int web_app_params(const struct web_request *req, const struct web_site *site,
                   struct web_range *range, long long *limit, long long *offset, char *err,
                   size_t errlen) __attribute__((warn_unused_result));

#endif
