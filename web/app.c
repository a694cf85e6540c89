#include "web/app.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "common/uuid.h"
#include "web/api.h"
#include "web/assets.h"
#include "web/pages.h"
#include "web/parse.h"
#include "web/reply.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* Metric labels: a fixed set, so that no request can make a series. */
enum route {
    ROUTE_LOGIN,
    ROUTE_LOGOUT,
    ROUTE_SITES,
    ROUTE_DASHBOARD,
    ROUTE_SHARE,
    ROUTE_API,
    ROUTE_SHARE_API,
    ROUTE_EXPORT,
    ROUTE_STATIC,
    ROUTE_OTHER,
    NROUTES
};
static const char *const route_names[NROUTES] = {"login",  "logout", "sites",     "dashboard",
                                                 "share",  "api",    "share_api", "export",
                                                 "static", "other"};
static const unsigned int codes[] = {200, 303, 304, 400, 401, 403, 404, 405, 429, 500, 503};
#define NCODES (sizeof(codes) / sizeof(codes[0]))

enum login_outcome { LOGIN_OK, LOGIN_BAD, LOGIN_LIMITED, NLOGIN };
static const char *const login_names[NLOGIN] = {"ok", "bad", "limited"};

struct web_app {
    struct web_app_options options;
    struct web_db *db;
    struct web_freshness *fresh;
    struct web_ratelimit *logins;
    struct mochi_metric *requests[NROUTES][NCODES];
    struct mochi_metric *seconds[NROUTES];
    struct mochi_metric *login_outcomes[NLOGIN];
};

static int make_metrics(struct mochi_metrics *metrics, struct web_app *app)
{
    static const char *const req_labels[] = {"route", "code"};
    static const char *const route_label[] = {"route"};
    static const char *const outcome_label[] = {"outcome"};
    static const double bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                    0.1,   0.25,   0.5,   1,    2.5,   5};
    struct mochi_metric_family *req =
        mochi_metrics_counter(metrics, "mochi_web_requests_total",
                              "HTTP requests answered, by route and status code", 2, req_labels);
    struct mochi_metric_family *secs = mochi_metrics_histogram(
        metrics, "mochi_web_request_seconds", "time to answer a request, by route", 1, route_label,
        bounds, sizeof(bounds) / sizeof(bounds[0]));
    struct mochi_metric_family *logins = mochi_metrics_counter(
        metrics, "mochi_web_logins_total", "login attempts by outcome", 1, outcome_label);
    if (req == NULL || secs == NULL || logins == NULL)
        return MOCHI_ERR_NOMEM;
    for (size_t r = 0; r < NROUTES; r++) {
        for (size_t c = 0; c < NCODES; c++) {
            char code[8];
            snprintf(code, sizeof(code), "%u", codes[c]);
            const char *values[] = {route_names[r], code};
            if ((app->requests[r][c] = mochi_metrics_child(req, values)) == NULL)
                return MOCHI_ERR_NOMEM;
        }
        const char *values[] = {route_names[r]};
        if ((app->seconds[r] = mochi_metrics_child(secs, values)) == NULL)
            return MOCHI_ERR_NOMEM;
    }
    for (size_t o = 0; o < NLOGIN; o++) {
        const char *values[] = {login_names[o]};
        if ((app->login_outcomes[o] = mochi_metrics_child(logins, values)) == NULL)
            return MOCHI_ERR_NOMEM;
    }
    return 0;
}

int web_app_metrics_describe(struct mochi_metrics *metrics)
{
    struct web_app *unused = calloc(1, sizeof(*unused));
    int rc = unused != NULL ? make_metrics(metrics, unused) : MOCHI_ERR_NOMEM;
    free(unused);
    return rc;
}

int web_app_new(const struct web_app_options *options, struct web_db *db,
                struct web_freshness *fresh, struct mochi_metrics *metrics, struct web_app **out)
{
    struct web_app *app = calloc(1, sizeof(*app));
    if (app == NULL)
        return MOCHI_ERR_NOMEM;
    app->options = *options;
    app->db = db;
    app->fresh = fresh;
    int rc = make_metrics(metrics, app);
    if (rc == 0)
        rc = web_ratelimit_new(16384, WEB_LOGIN_FAILURES, WEB_LOGIN_WINDOW_MS, &app->logins);
    if (rc != 0) {
        web_app_destroy(app);
        return rc;
    }
    *out = app;
    return 0;
}

