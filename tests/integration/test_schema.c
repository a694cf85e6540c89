/* Migrations, mochictl sites, the day's salt and the least-privilege roles,
 * against the private PostgreSQL server of the "pg" fixture. */
#include <ctype.h>
#include <dirent.h>
#include <jansson.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "common/clock.h"
#include "common/db.h"
#include "common/error.h"
#include "tests/harness/harness.h"
#include "common/salt.h"

/* Runs mochictl with args against db; returns the exit code. */
static int mochictl(const struct mochi_test_db *db, char **out, char **err, ...)
{
    const char *args[24];
    int argc = 0;
    va_list ap;
    va_start(ap, err);
    for (const char *a = va_arg(ap, const char *); a != NULL && argc < 23;
         a = va_arg(ap, const char *))
        args[argc++] = a;
    va_end(ap);
    args[argc] = NULL;
    return mochi_test_mochictl(db->conninfo, NULL, NULL, args, 60000, out, err);
}

/* How many NNN_*.sql files sql/ holds. */
static int migration_files(void)
{
    int n = 0;
    DIR *dir = opendir(mochi_test_src("sql"));
    assert_non_null(dir);
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len > 8 && isdigit((unsigned char)e->d_name[0]) && e->d_name[3] == '_' &&
            strcmp(e->d_name + len - 4, ".sql") == 0)
            n++;
    }
    closedir(dir);
    return n;
}

static void migrate_from_empty_then_rerun(void **state)
{
    (void)state;
    struct mochi_test_db db;
    mochi_test_db_create(&db);
    char *out, *err;
    int files = migration_files();
    assert_true(files >= 3);
    char applied[64];
    snprintf(applied, sizeof(applied), "applied %d migrations", files);
    assert_int_equal(mochictl(&db, &out, &err, "migrate", NULL), 0);
    assert_non_null(strstr(out, applied));
    free(out);
    free(err);
    PGconn *conn = mochi_test_db_connect(&db);
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(*) FROM schema_migrations"), files);
    /* The seed's tables exist with their columns. */
    assert_int_equal(
        mochi_test_db_int(conn, "SELECT count(*) FROM information_schema.columns "
                                "WHERE table_schema = 'public' AND "
                                "(table_name, column_name) IN ("
                                "('sites','tracking_key'),('page_view_events','visitor_hash'),"
                                "('daily_site_metrics','unique_visitors'),"
                                "('daily_page_metrics','path'),"
                                "('ingestion_dedupe','occurred_minute'),('salts','salt'))"),
        6);
    /* Today's partitions were created, for every partitioned table. */
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(*) FROM day_partitions "
                                             "WHERE day = (now() AT TIME ZONE 'UTC')::date"),
                     4);

    assert_int_equal(mochictl(&db, &out, &err, "migrate", NULL), 0);
    assert_non_null(strstr(out, "up to date"));
    free(out);
    free(err);
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(*) FROM schema_migrations"), files);
    PQfinish(conn);
    mochi_test_db_drop(&db);
}

static void failed_migration_leaves_no_trace(void **state)
{
    (void)state;
    struct mochi_test_db db;
    mochi_test_db_create(&db);
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/badsql", mochi_test_tmpdir());
    char cmd[1400];
    snprintf(cmd, sizeof(cmd),
             "mkdir -p %s && cp %s/001_schema.sql %s/ && "
             "printf 'CREATE TABLE half_done (x int);\\nSELECT no_such_function();\\n' > "
             "%s/002_broken.sql",
             dir, mochi_test_src("sql"), dir, dir);
    assert_int_equal(system(cmd), 0);
    char envdb[600], envdir[400];
    snprintf(envdb, sizeof(envdb), "MOCHI_DATABASE_URL=%s", db.conninfo);
    snprintf(envdir, sizeof(envdir), "MOCHI_SQL_DIR=%s", dir);
    char *const env[] = {envdb, envdir, NULL};
    char *const argv[] = {(char *)mochi_test_bin("mochictl"), "migrate", NULL};
    char *out, *err;
    assert_int_equal(mochi_test_exit_code(mochi_test_run(argv, env, 60000, &out, &err)), 1);
    assert_non_null(strstr(err, "002_broken.sql"));
    assert_non_null(strstr(err, "no_such_function"));
    free(out);
    free(err);
    PGconn *conn = mochi_test_db_connect(&db);
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(*) FROM schema_migrations"), 1);
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(*) FROM pg_class "
                                             "WHERE relname = 'half_done'"),
                     0);
    PQfinish(conn);
    mochi_test_db_drop(&db);
}

/* sql/010 fills the monthly tables from the daily rows already there:
 * migrated to 009, daily rows by hand over a month end and a year end,
 * then migrated to the end. */
