/* Local midnights in five zones, through the whole pipeline (issue #13):
 * mochi-loadgen -> mochi-collector -> Kafka -> mochi-consumer and
 * mochi-rollup -> PostgreSQL, compared with loadgen's oracle.
 *
 * The collector stamps each event with its own clock, so the test moves
 * that clock: each instant (the next UTC midnight, and the next local
 * midnight of Asia/Kolkata, Pacific/Kiritimati, Etc/GMT+12 and
 * Europe/Berlin) gets a collector and a loadgen of its own, both run under
 * libfaketime with one offset that puts their clocks LEAD_S seconds before
 * the instant when loadgen starts. The five pairs run at once. The
 * consumer and the rollup keep the real time: they take the day an event
 * carries, and must not care when it was.
 *
 * At the UTC midnight, a UTC site crosses its local midnight, while sites
 * in Asia/Kolkata (+05:30), Pacific/Kiritimati (+14) and Etc/GMT+12 (-12)
 * stay inside one local day: a visitor active on both sides counts once
 * there. At each zone's own midnight, its site crosses into the next local
 * day: a visitor active on both sides counts once on each. Visitors come
 * from a small pool so that most are active on both sides. */
#include <jansson.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/harness/harness.h"

/* Debian's libfaketime (package libfaketime, pulled in by faketime). */
#define FAKETIME_LIB "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
/* And after it, the fix for librdkafka's timed waits under it
 * (tests/preload/faketime_cnd.c), built into the build directory. */
#define FAKETIME_CND "libmochi_faketime_cnd.so"

#define POOL 30   /* loadgen's visitors (--visitors) */
#define LEAD_S 12 /* the fake clocks start this long before their instant */
#define SEND_S 25 /* loadgen sends this long (--duration) */
#define START_S 5 /* time allowed to start the collectors */
#define NINSTANTS 5
#define MAXSITES 4

struct site {
    const char *key, *domain, *zone;
    bool crosses; /* the instant is this site's local midnight */
};

struct instant {
    const char *zone; /* the instant is this zone's next local midnight */
    const char *rate; /* loadgen's --rate */
    struct site sites[MAXSITES];
    size_t nsites;
    long long at;     /* seconds since the epoch */
    long long offset; /* the fake clocks' offset, seconds */
    int port;
    char listen[32], url[64], expect[300];
    struct mochi_test_proc collector, loadgen;
};

static struct instant instants[NINSTANTS] = {
    {.zone = "UTC",
     .rate = "40",
     .nsites = 4,
     .sites = {{"midnightUtc_utc_00001", "utc.example", "UTC", true},
               {"midnightUtc_kolkata_02", "kolkata-utc.example", "Asia/Kolkata", false},
               {"midnightUtc_kiritimati3", "kiritimati-utc.example", "Pacific/Kiritimati", false},
               {"midnightUtc_gmtplus12_4", "gmt12-utc.example", "Etc/GMT+12", false}}},
    {.zone = "Asia/Kolkata",
     .rate = "20",
     .nsites = 1,
     .sites = {{"midnightKolkata_00005", "kolkata.example", "Asia/Kolkata", true}}},
    {.zone = "Pacific/Kiritimati",
     .rate = "20",
     .nsites = 1,
     .sites = {{"midnightKiritimati_006", "kiritimati.example", "Pacific/Kiritimati", true}}},
    {.zone = "Etc/GMT+12",
     .rate = "20",
     .nsites = 1,
     .sites = {{"midnightGmtPlus12_0007", "gmt12.example", "Etc/GMT+12", true}}},
    {.zone = "Europe/Berlin",
     .rate = "20",
     .nsites = 1,
     .sites = {{"midnightBerlin_000008", "berlin.example", "Europe/Berlin", true}}},
};

/* The local date (YYYY-MM-DD) in zone of the instant at + delta seconds,
 * as PostgreSQL's time zone database has it. */
static void local_date(PGconn *conn, const char *zone, long long at, int delta, char out[16])
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT (to_timestamp(%lld) AT TIME ZONE '%s')::date::text",
             at + delta, zone);
    assert_true(mochi_test_db_text(conn, sql, out, 16));
}

