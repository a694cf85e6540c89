/* mochi-web's date ranges: calendar days, the presets around month and
 * year ends and in leap years, the previous period, and every refusal.
 * Expected days are written out as dates, by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/error.h"
#include "web/range.h"

static long long day(const char *text)
{
    long long d = 0;
    assert_int_equal(web_day_parse(text, &d), 0);
    return d;
}

static void assert_day(long long d, const char *want)
{
    char got[11];
    web_day_format(d, got);
    assert_string_equal(got, want);
}

static void days(void **state)
{
    (void)state;
    /* days since 1970-01-01: 1704067200 / 86400, 951868800 / 86400 */
    assert_int_equal(day("1970-01-01"), 0);
    assert_int_equal(day("2024-01-01"), 19723);
    assert_int_equal(day("2000-03-01"), 11017);
    assert_int_equal(day("1969-12-31"), -1);
    assert_int_equal(day("2024-02-29") + 1, day("2024-03-01"));
    assert_int_equal(day("2100-02-28") + 1, day("2100-03-01")); /* not a leap year */
    assert_int_equal(day("2000-02-29") + 1, day("2000-03-01")); /* a leap year */
    assert_day(19723, "2024-01-01");
    assert_day(day("9999-12-31"), "9999-12-31");
    assert_day(day("1900-01-01"), "1900-01-01");
    const char *bad[] = {"2023-02-29",  "2024-13-01",  "2024-00-10", "2024-04-31", "2024-1-01",
                         " 2024-01-01", "2024-01-01 ", "2024/01/01", "20240101",   "",
                         "1899-12-31",  "abcd-ef-gh",  "+202-01-01", "2024-01-0a", "0000-01-01"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        long long d = 42;
        assert_int_equal(web_day_parse(bad[i], &d), -1);
        assert_int_equal(d, 42);
    }
    assert_int_equal(web_day_parse(NULL, &(long long){0}), -1);
}

struct want {
    const char *range;
    const char *from, *to;
};

static void check_presets(const char *today, const struct want *want, size_t n)
{
    char err[200];
    for (size_t i = 0; i < n; i++) {
        struct web_range r;
        assert_int_equal(
            web_range_parse(NULL, NULL, want[i].range, NULL, day(today), &r, err, sizeof(err)), 0);
        assert_day(r.from, want[i].from);
        assert_day(r.to, want[i].to);
        assert_string_equal(web_preset_name(r.preset), want[i].range);
        assert_false(r.compare);
    }
}

static void presets(void **state)
{
    (void)state;
    const struct want jan15[] = {
        {"today", "2025-01-15", "2025-01-15"}, {"yesterday", "2025-01-14", "2025-01-14"},
        {"7d", "2025-01-09", "2025-01-15"},    {"30d", "2024-12-17", "2025-01-15"},
        {"month", "2025-01-01", "2025-01-15"}, {"last_month", "2024-12-01", "2024-12-31"},
        {"12mo", "2024-02-01", "2025-01-15"},
    };
    check_presets("2025-01-15", jan15, sizeof(jan15) / sizeof(jan15[0]));
    const struct want mar1[] = {
        {"yesterday", "2024-02-29", "2024-02-29"}, {"7d", "2024-02-24", "2024-03-01"},
        {"month", "2024-03-01", "2024-03-01"},     {"last_month", "2024-02-01", "2024-02-29"},
        {"12mo", "2023-04-01", "2024-03-01"},      {"30d", "2024-02-01", "2024-03-01"},
    };
    check_presets("2024-03-01", mar1, sizeof(mar1) / sizeof(mar1[0]));
    const struct want jan1[] = {
        {"yesterday", "2024-12-31", "2024-12-31"},
        {"last_month", "2024-12-01", "2024-12-31"},
        {"month", "2025-01-01", "2025-01-01"},
    };
    check_presets("2025-01-01", jan1, sizeof(jan1) / sizeof(jan1[0]));
}