static void monthly_tables_filled_from_daily_rows(void **state)
{
    (void)state;
    struct mochi_test_db db;
    mochi_test_db_create(&db);
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/sql009", mochi_test_tmpdir());
    char cmd[1400];
    snprintf(cmd, sizeof(cmd), "mkdir -p %s && cp %s/00[1-9]_*.sql %s/", dir, mochi_test_src("sql"),
             dir);
    assert_int_equal(system(cmd), 0);
    char envdb[600], envdir[400];
    snprintf(envdb, sizeof(envdb), "MOCHI_DATABASE_URL=%s", db.conninfo);
    char *const argv[] = {(char *)mochi_test_bin("mochictl"), "migrate", NULL};
    char *out, *err;
    for (int step = 0; step < 2; step++) {
        snprintf(envdir, sizeof(envdir), "MOCHI_SQL_DIR=%s",
                 step == 0 ? dir : mochi_test_src("sql"));
        char *const env[] = {envdb, envdir, NULL};
        if (mochi_test_exit_code(mochi_test_run(argv, env, 60000, &out, &err)) != 0)
            fail_msg("mochictl migrate (%s): %s%s", envdir, out, err);
        free(out);
        free(err);
        if (step == 1)
            break;
        PGconn *conn = mochi_test_db_connect(&db);
        assert_int_equal(mochi_test_db_int(conn, "SELECT count(*) FROM pg_class"
                                                 " WHERE relname = 'monthly_page_metrics'"),
                         0);
        mochi_test_db_exec(
            conn,
            "INSERT INTO sites (id, name, domain, tracking_key) VALUES"
            " ('00000000-0000-4000-8000-0000000000a1', 'a', 'a.example', 'monthlyKey_a000000');"
            "INSERT INTO daily_page_metrics (site_id, date, path, page_views) VALUES"
            " ('00000000-0000-4000-8000-0000000000a1', '2025-12-01', '/', 1),"
            " ('00000000-0000-4000-8000-0000000000a1', '2025-12-31', '/', 2),"
            " ('00000000-0000-4000-8000-0000000000a1', '2026-01-01', '/', 4),"
            " ('00000000-0000-4000-8000-0000000000a1', '2026-01-31', '/x', 8);"
            "INSERT INTO daily_entry_page_metrics (site_id, date, path, entries) VALUES"
            " ('00000000-0000-4000-8000-0000000000a1', '2025-12-31', '/', 3),"
            " ('00000000-0000-4000-8000-0000000000a1', '2026-01-01', '/', 5);"
            "INSERT INTO daily_source_metrics (site_id, date, source, entries, visitors) VALUES"
            " ('00000000-0000-4000-8000-0000000000a1', '2025-12-30', '', 2, 1),"
            " ('00000000-0000-4000-8000-0000000000a1', '2025-12-31', '', 3, 2),"
            " ('00000000-0000-4000-8000-0000000000a1', '2025-12-31', 'gone.example', 0, 0),"
            " ('00000000-0000-4000-8000-0000000000a1', '2026-01-02', 'b.example', 6, 5)");
        PQfinish(conn);
    }
    PGconn *conn = mochi_test_db_connect(&db);
    char got[512];
    assert_true(mochi_test_db_text(conn,
                                   "SELECT string_agg(month || ' ' || path || ' ' || page_views,"
                                   " ', ' ORDER BY month, path) FROM monthly_page_metrics",
                                   got, sizeof(got)));
    assert_string_equal(got, "2025-12-01 / 3, 2026-01-01 / 4, 2026-01-01 /x 8");
    assert_true(mochi_test_db_text(conn,
                                   "SELECT string_agg(month || ' ' || path || ' ' || entries,"
                                   " ', ' ORDER BY month, path) FROM monthly_entry_page_metrics",
                                   got, sizeof(got)));
    assert_string_equal(got, "2025-12-01 / 3, 2026-01-01 / 5");
    assert_true(mochi_test_db_text(conn,
                                   "SELECT string_agg(month || ' [' || source || '] ' || entries"
                                   " || ' ' || visitors, ', ' ORDER BY month, source)"
                                   " FROM monthly_source_metrics",
                                   got, sizeof(got)));
    assert_string_equal(got, "2025-12-01 [] 5 3, 2025-12-01 [gone.example] 0 0, "
                             "2026-01-01 [b.example] 6 5");
    assert_int_equal(mochi_test_expect_monthly_sums(conn), 7);
    PQfinish(conn);
    mochi_test_db_drop(&db);
}

static void sites_add_list_remove(void **state)
{
    (void)state;
    struct mochi_test_db db;
    mochi_test_db_create_migrated(&db);
    char *out, *err;
    assert_int_equal(mochictl(&db, &out, &err, "sites", "add", "--name", "Blog", "--domain",
                              "Blog.Example.org", "--json", NULL),
                     0);
    json_error_t jerr;
    json_t *site = json_loads(out, 0, &jerr);
    assert_non_null(site);
    const char *id = json_string_value(json_object_get(site, "id"));
    const char *key = json_string_value(json_object_get(site, "tracking_key"));
    assert_non_null(id);
    assert_non_null(key);
    assert_string_equal(json_string_value(json_object_get(site, "domain")), "blog.example.org");
    /* URL-safe and long enough not to be guessed: 16 random bytes. */
    assert_int_equal(strlen(key), 22);
    assert_int_equal(
        strspn(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 22);
    free(out);
    free(err);

    PGconn *conn = mochi_test_db_connect(&db);
    char sql[256], buf[128];
    snprintf(sql, sizeof(sql), "SELECT tracking_key FROM sites WHERE id = '%s'", id);
    assert_true(mochi_test_db_text(conn, sql, buf, sizeof(buf)));
    assert_string_equal(buf, key);

    /* A second site gets another key. */
    assert_int_equal(mochictl(&db, &out, &err, "sites", "add", "--name", "Shop", "--domain",
                              "shop.example", NULL),
                     0);
    assert_non_null(strstr(out, "tracking_key"));
    assert_null(strstr(out, key));
    free(out);
    free(err);

    assert_int_equal(mochictl(&db, &out, &err, "sites", "list", "--json", NULL), 0);
    json_t *list = json_loads(out, 0, &jerr);
    assert_non_null(list);
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "id")), id);
    json_decref(list);
    free(out);
    free(err);
    assert_int_equal(mochictl(&db, &out, &err, "sites", "list", NULL), 0);
    assert_non_null(strstr(out, "shop.example"));
    assert_non_null(strstr(out, "blog.example.org"));
    free(out);
    free(err);

    assert_int_equal(mochictl(&db, &out, &err, "sites", "remove", "--site", key, NULL), 0);
    free(out);
    free(err);
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(*) FROM sites"), 1);
    assert_int_equal(mochictl(&db, &out, &err, "sites", "remove", "--site", id, NULL), 1);
    assert_non_null(strstr(err, "no site with id or tracking key"));
    free(out);
    free(err);
    json_decref(site);
    PQfinish(conn);
    mochi_test_db_drop(&db);
}

static void sites_bad_input(void **state)
{
    (void)state;
    struct mochi_test_db db;
    mochi_test_db_create_migrated(&db);
    struct {
        const char *args[8];
        const char *expect;
    } cases[] = {
        {{"sites", "add", "--name", "x", NULL}, "--domain is required"},
        {{"sites", "add", "--name", "x", "--domain", "https://x.org", NULL}, "--domain:"},
        {{"sites", "add", "--name", "x", "--domain", "a b", NULL}, "--domain:"},
        {{"sites", "add", "--nam", "x", NULL}, "unknown option"},
        {{"sites", NULL}, "needs a subcommand"},
        {{"nonsense", NULL}, "unknown command 'nonsense'"},
        {{"sites", "remove", NULL}, "--site is required"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *out, *err;
        const char *const *a = cases[i].args;
        int code = mochictl(&db, &out, &err, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]);
        assert_int_equal(code, 2);
        assert_non_null(strstr(err, cases[i].expect));
        /* one line */
        assert_non_null(strchr(err, '\n'));
        assert_null(strchr(strchr(err, '\n') + 1, '\n'));
        free(out);
        free(err);
    }
    /* Nothing was added by the refused commands. */
    PGconn *conn = mochi_test_db_connect(&db);
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(*) FROM sites"), 0);
    PQfinish(conn);
    /* A missing database URL is a configuration error too. */
    char *const argv[] = {(char *)mochi_test_bin("mochictl"), "sites", "list", NULL};
    char *const env[] = {"MOCHI_DATABASE_URL=", NULL};
    char *out, *err;
    assert_int_equal(mochi_test_exit_code(mochi_test_run(argv, env, 10000, &out, &err)), 2);
    assert_non_null(strstr(err, "MOCHI_DATABASE_URL"));
    free(out);
    free(err);
    mochi_test_db_drop(&db);
}

