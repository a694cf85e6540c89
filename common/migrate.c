#include "common/migrate.h"
#include "common/db.h"
#include "common/error.h"
#include "common/log.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef MOCHI_DEFAULT_SQL_DIR
#define MOCHI_DEFAULT_SQL_DIR "/usr/local/share/mochi/sql"
#endif

/* Any 64-bit constant will do; it only has to be the same for every run. */
#define MIGRATE_LOCK_ID "7163830110"

static int is_migration_name(const struct dirent *entry);
static int apply_one(PGconn *conn, const char *dir, const char *file, int version, char *err,
                     size_t errlen);
static char *read_whole_file(const char *path);

const char *mochi_sql_dir_default(void)
{
    const char *dir = getenv("MOCHI_SQL_DIR");
    return dir && dir[0] ? dir : MOCHI_DEFAULT_SQL_DIR;
}

static int is_migration_name(const struct dirent *entry)
{
    const char *n = entry->d_name;
    size_t len = strlen(n);
    return len > 8 && n[0] >= '0' && n[0] <= '9' && n[1] >= '0' && n[1] <= '9' && n[2] >= '0' &&
           n[2] <= '9' && n[3] == '_' && strcmp(n + len - 4, ".sql") == 0;
}

static char *read_whole_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *text = NULL;
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        size = ftell(f);
    if (size >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        text = malloc((size_t)size + 1);
        if (text && fread(text, 1, (size_t)size, f) == (size_t)size) {
            text[size] = '\0';
        } else {
            free(text);
            text = NULL;
        }
    }
    fclose(f);
    return text;
}

static int apply_one(PGconn *conn, const char *dir, const char *file, int version, char *err,
                     size_t errlen)
{
    char path[4096];
    char why[512] = "";
    int rc;
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    char *sql = read_whole_file(path);
    if (sql == NULL) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return MOCHI_ERR_IO;
    }
    rc = mochi_db_exec(conn, "BEGIN", why, sizeof(why));
    if (rc == 0)
        rc = mochi_db_exec(conn, sql, why, sizeof(why));
    if (rc == 0) {
        char version_text[16];
        snprintf(version_text, sizeof(version_text), "%d", version);
        const char *params[2] = {version_text, file};
        rc = mochi_db_command(conn,
                              "INSERT INTO schema_migrations (version, name) VALUES ($1::int, $2)",
                              2, params, NULL, why, sizeof(why));
    }
    if (rc == 0)
        rc = mochi_db_exec(conn, "COMMIT", why, sizeof(why));
    if (rc != 0) {
        mochi_db_rollback(conn);
        snprintf(err, errlen, "%s: %s", file, why);
    }
    free(sql);
    return rc;
}

int mochi_migrate(PGconn *conn, const char *sql_dir, int *applied, char *err, size_t errlen)
{
    struct dirent **entries = NULL;
    char why[512] = "";
    int n = -1;
    int rc;
    *applied = 0;

    rc = mochi_db_exec(conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK_ID ")", why, sizeof(why));
    if (rc != 0) {
        snprintf(err, errlen, "cannot take the migration lock: %s", why);
        return rc;
    }
    rc = mochi_db_exec(conn,
                       "SET client_min_messages = warning;"
                       "CREATE TABLE IF NOT EXISTS schema_migrations ("
                       " version INTEGER PRIMARY KEY,"
                       " name TEXT NOT NULL,"
                       " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
                       why, sizeof(why));
    if (rc != 0) {
        snprintf(err, errlen, "cannot create schema_migrations: %s", why);
        goto out;
    }
    n = scandir(sql_dir, &entries, is_migration_name, alphasort);
    if (n < 0) {
        snprintf(err, errlen, "cannot read the migrations directory %s: %s", sql_dir,
                 strerror(errno));
        rc = MOCHI_ERR_IO;
        goto out;
    }
    if (n == 0) {
        snprintf(err, errlen, "no migrations (NNN_name.sql) in %s", sql_dir);
        rc = MOCHI_ERR_NOTFOUND;
        goto out;
    }
    for (int i = 0; i < n; i++) {
        const char *file = entries[i]->d_name;
        int version = atoi(file);
        char version_text[16];
        snprintf(version_text, sizeof(version_text), "%d", version);
        const char *params[1] = {version_text};
        PGresult *res = NULL;
        rc = mochi_db_query(conn, "SELECT name FROM schema_migrations WHERE version = $1::int", 1,
                            params, &res, why, sizeof(why));
        if (rc != 0) {
            snprintf(err, errlen, "cannot read schema_migrations: %s", why);
            goto out;
        }
        bool done = PQntuples(res) > 0;
        if (done && strcmp(PQgetvalue(res, 0, 0), file) != 0)
            mochi_log(MOCHI_LOG_WARN, "migrate",
                      "msg=\"applied migration was renamed\" version=%d applied=%s file=%s",
                      version, PQgetvalue(res, 0, 0), file);
        PQclear(res);
        if (done)
            continue;
        rc = apply_one(conn, sql_dir, file, version, err, errlen);
        if (rc != 0)
            goto out;
        mochi_log(MOCHI_LOG_INFO, "migrate", "msg=\"applied\" version=%d file=%s", version, file);
        (*applied)++;
    }
out:
    for (int i = 0; i < n; i++)
        free(entries[i]);
    free(entries);
    /* The lock is the session's: closing the connection releases it too. */
    if (mochi_db_exec(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_ID ")", why, sizeof(why)) !=
        0)
        mochi_log(MOCHI_LOG_DEBUG, "migrate", "msg=\"unlock failed\"");
    return rc;
}
