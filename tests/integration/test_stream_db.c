/* The stream's database side (stream/db.c) against the fixture's
 * PostgreSQL, without Kafka: what a failed prepare reports (it once
 * logged an uninitialised buffer), reconnecting, day partitions made on
 * demand, before 1970 too, and rows sent in COPY's binary format
 * (common/copy.h), as the consumer sends its batches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/copy.h"
#include "common/error.h"
#include "stream/db.h"
#include "tests/harness/harness.h"

static const char *const outcomes[] = {"stored", NULL};

struct fixture {
    struct mochi_test_db db;
    int prepare_rc; /* what the prepare hook answers */
    int prepare_calls;
    struct mochi_stream_ops ops;
    struct mochi_metrics *registry;
    struct mochi_stream_metrics *metrics;
    struct stream_db sdb;
};

static int prepare_hook(void *arg, PGconn *conn)
{
    struct fixture *f = arg;
    assert_int_equal(PQstatus(conn), CONNECTION_OK); /* only with a live connection */
    f->prepare_calls++;
    return f->prepare_rc;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    mochi_test_db_create_migrated(&f->db);
    f->ops = (struct mochi_stream_ops){
        .program = "test_stream_db",
        .component = "test",
        .outcomes = outcomes,
        .arg = f,
        .prepare = prepare_hook,
    };
    f->registry = mochi_metrics_new();
    assert_non_null(f->registry);
    assert_int_equal(mochi_stream_metrics_new(f->registry, &f->ops, &f->metrics), 0);
    f->sdb = (struct stream_db){
        .conninfo = f->db.conninfo,
        .ops = &f->ops,
        .metrics = f->metrics,
    };
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    stream_db_close(&f->sdb);
    mochi_metrics_destroy(f->registry);
    mochi_stream_metrics_destroy(f->metrics);
    mochi_test_db_drop(&f->db);
    free(f);
    return 0;
}

/* A prepare that fails after the connection worked: the reason names the
 * hook and its code, and nothing of what the buffer held before. */
static void failed_prepare_is_reported(void **state)
{
    struct fixture *f = *state;
    f->prepare_rc = MOCHI_ERR_DB;
    char err[512];
    memset(err, 'X', sizeof(err) - 1);
    err[sizeof(err) - 1] = '\0';
    assert_int_equal(stream_db_ensure(&f->sdb, err, sizeof(err)), MOCHI_ERR_AGAIN);
    assert_int_equal(f->prepare_calls, 1);
    const char *prefix = "preparing the connection failed: ";
    assert_int_equal(strncmp(err, prefix, strlen(prefix)), 0);
    assert_true(strlen(err) > strlen(prefix));
    assert_null(strchr(err, 'X'));
    assert_null(f->sdb.conn);
    assert_true(mochi_metric_value(f->metrics->db_up) == 0);
    assert_true(mochi_metric_value(f->metrics->reconnects) == 0);

    /* The next try connects and prepares again. */
    f->prepare_rc = 0;
    assert_int_equal(stream_db_ensure(&f->sdb, err, sizeof(err)), 0);
    assert_int_equal(f->prepare_calls, 2);
    assert_non_null(f->sdb.conn);
    assert_true(mochi_metric_value(f->metrics->db_up) == 1);
    assert_true(mochi_metric_value(f->metrics->reconnects) == 1);
    /* A live connection is kept, not prepared again. */
    assert_int_equal(stream_db_ensure(&f->sdb, err, sizeof(err)), 0);
    assert_int_equal(f->prepare_calls, 2);
}

/* No server: libpq's reason, and the hook is not called. */
static void unreachable_server_is_reported(void **state)
{
    struct fixture *f = *state;
    f->sdb.conninfo = "host=127.0.0.1 port=1 dbname=none connect_timeout=2";
    char err[512] = "";
    assert_int_equal(stream_db_ensure(&f->sdb, err, sizeof(err)), MOCHI_ERR_AGAIN);
    assert_int_equal(f->prepare_calls, 0);
    assert_true(strlen(err) > 0);
    assert_null(strstr(err, "preparing"));
}

static long long partitions_of(PGconn *conn, const char *day)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM day_partitions WHERE day = '%s'", day);
    return mochi_test_db_int(conn, sql);
}

/* The days of a batch's events, UTC and site-local, get their partitions;
 * a day is asked for once until the next reconnect. */
static void day_partitions_made_on_demand(void **state)
{
    struct fixture *f = *state;
    char err[512];
    assert_int_equal(stream_db_ensure(&f->sdb, err, sizeof(err)), 0);
    struct mochi_stream_event events[3];
    memset(events, 0, sizeof(events));
    /* Local days (days since 1970-01-01, counted by hand): at UTC+14,
     * UTC-12 and UTC+14 again. */
    events[0].ev.occurred_at_us = INT64_C(1583020799999999); /* 2020-02-29T23:59:59.999999Z */
    events[0].ev.day = 18322;                                /* 2020-03-01 */
    events[1].ev.occurred_at_us = INT64_C(1583020800000000); /* 2020-03-01T00:00:00Z */
    events[1].ev.day = 18321;                                /* 2020-02-29 */
    events[2].ev.occurred_at_us = INT64_C(-1);               /* 1969-12-31T23:59:59.999999Z */
    events[2].ev.day = 0;                                    /* 1970-01-01 */
    struct stream_batch b = {.events = events, .nevents = 3};
    PGconn *conn = mochi_test_db_connect(&f->db);
    long long tables = mochi_test_db_int(conn, "SELECT count(*) FROM partitioned_tables");
    assert_true(tables > 0);
    assert_int_equal(partitions_of(conn, "2020-02-29"), 0);
    assert_int_equal(stream_db_ensure_days(&f->sdb, &b), 0);
    assert_int_equal(partitions_of(conn, "2020-02-29"), tables);
    assert_int_equal(partitions_of(conn, "2020-03-01"), tables);
    assert_int_equal(partitions_of(conn, "1969-12-31"), tables);
    assert_int_equal(partitions_of(conn, "1970-01-01"), tables);
    assert_int_equal(f->sdb.nknown_days, 4);
    assert_int_equal(stream_db_ensure_days(&f->sdb, &b), 0);
    assert_int_equal(f->sdb.nknown_days, 4);
    PQfinish(conn);
}

