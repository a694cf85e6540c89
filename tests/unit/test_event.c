/* common/event.c: v2's rules in mochi_pageview_validate, the source a
 * referrer names, and the v1 reading of day, entry and source. Expected
 * values are written by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "common/error.h"
#include "common/event.h"

#define TS INT64_C(1767225600000000) /* 2026-01-01T00:00:00Z, day 20454 */

static void sample(struct mochi_pageview *ev)
{
    memset(ev, 0, sizeof *ev);
    strcpy(ev->site_id, "0b9e7f3a-5c1d-4e2f-8a6b-9c0d1e2f3a4b");
    strcpy(ev->path, "/");
    strcpy(ev->visitor_hash, "0123456789abcdef0123456789abcdef");
    ev->occurred_at_us = TS;
    ev->day = 20454;
    ev->entry = true;
}

static void test_referrer_source(void **state)
{
    (void)state;
    static const struct {
        const char *referrer, *source; /* source NULL: none */
    } cases[] = {
        {"https://example.com", "example.com"},
        {"https://www.example.com", "example.com"},
        {"HTTPS://WWW.Example.COM:443", "example.com"},
        {"http://www.", "www"}, /* mochi_domain_source: the trailing dot goes */
        {"http://www", "www"},
        {"https://wwwexample.com", "wwwexample.com"},
        {"https://m.www.example.com", "m.www.example.com"},
        {"https://example.com:8080/x", "example.com"},
        {"https://example.com?q", "example.com"},
        {"https://example.com#f", "example.com"},
        {"http://[::1]:8080", "[::1]"},
        {"http://[::1", "[::1"},
        {"android-app://com.slack", "com.slack"},
        {"https://\xc3\x89"
         "cole.example",
         "\xc3\x89"
         "cole.example"}, /* only ASCII is lowered */
        {"https://", NULL},
        {"https://:80", NULL},
        {"example.com", NULL},
        {"", NULL},
    };
    char out[MOCHI_SOURCE_MAX + 1];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(out, 'x', sizeof out);
        bool has = mochi_pageview_referrer_source(cases[i].referrer, out);
        if (has != (cases[i].source != NULL) ||
            strcmp(out, cases[i].source != NULL ? cases[i].source : "") != 0)
            fail_msg("%s: got %d \"%s\"", cases[i].referrer, has, out);
    }

    /* Cut to 253 bytes: an ASCII host at 253, and one of 3-byte characters
     * at a character boundary (84 of them, 252 bytes). */
    char referrer[600] = "https://";
    memset(referrer + 8, 'a', 300);
    referrer[308] = '\0';
    assert_true(mochi_pageview_referrer_source(referrer, out));
    assert_int_equal(strlen(out), 253);
    strcpy(referrer, "https://");
    for (int i = 0; i < 100; i++)
        strcat(referrer, "\xe2\x82\xac");
    assert_true(mochi_pageview_referrer_source(referrer, out));
    assert_int_equal(strlen(out), 252);
}

static void test_fill_v1(void **state)
{
    (void)state;
    struct mochi_pageview ev;
    sample(&ev);
    ev.has_referrer = true;
    strcpy(ev.referrer, "https://www.google.com");
    ev.occurred_at_us = TS - 1; /* the last microsecond of 2025-12-31 */
    ev.day = 0;
    ev.entry = false;
    mochi_pageview_fill_v1(&ev);
    assert_int_equal(ev.day, 20453);
    assert_true(ev.entry);
    assert_true(ev.has_source);
    assert_string_equal(ev.source, "google.com");
    assert_int_equal(mochi_pageview_validate(&ev), 0);

    sample(&ev);
    ev.has_source = true;
    strcpy(ev.source, "stale");
    mochi_pageview_fill_v1(&ev); /* no referrer: not an entry, no source */
    assert_int_equal(ev.day, 20454);
    assert_false(ev.entry);
    assert_false(ev.has_source);
    assert_string_equal(ev.source, "");

    /* An unterminated referrer is not read past (and does not validate). */
    sample(&ev);
    ev.has_referrer = true;
    memset(ev.referrer, 'r', sizeof ev.referrer);
    mochi_pageview_fill_v1(&ev);
    assert_true(ev.entry);
    assert_false(ev.has_source);
    assert_int_equal(mochi_pageview_validate(&ev), MOCHI_ERR_RANGE);
}

static void test_validate_v2(void **state)
{
    (void)state;
    struct mochi_pageview ev;
    sample(&ev);
    assert_int_equal(mochi_pageview_validate(&ev), 0);
    /* UTC-12 and UTC+14 both stay within one day of the UTC date. */
    static const struct {
        int64_t at;
        int32_t day;
        int want;
    } days[] = {
        {TS, 20453, 0},
        {TS, 20455, 0},
        {TS, 20452, MOCHI_ERR_RANGE},
        {TS, 20456, MOCHI_ERR_RANGE},
        {TS + INT64_C(86399999999), 20455, 0},
        {TS + INT64_C(86400000000), 20454, 0},
        {TS + INT64_C(86400000000), 20453, MOCHI_ERR_RANGE},
    };
    for (size_t i = 0; i < sizeof days / sizeof days[0]; i++) {
        sample(&ev);
        ev.occurred_at_us = days[i].at;
        ev.day = days[i].day;
        assert_int_equal(mochi_pageview_validate(&ev), days[i].want);
    }

    sample(&ev);
    ev.has_source = true;
    strcpy(ev.source, "example.com");
    assert_int_equal(mochi_pageview_validate(&ev), 0);
    ev.entry = false;
    assert_int_equal(mochi_pageview_validate(&ev), MOCHI_ERR_RANGE);
    ev.entry = true;
    strcpy(ev.source, "");
    assert_int_equal(mochi_pageview_validate(&ev), MOCHI_ERR_RANGE);
    strcpy(ev.source, "a\x1b");
    assert_int_equal(mochi_pageview_validate(&ev), MOCHI_ERR_UTF8);
    strcpy(ev.source, "\xe2\x82");
    assert_int_equal(mochi_pageview_validate(&ev), MOCHI_ERR_UTF8);
    memset(ev.source, 's', MOCHI_SOURCE_MAX);
    ev.source[MOCHI_SOURCE_MAX] = '\0';
    assert_int_equal(mochi_pageview_validate(&ev), 0);
    ev.source[MOCHI_SOURCE_MAX] = 's';
    assert_int_equal(mochi_pageview_validate(&ev), MOCHI_ERR_RANGE);
    ev.has_source = false; /* ignored when absent */
    assert_int_equal(mochi_pageview_validate(&ev), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_referrer_source),
        cmocka_unit_test(test_fill_v1),
        cmocka_unit_test(test_validate_v2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
