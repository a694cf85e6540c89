/* Site-local days and the salt cache of collector/sites.c and
 * collector/zones.c, against the fixture's PostgreSQL. Every expected
 * instant and day is written here by hand as a UTC calendar time (libc's
 * timegm turns it into a number), never computed by the code under test. */
#define _DEFAULT_SOURCE /* timegm */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "collector/sites.h"
#include "collector/zones.h"
#include "common/error.h"
#include "common/metrics.h"
#include "tests/harness/harness.h"

#define US INT64_C(1000000)

/* The instant of a UTC calendar time, in microseconds. */
static int64_t utc_us(int year, int month, int day, int hour, int minute)
{
    struct tm tm = {.tm_year = year - 1900,
                    .tm_mon = month - 1,
                    .tm_mday = day,
                    .tm_hour = hour,
                    .tm_min = minute};
    return (int64_t)timegm(&tm) * US;
}

/* A calendar date as days since 1970-01-01. */
static long long date(int year, int month, int day)
{
    return (long long)(utc_us(year, month, day, 0, 0) / (86400 * US));
}

static long long local_day(const struct collector_zones *zones, const char *zone, int64_t at)
{
    long long day = -999999;
    int rc = collector_zones_local_day(zones, zone, at, &day);
    if (rc != 0)
        fail_msg("%s at %lld: error %d", zone, (long long)at, rc);
    return day;
}

/* A local day that begins at `begins` and ends at `ends` (UTC instants):
 * the microsecond before each boundary is the day before, the boundary
 * itself the day after. */
static void check_day(const struct collector_zones *zones, const char *zone, long long day,
                      int64_t begins, int64_t ends)
{
    assert_int_equal(local_day(zones, zone, begins - 1), day - 1);
    assert_int_equal(local_day(zones, zone, begins), day);
    assert_int_equal(local_day(zones, zone, ends - 1), day);
    assert_int_equal(local_day(zones, zone, ends), day + 1);
}

static struct collector_zones *load(PGconn *conn, const char *const *names, size_t count,
                                    long long from, long long to)
{
    struct collector_zones *zones = NULL;
    char err[256] = "";
    int rc = collector_zones_load(conn, names, count, from, to, &zones, err, sizeof(err));
    if (rc != 0)
        fail_msg("collector_zones_load: %d %s", rc, err);
    return zones;
}

static const char *const five[] = {"UTC", "Asia/Kolkata", "Pacific/Kiritimati", "Etc/GMT+12",
                                   "Europe/Berlin"};

/* Local midnights of 2026-06-15 and 2026-06-16, one microsecond either
 * side, in zones from UTC-12 to UTC+14. */
static void midnights_in_five_zones(void **state)
{
    (void)state;
    struct mochi_test_db db;
    mochi_test_db_create(&db);
    PGconn *conn = mochi_test_db_connect(&db);
    /* Duplicates are fine: the sites of one zone are many. */
    const char *names[] = {five[0], five[1], five[2], five[3], five[4], "UTC", "Europe/Berlin"};
    struct collector_zones *zones = load(conn, names, 7, date(2026, 6, 14), date(2026, 6, 16));
    assert_int_equal(collector_zones_count(zones), 5);
    long long d15 = date(2026, 6, 15);

    /* 2026-06-15 and 2026-06-16 in each zone: the day begins at local
     * midnight, which is this UTC time. */
    check_day(zones, "UTC", d15, utc_us(2026, 6, 15, 0, 0), utc_us(2026, 6, 16, 0, 0));
    /* 2026-06-17 00:00 ends the last day loaded */
    assert_int_equal(local_day(zones, "UTC", utc_us(2026, 6, 17, 0, 0) - 1), d15 + 1);
    /* +05:30 */
    check_day(zones, "Asia/Kolkata", d15, utc_us(2026, 6, 14, 18, 30), utc_us(2026, 6, 15, 18, 30));
    /* +14 */
    check_day(zones, "Pacific/Kiritimati", d15, utc_us(2026, 6, 14, 10, 0),
              utc_us(2026, 6, 15, 10, 0));
    /* -12 (the POSIX sign is inverted: Etc/GMT+12 is twelve hours behind) */
    check_day(zones, "Etc/GMT+12", d15, utc_us(2026, 6, 15, 12, 0), utc_us(2026, 6, 16, 12, 0));
    /* +02 in summer */
    check_day(zones, "Europe/Berlin", d15, utc_us(2026, 6, 14, 22, 0), utc_us(2026, 6, 15, 22, 0));

    /* The same instant is on three different days. */
    int64_t noon_utc = utc_us(2026, 6, 15, 12, 0) - 1;
    assert_int_equal(local_day(zones, "Etc/GMT+12", noon_utc), d15 - 1);
    assert_int_equal(local_day(zones, "UTC", noon_utc), d15);
    assert_int_equal(local_day(zones, "Pacific/Kiritimati", noon_utc), d15 + 1);

    /* Outside the days loaded (2026-06-14 .. 2026-06-16): no guess. */
    long long day = 0;
    assert_int_equal(collector_zones_local_day(zones, "UTC", utc_us(2026, 6, 14, 0, 0) - 1, &day),
                     MOCHI_ERR_RANGE);
    assert_int_equal(collector_zones_local_day(zones, "UTC", utc_us(2026, 6, 17, 0, 0), &day),
                     MOCHI_ERR_RANGE);
    assert_int_equal(
        collector_zones_local_day(zones, "Pacific/Kiritimati", utc_us(2026, 6, 16, 10, 0), &day),
        MOCHI_ERR_RANGE);
    assert_int_equal(local_day(zones, "Pacific/Kiritimati", utc_us(2026, 6, 16, 10, 0) - 1),
                     d15 + 1);
    assert_int_equal(
        collector_zones_local_day(zones, "Etc/GMT+12", utc_us(2026, 6, 14, 12, 0) - 1, &day),
        MOCHI_ERR_RANGE);
    /* A zone not loaded, or spelt otherwise. */
    assert_int_equal(collector_zones_local_day(zones, "Asia/Tokyo", noon_utc, &day),
                     MOCHI_ERR_NOTFOUND);
    assert_int_equal(collector_zones_local_day(zones, "utc", noon_utc, &day), MOCHI_ERR_NOTFOUND);
    collector_zones_destroy(zones);
    collector_zones_destroy(NULL);
    PQfinish(conn);
    mochi_test_db_drop(&db);
}

