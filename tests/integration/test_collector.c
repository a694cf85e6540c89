/* mochi-collector as a process, over real HTTP, against the fixture's
 * PostgreSQL and a dev Kafka broker of its own. Every event is read back
 * from the topic and checked field by field; the visitor hash is
 * recomputed here with libsodium directly from the salt in the database. */
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
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

#define KEY "collectorTestKey_0001"
#define SITE_ID "0b7e7a2e-1c3a-4f6e-9d2b-5a1f00c0ffee"

struct fixture {
    struct mochi_test_db db;
    struct mochi_test_kafka kafka;
    struct mochi_test_proc collector;
    char topic[64];
    int port;
    char base[64];         /* the public port: beacons and the tracker */
    char metrics_base[64]; /* --metrics-listen: /metrics and /healthz */
    struct mochi_schema_set *schemas;
    struct mochi_codec *codec;
};

/* Starts the collector with extra arguments (NULL-terminated). */
static void start_collector(struct fixture *f, const char *const extra[])
{
    char conninfo[600], db_env[700], port_arg[32];
    mochi_test_db_conninfo_as(&f->db, "mochi_collector", conninfo, sizeof(conninfo));
    snprintf(db_env, sizeof(db_env), "MOCHI_DATABASE_URL=%s", conninfo);
    f->port = mochi_test_free_port();
    snprintf(port_arg, sizeof(port_arg), "127.0.0.1:%d", f->port);
    snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%d", f->port);
    char *argv[32] = {(char *)mochi_test_bin("mochi-collector"),
                      "--brokers",
                      f->kafka.bootstrap,
                      "--topic",
                      f->topic,
                      "--listen",
                      port_arg,
                      "--trusted-proxies",
                      "127.0.0.1/32",
                      "--refresh-interval",
                      "300ms",
                      "--threads",
                      "2",
                      "--metrics-listen",
                      "127.0.0.1:0"};
    int argc = 15;
    for (size_t i = 0; extra && extra[i] && argc < 31; i++)
        argv[argc++] = (char *)extra[i];
    argv[argc] = NULL;
    char *const env[] = {db_env, NULL};
    mochi_test_proc_start(&f->collector, argv, env, false);
    if (!mochi_test_wait_port(f->port, 20000)) {
        char *log = mochi_test_read_file(f->collector.log);
        fail_msg("collector did not listen; log:\n%s", log ? log : "");
    }
    snprintf(f->metrics_base, sizeof(f->metrics_base), "http://127.0.0.1:%d",
             mochi_test_metrics_port(&f->collector, 20000));
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    mochi_test_db_create_migrated(&f->db);
    PGconn *conn = mochi_test_db_connect(&f->db);
    mochi_test_db_exec(conn, "INSERT INTO sites (id, name, domain, tracking_key) VALUES "
                             "('" SITE_ID "', 'Test', 'example.com', '" KEY "')");
    PQfinish(conn);
    snprintf(f->topic, sizeof(f->topic), "%s", mochi_test_unique("pageviews"));
    const char *topics[] = {f->topic, NULL};
    mochi_test_kafka_start(&f->kafka, 1, 3, topics);
    mochi_test_codec_new(&f->schemas, &f->codec);
    assert_int_equal(sodium_init() >= 0, 1);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    mochi_test_proc_kill(&f->collector);
    mochi_test_kafka_stop(&f->kafka);
    mochi_test_db_drop(&f->db);
    mochi_codec_destroy(f->codec);
    mochi_schema_set_destroy(f->schemas);
    free(f);
    return 0;
}

static long post(struct fixture *f, const char *ua, const char *xff, const char *body)
{
    char ua_h[600], xff_h[200];
    snprintf(ua_h, sizeof(ua_h), "User-Agent: %s", ua);
    snprintf(xff_h, sizeof(xff_h), "X-Forwarded-For: %s", xff ? xff : "");
    const char *headers[] = {ua_h, "Content-Type: text/plain;charset=UTF-8", xff ? xff_h : NULL,
                             NULL};
    char url[128];
    snprintf(url, sizeof(url), "%s/api/event", f->base);
    struct mochi_test_response r;
    mochi_test_http("POST", url, headers, body, &r);
    long status = r.status;
    if (status != 202)
        assert_non_null(strstr(r.body, "\"error\""));
    mochi_test_response_free(&r);
    return status;
}

struct expect {
    const char *path;
    const char *referrer; /* NULL: none */
    const char *ip;
    const char *ua;
};