static void custom_and_compare(void **state)
{
    (void)state;
    char err[200];
    struct web_range r;
    /* across a month and a year end */
    assert_int_equal(web_range_parse("2024-12-30", "2025-01-02", NULL, "previous",
                                     day("2026-06-01"), &r, err, sizeof(err)),
                     0);
    assert_day(r.from, "2024-12-30");
    assert_day(r.to, "2025-01-02");
    assert_true(r.compare);
    assert_int_equal(r.preset, WEB_PRESET_NONE);
    assert_day(r.cfrom, "2024-12-26");
    assert_day(r.cto, "2024-12-29");
    /* the default: the last 30 days ending today */
    assert_int_equal(
        web_range_parse(NULL, NULL, NULL, NULL, day("2024-03-01"), &r, err, sizeof(err)), 0);
    assert_day(r.from, "2024-02-01");
    assert_day(r.to, "2024-03-01");
    assert_false(r.compare);
    /* to alone: the 30 days ending then; from alone: until today */
    assert_int_equal(
        web_range_parse(NULL, "2024-01-10", NULL, NULL, day("2024-03-01"), &r, err, sizeof(err)),
        0);
    assert_day(r.from, "2023-12-12");
    assert_day(r.to, "2024-01-10");
    assert_int_equal(
        web_range_parse("2024-02-20", NULL, NULL, NULL, day("2024-03-01"), &r, err, sizeof(err)),
        0);
    assert_day(r.from, "2024-02-20");
    assert_day(r.to, "2024-03-01");
    /* one day, compared with the day before; a preset with compare */
    assert_int_equal(web_range_parse("2024-03-01", "2024-03-01", NULL, "previous",
                                     day("2024-03-05"), &r, err, sizeof(err)),
                     0);
    assert_day(r.cfrom, "2024-02-29");
    assert_day(r.cto, "2024-02-29");
    assert_int_equal(web_range_parse(NULL, NULL, "last_month", "previous", day("2024-03-05"), &r,
                                     err, sizeof(err)),
                     0);
    assert_day(r.cfrom, "2024-01-03"); /* February's 29 days before */
    assert_day(r.cto, "2024-01-31");
    /* the longest range */
    assert_int_equal(web_range_parse("2014-01-01", "2024-01-08", NULL, NULL, day("2024-03-05"), &r,
                                     err, sizeof(err)),
                     0);
    assert_int_equal(r.to - r.from + 1, WEB_RANGE_MAX_DAYS);
}

static void refusals(void **state)
{
    (void)state;
    static const struct {
        const char *from, *to, *range, *compare, *message;
    } cases[] = {
        {"2024-02-30", NULL, NULL, NULL, "from: not a date (YYYY-MM-DD, years 1900 to 9999)"},
        {NULL, "tomorrow", NULL, NULL, "to: not a date (YYYY-MM-DD, years 1900 to 9999)"},
        {"2024-03-02", "2024-03-01", NULL, NULL, "from: after to"},
        {"2014-01-01", "2024-01-09", NULL, NULL, "from: the range is longer than 3660 days"},
        {NULL, NULL, "week", NULL,
         "range: unknown value (today, yesterday, 7d, 30d, month, last_month, 12mo)"},
        {NULL, NULL, "", NULL,
         "range: unknown value (today, yesterday, 7d, 30d, month, last_month, 12mo)"},
        {"2024-01-01", NULL, "7d", NULL, "range: give either range or from/to, not both"},
        {NULL, NULL, "7d", "yes", "compare: the only value is 'previous'"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[200] = "";
        struct web_range r;
        assert_int_equal(web_range_parse(cases[i].from, cases[i].to, cases[i].range,
                                         cases[i].compare, day("2024-03-05"), &r, err, sizeof(err)),
                         MOCHI_ERR_INVALID);
        assert_string_equal(err, cases[i].message);
    }
}

static void integers(void **state)
{
    (void)state;
    long long v = 0;
    assert_int_equal(web_parse_int("10", 1, 1000, &v), 0);
    assert_int_equal(v, 10);
    assert_int_equal(web_parse_int("1000", 1, 1000, &v), 0);
    assert_int_equal(web_parse_int("-1", -5, 5, &v), 0);
    assert_int_equal(v, -1);
    const char *bad[] = {"0",  "1001", "abc", "-1", "",     "1e3",
                         "+5", " 5",   "5 ",  "-",  "0x10", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = 7;
        assert_int_equal(web_parse_int(bad[i], 1, 1000, &v), MOCHI_ERR_INVALID);
        assert_int_equal(v, 7);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(days),
        cmocka_unit_test(presets),
        cmocka_unit_test(custom_and_compare),
        cmocka_unit_test(refusals),
        cmocka_unit_test(integers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
