/* mochi-web over real HTTP sockets against a real PostgreSQL as the
 * mochi_web role: logins (good and bad, the same answer; rate limit;
 * cross-site refused), sessions (cookie flags, expiry, sliding, logout,
 * CSRF), access by role, API tokens, share links, every API endpoint's
 * JSON for a range across a month and a year end with the previous
 * period, malformed parameters, hostile paths and sources in HTML, JSON
 * and CSV, the embedded assets, the freshness watermark (from
 * rollup_progress, and against Kafka's log ends with --brokers), metrics,
 * and SIGTERM draining a request in progress.
 *
 * Users, roles, tokens and shares are written with SQL here, hashed here
 * with libsodium as docs/web-api.md says; the aggregates are rows written
 * by hand, and every expected number and document below is written out,
 * never computed by mochi-web's code. */
#include <arpa/inet.h>
#include <dirent.h>
#include <jansson.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/harness/harness.h"

#define CSP                                                                                        \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src "  \
    "'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

#define ALICE_PASSWORD "correct horse battery staple"
#define ALICE_FORM "email=alice%40example.com&password=correct+horse+battery+staple"
#define BOB_PASSWORD "b0b's pa$$word"

#define HOSTILE_PATH "/<img src=x onerror=alert(1)>"
#define HOSTILE_PATH_HTML "/&lt;img src=x onerror=alert(1)&gt;"
#define HOSTILE_SOURCE "\"><script>"
#define HOSTILE_SOURCE_HTML "&quot;&gt;&lt;script&gt;"
#define FORMULA_PATH "=cmd|' /C calc'!A0"

static struct {
    struct mochi_test_db db;
    PGconn *conn;
    struct mochi_test_proc web;
    int port;
    int metrics_port;
    char base[64];
    char topic[64];
    char site_a[40], site_b[40], site_c[40], site_d[40];
    char token_a[64], token_a_revoked[64], token_b[64];
    char slug[32], slug_revoked[32];
    /* everything secret that went over the wire: never in the log */
    char secrets[32][128];
    int nsecrets;
} t;

static void remember_secret(const char *s)
{
    if (t.nsecrets < 32)
        snprintf(t.secrets[t.nsecrets++], sizeof(t.secrets[0]), "%s", s);
}

/* ---- HTTP ---- */

/* The value of header name in a raw header block (the last one when it
 * repeats, as after a redirect it would not), or false. */
static bool header(const struct mochi_test_response *r, const char *name, char *out, size_t size)
{
    bool found = false;
    size_t n = strlen(name);
    for (const char *line = r->headers; line && *line;) {
        const char *end = strstr(line, "\r\n");
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len > n + 1 && strncasecmp(line, name, n) == 0 && line[n] == ':') {
            const char *v = line + n + 1;
            while (*v == ' ')
                v++;
            size_t vlen = len - (size_t)(v - line);
            if (vlen >= size)
                vlen = size - 1;
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            found = true;
        }
        line = end ? end + 2 : NULL;
    }
    return found;
}

/* Every answer: the security headers; every HTML answer: the CSP, exact. */
static void check_headers(const struct mochi_test_response *r)
{
    char value[512];
    assert_true(header(r, "X-Content-Type-Options", value, sizeof(value)));
    assert_string_equal(value, "nosniff");
    assert_true(header(r, "Referrer-Policy", value, sizeof(value)));
    assert_string_equal(value, "same-origin");
    if (header(r, "Content-Type", value, sizeof(value)) && strncmp(value, "text/html", 9) == 0) {
        assert_true(header(r, "Content-Security-Policy", value, sizeof(value)));
        assert_string_equal(value, CSP);
    }
}

/* A request to the web server: path, the session cookie (or NULL), up to
 * three more headers, a body (or NULL). Never follows redirects. */
static void request(const char *method, const char *path, const char *cookie, const char *h1,
                    const char *h2, const char *h3, const char *body, struct mochi_test_response *r)
{
    char url[4096], cookie_header[256];
    snprintf(url, sizeof(url), "%s%s", t.base, path);
    const char *headers[5] = {NULL};
    int n = 0;
    if (cookie != NULL) {
        snprintf(cookie_header, sizeof(cookie_header), "Cookie: mochi_session=%s", cookie);
        headers[n++] = cookie_header;
    }
    if (h1)
        headers[n++] = h1;
    if (h2)
        headers[n++] = h2;
    if (h3)
        headers[n++] = h3;
    mochi_test_http(method, url, headers, body, r);
    check_headers(r);
}

static void get(const char *path, const char *cookie, struct mochi_test_response *r)
{
    request("GET", path, cookie, NULL, NULL, NULL, NULL, r);
}

static void expect_status(const struct mochi_test_response *r, long status)
{
    if (r->status != status)
        fail_msg("status %ld, wanted %ld; body: %.400s", r->status, status, r->body);
}

static json_t *json_body(const struct mochi_test_response *r)
{
    char type[128];
    assert_true(header(r, "Content-Type", type, sizeof(type)));
    assert_string_equal(type, "application/json; charset=utf-8");
    json_error_t jerr;
    json_t *doc = json_loads(r->body, 0, &jerr);
    if (doc == NULL)
        fail_msg("not JSON (%s): %.300s", jerr.text, r->body);
    return doc;
}

/* GET path with cookie; status wanted; the JSON document (caller frees). */
static json_t *get_json(const char *path, const char *cookie, long status)
{
    struct mochi_test_response r;
    get(path, cookie, &r);
    expect_status(&r, status);
    json_t *doc = json_body(&r);
    mochi_test_response_free(&r);
    return doc;
}

/* The document equals the JSON text want, exactly. */
static void expect_json(json_t *doc, const char *want)
{
    json_error_t jerr;
    json_t *w = json_loads(want, 0, &jerr);
    if (w == NULL)
        fail_msg("bad expectation (%s): %s", jerr.text, want);
    if (!json_equal(doc, w)) {
        char *got = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
        char *exp = json_dumps(w, JSON_COMPACT | JSON_SORT_KEYS);
        fail_msg("JSON differs:\n  got  %s\n  want %s", got, exp);
    }
    json_decref(w);
}

static void expect_error(const char *path, const char *cookie, long status, const char *message)
{
    json_t *doc = get_json(path, cookie, status);
    const char *got = json_string_value(json_object_get(doc, "error"));
    if (got == NULL || strcmp(got, message) != 0)
        fail_msg("%s: error '%s', wanted '%s'", path, got ? got : "(none)", message);
    json_decref(doc);
}

/* The session cookie a response sets, with its attributes in attrs. */
static bool set_cookie(const struct mochi_test_response *r, char value[64], char attrs[256])
{
    char line[512];
    if (!header(r, "Set-Cookie", line, sizeof(line)) || strncmp(line, "mochi_session=", 14) != 0)
        return false;
    size_t n = strcspn(line + 14, ";");
    snprintf(value, 64, "%.*s", (int)n, line + 14);
    snprintf(attrs, 256, "%s", line + 14 + n);
    return true;
}

/* POSTs a login form from address xff (X-Forwarded-For: the server
 * trusts 127.0.0.1). */
static void post_login(const char *form, const char *xff, const char *origin,
                       struct mochi_test_response *r)
{
    char xff_header[128], origin_header[256];
    snprintf(xff_header, sizeof(xff_header), "X-Forwarded-For: %s", xff);
    if (origin != NULL)
        snprintf(origin_header, sizeof(origin_header), "%s", origin);
    request("POST", "/login", NULL, xff_header, origin ? origin_header : NULL, NULL, form, r);
}

/* Logs alice in and returns the session cookie. */
static void login_alice(const char *xff, char cookie[64])
{
    struct mochi_test_response r;
    char origin[128], attrs[256];
    snprintf(origin, sizeof(origin), "Origin: %s", t.base);
    post_login(ALICE_FORM, xff, origin, &r);
    expect_status(&r, 303);
    assert_true(set_cookie(&r, cookie, attrs));
    remember_secret(cookie);
    mochi_test_response_free(&r);
}

/* ---- fixtures ---- */

static void hash_hex(const void *data, size_t len, char out[67])
{
    unsigned char h[32];
    crypto_generichash(h, sizeof(h), data, len, NULL, 0);
    out[0] = '\\';
    out[1] = 'x';
    sodium_bin2hex(out + 2, 65, h, sizeof(h));
}

static void random_text(size_t bytes, char *out, size_t size)
{
    unsigned char raw[64];
    randombytes_buf(raw, bytes);
    sodium_bin2base64(out, size, raw, bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static void add_site(const char *name, const char *domain, const char *key, const char *zone,
                     char id[40])
{
    char *n = PQescapeLiteral(t.conn, name, strlen(name));
    char sql[512];
    snprintf(sql, sizeof(sql),
             "INSERT INTO sites (name, domain, tracking_key, timezone)"
             " VALUES (%s, '%s', '%s', '%s') RETURNING id",
             n, domain, key, zone);
    PQfreemem(n);
    assert_true(mochi_test_db_text(t.conn, sql, id, 40));
}

static long long add_user(const char *email, const char *password)
{
    char hash[crypto_pwhash_STRBYTES], sql[512];
    assert_int_equal(crypto_pwhash_str(hash, password, strlen(password),
                                       crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                       crypto_pwhash_MEMLIMIT_INTERACTIVE),
                     0);
    snprintf(sql, sizeof(sql),
             "INSERT INTO users (email, password_hash) VALUES ('%s', '%s') RETURNING id", email,
             hash);
    return mochi_test_db_int(t.conn, sql);
}

static void grant(long long user, const char *site, const char *role)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "INSERT INTO site_roles VALUES (%lld, '%s', '%s')", user, site,
             role);
    mochi_test_db_exec(t.conn, sql);
}

static void add_token(const char *site, const char *name, bool revoked, char token[64])
{
    char text[48], hash[67], sql[512];
    random_text(32, text, sizeof(text));
    snprintf(token, 64, "mochi_%s", text);
    hash_hex(token, strlen(token), hash);
    snprintf(sql, sizeof(sql),
             "INSERT INTO api_tokens (site_id, name, token_hash, revoked_at)"
             " VALUES ('%s', '%s', '%s', %s)",
             site, name, hash, revoked ? "now()" : "NULL");
    mochi_test_db_exec(t.conn, sql);
    remember_secret(token);
}

static void add_share(const char *site, bool revoked, char slug[32])
{
    char sql[256];
    random_text(16, slug, 32);
    snprintf(sql, sizeof(sql),
             "INSERT INTO shares (slug, site_id, revoked_at) VALUES ('%s', '%s', %s)", slug, site,
             revoked ? "now()" : "NULL");
    mochi_test_db_exec(t.conn, sql);
}

