/* mochi-consumer as processes, against PostgreSQL and a dev Kafka broker:
 * deduplication, several instances, kill -9, a database outage, poison
 * messages, old events, SIGTERM, a member started past what is stored. The expected rows are
 * computed from the produced events by tests/harness/events.c, not by the consumer. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/clock.h"
#include "common/codec.h"
#include "tests/harness/events.h"
#include "tests/harness/harness.h"

#define SITE_A "11111111-1111-4111-8111-111111111111"
#define SITE_B "22222222-2222-4222-8222-222222222222"
#define SITE_C "33333333-3333-4333-8333-333333333333"
#define PARTITIONS 4
#define SITE_GONE "99999999-9999-4999-8999-999999999999" /* not in sites */
#define CAREFUL(reason) "mochi_consumer_careful_batches_total{reason=\"" reason "\"}"

struct fixture {
    struct mochi_test_db db;
    struct mochi_test_pg pg; /* only for the outage test */
    struct mochi_test_kafka kafka;
    struct mochi_test_proc consumers[4];
    char topic[64];
    char conninfo[600]; /* as mochi_consumer */
    struct mochi_schema_set *schemas;
    struct mochi_codec *codec;
};

static void add_sites(const struct mochi_test_db *db)
{
    PGconn *conn = mochi_test_db_connect(db);
    mochi_test_db_exec(conn, "INSERT INTO sites (id, name, domain, tracking_key) VALUES "
                             "('" SITE_A "', 'A', 'a.example', 'siteAkey_0000000000'),"
                             "('" SITE_B "', 'B', 'b.example', 'siteBkey_0000000000'),"
                             "('" SITE_C "', 'C', 'c.example', 'siteCkey_0000000000')");
    PQfinish(conn);
}

static int setup_common(struct fixture *f)
{
    snprintf(f->topic, sizeof(f->topic), "%s", mochi_test_unique("pv"));
    const char *topics[] = {f->topic, NULL};
    mochi_test_kafka_start(&f->kafka, 3, PARTITIONS, topics);
    mochi_test_codec_new(&f->schemas, &f->codec);
    return 0;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    mochi_test_db_create_migrated(&f->db);
    add_sites(&f->db);
    mochi_test_db_conninfo_as(&f->db, "mochi_consumer", f->conninfo, sizeof(f->conninfo));
    setup_common(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < 4; i++)
        mochi_test_proc_kill(&f->consumers[i]);
    mochi_test_kafka_stop(&f->kafka);
    if (f->pg.dir[0])
        mochi_test_pg_stop(&f->pg);
    else
        mochi_test_db_drop(&f->db);
    mochi_codec_destroy(f->codec);
    mochi_schema_set_destroy(f->schemas);
    free(f);
    return 0;
}

static void start_consumer(struct fixture *f, int i, const char *batch_size)
{
    mochi_test_stream_start(&f->consumers[i], "mochi-consumer", f->conninfo, f->kafka.bootstrap,
                            f->topic, batch_size);
}

static int stop_consumer(struct fixture *f, int i)
{
    return mochi_test_exit_code(mochi_test_proc_stop(&f->consumers[i], SIGTERM, 30000));
}

/* Waits until page_view_events holds `count` rows and stays there, then
 * compares it with the expected lines. */
static void expect_views(struct fixture *f, const char *expected, size_t count, int timeout_ms)
{
    PGconn *conn = mochi_test_db_connect(&f->db);
    int64_t deadline = mochi_test_now_ms() + timeout_ms;
    size_t got = 0;
    char *stored = NULL;
    for (;;) {
        free(stored);
        stored = mochi_test_stored_views(conn, &got);
        if (got >= count || mochi_test_now_ms() > deadline)
            break;
        usleep(200000);
    }
    if (strcmp(stored, expected) != 0) {
        print_message("expected %zu rows, page_view_events has %zu\n", count, got);
        for (int i = 0; i < 4; i++) { /* what the consumers say, for the diagnosis */
            if (f->consumers[i].pid <= 0)
                continue;
            char *log = mochi_test_read_file(f->consumers[i].log);
            size_t len = log ? strlen(log) : 0;
            print_message("consumer %d, the end of its log:\n%s\n", i,
                          log ? log + (len > 2500 ? len - 2500 : 0) : "(none)");
            free(log);
        }
        fail_msg("page_view_events differs from the distinct page views of the topic");
    }
    free(stored);
    PQfinish(conn);
}

