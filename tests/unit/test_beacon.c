/* The collector's pure beacon helpers: the bot check and the client
 * address. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "collector/beacon.h"
#include "common/error.h"

/* The bot check by behaviour: real User-Agents, each with the answer
 * written by hand. A change to beacon.c's list that stops catching one of
 * these crawlers, or starts catching one of these browsers, fails here;
 * the list itself is not repeated. */
struct agent {
    const char *ua;
    bool bot;
};

static const struct agent crawlers_and_tools[] = {
    {"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", true},
    {"Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like "
     "Gecko) Chrome/131.0.6778.69 Mobile Safari/537.36 (compatible; Googlebot/2.1; "
     "+http://www.google.com/bot.html)",
     true},
    {"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", true},
    {"Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)", true},
    {"Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)", true},
    {"DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)", true},
    {"Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)", true},
    {"Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", true},
    {"CCBot/2.0 (https://commoncrawl.org/faq/)", true},
    {"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", true},
    {"Twitterbot/1.0", true},
    {"Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", true},
    {"Mediapartners-Google", true},
    {"FeedFetcher-Google; (+http://www.google.com/feedfetcher.html)", true},
    {"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "HeadlessChrome/131.0.0.0 Safari/537.36",
     true},
    {"Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse",
     true},
    {"Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)", true},
    {"Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)", true},
    {"curl/8.5.0", true},
    {"Wget/1.21.4", true},
    {"python-requests/2.31.0", true},
    {"Python-urllib/3.12", true},
    {"Go-http-client/2.0", true},
    {"Java/17.0.9", true},
    {"okhttp/4.12.0", true},
    {"libwww-perl/6.72", true},
    {"Apache-HttpClient/4.5.14 (Java/17.0.9)", true},
    {"axios/1.6.2", true},
    {"node-fetch/1.0 (+https://github.com/bitinn/node-fetch)", true},
    {"undici", true},
    {"Scrapy/2.11.0 (+https://scrapy.org)", true},
};

static const struct agent browsers[] = {
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36",
     false},
    {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.6 Safari/605.1.15",
     false},
    {"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", false},
    {"Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0", false},
    {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
     false},
    {"Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/18.1 Mobile/15E148 Safari/604.1",
     false},
    {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
     false},
    {"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Mobile Safari/537.36",
     false},
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
     false},
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0",
     false},
    {"Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
     "SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
     false},
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/128.0.0.0 YaBrowser/24.10.0.0 Safari/537.36",
     false},
    {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/489.0.0.0;]",
     false},
};

static void check_agents(const struct agent *agents, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (beacon_is_bot(agents[i].ua) != agents[i].bot)
            fail_msg("beacon_is_bot(\"%s\") should be %s", agents[i].ua,
                     agents[i].bot ? "true" : "false");
    }
}

static void crawlers_and_tools_are_bots(void **state)
{
    (void)state;
    check_agents(crawlers_and_tools, sizeof(crawlers_and_tools) / sizeof(crawlers_and_tools[0]));
}

static void browsers_are_people(void **state)
{
    (void)state;
    check_agents(browsers, sizeof(browsers) / sizeof(browsers[0]));
}

static void empty_is_a_bot(void **state)
{
    (void)state;
    assert_true(beacon_is_bot(NULL));
    assert_true(beacon_is_bot(""));
}

/* How the one-pass matcher finds a pattern: in any case, at any position,
 * after a false start ("bbot"), never by a prefix cut at the end, and in a
 * User-Agent of any length. */
static void matching_is_by_substring_in_any_case(void **state)
{
    (void)state;
    static const struct agent cases[] = {
        {"GOOGLEBOT/2.1", true}, {"gOoGlEbOt", true},         {"bot", true},
        {"bbot", true},          {"crcrawl", true},           {"\xc3\xa9\xc3\xa9 bot", true},
        {"Bo", false},           {"Mozilla/5.0 spid", false}, {"GO-HTTP-CLIEN", false},
        {"pupppeteer", false},   {"ja va/", false},           {"x", false},
        {"\xff\xfe", false},
    };
    check_agents(cases, sizeof(cases) / sizeof(cases[0]));

    char ua[2048];
    memset(ua, 'x', sizeof(ua) - 1);
    ua[sizeof(ua) - 1] = '\0';
    assert_false(beacon_is_bot(ua));
    memcpy(ua + sizeof(ua) - 4, "Bot", 3);
    assert_true(beacon_is_bot(ua));
}

