/* Day and minute arithmetic: floor division (instants before 1970 and the
 * last microsecond of a day), calendar-date parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "common/clock.h"

static void days_and_minutes_floor(void **state)
{
    (void)state;
    assert_int_equal(mochi_day_of_us(0), 0);
    assert_int_equal(mochi_day_of_us(MOCHI_US_PER_DAY - 1), 0);
    assert_int_equal(mochi_day_of_us(MOCHI_US_PER_DAY), 1);
    assert_int_equal(mochi_day_of_us(-1), -1);
    assert_int_equal(mochi_day_of_us(-MOCHI_US_PER_DAY), -1);
    assert_int_equal(mochi_day_of_us(-MOCHI_US_PER_DAY - 1), -2);
    /* 2026-11-30T23:59:59.999999Z and the microsecond after */
    assert_int_equal(mochi_day_of_us(INT64_C(1796083199999999)), 20787);
    assert_int_equal(mochi_day_of_us(INT64_C(1796083200000000)), 20788);
    assert_int_equal(mochi_minute_of_us(INT64_C(1796083199999999)), INT64_C(1796083140000000));
    assert_int_equal(mochi_minute_of_us(-1), -MOCHI_US_PER_MINUTE);
}

static void days_format_and_parse(void **state)
{
    (void)state;
    char buf[11];
    mochi_day_format(0, buf);
    assert_string_equal(buf, "1970-01-01");
    mochi_day_format(20787, buf);
    assert_string_equal(buf, "2026-11-30");
    mochi_day_format(-1, buf);
    assert_string_equal(buf, "1969-12-31");
    long long day = 0;
    assert_int_equal(mochi_day_parse("2026-11-30", &day), 0);
    assert_int_equal(day, 20787);
    assert_int_equal(mochi_day_parse("2024-02-29", &day), 0);
    assert_int_equal(day, 19782);
    assert_int_equal(mochi_day_parse("1969-12-31", &day), 0);
    assert_int_equal(day, -1);
    assert_int_equal(mochi_day_parse("2025-02-29", &day), -1);
    assert_int_equal(mochi_day_parse("2026-13-01", &day), -1);
    assert_int_equal(mochi_day_parse("2026-11-30x", &day), -1);
    assert_int_equal(mochi_day_parse("2026-1-30", &day), -1);
    assert_int_equal(mochi_day_parse("", &day), -1);
}

static void clocks_move_forward(void **state)
{
    (void)state;
    int64_t a = mochi_clock_mono_us(), b = mochi_clock_mono_us();
    assert_true(b >= a);
    /* after 2026-01-01 and before 2100 */
    assert_true(mochi_clock_now_us() > INT64_C(1767225600000000));
    assert_true(mochi_day_today() < 47482);
}

static void sleeps_and_deadlines(void **state)
{
    (void)state;
    int64_t before = mochi_clock_mono_us();
    mochi_clock_sleep_ms(30);
    assert_true(mochi_clock_mono_us() - before >= 30000);
    before = mochi_clock_mono_us();
    mochi_clock_sleep_ms(0);
    mochi_clock_sleep_ms(-5);
    assert_true(mochi_clock_mono_us() - before < 20000);

    /* 1,999 ms: the nanoseconds carry into the seconds whatever now is */
    for (int i = 0; i < 2; i++) {
        clockid_t clock = i == 0 ? CLOCK_MONOTONIC : CLOCK_REALTIME;
        struct timespec now;
        clock_gettime(clock, &now);
        struct timespec at = mochi_clock_deadline(clock, 1999);
        assert_true(at.tv_nsec >= 0 && at.tv_nsec < 1000000000);
        int64_t ahead_us =
            (int64_t)(at.tv_sec - now.tv_sec) * 1000000 + (at.tv_nsec - now.tv_nsec) / 1000;
        assert_true(ahead_us >= 1999000 && ahead_us < 2099000);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(days_and_minutes_floor),
        cmocka_unit_test(days_format_and_parse),
        cmocka_unit_test(clocks_move_forward),
        cmocka_unit_test(sleeps_and_deadlines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