static struct mochi_test_event one(const char *site, int visitor, const char *path, int64_t at_us,
                                   const char *referrer)
{
    struct mochi_test_event e;
    memset(&e, 0, sizeof(e));
    snprintf(e.site_id, sizeof(e.site_id), "%s", site);
    e.visitor = visitor;
    snprintf(e.path, sizeof(e.path), "%s", path);
    snprintf(e.referrer, sizeof(e.referrer), "%s", referrer ? referrer : "");
    e.at_us = at_us;
    return e;
}

/* Waits until the consumer has committed every message of the topic. */
static void expect_all_committed(struct fixture *f, const char *group)
{
    assert_true(
        mochi_test_kafka_wait_committed(f->kafka.bootstrap, group, f->topic, PARTITIONS, 30000));
}

static void duplicates_collapse_within_a_minute(void **state)
{
    struct fixture *f = *state;
    int64_t minute = mochi_minute_of_us(mochi_clock_now_us()) - 10 * MOCHI_US_PER_MINUTE;
    struct mochi_test_event evs[] = {
        one(SITE_A, 1, "/a", minute + 1000000, "https://first.example"),
        one(SITE_A, 1, "/a", minute + 30000000, "https://second.example"), /* same minute */
        one(SITE_A, 1, "/a", minute + 59999999, NULL),                     /* same minute */
        one(SITE_A, 1, "/a", minute + MOCHI_US_PER_MINUTE, NULL),          /* next minute */
        one(SITE_A, 2, "/a", minute + 2000000, NULL),                      /* another visitor */
        one(SITE_A, 1, "/b", minute + 3000000, NULL),                      /* another path */
        one(SITE_B, 1, "/a", minute + 4000000, NULL),                      /* another site */
    };
    size_t n = sizeof(evs) / sizeof(evs[0]);
    mochi_test_events_produce(f->kafka.bootstrap, f->topic, f->codec, evs, n);
    start_consumer(f, 0, "100");
    /* worked out by hand: rows 1, 4, 5, 6, 7 */
    size_t count = 0;
    char *expected = mochi_test_expected_views(evs, n, &count);
    assert_int_equal(count, 5);
    expect_views(f, expected, 5, 30000);
    PGconn *conn = mochi_test_db_connect(&f->db);
    char ref[128];
    assert_true(mochi_test_db_text(conn,
                                   "SELECT referrer FROM page_view_events WHERE path = '/a' AND "
                                   "site_id = '" SITE_A "' ORDER BY occurred_at LIMIT 1",
                                   ref, sizeof(ref)));
    assert_string_equal(ref, "https://first.example"); /* the first one stored wins */

    /* Redelivery: the same messages again add nothing. */
    mochi_test_events_produce(f->kafka.bootstrap, f->topic, f->codec, evs, n);
    expect_all_committed(f, "mochi-ingest");
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(*) FROM page_view_events"), 5);
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(*) FROM ingestion_dedupe"), 5);
    PQfinish(conn);
    free(expected);
    assert_int_equal(stop_consumer(f, 0), 0);
}

static void instances_join_and_leave_mid_stream(void **state)
{
    struct fixture *f = *state;
    const char *sites[] = {SITE_A, SITE_B, SITE_C};
    size_t n = 30000;
    struct mochi_test_event *evs = mochi_test_events_make(n, sites, 3, 3000, 40, 30, 1, 0.2, 42);
    size_t count = 0;
    char *expected = mochi_test_expected_views(evs, n, &count);
    start_consumer(f, 0, "500");
    start_consumer(f, 1, "500");
    mochi_test_events_produce(f->kafka.bootstrap, f->topic, f->codec, evs, n / 3);
    start_consumer(f, 2, "500"); /* a third joins */
    mochi_test_events_produce(f->kafka.bootstrap, f->topic, f->codec, evs + n / 3, n / 3);
    assert_int_equal(stop_consumer(f, 0), 0); /* one leaves */
    mochi_test_events_produce(f->kafka.bootstrap, f->topic, f->codec, evs + 2 * (n / 3),
                              n - 2 * (n / 3));
    expect_views(f, expected, count, 180000);
    print_message("%zu events, %zu distinct page views stored exactly\n", n, count);
    assert_int_equal(stop_consumer(f, 1), 0);
    assert_int_equal(stop_consumer(f, 2), 0);
    free(expected);
    free(evs);
}