static void client_ip_formats_like_inet_ntop(const char *peer_text)
{
    struct sockaddr_in peer = {.sin_family = AF_INET};
    assert_int_equal(inet_pton(AF_INET, peer_text, &peer.sin_addr), 1);
    struct mochi_cidr_list none = {0};
    char got[64], want[INET_ADDRSTRLEN];
    assert_int_equal(beacon_client_ip((struct sockaddr *)&peer, NULL, &none, got, sizeof(got)), 0);
    assert_non_null(inet_ntop(AF_INET, &peer.sin_addr, want, sizeof(want)));
    assert_string_equal(got, want);
}

static void client_ip_of_the_peer(void **state)
{
    (void)state;
    static const char *const v4[] = {"0.0.0.0",   "255.255.255.255", "1.2.3.4",
                                     "10.0.0.1",  "100.10.1.0",      "9.99.199.200",
                                     "127.0.0.1", "192.168.100.254"};
    for (size_t i = 0; i < sizeof(v4) / sizeof(v4[0]); i++)
        client_ip_formats_like_inet_ntop(v4[i]);
    /* Every value of each octet position. */
    for (unsigned int b = 0; b < 256; b++) {
        char text[32];
        snprintf(text, sizeof(text), "%u.%u.%u.%u", b, (b * 7) % 256, 255 - b, (b * 31) % 256);
        client_ip_formats_like_inet_ntop(text);
    }
    /* Too small a buffer is an error, not a cut address. */
    struct sockaddr_in peer = {.sin_family = AF_INET};
    inet_pton(AF_INET, "192.168.100.254", &peer.sin_addr);
    struct mochi_cidr_list none = {0};
    char small[15];
    assert_int_equal(beacon_client_ip((struct sockaddr *)&peer, NULL, &none, small, sizeof(small)),
                     MOCHI_ERR_INVALID);
    char exact[16];
    assert_int_equal(beacon_client_ip((struct sockaddr *)&peer, NULL, &none, exact, sizeof(exact)),
                     0);
    assert_string_equal(exact, "192.168.100.254");
}

static void client_ip_through_trusted_proxies(void **state)
{
    (void)state;
    struct mochi_cidr_list trusted;
    char err[128], ip[64];
    assert_int_equal(mochi_cidr_list_parse("127.0.0.1/32, 10.0.0.0/8", &trusted, err, sizeof(err)),
                     0);
    struct sockaddr_in peer = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &peer.sin_addr);
    const struct sockaddr *sa = (const struct sockaddr *)&peer;
    assert_int_equal(beacon_client_ip(sa, "203.0.113.7, 10.1.2.3", &trusted, ip, sizeof(ip)), 0);
    assert_string_equal(ip, "203.0.113.7");
    assert_int_equal(beacon_client_ip(sa, "2001:db8::1", &trusted, ip, sizeof(ip)), 0);
    assert_string_equal(ip, "2001:db8::1");
    assert_int_equal(beacon_client_ip(sa, "::ffff:198.51.100.2", &trusted, ip, sizeof(ip)), 0);
    assert_string_equal(ip, "198.51.100.2");
    assert_int_equal(beacon_client_ip(sa, "junk, 10.0.0.9", &trusted, ip, sizeof(ip)), 0);
    assert_string_equal(ip, "10.0.0.9");
    assert_int_equal(beacon_client_ip(sa, NULL, &trusted, ip, sizeof(ip)), 0);
    assert_string_equal(ip, "127.0.0.1");
    mochi_cidr_list_free(&trusted);
}

/* Found by tests/fuzz/fuzz_beacon: libcurl percent-decodes a referrer's
 * host without checking the bytes, so "%ef" put invalid UTF-8 into an
 * accepted event, which the encoder then refused ("event out of range"). */