static void routes_publish_exactly_the_valid_beacons(void **state)
{
    struct fixture *f = *state;
    start_collector(f, NULL);
    const char *chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0";
    const char *firefox = "Mozilla/5.0 (Windows NT 10.0; rv:121.0) Gecko/20100101 Firefox/121.0";
    int64_t before = mochi_clock_now_us();

    /* accepted and published, in this order */
    assert_int_equal(post(f, chrome, "198.18.0.1",
                          "{\"k\":\"" KEY "\",\"u\":\"https://example.com/blog/a?utm=x#top\","
                          "\"r\":\"https://News.YCombinator.com/item?id=1\"}"),
                     202);
    assert_int_equal(post(f, firefox, "198.18.0.2, 127.0.0.1",
                          "{\"k\":\"" KEY "\",\"u\":\"https://www.example.com\","
                          "\"r\":\"https://example.com/previous\"}"),
                     202);
    assert_int_equal(post(f, chrome, "2001:db8::5",
                          "{\"k\":\"" KEY "\",\"u\":\"http://example.com/caf%C3%A9/\\u65e5\","
                          "\"r\":null}"),
                     202);
    char url[512];
    snprintf(url, sizeof(url),
             "%s/p.gif?k=" KEY
             "&u=https%%3A%%2F%%2Fshop.example.com%%2Fcart%%3Futm_source%%3DNewsletter&r=",
             f->base);
    const char *gif_headers[] = {"User-Agent: Mozilla/5.0 (iPhone) Safari/604.1",
                                 "X-Forwarded-For: 198.18.0.3", NULL};
    struct mochi_test_response r;
    mochi_test_http("GET", url, gif_headers, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.headers, "image/gif"));
    mochi_test_response_free(&r);

    /* accepted, not published: bots */
    assert_int_equal(post(f, "", NULL, "{\"k\":\"" KEY "\",\"u\":\"https://example.com/\"}"), 202);
    assert_int_equal(post(f, "Mozilla/5.0 (compatible; Googlebot/2.1)", NULL,
                          "{\"k\":\"" KEY "\",\"u\":\"https://example.com/\"}"),
                     202);
    assert_int_equal(
        post(f, "curl/8.0", NULL, "{\"k\":\"" KEY "\",\"u\":\"https://example.com/\"}"), 202);
    assert_int_equal(post(f, "Mozilla/5.0 HeadlessChrome/120", NULL,
                          "{\"k\":\"" KEY "\",\"u\":\"https://example.com/\"}"),
                     202);

    /* refused */
    struct {
        const char *body;
        long status;
    } bad[] = {
        {"{\"k\":\"unknownKey_000000000\",\"u\":\"https://example.com/\"}", 404},
        {"{\"k\":\"" KEY "\",\"u\":\"https://badexample.com/\"}", 403},
        {"{\"k\":\"" KEY "\",\"u\":\"https://example.com.evil.org/\"}", 403},
        {"{\"k\":\"" KEY "\",\"u\":\"https://example.com/\"", 400},
        {"[1,2]", 400},
        {"{\"u\":\"https://example.com/\"}", 400},
        {"{\"k\":\"short\",\"u\":\"https://example.com/\"}", 400},
        {"{\"k\":\"" KEY "\"}", 400},
        {"{\"k\":\"" KEY "\",\"u\":\"not a url\"}", 400},
        {"{\"k\":\"" KEY "\",\"u\":\"ftp://example.com/x\"}", 400},
        {"{\"k\":\"" KEY "\",\"u\":\"https://example.com/a\\u0001b\"}", 400},
        {"{\"k\":\"" KEY "\",\"u\":\"https://example.com/\",\"r\":\"::nope\"}", 400},
        {"{\"k\":\"" KEY "\",\"u\":\"https://example.com/\xff\xfe\"}", 400},
        {"{\"k\":\"" KEY "\",\"u\":\"https://example.com/\",\"r\":5}", 400},
        /* jansson's message quotes half of the UTF-8 "\xc3\xa9": still a 400 */
        {"{\"k\":\"\\\xc3\xa9\"}", 400},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        long got = post(f, chrome, NULL, bad[i].body);
        if (got != bad[i].status)
            fail_msg("%s: got %ld, expected %ld", bad[i].body, got, bad[i].status);
    }
    /* 413: a body over 4 KiB */
    char *big = malloc(6000);
    int n = snprintf(big, 6000, "{\"k\":\"" KEY "\",\"u\":\"https://example.com/");
    memset(big + n, 'a', 4500);
    strcpy(big + n + 4500, "\"}");
    assert_int_equal(post(f, chrome, NULL, big), 413);
    free(big);

    /* The pixel: HEAD answers without publishing (the topic check below
     * counts), and a %00 in an argument is refused, not cut. */
    snprintf(url, sizeof(url), "%s/p.gif?k=" KEY "&u=https%%3A%%2F%%2Fexample.com%%2Fhead",
             f->base);
    const char *chrome_h[] = {"User-Agent: Mozilla/5.0 (X11) Chrome/120.0 Safari/537.36", NULL};
    mochi_test_http("HEAD", url, chrome_h, NULL, &r);
    assert_int_equal(r.status, 200);
    mochi_test_response_free(&r);
    snprintf(url, sizeof(url), "%s/p.gif?k=" KEY "&u=https%%3A%%2F%%2Fexample.com%%2Fa%%00b",
             f->base);
    mochi_test_http("GET", url, chrome_h, NULL, &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "NUL"));
    mochi_test_response_free(&r);

    /* methods, preflight, tracker, health, metrics */
    snprintf(url, sizeof(url), "%s/api/event", f->base);
    mochi_test_http("PUT", url, NULL, "{}", &r);
    assert_int_equal(r.status, 405);
    mochi_test_response_free(&r);
    mochi_test_http("GET", url, NULL, NULL, &r);
    assert_int_equal(r.status, 405);
    mochi_test_response_free(&r);
    const char *preflight[] = {"Origin: https://example.com", "Access-Control-Request-Method: POST",
                               "Access-Control-Request-Headers: content-type", NULL};
    mochi_test_http("OPTIONS", url, preflight, NULL, &r);
    assert_int_equal(r.status, 204);
    assert_non_null(strstr(r.headers, "Access-Control-Allow-Origin: *"));
    assert_non_null(strstr(r.headers, "Access-Control-Allow-Methods: POST"));
    mochi_test_response_free(&r);
    snprintf(url, sizeof(url), "%s/mochi.js", f->base);
    mochi_test_http("GET", url, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.headers, "javascript"));
    assert_non_null(strstr(r.body, "sendBeacon"));
    assert_true(strlen(r.body) < 2048);
    mochi_test_response_free(&r);
    snprintf(url, sizeof(url), "%s/healthz", f->metrics_base);
    mochi_test_http_until("GET", url, NULL, NULL, 200, 10000, &r);
    assert_int_equal(r.status, 200);
    mochi_test_response_free(&r);
    snprintf(url, sizeof(url), "%s/nope", f->base);
    mochi_test_http("GET", url, NULL, NULL, &r);
    assert_int_equal(r.status, 404);
    mochi_test_response_free(&r);
    /* the public port does not show the operator's endpoints */
    const char *private_paths[] = {"/metrics", "/healthz"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(url, sizeof(url), "%s%s", f->base, private_paths[i]);
        mochi_test_http("GET", url, NULL, NULL, &r);
        assert_int_equal(r.status, 404);
        mochi_test_response_free(&r);
    }
    int64_t after = mochi_clock_now_us();

    /* The topic holds exactly the four published events. */
    size_t count = 0;
    struct mochi_test_message *msgs =
        mochi_test_kafka_read_all(f->kafka.bootstrap, f->topic, 4, 15000, &count);
    assert_int_equal(count, 4);
    PGconn *conn = mochi_test_db_connect(&f->db);
    struct expect want[] = {
        {"/blog/a", "https://news.ycombinator.com", "198.18.0.1", chrome},
        {"/", NULL, "198.18.0.2", firefox},
        {"/caf\xc3\xa9/\xe6\x97\xa5", NULL, "2001:db8::5", chrome}, /* one form: docs/paths.md */
        {"/cart", NULL, "198.18.0.3", "Mozilla/5.0 (iPhone) Safari/604.1"},
    };
    int32_t partition = msgs[0].partition;
    for (size_t i = 0; i < count; i++) {
        assert_int_equal(msgs[i].partition, partition); /* one site, one partition, in order */
        assert_string_equal(msgs[i].key, SITE_ID);
        assert_true(msgs[i].len > 5);
        assert_int_equal(msgs[i].value[0], 0);                   /* Confluent magic */
        assert_memory_equal(msgs[i].value + 1, "\0\0\0\x02", 4); /* schema id 2 */
        struct mochi_pageview ev;
        assert_int_equal(mochi_codec_decode(f->codec, msgs[i].value, msgs[i].len, &ev), 0);
        assert_string_equal(ev.site_id, SITE_ID);
        assert_string_equal(ev.path, want[i].path);
        if (want[i].referrer) {
            assert_true(ev.has_referrer);
            assert_string_equal(ev.referrer, want[i].referrer);
        } else {
            assert_false(ev.has_referrer);
        }
        char hash[33];
        mochi_test_visitor_hash(conn, SITE_ID, want[i].ip, want[i].ua, hash);
        assert_string_equal(ev.visitor_hash, hash);
        assert_true(ev.occurred_at_us >= before && ev.occurred_at_us <= after);
        /* Entries and sources (DESIGN.md): the second came from the site
         * itself, the fourth's page URL names its utm_source. The day is
         * still the UTC day (issue #13). */
        assert_int_equal(ev.day, mochi_day_of_us(ev.occurred_at_us));
        assert_int_equal(ev.entry, i != 1);
        assert_int_equal(ev.has_source, i == 0 || i == 3);
        if (i == 0)
            assert_string_equal(ev.source, "news.ycombinator.com");
        if (i == 3)
            assert_string_equal(ev.source, "newsletter");
    }
    mochi_test_messages_free(msgs, count);
    PQfinish(conn);

    /* /metrics counts what happened */
    snprintf(url, sizeof(url), "%s/metrics", f->metrics_base);
    mochi_test_http("GET", url, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "mochi_collector_events_total{outcome=\"published\"} 4\n"));
    assert_non_null(strstr(r.body, "mochi_collector_events_total{outcome=\"bot\"} 4\n"));
    assert_non_null(strstr(r.body, "mochi_collector_events_total{outcome=\"unknown_site\"} 1\n"));
    assert_non_null(strstr(r.body, "mochi_collector_events_total{outcome=\"foreign_host\"} 2\n"));
    assert_non_null(strstr(r.body, "mochi_collector_events_published_total 4\n"));
    assert_non_null(
        strstr(r.body, "mochi_collector_http_requests_total{route=\"event\",status=\"413\"} 1\n"));
    /* the cache holds the salts of today, tomorrow and the day after */
    assert_non_null(strstr(r.body, "mochi_collector_salt_days_ahead 2\n"));
    mochi_test_response_free(&r);

    int status = mochi_test_proc_stop(&f->collector, SIGTERM, 15000);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* A client behind the trusted proxy pads X-Forwarded-For so that the
 * address it chose ends the first 1 KiB; the proxy's own entry, appended
 * after it (here: a second header), must still be the one believed. */