/* 1 before 13:00 UTC, when yesterday's salt is still kept (UTC-12 is on
 * yesterday until noon, plus an hour), else 0. */
static long long before_13(PGconn *conn)
{
    return mochi_test_db_int(conn, "SELECT ((now() AT TIME ZONE 'UTC')::time < time '13:00')::int");
}

struct salt_race {
    const struct mochi_test_db *db;
    unsigned char salt[32];
    int rc;
    pthread_barrier_t *barrier;
};

static void *race_salt(void *arg)
{
    struct salt_race *r = arg;
    PGconn *conn = PQconnectdb(r->db->conninfo);
    pthread_barrier_wait(r->barrier);
    r->rc = mochi_salt_ensure(conn);
    if (r->rc >= 0)
        r->rc = mochi_salt_read(conn, mochi_day_today() + 1, r->salt);
    PQfinish(conn);
    return NULL;
}

static void concurrent_salt_ensure_agree(void **state)
{
    (void)state;
    struct mochi_test_db db;
    mochi_test_db_create_migrated(&db);
    enum { N = 8 };
    pthread_t threads[N];
    struct salt_race races[N];
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, N);
    for (int i = 0; i < N; i++) {
        races[i] = (struct salt_race){.db = &db, .barrier = &barrier};
        pthread_create(&threads[i], NULL, race_salt, &races[i]);
    }
    for (int i = 0; i < N; i++)
        pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&barrier);
    for (int i = 0; i < N; i++) {
        assert_int_equal(races[i].rc, 0);
        assert_memory_equal(races[i].salt, races[0].salt, 32);
    }
    PGconn *conn = mochi_test_db_connect(&db);
    /* Today and the two days after (UTC), and yesterday until 13:00 UTC,
     * each its own; no other day. */
    long long days = 3 + before_13(conn);
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(DISTINCT salt) FROM salts WHERE day "
                                             "BETWEEN (now() AT TIME ZONE 'UTC')::date - 1 AND "
                                             "(now() AT TIME ZONE 'UTC')::date + 2"),
                     days);
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(*) FROM salts"), days);
    unsigned char other[32];
    assert_int_equal(mochi_salt_read(conn, mochi_day_today() + 3, other), MOCHI_ERR_NOTFOUND);
    assert_int_equal(mochi_salt_ensure(conn), 0); /* all there: makes none */
    PQfinish(conn);
    mochi_test_db_drop(&db);
}

/* A role that may create in public (every role before PostgreSQL 15; here
 * granted explicitly) plants public.to_char(date, text), an exact match
 * for the call in mochi_ensure_day, and waits for a SECURITY DEFINER
 * function to run it as its owner. With search_path pinned to pg_catalog
 * it never runs. */
static void definer_functions_cannot_be_hijacked(void **state)
{
    (void)state;
    struct mochi_test_db db;
    mochi_test_db_create_migrated(&db);
    PGconn *admin = mochi_test_db_connect(&db);
    char attacker[64], sql[512];
    snprintf(attacker, sizeof(attacker), "%s", mochi_test_unique("attacker"));
    snprintf(sql, sizeof(sql), "CREATE ROLE %s LOGIN; GRANT CREATE ON SCHEMA public TO %s",
             attacker, attacker);
    mochi_test_db_exec(admin, sql);
    char conninfo[600];
    mochi_test_db_conninfo_as(&db, attacker, conninfo, sizeof(conninfo));
    PGconn *evil = PQconnectdb(conninfo);
    assert_int_equal(PQstatus(evil), CONNECTION_OK);
    snprintf(sql, sizeof(sql),
             "CREATE FUNCTION public.to_char(date, text) RETURNS text LANGUAGE plpgsql AS $f$ "
             "BEGIN ALTER ROLE %s SUPERUSER; "
             "RETURN pg_catalog.to_char($1::timestamp, $2); END $f$",
             attacker);
    mochi_test_db_exec(evil, sql);
    PQfinish(evil);
    mochi_test_db_conninfo_as(&db, "mochi_consumer", conninfo, sizeof(conninfo));
    PGconn *consumer = PQconnectdb(conninfo);
    mochi_test_db_exec(consumer, "SELECT mochi_ensure_day(current_date + 40)");
    PQfinish(consumer);
    snprintf(sql, sizeof(sql), "SELECT rolsuper::int FROM pg_roles WHERE rolname = '%s'", attacker);
    assert_int_equal(mochi_test_db_int(admin, sql), 0);
    /* The partitions were made all the same. */
    assert_int_equal(mochi_test_db_int(admin, "SELECT count(*) FROM day_partitions "
                                              "WHERE day = current_date + 40"),
                     4);
    /* Every SECURITY DEFINER function pins search_path and belongs to a
     * role that cannot log in. */
    assert_int_equal(mochi_test_db_int(admin,
                                       "SELECT count(*) FROM pg_proc p JOIN pg_roles r ON r.oid = "
                                       "p.proowner WHERE p.prosecdef AND p.pronamespace = "
                                       "'public'::regnamespace AND (r.rolcanlogin OR NOT "
                                       "coalesce(p.proconfig, '{}') @> "
                                       "ARRAY['search_path=pg_catalog, pg_temp'])"),
                     0);
    assert_true(mochi_test_db_int(admin, "SELECT count(*) FROM pg_proc WHERE prosecdef AND "
                                         "pronamespace = 'public'::regnamespace") >= 3);
    snprintf(sql, sizeof(sql), "DROP OWNED BY %s; DROP ROLE %s", attacker, attacker);
    mochi_test_db_exec(admin, sql);
    PQfinish(admin);
    mochi_test_db_drop(&db);
}