/* Runs sql with every "@A" .. "@D" replaced by the sites' ids. */
static void exec_sites(const char *sql)
{
    char buf[8192];
    size_t used = 0;
    for (const char *p = sql; *p && used < sizeof(buf) - 64; p++) {
        if (p[0] == '@' && p[1] >= 'A' && p[1] <= 'D') {
            const char *id = p[1] == 'A'   ? t.site_a
                             : p[1] == 'B' ? t.site_b
                             : p[1] == 'C' ? t.site_c
                                           : t.site_d;
            used += (size_t)snprintf(buf + used, sizeof(buf) - used, "'%s'::uuid", id);
            p++;
        } else {
            buf[used++] = *p;
        }
    }
    buf[used] = '\0';
    mochi_test_db_exec(t.conn, buf);
}

/* Site A (Europe/Berlin), around a year end. The range asked for is
 * 2024-12-30..2025-01-02, its previous period 2024-12-26..2024-12-29;
 * 2024-12-25 and 2025-01-03 lie outside both and must never count. */
static const char site_a_rows[] =
    "INSERT INTO daily_site_metrics (site_id, date, page_views, unique_visitors) VALUES"
    " (@A, '2024-12-25', 1000, 500), (@A, '2024-12-26', 10, 4), (@A, '2024-12-28', 20, 8),"
    " (@A, '2024-12-30', 30, 12), (@A, '2024-12-31', 40, 15), (@A, '2025-01-02', 50, 20),"
    " (@A, '2025-01-03', 7000, 3000), (@B, '2024-12-31', 555, 55);"
    "INSERT INTO daily_page_metrics (site_id, date, path, page_views) VALUES"
    " (@A, '2024-12-30', '/', 20), (@A, '2024-12-30', '/blog', 10),"
    " (@A, '2024-12-31', '/', 25), (@A, '2024-12-31', '/<img src=x onerror=alert(1)>', 15),"
    " (@A, '2025-01-02', '/blog', 30), (@A, '2025-01-02', '=cmd|'' /C calc''!A0', 20),"
    " (@A, '2024-12-28', '/', 20), (@A, '2025-01-03', '/old', 7000),"
    " (@B, '2024-12-31', '/b-only', 555);"
    "INSERT INTO daily_source_metrics (site_id, date, source, entries, visitors) VALUES"
    " (@A, '2024-12-30', '', 6, 5), (@A, '2024-12-30', 'google.com', 4, 4),"
    " (@A, '2024-12-31', '\"><script>', 3, 3), (@A, '2024-12-31', 'google.com', 5, 5),"
    " (@A, '2025-01-02', '', 2, 2), (@A, '2025-01-02', 'news.ycombinator.com', 10, 6),"
    " (@A, '2024-12-28', 'google.com', 7, 6), (@A, '2025-01-03', 'zzz.example', 100, 100),"
    " (@A, '2024-12-31', 'gone.example', 0, 0);"
    "INSERT INTO daily_entry_page_metrics (site_id, date, path, entries) VALUES"
    " (@A, '2024-12-30', '/', 8), (@A, '2024-12-30', '/blog', 2),"
    " (@A, '2024-12-31', '/', 5), (@A, '2024-12-31', '/<img src=x onerror=alert(1)>', 3),"
    " (@A, '2025-01-02', '/blog', 9), (@A, '2025-01-02', '/B', 3), (@A, '2024-12-28', '/', 7),"
    " (@A, '2025-01-03', '/old', 50);";

/* Site D, over whole months: January 2024's last days, the whole of
 * February (a leap year's: the 29th counts) and March, April's first days;
 * 2024-01-29 and 2024-04-03 lie outside 2024-01-30..2024-04-02. */
static const char site_d_rows[] =
    "INSERT INTO daily_page_metrics (site_id, date, path, page_views) VALUES"
    " (@D, '2024-01-29', '/z', 9999), (@D, '2024-01-30', '/a', 5), (@D, '2024-01-31', '/b', 7),"
    " (@D, '2024-02-01', '/a', 10), (@D, '2024-02-15', '/b', 1), (@D, '2024-02-29', '/a', 20),"
    " (@D, '2024-03-01', '/b', 100), (@D, '2024-03-31', '/a', 3), (@D, '2024-04-01', '/a', 1000),"
    " (@D, '2024-04-02', '/c', 4), (@D, '2024-04-03', '/z', 8888);"
    "INSERT INTO daily_source_metrics (site_id, date, source, entries, visitors) VALUES"
    " (@D, '2024-01-31', 'x.example', 3, 2), (@D, '2024-02-10', 'x.example', 10, 9),"
    " (@D, '2024-02-10', '', 1, 1), (@D, '2024-03-05', 'x.example', 5, 5),"
    " (@D, '2024-04-02', '', 7, 6), (@D, '2024-04-03', 'x.example', 100, 100);"
    "INSERT INTO daily_entry_page_metrics (site_id, date, path, entries) VALUES"
    " (@D, '2024-01-30', '/a', 2), (@D, '2024-02-20', '/a', 4), (@D, '2024-03-10', '/b', 6),"
    " (@D, '2024-04-01', '/b', 1), (@D, '2024-04-03', '/a', 50);";

/* The monthly lists (sql/010) hold the sums of the daily rows by month,
 * as the rollup keeps them (the harness checks that they do). */
static const char monthly_rows[] =
    "INSERT INTO monthly_page_metrics (site_id, month, path, page_views)"
    " SELECT site_id, date_trunc('month', date)::date, path, sum(page_views)"
    " FROM daily_page_metrics GROUP BY 1, 2, 3;"
    "INSERT INTO monthly_entry_page_metrics (site_id, month, path, entries)"
    " SELECT site_id, date_trunc('month', date)::date, path, sum(entries)"
    " FROM daily_entry_page_metrics GROUP BY 1, 2, 3;"
    "INSERT INTO monthly_source_metrics (site_id, month, source, entries, visitors)"
    " SELECT site_id, date_trunc('month', date)::date, source, sum(entries), sum(visitors)"
    " FROM daily_source_metrics GROUP BY 1, 2, 3;";

/* Today in each site's zone (as PostgreSQL says), for the site list. */
static const char today_rows[] =
    "INSERT INTO daily_site_metrics (site_id, date, page_views, unique_visitors) VALUES"
    " (@A, (now() AT TIME ZONE 'Europe/Berlin')::date, 42, 17),"
    " (@B, (now() AT TIME ZONE 'UTC')::date, 99, 33),"
    " (@C, (now() AT TIME ZONE 'Pacific/Kiritimati')::date, 5, 3),"
    " (@D, (now() AT TIME ZONE 'Etc/GMT+12')::date, 6, 4)"
    " ON CONFLICT DO NOTHING;";

static void start_web(struct mochi_test_proc *proc, int port, const char *brokers)
{
    char listen[32];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    char *argv[20] = {(char *)mochi_test_bin("mochi-web"),
                      "--listen",
                      listen,
                      "--metrics-listen",
                      "127.0.0.1:0",
                      "--trusted-proxies",
                      "127.0.0.1/32",
                      "--topic",
                      t.topic,
                      "--threads",
                      "4",
                      NULL};
    if (brokers != NULL) {
        argv[11] = "--brokers";
        argv[12] = (char *)brokers;
    }
    mochi_test_proc_start_as(proc, &t.db, "mochi_web", argv);
    if (!mochi_test_wait_port(port, 30000))
        fail_msg("mochi-web did not listen on %d", port);
}

static int setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    mochi_test_db_create_migrated(&t.db);
    t.conn = mochi_test_db_connect(&t.db);
    snprintf(t.topic, sizeof(t.topic), "%s", mochi_test_unique("web"));
    add_site("Alpha", "alpha.example", "webSiteKeyAlpha_00001", "Europe/Berlin", t.site_a);
    add_site("Bravo", "bravo.example", "webSiteKeyBravo_00002", "UTC", t.site_b);
    /* UTC+14 and UTC-12: 26 hours apart, so their today is never the same
     * day, and at most one of them is UTC's */
    add_site("<b>Line</b> & Co", "line.example", "webSiteKeyLine_000003", "Pacific/Kiritimati",
             t.site_c);
    add_site("Baker", "baker.example", "webSiteKeyBaker_00004", "Etc/GMT+12", t.site_d);
    long long alice = add_user("alice@example.com", ALICE_PASSWORD);
    long long bob = add_user("bob@example.com", BOB_PASSWORD);
    remember_secret(ALICE_PASSWORD);
    remember_secret(BOB_PASSWORD);
    grant(alice, t.site_a, "viewer");
    grant(alice, t.site_c, "admin");
    grant(alice, t.site_d, "viewer");
    grant(bob, t.site_b, "viewer");
    add_token(t.site_a, "ci", false, t.token_a);
    add_token(t.site_a, "old", true, t.token_a_revoked);
    add_token(t.site_b, "bravo", false, t.token_b);
    add_share(t.site_a, false, t.slug);
    add_share(t.site_a, true, t.slug_revoked);
    exec_sites(site_a_rows);
    exec_sites(site_d_rows);
    mochi_test_db_exec(t.conn, monthly_rows);
    assert_true(mochi_test_expect_monthly_sums(t.conn) > 0);
    exec_sites(today_rows);

    t.port = mochi_test_free_port();
    snprintf(t.base, sizeof(t.base), "http://127.0.0.1:%d", t.port);
    start_web(&t.web, t.port, NULL);
    t.metrics_port = mochi_test_metrics_port(&t.web, 20000);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (t.web.pid > 0)
        mochi_test_proc_kill(&t.web);
    PQfinish(t.conn);
    mochi_test_db_drop(&t.db);
    mochi_test_cleanup();
    return 0;
}

/* ---- logins and sessions ---- */