static void forwarded_for_padding_cannot_choose_the_address(void **state)
{
    struct fixture *f = *state;
    start_collector(f, NULL);
    const char *ua = "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0";
    char padded[1100];
    memset(padded, 'a', 1015);
    strcpy(padded + 1015, ",6.6.6.6");
    char ua_h[200], spoof_h[1200];
    snprintf(ua_h, sizeof(ua_h), "User-Agent: %s", ua);
    snprintf(spoof_h, sizeof(spoof_h), "X-Forwarded-For: %s", padded);
    const char *headers[] = {ua_h, "Content-Type: text/plain", spoof_h,
                             "X-Forwarded-For: 203.0.113.9", NULL};
    char url[128];
    snprintf(url, sizeof(url), "%s/api/event", f->base);
    struct mochi_test_response r;
    /* 503 until the collector has loaded sites and salt */
    mochi_test_http_until("POST", url, headers,
                          "{\"k\":\"" KEY "\",\"u\":\"https://example.com/xff\"}", 202, 10000, &r);
    assert_int_equal(r.status, 202);
    mochi_test_response_free(&r);
    size_t count = 0;
    struct mochi_test_message *msgs =
        mochi_test_kafka_read_all(f->kafka.bootstrap, f->topic, 1, 15000, &count);
    assert_int_equal(count, 1);
    struct mochi_pageview ev;
    assert_int_equal(mochi_codec_decode(f->codec, msgs[0].value, msgs[0].len, &ev), 0);
    PGconn *conn = mochi_test_db_connect(&f->db);
    char real[33], spoofed[33];
    mochi_test_visitor_hash(conn, SITE_ID, "203.0.113.9", ua, real);
    mochi_test_visitor_hash(conn, SITE_ID, "6.6.6.6", ua, spoofed);
    assert_string_not_equal(ev.visitor_hash, spoofed);
    assert_string_equal(ev.visitor_hash, real);
    PQfinish(conn);
    mochi_test_messages_free(msgs, count);
}