void web_app_destroy(struct web_app *app)
{
    if (app == NULL)
        return;
    web_ratelimit_destroy(app->logins);
    free(app);
}

struct web_db *web_app_db(struct web_app *app)
{
    return app->db;
}

struct web_freshness *web_app_freshness(struct web_app *app)
{
    return app->fresh;
}

int web_app_params(const struct web_request *req, const struct web_site *site,
                   struct web_range *range, long long *limit, long long *offset, char *err,
                   size_t errlen)
{
    bool bad = false;
    const char *from = web_request_arg(req, "from", &bad);
    const char *to = web_request_arg(req, "to", &bad);
    const char *preset = web_request_arg(req, "range", &bad);
    const char *compare = web_request_arg(req, "compare", &bad);
    const char *limit_text = web_request_arg(req, "limit", &bad);
    const char *offset_text = web_request_arg(req, "offset", &bad);
    if (bad) {
        snprintf(err, errlen, "a query parameter holds a NUL byte (%%00)");
        return MOCHI_ERR_INVALID;
    }
    /* An empty value (a form's blank field) counts as absent. */
    from = from && from[0] ? from : NULL;
    to = to && to[0] ? to : NULL;
    compare = compare && compare[0] ? compare : NULL;
    *limit = 10;
    *offset = 0;
    if (limit_text != NULL && web_parse_int(limit_text, 1, 1000, limit) != 0) {
        snprintf(err, errlen, "limit: must be a whole number from 1 to 1000");
        return MOCHI_ERR_INVALID;
    }
    if (offset_text != NULL && web_parse_int(offset_text, 0, 1000000000, offset) != 0) {
        snprintf(err, errlen, "offset: must be a whole number from 0 to 1000000000");
        return MOCHI_ERR_INVALID;
    }
    return web_range_parse(from, to, preset, compare, site->today, range, err, errlen);
}

/* ---- requests ---- */

static void count(struct web_app *app, enum route route, const struct web_request *req,
                  const struct web_reply *reply)
{
    for (size_t c = 0; c < NCODES; c++)
        if (codes[c] == reply->status)
            mochi_metric_inc(app->requests[route][c]);
    mochi_metric_observe(app->seconds[route],
                         (double)(mochi_clock_mono_us() - req->started_us) / 1e6);
}

static bool is_get(const struct web_request *req)
{
    return strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
}

static void method_not_allowed(struct web_reply *reply, const char *allow)
{
    web_reply_error(reply, 405, "method not allowed");
    reply->allow = allow;
}

/* The session cookie's value into out, or false. */
static bool session_cookie(const struct web_request *req, char out[64])
{
    const char *header = web_request_header(req, "Cookie");
    return header != NULL && web_cookie_value(header, WEB_SESSION_COOKIE, out, 64);
}

static void set_cookie(const struct web_app *app, struct web_reply *reply, const char *value,
                       long long max_age)
{
    snprintf(reply->cookie, sizeof(reply->cookie),
             WEB_SESSION_COOKIE "=%s; Path=/; HttpOnly; SameSite=Lax; Max-Age=%lld%s", value,
             max_age, app->options.secure_cookie ? "; Secure" : "");
}

/* Looks up the request's session. Returns 1 (found, in *session; an
 * extended one has its cookie sent again), 0 (none) or a database error. */
static int find_session(struct web_app *app, const struct web_request *req,
                        struct web_session *session, struct web_reply *reply)
{
    char cookie[64];
    if (!session_cookie(req, cookie))
        return 0;
    int rc = web_session_find(app->db, cookie, app->options.session_ttl_s, session);
    if (rc == 1 && session->extended)
        set_cookie(app, reply, cookie, app->options.session_ttl_s);
    sodium_memzero(cookie, sizeof(cookie));
    return rc;
}

/* /login?next=<this page> */
static void redirect_to_login(const struct web_request *req, struct web_reply *reply)
{
    struct web_buf target = WEB_BUF_INIT, next = WEB_BUF_INIT;
    web_buf_puts(&next, req->path);
    static const char *const keep[] = {"range", "from", "to", "compare"};
    char sep = '?';
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
        bool bad = false;
        const char *v = web_request_arg(req, keep[i], &bad);
        if (v == NULL || bad)
            continue;
        web_buf_printf(&next, "%c%s=", sep, keep[i]);
        web_buf_urlencode(&next, v);
        sep = '&';
    }
    web_buf_puts(&target, "/login?next=");
    web_buf_urlencode(&target, next.data ? next.data : "/");
    web_reply_redirect(reply, target.data && !target.failed ? target.data : "/login");
    web_buf_free(&target);
    web_buf_free(&next);
}