static void referrer_host_must_be_clean_text(void **state)
{
    (void)state;
    struct beacon_urls *urls = NULL;
    assert_int_equal(beacon_urls_new(&urls), 0);
    struct beacon_fields fields = {.key = "Xk3y_abcdefgh-1234", .url = "https://example.com/a"};
    struct mochi_pageview ev;
    char why[160];
    static const char *const bad[] = {"https://news%ef.example.org/", "https://a%c2%85b.org/",
                                      "https://%c0%af.org/"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(fields.referrer, sizeof(fields.referrer), "%s", bad[i]);
        assert_int_equal(beacon_normalize(urls, &fields, "example.com", &ev, why, sizeof(why)),
                         BEACON_INVALID);
        assert_string_equal(why, "referrer host has invalid UTF-8 or control characters");
    }
    /* Clean UTF-8 stays as it was, and so does the event's validity. */
    snprintf(fields.referrer, sizeof(fields.referrer), "https://caf%%c3%%a9.example.org/x");
    assert_int_equal(beacon_normalize(urls, &fields, "example.com", &ev, why, sizeof(why)),
                     BEACON_OK);
    assert_true(ev.has_referrer);
    assert_string_equal(ev.referrer, "https://caf\xc3\xa9.example.org");
    beacon_urls_destroy(urls);
}

/* X-Forwarded-For values are joined keeping the right-most whole entries:
 * a client's padding at the start cannot push out what a proxy appended. */
static void forwarded_tail_keeps_the_end(void **state)
{
    (void)state;
    char out[64];
    const char *one[] = {"198.51.100.7, 10.0.0.1"};
    size_t one_size[] = {strlen(one[0])};
    assert_string_equal(beacon_forwarded_tail(one, one_size, 1, out, sizeof(out)),
                        "198.51.100.7, 10.0.0.1");
    const char *two[] = {"198.51.100.7", "10.0.0.1"};
    size_t two_size[] = {strlen(two[0]), strlen(two[1])};
    assert_string_equal(beacon_forwarded_tail(two, two_size, 2, out, sizeof(out)),
                        "198.51.100.7,10.0.0.1");
    /* An empty value still counts as an entry, as in the plain join (found
     * by fuzz_forwarded): an empty last entry ends the walk at the peer. */
    const char *empty_last[] = {"198.51.100.7", ""};
    size_t empty_size[] = {12, 0};
    assert_string_equal(beacon_forwarded_tail(empty_last, empty_size, 2, out, sizeof(out)),
                        "198.51.100.7,");
    /* 40 bytes of padding and a chosen address, then the proxy's entry:
     * only whole entries from the right that fit in 32 bytes remain. */
    char padded[64];
    memset(padded, 'a', 40);
    strcpy(padded + 40, ",6.6.6.6");
    const char *spoof[] = {padded, "203.0.113.9"};
    size_t spoof_size[] = {strlen(padded), strlen(spoof[1])};
    char small[32];
    assert_string_equal(beacon_forwarded_tail(spoof, spoof_size, 2, small, sizeof(small)),
                        "6.6.6.6,203.0.113.9");
    /* An entry longer than the room ends the join. */
    const char *long_entry[] = {padded};
    size_t long_size[] = {40};
    assert_null(beacon_forwarded_tail(long_entry, long_size, 1, small, sizeof(small)));
    assert_null(beacon_forwarded_tail(NULL, NULL, 0, small, sizeof(small)));
}

/* The canonical path, each expectation written by hand (docs/paths.md). */
struct path_case {
    const char *url;
    const char *path;
};