/* A chunked body has no Content-Length to refuse up front: the collector
 * must stop reading once it passes 4 KiB, not read 200 MiB first. As
 * libmicrohttpd cannot answer in the middle of a body, the refusal is a
 * closed connection (a 413 is accepted too, should it come). */
static void chunked_body_over_the_limit_is_refused_early(void **state)
{
    struct fixture *f = *state;
    start_collector(f, NULL);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    const char *head =
        "POST /api/event HTTP/1.1\r\nHost: x\r\nUser-Agent: Mozilla/5.0 Firefox/120\r\n"
        "Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_true(send(fd, head, strlen(head), MSG_NOSIGNAL) == (ssize_t)strlen(head));
    static char chunk[65536 + 16];
    int n = snprintf(chunk, sizeof(chunk), "%x\r\n", 65536);
    memset(chunk + n, 'a', 65536);
    memcpy(chunk + n + 65536, "\r\n", 2);
    size_t chunk_len = (size_t)n + 65536 + 2;
    size_t sent = 0, limit = (size_t)200 << 20;
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    while (sent < limit) {
        ssize_t w = send(fd, chunk, chunk_len, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* the collector answered and closed */
        sent += (size_t)w;
    }
    char answer[512] = "";
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ssize_t got = recv(fd, answer, sizeof(answer) - 1, 0);
    close(fd);
    print_message("sent %zu bytes of a 200 MiB chunked body before the answer\n", sent);
    assert_true(sent < limit / 4);
    assert_true(got <= 0 || strstr(answer, " 413 ") != NULL);
}

/* A connection from 127.0.0.2 (not a trusted proxy in these tests) that
 * has sent the start of a request and stops there; -1 when refused at
 * connect. */
static int slow_client(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in from = {.sin_family = AF_INET};
    from.sin_addr.s_addr = htonl(0x7f000002);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&from, sizeof(from)) != 0 ||
        connect(fd, (struct sockaddr *)&to, sizeof(to)) != 0) {
        close(fd);
        return -1;
    }
    const char *start = "POST /api/event HTTP/1.1\r\nHost: x\r\n";
    if (send(fd, start, strlen(start), MSG_NOSIGNAL) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* True when the server has closed fd (EOF or reset) within timeout_ms. */
static bool closed_by_server(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) <= 0)
        return false;
    char buf[256];
    return recv(fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0;
}

/* The review's lock-out: connections that send a header line now and then
 * held every slot, and a normal beacon got no answer. Now one address holds
 * at most --max-connections-per-address, and headers that trickle past
 * --header-timeout are cut off. */
static void slow_clients_cannot_lock_others_out(void **state)
{
    struct fixture *f = *state;
    const char *const extra[] = {"--max-connections-per-address", "8", "--header-timeout", "2s",
                                 NULL};
    start_collector(f, extra);
    enum { N = 40 };
    int fds[N];
    int refused = 0, held = 0;
    for (int i = 0; i < N; i++) {
        fds[i] = slow_client(f->port);
        if (fds[i] < 0 || closed_by_server(fds[i], 200)) {
            refused++;
            if (fds[i] >= 0)
                close(fds[i]);
            fds[i] = -1;
        } else {
            held++;
        }
    }
    print_message("%d slow connections held, %d refused\n", held, refused);
    assert_true(held <= 8);
    assert_true(refused >= N - 8);

    /* Everybody else is still served at once. */
    assert_int_equal(post(f, "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0", NULL,
                          "{\"k\":\"" KEY "\",\"u\":\"https://example.com/\"}"),
                     202);

    /* The held ones trickle a header line every 500 ms, which an idle
     * timeout alone would never end: the header deadline does. */
    int64_t deadline = mochi_test_now_ms() + 8000;
    int open = held;
    while (open > 0 && mochi_test_now_ms() < deadline) {
        usleep(500000);
        for (int i = 0; i < N; i++) {
            if (fds[i] < 0)
                continue;
            if (send(fds[i], "X-Slow: 1\r\n", 11, MSG_NOSIGNAL) < 0 ||
                closed_by_server(fds[i], 0)) {
                close(fds[i]);
                fds[i] = -1;
                open--;
            }
        }
    }
    assert_int_equal(open, 0);

    char url[128];
    snprintf(url, sizeof(url), "%s/metrics", f->metrics_base);
    struct mochi_test_response r;
    mochi_test_http("GET", url, NULL, NULL, &r);
    assert_non_null(
        strstr(r.body, "mochi_collector_connections_refused_total{reason=\"per_address\"}"));
    assert_non_null(
        strstr(r.body, "mochi_collector_connections_refused_total{reason=\"header_timeout\"}"));
    assert_null(
        strstr(r.body, "mochi_collector_connections_refused_total{reason=\"header_timeout\"} 0\n"));
    mochi_test_response_free(&r);
    char *log = mochi_test_read_file(f->collector.log);
    assert_non_null(strstr(log, "msg=\"connections refused\""));
    free(log);
}

