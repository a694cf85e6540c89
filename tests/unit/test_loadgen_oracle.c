/* loadgen's oracle: distinct (visitor, path, minute) per site and
 * site-local day, entries and sources, from hand-built sequences whose
 * expected aggregates are worked out in the comments. Instants are `date -u
 * -d ... +%s` of UTC times; local times follow from the zones' offsets. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/error.h"
#include "tools/loadgen/oracle.h"

/* 2026-11-26T10:00:00Z, on a minute boundary (date -u -d ... +%s). */
#define T0 1795687200LL
#define S(sec) ((int64_t)((sec)*1000000.0))

static struct mochi_loadgen_site sites[] = {{"k1k1k1k1k1k1k1k1", "example.com", NULL},
                                            {"k2k2k2k2k2k2k2k2", "shop.example.org", "UTC"}};

static void add(struct mochi_loadgen_oracle *oracle, size_t site, uint32_t visitor, const char *url,
                long status, double sent, double done, bool gif, bool dup)
{
    struct mochi_loadgen_result r = {.site = site,
                                     .visitor = visitor,
                                     .gif = gif,
                                     .duplicate = dup,
                                     .url = url,
                                     .status = status,
                                     .sent_us = S(T0 + sent),
                                     .done_us = S(T0 + done)};
    assert_int_equal(mochi_loadgen_oracle_add(oracle, &r), 0);
}

/* One accepted POST, answered 10 ms after it was sent at `at` seconds
 * since the epoch. */
static void view(struct mochi_loadgen_oracle *oracle, size_t site, uint32_t visitor,
                 const char *url, const char *referrer, double at)
{
    struct mochi_loadgen_result r = {.site = site,
                                     .visitor = visitor,
                                     .url = url,
                                     .referrer = referrer,
                                     .status = 202,
                                     .sent_us = S(at),
                                     .done_us = S(at + 0.01)};
    assert_int_equal(mochi_loadgen_oracle_add(oracle, &r), 0);
}

static json_t *day_of(json_t *doc, const char *key, const char *day)
{
    json_t *d = json_object_get(
        json_object_get(json_object_get(json_object_get(doc, "sites"), key), "days"), day);
    if (d == NULL)
        fail_msg("no day %s for %s", day, key);
    return d;
}

/* Checks a day's page views, unique visitors and entries. */
static void expect_day(json_t *doc, const char *key, const char *day, long long page_views,
                       long long visitors, long long entries)
{
    json_t *d = day_of(doc, key, day);
    assert_int_equal(json_integer_value(json_object_get(d, "page_views")), page_views);
    assert_int_equal(json_integer_value(json_object_get(d, "unique_visitors")), visitors);
    assert_int_equal(json_integer_value(json_object_get(d, "entries")), entries);
}

/* Checks a day's sources, given as "source=entries/visitors ..." in any
 * order, all of them; and that their visitors add up to the day's. */
static void expect_sources(json_t *doc, const char *key, const char *day, const char *want)
{
    json_t *sources = json_object_get(day_of(doc, key, day), "sources");
    char buf[512];
    size_t listed = 0;
    long long visitors = 0;
    snprintf(buf, sizeof(buf), "%s", want);
    for (char *save = NULL, *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(t, '='), *slash = strchr(t, '/');
        assert_non_null(eq);
        assert_non_null(slash);
        *eq = *slash = '\0';
        json_t *s = json_object_get(sources, t);
        if (s == NULL)
            fail_msg("%s %s: no source '%s'", key, day, t);
        assert_int_equal(json_integer_value(json_object_get(s, "entries")), atoll(eq + 1));
        assert_int_equal(json_integer_value(json_object_get(s, "visitors")), atoll(slash + 1));
        visitors += atoll(slash + 1);
        listed++;
    }
    assert_int_equal(json_object_size(sources), listed);
    assert_int_equal(visitors,
                     json_integer_value(json_object_get(day_of(doc, key, day), "unique_visitors")));
}

/* Checks a day's entry pages, given as "path=entries ...", all of them. */
static void expect_entry_paths(json_t *doc, const char *key, const char *day, const char *want)
{
    json_t *paths = json_object_get(day_of(doc, key, day), "entry_paths");
    char buf[512];
    size_t listed = 0;
    snprintf(buf, sizeof(buf), "%s", want);
    for (char *save = NULL, *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        char *eq = strrchr(t, '=');
        assert_non_null(eq);
        *eq = '\0';
        json_t *n = json_object_get(paths, t);
        if (n == NULL)
            fail_msg("%s %s: no entry path '%s'", key, day, t);
        assert_int_equal(json_integer_value(n), atoll(eq + 1));
        listed++;
    }
    assert_int_equal(json_object_size(paths), listed);
}