static const struct path_case path_cases[] = {
    /* é as raw UTF-8, and escaped in either case: one page */
    {"https://example.com/caf\xc3\xa9", "/caf\xc3\xa9"},
    {"https://example.com/caf%C3%A9", "/caf\xc3\xa9"},
    {"https://example.com/caf%c3%a9", "/caf\xc3\xa9"},
    {"https://example.com/caf%c3%A9/", "/caf\xc3\xa9/"},
    {"https://example.com/%E2%82%AC?x=1", "/\xe2\x82\xac"},
    {"https://example.com/%F0%9F%98%80#top", "/\xf0\x9f\x98\x80"},
    /* unreserved and other printable ASCII decoded */
    {"https://example.com/%41%62c", "/Abc"},
    {"https://example.com/%7e%2D%5f", "/~-_"},
    {"https://example.com/a%28b%29%3Bc", "/a(b);c"},
    {"https://example.com/a+b", "/a+b"},
    /* the path's delimiters, '%', space and controls stay escaped */
    {"https://example.com/a%2Fb", "/a%2Fb"},
    {"https://example.com/a%2fb", "/a%2Fb"},
    {"https://example.com/100%25", "/100%25"},
    {"https://example.com/a%3fb%23c", "/a%3Fb%23c"},
    {"https://example.com/a%20b", "/a%20b"},
    {"https://example.com/%00%0a%7f", "/%00%0A%7F"},
    {"https://example.com/%C2%85", "/%C2%85"},
    /* a '%' that starts no escape is one */
    {"https://example.com/100%", "/100%25"},
    {"https://example.com/%zz%4", "/%25zz%254"},
    /* escapes that are not UTF-8 stay, with uppercase hex */
    {"https://example.com/%C3%28", "/%C3("},
    {"https://example.com/%ff", "/%FF"},
    {"https://example.com/%C0%AF", "/%C0%AF"},
    {"https://example.com/%ed%a0%80", "/%ED%A0%80"},
    {"https://example.com/%E2%82", "/%E2%82"},
    {"https://example.com/%E2%82x", "/%E2%82x"},
    {"https://example.com/%F4%90%80%80", "/%F4%90%80%80"},
    {"https://example.com/%A9", "/%A9"},
    /* dot segments, literal or escaped, are resolved */
    {"https://example.com/a/../b", "/b"},
    {"https://example.com/a/%2E%2E/b", "/b"},
    {"https://example.com/a/.%2e/b", "/b"},
    {"https://example.com/a/%2e/b", "/a/b"},
    {"https://example.com/a/%2E%2E", "/"},
    {"https://example.com/a%2E/..b", "/a./..b"},
    /* no path, query or fragment */
    {"https://example.com", "/"},
    {"https://example.com?x=1", "/"},
    {"https://example.com/p?q=%C3%A9#f%20g", "/p"},
};

static void paths_have_one_canonical_form(void **state)
{
    (void)state;
    struct beacon_urls *urls = NULL;
    assert_int_equal(beacon_urls_new(&urls), 0);
    struct beacon_fields fields = {.key = "Xk3y_abcdefgh-1234"};
    struct mochi_pageview ev;
    char why[160];
    for (size_t i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
        snprintf(fields.url, sizeof(fields.url), "%s", path_cases[i].url);
        assert_int_equal(beacon_normalize(urls, &fields, "example.com", &ev, why, sizeof(why)),
                         BEACON_OK);
        if (strcmp(ev.path, path_cases[i].path) != 0)
            fail_msg("%s: got %s, want %s", path_cases[i].url, ev.path, path_cases[i].path);
        /* Idempotent: the canonical form of a canonical path is itself. */
        char again[MOCHI_PATH_MAX + 1];
        assert_int_equal(beacon_canonical_path(ev.path, strlen(ev.path), again, sizeof(again)),
                         strlen(path_cases[i].path));
        assert_string_equal(again, path_cases[i].path);
    }
    beacon_urls_destroy(urls);
}

/* Bytes beacon_check_text would refuse still come out as clean UTF-8. */
static void canonical_path_escapes_raw_garbage(void **state)
{
    (void)state;
    char out[32];
    assert_int_equal(beacon_canonical_path("/\xff\x01"
                                           "a\xc3",
                                           5, out, sizeof(out)),
                     11);
    assert_string_equal(out, "/%FF%01a%C3");
    assert_int_equal(beacon_canonical_path("/\xc2\x85\x7f", 4, out, sizeof(out)), 10);
    assert_string_equal(out, "/%C2%85%7F");
}

