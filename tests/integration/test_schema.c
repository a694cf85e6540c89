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

#include "db.h"
#include "harness/harness.h"
#include "salt.h"

static int exit_code(int status)
{
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Runs mochictl with args against db; returns the exit code. */
static int mochictl(const struct mochi_test_db *db, char **out, char **err, ...)
{
    char *argv[24] = {(char *)mochi_test_bin("mochictl")};
    int argc = 1;
    va_list ap;
    va_start(ap, err);
    for (char *a = va_arg(ap, char *); a != NULL && argc < 23; a = va_arg(ap, char *))
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    char envbuf[600];
    snprintf(envbuf, sizeof(envbuf), "MOCHI_DATABASE_URL=%s", db->conninfo);
    char *const env[] = {envbuf, NULL};
    return exit_code(mochi_test_run(argv, env, 60000, out, err));
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
    assert_int_equal(exit_code(mochi_test_run(argv, env, 60000, &out, &err)), 1);
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
    assert_int_equal(exit_code(mochi_test_run(argv, env, 10000, &out, &err)), 2);
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
    r->rc = mochi_salt_get_or_create(conn, mochi_day_today() + 3, r->salt);
    PQfinish(conn);
    return NULL;
}

static void concurrent_salt_get_or_create_agree(void **state)
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
    assert_int_equal(mochi_test_db_int(conn, "SELECT count(*) FROM salts"), 1);
    /* Another day gets another salt. */
    unsigned char other[32];
    assert_int_equal(mochi_salt_get_or_create(conn, mochi_day_today() + 4, other), 0);
    assert_memory_not_equal(other, races[0].salt, 32);
    PQfinish(conn);
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
    /* allowed: read sites, read and create salts, expire old salts */
    mochi_test_db_exec(collector, "SELECT count(*) FROM sites");
    unsigned char salt[32];
    assert_int_equal(mochi_salt_get_or_create(collector, mochi_day_today(), salt), 0);
    assert_int_equal(mochi_salt_expire(collector), 1); /* only the one of 5 days ago */
    assert_int_equal(mochi_test_db_int(admin, "SELECT count(*) FROM salts"), 2);
    /* refused: anything else */
    const char *refused[] = {
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
        cmocka_unit_test(concurrent_salt_get_or_create_agree),
        cmocka_unit_test(roles_have_least_privilege),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