/* A POST without a session may only be a login from one of our pages:
 * its Origin (or else Referer) must name the Host it is sent to. A
 * request with neither comes from no browser (every browser sends Origin
 * with a cross-site POST), so it is no forgery. */
static bool same_origin(const struct web_request *req)
{
    const char *origin = web_request_header(req, "Origin");
    const char *referer = web_request_header(req, "Referer");
    const char *host = web_request_header(req, "Host");
    if (origin == NULL && referer == NULL)
        return true;
    char authority[300];
    const char *from = origin != NULL ? origin : referer;
    return host != NULL && web_url_authority(from, authority, sizeof(authority)) &&
           strcasecmp(authority, host) == 0;
}

static void login_post(struct web_app *app, const struct web_request *req, struct web_reply *reply)
{
    char email[256] = "", password[1024] = "", next[2048] = "";
    long email_len = web_form_field(req->body, req->body_len, "email", email, sizeof(email));
    long pass_len =
        web_form_field(req->body, req->body_len, "password", password, sizeof(password));
    if (web_form_field(req->body, req->body_len, "next", next, sizeof(next)) < 0 ||
        !web_local_path(next))
        snprintf(next, sizeof(next), "/");
    if (!same_origin(req)) {
        mochi_log(MOCHI_LOG_WARN, "web", "msg=\"cross-site login refused\"");
        web_page_login(reply, 403, "This form was sent from another site: refused.", next);
        goto out;
    }
    long long retry_ms = 0;
    long long now = mochi_clock_mono_ms();
    if (!web_ratelimit_allowed(app->logins, req->family, req->addr, now, &retry_ms)) {
        mochi_metric_inc(app->login_outcomes[LOGIN_LIMITED]);
        web_page_login(reply, 429, "Too many failed logins from your address: try again later.",
                       next);
        reply->retry_after_s = (long)((retry_ms + 999) / 1000);
        goto out;
    }
    long long user_id = 0;
    /* A field missing or too long is checked all the same: the answer and
     * its time are those of a wrong password. */
    if (email_len < 0)
        email[0] = '\0';
    if (pass_len < 0)
        password[0] = '\0';
    int rc = web_login_check(app->db, email, password, &user_id);
    if (rc == 1 && (email_len <= 0 || pass_len <= 0))
        rc = 0;
    if (rc < 0) {
        web_page_error(reply, rc == MOCHI_ERR_AGAIN ? 503 : 500, "Database unavailable",
                       "The database cannot be reached. Try again shortly.", NULL);
        goto out;
    }
    if (rc == 0) {
        web_ratelimit_failure(app->logins, req->family, req->addr, now);
        mochi_metric_inc(app->login_outcomes[LOGIN_BAD]);
        mochi_log(MOCHI_LOG_INFO, "web", "msg=\"login failed\"");
        web_page_login(reply, 401, "Wrong e-mail address or password.", next);
        goto out;
    }
    char cookie[WEB_TOKEN_TEXT_LEN + 1];
    rc = web_session_open(app->db, user_id, app->options.session_ttl_s, cookie);
    if (rc != 0) {
        web_page_error(reply, rc == MOCHI_ERR_AGAIN ? 503 : 500, "Database unavailable",
                       "The database cannot be reached. Try again shortly.", NULL);
        goto out;
    }
    web_ratelimit_success(app->logins, req->family, req->addr);
    mochi_metric_inc(app->login_outcomes[LOGIN_OK]);
    mochi_log(MOCHI_LOG_INFO, "web", "msg=\"logged in\" user_id=%lld", user_id);
    web_reply_redirect(reply, next);
    set_cookie(app, reply, cookie, app->options.session_ttl_s);
    sodium_memzero(cookie, sizeof(cookie));
out:
    sodium_memzero(password, sizeof(password));
}

static enum route login(struct web_app *app, const struct web_request *req, struct web_reply *reply)
{
    if (strcmp(req->method, "POST") == 0) {
        login_post(app, req, reply);
    } else if (is_get(req)) {
        bool bad = false;
        const char *next = web_request_arg(req, "next", &bad);
        web_page_login(reply, 200, NULL, !bad && web_local_path(next) ? next : NULL);
    } else {
        method_not_allowed(reply, "GET, HEAD, POST");
    }
    return ROUTE_LOGIN;
}

