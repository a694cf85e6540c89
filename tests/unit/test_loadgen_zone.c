/* loadgen's time zones: which names it takes, and the local day of an
 * instant, around the local midnights of the zones issue #13 names. The
 * instants are `date -u -d ... +%s` of UTC times; the local days follow
 * from each zone's offset, written by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/error.h"
#include "tools/loadgen/zone.h"

/* Days since 1970-01-01: 2026-11-26 is 1795651200 / 86400. */
#define NOV25 20782
#define NOV26 20783
#define NOV27 20784
#define T_NOV26 1795651200LL /* 2026-11-26T00:00:00Z */

static void names(void **state)
{
    (void)state;
    char err[256];
    const char *good[] = {"UTC",        "Europe/Berlin",         "Asia/Kolkata",
                          "Etc/GMT+12", "Pacific/Kiritimati",    "America/Argentina/Buenos_Aires",
                          "Etc/GMT-14", "America/Port-au-Prince"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_int_equal(mochi_loadgen_zone_check(good[i], err, sizeof(err)), 0);
    const char *bad[] = {"",
                         "Mars/Olympus_Mons",
                         "../../etc/passwd",
                         "Europe/../Europe/Berlin",
                         "/usr/share/zoneinfo/UTC",
                         "Europe//Berlin",
                         "Europe/Berlin ",
                         "Europe/Berlin\n",
                         "zone.tab", /* in the directory, but not a TZif file */
                         "Europe",   /* a directory */
                         "Europe/Berlin/"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(mochi_loadgen_zone_check(bad[i], err, sizeof(err)), MOCHI_ERR_INVALID);
        assert_true(strlen(err) > 0);
    }
}

static int64_t day(const char *zone, int64_t seconds)
{
    int64_t d = -1;
    assert_int_equal(mochi_loadgen_zone_day(zone, seconds, &d), 0);
    return d;
}

/* One second either side of each local midnight around 2026-11-26. */
static void local_midnights(void **state)
{
    (void)state;
    /* UTC: 00:00Z. */
    assert_int_equal(day("UTC", T_NOV26 - 1), NOV25);
    assert_int_equal(day("UTC", T_NOV26), NOV26);
    assert_int_equal(day("UTC", -1), -1); /* 1969-12-31 */
    /* Asia/Kolkata, +05:30: Nov 27 begins at 18:30Z on Nov 26. */
    assert_int_equal(day("Asia/Kolkata", T_NOV26 + 18 * 3600 + 1800 - 1), NOV26);
    assert_int_equal(day("Asia/Kolkata", T_NOV26 + 18 * 3600 + 1800), NOV27);
    /* ... and UTC midnight is 05:30 local, inside one local day. */
    assert_int_equal(day("Asia/Kolkata", T_NOV26 - 1), NOV26);
    assert_int_equal(day("Asia/Kolkata", T_NOV26), NOV26);
    /* Pacific/Kiritimati, +14: Nov 27 begins at 10:00Z on Nov 26. */
    assert_int_equal(day("Pacific/Kiritimati", T_NOV26 + 10 * 3600 - 1), NOV26);
    assert_int_equal(day("Pacific/Kiritimati", T_NOV26 + 10 * 3600), NOV27);
    /* Etc/GMT+12 is UTC-12 (POSIX signs): Nov 26 begins at 12:00Z. */
    assert_int_equal(day("Etc/GMT+12", T_NOV26 + 12 * 3600 - 1), NOV25);
    assert_int_equal(day("Etc/GMT+12", T_NOV26 + 12 * 3600), NOV26);
    /* Europe/Berlin in winter, +01: Nov 27 begins at 23:00Z. */
    assert_int_equal(day("Europe/Berlin", T_NOV26 + 23 * 3600 - 1), NOV26);
    assert_int_equal(day("Europe/Berlin", T_NOV26 + 23 * 3600), NOV27);
}

/* Berlin's 2026 DST days: 2026-03-29 runs from 2026-03-28T23:00Z to
 * 2026-03-29T22:00Z (23 hours), 2026-10-25 from 2026-10-24T22:00Z to
 * 2026-10-25T23:00Z (25 hours). 2026-03-29 is day 20541, 2026-10-25 day
 * 20751. */
static void berlin_dst_days(void **state)
{
    (void)state;
    const char *z = "Europe/Berlin";
    assert_int_equal(day(z, 1774738800LL - 1), 20540); /* 2026-03-28T22:59:59Z */
    assert_int_equal(day(z, 1774738800LL), 20541);     /* 2026-03-28T23:00:00Z */
    assert_int_equal(day(z, 1774821600LL - 1), 20541); /* 2026-03-29T21:59:59Z */
    assert_int_equal(day(z, 1774821600LL), 20542);     /* 2026-03-29T22:00:00Z */
    assert_int_equal(day(z, 1792879200LL - 1), 20750); /* 2026-10-24T21:59:59Z */
    assert_int_equal(day(z, 1792879200LL), 20751);     /* 2026-10-24T22:00:00Z */
    assert_int_equal(day(z, 1792888200LL), 20751);     /* 00:30Z: 02:30 CEST */
    assert_int_equal(day(z, 1792891800LL), 20751);     /* 01:30Z: 02:30 CET, again */
    assert_int_equal(day(z, 1792969200LL - 1), 20751); /* 2026-10-25T22:59:59Z */
    assert_int_equal(day(z, 1792969200LL), 20752);     /* 2026-10-25T23:00:00Z */
}

/* The caller's TZ is left as it was, set or not. */
static void tz_restored(void **state)
{
    (void)state;
    assert_int_equal(setenv("TZ", "America/New_York", 1), 0);
    (void)day("Asia/Kolkata", T_NOV26);
    assert_string_equal(getenv("TZ"), "America/New_York");
    assert_int_equal(unsetenv("TZ"), 0);
    (void)day("Asia/Kolkata", T_NOV26);
    assert_null(getenv("TZ"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names),
        cmocka_unit_test(local_midnights),
        cmocka_unit_test(berlin_dst_days),
        cmocka_unit_test(tz_restored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
