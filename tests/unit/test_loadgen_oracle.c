/* loadgen's oracle: distinct (visitor, path, minute) per site and day, from
 * hand-built sequences whose expected aggregates are worked out in the
 * comments. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/error.h"
#include "tools/loadgen/oracle.h"

/* 2026-11-26T10:00:00Z, on a minute boundary (date -u -d ... +%s). */
#define T0 1795687200LL
#define S(sec) ((int64_t)((sec)*1000000.0))

static struct mochi_loadgen_site sites[] = {{"k1k1k1k1k1k1k1k1", "example.com"},
                                            {"k2k2k2k2k2k2k2k2", "shop.example.org"}};

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(url_paths),
        cmocka_unit_test(accepted_statuses),
        cmocka_unit_test(hand_built_sequence),
        cmocka_unit_test(many_doubles_and_empty_site),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