/* The env entry LD_PRELOAD=<libfaketime>:<its companion>. */
static void preload(char *buf, size_t size)
{
    snprintf(buf, size, "LD_PRELOAD=%s:%s", FAKETIME_LIB, mochi_test_bin(FAKETIME_CND));
}

/* The env entry ASAN_OPTIONS=<the test's own>:verify_asan_link_order=0:
 * libfaketime is preloaded ahead of the ASan runtime, which ASan refuses
 * unless told not to check. A build without ASan ignores it. */
static void asan_options(char *buf, size_t size)
{
    const char *own = getenv("ASAN_OPTIONS");
    snprintf(buf, size, "ASAN_OPTIONS=%s%sverify_asan_link_order=0", own ? own : "",
             own && own[0] ? ":" : "");
}

static void start_collector(struct instant *in, const struct mochi_test_db *db,
                            const char *bootstrap, const char *topic)
{
    char conninfo[600], env_db[700], env_preload[700], env_offset[64], env_asan[512];
    mochi_test_db_conninfo_as(db, "mochi_collector", conninfo, sizeof(conninfo));
    preload(env_preload, sizeof(env_preload));
    snprintf(env_db, sizeof(env_db), "MOCHI_DATABASE_URL=%s", conninfo);
    snprintf(env_offset, sizeof(env_offset), "FAKETIME=%+llds", in->offset);
    asan_options(env_asan, sizeof(env_asan));
    /* Monotonic clocks stay real: timeouts and intervals are not the
     * point, and librdkafka's and libmicrohttpd's timers run on them. */
    char *const env[] = {env_db,   env_preload, env_offset, "FAKETIME_DONT_FAKE_MONOTONIC=1",
                         env_asan, NULL};
    in->port = mochi_test_free_port();
    snprintf(in->listen, sizeof(in->listen), "127.0.0.1:%d", in->port);
    snprintf(in->url, sizeof(in->url), "http://%s", in->listen);
    char *const argv[] = {(char *)mochi_test_bin("mochi-collector"),
                          "--brokers",
                          (char *)bootstrap,
                          "--topic",
                          (char *)topic,
                          "--listen",
                          in->listen,
                          "--trusted-proxies",
                          "127.0.0.1/32",
                          "--metrics-listen",
                          "127.0.0.1:0",
                          NULL};
    mochi_test_proc_start(&in->collector, argv, env, false);
}

static void start_loadgen(struct instant *in, int seed)
{
    char sites[512] = "", env_preload[700], env_offset[64], env_asan[512], seed_arg[16];
    for (size_t s = 0; s < in->nsites; s++) {
        size_t used = strlen(sites);
        snprintf(sites + used, sizeof(sites) - used, "%s%s=%s@%s", s ? "," : "", in->sites[s].key,
                 in->sites[s].domain, in->sites[s].zone);
    }
    snprintf(env_offset, sizeof(env_offset), "FAKETIME=%+llds", in->offset);
    snprintf(seed_arg, sizeof(seed_arg), "%d", seed);
    preload(env_preload, sizeof(env_preload));
    asan_options(env_asan, sizeof(env_asan));
    /* The same offset as its collector: loadgen's oracle takes a page
     * view's minute, and so its day, from its own clock. */
    char *const env[] = {env_preload, env_offset, "FAKETIME_DONT_FAKE_MONOTONIC=1", env_asan, NULL};
    char duration[16];
    snprintf(duration, sizeof(duration), "%ds", SEND_S);
    char *const argv[] = {(char *)mochi_test_bin("mochi-loadgen"), "--url", in->url, "--sites",
                          sites, "--duration", duration, "--rate", (char *)in->rate,
                          "--connections", "4", "--visitors", "30", "--pages", "10", "--seed",
                          seed_arg,
                          /* above the p99 latency of a loaded 2-core box
                           * under ASan: no page view of unknown minute */
                          "--minute-guard", "1s", "--expect", in->expect, NULL};
    mochi_test_proc_start(&in->loadgen, argv, env, false);
}

/* The days of site key in the merged oracle, checked against the instant:
 * a crossing site has views on the local day before the instant and on
 * the one it starts, a site inside one day views on that day only. */