/* The cut keeps whole escapes and whole characters. */
static void canonical_path_cut_is_whole(void **state)
{
    (void)state;
    char out[8];
    /* "/ab%2Fc": the escape does not fit in 4 bytes, and fits in 6 */
    assert_int_equal(beacon_canonical_path("/ab%2fc", 7, out, 5), 3);
    assert_string_equal(out, "/ab");
    assert_int_equal(beacon_canonical_path("/ab%2fc", 7, out, 6), 3);
    assert_int_equal(beacon_canonical_path("/ab%2fc", 7, out, 7), 6);
    assert_string_equal(out, "/ab%2F");
    /* é from "%C3%A9" is two bytes out: all or nothing */
    assert_int_equal(beacon_canonical_path("/a%C3%A9", 8, out, 3), 2);
    assert_string_equal(out, "/a");
    assert_int_equal(beacon_canonical_path("/a%C3%A9", 8, out, 5), 4);
    assert_string_equal(out, "/a\xc3\xa9");
    /* a stray '%' becomes three bytes, also whole */
    assert_int_equal(beacon_canonical_path("/a%", 3, out, 4), 2);
    assert_string_equal(out, "/a");

    /* Through the collector, at MOCHI_PATH_MAX (1024) bytes. */
    struct beacon_urls *urls = NULL;
    assert_int_equal(beacon_urls_new(&urls), 0);
    struct beacon_fields fields = {.key = "Xk3y_abcdefgh-1234"};
    struct mochi_pageview ev;
    char why[160];
    char a[1100];
    memset(a, 'a', sizeof(a));
    /* "/" + 1022 a's + é: 1025 bytes, é is left out */
    snprintf(fields.url, sizeof(fields.url), "https://example.com/%.1022s%%C3%%A9", a);
    assert_int_equal(beacon_normalize(urls, &fields, "example.com", &ev, why, sizeof(why)),
                     BEACON_OK);
    assert_int_equal(strlen(ev.path), 1023);
    assert_int_equal(ev.path[1022], 'a');
    /* "/" + 1021 a's + é: 1024 bytes, kept whole */
    snprintf(fields.url, sizeof(fields.url), "https://example.com/%.1021s%%c3%%a9", a);
    assert_int_equal(beacon_normalize(urls, &fields, "example.com", &ev, why, sizeof(why)),
                     BEACON_OK);
    assert_int_equal(strlen(ev.path), 1024);
    assert_memory_equal(ev.path + 1022, "\xc3\xa9", 3);
    /* "/" + 1021 a's + %2F: 1025 bytes, the escape is left out whole */
    snprintf(fields.url, sizeof(fields.url), "https://example.com/%.1021s%%2f", a);
    assert_int_equal(beacon_normalize(urls, &fields, "example.com", &ev, why, sizeof(why)),
                     BEACON_OK);
    assert_int_equal(strlen(ev.path), 1022);
    assert_int_equal(ev.path[1021], 'a');
    /* "/" + 1020 a's + %2F: 1024 bytes, kept */
    snprintf(fields.url, sizeof(fields.url), "https://example.com/%.1020s%%2f", a);
    assert_int_equal(beacon_normalize(urls, &fields, "example.com", &ev, why, sizeof(why)),
                     BEACON_OK);
    assert_int_equal(strlen(ev.path), 1024);
    assert_string_equal(ev.path + 1021, "%2F");
    /* a dot segment past the cut still removes what precedes it */
    snprintf(fields.url, sizeof(fields.url), "https://example.com/x/%.1100s/%%2e%%2E/y", a);
    assert_int_equal(beacon_normalize(urls, &fields, "example.com", &ev, why, sizeof(why)),
                     BEACON_OK);
    assert_string_equal(ev.path, "/x/y");
    beacon_urls_destroy(urls);
}

/* Entries and sources, each expectation written by hand. */
struct origin_case {
    const char *url;
    const char *referrer;
    bool entry;
    const char *source; /* NULL: none */
};