/* Makes n events over the three sites (mochi_test_events_make's
 * visitors, paths, minutes, share of repeats and seed), produces them all
 * and returns them, with the distinct page views they should store. */
static struct mochi_test_event *produce_made(struct fixture *f, size_t n, int visitors, int paths,
                                             int minutes, double dup_share, unsigned seed,
                                             char **expected, size_t *count)
{
    const char *sites[] = {SITE_A, SITE_B, SITE_C};
    struct mochi_test_event *evs =
        mochi_test_events_make(n, sites, 3, visitors, paths, minutes, 1, dup_share, seed);
    *expected = mochi_test_expected_views(evs, n, count);
    mochi_test_events_produce(f->kafka.bootstrap, f->topic, f->codec, evs, n);
    return evs;
}

static void kill_9_at_random_moments(void **state)
{
    struct fixture *f = *state;
    size_t n = 40000, count = 0;
    char *expected = NULL;
    struct mochi_test_event *evs = produce_made(f, n, 5000, 60, 45, 0.25, 7, &expected, &count);
    srand(1234);
    start_consumer(f, 0, "300");
    start_consumer(f, 1, "300");
    for (int round = 0; round < 6; round++) {
        usleep(300000 + (unsigned)(rand() % 900) * 1000);
        int victim = rand() % 2;
        mochi_test_proc_kill(&f->consumers[victim]);
        start_consumer(f, victim, "300");
    }
    expect_views(f, expected, count, 240000);
    print_message("%zu events, %zu distinct page views, exact after 6 kill -9\n", n, count);
    assert_int_equal(stop_consumer(f, 0), 0);
    assert_int_equal(stop_consumer(f, 1), 0);
    free(expected);
    free(evs);
}

static int setup_private_pg(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    mochi_test_pg_start(&f->pg);
    mochi_test_pg_db(&f->pg, &f->db);
    add_sites(&f->db);
    snprintf(f->conninfo, sizeof(f->conninfo), "host=%s user=mochi_consumer dbname=%s", f->pg.host,
             f->db.name);
    setup_common(f);
    *state = f;
    return 0;
}

static void database_outage_mid_stream(void **state)
{
    struct fixture *f = *state;
    const char *sites[] = {SITE_A, SITE_B};
    size_t n = 20000;
    struct mochi_test_event *evs = mochi_test_events_make(n, sites, 2, 2000, 30, 30, 1, 0.2, 99);
    size_t count = 0;
    char *expected = mochi_test_expected_views(evs, n, &count);
    start_consumer(f, 0, "200");
    mochi_test_events_produce(f->kafka.bootstrap, f->topic, f->codec, evs, n / 2);
    usleep(500000);
    mochi_test_pg_stop(&f->pg);
    mochi_test_events_produce(f->kafka.bootstrap, f->topic, f->codec, evs + n / 2, n - n / 2);
    sleep(3);
    int status;
    assert_true(mochi_test_proc_alive(&f->consumers[0], &status)); /* it waits, it does not die */
    mochi_test_pg_start(&f->pg);
    expect_views(f, expected, count, 180000);
    char *log = mochi_test_read_file(f->consumers[0].log);
    assert_non_null(strstr(log, "database back, resuming"));
    free(log);
    assert_int_equal(stop_consumer(f, 0), 0);
    free(expected);
    free(evs);
}