static void check_oracle_days(PGconn *conn, json_t *sites, const struct instant *in,
                              const struct site *site)
{
    char before[16], after[16];
    local_date(conn, site->zone, in->at, -1, before);
    local_date(conn, site->zone, in->at, 0, after);
    json_t *days = json_object_get(json_object_get(sites, site->key), "days");
    if (days == NULL)
        fail_msg("%s: not in loadgen's oracle", site->key);
    json_t *b = json_object_get(days, before), *a = json_object_get(days, after);
    long long views_b = json_integer_value(json_object_get(b, "page_views"));
    long long views_a = json_integer_value(json_object_get(a, "page_views"));
    long long uniq_b = json_integer_value(json_object_get(b, "unique_visitors"));
    long long uniq_a = json_integer_value(json_object_get(a, "unique_visitors"));
    print_message("%-24s %-18s %s %lld views %lld visitors, %s %lld views %lld visitors\n",
                  site->key, site->zone, before, views_b, uniq_b, after, views_a, uniq_a);
    if (site->crosses) {
        /* Two days, each with traffic; and more visitors on the two than
         * the pool holds, so that some were active on both sides. */
        if (json_object_size(days) != 2 || views_b == 0 || views_a == 0)
            fail_msg("%s: loadgen's traffic did not straddle the local midnight %s/%s", site->key,
                     before, after);
        if (uniq_b + uniq_a <= POOL)
            fail_msg("%s: %lld + %lld visitors: none need be active on both days", site->key,
                     uniq_b, uniq_a);
    } else {
        assert_string_equal(before, after); /* the instant is inside one local day */
        if (json_object_size(days) != 1 || views_a == 0)
            fail_msg("%s: expected views on %s only", site->key, after);
        assert_true(uniq_a <= POOL);
    }
}

/* A site whose local day the instant is inside: the collector's events
 * lie on both sides of the instant, and more visitors appeared before and
 * after it than the pool holds, so some appeared on both sides (the
 * hashes of one side are one salt's, so they count that side's visitors
 * whatever salt the other side had). */
static void check_straddles(PGconn *conn, const struct instant *in, const struct site *site)
{
    char sql[512];
    long long n[2], uniq[2];
    for (int side = 0; side < 2; side++) {
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM page_view_events e JOIN sites s ON s.id = e.site_id"
                 " WHERE s.tracking_key = '%s' AND occurred_at %s to_timestamp(%lld)",
                 site->key, side ? ">=" : "<", in->at);
        n[side] = mochi_test_db_int(conn, sql);
        snprintf(sql, sizeof(sql),
                 "SELECT count(DISTINCT visitor_hash) FROM page_view_events e"
                 " JOIN sites s ON s.id = e.site_id"
                 " WHERE s.tracking_key = '%s' AND occurred_at %s to_timestamp(%lld)",
                 site->key, side ? ">=" : "<", in->at);
        uniq[side] = mochi_test_db_int(conn, sql);
    }
    print_message("%-24s across UTC midnight: %lld views by %lld visitors before, %lld by %lld "
                  "after\n",
                  site->key, n[0], uniq[0], n[1], uniq[1]);
    assert_true(n[0] > 0);
    assert_true(n[1] > 0);
    if (uniq[0] + uniq[1] <= POOL)
        fail_msg("%s: %lld + %lld visitors: none need be active on both sides", site->key, uniq[0],
                 uniq[1]);
}

/* Merges the instants' oracles into one document at path: their sites
 * are disjoint, "published" adds up, and each must be exact. */