/* Europe/Berlin's daylight saving days of 2026: 29 March lasts 23 hours
 * (02:00 CET becomes 03:00 CEST), 25 October 25 hours (03:00 CEST becomes
 * 02:00 CET). */
static void berlin_dst_days(void **state)
{
    (void)state;
    struct mochi_test_db db;
    mochi_test_db_create(&db);
    PGconn *conn = mochi_test_db_connect(&db);
    const char *berlin[] = {"Europe/Berlin"};

    struct collector_zones *zones = load(conn, berlin, 1, date(2026, 3, 28), date(2026, 3, 30));
    long long mar29 = date(2026, 3, 29);
    /* begins 00:00 CET = 23:00 UTC the day before; ends 00:00 CEST = 22:00 UTC */
    check_day(zones, "Europe/Berlin", mar29, utc_us(2026, 3, 28, 23, 0),
              utc_us(2026, 3, 29, 22, 0));
    /* either side of the jump: 01:59:59.999999 CET and 03:00 CEST */
    assert_int_equal(local_day(zones, "Europe/Berlin", utc_us(2026, 3, 29, 1, 0) - 1), mar29);
    assert_int_equal(local_day(zones, "Europe/Berlin", utc_us(2026, 3, 29, 1, 0)), mar29);
    /* the day after is 24 hours again: it ends at 22:00 UTC too */
    assert_int_equal(local_day(zones, "Europe/Berlin", utc_us(2026, 3, 30, 22, 0) - 1), mar29 + 1);
    collector_zones_destroy(zones);

    long long day = 0;
    zones = load(conn, berlin, 1, date(2026, 10, 24), date(2026, 10, 26));
    long long oct25 = date(2026, 10, 25);
    /* begins 00:00 CEST = 22:00 UTC the day before; ends 00:00 CET = 23:00 UTC */
    check_day(zones, "Europe/Berlin", oct25, utc_us(2026, 10, 24, 22, 0),
              utc_us(2026, 10, 25, 23, 0));
    /* 02:30 happens twice: 00:30 UTC (CEST) and 01:30 UTC (CET), one day */
    assert_int_equal(local_day(zones, "Europe/Berlin", utc_us(2026, 10, 25, 0, 30)), oct25);
    assert_int_equal(local_day(zones, "Europe/Berlin", utc_us(2026, 10, 25, 1, 30)), oct25);
    /* the day before is 24 hours of CEST: it began at 22:00 UTC too */
    assert_int_equal(local_day(zones, "Europe/Berlin", utc_us(2026, 10, 23, 22, 0)), oct25 - 1);
    assert_int_equal(
        collector_zones_local_day(zones, "Europe/Berlin", utc_us(2026, 10, 23, 22, 0) - 1, &day),
        MOCHI_ERR_RANGE);
    collector_zones_destroy(zones);
    PQfinish(conn);
    mochi_test_db_drop(&db);
}