/* Sends text as is on a fresh connection and reads the answer until the
 * server closes or 3 s pass; returns the bytes read. */
static size_t raw_request(int port, const char *text, char *answer, size_t size)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&to, sizeof(to)), 0);
    assert_true(send(fd, text, strlen(text), MSG_NOSIGNAL) == (ssize_t)strlen(text));
    size_t got = 0;
    int64_t deadline = mochi_test_now_ms() + 3000;
    while (got + 1 < size && mochi_test_now_ms() < deadline) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 200) <= 0)
            continue;
        ssize_t n = recv(fd, answer + got, size - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    answer[got] = '\0';
    close(fd);
    return got;
}

/* Request smuggling: two different Content-Lengths, or Content-Length with
 * Transfer-Encoding, would let a proxy and the collector split the bytes
 * differently. Both are refused, and nothing is published. */
static void ambiguous_framing_is_refused(void **state)
{
    struct fixture *f = *state;
    start_collector(f, NULL);
    /* ready: a first beacon is accepted */
    int64_t deadline = mochi_test_now_ms() + 10000;
    long status = 0;
    while ((status = post(f, "Mozilla/5.0 Firefox/120.0", NULL,
                          "{\"k\":\"" KEY "\",\"u\":\"https://example.com/ok\"}")) != 202 &&
           mochi_test_now_ms() < deadline)
        usleep(100000);
    assert_int_equal(status, 202);
    const char *body = "{\"k\":\"" KEY "\",\"u\":\"https://example.com/smuggled\"}";
    char request[1024], answer[4096];
    snprintf(request, sizeof(request),
             "POST /api/event HTTP/1.1\r\nHost: x\r\nUser-Agent: Mozilla/5.0 Firefox/120.0\r\n"
             "Content-Length: %zu\r\nContent-Length: 5\r\n\r\n%s",
             strlen(body), body);
    raw_request(f->port, request, answer, sizeof(answer));
    assert_true(strncmp(answer, "HTTP/1.1 400 ", 13) == 0);
    assert_non_null(strstr(answer, "conflicting Content-Length"));
    snprintf(request, sizeof(request),
             "POST /api/event HTTP/1.1\r\nHost: x\r\nUser-Agent: Mozilla/5.0 Firefox/120.0\r\n"
             "Content-Length: %zu\r\nTransfer-Encoding: chunked\r\n\r\n%zx\r\n%s\r\n0\r\n\r\n",
             strlen(body), strlen(body), body);
    raw_request(f->port, request, answer, sizeof(answer));
    assert_true(strncmp(answer, "HTTP/1.1 400 ", 13) == 0);
    /* Headers that overflow libmicrohttpd's per-connection pool get its own
     * 4xx (0.9.75 may write that status line twice, a libmicrohttpd bug);
     * the collector publishes nothing for it. */
    static char big[24000];
    int n = snprintf(big, sizeof(big),
                     "POST /api/event HTTP/1.1\r\nHost: x\r\nUser-Agent: Mozilla/5.0\r\nX-Pad: ");
    memset(big + n, 'p', 17000);
    snprintf(big + n + 17000, sizeof(big) - (size_t)n - 17000, "\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(body), body);
    size_t got = raw_request(f->port, big, answer, sizeof(answer));
    print_message("%zu bytes of answer to 17 KB of headers: %.60s\n", got, answer);
    assert_true(strncmp(answer, "HTTP/1.1 4", 10) == 0);
    /* Only the first, plain beacon is in the topic. */
    size_t count = 0;
    struct mochi_test_message *msgs =
        mochi_test_kafka_read_all(f->kafka.bootstrap, f->topic, 1, 15000, &count);
    assert_int_equal(count, 1);
    struct mochi_pageview ev;
    assert_int_equal(mochi_codec_decode(f->codec, msgs[0].value, msgs[0].len, &ev), 0);
    assert_string_equal(ev.path, "/ok");
    mochi_test_messages_free(msgs, count);
}

static void raw_ip_and_user_agent_never_leave_the_process(void **state)
{
    struct fixture *f = *state;
    start_collector(f, (const char *const[]){"--log-level", "debug", NULL});
    char ips[20][32], uas[20][96];
    for (int i = 0; i < 20; i++) {
        snprintf(ips[i], sizeof(ips[i]), "203.0.113.%d", 100 + i);
        snprintf(uas[i], sizeof(uas[i]), "Mozilla/5.0 (PrivacyProbe %d) Firefox/%d.0", 7000 + i,
                 100 + i);
        char body[256];
        snprintf(body, sizeof(body),
                 "{\"k\":\"" KEY "\",\"u\":\"https://example.com/p/%d\",\"r\":\"\"}", i);
        assert_int_equal(post(f, uas[i], ips[i], body), 202);
    }
    /* a refused one too: its address must not be logged either */
    assert_int_equal(post(f, uas[0], ips[0], "{\"k\":\"" KEY "\",\"u\":\"https://evil.org/\"}"),
                     403);
    size_t count = 0;
    struct mochi_test_message *msgs =
        mochi_test_kafka_read_all(f->kafka.bootstrap, f->topic, 20, 15000, &count);
    assert_int_equal(count, 20);
    int status = mochi_test_proc_stop(&f->collector, SIGTERM, 15000);
    assert_int_equal(WEXITSTATUS(status), 0);

    /* Stored by a consumer: neither in a dump of the database nor in the
     * PostgreSQL server's log. */
    char conninfo[600];
    mochi_test_db_conninfo_as(&f->db, "mochi_consumer", conninfo, sizeof(conninfo));
    struct mochi_test_proc consumer;
    mochi_test_stream_start(&consumer, "mochi-consumer", conninfo, f->kafka.bootstrap, f->topic,
                            NULL);
    PGconn *conn = mochi_test_db_connect(&f->db);
    int64_t deadline = mochi_test_now_ms() + 60000;
    while (mochi_test_db_int(conn, "SELECT count(*) FROM page_view_events") < 20 &&
           mochi_test_now_ms() < deadline)
        usleep(100000);
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(*) FROM page_view_events"), 20);
    PQfinish(conn);
    assert_int_equal(WEXITSTATUS(mochi_test_proc_stop(&consumer, SIGTERM, 30000)), 0);
    char *dump = mochi_test_pg_dump(&f->db);
    char *pglog = mochi_test_pg_server_log();
    assert_non_null(strstr(dump, "/p/19")); /* we are reading the right dump */
    for (int i = 0; i < 20; i++) {
        assert_null(strstr(dump, ips[i]));
        assert_null(strstr(pglog, ips[i]));
    }
    assert_null(strstr(dump, "PrivacyProbe"));
    assert_null(strstr(pglog, "PrivacyProbe"));
    free(dump);
    free(pglog);

    char *log = mochi_test_read_file(f->collector.log);
    assert_non_null(log);
    assert_non_null(strstr(log, "msg=\"started\"")); /* we are reading the right log */
    for (int i = 0; i < 20; i++) {
        for (size_t m = 0; m < count; m++) {
            assert_null(memmem(msgs[m].value, msgs[m].len, ips[i], strlen(ips[i])));
            assert_null(memmem(msgs[m].value, msgs[m].len, uas[i], strlen(uas[i])));
            assert_null(memmem(msgs[m].value, msgs[m].len, "PrivacyProbe", 12));
            assert_null(memmem(msgs[m].key, msgs[m].key_len, ips[i], strlen(ips[i])));
        }
        assert_null(strstr(log, ips[i]));
        assert_null(strstr(log, "PrivacyProbe"));
    }
    free(log);
    mochi_test_messages_free(msgs, count);
}

static void kafka_down_then_up_delivers_each_accepted_beacon_once(void **state)
{
    struct fixture *f = *state;
    start_collector(f, NULL);
    const char *ua = "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0";
    mochi_test_kafka_command(&f->kafka, "down all");
    for (int i = 0; i < 25; i++) {
        char body[256];
        snprintf(body, sizeof(body), "{\"k\":\"" KEY "\",\"u\":\"https://example.com/down/%d\"}",
                 i);
        assert_int_equal(post(f, ua, "198.18.1.1", body), 202);
    }
    sleep(2);
    mochi_test_kafka_command(&f->kafka, "up all");
    size_t count = 0;
    struct mochi_test_message *msgs =
        mochi_test_kafka_read_all(f->kafka.bootstrap, f->topic, 25, 30000, &count);
    assert_int_equal(count, 25);
    bool seen[25] = {false};
    for (size_t m = 0; m < count; m++) {
        struct mochi_pageview ev;
        assert_int_equal(mochi_codec_decode(f->codec, msgs[m].value, msgs[m].len, &ev), 0);
        int i = atoi(ev.path + strlen("/down/"));
        assert_false(seen[i]); /* once */
        seen[i] = true;
    }
    mochi_test_messages_free(msgs, count);
    assert_int_equal(WEXITSTATUS(mochi_test_proc_stop(&f->collector, SIGTERM, 15000)), 0);
}

static void full_queue_answers_503_and_drops_nothing_accepted(void **state)
{
    struct fixture *f = *state;
    start_collector(f, (const char *const[]){"-X", "queue.buffering.max.messages=5", NULL});
    mochi_test_kafka_command(&f->kafka, "down all");
    bool accepted[30] = {false};
    int n_accepted = 0, n_503 = 0;
    for (int i = 0; i < 30; i++) {
        char body[256], url[128];
        snprintf(body, sizeof(body), "{\"k\":\"" KEY "\",\"u\":\"https://example.com/q/%d\"}", i);
        snprintf(url, sizeof(url), "%s/api/event", f->base);
        const char *headers[] = {"User-Agent: Mozilla/5.0 (X11) Firefox/120.0", NULL};
        struct mochi_test_response r;
        mochi_test_http("POST", url, headers, body, &r);
        if (r.status == 202) {
            accepted[i] = true;
            n_accepted++;
        } else {
            assert_int_equal(r.status, 503);
            assert_non_null(strstr(r.headers, "Retry-After:"));
            n_503++;
        }
        mochi_test_response_free(&r);
    }
    assert_true(n_accepted >= 1 && n_accepted <= 5);
    assert_int_equal(n_accepted + n_503, 30);
    mochi_test_kafka_command(&f->kafka, "up all");
    size_t count = 0;
    struct mochi_test_message *msgs =
        mochi_test_kafka_read_all(f->kafka.bootstrap, f->topic, (size_t)n_accepted, 30000, &count);
    assert_int_equal(count, (size_t)n_accepted);
    for (size_t m = 0; m < count; m++) {
        struct mochi_pageview ev;
        assert_int_equal(mochi_codec_decode(f->codec, msgs[m].value, msgs[m].len, &ev), 0);
        assert_true(accepted[atoi(ev.path + strlen("/q/"))]);
    }
    mochi_test_messages_free(msgs, count);
    char url[128];
    snprintf(url, sizeof(url), "%s/metrics", f->metrics_base);
    struct mochi_test_response r;
    mochi_test_http("GET", url, NULL, NULL, &r);
    char line[128];
    snprintf(line, sizeof(line), "mochi_collector_events_total{outcome=\"queue_full\"} %d\n",
             n_503);
    assert_non_null(strstr(r.body, line));
    mochi_test_response_free(&r);
    assert_int_equal(WEXITSTATUS(mochi_test_proc_stop(&f->collector, SIGTERM, 15000)), 0);
}

struct loader {
    struct fixture *f;
    int id;
    int sent;
    bool accepted[4000];
};

static void *load(void *arg)
{
    struct loader *l = arg;
    char url[128];
    snprintf(url, sizeof(url), "%s/api/event", l->f->base);
    const char *headers[] = {"User-Agent: Mozilla/5.0 (X11) Firefox/120.0", NULL};
    for (l->sent = 0; l->sent < 4000; l->sent++) {
        char body[256];
        snprintf(body, sizeof(body), "{\"k\":\"" KEY "\",\"u\":\"https://example.com/t%d/%d\"}",
                 l->id, l->sent);
        struct mochi_test_response r;
        bool answered = mochi_test_http_try("POST", url, headers, body, &r);
        l->accepted[l->sent] = answered && r.status == 202;
        mochi_test_response_free(&r);
        if (!answered)
            break; /* the collector stopped listening */
    }
    return NULL;
}

static void sigterm_under_load_keeps_every_accepted_beacon(void **state)
{
    struct fixture *f = *state;
    start_collector(f, NULL);
    enum { THREADS = 4 };
    struct loader *loaders = calloc(THREADS, sizeof(*loaders));
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++) {
        loaders[i].f = f;
        loaders[i].id = i;
        pthread_create(&threads[i], NULL, load, &loaders[i]);
    }
    usleep(700000);
    int status = mochi_test_proc_stop(&f->collector, SIGTERM, 20000);
    for (int i = 0; i < THREADS; i++)
        pthread_join(threads[i], NULL);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    size_t n_accepted = 0;
    for (int i = 0; i < THREADS; i++)
        for (int j = 0; j < loaders[i].sent && j < 4000; j++)
            n_accepted += loaders[i].accepted[j];
    assert_true(n_accepted > 0);
    size_t count = 0;
    struct mochi_test_message *msgs =
        mochi_test_kafka_read_all(f->kafka.bootstrap, f->topic, n_accepted, 30000, &count);
    /* Every 202 is in the topic (a request cut by the shutdown after its
     * event was queued may add one more, never fewer). */
    assert_true(count >= n_accepted);
    size_t found = 0;
    for (size_t m = 0; m < count; m++) {
        struct mochi_pageview ev;
        assert_int_equal(mochi_codec_decode(f->codec, msgs[m].value, msgs[m].len, &ev), 0);
        int t, j;
        assert_int_equal(sscanf(ev.path, "/t%d/%d", &t, &j), 2);
        found += loaders[t].accepted[j];
    }
    assert_int_equal(found, n_accepted);
    print_message("accepted %zu beacons before SIGTERM; topic holds %zu\n", n_accepted, count);
    mochi_test_messages_free(msgs, count);
    free(loaders);
}

