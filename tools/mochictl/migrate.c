#include <libpq-fe.h>
#include <stdio.h>

#include "common/migrate.h"
#include "tools/mochictl/mochictl.h"

static const struct mochi_setting *const migrate_settings[] = {&mochi_setting_database_url,
                                                               &mochi_setting_log_level, NULL};

static const struct mochi_program_spec migrate_spec = {
    .name = "mochictl migrate",
    .summary = "Applies the pending migrations in order, each in its own transaction, and "
               "records them; safe to rerun. Migrations are read from $MOCHI_SQL_DIR or the "
               "build's sql/ directory.",
    .settings = migrate_settings,
};

int mochictl_migrate(int argc, char **argv)
{
    struct mochi_config *config = mochi_config_load_or_exit(&migrate_spec, argc, argv);
    int code = 1;
    PGconn *conn = mochictl_connect(config);
    if (conn == NULL)
        goto out;
    int applied = 0;
    char err[1024] = "";
    const char *dir = mochi_sql_dir_default();
    if (mochi_migrate(conn, dir, &applied, err, sizeof(err)) != 0) {
        fprintf(stderr, "mochictl migrate: %s\n", err);
        goto out;
    }
    if (applied == 0)
        printf("database is up to date\n");
    else
        printf("applied %d migration%s\n", applied, applied == 1 ? "" : "s");
    code = 0;
out:
    PQfinish(conn);
    mochi_config_destroy(config);
    return code;
}
