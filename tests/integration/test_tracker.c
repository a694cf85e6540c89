/* The tracker (collector/mochi.js) in a real browser: headless Chromium
 * loads the pages in tests/data/tracker/ from a local static server
 * (python3 -m http.server); the pages carry the tracker tag pointing at a
 * real mochi-collector, navigate by themselves (pushState, popstate, a
 * fragment, replaceState), and finally report what they saw with
 * GET /done?page=...&errors=...&loaded=...&beacons=...&xhrs=..., which the
 * static server logs. The test then reads the topic back and checks the
 * exact events, and the collector's /metrics for the exact number of
 * requests the browser made.
 *
 * Host names: Chromium maps *.test to 127.0.0.1 (--host-resolver-rules),
 * so each page has a real host name that the collector's host check
 * accepts ("www.shop.test" for the site "shop.test"), and a referring page
 * on another site ("news.ref.test") gives the first view a referrer. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/clock.h"
#include "common/codec.h"
#include "common/event.h"
#include "tests/harness/events.h"
#include "tests/harness/harness.h"

#define CHROMIUM "/usr/bin/chromium"
#define PYTHON "/usr/bin/python3"
/* Not a bot to the collector: headless Chromium's own User-Agent says
 * "HeadlessChrome", which the collector rightly drops. */
#define BROWSER_UA                                                                                 \
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "     \
    "Safari/537.36 MochiTrackerTest"

/* One site per page, so that each test can pick its own events from the
 * topic by message key. */
struct site {
    const char *id;
    const char *domain;
    const char *key;
};
static const struct site shop = {"5a0e3c1d-7b2f-4e8a-9c61-0d1e2f3a4b01", "shop.test",
                                 "trackerShopKey_000001"};
static const struct site xhr = {"5a0e3c1d-7b2f-4e8a-9c61-0d1e2f3a4b02", "xhr.test",
                                "trackerXhrKey_0000001"};
static const struct site fails = {"5a0e3c1d-7b2f-4e8a-9c61-0d1e2f3a4b03", "fails.test",
                                  "trackerFailsKey_00001"};
static const struct site pre = {"5a0e3c1d-7b2f-4e8a-9c61-0d1e2f3a4b04", "pre.test",
                                "trackerPreKey_0000001"};
static const struct site paths = {"5a0e3c1d-7b2f-4e8a-9c61-0d1e2f3a4b05", "paths.test",
                                  "trackerPathsKey_00001"};

struct fixture {
    struct mochi_test_db db;
    struct mochi_test_kafka kafka;
    struct mochi_test_proc collector;
    struct mochi_test_proc web;     /* the static server; its log has the pages' reports */
    struct mochi_test_proc browser; /* the current test's Chromium */
    char topic[64];
    char collector_base[64];    /* http://127.0.0.1:PORT */
    char collector_metrics[64]; /* its --metrics-listen: /metrics, /healthz */
    int web_port;
    char www[512]; /* the directory the static server serves */
    struct mochi_schema_set *schemas;
    struct mochi_codec *codec;
};

/* What a page reported in its GET /done?... line. */
struct report {
    int errors;    /* errors and unhandled rejections the host page saw */
    int loaded;    /* tracker script tags whose load event fired */
    int beacons;   /* calls to navigator.sendBeacon */
    int xhrs;      /* XMLHttpRequest.open calls */
    int wrapped;   /* 1 when history.pushState was replaced (nokey.html only) */
    int activated; /* 1 when shown from a prerender (prerendered.html only) */
};

struct expect {
    const char *path;
    const char *referrer; /* NULL: none */
    bool entry;           /* starts a visit: no referrer, or another site's */
    const char *source;   /* an entry's source; NULL: none ("Direct / none") */
};

/* Replaces every "@NAME@" in text with its value (pairs of name, value,
 * NULL-terminated). Returns a malloc'd string the caller frees. */