static json_t *merge_oracles(const char *path)
{
    json_t *sites = json_object();
    long long published = 0;
    for (size_t i = 0; i < NINSTANTS; i++) {
        json_error_t jerr;
        json_t *oracle = json_load_file(instants[i].expect, 0, &jerr);
        if (oracle == NULL)
            fail_msg("%s: %s", instants[i].expect, jerr.text);
        char *rejected = json_dumps(json_object_get(oracle, "rejected"), JSON_COMPACT);
        long long accepted = json_integer_value(json_object_get(oracle, "accepted"));
        long long sent = json_integer_value(json_object_get(oracle, "sent"));
        print_message("%s midnight: sent %lld accepted %lld published %lld rejected %s\n",
                      instants[i].zone, sent, accepted,
                      (long long)json_integer_value(json_object_get(oracle, "published")),
                      rejected);
        assert_int_equal(json_integer_value(json_object_get(oracle, "ambiguous")), 0);
        assert_int_equal(json_integer_value(json_object_get(oracle, "errors")), 0);
        assert_int_equal(json_integer_value(json_object_get(oracle, "unordered")), 0);
        /* The collector took every beacon: a 503 here would be a
         * collector whose fake day has no salt or no zone table. */
        assert_string_equal(rejected, "{}");
        assert_int_equal(accepted, sent);
        free(rejected);
        published += json_integer_value(json_object_get(oracle, "published"));
        const char *key;
        json_t *site;
        json_object_foreach(json_object_get(oracle, "sites"), key, site)
        {
            assert_null(json_object_get(sites, key));
            assert_int_equal(json_object_set(sites, key, site), 0);
        }
        json_decref(oracle);
    }
    json_t *merged = json_pack("{s:o,s:I,s:i,s:i,s:i}", "sites", sites, "published",
                               (json_int_t)published, "ambiguous", 0, "errors", 0, "unordered", 0);
    assert_non_null(merged);
    assert_int_equal(json_dump_file(merged, path, JSON_INDENT(2) | JSON_SORT_KEYS), 0);
    return merged;
}