static long long day_value(json_t *doc, const char *key, const char *day, const char *field)
{
    json_t *d = json_object_get(
        json_object_get(json_object_get(json_object_get(doc, "sites"), key), "days"), day);
    assert_non_null(d);
    return json_integer_value(json_object_get(d, field));
}

static long long path_value(json_t *doc, const char *key, const char *day, const char *path)
{
    json_t *d = json_object_get(
        json_object_get(json_object_get(json_object_get(doc, "sites"), key), "days"), day);
    json_t *n = json_object_get(json_object_get(d, "paths"), path);
    assert_non_null(n);
    return json_integer_value(n);
}

static void url_paths(void **state)
{
    (void)state;
    char out[64];
    struct {
        const char *url, *path;
    } cases[] = {
        {"https://example.com", "/"},
        {"https://example.com/", "/"},
        {"https://example.com?utm_source=x", "/"},
        {"https://example.com#/route", "/"},
        {"http://www.example.com:8080/a/b?x=1#f", "/a/b"},
        {"https://example.com/caf%C3%A9/?q=caf%C3%A9", "/caf\xc3\xa9/"},
        {"https://example.com/caf%c3%a9/%E6%97%A5", "/caf\xc3\xa9/\xe6\x97\xa5"},
        {"https://example.com/pricing#top?not-a-query", "/pricing"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(mochi_loadgen_url_path(cases[i].url, out, sizeof(out)), 0);
        assert_string_equal(out, cases[i].path);
    }
    assert_int_equal(mochi_loadgen_url_path("example.com/x", out, sizeof(out)), MOCHI_ERR_INVALID);
    assert_int_equal(mochi_loadgen_url_path("https://e.com/0123456789", out, 8), MOCHI_ERR_INVALID);
    /* escapes the canonical form keeps are outside the model */
    static const char *const outside[] = {
        "https://e.com/a%2Fb", "https://e.com/a%20b",  "https://e.com/a%FF",
        "https://e.com/a%C3",  "https://e.com/a%zz",   "https://e.com/a%4",
        "https://e.com/a%25",  "https://e.com/%C2%85", "https://e.com/%-1"};
    for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++)
        assert_int_equal(mochi_loadgen_url_path(outside[i], out, sizeof(out)), MOCHI_ERR_INVALID);
}

static void accepted_statuses(void **state)
{
    (void)state;
    assert_true(mochi_loadgen_accepted(202, false));
    assert_true(mochi_loadgen_accepted(202, true));
    assert_true(mochi_loadgen_accepted(200, true));
    assert_false(mochi_loadgen_accepted(200, false));
    assert_false(mochi_loadgen_accepted(204, false));
    assert_false(mochi_loadgen_accepted(503, false));
}

/* The sequence, minute m0 = [T0, T0+60s), m1 = the next:
 *  1 v1 k1 /pricing                    m0  new          k1 day1: (v1,/pricing,m0)
 *  2 v1 k1 /pricing (double)           m0  same page view
 *  3 v1 k1 www., query and fragment    m0  same page view (path only)
 *  4 v1 k1 /pricing                    m1  new          (v1,/pricing,m1)
 *  5 v2 k1 https://example.com         m0  new          (v2,/,m0)
 *  6 v2 k1 /?q=1                       m0  same as 5
 *  7 v2 k1 #x                          m0  same as 5
 *  8 bot k1 /                          202 but not counted
 *  9 v3 k1 /blog                       404 rejected
 * 10 v3 k1 /blog                       503 rejected
 * 11 v3 k1 /blog                       no answer: error
 * 12 v3 k1 /blog  sent 59.9s, answered 60.1s: ambiguous, not counted
 * 13 v3 k2 /caf%C3%A9 (/café)         m0  new          k2 day1: (v3,/café,m0)
 * 14 v1 k1 /pricing at 2026-11-27T00:00:30Z  new   k1 day2: (v1,/pricing)
 * 15 v4 k2 GIF /, answered 200         m0  new          k2 day1: (v4,/,m0)
 * 16 v4 k2 POST /x, answered 200       not accepted (only the GIF answers 200)
 * So: sent 16, accepted 12 (1-8, 12-15), bots 1 (accepted 1), published 11,
 * doubles 1, errors 1, ambiguous 1, rejected {200: 1, 404: 1, 503: 1};
 * k1 2026-11-26: page_views 3, unique 2 (v1, v2), / 1, /pricing 2;
 * k1 2026-11-27: page_views 1, unique 1, /pricing 1;
 * k2 2026-11-26: page_views 2, unique 2 (v3, v4), /café 1, / 1. */