static void poison_messages_go_to_the_dlq(void **state)
{
    struct fixture *f = *state;
    int64_t minute = mochi_minute_of_us(mochi_clock_now_us()) - 5 * MOCHI_US_PER_MINUTE;
    struct mochi_test_event good[] = {
        one(SITE_A, 1, "/before", minute, NULL),
        one(SITE_A, 2, "/after", minute + 1000000, NULL),
    };
    unsigned char enc[MOCHI_PAGEVIEW_WIRE_MAX];
    size_t len = 0;
    struct mochi_pageview ev;
    memset(&ev, 0, sizeof(ev));
    snprintf(ev.site_id, sizeof(ev.site_id), SITE_A);
    snprintf(ev.path, sizeof(ev.path), "/poison");
    snprintf(ev.visitor_hash, sizeof(ev.visitor_hash), "%032x", 9);
    ev.occurred_at_us = minute;
    mochi_pageview_fill_v1(&ev);
    assert_int_equal(mochi_codec_encode(f->codec, &ev, enc, sizeof(enc), &len), 0);
    unsigned char wrong_magic[MOCHI_PAGEVIEW_WIRE_MAX], unknown_id[MOCHI_PAGEVIEW_WIRE_MAX];
    memcpy(wrong_magic, enc, len);
    wrong_magic[0] = 0x01;
    memcpy(unknown_id, enc, len);
    unknown_id[4] = 0x63; /* id 99 */
    unsigned char random_bytes[64];
    for (size_t i = 0; i < sizeof(random_bytes); i++)
        random_bytes[i] = (unsigned char)(i * 37 + 11);
    random_bytes[0] = 0x7b;

    mochi_test_events_produce(f->kafka.bootstrap, f->topic, f->codec, &good[0], 1);
    struct mochi_test_producer *p = mochi_test_producer_new(f->kafka.bootstrap);
    mochi_test_produce(p, f->topic, SITE_A, random_bytes, sizeof(random_bytes));
    mochi_test_produce(p, f->topic, SITE_A, wrong_magic, len);
    mochi_test_produce(p, f->topic, SITE_A, unknown_id, len);
    mochi_test_produce(p, f->topic, SITE_A, enc, len - 7); /* truncated Avro */
    mochi_test_producer_close(p, 30000);
    mochi_test_events_produce(f->kafka.bootstrap, f->topic, f->codec, &good[1], 1);
    start_consumer(f, 0, "100");

    size_t count = 0;
    char *expected = mochi_test_expected_views(good, 2, &count);
    expect_views(f, expected, 2, 30000);
    free(expected);
    char dlq[80];
    snprintf(dlq, sizeof(dlq), "%s.dlq", f->topic);
    struct mochi_test_message *msgs =
        mochi_test_kafka_read_all(f->kafka.bootstrap, dlq, 4, 30000, &count);
    assert_int_equal(count, 4);
    const char *errors[] = {"bad_magic_byte", "bad_magic_byte", "unknown_schema_id", "truncated"};
    const unsigned char *values[] = {random_bytes, wrong_magic, unknown_id, enc};
    size_t lens[] = {sizeof(random_bytes), len, len, len - 7};
    for (size_t i = 0; i < count; i++) {
        char want[128];
        snprintf(want, sizeof(want), "mochi.error=%s\n", errors[i]);
        assert_non_null(strstr(msgs[i].headers, want));
        snprintf(want, sizeof(want), "mochi.source.topic=%s\n", f->topic);
        assert_non_null(strstr(msgs[i].headers, want));
        assert_non_null(strstr(msgs[i].headers, "mochi.source.partition="));
        assert_non_null(strstr(msgs[i].headers, "mochi.source.offset="));
        assert_int_equal(msgs[i].len, lens[i]); /* unchanged */
        assert_memory_equal(msgs[i].value, values[i], lens[i]);
        assert_string_equal(msgs[i].key, SITE_A);
    }
    mochi_test_messages_free(msgs, count);
    assert_int_equal(stop_consumer(f, 0), 0);
}