static void midnights_in_five_zones(void **state)
{
    (void)state;
    int64_t t0 = mochi_test_now_ms();
    struct mochi_test_db db;
    mochi_test_db_create_migrated(&db);
    PGconn *conn = mochi_test_db_connect(&db);
    for (size_t i = 0; i < NINSTANTS; i++) {
        struct instant *in = &instants[i];
        for (size_t s = 0; s < in->nsites; s++) {
            char sql[512];
            snprintf(sql, sizeof(sql),
                     "INSERT INTO sites (name, domain, tracking_key, timezone)"
                     " VALUES ('%s', '%s', '%s', '%s')",
                     in->sites[s].domain, in->sites[s].domain, in->sites[s].key, in->sites[s].zone);
            mochi_test_db_exec(conn, sql);
        }
        snprintf(in->expect, sizeof(in->expect), "%s/expect-%zu.json", mochi_test_tmpdir(), i);
    }

    /* Apache Kafka refuses a message whose timestamp is more than
     * message.timestamp.after.max.ms (1 hour by default in 4.x) ahead of
     * the broker's clock: without this, not one event would arrive. The
     * collectors' producers stamp messages with their fake clocks, up to
     * a day ahead: the topic allows two. (The dev broker checks no
     * timestamp.) */
    char topic[64];
    snprintf(topic, sizeof(topic), "%s", mochi_test_unique("midnights"));
    const char *topics[] = {topic, NULL};
    const char *config[] = {"message.timestamp.after.max.ms", "172800000", NULL};
    struct mochi_test_kafka kafka;
    mochi_test_kafka_start_config(&kafka, 1, 3, topics, config);

    struct mochi_test_proc consumer, rollup;
    char *const consumer_args[] = {(char *)mochi_test_bin("mochi-consumer"),
                                   "--brokers",
                                   kafka.bootstrap,
                                   "--topic",
                                   topic,
                                   "--metrics-listen",
                                   "127.0.0.1:0",
                                   NULL};
    char *const rollup_args[] = {(char *)mochi_test_bin("mochi-rollup"),
                                 "--brokers",
                                 kafka.bootstrap,
                                 "--topic",
                                 topic,
                                 "--metrics-listen",
                                 "127.0.0.1:0",
                                 NULL};
    mochi_test_proc_start_as(&consumer, &db, "mochi_consumer", consumer_args);
    mochi_test_proc_start_as(&rollup, &db, "mochi_rollup", rollup_args);

    /* Each zone's next local midnight at least a minute away: the test's
     * input, asked of PostgreSQL's time zone database. Loadgens start at
     * `go` (real time), when each pair's fake clock reads LEAD_S seconds
     * before its instant. */
    for (size_t i = 0; i < NINSTANTS; i++) {
        char sql[512];
        snprintf(sql, sizeof(sql),
                 "SELECT extract(epoch FROM (date_trunc('day', (now() + interval '60 seconds')"
                 " AT TIME ZONE '%s') + interval '1 day') AT TIME ZONE '%s')::bigint",
                 instants[i].zone, instants[i].zone);
        instants[i].at = mochi_test_db_int(conn, sql);
    }
    long long go = (long long)time(NULL) + START_S;
    for (size_t i = 0; i < NINSTANTS; i++) {
        instants[i].offset = instants[i].at - LEAD_S - go;
        assert_true(instants[i].offset > 0 && instants[i].offset < 25 * 3600);
        start_collector(&instants[i], &db, kafka.bootstrap, topic);
    }
    for (size_t i = 0; i < NINSTANTS; i++)
        if (!mochi_test_wait_port(instants[i].port, 30000)) {
            char *log = mochi_test_read_file(instants[i].collector.log);
            fail_msg("collector for %s did not listen; its log:\n%s", instants[i].zone,
                     log ? log : "");
        }
    long long late = (long long)time(NULL) - go;
    if (late < 0)
        sleep((unsigned)-late);
    print_message("collectors up %lld s %s the planned start\n", late < 0 ? -late : late,
                  late <= 0 ? "before" : "after");
    for (size_t i = 0; i < NINSTANTS; i++)
        start_loadgen(&instants[i], (int)i + 1);

    int64_t deadline = mochi_test_now_ms() + (SEND_S + 60) * 1000;
    for (size_t i = 0; i < NINSTANTS; i++) {
        int status = 0;
        while (mochi_test_proc_alive(&instants[i].loadgen, &status)) {
            if (mochi_test_now_ms() > deadline) {
                mochi_test_proc_kill(&instants[i].loadgen);
                fail_msg("loadgen for %s still runs after %d s", instants[i].zone, SEND_S + 60);
            }
            usleep(200000);
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            char *log = mochi_test_read_file(instants[i].loadgen.log);
            fail_msg("loadgen for %s failed (status %d):\n%s", instants[i].zone, status,
                     log ? log : "");
        }
    }

    char merged_path[300];
    snprintf(merged_path, sizeof(merged_path), "%s/expect-merged.json", mochi_test_tmpdir());
    json_t *merged = merge_oracles(merged_path);
    json_t *sites = json_object_get(merged, "sites");
    for (size_t i = 0; i < NINSTANTS; i++)
        for (size_t s = 0; s < instants[i].nsites; s++)
            check_oracle_days(conn, sites, &instants[i], &instants[i].sites[s]);

    json_decref(merged);
    mochi_test_expect_oracle_tables(conn, merged_path, 90000, MOCHI_TEST_ORACLE_ALL);
    for (size_t i = 0; i < NINSTANTS; i++)
        for (size_t s = 0; s < instants[i].nsites; s++)
            if (!instants[i].sites[s].crosses)
                check_straddles(conn, &instants[i], &instants[i].sites[s]);
    PQfinish(conn);

    for (size_t i = 0; i < NINSTANTS; i++) {
        int status = mochi_test_proc_stop(&instants[i].collector, SIGTERM, 20000);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    int codes[2] = {mochi_test_proc_stop(&consumer, SIGTERM, 20000),
                    mochi_test_proc_stop(&rollup, SIGTERM, 20000)};
    for (int i = 0; i < 2; i++) {
        assert_true(WIFEXITED(codes[i]));
        assert_int_equal(WEXITSTATUS(codes[i]), 0);
    }
    mochi_test_kafka_stop(&kafka);
    mochi_test_db_drop(&db);
    print_message("midnights: %lld ms\n", (long long)(mochi_test_now_ms() - t0));
}

/* After a failure too: the faked programs still running get SIGTERM, so
 * that libfaketime removes its shared memory (/dev/shm/faketime_*), which
 * SIGKILL would leave behind. */
static int stop_faked(void **state)
{
    (void)state;
    for (size_t i = 0; i < NINSTANTS; i++) {
        if (instants[i].loadgen.pid > 0)
            mochi_test_proc_stop(&instants[i].loadgen, SIGTERM, 10000);
        if (instants[i].collector.pid > 0)
            mochi_test_proc_stop(&instants[i].collector, SIGTERM, 20000);
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(midnights_in_five_zones, stop_faked),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    mochi_test_cleanup();
    return failed;
}