static void roles_have_least_privilege(void **state)
{
    (void)state;
    struct mochi_test_db db;
    mochi_test_db_create_migrated(&db);
    PGconn *admin = mochi_test_db_connect(&db);
    mochi_test_db_exec(admin, "INSERT INTO salts (day, salt) VALUES "
                              "(current_date - 5, decode(repeat('ab', 32), 'hex')), "
                              "(current_date - 1, decode(repeat('cd', 32), 'hex'))");
    char conninfo[600];
    mochi_test_db_conninfo_as(&db, "mochi_collector", conninfo, sizeof(conninfo));
    PGconn *collector = PQconnectdb(conninfo);
    assert_int_equal(PQstatus(collector), CONNECTION_OK);
    /* allowed: read sites, make the salts of today and its neighbours,
     * read salts, expire old salts */
    mochi_test_db_exec(collector, "SELECT count(*) FROM sites");
    mochi_test_db_exec(collector, "SELECT count(*) FROM sites WHERE timezone <> 'UTC'");
    unsigned char salt[32];
    /* today and the two days after (yesterday's is there) */
    assert_int_equal(mochi_salt_ensure(collector), 3);
    assert_int_equal(mochi_salt_read(collector, mochi_day_today(), salt), 0);
    /* the one of 5 days ago, and yesterday's from 13:00 UTC */
    long long keep_yesterday = before_13(admin);
    assert_int_equal(mochi_salt_expire(collector), 2 - keep_yesterday);
    assert_int_equal(mochi_test_db_int(admin, "SELECT count(*) FROM salts"), 3 + keep_yesterday);
    /* refused: anything else, planting a salt of one's choosing included */
    const char *refused[] = {
        "INSERT INTO salts (day, salt) VALUES (current_date + 2, "
        "decode(repeat('ee', 32), 'hex'))",
        "INSERT INTO sites (name, domain, tracking_key) VALUES "
        "('x','x.org','aaaaaaaaaaaaaaaaaaaa')",
        "DELETE FROM salts",
        "UPDATE salts SET salt = salt",
        "SELECT count(*) FROM page_view_events",
        "SELECT count(*) FROM daily_site_metrics",
        "SELECT mochi_ensure_day(current_date)",
        /* an instant of one's choosing would delete today's salt */
        "SELECT mochi_expire_salts_at(now() + interval '3 days')",
        "SELECT mochi_ensure_salts_at(now() + interval '300 days')",
        "UPDATE sites SET timezone = 'UTC'",
        "SELECT count(*) FROM daily_source_metrics",
        "SELECT count(*) FROM daily_entry_page_metrics",
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        PGresult *res = PQexec(collector, refused[i]);
        assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
        assert_string_equal(PQresultErrorField(res, PG_DIAG_SQLSTATE), "42501");
        PQclear(res);
    }
    PQfinish(collector);

    mochi_test_db_conninfo_as(&db, "mochi_consumer", conninfo, sizeof(conninfo));
    PGconn *consumer = PQconnectdb(conninfo);
    assert_int_equal(PQstatus(consumer), CONNECTION_OK);
    mochi_test_db_exec(consumer, "SELECT mochi_ensure_day(current_date + 30)");
    PGresult *res = PQexec(consumer, "SELECT * FROM salts");
    assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
    PQclear(res);
    PQfinish(consumer);
    assert_int_equal(mochi_test_db_int(admin, "SELECT count(*) FROM day_partitions "
                                              "WHERE day = current_date + 30"),
                     4);
    PQfinish(admin);
    mochi_test_db_drop(&db);
}

/* Runs sql on conn and expects it refused for want of a privilege. */
static void expect_denied(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_FATAL_ERROR)
        fail_msg("allowed: %s", sql);
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (state == NULL || strcmp(state, "42501") != 0)
        fail_msg("%s: SQLSTATE %s, not 42501: %s", sql, state ? state : "(none)",
                 PQresultErrorMessage(res));
    PQclear(res);
}

/* mochi_web (sql/008_web.sql): it reads the aggregates and the auth tables,
 * keeps sessions and the tokens' last use, and sees raw events only as the
 * two counts of mochi_recent_counts(); salts, raw events and per-event
 * state stay closed, and it writes nothing the pipeline counts. */