static void old_events_are_refused_and_counted(void **state)
{
    struct fixture *f = *state;
    int64_t now_minute = mochi_minute_of_us(mochi_clock_now_us()) - 2 * MOCHI_US_PER_MINUTE;
    struct mochi_test_event evs[] = {
        one(SITE_A, 1, "/recent", now_minute, NULL),
        one(SITE_A, 1, "/old", now_minute - 3 * 3600 * INT64_C(1000000), NULL),
    };
    mochi_test_events_produce(f->kafka.bootstrap, f->topic, f->codec, evs, 2);
    char db_env[700];
    snprintf(db_env, sizeof(db_env), "MOCHI_DATABASE_URL=%s", f->conninfo);
    char *argv[] = {(char *)mochi_test_bin("mochi-consumer"),
                    "--brokers",
                    f->kafka.bootstrap,
                    "--topic",
                    f->topic,
                    "--metrics-listen",
                    "127.0.0.1:0", /* any free port: never collides */
                    "--dedupe-retention",
                    "1h",
                    NULL};
    char *const env[] = {db_env, NULL};
    mochi_test_proc_start(&f->consumers[0], argv, env, false);
    int port = mochi_test_metrics_port(&f->consumers[0], 20000);
    size_t count = 0;
    char *expected = mochi_test_expected_views(evs, 1, &count);
    expect_views(f, expected, 1, 30000);
    free(expected);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", port);
    struct mochi_test_response r;
    /* Lag comes from librdkafka's statistics, every 5 s. */
    int64_t deadline = mochi_test_now_ms() + 20000;
    bool seen = false;
    while (!seen && mochi_test_now_ms() < deadline) {
        mochi_test_http("GET", url, NULL, NULL, &r);
        seen = strstr(r.body, "mochi_consumer_events_total{outcome=\"too_old\"} 1\n") != NULL &&
               strstr(r.body, "mochi_consumer_lag_messages{topic=") != NULL;
        if (seen)
            assert_non_null(strstr(r.body, "mochi_consumer_events_total{outcome=\"stored\"} 1\n"));
        mochi_test_response_free(&r);
        usleep(100000);
    }
    assert_true(seen);
    assert_int_equal(stop_consumer(f, 0), 0);
}

static void sigterm_commits_and_exits_0(void **state)
{
    struct fixture *f = *state;
    const char *sites[] = {SITE_A, SITE_B, SITE_C};
    size_t n = 5000;
    struct mochi_test_event *evs = mochi_test_events_make(n, sites, 3, 500, 20, 10, 1, 0.1, 5);
    mochi_test_events_produce(f->kafka.bootstrap, f->topic, f->codec, evs, n);
    size_t count = 0;
    char *expected = mochi_test_expected_views(evs, n, &count);
    start_consumer(f, 0, "1000");
    expect_views(f, expected, count, 60000);
    assert_int_equal(stop_consumer(f, 0), 0);
    int64_t ends[PARTITIONS], committed[PARTITIONS];
    mochi_test_kafka_end_offsets(f->kafka.bootstrap, f->topic, PARTITIONS, ends);
    mochi_test_kafka_committed(f->kafka.bootstrap, "mochi-ingest", f->topic, PARTITIONS, committed);
    for (int p = 0; p < PARTITIONS; p++)
        if (ends[p] > 0)
            assert_int_equal(committed[p], ends[p]);
    char *log = mochi_test_read_file(f->consumers[0].log);
    assert_non_null(strstr(log, "leaving the group"));
    free(log);
    free(expected);
    free(evs);
}

/* Kafka's committed offsets say nothing of what PostgreSQL holds: a
 * member that starts at the log end (a new group with
 * auto.offset.reset=latest, standing for offsets moved forward by hand or
 * a client that skipped messages) finds its first marks past
 * ingest_progress, and reads those partitions again from there instead of
 * committing past messages never stored. (Without the check the second
 * half is never stored.) */