static void login_and_session(void **state)
{
    (void)state;
    struct mochi_test_response r;
    get("/login", NULL, &r);
    expect_status(&r, 200);
    assert_non_null(strstr(r.body, "<form id=\"login-form\" method=\"post\" action=\"/login\">"));
    mochi_test_response_free(&r);

    /* a wrong password and an unknown address: the same answer */
    struct mochi_test_response wrong, unknown;
    char origin[128], value[64], attrs[256];
    snprintf(origin, sizeof(origin), "Origin: %s", t.base);
    post_login("email=alice%40example.com&password=wrong", "198.51.100.1", origin, &wrong);
    post_login("email=nobody%40example.com&password=wrong", "198.51.100.1", origin, &unknown);
    expect_status(&wrong, 401);
    expect_status(&unknown, 401);
    assert_string_equal(wrong.body, unknown.body);
    assert_non_null(strstr(wrong.body, "Wrong e-mail address or password."));
    assert_false(set_cookie(&wrong, value, attrs));
    assert_false(set_cookie(&unknown, value, attrs));
    mochi_test_response_free(&wrong);
    mochi_test_response_free(&unknown);

    /* the right one, in another case: a session cookie with its flags */
    post_login("email=Alice%40Example.com&password=correct+horse+battery+staple", "198.51.100.1",
               origin, &r);
    expect_status(&r, 303);
    char location[256];
    assert_true(header(&r, "Location", location, sizeof(location)));
    assert_string_equal(location, "/");
    assert_true(set_cookie(&r, value, attrs));
    remember_secret(value);
    assert_int_equal(strlen(value), 43);
    assert_string_equal(attrs, "; Path=/; HttpOnly; SameSite=Lax; Max-Age=1209600; Secure");
    mochi_test_response_free(&r);

    /* the database holds the BLAKE2b-256 of the cookie's 32 bytes, never
     * the cookie */
    unsigned char raw[32];
    size_t raw_len = 0;
    assert_int_equal(sodium_base642bin(raw, sizeof(raw), value, strlen(value), NULL, &raw_len, NULL,
                                       sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                     0);
    assert_int_equal(raw_len, 32);
    char hash[67], sql[512];
    hash_hex(raw, sizeof(raw), hash);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id"
             " WHERE s.token_hash = '%s' AND u.email = 'alice@example.com'"
             " AND s.expires_at > now() + interval '13 days 23 hours'"
             " AND octet_length(s.csrf_token) >= 32",
             hash);
    assert_int_equal(mochi_test_db_int(t.conn, sql), 1);

    /* the cookie opens the site list: alice's two sites with today's
     * numbers in each zone, not bob's */
    get("/", value, &r);
    expect_status(&r, 200);
    assert_non_null(strstr(r.body, "<meta name=\"csrf-token\" content=\""));
    assert_non_null(strstr(r.body, "<span id=\"account-email\">alice@example.com</span>"));
    char row[512];
    snprintf(row, sizeof(row),
             "<a href=\"/sites/%s\">Alpha</a></th><td class=\"domain\">alpha.example</td>"
             "<td class=\"timezone\">Europe/Berlin</td><td class=\"num page-views\">42</td>"
             "<td class=\"num visitors\">17</td>",
             t.site_a);
    assert_non_null(strstr(r.body, row));
    snprintf(row, sizeof(row),
             "<a href=\"/sites/%s\">&lt;b&gt;Line&lt;/b&gt; &amp; Co</a></th>"
             "<td class=\"domain\">line.example</td><td class=\"timezone\">Pacific/Kiritimati</td>"
             "<td class=\"num page-views\">5</td><td class=\"num visitors\">3</td>",
             t.site_c);
    assert_non_null(strstr(r.body, row));
    assert_null(strstr(r.body, "<b>Line</b>"));
    snprintf(row, sizeof(row),
             "<a href=\"/sites/%s\">Baker</a></th><td class=\"domain\">baker.example</td>"
             "<td class=\"timezone\">Etc/GMT+12</td><td class=\"num page-views\">6</td>"
             "<td class=\"num visitors\">4</td>",
             t.site_d);
    assert_non_null(strstr(r.body, row));
    assert_null(strstr(r.body, "Bravo"));
    assert_null(strstr(r.body, t.site_b));
    mochi_test_response_free(&r);

    /* without a session: to the login page, with the way back */
    get("/", NULL, &r);
    expect_status(&r, 303);
    assert_true(header(&r, "Location", location, sizeof(location)));
    assert_string_equal(location, "/login?next=%2F");
    mochi_test_response_free(&r);
    char path[256], want[300];
    snprintf(path, sizeof(path), "/sites/%s?range=7d&compare=previous", t.site_a);
    get(path, NULL, &r);
    expect_status(&r, 303);
    assert_true(header(&r, "Location", location, sizeof(location)));
    snprintf(want, sizeof(want),
             "/login?next=%%2Fsites%%2F%s%%3Frange%%3D7d%%26compare%%3Dprevious", t.site_a);
    assert_string_equal(location, want);
    mochi_test_response_free(&r);

    /* next= comes back after the login; another host's is ignored */
    char form[512];
    snprintf(form, sizeof(form), "%s&next=%%2Fsites%%2F%s%%3Frange%%3D7d", ALICE_FORM, t.site_a);
    post_login(form, "198.51.100.1", origin, &r);
    expect_status(&r, 303);
    assert_true(header(&r, "Location", location, sizeof(location)));
    snprintf(want, sizeof(want), "/sites/%s?range=7d", t.site_a);
    assert_string_equal(location, want);
    assert_true(set_cookie(&r, value, attrs));
    remember_secret(value);
    mochi_test_response_free(&r);
    post_login(ALICE_FORM "&next=%2F%2Fevil.example%2F", "198.51.100.1", origin, &r);
    expect_status(&r, 303);
    assert_true(header(&r, "Location", location, sizeof(location)));
    assert_string_equal(location, "/");
    assert_true(set_cookie(&r, value, attrs));
    remember_secret(value);
    mochi_test_response_free(&r);
}

/* An unknown address is checked against a dummy hash: it takes as long
 * as a wrong password (Argon2id), not the few microseconds of a missing
 * row. Medians of three, and a wide margin for a busy machine. */
static void constant_time_failure(void **state)
{
    (void)state;
    int64_t wrong[3], unknown[3];
    for (int i = 0; i < 3; i++) {
        struct mochi_test_response r;
        int64_t t0 = mochi_test_now_ms();
        post_login("email=bob%40example.com&password=nope", "198.51.100.2", NULL, &r);
        int64_t t1 = mochi_test_now_ms();
        expect_status(&r, 401);
        mochi_test_response_free(&r);
        post_login("email=nobody%40example.com&password=nope", "198.51.100.3", NULL, &r);
        int64_t t2 = mochi_test_now_ms();
        expect_status(&r, 401);
        mochi_test_response_free(&r);
        wrong[i] = t1 - t0;
        unknown[i] = t2 - t1;
    }
    for (int a = 0; a < 3; a++)
        for (int b = a + 1; b < 3; b++) {
            if (wrong[b] < wrong[a]) {
                int64_t x = wrong[a];
                wrong[a] = wrong[b];
                wrong[b] = x;
            }
            if (unknown[b] < unknown[a]) {
                int64_t x = unknown[a];
                unknown[a] = unknown[b];
                unknown[b] = x;
            }
        }
    print_message("login failure medians: wrong password %lld ms, unknown address %lld ms\n",
                  (long long)wrong[1], (long long)unknown[1]);
    assert_true(wrong[1] >= 10); /* Argon2id, interactive cost */
    assert_true(unknown[1] * 3 >= wrong[1]);
}

static void login_rate_limit(void **state)
{
    (void)state;
    struct mochi_test_response r;
    for (int i = 0; i < 5; i++) {
        post_login("email=alice%40example.com&password=guess", "203.0.113.7", NULL, &r);
        expect_status(&r, 401);
        mochi_test_response_free(&r);
    }
    /* the sixth, even with the right password: 429 until the window ends */
    post_login(ALICE_FORM, "203.0.113.7", NULL, &r);
    expect_status(&r, 429);
    char retry[32], value[64], attrs[256];
    assert_true(header(&r, "Retry-After", retry, sizeof(retry)));
    assert_true(atoi(retry) > 800 && atoi(retry) <= 900);
    assert_false(set_cookie(&r, value, attrs));
    mochi_test_response_free(&r);
    /* another address is not limited */
    char cookie[64];
    login_alice("203.0.113.8", cookie);
    /* a success clears an address's failures: 4 + ok + 4 is never 429 */
    for (int i = 0; i < 9; i++) {
        if (i == 4) {
            login_alice("203.0.113.9", cookie);
            continue;
        }
        post_login("email=alice%40example.com&password=guess", "203.0.113.9", NULL, &r);
        expect_status(&r, 401);
        mochi_test_response_free(&r);
    }
}

static void cross_site_login(void **state)
{
    (void)state;
    static const char *const hostile[] = {"Origin: http://evil.example", "Origin: null",
                                          "Referer: http://evil.example/login"};
    char value[64], attrs[256];
    for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
        struct mochi_test_response r;
        post_login(ALICE_FORM, "198.51.100.4", hostile[i], &r);
        expect_status(&r, 403);
        assert_false(set_cookie(&r, value, attrs));
        mochi_test_response_free(&r);
    }
    /* from our own page (Referer naming our host) it works */
    char referer[128], cookie[64];
    snprintf(referer, sizeof(referer), "Referer: %s/login", t.base);
    struct mochi_test_response r;
    post_login(ALICE_FORM, "198.51.100.4", referer, &r);
    expect_status(&r, 303);
    assert_true(set_cookie(&r, cookie, attrs));
    remember_secret(cookie);
    mochi_test_response_free(&r);
}

