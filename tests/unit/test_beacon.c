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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