static void a_member_started_past_the_stored_reads_again(void **state)
{
    struct fixture *f = *state;
    const char *sites[] = {SITE_A, SITE_B, SITE_C};
    struct mochi_test_event evs[400];
    int64_t now = mochi_clock_now_us();
    for (size_t i = 0; i < 400; i++) {
        char path[32];
        snprintf(path, sizeof(path), "/read-again/%zu", i); /* each one distinct */
        evs[i] = one(sites[i % 3], (int)(i % 37), path, now - (int64_t)(i % 90) * 1000000, NULL);
    }
    mochi_test_events_produce(f->kafka.bootstrap, f->topic, f->codec, evs, 200);
    start_consumer(f, 0, "50");
    size_t count = 0;
    char *expected = mochi_test_expected_views(evs, 200, &count);
    expect_views(f, expected, count, 30000);
    free(expected);
    expect_all_committed(f, "mochi-ingest");
    assert_int_equal(stop_consumer(f, 0), 0);

    mochi_test_events_produce(f->kafka.bootstrap, f->topic, f->codec, evs + 200, 200);
    char group[64];
    snprintf(group, sizeof(group), "%s", mochi_test_unique("late"));
    const char *const late[] = {"--group", group, "-X", "auto.offset.reset=latest", NULL};
    mochi_test_stream_start_with(&f->consumers[1], "mochi-consumer", f->conninfo,
                                 f->kafka.bootstrap, f->topic, NULL, late);
    /* The member, at the log end, reads nothing until traffic comes: one
     * more event per site every 300 ms, until it has found the gap. */
    int port = mochi_test_metrics_port(&f->consumers[1], 20000);
    struct mochi_test_event all[400 + 3 * 100];
    memcpy(all, evs, sizeof(evs));
    size_t n = 400;
    while (mochi_test_metric(port, "mochi_consumer_offset_gaps_total") < 1 && n < 400 + 3 * 100) {
        for (size_t s = 0; s < 3; s++, n++) {
            char path[32];
            snprintf(path, sizeof(path), "/after/%zu", n);
            all[n] = one(sites[s], 5, path, mochi_clock_now_us(), NULL);
        }
        mochi_test_events_produce(f->kafka.bootstrap, f->topic, f->codec, all + n - 3, 3);
        usleep(300000);
    }
    assert_true(n < 400 + 3 * 100); /* found within 30 s */
    expected = mochi_test_expected_views(all, n, &count);
    expect_views(f, expected, count, 60000);
    free(expected);
    assert_true(mochi_test_metric(port, "mochi_consumer_offset_gaps_total") >= 1);
    char *log = mochi_test_read_file(f->consumers[1].log);
    assert_non_null(strstr(log, "msg=\"read past what the database applied: reading again from "
                                "there\""));
    free(log);
    expect_all_committed(f, group);
    assert_int_equal(mochi_test_exit_code(mochi_test_proc_stop(&f->consumers[1], SIGTERM, 30000)),
                     0);
}

static void unknown_sites_are_counted_not_stored(void **state)
{
    struct fixture *f = *state;
    int64_t minute = mochi_minute_of_us(mochi_clock_now_us()) - 5 * MOCHI_US_PER_MINUTE;
    struct mochi_test_event evs[] = {
        one(SITE_A, 1, "/kept", minute, NULL),
        one(SITE_GONE, 1, "/lost", minute, NULL), /* a site removed while in Kafka */
        one(SITE_GONE, 2, "/lost", minute, NULL),
        one(SITE_B, 3, "/kept", minute + 1000000, NULL),
    };
    mochi_test_events_produce(f->kafka.bootstrap, f->topic, f->codec, evs, 4);
    start_consumer(f, 0, "100");
    int port = mochi_test_metrics_port(&f->consumers[0], 20000);
    struct mochi_test_event known[] = {evs[0], evs[3]};
    size_t count = 0;
    char *expected = mochi_test_expected_views(known, 2, &count);
    expect_views(f, expected, count, 30000);
    free(expected);
    expect_all_committed(f, "mochi-ingest");
    assert_int_equal(mochi_test_metric(port, "mochi_consumer_events_total{outcome=\"stored\"}"), 2);
    assert_int_equal(
        mochi_test_metric(port, "mochi_consumer_events_total{outcome=\"unknown_site\"}"), 2);
    assert_int_equal(mochi_test_metric(port, "mochi_consumer_events_total{outcome=\"duplicate\"}"),
                     0);
    PGconn *conn = mochi_test_db_connect(&f->db);
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(*) FROM ingestion_dedupe WHERE "
                                             "site_id = '" SITE_GONE "'"),
                     0);
    PQfinish(conn);
    assert_int_equal(stop_consumer(f, 0), 0);
}

/* DESIGN.md's dedupe key, computed here from its definition. */
static void dedupe_key_of(const struct mochi_test_event *e, char hex[33])
{
    char visitor[33];
    snprintf(visitor, sizeof(visitor), "%032x", (unsigned)e->visitor);
    unsigned char input[33 + sizeof(e->path)], out[16];
    size_t len = strlen(e->path);
    memcpy(input, visitor, 32);
    input[32] = 0x00;
    memcpy(input + 33, e->path, len);
    crypto_generichash(out, sizeof(out), input, 33 + len, NULL, 0);
    sodium_bin2hex(hex, 33, out, sizeof(out));
}

/* Another writer (a consumer that lost its partitions while it still held
 * a batch) commits one of the batch's page views after the consumer has
 * checked for it: the primary key refuses the consumer's copy, and the
 * consumer applies the batch again instead of failing or storing it twice. */