static const struct origin_case origin_cases[] = {
    /* direct visits */
    {"https://example.com/", "", true, NULL},
    {"https://example.com/", "file:///home/me/page.html", true, NULL},
    /* the referrer's host, without a leading "www." label */
    {"https://example.com/", "https://www.google.com/search?q=x", true, "google.com"},
    {"https://example.com/", "https://WWW.Google.COM/", true, "google.com"},
    {"https://example.com/", "https://news.ycombinator.com/item?id=1", true,
     "news.ycombinator.com"},
    {"https://example.com/", "https://www2.example.org/", true, "www2.example.org"},
    {"https://example.com/", "https://wwwexample.org/", true, "wwwexample.org"},
    {"https://example.com/", "https://foo.www.example.org/", true, "foo.www.example.org"},
    {"https://example.com/", "https://www.example.org./", true, "example.org"},
    {"https://example.com/", "http://badexample.com/", true, "badexample.com"},
    {"https://example.com/", "https://example.com.evil.org/", true, "example.com.evil.org"},
    {"https://example.com/", "android-app://com.google.android.gm/", true, "com.google.android.gm"},
    {"https://example.com/", "https://caf%C3%A9.example.org/", true, "caf\xc3\xa9.example.org"},
    /* internal navigation: never an entry, never a source */
    {"https://example.com/b", "https://example.com/a", false, NULL},
    {"https://example.com/b", "https://blog.example.com/a", false, NULL},
    {"https://blog.example.com/b", "https://www.example.com/", false, NULL},
    {"https://example.com/b?utm_source=news", "https://EXAMPLE.com/a", false, NULL},
    /* utm_source wins over the referrer, lower-cased */
    {"https://example.com/?utm_source=Newsletter&utm_medium=email", "https://www.google.com/", true,
     "newsletter"},
    {"https://example.com/?a=1&utm_source=first&utm_source=second", "", true, "first"},
    {"https://example.com/p?utm_source=x#frag", "", true, "x"},
    {"https://example.com/?utm_source=caf%C3%A9+Cr%C3%A8me", "", true, "caf\xc3\xa9 cr\xc3\xa8me"},
    {"https://example.com/?utm_source=%C3%89T%C3%89", "", true, "\xc3\x89t\xc3\x89"},
    {"https://example.com/?utm%5Fsource=decoded", "", true, "decoded"},
    {"https://example.com/?utm_source=+%20Spaced+", "", true, "spaced"},
    {"https://example.com/?utm_source=a%zz%", "", true, "a%zz%"},
    {"https://example.com/?utm_source=a=b", "", true, "a=b"},
    /* query names are case-sensitive, as URLSearchParams reads them */
    {"https://example.com/?UTM_SOURCE=x", "https://www.bing.com/", true, "bing.com"},
    {"https://example.com/?Utm_Source=x", "", true, NULL},
    {"https://example.com/?utm_sourcex=x&xutm_source=y", "", true, NULL},
    /* empty counts as absent */
    {"https://example.com/?utm_source=", "https://duckduckgo.com/", true, "duckduckgo.com"},
    {"https://example.com/?utm_source", "", true, NULL},
    {"https://example.com/?utm_source=++%20", "https://t.co/x", true, "t.co"},
    {"https://example.com/?utm_source=&utm_source=later", "", true, NULL},
    /* hostile values count as absent */
    {"https://example.com/?utm_source=%01evil", "https://www.google.com/", true, "google.com"},
    {"https://example.com/?utm_source=a%0Ab", "", true, NULL},
    {"https://example.com/?utm_source=%C2%85", "", true, NULL},
    {"https://example.com/?utm_source=%FF", "", true, NULL},
    {"https://example.com/?utm_source=%C0%AF", "", true, NULL},
    {"https://example.com/?utm_source=%ED%A0%80", "", true, NULL},
};

static void origins_by_hand(void **state)
{
    (void)state;
    struct beacon_urls *urls = NULL;
    assert_int_equal(beacon_urls_new(&urls), 0);
    struct beacon_fields fields = {.key = "Xk3y_abcdefgh-1234"};
    struct mochi_pageview ev;
    struct beacon_origin origin;
    char why[160];
    for (size_t i = 0; i < sizeof(origin_cases) / sizeof(origin_cases[0]); i++) {
        const struct origin_case *c = &origin_cases[i];
        snprintf(fields.url, sizeof(fields.url), "%s", c->url);
        snprintf(fields.referrer, sizeof(fields.referrer), "%s", c->referrer);
        memset(&origin, 0x55, sizeof(origin));
        if (beacon_normalize_origin(urls, &fields, "example.com", &ev, &origin, why, sizeof(why)) !=
            BEACON_OK)
            fail_msg("%s from %s: %s", c->url, c->referrer, why);
        if (origin.entry != c->entry)
            fail_msg("%s from %s: entry %d, want %d", c->url, c->referrer, origin.entry, c->entry);
        if (origin.has_source != (c->source != NULL) ||
            strcmp(origin.source, c->source ? c->source : "") != 0)
            fail_msg("%s from %s: source %d \"%s\", want %s", c->url, c->referrer,
                     origin.has_source, origin.source, c->source ? c->source : "none");
        /* the query is never part of the path */
        assert_null(strchr(ev.path, '?'));
        assert_null(strstr(ev.path, "utm"));
    }
    beacon_urls_destroy(urls);
}