static void hand_built_sequence(void **state)
{
    (void)state;
    struct mochi_loadgen_oracle *oracle = NULL;
    json_t *doc = NULL;
    assert_int_equal(mochi_loadgen_oracle_new(sites, 2, &oracle), 0);
    add(oracle, 0, 1, "https://example.com/pricing", 202, 1, 1.01, false, false);
    add(oracle, 0, 1, "https://example.com/pricing", 202, 1, 1.02, false, true);
    add(oracle, 0, 1, "https://www.example.com/pricing?utm_source=x#top", 202, 2, 2.01, false,
        false);
    add(oracle, 0, 1, "https://example.com/pricing", 202, 61, 61.01, false, false);
    add(oracle, 0, 2, "https://example.com", 202, 3, 3.01, false, false);
    add(oracle, 0, 2, "https://example.com/?q=1", 202, 4, 4.01, false, false);
    add(oracle, 0, 2, "http://example.com#x", 202, 5, 5.01, false, false);
    add(oracle, 0, LOADGEN_BOT, "https://example.com/", 202, 6, 6.01, false, false);
    add(oracle, 0, 3, "https://example.com/blog", 404, 7, 7.01, false, false);
    add(oracle, 0, 3, "https://example.com/blog", 503, 8, 8.01, false, false);
    add(oracle, 0, 3, "https://example.com/blog", 0, 9, 19, false, false);
    add(oracle, 0, 3, "https://example.com/blog", 202, 59.9, 60.1, false, false);
    add(oracle, 1, 3, "https://shop.example.org/caf%C3%A9", 202, 10, 10.01, false, false);
    add(oracle, 0, 1, "https://example.com/pricing", 202, 50430, 50430.01, false, false);
    add(oracle, 1, 4, "https://shop.example.org/", 200, 11, 11.01, true, false);
    add(oracle, 1, 4, "https://shop.example.org/x", 200, 12, 12.01, false, false);

    assert_int_equal(mochi_loadgen_oracle_json(oracle, &doc), 0);
    assert_int_equal(json_integer_value(json_object_get(doc, "sent")), 16);
    assert_int_equal(json_integer_value(json_object_get(doc, "accepted")), 12);
    assert_int_equal(json_integer_value(json_object_get(doc, "published")), 11);
    assert_int_equal(json_integer_value(json_object_get(doc, "bots")), 1);
    assert_int_equal(json_integer_value(json_object_get(doc, "bots_accepted")), 1);
    assert_int_equal(json_integer_value(json_object_get(doc, "doubles")), 1);
    assert_int_equal(json_integer_value(json_object_get(doc, "errors")), 1);
    assert_int_equal(json_integer_value(json_object_get(doc, "ambiguous")), 1);
    json_t *rejected = json_object_get(doc, "rejected");
    assert_int_equal(json_object_size(rejected), 3);
    assert_int_equal(json_integer_value(json_object_get(rejected, "200")), 1);
    assert_int_equal(json_integer_value(json_object_get(rejected, "404")), 1);
    assert_int_equal(json_integer_value(json_object_get(rejected, "503")), 1);

    const char *k1 = "k1k1k1k1k1k1k1k1", *k2 = "k2k2k2k2k2k2k2k2";
    json_t *k1days = json_object_get(json_object_get(json_object_get(doc, "sites"), k1), "days");
    assert_int_equal(json_object_size(k1days), 2);
    assert_int_equal(day_value(doc, k1, "2026-11-26", "page_views"), 3);
    assert_int_equal(day_value(doc, k1, "2026-11-26", "unique_visitors"), 2);
    assert_int_equal(
        json_object_size(json_object_get(json_object_get(k1days, "2026-11-26"), "paths")), 2);
    assert_int_equal(path_value(doc, k1, "2026-11-26", "/"), 1);
    assert_int_equal(path_value(doc, k1, "2026-11-26", "/pricing"), 2);
    assert_int_equal(day_value(doc, k1, "2026-11-27", "page_views"), 1);
    assert_int_equal(day_value(doc, k1, "2026-11-27", "unique_visitors"), 1);
    assert_int_equal(path_value(doc, k1, "2026-11-27", "/pricing"), 1);
    assert_int_equal(day_value(doc, k2, "2026-11-26", "page_views"), 2);
    assert_int_equal(day_value(doc, k2, "2026-11-26", "unique_visitors"), 2);
    assert_int_equal(path_value(doc, k2, "2026-11-26", "/caf\xc3\xa9"), 1);
    assert_int_equal(path_value(doc, k2, "2026-11-26", "/"), 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(doc, "sites"), k2), "domain")),
                        "shop.example.org");
    /* No referrer anywhere: every view is an entry from "Direct / none". */
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(doc, "sites"), k1), "timezone")),
                        "UTC");
    expect_day(doc, k1, "2026-11-26", 3, 2, 3);
    expect_sources(doc, k1, "2026-11-26", "=3/2");
    expect_entry_paths(doc, k1, "2026-11-26", "/=1 /pricing=2");
    assert_int_equal(json_integer_value(json_object_get(doc, "unordered")), 0);
    json_decref(doc);
    mochi_loadgen_oracle_destroy(oracle);
}