static void a_concurrent_writer_wins_the_race(void **state)
{
    struct fixture *f = *state;
    int64_t minute = mochi_minute_of_us(mochi_clock_now_us()) - 5 * MOCHI_US_PER_MINUTE;
    struct mochi_test_event evs[] = {
        one(SITE_A, 7, "/raced", minute + 5000000, NULL),
        one(SITE_A, 8, "/calm", minute + 6000000, NULL),
    };
    char key[33], sql[512];
    dedupe_key_of(&evs[0], key);
    PGconn *other = mochi_test_db_connect(&f->db);
    mochi_test_db_exec(other, "BEGIN");
    snprintf(sql, sizeof(sql),
             "INSERT INTO ingestion_dedupe (site_id, dedupe_key, occurred_minute) VALUES "
             "('" SITE_A "', '%s', to_timestamp(%lld))",
             key, (long long)(minute / 1000000));
    mochi_test_db_exec(other, sql);
    mochi_test_events_produce(f->kafka.bootstrap, f->topic, f->codec, evs, 2);
    start_consumer(f, 0, "100");
    /* The consumer's COPY waits for the other writer's uncommitted key. */
    PGconn *watch = mochi_test_db_connect(&f->db);
    int64_t deadline = mochi_test_now_ms() + 30000;
    while (mochi_test_db_int(watch, "SELECT count(*) FROM pg_stat_activity WHERE usename = "
                                    "'mochi_consumer' AND wait_event_type = 'Lock'") == 0) {
        if (mochi_test_now_ms() > deadline)
            fail_msg("the consumer never waited for the other writer");
        usleep(50000);
    }
    mochi_test_db_exec(other, "COMMIT");
    size_t count = 0;
    char *expected = mochi_test_expected_views(&evs[1], 1, &count);
    expect_views(f, expected, count, 30000);
    free(expected);
    expect_all_committed(f, "mochi-ingest");
    assert_int_equal(mochi_test_db_int(watch, "SELECT count(*) FROM page_view_events"), 1);
    assert_int_equal(mochi_test_db_int(watch, "SELECT count(*) FROM ingestion_dedupe"), 2);
    PQfinish(watch);
    PQfinish(other);
    /* The batch met the stored page view and was applied again, carefully. */
    int port = mochi_test_metrics_port(&f->consumers[0], 20000);
    assert_int_equal(mochi_test_metric(port, CAREFUL("conflict")), 1);
    assert_int_equal(stop_consumer(f, 0), 0);
}

/* Index scans of ingestion_dedupe's partitions, as PostgreSQL's statistics
 * count them, once the statistics show every row the consumer stored (a
 * backend reports them at exit, or when idle, at most once a second). */
static long long dedupe_lookups(PGconn *conn, long long stored)
{
    int64_t deadline = mochi_test_now_ms() + 20000;
    while (mochi_test_db_int(conn, "SELECT coalesce(sum(n_tup_ins), 0) FROM pg_stat_user_tables"
                                   " WHERE relname LIKE 'page_view_events%'") < stored) {
        if (mochi_test_now_ms() > deadline)
            fail_msg("the statistics never showed the %lld rows stored", stored);
        usleep(100000);
    }
    return mochi_test_db_int(conn, "SELECT coalesce(sum(idx_scan), 0) FROM pg_stat_user_indexes"
                                   " WHERE relname LIKE 'ingestion_dedupe%'");
}

static long long careful_batches(int port)
{
    static const char *const samples[] = {CAREFUL("reread"), CAREFUL("other_writer"),
                                          CAREFUL("conflict"), CAREFUL("after")};
    long long sum = 0;
    for (size_t r = 0; r < sizeof(samples) / sizeof(samples[0]); r++) {
        long long value = mochi_test_metric(port, samples[r]);
        assert_true(value >= 0); /* the sample is there */
        sum += value;
    }
    return sum;
}

/* Careful mode (every page view looked up in ingestion_dedupe) where a
 * batch may hold page views stored by someone else, and only there:
 *   1. a new topic drains without a careful batch: only repeats of what
 *      the consumer itself stored are looked up;
 *   2. a member of another group reads it all again: every batch is a
 *      reread, applied carefully at the first try, nothing stored twice;
 *   3. the first group again, in a new process, gets exact re-sends of
 *      page views that earlier processes stored: careful (other_writer)
 *      at the first try, so the primary key never has to refuse them. */