/* Binary COPY rows land as PostgreSQL reads them: texts byte for byte
 * (with what the text format must escape), NULL, UUIDs, integers at their
 * limits, booleans, and instants and dates before and after PostgreSQL's
 * own epoch (2000-01-01), each checked against its text form written here
 * by hand. Rows can be cut and joined; a malformed UUID fails the buffer,
 * and nothing is sent. */
static void binary_copy_round_trip(void **state)
{
    struct fixture *f = *state;
    PGconn *conn = mochi_test_db_connect(&f->db);
    mochi_test_db_exec(conn, "CREATE TABLE b (n int, u uuid, t text, at timestamptz, d date,"
                             " ok boolean, k int)");
    static const struct {
        const char *uuid, *text;
        int64_t us, day;
        int ok;
        int32_t k;
        const char *want; /* n|u|t|at in UTC|d|ok|k */
    } rows[] = {
        {"0b7e2c3a-9d41-4f6e-8a5b-1c2d3e4f5a6b", "/a\tb\\c\nd\re", INT64_C(0), 0, 1, -7,
         "0|0b7e2c3a-9d41-4f6e-8a5b-1c2d3e4f5a6b|/a\tb\\c\nd\re|1970-01-01 "
         "00:00:00|1970-01-01|true|-7"},
        {"FFFFFFFF-0000-4000-8000-000000000001", NULL, INT64_C(946684800000000), 10957, 0, 0,
         "1|ffffffff-0000-4000-8000-000000000001|(null)|2000-01-01 00:00:00|2000-01-01|false|0"},
        {"00000000-0000-0000-0000-000000000000", "/caf\xc3\xa9/\xe6\x97\xa5",
         INT64_C(1795698000123456), 20783, 1, INT32_MAX,
         "2|00000000-0000-0000-0000-000000000000|/caf\xc3\xa9/\xe6\x97\xa5|2026-11-26 "
         "13:00:00.123456|2026-11-26|true|2147483647"},
        {"12345678-9abc-def0-1234-56789abcdef0", "", INT64_C(-1), -1, 0, INT32_MIN,
         "3|12345678-9abc-def0-1234-56789abcdef0||1969-12-31 "
         "23:59:59.999999|1969-12-31|false|-2147483648"},
    };
    size_t nrows = sizeof(rows) / sizeof(rows[0]);
    struct mochi_copy_buf buf = {0};
    size_t ends[4];
    for (size_t i = 0; i < nrows; i++) {
        mochi_copyb_row(&buf, 7);
        mochi_copyb_int4(&buf, (int32_t)i);
        mochi_copyb_uuid(&buf, rows[i].uuid);
        mochi_copyb_text(&buf, rows[i].text);
        mochi_copyb_time(&buf, rows[i].us);
        mochi_copyb_date(&buf, rows[i].day);
        mochi_copyb_bool(&buf, rows[i].ok);
        mochi_copyb_int4(&buf, rows[i].k);
        ends[i] = buf.len;
    }
    assert_false(buf.failed);
    /* rows 1 and 3 only, as the consumer cuts what it must not store */
    struct mochi_copy_buf some = {0};
    mochi_copy_raw(&some, buf.data + ends[0], ends[1] - ends[0]);
    mochi_copy_raw(&some, buf.data + ends[2], ends[3] - ends[2]);
    char err[512] = "";
    const char *sql = "COPY b FROM STDIN (FORMAT binary)";
    assert_int_equal(mochi_copy_send_binary(conn, sql, &buf, err, sizeof(err)), 0);
    assert_int_equal(mochi_copy_send_binary(conn, sql, &some, err, sizeof(err)), 0);
    PGresult *res = PQexec(conn, "SELECT n || '|' || u || '|' || coalesce(t, '(null)') || '|'"
                                 " || to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')"
                                 " || CASE WHEN extract(microseconds FROM at)::int % 1000000 = 0"
                                 " THEN '' ELSE '.' || lpad((extract(microseconds FROM at)::int"
                                 " % 1000000)::text, 6, '0') END"
                                 " || '|' || d || '|' || ok || '|' || k"
                                 " FROM b ORDER BY n, ctid");
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    static const int want_rows[] = {0, 1, 1, 2, 3, 3};
    assert_int_equal(PQntuples(res), 6);
    for (int r = 0; r < PQntuples(res); r++)
        assert_string_equal(PQgetvalue(res, r, 0), rows[want_rows[r]].want);
    PQclear(res);

    /* not a UUID: the buffer fails, the COPY is not sent */
    mochi_copy_reset(&buf);
    mochi_copyb_row(&buf, 7);
    mochi_copyb_int4(&buf, 9);
    mochi_copyb_uuid(&buf, "not-a-uuid");
    assert_true(buf.failed);
    assert_int_not_equal(mochi_copy_send_binary(conn, sql, &buf, err, sizeof(err)), 0);
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(*) FROM b"), 6);
    mochi_copy_free(&buf);
    mochi_copy_free(&some);
    PQfinish(conn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(failed_prepare_is_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(unreachable_server_is_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(day_partitions_made_on_demand, setup, teardown),
        cmocka_unit_test_setup_teardown(binary_copy_round_trip, setup, teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    mochi_test_cleanup();
    return failed;
}