/* 3000 visitors each fire the same page twice in one minute, interleaved so
 * that the records are compacted several times on the way: 3000 page views
 * and 3000 visitors; a site with no beacon still appears, with no days. */
static void many_doubles_and_empty_site(void **state)
{
    (void)state;
    struct mochi_loadgen_oracle *oracle = NULL;
    json_t *doc = NULL;
    assert_int_equal(mochi_loadgen_oracle_new(sites, 2, &oracle), 0);
    for (int round = 0; round < 2; round++)
        for (uint32_t v = 0; v < 3000; v++)
            add(oracle, 0, v, "https://example.com/a", 202, 120 + v * 0.01, 120.5 + v * 0.01, false,
                round == 1);
    assert_int_equal(mochi_loadgen_oracle_json(oracle, &doc), 0);
    assert_int_equal(day_value(doc, "k1k1k1k1k1k1k1k1", "2026-11-26", "page_views"), 3000);
    assert_int_equal(day_value(doc, "k1k1k1k1k1k1k1k1", "2026-11-26", "unique_visitors"), 3000);
    assert_int_equal(path_value(doc, "k1k1k1k1k1k1k1k1", "2026-11-26", "/a"), 3000);
    json_t *k2 = json_object_get(json_object_get(doc, "sites"), "k2k2k2k2k2k2k2k2");
    assert_non_null(k2);
    assert_int_equal(json_object_size(json_object_get(k2, "days")), 0);
    assert_int_equal(json_integer_value(json_object_get(doc, "doubles")), 3000);
    json_decref(doc);
    /* The document can be built twice. */
    assert_int_equal(mochi_loadgen_oracle_json(oracle, &doc), 0);
    assert_int_equal(day_value(doc, "k1k1k1k1k1k1k1k1", "2026-11-26", "page_views"), 3000);
    json_decref(doc);
    mochi_loadgen_oracle_destroy(oracle);
    mochi_loadgen_oracle_destroy(NULL);
}

