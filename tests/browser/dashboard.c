/* The dashboard in a real browser, over the whole pipeline.
 *
 * This driver builds the world and the node script (dashboard.mjs, beside
 * it) looks at it through headless Chromium with playwright-core:
 *   - a database with three sites in three zones, a user granted two of
 *     them (the third is another user's), a share link of one;
 *   - Kafka (the dev broker or Apache Kafka, as MOCHI_TEST_KAFKA says),
 *     mochi-collector, mochi-consumer, mochi-rollup and mochi-web;
 *   - loadgen's traffic to all three sites, and a few beacons with hostile
 *     paths and sources sent directly to the collector;
 * then waits until both consumer groups have committed the log end and
 * starts node. The script asks the driver for what only the driver can do,
 * one JSON object per line on its stdout, answered with one JSON line on
 * its stdin:
 *   {"cmd":"sql","sql":"...","params":["..."]} -> {"rows":[["text"|null,...]...]}
 *   {"cmd":"rollup","action":"stop"|"start"}  -> {"ok":true}
 *   {"cmd":"traffic","seconds":N,"rate":R}   -> {"ok":true,"published":N}  (loadgen, to its end)
 *   {"cmd":"caught_up","group":"ingest"|"rollup"|"both"} -> {"ok":true|false}
 *   {"cmd":"mochictl","args":["..."]}         -> {"code":N,"out":"...","err":"..."}
 * The expected numbers are SQL over page_view_events (the consumer's raw
 * events), never the aggregates mochi-web reads.
 *
 * Without node, playwright-core (npm ci at the repository root) or
 * Chromium, the test is skipped (exit 77) with a message that says which. */
#include <errno.h>
#include <jansson.h>
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
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/names.h"
#include "tests/harness/harness.h"

#define NODE "/usr/bin/node"
#define CHROMIUM "/usr/bin/chromium"
#define SKIP_CODE 77
#define PARTITIONS 3
#define NODE_TIMEOUT_MS 300000
#define BROWSER_UA                                                                                 \
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "     \
    "Safari/537.36 MochiDashboardTest"

struct site {
    const char *name;
    const char *domain;
    const char *key;
    const char *zone;
    const char *role; /* the test user's role, or NULL: not granted */
    char id[37];
};

/* Three zones far apart, so that "today" is a different date on some of
 * them for most of the day. */
static struct site sites[] = {
    {"Alpha shop", "alpha.example", "dashAlphaKey_00000001", "Asia/Kolkata", "viewer", ""},
    {"Bravo blog", "bravo.example", "dashBravoKey_00000002", "Pacific/Kiritimati", "admin", ""},
    {"Charlie (someone else's)", "charlie.example", "dashCharlieKey_000003", "America/New_York",
     NULL, ""},
};
#define NSITES (sizeof(sites) / sizeof(sites[0]))

/* Hostile page addresses and sources, sent as a browser would send them
 * (location.href, percent-encoded) to the first site, and the text the
 * dashboard must show for each: the collector's canonical form
 * (docs/paths.md), with %3C and %3E decoded and the space kept escaped. */
static const struct {
    const char *url;
    const char *shown;
} hostile[] = {
    {"https://alpha.example/%3Cimg%20src=x%20onerror=alert(1)%3E",
     "/<img%20src=x%20onerror=alert(1)>"},
    {"https://alpha.example/%3Csvg/onload=alert(2)%3E", "/<svg/onload=alert(2)>"},
    {"https://alpha.example/landing?utm_source=%22%3E%3Cscript%3Ealert(3)%3C/script%3E",
     "\"><script>alert(3)</script>"},
};

struct world {
    struct mochi_test_db db;
    PGconn *conn;
    struct mochi_test_kafka kafka;
    char topic[64];
    struct mochi_test_proc collector, consumer, rollup, web;
    char *rollup_argv[16];
    char collector_url[64], web_url[64];
    char sites_arg[512];
    char password[64];
    char share[64];
    int traffic_runs;
    long long produced; /* messages the collector accepted for Kafka, all told */
};

static bool executable(const char *path)
{
    return access(path, X_OK) == 0;
}