/* A session row written here, for a cookie made here. */
static void make_session(const char *email, const char *expires, char cookie[64], char csrf[64])
{
    unsigned char raw[32];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2base64(cookie, 64, raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    random_text(32, csrf, 64);
    char hash[67], sql[512];
    hash_hex(raw, sizeof(raw), hash);
    snprintf(sql, sizeof(sql),
             "INSERT INTO sessions (token_hash, user_id, csrf_token, expires_at)"
             " SELECT '%s', id, '%s', %s FROM users WHERE email = '%s'",
             hash, csrf, expires, email);
    mochi_test_db_exec(t.conn, sql);
    remember_secret(cookie);
    remember_secret(csrf);
}

static long long session_rows(const char *cookie)
{
    unsigned char raw[32];
    size_t n = 0;
    assert_int_equal(sodium_base642bin(raw, sizeof(raw), cookie, strlen(cookie), NULL, &n, NULL,
                                       sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                     0);
    char hash[67], sql[256];
    hash_hex(raw, sizeof(raw), hash);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM sessions WHERE token_hash = '%s'", hash);
    return mochi_test_db_int(t.conn, sql);
}

static void session_expiry_and_logout(void **state)
{
    (void)state;
    char cookie[64], csrf[64], path[256];
    struct mochi_test_response r;
    /* expired: refused, and its row deleted */
    make_session("alice@example.com", "now() - interval '1 minute'", cookie, csrf);
    get("/", cookie, &r);
    expect_status(&r, 303);
    mochi_test_response_free(&r);
    assert_int_equal(session_rows(cookie), 0);
    make_session("alice@example.com", "now() - interval '1 second'", cookie, csrf);
    snprintf(path, sizeof(path), "/api/v1/sites/%s/summary", t.site_a);
    expect_error(path, cookie, 401, "not logged in (a session cookie or a Bearer token)");
    assert_int_equal(session_rows(cookie), 0);

    /* sliding: last extended 13 days ago (ttl 14 d): moved, cookie again */
    make_session("alice@example.com", "now() + interval '1 day'", cookie, csrf);
    get("/", cookie, &r);
    expect_status(&r, 200);
    char value[64], attrs[256];
    assert_true(set_cookie(&r, value, attrs));
    assert_string_equal(value, cookie);
    assert_string_equal(attrs, "; Path=/; HttpOnly; SameSite=Lax; Max-Age=1209600; Secure");
    mochi_test_response_free(&r);
    char hash_sql[512];
    unsigned char raw[32];
    size_t n = 0;
    assert_int_equal(sodium_base642bin(raw, sizeof(raw), cookie, strlen(cookie), NULL, &n, NULL,
                                       sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                     0);
    char hash[67];
    hash_hex(raw, sizeof(raw), hash);
    snprintf(hash_sql, sizeof(hash_sql),
             "SELECT count(*) FROM sessions WHERE token_hash = '%s'"
             " AND expires_at > now() + interval '13 days 23 hours'",
             hash);
    assert_int_equal(mochi_test_db_int(t.conn, hash_sql), 1);
    /* used again at once: not moved again, no cookie */
    get("/", cookie, &r);
    expect_status(&r, 200);
    assert_false(set_cookie(&r, value, attrs));
    mochi_test_response_free(&r);

    /* logout: a POST without the CSRF token, or with a wrong one, is 403
     * and the session stays */
    request("POST", "/logout", cookie, NULL, NULL, NULL, "", &r);
    expect_status(&r, 403);
    json_t *doc = json_body(&r);
    assert_string_equal(json_string_value(json_object_get(doc, "error")),
                        "CSRF token missing or wrong");
    json_decref(doc);
    mochi_test_response_free(&r);
    request("POST", "/logout", cookie, "X-CSRF-Token: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            NULL, NULL, "", &r);
    expect_status(&r, 403);
    mochi_test_response_free(&r);
    char form[128];
    snprintf(form, sizeof(form), "csrf=%.10s", csrf); /* a prefix of the right one */
    request("POST", "/logout", cookie, NULL, NULL, NULL, form, &r);
    expect_status(&r, 403);
    mochi_test_response_free(&r);
    assert_int_equal(session_rows(cookie), 1);
    /* with the form field: the row goes, the cookie is expired */
    snprintf(form, sizeof(form), "csrf=%s", csrf);
    request("POST", "/logout", cookie, NULL, NULL, NULL, form, &r);
    expect_status(&r, 303);
    char location[64];
    assert_true(header(&r, "Location", location, sizeof(location)));
    assert_string_equal(location, "/login");
    assert_true(set_cookie(&r, value, attrs));
    assert_string_equal(value, "");
    assert_string_equal(attrs, "; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure");
    mochi_test_response_free(&r);
    assert_int_equal(session_rows(cookie), 0);
    get("/", cookie, &r);
    expect_status(&r, 303);
    mochi_test_response_free(&r);
    /* with the header instead of the field */
    make_session("bob@example.com", "now() + interval '14 days'", cookie, csrf);
    char csrf_header[128];
    snprintf(csrf_header, sizeof(csrf_header), "X-CSRF-Token: %s", csrf);
    request("POST", "/logout", cookie, csrf_header, NULL, NULL, "", &r);
    expect_status(&r, 303);
    mochi_test_response_free(&r);
    assert_int_equal(session_rows(cookie), 0);
    /* other methods and paths */
    request("GET", "/logout", NULL, NULL, NULL, NULL, NULL, &r);
    expect_status(&r, 405);
    mochi_test_response_free(&r);
    char cookie2[64];
    login_alice("198.51.100.5", cookie2);
    snprintf(path, sizeof(path), "/sites/%s", t.site_a);
    request("POST", path, cookie2, NULL, NULL, NULL, "x=1", &r);
    expect_status(&r, 405);
    mochi_test_response_free(&r);
}

/* ---- access ---- */

static void access_by_role(void **state)
{
    (void)state;
    char cookie[64], path[256];
    login_alice("198.51.100.6", cookie);
    struct mochi_test_response r;
    /* granted: the page; not granted: 403 on the page and the API */
    snprintf(path, sizeof(path), "/sites/%s", t.site_a);
    get(path, cookie, &r);
    expect_status(&r, 200);
    mochi_test_response_free(&r);
    snprintf(path, sizeof(path), "/sites/%s", t.site_c);
    get(path, cookie, &r);
    expect_status(&r, 200);
    mochi_test_response_free(&r);
    snprintf(path, sizeof(path), "/sites/%s", t.site_b);
    get(path, cookie, &r);
    expect_status(&r, 403);
    assert_null(strstr(r.body, "Bravo"));
    mochi_test_response_free(&r);
    static const char *const endpoints[] = {"summary",     "timeseries", "pages",     "sources",
                                            "entry-pages", "realtime",   "freshness", "export.csv"};
    for (size_t i = 0; i < sizeof(endpoints) / sizeof(endpoints[0]); i++) {
        snprintf(path, sizeof(path), "/api/v1/sites/%s/%s", t.site_b, endpoints[i]);
        expect_error(path, cookie, 403, "no access to this site");
        expect_error(path, NULL, 401, "not logged in (a session cookie or a Bearer token)");
    }
    /* no such site; not a site id */
    expect_error("/api/v1/sites/00000000-0000-4000-8000-000000000000/summary", cookie, 404,
                 "no such site");
    expect_error("/api/v1/sites/not-a-uuid/summary", cookie, 404, "no such site");
    get("/sites/00000000-0000-4000-8000-000000000000", cookie, &r);
    expect_status(&r, 404);
    mochi_test_response_free(&r);
    /* the id in capitals is the same site */
    char upper[40];
    snprintf(upper, sizeof(upper), "%s", t.site_a);
    for (char *p = upper; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 32);
    snprintf(path, sizeof(path), "/api/v1/sites/%s/realtime", upper);
    json_decref(get_json(path, cookie, 200));
}

static void api_tokens(void **state)
{
    (void)state;
    char path[256], auth[128];
    struct mochi_test_response r;
    snprintf(path, sizeof(path), "/api/v1/sites/%s/summary?from=2024-12-30&to=2025-01-02",
             t.site_a);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", t.token_a);
    request("GET", path, NULL, auth, NULL, NULL, NULL, &r);
    expect_status(&r, 200);
    json_t *doc = json_body(&r);
    assert_int_equal(json_integer_value(json_object_get(doc, "page_views")), 120);
    json_decref(doc);
    mochi_test_response_free(&r);
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM api_tokens WHERE name = 'ci' AND last_used_at > now() - "
             "interval '1 minute'");
    assert_int_equal(mochi_test_db_int(t.conn, sql), 1);
    /* revoked, unknown, malformed: 401; another site's: 403 */
    struct {
        const char *header;
        long status;
        const char *message;
    } cases[5];
    char revoked[128], other[128];
    snprintf(revoked, sizeof(revoked), "Authorization: Bearer %s", t.token_a_revoked);
    snprintf(other, sizeof(other), "Authorization: Bearer %s", t.token_b);
    cases[0].header = revoked, cases[0].status = 401, cases[0].message = "API token revoked";
    cases[1].header = "Authorization: Bearer mochi_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    cases[1].status = 401, cases[1].message = "unknown API token";
    cases[2].header = "Authorization: Bearer x";
    cases[2].status = 401, cases[2].message = "unknown API token";
    cases[3].header = "Authorization: Basic YWxpY2U6cHc=";
    cases[3].status = 401, cases[3].message = "Authorization: use Bearer <API token>";
    cases[4].header = other, cases[4].status = 403, cases[4].message = "no access to this site";
    for (size_t i = 0; i < 5; i++) {
        request("GET", path, NULL, cases[i].header, NULL, NULL, NULL, &r);
        expect_status(&r, cases[i].status);
        doc = json_body(&r);
        assert_string_equal(json_string_value(json_object_get(doc, "error")), cases[i].message);
        json_decref(doc);
        char www[64];
        assert_int_equal(header(&r, "WWW-Authenticate", www, sizeof(www)), cases[i].status == 401);
        mochi_test_response_free(&r);
    }
    /* B's token reads B */
    snprintf(path, sizeof(path), "/api/v1/sites/%s/pages?from=2024-12-31&to=2024-12-31", t.site_b);
    request("GET", path, NULL, other, NULL, NULL, NULL, &r);
    expect_status(&r, 200);
    doc = json_body(&r);
    expect_json(doc, "{\"from\":\"2024-12-31\",\"to\":\"2024-12-31\",\"total\":1,\"limit\":10,"
                     "\"offset\":0,\"rows\":[{\"path\":\"/b-only\",\"page_views\":555}]}");
    json_decref(doc);
    mochi_test_response_free(&r);
    /* a token opens no page */
    snprintf(path, sizeof(path), "/sites/%s", t.site_a);
    request("GET", path, NULL, auth, NULL, NULL, NULL, &r);
    expect_status(&r, 303);
    mochi_test_response_free(&r);
}

static void share_links(void **state)
{
    (void)state;
    char path[256];
    struct mochi_test_response r;
    snprintf(path, sizeof(path), "/share/%s?from=2024-12-30&to=2025-01-02", t.slug);
    get(path, NULL, &r);
    expect_status(&r, 200);
    char want[256];
    snprintf(want, sizeof(want), "data-api=\"/share/%s/api/v1\"", t.slug);
    assert_non_null(strstr(r.body, want));
    assert_non_null(strstr(r.body, "<p id=\"share-note\">"));
    assert_null(strstr(r.body, "logout"));
    assert_null(strstr(r.body, "csrf"));
    assert_null(strstr(r.body, "href=\"/\""));
    assert_non_null(strstr(r.body, "data-value=\"120\">120</dd>"));
    snprintf(want, sizeof(want),
             "href=\"/share/%s/api/v1/export.csv?from=2024-12-30&amp;to=2025-01-02\"", t.slug);
    assert_non_null(strstr(r.body, want));
    mochi_test_response_free(&r);
    snprintf(path, sizeof(path), "/share/%s/api/v1/summary?from=2024-12-30&to=2025-01-02", t.slug);
    json_t *doc = get_json(path, NULL, 200);
    assert_int_equal(json_integer_value(json_object_get(doc, "page_views")), 120);
    json_decref(doc);
    /* revoked, unknown and malformed slugs: 404 */
    snprintf(path, sizeof(path), "/share/%s", t.slug_revoked);
    get(path, NULL, &r);
    expect_status(&r, 404);
    mochi_test_response_free(&r);
    snprintf(path, sizeof(path), "/share/%s/api/v1/summary", t.slug_revoked);
    expect_error(path, NULL, 404, "no such share link");
    get("/share/AAAAAAAAAAAAAAAAAAAAAAAA", NULL, &r);
    expect_status(&r, 404);
    mochi_test_response_free(&r);
    get("/share/short", NULL, &r);
    expect_status(&r, 404);
    mochi_test_response_free(&r);
    snprintf(path, sizeof(path), "/share/%s/api/v1/nothing", t.slug);
    expect_error(path, NULL, 404, "no such share link or endpoint");
    /* revoke the live one: gone at once */
    char sql[256];
    snprintf(sql, sizeof(sql), "UPDATE shares SET revoked_at = now() WHERE slug = '%s'", t.slug);
    mochi_test_db_exec(t.conn, sql);
    snprintf(path, sizeof(path), "/share/%s", t.slug);
    get(path, NULL, &r);
    expect_status(&r, 404);
    mochi_test_response_free(&r);
    snprintf(path, sizeof(path), "/share/%s/api/v1/pages", t.slug);
    expect_error(path, NULL, 404, "no such share link");
    snprintf(sql, sizeof(sql), "UPDATE shares SET revoked_at = NULL WHERE slug = '%s'", t.slug);
    mochi_test_db_exec(t.conn, sql);
}

/* The accounts mochictl makes (users, grants, tokens, shares) work here:
 * the two sides agree on the hashes of docs/web-api.md. */
static json_t *mochictl_json(const char *const args[], const char *input)
{
    char *out = NULL, *err = NULL;
    int code = input ? mochi_test_mochictl_input(t.db.conninfo, NULL, NULL, args, input,
                                                 strlen(input), 60000, &out, &err)
                     : mochi_test_mochictl(t.db.conninfo, NULL, NULL, args, 60000, &out, &err);
    if (code != 0)
        fail_msg("mochictl %s %s: exit %d: %s", args[0], args[1], code, err);
    json_error_t jerr;
    /* the commands without --json print a line of text: nothing to read */
    json_t *doc = out[0] == '{' || out[0] == '[' ? json_loads(out, 0, &jerr) : json_object();
    if (doc == NULL)
        fail_msg("mochictl %s %s: not JSON: %s", args[0], args[1], out);
    free(out);
    free(err);
    return doc;
}

static void made_by_mochictl(void **state)
{
    (void)state;
    const char *add[] = {"users", "add", "--email", "Carol@Example.com", NULL};
    json_decref(mochictl_json(add, "carol's long passphrase\n"));
    remember_secret("carol's long passphrase");
    const char *grant_b[] = {"users",  "grant",  "--email", "carol@example.com", "--site", t.site_b,
                             "--role", "viewer", NULL};
    json_decref(mochictl_json(grant_b, NULL));
    const char *token_args[] = {"tokens", "create", "--site", t.site_b,
                                "--name", "carol",  "--json", NULL};
    json_t *token = mochictl_json(token_args, NULL);
    const char *text = json_string_value(json_object_get(token, "token"));
    assert_non_null(text);
    remember_secret(text);
    const char *share_args[] = {"shares", "create", "--site", t.site_b, "--json", NULL};
    json_t *share = mochictl_json(share_args, NULL);
    const char *slug = json_string_value(json_object_get(share, "slug"));
    assert_non_null(slug);

    struct mochi_test_response r;
    char origin[128], cookie[64], attrs[256], path[256], auth[128];
    snprintf(origin, sizeof(origin), "Origin: %s", t.base);
    post_login("email=carol%40example.com&password=carol%27s+long+passphrase", "198.51.100.20",
               origin, &r);
    expect_status(&r, 303);
    assert_true(set_cookie(&r, cookie, attrs));
    remember_secret(cookie);
    mochi_test_response_free(&r);
    snprintf(path, sizeof(path), "/sites/%s?from=2024-12-31&to=2024-12-31", t.site_b);
    get(path, cookie, &r);
    expect_status(&r, 200);
    assert_non_null(strstr(r.body, "<dd class=\"total-value\" data-value=\"555\">555</dd>"));
    mochi_test_response_free(&r);
    snprintf(path, sizeof(path), "/sites/%s", t.site_a);
    get(path, cookie, &r);
    expect_status(&r, 403);
    mochi_test_response_free(&r);

    snprintf(path, sizeof(path), "/api/v1/sites/%s/summary?from=2024-12-31&to=2024-12-31",
             t.site_b);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", text);
    request("GET", path, NULL, auth, NULL, NULL, NULL, &r);
    expect_status(&r, 200);
    mochi_test_response_free(&r);
    snprintf(path, sizeof(path), "/share/%s/api/v1/pages?from=2024-12-31&to=2024-12-31", slug);
    json_t *doc = get_json(path, NULL, 200);
    expect_json(doc, "{\"from\":\"2024-12-31\",\"to\":\"2024-12-31\",\"total\":1,\"limit\":10,"
                     "\"offset\":0,\"rows\":[{\"path\":\"/b-only\",\"page_views\":555}]}");
    json_decref(doc);

    /* revoked by mochictl: refused at once */
    char id[32];
    snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(json_object_get(token, "id")));
    const char *revoke_token[] = {"tokens", "revoke", "--id", id, NULL};
    json_decref(mochictl_json(revoke_token, NULL));
    snprintf(path, sizeof(path), "/api/v1/sites/%s/summary", t.site_b);
    request("GET", path, NULL, auth, NULL, NULL, NULL, &r);
    expect_status(&r, 401);
    mochi_test_response_free(&r);
    const char *revoke_share[] = {"shares", "revoke", "--slug", slug, NULL};
    json_decref(mochictl_json(revoke_share, NULL));
    snprintf(path, sizeof(path), "/share/%s", slug);
    get(path, NULL, &r);
    expect_status(&r, 404);
    mochi_test_response_free(&r);
    json_decref(token);
    json_decref(share);
}

/* ---- the numbers ---- */

static void api_across_year_end(void **state)
{
    (void)state;
    char cookie[64], path[256];
    login_alice("198.51.100.7", cookie);
    const char *q = "from=2024-12-30&to=2025-01-02&compare=previous";
    json_t *doc;
    snprintf(path, sizeof(path), "/api/v1/sites/%s/summary?%s", t.site_a, q);
    doc = get_json(path, cookie, 200);
    expect_json(doc,
                "{\"from\":\"2024-12-30\",\"to\":\"2025-01-02\",\"timezone\":\"Europe/Berlin\","
                "\"page_views\":120,\"visitors\":47,\"visitors_is_sum\":true,\"entries\":30,"
                "\"compare\":{\"from\":\"2024-12-26\",\"to\":\"2024-12-29\","
                "\"page_views\":30,\"visitors\":12,\"entries\":7}}");
    json_decref(doc);
    snprintf(path, sizeof(path), "/api/v1/sites/%s/timeseries?%s", t.site_a, q);
    doc = get_json(path, cookie, 200);
    expect_json(doc,
                "{\"from\":\"2024-12-30\",\"to\":\"2025-01-02\",\"interval\":\"day\",\"points\":["
                "{\"date\":\"2024-12-30\",\"page_views\":30,\"visitors\":12},"
                "{\"date\":\"2024-12-31\",\"page_views\":40,\"visitors\":15},"
                "{\"date\":\"2025-01-01\",\"page_views\":0,\"visitors\":0},"
                "{\"date\":\"2025-01-02\",\"page_views\":50,\"visitors\":20}],"
                "\"compare\":{\"from\":\"2024-12-26\",\"to\":\"2024-12-29\",\"points\":["
                "{\"date\":\"2024-12-26\",\"page_views\":10,\"visitors\":4},"
                "{\"date\":\"2024-12-27\",\"page_views\":0,\"visitors\":0},"
                "{\"date\":\"2024-12-28\",\"page_views\":20,\"visitors\":8},"
                "{\"date\":\"2024-12-29\",\"page_views\":0,\"visitors\":0}]}}");
    json_decref(doc);
    snprintf(path, sizeof(path), "/api/v1/sites/%s/pages?%s", t.site_a, q);
    doc = get_json(path, cookie, 200);
    expect_json(doc, "{\"from\":\"2024-12-30\",\"to\":\"2025-01-02\",\"total\":4,\"limit\":10,"
                     "\"offset\":0,\"rows\":[{\"path\":\"/\",\"page_views\":45},"
                     "{\"path\":\"/blog\",\"page_views\":40},"
                     "{\"path\":\"=cmd|' /C calc'!A0\",\"page_views\":20},"
                     "{\"path\":\"/<img src=x onerror=alert(1)>\",\"page_views\":15}]}");
    json_decref(doc);
    snprintf(path, sizeof(path), "/api/v1/sites/%s/sources?%s", t.site_a, q);
    doc = get_json(path, cookie, 200);
    expect_json(doc, "{\"from\":\"2024-12-30\",\"to\":\"2025-01-02\",\"total\":4,\"limit\":10,"
                     "\"offset\":0,\"rows\":["
                     "{\"source\":\"google.com\",\"entries\":9,\"visitors\":9},"
                     "{\"source\":\"\",\"entries\":8,\"visitors\":7},"
                     "{\"source\":\"news.ycombinator.com\",\"entries\":10,\"visitors\":6},"
                     "{\"source\":\"\\\"><script>\",\"entries\":3,\"visitors\":3}]}");
    json_decref(doc);
    snprintf(path, sizeof(path), "/api/v1/sites/%s/entry-pages?%s", t.site_a, q);
    doc = get_json(path, cookie, 200);
    /* the tie at 3, bytewise: '<' (0x3c) before 'B' (0x42) */
    expect_json(doc, "{\"from\":\"2024-12-30\",\"to\":\"2025-01-02\",\"total\":4,\"limit\":10,"
                     "\"offset\":0,\"rows\":[{\"path\":\"/\",\"entries\":13},"
                     "{\"path\":\"/blog\",\"entries\":11},"
                     "{\"path\":\"/<img src=x onerror=alert(1)>\",\"entries\":3},"
                     "{\"path\":\"/B\",\"entries\":3}]}");
    json_decref(doc);
    /* pages of a list */
    snprintf(path, sizeof(path),
             "/api/v1/sites/%s/pages?from=2024-12-30&to=2025-01-02&limit=2"
             "&offset=1",
             t.site_a);
    doc = get_json(path, cookie, 200);
    expect_json(doc, "{\"from\":\"2024-12-30\",\"to\":\"2025-01-02\",\"total\":4,\"limit\":2,"
                     "\"offset\":1,\"rows\":[{\"path\":\"/blog\",\"page_views\":40},"
                     "{\"path\":\"=cmd|' /C calc'!A0\",\"page_views\":20}]}");
    json_decref(doc);
    snprintf(path, sizeof(path),
             "/api/v1/sites/%s/sources?from=2024-12-30&to=2025-01-02"
             "&offset=10",
             t.site_a);
    doc = get_json(path, cookie, 200);
    expect_json(doc, "{\"from\":\"2024-12-30\",\"to\":\"2025-01-02\",\"total\":4,\"limit\":10,"
                     "\"offset\":10,\"rows\":[]}");
    json_decref(doc);
    /* one day: visitors are that day's uniques, not a sum */
    snprintf(path, sizeof(path), "/api/v1/sites/%s/summary?from=2024-12-31&to=2024-12-31",
             t.site_a);
    doc = get_json(path, cookie, 200);
    expect_json(doc,
                "{\"from\":\"2024-12-31\",\"to\":\"2024-12-31\",\"timezone\":\"Europe/Berlin\","
                "\"page_views\":40,\"visitors\":15,\"visitors_is_sum\":false,\"entries\":8,"
                "\"compare\":null}");
    json_decref(doc);

    /* realtime: raw events of the last 5 minutes, seen only as counts */
    char sql[1024];
    snprintf(sql, sizeof(sql),
             "INSERT INTO page_view_events (site_id, path, visitor_hash, occurred_at) VALUES"
             " ('%s', '/', 'v1', now() - interval '1 minute'),"
             " ('%s', '/a', 'v1', now() - interval '2 minutes'),"
             " ('%s', '/', 'v2', now() - interval '4 minutes'),"
             " ('%s', '/', 'v3', now() - interval '10 minutes'),"
             " ('%s', '/', 'v4', now() - interval '1 minute')",
             t.site_a, t.site_a, t.site_a, t.site_a, t.site_b);
    mochi_test_db_exec(t.conn, sql);
    snprintf(path, sizeof(path), "/api/v1/sites/%s/realtime", t.site_a);
    doc = get_json(path, cookie, 200);
    expect_json(doc, "{\"minutes\":5,\"visitors\":2,\"page_views\":3}");
    json_decref(doc);

    /* the dashboard page carries the same numbers */
    struct mochi_test_response r;
    snprintf(path, sizeof(path), "/sites/%s?%s", t.site_a, q);
    get(path, cookie, &r);
    expect_status(&r, 200);
    const char *page = r.body;
    char want[512];
    snprintf(want, sizeof(want),
             "<main id=\"content\" class=\"dashboard\" data-site=\"%s\" "
             "data-api=\"/api/v1/sites/%s\" data-timezone=\"Europe/Berlin\" "
             "data-from=\"2024-12-30\" data-to=\"2025-01-02\" data-range=\"\" "
             "data-compare=\"previous\">",
             t.site_a, t.site_a);
    assert_non_null(strstr(page, want));
    static const char *const fragments[] = {
        "<link rel=\"stylesheet\" href=\"/static/app.css\">",
        "<link rel=\"stylesheet\" href=\"/static/uplot.min.css\">",
        "<script defer src=\"/static/uplot.iife.min.js\"></script>",
        "<script defer src=\"/static/app.js\"></script>",
        "<span id=\"site-timezone\">Europe/Berlin</span>",
        "<div class=\"total\" id=\"total-page-views\">\n<dt>Page views</dt>\n"
        "<dd class=\"total-value\" data-value=\"120\">120</dd>\n"
        "<dd class=\"total-previous\" data-value=\"30\">previous period: 30</dd>\n"
        "<dd class=\"total-change\" data-change=\"up\">+300.0%</dd>",
        "<dt>Visitors <span class=\"total-note\">(sum of daily uniques)</span></dt>\n"
        "<dd class=\"total-value\" data-value=\"47\">47</dd>",
        "<dd class=\"total-value\" data-value=\"30\">30</dd>",
        "<tr><th scope=\"row\"><time datetime=\"2025-01-01\">2025-01-01</time></th>"
        "<td class=\"num\">0</td><td class=\"num\">0</td>"
        "<td><time datetime=\"2024-12-28\">2024-12-28</time></td><td class=\"num\">20</td>"
        "<td class=\"num\">8</td></tr>",
        "<tr><th scope=\"row\">/blog</th><td class=\"num\">40</td></tr>",
        "<tr><th scope=\"row\" class=\"direct\">Direct / none</th><td class=\"num\">7</td>"
        "<td class=\"num\">8</td></tr>",
        "<tr><th scope=\"row\">/</th><td class=\"num\">13</td></tr>",
        "<span id=\"realtime-visitors\">2</span> visitors (<span "
        "id=\"realtime-page-views\">3</span> page views) in the last 5 minutes",
        "<input type=\"date\" id=\"range-from\" name=\"from\" value=\"2024-12-30\" required>",
        "<input type=\"checkbox\" id=\"range-compare\" name=\"compare\" value=\"previous\" "
        "checked>",
        "<p id=\"freshness\" data-state=\"unknown\">",
    };
    for (size_t i = 0; i < sizeof(fragments) / sizeof(fragments[0]); i++)
        if (strstr(page, fragments[i]) == NULL)
            fail_msg("the dashboard lacks: %s", fragments[i]);
    snprintf(want, sizeof(want),
             "<div id=\"chart\" data-api=\"/api/v1/sites/%s/timeseries?from=2024-12-30&amp;"
             "to=2025-01-02&amp;compare=previous\"></div>",
             t.site_a);
    assert_non_null(strstr(page, want));
    snprintf(want, sizeof(want),
             "<a class=\"preset\" data-range=\"last_month\" href=\"/sites/%s?range=last_month"
             "&amp;compare=previous\">Last month</a>",
             t.site_a);
    assert_non_null(strstr(page, want));
    /* nothing outside the range leaks in */
    assert_null(strstr(page, "/old"));
    assert_null(strstr(page, "zzz.example"));
    assert_null(strstr(page, "gone.example"));
    assert_null(strstr(page, "style="));
    assert_null(strstr(page, "<script>"));
    mochi_test_response_free(&r);
}

/* The presets are days of the site's zone, "today" as PostgreSQL says. */
/* Lists over whole months read them from the monthly tables, and the
 * days around them from the daily ones: each day counted once. */
static void api_across_whole_months(void **state)
{
    (void)state;
    char cookie[64], path[256];
    login_alice("198.51.100.9", cookie);
    static const struct {
        const char *list, *range, *want;
    } cases[] = {
        /* a partial month on either side of two whole ones */
        {"pages", "from=2024-01-30&to=2024-04-02",
         "\"total\":3,\"limit\":10,\"offset\":0,\"rows\":[{\"path\":\"/a\",\"page_views\":1038},"
         "{\"path\":\"/b\",\"page_views\":108},{\"path\":\"/c\",\"page_views\":4}]"},
        {"sources", "from=2024-01-30&to=2024-04-02",
         "\"total\":2,\"limit\":10,\"offset\":0,\"rows\":["
         "{\"source\":\"x.example\",\"entries\":18,\"visitors\":16},"
         "{\"source\":\"\",\"entries\":8,\"visitors\":7}]"},
        {"entry-pages", "from=2024-01-30&to=2024-04-02",
         "\"total\":2,\"limit\":10,\"offset\":0,\"rows\":[{\"path\":\"/b\",\"entries\":7},"
         "{\"path\":\"/a\",\"entries\":6}]"},
        /* whole months only */
        {"pages", "from=2024-02-01&to=2024-03-31",
         "\"total\":2,\"limit\":10,\"offset\":0,\"rows\":[{\"path\":\"/b\",\"page_views\":101},"
         "{\"path\":\"/a\",\"page_views\":33}]"},
        /* one day, then a whole month */
        {"pages", "from=2024-01-31&to=2024-02-29",
         "\"total\":2,\"limit\":10,\"offset\":0,\"rows\":[{\"path\":\"/a\",\"page_views\":30},"
         "{\"path\":\"/b\",\"page_views\":8}]"},
        /* inside one month, its last day included */
        {"pages", "from=2024-02-10&to=2024-02-29",
         "\"total\":2,\"limit\":10,\"offset\":0,\"rows\":[{\"path\":\"/a\",\"page_views\":20},"
         "{\"path\":\"/b\",\"page_views\":1}]"},
        /* the shape of 12mo: eleven whole months and this month's days */
        {"pages", "from=2023-05-01&to=2024-04-02",
         "\"total\":4,\"limit\":10,\"offset\":0,\"rows\":[{\"path\":\"/z\",\"page_views\":9999},"
         "{\"path\":\"/a\",\"page_views\":1038},{\"path\":\"/b\",\"page_views\":108},"
         "{\"path\":\"/c\",\"page_views\":4}]"},
        {"entry-pages", "from=2023-05-01&to=2024-04-03",
         "\"total\":2,\"limit\":10,\"offset\":0,\"rows\":[{\"path\":\"/a\",\"entries\":56},"
         "{\"path\":\"/b\",\"entries\":7}]"},
        /* past the end: the total counted apart */
        {"sources", "from=2023-05-01&to=2024-04-30&offset=5",
         "\"total\":2,\"limit\":10,\"offset\":5,\"rows\":[]"},
        {"pages", "from=2023-05-01&to=2024-04-02&limit=1&offset=1",
         "\"total\":4,\"limit\":1,\"offset\":1,\"rows\":[{\"path\":\"/a\",\"page_views\":1038}]"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(path, sizeof(path), "/api/v1/sites/%s/%s?%s", t.site_d, cases[i].list,
                 cases[i].range);
        json_t *doc = get_json(path, cookie, 200);
        json_object_del(doc, "from");
        json_object_del(doc, "to");
        char want[1024];
        snprintf(want, sizeof(want), "{%s}", cases[i].want);
        expect_json(doc, want);
        json_decref(doc);
    }
}

static void presets_by_site_today(void **state)
{
    (void)state;
    char cookie[64], path[256], want[64];
    login_alice("198.51.100.8", cookie);
    static const struct {
        const char *range, *from_sql, *to_sql;
    } cases[] = {
        {"today", "d", "d"},
        {"yesterday", "d - 1", "d - 1"},
        {"7d", "d - 6", "d"},
        {"30d", "d - 29", "d"},
        {"month", "date_trunc('month', d)::date", "d"},
        {"last_month", "(date_trunc('month', d) - interval '1 month')::date",
         "(date_trunc('month', d) - interval '1 day')::date"},
        {"12mo", "(date_trunc('month', d) - interval '11 months')::date", "d"},
        {NULL, "d - 29", "d"}, /* no range at all */
    };
    static const struct {
        const char *zone;
        long long today_views;
    } zones[] = {{"Pacific/Kiritimati", 5}, {"Etc/GMT+12", 6}};
    for (size_t z = 0; z < 2; z++) {
        const char *site = z == 0 ? t.site_c : t.site_d;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            snprintf(path, sizeof(path), "/api/v1/sites/%s/summary%s%s", site,
                     cases[i].range ? "?range=" : "", cases[i].range ? cases[i].range : "");
            json_t *doc = get_json(path, cookie, 200);
            char sql[512];
            snprintf(sql, sizeof(sql),
                     "SELECT (%s)::text || ' ' || (%s)::text FROM (SELECT (now() AT TIME ZONE"
                     " '%s')::date AS d) x",
                     cases[i].from_sql, cases[i].to_sql, zones[z].zone);
            assert_true(mochi_test_db_text(t.conn, sql, want, sizeof(want)));
            char got[64];
            snprintf(got, sizeof(got), "%s %s", json_string_value(json_object_get(doc, "from")),
                     json_string_value(json_object_get(doc, "to")));
            if (strcmp(got, want) != 0)
                fail_msg("%s, range %s: %s, wanted %s", zones[z].zone,
                         cases[i].range ? cases[i].range : "(none)", got, want);
            json_decref(doc);
        }
        /* today there: the row written for it */
        snprintf(path, sizeof(path), "/api/v1/sites/%s/summary?range=today", site);
        json_t *doc = get_json(path, cookie, 200);
        assert_int_equal(json_integer_value(json_object_get(doc, "page_views")),
                         zones[z].today_views);
        assert_string_equal(json_string_value(json_object_get(doc, "timezone")), zones[z].zone);
        json_decref(doc);
    }
    /* the page marks the preset asked for */
    struct mochi_test_response r;
    snprintf(path, sizeof(path), "/sites/%s?range=12mo", t.site_c);
    get(path, cookie, &r);
    expect_status(&r, 200);
    char link[256];
    snprintf(link, sizeof(link),
             "<a class=\"preset\" data-range=\"12mo\" href=\"/sites/%s?range=12mo\" "
             "aria-current=\"page\">Last 12 months</a>",
             t.site_c);
    assert_non_null(strstr(r.body, link));
    assert_non_null(strstr(r.body, "<h1 id=\"site-name\">&lt;b&gt;Line&lt;/b&gt; &amp; Co</h1>"));
    mochi_test_response_free(&r);
}

static void malformed_parameters(void **state)
{
    (void)state;
    char cookie[64], path[512];
    login_alice("198.51.100.9", cookie);
    static const struct {
        const char *query, *message;
    } cases[] = {
        {"summary?from=2024-02-30", "from: not a date (YYYY-MM-DD, years 1900 to 9999)"},
        {"summary?to=2024-01-01%27%3B%20DROP%20TABLE%20sites", "to: not a date (YYYY-MM-DD, "
                                                               "years 1900 to 9999)"},
        {"timeseries?from=0000-01-01&to=2024-01-01", "from: not a date (YYYY-MM-DD, years 1900 "
                                                     "to 9999)"},
        {"summary?from=2025-01-02&to=2024-12-30", "from: after to"},
        {"timeseries?from=1990-01-01&to=2024-01-01", "from: the range is longer than 3660 days"},
        {"pages?limit=0", "limit: must be a whole number from 1 to 1000"},
        {"pages?limit=1001", "limit: must be a whole number from 1 to 1000"},
        {"pages?limit=99999999999999999999999", "limit: must be a whole number from 1 to 1000"},
        {"sources?limit=abc", "limit: must be a whole number from 1 to 1000"},
        {"entry-pages?offset=-1", "offset: must be a whole number from 0 to 1000000000"},
        {"summary?range=fortnight",
         "range: unknown value (today, yesterday, 7d, 30d, month, last_month, 12mo)"},
        {"summary?range=7d&from=2024-01-01", "range: give either range or from/to, not both"},
        {"summary?compare=next", "compare: the only value is 'previous'"},
        {"summary?from=2024%0001-01", "a query parameter holds a NUL byte (%00)"},
        {"export.csv?from=x", "from: not a date (YYYY-MM-DD, years 1900 to 9999)"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(path, sizeof(path), "/api/v1/sites/%s/%s", t.site_a, cases[i].query);
        expect_error(path, cookie, 400, cases[i].message);
    }
    /* an empty value is no value: the defaults */
    snprintf(path, sizeof(path),
             "/api/v1/sites/%s/pages?from=2024-12-30&to=2025-01-02&range=&compare=&limit=&offset=",
             t.site_a);
    json_t *doc = get_json(path, cookie, 200);
    assert_int_equal(json_integer_value(json_object_get(doc, "limit")), 10);
    assert_int_equal(json_array_size(json_object_get(doc, "rows")), 4);
    json_decref(doc);
    /* unknown endpoints */
    snprintf(path, sizeof(path), "/api/v1/sites/%s/bogus", t.site_a);
    expect_error(path, cookie, 404, "no such endpoint");
    snprintf(path, sizeof(path), "/api/v1/sites/%s/summary/more", t.site_a);
    expect_error(path, cookie, 404, "no such endpoint");
    expect_error("/api/v2/query", cookie, 404, "no such endpoint");
    expect_error("/api/v1/sites", cookie, 404, "no such endpoint");
    /* the page says what is wrong, escaped, with 400 */
    struct mochi_test_response r;
    snprintf(path, sizeof(path), "/sites/%s?from=2025-01-02&to=2024-12-30", t.site_a);
    get(path, cookie, &r);
    expect_status(&r, 400);
    assert_non_null(strstr(r.body, "<p id=\"error-message\">from: after to</p>"));
    mochi_test_response_free(&r);
    snprintf(path, sizeof(path), "/sites/%s?compare=%%3Cscript%%3E", t.site_a);
    get(path, cookie, &r);
    expect_status(&r, 400);
    assert_non_null(strstr(r.body, "compare: the only value is &#39;previous&#39;"));
    mochi_test_response_free(&r);
    get("/no/such/page", cookie, &r);
    expect_status(&r, 404);
    mochi_test_response_free(&r);
}

static void hostile_data(void **state)
{
    (void)state;
    char cookie[64], path[256];
    login_alice("198.51.100.10", cookie);
    struct mochi_test_response r;
    snprintf(path, sizeof(path), "/sites/%s?from=2024-12-30&to=2025-01-02", t.site_a);
    get(path, cookie, &r);
    expect_status(&r, 200);
    assert_null(strstr(r.body, HOSTILE_PATH));
    assert_non_null(strstr(r.body, "<tr><th scope=\"row\">" HOSTILE_PATH_HTML "</th>"));
    assert_null(strstr(r.body, HOSTILE_SOURCE));
    assert_non_null(strstr(r.body, "<tr><th scope=\"row\">" HOSTILE_SOURCE_HTML "</th>"));
    assert_non_null(strstr(r.body, "<tr><th scope=\"row\">=cmd|&#39; /C calc&#39;!A0</th>"));
    mochi_test_response_free(&r);

    /* the JSON holds the same text, as valid JSON (parsed by jansson) */
    snprintf(path, sizeof(path), "/api/v1/sites/%s/pages?from=2024-12-31&to=2024-12-31", t.site_a);
    json_t *doc = get_json(path, cookie, 200);
    json_t *rows = json_object_get(doc, "rows");
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 1), "path")),
                        HOSTILE_PATH);
    json_decref(doc);

    /* the CSV: every section, quotes doubled, formulas defused */
    snprintf(path, sizeof(path), "/api/v1/sites/%s/export.csv?from=2024-12-30&to=2025-01-02",
             t.site_a);
    get(path, cookie, &r);
    expect_status(&r, 200);
    char value[256];
    assert_true(header(&r, "Content-Type", value, sizeof(value)));
    assert_string_equal(value, "text/csv; charset=utf-8");
    assert_true(header(&r, "Content-Disposition", value, sizeof(value)));
    assert_string_equal(value,
                        "attachment; filename=\"mochi-alpha.example-2024-12-30-2025-01-02.csv\"");
    assert_string_equal(r.body, "date,page_views,visitors\r\n"
                                "2024-12-30,30,12\r\n"
                                "2024-12-31,40,15\r\n"
                                "2025-01-01,0,0\r\n"
                                "2025-01-02,50,20\r\n"
                                "\r\n"
                                "path,page_views\r\n"
                                "/,45\r\n"
                                "/blog,40\r\n"
                                "'=cmd|' /C calc'!A0,20\r\n"
                                "/<img src=x onerror=alert(1)>,15\r\n"
                                "\r\n"
                                "source,entries,visitors\r\n"
                                "google.com,9,9\r\n"
                                ",8,7\r\n"
                                "news.ycombinator.com,10,6\r\n"
                                "\"\"\"><script>\",3,3\r\n"
                                "\r\n"
                                "path,entries\r\n"
                                "/,13\r\n"
                                "/blog,11\r\n"
                                "/<img src=x onerror=alert(1)>,3\r\n"
                                "/B,3\r\n");
    mochi_test_response_free(&r);
}