/* DESIGN.md's entries and sources, case by case. */
static void origins(void **state)
{
    (void)state;
    char a64[100], a70[160], cut[160];
    memset(a64, 'a', 64);
    a64[64] = '\0';
    snprintf(a70, sizeof(a70), "https://example.com/?utm_source=%.64s%s", a64, "AAAAAA");
    /* 63 bytes, then a 2-byte "é" that would end at byte 65: cut before it. */
    snprintf(cut, sizeof(cut), "https://example.com/?utm_source=%.63s%%C3%%A9", a64);
    struct {
        const char *url, *referrer;
        bool entry;
        const char *source;
    } cases[] = {
        /* utm_source beats the referrer; lower-cased; anywhere in the query */
        {"https://example.com/?utm_source=Newsletter", "https://www.google.com/", true,
         "newsletter"},
        {"https://example.com/a?utm_medium=x&utm_source=HackerNews&b=1#f", "", true, "hackernews"},
        {"https://example.com/?utm_source=Hacker%20News", NULL, true, "hacker news"},
        {a70, NULL, true, a64},
        {cut, NULL, true, a64 + 1},
        /* absent, empty, misnamed, in the fragment or unusable: the referrer */
        {"https://example.com/?utm_source=&x=1", "https://t.co/xYz", true, "t.co"},
        {"https://example.com/?UTM_SOURCE=x", "https://duckduckgo.com/", true, "duckduckgo.com"},
        {"https://example.com/#?utm_source=x", "", true, LOADGEN_SOURCE_NONE},
        {"https://example.com/?utm_source=%01x", "https://t.co/", true, "t.co"},
        {"https://example.com/?utm_source=%FF", "", true, LOADGEN_SOURCE_NONE},
        {"https://example.com/?utm_sourcery=x", "", true, LOADGEN_SOURCE_NONE},
        /* the referrer's host: lower-cased, one leading www. off, no port or user */
        {"https://example.com/", "https://www.google.com/search?q=x", true, "google.com"},
        {"https://example.com/", "https://WWW.Reddit.COM/r/x", true, "reddit.com"},
        {"https://example.com/", "https://user@news.ycombinator.com:443/item?id=1", true,
         "news.ycombinator.com"},
        {"https://example.com/", "https://www.www.example.net/", true, "www.example.net"},
        {"https://example.com/", "https://notexample.com/", true, "notexample.com"},
        {"https://example.com/", "https://example.com.evil.net/", true, "example.com.evil.net"},
        /* direct: no referrer, or one without a host */
        {"https://example.com/", "", true, LOADGEN_SOURCE_NONE},
        {"https://example.com/", NULL, true, LOADGEN_SOURCE_NONE},
        {"https://example.com/", "about:blank", true, LOADGEN_SOURCE_NONE},
        /* internal navigation: the site or a subdomain, any case or port;
         * not an entry, whatever the page's utm_source */
        {"https://example.com/?utm_source=Newsletter", "https://example.com/pricing", false,
         LOADGEN_SOURCE_NONE},
        {"https://www.example.com/", "https://blog.example.com/a", false, LOADGEN_SOURCE_NONE},
        {"https://example.com/", "http://WWW.Example.COM:8443/x", false, LOADGEN_SOURCE_NONE},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool entry = !cases[i].entry;
        char source[LOADGEN_SOURCE_SIZE];
        mochi_loadgen_origin(cases[i].url, cases[i].referrer, "example.com", &entry, source);
        if (entry != cases[i].entry || strcmp(source, cases[i].source) != 0)
            fail_msg("case %zu (%s, %s): entry %d source '%s'", i, cases[i].url,
                     cases[i].referrer ? cases[i].referrer : "(null)", entry, source);
    }
}

/* Asia/Kolkata (+05:30) beside a UTC site, around 2026-11-26T18:30Z (the
 * local midnight that begins Nov 27) and 2026-11-27T00:00Z (UTC midnight,
 * 05:30 in Kolkata), both sites with the same visits:
 *   v1 /a direct      18:29:10Z  Kolkata Nov 26 23:59:10 | UTC Nov 26
 *   v2 /a direct      18:29:20Z  Kolkata Nov 26          | UTC Nov 26
 *   v1 /b direct      18:30:10Z  Kolkata Nov 27 00:00:10 | UTC Nov 26
 *   v3 /c google      23:59:10Z  Kolkata Nov 27 05:29:10 | UTC Nov 26
 *   v3 /d internal    00:00:10Z  Kolkata Nov 27 05:30:10 | UTC Nov 27
 * Kolkata Nov 26: 2 views, visitors v1 v2, entries /a 2, "" 2/2.
 * Kolkata Nov 27: v1 again (a new local day) and v3 once although it
 *   crossed UTC midnight: 3 views, 2 visitors; entries /b and /c (the
 *   internal /d is none); sources "" 1/1 (v1), google.com 1/1 (v3).
 * UTC Nov 26: 4 views, visitors v1 v2 v3, entries /a 2 /b 1 /c 1;
 *   "" 3/2, google.com 1/1.
 * UTC Nov 27: v3's /d only: 1 view, 1 visitor, no entry; v3's first view
 *   that day is not an entry, so it is credited to "": 0/1. */