static void careful_only_where_stored_page_views_may_be(void **state)
{
    struct fixture *f = *state;
    size_t n = 3000, count = 0;
    char *expected = NULL;
    struct mochi_test_event *evs = produce_made(f, n, 400, 30, 20, 0.2, 5, &expected, &count);
    start_consumer(f, 0, "200");
    expect_views(f, expected, count, 60000);
    expect_all_committed(f, "mochi-ingest");
    int port = mochi_test_metrics_port(&f->consumers[0], 20000);
    assert_int_equal(careful_batches(port), 0);
    assert_int_equal(mochi_test_metric(port, "mochi_consumer_events_total{outcome=\"stored\"}"),
                     (long long)count);
    assert_int_equal(stop_consumer(f, 0), 0);
    PGconn *conn = mochi_test_db_connect(&f->db);
    /* Only the repeats of page views it stored itself (struct recent) are
     * looked up: at most the events that repeat another. */
    long long lookups = dedupe_lookups(conn, (long long)count);
    print_message("%zu events, %zu page views: %lld lookups\n", n, count, lookups);
    assert_true(lookups <= (long long)(n - count));

    /* 2. Another group, from the start of the topic. */
    char group[64];
    snprintf(group, sizeof(group), "%s", mochi_test_unique("again"));
    const char *const again[] = {"--group", group, NULL};
    mochi_test_stream_start_with(&f->consumers[1], "mochi-consumer", f->conninfo,
                                 f->kafka.bootstrap, f->topic, "200", again);
    expect_all_committed(f, group);
    port = mochi_test_metrics_port(&f->consumers[1], 20000);
    assert_true(mochi_test_metric(port, CAREFUL("reread")) >= PARTITIONS);
    assert_int_equal(mochi_test_metric(port, CAREFUL("conflict")), 0);
    assert_int_equal(mochi_test_metric(port, "mochi_consumer_events_total{outcome=\"stored\"}"), 0);
    assert_int_equal(mochi_test_metric(port, "mochi_consumer_events_total{outcome=\"duplicate\"}"),
                     (long long)n);
    assert_int_equal(stop_consumer(f, 1), 0);
    assert_true(dedupe_lookups(conn, (long long)count) >= (long long)count);

    /* 3. The first group again, in a new process: the rows were written
     * by the processes before; the re-sends are new offsets of stored page
     * views. */
    start_consumer(f, 0, "200");
    mochi_test_events_produce(f->kafka.bootstrap, f->topic, f->codec, evs, 600);
    expect_all_committed(f, "mochi-ingest");
    port = mochi_test_metrics_port(&f->consumers[0], 20000);
    assert_true(mochi_test_metric(port, CAREFUL("other_writer")) >= 1);
    assert_int_equal(mochi_test_metric(port, CAREFUL("conflict")), 0);
    assert_int_equal(mochi_test_metric(port, "mochi_consumer_events_total{outcome=\"stored\"}"), 0);
    assert_int_equal(mochi_test_metric(port, "mochi_consumer_events_total{outcome=\"duplicate\"}"),
                     600);
    assert_int_equal(stop_consumer(f, 0), 0);
    expect_views(f, expected, count, 30000);
    PQfinish(conn);
    free(expected);
    free(evs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(duplicates_collapse_within_a_minute, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_sites_are_counted_not_stored, setup, teardown),
        cmocka_unit_test_setup_teardown(a_member_started_past_the_stored_reads_again, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_concurrent_writer_wins_the_race, setup, teardown),
        cmocka_unit_test_setup_teardown(careful_only_where_stored_page_views_may_be, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(poison_messages_go_to_the_dlq, setup, teardown),
        cmocka_unit_test_setup_teardown(old_events_are_refused_and_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(sigterm_commits_and_exits_0, setup, teardown),
        cmocka_unit_test_setup_teardown(instances_join_and_leave_mid_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(kill_9_at_random_moments, setup, teardown),
        cmocka_unit_test_setup_teardown(database_outage_mid_stream, setup_private_pg, teardown),
    };
    if (getenv("MOCHI_TEST_FILTER") != NULL) /* e.g. "kill_9*" to run one test */
        cmocka_set_test_filter(getenv("MOCHI_TEST_FILTER"));
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    mochi_test_cleanup();
    return failed;
}