/* The CSRF token a POST carries (form field or header), checked against
 * the session's in constant time. */
static bool csrf_ok(const struct web_request *req, const struct web_session *session)
{
    char sent[128] = "";
    const char *header = web_request_header(req, "X-CSRF-Token");
    if (header != NULL)
        snprintf(sent, sizeof(sent), "%s", header);
    else if (web_form_field(req->body, req->body_len, "csrf", sent, sizeof(sent)) < 0)
        return false;
    size_t len = strlen(session->csrf);
    return len > 0 && strlen(sent) == len && sodium_memcmp(sent, session->csrf, len) == 0;
}

static enum route logout(struct web_app *app, const struct web_request *req,
                         struct web_reply *reply)
{
    if (strcmp(req->method, "POST") != 0) {
        method_not_allowed(reply, "POST");
        return ROUTE_LOGOUT;
    }
    struct web_session session;
    int rc = find_session(app, req, &session, reply);
    if (rc < 0) {
        web_reply_db_error(reply, rc);
        return ROUTE_LOGOUT;
    }
    if (rc == 0) {
        web_reply_redirect(reply, "/login");
        return ROUTE_LOGOUT;
    }
    if (!csrf_ok(req, &session)) {
        web_reply_error(reply, 403, "CSRF token missing or wrong");
        reply->cookie[0] = '\0';
        return ROUTE_LOGOUT;
    }
    char cookie[64];
    rc = session_cookie(req, cookie) ? web_session_close(app->db, cookie) : 0;
    sodium_memzero(cookie, sizeof(cookie));
    if (rc != 0) {
        web_reply_db_error(reply, rc);
        return ROUTE_LOGOUT;
    }
    mochi_log(MOCHI_LOG_INFO, "web", "msg=\"logged out\" user_id=%lld", session.user_id);
    web_reply_redirect(reply, "/login");
    set_cookie(app, reply, "", 0);
    return ROUTE_LOGOUT;
}

static enum route sites(struct web_app *app, const struct web_request *req, struct web_reply *reply)
{
    struct web_viewer viewer = {.kind = WEB_VIEWER_SESSION};
    int rc = find_session(app, req, &viewer.session, reply);
    if (rc < 0)
        web_page_error(reply, rc == MOCHI_ERR_AGAIN ? 503 : 500, "Database unavailable",
                       "The database cannot be reached. Try again shortly.", NULL);
    else if (rc == 0)
        redirect_to_login(req, reply);
    else
        web_page_sites(app, &viewer, reply);
    return ROUTE_SITES;
}

/* Splits "<id>[/<rest>]" after a prefix: id into out (size bytes), and
 * returns what follows it ("" or "/..."), or NULL when id does not fit. */
static const char *split_segment(const char *path, char *out, size_t size)
{
    size_t n = strcspn(path, "/");
    if (n == 0 || n >= size)
        return NULL;
    memcpy(out, path, n);
    out[n] = '\0';
    return path + n;
}