static void kolkata_local_midnight(void **state)
{
    (void)state;
    struct mochi_loadgen_site zoned[] = {{"kolkata", "example.com", "Asia/Kolkata"},
                                         {"utc", "example.com", NULL}};
    const double t1830 = 1795717800; /* 2026-11-26T18:30:00Z */
    const double t0000 = 1795737600; /* 2026-11-27T00:00:00Z */
    struct mochi_loadgen_oracle *oracle = NULL;
    json_t *doc = NULL;
    assert_int_equal(mochi_loadgen_oracle_new(zoned, 2, &oracle), 0);
    for (size_t s = 0; s < 2; s++) {
        view(oracle, s, 1, "https://example.com/a", "", t1830 - 50);
        view(oracle, s, 2, "https://example.com/a", "", t1830 - 40);
        view(oracle, s, 1, "https://example.com/b", "", t1830 + 10);
        view(oracle, s, 3, "https://example.com/c", "https://www.google.com/", t0000 - 50);
        view(oracle, s, 3, "https://example.com/d", "https://example.com/c", t0000 + 10);
    }
    assert_int_equal(mochi_loadgen_oracle_json(oracle, &doc), 0);
    assert_int_equal(json_integer_value(json_object_get(doc, "ambiguous")), 0);
    assert_int_equal(json_integer_value(json_object_get(doc, "unordered")), 0);
    json_t *kdays =
        json_object_get(json_object_get(json_object_get(doc, "sites"), "kolkata"), "days");
    assert_int_equal(json_object_size(kdays), 2);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(doc, "sites"), "kolkata"), "timezone")),
                        "Asia/Kolkata");
    expect_day(doc, "kolkata", "2026-11-26", 2, 2, 2);
    assert_int_equal(path_value(doc, "kolkata", "2026-11-26", "/a"), 2);
    expect_entry_paths(doc, "kolkata", "2026-11-26", "/a=2");
    expect_sources(doc, "kolkata", "2026-11-26", "=2/2");
    expect_day(doc, "kolkata", "2026-11-27", 3, 2, 2);
    assert_int_equal(path_value(doc, "kolkata", "2026-11-27", "/d"), 1);
    expect_entry_paths(doc, "kolkata", "2026-11-27", "/b=1 /c=1");
    expect_sources(doc, "kolkata", "2026-11-27", "=1/1 google.com=1/1");

    expect_day(doc, "utc", "2026-11-26", 4, 3, 4);
    expect_entry_paths(doc, "utc", "2026-11-26", "/a=2 /b=1 /c=1");
    expect_sources(doc, "utc", "2026-11-26", "=3/2 google.com=1/1");
    expect_day(doc, "utc", "2026-11-27", 1, 1, 0);
    expect_entry_paths(doc, "utc", "2026-11-27", "");
    expect_sources(doc, "utc", "2026-11-27", "=0/1");
    json_decref(doc);
    mochi_loadgen_oracle_destroy(oracle);
}

/* Europe/Berlin's DST days count every event once, on its local day:
 *   2026-10-25 (25 hours, 2026-10-24T22:00Z to 2026-10-25T23:00Z):
 *     v1 /x 21:59:30Z Oct 24 (23:59:30 CEST)   Oct 24
 *     v1 /x 22:00:30Z Oct 24 (00:00:30 CEST)   Oct 25
 *     v2 /x 00:30:30Z Oct 25 (02:30:30 CEST)   Oct 25
 *     v2 /x 01:30:30Z Oct 25 (02:30:30 CET)    Oct 25, another minute: 2 views
 *     v3 /x 22:59:30Z Oct 25 (23:59:30 CET)    Oct 25
 *     v3 /x 23:00:30Z Oct 25 (00:00:30 CET)    Oct 26
 *   2026-03-29 (23 hours, 2026-03-28T23:00Z to 2026-03-29T22:00Z), v4:
 *     22:59:30Z Mar 28 -> Mar 28; 23:00:30Z Mar 28, 01:00:30Z and
 *     21:59:30Z Mar 29 -> Mar 29; 22:00:30Z Mar 29 -> Mar 30.
 * Oct 24 1 view 1 visitor; Oct 25 4 views, 3 visitors; Oct 26 1/1;
 * Mar 28 1/1; Mar 29 3 views, 1 visitor; Mar 30 1/1. All direct. */