static void web_role_reads_counts_not_events(void **state)
{
    (void)state;
    struct mochi_test_db db;
    mochi_test_db_create_migrated(&db);
    PGconn *admin = mochi_test_db_connect(&db);
    /* Raw events of the last minutes (yesterday's partitions too, for a
     * run just after midnight UTC): in the last 5 minutes, visitor v1 twice
     * and v2 once; v3 10 minutes ago, v4 2 hours ago; another site's v1. */
    mochi_test_db_exec(admin,
                       "SELECT mochi_ensure_day(current_date - 1);"
                       "INSERT INTO sites (id, name, domain, tracking_key) VALUES "
                       "('00000000-0000-4000-8000-0000000000a1', 'a', 'a.example', "
                       "'webTestKey_a0000000'), "
                       "('00000000-0000-4000-8000-0000000000b2', 'b', 'b.example', "
                       "'webTestKey_b0000000');"
                       "INSERT INTO page_view_events (site_id, path, visitor_hash, occurred_at) "
                       "VALUES "
                       "('00000000-0000-4000-8000-0000000000a1', '/', 'v1', now() - "
                       "interval '30 seconds'), "
                       "('00000000-0000-4000-8000-0000000000a1', '/x', 'v1', now() - "
                       "interval '2 minutes'), "
                       "('00000000-0000-4000-8000-0000000000a1', '/', 'v2', now() - "
                       "interval '3 minutes'), "
                       "('00000000-0000-4000-8000-0000000000a1', '/', 'v3', now() - "
                       "interval '10 minutes'), "
                       "('00000000-0000-4000-8000-0000000000a1', '/', 'v4', now() - "
                       "interval '2 hours'), "
                       "('00000000-0000-4000-8000-0000000000b2', '/', 'v1', now() - "
                       "interval '1 minute');"
                       "INSERT INTO salts (day, salt) VALUES "
                       "(current_date - 7, decode(repeat('ab', 32), 'hex'));"
                       "INSERT INTO users (email, password_hash) VALUES "
                       "('web@example.org', '$argon2id$v=19$m=65536,t=2,p=1$x$y');"
                       "INSERT INTO api_tokens (site_id, name, token_hash) VALUES "
                       "('00000000-0000-4000-8000-0000000000a1', 't', "
                       "decode(repeat('01', 32), 'hex'))");
    char conninfo[600];
    mochi_test_db_conninfo_as(&db, "mochi_web", conninfo, sizeof(conninfo));
    PGconn *web = PQconnectdb(conninfo);
    assert_int_equal(PQstatus(web), CONNECTION_OK);

    /* counts of the last minutes, and of nothing else */
    PGresult *res = PQexec(web, "SELECT visitors, page_views FROM "
                                "mochi_recent_counts('00000000-0000-4000-8000-0000000000a1', 5)");
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(res), 1);
    assert_string_equal(PQgetvalue(res, 0, 0), "2");
    assert_string_equal(PQgetvalue(res, 0, 1), "3");
    PQclear(res);
    res = PQexec(web, "SELECT * FROM "
                      "mochi_recent_counts('00000000-0000-4000-8000-0000000000a1', 15)");
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(res, 0, 0), "3");
    assert_string_equal(PQgetvalue(res, 0, 1), "4");
    PQclear(res);
    /* at most the last hour, whatever it is asked */
    assert_int_equal(mochi_test_db_int(web, "SELECT page_views FROM mochi_recent_counts("
                                            "'00000000-0000-4000-8000-0000000000a1', 100000)"),
                     4);

    /* reads: the aggregates, sites, the auth tables, the rollup's progress */
    const char *readable[] = {
        "SELECT count(*) FROM sites",
        "SELECT count(*) FROM daily_site_metrics",
        "SELECT count(*) FROM daily_page_metrics",
        "SELECT count(*) FROM daily_source_metrics",
        "SELECT count(*) FROM daily_entry_page_metrics",
        "SELECT count(*) FROM users",
        "SELECT count(*) FROM site_roles",
        "SELECT count(*) FROM shares",
        "SELECT count(*) FROM api_tokens",
        "SELECT count(*) FROM rollup_progress",
        "UPDATE api_tokens SET last_used_at = now()",
    };
    for (size_t i = 0; i < sizeof(readable) / sizeof(readable[0]); i++)
        mochi_test_db_exec(web, readable[i]);
    assert_int_equal(
        mochi_test_db_int(web, "SELECT (password_hash LIKE '$argon2id$%')::int FROM users"), 1);

    /* sessions: it makes, extends and ends them */
    mochi_test_db_exec(web, "INSERT INTO sessions (token_hash, user_id, csrf_token, expires_at) "
                            "SELECT decode(repeat('5a', 32), 'hex'), id, repeat('c', 43), "
                            "now() + interval '1 day' FROM users");
    mochi_test_db_exec(web, "UPDATE sessions SET expires_at = now() + interval '14 days'");
    assert_int_equal(mochi_test_db_int(web, "SELECT count(*) FROM sessions"), 1);
    mochi_test_db_exec(web, "DELETE FROM sessions");
    assert_int_equal(mochi_test_db_int(admin, "SELECT count(*) FROM sessions"), 0);

    /* refused: raw events, salts and per-event state; writing the
     * aggregates, the accounts and anything else but sessions */
    const char *refused[] = {
        "SELECT count(*) FROM salts",
        "SELECT count(*) FROM page_view_events",
        "SELECT visitor_hash FROM page_view_events LIMIT 1",
        "SELECT count(*) FROM ingestion_dedupe",
        "SELECT count(*) FROM rollup_counted",
        "SELECT count(*) FROM daily_visitors",
        "INSERT INTO page_view_events (site_id, path, visitor_hash, occurred_at) VALUES "
        "('00000000-0000-4000-8000-0000000000a1', '/', 'v9', now())",
        "INSERT INTO daily_site_metrics VALUES ('00000000-0000-4000-8000-0000000000a1', "
        "current_date, 1, 1)",
        "UPDATE daily_site_metrics SET page_views = page_views + 1",
        "DELETE FROM daily_site_metrics",
        "INSERT INTO daily_page_metrics VALUES ('00000000-0000-4000-8000-0000000000a1', "
        "current_date, '/', 1)",
        "UPDATE daily_page_metrics SET page_views = 0",
        "DELETE FROM daily_page_metrics",
        "INSERT INTO daily_source_metrics VALUES ('00000000-0000-4000-8000-0000000000a1', "
        "current_date, '', 1, 1)",
        "UPDATE daily_source_metrics SET entries = 0",
        "DELETE FROM daily_source_metrics",
        "INSERT INTO daily_entry_page_metrics VALUES ('00000000-0000-4000-8000-0000000000a1', "
        "current_date, '/', 1)",
        "UPDATE daily_entry_page_metrics SET entries = 0",
        "DELETE FROM daily_entry_page_metrics",
        "INSERT INTO daily_visitors (site_id, date, visitor_hash) VALUES "
        "('00000000-0000-4000-8000-0000000000a1', current_date, 'v9')",
        "INSERT INTO users (email, password_hash) VALUES ('x@example.org', '$argon2id$x')",
        "UPDATE users SET password_hash = '$argon2id$mine'",
        "DELETE FROM users",
        "INSERT INTO site_roles SELECT id, '00000000-0000-4000-8000-0000000000b2', 'admin' "
        "FROM users",
        "UPDATE site_roles SET role = 'admin'",
        "INSERT INTO api_tokens (site_id, name, token_hash) VALUES "
        "('00000000-0000-4000-8000-0000000000b2', 'x', decode(repeat('02', 32), 'hex'))",
        "UPDATE api_tokens SET revoked_at = NULL",
        "UPDATE api_tokens SET token_hash = decode(repeat('03', 32), 'hex')",
        "DELETE FROM api_tokens",
        "INSERT INTO shares (slug, site_id) VALUES ('AAAAAAAAAAAAAAAAAAAAAA', "
        "'00000000-0000-4000-8000-0000000000b2')",
        "UPDATE shares SET revoked_at = NULL",
        "UPDATE sites SET domain = 'evil.example'",
        "INSERT INTO rollup_progress (topic, partition, next_offset) VALUES ('t', 0, 0)",
        "SELECT mochi_ensure_salts()",
        "SELECT mochi_ensure_day(current_date + 50)",
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        expect_denied(web, refused[i]);
    PQfinish(web);
    /* nothing it was refused changed anything */
    assert_int_equal(mochi_test_db_int(admin, "SELECT count(*) FROM page_view_events"), 6);
    assert_int_equal(mochi_test_db_int(admin, "SELECT count(*) FROM users"), 1);
    PQfinish(admin);
    mochi_test_db_drop(&db);
}

/* The README's "Grants" block, one "role privilege object" per line, as
 * sorted "role|privilege|object" lines. */
static char *readme_grants(void)
{
    char *readme = mochi_test_read_file(mochi_test_src("README.md"));
    assert_non_null(readme);
    const char *block = strstr(readme, "### Grants");
    assert_non_null(block);
    block = strstr(block, "```\n");
    assert_non_null(block);
    block += 4;
    const char *end = strstr(block, "```");
    assert_non_null(end);
    char *out = calloc(1, (size_t)(end - block) + 1);
    size_t used = 0;
    for (const char *line = block; line < end;) {
        const char *nl = strchr(line, '\n');
        char role[64], priv[32], object[96];
        char text[256];
        snprintf(text, sizeof(text), "%.*s", (int)(nl - line), line);
        if (sscanf(text, "%63s %31s %95s", role, priv, object) == 3)
            used += (size_t)sprintf(out + used, "%s|%s|%s\n", role, priv, object);
        line = nl + 1;
    }
    free(readme);
    return out;
}