/* Names are checked before they reach the database, and passed to it as
 * one array element each whatever they hold. */
static void bad_names_and_ranges(void **state)
{
    (void)state;
    struct mochi_test_db db;
    mochi_test_db_create(&db);
    PGconn *conn = mochi_test_db_connect(&db);
    struct collector_zones *zones = NULL;
    char err[256];
    char long_name[80];
    memset(long_name, 'a', 64);
    long_name[64] = '\0';
    const char *empty[] = {""};
    const char *too_long[] = {long_name};
    long long d = date(2026, 6, 15);
    assert_int_equal(collector_zones_load(conn, empty, 1, d, d, &zones, err, sizeof(err)),
                     MOCHI_ERR_INVALID);
    assert_int_equal(collector_zones_load(conn, too_long, 1, d, d, &zones, err, sizeof(err)),
                     MOCHI_ERR_INVALID);
    assert_int_equal(collector_zones_load(conn, five, 5, d, d - 1, &zones, err, sizeof(err)),
                     MOCHI_ERR_INVALID);
    const char *hostile[][1] = {{"Mars/Olympus_Mons"},
                                {"UTC,Europe/Berlin"}, /* not two zones */
                                {"UTC\"}"},
                                {"Europe/Berlin\\"},
                                {"'); DROP TABLE x; --"}};
    for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
        assert_int_equal(collector_zones_load(conn, hostile[i], 1, d, d, &zones, err, sizeof(err)),
                         MOCHI_ERR_DB);
        assert_non_null(strstr(err, "time zone"));
    }
    assert_null(zones);
    /* No zone at all is a table without zones. */
    zones = load(conn, five, 0, d, d);
    assert_int_equal(collector_zones_count(zones), 0);
    long long day;
    assert_int_equal(collector_zones_local_day(zones, "UTC", utc_us(2026, 6, 15, 1, 0), &day),
                     MOCHI_ERR_NOTFOUND);
    collector_zones_destroy(zones);
    PQfinish(conn);
    mochi_test_db_drop(&db);
}

static void salt_hex(PGconn *conn, long long day, char *out, size_t size)
{
    char sql[160];
    snprintf(sql, sizeof(sql),
             "SELECT encode(salt, 'hex') FROM salts WHERE day = date '1970-01-01' + %lld", day);
    if (!mochi_test_db_text(conn, sql, out, size))
        out[0] = '\0';
}

/* The cache as the collector runs it, at the real now: sites in five
 * zones, their local days around today, and the salts of every day an
 * event may need. */