static void berlin_dst(void **state)
{
    (void)state;
    struct mochi_loadgen_site berlin[] = {{"berlin", "example.com", "Europe/Berlin"}};
    struct mochi_loadgen_oracle *oracle = NULL;
    json_t *doc = NULL;
    assert_int_equal(mochi_loadgen_oracle_new(berlin, 1, &oracle), 0);
    const char *x = "https://example.com/x";
    view(oracle, 0, 1, x, "", 1792879140 + 30); /* 2026-10-24T21:59:30Z */
    view(oracle, 0, 1, x, "", 1792879200 + 30); /* 2026-10-24T22:00:30Z */
    view(oracle, 0, 2, x, "", 1792888200 + 30); /* 2026-10-25T00:30:30Z */
    view(oracle, 0, 2, x, "", 1792891800 + 30); /* 2026-10-25T01:30:30Z */
    view(oracle, 0, 3, x, "", 1792969140 + 30); /* 2026-10-25T22:59:30Z */
    view(oracle, 0, 3, x, "", 1792969200 + 30); /* 2026-10-25T23:00:30Z */
    view(oracle, 0, 4, x, "", 1774738740 + 30); /* 2026-03-28T22:59:30Z */
    view(oracle, 0, 4, x, "", 1774738800 + 30); /* 2026-03-28T23:00:30Z */
    view(oracle, 0, 4, x, "", 1774746000 + 30); /* 2026-03-29T01:00:30Z */
    view(oracle, 0, 4, x, "", 1774821540 + 30); /* 2026-03-29T21:59:30Z */
    view(oracle, 0, 4, x, "", 1774821600 + 30); /* 2026-03-29T22:00:30Z */
    assert_int_equal(mochi_loadgen_oracle_json(oracle, &doc), 0);
    json_t *days =
        json_object_get(json_object_get(json_object_get(doc, "sites"), "berlin"), "days");
    assert_int_equal(json_object_size(days), 6);
    expect_day(doc, "berlin", "2026-10-24", 1, 1, 1);
    expect_day(doc, "berlin", "2026-10-25", 4, 3, 4);
    assert_int_equal(path_value(doc, "berlin", "2026-10-25", "/x"), 4);
    expect_sources(doc, "berlin", "2026-10-25", "=4/3");
    expect_day(doc, "berlin", "2026-10-26", 1, 1, 1);
    expect_day(doc, "berlin", "2026-03-28", 1, 1, 1);
    expect_day(doc, "berlin", "2026-03-29", 3, 1, 3);
    expect_day(doc, "berlin", "2026-03-30", 1, 1, 1);
    json_decref(doc);
    mochi_loadgen_oracle_destroy(oracle);
}

/* Sources on one UTC day of shop.example.org, minute m0 = [T0, T0+60s):
 *   v1 /a  google           sent T0+20 (added first)  entry google.com
 *   v1 /b?utm_source=Newsletter, t.co  sent T0+10     entry newsletter:
 *        v1's first view sent (neither first added nor first by path),
 *        so v1 counts for newsletter
 *   v2 /a  internal (the site)        T0+30  not an entry: v2 counts for ""
 *   v2 /c  news.ycombinator.com       T0+40  entry
 *   v3 /   direct                     T0+50  entry "", v3 counts for ""
 *   v3 /?utm_source=NEWSLETTER, blog. subdomain  T0+70 (m1): not an entry
 *   v4 /a  www.reddit.com             T0+15  entry reddit.com
 *   v4 /a  duckduckgo.com             T0+16  same page view (path, minute):
 *        the first copy's source stands; not a second entry
 * 7 views, 4 visitors, 5 entries: /a 2, /b 1, /c 1, / 1; sources
 * google.com 1/0, newsletter 1/1, news.ycombinator.com 1/0, reddit.com
 * 1/1, "" 1/2: visitors 0+1+0+1+2 = 4, the day's unique visitors. */