/* ---- assets ---- */

static void static_assets(void **state)
{
    (void)state;
    DIR *d = opendir(mochi_test_src("web/assets"));
    assert_non_null(d);
    struct dirent *e;
    int served = 0;
    while ((e = readdir(d)) != NULL) {
        char file[1024];
        snprintf(file, sizeof(file), "%s/%s", mochi_test_src("web/assets"), e->d_name);
        struct stat st;
        if (e->d_name[0] == '.' || stat(file, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        char path[512], value[256], etag[128], inm[160];
        snprintf(path, sizeof(path), "/static/%s", e->d_name);
        struct mochi_test_response r;
        get(path, NULL, &r);
        expect_status(&r, 200);
        char *text = mochi_test_read_file(file);
        if (strlen(text) == (size_t)st.st_size) /* a text file: compare it whole */
            assert_string_equal(r.body, text);
        free(text);
        assert_true(header(&r, "Content-Length", value, sizeof(value)));
        assert_int_equal(atoll(value), (long long)st.st_size);
        assert_true(header(&r, "ETag", etag, sizeof(etag)));
        assert_int_equal(strlen(etag), 34);
        assert_true(header(&r, "Cache-Control", value, sizeof(value)));
        assert_string_equal(value, "no-cache");
        if (strstr(e->d_name, ".css"))
            assert_true(header(&r, "Content-Type", value, sizeof(value)) &&
                        strcmp(value, "text/css; charset=utf-8") == 0);
        if (strstr(e->d_name, ".js"))
            assert_true(header(&r, "Content-Type", value, sizeof(value)) &&
                        strcmp(value, "text/javascript; charset=utf-8") == 0);
        if (strstr(e->d_name, ".txt"))
            assert_true(header(&r, "Content-Type", value, sizeof(value)) &&
                        strcmp(value, "text/plain; charset=utf-8") == 0);
        mochi_test_response_free(&r);
        snprintf(inm, sizeof(inm), "If-None-Match: %s", etag);
        request("GET", path, NULL, inm, NULL, NULL, NULL, &r);
        expect_status(&r, 304);
        assert_string_equal(r.body, "");
        mochi_test_response_free(&r);
        served++;
    }
    closedir(d);
    assert_true(served > 0);
    struct mochi_test_response r;
    get("/static/no-such.js", NULL, &r);
    expect_status(&r, 404);
    mochi_test_response_free(&r);
    get("/static/../CMakeLists.txt", NULL, &r);
    assert_true(r.status == 404);
    mochi_test_response_free(&r);
}

/* ---- freshness ---- */

static void progress(const char *rows)
{
    char sql[2048];
    snprintf(sql, sizeof(sql),
             "DELETE FROM rollup_progress WHERE topic = '%s';"
             "INSERT INTO rollup_progress (topic, partition, next_offset, end_offset,"
             " end_seen_at, applied_until) SELECT '%s', p, n, e, s::timestamptz,"
             " a::timestamptz FROM (VALUES %s)"
             " AS v(p, n, e, s, a)",
             t.topic, t.topic, rows);
    mochi_test_db_exec(t.conn, sql);
}

static json_t *freshness(const char *base, const char *cookie)
{
    char url[256];
    snprintf(url, sizeof(url), "%s/api/v1/sites/%s/freshness", base, t.site_a);
    char cookie_header[128];
    snprintf(cookie_header, sizeof(cookie_header), "Cookie: mochi_session=%s", cookie);
    const char *headers[] = {cookie_header, NULL};
    struct mochi_test_response r;
    mochi_test_http("GET", url, headers, NULL, &r);
    expect_status(&r, 200);
    json_t *doc = json_body(&r);
    mochi_test_response_free(&r);
    return doc;
}

static const char *jstate(json_t *doc)
{
    return json_string_value(json_object_get(doc, "state"));
}

static void freshness_from_progress(void **state)
{
    (void)state;
    char cookie[64], path[256];
    login_alice("198.51.100.11", cookie);
    json_t *doc = freshness(t.base, cookie);
    expect_json(doc, "{\"counted_up_to\":null,\"lag_seconds\":null,\"behind\":0,"
                     "\"state\":\"unknown\",\"partitions\":0}");
    json_decref(doc);

    /* both partitions applied to their ends, seen 2 and 3 s ago: counted
     * up to the older */
    progress("(0, 10, 10, now() - interval '2 seconds', now() - interval '5 seconds'),"
             " (1, 4, 4, now() - interval '3 seconds', now() - interval '9 seconds')");
    char want[64], local[32], sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT to_char(end_seen_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
             " to_char(end_seen_at AT TIME ZONE 'Europe/Berlin', 'HH24:MI:SS')"
             " FROM rollup_progress WHERE topic = '%s' AND partition = 1",
             t.topic);
    PGresult *res = PQexec(t.conn, sql);
    assert_int_equal(PQntuples(res), 1);
    snprintf(want, sizeof(want), "%s", PQgetvalue(res, 0, 0));
    snprintf(local, sizeof(local), "%s", PQgetvalue(res, 0, 1));
    PQclear(res);
    doc = freshness(t.base, cookie);
    assert_string_equal(jstate(doc), "current");
    assert_string_equal(json_string_value(json_object_get(doc, "counted_up_to")), want);
    double lag = json_number_value(json_object_get(doc, "lag_seconds"));
    assert_true(lag >= 2.9 && lag < 8);
    assert_int_equal(json_integer_value(json_object_get(doc, "behind")), 0);
    assert_int_equal(json_integer_value(json_object_get(doc, "partitions")), 2);
    json_decref(doc);
    struct mochi_test_response r;
    snprintf(path, sizeof(path), "/sites/%s", t.site_a);
    get(path, cookie, &r);
    expect_status(&r, 200);
    char line[256];
    snprintf(line, sizeof(line),
             "<p id=\"freshness\" data-state=\"current\" data-counted-up-to=\"%s\">Counted up to "
             "%s (",
             want, local);
    if (strstr(r.body, line) == NULL)
        fail_msg("freshness line: wanted %s in %.200s", line,
                 strstr(r.body, "<p id=\"freshness\""));
    mochi_test_response_free(&r);

    /* partition 1 behind by 5: catching up, counted up to its last
     * applied message */
    progress("(0, 10, 10, now() - interval '2 seconds', now() - interval '5 seconds'),"
             " (1, 4, 9, now() - interval '3 seconds', now() - interval '20 seconds')");
    doc = freshness(t.base, cookie);
    assert_string_equal(jstate(doc), "catching_up");
    assert_int_equal(json_integer_value(json_object_get(doc, "behind")), 5);
    lag = json_number_value(json_object_get(doc, "lag_seconds"));
    assert_true(lag >= 19.9 && lag < 26);
    json_decref(doc);
    get(path, cookie, &r);
    assert_non_null(strstr(r.body, "data-state=\"catching_up\""));
    assert_non_null(strstr(r.body, "Catching up: 5 events behind"));
    mochi_test_response_free(&r);

    /* at the ends, last seen a minute ago: stale */
    progress("(0, 10, 10, now() - interval '60 seconds', NULL),"
             " (1, 9, 9, now() - interval '61 seconds', NULL)");
    doc = freshness(t.base, cookie);
    assert_string_equal(jstate(doc), "stale");
    assert_int_equal(json_integer_value(json_object_get(doc, "behind")), 0);
    json_decref(doc);
}

/* With --brokers, the log ends Kafka reports now: the rollup's rows say
 * "at the end" of an empty topic while Kafka holds 7 messages. */
static void freshness_against_kafka(void **state)
{
    (void)state;
    const char *topics[] = {t.topic, NULL};
    struct mochi_test_kafka kafka;
    mochi_test_kafka_start(&kafka, 1, 2, topics);
    struct mochi_test_producer *producer = mochi_test_producer_new(kafka.bootstrap);
    for (int i = 0; i < 7; i++) {
        char key[8];
        snprintf(key, sizeof(key), "k%d", i);
        mochi_test_produce(producer, t.topic, key, "x", 1);
    }
    mochi_test_producer_close(producer, 30000);
    int64_t ends[2];
    mochi_test_kafka_end_offsets(kafka.bootstrap, t.topic, 2, ends);
    assert_int_equal(ends[0] + ends[1], 7);

    struct mochi_test_proc web2;
    int port2 = mochi_test_free_port();
    char base2[64];
    snprintf(base2, sizeof(base2), "http://127.0.0.1:%d", port2);
    start_web(&web2, port2, kafka.bootstrap);
    char cookie[64];
    login_alice("198.51.100.12", cookie);

    progress("(0, 0, 0, now() - interval '1 second', NULL),"
             " (1, 0, 0, now() - interval '1 second', NULL)");
    json_t *doc = freshness(t.base, cookie); /* the rollup's word alone */
    assert_string_equal(jstate(doc), "current");
    json_decref(doc);
    int64_t deadline = mochi_test_now_ms() + 20000;
    for (;;) { /* Kafka's word (asked at most once a second) */
        doc = freshness(base2, cookie);
        if (strcmp(jstate(doc), "catching_up") == 0 || mochi_test_now_ms() > deadline)
            break;
        json_decref(doc);
        usleep(200000);
    }
    assert_string_equal(jstate(doc), "catching_up");
    assert_int_equal(json_integer_value(json_object_get(doc, "behind")), 7);
    json_decref(doc);

    /* the rollup reached both ends 30 s ago and Kafka has nothing more:
     * current by Kafka's word, stale by the rollup's alone */
    char rows[512];
    snprintf(rows, sizeof(rows),
             "(0, %lld, %lld, now() - interval '30 seconds', now() - interval '40 seconds'),"
             " (1, %lld, %lld, now() - interval '30 seconds', now() - interval '40 seconds')",
             (long long)ends[0], (long long)ends[0], (long long)ends[1], (long long)ends[1]);
    progress(rows);
    deadline = mochi_test_now_ms() + 20000;
    for (;;) {
        doc = freshness(base2, cookie);
        if (strcmp(jstate(doc), "current") == 0 || mochi_test_now_ms() > deadline)
            break;
        json_decref(doc);
        usleep(200000);
    }
    assert_string_equal(jstate(doc), "current");
    assert_int_equal(json_integer_value(json_object_get(doc, "behind")), 0);
    assert_true(json_number_value(json_object_get(doc, "lag_seconds")) < 5);
    json_decref(doc);
    doc = freshness(t.base, cookie);
    assert_string_equal(jstate(doc), "stale");
    json_decref(doc);

    int status = mochi_test_proc_stop(&web2, SIGTERM, 15000);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    mochi_test_kafka_stop(&kafka);
}

/* ---- metrics, and the end ---- */

static long long metric(const char *text, const char *series)
{
    const char *at = strstr(text, series);
    if (at == NULL)
        fail_msg("no series %s in /metrics", series);
    return atoll(at + strlen(series) + 1);
}

static void metrics_and_health(void **state)
{
    (void)state;
    char url[128];
    struct mochi_test_response r;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/healthz", t.metrics_port);
    mochi_test_http("GET", url, NULL, NULL, &r);
    expect_status(&r, 200);
    mochi_test_response_free(&r);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", t.metrics_port);
    mochi_test_http("GET", url, NULL, NULL, &r);
    expect_status(&r, 200);
    assert_true(metric(r.body, "mochi_web_requests_total{route=\"api\",code=\"200\"}") >= 10);
    assert_true(metric(r.body, "mochi_web_requests_total{route=\"api\",code=\"400\"}") >= 14);
    assert_true(metric(r.body, "mochi_web_requests_total{route=\"login\",code=\"429\"}") >= 1);
    assert_true(metric(r.body, "mochi_web_logins_total{outcome=\"limited\"}") >= 1);
    assert_true(metric(r.body, "mochi_web_logins_total{outcome=\"bad\"}") >= 10);
    assert_true(metric(r.body, "mochi_web_logins_total{outcome=\"ok\"}") >= 5);
    assert_int_equal(metric(r.body, "mochi_web_database_up"), 1);
    assert_non_null(strstr(r.body, "mochi_web_request_seconds_bucket{route=\"dashboard\""));
    assert_null(strstr(r.body, t.site_a)); /* no per-site label */
    mochi_test_response_free(&r);
}

/* SIGTERM while a login's body is still coming: the login is answered,
 * then the daemon exits 0; its log holds none of the secrets. */
static void sigterm_drains(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)t.port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    const char *body = "email=bob%40example.com&password=wrong";
    char head[512];
    int n = snprintf(head, sizeof(head),
                     "POST /login HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-Forwarded-For: 192.0.2.99"
                     "\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%.10s",
                     t.port, strlen(body), body);
    assert_int_equal(write(fd, head, (size_t)n), n);
    usleep(300000);
    kill(t.web.pid, SIGTERM);
    usleep(300000);
    int status = 0;
    assert_true(mochi_test_proc_alive(&t.web, &status)); /* waiting for the request */
    const char *rest = body + 10;
    assert_int_equal(write(fd, rest, strlen(rest)), (ssize_t)strlen(rest));
    char answer[4096];
    size_t got = 0;
    ssize_t k;
    while (got < sizeof(answer) - 1 && (k = read(fd, answer + got, sizeof(answer) - 1 - got)) > 0)
        got += (size_t)k;
    answer[got] = '\0';
    close(fd);
    if (strncmp(answer, "HTTP/1.1 401", 12) != 0)
        fail_msg("the request in progress got: %.200s", answer);
    status = mochi_test_proc_stop(&t.web, 0, 15000);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    char *log = mochi_test_read_file(t.web.log);
    assert_non_null(log);
    assert_non_null(strstr(log, "msg=\"stopped\" drained=true"));
    for (int i = 0; i < t.nsecrets; i++)
        if (t.secrets[i][0] != '\0' && strstr(log, t.secrets[i]) != NULL)
            fail_msg("the log holds a secret: %s", t.secrets[i]);
    assert_null(strstr(log, "alice@example.com"));
    assert_null(strstr(log, "203.0.113."));
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(login_and_session),
        cmocka_unit_test(constant_time_failure),
        cmocka_unit_test(login_rate_limit),
        cmocka_unit_test(cross_site_login),
        cmocka_unit_test(session_expiry_and_logout),
        cmocka_unit_test(access_by_role),
        cmocka_unit_test(api_tokens),
        cmocka_unit_test(share_links),
        cmocka_unit_test(made_by_mochictl),
        cmocka_unit_test(api_across_year_end),
        cmocka_unit_test(api_across_whole_months),
        cmocka_unit_test(presets_by_site_today),
        cmocka_unit_test(malformed_parameters),
        cmocka_unit_test(hostile_data),
        cmocka_unit_test(static_assets),
        cmocka_unit_test(freshness_from_progress),
        cmocka_unit_test(freshness_against_kafka),
        cmocka_unit_test(metrics_and_health),
        cmocka_unit_test(sigterm_drains),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