static bool valid_slug(const char *slug)
{
    size_t n = strlen(slug);
    if (n < 22 || n > 64)
        return false;
    for (const char *p = slug; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-'))
            return false;
    return true;
}

static enum route api_route(const char *endpoint, bool share)
{
    if (strcmp(endpoint, "export.csv") == 0)
        return ROUTE_EXPORT;
    return share ? ROUTE_SHARE_API : ROUTE_API;
}

/* GET /api/v1/sites/<id>/<endpoint>: a session or a Bearer token. */
static enum route site_api(struct web_app *app, const struct web_request *req, const char *id,
                           const char *endpoint, struct web_reply *reply)
{
    enum route route = api_route(endpoint, false);
    if (!web_api_endpoint_known(endpoint)) {
        web_reply_error(reply, 404, "no such endpoint");
        return route;
    }
    if (!is_get(req)) {
        method_not_allowed(reply, "GET, HEAD");
        return route;
    }
    unsigned char bin[16];
    if (mochi_uuid_parse(id, bin) != 0) {
        web_reply_error(reply, 404, "no such site");
        return route;
    }
    char canonical[37];
    mochi_uuid_format(bin, canonical);
    struct web_site site;
    const char *auth = web_request_header(req, "Authorization");
    int rc;
    if (auth != NULL) {
        if (strncasecmp(auth, "Bearer ", 7) != 0) {
            web_reply_error(reply, 401, "Authorization: use Bearer <API token>");
            reply->www_authenticate = true;
            return route;
        }
        const char *token = auth + 7;
        while (*token == ' ')
            token++;
        char token_site[37];
        bool revoked = false;
        rc = web_token_site(app->db, token, token_site, &revoked);
        if (rc < 0) {
            web_reply_db_error(reply, rc);
            return route;
        }
        if (rc == 0 || revoked) {
            web_reply_error(reply, 401, rc == 0 ? "unknown API token" : "API token revoked");
            reply->www_authenticate = true;
            return route;
        }
        if (strcmp(token_site, canonical) != 0) {
            web_reply_error(reply, 403, "no access to this site");
            return route;
        }
        rc = web_site_load(app->db, canonical, 0, &site);
    } else {
        struct web_session session;
        rc = find_session(app, req, &session, reply);
        if (rc == 0) {
            web_reply_error(reply, 401, "not logged in (a session cookie or a Bearer token)");
            reply->www_authenticate = true;
            return route;
        }
        if (rc == 1)
            rc = web_site_load(app->db, canonical, session.user_id, &site);
        if (rc == 1 && site.role[0] == '\0') {
            web_reply_error(reply, 403, "no access to this site");
            return route;
        }
    }
    if (rc < 0)
        web_reply_db_error(reply, rc);
    else if (rc == 0)
        web_reply_error(reply, 404, "no such site");
    else
        web_api_handle(app, req, &site, endpoint, reply);
    return route;
}

/* GET /sites/<id>: the dashboard, for a session with a role on the site. */
static enum route dashboard(struct web_app *app, const struct web_request *req, const char *id,
                            struct web_reply *reply)
{
    if (!is_get(req)) {
        method_not_allowed(reply, "GET, HEAD");
        return ROUTE_DASHBOARD;
    }
    struct web_viewer viewer = {.kind = WEB_VIEWER_SESSION};
    int rc = find_session(app, req, &viewer.session, reply);
    if (rc == 0) {
        redirect_to_login(req, reply);
        return ROUTE_DASHBOARD;
    }
    unsigned char bin[16];
    char canonical[37];
    struct web_site site;
    if (rc == 1 && mochi_uuid_parse(id, bin) != 0) {
        web_page_error(reply, 404, "No such site", "There is no site with this address.", &viewer);
        return ROUTE_DASHBOARD;
    }
    if (rc == 1) {
        mochi_uuid_format(bin, canonical);
        rc = web_site_load(app->db, canonical, viewer.session.user_id, &site);
    }
    if (rc < 0)
        web_page_error(reply, rc == MOCHI_ERR_AGAIN ? 503 : 500, "Database unavailable",
                       "The database cannot be reached. Try again shortly.", &viewer);
    else if (rc == 0)
        web_page_error(reply, 404, "No such site", "There is no site with this address.", &viewer);
    else if (site.role[0] == '\0')
        web_page_error(reply, 403, "No access", "You have no access to this site.", &viewer);
    else {
        snprintf(viewer.page_base, sizeof(viewer.page_base), "/sites/%s", site.id);
        snprintf(viewer.api_base, sizeof(viewer.api_base), "/api/v1/sites/%s", site.id);
        web_page_dashboard(app, req, &viewer, &site, reply);
    }
    return ROUTE_DASHBOARD;
}

/* /share/<slug>[/api/v1/<endpoint>]: read-only, logged out. */
static enum route share(struct web_app *app, const struct web_request *req, const char *rest,
                        struct web_reply *reply)
{
    char slug[72];
    const char *after = split_segment(rest, slug, sizeof(slug));
    bool api = after != NULL && strncmp(after, "/api/v1/", 8) == 0;
    enum route route = api ? api_route(after + 8, true) : ROUTE_SHARE;
    if (after == NULL || !valid_slug(slug) || (!api && after[0] != '\0') ||
        (api && !web_api_endpoint_known(after + 8))) {
        if (api)
            web_reply_error(reply, 404, "no such share link or endpoint");
        else
            web_page_error(reply, 404, "Not found", "This link does not exist or was revoked.",
                           NULL);
        return route;
    }
    if (!is_get(req)) {
        method_not_allowed(reply, "GET, HEAD");
        return route;
    }
    struct web_site site;
    int rc = web_share_load(app->db, slug, &site);
    if (rc != 1) {
        if (api && rc < 0)
            web_reply_db_error(reply, rc);
        else if (api)
            web_reply_error(reply, 404, "no such share link");
        else if (rc < 0)
            web_page_error(reply, rc == MOCHI_ERR_AGAIN ? 503 : 500, "Database unavailable",
                           "The database cannot be reached. Try again shortly.", NULL);
        else
            web_page_error(reply, 404, "Not found", "This link does not exist or was revoked.",
                           NULL);
        return route;
    }
    if (api) {
        web_api_handle(app, req, &site, after + 8, reply);
        return route;
    }
    struct web_viewer viewer = {.kind = WEB_VIEWER_SHARE};
    snprintf(viewer.page_base, sizeof(viewer.page_base), "/share/%s", slug);
    snprintf(viewer.api_base, sizeof(viewer.api_base), "/share/%s/api/v1", slug);
    web_page_dashboard(app, req, &viewer, &site, reply);
    return route;
}

/* GET /static/<name>: an embedded asset, revalidated with its ETag. */
static enum route asset(const struct web_request *req, const char *name, struct web_reply *reply)
{
    if (!is_get(req)) {
        method_not_allowed(reply, "GET, HEAD");
        return ROUTE_STATIC;
    }
    const struct web_asset *a = web_asset_find(name);
    if (a == NULL) {
        reply->status = 404;
        reply->content_type = "text/plain; charset=utf-8";
        reply->body = "not found\n";
        reply->len = strlen(reply->body);
        return ROUTE_STATIC;
    }
    const char *match = web_request_header(req, "If-None-Match");
    bool fresh = match != NULL && strstr(match, a->etag) != NULL;
    reply->status = fresh ? 304 : 200;
    reply->content_type = web_content_type(a->name);
    reply->body = fresh ? "" : (const char *)a->data;
    reply->len = fresh ? 0 : a->len;
    reply->etag = a->etag;
    /* Always revalidated: a new binary's assets are picked up at once, and
     * an unchanged one costs a 304. */
    reply->cache = "no-cache";
    return ROUTE_STATIC;
}

static enum route route_request(struct web_app *app, const struct web_request *req,
                                struct web_reply *reply)
{
    const char *path = req->path;
    if (strcmp(path, "/") == 0) {
        if (!is_get(req)) {
            method_not_allowed(reply, "GET, HEAD");
            return ROUTE_SITES;
        }
        return sites(app, req, reply);
    }
    if (strcmp(path, "/login") == 0)
        return login(app, req, reply);
    if (strcmp(path, "/logout") == 0)
        return logout(app, req, reply);
    if (strncmp(path, "/static/", 8) == 0)
        return asset(req, path + 8, reply);
    if (strncmp(path, "/share/", 7) == 0)
        return share(app, req, path + 7, reply);
    char id[40];
    if (strncmp(path, "/sites/", 7) == 0) {
        const char *after = split_segment(path + 7, id, sizeof(id));
        if (after != NULL && after[0] == '\0')
            return dashboard(app, req, id, reply);
    } else if (strncmp(path, "/api/v1/sites/", 14) == 0) {
        const char *after = split_segment(path + 14, id, sizeof(id));
        if (after != NULL && after[0] == '/' && strchr(after + 1, '/') == NULL)
            return site_api(app, req, id, after + 1, reply);
        web_reply_error(reply, 404, "no such endpoint");
        return ROUTE_API;
    } else if (strncmp(path, "/api/", 5) == 0) {
        web_reply_error(reply, 404, "no such endpoint");
        return ROUTE_API;
    }
    web_page_error(reply, 404, "Not found", "There is no page at this address.", NULL);
    return ROUTE_OTHER;
}

void web_app_handle(void *arg, const struct web_request *req, struct web_reply *reply)
{
    struct web_app *app = arg;
    enum route route = route_request(app, req, reply);
    count(app, route, req, reply);
    if (mochi_log_enabled(MOCHI_LOG_DEBUG))
        mochi_log(MOCHI_LOG_DEBUG, "web", "msg=\"request\" method=%s route=%s status=%u",
                  strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0 ||
                          strcmp(req->method, "POST") == 0
                      ? req->method
                      : "other",
                  route_names[route], reply->status);
}