static void sources_and_first_views(void **state)
{
    (void)state;
    struct mochi_loadgen_oracle *oracle = NULL;
    json_t *doc = NULL;
    assert_int_equal(mochi_loadgen_oracle_new(sites, 2, &oracle), 0);
    view(oracle, 1, 1, "https://shop.example.org/a", "https://www.google.com/", T0 + 20);
    view(oracle, 1, 1, "https://shop.example.org/b?utm_source=Newsletter", "https://t.co/x",
         T0 + 10);
    view(oracle, 1, 2, "https://shop.example.org/a", "https://shop.example.org/", T0 + 30);
    view(oracle, 1, 2, "https://shop.example.org/c", "https://news.ycombinator.com/item?id=42",
         T0 + 40);
    view(oracle, 1, 3, "https://shop.example.org", "", T0 + 50);
    view(oracle, 1, 3, "https://shop.example.org/?utm_source=NEWSLETTER",
         "https://blog.shop.example.org/", T0 + 70);
    view(oracle, 1, 4, "https://shop.example.org/a", "https://www.reddit.com/r/x", T0 + 15);
    view(oracle, 1, 4, "https://www.shop.example.org/a", "https://duckduckgo.com/", T0 + 16);
    assert_int_equal(mochi_loadgen_oracle_json(oracle, &doc), 0);
    const char *k2 = "k2k2k2k2k2k2k2k2";
    expect_day(doc, k2, "2026-11-26", 7, 4, 5);
    expect_entry_paths(doc, k2, "2026-11-26", "/a=2 /b=1 /c=1 /=1");
    expect_sources(doc, k2, "2026-11-26",
                   "google.com=1/0 newsletter=1/1 news.ycombinator.com=1/0 reddit.com=1/1 =1/2");
    assert_int_equal(json_integer_value(json_object_get(doc, "unordered")), 0);
    json_decref(doc);
    mochi_loadgen_oracle_destroy(oracle);
}

/* Requests of one visitor that overlap in time, whose order would change
 * what counts, are reported as unordered; overlaps that change nothing are
 * not:
 *   v1 /a direct T0+10..12 and /b google T0+11..11.5: which came first
 *      decides v1's source: 1
 *   v2 /a google T0+20..22 and /a direct T0+21..21.5: one page view whose
 *      first copy decides its source: 1
 *   v3 /a direct T0+30..32 and /b direct T0+31..31.5: same source: 0 */
static void unordered_requests(void **state)
{
    (void)state;
    struct mochi_loadgen_oracle *oracle = NULL;
    json_t *doc = NULL;
    assert_int_equal(mochi_loadgen_oracle_new(sites, 2, &oracle), 0);
    struct {
        uint32_t visitor;
        const char *url, *referrer;
        double sent, done;
    } reqs[] = {
        {1, "https://example.com/a", "", 10, 12},
        {1, "https://example.com/b", "https://google.com/", 11, 11.5},
        {2, "https://example.com/a", "https://google.com/", 20, 22},
        {2, "https://example.com/a", "", 21, 21.5},
        {3, "https://example.com/a", "", 30, 32},
        {3, "https://example.com/b", "", 31, 31.5},
    };
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        struct mochi_loadgen_result r = {.site = 0,
                                         .visitor = reqs[i].visitor,
                                         .url = reqs[i].url,
                                         .referrer = reqs[i].referrer,
                                         .status = 202,
                                         .sent_us = S(T0 + reqs[i].sent),
                                         .done_us = S(T0 + reqs[i].done)};
        assert_int_equal(mochi_loadgen_oracle_add(oracle, &r), 0);
    }
    assert_int_equal(mochi_loadgen_oracle_json(oracle, &doc), 0);
    assert_int_equal(json_integer_value(json_object_get(doc, "unordered")), 2);
    expect_day(doc, "k1k1k1k1k1k1k1k1", "2026-11-26", 5, 3, 5);
    json_decref(doc);
    mochi_loadgen_oracle_destroy(oracle);
}

/* A site whose zone this host does not know is refused. */
static void unknown_zone(void **state)
{
    (void)state;
    struct mochi_loadgen_site bad[] = {{"k", "example.com", "Mars/Olympus_Mons"}};
    struct mochi_loadgen_oracle *oracle = NULL;
    assert_int_equal(mochi_loadgen_oracle_new(bad, 1, &oracle), MOCHI_ERR_INVALID);
    assert_null(oracle);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(url_paths),
        cmocka_unit_test(accepted_statuses),
        cmocka_unit_test(hand_built_sequence),
        cmocka_unit_test(many_doubles_and_empty_site),
        cmocka_unit_test(origins),
        cmocka_unit_test(kolkata_local_midnight),
        cmocka_unit_test(berlin_dst),
        cmocka_unit_test(sources_and_first_views),
        cmocka_unit_test(unordered_requests),
        cmocka_unit_test(unknown_zone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