static void new_sites_appear_and_a_lost_database_is_survived(void **state)
{
    struct fixture *f = *state;
    start_collector(f, NULL);
    const char *ua = "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0";
    const char *body2 = "{\"k\":\"secondSiteKey_000001\",\"u\":\"https://second.example/\"}";
    assert_int_equal(post(f, ua, NULL, body2), 404);
    PGconn *conn = mochi_test_db_connect(&f->db);
    mochi_test_db_exec(conn, "INSERT INTO sites (name, domain, tracking_key) VALUES "
                             "('Second', 'second.example', 'secondSiteKey_000001')");
    PQfinish(conn);
    int64_t deadline = mochi_test_now_ms() + 20000;
    long status = 0;
    while (mochi_test_now_ms() < deadline && (status = post(f, ua, NULL, body2)) != 202)
        usleep(100000);
    assert_int_equal(status, 202);

    /* The database goes away: rename it under the collector. */
    PGconn *admin = PQconnectdb(f->db.conninfo);
    char *p = strstr(f->db.conninfo, "dbname=");
    char admin_info[600];
    snprintf(admin_info, sizeof(admin_info), "%.*sdbname=postgres", (int)(p - f->db.conninfo),
             f->db.conninfo);
    PQfinish(admin);
    admin = PQconnectdb(admin_info);
    assert_int_equal(PQstatus(admin), CONNECTION_OK);
    char sql[512];
    bool renamed = false;
    for (int attempt = 0; attempt < 50 && !renamed; attempt++) {
        snprintf(sql, sizeof(sql),
                 "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s'",
                 f->db.name);
        mochi_test_db_exec(admin, sql);
        snprintf(sql, sizeof(sql), "ALTER DATABASE %s RENAME TO %s_gone", f->db.name, f->db.name);
        PGresult *res = PQexec(admin, sql);
        renamed = PQresultStatus(res) == PGRES_COMMAND_OK;
        PQclear(res);
    }
    assert_true(renamed);
    sleep(2); /* a few refresh intervals */
    for (int i = 0; i < 5; i++)
        assert_int_equal(
            post(f, ua, NULL, "{\"k\":\"" KEY "\",\"u\":\"https://example.com/cached\"}"), 202);
    char url[128];
    snprintf(url, sizeof(url), "%s/metrics", f->metrics_base);
    struct mochi_test_response r;
    mochi_test_http("GET", url, NULL, NULL, &r);
    assert_non_null(strstr(r.body, "mochi_collector_database_up 0\n"));
    mochi_test_response_free(&r);
    char *log = mochi_test_read_file(f->collector.log);
    assert_non_null(strstr(log, "database unreachable, serving from cache"));
    free(log);
    size_t count = 0;
    struct mochi_test_message *msgs =
        mochi_test_kafka_read_all(f->kafka.bootstrap, f->topic, 6, 15000, &count);
    assert_int_equal(count, 6);
    mochi_test_messages_free(msgs, count);

    snprintf(sql, sizeof(sql), "ALTER DATABASE %s_gone RENAME TO %s", f->db.name, f->db.name);
    mochi_test_db_exec(admin, sql);
    PQfinish(admin);
    deadline = mochi_test_now_ms() + 10000;
    bool back = false;
    while (!back && mochi_test_now_ms() < deadline) {
        mochi_test_http("GET", url, NULL, NULL, &r);
        back = strstr(r.body, "mochi_collector_database_up 1\n") != NULL;
        mochi_test_response_free(&r);
        usleep(100000);
    }
    assert_true(back);
    assert_int_equal(WEXITSTATUS(mochi_test_proc_stop(&f->collector, SIGTERM, 15000)), 0);
}