static void cache_serves_local_days_and_salts(void **state)
{
    (void)state;
    assert_int_equal(sodium_init() >= 0, 1);
    struct mochi_test_db db;
    mochi_test_db_create_migrated(&db);
    PGconn *admin = mochi_test_db_connect(&db);
    mochi_test_db_exec(admin, "INSERT INTO sites (name, domain, tracking_key, timezone) VALUES "
                              "('u', 'u.example', 'zoneKey_UTC_0000000', DEFAULT), "
                              "('k', 'k.example', 'zoneKey_Kolkata_000', 'Asia/Kolkata'), "
                              "('x', 'x.example', 'zoneKey_Kiritimati0', 'Pacific/Kiritimati'), "
                              "('m', 'm.example', 'zoneKey_GMTplus12_0', 'Etc/GMT+12'), "
                              "('b', 'b.example', 'zoneKey_Berlin_0000', 'Europe/Berlin')");
    char conninfo[600];
    mochi_test_db_conninfo_as(&db, "mochi_collector", conninfo, sizeof(conninfo));
    struct mochi_metrics *metrics = mochi_metrics_new();
    struct collector_sites *sites = NULL;
    assert_int_equal(collector_sites_start(conninfo, 200, metrics, &sites), 0);
    assert_true(collector_sites_wait_ready(sites, 10000));

    /* Offsets from UTC of the zones that keep one all year, in seconds. */
    struct {
        const char *key, *zone;
        int64_t offset;
    } fixed[] = {
        {"zoneKey_UTC_0000000", "UTC", 0},
        {"zoneKey_Kolkata_000", "Asia/Kolkata", 5 * 3600 + 1800},
        {"zoneKey_Kiritimati0", "Pacific/Kiritimati", 14 * 3600},
        {"zoneKey_GMTplus12_0", "Etc/GMT+12", -12 * 3600},
    };
    long long today = (long long)(time(NULL) / 86400);
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        struct collector_site site;
        assert_int_equal(collector_sites_lookup(sites, fixed[i].key, &site), 0);
        assert_string_equal(site.timezone, fixed[i].zone);
        /* local days today-1 .. today+2 begin at these instants */
        for (long long d = today - 1; d <= today + 2; d++) {
            int64_t begins = (d * 86400 - fixed[i].offset) * US;
            long long day = 0;
            assert_int_equal(collector_sites_local_day(sites, &site, begins - 1, &day), 0);
            assert_int_equal(day, d - 1);
            assert_int_equal(collector_sites_local_day(sites, &site, begins, &day), 0);
            assert_int_equal(day, d);
        }
        /* The cache holds local days today-2 .. today+2: later is refused. */
        long long day = 0;
        int64_t after = ((today + 3) * 86400 - fixed[i].offset) * US;
        assert_int_equal(collector_sites_local_day(sites, &site, after, &day), MOCHI_ERR_AGAIN);
        assert_int_equal(collector_sites_local_day(sites, &site, after - 1, &day), 0);
        assert_int_equal(day, today + 2);
        int64_t before = ((today - 2) * 86400 - fixed[i].offset) * US;
        assert_int_equal(collector_sites_local_day(sites, &site, before - 1, &day),
                         MOCHI_ERR_AGAIN);
    }
    struct collector_site berlin;
    assert_int_equal(collector_sites_lookup(sites, "zoneKey_Berlin_0000", &berlin), 0);
    assert_string_equal(berlin.timezone, "Europe/Berlin");
    long long day = 0;
    int64_t now = (int64_t)time(NULL) * US;
    assert_int_equal(collector_sites_local_day(sites, &berlin, now, &day), 0);
    assert_true(day == today || day == today + 1);

    /* A site the cache does not know the zone of is refused, not guessed. */
    struct collector_site stranger = berlin;
    strcpy(stranger.timezone, "Asia/Tokyo");
    assert_int_equal(collector_sites_local_day(sites, &stranger, now, &day), MOCHI_ERR_AGAIN);
    /* ... until a site in that zone is added and the cache reloads. */
    mochi_test_db_exec(admin, "INSERT INTO sites (name, domain, tracking_key, timezone) VALUES "
                              "('t', 't.example', 'zoneKey_Tokyo_00000', 'Asia/Tokyo')");
    collector_sites_poke(sites);
    struct collector_site tokyo;
    int64_t deadline = mochi_test_now_ms() + 10000;
    while (collector_sites_lookup(sites, "zoneKey_Tokyo_00000", &tokyo) != 0 &&
           mochi_test_now_ms() < deadline)
        usleep(20000);
    assert_string_equal(tokyo.timezone, "Asia/Tokyo");
    int64_t tokyo_today = (today * 86400 - 9 * 3600) * US; /* +09, no DST */
    assert_int_equal(collector_sites_local_day(sites, &tokyo, tokyo_today, &day), 0);
    assert_int_equal(day, today);
    assert_int_equal(collector_sites_local_day(sites, &tokyo, tokyo_today - 1, &day), 0);
    assert_int_equal(day, today - 1);

    /* Salts: today's, tomorrow's and the day after's always; yesterday's
     * until 13:00 UTC (UTC-12 is on it until noon). Each as the database
     * holds it. */
    bool before_13 = mochi_test_db_int(admin, "SELECT ((now() AT TIME ZONE 'UTC')::time "
                                              "< time '13:00')::int") == 1;
    for (long long d = today - 2; d <= today + 3; d++) {
        unsigned char salt[32];
        char want[65], got[65];
        bool expected = (d >= today && d <= today + 2) || (d == today - 1 && before_13);
        int rc = collector_sites_salt(sites, d, salt);
        salt_hex(admin, d, want, sizeof(want));
        if (!expected) {
            assert_int_equal(rc, MOCHI_ERR_AGAIN);
            continue;
        }
        assert_int_equal(rc, 0);
        sodium_bin2hex(got, sizeof(got), salt, sizeof(salt));
        assert_string_equal(got, want);
    }
    collector_sites_destroy(sites);
    mochi_metrics_destroy(metrics);
    PQfinish(admin);
    mochi_test_db_drop(&db);
}

static int teardown(void **state)
{
    (void)state;
    mochi_test_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(midnights_in_five_zones),
        cmocka_unit_test(berlin_dst_days),
        cmocka_unit_test(bad_names_and_ranges),
        cmocka_unit_test(cache_serves_local_days_and_salts),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