/* A long utm_source is cut at 64 bytes, never inside a character. */
static void utm_source_is_cut_whole(void **state)
{
    (void)state;
    struct beacon_urls *urls = NULL;
    assert_int_equal(beacon_urls_new(&urls), 0);
    struct beacon_fields fields = {.key = "Xk3y_abcdefgh-1234"};
    struct mochi_pageview ev;
    struct beacon_origin origin;
    char why[160];
    char big[1100];
    memset(big, 'A', sizeof(big));
    /* 1 KB of 'A' */
    snprintf(fields.url, sizeof(fields.url), "https://example.com/?utm_source=%.1024s&b=1", big);
    assert_int_equal(
        beacon_normalize_origin(urls, &fields, "example.com", &ev, &origin, why, sizeof(why)),
        BEACON_OK);
    assert_true(origin.has_source);
    assert_int_equal(strlen(origin.source), 64);
    for (size_t i = 0; i < 64; i++)
        assert_int_equal(origin.source[i], 'a');
    /* 63 bytes, then é across bytes 64 and 65: left out */
    snprintf(fields.url, sizeof(fields.url), "https://example.com/?utm_source=%.63s%%C3%%A9", big);
    assert_int_equal(
        beacon_normalize_origin(urls, &fields, "example.com", &ev, &origin, why, sizeof(why)),
        BEACON_OK);
    assert_int_equal(strlen(origin.source), 63);
    /* 62 bytes and é: 64, kept */
    snprintf(fields.url, sizeof(fields.url), "https://example.com/?utm_source=%.62s%%C3%%A9", big);
    assert_int_equal(
        beacon_normalize_origin(urls, &fields, "example.com", &ev, &origin, why, sizeof(why)),
        BEACON_OK);
    assert_int_equal(strlen(origin.source), 64);
    assert_string_equal(origin.source + 62, "\xc3\xa9");
    /* 63 bytes then a space at the cut: no trailing space */
    snprintf(fields.url, sizeof(fields.url), "https://example.com/?utm_source=%.63s+zz", big);
    assert_int_equal(
        beacon_normalize_origin(urls, &fields, "example.com", &ev, &origin, why, sizeof(why)),
        BEACON_OK);
    assert_int_equal(strlen(origin.source), 63);
    /* a 1 KB value with a control character at its end is refused whole */
    snprintf(fields.url, sizeof(fields.url), "https://example.com/?utm_source=%.1024s%%07", big);
    snprintf(fields.referrer, sizeof(fields.referrer), "https://www.example.net/");
    assert_int_equal(
        beacon_normalize_origin(urls, &fields, "example.com", &ev, &origin, why, sizeof(why)),
        BEACON_OK);
    assert_string_equal(origin.source, "example.net");
    /* a host longer than a DNS name is cut at BEACON_SOURCE_MAX */
    char host[300];
    memset(host, 'h', sizeof(host));
    snprintf(fields.url, sizeof(fields.url), "https://example.com/");
    snprintf(fields.referrer, sizeof(fields.referrer), "https://www.%.280s.org/", host);
    assert_int_equal(
        beacon_normalize_origin(urls, &fields, "example.com", &ev, &origin, why, sizeof(why)),
        BEACON_OK);
    assert_int_equal(strlen(origin.source), BEACON_SOURCE_MAX);
    assert_int_equal(origin.source[0], 'h');
    beacon_urls_destroy(urls);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crawlers_and_tools_are_bots),
        cmocka_unit_test(browsers_are_people),
        cmocka_unit_test(empty_is_a_bot),
        cmocka_unit_test(matching_is_by_substring_in_any_case),
        cmocka_unit_test(client_ip_of_the_peer),
        cmocka_unit_test(client_ip_through_trusted_proxies),
        cmocka_unit_test(referrer_host_must_be_clean_text),
        cmocka_unit_test(forwarded_tail_keeps_the_end),
        cmocka_unit_test(paths_have_one_canonical_form),
        cmocka_unit_test(canonical_path_escapes_raw_garbage),
        cmocka_unit_test(canonical_path_cut_is_whole),
        cmocka_unit_test(origins_by_hand),
        cmocka_unit_test(utm_source_is_cut_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