static char *fill_template(const char *text, const char *const vars[])
{
    size_t cap = strlen(text) + 1;
    for (size_t i = 0; vars[i]; i += 2)
        cap += 4 * strlen(vars[i + 1]) + 64; /* a few uses each */
    char *out = malloc(cap);
    assert_non_null(out);
    size_t n = 0;
    const char *p = text;
    while (*p) {
        bool replaced = false;
        if (*p == '@') {
            for (size_t i = 0; vars[i] && !replaced; i += 2) {
                size_t len = strlen(vars[i]);
                if (strncmp(p + 1, vars[i], len) == 0 && p[1 + len] == '@') {
                    size_t vlen = strlen(vars[i + 1]);
                    assert_true(n + vlen < cap);
                    memcpy(out + n, vars[i + 1], vlen);
                    n += vlen;
                    p += len + 2;
                    replaced = true;
                }
            }
        }
        if (!replaced) {
            assert_true(n + 1 < cap);
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
    assert_null(strstr(out, "@COLLECTOR@"));
    assert_null(strstr(out, "@KEY@"));
    assert_null(strstr(out, "@NEXT@"));
    return out;
}

/* Writes tests/data/tracker/<name> into the served directory as <as>, with
 * vars filled in. */
static void write_page_as(struct fixture *f, const char *name, const char *as,
                          const char *const vars[])
{
    char src[256], dst[700];
    snprintf(src, sizeof(src), "tests/data/tracker/%s", name);
    char *text = mochi_test_read_file(mochi_test_src(src));
    if (text == NULL)
        fail_msg("cannot read %s", src);
    char *page = fill_template(text, vars);
    snprintf(dst, sizeof(dst), "%s/%s", f->www, as);
    FILE *fp = fopen(dst, "w");
    assert_non_null(fp);
    assert_int_equal(fputs(page, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
    free(page);
    free(text);
}

static void write_page(struct fixture *f, const char *name, const char *const vars[])
{
    write_page_as(f, name, name, vars);
}

static void insert_site(PGconn *conn, const struct site *s)
{
    char sql[512];
    snprintf(sql, sizeof(sql),
             "INSERT INTO sites (id, name, domain, tracking_key) VALUES ('%s', '%s', '%s', '%s')",
             s->id, s->domain, s->domain, s->key);
    mochi_test_db_exec(conn, sql);
}

static void start_collector(struct fixture *f)
{
    char conninfo[600], db_env[700], listen[32];
    mochi_test_db_conninfo_as(&f->db, "mochi_collector", conninfo, sizeof(conninfo));
    snprintf(db_env, sizeof(db_env), "MOCHI_DATABASE_URL=%s", conninfo);
    int port = mochi_test_free_port();
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    snprintf(f->collector_base, sizeof(f->collector_base), "http://127.0.0.1:%d", port);
    char *argv[] = {(char *)mochi_test_bin("mochi-collector"),
                    "--brokers",
                    f->kafka.bootstrap,
                    "--topic",
                    f->topic,
                    "--listen",
                    listen,
                    "--trusted-proxies",
                    "127.0.0.1/32",
                    "--refresh-interval",
                    "300ms",
                    "--threads",
                    "2",
                    "--metrics-listen",
                    "127.0.0.1:0",
                    NULL};
    char *const env[] = {db_env, NULL};
    mochi_test_proc_start(&f->collector, argv, env, false);
    if (!mochi_test_wait_port(port, 20000)) {
        char *log = mochi_test_read_file(f->collector.log);
        fail_msg("collector did not listen; log:\n%s", log ? log : "");
    }
    snprintf(f->collector_metrics, sizeof(f->collector_metrics), "http://127.0.0.1:%d",
             mochi_test_metrics_port(&f->collector, 20000));
    /* Ready when it has its sites and a producer: /healthz says 200. */
    char url[128];
    snprintf(url, sizeof(url), "%s/healthz", f->collector_metrics);
    struct mochi_test_response r;
    mochi_test_http_until("GET", url, NULL, NULL, 200, 15000, &r);
    assert_int_equal(r.status, 200);
    mochi_test_response_free(&r);
}

static void start_web(struct fixture *f)
{
    snprintf(f->www, sizeof(f->www), "%s/www", mochi_test_tmpdir());
    if (mkdir(f->www, 0755) != 0 && errno != EEXIST)
        fail_msg("mkdir %s: %s", f->www, strerror(errno));
    f->web_port = mochi_test_free_port();
    char port[16], next[256];
    snprintf(port, sizeof(port), "%d", f->web_port);
    /* a campaign link: its utm_source wins over the referrer */
    snprintf(next, sizeof(next),
             "http://www.shop.test:%d/spa.html?from=landing&utm_source=Mochi%%20Letter",
             f->web_port);
    write_page(f, "landing.html", (const char *const[]){"NEXT", next, NULL});
    write_page(f, "spa.html",
               (const char *const[]){"COLLECTOR", f->collector_base, "KEY", shop.key, NULL});
    write_page(f, "nobeacon.html",
               (const char *const[]){"COLLECTOR", f->collector_base, "KEY", xhr.key, NULL});
    write_page(f, "beaconfails.html",
               (const char *const[]){"COLLECTOR", f->collector_base, "KEY", fails.key, NULL});
    write_page(f, "nokey.html", (const char *const[]){"COLLECTOR", f->collector_base, NULL});
    write_page(f, "prerender.html", (const char *const[]){NULL});
    /* python's http.server percent-decodes the request path as UTF-8 */
    write_page_as(f, "paths.html", "caf\xc3\xa9.html",
                  (const char *const[]){"COLLECTOR", f->collector_base, "KEY", paths.key, NULL});
    write_page_as(f, "paths.html", "\xe2\x82\xac.html",
                  (const char *const[]){"COLLECTOR", f->collector_base, "KEY", paths.key, NULL});
    write_page(f, "prerendered.html",
               (const char *const[]){"COLLECTOR", f->collector_base, "KEY", pre.key, NULL});
    /* -u: every request line reaches the log as it happens. */
    char *argv[] = {PYTHON,   "-u",        "-m",          "http.server", port,
                    "--bind", "127.0.0.1", "--directory", f->www,        NULL};
    mochi_test_proc_start(&f->web, argv, NULL, false);
    if (!mochi_test_wait_port(f->web_port, 15000)) {
        char *log = mochi_test_read_file(f->web.log);
        fail_msg("static server did not listen; log:\n%s", log ? log : "");
    }
}

/* Tests skip when the browser or python is not installed. */
static bool have_browser(void)
{
    return access(CHROMIUM, X_OK) == 0 && access(PYTHON, X_OK) == 0;
}

static int group_setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    mochi_test_db_create_migrated(&f->db);
    PGconn *conn = mochi_test_db_connect(&f->db);
    insert_site(conn, &shop);
    insert_site(conn, &xhr);
    insert_site(conn, &fails);
    insert_site(conn, &pre);
    insert_site(conn, &paths);
    PQfinish(conn);
    snprintf(f->topic, sizeof(f->topic), "%s", mochi_test_unique("tracker"));
    const char *topics[] = {f->topic, NULL};
    mochi_test_kafka_start(&f->kafka, 1, 3, topics);
    mochi_test_codec_new(&f->schemas, &f->codec);
    assert_int_equal(sodium_init() >= 0, 1);
    start_collector(f);
    if (have_browser())
        start_web(f);
    *state = f;
    return 0;
}

static int group_teardown(void **state)
{
    struct fixture *f = *state;
    if (f == NULL)
        return 0;
    mochi_test_proc_stop(&f->web, SIGTERM, 5000);
    int status = mochi_test_proc_stop(&f->collector, SIGTERM, 15000);
    mochi_test_kafka_stop(&f->kafka);
    mochi_test_db_drop(&f->db);
    mochi_codec_destroy(f->codec);
    mochi_schema_set_destroy(f->schemas);
    free(f);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    return 0;
}

/* SIGTERM, then SIGKILL after 5 s; and whatever Chromium left in its
 * process group (the harness gave it its own) goes too. */
static void stop_browser(struct mochi_test_proc *browser)
{
    pid_t group = browser->pid;
    if (group <= 0)
        return;
    mochi_test_proc_stop(browser, SIGTERM, 5000);
    kill(-group, SIGKILL);
}

/* Stops a browser that a failed test left running. */
static int teardown(void **state)
{
    struct fixture *f = *state;
    stop_browser(&f->browser);
    return 0;
}

/* The sum of the collector's request counters for one route (over all
 * statuses), or for one route and status when status is not NULL. */
static long requests(struct fixture *f, const char *route, const char *status)
{
    char url[128], prefix[160];
    snprintf(url, sizeof(url), "%s/metrics", f->collector_metrics);
    if (status)
        snprintf(prefix, sizeof(prefix),
                 "mochi_collector_http_requests_total{route=\"%s\",status=\"%s\"} ", route, status);
    else
        snprintf(prefix, sizeof(prefix), "mochi_collector_http_requests_total{route=\"%s\",",
                 route);
    struct mochi_test_response r;
    mochi_test_http("GET", url, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    long sum = 0;
    size_t plen = strlen(prefix);
    for (const char *line = r.body; line && *line;) {
        if (strncmp(line, prefix, plen) == 0) {
            const char *value = strchr(line + plen - 1, ' ');
            assert_non_null(value);
            sum += strtol(value + 1, NULL, 10);
        }
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    mochi_test_response_free(&r);
    return sum;
}

static int report_value(const char *line, const char *name)
{
    char key[32];
    snprintf(key, sizeof(key), "&%s=", name);
    const char *p = strstr(line, key);
    return p ? atoi(p + strlen(key)) : -1;
}

/* Starts headless Chromium on url (f->browser), with a fresh profile. */
static void start_browser(struct fixture *f, const char *url)
{
    char profile[600], profile_arg[640];
    snprintf(profile, sizeof(profile), "%s/%s", mochi_test_tmpdir(), mochi_test_unique("chromium"));
    if (mkdir(profile, 0700) != 0)
        fail_msg("mkdir %s: %s", profile, strerror(errno));
    snprintf(profile_arg, sizeof(profile_arg), "--user-data-dir=%s", profile);
    char *argv[] = {CHROMIUM,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-proxy-server",
                    "--host-resolver-rules=MAP *.test 127.0.0.1",
                    "--user-agent=" BROWSER_UA,
                    profile_arg,
                    (char *)url,
                    NULL};
    mochi_test_proc_start(&f->browser, argv, NULL, false);
}

/* Waits (at most 30 s) for a request line starting with prefix
 * ("GET /done?page=spa&") in the static server's log; returns that line,
 * malloc'd. Fails early when the browser dies. */
static char *wait_request(struct fixture *f, const char *prefix)
{
    char marker[128];
    snprintf(marker, sizeof(marker), "\"%s", prefix);
    int64_t deadline = mochi_test_now_ms() + 30000;
    for (;;) {
        char *log = mochi_test_read_file(f->web.log);
        const char *hit = log ? strstr(log, marker) : NULL;
        if (hit) {
            char *line = strndup(hit, strcspn(hit, "\n"));
            free(log);
            assert_non_null(line);
            return line;
        }
        free(log);
        if (mochi_test_now_ms() > deadline || !mochi_test_proc_alive(&f->browser, NULL)) {
            char *web = mochi_test_read_file(f->web.log);
            char *br = mochi_test_read_file(f->browser.log);
            fail_msg("no \"%s\" within 30 s.\nstatic server log:\n%s\nchromium log:\n%s", prefix,
                     web ? web : "", br ? br : "");
        }
        usleep(50000);
    }
}

/* Waits for the page's "GET /done?page=<page>&..." and parses it. */
static void wait_report(struct fixture *f, const char *page, struct report *report)
{
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "GET /done?page=%s&", page);
    char *line = wait_request(f, prefix);
    report->errors = report_value(line, "errors");
    report->loaded = report_value(line, "loaded");
    report->beacons = report_value(line, "beacons");
    report->xhrs = report_value(line, "xhrs");
    report->wrapped = report_value(line, "wrapped");
    report->activated = report_value(line, "activated");
    print_message("%s reported: %s\n", page, line);
    free(line);
}

/* The number of events in the topic, once it holds at least min_count (or
 * after 15 s). */
static size_t topic_count(struct fixture *f, size_t min_count)
{
    size_t count = 0;
    struct mochi_test_message *msgs =
        mochi_test_kafka_read_all(f->kafka.bootstrap, f->topic, min_count, 15000, &count);
    mochi_test_messages_free(msgs, count);
    return count;
}

/* Reads the whole topic, waiting until it holds total events, and checks
 * that it holds exactly that many, and that site's events are exactly
 * want[0..n) in any order (the browser may deliver two quick beacons in
 * either order), each once, all from this browser and stamped after
 * since_us. With site NULL (and n 0), checks the total only. */
static void expect_events(struct fixture *f, const struct site *site, const struct expect *want,
                          size_t n, size_t total, int64_t since_us)
{
    size_t count = 0;
    struct mochi_test_message *msgs =
        mochi_test_kafka_read_all(f->kafka.bootstrap, f->topic, total, 15000, &count);
    int64_t until_us = mochi_clock_now_us();
    char hash[33] = "";
    if (site) {
        PGconn *conn = mochi_test_db_connect(&f->db);
        /* this browser: peer 127.0.0.1, our User-Agent */
        mochi_test_visitor_hash(conn, site->id, "127.0.0.1", BROWSER_UA, hash);
        PQfinish(conn);
    }
    bool matched[16] = {false};
    assert_true(n <= 16);
    size_t mine = 0;
    for (size_t m = 0; m < count; m++) {
        struct mochi_pageview ev;
        assert_int_equal(mochi_codec_decode(f->codec, msgs[m].value, msgs[m].len, &ev), 0);
        if (site == NULL || strcmp(ev.site_id, site->id) != 0)
            continue;
        mine++;
        assert_string_equal(msgs[m].key, site->id);
        assert_string_equal(ev.visitor_hash, hash);
        assert_true(ev.occurred_at_us >= since_us && ev.occurred_at_us <= until_us);
        size_t i = 0;
        for (; i < n; i++) {
            bool same_ref = want[i].referrer
                                ? ev.has_referrer && strcmp(ev.referrer, want[i].referrer) == 0
                                : !ev.has_referrer;
            bool same_source = want[i].source
                                   ? ev.has_source && strcmp(ev.source, want[i].source) == 0
                                   : !ev.has_source;
            if (!matched[i] && strcmp(ev.path, want[i].path) == 0 && same_ref &&
                ev.entry == want[i].entry && same_source)
                break;
        }
        if (i == n)
            fail_msg("unexpected event: path %s referrer %s entry %d source %s", ev.path,
                     ev.has_referrer ? ev.referrer : "(none)", ev.entry,
                     ev.has_source ? ev.source : "(none)");
        matched[i] = true;
    }
    for (size_t i = 0; i < n; i++)
        if (!matched[i])
            fail_msg("missing event: path %s referrer %s (site has %zu events)", want[i].path,
                     want[i].referrer ? want[i].referrer : "(none)", mine);
    assert_int_equal(mine, n);
    assert_int_equal(count, total); /* and nothing for other sites */
    mochi_test_messages_free(msgs, count);
}

/* What the collector and the topic held before a page ran. */
struct before {
    long events, accepted, gifs, scripts;
    size_t topic;
    int64_t wall_us;
};

static void take_before(struct fixture *f, struct before *before)
{
    before->events = requests(f, "event", NULL);
    before->accepted = requests(f, "event", "202");
    before->gifs = requests(f, "gif", NULL);
    before->scripts = requests(f, "tracker", NULL);
    before->topic = topic_count(f, 0);
    before->wall_us = mochi_clock_now_us();
}

/* After the page reported: waits until the collector has answered n
 * beacons (the report may overtake them), stops the browser, and checks
 * that the collector saw exactly n beacon requests (all 202), that the
 * topic holds exactly n new events, site's, as want[0..n) says, and that
 * the page saw no error. */
static void finish_page(struct fixture *f, const struct before *before, const struct site *site,
                        const struct expect *want, size_t n, const struct report *report)
{
    int64_t deadline = mochi_test_now_ms() + 15000;
    while (requests(f, "event", "202") - before->accepted < (long)n &&
           mochi_test_now_ms() < deadline)
        usleep(50000);
    /* A stray extra beacon would be on its way by now. */
    usleep(300000);
    stop_browser(&f->browser);
    expect_events(f, site, want, n, before->topic + n, before->wall_us);
    assert_int_equal(requests(f, "event", NULL) - before->events, (long)n);
    assert_int_equal(requests(f, "event", "202") - before->accepted, (long)n);
    assert_int_equal(requests(f, "gif", NULL) - before->gifs, 0);
    assert_true(requests(f, "tracker", NULL) - before->scripts >= 1);
    assert_int_equal(report->errors, 0);
}

/* Runs one page that navigates by itself and reports as <page>. */
static void run_page(struct fixture *f, const char *url, const char *page, const struct site *site,
                     const struct expect *want, size_t n, struct report *report)
{
    struct before before;
    take_before(f, &before);
    start_browser(f, url);
    wait_report(f, page, report);
    finish_page(f, &before, site, want, n, report);
}

/* Another site links to a single-page app: one view on load (referrer: the
 * other site), none for a fragment change, one per pushState, none for
 * replaceState, one for history.back() (popstate); SPA views refer to the
 * same host and are stored without referrer. All through sendBeacon. */
static void spa_sends_one_beacon_per_view(void **state)
{
    struct fixture *f = *state;
    if (!have_browser())
        skip();
    char url[256];
    snprintf(url, sizeof(url), "http://news.ref.test:%d/landing.html", f->web_port);
    const struct expect want[] = {
        /* the landing: an entry from the linking site, whose source is the
         * link's utm_source (lower-cased) rather than the referrer; the
         * SPA's own navigations are never entries */
        {"/spa.html", "http://news.ref.test", true, "mochi letter"},
        {"/app/two", NULL, false, NULL},
        {"/app/three", NULL, false, NULL},
        {"/app/two", NULL, false, NULL},
    };
    struct report report;
    run_page(f, url, "spa", &shop, want, 4, &report);
    assert_int_equal(report.loaded, 1);
    assert_int_equal(report.beacons, 4);
    assert_int_equal(report.xhrs, 0);
}

/* No navigator.sendBeacon, and the tag twice: each view once, by XHR. */
static void without_send_beacon_xhr_sends_each_view_once(void **state)
{
    struct fixture *f = *state;
    if (!have_browser())
        skip();
    char url[256];
    snprintf(url, sizeof(url), "http://www.xhr.test:%d/nobeacon.html", f->web_port);
    const struct expect want[] = {
        {"/nobeacon.html", NULL, true, NULL}, /* opened directly: Direct / none */
        {"/xhr/two", NULL, false, NULL},
    };
    struct report report;
    run_page(f, url, "nobeacon", &xhr, want, 2, &report);
    assert_int_equal(report.loaded, 2);
    assert_int_equal(report.xhrs, 2);
}

/* sendBeacon throws, then returns false: XHR carries both views. */
static void failing_send_beacon_falls_back_to_xhr(void **state)
{
    struct fixture *f = *state;
    if (!have_browser())
        skip();
    char url[256];
    snprintf(url, sizeof(url), "http://fails.test:%d/beaconfails.html", f->web_port);
    const struct expect want[] = {
        {"/beaconfails.html", NULL, true, NULL},
        {"/fails/two", NULL, false, NULL},
    };
    struct report report;
    run_page(f, url, "beaconfails", &fails, want, 2, &report);
    assert_int_equal(report.loaded, 1);
    assert_int_equal(report.beacons, 2);
    assert_int_equal(report.xhrs, 2);
}

/* A tag without data-key: the script loads and runs, sends nothing, leaves
 * history.pushState alone and throws nothing. */
static void missing_key_sends_nothing_and_throws_nothing(void **state)
{
    struct fixture *f = *state;
    if (!have_browser())
        skip();
    char url[256];
    snprintf(url, sizeof(url), "http://www.shop.test:%d/nokey.html", f->web_port);
    struct report report;
    run_page(f, url, "nokey", NULL, NULL, 0, &report);
    assert_int_equal(report.loaded, 1);
    assert_int_equal(report.beacons, 0);
    assert_int_equal(report.xhrs, 0);
    assert_int_equal(report.wrapped, 0);
}

/* A page prerendered by the browser (speculation rules) runs its tracker
 * early, but counts only once it is shown; its referrer is the page that
 * led to it, on the same host (stored as none). */
static void prerendered_page_counts_only_when_shown(void **state)
{
    struct fixture *f = *state;
    if (!have_browser())
        skip();
    char url[256];
    snprintf(url, sizeof(url), "http://www.pre.test:%d/prerender.html", f->web_port);
    struct before before;
    take_before(f, &before);
    start_browser(f, url);
    char *ran = wait_request(f, "GET /ran?page=prerendered&");
    print_message("prerendered reported: %s\n", ran);
    bool prerendering = strstr(ran, "&pre=true ") != NULL;
    free(ran);
    if (!prerendering)
        fail_msg("Chromium did not prerender prerendered.html; the test needs it to");
    /* The tracker has run in the prerendered page: nothing may arrive. */
    usleep(500000);
    assert_int_equal(requests(f, "event", NULL) - before.events, 0);

    char go[600];
    snprintf(go, sizeof(go), "%s/go", f->www);
    FILE *fp = fopen(go, "w");
    assert_non_null(fp);
    assert_int_equal(fclose(fp), 0);
    struct report report;
    wait_report(f, "prerendered", &report);
    const struct expect want[] = {{"/prerendered.html", NULL, false, NULL}};
    finish_page(f, &before, &pre, want, 1, &report);
    assert_int_equal(report.activated, 1);
    assert_int_equal(report.loaded, 1);
    assert_int_equal(report.beacons, 1);
    assert_int_equal(report.xhrs, 0);
}

/* Non-ASCII paths as Chromium sends them, through page loads (the raw é
 * typed, its escapes in lower case, € escaped) and pushState (an escaped
 * dot segment and slash, raw characters and a space): each stored in its
 * one canonical form (docs/paths.md), the query never. */
static void non_ascii_paths_are_stored_in_one_form(void **state)
{
    struct fixture *f = *state;
    if (!have_browser())
        skip();
    char url[256];
    snprintf(url, sizeof(url), "http://www.paths.test:%d/caf\xc3\xa9.html", f->web_port);
    const struct expect want[] = {
        /* the first load is direct; the others follow links or
         * pushState on the same host */
        {"/caf\xc3\xa9.html", NULL, true, NULL},
        {"/caf\xc3\xa9.html", NULL, false, NULL},
        {"/\xe2\x82\xac.html", NULL, false, NULL},
        {"/caf\xc3\xa9%2Fx", NULL, false, NULL},
        {"/caf\xc3\xa9%20cr\xc3\xa8me", NULL, false, NULL},
    };
    struct report report;
    run_page(f, url, "paths", &paths, want, 5, &report);
    assert_int_equal(report.loaded, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(spa_sends_one_beacon_per_view, teardown),
        cmocka_unit_test_teardown(without_send_beacon_xhr_sends_each_view_once, teardown),
        cmocka_unit_test_teardown(failing_send_beacon_falls_back_to_xhr, teardown),
        cmocka_unit_test_teardown(missing_key_sends_nothing_and_throws_nothing, teardown),
        cmocka_unit_test_teardown(prerendered_page_counts_only_when_shown, teardown),
        cmocka_unit_test_teardown(non_ascii_paths_are_stored_in_one_form, teardown),
    };
    int failed = cmocka_run_group_tests(tests, group_setup, group_teardown);
    mochi_test_cleanup();
    return failed;
}
