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
    /* Yesterday, today and tomorrow (UTC), each its own; no other day. */
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(DISTINCT salt) FROM salts WHERE day "
                                             "BETWEEN (now() AT TIME ZONE 'UTC')::date - 1 AND "
                                             "(now() AT TIME ZONE 'UTC')::date + 1"),
                     3);
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(*) FROM salts"), 3);
    unsigned char other[32];
    assert_int_equal(mochi_salt_read(conn, mochi_day_today() + 2, other), MOCHI_ERR_NOTFOUND);
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
    unsigned char salt[32];
    assert_int_equal(mochi_salt_ensure(collector), 2); /* today, tomorrow */
    assert_int_equal(mochi_salt_read(collector, mochi_day_today(), salt), 0);
    assert_int_equal(mochi_salt_expire(collector), 1); /* only the one of 5 days ago */
    assert_int_equal(mochi_test_db_int(admin, "SELECT count(*) FROM salts"), 3);
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
        cmocka_unit_test(sites_add_list_remove),
        cmocka_unit_test(sites_bad_input),
        cmocka_unit_test(concurrent_salt_ensure_agree),
        cmocka_unit_test(definer_functions_cannot_be_hijacked),
        cmocka_unit_test(grants_are_what_the_readme_says),
        cmocka_unit_test(roles_have_least_privilege),
        cmocka_unit_test(db_helpers_count_and_classify),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