/* Every grant to a mochi_* role, and what those roles own, as the
 * database says, in the README's form (sorted as "C"). */
static void grants_are_what_the_readme_says(void **state)
{
    (void)state;
    struct mochi_test_db db;
    mochi_test_db_create_migrated(&db);
    PGconn *conn = mochi_test_db_connect(&db);
    PGresult *res = PQexec(
        conn, "SELECT l FROM (SELECT r || '|' || p || '|' || o AS l FROM ("
              " SELECT grantee::text AS r, privilege_type::text AS p, table_name::text AS o"
              "  FROM information_schema.role_table_grants WHERE table_schema = 'public'"
              "  AND grantee LIKE 'mochi\\_%' AND grantee <> grantor"
              " UNION SELECT grantee, privilege_type, object_name"
              "  FROM information_schema.role_usage_grants WHERE object_schema = 'public'"
              "  AND grantee LIKE 'mochi\\_%' AND grantee <> grantor"
              " UNION SELECT grantee, privilege_type, routine_name || '()'"
              "  FROM information_schema.role_routine_grants WHERE routine_schema = 'public'"
              "  AND grantee LIKE 'mochi\\_%' AND grantee <> grantor"
              " UNION SELECT pg_get_userbyid(relowner), 'OWNER', relname FROM pg_class"
              "  WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p', 'v', 'S')"
              "  AND NOT relispartition AND pg_get_userbyid(relowner) LIKE 'mochi\\_%'"
              " UNION SELECT pg_get_userbyid(proowner), 'OWNER', proname || '()' FROM pg_proc"
              "  WHERE pronamespace = 'public'::regnamespace"
              "  AND pg_get_userbyid(proowner) LIKE 'mochi\\_%'"
              ") g) x ORDER BY l COLLATE \"C\"");
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fail_msg("grants query: %s", PQerrorMessage(conn));
    size_t cap = 8192, used = 0;
    char *got = calloc(1, cap);
    for (int i = 0; i < PQntuples(res); i++)
        used += (size_t)snprintf(got + used, cap - used, "%s\n", PQgetvalue(res, i, 0));
    PQclear(res);
    char *want = readme_grants();
    assert_string_equal(got, want);
    free(got);
    free(want);
    PQfinish(conn);
    mochi_test_db_drop(&db);
}

/* common/db's helpers: rows touched, binary results, and how a failure or
 * a statement of the wrong kind is classified. */
static void db_helpers_count_and_classify(void **state)
{
    (void)state;
    struct mochi_test_db db;
    mochi_test_db_create(&db);
    PGconn *conn = mochi_test_db_connect(&db);
    char err[256] = "";
    mochi_test_db_exec(conn, "CREATE TABLE t (k int PRIMARY KEY, v text)");

    long long rows = -1;
    const char *two[] = {"1", "3"};
    assert_int_equal(
        mochi_db_command(conn,
                         "INSERT INTO t SELECT g, 'x' || g FROM generate_series($1::int,"
                         " $2::int) g",
                         2, two, &rows, err, sizeof(err)),
        0);
    assert_int_equal(rows, 3);
    const char *one[] = {"2"};
    assert_int_equal(
        mochi_db_command(conn, "DELETE FROM t WHERE k >= $1::int", 1, one, &rows, err, sizeof(err)),
        0);
    assert_int_equal(rows, 2);
    assert_int_equal(
        mochi_db_command(conn, "SET lock_timeout = '1s'", 0, NULL, &rows, err, sizeof(err)), 0);
    assert_int_equal(rows, 0); /* a command that counts no rows */
    assert_int_equal(mochi_db_command(conn, "INSERT INTO t VALUES ($1::int, 'again')", 1,
                                      (const char *[]){"1"}, NULL, err, sizeof(err)),
                     MOCHI_ERR_CONFLICT);
    assert_non_null(strstr(err, "duplicate key"));
    assert_int_equal(
        mochi_db_command(conn, "INSERT INTO nowhere VALUES (1)", 0, NULL, NULL, err, sizeof(err)),
        MOCHI_ERR_DB);
    assert_non_null(strstr(err, "nowhere"));

    /* the wrong helper for the statement is a bug, not a retry */
    PGresult *res = NULL;
    assert_int_equal(mochi_db_command(conn, "SELECT 1", 0, NULL, NULL, err, sizeof(err)),
                     MOCHI_ERR_DB);
    assert_int_equal(
        mochi_db_query(conn, "DELETE FROM t WHERE false", 0, NULL, &res, err, sizeof(err)),
        MOCHI_ERR_DB);
    assert_null(res);

    /* text and binary results of the same bytea */
    assert_int_equal(
        mochi_db_query(conn, "SELECT '\\x00ff41'::bytea", 0, NULL, &res, err, sizeof(err)), 0);
    assert_string_equal(PQgetvalue(res, 0, 0), "\\x00ff41");
    PQclear(res);
    res = NULL;
    assert_int_equal(
        mochi_db_query_binary(conn, "SELECT '\\x00ff41'::bytea", 0, NULL, &res, err, sizeof(err)),
        0);
    assert_int_equal(PQgetlength(res, 0, 0), 3);
    assert_memory_equal(PQgetvalue(res, 0, 0), "\x00\xff\x41", 3);
    PQclear(res);

    PQfinish(conn);
    mochi_test_db_drop(&db);
}

/* The salt days present, as "YYYY-MM-DD " each, in order. */
static void salt_days(PGconn *conn, char *buf, size_t size)
{
    assert_true(mochi_test_db_text(
        conn, "SELECT coalesce(string_agg(day::text || ' ', '' ORDER BY day), '') FROM salts", buf,
        size));
}

/* Salts for every zone from UTC-12 to UTC+14, at instants written by hand.
 * Day D begins at UTC+14 at (D-1) 10:00 UTC and ends at UTC-12 at (D+1)
 * 12:00 UTC: its salt is made from (D-2) 00:00 UTC and deleted at (D+1)
 * 13:00 UTC. */
