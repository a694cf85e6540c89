/* COPY text building: escapes, and timestamps against the C library's own
 * formatting of the same instants. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/copy.h"

static void expect_time(int64_t us)
{
    int64_t secs = us / 1000000, frac = us % 1000000;
    if (frac < 0) {
        frac += 1000000;
        secs--;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    char date[40], want[64];
    strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(want, sizeof(want), "%s.%06lld+00\n", date, (long long)frac);
    struct mochi_copy_buf buf = {0};
    mochi_copy_time(&buf, us, 1);
    assert_false(buf.failed);
    if (buf.len != strlen(want) || memcmp(buf.data, want, buf.len) != 0)
        fail_msg("%lld us: got \"%.*s\", want \"%s\"", (long long)us, (int)buf.len, buf.data, want);
    mochi_copy_free(&buf);
}

static void times_match_the_c_library(void **state)
{
    (void)state;
    const int64_t day = INT64_C(86400000000);
    const int64_t cases[] = {0,
                             1,
                             999999,
                             1000000,
                             day - 1,
                             day,
                             INT64_C(1795698000123456), /* 2026-11-26 */
                             INT64_C(1795698000123456) + day,
                             INT64_C(1795698000123456) - day, /* the cached date changes back */
                             INT64_C(951782400000000),        /* 2000-02-29 */
                             INT64_C(4102444799999999),       /* 2099-12-31 23:59:59.999999 */
                             -1,                              /* 1969-12-31 23:59:59.999999 */
                             -day - 1};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_time(cases[i]);
    for (int64_t us = INT64_C(1795600000000000); us < INT64_C(1795900000000000);
         us += INT64_C(7777777777))
        expect_time(us);
}

static void text_is_escaped(void **state)
{
    (void)state;
    struct mochi_copy_buf buf = {0};
    mochi_copy_text(&buf, "a\tb\\c\nd\re", 0);
    mochi_copy_text(&buf, NULL, 0);
    mochi_copy_int(&buf, -42, 1);
    const char want[] = "a\\tb\\\\c\\nd\\re\t\\N\t-42\n";
    assert_int_equal(buf.len, strlen(want));
    assert_memory_equal(buf.data, want, buf.len);
    mochi_copy_reset(&buf);
    mochi_copy_raw(&buf, "{x}", 4);
    assert_int_equal(buf.len, 4);
    assert_string_equal(buf.data, "{x}");
    mochi_copy_free(&buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(times_match_the_c_library),
        cmocka_unit_test(text_is_escaped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