/* Why the test cannot run here, or NULL. */
static const char *missing_prerequisite(void)
{
    static char why[600];
    const char *src = getenv("MOCHI_SOURCE_DIR");
    char path[512];
    if (src == NULL)
        return "MOCHI_SOURCE_DIR is not set (run the test through ctest)";
    if (!executable(NODE))
        return NODE " is missing (apt-get install nodejs npm; scripts/install-deps.sh does)";
    snprintf(path, sizeof(path), "%s/node_modules/playwright-core/package.json", src);
    if (access(path, R_OK) != 0) {
        snprintf(why, sizeof(why),
                 "%s is missing: run `npm ci` in %s (scripts/install-deps.sh does)", path, src);
        return why;
    }
    if (!executable(CHROMIUM))
        return CHROMIUM " is missing (apt-get install chromium; scripts/install-deps.sh does)";
    if (!executable(mochi_test_bin("mochi-web")))
        return "mochi-web is not built";
    return NULL;
}

static void exec_params(PGconn *conn, const char *sql, int n, const char *const *params)
{
    PGresult *res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(conn));
    PQclear(res);
}

/* base64url of n random bytes into out (at least 4n/3 + 2 bytes). */
static void random_text(char *out, size_t size, size_t n)
{
    unsigned char raw[48];
    assert_true(n <= sizeof(raw));
    randombytes_buf(raw, n);
    sodium_bin2base64(out, size, raw, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* Sites, the users and their roles, a share link: as SQL, since the
 * test is about the pages (mochictl users/shares have their own tests). */
static void make_accounts(struct world *w)
{
    for (size_t i = 0; i < NSITES; i++) {
        const char *p[] = {sites[i].name, sites[i].domain, sites[i].key, sites[i].zone};
        PGresult *res = PQexecParams(w->conn,
                                     "INSERT INTO sites (name, domain, tracking_key, timezone)"
                                     " VALUES ($1, $2, $3, $4) RETURNING id",
                                     4, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK)
            fail_msg("insert site: %s", PQerrorMessage(w->conn));
        snprintf(sites[i].id, sizeof(sites[i].id), "%s", PQgetvalue(res, 0, 0));
        PQclear(res);
    }
    random_text(w->password, sizeof(w->password), 18);
    char hash[crypto_pwhash_STRBYTES], other[crypto_pwhash_STRBYTES], other_pw[64];
    random_text(other_pw, sizeof(other_pw), 18);
    if (crypto_pwhash_str(hash, w->password, strlen(w->password),
                          crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0 ||
        crypto_pwhash_str(other, other_pw, strlen(other_pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        fail_msg("crypto_pwhash_str: out of memory");
    const char *u1[] = {"viewer@example.test", hash};
    const char *u2[] = {"other@example.test", other};
    exec_params(w->conn, "INSERT INTO users (email, password_hash) VALUES ($1, $2)", 2, u1);
    exec_params(w->conn, "INSERT INTO users (email, password_hash) VALUES ($1, $2)", 2, u2);
    for (size_t i = 0; i < NSITES; i++) {
        const char *p[] = {sites[i].role ? "viewer@example.test" : "other@example.test",
                           sites[i].id, sites[i].role ? sites[i].role : "admin"};
        exec_params(w->conn,
                    "INSERT INTO site_roles (user_id, site_id, role)"
                    " SELECT id, $2, $3 FROM users WHERE email = $1",
                    3, p);
    }
    random_text(w->share, sizeof(w->share), 16);
    const char *s[] = {w->share, sites[0].id};
    exec_params(w->conn, "INSERT INTO shares (slug, site_id) VALUES ($1, $2)", 2, s);
}

static void start_rollup(struct world *w)
{
    mochi_test_proc_start_as(&w->rollup, &w->db, "mochi_rollup", w->rollup_argv);
}

static void start_pipeline(struct world *w)
{
    snprintf(w->topic, sizeof(w->topic), "%s", mochi_test_unique("dash"));
    const char *topics[] = {w->topic, NULL};
    mochi_test_kafka_start(&w->kafka, 1, PARTITIONS, topics);

    int cport = mochi_test_free_port(), wport = mochi_test_free_port();
    char clisten[32], wlisten[32];
    snprintf(clisten, sizeof(clisten), "127.0.0.1:%d", cport);
    snprintf(wlisten, sizeof(wlisten), "127.0.0.1:%d", wport);
    snprintf(w->collector_url, sizeof(w->collector_url), "http://127.0.0.1:%d", cport);
    snprintf(w->web_url, sizeof(w->web_url), "http://127.0.0.1:%d", wport);
    char *const collector[] = {(char *)mochi_test_bin("mochi-collector"),
                               "--brokers",
                               w->kafka.bootstrap,
                               "--topic",
                               w->topic,
                               "--listen",
                               clisten,
                               "--trusted-proxies",
                               "127.0.0.1/32",
                               "--metrics-listen",
                               "127.0.0.1:0",
                               NULL};
    char *const consumer[] = {(char *)mochi_test_bin("mochi-consumer"),
                              "--brokers",
                              w->kafka.bootstrap,
                              "--topic",
                              w->topic,
                              "--metrics-listen",
                              "127.0.0.1:0",
                              "--batch-wait",
                              "50ms",
                              "-X",
                              "session.timeout.ms=6000",
                              NULL};
    char *rollup[] = {(char *)mochi_test_bin("mochi-rollup"),
                      "--brokers",
                      w->kafka.bootstrap,
                      "--topic",
                      w->topic,
                      "--metrics-listen",
                      "127.0.0.1:0",
                      "--batch-wait",
                      "50ms",
                      "-X",
                      "session.timeout.ms=6000",
                      NULL};
    memcpy(w->rollup_argv, rollup, sizeof(rollup));
    char *const web[] = {(char *)mochi_test_bin("mochi-web"),
                         "--listen",
                         wlisten,
                         "--metrics-listen",
                         "127.0.0.1:0",
                         "--brokers",
                         w->kafka.bootstrap,
                         "--topic",
                         w->topic,
                         NULL};
    mochi_test_proc_start_as(&w->collector, &w->db, "mochi_collector", collector);
    mochi_test_proc_start_as(&w->consumer, &w->db, "mochi_consumer", consumer);
    start_rollup(w);
    /* On http: the session cookie goes without Secure (the contract's
     * MOCHI_WEB_SECURE_COOKIE, as the demo does). */
    char web_db[600], web_db_env[700];
    mochi_test_db_conninfo_as(&w->db, "mochi_web", web_db, sizeof(web_db));
    snprintf(web_db_env, sizeof(web_db_env), "MOCHI_DATABASE_URL=%s", web_db);
    char *const web_env[] = {web_db_env, "MOCHI_WEB_SECURE_COOKIE=false", NULL};
    mochi_test_proc_start(&w->web, web, web_env, false);
    assert_true(mochi_test_wait_port(cport, 30000));
    assert_true(mochi_test_wait_port(wport, 30000));

    size_t len = 0;
    for (size_t i = 0; i < NSITES; i++)
        len += (size_t)snprintf(w->sites_arg + len, sizeof(w->sites_arg) - len, "%s%s=%s@%s",
                                i ? "," : "", sites[i].key, sites[i].domain, sites[i].zone);
}

/* Runs loadgen to its end: seconds of traffic at rate beacons/s, each
 * visitor a real browser (no bots), every beacon once. Returns how many
 * beacons the collector accepted (each one message on the topic). */
static long long traffic(struct world *w, int seconds, int rate)
{
    char duration[16], rate_s[16], seed[16];
    snprintf(duration, sizeof(duration), "%ds", seconds);
    snprintf(rate_s, sizeof(rate_s), "%d", rate);
    snprintf(seed, sizeof(seed), "%d", ++w->traffic_runs);
    char *const loadgen[] = {(char *)mochi_test_bin("mochi-loadgen"),
                             "--url",
                             w->collector_url,
                             "--sites",
                             w->sites_arg,
                             "--duration",
                             duration,
                             "--rate",
                             rate_s,
                             "--connections",
                             "4",
                             "--visitors",
                             "80",
                             "--pages",
                             "25",
                             "--seed",
                             seed,
                             "--bot-share",
                             "0",
                             "--double-share",
                             "0",
                             NULL};
    char *out = NULL, *err = NULL;
    int status = mochi_test_run(loadgen, NULL, 120000, &out, &err);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("loadgen failed: %s%s", out, err);
    const char *published = out ? strstr(out, "(published ") : NULL;
    long long n = 0;
    if (published == NULL || sscanf(published, "(published %lld", &n) != 1)
        fail_msg("no \"(published N\" in loadgen's summary: %s", out);
    w->produced += n;
    print_message("loadgen: %s", out);
    free(out);
    free(err);
    return n;
}

/* Each hostile beacon from 20 visitors, so that its path and source are
 * in the dashboard's top ten beside loadgen's. */
#define HOSTILE_VISITORS 20
static void send_hostile(struct world *w)
{
    char url[128];
    snprintf(url, sizeof(url), "%s/api/event", w->collector_url);
    for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
        json_t *body =
            json_pack("{s:s, s:s, s:s}", "k", sites[0].key, "u", hostile[i].url, "r", "");
        char *text = json_dumps(body, JSON_COMPACT);
        for (int v = 0; v < HOSTILE_VISITORS; v++) {
            char xff[64];
            /* visitors of their own: a visitor's source is that of their first view */
            snprintf(xff, sizeof(xff), "X-Forwarded-For: 203.0.113.%d",
                     (int)i * HOSTILE_VISITORS + v + 1);
            const char *headers[] = {"User-Agent: " BROWSER_UA,
                                     "Content-Type: text/plain;charset=UTF-8", xff, NULL};
            struct mochi_test_response r;
            mochi_test_http("POST", url, headers, text, &r);
            if (r.status != 202)
                fail_msg("collector answered %ld to %s: %s", r.status, text, r.body);
            w->produced++;
            mochi_test_response_free(&r);
        }
        free(text);
        json_decref(body);
    }
}

/* True once both groups have committed the log end and every site's
 * aggregates count as many page views as its raw events. */
static bool caught_up(struct world *w, bool ingest, bool rollup, int timeout_ms)
{
    /* The collector's producer may still hold the last messages: first the
     * topic must have them all. */
    int64_t ends[PARTITIONS];
    int64_t until = mochi_test_now_ms() + timeout_ms;
    for (;;) {
        mochi_test_kafka_end_offsets(w->kafka.bootstrap, w->topic, PARTITIONS, ends);
        long long sum = 0;
        for (int p = 0; p < PARTITIONS; p++)
            sum += ends[p];
        if (sum >= w->produced)
            break;
        if (mochi_test_now_ms() > until) {
            print_message("the topic holds %lld messages, %lld were accepted\n", sum, w->produced);
            return false;
        }
        usleep(100000);
    }
    if (ingest && !mochi_test_kafka_wait_committed(w->kafka.bootstrap, MOCHI_GROUP_INGEST, w->topic,
                                                   PARTITIONS, timeout_ms))
        return false;
    if (rollup && !mochi_test_kafka_wait_committed(w->kafka.bootstrap, MOCHI_GROUP_ROLLUP, w->topic,
                                                   PARTITIONS, timeout_ms))
        return false;
    if (!(ingest && rollup))
        return true;
    int64_t deadline = mochi_test_now_ms() + timeout_ms;
    const char *differ = "SELECT count(*) FROM sites s WHERE"
                         " (SELECT count(*) FROM page_view_events e WHERE e.site_id = s.id) <>"
                         " (SELECT coalesce(sum(page_views), 0) FROM daily_site_metrics m"
                         "  WHERE m.site_id = s.id)";
    while (mochi_test_db_int(w->conn, differ) != 0) {
        if (mochi_test_now_ms() > deadline)
            return false;
        usleep(200000);
    }
    return true;
}

/* ---- the node script's requests ---- */

static json_t *answer_sql(struct world *w, json_t *req)
{
    const char *sql = json_string_value(json_object_get(req, "sql"));
    json_t *params = json_object_get(req, "params");
    if (sql == NULL)
        return json_pack("{s:s}", "error", "sql: no \"sql\"");
    size_t n = json_array_size(params);
    const char *values[16];
    if (n > 16)
        return json_pack("{s:s}", "error", "sql: more than 16 parameters");
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(params, i);
        values[i] = json_is_null(v) ? NULL : json_string_value(v);
    }
    PGresult *res = PQexecParams(w->conn, sql, (int)n, NULL, values, NULL, NULL, 0);
    json_t *out;
    if (PQresultStatus(res) == PGRES_TUPLES_OK || PQresultStatus(res) == PGRES_COMMAND_OK) {
        json_t *rows = json_array();
        for (int r = 0; r < PQntuples(res); r++) {
            json_t *row = json_array();
            for (int c = 0; c < PQnfields(res); c++)
                json_array_append_new(
                    row, PQgetisnull(res, r, c) ? json_null() : json_string(PQgetvalue(res, r, c)));
            json_array_append_new(rows, row);
        }
        out = json_pack("{s:o}", "rows", rows);
    } else {
        out = json_pack("{s:s}", "error", PQerrorMessage(w->conn));
    }
    PQclear(res);
    return out;
}

static json_t *answer_mochictl(struct world *w, json_t *req)
{
    json_t *args = json_object_get(req, "args");
    const char *argv[16] = {NULL};
    size_t n = json_array_size(args);
    if (n == 0 || n > 15)
        return json_pack("{s:s}", "error", "mochictl: 1 to 15 args");
    for (size_t i = 0; i < n; i++)
        argv[i] = json_string_value(json_array_get(args, i));
    char *out = NULL, *err = NULL;
    int code =
        mochi_test_mochictl(w->db.conninfo, w->kafka.bootstrap, w->topic, argv, 60000, &out, &err);
    json_t *res =
        json_pack("{s:i, s:s, s:s}", "code", code, "out", out ? out : "", "err", err ? err : "");
    free(out);
    free(err);
    return res;
}

static json_t *answer(struct world *w, json_t *req)
{
    const char *cmd = json_string_value(json_object_get(req, "cmd"));
    if (cmd == NULL)
        return json_pack("{s:s}", "error", "no \"cmd\"");
    if (strcmp(cmd, "sql") == 0)
        return answer_sql(w, req);
    if (strcmp(cmd, "mochictl") == 0)
        return answer_mochictl(w, req);
    if (strcmp(cmd, "rollup") == 0) {
        const char *action = json_string_value(json_object_get(req, "action"));
        if (action && strcmp(action, "stop") == 0) {
            int st = mochi_test_proc_stop(&w->rollup, SIGTERM, 30000);
            return json_pack("{s:b}", "ok", WIFEXITED(st) && WEXITSTATUS(st) == 0);
        }
        if (action && strcmp(action, "start") == 0) {
            start_rollup(w);
            return json_pack("{s:b}", "ok", 1);
        }
        return json_pack("{s:s}", "error", "rollup: action stop or start");
    }
    if (strcmp(cmd, "traffic") == 0) {
        json_int_t seconds = json_integer_value(json_object_get(req, "seconds"));
        json_int_t rate = json_integer_value(json_object_get(req, "rate"));
        if (seconds < 1 || seconds > 60 || rate < 1 || rate > 1000)
            return json_pack("{s:s}", "error", "traffic: seconds 1..60, rate 1..1000");
        long long published = traffic(w, (int)seconds, (int)rate);
        return json_pack("{s:b, s:I}", "ok", 1, "published", (json_int_t)published);
    }
    if (strcmp(cmd, "caught_up") == 0) {
        const char *group = json_string_value(json_object_get(req, "group"));
        bool ingest = group && strcmp(group, "rollup") != 0;
        bool rollup = group && strcmp(group, "ingest") != 0;
        return json_pack("{s:b}", "ok", caught_up(w, ingest, rollup, 60000));
    }
    return json_pack("{s:s}", "error", "unknown cmd");
}

/* Runs the node script to its end, answering its requests; returns its
 * wait status. */
static int run_node(struct world *w)
{
    const char *src = getenv("MOCHI_SOURCE_DIR");
    const char *bin = getenv("MOCHI_BINARY_DIR");
    char script[512], artifacts[512];
    snprintf(script, sizeof(script), "%s/tests/browser/dashboard.mjs", src);
    snprintf(artifacts, sizeof(artifacts), "%s/browser-artifacts", bin);
    mkdir(artifacts, 0755);

    json_t *list = json_array();
    for (size_t i = 0; i < NSITES; i++)
        json_array_append_new(list,
                              json_pack("{s:s, s:s, s:s, s:s, s:b}", "id", sites[i].id, "name",
                                        sites[i].name, "domain", sites[i].domain, "zone",
                                        sites[i].zone, "granted", sites[i].role != NULL));
    json_t *shown = json_array();
    for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++)
        json_array_append_new(shown, json_string(hostile[i].shown));
    char *sites_json = json_dumps(list, JSON_COMPACT);
    char *hostile_json = json_dumps(shown, JSON_COMPACT);
    json_decref(list);
    json_decref(shown);

    static char e_url[128], e_email[128], e_pw[128], e_share[128], e_art[600], e_sites[2048],
        e_hostile[1024], e_topic[128];
    snprintf(e_url, sizeof(e_url), "MOCHI_WEB_URL=%s", w->web_url);
    snprintf(e_email, sizeof(e_email), "MOCHI_TEST_EMAIL=viewer@example.test");
    snprintf(e_pw, sizeof(e_pw), "MOCHI_TEST_PASSWORD=%s", w->password);
    snprintf(e_share, sizeof(e_share), "MOCHI_TEST_SHARE=%s", w->share);
    snprintf(e_art, sizeof(e_art), "MOCHI_TEST_ARTIFACTS=%s", artifacts);
    snprintf(e_sites, sizeof(e_sites), "MOCHI_TEST_SITES=%s", sites_json);
    snprintf(e_hostile, sizeof(e_hostile), "MOCHI_TEST_HOSTILE=%s", hostile_json);
    snprintf(e_topic, sizeof(e_topic), "MOCHI_TEST_TOPIC=%s", w->topic);
    free(sites_json);
    free(hostile_json);
    char *const env[] = {e_url, e_email, e_pw, e_share, e_art, e_sites, e_hostile, e_topic, NULL};
    char *const argv[] = {NODE, script, NULL};
    struct mochi_test_proc node;
    mochi_test_proc_start(&node, argv, env, true);

    int64_t deadline = mochi_test_now_ms() + NODE_TIMEOUT_MS;
    static char line[1 << 16];
    int status = 0;
    for (;;) {
        int left = (int)(deadline - mochi_test_now_ms());
        if (left <= 0) {
            mochi_test_proc_kill(&node);
            status = -1;
            break;
        }
        if (!mochi_test_proc_read_line(&node, line, sizeof(line), left)) {
            /* end of output: the script is done (or died) */
            status = mochi_test_proc_stop(&node, SIGTERM, 10000);
            break;
        }
        json_error_t jerr;
        json_t *req = json_loads(line, 0, &jerr);
        if (req == NULL) {
            print_message("node: %s\n", line); /* a stray line: pass it on */
            continue;
        }
        json_t *res = answer(w, req);
        char *text = json_dumps(res, JSON_COMPACT);
        mochi_test_proc_write_line(&node, text);
        free(text);
        json_decref(res);
        json_decref(req);
    }
    char *log = mochi_test_read_file(node.log);
    print_message("---- dashboard.mjs ----\n%s----\n", log ? log : "(no output)\n");
    free(log);
    return status;
}

static void dashboard_in_chromium(void **state)
{
    (void)state;
    struct world *w = calloc(1, sizeof(*w));
    assert_non_null(w);
    mochi_test_db_create_migrated(&w->db);
    w->conn = mochi_test_db_connect(&w->db);
    make_accounts(w);
    start_pipeline(w);

    traffic(w, 5, 120);
    send_hostile(w);
    if (!caught_up(w, true, true, 60000))
        fail_msg("the pipeline did not catch up within 60 s");

    int status = run_node(w);
    if (status == -1)
        fail_msg("dashboard.mjs did not finish within %d s", NODE_TIMEOUT_MS / 1000);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char *log = mochi_test_read_file(w->web.log);
        print_message("---- mochi-web's log (tail) ----\n%s\n",
                      log ? log + (strlen(log) > 4000 ? strlen(log) - 4000 : 0) : "");
        free(log);
        fail_msg("dashboard.mjs failed (exit %d)", mochi_test_exit_code(status));
    }

    struct mochi_test_proc *procs[] = {&w->web, &w->collector, &w->consumer, &w->rollup};
    for (size_t i = 0; i < sizeof(procs) / sizeof(procs[0]); i++) {
        if (procs[i]->pid <= 0)
            continue;
        int st = mochi_test_proc_stop(procs[i], SIGTERM, 20000);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            fail_msg("%s did not exit 0 on SIGTERM (status %d)", procs[i]->name, st);
    }
    PQfinish(w->conn);
    mochi_test_kafka_stop(&w->kafka);
    mochi_test_db_drop(&w->db);
    free(w);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const char *why = missing_prerequisite();
    if (why != NULL) {
        printf("SKIPPED: the browser test cannot run: %s\n", why);
        return SKIP_CODE;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dashboard_in_chromium),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    mochi_test_cleanup();
    return failed;
}