static void salts_for_every_zone(void **state)
{
    (void)state;
    struct mochi_test_db db;
    mochi_test_db_create_migrated(&db);
    PGconn *conn = mochi_test_db_connect(&db);
    char days[256];
    mochi_test_db_exec(conn, "DELETE FROM salts");

    /* 2026-03-10 00:00 UTC: 2026-03-09 is still a day at UTC-12 (until
     * 03-10 12:00), 03-11 begins at UTC+14 at 03-10 10:00, 03-12 is made
     * ahead for right after midnight. */
    assert_int_equal(
        mochi_test_db_int(conn, "SELECT mochi_ensure_salts_at('2026-03-10 00:00:00+00')"), 4);
    salt_days(conn, days, sizeof(days));
    assert_string_equal(days, "2026-03-09 2026-03-10 2026-03-11 2026-03-12 ");
    /* The last microsecond before 13:00 keeps 03-09; 13:00 deletes it. */
    assert_int_equal(
        mochi_test_db_int(conn, "SELECT mochi_expire_salts_at('2026-03-10 12:59:59.999999+00')"),
        0);
    assert_int_equal(
        mochi_test_db_int(conn, "SELECT mochi_expire_salts_at('2026-03-10 13:00:00+00')"), 1);
    salt_days(conn, days, sizeof(days));
    assert_string_equal(days, "2026-03-10 2026-03-11 2026-03-12 ");
    /* An ensure after 13:00 does not bring 03-09 back. */
    assert_int_equal(
        mochi_test_db_int(conn, "SELECT mochi_ensure_salts_at('2026-03-10 23:59:59.999999+00')"),
        0);
    /* Midnight: 03-13 is made, 03-10 kept (UTC-12 is on it until 03-11 12:00). */
    assert_int_equal(
        mochi_test_db_int(conn, "SELECT mochi_ensure_salts_at('2026-03-11 00:00:00+00')"), 1);
    assert_int_equal(
        mochi_test_db_int(conn, "SELECT mochi_expire_salts_at('2026-03-11 12:59:59+00')"), 0);
    salt_days(conn, days, sizeof(days));
    assert_string_equal(days, "2026-03-10 2026-03-11 2026-03-12 2026-03-13 ");
    assert_int_equal(
        mochi_test_db_int(conn, "SELECT mochi_expire_salts_at('2026-03-11 13:00:00+00')"), 1);

    /* A fresh database at 14:00: yesterday's is not made, it has ended. */
    mochi_test_db_exec(conn, "DELETE FROM salts");
    assert_int_equal(
        mochi_test_db_int(conn, "SELECT mochi_ensure_salts_at('2026-12-31 14:00:00+00')"), 3);
    salt_days(conn, days, sizeof(days));
    assert_string_equal(days, "2026-12-31 2027-01-01 2027-01-02 ");

    /* The collector's in-memory rule (common/salt.c) is the database's. */
    struct {
        const char *at;
        const char *keep_from;
    } cases[] = {
        {"2026-03-10 00:00:00+00", "2026-03-09"}, {"2026-03-10 12:59:59.999999+00", "2026-03-09"},
        {"2026-03-10 13:00:00+00", "2026-03-10"}, {"2026-03-11 12:59:59+00", "2026-03-10"},
        {"2027-01-01 13:00:00+00", "2027-01-01"}, {"1970-01-01 00:00:00+00", "1969-12-31"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char sql[200], got[32];
        snprintf(sql, sizeof(sql), "SELECT mochi_salt_keep_from('%s')::text", cases[i].at);
        assert_true(mochi_test_db_text(conn, sql, got, sizeof(got)));
        assert_string_equal(got, cases[i].keep_from);
        snprintf(sql, sizeof(sql),
                 "SELECT (extract(epoch FROM timestamptz '%s') * 1000000)::bigint", cases[i].at);
        long long at_us = mochi_test_db_int(conn, sql);
        char day[11];
        mochi_day_format(mochi_salt_keep_from(at_us), day);
        assert_string_equal(day, cases[i].keep_from);
    }
    PQfinish(conn);
    mochi_test_db_drop(&db);
}

static void sites_timezones(void **state)
{
    (void)state;
    struct mochi_test_db db;
    mochi_test_db_create_migrated(&db);
    char *out, *err;
    /* default UTC */
    assert_int_equal(mochictl(&db, &out, &err, "sites", "add", "--name", "U", "--domain",
                              "u.example", "--json", NULL),
                     0);
    json_error_t jerr;
    json_t *site = json_loads(out, 0, &jerr);
    assert_non_null(site);
    assert_string_equal(json_string_value(json_object_get(site, "timezone")), "UTC");
    char id[64];
    snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(site, "id")));
    json_decref(site);
    free(out);
    free(err);
    assert_int_equal(mochictl(&db, &out, &err, "sites", "add", "--name", "K", "--domain",
                              "k.example", "--timezone", "Asia/Kolkata", NULL),
                     0);
    assert_non_null(strstr(out, "timezone      Asia/Kolkata\n"));
    free(out);
    free(err);

    /* refused, by mochictl with exit code 2 and one line */
    const char *bad[] = {"EST5EDT",
                         "EST",
                         "US/Eastern",
                         "europe/berlin",
                         "Mars/Olympus",
                         "localtime",
                         "posix/Europe/Berlin",
                         "+05:30",
                         "UTC'; DROP TABLE sites; --"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(mochictl(&db, &out, &err, "sites", "add", "--name", "X", "--domain",
                                  "x.example", "--timezone", bad[i], NULL),
                         2);
        assert_non_null(strstr(err, "--timezone: unknown time zone"));
        assert_null(strchr(strchr(err, '\n') + 1, '\n'));
        free(out);
        free(err);
        assert_int_equal(
            mochictl(&db, &out, &err, "sites", "update", "--site", id, "--timezone", bad[i], NULL),
            2);
        assert_non_null(strstr(err, "--timezone: unknown time zone"));
        free(out);
        free(err);
    }
    /* and by the database, whoever writes */
    PGconn *conn = mochi_test_db_connect(&db);
    const char *direct[] = {
        ("INSERT INTO sites (name, domain, tracking_key, timezone) VALUES "
         "('x', 'x.example', 'tzTestKey_000000000', 'EST5EDT')"), /* one statement */
        "UPDATE sites SET timezone = 'Europe/berlin'",
        "UPDATE sites SET timezone = 'right/Europe/Berlin'",
    };
    for (size_t i = 0; i < sizeof(direct) / sizeof(direct[0]); i++) {
        PGresult *res = PQexec(conn, direct[i]);
        assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
        assert_string_equal(PQresultErrorField(res, PG_DIAG_SQLSTATE), "22023");
        assert_non_null(strstr(PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY), "time zone"));
        PQclear(res);
    }
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(*) FROM sites"), 2);
    /* The zones of every offset from -12 to +14 are accepted. */
    mochi_test_db_exec(conn, "UPDATE sites SET timezone = 'Etc/GMT+12'");
    mochi_test_db_exec(conn, "UPDATE sites SET timezone = 'Pacific/Kiritimati'");

    /* update by id and by tracking key; only what is given changes */
    assert_int_equal(mochictl(&db, &out, &err, "sites", "update", "--site", id, "--timezone",
                              "Europe/Berlin", NULL),
                     0);
    assert_non_null(strstr(out, "timezone Europe/Berlin"));
    free(out);
    free(err);
    char sql[200], buf[128];
    snprintf(sql, sizeof(sql), "SELECT timezone || ' ' || name FROM sites WHERE id = '%s'", id);
    assert_true(mochi_test_db_text(conn, sql, buf, sizeof(buf)));
    assert_string_equal(buf, "Europe/Berlin U");
    snprintf(sql, sizeof(sql), "SELECT tracking_key FROM sites WHERE id = '%s'", id);
    char key[64];
    assert_true(mochi_test_db_text(conn, sql, key, sizeof(key)));
    assert_int_equal(
        mochictl(&db, &out, &err, "sites", "update", "--site", key, "--name", "Renamed", NULL), 0);
    free(out);
    free(err);
    snprintf(sql, sizeof(sql), "SELECT timezone || ' ' || name FROM sites WHERE id = '%s'", id);
    assert_true(mochi_test_db_text(conn, sql, buf, sizeof(buf)));
    assert_string_equal(buf, "Europe/Berlin Renamed");

    /* nothing to change: bad usage; no such site: a failure */
    assert_int_equal(mochictl(&db, &out, &err, "sites", "update", "--site", id, NULL), 2);
    assert_non_null(strstr(err, "give --timezone or --name"));
    free(out);
    free(err);
    assert_int_equal(mochictl(&db, &out, &err, "sites", "update", "--timezone", "UTC", NULL), 2);
    assert_non_null(strstr(err, "--site is required"));
    free(out);
    free(err);
    assert_int_equal(mochictl(&db, &out, &err, "sites", "update", "--site", "noSuchKey_000000000",
                              "--timezone", "UTC", NULL),
                     1);
    assert_non_null(strstr(err, "no site with id or tracking key"));
    free(out);
    free(err);

    /* list: the table and JSON show each zone */
    assert_int_equal(mochictl(&db, &out, &err, "sites", "list", NULL), 0);
    assert_non_null(strstr(out, "TIMEZONE"));
    assert_non_null(strstr(out, "Europe/Berlin"));
    free(out);
    free(err);
    assert_int_equal(mochictl(&db, &out, &err, "sites", "list", "--json", NULL), 0);
    json_t *list = json_loads(out, 0, &jerr);
    assert_non_null(list);
    assert_int_equal(json_array_size(list), 2);
    int seen = 0;
    for (size_t i = 0; i < 2; i++) {
        json_t *s = json_array_get(list, i);
        const char *tz = json_string_value(json_object_get(s, "timezone"));
        assert_non_null(tz);
        if (strcmp(json_string_value(json_object_get(s, "id")), id) == 0) {
            assert_string_equal(tz, "Europe/Berlin");
            seen++;
        }
    }
    assert_int_equal(seen, 1);
    json_decref(list);
    free(out);
    free(err);
    PQfinish(conn);
    mochi_test_db_drop(&db);
}