static void bad_settings_exit_2_with_one_line(void **state)
{
    (void)state;
    struct {
        const char *args[4];
        const char *expect;
    } cases[] = {
        {{"--listen", "nonsense", NULL}, "--listen: expected HOST:PORT"},
        {{"--trusted-proxies", "10.0.0.0/99", NULL}, "--trusted-proxies"},
        {{"--refresh-interval", "forever", NULL}, "--refresh-interval"},
        {{"-X", "not.a.property=1", NULL}, "not.a.property"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *argv[8] = {(char *)mochi_test_bin("mochi-collector")};
        int argc = 1;
        for (int k = 0; cases[i].args[k]; k++)
            argv[argc++] = (char *)cases[i].args[k];
        argv[argc] = NULL;
        char *const env[] = {"MOCHI_DATABASE_URL=postgresql://u:secretpw@127.0.0.1:1/x", NULL};
        char *out, *err;
        int status = mochi_test_run(argv, env, 10000, &out, &err);
        assert_true(WIFEXITED(status));
        if (WEXITSTATUS(status) != 2)
            fail_msg("%s: exit %d, stderr %s", cases[i].args[0], WEXITSTATUS(status), err);
        assert_non_null(strstr(err, cases[i].expect));
        assert_null(strstr(err, "secretpw"));
        free(out);
        free(err);
    }
    char *argv[] = {(char *)mochi_test_bin("mochi-collector"), NULL};
    char *const env[] = {"MOCHI_DATABASE_URL=", NULL};
    char *out, *err;
    int status = mochi_test_run(argv, env, 10000, &out, &err);
    assert_int_equal(WEXITSTATUS(status), 2);
    assert_string_equal(err,
                        "mochi-collector: --database-url (or MOCHI_DATABASE_URL) is required\n");
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(routes_publish_exactly_the_valid_beacons, setup, teardown),
        cmocka_unit_test_setup_teardown(forwarded_for_padding_cannot_choose_the_address, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(chunked_body_over_the_limit_is_refused_early, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(slow_clients_cannot_lock_others_out, setup, teardown),
        cmocka_unit_test_setup_teardown(ambiguous_framing_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(raw_ip_and_user_agent_never_leave_the_process, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(kafka_down_then_up_delivers_each_accepted_beacon_once,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(full_queue_answers_503_and_drops_nothing_accepted, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(sigterm_under_load_keeps_every_accepted_beacon, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(new_sites_appear_and_a_lost_database_is_survived, setup,
                                        teardown),
        cmocka_unit_test(bad_settings_exit_2_with_one_line),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    mochi_test_cleanup();
    return failed;
}
