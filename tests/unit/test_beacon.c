/* The collector's pure beacon helpers: the bot check and the client
 * address. */
#include <arpa/inet.h>
#include <ctype.h>
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

/* The patterns beacon.c knows, to build test cases from. */
static const char *const patterns[] = {
    "bot",
    "crawl",
    "spider",
    "slurp",
    "headless",
    "phantomjs",
    "puppeteer",
    "playwright",
    "selenium",
    "lighthouse",
    "pingdom",
    "uptime",
    "monitor",
    "curl/",
    "wget/",
    "python-",
    "go-http-client",
    "java/",
    "okhttp",
    "libwww-perl",
    "httpclient",
    "axios/",
    "node-fetch",
    "undici",
    "scrapy",
    "facebookexternalhit",
    "preview",
    "feedfetcher",
    "mediapartners",
};

/* The check as it was before the one-pass version: lower-case copy of at
 * most 511 bytes, then strstr for each pattern. */
static bool reference_is_bot(const char *ua)
{
    if (ua == NULL || ua[0] == '\0')
        return true;
    char lower[512];
    size_t n = 0;
    for (; ua[n] && n + 1 < sizeof(lower); n++)
        lower[n] = (char)tolower((unsigned char)ua[n]);
    lower[n] = '\0';
    for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++)
        if (strstr(lower, patterns[i]) != NULL)
            return true;
    return false;
}

static const char *const browsers[] = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.6 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "x",
    "Bo", /* a pattern's prefix at the end is not a match */
    "Mozilla/5.0 spid",
};

static void browsers_are_people(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(browsers) / sizeof(browsers[0]); i++) {
        assert_false(beacon_is_bot(browsers[i]));
        assert_false(reference_is_bot(browsers[i]));
    }
}

static void empty_is_a_bot(void **state)
{
    (void)state;
    assert_true(beacon_is_bot(NULL));
    assert_true(beacon_is_bot(""));
}

/* Every pattern, in any case, at the start, in the middle and at the end. */
static void every_pattern_matches_anywhere_in_any_case(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
        char upper[64], mixed[64], ua[256];
        size_t n = strlen(patterns[i]);
        for (size_t j = 0; j <= n; j++) {
            upper[j] = (char)toupper((unsigned char)patterns[i][j]);
            mixed[j] = j % 2 ? upper[j] : patterns[i][j];
        }
        const char *forms[] = {patterns[i], upper, mixed};
        for (size_t f = 0; f < 3; f++) {
            snprintf(ua, sizeof(ua), "%s", forms[f]);
            assert_true(beacon_is_bot(ua));
            snprintf(ua, sizeof(ua), "Mozilla/5.0 (compatible; %s/2.1)", forms[f]);
            assert_true(beacon_is_bot(ua));
            snprintf(ua, sizeof(ua), "Mozilla/5.0 %s", forms[f]);
            assert_true(beacon_is_bot(ua));
            /* Cut by one byte: agrees with the reference. */
            snprintf(ua, sizeof(ua), "Mozilla/5.0 %.*s", (int)n - 1, forms[f]);
            assert_int_equal(beacon_is_bot(ua), reference_is_bot(ua));
        }
    }
}

/* Overlapping starts ("bbot", "crcrawl") and non-ASCII bytes agree with the
 * reference. */
static void agrees_with_the_reference(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "bbot",
        "crcrawl",
        "pupppeteer",
        "Go-http-client/1.1",
        "GO-HTTP-CLIEN",
        "ja va/",
        "\xc3\xa9\xc3\xa9 bot",
        "\xff\xfe",
        "python-requests/2.31",
        "preview-bot",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "facebookexternalhit/1.1",
        "Mediapartners-Google",
        "HeadlessChrome/120",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(beacon_is_bot(cases[i]), reference_is_bot(cases[i]));
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
        cmocka_unit_test(browsers_are_people),
        cmocka_unit_test(empty_is_a_bot),
        cmocka_unit_test(every_pattern_matches_anywhere_in_any_case),
        cmocka_unit_test(agrees_with_the_reference),
        cmocka_unit_test(client_ip_of_the_peer),
        cmocka_unit_test(client_ip_through_trusted_proxies),
        cmocka_unit_test(referrer_host_must_be_clean_text),
        cmocka_unit_test(forwarded_tail_keeps_the_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