/* The rollup may fill the new aggregates, and nobody else. */
static void rollup_writes_new_aggregates(void **state)
{
    (void)state;
    struct mochi_test_db db;
    mochi_test_db_create_migrated(&db);
    PGconn *admin = mochi_test_db_connect(&db);
    mochi_test_db_exec(admin, "INSERT INTO sites (id, name, domain, tracking_key) VALUES "
                              "('00000000-0000-4000-8000-000000000001', 'a', 'a.example', "
                              "'aggTestKey_00000000')");
    char conninfo[600];
    mochi_test_db_conninfo_as(&db, "mochi_rollup", conninfo, sizeof(conninfo));
    PGconn *rollup = PQconnectdb(conninfo);
    assert_int_equal(PQstatus(rollup), CONNECTION_OK);
    mochi_test_db_exec(rollup,
                       "INSERT INTO daily_source_metrics VALUES "
                       "('00000000-0000-4000-8000-000000000001', '2026-06-15', '', 1, 1), "
                       "('00000000-0000-4000-8000-000000000001', '2026-06-15', 'news', 2, 1) "
                       "ON CONFLICT (site_id, date, source) DO UPDATE SET "
                       "entries = daily_source_metrics.entries + excluded.entries");
    mochi_test_db_exec(rollup, "INSERT INTO daily_entry_page_metrics VALUES "
                               "('00000000-0000-4000-8000-000000000001', '2026-06-15', '/', 3) "
                               "ON CONFLICT (site_id, date, path) DO UPDATE SET "
                               "entries = daily_entry_page_metrics.entries + excluded.entries");
    mochi_test_db_exec(rollup, "UPDATE daily_entry_page_metrics SET entries = entries + 1");
    assert_int_equal(mochi_test_db_int(admin, "SELECT sum(entries) FROM daily_source_metrics"), 3);
    assert_int_equal(mochi_test_db_int(admin, "SELECT entries FROM daily_entry_page_metrics"), 4);
    /* one row per (site, date, source) */
    PGresult *res = PQexec(rollup, "INSERT INTO daily_source_metrics VALUES "
                                   "('00000000-0000-4000-8000-000000000001', '2026-06-15', "
                                   "'news', 1, 1)");
    assert_string_equal(PQresultErrorField(res, PG_DIAG_SQLSTATE), "23505");
    PQclear(res);
    res = PQexec(rollup, "DELETE FROM daily_source_metrics");
    assert_string_equal(PQresultErrorField(res, PG_DIAG_SQLSTATE), "42501");
    PQclear(res);
    PQfinish(rollup);
    /* a removed site takes its rows along */
    mochi_test_db_exec(admin, "DELETE FROM sites");
    assert_int_equal(mochi_test_db_int(admin, "SELECT count(*) FROM daily_source_metrics"), 0);
    assert_int_equal(mochi_test_db_int(admin, "SELECT count(*) FROM daily_entry_page_metrics"), 0);
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
        cmocka_unit_test(migrate_from_empty_then_rerun),
        cmocka_unit_test(failed_migration_leaves_no_trace),
        cmocka_unit_test(monthly_tables_filled_from_daily_rows),
        cmocka_unit_test(sites_add_list_remove),
        cmocka_unit_test(sites_bad_input),
        cmocka_unit_test(concurrent_salt_ensure_agree),
        cmocka_unit_test(salts_for_every_zone),
        cmocka_unit_test(sites_timezones),
        cmocka_unit_test(rollup_writes_new_aggregates),
        cmocka_unit_test(definer_functions_cannot_be_hijacked),
        cmocka_unit_test(grants_are_what_the_readme_says),
        cmocka_unit_test(roles_have_least_privilege),
        cmocka_unit_test(web_role_reads_counts_not_events),
        cmocka_unit_test(db_helpers_count_and_classify),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
